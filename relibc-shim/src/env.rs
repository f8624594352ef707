//! The environment: `environ` (set by `__libc_start_main` in c/start.c to
//! the `envp` the kernel put on the stack) and get/set/unset. Changing the
//! environment copies the array into the heap once; strings `setenv` makes
//! are never freed (a `getenv` result may still be in use), as in most C
//! libraries.

use alloc::vec::Vec;
use core::ffi::{c_char, c_int};
use core::ptr::null_mut;

use tessera_abi::error::{EINVAL, ENOMEM};

use crate::malloc::malloc;
use crate::sys::{self, cstr};

/// The environment, a NULL-terminated array of `NAME=value` strings.
#[unsafe(no_mangle)]
pub static mut environ: *mut *mut c_char = null_mut();

/// The array libc allocated (so it may grow it), if any.
static mut OWNED: Option<Vec<*mut c_char>> = None;

/// The entries of `environ`, without its NULL.
///
/// # Safety
/// `environ` must be NULL or a NULL-terminated array of C strings.
unsafe fn entries() -> Vec<*mut c_char> {
    let mut out = Vec::new();
    // SAFETY: the contract; reading the static's value.
    let env = unsafe { environ };
    if env.is_null() {
        return out;
    }
    for i in 0.. {
        // SAFETY: NULL-terminated array.
        let s = unsafe { *env.add(i) };
        if s.is_null() {
            break;
        }
        out.push(s);
    }
    out
}

/// Where `name` (without `=`) is in the entries, and its value's start.
///
/// # Safety
/// Each entry must be a C string.
unsafe fn find(list: &[*mut c_char], name: &[u8]) -> Option<(usize, *mut c_char)> {
    list.iter().enumerate().find_map(|(i, &entry)| {
        // SAFETY: each entry is a C string.
        let bytes = unsafe { cstr(entry) };
        (bytes.len() > name.len() && bytes.starts_with(name) && bytes[name.len()] == b'=')
            // SAFETY: the value starts inside the same string.
            .then(|| (i, unsafe { entry.add(name.len() + 1) }))
    })
}

/// Installs `list` (plus a NULL) as the environment.
///
/// # Safety
/// Single-threaded use of the environment, as C requires.
unsafe fn install(mut list: Vec<*mut c_char>) {
    list.push(null_mut());
    // SAFETY: single-threaded per the contract; the old owned array is
    // dropped only after `environ` points at the new one.
    unsafe {
        environ = list.as_mut_ptr();
        OWNED = Some(list);
    }
}

fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && !name.contains(&b'=')
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn getenv(name: *const c_char) -> *mut c_char {
    // SAFETY: the caller's contract (a C string); environ is well-formed.
    let (name, list) = unsafe { (cstr(name), entries()) };
    // SAFETY: entries are C strings.
    unsafe { find(&list, name) }.map_or(null_mut(), |(_, value)| value)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn setenv(name: *const c_char, value: *const c_char, overwrite: c_int) -> c_int {
    // SAFETY: the caller's contract.
    let (name, value) = unsafe { (cstr(name), cstr(value)) };
    if !valid_name(name) {
        return sys::fail(EINVAL);
    }
    // SAFETY: environ is well-formed.
    let mut list = unsafe { entries() };
    // SAFETY: entries are C strings.
    let found = unsafe { find(&list, name) };
    if found.is_some() && overwrite == 0 {
        return 0;
    }
    let len = name.len() + 1 + value.len() + 1;
    // SAFETY: a plain allocation.
    let entry = unsafe { malloc(len) } as *mut u8;
    if entry.is_null() {
        return sys::fail(ENOMEM);
    }
    // SAFETY: `entry` has `len` bytes: name, '=', value, NUL.
    unsafe {
        core::ptr::copy_nonoverlapping(name.as_ptr(), entry, name.len());
        *entry.add(name.len()) = b'=';
        core::ptr::copy_nonoverlapping(value.as_ptr(), entry.add(name.len() + 1), value.len());
        *entry.add(len - 1) = 0;
    }
    match found {
        Some((i, _)) => list[i] = entry as *mut c_char,
        None => list.push(entry as *mut c_char),
    }
    // SAFETY: single-threaded, as C requires of setenv.
    unsafe { install(list) };
    0
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn unsetenv(name: *const c_char) -> c_int {
    // SAFETY: the caller's contract.
    let name = unsafe { cstr(name) };
    if !valid_name(name) {
        return sys::fail(EINVAL);
    }
    // SAFETY: environ is well-formed.
    let mut list = unsafe { entries() };
    // SAFETY: entries are C strings.
    list.retain(|&entry| unsafe { find(&[entry], name) }.is_none());
    // SAFETY: single-threaded, as C requires.
    unsafe { install(list) };
    0
}

/// `putenv`: the string itself becomes part of the environment.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn putenv(string: *mut c_char) -> c_int {
    // SAFETY: the caller's contract.
    let bytes = unsafe { cstr(string) };
    let Some(eq) = bytes.iter().position(|&b| b == b'=') else { return sys::fail(EINVAL) };
    if eq == 0 {
        return sys::fail(EINVAL);
    }
    // SAFETY: environ is well-formed; entries are C strings.
    let mut list = unsafe { entries() };
    // SAFETY: entries are C strings.
    match unsafe { find(&list, &bytes[..eq]) } {
        Some((i, _)) => list[i] = string,
        None => list.push(string),
    }
    // SAFETY: single-threaded, as C requires.
    unsafe { install(list) };
    0
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn clearenv() -> c_int {
    // SAFETY: single-threaded, as C requires.
    unsafe { install(Vec::new()) };
    0
}
