//! Every way into the kernel after boot: CPU exceptions, interrupts and the
//! `syscall` instruction all build one [`TrapFrame`] on the kernel stack and
//! call [`trap_handler`]; returning from it goes back through `trap_return`
//! (`iretq`). Entries from user mode `swapgs` in and out (see `percpu`),
//! and switch from the process's root to the kernel root and back: they
//! arrive on, and leave from, the CPU's entry stack, and this code lives in
//! `.text.user_entry`, which user roots map (see `kpti`). Vector numbers and error-code rules: Intel SDM Vol. 3A §6.15; `syscall`:
//! §5.8.8.

use core::fmt::Write;

use tessera_abi::signal;

use super::hooks::{self, Access, ExitCode, FaultInfo, SerialWriter};
use super::{gdt, percpu, protect};

/// The pseudo-vector recorded for `syscall` entries.
pub const SYSCALL_VECTOR: u64 = 0x100;

/// What the entry code saves, in stack order, then what the CPU pushed (or
/// the `syscall` entry built to look the same).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct TrapFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    pub vector: u64,
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

/// RFLAGS of a new user thread: IF set, reserved bit 1 set.
const USER_RFLAGS: u64 = 0x202;

impl TrapFrame {
    /// A frame that enters user mode at `entry` with stack `sp`, all
    /// general registers zero.
    pub fn new_user(entry: u64, sp: u64) -> Self {
        Self {
            rip: entry,
            cs: gdt::USER_CODE as u64,
            rflags: USER_RFLAGS,
            rsp: sp,
            ss: gdt::USER_DATA as u64,
            ..Self::default()
        }
    }
    /// Whether the trap came from user mode.
    pub fn is_user(&self) -> bool {
        self.cs & 3 == 3
    }
    /// The syscall number and its six arguments.
    pub fn syscall(&self) -> (usize, [usize; 6]) {
        let a = [self.rdi, self.rsi, self.rdx, self.r10, self.r8, self.r9];
        (self.rax as usize, a.map(|x| x as usize))
    }
    /// Sets the value the syscall returns.
    pub fn set_return(&mut self, value: usize) {
        self.rax = value as u64;
    }
    /// Sets the first argument register (`rdi`) of a function entered
    /// through this frame (a new thread's start routine).
    pub fn set_arg0(&mut self, value: usize) {
        self.rdi = value as u64;
    }
    /// The interrupted instruction.
    pub fn instruction_pointer(&self) -> u64 {
        self.rip
    }
}

