//! `redoxfs-files`: the RedoxFS daemon (`redoxfsd`) on a disk image kept on
//! ramfs: files, directories and file mappings, and what persists when a
//! second daemon mounts the same image.
//!
//! | group | checks |
//! |---|---|
//! | start | a 24 MiB image on `file:`, `redoxfsd --mkfs` on it as `rfs-files:`, which answers |
//! | files | create, write, seek + read, fstat size, ftruncate shorter and longer (zeroes), O_APPEND, O_EXCL (EEXIST), O_TRUNC, a missing file (ENOENT), a file as a directory (ENOTDIR), write to a directory open (EISDIR) |
//! | dirs | mkdir, a file inside, the listing, rename across directories, rmdir of a full one (ENOTEMPTY), unlink, rmdir |
//! | shared | MAP_SHARED, a store through it is seen by `read()` at once; `write()` is seen by the mapping; msync(MS_SYNC) is 0; pins are the mapped pages; munmap; pins back to 0 |
//! | eof | the page past EOF of a mapping is SIGBUS (in a child) |
//! | private | MAP_PRIVATE stores are the writer's only, never in the file |
//! | errors | with the device failing writes (`/.redoxfsd/ctl`), msync and munmap are EIO; once lifted, fsync writes the kept page |
//! | c-tests | the C suite's file and file-mapping cases (`c-tests`, relibc-shim) run with their scratch directory on `rfs-files:` (`CTEST_SCRATCH`) and pass; the daemon's pins are back to 0 after them |
//! | fmapcheck | the fmap kit (`fmapcheck rfs-files: rfs-files:/.redoxfsd/pins`) passes: every case, pins back to 0 |
//! | remount | the daemon killed, a second one started on the image without --mkfs: the files, the directory, the bytes written through the mapping (by `read()` and by a new mapping) and the page kept after the EIO are there; pins 0 |
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use tessera_guest_tests::mm::{child_signal, read_word, write_word};
use tessera_guest_tests::ramfs::start_daemon;
use tessera_guest_tests::{Checks, Shown};
use tessera_runtime::abi::error::{EEXIST, EIO, EISDIR, ENOENT, ENOTDIR, ENOTEMPTY};
use tessera_runtime::abi::flag::{
    O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, SEEK_SET,
};
use tessera_runtime::abi::signal::{SIGBUS, SIGKILL};
use tessera_runtime::mm::{self, MAP_PRIVATE, MAP_SHARED, MS_SYNC, MapFlags, PROT_READ, PROT_RW};
use tessera_runtime::{Args, fs, io, process, sys};

tessera_runtime::entry!(main);

const IMAGE: &str = "file:/redoxfs-files.img";
const IMAGE_BYTES: usize = 24 << 20;
const FIRST: &str = "rfs-files";
const SECOND: &str = "rfs-files2";
const PAGE: usize = 4096;

fn main(_args: Args) -> i32 {
    let mut checks = Checks::new("redoxfs-files");
    let image =
        sys::open(IMAGE, O_CREAT | O_TRUNC | O_RDWR).and_then(|fd| sys::ftruncate(fd, IMAGE_BYTES).map(|()| fd));
    checks.check("a 24 MiB image on file:", image.is_ok(), format_args!("{}", Shown(image)));
    if let Ok(fd) = image {
        let _ = sys::close(fd);
    }
    let Some(daemon) = start(&mut checks, true, FIRST) else { return checks.finish() };
    files(&mut checks);
    dirs(&mut checks);
    let marker = shared(&mut checks);
    eof(&mut checks);
    private(&mut checks);
    errors(&mut checks);
    c_tests(&mut checks);
    fmapcheck(&mut checks);
    let _ = sys::kill(daemon, SIGKILL);
    let _ = process::wait(daemon);
    if let Some(second) = start(&mut checks, false, SECOND) {
        remount(&mut checks, marker);
        let _ = sys::kill(second, SIGKILL);
        let _ = process::wait(second);
    }
    let _ = sys::unlink(IMAGE);
    checks.finish()
}

