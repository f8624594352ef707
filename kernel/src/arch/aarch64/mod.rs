//! aarch64: entry, PL011 console found through the device tree, the vector
//! table (exceptions, interrupts, `svc`), PAN (`protect`), EL0 cache
//! maintenance (`cache`), thread
//! switching, CPU count from the device tree, TTBR switching with ASIDs
//! (`asid`), TLB invalidation (`tlb`), PCI ECAM and INTx routing from the device tree
//! (`pci`) and the semihosting test exit.

pub mod asid;
mod cache;
mod context;
mod dtb;
// Before the modules that print (`arch_println!`).
#[macro_use]
#[path = "../hooks.rs"]
pub mod hooks;
/// Where PCI configuration space is (`ecam_regions`, for `crate::pci`).
pub mod pci;
mod power;
pub mod protect;
pub mod serial;
mod smp;
mod trap;

pub use smp::{cpu_ids, cpu_index, identity_ranges, start_cpu};

// Interrupts and time (docs/interrupts.md): `irq` and `time` are the
// arch-neutral interfaces, the others their devices.
mod devtree;
mod gic;
#[path = "../guard.rs"]
mod guard;
pub mod irq;
mod rtc;
pub mod time;
mod timer;
// End of interrupts and time.

// Whole-frame zeroing and copying for the memory manager.
mod page;
pub use page::{copy_page, zero_page};

pub use asid::SpaceAsid as SpaceTag;
pub use context::{
    Context, DIRECT_SPACE_SWITCH, FpuState, activate_user_space, activate_user_table, init_user_root, interrupt_window,
    set_kernel_stack, wait_for_interrupt,
};
pub use trap::TrapFrame;

use rmm::{PageSize, PhysAddr};
use tessera_bootinfo::KernelArgs;

pub use hooks::{Access, ExitCode, FaultInfo, Hooks, set_hooks};

pub const NAME: &str = "aarch64";
/// Where [`cpu_count`] gets its answer.
pub const CPU_SOURCE: &str = "device tree";
/// The ELF machine of user programs.
pub const ELF_MACHINE: u16 = goblin::elf64::header::EM_AARCH64;
/// The page-table entry format.
pub type Paging = rmm::AArch64;

/// The loader jumps here with `args` in x0, at EL1 with the MMU on (its
/// tables, MAIR and TCR), interrupts masked.
#[unsafe(no_mangle)]
#[unsafe(link_section = ".text.entry")]
pub extern "C" fn kstart(args: *const KernelArgs) -> ! {
    // SAFETY: TPIDR_EL1 holds the kernel's CPU index; the boot CPU is 0.
    unsafe { core::arch::asm!("msr tpidr_el1, xzr") };
    trap::init();
    context::init_fpu();
    protect::init_cpu();
    cache::init_cpu();
    // SAFETY: the loader passes a valid, kernel-owned KernelArgs that lives
    // forever.
    let args = unsafe { &*args };
    if let Some(uart) = dtb::uart_phys(args) {
        serial::init(uart);
    }
    hooks::enter_kernel(args)
}

/// An IRQ arrived: handle every interrupt the GIC has for this CPU. A TLB
/// shootdown request is served here, before the generic handling.
fn irq_entry(frame: &mut TrapFrame) {
    while let Some(id) = irq::acknowledge() {
        if id == irq::IpiKind::TlbShootdown.id() {
            hooks::tlb_shootdown();
        }
        hooks::interrupt(frame, id);
    }
}

/// Semihosting SYS_EXIT with ADP_Stopped_ApplicationExit and a status
/// (QEMU needs `-semihosting-config enable=on,target=native`): 33 pass,
/// 35 fail, as on x86_64.
pub fn exit_qemu(code: ExitCode) -> ! {
    const SYS_EXIT: u64 = 0x18;
    const ADP_STOPPED_APPLICATION_EXIT: u64 = 0x20026;
    let status = match code {
        ExitCode::Success => 33,
        ExitCode::Failure => 35,
    };
    let block = [ADP_STOPPED_APPLICATION_EXIT, status];
    // SAFETY: only called in test images, which QEMU runs with semihosting
    // on; the parameter block is valid for the call.
    unsafe { core::arch::asm!("hlt #0xf000", in("x0") SYS_EXIT, in("x1") block.as_ptr(), options(nostack)) };
    halt_forever()
}

