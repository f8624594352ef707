//! Two pieces of work at once: one on the daemon's helper thread (started
//! once and kept), one on the caller's, both done before [`join`] returns. With `-smp 2` and
//! a client waiting in `msync`, the other CPU is otherwise idle while the
//! daemon compresses a write-back's records (`records.rs`).
//!
//! [`in_order`] builds on it: items `0..n` used in order on the caller's
//! thread, made by whichever thread claims each first: the caller from the
//! front, as it needs them, a helper thread from the back. The caller never
//! waits for work it could do itself, except for an item the helper is
//! still making when the two meet; it uses each item as soon as it is
//! made, while the helper goes on with the later ones.

use alloc::vec::Vec;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// An item nobody has claimed yet.
const FREE: u8 = 0;
/// Claimed by the caller's thread, which makes it itself.
const CALLER: u8 = 1;
/// Claimed by the helper, being made.
const HELPER: u8 = 2;
/// Made by the helper; its value is in the slot.
const READY: u8 = 3;

struct Slot<T> {
    state: AtomicU8,
    value: UnsafeCell<Option<T>>,
}

// SAFETY: `value` is written only by the helper between its claim
// (FREE -> HELPER) and READY, and read only by the caller after it saw
// READY (Release/Acquire): never by two threads at once. `T: Send`.
unsafe impl<T: Send> Sync for Slot<T> {}

/// Calls `use_items` on this thread with a function that returns item `i`
/// (each `i` asked for at most once, in any order; ascending is what lets
/// the helper stay ahead): `make(i, scratch)` runs on this thread (with
/// `scratch[0]`) unless the helper claimed `i` first, then the caller waits
/// for it. The helper, with `scratch[1]`, claims items from `n - 1` down
/// until it meets one the caller claimed or the caller is done. With fewer
/// than two items no helper is started.
pub fn in_order<T: Send, R>(
    n: usize,
    scratch: &mut [Vec<u8>; 2],
    make: impl Fn(usize, &mut Vec<u8>) -> T + Sync,
    use_items: impl FnOnce(&mut dyn FnMut(usize) -> T) -> R,
) -> R {
    let slots: Vec<Slot<T>> =
        (0..n).map(|_| Slot { state: AtomicU8::new(FREE), value: UnsafeCell::new(None) }).collect();
    let done = AtomicBool::new(false);
    let [scratch, helper_scratch] = scratch;
    let mut take = |i: usize| {
        let slot = &slots[i];
        if slot.state.compare_exchange(FREE, CALLER, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            return make(i, scratch);
        }
        let mut spins = 0u32;
        while slot.state.load(Ordering::Acquire) != READY {
            spins += 1;
            if spins.is_multiple_of(64) {
                relax();
            }
            core::hint::spin_loop();
        }
        // SAFETY: READY: the helper is done with the slot (see `Slot`).
        unsafe { (*slot.value.get()).take() }.expect("a made item is taken once")
    };
    if n < 2 {
        return use_items(&mut take);
    }
    let help = || {
        for (i, slot) in slots.iter().enumerate().rev() {
            if done.load(Ordering::Acquire)
                || slot.state.compare_exchange(FREE, HELPER, Ordering::AcqRel, Ordering::Acquire).is_err()
            {
                return;
            }
            let value = make(i, helper_scratch);
            // SAFETY: claimed (HELPER): only this thread touches `value`
            // until READY.
            unsafe { *slot.value.get() = Some(value) };
            slot.state.store(READY, Ordering::Release);
        }
    };
    let mut result = None;
    join(
        || {
            result = Some(use_items(&mut take));
            done.store(true, Ordering::Release);
        },
        help,
    );
    result.expect("join ran the caller's side")
}

/// Lets the other thread run while waiting for it.
fn relax() {
    #[cfg(not(test))]
    let _ = tessera_runtime::sys::sched_yield();
    #[cfg(test)]
    std::thread::yield_now();
}

