//! Typed system-call wrappers, one per call of the kernel-core ABI.
//!
//! Arguments follow `tessera_abi::number` (Redox's calls, plus the ones
//! Tessera adds); errors are `tessera_abi::Error` with Linux errno values.
//! Each wrapper lists the errnos a caller can expect. Two apply to every
//! call and are not repeated: `ENOSYS` from a kernel that does not implement
//! the call yet, and `EFAULT` when memory the call must read or write is not
//! the caller's (for these wrappers that means a bug in the wrapper or the
//! kernel, since Rust references are always valid).
//!
//! File descriptors are plain `usize`: fds 0, 1 and 2 are the console for
//! the first process and are inherited across `fork` and `execve`.

use alloc::vec::Vec;

use tessera_abi::number::*;
use tessera_abi::{Error, Result, Stat, TimeSpec};

use crate::syscall::*;

/// `waitpid` target meaning "any child" (POSIX's `-1`).
pub const ANY_CHILD: usize = usize::MAX;

/// Opens `path` (`scheme:path`, or `/scheme/name/path`; any other path is
/// `file:`'s, `/a/b` being `file:/a/b`) with Redox's `O_*` `flags`
/// (`tessera_abi::flag`) and returns the new fd, the lowest free.
/// `O_CREAT | O_DIRECTORY` makes a directory (see [`mkdir`]).
///
/// Errors: `ENODEV` no scheme of that name (Redox's answer for an unknown
/// scheme), `ENOENT` no such file in the scheme, `ENOTDIR`/`EISDIR` a
/// directory where a file was meant or the reverse, `EACCES` access refused,
/// `EROFS` writing to a read-only scheme such as `initfs:`, `EINVAL` bad
/// flags, `EMFILE` the fd table is full.
pub fn open(path: &str, flags: usize) -> Result<usize> {
    // SAFETY: the kernel only reads `path.len()` bytes at `path`.
    unsafe { syscall3(SYS_OPEN, path.as_ptr() as usize, path.len(), flags) }
}

/// Closes `fd`. Errors: `EBADF` not an open fd.
pub fn close(fd: usize) -> Result<()> {
    // SAFETY: no memory is passed.
    unsafe { syscall1(SYS_CLOSE, fd) }.map(drop)
}

