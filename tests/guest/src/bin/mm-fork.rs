//! `mm-fork`: `fork` is copy-on-write: parent and child each see their own
//! writes, only written pages are copied, shared memory stays shared, and
//! nothing leaks.
//!
//! Each group runs in its own forked child (lines prefixed
//! `mm-fork <group>:`), which forks further children.
//!
//! | group | checks |
//! |---|---|
//! | child-writes | 256 written pages, fork, the child blocked on a pipe: fork took fewer than 128 frames (shared, not copied); the child sees the parent's pattern, writes its own and reads it back; the parent still sees its own; every frame back once the child is reaped |
//! | parent-writes | as above but the parent writes all 256 pages while the child waits: that takes at least 256 frames (each write copies); the child still sees the pre-fork pattern and then its own writes; the parent sees its own |
//! | zero | untouched private pages across fork: the child's writes are its own, the parent's pages still read zero |
//! | shared | MAP_SHARED anonymous memory: the child sees what the parent wrote after the fork, and the parent sees what the child wrote |
//! | rounds | 100 fork + exit rounds of a process with 1 MiB touched (every other child writes all of it): every child exits 0, the parent's data is intact, free frames as before (but pages the kernel heap grew by, which it never gives back) |
//!
//! Finally the free-frame count is back where it was.
#![no_std]
#![no_main]

extern crate alloc;

use tessera_guest_tests::mm::{
    Memory, PAGE, fill, first_changed, frames_back, frames_back_as, group, map_filled_with, read_word,
    steady_free_frames, unmap,
};
use tessera_guest_tests::system::{fork_with, quiet_free_frames, read_full, reap, settled_free_frames, write_words};
use tessera_guest_tests::{Checks, errno_name};
use tessera_runtime::mm::{self, MAP_POPULATE, MAP_PRIVATE, MAP_SHARED, PROT_RW};
use tessera_runtime::sys::{self, WaitStatus};
use tessera_runtime::{Args, Result, io};

tessera_runtime::entry!(main);

/// Pages of the copy-on-write region.
const PAGES: usize = 256;
/// A child's exit status: it did not see the pattern it expected.
const SAW_WRONG_DATA: i32 = 3;
/// A child's exit status: its own writes did not stick.
const LOST_OWN_WRITE: i32 = 4;
/// A child's exit status: the pipe to the parent failed.
const PIPE_FAILED: i32 = 5;
/// Fork and exit rounds of the `rounds` group.
const ROUNDS: usize = 100;

fn main(_args: Args) -> i32 {
    let mut checks = Checks::new("mm-fork");
    let _ = fork_with(|| {
        warm_up();
        0
    })
    .and_then(reap);
    let before = Memory::read();
    group(&mut checks, "mm-fork child-writes", child_writes);
    group(&mut checks, "mm-fork parent-writes", parent_writes);
    group(&mut checks, "mm-fork zero", zero_pages);
    group(&mut checks, "mm-fork shared", shared);
    group(&mut checks, "mm-fork rounds", rounds);
    frames_back(&mut checks, before);
    checks.finish()
}

/// A fork of a process with a populated region and a child that writes
/// it, once, so the kernel heap has grown for it before the baseline.
fn warm_up() {
    if let Ok(addr) = mm::mmap_anonymous(PAGES * PAGE, PROT_RW, MAP_PRIVATE | MAP_POPULATE) {
        fill(addr, PAGES, 1);
        let _ = fork_with(|| {
            fill(addr, PAGES, 2);
            0
        })
        .and_then(reap);
        let _ = unmap(addr, PAGES * PAGE);
    }
}

// ---- helpers -------------------------------------------------------------

/// Says what a child's exit status means.
fn child_verdict(status: WaitStatus) -> &'static str {
    match status.code() {
        Some(0) => "",
        Some(c) if c == SAW_WRONG_DATA as usize => ": the child saw data other than the pattern it expected",
        Some(c) if c == LOST_OWN_WRITE as usize => ": the child's own writes did not stick",
        Some(c) if c == PIPE_FAILED as usize => ": the child's pipe failed",
        _ => "",
    }
}

/// A child forked with a pipe pair: it says "ready" (one word) before it
/// blocks reading "go" (one byte), then runs `body`.
struct GatedChild {
    pid: usize,
    /// The write end of the "go" pipe.
    go: usize,
}

