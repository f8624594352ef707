//! `preempt`: the timer preempts user code and every CPU runs work.
//!
//! The parent forks one more CPU-bound child than there are CPUs; once all
//! exist it sends each the same deadline, 800 ms ahead. Each child spins,
//! checking the clock only now and then, until the deadline, and reports how
//! many rounds it counted. With time slices every child counts about as much
//! as the others; without preemption the extra child would only start after
//! the deadline and count one batch. The window opens only after the last
//! fork, so slow forks (a busy host starving the virtual CPUs) cannot eat
//! into one child's share and fail the test. `sys:scheduler`'s busy
//! ticks show user work ran on every CPU, and its IPI counts that new work
//! woke an idle CPU with a reschedule IPI (if the forks found every CPU
//! busy, it lets them go idle and forks again, a few times).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;

use tessera_guest_tests::Checks;
use tessera_guest_tests::system::{fork_with, read_words, reap, write_words};
use tessera_runtime::abi::flag::CLOCK_MONOTONIC;
use tessera_runtime::{Args, io, sys};

tessera_runtime::entry!(main);

const WINDOW_NS: u64 = 800_000_000;

fn now_ns() -> u64 {
    let t = sys::clock_gettime(CLOCK_MONOTONIC).expect("clock_gettime");
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// `(cpus online, busy ticks per CPU, reschedule IPIs per CPU)` from
/// `sys:scheduler`.
fn scheduler() -> (usize, Vec<u64>, Vec<u64>) {
    let text = io::read_file("sys:scheduler").expect("sys:scheduler");
    let text = core::str::from_utf8(&text).expect("utf-8");
    let mut cpus = 0;
    let mut busy = Vec::new();
    let mut ipis = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["cpus", n] => cpus = n.parse().unwrap_or(0),
            [cpu, "ticks", _, "busy_ticks", n, "ipis", i] if cpu.starts_with("cpu") => {
                busy.push(n.parse().unwrap_or(0));
                ipis.push(i.parse().unwrap_or(0));
            }
            _ => {}
        }
    }
    (cpus, busy, ipis)
}

fn main(_args: Args) -> i32 {
    let mut checks = Checks::new("preempt");
    let (cpus, busy_before, ipis_before) = scheduler();
    checks.check("sys:scheduler lists the CPUs", cpus >= 1, format_args!("cpus {cpus}"));
    let children = cpus + 1;
    let [read_end, write_end] = sys::pipe2(0).expect("pipe2");
    let [go_read, go_write] = sys::pipe2(0).expect("pipe2");
    let mut pids = Vec::new();
    for i in 0..children {
        let pid = fork_with(move || {
            let _ = sys::close(go_write);
            let Some([deadline]) = read_words::<1>(go_read) else { return 2 };
            let mut rounds: u64 = 0;
            loop {
                for _ in 0..4096 {
                    rounds = core::hint::black_box(rounds + 1);
                }
                if now_ns() >= deadline {
                    break;
                }
            }
            if write_words(write_end, &[i as u64, rounds]).is_err() { 1 } else { 0 }
        })
        .expect("fork");
        pids.push(pid);
    }
    let _ = sys::close(write_end);
    let _ = sys::close(go_read);
    let deadline = now_ns() + WINDOW_NS;
    let sent = (0..children).filter(|_| write_words(go_write, &[deadline]).is_ok()).count();
    checks.check("every child got the deadline", sent == children, format_args!("{sent} of {children}"));
    let _ = sys::close(go_write);
    let mut rounds = alloc::vec![0u64; children];
    for _ in 0..children {
        match read_words::<2>(read_end) {
            Some([i, n]) if (i as usize) < children => rounds[i as usize] = n,
            other => checks.check("a child reported", false, format_args!("{other:?}")),
        }
    }
    for pid in pids {
        let status = reap(pid).map(|(_, s)| s.success());
        checks.check("a spinning child exited 0", status == Ok(true), format_args!("{status:?}"));
    }
    let most = rounds.iter().copied().max().unwrap_or(0);
    for (i, &n) in rounds.iter().enumerate() {
        checks.check(
            "every child ran within the window (time slices)",
            n > 0 && n * 20 >= most,
            format_args!("child {i}: {n} rounds (most {most})"),
        );
    }
    let (_, busy_after, ipis_after) = scheduler();
    let worked = busy_after.iter().zip(busy_before.iter().chain(core::iter::repeat(&0))).filter(|(a, b)| **a > **b + 5);
    let worked = worked.count();
    checks.check(
        "sys:scheduler shows user work on every CPU",
        worked >= cpus.min(2) && worked == cpus,
        format_args!("{worked} of {cpus} CPUs got busy ticks: before {busy_before:?}, after {busy_after:?}"),
    );
    if cpus > 1 {
        let before = ipis_before.iter().sum::<u64>();
        let mut after = ipis_after.iter().sum::<u64>();
        // The forks above may all have found the other CPUs busy (with the
        // previous test's leftovers): then let every CPU go idle and give
        // it new work again, a few times.
        for _ in 0..10 {
            if after > before {
                break;
            }
            let pause = tessera_runtime::abi::TimeSpec { tv_sec: 0, tv_nsec: 30_000_000 };
            let _ = sys::nanosleep(&pause, None);
            if let Ok(pid) = fork_with(|| 0) {
                let _ = reap(pid);
            }
            after = scheduler().2.iter().sum::<u64>();
        }
        checks.check(
            "new work woke an idle CPU with a reschedule IPI",
            after > before,
            format_args!("reschedule IPIs received: {before} before, {after} after"),
        );
    }
    checks.finish()
}
