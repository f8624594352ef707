//! Power off and reset through ACPI (ACPI 6.5 §4.8.3.2 PM1 control, §7.4.2
//! `\_S5` sleep state, §5.2.9 FADT, §4.8.3.6 reset register).
//!
//! At boot the FADT gives the PM1a/PM1b control ports and the reset
//! register; the `\_S5_` package in the DSDT gives the sleep type values.
//! Only the simple AML forms firmware writes for `\_S5_` are read (a
//! `Name` of a `Package` whose first two elements are byte constants);
//! without them, power off is refused and the CPUs halt instead.

use spin::Once;
use tessera_bootinfo::KernelArgs;
use x86_64::instructions::port::Port;

use super::acpi;

/// What the FADT and DSDT say about power.
struct Power {
    /// PM1a / PM1b control block ports (PM1b 0 if absent).
    pm1a_control: u16,
    pm1b_control: u16,
    /// SLP_TYPa / SLP_TYPb for S5, if the DSDT has a `\_S5_` we can read.
    s5: Option<(u16, u16)>,
    /// The reset register when it is an I/O port: (port, value).
    reset: Option<(u16, u8)>,
}

static POWER: Once<Power> = Once::new();

/// FADT field offsets.
const FADT_DSDT: usize = 40;
const FADT_PM1A_CNT: usize = 64;
const FADT_PM1B_CNT: usize = 68;
const FADT_FLAGS: usize = 112;
const FADT_RESET_REG: usize = 116;
const FADT_RESET_VALUE: usize = 128;
const FADT_X_DSDT: usize = 140;
/// FADT flag: the reset register is supported.
const RESET_REG_SUP: u32 = 1 << 10;
/// PM1 control: SLP_EN, and SLP_TYP's shift.
const SLP_EN: u16 = 1 << 13;
const SLP_TYP_SHIFT: u16 = 10;
/// The PCI reset control register (PIIX / ICH9): a full reset.
const RESET_CONTROL_PORT: u16 = 0xCF9;
const RESET_CONTROL_FULL: u8 = 0x0E;

/// Reads the power registers from the firmware tables. Errors leave power
/// off unavailable (reset still falls back to the reset control port).
pub fn init(args: &KernelArgs) -> Result<(), &'static str> {
    let fadt = acpi::find_table(args, b"FACP")?;
    let pm1a_control = acpi::read_u32(fadt, FADT_PM1A_CNT).ok_or("short FADT")? as u16;
    let pm1b_control = acpi::read_u32(fadt, FADT_PM1B_CNT).unwrap_or(0) as u16;
    let flags = acpi::read_u32(fadt, FADT_FLAGS).unwrap_or(0);
    // Generic address structure: space id 1 is system I/O.
    let reset = (flags & RESET_REG_SUP != 0 && fadt.get(FADT_RESET_REG) == Some(&1))
        .then(|| acpi::read_u64(fadt, FADT_RESET_REG + 4).zip(fadt.get(FADT_RESET_VALUE).copied()))
        .flatten()
        .and_then(|(port, value)| u16::try_from(port).ok().map(|port| (port, value)));
    let dsdt = acpi::read_u64(fadt, FADT_X_DSDT)
        .filter(|&a| a != 0)
        .or_else(|| acpi::read_u32(fadt, FADT_DSDT).map(u64::from))
        .ok_or("FADT names no DSDT")?;
    let s5 = acpi::table_at(dsdt).ok().and_then(s5_sleep_types);
    POWER.call_once(|| Power { pm1a_control, pm1b_control, s5, reset });
    Ok(())
}

/// SLP_TYPa and SLP_TYPb from `\_S5_`'s package: `_S5_ 0x12 PkgLength
/// NumElements a b …`, each a ByteConst (0x0A n), ZeroOp (0) or OneOp (1).
fn s5_sleep_types(dsdt: &[u8]) -> Option<(u16, u16)> {
    let at = dsdt.windows(4).position(|w| w == b"_S5_")? + 4;
    let rest = dsdt.get(at..)?;
    if *rest.first()? != 0x12 {
        return None;
    }
    // PkgLength: bits 6-7 of its first byte count the bytes that follow.
    let length_bytes = 1 + usize::from(*rest.get(1)? >> 6);
    let mut elements = rest.get(1 + length_bytes + 1..)?.iter();
    let mut next = || -> Option<u16> {
        match *elements.next()? {
            0x0A => elements.next().map(|&v| u16::from(v)),
            v @ (0 | 1) => Some(u16::from(v)),
            _ => None,
        }
    };
    Some((next()?, next()?))
}

/// Enters S5 (soft off). Returns only if ACPI power off is unavailable or
/// did not take.
pub fn off() {
    let Some(power) = POWER.get() else { return };
    let Some((a, b)) = power.s5 else { return };
    // SAFETY: writing SLP_TYP | SLP_EN to the PM1 control ports the FADT
    // names is the ACPI power-off sequence; nothing runs after it.
    unsafe {
        Port::<u16>::new(power.pm1a_control).write(a << SLP_TYP_SHIFT | SLP_EN);
        if power.pm1b_control != 0 {
            Port::<u16>::new(power.pm1b_control).write(b << SLP_TYP_SHIFT | SLP_EN);
        }
    }
}

/// Resets the machine: the FADT's reset register, else the PCI reset
/// control port. Returns only if neither took.
pub fn reset() {
    // SAFETY: the reset register and port 0xCF9 reset the machine; nothing
    // runs after them.
    unsafe {
        if let Some((port, value)) = POWER.get().and_then(|p| p.reset) {
            Port::<u8>::new(port).write(value);
        }
        Port::<u8>::new(RESET_CONTROL_PORT).write(RESET_CONTROL_FULL);
    }
}
