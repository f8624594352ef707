//! `mm-physical`: `memory:physical@uc` maps device registers into a
//! privileged process, uncached (Device memory on aarch64, UC on x86_64).
//! It is one of the few tests the runner starts privileged (`privileged
//! mm-physical` in tests.list): exec drops the privilege otherwise.
//!
//! The device is one QEMU always has, with registers of known value:
//! - aarch64 (`virt`): the PL031 RTC at 0x0901_0000. Its identification
//!   registers (ARM DDI 0224, PL031 TRM §3.3.10-11, "Peripheral / PrimeCell
//!   Identification Registers", one byte each in a 32-bit word) read
//!   PeriphID0-2 = 0x31, 0x10, 0x?4 (part number 0x031, designer 0x41 `A`,
//!   any revision) and PrimeCellID0-3 = 0x0D, 0xF0, 0x05, 0xB1 (every
//!   PrimeCell). RTCMR (offset 0x04) is the register the read-write
//!   mapping writes and reads back: with RTCIMSC clear (the kernel only
//!   reads RTCDR, once) a match raises no interrupt.
//! - x86_64 (`q35`): the local APIC at 0xFEE0_0000 (xAPIC mode, which the
//!   kernel uses). Its version register (offset 0x30; Intel SDM Vol. 3A
//!   §10.4.8 "Local APIC Version Register") holds 0x10-0x15 (an integrated
//!   APIC) in bits 7:0 and the LVT entries minus one, 3-6, in bits 23:16.
//!   Nothing is written: every register with an effect belongs to the
//!   kernel.
//!
//! Each group runs in its own forked child (lines prefixed
//! `mm-physical <group>:`); accesses that must fault run in a further
//! child.
//!
//! | group | checks |
//! |---|---|
//! | map | a read-only and a read-write mapping of the device page read the known values; `sys:maps` lists them as `r--s` / `rw-s` of kind `phys`, one page, nothing resident; (aarch64) a value written through the read-write mapping reads back; a write through the read-only mapping: SIGSEGV |
//! | fork | a child reads the same values at the same address, where its `sys:maps` lists the same entry |
//! | unmap | munmap works; the entry is gone; a read there: SIGSEGV |
//! | errors | an offset that is not page-aligned: EINVAL; MAP_PRIVATE: EINVAL; an address at 2^52 or the top page (past the physical address width): EINVAL; `memory:physical@xx`: ENOENT; `memory:physical` (write-back) opens |
//! | unprivileged | after `drop` to `sys:privilege`: opening `memory:physical@uc` or `@wb`: EPERM; `memory:zeroed` still opens and maps |
//!
//! Finally the free-frame count is back where it was.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;

use tessera_guest_tests::mm::{Memory, PAGE, expect_child, frames_back, group, in_child, maps, unmap};
use tessera_guest_tests::system::{fork_with, reap};
use tessera_guest_tests::{Checks, Shown, errno_name};
use tessera_runtime::abi::error::{EINVAL, ENOENT, EPERM};
use tessera_runtime::abi::flag::{O_RDWR, O_WRONLY};
use tessera_runtime::mm::{self, MAP_PRIVATE, MAP_SHARED, MapFlags, MapKind, PROT_READ, PROT_RW};
use tessera_runtime::sys::WaitStatus;
use tessera_runtime::{Args, Result, sys};

tessera_runtime::entry!(main);

#[cfg(target_arch = "aarch64")]
mod device {
    //! QEMU virt's PL031 RTC.

    use super::read_u32;

    pub const NAME: &str = "the PL031 RTC";
    pub const PHYS: usize = 0x0901_0000;

    /// What is wrong with the identification registers at `base`, if
    /// anything.
    pub fn identify(base: usize) -> Option<alloc::string::String> {
        let id = |offset: usize| read_u32(base + offset);
        let periph = [id(0xFE0), id(0xFE4), id(0xFE8)];
        let cell = [id(0xFF0), id(0xFF4), id(0xFF8), id(0xFFC)];
        let ok = periph[0] == 0x31 && periph[1] == 0x10 && periph[2] & 0x0F == 0x04 && cell == [0x0D, 0xF0, 0x05, 0xB1];
        (!ok).then(|| alloc::format!("PeriphID0-2 {periph:#x?}, PrimeCellID0-3 {cell:#x?}"))
    }

    /// RTCMR: writable, without effect while the interrupt is masked.
    pub const SCRATCH: Option<usize> = Some(0x04);
}

#[cfg(target_arch = "x86_64")]
mod device {
    //! The local APIC.

    use super::read_u32;

    pub const NAME: &str = "the local APIC";
    pub const PHYS: usize = 0xFEE0_0000;

