//! The C side of the kernel boundary: `errno`, the helpers every module
//! uses to turn a tessera-sys result into C's "-1 and errno" convention,
//! and C-string arguments. The calls themselves are tessera-sys's typed
//! wrappers (`tessera_sys::sys`, `tessera_sys::mm`).

use core::ffi::{c_char, c_int};
use core::sync::atomic::{AtomicI32, Ordering};

use tessera_abi::Error;
use tessera_abi::error::{EINVAL, ENAMETOOLONG};

/// An outcome inside libc: the value, or the errno.
pub type SysResult<T> = Result<T, c_int>;

/// The errno of a tessera-sys error (for `map_err` where a
/// [`SysResult`] is wanted).
pub fn errno(error: Error) -> c_int {
    error.errno
}

/// An error that is, or carries, an errno: libc's own `c_int`s and
/// tessera-sys's `Error`s both go through the `ret_*` helpers.
pub trait Errno {
    /// The errno value.
    fn errno(self) -> c_int;
}

impl Errno for c_int {
    fn errno(self) -> c_int {
        self
    }
}

impl Errno for Error {
    fn errno(self) -> c_int {
        self.errno
    }
}

/// The one `errno` (the library has no threads of its own).
static ERRNO: AtomicI32 = AtomicI32::new(0);

/// Where `errno` lives (`<errno.h>`: `#define errno (*__errno_location())`).
#[unsafe(no_mangle)]
pub extern "C" fn __errno_location() -> *mut c_int {
    ERRNO.as_ptr()
}

/// Sets `errno`.
pub fn set_errno(errno: c_int) {
    ERRNO.store(errno, Ordering::Relaxed);
}

/// 0 for success; -1 and `errno` for an error.
pub fn ret_zero<T, E: Errno>(result: Result<T, E>) -> c_int {
    match result {
        Ok(_) => 0,
        Err(e) => {
            set_errno(e.errno());
            -1
        }
    }
}

/// The value as an `int` (fds, pids); -1 and `errno` for an error.
pub fn ret_int<E: Errno>(result: Result<usize, E>) -> c_int {
    match result {
        Ok(v) => v as c_int,
        Err(e) => {
            set_errno(e.errno());
            -1
        }
    }
}

/// The value as an `ssize_t`; -1 and `errno` for an error.
pub fn ret_isize<E: Errno>(result: Result<usize, E>) -> isize {
    match result {
        Ok(v) => v as isize,
        Err(e) => {
            set_errno(e.errno());
            -1
        }
    }
}

/// The bytes of the C string at `s`, without its NUL.
///
/// # Safety
/// `s` must point at a NUL-terminated string that outlives the result.
pub unsafe fn cstr<'a>(s: *const c_char) -> &'a [u8] {
    // SAFETY: the caller guarantees a valid NUL-terminated string.
    unsafe { core::ffi::CStr::from_ptr(s) }.to_bytes()
}

/// A path argument as the kernel takes it (UTF-8, not empty); EINVAL when
/// it is not UTF-8, ENOENT when empty (POSIX), ENAMETOOLONG past PATH_MAX.
///
/// # Safety
/// As [`cstr`].
pub unsafe fn path<'a>(s: *const c_char) -> SysResult<&'a str> {
    // SAFETY: the caller's contract.
    let bytes = unsafe { cstr(s) };
    if bytes.is_empty() {
        return Err(tessera_abi::error::ENOENT);
    }
    if bytes.len() > 4096 {
        return Err(ENAMETOOLONG);
    }
    core::str::from_utf8(bytes).map_err(|_| EINVAL)
}

/// Writes to fd 2 directly (for libc's own last-resort messages).
pub struct Fd2;

impl core::fmt::Write for Fd2 {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let _ = tessera_sys::sys::write(2, s.as_bytes());
        Ok(())
    }
}

/// -1 with `errno` set to `errno`.
pub fn fail(errno: c_int) -> c_int {
    set_errno(errno);
    -1
}
