//! Threads and the scheduler.
//!
//! One scheduler loop per CPU runs on that CPU's boot stack, takes the next
//! runnable thread from the one shared run queue and switches to it;
//! a thread gives the CPU back by switching to the loop ([`yield_now`],
//! [`block_current`], [`exit_current_thread`]). The kernel runs with
//! interrupts off, so nothing preempts it between those points; user code is
//! preempted by the timer tick ([`tick`], then a yield in `trap::interrupt`).
//!
//! A thread that blocks is off the run queue until [`wake`] puts it back.
//! The loop requeues, parks or frees a thread only after it has switched
//! away from it (see [`State`]).

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};

use crate::config::MAX_CPUS;
use crate::sync::Mutex;
use rmm::PAGE_SIZE;
use tessera_abi::error::{ENOMEM, Error, Result};
use tessera_bootinfo::phys_to_virt;

use crate::arch::{self, Context, FpuState, TrapFrame};
use crate::mm::{self, tlb::CpuSet};
use crate::process::Process;

/// Kernel stack of each thread.
const KERNEL_STACK_PAGES: usize = 4;
/// Frames an idle CPU zeroes between two looks at the run queue (and two
/// interrupt windows): about 10-30 µs under QEMU's TCG, far less on hardware.
const IDLE_ZERO_BATCH: usize = 8;

/// A kernel stack: contiguous frames reached through the physical window.
struct KernelStack {
    base: rmm::PhysAddr,
}

impl KernelStack {
    fn new() -> Result<Self> {
        let base = mm::allocate_contiguous(KERNEL_STACK_PAGES).ok_or(Error::new(ENOMEM))?;
        Ok(Self { base })
    }
    fn top(&self) -> u64 {
        phys_to_virt(self.base.get()) + KERNEL_STACK_PAGES as u64 * PAGE_SIZE
    }
}

impl Drop for KernelStack {
    fn drop(&mut self) {
        for i in 0..KERNEL_STACK_PAGES as u64 {
            mm::free_frame(self.base.add(i * PAGE_SIZE));
        }
    }
}

/// Where a thread stands. Only the CPU that runs a thread moves it off the
/// CPU, and only after it has switched away does the thread go back on the
/// run queue or become `Blocked`; so a thread is never run by two CPUs, and
/// a wake that races with blocking is never lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum State {
    /// On a CPU (or about to be).
    Running = 0,
    /// On a CPU, switching away to wait; a wake now cancels the wait.
    Blocking = 1,
    /// Off every CPU, waiting for [`wake`].
    Blocked = 2,
    /// On the run queue.
    Runnable = 3,
}

/// A kernel thread that runs a user thread of `process`.
pub struct Thread {
    pub process: Arc<Process>,
    /// Thread id: the process's pid for its first thread, else a fresh
    /// number from the same counter (as Linux).
    pub tid: usize,
    /// Asked to end alone (its process is replacing its program): the
    /// thread leaves at its next return to user mode, blocking calls return
    /// EINTR meanwhile.
    pub leave: AtomicBool,
    /// A user `u32` the kernel zeroes, then wakes a futex waiter on, when the
    /// thread ends (`exit_thread`'s argument; 0 for none).
    pub clear_tid: AtomicUsize,
    stack: KernelStack,
    context: UnsafeCell<Context>,
    fpu: UnsafeCell<FpuState>,
    state: AtomicU8,
    /// Set by every [`wake`]; a block that finds it set does not wait.
    woken: AtomicBool,
}

// SAFETY: `context` and `fpu` are only touched by the CPU switching away from
// or to the thread, with interrupts off, and the state machine above makes
// that one CPU at a time; everything else is atomic or Sync.
unsafe impl Sync for Thread {}
// SAFETY: as above.
unsafe impl Send for Thread {}