    /// What is wrong with the version register at `base`, if anything.
    pub fn identify(base: usize) -> Option<alloc::string::String> {
        let version = read_u32(base + 0x30);
        let ok = (0x10..=0x15).contains(&(version & 0xFF)) && (3..=6).contains(&((version >> 16) & 0xFF));
        (!ok).then(|| alloc::format!("version register {version:#010x}"))
    }

    /// No register here may be written behind the kernel's back.
    pub const SCRATCH: Option<usize> = None;
}

fn main(_args: Args) -> i32 {
    let mut checks = Checks::new("mm-physical");
    let _ = fork_with(|| {
        if let Ok(fd) = open("memory:physical@uc") {
            if let Ok(addr) = map_device(fd, PROT_READ, MAP_SHARED, device::PHYS) {
                let _ = unmap(addr, PAGE);
            }
            let _ = sys::close(fd);
        }
        0
    })
    .and_then(reap);
    let before = Memory::read();
    group(&mut checks, "mm-physical map", mapped);
    group(&mut checks, "mm-physical fork", shared_by_fork);
    group(&mut checks, "mm-physical unmap", unmapped);
    group(&mut checks, "mm-physical errors", errors);
    group(&mut checks, "mm-physical unprivileged", unprivileged);
    frames_back(&mut checks, before);
    checks.finish()
}

// ---- helpers -------------------------------------------------------------

/// The 32-bit register at `addr`, read with one volatile 32-bit access
/// (device registers take no other size).
fn read_u32(addr: usize) -> u32 {
    // SAFETY: a 4-aligned address in a device page this test mapped,
    // holding no Rust object; reading the registers used here has no side
    // effect.
    unsafe { core::ptr::read_volatile(addr as *const u32) }
}

/// Writes the 32-bit register at `addr`.
fn write_u32(addr: usize, value: u32) {
    // SAFETY: as in `read_u32`; only `device::SCRATCH`, or a read-only
    // mapping in a child that must die of it.
    unsafe { core::ptr::write_volatile(addr as *mut u32, value) }
}

fn open(path: &str) -> Result<usize> {
    sys::open(path, O_RDWR)
}

/// One page of `fd` at physical address `phys`.
fn map_device(fd: usize, prot: MapFlags, flags: MapFlags, phys: usize) -> Result<usize> {
    // SAFETY: not fixed: the new mapping replaces nothing.
    unsafe { mm::mmap(0, PAGE, prot, flags, fd, phys) }
}

/// The device page mapped with `prot` from a fresh `memory:physical@uc`
/// fd (closed again: the mapping stays), or a failed check.
fn map_checked(checks: &mut Checks, prot: MapFlags) -> Option<usize> {
    let mapped = open("memory:physical@uc").and_then(|fd| {
        let mapped = map_device(fd, prot, MAP_SHARED, device::PHYS);
        let _ = sys::close(fd);
        mapped
    });
    let what = alloc::format!("open memory:physical@uc and map {} ({:#x}), {prot:?}", device::NAME, device::PHYS);
    checks.check(&what, mapped.is_ok(), format_args!("{}", Shown(mapped)));
    mapped.ok()
}

/// Checks the known register values through the mapping at `base`.
fn expect_identified(checks: &mut Checks, what: &str, base: usize) {
    let problem = device::identify(base);
    checks.check(what, problem.is_none(), format_args!("{}", problem.unwrap_or_default()));
}

/// Checks `sys:maps`'s entry at `addr`: one page, `perms`, `phys`, nothing
/// resident.
fn expect_phys_entry(checks: &mut Checks, addr: usize, perms: &str) {
    let Some(listing) = maps(checks) else { return };
    let entry = listing.find(addr);
    let ok = entry.is_some_and(|e| {
        e.start == addr && e.pages() == 1 && e.kind == MapKind::Phys && e.resident_pages == 0 && {
            let shown = alloc::format!("{}", e.perms);
            shown == perms
        }
    });
    let what = alloc::format!("sys:maps: one `{perms} phys` page, nothing resident");
    checks.check(&what, ok, format_args!("{entry:?}"));
}

// ---- groups --------------------------------------------------------------

fn mapped(checks: &mut Checks) {
    let Some(ro) = map_checked(checks, PROT_READ) else { return };
    expect_identified(checks, "the read-only mapping reads the known values", ro);
    expect_phys_entry(checks, ro, "r--s");
    let Some(rw) = map_checked(checks, PROT_RW) else { return };
    expect_identified(checks, "the read-write mapping reads the known values", rw);
    expect_phys_entry(checks, rw, "rw-s");
    if let Some(offset) = device::SCRATCH {
        let old = read_u32(rw + offset);
        let value = old ^ 0x5A5A_0000;
        write_u32(rw + offset, value);
        let back = read_u32(rw + offset);
        write_u32(rw + offset, old);
        checks.check(
            "a register written through the read-write mapping reads back",
            back == value,
            format_args!("wrote {value:#x}, read {back:#x}"),
        );
    }
    let status = in_child(|| write_u32(ro + device::SCRATCH.unwrap_or(0), 0));
    expect_child(checks, "a write through the read-only mapping: SIGSEGV", true, status);
}

