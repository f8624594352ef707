//! `init`: the first user process.
//!
//! It prints `init: started (pid N)`, then works through
//! `initfs:etc/init.rc` line by line (or the list its first argument names,
//! `init RC-PATH`, which only tests use). Format: `process::program_lines`
//! (a program name with its arguments, `#` comments; bare names are
//! `initfs:bin/<name>`). Every program runs in its own process (fork +
//! execve) with init's environment and fds 0-2 on the console.
//!
//! - **`daemon PROGRAM [ARGS...]`** starts PROGRAM and goes on at once:
//!   init prints `init: started daemon NAME (pid N)` and keeps the pid. A
//!   daemon is meant to run until init stops it; if it ends earlier, init
//!   reports it when it reaps it (`init: daemon NAME (pid N) exited with
//!   status S` or `… killed by signal S (SIGxxx)`). A daemon's status does
//!   not change init's verdict (a daemon that cannot be forked at all
//!   does).
//! - **`wait-scheme NAME`** waits until the scheme `NAME:` is registered
//!   (its line shows in the root scheme's listing `:`), checking every
//!   millisecond for at most [`WAIT_SCHEME_MS`]: `init: scheme NAME ready`,
//!   or `init: scheme NAME did not appear within N ms`, which counts as a
//!   failed line. It follows the `daemon` line of a daemon that serves a
//!   scheme later lines rely on (`daemon ramfs` then `wait-scheme file`).
//! - **Any other line** is a foreground program: init runs it and waits for
//!   it to end, then prints `init: NAME exited with status S` (or the
//!   signal). While it waits, init reaps every child that ends — daemons
//!   (reported as above) and orphans it adopted (reaped silently) — so no
//!   zombie is left behind.
//!
//! The normal image's list is `daemon ramfs`, `wait-scheme file`,
//! `console`; the test image's starts the same way, then `daemon echod`
//! and `testrunner` (mk/kernel.mk writes both).
//!
//! **The end.** After the last line, init stops what is still running: it
//! sends `SIGTERM` to every live child — the daemons (`init: stopping
//! daemon NAME (pid N)`) and any adopted orphan (found in `sys:processes`)
//! — reaps them for up to [`STOP_GRACE_MS`], then sends `SIGKILL` to
//! whatever is left and waits as long again. Then it exits: with **0** if
//! every foreground program exited with 0, else with **1** — also when a
//! line could not be started or a child would not end (`init: NAME (pid N)
//! did not end`). The kernel prints init's status; in a test image it is
//! the run's verdict (QEMU exits 33 for 0, 35 otherwise), so the test
//! runner's result reaches the host and nothing outlives init.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;

use tessera_runtime::abi::error::{ECHILD, EINTR, ESRCH};
use tessera_runtime::abi::flag::CLOCK_MONOTONIC;
use tessera_runtime::abi::signal::{SIGKILL, SIGTERM};
use tessera_runtime::abi::{TimeSpec, WNOHANG};
use tessera_runtime::sys::{self, ANY_CHILD, WaitStatus};
use tessera_runtime::{Args, Result, eprintln, io, println, process};

tessera_runtime::entry!(main);

/// The program list, unless the first argument names another.
const INIT_RC: &str = "initfs:etc/init.rc";
/// The word that starts a daemon line.
const DAEMON: &str = "daemon";
/// The word that starts a line waiting for a scheme.
const WAIT_SCHEME: &str = "wait-scheme";
/// How long a `wait-scheme` line waits at most.
const WAIT_SCHEME_MS: u64 = 5000;
/// The pause between looks at the root scheme's listing.
const WAIT_SCHEME_POLL: TimeSpec = TimeSpec { tv_sec: 0, tv_nsec: 1_000_000 };
/// How long each stop phase (SIGTERM, then SIGKILL) waits for children.
const STOP_GRACE_MS: u64 = 1000;
/// The pause between checks while stopping children.
const STOP_POLL: TimeSpec = TimeSpec { tv_sec: 0, tv_nsec: 10_000_000 };
/// Checks per stop phase when there is no clock to measure the grace.
const STOP_POLLS: usize = 100;

/// A daemon init started and has not reaped yet.
struct Daemon {
    pid: usize,
    name: String,
}

