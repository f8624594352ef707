//! Page faults: demand zero, the zero frame for reads, copy-on-write, shared
//! object pages, re-mapping pages whose PTE was dropped, and stack growth.
//! MAP_POPULATE and eager providers resolve their pages with the same code.
//!
//! Stack growth: a grant mapped with `grows_down` extends downward when a
//! fault hits the free pages just below it, to the faulting page, as long
//! as (1) the grown grant stays within `stack_max_pages`, (2) at least
//! `stack_guard_pages` free pages remain between it and the grant below
//! (a fault inside that guard gap is SIGSEGV), (3) it stays above
//! `min_addr`, and (4) the address-space cap allows it. The growth and the
//! fault are one transaction.

use rmm::{LeafEdit, PageFlags, PhysAddr, VirtAddr};

use crate::FaultError;
use crate::file::FileRef;
use crate::grant::{Grant, Prot};
use crate::page::{Page, PageRange};
use crate::provider::Provider;
use crate::shootdown::Shootdown;
use crate::space::AddrSpace;
use crate::traits::{FrameStore, PageTable};
use crate::txn::{Mode, Txn};

/// The kind of access that faulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A load.
    Read,
    /// A store.
    Write,
    /// An instruction fetch.
    Exec,
}

impl Access {
    /// Whether a grant with `prot` allows the access.
    pub fn allowed_by(self, prot: Prot) -> bool {
        match self {
            Self::Read => prot.is_accessible(),
            Self::Write => prot.contains(Prot::WRITE),
            Self::Exec => prot.contains(Prot::EXEC),
        }
    }

    fn satisfied_by(self, flags: rmm::PageFlags) -> bool {
        match self {
            Self::Read => true,
            Self::Write => flags.is_writable(),
            Self::Exec => flags.is_executable(),
        }
    }
}

impl<P: PageTable> AddrSpace<P> {
    /// Resolves a fault at `addr`. `Ok` means the page is now mapped with
    /// the rights `access` needs (or already was: a spurious fault from a
    /// stale TLB entry; the kernel should invalidate the local entry for
    /// `addr` before returning to the faulting code). A copy-on-write fault
    /// replaces a PTE: its flush and the old frame's release are in `tlb`.
    ///
    /// Errors (nothing changed): `Segv` when no grant allows the access
    /// (including the stack guard gap), `Bus` past the end of a memory
    /// object, `OutOfMemory` when a frame or page-table page is lacking.
    ///
    /// A write continuing a run of written private anonymous pages also
    /// fills the rest of its block ([`crate::WRITE_AROUND_PAGES`],
    /// `write_around.rs`); [`Self::fault_exact`] does not.
    pub fn fault(
        &mut self,
        frames: &mut impl FrameStore,
        addr: VirtAddr,
        access: Access,
        tlb: &mut Shootdown,
    ) -> Result<(), FaultError> {
        self.fault_exact(frames, addr, access, tlb)?;
        self.write_around(frames, Page::containing(addr), access, tlb);
        Ok(())
    }

    /// MADV_POPULATE_*: [`Self::fault_exact`] of each of the `pages` pages
    /// from `start`, in address order, in one call (one lock and one
    /// shootdown for the kernel, not one per page). Each page is its own
    /// transaction, so a failure leaves the pages before it populated, as
    /// Linux: `Err((pages done, the failing page's error))`. A page that
    /// waits for its lender is [`FaultError::FilePage`]: the caller fetches
    /// it and calls again from there.
    ///
    /// A write populate first raises, in one pass over their leaf tables,
    /// the pages a write fault would only raise ([`Self::raise_for_write`]);
    /// each other page is a fault of its own.
    pub fn populate(
        &mut self,
        frames: &mut impl FrameStore,
        start: Page,
        pages: u64,
        access: Access,
        tlb: &mut Shootdown,
    ) -> Result<(), (u64, FaultError)> {
        let mut done = 0;
        while done < pages {
            if access == Access::Write {
                done += self.raise_for_write(frames, start.add(done), pages - done);
                if done == pages {
                    break;
                }
            }
            self.fault_exact(frames, start.add(done).start(), access, tlb).map_err(|e| (done, e))?;
            done += 1;
        }
        Ok(())
    }

