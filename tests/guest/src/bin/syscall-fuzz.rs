//! `syscall-fuzz`: random system calls must come back with a value or an
//! errno, never bring the kernel down, and leak no memory.
//!
//! One file of ~880 lines on purpose: it is one test program whose parts
//! (targeted cases, the call generators per syscall, the fd model and the
//! leak check) only make sense together, and the guest crate keeps one
//! file per test.
//!
//! # What runs
//! 1. Targeted bad input (in this process): `execve` with unmapped, kernel
//!    and oversized argument arrays, reads past the end of a file, huge
//!    lengths, bad `fstat` / `pipe2` / `open` arguments; each must give its
//!    errno.
//! 2. A warm-up fuzz run of [`WARM_UP_CALLS`] calls in a child, so kernel
//!    state made once (see `proc-lifecycle`) is not counted as a leak.
//! 3. The fuzz run: a forked child makes [`CALLS`] calls drawn from a
//!    seeded PRNG (seed printed; `syscall-fuzz SEED` repeats a run), about
//!    three in four with numbers from the real table ([`REAL`]), one in four
//!    with garbage numbers. Arguments are drawn from small integers, fds
//!    (open ones of every kind, and never-opened ones), unmapped, kernel,
//!    non-canonical, misaligned and read-only pointers, a valid buffer, huge
//!    lengths and random bits. The parent checks that the child exited 0 by
//!    itself (not killed) and that `free_frames` in `sys:memory` afterwards
//!    equals the count before.
//!
//! # What the child checks
//! - garbage numbers give `ENOSYS`;
//! - a call handed a kernel-half or non-canonical buffer never succeeds;
//! - `read`/`write` never report more bytes than asked for, fds returned are
//!   plausible;
//! - the 64 bytes after the valid buffer are untouched (the kernel wrote no
//!   further than the length it was given);
//! - at the end, every fd the child believes open closes without error (the
//!   kernel's fd table agrees with the calls' results).
//!
//! # What is never called, and why
//! The fuzzing child must survive and must not wait forever:
//! - `exit` and `execve` end or replace it (`execve` gets targeted checks
//!   with a path that does not exist instead); `exit_thread` would end its
//!   only thread, and `clone_thread` with random addresses starts a thread
//!   that faults and so kills it (the `threads` test gives both bad input);
//! - `fmap`, `funmap`, `mremap`, `mprotect`, `madvise` could unmap, protect
//!   or drop its own code, stack or buffers (`msync` is left out with them;
//!   the `mm-*` tests give all of these bad input);
//! - `fork` is made, but the new process exits at once and is reaped (and
//!   its status checked) before the next call;
//! - `open` of a path that is not one of the listed `scheme:` paths is
//!   made without `O_CREAT`: such a path may reach `file:` (every path
//!   without a scheme does), and files the fuzzer created there would stay
//!   in the daemon's memory, which the leak check counts. (`unlinkat`,
//!   `frename` and `getdents` are made freely: the fuzzer holds no `file:`
//!   fd, and `file:` holds nothing of other tests' when it runs.)
//! - `kill` only with signal 0, a signal ≥ `NSIG`, or a pid above the
//!   child's own and below 2³¹ (no such process: every later pid is a
//!   reaped fork child; -1 and other negatives may one day mean groups);
//! - `waitpid` is free: the child has no children when it runs, so it
//!   cannot block;
//! - `read` of an empty pipe that still has a writer, `write` of more than
//!   a pipe buffers while it has a reader, `futex` on mapped memory and
//!   `nanosleep` with a random time could block: those draws are skipped
//!   (or the sleep is set to 1 µs). The child models its fd table from the
//!   calls' results to know which fd is what.
//! - The console: the child's fds 0 and 1 are closed and fd 2 and fd
//!   [`CONSOLE_FD`] are a write-only console, so no read can wait for
//!   input; those two are never closed or replaced, and writes of mapped
//!   memory to them print a fixed line instead of raw bytes.
//! - Lengths between the buffer size and 1 GiB are not drawn together with
//!   a pointer into the buffer: the kernel may legitimately fill that much
//!   of the child's own memory.
//!
//! One file of some 800 lines: the fd model, the draw, the sanitising and
//! the checks all work on the one [`Fuzzer`] state and read best together.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::fmt::Write;

use tessera_guest_tests::rng::Rng;
use tessera_guest_tests::system::{fork_with, quiet_free_frames, reap, settled_free_frames};
use tessera_guest_tests::{Checks, Shown, errno_name};
use tessera_runtime::abi::error::{E2BIG, EBADF, EFAULT, EINVAL, ENAMETOOLONG, ENOSYS};
use tessera_runtime::abi::flag::{
    F_DUPFD, F_GETFD, F_GETFL, F_SETFD, F_SETFL, O_CREAT, O_DIRECTORY, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, SEEK_SET,
};
use tessera_runtime::abi::number::*;
use tessera_runtime::abi::signal::NSIG;
use tessera_runtime::abi::{O_CLOEXEC, Stat, WNOHANG};
use tessera_runtime::io::FdWriter;
use tessera_runtime::syscall::{syscall2, syscall3, syscall6};
use tessera_runtime::{Args, Result, println, sys};

