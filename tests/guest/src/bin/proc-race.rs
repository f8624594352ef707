//! `proc-race`: process calls that meet on two CPUs at the worst moment,
//! many times over: `fork` while another thread lists the processes, and
//! wakes (futex, kill) that come while their thread is going to sleep.
//!
//! The console's Ctrl-C does both at once: `consoled` reads
//! `sys:processes` to find the foreground's children and kills them,
//! while the shell may be forking the next one or going to sleep.
//!
//! - A lock-order deadlock between `fork` and the listing stops both CPUs
//!   in the kernel: the run never gets past the first check, and the boot
//!   test fails on its timeout (the last line names this program).
//! - A lost wake shows as a sleeper that stays asleep although it was
//!   woken: a futex wait that lasts until its timeout, or a killed process
//!   that does not end.
//!
//! | check | expected |
//! |---|---|
//! | a thread reads `sys:processes` without pause while the other forks [`FORKS`] children (each exits at once) | every fork succeeds, every child is reaped with status 0, and the reader read the list at least once |
//! | two threads hand a token back and forth with futex wait / wake, [`ROUNDS`] times (each wait with a [`STALL_NS`] timeout) | no wait lasts until its timeout |
//! | a child whose two threads do the same is killed at once, after a yield or after a short sleep, [`KILLS`] times | each one ends with SIGTERM within [`END_NS`] |
//! | a child that goes straight into `nanosleep(30 s)` is killed a varying while after `fork`, [`KILLS`] times (Ctrl-C to `sleep` at the console) | each one ends with SIGTERM within [`END_NS`] |
//!
//! A child that a kill did not end is killed again (a second kill wakes
//! its threads again), so a failure does not hang the run.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::sync::Arc;
use core::sync::atomic::{AtomicU32, Ordering};

use tessera_guest_tests::Checks;
use tessera_guest_tests::system::{fork_with, reap};
use tessera_runtime::abi::flag::CLOCK_MONOTONIC;
use tessera_runtime::abi::signal::SIGTERM;
use tessera_runtime::abi::{TimeSpec, WNOHANG};
use tessera_runtime::{Args, io, sys, thread};

tessera_runtime::entry!(main);

/// Hand-overs of the token in the futex case.
const ROUNDS: u32 = 20_000;
/// A futex wait that lasts this long was not woken by its partner, which
/// wakes it within microseconds: its wake was lost and the timeout ended it.
/// Long, because a busy host can hold a virtual CPU up for a second or two
/// (seen once at 2 s with QEMU pinned to one loaded host CPU).
const STALL_NS: u64 = 5_000_000_000;
/// Children killed in each kill case.
const KILLS: u32 = 60;
/// A killed child must have ended within this (long for the same reason).
const END_NS: u64 = 5_000_000_000;

fn now_ns() -> u64 {
    sys::clock_gettime(CLOCK_MONOTONIC).map_or(0, |t| t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64)
}

fn timespec(ns: u64) -> TimeSpec {
    TimeSpec { tv_sec: (ns / 1_000_000_000) as i64, tv_nsec: (ns % 1_000_000_000) as i32 }
}

/// The token's holder: `who` waits while `turn` is the other's, then passes
/// the token on, `rounds` times (`None`: for ever). Returns the waits that
/// lasted until their timeout.
fn hand_over(turn: &AtomicU32, who: u32, rounds: Option<u32>, timeout: Option<&TimeSpec>) -> u32 {
    let mut stalls = 0;
    let mut done = 0;
    while rounds.is_none_or(|r| done < r) {
        loop {
            let seen = turn.load(Ordering::Acquire);
            if seen == who {
                break;
            }
            let start = now_ns();
            let _ = sys::futex_wait(turn, seen, timeout);
            if timeout.is_some() && now_ns().saturating_sub(start) >= STALL_NS {
                stalls += 1;
            }
        }
        turn.store(1 - who, Ordering::Release);
        let _ = sys::futex_wake(turn, 1);
        done += 1;
    }
    stalls
}

/// Two threads pass a token back and forth: every hand-over wakes a thread
/// that has just registered its wait and is about to block.
fn futex_ping_pong(checks: &mut Checks) {
    let turn = Arc::new(AtomicU32::new(0));
    let stalls = Arc::new(AtomicU32::new(0));
    let timeout = timespec(STALL_NS);
    let (other_turn, other_stalls) = (turn.clone(), stalls.clone());
    let partner = match thread::spawn(move || {
        other_stalls.fetch_add(hand_over(&other_turn, 1, Some(ROUNDS), Some(&timeout)), Ordering::AcqRel);
    }) {
        Ok(handle) => handle,
        Err(e) => return checks.check("start the partner thread", false, format_args!("{e}")),
    };
    let start = now_ns();
    let mine = hand_over(&turn, 0, Some(ROUNDS), Some(&timeout));
    partner.join();
    let total = mine + stalls.load(Ordering::Acquire);
    let ms = now_ns().saturating_sub(start) / 1_000_000;
    checks.check(
        "20000 futex hand-overs between two threads: no wake lost",
        total == 0,
        format_args!(
            "{total} wait(s) were woken only by their {} s timeout ({ms} ms in all)",
            STALL_NS / 1_000_000_000
        ),
    );
}

