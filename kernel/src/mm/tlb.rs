//! TLB shootdown: after a user mapping is removed or reduced, no CPU may
//! keep using the old translation, and the frames behind it may be freed
//! only once every CPU that could hold it has dropped it.
//!
//! ```text
//!  sender (CPU s)                               target (CPU t)
//!  change PTEs (the space's lock held throughout)
//!  shootdown(&space.cpus, &space.tag, ranges)
//!    flush own TLB
//!    write request s (ranges, generation g)
//!    mailbox[t] |= 1 << s ; IPI ───────────►   (IRQs on: at once; in the
//!    wait: acked[t] >= g, or t left the space    kernel: at the next return
//!      (serving its own mailbox meanwhile)       to user or idle wait)
//!                                              IPI handler: take mailbox,
//!                                                read request s, flush,
//!                             ◄─────────────     acked[t] = g
//!  free the frames (put_ref)
//! ```
//!
//! - **Mailboxes.** Each CPU has one outgoing request (a shootdown is
//!   synchronous, so a CPU has at most one in flight) and one incoming
//!   mailbox: a bitmask of the senders whose request it has not read yet.
//!   The request is a seqlock (its sequence is odd while written), so a
//!   target that reads a request being replaced sees the tear and flushes
//!   everything instead; acknowledgements are per (sender, target) as the
//!   generation the target last handled, so a late or stale post cannot
//!   acknowledge a newer request.
//! - **No deadlock between senders.** A waiting sender serves its own
//!   mailbox, so two CPUs shooting at each other both finish.
//! - **The lock rule** (stated here once; `UserSpace::run` and
//!   `crate::sync` follow it). The kernel runs with interrupts off, so a
//!   target acknowledges when it next enables them (return to user mode,
//!   idle wait), when it waits for acknowledgements itself, or while it
//!   spins on a kernel lock: `crate::sync::Mutex` serves this CPU's mailbox
//!   in its spin loop ([`serve_pending`]). So a sender may call
//!   [`shootdown`] holding `sync::Mutex` locks, and it does: `UserSpace::run`
//!   changes the page table, shoots down and releases the frames all under
//!   the address space's lock, and a thread of the same process spinning on
//!   that lock on another CPU acknowledges from its spin loop. It must never
//!   hold a lock that another CPU may wait for without serving its mailbox
//!   (a bare `spin` lock, or any wait loop that does not call
//!   [`serve_pending`]): that CPU would never acknowledge. Frames are freed
//!   only after the shootdown returns (`Shootdown::finish`).
//! - **Early acknowledgement.** Where a switch of translation base drops
//!   all user entries (x86_64 without PCIDs: [`arch::tlb::SWITCH_FLUSHES`]),
//!   a target whose bit has left the address space's [`CpuSet`] has none
//!   of the space's entries left; the sender counts it as done without
//!   waiting. Where entries are tagged with an address-space id (aarch64
//!   ASIDs) they outlive the switch, so every flush names the space's tag
//!   and reaches every CPU, in the set or not (or, where no other CPU is
//!   in the set, each CPU drops the tag at its next switch to the space:
//!   below).
//! - **aarch64** needs no IPIs: `TLBI ...IS` plus `DSB ISH` on the sender
//!   completes the invalidation on every CPU ([`arch::tlb::BROADCAST`]), so
//!   [`shootdown`] there only flushes, and only its own TLB where no other
//!   CPU runs the space: the others drop the space's ASID at their next
//!   switch to it (`tessera_mm::tags`, "Flushes left to the next switch").
//!   The mailbox path still exists on both arches ([`shootdown_by_ipi`];
//!   the boot self-test uses it).

#![deny(unsafe_code)]

use alloc::vec::Vec;
use core::ops::Range;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};

use rmm::{PAGE_SIZE, PhysAddr};
use tessera_bootinfo::USER_END;

use super::{RefError, allocate_frame, free_frames, get_ref, put_ref, refcount};
use crate::arch::{self, irq};
use crate::config::MAX_CPUS;
use crate::println;

const _: () = assert!(MAX_CPUS <= CpuSet::CAPACITY, "a CpuSet must hold every CPU");

/// At most this many ranges travel in a request; more become a full flush.
pub const MAX_RANGES: usize = 4;
/// Above this many pages a full flush of the user entries is cheaper than
/// one invalidation per page.
const FULL_FLUSH_PAGES: u64 = 32;
/// A sender that waits this long says so once; after [`PANIC_NS`] it gives
/// up (a CPU stuck with interrupts off, or the lock rule broken).
const WARN_NS: u64 = 1_000_000_000;
const PANIC_NS: u64 = 30_000_000_000;

