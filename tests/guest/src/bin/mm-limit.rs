//! `mm-limit`: the RLIMIT_AS-like cap on mapped memory, `sys:limits`.
//! It runs privileged (`privileged mm-limit` in tests.list): raising the
//! cap takes the privilege.
//!
//! Each group runs in its own forked child (lines prefixed
//! `mm-limit <group>:`), so a cap set there ends with it. "Room" is the
//! cap minus the mapped pages `sys:maps` counts right before the call.
//!
//! | group | checks |
//! |---|---|
//! | (first) | a new process has no cap (`as unlimited`); `sys:` lists `limits` |
//! | cap | `as BYTES` rounds up to pages and reads back; mmap of room + 1 pages: ENOMEM, nothing mapped; of exactly the room: works, then 1 more page: ENOMEM; mremap growth past the cap (MAYMOVE): ENOMEM, the data and the mapped count kept; growth up to the cap: works; MAP_FIXED over a mapping of the same size: works (replaced pages do not count twice), the new pages read zero |
//! | lower | a cap below the mapped size is accepted; then mmap and mremap growth: ENOMEM, while munmap, mremap shrink and mprotect work; MAP_FIXED of the same size is ENOMEM too while over the cap (as Linux); `as unlimited` (privileged) lifts it: mmap and growth work again |
//! | fork | the child reads the same cap, is refused past it and allowed under it; a cap the child lowers leaves the parent's as it was |
//! | exec | the cap survives `execve` (the new image reads it back); an image that does not fit under it: `execve` fails with ENOMEM and the caller goes on with its cap |
//! | stack | stack growth past the cap: SIGSEGV; the same growth with room: works |
//! | bad | EINVAL for malformed commands (blank, no value, sign, hex, units, extra words, overflow, not UTF-8, wrong keyword), the cap unchanged; surrounding whitespace is fine; `as 0` is a cap (nothing can grow) |
//! | unprivileged | after `drop` to `sys:privilege`: lowering and keeping work, raising and `as unlimited` are EPERM, the cap unchanged |
//!
//! Finally the free-frame count is back where it was.
//!
//! `mm-limit --exec-check BYTES` is the program the `exec` group runs: it
//! exits 0 if its cap is `as BYTES`, else [`EXEC_WRONG_CAP`].
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;

use tessera_guest_tests::mm::{
    Memory, PAGE, as_limit, expect_child, fill, first_changed, first_nonzero, frames_back, group, in_child, maps,
    protect, set_as_limit, unmap, write_limits,
};
use tessera_guest_tests::system::{fork_with, reap};
use tessera_guest_tests::{Checks, Shown, errno_name};
use tessera_runtime::abi::error::{EINVAL, ENOMEM, EPERM};
use tessera_runtime::mm::{
    self, ANONYMOUS_FD, MAP_FIXED, MAP_POPULATE, MAP_PRIVATE, MREMAP_MAYMOVE, PROT_READ, PROT_RW,
};
use tessera_runtime::sys::WaitStatus;
use tessera_runtime::{Args, Result, io, sys};

tessera_runtime::entry!(main);

/// Exit status of `--exec-check` when the cap is not the one expected.
const EXEC_WRONG_CAP: i32 = 3;
/// Exit status of an `exec` group child whose `execve` returned.
const EXEC_RETURNED: i32 = 4;
/// Bytes of each recursive call's local array (the `stack` group).
const FRAME_BYTES: usize = 2048;
/// Calls deep for about 1 MiB of stack: past the 256 KiB exec maps.
const DEPTH: usize = 512;

