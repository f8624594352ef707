//! `persist write|check PATH [TAG]`: data written through a shared file
//! mapping survives a power-off — the persistence boot tests
//! (`make test`'s `persist-<arch>`, mk/test.mk) type it at the prompt of
//! the normal image, whose root `file:` is redoxfsd on the boot disk.
//!
//! `write` makes `PATH` [`PAGES`] pages long, fills it through a MAP_SHARED
//! mapping with a pattern derived from `TAG` (default `persist`),
//! `msync(MS_SYNC)`s it and prints `persist: PATH: msync returned` — the
//! line at which a test may cut the power (SIGKILL QEMU): from there on the
//! data and the filesystem's metadata must be on the disk. Then it
//! unmaps and closes the file and prints `persist: PATH: written`.
//!
//! `check` reads the file back by `read()` and through a new MAP_SHARED
//! mapping and prints `persist: PATH: read and mapping ok (N bytes)`, or
//! `persist: PATH: FAILED: why` and exits 1.
//!
//! `fault-write ID` and `fault-check ID`: write-back errors from a real
//! disk, and recovery. `ID` is a virtio-blk disk (`serial=`) behind QEMU's
//! blkdebug with a state machine (mk/test.mk `QEMU_FLAKY`): in state 1
//! writes work; each flush of the device moves to the next state; in state
//! 2 every write fails with EIO; state 3 works again. `fault-write` starts
//! `redoxfsd --mkfs disk:N flaky` (state 1: the format is written),
//! flushes the disk itself (state 2: writes fail), writes two files
//! through shared mappings: `msync(MS_SYNC)` of the first and `munmap` of
//! the second must be EIO, the daemon must still answer; then it flushes
//! the disk again (state 3: the fault is lifted), and a retried `msync`
//! of the first and `fsync` of the second must succeed, and both files
//! read back. `fault-check` (the next boot) mounts the disk again and
//! checks both files by `read()` and a new mapping: what the retries wrote
//! is on the disk.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec;

use tessera_guest_tests::ramfs;
use tessera_runtime::abi::error::EIO;
use tessera_runtime::abi::flag::{O_CREAT, O_RDONLY, O_RDWR};
use tessera_runtime::abi::signal::SIGKILL;
use tessera_runtime::mm::{self, MAP_SHARED, MS_SYNC, PROT_READ, PROT_RW};
use tessera_runtime::{Args, println, process, sys};

tessera_runtime::entry!(main);

const PAGE: usize = 4096;
/// The file's length: several pages, so more than one block is written back.
const PAGES: usize = 8;
const LEN: usize = PAGES * PAGE;

/// Byte `i` of the file for `tag`: differs per page and per tag, so a page
/// from another run or another offset does not pass.
fn byte_at(tag: &str, i: usize) -> u8 {
    let seed = tag.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    ((i as u32).wrapping_mul(2_654_435_761) ^ seed ^ (i / PAGE) as u32).to_le_bytes()[1]
}

fn main(args: Args) -> i32 {
    let result = match args.argv() {
        [_, "write", path] => write_file(path, "persist").map(|()| String::from(*path)),
        [_, "write", path, tag] => write_file(path, tag).map(|()| String::from(*path)),
        [_, "check", path] => check_file(path, "persist").map(|()| String::from(*path)),
        [_, "check", path, tag] => check_file(path, tag).map(|()| String::from(*path)),
        [_, "fault-write", id] => fault(id, true).map(|()| String::from("fault")),
        [_, "fault-check", id] => fault(id, false).map(|()| String::from("fault")),
        _ => {
            tessera_runtime::eprintln!(
                "usage: persist write|check PATH [TAG] | persist fault-write|fault-check DISK-ID"
            );
            return 2;
        }
    };
    match result {
        Ok(_) => 0,
        Err(why) => {
            let what = args.argv().get(2).copied().unwrap_or("");
            println!("persist: {what}: FAILED: {why}");
            1
        }
    }
}

