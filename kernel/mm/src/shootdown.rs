//! Deferred TLB work: what must be flushed, and what may only be released
//! after the flush.
//!
//! Operations never free a frame whose translation a TLB could still hold.
//! Whenever they remove or downgrade PTEs (munmap, mprotect, MAP_FIXED,
//! mremap, madvise, fork's copy-on-write, a CoW fault, a rolled-back
//! operation) they add the pages to a `Shootdown` and *defer* dropping the
//! references (and memory-object handles) that the old PTEs used. The
//! kernel then:
//!
//! 1. invalidates [`Shootdown::ranges`] on every CPU using the address
//!    space (IPI, and waits for every acknowledgement), and
//! 2. calls [`Shootdown::finish`], which drops the deferred references.
//!
//! So a frame is reused only after no TLB can reach it. Operations take the
//! shootdown as `&mut` rather than returning a fresh one, because a failed
//! operation's rollback may itself have to remove PTEs that other CPUs could
//! have cached (Linux's `mmu_gather` works the same way); the kernel makes
//! one per system call, flushes and finishes it whatever the result.
//! Several operations may share one shootdown (batching).
//!
//! Upgrades (a PTE that appears, or gains write/execute) need no flush: a
//! stale entry can only cause a spurious fault, which [`crate::AddrSpace::fault`]
//! resolves as success.

use alloc::vec::Vec;

use rmm::{PhysAddr, VirtAddr};

use crate::file::{FileRelease, Unpin};
use crate::grant::Grant;
use crate::page::{Page, PageRange};
use crate::provider::{MemObject, Provider, SharedObject};
use crate::traits::FrameStore;

/// The most separate ranges a shootdown lists before it folds them into
/// one span: its memory stays bounded however scattered the pages are.
const MAX_RANGES: usize = 32;

/// Pages to invalidate, then references to drop. See the module docs.
#[must_use = "flush the ranges on every CPU using the space, then call finish()"]
#[derive(Default)]
pub struct Shootdown {
    ranges: Vec<PageRange>,
    frames: Vec<PhysAddr>,
    objects: Vec<SharedObject>,
    unpins: Vec<Unpin>,
    /// File pages handed back as they are (no pin changes).
    handed: Vec<FileRelease>,
}

impl Shootdown {
    /// Nothing to do yet.
    pub const fn new() -> Self {
        Self { ranges: Vec::new(), frames: Vec::new(), objects: Vec::new(), unpins: Vec::new(), handed: Vec::new() }
    }

