//! TLB tags for address spaces (aarch64 ASIDs; the same scheme fits x86
//! PCIDs): Linux's arm64 ASID allocator (`arch/arm64/mm/context.c`), over
//! any number of tags and CPUs, host-tested against a model of tagged TLBs
//! (`tests/tags.rs`).
//!
//! A space's *context id* is `generation << 16 | tag`. A space whose id is
//! of the current generation runs with its tag as it is (the fast path: an
//! atomic exchange of this CPU's active id, no lock). Otherwise it gets a
//! tag of the current generation under the lock: its old tag if a CPU kept
//! it over the last rollover or it is still free, else a free one; when
//! none is left the generation **rolls over**: the bitmap is cleared, each
//! CPU's active id is kept (*reserved*: the space that CPU runs keeps its
//! tag in the new generation, so a flush by the space's tag still reaches
//! the entries that CPU holds), and every CPU must flush its whole TLB
//! once before it next loads a tag ([`TagAllocator::switch_to`] says so).
//! Tags are never freed within a generation: a dead space's entries stay
//! in TLBs under a tag nobody loads again before that CPU's next flush.
//!
//! Tag 0 is never handed out (the kernel-only table's).
//!
//! **Flushes left to the next switch.** A space's entries stay in the TLB
//! of every CPU that ran it, so a change of its mappings must reach them
//! all; but a CPU that does not run the space now cannot use them before
//! it loads the space's tag again. So where no other CPU runs the space,
//! the CPU that changed it flushes only its own TLB and marks every other
//! CPU in the space's *stale* set ([`SpaceTag::flush_others_at_switch`]);
//! a marked CPU drops the tag's entries when it next switches to the space
//! ([`TagFlush::Tag`]). A Dekker pair keeps the two sides from missing
//! each other: the sender marks, then looks at the CPUs running the space
//! (and flushes every CPU now if one does); a CPU joins those CPUs, then
//! looks at its mark ([`TagAllocator::switch_to`]); with a full fence
//! between each side's two steps, at least one sees the other.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering, fence};

/// Bits of a context id below the generation.
const TAG_SHIFT: u32 = 16;
const TAG_MASK: u64 = (1 << TAG_SHIFT) - 1;
/// The most tags (16-bit).
pub const MAX_TAGS: u64 = 1 << 16;

/// One space's context id (0: never had a tag). The kernel changes it only
/// with the space's lock held (the scheduler holds it while loading the
/// space, and shootdowns run under it), so a shootdown reads the tag the
/// space's entries carry.
#[derive(Debug, Default)]
pub struct SpaceTag {
    id: AtomicU64,
    /// CPUs (bit = index) that may hold entries of the space a shootdown
    /// did not reach: each drops the tag's entries before it next loads it.
    stale: AtomicU64,
}

impl SpaceTag {
    /// A space that has not run yet.
    pub const fn new() -> Self {
        Self { id: AtomicU64::new(0), stale: AtomicU64::new(0) }
    }

    /// The tag for TLB maintenance: the space's entries in any TLB carry
    /// it (an older generation's value is kept until the space runs again;
    /// CPUs that cached it flush before they load any tag of the new one).
    pub fn asid(&self) -> u16 {
        (self.id.load(Ordering::Relaxed) & TAG_MASK) as u16
    }

    /// After CPU `me` changed the space's mappings and dropped the old
    /// entries from its own TLB: whether every other CPU may keep its
    /// entries of the space until it next switches to it (`true`: each is
    /// marked to drop them then, [`TagFlush::Tag`]), or some CPU runs the
    /// space now (`running()`, a bitmask of CPUs, names one besides `me`)
    /// and the caller must flush every CPU at once (`false`).
    ///
    /// The caller's PTE changes must be visible to other CPUs' table walks
    /// before this (aarch64: the `DSB ISHST` of its local flush), and a
    /// switching CPU must join `running()` before [`TagAllocator::switch_to`]
    /// (the module doc's Dekker pair).
    pub fn flush_others_at_switch(&self, me: usize, running: impl Fn() -> u64) -> bool {
        let others = !(1u64 << me);
        if running() & others != 0 {
            return false;
        }
        self.stale.fetch_or(others, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        running() & others == 0
    }

    /// CPUs marked to drop the space's entries at their next switch to it.
    pub fn stale_cpus(&self) -> u64 {
        self.stale.load(Ordering::Relaxed)
    }
}

/// What a CPU must drop from its TLB before it loads a space's tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagFlush {
    /// Nothing: its entries of the tag are current.
    Nothing,
    /// The tag's entries: a shootdown left them to this switch
    /// ([`SpaceTag::flush_others_at_switch`]).
    Tag,
    /// Every entry of every tag: a rollover happened since its last switch.
    Everything,
}

