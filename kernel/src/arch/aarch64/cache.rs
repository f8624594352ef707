//! EL0 cache maintenance: programs that write instructions (JITs,
//! `__clear_cache` in relibc-shim) clean the data cache and invalidate the
//! instruction cache themselves, by address, as on Linux. That needs
//! SCTLR_EL1.UCT (EL0 may read CTR_EL0, the cache line sizes) and
//! SCTLR_EL1.UCI (EL0 may run `dc cvau`, `dc civac`, `ic ivau`); both
//! only act on addresses EL0 can already access, so they give no reach
//! into the kernel. Set on every CPU before it enters EL0.

/// SCTLR_EL1.UCT (bit 15): EL0 reads of CTR_EL0 do not trap.
const SCTLR_UCT: u64 = 1 << 15;
/// SCTLR_EL1.UCI (bit 26): EL0 cache maintenance by address does not trap.
const SCTLR_UCI: u64 = 1 << 26;

/// Lets EL0 read CTR_EL0 and maintain caches by address on this CPU.
pub fn init_cpu() {
    // SAFETY: only UCT and UCI change; the ISB makes the write take effect
    // before the CPU next enters EL0.
    unsafe {
        core::arch::asm!(
            "mrs {t}, sctlr_el1",
            "orr {t}, {t}, {bits}",
            "msr sctlr_el1, {t}",
            "isb",
            t = out(reg) _,
            bits = in(reg) SCTLR_UCT | SCTLR_UCI,
            options(nostack),
        )
    };
}
