//! `mm-protect`: `mprotect` changes what an access may do, page by page,
//! and keeps the data.
//!
//! Each group runs in its own forked child (lines prefixed
//! `mm-protect <group>:`); bad accesses run in a further child that must
//! die with SIGSEGV.
//!
//! | group | checks |
//! |---|---|
//! | read-only | mprotect(R): `r--p`, reads see the data; a write in a child: SIGSEGV; in one process, write, mprotect(R), write again: SIGSEGV (the old writable translation is gone); back to RW: data kept, writable |
//! | none | mprotect(PROT_NONE): `---p`; a read and a write in a child: SIGSEGV; in one process, read, mprotect(NONE), read again: SIGSEGV; back to RW: data kept |
//! | split | mprotect(R) of pages 2..5 of 8: three entries `rw-p` 2 / `r--p` 3 / `rw-p` 3 pages with their resident pages; a write to the middle faults, to the sides works; back to RW: one entry again; `mprotect(addr, 1, R)` changes exactly the first page |
//! | errors | ENOMEM: a range with a hole, and nothing changed (the mapped part keeps `rw-p`); ENOMEM: nothing mapped; EINVAL: unaligned address, MAP_* or unknown bits in `prot`; length 0 → 0 |
//! | exec | `ret` written into an RW page: calling it in a child gives SIGSEGV; after mprotect(R|X) (`r-xp`) the call returns |
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

use tessera_guest_tests::system::{fork_with, free_frames, reap, settled_free_frames};
use tessera_guest_tests::{Checks, Shown, errno_name};
use tessera_runtime::abi::error::{EINVAL, ENOMEM};
use tessera_runtime::abi::signal::SIGSEGV;
use tessera_runtime::mm::{
    self, MAP_POPULATE, MAP_PRIVATE, MAP_SHARED, MapFlags, Maps, PROT_EXEC, PROT_NONE, PROT_READ, PROT_RW,
};
use tessera_runtime::sys::WaitStatus;
use tessera_runtime::{Args, Result, io, sys};

tessera_runtime::entry!(main);

const PAGE: usize = mm::PAGE_SIZE;
/// Exit status of a child whose bad access did not fault.
const SURVIVED: i32 = 100;

/// A return instruction, as bytes: what the exec group calls.
#[cfg(target_arch = "x86_64")]
const RET_CODE: [u8; 4] = [0xC3; 4];
/// `ret` (0xD65F03C0), little-endian.
#[cfg(target_arch = "aarch64")]
const RET_CODE: [u8; 4] = [0xC0, 0x03, 0x5F, 0xD6];

fn main(_args: Args) -> i32 {
    let mut checks = Checks::new("mm-protect");
    let _ = fork_with(|| {
        warm_up();
        0
    })
    .and_then(reap);
    let before = Memory::read();
    group(&mut checks, "mm-protect read-only", read_only);
    group(&mut checks, "mm-protect none", prot_none);
    group(&mut checks, "mm-protect split", split);
    group(&mut checks, "mm-protect errors", errors);
    group(&mut checks, "mm-protect exec", exec);
    frames_back(&mut checks, before);
    checks.finish()
}