    /// Whether there is nothing to flush and nothing to release.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
            && self.frames.is_empty()
            && self.objects.is_empty()
            && self.unpins.is_empty()
            && self.handed.is_empty()
    }

    /// Whether any TLB entry must be invalidated.
    pub fn needs_flush(&self) -> bool {
        !self.ranges.is_empty()
    }

    /// The ranges to invalidate, as (first byte, pages).
    pub fn ranges(&self) -> impl Iterator<Item = (VirtAddr, u64)> + '_ {
        self.ranges.iter().map(|r| (r.start.start(), r.pages()))
    }

    /// Total pages to invalidate (the kernel may prefer a full flush above a
    /// threshold).
    pub fn flush_pages(&self) -> u64 {
        self.ranges.iter().map(PageRange::pages).sum()
    }

    /// Frame references waiting for the flush.
    pub fn deferred_frames(&self) -> usize {
        self.frames.len()
    }

    /// Drops the deferred references and file pins. Call only after every
    /// CPU that may have used the address space has invalidated
    /// [`Self::ranges`]. Returns the file pages no mapping pins any more:
    /// the kernel hands them back to their schemes (Munmap).
    pub fn finish(mut self, frames: &mut impl FrameStore) -> Vec<FileRelease> {
        for frame in core::mem::take(&mut self.frames) {
            frames.put(frame);
        }
        for object in core::mem::take(&mut self.objects) {
            MemObject::release(object, frames);
        }
        self.ranges.clear();
        let mut releases = core::mem::take(&mut self.handed);
        for unpin in core::mem::take(&mut self.unpins) {
            unpin.apply(&mut releases);
        }
        releases
    }

    /// Adds one page. A walk over PTEs calls this for each page it
    /// changes, in address order: the page right after the last range
    /// extends it here (a few instructions), anything else goes through
    /// [`Self::flush_range`] (about 40 per page when every page went so).
    #[inline]
    pub(crate) fn flush_page(&mut self, page: Page) {
        if let Some(last) = self.ranges.last_mut()
            && last.end == page
        {
            last.end = page.add(1);
            return;
        }
        self.flush_range(PageRange::from_len(page, 1));
    }

    pub(crate) fn flush_range(&mut self, range: PageRange) {
        if range.is_empty() {
            return;
        }
        if let Some(last) = self.ranges.last_mut()
            && last.start <= range.end
            && range.start <= last.end
        {
            *last = PageRange::new(last.start.min(range.start), last.end.max(range.end));
            return;
        }
        if self.ranges.len() >= MAX_RANGES {
            // Scattered pages (every other page of a huge range): one span
            // over all of them instead of a list as long as the range. Over-
            // flushing is harmless, and the list stays small.
            let start = self.ranges.iter().map(|r| r.start).chain([range.start]).min().unwrap_or(range.start);
            let end = self.ranges.iter().map(|r| r.end).chain([range.end]).max().unwrap_or(range.end);
            self.ranges.clear();
            self.ranges.push(PageRange::new(start, end));
            return;
        }
        self.ranges.push(range);
    }

    #[inline]
    pub(crate) fn defer_put(&mut self, frame: PhysAddr) {
        self.frames.push(frame);
    }

    /// Keeps a removed grant's object handle until after the flush.
    pub(crate) fn defer_grant(&mut self, grant: Grant) {
        if let Provider::AllocatedShared { object, .. } = grant.provider {
            self.objects.push(object);
        }
    }

    pub(crate) fn defer_object(&mut self, object: SharedObject) {
        self.objects.push(object);
    }
    /// Drops a grant's pins on file pages once the operation is done.
    pub(crate) fn defer_unpin(&mut self, unpin: Unpin) {
        self.unpins.push(unpin);
    }

    /// Hands file pages back to their scheme after the operation (a
    /// lending the kernel does not keep), as [`Self::finish`]'s releases.
    pub(crate) fn hand_back(&mut self, release: FileRelease) {
        self.handed.push(release);
    }

    /// Moves everything from `other` into `self`.
    pub(crate) fn absorb(&mut self, mut other: Shootdown) {
        if other.is_empty() {
            return;
        }
        for range in core::mem::take(&mut other.ranges) {
            self.flush_range(range);
        }
        self.frames.append(&mut other.frames);
        self.objects.append(&mut other.objects);
        self.unpins.append(&mut other.unpins);
        self.handed.append(&mut other.handed);
    }

    /// Moves only the ranges and object handles from `other`, forgetting its
    /// deferred references (a rolled-back operation gave them back).
    pub(crate) fn absorb_without_frames(&mut self, mut other: Shootdown) {
        other.frames.clear();
        other.unpins.clear();
        other.handed.clear();
        self.absorb(other);
    }
}

/// In tests, a shootdown dropped without `finish` is a leak the test must
/// see.
#[cfg(test)]
impl Drop for Shootdown {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            assert!(
                self.frames.is_empty() && self.objects.is_empty() && self.unpins.is_empty() && self.handed.is_empty(),
                "Shootdown dropped with {} frames, {} objects and {} unpins: call finish()",
                self.frames.len(),
                self.objects.len(),
                self.unpins.len()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pages(tlb: &Shootdown) -> Vec<(u64, u64)> {
        tlb.ranges.iter().map(|r| (r.start.number(), r.end.number())).collect()
    }

    #[test]
    fn pages_in_order_make_one_range_and_others_their_own() {
        let mut tlb = Shootdown::new();
        for page in (10..20).chain([25, 26, 24, 30, 30]) {
            tlb.flush_page(Page::from_number(page));
        }
        assert_eq!(pages(&tlb), [(10, 20), (24, 27), (30, 31)], "a run, a run met from below, a repeat");
        tlb.flush_page(Page::from_number(9));
        assert_eq!(pages(&tlb), [(10, 20), (24, 27), (30, 31), (9, 10)], "only the last range grows in place");
        let scattered: Vec<u64> = (40..40 + 4 * MAX_RANGES as u64).step_by(2).collect();
        for &page in &scattered {
            tlb.flush_page(Page::from_number(page));
            assert!(tlb.ranges.len() <= MAX_RANGES, "the list stays bounded");
        }
        let covered = |page: u64| pages(&tlb).iter().any(|&(start, end)| (start..end).contains(&page));
        assert!((9..20).chain(24..27).chain([30]).chain(scattered).all(covered), "every page still flushed");
    }
}
