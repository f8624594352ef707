//! `mm-fuzz`: random memory calls — mmap (private and shared anonymous
//! memory, the `memory:` object, ramfs files shared and private), munmap,
//! mprotect, mremap, madvise, msync — with loads, stores, `read()` /
//! `write()` of the files, fork and threads, and bad arguments, all
//! confined to an arena of [`model::ARENA`] pages, each checked against a
//! model of what every page must hold and which accesses must fault.
//!
//! `mm-fuzz [OPS [SEED]]` (defaults [`DEFAULT_OPS`], [`DEFAULT_SEED`];
//! SEED decimal or `0x` hex) prints `mm-fuzz: seed S ops N` first, so a
//! failing run can be repeated exactly. `make fuzz arch=… ops=N seed=S`
//! boots an image that runs only this (docs/mm.md "Fuzzing").
//!
//! # How it runs
//! 1. A private `ramfs mmfuzz` serves the files ([`FILES`]); a short
//!    warm-up run (so kernel state made once is not counted), then the
//!    baseline: free frames, kernel heap use, ramfs pins.
//! 2. The run, in a forked child (its page tables go with it): the arena is
//!    a fixed range between two guard pages (one shared PROT_NONE object,
//!    which no arena mapping can merge with); every call names arena pages
//!    only, or lets the kernel place the result (a hint, MAYMOVE), which
//!    then must be free in the model or outside the arena (checked and
//!    unmapped at once). After each call the pages it named are checked
//!    (content, and by the model's rules: a child proves a fault); every
//!    [`FULL_CHECK_EVERY`] calls and at the end, every page, `sys:maps`
//!    (permissions, shared/private, kind of each page) and ramfs's pins.
//! 3. At the first disagreement the run stops and prints the seed, the
//!    operation number, what differed and the last 40 operations.
//! 4. Afterwards: pins back to the baseline, free frames exactly back
//!    (frames the kernel heap grew by excepted), heap use within
//!    [`HEAP_SLACK_BYTES`] of the baseline.
//!
//! Split in modules: [`model`] (the pages and objects), [`ops`] (the
//! calls), [`remap`] (mremap's prediction), [`procs`] (faults, fork,
//! threads, the held child), [`invalid`] (bad arguments).
#![no_std]
#![no_main]

extern crate alloc;

mod invalid;
mod model;
mod ops;
mod procs;
mod remap;

use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

use tessera_guest_tests::mm::{Memory, frames_back, heap_used_bytes, now_ns};
use tessera_guest_tests::system::{fork_with, reap};
use tessera_guest_tests::{Checks, errno_name, ramfs};
use tessera_runtime::abi::flag::{O_CREAT, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, SEEK_SET};
use tessera_runtime::abi::signal::SIGKILL;
use tessera_runtime::mm::{self, ANONYMOUS_FD, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PROT_NONE, PROT_RW};
use tessera_runtime::{Args, io, println, process, sys};

use model::{ARENA, Model, ObjKind};
use ops::{FileObj, Fuzzer, MemObj, PAGE};

tessera_runtime::entry!(main);

/// Operations when none are given (what the guest suite runs).
pub const DEFAULT_OPS: u64 = 100_000;
/// The seed when none is given.
pub const DEFAULT_SEED: u64 = 0x6D6D_F022_0000_0001;
/// Operations of the warm-up run.
const WARM_UP_OPS: u64 = 300;
/// A full check (every page, `sys:maps`, pins) every this many operations.
const FULL_CHECK_EVERY: u64 = 500;
/// Kernel heap bytes in use the run may leave behind: allocations the
/// kernel keeps once made (tables that grew to a new high-water mark).
const HEAP_SLACK_BYTES: usize = 16 * 1024;
/// The private ramfs's scheme.
const SCHEME: &str = "mmfuzz";
/// The files: name and size in pages.
const FILES: [(&str, usize); 2] = [("/big", 16), ("/small", 5)];
/// Pages of the `memory:shared` object.
const MEMORY_OBJECT_PAGES: usize = 12;

/// The operations and their weights (per 1000 draws).
const OPS: [(&str, u64); 15] = [
    ("mmap", 110),
    ("munmap", 50),
    ("mprotect", 80),
    ("mremap", 80),
    ("madvise", 50),
    ("msync", 30),
    ("store", 250),
    ("load", 220),
    ("write()", 30),
    ("read()", 30),
    ("fault", 12),
    ("fork", 4),
    ("threads", 4),
    ("invalid", 30),
    ("hold", 3),
];