/// Starts `redoxfsd [--mkfs] IMAGE scheme` and waits until it serves.
fn start(checks: &mut Checks, mkfs: bool, scheme: &'static str) -> Option<usize> {
    let mut argv = vec!["redoxfsd"];
    if mkfs {
        argv.push("--mkfs");
    }
    argv.extend([IMAGE, scheme]);
    let what = format!("redoxfsd {} serves {scheme}:", if mkfs { "--mkfs" } else { "(mount)" });
    start_daemon(checks, &what, &argv, scheme)
}

fn at(scheme: &str, path: &str) -> String {
    format!("{scheme}:{path}")
}

fn read_at(fd: usize, offset: usize, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    let n = sys::lseek(fd, offset as isize, SEEK_SET).and_then(|_| sys::read(fd, &mut buf)).unwrap_or(0);
    buf.truncate(n);
    buf
}

fn write_at(fd: usize, offset: usize, data: &[u8]) -> tessera_runtime::Result<usize> {
    sys::lseek(fd, offset as isize, SEEK_SET).and_then(|_| sys::write(fd, data))
}

fn size(fd: usize) -> Option<u64> {
    sys::fstat(fd).ok().map(|s| s.st_size)
}

fn pins_total(scheme: &str) -> Option<usize> {
    let text = io::read_file(&at(scheme, "/.redoxfsd/pins")).ok()?;
    let text = core::str::from_utf8(&text).ok()?;
    text.lines().last()?.strip_prefix("total ")?.trim().parse().ok()
}

fn map(fd: usize, pages: usize, prot: MapFlags, flags: MapFlags) -> tessera_runtime::Result<usize> {
    // SAFETY: no fixed address: nothing of ours is replaced.
    unsafe { mm::mmap(0, pages * PAGE, prot, flags, fd, 0) }
}

fn unmap(addr: usize, pages: usize) -> tessera_runtime::Result<usize> {
    // SAFETY: the test's own file mappings, no longer used.
    unsafe { mm::munmap(addr, pages * PAGE) }.map(|()| 0)
}

fn files(checks: &mut Checks) {
    let path = at(FIRST, "/notes.txt");
    let Ok(fd) = sys::open(&path, O_CREAT | O_RDWR) else {
        return checks.check("files: create", false, format_args!("failed"));
    };
    let wrote = sys::write(fd, b"hello, redoxfs");
    checks.check("files: write", wrote == Ok(14), format_args!("{}", Shown(wrote)));
    let seen = read_at(fd, 7, 7);
    checks.check("files: seek + read", seen == b"redoxfs", format_args!("{seen:?}"));
    checks.check("files: fstat size", size(fd) == Some(14), format_args!("{:?}", size(fd)));
    let cut = sys::ftruncate(fd, 5).map(|()| read_at(fd, 0, 64));
    checks.check("files: ftruncate shorter", cut.as_deref() == Ok(b"hello"), format_args!("{cut:?}"));
    let grown = sys::ftruncate(fd, 9).map(|()| read_at(fd, 0, 64));
    checks.check(
        "files: ftruncate longer reads zeroes",
        grown.as_deref() == Ok(b"hello\0\0\0\0"),
        format_args!("{grown:?}"),
    );
    let _ = sys::close(fd);
    let appended = sys::open(&path, O_WRONLY | O_APPEND).and_then(|fd| {
        let n = write_at(fd, 0, b"!");
        let _ = sys::close(fd);
        n
    });
    let all = sys::open(&path, O_RDONLY).map(|fd| {
        let data = read_at(fd, 0, 64);
        let _ = sys::close(fd);
        data
    });
    checks.check(
        "files: O_APPEND writes at the end",
        appended == Ok(1) && all.as_deref() == Ok(b"hello\0\0\0\0!"),
        format_args!("{} {all:?}", Shown(appended)),
    );
    checks.expect_errno("files: O_EXCL of an existing file", sys::open(&path, O_CREAT | O_EXCL | O_RDWR), EEXIST);
    let truncated = sys::open(&path, O_RDWR | O_TRUNC).map(|fd| {
        let s = size(fd);
        let _ = sys::close(fd);
        s
    });
    checks.check("files: O_TRUNC empties it", truncated == Ok(Some(0)), format_args!("{truncated:?}"));
    checks.expect_errno("files: a missing file", sys::open(&at(FIRST, "/missing"), O_RDONLY), ENOENT);
    checks.expect_errno("files: a file as a directory", sys::open(&at(FIRST, "/notes.txt/x"), O_RDONLY), ENOTDIR);
    checks.expect_errno("files: a directory opened to write", sys::open(&at(FIRST, "/"), O_RDWR), EISDIR);
}