fn main(args: Args) -> i32 {
    if let [_, "--exec-check", bytes] = args.argv() {
        return exec_check(bytes);
    }
    let mut checks = Checks::new("mm-limit");
    checks.check("a new process has no cap", as_limit() == Ok(None), format_args!("sys:limits: {:?}", as_limit()));
    let listing = io::read_file("sys:").ok().and_then(|t| String::from_utf8(t).ok()).unwrap_or_default();
    checks.check("`sys:` lists `limits`", listing.lines().any(|l| l == "limits"), format_args!("{listing:?}"));
    let _ = fork_with(|| {
        warm_up();
        0
    })
    .and_then(reap);
    let before = Memory::read();
    group(&mut checks, "mm-limit cap", under_the_cap);
    group(&mut checks, "mm-limit lower", lowered);
    group(&mut checks, "mm-limit fork", inherited_by_fork);
    group(&mut checks, "mm-limit exec", kept_by_exec);
    group(&mut checks, "mm-limit stack", stack_growth);
    group(&mut checks, "mm-limit bad", bad_commands);
    group(&mut checks, "mm-limit unprivileged", unprivileged);
    frames_back(&mut checks, before);
    checks.finish()
}

/// What the groups do, once, so the kernel heap has grown for it before
/// the baseline.
fn warm_up() {
    let _ = set_as_limit(Some(usize::MAX / 2));
    let _ = as_limit();
    if let Ok(addr) = mm::mmap_anonymous(8 * PAGE, PROT_RW, MAP_PRIVATE | MAP_POPULATE) {
        let moved = remap(addr, 8 * PAGE, 16 * PAGE).unwrap_or(addr);
        let _ = unmap(moved, 16 * PAGE);
    }
}

/// The `--exec-check BYTES` mode: 0 if the cap is `as BYTES`.
fn exec_check(bytes: &str) -> i32 {
    let expected = bytes.parse::<usize>().ok();
    if expected.is_some() && as_limit() == Ok(expected) { 0 } else { EXEC_WRONG_CAP }
}

// ---- helpers -------------------------------------------------------------

/// `sys:maps`'s mapped pages, or a failed check.
fn mapped(checks: &mut Checks) -> Option<usize> {
    maps(checks).map(|m| m.mapped_pages)
}

/// Sets the cap to `pages` pages (`None`: unlimited), as a check.
fn set_cap(checks: &mut Checks, pages: Option<usize>) -> bool {
    let got = set_as_limit(pages.map(|p| p * PAGE));
    let ok = got.is_ok() && as_limit() == Ok(pages.map(|p| p * PAGE));
    checks.check(
        "the cap is set and reads back",
        ok,
        format_args!("write {}, then sys:limits {:?}; wanted {pages:?} pages", Shown(got), as_limit()),
    );
    ok
}

/// Private read-write anonymous memory, not populated.
fn map(pages: usize) -> Result<usize> {
    mm::mmap_anonymous(pages * PAGE, PROT_RW, MAP_PRIVATE)
}

/// `mremap` with MAYMOVE.
fn remap(old: usize, old_len: usize, new_len: usize) -> Result<usize> {
    // SAFETY: only mappings this test made, holding no Rust object.
    unsafe { mm::mremap(old, old_len, 0, new_len, MREMAP_MAYMOVE) }
}

/// A MAP_FIXED private mapping of `pages` pages at `addr`.
fn map_fixed(addr: usize, pages: usize) -> Result<usize> {
    // SAFETY: only over mappings this test made, holding no Rust object.
    unsafe { mm::mmap(addr, pages * PAGE, PROT_RW, MAP_PRIVATE | MAP_FIXED, ANONYMOUS_FD, 0) }
}

/// Checks that the mapped count is still `expected`.
fn expect_mapped(checks: &mut Checks, what: &str, expected: usize) {
    let now = mapped(checks);
    checks.check(what, now == Some(expected), format_args!("mapped pages {now:?}, expected {expected}"));
}

// ---- groups --------------------------------------------------------------