/// Runs `a` here and `b` on the daemon's helper thread, and returns when
/// both are done. The helper is started at the first call and kept: later
/// calls wake it (a futex) instead of starting a thread each, which cost
/// the daemon's thread 40-65 µs per write-back under TCG (measured with
/// the TSC, x86_64). If the helper is busy (a call from another thread)
/// `b` gets a thread of its own; if no thread can be made, `b` runs here
/// after `a`.
#[cfg(not(test))]
pub fn join<A: FnOnce(), B: FnOnce() + Send>(a: A, b: B) {
    let mut b = Some(b);
    let mut run = || {
        if let Some(b) = b.take() {
            b();
        }
    };
    if let Err(a) = helper::run_with(&mut run, a) {
        // The helper cannot take it (it could not start, or is busy).
        spawn_join(a, run);
    }
}

/// Runs `a` here and `b` on a new thread, and returns when both are done;
/// `b` here after `a` if no thread can be made.
#[cfg(not(test))]
fn spawn_join<A: FnOnce(), B: FnOnce() + Send>(a: A, b: B) {
    use alloc::boxed::Box;

    /// `b`'s place, reached from the thread: a pointer to the caller's stack.
    struct Slot<B>(*mut Option<B>);
    // SAFETY: the slot is only touched by the thread (while the caller
    // waits for it below) or by the caller after the thread failed to
    // start; `B: Send`.
    unsafe impl<B: Send> Send for Slot<B> {}

    let mut b = Some(b);
    let slot = Slot::<B>(&mut b as *mut Option<B>);
    let run: Box<dyn FnOnce() + Send + '_> = Box::new(move || {
        let slot = slot;
        // SAFETY: see `Slot`; the caller does not touch `b` until joined.
        if let Some(b) = unsafe { (*slot.0).take() } {
            b();
        }
    });
    // SAFETY: the thread is joined below before this function returns (the
    // runtime does not unwind: a panic ends the process), so what `run`
    // borrows outlives it.
    let run: Box<dyn FnOnce() + Send + 'static> = unsafe { core::mem::transmute(run) };
    match tessera_runtime::thread::spawn(run) {
        Ok(thread) => {
            a();
            thread.join();
        }
        Err(_) => {
            a();
            if let Some(b) = b.take() {
                b();
            }
        }
    }
}

/// The kept helper thread: one job at a time, handed over through `JOB`
/// and the state word.
#[cfg(not(test))]
mod helper {
    use core::cell::UnsafeCell;
    use core::sync::atomic::{AtomicU32, Ordering};

    use tessera_runtime::abi::error::{EAGAIN, EINTR};
    use tessera_runtime::sys;

    /// No helper yet (the next caller starts it), or it could not start.
    const NONE: u32 = 0;
    const FAILED: u32 = 1;
    /// Waiting for a job.
    const IDLE: u32 = 2;
    /// A caller is putting a job in `JOB`.
    const CLAIMED: u32 = 3;
    /// A job waits in `JOB`, or runs.
    const POSTED: u32 = 4;
    /// The job ran; its caller may go.
    const DONE: u32 = 5;

    static STATE: AtomicU32 = AtomicU32::new(NONE);

    /// The job: a caller's closure, erased to `'static`.
    struct Job(UnsafeCell<Option<*mut (dyn FnMut() + Send)>>);
    // SAFETY: written only by the caller that moved STATE from IDLE to
    // CLAIMED, before it stores POSTED (Release); read only by the helper
    // after it saw POSTED (Acquire); the closure is `Send`.
    unsafe impl Sync for Job {}
    static JOB: Job = Job(UnsafeCell::new(None));

