//! `mm-remap`: `mremap` grows, shrinks and moves mappings, keeping their
//! data.
//!
//! Each group runs in its own forked child (lines prefixed
//! `mm-remap <group>:`); accesses that must fault run in a further child.
//!
//! | group | checks |
//! |---|---|
//! | grow | 4 → 8 pages with room after it: stays in place (with and without MAYMOVE), one 8-page entry, old data kept, new pages zero and writable |
//! | blocked | a neighbour right after it: without MAYMOVE ENOMEM and nothing changed; with MAYMOVE it moves: new address, 8 pages `rw-p` there, the data moved along, new pages zero, the old range unmapped (a read in a child: SIGSEGV), the neighbour untouched |
//! | shrink | 8 → 2 pages: same address, the first 2 pages kept, the rest unmapped |
//! | fixed | MAYMOVE\|FIXED onto part of another mapping: exactly there, the data moved, the rest of the other mapping kept, the old range unmapped; EINVAL: FIXED without MAYMOVE, a misaligned target, a target overlapping the old range |
//! | dontunmap | MAYMOVE\|DONTUNMAP of 4 pages (between two read-only ones): the data at the new address; the old range still mapped, reading zero, nothing resident; EINVAL without MAYMOVE or with a new length |
//! | errors | EINVAL: unaligned old address, new length 0, unknown flags; EFAULT: old range unmapped, spanning two mappings, longer than its mapping |
//!
//! The kernel merges neighbouring mappings that could be one, so the
//! mappings whose `sys:maps` entries are checked exactly get a free page on
//! each side ([`map_isolated`]).
//!
//! Finally the free-frame count is back where it was.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::ToString;

use tessera_guest_tests::mm::{
    Access, Memory, PAGE, entries_text, expect_child, expect_entries, fill, first_changed, first_nonzero, frames_back,
    group, in_child, map_filled, maps, pattern, protect, read_word, touch, unmap,
};
use tessera_guest_tests::system::{fork_with, reap};
use tessera_guest_tests::{Checks, Shown};
use tessera_runtime::abi::error::{EFAULT, EINVAL, ENOMEM};
use tessera_runtime::mm::{
    self, MAP_POPULATE, MAP_PRIVATE, MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE, PROT_READ, PROT_RW,
};
use tessera_runtime::{Args, Result};

tessera_runtime::entry!(main);

fn main(_args: Args) -> i32 {
    let mut checks = Checks::new("mm-remap");
    let _ = fork_with(|| {
        warm_up();
        0
    })
    .and_then(reap);
    let before = Memory::read();
    group(&mut checks, "mm-remap grow", grow);
    group(&mut checks, "mm-remap blocked", blocked);
    group(&mut checks, "mm-remap shrink", shrink);
    group(&mut checks, "mm-remap fixed", fixed);
    group(&mut checks, "mm-remap dontunmap", dont_unmap);
    group(&mut checks, "mm-remap errors", errors);
    frames_back(&mut checks, before);
    checks.finish()
}

/// What the groups do, once, so the kernel heap has grown for it before
/// the baseline.
fn warm_up() {
    if let Ok(addr) = mm::mmap_anonymous(8 * PAGE, PROT_RW, MAP_PRIVATE | MAP_POPULATE) {
        let moved = remap(addr, 8 * PAGE, 0, 16 * PAGE, MREMAP_MAYMOVE).unwrap_or(addr);
        let _ = unmap(moved, 16 * PAGE);
    }
}

// ---- helpers -------------------------------------------------------------

fn remap(old: usize, old_len: usize, new: usize, new_len: usize, flags: usize) -> Result<usize> {
    // SAFETY: only mappings this test made, holding no Rust object; fixed
    // targets are this test's own mappings too.
    unsafe { mm::mremap(old, old_len, new, new_len, flags) }
}

/// `remap`, recorded as a check that it returned `expected` (`None`: any
/// address but `not`).
fn remap_checked(checks: &mut Checks, what: &str, got: Result<usize>, expected: Option<usize>, not: usize) -> bool {
    let ok = match expected {
        Some(addr) => got == Ok(addr),
        None => matches!(got, Ok(a) if a != not && a % PAGE == 0),
    };
    checks.check(what, ok, format_args!("{}, expected {expected:x?} (not {not:#x})", Shown(got)));
    ok
}

/// Expects nothing mapped in `[start, end)`.
fn expect_unmapped(checks: &mut Checks, what: &str, start: usize, end: usize) {
    let Some(listing) = maps(checks) else { return };
    checks.check(
        what,
        listing.mapped_pages_in(start, end) == 0,
        format_args!("{}", entries_text(&listing, start, end)),
    );
}

// ---- groups --------------------------------------------------------------

