//! CPU exceptions (vectors 0-31): assembly stubs push a uniform frame and
//! call [`exception_handler`], which prints a `KERNEL FAULT` report and stops
//! the machine. Nothing recovers yet: at this stage every exception is a
//! kernel bug (user-mode faults arrive with processes).
//! Vector numbers and error-code rules: Intel SDM Vol. 3A §6.15.

use core::fmt::Write;

use spin::Once;

use super::gdt;
use crate::{ExitCode, console};

/// The registers the stubs save, in stack order, then what the CPU pushed.
#[repr(C)]
pub struct ExceptionFrame {
    r15: u64,
    r14: u64,
    r13: u64,
    r12: u64,
    r11: u64,
    r10: u64,
    r9: u64,
    r8: u64,
    rbp: u64,
    rdi: u64,
    rsi: u64,
    rdx: u64,
    rcx: u64,
    rbx: u64,
    rax: u64,
    vector: u64,
    error_code: u64,
    rip: u64,
    cs: u64,
    rflags: u64,
    rsp: u64,
    ss: u64,
}

// Vectors 8, 10-14, 17, 21, 29 and 30 push an error code; the others get a
// zero so every frame has the same layout.
core::arch::global_asm!(
    r#"
.macro STUB_NOERR n
exception_stub_\n:
    push 0
    push \n
    jmp exception_common
.endm
.macro STUB_ERR n
exception_stub_\n:
    push \n
    jmp exception_common
.endm

.section .text
.irp n, 0,1,2,3,4,5,6,7,9,15,16,18,19,20,22,23,24,25,26,27,28,31
STUB_NOERR \n
.endr
.irp n, 8,10,11,12,13,14,17,21,29,30
STUB_ERR \n
.endr

exception_common:
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push rdi
    push rbp
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    mov rdi, rsp
    cld
    call {handler}
    ud2

.section .rodata
.balign 8
.global exception_stub_table
exception_stub_table:
.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad exception_stub_\n
.endr
"#,
    handler = sym exception_handler,
);

unsafe extern "C" {
    static exception_stub_table: [u64; 32];
}

/// One IDT gate (Intel SDM Vol. 3A §6.14.1, Figure 6-8).
#[repr(C)]
#[derive(Clone, Copy)]
struct Gate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    type_attr: u8,
    offset_mid: u16,
    offset_high: u32,
    reserved: u32,
}

/// Present, DPL 0, 64-bit interrupt gate.
const INTERRUPT_GATE: u8 = 0x8E;

#[repr(C, align(16))]
struct Idt([Gate; 256]);

static IDT: Once<Idt> = Once::new();

/// Builds and loads the IDT.
pub fn init() {
    let selector = gdt::code_selector();
    let idt = IDT.call_once(|| {
        let empty =
            Gate { offset_low: 0, selector: 0, ist: 0, type_attr: 0, offset_mid: 0, offset_high: 0, reserved: 0 };
        let mut gates = [empty; 256];
        // SAFETY: the table is defined in the global_asm above, 32 entries.
        let stubs = unsafe { &exception_stub_table };
        for (vector, &addr) in stubs.iter().enumerate() {
            gates[vector] = Gate {
                offset_low: addr as u16,
                selector,
                ist: if vector == 8 { gdt::DOUBLE_FAULT_IST as u8 } else { 0 },
                type_attr: INTERRUPT_GATE,
                offset_mid: (addr >> 16) as u16,
                offset_high: (addr >> 32) as u32,
                reserved: 0,
            };
        }
        Idt(gates)
    });
    #[repr(C, packed)]
    struct Pointer {
        limit: u16,
        base: u64,
    }
    let pointer = Pointer { limit: (core::mem::size_of::<Idt>() - 1) as u16, base: idt as *const Idt as u64 };
    // SAFETY: the IDT is 'static and every gate is valid or not present.
    unsafe { core::arch::asm!("lidt [{}]", in(reg) &pointer, options(readonly, nostack)) };
}

fn name(vector: u64) -> &'static str {
    match vector {
        0 => "divide error",
        1 => "debug",
        2 => "non-maskable interrupt",
        3 => "breakpoint",
        4 => "overflow",
        5 => "bound range exceeded",
        6 => "invalid opcode",
        7 => "device not available",
        8 => "double fault",
        10 => "invalid TSS",
        11 => "segment not present",
        12 => "stack-segment fault",
        13 => "general protection fault",
        14 => "page fault",
        16 => "x87 floating-point error",
        17 => "alignment check",
        18 => "machine check",
        19 => "SIMD floating-point exception",
        20 => "virtualization exception",
        21 => "control protection exception",
        _ => "reserved exception",
    }
}

/// Prints the report and stops.
extern "C" fn exception_handler(frame: &ExceptionFrame) -> ! {
    let mut out = console::emergency_writer();
    let _ = writeln!(
        out,
        "\nKERNEL FAULT: {} (vector {}, error code {:#x})",
        name(frame.vector),
        frame.vector,
        frame.error_code
    );
    if frame.vector == 14 {
        let cr2: u64;
        // SAFETY: reading CR2 has no side effects.
        unsafe { core::arch::asm!("mov {}, cr2", out(reg) cr2, options(nomem, nostack)) };
        let e = frame.error_code;
        let _ = writeln!(
            out,
            "  faulting address: {cr2:#018x} ({} {}{})",
            if e & 2 != 0 { "write" } else { "read" },
            if e & 1 != 0 { "protection violation" } else { "not present" },
            if e & 16 != 0 { ", instruction fetch" } else { "" },
        );
    }
    let _ = writeln!(
        out,
        "  instruction pointer: {:#018x}  cs {:#x}  rflags {:#x}\n  stack pointer: {:#018x}  ss {:#x}",
        frame.rip, frame.cs, frame.rflags, frame.rsp, frame.ss
    );
    let regs = [
        ("rax", frame.rax),
        ("rbx", frame.rbx),
        ("rcx", frame.rcx),
        ("rdx", frame.rdx),
        ("rsi", frame.rsi),
        ("rdi", frame.rdi),
        ("rbp", frame.rbp),
        ("r8", frame.r8),
        ("r9", frame.r9),
        ("r10", frame.r10),
        ("r11", frame.r11),
        ("r12", frame.r12),
        ("r13", frame.r13),
        ("r14", frame.r14),
        ("r15", frame.r15),
    ];
    for row in regs.chunks(4) {
        let _ = write!(out, " ");
        for (name, value) in row {
            let _ = write!(out, " {name:>3} {value:#018x}");
        }
        let _ = writeln!(out);
    }
    crate::stop(ExitCode::Failure)
}
