//! Switching kernel threads, and the per-thread state that goes with it:
//! callee-saved registers on the kernel stack, the FP/SIMD registers
//! (`q0`-`q31`, FPCR, FPSR), the user thread pointer `TPIDR_EL0`, and the
//! user translation table (TTBR0_EL1). The kernel stack is SP_EL1 itself:
//! a thread returns to EL0 with its kernel stack empty, so the next trap
//! lands at its top.

use rmm::PhysAddr;
use tessera_mm::tags::TagFlush;

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
    sub sp, sp, #96
    stp x19, x20, [sp, #0]
    stp x21, x22, [sp, #16]
    stp x23, x24, [sp, #32]
    stp x25, x26, [sp, #48]
    stp x27, x28, [sp, #64]
    stp x29, x30, [sp, #80]
    mov x9, sp
    str x9, [x0]
    mov sp, x1
    ldp x19, x20, [sp, #0]
    ldp x21, x22, [sp, #16]
    ldp x23, x24, [sp, #32]
    ldp x25, x26, [sp, #48]
    ldp x27, x28, [sp, #64]
    ldp x29, x30, [sp, #80]
    add sp, sp, #96
    ret
"#
);

unsafe extern "C" {
    fn context_switch(prev_sp: *mut u64, next_sp: u64);
}

/// Bytes `context_switch` keeps on the stack.
const SWITCH_FRAME_BYTES: u64 = 96;

impl Context {
    /// An empty context, filled by the first `switch` away from it.
    pub const fn new() -> Self {
        Self { sp: 0 }
    }

    /// A context that, when switched to, returns to EL0 through `frame`,
    /// which is written at the top of the stack ending at `stack_top`.
    ///
    /// # Safety
    /// `[stack_top - 4 KiB, stack_top)` must be an unused kernel stack.
    pub unsafe fn new_user(stack_top: u64, frame: &TrapFrame) -> Self {
        let frame_addr = (stack_top - core::mem::size_of::<TrapFrame>() as u64) & !0xF;
        let sp = frame_addr - SWITCH_FRAME_BYTES;
        // SAFETY: per the contract, the stack is ours and large enough.
        unsafe {
            (frame_addr as *mut TrapFrame).write(*frame);
            core::ptr::write_bytes(sp as *mut u64, 0, (SWITCH_FRAME_BYTES / 8) as usize);
            // x30, the return address, is the last slot.
            ((sp + 88) as *mut u64).write(trap_return as *const () as u64);
        }
        Self { sp }
    }

    /// Saves the running thread into `self` and resumes `next`.
    ///
    /// # Safety
    /// Interrupts are masked; `next` was saved by `switch` or made by
    /// [`Context::new_user`], and its stack is still alive.
    pub unsafe fn switch(&mut self, next: &Context) {
        // SAFETY: per the contract.
        unsafe { context_switch(&mut self.sp, next.sp) }
    }
}

/// A thread's FP/SIMD registers and its EL0 thread pointer.
#[repr(C, align(16))]
pub struct FpuState {
    q: [u128; 32],
    fpcr: u64,
    fpsr: u64,
    tpidr_el0: u64,
}

impl FpuState {
    /// All zero: round-to-nearest, no traps.
    pub fn new() -> Self {
        Self { q: [0; 32], fpcr: 0, fpsr: 0, tpidr_el0: 0 }
    }
    /// Sets the thread pointer (TPIDR_EL0) the thread starts with.
    pub fn set_thread_pointer(&mut self, value: u64) {
        self.tpidr_el0 = value;
    }
    /// Saves this CPU's FP/SIMD registers and TPIDR_EL0.
    pub fn save(&mut self) {
        // SAFETY: the area is large enough and 16-aligned; CPACR_EL1 lets EL1
        // use FP/SIMD (set in trap::init).
        unsafe {
            core::arch::asm!(
                ".arch_extension fp",
                ".arch_extension simd",
                "stp q0, q1, [{p}, #0]",
                "stp q2, q3, [{p}, #32]",
                "stp q4, q5, [{p}, #64]",
                "stp q6, q7, [{p}, #96]",
                "stp q8, q9, [{p}, #128]",
                "stp q10, q11, [{p}, #160]",
                "stp q12, q13, [{p}, #192]",
                "stp q14, q15, [{p}, #224]",
                "stp q16, q17, [{p}, #256]",
                "stp q18, q19, [{p}, #288]",
                "stp q20, q21, [{p}, #320]",
                "stp q22, q23, [{p}, #352]",
                "stp q24, q25, [{p}, #384]",
                "stp q26, q27, [{p}, #416]",
                "stp q28, q29, [{p}, #448]",
                "stp q30, q31, [{p}, #480]",
                "mrs {t}, fpcr",
                "str {t}, [{p}, #512]",
                "mrs {t}, fpsr",
                "str {t}, [{p}, #520]",
                "mrs {t}, tpidr_el0",
                "str {t}, [{p}, #528]",
                p = in(reg) self as *mut Self,
                t = out(reg) _,
                options(nostack),
            )
        };
    }
    /// Loads this CPU's FP/SIMD registers and TPIDR_EL0.
    pub fn restore(&self) {
        // SAFETY: as for `save`; the image came from `save` or `new`.
        unsafe {
            core::arch::asm!(
                ".arch_extension fp",
                ".arch_extension simd",
                "ldp q0, q1, [{p}, #0]",
                "ldp q2, q3, [{p}, #32]",
                "ldp q4, q5, [{p}, #64]",
                "ldp q6, q7, [{p}, #96]",
                "ldp q8, q9, [{p}, #128]",
                "ldp q10, q11, [{p}, #160]",
                "ldp q12, q13, [{p}, #192]",
                "ldp q14, q15, [{p}, #224]",
                "ldp q16, q17, [{p}, #256]",
                "ldp q18, q19, [{p}, #288]",
                "ldp q20, q21, [{p}, #320]",
                "ldp q22, q23, [{p}, #352]",
                "ldp q24, q25, [{p}, #384]",
                "ldp q26, q27, [{p}, #416]",
                "ldp q28, q29, [{p}, #448]",
                "ldp q30, q31, [{p}, #480]",
                "ldr {t}, [{p}, #512]",
                "msr fpcr, {t}",
                "ldr {t}, [{p}, #520]",
                "msr fpsr, {t}",
                "ldr {t}, [{p}, #528]",
                "msr tpidr_el0, {t}",
                p = in(reg) self as *const Self,
                t = out(reg) _,
                options(nostack),
            )
        };
    }
}

/// FP/SIMD access is enabled in `trap::init` (CPACR_EL1).
pub fn init_fpu() {}

/// Nothing to do: the kernel stack is SP_EL1, which the thread's own stack
/// pointer already is.
pub fn set_kernel_stack(_top: u64) {}

/// Switches TTBR0_EL1 to the table rooted at `root` with ASID 0: the
/// empty user table of a CPU that runs no process (nothing is ever cached
/// under ASID 0, as that table has no valid entry; a probe table the boot
/// self-test ran under ASID 0 is flushed here). No other TLB maintenance:
/// the entries of the space loaded before stay, tagged with its ASID.
///
/// # Safety
/// `root` must be an empty user table.
pub unsafe fn activate_user_table(root: PhysAddr) {
    // SAFETY: TTBR0 only covers user space; the kernel runs from TTBR1.
    unsafe { write_ttbr0(root.get(), TagFlush::Nothing) };
    if super::asid::take_asid0_dirty(super::cpu_index()) {
        // A probe table ran under ASID 0 (and may still be the one loaded:
        // `protect::with_user_table`): with the empty one back, drop its
        // entries.
        super::tlb::flush_user_all_local(0);
    }
}

/// Whether the scheduler may load one process's table over another's
/// directly: no, it goes through the empty table ([`write_ttbr0`]), so an
/// ASID rollover's flush never races walks of the table before.
pub const DIRECT_SPACE_SWITCH: bool = false;

/// Switches TTBR0_EL1 to the user table rooted at `root`, tagged with the
/// space's ASID (`TagAllocator::switch_to`: a new one if the space's is of
/// an old generation). No TLB maintenance, unless an ASID rollover happened
/// since this CPU last switched (then its whole TLB goes first, once), or
/// a shootdown of the space left this CPU's entries of it to this switch
/// (then the ASID's entries go first: `SpaceTag::flush_others_at_switch`).
/// The caller has added this CPU to the space's CPU set.
///
/// # Safety
/// `root` must be the valid user table of the space `tag` belongs to.
pub unsafe fn activate_user_space(root: PhysAddr, tag: &super::asid::SpaceAsid) {
    let (asid, flush) = super::asid::ASIDS.switch_to(tag, super::cpu_index());
    // SAFETY: TTBR0 only covers user space; the kernel runs from TTBR1.
    unsafe { write_ttbr0(root.get() | (u64::from(asid) << 48), flush) };
}

/// Writes TTBR0_EL1 (`value`'s ASID in bits 63:48), after dropping from
/// this CPU's TLB what `flush` says, while the table loaded before (the
/// empty one: the scheduler switches through it) can add nothing to it.
///
/// # Safety
/// `value` must name a valid user table (and an ASID).
unsafe fn write_ttbr0(value: u64, flush: TagFlush) {
    match flush {
        TagFlush::Nothing => {}
        // SAFETY: TLB invalidation and barriers only.
        TagFlush::Tag => unsafe {
            core::arch::asm!("tlbi aside1, {}", "dsb nsh", in(reg) value & (0xFFFF << 48), options(nostack))
        },
        // SAFETY: TLB invalidation and barriers only.
        TagFlush::Everything => unsafe { core::arch::asm!("tlbi vmalle1", "dsb nsh", options(nostack)) },
    }
    // SAFETY: per the contract; the DSB makes table writes visible to the
    // walker before the switch.
    unsafe { core::arch::asm!("dsb ishst", "msr ttbr0_el1, {}", "isb", in(reg) value, options(nostack)) };
}

/// User tables are separate (TTBR0): nothing to share.
pub fn init_user_root(_new: &mut rmm::PageMapper<super::Paging>, _kernel: &rmm::PageMapper<super::Paging>) {}

/// Waits for an interrupt, then lets the pending ones run and masks
/// interrupts again. The WFI runs with IRQs still masked, as Linux's
/// idle does: a pending IRQ wakes it all the same (a WFI wake-up event
/// whatever PSTATE.I says), and one that arrived after the caller last
/// looked at its work is taken after the WFI, not before it, so the CPU
/// never sleeps through the interrupt that gave it work (unmasking first
/// took such an IRQ at the unmask, and the WFI then slept until the next
/// one, a timer tick at worst).
pub fn wait_for_interrupt() {
    // SAFETY: unmasking IRQs after wfi only lets pending interrupts run;
    // the ISB makes the unmask take effect before they are masked again.
    unsafe { core::arch::asm!("wfi", "msr daifclr, #2", "isb", "msr daifset, #2", options(nomem, nostack)) };
}

/// Lets pending interrupts run, with interrupts masked before and after:
/// for a loop that works with interrupts masked (an idle CPU zeroing
/// frames) and must not hold them up for long.
pub fn interrupt_window() {
    // SAFETY: unmasking lets a pending IRQ run; the ISB makes the unmask
    // take effect before the IRQ is masked again.
    unsafe { core::arch::asm!("msr daifclr, #2", "isb", "msr daifset, #2", options(nomem, nostack)) };
}
