//! `mm-map`: `mmap` (fmap) and `munmap` (funmap) of anonymous memory, and
//! the `sys:maps` listing that shows the result.
//!
//! Each group runs in its own forked child (its lines are prefixed
//! `mm-map <group>:`), so a kernel bug that kills one group hides no other,
//! and the page tables a group made go away with it: the parent's
//! free-frame count at the end is exact.
//!
//! | group | checks |
//! |---|---|
//! | maps | `sys:maps` parses, totals are the sums, entries sorted; the code is in an `r-x` entry, a local in the `rw-p` `stack` entry; a new mapping is its own `rw-p anon 0` entry, a shared one `rw-s shared` |
//! | errors | EINVAL: zero length, misaligned fixed address, misaligned offset, neither / both of SHARED and PRIVATE; ENOMEM (Linux's): a length that overflows, a fixed range that wraps, starts at or crosses the end of user space, a length that cannot fit; EPERM (Linux's): a fixed range at page 0 or across the lowest mappable address (64 KiB); EBADF: a closed fd; EEXIST: FIXED_NOREPLACE over / across a mapping (data kept); FIXED_NOREPLACE on a free range lands there; a hint outside user space is ignored |
//! | demand-zero | a fresh 64-page mapping has 0 resident pages; writes make exactly those pages resident (1, then 9); every word reads 0; reads add no resident page |
//! | zeroed-pool | idle CPUs fill the kernel's pool of zeroed frames (`sys:memory`'s `zeroed_pool`, at least 64 within 5 s of sleeping); 64 pages written at word 1 take their frames from it (`hits` +64 or more) and read zero in every other word, word 0 (the pool's link while a frame waits there) included |
//! | write-around | a fresh 72-page mapping at a 32-page-aligned address, pages 0, 1, 32, 64 written: 1, 32, 64, 72 resident (a run of writes fills the rest of each 32-page block, clipped to the mapping); written pages keep their values, the rest read zero; every other page of another mapping written: only those resident |
//! | populate | MAP_POPULATE: all 32 pages resident at once, at least 32 frames taken, contents zero |
//! | memory-zeroed | `memory:zeroed` fds map like anonymous memory, private and shared |
//! | fixed | MAP_FIXED over the middle of populated memory: zeroes there, the rest kept, resident drops; over all of it: all zero |
//! | munmap-middle | unmapping 2 pages in the middle leaves two entries (3 + 3 pages, 3 + 3 resident) with their data; a read and a write in the hole die with SIGSEGV (in a child), and so does one process's read of a page it wrote and unmapped; `munmap(addr, 1)` unmaps the whole first page |
//! | munmap | nothing mapped → 0; across a mapping and a hole → 0 and the mapping is gone; EINVAL: unaligned, zero length, at the end of user space, wrapping |
//! | hints | a free hint is used exactly; an occupied hint goes elsewhere without touching the mapping there; a misaligned hint gives a page-aligned address |
//! | many | 2000 one-page mappings: each listed `rw-p`, mapped pages +2000 and resident +2000 (outside the stack), each keeps its own data; unmapped: none listed, totals back |
//!
//! The kernel merges neighbouring mappings that could be one, so the
//! mappings whose `sys:maps` entry is checked exactly get a free page on
//! each side ([`map_isolated`]).
//!
//! Finally the kernel's free-frame count is back where it was before the
//! groups ran.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::ToString;
use alloc::vec::Vec;

use tessera_guest_tests::mm::{
    Access, Memory, PAGE, entries_text, expect_segv_status, fill, first_changed_in, frames_back, group, in_child,
    map_isolated, maps, read_word, touch, unmap, write_word,
};
use tessera_guest_tests::system::{self, fork_with, quiet_free_frames, reap};
use tessera_guest_tests::{Checks, Shown, errno_name};
use tessera_runtime::abi::TimeSpec;
use tessera_runtime::abi::error::{EBADF, EEXIST, EINVAL, ENOMEM, EPERM};
use tessera_runtime::abi::flag::O_RDWR;
use tessera_runtime::mm::{
    self, ANONYMOUS_FD, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_POPULATE, MAP_PRIVATE, MAP_SHARED, MapFlags, MapKind, Maps,
    PROT_RW,
};
use tessera_runtime::sys;
use tessera_runtime::{Args, Result};

