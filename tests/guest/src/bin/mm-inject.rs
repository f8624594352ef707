//! `mm-inject`: every memory call is a transaction. With the N-th next
//! frame allocation made to fail (`frame N` written to `sys:inject`), the
//! call fails with ENOMEM and leaves the address space (`sys:maps`, byte
//! for byte) and the free-frame count exactly as they were; N is swept
//! from 0 up until the call succeeds (at most [`CAP`]).
//!
//! Each operation runs in its own forked child (lines prefixed
//! `mm-inject <op>:`), after one unarmed run so that the page tables, heap
//! and stack it uses exist already: then the only frames a call takes are
//! the ones under test. Between arming and disarming the program touches no
//! memory it has not touched before, so the injected failure can only hit
//! the call.
//!
//! | op | the call | checks (besides ENOMEM and the unchanged snapshot) |
//! |---|---|---|
//! | mmap-populate | mmap of 16 pages with MAP_POPULATE | N = 0 fails |
//! | fixed-replace | MAP_FIXED\|MAP_POPULATE over 16 populated pages | N = 0 fails; the old pages keep their data |
//! | mremap-move | MAYMOVE growth 16 → 32 pages of a mapping with a neighbour after it | the pages keep their data at the old place |
//! | mremap-far (not run yet: see `main`) | MAYMOVE\|FIXED of 16 populated pages into an empty 512 GiB region, whose page tables are new: a call failing part-way must give back the tables it made too | N = 0 fails; the data stays at the old place |
//! | fork | fork of the process with 16 written pages | N = 0 fails; afterwards writing the 16 pages takes no frame (their reference counts are back to 1) |
//! | cow-fault | a child arms the injection and writes 16 pages it shares with the parent | the child is killed (any signal) while allocations fail, exits 0 after; the parent's data and free frames are as before each child |
//!
//! Each op prints `mm-inject: <op>: swept K values of N` (how many failing
//! N it saw before the call succeeded). An N whose attempt goes wrong is
//! tried once more after the free-frame count has been still for a while,
//! and counts as a failure only if it goes wrong again: a transaction bug
//! repeats; a frame another CPU frees late for an earlier process does not.
//!
//! The `fork` op forks and disarms in one assembly block: after a fork the
//! parent's stack is copy-on-write, so any store before the disarm would
//! itself take a frame (and could be the one that fails).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use tessera_guest_tests::mm::{
    PAGE, fill, frames_back_exactly, group, map_filled_with, pattern, read_word, unmap, write_word,
};
use tessera_guest_tests::system::{fork_with, quiet_free_frames, reap, settled_free_frames};
use tessera_guest_tests::{Checks, errno_name};
use tessera_runtime::abi::TimeSpec;
use tessera_runtime::abi::error::{EINVAL, ENOMEM, ENOSPC};
use tessera_runtime::abi::flag::{O_RDONLY, O_WRONLY};
use tessera_runtime::mm::{
    self, ANONYMOUS_FD, MAP_FIXED, MAP_POPULATE, MAP_PRIVATE, MREMAP_FIXED, MREMAP_MAYMOVE, PROT_READ, PROT_RW,
};
use tessera_runtime::{Args, Error, Result, println, probe, sys};

tessera_runtime::entry!(main);

/// Pages each operation works on.
const PAGES: usize = 16;
/// The largest N tried.
const CAP: usize = 200;
/// Room for the text of `sys:maps`.
const MAPS_BYTES: usize = 64 * 1024;
/// Candidate targets of the `mremap-far` op: each the start of a 512 GiB
/// region (one top-level table entry on both arches).
const FAR_REGIONS: [usize; 6] =
    [0x1000_0000_0000, 0x2000_0000_0000, 0x3000_0000_0000, 0x4000_0000_0000, 0x5000_0000_0000, 0x6000_0000_0000];
const FAR_REGION_BYTES: usize = 1 << 39;

/// Exit statuses of a `cow-fault` child that could not do its part.
const CHILD_NO_INJECT: i32 = 5;
const CHILD_ARM_FAILED: i32 = 6;
/// An N no call here reaches: arms without effect.
const UNREACHED: usize = 1_000_000;

