//! Every way into the kernel after boot: the EL1 vector table (Arm ARM
//! D1.10.2 "Exception vectors"). Each of the 16 entries builds one
//! [`TrapFrame`] on the kernel stack (SP_EL1) and calls [`trap_handler`];
//! returning from it goes back through `trap_return` (`eret`). `svc #0` from
//! EL0 is a syscall; other synchronous exceptions from EL0 kill the process
//! with a signal; any synchronous exception at EL1 is a kernel fault.

use core::fmt::Write;

use tessera_abi::signal;

use super::hooks::{self, Access, ExitCode, FaultInfo, SerialWriter};

/// What the vector stubs save.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct TrapFrame {
    pub x: [u64; 31],
    pub sp_el0: u64,
    pub elr: u64,
    pub spsr: u64,
    pub esr: u64,
    pub far: u64,
}

/// SPSR of a new user thread: EL0t, interrupts unmasked.
const USER_SPSR: u64 = 0;

impl TrapFrame {
    /// A frame that enters EL0 at `entry` with stack `sp`, all general
    /// registers zero.
    pub fn new_user(entry: u64, sp: u64) -> Self {
        Self { elr: entry, sp_el0: sp, spsr: USER_SPSR, ..Self::default() }
    }
    /// Whether the trap came from EL0.
    pub fn is_user(&self) -> bool {
        self.spsr & 0b1111 == 0
    }
    /// The syscall number and its six arguments.
    pub fn syscall(&self) -> (usize, [usize; 6]) {
        let a = [self.x[0], self.x[1], self.x[2], self.x[3], self.x[4], self.x[5]];
        (self.x[8] as usize, a.map(|x| x as usize))
    }
    /// Sets the value the syscall returns.
    pub fn set_return(&mut self, value: usize) {
        self.x[0] = value as u64;
    }
    /// Sets the first argument register (`x0`) of a function entered
    /// through this frame (a new thread's start routine).
    pub fn set_arg0(&mut self, value: usize) {
        self.x[0] = value as u64;
    }
    /// The interrupted instruction.
    pub fn instruction_pointer(&self) -> u64 {
        self.elr
    }
}

