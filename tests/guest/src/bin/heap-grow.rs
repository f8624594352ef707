//! `heap-grow`: the runtime's heap grows past its first 1 MiB chunk by
//! mapping more, reuses what is freed, and fails an allocation it cannot
//! map instead of panicking.
//!
//! | check | expected |
//! |---|---|
//! | the heap at the start | one 1 MiB chunk mapped |
//! | 64 blocks of 1 MiB, each filled with its own byte | all allocated; the heap grows to at least 64 MiB; every block keeps its bytes |
//! | all freed | the heap's use is back where it started |
//! | the same 64 MiB again | nothing new is mapped: the freed memory is reused |
//! | `try_reserve` of 128 TiB (all of user space) | an error, not a panic; the heap still works |
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec;
use alloc::vec::Vec;

use tessera_guest_tests::Checks;
use tessera_runtime::{Args, heap};

tessera_runtime::entry!(main);

const MIB: usize = 1 << 20;
/// Blocks allocated per round.
const BLOCKS: usize = 64;

/// `BLOCKS` blocks of 1 MiB, block `i` filled with the byte `i + seed`.
fn allocate(seed: u8) -> Vec<Vec<u8>> {
    (0..BLOCKS).map(|i| vec![(i as u8).wrapping_add(seed); MIB]).collect()
}

/// Whether every block still holds its byte (first, middle and last).
fn intact(blocks: &[Vec<u8>], seed: u8) -> bool {
    blocks.iter().enumerate().all(|(i, block)| {
        let byte = (i as u8).wrapping_add(seed);
        block.len() == MIB && [0, MIB / 2, MIB - 1].iter().all(|&at| block[at] == byte)
    })
}

fn main(_args: Args) -> i32 {
    let mut checks = Checks::new("heap-grow");
    let start_mapped = heap::mapped_bytes();
    let start_used = heap::used_bytes();
    checks.check(
        "the heap starts as one 1 MiB chunk",
        start_mapped == heap::FIRST_CHUNK_BYTES,
        format_args!("mapped {start_mapped} bytes"),
    );

    let blocks = allocate(1);
    let grown = heap::mapped_bytes();
    checks.check(
        "64 MiB in 1 MiB blocks: the heap grew by mapping more",
        grown >= BLOCKS * MIB,
        format_args!("mapped {start_mapped} -> {grown} bytes"),
    );
    checks.check("every block keeps its bytes", intact(&blocks, 1), format_args!(""));
    drop(blocks);
    let used = heap::used_bytes();
    checks.check("freed: the heap's use is back", used == start_used, format_args!("used {start_used} -> {used}"));

    let again = allocate(2);
    let mapped = heap::mapped_bytes();
    checks.check(
        "the same 64 MiB again reuses the freed memory",
        mapped == grown && intact(&again, 2),
        format_args!("mapped {grown} -> {mapped} bytes"),
    );
    drop(again);

    let mut huge: Vec<u8> = Vec::new();
    let refused = huge.try_reserve(1 << 47);
    let still_works = vec![7u8; MIB].iter().all(|&b| b == 7);
    checks.check(
        "128 TiB: an allocation error, not a panic; the heap still works",
        refused.is_err() && still_works,
        format_args!("try_reserve: {refused:?}"),
    );
    checks.finish()
}
