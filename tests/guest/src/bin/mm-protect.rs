//! `mm-protect`: `mprotect` changes what an access may do, page by page,
//! and keeps the data.
//!
//! Each group runs in its own forked child (lines prefixed
//! `mm-protect <group>:`); bad accesses run in a further child that must
//! die with SIGSEGV.
//!
//! | group | checks |
//! |---|---|
//! | read-only | mprotect(R): `r--p`, reads see the data; a write in a child: SIGSEGV; in one process, write, mprotect(R), write again: SIGSEGV (the old writable translation is gone); back to RW: data kept, writable; R then RW again (the PTEs stay read-only until a fault raises them): the kernel's copy into one page (read() from a pipe) and a user write to another work |
//! | none | mprotect(PROT_NONE): `---p`; a read and a write in a child: SIGSEGV; in one process, read, mprotect(NONE), read again: SIGSEGV; back to RW: data kept |
//! | split | mprotect(R) of pages 2..5 of 8: three entries `rw-p` 2 / `r--p` 3 / `rw-p` 3 pages with their resident pages; a write to the middle faults, to the sides works; back to RW: one entry again; `mprotect(addr, 1, R)` changes exactly the first page |
//! | errors | ENOMEM: a range with a hole, and nothing changed (the mapped part keeps `rw-p`); ENOMEM: nothing mapped; EINVAL: unaligned address, MAP_* or unknown bits in `prot`; length 0 → 0 |
//! | exec | `ret` written into an RW page: calling it in a child gives SIGSEGV; after mprotect(R|X) (`r-xp`) the call returns |
//!
//! The kernel merges neighbouring mappings that could be one, so the
//! mappings whose `sys:maps` entries are checked exactly get a free page on
//! each side ([`map_isolated`]).
//!
//! Finally the free-frame count is back where it was.
#![no_std]
#![no_main]

extern crate alloc;

use tessera_guest_tests::mm::{
    Access, Memory, PAGE, expect_child, expect_entries, fill, first_changed, frames_back, group, in_child, map_filled,
    map_isolated, protect, read_word, touch, unmap, write_word,
};
use tessera_guest_tests::system::{fork_with, reap};
use tessera_guest_tests::{Checks, Shown};
use tessera_runtime::abi::error::{EINVAL, ENOMEM};
use tessera_runtime::mm::{
    self, MAP_POPULATE, MAP_PRIVATE, MAP_SHARED, MapFlags, PROT_EXEC, PROT_NONE, PROT_READ, PROT_RW,
};
use tessera_runtime::{Args, sys};

tessera_runtime::entry!(main);

/// A return instruction, as bytes: what the exec group calls.
#[cfg(target_arch = "x86_64")]
const RET_CODE: [u8; 4] = [0xC3; 4];
/// `ret` (0xD65F03C0), little-endian.
#[cfg(target_arch = "aarch64")]
const RET_CODE: [u8; 4] = [0xC0, 0x03, 0x5F, 0xD6];

fn main(_args: Args) -> i32 {
    let mut checks = Checks::new("mm-protect");
    let _ = fork_with(|| {
        warm_up();
        0
    })
    .and_then(reap);
    let before = Memory::read();
    group(&mut checks, "mm-protect read-only", read_only);
    group(&mut checks, "mm-protect none", prot_none);
    group(&mut checks, "mm-protect split", split);
    group(&mut checks, "mm-protect errors", errors);
    group(&mut checks, "mm-protect exec", exec);
    frames_back(&mut checks, before);
    checks.finish()
}

/// What the groups do, once, so the kernel heap has grown for it before
/// the baseline.
fn warm_up() {
    if let Ok(addr) = mm::mmap_anonymous(8 * PAGE, PROT_RW, MAP_PRIVATE | MAP_POPULATE) {
        let _ = protect(addr + 2 * PAGE, 3 * PAGE, PROT_READ);
        let _ = protect(addr, 8 * PAGE, PROT_RW);
        let _ = unmap(addr, 8 * PAGE);
    }
}

// ---- helpers -------------------------------------------------------------

/// mprotect, recorded as a check.
fn protect_checked(checks: &mut Checks, what: &str, addr: usize, len: usize, prot: MapFlags) -> bool {
    let got = protect(addr, len, prot);
    checks.check(what, got == Ok(0), format_args!("{}", Shown(got)));
    got.is_ok()
}

// ---- groups --------------------------------------------------------------

