//! x86_64: entry, COM1 console, GDT/TSS, per-CPU data, traps (exceptions,
//! interrupts, `syscall`), SMEP and SMAP (`protect`), page-table isolation
//! (`kpti`), thread switching, ACPI CPU count, CR3 switching, TLB
//! invalidation (`tlb`), where PCI configuration space is (`pci`) and the
//! isa-debug-exit test exit.

mod acpi;
mod context;
mod gdt;
// Before the modules that print (`arch_println!`).
#[macro_use]
#[path = "../hooks.rs"]
pub mod hooks;
mod kpti;
/// Where PCI configuration space is (`ecam_regions`, for `crate::pci`).
pub mod pci;
mod percpu;
mod power;
pub mod protect;
pub mod serial;
mod smp;
mod trap;

pub use percpu::index as cpu_index;
pub use smp::{cpu_ids, identity_ranges, start_cpu};

// Interrupts and time (docs/interrupts.md): `irq` and `time` are the
// arch-neutral interfaces, the others their devices.
mod apic;
#[path = "../guard.rs"]
mod guard;
pub mod irq;
mod pic;
mod pit;
mod rtc;
pub mod time;
// End of interrupts and time.

// Whole-frame zeroing and copying for the memory manager.
mod page;
pub use page::{copy_page, zero_page};

pub use context::{
    Context, DIRECT_SPACE_SWITCH, FpuState, NoTag as SpaceTag, activate_user_space, activate_user_table,
    init_user_root, interrupt_window, set_kernel_stack, wait_for_interrupt,
};
pub use trap::TrapFrame;

use rmm::{PageSize, PhysAddr};
use tessera_bootinfo::KernelArgs;

pub use hooks::{Access, ExitCode, FaultInfo, Hooks, set_hooks};

pub const NAME: &str = "x86_64";
/// Where [`cpu_count`] gets its answer.
pub const CPU_SOURCE: &str = "ACPI MADT";
/// The ELF machine of user programs.
pub const ELF_MACHINE: u16 = goblin::elf64::header::EM_X86_64;
/// The page-table entry format.
pub type Paging = rmm::X86_64;

/// QEMU's isa-debug-exit port (`-device isa-debug-exit,iobase=0xf4`).
/// Writing `v` exits QEMU with status `(v << 1) | 1`.
const DEBUG_EXIT_PORT: u16 = 0xF4;

/// The loader jumps here with `args` in rdi, on the boot stack, interrupts
/// off, on its page tables.
#[unsafe(no_mangle)]
#[unsafe(link_section = ".text.entry")]
pub extern "C" fn kstart(args: *const KernelArgs) -> ! {
    serial::init();
    let tss = gdt::init_boot();
    kpti::install_cpu(0, tss);
    trap::init();
    context::init_fpu();
    protect::init_cpu();
    // SAFETY: the loader passes a valid, kernel-owned KernelArgs that lives
    // forever; `check` validates its magic and version.
    let args = unsafe { &*args };
    hooks::enter_kernel(args)
}

/// Exits QEMU with the status the harness expects (33 pass, 35 fail).
pub fn exit_qemu(code: ExitCode) -> ! {
    let value: u8 = match code {
        ExitCode::Success => 0x10,
        ExitCode::Failure => 0x11,
    };
    // SAFETY: writing the debug-exit port has no effect on real hardware
    // without the device, and ends QEMU where it exists.
    unsafe { core::arch::asm!("out dx, al", in("dx") DEBUG_EXIT_PORT, in("al") value) };
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

/// Idles this CPU forever with interrupts off.
pub fn halt_forever() -> ! {
    loop {
        // SAFETY: cli/hlt only stop this CPU.
        unsafe { core::arch::asm!("cli", "hlt") };
    }
}

/// Masks interrupts on this CPU.
pub fn disable_interrupts() {
    // SAFETY: cli has no memory effects.
    unsafe { core::arch::asm!("cli", options(nomem, nostack)) };
}

/// Enabled processors in the ACPI MADT.
pub fn cpu_count(args: &KernelArgs) -> Result<usize, &'static str> {
    acpi::count_cpus(args)
}

/// The physical window uses 1 GiB pages where the CPU has them.
pub fn window_page_size() -> PageSize {
    let ext = core::arch::x86_64::__cpuid(0x8000_0001);
    if ext.edx & (1 << 26) != 0 { PageSize::Size1G } else { PageSize::Size2M }
}

/// Switches CR3 to `kernel_root`, turns global pages off, decides whether
/// page-table isolation is on (`kpti::decide`) and builds the shadow of the
/// kernel that isolated user roots map. `_user_root` (the
/// empty lower half) is not needed: the kernel root has no user half.
///
/// # Safety
/// The new table must map the running code, stack and all data in use.
pub unsafe fn activate_tables(kernel_root: PhysAddr, _user_root: PhysAddr) {
    // SAFETY: per the contract; writing CR3 also flushes non-global TLB
    // entries, and the kernel's global ones map the same as before.
    unsafe { core::arch::asm!("mov cr3, {}", in(reg) kernel_root.get(), options(nostack)) };
    // Clearing CR4.PGE drops the loader's global entries too, and keeps
    // kernel entries from outliving a switch to a user root.
    // SAFETY: only PGE changes; it flushes the whole TLB.
    unsafe {
        core::arch::asm!(
            "mov {tmp}, cr4",
            "and {tmp}, {pge}",
            "mov cr4, {tmp}",
            tmp = out(reg) _,
            pge = in(reg) !0x80u64,
            options(nostack),
        )
    };
    kpti::decide(crate::env::get("TESSERA_KPTI"));
    kpti::init(kernel_root);
    percpu::set_kernel_cr3(kernel_root.get());
}

