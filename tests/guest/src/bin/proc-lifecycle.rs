//! `proc-lifecycle`: fork, exec, exit and waitpid give the right pids and
//! statuses, and processes that come and go leave no memory behind.
//!
//! | check | expected |
//! |---|---|
//! | fork in parent / child | child's pid (≠ 0, ≠ own) / 0 |
//! | child's `getpid()` / `getppid()` | the pid fork returned / the parent's pid |
//! | `exit(0)`, `exit(1)`, `exit(255)`, `exit(42)`, `exit(256)` | waitpid status "exited with 0, 1, 255, 42, 0" |
//! | `execve` | keeps the pid and the parent, closes `O_CLOEXEC` fds, the new program's exit code arrives |
//! | `execve` of a missing program | `ENOENT`, and the process goes on |
//! | `waitpid(child, WNOHANG)` before the child ends | 0 (`None`); then the blocking wait reaps it |
//! | `waitpid(b)` while only `a` has ended | `b` is not reaped by mistake; `waitpid(any)` returns `a` |
//! | `waitpid` with no children, for init, or for itself | `ECHILD`; bad options `EINVAL` |
//! | `waitpid` with an unwritable status pointer | `EFAULT`, and the child is still there to reap |
//! | an orphan | adopted by init (`getppid() == 1`); once it ends it holds no frames |
//! | 100 processes forked (some exec'ing) and reaped | `free_frames` in `sys:memory` exactly as before |
//!
//! Run as `proc-lifecycle --exec-report FD CLOEXEC_FD CODE` it is the
//! program the exec check starts: it writes its pid, parent pid and
//! whether `CLOEXEC_FD` is closed to `FD`, then exits with `CODE`; as
//! `proc-lifecycle --exit CODE` it just exits with `CODE`.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use tessera_guest_tests::system::{fork_with, quiet_free_frames, read_words, reap, settled_free_frames, write_words};
use tessera_guest_tests::{Checks, Shown, errno_name};
use tessera_runtime::abi::error::{EBADF, ECHILD, EFAULT, EINVAL, ENOENT};
use tessera_runtime::abi::number::SYS_WAITPID;
use tessera_runtime::abi::{O_CLOEXEC, WNOHANG};
use tessera_runtime::sys::{self, ANY_CHILD, WaitStatus};
use tessera_runtime::syscall::syscall3;
use tessera_runtime::{Args, process};

tessera_runtime::entry!(main);

/// Processes the leak check forks and reaps.
const LEAK_PROCESSES: usize = 100;
/// Children alive at once in the leak check.
const LEAK_BATCH: usize = 10;
/// Reads the frame comparisons make at most while memory settles (see
/// `settled_free_frames`).
const SETTLE_TRIES: usize = 50;
/// Sleeps a baseline waits at most for the count to stop moving
/// (`quiet_free_frames`).
const QUIET_TRIES: usize = 10;
/// An address below every program, never mapped.
const UNMAPPED: usize = 0x1000;

fn main(args: Args) -> i32 {
    match args.argv().get(1).copied() {
        Some("--exec-report") => return exec_report(args.argv()),
        Some("--exit") => return args.argv().get(2).and_then(|c| c.parse().ok()).unwrap_or(100),
        _ => {}
    }
    let mut checks = Checks::new("proc-lifecycle");
    ids(&mut checks);
    exit_codes(&mut checks);
    exec(&mut checks);
    wnohang(&mut checks);
    specific_and_any(&mut checks);
    no_children(&mut checks);
    bad_status_pointer(&mut checks);
    orphan(&mut checks);
    no_leak(&mut checks);
    checks.finish()
}

/// A pipe, or the check that it could not be made.
fn pipe(checks: &mut Checks) -> Option<[usize; 2]> {
    match sys::pipe2(0) {
        Ok(fds) => Some(fds),
        Err(e) => {
            checks.check("pipe2", false, format_args!("{e}"));
            None
        }
    }
}