fn read_only(checks: &mut Checks) {
    const PAGES: usize = 4;
    let Some(addr) = map_filled(checks, PAGES, 0x70) else { return };
    let end = addr + PAGES * PAGE;
    if !protect_checked(checks, "mprotect(R) of 4 populated pages", addr, PAGES * PAGE, PROT_READ) {
        return;
    }
    expect_entries(checks, "sys:maps shows them `r--p`, 4 resident", addr, end, &[(addr, end, "r--p", PAGES)]);
    let changed = first_changed(addr, PAGES, 0x70);
    checks.check("read-only pages read their data", changed.is_none(), format_args!("page {changed:?} changed"));
    expect_child(
        checks,
        "a write to a read-only page in a child: SIGSEGV",
        true,
        in_child(|| touch(addr, Access::Write)),
    );
    expect_child(checks, "a read of a read-only page in a child works", false, in_child(|| touch(addr, Access::Read)));
    let status = in_child(|| {
        let Ok(page) = mm::mmap_anonymous(PAGE, PROT_RW, MAP_PRIVATE) else { return };
        write_word(page, 1);
        if protect(page, PAGE, PROT_READ).is_ok() {
            write_word(page, 2);
        }
    });
    expect_child(checks, "in one process: write, mprotect(R), write again: SIGSEGV", true, status);
    if protect_checked(checks, "mprotect back to RW", addr, PAGES * PAGE, PROT_RW) {
        let changed = first_changed(addr, PAGES, 0x70);
        fill(addr, PAGES, 0x71);
        let rewritten = first_changed(addr, PAGES, 0x71);
        checks.check(
            "back to RW: data kept, pages writable",
            changed.is_none() && rewritten.is_none(),
            format_args!("page {changed:?} lost its data, page {rewritten:?} lost a new write"),
        );
        expect_entries(checks, "sys:maps shows `rw-p` again", addr, end, &[(addr, end, "rw-p", PAGES)]);
    }
    // mprotect(RW) adds the write right to the mapping, not to the PTEs
    // (lazy upgrade): the first write faults and raises its page. The
    // kernel's own copy into such a page must do the same.
    if protect_checked(checks, "mprotect(R) of the written pages", addr, PAGES * PAGE, PROT_READ)
        && protect_checked(checks, "mprotect(RW) again", addr, PAGES * PAGE, PROT_RW)
    {
        let copied = copy_by_kernel(addr + PAGE, b"lazy");
        checks.check(
            "read() from a pipe into a page made RW again by mprotect fills it",
            copied == Ok(true),
            format_args!("{copied:?}"),
        );
        write_word(addr + 2 * PAGE, 0x72);
        checks.check(
            "a user write to a page made RW again by mprotect works",
            read_word(addr + 2 * PAGE) == 0x72 && read_word(addr + 3 * PAGE) != 0x72,
            format_args!(""),
        );
    }
    let _ = unmap(addr, PAGES * PAGE);
}

/// Has the kernel write `bytes` at `addr` (a write to a pipe, then a read
/// from it into `addr`); whether they arrived.
fn copy_by_kernel(addr: usize, bytes: &[u8]) -> Result<bool, i32> {
    let [read_end, write_end] = sys::pipe2(0).map_err(|e| e.errno)?;
    let sent = sys::write(write_end, bytes);
    // SAFETY: `addr` is a mapped RW page of this test holding no Rust object.
    let buffer = unsafe { core::slice::from_raw_parts_mut(addr as *mut u8, bytes.len()) };
    let got = sys::read(read_end, buffer);
    let _ = (sys::close(read_end), sys::close(write_end));
    sent.map_err(|e| e.errno)?;
    Ok(got.map_err(|e| e.errno)? == bytes.len() && buffer == bytes)
}

fn prot_none(checks: &mut Checks) {
    const PAGES: usize = 4;
    let Some(addr) = map_filled(checks, PAGES, 0x80) else { return };
    let end = addr + PAGES * PAGE;
    if !protect_checked(checks, "mprotect(PROT_NONE)", addr, PAGES * PAGE, PROT_NONE) {
        return;
    }
    expect_entries(checks, "sys:maps shows `---p`", addr, end, &[(addr, end, "---p", PAGES)]);
    expect_child(
        checks,
        "a read of a PROT_NONE page in a child: SIGSEGV",
        true,
        in_child(|| touch(addr, Access::Read)),
    );
    expect_child(
        checks,
        "a write to a PROT_NONE page in a child: SIGSEGV",
        true,
        in_child(|| touch(addr + PAGE + 8, Access::Write)),
    );
    let status = in_child(|| {
        let Ok(page) = mm::mmap_anonymous(PAGE, PROT_RW, MAP_PRIVATE) else { return };
        write_word(page, 1);
        core::hint::black_box(read_word(page));
        if protect(page, PAGE, PROT_NONE).is_ok() {
            core::hint::black_box(read_word(page));
        }
    });
    expect_child(checks, "in one process: read, mprotect(NONE), read again: SIGSEGV", true, status);
    if protect_checked(checks, "mprotect back to RW", addr, PAGES * PAGE, PROT_RW) {
        let changed = first_changed(addr, PAGES, 0x80);
        checks.check("back to RW: data kept", changed.is_none(), format_args!("page {changed:?} changed"));
    }
    let _ = unmap(addr, PAGES * PAGE);
}

