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
//! Then the scale benchmark: four single-page operations, each timed the
//! same way with [`SIZES`] (32, 2,048 and 32,000) mappings present in the
//! space: a population of that many one-page grants with alternating
//! protections (`r--p`, `rw-p`, …, so none can merge), made untimed by
//! mapping the range read-only and `mprotect`ing every other page RW;
//! `sys:maps` must then list exactly that many entries in the range. The
//! sizes are measured in the order 32, 2,048, 32,000, 32,000, 2,048, 32,
//! 32, 2,048, 32,000 ([`PASSES`]); each size counts the lowest of its
//! three medians.
//!
//! | op | one op | ops per round |
//! |---|---|---|
//! | `mmap_munmap` | mmap + munmap of one anonymous page, never touched | 200 |
//! | `mprotect` | one `mprotect` of one page in the middle of the population, R→RW or back (it merges with, or splits from, its neighbours) | 200 |
//! | `fault` | the first write to a page of a fresh anonymous mapping (mapped untimed) | 256 |
//! | `munmap` | `munmap` of the last page of a written mapping (no split: the grant count stays) | 256 |
//!
//! Each op at each size prints `# scale_<op> mappings=N rounds=5
//! ops_per_round=… min=… median=… max=…`; then per op one line
//! `mmbench-scale: <op>: 32: N ns, 2048: N ns, 32000: N ns; 32000/32 =
//! R.RR (target <= 1.20: met|not met)`. The target is the issue's: the
//! cost must not grow with the number of mappings. Missing it is a finding,
//! not a failure (the exit status does not change). 32,000 grants is under
//! the default grant cap (`maps` in `sys:limits`, 65,530), so mmbench runs
//! unprivileged and raises nothing.
//!
//! `mmbench [scale-percent]` scales the ops per round (default 100; the
//! scale benchmark's sizes stay).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;

use tessera_guest_tests::mm::{PAGE, now_ns, read_word, write_word};
use tessera_guest_tests::system::{fork_with, read_words, reap, write_words};
use tessera_runtime::mm::{self, MAP_PRIVATE, PROT_READ, PROT_RW};
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
    if !scale_benchmark(&scaled) {
        failures += 1;
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
    run_rounds(name, "", ops, round)
}

/// [`run_case`] for any round: `detail` goes into the comment line after
/// the case name (e.g. ` mappings=2048`).
fn run_rounds(
    name: &str,
    detail: &str,
    ops: usize,
    mut round: impl FnMut(usize) -> Result<u64, &'static str>,
) -> Option<u64> {
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
        "# {name}{detail} rounds={ROUNDS} ops_per_round={ops} min={} median={median} max={}",
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

/// The scale benchmark's population sizes: mappings present in the space.
const SIZES: [usize; 3] = [32, 2048, 32_000];

/// The order the sizes are measured in (indices into [`SIZES`]): up, down
/// and up again, each size three times (its population built anew) and its
/// figure the lowest of its medians, so that warm-up, drift over the run (a
/// loaded host), a disturbed measurement and a step in the host's speed
/// part-way through (QEMU on x86_64 hosts runs a whole stretch of a
/// program up to twice as slow, then not: docs/mm.md "Benchmark") favour
/// no size: on either side of one step lies a whole sweep.
const PASSES: [usize; 9] = [0, 1, 2, 2, 1, 0, 0, 1, 2];

/// The scale benchmark's target: cost at the largest size / at the
/// smallest, in hundredths (1.20).
const SCALE_TARGET_PERCENT: u64 = 120;

/// One op of the scale benchmark: (name, ops per round at scale 100, one
/// round given the population).
type ScaleOp = (&'static str, usize, fn(&Population, usize) -> Result<u64, &'static str>);

const SCALE_OPS: [ScaleOp; 4] = [
    ("mmap_munmap", 200, |_, ops| mmap_munmap(ops)),
    ("mprotect", 200, scale_mprotect),
    ("fault", 256, scale_fault),
    ("munmap", 256, scale_munmap),
];

/// `count` one-page grants at `start`, even pages read-only, odd pages RW.
struct Population {
    start: usize,
    count: usize,
}

impl Population {
    /// Maps the range read-only and makes every other page RW; checks in
    /// `sys:maps` that the range holds exactly `count` entries.
    fn new(count: usize) -> Result<Population, &'static str> {
        let start = mm::mmap_anonymous(count * PAGE, PROT_READ, MAP_PRIVATE).map_err(|_| "population mmap failed")?;
        let population = Population { start, count };
        for page in (1..count).step_by(2) {
            // SAFETY: pages of the population, which holds no Rust object.
            unsafe { mm::mprotect(start + page * PAGE, PAGE, PROT_RW) }.map_err(|_| "population mprotect failed")?;
        }
        let end = start + count * PAGE;
        let listed = mm::read_maps().map_err(|_| "sys:maps unreadable")?.overlapping(start, end).count();
        if listed != count {
            println!("# population of {count}: sys:maps lists {listed} entries in its range");
            return Err("the population's grants are not one per page");
        }
        Ok(population)
    }

    /// A read-only page with RW neighbours, in the middle.
    fn middle_page(&self) -> usize {
        self.start + ((self.count / 2) & !1) * PAGE
    }
}