/// How the parent waits between `fork` and `kill` in round `i`.
fn pause(i: u32) {
    match i % 4 {
        0 => {}
        1 => {
            let _ = sys::sched_yield();
        }
        // 0 to 2.25 ms, in steps of 250 µs.
        _ => {
            let _ = sys::nanosleep(&timespec(u64::from(i % 10) * 250_000), None);
        }
    }
}

/// Kills `pid` and reaps it; returns whether it ended with SIGTERM within
/// [`END_NS`]. One that did not is killed again and reaped regardless.
fn kill_and_reap(pid: usize) -> Result<(), &'static str> {
    if sys::kill(pid, SIGTERM).is_err() {
        return Err("kill failed");
    }
    let start = now_ns();
    loop {
        match sys::waitpid(pid, WNOHANG) {
            Ok(Some((_, status))) if status.signal() == Some(SIGTERM) => return Ok(()),
            Ok(Some(_)) => return Err("it did not end by SIGTERM"),
            Ok(None) => {}
            Err(_) => return Err("waitpid failed"),
        }
        if now_ns().saturating_sub(start) >= END_NS {
            // The wake was lost: a second kill wakes its threads again.
            let _ = sys::kill(pid, SIGTERM);
            let _ = reap(pid);
            return Err("it was still alive after 5 s");
        }
        let _ = sys::nanosleep(&timespec(1_000_000), None);
    }
}

/// Kills [`KILLS`] children made by `child`; checks each one ends.
fn kill_children(checks: &mut Checks, what: &str, child: fn() -> i32) {
    let mut failures = 0;
    let mut first = None;
    for i in 0..KILLS {
        let result = match fork_with(child) {
            Ok(pid) => {
                pause(i);
                kill_and_reap(pid)
            }
            Err(_) => Err("fork failed"),
        };
        if let Err(why) = result {
            failures += 1;
            first.get_or_insert((i, why));
        }
    }
    checks.check(what, failures == 0, format_args!("{failures} of {KILLS} failed; first: {first:?}"));
}

/// A child whose two threads hand a token back and forth for ever.
fn ping_pong_child() -> i32 {
    let turn = Arc::new(AtomicU32::new(0));
    let other = turn.clone();
    if thread::spawn(move || {
        hand_over(&other, 1, None, None);
    })
    .is_err()
    {
        return 1;
    }
    hand_over(&turn, 0, None, None);
    0
}

/// A child that sleeps at once (`sleep 30` at the console).
fn sleeping_child() -> i32 {
    let _ = sys::nanosleep(&timespec(30_000_000_000), None);
    0
}

/// Children forked while the list is being read.
const FORKS: u32 = 300;

/// `fork` takes the parent's locks and the process table; the listing
/// takes the table and every process's locks: each must not hold what the
/// other waits for.
fn fork_while_listing(checks: &mut Checks) {
    let stop = Arc::new(AtomicU32::new(0));
    let reads = Arc::new(AtomicU32::new(0));
    let (reader_stop, reader_reads) = (stop.clone(), reads.clone());
    let reader = match thread::spawn(move || {
        while reader_stop.load(Ordering::Acquire) == 0 {
            if io::read_file("sys:processes").is_ok() {
                reader_reads.fetch_add(1, Ordering::AcqRel);
            }
        }
    }) {
        Ok(handle) => handle,
        Err(e) => return checks.check("start the reader thread", false, format_args!("{e}")),
    };
    let mut failures = 0;
    let mut first = None;
    for i in 0..FORKS {
        let result = match fork_with(|| 0) {
            Ok(pid) => match reap(pid) {
                Ok((_, status)) if status.code() == Some(0) => Ok(()),
                Ok(_) => Err("the child did not exit with 0"),
                Err(_) => Err("waitpid failed"),
            },
            Err(_) => Err("fork failed"),
        };
        if let Err(why) = result {
            failures += 1;
            first.get_or_insert((i, why));
        }
    }
    stop.store(1, Ordering::Release);
    reader.join();
    let reads = reads.load(Ordering::Acquire);
    checks.check(
        "300 forks while another thread reads sys:processes: all forked and reaped",
        failures == 0 && reads > 0,
        format_args!("{failures} of {FORKS} failed (first: {first:?}); {reads} list(s) read"),
    );
}

fn main(_args: Args) -> i32 {
    let mut checks = Checks::new("proc-race");
    fork_while_listing(&mut checks);
    futex_ping_pong(&mut checks);
    kill_children(&mut checks, "a kill ends a child whose threads wait on each other (60 times)", ping_pong_child);
    kill_children(&mut checks, "a kill ends a child going to sleep in nanosleep (60 times)", sleeping_child);
    checks.finish()
}
