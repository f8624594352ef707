//! Processes: pid, parent, address space, file table, threads, exit status,
//! and the process-level system calls.
//!
//! ```text
//!   Process ── pid, ppid, name
//!      ├── space: UserSpace         shared by all its threads
//!      ├── files: FileTable         shared by all its threads
//!      ├── threads: [Thread]        tid = pid for the first one
//!      └── exit: wait status        set once, when the process starts ending
//! ```
//!
//! A process ends when its last thread leaves. A thread leaves by
//! `exit_thread` ([`thread`]), or because the whole process is ending
//! ([`exit`]): `exit`, a fault (killed with the fault's signal) or `kill`
//! record the status and wake every thread; each one leaves at its next
//! return to user mode, and blocking calls return EINTR meanwhile. The last
//! thread out releases memory and files, and the process stays a zombie
//! holding only its status until its parent reaps it with `waitpid`
//! ([`wait`]). Orphans are adopted by init (pid 1). Signals have no handlers
//! yet: every signal `kill` sends ends the process.

mod exit;
mod thread;
mod wait;

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::sync::Mutex;
use tessera_abi::error::Result;
use tessera_abi::wait as wstatus;

pub use exit::{exit_current, exit_if_killed, kill, kill_pending};
pub use thread::{clone_thread, exit_thread};
pub use wait::waitpid;

use crate::arch::{FpuState, TrapFrame};
use crate::file::FileTable;
use crate::mm::{self, UserSpace};
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

/// [`Process::exit`]'s flag: the process is ending (a wait status of 0 is a
/// valid `exit(0)`, so the status alone cannot say it).
const EXITING: usize = 1 << 63;

pub struct Process {
    pub pid: usize,
    pub ppid: AtomicUsize,
    pub name: Mutex<String>,
    /// `None` once the process has ended.
    pub space: Mutex<Option<UserSpace>>,
    pub files: Mutex<FileTable>,
    pub state: Mutex<State>,
    /// `EXITING | status` once the process is ending; 0 while it runs.
    exit: AtomicUsize,
    /// The process's live threads; empty once it has ended.
    pub threads: Mutex<Vec<Arc<Thread>>>,
    /// A thread is in `execve`, stopping its siblings: no new threads.
    execing: AtomicBool,
    /// The privilege (see [`Process::is_privileged`]). Init starts with
    /// it; `fork` copies it; a successful `execve` keeps it only when
    /// `keep_on_exec` was armed; `sys:privilege` `drop` gives it
    /// up for good.
    privileged: AtomicBool,
    /// Armed by `keep-on-exec` on `sys:privilege` (privileged processes
    /// only): the next successful `execve` keeps the privilege, and
    /// disarms it. Not copied by `fork`.
    keep_on_exec: AtomicBool,
    /// Threads blocked in `waitpid` on this process's children.
    waiters: Mutex<Vec<Arc<Thread>>>,
}

/// The most processes (alive or zombie) at once: `fork` past it is EAGAIN,
/// as Linux's RLIMIT_NPROC. Each costs a kernel stack, page tables and
/// bookkeeping, so a fork bomb must stop at a number, not at exhausted RAM.
pub const MAX_PROCESSES: usize = 2048;

/// Every process, alive or zombie, by pid. Lock order: the table is taken
/// with no lock of a process held, and no lock of a process is taken while
/// the table is held (`fork` holding its parent's `name` while inserting
/// its child, and `sys:processes` reading each `name` under the table,
/// once deadlocked both CPUs).
static TABLE: Mutex<BTreeMap<usize, Arc<Process>>> = Mutex::new(BTreeMap::new());
/// Pids and tids share one counter, as on Linux.
static NEXT_ID: AtomicUsize = AtomicUsize::new(INIT_PID);

