//! Processes and signals: fork, exec, exit, wait, kill, and the signal
//! calls the kernel can honour (it delivers signals with their default
//! action only; there are no user handlers, masks or alarms).

use alloc::vec::Vec;
use core::ffi::{c_char, c_int, c_ulong};

use tessera_abi::error::{EINVAL, ENOENT, ENOSYS};
use tessera_sys::sys::{self as calls, Fork};

use crate::sys::{self, cstr, ret_int};

unsafe extern "C" {
    /// c/stdio.c: hands the stream locks of the forking thread (its id
    /// before the fork) to the child's thread and frees the others.
    fn __stdio_after_fork(parent_tid: u32);
}

/// `fork`; in the child, stdio's locks are fixed up first (a lock held
/// across the fork by the calling thread stays held, by the child's
/// thread; see `__stdio_after_fork`).
#[unsafe(no_mangle)]
pub extern "C" fn fork() -> c_int {
    let parent_tid = calls::gettid().map_or(u32::MAX, |t| t as u32);
    ret_int(calls::fork().map(|side| match side {
        Fork::Child => {
            // SAFETY: the child has a single thread; the C side only
            // rewrites lock words of live streams.
            unsafe { __stdio_after_fork(parent_tid) };
            0
        }
        Fork::Parent { pid } => pid,
    }))
}

/// `vfork` is `fork`: the kernel's fork is copy-on-write, so the
/// difference is only speed.
#[unsafe(no_mangle)]
pub extern "C" fn vfork() -> c_int {
    fork()
}

/// Ends the process at once (no atexit handlers, no stdio flush).
#[unsafe(no_mangle)]
pub extern "C" fn _exit(status: c_int) -> ! {
    calls::exit(status as usize & 0xFF)
}

#[unsafe(no_mangle)]
pub extern "C" fn _Exit(status: c_int) -> ! {
    _exit(status)
}

#[unsafe(no_mangle)]
pub extern "C" fn getpid() -> c_int {
    ret_int(calls::getpid())
}

#[unsafe(no_mangle)]
pub extern "C" fn getppid() -> c_int {
    ret_int(calls::getppid())
}

/// `[ptr, len]` pairs of a NULL-terminated C string array, as the kernel's
/// execve takes them.
///
/// # Safety
/// `list` must be NULL or a NULL-terminated array of C strings.
unsafe fn pairs(list: *const *const c_char) -> Vec<[usize; 2]> {
    let mut out = Vec::new();
    if list.is_null() {
        return out;
    }
    for i in 0.. {
        // SAFETY: the array is NULL-terminated; `i` is before the NULL.
        let s = unsafe { *list.add(i) };
        if s.is_null() {
            break;
        }
        // SAFETY: each entry is a C string.
        out.push([s as usize, unsafe { cstr(s) }.len()]);
    }
    out
}

