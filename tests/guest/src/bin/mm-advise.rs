//! `mm-advise`: `madvise` and `msync` on anonymous memory.
//!
//! Each group runs in its own forked child (lines prefixed
//! `mm-advise <group>:`).
//!
//! | group | checks |
//! |---|---|
//! | dontneed | MADV_DONTNEED on 8 populated private pages: 0, resident drops to 0 at once, at least 8 frames freed, every page reads zero, writes work again; on pages 2..4 only: those read zero, the other 6 keep their data and stay resident |
//! | shared | MADV_DONTNEED on MAP_SHARED anonymous memory: 0, the data is kept |
//! | hints | MADV_NORMAL / RANDOM / SEQUENTIAL / WILLNEED: 0, data unchanged; WILLNEED on untouched memory: 0 |
//! | advise-errors | EINVAL: unknown advice, unaligned address; ENOMEM: a range with a hole (and the mapped part keeps its data: nothing was dropped), nothing mapped; length 0 → 0 |
//! | msync | MS_SYNC, MS_ASYNC, MS_INVALIDATE, MS_SYNC\|MS_INVALIDATE and 0 on anonymous memory: 0, data unchanged; EINVAL: MS_SYNC\|MS_ASYNC, an unknown bit, unaligned address; ENOMEM: a hole; length 0 → 0 |
//!
//! The kernel merges neighbouring mappings that could be one, so the
//! mappings whose `sys:maps` entries are checked exactly get a free page on
//! each side ([`map_isolated`]).
//!
//! Finally the free-frame count is back where it was.
#![no_std]
#![no_main]

extern crate alloc;

use tessera_guest_tests::mm::{
    Memory, PAGE, expect_entries, fill, first_changed, first_nonzero, frames_back, group, map_filled, map_filled_with,
    maps, pattern, read_word, unmap,
};
use tessera_guest_tests::system::{fork_with, quiet_free_frames, reap};
use tessera_guest_tests::{Checks, Shown};
use tessera_runtime::abi::error::{EINVAL, ENOMEM};
use tessera_runtime::mm::{
    self, MADV_DONTNEED, MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MAP_POPULATE, MAP_PRIVATE,
    MAP_SHARED, MS_ASYNC, MS_INVALIDATE, MS_SYNC, PROT_RW,
};
use tessera_runtime::{Args, Result};

tessera_runtime::entry!(main);

fn main(_args: Args) -> i32 {
    let mut checks = Checks::new("mm-advise");
    let _ = fork_with(|| {
        warm_up();
        0
    })
    .and_then(reap);
    let before = Memory::read();
    group(&mut checks, "mm-advise dontneed", dont_need);
    group(&mut checks, "mm-advise shared", shared);
    group(&mut checks, "mm-advise hints", hints);
    group(&mut checks, "mm-advise advise-errors", advise_errors);
    group(&mut checks, "mm-advise msync", msync);
    frames_back(&mut checks, before);
    checks.finish()
}

/// What the groups do, once, so the kernel heap has grown for it before
/// the baseline.
fn warm_up() {
    if let Ok(addr) = mm::mmap_anonymous(8 * PAGE, PROT_RW, MAP_PRIVATE | MAP_POPULATE) {
        let _ = advise(addr, 8 * PAGE, MADV_DONTNEED);
        let _ = unmap(addr, 8 * PAGE);
    }
}

// ---- helpers -------------------------------------------------------------

fn advise(addr: usize, len: usize, advice: usize) -> Result<usize> {
    // SAFETY: only ranges this test mapped, holding no Rust object; what
    // DONTNEED drops is the test's own pattern, which it then checks.
    unsafe { mm::madvise(addr, len, advice) }.map(|()| 0)
}

fn sync(addr: usize, len: usize, flags: usize) -> Result<usize> {
    mm::msync(addr, len, flags).map(|()| 0)
}

// ---- groups --------------------------------------------------------------

fn dont_need(checks: &mut Checks) {
    const PAGES: usize = 8;
    let Some(addr) = map_filled(checks, PAGES, 0x10) else { return };
    let end = addr + PAGES * PAGE;
    let _ = maps(checks);
    let free_before = quiet_free_frames(5).unwrap_or(0);
    let got = advise(addr, PAGES * PAGE, MADV_DONTNEED);
    let free_after = quiet_free_frames(5).unwrap_or(0);
    checks.check("MADV_DONTNEED of 8 populated pages", got == Ok(0), format_args!("{}", Shown(got)));
    expect_entries(checks, "right after it: nothing resident", addr, end, &[(addr, end, "rw-p", 0)]);
    checks.check(
        "at least 8 frames came free",
        free_after >= free_before + PAGES,
        format_args!("free_frames {free_before} before, {free_after} after"),
    );
    let nonzero = first_nonzero(addr, PAGES);
    checks.check("every page reads zero", nonzero.is_none(), format_args!("page {nonzero:?} is not zero"));
    fill(addr, PAGES, 0x11);
    let changed = first_changed(addr, PAGES, 0x11);
    checks.check("writes work again", changed.is_none(), format_args!("page {changed:?} lost a write"));
    expect_entries(checks, "written again: 8 resident", addr, end, &[(addr, end, "rw-p", PAGES)]);

    let got = advise(addr + 2 * PAGE, 2 * PAGE, MADV_DONTNEED);
    checks.check("MADV_DONTNEED of pages 2..4", got == Ok(0), format_args!("{}", Shown(got)));
    let nonzero = first_nonzero(addr + 2 * PAGE, 2);
    let kept = [0, 1, 4, 5, 6, 7].into_iter().find(|&p| read_word(addr + p * PAGE) != pattern(0x11, p));
    checks.check(
        "pages 2..4 read zero, the others keep their data",
        nonzero.is_none() && kept.is_none(),
        format_args!("dropped page {nonzero:?} not zero, kept page {kept:?} changed"),
    );
    expect_entries(checks, "6 pages resident", addr, end, &[(addr, end, "rw-p", 6)]);
    let _ = unmap(addr, PAGES * PAGE);
}