    /// Makes writable the run of up to `pages` pages from `start` that a
    /// write fault would only raise — as `private_fault` does for a present
    /// private frame with no other reference and no MADV_FREE mark, in a
    /// writable grant of private memory, with no guard marker — in one pass
    /// over the leaf tables. Pages already writable are passed over.
    /// Returns how many pages from `start` on are writable now: the run
    /// ends at the first page that needs a real fault (no PTE, the zero
    /// frame, a frame shared with a fork or a borrower, a mark, another
    /// grant). Adds rights only: nothing to flush, nothing to undo.
    fn raise_for_write(&mut self, frames: &impl FrameStore, start: Page, pages: u64) -> u64 {
        let Some(grant) = self.grant_containing(start) else { return 0 };
        if !matches!(grant.provider, Provider::Allocated) || !grant.prot.contains(Prot::WRITE) {
            return 0;
        }
        let flags = grant.pte_flags(true);
        let mut end = start.add(pages).min(grant.end());
        for marks in [&self.guards, &self.freeable] {
            if let Some(&marked) = marks.range(start..end).next() {
                end = marked;
            }
        }
        let zero = frames.zero_frame();
        let (mut next, mut stopped) = (start, false);
        self.table.edit_mapped(start.start(), end.start(), &mut |addr, frame, old| {
            let page = Page::containing(addr);
            // A page without a PTE ends the run (the walk skips it).
            stopped |= page != next;
            if stopped || (!old.is_writable() && (frame == zero || frames.refcount(frame) != 1)) {
                stopped = true;
                return LeafEdit::Keep;
            }
            next = page.add(1);
            if old.is_writable() { LeafEdit::Keep } else { LeafEdit::Protect(flags) }
        });
        start.pages_until(next)
    }

    /// [`Self::fault`] of exactly the page at `addr` (MADV_POPULATE_*,
    /// which populates the range asked and no more).
    pub fn fault_exact(
        &mut self,
        frames: &mut impl FrameStore,
        addr: VirtAddr,
        access: Access,
        tlb: &mut Shootdown,
    ) -> Result<(), FaultError> {
        let page = Page::containing(addr);
        if !self.config.user_range().contains(page) {
            return Err(FaultError::Segv);
        }
        let mut tx = Txn::new(self, frames, tlb, Mode::Undoable);
        if tx.space.grant_containing(page).is_none() {
            grow_stack(&mut tx, page, access)?;
        }
        resolve(&mut tx, page, access)?;
        tx.commit();
        Ok(())
    }
}

/// Extends the grows-down grant just above `page` down to it.
fn grow_stack<P: PageTable, F: FrameStore>(
    tx: &mut Txn<'_, P, F>,
    page: Page,
    access: Access,
) -> Result<(), FaultError> {
    let space = &*tx.space;
    let Some((&base, stack)) = space.grants.range(page..).next() else { return Err(FaultError::Segv) };
    if !stack.grows_down || !access.allowed_by(stack.prot) {
        return Err(FaultError::Segv);
    }
    let growth = page.pages_until(base);
    let guard_ok = match space.grants.range(..page).next_back() {
        Some((_, below)) => below.end().add(space.config.stack_guard_pages) <= page,
        None => true,
    };
    let ok = guard_ok
        && stack.pages + growth <= space.config.stack_max_pages
        && space.config.user_range().contains(page)
        && space.check_cap(growth, 0).is_ok();
    if !ok {
        return Err(FaultError::Segv);
    }
    let Some(mut grown) = tx.take_grant(base) else { return Err(FaultError::Segv) };
    grown.base = page;
    grown.pages += growth;
    tx.insert_grant(grown);
    Ok(())
}

/// Makes `page` (inside a grant) mapped with the rights `access` needs.
/// Shared by faults, MAP_POPULATE and eager providers.
pub(crate) fn resolve<P: PageTable, F: FrameStore>(
    tx: &mut Txn<'_, P, F>,
    page: Page,
    access: Access,
) -> Result<(), FaultError> {
    let Some(grant) = tx.space.grant_containing(page).cloned() else { return Err(FaultError::Segv) };
    if !access.allowed_by(grant.prot) || tx.space.guards.contains(&page) {
        return Err(FaultError::Segv);
    }
    let present = tx.space.table.translate(page.start());
    if present.is_some_and(|(_, flags)| access.satisfied_by(flags)) {
        return Ok(());
    }
    let slot = tx.space.slots.get(page);
    match &grant.provider {
        Provider::Allocated => private_fault(tx, &grant, page, access, slot, present),
        Provider::AllocatedShared { object, offset_pages } => {
            if let Some(frame) = slot {
                // Our PTE reference exists; only the flags lag behind.
                return map_or_protect(tx, page, frame, grant.pte_flags(true), present);
            }
            let index = Provider::object_index(*offset_pages, grant.base, page);
            if index >= object.size_pages() {
                return Err(FaultError::Bus);
            }
            let frame = tx.object_page(object, index).ok_or(FaultError::OutOfMemory)?;
            tx.insert_slot(page, frame);
            tx.map_pte(page, frame, grant.pte_flags(true)).map_err(|_| FaultError::OutOfMemory)
        }
        Provider::PhysBorrowed { phys, .. } => {
            let frame = phys.add(grant.base.pages_until(page) * rmm::PAGE_SIZE);
            map_or_protect(tx, page, frame, grant.pte_flags(true), present)
        }
        Provider::External { .. } => match slot {
            Some(frame) => map_or_protect(tx, page, frame, grant.pte_flags(true), present),
            None => Err(FaultError::Bus),
        },
        Provider::FmapBorrowed { file, offset_pages } => {
            if !file.lends(offset_pages + grant.base.pages_until(page)) {
                return Err(FaultError::Bus);
            }
            match slot {
                Some(frame) if file.is_shared() => map_or_protect(tx, page, frame, grant.pte_flags(true), present),
                Some(_) => private_fault(tx, &grant, page, access, slot, present),
                // The kernel fetches it from the lender.
                None => Err(FaultError::FilePage),
            }
        }
    }
}