impl Thread {
    /// Thread `tid` of `process`, which starts in user mode with `frame` and
    /// FP/SIMD registers `fpu`.
    pub fn new(process: Arc<Process>, tid: usize, frame: &TrapFrame, fpu: FpuState) -> Result<Arc<Self>> {
        let stack = KernelStack::new()?;
        // SAFETY: the stack is fresh and KERNEL_STACK_PAGES long.
        let context = unsafe { Context::new_user(stack.top(), frame) };
        Ok(Arc::new(Self {
            process,
            tid,
            leave: AtomicBool::new(false),
            clear_tid: AtomicUsize::new(0),
            stack,
            context: UnsafeCell::new(context),
            fpu: UnsafeCell::new(fpu),
            state: AtomicU8::new(State::Runnable as u8),
            woken: AtomicBool::new(false),
        }))
    }

    /// SeqCst, with the `woken` flag's accesses: see [`wake`].
    fn cas(&self, from: State, to: State) -> bool {
        self.state.compare_exchange(from as u8, to as u8, Ordering::SeqCst, Ordering::SeqCst).is_ok()
    }

    fn set(&self, state: State) {
        self.state.store(state as u8, Ordering::Release);
    }
}

/// Why a thread went back to the scheduler loop.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reason {
    Yield,
    Block,
    Exit,
}

/// One CPU's scheduler state.
struct Cpu {
    /// The scheduler loop's own context.
    idle: UnsafeCell<Context>,
    current: Mutex<Option<Arc<Thread>>>,
    /// Why `current` came back to the loop.
    reason: Mutex<Reason>,
    /// Ticks on this CPU, and those that interrupted user code.
    ticks: AtomicUsize,
    busy_ticks: AtomicUsize,
    /// Reschedule IPIs this CPU received.
    ipis: AtomicUsize,
    /// The CPU's hardware id (APIC id / MPIDR), for IPIs.
    hw_id: AtomicUsize,
    /// Waiting for an interrupt with nothing to run.
    waiting: AtomicBool,
    /// A tick found this CPU waiting, and it has run no thread since: it
    /// is idle for longer than a moment and may zero frames (`run`).
    idle_ticked: AtomicBool,
    /// The CPU set of the address space whose root this CPU has loaded
    /// (this CPU is in it), for TLB shootdowns.
    space_cpus: Mutex<Option<Arc<CpuSet>>>,
}

// SAFETY: `idle` is only touched by its own CPU with interrupts off.
unsafe impl Sync for Cpu {}

#[allow(clippy::declare_interior_mutable_const, reason = "only used to initialise CPUS")]
const IDLE_CPU: Cpu = Cpu {
    idle: UnsafeCell::new(Context::new()),
    current: Mutex::new(None),
    reason: Mutex::new(Reason::Yield),
    ticks: AtomicUsize::new(0),
    busy_ticks: AtomicUsize::new(0),
    ipis: AtomicUsize::new(0),
    hw_id: AtomicUsize::new(0),
    waiting: AtomicBool::new(false),
    idle_ticked: AtomicBool::new(false),
    space_cpus: Mutex::new(None),
};
static CPUS: [Cpu; MAX_CPUS] = [IDLE_CPU; MAX_CPUS];
/// CPUs running the scheduler loop.
static ONLINE: AtomicUsize = AtomicUsize::new(0);
static RUN_QUEUE: Mutex<VecDeque<Arc<Thread>>> = Mutex::new(VecDeque::new());
/// Context switches so far (for `sys:`).
pub static SWITCHES: AtomicUsize = AtomicUsize::new(0);
/// User roots loaded so far (for `sys:`): fewer than the switches, as a
/// thread that follows one of its own process keeps the root loaded.
pub static ROOT_LOADS: AtomicUsize = AtomicUsize::new(0);

fn this_cpu() -> &'static Cpu {
    &CPUS[arch::cpu_index()]
}

/// Makes a new thread runnable.
pub fn spawn(thread: Arc<Thread>) {
    thread.set(State::Runnable);
    RUN_QUEUE.lock().push_back(thread);
    kick_idle_cpu();
}

