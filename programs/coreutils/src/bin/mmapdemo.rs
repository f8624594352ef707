//! `mmapdemo [FILE]`: the memory system in five steps, on a file of a
//! filesystem daemon that lends its pages — redoxfsd (the root `file:`)
//! or ramfs (`tmp:`) — (default `file:/mmapdemo.txt`, made or replaced):
//!
//! 1. `write()` puts two lines in the file;
//! 2. `mmap(MAP_SHARED, PROT_READ | PROT_WRITE)` maps it: the kernel asks
//!    the daemon for the file's pages (`fmap`) and maps those very frames,
//!    so the daemon counts a pin on the file (shown from
//!    `SCHEME:/.redoxfsd/pins` or `SCHEME:/.ramfs/pins`, the line whose
//!    inode is the file's);
//! 3. a plain store through the mapping replaces the second line;
//! 4. `read()` of the file shows the new line: the store went into the
//!    file's own page (try `cat FILE` afterwards);
//! 5. `munmap()` gives the page back (`funmap`): the pin count is 0 again.
//!
//! Each step prints what happened and why; `sys:maps` shows the grant
//! (kind `fmap`, `rw-s`). Exits with 0 when everything behaved, 1 when a
//! call failed or a check did not hold (said on fd 2), 2 for a usage
//! error. The file stays, so the user can look at it.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;

use coreutils::sysinfo::{self, read_text};
use coreutils::{EXIT_FAILURE, Tool, path};
use tessera_runtime::abi::O_CLOEXEC;
use tessera_runtime::abi::flag::{O_CREAT, O_RDWR, O_TRUNC, SEEK_SET};
use tessera_runtime::io::write_all;
use tessera_runtime::mm::{self, MAP_SHARED, PROT_RW};
use tessera_runtime::{Args, Error, println, sys};

tessera_runtime::entry!(main);

/// The file when no operand names one.
const DEFAULT_FILE: &str = "file:/mmapdemo.txt";
/// The first line, written with `write()` and left alone.
const LINE1: &str = "line 1: written with write()\n";
/// The second line as `write()` puts it …
const LINE2_BEFORE: &str = "line 2: .............................\n";
/// … and as the store through the mapping leaves it (the same length).
const LINE2_AFTER: &str = "line 2: written through the mapping!!\n";
// The store must overwrite line 2 exactly.
const _: () = assert!(LINE2_BEFORE.len() == LINE2_AFTER.len());

fn main(args: Args) -> i32 {
    let mut tool = Tool::new("mmapdemo", "[FILE]");
    let parsed = match tool.options(coreutils::operands(&args), "") {
        Ok(parsed) => parsed,
        Err(status) => return status,
    };
    let (file, shown) = match parsed.operands.as_slice() {
        [] => (String::from(DEFAULT_FILE), DEFAULT_FILE),
        [name] => (path::resolve(path::cwd(&args), name), *name),
        _ => return tool.usage_error(format_args!("one file at a time")),
    };
    match demo(&file, shown) {
        Ok(()) => {
            println!("mmapdemo: ok: the store through a shared mapping reached the file, and unmapping unpinned it");
            tool.status()
        }
        Err(failure) => {
            tool.fail(format_args!("{failure}"));
            EXIT_FAILURE
        }
    }
}

/// The five steps; `Err` says what went wrong.
fn demo(file: &str, shown: &str) -> Result<(), String> {
    let (scheme, _) = path::split_scheme(file);
    // Which daemon serves the file: the one whose pin counts are there.
    let daemon = ["redoxfsd", "ramfs"]
        .into_iter()
        .find(|d| read_text(&format!("{scheme}:/.{d}/pins")).is_ok())
        .ok_or_else(|| format!("{shown}: {scheme}: is served neither by redoxfsd nor by ramfs (no pin counts)"))?;
    let pins_file = format!("{scheme}:/.{daemon}/pins");
    let call = |what: &str, e: Error| format!("{what}: {}", coreutils::errno::Described(e));

    let fd = sys::open(file, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC).map_err(|e| call(shown, e))?;
    let result = with_file(fd, shown, daemon, &pins_file);
    let _ = sys::close(fd);
    result
}

