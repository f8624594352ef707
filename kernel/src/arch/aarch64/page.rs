//! Zeroing and copying whole 4 KiB frames, as Linux's `clear_page` and
//! `copy_page` do, with plain store pairs: a zeroing moves 64 bytes per
//! loop turn with `STP XZR`, a copy 64 bytes with load/store pairs.
//!
//! Not `DC ZVA`, which Linux's `clear_page` uses: under QEMU's TCG (7.2,
//! the version tested) it checks only a block's first byte for translated
//! code (its `probe_access` tells the self-modifying-code check about a
//! one-byte write), so a freed frame that held code keeps that code's
//! translations registered after it is zeroed, and every later store to
//! the frame takes TCG's slow path until a store happens to cover each of
//! them. A process whose stack landed on such a frame ran its loop about
//! 100 times slower (the guest test `preempt`'s child 0, about one boot in
//! a hundred under a loaded host). Plain stores cover every byte, so the
//! zeroing itself drops those translations.

/// Zeroes the 4 KiB page at `page`.
///
/// # Safety
/// `page` is 4 KiB aligned, mapped writable as Normal memory and nobody
/// else's.
pub unsafe fn zero_page(page: *mut u8) {
    // SAFETY: the caller's contract; the loop writes [page, page + 4096).
    unsafe {
        core::arch::asm!(
            "2:",
            "stp xzr, xzr, [{p}]",
            "stp xzr, xzr, [{p}, #16]",
            "stp xzr, xzr, [{p}, #32]",
            "stp xzr, xzr, [{p}, #48]",
            "add {p}, {p}, #64",
            "cmp {p}, {end}",
            "b.ne 2b",
            p = inout(reg) page => _,
            end = in(reg) page.add(4096),
            options(nostack),
        );
    }
}

/// Copies the 4 KiB page at `from` to `to`.
///
/// # Safety
/// Both are 4 KiB aligned and mapped, `to` writable and nobody else's, and
/// they do not overlap.
pub unsafe fn copy_page(to: *mut u8, from: *const u8) {
    // SAFETY: the caller's contract; reads [from, +4096), writes [to, +4096).
    unsafe {
        core::arch::asm!(
            "2:",
            "ldp {a}, {b}, [{s}]",
            "ldp {c}, {d}, [{s}, #16]",
            "stp {a}, {b}, [{t}]",
            "stp {c}, {d}, [{t}, #16]",
            "ldp {a}, {b}, [{s}, #32]",
            "ldp {c}, {d}, [{s}, #48]",
            "stp {a}, {b}, [{t}, #32]",
            "stp {c}, {d}, [{t}, #48]",
            "add {s}, {s}, #64",
            "add {t}, {t}, #64",
            "cmp {s}, {end}",
            "b.ne 2b",
            s = inout(reg) from => _,
            t = inout(reg) to => _,
            end = in(reg) from.add(4096),
            a = out(reg) _,
            b = out(reg) _,
            c = out(reg) _,
            d = out(reg) _,
            options(nostack),
        );
    }
}
