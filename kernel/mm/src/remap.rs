//! mremap: shrink in place, grow in place, or move (PTEs and frames move;
//! nothing is copied), with Linux's MAYMOVE / FIXED / DONTUNMAP.
//!
//! The old range must lie inside one grant (EFAULT otherwise, as on Linux).
//! Growth extends the grant's provider: private anonymous memory gains
//! demand-zero pages, a shared object mapping maps further into the object
//! (pages past the object's size fault with SIGBUS, like Linux's shmem).
//! Device and borrowed memory cannot grow (EFAULT) nor use DONTUNMAP
//! (EINVAL). File mappings shrink and move as the others (pins and frames
//! move along); with DONTUNMAP the old range stays a mapping of the same
//! file pages, empty (fetched again on touch), and the new one pins the
//! pages once more (Linux ≥ 5.13); growing one needs the
//! scheme to lend the added pages, which this crate cannot ask for:
//! [`AddrSpace::mremap`] says EOPNOTSUPP, the kernel asks the scheme for
//! the pages [`AddrSpace::file_growth`] names, then calls mremap again
//! with the answer (`growth`), which extends the lease
//! ([`crate::FileMap`]) when, and only when, the mremap succeeds. With
//! DONTUNMAP the old range stays mapped but empty: private memory reads
//! back zeroes, a shared mapping refaults the object's pages.
//! `old_len == 0` with MAYMOVE on a shared mapping maps the same object
//! pages a second time.

use bitflags::bitflags;
use rmm::VirtAddr;

use crate::MmError;
use crate::file::{FileRef, FileRelease};
use crate::grant::Grant;
use crate::map::{MapFlags, MapSource, MmapRequest};
use crate::page::{Page, PageRange, pages_for};
use crate::provider::Provider;
use crate::shootdown::Shootdown;
use crate::space::AddrSpace;
use crate::traits::{FrameStore, PageTable};
use crate::txn::{Mode, Txn};
use crate::unmap::remove_range;

bitflags! {
    /// mremap flags (Linux's values).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct RemapFlags: u32 {
        /// The mapping may move if it cannot grow in place.
        const MAYMOVE = 1;
        /// Move to exactly `new_addr`, replacing what is there (needs MAYMOVE).
        const FIXED = 2;
        /// Leave the old range mapped but empty (needs MAYMOVE and equal
        /// lengths).
        const DONTUNMAP = 4;
    }
}

/// An mremap's arguments.
#[derive(Clone, Copy)]
struct Remap<'a> {
    old_addr: VirtAddr,
    old_len_bytes: u64,
    new_len_bytes: u64,
    flags: RemapFlags,
    new_addr: VirtAddr,
    growth: Option<&'a FileGrowth>,
}

/// File pages a growing file mapping needs lent: `[first_page, end_page)`
/// of `file`, at `lender_base` in the lender once the scheme lent them.
#[derive(Clone, Debug)]
pub struct FileGrowth {
    /// The lease of the mapping that grows.
    pub file: FileRef,
    /// The first file page added.
    pub first_page: u64,
    /// The file page after the last one added.
    pub end_page: u64,
    /// Where the lender has `first_page` (0 until the scheme answered).
    pub lender_base: u64,
}

impl<P: PageTable> AddrSpace<P> {
    /// The file pages an mremap of `[old_addr, old_addr + old_len_bytes)`
    /// to `new_len_bytes` would add to a file mapping (after
    /// [`Self::mremap`] without `growth` said EOPNOTSUPP for it); `None`
    /// if it adds none.
    pub fn file_growth(&self, old_addr: VirtAddr, old_len_bytes: u64, new_len_bytes: u64) -> Option<FileGrowth> {
        let start = Page::at(old_addr)?;
        let (old_pages, new_pages) = (pages_for(old_len_bytes).ok()?, pages_for(new_len_bytes).ok()?);
        let grant = self.grant_containing(start)?;
        let Provider::FmapBorrowed { file, offset_pages } = &grant.provider else { return None };
        let first_page = Provider::object_index(*offset_pages, grant.base, start).checked_add(old_pages)?;
        let end_page = first_page.checked_add(new_pages.checked_sub(old_pages).filter(|n| *n > 0)?)?;
        Some(FileGrowth { file: file.clone(), first_page, end_page, lender_base: 0 })
    }

