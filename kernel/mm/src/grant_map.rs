//! The grant map: base page → [`Grant`], in base order, kept in chunks of
//! up to [`CHUNK`] grants.
//!
//! A `BTreeMap<Page, Grant>` descends from its root for every lookup,
//! insertion and removal, and its nodes of at most 11 entries rebalance
//! eagerly: a node left with fewer than 5 merges with a sibling, and the
//! merged node splits again at the next insertion. mprotect of one page
//! inside a large space (join with both neighbours: two removals; split
//! again: two insertions) then paid three full descents of a 5-level tree
//! and, where a leaf sat at its minimum, a merge and a split every time:
//! 1,700 → 2,800 instructions per call from 32 to 32,000 grants.
//!
//! Here a B-tree indexes *chunks*: sorted vectors of up to [`CHUNK`]
//! grants. A chunk's key is at or below its first grant's base and above
//! every base of the chunk before it, so the chunk that holds (or would
//! hold) a page is the last one whose key is at or below it: one descent
//! of a tree with a sixteenth of the entries, then a binary search. The
//! neighbours of a grant are almost always in the same chunk, and
//! insertions and removals move at most [`CHUNK`] entries inside it.
//! Chunks change with hysteresis, so no sequence of single changes makes
//! them split and merge in turn: a full chunk splits in halves; a chunk
//! that falls below [`MIN`] grants merges with a neighbour when the two
//! hold at most [`MERGE_MAX`] together, and otherwise takes grants from it
//! until they hold half each.
//!
//! mmap's and munmap's changes ([`GrantMap::place`], [`GrantMap::cut`])
//! take one descent: the chunk found for the neighbours' look-up takes the
//! change in place when it can without rebalancing, as it nearly always
//! can; each search of the index costs about 480 instructions at 32,000
//! grants (docs/mm.md, "Performance").
//!
//! Memory: a chunk's vector has room for [`CHUNK`] entries (56 bytes
//! each: 896 bytes of kernel heap) and, while the map has more than one
//! chunk, holds at least [`MIN`]: at most 224 bytes per grant, plus the
//! chunk's 32-byte index entry (the kernel's per-grant heap estimate,
//! `GRANT_HEAP_BYTES`, covers this and the gap index).

use alloc::collections::{BTreeMap, btree_map};
use alloc::vec::Vec;
use core::ops::{Bound, RangeBounds};

use crate::grant::Grant;
use crate::page::{Page, PageRange};

/// Most grants in one chunk.
pub(crate) const CHUNK: usize = 16;
/// Fewest grants in a chunk while the map has more than one: below this a
/// chunk merges with, or takes from, a neighbour.
pub(crate) const MIN: usize = CHUNK / 4;
/// The most grants two chunks may hold together to be merged (otherwise
/// they are evened out): a merged chunk has room for a quarter more before
/// it splits again.
pub(crate) const MERGE_MAX: usize = CHUNK * 3 / 4;

type Chunk = Vec<(Page, Grant)>;

/// What [`GrantMap::place`] did with a grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Placed {
    /// The grant based at `base` took its pages.
    Absorbed { base: Page, joins_high: bool },
    /// It went in as a grant of its own.
    Inserted { joins_high: bool },
}

/// What [`GrantMap::cut`] took out, and from where.
#[derive(Debug)]
pub(crate) struct Cut {
    /// The base of the grant the range was cut from.
    pub base: Page,
    /// The range's pages, as a grant.
    pub part: Grant,
    /// Pages of the grant stay below the range.
    pub head: bool,
    /// Pages of the grant stay above the range.
    pub tail: bool,
    /// The range, once free, lies below a grows-down grant (its guard
    /// then belongs to the gap): the rest above it or the grant based at
    /// its end.
    pub guard_above: bool,
}

/// A chunk with room for [`CHUNK`] entries, so insertions never reallocate.
fn new_chunk() -> Chunk {
    Vec::with_capacity(CHUNK)
}

/// Base page → grant. See the module docs.
#[derive(Default)]
pub(crate) struct GrantMap {
    chunks: BTreeMap<Page, Chunk>,
    len: usize,
}