impl GatedChild {
    fn fork(body: impl FnOnce() -> i32) -> Result<Self> {
        let [ready_r, ready_w] = sys::pipe2(0)?;
        let [go_r, go_w] = sys::pipe2(0)?;
        let pid = fork_with(|| {
            let mut byte = [0u8];
            if write_words(ready_w, &[1]).is_err() || read_full(go_r, &mut byte) != Ok(1) {
                return PIPE_FAILED;
            }
            body()
        })?;
        for fd in [ready_w, go_r] {
            let _ = sys::close(fd);
        }
        // The word, or end of file if the child died first: either way it no
        // longer runs towards the gate.
        let mut word = [0u8; 8];
        let _ = read_full(ready_r, &mut word);
        let _ = sys::close(ready_r);
        Ok(Self { pid, go: go_w })
    }

    /// Lets the child run `body` and waits for it.
    fn release(self) -> Result<WaitStatus> {
        let _ = io::write_all(self.go, b"g");
        let _ = sys::close(self.go);
        reap(self.pid).map(|(_, status)| status)
    }
}

/// A gated child that does nothing, with the frame reads around it, once:
/// this process (itself a fork of the test's first process) writes the
/// pages it uses while measuring before the first measurement, so those
/// first writes, each a copy, do not count as frames the fork took.
fn warm_up_gate() {
    let _ = quiet_free_frames(1);
    if let Ok(child) = GatedChild::fork(|| 0) {
        let _ = quiet_free_frames(1);
        let _ = child.release();
    }
    let _ = settled_free_frames(0, 0);
}

/// The child's side: sees `expected`, writes `own` and reads it back.
fn verify_then_write(addr: usize, pages: usize, expected: u64, own: u64) -> i32 {
    if first_changed(addr, pages, expected).is_some() {
        return SAW_WRONG_DATA;
    }
    fill(addr, pages, own);
    if first_changed(addr, pages, own).is_some() { LOST_OWN_WRITE } else { 0 }
}

/// Checks a child exited 0.
fn expect_success(checks: &mut Checks, what: &str, status: Result<WaitStatus>) {
    match status {
        Ok(status) => checks.check(what, status.success(), format_args!("{status}{}", child_verdict(status))),
        Err(e) => checks.check(what, false, format_args!("fork/waitpid: {} = {}", errno_name(e.errno), e.errno)),
    }
}

// ---- groups --------------------------------------------------------------

fn child_writes(checks: &mut Checks) {
    warm_up_gate();
    let Some(addr) = map_filled_with(checks, PAGES, 0x10, MAP_PRIVATE) else { return };
    let free_before = steady_free_frames().unwrap_or(0);
    let child = GatedChild::fork(|| verify_then_write(addr, PAGES, 0x10, 0x11));
    let Ok(child) = child else {
        return checks.check("fork", false, format_args!("{:?}", child.err()));
    };
    let free_forked = quiet_free_frames(10).unwrap_or(0);
    let took = free_before as isize - free_forked as isize;
    checks.check(
        "fork of a process with 256 written pages took fewer than 128 frames",
        took < 128,
        format_args!("free_frames {free_before} before fork, {free_forked} with the child waiting: {took} taken"),
    );
    expect_success(checks, "the child sees the parent's pattern, then its own writes", child.release());
    let changed = first_changed(addr, PAGES, 0x10);
    checks.check("the parent still sees its own pattern", changed.is_none(), format_args!("page {changed:?} changed"));
    let after = settled_free_frames(free_before, 100).unwrap_or(0);
    checks.check(
        "every frame back once the child is reaped",
        after == free_before,
        format_args!("free_frames {free_before} before fork, {after} after"),
    );
    let _ = unmap(addr, PAGES * PAGE);
}

fn parent_writes(checks: &mut Checks) {
    warm_up_gate();
    let Some(addr) = map_filled_with(checks, PAGES, 0x20, MAP_PRIVATE) else { return };
    let free_before = steady_free_frames().unwrap_or(0);
    let child = GatedChild::fork(|| verify_then_write(addr, PAGES, 0x20, 0x22));
    let Ok(child) = child else {
        return checks.check("fork", false, format_args!("{:?}", child.err()));
    };
    let free_forked = quiet_free_frames(10).unwrap_or(0);
    fill(addr, PAGES, 0x21);
    let free_written = quiet_free_frames(10).unwrap_or(0);
    checks.check(
        "the parent's writes to 256 shared pages took at least 256 frames (copies)",
        free_forked >= free_written + PAGES,
        format_args!("free_frames {free_forked} before the writes, {free_written} after"),
    );
    expect_success(checks, "the child still sees the pre-fork pattern, then its own writes", child.release());
    let changed = first_changed(addr, PAGES, 0x21);
    checks.check("the parent sees its own writes", changed.is_none(), format_args!("page {changed:?} changed"));
    let after = settled_free_frames(free_before, 100).unwrap_or(0);
    checks.check(
        "every frame back once the child is reaped",
        after == free_before,
        format_args!("free_frames {free_before} before fork, {after} after"),
    );
    let _ = unmap(addr, PAGES * PAGE);
}

