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
//! - **System calls**: tessera-sys (`user/lib/sys`), re-exported: [`syscall`]
//!   has the raw `syscall0..syscall6` of the convention in `tessera_abi`;
//!   [`sys`] has a typed wrapper per call, each documenting the errnos a
//!   caller sees; [`errno`] names every errno and gives its message;
//!   [`path`] resolves paths against a working directory. [`process`]
//!   builds `spawn`/`wait` on them; [`io`] has the `print!` family and
//!   whole-file reads; [`thread`] spawns and joins threads (stacks on the
//!   heap, joins through the kernel's cleared tid word and a futex); [`fs`]
//!   lists directories.
//! - **Memory** ([`mm`]): tessera-sys's `mmap`, `munmap`, `mprotect`,
//!   `mremap`, `madvise` and `msync` with their flags, and
//!   [`mm::read_maps`], the caller's mappings as `sys:maps` lists them.
//! - **Heap** ([`heap`]): the global allocator is tessera-sys's growable
//!   heap over anonymous `mmap`: 1 MiB to start with, more chunks as the
//!   program needs them; an allocation the kernel has no memory for fails
//!   (and `alloc` reports out of memory).
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
// Linked for its `memcpy`, `memmove` and `memset` symbols.
use tessera_memops as _;
pub mod heap;
pub mod io;
pub mod locks;
pub mod mm;
mod panic;
pub mod process;
pub mod scheme;
pub mod start;
pub mod thread;

pub use start::Args;
/// The system-call ABI (numbers, flags, structs, errnos), re-exported so
/// programs need no second dependency.
pub use tessera_abi as abi;
pub use tessera_abi::{Error, Result};
/// The typed wrappers, the raw calls, the errno table and path
/// resolution: tessera-sys's, re-exported so programs need no second
/// dependency.
pub use tessera_sys::{errno, path, probe, sys, syscall};

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
