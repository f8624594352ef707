//! The guard's page-table entry changes: each logged for rollback (in
//! undoable operations) and flushed where a right is lost, as the module
//! docs of [`super`] say.

use alloc::vec::Vec;

use rmm::{PageFlags, PhysAddr, VirtAddr};

#[cfg(test)]
use super::PEAK_LOG;
use super::{Mode, Txn, Undo, lost_right};
use crate::MmError;
use crate::page::{Page, PageRange};
use crate::traits::{FrameStore, LeafEdit, MapFailed, PageTable};

impl<P: PageTable, F: FrameStore> Txn<'_, P, F> {
    pub(crate) fn map_pte(&mut self, page: Page, frame: PhysAddr, flags: PageFlags) -> Result<(), MapFailed> {
        self.space.table.map(page.start(), frame, flags)?;
        self.record(Undo::MappedPte(page));
        Ok(())
    }

    /// Maps the zero frame read-only at `page`, without an undo record: a
    /// zero-frame PTE only caches "this page reads as zero", so read-only
    /// populate of any size costs no kernel heap. A rollback still removes
    /// it, through the grant the operation inserted (the undo of an inserted grant):
    /// call this only inside a grant inserted by the same operation, or
    /// where nothing can fail afterwards (a read fault).
    pub(crate) fn map_zero_pte(&mut self, page: Page, flags: PageFlags) -> Result<(), MapFailed> {
        let zero = self.frames.zero_frame();
        self.space.table.map(page.start(), zero, flags)
    }

    /// Removes the PTE of `page`, if present, and schedules its flush. A
    /// zero-frame PTE is not logged: a rollback does not bring it back, and
    /// the page still reads as zero (the next read maps it again).
    pub(crate) fn unmap_pte(&mut self, page: Page) -> Option<(PhysAddr, PageFlags)> {
        let (frame, flags) = self.space.table.unmap(page.start())?;
        if frame != self.frames.zero_frame() {
            self.record(Undo::UnmappedPte(page, frame, flags));
        }
        self.tlb.flush_page(page);
        Some((frame, flags))
    }

    /// Removes every present PTE of `range` (walking only what is mapped,
    /// a leaf table at a time: [`PageTable::unmap_mapped`], or
    /// [`PageTable::edit_mapped`] when each is logged for a rollback).
    pub(crate) fn unmap_ptes(&mut self, range: PageRange) {
        let zero = self.frames.zero_frame();
        let undoable = self.mode == Mode::Undoable;
        if !undoable {
            // Nothing to log per page: the leaves cleared in one pass, and
            // the span from the first to the last flushed (pages between
            // that were not present too: harmless).
            if let Some((first, end)) = self.space.table.unmap_mapped(range.start.start(), range.end.start()) {
                self.tlb.flush_range(PageRange::new(Page::containing(first), Page::containing(end)));
            }
            return;
        }
        let (log, tlb) = (&mut self.log, &mut *self.tlb);
        self.space.table.edit_mapped(range.start.start(), range.end.start(), &mut |addr, frame, flags| {
            let page = Page::containing(addr);
            if frame != zero {
                log.push(Undo::UnmappedPte(page, frame, flags));
            }
            tlb.flush_page(page);
            LeafEdit::Unmap
        });
        #[cfg(test)]
        PEAK_LOG.with(|peak| peak.set(peak.get().max(self.log.len())));
    }

    /// For fork: the present PTEs of `range` whose page holds a slot (the
    /// zero frame's have none and are not copied), in order, with the
    /// flags the child gets — read-only when `private` — after making the
    /// parent's writable ones read-only too (logged and flushed like
    /// [`Self::protect_pte`]). One pass over each leaf table.
    pub(crate) fn write_protect_for_fork(
        &mut self,
        range: PageRange,
        private: bool,
    ) -> Result<Vec<(VirtAddr, PhysAddr, PageFlags)>, MmError> {
        let undoable = self.mode == Mode::Undoable;
        let (log, tlb) = (&mut self.log, &mut *self.tlb);
        let space = &mut *self.space;
        let (table, slots) = (&mut space.table, &space.slots);
        let mut ptes = Vec::new();
        ptes.try_reserve(slots.count_in(range) as usize).map_err(|_| MmError::NoMem)?;
        table.edit_mapped(range.start.start(), range.end.start(), &mut |addr, frame, flags| {
            let page = Page::containing(addr);
            if !slots.contains(page) {
                return LeafEdit::Keep;
            }
            if !private {
                ptes.push((addr, frame, flags));
                return LeafEdit::Keep;
            }
            let read_only = flags.write(false);
            ptes.push((addr, frame, read_only));
            if !flags.is_writable() {
                return LeafEdit::Keep;
            }
            if undoable {
                log.push(Undo::ProtectedPte(page, flags));
            }
            tlb.flush_page(page);
            LeafEdit::Protect(read_only)
        });
        #[cfg(test)]
        PEAK_LOG.with(|peak| peak.set(peak.get().max(self.log.len())));
        Ok(ptes)
    }

    /// Takes from every present PTE of `range` the rights `prot` does not
    /// give (write, execute), a leaf table at a time
    /// ([`PageTable::edit_mapped`]); the lost rights are flushed. Never
    /// adds a right, so no page's reference count or mark is looked at and
    /// "PTE rights within the grant's" keeps holding: rights `prot` adds
    /// come back one page at a time, on the next access's fault
    /// ([`crate::AddrSpace::fault`] raises a present PTE to what the grant
    /// and the page allow).
    pub(crate) fn restrict_ptes(&mut self, range: PageRange, prot: crate::grant::Prot) {
        let (write, exec) = (prot.contains(crate::grant::Prot::WRITE), prot.contains(crate::grant::Prot::EXEC));
        let undoable = self.mode == Mode::Undoable;
        let (log, tlb) = (&mut self.log, &mut *self.tlb);
        self.space.table.edit_mapped(range.start.start(), range.end.start(), &mut |addr, _, old| {
            let flags = old.write(old.is_writable() && write).execute(old.is_executable() && exec);
            if flags == old {
                return LeafEdit::Keep;
            }
            let page = Page::containing(addr);
            if undoable {
                log.push(Undo::ProtectedPte(page, old));
            }
            tlb.flush_page(page);
            LeafEdit::Protect(flags)
        });
        #[cfg(test)]
        PEAK_LOG.with(|peak| peak.set(peak.get().max(self.log.len())));
    }

    /// Write-around's pass over the PTEs of `range`, which lies in one
    /// slot-map block, of a private anonymous grant whose writable PTE
    /// flags are `flags` ([`crate::write_around`]): every present,
    /// read-only PTE whose page holds exactly the mapped frame and carries
    /// no guard or MADV_FREE mark is made writable — in place when this
    /// space holds the frame's only reference, else over a new copy of it:
    /// the slot switched to the copy, the old PTE flushed, the shared
    /// frame's reference given up after the flush. One walk of the leaf
    /// table and one slot-map descent for the run, and one more walk per
    /// copy to map it (its old PTE is removed in the pass; the leaf table
    /// stays, so this cannot fail), where a fault per page descends the
    /// map four times and walks the table three times. (A rewrite of the
    /// entry in the pass would save that walk, but a bigger `LeafEdit`
    /// cost every mprotect about 5 instructions per PTE.) Stops at the
    /// first copy that finds no frame. Returns how many pages it changed
    /// and whether it stopped so. Logs nothing: infallible transactions
    /// only.
    pub(crate) fn raise_private_ptes(&mut self, range: PageRange, flags: PageFlags) -> (u64, bool) {
        debug_assert!(self.mode == Mode::Infallible, "nothing here is logged");
        let space = &mut *self.space;
        let (table, guards, freeable) = (&mut space.table, &space.guards, &space.freeable);
        let Some(mut block) = space.slots.block_mut(range.start) else { return (0, false) };
        let (frames, tlb) = (&mut *self.frames, &mut *self.tlb);
        let (mut changed, mut starved) = (0, false);
        let mut copies = [(Page::from_number(0), PhysAddr::new(0)); crate::slots::BLOCK_PAGES as usize];
        let mut ncopies = 0;
        table.edit_mapped(range.start.start(), range.end.start(), &mut |addr, mapped, old| {
            let page = Page::containing(addr);
            if starved
                || old.is_writable()
                || block.get(page) != Some(mapped)
                || guards.contains(&page)
                || freeable.contains(&page)
            {
                return LeafEdit::Keep;
            }
            if frames.refcount(mapped) == 1 {
                if lost_right(old, flags) {
                    tlb.flush_page(page);
                }
                changed += 1;
                return LeafEdit::Protect(flags);
            }
            let Some(copy) = frames.allocate_copy(mapped) else {
                starved = true;
                return LeafEdit::Keep;
            };
            block.replace(page, copy);
            tlb.flush_page(page);
            tlb.defer_put(mapped);
            copies[ncopies] = (page, copy);
            ncopies += 1;
            changed += 1;
            LeafEdit::Unmap
        });
        for &(page, copy) in &copies[..ncopies] {
            let _ = table.map(page.start(), copy, flags);
        }
        (changed, starved)
    }

    /// Rollback: removes the zero-frame PTEs of `range` and flushes them.
    pub(super) fn unmap_zero_ptes(&mut self, range: PageRange) {
        let zero = self.frames.zero_frame();
        let mut cursor = range.start;
        while let Some((page, frame, _)) = self.space.next_pte(cursor, range.end) {
            if frame == zero {
                self.space.table.unmap(page.start());
                self.tlb.flush_page(page);
            }
            cursor = page.add(1);
        }
    }

    /// Sets the flags of `page`'s present PTE; a lost right is flushed.
    pub(crate) fn protect_pte(&mut self, page: Page, flags: PageFlags) {
        let Some(old) = self.space.table.protect(page.start(), flags) else { return };
        if old == flags {
            return;
        }
        self.record(Undo::ProtectedPte(page, old));
        if lost_right(old, flags) {
            self.tlb.flush_page(page);
        }
    }
}