fn main(_args: Args) -> i32 {
    let mut checks = Checks::new("mm-inject");
    match sys::open("sys:inject", O_WRONLY) {
        Ok(fd) => {
            let _ = sys::close(fd);
        }
        Err(e) => {
            checks.check("open sys:inject for writing", false, format_args!("{} = {}", errno_name(e.errno), e.errno));
            return checks.finish();
        }
    }
    wait_quiet();
    let before = free_frames_now().ok();
    group(&mut checks, "mm-inject mmap-populate", mmap_populate);
    group(&mut checks, "mm-inject fixed-replace", fixed_replace);
    group(&mut checks, "mm-inject mremap-move", mremap_move);
    // A move into a region with no page tables: a failure part-way must
    // free the tables it made too.
    group(&mut checks, "mm-inject mremap-far", mremap_far);
    group(&mut checks, "mm-inject fork", fork);
    group(&mut checks, "mm-inject cow-fault", cow_fault);
    frames_back_exactly(&mut checks, before);
    checks.finish()
}

// ---- the injection and the snapshots -------------------------------------

/// `sys:inject`, open for writing.
struct Injector {
    fd: usize,
}

impl Injector {
    fn open() -> Result<Self> {
        sys::open("sys:inject", O_WRONLY).map(|fd| Self { fd })
    }

    /// Makes the N-th next frame allocation of this process fail.
    fn arm(&self, n: usize) -> Result<()> {
        let mut text = [0u8; 32];
        let len = command(n, &mut text);
        sys::write(self.fd, &text[..len]).map(drop)
    }

    /// Clears it.
    fn disarm(&self) -> Result<()> {
        sys::write(self.fd, DISARM).map(drop)
    }
}

impl Drop for Injector {
    fn drop(&mut self) {
        let _ = sys::close(self.fd);
    }
}

/// What clears the injection.
const DISARM: &[u8] = b"off";

/// `frame N` in `text`, without the heap; its length.
fn command(n: usize, text: &mut [u8; 32]) -> usize {
    const PREFIX: &[u8] = b"frame ";
    text[..PREFIX.len()].copy_from_slice(PREFIX);
    let mut digits = [0u8; 20];
    let (mut value, mut count) = (n, 0);
    loop {
        digits[count] = b'0' + (value % 10) as u8;
        count += 1;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    for i in 0..count {
        text[PREFIX.len() + i] = digits[count - 1 - i];
    }
    PREFIX.len() + count
}

/// Reads the whole file at `path` into `buf`; its length. Errors: those of
/// open / read; `ENOSPC` the file does not fit.
fn read_into(path: &str, buf: &mut [u8]) -> Result<usize> {
    let fd = sys::open(path, O_RDONLY)?;
    let mut len = 0;
    let result = loop {
        if len == buf.len() {
            break Err(Error::new(ENOSPC));
        }
        match sys::read(fd, &mut buf[len..]) {
            Ok(0) => break Ok(len),
            Ok(n) => len += n,
            Err(e) => break Err(e),
        }
    };
    let _ = sys::close(fd);
    result
}

/// The free frames, read into a stack buffer (no heap).
fn free_frames_now() -> Result<usize> {
    let mut text = [0u8; 512];
    let len = read_into("sys:memory", &mut text)?;
    let text = core::str::from_utf8(&text[..len]).map_err(|_| Error::new(EINVAL))?;
    text.lines()
        .find_map(|line| line.strip_prefix("free_frames "))
        .and_then(|n| n.trim().parse().ok())
        .ok_or(Error::new(EINVAL))
}

/// `sys:maps` and the free frames at one moment, in buffers allocated (and
/// touched) up front, so taking one allocates nothing.
struct Snapshot {
    text: Vec<u8>,
    len: usize,
    free_frames: usize,
}

impl Snapshot {
    fn new() -> Self {
        // Written, not just allocated: every page is resident from here on.
        let mut text = vec![0u8; MAPS_BYTES];
        text.fill(b' ');
        Self { text, len: 0, free_frames: 0 }
    }

    fn take(&mut self) -> Result<()> {
        self.len = read_into("sys:maps", &mut self.text)?;
        self.free_frames = free_frames_now()?;
        Ok(())
    }

    fn maps(&self) -> &str {
        core::str::from_utf8(&self.text[..self.len]).unwrap_or("(not UTF-8)")
    }

    /// What differs from `before`, if anything, taking the after-snapshot
    /// again for a moment while only the frame count differs (a frame
    /// another CPU frees a moment late).
    fn differs_from(&mut self, before: &Snapshot) -> Option<String> {
        for _ in 0..20 {
            if let Err(e) = self.take() {
                return Some(alloc::format!("reading sys:maps / sys:memory failed: {}", errno_name(e.errno)));
            }
            if self.maps() != before.maps() {
                let line = before.maps().lines().zip(self.maps().lines()).find(|(b, a)| b != a);
                return Some(match line {
                    Some((b, a)) => alloc::format!("sys:maps changed: `{b}` became `{a}`"),
                    None => alloc::format!(
                        "sys:maps changed: {} lines before, {} after",
                        before.maps().lines().count(),
                        self.maps().lines().count()
                    ),
                });
            }
            if self.free_frames == before.free_frames {
                return None;
            }
            let _ = sys::nanosleep(&TimeSpec { tv_sec: 0, tv_nsec: 2_000_000 }, None);
        }
        Some(alloc::format!(
            "free_frames {} before the call, {} after ({} frames not given back)",
            before.free_frames,
            self.free_frames,
            before.free_frames as isize - self.free_frames as isize
        ))
    }
}

/// One operation's sweep: its name and the closures the driver calls.
struct Sweep<'a> {
    /// The call under test, run while armed. `Ok` ends the sweep.
    run: &'a mut dyn FnMut() -> Result<usize>,
    /// After a failed call (disarmed, before the after-snapshot): what is
    /// wrong with the operation's own data, if anything.
    check_data: &'a mut dyn FnMut() -> Option<String>,
    /// After the call succeeded: clean up what it made.
    undo: &'a mut dyn FnMut(usize),
    /// Whether the call must need at least one frame (N = 0 fails).
    needs_a_frame: bool,
}

