//! Per-CPU data reached through `GS`: the kernel keeps `IA32_GS_BASE` pointing
//! at this CPU's [`PerCpu`] while it runs; `swapgs` on every entry from and
//! exit to user mode swaps it with `IA32_KERNEL_GS_BASE` (Intel SDM Vol. 3A
//! §5.8.8). The `syscall` entry uses the two scratch slots by fixed offset.
//! Each CPU's block sits in its entry area (`kpti`), mapped in user roots
//! too, because the entry code reads it before it loads the kernel root.

use x86_64::structures::tss::TaskStateSegment;

/// Field offsets used by the assembly in `trap.rs`.
pub const USER_RSP_OFFSET: usize = 8;
pub const KERNEL_RSP_OFFSET: usize = 16;
const INDEX_OFFSET: usize = 24;
pub const KERNEL_CR3_OFFSET: usize = 40;
pub const USER_CR3_OFFSET: usize = 48;
pub const ENTRY_IRET_OFFSET: usize = 56;

const IA32_GS_BASE: u32 = 0xC000_0101;
const IA32_KERNEL_GS_BASE: u32 = 0xC000_0102;

/// The bytes of an interrupt frame without error code (rip, cs, rflags,
/// rsp, ss), which the exit to ring 3 copies to the entry stack.
const IRET_FRAME_BYTES: u64 = 40;

/// Lives in the CPU's entry area (`kpti`), so the user root maps it too.
#[repr(C)]
pub struct PerCpu {
    /// Points at itself.
    self_ptr: u64,
    /// Scratch: the user `rsp` during the `syscall` entry.
    user_rsp: u64,
    /// Top of the running thread's kernel stack.
    kernel_rsp: u64,
    /// The kernel's index of this CPU (0 = boot CPU).
    index: u64,
    /// This CPU's TSS.
    tss: *mut TaskStateSegment,
    /// CR3 in ring 0: the kernel root.
    kernel_cr3: u64,
    /// CR3 in ring 3: the running process's root.
    user_cr3: u64,
    /// Where the exit to ring 3 puts the interrupt frame: the entry stack's
    /// top less [`IRET_FRAME_BYTES`].
    entry_iret: u64,
}

fn wrmsr(msr: u32, value: u64) {
    // SAFETY: only called for the GS base MSRs, which every x86_64 CPU has.
    unsafe { core::arch::asm!("wrmsr", in("ecx") msr, in("eax") value as u32, in("edx") (value >> 32) as u32) };
}

/// Fills CPU `index`'s block at `block` (in its entry area:
/// `kpti::install_cpu`) and points GS at it. Traps from ring 3 arrive on the
/// entry stack (TSS.rsp0), whose top `entry_stack_top` is fixed.
///
/// # Safety
/// `block` is CPU `index`'s block, valid for writes and used by no other
/// CPU; `tss` is that CPU's TSS.
pub unsafe fn install(
    block: *mut PerCpu,
    index: usize,
    tss: *mut TaskStateSegment,
    entry_stack_top: u64,
    kernel_cr3: u64,
) {
    // SAFETY: per the contract: the block and the TSS are this CPU's alone.
    unsafe {
        block.write(PerCpu {
            self_ptr: block as u64,
            user_rsp: 0,
            kernel_rsp: 0,
            index: index as u64,
            tss,
            kernel_cr3,
            user_cr3: kernel_cr3,
            entry_iret: entry_stack_top - IRET_FRAME_BYTES,
        });
        (*tss).privilege_stack_table[0] = x86_64::VirtAddr::new(entry_stack_top);
    }
    wrmsr(IA32_GS_BASE, block as u64);
    wrmsr(IA32_KERNEL_GS_BASE, 0);
}

/// Records the kernel root for this CPU's entries from ring 3 (the boot CPU
/// learns it after `install`).
pub fn set_kernel_cr3(root: u64) {
    // SAFETY: GS points at this CPU's block; only this CPU writes it.
    unsafe {
        core::arch::asm!("mov gs:[{off}], {}", in(reg) root, off = const KERNEL_CR3_OFFSET, options(nostack));
        core::arch::asm!("mov gs:[{off}], {}", in(reg) root, off = const USER_CR3_OFFSET, options(nostack));
    }
}

/// Records the root the next return to ring 3 loads.
pub fn set_user_cr3(root: u64) {
    // SAFETY: GS points at this CPU's block; only this CPU writes it, with
    // interrupts off.
    unsafe { core::arch::asm!("mov gs:[{off}], {}", in(reg) root, off = const USER_CR3_OFFSET, options(nostack)) };
}

/// This CPU's index.
pub fn index() -> usize {
    let index: u64;
    // SAFETY: GS points at this CPU's block in kernel mode (set before any
    // caller runs); the field is at INDEX_OFFSET.
    unsafe {
        core::arch::asm!("mov {}, gs:[{off}]", out(reg) index, off = const INDEX_OFFSET, options(nostack, readonly))
    };
    index as usize
}

/// Records the kernel stack traps from user mode switch to: the entry
/// code moves the frame there from the entry stack (`syscall` switches to
/// it directly).
pub fn set_kernel_stack(top: u64) {
    // SAFETY: GS points at this CPU's block; only this CPU writes it, with
    // interrupts off.
    unsafe { core::arch::asm!("mov gs:[{off}], {}", in(reg) top, off = const KERNEL_RSP_OFFSET, options(nostack)) };
}
