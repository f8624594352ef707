//! Switching kernel threads, and the per-thread state that goes with it:
//! callee-saved registers on the kernel stack, the FPU/SSE area
//! (`fxsave`, Intel SDM Vol. 1 §10.5), the kernel stack the CPU enters on a
//! trap from user mode, and the user page table (loaded on return to ring 3).

use rmm::PhysAddr;

use super::percpu;
use super::trap::{TrapFrame, trap_return};

/// A suspended kernel thread: its saved stack pointer. The callee-saved
/// registers and return address sit on its stack.
#[derive(Debug, Default)]
pub struct Context {
    sp: u64,
}

core::arch::global_asm!(
    r#"
.global context_switch
context_switch:
    push rbp
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov [rdi], rsp
    mov rsp, rsi
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    pop rbp
    ret
"#
);

unsafe extern "C" {
    fn context_switch(prev_sp: *mut u64, next_sp: u64);
}

/// Callee-saved registers `context_switch` pops.
const SAVED_REGISTERS: usize = 6;

impl Context {
    /// An empty context, filled by the first `switch` away from it.
    pub const fn new() -> Self {
        Self { sp: 0 }
    }

    /// A context that, when switched to, returns to user mode through
    /// `frame`, which is written at the top of the stack ending at `stack_top`.
    ///
    /// # Safety
    /// `[stack_top - 4 KiB, stack_top)` must be an unused kernel stack.
    pub unsafe fn new_user(stack_top: u64, frame: &TrapFrame) -> Self {
        let frame_addr = (stack_top - core::mem::size_of::<TrapFrame>() as u64) & !0xF;
        let sp = frame_addr - 8 - SAVED_REGISTERS as u64 * 8;
        // SAFETY: per the contract, the stack is ours and large enough.
        unsafe {
            (frame_addr as *mut TrapFrame).write(*frame);
            ((frame_addr - 8) as *mut u64).write(trap_return as *const () as u64);
            core::ptr::write_bytes(sp as *mut u64, 0, SAVED_REGISTERS);
        }
        Self { sp }
    }

    /// Saves the running thread into `self` and resumes `next`.
    ///
    /// # Safety
    /// Interrupts are off; `next` was saved by `switch` or made by
    /// [`Context::new_user`], and its stack is still alive.
    pub unsafe fn switch(&mut self, next: &Context) {
        // SAFETY: per the contract.
        unsafe { context_switch(&mut self.sp, next.sp) }
    }
}

/// The user register state a thread keeps beyond its trap frame: the
/// FPU/SSE registers (the 512-byte `fxsave` image) and the thread pointer
/// (`IA32_FS_BASE`, what `%fs:` addresses; Intel SDM Vol. 4 §2.1).
#[repr(C, align(16))]
pub struct FpuState {
    fx: [u8; 512],
    fs_base: u64,
}

/// The MSR behind `%fs:`'s base.
const IA32_FS_BASE: u32 = 0xC000_0100;

impl FpuState {
    /// The state a new thread starts with: what `fninit` plus default MXCSR
    /// give, taken from a freshly reset FPU; thread pointer 0.
    pub fn new() -> Self {
        let mut state = Self { fx: [0; 512], fs_base: 0 };
        // FCW = 0x037F (all exceptions masked), MXCSR = 0x1F80.
        state.fx[0..2].copy_from_slice(&0x037Fu16.to_le_bytes());
        state.fx[24..28].copy_from_slice(&0x1F80u32.to_le_bytes());
        state
    }
    /// Sets the thread pointer the thread starts with.
    pub fn set_thread_pointer(&mut self, value: u64) {
        self.fs_base = value;
    }
    /// Saves this CPU's FPU registers and thread pointer.
    pub fn save(&mut self) {
        let (low, high): (u32, u32);
        // SAFETY: the area is 512 bytes, 16-aligned; CR4.OSFXSR is set.
        // IA32_FS_BASE exists on every x86_64 CPU.
        unsafe {
            core::arch::asm!("fxsave64 [{}]", in(reg) self.fx.as_mut_ptr(), options(nostack));
            core::arch::asm!("rdmsr", in("ecx") IA32_FS_BASE, out("eax") low, out("edx") high, options(nomem, nostack));
        }
        self.fs_base = u64::from(high) << 32 | u64::from(low);
    }
    /// Loads this CPU's FPU registers and thread pointer.
    pub fn restore(&self) {
        // SAFETY: as for `save`; the image came from `save` or `new`. The
        // FS base only matters to user code (the kernel uses GS), and a
        // non-canonical value cannot get here: `set_thread_pointer`'s
        // callers check it, `save` read it from the CPU.
        unsafe {
            core::arch::asm!("fxrstor64 [{}]", in(reg) self.fx.as_ptr(), options(nostack));
            core::arch::asm!(
                "wrmsr",
                in("ecx") IA32_FS_BASE,
                in("eax") self.fs_base as u32,
                in("edx") (self.fs_base >> 32) as u32,
                options(nomem, nostack),
            );
        }
    }
}

