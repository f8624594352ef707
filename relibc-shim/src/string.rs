//! `<string.h>` and `<strings.h>`, except the primitives `memcpy`,
//! `memmove`, `memset`, `memcmp` and `strlen`, which are in c/mem.c:
//! compiled with `-ffreestanding` there, the compiler cannot turn their
//! loops back into calls to themselves. Most functions here work on the
//! slice a C string spans.

use core::ffi::{c_char, c_int, c_void};
use core::ptr::null_mut;

use crate::malloc::malloc;
use crate::sys::cstr;

unsafe extern "C" {
    fn strlen(s: *const c_char) -> usize;
    fn memcmp(a: *const c_void, b: *const c_void, n: usize) -> c_int;
}

/// The bytes of `s` including its NUL.
///
/// # Safety
/// `s` must be a C string.
unsafe fn with_nul<'a>(s: *const c_char) -> &'a [u8] {
    // SAFETY: the caller's contract: `strlen(s) + 1` bytes are readable.
    unsafe { core::slice::from_raw_parts(s.cast::<u8>(), strlen(s) + 1) }
}

/// The bytes of `s` up to its NUL or `n`, whichever comes first.
///
/// # Safety
/// `s` must have `n` readable bytes or a NUL before them.
unsafe fn bounded<'a>(s: *const c_char, n: usize) -> &'a [u8] {
    // SAFETY: the caller's contract.
    let len = unsafe { strnlen(s, n) };
    // SAFETY: `len` bytes are readable (before the NUL or the bound).
    unsafe { core::slice::from_raw_parts(s.cast::<u8>(), len) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn strnlen(s: *const c_char, max: usize) -> usize {
    let mut n = 0;
    // SAFETY: the caller's contract: bytes up to a NUL or `max` exist.
    while n < max && unsafe { *s.add(n) } != 0 {
        n += 1;
    }
    n
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn memchr(s: *const c_void, c: c_int, n: usize) -> *mut c_void {
    // SAFETY: the caller's contract: `n` readable bytes.
    let bytes = unsafe { core::slice::from_raw_parts(s.cast::<u8>(), n) };
    bytes.iter().position(|&b| b == c as u8).map_or(null_mut(), |i| bytes[i..].as_ptr() as *mut c_void)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn memrchr(s: *const c_void, c: c_int, n: usize) -> *mut c_void {
    // SAFETY: the caller's contract: `n` readable bytes.
    let bytes = unsafe { core::slice::from_raw_parts(s.cast::<u8>(), n) };
    bytes.iter().rposition(|&b| b == c as u8).map_or(null_mut(), |i| bytes[i..].as_ptr() as *mut c_void)
}

/// The offset of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn memmem(
    hay: *const c_void,
    hay_len: usize,
    needle: *const c_void,
    needle_len: usize,
) -> *mut c_void {
    // SAFETY: the caller's contract: both ranges are readable.
    let (h, n) = unsafe {
        (
            core::slice::from_raw_parts(hay as *const u8, hay_len),
            core::slice::from_raw_parts(needle as *const u8, needle_len),
        )
    };
    find(h, n).map_or(null_mut(), |i| h[i..].as_ptr() as *mut c_void)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn mempcpy(dst: *mut c_void, src: *const c_void, n: usize) -> *mut c_void {
    // SAFETY: the caller's contract: distinct ranges of `n` bytes.
    unsafe {
        core::ptr::copy_nonoverlapping(src.cast::<u8>(), dst.cast::<u8>(), n);
        (dst.cast::<u8>()).add(n) as *mut c_void
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn strcmp(a: *const c_char, b: *const c_char) -> c_int {
    // SAFETY: the caller's contract: C strings.
    let (a, b) = unsafe { (with_nul(a), with_nul(b)) };
    compare(a, b)
}

/// Byte-wise comparison as unsigned chars, up to the first difference.
fn compare(a: &[u8], b: &[u8]) -> c_int {
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return *x as c_int - *y as c_int;
        }
    }
    a.len() as c_int - b.len() as c_int
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn strncmp(a: *const c_char, b: *const c_char, n: usize) -> c_int {
    // SAFETY: the caller's contract.
    let (a, b) = unsafe { (bounded(a, n), bounded(b, n)) };
    compare(a, b)
}

/// The "C" locale collates as `strcmp`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn strcoll(a: *const c_char, b: *const c_char) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { strcmp(a, b) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn strxfrm(dst: *mut c_char, src: *const c_char, n: usize) -> usize {
    // SAFETY: the caller's contract.
    let len = unsafe { strlen(src) };
    if len < n {
        // SAFETY: `dst` has room for `n > len` bytes.
        unsafe { core::ptr::copy_nonoverlapping(src, dst, len + 1) };
    }
    len
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn stpcpy(dst: *mut c_char, src: *const c_char) -> *mut c_char {
    // SAFETY: the caller's contract: `dst` has room for `src` and its NUL.
    unsafe {
        let src = with_nul(src);
        core::ptr::copy_nonoverlapping(src.as_ptr().cast::<c_char>(), dst, src.len());
        dst.add(src.len() - 1)
    }
}

/// The copy is written out, not `stpcpy(dst, src); dst`: LLVM turns a call
/// to `stpcpy` whose result is unused into a call to `strcpy`, which here
/// was a call to itself, and the function compiled to `return dst` (no
/// copy at all).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn strcpy(dst: *mut c_char, src: *const c_char) -> *mut c_char {
    // SAFETY: the caller's contract: `dst` has room for `src` and its NUL.
    unsafe {
        let src = with_nul(src);
        core::ptr::copy_nonoverlapping(src.as_ptr().cast::<c_char>(), dst, src.len());
    }
    dst
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn stpncpy(dst: *mut c_char, src: *const c_char, n: usize) -> *mut c_char {
    // SAFETY: the caller's contract: `dst` has `n` bytes.
    unsafe {
        let src = bounded(src, n);
        core::ptr::copy_nonoverlapping(src.as_ptr().cast::<c_char>(), dst, src.len());
        core::ptr::write_bytes(dst.add(src.len()), 0, n - src.len());
        dst.add(src.len())
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn strncpy(dst: *mut c_char, src: *const c_char, n: usize) -> *mut c_char {
    // SAFETY: the caller's contract.
    unsafe { stpncpy(dst, src, n) };
    dst
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn strlcpy(dst: *mut c_char, src: *const c_char, n: usize) -> usize {
    // SAFETY: the caller's contract.
    let src = unsafe { cstr(src) };
    if n > 0 {
        let copy = src.len().min(n - 1);
        // SAFETY: `dst` has `n > copy` bytes.
        unsafe {
            core::ptr::copy_nonoverlapping(src.as_ptr().cast::<c_char>(), dst, copy);
            *dst.add(copy) = 0;
        }
    }
    src.len()
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn strlcat(dst: *mut c_char, src: *const c_char, n: usize) -> usize {
    // SAFETY: the caller's contract.
    let used = unsafe { strnlen(dst, n) };
    if used == n {
        // SAFETY: the caller's contract.
        return n + unsafe { strlen(src) };
    }
    // SAFETY: `dst + used` has `n - used` bytes.
    used + unsafe { strlcpy(dst.add(used), src, n - used) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn strcat(dst: *mut c_char, src: *const c_char) -> *mut c_char {
    // SAFETY: the caller's contract: room for both strings.
    unsafe { strcpy(dst.add(strlen(dst)), src) };
    dst
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn strncat(dst: *mut c_char, src: *const c_char, n: usize) -> *mut c_char {
    // SAFETY: the caller's contract: room for dst, n bytes and a NUL.
    unsafe {
        let end = dst.add(strlen(dst));
        let src = bounded(src, n);
        core::ptr::copy_nonoverlapping(src.as_ptr().cast::<c_char>(), end, src.len());
        *end.add(src.len()) = 0;
    }
    dst
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn strchrnul(s: *const c_char, c: c_int) -> *mut c_char {
    // SAFETY: the caller's contract.
    let bytes = unsafe { cstr(s) };
    let at = bytes.iter().position(|&b| b == c as u8).unwrap_or(bytes.len());
    // SAFETY: `at` is within the string or at its NUL.
    unsafe { s.add(at) as *mut c_char }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn strchr(s: *const c_char, c: c_int) -> *mut c_char {
    // SAFETY: the caller's contract.
    let p = unsafe { strchrnul(s, c) };
    // SAFETY: `p` points into the string (at worst its NUL).
    if unsafe { *p.cast::<u8>() } == c as u8 { p } else { null_mut() }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn strrchr(s: *const c_char, c: c_int) -> *mut c_char {
    // SAFETY: the caller's contract.
    let bytes = unsafe { with_nul(s) };
    // SAFETY: the position is inside the string.
    bytes.iter().rposition(|&b| b == c as u8).map_or(null_mut(), |i| unsafe { s.add(i) as *mut c_char })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn strstr(hay: *const c_char, needle: *const c_char) -> *mut c_char {
    // SAFETY: the caller's contract.
    let (h, n) = unsafe { (cstr(hay), cstr(needle)) };
    // SAFETY: the position is inside `hay`.
    find(h, n).map_or(null_mut(), |i| unsafe { hay.add(i) as *mut c_char })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn strspn(s: *const c_char, accept: *const c_char) -> usize {
    // SAFETY: the caller's contract.
    let (s, set) = unsafe { (cstr(s), cstr(accept)) };
    s.iter().position(|b| !set.contains(b)).unwrap_or(s.len())
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn strcspn(s: *const c_char, reject: *const c_char) -> usize {
    // SAFETY: the caller's contract.
    let (s, set) = unsafe { (cstr(s), cstr(reject)) };
    s.iter().position(|b| set.contains(b)).unwrap_or(s.len())
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn strpbrk(s: *const c_char, accept: *const c_char) -> *mut c_char {
    // SAFETY: the caller's contract.
    let at = unsafe { strcspn(s, accept) };
    // SAFETY: `at` is within the string or at its NUL.
    if unsafe { *s.add(at) } == 0 { null_mut() } else { unsafe { s.add(at) as *mut c_char } }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn strtok_r(s: *mut c_char, delim: *const c_char, save: *mut *mut c_char) -> *mut c_char {
    // SAFETY: the caller's contract: `save` holds the position when `s`
    // is NULL.
    unsafe {
        let mut s = if s.is_null() { *save } else { s };
        if s.is_null() {
            return null_mut();
        }
        s = s.add(strspn(s, delim));
        if *s == 0 {
            *save = null_mut();
            return null_mut();
        }
        let end = s.add(strcspn(s, delim));
        if *end == 0 {
            *save = null_mut();
        } else {
            *end = 0;
            *save = end.add(1);
        }
        s
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn strtok(s: *mut c_char, delim: *const c_char) -> *mut c_char {
    static mut SAVE: *mut c_char = null_mut();
    // SAFETY: the caller's contract; C's strtok is not thread-safe.
    unsafe { strtok_r(s, delim, &raw mut SAVE) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn strsep(s: *mut *mut c_char, delim: *const c_char) -> *mut c_char {
    // SAFETY: the caller's contract.
    unsafe {
        let start = *s;
        if start.is_null() {
            return null_mut();
        }
        let end = start.add(strcspn(start, delim));
        if *end == 0 {
            *s = null_mut();
        } else {
            *end = 0;
            *s = end.add(1);
        }
        start
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn strndup(s: *const c_char, n: usize) -> *mut c_char {
    // SAFETY: the caller's contract.
    let src = unsafe { bounded(s, n) };
    // SAFETY: a plain allocation.
    let out = unsafe { malloc(src.len() + 1) } as *mut c_char;
    if !out.is_null() {
        // SAFETY: `out` has `len + 1` bytes.
        unsafe {
            core::ptr::copy_nonoverlapping(src.as_ptr().cast::<c_char>(), out, src.len());
            *out.add(src.len()) = 0;
        }
    }
    out
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn strdup(s: *const c_char) -> *mut c_char {
    // SAFETY: the caller's contract.
    unsafe { strndup(s, usize::MAX) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn strcasecmp(a: *const c_char, b: *const c_char) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { strncasecmp(a, b, usize::MAX) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn strncasecmp(a: *const c_char, b: *const c_char, n: usize) -> c_int {
    // SAFETY: the caller's contract.
    let (a, b) = unsafe { (bounded(a, n), bounded(b, n)) };
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (x.to_ascii_lowercase(), y.to_ascii_lowercase());
        if x != y {
            return x as c_int - y as c_int;
        }
    }
    a.len() as c_int - b.len() as c_int
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn bzero(s: *mut c_void, n: usize) {
    // SAFETY: the caller's contract: `n` writable bytes.
    unsafe { core::ptr::write_bytes(s.cast::<u8>(), 0, n) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn bcopy(src: *const c_void, dst: *mut c_void, n: usize) {
    // SAFETY: the caller's contract (the ranges may overlap).
    unsafe { core::ptr::copy(src.cast::<u8>(), dst.cast::<u8>(), n) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn bcmp(a: *const c_void, b: *const c_void, n: usize) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { memcmp(a, b, n) }
}

#[unsafe(no_mangle)]
pub extern "C" fn ffs(v: c_int) -> c_int {
    if v == 0 { 0 } else { v.trailing_zeros() as c_int + 1 }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn index(s: *const c_char, c: c_int) -> *mut c_char {
    // SAFETY: the caller's contract.
    unsafe { strchr(s, c) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn rindex(s: *const c_char, c: c_int) -> *mut c_char {
    // SAFETY: the caller's contract.
    unsafe { strrchr(s, c) }
}

/// The message for an errno value (glibc's wording, NUL-terminated): the
/// one errno table's (`tessera_sys::errno`).
fn message(errnum: c_int) -> &'static core::ffi::CStr {
    tessera_sys::errno::message_c(errnum)
}

#[unsafe(no_mangle)]
pub extern "C" fn strerror(errnum: c_int) -> *mut c_char {
    message(errnum).as_ptr() as *mut c_char
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn strerror_r(errnum: c_int, buf: *mut c_char, len: usize) -> c_int {
    // SAFETY: the caller passes `len` writable bytes.
    let copied = unsafe { strlcpy(buf, message(errnum).as_ptr(), len) };
    if copied >= len { tessera_abi::error::ERANGE } else { 0 }
}

#[unsafe(no_mangle)]
pub extern "C" fn strsignal(sig: c_int) -> *mut c_char {
    use tessera_abi::signal::*;
    let text = match sig as usize {
        SIGHUP => c"Hangup",
        SIGINT => c"Interrupt",
        SIGQUIT => c"Quit",
        SIGILL => c"Illegal instruction",
        SIGTRAP => c"Trace/breakpoint trap",
        SIGABRT => c"Aborted",
        SIGBUS => c"Bus error",
        SIGFPE => c"Floating point exception",
        SIGKILL => c"Killed",
        SIGSEGV => c"Segmentation fault",
        SIGPIPE => c"Broken pipe",
        SIGTERM => c"Terminated",
        _ => c"Unknown signal",
    };
    text.as_ptr() as *mut c_char
}