tessera_runtime::entry!(main);

/// Calls the fuzz run makes.
const CALLS: usize = 10_000;
/// Calls the warm-up run makes.
const WARM_UP_CALLS: usize = 500;
/// The seed when none is given on the command line.
const DEFAULT_SEED: u64 = 0x5EED_F022_0000_0001;

/// The fuzzing child's console, out of the way of the fds it draws.
const CONSOLE_FD: usize = 1000;
/// fd 2 stays a console too, for the runtime's panic message.
const PANIC_FD: usize = 2;
/// fds the fuzzing child never closes or replaces.
const PROTECTED: [usize; 2] = [PANIC_FD, CONSOLE_FD];
/// fds the model holds before the child closes some.
const MAX_OPEN: usize = 40;
/// Size of the valid buffer.
const BUF_BYTES: usize = 16 * 1024;
/// Guard bytes after the buffer, checked untouched at the end.
const BUF_SLACK: usize = 64;
/// What the guard bytes hold.
const SLACK_BYTE: u8 = 0xEE;
/// A write to a pipe with a reader is only made if the pipe then holds at
/// most this much: every pipe buffers at least this (the kernel 64 KiB).
const PIPE_ROOM_BYTES: usize = 16 * 1024;
/// A length this big from any address in the program runs into unmapped
/// memory, so the kernel must refuse it (or stop short) there.
const HUGE_LEN: usize = 1 << 30;
/// The program image (code, data, buffer) lies in this range; addresses
/// drawn outside it, below the kernel half, are unmapped.
const IMAGE: core::ops::Range<usize> = 0x20_0000..0x1_0000_0000;
/// The end of user space; everything from here up is the kernel's or
/// non-canonical.
const USER_END: usize = 0x0000_8000_0000_0000;
/// The start of the kernel half.
const KERNEL_BASE: usize = 0xFFFF_8000_0000_0000;
/// Sleeps a baseline waits at most for the count to stop moving
/// (`quiet_free_frames`).
const QUIET_TRIES: usize = 10;
/// Waits the final count gets to come back to the baseline
/// (`settled_free_frames`).
const SETTLE_TRIES: usize = 50;
/// Failures printed in detail (the rest are only counted).
const FAILURES_SHOWN: usize = 12;

/// The valid buffer, with its guard bytes.
#[repr(C, align(4096))]
struct Buffer([u8; BUF_BYTES + BUF_SLACK]);

static mut BUF: Buffer = Buffer([0; BUF_BYTES + BUF_SLACK]);

/// A path longer than `open` accepts.
static LONG_PATH: [u8; 5000] = [b'a'; 5000];

/// What a console write of mapped memory prints instead.
const CONSOLE_LINE: &str = "syscall-fuzz: (a console write)\n";

/// Every number of the real table that is fuzzed. Left out: `SYS_EXIT`,
/// `SYS_EXECVE`, `SYS_FMAP`, `SYS_FUNMAP`, `SYS_MREMAP`, `SYS_MPROTECT`,
/// `SYS_CLONE_THREAD`, `SYS_EXIT_THREAD`, `SYS_MADVISE`, `SYS_MSYNC` (see
/// the module doc).
#[rustfmt::skip]
const REAL: [usize; 35] = [
    SYS_OPEN, SYS_DUP, SYS_FTRUNCATE, SYS_PIPE2, SYS_WAITPID, SYS_GETPID, SYS_KILL, SYS_GETPPID,
    SYS_FORK, SYS_OPENAT_INTO, SYS_OPENAT_INTO2, SYS_UNLINKAT, SYS_CLOSE, SYS_DUP_INTO, SYS_DUP2,
    SYS_READ, SYS_READ2, SYS_WRITE, SYS_WRITE2, SYS_LSEEK, SYS_FCHOWN, SYS_FCNTL, SYS_FEVENT,
    SYS_CALL, SYS_FLINK, SYS_FPATH, SYS_FRENAME, SYS_FSTAT, SYS_FSYNC, SYS_CLOCK_GETTIME, SYS_FUTEX,
    SYS_NANOSLEEP, SYS_YIELD, SYS_GETTID, SYS_GETDENTS,
];

/// The numbers never made, which garbage numbers must avoid too.
#[rustfmt::skip]
const EXCLUDED: [usize; 10] = [
    SYS_EXIT, SYS_EXECVE, SYS_FMAP, SYS_FUNMAP, SYS_MREMAP, SYS_MPROTECT, SYS_CLONE_THREAD, SYS_EXIT_THREAD,
    SYS_MADVISE, SYS_MSYNC,
];