fn dirs(checks: &mut Checks) {
    let made = sys::mkdir(&at(FIRST, "/docs"));
    checks.check("dirs: mkdir", made.is_ok(), format_args!("{made:?}"));
    let inside = sys::open(&at(FIRST, "/docs/a"), O_CREAT | O_RDWR).and_then(|fd| {
        let n = sys::write(fd, b"in docs");
        let renamed = sys::frename(fd, &at(FIRST, "/docs/b"));
        let _ = sys::close(fd);
        renamed.and(n)
    });
    checks.check("dirs: a file inside, renamed", inside == Ok(7), format_args!("{}", Shown(inside)));
    let listing = fs::read_dir(&at(FIRST, "/docs")).map(|l| l.into_iter().map(|(n, _)| n).collect::<Vec<_>>());
    checks.check("dirs: the listing", listing.as_deref() == Ok(&[String::from("b")][..]), format_args!("{listing:?}"));
    let root = fs::read_dir(&at(FIRST, "/")).map(|l| {
        let mut names: Vec<String> = l.into_iter().map(|(n, _)| n).collect();
        names.sort();
        names
    });
    checks.check(
        "dirs: the root lists docs and notes.txt",
        root.as_deref() == Ok(&[String::from("docs"), String::from("notes.txt")][..]),
        format_args!("{root:?}"),
    );
    checks.expect_errno("dirs: rmdir of a full directory", sys::rmdir(&at(FIRST, "/docs")).map(|()| 0), ENOTEMPTY);
    let moved = sys::open(&at(FIRST, "/docs/b"), O_RDONLY).and_then(|fd| {
        let r = sys::frename(fd, &at(FIRST, "/kept"));
        let _ = sys::close(fd);
        r
    });
    let removed = sys::rmdir(&at(FIRST, "/docs"));
    checks.check("dirs: rename out, rmdir", moved.is_ok() && removed.is_ok(), format_args!("{moved:?} {removed:?}"));
    let unlinked = sys::unlink(&at(FIRST, "/notes.txt"));
    checks.check("dirs: unlink", unlinked.is_ok(), format_args!("{unlinked:?}"));
    checks.expect_errno("dirs: the unlinked file is gone", sys::open(&at(FIRST, "/notes.txt"), O_RDONLY), ENOENT);
}

/// The marker written through the shared mapping (checked after remount).
const MARKER: u64 = 0x5EED_F11E_0000_0017;

fn shared(checks: &mut Checks) -> u64 {
    let path = at(FIRST, "/mapped");
    let Ok(fd) = sys::open(&path, O_CREAT | O_RDWR) else {
        checks.check("shared: create", false, format_args!("failed"));
        return 0;
    };
    let data: Vec<u8> = (0..3 * PAGE).map(|i| (i % 251) as u8).collect();
    let _ = sys::write(fd, &data);
    let Ok(addr) = map(fd, 3, PROT_RW, MAP_SHARED) else {
        checks.check("shared: mmap", false, format_args!("failed"));
        return 0;
    };
    let reads = (0..3 * PAGE).step_by(101).all(|i| {
        // SAFETY: inside the mapping just made.
        unsafe { core::ptr::read_volatile((addr + i) as *const u8) == (i % 251) as u8 }
    });
    checks.check("shared: the mapping reads the file", reads, format_args!("a byte differs"));
    checks.check(
        "shared: pins are the mapped pages",
        pins_total(FIRST) == Some(3),
        format_args!("{:?}", pins_total(FIRST)),
    );
    write_word(addr + PAGE, MARKER);
    let seen = read_at(fd, PAGE, 8);
    checks.check("shared: read() sees a store at once", seen == MARKER.to_le_bytes(), format_args!("{seen:?}"));
    let _ = write_at(fd, 2 * PAGE, &[0xEE; 8]);
    checks.check(
        "shared: the mapping sees write()",
        read_word(addr + 2 * PAGE) == 0xEEEE_EEEE_EEEE_EEEE,
        format_args!("{:#x}", read_word(addr + 2 * PAGE)),
    );
    let synced = mm::msync(addr, 3 * PAGE, MS_SYNC);
    checks.check("shared: msync(MS_SYNC)", synced.is_ok(), format_args!("{synced:?}"));
    write_word(addr + 8, MARKER);
    let unmapped = unmap(addr, 3);
    checks.check("shared: munmap", unmapped.is_ok(), format_args!("{}", Shown(unmapped)));
    checks.check("shared: pins back to 0", pins_total(FIRST) == Some(0), format_args!("{:?}", pins_total(FIRST)));
    let _ = sys::close(fd);
    MARKER
}