/// Records a failed fork or wait.
fn failed(checks: &mut Checks, what: &str, error: tessera_runtime::Error) {
    checks.check(what, false, format_args!("{} = {}", errno_name(error.errno), error.errno));
}

/// Checks that `pid` ends with exit code `code`, reaped by a blocking waitpid.
fn expect_exit(checks: &mut Checks, what: &str, pid: usize, code: usize) {
    match reap(pid) {
        Ok((reaped, status)) => checks.check(
            what,
            reaped == pid && status.code() == Some(code),
            format_args!("waitpid gave pid {reaped} (wanted {pid}), {status} (wanted exit {code})"),
        ),
        Err(e) => failed(checks, what, e),
    }
}

/// fork's two return values, and getpid/getppid in the child.
fn ids(checks: &mut Checks) {
    let Ok(me) = sys::getpid() else { return checks.check("getpid", false, format_args!("failed")) };
    let Some([r, w]) = pipe(checks) else { return };
    let child = fork_with(|| {
        let (pid, ppid) = (sys::getpid().unwrap_or(0), sys::getppid().unwrap_or(0));
        i32::from(write_words(w, &[pid as u64, ppid as u64]).is_err())
    });
    let _ = sys::close(w);
    let reported = read_words::<2>(r);
    let _ = sys::close(r);
    let Ok(child) = child else { return failed(checks, "fork", child.unwrap_err()) };
    checks.check("fork returns a new pid to the parent", child != 0 && child != me, format_args!("got {child}"));
    match reported {
        Some([pid, ppid]) => {
            checks.check(
                "getpid() in the child is what fork returned",
                pid == child as u64,
                format_args!("child says {pid}, fork said {child}"),
            );
            checks.check(
                "getppid() in the child is the parent",
                ppid == me as u64,
                format_args!("child says {ppid}, parent is {me}"),
            );
        }
        None => checks.check("the child reports its ids", false, format_args!("nothing came through the pipe")),
    }
    expect_exit(checks, "waitpid(child) returns its pid and exit 0", child, 0);
}

/// Exit codes through waitpid: `status & 0xFF` is what the parent sees.
fn exit_codes(checks: &mut Checks) {
    for code in [0usize, 1, 255, 42, 256] {
        // `sys::exit` directly: the code goes to the kernel as it is.
        match sys::fork() {
            Ok(sys::Fork::Child) => sys::exit(code),
            Ok(sys::Fork::Parent { pid }) => {
                expect_exit(checks, &format!("exit({code}) gives status {}", code & 0xFF), pid, code & 0xFF)
            }
            Err(e) => failed(checks, "fork", e),
        }
    }
}

/// The exec'd side of [`exec`]: reports pid, ppid and whether the
/// close-on-exec fd is gone, then exits with the code asked for.
fn exec_report(argv: &[&str]) -> i32 {
    let number = |i: usize| argv.get(i).and_then(|s| s.parse::<usize>().ok());
    let (Some(fd), Some(cloexec_fd), Some(code)) = (number(2), number(3), number(4)) else { return 100 };
    let closed = matches!(sys::fstat(cloexec_fd), Err(e) if e.errno == EBADF);
    let words = [sys::getpid().unwrap_or(0) as u64, sys::getppid().unwrap_or(0) as u64, u64::from(closed)];
    if write_words(fd, &words).is_err() {
        return 101;
    }
    code as i32
}

