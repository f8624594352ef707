//! Helpers shared by the memory tests (`mm-*`, `mmbench`): check groups in
//! forked children, the free-frame baseline and the final "frames back"
//! check, raw word access and page patterns, mapping / protecting /
//! unmapping wrappers, `sys:maps` checks, and children whose bad access
//! must die with SIGSEGV.
//!
//! A region tagged `tag` holds [`pattern`]`(tag, page)` in the first and
//! last word of each page ([`fill`], [`first_changed`]). The mappings
//! whose `sys:maps` entry a test checks exactly get a free page on each
//! side ([`map_isolated`]): the kernel merges neighbouring mappings that
//! could be one.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::ops::Range;

use tessera_runtime::abi::TimeSpec;
use tessera_runtime::abi::flag::CLOCK_MONOTONIC;
use tessera_runtime::abi::signal::SIGSEGV;
use tessera_runtime::mm::{self, MAP_POPULATE, MAP_PRIVATE, MapFlags, Maps, PROT_RW};
use tessera_runtime::sys::{self, WaitStatus};
use tessera_runtime::{Result, io};

use crate::system::{fork_with, free_frames, reap, settled_free_frames};
use crate::{Checks, errno_name};

/// The page size.
pub const PAGE: usize = mm::PAGE_SIZE;

/// Exit status of a child whose bad access did not fault ([`in_child`]).
pub const SURVIVED: i32 = 100;

// ---- groups and the free-frame count -------------------------------------