tessera_runtime::entry!(main);

/// One past the highest user address on both arches (the kernel's
/// `USER_END`).
const USER_END: usize = 0x0000_8000_0000_0000;
/// Mappings the `many` group makes.
const MANY: usize = 2000;

fn main(_args: Args) -> i32 {
    let mut checks = Checks::new("mm-map");
    // Warm-up: the kernel heap grows for the first big batch of grants and
    // keeps what it grew, so do one before the baseline.
    let _ = fork_with(|| {
        many_pages(MANY);
        0
    })
    .and_then(reap);
    let before = Memory::read();
    group(&mut checks, "mm-map maps", maps_listing);
    group(&mut checks, "mm-map errors", errors);
    group(&mut checks, "mm-map demand-zero", demand_zero);
    group(&mut checks, "mm-map zeroed-pool", zeroed_pool);
    group(&mut checks, "mm-map write-around", write_around);
    group(&mut checks, "mm-map populate", populate);
    group(&mut checks, "mm-map memory-zeroed", memory_zeroed);
    group(&mut checks, "mm-map fixed", fixed_replace);
    group(&mut checks, "mm-map munmap-middle", munmap_middle);
    group(&mut checks, "mm-map munmap", munmap_cases);
    group(&mut checks, "mm-map hints", hints);
    group(&mut checks, "mm-map many", many);
    frames_back(&mut checks, before);
    checks.finish()
}

// ---- helpers -------------------------------------------------------------

/// The first non-zero word of `pages` pages at `addr`, as (page, word).
fn first_nonzero(addr: usize, pages: usize) -> Option<(usize, usize)> {
    (0..pages * PAGE / 8).find(|&i| read_word(addr + i * 8) != 0).map(|i| (i * 8 / PAGE, i % (PAGE / 8)))
}

/// [`map_isolated`], or a failed check.
fn map(checks: &mut Checks, pages: usize, flags: MapFlags) -> Option<usize> {
    match map_isolated(pages, flags) {
        Ok(addr) => Some(addr),
        Err(e) => {
            checks.check("mmap", false, format_args!("mmap of {pages} pages: {} = {}", errno_name(e.errno), e.errno));
            None
        }
    }
}

/// `mmap` at exactly `addr`.
fn map_fixed(addr: usize, len: usize, flags: MapFlags) -> Result<usize> {
    // SAFETY: the tests map fixed only over ranges they mapped themselves
    // (no Rust object lives there) or that are free.
    unsafe { mm::mmap(addr, len, PROT_RW, MAP_PRIVATE | flags, ANONYMOUS_FD, 0) }
}

/// Checks that touching `addr` kills a child with SIGSEGV.
fn expect_segv(checks: &mut Checks, what: &str, addr: usize, access: Access) {
    expect_segv_status(checks, what, in_child(|| touch(addr, access)));
}

// ---- groups --------------------------------------------------------------

fn maps_listing(checks: &mut Checks) {
    let Some(listing) = maps(checks) else { return };
    checks.check(
        "sys:maps lists the program's memory",
        !listing.entries.is_empty() && listing.consistency_error().is_none(),
        format_args!("{} entries; {:?}", listing.entries.len(), listing.consistency_error()),
    );
    let code = main as *const () as usize;
    let code_entry = listing.find(code);
    checks.check(
        "the code is in an `r-x` entry",
        code_entry.is_some_and(|e| e.perms.read && e.perms.exec && !e.perms.write),
        format_args!("{code:#x} is in {}", code_entry.map_or("no entry".into(), |e| alloc::format!("`{e}`"))),
    );
    let local = 0u64;
    let sp = core::hint::black_box(&raw const local) as usize;
    let stack_entry = listing.find(sp);
    checks.check(
        "a local variable is in the `stack` entry, rw-p",
        stack_entry.is_some_and(|e| e.kind == MapKind::Stack && e.perms.to_string() == "rw-p" && e.resident_pages > 0),
        format_args!("{sp:#x} is in {stack_entry:?}"),
    );
    let Some(addr) = map(checks, 4, MapFlags::empty()) else { return };
    let Some(listing) = maps(checks) else { return };
    let entry = listing.find(addr);
    checks.check(
        "a new private mapping is its own `rw-p anon 0` entry",
        entry.is_some_and(|e| {
            (e.start, e.end, e.kind, e.resident_pages) == (addr, addr + 4 * PAGE, MapKind::Anon, 0)
                && e.perms.to_string() == "rw-p"
        }),
        format_args!("{}", entries_text(&listing, addr, addr + 4 * PAGE)),
    );
    let shared = mm::mmap_anonymous(2 * PAGE, PROT_RW, MAP_SHARED);
    let Ok(shared) = shared else {
        return checks.check("mmap MAP_SHARED", false, format_args!("{}", Shown(shared)));
    };
    let Some(listing) = maps(checks) else { return };
    let entry = listing.find(shared);
    checks.check(
        "a shared mapping is an `rw-s shared` entry",
        entry.is_some_and(|e| e.kind == MapKind::Shared && e.perms.to_string() == "rw-s"),
        format_args!("{}", entries_text(&listing, shared, shared + 2 * PAGE)),
    );
}