fn under_the_cap(checks: &mut Checks) {
    let Some(start) = mapped(checks) else { return };
    let cap = start + 64;
    let got = set_as_limit(Some(cap * PAGE - 100));
    checks.check(
        "`as BYTES` is rounded up to pages",
        got.is_ok() && as_limit() == Ok(Some(cap * PAGE)),
        format_args!("write {}, then sys:limits {:?}, expected {}", Shown(got), as_limit(), cap * PAGE),
    );

    let Some(now) = mapped(checks) else { return };
    let room = cap - now;
    checks.expect_errno("mmap of room + 1 pages: ENOMEM", map(room + 1), ENOMEM);
    expect_mapped(checks, "the refused mmap mapped nothing", now);
    let filler = map(room);
    checks.check("mmap of exactly the room works", filler.is_ok(), format_args!("{}", Shown(filler)));
    checks.expect_errno("then one more page: ENOMEM", map(1), ENOMEM);
    if let Ok(filler) = filler {
        let _ = unmap(filler, room * PAGE);
    }

    let Ok(a) = mm::mmap_anonymous(32 * PAGE, PROT_RW, MAP_PRIVATE | MAP_POPULATE) else {
        return checks.check("mmap of 32 pages under the cap", false, format_args!("failed"));
    };
    fill(a, 32, 0x11);
    let Some(now) = mapped(checks) else { return };
    let room = cap - now;
    checks.expect_errno("mremap growth past the cap: ENOMEM", remap(a, 32 * PAGE, (32 + room + 1) * PAGE), ENOMEM);
    checks.check("the refused mremap kept the data", first_changed(a, 32, 0x11).is_none(), format_args!("changed"));
    expect_mapped(checks, "the refused mremap changed no mapping", now);
    let grown = remap(a, 32 * PAGE, (32 + room) * PAGE);
    checks.check("mremap growth up to the cap works", grown.is_ok(), format_args!("{}", Shown(grown)));
    let Ok(a) = grown else { return };
    checks.check("the grown mapping kept the data", first_changed(a, 32, 0x11).is_none(), format_args!("changed"));
    let Ok(a) = remap(a, (32 + room) * PAGE, 32 * PAGE) else {
        return checks.check("mremap shrink back to 32 pages", false, format_args!("failed"));
    };

    let fixed = map_fixed(a, 32);
    checks.check(
        "MAP_FIXED over 32 mapped pages, at the cap's edge: works",
        fixed == Ok(a),
        format_args!("{}", Shown(fixed)),
    );
    checks.check("the replacing pages read zero", first_nonzero(a, 32).is_none(), format_args!("old data"));
    expect_mapped(checks, "MAP_FIXED replacing pages does not count them twice", now);
    let _ = unmap(a, 32 * PAGE);
}

fn lowered(checks: &mut Checks) {
    let Ok(a) = mm::mmap_anonymous(16 * PAGE, PROT_RW, MAP_PRIVATE | MAP_POPULATE) else {
        return checks.check("mmap of 16 pages", false, format_args!("failed"));
    };
    fill(a, 16, 0x22);
    let Some(now) = mapped(checks) else { return };
    if !set_cap(checks, Some(now / 2)) {
        return;
    }
    checks.expect_errno("over the cap: mmap of 1 page: ENOMEM", map(1), ENOMEM);
    checks.expect_errno("over the cap: mremap growth: ENOMEM", remap(a, 16 * PAGE, 17 * PAGE), ENOMEM);
    checks.expect_errno("over the cap: MAP_FIXED of the same size: ENOMEM", map_fixed(a, 4), ENOMEM);
    checks.check("the refused calls kept the data", first_changed(a, 16, 0x22).is_none(), format_args!("changed"));
    let shrunk = unmap(a + 12 * PAGE, 4 * PAGE).and_then(|_| remap(a, 12 * PAGE, 8 * PAGE));
    checks.check("munmap and mremap shrink work", shrunk == Ok(a), format_args!("{}", Shown(shrunk)));
    let protected = protect(a, 8 * PAGE, PROT_READ);
    checks.check("mprotect works", protected.is_ok(), format_args!("{}", Shown(protected)));
    checks.check("the kept pages kept their data", first_changed(a, 8, 0x22).is_none(), format_args!("changed"));
    expect_mapped(checks, "8 pages fewer mapped", now - 8);

    if !set_cap(checks, None) {
        return;
    }
    let big = map(64);
    checks.check("`as unlimited` lifts it: mmap of 64 pages works", big.is_ok(), format_args!("{}", Shown(big)));
    let grown = protect(a, 8 * PAGE, PROT_RW).and_then(|_| remap(a, 8 * PAGE, 64 * PAGE));
    checks.check("and mremap growth works", grown.is_ok(), format_args!("{}", Shown(grown)));
}