/// Wakes one idle CPU (other than this one) with a reschedule IPI, so new
/// work starts at once instead of at that CPU's next tick.
fn kick_idle_cpu() {
    let me = arch::cpu_index();
    let online = ONLINE.load(Ordering::Relaxed);
    if let Some(cpu) = CPUS
        .iter()
        .take(MAX_CPUS)
        .enumerate()
        .filter(|&(i, _)| i != me)
        .find_map(|(_, c)| c.waiting.load(Ordering::Acquire).then_some(c))
        && online > 1
    {
        arch::irq::send_ipi(cpu.hw_id.load(Ordering::Relaxed), arch::irq::IpiKind::Reschedule);
    }
}

/// A reschedule IPI arrived: nothing to do but count it (the loop looks at
/// the run queue when the interrupt returns).
pub fn reschedule_ipi() {
    this_cpu().ipis.fetch_add(1, Ordering::Relaxed);
}

/// The running thread. Panics outside a thread (in the scheduler loop).
pub fn current() -> Arc<Thread> {
    this_cpu().current.lock().clone().expect("no current thread")
}

/// This CPU's scheduler loop: runs threads until `done()` holds while
/// nothing is runnable; then returns.
pub fn run(mut done: impl FnMut() -> bool) {
    let cpu = this_cpu();
    cpu.hw_id.store(arch::irq::hardware_id(), Ordering::Relaxed);
    ONLINE.fetch_add(1, Ordering::Relaxed);
    loop {
        let next = RUN_QUEUE.lock().pop_front();
        let Some(next) = next else {
            // An idle CPU holds no address space (the last thread's was
            // kept for the next thread: below).
            leave_user_space();
            if done() {
                ONLINE.fetch_sub(1, Ordering::Relaxed);
                return;
            }
            // Nothing to run for a tick or more: zero a few free frames
            // for the pool that demand-zero faults take from
            // (`mm::zero_idle_frames`), then let interrupts in and look
            // again; wait once the pool is full. A CPU idle only for a
            // moment (a thread waiting for a device or a scheme's answer)
            // just waits: zeroing would make it late for the wake-up and,
            // under an emulator, compete with the device's own thread.
            if cpu.idle_ticked.load(Ordering::Relaxed) && mm::zero_idle_frames(IDLE_ZERO_BATCH) {
                arch::interrupt_window();
                continue;
            }
            cpu.waiting.store(true, Ordering::Release);
            arch::wait_for_interrupt();
            cpu.waiting.store(false, Ordering::Release);
            continue;
        };
        cpu.idle_ticked.store(false, Ordering::Relaxed);
        next.set(State::Running);
        // SAFETY: the thread is off every other CPU (state machine), its
        // address space is valid, and its context was saved by a switch or
        // made by `Context::new_user`.
        unsafe {
            arch::set_kernel_stack(next.stack.top());
            match next.process.space.lock().as_ref() {
                // The space the last thread left loaded: this CPU stayed in
                // its set, so every shootdown reached it, and its root is
                // loaded already (no switch: a TLB flush fewer on x86_64
                // and under QEMU's TCG).
                Some(space) if holds(cpu, &space.cpus) => {}
                Some(space) => enter_user_space(space),
                None => leave_user_space(),
            }
            (*next.fpu.get()).restore();
            *cpu.current.lock() = Some(next.clone());
            SWITCHES.fetch_add(1, Ordering::Relaxed);
            (*cpu.idle.get()).switch(&*next.context.get());
        }
        // Back in the loop: the thread is off this CPU now. Its space
        // stays loaded until the loop knows what runs next (above); a space
        // freed meanwhile makes this CPU leave it first (`UserSpace`'s
        // drop).
        let prev = cpu.current.lock().take().expect("the thread we ran");
        match *cpu.reason.lock() {
            Reason::Yield => spawn(prev),
            // A wake between `block_current` and here turned Blocking back
            // into Running: then the thread stays runnable.
            Reason::Block if prev.cas(State::Blocking, State::Blocked) => {}
            Reason::Block => spawn(prev),
            Reason::Exit => {
                leave_user_space();
                drop(prev);
            }
        }
    }
}

