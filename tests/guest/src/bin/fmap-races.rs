//! `fmap-races`: file mappings under races and at the edges, on a private
//! `ramfs ramfs-races` instance and a lender daemon of its own.
//!
//! | group | checks |
//! |---|---|
//! | lazy-futex | `exec-probe lazy-futex` run from ramfs: a futex wait on a word of its untouched, lent `.rodata` times out (EAGAIN for a wrong value), not EFAULT |
//! | lazy-exec | `exec-probe lazy-exec` run from ramfs: `execve` of a path string in its untouched, lent `.rodata` runs `true` (status 0), not EFAULT |
//! | futex-mapped | a futex wait on a word of an untouched page of a lazy shared ramfs mapping times out; a wake on it returns 0 |
//! | sizes | mmap of a ramfs file: a size whose page rounding wraps is ENOMEM (Linux's), an offset + size past 2^64 is EOVERFLOW, a zero size EINVAL; a lender answering MmapPrep with an address whose range leaves user space (or wraps) is EIO |
//! | kill-munmap | children that write a shared ramfs mapping and munmap it page by page are SIGKILLed mid-way while other processes keep ramfs busy: afterwards every pin is back (0) and the data is in the file |
//! | lender-exec | a lender daemon lends pages of its own memory, a client maps them lazily and reads one; the daemon execs (a program that maps other data at the same address): an unfetched page (of a second mapping, beyond fault-around's reach) is SIGBUS, the fetched one still reads the old data |
//! | many-grants | a process with 40 000 grants of one ramfs lease whose pins alternate (a first child unmapped every other page) forks while a sibling thread keeps mapping and unmapping: the fastest of 3 forks takes at most 50 × (+ 2 s) as long as the fastest of 3 same forks with uniform pins (milliseconds on hardware; minutes before the pins were kept as runs) and the sibling keeps running; munmap of all 40k grants returns |
//!
//! Run as `fmap-races after-exec FD` it is the lender's new image (see
//! `lender-exec`).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

use tessera_guest_tests::mm::{Memory, child_signal, frames_back, group, now_ns};
use tessera_guest_tests::ramfs;
use tessera_guest_tests::system::{fork_with, reap};
use tessera_guest_tests::{Checks, Shown};
use tessera_runtime::abi::error::{EAGAIN, EINVAL, EIO, ENOMEM, EOVERFLOW, ETIMEDOUT};
use tessera_runtime::abi::flag::{O_CREAT, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, SEEK_SET};
use tessera_runtime::abi::signal::{SIGBUS, SIGKILL};
use tessera_runtime::abi::{Result, TimeSpec};
use tessera_runtime::io::{read_file, write_all};
use tessera_runtime::mm::{self, MAP_FIXED_NOREPLACE, MAP_PRIVATE, MAP_SHARED, MapFlags, PROT_READ, PROT_RW};
use tessera_runtime::scheme::{CallerCtx, Opened, Scheme, Server};
use tessera_runtime::sys::{self, Fork};
use tessera_runtime::{Args, process, thread};

tessera_runtime::entry!(main);

const SCHEME: &str = "ramfs-races";
const LENDER: &str = "races-lender";
const PAGE: usize = 4096;
/// Redox's MAP_LAZY: a file mapping fetches nothing at mmap.
const MAP_LAZY: MapFlags = MapFlags::from_bits_retain(0x10);
/// Where the lender daemon keeps the pages it lends (and its new image
/// maps other data after exec).
const LENDER_ADDR: usize = 0x10_0000_0000;
const LENDER_PAGES: usize = 8;
const BEFORE_EXEC: u8 = 0xAA;
const AFTER_EXEC: u8 = 0xBB;

