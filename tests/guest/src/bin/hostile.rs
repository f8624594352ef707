//! `hostile`: calls an ordinary program can make to take the kernel's own
//! memory. Each runs in a forked child; each must end in an errno (or the
//! child being killed with a log line), the kernel must live, and the
//! kernel heap's use must come back.
//!
//! | group | what the child does | what must happen |
//! |---|---|---|
//! | populate-16g | `mmap(16 GiB, PROT_READ, MAP_PRIVATE \| MAP_POPULATE)` | works (or ENOMEM) with the kernel heap's use growing by less than 1 MiB: zero-frame pages cost no per-page bookkeeping; the pages read zero; munmap works |
//! | map-storm | up to 5,000,000 one-page mmaps of alternating protection (they cannot merge) | ENOMEM once the space holds `maps` (65,530) grants, heap growth under 512 bytes a grant; at the cap, munmap or mprotect that would cut a grant is ENOMEM and changes nothing; whole grants still unmap |
//! | maps-limit | `sys:limits` `maps N`: lower to 64, map until refused | ENOMEM at exactly 64 grants; lowering works unprivileged, raising is EPERM after `drop` |
//! | pending-requests | registers a scheme that never reads its queue, then 1,000 processes each block in `open` on it; the daemon is killed | every caller gets EIO or ENODEV and exits; the kernel heap's use is back within 256 KiB |
//! | fork-storm | forks children that wait on a pipe until fork fails | EAGAIN at 2,048 processes (zombies count); every child ends when the pipe closes; the heap's use is back within 256 KiB |
//! | absurd-elf | `execve` of hand-made ELF files in ramfs: a 1 TiB writable `.bss`, overlapping segments, a segment in kernel space, a segment whose end wraps | ENOMEM for the `.bss` (more than all of memory), ENOEXEC for the others, before anything proportional is allocated; the caller goes on |
//!
//! Finally: the kernel heap's use is back within 1 MiB of where it started,
//! and free frames are back (less what the heap grew by).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use tessera_guest_tests::mm::{
    Memory, PAGE, frames_back, group, heap_used_bytes, maps_limit, read_word, write_limits, write_word,
};
use tessera_guest_tests::system::{fork_with, reap};
use tessera_guest_tests::{Checks, errno_name};
use tessera_runtime::abi::TimeSpec;
use tessera_runtime::abi::error::{EAGAIN, EIO, ENODEV, ENOEXEC, ENOMEM, EPERM};
use tessera_runtime::abi::flag::{O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY};
use tessera_runtime::abi::signal::SIGKILL;
use tessera_runtime::mm::{
    self, ANONYMOUS_FD, MAP_FIXED_NOREPLACE, MAP_POPULATE, MAP_PRIVATE, PROT_NONE, PROT_READ, PROT_RW,
};
use tessera_runtime::{Args, io, sys};

tessera_runtime::entry!(main);

/// Linux's default `vm.max_map_count`, the kernel's default grant cap.
const DEFAULT_MAPS: u64 = 65_530;
/// How many one-page mappings the storm tries at most.
const STORM_TRIES: usize = 5_000_000;
/// Where the hand-made ELF files go: ramfs (`tmp:`), whose pages go with
/// the file. Not the root (`file:`, redoxfsd): its page and block caches
/// keep what was written, memory the free-frame check at the end would
/// count as lost.
const ELF_PATH: &str = "tmp:/hostile-elf";

/// `heap_used_bytes` from `sys:memory` (`usize::MAX` if it cannot be read;
/// the first check makes sure it can).
fn heap_used() -> usize {
    heap_used_bytes().unwrap_or(usize::MAX)
}