fn main(args: Args) -> i32 {
    match sys::getpid() {
        Ok(pid) => println!("init: started (pid {pid})"),
        Err(e) => println!("init: started (getpid failed: {e})"),
    }
    let rc = args.argv().get(1).copied().unwrap_or(INIT_RC);
    let text = match io::read_file(rc) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("init: cannot read {rc}: {e} (errno {})", e.errno);
            return 1;
        }
    };
    let Ok(text) = core::str::from_utf8(&text) else {
        eprintln!("init: {rc} is not UTF-8");
        return 1;
    };

    let mut daemons = Vec::new();
    let mut failed = 0;
    for line in process::program_lines(text) {
        let mut argv: Vec<&str> = line.split_whitespace().collect();
        if argv.first() == Some(&WAIT_SCHEME) {
            match argv.as_slice() {
                [_, name] => {
                    if !wait_scheme(name) {
                        failed += 1;
                    }
                }
                _ => {
                    println!("init: {rc}: \"{line}\" should be `wait-scheme NAME`");
                    failed += 1;
                }
            }
            continue;
        }
        let daemon = argv.first() == Some(&DAEMON);
        if daemon {
            argv.remove(0);
        }
        let Some(&name) = argv.first() else {
            println!("init: {rc}: \"{line}\" names no program");
            failed += 1;
            continue;
        };
        let path = process::program_path(name);
        let started = process::spawn(&path, &argv, args.env());
        match started {
            Ok(pid) if daemon => {
                println!("init: started daemon {name} (pid {pid})");
                daemons.push(Daemon { pid, name: name.into() });
            }
            Ok(pid) => match wait_for(pid, &mut daemons) {
                Ok(status) => {
                    println!("init: {name} {status}");
                    if !status.success() {
                        failed += 1;
                    }
                }
                Err(e) => {
                    println!("init: cannot wait for {name}: {e} (errno {})", e.errno);
                    failed += 1;
                }
            },
            Err(e) => {
                println!("init: cannot run {name}: {e} (errno {})", e.errno);
                failed += 1;
            }
        }
    }
    if !stop_children(&mut daemons) {
        failed += 1;
    }
    if failed == 0 { 0 } else { 1 }
}

/// Waits until `name:` shows in the root scheme's listing (`name queued
/// waiting` lines), at most [`WAIT_SCHEME_MS`] (or as many polls where
/// there is no clock); reports how it went. True if it appeared.
fn wait_scheme(name: &str) -> bool {
    let registered = || {
        let listing = io::read_file(":").ok().and_then(|text| String::from_utf8(text).ok()).unwrap_or_default();
        listing.lines().any(|line| line.split(' ').next() == Some(name))
    };
    let deadline = now_ms().map(|now| now + WAIT_SCHEME_MS);
    for poll in 0.. {
        if registered() {
            println!("init: scheme {name} ready");
            return true;
        }
        let over = match (deadline, now_ms()) {
            (Some(deadline), Some(now)) => now >= deadline,
            _ => poll >= WAIT_SCHEME_MS,
        };
        if over {
            println!("init: scheme {name} did not appear within {WAIT_SCHEME_MS} ms");
            return false;
        }
        let _ = sys::nanosleep(&WAIT_SCHEME_POLL, None);
    }
    false
}

/// Waits for child `pid` to end and returns its status; every other child
/// that ends meanwhile is reaped (see [`reaped`]).
/// Errors: those of `sys::waitpid` but EINTR.
fn wait_for(pid: usize, daemons: &mut Vec<Daemon>) -> Result<WaitStatus> {
    loop {
        match sys::waitpid(ANY_CHILD, 0) {
            Ok(Some((child, status))) if child == pid => return Ok(status),
            Ok(Some((child, status))) => reaped(child, status, daemons),
            // Without WNOHANG the kernel returns only once a child ended.
            Ok(None) => {}
            Err(e) if e.errno == EINTR => {}
            Err(e) => return Err(e),
        }
    }
}

