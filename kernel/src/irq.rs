//! Device interrupts handed to user-space drivers (the `irq:` scheme,
//! docs/drivers.md). A [`Line`] is one interrupt a driver holds: an MSI
//! vector (x86_64) or a PCI INTx line, a GIC SPI (aarch64). The arch's
//! interrupt entry calls [`deliver`] for every device interrupt; it counts
//! the interrupt on its line and wakes the waiting readers.
//!
//! Level-sensitive lines (INTx) stay asserted until the driver makes the
//! device drop them, so [`deliver`] masks the line and [`Line::ack`]
//! unmasks it: a device nobody services cannot storm the CPU. Edge
//! interrupts (MSI) are only counted.
//!
//! A level-sensitive line may be **shared** (PCI INTx lines are: on
//! aarch64 `virt` slots 1 and 5 use the same one): each [`claim`] of it is
//! a *holder* with its own count; an interrupt counts for every holder
//! (each driver reads its own device's status to see whether it was the
//! cause), and the line is let through again when a holder has
//! acknowledged all of its count: a device that still asserts it then
//! interrupts again, counted for every holder once more. A holder that
//! never acknowledges cannot keep the line masked for the others, and an
//! unserviced device fires at most once per acknowledgement, never in a
//! storm. An MSI vector has one holder. An interrupt with no line (a vector
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

/// One interrupt held by drivers.
pub struct Line {
    /// The vector (x86_64) or INTID (aarch64).
    pub id: u32,
    /// Level-sensitive: masked from delivery until acknowledged.
    level: bool,
    state: Mutex<LineState>,
}

/// One claim of a line: what [`Line::wait`], [`Line::ack`] and [`release`]
/// are told.
pub type Holder = u64;

#[derive(Default)]
struct LineState {
    /// Per holder: interrupts since its last acknowledgement.
    pending: BTreeMap<Holder, u64>,
    /// The next holder's number.
    next_holder: Holder,
    /// Threads waiting in [`Line::wait`] (any holder's).
    waiting: Vec<Arc<Thread>>,
}

/// The held lines, by id.
static LINES: Mutex<BTreeMap<u32, Arc<Line>>> = Mutex::new(BTreeMap::new());

/// Takes line `id` and lets it through: a new holder of it. A held
/// level-sensitive line is shared (one more holder); a held edge one
/// (an MSI vector) is EBUSY.
pub fn claim(id: u32, level: bool) -> Result<(Arc<Line>, Holder)> {
    let mut lines = LINES.lock();
    if let Some(line) = lines.get(&id) {
        if !(level && line.level) {
            return Err(Error::new(EBUSY));
        }
        let mut state = line.state.lock();
        let holder = state.next_holder;
        state.next_holder += 1;
        state.pending.insert(holder, 0);
        return Ok((line.clone(), holder));
    }
    let mut state = LineState::default();
    state.pending.insert(0, 0);
    state.next_holder = 1;
    let line = Arc::new(Line { id, level, state: Mutex::new(state) });
    lines.insert(id, line.clone());
    arch_irq::enable_device(id, level);
    Ok((line, 0))
}

/// Takes a free MSI vector (ENOSPC when all are held).
pub fn claim_msi() -> Result<(Arc<Line>, Holder)> {
    let taken: Vec<u32> = LINES.lock().keys().copied().collect();
    let vector = arch_irq::MSI_VECTORS.clone().find(|v| !taken.contains(v)).ok_or(Error::new(ENOSPC))?;
    // Another CPU may take it in between: claim says EBUSY then.
    claim(vector, false)
}

/// `holder` gives `line` up. The last holder masks it and forgets it; if
/// others remain, the line is let through (it may have been masked since
/// an interrupt only this holder would have acknowledged).
pub fn release(line: &Arc<Line>, holder: Holder) {
    let mut lines = LINES.lock();
    if !lines.get(&line.id).is_some_and(|held| Arc::ptr_eq(held, line)) {
        return;
    }
    let mut state = line.state.lock();
    state.pending.remove(&holder);
    if state.pending.is_empty() {
        arch_irq::disable_device(line.id);
        drop(state);
        lines.remove(&line.id);
    } else if line.level {
        arch_irq::enable_device(line.id, true);
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
    for count in state.pending.values_mut() {
        *count += 1;
    }
    for thread in state.waiting.drain(..) {
        sched::wake(&thread);
    }
    true
}

impl Line {
    /// Waits until an interrupt arrived since `holder`'s last
    /// acknowledgement and returns how many. EINTR when the process is
    /// killed meanwhile.
    pub fn wait(&self, holder: Holder) -> Result<u64> {
        loop {
            {
                let mut state = self.state.lock();
                let pending = state.pending.get(&holder).copied().unwrap_or(0);
                if pending > 0 {
                    return Ok(pending);
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

    /// Acknowledges `count` interrupts for `holder` (what [`Self::wait`]
    /// returned); a level-sensitive line is let through again once this
    /// holder has none left.
    pub fn ack(&self, holder: Holder, count: u64) {
        let mut state = self.state.lock();
        let Some(pending) = state.pending.get_mut(&holder) else { return };
        *pending = pending.saturating_sub(count);
        if self.level && *pending == 0 {
            arch_irq::enable_device(self.id, true);
        }
    }
}