impl Drop for Population {
    fn drop(&mut self) {
        // Nothing to report from a drop: a failed unmap only leaves this
        // program with more grants than it measured with.
        let _ = unmap(self.start, self.count * PAGE);
    }
}

/// `mprotect`: one mprotect of one page per op, alternating RW and back
/// to R (an even count of ops leaves it as it was).
fn scale_mprotect(population: &Population, ops: usize) -> Result<u64, &'static str> {
    let page = population.middle_page();
    let ops = ops & !1;
    let start = now_ns();
    for op in 0..ops {
        let prot = if op % 2 == 0 { PROT_RW } else { PROT_READ };
        // SAFETY: a population page, which holds no Rust object.
        unsafe { mm::mprotect(page, PAGE, prot) }.map_err(|_| "mprotect failed")?;
    }
    Ok(now_ns() - start)
}

/// `fault`: the first write to each page of a fresh `ops`-page mapping.
fn scale_fault(_: &Population, ops: usize) -> Result<u64, &'static str> {
    fault_anon(ops)
}

/// `munmap`: unmaps a written `ops`-page mapping one page at a time from
/// its end (each call trims the grant; none splits it).
fn scale_munmap(_: &Population, ops: usize) -> Result<u64, &'static str> {
    let addr = mm::mmap_anonymous(ops * PAGE, PROT_RW, MAP_PRIVATE).map_err(|_| "mmap failed")?;
    for page in 0..ops {
        write_word(addr + page * PAGE, 1);
    }
    let start = now_ns();
    for page in (0..ops).rev() {
        unmap(addr + page * PAGE, PAGE)?;
    }
    Ok(now_ns() - start)
}

/// Runs the scale benchmark; prints its lines. False if an op failed.
fn scale_benchmark(scaled: &dyn Fn(usize) -> usize) -> bool {
    println!("# mmbench-scale sizes={SIZES:?} target: largest/smallest <= 1.20");
    let mut medians = [[u64::MAX; SIZES.len()]; SCALE_OPS.len()];
    for s in PASSES {
        let size = SIZES[s];
        let population = match Population::new(size) {
            Ok(p) => p,
            Err(what) => {
                println!("# FAIL scale mappings={size}: {what}");
                return false;
            }
        };
        let detail = format!(" mappings={size}");
        for (o, (name, ops, round)) in SCALE_OPS.iter().enumerate() {
            match run_rounds(&format!("scale_{name}"), &detail, scaled(*ops), |ops| round(&population, ops)) {
                Some(ns) => medians[o][s] = medians[o][s].min(ns),
                None => return false,
            }
        }
    }
    for (o, (name, _, _)) in SCALE_OPS.iter().enumerate() {
        let row = medians[o];
        let (small, large) = (row[0].max(1), row[SIZES.len() - 1]);
        let percent = (large * 100 + small / 2) / small;
        let verdict = if percent <= SCALE_TARGET_PERCENT { "met" } else { "not met" };
        println!(
            "mmbench-scale: {name}: {}: {} ns, {}: {} ns, {}: {} ns; {}/{} = {}.{:02} (target <= 1.20: {verdict})",
            SIZES[0],
            row[0],
            SIZES[1],
            row[1],
            SIZES[2],
            row[2],
            SIZES[2],
            SIZES[0],
            percent / 100,
            percent % 100
        );
    }
    true
}