/// How one armed attempt went.
enum Attempt {
    /// The call succeeded (and was undone).
    Succeeded,
    /// It failed with ENOMEM and left everything as it was.
    Clean,
    /// It failed, but not as it should: what was wrong.
    Wrong(String),
}

/// Arms the `n`-th allocation, runs the call, disarms, and compares.
/// Errors: the snapshot or the injection itself failed (what failed).
fn attempt(
    n: usize,
    injector: &Injector,
    sweep: &mut Sweep<'_>,
    before: &mut Snapshot,
    after: &mut Snapshot,
) -> core::result::Result<Attempt, String> {
    let fatal = |what: &str, e: Error| alloc::format!("{what}: {} = {}", errno_name(e.errno), e.errno);
    before.take().map_err(|e| fatal("snapshot", e))?;
    injector.arm(n).map_err(|e| fatal("write `frame N` to sys:inject", e))?;
    let result = (sweep.run)();
    injector.disarm().map_err(|e| fatal("write `off` to sys:inject", e))?;
    Ok(match result {
        Ok(value) => {
            (sweep.undo)(value);
            Attempt::Succeeded
        }
        Err(e) if e.errno != ENOMEM => {
            Attempt::Wrong(alloc::format!("the call gave {} = {}, not ENOMEM", errno_name(e.errno), e.errno))
        }
        Err(_) => match (sweep.check_data)().or_else(|| after.differs_from(before)) {
            Some(wrong) => Attempt::Wrong(wrong),
            None => Attempt::Clean,
        },
    })
}

/// Waits until the free-frame count has not moved for a while (at most
/// about a second): frames of processes that ended earlier (a kernel stack
/// another CPU frees a moment late) must not land inside a comparison.
fn wait_quiet() {
    let mut last = free_frames_now().unwrap_or(0);
    let mut stable = 0;
    for _ in 0..200 {
        let _ = sys::nanosleep(&TimeSpec { tv_sec: 0, tv_nsec: 5_000_000 }, None);
        let now = free_frames_now().unwrap_or(0);
        stable = if now == last { stable + 1 } else { 0 };
        last = now;
        if stable == 4 {
            return;
        }
    }
}

/// Sweeps N = 0, 1, … until the call succeeds; records the checks. An N
/// whose attempt goes wrong is tried once more after [`wait_quiet`]: a
/// transaction bug repeats, a frame freed late by an unrelated process
/// does not.
fn sweep(checks: &mut Checks, op: &str, mut sweep: Sweep<'_>) {
    let Ok(injector) = Injector::open() else {
        return checks.check("open sys:inject", false, format_args!("failed"));
    };
    let (mut before, mut after) = (Snapshot::new(), Snapshot::new());
    // Once each, so everything they touch is resident already, and the
    // stack below this frame is this process's own.
    let _ = (before.take(), after.take(), injector.disarm());
    touch_stack_below();
    wait_quiet();
    let mut problem: Option<String> = None;
    let mut succeeded_at = None;
    for n in 0..=CAP {
        let mut outcome = attempt(n, &injector, &mut sweep, &mut before, &mut after);
        if matches!(outcome, Ok(Attempt::Wrong(_))) {
            wait_quiet();
            outcome = attempt(n, &injector, &mut sweep, &mut before, &mut after);
        }
        match outcome {
            Err(fatal) => return checks.check("the sweep's own calls", false, format_args!("N = {n}: {fatal}")),
            Ok(Attempt::Succeeded) => {
                succeeded_at = Some(n);
                break;
            }
            Ok(Attempt::Clean) => {}
            Ok(Attempt::Wrong(wrong)) => {
                problem.get_or_insert(alloc::format!("N = {n} (twice): {wrong}"));
            }
        }
    }
    report(checks, op, succeeded_at, sweep.needs_a_frame, problem);
}