/// A set of CPU indices (up to 64), changed atomically. An address space
/// holds one: the CPUs that may have its user entries in their TLB.
///
/// The scheduler keeps it so (the shootdown relies on both rules):
/// - [`CpuSet::insert`] this CPU **before** activating the space's table,
///   so a shootdown either sees the bit or the CPU's walks see the new PTEs;
/// - [`CpuSet::remove`] it only **after** activating another table (which
///   dropped the space's entries from this CPU's TLB).
#[derive(Debug, Default)]
pub struct CpuSet(AtomicU64);

impl CpuSet {
    /// The most CPUs a set can name.
    pub const CAPACITY: usize = 64;

    /// The empty set.
    pub const fn new() -> Self {
        Self(AtomicU64::new(0))
    }

    /// The set whose bit `i` is bit `i` of `mask`.
    pub const fn from_mask(mask: u64) -> Self {
        Self(AtomicU64::new(mask))
    }

    /// Adds `cpu` (a full barrier: later page walks of this CPU are ordered
    /// after it).
    pub fn insert(&self, cpu: usize) {
        self.0.fetch_or(Self::bit(cpu), Ordering::SeqCst);
    }

    /// Removes `cpu`.
    pub fn remove(&self, cpu: usize) {
        self.0.fetch_and(!Self::bit(cpu), Ordering::Release);
    }

    /// Whether `cpu` is in the set.
    pub fn contains(&self, cpu: usize) -> bool {
        self.mask() & Self::bit(cpu) != 0
    }

    /// The members as a bitmask (bit `i` = CPU `i`).
    pub fn mask(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// Members.
    pub fn len(&self) -> usize {
        self.mask().count_ones() as usize
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.mask() == 0
    }

    fn bit(cpu: usize) -> u64 {
        assert!(cpu < Self::CAPACITY, "CPU index {cpu} does not fit a CpuSet");
        1 << cpu
    }
}

/// The indices of the set bits of `mask`, lowest first.
fn bits(mut mask: u64) -> impl Iterator<Item = usize> {
    core::iter::from_fn(move || {
        let cpu = mask.trailing_zeros() as usize;
        mask &= mask.wrapping_sub(1);
        (cpu < 64).then_some(cpu)
    })
}

/// What to invalidate: whole pages of the user half, or all user entries,
/// of one address space's tag (aarch64 ASID; 0 where the arch has none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flush {
    All {
        asid: u16,
    },
    /// Every user entry of every tag (a request torn while read).
    Everything,
    /// `(first page address, page count)`, the first `len` used.
    Pages {
        asid: u16,
        ranges: [(u64, u64); MAX_RANGES],
        len: usize,
    },
}

impl Flush {
    /// The pages touching `ranges` (clipped to the user half) of the space
    /// tagged `asid`, or a full flush if they are too many.
    fn new(asid: u16, ranges: &[Range<u64>]) -> Self {
        let mut out = [(0, 0); MAX_RANGES];
        let (mut len, mut total) = (0, 0);
        for range in ranges {
            let start = range.start & !(PAGE_SIZE - 1);
            let end = range.end.min(USER_END).next_multiple_of(PAGE_SIZE);
            if start >= end {
                continue;
            }
            let pages = (end - start) / PAGE_SIZE;
            total += pages;
            if len == MAX_RANGES || total > FULL_FLUSH_PAGES {
                return Flush::All { asid };
            }
            out[len] = (start, pages);
            len += 1;
        }
        Flush::Pages { asid, ranges: out, len }
    }

    /// Flushes this CPU's TLB.
    fn run_local(&self) {
        match *self {
            Flush::All { asid } => arch::tlb::flush_user_all_local(asid),
            Flush::Everything => arch::tlb::flush_everything_local(),
            Flush::Pages { asid, ranges, len } => {
                ranges[..len].iter().for_each(|&(start, pages)| arch::tlb::flush_user_pages_local(asid, start, pages))
            }
        }
    }

    /// Flushes this CPU's TLB, and every CPU's where the arch broadcasts.
    fn run(&self) {
        match *self {
            Flush::All { asid } => arch::tlb::flush_user_all(asid),
            Flush::Everything => arch::tlb::flush_everything(),
            Flush::Pages { asid, ranges, len } => {
                ranges[..len].iter().for_each(|&(start, pages)| arch::tlb::flush_user_pages(asid, start, pages))
            }
        }
    }
}