/// Reads what power off and reset need from the firmware tables.
pub fn init_power(args: &KernelArgs) -> Result<(), &'static str> {
    power::init(args)
}

/// Powers the machine off; returns only if the firmware could not.
pub fn power_off() {
    power::off();
}

/// Resets the machine; returns only if the firmware could not.
pub fn reset() {
    power::reset();
}

/// Idles this CPU forever with interrupts masked.
pub fn halt_forever() -> ! {
    loop {
        // SAFETY: masking interrupts and waiting only stop this CPU.
        unsafe { core::arch::asm!("msr daifset, #0xf", "wfi") };
    }
}

/// Masks interrupts on this CPU.
pub fn disable_interrupts() {
    // SAFETY: masking DAIF has no memory effects.
    unsafe { core::arch::asm!("msr daifset, #0xf", options(nomem, nostack)) };
}

/// CPU nodes in the device tree.
pub fn cpu_count(args: &KernelArgs) -> Result<usize, &'static str> {
    dtb::cpu_count(args)
}

/// 1 GiB blocks are always available with the 4 KiB granule.
pub fn window_page_size() -> PageSize {
    PageSize::Size1G
}

/// Points TTBR1_EL1 at the kernel's table and TTBR0_EL1 at an empty one
/// (ASID 0), turns 16-bit ASIDs on where the CPU has them (TCR_EL1.AS; the
/// other CPUs copy this TCR), sets up the ASID allocator (`asid`), then
/// drops every stale TLB entry.
///
/// # Safety
/// The kernel table must map the running code, stack and all data in use.
pub unsafe fn activate_tables(kernel_root: PhysAddr, user_root: PhysAddr) {
    let wide = asid::has_16bit();
    let limit = crate::env::get("TESSERA_ASIDS").and_then(|n| n.trim().parse().ok());
    asid::init(wide, limit);
    // SAFETY: per the contract; TCR_EL1.AS only changes how ASIDs are read,
    // and the TLBI after it drops every entry cached under the old width.
    // The barriers make the table writes visible to the walker before the
    // switch and the TLBI complete before going on (Arm ARM D8.14 "TLB
    // maintenance").
    unsafe {
        core::arch::asm!(
            "mrs {t}, tcr_el1",
            "bic {t}, {t}, {as_bit}",
            "orr {t}, {t}, {as_set}",
            "msr tcr_el1, {t}",
            "dsb ishst",
            "msr ttbr1_el1, {k}",
            "msr ttbr0_el1, {u}",
            "isb",
            "tlbi vmalle1is",
            "dsb ish",
            "isb",
            t = out(reg) _,
            as_bit = in(reg) 1u64 << 36,
            as_set = in(reg) u64::from(wide) << 36,
            k = in(reg) kernel_root.get(),
            u = in(reg) user_root.get(),
            options(nostack),
        )
    };
}

/// Test-only: reads an unmapped low address.
pub fn fault_page() -> ! {
    // SAFETY: deliberately not safe: the point is the data abort, which the
    // fault handler reports before stopping the machine.
    unsafe { core::ptr::read_volatile(0xDEAD_0000 as *const u64) };
    unreachable!("the read above faults")
}

/// Test-only: executes a permanently undefined instruction.
pub fn fault_undefined() -> ! {
    // SAFETY: udf raises an undefined-instruction exception, which the fault
    // handler reports.
    unsafe { core::arch::asm!("udf #0", options(noreturn)) }
}

/// The user root to install when no process runs: the empty TTBR0 table.
pub fn empty_user_root(kernel_root: PhysAddr, user_root: PhysAddr) -> PhysAddr {
    let _ = kernel_root;
    user_root
}

