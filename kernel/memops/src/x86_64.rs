//! The x86_64 routines. Each is one `asm!` block, so that the compiler
//! cannot turn a loop of it back into a call to itself.

use core::arch::asm;

/// Copies `n` bytes from `src` to `dest`, lowest address first.
///
/// # Safety
/// `src` readable and `dest` writable for `n` bytes; if they overlap,
/// `dest` is below `src` (or equal).
#[inline(always)]
unsafe fn copy_forward(dest: *mut u8, src: *const u8, n: usize) {
    // SAFETY: the caller's contract; the loops read [src, src + n) and
    // write [dest, dest + n), each address after the ones below it.
    unsafe {
        asm!(
            "cmp {n}, 64",
            "jb 3f",
            "2:",
            "mov {a}, [{s}]",
            "mov {b}, [{s} + 8]",
            "mov {c}, [{s} + 16]",
            "mov {e}, [{s} + 24]",
            "mov [{d}], {a}",
            "mov [{d} + 8], {b}",
            "mov [{d} + 16], {c}",
            "mov [{d} + 24], {e}",
            "mov {a}, [{s} + 32]",
            "mov {b}, [{s} + 40]",
            "mov {c}, [{s} + 48]",
            "mov {e}, [{s} + 56]",
            "mov [{d} + 32], {a}",
            "mov [{d} + 40], {b}",
            "mov [{d} + 48], {c}",
            "mov [{d} + 56], {e}",
            "add {s}, 64",
            "add {d}, 64",
            "sub {n}, 64",
            "cmp {n}, 64",
            "jae 2b",
            "3:",
            "cmp {n}, 8",
            "jb 4f",
            "mov {a}, [{s}]",
            "mov [{d}], {a}",
            "add {s}, 8",
            "add {d}, 8",
            "sub {n}, 8",
            "jmp 3b",
            "4:",
            "test {n}, {n}",
            "jz 5f",
            "movzx {a:e}, byte ptr [{s}]",
            "mov byte ptr [{d}], {a:l}",
            "inc {s}",
            "inc {d}",
            "dec {n}",
            "jmp 4b",
            "5:",
            s = inout(reg) src => _,
            d = inout(reg) dest => _,
            n = inout(reg) n => _,
            a = out(reg) _,
            b = out(reg) _,
            c = out(reg) _,
            e = out(reg) _,
            options(nostack),
        );
    }
}

/// Copies `n` bytes from `src` to `dest`, highest address first.
///
/// # Safety
/// `src` readable and `dest` writable for `n` bytes; if they overlap,
/// `dest` is above `src`.
#[inline(always)]
unsafe fn copy_backward(dest: *mut u8, src: *const u8, n: usize) {
    // SAFETY: the caller's contract; the loops read and write from the
    // ends down, each word read before the bytes it covers are written.
    unsafe {
        asm!(
            // 32 bytes per turn: all four words are read before any of
            // them is written (`dest` above `src`: a write lands on source
            // bytes at or above the ones just read).
            "2:",
            "cmp {n}, 32",
            "jb 3f",
            "sub {n}, 32",
            "mov {a}, [{s} + {n} + 24]",
            "mov {b}, [{s} + {n} + 16]",
            "mov {c}, [{s} + {n} + 8]",
            "mov {e}, [{s} + {n}]",
            "mov [{d} + {n} + 24], {a}",
            "mov [{d} + {n} + 16], {b}",
            "mov [{d} + {n} + 8], {c}",
            "mov [{d} + {n}], {e}",
            "jmp 2b",
            "3:",
            "cmp {n}, 8",
            "jb 4f",
            "sub {n}, 8",
            "mov {a}, [{s} + {n}]",
            "mov [{d} + {n}], {a}",
            "jmp 3b",
            "4:",
            "test {n}, {n}",
            "jz 5f",
            "dec {n}",
            "movzx {a:e}, byte ptr [{s} + {n}]",
            "mov byte ptr [{d} + {n}], {a:l}",
            "jmp 4b",
            "5:",
            s = in(reg) src,
            d = in(reg) dest,
            n = inout(reg) n => _,
            a = out(reg) _,
            b = out(reg) _,
            c = out(reg) _,
            e = out(reg) _,
            options(nostack),
        );
    }
}

/// C's `memcpy`.
///
/// # Safety
/// As C's: `src` readable and `dest` writable for `n` bytes, not
/// overlapping.
#[cfg_attr(target_os = "none", unsafe(no_mangle))]
pub unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the caller's contract (no overlap).
    unsafe { copy_forward(dest, src, n) };
    dest
}

