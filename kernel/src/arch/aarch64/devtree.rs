//! The device tree as the interrupt and time drivers read it: the blob the
//! loader copied, and the `interrupts` property in the GICv3 binding's
//! three-cell form, which the `fdt` crate does not decode.
//! `dtb.rs` reads the UART, CPUs and PSCI through [`open`] too.

use fdt::Fdt;
use fdt::node::FdtNode;
use tessera_bootinfo::{HwDescKind, KernelArgs, phys_to_virt};

/// The parsed device tree, if the loader passed one.
pub fn open(args: &KernelArgs) -> Option<Fdt<'static>> {
    if args.hwdesc_kind != HwDescKind::Dtb {
        return None;
    }
    // SAFETY: the loader copied `hwdesc_size_bytes` bytes of DTB into
    // kernel-owned memory, reachable through the physical window and never
    // freed.
    let bytes = unsafe {
        core::slice::from_raw_parts(phys_to_virt(args.hwdesc_phys) as *const u8, args.hwdesc_size_bytes as usize)
    };
    Fdt::new(bytes).ok()
}

/// One interrupt specifier of the Arm GIC binding: `<type number flags>`,
/// type 0 = SPI (INTID `number + 32`), 1 = PPI (INTID `number + 16`)
/// (Linux `Documentation/devicetree/bindings/interrupt-controller/arm,gic-v3.yaml`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GicInterrupt {
    pub kind: u32,
    pub number: u32,
    pub flags: u32,
}

impl GicInterrupt {
    const SPI: u32 = 0;
    const PPI: u32 = 1;

    /// The INTID this specifier names, if it is an SPI or PPI.
    pub fn intid(self) -> Option<u32> {
        match self.kind {
            Self::SPI => Some(self.number + 32),
            Self::PPI => Some(self.number + 16),
            _ => None,
        }
    }
}

/// The `index`-th three-cell specifier of `node`'s `interrupts` property.
pub fn gic_interrupt(node: FdtNode, index: usize) -> Option<GicInterrupt> {
    let value = node.property("interrupts")?.value;
    let cell = |i: usize| -> Option<u32> { Some(u32::from_be_bytes(value.get(i * 4..i * 4 + 4)?.try_into().ok()?)) };
    let at = index * 3;
    Some(GicInterrupt { kind: cell(at)?, number: cell(at + 1)?, flags: cell(at + 2)? })
}
