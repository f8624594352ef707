//! madvise and msync.
//!
//! MADV_DONTNEED really drops pages: private anonymous pages lose their
//! frames (the next read sees zeroes), shared-object pages only lose this
//! space's PTEs (the data stays in the object, as for Linux MAP_SHARED).
//! Device and borrowed memory refuse it (EINVAL, like Linux's VM_PFNMAP).
//! MADV_DONTNEED_LOCKED is the same (nothing is ever locked).
//!
//! MADV_FREE (private anonymous memory only, EINVAL elsewhere as Linux) is
//! lazy: the range's pages that have a frame are marked *freeable* and
//! their PTEs removed. An access maps the page again, read-only while it
//! is marked; a write (a fault, so no hardware dirty bit is needed on
//! either arch) takes the mark off and the page keeps its data. When a
//! frame allocation of the space fails, its freeable pages that have no
//! PTE are reclaimed at once (no TLB can hold them) and the allocation is
//! tried again ([`AddrSpace::reclaim_unmapped_freeable`]; the kernel also
//! reclaims other spaces' through it); [`AddrSpace::reclaim_freeable`]
//! reclaims all of them, flushing first. A reclaimed page reads as zero.
//! Marks live with the slot: munmap, DONTNEED, a CoW copy and mremap's
//! move drop them (the page then simply stays), a fork's child gets none.
//!
//! MADV_REMOVE punches a hole in shared memory: private mappings are
//! EINVAL (anonymous; Linux's "no file") or EACCES (files), device and
//! borrowed memory EINVAL; a shared file mapping is EACCES if the file is
//! not open for writing, else accepted here and left as it is: the kernel
//! then asks the filesystem scheme to punch the hole
//! ([`AddrSpace::file_ranges`]), and the scheme takes the pages back from
//! every mapping first (EOPNOTSUPP from a scheme that cannot). Shared
//! anonymous memory and `memory:` objects lose the range's pages here:
//! this space's PTEs go, and each object page is taken out of the object
//! and freed if nobody else maps it, or else zeroed in place (another
//! space or a lender still maps the frame), so every mapping of the object
//! reads zeroes there afterwards, as on Linux.
//!
//! MADV_POPULATE_READ / WRITE are validated here ([`Advice::populate`]:
//! EINVAL for PROT_NONE, for WRITE on a mapping that is not writable, and
//! for device and borrowed memory; ENOMEM for a hole) and the kernel then
//! faults the pages in one by one, as a read or a write (a file page
//! fetched from its lender; SIGBUS or a guard page is EFAULT, no frame
//! ENOMEM). MADV_WILLNEED is validated like the hints and the kernel
//! fetches the file pages of the range ahead of time (failures ignored, as
//! Linux's read-ahead); on anonymous memory it does nothing.
//!
//! MADV_GUARD_INSTALL / REMOVE (`guard.rs`) put guard markers in the range
//! without cutting the grant.
//!
//! MADV_DONTFORK / DOFORK and MADV_WIPEONFORK / KEEPONFORK mark the
//! grants for fork (`fork.rs`), cutting them at the range's ends;
//! Tessera's MADV_LEND_ASIDE / MADV_LEND_OPEN mark them the same way for
//! lending (a lender's pages the kernel takes for borrowers only after
//! asking the lender again: [`AddrSpace::lent_aside`]), on memory the
//! space owns (EINVAL on device, borrowed and file memory);
//! WIPEONFORK takes only private anonymous memory and DOFORK refuses device
//! memory (EINVAL, as Linux refuses VM_IO). The hints (NORMAL, RANDOM,
//! SEQUENTIAL, HUGEPAGE, NOHUGEPAGE, DONTDUMP, DODUMP, COLD, PAGEOUT)
//! change nothing; COLD, PAGEOUT and DODUMP refuse device and borrowed
//! memory as Linux refuses VM_PFNMAP. Every other value is EINVAL: those
//! Linux does not know, and those it knows that Tessera has not built,
//! answered as a Linux kernel without the feature answers (docs/mm.md
//! lists each).
//!
//! msync has nothing to write back for anonymous, device or borrowed
//! memory; it validates and succeeds. File mappings, which will need
//! write-back through their scheme, cannot exist yet.

