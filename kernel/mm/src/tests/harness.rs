//! The test world: one frame store, spaces over fake tables, helpers that
//! run an operation and its shootdown the way the kernel will (flush the
//! TLB model, then finish), user-like reads and writes through the TLB
//! model, and the checks of what operations leave behind.

use std::collections::BTreeMap;
use std::format;
use std::rc::Rc;
use std::string::String;
use std::sync::Arc;
use std::vec::Vec;

use rmm::{PAGE_SIZE, PageFlags, PhysAddr, VirtAddr};

use super::fake::{FailPlan, FakeFrames, FakeTable, Plan, ZERO_FRAME};
use crate::page::{Page, PageRange};
use crate::provider::Provider;
use crate::{
    Access, AddrSpace, Advice, FaultError, FrameStore, MapFlags, MemObject, MmError, MmapRequest, PageTable, Prot,
    RemapFlags, SharedObject, Shootdown, SpaceConfig,
};

pub type Space = AddrSpace<FakeTable>;

pub const PAGE: u64 = PAGE_SIZE;
/// Default test layout: user pages from 64 KiB to 1 GiB.
pub const MIN_ADDR: u64 = 0x1_0000;
pub const USER_END: u64 = 0x4000_0000;

pub fn va(addr: u64) -> VirtAddr {
    VirtAddr::new(addr)
}

pub const RW: Prot = Prot::READ.union(Prot::WRITE);
pub const R: Prot = Prot::READ;
pub const PRIVATE: MapFlags = MapFlags::PRIVATE;
pub const SHARED: MapFlags = MapFlags::SHARED;

pub struct World {
    pub frames: FakeFrames,
    pub plan: Plan,
    /// A fake filesystem daemon's pages: (lease id, file page) → its frame
    /// (one reference, the daemon's), made on first request.
    pub lender: BTreeMap<(u64, u64), PhysAddr>,
    /// File pages the fake daemon has taken back (a truncate): fetching
    /// one is SIGBUS, as the kernel's fetch of a `PROT_NONE` lender page.
    pub gone: std::collections::BTreeSet<(u64, u64)>,
    /// Whether a file fault also maps the neighbours the fake daemon
    /// already has (fault-around, as the kernel does); on by default.
    pub fault_around: bool,
}

impl World {
    pub fn new() -> Self {
        let plan = Rc::new(FailPlan::default());
        Self {
            frames: FakeFrames::new(plan.clone()),
            plan,
            lender: BTreeMap::new(),
            gone: Default::default(),
            fault_around: true,
        }
    }

    pub fn config() -> SpaceConfig {
        let mut config = SpaceConfig::new(va(USER_END));
        config.min_addr = va(MIN_ADDR);
        // Each page exactly as touched; `tests/write_around.rs` turns it on.
        config.write_around = false;
        config
    }

    pub fn table(&self) -> FakeTable {
        FakeTable::new(self.plan.clone())
    }

    pub fn space(&self) -> Space {
        self.space_with(Self::config())
    }

    pub fn space_with(&self, config: SpaceConfig) -> Space {
        AddrSpace::new(self.table(), config).expect("valid config")
    }

    /// Runs `op` with a fresh shootdown, then flushes the TLB model and
    /// finishes the shootdown, as the kernel does after every call.
    pub fn run<T>(
        &mut self,
        space: &mut Space,
        op: impl FnOnce(&mut Space, &mut FakeFrames, &mut Shootdown) -> T,
    ) -> T {
        let mut tlb = Shootdown::new();
        let result = op(space, &mut self.frames, &mut tlb);
        space.table().flush(&tlb);
        tlb.finish(&mut self.frames);
        result
    }

    pub fn mmap(&mut self, space: &mut Space, request: &MmapRequest<'_>) -> Result<VirtAddr, MmError> {
        self.run(space, |s, f, t| s.mmap(f, request, t))
    }

    /// Private or shared anonymous memory of `pages` pages.
    pub fn anon(&mut self, space: &mut Space, pages: u64, prot: Prot, flags: MapFlags) -> VirtAddr {
        self.mmap(space, &MmapRequest::anonymous(pages * PAGE, prot, flags)).expect("mmap")
    }

    pub fn anon_at(
        &mut self,
        space: &mut Space,
        addr: u64,
        pages: u64,
        prot: Prot,
        flags: MapFlags,
    ) -> Result<VirtAddr, MmError> {
        self.mmap(space, &MmapRequest::anonymous(pages * PAGE, prot, flags).at(va(addr)))
    }

