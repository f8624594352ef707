//! munmap, and the page-releasing step that MAP_FIXED, mremap, madvise and
//! mprotect(PROT_NONE) share with it.

use rmm::VirtAddr;

use crate::MmError;
use crate::file::Unpin;
use crate::grant::Grant;
use crate::page::{PageRange, range_for};
use crate::provider::Provider;
use crate::shootdown::Shootdown;
use crate::space::AddrSpace;
use crate::traits::{FrameStore, PageTable};
use crate::txn::{Mode, Txn};

/// What to drop from a range of one grant.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Release {
    /// Everything: PTEs and every slot (munmap, DONTNEED of private memory).
    All,
    /// PTEs only; slots of private and borrowed pages stay (PROT_NONE).
    /// Shared-object slots *are* PTE references, so they go too.
    PtesOnly,
}

/// Drops the PTEs (and, per `what`, the slots) of `range`, which lies inside
/// one grant with `provider`. References go after the flush. Only present
/// PTEs and held slots are visited, so a huge, sparsely touched range costs
/// what it holds, not what it spans.
pub(crate) fn release_pages<P: PageTable, F: FrameStore>(
    tx: &mut Txn<'_, P, F>,
    provider: &Provider,
    range: PageRange,
    what: Release,
) {
    tx.unmap_ptes(range);
    let keep_slots = match provider {
        Provider::PhysBorrowed { .. } => true,
        // Shared-object slots are PTE references: they go with the PTEs.
        Provider::AllocatedShared { .. } => false,
        Provider::Allocated | Provider::External { .. } | Provider::FmapBorrowed { .. } => what == Release::PtesOnly,
    };
    if keep_slots {
        return;
    }
    tx.drop_slots(range);
}

/// Unmaps every grant page in `range`: grants split at both ends, the ones
/// inside removed.
pub(crate) fn remove_range<P: PageTable, F: FrameStore>(tx: &mut Txn<'_, P, F>, range: PageRange) {
    if range.is_empty() {
        return;
    }
    crate::guard::drop_guards(tx, range);
    // The common case, a range inside one grant, cut out in place.
    if let Some(part) = tx.take_part(range) {
        release_grant(tx, part);
        return;
    }
    tx.split_at(range.start);
    tx.split_at(range.end);
    // After the cuts every grant met lies inside `range`.
    let mut cursor = range.start;
    while let Some(base) = tx.space.grants.range(cursor..range.end).next().map(|(b, _)| *b) {
        let Some(grant) = tx.take_grant(base) else { break };
        cursor = grant.end();
        release_grant(tx, grant);
    }
}

/// Releases what a grant taken out of the tree held: PTEs, slots, the
/// file range it borrowed, and the grant itself, all after the flush.
fn release_grant<P: PageTable, F: FrameStore>(tx: &mut Txn<'_, P, F>, grant: Grant) {
    release_pages(tx, &grant.provider, grant.range(), Release::All);
    if let Provider::FmapBorrowed { file, offset_pages } = &grant.provider {
        let (start, end) = (*offset_pages, offset_pages + grant.pages);
        tx.defer_unpin(Unpin { file: file.clone(), start, end });
    }
    tx.discard_grant(grant);
}

impl<P: PageTable> AddrSpace<P> {
    /// Unmaps `[addr, addr + len_bytes)` (length rounded up to pages),
    /// splitting grants that stick out at either end. Unmapped parts are
    /// fine; a range with nothing mapped is a successful no-op.
    ///
    /// Errors (nothing changed): EINVAL if `addr` is not page aligned,
    /// `len_bytes` is 0, or the range overflows or ends past the user range;
    /// ENOMEM if cutting a grant in two would pass the grant cap.
    pub fn munmap(
        &mut self,
        frames: &mut impl FrameStore,
        addr: VirtAddr,
        len_bytes: u64,
        tlb: &mut Shootdown,
    ) -> Result<(), MmError> {
        let range = range_for(addr, len_bytes)?;
        if range.is_empty() || range.end > self.config.user_range().end {
            return Err(MmError::Inval);
        }
        self.check_split_room(range)?;
        let mut tx = Txn::new(self, frames, tlb, Mode::Infallible);
        remove_range(&mut tx, range);
        tx.commit();
        Ok(())
    }
}