/// execve keeps the process (pid, parent) and runs the new program.
fn exec(checks: &mut Checks) {
    let Ok(me) = sys::getpid() else { return };
    let Some([r, w]) = pipe(checks) else { return };
    let Ok([cr, cw]) = sys::pipe2(O_CLOEXEC) else {
        return checks.check("pipe2(O_CLOEXEC)", false, format_args!("failed"));
    };
    let path = process::program_path("proc-lifecycle");
    let (fd, cloexec_fd) = (format!("{w}"), format!("{cr}"));
    let child = fork_with(|| {
        let error = sys::execve(&path, &["proc-lifecycle", "--exec-report", &fd, &cloexec_fd, "7"], &[]);
        tessera_runtime::eprintln!("proc-lifecycle: execve failed: {error}");
        127
    });
    for fd in [w, cr, cw] {
        let _ = sys::close(fd);
    }
    let reported = read_words::<3>(r);
    let _ = sys::close(r);
    let Ok(child) = child else { return failed(checks, "fork", child.unwrap_err()) };
    match reported {
        Some([pid, ppid, closed]) => {
            checks.check("execve keeps the pid", pid == child as u64, format_args!("{pid} after exec, {child} before"));
            checks.check("execve keeps the parent", ppid == me as u64, format_args!("getppid {ppid}, parent {me}"));
            checks.check("execve closes O_CLOEXEC fds", closed == 1, format_args!("fd {cr} still open after exec"));
        }
        None => checks.check("the exec'd program reports", false, format_args!("nothing came through the pipe")),
    }
    expect_exit(checks, "the exec'd program's exit(7) reaches waitpid", child, 7);

    let child = fork_with(|| {
        let error = sys::execve("initfs:bin/no-such-program", &["no-such-program"], &[]);
        if error.errno == ENOENT { 0 } else { 1 }
    });
    match child {
        Ok(pid) => expect_exit(checks, "execve of a missing program fails with ENOENT; the caller goes on", pid, 0),
        Err(e) => failed(checks, "fork", e),
    }
}

/// A child that waits for one byte on `gate` and then exits with `code`.
fn gated_child(gate: [usize; 2], code: i32) -> tessera_runtime::Result<usize> {
    fork_with(|| {
        let _ = sys::close(gate[1]);
        let mut byte = [0u8; 1];
        let _ = sys::read(gate[0], &mut byte);
        code
    })
}

/// Lets a gated child go (and gives it a few yields to run).
fn open_gate(gate: [usize; 2]) {
    let _ = sys::write(gate[1], b"g");
    let _ = sys::close(gate[1]);
    let _ = sys::close(gate[0]);
    for _ in 0..10 {
        let _ = sys::sched_yield();
    }
}

/// WNOHANG returns 0 while the child runs.
fn wnohang(checks: &mut Checks) {
    let Some(gate) = pipe(checks) else { return };
    let child = match gated_child(gate, 3) {
        Ok(pid) => pid,
        Err(e) => return failed(checks, "fork", e),
    };
    let mut early = Vec::new();
    for _ in 0..5 {
        early.push(sys::waitpid(child, WNOHANG));
        let _ = sys::sched_yield();
    }
    checks.check(
        "waitpid(child, WNOHANG) returns 0 before the child ends",
        early.iter().all(|r| matches!(r, Ok(None))),
        format_args!("got {early:?}"),
    );
    open_gate(gate);
    expect_exit(checks, "then the blocking waitpid reaps it (exit 3)", child, 3);
    let again = sys::waitpid(child, WNOHANG).map(|r| r.map_or(0, |(pid, _)| pid));
    checks.expect_errno("waitpid on a reaped child", again, ECHILD);
}

/// A specific pid is only that child; "any" takes whichever ended.
fn specific_and_any(checks: &mut Checks) {
    let (Some(ga), Some(gb), Some(gc)) = (pipe(checks), pipe(checks), pipe(checks)) else { return };
    // Only `a` holds the write end of `done`: end of file on it means `a`
    // has ended (a process becomes a zombie before its files close).
    let Some([done_r, done_w]) = pipe(checks) else { return };
    let a = gated_child(ga, 10);
    let _ = sys::close(done_w);
    let (Ok(a), Ok(b), Ok(c)) = (a, gated_child(gb, 11), gated_child(gc, 12)) else {
        return checks.check("fork three children", false, format_args!("a fork failed"));
    };
    open_gate(ga);
    let mut byte = [0u8; 1];
    let a_ended = sys::read(done_r, &mut byte);
    let _ = sys::close(done_r);
    checks.check("a ends once let go", matches!(a_ended, Ok(0)), format_args!("read gave {}", Shown(a_ended)));
    let not_b = sys::waitpid(b, WNOHANG);
    checks.check(
        "waitpid(b, WNOHANG) does not return a, which ended",
        matches!(not_b, Ok(None)),
        format_args!("got {not_b:?}"),
    );
    match reap(ANY_CHILD) {
        Ok((pid, status)) => checks.check(
            "waitpid(any) returns the child that ended (a, exit 10)",
            pid == a && status.code() == Some(10),
            format_args!("got pid {pid} ({status}); a is {a}"),
        ),
        Err(e) => failed(checks, "waitpid(any)", e),
    }
    open_gate(gb);
    open_gate(gc);
    expect_exit(checks, "waitpid(c) returns c though b ended first", c, 12);
    match reap(ANY_CHILD) {
        Ok((pid, status)) => checks.check(
            "waitpid(any) then returns b (exit 11)",
            pid == b && status.code() == Some(11),
            format_args!("got pid {pid} ({status}); b is {b}"),
        ),
        Err(e) => failed(checks, "waitpid(any)", e),
    }
}

