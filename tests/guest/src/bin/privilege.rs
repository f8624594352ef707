//! `privilege`: what an unprivileged program may not do, and how it
//! powers off instead. It runs as every test but a few does: unprivileged,
//! exec'd by the privileged test runner without `keep-on-exec`.
//!
//! | group | checks |
//! |---|---|
//! | state | `sys:privilege` reads `unprivileged` |
//! | physical | opening `memory:physical`, `@wb`, `@uc`, `@wc`: EPERM (so nothing can be mapped); `memory:zeroed` still opens |
//! | power | `sys:power` `shutdown`, `reboot`, `halt`: EPERM (checked before the command) |
//! | limits | in a child: lowering the `sys:limits` cap to 256 MiB works; raising it by a page and `as unlimited`: EPERM, the cap unchanged; lowering again works. This process's cap is as it was |
//! | keep-on-exec | writing it: EPERM, the state unchanged; `drop`: accepted, still `unprivileged`; `bogus`: EINVAL |
//! | fork | a child reads `unprivileged` and gets EPERM from `memory:physical` and `keep-on-exec` |
//! | exec | a child execs `privilege-exec probe`: unprivileged (status 11) |
//! | init:power | init serves it to unprivileged processes: it opens; a read gives 0 bytes; `halt` and `shutdown now`: EINVAL; `init:other`: ENOENT (a real `shutdown` would end the run: the power and console tests do it) |
#![no_std]
#![no_main]

extern crate alloc;

use tessera_guest_tests::mm::{as_limit, set_as_limit};
use tessera_guest_tests::system::{fork_with, reap};
use tessera_guest_tests::{Checks, Shown, errno_name};
use tessera_runtime::abi::Result;
use tessera_runtime::abi::error::{EINVAL, ENOENT, EPERM};
use tessera_runtime::abi::flag::{O_RDONLY, O_RDWR, O_WRONLY};
use tessera_runtime::process::{self, Privilege};
use tessera_runtime::{Args, println, sys};

tessera_runtime::entry!(main);

const PAGE: usize = 4096;
/// The cap the limits child sets first.
const CAP_BYTES: usize = 256 << 20;
/// The probe's status for an unprivileged start (`privilege-exec`).
const PROBE_UNPRIVILEGED: i32 = 11;

fn main(_args: Args) -> i32 {
    let mut checks = Checks::new("privilege");
    let state = process::privilege();
    checks.check("sys:privilege reads `unprivileged`", state == Ok(Privilege::Unprivileged), format_args!("{state:?}"));
    physical(&mut checks);
    power(&mut checks);
    limits(&mut checks);
    keep_on_exec(&mut checks);
    fork_and_exec(&mut checks);
    init_power(&mut checks);
    checks.finish()
}

/// Opens `path` with `flags` and closes it again.
fn open(path: &str, flags: usize) -> Result<usize> {
    sys::open(path, flags).inspect(|&fd| {
        let _ = sys::close(fd);
    })
}

/// Writes `command` to `path` in one `write`.
fn write_to(path: &str, command: &[u8]) -> Result<usize> {
    let fd = sys::open(path, O_WRONLY)?;
    let written = sys::write(fd, command);
    let _ = sys::close(fd);
    written
}

fn physical(checks: &mut Checks) {
    for path in ["memory:physical", "memory:physical@wb", "memory:physical@uc", "memory:physical@wc"] {
        checks.expect_errno(&alloc::format!("open {path}: EPERM"), open(path, O_RDWR), EPERM);
    }
    let zeroed = open("memory:zeroed", O_RDWR);
    checks.check("memory:zeroed still opens", zeroed.is_ok(), format_args!("{}", Shown(zeroed)));
}

fn power(checks: &mut Checks) {
    // A privileged `shutdown` would end the run: refuse to try.
    if process::privilege() != Ok(Privilege::Unprivileged) {
        return checks.check("sys:power writes: skipped, this process is privileged", false, format_args!(""));
    }
    for command in ["shutdown", "reboot", "halt"] {
        let what = alloc::format!("sys:power `{command}`: EPERM");
        checks.expect_errno(&what, write_to("sys:power", command.as_bytes()), EPERM);
    }
}

