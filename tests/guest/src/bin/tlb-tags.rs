//! `tlb-tags`: no TLB entry of one address space survives into another
//! that is given the same tag (aarch64 ASID) after a generation rollover,
//! nor into the space's next run on a CPU a shootdown did not flush.
//!
//! First, with no knob set:
//!
//! - **local shootdowns**: a one-thread process maps, writes and unmaps a
//!   page [`LOCAL_ROUNDS`] times; no other CPU runs its space, so at least
//!   half of those shootdowns must have flushed only the CPU that made
//!   them (`local_only` in `sys:scheduler`'s `tlbK` lines; the others
//!   could meet a moment where the CPU it ran on before has not left its
//!   space yet);
//! - **ping-pong** (below) as it is: children that unmap on one CPU and run
//!   next on the other; where the arch tags entries, each such switch must
//!   drop the tag's entries the shootdown left (`stale_flushes` in the
//!   `tlb_tags` line must grow).
//!
//! Then the test (privileged: the knob is global) writes `tlb rollover 1` to
//! `sys:inject`, so the kernel starts a new tag generation at every context
//! switch: spaces then get reused tags all the time, and each CPU must
//! flush its TLB before it loads a tag of a new generation. Then:
//!
//! - **ping-pong**: [`CHILDREN`] forked children each write their own
//!   pattern into the same [`PAGES`] pages (the same addresses in every
//!   child, each its own copy), then yield and check them [`ROUNDS`] times,
//!   rewriting them each round; every few rounds a child unmaps and maps
//!   the range anew (fresh frames) or write-protects it and back. A stale
//!   entry of another child (or of its own old frames) shows as a wrong
//!   word;
//! - **the mm tests under it**: `mm-fork`, `mm-protect`, `mm-map` and
//!   `mm-remap` run (as `initfs:bin/<name>`) and must exit 0.
//!
//! What it cannot show under QEMU's TCG: a rollover that skips its flush,
//! or a switch that keeps a tag's stale entries.
//! QEMU's TLB is not tagged (it drops everything whenever the ASID in
//! TTBR0 changes), and a CPU never loads one tag for two spaces in a row
//! (the kernel-only table, ASID 0, comes between, and a CPU's active tag
//! is kept over a rollover), so stale entries of another space never
//! reach it there. The host test `tessera-mm` `tests::tags` does: it runs
//! the allocator against a model of tagged TLBs, and fails when the
//! rollover flush is skipped (`the_model_catches_a_rollover_without_its_flush`)
//! or the stale tag is kept (`the_model_catches_a_switch_that_keeps_a_stale_tag`).
//! Here the rollover path runs under real processes: tags handed out,
//! reserved and reused across generations, every CPU's flush, with
//! shootdowns by tag in between.
//!
//! It reads `tlb_tags` from `sys:scheduler` before and after: where the
//! arch tags TLB entries the rollover count must have grown (else the
//! knob did nothing and the test proves nothing); where it does not
//! (`tlb_tags none`), the checks still run. At the end (also after a
//! failure) it writes `tlb rollover 0`. Bad counts are EINVAL, and an
//! unprivileged writer gets EPERM.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;

use tessera_guest_tests::Checks;
use tessera_guest_tests::mm::{PAGE, pattern, read_word, write_word};
use tessera_guest_tests::system::{fork_with, reap};
use tessera_runtime::abi::error::{EINVAL, EPERM};
use tessera_runtime::abi::flag::O_WRONLY;
use tessera_runtime::mm::{self, ANONYMOUS_FD, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_RW};
use tessera_runtime::{Args, Result, io, println, sys};

tessera_runtime::entry!(main);

/// Children taking turns.
const CHILDREN: usize = 4;
/// Pages each child writes.
const PAGES: usize = 4;
/// Yield-and-check rounds per child.
const ROUNDS: u64 = 200;
/// Map-write-unmap rounds of the local shootdown check.
const LOCAL_ROUNDS: u64 = 64;
/// The mm tests run with the knob on.
const MM_TESTS: [&str; 4] = ["mm-fork", "mm-protect", "mm-map", "mm-remap"];