// Vectors 8, 10-14, 17, 21, 29 and 30 push an error code; the others get a
// zero so every frame has the same layout.
core::arch::global_asm!(
    r#"
.macro STUB_NOERR n
trap_stub_\n:
    push 0
    push \n
    jmp trap_common
.endm
.macro STUB_ERR n
trap_stub_\n:
    push \n
    jmp trap_common
.endm

.section .text.user_entry, "ax"
.irp n, 0,1,2,3,4,5,6,7,9,15,16,18,19,20,22,23,24,25,26,27,28,31,32,33,34,35,36,37,38,39,40,41
STUB_NOERR \n
.endr
.irp n, 42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63,64,65,66,67,68,69,70,71,72,73
STUB_NOERR \n
.endr
.irp n, 74,75,76,77,78,79,80,81,82,83,84,85,86,87,88,89,90,91,92,93,94,95,96,97,98,99,100,101,102,103,104,105
STUB_NOERR \n
.endr
.irp n, 106,107,108,109,110,111,112,113,114,115,116,117,118,119,120,121,122,123,124,125,126,127,128,129,130,131,132,133,134,135,136,137
STUB_NOERR \n
.endr
.irp n, 138,139,140,141,142,143,144,145,146,147,148,149,150,151,152,153,154,155,156,157,158,159,160,161,162,163,164,165,166,167,168,169
STUB_NOERR \n
.endr
.irp n, 170,171,172,173,174,175,176,177,178,179,180,181,182,183,184,185,186,187,188,189,190,191,192,193,194,195,196,197,198,199,200,201
STUB_NOERR \n
.endr
.irp n, 202,203,204,205,206,207,208,209,210,211,212,213,214,215,216,217,218,219,220,221,222,223,224,225,226,227,228,229,230,231,232,233
STUB_NOERR \n
.endr
.irp n, 234,235,236,237,238,239,240,241,242,243,244,245,246,247,248,249,250,251,252,253,254,255
STUB_NOERR \n
.endr
.irp n, 8,10,11,12,13,14,17,21,29,30
STUB_ERR \n
.endr

trap_common:
    test qword ptr [rsp + 24], 3
    jz trap_common_gs
    # From ring 3, on the entry stack, the user root loaded: load the
    # kernel root, then move vector, error code and the CPU's frame to the
    # thread's kernel stack.
    swapgs
    push rax
    mov rax, gs:[{kernel_cr3}]
    cmp rax, gs:[{user_cr3}]
    je 5f
    mov cr3, rax
5:
    mov rax, rsp
    mov rsp, gs:[{kernel_rsp}]
    push qword ptr [rax + 56]
    push qword ptr [rax + 48]
    push qword ptr [rax + 40]
    push qword ptr [rax + 32]
    push qword ptr [rax + 24]
    push qword ptr [rax + 16]
    push qword ptr [rax + 8]
    mov rax, [rax]
trap_common_gs:
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
.global trap_return
trap_return:
    test qword ptr [rsp + 144], 3
    jz 3f
    # To ring 3: copy the frame's rip, cs, rflags, rsp and ss to the entry
    # stack, restore every register, switch to the entry stack, load the
    # user root, iretq.
    mov rax, gs:[{entry_iret}]
    mov rbx, [rsp + 136]
    mov [rax], rbx
    mov rbx, [rsp + 144]
    mov [rax + 8], rbx
    mov rbx, [rsp + 152]
    mov [rax + 16], rbx
    mov rbx, [rsp + 160]
    mov [rax + 24], rbx
    mov rbx, [rsp + 168]
    mov [rax + 32], rbx
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rbp
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    pop rax
    mov rsp, gs:[{entry_iret}]
    push rax
    mov rax, gs:[{user_cr3}]
    cmp rax, gs:[{kernel_cr3}]
    je 6f
    mov cr3, rax
6:
    pop rax
    swapgs
    iretq
3:
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rbp
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    pop rax
    add rsp, 16
    iretq

.global syscall_entry
syscall_entry:
    swapgs
    mov gs:[{user_rsp}], rsp
    mov rsp, gs:[{kernel_cr3}]
    cmp rsp, gs:[{user_cr3}]
    je 7f
    mov cr3, rsp
7:
    mov rsp, gs:[{kernel_rsp}]
    push {user_ss}
    push qword ptr gs:[{user_rsp}]
    push r11
    push {user_cs}
    push rcx
    push 0
    push {syscall_vector}
    jmp trap_common_gs

.section .rodata
.balign 8
.global trap_stub_table
trap_stub_table:
.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad trap_stub_\n
.endr
.irp n, 32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63
    .quad trap_stub_\n
.endr
.irp n, 64,65,66,67,68,69,70,71,72,73,74,75,76,77,78,79,80,81,82,83,84,85,86,87,88,89,90,91,92,93,94,95
    .quad trap_stub_\n
.endr
.irp n, 96,97,98,99,100,101,102,103,104,105,106,107,108,109,110,111,112,113,114,115,116,117,118,119,120,121,122,123,124,125,126,127
    .quad trap_stub_\n
.endr
.irp n, 128,129,130,131,132,133,134,135,136,137,138,139,140,141,142,143,144,145,146,147,148,149,150,151,152,153,154,155,156,157,158,159
    .quad trap_stub_\n
.endr
.irp n, 160,161,162,163,164,165,166,167,168,169,170,171,172,173,174,175,176,177,178,179,180,181,182,183,184,185,186,187,188,189,190,191
    .quad trap_stub_\n
.endr
.irp n, 192,193,194,195,196,197,198,199,200,201,202,203,204,205,206,207,208,209,210,211,212,213,214,215,216,217,218,219,220,221,222,223
    .quad trap_stub_\n
.endr
.irp n, 224,225,226,227,228,229,230,231,232,233,234,235,236,237,238,239,240,241,242,243,244,245,246,247,248,249,250,251,252,253,254,255
    .quad trap_stub_\n
.endr
"#,
    handler = sym trap_handler,
    user_rsp = const percpu::USER_RSP_OFFSET,
    kernel_rsp = const percpu::KERNEL_RSP_OFFSET,
    kernel_cr3 = const percpu::KERNEL_CR3_OFFSET,
    user_cr3 = const percpu::USER_CR3_OFFSET,
    entry_iret = const percpu::ENTRY_IRET_OFFSET,
    user_ss = const gdt::USER_DATA,
    user_cs = const gdt::USER_CODE,
    syscall_vector = const SYSCALL_VECTOR,
);