/// Numbers whose effect on the fd table the model follows.
#[rustfmt::skip]
const MODELLED: [usize; 23] = [
    SYS_OPEN, SYS_DUP, SYS_FTRUNCATE, SYS_PIPE2, SYS_WAITPID, SYS_GETPID, SYS_KILL, SYS_GETPPID,
    SYS_FORK, SYS_CLOSE, SYS_DUP2, SYS_READ, SYS_READ2, SYS_WRITE, SYS_WRITE2, SYS_LSEEK, SYS_FCNTL,
    SYS_FSTAT, SYS_FSYNC, SYS_CLOCK_GETTIME, SYS_YIELD, SYS_GETTID, SYS_GETDENTS,
];

/// Paths `open` is given, and what they open.
const PATHS: [(&str, Option<Kind>); 16] = [
    ("sys:memory", Some(Kind::File)),
    ("sys:processes", Some(Kind::File)),
    ("sys:scheduler", Some(Kind::File)),
    ("sys:", Some(Kind::File)),
    ("sys:nope", Some(Kind::File)),
    ("/scheme/sys/memory", Some(Kind::File)),
    ("sys:../../memory", Some(Kind::File)),
    ("initfs:", Some(Kind::File)),
    ("initfs:etc", Some(Kind::File)),
    ("initfs:etc/tests.list", Some(Kind::File)),
    ("initfs:bin/hello", Some(Kind::File)),
    ("initfs:nope", Some(Kind::File)),
    ("pipe:", None),
    ("nosuchscheme:x", None),
    ("", None),
    ("no colon", None),
];

/// What an fd of the fuzzing child refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// The write-only console.
    Console,
    /// A `sys:` or `initfs:` file or directory: reads never wait.
    File,
    /// The read end of pipe N (numbered by the child).
    PipeRead(usize),
    /// The write end of pipe N.
    PipeWrite(usize),
}

fn main(args: Args) -> i32 {
    let seed = match args.argv().get(1) {
        Some(text) => match parse_seed(text) {
            Some(seed) => seed,
            None => {
                println!("syscall-fuzz: not a seed: {text:?}");
                return 2;
            }
        },
        None => DEFAULT_SEED,
    };
    let mut checks = Checks::new("syscall-fuzz");
    targeted(&mut checks);

    println!("syscall-fuzz: seed {seed:#x}: {CALLS} calls (repeat with `syscall-fuzz {seed:#x}`)");
    let warm_up = fork_with(|| Fuzzer::run(seed ^ 0xA5A5, WARM_UP_CALLS)).and_then(reap);
    checks.check(
        "warm-up run exits 0",
        matches!(warm_up, Ok((_, status)) if status.success()),
        format_args!("{warm_up:?}"),
    );
    let Ok(before) = quiet_free_frames(QUIET_TRIES) else {
        checks.check("read sys:memory", false, format_args!("failed"));
        return checks.finish();
    };
    match fork_with(|| Fuzzer::run(seed, CALLS)).and_then(reap) {
        Ok((_, status)) => checks.check(
            "the fuzzing child survives its 10,000 calls and exits 0",
            status.success(),
            format_args!("{status}"),
        ),
        Err(e) => checks.check("run the fuzzing child", false, format_args!("{e}")),
    }
    match settled_free_frames(before, SETTLE_TRIES) {
        Ok(after) => checks.check(
            "no frame leaked: free_frames after the run equals before",
            after == before,
            format_args!("{before} before, {after} after ({} frames)", after as isize - before as isize),
        ),
        Err(e) => checks.check("read sys:memory", false, format_args!("{e}")),
    }
    checks.finish()
}