fn main(_args: Args) -> i32 {
    let mut checks = Checks::new("tlb-tags");
    local_shootdowns(&mut checks);
    let before = tags_line();
    ping_pong(&mut checks, "");
    let between = tags_line();
    if let (Some(b), Some(a)) = (stale_flushes(&before), stale_flushes(&between)) {
        checks.check(
            "switches dropped the tag entries shootdowns left them",
            a > b,
            format_args!("stale flushes {b} then {a}"),
        );
    }
    let set = inject(b"tlb rollover 1");
    checks.check("sys:inject takes `tlb rollover 1`", set.is_ok(), format_args!("{set:?}"));
    if set.is_ok() {
        ping_pong(&mut checks, " with a rollover at every switch");
        for name in MM_TESTS {
            let path = alloc::format!("initfs:bin/{name}");
            let status = fork_with(|| sys::execve(&path, &[name], &[]).errno + 100).and_then(reap);
            let ok = matches!(status, Ok((_, s)) if s.code() == Some(0));
            checks.check(
                &alloc::format!("{name} passes with a rollover at every switch"),
                ok,
                format_args!("{status:?}"),
            );
        }
    }
    let off = inject(b"tlb rollover 0");
    checks.check("sys:inject takes `tlb rollover 0`", off.is_ok(), format_args!("{off:?}"));
    let after = tags_line();
    println!("tlb-tags: before: {before}; between: {between}; after: {after}");
    match (rollovers(&before), rollovers(&after)) {
        (Some(b), Some(a)) => checks.check("rollovers happened", a > b, format_args!("{b} then {a}")),
        _ => checks.check(
            "the arch tags no TLB entries (or says how many rollovers)",
            before.ends_with("none") && after.ends_with("none"),
            format_args!("{before} / {after}"),
        ),
    }
    for bad in [&b"tlb rollover x"[..], b"tlb rollover -1", b"tlb rollover 99999999999999999999", b"tlb rollover"] {
        let what = alloc::format!("`{}` is EINVAL", core::str::from_utf8(bad).unwrap_or("?"));
        checks.expect_errno(&what, inject(bad), EINVAL);
    }
    // The knob is global: an unprivileged process may not set it.
    let status = fork_with(|| {
        let dropped = sys::open("sys:privilege", O_WRONLY).and_then(|fd| {
            let written = sys::write(fd, b"drop");
            let _ = sys::close(fd);
            written
        });
        match (dropped, inject(b"tlb rollover 1")) {
            (Ok(_), Err(e)) if e.errno == EPERM => 0,
            _ => 1,
        }
    })
    .and_then(reap);
    let ok = matches!(status, Ok((_, s)) if s.code() == Some(0));
    checks.check("an unprivileged writer gets EPERM", ok, format_args!("{status:?}"));
    checks.finish()
}

/// A one-thread process's shootdowns flush only its own CPU.
fn local_shootdowns(checks: &mut Checks) {
    let before = local_only();
    for _ in 0..LOCAL_ROUNDS {
        let page = match mm::mmap_anonymous(PAGE, PROT_RW, MAP_PRIVATE) {
            Ok(page) => page,
            Err(e) => return checks.check("map a page", false, format_args!("{e}")),
        };
        write_word(page, 1);
        // SAFETY: the page is this test's own mapping, no longer used.
        let _ = unsafe { mm::munmap(page, PAGE) };
    }
    let after = local_only();
    let ok = matches!((before, after), (Some(b), Some(a)) if a.saturating_sub(b) >= LOCAL_ROUNDS / 2);
    checks.check(
        &alloc::format!("{LOCAL_ROUNDS} unmaps of a one-thread process flushed only their CPU"),
        ok,
        format_args!("local-only shootdowns {before:?} then {after:?}"),
    );
}

/// The sum of the `local_only` counts of `sys:scheduler`'s `tlbK` lines.
fn local_only() -> Option<u64> {
    let text = String::from_utf8(io::read_file("sys:scheduler").ok()?).ok()?;
    let lines = text.lines().filter(|line| line.starts_with("tlb") && !line.starts_with("tlb_tags"));
    lines.map(|line| word_after(line, "local_only")).sum()
}

