//! The EL1 exception vector table (Arm ARM D1.10.2 "Exception vectors"):
//! every one of the 16 entries saves the general registers plus ELR, SPSR,
//! ESR and FAR and calls [`exception_handler`], which prints a
//! `KERNEL FAULT` report and stops. Interrupts are not used yet, so every
//! exception at this stage is a kernel bug.

use core::fmt::Write;

use crate::{ExitCode, console};

/// What the vector stubs save.
#[repr(C)]
pub struct ExceptionFrame {
    x: [u64; 31],
    elr: u64,
    spsr: u64,
    esr: u64,
    far: u64,
    _pad: u64,
}

core::arch::global_asm!(
    r#"
.section .text.vectors, "ax"
.balign 0x800
.global exception_vectors
exception_vectors:
.irp kind, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
.balign 0x80
    sub sp, sp, #288
    stp x0, x1, [sp, #0]
    mov x0, #\kind
    b exception_common
.endr

exception_common:
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
    mrs x2, elr_el1
    stp x30, x2, [sp, #240]
    mrs x2, spsr_el1
    mrs x3, esr_el1
    stp x2, x3, [sp, #256]
    mrs x2, far_el1
    str x2, [sp, #272]
    mov x1, sp
    bl {handler}
    b .
"#,
    handler = sym exception_handler,
);

unsafe extern "C" {
    static exception_vectors: u8;
}

/// Installs the vector table.
pub fn init() {
    // SAFETY: the table above is 2 KiB aligned and its entries never return
    // into corrupted state (they stop the machine).
    unsafe {
        core::arch::asm!("msr vbar_el1, {}", "isb", in(reg) &raw const exception_vectors, options(nostack));
    }
}

/// The kind of exception a vector takes.
fn vector_name(kind: u64) -> &'static str {
    ["synchronous", "IRQ", "FIQ", "SError"][(kind % 4) as usize]
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

/// Prints the report and stops.
extern "C" fn exception_handler(kind: u64, frame: &ExceptionFrame) -> ! {
    let mut out = console::emergency_writer();
    let origin = ["current EL, SP_EL0", "current EL, SP_ELx", "lower EL, AArch64", "lower EL, AArch32"];
    let _ = writeln!(
        out,
        "\nKERNEL FAULT: {} exception from {} (vector {kind}): ESR_EL1 {:#x}, EC {:#04x} {}",
        vector_name(kind),
        origin[(kind / 4) as usize % 4],
        frame.esr,
        frame.esr >> 26,
        exception_class(frame.esr)
    );
    let ec = frame.esr >> 26;
    if matches!(ec, 0x20 | 0x21 | 0x24 | 0x25) {
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
    crate::stop(ExitCode::Failure)
}
