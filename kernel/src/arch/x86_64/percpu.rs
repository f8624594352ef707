//! Per-CPU data reached through `GS`: the kernel keeps `IA32_GS_BASE` pointing
//! at this CPU's [`PerCpu`] while it runs; `swapgs` on every entry from and
//! exit to user mode swaps it with `IA32_KERNEL_GS_BASE` (Intel SDM Vol. 3A
//! §5.8.8). The `syscall` entry uses the two scratch slots by fixed offset.
//! The boot CPU's block is static (it is set up before the heap); the other
//! CPUs' blocks are allocated when they start and never freed.

use alloc::boxed::Box;
use core::cell::UnsafeCell;

use x86_64::structures::tss::TaskStateSegment;

/// Field offsets used by the assembly in `trap.rs`.
pub const USER_RSP_OFFSET: usize = 8;
pub const KERNEL_RSP_OFFSET: usize = 16;
const INDEX_OFFSET: usize = 24;

const IA32_GS_BASE: u32 = 0xC000_0101;
const IA32_KERNEL_GS_BASE: u32 = 0xC000_0102;

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
    /// This CPU's TSS (its `rsp0` follows `kernel_rsp`).
    tss: *mut TaskStateSegment,
}

struct Slot(UnsafeCell<PerCpu>);
// SAFETY: only the boot CPU touches this slot.
unsafe impl Sync for Slot {}

static BOOT_CPU: Slot =
    Slot(UnsafeCell::new(PerCpu { self_ptr: 0, user_rsp: 0, kernel_rsp: 0, index: 0, tss: core::ptr::null_mut() }));

fn wrmsr(msr: u32, value: u64) {
    // SAFETY: only called for the GS base MSRs, which every x86_64 CPU has.
    unsafe { core::arch::asm!("wrmsr", in("ecx") msr, in("eax") value as u32, in("edx") (value >> 32) as u32) };
}

fn install(ptr: *mut PerCpu, index: usize, tss: *mut TaskStateSegment) {
    // SAFETY: `ptr` is this CPU's block, not yet shared.
    unsafe {
        (*ptr).self_ptr = ptr as u64;
        (*ptr).index = index as u64;
        (*ptr).tss = tss;
    }
    wrmsr(IA32_GS_BASE, ptr as u64);
    wrmsr(IA32_KERNEL_GS_BASE, 0);
}

/// Points GS at the boot CPU's block.
pub fn init_boot(tss: *mut TaskStateSegment) {
    install(BOOT_CPU.0.get(), 0, tss);
}

/// Points GS at a new block for CPU `index` (heap-allocated, kept forever).
pub fn init_secondary(index: usize, tss: *mut TaskStateSegment) {
    let block =
        Box::leak(Box::new(PerCpu { self_ptr: 0, user_rsp: 0, kernel_rsp: 0, index: 0, tss: core::ptr::null_mut() }));
    install(block, index, tss);
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

/// Records the kernel stack traps from user mode switch to, in this CPU's
/// block (for `syscall`) and TSS (for interrupts and exceptions).
pub fn set_kernel_stack(top: u64) {
    // SAFETY: GS points at this CPU's block; only this CPU writes it, with
    // interrupts off; the TSS pointer was set at install.
    unsafe {
        core::arch::asm!("mov gs:[{off}], {}", in(reg) top, off = const KERNEL_RSP_OFFSET, options(nostack));
        let block: u64;
        core::arch::asm!("mov {}, gs:[0]", out(reg) block, options(nostack, readonly));
        let tss = (*(block as *const PerCpu)).tss;
        (*tss).privilege_stack_table[0] = x86_64::VirtAddr::new(top);
    }
}
