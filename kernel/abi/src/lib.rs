//! Tessera's system-call ABI, shared by the kernel and user space: the
//! numbers, flags, structs and errno values. The user side's one layer over
//! it is tessera-sys (`user/lib/sys`: the system-call instructions, result
//! decoding, typed wrappers, errno names and messages), which the runtime
//! and relibc-shim both use.
//!
//! Everything Redox's `redox_syscall` crate defines is used as it is: the
//! call numbers, `O_*` / `F_*` / `SEEK_*` / `CLOCK_*` / `MapFlags` flags,
//! `Stat`, `TimeSpec`, `Map`, and the errno values (Linux numbering). Modern
//! Redox moved process management and `open` into userspace, so its crate has
//! no numbers for them; [`number`] adds those, reusing the numbers classic
//! Redox used, and documents each one's arguments. Nothing else in the tree
//! defines a call number.
//!
//! # Calling convention
//! | arch | instruction | number | arguments | result |
//! |---|---|---|---|---|
//! | x86_64 | `syscall` | `rax` | `rdi rsi rdx r10 r8 r9` | `rax` |
//! | aarch64 | `svc #0` | `x8` | `x0 … x5` | `x0` |
//!
//! The result is a value, or `-errno` for an error ([`Error::mux`]); values
//! above `usize::MAX - 4095` are errors. x86_64 clobbers `rcx` and `r11`.
//!
//! [`scheme`] is the wire format between the kernel and user scheme
//! daemons: Redox's scheme-v2 `Sqe`/`Cqe`/`Opcode` plus Tessera's inline
//! payloads; [`dirent`] the directory records `getdents` returns.
//!
//! # File-system calls
//! | call | arguments | result |
//! |---|---|---|
//! | `SYS_OPEN` | path ptr, len, `O_*` | fd; `O_CREAT \| O_DIRECTORY [\| O_EXCL]` makes a directory (Redox's mkdir) |
//! | `SYS_UNLINKAT` | path ptr, len, flags (0 or [`flag::AT_REMOVEDIR`]) | 0: removes a file, or with `AT_REMOVEDIR` an empty directory |
//! | [`number::SYS_GETDENTS`] | fd, buf ptr, len, opaque | bytes of [`dirent`] records written, 0 at the end |
//! | `SYS_FRENAME` | fd, new path ptr, len | 0: the file open on fd now has the new path (same scheme, else EXDEV) |
//!
//! Paths name a scheme as `name:path` or `/scheme/name/path`; any other
//! path (`/a/b`, `a/b`) is `file:`'s (`file:/a/b`, `file:a/b`): the
//! kernel has no working directory, so a relative path starts at the root
//! of `file:`. `SYS_UNLINKAT` and `SYS_FRENAME` keep Redox's numbers but
//! take no directory fd (`SYS_UNLINKAT`) and no `AT_*` flags beyond
//! `AT_REMOVEDIR`.
#![no_std]

pub mod dirent;
pub mod lock;
pub mod scheme;

pub use syscall::data::{Map, Stat, TimeSpec};
pub use syscall::error::{self, Error, Result};
pub use syscall::flag;

/// System-call numbers: Redox's, plus the ones it lacks.
pub mod number {
    pub use syscall::number::*;

    /// `open(path_ptr, path_len, flags) -> fd`: opens `scheme:path` (or
    /// `/scheme/name/path`). Flags are Redox's `O_*`.
    pub const SYS_OPEN: usize = SYS_CLASS_PATH | SYS_RET_FILE | 5;
    /// `dup(fd, name_ptr, name_len) -> new fd` (lowest free number). An
    /// empty name shares the open file (POSIX `dup`); a name asks the scheme
    /// for a new open file derived from `fd` (Redox's named dup).
    pub const SYS_DUP: usize = SYS_CLASS_FILE | SYS_RET_FILE | 41;
    /// `ftruncate(fd, len_bytes)`.
    pub const SYS_FTRUNCATE: usize = SYS_CLASS_FILE | 93;
    /// `pipe2(fds_ptr: *mut [usize; 2], flags)`: read end, then write end.
    pub const SYS_PIPE2: usize = 331;
    /// `exit(status) -> !`: ends the process; `status & 0xFF` is its code.
    pub const SYS_EXIT: usize = 1;
    /// `waitpid(pid, status_ptr: *mut usize, options) -> pid`. `pid` as in
    /// POSIX (`usize::MAX` = any child); options [`super::WNOHANG`].
    pub const SYS_WAITPID: usize = 7;
    /// `getpid() -> pid`.
    pub const SYS_GETPID: usize = 20;
    /// `kill(pid, signal)`.
    pub const SYS_KILL: usize = 37;
    /// `getppid() -> pid`.
    pub const SYS_GETPPID: usize = 64;
    /// `fork() -> pid`: child pid in the parent, 0 in the child.
    pub const SYS_FORK: usize = 120;
    /// `execve(path_ptr, path_len, argv_ptr, argc, envp_ptr, envc)`: argv and
    /// envp are arrays of `[ptr, len]` pairs; replaces the program, returns
    /// only on error.
    pub const SYS_EXECVE: usize = SYS_CLASS_PATH | 11;
    /// `clone_thread(entry, stack_top, arg, tls) -> tid`: a new thread of
    /// the calling process, entering `entry(arg)` on the caller-provided
    /// stack with thread pointer `tls` (x86_64 FS base, aarch64 TPIDR_EL0).
    /// Tessera's (Redox does threads in userspace); Linux's clone3 number.
    pub const SYS_CLONE_THREAD: usize = 435;
    /// `exit_thread(status, clear_tid_ptr) -> !`: ends the calling thread;
    /// the kernel zeroes the `u32` at `clear_tid_ptr` (if not 0) and wakes a
    /// futex waiter on it. The last thread's `status` is the process's exit
    /// code. (`SYS_EXIT` ends every thread, as Linux's `exit_group`.)
    pub const SYS_EXIT_THREAD: usize = 60;
    /// `gettid() -> tid`: the calling thread's id (the pid for the first
    /// thread of a process). Linux's number.
    pub const SYS_GETTID: usize = 186;
    /// `madvise(addr, len, advice)`: [`super::mm`]'s `MADV_*`. Linux's number.
    pub const SYS_MADVISE: usize = 28;
    /// `msync(addr, len, flags)`: [`super::mm`]'s `MS_*`. Linux's number.
    pub const SYS_MSYNC: usize = 26;
    /// `getdents(fd, buf_ptr, buf_len, opaque) -> bytes`: fills the buffer
    /// with whole [`super::dirent`] records of the directory open on `fd`,
    /// starting at the entry `opaque` names (0: the first; else the
    /// `next_opaque_id` of the last record read). 0 at the end; EINVAL if
    /// not even one record fits. Classic Redox's number; Redox's header-size
    /// argument is dropped (always `dirent::HEADER_BYTES`).
    pub const SYS_GETDENTS: usize = SYS_CLASS_FILE | 43;
}

