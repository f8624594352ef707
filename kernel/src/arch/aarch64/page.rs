//! Zeroing and copying whole 4 KiB frames, as Linux's `clear_page` and
//! `copy_page`: `DC ZVA` zeroes a block (DCZID_EL0's size) per instruction
//! where the CPU allows it (Arm ARM D7.2 "DC ZVA", D17.2 "DCZID_EL0"),
//! else pairs of zero stores; a copy moves 64 bytes per loop turn with
//! load/store pairs. Under QEMU's TCG, `DC ZVA` is one call that clears the
//! whole block, where `write_bytes` would be a store per 8 bytes.

/// Zeroes the 4 KiB page at `page`.
///
/// # Safety
/// `page` is 4 KiB aligned, mapped writable as Normal memory and nobody
/// else's.
pub unsafe fn zero_page(page: *mut u8) {
    let dczid: u64;
    // SAFETY: reads an ID register.
    unsafe { core::arch::asm!("mrs {}, dczid_el0", out(reg) dczid, options(nomem, nostack, preserves_flags)) };
    let block = 4usize << (dczid & 0xF);
    if dczid & (1 << 4) == 0 && block <= 4096 {
        let mut at = page as usize;
        while at < page as usize + 4096 {
            // SAFETY: zeroes one block inside the caller's page.
            unsafe { core::arch::asm!("dc zva, {}", in(reg) at, options(nostack, preserves_flags)) };
            at += block;
        }
    } else {
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