fn zero_pages(checks: &mut Checks) {
    const ZERO_PAGES: usize = 16;
    let Ok(addr) = mm::mmap_anonymous(ZERO_PAGES * PAGE, PROT_RW, MAP_PRIVATE) else {
        return checks.check("mmap", false, format_args!("failed"));
    };
    // Read (not write) half of them first: those map the zero frame.
    for page in 0..ZERO_PAGES / 2 {
        core::hint::black_box(read_word(addr + page * PAGE));
    }
    let status = fork_with(|| {
        if (0..ZERO_PAGES).any(|p| read_word(addr + p * PAGE) != 0) {
            return SAW_WRONG_DATA;
        }
        fill(addr, ZERO_PAGES, 0x33);
        if first_changed(addr, ZERO_PAGES, 0x33).is_some() { LOST_OWN_WRITE } else { 0 }
    })
    .and_then(reap)
    .map(|(_, status)| status);
    expect_success(checks, "the child reads zero from untouched pages, then its own writes", status);
    let nonzero =
        (0..ZERO_PAGES).find(|&p| read_word(addr + p * PAGE) != 0 || read_word(addr + p * PAGE + PAGE - 8) != 0);
    checks.check("the parent's untouched pages still read zero", nonzero.is_none(), format_args!("page {nonzero:?}"));
    let _ = unmap(addr, ZERO_PAGES * PAGE);
}

fn shared(checks: &mut Checks) {
    const SHARED_PAGES: usize = 16;
    let Some(addr) = map_filled_with(checks, SHARED_PAGES, 0x40, MAP_SHARED) else { return };
    let child = GatedChild::fork(|| verify_then_write(addr, SHARED_PAGES, 0x41, 0x42));
    let Ok(child) = child else {
        return checks.check("fork", false, format_args!("{:?}", child.err()));
    };
    fill(addr, SHARED_PAGES, 0x41);
    expect_success(checks, "the child sees what the parent wrote after the fork", child.release());
    let changed = first_changed(addr, SHARED_PAGES, 0x42);
    checks.check(
        "the parent sees what the child wrote to MAP_SHARED memory",
        changed.is_none(),
        format_args!("page {changed:?} does not hold the child's pattern"),
    );
    let _ = unmap(addr, SHARED_PAGES * PAGE);
}

fn rounds(checks: &mut Checks) {
    let Some(addr) = map_filled_with(checks, PAGES, 0x50, MAP_PRIVATE) else { return };
    // One round first: the parent's own stack and heap pages get copied
    // once (they are written between forks) and stay that way.
    let _ = fork_with(|| 0).and_then(reap);
    // Many forks and exits may grow the kernel heap by a page (it never
    // shrinks): that is not a leak (`frames_back_as`).
    let before = Memory::read();
    let mut failed = None;
    for round in 0..ROUNDS {
        let writes = round % 2 == 0;
        let status = fork_with(|| if writes { verify_then_write(addr, PAGES, 0x50, 0x51 + round as u64) } else { 0 })
            .and_then(reap)
            .map(|(_, status)| status);
        if !matches!(status, Ok(s) if s.success()) {
            failed = Some((round, status));
            break;
        }
    }
    match failed {
        None => checks.check("100 children forked, half writing 1 MiB, all exit 0", true, format_args!("")),
        Some((round, Ok(status))) => checks.check(
            "100 children forked, half writing 1 MiB, all exit 0",
            false,
            format_args!("round {round}: {status}{}", child_verdict(status)),
        ),
        Some((round, Err(e))) => checks.check(
            "100 children forked, half writing 1 MiB, all exit 0",
            false,
            format_args!("round {round}: fork/waitpid: {} = {}", errno_name(e.errno), e.errno),
        ),
    }
    let changed = first_changed(addr, PAGES, 0x50);
    checks.check("the parent's 1 MiB is intact", changed.is_none(), format_args!("page {changed:?} changed"));
    frames_back_as(checks, before, "free frames as before the 100 rounds (but pages the kernel heap grew by)");
    let _ = unmap(addr, PAGES * PAGE);
}