/// Memory calls: Redox's `fmap` / `funmap` / `mprotect` / `mremap` with its
/// `Map`, `MapFlags` and `MremapFlags`, plus the flags Redox lacks (Linux's
/// meaning, Tessera's bits) and `madvise` / `msync`.
///
/// | call | arguments | result |
/// |---|---|---|
/// | `SYS_FMAP` | `fd` ([`ANONYMOUS_FD`] or a `memory:` fd), `*const Map`, `size_of::<Map>()` | address |
/// | `SYS_FUNMAP` | `addr`, `len` | 0 |
/// | `SYS_MPROTECT` | `addr`, `len`, `MapFlags`: `PROT_*`, and `MAP_GROWSDOWN` for Linux's PROT_GROWSDOWN (to the start of a grows-down mapping) | 0 |
/// | `SYS_MREMAP` | `old_addr`, `old_len`, `new_addr`, `new_len`, flags ([`MREMAP_MAYMOVE`], [`MREMAP_FIXED`], [`MREMAP_DONTUNMAP`]) | address |
/// | `SYS_MADVISE` | `addr`, `len`, `MADV_*` | 0 |
/// | `SYS_MSYNC` | `addr`, `len`, `MS_*` | 0 |
pub mod mm {
    pub use syscall::flag::{MapFlags, MremapFlags};

    /// The fd `fmap` takes for anonymous memory (`mmap(MAP_ANONYMOUS)`), as
    /// Redox.
    pub const ANONYMOUS_FD: usize = !0;

    /// `MapFlags` bit: fault every page in before `fmap` returns (Linux's
    /// MAP_POPULATE; a bit Redox does not use).
    pub const MAP_POPULATE: usize = 0x0020;
    /// `MapFlags` bit: a stack that grows down on faults below it (Linux's
    /// MAP_GROWSDOWN; a bit Redox does not use).
    pub const MAP_GROWSDOWN: usize = 0x0040;

    /// `mremap` flag: the mapping may move (Linux's MREMAP_MAYMOVE).
    pub const MREMAP_MAYMOVE: usize = 1 << 3;
    /// `mremap` flag: move to exactly `new_addr`, replacing what is there
    /// (Linux's MREMAP_FIXED; needs MAYMOVE). Redox's `FIXED_REPLACE` bits.
    pub const MREMAP_FIXED: usize = 3;
    /// `mremap` flag: leave the old range mapped, empty (Linux's
    /// MREMAP_DONTUNMAP; needs MAYMOVE and the same length).
    pub const MREMAP_DONTUNMAP: usize = 1 << 4;

    /// `madvise` advice, Linux's values.
    pub const MADV_NORMAL: usize = 0;
    pub const MADV_RANDOM: usize = 1;
    pub const MADV_SEQUENTIAL: usize = 2;
    pub const MADV_WILLNEED: usize = 3;
    pub const MADV_DONTNEED: usize = 4;
    /// Tessera's: the kernel lends none of the range's pages to a borrower
    /// of this space's memory without asking it again (MmapPrep); the
    /// pages, their data and PTEs stay. Memory the space owns only
    /// (docs/fmap.md "Lending again", docs/redoxfs.md "Sealing").
    pub const MADV_LEND_ASIDE: usize = 0x1000;
    /// Tessera's: undoes [`MADV_LEND_ASIDE`].
    pub const MADV_LEND_OPEN: usize = 0x1001;