/// Reads up to `buf.len()` bytes from `fd`; 0 means end of file.
///
/// Errors: `EBADF` not an open fd or not open for reading, `EISDIR` a
/// directory, `EINVAL` the object cannot be read, `EIO` the scheme failed
/// (or its daemon died).
pub fn read(fd: usize, buf: &mut [u8]) -> Result<usize> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`, which
    // this function borrows mutably.
    unsafe { read_raw(fd, buf.as_mut_ptr(), buf.len()) }
}

/// [`read`] into `len` bytes at `buf`, for callers that hold a pointer
/// rather than a slice (C's `read`). A bad pointer is `EFAULT`, not
/// undefined behaviour: the kernel checks it.
///
/// # Safety
/// The `len` bytes at `buf`, where they are the caller's, must be the
/// caller's to overwrite.
pub unsafe fn read_raw(fd: usize, buf: *mut u8, len: usize) -> Result<usize> {
    // SAFETY: the kernel writes at most `len` bytes at `buf`, which the
    // caller gives up.
    unsafe { syscall3(SYS_READ, fd, buf as usize, len) }
}

/// Writes up to `buf.len()` bytes to `fd` and returns how many it took.
///
/// Errors: `EBADF` not an open fd or not open for writing, `EPIPE` a pipe
/// with no reader left, `ENOSPC` the object is full, `EIO` the scheme failed.
pub fn write(fd: usize, buf: &[u8]) -> Result<usize> {
    // SAFETY: the kernel only reads `buf.len()` bytes at `buf`.
    unsafe { write_raw(fd, buf.as_ptr(), buf.len()) }
}

/// [`write`] from `len` bytes at `buf`, for callers that hold a pointer
/// rather than a slice (C's `write`). A bad pointer is `EFAULT`.
///
/// # Safety
/// None beyond the call's: the kernel only reads, and checks the range.
pub unsafe fn write_raw(fd: usize, buf: *const u8, len: usize) -> Result<usize> {
    // SAFETY: the kernel only reads `len` bytes at `buf`.
    unsafe { syscall3(SYS_WRITE, fd, buf as usize, len) }
}

/// Moves `fd`'s offset: `whence` is `SEEK_SET`, `SEEK_CUR` or `SEEK_END`
/// (`tessera_abi::flag`). Returns the new offset.
///
/// Errors: `EBADF` not an open fd, `ESPIPE` a pipe or console, `EINVAL` bad
/// `whence` or a negative result.
pub fn lseek(fd: usize, offset: isize, whence: usize) -> Result<usize> {
    // SAFETY: no memory is passed.
    unsafe { syscall3(SYS_LSEEK, fd, offset as usize, whence) }
}

/// The metadata of `fd` (mode with `MODE_FILE`/`MODE_DIR`…, size, …).
/// Errors: `EBADF` not an open fd.
pub fn fstat(fd: usize) -> Result<Stat> {
    let mut stat = Stat::default();
    // SAFETY: the kernel writes at most `size_of::<Stat>()` bytes (the size
    // passed) into `stat`, a local that any bytes make valid.
    unsafe { syscall3(SYS_FSTAT, fd, (&raw mut stat) as usize, size_of::<Stat>()) }?;
    Ok(stat)
}

/// A new fd (the lowest free) for the object `fd` refers to; the two share
/// the offset. Errors: `EBADF` not an open fd, `EMFILE` the table is full.
pub fn dup(fd: usize) -> Result<usize> {
    // SAFETY: an empty name: the kernel reads nothing.
    unsafe { syscall3(SYS_DUP, fd, 0, 0) }
}

/// Redox's named dup: a new fd (and a new open file) that the scheme makes
/// from `fd` and `name` (what the name means is the scheme's choice).
/// Errors: `EBADF` not an open fd, `EOPNOTSUPP` the scheme has no named dup,
/// `ENAMETOOLONG` over 4096 bytes, or what the scheme answers.
pub fn dup_named(fd: usize, name: &[u8]) -> Result<usize> {
    // SAFETY: the kernel reads `name.len()` bytes at `name`.
    unsafe { syscall3(SYS_DUP, fd, name.as_ptr() as usize, name.len()) }
}

/// Makes `new_fd` refer to what `fd` refers to, closing `new_fd` first if
/// it was open; returns `new_fd`. (Redox's call also takes a path buffer;
/// it is passed empty.) Errors: `EBADF` `fd` not open or `new_fd` out of
/// range.
pub fn dup2(fd: usize, new_fd: usize) -> Result<usize> {
    // SAFETY: an empty buffer: the kernel reads nothing.
    unsafe { syscall4(SYS_DUP2, fd, new_fd, 0, 0) }
}

/// File-descriptor control: `cmd` is `F_GETFD`/`F_SETFD` (the close-on-exec
/// flag) or `F_GETFL`/`F_SETFL` (`tessera_abi::flag`).
/// Errors: `EBADF` not an open fd, `EINVAL` unknown `cmd` or `arg`.
pub fn fcntl(fd: usize, cmd: usize, arg: usize) -> Result<usize> {
    // SAFETY: no memory is passed for these commands.
    unsafe { syscall3(SYS_FCNTL, fd, cmd, arg) }
}

/// Writes `fd`'s buffered data through to its scheme.
/// Errors: `EBADF` not an open fd, `EINVAL` the object cannot be synced,
/// `EIO` the scheme failed.
pub fn fsync(fd: usize) -> Result<()> {
    // SAFETY: no memory is passed.
    unsafe { syscall1(SYS_FSYNC, fd) }.map(drop)
}

/// Sets the size of the file behind `fd` to `len_bytes`.
/// Errors: `EBADF` not an open fd or not open for writing, `EINVAL` not a
/// regular file, `EROFS` a read-only scheme, `EISDIR` a directory.
pub fn ftruncate(fd: usize, len_bytes: usize) -> Result<()> {
    // SAFETY: no memory is passed.
    unsafe { syscall2(SYS_FTRUNCATE, fd, len_bytes) }.map(drop)
}

/// Makes the directory `path` (Redox's way: `open` with `O_CREAT |
/// O_DIRECTORY | O_EXCL`, then `close`).
///
/// Errors: `EEXIST` something is there already, `ENOENT` a parent is
/// missing, `ENOTDIR` a parent is a file, `ENODEV` no such scheme, `EINVAL`
/// a bad name, `EOPNOTSUPP` a scheme without directories.
pub fn mkdir(path: &str) -> Result<()> {
    use tessera_abi::flag::{O_CREAT, O_DIRECTORY, O_EXCL, O_RDONLY};
    close(open(path, O_CREAT | O_DIRECTORY | O_EXCL | O_RDONLY | tessera_abi::O_CLOEXEC)?)
}