/// Makes new kernel mappings (of pages that were not present) visible to
/// every CPU's table walker before they are used (Arm ARM D8.2.6: a DSB
/// after the table write; invalid entries are never cached, so no TLBI).
pub fn publish_new_mappings() {
    // SAFETY: barriers only.
    unsafe { core::arch::asm!("dsb ishst", "isb", options(nostack)) };
}

/// Bits of physical address the CPU implements (ID_AA64MMFR0_EL1.PARange,
/// Arm ARM D19.2): an output address at or above `1 << bits` is an
/// address-size fault (and bits 48+ would land in descriptor attributes).
pub fn physical_address_bits() -> u32 {
    let mmfr0: u64;
    // SAFETY: reads an ID register.
    unsafe { core::arch::asm!("mrs {}, id_aa64mmfr0_el1", out(reg) mmfr0, options(nomem, nostack)) };
    // The 4 KiB granule's descriptors hold at most 48 bits of address.
    match mmfr0 & 0xF {
        0 => 32,
        1 => 36,
        2 => 40,
        3 => 42,
        4 => 44,
        _ => 48,
    }
}

/// Makes the data of the frame at kernel address `frame_virt` (its
/// physical-window alias) visible to instruction fetches before it is mapped
/// executable for user mode: clean its data-cache lines to the point of
/// unification, then invalidate the instruction caches of every CPU (Arm
/// ARM B2.4.4 "Concurrent modification and execution of instructions").
/// `IC IALLUIS` rather than `IC IVAU` by the kernel alias, because an
/// instruction cache may be VIPT-aliasing (CTR_EL0.L1Ip). CTR_EL0.IDC / DIC
/// say when either step is not needed.
pub fn sync_icache(frame_virt: u64) {
    let ctr: u64;
    // SAFETY: reads an ID register.
    unsafe { core::arch::asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack)) };
    let (idc, dic) = (ctr & (1 << 28) != 0, ctr & (1 << 29) != 0);
    if !idc {
        let line = 4u64 << ((ctr >> 16) & 0xF);
        let mut at = frame_virt & !(line - 1);
        while at < frame_virt + rmm::PAGE_SIZE {
            // SAFETY: cache maintenance by VA of a mapped kernel address.
            unsafe { core::arch::asm!("dc cvau, {}", in(reg) at, options(nostack)) };
            at += line;
        }
    }
    // SAFETY: barriers and instruction-cache invalidation only.
    unsafe {
        core::arch::asm!("dsb ish", options(nostack));
        if !dic {
            core::arch::asm!("ic ialluis", "dsb ish", options(nostack));
        }
        core::arch::asm!("isb", options(nostack));
    }
}

/// TLB maintenance of user mappings, for `mm::tlb`. User entries are
/// non-global (nG) and tagged with their space's ASID (`asid`; TCR_EL1.A1
/// = 0 takes it from TTBR0_EL1), so "by VA and ASID" and "all of an ASID"
/// reach exactly one space's user entries; the kernel's global entries
/// and other spaces' entries stay. References: Arm ARM (DDI 0487) D8.14
/// "TLB maintenance" and the TLBI VAE1(IS) / ASIDE1(IS) instruction pages.
pub mod tlb {
    /// Whether [`flush_user_pages`] and [`flush_user_all`] reach every CPU:
    /// yes. The `...IS` forms apply to every PE in the Inner Shareable
    /// domain (all CPUs this kernel runs), and a `DSB ISH` on the issuing PE
    /// completes only once the invalidation is complete on all of them,
    /// including every memory access that used the removed entries (Arm ARM
    /// D8.14, "Ordering and completion of TLB maintenance instructions").
    /// No IPI is needed.
    pub const BROADCAST: bool = true;

    /// Whether switching a CPU to another space drops the old space's
    /// entries from its TLB: no, they stay, tagged with their ASID. So a
    /// CPU that left a space may still hold its entries, and a shootdown by
    /// IPI must reach every CPU, not only those running the space.
    pub const SWITCH_FLUSHES: bool = false;

    /// TLBI operand for a VA and an ASID: ASID in bits 63:48, VA[55:12] in
    /// bits 43:0.
    fn operand(asid: u16, virt: u64) -> u64 {
        (u64::from(asid) << 48) | ((virt >> 12) & ((1 << 44) - 1))
    }