/// One CPU's outgoing request. Written only by its CPU, read by targets.
struct Request {
    /// Seqlock sequence: odd while the fields below are written; `2 * g`
    /// once generation `g` is complete.
    seq: AtomicU64,
    /// [`FULL`] or the number of ranges.
    len: AtomicUsize,
    /// The address space's tag (ASID).
    asid: AtomicU64,
    /// `(first page address, page count)`.
    ranges: [[AtomicU64; 2]; MAX_RANGES],
    /// Per target CPU: the last generation it handled.
    acked: [AtomicU64; MAX_CPUS],
}

/// `Request::len` of a full flush.
const FULL: usize = usize::MAX;
/// `Request::len` of a flush of every tag.
const EVERYTHING: usize = usize::MAX - 1;

impl Request {
    /// Publishes `flush` as the next generation; returns the generation.
    fn publish(&self, flush: &Flush) -> u64 {
        let seq = self.seq.load(Ordering::Relaxed);
        debug_assert!(seq.is_multiple_of(2));
        // Release: the PTE changes before this are visible to a target that
        // sees the odd sequence (it then flushes everything).
        self.seq.store(seq + 1, Ordering::Release);
        fence(Ordering::Release);
        match *flush {
            Flush::All { asid } => {
                self.asid.store(u64::from(asid), Ordering::Relaxed);
                self.len.store(FULL, Ordering::Relaxed);
            }
            Flush::Everything => self.len.store(EVERYTHING, Ordering::Relaxed),
            Flush::Pages { asid, ranges, len } => {
                self.asid.store(u64::from(asid), Ordering::Relaxed);
                for (slot, &(start, pages)) in self.ranges.iter().zip(&ranges[..len]) {
                    slot[0].store(start, Ordering::Relaxed);
                    slot[1].store(pages, Ordering::Relaxed);
                }
                self.len.store(len, Ordering::Relaxed);
            }
        }
        self.seq.store(seq + 2, Ordering::Release);
        (seq + 2) / 2
    }

    /// Reads the current request: the flush and its generation. A request
    /// being rewritten reads as a full flush of the newest generation seen
    /// (of every tag: the one being written is unknown).
    fn read(&self) -> (Flush, u64) {
        let first = self.seq.load(Ordering::Acquire);
        let len = self.len.load(Ordering::Relaxed);
        let asid = self.asid.load(Ordering::Relaxed) as u16;
        let mut ranges = [(0, 0); MAX_RANGES];
        if len < EVERYTHING {
            for (out, slot) in ranges.iter_mut().zip(&self.ranges).take(len.min(MAX_RANGES)) {
                *out = (slot[0].load(Ordering::Relaxed), slot[1].load(Ordering::Relaxed));
            }
        }
        fence(Ordering::Acquire);
        let last = self.seq.load(Ordering::Acquire);
        if first != last || !first.is_multiple_of(2) || len == EVERYTHING || (len != FULL && len > MAX_RANGES) {
            return (Flush::Everything, last.div_ceil(2));
        }
        let flush = if len == FULL { Flush::All { asid } } else { Flush::Pages { asid, ranges, len } };
        (flush, first / 2)
    }
}

/// Counters of one CPU (see [`CpuStats`]).
struct Counters {
    shootdowns: AtomicU64,
    local_only: AtomicU64,
    ipis_sent: AtomicU64,
    acks_received: AtomicU64,
    acks_by_switch: AtomicU64,
    ipis_received: AtomicU64,
    requests_served: AtomicU64,
    wait_ns: AtomicU64,
}

/// One CPU's shootdown state.
struct Cpu {
    /// Its hardware id for IPIs; valid once it is in [`READY`].
    hw_id: AtomicUsize,
    /// Senders (bit = CPU index) whose request it has not read yet.
    mailbox: AtomicU64,
    /// Its own request.
    request: Request,
    /// Set while it runs a shootdown (they do not nest).
    sending: AtomicBool,
    counters: Counters,
}

