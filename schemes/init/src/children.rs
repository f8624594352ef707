//! init's children beyond the foreground program: daemons, respawned
//! programs, and stopping whatever is left at the end (see the crate doc
//! for the reports each produces).

use alloc::string::String;
use alloc::vec::Vec;

use tessera_runtime::abi::TimeSpec;
use tessera_runtime::abi::WNOHANG;
use tessera_runtime::abi::error::{ECHILD, EINTR, ESRCH};
use tessera_runtime::abi::flag::CLOCK_MONOTONIC;
use tessera_runtime::abi::signal::{SIGKILL, SIGTERM};
use tessera_runtime::sys::{self, ANY_CHILD, WaitStatus};
use tessera_runtime::{Result, io, println};

use crate::{RESPAWN_FAST_MS, RESPAWN_GIVE_UP, RESPAWN_PAUSE};

/// How long each stop phase (SIGTERM, then SIGKILL) waits for children.
pub const STOP_GRACE_MS: u64 = 1000;
/// The pause between checks while stopping children.
const STOP_POLL: TimeSpec = TimeSpec { tv_sec: 0, tv_nsec: 10_000_000 };
/// Checks per stop phase when there is no clock to measure the grace.
const STOP_POLLS: usize = 100;

/// A daemon init started and has not reaped yet.
pub struct Daemon {
    pub pid: usize,
    pub name: String,
}

/// A program init restarts whenever it ends (`respawn` lines).
pub struct Respawn {
    argv: Vec<String>,
    /// The running instance; `None` once init gave up on it.
    pub pid: Option<usize>,
    /// When the running instance started (monotonic ms), if there is a clock.
    started_ms: Option<u64>,
    /// Quick ends in a row (see [`RESPAWN_FAST_MS`]).
    quick_ends: u32,
    /// A `privileged respawn` line: every instance keeps init's privilege.
    privileged: bool,
}

impl Respawn {
    pub fn new(argv: &[&str], privileged: bool) -> Self {
        Self {
            argv: argv.iter().map(|&arg| arg.into()).collect(),
            pid: None,
            started_ms: None,
            quick_ends: 0,
            privileged,
        }
    }

    /// The program's name as the script gave it.
    pub fn name(&self) -> &str {
        &self.argv[0]
    }

    /// Starts an instance; false (reported) if it cannot be forked.
    pub fn start(&mut self, envp: &[&str]) -> bool {
        let argv: Vec<&str> = self.argv.iter().map(String::as_str).collect();
        self.started_ms = now_ms();
        match crate::spawn(&argv, envp, self.privileged) {
            Ok(pid) => {
                self.pid = Some(pid);
                true
            }
            Err(e) => {
                println!(
                    "init: cannot run {}{}: {e} (errno {})",
                    self.name(),
                    crate::privileged_note(self.privileged),
                    e.errno
                );
                self.pid = None;
                false
            }
        }
    }

    /// The running instance ended with `status`: reports it and starts the
    /// next, pausing first if it ended quickly. False if init gives up on
    /// the program (reported).
    pub fn ended(&mut self, status: WaitStatus, envp: &[&str]) -> bool {
        let pid = self.pid.take().unwrap_or(0);
        let quick = match (self.started_ms, now_ms()) {
            (Some(start), Some(now)) => now.saturating_sub(start) < RESPAWN_FAST_MS,
            // No clock: only a failure counts as quick.
            _ => !status.success(),
        };
        self.quick_ends = if quick { self.quick_ends + 1 } else { 0 };
        if self.quick_ends >= RESPAWN_GIVE_UP {
            println!("init: {} (pid {pid}) {status}", self.name());
            println!(
                "init: {} ended {} times in a row within {RESPAWN_FAST_MS} ms of starting; not restarting it",
                self.name(),
                self.quick_ends
            );
            return false;
        }
        println!("init: {} (pid {pid}) {status}; restarting", self.name());
        if quick {
            let _ = sys::nanosleep(&RESPAWN_PAUSE, None);
        }
        if !self.start(envp) {
            return false;
        }
        if let Some(pid) = self.pid {
            println!(
                "init: started {} (pid {pid}){}, restarted when it ends",
                self.name(),
                crate::privileged_note(self.privileged)
            );
        }
        true
    }
}

/// If `pid` is one of `daemons`, reports its end, forgets it and returns
/// true.
pub fn reaped_daemon(pid: usize, status: WaitStatus, daemons: &mut Vec<Daemon>) -> bool {
    let Some(i) = daemons.iter().position(|d| d.pid == pid) else { return false };
    let daemon = daemons.remove(i);
    println!("init: daemon {} (pid {pid}) {status}", daemon.name);
    true
}

/// Ends every child still alive — SIGTERM, then SIGKILL, each phase
/// bounded by [`STOP_GRACE_MS`] — and reaps them all. False if some child
/// is left (or waiting failed).
pub fn stop_children(daemons: &mut Vec<Daemon>) -> bool {
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
                match (signal, daemons.iter().find(|d| d.pid == pid)) {
                    // The name init gave it (a forked server has init's).
                    (SIGTERM, Some(daemon)) => println!("init: stopping daemon {} (pid {pid})", daemon.name),
                    (SIGTERM, None) => println!("init: stopping {name} (pid {pid})"),
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
            Ok(Some((pid, status))) => {
                reaped_daemon(pid, status, daemons);
            }
            Ok(None) => return Ok(false),
            Err(e) if e.errno == ECHILD => return Ok(true),
            Err(e) if e.errno == EINTR => {}
            Err(e) => return Err(e),
        }
    }
}

/// Init's live children, `(pid, name)`, from `sys:processes` (`pid ppid
/// state pages threads name`); the daemons not yet reaped if it cannot be
/// read.
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
pub fn now_ms() -> Option<u64> {
    let time = sys::clock_gettime(CLOCK_MONOTONIC).ok()?;
    Some((time.tv_sec as u64).saturating_mul(1000).saturating_add(time.tv_nsec as u64 / 1_000_000))
}
