//! What the kernel plugs in: one page table per address space, and the
//! store of physical frames with reference counts. The host tests plug in
//! fakes (a `BTreeMap` page table, frames with content tags).

pub use rmm::LeafEdit;
use rmm::{PageFlags, PhysAddr, VirtAddr};

/// A page-table page could not be allocated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapFailed;

/// One address space's page table, seen one 4 KiB user page at a time. The
/// kernel wraps `rmm::PageMapper` (intermediate tables from its frame
/// allocator); no TLB maintenance happens here (see [`crate::Shootdown`]).
///
/// Contract the crate relies on:
/// - `map` is only called on an empty slot (the crate unmaps first).
/// - `map` fails only when it needs a new intermediate table and none can be
///   allocated; `unmap` never frees intermediate tables, so re-mapping a page
///   that has been mapped before in this table cannot fail. Rollback relies
///   on this to restore PTEs it removed.
/// - flags always have `user` set; `protect` and `unmap` on an empty slot do
///   nothing and return `None`.
pub trait PageTable {
    /// Maps the page at `page` (page aligned) to `frame` with `flags`.
    fn map(&mut self, page: VirtAddr, frame: PhysAddr, flags: PageFlags) -> Result<(), MapFailed>;
    /// Maps each of `pages` (page, frame, flags) as [`Self::map`] does;
    /// stops at the first failure, the pages before it staying mapped.
    /// The kernel's table walks from the root once per leaf table, not
    /// once per page (fork maps a whole grant's pages into the child's
    /// table so).
    fn map_pages(&mut self, pages: &[(VirtAddr, PhysAddr, PageFlags)]) -> Result<(), MapFailed> {
        pages.iter().try_for_each(|&(page, frame, flags)| self.map(page, frame, flags))
    }
    /// Removes the mapping of `page`, returning what it mapped.
    fn unmap(&mut self, page: VirtAddr) -> Option<(PhysAddr, PageFlags)>;
    /// Changes the flags of a present mapping, returning the old flags.
    fn protect(&mut self, page: VirtAddr, flags: PageFlags) -> Option<PageFlags>;
    /// What `page` maps to, if present.
    fn translate(&self, page: VirtAddr) -> Option<(PhysAddr, PageFlags)>;
    /// The first present mapping at or after `from` and before `end` (both
    /// page aligned): its page, frame and flags. Must skip unmapped stretches
    /// cheaply (not page by page): munmap and mprotect of a huge, sparsely
    /// touched range walk its PTEs this way.
    fn next_mapped(&self, from: VirtAddr, end: VirtAddr) -> Option<(VirtAddr, PhysAddr, PageFlags)>;
    /// Applies `f`'s [`LeafEdit`] to every present mapping in `[from, end)`,
    /// in address order (mprotect, munmap: a range's PTEs at once). The
    /// default walks from the root per page ([`Self::next_mapped`], then
    /// [`Self::protect`] or [`Self::unmap`]); the kernel's table walks each
    /// leaf table once (`rmm::PageMapper::edit_leaves`).
    fn edit_mapped(
        &mut self,
        from: VirtAddr,
        end: VirtAddr,
        f: &mut dyn FnMut(VirtAddr, PhysAddr, PageFlags) -> LeafEdit,
    ) {
        let mut cursor = from;
        while let Some((page, frame, flags)) = self.next_mapped(cursor, end) {
            match f(page, frame, flags) {
                LeafEdit::Keep => {}
                LeafEdit::Protect(flags) => {
                    self.protect(page, flags);
                }
                LeafEdit::Unmap => {
                    self.unmap(page);
                }
            }
            cursor = page.add(rmm::PAGE_SIZE);
        }
    }
    /// Removes every present mapping in `[from, end)`, as [`Self::edit_mapped`]
    /// answering [`LeafEdit::Unmap`] to each, and returns the address of the
    /// first one removed and the end of the last (`None`: none was
    /// present); the caller flushes that span. For a munmap or an eviction
    /// that logs nothing per page; the kernel's table clears each leaf
    /// table in one pass with no call per entry (`rmm::PageMapper::clear_leaves`).
    fn unmap_mapped(&mut self, from: VirtAddr, end: VirtAddr) -> Option<(VirtAddr, VirtAddr)> {
        let mut span: Option<(VirtAddr, VirtAddr)> = None;
        self.edit_mapped(from, end, &mut |page, _, _| {
            let last = page.add(rmm::PAGE_SIZE);
            span = Some(span.map_or((page, last), |(first, _)| (first, last)));
            LeafEdit::Unmap
        });
        span
    }
}

/// Physical frames with reference counts. Frame contents are touched only
/// through this trait, which is why this crate needs no `unsafe`.
///
/// A frame from [`FrameStore::allocate_zeroed`] starts with one reference.
/// The zero frame is special: it is never allocated, freed, written or
/// reference counted; the crate maps it read-only for reads of private
/// anonymous pages that were never written.
pub trait FrameStore {
    /// A new zero-filled frame with a reference count of 1, or `None` when
    /// memory is exhausted.
    fn allocate_zeroed(&mut self) -> Option<PhysAddr>;
    /// Copies the contents of frame `from` into frame `to`.
    fn copy(&mut self, from: PhysAddr, to: PhysAddr);
    /// A new frame (one reference) holding a copy of `from`, or `None` when
    /// memory is exhausted. A store that can skip zeroing a frame it is
    /// about to overwrite overrides this.
    fn allocate_copy(&mut self, from: PhysAddr) -> Option<PhysAddr> {
        let frame = self.allocate_zeroed()?;
        self.copy(from, frame);
        Some(frame)
    }
    /// Takes one more reference to `frame`.
    fn get(&mut self, frame: PhysAddr);
    /// Drops one reference; frees the frame and returns `true` when it was
    /// the last.
    fn put(&mut self, frame: PhysAddr) -> bool;
    /// The current reference count of `frame`.
    fn refcount(&self, frame: PhysAddr) -> usize;
    /// The shared, always-zero frame.
    fn zero_frame(&self) -> PhysAddr;
}