fn write_file(path: &str, tag: &str) -> Result<(), String> {
    let fd = sys::open(path, O_CREAT | O_RDWR).map_err(|e| format!("open: {e}"))?;
    sys::ftruncate(fd, LEN).map_err(|e| format!("ftruncate: {e}"))?;
    // SAFETY: no fixed address: nothing of this program is replaced.
    let addr = unsafe { mm::mmap(0, LEN, PROT_RW, MAP_SHARED, fd, 0) }.map_err(|e| format!("mmap: {e}"))?;
    for i in 0..LEN {
        // SAFETY: inside the mapping just made, writable.
        unsafe { core::ptr::write_volatile((addr + i) as *mut u8, byte_at(tag, i)) };
    }
    mm::msync(addr, LEN, MS_SYNC).map_err(|e| format!("msync: {e}"))?;
    println!("persist: {path}: msync returned");
    // SAFETY: this program's own mapping, no longer used.
    unsafe { mm::munmap(addr, LEN) }.map_err(|e| format!("munmap: {e}"))?;
    sys::close(fd).map_err(|e| format!("close: {e}"))?;
    println!("persist: {path}: written");
    Ok(())
}

fn check_file(path: &str, tag: &str) -> Result<(), String> {
    let fd = sys::open(path, O_RDONLY).map_err(|e| format!("open: {e}"))?;
    let mut buf = vec![0u8; LEN + 1];
    let mut got = 0;
    loop {
        let n = sys::read(fd, &mut buf[got..]).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            break;
        }
        got += n;
        if got == buf.len() {
            break;
        }
    }
    if got != LEN {
        return Err(format!("read() gave {got} bytes, not {LEN}"));
    }
    if let Some(i) = (0..LEN).find(|&i| buf[i] != byte_at(tag, i)) {
        return Err(format!("read(): byte {i} is {:#x}, not {:#x}", buf[i], byte_at(tag, i)));
    }
    // SAFETY: no fixed address: nothing of this program is replaced.
    let addr = unsafe { mm::mmap(0, LEN, PROT_READ, MAP_SHARED, fd, 0) }.map_err(|e| format!("mmap: {e}"))?;
    // SAFETY: inside the mapping just made, readable.
    let bad = (0..LEN).find(|&i| unsafe { core::ptr::read_volatile((addr + i) as *const u8) } != byte_at(tag, i));
    // SAFETY: this program's own mapping, no longer used.
    let unmapped = unsafe { mm::munmap(addr, LEN) };
    let _ = sys::close(fd);
    if let Some(i) = bad {
        return Err(format!("the mapping: byte {i} differs"));
    }
    unmapped.map_err(|e| format!("munmap: {e}"))?;
    println!("persist: {path}: read and mapping ok ({LEN} bytes)");
    Ok(())
}

/// The files of the fault test, on the flaky disk's filesystem.
const FAULT_MSYNC: &str = "flaky:/msync-retried";
const FAULT_MUNMAP: &str = "flaky:/munmap-failed";

/// `fault-write` (`write`) or `fault-check` on the disk whose ID is `id`.
fn fault(id: &str, write: bool) -> Result<(), String> {
    let n = tessera_guest_tests::system::disk_number(id).ok_or_else(|| format!("no disk with id={id} in disk:"))?;
    let disk = format!("disk:{n}");
    let argv: &[&str] = if write { &["redoxfsd", "--mkfs", &disk, "flaky"] } else { &["redoxfsd", &disk, "flaky"] };
    let daemon = process::spawn(&process::program_path("redoxfsd"), argv, &[]).map_err(|e| format!("redoxfsd: {e}"))?;
    let result = match ramfs::open_when_there("flaky:/", O_RDONLY, Some(daemon)) {
        Ok(fd) => {
            let _ = sys::close(fd);
            if write { fault_write(&disk) } else { fault_check() }
        }
        Err(e) => Err(format!("redoxfsd on {disk} does not serve flaky: ({e})")),
    };
    let _ = sys::kill(daemon, SIGKILL);
    let _ = process::wait(daemon);
    result
}