    pub fn munmap(&mut self, space: &mut Space, addr: VirtAddr, len: u64) -> Result<(), MmError> {
        self.run(space, |s, f, t| s.munmap(f, addr, len, t))
    }

    pub fn mprotect(&mut self, space: &mut Space, addr: VirtAddr, len: u64, prot: Prot) -> Result<(), MmError> {
        self.run(space, |s, f, t| s.mprotect(f, addr, len, prot, t))
    }

    pub fn mremap(
        &mut self,
        space: &mut Space,
        old: VirtAddr,
        old_len: u64,
        new_len: u64,
        flags: RemapFlags,
        new_addr: VirtAddr,
    ) -> Result<VirtAddr, MmError> {
        self.run(space, |s, f, t| s.mremap(f, old, old_len, new_len, flags, new_addr, None, t))
    }

    pub fn madvise(&mut self, space: &mut Space, addr: VirtAddr, len: u64, advice: Advice) -> Result<(), MmError> {
        self.run(space, |s, f, t| s.madvise(f, addr, len, advice, t))
    }

    /// A fault as the kernel handles it: a file page the space lacks is
    /// taken from the fake lender (a new reference) and the fault retried.
    pub fn fault(&mut self, space: &mut Space, addr: VirtAddr, access: Access) -> Result<(), FaultError> {
        loop {
            match self.run(space, |s, f, t| s.fault(f, addr, access, t)) {
                Err(FaultError::FilePage) => {
                    let (file, index) = space.file_page_wanted(addr).expect("the wanted file page");
                    if self.gone.contains(&(file.id(), index)) {
                        return Err(FaultError::Bus);
                    }
                    let frame = match self.lender.get(&(file.id(), index)) {
                        Some(frame) => *frame,
                        None => {
                            let frame = self.frames.allocate_zeroed().ok_or(FaultError::OutOfMemory)?;
                            self.lender.insert((file.id(), index), frame);
                            frame
                        }
                    };
                    self.frames.get(frame);
                    let generation = file.generation();
                    let around = if self.fault_around { space.fault_around(addr) } else { None };
                    assert!(space.supply_file_page(&mut self.frames, addr, &file, index, generation, frame));
                    if let Some(around) = around {
                        self.supply_around(space, &around, generation);
                    }
                }
                other => return other,
            }
        }
    }

    /// Fault-around as the kernel does it: the window's pages the fake
    /// daemon already has (never one it would have to make, nor one taken
    /// back: past the end of the file), one reference each, handed in.
    pub fn supply_around(&mut self, space: &mut Space, around: &crate::FaultAround, generation: u64) -> u64 {
        let id = around.file.id();
        let mut fetched = Vec::new();
        for (addr, index) in around.pages() {
            if self.gone.contains(&(id, index)) {
                continue;
            }
            if let Some(&frame) = self.lender.get(&(id, index)) {
                self.frames.get(frame);
                fetched.push((addr, index, frame));
            }
        }
        // New PTEs only: nothing to flush, and it takes no shootdown.
        space.supply_file_pages(&mut self.frames, &around.file, generation, &fetched)
    }

    /// The fake lender's frame of file page `index` of lease `id`.
    pub fn lent(&self, id: u64, index: u64) -> PhysAddr {
        self.lender[&(id, index)]
    }

    /// The fake daemon takes back file pages `[from, to)` of lease `id` (a
    /// truncate): its frames go and fetching them is SIGBUS from now on.
    /// The kernel's part, dropping them from the spaces, is the caller's.
    pub fn take_back(&mut self, id: u64, from: u64, to: u64) {
        for index in from..to {
            self.gone.insert((id, index));
            if let Some(frame) = self.lender.remove(&(id, index)) {
                self.frames.put(frame);
            }
        }
    }

    /// The fake daemon drops its pages (after the last Munmap).
    pub fn drop_lender(&mut self) {
        for (_, frame) in core::mem::take(&mut self.lender) {
            self.frames.put(frame);
        }
    }

    pub fn fork(&mut self, space: &mut Space) -> Result<Space, MmError> {
        let table = self.table();
        self.run(space, |s, f, t| s.fork(f, table, t))
    }

    pub fn teardown(&mut self, space: Space) {
        space.teardown(&mut self.frames);
    }

