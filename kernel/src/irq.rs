//! Device interrupts handed to user-space drivers (the `irq:` scheme,
//! docs/drivers.md). A [`Line`] is one interrupt a driver holds: an MSI
//! vector (x86_64) or a PCI INTx line, a GIC SPI (aarch64). The arch's
//! interrupt entry calls [`deliver`] for every device interrupt; it counts
//! the interrupt on its line and wakes the waiting readers.
//!
//! Level-sensitive lines (INTx) stay asserted until the driver makes the
//! device drop them, so [`deliver`] masks the line and [`Line::ack`]
//! unmasks it: a device nobody services cannot storm the CPU. Edge
//! interrupts (MSI) are only counted. An interrupt with no line (a vector
//! or SPI nobody holds, a late MSI after close) is counted in [`STRAYS`]
//! and otherwise ignored; an unheld SPI is disabled.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use tessera_abi::error::{EBUSY, EINTR, ENOSPC, Error, Result};

use crate::arch::irq as arch_irq;
use crate::sched::{self, Thread};
use crate::sync::Mutex;

/// Device interrupts that arrived for no line.
pub static STRAYS: AtomicU64 = AtomicU64::new(0);

/// One interrupt held by a driver.
pub struct Line {
    /// The vector (x86_64) or INTID (aarch64).
    pub id: u32,
    /// Level-sensitive: masked from delivery until acknowledged.
    level: bool,
    state: Mutex<LineState>,
}

#[derive(Default)]
struct LineState {
    /// Interrupts since the last acknowledgement.
    pending: u64,
    /// Threads waiting in [`Line::wait`].
    waiting: Vec<Arc<Thread>>,
}

/// The held lines, by id.
static LINES: Mutex<BTreeMap<u32, Arc<Line>>> = Mutex::new(BTreeMap::new());

/// Takes line `id` (EBUSY if someone holds it) and lets it through.
pub fn claim(id: u32, level: bool) -> Result<Arc<Line>> {
    let mut lines = LINES.lock();
    if lines.contains_key(&id) {
        return Err(Error::new(EBUSY));
    }
    let line = Arc::new(Line { id, level, state: Mutex::new(LineState::default()) });
    lines.insert(id, line.clone());
    arch_irq::enable_device(id, level);
    Ok(line)
}

/// Takes a free MSI vector (ENOSPC when all are held).
pub fn claim_msi() -> Result<Arc<Line>> {
    let taken: Vec<u32> = LINES.lock().keys().copied().collect();
    let vector = arch_irq::MSI_VECTORS.clone().find(|v| !taken.contains(v)).ok_or(Error::new(ENOSPC))?;
    // Another CPU may take it in between: claim says EBUSY then.
    claim(vector, false)
}

/// Gives `line` up: masks it and forgets it.
pub fn release(line: &Arc<Line>) {
    let mut lines = LINES.lock();
    if lines.get(&line.id).is_some_and(|held| Arc::ptr_eq(held, line)) {
        arch_irq::disable_device(line.id);
        lines.remove(&line.id);
    }
}

/// Whether `id` is a device interrupt, handled here. Called by the
/// interrupt entry before its end of interrupt.
pub fn deliver(id: u32) -> bool {
    if !arch_irq::DEVICE_VECTORS.contains(&id) {
        return false;
    }
    let Some(line) = LINES.lock().get(&id).cloned() else {
        STRAYS.fetch_add(1, Ordering::Relaxed);
        arch_irq::disable_device(id);
        return true;
    };
    // Under the line's lock, so that an acknowledgement on another CPU
    // cannot unmask between the count and the mask.
    let mut state = line.state.lock();
    if line.level {
        arch_irq::disable_device(id);
    }
    state.pending += 1;
    for thread in state.waiting.drain(..) {
        sched::wake(&thread);
    }
    true
}

impl Line {
    /// Waits until an interrupt arrived since the last acknowledgement and
    /// returns how many. EINTR when the process is killed meanwhile.
    pub fn wait(&self) -> Result<u64> {
        loop {
            {
                let mut state = self.state.lock();
                if state.pending > 0 {
                    return Ok(state.pending);
                }
                let me = sched::current();
                // Once: a spurious wake must not grow the list.
                if !state.waiting.iter().any(|t| Arc::ptr_eq(t, &me)) {
                    state.waiting.push(me);
                }
            }
            // Registered before the check above failed: no wake is lost.
            sched::block_current();
            if crate::process::kill_pending() {
                return Err(Error::new(EINTR));
            }
        }
    }

    /// Acknowledges `count` interrupts (what [`Self::wait`] returned); a
    /// level-sensitive line is let through again once none is left.
    pub fn ack(&self, count: u64) {
        let mut state = self.state.lock();
        state.pending = state.pending.saturating_sub(count);
        if self.level && state.pending == 0 {
            arch_irq::enable_device(self.id, true);
        }
    }
}