fn eof(checks: &mut Checks) {
    let Ok(fd) = sys::open(&at(FIRST, "/short"), O_CREAT | O_RDWR) else {
        return checks.check("eof: create", false, format_args!("failed"));
    };
    let _ = sys::write(fd, &[7u8; 100]);
    let Ok(addr) = map(fd, 2, PROT_READ, MAP_SHARED) else {
        return checks.check("eof: mmap", false, format_args!("failed"));
    };
    let tail = read_word(addr + 96) == 0x0707_0707 && read_word(addr + 104) == 0;
    checks.check("eof: the last page reads zero past EOF", tail, format_args!("{:#x}", read_word(addr + 96)));
    let signal = child_signal(|| {
        core::hint::black_box(read_word(addr + PAGE));
    });
    checks.check("eof: a page past EOF is SIGBUS", signal == Some(SIGBUS), format_args!("{signal:?}"));
    let _ = unmap(addr, 2);
    let _ = sys::close(fd);
}

fn private(checks: &mut Checks) {
    let Ok(fd) = sys::open(&at(FIRST, "/private"), O_CREAT | O_RDWR) else {
        return checks.check("private: create", false, format_args!("failed"));
    };
    let _ = sys::write(fd, &[1u8; PAGE]);
    let Ok(addr) = map(fd, 1, PROT_RW, MAP_PRIVATE) else {
        return checks.check("private: mmap", false, format_args!("failed"));
    };
    write_word(addr, 0xABCD);
    let mine = read_word(addr) == 0xABCD;
    let _ = unmap(addr, 1);
    let seen = read_at(fd, 0, 8);
    checks.check(
        "private: the writer sees its store, the file never does",
        mine && seen == [1u8; 8],
        format_args!("{seen:?}"),
    );
    let _ = sys::close(fd);
}

/// Where the page kept dirty after the failed write-back goes.
const KEPT: u64 = 0xD15C_0000_0000_0E10;

fn errors(checks: &mut Checks) {
    let Ok(fd) = sys::open(&at(FIRST, "/faulty"), O_CREAT | O_RDWR) else {
        return checks.check("errors: create", false, format_args!("failed"));
    };
    let _ = sys::write(fd, &[0u8; PAGE]);
    let Ok(addr) = map(fd, 1, PROT_RW, MAP_SHARED) else {
        return checks.check("errors: mmap", false, format_args!("failed"));
    };
    let ctl = |command: &[u8]| {
        sys::open(&at(FIRST, "/.redoxfsd/ctl"), O_WRONLY).and_then(|c| {
            let n = sys::write(c, command);
            let _ = sys::close(c);
            n
        })
    };
    let on = ctl(b"fail-writes on");
    write_word(addr, KEPT);
    let synced = mm::msync(addr, PAGE, MS_SYNC).map(|()| 0);
    checks.expect_errno("errors: msync with the device failing", synced, EIO);
    let unmapped = unmap(addr, 1);
    checks.expect_errno("errors: munmap with the device failing", unmapped, EIO);
    checks.check("errors: pins back to 0", on.is_ok() && pins_total(FIRST) == Some(0), format_args!("{on:?}"));
    let off = ctl(b"fail-writes off");
    let synced = sys::fsync(fd);
    checks.check(
        "errors: once lifted, fsync writes the kept page",
        off.is_ok() && synced.is_ok(),
        format_args!("{off:?} {synced:?}"),
    );
    let _ = sys::close(fd);
}

