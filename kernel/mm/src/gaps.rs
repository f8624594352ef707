//! The free-range index: every unmapped run of pages in the user range,
//! kept twice so that placement is O(log n) in the number of gaps.
//!
//! - `by_end`: end → (start, guard). Used to merge a freed range with its
//!   neighbours and to split a gap when a grant lands in it. Keyed by the
//!   end because grants land at a gap's start (placement takes the lowest
//!   address) and a freed range most often joins the gap above it: both
//!   change a gap's start, which then changes in place.
//! - `by_size`: (usable pages, start). `range((len, 0)..).next()` is the
//!   smallest gap that fits, lowest address first among equals.
//!
//! *Usable* pages are the gap minus the guard below a grows-down grant that
//! sits right above it, so mmap without MAP_FIXED never takes the room a
//! stack needs to keep its guard gap. MAP_FIXED ignores the guard (as on
//! Linux; the stack then simply cannot grow there).

use alloc::collections::{BTreeMap, BTreeSet};

use crate::page::{Page, PageRange};

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Gaps {
    by_end: BTreeMap<Page, (Page, u64)>,
    by_size: BTreeSet<(u64, Page)>,
}

fn usable(start: Page, end: Page, guard_pages: u64) -> u64 {
    start.pages_until(end).saturating_sub(guard_pages)
}

impl Gaps {
    /// One gap covering `range`.
    pub(crate) fn new(range: PageRange) -> Self {
        let mut gaps = Self { by_end: BTreeMap::new(), by_size: BTreeSet::new() };
        gaps.add(range.start, range.end, 0);
        gaps
    }

    fn add(&mut self, start: Page, end: Page, guard_pages: u64) {
        if start < end {
            self.by_end.insert(end, (start, guard_pages));
            self.by_size.insert((usable(start, end, guard_pages), start));
        }
    }

    /// Marks `range` (inside one gap) as mapped by a grant whose own guard
    /// requirement below it is `guard_below` pages. The part of the gap
    /// above the range keeps its entry (same end), changed in place.
    pub(crate) fn reserve(&mut self, range: PageRange, guard_below: u64) {
        // The gap holding `range`: the first one ending past its start.
        let Some((&end, gap)) = self.by_end.range_mut(range.start.add(1)..).next() else {
            debug_assert!(false, "reserve {range:?}: no gap");
            return;
        };
        let (start, guard) = *gap;
        debug_assert!(start <= range.start && end >= range.end, "reserve {range:?}: not inside one gap");
        self.by_size.remove(&(usable(start, end, guard), start));
        if range.end < end {
            gap.0 = range.end;
            self.by_size.insert((usable(range.end, end, guard), range.end));
        } else {
            self.by_end.remove(&end);
        }
        self.add(start, range.start, guard_below);
    }

    /// Marks `range` free, merging with neighbouring gaps. `guard_above` is
    /// the guard required by the grant starting at `range.end`, if any. A
    /// gap right above takes the range in place (same end).
    pub(crate) fn release(&mut self, range: PageRange, guard_above: u64) {
        let mut start = range.start;
        if let Some((left, left_guard)) = self.by_end.remove(&range.start) {
            self.by_size.remove(&(usable(left, range.start, left_guard), left));
            start = left;
        }
        if let Some((&right_end, gap)) = self.by_end.range_mut(range.end.add(1)..).next()
            && gap.0 == range.end
        {
            let right_guard = gap.1;
            self.by_size.remove(&(usable(range.end, right_end, right_guard), range.end));
            gap.0 = start;
            self.by_size.insert((usable(start, right_end, right_guard), start));
            return;
        }
        self.add(start, range.end, guard_above);
    }

    /// The lowest start of a smallest gap with at least `pages` usable pages.
    pub(crate) fn find(&self, pages: u64) -> Option<Page> {
        self.by_size.range((pages, Page::from_number(0))..).next().map(|&(_, start)| start)
    }

    /// The highest start for `pages` pages in the smallest gap with at
    /// least `pages + below` usable pages (for a grows-down grant that
    /// wants `below` free pages under it).
    pub(crate) fn find_top(&self, pages: u64, below: u64) -> Option<Page> {
        let (_, start) = *self.by_size.range((pages.checked_add(below)?, Page::from_number(0))..).next()?;
        let (&end, &(_, guard)) = self.by_end.range(start.add(1)..).next()?;
        Some(end.sub(guard).sub(pages))
    }

    /// Every gap as (range, guard pages), in address order.
    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = (PageRange, u64)> + '_ {
        self.by_end.iter().map(|(e, (s, g))| (PageRange::new(*s, *e), *g))
    }

    /// Whether the two indexes agree (for the tests' invariant check).
    #[cfg(test)]
    pub(crate) fn consistent(&self) -> bool {
        self.by_end.len() == self.by_size.len()
            && self.by_end.iter().all(|(e, (s, g))| self.by_size.contains(&(usable(*s, *e, *g), *s)))
    }
}
