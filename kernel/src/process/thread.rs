//! Threads within a process: `clone_thread`, `exit_thread`, the tid word
//! cleared on exit (how a joiner learns a thread is gone and its stack is
//! free), and stopping siblings before `execve`.

use alloc::sync::Arc;
use core::sync::atomic::Ordering;

use tessera_abi::error::{EAGAIN, EINTR, EINVAL, Error, Result};
use tessera_abi::wait;
use tessera_bootinfo::USER_END;

use super::{current, next_id};
use crate::arch::{FpuState, TrapFrame};
use crate::sched::{self, Thread};

/// Most threads one process may have (each costs a kernel stack). One more
/// is EAGAIN, as Linux's thread limits.
pub const MAX_THREADS: usize = 256;

/// `clone_thread(entry, stack_top, arg, tls) -> tid`: a new thread of the
/// calling process that starts at `entry` with `arg` as its first argument,
/// stack pointer `stack_top` and thread pointer `tls` (x86_64 FS base,
/// aarch64 TPIDR_EL0), with clean FP/SIMD registers. The caller provides
/// the stack. EINVAL for an address outside user space, EAGAIN past
/// [`MAX_THREADS`], EINTR while the process is ending or in `execve`.
pub fn clone_thread(entry: usize, stack_top: usize, arg: usize, tls: usize) -> Result<usize> {
    if [entry, stack_top, tls].iter().any(|&a| a as u64 >= USER_END) {
        return Err(Error::new(EINVAL));
    }
    let process = current();
    let mut frame = TrapFrame::new_user(entry as u64, stack_top as u64);
    frame.set_arg0(arg);
    let mut fpu = FpuState::new();
    fpu.set_thread_pointer(tls as u64);
    let thread = Thread::new(process.clone(), next_id(), &frame, fpu)?;
    let tid = thread.tid;
    {
        let mut threads = process.threads.lock();
        // Checked under the lock `begin_exit` and `stop_siblings` take to
        // find the threads: a thread added here is one they will see.
        if process.exit_status().is_some() || process.execing.load(Ordering::Acquire) {
            return Err(Error::new(EINTR));
        }
        if threads.len() >= MAX_THREADS {
            return Err(Error::new(EAGAIN));
        }
        threads.push(thread.clone());
    }
    sched::spawn(thread);
    Ok(tid)
}

/// `exit_thread(status, clear_tid_ptr) -> !`: ends the calling thread. If
/// `clear_tid_ptr` is not 0, the kernel writes a `u32` 0 there and wakes
/// one futex waiter on it once the thread no longer uses its stack (a bad
/// address is ignored, as Linux's `clear_child_tid`). The last thread to
/// leave ends the process with exit code `status`.
pub fn exit_thread(status: usize, clear_tid_ptr: usize) -> ! {
    sched::current().clear_tid.store(clear_tid_ptr, Ordering::Release);
    super::exit::leave_current(wait::exited(status))
}

/// Stops every other thread of the calling process and waits until they
/// have left, so that `execve` can replace the address space (POSIX: exec
/// ends all other threads). EINTR if the process is killed meanwhile or
/// another thread's `execve` got there first (the caller then leaves).
pub fn stop_siblings() -> Result<()> {
    let process = current();
    if process.execing.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).is_err() {
        return Err(Error::new(EINTR));
    }
    let me = sched::current();
    for sibling in process.threads.lock().iter().filter(|t| !Arc::ptr_eq(t, &me)) {
        sibling.leave.store(true, Ordering::Release);
        sched::wake(sibling);
    }
    // Siblings in user mode on another CPU leave at that CPU's next tick;
    // blocked ones are awake now and return EINTR.
    let result = loop {
        if process.threads.lock().len() == 1 {
            break Ok(());
        }
        if super::kill_pending() {
            break Err(Error::new(EINTR));
        }
        sched::yield_now();
    };
    process.execing.store(false, Ordering::Release);
    result
}
