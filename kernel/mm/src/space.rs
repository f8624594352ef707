//! The address space: a page table, the grants, the free-range index, and
//! the per-page *slots* that say which frames this space holds references
//! to (one reference per slot). A page that reads as zero because it was
//! never written has no slot: at most a read-only PTE to the zero frame,
//! which holds no reference and costs no kernel heap. Construction, queries, listing and teardown live here; each
//! operation has its own file.
//!
//! Invariants (checked after every step by the tests):
//! - grants do not overlap, lie in `[min_addr, user_end)`, and no two
//!   adjacent grants could be merged (the layout is canonical, so a
//!   rolled-back operation restores it exactly);
//! - the gap index is the complement of the grants;
//! - a present PTE always agrees with the grant and slot (right frame, never
//!   more rights than the protection; a private frame is writable only if
//!   its reference count is 1); a PTE without a slot maps the zero frame,
//!   read-only, in a private anonymous grant. A PTE may be *absent* for a page that has a
//!   frame (after PROT_NONE was lifted, or for a shared page not touched
//!   here yet): the next access maps it, cheaply.

use alloc::collections::BTreeSet;
use alloc::vec::Vec;

use rmm::{PAGE_SIZE, PageFlags, PhysAddr, VirtAddr};

use crate::MmError;
use crate::file::{FileRelease, Unpin};
use crate::gaps::Gaps;
use crate::grant::{Grant, GrantInfo};
use crate::grant_map::GrantMap;
use crate::page::{Page, PageRange};
use crate::provider::{MemObject, Provider, ProviderKind};
use crate::slots::SlotMap;
use crate::traits::{FrameStore, PageTable};
use crate::txn::SpareLog;

/// Linux's default `vm.max_map_count`.
pub const DEFAULT_MAX_GRANTS: u64 = 65_530;

/// Limits and policy of one address space.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpaceConfig {
    /// Lowest mappable address (page aligned, at least one page): like
    /// Linux's `mmap_min_addr`, so a NULL dereference (plus a small offset)
    /// always faults. Default 64 KiB.
    pub min_addr: VirtAddr,
    /// One past the highest mappable address (the kernel's `USER_END`).
    pub user_end: VirtAddr,
    /// RLIMIT_AS-like cap on mapped pages (`None` = unlimited): mmap, mremap
    /// and stack growth past it fail with ENOMEM (SIGSEGV for growth).
    pub max_mapped_pages: Option<u64>,
    /// RLIMIT_STACK-like cap on the size a grows-down grant may reach.
    /// Default 8 MiB.
    pub stack_max_pages: u64,
    /// Free pages a grows-down grant keeps between itself and the grant
    /// below (at least 1). Default 256 (1 MiB, Linux's `stack_guard_gap`).
    pub stack_guard_pages: u64,
    /// The most grants (mappings) the space may hold, like Linux's
    /// `vm.max_map_count` (default 65,530): each grant costs kernel heap, so
    /// an mmap, mprotect, munmap or mremap that would need more fails with
    /// ENOMEM. Fork copies the count, which the child's own cap (the same)
    /// allows.
    pub max_grants: u64,
    /// Whether a mapping may be writable and executable at once. Default
    /// `false`: mmap and mprotect with PROT_WRITE | PROT_EXEC fail with
    /// EACCES (W^X); a JIT maps RW, writes, then mprotects to RX.
    pub allow_write_exec: bool,
    /// Whether a write fault continuing a run of written private anonymous
    /// pages also makes the rest of its 16-page block writable
    /// (`write_around.rs`). Default `true`.
    pub write_around: bool,
}

impl SpaceConfig {
    /// The defaults above for a user range ending at `user_end`.
    pub const fn new(user_end: VirtAddr) -> Self {
        Self {
            min_addr: VirtAddr::new(0x1_0000),
            user_end,
            max_mapped_pages: None,
            stack_max_pages: (8 << 20) / PAGE_SIZE,
            stack_guard_pages: 256,
            max_grants: DEFAULT_MAX_GRANTS,
            allow_write_exec: false,
            write_around: true,
        }
    }

    pub(crate) fn user_range(&self) -> PageRange {
        PageRange::new(Page::containing(self.min_addr), Page::containing(self.user_end))
    }
}

