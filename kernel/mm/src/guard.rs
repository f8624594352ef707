//! Guard markers (MADV_GUARD_INSTALL / MADV_GUARD_REMOVE, Linux ≥ 6.13):
//! per-page marks inside a grant that make any access fault with SIGSEGV
//! (a kernel copy: EFAULT) without cutting the grant, so a thread stack's
//! guard page or an allocator's red zone costs no mapping and `sys:maps`
//! still shows one entry.
//!
//! - INSTALL drops what the range's pages hold first (as DONTNEED: private
//!   and file frames go, shared-object pages only lose this space's PTEs)
//!   and then marks every page. Device and borrowed memory refuse it
//!   (EINVAL, as Linux refuses VM_PFNMAP / VM_SPECIAL; nothing is ever
//!   locked, Linux's other EINVAL). Private and shared anonymous memory,
//!   `memory:` objects and file mappings take it, as on Linux 6.18.
//! - REMOVE clears the marks: a private anonymous page reads zero again, a
//!   shared page shows the object's data, a file page is fetched again.
//! - munmap (and MAP_FIXED over the range, mremap's shrink) drops the
//!   marks with the pages; mremap's move carries them to the new address;
//!   mprotect, DONTNEED and MADV_FREE keep them; fork copies them into the
//!   child (every grant the child gets). A fault, MAP_POPULATE,
//!   MADV_POPULATE_* (EFAULT) and stack growth never give a marked page a
//!   frame.
//!
//! Each mark costs a set entry (the kernel reserves heap for the range
//! first); marks are logged in the undo log like slots, so operations stay
//! all or nothing.

use alloc::vec::Vec;

use crate::MmError;
use crate::page::{Page, PageRange};
use crate::shootdown::Shootdown;
use crate::space::AddrSpace;
use crate::traits::{FrameStore, PageTable};
use crate::txn::{Mode, Txn};
use crate::unmap::{Release, release_pages};

impl<P: PageTable> AddrSpace<P> {
    /// MADV_GUARD_INSTALL of `range` (all mapped, refusals checked).
    pub(crate) fn install_guards(
        &mut self,
        frames: &mut impl FrameStore,
        range: PageRange,
        tlb: &mut Shootdown,
    ) -> Result<(), MmError> {
        let mut tx = Txn::new(self, frames, tlb, Mode::Infallible);
        for base in tx.space.overlapping(range) {
            let grant = &tx.space.grants[&base];
            let (provider, part) = (grant.provider.clone(), grant.range().intersect(&range));
            release_pages(&mut tx, &provider, part, Release::All);
        }
        for page in range.iter() {
            tx.insert_guard(page);
        }
        tx.commit();
        Ok(())
    }

    /// MADV_GUARD_REMOVE of `range`.
    pub(crate) fn remove_guards(&mut self, range: PageRange) {
        let marked: Vec<Page> = self.guards.range(range.start..range.end).copied().collect();
        for page in marked {
            self.guards.remove(&page);
        }
    }

    /// Whether `addr`'s page carries a guard marker.
    pub fn is_guard(&self, addr: rmm::VirtAddr) -> bool {
        self.guards.contains(&Page::containing(addr))
    }

    /// How many pages carry guard markers.
    pub fn guard_pages(&self) -> u64 {
        self.guards.len() as u64
    }
}

/// Removes the guard markers of `range` (munmap and the like), logged.
pub(crate) fn drop_guards<P: PageTable, F: FrameStore>(tx: &mut Txn<'_, P, F>, range: PageRange) {
    if tx.space.guards.is_empty() {
        return;
    }
    let marked: Vec<Page> = tx.space.guards.range(range.start..range.end).copied().collect();
    for page in marked {
        tx.remove_guard(page);
    }
}

/// Moves the guard markers of `from` to the same offsets from `to`, logged.
pub(crate) fn move_guards<P: PageTable, F: FrameStore>(tx: &mut Txn<'_, P, F>, from: PageRange, to: Page) {
    let marked: Vec<Page> = tx.space.guards.range(from.start..from.end).copied().collect();
    for page in &marked {
        tx.remove_guard(*page);
    }
    for page in marked {
        tx.insert_guard(to.add(from.start.pages_until(page)));
    }
}
