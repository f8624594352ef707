//! `ramfs-files`: the filesystem calls through the kernel to `ramfs`, on a
//! private instance (`ramfs ramfs-test`, so nothing here depends on what
//! other programs keep in `file:`) and, for paths without a scheme, on the
//! image's `file:`.
//!
//! 1. Files: create, write, read, lseek (kernel-kept offsets), fstat
//!    (sizes, modes, links), ftruncate growing and shrinking (the tail
//!    reads zero after regrowing), 100,000 bytes in one write, O_EXCL,
//!    O_TRUNC, read-only opens.
//! 2. Directories: mkdir, rmdir, unlink; ENOTEMPTY, ENOTDIR, EISDIR,
//!    EEXIST, ENOENT.
//! 3. Listings: 30 entries read through `getdents` one or two records per
//!    call (opaque ids), the same through `fs::read_dir`; kinds; a buffer
//!    too small (EINVAL), a file (ENOTDIR), a kernel pointer (EFAULT).
//! 4. Renames (`frename`): move, replace a file, replace an empty
//!    directory, ENOTEMPTY, EISDIR, EXDEV to another scheme.
//! 5. An unlinked file stays readable and writable through its fd and is
//!    gone from the listing.
//! 6. Paths without a scheme: `/x` and `x` are `file:`'s (`file:/x`,
//!    `/scheme/file/x`); the empty path is ENOENT.
//! 7. Bad input: huge path lengths (ENAMETOOLONG before anything is read),
//!    `..` above the root (the root), a NUL in a name (EINVAL), a 256-byte
//!    name (ENAMETOOLONG), unknown unlinkat flags (EINVAL), kernel schemes
//!    (EOPNOTSUPP), `/.ramfs/` (not listed, not removable; `pins` says
//!    `total 0`, `ctl` takes a knob).
//! 8. Memory: a round of creating, filling, listing, renaming and deleting
//!    files is run twice; after the second, `sys:memory`'s free frames are
//!    back where they were after the first (the first settles the daemon's
//!    heap, page tables and the kernel heap).
//!
//! Waits for the daemons are bounded (`tessera_guest_tests::ramfs`).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use tessera_guest_tests::mm::{Memory, frames_back};
use tessera_guest_tests::ramfs::{self, open_when_there};
use tessera_guest_tests::{Checks, Shown};
use tessera_runtime::abi::Result;
use tessera_runtime::abi::dirent;
use tessera_runtime::abi::error::{
    EBADF, EEXIST, EFAULT, EINVAL, EISDIR, ENAMETOOLONG, ENODEV, ENOENT, ENOTDIR, ENOTEMPTY, EOPNOTSUPP, EPERM, EXDEV,
};
use tessera_runtime::abi::flag::{
    MODE_DIR, MODE_FILE, MODE_TYPE, O_CREAT, O_DIRECTORY, O_EXCL, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, SEEK_END,
    SEEK_SET,
};
use tessera_runtime::abi::number::{SYS_FRENAME, SYS_GETDENTS, SYS_OPEN, SYS_UNLINKAT};
use tessera_runtime::abi::signal::SIGKILL;
use tessera_runtime::fs::{EntryKind, read_dir};
use tessera_runtime::syscall::{syscall3, syscall4};
use tessera_runtime::{Args, process, sys};

tessera_runtime::entry!(main);

/// The private instance's scheme.
const SCHEME: &str = "ramfs-test";
/// Bytes of the large file: more than one message, not a page multiple.
const BIG_BYTES: usize = 100_000;
/// Entries of the listing test.
const LISTED: usize = 30;
/// Files of a memory round.
const ROUND_FILES: usize = 8;
/// The start of the kernel half.
const KERNEL_ADDR: usize = 0xFFFF_8000_0000_0000;