/// One process's user address space over a page table `P`.
///
/// Not internally locked: the kernel keeps it behind the process's lock.
/// Every operation takes the frame store and a [`crate::Shootdown`]; see
/// the crate docs.
pub struct AddrSpace<P: PageTable> {
    pub(crate) table: P,
    pub(crate) grants: GrantMap,
    pub(crate) gaps: Gaps,
    /// Page → the frame this space holds one reference to: a private page
    /// (`Allocated`), a borrowed page (`External`, `FmapBorrowed`), or a
    /// mapped page of a shared object (`AllocatedShared`, one per PTE).
    pub(crate) slots: SlotMap,
    /// Pages MADV_FREE marked freeable (`advise.rs`): each has a slot in a
    /// private anonymous grant and no writable PTE. Removing the slot
    /// removes the mark ([`Self::remove_slot_raw`]); a write fault clears it.
    pub(crate) freeable: BTreeSet<Page>,
    /// Pages with a guard marker (`guard.rs`): inside a grant, never a
    /// slot or a PTE.
    pub(crate) guards: BTreeSet<Page>,
    pub(crate) mapped_pages: u64,
    pub(crate) resident_pages: u64,
    pub(crate) config: SpaceConfig,
    /// An empty undo log kept from the last operation for the next one
    /// ([`crate::txn`]): an mmap or a fault then needs no heap allocation
    /// for its log. At most [`crate::txn::SPARE_LOG_RECORDS`] records of
    /// room are kept.
    pub(crate) spare_log: SpareLog,
}

impl<P: PageTable> AddrSpace<P> {
    /// An empty space over `table` (whose user half must be empty).
    /// EINVAL if the bounds are misaligned, `min_addr` is below one page,
    /// the range is empty, or the guard is zero.
    pub fn new(table: P, config: SpaceConfig) -> Result<Self, MmError> {
        let ok = config.min_addr.is_aligned(PAGE_SIZE)
            && config.user_end.is_aligned(PAGE_SIZE)
            && config.min_addr.get() >= PAGE_SIZE
            && config.min_addr < config.user_end
            && config.stack_guard_pages >= 1;
        if !ok {
            return Err(MmError::Inval);
        }
        let gaps = Gaps::new(config.user_range());
        Ok(Self {
            table,
            grants: GrantMap::default(),
            gaps,
            slots: SlotMap::default(),
            freeable: BTreeSet::new(),
            guards: BTreeSet::new(),
            mapped_pages: 0,
            resident_pages: 0,
            config,
            spare_log: SpareLog::default(),
        })
    }

    /// The page table (for the kernel to load its root).
    pub fn table(&self) -> &P {
        &self.table
    }

    /// The page table, for upkeep that changes no mapping (the kernel prunes
    /// empty intermediate tables through it). Mapping or unmapping pages
    /// through it would desynchronise the grants from the table.
    pub fn table_mut(&mut self) -> &mut P {
        &mut self.table
    }

    /// The limits in force.
    pub fn config(&self) -> &SpaceConfig {
        &self.config
    }

    /// Changes the mapped-pages cap. Lowering it below the current size is
    /// allowed (like setrlimit); only growth is refused.
    pub fn set_max_mapped_pages(&mut self, cap: Option<u64>) {
        self.config.max_mapped_pages = cap;
    }

    /// Changes the grant cap. Lowering it below the current count only
    /// stops calls that would add grants.
    pub fn set_max_grants(&mut self, cap: u64) {
        self.config.max_grants = cap;
    }

    /// How many grants (mappings) the space holds.
    pub fn grant_count(&self) -> u64 {
        self.grants.len() as u64
    }

    /// Blocks of the slot map (the kernel heap a fork's copy takes:
    /// [`crate::SLOT_BLOCK_PAGES`] pages each).
    pub fn slot_blocks(&self) -> u64 {
        self.slots.blocks()
    }

    /// Pages covered by grants (VSZ).
    pub fn mapped_pages(&self) -> u64 {
        self.mapped_pages
    }

    /// Frames this space holds references to (RSS): private and borrowed
    /// pages with a frame, and shared-object pages mapped here. Zero-frame
    /// and device pages are not counted.
    pub fn resident_pages(&self) -> u64 {
        self.resident_pages
    }