/// The most pages one file fault maps (the faulting one and its
/// neighbours), aligned: Linux's default `fault_around_bytes`, 64 KiB.
pub const FAULT_AROUND_PAGES: u64 = 16;

/// The most pages a file fault that continues a run maps: the rest of the
/// faulting page's leaf table (2 MiB, aligned), as readahead grows its
/// window for a sequential reader ([`AddrSpace::fault_around`]).
pub const FAULT_AHEAD_PAGES: u64 = 512;

/// Of a grant mapping a file: the file page its base shows and the flags
/// a read fault gives its PTEs (`None`: not accessible).
type FileGrant = (u64, Option<PageFlags>);

/// The neighbours a fault on a file page may map with it ([`AddrSpace::fault_around`]):
/// `pages` pages from `start`, showing file pages `first_index..` of `file`
/// in order. The faulting page itself is inside.
#[derive(Clone, Debug)]
pub struct FaultAround {
    /// The lease.
    pub file: FileRef,
    /// The window's first page.
    pub start: Page,
    /// The file page `start` shows.
    pub first_index: u64,
    /// The window's length in pages (at most [`FAULT_AHEAD_PAGES`]).
    pub pages: u64,
}

impl FaultAround {
    /// The address and file page index of each page of the window.
    pub fn pages(&self) -> impl Iterator<Item = (VirtAddr, u64)> + '_ {
        (0..self.pages).map(|i| (self.start.add(i).start(), self.first_index + i))
    }
}

/// PTEs [`AddrSpace::supply_file_pages`] maps in one call of
/// `PageTable::map_pages` (on the kernel stack: 24 bytes each).
const SUPPLY_MAP_BATCH: usize = 64;

impl<P: PageTable> AddrSpace<P> {
    /// Fault-around: the window of pages a fault on the file page wanted at
    /// `addr` may map at once — the [`FAULT_AROUND_PAGES`]-aligned block of
    /// addresses around it, clipped to its grant (one mapping, one set of
    /// rights: Linux clips to the VMA) and to the pages the lease lends.
    /// `None` when `addr` waits for no file page or the grant is not
    /// accessible. Which of these pages the lender can give without work
    /// (already resident) is the kernel's question; pages that already
    /// have a frame or carry a guard marker are skipped when supplied
    /// ([`Self::supply_file_pages`]).
    ///
    /// A fault that continues a run — the page before it, in the same
    /// grant, has its frame — is a sequential reader's: its window is the
    /// faulting page to the end of its [`FAULT_AHEAD_PAGES`]-aligned block
    /// (the rest of its leaf table), clipped the same way, so a read
    /// through a file takes a few faults, not one per 16 pages.
    pub fn fault_around(&self, addr: VirtAddr) -> Option<FaultAround> {
        let page = Page::containing(addr);
        let (file, index) = self.file_page_wanted(addr)?;
        let grant = self.grant_containing(page)?;
        if !grant.prot.is_accessible() || !file.lends(index) {
            return None;
        }
        let run = page > grant.base && self.slots.contains(Page::from_number(page.number() - 1));
        let (block, size) = if run {
            (page.number(), FAULT_AHEAD_PAGES - page.number() % FAULT_AHEAD_PAGES)
        } else {
            (page.number() - page.number() % FAULT_AROUND_PAGES, FAULT_AROUND_PAGES)
        };
        // The grant's pages, then the lease's: file page `index - k` is at
        // `page - k`, so both clip the same window.
        let lease_first = file.first_page();
        let lease_end = lease_first.saturating_add(file.pages());
        let below = (page.number() - block).min(page.number() - grant.base.number()).min(index - lease_first);
        let above = (block + size - page.number()).min(grant.end().number() - page.number()).min(lease_end - index);
        let start = Page::from_number(page.number() - below);
        Some(FaultAround { file, start, first_index: index - below, pages: below + above })
    }