/// A child other than the foreground program ended: a daemon is reported
/// and forgotten; an adopted orphan needs no report.
fn reaped(pid: usize, status: WaitStatus, daemons: &mut Vec<Daemon>) {
    if let Some(i) = daemons.iter().position(|d| d.pid == pid) {
        let daemon = daemons.remove(i);
        println!("init: daemon {} (pid {pid}) {status}", daemon.name);
    }
}

/// Ends every child still alive — SIGTERM, then SIGKILL, each phase
/// bounded by [`STOP_GRACE_MS`] — and reaps them all. False if some child
/// is left (or waiting failed).
fn stop_children(daemons: &mut Vec<Daemon>) -> bool {
    for signal in [SIGTERM, SIGKILL] {
        let deadline = now_ms().map(|now| now + STOP_GRACE_MS);
        let mut signalled: Vec<usize> = Vec::new();
        for poll in 0.. {
            match reap_ended(daemons) {
                Ok(true) => return true,
                Ok(false) => {}
                Err(e) => {
                    println!("init: waiting for children failed: {e} (errno {})", e.errno);
                    return false;
                }
            }
            for (pid, name) in alive_children(daemons) {
                if signalled.contains(&pid) {
                    continue;
                }
                signalled.push(pid);
                match (signal, daemons.iter().any(|d| d.pid == pid)) {
                    (SIGTERM, true) => println!("init: stopping daemon {name} (pid {pid})"),
                    (SIGTERM, false) => println!("init: stopping {name} (pid {pid})"),
                    _ => println!("init: {name} (pid {pid}) did not end on SIGTERM; sending SIGKILL"),
                }
                match sys::kill(pid, signal) {
                    // Ended meanwhile: the next reap collects it.
                    Err(e) if e.errno == ESRCH => {}
                    Err(e) => println!("init: cannot signal pid {pid}: {e} (errno {})", e.errno),
                    Ok(()) => {}
                }
            }
            let over = match (deadline, now_ms()) {
                (Some(deadline), Some(now)) => now >= deadline,
                _ => poll >= STOP_POLLS,
            };
            if over {
                break;
            }
            let _ = sys::nanosleep(&STOP_POLL, None);
        }
    }
    // A last look: what ended in the final pause is reaped, the rest named.
    if let Ok(true) = reap_ended(daemons) {
        return true;
    }
    for (pid, name) in alive_children(daemons) {
        println!("init: {name} (pid {pid}) did not end");
    }
    false
}

/// Reaps every child that has ended, without waiting. True when no child
/// is left at all.
fn reap_ended(daemons: &mut Vec<Daemon>) -> Result<bool> {
    loop {
        match sys::waitpid(ANY_CHILD, WNOHANG) {
            Ok(Some((pid, status))) => reaped(pid, status, daemons),
            Ok(None) => return Ok(false),
            Err(e) if e.errno == ECHILD => return Ok(true),
            Err(e) if e.errno == EINTR => {}
            Err(e) => return Err(e),
        }
    }
}

/// Init's live children, `(pid, name)`, from `sys:processes` (`pid ppid
/// state pages name`); the daemons not yet reaped if it cannot be read.
fn alive_children(daemons: &[Daemon]) -> Vec<(usize, String)> {
    let me = sys::getpid().unwrap_or(1);
    let listed = io::read_file("sys:processes").ok().and_then(|text| String::from_utf8(text).ok());
    let Some(text) = listed else {
        return daemons.iter().map(|d| (d.pid, d.name.clone())).collect();
    };
    text.lines()
        .skip(1)
        .filter_map(|line| {
            // `pid ppid state pages threads name`; the name may hold spaces.
            let mut fields = line.splitn(6, ' ');
            let pid = fields.next()?.parse().ok()?;
            let ppid: usize = fields.next()?.parse().ok()?;
            let alive = fields.next()? == "alive";
            let name = fields.nth(2).unwrap_or("?");
            (alive && ppid == me && pid != me).then(|| (pid, name.into()))
        })
        .collect()
}

/// Milliseconds on the monotonic clock, if the kernel has one.
fn now_ms() -> Option<u64> {
    let time = sys::clock_gettime(CLOCK_MONOTONIC).ok()?;
    Some((time.tv_sec as u64).saturating_mul(1000).saturating_add(time.tv_nsec as u64 / 1_000_000))
}