fn split(checks: &mut Checks) {
    const PAGES: usize = 8;
    let Some(addr) = map_filled(checks, PAGES, 0x90) else { return };
    let end = addr + PAGES * PAGE;
    let page = |i: usize| addr + i * PAGE;
    if !protect_checked(checks, "mprotect(R) of pages 2..5", page(2), 3 * PAGE, PROT_READ) {
        return;
    }
    expect_entries(
        checks,
        "sys:maps shows three entries: rw-p 2, r--p 3, rw-p 3 pages",
        addr,
        end,
        &[(addr, page(2), "rw-p", 2), (page(2), page(5), "r--p", 3), (page(5), end, "rw-p", 3)],
    );
    expect_child(checks, "a write to page 3: SIGSEGV", true, in_child(|| touch(page(3), Access::Write)));
    expect_child(checks, "a write to page 1 works", false, in_child(|| touch(page(1), Access::Write)));
    expect_child(checks, "a write to page 5 works", false, in_child(|| touch(page(5), Access::Write)));
    let changed = first_changed(addr, PAGES, 0x90);
    checks.check("all 8 pages keep their data", changed.is_none(), format_args!("page {changed:?} changed"));
    if protect_checked(checks, "mprotect(RW) of pages 2..5", page(2), 3 * PAGE, PROT_RW) {
        expect_entries(checks, "one `rw-p` entry of 8 pages again", addr, end, &[(addr, end, "rw-p", PAGES)]);
    }
    if protect_checked(checks, "mprotect(addr, 1, R)", addr, 1, PROT_READ) {
        expect_entries(
            checks,
            "a 1-byte mprotect changes exactly the first page",
            addr,
            end,
            &[(addr, page(1), "r--p", 1), (page(1), end, "rw-p", 7)],
        );
    }
    let _ = unmap(addr, PAGES * PAGE);
}

fn errors(checks: &mut Checks) {
    let Some(addr) = map_filled(checks, 3, 0xA0) else { return };
    let end = addr + 3 * PAGE;
    let _ = unmap(addr + PAGE, PAGE);
    checks.expect_errno("mprotect of a range with a hole", protect(addr, 3 * PAGE, PROT_READ), ENOMEM);
    expect_entries(
        checks,
        "a failed mprotect changed nothing (both pages still `rw-p`)",
        addr,
        end,
        &[(addr, addr + PAGE, "rw-p", 1), (addr + 2 * PAGE, end, "rw-p", 1)],
    );
    checks.expect_errno("mprotect of the hole alone", protect(addr + PAGE, PAGE, PROT_READ), ENOMEM);
    checks.expect_errno("mprotect at an unaligned address", protect(addr + 8, PAGE, PROT_READ), EINVAL);
    checks.expect_errno("mprotect with MAP_SHARED in prot", protect(addr, PAGE, PROT_READ | MAP_SHARED), EINVAL);
    checks.expect_errno(
        "mprotect with an unknown bit in prot",
        protect(addr, PAGE, PROT_READ | MapFlags::from_bits_retain(1 << 30)),
        EINVAL,
    );
    checks.check("mprotect of 0 bytes succeeds", protect(addr, 0, PROT_READ) == Ok(0), format_args!(""));
    expect_entries(checks, "... and changes nothing", addr, addr + PAGE, &[(addr, addr + PAGE, "rw-p", 1)]);
    let _ = unmap(addr, 3 * PAGE);
}

/// Calls the code at `addr`.
fn call(addr: usize) {
    // SAFETY: `addr` holds `RET_CODE`, which returns at once with nothing
    // clobbered but what the C ABI allows; if the page is not executable the
    // kernel kills the process, which the checks expect.
    let code: extern "C" fn() = unsafe { core::mem::transmute::<usize, extern "C" fn()>(addr) };
    code();
}

fn exec(checks: &mut Checks) {
    let Ok(addr) = map_isolated(1, MapFlags::empty()) else {
        return checks.check("mmap", false, format_args!("failed"));
    };
    for (i, byte) in RET_CODE.iter().enumerate() {
        // SAFETY: the page is this test's, writable, and holds no Rust object.
        unsafe { core::ptr::write_volatile((addr + i) as *mut u8, *byte) };
    }
    expect_child(checks, "a call into an RW (not executable) page: SIGSEGV", true, in_child(|| call(addr)));
    if protect_checked(checks, "mprotect(R|X)", addr, PAGE, PROT_READ | PROT_EXEC) {
        expect_entries(checks, "sys:maps shows `r-xp`", addr, addr + PAGE, &[(addr, addr + PAGE, "r-xp", 1)]);
        expect_child(checks, "a call into the R|X page returns", false, in_child(|| call(addr)));
    }
    let _ = unmap(addr, PAGE);
}