/// Runs `body` with its own check list in a forked child; its tally becomes
/// one check here.
pub fn group(checks: &mut Checks, name: &'static str, body: fn(&mut Checks)) {
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

/// `sys:memory`'s free frames and kernel heap size, and `sys:processes`
/// (printed if the frames do not come back, to show where they went).
#[derive(Clone)]
pub struct Memory {
    free_frames: usize,
    heap_bytes: usize,
    processes: String,
}

impl Memory {
    /// The baseline: [`steady_free_frames`] and [`heap_bytes`].
    pub fn read() -> Option<Self> {
        // Read first: its buffer must not take a page after the count.
        let processes = processes_text();
        let free_frames = steady_free_frames()?;
        Some(Self { free_frames, heap_bytes: heap_bytes()?, processes })
    }
}

/// `sys:processes` (each process's pages), or what reading it said.
fn processes_text() -> String {
    match io::read_file("sys:processes").map(String::from_utf8) {
        Ok(Ok(text)) => text,
        other => alloc::format!("sys:processes: {other:?}"),
    }
}

/// The resident pages process `pid` gained from `before` to `after` (two
/// `sys:processes` texts); 0 if it lost some or is missing from either.
fn resident_pages_gained(before: &str, after: &str, pid: usize) -> usize {
    // `pid ppid state pages threads name`, after a header line.
    let pages = |text: &str| {
        text.lines().skip(1).find_map(|line| {
            let mut fields = line.split_whitespace();
            let this = fields.next()?.parse::<usize>().ok()? == pid;
            this.then(|| fields.nth(2)?.parse::<usize>().ok()).flatten()
        })
    };
    match (pages(before), pages(after)) {
        (Some(before), Some(after)) => after.saturating_sub(before),
        _ => 0,
    }
}

/// The free-frame count once it has stayed the same for 20 ms (waiting at
/// most about a second): a baseline must not be taken while the last
/// frames of a process that just ended are still on their way back.
pub fn steady_free_frames() -> Option<usize> {
    let mut last = free_frames().ok()?;
    let mut stable = 0;
    for _ in 0..200 {
        let _ = sys::nanosleep(&TimeSpec { tv_sec: 0, tv_nsec: 5_000_000 }, None);
        let now = free_frames().ok()?;
        stable = if now == last { stable + 1 } else { 0 };
        last = now;
        if stable == 4 {
            break;
        }
    }
    Some(last)
}

/// The kernel heap's size, from `sys:memory`.
pub fn heap_bytes() -> Option<usize> {
    memory_field("heap_bytes ")
}

/// The kernel heap's bytes in use, from `sys:memory`.
pub fn heap_used_bytes() -> Option<usize> {
    memory_field("heap_used_bytes ")
}

/// The number after `prefix` in `sys:memory`.
fn memory_field(prefix: &str) -> Option<usize> {
    let text = io::read_file("sys:memory").ok()?;
    let text = core::str::from_utf8(&text).ok()?;
    text.lines().find_map(|l| l.strip_prefix(prefix)).and_then(|n| n.trim().parse().ok())
}

/// The last check: every frame is free again. Frames the kernel heap grew
/// by (it never shrinks) are not a leak, nor the table pages mapping them,
/// nor resident pages this process gained meanwhile (a page of its own
/// heap or stack: `sys:processes`). A daemon's gain still counts as lost:
/// a lender keeping pages it should have given back is what these checks
/// are for.
pub fn frames_back(checks: &mut Checks, before: Option<Memory>) {
    frames_back_as(checks, before, "free frames as before the groups");
}

/// [`frames_back`], checked as `what`.
pub fn frames_back_as(checks: &mut Checks, before: Option<Memory>, what: &str) {
    let Some(before) = before else { return checks.check("read sys:memory", false, format_args!("failed")) };
    let after = settled_free_frames(before.free_frames, 100).unwrap_or(0);
    let heap_grew = heap_bytes().unwrap_or(0).saturating_sub(before.heap_bytes) / PAGE;
    let processes = processes_text();
    let grown = sys::getpid().map_or(0, |pid| resident_pages_gained(&before.processes, &processes, pid)) as isize;
    let lost = before.free_frames as isize - after as isize;
    let heap_explains = |n: isize| {
        n == 0 || (heap_grew > 0 && n >= heap_grew as isize && n <= (heap_grew + heap_grew / 512 + 2) as isize)
    };
    // Frames this process took meanwhile (a page of its heap) are its
    // own, not lost.
    let ok = heap_explains(lost) || (grown > 0 && lost > 0 && (lost <= grown || heap_explains(lost - grown)));
    checks.check(
        what,
        ok,
        format_args!(
            "free_frames {} before, {after} after; the kernel heap grew by {heap_grew} pages, this process's \
             resident pages by {grown}",
            before.free_frames
        ),
    );
    if !ok {
        // Which process holds the difference (a test's own, or a daemon's).
        for (when, text) in [("before", before.processes), ("after", processes)] {
            for line in text.lines() {
                tessera_runtime::println!("  sys:processes {when}: {line}");
            }
        }
    }
}

/// The last check of a test that allows no heap growth: the free-frame
/// count is exactly `before` again (nothing checked if `before` is `None`).
pub fn frames_back_exactly(checks: &mut Checks, before: Option<usize>) {
    if let Some(before) = before {
        let after = settled_free_frames(before, 100).unwrap_or(0);
        checks.check("free frames as before", after == before, format_args!("{before} before, {after} after"));
    }
}

/// CLOCK_MONOTONIC in nanoseconds.
pub fn now_ns() -> u64 {
    let t = sys::clock_gettime(CLOCK_MONOTONIC).unwrap_or_default();
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

// ---- words and patterns --------------------------------------------------

/// The word at `addr`, read with a volatile access.
#[inline]
pub fn read_word(addr: usize) -> u64 {
    // SAFETY: an 8-aligned address in memory the test mapped, holding no
    // Rust object; an access the kernel refuses (a page unmapped or
    // revoked) kills the process, which is what the checks that do it in a
    // child expect.
    unsafe { core::ptr::read_volatile(addr as *const u64) }
}

/// Writes `value` to the word at `addr` with a volatile access.
#[inline]
pub fn write_word(addr: usize, value: u64) {
    // SAFETY: as in `read_word`.
    unsafe { core::ptr::write_volatile(addr as *mut u64, value) }
}

/// The value page `page` of a region tagged `tag` holds in its first and
/// last word.
#[inline]
pub fn pattern(tag: u64, page: usize) -> u64 {
    tag ^ (page as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Writes page `i`'s pattern into its first and last word.
pub fn fill(addr: usize, pages: usize, tag: u64) {
    for page in 0..pages {
        write_word(addr + page * PAGE, pattern(tag, page));
        write_word(addr + page * PAGE + PAGE - 8, pattern(tag, page));
    }
}

/// The first page of `0..pages` that lost its pattern.
pub fn first_changed(addr: usize, pages: usize, tag: u64) -> Option<usize> {
    first_changed_in(addr, 0..pages, tag)
}

/// The first page in `pages` that lost its pattern.
pub fn first_changed_in(addr: usize, pages: Range<usize>, tag: u64) -> Option<usize> {
    pages.into_iter().find(|&page| {
        read_word(addr + page * PAGE) != pattern(tag, page)
            || read_word(addr + page * PAGE + PAGE - 8) != pattern(tag, page)
    })
}

/// The first non-zero page of `pages` pages at `addr` (first and last word).
pub fn first_nonzero(addr: usize, pages: usize) -> Option<usize> {
    (0..pages).find(|&p| read_word(addr + p * PAGE) != 0 || read_word(addr + p * PAGE + PAGE - 8) != 0)
}

// ---- mapping -------------------------------------------------------------

/// `pages` pages of private read-write anonymous memory (with `flags`),
/// with a free page on each side: no neighbour (a program segment, another
/// mapping) can merge into its `sys:maps` entry, so the entry shows exactly
/// this mapping.
pub fn map_isolated(pages: usize, flags: MapFlags) -> Result<usize> {
    let outer = mm::mmap_anonymous((pages + 2) * PAGE, PROT_RW, MAP_PRIVATE | flags)?;
    unmap(outer, PAGE)?;
    unmap(outer + (pages + 1) * PAGE, PAGE)?;
    Ok(outer + PAGE)
}

/// Populated private read-write memory with `tag`'s pattern ([`map_isolated`]),
/// or a failed check.
pub fn map_filled(checks: &mut Checks, pages: usize, tag: u64) -> Option<usize> {
    filled(checks, pages, tag, map_isolated(pages, MAP_POPULATE))
}

/// Populated read-write memory (`flags`: private or shared) with `tag`'s
/// pattern, wherever the kernel puts it (not isolated), or a failed check.
pub fn map_filled_with(checks: &mut Checks, pages: usize, tag: u64, flags: MapFlags) -> Option<usize> {
    filled(checks, pages, tag, mm::mmap_anonymous(pages * PAGE, PROT_RW, flags | MAP_POPULATE))
}

/// The mapping of `pages` pages in `mapped`, filled with `tag`'s pattern,
/// or a failed check.
fn filled(checks: &mut Checks, pages: usize, tag: u64, mapped: Result<usize>) -> Option<usize> {
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

/// `mprotect`.
pub fn protect(addr: usize, len: usize, prot: MapFlags) -> Result<usize> {
    // SAFETY: only ranges this test mapped, holding no Rust object; losing
    // access there only makes the test's own raw accesses fault.
    unsafe { mm::mprotect(addr, len, prot) }.map(|()| 0)
}

/// `munmap`.
#[inline]
pub fn unmap(addr: usize, len: usize) -> Result<usize> {
    // SAFETY: only ranges this test mapped, holding no Rust object, or
    // ranges with nothing mapped.
    unsafe { mm::munmap(addr, len) }.map(|()| 0)
}

// ---- sys:maps ------------------------------------------------------------

/// `sys:maps`, checked for consistency, or a failed check.
pub fn maps(checks: &mut Checks) -> Option<Maps> {
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
pub fn entries(maps: &Maps, start: usize, end: usize) -> Vec<(usize, usize, String, usize)> {
    maps.overlapping(start, end).map(|e| (e.start, e.end, e.perms.to_string(), e.resident_pages)).collect()
}

/// The `sys:maps` lines overlapping `[start, end)`, for messages.
pub fn entries_text(maps: &Maps, start: usize, end: usize) -> String {
    let lines: Vec<String> = maps.overlapping(start, end).map(|e| alloc::format!("`{e}`")).collect();
    if lines.is_empty() { "no entry".into() } else { lines.join(", ") }
}

/// Checks the permissions of the entries over `[start, end)`.
pub fn expect_entries(
    checks: &mut Checks,
    what: &str,
    start: usize,
    end: usize,
    expected: &[(usize, usize, &str, usize)],
) {
    let Some(listing) = maps(checks) else { return };
    let got = entries(&listing, start, end);
    let same = got.len() == expected.len()
        && got.iter().zip(expected).all(|(g, e)| g.0 == e.0 && g.1 == e.1 && g.2 == e.2 && g.3 == e.3);
    checks.check(what, same, format_args!("{}", entries_text(&listing, start, end)));
}

// ---- accesses in a child -------------------------------------------------

/// What [`touch`] does.
#[derive(Clone, Copy)]
pub enum Access {
    Read,
    Write,
}

/// Reads the word at `addr`, or writes one there.
pub fn touch(addr: usize, access: Access) {
    match access {
        Access::Read => {
            core::hint::black_box(read_word(addr));
        }
        Access::Write => write_word(addr, 0x5A5A),
    }
}

/// Runs `body` in a forked child that exits with [`SURVIVED`] if it
/// returns; the child's status.
pub fn in_child(body: impl FnOnce()) -> Result<WaitStatus> {
    let pid = fork_with(|| {
        body();
        SURVIVED
    })?;
    reap(pid).map(|(_, status)| status)
}

/// Runs `body` in a forked child ([`in_child`]); the signal that ended it,
/// or `None` if it survived (or the fork failed).
pub fn child_signal(body: impl FnOnce()) -> Option<usize> {
    in_child(body).ok()?.signal()
}

/// Checks a child's status: killed by SIGSEGV, or (`segv` false) survived.
pub fn expect_child(checks: &mut Checks, what: &str, segv: bool, status: Result<WaitStatus>) {
    match status {
        Ok(status) if segv => checks.check(
            what,
            status.signal() == Some(SIGSEGV),
            format_args!(
                "{status}, expected killed by SIGSEGV{}",
                if status.code() == Some(SURVIVED as usize) { ": the access did not fault" } else { "" }
            ),
        ),
        Ok(status) => checks.check(
            what,
            status.code() == Some(SURVIVED as usize),
            format_args!("{status}, expected the access to work (exit {SURVIVED})"),
        ),
        Err(e) => checks.check(what, false, format_args!("fork/waitpid: {e}")),
    }
}

/// Checks that a child was killed by SIGSEGV.
pub fn expect_segv_status(checks: &mut Checks, what: &str, status: Result<WaitStatus>) {
    expect_child(checks, what, true, status);
}

// ---- the address-space cap (`sys:limits`) ---------------------------------

/// The value of the `NAME VALUE` line of `sys:limits` called `name`.
/// Errors: those of `io::read_file`; `EINVAL` if the text is not UTF-8 or
/// has no such line.
pub fn limit_line(name: &str) -> Result<String> {
    let bad = || tessera_runtime::Error::new(tessera_runtime::abi::error::EINVAL);
    let text = String::from_utf8(io::read_file("sys:limits")?).map_err(|_| bad())?;
    text.lines()
        .find_map(|line| line.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .map(String::from)
        .ok_or_else(bad)
}

/// The caller's address-space cap from `sys:limits`: `Some(bytes)`, or
/// `None` for `as unlimited`. Errors: those of [`limit_line`]; `EINVAL`
/// if the value is neither a number nor `unlimited`.
pub fn as_limit() -> Result<Option<usize>> {
    let bad = || tessera_runtime::Error::new(tessera_runtime::abi::error::EINVAL);
    match limit_line("as")?.as_str() {
        "unlimited" => Ok(None),
        bytes => bytes.parse().map(Some).map_err(|_| bad()),
    }
}

/// The caller's grant cap (`maps COUNT` in `sys:limits`).
pub fn maps_limit() -> Result<u64> {
    limit_line("maps")?.parse().map_err(|_| tessera_runtime::Error::new(tessera_runtime::abi::error::EINVAL))
}

/// Writes `command` (e.g. `as 1048576`, `as unlimited`) to `sys:limits`
/// in one `write`; the bytes written. Errors: those of the open and the
/// write (`EINVAL` a bad command, `EPERM` an unprivileged raise).
pub fn write_limits(command: &[u8]) -> Result<usize> {
    let fd = sys::open("sys:limits", tessera_runtime::abi::flag::O_WRONLY)?;
    let written = sys::write(fd, command);
    let _ = sys::close(fd);
    written
}

/// Sets the caller's address-space cap: `Some(bytes)` (rounded up to
/// pages by the kernel) or `None` for unlimited. Errors: those of
/// [`write_limits`].
pub fn set_as_limit(bytes: Option<usize>) -> Result<usize> {
    match bytes {
        Some(bytes) => write_limits(alloc::format!("as {bytes}").as_bytes()),
        None => write_limits(b"as unlimited"),
    }
}