/// The allocator's state under its lock.
struct State<const CPUS: usize> {
    /// Tags in use in the current generation (a bit per tag).
    map: [u64; (MAX_TAGS / 64) as usize],
    /// Where the next search starts.
    next: u64,
    /// Per CPU: the id it keeps over a rollover.
    reserved: [u64; CPUS],
    /// Context switches since the last forced rollover.
    switches: u64,
}

/// Tag allocation for `CPUS` CPUs (indices 0..CPUS).
pub struct TagAllocator<const CPUS: usize> {
    state: spin::Mutex<State<CPUS>>,
    /// The current generation, in id units (a multiple of 1 << 16).
    generation: AtomicU64,
    /// Per CPU: the id it runs (0 right after a rollover took it).
    active: [AtomicU64; CPUS],
    /// Per CPU: flush the whole TLB before loading a tag. Set by a
    /// rollover, and at first (a CPU's TLB may hold start-up entries).
    flush_pending: [AtomicBool; CPUS],
    /// Tags in use: 1..count.
    count: AtomicU64,
    /// A rollover every this many switches (0: only when tags run out).
    force_every: AtomicU64,
    rollovers: AtomicU64,
    /// Switches that dropped a tag's entries a shootdown had left them.
    stale_flushes: AtomicU64,
    /// Only for the tests that show the model catches a missing flush.
    skip_flush: AtomicBool,
    /// Only for the test that shows the model catches a missing flush of
    /// a stale tag.
    skip_stale: AtomicBool,
}

impl<const CPUS: usize> Default for TagAllocator<CPUS> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const CPUS: usize> TagAllocator<CPUS> {
    /// 256 tags (8-bit ASIDs) until [`Self::set_count`].
    pub const fn new() -> Self {
        assert!(CPUS <= 64, "a space's stale set has a bit per CPU");
        Self {
            state: spin::Mutex::new(State {
                map: [0; (MAX_TAGS / 64) as usize],
                next: 1,
                reserved: [0; CPUS],
                switches: 0,
            }),
            generation: AtomicU64::new(1 << TAG_SHIFT),
            active: [const { AtomicU64::new(0) }; CPUS],
            flush_pending: [const { AtomicBool::new(true) }; CPUS],
            count: AtomicU64::new(256),
            force_every: AtomicU64::new(0),
            rollovers: AtomicU64::new(0),
            stale_flushes: AtomicU64::new(0),
            skip_flush: AtomicBool::new(false),
            skip_stale: AtomicBool::new(false),
        }
    }

    /// Uses tags 1..`count`, `count` clamped to `CPUS + 2..=MAX_TAGS` (more
    /// tags than CPUs: a rollover always leaves one free). Before any space
    /// runs.
    pub fn set_count(&self, count: u64) {
        self.count.store(count.clamp(CPUS as u64 + 2, MAX_TAGS), Ordering::Relaxed);
    }

    /// The tags in use (tag 0 included).
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Rollovers so far.
    pub fn rollovers(&self) -> u64 {
        self.rollovers.load(Ordering::Relaxed)
    }

    /// Switches so far that dropped a tag's entries a shootdown had left
    /// to them ([`TagFlush::Tag`]).
    pub fn stale_flushes(&self) -> u64 {
        self.stale_flushes.load(Ordering::Relaxed)
    }

    /// Forces a rollover every `n` context switches (0: only when tags run
    /// out): a test knob, so that spaces share tags across generations.
    pub fn force_rollover_every(&self, n: u64) {
        self.force_every.store(n, Ordering::Relaxed);
    }

    /// Test only: rollovers skip their flush (a broken allocator).
    #[cfg(test)]
    pub(crate) fn break_rollover_flush(&self) {
        self.skip_flush.store(true, Ordering::Relaxed);
    }

    /// Test only: a switch never drops a stale tag's entries (a broken
    /// allocator).
    #[cfg(test)]
    pub(crate) fn break_stale_flush(&self) {
        self.skip_stale.store(true, Ordering::Relaxed);
    }

    /// The tag to load for `space` on CPU `cpu`, and what the CPU must
    /// flush first. Linux's `check_and_switch_context`; the caller holds
    /// the space's lock and has joined the CPUs running the space (the
    /// other half of [`SpaceTag::flush_others_at_switch`]'s Dekker pair).
    pub fn switch_to(&self, space: &SpaceTag, cpu: usize) -> (u16, TagFlush) {
        let (tag, everything) = self.tag_for(space, cpu);
        // Joined the running CPUs, now look at the mark (SeqCst: see the
        // module doc). Only this CPU clears its bit.
        fence(Ordering::SeqCst);
        let bit = 1u64 << cpu;
        let stale = space.stale.load(Ordering::Relaxed) & bit != 0;
        if stale {
            space.stale.fetch_and(!bit, Ordering::Relaxed);
        }
        let flush = match (everything, stale && !self.skip_stale.load(Ordering::Relaxed)) {
            (true, _) => TagFlush::Everything,
            (false, true) => {
                self.stale_flushes.fetch_add(1, Ordering::Relaxed);
                TagFlush::Tag
            }
            (false, false) => TagFlush::Nothing,
        };
        (tag, flush)
    }

