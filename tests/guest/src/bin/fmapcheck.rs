//! `fmapcheck [DIR [PINS-FILE]]`: checks a filesystem scheme's file mappings
//! (fmap) the way programs use them, one line per case. The kit for scheme
//! authors (docs/schemes.md, "Checking a filesystem scheme").
//!
//! `DIR` is a writable directory of the scheme under test (`myfs:/tmp`);
//! `PINS-FILE`, if the scheme has one, is a file whose last line is
//! `total N`, the pages it has lent and not had back (ramfs's
//! `/.ramfs/pins`). Without arguments it starts a private `ramfs
//! fmapcheck-ramfs` and checks that (the guest suite runs it so).
//!
//! | case | what must hold |
//! |---|---|
//! | shared-read | MAP_SHARED shows the file; the last page's tail reads zeroes |
//! | shared-write | a write through the mapping is seen by `read()` at once and after munmap |
//! | private-write | MAP_PRIVATE writes stay private; unwritten pages show the file's later writes |
//! | fork-shared | a forked child's write through a shared mapping reaches the parent and the file |
//! | fork-private | after fork each side of a private mapping keeps its own copy |
//! | partial-munmap | unmapping the middle page leaves the others mapped with their data; its pins go |
//! | msync | MS_SYNC returns 0 and the data is in the file for another descriptor |
//! | two-processes | a child that maps the file itself shares pages with the parent's mapping |
//! | past-eof | a whole page past the end of the file is SIGBUS |
//! | truncate | shrinking the file while mapped: past the new end SIGBUS (shared and private, copies too), the kept page keeps its data |
//! | pins-zero | every page lent is back once every mapping is gone (needs PINS-FILE) |
//!
//! Prints `fmapcheck: ok: CASE` or `fmapcheck: FAILED: CASE: why` per case
//! and `fmapcheck: N of M checks passed`; exits 0 only if all passed.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use tessera_guest_tests::Checks;
use tessera_guest_tests::mm::{child_signal, in_child, read_word, write_word};
use tessera_guest_tests::ramfs;
use tessera_runtime::abi::flag::{O_CREAT, O_RDWR, O_TRUNC, SEEK_SET};
use tessera_runtime::abi::signal::{SIGBUS, SIGKILL};
use tessera_runtime::mm::{self, MAP_PRIVATE, MAP_SHARED, MS_SYNC, MapFlags, PROT_READ, PROT_RW};
use tessera_runtime::{Args, process, sys};

tessera_runtime::entry!(main);

const PAGE: usize = 4096;

/// Where the files go and how to read the pins.
struct Target {
    dir: String,
    pins: Option<String>,
}

