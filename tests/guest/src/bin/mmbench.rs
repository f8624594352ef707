//! `mmbench`: how long the basic memory operations take, in ns per op.
//!
//! Three of the cases of the project benchmark (`mmbench.c`, which runs
//! the same way on Linux for comparison), measured the same way: one
//! untimed warm-up round, then [`ROUNDS`] timed rounds; the result is the
//! median over the rounds of (round time / round ops), CLOCK_MONOTONIC.
//!
//! | line | mmbench.c case | one op | ops per round |
//! |---|---|---|---|
//! | `mmbench: mmap+munmap 1 page: N ns` | `mmap_munmap_4k` | mmap + munmap of one anonymous page, never touched | 1000 |
//! | `mmbench: anonymous page fault: N ns` | `fault_anon` | the first write to a page of a fresh 64 MiB anonymous mapping | 16384 |
//! | `mmbench: cow fault: N ns` | (the faults of `fork_cow_16m`) | a forked child's first write to a page of 16 MiB the parent had written | 4096 |
//!
//! Before each result line a comment gives the detail, mmbench.c's way:
//! `# <case> rounds=5 ops_per_round=N min=… median=… max=…`. Each case
//! checks what it touched (zero-filled pages, the child seeing the
//! parent's data, the parent keeping it); a failure prints
//! `# FAIL <case>: <what>` and makes the exit status 1. The last line is
//! `# mmbench done failures=N`.
//!
//! `mmbench [scale-percent]` scales the ops per round (default 100).
#![no_std]
#![no_main]

use tessera_guest_tests::mm::{PAGE, now_ns, read_word, write_word};
use tessera_guest_tests::system::{fork_with, read_words, reap, write_words};
use tessera_runtime::mm::{self, MAP_PRIVATE, PROT_RW};
use tessera_runtime::{Args, println, sys};

tessera_runtime::entry!(main);

/// Timed rounds per case (plus one warm-up round).
const ROUNDS: usize = 5;

fn main(args: Args) -> i32 {
    let scale = args.argv().get(1).and_then(|s| s.parse::<usize>().ok()).filter(|&s| s > 0).unwrap_or(100);
    let scaled = |n: usize| (n * scale / 100).max(1);
    println!("# mmbench rounds={ROUNDS} scale={scale}% page={PAGE}");
    let mut failures = 0;
    let started = now_ns();
    let cases: [(&str, &str, usize, Round); 3] = [
        ("mmap_munmap_4k", "mmap+munmap 1 page", scaled(1000), mmap_munmap),
        ("fault_anon", "anonymous page fault", scaled(16384), fault_anon),
        ("cow_fault", "cow fault", scaled(4096), cow_fault),
    ];
    for (name, label, ops, round) in cases {
        match run_case(name, ops, round) {
            Some(ns) => println!("mmbench: {label}: {ns} ns"),
            None => failures += 1,
        }
    }
    println!("# mmbench total_ms={}", (now_ns() - started) / 1_000_000);
    println!("# mmbench done failures={failures}");
    i32::from(failures != 0)
}

/// One round of a case: `ops` operations; the nanoseconds they took, or
/// what went wrong.
type Round = fn(ops: usize) -> Result<u64, &'static str>;

/// Runs the warm-up and the timed rounds; the median ns per op, or `None`
/// after printing the failure.
fn run_case(name: &str, ops: usize, round: Round) -> Option<u64> {
    let mut per_op = [0u64; ROUNDS];
    for r in 0..=ROUNDS {
        match round(ops) {
            Ok(ns) if r > 0 => per_op[r - 1] = (ns + ops as u64 / 2) / ops as u64,
            Ok(_) => {}
            Err(what) => {
                println!("# FAIL {name}: {what}");
                return None;
            }
        }
    }
    per_op.sort_unstable();
    let median = per_op[ROUNDS / 2];
    println!(
        "# {name} rounds={ROUNDS} ops_per_round={ops} min={} median={median} max={}",
        per_op[0],
        per_op[ROUNDS - 1]
    );
    Some(median)
}

fn unmap(addr: usize, len: usize) -> Result<(), &'static str> {
    // SAFETY: only mappings this program made, holding no Rust object.
    unsafe { mm::munmap(addr, len) }.map_err(|_| "munmap failed")
}

/// `mmap_munmap_4k`: mmap + munmap of one page, never touched.
fn mmap_munmap(ops: usize) -> Result<u64, &'static str> {
    let start = now_ns();
    for _ in 0..ops {
        let addr = mm::mmap_anonymous(PAGE, PROT_RW, MAP_PRIVATE).map_err(|_| "mmap failed")?;
        unmap(addr, PAGE)?;
    }
    Ok(now_ns() - start)
}

/// `fault_anon`: the first write to each page of a fresh mapping of `ops`
/// pages (64 MiB at scale 100); mmap and munmap are not timed.
fn fault_anon(ops: usize) -> Result<u64, &'static str> {
    let len = ops * PAGE;
    let addr = mm::mmap_anonymous(len, PROT_RW, MAP_PRIVATE).map_err(|_| "mmap failed")?;
    let start = now_ns();
    for page in 0..ops {
        write_word(addr + page * PAGE, page as u64 + 1);
    }
    let ns = now_ns() - start;
    let wrong = (0..ops)
        .any(|page| read_word(addr + page * PAGE) != page as u64 + 1 || read_word(addr + page * PAGE + PAGE - 8) != 0);
    unmap(addr, len)?;
    if wrong { Err("anonymous page not zero-filled / lost write") } else { Ok(ns) }
}

/// The value the parent leaves in page `page` for `cow_fault`.
fn parent_pattern(page: usize) -> u64 {
    0xC0 + page as u64
}

/// `cow_fault`: the parent writes `ops` pages (16 MiB at scale 100) and
/// forks; the child times its first write to each (each a copy-on-write
/// fault) after checking the parent's value there, and reports the time
/// through a pipe. Setup, fork and wait are not timed.
fn cow_fault(ops: usize) -> Result<u64, &'static str> {
    let len = ops * PAGE;
    let addr = mm::mmap_anonymous(len, PROT_RW, MAP_PRIVATE).map_err(|_| "mmap failed")?;
    for page in 0..ops {
        write_word(addr + page * PAGE, parent_pattern(page));
    }
    let result = cow_round(addr, ops);
    let parent_kept = (0..ops).all(|page| read_word(addr + page * PAGE) == parent_pattern(page));
    unmap(addr, len)?;
    match result {
        Ok(_) if !parent_kept => Err("child write visible in parent (COW broken)"),
        other => other,
    }
}

fn cow_round(addr: usize, ops: usize) -> Result<u64, &'static str> {
    let [r, w] = sys::pipe2(0).map_err(|_| "pipe2 failed")?;
    let child = fork_with(|| {
        // The check reads (no fault: the page is mapped read-only); the
        // write right after is the copy-on-write fault.
        let mut saw_other = false;
        let start = now_ns();
        for page in 0..ops {
            let word = addr + page * PAGE;
            saw_other |= read_word(word) != parent_pattern(page);
            write_word(word, !(page as u64));
        }
        let ns = now_ns() - start;
        i32::from(write_words(w, &[ns, u64::from(saw_other)]).is_err())
    });
    let _ = sys::close(w);
    let report = read_words::<2>(r);
    let _ = sys::close(r);
    let status = child.and_then(reap).map(|(_, status)| status);
    match (status, report) {
        (Ok(status), Some([ns, 0])) if status.success() => Ok(ns),
        (Ok(_), Some([_, _])) => Err("the child saw other data than the parent wrote before fork"),
        _ => Err("fork, or the child, failed"),
    }
}