#[allow(clippy::declare_interior_mutable_const, reason = "only used to initialise CPUS")]
const ZERO: AtomicU64 = AtomicU64::new(0);
#[allow(clippy::declare_interior_mutable_const, reason = "only used to initialise CPUS")]
const ZERO_PAIR: [AtomicU64; 2] = [ZERO; 2];
#[allow(clippy::declare_interior_mutable_const, reason = "only used to initialise CPUS")]
const IDLE: Cpu = Cpu {
    hw_id: AtomicUsize::new(0),
    mailbox: AtomicU64::new(0),
    request: Request {
        seq: AtomicU64::new(0),
        len: AtomicUsize::new(0),
        asid: ZERO,
        ranges: [ZERO_PAIR; MAX_RANGES],
        acked: [ZERO; MAX_CPUS],
    },
    sending: AtomicBool::new(false),
    counters: Counters {
        shootdowns: ZERO,
        local_only: ZERO,
        ipis_sent: ZERO,
        acks_received: ZERO,
        acks_by_switch: ZERO,
        ipis_received: ZERO,
        requests_served: ZERO,
        wait_ns: ZERO,
    },
};
static CPUS: [Cpu; MAX_CPUS] = [IDLE; MAX_CPUS];
/// CPUs whose interrupt controller takes shootdown IPIs.
static READY: CpuSet = CpuSet::new();

/// Marks this CPU able to take shootdown IPIs: its interrupt controller is
/// on. Called once per CPU, with interrupts off.
pub fn cpu_ready() {
    let me = arch::cpu_index();
    CPUS[me].hw_id.store(irq::hardware_id(), Ordering::Relaxed);
    READY.insert(me);
}

/// Invalidates the user pages touching `ranges` (virtual, user half) of
/// the space with CPU set `cpus` and TLB tag `tag` on every CPU that may
/// hold them, and returns once none of them can use the old translations:
/// then the frames behind them may be freed. More than a few ranges or
/// pages become a flush of all the space's user entries.
///
/// - **x86_64**: by IPI and acknowledgement, to the other CPUs of `cpus`
///   (a switch drops a space's entries, so no other CPU holds them).
/// - **aarch64**: by broadcast TLBI where another CPU runs the space now;
///   else this CPU flushes only its own TLB, and every other CPU drops the
///   space's ASID when it next switches to the space
///   (`SpaceTag::flush_others_at_switch`; its entries tagged with the ASID
///   are of no use to it before then). A broadcast TLBI is a synchronised
///   flush of every vCPU under QEMU's TCG, and costs more on hardware too.
///
/// Locks the caller may hold: see the lock rule in the module doc (the
/// address space's own lock is fine). Never from an interrupt handler.
pub fn shootdown(cpus: &CpuSet, tag: &arch::SpaceTag, ranges: &[Range<u64>]) {
    if !arch::tlb::BROADCAST {
        shootdown_by_ipi(cpus, tag.asid(), ranges);
        return;
    }
    let me = arch::cpu_index();
    let counters = &CPUS[me].counters;
    counters.shootdowns.fetch_add(1, Ordering::Relaxed);
    let flush = Flush::new(tag.asid(), ranges);
    if cpus.mask() & !(1 << me) == 0 {
        // The local flush starts with a barrier that makes the PTE changes
        // visible to every CPU's walks before the others are marked.
        flush.run_local();
        if tag.flush_others_at_switch(me, || cpus.mask()) {
            counters.local_only.fetch_add(1, Ordering::Relaxed);
            return;
        }
    }
    // The flush starts with a barrier that orders the PTE changes first.
    flush.run();
}
/// Flushes `ranges` from this CPU's TLB only, leaving every other CPU's
/// entries stale: what a missing shootdown would do. Only for the
/// `sys:inject` knob that shows the guest test `mm-threads` catches it.
pub fn flush_local_only(asid: u16, ranges: &[Range<u64>]) {
    Flush::new(asid, ranges).run_local();
}

/// [`shootdown`] through the mailboxes, IPIs and acknowledgements even
/// where the hardware broadcasts (aarch64); flushes only this CPU's TLB
/// itself. Returns how many other CPUs acknowledged (or had left `cpus`).
/// Where a switch keeps a space's entries (tagged TLBs:
/// [`arch::tlb::SWITCH_FLUSHES`] false) every ready CPU is a target, not
/// only those in `cpus`, and none counts as done by leaving the set.
pub fn shootdown_by_ipi(cpus: &CpuSet, asid: u16, ranges: &[Range<u64>]) -> usize {
    // The PTE changes before the read of `cpus` (see CpuSet's rules).
    fence(Ordering::SeqCst);
    let flush = Flush::new(asid, ranges);
    let me = arch::cpu_index();
    CPUS[me].counters.shootdowns.fetch_add(1, Ordering::Relaxed);
    flush.run_local();
    let members = if arch::tlb::SWITCH_FLUSHES { cpus.mask() } else { u64::MAX };
    let targets = members & READY.mask() & !(1 << me);
    if targets != 0 {
        post_and_wait(me, targets, cpus, &flush);
    } else {
        CPUS[me].counters.local_only.fetch_add(1, Ordering::Relaxed);
    }
    targets.count_ones() as usize
}

