//! A set of page numbers kept as runs of consecutive pages.
//!
//! The cache marks pages sealed and dirty a mapping at a time: a
//! write-back of a 4 MiB mapping seals 1024 pages, and the next MmapPrep
//! opens them again. Kept page by page (a `BTreeSet<u64>`), each of those
//! steps cost 1024 tree inserts or removals; kept as runs, one. A run set
//! answers the same questions as a set of pages (`contains`, `len`, the
//! pages in a range) and adds and removes whole ranges.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::ops::Range;

/// Pages as disjoint, non-adjacent runs: `start -> end` (exclusive).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunSet {
    runs: BTreeMap<u64, u64>,
}

impl RunSet {
    pub const fn new() -> Self {
        Self { runs: BTreeMap::new() }
    }

    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// Pages in the set.
    pub fn len(&self) -> usize {
        self.runs.iter().map(|(start, end)| (end - start) as usize).sum()
    }

    /// The run holding `page`, if any.
    fn run_of(&self, page: u64) -> Option<(u64, u64)> {
        let (&start, &end) = self.runs.range(..=page).next_back()?;
        (page < end).then_some((start, end))
    }

    pub fn contains(&self, page: u64) -> bool {
        self.run_of(page).is_some()
    }

    pub fn insert(&mut self, page: u64) {
        self.insert_range(page..page.saturating_add(1));
    }

    pub fn remove(&mut self, page: u64) {
        self.remove_range(page..page.saturating_add(1));
    }

    /// Adds every page of `pages`, joining the runs it touches.
    pub fn insert_range(&mut self, pages: Range<u64>) {
        if pages.is_empty() {
            return;
        }
        let (mut start, mut end) = (pages.start, pages.end);
        // A run that ends at or after `start` and begins before it is
        // joined; so is every run beginning inside `start..=end`.
        if let Some((&s, &e)) = self.runs.range(..start).next_back()
            && e >= start
        {
            start = s;
            end = end.max(e);
        }
        let inside: Vec<(u64, u64)> = self.runs.range(start..=end).map(|(&s, &e)| (s, e)).collect();
        for (s, e) in inside {
            self.runs.remove(&s);
            end = end.max(e);
        }
        self.runs.insert(start, end);
    }

    /// Takes every page of `pages` out, cutting the runs it touches.
    pub fn remove_range(&mut self, pages: Range<u64>) {
        if pages.is_empty() {
            return;
        }
        if let Some((s, e)) = self.runs.range(..pages.start).next_back().map(|(&s, &e)| (s, e))
            && e > pages.start
        {
            self.runs.insert(s, pages.start);
            if e > pages.end {
                self.runs.insert(pages.end, e);
                return;
            }
        }
        let inside: Vec<(u64, u64)> = self.runs.range(pages.clone()).map(|(&s, &e)| (s, e)).collect();
        for (s, e) in inside {
            self.runs.remove(&s);
            if e > pages.end {
                self.runs.insert(pages.end, e);
            }
        }
    }

    /// The runs of the set inside `pages`, clipped to it, in order.
    pub fn runs_in(&self, pages: Range<u64>) -> Vec<(u64, u64)> {
        let mut runs = Vec::new();
        if pages.is_empty() {
            return runs;
        }
        if let Some((start, end)) = self.run_of(pages.start) {
            runs.push((start.max(pages.start), end.min(pages.end)));
        }
        let after = pages.start.saturating_add(1);
        if after < pages.end {
            runs.extend(self.runs.range(after..pages.end).map(|(&s, &e)| (s, e.min(pages.end))));
        }
        runs
    }

    /// Every run, in order.
    pub fn runs(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.runs.iter().map(|(&s, &e)| (s, e))
    }

    /// The pages of the set inside `pages`, in order.
    #[cfg(test)]
    pub fn range(&self, pages: Range<u64>) -> impl Iterator<Item = u64> {
        self.runs_in(pages).into_iter().flat_map(|(s, e)| s..e)
    }

    /// Every page, in order.
    #[cfg(test)]
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.runs().flat_map(|(s, e)| s..e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeSet;

    /// Runs are disjoint and never touch (a gap between any two).
    fn check_shape(set: &RunSet) {
        let mut last_end = None;
        for (s, e) in set.runs() {
            assert!(s < e, "empty run {s}..{e}");
            if let Some(prev) = last_end {
                assert!(s > prev, "runs touch or overlap at {s}");
            }
            last_end = Some(e);
        }
    }

    #[test]
    fn ranges_join_and_cut() {
        let mut set = RunSet::new();
        set.insert_range(10..20);
        set.insert_range(20..25);
        set.insert_range(5..8);
        assert_eq!(set.runs().collect::<Vec<_>>(), [(5, 8), (10, 25)]);
        set.insert_range(7..11);
        assert_eq!(set.runs().collect::<Vec<_>>(), [(5, 25)]);
        set.remove_range(12..14);
        assert_eq!(set.runs().collect::<Vec<_>>(), [(5, 12), (14, 25)]);
        assert_eq!(set.runs_in(6..20), [(6, 12), (14, 20)]);
        assert_eq!(set.len(), 18);
        assert!(set.contains(5) && !set.contains(12) && set.contains(24) && !set.contains(25));
        set.remove_range(0..100);
        assert!(set.is_empty());
    }

    /// Random inserts and removals of pages and ranges, against a
    /// `BTreeSet` of pages.
    #[test]
    fn agrees_with_a_set_of_pages() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let (mut set, mut model) = (RunSet::new(), BTreeSet::new());
        for step in 0..4000 {
            let start = next(200);
            let end = start + next(30);
            match next(4) {
                0 => {
                    set.insert_range(start..end);
                    model.extend(start..end);
                }
                1 => {
                    set.remove_range(start..end);
                    for page in start..end {
                        model.remove(&page);
                    }
                }
                2 => {
                    set.insert(start);
                    model.insert(start);
                }
                _ => {
                    set.remove(start);
                    model.remove(&start);
                }
            }
            check_shape(&set);
            assert_eq!(set.iter().collect::<Vec<_>>(), model.iter().copied().collect::<Vec<_>>(), "step {step}");
            assert_eq!(set.len(), model.len());
            let (a, b) = (next(220), next(220));
            let q = a.min(b)..a.max(b);
            assert_eq!(set.range(q.clone()).collect::<Vec<_>>(), model.range(q.clone()).copied().collect::<Vec<_>>());
            assert_eq!(set.contains(a), model.contains(&a));
        }
    }
}