fn main(args: Args) -> i32 {
    let argv = args.argv();
    let ops = argv.get(1).and_then(|a| parse(a)).unwrap_or(DEFAULT_OPS);
    let seed = argv.get(2).and_then(|a| parse(a)).unwrap_or(DEFAULT_SEED);
    println!("mm-fuzz: seed {seed:#x} ops {ops}");
    let mut checks = Checks::new("mm-fuzz");
    let Some(daemon) = ramfs::start(&mut checks, SCHEME) else { return checks.finish() };
    let files = match open_files() {
        Ok(files) => files,
        Err(e) => {
            checks.check("create the files", false, format_args!("{} = {}", errno_name(e.errno), e.errno));
            return stop(checks, daemon);
        }
    };
    let warm = run_child(&files, WARM_UP_OPS, seed ^ 0xA5A5, false);
    checks.check("warm-up run", warm, format_args!("failed (see above)"));
    let before = Memory::read();
    let heap_before = heap_used_bytes();
    let pins_before = pins_total();
    let start = now_ns();
    let passed = run_child(&files, ops, seed, true);
    let ms = (now_ns() - start) / 1_000_000;
    checks.check(
        "the run agrees with the model",
        passed,
        format_args!("seed {seed:#x} ops {ops}: repeat with `make fuzz arch=… ops={ops} seed={seed:#x}`"),
    );
    println!("mm-fuzz: {ops} operations in {ms} ms (seed {seed:#x})");
    let pins = pins_total();
    checks.check(
        "ramfs pins as before",
        pins.is_some() && pins == pins_before,
        format_args!("{pins_before:?} before, {pins:?} after"),
    );
    frames_back(&mut checks, before);
    let heap_after = heap_used_bytes();
    println!("mm-fuzz: kernel heap_used_bytes {heap_before:?} before, {heap_after:?} after");
    let heap_ok = matches!((heap_before, heap_after), (Some(b), Some(a)) if a <= b + HEAP_SLACK_BYTES);
    checks.check(
        "kernel heap use as before",
        heap_ok,
        format_args!("heap_used_bytes {heap_before:?} before, {heap_after:?} after (slack {HEAP_SLACK_BYTES})"),
    );
    for f in &files {
        let _ = (sys::close(f.fd), sys::close(f.ro_fd));
    }
    stop(checks, daemon)
}

/// Stops the private ramfs and gives the exit status.
fn stop(checks: Checks, daemon: usize) -> i32 {
    let _ = sys::kill(daemon, SIGKILL);
    let _ = process::wait(daemon);
    checks.finish()
}