impl Clone for GrantMap {
    fn clone(&self) -> Self {
        let chunks = self
            .chunks
            .iter()
            .map(|(&key, chunk)| {
                let mut copy = new_chunk();
                copy.extend(chunk.iter().cloned());
                (key, copy)
            })
            .collect();
        Self { chunks, len: self.len }
    }
}

/// Splits the full `chunk` in halves and puts `(base, grant)` into the
/// half it falls in (`base` is not in the chunk); the upper half, to be
/// indexed by its first base.
fn split_insert(chunk: &mut Chunk, base: Page, grant: Grant) -> Chunk {
    let mut upper = new_chunk();
    upper.extend(chunk.drain(CHUNK / 2..));
    let half = if base < upper[0].0 { chunk } else { &mut upper };
    let i = half.partition_point(|e| e.0 < base);
    half.insert(i, (base, grant));
    upper
}

/// How `range` cuts `grant` (the last grant based below `range.end`;
/// `above_grows_down`: the grows-down flag of the grant based at
/// `range.end`, if any): whether pages of it stay below and above the
/// range, and whether the freed range lies under a grows-down grant.
/// `None` if `grant` does not hold all of `range`.
fn cut_shape(range: PageRange, grant: &Grant, above_grows_down: Option<bool>) -> Option<(bool, bool, bool)> {
    if range.start < grant.base || grant.end() < range.end {
        return None;
    }
    let (head, tail) = (grant.base < range.start, range.end < grant.end());
    let guard_above = if tail { grant.grows_down } else { above_grows_down == Some(true) };
    Some((head, tail, guard_above))
}

/// The entries of `chunk` inside `(lo, hi)`, as an index range.
fn within(chunk: &Chunk, lo: Bound<Page>, hi: Bound<Page>) -> core::ops::Range<usize> {
    let from = match lo {
        Bound::Unbounded => 0,
        Bound::Included(a) => chunk.partition_point(|e| e.0 < a),
        Bound::Excluded(a) => chunk.partition_point(|e| e.0 <= a),
    };
    let to = match hi {
        Bound::Unbounded => chunk.len(),
        Bound::Included(b) => chunk.partition_point(|e| e.0 <= b),
        Bound::Excluded(b) => chunk.partition_point(|e| e.0 < b),
    };
    from..to.max(from)
}

impl GrantMap {
    /// Number of grants.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The grant based at `base`.
    pub(crate) fn get(&self, base: &Page) -> Option<&Grant> {
        let (_, chunk) = self.chunks.range(..=*base).next_back()?;
        chunk.binary_search_by_key(base, |e| e.0).ok().map(|i| &chunk[i].1)
    }

    /// The grant based at `base`, to change (not its base).
    pub(crate) fn get_mut(&mut self, base: &Page) -> Option<&mut Grant> {
        let (_, chunk) = self.chunks.range_mut(..=*base).next_back()?;
        let i = chunk.binary_search_by_key(base, |e| e.0).ok()?;
        Some(&mut chunk[i].1)
    }

    /// Puts `grant` at `base`; the grant it replaces, if any.
    pub(crate) fn insert(&mut self, base: Page, grant: Grant) -> Option<Grant> {
        let upper = match self.chunks.range_mut(..=base).next_back() {
            Some((_, chunk)) => match chunk.binary_search_by_key(&base, |e| e.0) {
                Ok(i) => return Some(core::mem::replace(&mut chunk[i].1, grant)),
                Err(i) if chunk.len() < CHUNK => {
                    chunk.insert(i, (base, grant));
                    None
                }
                Err(_) => Some(split_insert(chunk, base, grant)),
            },
            // Below every chunk: the first one takes it and is keyed down
            // to it (only the first chunk can take a base below its key).
            None => {
                let mut first = self.chunks.pop_first().map_or_else(new_chunk, |(_, chunk)| chunk);
                let upper = if first.len() == CHUNK {
                    Some(split_insert(&mut first, base, grant))
                } else {
                    first.insert(0, (base, grant));
                    None
                };
                self.chunks.insert(base, first);
                upper
            }
        };
        if let Some(upper) = upper {
            self.chunks.insert(upper[0].0, upper);
        }
        self.len += 1;
        None
    }

