//! `threads`: threads within a process.
//!
//! | check | expected |
//! |---|---|
//! | `gettid` of the first thread | the pid |
//! | 4 threads add to one counter, joined | every add seen; distinct tids, none the pid |
//! | `sys:processes` while they wait | 5 threads, then 1 after the joins |
//! | a spinning thread per CPU | busy ticks on every CPU |
//! | futex: wrong value, timeout, misaligned, bad op, kernel address | EAGAIN, ETIMEDOUT, EINVAL, EINVAL, EFAULT |
//! | futex wake of a waiting thread | wakes exactly 1 |
//! | `clone_thread` with kernel-half entry / stack / tls | EINVAL |
//! | first thread calls `exit_thread(3)`, the last one `exit_thread(9)` | process exits with 9 |
//! | a thread calls `exit(7)` while the first blocks in `read` | process exits with 7, at once |
//! | a thread loads from an unmapped address | whole process killed by SIGSEGV |
//! | `kill` of a process with 4 spinning threads | killed by the signal |
//! | `execve` while a sibling spins and one sleeps on a futex | the new program runs alone (1 thread, tid = pid) |
//! | threads past the limit (256 per process) | EAGAIN; `exit` then ends all 256 |
//! | 3 threads yield to each other 3000 times | fewer than half the switches load a root (`sys:scheduler` `root_loads`): a thread after one of its own process keeps it |
//! | free frames after all of it | as before (kernel stacks freed) |
#![no_std]
#![no_main]

extern crate alloc;

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use tessera_guest_tests::system::{every_cpu_ticked, fork_with, quiet_free_frames, reap, settled_free_frames};
use tessera_guest_tests::{Checks, Shown};
use tessera_runtime::abi::TimeSpec;
use tessera_runtime::abi::error::{EAGAIN, EFAULT, EINVAL, ETIMEDOUT};
use tessera_runtime::abi::flag::CLOCK_MONOTONIC;
use tessera_runtime::abi::signal::{SIGSEGV, SIGTERM};
use tessera_runtime::syscall::syscall4;
use tessera_runtime::{Args, io, sys, thread};

tessera_runtime::entry!(main);

/// argv[1] that makes this program the `execve` target: it checks it runs
/// alone and exits with [`EXEC_TARGET_STATUS`].
const EXEC_TARGET: &str = "exec-target";
const EXEC_TARGET_STATUS: usize = 42;
/// A kernel-half address (every user address is below it on both arches).
const KERNEL_ADDRESS: usize = 0xFFFF_8000_0000_0000;

fn sleep_ms(ms: u64) {
    let t = TimeSpec { tv_sec: (ms / 1000) as i64, tv_nsec: ((ms % 1000) * 1_000_000) as i32 };
    let _ = sys::nanosleep(&t, None);
}

fn now_ns() -> u64 {
    let t = sys::clock_gettime(CLOCK_MONOTONIC).expect("clock_gettime");
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// This process's thread count from `sys:processes` (`pid ppid state pages
/// threads name`).
fn thread_count() -> Option<usize> {
    let pid = sys::getpid().ok()?;
    let text = io::read_file("sys:processes").ok()?;
    let text = core::str::from_utf8(&text).ok()?;
    text.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split(' ').collect();
        (fields.first()?.parse::<usize>().ok()? == pid).then(|| fields.get(4)?.parse().ok())?
    })
}

/// `switches` and `root_loads` from `sys:scheduler`.
fn switches_and_root_loads() -> Option<(u64, u64)> {
    let text = io::read_file("sys:scheduler").ok()?;
    let text = core::str::from_utf8(&text).ok()?;
    let field = |name: &str| text.lines().find_map(|line| line.strip_prefix(name)?.trim().parse::<u64>().ok());
    Some((field("switches ")?, field("root_loads ")?))
}