type Case = (&'static str, fn(&Target) -> Result<(), String>);

const CASES: [Case; 10] = [
    ("shared-read", shared_read),
    ("shared-write", shared_write),
    ("private-write", private_write),
    ("fork-shared", fork_shared),
    ("fork-private", fork_private),
    ("partial-munmap", partial_munmap),
    ("msync", msync),
    ("two-processes", two_processes),
    ("past-eof", past_eof),
    ("truncate", truncate),
];

fn main(args: Args) -> i32 {
    let mut checks = Checks::new("fmapcheck");
    let argv = args.argv();
    let (target, daemon) = match argv {
        [_] => {
            let Some(daemon) = ramfs::start(&mut checks, "fmapcheck-ramfs") else { return checks.finish() };
            let pins = Some("fmapcheck-ramfs:/.ramfs/pins".to_string());
            (Target { dir: "fmapcheck-ramfs:".into(), pins }, Some(daemon))
        }
        [_, dir] => (Target { dir: (*dir).into(), pins: None }, None),
        [_, dir, pins] => (Target { dir: (*dir).into(), pins: Some((*pins).into()) }, None),
        _ => {
            tessera_runtime::eprintln!("usage: fmapcheck [DIR [PINS-FILE]]");
            return 2;
        }
    };
    for (name, case) in CASES {
        // Each case in a child of its own: a case that dies (a stray
        // SIGBUS) fails alone, and its mappings go with it.
        let status = in_child(|| {
            if let Err(why) = case(&target) {
                tessera_runtime::println!("fmapcheck: {name}: {why}");
                sys::exit(1);
            }
        });
        let detail = match &status {
            Ok(s) if s.code() == Some(tessera_guest_tests::mm::SURVIVED as usize) => String::new(),
            Ok(s) => format!("the case's process {s}"),
            Err(e) => format!("fork: {e}"),
        };
        checks.check(name, detail.is_empty(), format_args!("{detail}"));
    }
    match &target.pins {
        Some(_) => {
            let pins = pins_total(&target);
            checks.check("pins-zero", pins == Some(0), format_args!("{pins:?} pages still lent"));
        }
        None => tessera_runtime::println!("fmapcheck: skipped: pins-zero (no PINS-FILE given)"),
    }
    if let Some(daemon) = daemon {
        let _ = sys::kill(daemon, SIGKILL);
        let _ = process::wait(daemon);
    }
    checks.finish()
}

// ---- helpers --------------------------------------------------------------

fn path(target: &Target, name: &str) -> String {
    let sep = if target.dir.ends_with('/') || target.dir.ends_with(':') { "" } else { "/" };
    format!("{}{sep}{name}", target.dir)
}

/// Byte `i` of every test file.
fn byte_at(i: usize) -> u8 {
    (i % 251) as u8
}

/// A new file `name` of `len` bytes of [`byte_at`], open read-write.
fn file(target: &Target, name: &str, len: usize) -> Result<usize, String> {
    let path = path(target, name);
    let fd = sys::open(&path, O_CREAT | O_TRUNC | O_RDWR).map_err(|e| format!("open {path}: {e}"))?;
    let data: Vec<u8> = (0..len).map(byte_at).collect();
    let n = sys::write(fd, &data).map_err(|e| format!("write {path}: {e}"))?;
    if n != len {
        return Err(format!("write {path}: {n} of {len} bytes"));
    }
    Ok(fd)
}

fn map(fd: usize, pages: usize, prot: MapFlags, flags: MapFlags) -> Result<usize, String> {
    // SAFETY: no fixed address: nothing of this program is replaced.
    unsafe { mm::mmap(0, pages * PAGE, prot, flags, fd, 0) }.map_err(|e| format!("mmap: {e}"))
}

fn unmap(addr: usize, pages: usize) -> Result<(), String> {
    // SAFETY: the case's own mapping, no longer used.
    unsafe { mm::munmap(addr, pages * PAGE) }.map_err(|e| format!("munmap: {e}"))
}

fn byte(addr: usize) -> u8 {
    // SAFETY: a mapped, readable address of the case.
    unsafe { core::ptr::read_volatile(addr as *const u8) }
}

fn set_byte(addr: usize, value: u8) {
    // SAFETY: a mapped, writable address of the case.
    unsafe { core::ptr::write_volatile(addr as *mut u8, value) }
}

fn read_at(fd: usize, offset: usize, len: usize) -> Result<Vec<u8>, String> {
    let mut buf = vec![0u8; len];
    sys::lseek(fd, offset as isize, SEEK_SET).map_err(|e| format!("lseek: {e}"))?;
    let n = sys::read(fd, &mut buf).map_err(|e| format!("read: {e}"))?;
    buf.truncate(n);
    Ok(buf)
}

fn write_at(fd: usize, offset: usize, data: &[u8]) -> Result<(), String> {
    sys::lseek(fd, offset as isize, SEEK_SET).map_err(|e| format!("lseek: {e}"))?;
    sys::write(fd, data).map(drop).map_err(|e| format!("write: {e}"))
}

fn expect(ok: bool, what: &str) -> Result<(), String> {
    if ok { Ok(()) } else { Err(what.into()) }
}

/// Whether touching `addr` in a child kills it with SIGBUS.
fn bus_error(addr: usize) -> bool {
    child_signal(|| {
        core::hint::black_box(read_word(addr));
    }) == Some(SIGBUS)
}

fn pins_total(target: &Target) -> Option<usize> {
    let text = tessera_runtime::io::read_file(target.pins.as_ref()?).ok()?;
    let text = core::str::from_utf8(&text).ok()?;
    text.lines().last()?.strip_prefix("total ")?.trim().parse().ok()
}

fn close_and_remove(target: &Target, fd: usize, name: &str) {
    let _ = sys::close(fd);
    let _ = sys::unlink(&path(target, name));
}

// ---- the cases --------------------------------------------------------------

fn shared_read(target: &Target) -> Result<(), String> {
    let len = 3 * PAGE + 100;
    let fd = file(target, "shared-read", len)?;
    let addr = map(fd, 4, PROT_READ, MAP_SHARED)?;
    expect((0..len).step_by(97).all(|i| byte(addr + i) == byte_at(i)), "the mapping differs from the file")?;
    expect((len..4 * PAGE).all(|i| byte(addr + i) == 0), "the last page's tail is not zero")?;
    unmap(addr, 4)?;
    close_and_remove(target, fd, "shared-read");
    Ok(())
}

fn shared_write(target: &Target) -> Result<(), String> {
    let fd = file(target, "shared-write", 2 * PAGE)?;
    let addr = map(fd, 2, PROT_RW, MAP_SHARED)?;
    write_word(addr + PAGE + 8, 0xF00D_CAFE);
    expect(read_at(fd, PAGE + 8, 8)? == 0xF00D_CAFEu64.to_le_bytes(), "read() does not see the write")?;
    unmap(addr, 2)?;
    expect(read_at(fd, PAGE + 8, 8)? == 0xF00D_CAFEu64.to_le_bytes(), "the write is gone after munmap")?;
    close_and_remove(target, fd, "shared-write");
    Ok(())
}

fn private_write(target: &Target) -> Result<(), String> {
    let fd = file(target, "private-write", 2 * PAGE)?;
    let addr = map(fd, 2, PROT_RW, MAP_PRIVATE)?;
    write_word(addr, 0xABCD);
    expect(read_word(addr) == 0xABCD, "the writer does not see its write")?;
    expect(read_at(fd, 0, 2)? == [0, 1], "the private write reached the file")?;
    write_at(fd, PAGE, &[0x77; 8])?;
    expect(read_word(addr + PAGE) == 0x7777_7777_7777_7777, "an unwritten page does not show the file's write")?;
    unmap(addr, 2)?;
    expect(read_at(fd, 0, 2)? == [0, 1], "the private write reached the file at munmap")?;
    close_and_remove(target, fd, "private-write");
    Ok(())
}

fn fork_shared(target: &Target) -> Result<(), String> {
    let fd = file(target, "fork-shared", PAGE)?;
    let addr = map(fd, 1, PROT_RW, MAP_SHARED)?;
    let signal = child_signal(|| write_word(addr + 16, 0x5151));
    expect(signal.is_none(), "the child died")?;
    expect(read_word(addr + 16) == 0x5151, "the parent does not see the child's write")?;
    expect(read_at(fd, 16, 8)? == 0x5151u64.to_le_bytes(), "the file does not have the child's write")?;
    unmap(addr, 1)?;
    close_and_remove(target, fd, "fork-shared");
    Ok(())
}

fn fork_private(target: &Target) -> Result<(), String> {
    let fd = file(target, "fork-private", PAGE)?;
    let addr = map(fd, 1, PROT_RW, MAP_PRIVATE)?;
    write_word(addr, 1);
    let status = in_child(|| {
        let mine = read_word(addr) == 1;
        write_word(addr, 2);
        if !mine {
            sys::exit(3);
        }
    });
    expect(
        status.is_ok_and(|s| s.code() == Some(tessera_guest_tests::mm::SURVIVED as usize)),
        "the child saw another copy",
    )?;
    expect(read_word(addr) == 1, "the child's write reached the parent's copy")?;
    expect(read_at(fd, 0, 2)? == [0, 1], "a private write reached the file")?;
    unmap(addr, 1)?;
    close_and_remove(target, fd, "fork-private");
    Ok(())
}

fn partial_munmap(target: &Target) -> Result<(), String> {
    let fd = file(target, "partial-munmap", 3 * PAGE)?;
    let addr = map(fd, 3, PROT_RW, MAP_SHARED)?;
    let before = pins_total(target);
    unmap(addr + PAGE, 1)?;
    if let Some(before) = before {
        expect(pins_total(target) == Some(before - 1), "the middle page's pin did not go")?;
    }
    expect(byte(addr + 5) == byte_at(5) && byte(addr + 2 * PAGE + 1) == byte_at(2 * PAGE + 1), "the rest lost data")?;
    unmap(addr, 3)?;
    close_and_remove(target, fd, "partial-munmap");
    Ok(())
}

fn msync(target: &Target) -> Result<(), String> {
    let fd = file(target, "msync", PAGE)?;
    let addr = map(fd, 1, PROT_RW, MAP_SHARED)?;
    set_byte(addr + 100, 0xEE);
    mm::msync(addr, PAGE, MS_SYNC).map_err(|e| format!("msync: {e}"))?;
    let other = sys::open(&path(target, "msync"), O_RDWR).map_err(|e| format!("open again: {e}"))?;
    expect(read_at(other, 100, 1)? == [0xEE], "another descriptor does not see the synced byte")?;
    let _ = sys::close(other);
    unmap(addr, 1)?;
    close_and_remove(target, fd, "msync");
    Ok(())
}

fn two_processes(target: &Target) -> Result<(), String> {
    let fd = file(target, "two-processes", PAGE)?;
    let addr = map(fd, 1, PROT_RW, MAP_SHARED)?;
    let name = path(target, "two-processes");
    let signal = child_signal(|| {
        let Ok(fd) = sys::open(&name, O_RDWR) else { sys::exit(1) };
        let Ok(mine) = map(fd, 1, PROT_RW, MAP_SHARED) else { sys::exit(2) };
        write_word(mine + 24, 0x2222);
        let _ = unmap(mine, 1);
    });
    expect(signal.is_none(), "the child died")?;
    expect(read_word(addr + 24) == 0x2222, "the parent's mapping does not see the child's")?;
    unmap(addr, 1)?;
    close_and_remove(target, fd, "two-processes");
    Ok(())
}

fn past_eof(target: &Target) -> Result<(), String> {
    let fd = file(target, "past-eof", PAGE + 10)?;
    let addr = map(fd, 3, PROT_READ, MAP_SHARED)?;
    expect(byte(addr + PAGE + 9) == byte_at(PAGE + 9) && byte(addr + PAGE + 10) == 0, "the last page")?;
    expect(bus_error(addr + 2 * PAGE), "a page past the end is not SIGBUS")?;
    unmap(addr, 3)?;
    close_and_remove(target, fd, "past-eof");
    Ok(())
}

fn truncate(target: &Target) -> Result<(), String> {
    let fd = file(target, "truncate", 4 * PAGE)?;
    let shared = map(fd, 4, PROT_RW, MAP_SHARED)?;
    let private = map(fd, 4, PROT_RW, MAP_PRIVATE)?;
    for k in 0..4 {
        core::hint::black_box((byte(shared + k * PAGE), byte(private + k * PAGE)));
    }
    write_word(private + 3 * PAGE, 9);
    sys::ftruncate(fd, PAGE).map_err(|e| format!("ftruncate: {e}"))?;
    expect(bus_error(shared + 2 * PAGE), "shared: past the new end is not SIGBUS")?;
    expect(bus_error(private + 2 * PAGE), "private: past the new end is not SIGBUS")?;
    expect(bus_error(private + 3 * PAGE), "a private copy past the new end is not SIGBUS")?;
    expect(byte(shared + 7) == byte_at(7) && byte(private + 7) == byte_at(7), "the kept page lost its data")?;
    unmap(shared, 4)?;
    unmap(private, 4)?;
    close_and_remove(target, fd, "truncate");
    Ok(())
}
