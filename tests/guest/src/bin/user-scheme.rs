//! `user-scheme`: a user scheme daemon (`kvd`, serving `kv:`) serves
//! another process, and its death becomes an errno, never a hang.
//!
//! 1. Starts `kvd --gate GATE SIGNAL` (two pipes: the daemon says on
//!    SIGNAL when it holds a read of `kv:.gate`, and waits on GATE) and
//!    retries `open("kv:.handles")` with `sched_yield` until it stops
//!    failing with ENODEV (at most [`ROUNDS`] rounds).
//! 2. Registration errors from the root scheme `:`: a taken name (EEXIST,
//!    user or kernel scheme), bad names and modes (EINVAL), no `O_CREAT`
//!    (ENOENT).
//! 3. open/write/lseek/read/fstat/ftruncate/fsync/dup/close on `kv:KEY`,
//!    with the bytes checked; a read-only open refuses writes; a missing key
//!    is the daemon's ENOENT; 100,000 bytes go in with one `write` (split by
//!    the kernel into requests) and come back intact.
//! 4. Killed callers: child A waits for a read the daemon holds (on the
//!    gate), child B's open waits unread in the queue (seen in the root
//!    scheme's listing `:`). Both are killed and reaped (SIGKILL); B's
//!    request leaves the queue and A stops waiting. Then the gate opens, and
//!    `kv:.handles` must say 1: A's late response and B's withdrawn request
//!    left no file open in the daemon.
//! 5. Daemon death: child D waits for a read the daemon holds; the daemon is
//!    killed. The next call on an open file fails with EIO, a new open with
//!    ENODEV, D's pending read with EIO, and the daemon is reaped (SIGKILL).
//!    "Within 1 s": the failing call is the very next one, with no retry,
//!    and `clock_gettime(CLOCK_MONOTONIC)` measures it (skipped where the
//!    kernel has no clock).
//! 6. The name is free again: a new `kvd` registers `kv:` and starts empty.
//!
//! Every wait for another process is on a pipe or bounded by [`ROUNDS`]
//! `sched_yield`s, so a broken kernel fails the test instead of hanging it.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use tessera_guest_tests::{Checks, Shown};
use tessera_runtime::abi::error::{EBADF, EEXIST, EINVAL, EIO, ENODEV, ENOENT};
use tessera_runtime::abi::flag::{
    CLOCK_MONOTONIC, MODE_FILE, MODE_TYPE, O_CREAT, O_RDONLY, O_RDWR, O_TRUNC, SEEK_CUR, SEEK_END, SEEK_SET,
};
use tessera_runtime::abi::scheme::RESPONSE_PAYLOAD_MAX_BYTES;
use tessera_runtime::abi::signal::SIGKILL;
use tessera_runtime::abi::{Result, TimeSpec, WNOHANG};
use tessera_runtime::sys::{self, Fork, WaitStatus};
use tessera_runtime::{Args, process};

tessera_runtime::entry!(main);

/// `sched_yield` rounds allowed for something another process does (the
/// daemon registering, a child's request reaching the queue).
const ROUNDS: usize = 10_000;
/// Bytes of the large transfer: more than one message, not a multiple of it.
const BIG_BYTES: usize = 100_000;

/// The test's ends of the pipes `kvd --gate` uses.
struct Gate {
    /// Written to let the daemon's held read of `kv:.gate` finish.
    open: usize,
    /// Gives a byte each time the daemon starts holding such a read.
    holding: usize,
}

fn main(_args: Args) -> i32 {
    let mut checks = Checks::new("user-scheme");
    let (Ok([gate_read, gate_write]), Ok([signal_read, signal_write])) = (sys::pipe2(0), sys::pipe2(0)) else {
        checks.check("pipe2 for the gate", false, format_args!("failed"));
        return checks.finish();
    };
    let daemon = start_daemon(&mut checks, Some((gate_read, signal_write)));
    // The daemon has its ends; without ours, its death is EOF on `holding`.
    let _ = sys::close(gate_read);
    let _ = sys::close(signal_write);
    let Some(daemon) = daemon else { return checks.finish() };
    let gate = Gate { open: gate_write, holding: signal_read };

    registration(&mut checks);
    file_calls(&mut checks);
    big_transfer(&mut checks);
    killed_callers(&mut checks, &gate);
    daemon_death(&mut checks, &gate, daemon);
    if let Some(again) = start_daemon(&mut checks, None) {
        checks.expect_errno("a new kvd serves kv: and starts empty", open_kv("greeting", O_RDONLY), ENOENT);
        let _ = sys::kill(again, SIGKILL);
        let _ = process::wait(again);
    }
    checks.finish()
}