fn main(_args: Args) -> i32 {
    let mut checks = Checks::new("hostile");
    let readable = heap_used_bytes();
    checks.check("sys:memory shows heap_used_bytes", readable.is_some(), format_args!("{readable:?}"));
    let before = Memory::read();
    let heap_before = heap_used();
    group(&mut checks, "populate-16g", populate_16g);
    group(&mut checks, "map-storm", map_storm);
    group(&mut checks, "maps-limit", maps_limit_group);
    group(&mut checks, "pending-requests", pending_requests);
    group(&mut checks, "fork-storm", fork_storm);
    group(&mut checks, "absurd-elf", absurd_elf);
    let heap_after = heap_used();
    checks.check(
        "the kernel heap's use is back within 1 MiB",
        heap_after <= heap_before.saturating_add(1 << 20),
        format_args!("heap_used_bytes {heap_before} before, {heap_after} after"),
    );
    frames_back(&mut checks, before);
    checks.finish()
}

fn populate_16g(checks: &mut Checks) {
    const LEN: usize = 16 << 30;
    let heap_before = heap_used();
    let mapped = mm::mmap_anonymous(LEN, PROT_READ, MAP_PRIVATE | MAP_POPULATE);
    let heap_mapped = heap_used();
    match mapped {
        Ok(addr) => {
            checks.check(
                "a 16 GiB read-only populate costs the kernel heap less than 1 MiB",
                heap_mapped < heap_before.saturating_add(1 << 20),
                format_args!("heap_used_bytes {heap_before} before, {heap_mapped} mapped"),
            );
            let zero = [0, LEN / 2, LEN - PAGE].iter().all(|&off| read_word(addr + off) == 0);
            checks.check("its pages read zero", zero, format_args!("a page was not zero"));
            // SAFETY: the mapping is this group's alone.
            let unmapped = unsafe { mm::munmap(addr, LEN) };
            checks.check("munmap of it works", unmapped.is_ok(), format_args!("{unmapped:?}"));
        }
        Err(e) => checks.check(
            "a 16 GiB read-only populate works or is ENOMEM",
            e.errno == ENOMEM && heap_mapped < heap_before.saturating_add(1 << 20),
            format_args!("{e}, heap_used_bytes {heap_before} before, {heap_mapped} after"),
        ),
    }
}

/// The number of grants (lines of `sys:maps` before its total line).
fn grant_count() -> usize {
    mm::read_maps().map(|maps| maps.entries.len()).unwrap_or(0)
}

/// A free range of `pages` pages with a free page on each side.
fn free_range(pages: usize) -> Option<usize> {
    let addr = mm::mmap_anonymous((pages + 2) * PAGE, PROT_NONE, MAP_PRIVATE).ok()?;
    // SAFETY: just mapped, nothing uses it.
    unsafe { mm::munmap(addr, (pages + 2) * PAGE) }.ok()?;
    Some(addr + PAGE)
}

/// Maps one page at `addr` with `prot`, not replacing anything.
fn map_page(addr: usize, prot: mm::MapFlags) -> tessera_runtime::Result<usize> {
    // SAFETY: FIXED_NOREPLACE replaces nothing.
    unsafe { mm::mmap(addr, PAGE, prot, MAP_PRIVATE | MAP_FIXED_NOREPLACE, ANONYMOUS_FD, 0) }
}

/// Maps alternating-protection pages from `base` until refused; the count
/// made and the error that stopped it.
fn storm(base: usize, tries: usize) -> (usize, Option<tessera_runtime::Error>) {
    for i in 0..tries {
        let prot = if i % 2 == 0 { PROT_READ } else { PROT_RW };
        if let Err(e) = map_page(base + i * PAGE, prot) {
            return (i, Some(e));
        }
    }
    (tries, None)
}