/// Enables SSE for user code: CR0.MP set, CR0.EM clear, CR4.OSFXSR and
/// CR4.OSXMMEXCPT set (Intel SDM Vol. 3A §13.1.4).
pub fn init_fpu() {
    // SAFETY: only FPU-control bits change.
    unsafe {
        core::arch::asm!(
            "mov {t}, cr0",
            "and {t}, ~0x4",
            "or {t}, 0x2",
            "mov cr0, {t}",
            "mov {t}, cr4",
            "or {t}, 0x600",
            "mov cr4, {t}",
            "fninit",
            t = out(reg) _,
            options(nostack),
        )
    };
}

/// Tells the CPU which kernel stack to use on the next trap from user mode.
pub fn set_kernel_stack(top: u64) {
    percpu::set_kernel_stack(top);
}

/// Makes `root` the address space the next return to ring 3 enters. With
/// isolation (`kpti`) it is loaded on the way out and CR3 itself gets the
/// kernel root; without, CR3 gets `root` now and entries and exits keep it.
/// Either write drops every TLB entry (no global pages, no PCIDs).
///
/// # Safety
/// `root` must be a user root made by [`init_user_root`] (or the kernel
/// root, for none).
pub unsafe fn activate_user_table(root: PhysAddr) {
    if super::kpti::enabled() {
        percpu::set_user_cr3(root.get());
        // SAFETY: the kernel root maps all the kernel.
        unsafe { core::arch::asm!("mov cr3, {}", in(reg) super::kpti::kernel_root().get(), options(nostack)) };
    } else {
        // No isolation: the kernel runs on the process's root, which holds
        // the whole kernel half, and entries and exits write no CR3.
        percpu::set_kernel_cr3(root.get());
        // SAFETY: per the contract, the root maps all the kernel.
        unsafe { core::arch::asm!("mov cr3, {}", in(reg) root.get(), options(nostack)) };
    }
}

/// Whether the scheduler may load one process's root over another's
/// directly: yes, a CR3 load drops every non-global entry of the table
/// before it (nothing is tagged), so no walk of the old table outlives it.
pub const DIRECT_SPACE_SWITCH: bool = true;

/// Loads a process's user root ([`activate_user_table`]; no address-space
/// tags on x86_64 yet, so `_tag` is not used).
///
/// # Safety
/// As [`activate_user_table`].
pub unsafe fn activate_user_space(root: PhysAddr, _tag: &NoTag) {
    // SAFETY: per the contract.
    unsafe { activate_user_table(root) };
}

/// An address space's TLB tag: none on x86_64 (no PCIDs yet).
#[derive(Debug, Default)]
pub struct NoTag;

impl NoTag {
    /// A space's tag.
    pub const fn new() -> Self {
        Self
    }

    /// The tag TLB maintenance uses: always 0.
    pub fn asid(&self) -> u16 {
        0
    }

    /// Whether a shootdown may leave the other CPUs' entries of the space
    /// to their next switch to it: no question here, a switch drops them
    /// all (`mm::tlb::shootdown` sends IPIs to the CPUs running the
    /// space, and never asks).
    pub fn flush_others_at_switch(&self, _me: usize, _running: impl Fn() -> u64) -> bool {
        false
    }
}

/// Prepares a new user root: of the kernel half, only the shadow (`kpti`):
/// the entry and exit code and the entry area; all of it when isolation is
/// off.
pub fn init_user_root(new: &mut rmm::PageMapper<super::Paging>, kernel: &rmm::PageMapper<super::Paging>) {
    super::kpti::init_user_root(new, kernel);
}

/// Waits for an interrupt with interrupts enabled, then masks them again.
pub fn wait_for_interrupt() {
    // SAFETY: sti; hlt atomically waits (the interrupt shadow of sti covers hlt).
    unsafe { core::arch::asm!("sti", "hlt", "cli", options(nomem, nostack)) };
}

/// Lets pending interrupts run, with interrupts masked before and after:
/// for a loop that works with interrupts masked (an idle CPU zeroing
/// frames) and must not hold them up for long.
pub fn interrupt_window() {
    // SAFETY: the one instruction after sti (its interrupt shadow) is the
    // nop; a pending interrupt is taken after it, before cli masks again.
    unsafe { core::arch::asm!("sti", "nop", "cli", options(nomem, nostack)) };
}