/// Runs `path` with the C string arrays; returns only on failure, with
/// the errno.
///
/// # Safety
/// As `execve`.
unsafe fn execve_raw(path: &str, argv: *const *const c_char, envp: *const *const c_char) -> c_int {
    // SAFETY: the caller's contract.
    let (argv, envp) = unsafe { (pairs(argv), pairs(envp)) };
    // SAFETY: each pair names a C string of the caller's, alive for the
    // call.
    unsafe { calls::execve_pairs(path, &argv, &envp) }.errno
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn execve(path: *const c_char, argv: *const *const c_char, envp: *const *const c_char) -> c_int {
    // SAFETY: the caller's contract.
    match unsafe { sys::path(path) } {
        // SAFETY: the caller's contract.
        Ok(path) => sys::fail(unsafe { execve_raw(path, argv, envp) }),
        Err(e) => sys::fail(e),
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn execv(path: *const c_char, argv: *const *const c_char) -> c_int {
    // SAFETY: the caller's contract; environ is libc's.
    unsafe { execve(path, argv, crate::env::environ as *const *const c_char) }
}

/// Directories `execvp` searches when `PATH` is not set: the initfs's
/// programs, then the root filesystem's.
const DEFAULT_PATH: &str = "/scheme/initfs/bin:/bin";

/// `execvp`: a name with `/` or `:` is a path; a bare name is looked up in
/// the `:`-separated directories of `PATH` (Tessera's use `/scheme/NAME/...`
/// paths, so `:` only separates), or [`DEFAULT_PATH`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn execvp(file: *const c_char, argv: *const *const c_char) -> c_int {
    // SAFETY: the caller's contract.
    let name = match unsafe { sys::path(file) } {
        Ok(name) => name,
        Err(e) => return sys::fail(e),
    };
    // SAFETY: environ is libc's NULL-terminated array.
    let envp = unsafe { crate::env::environ } as *const *const c_char;
    if name.contains('/') || name.contains(':') {
        // SAFETY: the caller's contract.
        return sys::fail(unsafe { execve_raw(name, argv, envp) });
    }
    // SAFETY: a C string literal.
    let path = unsafe { crate::env::getenv(c"PATH".as_ptr()) };
    let search = if path.is_null() {
        DEFAULT_PATH
    } else {
        // SAFETY: getenv returns a C string from the environment.
        core::str::from_utf8(unsafe { cstr(path) }).unwrap_or(DEFAULT_PATH)
    };
    let mut last = ENOENT;
    for dir in search.split(':').filter(|d| !d.is_empty()) {
        let mut full = alloc::string::String::from(dir);
        full.push('/');
        full.push_str(name);
        // SAFETY: the caller's contract.
        match unsafe { execve_raw(&full, argv, envp) } {
            // Keep the most telling error: a file that exists but fails.
            ENOENT => {}
            e => last = e,
        }
    }
    sys::fail(last)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int {
    // `-1` (any child) is the kernel's `usize::MAX` (`ANY_CHILD`), as the
    // sign extension gives it.
    let r = calls::waitpid(pid as isize as usize, options as usize);
    if let Ok(reaped) = r
        && !status.is_null()
    {
        // WNOHANG with nothing to reap leaves a 0 status, as the kernel's
        // call does.
        let raw = reaped.map_or(0, |(_, wait_status)| wait_status.0);
        // SAFETY: the caller passes a valid int pointer or NULL.
        unsafe { *status = raw as c_int };
    }
    ret_int(r.map(|reaped| reaped.map_or(0, |(child, _)| child)))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wait(status: *mut c_int) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { waitpid(-1, status, 0) }
}

#[unsafe(no_mangle)]
pub extern "C" fn kill(pid: c_int, sig: c_int) -> c_int {
    if pid <= 0 {
        // No process groups: only single processes can be signalled.
        return sys::fail(ENOSYS);
    }
    sys::ret_zero(calls::kill(pid as usize, sig as usize))
}

#[unsafe(no_mangle)]
pub extern "C" fn raise(sig: c_int) -> c_int {
    kill(getpid(), sig)
}

/// Ends the process with SIGABRT, as `abort` must.
pub fn abort_process() -> ! {
    raise(tessera_abi::signal::SIGABRT as c_int);
    // A kernel that did not kill us: end with the shell's 128 + SIGABRT.
    _exit(134)
}

/// The C `abort`: no flushing (POSIX allows either); SIGABRT.
#[unsafe(no_mangle)]
pub extern "C" fn abort() -> ! {
    abort_process()
}

type Handler = usize;
const SIG_DFL: Handler = 0;
const SIG_ERR: Handler = usize::MAX;

/// Only SIG_DFL can be honoured (it is what the kernel does); a handler
/// or SIG_IGN fails with ENOSYS and returns SIG_ERR.
#[unsafe(no_mangle)]
pub extern "C" fn signal(sig: c_int, handler: Handler) -> Handler {
    if !(1..tessera_abi::signal::NSIG as c_int).contains(&sig) {
        sys::set_errno(EINVAL);
        return SIG_ERR;
    }
    if handler == SIG_DFL {
        SIG_DFL
    } else {
        sys::set_errno(ENOSYS);
        SIG_ERR
    }
}

/// `struct sigaction` as `<signal.h>` defines it.
#[repr(C)]
pub struct SigAction {
    handler: Handler,
    mask: c_ulong,
    flags: c_int,
}

/// As [`signal`]: the old action is always SIG_DFL; a new one other than
/// SIG_DFL is ENOSYS.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sigaction(sig: c_int, act: *const SigAction, old: *mut SigAction) -> c_int {
    if !(1..tessera_abi::signal::NSIG as c_int).contains(&sig) {
        return sys::fail(EINVAL);
    }
    // SAFETY: `act` is NULL or a valid sigaction.
    if let Some(act) = unsafe { act.as_ref() }
        && act.handler != SIG_DFL
    {
        return sys::fail(ENOSYS);
    }
    // SAFETY: `old` is NULL or writable.
    if let Some(old) = unsafe { old.as_mut() } {
        *old = SigAction { handler: SIG_DFL, mask: 0, flags: 0 };
    }
    0
}

/// Signal sets are plain bit masks (no masking exists to apply them to).
fn sig_bit(sig: c_int) -> Option<c_ulong> {
    (1..tessera_abi::signal::NSIG as c_int).contains(&sig).then(|| 1 << (sig - 1))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn sigemptyset(set: *mut c_ulong) -> c_int {
    // SAFETY: the caller passes a valid set.
    unsafe { *set = 0 };
    0
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn sigfillset(set: *mut c_ulong) -> c_int {
    // SAFETY: the caller passes a valid set.
    unsafe { *set = !0 };
    0
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn sigaddset(set: *mut c_ulong, sig: c_int) -> c_int {
    let Some(bit) = sig_bit(sig) else { return sys::fail(EINVAL) };
    // SAFETY: the caller passes a valid set.
    unsafe { *set |= bit };
    0
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn sigdelset(set: *mut c_ulong, sig: c_int) -> c_int {
    let Some(bit) = sig_bit(sig) else { return sys::fail(EINVAL) };
    // SAFETY: the caller passes a valid set.
    unsafe { *set &= !bit };
    0
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn sigismember(set: *const c_ulong, sig: c_int) -> c_int {
    let Some(bit) = sig_bit(sig) else { return sys::fail(EINVAL) };
    // SAFETY: the caller passes a valid set.
    (unsafe { *set } & bit != 0) as c_int
}

/// No signal masks exist: querying gives the empty mask; blocking a
/// non-empty set is ENOSYS.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sigprocmask(_how: c_int, set: *const c_ulong, old: *mut c_ulong) -> c_int {
    // SAFETY: `old` is NULL or writable.
    if let Some(old) = unsafe { old.as_mut() } {
        *old = 0;
    }
    // SAFETY: `set` is NULL or a valid set.
    match unsafe { set.as_ref() } {
        Some(&mask) if mask != 0 => sys::fail(ENOSYS),
        _ => 0,
    }
}