/// Threads of one process that yield to each other switch without loading
/// the root again: each switch from a thread to one of its own process
/// keeps the root loaded (`sched::run`). Before that, every switch loaded
/// one (and the kernel-only root in between).
fn yields_keep_the_root(checks: &mut Checks) {
    const THREADS: usize = 3;
    const YIELDS: usize = 1000;
    let before = switches_and_root_loads();
    let handles: Vec<thread::JoinHandle> = (0..THREADS)
        .map(|_| {
            thread::spawn(|| {
                for _ in 0..YIELDS {
                    let _ = sys::sched_yield();
                }
            })
            .expect("spawn")
        })
        .collect();
    for handle in handles {
        handle.join();
    }
    let after = switches_and_root_loads();
    let (Some((s0, r0)), Some((s1, r1))) = (before, after) else {
        return checks.check("sys:scheduler has switches and root_loads", false, format_args!("{before:?} {after:?}"));
    };
    let (switches, loads) = (s1 - s0, r1 - r0);
    checks.check(
        "threads yielding to each other keep their root",
        switches >= (THREADS * YIELDS) as u64 && loads * 2 < switches,
        format_args!("{switches} switches, {loads} root loads"),
    );
}

/// Busy ticks per CPU from `sys:scheduler`.
fn busy_ticks() -> Vec<u64> {
    let text = io::read_file("sys:scheduler").unwrap_or_default();
    let text = core::str::from_utf8(&text).unwrap_or("");
    text.lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                [cpu, "ticks", _, "busy_ticks", n, ..] if cpu.starts_with("cpu") => n.parse().ok(),
                _ => None,
            }
        })
        .collect()
}

/// Sleeps on `word` until it is no longer `value`.
fn wait_while(word: &AtomicU32, value: u32) {
    while word.load(Ordering::Acquire) == value {
        let _ = sys::futex_wait(word, value, None);
    }
}