fn next_id() -> usize {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

impl Process {
    fn new(ppid: usize, name: String, space: UserSpace, mut files: FileTable, privileged: bool) -> Arc<Self> {
        let pid = next_id();
        files.set_owner(pid);
        let process = Arc::new(Self {
            pid,
            ppid: AtomicUsize::new(ppid),
            name: Mutex::new(name),
            space: Mutex::new(Some(space)),
            files: Mutex::new(files),
            state: Mutex::new(State::Alive),
            exit: AtomicUsize::new(0),
            threads: Mutex::new(Vec::new()),
            execing: AtomicBool::new(false),
            privileged: AtomicBool::new(privileged),
            keep_on_exec: AtomicBool::new(false),
            waiters: Mutex::new(Vec::new()),
        });
        TABLE.lock().insert(process.pid, process.clone());
        process
    }

    /// Starts the first thread (tid = pid).
    fn start_main_thread(self: &Arc<Self>, frame: &TrapFrame, fpu: FpuState) -> Result<()> {
        let thread = Thread::new(self.clone(), self.pid, frame, fpu)?;
        self.threads.lock().push(thread.clone());
        sched::spawn(thread);
        Ok(())
    }

    /// Whether the process is privileged: it may open `memory:physical`,
    /// write `sys:power`, raise its `sys:limits` cap and arm
    /// `keep-on-exec`. Privilege is a capability of the code that runs, not
    /// of the process's ancestry: `execve` drops it unless the caller armed
    /// [`Process::arm_keep_on_exec`] (docs/kernel.md, "Privilege").
    pub fn is_privileged(&self) -> bool {
        self.privileged.load(Ordering::Acquire)
    }

    /// Whether the next successful `execve` keeps the privilege.
    pub fn keeps_privilege_on_exec(&self) -> bool {
        self.keep_on_exec.load(Ordering::Acquire)
    }

    /// Gives up the privilege for good (and disarms `keep-on-exec`).
    pub fn drop_privilege(&self) {
        self.privileged.store(false, Ordering::Release);
        self.keep_on_exec.store(false, Ordering::Release);
    }

    /// Makes the next successful `execve` keep the privilege. Only a
    /// privileged process may: false (nothing changed) otherwise.
    pub fn arm_keep_on_exec(&self) -> bool {
        if !self.is_privileged() {
            return false;
        }
        self.keep_on_exec.store(true, Ordering::Release);
        true
    }

    /// At a successful `execve`'s point of no return: the new program is
    /// privileged only if the old one was and had armed `keep-on-exec`,
    /// which this consumes.
    fn privilege_for_exec(&self) {
        let keep = self.keep_on_exec.swap(false, Ordering::AcqRel);
        if !keep {
            self.privileged.store(false, Ordering::Release);
        }
    }

    /// The status the process is ending with, once it is ending.
    fn exit_status(&self) -> Option<usize> {
        let exit = self.exit.load(Ordering::Acquire);
        (exit & EXITING != 0).then_some(exit & !EXITING)
    }

    /// Starts ending the process with `status` (the first status wins) and
    /// wakes every thread so that each leaves.
    fn begin_exit(&self, status: usize) {
        let _ = self.exit.compare_exchange(0, EXITING | status, Ordering::AcqRel, Ordering::Acquire);
        for thread in self.threads.lock().iter() {
            sched::wake(thread);
        }
    }

    /// Releases memory and files, becomes a zombie, hands children to init
    /// and wakes the parent. Called by the last thread to leave, which no
    /// longer uses the address space. Its own waiter list is emptied: it
    /// holds this process's threads, which hold the process (a cycle
    /// nothing else would break once it is a zombie).
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

/// Every process now (a snapshot; the table's lock is released before it
/// returns).
pub fn all() -> Vec<Arc<Process>> {
    TABLE.lock().values().cloned().collect()
}

/// A snapshot of all processes: (pid, ppid, state, name, user pages, threads).
/// Each process's locks are taken after the table's is released.
pub fn list() -> Vec<(usize, usize, State, String, usize, usize)> {
    let processes: Vec<Arc<Process>> = TABLE.lock().values().cloned().collect();
    processes
        .iter()
        .map(|p| {
            let pages = p.space.lock().as_ref().map_or(0, UserSpace::pages);
            let threads = p.threads.lock().len();
            (p.pid, p.ppid.load(Ordering::Relaxed), *p.state.lock(), p.name.lock().clone(), pages, threads)
        })
        .collect()
}

/// Runs `f` on the address space of every process whose space lock is free
/// right now, never waiting for a lock (the process table's included): a
/// frame allocation that found memory short reclaims MADV_FREE pages
/// through it while it holds its own space's lock.
pub fn try_each_space(mut f: impl FnMut(&mut UserSpace)) {
    let Some(table) = TABLE.try_lock() else { return };
    for process in table.values() {
        if let Some(mut space) = process.space.try_lock()
            && let Some(space) = space.as_mut()
        {
            f(space);
        }
    }
}

/// Whether init is still alive.
pub fn init_alive() -> bool {
    get(INIT_PID).is_some_and(|p| *p.state.lock() == State::Alive)
}

/// Starts init from `space` at `entry` with stack pointer `sp`.
pub fn spawn_init(space: UserSpace, files: FileTable, entry: u64, sp: u64) -> Result<Arc<Process>> {
    let process = Process::new(0, String::from("init"), space, files, true);
    process.start_main_thread(&TrapFrame::new_user(entry, sp), FpuState::new())?;
    Ok(process)
}

/// `fork()`: a copy of the caller whose `fork` returns 0. The child has one
/// thread, a copy of the calling one (POSIX).
pub fn fork(frame: &TrapFrame) -> Result<usize> {
    // Checked before anything is copied; a few racing forks may pass it
    // together (at most one per CPU).
    if TABLE.lock().len() >= MAX_PROCESSES {
        return Err(tessera_abi::error::Error::new(tessera_abi::error::EAGAIN));
    }
    let parent = current();
    // A take back of lent pages (`mm::fmap::invalidate`) visits every
    // process once: the child must be in the table before the next one
    // can start, or come after it ended.
    let taking_back = mm::fmap::TAKE_BACK.lock();
    let space = parent
        .space
        .lock()
        .as_mut()
        .expect("a running process has a space")
        .fork(Arc::new(mm::FailInjector::default()))?;
    let files = parent.files.lock().fork();
    // The child runs the parent's code, so it has the parent's privilege;
    // `keep-on-exec` is not copied (the child arms its own). The name is
    // copied first: its lock must not be held while `Process::new` takes
    // the table (lock order, see `TABLE`).
    let name = parent.name.lock().clone();
    let child = Process::new(parent.pid, name, space, files, parent.is_privileged());
    drop(taking_back);
    let mut child_frame = *frame;
    child_frame.set_return(0);
    // The child starts with the parent's FP/SIMD registers and thread
    // pointer, which are live on this CPU (the kernel never touches them).
    let mut fpu = FpuState::new();
    fpu.save();
    if let Err(e) = child.start_main_thread(&child_frame, fpu) {
        child.end(wstatus::signaled(tessera_abi::signal::SIGKILL));
        TABLE.lock().remove(&child.pid);
        return Err(e);
    }
    Ok(child.pid)
}

/// Replaces the current process's address space (after a successful exec,
/// once [`thread::stop_siblings`] has left the caller the only thread). The
/// privilege goes unless `keep-on-exec` was armed (which this consumes); a
/// failed exec never gets here and leaves both as they were.
pub fn replace_space(space: UserSpace, name: String) {
    let process = current();
    // The old space is dropped only after the switch.
    sched::enter_user_space(&space);
    let old = process.space.lock().replace(space);
    drop(old);
    // The new program starts with clean FP/SIMD registers and thread
    // pointer (they are live on this CPU while the thread runs).
    FpuState::new().restore();
    *process.name.lock() = name;
    process.files.lock().close_on_exec();
    process.privilege_for_exec();
}

pub use thread::stop_siblings;

/// Stops using the address space before it may be freed.
fn leave_space() {
    sched::leave_user_space();
}
