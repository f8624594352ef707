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
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;

use tessera_runtime::io::{read_file, write_all};
use tessera_runtime::{Args, sys};

tessera_runtime::entry!(main);

/// Read-only data `exec-fmap` finds in the file and rewrites there.
static MARKER: [u8; 27] = *b"exec-probe marker: original";

/// 64 KiB of read-only data the probe touches only when asked.
static BIG: [u8; 64 * 1024] = [3; 64 * 1024];

fn main(_args: Args) -> i32 {
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
