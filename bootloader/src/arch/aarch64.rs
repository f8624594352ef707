//! aarch64 specifics: exception-level check, the device tree, and the switch
//! to the kernel's translation tables.
//!
//! The switch turns the MMU off, programs MAIR_EL1 / TCR_EL1 / TTBR0_EL1 /
//! TTBR1_EL1 and turns it back on. Doing it with the MMU off avoids running
//! even briefly under a MAIR that disagrees with the firmware's live TLB
//! entries. Everything the kernel will read is cleaned to the point of
//! coherency first, because with the MMU off data accesses bypass the caches.

use alloc::format;
use alloc::string::String;

use tessera_bootinfo::{AARCH64_TCR_BASE, HwDescKind};
use uefi::table::cfg::ConfigTableEntry;
use uefi::{Guid, guid, system};

use crate::memory::Region;

pub const NAME: &str = "aarch64";
pub const ELF_MACHINE: u16 = goblin::elf64::header::EM_AARCH64;
pub type Paging = rmm::AArch64;

/// EFI_DTB_TABLE_GUID.
const DTB_GUID: Guid = guid!("b1b621d5-f19c-41a5-830b-d9152c69aae0");
const FDT_MAGIC: u32 = 0xD00D_FEED;
/// A DTB bigger than this is taken as corrupt.
const MAX_DTB_BYTES: usize = 2 << 20;

/// SCTLR_EL1 bits (Arm ARM D19.2 "SCTLR_EL1").
const SCTLR_M: u64 = 1 << 0;
const SCTLR_C: u64 = 1 << 2;
const SCTLR_I: u64 = 1 << 12;
const SCTLR_WXN: u64 = 1 << 19;

/// The kernel runs at EL1; a loader entered at EL2 would need to drop to
/// EL1 first, which Tessera does not do yet.
pub fn check_cpu() -> Result<(), String> {
    let el: u64;
    // SAFETY: reading CurrentEL has no side effects.
    unsafe { core::arch::asm!("mrs {}, CurrentEL", out(reg) el) };
    match (el >> 2) & 3 {
        1 => Ok(()),
        other => Err(format!("the loader runs at EL{other}; Tessera needs EL1 (QEMU virt without virtualization=on)")),
    }
}

/// The device tree blob, as bytes.
pub fn find_hwdesc() -> Option<(HwDescKind, &'static [u8])> {
    let ptr =
        system::with_config_table(|t: &[ConfigTableEntry]| t.iter().find(|e| e.guid == DTB_GUID).map(|e| e.address))?;
    let ptr = ptr.cast::<u8>();
    // SAFETY: a DTB starts with a 40-byte header: magic, then total size,
    // both big-endian.
    let (magic, size) = unsafe {
        let word = |i: usize| u32::from_be_bytes(ptr.add(i * 4).cast::<[u8; 4]>().read_unaligned());
        (word(0), word(1) as usize)
    };
    if magic != FDT_MAGIC || !(40..=MAX_DTB_BYTES).contains(&size) {
        return None;
    }
    // SAFETY: the header says the blob is `size` bytes long.
    Some((HwDescKind::Dtb, unsafe { core::slice::from_raw_parts(ptr, size) }))
}

/// Where to go.
pub struct Jump {
    pub table: u64,
    pub entry: u64,
    pub stack_top: u64,
    pub args: u64,
}

/// Cleans `[start, start + len)` from the data caches to the point of
/// coherency.
fn clean_to_poc(start: u64, len: usize) {
    let ctr: u64;
    // SAFETY: reading CTR_EL0 has no side effects.
    unsafe { core::arch::asm!("mrs {}, ctr_el0", out(reg) ctr) };
    let line = 4u64 << ((ctr >> 16) & 0xF);
    let mut addr = start & !(line - 1);
    while addr < start + len as u64 {
        // SAFETY: the address is mapped (identity) and owned by the loader.
        unsafe { core::arch::asm!("dc cvac, {}", in(reg) addr) };
        addr += line;
    }
}

/// Switches to the kernel's tables and jumps to `entry(args)`.
///
/// # Safety
/// The tables must identity-map this function's code and map the kernel,
/// its stack and `args`; boot services must have been exited.
pub unsafe fn enter_kernel(jump: Jump, regions: &[Region]) -> ! {
    for r in regions {
        clean_to_poc(r.phys(), r.len());
    }
    let mmfr0: u64;
    // SAFETY: reading an ID register has no side effects.
    unsafe { core::arch::asm!("mrs {}, id_aa64mmfr0_el1", out(reg) mmfr0) };
    let tcr = AARCH64_TCR_BASE | ((mmfr0 & 0b111) << 32);
    // SAFETY: EL1 (checked at start). The sequence below uses no memory while
    // the MMU is off (x9 is scratch; every input has a fixed register); the
    // new tables identity-map this code.
    unsafe {
        core::arch::asm!(
            "dsb sy",
            "msr daifset, #0xf",
            "mrs x9, sctlr_el1",
            "bic x9, x9, #{m}",
            "bic x9, x9, #{c}",
            "msr sctlr_el1, x9",
            "isb",
            "tlbi vmalle1",
            "dsb nsh",
            "isb",
            "msr mair_el1, x1",
            "msr tcr_el1, x2",
            "msr ttbr0_el1, x3",
            "msr ttbr1_el1, x3",
            "isb",
            "mrs x9, sctlr_el1",
            "bic x9, x9, #{wxn}",
            "orr x9, x9, #{m}",
            "orr x9, x9, #{c}",
            "orr x9, x9, #{i}",
            "msr sctlr_el1, x9",
            "isb",
            "ic iallu",
            "dsb nsh",
            "isb",
            "mov sp, x4",
            "mov x29, xzr",
            "mov x30, xzr",
            "br x5",
            m = const SCTLR_M,
            c = const SCTLR_C,
            i = const SCTLR_I,
            wxn = const SCTLR_WXN,
            in("x1") rmm::AArch64::MAIR,
            in("x2") tcr,
            in("x3") jump.table,
            in("x4") jump.stack_top,
            in("x5") jump.entry,
            in("x0") jump.args,
            options(noreturn),
        )
    }
}