fn open_kv(key: &str, flags: usize) -> Result<usize> {
    sys::open(&format!("kv:{key}"), flags)
}

/// Yields until `done()` holds; the rounds it took, or `None` after
/// [`ROUNDS`].
fn poll(mut done: impl FnMut() -> bool) -> Option<usize> {
    for round in 0..ROUNDS {
        if done() {
            return Some(round);
        }
        let _ = sys::sched_yield();
    }
    None
}

/// `kv:`'s line of the root scheme's listing: (requests queued, callers
/// waiting).
fn kv_load() -> Option<(usize, usize)> {
    let fd = sys::open(":", O_RDONLY).ok()?;
    let text = read_all(fd);
    let _ = sys::close(fd);
    let text = String::from_utf8(text.ok()?).ok()?;
    let mut fields = text.lines().find(|line| line.starts_with("kv "))?.split(' ').skip(1);
    Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
}

/// Checks that `kv:`'s load becomes `want` (within [`ROUNDS`]: a reaped
/// child may still be releasing its files on another CPU).
fn expect_load(checks: &mut Checks, what: &str, want: (usize, usize)) {
    let rounds = poll(|| kv_load() == Some(want));
    checks.check(what, rounds.is_some(), format_args!("`:` says {:?}, wanted {want:?}", kv_load()));
}

/// Waits for the daemon to say it holds a read of `kv:.gate`.
fn expect_holding(checks: &mut Checks, what: &str, gate: &Gate) {
    let got = sys::read(gate.holding, &mut [0u8; 1]);
    checks.check(what, got == Ok(1), format_args!("the signal pipe gave {}", Shown(got)));
}