/// What the groups do, once, so the kernel heap has grown for it before
/// the baseline.
fn warm_up() {
    if let Ok(addr) = mm::mmap_anonymous(8 * PAGE, PROT_RW, MAP_PRIVATE | MAP_POPULATE) {
        let _ = protect(addr + 2 * PAGE, 3 * PAGE, PROT_READ);
        let _ = protect(addr, 8 * PAGE, PROT_RW);
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
    match map_isolated(pages, MAP_POPULATE) {
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

fn protect(addr: usize, len: usize, prot: MapFlags) -> Result<usize> {
    // SAFETY: only ranges this test mapped, holding no Rust object; losing
    // access there only makes the test's own raw accesses fault.
    unsafe { mm::mprotect(addr, len, prot) }.map(|()| 0)
}

/// mprotect, recorded as a check.
fn protect_checked(checks: &mut Checks, what: &str, addr: usize, len: usize, prot: MapFlags) -> bool {
    let got = protect(addr, len, prot);
    checks.check(what, got == Ok(0), format_args!("{}", Shown(got)));
    got.is_ok()
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

#[derive(Clone, Copy)]
enum Access {
    Read,
    Write,
}

fn touch(addr: usize, access: Access) {
    match access {
        Access::Read => {
            core::hint::black_box(read_word(addr));
        }
        Access::Write => write_word(addr, 0x5A5A),
    }
}

/// Runs `body` in a forked child that exits with [`SURVIVED`] if it
/// returns; the child's status.
fn in_child(body: impl FnOnce()) -> Result<WaitStatus> {
    let pid = fork_with(|| {
        body();
        SURVIVED
    })?;
    reap(pid).map(|(_, status)| status)
}

/// Checks a child's status: killed by SIGSEGV, or (`segv` false) survived.
fn expect_child(checks: &mut Checks, what: &str, segv: bool, status: Result<WaitStatus>) {
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

// ---- groups --------------------------------------------------------------

fn read_only(checks: &mut Checks) {
    const PAGES: usize = 4;
    let Some(addr) = map_filled(checks, PAGES, 0x70) else { return };
    let end = addr + PAGES * PAGE;
    if !protect_checked(checks, "mprotect(R) of 4 populated pages", addr, PAGES * PAGE, PROT_READ) {
        return;
    }
    expect_entries(checks, "sys:maps shows them `r--p`, 4 resident", addr, end, &[(addr, end, "r--p", PAGES)]);
    let changed = first_changed(addr, PAGES, 0x70);
    checks.check("read-only pages read their data", changed.is_none(), format_args!("page {changed:?} changed"));
    expect_child(
        checks,
        "a write to a read-only page in a child: SIGSEGV",
        true,
        in_child(|| touch(addr, Access::Write)),
    );
    expect_child(checks, "a read of a read-only page in a child works", false, in_child(|| touch(addr, Access::Read)));
    let status = in_child(|| {
        let Ok(page) = mm::mmap_anonymous(PAGE, PROT_RW, MAP_PRIVATE) else { return };
        write_word(page, 1);
        if protect(page, PAGE, PROT_READ).is_ok() {
            write_word(page, 2);
        }
    });
    expect_child(checks, "in one process: write, mprotect(R), write again: SIGSEGV", true, status);
    if protect_checked(checks, "mprotect back to RW", addr, PAGES * PAGE, PROT_RW) {
        let changed = first_changed(addr, PAGES, 0x70);
        fill(addr, PAGES, 0x71);
        let rewritten = first_changed(addr, PAGES, 0x71);
        checks.check(
            "back to RW: data kept, pages writable",
            changed.is_none() && rewritten.is_none(),
            format_args!("page {changed:?} lost its data, page {rewritten:?} lost a new write"),
        );
        expect_entries(checks, "sys:maps shows `rw-p` again", addr, end, &[(addr, end, "rw-p", PAGES)]);
    }
    let _ = unmap(addr, PAGES * PAGE);
}

fn prot_none(checks: &mut Checks) {
    const PAGES: usize = 4;
    let Some(addr) = map_filled(checks, PAGES, 0x80) else { return };
    let end = addr + PAGES * PAGE;
    if !protect_checked(checks, "mprotect(PROT_NONE)", addr, PAGES * PAGE, PROT_NONE) {
        return;
    }
    expect_entries(checks, "sys:maps shows `---p`", addr, end, &[(addr, end, "---p", PAGES)]);
    expect_child(
        checks,
        "a read of a PROT_NONE page in a child: SIGSEGV",
        true,
        in_child(|| touch(addr, Access::Read)),
    );
    expect_child(
        checks,
        "a write to a PROT_NONE page in a child: SIGSEGV",
        true,
        in_child(|| touch(addr + PAGE + 8, Access::Write)),
    );
    let status = in_child(|| {
        let Ok(page) = mm::mmap_anonymous(PAGE, PROT_RW, MAP_PRIVATE) else { return };
        write_word(page, 1);
        core::hint::black_box(read_word(page));
        if protect(page, PAGE, PROT_NONE).is_ok() {
            core::hint::black_box(read_word(page));
        }
    });
    expect_child(checks, "in one process: read, mprotect(NONE), read again: SIGSEGV", true, status);
    if protect_checked(checks, "mprotect back to RW", addr, PAGES * PAGE, PROT_RW) {
        let changed = first_changed(addr, PAGES, 0x80);
        checks.check("back to RW: data kept", changed.is_none(), format_args!("page {changed:?} changed"));
    }
    let _ = unmap(addr, PAGES * PAGE);
}

fn split(checks: &mut Checks) {
    const PAGES: usize = 8;
    let Some(addr) = map_filled(checks, PAGES, 0x90) else { return };
    let end = addr + PAGES * PAGE;
    let page = |i: usize| addr + i * PAGE;
    if !protect_checked(checks, "mprotect(R) of pages 2..5", page(2), 3 * PAGE, PROT_READ) {
        return;
    }
    expect_entries(
        checks,
        "sys:maps shows three entries: rw-p 2, r--p 3, rw-p 3 pages",
        addr,
        end,
        &[(addr, page(2), "rw-p", 2), (page(2), page(5), "r--p", 3), (page(5), end, "rw-p", 3)],
    );
    expect_child(checks, "a write to page 3: SIGSEGV", true, in_child(|| touch(page(3), Access::Write)));
    expect_child(checks, "a write to page 1 works", false, in_child(|| touch(page(1), Access::Write)));
    expect_child(checks, "a write to page 5 works", false, in_child(|| touch(page(5), Access::Write)));
    let changed = first_changed(addr, PAGES, 0x90);
    checks.check("all 8 pages keep their data", changed.is_none(), format_args!("page {changed:?} changed"));
    if protect_checked(checks, "mprotect(RW) of pages 2..5", page(2), 3 * PAGE, PROT_RW) {
        expect_entries(checks, "one `rw-p` entry of 8 pages again", addr, end, &[(addr, end, "rw-p", PAGES)]);
    }
    if protect_checked(checks, "mprotect(addr, 1, R)", addr, 1, PROT_READ) {
        expect_entries(
            checks,
            "a 1-byte mprotect changes exactly the first page",
            addr,
            end,
            &[(addr, page(1), "r--p", 1), (page(1), end, "rw-p", 7)],
        );
    }
    let _ = unmap(addr, PAGES * PAGE);
}

fn errors(checks: &mut Checks) {
    let Some(addr) = map_filled(checks, 3, 0xA0) else { return };
    let end = addr + 3 * PAGE;
    let _ = unmap(addr + PAGE, PAGE);
    checks.expect_errno("mprotect of a range with a hole", protect(addr, 3 * PAGE, PROT_READ), ENOMEM);
    expect_entries(
        checks,
        "a failed mprotect changed nothing (both pages still `rw-p`)",
        addr,
        end,
        &[(addr, addr + PAGE, "rw-p", 1), (addr + 2 * PAGE, end, "rw-p", 1)],
    );
    checks.expect_errno("mprotect of the hole alone", protect(addr + PAGE, PAGE, PROT_READ), ENOMEM);
    checks.expect_errno("mprotect at an unaligned address", protect(addr + 8, PAGE, PROT_READ), EINVAL);
    checks.expect_errno("mprotect with MAP_SHARED in prot", protect(addr, PAGE, PROT_READ | MAP_SHARED), EINVAL);
    checks.expect_errno(
        "mprotect with an unknown bit in prot",
        protect(addr, PAGE, PROT_READ | MapFlags::from_bits_retain(1 << 30)),
        EINVAL,
    );
    checks.check("mprotect of 0 bytes succeeds", protect(addr, 0, PROT_READ) == Ok(0), format_args!(""));
    expect_entries(checks, "... and changes nothing", addr, addr + PAGE, &[(addr, addr + PAGE, "rw-p", 1)]);
    let _ = unmap(addr, 3 * PAGE);
}

/// Calls the code at `addr`.
fn call(addr: usize) {
    // SAFETY: `addr` holds `RET_CODE`, which returns at once with nothing
    // clobbered but what the C ABI allows; if the page is not executable the
    // kernel kills the process, which the checks expect.
    let code: extern "C" fn() = unsafe { core::mem::transmute::<usize, extern "C" fn()>(addr) };
    code();
}

fn exec(checks: &mut Checks) {
    let Ok(addr) = map_isolated(1, MapFlags::empty()) else {
        return checks.check("mmap", false, format_args!("failed"));
    };
    for (i, byte) in RET_CODE.iter().enumerate() {
        // SAFETY: the page is this test's, writable, and holds no Rust object.
        unsafe { core::ptr::write_volatile((addr + i) as *mut u8, *byte) };
    }
    expect_child(checks, "a call into an RW (not executable) page: SIGSEGV", true, in_child(|| call(addr)));
    if protect_checked(checks, "mprotect(R|X)", addr, PAGE, PROT_READ | PROT_EXEC) {
        expect_entries(checks, "sys:maps shows `r-xp`", addr, addr + PAGE, &[(addr, addr + PAGE, "r-xp", 1)]);
        expect_child(checks, "a call into the R|X page returns", false, in_child(|| call(addr)));
    }
    let _ = unmap(addr, PAGE);
}