    /// Hands in and maps fault-around pages: `pages` are (address, file
    /// page index, frame) for `file`, each frame one reference fetched
    /// after the lease's generation was `generation`, which this takes
    /// over. A page is used only if it still waits for exactly that file
    /// page (same lease, no frame yet, no guard marker) and the lender has
    /// taken nothing back since; it is mapped as a read fault maps it:
    /// private pages read-only (a later write copies), shared ones with
    /// the grant's rights (the lease already counts as written when its
    /// grant is writable: [`crate::FileMap::needs_sync`]). Unused
    /// references are dropped. New PTEs only: nothing to flush. Returns
    /// how many pages were used.
    pub fn supply_file_pages(
        &mut self,
        frames: &mut impl FrameStore,
        file: &FileRef,
        generation: u64,
        pages: &[(VirtAddr, u64, PhysAddr)],
    ) -> u64 {
        let mut used = 0;
        // The grant of the pages before, while they stay in it: its range
        // and, if it maps `file`, the file page its base shows and the
        // PTE flags (`None`: not accessible).
        let mut grant_of: Option<(PageRange, Option<FileGrant>)> = None;
        // PTEs to make, mapped a batch at a time (`PageTable::map_pages`:
        // the kernel's table walks once per leaf table; the window lies in
        // one). A batch is in ascending order, as `map_pages` wants.
        let mut batch = [(VirtAddr::new(0), PhysAddr::new(0), PageFlags::new()); SUPPLY_MAP_BATCH];
        let mut batched = 0;
        for &(addr, index, frame) in pages {
            let page = Page::containing(addr);
            if !grant_of.is_some_and(|(range, _)| range.contains(page)) {
                grant_of = self.grant_containing(page).map(|grant| {
                    let shows = match &grant.provider {
                        // Private: read-only (the lender holds a reference,
                        // so a write copies); shared: the grant's rights.
                        Provider::FmapBorrowed { file: f, offset_pages } if alloc::sync::Arc::ptr_eq(f, file) => {
                            Some((*offset_pages, grant.prot.is_accessible().then(|| grant.pte_flags(file.is_shared()))))
                        }
                        _ => None,
                    };
                    (grant.range(), shows)
                });
            }
            // What `file_page_wanted` and a read fault's `resolve` would
            // check and do, with one grant lookup per grant, one slot-map
            // descent and one table walk per page.
            let Some((range, Some((offset_pages, flags)))) = grant_of else {
                frames.put(frame);
                continue;
            };
            let wanted = offset_pages + range.start.pages_until(page) == index
                && !self.guards.contains(&page)
                && file.lends(index)
                && file.generation() == generation;
            if !wanted || self.slots.fill_vacant(page, || Some(frame)) != Some(true) {
                frames.put(frame);
                continue;
            }
            self.resident_pages += 1;
            used += 1;
            // No PTE yet (a borrowed page's PTE comes with its slot). A
            // page-table page lacking (the batch stops there) leaves slots
            // without a PTE: the next touch maps each. New PTEs only:
            // nothing to flush.
            if let Some(flags) = flags {
                if batched == batch.len() || (batched > 0 && batch[batched - 1].0 >= page.start()) {
                    let _ = self.table.map_pages(&batch[..batched]);
                    batched = 0;
                }
                batch[batched] = (page.start(), frame, flags);
                batched += 1;
            }
        }
        let _ = self.table.map_pages(&batch[..batched]);
        used
    }

    /// The file page a fault at `addr` waits for (after
    /// [`FaultError::FilePage`]): the lease and the file page index.
    pub fn file_page_wanted(&self, addr: VirtAddr) -> Option<(FileRef, u64)> {
        let page = Page::containing(addr);
        let grant = self.grant_containing(page)?;
        let Provider::FmapBorrowed { file, offset_pages } = &grant.provider else { return None };
        if self.slots.contains(page) || self.guards.contains(&page) {
            return None;
        }
        Some((file.clone(), offset_pages + grant.base.pages_until(page)))
    }

