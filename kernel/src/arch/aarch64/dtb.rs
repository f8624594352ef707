//! What the kernel reads from the device tree besides interrupts and time:
//! the console UART, the CPUs (their MPIDRs) and how to call PSCI.

use alloc::vec::Vec;

use tessera_bootinfo::KernelArgs;

use super::devtree::open as parse;

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
    match cpu_mpidrs(args)?.len() {
        0 => Err("the device tree lists no CPU"),
        n => Ok(n),
    }
}

/// The MPIDR affinity (`reg`) of every `cpu` node.
pub fn cpu_mpidrs(args: &KernelArgs) -> Result<Vec<usize>, &'static str> {
    let fdt = parse(args).ok_or("no valid device tree")?;
    Ok(fdt.cpus().map(|cpu| cpu.ids().first()).collect())
}

/// How PSCI is called: `true` for `hvc`, `false` for `smc`.
pub fn psci_uses_hvc(args: &KernelArgs) -> Result<bool, &'static str> {
    let fdt = parse(args).ok_or("no valid device tree")?;
    let psci = fdt.find_compatible(&["arm,psci-1.0", "arm,psci-0.2", "arm,psci"]).ok_or("no PSCI node")?;
    match psci.property("method").and_then(|p| p.as_str()) {
        Some("hvc") => Ok(true),
        Some("smc") => Ok(false),
        _ => Err("PSCI node without a method"),
    }
}