unsafe extern "C" {
    static trap_stub_table: [u64; 256];
    fn syscall_entry();
    /// Restores the [`TrapFrame`] at `rsp` and returns from the trap.
    pub fn trap_return();
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

/// Present, DPL 0, 64-bit interrupt gate (interrupts stay off in handlers).
const INTERRUPT_GATE: u8 = 0x8E;

/// 4 KiB exactly: the IDT has its own page of the entry area.
#[repr(C, align(4096))]
struct Idt([Gate; 256]);

/// Built by the boot CPU, loaded by every CPU; in the entry area (`kpti`):
/// the CPU reads it while the user root is loaded.
struct IdtSlot(core::cell::UnsafeCell<core::mem::MaybeUninit<Idt>>);
// SAFETY: written once by the boot CPU before any other CPU starts, then
// only read.
unsafe impl Sync for IdtSlot {}

#[unsafe(link_section = ".bss.entry_area")]
static IDT: IdtSlot = IdtSlot(core::cell::UnsafeCell::new(core::mem::MaybeUninit::zeroed()));
static IDT_BUILT: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

const IA32_EFER: u32 = 0xC000_0080;
const IA32_STAR: u32 = 0xC000_0081;
const IA32_LSTAR: u32 = 0xC000_0082;
const IA32_FMASK: u32 = 0xC000_0084;
/// RFLAGS cleared on `syscall`: TF, IF, DF, AC.
const SYSCALL_RFLAGS_MASK: u64 = 0x100 | 0x200 | 0x400 | 0x4_0000;

fn rdmsr(msr: u32) -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: only architectural MSRs present on every x86_64 CPU are read.
    unsafe { core::arch::asm!("rdmsr", in("ecx") msr, out("eax") lo, out("edx") hi, options(nomem, nostack)) };
    (hi as u64) << 32 | lo as u64
}

fn wrmsr(msr: u32, value: u64) {
    // SAFETY: only the syscall MSRs are written, with values set up below.
    unsafe {
        core::arch::asm!("wrmsr", in("ecx") msr, in("eax") value as u32, in("edx") (value >> 32) as u32, options(nostack))
    };
}