fn grow(checks: &mut Checks) {
    // Eight pages, the upper four unmapped again: room to grow into.
    let Some(addr) = map_filled(checks, 8, 0x10) else { return };
    let _ = unmap(addr + 4 * PAGE, 4 * PAGE);
    let end = addr + 8 * PAGE;
    if remap_checked(checks, "grow 4 → 8 pages in place", remap(addr, 4 * PAGE, 0, 8 * PAGE, 0), Some(addr), 0) {
        expect_entries(checks, "one `rw-p` entry of 8 pages, 4 resident", addr, end, &[(addr, end, "rw-p", 4)]);
        let changed = first_changed(addr, 4, 0x10);
        let nonzero = first_nonzero(addr + 4 * PAGE, 4);
        fill(addr + 4 * PAGE, 4, 0x11);
        let unwritable = first_changed(addr + 4 * PAGE, 4, 0x11);
        checks.check(
            "old data kept; the new pages read zero and take writes",
            changed.is_none() && nonzero.is_none() && unwritable.is_none(),
            format_args!(
                "old page {changed:?} changed, new page {nonzero:?} not zero, new page {unwritable:?} lost a write"
            ),
        );
    }
    let _ = unmap(addr + 6 * PAGE, 2 * PAGE);
    let got = remap(addr, 6 * PAGE, 0, 8 * PAGE, MREMAP_MAYMOVE);
    remap_checked(checks, "with MAYMOVE and room it still grows in place", got, Some(addr), 0);
    let _ = unmap(addr, 8 * PAGE);
}

fn blocked(checks: &mut Checks) {
    // Five pages; the fifth made read-only: a different mapping right after
    // the first four.
    let Some(addr) = map_filled(checks, 5, 0x20) else { return };
    let neighbour = addr + 4 * PAGE;
    if protect(neighbour, PAGE, PROT_READ).is_err() {
        return checks.check("mprotect of the neighbour", false, format_args!("failed"));
    }
    let got = remap(addr, 4 * PAGE, 0, 8 * PAGE, 0);
    checks.expect_errno("grow without room and without MAYMOVE", got, ENOMEM);
    expect_entries(
        checks,
        "the failed mremap changed nothing",
        addr,
        addr + 5 * PAGE,
        &[(addr, neighbour, "rw-p", 4), (neighbour, neighbour + PAGE, "r--p", 1)],
    );
    let got = remap(addr, 4 * PAGE, 0, 8 * PAGE, MREMAP_MAYMOVE);
    if !remap_checked(checks, "grow without room with MAYMOVE: moves", got, None, addr) {
        return;
    }
    let Ok(moved) = got else { return };
    // (The kernel chose the new place: a neighbour there may have merged
    // with it, so only coverage and access are checked, not the entry.)
    if let Some(listing) = maps(checks) {
        let end = moved + 8 * PAGE;
        let all_rw = listing.overlapping(moved, end).all(|e| e.perms.to_string() == "rw-p");
        checks.check(
            "the new place: 8 pages mapped `rw-p`",
            listing.mapped_pages_in(moved, end) == 8 && all_rw,
            format_args!("{}", entries_text(&listing, moved, end)),
        );
    }
    let changed = first_changed(moved, 4, 0x20);
    let nonzero = first_nonzero(moved + 4 * PAGE, 4);
    checks.check(
        "the data moved along; the new pages read zero",
        changed.is_none() && nonzero.is_none(),
        format_args!("moved page {changed:?} changed, new page {nonzero:?} not zero"),
    );
    expect_unmapped(checks, "the old range is unmapped", addr, neighbour);
    expect_child(checks, "a read of the old range in a child: SIGSEGV", true, in_child(|| touch(addr, Access::Read)));
    let neighbour_kept = read_word(neighbour) == pattern(0x20, 4);
    expect_entries(
        checks,
        "the neighbour is untouched",
        neighbour,
        neighbour + PAGE,
        &[(neighbour, neighbour + PAGE, "r--p", 1)],
    );
    checks.check("the neighbour keeps its data", neighbour_kept, format_args!("{:#x}", read_word(neighbour)));
    let _ = unmap(moved, 8 * PAGE);
    let _ = unmap(neighbour, PAGE);
}

fn shrink(checks: &mut Checks) {
    let Some(addr) = map_filled(checks, 8, 0x30) else { return };
    let end = addr + 8 * PAGE;
    if remap_checked(checks, "shrink 8 → 2 pages", remap(addr, 8 * PAGE, 0, 2 * PAGE, 0), Some(addr), 0) {
        expect_entries(checks, "2 pages left, both resident", addr, end, &[(addr, addr + 2 * PAGE, "rw-p", 2)]);
        let changed = first_changed(addr, 2, 0x30);
        checks.check("the 2 pages keep their data", changed.is_none(), format_args!("page {changed:?} changed"));
        expect_child(
            checks,
            "a read of page 2 in a child: SIGSEGV",
            true,
            in_child(|| touch(addr + 2 * PAGE, Access::Read)),
        );
    }
    let _ = unmap(addr, 8 * PAGE);
}

