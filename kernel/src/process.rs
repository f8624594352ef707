//! Processes: pid, parent, address space, file table, exit status, and the
//! process-level system calls (fork, exec, exit, waitpid, kill, getpid,
//! getppid).
//!
//! A process has one thread for now. It ends by `exit`, by a fault (killed
//! with the fault's signal) or by `kill`; it then releases its memory and
//! files at once and stays a zombie holding only its status until its parent
//! reaps it with `waitpid`. Orphans are adopted by init (pid 1).
//! Signals have no handlers yet: every signal `kill` sends ends the process.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};

use spin::Mutex;
use tessera_abi::error::{ECHILD, EINTR, EINVAL, ESRCH, Error, Result};
use tessera_abi::signal::NSIG;
use tessera_abi::{WNOHANG, wait};

use crate::arch::{FpuState, TrapFrame};
use crate::file::FileTable;
use crate::mm::{self, AddrSpace};
use crate::sched::{self, Thread};

/// The first process.
pub const INIT_PID: usize = 1;

/// How a process stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Alive,
    /// Ended with this wait status; waiting to be reaped.
    Zombie(usize),
}

pub struct Process {
    pub pid: usize,
    pub ppid: AtomicUsize,
    pub name: Mutex<String>,
    /// `None` once the process has ended.
    pub space: Mutex<Option<AddrSpace>>,
    pub files: Mutex<FileTable>,
    pub state: Mutex<State>,
    /// A signal that will end the process when it next leaves the kernel.
    pub pending_kill: AtomicUsize,
    /// The process's thread(s) (one for now).
    pub threads: Mutex<Vec<Arc<Thread>>>,
    /// Threads blocked in `waitpid` on this process's children.
    waiters: Mutex<Vec<Arc<Thread>>>,
}

static TABLE: Mutex<BTreeMap<usize, Arc<Process>>> = Mutex::new(BTreeMap::new());
static NEXT_PID: AtomicUsize = AtomicUsize::new(INIT_PID);

impl Process {
    fn new(ppid: usize, name: String, space: AddrSpace, files: FileTable) -> Arc<Self> {
        let process = Arc::new(Self {
            pid: NEXT_PID.fetch_add(1, Ordering::Relaxed),
            ppid: AtomicUsize::new(ppid),
            name: Mutex::new(name),
            space: Mutex::new(Some(space)),
            files: Mutex::new(files),
            state: Mutex::new(State::Alive),
            pending_kill: AtomicUsize::new(0),
            threads: Mutex::new(Vec::new()),
            waiters: Mutex::new(Vec::new()),
        });
        TABLE.lock().insert(process.pid, process.clone());
        process
    }

    fn start_thread(self: &Arc<Self>, frame: &TrapFrame, fpu: FpuState) -> Result<()> {
        let thread = Thread::new(self.clone(), frame, fpu)?;
        self.threads.lock().push(thread.clone());
        sched::spawn(thread);
        Ok(())
    }

    /// Releases memory and files, becomes a zombie, hands children to init
    /// and wakes the parent. Does not touch the threads. Its own waiter
    /// list is emptied: it holds this process's threads, which hold the
    /// process (a cycle nothing else would break once it is a zombie).
    fn end(self: &Arc<Self>, status: usize) {
        if *self.state.lock() != State::Alive {
            return;
        }
        // Release everything before becoming a zombie: whoever sees the
        // zombie (a waitpid on another CPU) must also see its pipes closed
        // and its memory free.
        let space = self.space.lock().take();
        drop(space);
        let files = core::mem::take(&mut *self.files.lock());
        drop(files);
        *self.state.lock() = State::Zombie(status);
        let waiters = core::mem::take(&mut *self.waiters.lock());
        drop(waiters);
        let table = TABLE.lock();
        for child in table.values().filter(|p| p.ppid.load(Ordering::Relaxed) == self.pid) {
            child.ppid.store(INIT_PID, Ordering::Relaxed);
        }
        let parent = table.get(&self.ppid.load(Ordering::Relaxed)).cloned();
        drop(table);
        if let Some(parent) = parent {
            for waiter in parent.waiters.lock().drain(..) {
                sched::wake(&waiter);
            }
        }
    }
}

/// The current process.
pub fn current() -> Arc<Process> {
    sched::current().process.clone()
}

/// A process by pid (alive or zombie).
pub fn get(pid: usize) -> Option<Arc<Process>> {
    TABLE.lock().get(&pid).cloned()
}

/// A snapshot of all processes: (pid, ppid, state, name, user pages).
pub fn list() -> Vec<(usize, usize, State, String, usize)> {
    TABLE
        .lock()
        .values()
        .map(|p| {
            let pages = p.space.lock().as_ref().map_or(0, AddrSpace::pages);
            (p.pid, p.ppid.load(Ordering::Relaxed), *p.state.lock(), p.name.lock().clone(), pages)
        })
        .collect()
}

/// Whether init is still alive.
pub fn init_alive() -> bool {
    get(INIT_PID).is_some_and(|p| *p.state.lock() == State::Alive)
}

/// Starts init from `space` at `entry` with stack pointer `sp`.
pub fn spawn_init(space: AddrSpace, files: FileTable, entry: u64, sp: u64) -> Result<Arc<Process>> {
    let process = Process::new(0, String::from("init"), space, files);
    process.start_thread(&TrapFrame::new_user(entry, sp), FpuState::new())?;
    Ok(process)
}

