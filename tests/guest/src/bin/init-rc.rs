//! `init-rc`: init's handling of `daemon` lines, foreground programs and
//! the end, seen from outside: a second init runs
//! `initfs:etc/init-check.rc` (`init initfs:etc/init-check.rc`, its fds 1
//! and 2 on a pipe) and the test checks what it printed and how it ended.
//!
//! | check | expected |
//! |---|---|
//! | a daemon that exits at once (`daemon kvd --bad`, status 2) | `init: started daemon kvd (pid A)`, later `init: daemon kvd (pid A) exited with status 2` |
//! | foreground programs | `init: hello exited with status 0`, `init: kvd exited with status 2`, in that order |
//! | `privileged cat sys:privilege`, then `cat sys:privilege` (this test runs privileged and arms `keep-on-exec` for the second init) | `init: running cat (pid C), privileged` before `init: running cat (pid D)`; the first cat prints `privileged`, the second `unprivileged`, each once, in that order |
//! | a bare `privileged` line and `privileged export X=1` | each reported as `init: the line should be \`privileged [daemon\|respawn] PROGRAM [ARGS...]\``, not run |
//! | the second init (not pid 1) | does not serve `init:power` (no `init: serving` line) |
//! | `wait-scheme echo-init-rc` after that daemon's line | `init: scheme echo-init-rc ready`, after the daemon started and before the next program ran |
//! | a daemon still running at the end (`daemon echod echo-init-rc`) | after the last foreground line: `init: stopping daemon echod (pid B)`, then `init: daemon echod (pid B) killed by signal 15 (SIGTERM)` |
//! | init's status | exited with 1 (a foreground program failed) |
//! | what is left | no process that was not there before init started; the pipe reaches end of file |
//!
//! The second init is reaped before the pipe is read: init stops its
//! children within a bounded time, and the pipe holds all its output
//! (far less than 64 KiB), so nothing here can wait forever — unless a
//! child survives, which the process check catches and kills first.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use tessera_guest_tests::system::{fork_with, reap};
use tessera_guest_tests::{Checks, Shown};
use tessera_runtime::abi::signal::SIGKILL;
use tessera_runtime::{Args, io, println, sys};

tessera_runtime::entry!(main);

/// The list the second init runs.
const RC: &str = "initfs:etc/init-check.rc";

fn main(_args: Args) -> i32 {
    let mut checks = Checks::new("init-rc");
    let before = live_pids();
    let Ok([r, w]) = sys::pipe2(0) else {
        checks.check("pipe2", false, format_args!("failed"));
        return checks.finish();
    };
    let init = fork_with(|| {
        let _ = sys::close(r);
        if sys::dup2(w, 1).is_err() || sys::dup2(w, 2).is_err() {
            return 2;
        }
        let _ = sys::close(w);
        if let Err(e) = tessera_runtime::process::keep_privilege_on_exec() {
            println!("init-rc: cannot arm keep-on-exec: {e}");
            return 4;
        }
        let error = sys::execve("initfs:bin/init", &["init", RC], &[]);
        println!("init-rc: cannot execute init: {error}");
        3
    });
    let _ = sys::close(w);
    let init = match init {
        Ok(pid) => pid,
        Err(e) => {
            checks.check("fork", false, format_args!("{e}"));
            return checks.finish();
        }
    };
    let status = reap(init).map(|(_, status)| status);
    checks.check(
        "init exits with 1: a foreground program failed",
        matches!(status, Ok(s) if s.code() == Some(1)),
        format_args!("got {status:?}"),
    );

    let survivors: Vec<usize> = live_pids().into_iter().filter(|pid| !before.contains(pid)).collect();
    for &pid in &survivors {
        let _ = sys::kill(pid, SIGKILL);
    }
    checks.check("init left no process behind", survivors.is_empty(), format_args!("still alive: {survivors:?}"));

    let mut output = Vec::new();
    let mut buf = [0u8; 4096];
    let end = loop {
        match sys::read(r, &mut buf) {
            Ok(0) => break Ok(0),
            Ok(n) => output.extend_from_slice(&buf[..n]),
            Err(e) => break Err(e),
        }
    };
    let _ = sys::close(r);
    checks.check("the output pipe reaches end of file", end.is_ok(), format_args!("read gave {}", Shown(end)));
    let output = String::from_utf8_lossy(&output);
    let all: Vec<&str> = output.lines().collect();
    for line in &all {
        println!("init-rc: | {line}");
    }
    let lines: Vec<&str> = all.iter().copied().filter(|line| line.starts_with("init: ")).collect();
    check_lines(&mut checks, &lines);
    check_privileged(&mut checks, &all);
    checks.finish()
}

