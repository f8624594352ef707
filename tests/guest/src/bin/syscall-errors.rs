//! `syscall-errors`: bad system calls must fail with the right errno and
//! leave the process running.
//!
//! | call | expected |
//! |---|---|
//! | `read`/`write`/`close` of fd 9999 (never opened) | `EBADF` |
//! | unknown call numbers (`0xDEAD`, `usize::MAX`) | `ENOSYS` |
//! | `write` from `0x1000` (below the program, never mapped) | `EFAULT` |
//! | `write` from `0xFFFF_8000_0000_0000` (kernel half) | `EFAULT` |
//! | `open("nosuchscheme:x")` | `ENODEV` (Redox's answer for an unknown scheme; `ENOENT` is for a missing file in a scheme that exists) |
//! | named `dup` of a `debug:` fd / of fd 9999 | `EOPNOTSUPP` / `EBADF` |
//! | `lseek` to `isize::MAX`, then one further; `read` there | ok; `EINVAL`; 0 bytes |
//!
//! Exits with 0 only if every call gave the expected errno; each mismatch
//! prints what came back instead.
#![no_std]
#![no_main]

use tessera_guest_tests::Checks;
use tessera_runtime::abi::error::{EBADF, EFAULT, EINVAL, ENODEV, ENOSYS, EOPNOTSUPP};
use tessera_runtime::abi::flag::{O_RDONLY, SEEK_CUR, SEEK_SET};
use tessera_runtime::abi::number::SYS_WRITE;
use tessera_runtime::syscall::{syscall0, syscall3};
use tessera_runtime::{Args, sys};

tessera_runtime::entry!(main);

/// An fd no test program ever has open.
const BAD_FD: usize = 9999;
/// Unmapped: below the static executable's base, and never mapped.
const UNMAPPED: usize = 0x1000;
/// The start of the kernel half (the physical-memory map).
const KERNEL_ADDR: usize = 0xFFFF_8000_0000_0000;
/// Bytes the bad-pointer writes ask for.
const LEN: usize = 16;

fn main(_args: Args) -> i32 {
    let mut checks = Checks::new("syscall-errors");

    let mut buf = [0u8; LEN];
    checks.expect_errno("read(bad fd)", sys::read(BAD_FD, &mut buf), EBADF);
    checks.expect_errno("write(bad fd)", sys::write(BAD_FD, b"x"), EBADF);
    checks.expect_errno("close(bad fd)", sys::close(BAD_FD).map(|()| 0), EBADF);

    for (number, label) in [(0xDEAD, "syscall(0xdead) unknown"), (usize::MAX, "syscall(usize::MAX) unknown")] {
        // SAFETY: an unknown call takes no memory; the kernel must refuse it.
        let got = unsafe { syscall0(number) };
        checks.expect_errno(label, got, ENOSYS);
    }

    // SAFETY: the kernel must check the pointer and answer EFAULT; if it
    // wrongly read, this process's memory is not changed by a write.
    let got = unsafe { syscall3(SYS_WRITE, 1, UNMAPPED, LEN) };
    checks.expect_errno("write(1, 0x1000 unmapped, 16)", got, EFAULT);
    // SAFETY: as above; the kernel must refuse a kernel-half pointer.
    let got = unsafe { syscall3(SYS_WRITE, 1, KERNEL_ADDR, LEN) };
    checks.expect_errno("write(1, 0xffff800000000000 kernel, 16)", got, EFAULT);

    checks.expect_errno("open(nosuchscheme:x)", sys::open("nosuchscheme:x", O_RDONLY), ENODEV);
    match sys::open("initfs:bin/hello", O_RDONLY) {
        Ok(fd) => {
            let far = sys::lseek(fd, isize::MAX, SEEK_SET);
            checks.check("lseek to isize::MAX", far == Ok(isize::MAX as usize), format_args!("got {far:?}"));
            checks.expect_errno("lseek past isize::MAX", sys::lseek(fd, 1, SEEK_CUR), EINVAL);
            let got = sys::read(fd, &mut buf);
            checks.check("read far past the end gives 0", got == Ok(0), format_args!("got {got:?}"));
            let _ = sys::close(fd);
        }
        Err(e) => checks.check("open initfs:bin/hello", false, format_args!("{e:?}")),
    }
    checks.expect_errno("named dup on debug: (no such operation)", sys::dup_named(1, b"x"), EOPNOTSUPP);
    checks.expect_errno("named dup of a bad fd", sys::dup_named(BAD_FD, b"x"), EBADF);

    checks.finish()
}