/// Flushes the whole disk: the next state of blkdebug's state machine.
fn flush_disk(disk: &str) -> Result<(), String> {
    let fd = sys::open(disk, O_RDWR).map_err(|e| format!("open {disk}: {e}"))?;
    let flushed = sys::fsync(fd).map_err(|e| format!("fsync {disk}: {e}"));
    let _ = sys::close(fd);
    flushed
}

/// A new file `path` of [`LEN`] bytes mapped shared, filled with `tag`'s
/// pattern; (fd, address).
fn filled_mapping(path: &str, tag: &str) -> Result<(usize, usize), String> {
    let fd = sys::open(path, O_CREAT | O_RDWR).map_err(|e| format!("open {path}: {e}"))?;
    sys::ftruncate(fd, LEN).map_err(|e| format!("ftruncate {path}: {e}"))?;
    // SAFETY: no fixed address: nothing of this program is replaced.
    let addr = unsafe { mm::mmap(0, LEN, PROT_RW, MAP_SHARED, fd, 0) }.map_err(|e| format!("mmap {path}: {e}"))?;
    for i in 0..LEN {
        // SAFETY: inside the mapping just made, writable.
        unsafe { core::ptr::write_volatile((addr + i) as *mut u8, byte_at(tag, i)) };
    }
    Ok((fd, addr))
}

fn fault_write(disk: &str) -> Result<(), String> {
    // The format (state 1) is on the disk; the files and the first's
    // first contents too.
    let (fd1, addr1) = filled_mapping(FAULT_MSYNC, "before")?;
    let (fd2, addr2) = filled_mapping(FAULT_MUNMAP, "munmap")?;
    sys::fsync(fd1).map_err(|e| format!("fsync before the fault: {e}"))?;
    // That fsync flushed the device: state 2, every write fails. New
    // contents for the first file, which only a retry can write.
    for i in 0..LEN {
        // SAFETY: inside the first mapping, writable.
        unsafe { core::ptr::write_volatile((addr1 + i) as *mut u8, byte_at("msync", i)) };
    }
    let failed = mm::msync(addr1, LEN, MS_SYNC);
    if failed.map_err(|e| e.errno) != Err(EIO) {
        return Err(format!("msync with the disk failing gave {failed:?}, not EIO"));
    }
    // SAFETY: this program's own mapping, not used again.
    let failed = unsafe { mm::munmap(addr2, LEN) };
    if failed.map_err(|e| e.errno) != Err(EIO) {
        return Err(format!("munmap with the disk failing gave {failed:?}, not EIO"));
    }
    // The daemon still answers: its control files need no disk (a path
    // that reaches the failing disk may well be EIO now, but not ENODEV).
    if let Err(e) = tessera_runtime::io::read_file("flaky:/.redoxfsd/pins") {
        return Err(format!("the daemon died of the write errors: {e}"));
    }
    println!("persist: fault: msync and munmap gave EIO while the disk failed; the daemon lives");
    // Lift the fault: state 3.
    flush_disk(disk)?;
    mm::msync(addr1, LEN, MS_SYNC).map_err(|e| format!("the retried msync: {e}"))?;
    // The page munmap could not write stayed dirty in the daemon: fsync writes it.
    sys::fsync(fd2).map_err(|e| format!("fsync of the file munmap failed to write: {e}"))?;
    // SAFETY: this program's own mapping, not used again.
    unsafe { mm::munmap(addr1, LEN) }.map_err(|e| format!("munmap: {e}"))?;
    let _ = sys::close(fd1);
    let _ = sys::close(fd2);
    check_file(FAULT_MSYNC, "msync")?;
    check_file(FAULT_MUNMAP, "munmap")?;
    println!("persist: fault: once the fault was lifted the retried msync and fsync wrote the data");
    Ok(())
}

fn fault_check() -> Result<(), String> {
    check_file(FAULT_MSYNC, "msync")?;
    check_file(FAULT_MUNMAP, "munmap")?;
    println!("persist: fault: after a reboot both files are on the disk");
    Ok(())
}
