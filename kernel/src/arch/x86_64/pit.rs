//! The 8254 programmable interval timer, used once at boot as a reference
//! of known rate ([`FREQUENCY_HZ`]) to calibrate the TSC and the local-APIC
//! timer. Channel 2 is used because its gate is a software bit (port 0x61
//! bit 0) and its output is only wired to the PC speaker and a status bit,
//! so counting needs no interrupt and no IRQ 0 routing.
//!
//! Intel 8254 data sheet (order 231164): "Control Word Format" (SC, RW, M,
//! BCD fields), "Counter Latch Command", mode 0 ("interrupt on terminal
//! count": the counter decrements once per input clock from the written
//! value). Port 0x61 is the PC/AT "NMI status and control" register: bit 0
//! gates counter 2, bit 1 connects it to the speaker (Intel PCH data sheets,
//! "NMI_STS_CNT").

use x86_64::instructions::port::Port;

/// The 8254's input clock: 14.31818 MHz / 12.
pub const FREQUENCY_HZ: u64 = 1_193_182;

const CHANNEL2_DATA: u16 = 0x42;
const COMMAND: u16 = 0x43;
const NMI_STATUS_CONTROL: u16 = 0x61;

/// Control word: counter 2 (SC = 10), low then high byte (RW = 11),
/// mode 0 (M = 000), binary (BCD = 0).
const CHANNEL2_LOBYTE_HIBYTE_MODE0: u8 = 0b1011_0000;
/// Control word: counter latch command for counter 2 (SC = 10, RW = 00).
const CHANNEL2_LATCH: u8 = 0b1000_0000;
/// Port 0x61: counter 2 gate and speaker data enable; bits 2-3 (NMI
/// enables) are also read/write and must be written back unchanged, bits
/// 4-7 are read-only status.
const GATE2: u8 = 1 << 0;
const SPEAKER: u8 = 1 << 1;
const WRITABLE: u8 = 0x0F;

/// Counter 2 counting down from 0xFFFF (55 ms at [`FREQUENCY_HZ`]); its
/// gate is closed again when this is dropped.
pub struct Countdown {
    port_b_before: u8,
}

impl Countdown {
    /// Loads 0xFFFF into counter 2 in mode 0 and opens its gate, with the
    /// speaker disconnected.
    pub fn start() -> Self {
        // SAFETY: ports 0x42, 0x43 and 0x61 are the 8254 counter 2, its
        // control register and the gate/speaker register; this changes only
        // counter 2 (unused by anything else) and keeps the speaker off.
        unsafe {
            let mut port_b = Port::<u8>::new(NMI_STATUS_CONTROL);
            let before = port_b.read();
            port_b.write((before & WRITABLE & !SPEAKER) | GATE2);
            Port::<u8>::new(COMMAND).write(CHANNEL2_LOBYTE_HIBYTE_MODE0);
            let mut data = Port::<u8>::new(CHANNEL2_DATA);
            data.write(0xFF);
            data.write(0xFF);
            Self { port_b_before: before }
        }
    }

    /// The counter's current value (it decrements at [`FREQUENCY_HZ`]).
    pub fn read(&self) -> u16 {
        // SAFETY: the latch command freezes counter 2's value for the two
        // reads that follow; it does not disturb the counting.
        unsafe {
            Port::<u8>::new(COMMAND).write(CHANNEL2_LATCH);
            let mut data = Port::<u8>::new(CHANNEL2_DATA);
            let low = data.read();
            let high = data.read();
            u16::from_le_bytes([low, high])
        }
    }
}

impl Drop for Countdown {
    fn drop(&mut self) {
        // SAFETY: restores the writable bits found at `start`.
        unsafe { Port::<u8>::new(NMI_STATUS_CONTROL).write(self.port_b_before & WRITABLE) };
    }
}