fn counter_and_tids(checks: &mut Checks) {
    const THREADS: usize = 4;
    const ADDS: u64 = 20_000;
    let pid = sys::getpid().expect("getpid");
    checks.check(
        "gettid of the first thread is the pid",
        sys::gettid() == Ok(pid),
        format_args!("{:?}", sys::gettid()),
    );
    let counter = Arc::new(AtomicU64::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(AtomicU32::new(0));
    let tids = Arc::new([const { AtomicUsize::new(0) }; THREADS]);
    let handles: Vec<thread::JoinHandle> = (0..THREADS)
        .map(|i| {
            let (counter, started, release, tids) = (counter.clone(), started.clone(), release.clone(), tids.clone());
            thread::spawn(move || {
                tids[i].store(sys::gettid().unwrap_or(0), Ordering::Relaxed);
                for _ in 0..ADDS {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                started.fetch_add(1, Ordering::AcqRel);
                wait_while(&release, 0);
            })
            .expect("spawn")
        })
        .collect();
    while started.load(Ordering::Acquire) < THREADS {
        let _ = sys::sched_yield();
    }
    let during = thread_count();
    checks.check(
        "sys:processes shows 5 threads while 4 are alive",
        during == Some(THREADS + 1),
        format_args!("{during:?}"),
    );
    release.store(1, Ordering::Release);
    let woken = sys::futex_wake(&release, usize::MAX);
    let handle_tids: Vec<usize> = handles.iter().map(thread::JoinHandle::tid).collect();
    for handle in handles {
        handle.join();
    }
    checks.check(
        "a futex wake reached the waiting threads",
        matches!(woken, Ok(n) if n <= THREADS),
        format_args!("{}", Shown(woken)),
    );
    checks.check(
        "4 threads x 20000 adds all seen",
        counter.load(Ordering::Relaxed) == THREADS as u64 * ADDS,
        format_args!("{}", counter.load(Ordering::Relaxed)),
    );
    let seen: Vec<usize> = tids.iter().map(|t| t.load(Ordering::Relaxed)).collect();
    let distinct = seen.iter().enumerate().all(|(i, t)| *t != 0 && *t != pid && !seen[i + 1..].contains(t));
    checks.check(
        "each thread has its own tid, as clone_thread returned",
        distinct && seen == handle_tids,
        format_args!("gettid {seen:?}, clone_thread {handle_tids:?}, pid {pid}"),
    );
    // A join returns once the thread's tid word is cleared, which its CPU
    // does just before taking the thread off the list.
    let _ = every_cpu_ticked();
    let after = thread_count();
    checks.check("1 thread left after the joins", after == Some(1), format_args!("{after:?}"));
}

fn all_cpus(checks: &mut Checks) {
    let before = busy_ticks();
    let deadline = now_ns() + 400_000_000;
    // One spinner per CPU.
    let cpus = before.len().max(1);
    let spinners: Vec<thread::JoinHandle> = (0..cpus)
        .map(|_| {
            thread::spawn(move || {
                while now_ns() < deadline {
                    for _ in 0..4096 {
                        core::hint::spin_loop();
                    }
                }
            })
            .expect("spawn")
        })
        .collect();
    for handle in spinners {
        handle.join();
    }
    let after = busy_ticks();
    let grew = before.len() == after.len() && before.iter().zip(&after).all(|(b, a)| a > b);
    checks.check(
        "a spinning thread per CPU kept every CPU busy",
        grew,
        format_args!("busy ticks {before:?} -> {after:?}"),
    );
}

fn futexes(checks: &mut Checks) {
    let word = AtomicU32::new(5);
    checks.expect_errno("futex wait on a changed value", sys::futex_wait(&word, 6, None).map(|()| 0), EAGAIN);
    let short = TimeSpec { tv_sec: 0, tv_nsec: 20_000_000 };
    let start = now_ns();
    let timed = sys::futex_wait(&word, 5, Some(&short)).map(|()| 0);
    let waited_ms = (now_ns() - start) / 1_000_000;
    checks.expect_errno("futex wait with a 20 ms timeout", timed, ETIMEDOUT);
    checks.check("the timeout took about 20 ms", (20..500).contains(&waited_ms), format_args!("{waited_ms} ms"));
    checks.check("futex wake with no waiter wakes 0", sys::futex_wake(&word, 1) == Ok(0), format_args!(""));
    let misaligned = word.as_ptr() as usize + 1;
    // SAFETY: the kernel only reads the (misaligned) word; it refuses.
    let got = unsafe { syscall4(tessera_runtime::abi::number::SYS_FUTEX, misaligned, 0, 5, 0) };
    checks.expect_errno("futex on a misaligned word", got, EINVAL);
    // SAFETY: an unknown operation changes nothing.
    let got = unsafe { syscall4(tessera_runtime::abi::number::SYS_FUTEX, word.as_ptr() as usize, 99, 5, 0) };
    checks.expect_errno("futex with an unknown operation", got, EINVAL);
    // SAFETY: the kernel refuses a kernel-half word.
    let got = unsafe { syscall4(tessera_runtime::abi::number::SYS_FUTEX, KERNEL_ADDRESS, 0, 5, 0) };
    checks.expect_errno("futex wait on a kernel address", got, EFAULT);
    let bad_timeout = TimeSpec { tv_sec: -1, tv_nsec: 0 };
    checks.expect_errno(
        "futex wait with a negative timeout",
        sys::futex_wait(&word, 5, Some(&bad_timeout)).map(|()| 0),
        EINVAL,
    );

    // One waiter, woken by one wake.
    let shared = Arc::new(AtomicU32::new(0));
    let waiting = Arc::new(AtomicU32::new(0));
    let (s, w) = (shared.clone(), waiting.clone());
    let waiter = thread::spawn(move || {
        w.store(1, Ordering::Release);
        let _ = sys::futex_wait(&s, 0, None);
        w.store(2, Ordering::Release);
    })
    .expect("spawn");
    while waiting.load(Ordering::Acquire) == 0 {
        let _ = sys::sched_yield();
    }
    // Give it time to be asleep in the kernel, then wake it.
    let mut woken = Ok(0);
    for _ in 0..200 {
        sleep_ms(2);
        woken = sys::futex_wake(&shared, 1);
        if woken != Ok(0) || waiting.load(Ordering::Acquire) == 2 {
            break;
        }
    }
    waiter.join();
    checks.check("futex wake woke the sleeping thread", woken == Ok(1), format_args!("{}", Shown(woken)));
}

fn bad_clones(checks: &mut Checks) {
    let entry = counter_and_tids as *const () as usize;
    let mut stack = [0u128; 16];
    let top = stack.as_mut_ptr() as usize + core::mem::size_of_val(&stack);
    // SAFETY: each call is refused before any thread starts.
    unsafe {
        checks.expect_errno("clone_thread, kernel entry", sys::clone_thread(KERNEL_ADDRESS, top, 0, 0), EINVAL);
        checks.expect_errno("clone_thread, kernel stack", sys::clone_thread(entry, KERNEL_ADDRESS, 0, 0), EINVAL);
        checks.expect_errno("clone_thread, kernel tls", sys::clone_thread(entry, top, 0, KERNEL_ADDRESS), EINVAL);
        checks.expect_errno("clone_thread, non-canonical tls", sys::clone_thread(entry, top, 0, 1 << 63), EINVAL);
    }
}

/// Runs `body` in a forked child and checks its wait status.
fn child_case(
    checks: &mut Checks,
    what: &str,
    expect_code: Option<usize>,
    expect_signal: Option<usize>,
    body: fn() -> i32,
) {
    let start = now_ns();
    let result = fork_with(body).and_then(reap);
    let ms = (now_ns() - start) / 1_000_000;
    match result {
        Ok((_, status)) => checks.check(
            what,
            status.code() == expect_code && status.signal() == expect_signal && ms < 3000,
            format_args!("{status} after {ms} ms"),
        ),
        Err(e) => checks.check(what, false, format_args!("fork/reap: {e}")),
    }
}

fn last_thread_sets_status() -> i32 {
    let _ = thread::spawn(|| {
        sleep_ms(50);
        sys::exit_thread(9, None);
    })
    .map(core::mem::forget);
    sys::exit_thread(3, None)
}

fn exit_from_a_thread() -> i32 {
    let [read_end, _write_end] = sys::pipe2(0).expect("pipe2");
    let _ = thread::spawn(|| {
        sleep_ms(30);
        sys::exit(7);
    })
    .map(core::mem::forget);
    let mut byte = [0u8];
    // Blocks (the write end stays open) until the other thread's exit ends
    // the process.
    let _ = sys::read(read_end, &mut byte);
    1
}

fn fault_in_a_thread() -> i32 {
    let _ = thread::spawn(|| {
        sleep_ms(20);
        // SAFETY: not safe: the load must fault and the kernel kill the
        // whole process.
        unsafe { core::ptr::read_volatile(core::hint::black_box(16usize) as *const u64) };
    })
    .map(core::mem::forget);
    sleep_ms(10_000);
    1
}

fn spin_forever() -> ! {
    loop {
        core::hint::spin_loop();
    }
}

fn spinning_threads() -> i32 {
    for _ in 0..3 {
        let _ = thread::spawn(|| spin_forever()).map(core::mem::forget);
    }
    spin_forever()
}

fn exec_with_threads() -> i32 {
    let _ = thread::spawn(|| spin_forever()).map(core::mem::forget);
    static NEVER: AtomicU32 = AtomicU32::new(0);
    let _ = thread::spawn(|| wait_while(&NEVER, 0)).map(core::mem::forget);
    sleep_ms(20);
    let error = sys::execve("initfs:bin/threads", &["threads", EXEC_TARGET], &[]);
    tessera_runtime::eprintln!("threads: execve failed: {error}");
    1
}

/// Spawns threads on tiny static stacks until the kernel refuses; exits
/// with 0 if that was EAGAIN at the 256-thread limit.
fn thread_limit() -> i32 {
    const MAX: usize = 256;
    const STACK_WORDS: usize = 64;
    static mut STACKS: [[u128; STACK_WORDS]; MAX] = [[0; STACK_WORDS]; MAX];
    static NEVER: AtomicU32 = AtomicU32::new(0);
    extern "C" fn sleeper(_: usize) -> ! {
        loop {
            let _ = sys::futex_wait(&NEVER, 0, None);
        }
    }
    let bias = if cfg!(target_arch = "x86_64") { 8 } else { 0 };
    let mut started = 1;
    let refused = loop {
        if started > MAX {
            break None;
        }
        // SAFETY: each thread gets its own slice of STACKS, which nothing
        // else uses; `sleeper` never returns.
        let result = unsafe {
            let top = (&raw mut STACKS[started - 1]) as usize + STACK_WORDS * 16 - bias;
            sys::clone_thread(sleeper as *const () as usize, top, 0, 0)
        };
        match result {
            Ok(_) => started += 1,
            Err(e) => break Some(e.errno),
        }
    };
    let ok = refused == Some(EAGAIN) && started == MAX && thread_count() == Some(MAX);
    if !ok {
        tessera_runtime::eprintln!("threads: limit: refused {refused:?} with {started} threads");
    }
    // `exit` must end all 256.
    sys::exit(if ok { 0 } else { 1 })
}

fn exec_target() -> i32 {
    let pid = sys::getpid().unwrap_or(0);
    let alone = thread_count() == Some(1) && sys::gettid() == Ok(pid);
    if !alone {
        tessera_runtime::eprintln!("threads: after execve: {:?} threads, tid {:?}", thread_count(), sys::gettid());
    }
    if alone { EXEC_TARGET_STATUS as i32 } else { 1 }
}

fn main(args: Args) -> i32 {
    if args.argv().get(1) == Some(&EXEC_TARGET) {
        return exec_target();
    }
    let mut checks = Checks::new("threads");
    // Once before the baseline too: the kernel heap may grow for the first
    // 256 threads, and keeps what it grew.
    child_case(&mut checks, "256 threads, then EAGAIN (warm-up)", Some(0), None, thread_limit);
    let before = quiet_free_frames(50).expect("free frames");
    counter_and_tids(&mut checks);
    yields_keep_the_root(&mut checks);
    all_cpus(&mut checks);
    futexes(&mut checks);
    bad_clones(&mut checks);
    child_case(
        &mut checks,
        "the last thread's exit_thread status ends the process",
        Some(9),
        None,
        last_thread_sets_status,
    );
    child_case(&mut checks, "exit in a thread ends a process blocked in read", Some(7), None, exit_from_a_thread);
    child_case(&mut checks, "a fault in a thread kills the process", None, Some(SIGSEGV), fault_in_a_thread);
    child_case(&mut checks, "execve stops the other threads", Some(EXEC_TARGET_STATUS), None, exec_with_threads);
    child_case(&mut checks, "256 threads, then EAGAIN; exit ends them all", Some(0), None, thread_limit);
    match fork_with(spinning_threads) {
        Ok(pid) => {
            sleep_ms(50);
            let killed = sys::kill(pid, SIGTERM);
            let reaped = reap(pid);
            checks.check(
                "kill ends a process of 4 spinning threads",
                killed.is_ok() && matches!(reaped, Ok((_, s)) if s.signal() == Some(SIGTERM)),
                format_args!("kill {killed:?}, reap {reaped:?}"),
            );
        }
        Err(e) => checks.check("fork", false, format_args!("{e}")),
    }
    let after = settled_free_frames(before, 200).expect("free frames");
    checks.check("free frames as before", after == before, format_args!("{before} before, {after} after"));
    checks.finish()
}