/// `0x…` or decimal.
fn parse_seed(text: &str) -> Option<u64> {
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// The start of the valid buffer.
fn buf_base() -> usize {
    (&raw mut BUF) as usize
}

/// Whether `addr` is inside the valid buffer (with its guard bytes).
fn in_buffer(addr: usize) -> bool {
    (buf_base()..buf_base() + BUF_BYTES + BUF_SLACK).contains(&addr)
}

/// Whether `[ptr, ptr + len)` is one of [`PATHS`] naming a scheme
/// (`name:…`), so that an `O_CREAT` open of it cannot reach `file:`.
fn names_a_scheme(ptr: usize, len: usize) -> bool {
    PATHS.iter().any(|(path, _)| path.as_ptr() as usize == ptr && path.len() == len && path.contains(':'))
}

/// Whether `addr` may be mapped in this process (the program image).
fn maybe_mapped(addr: usize) -> bool {
    IMAGE.contains(&addr)
}

/// Targeted bad input, made directly: each must fail with its errno.
fn targeted(checks: &mut Checks) {
    let buf = buf_base();
    let missing = "initfs:bin/no-such-program";
    let (path, path_len) = (missing.as_ptr() as usize, missing.len());
    let execve = |path: usize, path_len: usize, argv: usize, argc: usize| {
        // SAFETY: the program does not exist, so nothing is replaced; the
        // kernel only reads the arguments and must refuse the bad ones.
        unsafe { syscall6(SYS_EXECVE, path, path_len, argv, argc, 0, 0) }
    };
    checks.expect_errno("execve(unmapped path)", execve(0x1000, 10, 0, 0), EFAULT);
    checks.expect_errno("execve(kernel path)", execve(KERNEL_BASE, 10, 0, 0), EFAULT);
    checks.expect_errno("execve(path length 2^40)", execve(path, 1 << 40, 0, 0), ENAMETOOLONG);
    checks.expect_errno("execve(argv in the kernel half)", execve(path, path_len, KERNEL_BASE, 1), EFAULT);
    checks.expect_errno("execve(argv unmapped)", execve(path, path_len, 0x1000, 1), EFAULT);
    checks.expect_errno("execve(argc 2^40)", execve(path, path_len, buf, 1 << 40), E2BIG);
    // One argument of 60 MiB, "in" the valid buffer: too big to copy.
    let pair = [buf, 60 << 20];
    checks.expect_errno("execve(one 60 MiB argument)", execve(path, path_len, pair.as_ptr() as usize, 1), E2BIG);

    // SAFETY: the kernel must refuse the length before touching memory.
    let got = unsafe { syscall3(SYS_OPEN, LONG_PATH.as_ptr() as usize, LONG_PATH.len(), O_RDONLY) };
    checks.expect_errno("open(5000-byte path)", got, ENAMETOOLONG);
    // SAFETY: a kernel pointer: the kernel must refuse it.
    let got = unsafe { syscall2(SYS_PIPE2, KERNEL_BASE, 0) };
    checks.expect_errno("pipe2(kernel pointer)", got, EFAULT);
    // SAFETY: the buffer is ours; the kernel must refuse the flags first.
    let got = unsafe { syscall2(SYS_PIPE2, buf, 0xDEAD) };
    checks.expect_errno("pipe2(unknown flags)", got, EINVAL);
    // SAFETY: the kernel must refuse a kernel pointer of any length.
    let got = unsafe { syscall3(SYS_WRITE, 1, KERNEL_BASE, 1 << 40) };
    checks.expect_errno("write(1, kernel pointer, 2^40)", got, EFAULT);
    checks.expect_errno("close(-1)", sys::close(usize::MAX).map(|()| 0), EBADF);

    for path in ["sys:memory", "initfs:etc/tests.list"] {
        let Ok(fd) = sys::open(path, O_RDONLY) else {
            checks.check(&alloc::format!("open {path}"), false, format_args!("failed"));
            continue;
        };
        // SAFETY: the buffer is ours; the length is far past its mapping,
        // so the kernel must refuse it before writing anything.
        let got = unsafe { syscall3(SYS_READ, fd, buf, 1 << 40) };
        checks.expect_errno(&alloc::format!("read({path}, buffer, 2^40)"), got, EFAULT);
        // SAFETY: the kernel must refuse the kernel pointer.
        let got = unsafe { syscall3(SYS_FSTAT, fd, KERNEL_BASE, size_of::<Stat>()) };
        checks.expect_errno(&alloc::format!("fstat({path}, kernel pointer)"), got, EFAULT);
        // SAFETY: the buffer is ours; the kernel must refuse the size.
        let got = unsafe { syscall3(SYS_FSTAT, fd, buf, 3) };
        checks.expect_errno(&alloc::format!("fstat({path}, 3-byte buffer)"), got, EINVAL);
        let seek = sys::lseek(fd, 1 << 20, SEEK_SET);
        checks.check(
            &alloc::format!("lseek({path}) past the end"),
            matches!(seek, Ok(pos) if pos == 1 << 20),
            format_args!("{}", Shown(seek)),
        );
        let mut bytes = [0u8; 16];
        let got = sys::read(fd, &mut bytes);
        checks.check(
            &alloc::format!("read({path}) past the end gives 0"),
            matches!(got, Ok(0)),
            format_args!("{}", Shown(got)),
        );
        let _ = sys::close(fd);
    }
}

/// The fuzzing child's state.
struct Fuzzer {
    rng: Rng,
    /// What each open fd refers to, as the calls' results say.
    fds: BTreeMap<usize, Kind>,
    pipes_made: usize,
    own_pid: usize,
    console: FdWriter,
    failures: usize,
    real_calls: usize,
    garbage_calls: usize,
    forks: usize,
    skipped: usize,
    ok: usize,
    errnos: BTreeMap<i32, usize>,
}

/// The argument classes.
#[derive(Clone, Copy)]
enum Class {
    Small,
    Fd,
    Pointer,
    Length,
    Flags,
    Any,
}

impl Fuzzer {
    /// The child's whole life: set up, make `calls` calls, check, exit
    /// status (0: every check passed).
    fn run(seed: u64, calls: usize) -> i32 {
        let Some(mut fuzzer) = Self::new(seed) else { return 3 };
        if !IMAGE.contains(&buf_base()) {
            let _ = writeln!(fuzzer.console, "syscall-fuzz: the buffer is outside {IMAGE:#x?}");
            return 4;
        }
        // SAFETY: only this process touches the buffer, and not while the
        // kernel does (single thread).
        unsafe { core::ptr::write_bytes((&raw mut BUF).cast::<u8>().add(BUF_BYTES), SLACK_BYTE, BUF_SLACK) };
        fuzzer.fuzz(calls);
        fuzzer.finish()
    }

    /// fds 0 and 1 closed, 2 and `CONSOLE_FD` a write-only console, a few
    /// files and pipes open.
    fn new(seed: u64) -> Option<Self> {
        let console = sys::open("debug:", O_WRONLY).ok()?;
        for fd in PROTECTED {
            sys::dup2(console, fd).ok()?;
        }
        for fd in [0, 1, console] {
            if !PROTECTED.contains(&fd) {
                let _ = sys::close(fd);
            }
        }
        let mut fuzzer = Self {
            rng: Rng::new(seed),
            fds: PROTECTED.iter().map(|&fd| (fd, Kind::Console)).collect(),
            pipes_made: 0,
            own_pid: sys::getpid().ok()?,
            console: FdWriter::new(CONSOLE_FD),
            failures: 0,
            real_calls: 0,
            garbage_calls: 0,
            forks: 0,
            skipped: 0,
            ok: 0,
            errnos: BTreeMap::new(),
        };
        for path in ["sys:memory", "sys:processes", "initfs:etc/tests.list", "initfs:"] {
            if let Ok(fd) = sys::open(path, O_RDONLY) {
                fuzzer.fds.insert(fd, Kind::File);
            }
        }
        for _ in 0..2 {
            if let Ok([r, w]) = sys::pipe2(0) {
                fuzzer.add_pipe(r, w);
            }
        }
        Some(fuzzer)
    }

    fn add_pipe(&mut self, r: usize, w: usize) {
        self.fds.insert(r, Kind::PipeRead(self.pipes_made));
        self.fds.insert(w, Kind::PipeWrite(self.pipes_made));
        self.pipes_made += 1;
    }

    fn fail(&mut self, what: core::fmt::Arguments<'_>) {
        self.failures += 1;
        if self.failures <= FAILURES_SHOWN {
            let _ = writeln!(self.console, "syscall-fuzz: FAILED: {what}");
            self.console.flush();
        }
    }

    fn fuzz(&mut self, calls: usize) {
        let mut made = 0;
        let mut draws = 0usize;
        while made < calls && draws < calls * 100 {
            draws += 1;
            if self.fds.len() > MAX_OPEN {
                self.close_some();
            }
            let garbage = self.rng.chance(1, 4);
            let number = if garbage { self.garbage_number() } else { self.rng.pick(&REAL) };
            let (mut args, path_kind) = self.draw_args(number, garbage);
            if !garbage && !self.sanitize(number, &mut args) {
                self.skipped += 1;
                continue;
            }
            made += 1;
            let [a, b, c, d, e, f] = args;
            // SAFETY: the draw was sanitised so that the call can neither
            // end nor replace this process, nor change memory outside the
            // valid buffer (see the module doc); anything else the kernel
            // must refuse with an errno.
            let result = unsafe { syscall6(number, a, b, c, d, e, f) };
            if number == SYS_FORK && result == Ok(0) {
                // The fork child: nothing to do but end.
                sys::exit(0);
            }
            self.record(number, garbage, &result);
            if garbage {
                if !matches!(result, Err(e) if e.errno == ENOSYS) {
                    self.fail(format_args!("garbage call {number:#x}{args:x?} gave {}, not ENOSYS", Shown(result)));
                }
            } else {
                self.check_result(number, &args, &result);
                self.follow(number, &args, path_kind, &result);
            }
            if made % 2000 == 0 {
                let _ = writeln!(
                    self.console,
                    "syscall-fuzz: {made} calls ({} ok, {} errors, {} skipped draws)",
                    self.ok,
                    made - self.ok,
                    self.skipped
                );
                self.console.flush();
            }
        }
        if made < calls {
            self.fail(format_args!("only {made} of {calls} calls could be drawn"));
        }
    }

    fn record(&mut self, number: usize, garbage: bool, result: &Result<usize>) {
        if garbage {
            self.garbage_calls += 1;
        } else {
            self.real_calls += 1;
        }
        if number == SYS_FORK && result.is_ok() {
            self.forks += 1;
        }
        match result {
            Ok(_) => self.ok += 1,
            Err(e) => *self.errnos.entry(e.errno).or_default() += 1,
        }
    }

    /// A number not in the real table (nor the excluded calls).
    fn garbage_number(&mut self) -> usize {
        loop {
            let n = match self.rng.below(5) {
                0 => self.rng.next_u64() as usize,
                1 => self.rng.below(1024),
                2 => SYS_CLASS_FILE | self.rng.below(1024),
                3 => SYS_CLASS_PATH | SYS_RET_FILE | self.rng.below(1024),
                _ => self.rng.pick(&REAL) ^ 1 << self.rng.below(64),
            };
            if !REAL.contains(&n) && !EXCLUDED.contains(&n) {
                return n;
            }
        }
    }

    fn small(&mut self) -> usize {
        if self.rng.chance(1, 2) { self.rng.below(5) } else { self.rng.pick(&[7, 8, 15, 16, 31, 32, 63, 64, 255]) }
    }

    fn fd(&mut self) -> usize {
        if !self.fds.is_empty() && self.rng.chance(2, 3) {
            let i = self.rng.below(self.fds.len());
            return self.fds.keys().nth(i).copied().unwrap_or(0);
        }
        self.rng.pick(&[0, 1, 3, 17, 1023, 1024, 4096, 9999, 1 << 32, usize::MAX, usize::MAX - 1])
    }

    fn pointer(&mut self) -> usize {
        match self.rng.below(9) {
            0 | 1 => buf_base(),
            2 => buf_base() + self.rng.between(1, 7),
            3 => self.rng.pick(&[0x1000, 0x10_0000, 0x1_0000_0000, 0x4000_0000_0000, USER_END - 0x1000, USER_END - 1]),
            4 => KERNEL_BASE + self.rng.below(1 << 20) * 4096,
            5 => self.rng.pick(&[KERNEL_BASE + 3, 0xFFFF_FFFF_8000_0000, usize::MAX - 4095, usize::MAX - 7]),
            6 => self.rng.pick(&[USER_END, USER_END + 0x1000, 0x1234_5678_9ABC_D000, 0xFFFF_0000_0000_0000]),
            7 => {
                if self.rng.chance(1, 2) {
                    CONSOLE_LINE.as_ptr() as usize
                } else {
                    main as *const () as usize
                }
            }
            _ => 0,
        }
    }

    fn length(&mut self) -> usize {
        match self.rng.below(4) {
            0 => self.small(),
            1 => BUF_BYTES,
            2 => self.rng.between(1, BUF_BYTES),
            _ => self.rng.pick(&[
                HUGE_LEN,
                1 << 31,
                1 << 40,
                1 << 47,
                isize::MAX as usize,
                1 << 63,
                usize::MAX - 1,
                usize::MAX,
            ]),
        }
    }

    fn flags(&mut self) -> usize {
        match self.rng.below(4) {
            0 => 0,
            1 => self.rng.next_u64() as usize,
            2 => {
                self.rng.pick(&[O_RDONLY, O_WRONLY, O_RDWR, O_CLOEXEC, O_CREAT | O_RDWR, O_DIRECTORY, O_TRUNC])
                    | if self.rng.chance(1, 4) { O_CLOEXEC } else { 0 }
            }
            _ => 1 << self.rng.below(64),
        }
    }

    fn any(&mut self) -> usize {
        match self.rng.below(7) {
            0 => self.small(),
            1 => self.fd(),
            2 => self.pointer(),
            3 => self.length(),
            4 => self.flags(),
            _ => self.rng.next_u64() as usize,
        }
    }

    fn value(&mut self, class: Class) -> usize {
        match class {
            Class::Small => self.small(),
            Class::Fd => self.fd(),
            Class::Pointer => self.pointer(),
            Class::Length => self.length(),
            Class::Flags => self.flags(),
            Class::Any => self.any(),
        }
    }

    /// Six arguments for `number`: half the time shaped like the call's
    /// own (an fd where it takes one, …), else all from the mix. For `open`
    /// with a listed path, also what it opens.
    fn draw_args(&mut self, number: usize, garbage: bool) -> ([usize; 6], Option<Kind>) {
        use Class::*;
        let mut args = [0; 6];
        for arg in &mut args {
            *arg = self.any();
        }
        if garbage || self.rng.chance(1, 2) {
            return (args, None);
        }
        let shape: &[Class] = match number {
            SYS_CLOSE | SYS_DUP | SYS_FSYNC => &[Fd],
            SYS_READ | SYS_WRITE | SYS_READ2 | SYS_WRITE2 => &[Fd, Pointer, Length, Small],
            SYS_GETDENTS => &[Fd, Pointer, Length, Small],
            SYS_LSEEK => &[Fd, Any, Small],
            SYS_FSTAT | SYS_FPATH => &[Fd, Pointer, Length],
            SYS_DUP2 => &[Fd, Fd],
            SYS_FCNTL => &[Fd, Small, Any],
            SYS_FTRUNCATE => &[Fd, Length],
            SYS_PIPE2 => &[Pointer, Flags],
            SYS_WAITPID => &[Any, Pointer, Small],
            SYS_KILL => &[Any, Small],
            SYS_CLOCK_GETTIME => &[Small, Pointer],
            SYS_NANOSLEEP => &[Pointer, Pointer],
            _ => &[],
        };
        for (arg, &class) in args.iter_mut().zip(shape) {
            *arg = self.value(class);
        }
        let mut kind = None;
        match number {
            SYS_FSTAT if self.rng.chance(1, 2) => args[2] = size_of::<Stat>(),
            SYS_FCNTL if self.rng.chance(1, 2) => {
                args[1] = self.rng.pick(&[F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL]);
            }
            SYS_PIPE2 if self.rng.chance(1, 2) => args[1] = self.rng.pick(&[0, O_CLOEXEC]),
            SYS_WAITPID if self.rng.chance(1, 2) => {
                args[0] = self.rng.pick(&[usize::MAX, 0, 1, self.own_pid, self.own_pid + 1]);
                args[2] = self.rng.pick(&[0, WNOHANG]);
            }
            SYS_OPEN => {
                if self.rng.chance(3, 4) {
                    let (path, path_kind) = self.rng.pick(&PATHS);
                    (args[0], args[1], kind) = (path.as_ptr() as usize, path.len(), path_kind);
                } else if self.rng.chance(1, 4) {
                    (args[0], args[1]) = (LONG_PATH.as_ptr() as usize, LONG_PATH.len());
                } else {
                    (args[0], args[1]) = (self.pointer(), self.length());
                }
                args[2] = self.flags();
            }
            _ => {}
        }
        (args, kind)
    }

    fn kind(&self, fd: usize) -> Option<Kind> {
        self.fds.get(&fd).copied()
    }

    fn ends(&self, pipe: usize) -> (usize, usize) {
        let readers = self.fds.values().filter(|&&k| k == Kind::PipeRead(pipe)).count();
        let writers = self.fds.values().filter(|&&k| k == Kind::PipeWrite(pipe)).count();
        (readers, writers)
    }

    /// Bytes buffered in the pipe behind `fd` (its `fstat` size).
    fn buffered(fd: usize) -> usize {
        sys::fstat(fd).map_or(usize::MAX, |stat| stat.st_size as usize)
    }

    /// Makes the drawn call safe to make (see the module doc); `false`:
    /// skip it.
    fn sanitize(&mut self, number: usize, args: &mut [usize; 6]) -> bool {
        let [a, b, ..] = *args;
        match number {
            SYS_KILL => {
                let harmless_pid = a > self.own_pid && a < 1 << 31;
                if !(b == 0 || b >= NSIG || harmless_pid) {
                    return false;
                }
            }
            SYS_CLOSE if PROTECTED.contains(&a) => return false,
            SYS_OPEN if !names_a_scheme(a, b) => args[2] &= !O_CREAT,
            SYS_DUP2 if PROTECTED.contains(&b) => return false,
            SYS_FUTEX if maybe_mapped(a) => args[0] = 0x1000,
            SYS_NANOSLEEP if in_buffer(a) => {
                // 1 µs: sleeping must end.
                let request = [0u64, 1000];
                // SAFETY: `a` is at most 7 bytes into the buffer, which has
                // room for the 16 bytes; nothing else uses it now.
                unsafe { core::ptr::write_unaligned(a as *mut [u64; 2], request) };
            }
            SYS_NANOSLEEP if maybe_mapped(a) => args[0] = 0x1000,
            _ => {}
        }
        if !MODELLED.contains(&number) && args.iter().any(|arg| PROTECTED.contains(arg)) {
            return false;
        }
        // No length between the buffer size and HUGE_LEN next to a pointer
        // into the buffer.
        if let Some(pointer) = args.iter().position(|&arg| in_buffer(arg)) {
            for (i, arg) in args.iter_mut().enumerate() {
                if i != pointer && *arg > BUF_BYTES && *arg < HUGE_LEN {
                    *arg = BUF_BYTES;
                }
            }
        }
        let [_, b, c, ..] = *args;
        match (number, self.kind(a)) {
            (SYS_WRITE | SYS_WRITE2, Some(Kind::Console)) if maybe_mapped(b) => {
                (args[1], args[2]) = (CONSOLE_LINE.as_ptr() as usize, CONSOLE_LINE.len());
            }
            (SYS_READ | SYS_READ2, Some(Kind::PipeRead(pipe))) if c > 0 => {
                let (_, writers) = self.ends(pipe);
                if writers > 0 && Self::buffered(a) == 0 {
                    return false;
                }
            }
            (SYS_WRITE | SYS_WRITE2, Some(Kind::PipeWrite(pipe))) if maybe_mapped(b) && c > 0 => {
                let (readers, _) = self.ends(pipe);
                if readers > 0 && Self::buffered(a).saturating_add(c) > PIPE_ROOM_BYTES {
                    return false;
                }
            }
            _ => {}
        }
        true
    }

    /// Result checks of real calls.
    fn check_result(&mut self, number: usize, args: &[usize; 6], result: &Result<usize>) {
        let [a, b, c, ..] = *args;
        let kernel = |addr: usize| addr >= USER_END;
        let must_fail = match number {
            SYS_READ | SYS_WRITE | SYS_READ2 | SYS_WRITE2 | SYS_GETDENTS => kernel(b) && c > 0,
            SYS_OPEN => kernel(a) && b > 0,
            SYS_FSTAT => kernel(b),
            SYS_PIPE2 => kernel(a),
            SYS_CLOCK_GETTIME => kernel(b),
            _ => false,
        };
        if must_fail && result.is_ok() {
            self.fail(format_args!("call {number:#x}{args:x?} with a kernel pointer succeeded: {}", Shown(*result)));
        }
        if let Ok(n) = *result {
            let too_big = match number {
                SYS_READ | SYS_WRITE | SYS_READ2 | SYS_WRITE2 | SYS_GETDENTS => n > c,
                SYS_OPEN | SYS_DUP | SYS_DUP2 => n >= 1 << 16,
                SYS_FCNTL if b == F_DUPFD => n >= 1 << 16,
                _ => false,
            };
            if too_big {
                self.fail(format_args!("call {number:#x}{args:x?} returned an implausible {n:#x}"));
            }
        }
    }

    /// Follows the call's effect on the fd table, reaps fork children.
    fn follow(&mut self, number: usize, args: &[usize; 6], path_kind: Option<Kind>, result: &Result<usize>) {
        let [a, b, ..] = *args;
        let Ok(value) = *result else { return };
        match number {
            SYS_FORK => match reap(value) {
                Ok((_, status)) if status.success() => {}
                Ok((_, status)) => self.fail(format_args!("fork child {value}: {status}")),
                Err(e) => self.fail(format_args!("reap fork child {value}: {e}")),
            },
            SYS_OPEN => match path_kind {
                Some(kind) => {
                    self.fds.insert(value, kind);
                }
                None => {
                    let _ = writeln!(self.console, "syscall-fuzz: note: open{args:x?} opened fd {value}; closed");
                    let _ = sys::close(value);
                }
            },
            SYS_CLOSE => {
                let was_open = self.fds.remove(&a).is_some();
                if !was_open {
                    self.fail(format_args!("close({a}) succeeded on an fd that was not open"));
                }
            }
            SYS_DUP | SYS_DUP2 | SYS_FCNTL => {
                let new = match number {
                    SYS_DUP => value,
                    SYS_DUP2 => b,
                    _ if b == F_DUPFD => value,
                    _ => return,
                };
                match self.kind(a) {
                    Some(kind) => {
                        self.fds.insert(new, kind);
                    }
                    None => self.fail(format_args!("dup of fd {a}, which was not open, gave {value}")),
                }
            }
            SYS_PIPE2 if in_buffer(a) => {
                // SAFETY: the kernel wrote two usizes at `a`, inside the
                // buffer (at most 7 bytes in, 16 bytes long).
                let [r, w] = unsafe { core::ptr::read_unaligned(a as *const [usize; 2]) };
                self.add_pipe(r, w);
            }
            SYS_PIPE2 => self.fail(format_args!("pipe2 into {a:#x}, outside the buffer, succeeded")),
            _ if number & SYS_RET_FILE != 0 && !self.fds.contains_key(&value) => {
                let _ = writeln!(self.console, "syscall-fuzz: note: call {number:#x} opened fd {value}; closed");
                let _ = sys::close(value);
            }
            _ => {}
        }
    }

    /// Closes fds until the model holds half of `MAX_OPEN`.
    fn close_some(&mut self) {
        while self.fds.len() > MAX_OPEN / 2 {
            let open: Vec<usize> = self.fds.keys().copied().filter(|fd| !PROTECTED.contains(fd)).collect();
            if open.is_empty() {
                return;
            }
            let fd = self.rng.pick(&open);
            if let Err(e) = sys::close(fd) {
                self.fail(format_args!("close({fd}) of an open fd: {}", errno_name(e.errno)));
            }
            self.fds.remove(&fd);
        }
    }

    /// The end checks and the summary; the exit status.
    fn finish(mut self) -> i32 {
        // SAFETY: no call runs now; the buffer is only read.
        let slack = unsafe { core::slice::from_raw_parts((&raw const BUF).cast::<u8>().add(BUF_BYTES), BUF_SLACK) };
        let slack_intact = slack.iter().all(|&b| b == SLACK_BYTE);
        if !slack_intact {
            self.fail(format_args!("the kernel wrote past the end of the valid buffer"));
        }
        let open: Vec<usize> = self.fds.keys().copied().filter(|fd| !PROTECTED.contains(fd)).collect();
        for fd in open {
            if let Err(e) = sys::close(fd) {
                self.fail(format_args!("close({fd}), open as far as the calls said: {}", errno_name(e.errno)));
            }
        }
        let _ = write!(
            self.console,
            "syscall-fuzz: {} real calls, {} garbage, {} forks reaped, {} ok, {} skipped draws; errnos:",
            self.real_calls, self.garbage_calls, self.forks, self.ok, self.skipped
        );
        for (&errno, count) in &self.errnos {
            match errno_name(errno) {
                "E?" => write!(self.console, " errno{errno} {count}"),
                name => write!(self.console, " {name} {count}"),
            }
            .ok();
        }
        let _ = writeln!(self.console, "\nsyscall-fuzz: {} failures", self.failures);
        self.console.flush();
        i32::from(self.failures != 0)
    }
}
