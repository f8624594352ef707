//! aarch64 system-call instruction (tessera-abi's convention: `svc #0`,
//! number in `x8`, arguments in `x0`..`x5`, result in `x0`).

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
    // SAFETY: `svc #0` reads x8 and x0..x5 and returns in x0; memory
    // effects are the caller's contract.
    unsafe {
        asm!("svc #0", in("x8") n, inlateout("x0") a => ret, in("x1") b, in("x2") c, in("x3") d, in("x4") e,
            in("x5") f, options(nostack))
    };
    ret
}
