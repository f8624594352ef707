//! Threads: [`spawn`] runs a closure on a new thread of this process,
//! [`JoinHandle::join`] waits for it.
//!
//! The runtime allocates each thread's stack on the heap. The thread ends
//! with `exit_thread`, naming its handle's `done` word: the kernel zeroes it
//! and wakes the joiner once the thread has stopped using its stack, so the
//! joiner may then free the stack. A panic on any thread ends the whole
//! process (status 101), as the runtime has no unwinding.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};

use tessera_abi::Result;
use tessera_abi::error::{EAGAIN, EINTR};

use crate::sys;

/// A new thread's stack, in bytes.
pub const STACK_BYTES: usize = 64 * 1024;

/// What the new thread starts with; the joiner owns it.
struct Start {
    work: Option<Box<dyn FnOnce() + Send>>,
    /// Non-zero while the thread may still run; the kernel zeroes it.
    done: AtomicU32,
}

/// A running thread. [`JoinHandle::join`] waits for it to end; dropping the
/// handle waits too (the handle owns the thread's stack).
pub struct JoinHandle {
    tid: usize,
    start: Box<Start>,
    stack: Vec<u128>,
}

extern "C" fn thread_entry(start: *mut Start) -> ! {
    // SAFETY: `spawn` passes a `Start` that its handle keeps alive (and does
    // not touch but for `done`) until `done` is 0, which happens only after
    // this thread has ended.
    let start = unsafe { &mut *start };
    if let Some(work) = start.work.take() {
        work();
    }
    sys::exit_thread(0, Some(&start.done))
}

/// Runs `work` on a new thread of this process.
///
/// Errors: those of [`sys::clone_thread`] (`EAGAIN` too many threads,
/// `ENOMEM`, `EINTR` the process is ending).
pub fn spawn(work: impl FnOnce() + Send + 'static) -> Result<JoinHandle> {
    let mut start = Box::new(Start { work: Some(Box::new(work)), done: AtomicU32::new(1) });
    let mut stack: Vec<u128> = Vec::with_capacity(STACK_BYTES / 16);
    let top = stack.as_mut_ptr() as usize + STACK_BYTES - crate::arch::THREAD_ENTRY_STACK_BIAS;
    let arg = &mut *start as *mut Start as usize;
    // SAFETY: `thread_entry` never returns and is `extern "C"`; the stack is
    // ours alone and, like `start`, lives in the handle until the kernel
    // says the thread is gone.
    let tid = unsafe { sys::clone_thread(thread_entry as *const () as usize, top, arg, 0) }?;
    Ok(JoinHandle { tid, start, stack })
}

impl JoinHandle {
    /// The thread's id.
    pub fn tid(&self) -> usize {
        self.tid
    }

    /// Whether the thread has ended.
    pub fn is_finished(&self) -> bool {
        self.start.done.load(Ordering::Acquire) == 0
    }

    /// Waits until the thread has ended.
    pub fn join(self) {
        drop(self);
    }

    fn wait(&self) {
        loop {
            let done = self.start.done.load(Ordering::Acquire);
            if done == 0 {
                return;
            }
            match sys::futex_wait(&self.start.done, done, None) {
                Ok(()) => {}
                Err(e) if e.errno == EAGAIN || e.errno == EINTR => {}
                Err(_) => {
                    let _ = sys::sched_yield();
                }
            }
        }
    }
}

impl Drop for JoinHandle {
    fn drop(&mut self) {
        self.wait();
        // Only now may the stack go (the field drops after this).
        let _ = &self.stack;
    }
}