    /// A user access: TLB hit if allowed, else a table walk, else a fault
    /// (then the walk again). Returns the frame used.
    pub fn access(&mut self, space: &mut Space, addr: VirtAddr, access: Access) -> Result<PhysAddr, FaultError> {
        let number = addr.get() / PAGE;
        let allows = |flags: PageFlags| match access {
            Access::Read => true,
            Access::Write => flags.is_writable(),
            Access::Exec => flags.is_executable(),
        };
        let cached = space.table().tlb.borrow().get(&number).copied();
        if let Some((frame, flags)) = cached {
            if allows(flags) {
                return Ok(frame);
            }
            // A permission fault drops the stale entry.
            space.table().tlb.borrow_mut().remove(&number);
        }
        for attempt in 0..2 {
            if let Some((frame, flags)) = space.table().translate(Page::containing(addr).start())
                && allows(flags)
            {
                space.table().tlb.borrow_mut().insert(number, (frame, flags));
                return Ok(frame);
            }
            assert_eq!(attempt, 0, "fault at {addr:?} returned Ok but the PTE still does not allow {access:?}");
            self.fault(space, addr, access)?;
        }
        unreachable!()
    }

    /// Reads the tag of the page at `addr` as the user would.
    pub fn read(&mut self, space: &mut Space, addr: VirtAddr) -> Result<u64, FaultError> {
        let frame = self.access(space, addr, Access::Read)?;
        Ok(self.frames.tag(frame))
    }

    /// Writes a tag to the page at `addr` as the user would.
    pub fn write(&mut self, space: &mut Space, addr: VirtAddr, tag: u64) -> Result<(), FaultError> {
        let frame = self.access(space, addr, Access::Write)?;
        self.frames.write(frame, tag);
        Ok(())
    }

    /// Writes tags `first`, `first + 1`, ... to the `pages` pages from
    /// `addr`, one per page, as the user would.
    pub fn write_pages(&mut self, space: &mut Space, addr: VirtAddr, pages: u64, first: u64) {
        for i in 0..pages {
            self.write(space, addr.add(i * PAGE), first + i).unwrap();
        }
    }

    /// Checks every space's invariants and that every live frame's
    /// reference count is exactly what the spaces and objects hold.
    pub fn check(&self, spaces: &[&Space], objects: &[&SharedObject]) {
        for space in spaces {
            check_space(space, &self.frames);
        }
        check_refcounts(spaces, objects, &self.lender.values().copied().collect::<Vec<_>>(), &self.frames);
    }
}

/// The frame a user access would see at `page` without faulting (tag 0 for
/// untouched private pages), for content checks.
pub fn page_frame(space: &Space, page: Page) -> Option<PhysAddr> {
    match space.slots.get(page) {
        Some(frame) => Some(frame),
        None => space.table.entries.get(&page.number()).map(|(frame, _)| *frame).filter(|f| *f == ZERO_FRAME),
    }
}

/// The gap index rebuilt from the grants alone: what every operation must
/// leave it equal to.
pub fn rebuilt_gaps(space: &Space) -> Vec<(PageRange, u64)> {
    let mut gaps = crate::gaps::Gaps::new(space.config.user_range());
    for grant in space.grants.values() {
        gaps.reserve(grant.range(), space.guard_of(grant));
    }
    gaps.iter().collect()
}

