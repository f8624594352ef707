//! mprotect: split at the range's ends, set the protection, bring present
//! PTEs in line. A range inside one grant (the common case) is checked,
//! cut and joined to its neighbours from one descent into the grant tree
//! ([`AddrSpace::reprotect_inside`]); the general path splits, sets and
//! merges grant by grant.
//!
//! Present PTEs lose the rights the new protection lacks; rights it adds
//! are not written into any PTE (lazy upgrade): the first access that
//! needs one faults, and the fault path raises that one PTE from the grant
//! as it does after copy-on-write — write access only for a private frame
//! with no other reference and no MADV_FREE mark, never for the zero
//! frame. So an mprotect that only adds rights costs a grant change, and
//! one that only removes rights a pass over the range's present PTEs with
//! no look at frames.
//! PROT_NONE removes the PTEs (rmm has no "present but inaccessible"
//! encoding); private and borrowed frames stay in their slots, so the data
//! survives, and the next access after access is restored maps them again.
//! An access while PROT_NONE is SIGSEGV.

use rmm::VirtAddr;

use crate::MmError;
use crate::grant::Prot;
use crate::map::check_prot;
use crate::page::{PageRange, range_for};
use crate::provider::Provider;
use crate::shootdown::Shootdown;
use crate::space::AddrSpace;
use crate::traits::{FrameStore, PageTable};
use crate::txn::{Mode, Txn};
use crate::unmap::{Release, release_pages};

impl<P: PageTable> AddrSpace<P> {
    /// Sets the protection of `[addr, addr + len_bytes)` (length rounded up).
    /// A zero length succeeds without doing anything (as on Linux).
    ///
    /// Errors (nothing changed): EINVAL for a misaligned `addr` or an
    /// overflowing range; EACCES for PROT_WRITE | PROT_EXEC under W^X, or
    /// PROT_WRITE on a shared mapping of a file not opened for writing;
    /// ENOMEM if any page of the range is unmapped (Linux would have changed
    /// the part before the hole; this is all or nothing), or if cutting the
    /// grants at the range's ends would pass the grant cap.
    pub fn mprotect(
        &mut self,
        frames: &mut impl FrameStore,
        addr: VirtAddr,
        len_bytes: u64,
        prot: Prot,
        tlb: &mut Shootdown,
    ) -> Result<(), MmError> {
        let range = range_for(addr, len_bytes)?;
        check_prot(&self.config, prot)?;
        if range.is_empty() {
            return Ok(());
        }
        // Inside one grant (the common case): checked and changed from one
        // descent, no Txn for the grants (nothing can fail).
        match self.reprotect_inside(range, prot) {
            Some(Ok(true)) => {
                let mut tx = Txn::new(self, frames, tlb, Mode::Infallible);
                refresh_ptes(&mut tx, range, prot);
                tx.commit();
                return Ok(());
            }
            Some(result) => return result.map(|_| ()),
            None => {}
        }
        // One pass over the range's grants: covered without a hole, the
        // file leases among them, and whether the ends cut a grant.
        // Backwards from the end: one descent into the tree.
        let (mut below, mut cuts) = (range.end, 0u64);
        let mut files = alloc::vec::Vec::new();
        for (_, grant) in self.grants.range(..range.end).rev() {
            if grant.end() < below || below <= range.start {
                break;
            }
            cuts += u64::from(grant.base < range.start) + u64::from(grant.end() > range.end);
            if let Provider::FmapBorrowed { file, .. } = &grant.provider {
                files.push(file.clone());
            }
            below = grant.base;
        }
        if below > range.start {
            return Err(MmError::NoMem);
        }
        let writable = prot.contains(Prot::WRITE);
        if files.iter().any(|file| !file.allows(writable)) {
            return Err(MmError::Access);
        }
        files.iter().for_each(|file| file.note_writable(writable));
        if self.grant_count() + cuts > self.config.max_grants {
            return Err(MmError::NoMem);
        }
        let mut tx = Txn::new(self, frames, tlb, Mode::Infallible);
        tx.split_at(range.start);
        tx.split_at(range.end);
        // PTEs never hold more rights than their grant: if no grant loses
        // one, no PTE changes (rights added come back on the next access's
        // fault).
        if tx.set_prot(range, prot) {
            refresh_ptes(&mut tx, range, prot);
        }
        tx.merge_span(range.start, range.end);
        tx.commit();
        Ok(())
    }