    /// Puts in `grant` (no grant overlaps it) or, if the grant right below
    /// it can absorb it (`Grant::can_absorb`), adds its pages to that one:
    /// mmap's placement of a new grant. Also says whether the grant that
    /// starts where `grant` ends can be joined to the result. One descent
    /// of the index for the neighbours and the insertion when the chunk
    /// that holds `grant`'s end holds the grant below too and has room
    /// (nearly always); else a second one for the insertion.
    pub(crate) fn place(&mut self, grant: Grant) -> Placed {
        let end = grant.end();
        if let Some((&key, chunk)) = self.chunks.range_mut(..=end).next_back() {
            // The chunk's entries based at or below `end`: the one at `end`
            // (if any) is the grant above, the one before it the grant below.
            let at = chunk.partition_point(|e| e.0 <= end);
            let top = at.checked_sub(1).filter(|&i| chunk[i].0 == end);
            if let Some(low) = top.unwrap_or(at).checked_sub(1) {
                let (upto_low, rest) = chunk.split_at_mut(low + 1);
                let (low_base, low_grant) = &mut upto_low[low];
                let high = top.map(|_| &rest[0].1);
                if low_grant.can_absorb(&grant) {
                    low_grant.pages += grant.pages;
                    let joins_high = high.is_some_and(|high| low_grant.can_absorb(high));
                    return Placed::Absorbed { base: *low_base, joins_high };
                }
                let joins_high = high.is_some_and(|high| grant.can_absorb(high));
                // Between the grant below (in this chunk, so the chunk's
                // key is below `grant`) and those based at or past `end`.
                if chunk.len() < CHUNK && key <= grant.base {
                    chunk.insert(low + 1, (grant.base, grant));
                    self.len += 1;
                    return Placed::Inserted { joins_high };
                }
                self.insert(grant.base, grant);
                return Placed::Inserted { joins_high };
            }
        }
        // The grant below is in an earlier chunk, or there is none.
        let mut near = self.range_mut(..=end);
        let mut top = near.next_back();
        let high = match top {
            Some((&base, _)) if base == end => top.take().map(|(_, high)| high),
            _ => None,
        };
        if let Some((&base, low)) = top.or_else(|| near.next_back()).filter(|(_, low)| low.can_absorb(&grant)) {
            low.pages += grant.pages;
            let joins_high = high.is_some_and(|high| low.can_absorb(high));
            return Placed::Absorbed { base, joins_high };
        }
        let joins_high = high.is_some_and(|high| grant.can_absorb(high));
        self.insert(grant.base, grant);
        Placed::Inserted { joins_high }
    }

    /// Takes `range` out of the one grant that holds all of it (what is
    /// left below and above it stays, as grants based at the grant's base
    /// and at `range.end`): munmap's cut. `None`, with nothing changed, if
    /// no single grant holds `range` (or it is empty). One descent of the
    /// index when the chunk that holds `range.end` holds the grant too and
    /// the cut needs no rebalancing (nearly always).
    pub(crate) fn cut(&mut self, range: PageRange) -> Option<Cut> {
        if range.is_empty() {
            return None;
        }
        if let Some((_, chunk)) = self.chunks.range_mut(..=range.end).next_back() {
            let at = chunk.partition_point(|e| e.0 <= range.end);
            let top = at.checked_sub(1).filter(|&i| chunk[i].0 == range.end);
            if let Some(j) = top.unwrap_or(at).checked_sub(1) {
                let (base, grant) = (chunk[j].0, &chunk[j].1);
                let (head, tail, guard_above) = cut_shape(range, grant, top.map(|t| chunk[t].1.grows_down))?;
                // Whether the chunk can take the change without another
                // descent: a removal that leaves at least MIN, an insertion
                // with room.
                let in_place = match (head, tail) {
                    (false, false) => chunk.len() > MIN,
                    (true, true) => chunk.len() < CHUNK,
                    _ => true,
                };
                if in_place {
                    let part = match (head, tail) {
                        (false, false) => {
                            self.len -= 1;
                            chunk.remove(j).1
                        }
                        (true, false) => chunk[j].1.split_off(range.start),
                        // The rest above the range takes the grant's place,
                        // based at `range.end` (no grant lies between).
                        (false, true) => {
                            let entry = &mut chunk[j];
                            let rest = entry.1.split_off(range.end);
                            entry.0 = range.end;
                            core::mem::replace(&mut entry.1, rest)
                        }
                        (true, true) => {
                            let mut part = chunk[j].1.split_off(range.start);
                            let rest = part.split_off(range.end);
                            chunk.insert(j + 1, (range.end, rest));
                            self.len += 1;
                            part
                        }
                    };
                    return Some(Cut { base, part, head, tail, guard_above });
                }
            }
        }
        self.cut_by_steps(range)
    }