fn errors(checks: &mut Checks) {
    let anon = |addr: usize, len: usize, flags: MapFlags| -> Result<usize> {
        // SAFETY: every call here is refused, or (the last ones) maps at
        // a free place or a hint.
        unsafe { mm::mmap(addr, len, PROT_RW, flags, ANONYMOUS_FD, 0) }
    };
    checks.expect_errno("mmap of 0 bytes", anon(0, 0, MAP_PRIVATE), EINVAL);
    checks.expect_errno(
        "MAP_FIXED at a misaligned address",
        anon(0x10_0000_0123, PAGE, MAP_PRIVATE | MAP_FIXED),
        EINVAL,
    );
    // SAFETY: refused before anything is mapped.
    let offset = unsafe { mm::mmap(0, PAGE, PROT_RW, MAP_PRIVATE, ANONYMOUS_FD, 123) };
    checks.expect_errno("a misaligned offset", offset, EINVAL);
    checks.expect_errno("neither MAP_SHARED nor MAP_PRIVATE", anon(0, PAGE, MapFlags::empty()), EINVAL);
    checks.expect_errno("both MAP_SHARED and MAP_PRIVATE", anon(0, PAGE, MAP_SHARED | MAP_PRIVATE), EINVAL);
    // Linux's errnos: ENOMEM past the top, EPERM below the lowest address.
    checks.expect_errno(
        "a length that overflows when rounded to pages",
        anon(0, usize::MAX - 100, MAP_PRIVATE),
        ENOMEM,
    );
    checks.expect_errno(
        "MAP_FIXED where address + length wraps",
        anon(0x10_0000_0000, usize::MAX & !(PAGE - 1), MAP_PRIVATE | MAP_FIXED),
        ENOMEM,
    );
    checks.expect_errno("MAP_FIXED at the end of user space", anon(USER_END, PAGE, MAP_PRIVATE | MAP_FIXED), ENOMEM);
    checks.expect_errno(
        "MAP_FIXED across the end of user space",
        anon(USER_END - PAGE, 2 * PAGE, MAP_PRIVATE | MAP_FIXED),
        ENOMEM,
    );
    checks.expect_errno("MAP_FIXED at page 0", anon(0, PAGE, MAP_PRIVATE | MAP_FIXED), EPERM);
    checks.expect_errno(
        "MAP_FIXED across the lowest mappable address",
        anon(0x1_0000 - PAGE, 2 * PAGE, MAP_PRIVATE | MAP_FIXED),
        EPERM,
    );
    checks.expect_errno(
        "a length that cannot fit (all of user space)",
        anon(0, USER_END - 0x10_0000, MAP_PRIVATE),
        ENOMEM,
    );
    // SAFETY: refused: fd 999 is not open.
    let closed = unsafe { mm::mmap(0, PAGE, PROT_RW, MAP_PRIVATE, 999, 0) };
    checks.expect_errno("mmap of a closed fd", closed, EBADF);

    let Some(addr) = map(checks, 4, MapFlags::empty()) else { return };
    fill(addr, 4, 0xE0);
    checks.expect_errno(
        "MAP_FIXED_NOREPLACE over a mapping",
        map_fixed(addr + PAGE, PAGE, MAP_FIXED_NOREPLACE),
        EEXIST,
    );
    checks.expect_errno(
        "MAP_FIXED_NOREPLACE across the start of a mapping",
        map_fixed(addr - PAGE, 2 * PAGE, MAP_FIXED_NOREPLACE),
        EEXIST,
    );
    let changed = first_changed_in(addr, 0..4, 0xE0);
    checks.check(
        "a refused MAP_FIXED_NOREPLACE keeps the data",
        changed.is_none(),
        format_args!("page {changed:?} changed"),
    );
    let _ = unmap(addr, 4 * PAGE);
    let placed = map_fixed(addr + PAGE, 2 * PAGE, MAP_FIXED_NOREPLACE);
    checks.check(
        "MAP_FIXED_NOREPLACE on a free range maps exactly there",
        placed == Ok(addr + PAGE),
        format_args!("{} for {:#x}", Shown(placed), addr + PAGE),
    );
    let _ = unmap(addr, 4 * PAGE);

    let outside = anon(0xFFFF_8000_0000_0000, PAGE, MAP_PRIVATE);
    checks.check(
        "a hint outside user space is only a hint",
        matches!(outside, Ok(a) if a != 0 && a % PAGE == 0 && a < USER_END),
        format_args!("{}", Shown(outside)),
    );
    if let Ok(a) = outside {
        write_word(a, 1);
        let _ = unmap(a, PAGE);
    }
}

