//! `kernel-heap`: what a process makes the kernel hold is bounded by RAM,
//! not by a fixed kernel heap.
//!
//! Opens pipes until the fd table is full (EMFILE) and fills each with
//! 64 KiB — about 32 MiB of kernel pipe buffers, far more than the 4 MiB
//! heap the kernel starts with. The kernel must grow its heap
//! (`sys:memory` `heap_bytes`), not panic; after every pipe is closed its
//! heap use (`heap_used_bytes`) is back near where it started. Runs last:
//! the heap keeps its grown size, which moves `free_frames`.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec;
use alloc::vec::Vec;

use tessera_guest_tests::Checks;
use tessera_runtime::abi::error::EMFILE;
use tessera_runtime::{Args, io, sys};

tessera_runtime::entry!(main);

const FILL_BYTES: usize = 64 * 1024;

/// `heap_bytes` and `heap_used_bytes` from `sys:memory`.
fn heap() -> (usize, usize) {
    let text = io::read_file("sys:memory").unwrap_or_default();
    let text = core::str::from_utf8(&text).unwrap_or("");
    let field =
        |name: &str| text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok())).unwrap_or(0);
    (field("heap_bytes "), field("heap_used_bytes "))
}

fn main(_args: Args) -> i32 {
    let mut checks = Checks::new("kernel-heap");
    let (size_before, used_before) = heap();
    let data = vec![0x5Au8; FILL_BYTES];
    let mut pipes: Vec<[usize; 2]> = Vec::new();
    let stopped: Result<(), tessera_runtime::Error> = loop {
        match sys::pipe2(0) {
            Ok(fds) => {
                if let Err(e) = sys::write(fds[1], &data).map(|n| n == FILL_BYTES).and_then(|full| {
                    if full { Ok(()) } else { Err(tessera_runtime::Error::new(tessera_runtime::abi::error::EIO)) }
                }) {
                    break Err(e);
                }
                pipes.push(fds);
            }
            Err(e) => break Err(e),
        }
    };
    let (size_full, used_full) = heap();
    checks.check(
        "pipes until the fd table is full (EMFILE), each holding 64 KiB",
        matches!(stopped, Err(e) if e.errno == EMFILE) && pipes.len() >= 400,
        format_args!("{} pipes, stopped by {stopped:?}", pipes.len()),
    );
    checks.check(
        "the kernel heap grew past its 4 MiB start instead of failing",
        size_full > size_before && size_full > 16 << 20,
        format_args!("heap {size_before} -> {size_full} bytes, used {used_full}"),
    );
    let mut intact = true;
    let mut buf = vec![0u8; FILL_BYTES];
    for fds in &pipes {
        let _ = sys::close(fds[1]);
        intact &= sys::read(fds[0], &mut buf).is_ok_and(|n| n == FILL_BYTES) && buf == data;
        let _ = sys::close(fds[0]);
    }
    checks.check("every pipe gave its 64 KiB back intact", intact, format_args!("a pipe lost data"));
    let (_, used_after) = heap();
    checks.check(
        "closing them returned the kernel heap",
        used_after <= used_before + 64 * 1024,
        format_args!("used {used_before} before, {used_full} full, {used_after} after"),
    );
    checks.finish()
}
