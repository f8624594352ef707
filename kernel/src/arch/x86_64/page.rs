//! Zeroing and copying whole 4 KiB frames, in the style of Linux's
//! `clear_page_orig` / `copy_page`: eight 8-byte moves per loop turn.
//!
//! Why not `rep stosq` / `rep movsq` (what `write_bytes` and
//! `copy_nonoverlapping` compile to): QEMU's TCG, which the benchmarks and
//! tests run under, executes a `rep` string instruction one element per
//! turn of a translated block, so a page costs 512 block turns; the
//! unrolled loop costs 64 and is as fast on hardware (the stores stream
//! either way). Every demand-zero fault and copy-on-write copy does one.

/// Zeroes the 4 KiB page at `page`.
///
/// # Safety
/// `page` is 4 KiB aligned, mapped writable and nobody else's.
pub unsafe fn zero_page(page: *mut u8) {
    // SAFETY: the caller's contract; the loop writes [page, page + 4096).
    unsafe {
        core::arch::asm!(
            "2:",
            "mov qword ptr [{p}], {z}",
            "mov qword ptr [{p} + 8], {z}",
            "mov qword ptr [{p} + 16], {z}",
            "mov qword ptr [{p} + 24], {z}",
            "mov qword ptr [{p} + 32], {z}",
            "mov qword ptr [{p} + 40], {z}",
            "mov qword ptr [{p} + 48], {z}",
            "mov qword ptr [{p} + 56], {z}",
            "add {p}, 64",
            "cmp {p}, {end}",
            "jne 2b",
            p = inout(reg) page => _,
            end = in(reg) page.add(4096),
            z = in(reg) 0u64,
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
            "mov {a}, qword ptr [{s}]",
            "mov {b}, qword ptr [{s} + 8]",
            "mov {c}, qword ptr [{s} + 16]",
            "mov {d}, qword ptr [{s} + 24]",
            "mov qword ptr [{t}], {a}",
            "mov qword ptr [{t} + 8], {b}",
            "mov qword ptr [{t} + 16], {c}",
            "mov qword ptr [{t} + 24], {d}",
            "mov {a}, qword ptr [{s} + 32]",
            "mov {b}, qword ptr [{s} + 40]",
            "mov {c}, qword ptr [{s} + 48]",
            "mov {d}, qword ptr [{s} + 56]",
            "mov qword ptr [{t} + 32], {a}",
            "mov qword ptr [{t} + 40], {b}",
            "mov qword ptr [{t} + 48], {c}",
            "mov qword ptr [{t} + 56], {d}",
            "add {s}, 64",
            "add {t}, 64",
            "cmp {s}, {end}",
            "jne 2b",
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
