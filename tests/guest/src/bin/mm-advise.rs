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

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use tessera_guest_tests::system::{fork_with, free_frames, quiet_free_frames, reap, settled_free_frames};
use tessera_guest_tests::{Checks, Shown, errno_name};
use tessera_runtime::abi::error::{EINVAL, ENOMEM};
use tessera_runtime::mm::{
    self, MADV_DONTNEED, MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MAP_POPULATE, MAP_PRIVATE,
    MAP_SHARED, MS_ASYNC, MS_INVALIDATE, MS_SYNC, MapFlags, Maps, PROT_RW,
};
use tessera_runtime::{Args, Result, io, sys};

tessera_runtime::entry!(main);

const PAGE: usize = mm::PAGE_SIZE;

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

/// Runs `body` with its own check list in a forked child; its tally becomes
/// one check here.
fn group(checks: &mut Checks, name: &'static str, body: fn(&mut Checks)) {
    let result = fork_with(|| {
        let mut group_checks = Checks::new(name);
        body(&mut group_checks);
        group_checks.finish()
    })
    .and_then(reap);
    match result {
        Ok((_, status)) => checks.check(name, status.success(), format_args!("the group's child {status}")),
        Err(e) => checks.check(name, false, format_args!("fork/waitpid: {e}")),
    }
}

/// `sys:memory`'s free frames and kernel heap size.
#[derive(Clone, Copy)]
struct Memory {
    free_frames: usize,
    heap_bytes: usize,
}

impl Memory {
    fn read() -> Option<Self> {
        let free_frames = steady_free_frames()?;
        Some(Self { free_frames, heap_bytes: heap_bytes()? })
    }
}

/// The free-frame count once it has stayed the same for 20 ms (waiting at
/// most about a second): a baseline must not be taken while the last
/// frames of a process that just ended are still on their way back.
fn steady_free_frames() -> Option<usize> {
    let mut last = free_frames().ok()?;
    let mut stable = 0;
    for _ in 0..200 {
        let _ = sys::nanosleep(&tessera_runtime::abi::TimeSpec { tv_sec: 0, tv_nsec: 5_000_000 }, None);
        let now = free_frames().ok()?;
        stable = if now == last { stable + 1 } else { 0 };
        last = now;
        if stable == 4 {
            break;
        }
    }
    Some(last)
}

fn heap_bytes() -> Option<usize> {
    let text = io::read_file("sys:memory").ok()?;
    let text = core::str::from_utf8(&text).ok()?;
    text.lines().find_map(|l| l.strip_prefix("heap_bytes ")).and_then(|n| n.trim().parse().ok())
}

/// The last check: every frame is free again. Frames the kernel heap grew
/// by (it never shrinks) are not a leak, nor the table pages mapping them.
fn frames_back(checks: &mut Checks, before: Option<Memory>) {
    let Some(before) = before else { return checks.check("read sys:memory", false, format_args!("failed")) };
    let after = settled_free_frames(before.free_frames, 100).unwrap_or(0);
    let heap_grew = heap_bytes().unwrap_or(0).saturating_sub(before.heap_bytes) / PAGE;
    let lost = before.free_frames as isize - after as isize;
    let ok = lost == 0
        || (heap_grew > 0 && lost >= heap_grew as isize && lost <= (heap_grew + heap_grew / 512 + 2) as isize);
    checks.check(
        "free frames as before the groups",
        ok,
        format_args!(
            "free_frames {} before, {after} after; the kernel heap grew by {heap_grew} pages",
            before.free_frames
        ),
    );
}

fn read_word(addr: usize) -> u64 {
    // SAFETY: an 8-aligned address in memory this test mapped, holding no
    // Rust object; an access the kernel refuses kills the process, which is
    // what the checks that do it in a child expect.
    unsafe { core::ptr::read_volatile(addr as *const u64) }
}

fn write_word(addr: usize, value: u64) {
    // SAFETY: as in `read_word`.
    unsafe { core::ptr::write_volatile(addr as *mut u64, value) }
}