use bitflags::bitflags;
use rmm::{PhysAddr, VirtAddr};

use crate::MmError;
use crate::file::FileRange;
use crate::page::{Page, PageRange, range_for};
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
    /// MADV_WILLNEED (3): the kernel fetches file pages ahead of time.
    WillNeed,
    /// MADV_DONTNEED (4), and MADV_DONTNEED_LOCKED (24): drop the pages
    /// (see the module docs).
    DontNeed,
    /// MADV_FREE (8): mark private anonymous pages freeable (see the
    /// module docs); EINVAL on any other mapping.
    Free,
    /// MADV_REMOVE (9): punch a hole in shared anonymous memory (see the
    /// module docs).
    Remove,
    /// MADV_POPULATE_READ (22): validated here, faulted in by the kernel.
    PopulateRead,
    /// MADV_POPULATE_WRITE (23): likewise, as writes.
    PopulateWrite,
    /// MADV_GUARD_INSTALL (102): guard markers (`guard.rs`).
    GuardInstall,
    /// MADV_GUARD_REMOVE (103): removes guard markers.
    GuardRemove,
    /// MADV_DONTFORK (10): fork leaves the range out of the child.
    DontFork,
    /// MADV_DOFORK (11): undoes DONTFORK; EINVAL on device memory.
    DoFork,
    /// MADV_WIPEONFORK (18): the child of a fork gets the range empty
    /// (zeroes); private anonymous memory only (EINVAL otherwise).
    WipeOnFork,
    /// MADV_KEEPONFORK (19): undoes WIPEONFORK.
    KeepOnFork,
    /// Tessera's MADV_LEND_ASIDE (0x1000): the kernel lends none of the
    /// range's pages to a borrower without asking this space again; PTEs
    /// and data stay. Memory the space owns only (EINVAL otherwise).
    LendAside,
    /// Tessera's MADV_LEND_OPEN (0x1001): undoes LEND_ASIDE.
    LendOpen,
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
    /// does not know, MADV_MERGEABLE / UNMERGEABLE (12, 13; Linux without
    /// KSM), MADV_HWPOISON / SOFT_OFFLINE (100, 101; privileged test
    /// hooks).
    pub const fn from_raw(raw: usize) -> Result<Self, MmError> {
        Ok(match raw {
            0 => Self::Normal,
            1 => Self::Random,
            2 => Self::Sequential,
            3 => Self::WillNeed,
            4 | 24 => Self::DontNeed,
            8 => Self::Free,
            9 => Self::Remove,
            22 => Self::PopulateRead,
            23 => Self::PopulateWrite,
            102 => Self::GuardInstall,
            103 => Self::GuardRemove,
            10 => Self::DontFork,
            11 => Self::DoFork,
            18 => Self::WipeOnFork,
            19 => Self::KeepOnFork,
            0x1000 => Self::LendAside,
            0x1001 => Self::LendOpen,
            14 => Self::HugePage,
            15 => Self::NoHugePage,
            16 => Self::DontDump,
            17 => Self::DoDump,
            20 => Self::Cold,
            21 => Self::PageOut,
            _ => return Err(MmError::Inval),
        })
    }

    /// Whether the kernel faults the range in after the call succeeded:
    /// `Some(write)` for MADV_POPULATE_READ / WRITE.
    pub const fn populate(self) -> Option<bool> {
        match self {
            Self::PopulateRead => Some(false),
            Self::PopulateWrite => Some(true),
            _ => None,
        }
    }

    /// Whether device and borrowed memory refuse it (EINVAL).
    const fn refused_by_device(self) -> bool {
        matches!(
            self,
            Self::DontNeed
                | Self::Free
                | Self::Remove
                | Self::DoDump
                | Self::Cold
                | Self::PageOut
                | Self::DoFork
                | Self::PopulateRead
                | Self::PopulateWrite
                | Self::GuardInstall
                | Self::LendAside
                | Self::LendOpen
        )
    }

    /// The grant marks it sets: which one (`Mark`) and to what.
    const fn grant_mark(self) -> Option<(Mark, bool)> {
        match self {
            Self::DontFork => Some((Mark::DontFork, true)),
            Self::DoFork => Some((Mark::DontFork, false)),
            Self::WipeOnFork => Some((Mark::WipeOnFork, true)),
            Self::KeepOnFork => Some((Mark::WipeOnFork, false)),
            Self::LendAside => Some((Mark::LendAside, true)),
            Self::LendOpen => Some((Mark::LendAside, false)),
            _ => None,
        }
    }
}

