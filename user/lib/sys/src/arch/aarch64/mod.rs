//! aarch64: the `svc #0` instruction, with zero to six arguments.
//!
//! Convention (see `tessera_abi`): number in `x8`, arguments in `x0 … x5`,
//! result in `x0`; every other register is preserved.

pub mod probe;

use core::arch::asm;

use tessera_abi::Result;

/// `svc #0` with no argument.
///
/// # Safety
/// For this and the other `syscallN`: the call must be sound for its
/// arguments. A call that writes through a pointer (`read`, `fstat`, …)
/// must be given memory the program may overwrite; a call that changes the
/// address space or ends the program must not invalidate memory Rust still
/// uses. A bad pointer is not undefined behaviour in itself: the kernel
/// checks user pointers and answers `EFAULT`.
#[inline(always)]
pub unsafe fn syscall0(n: usize) -> Result<usize> {
    let ret: usize;
    // SAFETY: `svc #0` reads only the registers named here and writes only
    // x0 (the result); the stack is not touched. Memory effects are the
    // caller's contract (# Safety).
    unsafe { asm!("svc #0", in("x8") n, lateout("x0") ret, options(nostack)) };
    crate::demux(ret)
}

/// `svc #0` with one argument.
///
/// # Safety
/// See [`syscall0`].
#[inline(always)]
pub unsafe fn syscall1(n: usize, a: usize) -> Result<usize> {
    let ret: usize;
    // SAFETY: as in `syscall0`.
    unsafe { asm!("svc #0", in("x8") n, inlateout("x0") a => ret, options(nostack)) };
    crate::demux(ret)
}

/// `svc #0` with two arguments.
///
/// # Safety
/// See [`syscall0`].
#[inline(always)]
pub unsafe fn syscall2(n: usize, a: usize, b: usize) -> Result<usize> {
    let ret: usize;
    // SAFETY: as in `syscall0`; x1 is an input only.
    unsafe { asm!("svc #0", in("x8") n, inlateout("x0") a => ret, in("x1") b, options(nostack)) };
    crate::demux(ret)
}

/// `svc #0` with three arguments.
///
/// # Safety
/// See [`syscall0`].
#[inline(always)]
pub unsafe fn syscall3(n: usize, a: usize, b: usize, c: usize) -> Result<usize> {
    let ret: usize;
    // SAFETY: as in `syscall0`; x1 and x2 are inputs only.
    unsafe { asm!("svc #0", in("x8") n, inlateout("x0") a => ret, in("x1") b, in("x2") c, options(nostack)) };
    crate::demux(ret)
}

/// `svc #0` with four arguments.
///
/// # Safety
/// See [`syscall0`].
#[inline(always)]
pub unsafe fn syscall4(n: usize, a: usize, b: usize, c: usize, d: usize) -> Result<usize> {
    let ret: usize;
    // SAFETY: as in `syscall0`; x1 to x3 are inputs only.
    unsafe {
        asm!("svc #0", in("x8") n, inlateout("x0") a => ret, in("x1") b, in("x2") c, in("x3") d, options(nostack))
    };
    crate::demux(ret)
}

/// `svc #0` with five arguments.
///
/// # Safety
/// See [`syscall0`].
#[inline(always)]
pub unsafe fn syscall5(n: usize, a: usize, b: usize, c: usize, d: usize, e: usize) -> Result<usize> {
    let ret: usize;
    // SAFETY: as in `syscall0`; x1 to x4 are inputs only.
    unsafe {
        asm!("svc #0", in("x8") n, inlateout("x0") a => ret, in("x1") b, in("x2") c, in("x3") d, in("x4") e,
            options(nostack))
    };
    crate::demux(ret)
}

/// `svc #0` with six arguments.
///
/// # Safety
/// See [`syscall0`].
#[inline(always)]
pub unsafe fn syscall6(n: usize, a: usize, b: usize, c: usize, d: usize, e: usize, f: usize) -> Result<usize> {
    let ret: usize;
    // SAFETY: as in `syscall0`; x1 to x5 are inputs only.
    unsafe {
        asm!("svc #0", in("x8") n, inlateout("x0") a => ret, in("x1") b, in("x2") c, in("x3") d, in("x4") e,
            in("x5") f, options(nostack))
    };
    crate::demux(ret)
}