fn map_storm(checks: &mut Checks) {
    let cap = maps_limit().unwrap_or(0);
    checks.check("the default grant cap is 65530", cap == DEFAULT_MAPS, format_args!("maps {cap}"));
    // A four-page grant to try cutting at the cap.
    let Ok(whole) = mm::mmap_anonymous(4 * PAGE, PROT_RW, MAP_PRIVATE) else {
        return checks.check("map a 4-page grant", false, format_args!("failed"));
    };
    let Some(base) = free_range(DEFAULT_MAPS as usize + 16) else {
        return checks.check("find room for the storm", false, format_args!("no free range"));
    };
    let grants_before = grant_count();
    let heap_before = heap_used();
    let (made, stopped) = storm(base, STORM_TRIES);
    let heap_full = heap_used();
    checks.check(
        "the storm ends in ENOMEM at the grant cap",
        stopped.is_some_and(|e| e.errno == ENOMEM) && (grants_before + made) as u64 == DEFAULT_MAPS,
        format_args!("{made} mapped after {grants_before} grants, then {stopped:?}"),
    );
    checks.check(
        "the kernel heap grew by less than 512 bytes a grant",
        heap_full.saturating_sub(heap_before) < made * 512,
        format_args!("heap_used_bytes {heap_before} before, {heap_full} at the cap, {made} grants"),
    );
    // SAFETY: `whole` is this group's alone.
    let cut = unsafe { mm::munmap(whole + PAGE, PAGE) };
    checks.check(
        "munmap that would cut a grant: ENOMEM",
        cut.is_err_and(|e| e.errno == ENOMEM),
        format_args!("{cut:?}"),
    );
    // SAFETY: as above.
    let cut = unsafe { mm::mprotect(whole + PAGE, PAGE, PROT_READ) };
    checks.check(
        "mprotect that would cut a grant: ENOMEM",
        cut.is_err_and(|e| e.errno == ENOMEM),
        format_args!("{cut:?}"),
    );
    write_word(whole + PAGE, 0x5A5A);
    checks.check("the grant it refused to cut still works", read_word(whole + PAGE) == 0x5A5A, format_args!("no"));
    // SAFETY: the storm's pages are this group's alone.
    let whole_unmap = unsafe { mm::munmap(base, made * PAGE) };
    checks.check("the storm's pages unmap at the cap", whole_unmap.is_ok(), format_args!("{whole_unmap:?}"));
    let again = map_page(base, PROT_READ);
    checks.check("mapping works again below the cap", again.is_ok(), format_args!("{again:?}"));
}

fn maps_limit_group(checks: &mut Checks) {
    let lowered = write_limits(b"maps 64");
    checks.check("lowering `maps` works", lowered.is_ok() && maps_limit() == Ok(64), format_args!("{lowered:?}"));
    let Some(base) = free_range(128) else {
        return checks.check("find room", false, format_args!("no free range"));
    };
    let grants_before = grant_count();
    let (made, stopped) = storm(base, 128);
    checks.check(
        "mapping stops with ENOMEM at exactly 64 grants",
        stopped.is_some_and(|e| e.errno == ENOMEM) && grants_before + made == 64,
        format_args!("{made} mapped after {grants_before}, then {stopped:?}"),
    );
    let dropped = sys::open("sys:privilege", O_WRONLY).and_then(|fd| {
        let written = sys::write(fd, b"drop");
        let _ = sys::close(fd);
        written
    });
    let raised = write_limits(b"maps 65530");
    checks.check(
        "raising `maps` unprivileged: EPERM, the cap unchanged",
        dropped.is_ok() && raised.is_err_and(|e| e.errno == EPERM) && maps_limit() == Ok(64),
        format_args!("drop {dropped:?}, raise {raised:?}, maps {:?}", maps_limit()),
    );
}

// ---- requests to a daemon that never answers -------------------------------

/// Processes blocked on the silent daemon at once.
const CALLERS: usize = 1000;
/// Exit status of a caller whose open returned something else than EIO or
/// ENODEV.
const WRONG_ANSWER: i32 = 9;