/// C's `memmove`.
///
/// # Safety
/// As C's: `src` readable and `dest` writable for `n` bytes.
#[cfg_attr(target_os = "none", unsafe(no_mangle))]
pub unsafe extern "C" fn memmove(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // Forward is right unless `dest` lies inside (src, src + n).
    if (dest as usize).wrapping_sub(src as usize) >= n {
        // SAFETY: the caller's contract; no overlap, or `dest` below `src`.
        unsafe { copy_forward(dest, src, n) };
    } else {
        // SAFETY: the caller's contract; `dest` above `src`, overlapping.
        unsafe { copy_backward(dest, src, n) };
    }
    dest
}

/// C's `memset`.
///
/// # Safety
/// As C's: `dest` writable for `n` bytes.
#[cfg_attr(target_os = "none", unsafe(no_mangle))]
pub unsafe extern "C" fn memset(dest: *mut u8, c: i32, n: usize) -> *mut u8 {
    let word = u64::from(c as u8) * 0x0101_0101_0101_0101;
    // SAFETY: the caller's contract; the loops write [dest, dest + n).
    unsafe {
        asm!(
            "cmp {n}, 64",
            "jb 3f",
            "2:",
            "mov [{d}], {w}",
            "mov [{d} + 8], {w}",
            "mov [{d} + 16], {w}",
            "mov [{d} + 24], {w}",
            "mov [{d} + 32], {w}",
            "mov [{d} + 40], {w}",
            "mov [{d} + 48], {w}",
            "mov [{d} + 56], {w}",
            "add {d}, 64",
            "sub {n}, 64",
            "cmp {n}, 64",
            "jae 2b",
            "3:",
            "cmp {n}, 8",
            "jb 4f",
            "mov [{d}], {w}",
            "add {d}, 8",
            "sub {n}, 8",
            "jmp 3b",
            "4:",
            "test {n}, {n}",
            "jz 5f",
            "mov byte ptr [{d}], {w:l}",
            "inc {d}",
            "dec {n}",
            "jmp 4b",
            "5:",
            d = inout(reg) dest => _,
            n = inout(reg) n => _,
            w = in(reg) word,
            options(nostack),
        );
    }
    dest
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes that differ from their neighbours and from the destination's.
    fn bytes(len: usize, seed: u8) -> Vec<u8> {
        (0..len).map(|i| (i as u8).wrapping_mul(37).wrapping_add(seed)).collect()
    }

    #[test]
    fn memcpy_and_memset_every_length_and_alignment() {
        for len in (0..300).chain([4095, 4096, 4097, 65536 + 13]) {
            for (s_at, d_at) in [(0, 0), (1, 0), (0, 3), (5, 7), (8, 1)] {
                let src = bytes(len + 16, 1);
                let mut dst = bytes(len + 32, 200);
                let mut want = dst.clone();
                want[d_at..d_at + len].copy_from_slice(&src[s_at..s_at + len]);
                // SAFETY: both ranges lie inside their vectors and do not overlap.
                let r = unsafe { memcpy(dst[d_at..].as_mut_ptr(), src[s_at..].as_ptr(), len) };
                assert_eq!(r, dst[d_at..].as_mut_ptr());
                assert!(dst == want, "memcpy of {len} bytes, src +{s_at}, dest +{d_at}");
                want[d_at..d_at + len].fill(0xC5);
                // SAFETY: the range lies inside the vector.
                unsafe { memset(dst[d_at..].as_mut_ptr(), 0x1C5, len) };
                assert!(dst == want, "memset of {len} bytes at +{d_at} (only the low byte of c)");
            }
        }
    }

    #[test]
    fn memmove_overlapping_either_way() {
        for len in (0..200).chain([4096, 5000]) {
            for shift in [1usize, 7, 8, 9, 63, 64, 65, 300] {
                for up in [false, true] {
                    let mut buf = bytes(len + shift + 8, 3);
                    let mut want = buf.clone();
                    let (from, to) = if up { (0, shift) } else { (shift, 0) };
                    want.copy_within(from..from + len, to);
                    let base = buf.as_mut_ptr();
                    // SAFETY: both ranges lie inside the vector.
                    unsafe { memmove(base.add(to), base.add(from), len) };
                    assert!(buf == want, "memmove of {len} bytes by {shift} {}", if up { "up" } else { "down" });
                }
            }
        }
    }
}
