//! `<stdlib.h>` integer conversions, arithmetic, random numbers, sorting
//! and temporary files (floating-point conversions are in c/strtod.c).

use core::ffi::{c_char, c_int, c_long, c_longlong, c_uint, c_ulong, c_ulonglong, c_void};
use core::ptr::null_mut;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use tessera_abi::error::{EEXIST, EINVAL, ERANGE};

use crate::sys::{self, cstr};

/// What [`parse_int`] read.
struct Parsed {
    /// The magnitude, saturated at `u64::MAX`.
    magnitude: u64,
    overflow: bool,
    negative: bool,
    /// Bytes consumed (0 when no digits: `*end = s`).
    consumed: usize,
}

fn digit(b: u8) -> Option<u32> {
    (b as char).to_digit(36)
}

/// C's integer syntax: space, sign, `0x`/`0` prefixes for base 16/0.
fn parse_int(s: &[u8], base: c_int) -> Result<Parsed, c_int> {
    if base < 0 || base == 1 || base > 36 {
        return Err(EINVAL);
    }
    let mut i =
        s.iter().position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')).unwrap_or(s.len());
    let mut negative = false;
    if let Some(&sign @ (b'+' | b'-')) = s.get(i) {
        negative = sign == b'-';
        i += 1;
    }
    let mut base = base as u32;
    let hex_prefix = s.get(i) == Some(&b'0')
        && matches!(s.get(i + 1), Some(b'x' | b'X'))
        && s.get(i + 2).and_then(|&b| digit(b)).is_some_and(|d| d < 16);
    if (base == 0 || base == 16) && hex_prefix {
        base = 16;
        i += 2;
    } else if base == 0 {
        base = if s.get(i) == Some(&b'0') { 8 } else { 10 };
    }
    let start = i;
    let (mut magnitude, mut overflow) = (0u64, false);
    while let Some(d) = s.get(i).and_then(|&b| digit(b)).filter(|&d| d < base) {
        match magnitude.checked_mul(base as u64).and_then(|m| m.checked_add(d as u64)) {
            Some(m) => magnitude = m,
            None => {
                overflow = true;
                magnitude = u64::MAX;
            }
        }
        i += 1;
    }
    let consumed = if i == start { 0 } else { i };
    Ok(Parsed { magnitude, overflow, negative, consumed })
}

/// Parses a signed integer in `[min, max]`, clamping with ERANGE.
///
/// # Safety
/// `s` must be a C string and `end` NULL or writable.
unsafe fn to_signed(s: *const c_char, end: *mut *mut c_char, base: c_int, min: i64, max: i64) -> i64 {
    // SAFETY: the caller's contract.
    let bytes = unsafe { cstr(s) };
    let parsed = match parse_int(bytes, base) {
        Ok(p) => p,
        Err(e) => {
            sys::set_errno(e);
            return 0;
        }
    };
    // SAFETY: `end` is NULL or writable.
    if let Some(end) = unsafe { end.as_mut() } {
        // SAFETY: the offset is inside the string.
        *end = unsafe { s.add(parsed.consumed) } as *mut c_char;
    }
    let limit = if parsed.negative { min.unsigned_abs() } else { max as u64 };
    if parsed.overflow || parsed.magnitude > limit {
        sys::set_errno(ERANGE);
        return if parsed.negative { min } else { max };
    }
    if parsed.negative { (parsed.magnitude as i64).wrapping_neg() } else { parsed.magnitude as i64 }
}