fn pending_requests(checks: &mut Checks) {
    let heap_before = heap_used();
    let Ok([ready_read, ready_write]) = sys::pipe2(0) else {
        return checks.check("a pipe", false, format_args!("pipe2 failed"));
    };
    let daemon = fork_with(|| {
        let Ok(_queue) = tessera_runtime::scheme::Server::register("hostile-q") else { return 1 };
        let _ = sys::write(ready_write, b"r");
        loop {
            let _ = sys::nanosleep(&TimeSpec { tv_sec: 1, tv_nsec: 0 }, None);
        }
    });
    let Ok(daemon) = daemon else { return checks.check("start the silent daemon", false, format_args!("fork failed")) };
    let mut byte = [0u8; 1];
    let ready = sys::read(ready_read, &mut byte);
    checks.check("the silent daemon registers hostile-q:", ready == Ok(1), format_args!("{ready:?}"));
    let mut callers = Vec::new();
    for _ in 0..CALLERS {
        match fork_with(|| match sys::open("hostile-q:anything", O_RDONLY) {
            Err(e) if e.errno == EIO || e.errno == ENODEV => 0,
            _ => WRONG_ANSWER,
        }) {
            Ok(pid) => callers.push(pid),
            Err(_) => break,
        }
    }
    checks.check("1,000 callers block on it", callers.len() == CALLERS, format_args!("{} started", callers.len()));
    // Let every caller reach its open.
    let _ = sys::nanosleep(&TimeSpec { tv_sec: 0, tv_nsec: 500_000_000 }, None);
    let _ = sys::kill(daemon, SIGKILL);
    let _ = reap(daemon);
    let mut wrong = 0;
    for pid in &callers {
        match reap(*pid) {
            Ok((_, status)) if status.code() == Some(0) => {}
            _ => wrong += 1,
        }
    }
    checks.check(
        "every caller got EIO or ENODEV once the daemon died",
        wrong == 0,
        format_args!("{wrong} of {} did not", callers.len()),
    );
    let heap_after = heap_used();
    checks.check(
        "the kernel heap's use is back within 256 KiB",
        heap_after <= heap_before.saturating_add(256 << 10),
        format_args!("heap_used_bytes {heap_before} before, {heap_after} after"),
    );
}

// ---- a fork bomb --------------------------------------------------------------

/// The kernel's process cap (`process::MAX_PROCESSES`).
const MAX_PROCESSES: usize = 2048;

fn fork_storm(checks: &mut Checks) {
    let heap_before = heap_used();
    let Ok([hold_read, hold_write]) = sys::pipe2(0) else {
        return checks.check("a pipe", false, format_args!("pipe2 failed"));
    };
    let mut children = Vec::new();
    let stopped = loop {
        // Each child waits until every write end is closed: then its read
        // returns 0 and it exits.
        match fork_with(|| {
            let _ = sys::close(hold_write);
            let mut byte = [0u8; 1];
            let _ = sys::read(hold_read, &mut byte);
            0
        }) {
            Ok(pid) => children.push(pid),
            Err(e) => break e,
        }
        if children.len() > MAX_PROCESSES {
            break tessera_runtime::Error::new(0);
        }
    };
    let processes = String::from_utf8(io::read_file("sys:processes").unwrap_or_default()).unwrap_or_default();
    let total = processes.lines().count().saturating_sub(1);
    checks.check(
        "fork stops with EAGAIN at the process cap",
        stopped.errno == EAGAIN && total == MAX_PROCESSES,
        format_args!("{} children, then {stopped:?}; {total} processes", children.len()),
    );
    let _ = sys::close(hold_write);
    let _ = sys::close(hold_read);
    let mut wrong = 0;
    for pid in &children {
        match reap(*pid) {
            Ok((_, status)) if status.code() == Some(0) => {}
            _ => wrong += 1,
        }
    }
    checks.check("every child ended", wrong == 0, format_args!("{wrong} of {} did not", children.len()));
    let heap_after = heap_used();
    checks.check(
        "the kernel heap's use is back within 256 KiB",
        heap_after <= heap_before.saturating_add(256 << 10),
        format_args!("heap_used_bytes {heap_before} before, {heap_after} after"),
    );
}

