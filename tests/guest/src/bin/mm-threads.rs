//! `mm-threads`: taking memory away from under a thread that is using it
//! on another CPU. The thread must fault at once, and must never see a
//! frame that was freed and reused (a stale TLB entry on its CPU).
//!
//! Each round runs in a forked child: a reader thread loops over the words
//! of a page filled with [`PATTERN`], exiting the process with
//! [`SAW_OTHER`] if it ever reads anything else, while the first thread
//! (spinning, so both run at once on two CPUs) waits for 10000 reads and
//! then revokes the page and raises a flag. The child must die with
//! SIGSEGV. An access the thread makes after it saw the flag must fault:
//! the revoking call returned only after every CPU dropped the page from
//! its TLB. If it succeeds, the thread's CPU used a stale entry
//! ([`STALE`]) — this catches a missing shootdown at once, before the
//! thread's next timer tick reloads its page-table root.
//!
//! | case (20 rounds each) | checks |
//! |---|---|
//! | munmap | the page unmapped, then 64 pages written at once (allocations likely to reuse its frame): the reader dies with SIGSEGV, never reads another value, never reads after the flag |
//! | mprotect-none | the page made PROT_NONE: SIGSEGV, never another value, never after the flag |
//! | mprotect-read | a writer thread, the page made read-only: SIGSEGV, never a write after the flag |
//! | no-shootdown | the munmap case with `shootdown off` written to `sys:inject` (the revoking call flushes only its own CPU), round after round (at most 200): the stale entry must be seen (STALE or another value), proving the cases above can fail |
//!
//! Finally the free-frame count is back where it was.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::sync::Arc;
use core::sync::atomic::{AtomicUsize, Ordering};

use tessera_guest_tests::Checks;
use tessera_guest_tests::mm::{PAGE, frames_back_exactly, now_ns, read_word, steady_free_frames, write_word};
use tessera_guest_tests::system::{fork_with, reap};
use tessera_runtime::abi::TimeSpec;
use tessera_runtime::abi::signal::SIGSEGV;
use tessera_runtime::mm::{self, MAP_POPULATE, MAP_PRIVATE, PROT_NONE, PROT_READ, PROT_RW};
use tessera_runtime::sys::{self, WaitStatus};
use tessera_runtime::{Args, thread};

tessera_runtime::entry!(main);

const WORDS: usize = PAGE / 8;
/// Rounds per case.
const ROUNDS: usize = 20;
/// What every word of the page holds.
const PATTERN: u64 = 0x7E55_E7A0_C0FF_EE01;
/// Reads (or writes) the thread does before the page is revoked.
const WARM_ACCESSES: usize = 10_000;
/// Pages written right after the munmap, to reuse the freed frame.
const REUSE_PAGES: usize = 64;
/// How long the thread gets to fault, and to start.
const PATIENCE_NS: u64 = 2_000_000_000;

/// The child's exit status: the reader read a value other than PATTERN.
const SAW_OTHER: i32 = 3;
/// The child's exit status: the thread went on without faulting.
const NEVER_FAULTED: i32 = 4;
/// The child's exit status: mmap, mprotect, munmap or the thread failed.
const SETUP_FAILED: i32 = 5;
/// The child's exit status: the thread did not get going.
const THREAD_STUCK: i32 = 6;
/// The child's exit status: an access after the revoking call returned
/// did not fault (a stale TLB entry on the thread's CPU).
const STALE: i32 = 7;

/// How the first thread takes the page away.
#[derive(Clone, Copy, Debug)]
enum Revoke {
    Munmap,
    ProtNone,
    ReadOnly,
}

fn main(_args: Args) -> i32 {
    let mut checks = Checks::new("mm-threads");
    // Warm-up: a round of each, so the kernel heap has grown for threads
    // and mappings before the baseline.
    for revoke in [Revoke::Munmap, Revoke::ProtNone, Revoke::ReadOnly] {
        let _ = fork_with(|| race(revoke)).and_then(reap);
    }
    let before = steady_free_frames();
    case(&mut checks, "munmap under a reading thread: SIGSEGV, never another value", Revoke::Munmap);
    case(&mut checks, "mprotect(NONE) under a reading thread: SIGSEGV, never another value", Revoke::ProtNone);
    case(&mut checks, "mprotect(R) under a writing thread: SIGSEGV", Revoke::ReadOnly);
    no_shootdown(&mut checks);
    frames_back_exactly(&mut checks, before);
    checks.finish()
}

/// With shootdowns skipped for the child, the munmap case must fail: the
/// proof that [`case`] can see a missing shootdown.
fn no_shootdown(checks: &mut Checks) {
    let mut seen = [0usize; 3];
    // Until the first round that sees it (a timer tick on the reader's CPU
    // may flush its entry before it looks), at most ten times the rounds.
    for _ in 0..10 * ROUNDS {
        if seen[0] > 0 {
            break;
        }
        let status = fork_with(|| race_without_shootdown(Revoke::Munmap)).and_then(reap);
        match status.map(|(_, s)| s.code().map(|c| c as i32)) {
            Ok(Some(STALE | SAW_OTHER)) => seen[0] += 1,
            Ok(Some(SETUP_FAILED)) => seen[2] += 1,
            _ => seen[1] += 1,
        }
    }
    checks.check(
        "without the shootdown (sys:inject `shootdown off`) the stale entry is seen",
        seen[0] > 0 && seen[2] == 0,
        format_args!("{} rounds saw it, {} did not, {} could not set the knob", seen[0], seen[1], seen[2]),
    );
}

