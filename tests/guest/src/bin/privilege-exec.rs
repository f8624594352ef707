//! `privilege-exec`: what keeps and what drops the privilege, seen from a
//! privileged test (`privileged privilege-exec` in tests.list: the test
//! runner armed `keep-on-exec` for it).
//!
//! | group | checks |
//! |---|---|
//! | start | `sys:privilege` reads `privileged` (the runner's `keep-on-exec` was consumed by the exec that started this test) |
//! | bad input | `sys:privilege` `bogus`, `keep-on-exec now`, two lines, `Drop`: EINVAL; `sys:power` `halt`: EINVAL (privileged: the command is parsed) |
//! | fork | a child reads `privileged` and opens `memory:physical` |
//! | exec | a child execs the probe without arming: it is unprivileged (probe status 11) |
//! | keep-on-exec | armed, `sys:privilege` reads `privileged keep-on-exec`; the exec'd probe is privileged and unarmed (10) |
//! | once | armed once, the probe is privileged but execs a second probe without arming, which is unprivileged (11) |
//! | failed exec | armed, an exec of a missing program fails (ENOENT) and leaves it armed: the next exec's probe is privileged (10) |
//! | fork does not arm | armed, then fork: the grandchild reads `privileged` (not armed) and its exec'd probe is unprivileged (11); the parent is still armed |
//! | drop | after `drop`: `keep-on-exec` is EPERM, `sys:privilege` reads `unprivileged`, `memory:physical` is EPERM, the probe is unprivileged (11); armed then dropped: the probe is unprivileged (11) |
//! | end | this process still reads `privileged` (everything above ran in children) |
//!
//! **The probe**: `privilege-exec probe` checks the state it was started
//! in and exits with 10 when it is privileged (reads `privileged`, opens
//! `memory:physical`, `sys:power` `halt` is EINVAL rather than EPERM, it may
//! arm `keep-on-exec`), 11
//! when it is unprivileged (reads `unprivileged`; `memory:physical`,
//! `sys:power` and `keep-on-exec` are EPERM), 12 when the answers disagree
//! (printed). `privilege-exec probe-then-exec` exits with 13 unless it is
//! privileged and unarmed, else execs `privilege-exec probe` without arming
//! (14 if that exec fails). The `privilege` test uses the probe too.
#![no_std]
#![no_main]

extern crate alloc;

use tessera_guest_tests::system::{fork_with, reap};
use tessera_guest_tests::{Checks, Shown, errno_name};
use tessera_runtime::abi::Result;
use tessera_runtime::abi::error::{EINVAL, ENOENT, EPERM};
use tessera_runtime::abi::flag::{O_RDONLY, O_WRONLY};
use tessera_runtime::process::{self, Privilege};
use tessera_runtime::{Args, println, sys};

tessera_runtime::entry!(main);

/// This program, for the exec checks.
const SELF: &str = "initfs:bin/privilege-exec";
/// Probe statuses.
const PRIVILEGED: i32 = 10;
const UNPRIVILEGED: i32 = 11;
const INCONSISTENT: i32 = 12;
const NOT_PRIVILEGED_UNARMED: i32 = 13;
const SECOND_EXEC_FAILED: i32 = 14;
/// A child's status when its own setup (arming, dropping) failed.
const SETUP_FAILED: i32 = 20;
/// A child's status when its exec of the probe failed.
const EXEC_FAILED: i32 = 21;