fn shared(checks: &mut Checks) {
    let Some(addr) = map_filled_with(checks, 4, 0x20, MAP_SHARED) else { return };
    let got = advise(addr, 4 * PAGE, MADV_DONTNEED);
    checks.check("MADV_DONTNEED of shared anonymous memory", got == Ok(0), format_args!("{}", Shown(got)));
    let changed = first_changed(addr, 4, 0x20);
    checks.check("shared memory keeps its data", changed.is_none(), format_args!("page {changed:?} changed"));
    let _ = unmap(addr, 4 * PAGE);
}

fn hints(checks: &mut Checks) {
    let Some(addr) = map_filled(checks, 4, 0x30) else { return };
    for (advice, name) in [
        (MADV_NORMAL, "MADV_NORMAL"),
        (MADV_RANDOM, "MADV_RANDOM"),
        (MADV_SEQUENTIAL, "MADV_SEQUENTIAL"),
        (MADV_WILLNEED, "MADV_WILLNEED"),
    ] {
        let got = advise(addr, 4 * PAGE, advice);
        let changed = first_changed(addr, 4, 0x30);
        checks.check(
            &alloc::format!("{name} is accepted and changes no data"),
            got == Ok(0) && changed.is_none(),
            format_args!("{}, page {changed:?} changed", Shown(got)),
        );
    }
    let _ = unmap(addr, 4 * PAGE);
    let Ok(untouched) = mm::mmap_anonymous(4 * PAGE, PROT_RW, MAP_PRIVATE) else { return };
    let got = advise(untouched, 4 * PAGE, MADV_WILLNEED);
    let nonzero = first_nonzero(untouched, 4);
    checks.check(
        "MADV_WILLNEED on untouched memory: 0, still zero",
        got == Ok(0) && nonzero.is_none(),
        format_args!("{}, page {nonzero:?} not zero", Shown(got)),
    );
    let _ = unmap(untouched, 4 * PAGE);
}

fn advise_errors(checks: &mut Checks) {
    let Some(addr) = map_filled(checks, 3, 0x40) else { return };
    checks.expect_errno("unknown advice", advise(addr, PAGE, 12345), EINVAL);
    checks.expect_errno("unaligned address", advise(addr + 8, PAGE, MADV_NORMAL), EINVAL);
    checks.check("length 0 succeeds", advise(addr, 0, MADV_DONTNEED) == Ok(0), format_args!(""));
    let _ = unmap(addr + PAGE, PAGE);
    checks.expect_errno("MADV_DONTNEED over a hole", advise(addr, 3 * PAGE, MADV_DONTNEED), ENOMEM);
    let kept = [0, 2].into_iter().find(|&p| read_word(addr + p * PAGE) != pattern(0x40, p));
    checks.check(
        "the failed MADV_DONTNEED dropped nothing",
        kept.is_none(),
        format_args!("page {kept:?} lost its data"),
    );
    checks.expect_errno("MADV_WILLNEED over a hole", advise(addr, 3 * PAGE, MADV_WILLNEED), ENOMEM);
    checks.expect_errno("MADV_NORMAL on nothing mapped", advise(addr + PAGE, PAGE, MADV_NORMAL), ENOMEM);
    let _ = unmap(addr, 3 * PAGE);
}

fn msync(checks: &mut Checks) {
    let Some(addr) = map_filled(checks, 3, 0x50) else { return };
    for (flags, name) in [
        (MS_SYNC, "MS_SYNC"),
        (MS_ASYNC, "MS_ASYNC"),
        (MS_INVALIDATE, "MS_INVALIDATE"),
        (MS_SYNC | MS_INVALIDATE, "MS_SYNC|MS_INVALIDATE"),
        (0, "flags 0"),
    ] {
        let got = sync(addr, 3 * PAGE, flags);
        let changed = first_changed(addr, 3, 0x50);
        checks.check(
            &alloc::format!("msync {name} on anonymous memory: 0, data unchanged"),
            got == Ok(0) && changed.is_none(),
            format_args!("{}, page {changed:?} changed", Shown(got)),
        );
    }
    checks.expect_errno("msync MS_SYNC|MS_ASYNC", sync(addr, PAGE, MS_SYNC | MS_ASYNC), EINVAL);
    checks.expect_errno("msync with an unknown bit", sync(addr, PAGE, MS_SYNC | 8), EINVAL);
    checks.expect_errno("msync at an unaligned address", sync(addr + 8, PAGE, MS_SYNC), EINVAL);
    checks.check("msync of 0 bytes succeeds", sync(addr, 0, MS_SYNC) == Ok(0), format_args!(""));
    let _ = unmap(addr + PAGE, PAGE);
    checks.expect_errno("msync over a hole", sync(addr, 3 * PAGE, MS_SYNC), ENOMEM);
    let _ = unmap(addr, 3 * PAGE);
}