fn main(args: Args) -> i32 {
    if let [_, "after-exec", fd] = args.argv() {
        return after_exec(fd.parse().unwrap_or(usize::MAX));
    }
    let mut checks = Checks::new("fmap-races");
    let before = Memory::read();
    let Some(daemon) = ramfs::start(&mut checks, SCHEME) else { return checks.finish() };
    lazy_rodata(&mut checks);
    group(&mut checks, "fmap-races futex-mapped", futex_mapped);
    group(&mut checks, "fmap-races sizes", sizes);
    kill_munmap(&mut checks);
    lender_exec(&mut checks);
    group(&mut checks, "fmap-races many-grants", many_grants);
    let pins = pins_total();
    checks.check("pins back to 0", pins == Some(0), format_args!("{pins:?}"));
    let _ = sys::kill(daemon, SIGKILL);
    let _ = process::wait(daemon);
    frames_back(&mut checks, before);
    checks.finish()
}

fn at(path: &str) -> String {
    format!("{SCHEME}:{path}")
}

/// The daemon's total pin count (`/.ramfs/pins`'s last line).
fn pins_total() -> Option<usize> {
    let text = read_file(&at("/.ramfs/pins")).ok()?;
    let text = core::str::from_utf8(&text).ok()?;
    text.lines().last()?.strip_prefix("total ")?.trim().parse().ok()
}

/// A new file `name` with `len` bytes: byte `i` is `(i % 251) as u8`.
fn file_with(name: &str, len: usize) -> Result<usize> {
    let fd = sys::open(&at(name), O_CREAT | O_TRUNC | O_RDWR)?;
    let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    write_all(fd, &data)?;
    Ok(fd)
}

fn map(fd: usize, len: usize, prot: MapFlags, flags: MapFlags, offset: usize) -> Result<usize> {
    // SAFETY: no fixed address: nothing of ours is replaced.
    unsafe { mm::mmap(0, len, prot, flags, fd, offset) }
}

fn unmap(addr: usize, len: usize) -> Result<()> {
    // SAFETY: the test's own mappings, no longer used.
    unsafe { mm::munmap(addr, len) }
}

fn byte(addr: usize) -> u8 {
    // SAFETY: a mapped, readable address of this test.
    unsafe { core::ptr::read_volatile(addr as *const u8) }
}

fn sleep_ms(ms: u64) {
    let _ = sys::nanosleep(&TimeSpec { tv_sec: (ms / 1000) as i64, tv_nsec: ((ms % 1000) * 1_000_000) as i32 }, None);
}

// ---- the kernel's user copies fetch lent pages --------------------------

fn lazy_rodata(checks: &mut Checks) {
    let image = read_file(&process::program_path("exec-probe"));
    let installed = image.and_then(|image| {
        let fd = sys::open(&at("/exec-probe"), O_CREAT | O_TRUNC | O_WRONLY)?;
        let written = write_all(fd, &image);
        let _ = sys::close(fd);
        written
    });
    checks.check("copy exec-probe to ramfs", installed.is_ok(), format_args!("{installed:?}"));
    for (mode, what) in [
        ("lazy-futex", "lazy-futex: a futex wait on untouched lent .rodata times out (status 0)"),
        ("lazy-exec", "lazy-exec: execve of a path in untouched lent .rodata runs (status 0)"),
    ] {
        let path = at("/exec-probe");
        let status = fork_with(|| 100 + sys::execve(&path, &["exec-probe", mode], &[]).errno as i32)
            .and_then(reap)
            .map(|(_, status)| status);
        let ok = matches!(status, Ok(s) if s.code() == Some(0));
        checks.check(what, ok, format_args!("{status:?} (exit 100+errno: exec failed; 2: not lent, 3/4: futex)"));
    }
}