fn inherited_by_fork(checks: &mut Checks) {
    let Some(now) = mapped(checks) else { return };
    let cap = now + 32;
    if !set_cap(checks, Some(cap)) {
        return;
    }
    // The child's exit status: 0, or the first thing that went wrong.
    let child = fork_with(|| {
        if as_limit() != Ok(Some(cap * PAGE)) {
            return 1;
        }
        let Some(now) = tessera_runtime::mm::read_maps().ok().map(|m| m.mapped_pages) else { return 2 };
        if !matches!(map(cap - now + 1), Err(e) if e.errno == ENOMEM) {
            return 3;
        }
        if map(cap - now).is_err() {
            return 4;
        }
        if set_as_limit(Some(PAGE)).is_err() {
            return 5;
        }
        0
    })
    .and_then(reap);
    let ok = matches!(child, Ok((_, status)) if status.success());
    checks.check(
        "a forked child has the cap: refused past it, allowed under it",
        ok,
        format_args!(
            "the child {} (1 other cap, 2 no sys:maps, 3 not refused, 4 refused, 5 could not lower it)",
            child_status(&child)
        ),
    );
    checks.check(
        "the child lowering its cap left the parent's",
        as_limit() == Ok(Some(cap * PAGE)),
        format_args!("sys:limits {:?}, expected {}", as_limit(), cap * PAGE),
    );
}

fn kept_by_exec(checks: &mut Checks) {
    // The new image is this program again: as big as this one was at its
    // start, which is at most what is mapped now.
    let Some(now) = mapped(checks) else { return };
    let cap_bytes = (now + 64) * PAGE;
    let argument = alloc::format!("{cap_bytes}");
    let status = fork_with(|| {
        if set_as_limit(Some(cap_bytes)).is_err() {
            return 1;
        }
        let _ = sys::execve("initfs:bin/mm-limit", &["mm-limit", "--exec-check", &argument], &[]);
        EXEC_RETURNED
    })
    .and_then(reap);
    checks.check(
        "the cap survives execve",
        matches!(status, Ok((_, s)) if s.success()),
        format_args!(
            "the child {} ({EXEC_WRONG_CAP}: another cap after exec; {EXEC_RETURNED}: execve failed)",
            child_status(&status)
        ),
    );

    // In a child, as a successful exec would replace the process (and its
    // `--exec-check 0` then fails: the cap is a page, not 0 bytes).
    let status = fork_with(|| {
        if set_as_limit(Some(1)).is_err() {
            return 1;
        }
        let error = sys::execve("initfs:bin/mm-limit", &["mm-limit", "--exec-check", "0"], &[]);
        if error.errno != ENOMEM {
            return 10 + error.errno.clamp(0, 100);
        }
        if as_limit() != Ok(Some(PAGE)) { 2 } else { 0 }
    })
    .and_then(reap);
    checks.check(
        "an image that does not fit under the cap: execve fails with ENOMEM, the caller goes on with its cap",
        matches!(status, Ok((_, s)) if s.success()),
        format_args!(
            "the child {} (10 + errno: execve failed otherwise; 2: its cap changed; {EXEC_WRONG_CAP}: execve worked)",
            child_status(&status)
        ),
    );
}

