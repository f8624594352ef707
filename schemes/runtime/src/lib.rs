//! The `no_std` userspace runtime for Tessera programs and scheme daemons,
//! built for `x86_64-unknown-none` and `aarch64-unknown-none`.
//!
//! A program is a `no_std`, `no_main` binary that names its `main` with
//! [`entry!`]:
//! ```ignore
//! #![no_std]
//! #![no_main]
//! use tessera_runtime::{Args, println};
//!
//! tessera_runtime::entry!(main);
//!
//! fn main(args: Args) -> i32 {
//!     println!("hello from {}", args.program());
//!     0
//! }
//! ```
//! What the runtime provides:
//! - **Entry** ([`start`]): `_start` (per arch, in `arch/`) hands the
//!   initial stack (SysV layout: `argc`, `argv[]`, NULL, `envp[]`, NULL,
//!   auxv pairs up to `AT_NULL`) to Rust, which sets up the heap, builds
//!   [`Args`], calls `main` and exits with its return value (`& 0xFF`).
//! - **System calls**: [`syscall`] has the raw `syscall0..syscall6` of the
//!   convention in `tessera_abi`; [`sys`] has a typed wrapper per call, each
//!   documenting the errnos a caller sees. [`process`] builds `spawn`/`wait`
//!   on them; [`io`] has the `print!` family and whole-file reads;
//!   [`thread`] spawns and joins threads (stacks on the heap, joins through
//!   the kernel's cleared tid word and a futex); [`fs`] lists directories.
//! - **Memory** ([`mm`]): `mmap`, `munmap`, `mprotect`, `mremap`,
//!   `madvise` and `msync` with their flags, and [`mm::read_maps`], the
//!   caller's mappings as `sys:maps` lists them.
//! - **Heap**: a global allocator over a static 1 MiB `.bss` array
//!   ([`heap`]): the kernel has no `brk`/`mmap` for user space yet; the heap
//!   moves to `memory:` when it does.
//! - **Panics** print `panic: <message> (<file>:<line>:<column>)` on fd 2
//!   and exit with status 101.
//! - **Scheme daemons** ([`scheme`]): the [`scheme::Scheme`] trait and the
//!   loop that registers `name:` with the kernel's root scheme and answers
//!   its requests ([`scheme::serve`]).
//!
//! The entry, allocator and panic handler exist only on the bare-metal user
//! targets (`target_os = "none"`), so the rest of the crate also builds, and
//! is unit-tested, on the host.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

#[cfg_attr(target_arch = "x86_64", path = "arch/x86_64.rs")]
#[cfg_attr(target_arch = "aarch64", path = "arch/aarch64.rs")]
mod arch;
pub mod fs;
pub mod heap;
pub mod io;
pub mod mm;
mod panic;
pub mod process;
pub mod scheme;
pub mod start;
pub mod sys;
pub mod thread;

pub use start::Args;
/// The system-call ABI (numbers, flags, structs, errnos), re-exported so
/// programs need no second dependency.
pub use tessera_abi as abi;
pub use tessera_abi::{Error, Result};

/// Raw system calls: the number and up to six arguments in the registers of
/// the convention in `tessera_abi`, the result decoded with
/// [`Error::demux`]. Prefer the typed wrappers in [`sys`]; these exist for
/// calls without one and for tests that pass bad arguments on purpose.
pub mod syscall {
    pub use crate::arch::{syscall0, syscall1, syscall2, syscall3, syscall4, syscall5, syscall6};

    /// Decodes a raw result: the top 4095 values are `-errno`, anything else
    /// is a value. (`redox_syscall`'s `Error::demux` looks only at the low
    /// 32 bits, so it takes large values such as an `lseek` position of
    /// `0x7FFF_FFFF_FFFF_FFFF` for errors.)
    pub fn demux(value: usize) -> crate::Result<usize> {
        if value > usize::MAX - 4095 { Err(crate::Error::new(value.wrapping_neg() as i32)) } else { Ok(value) }
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
}

/// Names the program's `main`: `fn main(args: Args) -> i32`. The runtime
/// calls it after setting up the heap and exits with the status it returns
/// (`status & 0xFF` is what a parent's `waitpid` sees).
///
/// Every program uses it exactly once; without it the link fails with an
/// undefined `__tessera_main`.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[unsafe(no_mangle)]
        fn __tessera_main(args: $crate::Args) -> i32 {
            let main: fn($crate::Args) -> i32 = $main;
            main(args)
        }
    };
}
