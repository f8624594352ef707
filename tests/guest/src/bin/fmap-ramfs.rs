//! `fmap-ramfs`: file mappings delegated to a filesystem scheme (fmap /
//! funmap), on a private `ramfs ramfs-fmap` instance.
//!
//! | group | checks |
//! |---|---|
//! | shared | a MAP_SHARED mapping reads the file (the tail of the last page zero); a write through it is seen by `read()` before and after `munmap`; the daemon's pins are the mapped pages and go back to 0; `sys:maps` says `rw-s fmap` |
//! | eof | a whole page past the end of the file: SIGBUS (in a child); the partial last page reads zeroes past EOF |
//! | partial | munmap of the middle page hands back only that page (pins 3 → 2); the rest stays mapped with its data |
//! | private | MAP_PRIVATE writes are seen by the writer only, never by `read()`; the file's later writes show in unwritten pages |
//! | two-processes | a forked child maps the same file itself, writes; the parent's own mapping and `read()` see it |
//! | fork | a shared mapping written by a forked child is seen by the parent and `read()`; a private one gives each side its own copy |
//! | exit | a child that exits without munmap: its writes are in the file, pins back to 0 |
//! | msync | MS_SYNC makes data visible (it already is: one page cache) and returns 0; with `fail-writeback` on: msync and munmap return EIO, pins still back to 0 |
//! | access | shared writable from a read-only open: EACCES; from a write-only open: EACCES |
//! | remap | mremap of a shared file mapping: grow in place, grow by moving (MAYMOVE), move to a FIXED address, shrink; after each the mapping keeps its data, a write through it reaches `read()`, the pins are the mapped pages and the old range is unmapped; a growth the scheme refuses (past ramfs's largest file) is its EINVAL and leaves the mapping as it was |
//! | truncate | a 64-page file mapped shared and private (32 pages copied), truncated to one page: both mappings keep 1 resident page, the frames of the 63 dropped file pages and the 32 copies are free at once (not at munmap), touching past the end is SIGBUS in both (copies too), the pins stay until munmap |
//! | invalidate | msync(MS_INVALIDATE) of a private mapping drops the pages that show the file's frames (resident 4 → 1, the copy stays) and they come back on touch with the file's data |
//! | lazy | a 1 GiB file mapped whole, 3 pages touched: 3 resident pages, about 3 frames used |
//! | around | fault-around: one read of page 20 of a 40-page file mapped private and lazy makes its 16-page block resident, read-only (a write to a neighbour copies: the file keeps its byte), with the file's data; shared likewise, a write to a neighbour reaches `read()`; pins back to 0 |
//! | daemon-death | ramfs killed while mapped: mapped pages stay readable, a new page (of a second mapping, beyond fault-around's reach) is SIGBUS, growing the mapping fails and leaves it readable, munmap returns, the kernel goes on |
//!
//! Finally the kernel's free frames are back where they were.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use tessera_guest_tests::mm::{Memory, child_signal, frames_back, group, read_word, write_word};
use tessera_guest_tests::ramfs;
use tessera_guest_tests::{Checks, Shown};
use tessera_runtime::abi::Result;
use tessera_runtime::abi::error::{EACCES, EINVAL, EIO, ENODEV};
use tessera_runtime::abi::flag::{O_CREAT, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, SEEK_SET};
use tessera_runtime::abi::signal::{SIGBUS, SIGKILL};
use tessera_runtime::mm::{
    self, ANONYMOUS_FD, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, MREMAP_FIXED, MREMAP_MAYMOVE, MS_INVALIDATE, MS_SYNC,
    MapFlags, PROT_READ, PROT_RW,
};
use tessera_runtime::{Args, process, sys};

tessera_runtime::entry!(main);

const SCHEME: &str = "ramfs-fmap";
const PAGE: usize = 4096;