/// Whether `cpu` has the space with CPU set `set` loaded (each space has
/// its own set, which this CPU's reference keeps from being reused).
fn holds(cpu: &Cpu, set: &Arc<CpuSet>) -> bool {
    cpu.space_cpus.lock().as_ref().is_some_and(|held| Arc::ptr_eq(held, set))
}

/// Whether this CPU has the space with CPU set `set` loaded.
pub fn holds_space(set: &Arc<CpuSet>) -> bool {
    holds(this_cpu(), set)
}

/// Loads the kernel-only root and leaves the CPU set of the address space
/// that was loaded: this CPU no longer walks its tables, and the space may
/// be freed once every CPU has left. (Its TLB entries stay where the arch
/// tags them, aarch64's ASIDs; shootdowns reach them by tag.) Nothing to
/// do if none is loaded.
pub fn leave_user_space() {
    let Some(set) = this_cpu().space_cpus.lock().take() else { return };
    mm::activate_kernel_only();
    set.remove(arch::cpu_index());
}

/// Loads `space`'s root instead of the one loaded (if any: the scheduler
/// loop's next thread, or exec's new space), and moves this
/// CPU from the old space's set to `space`'s: into the new set before its
/// root is loaded (a shootdown from then on reaches this CPU), out of the
/// old one only after its root is gone (so it is not freed while loaded).
/// Where the arch allows it ([`arch::DIRECT_SPACE_SWITCH`]) one root is
/// loaded over the other, else through the kernel-only one.
pub fn enter_user_space(space: &mm::UserSpace) {
    if !arch::DIRECT_SPACE_SWITCH {
        leave_user_space();
    }
    space.cpus.insert(arch::cpu_index());
    let old = this_cpu().space_cpus.lock().replace(space.cpus.clone());
    // SAFETY: a user root shares the kernel half.
    unsafe { arch::activate_user_space(space.root(), &space.tag) };
    ROOT_LOADS.fetch_add(1, Ordering::Relaxed);
    if let Some(old) = old.filter(|old| !Arc::ptr_eq(old, &space.cpus)) {
        old.remove(arch::cpu_index());
    }
}

/// Switches from the current thread to this CPU's scheduler loop.
fn to_scheduler(thread: &Thread, reason: Reason) {
    let cpu = this_cpu();
    *cpu.reason.lock() = reason;
    // SAFETY: interrupts are off; the loop's context was saved when it
    // switched to this thread, and this thread's context is only touched
    // by the CPU running it.
    unsafe {
        (*thread.fpu.get()).save();
        (*thread.context.get()).switch(&*cpu.idle.get());
    }
}

/// Lets other threads run; the current one stays runnable.
pub fn yield_now() {
    let me = current();
    to_scheduler(&me, Reason::Yield);
}

/// Stops running the current thread until [`wake`]. Register as a waiter
/// first, then check the condition, then call this: a wake at any point
/// after registering is not lost (it makes this return at once). Wakes can
/// be spurious: the caller re-checks its condition after this returns.
pub fn block_current() {
    let me = current();
    if !me.cas(State::Running, State::Blocking) {
        return;
    }
    if me.woken.swap(false, Ordering::SeqCst) {
        me.cas(State::Blocking, State::Running);
        return;
    }
    to_scheduler(&me, Reason::Block);
    me.woken.store(false, Ordering::Release);
}

/// Makes a blocked thread runnable again (no effect on a runnable one).
///
/// The waker writes `woken` and then reads the state; the blocker
/// ([`block_current`]) writes the state and then reads `woken`. Those four
/// accesses are SeqCst, so one of the two sees the other's write: either the
/// blocker finds `woken` set and does not block, or the waker finds it
/// Blocking or Blocked and cancels or ends the wait. (With release and
/// acquire alone the language would allow both to read the old values, a
/// lost wake-up; the CPUs' own orderings happen to forbid it, and SeqCst
/// costs nothing more on aarch64 and next to nothing on x86_64.)
pub fn wake(thread: &Arc<Thread>) {
    wake_with(thread, true);
}