    /// Resizes and/or moves the mapping at `[old_addr, old_addr + old_len)`
    /// and returns its new address.
    ///
    /// Errors (nothing changed):
    /// - EINVAL: misaligned `old_addr` (or `new_addr` with FIXED); zero
    ///   `new_len`; overflowing lengths; FIXED or DONTUNMAP without MAYMOVE;
    ///   DONTUNMAP with different lengths or on device / borrowed memory;
    ///   a FIXED target outside the user range or overlapping the old range;
    ///   `old_len == 0` on anything but a shared mapping with MAYMOVE.
    /// - EFAULT: the old range is not inside one mapping; growing device or
    ///   borrowed memory.
    /// - ENOMEM: cannot grow in place and no MAYMOVE; no free range; the
    ///   cap; frames or page-table pages ran out while moving PTEs.
    /// - EOPNOTSUPP: growing a file mapping without `growth`, or with one
    ///   that is not what [`Self::file_growth`] names now (the mapping
    ///   changed: the caller asks again).
    ///
    /// A file mapping grows by the pages of `growth`, which the scheme
    /// has lent: on success the lease is extended with them
    /// ([`crate::FileMap`]); pages of it that other grants still pinned
    /// come back from `tlb`'s finish as releases (the scheme lent them
    /// twice). On any error nothing changed and the caller hands the lent
    /// pages back.
    #[allow(clippy::too_many_arguments)]
    pub fn mremap(
        &mut self,
        frames: &mut impl FrameStore,
        old_addr: VirtAddr,
        old_len_bytes: u64,
        new_len_bytes: u64,
        flags: RemapFlags,
        new_addr: VirtAddr,
        growth: Option<&FileGrowth>,
        tlb: &mut Shootdown,
    ) -> Result<VirtAddr, MmError> {
        let request = Remap { old_addr, old_len_bytes, new_len_bytes, flags, new_addr, growth };
        let Some(growth) = growth else { return self.remap(frames, &request, tlb) };
        let wanted = self.file_growth(old_addr, old_len_bytes, new_len_bytes).ok_or(MmError::Unsupported)?;
        let same = alloc::sync::Arc::ptr_eq(&wanted.file, &growth.file)
            && (wanted.first_page, wanted.end_page) == (growth.first_page, growth.end_page);
        if !same {
            return Err(MmError::Unsupported);
        }
        let moved = self.remap(frames, &request, tlb)?;
        let needs_sync = growth.file.needs_sync();
        for (start, end) in growth.file.extend(growth.first_page, growth.end_page, growth.lender_base) {
            tlb.hand_back(FileRelease { file: growth.file.clone(), first_page: start, pages: end - start, needs_sync });
        }
        Ok(moved)
    }

    /// The work of [`Self::mremap`], all but extending the lease.
    fn remap(
        &mut self,
        frames: &mut impl FrameStore,
        request: &Remap<'_>,
        tlb: &mut Shootdown,
    ) -> Result<VirtAddr, MmError> {
        let Remap { old_addr, old_len_bytes, new_len_bytes, flags, new_addr, growth } = *request;
        let old_start = Page::at(old_addr).ok_or(MmError::Inval)?;
        let (old_pages, new_pages) = (pages_for(old_len_bytes)?, pages_for(new_len_bytes)?);
        let may_move = flags.contains(RemapFlags::MAYMOVE);
        let fixed = flags.contains(RemapFlags::FIXED);
        let dont_unmap = flags.contains(RemapFlags::DONTUNMAP);
        if new_pages == 0 || ((fixed || dont_unmap) && !may_move) || (dont_unmap && old_pages != new_pages) {
            return Err(MmError::Inval);
        }
        let user = self.config.user_range();
        if new_pages > user.pages() {
            return Err(if fixed { MmError::Inval } else { MmError::NoMem });
        }
        let target = if fixed {
            let start = Page::at(new_addr).ok_or(MmError::Inval)?;
            if new_pages > user.pages() || !user.covers(&PageRange::from_len(start, new_pages)) {
                return Err(MmError::Inval);
            }
            Some(PageRange::from_len(start, new_pages))
        } else {
            None
        };
        if old_start.number().checked_add(old_pages).is_none() {
            return Err(MmError::Inval);
        }
        let old = PageRange::from_len(old_start, old_pages);
        if target.is_some_and(|t| t.overlaps(&PageRange::from_len(old_start, old_pages.max(1)))) {
            return Err(MmError::Inval);
        }
        let grant = self.grant_containing(old_start).ok_or(MmError::Fault)?;
        if !grant.range().covers(&old) {
            return Err(MmError::Fault);
        }
        if old_pages == 0 {
            return self.duplicate(frames, old_start, new_pages, flags, new_addr, tlb);
        }
        let fixed_size = matches!(grant.provider, Provider::PhysBorrowed { .. } | Provider::External { .. });
        let file = matches!(grant.provider, Provider::FmapBorrowed { .. });
        if fixed_size && new_pages > old_pages {
            return Err(MmError::Fault);
        }
        if file && new_pages > old_pages && growth.is_none() {
            // The scheme must lend the added pages first.
            return Err(MmError::Unsupported);
        }
        if fixed_size && dont_unmap {
            return Err(MmError::Inval);
        }

        if target.is_none() && !dont_unmap {
            if new_pages <= old_pages {
                // Shrink (or keep) in place.
                let dropped = PageRange::new(old.start.add(new_pages), old.end);
                self.check_split_room(dropped)?;
                let mut tx = Txn::new(self, frames, tlb, Mode::Infallible);
                remove_range(&mut tx, dropped);
                tx.commit();
                return Ok(old_addr);
            }
            let grown = PageRange::new(old.end, old.start.add(new_pages));
            let in_place = old.end == grant.end() && user.covers(&grown) && self.is_free(grown);
            if in_place {
                self.check_cap(grown.pages(), 0)?;
                let mut tx = Txn::new(self, frames, tlb, Mode::Undoable);
                let base = tx.space.grant_containing(old.start).map(|g| g.base).ok_or(MmError::Fault)?;
                let mut extended = tx.take_grant(base).ok_or(MmError::Fault)?;
                extended.pages += grown.pages();
                tx.insert_grant(extended);
                tx.merge_at(grown.end);
                tx.commit();
                return Ok(old_addr);
            }
            if !may_move {
                return Err(MmError::NoMem);
            }
        }
        let target = match target {
            Some(target) => target,
            None => self.place(VirtAddr::new(0), new_pages)?,
        };
        let replaced = if fixed { self.mapped_in(target) } else { 0 };
        let kept_old = if dont_unmap { old_pages } else { 0 };
        self.check_cap(new_pages + kept_old, old_pages + replaced)?;

        let mut tx = Txn::new(self, frames, tlb, Mode::Undoable);
        remove_range(&mut tx, target);
        let moved = PageRange::from_len(old.start, old_pages.min(new_pages));
        remove_range(&mut tx, PageRange::new(moved.end, old.end));
        tx.split_at(moved.start);
        tx.split_at(moved.end);
        let old_grant = tx.take_grant(moved.start).ok_or(MmError::Fault)?;
        let new_grant = Grant { base: target.start, pages: new_pages, ..old_grant.clone() };
        tx.insert_grant(new_grant);
        move_pages(&mut tx, &old_grant.provider, moved, target.start)?;
        // With DONTUNMAP a file mapping is mapped twice from now on: the
        // new grant pins its pages too, once the call has succeeded.
        let mut pin = None;
        if dont_unmap {
            if let Provider::FmapBorrowed { file, offset_pages } = &old_grant.provider {
                pin = Some((file.clone(), *offset_pages, offset_pages + old_grant.pages));
            }
            tx.insert_grant(old_grant);
            tx.merge_at(moved.start);
            tx.merge_at(moved.end);
        } else {
            tx.discard_grant(old_grant);
        }
        tx.merge_at(target.start);
        tx.merge_at(target.end);
        tx.commit_within_limits()?;
        if let Some((file, start, end)) = pin {
            file.pin(start, end);
        }
        Ok(target.start.start())
    }