/// Reads until end of file (or an error).
fn read_all(fd: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 4096];
    loop {
        let n = sys::read(fd, &mut buf)?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// Starts `kvd` (with `--gate GATE SIGNAL` if given) and waits until `kv:`
/// answers; the daemon's pid.
fn start_daemon(checks: &mut Checks, gate: Option<(usize, usize)>) -> Option<usize> {
    let fds = gate.map(|(gate, signal)| (format!("{gate}"), format!("{signal}")));
    let argv: Vec<&str> = match &fds {
        Some((gate, signal)) => vec!["kvd", "--gate", gate, signal],
        None => vec!["kvd"],
    };
    let daemon = match process::spawn(&process::program_path("kvd"), &argv, &[]) {
        Ok(pid) => pid,
        Err(e) => {
            checks.check("start kvd", false, format_args!("{e}"));
            return None;
        }
    };
    for round in 0..ROUNDS {
        match open_kv(".handles", O_RDONLY) {
            Err(e) if e.errno == ENODEV => {
                if let Ok(Some((_, status))) = sys::waitpid(daemon, WNOHANG) {
                    checks.check("kvd registers kv:", false, format_args!("kvd ended first: {status}"));
                    return None;
                }
                let _ = sys::sched_yield();
            }
            got => {
                let _ = got.map(sys::close);
                checks.check(
                    "kvd registers kv:",
                    got.is_ok(),
                    format_args!("open(kv:.handles) after {round} rounds gave {}", Shown(got)),
                );
                return got.is_ok().then_some(daemon);
            }
        }
    }
    checks.check("kvd registers kv:", false, format_args!("still ENODEV after {ROUNDS} rounds"));
    let _ = sys::kill(daemon, SIGKILL);
    None
}

fn registration(checks: &mut Checks) {
    let create = O_CREAT | O_RDWR;
    checks.expect_errno("open(:kv) again: the name is taken", sys::open(":kv", create), EEXIST);
    checks.expect_errno("open(:debug): a kernel scheme's name", sys::open(":debug", create), EEXIST);
    checks.expect_errno("open(:) with no name", sys::open(":", create), EINVAL);
    checks.expect_errno("open(:a/b) bad name", sys::open(":a/b", create), EINVAL);
    checks.expect_errno("open(:x) read-only", sys::open(":x", O_CREAT | O_RDONLY), EINVAL);
    checks.expect_errno("open(:x) without O_CREAT", sys::open(":x", O_RDWR), ENOENT);
}

/// Checks that `got` read exactly `want`.
fn expect_read(checks: &mut Checks, what: &str, fd: usize, want: &[u8]) {
    let mut buf = [0u8; 64];
    let got = sys::read(fd, &mut buf);
    let ok = got.is_ok_and(|n| &buf[..n] == want);
    let text = String::from_utf8_lossy(&buf[..*got.as_ref().unwrap_or(&0)]).into_owned();
    checks.check(what, ok, format_args!("wanted {:?}, got {} {text:?}", String::from_utf8_lossy(want), Shown(got)));
}

fn expect_value(checks: &mut Checks, what: &str, got: Result<usize>, want: usize) {
    checks.check(what, got == Ok(want), format_args!("wanted Ok({want}), got {}", Shown(got)));
}

fn file_calls(checks: &mut Checks) {
    let fd = match open_kv("greeting", O_CREAT | O_RDWR) {
        Ok(fd) => fd,
        Err(e) => return checks.check("open(kv:greeting, O_CREAT)", false, format_args!("{e}")),
    };
    expect_value(checks, "write 13 bytes", sys::write(fd, b"hello, scheme"), 13);
    expect_value(checks, "lseek(0, SEEK_SET)", sys::lseek(fd, 0, SEEK_SET), 0);
    expect_read(checks, "read them back", fd, b"hello, scheme");
    expect_read(checks, "then end of file", fd, b"");
    match sys::fstat(fd) {
        Ok(stat) => checks.check(
            "fstat: a 13-byte file",
            stat.st_size == 13 && stat.st_mode & MODE_TYPE == MODE_FILE,
            format_args!("size {}, mode {:#o}", stat.st_size, stat.st_mode),
        ),
        Err(e) => checks.check("fstat: a 13-byte file", false, format_args!("{e}")),
    }
    expect_value(checks, "lseek(-6, SEEK_END)", sys::lseek(fd, -6, SEEK_END), 7);
    expect_read(checks, "read from there", fd, b"scheme");
    checks.expect_errno("lseek with a bad whence", sys::lseek(fd, 0, 7), EINVAL);
    expect_value(checks, "ftruncate(5)", sys::ftruncate(fd, 5).map(|()| 0), 0);
    let size = sys::fstat(fd).map(|stat| stat.st_size as usize);
    expect_value(checks, "fstat after ftruncate: 5 bytes", size, 5);
    expect_value(checks, "fsync", sys::fsync(fd).map(|()| 0), 0);
    match sys::dup(fd) {
        Ok(copy) => {
            expect_value(checks, "lseek(1) through a dup", sys::lseek(copy, 1, SEEK_SET), 1);
            expect_read(checks, "the dup shares the offset", fd, b"ello");
            expect_value(checks, "close the dup", sys::close(copy).map(|()| 0), 0);
            expect_value(checks, "the original still works", sys::lseek(fd, -2, SEEK_CUR), 3);
        }
        Err(e) => checks.check("dup", false, format_args!("{e}")),
    }
    expect_value(checks, "close", sys::close(fd).map(|()| 0), 0);

    match open_kv("greeting", O_RDONLY) {
        Ok(fd) => {
            expect_read(checks, "a new open sees the value", fd, b"hello");
            checks.expect_errno("write to a read-only open", sys::write(fd, b"x"), EBADF);
            let _ = sys::close(fd);
        }
        Err(e) => checks.check("open(kv:greeting, O_RDONLY)", false, format_args!("{e}")),
    }
    checks.expect_errno("open(kv:missing): the daemon's ENOENT", open_kv("missing", O_RDONLY), ENOENT);
}

fn big_transfer(checks: &mut Checks) {
    let data: Vec<u8> = (0..BIG_BYTES).map(|i| (i * 7 + (i >> 8)) as u8).collect();
    let fd = match open_kv("big", O_CREAT | O_TRUNC | O_RDWR) {
        Ok(fd) => fd,
        Err(e) => return checks.check("open(kv:big)", false, format_args!("{e}")),
    };
    expect_value(checks, "one write of 100000 bytes", sys::write(fd, &data), BIG_BYTES);
    let _ = sys::lseek(fd, 0, SEEK_SET);
    let mut first = vec![0u8; BIG_BYTES];
    let got = sys::read(fd, &mut first);
    checks.check(
        "a read larger than a message is short",
        got.is_ok_and(|n| n > 0 && n <= RESPONSE_PAYLOAD_MAX_BYTES && first[..n] == data[..n]),
        format_args!("got {}", Shown(got)),
    );
    let _ = sys::lseek(fd, 0, SEEK_SET);
    let back = read_all(fd);
    checks.check(
        "100000 bytes come back intact",
        back.as_ref().is_ok_and(|back| *back == data),
        format_args!("got {:?} bytes", back.as_ref().map(Vec::len)),
    );
    let _ = sys::close(fd);
}

/// Forks a child that runs `body` and exits with what it returns.
fn child(body: fn() -> usize) -> Option<usize> {
    match sys::fork() {
        Ok(Fork::Parent { pid }) => Some(pid),
        Ok(Fork::Child) => sys::exit(body()),
        Err(_) => None,
    }
}

/// A child's body: read `kv:.gate`; 0 if the read fails with EIO.
fn read_gate() -> usize {
    let Ok(fd) = open_kv(".gate", O_RDONLY) else { return 2 };
    match sys::read(fd, &mut [0u8; 8]) {
        Err(e) if e.errno == EIO => 0,
        Ok(_) => 3,
        Err(_) => 4,
    }
}

fn expect_killed(checks: &mut Checks, what: &str, pid: Option<usize>) {
    let status = pid.map(|pid| (sys::kill(pid, SIGKILL), process::wait(pid)));
    let ok = matches!(status, Some((Ok(()), Ok(s))) if s.signal() == Some(SIGKILL));
    checks.check(what, ok, format_args!("kill and wait gave {status:?}"));
}

fn killed_callers(checks: &mut Checks, gate: &Gate) {
    let a = child(read_gate);
    expect_holding(checks, "the daemon holds child A's read", gate);
    let b = child(|| open_kv("greeting", O_RDONLY).map_or(2, |_| 3));
    let rounds = poll(|| kv_load().is_some_and(|(queued, _)| queued == 1));
    checks.check("child B's open waits in the queue", rounds.is_some(), format_args!("`:` says {:?}", kv_load()));
    expect_killed(checks, "a caller whose request is still queued is killable", b);
    expect_load(checks, "its request left the queue; A still waits", (0, 1));
    expect_killed(checks, "a caller waiting for the daemon's answer is killable", a);
    // A's exit closes its file: a one-way Close, queued behind the gate.
    expect_load(checks, "nobody waits; only A's close is queued", (1, 0));
    expect_value(checks, "open the gate", sys::write(gate.open, b"x"), 1);
    match open_kv(".handles", O_RDONLY).and_then(|fd| {
        let text = read_all(fd);
        let _ = sys::close(fd);
        text
    }) {
        Ok(text) => checks.check(
            "the killed callers left no file open in the daemon",
            text == b"1\n",
            format_args!("kv:.handles says {:?}", String::from_utf8_lossy(&text)),
        ),
        Err(e) => checks.check("read kv:.handles", false, format_args!("{e}")),
    }
}

fn now() -> Option<TimeSpec> {
    sys::clock_gettime(CLOCK_MONOTONIC).ok()
}

fn daemon_death(checks: &mut Checks, gate: &Gate, daemon: usize) {
    let held = open_kv("greeting", O_RDWR);
    let Ok(held) = held else {
        return checks.check("open(kv:greeting) before the kill", false, format_args!("{}", Shown(held)));
    };
    let d = child(read_gate);
    expect_holding(checks, "the daemon holds child D's read", gate);
    let start = now();
    checks.check("kill the daemon", sys::kill(daemon, SIGKILL).is_ok(), format_args!("kill failed"));
    checks.expect_errno("the next call on an open file fails with EIO", sys::read(held, &mut [0u8; 8]), EIO);
    if let (Some(start), Some(end)) = (start, now()) {
        let ns = (end.tv_sec - start.tv_sec) as i128 * 1_000_000_000 + (end.tv_nsec - start.tv_nsec) as i128;
        let what = format!("... within 1 s ({} us)", ns / 1000);
        checks.check(&what, ns < 1_000_000_000, format_args!("took {ns} ns"));
    }
    checks.expect_errno("a new open fails with ENODEV", open_kv("greeting", O_RDONLY), ENODEV);
    checks.expect_errno("write on the open file: EIO", sys::write(held, b"x"), EIO);
    checks.expect_errno("fstat on the open file: EIO", sys::fstat(held).map(|_| 0), EIO);
    checks.expect_errno("lseek on the open file: EIO", sys::lseek(held, 0, SEEK_SET), EIO);
    expect_value(checks, "close on the open file works", sys::close(held).map(|()| 0), 0);
    let status = d.map(process::wait);
    checks.check(
        "a read pending in the daemon when it died failed with EIO",
        matches!(status, Some(Ok(s)) if s.success()),
        format_args!("the child: {status:?} (2: open failed, 3: read succeeded, 4: another errno)"),
    );
    let status = process::wait(daemon);
    checks.check(
        "the daemon was killed by SIGKILL",
        status.is_ok_and(|s: WaitStatus| s.signal() == Some(SIGKILL)),
        format_args!("{status:?}"),
    );
}