fn limits(checks: &mut Checks) {
    let before = as_limit();
    // In a child: the cap stays lowered for good once privilege is gone.
    let child = fork_with(|| {
        let lowered = set_as_limit(Some(CAP_BYTES));
        let raise = set_as_limit(Some(CAP_BYTES + PAGE));
        let unlimited = set_as_limit(None);
        let after = as_limit();
        let lower_again = set_as_limit(Some(CAP_BYTES - PAGE));
        let errno = |r: &Result<usize>| r.as_ref().err().map_or(0, |e| e.errno);
        let ok = lowered.is_ok()
            && errno(&raise) == EPERM
            && errno(&unlimited) == EPERM
            && after == Ok(Some(CAP_BYTES))
            && lower_again.is_ok()
            && as_limit() == Ok(Some(CAP_BYTES - PAGE));
        if !ok {
            println!(
                "privilege: limits: lower {}, raise {}, unlimited {}, then {after:?}, lower again {}",
                Shown(lowered),
                Shown(raise),
                Shown(unlimited),
                Shown(lower_again)
            );
        }
        if ok { 0 } else { 1 }
    });
    let status = child.and_then(reap).map(|(_, s)| s.code());
    checks.check(
        "sys:limits: lowering works, raising and `as unlimited` are EPERM and leave the cap",
        status == Ok(Some(0)),
        format_args!("child {status:?}"),
    );
    let after = as_limit();
    checks.check("this process's cap is unchanged", after == before, format_args!("{before:?} then {after:?}"));
}

fn keep_on_exec(checks: &mut Checks) {
    checks.expect_errno("sys:privilege `keep-on-exec`: EPERM", write_to("sys:privilege", b"keep-on-exec"), EPERM);
    let state = process::privilege();
    checks.check("still `unprivileged`", state == Ok(Privilege::Unprivileged), format_args!("{state:?}"));
    let dropped = write_to("sys:privilege", b"drop");
    checks.check("`drop` is accepted", dropped.is_ok(), format_args!("{}", Shown(dropped)));
    let state = process::privilege();
    checks.check("and it stays `unprivileged`", state == Ok(Privilege::Unprivileged), format_args!("{state:?}"));
    checks.expect_errno("sys:privilege `bogus`: EINVAL", write_to("sys:privilege", b"bogus"), EINVAL);
}

fn fork_and_exec(checks: &mut Checks) {
    let child = fork_with(|| {
        let state = process::privilege();
        let physical = open("memory:physical", O_RDWR).err().map_or(0, |e| e.errno);
        let keep = write_to("sys:privilege", b"keep-on-exec").err().map_or(0, |e| e.errno);
        if state == Ok(Privilege::Unprivileged) && physical == EPERM && keep == EPERM {
            return 0;
        }
        println!(
            "privilege: fork: {state:?}, memory:physical {}, keep-on-exec {}",
            errno_name(physical),
            errno_name(keep)
        );
        1
    });
    let status = child.and_then(reap).map(|(_, s)| s.code());
    checks.check("fork: the child is unprivileged too", status == Ok(Some(0)), format_args!("child {status:?}"));

    let child = fork_with(|| {
        let error = sys::execve("initfs:bin/privilege-exec", &["privilege-exec", "probe"], &[]);
        println!("privilege: cannot execute privilege-exec: {}", errno_name(error.errno));
        21
    });
    let status = child.and_then(reap).map(|(_, s)| s.code());
    checks.check(
        "exec: the program is unprivileged (probe status 11)",
        status == Ok(Some(PROBE_UNPRIVILEGED as usize)),
        format_args!("child {status:?}"),
    );
}

fn init_power(checks: &mut Checks) {
    let opened = open("init:power", O_WRONLY);
    checks.check("init:power opens for an unprivileged process", opened.is_ok(), format_args!("{}", Shown(opened)));
    let read = sys::open("init:power", O_RDONLY).and_then(|fd| {
        let mut buf = [0u8; 16];
        let n = sys::read(fd, &mut buf);
        let _ = sys::close(fd);
        n
    });
    checks.check("init:power reads 0 bytes", read == Ok(0), format_args!("{}", Shown(read)));
    checks.expect_errno("init:power `halt`: EINVAL", write_to("init:power", b"halt"), EINVAL);
    checks.expect_errno("init:power `shutdown now`: EINVAL", write_to("init:power", b"shutdown now"), EINVAL);
    checks.expect_errno("init:other: ENOENT", open("init:other", O_RDONLY), ENOENT);
}