fn shared_by_fork(checks: &mut Checks) {
    let Some(ro) = map_checked(checks, PROT_READ) else { return };
    let Some(parent_entry) = maps(checks).and_then(|m| m.find(ro).copied()) else {
        return checks.check("sys:maps lists the mapping", false, format_args!("no entry"));
    };
    // 0, or 1: wrong values; 2: no sys:maps; 3: another entry.
    let status = fork_with(|| {
        if device::identify(ro).is_some() {
            return 1;
        }
        match mm::read_maps() {
            Ok(maps) if maps.find(ro) == Some(&parent_entry) => 0,
            Ok(_) => 3,
            Err(_) => 2,
        }
    })
    .and_then(reap);
    checks.check(
        "a forked child reads the device at the same address, with the same sys:maps entry",
        matches!(status, Ok((_, s)) if s.success()),
        format_args!("the child {} (1: other values; 2: no sys:maps; 3: another entry)", child_status(&status)),
    );
    expect_identified(checks, "the parent still reads the known values", ro);
}

fn unmapped(checks: &mut Checks) {
    let Some(ro) = map_checked(checks, PROT_READ) else { return };
    let result = unmap(ro, PAGE);
    checks.check("munmap works", result.is_ok(), format_args!("{}", Shown(result)));
    let entry = maps(checks).and_then(|m| m.find(ro).copied());
    checks.check("the entry is gone", entry.is_none(), format_args!("{entry:?}"));
    let status = in_child(|| {
        core::hint::black_box(read_u32(ro));
    });
    expect_child(checks, "a read of the unmapped page: SIGSEGV", true, status);
}

fn errors(checks: &mut Checks) {
    let Ok(fd) = open("memory:physical@uc") else {
        return checks.check("open memory:physical@uc", false, format_args!("failed"));
    };
    checks.expect_errno(
        "an offset that is not page-aligned: EINVAL",
        map_device(fd, PROT_READ, MAP_SHARED, device::PHYS + 4),
        EINVAL,
    );
    checks.expect_errno("MAP_PRIVATE: EINVAL", map_device(fd, PROT_READ, MAP_PRIVATE, device::PHYS), EINVAL);
    // Beyond any CPU's physical address width (52 bits is the most either
    // arch has), and wrapping: refused, not mapped to garbage.
    checks.expect_errno(
        "an address past the physical width: EINVAL",
        map_device(fd, PROT_READ, MAP_SHARED, 1 << 52),
        EINVAL,
    );
    checks.expect_errno("the top page: EINVAL", map_device(fd, PROT_READ, MAP_SHARED, usize::MAX & !0xFFF), EINVAL);
    let _ = sys::close(fd);
    checks.expect_errno("memory:physical@xx: ENOENT", open("memory:physical@xx"), ENOENT);
    let plain = open("memory:physical");
    checks.check("memory:physical (write-back) opens", plain.is_ok(), format_args!("{}", Shown(plain)));
    if let Ok(fd) = plain {
        let _ = sys::close(fd);
    }
}

fn unprivileged(checks: &mut Checks) {
    let dropped = sys::open("sys:privilege", O_WRONLY).and_then(|fd| {
        let written = sys::write(fd, b"drop");
        let _ = sys::close(fd);
        written
    });
    checks.check("write `drop` to sys:privilege", dropped.is_ok(), format_args!("{}", Shown(dropped)));
    checks.expect_errno("then memory:physical@uc: EPERM", open("memory:physical@uc"), EPERM);
    checks.expect_errno("and memory:physical@wb: EPERM", open("memory:physical@wb"), EPERM);
    let zeroed = open("memory:zeroed").and_then(|fd| {
        let mapped = map_device(fd, PROT_RW, MAP_PRIVATE, 0);
        let _ = sys::close(fd);
        mapped
    });
    checks.check("memory:zeroed still opens and maps", zeroed.is_ok(), format_args!("{}", Shown(zeroed)));
}

/// A reaped child's status, or why there is none, for messages.
fn child_status(reaped: &Result<(usize, WaitStatus)>) -> String {
    match reaped {
        Ok((_, status)) => alloc::format!("{status}"),
        Err(e) => alloc::format!("fork/waitpid: {}", errno_name(e.errno)),
    }
}
