//! `mm-stack`: the main thread's stack grows down on faults, up to a
//! limit (8 MiB), with a guard gap below.
//!
//! | check | expected |
//! |---|---|
//! | recursion over ~1 MiB of stack (512 frames of 2 KiB), in a child | works, the sum is right; the deepest frame lies in the `stack` entry of `sys:maps`, whose resident pages grew and now cover every page from the deepest frame to the top |
//! | a read / a write 64 MiB below the stack pointer, in a child | SIGSEGV |
//! | recursion with no end (past the 8 MiB limit), in a child | SIGSEGV |
//! | free frames afterwards | as before |
#![no_std]
#![no_main]

use tessera_guest_tests::mm::{expect_segv_status, frames_back_exactly, in_child, steady_free_frames};
use tessera_guest_tests::system::{fork_with, read_words, reap, write_words};
use tessera_guest_tests::{Checks, errno_name};
use tessera_runtime::mm::{self, MapKind};
use tessera_runtime::sys::{self, WaitStatus};
use tessera_runtime::{Args, Result};

tessera_runtime::entry!(main);

/// Bytes of each recursive call's local array.
const FRAME_BYTES: usize = 2048;
/// Calls deep for about 1 MiB of stack.
const DEPTH: usize = 512;
/// Calls deep enough to pass 16 MiB: twice the limit.
const BOTTOMLESS: usize = 8192;
/// How far below the stack pointer the far touch goes.
const FAR_BELOW: usize = 64 << 20;

fn main(_args: Args) -> i32 {
    let mut checks = Checks::new("mm-stack");
    // Warm-up: one recursion first, so what the kernel allocates for the
    // first growth is there before the baseline.
    let _ = fork_with(|| {
        let mut deepest = usize::MAX;
        core::hint::black_box(recurse(DEPTH, &mut deepest));
        0
    })
    .and_then(reap);
    let before = steady_free_frames();
    growth(&mut checks);
    let status = in_child(|| touch_below(FAR_BELOW, false));
    expect_segv_status(&mut checks, "a read 64 MiB below the stack pointer: SIGSEGV", status);
    let status = in_child(|| touch_below(FAR_BELOW, true));
    expect_segv_status(&mut checks, "a write 64 MiB below the stack pointer: SIGSEGV", status);
    let status = in_child(|| {
        let mut deepest = usize::MAX;
        core::hint::black_box(recurse(BOTTOMLESS, &mut deepest));
    });
    expect_segv_status(&mut checks, "recursion past the 8 MiB limit: SIGSEGV", status);
    frames_back_exactly(&mut checks, before);
    checks.finish()
}

/// Uses `FRAME_BYTES` of stack per call, `depth + 1` calls deep; records
/// the lowest frame address in `deepest`. The sum of what each frame held.
#[inline(never)]
fn recurse(depth: usize, deepest: &mut usize) -> u64 {
    let mut frame = [0u8; FRAME_BYTES];
    frame[0] = depth as u8;
    frame[FRAME_BYTES - 1] = (depth >> 8) as u8;
    let frame = core::hint::black_box(&mut frame);
    *deepest = (*deepest).min(frame.as_ptr() as usize);
    let below = if depth == 0 { 0 } else { recurse(depth - 1, deepest) };
    below + u64::from(frame[0]) + u64::from(frame[FRAME_BYTES - 1])
}

/// What [`recurse`] returns for `depth`.
fn expected_sum(depth: usize) -> u64 {
    (0..=depth).map(|d| u64::from(d as u8) + u64::from((d >> 8) as u8)).sum()
}

/// The `stack` entry's end and resident pages, from `sys:maps`.
fn stack_entry() -> Option<(usize, usize)> {
    let maps = mm::read_maps().ok()?;
    maps.entries.iter().find(|e| e.kind == MapKind::Stack).map(|e| (e.end, e.resident_pages))
}

/// What the recursion's child reports; `u64::MAX` for what it could not
/// find out.
#[derive(Clone, Copy)]
struct Report {
    sum: u64,
    deepest: u64,
    in_stack: bool,
    resident_before: u64,
    resident_after: u64,
    stack_end: u64,
}

/// The recursion, in a child that reports back: the sum, the deepest
/// frame, whether that lies in the `stack` entry, that entry's end and its
/// resident pages before and after.
fn growth(checks: &mut Checks) {
    let Ok([r, w]) = sys::pipe2(0) else { return checks.check("pipe2", false, format_args!("failed")) };
    let child = fork_with(|| {
        let before = stack_entry().map_or(u64::MAX, |(_, resident)| resident as u64);
        let mut deepest = usize::MAX;
        let sum = recurse(DEPTH, &mut deepest);
        let in_stack = mm::read_maps().ok().and_then(|m| m.find(deepest).map(|e| e.kind == MapKind::Stack));
        let (end, after) = stack_entry().map_or((u64::MAX, u64::MAX), |(end, r)| (end as u64, r as u64));
        let words = [sum, deepest as u64, u64::from(in_stack == Some(true)), before, after, end];
        i32::from(write_words(w, &words).is_err())
    });
    let _ = sys::close(w);
    let report = read_words::<6>(r).map(|[sum, deepest, in_stack, resident_before, resident_after, stack_end]| {
        Report { sum, deepest, in_stack: in_stack == 1, resident_before, resident_after, stack_end }
    });
    let _ = sys::close(r);
    let status = child.and_then(reap).map(|(_, status)| status);
    checks.check(
        "recursion over ~1 MiB of stack works",
        matches!(status, Ok(s) if s.success()) && report.is_some(),
        format_args!("the child {}", Shown(status)),
    );
    let Some(report) = report else { return };
    checks.check(
        "the recursion's frames kept their data",
        report.sum == expected_sum(DEPTH),
        format_args!("sum {}, expected {}", report.sum, expected_sum(DEPTH)),
    );
    checks.check(
        "the deepest frame lies in the `stack` entry of sys:maps",
        report.in_stack,
        format_args!("the frame at {:#x} is not in a `stack` entry", report.deepest),
    );
    // Every page from the deepest frame's up to the top was written (by
    // exec or by the recursion), so all of them are resident now.
    let page = mm::PAGE_SIZE as u64;
    let touched = report.stack_end.saturating_sub(report.deepest & !(page - 1)) / page;
    let known = report.resident_before != u64::MAX && report.resident_after != u64::MAX;
    checks.check(
        "the stack grew: every page down to the deepest frame is resident",
        known && report.resident_after > report.resident_before && report.resident_after >= touched,
        format_args!(
            "resident {} before, {} after; {touched} pages from the deepest frame to the top (u64::MAX: no \
             `stack` entry)",
            report.resident_before, report.resident_after
        ),
    );
}

/// A child's status, or the error getting it, as a message shows it.
struct Shown(Result<WaitStatus>);

impl core::fmt::Display for Shown {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Ok(status) => write!(f, "{status}"),
            Err(e) => write!(f, "could not be forked or reaped: {}", errno_name(e.errno)),
        }
    }
}

/// Reads or writes `distance` bytes below the stack pointer.
fn touch_below(distance: usize, write: bool) {
    let local = 0u8;
    let sp = core::hint::black_box(&raw const local) as usize;
    let addr = (sp - distance) & !7;
    // SAFETY: not safe: the access must fault and the kernel kill the
    // process; nothing Rust owns is there.
    unsafe {
        if write {
            core::ptr::write_volatile(addr as *mut u64, 1);
        } else {
            core::hint::black_box(core::ptr::read_volatile(addr as *const u64));
        }
    }
}
