//! x86_64: the `syscall` instruction, with zero to six arguments.
//!
//! Convention (see `tessera_abi`): number in `rax`, arguments in `rdi rsi
//! rdx r10 r8 r9`, result in `rax`; the CPU overwrites `rcx` (return `rip`)
//! and `r11` (saved `rflags`).

pub mod probe;

use core::arch::asm;

use tessera_abi::Result;

/// `syscall` with no argument.
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
    // SAFETY: `syscall` reads only the registers named here and clobbers
    // only rax (the result), rcx and r11; the stack is not touched. Memory
    // effects are the caller's contract (# Safety).
    unsafe { asm!("syscall", inlateout("rax") n => ret, lateout("rcx") _, lateout("r11") _, options(nostack)) };
    crate::demux(ret)
}

/// `syscall` with one argument.
///
/// # Safety
/// See [`syscall0`].
#[inline(always)]
pub unsafe fn syscall1(n: usize, a: usize) -> Result<usize> {
    let ret: usize;
    // SAFETY: as in `syscall0`; `rdi` is an input only.
    unsafe {
        asm!("syscall", inlateout("rax") n => ret, in("rdi") a, lateout("rcx") _, lateout("r11") _, options(nostack))
    };
    crate::demux(ret)
}

/// `syscall` with two arguments.
///
/// # Safety
/// See [`syscall0`].
#[inline(always)]
pub unsafe fn syscall2(n: usize, a: usize, b: usize) -> Result<usize> {
    let ret: usize;
    // SAFETY: as in `syscall0`; the argument registers are inputs only.
    unsafe {
        asm!("syscall", inlateout("rax") n => ret, in("rdi") a, in("rsi") b,
            lateout("rcx") _, lateout("r11") _, options(nostack))
    };
    crate::demux(ret)
}

/// `syscall` with three arguments.
///
/// # Safety
/// See [`syscall0`].
#[inline(always)]
pub unsafe fn syscall3(n: usize, a: usize, b: usize, c: usize) -> Result<usize> {
    let ret: usize;
    // SAFETY: as in `syscall0`; the argument registers are inputs only.
    unsafe {
        asm!("syscall", inlateout("rax") n => ret, in("rdi") a, in("rsi") b, in("rdx") c,
            lateout("rcx") _, lateout("r11") _, options(nostack))
    };
    crate::demux(ret)
}

/// `syscall` with four arguments (the fourth in `r10`: `rcx` is taken).
///
/// # Safety
/// See [`syscall0`].
#[inline(always)]
pub unsafe fn syscall4(n: usize, a: usize, b: usize, c: usize, d: usize) -> Result<usize> {
    let ret: usize;
    // SAFETY: as in `syscall0`; the argument registers are inputs only.
    unsafe {
        asm!("syscall", inlateout("rax") n => ret, in("rdi") a, in("rsi") b, in("rdx") c, in("r10") d,
            lateout("rcx") _, lateout("r11") _, options(nostack))
    };
    crate::demux(ret)
}

/// `syscall` with five arguments.
///
/// # Safety
/// See [`syscall0`].
#[inline(always)]
pub unsafe fn syscall5(n: usize, a: usize, b: usize, c: usize, d: usize, e: usize) -> Result<usize> {
    let ret: usize;
    // SAFETY: as in `syscall0`; the argument registers are inputs only.
    unsafe {
        asm!("syscall", inlateout("rax") n => ret, in("rdi") a, in("rsi") b, in("rdx") c, in("r10") d, in("r8") e,
            lateout("rcx") _, lateout("r11") _, options(nostack))
    };
    crate::demux(ret)
}

/// `syscall` with six arguments.
///
/// # Safety
/// See [`syscall0`].
#[inline(always)]
pub unsafe fn syscall6(n: usize, a: usize, b: usize, c: usize, d: usize, e: usize, f: usize) -> Result<usize> {
    let ret: usize;
    // SAFETY: as in `syscall0`; the argument registers are inputs only.
    unsafe {
        asm!("syscall", inlateout("rax") n => ret, in("rdi") a, in("rsi") b, in("rdx") c, in("r10") d, in("r8") e,
            in("r9") f, lateout("rcx") _, lateout("r11") _, options(nostack))
    };
    crate::demux(ret)
}