core::arch::global_asm!(
    r#"
.macro VECTOR kind
.balign 0x80
    sub sp, sp, #288
    stp x0, x1, [sp, #0]
    mov x0, #\kind
    b trap_common
.endm

.section .text.vectors, "ax"
.balign 0x800
.global exception_vectors
exception_vectors:
.irp kind, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
VECTOR \kind
.endr

trap_common:
    stp x2, x3, [sp, #16]
    stp x4, x5, [sp, #32]
    stp x6, x7, [sp, #48]
    stp x8, x9, [sp, #64]
    stp x10, x11, [sp, #80]
    stp x12, x13, [sp, #96]
    stp x14, x15, [sp, #112]
    stp x16, x17, [sp, #128]
    stp x18, x19, [sp, #144]
    stp x20, x21, [sp, #160]
    stp x22, x23, [sp, #176]
    stp x24, x25, [sp, #192]
    stp x26, x27, [sp, #208]
    stp x28, x29, [sp, #224]
    mrs x2, sp_el0
    stp x30, x2, [sp, #240]
    mrs x2, elr_el1
    mrs x3, spsr_el1
    stp x2, x3, [sp, #256]
    mrs x2, esr_el1
    mrs x3, far_el1
    stp x2, x3, [sp, #272]
    mov x1, sp
    bl {handler}
.global trap_return
trap_return:
    ldp x2, x3, [sp, #256]
    msr elr_el1, x2
    msr spsr_el1, x3
    ldr x2, [sp, #248]
    msr sp_el0, x2
    ldp x0, x1, [sp, #0]
    ldp x2, x3, [sp, #16]
    ldp x4, x5, [sp, #32]
    ldp x6, x7, [sp, #48]
    ldp x8, x9, [sp, #64]
    ldp x10, x11, [sp, #80]
    ldp x12, x13, [sp, #96]
    ldp x14, x15, [sp, #112]
    ldp x16, x17, [sp, #128]
    ldp x18, x19, [sp, #144]
    ldp x20, x21, [sp, #160]
    ldp x22, x23, [sp, #176]
    ldp x24, x25, [sp, #192]
    ldp x26, x27, [sp, #208]
    ldp x28, x29, [sp, #224]
    ldr x30, [sp, #240]
    add sp, sp, #288
    eret
"#,
    handler = sym trap_handler,
);

unsafe extern "C" {
    static exception_vectors: u8;
    /// Restores the [`TrapFrame`] at `sp` and returns from the exception.
    pub fn trap_return();
}

/// CPACR_EL1.FPEN = 0b11: FP/SIMD usable at EL0 and EL1 without trapping
/// (the kernel itself is soft-float; user threads' registers are switched).
const CPACR_FPEN: u64 = 0b11 << 20;

/// Installs the vector table and lets EL0 use FP/SIMD.
pub fn init() {
    // SAFETY: the table above is 2 KiB aligned; CPACR only changes FP trapping.
    unsafe {
        core::arch::asm!(
            "msr vbar_el1, {v}",
            "mrs {t}, cpacr_el1",
            "orr {t}, {t}, {fpen}",
            "msr cpacr_el1, {t}",
            "isb",
            v = in(reg) &raw const exception_vectors,
            t = out(reg) _,
            fpen = in(reg) CPACR_FPEN,
            options(nostack),
        );
    }
}

/// The exception class of an ESR (Arm ARM D19.2 "ESR_EL1", EC field).
fn exception_class(esr: u64) -> &'static str {
    match esr >> 26 {
        0x00 => "unknown reason (undefined instruction)",
        0x01 => "trapped WFI/WFE",
        0x07 => "SIMD/FP access trap",
        0x0E => "illegal execution state",
        0x15 => "SVC from AArch64",
        0x18 => "trapped system register access",
        0x20 => "instruction abort from a lower EL",
        0x21 => "instruction abort, same EL",
        0x22 => "PC alignment fault",
        0x24 => "data abort from a lower EL",
        0x25 => "data abort, same EL",
        0x26 => "SP alignment fault",
        0x2F => "SError",
        0x3C => "BRK instruction",
        _ => "other",
    }
}

/// EC of SVC from AArch64.
const EC_SVC64: u64 = 0x15;

/// For an abort from EL0 that the address space may resolve — a
/// translation, access-flag or permission fault (DFSC/IFSC 0b0001xx,
/// 0b0010xx, 0b0011xx) — what the access was: an instruction abort (EC
/// 0x20) is an execution, a data abort (EC 0x24) a write if ISS.WnR (bit 6)
/// is set (Arm ARM D17.2.37, ESR_EL1).
fn page_fault_access(esr: u64) -> Option<Access> {
    let status = esr & 0x3F;
    if !(0b00_0100..=0b00_1111).contains(&status) {
        return None;
    }
    match esr >> 26 {
        0x20 => Some(Access::Execute),
        0x24 if esr & (1 << 6) != 0 => Some(Access::Write),
        0x24 => Some(Access::Read),
        _ => None,
    }
}

/// The signal a user-mode synchronous exception raises (Linux's choices).
fn user_fault(esr: u64) -> (usize, bool) {
    let ec = esr >> 26;
    let dfsc = esr & 0x3F;
    match ec {
        0x20 | 0x24 if dfsc == 0b10_0001 => (signal::SIGBUS, true), // alignment fault
        0x20 | 0x24 => (signal::SIGSEGV, true),
        0x22 | 0x26 => (signal::SIGBUS, false),
        0x3C => (signal::SIGTRAP, false),
        _ => (signal::SIGILL, false),
    }
}

extern "C" fn trap_handler(kind: u64, frame: &mut TrapFrame) {
    match kind {
        // Synchronous, from EL0 (AArch64).
        8 if frame.esr >> 26 == EC_SVC64 => hooks::syscall(frame),
        8 => {
            let (signal, has_address) = user_fault(frame.esr);
            let info = FaultInfo {
                signal,
                description: exception_class(frame.esr),
                address: has_address.then_some(frame.far),
                access: page_fault_access(frame.esr),
            };
            hooks::user_fault(frame, info)
        }
        // IRQ from EL1 or EL0.
        5 | 9 => super::irq_entry(frame),
        // Synchronous, from EL1: a self-test probe's expected abort
        // resumes the probe; anything else is a kernel fault.
        0 | 4 if super::protect::fixup(frame) => {}
        _ => kernel_fault(kind, frame),
    }
}

/// Prints the report of an unexpected exception and stops.
fn kernel_fault(kind: u64, frame: &TrapFrame) -> ! {
    let mut out = SerialWriter;
    let origin = ["current EL, SP_EL0", "current EL, SP_ELx", "lower EL, AArch64", "lower EL, AArch32"];
    let _ = writeln!(
        out,
        "\nKERNEL FAULT: {} exception from {} (vector {kind}): ESR_EL1 {:#x}, EC {:#04x} {}",
        ["synchronous", "IRQ", "FIQ", "SError"][(kind % 4) as usize],
        origin[(kind / 4) as usize % 4],
        frame.esr,
        frame.esr >> 26,
        exception_class(frame.esr)
    );
    if matches!(frame.esr >> 26, 0x20 | 0x21 | 0x24 | 0x25) {
        let _ = writeln!(
            out,
            "  faulting address: {:#018x} (FAR_EL1, {})",
            frame.far,
            if frame.esr & (1 << 6) != 0 { "write" } else { "read" }
        );
    }
    let _ = writeln!(out, "  instruction pointer: {:#018x} (ELR_EL1)  SPSR {:#x}", frame.elr, frame.spsr);
    for (i, row) in frame.x.chunks(4).enumerate() {
        let _ = write!(out, " ");
        for (j, value) in row.iter().enumerate() {
            let _ = write!(out, " x{:<2} {value:#018x}", i * 4 + j);
        }
        let _ = writeln!(out);
    }
    hooks::stop(ExitCode::Failure)
}
