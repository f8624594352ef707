//! The kernel's spin lock: `spin::Mutex` whose waiting loop also serves
//! TLB-shootdown requests.
//!
//! The kernel runs with interrupts off, so a CPU spinning on a lock cannot
//! take the shootdown IPI. A CPU that changes an address space flushes the
//! other CPUs using it and waits for their acknowledgements while it still
//! holds the space's lock (see `mm::tlb`); a thread of the same process on
//! another CPU may be spinning on that very lock. Serving the mailbox in
//! the spin loop acknowledges the flush there too, so neither waits for the
//! other.
//!
//! The lock names nothing above it: the kernel registers what a waiting
//! CPU serves (`mm::tlb::serve_pending`) at boot with [`set_serve_hook`],
//! before any other CPU runs, as it registers the arch hooks. Without it
//! (the first lines of boot) a waiter only spins.

use spin::RelaxStrategy;

/// What a waiting CPU runs each round; see the module doc.
static SERVE: spin::Once<fn()> = spin::Once::new();

/// Registers what a CPU waiting on a [`Mutex`] serves (once, at boot).
pub fn set_serve_hook(serve: fn()) {
    SERVE.call_once(|| serve);
}

/// Spin, and flush this CPU's TLB for any shootdown addressed to it.
pub struct ServeShootdowns;

impl RelaxStrategy for ServeShootdowns {
    #[inline]
    fn relax() {
        if let Some(serve) = SERVE.get() {
            serve();
        }
        core::hint::spin_loop();
    }
}

/// A spin lock that serves TLB shootdowns while it waits.
pub type Mutex<T> = spin::mutex::Mutex<T, ServeShootdowns>;
