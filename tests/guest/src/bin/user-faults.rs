//! `user-faults`: a process that faults is killed with the right signal,
//! and only it: the kernel and this test go on.
//!
//! Each case runs in its own child, which does one bad thing; if it comes
//! back, the child exits with [`SURVIVED`] and the case fails.
//!
//! | case | expected status |
//! |---|---|
//! | load from address 0 (NULL) | killed by `SIGSEGV` (11) |
//! | load from the kernel half (`0xFFFF_8000_0000_0000`) | `SIGSEGV` |
//! | store into its own code (`main`'s first byte) | `SIGSEGV` |
//! | call into a static data array (holding a `ret`) | `SIGSEGV`: data is not executable |
//! | call into a stack array (holding a `ret`) | `SIGSEGV`: the stack is not executable |
//! | jump to address 0 | `SIGSEGV` |
//! | an undefined instruction (`ud2` / `udf #0`) | killed by `SIGILL` (4) |
//!
//! Afterwards a normal child still runs and exits 0, and the free-frame
//! count in `sys:memory` is back where it was: killed processes release
//! their memory.
//!
//! The bad accesses are inline assembly, so the compiler neither sees nor
//! optimises away an undefined operation.
#![no_std]
#![no_main]

use tessera_guest_tests::Checks;
use tessera_guest_tests::system::{fork_with, quiet_free_frames, reap, settled_free_frames};
use tessera_runtime::Args;
use tessera_runtime::abi::signal::{SIGILL, SIGSEGV};
use tessera_runtime::sys::signal_name;

tessera_runtime::entry!(main);

/// The exit status of a child whose bad operation did not kill it.
const SURVIVED: i32 = 100;
/// Where the kernel half starts (the physical-memory map).
const KERNEL_ADDR: usize = 0xFFFF_8000_0000_0000;
/// Reads the final frame comparison makes at most while memory settles.
const SETTLE_TRIES: usize = 50;
/// Sleeps a baseline waits at most for the count to stop moving
/// (`quiet_free_frames`).
const QUIET_TRIES: usize = 10;

/// A return instruction, as bytes, repeated: whatever part is called runs
/// `ret` if data were executable.
#[cfg(target_arch = "x86_64")]
const RET_CODE: [u8; 16] = [0xC3; 16];
/// `ret` (0xD65F03C0, little-endian), four times.
#[cfg(target_arch = "aarch64")]
const RET_CODE: [u8; 16] =
    [0xC0, 0x03, 0x5F, 0xD6, 0xC0, 0x03, 0x5F, 0xD6, 0xC0, 0x03, 0x5F, 0xD6, 0xC0, 0x03, 0x5F, 0xD6];

/// Static, writable data holding code: it lands in a non-executable
/// segment (`.data`).
static mut DATA_CODE: [u8; 16] = RET_CODE;

#[cfg(target_arch = "x86_64")]
mod bad {
    //! The bad operations, x86_64.
    use core::arch::asm;

    /// Loads 8 bytes from `addr`.
    pub fn load(addr: usize) {
        // SAFETY: not safe: the point is that the kernel kills the process
        // at this instruction; no Rust-visible state is involved.
        unsafe { asm!("mov {tmp}, qword ptr [{addr}]", addr = in(reg) addr, tmp = out(reg) _, options(nostack)) };
    }
    /// Stores a byte at `addr`.
    pub fn store(addr: usize) {
        // SAFETY: as in `load`.
        unsafe { asm!("mov byte ptr [{addr}], 0xCC", addr = in(reg) addr, options(nostack)) };
    }
    /// Calls `addr` (which holds `ret` if it runs at all).
    pub fn call(addr: usize) {
        // SAFETY: as in `load`; a `ret` there would return here normally.
        unsafe { asm!("call {addr}", addr = in(reg) addr, clobber_abi("C")) };
    }
    /// An undefined instruction.
    pub fn undefined() {
        // SAFETY: as in `load`.
        unsafe { asm!("ud2", options(nostack, nomem)) };
    }
}

#[cfg(target_arch = "aarch64")]
mod bad {
    //! The bad operations, aarch64.
    use core::arch::asm;

    /// Loads 8 bytes from `addr`.
    pub fn load(addr: usize) {
        // SAFETY: not safe: the point is that the kernel kills the process
        // at this instruction; no Rust-visible state is involved.
        unsafe { asm!("ldr {tmp}, [{addr}]", addr = in(reg) addr, tmp = out(reg) _, options(nostack)) };
    }
    /// Stores a byte at `addr`.
    pub fn store(addr: usize) {
        // SAFETY: as in `load`.
        unsafe { asm!("strb wzr, [{addr}]", addr = in(reg) addr, options(nostack)) };
    }
    /// Calls `addr` (which holds `ret` if it runs at all).
    pub fn call(addr: usize) {
        // SAFETY: as in `load`; a `ret` there would return here normally.
        unsafe { asm!("blr {addr}", addr = in(reg) addr, clobber_abi("C")) };
    }
    /// An undefined instruction.
    pub fn undefined() {
        // SAFETY: as in `load`.
        unsafe { asm!("udf #0", options(nostack, nomem)) };
    }
}

/// Runs one case in a child and checks the signal that ended it.
fn case(checks: &mut Checks, what: &str, signal: usize, body: fn()) {
    let child = fork_with(|| {
        body();
        SURVIVED
    });
    match child.and_then(reap) {
        Ok((_, status)) => checks.check(
            what,
            status.signal() == Some(signal),
            format_args!(
                "{status}, expected killed by signal {signal} ({}){}",
                signal_name(signal).unwrap_or("?"),
                if status.code() == Some(SURVIVED as usize) { ": the bad operation did not fault" } else { "" }
            ),
        ),
        Err(e) => checks.check(what, false, format_args!("fork/waitpid: {e}")),
    }
}

fn main(_args: Args) -> i32 {
    let mut checks = Checks::new("user-faults");
    let Ok(before) = quiet_free_frames(QUIET_TRIES) else {
        checks.check("read sys:memory", false, format_args!("failed"));
        return checks.finish();
    };

    case(&mut checks, "load from NULL: SIGSEGV", SIGSEGV, || bad::load(0));
    case(&mut checks, "load from the kernel half: SIGSEGV", SIGSEGV, || bad::load(KERNEL_ADDR));
    case(&mut checks, "store into own code: SIGSEGV", SIGSEGV, || bad::store(main as *const () as usize));
    case(&mut checks, "call into static data: SIGSEGV", SIGSEGV, || bad::call((&raw const DATA_CODE) as usize));
    case(&mut checks, "call into the stack: SIGSEGV", SIGSEGV, || {
        let code = core::hint::black_box(RET_CODE);
        bad::call(code.as_ptr() as usize);
    });
    case(&mut checks, "jump to address 0: SIGSEGV", SIGSEGV, || bad::call(0));
    case(&mut checks, "undefined instruction: SIGILL", SIGILL, bad::undefined);

    match fork_with(|| 0).and_then(reap) {
        Ok((_, status)) => {
            checks.check("a normal child still runs and exits 0", status.success(), format_args!("{status}"))
        }
        Err(e) => checks.check("a normal child still runs and exits 0", false, format_args!("{e}")),
    }
    match settled_free_frames(before, SETTLE_TRIES) {
        Ok(after) => checks.check(
            "killed processes gave back all their memory",
            after == before,
            format_args!("free_frames {before} before, {after} after"),
        ),
        Err(e) => checks.check("read sys:memory", false, format_args!("{e}")),
    }
    checks.finish()
}
