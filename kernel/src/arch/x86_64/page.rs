//! Zeroing and copying whole 4 KiB frames: `kernel/memops`' `memset` and
//! `memcpy`, Linux's `clear_page_orig` / `copy_page` style (eight 8-byte
//! moves per loop turn), called by name.
//!
//! Why not `rep stosq` / `rep movsq` (what compiler_builtins' versions and
//! an inlined `write_bytes` or `copy_nonoverlapping` of a known size can
//! become): QEMU's TCG, which the benchmarks and tests run under, executes
//! a `rep` string instruction one element per turn of a translated block,
//! so a page costs 512 block turns; the unrolled loop costs 64 and is as
//! fast on hardware (the stores stream either way). Every demand-zero
//! fault and copy-on-write copy does one (docs/kernel.md, "Copying
//! memory").

use tessera_memops::x86_64::{memcpy, memset};

/// Zeroes the 4 KiB page at `page`.
///
/// # Safety
/// `page` is 4 KiB aligned, mapped writable and nobody else's.
pub unsafe fn zero_page(page: *mut u8) {
    // SAFETY: the caller's contract: [page, page + 4096) is writable.
    unsafe { memset(page, 0, 4096) };
}

/// Copies the 4 KiB page at `from` to `to`.
///
/// # Safety
/// Both are 4 KiB aligned and mapped, `to` writable and nobody else's, and
/// they do not overlap.
pub unsafe fn copy_page(to: *mut u8, from: *const u8) {
    // SAFETY: the caller's contract: the two pages are mapped, apart.
    unsafe { memcpy(to, from, 4096) };
}