/// Ends the current process with `status` and never returns.
///
/// The process lets go of its thread too: a zombie keeps only its status,
/// and the thread's kernel stack is freed as soon as this CPU has switched
/// away from it, not when (or if) a parent reaps the zombie; init, which
/// adopts orphans, may never do so.
pub fn exit_current(status: usize) -> ! {
    let process = current();
    // The address space is about to be freed: stop using it first.
    mm::activate_kernel_only();
    process.end(status);
    let threads = core::mem::take(&mut *process.threads.lock());
    drop(threads);
    drop(process);
    sched::exit_current_thread()
}

/// Whether the current process has been killed: a blocking call that sees
/// this returns EINTR instead of waiting on, so that everything it holds is
/// dropped before [`exit_if_killed`] ends the process on the way out.
pub fn kill_pending() -> bool {
    current().pending_kill.load(Ordering::Acquire) != 0
}

/// Ends the current process if someone killed it; called before every
/// return to user mode.
pub fn exit_if_killed() {
    let signal = current().pending_kill.load(Ordering::Acquire);
    if signal != 0 {
        exit_current(wait::signaled(signal));
    }
}

/// `fork()`: a copy of the caller whose `fork` returns 0.
pub fn fork(frame: &TrapFrame) -> Result<usize> {
    let parent = current();
    let space = parent.space.lock().as_ref().expect("a running process has a space").fork()?;
    let files = parent.files.lock().fork();
    let child = Process::new(parent.pid, parent.name.lock().clone(), space, files);
    let mut child_frame = *frame;
    child_frame.set_return(0);
    // The child starts with the parent's FP/SIMD registers, which are live
    // on this CPU (the kernel itself never touches them).
    let mut fpu = FpuState::new();
    fpu.save();
    if let Err(e) = child.start_thread(&child_frame, fpu) {
        child.end(wait::signaled(tessera_abi::signal::SIGKILL));
        TABLE.lock().remove(&child.pid);
        return Err(e);
    }
    Ok(child.pid)
}

/// Replaces the current process's address space (after a successful exec).
pub fn replace_space(space: AddrSpace, name: String) {
    let process = current();
    // SAFETY: the new space shares the kernel half; the old one is dropped
    // only after the switch.
    unsafe { crate::arch::activate_user_table(space.root()) };
    let old = process.space.lock().replace(space);
    drop(old);
    // The new program starts with clean FP/SIMD registers (they are live on
    // this CPU while the thread runs).
    FpuState::new().restore();
    *process.name.lock() = name;
    process.files.lock().close_on_exec();
}

/// `waitpid(pid, options)`: reaps a zombie child, returning its pid and
/// status; `Ok(None)` with WNOHANG when no child has ended yet. EINTR if
/// the caller is killed while it waits.
pub fn waitpid(pid: usize, options: usize) -> Result<Option<(usize, usize)>> {
    if options & !WNOHANG != 0 {
        return Err(Error::new(EINVAL));
    }
    let me = current();
    let thread = sched::current();
    let any = pid == usize::MAX || pid == 0;
    // Stops waiting: takes this thread off the waiter list again.
    let unregister = || me.waiters.lock().retain(|t| !Arc::ptr_eq(t, &thread));
    loop {
        // Register before looking, so a child that ends in between wakes
        // us (`sched::block_current`'s contract); once only, though a
        // spurious wake brings us back here still registered.
        {
            let mut waiters = me.waiters.lock();
            if !waiters.iter().any(|t| Arc::ptr_eq(t, &thread)) {
                waiters.push(thread.clone());
            }
        }
        let children: Vec<Arc<Process>> = TABLE
            .lock()
            .values()
            .filter(|p| p.ppid.load(Ordering::Relaxed) == me.pid && (any || p.pid == pid))
            .cloned()
            .collect();
        if children.is_empty() {
            unregister();
            return Err(Error::new(ECHILD));
        }
        if let Some((child, status)) = children.iter().find_map(|c| match *c.state.lock() {
            State::Zombie(s) => Some((c, s)),
            _ => None,
        }) {
            unregister();
            TABLE.lock().remove(&child.pid);
            child.threads.lock().clear();
            return Ok(Some((child.pid, status)));
        }
        if options & WNOHANG != 0 {
            unregister();
            return Ok(None);
        }
        drop(children);
        sched::block_current();
        if kill_pending() {
            unregister();
            return Err(Error::new(EINTR));
        }
    }
}

/// `kill(pid, signal)`: signal 0 only checks that the process exists; any
/// other signal ends it (no handlers yet) when it next leaves the kernel.
pub fn kill(pid: usize, signal: usize) -> Result<()> {
    if signal >= NSIG {
        return Err(Error::new(EINVAL));
    }
    let target = get(pid).ok_or(Error::new(ESRCH))?;
    if *target.state.lock() != State::Alive {
        return Err(Error::new(ESRCH));
    }
    if signal == 0 {
        return Ok(());
    }
    target.pending_kill.store(signal, Ordering::Release);
    for thread in target.threads.lock().iter() {
        sched::wake(thread);
    }
    Ok(())
}