/// ECHILD and EINVAL.
fn no_children(checks: &mut Checks) {
    let pid_of = |r: tessera_runtime::Result<Option<(usize, WaitStatus)>>| r.map(|r| r.map_or(0, |(pid, _)| pid));
    checks.expect_errno("waitpid(any) with no children", pid_of(sys::waitpid(ANY_CHILD, 0)), ECHILD);
    checks.expect_errno("waitpid(any, WNOHANG) with no children", pid_of(sys::waitpid(ANY_CHILD, WNOHANG)), ECHILD);
    checks.expect_errno("waitpid(1): init is not our child", pid_of(sys::waitpid(1, 0)), ECHILD);
    let me = sys::getpid().unwrap_or(0);
    checks.expect_errno("waitpid(own pid)", pid_of(sys::waitpid(me, 0)), ECHILD);
    checks.expect_errno("waitpid with unknown options", pid_of(sys::waitpid(ANY_CHILD, 0x100)), EINVAL);
}

/// A status pointer the kernel cannot write: EFAULT, and the child's
/// status is not lost with it.
fn bad_status_pointer(checks: &mut Checks) {
    let child = match fork_with(|| 5) {
        Ok(pid) => pid,
        Err(e) => return failed(checks, "fork", e),
    };
    // Let the child end first, so the kernel has a status to (not) deliver.
    for _ in 0..10 {
        let _ = sys::sched_yield();
    }
    // SAFETY: the kernel must refuse the unmapped status pointer.
    let got = unsafe { syscall3(SYS_WAITPID, child, UNMAPPED, 0) };
    checks.expect_errno("waitpid(child, unmapped status pointer)", got, EFAULT);
    expect_exit(checks, "the child is still there to reap afterwards (exit 5)", child, 5);
}

/// An orphan is adopted by init and, once it ends, holds no memory
/// although only init could reap it.
fn orphan(checks: &mut Checks) {
    let Ok(before) = quiet_free_frames(QUIET_TRIES) else {
        return checks.check("read sys:memory", false, format_args!("failed"));
    };
    let (Some(gate), Some([r, w])) = (pipe(checks), pipe(checks)) else { return };
    // The middle process forks the orphan-to-be and exits at once.
    let middle = fork_with(|| {
        let orphan = fork_with(|| {
            let _ = sys::close(gate[1]);
            let mut byte = [0u8; 1];
            let _ = sys::read(gate[0], &mut byte);
            i32::from(write_words(w, &[sys::getppid().unwrap_or(0) as u64]).is_err())
        });
        i32::from(orphan.is_err())
    });
    let _ = sys::close(w);
    match middle {
        Ok(pid) => expect_exit(checks, "the orphan's parent exits", pid, 0),
        Err(e) => return failed(checks, "fork", e),
    }
    open_gate(gate);
    match read_words::<1>(r) {
        Some([ppid]) => checks.check("an orphan's getppid() is init (1)", ppid == 1, format_args!("got {ppid}")),
        None => checks.check("the orphan reports", false, format_args!("nothing came through the pipe")),
    }
    // End of file: the orphan has ended (its last fd to the pipe closed).
    let mut byte = [0u8; 1];
    let eof = sys::read(r, &mut byte);
    let _ = sys::close(r);
    checks.check("the orphan ends", matches!(eof, Ok(0)), format_args!("read gave {}", Shown(eof)));
    match settled_free_frames(before, SETTLE_TRIES) {
        Ok(after) => checks.check(
            "an ended orphan holds no frames, though nobody reaped it",
            after == before,
            format_args!("free_frames {before} before, {after} after"),
        ),
        Err(e) => failed(checks, "read sys:memory", e),
    }
}

