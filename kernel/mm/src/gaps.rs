//! The free-range index: every unmapped run of pages in the user range,
//! kept twice so that placement is O(log n) in the number of gaps.
//!
//! - `by_start`: start → (end, guard). Used to merge a freed range with its
//!   neighbours and to split a gap when a grant lands in it.
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
    by_start: BTreeMap<Page, (Page, u64)>,
    by_size: BTreeSet<(u64, Page)>,
}

fn usable(start: Page, end: Page, guard_pages: u64) -> u64 {
    start.pages_until(end).saturating_sub(guard_pages)
}

impl Gaps {
    /// One gap covering `range`.
    pub(crate) fn new(range: PageRange) -> Self {
        let mut gaps = Self { by_start: BTreeMap::new(), by_size: BTreeSet::new() };
        gaps.add(range.start, range.end, 0);
        gaps
    }

    fn add(&mut self, start: Page, end: Page, guard_pages: u64) {
        if start < end {
            self.by_start.insert(start, (end, guard_pages));
            self.by_size.insert((usable(start, end, guard_pages), start));
        }
    }

    fn remove(&mut self, start: Page) -> Option<(Page, u64)> {
        let (end, guard) = self.by_start.remove(&start)?;
        self.by_size.remove(&(usable(start, end, guard), start));
        Some((end, guard))
    }

    /// Marks `range` (inside one gap) as mapped by a grant whose own guard
    /// requirement below it is `guard_below` pages.
    pub(crate) fn reserve(&mut self, range: PageRange, guard_below: u64) {
        let Some((&start, &(end, guard))) = self.by_start.range(..=range.start).next_back() else {
            debug_assert!(false, "reserve {range:?}: no gap");
            return;
        };
        debug_assert!(end >= range.end, "reserve {range:?}: not inside one gap");
        self.remove(start);
        self.add(start, range.start, guard_below);
        self.add(range.end, end, guard);
    }

    /// Marks `range` free, merging with neighbouring gaps. `guard_above` is
    /// the guard required by the grant starting at `range.end`, if any.
    pub(crate) fn release(&mut self, range: PageRange, guard_above: u64) {
        let (mut start, mut end, mut guard) = (range.start, range.end, guard_above);
        if let Some((&left, &(left_end, _))) = self.by_start.range(..range.start).next_back()
            && left_end == range.start
        {
            self.remove(left);
            start = left;
        }
        if let Some((right_end, right_guard)) = self.remove(range.end) {
            end = right_end;
            guard = right_guard;
        }
        self.add(start, end, guard);
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
        let (end, guard) = self.by_start[&start];
        Some(end.sub(guard).sub(pages))
    }

    /// Every gap as (range, guard pages), in address order.
    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = (PageRange, u64)> + '_ {
        self.by_start.iter().map(|(s, (e, g))| (PageRange::new(*s, *e), *g))
    }

    /// Whether the two indexes agree (for the tests' invariant check).
    #[cfg(test)]
    pub(crate) fn consistent(&self) -> bool {
        self.by_start.len() == self.by_size.len()
            && self.by_start.iter().all(|(s, (e, g))| self.by_size.contains(&(usable(*s, *e, *g), *s)))
    }
}