    /// mprotect of `range` when one grant holds all of it: the checks of
    /// [`Self::mprotect`] (file lease rights, the grant cap), then the
    /// protection set and what became alike merged, as the split, set and
    /// merge steps would but with one descent into the grant tree for the
    /// grant and both neighbours, then one more for the removals of a join
    /// (`GrantMap::remove_span`) or the insertions of a split
    /// (`GrantMap::insert_pair`), or an insertion and a removal when the
    /// part is at one end (the tree's depth is what makes mprotect's cost
    /// grow with the number of mappings). `None`, with nothing done, if no single grant
    /// holds `range`; else whether the grant lost a right (then its PTEs
    /// need restricting), or the error. Nothing here can fail after the
    /// checks but the tree's own node allocation, as in the split it
    /// replaces.
    fn reprotect_inside(&mut self, range: PageRange, prot: Prot) -> Option<Result<bool, MmError>> {
        let room = self.config.max_grants.saturating_sub(self.grant_count());
        let mut near = self.grants.range_mut(..=range.end);
        let mut top = near.next_back();
        let high = match top {
            Some((&base, _)) if base == range.end => top.take().map(|(_, high)| high),
            _ => None,
        };
        let (_, grant) = top.or_else(|| near.next_back())?;
        if range.start < grant.base || grant.end() < range.end {
            return None;
        }
        let writable = prot.contains(Prot::WRITE);
        if let Provider::FmapBorrowed { file, .. } = &grant.provider {
            if !file.allows(writable) {
                return Some(Err(MmError::Access));
            }
            file.note_writable(writable);
        }
        let (head, tail) = (grant.base < range.start, range.end < grant.end());
        if u64::from(head) + u64::from(tail) > room {
            return Some(Err(MmError::NoMem));
        }
        if grant.prot == prot {
            return Some(Ok(false));
        }
        let lost = !grant.prot.difference(prot).is_empty();
        // Whether the changed part joins a neighbour: compared as if the
        // whole grant had the new protection (the part's provider continues
        // the neighbour's exactly when the grant's does at that end).
        let old = core::mem::replace(&mut grant.prot, prot);
        let low = if head { None } else { near.next_back().map(|(_, low)| low).filter(|low| low.can_absorb(grant)) };
        let joins_high = !tail && high.as_ref().is_some_and(|high| grant.can_absorb(high));
        grant.prot = old;
        match (head, tail) {
            (false, false) => {
                // The whole grant changes; it joins none, one or both.
                grant.prot = prot;
                let high = if joins_high { high } else { None };
                let (base, pages) = (grant.base, grant.pages + high.as_ref().map_or(0, |h| h.pages));
                // The grants that go: this one into the one below, the one
                // above into this one or the one below (one removal).
                let mut gone = None;
                match low {
                    Some(low) => {
                        low.pages += pages;
                        gone = Some(base);
                    }
                    None => grant.pages = pages,
                }
                if joins_high {
                    gone = gone.or(Some(range.end));
                }
                if let Some(first) = gone {
                    let last = if joins_high { range.end } else { base };
                    self.grants.remove_span(first, last);
                }
            }
            (true, false) => {
                // The grant's top part changes; it may join the grant above.
                let mut part = grant.split_off(range.start);
                part.prot = prot;
                if let (true, Some(high)) = (joins_high, high) {
                    part.pages += high.pages;
                    self.grants.remove(&range.end);
                }
                self.grants.insert(range.start, part);
            }
            (false, true) => {
                // The grant's bottom part changes; it may join the grant below.
                let rest = grant.split_off(range.end);
                grant.prot = prot;
                if let Some(low) = low {
                    low.pages += grant.pages;
                    self.grants.remove(&range.start);
                }
                self.grants.insert(range.end, rest);
            }
            (true, true) => {
                // A part strictly inside: three grants, none joins.
                let mut part = grant.split_off(range.start);
                let rest = part.split_off(range.end);
                part.prot = prot;
                self.grants.insert_pair((range.start, part), (range.end, rest));
            }
        }
        Some(Ok(lost))
    }
}

/// Brings the present PTEs of `range` (whose grants now have `prot`)
/// within `prot`: PROT_NONE removes them, any other protection only takes
/// away the rights it lacks ([`Txn::restrict_ptes`], one walk over the
/// whole range). Rights it adds are not given here: the next access that
/// needs one faults, and the fault raises that PTE from the grant (lazy
/// upgrade, as FreeBSD's `pmap` does), so an mprotect that only adds
/// rights changes the grants and no PTE.
fn refresh_ptes<P: PageTable, F: FrameStore>(tx: &mut Txn<'_, P, F>, range: PageRange, prot: Prot) {
    if prot.is_accessible() {
        tx.restrict_ptes(range, prot);
        return;
    }
    // The grants may reach past the range's ends (merged with a neighbour).
    let mut cursor = range.start;
    while cursor < range.end {
        let next = tx.space.grants_in(PageRange::new(cursor, range.end)).next();
        let Some((provider, part)) = next.map(|g| (g.provider.clone(), g.range().intersect(&range))) else { break };
        release_pages(tx, &provider, part, Release::PtesOnly);
        cursor = part.end;
    }
}
