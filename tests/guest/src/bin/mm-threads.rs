//! `mm-threads`: taking memory away from under a thread that is using it
//! on another CPU. The thread must fault at once, and must never see a
//! frame that was freed and reused (a stale TLB entry on its CPU).
//!
//! Each round runs in a forked child: a reader thread loops over the words
//! of a page filled with [`PATTERN`], exiting the process with
//! [`SAW_OTHER`] if it ever reads anything else, while the first thread
//! (spinning, so both run at once on two CPUs) waits for 10000 reads and
//! then revokes the page. The child must die with SIGSEGV.
//!
//! | case (20 rounds each) | checks |
//! |---|---|
//! | munmap | the page unmapped, then 64 pages written at once (allocations likely to reuse its frame): the reader dies with SIGSEGV, never reads another value |
//! | mprotect-none | the page made PROT_NONE: SIGSEGV, never another value |
//! | mprotect-read | a writer thread, the page made read-only: SIGSEGV |
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
    frames_back_exactly(&mut checks, before);
    checks.finish()
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
    let writer = matches!(revoke, Revoke::ReadOnly);
    let spawned = thread::spawn(move || {
        let mut i = 0usize;
        loop {
            let addr = page + (i % WORDS) * 8;
            if writer {
                write_word(addr, PATTERN);
            } else if read_word(addr) != PATTERN {
                sys::exit(SAW_OTHER as usize);
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