/// [`race`] in a process whose mm calls flush only their own CPU.
fn race_without_shootdown(revoke: Revoke) -> i32 {
    let knob = sys::open("sys:inject", tessera_runtime::abi::flag::O_WRONLY).and_then(|fd| {
        let written = sys::write(fd, b"shootdown off");
        let _ = sys::close(fd);
        written
    });
    if knob.is_err() {
        return SETUP_FAILED;
    }
    race(revoke)
}

/// Runs [`ROUNDS`] rounds of `revoke`; one check for all of them.
fn case(checks: &mut Checks, what: &str, revoke: Revoke) {
    let mut failure = None;
    for round in 0..ROUNDS {
        match fork_with(|| race(revoke)).and_then(reap) {
            Ok((_, status)) if status.signal() == Some(SIGSEGV) => {}
            Ok((_, status)) => {
                failure = Some((round, Some(status)));
                break;
            }
            Err(_) => {
                failure = Some((round, None));
                break;
            }
        }
    }
    match failure {
        None => checks.check(what, true, format_args!("")),
        Some((round, Some(status))) => {
            checks.check(what, false, format_args!("round {round}: the child {status}{}", verdict(status)))
        }
        Some((round, None)) => checks.check(what, false, format_args!("round {round}: fork/waitpid failed")),
    }
}

fn verdict(status: WaitStatus) -> &'static str {
    match status.code().map(|c| c as i32) {
        Some(SAW_OTHER) => ": the reader saw a value other than the page's pattern (a stale translation?)",
        Some(NEVER_FAULTED) => ": the thread went on for 2 s without faulting (the revoke did not reach its CPU)",
        Some(SETUP_FAILED) => ": mmap, mprotect, munmap or spawning the thread failed",
        Some(THREAD_STUCK) => ": the thread did not start within 2 s",
        Some(STALE) => ": the thread reached the page after the revoking call returned (a missing TLB shootdown)",
        _ => "",
    }
}

/// One round, in a forked child: never returns normally unless something
/// is wrong (the status says what).
fn race(revoke: Revoke) -> i32 {
    let Ok(page) = mm::mmap_anonymous(PAGE, PROT_RW, MAP_PRIVATE | MAP_POPULATE) else { return SETUP_FAILED };
    // Address space (not frames yet) for the reuse step, far from `page`.
    let Ok(reuse) = mm::mmap_anonymous(REUSE_PAGES * PAGE, PROT_RW, MAP_PRIVATE) else { return SETUP_FAILED };
    for word in 0..WORDS {
        write_word(page + word * 8, PATTERN);
    }
    let accesses = Arc::new(AtomicUsize::new(0));
    let counter = accesses.clone();
    let done = Arc::new(AtomicUsize::new(0));
    let revoked_flag = done.clone();
    let writer = matches!(revoke, Revoke::ReadOnly);
    let spawned = thread::spawn(move || {
        let mut i = 0usize;
        loop {
            // Read before the access: if the flag was up, the access
            // below came after the revoking call had returned.
            let after = revoked_flag.load(Ordering::Acquire) != 0;
            let addr = page + (i % WORDS) * 8;
            if writer {
                write_word(addr, PATTERN);
            } else if read_word(addr) != PATTERN {
                sys::exit(SAW_OTHER as usize);
            }
            if after {
                sys::exit(STALE as usize);
            }
            i += 1;
            counter.store(i, Ordering::Relaxed);
        }
    });
    let Ok(handle) = spawned else { return SETUP_FAILED };
    // Never joined: the thread only ends with the process.
    core::mem::forget(handle);

    // Spin (rather than sleep) so both threads run at once, on two CPUs.
    let deadline = now_ns() + PATIENCE_NS;
    let mut spins = 0u32;
    while accesses.load(Ordering::Relaxed) < WARM_ACCESSES {
        core::hint::spin_loop();
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(4096) && now_ns() > deadline {
            return THREAD_STUCK;
        }
    }
    let revoked = match revoke {
        // SAFETY: the page holds no Rust object; the reader faulting on it
        // is the point.
        Revoke::Munmap => unsafe { mm::munmap(page, PAGE) },
        // SAFETY: as above.
        Revoke::ProtNone => unsafe { mm::mprotect(page, PAGE, PROT_NONE) },
        // SAFETY: as above.
        Revoke::ReadOnly => unsafe { mm::mprotect(page, PAGE, PROT_READ) },
    };
    if revoked.is_err() {
        return SETUP_FAILED;
    }
    done.store(1, Ordering::Release);
    if matches!(revoke, Revoke::Munmap) {
        // Fresh frames now: the freed one is likely among them. A reader
        // still reaching it through a stale translation would see these
        // values (or the zeroes the kernel filled in first).
        for page in 0..REUSE_PAGES {
            for word in (0..WORDS).step_by(64) {
                write_word(reuse + page * PAGE + word * 8, !PATTERN);
            }
        }
    }
    let deadline = now_ns() + PATIENCE_NS;
    while now_ns() < deadline {
        let _ = sys::nanosleep(&TimeSpec { tv_sec: 0, tv_nsec: 1_000_000 }, None);
    }
    NEVER_FAULTED
}