/// Forks `count` children, `LEAK_BATCH` alive at a time; every tenth
/// replaces itself with `proc-lifecycle --exit N` through execve. Each
/// exits with its index; all are reaped with waitpid(any). Returns the
/// problems seen.
fn fork_and_reap(count: usize) -> Vec<String> {
    let mut problems = Vec::new();
    let path = process::program_path("proc-lifecycle");
    let mut next = 0;
    while next < count {
        let mut alive: Vec<(usize, usize)> = Vec::new();
        for index in next..(next + LEAK_BATCH).min(count) {
            let code = index & 0xFF;
            let spawned = if index % 10 == 9 {
                let code = format!("{code}");
                process::spawn(&path, &["proc-lifecycle", "--exit", &code], &[])
            } else {
                fork_with(|| code as i32)
            };
            match spawned {
                Ok(pid) => alive.push((pid, code)),
                Err(e) => problems.push(format!("fork {index}: {e}")),
            }
        }
        next += LEAK_BATCH;
        while !alive.is_empty() {
            match reap(ANY_CHILD) {
                Ok((pid, status)) => match alive.iter().position(|&(p, _)| p == pid) {
                    Some(i) => {
                        let (_, code) = alive.swap_remove(i);
                        if status.code() != Some(code) {
                            problems.push(format!("child {pid}: {status}, wanted exit {code}"));
                        }
                    }
                    None => problems.push(format!("waitpid(any) returned {pid}, not a child in flight")),
                },
                Err(e) => {
                    problems.push(format!("waitpid(any): {e}"));
                    break;
                }
            }
        }
    }
    problems
}

/// 100 processes forked and reaped leave the free-frame count where it was.
fn no_leak(checks: &mut Checks) {
    // A warm-up round first: the first forks and execs after boot may
    // create kernel state that stays for good and is not a leak (scheduler
    // and per-CPU structures, the kernel heap growing once it can, lazily
    // built page-table levels). Measuring after it leaves only what the
    // 100 processes themselves keep. This program's own memory (stack,
    // static heap) is mapped in full at exec, so it does not move either.
    let warm_up = fork_and_reap(LEAK_BATCH);
    checks.check("warm-up round of 10 processes", warm_up.is_empty(), format_args!("{warm_up:?}"));
    let Ok(before) = quiet_free_frames(QUIET_TRIES) else {
        return checks.check("read sys:memory", false, format_args!("failed"));
    };
    let problems = fork_and_reap(LEAK_PROCESSES);
    checks.check(
        "100 children (10 via execve) exit with their codes and are reaped",
        problems.is_empty(),
        format_args!("{} problems: {problems:?}", problems.len()),
    );
    match settled_free_frames(before, SETTLE_TRIES) {
        Ok(after) => {
            tessera_runtime::println!("proc-lifecycle: free_frames {before} before, {after} after 100 processes");
            checks.check(
                "free_frames after 100 processes equals free_frames before",
                after == before,
                format_args!("{before} before, {after} after ({} frames)", after as isize - before as isize),
            );
        }
        Err(e) => failed(checks, "read sys:memory", e),
    }
    // Nothing is left to wait for.
    let rest = sys::waitpid(ANY_CHILD, WNOHANG).map(|r| r.map_or(0, |(pid, _)| pid));
    checks.expect_errno("no child left over", rest, ECHILD);
}
