//! `<unistd.h>` file calls and system queries: thin C faces of
//! tessera-sys's typed wrappers (`tessera_sys::sys`), plus the few POSIX calls the
//! kernel has no notion of, each documented where it is emulated or fails.

use core::ffi::{c_char, c_int, c_long, c_uint, c_void};

use tessera_abi::error::{EINVAL, ENOSYS, ERANGE};
use tessera_abi::flag::{O_RDONLY, O_STAT, SEEK_CUR, SEEK_SET};
use tessera_abi::{O_CLOEXEC, Stat};
use tessera_sys::sys as calls;

use crate::sys::{self, SysResult, ret_int, ret_isize, ret_zero};

#[unsafe(no_mangle)]
pub unsafe extern "C" fn read(fd: c_int, buf: *mut c_void, n: usize) -> isize {
    // SAFETY: the kernel writes at most `n` bytes at `buf`, the caller's
    // buffer; it checks the range itself (EFAULT).
    ret_isize(unsafe { calls::read_raw(fd as usize, buf.cast(), n) })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn write(fd: c_int, buf: *const c_void, n: usize) -> isize {
    // SAFETY: the kernel only reads `n` bytes at `buf`.
    ret_isize(unsafe { calls::write_raw(fd as usize, buf.cast(), n) })
}

/// Seeks `fd` to `offset`, runs `io`, then seeks back: the kernel has no
/// positional I/O, so `pread`/`pwrite` are not atomic against another user
/// of the same open file.
fn at_offset(fd: c_int, offset: i64, io: impl FnOnce() -> isize) -> isize {
    let old = lseek(fd, 0, SEEK_CUR as c_int);
    if old < 0 || lseek(fd, offset, SEEK_SET as c_int) < 0 {
        return -1;
    }
    let n = io();
    let errno = sys::__errno_location();
    // SAFETY: errno's cell is a static; keeping it across the seek back.
    let saved = unsafe { *errno };
    lseek(fd, old, SEEK_SET as c_int);
    // SAFETY: as above.
    unsafe { *errno = saved };
    n
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn pread(fd: c_int, buf: *mut c_void, n: usize, offset: i64) -> isize {
    // SAFETY: forwarded from the caller (see `read`).
    at_offset(fd, offset, || unsafe { read(fd, buf, n) })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn pwrite(fd: c_int, buf: *const c_void, n: usize, offset: i64) -> isize {
    // SAFETY: forwarded from the caller (see `write`).
    at_offset(fd, offset, || unsafe { write(fd, buf, n) })
}

#[unsafe(no_mangle)]
pub extern "C" fn close(fd: c_int) -> c_int {
    ret_zero(calls::close(fd as usize))
}

#[unsafe(no_mangle)]
pub extern "C" fn lseek(fd: c_int, offset: i64, whence: c_int) -> i64 {
    ret_isize(calls::lseek(fd as usize, offset as isize, whence as usize)) as i64
}

#[unsafe(no_mangle)]
pub extern "C" fn fsync(fd: c_int) -> c_int {
    ret_zero(calls::fsync(fd as usize))
}

#[unsafe(no_mangle)]
pub extern "C" fn fdatasync(fd: c_int) -> c_int {
    fsync(fd)
}

#[unsafe(no_mangle)]
pub extern "C" fn ftruncate(fd: c_int, len: i64) -> c_int {
    if len < 0 {
        sys::set_errno(EINVAL);
        return -1;
    }
    ret_zero(calls::ftruncate(fd as usize, len as usize))
}

/// Opens `path` with Redox's `flags` (no mode: the kernel keeps none).
///
/// # Safety
/// `path` must be a NUL-terminated string.
pub unsafe fn open_path(path: *const c_char, flags: usize) -> SysResult<usize> {
    // SAFETY: the caller's contract.
    let path = unsafe { sys::path(path) }?;
    calls::open(path, flags).map_err(sys::errno)
}

/// `open` without the variadic mode (c/fcntl.c takes the mode and calls
/// this; the kernel has no permissions, so the mode is not sent).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __tessera_open(path: *const c_char, flags: c_int) -> c_int {
    // SAFETY: the caller's contract (`open`).
    ret_int(unsafe { open_path(path, flags as u32 as usize) })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn truncate(path: *const c_char, len: i64) -> c_int {
    use tessera_abi::flag::O_WRONLY;
    // SAFETY: the caller's contract.
    let fd = match unsafe { open_path(path, O_WRONLY | O_CLOEXEC) } {
        Ok(fd) => fd as c_int,
        Err(e) => return sys::fail(e),
    };
    let r = ftruncate(fd, len);
    close(fd);
    r
}

#[unsafe(no_mangle)]
pub extern "C" fn dup(fd: c_int) -> c_int {
    ret_int(calls::dup(fd as usize))
}

/// Redox's `dup` with a name (`dup(fd, "winsize")` on the console): a new
/// fd for what `fd`'s scheme gives that name; `ioctl` uses it (c/ioctl.c).
/// Not a POSIX call, hence the reserved name.
///
/// # Safety
/// `name` is a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __tessera_dup_named(fd: c_int, name: *const c_char) -> c_int {
    if name.is_null() {
        return ret_int(Err(tessera_abi::error::EFAULT));
    }
    // SAFETY: the caller passes a NUL-terminated string.
    let name = unsafe { core::ffi::CStr::from_ptr(name) };
    ret_int(calls::dup_named(fd as usize, name.to_bytes()))
}

#[unsafe(no_mangle)]
pub extern "C" fn dup2(fd: c_int, new_fd: c_int) -> c_int {
    if fd == new_fd {
        // POSIX: nothing to do, but fd must be open.
        return if fcntl_raw(fd, tessera_abi::flag::F_GETFD, 0).is_ok() {
            fd
        } else {
            ret_int(Err(tessera_abi::error::EBADF))
        };
    }
    ret_int(calls::dup2(fd as usize, new_fd as usize))
}

/// The kernel's `fcntl`.
pub fn fcntl_raw(fd: c_int, cmd: usize, arg: usize) -> SysResult<usize> {
    calls::fcntl(fd as usize, cmd, arg).map_err(sys::errno)
}

/// `fcntl` without the variadic argument (c/fcntl.c reads it). The kernel
/// knows F_DUPFD, F_GETFD, F_SETFD, F_GETFL and the record locks F_GETLK,
/// F_SETLK, F_SETLKW (a `struct flock *`); F_DUPFD_CLOEXEC is
/// F_DUPFD + F_SETFD here; F_SETFL is EINVAL (no scheme honours
/// O_NONBLOCK/O_APPEND changes yet).
#[unsafe(no_mangle)]
pub extern "C" fn __tessera_fcntl(fd: c_int, cmd: c_int, arg: c_long) -> c_int {
    const F_DUPFD_CLOEXEC: c_int = 1030;
    use tessera_abi::flag::{F_DUPFD, F_SETFD};
    if cmd == F_DUPFD_CLOEXEC {
        let new = fcntl_raw(fd, F_DUPFD, arg as usize);
        if let Ok(new) = new {
            let _ = fcntl_raw(new as c_int, F_SETFD, tessera_abi::FD_CLOEXEC);
        }
        return ret_int(new);
    }
    ret_int(fcntl_raw(fd, cmd as usize, arg as usize))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipe2(fds: *mut c_int, flags: c_int) -> c_int {
    let r = calls::pipe2(flags as u32 as usize);
    if let Ok([read_end, write_end]) = r {
        // SAFETY: the caller passes an array of two ints.
        unsafe {
            *fds = read_end as c_int;
            *fds.add(1) = write_end as c_int;
        }
    }
    ret_zero(r)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipe(fds: *mut c_int) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { pipe2(fds, 0) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn unlink(path: *const c_char) -> c_int {
    // SAFETY: the caller's contract.
    ret_zero(unsafe { unlinkat_raw(path, 0) })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmdir(path: *const c_char) -> c_int {
    // SAFETY: the caller's contract.
    ret_zero(unsafe { unlinkat_raw(path, tessera_abi::flag::AT_REMOVEDIR) })
}

/// # Safety
/// `path` must be a NUL-terminated string.
pub unsafe fn unlinkat_raw(path: *const c_char, flags: usize) -> SysResult<()> {
    // SAFETY: the caller's contract.
    let path = unsafe { sys::path(path) }?;
    calls::unlinkat(path, flags).map_err(sys::errno)
}

/// Whether `path` exists (opened and closed again). The kernel has no
/// permissions, so every mode is granted for a file that exists.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn access(path: *const c_char, mode: c_int) -> c_int {
    if mode & !7 != 0 {
        return sys::fail(EINVAL);
    }
    // O_STAT, as stat: the probe's close keeps the caller's record locks.
    // SAFETY: the caller's contract.
    match unsafe { open_path(path, O_RDONLY | O_STAT | O_CLOEXEC) } {
        Ok(fd) => {
            close(fd as c_int);
            0
        }
        Err(e) => sys::fail(e),
    }
}

/// The kernel has no working directory (relative paths start at the root
/// of `file:`): ENOSYS, except for "/" which is where every process is.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chdir(path: *const c_char) -> c_int {
    // SAFETY: the caller's contract.
    match unsafe { sys::path(path) } {
        Ok("/") => 0,
        Ok(_) => sys::fail(ENOSYS),
        Err(e) => sys::fail(e),
    }
}

/// Always "/": relative paths resolve from the root of `file:`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn getcwd(buf: *mut c_char, size: usize) -> *mut c_char {
    let buf = if buf.is_null() {
        let size = size.max(2);
        // SAFETY: a plain allocation.
        let p = unsafe { crate::malloc::malloc(size) } as *mut c_char;
        if p.is_null() {
            return p;
        }
        p
    } else if size < 2 {
        sys::set_errno(ERANGE);
        return core::ptr::null_mut();
    } else {
        buf
    };
    // SAFETY: `buf` has room for at least two bytes (checked or allocated).
    unsafe {
        *buf = b'/' as c_char;
        *buf.add(1) = 0;
    }
    buf
}

/// The file status the kernel gives (Redox's `Stat`).
pub fn fstat_raw(fd: c_int) -> SysResult<Stat> {
    calls::fstat(fd as usize).map_err(sys::errno)
}

/// A character device (the console) is a terminal; ENOTTY otherwise.
#[unsafe(no_mangle)]
pub extern "C" fn isatty(fd: c_int) -> c_int {
    use tessera_abi::flag::{MODE_CHR, MODE_TYPE};
    match fstat_raw(fd) {
        Ok(st) if st.st_mode & MODE_TYPE == MODE_CHR => 1,
        Ok(_) => {
            sys::set_errno(tessera_abi::error::ENOTTY);
            0
        }
        Err(e) => {
            sys::set_errno(e);
            0
        }
    }
}

/// Links do not exist in any Tessera scheme: ENOSYS.
#[unsafe(no_mangle)]
pub extern "C" fn link(_old: *const c_char, _new: *const c_char) -> c_int {
    sys::fail(ENOSYS)
}

/// Links do not exist in any Tessera scheme: ENOSYS.
#[unsafe(no_mangle)]
pub extern "C" fn symlink(_target: *const c_char, _path: *const c_char) -> c_int {
    sys::fail(ENOSYS)
}

/// Links do not exist in any Tessera scheme: EINVAL (not a link), as POSIX
/// says for a path that is not a symbolic link.
#[unsafe(no_mangle)]
pub extern "C" fn readlink(_path: *const c_char, _buf: *mut c_char, _size: usize) -> isize {
    ret_isize(Err(EINVAL))
}

#[unsafe(no_mangle)]
pub extern "C" fn sleep(seconds: c_uint) -> c_uint {
    let req = crate::time::timespec { tv_sec: seconds as i64, tv_nsec: 0 };
    let mut rem = crate::time::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: both point at locals.
    if unsafe { crate::time::nanosleep(&req, &mut rem) } == 0 { 0 } else { rem.tv_sec as c_uint }
}

#[unsafe(no_mangle)]
pub extern "C" fn usleep(usec: c_uint) -> c_int {
    let req = crate::time::timespec { tv_sec: (usec / 1_000_000) as i64, tv_nsec: (usec % 1_000_000) as i64 * 1000 };
    // SAFETY: `req` is a local; no remainder wanted.
    unsafe { crate::time::nanosleep(&req, core::ptr::null_mut()) }
}

/// Page size in bytes, both arches.
pub const PAGE_BYTES: usize = 4096;

#[unsafe(no_mangle)]
pub extern "C" fn getpagesize() -> c_int {
    PAGE_BYTES as c_int
}

/// `sysconf`: the page size, clock ticks (CLOCKS_PER_SEC-style 100), an
/// open-file limit and argument size; EINVAL for names it does not know.
#[unsafe(no_mangle)]
pub extern "C" fn sysconf(name: c_int) -> c_long {
    const SC_ARG_MAX: c_int = 0;
    const SC_CHILD_MAX: c_int = 1;
    const SC_CLK_TCK: c_int = 2;
    const SC_OPEN_MAX: c_int = 4;
    const SC_PAGESIZE: c_int = 30;
    const SC_NPROCESSORS_CONF: c_int = 83;
    const SC_NPROCESSORS_ONLN: c_int = 84;
    match name {
        SC_PAGESIZE => PAGE_BYTES as c_long,
        SC_ARG_MAX => 65536,
        SC_CHILD_MAX => 1024,
        SC_CLK_TCK => 100,
        SC_OPEN_MAX => 1024,
        // No call reports the CPU count to programs yet: one is the safe
        // answer for sizing thread pools.
        SC_NPROCESSORS_CONF | SC_NPROCESSORS_ONLN => 1,
        _ => {
            sys::set_errno(EINVAL);
            -1
        }
    }
}

/// Users and groups do not exist: everything runs as root (0).
#[unsafe(no_mangle)]
pub extern "C" fn getuid() -> c_uint {
    0
}

#[unsafe(no_mangle)]
pub extern "C" fn geteuid() -> c_uint {
    0
}

#[unsafe(no_mangle)]
pub extern "C" fn getgid() -> c_uint {
    0
}

#[unsafe(no_mangle)]
pub extern "C" fn getegid() -> c_uint {
    0
}

/// No sessions or process groups: ENOSYS.
#[unsafe(no_mangle)]
pub extern "C" fn setsid() -> c_int {
    ret_int(Err(ENOSYS))
}

/// No process groups: each process is its own (its pid).
#[unsafe(no_mangle)]
pub extern "C" fn getpgrp() -> c_int {
    crate::process::getpid()
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn gethostname(name: *mut c_char, len: usize) -> c_int {
    let host = b"tessera\0";
    if len < host.len() {
        return sys::fail(tessera_abi::error::ENAMETOOLONG);
    }
    // SAFETY: `name` has room for `len >= host.len()` bytes.
    unsafe { core::ptr::copy_nonoverlapping(host.as_ptr(), name.cast::<u8>(), host.len()) };
    0
}