fn main(_args: Args) -> i32 {
    let mut checks = Checks::new("ramfs-files");
    let Some(daemon) = ramfs::start(&mut checks, SCHEME) else { return checks.finish() };
    files(&mut checks);
    directories(&mut checks);
    listings(&mut checks);
    renames(&mut checks);
    unlinked_but_open(&mut checks);
    bad_input(&mut checks);
    control_dir(&mut checks);
    memory(&mut checks);
    let left = read_dir(&at("/")).map(|names| names.len());
    checks.check("everything was deleted", left == Ok(0), format_args!("{} entries left", Shown(left)));
    let _ = sys::kill(daemon, SIGKILL);
    let _ = process::wait(daemon);
    default_scheme(&mut checks);
    checks.finish()
}

/// `ramfs-test:PATH`.
fn at(path: &str) -> String {
    format!("{SCHEME}:{path}")
}

fn expect_value(checks: &mut Checks, what: &str, got: Result<usize>, want: usize) {
    checks.check(what, got == Ok(want), format_args!("wanted Ok({want}), got {}", Shown(got)));
}

fn expect_ok(checks: &mut Checks, what: &str, got: Result<()>) {
    expect_value(checks, what, got.map(|()| 0), 0);
}

/// Reads from the offset to the end of file.
fn read_rest(fd: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 8192];
    loop {
        let n = sys::read(fd, &mut buf)?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// Checks the whole content of the file open on `fd` (from offset 0).
fn expect_content(checks: &mut Checks, what: &str, fd: usize, want: &[u8]) {
    let got = sys::lseek(fd, 0, SEEK_SET).and_then(|_| read_rest(fd));
    let ok = got.as_ref().is_ok_and(|got| got == want);
    let shown = got.as_ref().map(|g| String::from_utf8_lossy(&g[..g.len().min(40)]).into_owned());
    checks.check(what, ok, format_args!("wanted {} bytes, got {shown:?}", want.len()));
}

/// (mode type, size, links) of `fd`.
fn stat_of(fd: usize) -> Option<(u16, u64, u32)> {
    sys::fstat(fd).ok().map(|s| (s.st_mode & MODE_TYPE, s.st_size, s.st_nlink))
}

fn files(checks: &mut Checks) {
    let fd = match sys::open(&at("/notes"), O_CREAT | O_RDWR) {
        Ok(fd) => fd,
        Err(e) => return checks.check("create /notes", false, format_args!("{e}")),
    };
    expect_value(checks, "write 11 bytes", sys::write(fd, b"hello world"), 11);
    expect_value(checks, "the offset moved: lseek(0, SEEK_END) is 11", sys::lseek(fd, 0, SEEK_END), 11);
    expect_value(checks, "lseek(6)", sys::lseek(fd, 6, SEEK_SET), 6);
    let mut buf = [0u8; 16];
    let got = sys::read(fd, &mut buf);
    checks.check("read from 6 gives `world`", got == Ok(5) && &buf[..5] == b"world", format_args!("{}", Shown(got)));
    let st = stat_of(fd);
    checks.check("fstat: a file of 11 bytes, 1 link", st == Some((MODE_FILE, 11, 1)), format_args!("{st:?}"));

    expect_ok(checks, "ftruncate to 3 pages", sys::ftruncate(fd, 3 * 4096));
    let mut grown = b"hello world".to_vec();
    grown.resize(3 * 4096, 0);
    expect_content(checks, "grown: the bytes, then zeroes", fd, &grown);
    expect_ok(checks, "ftruncate to 4", sys::ftruncate(fd, 4));
    expect_ok(checks, "ftruncate to 4100 again", sys::ftruncate(fd, 4100));
    let mut regrown = b"hell".to_vec();
    regrown.resize(4100, 0);
    expect_content(checks, "shrunk and regrown: the tail reads zero", fd, &regrown);
    expect_ok(checks, "fsync", sys::fsync(fd));

    checks.expect_errno(
        "O_CREAT | O_EXCL of an existing file",
        sys::open(&at("/notes"), O_CREAT | O_EXCL | O_RDWR),
        EEXIST,
    );
    match sys::open(&at("/notes"), O_RDONLY) {
        Ok(ro) => {
            checks.expect_errno("write to a read-only open", sys::write(ro, b"x"), EBADF);
            expect_content(checks, "a second open sees the same bytes", ro, &regrown);
            let _ = sys::close(ro);
        }
        Err(e) => checks.check("open /notes read-only", false, format_args!("{e}")),
    }
    match sys::open(&at("/notes"), O_WRONLY | O_TRUNC) {
        Ok(trunc) => {
            let size = stat_of(fd).map(|s| s.1);
            checks.check("O_TRUNC empties the file", size == Some(0), format_args!("size {size:?}"));
            let _ = sys::close(trunc);
        }
        Err(e) => checks.check("open /notes O_TRUNC", false, format_args!("{e}")),
    }

    let data: Vec<u8> = (0..BIG_BYTES).map(|i| (i * 13 + (i >> 9)) as u8).collect();
    let _ = sys::lseek(fd, 0, SEEK_SET);
    expect_value(checks, "one write of 100000 bytes", sys::write(fd, &data), BIG_BYTES);
    expect_content(checks, "100000 bytes come back intact", fd, &data);
    expect_ok(checks, "close", sys::close(fd));
    expect_ok(checks, "unlink /notes", sys::unlink(&at("/notes")));
    checks.expect_errno("it is gone", sys::open(&at("/notes"), O_RDONLY), ENOENT);
}

fn directories(checks: &mut Checks) {
    expect_ok(checks, "mkdir /d", sys::mkdir(&at("/d")));
    checks.expect_errno("mkdir /d again", sys::mkdir(&at("/d")).map(|()| 0), EEXIST);
    expect_ok(checks, "mkdir /d/e/ (trailing slash)", sys::mkdir(&at("/d/e/")));
    checks.expect_errno("mkdir under a missing directory", sys::mkdir(&at("/x/y")).map(|()| 0), ENOENT);
    match sys::open(&at("/d"), O_RDONLY | O_DIRECTORY) {
        Ok(fd) => {
            let st = stat_of(fd);
            checks.check(
                "fstat: a directory, 3 links",
                st.is_some_and(|s| s.0 == MODE_DIR && s.2 == 3),
                format_args!("{st:?}"),
            );
            checks.expect_errno("read of a directory", sys::read(fd, &mut [0u8; 8]), EISDIR);
            let _ = sys::close(fd);
        }
        Err(e) => checks.check("open /d", false, format_args!("{e}")),
    }
    checks.expect_errno("open a directory for writing", sys::open(&at("/d"), O_RDWR), EISDIR);
    if let Ok(fd) = sys::open(&at("/d/file"), O_CREAT | O_RDWR) {
        let _ = sys::close(fd);
    }
    checks.expect_errno("a file as a directory", sys::open(&at("/d/file/x"), O_CREAT | O_RDWR), ENOTDIR);
    checks.expect_errno("rmdir of a non-empty directory", sys::rmdir(&at("/d")).map(|()| 0), ENOTEMPTY);
    checks.expect_errno("unlink of a directory", sys::unlink(&at("/d/e")).map(|()| 0), EISDIR);
    checks.expect_errno("rmdir of a file", sys::rmdir(&at("/d/file")).map(|()| 0), ENOTDIR);
    checks.expect_errno("unlink of a missing file", sys::unlink(&at("/d/nope")).map(|()| 0), ENOENT);
    expect_ok(checks, "unlink /d/file", sys::unlink(&at("/d/file")));
    expect_ok(checks, "rmdir /d/e", sys::rmdir(&at("/d/e")));
    expect_ok(checks, "rmdir /d", sys::rmdir(&at("/d")));
}

/// The names of one listing read through raw `getdents` calls with a
/// `chunk`-byte buffer, and how many calls it took.
fn raw_listing(fd: usize, chunk: usize) -> Result<(Vec<String>, usize)> {
    let mut names = Vec::new();
    let mut buf = vec![0u8; chunk];
    let (mut opaque, mut calls) = (0, 0);
    loop {
        let n = sys::getdents(fd, &mut buf, opaque)?;
        calls += 1;
        if n == 0 {
            return Ok((names, calls));
        }
        for entry in dirent::entries(&buf[..n]) {
            let entry = entry.map_err(|_| tessera_runtime::Error::new(tessera_runtime::abi::error::EIO))?;
            names.push(String::from_utf8_lossy(entry.name).into_owned());
            opaque = entry.next_opaque_id;
        }
    }
}

fn listings(checks: &mut Checks) {
    let _ = sys::mkdir(&at("/list"));
    let names: Vec<String> = (0..LISTED).map(|i| format!("entry-{i:02}")).collect();
    let mut created = 0;
    for name in &names {
        if let Ok(fd) = sys::open(&at(&format!("/list/{name}")), O_CREAT | O_RDWR) {
            created += 1;
            let _ = sys::close(fd);
        }
    }
    let _ = sys::mkdir(&at("/list/zdir"));
    checks.check("create 30 files", created == LISTED, format_args!("{created} created"));
    let mut want = vec![String::from("."), "..".into()];
    want.extend(names.iter().cloned());
    want.push("zdir".into());

    match sys::open(&at("/list"), O_RDONLY | O_DIRECTORY) {
        Ok(fd) => {
            // Room for one or two records per call.
            let small = raw_listing(fd, 2 * dirent::record_bytes(8) - 1);
            let ok = small.as_ref().is_ok_and(|(got, calls)| *got == want && *calls > LISTED / 2);
            checks.check(
                "getdents with a small buffer lists every entry once, over many calls",
                ok,
                format_args!("{:?}", small.as_ref().map(|(got, calls)| (got.len(), calls))),
            );
            let big = raw_listing(fd, 8192);
            checks.check(
                "one big buffer gives the same",
                big.as_ref().is_ok_and(|(got, _)| *got == want),
                format_args!("{:?}", big.as_ref().map(|(got, _)| got.len())),
            );
            checks.expect_errno("a buffer too small for a record", sys::getdents(fd, &mut [0u8; 8], 0), EINVAL);
            // SAFETY: a kernel address: the kernel must refuse it.
            let got = unsafe { syscall4(SYS_GETDENTS, fd, KERNEL_ADDR, 4096, 0) };
            checks.expect_errno("getdents into the kernel half", got, EFAULT);
            let _ = sys::close(fd);
        }
        Err(e) => checks.check("open /list", false, format_args!("{e}")),
    }
    match read_dir(&at("/list")) {
        Ok(entries) => {
            let files = entries.iter().filter(|(_, kind)| *kind == EntryKind::Regular).count();
            let dirs: Vec<&str> =
                entries.iter().filter(|(_, kind)| *kind == EntryKind::Directory).map(|(n, _)| n.as_str()).collect();
            checks.check(
                "read_dir: 30 files and the directory, without . and ..",
                entries.len() == LISTED + 1 && files == LISTED && dirs == ["zdir"],
                format_args!("{} entries, {files} files, dirs {dirs:?}", entries.len()),
            );
        }
        Err(e) => checks.check("read_dir /list", false, format_args!("{e}")),
    }
    if let Ok(fd) = sys::open(&at("/list/entry-00"), O_RDONLY) {
        checks.expect_errno("getdents of a file", sys::getdents(fd, &mut [0u8; 256], 0), ENOTDIR);
        let _ = sys::close(fd);
    }
    let mut removed = 0;
    for name in &names {
        if sys::unlink(&at(&format!("/list/{name}"))).is_ok() {
            removed += 1;
        }
    }
    let _ = sys::rmdir(&at("/list/zdir"));
    expect_ok(checks, "remove the listed files and the directory", sys::rmdir(&at("/list")));
    checks.check("30 files removed", removed == LISTED, format_args!("{removed}"));
}

/// Creates `path` holding `data`; its fd (or a failed check).
fn create(checks: &mut Checks, path: &str, data: &[u8]) -> Option<usize> {
    let fd = sys::open(&at(path), O_CREAT | O_RDWR).and_then(|fd| sys::write(fd, data).map(|_| fd));
    checks.check(&format!("create {path}"), fd.is_ok(), format_args!("{}", Shown(fd)));
    fd.ok()
}

fn renames(checks: &mut Checks) {
    let _ = sys::mkdir(&at("/r"));
    let (Some(a), Some(b)) = (create(checks, "/r/a", b"alpha"), create(checks, "/r/b", b"beta")) else { return };
    expect_ok(checks, "frename /r/a to /r/c", sys::frename(a, &at("/r/c")));
    checks.expect_errno("the old name is gone", sys::open(&at("/r/a"), O_RDONLY), ENOENT);
    expect_ok(checks, "frename /r/c onto /r/b: replaced", sys::frename(a, &at("/r/b")));
    expect_content(checks, "the replaced file stays readable through its fd", b, b"beta");
    if let Ok(fd) = sys::open(&at("/r/b"), O_RDONLY) {
        expect_content(checks, "/r/b is the renamed file", fd, b"alpha");
        let _ = sys::close(fd);
    }
    let names = read_dir(&at("/r")).map(|e| e.into_iter().map(|(n, _)| n).collect::<Vec<_>>());
    checks.check(
        "the directory holds only b",
        names.as_deref() == Ok(&[String::from("b")][..]),
        format_args!("{names:?}"),
    );
    checks.expect_errno("frename to another scheme", sys::frename(a, "sys:x").map(|()| 0), EXDEV);

    let _ = sys::mkdir(&at("/r/empty"));
    let _ = sys::mkdir(&at("/r/full"));
    let _ = sys::close(sys::open(&at("/r/full/x"), O_CREAT | O_RDWR).unwrap_or(usize::MAX));
    checks.expect_errno("a file onto a directory", sys::frename(a, &at("/r/empty")).map(|()| 0), EISDIR);
    if let Ok(dir) = sys::open(&at("/r/full"), O_RDONLY | O_DIRECTORY) {
        checks.expect_errno("a directory onto a file", sys::frename(dir, &at("/r/b")).map(|()| 0), ENOTDIR);
        let _ = sys::mkdir(&at("/r/other"));
        let _ = sys::close(sys::open(&at("/r/other/y"), O_CREAT | O_RDWR).unwrap_or(usize::MAX));
        checks.expect_errno("onto a non-empty directory", sys::frename(dir, &at("/r/other")).map(|()| 0), ENOTEMPTY);
        checks.expect_errno("into itself", sys::frename(dir, &at("/r/full/sub")).map(|()| 0), EINVAL);
        expect_ok(checks, "a directory onto an empty one", sys::frename(dir, &at("/r/empty")));
        let moved = sys::open(&at("/r/empty/x"), O_RDONLY);
        checks.check("its entries moved with it", moved.is_ok(), format_args!("{}", Shown(moved)));
        let _ = moved.map(sys::close);
        let _ = sys::close(dir);
        let _ = sys::unlink(&at("/r/other/y"));
        let _ = sys::rmdir(&at("/r/other"));
    }
    let _ = sys::close(a);
    let _ = sys::close(b);
    let _ = sys::unlink(&at("/r/empty/x"));
    let _ = sys::rmdir(&at("/r/empty"));
    let _ = sys::unlink(&at("/r/b"));
    expect_ok(checks, "remove /r", sys::rmdir(&at("/r")));
}

fn unlinked_but_open(checks: &mut Checks) {
    let Some(fd) = create(checks, "/ghost", b"boo") else { return };
    expect_ok(checks, "unlink an open file", sys::unlink(&at("/ghost")));
    let listed = read_dir(&at("/")).map(|e| e.iter().any(|(n, _)| n == "ghost"));
    checks.check("it is gone from the listing", listed == Ok(false), format_args!("{listed:?}"));
    checks.expect_errno("and from its path", sys::open(&at("/ghost"), O_RDONLY), ENOENT);
    expect_value(checks, "still writable through the fd", sys::write(fd, b"!"), 1);
    expect_content(checks, "still readable through the fd", fd, b"boo!");
    let links = stat_of(fd).map(|s| s.2);
    checks.check("fstat says 0 links", links == Some(0), format_args!("{links:?}"));
    expect_ok(checks, "close it", sys::close(fd));
}

fn bad_input(checks: &mut Checks) {
    let path = at("/x");
    let (ptr, huge) = (path.as_ptr() as usize, 1usize << 40);
    // SAFETY: the kernel must refuse the lengths before reading anything.
    let got = unsafe { syscall3(SYS_OPEN, ptr, huge, O_RDONLY) };
    checks.expect_errno("open with a 2^40-byte path", got, ENAMETOOLONG);
    // SAFETY: as above.
    let got = unsafe { syscall3(SYS_UNLINKAT, ptr, huge, 0) };
    checks.expect_errno("unlinkat with a 2^40-byte path", got, ENAMETOOLONG);
    // SAFETY: as above (fd 2, the console, is open: the path is what fails).
    let got = unsafe { syscall3(SYS_FRENAME, 2, ptr, huge) };
    checks.expect_errno("frename with a 2^40-byte path", got, ENAMETOOLONG);
    // SAFETY: a kernel address: the kernel must refuse it.
    let got = unsafe { syscall3(SYS_UNLINKAT, KERNEL_ADDR, 8, 0) };
    checks.expect_errno("unlinkat with a kernel pointer", got, EFAULT);

    checks.expect_errno("the empty path", sys::open("", O_RDONLY), ENOENT);
    checks.expect_errno("unlink of the empty path", sys::unlink("").map(|()| 0), ENOENT);
    match sys::open(&at("/../../.."), O_RDONLY) {
        Ok(fd) => {
            let ino = sys::fstat(fd).map(|s| s.st_ino);
            checks.check("`..` above the root is the root", ino == Ok(1), format_args!("inode {ino:?}"));
            let _ = sys::close(fd);
        }
        Err(e) => checks.check("open /../../..", false, format_args!("{e}")),
    }
    checks.expect_errno("a NUL in a name", sys::open(&at("/a\0b"), O_CREAT | O_RDWR), EINVAL);
    checks.expect_errno("a 256-byte name", sys::open(&at(&"n".repeat(256)), O_CREAT | O_RDWR), ENAMETOOLONG);
    checks.expect_errno("unknown unlinkat flags", sys::unlinkat(&at("/x"), 0x4).map(|()| 0), EINVAL);
    checks.expect_errno("unlink on a kernel scheme", sys::unlink("sys:memory").map(|()| 0), EOPNOTSUPP);
    checks.expect_errno("unlink on a missing scheme", sys::unlink("nosuchscheme:x").map(|()| 0), ENODEV);
    if let Ok(fd) = sys::open("sys:memory", O_RDONLY) {
        checks.expect_errno("getdents on a kernel scheme", sys::getdents(fd, &mut [0u8; 256], 0), EOPNOTSUPP);
        checks.expect_errno("frename on a kernel scheme", sys::frename(fd, "sys:other").map(|()| 0), EOPNOTSUPP);
        let _ = sys::close(fd);
    }
    checks.expect_errno("getdents of a bad fd", sys::getdents(9999, &mut [0u8; 256], 0), EBADF);
}

fn control_dir(checks: &mut Checks) {
    let listed = read_dir(&at("/")).map(|e| e.iter().any(|(n, _)| n == ".ramfs"));
    checks.check("/.ramfs is not listed", listed == Ok(false), format_args!("{listed:?}"));
    checks.expect_errno("/.ramfs cannot be removed", sys::rmdir(&at("/.ramfs")).map(|()| 0), EPERM);
    let pins = tessera_runtime::io::read_file(&at("/.ramfs/pins"));
    checks.check(
        "/.ramfs/pins: nothing pinned",
        pins.as_deref() == Ok(&b"total 0\n"[..]),
        format_args!("{:?}", pins.map(|p| String::from_utf8_lossy(&p).into_owned())),
    );
    if let Some(fd) = create(checks, "/knob", b"") {
        let _ = sys::close(fd);
        let ctl = sys::open(&at("/.ramfs/ctl"), O_WRONLY);
        let command = b"fail-writeback /knob on\n";
        let wrote = ctl.and_then(|fd| sys::write(fd, command));
        checks.check("/.ramfs/ctl takes a knob", wrote == Ok(command.len()), format_args!("{}", Shown(wrote)));
        let bad = ctl.and_then(|fd| sys::write(fd, b"fail-writeback /nope on"));
        checks.expect_errno("a knob for a missing file", bad, ENOENT);
        let _ = ctl.map(sys::close);
        let _ = sys::unlink(&at("/knob"));
    }
}

/// One round: files created, filled (some sparse), listed, renamed,
/// truncated and deleted. True if every call worked.
fn round() -> bool {
    let mut ok = sys::mkdir(&at("/round")).is_ok();
    let data = vec![0x5Au8; 3 * 4096 + 100];
    for i in 0..ROUND_FILES {
        let path = at(&format!("/round/f{i}"));
        let step = sys::open(&path, O_CREAT | O_RDWR).and_then(|fd| {
            let written = sys::write(fd, &data[..(i + 1) * 1500]);
            let far = sys::lseek(fd, 40 * 4096, SEEK_SET).and_then(|_| sys::write(fd, b"end"));
            let shrunk = sys::ftruncate(fd, 100);
            let renamed = sys::frename(fd, &at(&format!("/round/g{i}")));
            let _ = sys::close(fd);
            written.and(far).and(shrunk).and(renamed)
        });
        ok &= step.is_ok();
    }
    ok &= read_dir(&at("/round")).is_ok_and(|e| e.len() == ROUND_FILES);
    for i in 0..ROUND_FILES {
        ok &= sys::unlink(&at(&format!("/round/g{i}"))).is_ok();
    }
    ok & sys::rmdir(&at("/round")).is_ok()
}

fn memory(checks: &mut Checks) {
    checks.check("a warm-up round of files", round(), format_args!("a call failed"));
    let before = Memory::read();
    checks.check("a second round", round(), format_args!("a call failed"));
    frames_back(checks, before);
}

/// Paths without a scheme, on the image's `file:`.
fn default_scheme(checks: &mut Checks) {
    let probe = "/ramfs-files.probe";
    let fd = open_when_there(probe, O_CREAT | O_EXCL | O_RDWR, None);
    checks.check("create /ramfs-files.probe (no scheme: file:)", fd.is_ok(), format_args!("{}", Shown(fd)));
    let Ok(fd) = fd else { return };
    let _ = sys::write(fd, b"via file:");
    let _ = sys::close(fd);
    for path in ["file:/ramfs-files.probe", "/scheme/file/ramfs-files.probe", "ramfs-files.probe"] {
        let got = sys::open(path, O_RDONLY);
        if let Ok(fd) = got {
            expect_content(checks, &format!("{path} is the same file"), fd, b"via file:");
            let _ = sys::close(fd);
        } else {
            checks.check(&format!("open {path}"), false, format_args!("{}", Shown(got)));
        }
    }
    let names = read_dir("/").map(|e| e.iter().any(|(n, _)| n == "ramfs-files.probe"));
    checks.check("read_dir(/) lists it", names == Ok(true), format_args!("{names:?}"));
    expect_ok(checks, "unlink it by its plain path", sys::unlink(probe));
    checks.expect_errno("it is gone from file:", sys::open("file:/ramfs-files.probe", O_RDONLY), ENOENT);
}