    /// The tag to load for `space` on CPU `cpu`, and whether the CPU must
    /// first flush its whole TLB (every tag).
    fn tag_for(&self, space: &SpaceTag, cpu: usize) -> (u16, bool) {
        let id = space.id.load(Ordering::Relaxed);
        let generation = self.generation.load(Ordering::Relaxed);
        let old_active = self.active[cpu].load(Ordering::Relaxed);
        // Fast path: a current id, and no rollover took this CPU's active
        // id meanwhile (then the exchange fails and the slow path sees the
        // new generation under the lock; if it succeeds, a later rollover
        // sees this id as active and keeps it).
        if self.force_every.load(Ordering::Relaxed) == 0
            && old_active != 0
            && id & !TAG_MASK == generation
            && self.active[cpu].compare_exchange(old_active, id, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            return ((id & TAG_MASK) as u16, false);
        }
        let mut state = self.state.lock();
        let every = self.force_every.load(Ordering::Relaxed);
        if every != 0 {
            state.switches += 1;
            if state.switches >= every {
                state.switches = 0;
                self.rollover(&mut state);
            }
        }
        let mut id = space.id.load(Ordering::Relaxed);
        if id & !TAG_MASK != self.generation.load(Ordering::Relaxed) {
            id = self.new_context(&mut state, id);
            space.id.store(id, Ordering::Relaxed);
        }
        let flush = self.flush_pending[cpu].swap(false, Ordering::Relaxed);
        self.active[cpu].store(id, Ordering::Relaxed);
        ((id & TAG_MASK) as u16, flush)
    }

    /// Linux's `new_context`: the space's old tag if a CPU kept it over the
    /// rollover or it is still free, else a free one, rolling over when
    /// none is left.
    fn new_context(&self, state: &mut State<CPUS>, old: u64) -> u64 {
        let generation = self.generation.load(Ordering::Relaxed);
        if old != 0 {
            let tag = old & TAG_MASK;
            let new = generation | tag;
            // Active on a CPU during the rollover: it stays this space's.
            let mut hit = false;
            for reserved in state.reserved.iter_mut() {
                if *reserved == old {
                    *reserved = new;
                    hit = true;
                }
            }
            if hit {
                return new;
            }
            if tag < self.count() && !test_and_set(&mut state.map, tag) {
                return new;
            }
        }
        let tag = match self.find_free(state, state.next) {
            Some(tag) => tag,
            None => {
                self.rollover(state);
                self.find_free(state, 1).expect("more tags than CPUs: a rollover leaves one free")
            }
        };
        test_and_set(&mut state.map, tag);
        state.next = tag;
        self.generation.load(Ordering::Relaxed) | tag
    }

    /// Linux's `flush_context` with the generation bump.
    fn rollover(&self, state: &mut State<CPUS>) {
        self.generation.fetch_add(1 << TAG_SHIFT, Ordering::Relaxed);
        self.rollovers.fetch_add(1, Ordering::Relaxed);
        state.map.fill(0);
        test_and_set(&mut state.map, 0);
        for cpu in 0..CPUS {
            let mut id = self.active[cpu].swap(0, Ordering::Relaxed);
            // A CPU that has not switched since the last rollover: its
            // reserved id is all that says what it runs.
            if id == 0 {
                id = state.reserved[cpu];
            }
            test_and_set(&mut state.map, id & TAG_MASK);
            state.reserved[cpu] = id;
        }
        state.next = 1;
        if !self.skip_flush.load(Ordering::Relaxed) {
            self.flush_pending.iter().for_each(|pending| pending.store(true, Ordering::Relaxed));
        }
    }

    /// The first free tag at or after `from` (below [`Self::count`]).
    fn find_free(&self, state: &State<CPUS>, from: u64) -> Option<u64> {
        let count = self.count();
        let mut tag = from.max(1);
        while tag < count {
            let word = state.map[(tag / 64) as usize];
            if word == u64::MAX {
                tag = (tag / 64 + 1) * 64;
                continue;
            }
            if word & (1 << (tag % 64)) == 0 {
                return Some(tag);
            }
            tag += 1;
        }
        None
    }
}

/// Sets bit `tag`; whether it was set.
fn test_and_set(map: &mut [u64], tag: u64) -> bool {
    let (word, bit) = ((tag / 64) as usize, 1u64 << (tag % 64));
    let was = map[word] & bit != 0;
    map[word] |= bit;
    was
}