    /// The ASID of the loaded TTBR0_EL1 (the running space's).
    pub fn current_asid() -> u16 {
        let ttbr0: u64;
        // SAFETY: reads a system register.
        unsafe { core::arch::asm!("mrs {}, ttbr0_el1", out(reg) ttbr0, options(nomem, nostack)) };
        (ttbr0 >> 48) as u16
    }

    /// Drops this CPU's TLB entries of ASID `asid` for the `pages` pages
    /// from `start` (page aligned, user half), at every level (freed tables
    /// included).
    pub fn flush_user_pages_local(asid: u16, start: u64, pages: u64) {
        // SAFETY: barriers and TLB invalidation only; the DSB before makes
        // the table updates visible to the walker first.
        unsafe { core::arch::asm!("dsb ishst", options(nostack)) };
        for page in 0..pages {
            // SAFETY: as above.
            unsafe {
                core::arch::asm!(
                    "tlbi vae1, {}",
                    in(reg) operand(asid, start + page * rmm::PAGE_SIZE),
                    options(nostack)
                )
            };
        }
        // SAFETY: barriers only: completion, then resynchronisation.
        unsafe { core::arch::asm!("dsb nsh", "isb", options(nostack)) };
    }

    /// Drops every entry of ASID `asid` from this CPU's TLB.
    pub fn flush_user_all_local(asid: u16) {
        // SAFETY: barriers and TLB invalidation only.
        unsafe {
            core::arch::asm!("dsb ishst", "tlbi aside1, {}", "dsb nsh", "isb", in(reg) operand(asid, 0), options(nostack))
        };
    }

    /// Drops every CPU's TLB entries of ASID `asid` for the `pages` pages
    /// from `start` (TLBI VAE1IS), complete on all of them on return (DSB
    /// ISH).
    pub fn flush_user_pages(asid: u16, start: u64, pages: u64) {
        // SAFETY: barriers and TLB invalidation only.
        unsafe { core::arch::asm!("dsb ishst", options(nostack)) };
        for page in 0..pages {
            // SAFETY: as above.
            unsafe {
                core::arch::asm!(
                    "tlbi vae1is, {}",
                    in(reg) operand(asid, start + page * rmm::PAGE_SIZE),
                    options(nostack)
                )
            };
        }
        // SAFETY: barriers only.
        unsafe { core::arch::asm!("dsb ish", "isb", options(nostack)) };
    }

    /// Drops every CPU's entries of ASID `asid` (TLBI ASIDE1IS), complete
    /// on all of them on return.
    pub fn flush_user_all(asid: u16) {
        // SAFETY: barriers and TLB invalidation only.
        unsafe {
            core::arch::asm!("dsb ishst", "tlbi aside1is, {}", "dsb ish", "isb", in(reg) operand(asid, 0), options(nostack))
        };
    }

    /// Drops this CPU's whole TLB (every ASID, global entries too).
    pub fn flush_everything_local() {
        // SAFETY: TLB invalidation and barriers only.
        unsafe { core::arch::asm!("dsb ishst", "tlbi vmalle1", "dsb nsh", "isb", options(nostack)) };
    }

    /// Drops every CPU's whole TLB, complete on all of them on return.
    pub fn flush_everything() {
        // SAFETY: TLB invalidation and barriers only.
        unsafe { core::arch::asm!("dsb ishst", "tlbi vmalle1is", "dsb ish", "isb", options(nostack)) };
    }

    /// `sys:inject` `tlb rollover N`: an ASID rollover every `n` context
    /// switches (0: only when ASIDs run out).
    pub fn force_rollover(n: u64) {
        super::asid::ASIDS.force_rollover_every(n);
    }

    /// The `sys:scheduler` line about TLB tags.
    pub fn tags_line() -> alloc::string::String {
        let asids = &super::asid::ASIDS;
        alloc::format!(
            "tlb_tags asid {} rollovers {} stale_flushes {}",
            asids.count(),
            asids.rollovers(),
            asids.stale_flushes()
        )
    }
}