fn futex_mapped(checks: &mut Checks) {
    const PAGES: usize = 128;
    let Ok(fd) = file_with("/futex", PAGES * PAGE) else {
        return checks.check("create /futex", false, format_args!("failed"));
    };
    let Ok(addr) = map(fd, PAGES * PAGE, PROT_RW, MAP_SHARED | MAP_LAZY, 0) else {
        return checks.check("mmap /futex", false, format_args!("failed"));
    };
    let offset = 100 * PAGE + 8;
    let value = u32::from_le_bytes([0, 1, 2, 3].map(|i| ((offset + i) % 251) as u8));
    // SAFETY: a 4-aligned word of the mapping; the kernel reads it.
    let word = unsafe { &*((addr + offset) as *const AtomicU32) };
    let timeout = TimeSpec { tv_sec: 0, tv_nsec: 1_000_000 };
    let waited = sys::futex_wait(word, value, Some(&timeout));
    checks.check(
        "futex-mapped: a wait on an untouched file page times out",
        matches!(waited, Err(e) if e.errno == ETIMEDOUT),
        format_args!("{waited:?}"),
    );
    // SAFETY: as above.
    let other = unsafe { &*((addr + 120 * PAGE) as *const AtomicU32) };
    let waited = sys::futex_wait(other, 0xFFFF_FFFF, Some(&timeout));
    checks.check(
        "futex-mapped: a wait with another value is EAGAIN",
        matches!(waited, Err(e) if e.errno == EAGAIN),
        format_args!("{waited:?}"),
    );
    let woken = sys::futex_wake(word, 1);
    checks.check("futex-mapped: a wake returns 0", woken == Ok(0), format_args!("{woken:?}"));
    checks.check("futex-mapped: munmap", unmap(addr, PAGES * PAGE).is_ok(), format_args!("failed"));
    let _ = sys::close(fd);
}

// ---- sizes ---------------------------------------------------------------

fn sizes(checks: &mut Checks) {
    let Ok(fd) = file_with("/sizes", PAGE) else {
        return checks.check("create /sizes", false, format_args!("failed"));
    };
    let cases: [(&str, usize, usize, i32); 5] = [
        // Linux's errno for a length that cannot be rounded or mapped.
        ("a size whose page rounding wraps", usize::MAX, 0, ENOMEM),
        ("a size one page short of wrapping", usize::MAX - PAGE + 2, 0, ENOMEM),
        ("a zero size", 0, 0, EINVAL),
        ("an offset + size past 2^64", 2 * PAGE, usize::MAX & !(PAGE - 1), EOVERFLOW),
        ("an offset + rounded size past 2^64", 1, usize::MAX & !(PAGE - 1), EOVERFLOW),
    ];
    for (what, size, offset, errno) in cases {
        for flags in [MAP_SHARED, MAP_PRIVATE] {
            let got = map(fd, size, PROT_READ, flags, offset);
            if let Ok(addr) = got {
                let _ = unmap(addr, size);
            }
            checks.expect_errno(&format!("sizes: {what}"), got, errno);
        }
    }
    let _ = sys::close(fd);
    let pins = pins_total();
    checks.check("sizes: no pin left", pins == Some(0), format_args!("{pins:?}"));
    // A lender whose answer leaves user space.
    for (mode, pages) in [(LendMode::TopOfMemory, 1), (LendMode::PastUserEnd, 2)] {
        let Some(lender) = Lender::start(mode) else {
            return checks.check("sizes: start the lender", false, format_args!("failed"));
        };
        let got = map(lender.fd, pages * PAGE, PROT_READ, MAP_SHARED | MAP_LAZY, 0);
        if let Ok(addr) = got {
            let _ = unmap(addr, pages * PAGE);
        }
        checks.expect_errno(&format!("sizes: a lender address ({mode:?}) outside user space"), got, EIO);
        lender.stop();
    }
}

// ---- kill during munmap ----------------------------------------------------

/// Pages each killed child maps.
const KILL_PAGES: usize = 24;
const KILL_ROUNDS: usize = 12;