/// A decimal or `0x` hex number.
fn parse(text: &str) -> Option<u64> {
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// Creates the files (zeroes) and opens each read-write and read-only.
fn open_files() -> tessera_runtime::Result<Vec<FileObj>> {
    let mut files = Vec::new();
    for (k, (name, _)) in FILES.iter().enumerate() {
        let path = format!("{SCHEME}:{name}");
        let fd = sys::open(&path, O_CREAT | O_TRUNC | O_RDWR)?;
        let ro_fd = sys::open(&path, O_RDONLY)?;
        files.push(FileObj { fd, ro_fd, obj: k as u32 });
    }
    Ok(files)
}

/// ramfs's total pins (`/.ramfs/pins`'s last line).
pub fn pins_total() -> Option<usize> {
    let text = io::read_file(&format!("{SCHEME}:/.ramfs/pins")).ok()?;
    let text = core::str::from_utf8(&text).ok()?;
    text.lines().last()?.strip_prefix("total ")?.trim().parse().ok()
}

/// Runs `ops` operations with `seed` in a forked child; whether it passed.
fn run_child(files: &[FileObj], ops: u64, seed: u64, report: bool) -> bool {
    let child = fork_with(|| fuzz(files, ops, seed, report));
    match child.and_then(reap) {
        Ok((_, status)) if status.success() => true,
        Ok((_, status)) => {
            println!("mm-fuzz: the run (seed {seed:#x}) ended with {status}");
            false
        }
        Err(e) => {
            println!("mm-fuzz: fork/waitpid: {e}");
            false
        }
    }
}

/// The run: sets up the arena, the files and the `memory:` object, makes
/// `ops` operations, checks everything, unmaps the arena; the exit status.
fn fuzz(files: &[FileObj], ops: u64, seed: u64, report: bool) -> i32 {
    let Some(mut f) = setup(files, seed) else { return 2 };
    let total: u64 = OPS.iter().map(|(_, w)| w).sum();
    for op in 0..ops {
        f.op = op;
        let mut draw = f.rng.below(total as usize) as u64;
        let kind = OPS
            .iter()
            .position(|&(_, w)| {
                draw < w || {
                    draw -= w;
                    false
                }
            })
            .unwrap_or(0);
        f.counts[kind] += 1;
        f.kind = kind;
        match kind {
            0 => f.mmap(),
            1 => f.munmap(),
            2 => f.mprotect(),
            3 => f.mremap(),
            4 => f.madvise(),
            5 => f.msync(),
            6 => f.write(),
            7 => f.read(),
            8 => f.file_write(),
            9 => f.file_read(),
            10 => f.fault(),
            11 => f.fork(),
            12 => f.threads(),
            13 => f.invalid(),
            _ => f.hold(),
        }
        f.release_held(false);
        if f.failure.is_none() && (op + 1) % FULL_CHECK_EVERY == 0 {
            f.full_check();
        }
        if f.failure.is_some() {
            return failed(&f);
        }
    }
    f.op = ops;
    f.release_held(true);
    f.full_check();
    // SAFETY: the arena holds no Rust object.
    let unmapped = unsafe { mm::munmap(f.base, ARENA * PAGE) };
    f.m.pages.fill(None);
    if unmapped.is_err() {
        f.fail(format_args!("munmap of the whole arena failed"));
    } else if pins_total() != Some(0) {
        f.fail(format_args!("ramfs pins {:?} with the arena unmapped, expected 0", pins_total()));
    }
    if f.failure.is_some() {
        return failed(&f);
    }
    if report {
        let mut line = alloc::string::String::from("mm-fuzz: ops:");
        for (k, (name, _)) in OPS.iter().enumerate() {
            match f.succeeded[k] {
                0 => line.push_str(&format!(" {name} {}", f.counts[k])),
                ok => line.push_str(&format!(" {name} {} ({ok} ok)", f.counts[k])),
            }
        }
        println!("{line}");
        println!(
            "mm-fuzz: {} calls failed with ENOMEM by an injected allocation failure, changing nothing",
            f.injected_failures
        );
    }
    0
}

/// Prints the failure report; the exit status.
fn failed(f: &Fuzzer) -> i32 {
    println!("mm-fuzz: FAILED at operation {} (seed {:#x}): {}", f.op, f.seed, f.failure.as_deref().unwrap_or("?"));
    println!("mm-fuzz: the last operations:");
    for line in &f.log {
        println!("mm-fuzz:   {line}");
    }
    1
}

/// The arena between its guards, the files zeroed, the `memory:` object;
/// the fuzzer, or `None` (reported).
fn setup(files: &[FileObj], seed: u64) -> Option<Fuzzer> {
    let fail = |what: &str, e: tessera_runtime::Error| {
        println!("mm-fuzz: setup: {what}: {}", errno_name(e.errno));
        None
    };
    let mut m = Model::new();
    let mut objs = Vec::new();
    for (f, (_, pages)) in files.iter().zip(FILES) {
        let zeroes = vec![0u8; pages * PAGE];
        if let Err(e) = sys::lseek(f.fd, 0, SEEK_SET).and_then(|_| sys::write(f.fd, &zeroes)) {
            return fail("zero a file", e);
        }
        let obj = m.new_object(ObjKind::File, pages);
        objs.push(FileObj { obj, ..*f });
    }
    let memfd = match sys::open("memory:shared", O_RDWR)
        .and_then(|fd| sys::ftruncate(fd, MEMORY_OBJECT_PAGES * PAGE).map(|()| fd))
    {
        Ok(fd) => fd,
        Err(e) => return fail("memory:shared", e),
    };
    let memobj = MemObj { fd: memfd, obj: m.new_object(ObjKind::Memory, MEMORY_OBJECT_PAGES) };
    let outer = match mm::mmap_anonymous((ARENA + 2) * PAGE, PROT_NONE, MAP_SHARED) {
        Ok(outer) => outer,
        Err(e) => return fail("reserve the arena", e),
    };
    let base = outer + PAGE;
    // SAFETY: the middle of the reservation just made.
    if let Err(e) = unsafe { mm::mmap(base, ARENA * PAGE, PROT_RW, MAP_PRIVATE | MAP_FIXED, ANONYMOUS_FD, 0) } {
        return fail("map the arena", e);
    }
    let mut fuzzer = Fuzzer::new(seed, base, objs, memobj, m);
    fuzzer.inject_fd = sys::open("sys:inject", O_WRONLY).ok();
    Some(fuzzer)
}

impl Fuzzer {
    /// Every page's content, `sys:maps` over the arena, ramfs's pins; then
    /// the model forgets objects nothing maps.
    pub fn full_check(&mut self) {
        self.note(format_args!("full check"));
        self.full_check_content();
        match mm::read_maps() {
            Ok(maps) => {
                if let Some(problem) = maps.consistency_error() {
                    self.fail(format_args!("sys:maps: {problem}"));
                }
                for p in 0..ARENA {
                    let entry = maps.find(self.addr(p));
                    let want = self.m.pages[p];
                    let same = match (entry, want) {
                        (None, None) => true,
                        (Some(e), Some(w)) => {
                            e.perms.read == (w.prot & model::R != 0)
                                && e.perms.write == (w.prot & model::W != 0)
                                && e.perms.exec == (w.prot & model::X != 0)
                                && e.perms.shared == w.is_shared()
                                && e.kind.name() == w.kind_name()
                        }
                        _ => false,
                    };
                    if !same {
                        let shown = entry.map(|e| format!("{e}"));
                        self.fail(format_args!("sys:maps at page {p}: {shown:?}, the model has {want:?}"));
                        break;
                    }
                }
            }
            Err(e) => self.fail(format_args!("read sys:maps: {}", errno_name(e.errno))),
        }
        let pins = pins_total();
        // A held child's mappings pin pages of their own.
        if self.held.is_none() && pins != Some(self.m.pins()) {
            self.fail(format_args!("ramfs pins {pins:?}, the model counts {}", self.m.pins()));
        }
        for k in 0..self.files.len() {
            let f = self.files[k];
            let pages = self.m.objects[&f.obj].tags.len();
            for idx in 0..pages {
                self.check_file_page(f, idx);
            }
        }
        self.m.forget_unmapped_objects();
    }
}
