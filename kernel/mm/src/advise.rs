//! madvise and msync.
//!
//! MADV_DONTNEED really drops pages: private anonymous pages lose their
//! frames (the next read sees zeroes), shared-object pages only lose this
//! space's PTEs (the data stays in the object, as for Linux MAP_SHARED).
//! Device and borrowed memory refuse it (EINVAL, like Linux's VM_PFNMAP).
//! The other accepted advice values are hints and change nothing.
//!
//! msync has nothing to write back for anonymous, device or borrowed
//! memory; it validates and succeeds. File mappings, which will need
//! write-back through their scheme, cannot exist yet.

use bitflags::bitflags;
use rmm::VirtAddr;

use crate::MmError;
use crate::file::FileRange;
use crate::page::{PageRange, range_for};
use crate::provider::Provider;
use crate::shootdown::Shootdown;
use crate::space::AddrSpace;
use crate::traits::{FrameStore, PageTable};
use crate::txn::{Mode, Txn};
use crate::unmap::{Release, release_pages};
use alloc::vec::Vec;

/// madvise advice (Linux's numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Advice {
    /// MADV_NORMAL (0): hint.
    Normal,
    /// MADV_RANDOM (1): hint.
    Random,
    /// MADV_SEQUENTIAL (2): hint.
    Sequential,
    /// MADV_WILLNEED (3): hint (no read-ahead yet).
    WillNeed,
    /// MADV_DONTNEED (4): drop the pages (see the module docs).
    DontNeed,
}

impl Advice {
    /// The advice numbered `raw`; EINVAL for anything else (MADV_FREE,
    /// MADV_REMOVE… are not implemented).
    pub const fn from_raw(raw: usize) -> Result<Self, MmError> {
        Ok(match raw {
            0 => Self::Normal,
            1 => Self::Random,
            2 => Self::Sequential,
            3 => Self::WillNeed,
            4 => Self::DontNeed,
            _ => return Err(MmError::Inval),
        })
    }
}

bitflags! {
    /// msync flags (Linux's values).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct MsyncFlags: u32 {
        /// Schedule the write-back.
        const ASYNC = 1;
        /// Invalidate other mappings' cached copies.
        const INVALIDATE = 2;
        /// Write back and wait.
        const SYNC = 4;
    }
}

impl MsyncFlags {
    /// The flags in `raw`; EINVAL for unknown bits.
    pub const fn from_raw(raw: u32) -> Result<Self, MmError> {
        match Self::from_bits(raw) {
            Some(flags) => Ok(flags),
            None => Err(MmError::Inval),
        }
    }
}

impl<P: PageTable> AddrSpace<P> {
    /// Applies `advice` to `[addr, addr + len_bytes)` (length rounded up).
    /// A zero length succeeds.
    ///
    /// Errors (nothing changed): EINVAL for a misaligned `addr`, an
    /// overflowing range, or DONTNEED on device or borrowed memory; ENOMEM
    /// if any page of the range is unmapped (checked before anything is
    /// dropped; Linux would drop the mapped parts and then fail).
    pub fn madvise(
        &mut self,
        frames: &mut impl FrameStore,
        addr: VirtAddr,
        len_bytes: u64,
        advice: Advice,
        tlb: &mut Shootdown,
    ) -> Result<(), MmError> {
        let range = self.checked_mapped_range(addr, len_bytes)?;
        if range.is_empty() || advice != Advice::DontNeed {
            return Ok(());
        }
        let bases = self.overlapping(range);
        let refused = bases
            .iter()
            .any(|b| matches!(self.grants[b].provider, Provider::PhysBorrowed { .. } | Provider::External { .. }));
        if refused {
            return Err(MmError::Inval);
        }
        let mut tx = Txn::new(self, frames, tlb, Mode::Infallible);
        for base in bases {
            let grant = &tx.space.grants[&base];
            let (provider, part) = (grant.provider.clone(), grant.range().intersect(&range));
            release_pages(&mut tx, &provider, part, Release::All);
        }
        tx.commit();
        Ok(())
    }

    /// Checks an msync of `[addr, addr + len_bytes)`. Nothing needs writing
    /// back for the memory this layer maps, so a valid call succeeds.
    ///
    /// Errors: EINVAL for a misaligned `addr`, an overflowing range, or both
    /// SYNC and ASYNC; ENOMEM if any page of the range is unmapped.
    pub fn msync(&self, addr: VirtAddr, len_bytes: u64, flags: MsyncFlags) -> Result<(), MmError> {
        if flags.contains(MsyncFlags::SYNC | MsyncFlags::ASYNC) {
            return Err(MmError::Inval);
        }
        self.checked_mapped_range(addr, len_bytes)?;
        Ok(())
    }

    /// The file pages mapped in `[addr, addr + len_bytes)`, per grant, for
    /// the kernel's msync (after [`Self::msync`] validated the call).
    pub fn file_ranges(&self, addr: VirtAddr, len_bytes: u64) -> Result<Vec<FileRange>, MmError> {
        let range = self.checked_mapped_range(addr, len_bytes)?;
        let mut out = Vec::new();
        for base in self.overlapping(range) {
            let grant = &self.grants[&base];
            if let Provider::FmapBorrowed { file, offset_pages } = &grant.provider {
                let part = grant.range().intersect(&range);
                let first_page = offset_pages + grant.base.pages_until(part.start);
                out.push(FileRange { file: file.clone(), first_page, pages: part.pages() });
            }
        }
        Ok(out)
    }

    /// The pages of `[addr, addr + len_bytes)` if all are mapped (an empty
    /// range is fine). EINVAL when misaligned or overflowing, ENOMEM when
    /// a page is unmapped.
    fn checked_mapped_range(&self, addr: VirtAddr, len_bytes: u64) -> Result<PageRange, MmError> {
        let range = range_for(addr, len_bytes)?;
        if !range.is_empty() && !self.is_covered(range) {
            return Err(MmError::NoMem);
        }
        Ok(range)
    }
}