/// Steps 1 to 5 on the open file `fd`.
fn with_file(fd: usize, shown: &str, daemon: &str, pins_file: &str) -> Result<(), String> {
    let call = |what: &str, e: Error| format!("{what}: {}", coreutils::errno::Described(e));
    // 1. The file, written the ordinary way.
    let text = format!("{LINE1}{LINE2_BEFORE}");
    write_all(fd, text.as_bytes()).map_err(|e| call("write", e))?;
    let inode = sys::fstat(fd).map_err(|e| call("fstat", e))?.st_ino;
    println!("1. write() put {} bytes (two lines) in {shown}, a {daemon} file (inode {inode}).", text.len());
    let before = pins(pins_file, inode).map_err(|e| call(pins_file, e))?;
    println!("   {daemon} pins on the file: {before} (from {pins_file}: nothing maps it)");

    // 2. The mapping: the file's own pages, lent by the daemon.
    // SAFETY: no fixed address: the new mapping replaces nothing.
    let addr = unsafe { mm::mmap(0, text.len(), PROT_RW, MAP_SHARED, fd, 0) }.map_err(|e| call("mmap", e))?;
    println!("2. mmap(MAP_SHARED, PROT_READ|PROT_WRITE) mapped it at {addr:#x}: the kernel asked {daemon}");
    println!("   for the file's page (fmap) and mapped that very frame; nothing was copied.");
    let mapped = pins(pins_file, inode).map_err(|e| call(pins_file, e));
    let stored = mapped.inspect(|&mapped| {
        println!("   {daemon} pins on the file while mapped: {mapped}");
        // 3. A plain store through the mapping.
        let offset = LINE1.len();
        // SAFETY: `[addr, addr + text.len())` is this process's fresh
        // read-write mapping of the file; no Rust reference points into
        // it, and the write stays inside it (`offset + LINE2_AFTER.len()
        // == text.len()`).
        unsafe {
            core::ptr::copy_nonoverlapping(LINE2_AFTER.as_ptr(), (addr + offset) as *mut u8, LINE2_AFTER.len());
        }
        println!("3. stored {:?} into the mapping at offset {offset}.", LINE2_AFTER.trim_end());
        if let Some(grant) = own_grant(addr) {
            println!("   its grant in sys:maps: {grant}");
        }
    });
    // 5. (also when 3 failed) Unmapping returns the page.
    // SAFETY: the mapping made above; nothing refers into it any more.
    let unmapped = unsafe { mm::munmap(addr, text.len()) }.map_err(|e| call("munmap", e));
    let mapped = stored?;

    // 4. What read() sees now.
    let content = read_back(fd).map_err(|e| call("read", e))?;
    println!("4. read() of the file now gives:");
    for line in content.lines() {
        println!("   | {line}");
    }
    println!("   The store went into the file itself. Try: cat {shown}");
    unmapped?;
    let after = pins(pins_file, inode).map_err(|e| call(pins_file, e))?;
    println!("5. munmap() gave the page back to {daemon} (funmap): pins on the file after munmap: {after}");

    let expected = format!("{LINE1}{LINE2_AFTER}");
    if mapped == 0 {
        return Err(format!("the file was not pinned while mapped ({pins_file} says 0)"));
    }
    if content != expected {
        return Err(format!("read() does not show the store: got {content:?}"));
    }
    if after != 0 {
        return Err(format!("the file is still pinned after munmap ({after})"));
    }
    Ok(())
}

/// The whole file, read from the start with `read()`.
fn read_back(fd: usize) -> Result<String, Error> {
    sys::lseek(fd, 0, SEEK_SET)?;
    let mut data = alloc::vec::Vec::new();
    let mut buf = [0u8; 512];
    loop {
        match sys::read(fd, &mut buf)? {
            0 => break,
            n => data.extend_from_slice(&buf[..n.min(buf.len())]),
        }
    }
    Ok(String::from_utf8_lossy(&data).into_owned())
}

/// The pins the daemon counts on inode `inode`: its line in `pins_file`
/// (`PINS INODE PATH` for ramfs, `PINS NODE dirty=N` for redoxfsd), 0 when
/// it has none.
/// Errors: those of reading `pins_file`.
fn pins(pins_file: &str, inode: u64) -> Result<u64, Error> {
    let text = read_text(pins_file)?;
    Ok(text
        .lines()
        .find_map(|line| {
            let mut words = line.split_whitespace();
            let count = words.next()?.parse().ok()?;
            (words.next()?.parse::<u64>().ok()? == inode).then_some(count)
        })
        .unwrap_or(0))
}

/// This process's `sys:maps` line for the grant holding `addr`.
fn own_grant(addr: usize) -> Option<String> {
    let maps = sysinfo::maps(&read_text("sys:maps").ok()?).ok()?;
    let g = maps.grants.into_iter().find(|g| (g.start..g.end).contains(&addr))?;
    Some(format!("{:016x}-{:016x} {} {} ({} resident page)", g.start, g.end, g.perms, g.kind, g.resident_pages))
}