fn demand_zero(checks: &mut Checks) {
    const PAGES: usize = 64;
    // Read the listing once first: its buffers settle on the heap.
    let _ = maps(checks);
    let Some(addr) = map(checks, PAGES, MapFlags::empty()) else { return };
    let end = addr + PAGES * PAGE;
    let resident =
        |checks: &mut Checks| maps(checks).and_then(|m| m.find(addr).map(|e| (e.start, e.end, e.resident_pages)));
    let fresh = resident(checks);
    checks.check(
        "a fresh 64-page mapping: one entry, 0 resident pages",
        fresh == Some((addr, end, 0)),
        format_args!("entry (start, end, resident) {fresh:x?}, expected ({addr:#x}, {end:#x}, 0)"),
    );
    write_word(addr + 5 * PAGE, 1);
    let one = resident(checks).map(|e| e.2);
    checks.check("one page written: 1 resident page", one == Some(1), format_args!("{one:?} resident"));
    for page in (0..PAGES).step_by(8) {
        write_word(addr + page * PAGE + 8, 2);
    }
    let nine = resident(checks).map(|e| e.2);
    checks.check("9 pages written: 9 resident pages", nine == Some(9), format_args!("{nine:?} resident"));
    // Everything else must be zero: undo the writes, then scan every word.
    write_word(addr + 5 * PAGE, 0);
    for page in (0..PAGES).step_by(8) {
        write_word(addr + page * PAGE + 8, 0);
    }
    let nonzero = first_nonzero(addr, PAGES);
    checks.check("all 64 pages read as zero", nonzero.is_none(), format_args!("(page, word) {nonzero:?} is not 0"));
    let after_reads = resident(checks).map(|e| e.2);
    checks.check(
        "reading untouched pages makes none resident",
        after_reads == Some(9),
        format_args!("{after_reads:?} resident after reading all 64 pages, 9 before"),
    );
    let _ = unmap(addr, PAGES * PAGE);
}

fn zeroed_pool(checks: &mut Checks) {
    const PAGES: usize = 64;
    let mut pool = system::zeroed_pool();
    for _ in 0..2500 {
        if pool.as_ref().is_ok_and(|&(frames, _)| frames >= PAGES as u64) {
            break;
        }
        let _ = sys::nanosleep(&TimeSpec { tv_sec: 0, tv_nsec: 2_000_000 }, None);
        pool = system::zeroed_pool();
    }
    let Ok((frames, hits_before)) = pool else {
        checks.check("sys:memory has a zeroed_pool line", false, format_args!("{pool:?}"));
        return;
    };
    checks.check(
        "idle CPUs fill the zeroed pool",
        frames >= PAGES as u64,
        format_args!("{frames} frames in the pool after 5 s of sleeping"),
    );
    let Some(addr) = map(checks, PAGES, MapFlags::empty()) else { return };
    for page in 0..PAGES {
        write_word(addr + page * PAGE + 8, page as u64 + 1);
    }
    let hits = system::zeroed_pool().map(|(_, hits)| hits - hits_before);
    checks.check(
        "64 demand-zero pages take their frames from the pool",
        hits.as_ref().is_ok_and(|&hits| hits >= PAGES as u64),
        format_args!("pool hits +{hits:?}"),
    );
    let wrong = (0..PAGES * PAGE / 8).find(|&i| {
        let (page, word) = (i * 8 / PAGE, i % (PAGE / 8));
        read_word(addr + i * 8) != if word == 1 { page as u64 + 1 } else { 0 }
    });
    checks.check(
        "pages from the pool read zero but for the word written",
        wrong.is_none(),
        format_args!(
            "(page, word) {:?} reads {:#x}",
            wrong.map(|i| (i * 8 / PAGE, i % (PAGE / 8))),
            wrong.map_or(0, |i| read_word(addr + i * 8))
        ),
    );
    let _ = unmap(addr, PAGES * PAGE);
}