    /// [`Self::cut`] with the map's general operations: a look-up of the
    /// grant and its upper neighbour, then at most one removal and one
    /// insertion.
    fn cut_by_steps(&mut self, range: PageRange) -> Option<Cut> {
        let mut near = self.range_mut(..=range.end);
        let mut top = near.next_back();
        let above_grows_down = match top {
            Some((&base, _)) if base == range.end => top.take().map(|(_, above)| above.grows_down),
            _ => None,
        };
        let (&base, grant) = top.or_else(|| near.next_back())?;
        let (head, tail, guard_above) = cut_shape(range, grant, above_grows_down)?;
        let part = match (head, tail) {
            (false, false) => self.remove(&base)?,
            (true, false) => grant.split_off(range.start),
            (false, true) => {
                let rest = grant.split_off(range.end);
                let part = self.remove(&base)?;
                self.insert(range.end, rest);
                part
            }
            (true, true) => {
                let mut part = grant.split_off(range.start);
                let rest = part.split_off(range.end);
                self.insert(range.end, rest);
                part
            }
        };
        Some(Cut { base, part, head, tail, guard_above })
    }

    /// Takes the grant based at `base` out.
    pub(crate) fn remove(&mut self, base: &Page) -> Option<Grant> {
        let (&key, chunk) = self.chunks.range_mut(..=*base).next_back()?;
        let i = chunk.binary_search_by_key(base, |e| e.0).ok()?;
        let (_, grant) = chunk.remove(i);
        self.len -= 1;
        if chunk.len() < MIN {
            self.rebalance(key);
        }
        Some(grant)
    }

    /// Takes out every grant based in `lo..=hi`: with one descent when they
    /// share a chunk (a join's grant and neighbour do, nearly always).
    pub(crate) fn remove_span(&mut self, lo: Page, hi: Page) {
        let Some((&key, chunk)) = self.chunks.range_mut(..=lo).next_back() else {
            return self.remove_each(Bound::Included(lo), hi);
        };
        let (from, to) = (chunk.partition_point(|e| e.0 < lo), chunk.partition_point(|e| e.0 <= hi));
        let more = to == chunk.len();
        chunk.drain(from..to);
        self.len -= to - from;
        if chunk.len() < MIN {
            self.rebalance(key);
        }
        if more {
            // The span may go on into the next chunks.
            self.remove_each(Bound::Excluded(lo), hi);
        }
    }

    /// Removes the grants based in `(lo, hi]` one by one.
    fn remove_each(&mut self, lo: Bound<Page>, hi: Page) {
        while let Some(base) = self.range((lo, Bound::Included(hi))).next().map(|(b, _)| *b) {
            self.remove(&base);
        }
    }

    /// Puts in two grants with consecutive bases `a.0 < b.0`, no grant
    /// being based between them (a split's two new parts): with one
    /// descent when the chunk has room for both.
    pub(crate) fn insert_pair(&mut self, a: (Page, Grant), b: (Page, Grant)) {
        debug_assert!(a.0 < b.0 && self.range(a.0..=b.0).next().is_none(), "a pair with grants between");
        // The chunk `b` falls in; `a` falls in it too when its key is at or
        // below `a` (no chunk begins between them).
        if let Some((&key, chunk)) = self.chunks.range_mut(..=b.0).next_back()
            && key <= a.0
            && chunk.len() + 2 <= CHUNK
        {
            let i = chunk.partition_point(|e| e.0 < a.0);
            chunk.insert(i, a);
            chunk.insert(i + 1, b);
            self.len += 2;
            return;
        }
        self.insert(a.0, a.1);
        self.insert(b.0, b.1);
    }