/// Test-only: reads an unmapped low address.
pub fn fault_page() -> ! {
    // SAFETY: deliberately not safe: the point is the page fault, which the
    // fault handler reports before stopping the machine.
    unsafe { core::ptr::read_volatile(0xDEAD_0000 as *const u64) };
    unreachable!("the read above faults")
}

/// Test-only: executes an undefined instruction.
pub fn fault_undefined() -> ! {
    // SAFETY: ud2 raises #UD, which the fault handler reports.
    unsafe { core::arch::asm!("ud2", options(noreturn)) }
}

/// The user root to install when no process runs: the kernel root itself (one root holds both halves).
pub fn empty_user_root(kernel_root: PhysAddr, user_root: PhysAddr) -> PhysAddr {
    let _ = user_root;
    kernel_root
}

/// Makes new kernel mappings (of pages that were not present) safe to use:
/// x86 never caches a not-present entry, so nothing is needed.
pub fn publish_new_mappings() {}

/// Bits of physical address the CPU implements (CPUID 0x8000_0008
/// EAX[7:0], Intel SDM Vol. 2A "CPUID"): PTEs may name no address at or
/// above `1 << bits` (the bits above are reserved).
pub fn physical_address_bits() -> u32 {
    // Leaf 0x8000_0008 exists on every x86_64 CPU (long mode requires it).
    let leaf = core::arch::x86_64::__cpuid(0x8000_0008);
    leaf.eax & 0xFF
}

/// Makes data written to a frame visible to instruction fetches before the
/// frame is mapped executable: nothing to do on x86, whose instruction
/// caches snoop stores (Intel SDM Vol. 3A §11.6 "Self-modifying code").
pub fn sync_icache(_frame_virt: u64) {}

/// TLB maintenance of user mappings, for `mm::tlb`. No entry is global
/// (rmm's x86_64 format sets G on kernel entries only, and
/// [`activate_tables`] turns CR4.PGE off for `kpti`), so a CR3 write drops
/// them all (Intel SDM Vol. 3A §4.10.4.1 "Operations that
/// Invalidate TLBs and Paging-Structure Caches"; no PCIDs: CR4.PCIDE = 0).
pub mod tlb {
    /// Whether [`flush_user_pages`] and [`flush_user_all`] reach every CPU.
    /// Not on x86: INVLPG and CR3 writes act on the executing logical
    /// processor only, and other processors are told by IPI (SDM Vol. 3A
    /// §4.10.5 "Propagation of Paging-Structure Changes to Multiple
    /// Processors").
    pub const BROADCAST: bool = false;

    /// Whether switching a CPU to another space drops the old space's
    /// entries from its TLB: yes, every CR3 write does (no PCIDs). So a
    /// CPU that left a space holds none of its entries.
    pub const SWITCH_FLUSHES: bool = true;

    /// No address-space tags: every space's "ASID" is 0.
    pub fn current_asid() -> u16 {
        0
    }

    /// Drops this CPU's non-global entries (there are no tags).
    pub fn flush_everything_local() {
        flush_user_all_local(0);
    }

    /// The same as [`flush_everything_local`]: x86 cannot broadcast.
    pub fn flush_everything() {
        flush_everything_local();
    }

    /// `sys:inject` `tlb rollover N`: nothing to roll over without tags.
    pub fn force_rollover(_n: u64) {}

    /// The `sys:scheduler` line about TLB tags.
    pub fn tags_line() -> alloc::string::String {
        alloc::string::String::from("tlb_tags none")
    }

    /// Drops this CPU's TLB entries for the `pages` pages from `start`
    /// (page aligned, user half). INVLPG also drops every paging-structure
    /// cache entry (§4.10.4.1), so freed page tables are covered too.
    pub fn flush_user_pages_local(_asid: u16, start: u64, pages: u64) {
        for page in 0..pages {
            // SAFETY: INVLPG only drops translations; any address is valid.
            unsafe { core::arch::asm!("invlpg [{}]", in(reg) start + page * rmm::PAGE_SIZE, options(nostack)) };
        }
    }

    /// Drops every non-global (user) entry of this CPU's TLB: CR3 is
    /// written with its own value.
    pub fn flush_user_all_local(_asid: u16) {
        // SAFETY: reloading the current CR3 changes no mapping.
        unsafe {
            core::arch::asm!("mov {t}, cr3", "mov cr3, {t}", t = out(reg) _, options(nostack));
        }
    }

    /// The same as [`flush_user_pages_local`]: x86 cannot broadcast.
    pub fn flush_user_pages(asid: u16, start: u64, pages: u64) {
        flush_user_pages_local(asid, start, pages);
    }

    /// The same as [`flush_user_all_local`]: x86 cannot broadcast.
    pub fn flush_user_all(asid: u16) {
        flush_user_all_local(asid);
    }
}