fn main(args: Args) -> i32 {
    match args.argv().get(1).copied() {
        Some("probe") => return probe(),
        Some("probe-then-exec") => return probe_then_exec(),
        _ => {}
    }
    let mut checks = Checks::new("privilege-exec");
    let state = process::privilege();
    checks.check("starts privileged and unarmed", state == Ok(Privilege::Privileged), format_args!("{state:?}"));

    bad_input(&mut checks);
    let forked = fork_with(|| {
        let physical = open("memory:physical");
        let ok = process::privilege() == Ok(Privilege::Privileged) && physical.is_ok();
        if ok { 0 } else { 1 }
    });
    expect_status(&mut checks, "fork: the child is privileged and opens memory:physical", forked, 0);

    let plain = fork_with(|| exec_probe("probe"));
    expect_status(&mut checks, "exec without keep-on-exec: the probe is unprivileged", plain, UNPRIVILEGED);

    let kept = fork_with(|| {
        if process::keep_privilege_on_exec().is_err() || process::privilege() != Ok(Privilege::PrivilegedKeepOnExec) {
            return SETUP_FAILED;
        }
        exec_probe("probe")
    });
    expect_status(
        &mut checks,
        "keep-on-exec (reads `privileged keep-on-exec`): the probe is privileged",
        kept,
        PRIVILEGED,
    );

    let once = fork_with(|| {
        if process::keep_privilege_on_exec().is_err() {
            return SETUP_FAILED;
        }
        exec_probe("probe-then-exec")
    });
    expect_status(&mut checks, "one exec consumes it: the probe's own exec is unprivileged", once, UNPRIVILEGED);

    let failed_exec = fork_with(|| {
        if process::keep_privilege_on_exec().is_err() {
            return SETUP_FAILED;
        }
        let error = sys::execve("initfs:bin/no-such-program", &["no-such-program"], &[]);
        if error.errno != ENOENT || process::privilege() != Ok(Privilege::PrivilegedKeepOnExec) {
            println!(
                "privilege-exec: the failed exec gave {} and left {:?}",
                errno_name(error.errno),
                process::privilege()
            );
            return SETUP_FAILED;
        }
        exec_probe("probe")
    });
    expect_status(&mut checks, "a failed exec leaves it armed: the next probe is privileged", failed_exec, PRIVILEGED);

    let fork_after_arm = fork_with(|| {
        if process::keep_privilege_on_exec().is_err() {
            return SETUP_FAILED;
        }
        let grandchild = fork_with(|| {
            if process::privilege() != Ok(Privilege::Privileged) {
                return SETUP_FAILED;
            }
            exec_probe("probe")
        });
        let status = status_code(grandchild);
        let still_armed = process::privilege() == Ok(Privilege::PrivilegedKeepOnExec);
        match (status, still_armed) {
            (Ok(UNPRIVILEGED), true) => 0,
            (Ok(UNPRIVILEGED), false) => 2,
            (status, _) => {
                println!("privilege-exec: the grandchild's status: {status:?}");
                1
            }
        }
    });
    expect_status(
        &mut checks,
        "fork does not copy keep-on-exec: the child's probe is unprivileged, the parent stays armed",
        fork_after_arm,
        0,
    );

    let dropped = fork_with(|| {
        if process::drop_privilege().is_err() {
            return SETUP_FAILED;
        }
        let keep = errno(process::keep_privilege_on_exec().map(|()| 0));
        let physical = errno(open("memory:physical"));
        if keep != EPERM || physical != EPERM || process::privilege() != Ok(Privilege::Unprivileged) {
            println!(
                "privilege-exec: after drop: keep-on-exec {}, memory:physical {}, {:?}",
                errno_name(keep),
                errno_name(physical),
                process::privilege()
            );
            return SETUP_FAILED;
        }
        exec_probe("probe")
    });
    expect_status(
        &mut checks,
        "drop: keep-on-exec and memory:physical EPERM, reads unprivileged, the probe is unprivileged",
        dropped,
        UNPRIVILEGED,
    );

    let armed_dropped = fork_with(|| {
        if process::keep_privilege_on_exec().is_err() || process::drop_privilege().is_err() {
            return SETUP_FAILED;
        }
        exec_probe("probe")
    });
    expect_status(&mut checks, "armed, then drop: the probe is unprivileged", armed_dropped, UNPRIVILEGED);

    let state = process::privilege();
    checks.check(
        "still privileged and unarmed at the end",
        state == Ok(Privilege::Privileged),
        format_args!("{state:?}"),
    );
    checks.finish()
}

fn bad_input(checks: &mut Checks) {
    for command in [&b"bogus"[..], b"keep-on-exec now", b"keep-on-exec\ndrop", b"Drop"] {
        let what = alloc::format!("sys:privilege {:?}: EINVAL", core::str::from_utf8(command).unwrap_or("?"));
        checks.expect_errno(&what, write_to("sys:privilege", command), EINVAL);
    }
    checks.expect_errno("privileged: sys:power `halt`: EINVAL", write_to("sys:power", b"halt"), EINVAL);
    let state = process::privilege();
    checks.check("bad input changed nothing", state == Ok(Privilege::Privileged), format_args!("{state:?}"));
}

/// Opens `path` read-only and closes it again.
fn open(path: &str) -> Result<usize> {
    sys::open(path, O_RDONLY).inspect(|&fd| {
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

/// The errno of `result`, 0 for success.
fn errno(result: Result<usize>) -> i32 {
    result.err().map_or(0, |e| e.errno)
}

/// Execs this program with `mode`; returns only on failure.
fn exec_probe(mode: &str) -> i32 {
    let error = sys::execve(SELF, &["privilege-exec", mode], &[]);
    println!("privilege-exec: cannot execute {SELF} {mode}: {}", errno_name(error.errno));
    EXEC_FAILED
}

/// The exit code of a forked child, or why there is none.
fn status_code(pid: Result<usize>) -> Result<i32> {
    pid.and_then(reap).map(|(_, status)| status.code().map_or(-1, |code| code as i32))
}

fn expect_status(checks: &mut Checks, what: &str, pid: Result<usize>, expected: i32) {
    let got = status_code(pid);
    checks.check(
        what,
        got == Ok(expected),
        format_args!(
            "expected status {expected}, got {}",
            match got {
                Ok(code) => alloc::format!("{code}"),
                Err(e) => alloc::format!("{}", Shown(Err(e))),
            }
        ),
    );
}

/// `privilege-exec probe`: the state this process was started in, as an
/// exit status (see the module doc).
fn probe() -> i32 {
    let state = process::privilege();
    let physical = errno(open("memory:physical"));
    let power = errno(write_to("sys:power", b"halt"));
    let keep = errno(write_to("sys:privilege", b"keep-on-exec"));
    match (state, physical, power) {
        (Ok(Privilege::Privileged), 0, EINVAL) if keep == 0 => PRIVILEGED,
        (Ok(Privilege::Unprivileged), EPERM, EPERM) if keep == EPERM => UNPRIVILEGED,
        _ => {
            println!(
                "privilege-exec probe: inconsistent: {state:?}, memory:physical {}, sys:power {}, keep-on-exec {}",
                errno_name(physical),
                errno_name(power),
                errno_name(keep)
            );
            INCONSISTENT
        }
    }
}

/// `privilege-exec probe-then-exec` (see the module doc).
fn probe_then_exec() -> i32 {
    if process::privilege() != Ok(Privilege::Privileged) {
        return NOT_PRIVILEGED_UNARMED;
    }
    let error = sys::execve(SELF, &["privilege-exec", "probe"], &[]);
    println!("privilege-exec: cannot execute {SELF} probe: {}", errno_name(error.errno));
    SECOND_EXEC_FAILED
}
