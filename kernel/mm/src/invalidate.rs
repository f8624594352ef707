//! Taking lent file pages back out of an address space: the reverse
//! direction of fmap.
//!
//! - [`AddrSpace::drop_file_pages`]: the lender says pages of a file are
//!   **gone** (truncate, a hole punched). Every page of the lease's grants
//!   in those file pages loses its PTE and its frame, private copies
//!   included (Linux drops copy-on-write copies past a truncation too), so
//!   the next touch fetches again: past the end of the file that is
//!   SIGBUS. The grants stay (the mapping is still there; its pins too).
//! - [`AddrSpace::invalidate_file_frames`]: `msync(MS_INVALIDATE)` on a
//!   range of this space. Pages that still show the file's frame (every
//!   page of a shared mapping; pages of a private one not copied yet) are
//!   dropped and fetched again on the next touch, so they show the file's
//!   current pages; private copies stay.
//!
//! - [`AddrSpace::evict_file_pages`]: the lender's page cache evicts pages
//!   of a file: the pages of those file pages that show the lender's
//!   frame are dropped (fetched again on the next touch); private copies
//!   stay, as they are the process's own.
//!
//! None changes grants, pins or accounting of mapped pages; both only
//! drop slots and PTEs, whose flushes and references go through the
//! caller's [`Shootdown`].

use rmm::{PhysAddr, VirtAddr};

use crate::MmError;
use crate::file::FileRef;
use crate::page::{Page, PageRange, range_for};
use crate::provider::Provider;
use crate::shootdown::Shootdown;
use crate::space::AddrSpace;
use crate::traits::{FrameStore, PageTable};
use crate::txn::{Mode, Txn};
use crate::unmap::{Release, release_pages};
use alloc::vec::Vec;

impl<P: PageTable> AddrSpace<P> {
    /// Drops every page of `file`'s grants that maps one of the file pages
    /// in `runs` (`[start, end)` file page runs): PTEs, lent frames and
    /// private copies. Returns how many pages had a frame. See the module
    /// docs; the caller has called [`crate::FileMap::invalidating`] first.
    pub fn drop_file_pages(
        &mut self,
        frames: &mut impl FrameStore,
        file: &FileRef,
        runs: &[(u64, u64)],
        tlb: &mut Shootdown,
    ) -> u64 {
        let parts = self.file_parts(file, runs);
        if parts.is_empty() {
            return 0;
        }
        let mut tx = Txn::new(self, frames, tlb, Mode::Infallible);
        let mut dropped = 0;
        for (range, provider) in parts {
            dropped += tx.space.resident_in(range);
            release_pages(&mut tx, &provider, range, Release::All);
        }
        tx.commit();
        dropped
    }

    /// Drops the pages of `file`'s grants in the file pages of `runs` that
    /// show the lender's frame: every page of a shared mapping, a private
    /// one's page when `lender_frame(file page, frame)` says its frame is
    /// the lender's (so copies stay). Returns how many were dropped. The
    /// caller has called [`crate::FileMap::invalidating`] first.
    ///
    /// A shared lease's pages are all the lender's: they go as with
    /// [`Self::drop_file_pages`], a leaf table at a time, without asking
    /// `lender_frame`.
    pub fn evict_file_pages(
        &mut self,
        frames: &mut impl FrameStore,
        file: &FileRef,
        runs: &[(u64, u64)],
        lender_frame: impl Fn(u64, PhysAddr) -> bool,
        tlb: &mut Shootdown,
    ) -> u64 {
        if file.is_shared() {
            return self.drop_file_pages(frames, file, runs, tlb);
        }
        let mut doomed: Vec<Page> = Vec::new();
        for grant in self.grants.values() {
            let Provider::FmapBorrowed { file: lease, offset_pages } = &grant.provider else { continue };
            if !alloc::sync::Arc::ptr_eq(lease, file) {
                continue;
            }
            let range = grant.range();
            for (page, frame) in self.slots.range(range) {
                let index = offset_pages + grant.base.pages_until(page);
                let in_runs = runs.iter().any(|&(start, end)| (start..end).contains(&index));
                if in_runs && lender_frame(index, frame) {
                    doomed.push(page);
                }
            }
        }
        self.drop_slots(frames, &doomed, tlb)
    }

    /// `msync(MS_INVALIDATE)` of `[addr, addr + len_bytes)`: drops the
    /// pages of file mappings in the range that show the file's frame, so
    /// that they are fetched again. A shared mapping's pages are all the
    /// file's; a private mapping's page is dropped only if `file_frame`
    /// says its frame is the lender's (`file_frame(lease, file page,
    /// frame)`), so copies stay. Returns how many pages were dropped.
    ///
    /// Errors (nothing changed): as [`Self::msync`] (EINVAL misaligned or
    /// overflowing, ENOMEM a page of the range unmapped).
    pub fn invalidate_file_frames(
        &mut self,
        frames: &mut impl FrameStore,
        addr: VirtAddr,
        len_bytes: u64,
        file_frame: impl Fn(&FileRef, u64, PhysAddr) -> bool,
        tlb: &mut Shootdown,
    ) -> Result<u64, MmError> {
        let range = range_for(addr, len_bytes)?;
        if range.is_empty() {
            return Ok(0);
        }
        if !self.is_covered(range) {
            return Err(MmError::NoMem);
        }
        let mut doomed: Vec<Page> = Vec::new();
        for base in self.overlapping(range) {
            let grant = &self.grants[&base];
            let Provider::FmapBorrowed { file, offset_pages } = &grant.provider else { continue };
            let part = grant.range().intersect(&range);
            for (page, frame) in self.slots.range(part) {
                let index = offset_pages + grant.base.pages_until(page);
                if file.is_shared() || file_frame(file, index, frame) {
                    doomed.push(page);
                }
            }
        }
        Ok(self.drop_slots(frames, &doomed, tlb))
    }

    /// Drops the PTEs and slots of `doomed` (their references through
    /// `tlb`, after the flush); how many.
    fn drop_slots(&mut self, frames: &mut impl FrameStore, doomed: &[Page], tlb: &mut Shootdown) -> u64 {
        if doomed.is_empty() {
            return 0;
        }
        let mut tx = Txn::new(self, frames, tlb, Mode::Infallible);
        for &page in doomed {
            tx.unmap_pte(page);
            if let Some(frame) = tx.remove_slot(page) {
                tx.defer_put(frame);
            }
        }
        tx.commit();
        doomed.len() as u64
    }

    /// The page ranges of `file`'s grants that map file pages in `runs`,
    /// with their providers, in address order.
    fn file_parts(&self, file: &FileRef, runs: &[(u64, u64)]) -> Vec<(PageRange, Provider)> {
        let mut parts = Vec::new();
        for grant in self.grants.values() {
            let Provider::FmapBorrowed { file: lease, offset_pages } = &grant.provider else { continue };
            if !alloc::sync::Arc::ptr_eq(lease, file) {
                continue;
            }
            let (first, end) = (*offset_pages, offset_pages + grant.pages);
            for &(start, stop) in runs {
                let (lo, hi) = (start.max(first), stop.min(end));
                if lo >= hi {
                    continue;
                }
                let from = grant.base.add(lo - first);
                parts.push((PageRange { start: from, end: from.add(hi - lo) }, grant.provider.clone()));
            }
        }
        parts
    }
}
