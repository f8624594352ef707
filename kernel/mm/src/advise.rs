//! madvise and msync.
//!
//! MADV_DONTNEED really drops pages: private anonymous pages lose their
//! frames (the next read sees zeroes), shared-object pages only lose this
//! space's PTEs (the data stays in the object, as for Linux MAP_SHARED).
//! Device and borrowed memory refuse it (EINVAL, like Linux's VM_PFNMAP).
//! MADV_DONTNEED_LOCKED is the same (nothing is ever locked). MADV_FREE
//! drops private anonymous pages at once (Linux may keep them until memory
//! is short; a read after it sees the old data or zeroes, so zeroes now are
//! Linux's behaviour too) and refuses every other mapping (EINVAL, as
//! Linux). MADV_DONTFORK / DOFORK and MADV_WIPEONFORK / KEEPONFORK mark the
//! grants for fork (`fork.rs`), cutting them at the range's ends;
//! WIPEONFORK takes only private anonymous memory and DOFORK refuses device
//! memory (EINVAL, as Linux refuses VM_IO). The hints (NORMAL, RANDOM, SEQUENTIAL, WILLNEED, HUGEPAGE,
//! NOHUGEPAGE, DONTDUMP, DODUMP, COLD, PAGEOUT) change nothing; COLD,
//! PAGEOUT and DODUMP refuse device and borrowed memory as Linux refuses
//! VM_PFNMAP. Every other value is EINVAL: those Linux does not know, and
//! those it knows that Tessera has not built, answered as a Linux kernel
//! without the feature answers (docs/mm.md lists each).
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
    /// MADV_DONTNEED (4), and MADV_DONTNEED_LOCKED (24): drop the pages
    /// (see the module docs).
    DontNeed,
    /// MADV_FREE (8): drop private anonymous pages; EINVAL on any other
    /// mapping.
    Free,
    /// MADV_DONTFORK (10): fork leaves the range out of the child.
    DontFork,
    /// MADV_DOFORK (11): undoes DONTFORK; EINVAL on device memory.
    DoFork,
    /// MADV_WIPEONFORK (18): the child of a fork gets the range empty
    /// (zeroes); private anonymous memory only (EINVAL otherwise).
    WipeOnFork,
    /// MADV_KEEPONFORK (19): undoes WIPEONFORK.
    KeepOnFork,
    /// MADV_HUGEPAGE (14): hint (no huge pages).
    HugePage,
    /// MADV_NOHUGEPAGE (15): hint.
    NoHugePage,
    /// MADV_DONTDUMP (16): hint (no core dumps).
    DontDump,
    /// MADV_DODUMP (17): hint; EINVAL on device and borrowed memory.
    DoDump,
    /// MADV_COLD (20): hint (nothing is reclaimed); EINVAL on device and
    /// borrowed memory.
    Cold,
    /// MADV_PAGEOUT (21): hint (no swap); EINVAL on device and borrowed
    /// memory.
    PageOut,
}

impl Advice {
    /// The advice numbered `raw`; EINVAL for anything else: values Linux
    /// does not know, MADV_REMOVE (9) and MADV_POPULATE_READ / WRITE (22,
    /// 23), which are not built yet, MADV_MERGEABLE /
    /// UNMERGEABLE (12, 13; Linux without KSM), MADV_HWPOISON /
    /// SOFT_OFFLINE (100, 101), MADV_GUARD_INSTALL / REMOVE (102, 103;
    /// Linux before 6.13).
    pub const fn from_raw(raw: usize) -> Result<Self, MmError> {
        Ok(match raw {
            0 => Self::Normal,
            1 => Self::Random,
            2 => Self::Sequential,
            3 => Self::WillNeed,
            4 | 24 => Self::DontNeed,
            8 => Self::Free,
            10 => Self::DontFork,
            11 => Self::DoFork,
            18 => Self::WipeOnFork,
            19 => Self::KeepOnFork,
            14 => Self::HugePage,
            15 => Self::NoHugePage,
            16 => Self::DontDump,
            17 => Self::DoDump,
            20 => Self::Cold,
            21 => Self::PageOut,
            _ => return Err(MmError::Inval),
        })
    }

    /// Whether the advice drops pages.
    const fn drops(self) -> bool {
        matches!(self, Self::DontNeed | Self::Free)
    }

    /// Whether device and borrowed memory refuse it (EINVAL).
    const fn refused_by_device(self) -> bool {
        matches!(self, Self::DontNeed | Self::Free | Self::DoDump | Self::Cold | Self::PageOut | Self::DoFork)
    }

    /// Whether only private anonymous memory takes it (EINVAL otherwise).
    const fn private_anonymous_only(self) -> bool {
        matches!(self, Self::Free | Self::WipeOnFork)
    }

    /// The fork marks it sets, as (dont_fork, wipe_on_fork) changes.
    const fn fork_marks(self) -> Option<(Option<bool>, Option<bool>)> {
        match self {
            Self::DontFork => Some((Some(true), None)),
            Self::DoFork => Some((Some(false), None)),
            Self::WipeOnFork => Some((None, Some(true))),
            Self::KeepOnFork => Some((None, Some(false))),
            _ => None,
        }
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
    /// overflowing range, advice the mapping refuses (see the module
    /// docs); ENOMEM
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
        if range.is_empty() {
            return Ok(());
        }
        let bases = self.overlapping(range);
        let refused = bases.iter().any(|b| match self.grants[b].provider {
            Provider::PhysBorrowed { .. } | Provider::External { .. } => advice.refused_by_device(),
            Provider::Allocated => false,
            _ => advice.private_anonymous_only(),
        });
        if refused {
            return Err(MmError::Inval);
        }
        if let Some(marks) = advice.fork_marks() {
            return self.mark_for_fork(frames, range, marks, tlb);
        }
        if !advice.drops() {
            return Ok(());
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

    /// Sets the fork marks of the grants in `range` (all mapped), cutting
    /// them at its ends. ENOMEM (nothing changed) if the cuts would pass
    /// the grant cap.
    fn mark_for_fork(
        &mut self,
        frames: &mut impl FrameStore,
        range: PageRange,
        (dont_fork, wipe_on_fork): (Option<bool>, Option<bool>),
        tlb: &mut Shootdown,
    ) -> Result<(), MmError> {
        self.check_split_room(range)?;
        let mut tx = Txn::new(self, frames, tlb, Mode::Infallible);
        tx.change_grants(range, |_, grant| {
            grant.dont_fork = dont_fork.unwrap_or(grant.dont_fork);
            grant.wipe_on_fork = wipe_on_fork.unwrap_or(grant.wipe_on_fork);
        });
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