fn pattern(tag: u64, page: usize) -> u64 {
    tag ^ (page as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Writes page `i`'s pattern into its first and last word.
fn fill(addr: usize, pages: usize, tag: u64) {
    for page in 0..pages {
        write_word(addr + page * PAGE, pattern(tag, page));
        write_word(addr + page * PAGE + PAGE - 8, pattern(tag, page));
    }
}

/// The first page of `0..pages` that lost its pattern.
fn first_changed(addr: usize, pages: usize, tag: u64) -> Option<usize> {
    (0..pages).find(|&page| {
        read_word(addr + page * PAGE) != pattern(tag, page)
            || read_word(addr + page * PAGE + PAGE - 8) != pattern(tag, page)
    })
}

/// Populated private read-write memory with `tag`'s pattern ([`map_isolated`]),
/// or a failed check.
fn map_filled(checks: &mut Checks, pages: usize, tag: u64) -> Option<usize> {
    map_filled_with(checks, pages, tag, MAP_PRIVATE)
}

/// Like [`map_filled`], private or shared.
fn map_filled_with(checks: &mut Checks, pages: usize, tag: u64, flags: MapFlags) -> Option<usize> {
    let mapped = if flags.contains(MAP_SHARED) {
        mm::mmap_anonymous(pages * PAGE, PROT_RW, flags | MAP_POPULATE)
    } else {
        map_isolated(pages, MAP_POPULATE)
    };
    match mapped {
        Ok(addr) => {
            fill(addr, pages, tag);
            Some(addr)
        }
        Err(e) => {
            checks.check("mmap", false, format_args!("mmap of {pages} pages: {} = {}", errno_name(e.errno), e.errno));
            None
        }
    }
}

fn advise(addr: usize, len: usize, advice: usize) -> Result<usize> {
    // SAFETY: only ranges this test mapped, holding no Rust object; what
    // DONTNEED drops is the test's own pattern, which it then checks.
    unsafe { mm::madvise(addr, len, advice) }.map(|()| 0)
}

fn sync(addr: usize, len: usize, flags: usize) -> Result<usize> {
    mm::msync(addr, len, flags).map(|()| 0)
}

/// The first non-zero page of `pages` pages at `addr` (first and last word).
fn first_nonzero(addr: usize, pages: usize) -> Option<usize> {
    (0..pages).find(|&p| read_word(addr + p * PAGE) != 0 || read_word(addr + p * PAGE + PAGE - 8) != 0)
}

/// `pages` pages of private read-write anonymous memory (with `flags`),
/// with a free page on each side: no neighbour (a program segment, another
/// mapping) can merge into its `sys:maps` entry, so the entry shows exactly
/// this mapping.
fn map_isolated(pages: usize, flags: MapFlags) -> Result<usize> {
    let outer = mm::mmap_anonymous((pages + 2) * PAGE, PROT_RW, MAP_PRIVATE | flags)?;
    unmap(outer, PAGE)?;
    unmap(outer + (pages + 1) * PAGE, PAGE)?;
    Ok(outer + PAGE)
}

fn unmap(addr: usize, len: usize) -> Result<usize> {
    // SAFETY: only ranges this test mapped, holding no Rust object.
    unsafe { mm::munmap(addr, len) }.map(|()| 0)
}

/// `sys:maps`, or a failed check.
fn maps(checks: &mut Checks) -> Option<Maps> {
    match mm::read_maps() {
        Ok(maps) => {
            if let Some(problem) = maps.consistency_error() {
                checks.check("sys:maps is consistent", false, format_args!("{problem}"));
            }
            Some(maps)
        }
        Err(e) => {
            checks.check("read sys:maps", false, format_args!("{} = {}", errno_name(e.errno), e.errno));
            None
        }
    }
}

/// `(start, end, perms, resident)` of the entries overlapping the range.
fn entries(maps: &Maps, start: usize, end: usize) -> Vec<(usize, usize, String, usize)> {
    maps.overlapping(start, end).map(|e| (e.start, e.end, e.perms.to_string(), e.resident_pages)).collect()
}

/// The `sys:maps` lines overlapping `[start, end)`, for messages.
fn entries_text(maps: &Maps, start: usize, end: usize) -> String {
    let lines: Vec<String> = maps.overlapping(start, end).map(|e| alloc::format!("`{e}`")).collect();
    if lines.is_empty() { "no entry".into() } else { lines.join(", ") }
}

/// Checks the permissions of the entries over `[start, end)`.
fn expect_entries(checks: &mut Checks, what: &str, start: usize, end: usize, expected: &[(usize, usize, &str, usize)]) {
    let Some(listing) = maps(checks) else { return };
    let got = entries(&listing, start, end);
    let same = got.len() == expected.len()
        && got.iter().zip(expected).all(|(g, e)| g.0 == e.0 && g.1 == e.1 && g.2 == e.2 && g.3 == e.3);
    checks.check(what, same, format_args!("{}", entries_text(&listing, start, end)));
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