fn kill_munmap(checks: &mut Checks) {
    let len = KILL_PAGES * PAGE;
    let Ok(fd) = file_with("/kill", len) else {
        return checks.check("create /kill", false, format_args!("failed"));
    };
    let Ok(busy_fd) = file_with("/busy", 64 * 1024) else {
        return checks.check("create /busy", false, format_args!("failed"));
    };
    // Two processes keep ramfs busy, so that requests wait in its queue.
    let busy: Vec<usize> = (0..2)
        .filter_map(|_| {
            fork_with(|| {
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    let _ = sys::lseek(busy_fd, 0, SEEK_SET).and_then(|_| sys::read(busy_fd, &mut buf));
                }
            })
            .ok()
        })
        .collect();
    let mut killed = 0;
    for round in 0..KILL_ROUNDS {
        let Ok([ready_r, ready_w]) = sys::pipe2(0) else { break };
        let tag = 0x40 + round as u8;
        let pid = fork_with(|| {
            let Ok(mut addr) = map(fd, len, PROT_RW, MAP_SHARED, 0) else { return 2 };
            for page in 0..KILL_PAGES {
                // SAFETY: a writable page of the mapping just made.
                unsafe { core::ptr::write_volatile((addr + page * PAGE) as *mut u8, tag) };
            }
            let _ = sys::write(ready_w, b"r");
            loop {
                for page in 0..KILL_PAGES {
                    let _ = unmap(addr + page * PAGE, PAGE);
                }
                // Map again and go on until killed (the writes stay).
                let Ok(again) = map(fd, len, PROT_RW, MAP_SHARED, 0) else { return 3 };
                addr = again;
            }
        });
        let _ = sys::close(ready_w);
        let Ok(pid) = pid else { break };
        let mut byte = [0u8; 1];
        let _ = sys::read(ready_r, &mut byte);
        let _ = sys::close(ready_r);
        sleep_ms(1 + (round as u64 * 7) % 23);
        let _ = sys::kill(pid, SIGKILL);
        if let Ok((_, status)) = reap(pid) {
            killed += usize::from(status.signal() == Some(SIGKILL));
        }
        let mut data = vec![0u8; len];
        let read = sys::lseek(fd, 0, SEEK_SET).and_then(|_| tessera_guest_tests::system::read_full(fd, &mut data));
        let first = data.iter().step_by(PAGE).position(|&b| b != tag);
        if read != Ok(len) || first.is_some() {
            checks.check(
                "kill-munmap: the writes are in the file",
                false,
                format_args!("round {round}: page {first:?}"),
            );
        }
    }
    for pid in busy {
        let _ = sys::kill(pid, SIGKILL);
        let _ = reap(pid);
    }
    checks.check("kill-munmap: the children were killed", killed == KILL_ROUNDS, format_args!("{killed}"));
    let pins = pins_total();
    checks.check("kill-munmap: every pin is back (0)", pins == Some(0), format_args!("{pins:?}"));
    let _ = sys::close(fd);
    let _ = sys::close(busy_fd);
}

// ---- a lender daemon of the test's own -----------------------------------

/// What the lender answers MmapPrep with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LendMode {
    /// `LENDER_ADDR` + offset: its own pages.
    Own,
    /// The last page of the address space.
    TopOfMemory,
    /// A range reaching past the end of user space.
    PastUserEnd,
}

struct LenderScheme {
    mode: LendMode,
    exec: bool,
}

impl Scheme for LenderScheme {
    fn open(&mut self, _path: &str, _flags: usize, _ctx: &CallerCtx) -> Result<Opened> {
        Ok(Opened { id: 0, positioned: false })
    }
    fn write(&mut self, _id: usize, buf: &[u8], _offset: u64) -> Result<usize> {
        self.exec = buf == b"exec";
        Ok(buf.len())
    }
    fn mmap_prep(&mut self, _id: usize, offset: u64, _size: usize, _flags: usize, _ctx: &CallerCtx) -> Result<usize> {
        Ok(match self.mode {
            LendMode::Own => LENDER_ADDR + offset as usize,
            LendMode::TopOfMemory => usize::MAX & !(PAGE - 1),
            LendMode::PastUserEnd => 0x0000_8000_0000_0000 - PAGE,
        })
    }
    fn munmap(&mut self, _id: usize, _offset: u64, _size: usize, _flags: usize, _ctx: &CallerCtx) -> Result<()> {
        Ok(())
    }
}