/// A per-grant mark an advice sets or clears.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mark {
    DontFork,
    WipeOnFork,
    LendAside,
}

impl Mark {
    fn set(self, grant: &mut crate::grant::Grant, on: bool) {
        match self {
            Mark::DontFork => grant.dont_fork = on,
            Mark::WipeOnFork => grant.wipe_on_fork = on,
            Mark::LendAside => grant.lend_aside = on,
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
        for base in &bases {
            self.refusal(&self.grants[base], advice)?;
        }
        if let Some((mark, on)) = advice.grant_mark() {
            return self.mark_grants(frames, range, mark, on, tlb);
        }
        match advice {
            Advice::GuardInstall => return self.install_guards(frames, range, tlb),
            Advice::GuardRemove => {
                self.remove_guards(range);
                return Ok(());
            }
            _ => {}
        }
        let mut tx = Txn::new(self, frames, tlb, Mode::Infallible);
        for base in bases {
            let grant = &tx.space.grants[&base];
            let (provider, part) = (grant.provider.clone(), grant.range().intersect(&range));
            match advice {
                Advice::DontNeed => release_pages(&mut tx, &provider, part, Release::All),
                Advice::Free => mark_freeable(&mut tx, part),
                Advice::Remove => punch_hole(&mut tx, &provider.advanced(base.pages_until(part.start)), part),
                _ => {}
            }
        }
        tx.commit();
        Ok(())
    }

    /// Why `grant` refuses `advice`, if it does (see the module docs).
    fn refusal(&self, grant: &crate::grant::Grant, advice: Advice) -> Result<(), MmError> {
        let device = matches!(grant.provider, Provider::PhysBorrowed { .. } | Provider::External { .. });
        if device {
            return if advice.refused_by_device() { Err(MmError::Inval) } else { Ok(()) };
        }
        let anonymous = matches!(grant.provider, Provider::Allocated);
        let owned = matches!(grant.provider, Provider::Allocated | Provider::AllocatedShared { .. });
        match advice {
            Advice::LendAside | Advice::LendOpen if !owned => Err(MmError::Inval),
            Advice::Free | Advice::WipeOnFork if !anonymous => Err(MmError::Inval),
            Advice::Remove => match &grant.provider {
                Provider::Allocated => Err(MmError::Inval),
                Provider::FmapBorrowed { file, .. } if !file.is_shared() || !file.allows(true) => Err(MmError::Access),
                _ => Ok(()),
            },
            Advice::PopulateRead if !grant.prot.is_accessible() => Err(MmError::Inval),
            Advice::PopulateWrite if !grant.prot.contains(crate::grant::Prot::WRITE) => Err(MmError::Inval),
            _ => Ok(()),
        }
    }

    /// Reclaims every freeable page (MADV_FREE) that has no PTE, freeing
    /// its frame reference at once: no TLB can cache a page without a PTE
    /// outside an operation (every operation flushes what it unmapped
    /// before it returns), so none needs a shootdown. Returns how many
    /// pages were reclaimed; they read as zero afterwards. Called by a
    /// failed frame allocation of this space's operations, and by the
    /// kernel for other spaces when frames run out.
    /// Allocates nothing (it runs when memory is short).
    pub fn reclaim_unmapped_freeable(&mut self, frames: &mut impl FrameStore) -> u64 {
        let mut reclaimed = 0;
        let mut cursor = Page::from_number(0);
        while let Some(&page) = self.freeable.range(cursor..).next() {
            cursor = page.add(1);
            if self.table.translate(page.start()).is_some() {
                continue;
            }
            if let Some(frame) = self.remove_slot_raw(page) {
                frames.put(frame);
                reclaimed += 1;
            }
        }
        reclaimed
    }

    /// Reclaims every freeable page (MADV_FREE), mapped or not: PTEs go
    /// through `tlb`, frames after its flush. Returns how many.
    pub fn reclaim_freeable(&mut self, frames: &mut impl FrameStore, tlb: &mut Shootdown) -> u64 {
        let pages: Vec<Page> = self.freeable.iter().copied().collect();
        let mut tx = Txn::new(self, frames, tlb, Mode::Infallible);
        for page in &pages {
            tx.unmap_pte(*page);
            if let Some(frame) = tx.remove_slot(*page) {
                tx.defer_put(frame);
            }
        }
        tx.commit();
        pages.len() as u64
    }

    /// Pages marked freeable by MADV_FREE and not reclaimed or written since.
    pub fn freeable_pages(&self) -> u64 {
        self.freeable.len() as u64
    }

    /// Pages with a frame in `[addr, addr + len_bytes)` (0 for a bad
    /// range): what MADV_FREE may mark, for the kernel's heap estimate.
    pub fn resident_in_range(&self, addr: VirtAddr, len_bytes: u64) -> u64 {
        range_for(addr, len_bytes).map_or(0, |range| self.resident_in(range))
    }

    /// Sets `mark` of the grants in `range` (all mapped) to `on`, cutting
    /// them at its ends (and joining what became alike). ENOMEM (nothing
    /// changed) if the cuts would pass the grant cap.
    fn mark_grants(
        &mut self,
        frames: &mut impl FrameStore,
        range: PageRange,
        mark: Mark,
        on: bool,
        tlb: &mut Shootdown,
    ) -> Result<(), MmError> {
        self.check_split_room(range)?;
        let mut tx = Txn::new(self, frames, tlb, Mode::Infallible);
        tx.change_grants(range, |_, grant| mark.set(grant, on));
        tx.commit();
        Ok(())
    }

    /// Whether a page of `[addr, addr + pages pages)` lies in a grant set
    /// aside for lending (MADV_LEND_ASIDE): the kernel then asks the
    /// lender again instead of taking the page for a borrower. Unmapped
    /// pages are not set aside.
    pub fn lent_aside(&self, addr: VirtAddr, pages: u64) -> bool {
        let start = Page::containing(addr);
        let range = PageRange::new(start, Page::from_number(start.number().saturating_add(pages)));
        self.grants_in(range).any(|grant| grant.lend_aside)
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

/// MADV_FREE of `range` (inside a private anonymous grant): marks the
/// pages that have a frame freeable and removes their PTEs.
fn mark_freeable<P: PageTable, F: FrameStore>(tx: &mut Txn<'_, P, F>, range: PageRange) {
    let pages: Vec<Page> = tx.space.slots.range(range).map(|(page, _)| page).collect();
    for page in pages {
        tx.unmap_pte(page);
        tx.space.freeable.insert(page);
    }
}

/// MADV_REMOVE of `range` (inside one shared grant; `provider` is the
/// grant's advanced to the range's first page): this space's PTEs
/// go, then each object page of the range leaves the object and is freed
/// if only the object and this space held it, or is zeroed in place.
fn punch_hole<P: PageTable, F: FrameStore>(tx: &mut Txn<'_, P, F>, provider: &Provider, range: PageRange) {
    let Provider::AllocatedShared { object, offset_pages } = provider else { return };
    let ours: Vec<PhysAddr> = tx.space.slots.range(range).map(|(_, frame)| frame).collect();
    release_pages(tx, provider, range, Release::All);
    let first = *offset_pages;
    for (index, frame) in object.pages_in(first, first + range.pages()) {
        // Our references are deferred, so still counted.
        let held_here = ours.iter().filter(|f| **f == frame).count();
        let frames = &*tx.frames;
        match object.remove_page_if(index, |f| frames.refcount(f) == 1 + held_here) {
            Some(frame) => tx.defer_put(frame),
            None => {
                let zero = tx.frames.zero_frame();
                tx.frames.copy(zero, frame);
            }
        }
    }
}
