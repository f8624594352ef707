//! x86_64 system-call instruction (tessera-abi's convention: number in
//! `rax`, arguments in `rdi rsi rdx r10 r8 r9`, result in `rax`; the CPU
//! overwrites `rcx` and `r11`).

use core::arch::asm;

/// One system call with six argument registers (unused ones are passed as
/// 0); the raw result (a value, or `-errno`).
///
/// # Safety
/// The call must be sound for its arguments: memory the kernel writes must
/// be the caller's to overwrite, and a call that changes the address space
/// must not take away memory still in use.
#[inline(always)]
pub unsafe fn syscall6(n: usize, a: usize, b: usize, c: usize, d: usize, e: usize, f: usize) -> usize {
    let ret: usize;
    // SAFETY: `syscall` reads only the registers named here and clobbers
    // rax (the result), rcx and r11; memory effects are the caller's
    // contract.
    unsafe {
        asm!("syscall", inlateout("rax") n => ret, in("rdi") a, in("rsi") b, in("rdx") c, in("r10") d, in("r8") e,
            in("r9") f, lateout("rcx") _, lateout("r11") _, options(nostack))
    };
    ret
}