/// Parses an unsigned integer up to `max` (a `-` negates, as C says).
///
/// # Safety
/// As [`to_signed`].
unsafe fn to_unsigned(s: *const c_char, end: *mut *mut c_char, base: c_int, max: u64) -> u64 {
    // SAFETY: the caller's contract.
    let bytes = unsafe { cstr(s) };
    let parsed = match parse_int(bytes, base) {
        Ok(p) => p,
        Err(e) => {
            sys::set_errno(e);
            return 0;
        }
    };
    // SAFETY: `end` is NULL or writable.
    if let Some(end) = unsafe { end.as_mut() } {
        // SAFETY: the offset is inside the string.
        *end = unsafe { s.add(parsed.consumed) } as *mut c_char;
    }
    if parsed.overflow || parsed.magnitude > max {
        sys::set_errno(ERANGE);
        return max;
    }
    if parsed.negative { parsed.magnitude.wrapping_neg() & max } else { parsed.magnitude }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn strtol(s: *const c_char, end: *mut *mut c_char, base: c_int) -> c_long {
    // SAFETY: the caller's contract.
    unsafe { to_signed(s, end, base, i64::MIN, i64::MAX) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn strtoll(s: *const c_char, end: *mut *mut c_char, base: c_int) -> c_longlong {
    // SAFETY: the caller's contract.
    unsafe { to_signed(s, end, base, i64::MIN, i64::MAX) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn strtoimax(s: *const c_char, end: *mut *mut c_char, base: c_int) -> i64 {
    // SAFETY: the caller's contract.
    unsafe { to_signed(s, end, base, i64::MIN, i64::MAX) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn strtoul(s: *const c_char, end: *mut *mut c_char, base: c_int) -> c_ulong {
    // SAFETY: the caller's contract.
    unsafe { to_unsigned(s, end, base, u64::MAX) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn strtoull(s: *const c_char, end: *mut *mut c_char, base: c_int) -> c_ulonglong {
    // SAFETY: the caller's contract.
    unsafe { to_unsigned(s, end, base, u64::MAX) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn strtoumax(s: *const c_char, end: *mut *mut c_char, base: c_int) -> u64 {
    // SAFETY: the caller's contract.
    unsafe { to_unsigned(s, end, base, u64::MAX) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn atoi(s: *const c_char) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { to_signed(s, null_mut(), 10, i64::MIN, i64::MAX) as c_int }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn atol(s: *const c_char) -> c_long {
    // SAFETY: the caller's contract.
    unsafe { to_signed(s, null_mut(), 10, i64::MIN, i64::MAX) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn atoll(s: *const c_char) -> c_longlong {
    // SAFETY: the caller's contract.
    unsafe { to_signed(s, null_mut(), 10, i64::MIN, i64::MAX) }
}

#[unsafe(no_mangle)]
pub extern "C" fn abs(v: c_int) -> c_int {
    v.wrapping_abs()
}

#[unsafe(no_mangle)]
pub extern "C" fn labs(v: c_long) -> c_long {
    v.wrapping_abs()
}

#[unsafe(no_mangle)]
pub extern "C" fn llabs(v: c_longlong) -> c_longlong {
    v.wrapping_abs()
}

/// `div_t` / `ldiv_t` / `lldiv_t`.
#[repr(C)]
pub struct Div<T> {
    quot: T,
    rem: T,
}

#[unsafe(no_mangle)]
pub extern "C" fn div(num: c_int, den: c_int) -> Div<c_int> {
    Div { quot: num / den, rem: num % den }
}

#[unsafe(no_mangle)]
pub extern "C" fn ldiv(num: c_long, den: c_long) -> Div<c_long> {
    Div { quot: num / den, rem: num % den }
}

#[unsafe(no_mangle)]
pub extern "C" fn lldiv(num: c_longlong, den: c_longlong) -> Div<c_longlong> {
    Div { quot: num / den, rem: num % den }
}

// ---- random numbers: a 64-bit LCG (Knuth's MMIX constants), top 31 bits.

static SEED: AtomicU64 = AtomicU64::new(1);

fn step(state: u64) -> u64 {
    state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407)
}

#[unsafe(no_mangle)]
pub extern "C" fn rand() -> c_int {
    let next = step(SEED.load(Ordering::Relaxed));
    SEED.store(next, Ordering::Relaxed);
    (next >> 33) as c_int
}

#[unsafe(no_mangle)]
pub extern "C" fn srand(seed: c_uint) {
    SEED.store(seed as u64, Ordering::Relaxed);
}

#[unsafe(no_mangle)]
pub extern "C" fn random() -> c_long {
    rand() as c_long
}

#[unsafe(no_mangle)]
pub extern "C" fn srandom(seed: c_uint) {
    srand(seed)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn rand_r(seed: *mut c_uint) -> c_int {
    // SAFETY: the caller passes a valid seed.
    let state = unsafe { &mut *seed };
    let next = step(*state as u64);
    *state = next as c_uint;
    (next >> 33) as c_int
}

// ---- sorting and searching ---------------------------------------------------

type Compare = unsafe extern "C" fn(*const c_void, *const c_void) -> c_int;

/// Swaps two elements of `size` bytes.
///
/// # Safety
/// Both must be valid, distinct elements.
unsafe fn swap(a: *mut u8, b: *mut u8, size: usize) {
    // SAFETY: the caller's contract.
    unsafe { core::ptr::swap_nonoverlapping(a, b, size) }
}

/// Heapsort: O(n log n) in every case, no recursion, no allocation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qsort(base: *mut c_void, count: usize, size: usize, cmp: Compare) {
    let base = base as *mut u8;
    // SAFETY: indices stay below `count`; the caller's array holds them.
    let at = |i: usize| unsafe { base.add(i * size) };
    // SAFETY: `cmp` is the caller's comparison over valid elements.
    let less = |i: usize, j: usize| unsafe { cmp(at(i) as *const c_void, at(j) as *const c_void) } < 0;
    let sift_down = |mut root: usize, end: usize| loop {
        let mut child = 2 * root + 1;
        if child >= end {
            break;
        }
        if child + 1 < end && less(child, child + 1) {
            child += 1;
        }
        if !less(root, child) {
            break;
        }
        // SAFETY: distinct indices below `count`.
        unsafe { swap(at(root), at(child), size) };
        root = child;
    };
    if count < 2 || size == 0 {
        return;
    }
    for start in (0..count / 2).rev() {
        sift_down(start, count);
    }
    for end in (1..count).rev() {
        // SAFETY: distinct indices below `count`.
        unsafe { swap(at(0), at(end), size) };
        sift_down(0, end);
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn bsearch(
    key: *const c_void,
    base: *const c_void,
    count: usize,
    size: usize,
    cmp: Compare,
) -> *mut c_void {
    let (mut lo, mut hi) = (0, count);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        // SAFETY: `mid < count`, inside the caller's array.
        let elem = unsafe { (base as *const u8).add(mid * size) };
        // SAFETY: the caller's comparison over valid elements.
        match unsafe { cmp(key, elem as *const c_void) } {
            0 => return elem as *mut c_void,
            r if r < 0 => hi = mid,
            _ => lo = mid + 1,
        }
    }
    null_mut()
}

// ---- temporary names -----------------------------------------------------------

/// Replaces the trailing `XXXXXX` of `template` with fresh letters;
/// EINVAL without them.
///
/// # Safety
/// `template` must be a writable C string.
unsafe fn fill_template(template: *mut c_char) -> Result<(), c_int> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    // SAFETY: the caller's contract.
    let len = unsafe { cstr(template) }.len();
    // SAFETY: as above; the last six bytes are inside the string.
    let tail = unsafe { core::slice::from_raw_parts_mut(template.cast::<u8>().add(len.wrapping_sub(6)), 6) };
    if len < 6 || tail != b"XXXXXX" {
        return Err(EINVAL);
    }
    let now = crate::time::clock() as u64;
    let mut x = step(now ^ ((crate::process::getpid() as u64) << 32) ^ COUNTER.fetch_add(1, Ordering::Relaxed) as u64);
    const LETTERS: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    for b in tail.iter_mut() {
        x = step(x);
        *b = LETTERS[((x >> 33) % 36) as usize];
    }
    Ok(())
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn mktemp(template: *mut c_char) -> *mut c_char {
    // SAFETY: the caller's contract.
    if let Err(e) = unsafe { fill_template(template) } {
        sys::set_errno(e);
        // SAFETY: as above: an empty string is the failure signal.
        unsafe { *template = 0 };
    }
    template
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn mkstemp(template: *mut c_char) -> c_int {
    use tessera_abi::flag::{O_CREAT, O_EXCL, O_RDWR};
    // SAFETY: the caller's contract.
    let len = unsafe { cstr(template) }.len();
    for _ in 0..100 {
        // SAFETY: the caller's contract; retries rewrite the same six bytes.
        if let Err(e) = unsafe { fill_template(template) } {
            return sys::fail(e);
        }
        // SAFETY: `template` is a C string.
        match unsafe { crate::unistd::open_path(template, O_CREAT | O_EXCL | O_RDWR) } {
            Ok(fd) => return fd as c_int,
            Err(EEXIST) => {
                // SAFETY: put the X's back for the next try.
                unsafe { core::ptr::copy_nonoverlapping(b"XXXXXX".as_ptr(), template.cast::<u8>().add(len - 6), 6) };
            }
            Err(e) => return sys::fail(e),
        }
    }
    sys::fail(EEXIST)
}

// ---- multibyte characters: the "C" locale, one byte each -------------------

#[unsafe(no_mangle)]
pub unsafe extern "C" fn mblen(s: *const c_char, n: usize) -> c_int {
    // SAFETY: the caller's contract.
    if s.is_null() || n == 0 { 0 } else { (unsafe { *s } != 0) as c_int }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn mbtowc(wc: *mut i32, s: *const c_char, n: usize) -> c_int {
    if s.is_null() || n == 0 {
        return 0;
    }
    // SAFETY: the caller's contract: one readable byte.
    let b = unsafe { *s.cast::<u8>() };
    // SAFETY: `wc` is NULL or writable.
    if let Some(wc) = unsafe { wc.as_mut() } {
        *wc = b as i32;
    }
    (b != 0) as c_int
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wctomb(s: *mut c_char, wc: i32) -> c_int {
    if s.is_null() {
        return 0;
    }
    if !(0..=255).contains(&wc) {
        return sys::fail(tessera_abi::error::EILSEQ);
    }
    // SAFETY: the caller's contract: one writable byte.
    unsafe { *s = wc as c_char };
    1
}
