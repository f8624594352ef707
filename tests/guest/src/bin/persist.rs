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
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec;

use tessera_runtime::abi::flag::{O_CREAT, O_RDONLY, O_RDWR};
use tessera_runtime::mm::{self, MAP_SHARED, MS_SYNC, PROT_READ, PROT_RW};
use tessera_runtime::{Args, println, sys};

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
    let (write, path, tag) = match args.argv() {
        [_, cmd, path] if matches!(*cmd, "write" | "check") => (*cmd == "write", *path, "persist"),
        [_, cmd, path, tag] if matches!(*cmd, "write" | "check") => (*cmd == "write", *path, *tag),
        _ => {
            tessera_runtime::eprintln!("usage: persist write|check PATH [TAG]");
            return 2;
        }
    };
    let result = if write { write_file(path, tag) } else { check_file(path, tag) };
    match result {
        Ok(()) => 0,
        Err(why) => {
            println!("persist: {path}: FAILED: {why}");
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
