//! The legacy 8259A interrupt-controller pair. Tessera takes interrupts
//! through the local APIC (and later the I/O APIC or MSI), so the PICs are
//! only reprogrammed out of the way: their vectors moved from the
//! firmware's choice to [`VECTOR_BASE`]`..+16`, away from the CPU exceptions,
//! and every input masked. A masked 8259 can still raise a spurious IRQ 7 or
//! 15, which would then arrive at `VECTOR_BASE + 7` / `+ 15` if the local
//! APIC's LINT0 were unmasked (it never is: `apic::init_cpu` masks it).
//!
//! Intel 8259A data sheet (order 231468): "Initialization Command Words"
//! ICW1-ICW4 and "Operation Command Words" OCW1 (the interrupt mask).

use x86_64::instructions::port::Port;

/// The master PIC's first vector; the slave's is `VECTOR_BASE + 8`.
pub const VECTOR_BASE: u8 = 0xE0;

const MASTER_COMMAND: u16 = 0x20;
const MASTER_DATA: u16 = 0x21;
const SLAVE_COMMAND: u16 = 0xA0;
const SLAVE_DATA: u16 = 0xA1;

/// ICW1: initialization (bit 4), ICW4 follows (bit 0); edge triggered,
/// cascaded.
const ICW1_INIT_WITH_ICW4: u8 = 0x11;
/// ICW3 of the master: the slave hangs off input 2 (a bit mask).
const ICW3_MASTER_SLAVE_ON_IR2: u8 = 1 << 2;
/// ICW3 of the slave: its cascade identity (input 2 of the master).
const ICW3_SLAVE_ID: u8 = 2;
/// ICW4: 8086/8088 mode, normal EOI, not buffered.
const ICW4_8086: u8 = 0x01;
/// OCW1 with every input masked.
const OCW1_MASK_ALL: u8 = 0xFF;

/// Writes `value` to `port`, then gives the PIC time to take it: a write
/// to the unused POST-code port 0x80 takes about 1 µs on ISA-timed buses,
/// the delay the 8259A needs between initialization words.
fn write_slowly(port: u16, value: u8) {
    // SAFETY: `port` is one of the PICs' registers (callers pass only the
    // constants above), and port 0x80 is the POST diagnostic port, which
    // has no effect besides a bus cycle.
    unsafe {
        Port::<u8>::new(port).write(value);
        Port::<u8>::new(0x80).write(0);
    }
}

/// Reinitializes both PICs at [`VECTOR_BASE`] and masks all 16 inputs.
pub fn disable() {
    write_slowly(MASTER_COMMAND, ICW1_INIT_WITH_ICW4);
    write_slowly(SLAVE_COMMAND, ICW1_INIT_WITH_ICW4);
    write_slowly(MASTER_DATA, VECTOR_BASE); // ICW2: vector base
    write_slowly(SLAVE_DATA, VECTOR_BASE + 8);
    write_slowly(MASTER_DATA, ICW3_MASTER_SLAVE_ON_IR2);
    write_slowly(SLAVE_DATA, ICW3_SLAVE_ID);
    write_slowly(MASTER_DATA, ICW4_8086);
    write_slowly(SLAVE_DATA, ICW4_8086);
    write_slowly(MASTER_DATA, OCW1_MASK_ALL);
    write_slowly(SLAVE_DATA, OCW1_MASK_ALL);
}
