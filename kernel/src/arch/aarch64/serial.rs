//! The PL011 UART, polled, at the address the device tree gives. Until
//! [`init`] runs, output is dropped (nothing else can be done without an
//! address). The firmware has already programmed baud rate and format.

use core::sync::atomic::{AtomicU64, Ordering};

use tessera_bootinfo::phys_to_virt;

/// Virtual address of the UART registers, 0 when unknown.
static BASE: AtomicU64 = AtomicU64::new(0);

/// Flag register and its "transmit FIFO full" bit (PL011 TRM §3.3.3).
const UARTFR: u64 = 0x18;
const FR_TXFF: u32 = 1 << 5;

/// Uses the UART whose registers are at `phys`.
pub fn init(phys: u64) {
    BASE.store(phys_to_virt(phys), Ordering::Relaxed);
}

/// Sends one byte, waiting for room.
pub fn write_byte(byte: u8) {
    let base = BASE.load(Ordering::Relaxed);
    if base == 0 {
        return;
    }
    // SAFETY: `base` maps the PL011's registers as device memory in the
    // physical window (loader's and kernel's tables alike).
    unsafe {
        while ((base + UARTFR) as *const u32).read_volatile() & FR_TXFF != 0 {
            core::hint::spin_loop();
        }
        (base as *mut u32).write_volatile(byte as u32);
    }
}

/// Flag register bit: receive FIFO empty.
const FR_RXFE: u32 = 1 << 4;

/// A received byte, if one is waiting.
pub fn read_byte() -> Option<u8> {
    let base = BASE.load(Ordering::Relaxed);
    if base == 0 {
        return None;
    }
    // SAFETY: as in `write_byte`; reading DR takes the byte from the FIFO.
    unsafe {
        if ((base + UARTFR) as *const u32).read_volatile() & FR_RXFE != 0 {
            return None;
        }
        Some((base as *const u32).read_volatile() as u8)
    }
}