/// The checks of a finished sweep, and the line saying how far it went.
fn report(checks: &mut Checks, op: &str, succeeded_at: Option<usize>, needs_a_frame: bool, problem: Option<String>) {
    match succeeded_at {
        Some(n) => println!("mm-inject: {op}: swept {n} values of N"),
        None => println!("mm-inject: {op}: swept {} values of N without a success", CAP + 1),
    }
    if needs_a_frame {
        checks.check(
            "with the very next allocation failing, the call fails",
            succeeded_at != Some(0),
            format_args!("the call succeeded at N = 0: the injection did not reach it"),
        );
    }
    checks.check(
        &alloc::format!("the call succeeds once N is past its allocations (N ≤ {CAP})"),
        succeeded_at.is_some(),
        format_args!("still failing at N = {CAP}"),
    );
    checks.check(
        "every failed attempt: ENOMEM, sys:maps and free frames exactly as before",
        problem.is_none(),
        format_args!("{}", problem.as_deref().unwrap_or("")),
    );
}

// ---- memory helpers --------------------------------------------------------

/// What is wrong with the pattern at `addr`, if anything.
fn data_problem(addr: usize, pages: usize, tag: u64) -> Option<String> {
    (0..pages)
        .find(|&page| read_word(addr + page * PAGE) != pattern(tag, page))
        .map(|page| alloc::format!("page {page} at {addr:#x} lost its data"))
}

// ---- operations ------------------------------------------------------------

fn mmap_populate(checks: &mut Checks) {
    let mut run = || mm::mmap_anonymous(PAGES * PAGE, PROT_RW, MAP_PRIVATE | MAP_POPULATE);
    let mut undo = |addr: usize| {
        let _ = unmap(addr, PAGES * PAGE);
    };
    // The unarmed run: page tables for where the mapping goes.
    match run() {
        Ok(addr) => undo(addr),
        Err(e) => return checks.check("mmap (unarmed)", false, format_args!("{}", errno_name(e.errno))),
    }
    let mut check_data = || None;
    sweep(
        checks,
        "mmap-populate",
        Sweep { run: &mut run, check_data: &mut check_data, undo: &mut undo, needs_a_frame: true },
    );
}

fn fixed_replace(checks: &mut Checks) {
    let Some(addr) = map_filled_with(checks, PAGES, 0x10, MAP_PRIVATE) else { return };
    let mut run = || {
        // SAFETY: over this test's own 16 pages, holding no Rust object.
        unsafe { mm::mmap(addr, PAGES * PAGE, PROT_RW, MAP_PRIVATE | MAP_FIXED | MAP_POPULATE, ANONYMOUS_FD, 0) }
    };
    // The unarmed run, then the pattern back.
    if let Err(e) = run() {
        return checks.check("MAP_FIXED (unarmed)", false, format_args!("{}", errno_name(e.errno)));
    }
    fill(addr, PAGES, 0x10);
    let mut check_data = || data_problem(addr, PAGES, 0x10);
    let mut undo = |_| {};
    sweep(
        checks,
        "fixed-replace",
        Sweep { run: &mut run, check_data: &mut check_data, undo: &mut undo, needs_a_frame: true },
    );
    let _ = unmap(addr, PAGES * PAGE);
}

/// 17 populated pages, the last one made read-only: a 16-page mapping that
/// cannot grow in place. Its address, or a failed check.
fn blocked_mapping(checks: &mut Checks, tag: u64) -> Option<usize> {
    let addr = match mm::mmap_anonymous((PAGES + 1) * PAGE, PROT_RW, MAP_PRIVATE | MAP_POPULATE) {
        Ok(addr) => addr,
        Err(e) => {
            checks.check("mmap", false, format_args!("{}", errno_name(e.errno)));
            return None;
        }
    };
    fill(addr, PAGES, tag);
    // SAFETY: this test's own page, holding no Rust object.
    if unsafe { mm::mprotect(addr + PAGES * PAGE, PAGE, PROT_READ) }.is_err() {
        checks.check("mprotect", false, format_args!("failed"));
        return None;
    }
    Some(addr)
}

