//! relibc-shim: the Rust half of Tessera's C library (`libc.a`).
//!
//! C programs link against `libc.a`, which mk/relibc.mk makes from this
//! static library and the C half (`relibc-shim/c`: `crt0`, stdio and the
//! printf family, the variadic calls `open`/`fcntl`/`mremap`, everything
//! that passes floating-point values, `setjmp`, the `mem*` primitives).
//! This half holds the C faces of the kernel's calls (each calls
//! tessera-sys's typed wrapper, `user/lib/sys`, which holds the system-call
//! instructions and result decoding), `malloc` over `mmap`, and the string, conversion and
//! environment functions. `docs/relibc.md` lists what is implemented and
//! what fails with `ENOSYS`.
//!
//! Float ABI: C passes floating-point values in FP registers, so this crate
//! is only built for hard-float targets (`x86_64-unknown-linux-gnu` as
//! `no_std`, `aarch64-unknown-none`), never for the kernel's soft-float
//! ones; `difftime` returns a `double` across the boundary and
//! `tests/c` checks it.
//!
//! Every exported function is a C entry point: its safety contract is the
//! C standard's or POSIX's for that function (valid, NUL-terminated strings,
//! buffers as large as the length given). That is why the crate allows
//! `clippy::missing_safety_doc` instead of repeating the standard.
#![no_std]
#![allow(clippy::missing_safety_doc)]

extern crate alloc;

mod ctype;
mod env;
mod fs;
pub mod linux_mman;
mod lock;
mod malloc;
mod math;
mod mm;
mod process;
mod stdlib;
mod string;
mod sys;
mod time;
mod unistd;

/// A Rust panic inside libc is a libc bug: say where on fd 2 and end the
/// process as `abort` does.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    use core::fmt::Write;
    let mut out = sys::Fd2;
    let _ = writeln!(out, "relibc-shim: internal error: {info}");
    process::abort_process()
}

/// The unwinding personality routine `alloc` and `core` refer to when the
/// target's precompiled libraries were built for unwinding
/// (x86_64-unknown-linux-gnu). This library is built with panic=abort, so
/// no frame is ever unwound and the routine is never called.
#[unsafe(no_mangle)]
pub extern "C" fn rust_eh_personality() {}