    /// Runs `job` on the helper and `here` on this thread, and returns
    /// once both are done: `Err(here)`, nothing run, if the helper is busy
    /// or cannot be started.
    pub(super) fn run_with<H: FnOnce()>(job: &mut (dyn FnMut() + Send), here: H) -> Result<(), H> {
        if STATE.load(Ordering::Acquire) == NONE && !start() {
            return Err(here);
        }
        if STATE.compare_exchange(IDLE, CLAIMED, Ordering::AcqRel, Ordering::Acquire).is_err() {
            return Err(here);
        }
        // SAFETY: the job is only used by the helper before it stores
        // DONE, and this function does not return before it sees DONE
        // (the runtime does not unwind), so the borrow outlives every use.
        let job: *mut (dyn FnMut() + Send + 'static) = unsafe { core::mem::transmute(job) };
        // SAFETY: CLAIMED: no one else touches JOB (see `Job`).
        unsafe { *JOB.0.get() = Some(job) };
        STATE.store(POSTED, Ordering::Release);
        let _ = sys::futex_wake(&STATE, 1);
        here();
        wait_while(POSTED);
        STATE.store(IDLE, Ordering::Release);
        Ok(())
    }

    /// Starts the helper (once): whether it runs.
    fn start() -> bool {
        if STATE.compare_exchange(NONE, IDLE, Ordering::AcqRel, Ordering::Acquire).is_err() {
            return STATE.load(Ordering::Acquire) != FAILED;
        }
        match tessera_runtime::thread::spawn(serve) {
            // It lives as long as the daemon: its handle is never joined.
            Ok(thread) => {
                core::mem::forget(thread);
                true
            }
            Err(_) => {
                STATE.store(FAILED, Ordering::Release);
                false
            }
        }
    }

    /// The helper's loop: each posted job, then DONE.
    fn serve() {
        loop {
            loop {
                let state = STATE.load(Ordering::Acquire);
                if state == POSTED {
                    break;
                }
                wait_on(state);
            }
            // SAFETY: POSTED: the job is the caller's until it sees DONE.
            if let Some(job) = unsafe { (*JOB.0.get()).take() } {
                // SAFETY: see `run_with`: the closure outlives this call.
                unsafe { (*job)() };
            }
            STATE.store(DONE, Ordering::Release);
            let _ = sys::futex_wake(&STATE, 1);
        }
    }

    /// Waits until the state is no longer `state`.
    fn wait_while(state: u32) {
        while STATE.load(Ordering::Acquire) == state {
            wait_on(state);
        }
    }

    fn wait_on(state: u32) {
        match sys::futex_wait(&STATE, state, None) {
            Ok(()) => {}
            Err(e) if e.errno == EAGAIN || e.errno == EINTR => {}
            Err(_) => {
                let _ = sys::sched_yield();
            }
        }
    }
}

/// The host tests' version: a scoped thread.
#[cfg(test)]
pub fn join(a: impl FnOnce(), b: impl FnOnce() + Send) {
    std::thread::scope(|s| {
        s.spawn(b);
        a();
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::sync::atomic::AtomicUsize;

    /// Every item arrives in order, made once, by one thread or the other;
    /// an early stop leaves the rest unmade or dropped.
    #[test]
    fn items_come_in_order_each_made_once() {
        for n in [0, 1, 2, 3, 17, 64] {
            let made = AtomicUsize::new(0);
            let got = in_order(
                n,
                &mut [Vec::new(), Vec::new()],
                |i, scratch| {
                    made.fetch_add(1, Ordering::Relaxed);
                    scratch.push(1);
                    // Some work, so both threads take items.
                    (0..2000u64).fold(i as u64, |a, b| a.wrapping_mul(31).wrapping_add(b))
                },
                |get| (0..n).map(get).collect::<Vec<_>>(),
            );
            let want: Vec<u64> =
                (0..n).map(|i| (0..2000u64).fold(i as u64, |a, b| a.wrapping_mul(31).wrapping_add(b))).collect();
            assert_eq!(got, want, "n = {n}");
            assert_eq!(made.load(Ordering::Relaxed), n, "each made once, n = {n}");
        }
        let made = AtomicUsize::new(0);
        let first_two = in_order(
            50,
            &mut [Vec::new(), Vec::new()],
            |i, _| {
                made.fetch_add(1, Ordering::Relaxed);
                i
            },
            |get| [get(0), get(1)],
        );
        assert_eq!(first_two, [0, 1]);
        assert!(made.load(Ordering::Relaxed) <= 50);
    }
}
