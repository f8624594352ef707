//! The fakes the tests plug in: a page table that is a `BTreeMap` (with
//! intermediate "tables" that cost an allocation, and a TLB that caches
//! translations until a shootdown flushes them), and a frame store whose
//! frames carry a content tag instead of 4 KiB of bytes. Both draw from one
//! [`FailPlan`], so "the N-th allocation fails" counts frames and tables.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use rmm::{PAGE_SIZE, PageFlags, PhysAddr, VirtAddr};

use crate::{FrameStore, MapFailed, PageTable, Shootdown};

/// Counts allocations and fails the chosen one.
#[derive(Default)]
pub struct FailPlan {
    count: Cell<u64>,
    fail_at: Cell<Option<u64>>,
    failures: Cell<u64>,
}

impl FailPlan {
    /// Whether the next allocation may go ahead.
    fn attempt(&self) -> bool {
        let n = self.count.get();
        self.count.set(n + 1);
        if self.fail_at.get() == Some(n) {
            self.failures.set(self.failures.get() + 1);
            return false;
        }
        true
    }
    /// Makes the allocation `n` from now fail (0 = the next one).
    pub fn fail_in(&self, n: u64) {
        self.fail_at.set(Some(self.count.get() + n));
    }
    /// No more failures.
    pub fn clear(&self) {
        self.fail_at.set(None);
    }
    /// Failures injected so far.
    pub fn failures(&self) -> u64 {
        self.failures.get()
    }
}

pub type Plan = Rc<FailPlan>;

/// The zero frame's address (never handed out by `allocate_zeroed`).
pub const ZERO_FRAME: PhysAddr = PhysAddr::new(0x1000);

struct FrameState {
    refs: usize,
    tag: u64,
}

/// Frames with reference counts and a content tag (0 = zeroes).
pub struct FakeFrames {
    frames: BTreeMap<PhysAddr, FrameState>,
    next: u64,
    plan: Plan,
}

impl FakeFrames {
    pub fn new(plan: Plan) -> Self {
        // Addresses are never reused, so a stale reference to a freed frame
        // is caught on its next use.
        Self { frames: BTreeMap::new(), next: 0x100_0000, plan }
    }
    /// Frames allocated and not freed.
    pub fn live(&self) -> usize {
        self.frames.len()
    }
    pub fn is_live(&self, frame: PhysAddr) -> bool {
        self.frames.contains_key(&frame)
    }
    /// The content tag of a live frame (the zero frame reads 0).
    pub fn tag(&self, frame: PhysAddr) -> u64 {
        if frame == ZERO_FRAME {
            return 0;
        }
        self.frames.get(&frame).unwrap_or_else(|| panic!("read of dead frame {frame:?}")).tag
    }
    /// Stores a tag, as a user write through a PTE would.
    pub fn write(&mut self, frame: PhysAddr, tag: u64) {
        assert_ne!(frame, ZERO_FRAME, "write to the zero frame");
        self.frames.get_mut(&frame).unwrap_or_else(|| panic!("write to dead frame {frame:?}")).tag = tag;
    }
    /// Every live frame's reference count.
    pub fn refcounts(&self) -> BTreeMap<PhysAddr, usize> {
        self.frames.iter().map(|(f, s)| (*f, s.refs)).collect()
    }
    /// Every live frame's (refcount, tag).
    pub fn state(&self) -> Vec<(PhysAddr, usize, u64)> {
        self.frames.iter().map(|(f, s)| (*f, s.refs, s.tag)).collect()
    }
    fn state_mut(&mut self, frame: PhysAddr) -> &mut FrameState {
        assert_ne!(frame, ZERO_FRAME, "the zero frame is never reference counted");
        self.frames.get_mut(&frame).unwrap_or_else(|| panic!("use of dead frame {frame:?}"))
    }
}

