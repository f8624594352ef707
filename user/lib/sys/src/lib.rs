//! tessera-sys: the one user-side layer over Tessera's system-call ABI.
//!
//! Everything in user space that talks to the kernel goes through this
//! crate: the Rust runtime (`tessera-runtime`, which adds `_start`, the
//! panic handler, I/O helpers, threads and scheme serving) and the C
//! library (`relibc-shim`, which adds the C-facing functions). It holds:
//! - [`syscall`]: the raw `syscall0..syscall6` of the convention in
//!   `tessera_abi` (per arch, in `arch/`) and [`demux`], the one place a
//!   raw result becomes a `Result`;
//! - [`sys`] and [`mm`]: a typed wrapper per call, each listing the errnos
//!   a caller sees;
//! - [`errno`]: every errno's symbolic name and message, one table;
//! - [`path`]: how a path is made absolute against a working directory
//!   (the kernel has none) and folded;
//! - [`heap`]: a growable heap over anonymous `mmap`, usable as a
//!   `#[global_allocator]`;
//! - [`probe`]: raw call sequences for the tests of the system-call entry.
//!
//! `tessera-abi` (shared with the kernel) stays the crate of numbers,
//! flags and structs; this one sits on it. The crate is `no_std` and has no
//! entry point, panic handler or global allocator of its own (it uses
//! `alloc`, so the program provides one), so it links into both the runtime
//! and the C library, and builds and is unit-tested on the host. It needs
//! no floating point, so it builds for relibc-shim's hard-float targets as
//! well as the runtime's soft-float ones.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

#[cfg_attr(target_arch = "x86_64", path = "arch/x86_64/mod.rs")]
#[cfg_attr(target_arch = "aarch64", path = "arch/aarch64/mod.rs")]
mod arch;
pub mod errno;
pub mod heap;
pub mod mm;
pub mod path;
pub mod sys;

pub use tessera_abi::{Error, Result};

/// Decodes a raw result: the top 4095 values are `-errno`, anything else
/// is a value. (`redox_syscall`'s `Error::demux` looks only at the low 32
/// bits, so it takes large values such as an `lseek` position of
/// `0x7FFF_FFFF_FFFF_FFFF` for errors.)
pub fn demux(value: usize) -> Result<usize> {
    if value > usize::MAX - 4095 { Err(Error::new(value.wrapping_neg() as i32)) } else { Ok(value) }
}

/// Raw system calls: the number and up to six arguments in the registers of
/// the convention in `tessera_abi`, the result decoded with [`demux`].
/// Prefer the typed wrappers in [`sys`] and [`mm`]; these exist for calls
/// without one and for tests that pass bad arguments on purpose.
pub mod syscall {
    pub use crate::arch::{syscall0, syscall1, syscall2, syscall3, syscall4, syscall5, syscall6};
    pub use crate::demux;
}

/// System-call sequences no wrapper can express, for the tests of the
/// kernel's system-call entry itself: what the SIMD registers and the FP
/// control register hold across a call, and a `fork` followed by a `write`
/// with no store to memory in between. Not for programs.
pub mod probe {
    pub use crate::arch::probe::{SIMD_REGS, fork_then_write, simd_through_syscall};
}

#[cfg(test)]
mod tests {
    use super::demux;

    #[test]
    fn only_the_top_4095_values_are_errors() {
        assert_eq!(demux(0), Ok(0));
        assert_eq!(demux(isize::MAX as usize), Ok(isize::MAX as usize));
        assert_eq!(demux(0xFFFF_FFFF), Ok(0xFFFF_FFFF));
        assert_eq!(demux(usize::MAX - 4095), Ok(usize::MAX - 4095));
        assert_eq!(demux(9usize.wrapping_neg()).map_err(|e| e.errno), Err(9));
        assert_eq!(demux(4095usize.wrapping_neg()).map_err(|e| e.errno), Err(4095));
    }
}