    /// Hands in `frame` (one reference, which this takes over) for file
    /// page `index` of `file`, wanted at `addr` and fetched after the
    /// lease's [`generation`](crate::FileMap::generation) was `generation`.
    /// Returns whether it was used; if the mapping changed meanwhile
    /// (unmapped, or the page was supplied by another thread) or the
    /// lender has taken pages back since (the frame may be the old one) the
    /// reference is dropped at once and the caller retries the fault, which
    /// sorts it out. Maps nothing: the retried fault does, with the rights
    /// the access needs.
    pub fn supply_file_page(
        &mut self,
        frames: &mut impl FrameStore,
        addr: VirtAddr,
        file: &FileRef,
        index: u64,
        generation: u64,
        frame: PhysAddr,
    ) -> bool {
        let wanted = self.file_page_wanted(addr);
        let current = file.generation() == generation;
        if current && wanted.is_some_and(|(f, i)| alloc::sync::Arc::ptr_eq(&f, file) && i == index) {
            self.insert_slot_raw(Page::containing(addr), frame);
            true
        } else {
            // Never mapped here: no TLB can hold it.
            frames.put(frame);
            false
        }
    }
}

fn map_or_protect<P: PageTable, F: FrameStore>(
    tx: &mut Txn<'_, P, F>,
    page: Page,
    frame: PhysAddr,
    flags: rmm::PageFlags,
    present: Option<(PhysAddr, rmm::PageFlags)>,
) -> Result<(), FaultError> {
    match present {
        Some((mapped, _)) if mapped == frame => {
            tx.protect_pte(page, flags);
            Ok(())
        }
        Some(_) => {
            // A PTE to the wrong frame would be a bug elsewhere; replace it
            // rather than leave it.
            debug_assert!(false, "PTE of {page:?} maps a frame its slot does not hold");
            tx.unmap_pte(page);
            tx.map_pte(page, frame, flags).map_err(|_| FaultError::OutOfMemory)
        }
        None => tx.map_pte(page, frame, flags).map_err(|_| FaultError::OutOfMemory),
    }
}

/// Private anonymous memory: zero frame, demand zero, copy-on-write.
fn private_fault<P: PageTable, F: FrameStore>(
    tx: &mut Txn<'_, P, F>,
    grant: &Grant,
    page: Page,
    access: Access,
    slot: Option<PhysAddr>,
    present: Option<(PhysAddr, rmm::PageFlags)>,
) -> Result<(), FaultError> {
    let zero = tx.frames.zero_frame();
    match (slot, access) {
        // Never written: the zero frame, read-only, with no slot (so reads
        // of any amount of untouched memory cost no kernel heap).
        (None, Access::Read | Access::Exec) => match present {
            Some((mapped, _)) if mapped == zero => {
                tx.protect_pte(page, grant.pte_flags(false));
                Ok(())
            }
            Some(_) => {
                debug_assert!(false, "PTE of {page:?} maps a frame with no slot");
                tx.unmap_pte(page);
                tx.map_zero_pte(page, grant.pte_flags(false)).map_err(|_| FaultError::OutOfMemory)
            }
            None => tx.map_zero_pte(page, grant.pte_flags(false)).map_err(|_| FaultError::OutOfMemory),
        },
        (None, Access::Write) => {
            let frame = tx.allocate().ok_or(FaultError::OutOfMemory)?;
            if present.is_some() {
                tx.unmap_pte(page);
            }
            tx.insert_slot(page, frame);
            tx.map_pte(page, frame, grant.pte_flags(true)).map_err(|_| FaultError::OutOfMemory)
        }
        (Some(frame), Access::Read | Access::Exec) => {
            // A page marked freeable stays read-only: its first write must
            // fault, to take the mark off.
            let exclusive = tx.frames.refcount(frame) == 1 && !tx.space.freeable.contains(&page);
            map_or_protect(tx, page, frame, grant.pte_flags(exclusive), present)
        }
        (Some(frame), Access::Write) => {
            // A write after MADV_FREE keeps the page (Linux: the page is
            // dirty again). Not undone by a rollback: the page then merely
            // stays, which MADV_FREE allows.
            tx.space.freeable.remove(&page);
            if tx.frames.refcount(frame) == 1 {
                // The other side of the copy-on-write already let go.
                return map_or_protect(tx, page, frame, grant.pte_flags(true), present);
            }
            let copy = tx.allocate_copy(frame).ok_or(FaultError::OutOfMemory)?;
            tx.unmap_pte(page);
            tx.remove_slot(page);
            tx.insert_slot(page, copy);
            tx.map_pte(page, copy, grant.pte_flags(true)).map_err(|_| FaultError::OutOfMemory)?;
            tx.defer_put(frame);
            Ok(())
        }
    }
}