fn mremap_move(checks: &mut Checks) {
    let grow = |addr: usize| {
        // SAFETY: this test's own mapping, holding no Rust object.
        unsafe { mm::mremap(addr, PAGES * PAGE, 0, 2 * PAGES * PAGE, MREMAP_MAYMOVE) }
    };
    // The unarmed run: page tables where it moves to.
    let Some(first) = blocked_mapping(checks, 0x20) else { return };
    match grow(first) {
        Ok(moved) => {
            let _ = unmap(moved, 2 * PAGES * PAGE);
        }
        Err(e) => return checks.check("mremap (unarmed)", false, format_args!("{}", errno_name(e.errno))),
    }
    let _ = unmap(first, (PAGES + 1) * PAGE);
    let Some(addr) = blocked_mapping(checks, 0x20) else { return };
    let mut run = || grow(addr);
    let mut check_data = || data_problem(addr, PAGES, 0x20);
    let mut undo = |moved: usize| {
        let _ = unmap(moved, 2 * PAGES * PAGE);
    };
    sweep(
        checks,
        "mremap-move",
        Sweep { run: &mut run, check_data: &mut check_data, undo: &mut undo, needs_a_frame: false },
    );
    let _ = unmap(addr, (PAGES + 1) * PAGE);
}

fn mremap_far(checks: &mut Checks) {
    // Two regions with nothing mapped in them: one for the unarmed run, one
    // (with no page tables yet) for the sweep.
    let Ok(listing) = mm::read_maps() else { return checks.check("read sys:maps", false, format_args!("failed")) };
    let mut empty = FAR_REGIONS.iter().copied().filter(|&r| listing.overlapping(r, r + FAR_REGION_BYTES).count() == 0);
    let (Some(warm), Some(target)) = (empty.next(), empty.next()) else {
        return checks.check("two empty 512 GiB regions", false, format_args!("none free"));
    };
    let move_to = |addr: usize, to: usize| {
        // SAFETY: this test's own mapping, to an empty region.
        unsafe { mm::mremap(addr, PAGES * PAGE, to, PAGES * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED) }
    };
    let Some(first) = map_filled_with(checks, PAGES, 0x30, MAP_PRIVATE) else { return };
    match move_to(first, warm) {
        Ok(moved) => {
            let _ = unmap(moved, PAGES * PAGE);
        }
        Err(e) => return checks.check("mremap FIXED (unarmed)", false, format_args!("{}", errno_name(e.errno))),
    }
    let Some(addr) = map_filled_with(checks, PAGES, 0x30, MAP_PRIVATE) else { return };
    let mut run = || move_to(addr, target);
    let mut check_data = || data_problem(addr, PAGES, 0x30);
    let mut undo = |moved: usize| {
        let _ = unmap(moved, PAGES * PAGE);
    };
    sweep(
        checks,
        "mremap-far",
        Sweep { run: &mut run, check_data: &mut check_data, undo: &mut undo, needs_a_frame: true },
    );
    let _ = unmap(addr, PAGES * PAGE);
}

fn fork(checks: &mut Checks) {
    let Some(addr) = map_filled_with(checks, PAGES, 0x40, MAP_PRIVATE) else { return };
    let Ok(injector) = Injector::open() else { return checks.check("open sys:inject", false, format_args!("")) };
    let mut run = || -> Result<usize> {
        let pid = tessera_runtime::syscall::demux(probe::fork_then_write(injector.fd, DISARM))?;
        let _ = reap(pid);
        Ok(pid)
    };
    // The unarmed run; then write the pages, so none is shared any more.
    if let Err(e) = run() {
        return checks.check("fork (unarmed)", false, format_args!("{}", errno_name(e.errno)));
    }
    fill(addr, PAGES, 0x40);
    let mut tag = 0x40;
    let mut check_data = || {
        // Written after the failed fork: a page whose reference count the
        // fork left raised would be copied now, and the frame count would
        // show it.
        let problem = data_problem(addr, PAGES, tag);
        tag += 1;
        fill(addr, PAGES, tag);
        problem
    };
    let mut undo = |_| {};
    sweep(checks, "fork", Sweep { run: &mut run, check_data: &mut check_data, undo: &mut undo, needs_a_frame: true });
    let _ = unmap(addr, PAGES * PAGE);
}

