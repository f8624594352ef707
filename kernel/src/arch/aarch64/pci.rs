//! Where PCI configuration space is on aarch64 `virt`: the device tree's
//! `pci-host-ecam-generic` nodes (Linux
//! `Documentation/devicetree/bindings/pci/host-generic-pci.yaml`): `reg` is
//! the ECAM window, `bus-range` the buses it decodes (default: as many as
//! the window holds, from 0), `linux,pci-domain` the segment (default 0).
//! Legacy interrupts (INTx) are GIC SPIs the node's `interrupt-map` names
//! ([`intx`]).

use alloc::vec::Vec;

use tessera_bootinfo::KernelArgs;

use super::devtree::{GicInterrupt, open};
use crate::pci::{Address, EcamRegion};

/// One bus's share of an ECAM window: 32 devices × 8 functions × 4 KiB.
const BUS_BYTES: u64 = 1 << 20;

fn is_ecam_host(node: &fdt::node::FdtNode) -> bool {
    node.compatible().is_some_and(|c| c.all().any(|s| s == "pci-host-ecam-generic"))
}

/// Big-endian cell `i` of a property value.
fn cell(value: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_be_bytes(value.get(i * 4..i * 4 + 4)?.try_into().ok()?))
}

/// The ECAM windows of the device tree's generic PCI host bridges.
pub fn ecam_regions(args: &KernelArgs) -> Result<Vec<EcamRegion>, &'static str> {
    let fdt = open(args).ok_or("no valid device tree")?;
    Ok(fdt
        .all_nodes()
        .filter(is_ecam_host)
        .filter_map(|node| {
            let reg = node.reg()?.next()?;
            let base_phys = reg.starting_address as u64;
            let buses = (reg.size? as u64 / BUS_BYTES).clamp(1, 256);
            let (bus_start, bus_end) = match node.property("bus-range") {
                Some(p) => (cell(p.value, 0)?, cell(p.value, 1)?),
                None => (0, buses as u32 - 1),
            };
            let segment = node.property("linux,pci-domain").and_then(|p| cell(p.value, 0)).unwrap_or(0);
            // The window must hold every bus it claims to decode.
            let fits = bus_start <= bus_end && bus_end < 256 && u64::from(bus_end - bus_start) < buses;
            fits.then_some(EcamRegion {
                segment: segment as u16,
                base_phys,
                bus_start: bus_start as u8,
                bus_end: bus_end as u8,
            })
        })
        .collect())
}

/// The GIC INTID of legacy interrupt `pin` (1-4: INTA-INTD) of the
/// function at `address`, from the host bridge's `interrupt-map` (Open
/// Firmware PCI bus binding and Devicetree Specification §2.4.3,
/// "Interrupt Nexus Properties"): each entry is a child unit address
/// (`#address-cells`, 3 for PCI: `bus << 16 | device << 11 | function << 8`
/// first), a child interrupt (the pin), the parent's phandle, the parent's
/// unit address and interrupt specifier; both sides are compared under
/// `interrupt-map-mask`. QEMU `virt` lists the swizzle for the four device
/// numbers the mask keeps. Only functions on a host bridge's own buses are
/// mapped (no bridge swizzle).
pub fn intx(args: &KernelArgs, address: Address, pin: u8) -> Option<u32> {
    let fdt = open(args)?;
    let host = fdt.all_nodes().filter(is_ecam_host).find(|n| {
        let segment = n.property("linux,pci-domain").and_then(|p| cell(p.value, 0)).unwrap_or(0);
        segment == u32::from(address.segment)
    })?;
    let map = host.property("interrupt-map")?.value;
    let mask = host.property("interrupt-map-mask")?.value;
    let address_cells = host.property("#address-cells").and_then(|p| cell(p.value, 0)).unwrap_or(3) as usize;
    let interrupt_cells = host.property("#interrupt-cells").and_then(|p| cell(p.value, 0)).unwrap_or(1) as usize;
    let unit = (u32::from(address.bus) << 16) | (u32::from(address.device) << 11) | (u32::from(address.function) << 8);
    let child: [u32; 4] = [unit, 0, 0, u32::from(pin)];
    if address_cells != 3 || interrupt_cells != 1 {
        return None;
    }
    let masked = |i: usize, value: u32| value & cell(mask, i).unwrap_or(u32::MAX);
    let mut at = 0;
    while at * 4 < map.len() {
        let matches = (0..4).all(|i| cell(map, at + i).is_some_and(|v| masked(i, v) == masked(i, child[i])));
        let parent = fdt.find_phandle(cell(map, at + 4)?)?;
        let parent_address = parent.property("#address-cells").and_then(|p| cell(p.value, 0)).unwrap_or(0) as usize;
        let parent_interrupt = parent.property("#interrupt-cells").and_then(|p| cell(p.value, 0))? as usize;
        let spec = at + 5 + parent_address;
        if matches {
            if parent_interrupt != 3 {
                return None;
            }
            let gic =
                GicInterrupt { kind: cell(map, spec)?, number: cell(map, spec + 1)?, flags: cell(map, spec + 2)? };
            return gic.intid();
        }
        at = spec + parent_interrupt;
    }
    None
}