/// Removes the file (`flags` 0) or, with `AT_REMOVEDIR`
/// (`tessera_abi::flag`), the empty directory `path`. Prefer [`unlink`] and
/// [`rmdir`].
///
/// Errors: `ENOENT` nothing there, `ENOTDIR` a directory was meant and
/// this is not one (or a parent is a file), `EISDIR` a directory without
/// `AT_REMOVEDIR`, `ENOTEMPTY` a directory with entries, `EBUSY` the root,
/// `EINVAL` other flags or a last component `.`, `ENODEV` no such scheme,
/// `EOPNOTSUPP` a scheme that removes nothing.
pub fn unlinkat(path: &str, flags: usize) -> Result<()> {
    // SAFETY: the kernel only reads `path.len()` bytes at `path`.
    unsafe { syscall3(SYS_UNLINKAT, path.as_ptr() as usize, path.len(), flags) }.map(drop)
}

/// Removes the file `path` (POSIX `unlink`); an open file stays readable
/// through its fds. Errors: those of [`unlinkat`].
pub fn unlink(path: &str) -> Result<()> {
    unlinkat(path, 0)
}

/// Removes the empty directory `path` (POSIX `rmdir`).
/// Errors: those of [`unlinkat`].
pub fn rmdir(path: &str) -> Result<()> {
    unlinkat(path, tessera_abi::flag::AT_REMOVEDIR)
}