/// Writes to the stack below the caller's frame, so the pages the next
/// calls use are this process's own (copied) before the injection is armed.
#[inline(never)]
fn touch_stack_below() {
    let mut area = [0u8; 16 * 1024];
    for byte in area.iter_mut().step_by(512) {
        *byte = 1;
    }
    core::hint::black_box(&mut area);
}

/// The `cow-fault` child: arms the N-th allocation, then writes all pages
/// (each a copy-on-write fault).
fn cow_child(addr: usize, n: usize) -> i32 {
    let Ok(injector) = Injector::open() else { return CHILD_NO_INJECT };
    touch_stack_below();
    if injector.arm(n).is_err() {
        return CHILD_ARM_FAILED;
    }
    for page in 0..PAGES {
        write_word(addr + page * PAGE, !pattern(0x50, page));
    }
    let _ = injector.disarm();
    0
}

/// One `cow-fault` child with the `n`-th allocation failing: how it went.
/// Errors: the fork or the wait failed.
fn cow_attempt(addr: usize, n: usize) -> core::result::Result<Attempt, String> {
    let before = quiet_free_frames(5).map_err(|e| alloc::format!("read sys:memory: {}", errno_name(e.errno)))?;
    let status = match fork_with(|| cow_child(addr, n)).and_then(reap) {
        Ok((_, status)) => status,
        Err(e) => return Err(alloc::format!("fork/waitpid: {}", errno_name(e.errno))),
    };
    if status.success() {
        return Ok(Attempt::Succeeded);
    }
    if status.signal().is_none() {
        let why = match status.code().map(|c| c as i32) {
            Some(CHILD_NO_INJECT) => " (it could not open sys:inject)",
            Some(CHILD_ARM_FAILED) => " (writing `frame N` failed)",
            _ => "",
        };
        return Ok(Attempt::Wrong(alloc::format!("the child {status}{why} instead of being killed")));
    }
    if let Some(wrong) = data_problem(addr, PAGES, 0x50) {
        return Ok(Attempt::Wrong(alloc::format!("in the parent, {wrong}")));
    }
    let after = settled_free_frames(before, 100).unwrap_or(0);
    Ok(if after == before {
        Attempt::Clean
    } else {
        Attempt::Wrong(alloc::format!("free_frames {before} before the child, {after} after it was killed ({status})"))
    })
}

fn cow_fault(checks: &mut Checks) {
    let Some(addr) = map_filled_with(checks, PAGES, 0x50, MAP_PRIVATE) else { return };
    // The unarmed run: a child that writes all pages (with N past CAP).
    let _ = fork_with(|| cow_child(addr, UNREACHED)).and_then(reap);
    wait_quiet();
    let mut problem = None;
    let mut succeeded_at = None;
    for n in 0..=CAP {
        let mut outcome = cow_attempt(addr, n);
        if matches!(outcome, Ok(Attempt::Wrong(_))) {
            wait_quiet();
            outcome = cow_attempt(addr, n);
        }
        match outcome {
            Err(fatal) => return checks.check("the sweep's own calls", false, format_args!("N = {n}: {fatal}")),
            Ok(Attempt::Succeeded) => {
                succeeded_at = Some(n);
                break;
            }
            Ok(Attempt::Clean) => {}
            Ok(Attempt::Wrong(wrong)) => {
                problem.get_or_insert(alloc::format!("N = {n} (twice): {wrong}"));
            }
        }
    }
    match succeeded_at {
        Some(n) => println!("mm-inject: cow-fault: swept {n} values of N"),
        None => println!("mm-inject: cow-fault: swept {} values of N without a success", CAP + 1),
    }
    checks.check(
        "with the very next allocation failing, the writing child is killed",
        succeeded_at != Some(0),
        format_args!("the child's 16 copy-on-write faults went through at N = 0"),
    );
    checks.check(
        &alloc::format!("the child's writes go through once N is past its 16 faults (N ≤ {CAP})"),
        succeeded_at.is_some(),
        format_args!("still failing at N = {CAP}"),
    );
    checks.check(
        "every killed child: killed by a signal, no frame leaked, the parent's data intact",
        problem.is_none(),
        format_args!("{}", problem.as_deref().unwrap_or("")),
    );
    let _ = unmap(addr, PAGES * PAGE);
}