/// The structural invariants of one space (see `space.rs`).
pub fn check_space(space: &Space, frames: &FakeFrames) {
    let user = space.config.user_range();
    let mut previous: Option<&crate::Grant> = None;
    let mut mapped = 0;
    let mut free = Vec::new();
    let mut cursor = user.start;
    space.grants.check().unwrap();
    for (base, grant) in &space.grants {
        assert_eq!(*base, grant.base, "grant key");
        assert!(grant.pages > 0, "empty grant {grant:?}");
        assert!(user.covers(&grant.range()), "{grant:?} outside the user range");
        if let Some(prev) = previous {
            assert!(prev.end() <= grant.base, "overlap: {prev:?} {grant:?}");
            assert!(!prev.can_absorb(grant), "unmerged neighbours: {prev:?} {grant:?}");
        }
        if cursor < grant.base {
            let guard = space.guard_of(grant);
            free.push((PageRange::new(cursor, grant.base), guard));
        }
        cursor = grant.end();
        mapped += grant.pages;
        previous = Some(grant);
    }
    if cursor < user.end {
        free.push((PageRange::new(cursor, user.end), 0));
    }
    assert_eq!(space.mapped_pages, mapped, "mapped_pages counter");
    assert!(space.gaps.consistent(), "gap index: by_end and by_size disagree");
    assert_eq!(space.gaps.iter().collect::<Vec<_>>(), rebuilt_gaps(space), "gap index differs from the grants'");
    let gaps: Vec<_> = space.gaps.iter().collect();
    assert_eq!(gaps, free, "gap index is not the complement of the grants");

    let mut resident = 0;
    assert_eq!(space.slots.len(), space.slots.iter().count() as u64, "slot map length");
    for (page, frame) in space.slots.iter() {
        let (page, frame) = (&page, &frame);
        let grant = space.grant_containing(*page).unwrap_or_else(|| panic!("slot {page:?} outside grants"));
        resident += 1;
        assert!(frames.is_live(*frame), "slot {page:?} holds dead frame {frame:?}");
        assert_ne!(*frame, ZERO_FRAME, "slot {page:?} holds the zero frame");
        match &grant.provider {
            Provider::Allocated | Provider::External { .. } | Provider::FmapBorrowed { .. } => {}
            Provider::AllocatedShared { object, offset_pages } => {
                let index = Provider::object_index(*offset_pages, grant.base, *page);
                assert!(index < object.size_pages(), "slot past the object's end");
                assert_eq!(object.page(index), Some(*frame), "shared slot {page:?} is not the object's page");
                assert!(space.table.translate(page.start()).is_some(), "shared slot {page:?} without its PTE");
            }
            provider => panic!("slot {frame:?} at {page:?} in a {provider:?} grant"),
        }
    }
    assert_eq!(space.resident_pages, resident, "resident_pages counter");
    for grant in space.grants.values() {
        if let Provider::External { .. } = grant.provider {
            assert_eq!(space.resident_in(grant.range()), grant.pages, "external grant without a frame per page");
        }
    }

    for (number, (frame, flags)) in &space.table.entries {
        let page = Page::from_number(*number);
        let grant = space.grant_containing(page).unwrap_or_else(|| panic!("PTE {page:?} outside grants"));
        let prot = grant.prot;
        assert!(prot.is_accessible(), "PTE {page:?} in a PROT_NONE grant");
        assert!(flags.is_user());
        // Never more rights than the grant; fewer after an mprotect that
        // added some (they come back on the next access's fault).
        assert!(!flags.is_executable() || prot.contains(Prot::EXEC), "X bit of {page:?} beyond the grant");
        let slot = space.slots.get(page);
        match &grant.provider {
            Provider::Allocated => match slot {
                None => {
                    assert_eq!(*frame, ZERO_FRAME, "private PTE {page:?} without a slot maps {frame:?}");
                    assert!(!flags.is_writable(), "zero frame mapped writable at {page:?}");
                }
                Some(f) => {
                    assert_eq!(*frame, f, "PTE {page:?} does not map its slot's frame");
                    if flags.is_writable() {
                        assert!(prot.contains(Prot::WRITE), "writable PTE {page:?} in a read-only grant");
                        assert_eq!(frames.refcount(f), 1, "writable PTE {page:?} to a shared (CoW) frame");
                    }
                }
            },
            Provider::AllocatedShared { .. } | Provider::External { .. } => {
                assert_eq!(slot, Some(*frame), "PTE {page:?} does not map its slot's frame");
                assert!(!flags.is_writable() || prot.contains(Prot::WRITE), "W bit of {page:?} beyond the grant");
            }
            Provider::PhysBorrowed { phys, kind } => {
                assert_eq!(*frame, phys.add(grant.base.pages_until(page) * PAGE), "device PTE {page:?}");
                assert!(!flags.is_writable() || prot.contains(Prot::WRITE), "W bit of {page:?} beyond the grant");
                assert_eq!(flags.memory_kind(), kind.memory_kind());
            }
            Provider::FmapBorrowed { file, .. } => match slot {
                Some(f) => {
                    assert_eq!(*frame, f, "PTE {page:?} does not map its slot's frame");
                    if file.is_shared() {
                        assert!(
                            !flags.is_writable() || prot.contains(Prot::WRITE),
                            "W bit of {page:?} beyond the grant"
                        );
                    } else if flags.is_writable() {
                        assert!(prot.contains(Prot::WRITE), "writable PTE {page:?} in a read-only grant");
                        assert_eq!(frames.refcount(f), 1, "writable PTE {page:?} to a shared (CoW) file frame");
                    }
                }
                _ => panic!("file PTE {page:?} without a frame slot"),
            },
        }
    }

    // MADV_FREE marks: a private anonymous page with a frame, never
    // writable while marked. Guard markers: inside a grant, with neither a
    // frame nor a PTE.
    for page in &space.freeable {
        let grant = space.grant_containing(*page).unwrap_or_else(|| panic!("freeable {page:?} outside grants"));
        assert!(matches!(grant.provider, Provider::Allocated), "freeable {page:?} in {grant:?}");
        assert!(space.slots.contains(*page), "freeable {page:?} without a frame");
        let pte = space.table.entries.get(&page.number());
        assert!(pte.is_none_or(|(_, flags)| !flags.is_writable()), "freeable {page:?} mapped writable");
    }
    for page in &space.guards {
        assert!(space.grant_containing(*page).is_some(), "guard marker {page:?} outside grants");
        assert!(!space.slots.contains(*page), "guard page {page:?} holds a frame");
        assert!(!space.table.entries.contains_key(&page.number()), "guard page {page:?} has a PTE");
    }

    // After a finished shootdown no TLB entry may be stale: same frame,
    // and no right the PTE lacks.
    for (number, (frame, flags)) in space.table.tlb.borrow().iter() {
        let pte = space.table.entries.get(number);
        let ok = pte.is_some_and(|(f, fl)| {
            f == frame && (!flags.is_writable() || fl.is_writable()) && (!flags.is_executable() || fl.is_executable())
        });
        assert!(ok, "stale TLB entry for page {number:#x}: {frame:?} {flags:?}, PTE {pte:?}");
    }
}