    /// `msync` flags, Linux's values.
    pub const MS_ASYNC: usize = 1;
    pub const MS_INVALIDATE: usize = 2;
    pub const MS_SYNC: usize = 4;
}

/// `open` flag: the new descriptor is closed by `execve` (classic Redox's
/// value; 0.9's flags have none).
pub const O_CLOEXEC: usize = 0x0100_0000;
/// `fcntl(F_GETFD / F_SETFD)` bit: close on exec (POSIX's value).
pub const FD_CLOEXEC: usize = 1;

/// `waitpid` option: return 0 at once if no child has exited.
pub const WNOHANG: usize = 1;

/// Signals, with Linux's numbers (what ported programs expect).
pub mod signal {
    pub const SIGHUP: usize = 1;
    pub const SIGINT: usize = 2;
    pub const SIGQUIT: usize = 3;
    pub const SIGILL: usize = 4;
    pub const SIGTRAP: usize = 5;
    pub const SIGABRT: usize = 6;
    pub const SIGBUS: usize = 7;
    pub const SIGFPE: usize = 8;
    pub const SIGKILL: usize = 9;
    pub const SIGSEGV: usize = 11;
    pub const SIGPIPE: usize = 13;
    pub const SIGTERM: usize = 15;
    /// One past the largest signal number accepted.
    pub const NSIG: usize = 32;
}

/// Wait-status encoding, as Linux's `<sys/wait.h>`: `code << 8` for a normal
/// exit, the signal number in the low 7 bits for a kill.
pub mod wait {
    /// The status of a process that exited with `code`.
    pub const fn exited(code: usize) -> usize {
        (code & 0xFF) << 8
    }
    /// The status of a process killed by `signal`.
    pub const fn signaled(signal: usize) -> usize {
        signal & 0x7F
    }
    /// `WIFEXITED`.
    pub const fn if_exited(status: usize) -> bool {
        status & 0x7F == 0
    }
    /// `WEXITSTATUS`.
    pub const fn exit_status(status: usize) -> usize {
        (status >> 8) & 0xFF
    }
    /// `WIFSIGNALED`.
    pub const fn if_signaled(status: usize) -> bool {
        status & 0x7F != 0 && status & 0x7F != 0x7F
    }
    /// `WTERMSIG`.
    pub const fn term_signal(status: usize) -> usize {
        status & 0x7F
    }
}

/// Auxiliary-vector keys the kernel puts on a new program's stack (Linux's
/// numbers).
pub mod auxv {
    pub const AT_NULL: usize = 0;
    pub const AT_PHDR: usize = 3;
    pub const AT_PHENT: usize = 4;
    pub const AT_PHNUM: usize = 5;
    pub const AT_PAGESZ: usize = 6;
    pub const AT_ENTRY: usize = 9;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_status_round_trips() {
        assert!(wait::if_exited(wait::exited(3)));
        assert_eq!(wait::exit_status(wait::exited(3)), 3);
        assert!(!wait::if_signaled(wait::exited(255)));
        let killed = wait::signaled(signal::SIGSEGV);
        assert!(wait::if_signaled(killed) && !wait::if_exited(killed));
        assert_eq!(wait::term_signal(killed), signal::SIGSEGV);
    }

    #[test]
    fn added_numbers_do_not_collide_with_redox() {
        use number::*;
        let ours = [
            SYS_OPEN,
            SYS_DUP,
            SYS_FTRUNCATE,
            SYS_PIPE2,
            SYS_EXIT,
            SYS_WAITPID,
            SYS_GETPID,
            SYS_KILL,
            SYS_GETPPID,
            SYS_FORK,
            SYS_EXECVE,
            SYS_CLONE_THREAD,
            SYS_EXIT_THREAD,
            SYS_GETTID,
            SYS_MADVISE,
            SYS_MSYNC,
            SYS_GETDENTS,
        ];
        let redox = [
            SYS_OPENAT_INTO,
            SYS_OPENAT_INTO2,
            SYS_UNLINKAT,
            SYS_CLOSE,
            SYS_DUP_INTO,
            SYS_DUP2,
            SYS_READ,
            SYS_READ2,
            SYS_WRITE,
            SYS_WRITE2,
            SYS_LSEEK,
            SYS_FCHOWN,
            SYS_FCNTL,
            SYS_FEVENT,
            SYS_CALL,
            SYS_FMAP,
            SYS_FUNMAP,
            SYS_MREMAP,
            SYS_FLINK,
            SYS_FPATH,
            SYS_FRENAME,
            SYS_FSTAT,
            SYS_FSYNC,
            SYS_CLOCK_GETTIME,
            SYS_FUTEX,
            SYS_MPROTECT,
            SYS_NANOSLEEP,
            SYS_YIELD,
        ];
        for (i, a) in ours.iter().enumerate() {
            assert!(!redox.contains(a), "{a:#x} is Redox's");
            assert!(!ours[i + 1..].contains(a), "{a:#x} twice");
        }
    }
}