/// A running lender and the test's open file of it.
struct Lender {
    pid: usize,
    fd: usize,
}

impl Lender {
    /// Forks the lender (its pages at `LENDER_ADDR` hold `BEFORE_EXEC`);
    /// `exec_fd` is passed on to its new image when asked to exec.
    fn start_with(mode: LendMode, exec_fd: usize) -> Option<Self> {
        let [ready_r, ready_w] = sys::pipe2(0).ok()?;
        let pid = match sys::fork().ok()? {
            Fork::Child => {
                // SAFETY: nothing of this process is at LENDER_ADDR (NOREPLACE).
                let mapped = unsafe {
                    mm::mmap(
                        LENDER_ADDR,
                        LENDER_PAGES * PAGE,
                        PROT_RW,
                        MAP_PRIVATE | MAP_FIXED_NOREPLACE,
                        mm::ANONYMOUS_FD,
                        0,
                    )
                };
                if mapped != Ok(LENDER_ADDR) {
                    sys::exit(2);
                }
                // SAFETY: the pages just mapped.
                unsafe { core::ptr::write_bytes(LENDER_ADDR as *mut u8, BEFORE_EXEC, LENDER_PAGES * PAGE) };
                let Ok(mut server) = Server::register(LENDER) else { sys::exit(3) };
                let _ = sys::write(ready_w, b"r");
                let mut scheme = LenderScheme { mode, exec: false };
                while server.serve_one(&mut scheme).is_ok() {
                    if scheme.exec {
                        let fd = format!("{exec_fd}");
                        let program = process::program_path("fmap-races");
                        let error = sys::execve(&program, &["fmap-races", "after-exec", &fd], &[]);
                        sys::exit(100 + error.errno as usize);
                    }
                }
                sys::exit(4)
            }
            Fork::Parent { pid } => pid,
        };
        let _ = sys::close(ready_w);
        let mut byte = [0u8; 1];
        let ready = sys::read(ready_r, &mut byte) == Ok(1);
        let _ = sys::close(ready_r);
        let fd = if ready { sys::open(&format!("{LENDER}:file"), O_RDONLY).ok() } else { None };
        match fd {
            Some(fd) => Some(Self { pid, fd }),
            None => {
                let _ = sys::kill(pid, SIGKILL);
                let _ = reap(pid);
                None
            }
        }
    }

    fn start(mode: LendMode) -> Option<Self> {
        Self::start_with(mode, usize::MAX)
    }

    fn stop(self) {
        let _ = sys::kill(self.pid, SIGKILL);
        let _ = reap(self.pid);
        let _ = sys::close(self.fd);
    }
}

/// The lender's new image: maps other data where the lent pages were,
/// says so on `fd`, and waits to be killed.
fn after_exec(fd: usize) -> i32 {
    // SAFETY: a fresh image: nothing is at LENDER_ADDR (NOREPLACE).
    let mapped = unsafe {
        mm::mmap(LENDER_ADDR, LENDER_PAGES * PAGE, PROT_RW, MAP_PRIVATE | MAP_FIXED_NOREPLACE, mm::ANONYMOUS_FD, 0)
    };
    if mapped == Ok(LENDER_ADDR) {
        // SAFETY: the pages just mapped.
        unsafe { core::ptr::write_bytes(LENDER_ADDR as *mut u8, AFTER_EXEC, LENDER_PAGES * PAGE) };
    }
    let _ = sys::write(fd, if mapped.is_ok() { b"m" } else { b"x" });
    loop {
        sleep_ms(1000);
    }
}

