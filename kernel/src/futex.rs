//! Futexes: a thread sleeps on a user `u32` until another wakes it
//! (Redox's `SYS_FUTEX`, Linux's semantics for WAIT and WAKE).
//!
//! A waiter is keyed by (pid, user address): futexes are private to a
//! process, which is all threads of one process need. Waiting checks the
//! word's value and registers under the table's lock, and waking takes
//! waiters off under the same lock, so a wake between the check and the
//! sleep is never lost (`sched::block_current` keeps it).

use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::sync::Mutex;
use tessera_abi::error::{EAGAIN, EFAULT, EINTR, EINVAL, ETIMEDOUT, Error, Result};

use crate::sched::{self, Thread};
use crate::usercopy::UserSlice;
use crate::{arch, process};

struct Waiter {
    pid: usize,
    addr: usize,
    thread: Arc<Thread>,
}

static WAITERS: Mutex<Vec<Waiter>> = Mutex::new(Vec::new());

/// How often a wait may find its word's file page gone again between
/// fetching it and checking it under the table's lock.
const MAX_FETCHES: usize = 8;

/// The user word at `addr`, read with the space's lock only (the caller
/// holds the table's): `Ok(None)` if it sits in a lent file page not
/// fetched yet, EFAULT if unreadable.
fn read_present(word: UserSlice) -> Result<Option<u32>> {
    let process = process::current();
    let mut guard = process.space.lock();
    let space = guard.as_mut().ok_or(Error::new(EFAULT))?;
    let read = word.read_value::<u32>(space);
    let wanted = space.take_wanted();
    match read {
        Ok(value) => Ok(Some(value)),
        Err(_) if wanted.is_some() => Ok(None),
        Err(e) => Err(e),
    }
}

/// FUTEX_WAIT: sleeps while `*addr == expected`, until a [`wake`] on it, the
/// monotonic deadline `deadline_ns` (ETIMEDOUT) or a kill (EINTR). EAGAIN
/// at once if the word differs; EINVAL unless `addr` is 4-aligned, EFAULT
/// if the word cannot be read (a lent file page is fetched first).
pub fn wait(addr: usize, expected: u32, deadline_ns: Option<u64>) -> Result<usize> {
    if !addr.is_multiple_of(4) {
        return Err(Error::new(EINVAL));
    }
    let word = UserSlice::new(addr, 4)?;
    let me = sched::current();
    let pid = me.process.pid;
    let mut fetches = 0;
    loop {
        // Fetch the word's page without the table's lock (the fetch takes
        // the lender's space lock), then check it under the lock.
        crate::mm::page_fault::with_user_space(&me.process.space, |space| word.read(space))?;
        let mut waiters = WAITERS.lock();
        match read_present(word)? {
            Some(value) if value != expected => return Err(Error::new(EAGAIN)),
            Some(_) => {
                waiters.push(Waiter { pid, addr, thread: me.clone() });
                break;
            }
            // Unmapped and mapped again meanwhile: fetch again.
            None if fetches < MAX_FETCHES => fetches += 1,
            None => return Err(Error::new(EFAULT)),
        }
    }
    // Takes this thread off the table; false if a wake already did.
    let unregister = || {
        let mut waiters = WAITERS.lock();
        let before = waiters.len();
        waiters.retain(|w| !Arc::ptr_eq(&w.thread, &me));
        waiters.len() != before
    };
    loop {
        match deadline_ns {
            Some(deadline) => sched::sleep_until(deadline),
            None => sched::block_current(),
        }
        let interrupted = process::kill_pending();
        let timed_out = deadline_ns.is_some_and(|d| arch::time::monotonic_ns() >= d);
        if !WAITERS.lock().iter().any(|w| Arc::ptr_eq(&w.thread, &me)) {
            return Ok(0);
        }
        if interrupted || timed_out {
            return match (unregister(), interrupted) {
                (false, _) => Ok(0),
                (true, true) => Err(Error::new(EINTR)),
                (true, false) => Err(Error::new(ETIMEDOUT)),
            };
        }
    }
}

/// FUTEX_WAKE: wakes up to `count` threads of process `pid` waiting on
/// `addr`, oldest first; returns how many.
pub fn wake(pid: usize, addr: usize, count: usize) -> usize {
    let mut woken = Vec::new();
    {
        let mut waiters = WAITERS.lock();
        let mut i = 0;
        while i < waiters.len() && woken.len() < count {
            if waiters[i].pid == pid && waiters[i].addr == addr {
                woken.push(waiters.remove(i).thread);
            } else {
                i += 1;
            }
        }
    }
    for thread in &woken {
        sched::wake(thread);
    }
    woken.len()
}
