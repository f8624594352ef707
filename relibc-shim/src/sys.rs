//! The kernel boundary: raw calls with `Result`s, `errno`, and the helpers
//! every module uses to turn a result into C's "-1 and errno" convention
//! and to read C strings.

use core::ffi::{c_char, c_int};
use core::sync::atomic::{AtomicI32, Ordering};

use tessera_abi::error::{EINVAL, ENAMETOOLONG};

/// A kernel call's outcome: the value, or the errno.
pub type SysResult<T> = Result<T, c_int>;

/// Largest raw value that is not an error (errors are `-1 ..= -4095`).
const MAX_OK: usize = usize::MAX - 4095;

/// Calls `n` with up to six arguments (pass fewer; the rest are 0).
///
/// # Safety
/// As `arch::syscall6`: the kernel may read and write the memory the
/// arguments name, and change the address space as the call says.
pub unsafe fn call(n: usize, args: &[usize]) -> SysResult<usize> {
    let arg = |i: usize| args.get(i).copied().unwrap_or(0);
    // SAFETY: forwarded from this function's contract.
    let ret = unsafe { crate::arch::syscall6(n, arg(0), arg(1), arg(2), arg(3), arg(4), arg(5)) };
    if ret > MAX_OK { Err(ret.wrapping_neg() as c_int) } else { Ok(ret) }
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
pub fn ret_zero<T>(result: SysResult<T>) -> c_int {
    match result {
        Ok(_) => 0,
        Err(e) => {
            set_errno(e);
            -1
        }
    }
}

/// The value as an `int` (fds, pids); -1 and `errno` for an error.
pub fn ret_int(result: SysResult<usize>) -> c_int {
    match result {
        Ok(v) => v as c_int,
        Err(e) => {
            set_errno(e);
            -1
        }
    }
}

/// The value as an `ssize_t`; -1 and `errno` for an error.
pub fn ret_isize(result: SysResult<usize>) -> isize {
    match result {
        Ok(v) => v as isize,
        Err(e) => {
            set_errno(e);
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
        // SAFETY: the kernel only reads `s`.
        let _ = unsafe { call(tessera_abi::number::SYS_WRITE, &[2, s.as_ptr() as usize, s.len()]) };
        Ok(())
    }
}

/// -1 with `errno` set to `errno`.
pub fn fail(errno: c_int) -> c_int {
    set_errno(errno);
    -1
}