fn fixed(checks: &mut Checks) {
    let Some(source) = map_filled(checks, 2, 0x40) else { return };
    let Some(target) = map_filled(checks, 4, 0x41) else { return };
    checks.expect_errno("FIXED without MAYMOVE", remap(source, 2 * PAGE, target, 2 * PAGE, MREMAP_FIXED), EINVAL);
    checks.expect_errno(
        "FIXED at a misaligned target",
        remap(source, 2 * PAGE, target + 8, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED),
        EINVAL,
    );
    checks.expect_errno(
        "FIXED onto a target overlapping the old range",
        remap(source, 2 * PAGE, source + PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED),
        EINVAL,
    );
    let got = remap(source, 2 * PAGE, target, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED);
    if remap_checked(checks, "MAYMOVE|FIXED onto another mapping's first 2 pages", got, Some(target), 0) {
        let moved = first_changed(target, 2, 0x40);
        let kept = (2..4).find(|&p| read_word(target + p * PAGE) != pattern(0x41, p));
        checks.check(
            "the data moved; the rest of the other mapping is kept",
            moved.is_none() && kept.is_none(),
            format_args!("moved page {moved:?} wrong, other page {kept:?} changed"),
        );
        expect_entries(
            checks,
            "4 resident pages at the target",
            target,
            target + 4 * PAGE,
            &[(target, target + 4 * PAGE, "rw-p", 4)],
        );
        expect_unmapped(checks, "the old range is unmapped", source, source + 2 * PAGE);
    }
    let _ = unmap(target, 4 * PAGE);
}

fn dont_unmap(checks: &mut Checks) {
    // Six pages with read-only ones at both ends: the 4 in the middle can
    // merge with no neighbour, so their entry shows them alone.
    let Some(base) = map_filled(checks, 6, 0x50) else { return };
    let ends = (protect(base, PAGE, PROT_READ), protect(base + 5 * PAGE, PAGE, PROT_READ));
    if ends != (Ok(0), Ok(0)) {
        return checks.check("mprotect of the end pages", false, format_args!("{ends:?}"));
    }
    let addr = base + PAGE;
    let end = addr + 4 * PAGE;
    // The pattern of the middle pages, numbered from `addr`.
    fill(addr, 4, 0x50);
    checks.expect_errno("DONTUNMAP without MAYMOVE", remap(addr, 4 * PAGE, 0, 4 * PAGE, MREMAP_DONTUNMAP), EINVAL);
    checks.expect_errno(
        "DONTUNMAP with a new length",
        remap(addr, 4 * PAGE, 0, 8 * PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP),
        EINVAL,
    );
    let got = remap(addr, 4 * PAGE, 0, 4 * PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
    if !remap_checked(checks, "MAYMOVE|DONTUNMAP moves", got, None, addr) {
        return;
    }
    let Ok(moved) = got else { return };
    let changed = first_changed(moved, 4, 0x50);
    checks.check("the data is at the new address", changed.is_none(), format_args!("page {changed:?} wrong"));
    expect_entries(checks, "the old range is still mapped, nothing resident", addr, end, &[(addr, end, "rw-p", 0)]);
    let nonzero = first_nonzero(addr, 4);
    checks.check("the old range reads zero", nonzero.is_none(), format_args!("page {nonzero:?} is not zero"));
    let _ = unmap(base, 6 * PAGE);
    let _ = unmap(moved, 4 * PAGE);
}

fn errors(checks: &mut Checks) {
    let Some(addr) = map_filled(checks, 4, 0x60) else { return };
    checks.expect_errno("unaligned old address", remap(addr + 8, PAGE, 0, 2 * PAGE, MREMAP_MAYMOVE), EINVAL);
    checks.expect_errno("new length 0", remap(addr, PAGE, 0, 0, MREMAP_MAYMOVE), EINVAL);
    checks.expect_errno("an unknown flag", remap(addr, PAGE, 0, 2 * PAGE, MREMAP_MAYMOVE | 1 << 10), EINVAL);
    checks.expect_errno("an old range longer than its mapping", remap(addr, 8 * PAGE, 0, 16 * PAGE, 0), EFAULT);
    let _ = protect(addr + 2 * PAGE, 2 * PAGE, PROT_READ);
    checks.expect_errno(
        "an old range spanning two mappings",
        remap(addr, 4 * PAGE, 0, 8 * PAGE, MREMAP_MAYMOVE),
        EFAULT,
    );
    let _ = unmap(addr, 4 * PAGE);
    checks.expect_errno("an old range with nothing mapped", remap(addr, PAGE, 0, 2 * PAGE, MREMAP_MAYMOVE), EFAULT);
}
