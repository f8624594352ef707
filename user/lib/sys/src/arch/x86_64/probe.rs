//! x86_64 probes of the system-call entry (see `crate::probe`).

use core::arch::asm;

use tessera_abi::number::{SYS_EXIT, SYS_FORK, SYS_WRITE};

/// The SIMD registers a probe loads: `xmm0`-`xmm15` (Intel SDM Vol. 1
/// §10.2).
pub const SIMD_REGS: usize = 16;

/// The 512-byte `fxsave` image.
#[repr(C, align(16))]
struct FxArea([u8; 512]);

/// Loads `values` into the registers and `control` into MXCSR, makes
/// syscall `number`, and returns what the registers and MXCSR hold after
/// it, with the syscall's raw result. Everything is put back as it was.
pub fn simd_through_syscall(
    number: usize,
    values: &[u128; SIMD_REGS],
    control: u64,
) -> ([u128; SIMD_REGS], u64, usize) {
    let mut saved = FxArea([0; 512]);
    let mut out = [0u128; SIMD_REGS];
    let control_in = control as u32;
    let mut control_out = 0u32;
    let result: usize;
    // SAFETY: the SSE state is saved first and restored last, so the
    // block leaves every register it touches as it found it (the
    // compiler cannot be told about xmm clobbers on a soft-float
    // target). The pointers are to locals of the right size and
    // alignment. The syscall clobbers only rax, rcx and r11; `fork`
    // gives the child a copy of this stack, so the same addresses are
    // valid on both sides.
    unsafe {
        asm!(
            "fxsave64 [{saved}]",
            "movdqu xmm0, [{input}]",
            "movdqu xmm1, [{input} + 16]",
            "movdqu xmm2, [{input} + 32]",
            "movdqu xmm3, [{input} + 48]",
            "movdqu xmm4, [{input} + 64]",
            "movdqu xmm5, [{input} + 80]",
            "movdqu xmm6, [{input} + 96]",
            "movdqu xmm7, [{input} + 112]",
            "movdqu xmm8, [{input} + 128]",
            "movdqu xmm9, [{input} + 144]",
            "movdqu xmm10, [{input} + 160]",
            "movdqu xmm11, [{input} + 176]",
            "movdqu xmm12, [{input} + 192]",
            "movdqu xmm13, [{input} + 208]",
            "movdqu xmm14, [{input} + 224]",
            "movdqu xmm15, [{input} + 240]",
            "ldmxcsr [{control_in}]",
            "syscall",
            "movdqu [{out}], xmm0",
            "movdqu [{out} + 16], xmm1",
            "movdqu [{out} + 32], xmm2",
            "movdqu [{out} + 48], xmm3",
            "movdqu [{out} + 64], xmm4",
            "movdqu [{out} + 80], xmm5",
            "movdqu [{out} + 96], xmm6",
            "movdqu [{out} + 112], xmm7",
            "movdqu [{out} + 128], xmm8",
            "movdqu [{out} + 144], xmm9",
            "movdqu [{out} + 160], xmm10",
            "movdqu [{out} + 176], xmm11",
            "movdqu [{out} + 192], xmm12",
            "movdqu [{out} + 208], xmm13",
            "movdqu [{out} + 224], xmm14",
            "movdqu [{out} + 240], xmm15",
            "stmxcsr [{control_out}]",
            "fxrstor64 [{saved}]",
            saved = in(reg) saved.0.as_mut_ptr(),
            input = in(reg) values.as_ptr(),
            out = in(reg) out.as_mut_ptr(),
            control_in = in(reg) &control_in,
            control_out = in(reg) &mut control_out,
            inout("rax") number => result,
            out("rcx") _,
            out("r11") _,
            options(nostack),
        )
    };
    (out, control_out as u64, result)
}

/// `fork`; in the child `exit(0)` at once; in the parent `write(fd,
/// message)` with no store to memory in between. The raw result of `fork`
/// (a pid, or `-errno`).
pub fn fork_then_write(fd: usize, message: &'static [u8]) -> usize {
    let result: usize;
    // SAFETY: the block only makes system calls: fork; in the child exit
    // (it never returns); in the parent a write of `message` (static,
    // read-only) to `fd`. No memory is stored to (`nostack`), the
    // registers the calls clobber are declared, and the fork result is
    // kept in r8 across the write.
    unsafe {
        asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "mov rax, r15",
            "xor edi, edi",
            "syscall",
            "ud2",
            "2:",
            "mov r8, rax",
            "mov rax, r14",
            "mov rdi, r12",
            "mov rsi, r13",
            "mov rdx, {len}",
            "syscall",
            "mov rax, r8",
            len = in(reg) message.len(),
            inlateout("rax") SYS_FORK => result,
            in("r12") fd,
            in("r13") message.as_ptr(),
            in("r14") SYS_WRITE,
            in("r15") SYS_EXIT,
            out("rdi") _,
            out("rsi") _,
            out("rdx") _,
            out("rcx") _,
            out("r8") _,
            out("r11") _,
            options(nostack),
        );
    }
    result
}