// ---- hand-made ELF files ---------------------------------------------------

/// The ELF machine of this CPU, from `sys:uname`.
fn machine() -> u16 {
    let text = io::read_file("sys:uname").unwrap_or_default();
    if core::str::from_utf8(&text).unwrap_or("").contains("aarch64") { 183 } else { 62 }
}

/// One PT_LOAD: (flags, offset, vaddr, filesz, memsz).
type Load = (u32, u64, u64, u64, u64);

const PF_W: u32 = 2;
const PF_R: u32 = 4;

/// An ELF executable of just its headers, entry `entry`, with `loads`.
fn elf(entry: u64, loads: &[Load]) -> Vec<u8> {
    let size = 64 + 56 * loads.len() as u64;
    let mut out = Vec::new();
    out.extend_from_slice(&[0x7F, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    out.extend_from_slice(&machine().to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&entry.to_le_bytes());
    out.extend_from_slice(&64u64.to_le_bytes()); // e_phoff
    out.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    out.extend_from_slice(&0u32.to_le_bytes());
    for half in [64u16, 56, loads.len() as u16, 0, 0, 0] {
        out.extend_from_slice(&half.to_le_bytes());
    }
    for &(flags, offset, vaddr, filesz, memsz) in loads {
        out.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
        out.extend_from_slice(&flags.to_le_bytes());
        for word in [offset, vaddr, vaddr, filesz.min(size), memsz, 0x1000] {
            out.extend_from_slice(&word.to_le_bytes());
        }
    }
    out
}

/// Writes `image` to [`ELF_PATH`] and execs it in a child; the errno
/// `execve` gave (the child exits with it), or `None` if it ran.
fn exec_errno(image: &[u8]) -> Option<i32> {
    let fd = sys::open(ELF_PATH, O_CREAT | O_TRUNC | O_WRONLY).ok()?;
    let written = io::write_all(fd, image);
    let _ = sys::close(fd);
    written.ok()?;
    let pid = fork_with(|| sys::execve(ELF_PATH, &["hostile-elf"], &[]).errno).ok()?;
    let (_, status) = reap(pid).ok()?;
    status.code().map(|code| code as i32)
}

fn absurd_elf(checks: &mut Checks) {
    const BASE: u64 = 0x40_0000;
    let cases: [(&str, Vec<u8>, i32); 4] = [
        ("a 1 TiB writable .bss", elf(BASE, &[(PF_R | PF_W, 0, BASE, u64::MAX, 1 << 40)]), ENOMEM),
        (
            "overlapping segments",
            elf(BASE, &[(PF_R, 0, BASE, u64::MAX, 0x3000), (PF_R | PF_W, 0, BASE + 0x1000, 0, 0x1000)]),
            ENOEXEC,
        ),
        ("a segment in kernel space", elf(BASE, &[(PF_R, 0, 0xFFFF_8000_0000_0000, u64::MAX, 0x1000)]), ENOEXEC),
        ("a segment whose end wraps", elf(BASE, &[(PF_R, 0, BASE, u64::MAX, u64::MAX - 0x1000)]), ENOEXEC),
    ];
    let heap_before = heap_used();
    for (what, image, errno) in cases {
        let got = exec_errno(&image);
        checks.check(
            &format!("execve of {what}: {}", errno_name(errno)),
            got == Some(errno),
            format_args!("got {}", got.map_or(String::from("no errno"), |e| String::from(errno_name(e)))),
        );
    }
    let heap_after = heap_used();
    checks.check(
        "the refused images left the kernel heap's use within 256 KiB",
        heap_after <= heap_before.saturating_add(256 << 10),
        format_args!("heap_used_bytes {heap_before} before, {heap_after} after"),
    );
    let _ = sys::unlink(ELF_PATH);
}
