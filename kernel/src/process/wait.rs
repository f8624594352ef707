//! `waitpid`: reaping zombie children.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use tessera_abi::WNOHANG;
use tessera_abi::error::{ECHILD, EINTR, EINVAL, Error, Result};

use super::{Process, State, TABLE, current, kill_pending};
use crate::sched;

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
            // Another thread of this process may reap it first.
            if TABLE.lock().remove(&child.pid).is_none() {
                continue;
            }
            unregister();
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
