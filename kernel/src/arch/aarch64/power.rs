//! Power off and reset through PSCI (Arm DEN 0022: SYSTEM_OFF,
//! SYSTEM_RESET), over the conduit (HVC or SMC) the device tree names.

use core::sync::atomic::Ordering;

use tessera_bootinfo::KernelArgs;

use super::{dtb, smp};

const PSCI_SYSTEM_OFF: u64 = 0x8400_0008;
const PSCI_SYSTEM_RESET: u64 = 0x8400_0009;

/// Records the PSCI conduit (also done when the CPUs start).
pub fn init(args: &KernelArgs) -> Result<(), &'static str> {
    smp::PSCI_HVC.store(dtb::psci_uses_hvc(args)? as usize, Ordering::Relaxed);
    Ok(())
}

/// SYSTEM_OFF. Returns only if the firmware refused.
pub fn off() {
    smp::psci_call(PSCI_SYSTEM_OFF, 0, 0, 0);
}

/// SYSTEM_RESET. Returns only if the firmware refused.
pub fn reset() {
    smp::psci_call(PSCI_SYSTEM_RESET, 0, 0, 0);
}
