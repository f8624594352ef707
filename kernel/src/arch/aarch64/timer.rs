//! The Arm generic timer: the system counter (the clock) and this CPU's EL1
//! virtual timer (the tick). Arm ARM (DDI 0487), chapter "The Generic Timer
//! in AArch64 state", and the register descriptions of CNTFRQ_EL0,
//! CNTVCT_EL0, CNTV_CTL_EL0 and CNTV_CVAL_EL0.
//!
//! The virtual timer, not the EL1 physical one: it is the timer EL1 owns
//! outright when a hypervisor runs underneath (KVM traps or emulates the
//! physical timer for its guests and hands them the virtual one), and it
//! compares against CNTVCT_EL0, the same view of the counter the clock
//! reads. Without EL2 (QEMU TCG `virt`), CNTVOFF_EL2 is 0 and the virtual
//! count equals the physical one.
//!
//! Periodic ticks are made by re-arming the compare value on each tick
//! ([`rearm`]), which keeps them drift-free: the next deadline is the
//! previous one plus the period, not "now" plus the period.

use core::sync::atomic::{AtomicU64, Ordering};

use aarch64_cpu::asm::barrier;
use aarch64_cpu::registers::{CNTFRQ_EL0, CNTV_CTL_EL0, CNTV_CVAL_EL0, CNTVCT_EL0, Readable, Writeable};

/// The tick period in counter ticks; the same on every CPU.
static PERIOD_TICKS: AtomicU64 = AtomicU64::new(0);

/// The counter frequency the firmware programmed in CNTFRQ_EL0.
pub fn frequency_hz() -> u64 {
    CNTFRQ_EL0.get()
}

/// The virtual count. Reads of CNTVCT_EL0 may be performed out of order
/// with earlier instructions; the ISB before it keeps a clock read from
/// reflecting a time before the code that precedes it.
pub fn counter() -> u64 {
    barrier::isb(barrier::SY);
    CNTVCT_EL0.get()
}

/// Arms this CPU's virtual timer to fire when the count reaches
/// `deadline`, unmasked.
fn arm(deadline: u64) {
    CNTV_CVAL_EL0.set(deadline);
    CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::SET + CNTV_CTL_EL0::IMASK::CLEAR);
    barrier::isb(barrier::SY);
}

/// Starts periodic ticks every `period_ticks` (at least 1) on this CPU.
pub fn start(period_ticks: u64) {
    let period = period_ticks.max(1);
    PERIOD_TICKS.store(period, Ordering::Relaxed);
    arm(counter() + period);
}

/// Moves the deadline one period on, for the next tick; if ticks were
/// missed (the deadline is already past), the next one comes one period
/// from now. The timer's interrupt is level-sensitive: until this moves
/// the deadline, it stays asserted.
pub fn rearm() {
    let period = PERIOD_TICKS.load(Ordering::Relaxed);
    if period == 0 {
        return;
    }
    let now = counter();
    let next = CNTV_CVAL_EL0.get().wrapping_add(period);
    arm(if next > now { next } else { now + period });
}

/// Disables this CPU's timer; its interrupt line drops.
pub fn stop() {
    CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::CLEAR + CNTV_CTL_EL0::IMASK::SET);
    barrier::isb(barrier::SY);
}

/// Whether the timer condition is met (CNTV_CTL_EL0.ISTATUS), whether or
/// not its interrupt is masked.
pub fn condition_met() -> bool {
    CNTV_CTL_EL0.is_set(CNTV_CTL_EL0::ISTATUS)
}
