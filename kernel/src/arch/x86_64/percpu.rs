//! Per-CPU data reached through `GS`: the kernel keeps `IA32_GS_BASE` pointing
//! at this CPU's [`PerCpu`] while it runs; `swapgs` on every entry from and
//! exit to user mode swaps it with `IA32_KERNEL_GS_BASE` (Intel SDM Vol. 3A
//! §5.8.8). The `syscall` entry uses the two scratch slots by fixed offset.

use core::cell::UnsafeCell;

/// Field offsets used by the assembly in `trap.rs`.
pub const USER_RSP_OFFSET: usize = 8;
pub const KERNEL_RSP_OFFSET: usize = 16;

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
}

struct Slot(UnsafeCell<PerCpu>);
// SAFETY: each CPU only touches its own slot (one CPU for now).
unsafe impl Sync for Slot {}

static BOOT_CPU: Slot = Slot(UnsafeCell::new(PerCpu { self_ptr: 0, user_rsp: 0, kernel_rsp: 0 }));

fn wrmsr(msr: u32, value: u64) {
    // SAFETY: only called for the GS base MSRs, which every x86_64 CPU has.
    unsafe { core::arch::asm!("wrmsr", in("ecx") msr, in("eax") value as u32, in("edx") (value >> 32) as u32) };
}

/// Points GS at the boot CPU's data.
pub fn init() {
    let ptr = BOOT_CPU.0.get();
    // SAFETY: before any other user of the slot.
    unsafe { (*ptr).self_ptr = ptr as u64 };
    wrmsr(IA32_GS_BASE, ptr as u64);
    wrmsr(IA32_KERNEL_GS_BASE, 0);
}

/// Records the kernel stack the `syscall` entry switches to.
pub fn set_kernel_stack(top: u64) {
    // SAFETY: this CPU's slot; a plain field store with interrupts off.
    unsafe { (*BOOT_CPU.0.get()).kernel_rsp = top };
}