fn stack_growth(checks: &mut Checks) {
    // A child that cannot set its cap exits with `NO_CAP`, which fails both
    // checks.
    const NO_CAP: usize = 7;
    let grow_with_room = |room_pages: usize| {
        let now = tessera_runtime::mm::read_maps().map(|m| m.mapped_pages);
        match now.and_then(|now| set_as_limit(Some((now + room_pages) * PAGE))) {
            Ok(_) => core::hint::black_box(recurse(DEPTH)),
            Err(_) => sys::exit(NO_CAP),
        };
    };
    let status = in_child(|| grow_with_room(512));
    expect_child(checks, "1 MiB of stack growth with 2 MiB of room: works", false, status);
    let status = in_child(|| grow_with_room(0));
    expect_child(checks, "stack growth with no room under the cap: SIGSEGV", true, status);
}

/// Uses `FRAME_BYTES` of stack per call, `depth + 1` calls deep.
#[inline(never)]
fn recurse(depth: usize) -> u64 {
    let mut frame = [0u8; FRAME_BYTES];
    frame[0] = depth as u8;
    let frame = core::hint::black_box(&mut frame);
    let below = if depth == 0 { 0 } else { recurse(depth - 1) };
    below + u64::from(frame[0])
}

fn bad_commands(checks: &mut Checks) {
    let Some(now) = mapped(checks) else { return };
    let cap = now + 100;
    if !set_cap(checks, Some(cap)) {
        return;
    }
    let bad: [&[u8]; 14] = [
        b"\n",
        b"as",
        b"as ",
        b"as -4096",
        b"as +4096",
        b"as 4k",
        b"as 0x1000",
        b"as 4096 4096",
        b"as unlimited now",
        b"AS 4096",
        b"stack 4096",
        b"as 99999999999999999999999",
        b"as \xff",
        b"as 4096\0",
    ];
    for command in bad {
        let what = alloc::format!("{:?}: EINVAL", String::from_utf8_lossy(command));
        checks.expect_errno(&what, write_limits(command), EINVAL);
    }
    checks.check(
        "the bad commands left the cap",
        as_limit() == Ok(Some(cap * PAGE)),
        format_args!("sys:limits {:?}", as_limit()),
    );
    let spaced = write_limits(alloc::format!("  as   {}\n", cap * PAGE).as_bytes());
    checks.check("surrounding whitespace is fine", spaced.is_ok(), format_args!("{}", Shown(spaced)));
    if set_cap(checks, Some(0)) {
        checks.expect_errno("`as 0`: mmap of 1 page: ENOMEM", map(1), ENOMEM);
    }
}

fn unprivileged(checks: &mut Checks) {
    let dropped = sys::open("sys:privilege", tessera_runtime::abi::flag::O_WRONLY).and_then(|fd| {
        let written = sys::write(fd, b"drop");
        let _ = sys::close(fd);
        written
    });
    checks.check("write `drop` to sys:privilege", dropped.is_ok(), format_args!("{}", Shown(dropped)));
    let Some(now) = mapped(checks) else { return };
    let cap = now + 100;
    if !set_cap(checks, Some(cap)) {
        return;
    }
    checks.expect_errno("raising it by a page: EPERM", set_as_limit(Some((cap + 1) * PAGE)), EPERM);
    checks.expect_errno("`as unlimited`: EPERM", set_as_limit(None), EPERM);
    checks.check(
        "the refused raises left the cap",
        as_limit() == Ok(Some(cap * PAGE)),
        format_args!("sys:limits {:?}", as_limit()),
    );
    // The same value again, then lower.
    set_cap(checks, Some(cap));
    set_cap(checks, Some(cap - 50));
    checks.expect_errno("and back up: EPERM", set_as_limit(Some(cap * PAGE)), EPERM);
}

/// A reaped child's status, or why there is none, for messages.
fn child_status(reaped: &Result<(usize, WaitStatus)>) -> String {
    match reaped {
        Ok((_, status)) => alloc::format!("{status}"),
        Err(e) => alloc::format!("fork/waitpid: {}", errno_name(e.errno)),
    }
}
