//! Threads and the scheduler.
//!
//! One scheduler loop per CPU (only the boot CPU for now) runs on the boot
//! stack, picks the next runnable thread round-robin and switches to it;
//! a thread gives the CPU back by switching to the loop ([`yield_now`],
//! [`block_current`], [`exit_current_thread`]). The kernel runs with
//! interrupts off, so nothing preempts it between those points; user code is
//! preempted by the timer tick ([`tick`], then a yield in `trap::interrupt`).
//!
//! A thread that blocks is off the run queue until [`wake`] puts it back.
//! A dead thread's stack is freed by the loop after switching away from it.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use rmm::PAGE_SIZE;
use spin::Mutex;
use tessera_abi::error::{ENOMEM, Error, Result};
use tessera_bootinfo::phys_to_virt;

use crate::arch::{self, Context, FpuState, TrapFrame};
use crate::mm;
use crate::process::Process;

/// Kernel stack of each thread.
const KERNEL_STACK_PAGES: usize = 4;

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

/// A kernel thread that runs a user thread of `process`.
pub struct Thread {
    pub process: Arc<Process>,
    stack: KernelStack,
    context: UnsafeCell<Context>,
    fpu: UnsafeCell<FpuState>,
    blocked: AtomicBool,
}

// SAFETY: `context` and `fpu` are only touched by the CPU switching away from
// or to the thread, with interrupts off; everything else is atomic or Sync.
unsafe impl Sync for Thread {}
// SAFETY: as above.
unsafe impl Send for Thread {}

impl Thread {
    /// A thread of `process` that starts in user mode with `frame`.
    pub fn new(process: Arc<Process>, frame: &TrapFrame) -> Result<Arc<Self>> {
        let stack = KernelStack::new()?;
        // SAFETY: the stack is fresh and KERNEL_STACK_PAGES long.
        let context = unsafe { Context::new_user(stack.top(), frame) };
        Ok(Arc::new(Self {
            process,
            stack,
            context: UnsafeCell::new(context),
            fpu: UnsafeCell::new(FpuState::new()),
            blocked: AtomicBool::new(false),
        }))
    }
}

struct Cpu {
    /// The scheduler loop's own context.
    idle: UnsafeCell<Context>,
    current: Mutex<Option<Arc<Thread>>>,
    /// A thread that exited, freed once the loop runs again.
    dead: Mutex<Option<Arc<Thread>>>,
}

// SAFETY: `idle` is only touched by this CPU with interrupts off.
unsafe impl Sync for Cpu {}

static CPU: Cpu = Cpu { idle: UnsafeCell::new(Context::new()), current: Mutex::new(None), dead: Mutex::new(None) };
static RUN_QUEUE: Mutex<VecDeque<Arc<Thread>>> = Mutex::new(VecDeque::new());
/// Context switches so far (for `sys:`).
pub static SWITCHES: AtomicUsize = AtomicUsize::new(0);

/// Makes `thread` runnable.
pub fn spawn(thread: Arc<Thread>) {
    RUN_QUEUE.lock().push_back(thread);
}

/// The running thread. Panics outside a thread (in the scheduler loop).
pub fn current() -> Arc<Thread> {
    CPU.current.lock().clone().expect("no current thread")
}

/// Runs threads until `done()` holds while nothing is runnable; then
/// returns (to let `main` decide how the machine ends).
pub fn run(mut done: impl FnMut() -> bool) {
    loop {
        drop(CPU.dead.lock().take());
        let next = RUN_QUEUE.lock().pop_front();
        let Some(next) = next else {
            if done() {
                return;
            }
            arch::wait_for_interrupt();
            continue;
        };
        // SAFETY: the thread is alive (we hold an Arc in `current`), its
        // address space is valid, and its context was saved by a switch or
        // made by `Context::new_user`.
        unsafe {
            arch::set_kernel_stack(next.stack.top());
            if let Some(space) = next.process.space.lock().as_ref() {
                arch::activate_user_table(space.root());
            }
            (*next.fpu.get()).restore();
            *CPU.current.lock() = Some(next.clone());
            SWITCHES.fetch_add(1, Ordering::Relaxed);
            (*CPU.idle.get()).switch(&*next.context.get());
        }
        // Back in the loop: the thread yielded, blocked or died.
        *CPU.current.lock() = None;
        mm::activate_kernel_only();
    }
}

/// Switches from the current thread to the scheduler loop.
fn to_scheduler(thread: &Thread) {
    // SAFETY: interrupts are off; the loop's context was saved when it
    // switched to this thread, and this thread's context is only touched here.
    unsafe {
        (*thread.fpu.get()).save();
        (*thread.context.get()).switch(&*CPU.idle.get());
    }
}

/// Lets other threads run; the current one stays runnable.
pub fn yield_now() {
    let me = current();
    RUN_QUEUE.lock().push_back(me.clone());
    to_scheduler(&me);
}

/// Stops running the current thread until [`wake`]. The caller checks its
/// condition again after this returns (it may be woken for another reason).
pub fn block_current() {
    let me = current();
    me.blocked.store(true, Ordering::Release);
    to_scheduler(&me);
}

/// Makes a blocked thread runnable again (no effect on a running one).
pub fn wake(thread: &Arc<Thread>) {
    if thread.blocked.swap(false, Ordering::AcqRel) {
        RUN_QUEUE.lock().push_back(thread.clone());
    }
}

/// Ends the current thread for good; its stack is freed by the loop.
pub fn exit_current_thread() -> ! {
    let me = current();
    *CPU.dead.lock() = Some(me.clone());
    let thread: *const Thread = Arc::as_ptr(&me);
    drop(me);
    // SAFETY: `dead` keeps the thread alive until the loop runs again.
    to_scheduler(unsafe { &*thread });
    unreachable!("a dead thread was resumed")
}

/// Timer ticks so far, and those that interrupted user code (busy time).
pub static TICKS: AtomicUsize = AtomicUsize::new(0);
pub static BUSY_TICKS: AtomicUsize = AtomicUsize::new(0);

/// Threads sleeping until a monotonic deadline (ns).
static SLEEPERS: Mutex<Vec<(u64, Arc<Thread>)>> = Mutex::new(Vec::new());

/// The timer tick: counts time and wakes sleepers whose deadline passed.
pub fn tick(in_user: bool) {
    TICKS.fetch_add(1, Ordering::Relaxed);
    if in_user {
        BUSY_TICKS.fetch_add(1, Ordering::Relaxed);
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
    SLEEPERS.lock().push((deadline_ns, current()));
    block_current();
}

/// Runnable threads waiting for a CPU.
pub fn runnable() -> usize {
    RUN_QUEUE.lock().len()
}