/// Every live frame's count equals the references held by slots and
/// objects; nothing else is live.
pub fn check_refcounts(spaces: &[&Space], objects: &[&SharedObject], lent: &[PhysAddr], frames: &FakeFrames) {
    let mut expected: BTreeMap<PhysAddr, usize> = BTreeMap::new();
    for frame in lent {
        *expected.entry(*frame).or_default() += 1;
    }
    let mut seen: Vec<*const MemObject> = Vec::new();
    let mut count_object = |object: &SharedObject, expected: &mut BTreeMap<PhysAddr, usize>| {
        if !seen.contains(&Arc::as_ptr(object)) {
            seen.push(Arc::as_ptr(object));
            for (_, frame) in object.pages() {
                *expected.entry(frame).or_default() += 1;
            }
        }
    };
    for object in objects {
        count_object(object, &mut expected);
    }
    for space in spaces {
        for (_, frame) in space.slots.iter() {
            *expected.entry(frame).or_default() += 1;
        }
        for grant in space.grants.values() {
            if let Provider::AllocatedShared { object, .. } = &grant.provider {
                count_object(object, &mut expected);
            }
        }
    }
    assert_eq!(frames.refcounts(), expected, "reference counts differ from the references held");
}

/// Everything an operation could change, for "exactly as before" checks.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    grants: Vec<String>,
    gaps: Vec<(PageRange, u64)>,
    slots: Vec<(Page, PhysAddr)>,
    ptes: Vec<(u64, PhysAddr, PageFlags)>,
    mapped: u64,
    resident: u64,
    frames: Vec<(PhysAddr, usize, u64)>,
    objects: Vec<(u64, Vec<(u64, PhysAddr)>)>,
    guards: Vec<Page>,
}

impl Snapshot {
    pub fn of(spaces: &[&Space], objects: &[&SharedObject], frames: &FakeFrames) -> Self {
        let mut snapshot = Snapshot {
            grants: Vec::new(),
            gaps: Vec::new(),
            slots: Vec::new(),
            ptes: Vec::new(),
            mapped: 0,
            resident: 0,
            frames: frames.state(),
            objects: objects.iter().map(|o| (o.id(), o.pages())).collect(),
            guards: Vec::new(),
        };
        for space in spaces {
            snapshot.grants.extend(space.grants.values().map(|g| format!("{g:?}")));
            snapshot.gaps.extend(space.gaps.iter());
            snapshot.slots.extend(space.slots.iter());
            snapshot.guards.extend(space.guards.iter().copied());
            // Zero-frame PTEs only cache "reads as zero": a rollback may
            // drop them (see `Txn::map_zero_pte`), which changes nothing a
            // user can see, so they are not part of the state compared.
            snapshot.ptes.extend(
                space.table.entries.iter().filter(|(_, (f, _))| *f != ZERO_FRAME).map(|(n, (f, fl))| (*n, *f, *fl)),
            );
            snapshot.mapped += space.mapped_pages;
            snapshot.resident += space.resident_pages;
            for grant in space.grants.values() {
                if let Provider::AllocatedShared { object, .. } = &grant.provider {
                    snapshot.objects.push((object.id(), object.pages()));
                }
            }
        }
        snapshot.objects.sort();
        snapshot.objects.dedup();
        snapshot
    }
}

/// A tiny seeded PRNG (xorshift64*), so the randomized test is
/// reproducible without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `[0, n)`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

pub fn new_object(pages: u64) -> SharedObject {
    MemObject::new(pages)
}

impl World {
    pub fn frames_zero(&self) -> PhysAddr {
        ZERO_FRAME
    }
}