/// A named group of checks, run in its own child.
type Group = (&'static str, fn(&mut Checks));

fn main(_args: Args) -> i32 {
    let mut checks = Checks::new("fmap-ramfs");
    let before = Memory::read();
    let Some(daemon) = ramfs::start(&mut checks, SCHEME) else { return checks.finish() };
    // Each group in its own child: the page tables its mappings needed go
    // with it, so the free-frame count at the end is exact.
    let groups: [Group; 14] = [
        ("fmap-ramfs shared", shared),
        ("fmap-ramfs eof", eof),
        ("fmap-ramfs partial", partial),
        ("fmap-ramfs private", private),
        ("fmap-ramfs two-processes", two_processes),
        ("fmap-ramfs fork", fork),
        ("fmap-ramfs exit", exit),
        ("fmap-ramfs msync", msync),
        ("fmap-ramfs access", access),
        ("fmap-ramfs lazy", lazy),
        ("fmap-ramfs remap", remap),
        ("fmap-ramfs truncate", truncate),
        ("fmap-ramfs invalidate", invalidate),
        ("fmap-ramfs around", around),
    ];
    for (name, body) in groups {
        group(&mut checks, name, body);
    }
    let pins = pins_total();
    checks.check("pins back to 0", pins == Some(0), format_args!("{pins:?}"));
    daemon_death(&mut checks, daemon);
    frames_back(&mut checks, before);
    checks.finish()
}

fn at(path: &str) -> String {
    format!("{SCHEME}:{path}")
}

/// The daemon's total pin count (`/.ramfs/pins`'s last line).
fn pins_total() -> Option<usize> {
    let text = tessera_runtime::io::read_file(&at("/.ramfs/pins")).ok()?;
    let text = core::str::from_utf8(&text).ok()?;
    text.lines().last()?.strip_prefix("total ")?.trim().parse().ok()
}

/// A new file `name` with `len` bytes: byte `i` is `(i % 251) as u8`.
fn file_with(name: &str, len: usize) -> Result<usize> {
    let fd = sys::open(&at(name), O_CREAT | O_TRUNC | O_RDWR)?;
    let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    sys::write(fd, &data)?;
    Ok(fd)
}

fn map(fd: usize, pages: usize, prot: MapFlags, flags: MapFlags) -> Result<usize> {
    // SAFETY: no fixed address: nothing of ours is replaced.
    unsafe { mm::mmap(0, pages * PAGE, prot, flags, fd, 0) }
}

fn unmap(addr: usize, pages: usize) -> Result<usize> {
    // SAFETY: the test's own file mappings, no longer used.
    unsafe { mm::munmap(addr, pages * PAGE) }.map(|()| 0)
}

fn read_at(fd: usize, offset: usize, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    let n = sys::lseek(fd, offset as isize, SEEK_SET).and_then(|_| sys::read(fd, &mut buf)).unwrap_or(0);
    buf.truncate(n);
    buf
}

fn byte(addr: usize) -> u8 {
    // SAFETY: a mapped, readable address of this test.
    unsafe { core::ptr::read_volatile(addr as *const u8) }
}

fn shared(checks: &mut Checks) {
    let Ok(fd) = file_with("/shared", 3 * PAGE + 100) else {
        return checks.check("create /shared", false, format_args!("failed"));
    };
    let Ok(addr) = map(fd, 4, PROT_RW, MAP_SHARED) else {
        return checks.check("mmap shared", false, format_args!("failed"));
    };
    let ok = (0..3 * PAGE + 100).step_by(97).all(|i| byte(addr + i) == (i % 251) as u8);
    checks.check("shared: the mapping reads the file", ok, format_args!("a byte differs"));
    let tail = (3 * PAGE + 100..4 * PAGE).all(|i| byte(addr + i) == 0);
    checks.check("shared: the last page reads zero past EOF", tail, format_args!("non-zero tail"));
    checks.check("shared: pins are the mapped pages", pins_total() == Some(4), format_args!("{:?}", pins_total()));
    let listed = mm::read_maps().ok().and_then(|m| m.entries.into_iter().find(|e| e.contains(addr)));
    let kind = listed.as_ref().map(|e| (e.perms.shared, e.perms.write, e.kind.name(), e.pages()));
    checks.check(
        "shared: sys:maps lists rw-s fmap, 4 pages",
        kind == Some((true, true, "fmap", 4)),
        format_args!("{kind:?}"),
    );
    write_word(addr + PAGE, 0x1122_3344_5566_7788);
    let seen = read_at(fd, PAGE, 8);
    checks.check(
        "shared: read() sees a write before munmap",
        seen == 0x1122_3344_5566_7788u64.to_le_bytes(),
        format_args!("{seen:?}"),
    );
    let _ = sys::lseek(fd, 2 * PAGE as isize, SEEK_SET).and_then(|_| sys::write(fd, &[0xEE; 8]));
    checks.check(
        "shared: the mapping sees write()",
        read_word(addr + 2 * PAGE) == 0xEEEE_EEEE_EEEE_EEEE,
        format_args!("{:#x}", read_word(addr + 2 * PAGE)),
    );
    let unmapped = unmap(addr, 4);
    checks.check("shared: munmap", unmapped.is_ok(), format_args!("{}", Shown(unmapped)));
    let seen = read_at(fd, PAGE, 8);
    checks.check(
        "shared: read() sees it after munmap",
        seen == 0x1122_3344_5566_7788u64.to_le_bytes(),
        format_args!("{seen:?}"),
    );
    checks.check("shared: pins back to 0", pins_total() == Some(0), format_args!("{:?}", pins_total()));
    let _ = sys::close(fd);
}

fn eof(checks: &mut Checks) {
    let Ok(fd) = file_with("/eof", PAGE + 10) else {
        return checks.check("create /eof", false, format_args!("failed"));
    };
    let Ok(addr) = map(fd, 3, PROT_READ, MAP_SHARED) else {
        return checks.check("mmap past EOF", false, format_args!("failed"));
    };
    checks.check(
        "eof: the partial page reads zero past EOF",
        byte(addr + PAGE + 10) == 0 && byte(addr + PAGE + 9) == ((PAGE + 9) % 251) as u8,
        format_args!(""),
    );
    let signal = child_signal(|| {
        core::hint::black_box(read_word(addr + 2 * PAGE));
    });
    checks.check("eof: a whole page past EOF is SIGBUS", signal == Some(SIGBUS), format_args!("{signal:?}"));
    let _ = unmap(addr, 3);
    let _ = sys::close(fd);
}

fn partial(checks: &mut Checks) {
    let Ok(fd) = file_with("/partial", 3 * PAGE) else {
        return checks.check("create /partial", false, format_args!("failed"));
    };
    let Ok(addr) = map(fd, 3, PROT_RW, MAP_SHARED) else {
        return checks.check("mmap /partial", false, format_args!("failed"));
    };
    let middle = unmap(addr + PAGE, 1);
    checks.check("partial: munmap of the middle page", middle.is_ok(), format_args!("{}", Shown(middle)));
    checks.check("partial: only that page is handed back", pins_total() == Some(2), format_args!("{:?}", pins_total()));
    checks.check(
        "partial: the rest keeps its data",
        byte(addr + 5) == 5 && byte(addr + 2 * PAGE + 1) == ((2 * PAGE + 1) % 251) as u8,
        format_args!(""),
    );
    let _ = unmap(addr, 3);
    let _ = sys::close(fd);
}

fn private(checks: &mut Checks) {
    let Ok(fd) = file_with("/private", 2 * PAGE) else {
        return checks.check("create /private", false, format_args!("failed"));
    };
    let Ok(addr) = map(fd, 2, PROT_RW, MAP_PRIVATE) else {
        return checks.check("mmap private", false, format_args!("failed"));
    };
    write_word(addr, 0xABCD);
    checks.check("private: the writer sees its write", read_word(addr) == 0xABCD, format_args!(""));
    let seen = read_at(fd, 0, 8);
    checks.check("private: read() does not", seen == [0, 1, 2, 3, 4, 5, 6, 7], format_args!("{seen:?}"));
    let _ = sys::lseek(fd, PAGE as isize, SEEK_SET).and_then(|_| sys::write(fd, &[0x77; 8]));
    checks.check(
        "private: an unwritten page shows the file",
        read_word(addr + PAGE) == 0x7777_7777_7777_7777,
        format_args!("{:#x}", read_word(addr + PAGE)),
    );
    let _ = unmap(addr, 2);
    let seen = read_at(fd, 0, 8);
    checks.check(
        "private: the write never reaches the file",
        seen == [0, 1, 2, 3, 4, 5, 6, 7],
        format_args!("{seen:?}"),
    );
    let _ = sys::close(fd);
}

fn two_processes(checks: &mut Checks) {
    let Ok(fd) = file_with("/two", PAGE) else { return checks.check("create /two", false, format_args!("failed")) };
    let Ok(addr) = map(fd, 1, PROT_RW, MAP_SHARED) else {
        return checks.check("mmap /two", false, format_args!("failed"));
    };
    let status = child_signal(|| {
        let Ok(fd) = sys::open(&at("/two"), O_RDWR) else { sys::exit(1) };
        let Ok(mine) = map(fd, 1, PROT_RW, MAP_SHARED) else { sys::exit(2) };
        write_word(mine + 8, 0x5151);
        let _ = unmap(mine, 1);
    });
    checks.check("two-processes: the child ran", status.is_none(), format_args!("{status:?}"));
    checks.check(
        "two-processes: the parent's mapping sees the child's write",
        read_word(addr + 8) == 0x5151,
        format_args!("{:#x}", read_word(addr + 8)),
    );
    let _ = unmap(addr, 1);
    let _ = sys::close(fd);
}

fn fork(checks: &mut Checks) {
    let Ok(fd) = file_with("/fork", 2 * PAGE) else {
        return checks.check("create /fork", false, format_args!("failed"));
    };
    let (Ok(shared), Ok(private)) = (map(fd, 1, PROT_RW, MAP_SHARED), map(fd, 1, PROT_RW, MAP_PRIVATE)) else {
        return checks.check("mmap /fork", false, format_args!("failed"));
    };
    write_word(private, 0x1111);
    let status = child_signal(|| {
        write_word(shared + 16, 0x2222);
        write_word(private, 0x3333);
        if read_word(private) != 0x3333 {
            sys::exit(3);
        }
    });
    checks.check("fork: the child ran", status.is_none(), format_args!("{status:?}"));
    checks.check(
        "fork: a shared write of the child is the parent's",
        read_word(shared + 16) == 0x2222,
        format_args!(""),
    );
    checks.check("fork: and read()'s", read_at(fd, 16, 8) == 0x2222u64.to_le_bytes(), format_args!(""));
    checks.check(
        "fork: a private page is each side's own",
        read_word(private) == 0x1111,
        format_args!("{:#x}", read_word(private)),
    );
    let _ = unmap(shared, 1);
    let _ = unmap(private, 1);
    let _ = sys::close(fd);
}

fn exit(checks: &mut Checks) {
    let Ok(fd) = file_with("/exit", PAGE) else { return checks.check("create /exit", false, format_args!("failed")) };
    let status = child_signal(|| {
        let Ok(addr) = map(fd, 1, PROT_RW, MAP_SHARED) else { sys::exit(1) };
        write_word(addr + 24, 0x4444);
        // Exits with the mapping.
    });
    checks.check("exit: the child ran", status.is_none(), format_args!("{status:?}"));
    checks.check("exit: its writes are in the file", read_at(fd, 24, 8) == 0x4444u64.to_le_bytes(), format_args!(""));
    checks.check("exit: pins back to 0", pins_total() == Some(0), format_args!("{:?}", pins_total()));
    let _ = sys::close(fd);
}

fn knob(path: &str, on: bool) -> Result<usize> {
    let fd = sys::open(&at("/.ramfs/ctl"), O_WRONLY)?;
    let written = sys::write(fd, format!("fail-writeback {path} {}", if on { "on" } else { "off" }).as_bytes());
    let _ = sys::close(fd);
    written
}

fn msync(checks: &mut Checks) {
    let Ok(fd) = file_with("/sync", PAGE) else { return checks.check("create /sync", false, format_args!("failed")) };
    let Ok(addr) = map(fd, 1, PROT_RW, MAP_SHARED) else {
        return checks.check("mmap /sync", false, format_args!("failed"));
    };
    write_word(addr, 0x9999);
    let synced = mm::msync(addr, PAGE, MS_SYNC);
    checks.check(
        "msync: MS_SYNC",
        synced.is_ok() && read_at(fd, 0, 8) == 0x9999u64.to_le_bytes(),
        format_args!("{}", Shown(synced.map(|()| 0))),
    );
    let set = knob("/sync", true);
    checks.check("msync: set fail-writeback", set.is_ok(), format_args!("{}", Shown(set)));
    let failed = mm::msync(addr, PAGE, MS_SYNC).map_err(|e| e.errno);
    checks.check("msync: a failed write-back is EIO", failed == Err(EIO), format_args!("{failed:?}"));
    let failed = unmap(addr, 1).map_err(|e| e.errno);
    checks.check("msync: munmap with a failed write-back is EIO", failed == Err(EIO), format_args!("{failed:?}"));
    checks.check("msync: pins back to 0 all the same", pins_total() == Some(0), format_args!("{:?}", pins_total()));
    let _ = knob("/sync", false);
    let _ = sys::close(fd);
}

fn access(checks: &mut Checks) {
    let Ok(fd) = file_with("/access", PAGE) else {
        return checks.check("create /access", false, format_args!("failed"));
    };
    let _ = sys::close(fd);
    let read_only = sys::open(&at("/access"), O_RDONLY);
    if let Ok(ro) = read_only {
        let got = map(ro, 1, PROT_RW, MAP_SHARED).map_err(|e| e.errno);
        checks.check("access: shared writable from O_RDONLY is EACCES", got == Err(EACCES), format_args!("{got:?}"));
        let got = map(ro, 1, PROT_RW, MAP_PRIVATE);
        checks.check("access: private writable from O_RDONLY works", got.is_ok(), format_args!("{}", Shown(got)));
        let _ = got.map(|addr| unmap(addr, 1));
        let _ = sys::close(ro);
    }
    if let Ok(wo) = sys::open(&at("/access"), O_WRONLY) {
        let got = map(wo, 1, PROT_READ, MAP_SHARED).map_err(|e| e.errno);
        checks.check("access: any mapping of O_WRONLY is EACCES", got == Err(EACCES), format_args!("{got:?}"));
        let _ = sys::close(wo);
    }
    if let Ok(rw) = sys::open(&at("/access"), O_RDWR) {
        let got = map(rw, 1, PROT_RW, MAP_SHARED);
        checks.check("access: shared writable from O_RDWR works", got.is_ok(), format_args!("{}", Shown(got)));
        let _ = got.map(|addr| unmap(addr, 1));
        let _ = sys::close(rw);
    }
    checks.check("access: pins back to 0", pins_total() == Some(0), format_args!("{:?}", pins_total()));
}

/// The `sys:maps` entry at `addr`: (kind, pages), if any.
fn entry_at(addr: usize) -> Option<(&'static str, usize)> {
    let entry = mm::read_maps().ok()?.entries.into_iter().find(|e| e.contains(addr))?;
    Some((entry.kind.name(), entry.pages()))
}

/// Checks that the file mapping at `addr` is `pages` long and pinned as
/// such, that `read()` sees `value` written at page `page` through it.
fn remapped(checks: &mut Checks, what: &str, fd: usize, addr: usize, pages: usize, page: usize, value: u64) {
    let entry = entry_at(addr);
    checks.check(
        &format!("remap: {what}: one fmap mapping of {pages} pages"),
        entry == Some(("fmap", pages)),
        format_args!("{entry:?}"),
    );
    checks.check(&format!("remap: {what}: pins"), pins_total() == Some(pages), format_args!("{:?}", pins_total()));
    write_word(addr + page * PAGE, value);
    let seen = read_at(fd, page * PAGE, 8);
    checks.check(
        &format!("remap: {what}: read() sees the write"),
        seen == value.to_le_bytes(),
        format_args!("{seen:?}"),
    );
}

fn remap(checks: &mut Checks) {
    let Ok(fd) = file_with("/remap", 8 * PAGE) else {
        return checks.check("create /remap", false, format_args!("failed"));
    };
    // 6 pages mapped, 4 unmapped again: room to grow in place.
    let Ok(a) = map(fd, 6, PROT_RW, MAP_SHARED) else {
        return checks.check("remap: mmap", false, format_args!("failed"));
    };
    let _ = unmap(a + 2 * PAGE, 4);
    write_word(a, 0xA1);
    // SAFETY: the test's own mapping, grown over free pages.
    let grown = unsafe { mm::mremap(a, 2 * PAGE, 0, 4 * PAGE, 0) };
    checks.check("remap: grow in place", grown == Ok(a), format_args!("{}", Shown(grown)));
    remapped(checks, "in place", fd, a, 4, 3, 0xA2);
    checks.check("remap: in place: old data", read_word(a) == 0xA1, format_args!("{:#x}", read_word(a)));
    let seen = byte(a + 2 * PAGE + 1);
    checks.check(
        "remap: in place: the grown pages show the file",
        seen == ((2 * PAGE + 1) % 251) as u8,
        format_args!("{seen:?}"),
    );

    // A blocker right after: growing needs a move.
    // SAFETY: fixed over free pages after the test's mapping.
    let blocker = unsafe { mm::mmap(a + 4 * PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, ANONYMOUS_FD, 0) };
    checks.check("remap: a blocker", blocker == Ok(a + 4 * PAGE), format_args!("{}", Shown(blocker)));
    // SAFETY: the test's own mapping; it may move.
    let moved = unsafe { mm::mremap(a, 4 * PAGE, 0, 6 * PAGE, MREMAP_MAYMOVE) };
    let Ok(b) = moved else {
        return checks.check("remap: grow by moving", false, format_args!("{}", Shown(moved)));
    };
    checks.check("remap: grow by moving: it moved", b != a, format_args!("{b:#x}"));
    checks.check("remap: grow by moving: old range unmapped", entry_at(a).is_none(), format_args!("{:?}", entry_at(a)));
    checks.check(
        "remap: grow by moving: data along",
        read_word(b) == 0xA1 && read_word(b + 3 * PAGE) == 0xA2,
        format_args!("{:#x} {:#x}", read_word(b), read_word(b + 3 * PAGE)),
    );
    remapped(checks, "moved", fd, b, 6, 5, 0xA3);

    // Move to a fixed address (over a mapping that is replaced).
    let Ok(target) = mm::mmap_anonymous(6 * PAGE, PROT_READ, MAP_PRIVATE) else {
        return checks.check("remap: a target", false, format_args!("failed"));
    };
    // SAFETY: the test's own mapping, onto the test's own target.
    let fixed = unsafe { mm::mremap(b, 6 * PAGE, target, 6 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED) };
    checks.check("remap: move to FIXED", fixed == Ok(target), format_args!("{}", Shown(fixed)));
    checks.check("remap: FIXED: old range unmapped", entry_at(b).is_none(), format_args!("{:?}", entry_at(b)));
    checks.check(
        "remap: FIXED: data along",
        read_word(target + 3 * PAGE) == 0xA2 && read_word(target + 5 * PAGE) == 0xA3,
        format_args!("{:#x} {:#x}", read_word(target + 3 * PAGE), read_word(target + 5 * PAGE)),
    );
    remapped(checks, "FIXED", fd, target, 6, 4, 0xA4);

    // Shrink: the tail goes back to the scheme.
    // SAFETY: the test's own mapping; the tail is no longer used.
    let shrunk = unsafe { mm::mremap(target, 6 * PAGE, 0, 3 * PAGE, 0) };
    checks.check("remap: shrink", shrunk == Ok(target), format_args!("{}", Shown(shrunk)));
    remapped(checks, "shrunk", fd, target, 3, 2, 0xA5);

    // The scheme refuses (past ramfs's largest file): its errno, nothing
    // changed.
    // SAFETY: the test's own mapping; it may move.
    let refused = unsafe { mm::mremap(target, 3 * PAGE, 0, 5 << 30, MREMAP_MAYMOVE) }.map_err(|e| e.errno);
    checks.check("remap: a growth the scheme refuses is EINVAL", refused == Err(EINVAL), format_args!("{refused:?}"));
    let kept = (entry_at(target), pins_total(), read_word(target + 2 * PAGE));
    checks.check(
        "remap: refused: the mapping is as it was",
        kept == (Some(("fmap", 3)), Some(3), 0xA5),
        format_args!("{kept:?}"),
    );
    let _ = unmap(target, 3);
    let _ = unmap(a + 4 * PAGE, 1);
    let seen = read_at(fd, 4 * PAGE, 8);
    checks.check("remap: read() after munmap", seen == 0xA4u64.to_le_bytes(), format_args!("{seen:?}"));
    checks.check("remap: pins back to 0", pins_total() == Some(0), format_args!("{:?}", pins_total()));
    let _ = sys::close(fd);
}

fn around(checks: &mut Checks) {
    const PAGES: usize = 40;
    let Ok(fd) = file_with("/around", PAGES * PAGE) else {
        return checks.check("create /around", false, format_args!("failed"));
    };
    for (flags, name) in [(MAP_PRIVATE, "private"), (MAP_SHARED, "shared")] {
        let Ok(addr) = map(fd, PAGES, PROT_RW, flags | MapFlags::MAP_LAZY) else {
            return checks.check("mmap /around", false, format_args!("failed"));
        };
        let first = byte(addr + 20 * PAGE + 5);
        // Page 20's aligned block lies inside the 40 pages whatever the
        // mapping's alignment: 16 pages.
        let count = resident(addr);
        checks.check(
            &format!("around: {name}: one touch makes the 16-page block resident"),
            count == Some(16) && first == ((20 * PAGE + 5) % 251) as u8,
            format_args!("{count:?} resident, byte {first}"),
        );
        // A neighbour: mapped already, with the file's data.
        let neighbour = (4..PAGES).filter(|&p| p != 20).find(|&p| resident_page(addr, p)).unwrap_or(20);
        let seen = byte(addr + neighbour * PAGE);
        write_word(addr + neighbour * PAGE, 0xAB);
        let file = read_at(fd, neighbour * PAGE, 1);
        let expect: u8 = if flags == MAP_SHARED { 0xAB } else { ((neighbour * PAGE) % 251) as u8 };
        checks.check(
            &format!(
                "around: {name}: a neighbour shows the file and a write to it {}",
                if flags == MAP_SHARED { "reaches read()" } else { "copies" }
            ),
            neighbour != 20 && seen == ((neighbour * PAGE) % 251) as u8 && file == [expect],
            format_args!("page {neighbour}: byte {seen}, file {file:?}"),
        );
        let _ = unmap(addr, PAGES);
    }
    checks.check("around: pins back to 0", pins_total() == Some(0), format_args!("{:?}", pins_total()));
    let _ = sys::close(fd);
    let _ = sys::unlink(&at("/around"));
}

/// Whether page `page` of the mapping at `addr` has a frame without
/// touching it: `sys:maps` counts per mapping, so the page is split off
/// by an mprotect, its piece's count read, and the rights put back.
fn resident_page(addr: usize, page: usize) -> bool {
    let at = addr + page * PAGE;
    // SAFETY: the test's own mapping; the rights are put back at once.
    let split = unsafe { mm::mprotect(at, PAGE, PROT_READ) };
    let count = resident(at);
    // SAFETY: as above.
    let _ = unsafe { mm::mprotect(at, PAGE, PROT_RW) };
    split.is_ok() && count == Some(1)
}

/// Resident pages of the mapping at `addr` (`sys:maps`).
fn resident(addr: usize) -> Option<usize> {
    mm::read_maps().ok()?.entries.into_iter().find(|e| e.contains(addr)).map(|e| e.resident_pages)
}

fn truncate(checks: &mut Checks) {
    const PAGES: usize = 64;
    let Ok(fd) = file_with("/truncate", PAGES * PAGE) else {
        return checks.check("create /truncate", false, format_args!("failed"));
    };
    let (Ok(shared), Ok(private)) = (map(fd, PAGES, PROT_RW, MAP_SHARED), map(fd, PAGES, PROT_RW, MAP_PRIVATE)) else {
        return checks.check("mmap /truncate", false, format_args!("failed"));
    };
    for k in 0..PAGES {
        core::hint::black_box((byte(shared + k * PAGE), byte(private + k * PAGE)));
    }
    for k in PAGES / 2..PAGES {
        write_word(private + k * PAGE, k as u64);
    }
    let both = (resident(shared), resident(private));
    checks.check("truncate: all touched", both == (Some(PAGES), Some(PAGES)), format_args!("{both:?}"));
    let free_before = tessera_guest_tests::system::free_frames().ok();
    let cut = sys::ftruncate(fd, PAGE);
    checks.check("truncate: ftruncate to one page", cut.is_ok(), format_args!("{}", Shown(cut.map(|()| 0))));
    let freed = free_before.zip(tessera_guest_tests::system::free_frames().ok()).map(|(b, a)| a.saturating_sub(b));
    // 63 file pages and 32 copies; a few frames of kernel heap may move.
    checks.check(
        "truncate: the dropped pages' frames are free at once",
        freed.is_some_and(|n| n + 8 >= PAGES - 1 + PAGES / 2),
        format_args!("{freed:?} frames"),
    );
    let both = (resident(shared), resident(private));
    checks.check("truncate: one page left in each mapping", both == (Some(1), Some(1)), format_args!("{both:?}"));
    for (what, addr) in
        [("shared", shared + 2 * PAGE), ("private", private + 2 * PAGE), ("a copy", private + 40 * PAGE)]
    {
        let signal = child_signal(|| {
            core::hint::black_box(read_word(addr));
        });
        checks.check(
            &format!("truncate: past the end, {what}: SIGBUS"),
            signal == Some(SIGBUS),
            format_args!("{signal:?}"),
        );
    }
    checks.check("truncate: the first page is kept", byte(shared + 7) == 7 && byte(private + 7) == 7, format_args!(""));
    checks.check(
        "truncate: pins stay until munmap",
        pins_total() == Some(2 * PAGES),
        format_args!("{:?}", pins_total()),
    );
    let _ = unmap(shared, PAGES);
    let _ = unmap(private, PAGES);
    checks.check("truncate: pins back to 0", pins_total() == Some(0), format_args!("{:?}", pins_total()));
    let _ = sys::close(fd);
}

fn invalidate(checks: &mut Checks) {
    let Ok(fd) = file_with("/invalidate", 4 * PAGE) else {
        return checks.check("create /invalidate", false, format_args!("failed"));
    };
    let Ok(addr) = map(fd, 4, PROT_RW, MAP_PRIVATE) else {
        return checks.check("mmap /invalidate", false, format_args!("failed"));
    };
    for k in 0..4 {
        core::hint::black_box(byte(addr + k * PAGE));
    }
    write_word(addr, 0xC0DE);
    let done = mm::msync(addr, 4 * PAGE, MS_INVALIDATE);
    checks.check("invalidate: msync(MS_INVALIDATE)", done.is_ok(), format_args!("{}", Shown(done.map(|()| 0))));
    let left = resident(addr);
    checks.check("invalidate: only the copy stays resident", left == Some(1), format_args!("{left:?}"));
    checks.check(
        "invalidate: the pages come back with the file's data, the copy kept",
        byte(addr + 2 * PAGE + 3) == ((2 * PAGE + 3) % 251) as u8 && read_word(addr) == 0xC0DE,
        format_args!(""),
    );
    let _ = unmap(addr, 4);
    let _ = sys::close(fd);
}

fn lazy(checks: &mut Checks) {
    const GIB: usize = 1 << 30;
    let Ok(fd) = sys::open(&at("/big"), O_CREAT | O_RDWR) else {
        return checks.check("create /big", false, format_args!("failed"));
    };
    let sized = sys::ftruncate(fd, GIB);
    checks.check("lazy: a 1 GiB file", sized.is_ok(), format_args!("{}", Shown(sized.map(|()| 0))));
    let free_before = tessera_guest_tests::system::free_frames().ok();
    let Ok(addr) = map(fd, GIB / PAGE, PROT_RW, MAP_SHARED) else {
        return checks.check("lazy: mmap 1 GiB", false, format_args!("failed"));
    };
    for i in [0, GIB / 2, GIB - PAGE] {
        write_word(addr + i, i as u64 + 1);
    }
    let resident =
        mm::read_maps().ok().and_then(|m| m.entries.into_iter().find(|e| e.contains(addr))).map(|e| e.resident_pages);
    checks.check("lazy: 3 pages touched, 3 resident", resident == Some(3), format_args!("{resident:?}"));
    let used = free_before.zip(tessera_guest_tests::system::free_frames().ok()).map(|(b, a)| b.saturating_sub(a));
    // 3 file pages plus page tables in both spaces (up to 3 per page here
    // and in the daemon) and a little kernel heap.
    checks.check("lazy: about 3 frames used", used.is_some_and(|n| n <= 40), format_args!("{used:?} frames"));
    let seen = read_at(fd, GIB / 2, 8);
    checks.check(
        "lazy: read() sees the middle page",
        seen == (GIB as u64 / 2 + 1).to_le_bytes(),
        format_args!("{seen:?}"),
    );
    let _ = unmap(addr, GIB / PAGE);
    let _ = sys::close(fd);
    let _ = sys::unlink(&at("/big"));
}

fn daemon_death(checks: &mut Checks, daemon: usize) {
    let Ok(fd) = file_with("/death", 2 * PAGE) else {
        return checks.check("create /death", false, format_args!("failed"));
    };
    let Ok(addr) = map(fd, 2, PROT_READ, MAP_SHARED | MapFlags::MAP_LAZY) else {
        return checks.check("mmap /death", false, format_args!("failed"));
    };
    // Page 1 again, as a mapping of its own: the first touch of `addr` maps
    // (fault-around) the daemon's pages of that mapping only, so this one
    // is still unfetched when the daemon dies.
    // SAFETY: no fixed address: nothing of ours is replaced.
    let Ok(other) = (unsafe { mm::mmap(0, PAGE, PROT_READ, MAP_SHARED | MapFlags::MAP_LAZY, fd, PAGE) }) else {
        return checks.check("mmap /death page 1", false, format_args!("failed"));
    };
    let first = byte(addr + 7);
    let _ = sys::kill(daemon, SIGKILL);
    let _ = process::wait(daemon);
    checks.check(
        "daemon-death: a fetched page stays readable",
        byte(addr + 7) == first && first == 7,
        format_args!("{first}"),
    );
    let signal = child_signal(|| {
        core::hint::black_box(read_word(other));
    });
    checks.check("daemon-death: a new page is SIGBUS", signal == Some(SIGBUS), format_args!("{signal:?}"));
    // SAFETY: the test's own mapping; it may move.
    let grown = unsafe { mm::mremap(addr, 2 * PAGE, 0, 4 * PAGE, MREMAP_MAYMOVE) }.map_err(|e| e.errno);
    checks.check(
        "daemon-death: growing fails, the mapping stays",
        grown.is_err() && byte(addr + 7) == 7,
        format_args!("{grown:?}"),
    );
    // Read-only: nothing to write back, so the dead scheme is no error.
    let unmapped = unmap(addr, 2).and_then(|_| unmap(other, 1));
    checks.check(
        "daemon-death: munmap of a read-only mapping is 0",
        unmapped.is_ok(),
        format_args!("{}", Shown(unmapped)),
    );
    let _ = sys::close(fd);
    let fresh = sys::open(&at("/x"), O_RDONLY).map_err(|e| e.errno);
    checks.check("daemon-death: the scheme is gone (ENODEV)", fresh == Err(ENODEV), format_args!("{fresh:?}"));
}
