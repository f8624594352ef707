//! Address-space identifiers (ASIDs): each user address space's TLB
//! entries are tagged with its ASID (user pages are nG, TCR_EL1.A1 = 0
//! takes the ASID from TTBR0_EL1), so a context switch only writes TTBR0
//! and no TLB entry has to go: another space's entries carry another ASID.
//! The allocation (generations, rollover, the CPUs' active ASIDs kept over
//! it, one whole-TLB flush per CPU after it) is `tessera_mm::tags`, Linux's
//! arm64 allocator, host-tested against a model of tagged TLBs.
//!
//! ASID 0 is the kernel-only (empty) TTBR0 table's: nothing is cached
//! under it (an empty table has no valid entry), but for the boot
//! self-test's probe table, whose entries go when the empty table is back
//! ([`dirty_asid0`]).
//!
//! 16-bit ASIDs where ID_AA64MMFR0_EL1.ASIDBits says so (TCR_EL1.AS set
//! in `activate_tables`), else 8-bit. `TESSERA_ASIDS=N` in the kernel env
//! uses only N (at least `MAX_CPUS` + 2 = 18): a test setting with rollovers
//! often. `sys:inject` `tlb rollover N` forces a rollover every N context
//! switches.

use core::sync::atomic::{AtomicBool, Ordering};

pub use tessera_mm::tags::SpaceTag as SpaceAsid;
use tessera_mm::tags::TagAllocator;

use crate::config::MAX_CPUS;

/// The allocator of every space's ASID.
pub static ASIDS: TagAllocator<MAX_CPUS> = TagAllocator::new();

/// Per CPU: a table other than the empty one ran under ASID 0 (the boot
/// self-test's probe, `protect::with_user_table`): its entries go when the
/// empty table is loaded again.
static ASID0_DIRTY: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];

/// Whether the CPU has 16-bit ASIDs (ID_AA64MMFR0_EL1.ASIDBits = 0b0010).
pub fn has_16bit() -> bool {
    let mmfr0: u64;
    // SAFETY: reads an ID register.
    unsafe { core::arch::asm!("mrs {}, id_aa64mmfr0_el1", out(reg) mmfr0, options(nomem, nostack)) };
    (mmfr0 >> 4) & 0xF == 0b0010
}

/// Sets the ASID count (boot CPU, before any space runs): 2^16 with
/// 16-bit ASIDs, else 2^8, or `limit` if smaller.
pub fn init(wide: bool, limit: Option<u64>) {
    let hardware = if wide { 1 << 16 } else { 1 << 8 };
    ASIDS.set_count(limit.map_or(hardware, |n| n.min(hardware)));
}

/// Notes that CPU `cpu` loads a non-empty table under ASID 0.
pub fn dirty_asid0(cpu: usize) {
    ASID0_DIRTY[cpu].store(true, Ordering::Relaxed);
}

/// Whether CPU `cpu` must drop its ASID-0 entries (and forgets it).
pub fn take_asid0_dirty(cpu: usize) -> bool {
    ASID0_DIRTY[cpu].swap(false, Ordering::Relaxed)
}