    /// The chunk at `key` fell below [`MIN`]: drops it if empty, else
    /// merges it with a neighbour (the next, or the one before for the
    /// last chunk) or evens the two out.
    fn rebalance(&mut self, key: Page) {
        let mut after = self.chunks.range_mut(key..);
        let Some((_, this)) = after.next() else { return };
        if this.is_empty() {
            self.chunks.remove(&key);
            return;
        }
        if let Some((&next_key, next)) = after.next() {
            if this.len() + next.len() <= MERGE_MAX {
                this.append(next);
                self.chunks.remove(&next_key);
            } else {
                // Even out: the next chunk's first grants move here, and
                // it is keyed by its new first base.
                let moved = (this.len() + next.len()) / 2 - this.len();
                this.extend(next.drain(..moved));
                let next = self.chunks.remove(&next_key).unwrap_or_default();
                self.chunks.insert(next[0].0, next);
            }
            return;
        }
        let mut before = self.chunks.range_mut(..=key).rev();
        let (Some((_, this)), Some((_, prev))) = (before.next(), before.next()) else { return };
        if this.len() + prev.len() <= MERGE_MAX {
            prev.append(this);
            self.chunks.remove(&key);
        } else {
            // Even out: the previous chunk's last grants move here, and
            // this chunk is keyed by its new first base.
            let moved = (this.len() + prev.len()) / 2 - this.len();
            let mut joined = new_chunk();
            joined.extend(prev.drain(prev.len() - moved..));
            joined.append(this);
            self.chunks.remove(&key);
            self.chunks.insert(joined[0].0, joined);
        }
    }

    /// The grants whose bases lie in `range`, in base order (both ways).
    pub(crate) fn range<R: RangeBounds<Page>>(&self, range: R) -> Range<'_> {
        let (lo, hi) = (range.start_bound().cloned(), range.end_bound().cloned());
        let first = self.first_chunk(lo);
        Range { chunks: self.chunks.range((first, hi)), front: Default::default(), back: Default::default(), lo, hi }
    }

    /// [`Self::range`], the grants to change (not their bases).
    pub(crate) fn range_mut<R: RangeBounds<Page>>(&mut self, range: R) -> RangeMut<'_> {
        let (lo, hi) = (range.start_bound().cloned(), range.end_bound().cloned());
        let first = self.first_chunk(lo);
        RangeMut {
            chunks: self.chunks.range_mut((first, hi)),
            front: Default::default(),
            back: Default::default(),
            lo,
            hi,
        }
    }

    /// The bound on chunk keys that takes in the chunk holding `lo`.
    fn first_chunk(&self, lo: Bound<Page>) -> Bound<Page> {
        match lo {
            Bound::Unbounded => Bound::Unbounded,
            Bound::Included(a) | Bound::Excluded(a) => match self.chunks.range(..=a).next_back() {
                Some((&key, _)) => Bound::Included(key),
                None => Bound::Unbounded,
            },
        }
    }

    /// Number of chunks (tests).
    #[cfg(test)]
    pub(crate) fn chunk_count(&self) -> usize {
        self.chunks.len()
    }

    /// Every grant, in base order.
    pub(crate) fn values(&self) -> impl DoubleEndedIterator<Item = &Grant> + '_ {
        self.chunks.values().flat_map(|chunk| chunk.iter().map(|(_, g)| g))
    }

    /// Checks the chunks' invariants (tests): sorted, keyed at or below
    /// their first base and above the chunk before, within [`CHUNK`], at
    /// least [`MIN`] when there are several, and the count right.
    #[cfg(test)]
    pub(crate) fn check(&self) -> Result<(), alloc::string::String> {
        use alloc::format;
        let mut count = 0;
        let mut last: Option<Page> = None;
        for (&key, chunk) in &self.chunks {
            let Some(&(first, _)) = chunk.first() else { return Err(format!("empty chunk at {key:?}")) };
            if key > first || last.is_some_and(|l| l >= key) {
                return Err(format!("chunk key {key:?}: first {first:?}, before it {last:?}"));
            }
            if chunk.len() > CHUNK || (self.chunks.len() > 1 && chunk.len() < MIN) {
                return Err(format!("chunk at {key:?} holds {}", chunk.len()));
            }
            if chunk.capacity() != CHUNK {
                return Err(format!("chunk at {key:?} has room for {}", chunk.capacity()));
            }
            for (base, grant) in chunk {
                if last.is_some_and(|l| l >= *base) || grant.base != *base {
                    return Err(format!("grant {base:?} out of order or mis-keyed"));
                }
                last = Some(*base);
            }
            count += chunk.len();
        }
        if count != self.len {
            return Err(format!("{count} grants, len says {}", self.len));
        }
        Ok(())
    }
}

