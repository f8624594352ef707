//! fork: a child address space with the same grants.
//!
//! - `Allocated`: copy-on-write. The child's slots reference the parent's
//!   frames (refcount + 1 each); the parent's writable PTEs become read-only
//!   (flushed through the parent's shootdown, which the kernel must finish
//!   before either side runs on); the child's PTEs mirror the parent's
//!   present ones, read-only. Zero-frame pages (no slot) are not copied:
//!   they read as zero in the child too, and its first read maps them.
//! - `AllocatedShared`, `PhysBorrowed`, `External`: shared. The child maps
//!   the same frames with the same rights, taking its own references.
//! - `FmapBorrowed`: as `Allocated` for a private lease, as the shared kinds
//!   for a shared one; the child pins the file pages too.
//! - A grant marked MADV_DONTFORK is left out of the child; one marked
//!   MADV_WIPEONFORK (private anonymous) is given to the child empty, so it
//!   reads zeroes, and keeps the mark (grandchildren too), as on Linux.
//!
//! Transactional: if a page-table page for the child cannot be allocated,
//! the parent's PTEs get their write bits back, every reference the child
//! took is dropped, and the child (whose table was never live) is torn down.

use crate::MmError;
use crate::provider::Provider;
use crate::shootdown::Shootdown;
use crate::space::AddrSpace;
use crate::traits::{FrameStore, PageTable};
use crate::txn::{Mode, Txn};

impl<P: PageTable> AddrSpace<P> {
    /// A copy-on-write copy of this space over `child_table` (empty user
    /// half). The parent's downgraded PTEs are in `tlb`.
    ///
    /// Errors (parent unchanged, child's frames released, `child_table`
    /// dropped): ENOMEM when a page-table page for the child is lacking.
    pub fn fork(
        &mut self,
        frames: &mut impl FrameStore,
        child_table: P,
        tlb: &mut Shootdown,
    ) -> Result<AddrSpace<P>, MmError> {
        let mut child = AddrSpace {
            table: child_table,
            grants: self.grants.clone(),
            gaps: self.gaps.clone(),
            slots: Default::default(),
            freeable: Default::default(),
            guards: Default::default(),
            mapped_pages: self.mapped_pages,
            resident_pages: 0,
            config: self.config.clone(),
            spare_log: Default::default(),
        };
        let left_out: alloc::vec::Vec<_> = child.grants.values().filter(|g| g.dont_fork).map(|g| g.base).collect();
        for base in left_out {
            child.remove_grant_raw(base);
        }
        // Guard markers go with the grants the child gets (Linux copies them).
        child.guards = self.guards.iter().copied().filter(|page| child.grant_containing(*page).is_some()).collect();
        // The child's file grants pin their pages now, all of them, so that
        // tearing down a half-made child gives back exactly these pins.
        for grant in child.grants.values() {
            if let Provider::FmapBorrowed { file, offset_pages } = &grant.provider {
                file.pin(*offset_pages, offset_pages + grant.pages);
            }
        }
        let mut tx = Txn::new(self, frames, tlb, Mode::Undoable);
        // At most one write-protected PTE per resident page to undo.
        let resident = tx.space.resident_pages;
        match tx.reserve_log(resident).and_then(|()| copy_pages(&mut tx, &mut child)) {
            Ok(()) => {
                tx.commit();
                Ok(child)
            }
            Err(error) => {
                drop(tx);
                let (_, releases) = child.teardown(frames);
                debug_assert!(releases.is_empty(), "the parent still pins what the child did");
                Err(error)
            }
        }
    }
}

fn copy_pages<P: PageTable, F: FrameStore>(tx: &mut Txn<'_, P, F>, child: &mut AddrSpace<P>) -> Result<(), MmError> {
    let grants: alloc::vec::Vec<_> = tx.space.grants.values().cloned().collect();
    for grant in grants {
        if grant.dont_fork || grant.wipe_on_fork {
            continue;
        }
        match &grant.provider {
            Provider::PhysBorrowed { .. } => {
                let mut cursor = grant.base;
                while let Some((page, frame, flags)) = tx.space.next_pte(cursor, grant.end()) {
                    child.table.map(page.start(), frame, flags)?;
                    cursor = page.add(1);
                }
            }
            Provider::Allocated
            | Provider::AllocatedShared { .. }
            | Provider::External { .. }
            | Provider::FmapBorrowed { .. } => {
                // Every slot is a reference the child holds too.
                let frames = &mut *tx.frames;
                child.resident_pages +=
                    tx.space.slots.share_range(grant.range(), &mut child.slots, |frame| frames.get(frame));
                // The parent's PTEs in one pass over its leaf tables
                // (private ones write-protected), then the child's.
                let ptes = tx.write_protect_for_fork(grant.range(), grant.provider.is_private())?;
                child.table.map_pages(&ptes)?;
            }
        }
    }
    Ok(())
}