/// Posts `flush` to `targets`, interrupts them and waits until each has
/// acknowledged or left `cpus`, serving this CPU's own mailbox meanwhile.
fn post_and_wait(me: usize, targets: u64, cpus: &CpuSet, flush: &Flush) {
    let cpu = &CPUS[me];
    assert!(!cpu.sending.swap(true, Ordering::Relaxed), "TLB shootdowns do not nest");
    let generation = cpu.request.publish(flush);
    for target in bits(targets) {
        CPUS[target].mailbox.fetch_or(1 << me, Ordering::AcqRel);
        // send_ipi fences first, so the target sees the post.
        irq::send_ipi(CPUS[target].hw_id.load(Ordering::Relaxed), irq::IpiKind::TlbShootdown);
    }
    cpu.counters.ipis_sent.fetch_add(u64::from(targets.count_ones()), Ordering::Relaxed);

    let started = arch::time::monotonic_ns();
    let mut warned = false;
    let mut waiting = targets;
    while waiting != 0 {
        serve_mailbox(me);
        for target in bits(waiting) {
            if cpu.request.acked[target].load(Ordering::Acquire) >= generation {
                cpu.counters.acks_received.fetch_add(1, Ordering::Relaxed);
                waiting &= !(1 << target);
            } else if arch::tlb::SWITCH_FLUSHES && !cpus.contains(target) {
                cpu.counters.acks_by_switch.fetch_add(1, Ordering::Relaxed);
                waiting &= !(1 << target);
            }
        }
        let waited = arch::time::monotonic_ns().saturating_sub(started);
        if waiting != 0 && waited > WARN_NS && !warned {
            warned = true;
            println!(
                "tlb: CPU {me} waits since {} ms for shootdown acknowledgements (CPUs {waiting:#x})",
                waited / 1_000_000
            );
        }
        assert!(waited < PANIC_NS, "tlb: CPUs {waiting:#x} never acknowledged CPU {me}'s shootdown");
        core::hint::spin_loop();
    }
    let waited = arch::time::monotonic_ns().saturating_sub(started);
    cpu.counters.wait_ns.fetch_add(waited, Ordering::Relaxed);
    cpu.sending.store(false, Ordering::Relaxed);
}

/// Serves every request posted to this CPU: flushes what each names and
/// acknowledges it.
fn serve_mailbox(me: usize) {
    let cpu = &CPUS[me];
    let mut served = 0;
    loop {
        let senders = cpu.mailbox.swap(0, Ordering::AcqRel);
        if senders == 0 {
            cpu.counters.requests_served.fetch_add(served, Ordering::Relaxed);
            return;
        }
        for sender in bits(senders) {
            let request = &CPUS[sender].request;
            let (flush, generation) = request.read();
            flush.run_local();
            // Release: the flush is complete before the sender sees this.
            request.acked[me].fetch_max(generation, Ordering::Release);
            served += 1;
        }
    }
}

/// Serves this CPU's mailbox if a request waits there: for loops that wait
/// with interrupts off (the kernel's spin locks, `crate::sync`), which the
/// IPI cannot reach.
#[inline]
pub fn serve_pending() {
    let me = arch::cpu_index();
    if CPUS[me].mailbox.load(Ordering::Acquire) != 0 {
        serve_mailbox(me);
    }
}

/// The shootdown IPI arrived: serve this CPU's mailbox. Called by the arch
/// interrupt entry before the generic handling (end of interrupt).
pub fn handle_ipi() {
    let me = arch::cpu_index();
    CPUS[me].counters.ipis_received.fetch_add(1, Ordering::Relaxed);
    serve_mailbox(me);
}