fn lender_exec(checks: &mut Checks) {
    let Ok([ready_r, ready_w]) = sys::pipe2(0) else {
        return checks.check("lender-exec: pipe", false, format_args!("failed"));
    };
    let Some(lender) = Lender::start_with(LendMode::Own, ready_w) else {
        return checks.check("lender-exec: start the lender", false, format_args!("failed"));
    };
    let _ = sys::close(ready_w);
    let len = LENDER_PAGES * PAGE;
    let mapped = map(lender.fd, len, PROT_READ, MAP_SHARED | MAP_LAZY, 0);
    let Ok(addr) = mapped else {
        lender.stop();
        return checks.check("lender-exec: mmap", false, format_args!("{}", Shown(mapped)));
    };
    // Page 3 again, as a mapping of its own: the first touch of `addr`
    // maps (fault-around) the lender's pages of that mapping only, so this
    // one is still unfetched when the lender execs.
    let Ok(other) = map(lender.fd, PAGE, PROT_READ, MAP_SHARED | MAP_LAZY, 3 * PAGE) else {
        lender.stop();
        return checks.check("lender-exec: mmap of page 3", false, format_args!("failed"));
    };
    let first = byte(addr);
    checks.check("lender-exec: a lent page reads the lender's data", first == BEFORE_EXEC, format_args!("{first:#x}"));
    let asked = sys::open(&format!("{LENDER}:file"), O_RDWR).and_then(|fd| {
        let written = sys::write(fd, b"exec");
        let _ = sys::close(fd);
        written
    });
    let mut said = [0u8; 1];
    let ready = sys::read(ready_r, &mut said);
    let _ = sys::close(ready_r);
    checks.check(
        "lender-exec: the lender exec'd and mapped other data there",
        asked == Ok(4) && ready == Ok(1) && said[0] == b'm',
        format_args!("write {asked:?}, ready {ready:?} {:?}", said[0] as char),
    );
    let signal = child_signal(|| {
        let seen = byte(other);
        sys::exit(seen as usize)
    });
    checks.check(
        "lender-exec: an unfetched page is SIGBUS, not the new image's memory",
        signal == Some(SIGBUS),
        format_args!("signal {signal:?}"),
    );
    let again = byte(addr);
    checks.check(
        "lender-exec: the fetched page still reads the old data",
        again == BEFORE_EXEC,
        format_args!("{again:#x}"),
    );
    lender.stop();
    let unmapped = unmap(addr, len).and_then(|()| unmap(other, PAGE));
    checks.check("lender-exec: munmap returns", unmapped.is_ok(), format_args!("{unmapped:?}"));
}

// ---- many grants -----------------------------------------------------------

/// Grants (pages) of the one lease.
const GRANTS: usize = 40_000;
/// The fork of the alternating pins may take at most this many times as
/// long as the fork of the same grants with uniform pins (plus
/// [`FORK_SLACK_NS`]): the runs split and merge at every grant (about 3 to
/// 4 times the work under TCG on a quiet host, up to 30 times on a busy
/// one, where the longer fork is the likelier to lose its CPU), while a
/// rescan of every run per grant made it thousands of times slower
/// (minutes). The bound is loose on purpose: it catches that, not speed. Relative, so that TCG's speed
/// does not matter; on hardware both are milliseconds. Each is the fastest
/// of [`FORKS`] forks, so that a host that stops the virtual CPUs for a
/// while (a busy build machine) cannot make one slow fork fail the test.
const FORK_FACTOR: u64 = 50;
const FORK_SLACK_NS: u64 = 2_000_000_000;
/// Forks timed for each case.
const FORKS: usize = 3;

/// The fastest of [`FORKS`] forks of this process (each child exits at
/// once and is reaped), or the first error.
fn fastest_fork() -> Result<u64> {
    let mut fastest = u64::MAX;
    for _ in 0..FORKS {
        let t0 = now_ns();
        let pid = fork_with(|| 0)?;
        fastest = fastest.min(now_ns() - t0);
        reap(pid)?;
    }
    Ok(fastest)
}