impl core::ops::Index<&Page> for GrantMap {
    type Output = Grant;

    /// The grant based at `base`; panics if there is none (as `BTreeMap`).
    fn index(&self, base: &Page) -> &Grant {
        self.get(base).expect("no grant at that base")
    }
}

impl<'a> IntoIterator for &'a GrantMap {
    type Item = (&'a Page, &'a Grant);
    type IntoIter = Range<'a>;

    /// Every grant, in base order.
    fn into_iter(self) -> Range<'a> {
        self.range(..)
    }
}

impl IntoIterator for GrantMap {
    type Item = (Page, Grant);
    type IntoIter = core::iter::Flatten<alloc::collections::btree_map::IntoValues<Page, Chunk>>;

    /// Every grant, in base order.
    fn into_iter(self) -> Self::IntoIter {
        self.chunks.into_values().flatten()
    }
}

/// The grants of [`GrantMap::range`]: the chunks in range, each cut to the
/// bounds as it is reached from either end (a named type, unlike a
/// `flat_map`, so the borrow ends where it is last used).
pub(crate) struct Range<'a> {
    chunks: btree_map::Range<'a, Page, Chunk>,
    front: core::slice::Iter<'a, (Page, Grant)>,
    back: core::slice::Iter<'a, (Page, Grant)>,
    lo: Bound<Page>,
    hi: Bound<Page>,
}

impl<'a> Iterator for Range<'a> {
    type Item = (&'a Page, &'a Grant);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((base, grant)) = self.front.next() {
                return Some((base, grant));
            }
            match self.chunks.next() {
                Some((_, chunk)) => self.front = chunk[within(chunk, self.lo, self.hi)].iter(),
                None => return self.back.next().map(|(base, grant)| (base, grant)),
            }
        }
    }
}

impl DoubleEndedIterator for Range<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((base, grant)) = self.back.next_back() {
                return Some((base, grant));
            }
            match self.chunks.next_back() {
                Some((_, chunk)) => self.back = chunk[within(chunk, self.lo, self.hi)].iter(),
                None => return self.front.next_back().map(|(base, grant)| (base, grant)),
            }
        }
    }
}

/// The grants of [`GrantMap::range_mut`], as [`Range`].
pub(crate) struct RangeMut<'a> {
    chunks: btree_map::RangeMut<'a, Page, Chunk>,
    front: core::slice::IterMut<'a, (Page, Grant)>,
    back: core::slice::IterMut<'a, (Page, Grant)>,
    lo: Bound<Page>,
    hi: Bound<Page>,
}

impl<'a> Iterator for RangeMut<'a> {
    type Item = (&'a Page, &'a mut Grant);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((base, grant)) = self.front.next() {
                return Some((&*base, grant));
            }
            match self.chunks.next() {
                Some((_, chunk)) => {
                    let part = within(chunk, self.lo, self.hi);
                    self.front = chunk[part].iter_mut();
                }
                None => return self.back.next().map(|(base, grant)| (&*base, grant)),
            }
        }
    }
}

impl DoubleEndedIterator for RangeMut<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((base, grant)) = self.back.next_back() {
                return Some((&*base, grant));
            }
            match self.chunks.next_back() {
                Some((_, chunk)) => {
                    let part = within(chunk, self.lo, self.hi);
                    self.back = chunk[part].iter_mut();
                }
                None => return self.front.next_back().map(|(base, grant)| (&*base, grant)),
            }
        }
    }
}
