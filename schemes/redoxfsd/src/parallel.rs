//! Two pieces of work at once: one on a second thread of the daemon, one
//! on the caller's, both done before [`join`] returns. With `-smp 2` and
//! a client waiting in `msync`, the other CPU is otherwise idle while the
//! daemon compresses a write-back's records (`records.rs`).

/// Runs `a` here and `b` on a new thread, and returns when both are done.
/// If no thread can be made, `b` runs here after `a`.
#[cfg(not(test))]
pub fn join<A: FnOnce() + Send, B: FnOnce() + Send>(a: A, b: B) {
    use alloc::boxed::Box;

    /// `b`'s place, reached from the thread: a pointer to the caller's stack.
    struct Slot<B>(*mut Option<B>);
    // SAFETY: the slot is only touched by the thread (while the caller
    // waits for it in `join`) or by the caller after the thread failed to
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

/// The host tests' version: a scoped thread.
#[cfg(test)]
pub fn join(a: impl FnOnce() + Send, b: impl FnOnce() + Send) {
    std::thread::scope(|s| {
        s.spawn(b);
        a();
    });
}
