//! Where PCI configuration space is on x86_64: the ACPI MCFG table lists
//! the ECAM windows (PCI Firmware Specification 3.2 §4.1.2, "MCFG Table
//! Description": after the 36-byte header and 8 reserved bytes, 16-byte
//! entries of base address (8, bus 0's), segment (2), start bus (1), end bus (1)).

use alloc::vec::Vec;

use tessera_bootinfo::KernelArgs;

use super::acpi::{find_table, read_u64};
use crate::pci::{Address, EcamRegion};

const ENTRIES_AT: usize = 36 + 8;
const ENTRY_BYTES: usize = 16;

/// The ECAM windows the MCFG table describes.
pub fn ecam_regions(args: &KernelArgs) -> Result<Vec<EcamRegion>, &'static str> {
    let mcfg = find_table(args, b"MCFG").map_err(|_| "no ACPI MCFG table")?;
    let entries = mcfg.get(ENTRIES_AT..).ok_or("short MCFG table")?;
    Ok(entries
        .chunks_exact(ENTRY_BYTES)
        .filter_map(|e| {
            // The entry's base is bus 0's, even when the first bus is not 0.
            let base_phys = read_u64(e, 0)?.checked_add(u64::from(e[10]) << 20)?;
            let segment = u16::from_le_bytes([e[8], e[9]]);
            (e[10] <= e[11]).then_some(EcamRegion { segment, base_phys, bus_start: e[10], bus_end: e[11] })
        })
        .collect())
}

/// Legacy interrupts (INTx) are not routed on x86_64: which I/O APIC input
/// a pin reaches is in the ACPI namespace (`_PRT`, AML the kernel does not
/// interpret). Drivers use MSI or MSI-X (`irq:msi`) instead.
pub fn intx(_args: &KernelArgs, _address: Address, _pin: u8) -> Option<u32> {
    None
}