impl FrameStore for FakeFrames {
    fn allocate_zeroed(&mut self) -> Option<PhysAddr> {
        if !self.plan.attempt() {
            return None;
        }
        let frame = PhysAddr::new(self.next);
        self.next += PAGE_SIZE;
        self.frames.insert(frame, FrameState { refs: 1, tag: 0 });
        Some(frame)
    }
    fn copy(&mut self, from: PhysAddr, to: PhysAddr) {
        let tag = self.tag(from);
        self.write(to, tag);
    }
    fn get(&mut self, frame: PhysAddr) {
        self.state_mut(frame).refs += 1;
    }
    fn put(&mut self, frame: PhysAddr) -> bool {
        let state = self.state_mut(frame);
        state.refs -= 1;
        if state.refs == 0 {
            self.frames.remove(&frame);
            return true;
        }
        false
    }
    fn refcount(&self, frame: PhysAddr) -> usize {
        self.frames.get(&frame).map_or(0, |s| s.refs)
    }
    fn zero_frame(&self) -> PhysAddr {
        ZERO_FRAME
    }
}

/// A page table as a map from page number to (frame, flags), with
/// intermediate tables (levels 1..=3) that cost one allocation each and are
/// never freed, like rmm's. `tlb` models the CPUs' cached translations.
pub struct FakeTable {
    pub entries: BTreeMap<u64, (PhysAddr, PageFlags)>,
    tables: BTreeSet<(u32, u64)>,
    plan: Plan,
    pub tlb: RefCell<BTreeMap<u64, (PhysAddr, PageFlags)>>,
}

impl FakeTable {
    pub fn new(plan: Plan) -> Self {
        Self { entries: BTreeMap::new(), tables: BTreeSet::new(), plan, tlb: RefCell::new(BTreeMap::new()) }
    }
    /// Applies a shootdown's invalidations to the TLB model.
    pub fn flush(&self, shootdown: &Shootdown) {
        let mut tlb = self.tlb.borrow_mut();
        for (start, pages) in shootdown.ranges() {
            let first = start.get() / PAGE_SIZE;
            let stale: Vec<u64> = tlb.range(first..first + pages).map(|(k, _)| *k).collect();
            for page in stale {
                tlb.remove(&page);
            }
        }
    }
}

impl PageTable for FakeTable {
    fn map(&mut self, page: VirtAddr, frame: PhysAddr, flags: PageFlags) -> Result<(), MapFailed> {
        assert!(page.is_aligned(PAGE_SIZE) && frame.is_aligned(PAGE_SIZE), "misaligned map {page:?} {frame:?}");
        assert!(flags.is_user(), "user mapping without the user bit");
        let number = page.get() / PAGE_SIZE;
        assert!(!self.entries.contains_key(&number), "map over a present PTE at {page:?}");
        for level in 1..=3 {
            let key = (level, number >> (9 * level));
            if !self.tables.contains(&key) {
                if !self.plan.attempt() {
                    return Err(MapFailed);
                }
                self.tables.insert(key);
            }
        }
        self.entries.insert(number, (frame, flags));
        Ok(())
    }
    fn unmap(&mut self, page: VirtAddr) -> Option<(PhysAddr, PageFlags)> {
        self.entries.remove(&(page.get() / PAGE_SIZE))
    }
    fn protect(&mut self, page: VirtAddr, flags: PageFlags) -> Option<PageFlags> {
        let entry = self.entries.get_mut(&(page.get() / PAGE_SIZE))?;
        Some(core::mem::replace(&mut entry.1, flags))
    }
    fn translate(&self, page: VirtAddr) -> Option<(PhysAddr, PageFlags)> {
        self.entries.get(&(page.get() / PAGE_SIZE)).copied()
    }
    fn next_mapped(&self, from: VirtAddr, end: VirtAddr) -> Option<(VirtAddr, PhysAddr, PageFlags)> {
        let (number, (frame, flags)) = self.entries.range(from.get() / PAGE_SIZE..end.get() / PAGE_SIZE).next()?;
        Some((VirtAddr::new(number * PAGE_SIZE), *frame, *flags))
    }
}

impl FakeFrames {
    /// The reference count of `frame` (0 when not live).
    pub fn refcount_of(&self, frame: PhysAddr) -> usize {
        self.frames.get(&frame).map_or(0, |s| s.refs)
    }
}