/// Builds and loads the IDT and enables `syscall`.
pub fn init() {
    let build = || {
        let empty =
            Gate { offset_low: 0, selector: 0, ist: 0, type_attr: 0, offset_mid: 0, offset_high: 0, reserved: 0 };
        let mut gates = [empty; 256];
        // SAFETY: the table is defined in the global_asm above, 256 entries.
        let stubs = unsafe { &trap_stub_table };
        for (vector, &addr) in stubs.iter().enumerate() {
            gates[vector] = Gate {
                offset_low: addr as u16,
                selector: gdt::KERNEL_CODE,
                ist: if vector == 8 { gdt::DOUBLE_FAULT_IST as u8 } else { 0 },
                type_attr: INTERRUPT_GATE,
                offset_mid: (addr >> 16) as u16,
                offset_high: (addr >> 32) as u32,
                reserved: 0,
            };
        }
        Idt(gates)
    };
    if !IDT_BUILT.swap(true, core::sync::atomic::Ordering::AcqRel) {
        // SAFETY: the boot CPU's first call, before other CPUs run.
        unsafe { (*IDT.0.get()).write(build()) };
    }
    // SAFETY: written above (boot CPU) or before this CPU was started.
    let idt: &Idt = unsafe { (*IDT.0.get()).assume_init_ref() };
    #[repr(C, packed)]
    struct Pointer {
        limit: u16,
        base: u64,
    }
    let pointer = Pointer { limit: (core::mem::size_of::<Idt>() - 1) as u16, base: idt as *const Idt as u64 };
    // SAFETY: the IDT is 'static and every gate points at a stub above.
    unsafe { core::arch::asm!("lidt [{}]", in(reg) &pointer, options(readonly, nostack)) };

    wrmsr(IA32_EFER, rdmsr(IA32_EFER) | 1); // SCE
    wrmsr(IA32_STAR, (gdt::KERNEL_DATA as u64) << 48 | (gdt::KERNEL_CODE as u64) << 32);
    wrmsr(IA32_LSTAR, syscall_entry as *const () as u64);
    wrmsr(IA32_FMASK, SYSCALL_RFLAGS_MASK);
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

fn cr2() -> u64 {
    let cr2: u64;
    // SAFETY: reading CR2 has no side effects.
    unsafe { core::arch::asm!("mov {}, cr2", out(reg) cr2, options(nomem, nostack)) };
    cr2
}

/// What a page fault's error code says the access was: bit 4 (I/D) an
/// instruction fetch, bit 1 (W/R) a write (Intel SDM Vol. 3A §4.7).
fn page_fault_access(error_code: u64) -> Access {
    if error_code & (1 << 4) != 0 {
        Access::Execute
    } else if error_code & (1 << 1) != 0 {
        Access::Write
    } else {
        Access::Read
    }
}

/// The signal a user-mode exception raises (Linux's choices).
fn user_signal(vector: u64) -> usize {
    match vector {
        0 | 16 | 19 => signal::SIGFPE,
        1 | 3 => signal::SIGTRAP,
        6 => signal::SIGILL,
        17 => signal::SIGBUS,
        _ => signal::SIGSEGV,
    }
}

extern "C" fn trap_handler(frame: &mut TrapFrame) {
    protect::on_entry();
    match frame.vector {
        SYSCALL_VECTOR => hooks::syscall(frame),
        0..=31 if frame.is_user() => {
            let address = if frame.vector == 14 { Some(cr2()) } else { None };
            // A reserved bit set in a PTE (RSVD, error-code bit 3: a device
            // mapping beyond the physical address width) cannot be resolved
            // by mapping again: no access kind, so the process gets its
            // signal instead of faulting forever.
            let resolvable = frame.vector == 14 && frame.error_code & (1 << 3) == 0;
            let info = FaultInfo {
                signal: user_signal(frame.vector),
                description: name(frame.vector),
                address,
                access: resolvable.then(|| page_fault_access(frame.error_code)),
            };
            hooks::user_fault(frame, info)
        }
        0..=31 => {
            // A self-test probe's expected fault resumes the probe.
            let address = if frame.vector == 14 { cr2() } else { 0 };
            if !protect::fixup(frame, address) {
                kernel_fault(frame)
            }
        }
        vector if vector == super::irq::SPURIOUS_VECTOR as u64 => {}
        vector if vector == u64::from(super::irq::IpiKind::TlbShootdown.id()) => {
            hooks::tlb_shootdown();
            hooks::interrupt(frame, vector as u32)
        }
        vector => hooks::interrupt(frame, vector as u32),
    }
}

/// Prints the report of a kernel-mode exception and stops.
fn kernel_fault(frame: &TrapFrame) -> ! {
    let mut out = SerialWriter;
    let _ = writeln!(
        out,
        "\nKERNEL FAULT: {} (vector {}, error code {:#x})",
        name(frame.vector),
        frame.vector,
        frame.error_code
    );
    if frame.vector == 14 {
        let e = frame.error_code;
        let _ = writeln!(
            out,
            "  faulting address: {:#018x} ({} {}{})",
            cr2(),
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
    hooks::stop(ExitCode::Failure)
}
