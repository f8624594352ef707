//! The recursive lock behind `flockfile` and every stdio stream (C's
//! `struct __tessera_lock`, c/stdio_impl.h): a futex word plus the owning
//! thread's id and a depth, so that the thread holding a stream may lock it
//! again (`flockfile` then `fputc`) and other threads of the process wait
//! in the kernel (`futex`), not spinning.
//!
//! The word is Drepper's three-state mutex: 0 free, 1 held, 2 held with
//! waiters (only then does unlocking make the `futex_wake` call). A lock is
//! taken with one `gettid` call (the owner check needs the caller's id).

use core::ffi::c_int;
use core::sync::atomic::{AtomicU32, Ordering};

use tessera_sys::sys as calls;

/// C's `struct __tessera_lock` (all zero: free).
#[repr(C)]
pub struct RecLock {
    word: AtomicU32,
    owner: AtomicU32,
    /// Written only by the owner; atomic because other threads hold `&`s.
    depth: AtomicU32,
}

/// The calling thread's id (never 0: tids start at 1; 0 marks "no owner").
fn tid() -> u32 {
    calls::gettid().map_or(u32::MAX, |t| t as u32)
}

impl RecLock {
    fn acquire(&self) {
        if self.word.compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed).is_ok() {
            return;
        }
        while self.word.swap(2, Ordering::Acquire) != 0 {
            // EAGAIN (the word changed) and EINTR just mean: look again.
            let _ = calls::futex_wait(&self.word, 2, None);
        }
    }

    fn release(&self) {
        if self.word.swap(0, Ordering::Release) == 2 {
            let _ = calls::futex_wake(&self.word, 1);
        }
    }
}

/// Takes `lock` for the calling thread (again, if it holds it already).
///
/// # Safety
/// `lock` points at a live `struct __tessera_lock`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __tessera_lock(lock: *mut RecLock) {
    // SAFETY: the caller's contract.
    let lock = unsafe { &*lock };
    let me = tid();
    if lock.owner.load(Ordering::Relaxed) == me {
        lock.depth.fetch_add(1, Ordering::Relaxed);
        return;
    }
    lock.acquire();
    lock.owner.store(me, Ordering::Relaxed);
    lock.depth.store(1, Ordering::Relaxed);
}

/// Takes `lock` if it is free or already the caller's: 0; nonzero if
/// another thread holds it.
///
/// # Safety
/// As [`__tessera_lock`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __tessera_trylock(lock: *mut RecLock) -> c_int {
    // SAFETY: the caller's contract.
    let lock = unsafe { &*lock };
    let me = tid();
    if lock.owner.load(Ordering::Relaxed) == me {
        lock.depth.fetch_add(1, Ordering::Relaxed);
        return 0;
    }
    if lock.word.compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed).is_err() {
        return 1;
    }
    lock.owner.store(me, Ordering::Relaxed);
    lock.depth.store(1, Ordering::Relaxed);
    0
}

/// Undoes one [`__tessera_lock`]; the last one frees the lock. Called by a
/// thread that does not hold it, it does nothing (POSIX leaves that
/// undefined).
///
/// # Safety
/// As [`__tessera_lock`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __tessera_unlock(lock: *mut RecLock) {
    // SAFETY: the caller's contract.
    let lock = unsafe { &*lock };
    let depth = lock.depth.load(Ordering::Relaxed);
    if lock.owner.load(Ordering::Relaxed) != tid() || depth == 0 {
        return;
    }
    lock.depth.store(depth - 1, Ordering::Relaxed);
    if depth == 1 {
        lock.owner.store(0, Ordering::Relaxed);
        lock.release();
    }
}

/// After `fork`: the child has one thread, whose id differs from the
/// parent's; a lock held by the forking thread stays held by it (its new
/// id), one held by another thread of the parent is freed (that thread
/// does not exist in the child). Called for every stream by the C side.
///
/// # Safety
/// As [`__tessera_lock`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __tessera_lock_after_fork(lock: *mut RecLock, parent_tid: u32) {
    // SAFETY: the caller's contract; the child has a single thread.
    let lock = unsafe { &*lock };
    if lock.depth.load(Ordering::Relaxed) > 0 && lock.owner.load(Ordering::Relaxed) == parent_tid {
        lock.owner.store(tid(), Ordering::Relaxed);
        lock.word.store(1, Ordering::Relaxed);
    } else {
        lock.owner.store(0, Ordering::Relaxed);
        lock.depth.store(0, Ordering::Relaxed);
        lock.word.store(0, Ordering::Relaxed);
    }
}
