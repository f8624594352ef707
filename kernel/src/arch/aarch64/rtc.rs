//! The Arm PrimeCell PL031 real-time clock, read once at boot for the wall
//! time: a 32-bit count of seconds since the UNIX epoch (QEMU starts it at
//! the host's UTC time). ARM DDI 0224 "PrimeCell Real Time Clock (PL031)
//! Technical Reference Manual", §3.3.1 RTCDR (data register, offset 0).

use fdt::Fdt;
use tessera_bootinfo::phys_to_virt;

/// RTCDR: the current count, in seconds.
const RTCDR: u64 = 0x000;
/// The PL031's register block.
const REGISTERS_BYTES: u64 = 4096;
/// The physical window maps at least the low 4 GiB (`mm::paging`).
const WINDOW_GUARANTEED_END: u64 = 1 << 32;

/// Seconds since the UNIX epoch from the first `arm,pl031` in the device
/// tree, or `None` if there is none (or it lies outside the window).
pub fn read_unix_seconds(fdt: &Fdt) -> Option<u64> {
    let node = fdt.find_compatible(&["arm,pl031"])?;
    let phys = node.reg()?.next()?.starting_address as u64;
    if phys + REGISTERS_BYTES > WINDOW_GUARANTEED_END {
        return None;
    }
    // SAFETY: the device tree says a PL031's registers are at `phys`,
    // which the physical window maps as device memory; reading RTCDR has
    // no side effects.
    let seconds = unsafe { (phys_to_virt(phys + RTCDR) as *const u32).read_volatile() };
    Some(u64::from(seconds))
}