/// Children writing and checking the same addresses in turn.
fn ping_pong(checks: &mut Checks, when: &str) {
    let len = PAGES * PAGE;
    let base = match mm::mmap_anonymous(len, PROT_RW, MAP_PRIVATE) {
        Ok(base) => base,
        Err(e) => return checks.check("map the shared range", false, format_args!("{e}")),
    };
    let mut pids = [0; CHILDREN];
    for (index, pid) in pids.iter_mut().enumerate() {
        match fork_with(|| child(base, index as u64)) {
            Ok(child) => *pid = child,
            Err(e) => return checks.check("fork a child", false, format_args!("{e}")),
        }
    }
    for (index, pid) in pids.into_iter().enumerate() {
        let status = reap(pid);
        let ok = matches!(status, Ok((_, s)) if s.code() == Some(0));
        checks.check(
            &alloc::format!("child {index} saw only its own words in {ROUNDS} rounds{when}"),
            ok,
            format_args!("{status:?} (exit 1 + round: a wrong word)"),
        );
    }
    // SAFETY: the range is this test's own mapping, no longer used.
    let _ = unsafe { mm::munmap(base, len) };
}

/// One child's rounds; 0, or 1 + the round a word was wrong in (capped).
fn child(base: usize, index: u64) -> i32 {
    let fill = |tag: u64| (0..PAGES).for_each(|page| write_word(base + page * PAGE, pattern(tag, page)));
    let intact = |tag: u64| (0..PAGES).all(|page| read_word(base + page * PAGE) == pattern(tag, page));
    let mut tag = index << 32;
    fill(tag);
    for round in 0..ROUNDS {
        let _ = sys::sched_yield();
        if !intact(tag) {
            return 1 + round.min(100) as i32;
        }
        match round % 8 {
            // Fresh frames at the same addresses.
            3 => {
                // SAFETY: the range is this child's own mapping.
                let remapped =
                    unsafe { mm::mmap(base, PAGES * PAGE, PROT_RW, MAP_PRIVATE | MAP_FIXED, ANONYMOUS_FD, 0) };
                if remapped != Ok(base) {
                    return 120;
                }
            }
            // Read-only for a round trip: the words stay.
            5 => {
                // SAFETY: as above; nothing writes while it is read-only.
                let protected = unsafe { mm::mprotect(base, PAGES * PAGE, PROT_READ) }
                    .and_then(|()| {
                        let _ = sys::sched_yield();
                        if intact(tag) { Ok(()) } else { Err(tessera_runtime::Error::new(5)) }
                    })
                    // SAFETY: as above.
                    .and_then(|()| unsafe { mm::mprotect(base, PAGES * PAGE, PROT_RW) });
                if protected.is_err() {
                    return 121;
                }
            }
            _ => {}
        }
        tag = (index << 32) | (round + 1);
        fill(tag);
    }
    0
}

/// Writes a command to `sys:inject`.
fn inject(command: &[u8]) -> Result<usize> {
    let fd = sys::open("sys:inject", O_WRONLY)?;
    let written = sys::write(fd, command);
    let _ = sys::close(fd);
    written
}

/// The `tlb_tags ...` line of `sys:scheduler` (empty if missing).
fn tags_line() -> String {
    let text = io::read_file("sys:scheduler").unwrap_or_default();
    String::from_utf8(text)
        .unwrap_or_default()
        .lines()
        .find(|line| line.starts_with("tlb_tags "))
        .map(String::from)
        .unwrap_or_default()
}

/// The rollover count in a `tlb_tags KIND N rollovers R ...` line.
fn rollovers(line: &str) -> Option<u64> {
    word_after(line, "rollovers")
}

/// The stale-tag flush count in a `tlb_tags ... stale_flushes S` line.
fn stale_flushes(line: &str) -> Option<u64> {
    word_after(line, "stale_flushes")
}

/// The number after the word `key` in `line`.
fn word_after(line: &str, key: &str) -> Option<u64> {
    let mut words = line.split_whitespace();
    while let Some(word) = words.next() {
        if word == key {
            return words.next()?.parse().ok();
        }
    }
    None
}