    /// `old_len == 0`: a second mapping of a shared object's pages.
    fn duplicate(
        &mut self,
        frames: &mut impl FrameStore,
        old_start: Page,
        new_pages: u64,
        flags: RemapFlags,
        new_addr: VirtAddr,
        tlb: &mut Shootdown,
    ) -> Result<VirtAddr, MmError> {
        let grant = self.grant_containing(old_start).ok_or(MmError::Fault)?;
        let Provider::AllocatedShared { object, offset_pages } = &grant.provider else { return Err(MmError::Inval) };
        if !flags.contains(RemapFlags::MAYMOVE) || flags.contains(RemapFlags::DONTUNMAP) {
            return Err(MmError::Inval);
        }
        let offset = Provider::object_index(*offset_pages, grant.base, old_start);
        let fixed = if flags.contains(RemapFlags::FIXED) { MapFlags::FIXED } else { MapFlags::empty() };
        let request = MmapRequest {
            addr: if fixed.is_empty() { VirtAddr::new(0) } else { new_addr },
            len_bytes: new_pages * rmm::PAGE_SIZE,
            prot: grant.prot,
            flags: MapFlags::SHARED | fixed,
            source: MapSource::Object { object: object.clone(), offset_bytes: offset * rmm::PAGE_SIZE },
        };
        self.mmap(frames, &request, tlb)
    }
}

/// Moves the slots and present PTEs of `from` to the same offsets from `to`.
fn move_pages<P: PageTable, F: FrameStore>(
    tx: &mut Txn<'_, P, F>,
    provider: &Provider,
    from: PageRange,
    to: Page,
) -> Result<(), MmError> {
    let destination = |page: Page| to.add(from.start.pages_until(page));
    crate::guard::move_guards(tx, from, to);
    if let Provider::PhysBorrowed { .. } = provider {
        let ptes: alloc::vec::Vec<_> = core::iter::successors(tx.space.next_pte(from.start, from.end), |(page, ..)| {
            tx.space.next_pte(page.add(1), from.end)
        })
        .collect();
        for (page, ..) in ptes {
            if let Some((frame, flags)) = tx.unmap_pte(page) {
                tx.map_pte(destination(page), frame, flags)?;
            }
        }
        return Ok(());
    }
    let slots: alloc::vec::Vec<_> = tx.space.slots.range(from).collect();
    for (page, frame) in slots {
        let pte = tx.unmap_pte(page);
        tx.remove_slot(page);
        tx.insert_slot(destination(page), frame);
        if let Some((mapped, flags)) = pte {
            tx.map_pte(destination(page), mapped, flags)?;
        }
    }
    // What is left are zero-frame PTEs (no slot): the moved pages read as
    // zero at the destination without them.
    tx.unmap_ptes(from);
    Ok(())
}