/// The C suite's cases that use its scratch directory: files, stdio,
/// directories, and file mappings (private, shared + msync, mremap of
/// files, flags and errnos on a file).
const C_CASES: [&str; 19] = [
    "file-read-write",
    "lseek-ftruncate-fstat",
    "unlink-enoent-excl",
    "stdio-text",
    "stdio-binary-seek",
    "stdio-append-getline",
    "directories",
    "pread-pwrite-isatty",
    "mmap-file-private",
    "mmap-file-shared-msync",
    "mremap-file",
    "mremap-file-pieces",
    "mmap-flags",
    "mmap-errnos",
    "record-locks",
    "truncate-sigbus",
    "msync-invalidate",
    "mremap-dontunmap-file",
    "fcntl",
];

fn c_tests(checks: &mut Checks) {
    let mut argv = vec!["c-tests"];
    argv.extend(C_CASES);
    let env = format!("CTEST_SCRATCH={FIRST}:");
    let status = process::spawn(&process::program_path("c-tests"), &argv, &[env.as_str()]).and_then(process::wait);
    checks.check(
        "c-tests: the C file and mapping cases pass on redoxfsd",
        status.is_ok_and(|s| s.success()),
        format_args!("{status:?}"),
    );
    checks.check("c-tests: pins back to 0", pins_total(FIRST) == Some(0), format_args!("{:?}", pins_total(FIRST)));
}

fn fmapcheck(checks: &mut Checks) {
    let (dir, pins) = (format!("{FIRST}:"), at(FIRST, "/.redoxfsd/pins"));
    let argv = ["fmapcheck", dir.as_str(), pins.as_str()];
    let status = process::spawn(&process::program_path("fmapcheck"), &argv, &[]).and_then(process::wait);
    checks.check(
        "fmapcheck: the fmap kit passes on redoxfsd",
        status.is_ok_and(|s| s.success()),
        format_args!("{status:?}"),
    );
}

fn remount(checks: &mut Checks, marker: u64) {
    let kept = sys::open(&at(SECOND, "/kept"), O_RDONLY).map(|fd| {
        let data = read_at(fd, 0, 64);
        let _ = sys::close(fd);
        data
    });
    checks.check("remount: a renamed file is there", kept.as_deref() == Ok(b"in docs"), format_args!("{kept:?}"));
    checks.expect_errno("remount: the unlinked file is not", sys::open(&at(SECOND, "/notes.txt"), O_RDONLY), ENOENT);
    checks.expect_errno(
        "remount: nor the removed directory",
        sys::open(&at(SECOND, "/docs"), O_RDONLY | O_DIRECTORY),
        ENOENT,
    );
    let Ok(fd) = sys::open(&at(SECOND, "/mapped"), O_RDWR) else {
        return checks.check("remount: /mapped is there", false, format_args!("failed"));
    };
    let synced = read_at(fd, PAGE, 8);
    checks.check(
        "remount: the msync'ed store is on the disk",
        synced == marker.to_le_bytes(),
        format_args!("{synced:?}"),
    );
    let unmapped = read_at(fd, 8, 8);
    checks.check(
        "remount: the store written back by munmap is too",
        unmapped == marker.to_le_bytes(),
        format_args!("{unmapped:?}"),
    );
    let written = read_at(fd, 2 * PAGE, 8);
    checks.check("remount: and the write()", written == [0xEE; 8], format_args!("{written:?}"));
    match map(fd, 3, PROT_READ, MAP_SHARED) {
        Ok(addr) => {
            let word = read_word(addr + PAGE);
            checks.check("remount: a new mapping reads it", word == marker, format_args!("{word:#x}"));
            let _ = unmap(addr, 3);
        }
        Err(e) => checks.check("remount: a new mapping", false, format_args!("{e}")),
    }
    let _ = sys::close(fd);
    let faulty = sys::open(&at(SECOND, "/faulty"), O_RDONLY).map(|fd| {
        let data = read_at(fd, 0, 8);
        let _ = sys::close(fd);
        data
    });
    checks.check(
        "remount: the page kept after EIO was written later",
        faulty.as_deref() == Ok(&KEPT.to_le_bytes()[..]),
        format_args!("{faulty:?}"),
    );
    checks.check("remount: pins 0", pins_total(SECOND) == Some(0), format_args!("{:?}", pins_total(SECOND)));
}