/// [`wake`] by a thread that blocks right after (a synchronous call: the
/// caller of a scheme waiting for its reply, a daemon with nothing left to
/// read): no idle CPU is interrupted for `thread`, which this CPU runs as
/// soon as the waker blocks (Linux's `WF_SYNC`). A call then costs no
/// inter-processor interrupt and no wake-up of a halted CPU either way.
/// Should the waker not block after all, `thread` runs when this or
/// another CPU next looks at the run queue (at the latest the next tick).
pub fn wake_sync(thread: &Arc<Thread>) {
    wake_with(thread, false);
}

fn wake_with(thread: &Arc<Thread>, kick: bool) {
    thread.woken.store(true, Ordering::SeqCst);
    loop {
        if thread.cas(State::Blocked, State::Runnable) {
            RUN_QUEUE.lock().push_back(thread.clone());
            if kick {
                kick_idle_cpu();
            }
            return;
        }
        // Still switching away: cancel the wait; its CPU's loop requeues it.
        if thread.cas(State::Blocking, State::Running) {
            return;
        }
        // Neither: running or runnable (nothing to do) — or its CPU moved it
        // from Blocking to Blocked between the two attempts: try again.
        if thread.state.load(Ordering::SeqCst) != State::Blocked as u8 {
            return;
        }
    }
}

/// Ends the current thread for good; the loop drops it (and its stack).
pub fn exit_current_thread() -> ! {
    let me = current();
    let thread: *const Thread = Arc::as_ptr(&me);
    drop(me);
    // SAFETY: `current` keeps the thread alive until the loop takes it.
    to_scheduler(unsafe { &*thread }, Reason::Exit);
    unreachable!("a dead thread was resumed")
}

/// CPUs running the scheduler.
pub fn online_cpus() -> usize {
    ONLINE.load(Ordering::Relaxed)
}

/// Per-CPU (ticks, busy ticks, reschedule IPIs), for the CPUs that ever
/// ticked.
pub fn cpu_ticks() -> Vec<(usize, usize, usize)> {
    CPUS.iter()
        .map(|c| {
            (c.ticks.load(Ordering::Relaxed), c.busy_ticks.load(Ordering::Relaxed), c.ipis.load(Ordering::Relaxed))
        })
        .take_while(|&(ticks, _, _)| ticks > 0)
        .collect()
}

/// Threads sleeping until a monotonic deadline (ns).
static SLEEPERS: Mutex<Vec<(u64, Arc<Thread>)>> = Mutex::new(Vec::new());

/// The timer tick: counts time and wakes sleepers whose deadline passed.
pub fn tick(in_user: bool) {
    let cpu = this_cpu();
    cpu.ticks.fetch_add(1, Ordering::Relaxed);
    if cpu.waiting.load(Ordering::Relaxed) {
        cpu.idle_ticked.store(true, Ordering::Relaxed);
    }
    if in_user {
        cpu.busy_ticks.fetch_add(1, Ordering::Relaxed);
    }
    let now = arch::time::monotonic_ns();
    let mut sleepers = SLEEPERS.lock();
    let mut i = 0;
    while i < sleepers.len() {
        if sleepers[i].0 <= now {
            let (_, thread) = sleepers.swap_remove(i);
            wake(&thread);
        } else {
            i += 1;
        }
    }
}

/// Blocks the current thread until the monotonic clock reaches
/// `deadline_ns` (woken by the first tick after it), or until it is woken
/// for another reason (a kill): the caller re-checks.
pub fn sleep_until(deadline_ns: u64) {
    if arch::time::monotonic_ns() >= deadline_ns {
        return;
    }
    let me = current();
    SLEEPERS.lock().push((deadline_ns, me.clone()));
    block_current();
    // Woken early (a kill): do not leave the thread, and its stack, on the
    // list until the deadline.
    SLEEPERS.lock().retain(|(_, t)| !Arc::ptr_eq(t, &me));
}

/// Runnable threads waiting for a CPU.
pub fn runnable() -> usize {
    RUN_QUEUE.lock().len()
}
