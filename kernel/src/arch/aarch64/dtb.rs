//! Reading the device tree the loader copied into kernel memory.

use fdt::Fdt;
use tessera_bootinfo::{HwDescKind, KernelArgs, phys_to_virt};

fn parse(args: &KernelArgs) -> Option<Fdt<'static>> {
    if args.hwdesc_kind != HwDescKind::Dtb {
        return None;
    }
    // SAFETY: the loader copied `hwdesc_size_bytes` bytes of DTB into
    // kernel-owned memory, reachable through the physical window, never freed.
    let bytes = unsafe {
        core::slice::from_raw_parts(phys_to_virt(args.hwdesc_phys) as *const u8, args.hwdesc_size_bytes as usize)
    };
    Fdt::new(bytes).ok()
}

/// The console UART: `/chosen/stdout-path` if it is a PL011, else the first
/// `arm,pl011` node.
pub fn uart_phys(args: &KernelArgs) -> Option<u64> {
    let fdt = parse(args)?;
    let is_pl011 = |n: &fdt::node::FdtNode| n.compatible().is_some_and(|c| c.all().any(|s| s == "arm,pl011"));
    let node = fdt.chosen().stdout().filter(|n| is_pl011(n)).or_else(|| fdt.find_compatible(&["arm,pl011"]))?;
    let reg = node.reg()?.next()?;
    Some(reg.starting_address as u64)
}

/// The number of `cpu` nodes under `/cpus`.
pub fn cpu_count(args: &KernelArgs) -> Result<usize, &'static str> {
    let fdt = parse(args).ok_or("no valid device tree")?;
    match fdt.cpus().count() {
        0 => Err("the device tree lists no CPU"),
        n => Ok(n),
    }
}