/// One CPU's shootdown counters since boot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuStats {
    /// Shootdowns this CPU started.
    pub shootdowns: u64,
    /// Of those, the ones that flushed only this CPU's TLB: no other CPU
    /// ran the space (aarch64: the others flush at their next switch to
    /// it).
    pub local_only: u64,
    /// Shootdown IPIs it sent.
    pub ipis_sent: u64,
    /// Acknowledgements it received (a target flushed for it).
    pub acks_received: u64,
    /// Targets it counted as done because they had left the address space.
    pub acks_by_switch: u64,
    /// Shootdown IPIs it received.
    pub ipis_received: u64,
    /// Requests of other CPUs it served (one flush each).
    pub requests_served: u64,
    /// Time it spent waiting for acknowledgements, in ns.
    pub wait_ns: u64,
}

/// The counters of CPUs `0..=n` (index = CPU index), `n` the highest CPU
/// that can take shootdown IPIs.
pub fn stats() -> Vec<CpuStats> {
    let count = CpuSet::CAPACITY - READY.mask().leading_zeros() as usize;
    CPUS.iter()
        .take(count)
        .map(|cpu| {
            let c = &cpu.counters;
            let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
            CpuStats {
                shootdowns: get(&c.shootdowns),
                local_only: get(&c.local_only),
                ipis_sent: get(&c.ipis_sent),
                acks_received: get(&c.acks_received),
                acks_by_switch: get(&c.acks_by_switch),
                ipis_received: get(&c.ipis_received),
                requests_served: get(&c.requests_served),
                wait_ns: get(&c.wait_ns),
            }
        })
        .collect()
}

/// Boot-time check, once `cpus` CPUs (this one included) were started: waits
/// up to 1 s for each to take IPIs; then, with a frame shared by two owners
/// that is freed only at the end, shoots one user page down on all the
/// others, first as [`shootdown`] does it on this arch, then through the
/// mailboxes ([`shootdown_by_ipi`]), and checks every acknowledgement came
/// (the counters must show them):
///
/// ```text
/// tlb: shootdown to <N> CPUs acknowledged in <N> us (<how user flushes reach other CPUs>)
/// ```
pub fn selftest(cpus: usize) {
    let started = arch::time::monotonic_ns();
    while READY.len() < cpus {
        let waited = arch::time::monotonic_ns() - started;
        assert!(waited < WARN_NS, "tlb: {} of {cpus} CPUs take IPIs after {} ms", READY.len(), waited / 1_000_000);
        core::hint::spin_loop();
    }
    let me = arch::cpu_index();
    let others = CpuSet::from_mask(READY.mask());
    others.remove(me);

    // A frame two owners share: the first release keeps it.
    let free_before = free_frames();
    let frame = allocate_frame().expect("tlb: a free frame");
    assert_eq!(get_ref(frame), Ok(2), "tlb: second reference");
    assert!(!put_ref(frame), "tlb: a frame with two owners was freed by one release");
    assert_eq!(refcount(frame), 1);
    let frame_zero = PhysAddr::new(0);
    assert_eq!(get_ref(frame_zero), Err(RefError::NotCounted), "tlb: frame 0 is never handed out");
    assert!(!put_ref(frame_zero));

    // Page 0 is never mapped: flushing it changes nothing but proves the path.
    let page_zero = 0..PAGE_SIZE;
    let before = stats()[me];
    shootdown(&others, &arch::SpaceTag::new(), core::slice::from_ref(&page_zero));
    let sent_at = arch::time::monotonic_ns();
    let acked = shootdown_by_ipi(&others, 0, core::slice::from_ref(&page_zero));
    let waited_us = (arch::time::monotonic_ns() - sent_at) / 1000;
    let after = stats()[me];
    let rounds = if arch::tlb::BROADCAST { 1 } else { 2 };
    assert_eq!(acked, others.len(), "tlb: not every other CPU was a target");
    assert_eq!(after.shootdowns - before.shootdowns, 2);
    assert_eq!(after.acks_received - before.acks_received, rounds * acked as u64, "tlb: acknowledgements missing");

    // Acknowledged: the last owner may free the frame.
    assert!(put_ref(frame), "tlb: the last release did not free the frame");
    assert_eq!(free_frames(), free_before, "tlb: frames leaked");
    let how = match (others.is_empty(), arch::tlb::BROADCAST) {
        (true, _) => "no other CPU",
        (false, true) => "IPI and mailbox; user flushes reach other CPUs by broadcast TLB invalidation",
        (false, false) => "IPI and mailbox",
    };
    println!("tlb: shootdown to {acked} CPUs acknowledged in {waited_us} us ({how})");
}
