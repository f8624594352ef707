//! Ending threads and processes: `exit` (the whole process, Linux's
//! `exit_group`), faults, `kill`, and the one path every thread leaves by.

use alloc::sync::Arc;
use core::sync::atomic::Ordering;

use tessera_abi::error::{EINVAL, ESRCH, Error, Result};
use tessera_abi::signal::NSIG;
use tessera_abi::wait;

use super::{Process, State, current, get};
use crate::sched::{self, Thread};
use crate::usercopy::UserSlice;

/// Ends the current process with `status` and never returns: every other
/// thread leaves at its next return to user mode; the last one out ends
/// the process with the status recorded first.
pub fn exit_current(status: usize) -> ! {
    current().begin_exit(status);
    leave_current(status)
}

/// Ends the calling thread. If it is the last thread of its process, the
/// process ends too, with the status it is ending with, or
/// `status_if_last` when nothing ended it (the last thread called
/// `exit_thread`).
///
/// The process lets go of the thread at once: a zombie keeps only its
/// status, and the thread's kernel stack is freed as soon as this CPU has
/// switched away from it, not when (or if) a parent reaps the zombie.
pub(super) fn leave_current(status_if_last: usize) -> ! {
    let me = sched::current();
    let process: Arc<Process> = me.process.clone();
    clear_tid(&me, &process);
    let last = {
        let mut threads = process.threads.lock();
        threads.retain(|t| !Arc::ptr_eq(t, &me));
        threads.is_empty()
    };
    drop(me);
    if last {
        // The address space is about to be freed: stop using it first.
        super::leave_space();
        let status = process.exit_status().unwrap_or(status_if_last);
        process.end(status);
    }
    drop(process);
    sched::exit_current_thread()
}

/// Whether the current thread is being stopped (its process is ending, or
/// an `execve` in a sibling stops it): a blocking call that sees this
/// returns EINTR instead of waiting on, so that everything it holds is
/// dropped before [`exit_if_killed`] ends the thread on the way out.
pub fn kill_pending() -> bool {
    let me = sched::current();
    me.leave.load(Ordering::Acquire) || me.process.exit_status().is_some()
}

/// Ends the current thread if it is being stopped; called before every
/// return to user mode.
pub fn exit_if_killed() {
    if kill_pending() {
        // `leave` alone (exec) never ends the process: the exec-ing thread
        // stays. The status is only used by a last thread.
        leave_current(wait::signaled(tessera_abi::signal::SIGKILL));
    }
}

/// `kill(pid, signal)`: signal 0 only checks that the process exists; any
/// other signal ends it (no handlers yet): each thread leaves when it next
/// returns to user mode.
pub fn kill(pid: usize, signal: usize) -> Result<()> {
    if signal >= NSIG {
        return Err(Error::new(EINVAL));
    }
    let target = get(pid).ok_or(Error::new(ESRCH))?;
    if *target.state.lock() != State::Alive {
        return Err(Error::new(ESRCH));
    }
    if signal != 0 {
        target.begin_exit(wait::signaled(signal));
    }
    Ok(())
}

/// Writes 0 to the leaving thread's tid word and wakes a waiter on it.
fn clear_tid(thread: &Thread, process: &Process) {
    let addr = thread.clear_tid.swap(0, Ordering::AcqRel);
    if addr == 0 || !addr.is_multiple_of(4) {
        return;
    }
    // Through the file-page retry: the word may sit in a lent page.
    let written = UserSlice::new(addr, 4)
        .and_then(|word| {
            crate::mm::page_fault::with_user_space(&process.space, |space| word.write(space, &0u32.to_le_bytes()))
        })
        .is_ok();
    if written {
        crate::futex::wake(process.pid, addr, 1);
    }
}