    /// The grants in address order, for a /proc/pid/maps-like listing.
    pub fn grants(&self) -> impl Iterator<Item = GrantInfo> + '_ {
        self.grants.values().map(|g| g.info(self.resident_in(g.range())))
    }

    /// The grant covering `addr`, if any.
    pub fn grant_at(&self, addr: VirtAddr) -> Option<GrantInfo> {
        let grant = self.grant_containing(Page::containing(addr))?;
        Some(grant.info(self.resident_in(grant.range())))
    }

    /// Whether every page of `pages` pages from `addr`'s page lies in a
    /// grant whose provider kind `ok` accepts; false for an empty or
    /// wrapping range or a hole. Costs one lookup per grant crossed, not
    /// per page (fmap checks a lender's answer and each fetch with it).
    pub fn covered_by(&self, addr: VirtAddr, pages: u64, ok: impl Fn(&ProviderKind) -> bool) -> bool {
        let start = Page::containing(addr);
        let Some(end) = start.number().checked_add(pages).filter(|_| pages > 0) else { return false };
        let mut at = start;
        while at.number() < end {
            match self.grant_containing(at) {
                Some(grant) if ok(&grant.provider.kind()) => at = grant.end(),
                _ => return false,
            }
        }
        true
    }

    /// What `addr`'s page maps to right now. A missing or too weak PTE does
    /// not mean the access is invalid: call [`Self::fault`] (usercopy does)
    /// and look again.
    pub fn translate(&self, addr: VirtAddr) -> Option<(PhysAddr, PageFlags)> {
        if !self.config.user_range().contains(Page::containing(addr)) {
            return None;
        }
        let (frame, flags) = self.table.translate(Page::containing(addr).start())?;
        Some((frame.add(addr.get() % PAGE_SIZE), flags))
    }

    /// Releases everything and hands back the page table.
    ///
    /// The space must not be in use on any CPU any more (every CPU that ran
    /// it has switched away and flushed it, e.g. its ASID/PCID retired), so
    /// references are dropped right away instead of through a shootdown. The
    /// returned table still holds the stale user leaf entries: the kernel
    /// frees its table frames without touching the leaves (rmm's
    /// `clear_root_entries` with a no-op leaf callback).
    ///
    /// Dropping an `AddrSpace` without `teardown` leaks its frames.
    /// Also returns the file pages no mapping pins any more, for the
    /// kernel to hand back to their schemes.
    pub fn teardown(mut self, frames: &mut impl FrameStore) -> (P, Vec<FileRelease>) {
        for (_, frame) in core::mem::take(&mut self.slots).iter() {
            frames.put(frame);
        }
        let mut releases = Vec::new();
        for (_, grant) in core::mem::take(&mut self.grants) {
            match grant.provider {
                Provider::AllocatedShared { object, .. } => MemObject::release(object, frames),
                Provider::FmapBorrowed { file, offset_pages } => {
                    Unpin { file, start: offset_pages, end: offset_pages + grant.pages }.apply(&mut releases)
                }
                _ => {}
            }
        }
        (self.table, releases)
    }

    // ---- queries used by the operations ----

    pub(crate) fn resident_in(&self, range: PageRange) -> u64 {
        self.slots.count_in(range)
    }

    /// The first present PTE in `[from, end)`: its page, frame and flags.
    /// Unmapped stretches are skipped by the page table, not page by page.
    pub(crate) fn next_pte(&self, from: Page, end: Page) -> Option<(Page, PhysAddr, PageFlags)> {
        let (at, frame, flags) = self.table.next_mapped(from.start(), end.start())?;
        Some((Page::containing(at), frame, flags))
    }

    pub(crate) fn grant_containing(&self, page: Page) -> Option<&Grant> {
        self.grants.range(..=page).next_back().map(|(_, g)| g).filter(|g| g.end() > page)
    }

    /// Bases of the grants overlapping `range`, in order.
    pub(crate) fn overlapping(&self, range: PageRange) -> Vec<Page> {
        self.grants_in(range).map(|g| g.base).collect()
    }

    /// The grants overlapping `range`, in order, without collecting them
    /// (no heap allocation).
    pub(crate) fn grants_in(&self, range: PageRange) -> impl Iterator<Item = &Grant> + '_ {
        let first = self.grant_containing(range.start).filter(|g| g.base != range.start);
        first.into_iter().chain(self.grants.range(range.start..range.end).map(|(_, g)| g))
    }

    /// Whether every page of `range` is covered by some grant.
    pub(crate) fn is_covered(&self, range: PageRange) -> bool {
        let mut next = range.start;
        for grant in self.grants_in(range) {
            if grant.base > next {
                return false;
            }
            next = grant.end();
        }
        next >= range.end
    }

    /// Pages of `range` covered by grants.
    pub(crate) fn mapped_in(&self, range: PageRange) -> u64 {
        self.overlapping(range).iter().map(|b| self.grants[b].range().intersect(&range).pages()).sum()
    }

    /// Whether no grant overlaps `range`.
    pub(crate) fn is_free(&self, range: PageRange) -> bool {
        self.grants.range(..range.end).next_back().is_none_or(|(_, g)| g.end() <= range.start)
    }

    /// Whether an mmap without MAP_FIXED may use `range`: inside the user
    /// range, free, and not inside the guard gap below a stack.
    pub(crate) fn is_placeable(&self, range: PageRange) -> bool {
        self.config.user_range().covers(&range)
            && self.is_free(range)
            && self
                .grants
                .range(range.end..)
                .next()
                .is_none_or(|(base, g)| !g.grows_down || range.end.add(self.config.stack_guard_pages) <= *base)
    }

    /// The space left under the cap after adding `added` and removing
    /// `removed` pages. ENOMEM if over.
    pub(crate) fn check_cap(&self, added: u64, removed: u64) -> Result<(), MmError> {
        match self.config.max_mapped_pages {
            Some(cap) if self.mapped_pages - removed + added > cap => Err(MmError::NoMem),
            _ => Ok(()),
        }
    }

    /// ENOMEM if cutting grants at both ends of `range` (munmap, mprotect)
    /// would take the space past its grant cap. Counts both cuts even where
    /// a merge or removal would make up for one (conservative, as Linux).
    pub(crate) fn check_split_room(&self, range: PageRange) -> Result<(), MmError> {
        if self.grant_count() + 2 <= self.config.max_grants {
            return Ok(()); // Room for both cuts without looking.
        }
        let cuts = [range.start, range.end]
            .into_iter()
            .filter(|at| self.grant_containing(*at).is_some_and(|grant| grant.base != *at))
            .count() as u64;
        if self.grant_count() + cuts > self.config.max_grants { Err(MmError::NoMem) } else { Ok(()) }
    }

    pub(crate) fn guard_of(&self, grant: &Grant) -> u64 {
        if grant.grows_down { self.config.stack_guard_pages } else { 0 }
    }

    // ---- raw mutations (no undo log): used by Txn, its rollback, fork ----

    pub(crate) fn insert_grant_raw(&mut self, grant: Grant) {
        debug_assert!(grant.pages > 0 && self.is_free(grant.range()), "insert {grant:?} over a grant");
        self.gaps.reserve(grant.range(), self.guard_of(&grant));
        self.mapped_pages += grant.pages;
        self.grants.insert(grant.base, grant);
    }

    pub(crate) fn remove_grant_raw(&mut self, base: Page) -> Option<Grant> {
        let grant = self.grants.remove(&base)?;
        let guard_above = self.grants.get(&grant.end()).map_or(0, |above| self.guard_of(above));
        self.gaps.release(grant.range(), guard_above);
        self.mapped_pages -= grant.pages;
        Some(grant)
    }

    pub(crate) fn insert_slot_raw(&mut self, page: Page, frame: PhysAddr) {
        self.resident_pages += 1;
        let old = self.slots.insert(page, frame);
        debug_assert!(old.is_none(), "slot {page:?} already held {old:?}");
    }

    pub(crate) fn remove_slot_raw(&mut self, page: Page) -> Option<PhysAddr> {
        let frame = self.slots.remove(page)?;
        self.freeable.remove(&page);
        self.resident_pages -= 1;
        Some(frame)
    }
}
