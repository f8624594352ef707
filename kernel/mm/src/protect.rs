//! mprotect: split at the range's ends, set the protection, bring present
//! PTEs in line.
//!
//! Present PTEs get the new rights, except that a private page whose frame
//! is still shared (copy-on-write) or is the zero frame stays read-only even
//! when the grant becomes writable: its first write must still fault.
//! PROT_NONE removes the PTEs (rmm has no "present but inaccessible"
//! encoding); private and borrowed frames stay in their slots, so the data
//! survives, and the next access after access is restored maps them again.
//! An access while PROT_NONE is SIGSEGV.

use rmm::VirtAddr;

use crate::MmError;
use crate::grant::{Grant, Prot};
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
        if !self.is_covered(range) {
            return Err(MmError::NoMem);
        }
        let writable = prot.contains(Prot::WRITE);
        let files: alloc::vec::Vec<_> = self
            .overlapping(range)
            .iter()
            .filter_map(|base| match &self.grants[base].provider {
                Provider::FmapBorrowed { file, .. } => Some(file.clone()),
                _ => None,
            })
            .collect();
        if files.iter().any(|file| !file.allows(writable)) {
            return Err(MmError::Access);
        }
        files.iter().for_each(|file| file.note_writable(writable));
        self.check_split_room(range)?;
        let mut tx = Txn::new(self, frames, tlb, Mode::Infallible);
        tx.change_grants(range, |tx, grant| {
            grant.prot = prot;
            refresh_ptes(tx, grant, grant.range());
        });
        tx.commit();
        Ok(())
    }
}

/// Brings the present PTEs of `range` (inside `grant`) in line with the
/// grant's protection.
pub(crate) fn refresh_ptes<P: PageTable, F: FrameStore>(tx: &mut Txn<'_, P, F>, grant: &Grant, range: PageRange) {
    if !grant.prot.is_accessible() {
        release_pages(tx, &grant.provider, range, Release::PtesOnly);
        return;
    }
    let private = grant.provider.is_private();
    let zero = tx.frames.zero_frame();
    let phys = matches!(grant.provider, Provider::PhysBorrowed { .. });
    tx.protect_ptes(range, |frames, freeable, page, frame| {
        let writable = match () {
            () if phys => true,
            () if frame == zero => false,
            () if private => frames.refcount(frame) == 1 && !freeable.contains(&page),
            () => true,
        };
        grant.pte_flags(writable)
    });
}