/// Reads directory entries of `fd` into `buf`: whole `tessera_abi::dirent`
/// records (parse them with `tessera_abi::dirent::entries`), starting at
/// the entry `opaque` names — 0 for the first, then the last record's
/// `next_opaque_id`. Returns the bytes filled; 0 at the end. Prefer
/// `tessera_runtime::fs::read_dir`.
///
/// Errors: `EBADF` not an open fd or not open for reading, `ENOTDIR` not a
/// directory, `EINVAL` `buf` too small for the next record, `EIO` the
/// scheme answered malformed records, `EOPNOTSUPP` a scheme without
/// directory listings.
pub fn getdents(fd: usize, buf: &mut [u8], opaque: u64) -> Result<usize> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`.
    unsafe { syscall4(SYS_GETDENTS, fd, buf.as_mut_ptr() as usize, buf.len(), opaque as usize) }
}

/// Renames the file open on `fd` to `path`, which must be in the same
/// scheme; what `path` named before is replaced (POSIX `rename`).
///
/// Errors: `EXDEV` another scheme, `EBADF` not an open fd, `ENOENT` a
/// missing parent (or the file was removed), `EEXIST`/`ENOTEMPTY` a
/// non-empty directory is in the way, `EISDIR` a file onto a directory,
/// `ENOTDIR` a directory onto a file, `EINVAL` a directory into itself,
/// `EBUSY` the root, `EOPNOTSUPP` a scheme that cannot rename.
pub fn frename(fd: usize, path: &str) -> Result<()> {
    // SAFETY: the kernel only reads `path.len()` bytes at `path`.
    unsafe { syscall3(SYS_FRENAME, fd, path.as_ptr() as usize, path.len()) }.map(drop)
}

/// A pipe: `[read end, write end]`. `flags` may hold `O_CLOEXEC`-style
/// bits the kernel accepts. Errors: `EMFILE` the fd table is full, `EINVAL`
/// unknown flags.
pub fn pipe2(flags: usize) -> Result<[usize; 2]> {
    let mut fds = [0usize; 2];
    // SAFETY: the kernel writes two usizes into `fds`.
    unsafe { syscall2(SYS_PIPE2, fds.as_mut_ptr() as usize, flags) }?;
    Ok(fds)
}

/// Ends the process; a parent's `waitpid` sees `status & 0xFF`.
pub fn exit(status: usize) -> ! {
    // SAFETY: ending the process invalidates nothing it still uses.
    let _ = unsafe { syscall1(SYS_EXIT, status) };
    // The kernel never returns from exit; if it did (ENOSYS), stop here.
    loop {
        core::hint::spin_loop();
    }
}

/// Which side of a [`fork`] the caller is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fork {
    /// In the new process.
    Child,
    /// In the original process; `pid` is the child's.
    Parent { pid: usize },
}

/// Duplicates the process: the child gets a copy of the address space and
/// of the fd table. Errors: `ENOMEM` no memory for the copy, `EAGAIN` the
/// process table is full.
pub fn fork() -> Result<Fork> {
    // SAFETY: the child continues with an identical copy of every byte, so
    // nothing Rust holds is invalidated in either process.
    let pid = unsafe { syscall0(SYS_FORK) }?;
    Ok(if pid == 0 { Fork::Child } else { Fork::Parent { pid } })
}

/// Replaces the program with the ELF at `path` (e.g. `initfs:bin/hello`),
/// giving it `argv` and `envp` (`KEY=value`). Returns only on failure.
///
/// Errors: `ENOENT`/`ENODEV` no such file or scheme, `ENOEXEC` not a static
/// ELF for this arch, `EACCES` not a regular file, `E2BIG` arguments too
/// large for the new stack, `ENOMEM` no memory for the new image.
pub fn execve(path: &str, argv: &[&str], envp: &[&str]) -> Error {
    let pairs =
        |strings: &[&str]| -> Vec<[usize; 2]> { strings.iter().map(|s| [s.as_ptr() as usize, s.len()]).collect() };
    let (argv, envp) = (pairs(argv), pairs(envp));
    // SAFETY: each pair names a string borrowed for this call.
    unsafe { execve_pairs(path, &argv, &envp) }
}

/// [`execve`] with the arguments and environment already as the kernel's
/// `[ptr, len]` pairs (C's `execve` builds them from its string arrays).
///
/// # Safety
/// Each pair must name `len` readable bytes at `ptr` (a bad one is
/// `EFAULT`, but the strings are the new program's arguments).
pub unsafe fn execve_pairs(path: &str, argv: &[[usize; 2]], envp: &[[usize; 2]]) -> Error {
    // SAFETY: the kernel reads the path, the two `[ptr, len]` arrays and
    // the strings they point at, all borrowed for this call. On success the
    // old image is gone and nothing here runs again.
    let result = unsafe {
        syscall6(
            SYS_EXECVE,
            path.as_ptr() as usize,
            path.len(),
            argv.as_ptr() as usize,
            argv.len(),
            envp.as_ptr() as usize,
            envp.len(),
        )
    };
    match result {
        Err(error) => error,
        // A return is always a failure; a kernel that returns a value is wrong.
        Ok(_) => Error::new(tessera_abi::error::EIO),
    }
}

/// A child's wait status (Linux `<sys/wait.h>` encoding, `tessera_abi::wait`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitStatus(pub usize);

impl WaitStatus {
    /// The exit code, when the child exited by itself.
    pub fn code(self) -> Option<usize> {
        tessera_abi::wait::if_exited(self.0).then(|| tessera_abi::wait::exit_status(self.0))
    }

    /// The signal that killed the child, if one did.
    pub fn signal(self) -> Option<usize> {
        tessera_abi::wait::if_signaled(self.0).then(|| tessera_abi::wait::term_signal(self.0))
    }

    /// Exited with status 0.
    pub fn success(self) -> bool {
        self.code() == Some(0)
    }
}

/// `SIGSEGV` for 11 and so on; `None` for numbers without a name here.
pub fn signal_name(signal: usize) -> Option<&'static str> {
    use tessera_abi::signal::*;
    Some(match signal {
        SIGHUP => "SIGHUP",
        SIGINT => "SIGINT",
        SIGQUIT => "SIGQUIT",
        SIGILL => "SIGILL",
        SIGTRAP => "SIGTRAP",
        SIGABRT => "SIGABRT",
        SIGBUS => "SIGBUS",
        SIGFPE => "SIGFPE",
        SIGKILL => "SIGKILL",
        SIGSEGV => "SIGSEGV",
        SIGPIPE => "SIGPIPE",
        SIGTERM => "SIGTERM",
        _ => return None,
    })
}

impl core::fmt::Display for WaitStatus {
    /// `exited with status N`, `killed by signal N (SIGxxx)`, or the raw value.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if let Some(code) = self.code() {
            write!(f, "exited with status {code}")
        } else if let Some(signal) = self.signal() {
            match signal_name(signal) {
                Some(name) => write!(f, "killed by signal {signal} ({name})"),
                None => write!(f, "killed by signal {signal}"),
            }
        } else {
            write!(f, "wait status {:#x}", self.0)
        }
    }
}

/// Waits for child `pid` ([`ANY_CHILD`] for any) to end and reaps it:
/// `Some((pid, status))`. With `options = WNOHANG` (`tessera_abi::WNOHANG`)
/// it returns `None` at once when no matching child has ended yet.
///
/// Errors: `ECHILD` no such child of the caller, `EINVAL` bad options.
pub fn waitpid(pid: usize, options: usize) -> Result<Option<(usize, WaitStatus)>> {
    let mut status = 0usize;
    // SAFETY: the kernel writes one usize into `status`.
    let child = unsafe { syscall3(SYS_WAITPID, pid, (&raw mut status) as usize, options) }?;
    Ok((child != 0).then_some((child, WaitStatus(status))))
}

/// Sends `signal` (`tessera_abi::signal`) to process `pid`.
/// Errors: `ESRCH` no such process, `EINVAL` bad signal number, `EPERM` not
/// allowed to signal it.
pub fn kill(pid: usize, signal: usize) -> Result<()> {
    // SAFETY: no memory is passed.
    unsafe { syscall2(SYS_KILL, pid, signal) }.map(drop)
}

/// The caller's process id.
pub fn getpid() -> Result<usize> {
    // SAFETY: no memory is passed.
    unsafe { syscall0(SYS_GETPID) }
}

/// The parent's process id (0 for the first process).
pub fn getppid() -> Result<usize> {
    // SAFETY: no memory is passed.
    unsafe { syscall0(SYS_GETPPID) }
}

/// Gives the CPU to another runnable context, if any.
pub fn sched_yield() -> Result<()> {
    // SAFETY: no memory is passed.
    unsafe { syscall0(SYS_YIELD) }.map(drop)
}

/// The time of `clock`: `CLOCK_MONOTONIC` or `CLOCK_REALTIME`
/// (`tessera_abi::flag`). Errors: `EINVAL` unknown clock.
pub fn clock_gettime(clock: usize) -> Result<TimeSpec> {
    let mut time = TimeSpec::default();
    // SAFETY: the kernel writes one TimeSpec into `time`.
    unsafe { syscall2(SYS_CLOCK_GETTIME, clock, (&raw mut time) as usize) }?;
    Ok(time)
}

/// Sleeps for `duration`. If the sleep is interrupted (`EINTR`) and
/// `remaining` is given, the time left is written there.
/// Errors: `EINVAL` a negative time or `tv_nsec` ≥ 10⁹, `EINTR` interrupted.
pub fn nanosleep(duration: &TimeSpec, remaining: Option<&mut TimeSpec>) -> Result<()> {
    let remaining = remaining.map_or(0, |r| r as *mut TimeSpec as usize);
    // SAFETY: the kernel reads `duration` and writes at most one TimeSpec
    // at `remaining` (0: nowhere).
    unsafe { syscall2(SYS_NANOSLEEP, duration as *const TimeSpec as usize, remaining) }.map(drop)
}

/// The calling thread's id (the pid for a process's first thread).
pub fn gettid() -> Result<usize> {
    // SAFETY: no memory is passed.
    unsafe { syscall0(SYS_GETTID) }
}

/// Starts a thread of this process at `entry(arg)` with stack pointer
/// `stack_top` and thread pointer `tls`; returns its tid. Prefer
/// `tessera_runtime::thread::spawn`, which provides the stack and the join.
///
/// Errors: `EINVAL` an address outside user space, `EAGAIN` the process has
/// too many threads, `ENOMEM` no memory for the kernel's side of the
/// thread, `EINTR` the process is ending or in `execve`.
///
/// # Safety
/// `entry` must be a function that never returns (it ends with
/// [`exit_thread`]) and follows the platform's C calling convention at
/// `stack_top`, which must be the top of memory nothing else uses while the
/// thread runs.
pub unsafe fn clone_thread(entry: usize, stack_top: usize, arg: usize, tls: usize) -> Result<usize> {
    // SAFETY: per the contract; the kernel itself only reads the registers.
    unsafe { syscall4(SYS_CLONE_THREAD, entry, stack_top, arg, tls) }
}

/// Ends the calling thread. Once it no longer runs on its stack, the kernel
/// writes a `u32` 0 at `clear_tid` (if given) and wakes one [`futex_wait`]
/// on it. The last thread's `status` becomes the process's exit code.
pub fn exit_thread(status: usize, clear_tid: Option<&core::sync::atomic::AtomicU32>) -> ! {
    let clear = clear_tid.map_or(0, |word| word.as_ptr() as usize);
    // SAFETY: the thread ends; the kernel writes only the u32 at `clear`.
    let _ = unsafe { syscall2(SYS_EXIT_THREAD, status, clear) };
    loop {
        core::hint::spin_loop();
    }
}

/// Sleeps while `word` holds `expected`, until a [`futex_wake`] on it or the
/// relative `timeout`. Errors: `EAGAIN` the word differs already,
/// `ETIMEDOUT` the timeout passed, `EINTR` the process is ending, `EINVAL`
/// a bad timeout.
pub fn futex_wait(word: &core::sync::atomic::AtomicU32, expected: u32, timeout: Option<&TimeSpec>) -> Result<()> {
    let timeout = timeout.map_or(0, |t| t as *const TimeSpec as usize);
    // SAFETY: the kernel reads the word and at most one TimeSpec.
    unsafe { syscall4(SYS_FUTEX, word.as_ptr() as usize, tessera_abi::flag::FUTEX_WAIT, expected as usize, timeout) }
        .map(drop)
}

/// Wakes up to `count` threads waiting on `word`; returns how many.
pub fn futex_wake(word: &core::sync::atomic::AtomicU32, count: usize) -> Result<usize> {
    // SAFETY: the kernel only checks the word's address.
    unsafe { syscall3(SYS_FUTEX, word.as_ptr() as usize, tessera_abi::flag::FUTEX_WAKE, count) }
}
