//! The COM1 16550 UART at I/O port 0x3F8, 115200 8N1, polled.

use x86_64::instructions::port::Port;

const COM1: u16 = 0x3F8;
/// Line status register bit: transmit holding register empty.
const LSR_THR_EMPTY: u8 = 1 << 5;

/// Programs the UART (the firmware normally has, but a kernel should not
/// depend on it).
pub fn init() {
    let regs = [(1, 0x00), (3, 0x80), (0, 0x01), (1, 0x00), (3, 0x03), (2, 0xC7), (4, 0x0B)];
    for (offset, value) in regs {
        // SAFETY: COM1's registers; writing them only configures the UART.
        unsafe { Port::<u8>::new(COM1 + offset).write(value) };
    }
}

/// Sends one byte, waiting for room.
pub fn write_byte(byte: u8) {
    // SAFETY: reading LSR and writing THR of COM1 have no other effects.
    unsafe {
        while Port::<u8>::new(COM1 + 5).read() & LSR_THR_EMPTY == 0 {
            core::hint::spin_loop();
        }
        Port::<u8>::new(COM1).write(byte);
    }
}

/// A received byte, if one is waiting.
pub fn read_byte() -> Option<u8> {
    // SAFETY: reading LSR and RBR of COM1 has no effect beyond taking the byte.
    unsafe { (Port::<u8>::new(COM1 + 5).read() & 1 != 0).then(|| Port::<u8>::new(COM1).read()) }
}