/// Checks the `privileged` lines: `all` is everything printed, in order
/// (init's reports and the programs' output). A program may print before
/// init reports it running, but the two foreground `cat`s run one after
/// the other, so their outputs come in order.
fn check_privileged(checks: &mut Checks, all: &[&str]) {
    let running = |privileged: bool| {
        all.iter().position(|line| {
            line.strip_prefix("init: running cat (pid ")
                .is_some_and(|rest| rest.ends_with(if privileged { "), privileged" } else { ")" }))
        })
    };
    let (kept, dropped) = (running(true), running(false));
    checks.check(
        "`privileged cat` is reported privileged, then plain `cat`",
        matches!((kept, dropped), (Some(k), Some(d)) if k < d),
        format_args!("reported at {kept:?} and {dropped:?}"),
    );
    let printed = |text: &str| all.iter().position(|line| *line == text);
    let count = |text: &str| all.iter().filter(|line| **line == text).count();
    let (yes, no) = (printed("privileged"), printed("unprivileged"));
    checks.check(
        "the privileged cat prints `privileged`, the next `unprivileged`",
        matches!((yes, no), (Some(y), Some(n)) if y < n) && count("privileged") == 1 && count("unprivileged") == 1,
        format_args!("`privileged` at {yes:?}, `unprivileged` at {no:?}"),
    );
    let usage = "init: the line should be `privileged [daemon|respawn] PROGRAM [ARGS...]`";
    let count = all.iter().filter(|line| **line == usage).count();
    checks.check(
        "a bare `privileged` and `privileged export` are refused",
        count == 2,
        format_args!("{count} usage lines"),
    );
    let serving = all.iter().any(|line| line.starts_with("init: serving"));
    checks.check("a second init does not serve init:power", !serving, format_args!("it said it serves"));
}

/// Checks init's report lines (`init: ...`, in the order printed).
fn check_lines(checks: &mut Checks, lines: &[&str]) {
    let at = |text: &str| lines.iter().position(|line| *line == text);
    let pid_of =
        |prefix: &str| -> Option<&str> { lines.iter().find_map(|line| line.strip_prefix(prefix)?.strip_suffix(')')) };

    let early = pid_of("init: started daemon kvd (pid ");
    checks.check("the daemon kvd is started", early.is_some(), format_args!("lines: {lines:?}"));
    if let Some(pid) = early {
        let report = format!("init: daemon kvd (pid {pid}) exited with status 2");
        checks.check("its early exit is reported", at(&report).is_some(), format_args!("no {report:?}"));
    }

    let hello = at("init: hello exited with status 0");
    let failed = at("init: kvd exited with status 2");
    checks.check(
        "the foreground programs run in order, each reported",
        matches!((hello, failed), (Some(h), Some(f)) if h < f),
        format_args!("hello at {hello:?}, kvd at {failed:?}"),
    );

    let Some(pid) = pid_of("init: started daemon echod (pid ") else {
        return checks.check("the daemon echod is started", false, format_args!("lines: {lines:?}"));
    };
    let started = at(&format!("init: started daemon echod (pid {pid})"));
    let ready = at("init: scheme echo-init-rc ready");
    checks.check(
        "wait-scheme reports the daemon's scheme ready before the next line runs",
        matches!((started, ready, hello), (Some(s), Some(r), Some(h)) if s < r && r < h),
        format_args!("daemon started at {started:?}, ready at {ready:?}, hello at {hello:?}"),
    );
    let stopping = at(&format!("init: stopping daemon echod (pid {pid})"));
    let killed = at(&format!("init: daemon echod (pid {pid}) killed by signal 15 (SIGTERM)"));
    checks.check(
        "at the end the running daemon gets SIGTERM and is reaped",
        matches!((failed, stopping, killed), (Some(f), Some(s), Some(k)) if f < s && s < k),
        format_args!("last program at {failed:?}, stopping at {stopping:?}, reaped at {killed:?}"),
    );
}

/// The pids of every live process, from `sys:processes`.
fn live_pids() -> Vec<usize> {
    let text = io::read_file("sys:processes").ok().and_then(|t| String::from_utf8(t).ok()).unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let mut fields = line.split(' ');
            let pid = fields.next()?.parse().ok()?;
            (fields.nth(1)? == "alive").then_some(pid)
        })
        .collect()
}