fn write_around(checks: &mut Checks) {
    // The kernel's write-around block (`tessera_mm::WRITE_AROUND_PAGES`).
    const BLOCK: usize = 32;
    const PAGES: usize = 2 * BLOCK + 8;
    let _ = maps(checks);
    // PAGES pages from a block-aligned address: blocks [0, B), [B, 2B) and
    // [2B, 2B + 8) of the mapping (the rest of a larger one unmapped).
    let Some(big) = map(checks, PAGES + BLOCK, MapFlags::empty()) else { return };
    let addr = (big + BLOCK * PAGE - 1) & !(BLOCK * PAGE - 1);
    let _ = unmap(big, addr - big);
    let _ = unmap(addr + PAGES * PAGE, big + (PAGES + BLOCK) * PAGE - (addr + PAGES * PAGE));
    let resident = |checks: &mut Checks| maps(checks).and_then(|m| m.find(addr).map(|e| e.resident_pages));
    let mut steps = Vec::new();
    let writes = [(0, 1), (1, 2), (BLOCK, 3), (2 * BLOCK, 4)];
    for (page, value) in writes {
        write_word(addr + page * PAGE, value);
        steps.push(resident(checks));
    }
    checks.check(
        "writes to pages 0, 1, B, 2B: 1, B, 2B, 2B + 8 resident (the run fills each block, clipped to the mapping)",
        steps == [Some(1), Some(BLOCK), Some(2 * BLOCK), Some(PAGES)],
        format_args!("{steps:?}"),
    );
    let wrong = (0..PAGES).find(|&p| {
        let want = writes.iter().find(|&&(page, _)| page == p).map_or(0, |&(_, value)| value);
        read_word(addr + p * PAGE) != want
    });
    checks.check(
        "written pages keep their values, the rest read zero",
        wrong.is_none(),
        format_args!("page {wrong:?}"),
    );
    let _ = unmap(addr, PAGES * PAGE);
    // No run, no fill: every other page.
    let Some(sparse) = map(checks, BLOCK, MapFlags::empty()) else { return };
    for page in (0..BLOCK).step_by(2) {
        write_word(sparse + page * PAGE, 5);
    }
    let count = maps(checks).and_then(|m| m.find(sparse).map(|e| e.resident_pages));
    checks.check("every other page written: half resident", count == Some(BLOCK / 2), format_args!("{count:?}"));
    let _ = unmap(sparse, BLOCK * PAGE);
}

fn populate(checks: &mut Checks) {
    const PAGES: usize = 32;
    let _ = maps(checks);
    let free_before = quiet_free_frames(5).unwrap_or(0);
    let Some(addr) = map(checks, PAGES, MAP_POPULATE) else { return };
    let free_after = quiet_free_frames(5).unwrap_or(0);
    let entry = maps(checks).and_then(|m| m.find(addr).copied());
    checks.check(
        "MAP_POPULATE: all 32 pages resident at once",
        entry.is_some_and(|e| e.start == addr && e.pages() == PAGES && e.resident_pages == PAGES),
        format_args!("entry {}", entry.map_or("none".into(), |e| alloc::format!("`{e}`"))),
    );
    checks.check(
        "MAP_POPULATE took at least 32 frames",
        free_before >= free_after + PAGES,
        format_args!("free_frames {free_before} before, {free_after} after"),
    );
    let nonzero = first_nonzero(addr, PAGES);
    checks.check("populated pages read as zero", nonzero.is_none(), format_args!("(page, word) {nonzero:?} is not 0"));
    let _ = unmap(addr, PAGES * PAGE);
}