fn many_grants(checks: &mut Checks) {
    let len = GRANTS * PAGE;
    let Ok(fd) = sys::open(&at("/many"), O_CREAT | O_TRUNC | O_RDWR) else {
        return checks.check("create /many", false, format_args!("failed"));
    };
    let sized = sys::ftruncate(fd, len);
    let mapped = sized.and_then(|_| map(fd, len, PROT_RW, MAP_SHARED | MAP_LAZY, 0));
    let Ok(addr) = mapped else {
        return checks.check("many-grants: map 40k pages of a ramfs file", false, format_args!("{}", Shown(mapped)));
    };
    // Every other page read-only: no two neighbouring grants can merge.
    let split = (0..GRANTS).step_by(2).all(|page| {
        // SAFETY: the test's own mapping.
        unsafe { mm::mprotect(addr + page * PAGE, PAGE, PROT_READ) }.is_ok()
    });
    checks.check("many-grants: 40k grants", split, format_args!("an mprotect failed"));
    // A sibling thread needs the space's lock all the time (mmap, touch,
    // munmap) on the other CPU.
    let turns = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (counter, stopping) = (turns.clone(), stop.clone());
    let sibling = thread::spawn(move || {
        while !stopping.load(Ordering::Relaxed) {
            if let Ok(page) = mm::mmap_anonymous(PAGE, PROT_RW, MAP_PRIVATE) {
                // SAFETY: the page just mapped.
                unsafe { core::ptr::write_volatile(page as *mut u8, 1) };
                let _ = unmap(page, PAGE);
            }
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    let started = now_ns();
    while turns.load(Ordering::Relaxed) < 10 && now_ns() - started < 2_000_000_000 {
        core::hint::spin_loop();
    }
    // The same fork with uniform pins (one run): the baseline.
    let uniform = fastest_fork();
    // A first child unmaps every other page: the lease's pins alternate.
    let Ok([ready_r, ready_w]) = sys::pipe2(0) else { return };
    let first = fork_with(|| {
        for page in (0..GRANTS).step_by(2) {
            let _ = unmap(addr + page * PAGE, PAGE);
        }
        let _ = sys::write(ready_w, b"r");
        loop {
            sleep_ms(1000);
        }
    });
    let _ = sys::close(ready_w);
    let mut said = [0u8; 1];
    let _ = sys::read(ready_r, &mut said);
    let _ = sys::close(ready_r);
    let before = turns.load(Ordering::Relaxed);
    let alternating = fastest_fork();
    // The sibling goes on after the fork.
    let after = turns.load(Ordering::Relaxed);
    let t1 = now_ns();
    while turns.load(Ordering::Relaxed) < after + 10 && now_ns() - t1 < 2_000_000_000 {
        core::hint::spin_loop();
    }
    let later = turns.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    if let Ok(sibling) = sibling {
        sibling.join();
    }
    checks.check(
        "many-grants: the fork with alternating pins takes about as long as with uniform ones",
        matches!((uniform, alternating), (Ok(uniform), Ok(took)) if took < FORK_FACTOR * uniform + FORK_SLACK_NS),
        format_args!("fastest of {FORKS}: {alternating:?} ns, uniform {uniform:?} ns"),
    );
    checks.check(
        "many-grants: the sibling thread keeps running",
        before >= 10 && later >= after + 10,
        format_args!("turns {before} → {after} → {later}"),
    );
    if let Ok(first) = first {
        let _ = sys::kill(first, SIGKILL);
        let _ = reap(first);
    }
    let unmapped = unmap(addr, len);
    checks.check("many-grants: munmap", unmapped.is_ok(), format_args!("{unmapped:?}"));
    let _ = sys::close(fd);
}
