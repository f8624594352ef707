//! `exec-probe`: a program `exec-fmap` runs from a ramfs file to look at
//! its own image from inside. It answers one-byte commands on fd 0 with one
//! line on fd 1:
//!
//! | command | answer |
//! |---|---|
//! | `m` | [`MARKER`], as its page holds it now |
//! | `b` | the sum of [`BIG`]'s bytes (touching its 16 pages) |
//! | `p` | `r--p=N r-xp=M`: how many of its `sys:maps` grants are file mappings (`fmap`) that are read-only and read-execute |
//! | `q` or end of input | exits with 0 |
//!
//! Run as `exec-probe lazy-futex` or `exec-probe lazy-exec` it instead
//! checks that the kernel's own copies from user memory fetch lent pages
//! it has not touched (EFAULT is the bug): a futex wait on a word of its
//! `.rodata` (ETIMEDOUT; EAGAIN for the wrong value), or an `execve` of a
//! path string that sits in an untouched `.rodata` page (`initfs:bin/true`,
//! so the status is 0). See [`lazy_rodata`] for the statuses.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use core::sync::atomic::AtomicU32;

use tessera_runtime::abi::TimeSpec;
use tessera_runtime::abi::error::{EAGAIN, ETIMEDOUT};
use tessera_runtime::io::{read_file, write_all};
use tessera_runtime::{Args, mm, sys};

tessera_runtime::entry!(main);

/// Read-only data `exec-fmap` finds in the file and rewrites there.
static MARKER: [u8; 27] = *b"exec-probe marker: original";

/// 64 KiB of read-only data the probe touches only when asked.
static BIG: [u8; 64 * 1024] = [3; 64 * 1024];

const PAGE: usize = 4096;
/// Where in [`LAZY`] the exec path and the futex word are: pages of their
/// own, which nothing touches before the kernel reads them.
const PATH_AT: usize = PAGE;
const WORD_AT: usize = 2 * PAGE;
const OTHER_WORD_AT: usize = 3 * PAGE;
/// A harmless program to exec (its status is 0).
const TRUE_PATH: &[u8] = b"initfs:bin/true";
/// The futex words' value.
const WORD: u32 = 0x5EED_F00D;

/// Five pages of read-only data, page-aligned, so that the middle ones
/// are lent from the file (not copied like a segment's partial edges).
#[repr(C, align(4096))]
struct Lazy([u8; 5 * PAGE]);

static LAZY: Lazy = Lazy(lazy_bytes());

const fn lazy_bytes() -> [u8; 5 * PAGE] {
    let mut bytes = [0x11u8; 5 * PAGE];
    let mut i = 0;
    while i < TRUE_PATH.len() {
        bytes[PATH_AT + i] = TRUE_PATH[i];
        i += 1;
    }
    let word = WORD.to_le_bytes();
    let mut i = 0;
    while i < 4 {
        bytes[WORD_AT + i] = word[i];
        bytes[OTHER_WORD_AT + i] = word[i];
        i += 1;
    }
    bytes
}

fn main(args: Args) -> i32 {
    match args.argv().get(1) {
        Some(&"lazy-futex") => return lazy_rodata(false),
        Some(&"lazy-exec") => return lazy_rodata(true),
        _ => {}
    }
    let mut command = [0u8; 1];
    loop {
        let answer = match sys::read(0, &mut command) {
            Ok(1) => match command[0] {
                b'm' => marker(),
                b'b' => format!("{}", big_sum()),
                b'p' => file_grants(),
                _ => return 0,
            },
            _ => return 0,
        };
        if write_all(1, format!("{answer}\n").as_bytes()).is_err() {
            return 1;
        }
    }
}

/// The marker, read from memory (not from what the compiler knows of it).
fn marker() -> String {
    MARKER
        .iter()
        // SAFETY: a reference to a byte of a static: valid for reads.
        .map(|byte| char::from(unsafe { core::ptr::read_volatile(byte) }))
        .collect()
}

fn big_sum() -> usize {
    // SAFETY: as in `marker`.
    BIG.iter().map(|byte| usize::from(unsafe { core::ptr::read_volatile(byte) })).sum()
}

fn file_grants() -> String {
    let Ok(text) = read_file("sys:maps") else { return String::from("no sys:maps") };
    let text = String::from_utf8_lossy(&text);
    let count = |perms: &str| text.lines().filter(|l| l.contains(&format!(" {perms} fmap "))).count();
    format!("r--p={} r-xp={}", count("r--p"), count("r-xp"))
}

/// The `lazy-*` modes (module docs). Exit statuses: 0 the futex checks
/// passed (or `true` ran), 2 the pages are not a file mapping (the check
/// would prove nothing), 3 the wait did not time out, 4 the wait with a
/// wrong value was not EAGAIN, 100 + errno the `execve` failed.
fn lazy_rodata(exec: bool) -> i32 {
    let base = LAZY.0.as_ptr() as usize;
    // sys:maps is read without touching LAZY.
    let lent = mm::read_maps()
        .ok()
        .and_then(|maps| maps.entries.into_iter().find(|e| e.contains(base + PATH_AT)))
        .is_some_and(|entry| entry.kind.name() == "fmap" && entry.contains(base + OTHER_WORD_AT));
    if !lent {
        return 2;
    }
    if exec {
        // SAFETY: the bytes are ASCII (TRUE_PATH); made a str without
        // reading them, so their page is first read by the kernel's execve.
        let path = unsafe {
            core::str::from_utf8_unchecked(core::slice::from_raw_parts((base + PATH_AT) as *const u8, TRUE_PATH.len()))
        };
        let error = sys::execve(path, &["true"], &[]);
        return 100 + error.errno;
    }
    // SAFETY: a 4-aligned word of a static; the kernel only reads it.
    let word = unsafe { &*((base + WORD_AT) as *const AtomicU32) };
    let timeout = TimeSpec { tv_sec: 0, tv_nsec: 1_000_000 };
    match sys::futex_wait(word, WORD, Some(&timeout)) {
        Err(e) if e.errno == ETIMEDOUT => {}
        _ => return 3,
    }
    // SAFETY: as above.
    let other = unsafe { &*((base + OTHER_WORD_AT) as *const AtomicU32) };
    match sys::futex_wait(other, WORD + 1, Some(&timeout)) {
        Err(e) if e.errno == EAGAIN => {}
        _ => return 4,
    }
    0
}