fn memory_zeroed(checks: &mut Checks) {
    let fd = match sys::open("memory:zeroed", O_RDWR) {
        Ok(fd) => fd,
        Err(e) => {
            return checks.check("open memory:zeroed", false, format_args!("{} = {}", errno_name(e.errno), e.errno));
        }
    };
    for (flags, kind, what) in [
        (MAP_PRIVATE, MapKind::Anon, "a private map of memory:zeroed is zeroed anonymous memory"),
        (MAP_SHARED, MapKind::Shared, "a shared map of memory:zeroed is zeroed shared memory"),
    ] {
        // SAFETY: not fixed: the mapping replaces nothing.
        let got = unsafe { mm::mmap(0, 4 * PAGE, PROT_RW, flags, fd, 0) };
        let Ok(addr) = got else {
            checks.check(what, false, format_args!("fmap gave {}", Shown(got)));
            continue;
        };
        let nonzero = first_nonzero(addr, 4);
        fill(addr, 4, 0x2E);
        let changed = first_changed_in(addr, 0..4, 0x2E);
        let entry = maps(checks).and_then(|m| m.find(addr).copied());
        checks.check(
            what,
            nonzero.is_none() && changed.is_none() && entry.is_some_and(|e| e.kind == kind && e.resident_pages >= 4),
            format_args!(
                "first non-zero (page, word) {nonzero:?}, first page not keeping a write {changed:?}, entry {}",
                entry.map_or("none".into(), |e| alloc::format!("`{e}`"))
            ),
        );
        let _ = unmap(addr, 4 * PAGE);
    }
    let _ = sys::close(fd);
}

fn fixed_replace(checks: &mut Checks) {
    const PAGES: usize = 8;
    let Some(addr) = map(checks, PAGES, MAP_POPULATE) else { return };
    fill(addr, PAGES, 0xF1);
    let got = map_fixed(addr + 2 * PAGE, 4 * PAGE, MAP_FIXED);
    checks.check(
        "MAP_FIXED over the middle returns that address",
        got == Ok(addr + 2 * PAGE),
        format_args!("{} for {:#x}", Shown(got), addr + 2 * PAGE),
    );
    let nonzero = first_nonzero(addr + 2 * PAGE, 4);
    checks.check("the replaced pages read zero", nonzero.is_none(), format_args!("(page, word) {nonzero:?} is not 0"));
    let kept = first_changed_in(addr, 0..2, 0xF1).or(first_changed_in(addr, 6..8, 0xF1));
    checks.check("the pages around keep their data", kept.is_none(), format_args!("page {kept:?} changed"));
    if let Some(listing) = maps(checks) {
        let end = addr + PAGES * PAGE;
        let resident: usize = listing.overlapping(addr, end).map(|e| e.resident_pages).sum();
        checks.check(
            "after the replace: 8 pages mapped, 4 resident (the old frames went)",
            listing.mapped_pages_in(addr, end) == PAGES && resident == 4,
            format_args!("{}", entries_text(&listing, addr, end)),
        );
    }
    fill(addr, PAGES, 0xF2);
    let got = map_fixed(addr, PAGES * PAGE, MAP_FIXED);
    let nonzero = first_nonzero(addr, PAGES);
    checks.check(
        "MAP_FIXED over a whole mapping: all zero",
        got == Ok(addr) && nonzero.is_none(),
        format_args!("{}, first non-zero (page, word) {nonzero:?}", Shown(got)),
    );
    let _ = unmap(addr, PAGES * PAGE);
}

fn munmap_middle(checks: &mut Checks) {
    const PAGES: usize = 8;
    let Some(addr) = map(checks, PAGES, MAP_POPULATE) else { return };
    fill(addr, PAGES, 0x3D);
    let got = unmap(addr + 3 * PAGE, 2 * PAGE);
    checks.check("munmap of 2 pages in the middle", got == Ok(0), format_args!("{}", Shown(got)));
    if let Some(listing) = maps(checks) {
        let end = addr + PAGES * PAGE;
        let entries: Vec<_> = listing.overlapping(addr, end).map(|e| (e.start, e.end, e.resident_pages)).collect();
        let expected = [(addr, addr + 3 * PAGE, 3), (addr + 5 * PAGE, end, 3)];
        checks.check(
            "sys:maps shows two entries of 3 pages, 3 resident each",
            entries == expected,
            format_args!("{}", entries_text(&listing, addr, end)),
        );
    }
    let kept = first_changed_in(addr, 0..3, 0x3D).or(first_changed_in(addr, 5..8, 0x3D));
    checks.check("the outer pages keep their data", kept.is_none(), format_args!("page {kept:?} changed"));
    expect_segv(checks, "a read in the hole: SIGSEGV", addr + 3 * PAGE, Access::Read);
    expect_segv(checks, "a write in the hole: SIGSEGV", addr + 4 * PAGE + 16, Access::Write);
    let status = in_child(|| {
        let Ok(page) = mm::mmap_anonymous(PAGE, PROT_RW, MAP_PRIVATE) else { return };
        write_word(page, 1);
        if unmap(page, PAGE).is_ok() {
            touch(page, Access::Read);
        }
    });
    expect_segv_status(checks, "in one process: write, munmap, read again: SIGSEGV", status);

    let got = unmap(addr, 1);
    let first = maps(checks).and_then(|m| m.find(addr + PAGE).map(|e| e.start));
    checks.check(
        "munmap(addr, 1) unmaps the whole first page",
        got == Ok(0) && first == Some(addr + PAGE),
        format_args!("{}; the entry now starts at {first:x?}, expected {:#x}", Shown(got), addr + PAGE),
    );
    expect_segv(checks, "a read of that page: SIGSEGV", addr + 8, Access::Read);
    let _ = unmap(addr, PAGES * PAGE);
}

fn munmap_cases(checks: &mut Checks) {
    let Some(addr) = map(checks, 4, MAP_POPULATE) else { return };
    let _ = unmap(addr, 4 * PAGE);
    checks.check("munmap of a range with nothing mapped", unmap(addr, 4 * PAGE) == Ok(0), format_args!(""));
    // Six pages, of which the outer two at each end are unmapped again: a
    // hole, 2 mapped pages, a hole, all this test's own.
    let Some(addr) = map(checks, 6, MAP_POPULATE) else { return };
    let holes = (unmap(addr, 2 * PAGE), unmap(addr + 4 * PAGE, 2 * PAGE));
    checks.check("munmap of the ends of a mapping", holes == (Ok(0), Ok(0)), format_args!("{holes:?}"));
    let got = unmap(addr, 6 * PAGE);
    let left = maps(checks).map(|m| m.mapped_pages_in(addr, addr + 6 * PAGE));
    checks.check(
        "munmap across a mapping and holes unmaps the mapping",
        got == Ok(0) && left == Some(0),
        format_args!("{}, {left:?} pages still mapped", Shown(got)),
    );
    checks.expect_errno("munmap at an unaligned address", unmap(addr + 8, PAGE), EINVAL);
    checks.expect_errno("munmap of 0 bytes", unmap(addr, 0), EINVAL);
    checks.expect_errno("munmap at the end of user space", unmap(USER_END, PAGE), EINVAL);
    checks.expect_errno("munmap of a range that wraps", unmap(addr, usize::MAX - addr + PAGE), EINVAL);
}

fn hints(checks: &mut Checks) {
    let Some(free) = map(checks, 16, MapFlags::empty()) else { return };
    let _ = unmap(free, 16 * PAGE);
    let hint = free + 4 * PAGE;
    // SAFETY: not fixed: the mapping replaces nothing.
    let got = unsafe { mm::mmap(hint, 4 * PAGE, PROT_RW, MAP_PRIVATE, ANONYMOUS_FD, 0) };
    checks.check("a free hint is used", got == Ok(hint), format_args!("{} for hint {hint:#x}", Shown(got)));
    let Ok(at_hint) = got else { return };
    fill(at_hint, 4, 0x41);
    // SAFETY: not fixed: the mapping replaces nothing.
    let got = unsafe { mm::mmap(hint, 2 * PAGE, PROT_RW, MAP_PRIVATE, ANONYMOUS_FD, 0) };
    let apart = matches!(got, Ok(a) if a + 2 * PAGE <= at_hint || a >= at_hint + 4 * PAGE);
    let kept = first_changed_in(at_hint, 0..4, 0x41);
    checks.check(
        "an occupied hint goes elsewhere, leaving the mapping there alone",
        apart && kept.is_none(),
        format_args!("{} for the occupied hint {hint:#x}; page {kept:?} of the mapping there changed", Shown(got)),
    );
    if let Ok(a) = got {
        let _ = unmap(a, 2 * PAGE);
    }
    let _ = unmap(at_hint, 4 * PAGE);
    // SAFETY: not fixed: the mapping replaces nothing.
    let got = unsafe { mm::mmap(hint + 123, PAGE, PROT_RW, MAP_PRIVATE, ANONYMOUS_FD, 0) };
    checks.check(
        "a misaligned hint (no MAP_FIXED) is no error; the address is page-aligned",
        matches!(got, Ok(a) if a != 0 && a % PAGE == 0),
        format_args!("{}", Shown(got)),
    );
    if let Ok(a) = got {
        let _ = unmap(a, PAGE);
    }
}

/// Maps `count` single pages and writes its index into each; the addresses
/// (or where it stopped, with the error).
fn many_pages(count: usize) -> (Vec<usize>, Option<tessera_runtime::Error>) {
    let mut pages = Vec::with_capacity(count);
    for i in 0..count {
        match mm::mmap_anonymous(PAGE, PROT_RW, MAP_PRIVATE) {
            Ok(addr) => {
                write_word(addr, i as u64 ^ 0x4D41_4E59);
                pages.push(addr);
            }
            Err(e) => return (pages, Some(e)),
        }
    }
    (pages, None)
}

/// Mapped and resident pages of every entry but the stack's (which grows
/// with this group's own calls). The heap lives in the program's image, so
/// its pages may become resident as the group allocates: the checks allow
/// [`HEAP_SLACK`] for that.
fn non_stack_totals(maps: &Maps) -> (usize, usize) {
    let entries = maps.entries.iter().filter(|e| e.kind != MapKind::Stack);
    entries.fold((0, 0), |(pages, resident), e| (pages + e.pages(), resident + e.resident_pages))
}

/// Heap pages the `many` group may touch for the first time (its address
/// list, and `sys:maps` text and entries if the 2000 pages stay 2000
/// entries).
const HEAP_SLACK: usize = 96;

fn many(checks: &mut Checks) {
    let Some((mapped, resident)) = maps(checks).map(|m| non_stack_totals(&m)) else { return };
    let (pages, error) = many_pages(MANY);
    checks.check(
        "2000 one-page mappings",
        error.is_none(),
        format_args!("mapping {} failed: {}", pages.len(), error.map_or("", |e| errno_name(e.errno))),
    );
    if let Some(listing) = maps(checks) {
        let (now_mapped, now_resident) = non_stack_totals(&listing);
        let unlisted = pages.iter().find(|&&addr| listing.find(addr).is_none_or(|e| e.perms.to_string() != "rw-p"));
        checks.check(
            "sys:maps: each page in an `rw-p` entry; 2000 more pages mapped, 2000 more resident",
            unlisted.is_none()
                && now_mapped == mapped + pages.len()
                && (resident + pages.len()..=resident + pages.len() + HEAP_SLACK).contains(&now_resident),
            format_args!(
                "page {unlisted:x?} not listed rw-p; (mapped, resident) outside the stack ({mapped}, {resident}) -> \
                 ({now_mapped}, {now_resident})"
            ),
        );
    }
    let wrong = pages.iter().enumerate().find(|&(i, &addr)| read_word(addr) != i as u64 ^ 0x4D41_4E59);
    checks.check("each page keeps its own data", wrong.is_none(), format_args!("page {wrong:x?} lost its index"));
    let failed = pages.iter().map(|&addr| unmap(addr, PAGE)).find(|r| r.is_err());
    checks.check("unmapping each one", failed.is_none(), format_args!("{}", Shown(failed.unwrap_or(Ok(0)))));
    if let Some(listing) = maps(checks) {
        let (end_mapped, end_resident) = non_stack_totals(&listing);
        let still = pages.iter().find(|&&addr| listing.find(addr).is_some());
        checks.check(
            "sys:maps: none of them listed, mapped and resident pages back",
            still.is_none() && end_mapped == mapped && (resident..=resident + HEAP_SLACK).contains(&end_resident),
            format_args!(
                "page {still:x?} still listed; (mapped, resident) outside the stack ({mapped}, {resident}) -> \
                 ({end_mapped}, {end_resident})"
            ),
        );
    }
}
