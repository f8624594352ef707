//! `driver-support`: what the kernel gives user-space drivers
//! (docs/drivers.md), used as a driver would, on the virtio entropy device
//! the test machine has (`virtio-rng-pci`, mk/qemu.mk). It runs privileged
//! (`privileged driver-support` in tests.list).
//!
//! | group | checks |
//! |---|---|
//! | list | `pci:` lists the virtio-rng function (vendor 0x1af4, device 0x1005 or 0x1044) with a memory BAR |
//! | config | its configuration space reads the listed vendor and device at widths 1, 2, 4; a write to the command register reads back; misaligned, 3-byte and out-of-range accesses, writes to the listing: EINVAL; `lseek` to the end: 4096; absent and malformed addresses: ENOENT |
//! | bar | the virtio capability list leads to the common configuration in a BAR; mapped with `memory:physical@uc`, it reads `num_queues` = 1 |
//! | dma | `memory:zeroed?phys_contiguous` maps zeroed pages whose `memory:translation` addresses are consecutive; a forked child's write reaches the parent's page; an unmapped or kernel address: EFAULT; wrong lengths: EINVAL; 1 TiB: ENOMEM; a nonzero offset: EINVAL |
//! | virtqueue | the device fills a buffer through a one-entry virtqueue in that DMA memory (polled) |
//! | irq | the device's interrupt through `irq:` (x86_64: `irq:msi`, its message in MSI-X entry 0; aarch64: `irq:pci/ADDRESS`, INTx): two rounds of post, a read that returns once the device interrupted, the same count 100 ms later without an ack (a level line stays masked), ack; wrong lengths and names: EINVAL; (aarch64) a second open shares the line: both holders count the interrupt, one's ack leaves the other's count; a blocked reader dies of a kill; after close the line opens again; the other arch's kind: ENOSYS; unknown paths: ENOENT |
//! | unprivileged | after `drop`: `pci:`, a function, `memory:zeroed?phys_contiguous`, `memory:translation` and `irq:` are EPERM |
//!
//! Finally the free-frame count is back where it was.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{Ordering, fence};

use tessera_guest_tests::mm::{Memory, PAGE, frames_back, group, now_ns, read_word, unmap, write_word};
use tessera_guest_tests::system::{fork_with, reap};
use tessera_guest_tests::{Checks, Shown};
use tessera_runtime::abi::TimeSpec;
use tessera_runtime::abi::WNOHANG;
use tessera_runtime::abi::error::{EFAULT, EINVAL, ENOENT, ENOMEM, ENOSYS, EPERM};
use tessera_runtime::abi::flag::{O_RDWR, O_WRONLY, SEEK_END, SEEK_SET};
use tessera_runtime::abi::signal::SIGKILL;
use tessera_runtime::mm::{self, MAP_PRIVATE, MAP_SHARED, PROT_RW};
use tessera_runtime::{Args, Result, io, sys};

tessera_runtime::entry!(main);

const VIRTIO_VENDOR: u16 = 0x1AF4;
/// virtio-rng: transitional and modern device IDs (Virtio 1.2 §4.1.2.1).
const RNG_DEVICES: [u16; 2] = [0x1005, 0x1044];

fn main(_args: Args) -> i32 {
    let mut checks = Checks::new("driver-support");
    if let Ok(text) = io::read_file("pci:") {
        tessera_runtime::println!("driver-support: pci: lists\n{}", String::from_utf8_lossy(&text).trim_end());
    }
    let before = Memory::read();
    group(&mut checks, "driver-support list", listed);
    group(&mut checks, "driver-support config", config);
    group(&mut checks, "driver-support bar", bar);
    group(&mut checks, "driver-support dma", dma);
    group(&mut checks, "driver-support virtqueue", virtqueue);
    group(&mut checks, "driver-support irq", irq_group);
    group(&mut checks, "driver-support unprivileged", unprivileged);
    frames_back(&mut checks, before);
    checks.finish()
}

// ---- the device ----------------------------------------------------------

/// The virtio-rng function as `pci:` lists it.
struct Rng {
    address: String,
    /// (index, address, size) of each memory BAR.
    bars: Vec<(u8, u64, u64)>,
}

/// Parses `pci:`'s line for the virtio-rng function.
fn find_rng() -> Option<Rng> {
    let text = io::read_file("pci:").ok()?;
    let text = String::from_utf8(text).ok()?;
    text.lines().find_map(|line| {
        let mut words = line.split(' ');
        let address = words.next()?;
        let (vendor, device) = words.next()?.split_once(':')?;
        let (vendor, device) = (u16::from_str_radix(vendor, 16).ok()?, u16::from_str_radix(device, 16).ok()?);
        if vendor != VIRTIO_VENDOR || !RNG_DEVICES.contains(&device) {
            return None;
        }
        let bars = words
            .filter_map(|w| {
                let (name, value) = w.split_once('=')?;
                let index = name.strip_prefix("bar")?.parse().ok()?;
                let mut parts = value.split(':');
                let kind = parts.next()?;
                let hex = |s: &str| u64::from_str_radix(s.strip_prefix("0x")?, 16).ok();
                let (base, size) = (hex(parts.next()?)?, hex(parts.next()?)?);
                kind.starts_with("mem").then_some((index, base, size))
            })
            .collect();
        Some(Rng { address: String::from(address), bars })
    })
}

/// A configuration-space handle of the virtio-rng function.
struct Config(usize);

impl Config {
    fn open(rng: &Rng) -> Result<Self> {
        sys::open(&alloc::format!("pci:{}", rng.address), O_RDWR).map(Self)
    }
    fn read(&self, offset: usize, width: usize) -> Result<u32> {
        sys::lseek(self.0, offset as isize, SEEK_SET)?;
        let mut bytes = [0u8; 4];
        let n = sys::read(self.0, &mut bytes[..width])?;
        if n != width {
            return Err(tessera_runtime::Error::new(EINVAL));
        }
        Ok(u32::from_le_bytes(bytes))
    }
    fn write(&self, offset: usize, width: usize, value: u32) -> Result<usize> {
        sys::lseek(self.0, offset as isize, SEEK_SET)?;
        sys::write(self.0, &value.to_le_bytes()[..width])
    }
    /// Turns on memory decoding and bus mastering (command bits 1, 2).
    fn enable(&self) -> Result<()> {
        let command = self.read(0x04, 2)?;
        self.write(0x04, 2, command | 0b110).map(|_| ())
    }
    /// The virtio PCI capabilities (Virtio 1.2 §4.1.4).
    fn virtio_caps(&self) -> Result<Vec<Cap>> {
        let mut caps = Vec::new();
        let mut at = self.read(0x34, 1)? as usize & !3;
        for _ in 0..48 {
            if at == 0 {
                break;
            }
            if self.read(at, 1)? == 0x09 {
                caps.push(Cap {
                    kind: self.read(at + 3, 1)? as u8,
                    bar: self.read(at + 4, 1)? as u8,
                    offset: self.read(at + 8, 4)?,
                    at,
                });
            }
            at = self.read(at + 1, 1)? as usize & !3;
        }
        Ok(caps)
    }
}

impl Drop for Config {
    fn drop(&mut self) {
        let _ = sys::close(self.0);
    }
}

/// Maps BAR `(index, base, size)` uncached.
fn map_bar(base: u64, size: u64) -> Result<usize> {
    let fd = sys::open("memory:physical@uc", O_RDWR)?;
    let len = (size as usize).max(PAGE).next_multiple_of(PAGE);
    // SAFETY: not fixed: the new mapping replaces nothing.
    let mapped = unsafe { mm::mmap(0, len, PROT_RW, MAP_SHARED, fd, base as usize) };
    let _ = sys::close(fd);
    mapped
}

fn rd16(addr: usize) -> u16 {
    // SAFETY: a 2-aligned register of a BAR this test mapped.
    unsafe { core::ptr::read_volatile(addr as *const u16) }
}
fn rd8(addr: usize) -> u8 {
    // SAFETY: a register of a BAR this test mapped.
    unsafe { core::ptr::read_volatile(addr as *const u8) }
}
fn wr8(addr: usize, v: u8) {
    // SAFETY: as in `rd8`.
    unsafe { core::ptr::write_volatile(addr as *mut u8, v) }
}
fn wr16(addr: usize, v: u16) {
    // SAFETY: as in `rd16`.
    unsafe { core::ptr::write_volatile(addr as *mut u16, v) }
}
fn wr32(addr: usize, v: u32) {
    // SAFETY: a 4-aligned register of a BAR, or DMA memory, this test mapped.
    unsafe { core::ptr::write_volatile(addr as *mut u32, v) }
}
fn wr64(addr: usize, v: u64) {
    // A 64-bit register written as two halves, low first (Virtio 1.2 §4.1.3.1).
    wr32(addr, v as u32);
    wr32(addr + 4, (v >> 32) as u32);
}

/// The physical address behind `virt`, through `memory:translation`.
fn translate(fd: usize, virt: usize) -> Result<usize> {
    sys::write(fd, &(virt as u64).to_ne_bytes())?;
    let mut out = [0u8; 8];
    sys::read(fd, &mut out)?;
    Ok(u64::from_ne_bytes(out) as usize)
}

/// `pages` of contiguous DMA memory.
fn map_dma(len: usize, flags: mm::MapFlags, offset: usize) -> Result<usize> {
    let fd = sys::open("memory:zeroed?phys_contiguous", O_RDWR)?;
    // SAFETY: not fixed: the new mapping replaces nothing.
    let mapped = unsafe { mm::mmap(0, len, PROT_RW, flags, fd, offset) };
    let _ = sys::close(fd);
    mapped
}

// ---- groups --------------------------------------------------------------

fn listed(checks: &mut Checks) {
    let rng = find_rng();
    checks.check(
        "pci: lists the virtio-rng function (1af4:1005 or 1af4:1044)",
        rng.is_some(),
        format_args!("not found"),
    );
    let bars = rng.map(|r| r.bars).unwrap_or_default();
    checks.check(
        "with a memory BAR the firmware assigned",
        bars.iter().any(|b| b.1 != 0 && b.2 != 0),
        format_args!("{bars:x?}"),
    );
}

fn config(checks: &mut Checks) {
    let Some(rng) = find_rng() else { return checks.check("find virtio-rng", false, format_args!("not listed")) };
    let Ok(config) = Config::open(&rng) else { return checks.check("open its config space", false, format_args!("")) };
    let id = config.read(0, 4);
    let vendor = config.read(0, 2);
    let low = config.read(0, 1);
    let ok = matches!((id, vendor, low), (Ok(id), Ok(0x1AF4), Ok(0xF4)) if RNG_DEVICES.contains(&((id >> 16) as u16)));
    checks.check(
        "vendor 0x1af4 and the device ID read at widths 4, 2, 1",
        ok,
        format_args!("{id:x?} {vendor:x?} {low:x?}"),
    );
    let class = config.read(0x08, 4).map(|c| c >> 8);
    checks.check("the class code reads (0xff0000 or 0x00ff00: other)", class.is_ok(), format_args!("{class:x?}"));
    let before = config.read(0x04, 2).unwrap_or(0);
    let _ = config.write(0x04, 2, before | 0b10);
    let after = config.read(0x04, 2);
    checks.check(
        "the memory-enable bit written to the command register reads back",
        after.is_ok_and(|c| c & 0b10 != 0),
        format_args!("{after:x?}"),
    );
    let _ = config.write(0x04, 2, before);
    let bad = |offset: isize, width: usize| {
        sys::lseek(config.0, offset, SEEK_SET).and_then(|_| sys::read(config.0, &mut [0u8; 4][..width]))
    };
    checks.expect_errno("a 2-byte read at an odd offset: EINVAL", bad(1, 2), EINVAL);
    checks.expect_errno("a 4-byte read at offset 2: EINVAL", bad(2, 4), EINVAL);
    checks.expect_errno("a 3-byte read: EINVAL", bad(0, 3), EINVAL);
    checks.expect_errno(
        "an 8-byte read: EINVAL",
        sys::lseek(config.0, 0, SEEK_SET).and_then(|_| sys::read(config.0, &mut [0u8; 8])),
        EINVAL,
    );
    checks.expect_errno("a read at 4096: EINVAL", bad(4096, 1), EINVAL);
    checks.expect_errno("a 4-byte read at 4094: EINVAL", bad(4094, 4), EINVAL);
    checks.expect_errno("a write at an odd offset: EINVAL", config.write(0x05, 2, 0), EINVAL);
    checks.expect_errno("a write past 4 KiB: EINVAL", config.write(4096, 4, 0), EINVAL);
    let end = sys::lseek(config.0, 0, SEEK_END);
    checks.check("lseek to the end: 4096", end == Ok(4096), format_args!("{}", Shown(end)));
    let listing = sys::open("pci:", O_RDWR);
    if let Ok(fd) = listing {
        checks.expect_errno("a write to the listing: EINVAL", sys::write(fd, b"x"), EINVAL);
        let _ = sys::close(fd);
    }
    checks.expect_errno("pci:ffff:ff:1f.7 (nothing there): ENOENT", sys::open("pci:ffff:ff:1f.7", O_RDWR), ENOENT);
    checks.expect_errno("pci:0000:00:20.0 (device 32): ENOENT", sys::open("pci:0000:00:20.0", O_RDWR), ENOENT);
    checks.expect_errno("pci:nonsense: ENOENT", sys::open("pci:nonsense", O_RDWR), ENOENT);
}

/// A virtio PCI capability: its `cfg_type`, where it points (BAR and
/// offset) and where it sits in configuration space.
#[derive(Clone, Copy, Debug)]
struct Cap {
    kind: u8,
    bar: u8,
    offset: u32,
    at: usize,
}

/// Capability types (Virtio 1.2 §4.1.4).
const COMMON_CFG: u8 = 1;
const NOTIFY_CFG: u8 = 2;
const ISR_CFG: u8 = 3;

/// The virtio-rng device opened as a driver would: its configuration
/// space, capabilities and mapped memory BARs.
struct Device {
    address: String,
    config: Config,
    caps: Vec<Cap>,
    /// (BAR index, address it is mapped at).
    mapped: Vec<(u8, usize)>,
    /// The common configuration's address.
    common: usize,
}

impl Device {
    /// Where the capability of `kind` points, in the mapped BARs, and the
    /// capability.
    fn region(&self, kind: u8) -> Option<(usize, Cap)> {
        let cap = *self.caps.iter().find(|c| c.kind == kind)?;
        Some((self.bar(cap.bar)? + cap.offset as usize, cap))
    }
    /// Where BAR `index` is mapped.
    fn bar(&self, index: u8) -> Option<usize> {
        self.mapped.iter().find(|m| m.0 == index).map(|m| m.1)
    }
}

/// Opens the device: decoding and bus mastering on, BARs mapped,
/// capabilities read.
fn open_device(checks: &mut Checks) -> Option<Device> {
    let rng = find_rng()?;
    let config = Config::open(&rng).ok()?;
    let enabled = config.enable();
    checks.check("enable memory decoding and bus mastering", enabled.is_ok(), format_args!("{enabled:?}"));
    let caps = config.virtio_caps().unwrap_or_default();
    let mut mapped = Vec::new();
    for &(index, base, size) in &rng.bars {
        let at = map_bar(base, size);
        let what = alloc::format!("map BAR{index} ({base:#x}, {size:#x} bytes) with memory:physical@uc");
        checks.check(&what, at.is_ok(), format_args!("{}", Shown(at)));
        mapped.push((index, at.ok()?));
    }
    let mut device = Device { address: rng.address, config, caps, mapped, common: 0 };
    let Some((common, _)) = device.region(COMMON_CFG) else {
        checks.check("a virtio common-configuration capability", false, format_args!("{:x?}", device.caps));
        return None;
    };
    device.common = common;
    Some(device)
}

fn bar(checks: &mut Checks) {
    let Some(device) = open_device(checks) else {
        return checks.check("the common configuration", false, format_args!("not found"));
    };
    let queues = rd16(device.common + 0x12);
    checks.check("num_queues in the common configuration reads 1", queues == 1, format_args!("{queues}"));
}

fn dma(checks: &mut Checks) {
    const PAGES: usize = 4;
    let Ok(translation) = sys::open("memory:translation", O_RDWR) else {
        return checks.check("open memory:translation", false, format_args!(""));
    };
    let mapped = map_dma(PAGES * PAGE, MAP_SHARED, 0);
    checks.check("map 4 pages of memory:zeroed?phys_contiguous", mapped.is_ok(), format_args!("{}", Shown(mapped)));
    let Ok(addr) = mapped else { return };
    // SAFETY: the mapping is PAGES pages, readable.
    let zero = unsafe { core::slice::from_raw_parts(addr as *const u8, PAGES * PAGE) }.iter().all(|&b| b == 0);
    checks.check("it reads zeroes", zero, format_args!("nonzero bytes"));
    let phys: Vec<Result<usize>> = (0..PAGES).map(|i| translate(translation, addr + i * PAGE)).collect();
    let ok = phys.iter().all(Result::is_ok)
        && phys
            .iter()
            .enumerate()
            .all(|(i, p)| p.as_ref().ok() == phys[0].as_ref().ok().map(|p0| p0 + i * PAGE).as_ref());
    checks.check("its pages translate to consecutive physical addresses", ok, format_args!("{phys:x?}"));
    let inside = translate(translation, addr + PAGE + 0x123);
    let expected = phys[0].as_ref().ok().map(|p| p + PAGE + 0x123);
    checks.check(
        "an address inside a page keeps its offset",
        inside.as_ref().ok() == expected.as_ref(),
        format_args!("{inside:x?}"),
    );
    // A forked child shares the memory (never copied on write).
    let child = fork_with(move || {
        write_word(addr + PAGE, 0x5EED);
        0
    })
    .and_then(reap);
    let seen = read_word(addr + PAGE);
    let after = translate(translation, addr + PAGE);
    checks.check(
        "a forked child's write is seen by the parent, at the same physical page",
        child.is_ok() && seen == 0x5EED && after.as_ref().ok() == phys[1].as_ref().ok(),
        format_args!("read {seen:#x}, now at {after:x?}"),
    );
    let private = map_dma(2 * PAGE, MAP_PRIVATE, 0);
    let private_phys = private.and_then(|a| Ok((translate(translation, a)?, translate(translation, a + PAGE)?)));
    checks.check(
        "MAP_PRIVATE maps contiguous memory too",
        matches!(private_phys, Ok((a, b)) if b == a + PAGE),
        format_args!("{private_phys:x?}"),
    );
    if let Ok(a) = private {
        let _ = unmap(a, 2 * PAGE);
    }
    let _ = unmap(addr + 3 * PAGE, PAGE);
    checks.expect_errno("translating an unmapped page: EFAULT", translate(translation, addr + 3 * PAGE), EFAULT);
    checks.expect_errno("translating a kernel address: EFAULT", translate(translation, 0xFFFF_8000_0000_0000), EFAULT);
    checks.expect_errno("a 4-byte translation write: EINVAL", sys::write(translation, &[0u8; 4]), EINVAL);
    checks.expect_errno("a 4-byte translation read: EINVAL", sys::read(translation, &mut [0u8; 4]), EINVAL);
    let fresh = sys::open("memory:translation", O_RDWR);
    if let Ok(fd) = fresh {
        checks.expect_errno("a read before any write: EINVAL", sys::read(fd, &mut [0u8; 8]), EINVAL);
        let _ = sys::close(fd);
    }
    checks.expect_errno("1 TiB of contiguous memory: ENOMEM", map_dma(1 << 40, MAP_SHARED, 0), ENOMEM);
    checks.expect_errno("32 MiB (past the 16 MiB limit): ENOMEM", map_dma(32 << 20, MAP_SHARED, 0), ENOMEM);
    checks.expect_errno("a nonzero offset: EINVAL", map_dma(PAGE, MAP_SHARED, PAGE), EINVAL);
    let _ = unmap(addr, 3 * PAGE);
    let _ = sys::close(translation);
}

/// Virtio device status bits (Virtio 1.2 §2.1).
const ACKNOWLEDGE: u8 = 1;
const DRIVER: u8 = 2;
const DRIVER_OK: u8 = 4;
const FEATURES_OK: u8 = 8;
/// Where the one-entry queue's parts sit in the DMA page.
const DESC: usize = 0;
const AVAIL: usize = 0x100;
const USED: usize = 0x200;
const BUFFER: usize = 0x800;
const BUFFER_BYTES: u32 = 64;

/// A started device's queue 0 (size 1) in its DMA page.
struct Queue {
    page: usize,
    phys: usize,
    notify: usize,
    posted: u16,
}

/// Brings the device up with queue 0 of size 1 in a fresh DMA page (Virtio
/// 1.2 §3.1.1, §4.1.5.1.3). With `msix`, the queue's interrupts go to MSI-X
/// table entry 0.
fn start_device(checks: &mut Checks, device: &Device, msix: bool) -> Option<Queue> {
    let common = device.common;
    let translation = sys::open("memory:translation", O_RDWR).ok()?;
    let page = map_dma(PAGE, MAP_SHARED, 0).ok()?;
    let phys = translate(translation, page).ok()?;
    let _ = sys::close(translation);
    wr8(common + 0x14, 0);
    while rd8(common + 0x14) != 0 {}
    wr8(common + 0x14, ACKNOWLEDGE | DRIVER);
    // VIRTIO_F_VERSION_1 (feature 32) only.
    wr32(common + 0x08, 1);
    wr32(common + 0x0C, 1);
    wr32(common + 0x08, 0);
    wr32(common + 0x0C, 0);
    wr8(common + 0x14, ACKNOWLEDGE | DRIVER | FEATURES_OK);
    let status = rd8(common + 0x14);
    checks.check(
        "the device accepts VIRTIO_F_VERSION_1 alone",
        status & FEATURES_OK != 0,
        format_args!("status {status:#x}"),
    );
    wr16(common + 0x16, 0);
    wr16(common + 0x18, 1);
    if msix {
        // No configuration-change interrupts; the queue's on entry 0.
        wr16(common + 0x10, 0xFFFF);
        wr16(common + 0x1A, 0);
        let vector = rd16(common + 0x1A);
        checks.check("the queue takes MSI-X entry 0", vector == 0, format_args!("queue_msix_vector {vector:#x}"));
    }
    wr64(common + 0x20, (phys + DESC) as u64);
    wr64(common + 0x28, (phys + AVAIL) as u64);
    wr64(common + 0x30, (phys + USED) as u64);
    wr16(common + 0x1C, 1);
    wr8(common + 0x14, ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK);
    let (notify, cap) = device.region(NOTIFY_CFG)?;
    let multiplier = device.config.read(cap.at + 16, 4).ok()? as usize;
    let notify = notify + rd16(common + 0x1E) as usize * multiplier;
    Some(Queue { page, phys, notify, posted: 0 })
}

impl Queue {
    /// Posts the buffer again and rings the doorbell.
    fn post(&mut self) {
        let page = self.page;
        // Descriptor 0: the device writes BUFFER_BYTES at BUFFER (flag WRITE).
        wr64(page + DESC, (self.phys + BUFFER) as u64);
        wr32(page + DESC + 8, BUFFER_BYTES);
        wr32(page + DESC + 12, 2);
        // avail.ring[0] = 0 (and used_event 0), then avail.idx.
        wr32(page + AVAIL + 4, 0);
        self.posted += 1;
        fence(Ordering::SeqCst);
        wr32(page + AVAIL, u32::from(self.posted) << 16);
        fence(Ordering::SeqCst);
        wr16(self.notify, 0);
    }

    /// used.idx.
    fn used(&self) -> u16 {
        fence(Ordering::SeqCst);
        rd16(self.page + USED + 2)
    }

    /// Whether the device returned the last buffer filled with bytes.
    fn returned_filled(&self) -> bool {
        // SAFETY: the buffer lies in the DMA page this queue mapped.
        let filled = unsafe { core::slice::from_raw_parts((self.page + BUFFER) as *const u8, BUFFER_BYTES as usize) };
        self.used() == self.posted && rd16(self.page + USED + 8) > 0 && filled.iter().any(|&b| b != 0)
    }
}

fn virtqueue(checks: &mut Checks) {
    let Some(device) = open_device(checks) else {
        return checks.check("the common configuration", false, format_args!("not found"));
    };
    let Some(mut queue) = start_device(checks, &device, false) else {
        return checks.check("start the device", false, format_args!("no DMA page or notify capability"));
    };
    queue.post();
    let start = now_ns();
    while queue.used() == 0 && now_ns() - start < 5_000_000_000 {
        core::hint::spin_loop();
    }
    checks.check(
        "the device returned the buffer through the used ring (polled), filled with random bytes",
        queue.returned_filled(),
        format_args!("used.idx {}", queue.used()),
    );
    wr8(device.common + 0x14, 0);
}

// ---- interrupts ----------------------------------------------------------

/// The device's interrupt, as this arch delivers it: MSI-X on x86_64
/// (`irq:msi`, its message programmed into MSI-X entry 0), INTx on aarch64
/// (`irq:pci/ADDRESS`). The fd, and whether MSI-X is in use.
fn open_irq(checks: &mut Checks, device: &Device) -> Option<(usize, bool)> {
    let msix = cfg!(target_arch = "x86_64");
    let path = if msix { String::from("irq:msi") } else { alloc::format!("irq:pci/{}", device.address) };
    let fd = sys::open(&path, O_RDWR);
    checks.check(&alloc::format!("open {path}"), fd.is_ok(), format_args!("{}", Shown(fd)));
    let fd = fd.ok()?;
    let info = sys::dup_named(fd, b"info").and_then(|info| {
        let mut text = [0u8; 128];
        let n = sys::read(info, &mut text);
        let _ = sys::close(info);
        n.map(|n| String::from_utf8_lossy(&text[..n]).into_owned())
    });
    checks.check(
        "dup(fd, \"info\") reads the interrupt's id",
        info.as_ref().is_ok_and(|t| t.starts_with("id=")),
        format_args!("{info:?}"),
    );
    if msix {
        let field = |name: &str| -> Option<u64> {
            let text = info.as_ref().ok()?;
            let value = text.split_whitespace().find_map(|w| w.strip_prefix(name)?.strip_prefix('='))?;
            u64::from_str_radix(value.strip_prefix("0x")?, 16).ok()
        };
        let (Some(address), Some(data)) = (field("msi-address"), field("msi-data")) else {
            checks.check("the info gives msi-address and msi-data", false, format_args!("{info:?}"));
            return None;
        };
        let programmed = program_msix(device, address, data as u32);
        checks.check(
            "MSI-X entry 0 programmed and MSI-X enabled",
            programmed.is_some(),
            format_args!("no MSI-X capability"),
        );
    }
    Some((fd, msix))
}

/// Writes MSI-X table entry 0 (PCI Local Bus 3.0 §6.8.2: address low, high,
/// data, vector control) and enables MSI-X in the capability's message
/// control (bit 15).
fn program_msix(device: &Device, address: u64, data: u32) -> Option<()> {
    let config = &device.config;
    let mut at = config.read(0x34, 1).ok()? as usize & !3;
    while at != 0 && config.read(at, 1).ok()? != 0x11 {
        at = config.read(at + 1, 1).ok()? as usize & !3;
    }
    if at == 0 {
        return None;
    }
    let table = config.read(at + 4, 4).ok()?;
    let entry = device.bar((table & 7) as u8)? + (table & !7) as usize;
    wr64(entry, address);
    wr32(entry + 8, data);
    wr32(entry + 12, 0);
    let control = config.read(at + 2, 2).ok()?;
    config.write(at + 2, 2, (control | 1 << 15) & !(1 << 14)).ok()?;
    Some(())
}

/// Reads the interrupt count from `fd`, with a watchdog that kills this
/// process if nothing arrives within 10 s.
fn wait_irq(fd: usize) -> Result<u64> {
    let me = sys::getpid()?;
    let watchdog = fork_with(move || {
        let _ = sys::nanosleep(&TimeSpec { tv_sec: 10, tv_nsec: 0 }, None);
        let _ = sys::kill(me, SIGKILL);
        0
    })?;
    let mut count = [0u8; 8];
    let read = sys::read(fd, &mut count);
    let _ = sys::kill(watchdog, SIGKILL);
    let _ = reap(watchdog);
    read.map(|_| u64::from_ne_bytes(count))
}

fn irq_group(checks: &mut Checks) {
    let Some(device) = open_device(checks) else {
        return checks.check("the common configuration", false, format_args!("not found"));
    };
    let Some((fd, msix)) = open_irq(checks, &device) else { return };
    let Some(mut queue) = start_device(checks, &device, msix) else {
        return checks.check("start the device", false, format_args!("no DMA page or notify capability"));
    };
    let isr = device.region(ISR_CFG).map(|r| r.0);
    for round in 1..=2 {
        queue.post();
        let count = wait_irq(fd);
        checks.check(
            &alloc::format!("round {round}: the read returns after the device's interrupt, with the buffer filled"),
            matches!(count, Ok(n) if n >= 1) && queue.returned_filled(),
            format_args!("{count:?}, used.idx {}", queue.used()),
        );
        // Not acknowledged yet: a level line stays masked, so the count
        // does not grow however long the device keeps it asserted.
        let _ = sys::nanosleep(&TimeSpec { tv_sec: 0, tv_nsec: 100_000_000 }, None);
        let mut again = [0u8; 8];
        let later = sys::read(fd, &mut again).map(|_| u64::from_ne_bytes(again));
        checks.check(
            &alloc::format!("round {round}: unacknowledged, no more interrupts are counted 100 ms later"),
            count.is_ok() && later == count,
            format_args!("{count:?} then {later:?}"),
        );
        // Reading the ISR status drops the INTx line (Virtio 1.2 §4.1.4.5).
        let status = isr.map(rd8);
        let acked = count.and_then(|n| sys::write(fd, &n.to_ne_bytes()));
        checks.check(
            &alloc::format!("round {round}: ack (ISR status {status:?})"),
            acked == Ok(8),
            format_args!("{}", Shown(acked)),
        );
    }
    checks.expect_errno("a 4-byte read: EINVAL", sys::read(fd, &mut [0u8; 4]), EINVAL);
    checks.expect_errno("a 4-byte write: EINVAL", sys::write(fd, &[0u8; 4]), EINVAL);
    checks.expect_errno("dup(fd, \"bogus\"): EINVAL", sys::dup_named(fd, b"bogus"), EINVAL);
    if !msix {
        // INTx lines are shared: a second holder counts every interrupt
        // too, and the line stays masked until both have acknowledged.
        let second = sys::open(&alloc::format!("irq:pci/{}", device.address), O_RDWR);
        checks.check(
            "a second open of the held INTx line shares it",
            second.is_ok(),
            format_args!("{}", Shown(second)),
        );
        if let Ok(fd2) = second {
            queue.post();
            let first = wait_irq(fd);
            let other = wait_irq(fd2);
            checks.check(
                "both holders count the device's interrupt",
                matches!((first, other), (Ok(a), Ok(b)) if a >= 1 && b >= 1) && queue.returned_filled(),
                format_args!("{first:?} and {other:?}"),
            );
            let _ = isr.map(rd8);
            let acked = first.and_then(|n| sys::write(fd, &n.to_ne_bytes()));
            let mut word = [0u8; 8];
            let still = sys::read(fd2, &mut word).map(|_| u64::from_ne_bytes(word));
            checks.check(
                "one holder's ack leaves the other's count",
                acked == Ok(8) && still == other,
                format_args!("ack {}, then the second reads {still:?}", Shown(acked)),
            );
            let acked = other.and_then(|n| sys::write(fd2, &n.to_ne_bytes()));
            checks.check("the second holder acks", acked == Ok(8), format_args!("{}", Shown(acked)));
            let _ = sys::close(fd2);
        }
    }
    // A reader with nothing pending blocks, and a kill ends it.
    let start = now_ns();
    let waiter = fork_with(|| {
        let _ = sys::read(fd, &mut [0u8; 8]);
        0
    });
    let _ = sys::nanosleep(&TimeSpec { tv_sec: 0, tv_nsec: 200_000_000 }, None);
    let still = waiter.as_ref().ok().map(|&pid| sys::waitpid(pid, WNOHANG));
    let killed = waiter.and_then(|pid| {
        sys::kill(pid, SIGKILL)?;
        reap(pid)
    });
    checks.check(
        "a read with nothing pending blocks until the reader is killed",
        matches!(still, Some(Ok(None))) && matches!(&killed, Ok((_, s)) if s.signal() == Some(SIGKILL)),
        format_args!("after 200 ms {still:?}; then {killed:?} ({} ms)", (now_ns() - start) / 1_000_000),
    );
    wr8(device.common + 0x14, 0);
    let _ = sys::close(fd);
    let path = if msix { String::from("irq:msi") } else { alloc::format!("irq:pci/{}", device.address) };
    let reopened = sys::open(&path, O_RDWR);
    checks.check("closing released the line: it opens again", reopened.is_ok(), format_args!("{}", Shown(reopened)));
    if let Ok(fd) = reopened {
        let _ = sys::close(fd);
    }
    let (other, name) = if msix {
        (find_rng().map(|r| alloc::format!("irq:pci/{}", r.address)), "an INTx line on x86_64 (no _PRT): ENOSYS")
    } else {
        (Some(String::from("irq:msi")), "irq:msi on aarch64 (no ITS): ENOSYS")
    };
    if let Some(other) = other {
        checks.expect_errno(name, sys::open(&other, O_RDWR), ENOSYS);
    }
    checks.expect_errno("irq:nonsense: ENOENT", sys::open("irq:nonsense", O_RDWR), ENOENT);
    checks.expect_errno(
        "irq:pci/ffff:ff:1f.7 (no function): ENOENT",
        sys::open("irq:pci/ffff:ff:1f.7", O_RDWR),
        ENOENT,
    );
}

fn unprivileged(checks: &mut Checks) {
    let address = find_rng().map(|r| r.address);
    let dropped = sys::open("sys:privilege", O_WRONLY).and_then(|fd| {
        let written = sys::write(fd, b"drop");
        let _ = sys::close(fd);
        written
    });
    checks.check("write `drop` to sys:privilege", dropped.is_ok(), format_args!("{}", Shown(dropped)));
    checks.expect_errno("then pci: EPERM", sys::open("pci:", O_RDWR), EPERM);
    if let Some(address) = address {
        checks.expect_errno("pci:ADDRESS: EPERM", sys::open(&alloc::format!("pci:{address}"), O_RDWR), EPERM);
    }
    checks.expect_errno(
        "memory:zeroed?phys_contiguous: EPERM",
        sys::open("memory:zeroed?phys_contiguous", O_RDWR),
        EPERM,
    );
    checks.expect_errno("memory:translation: EPERM", sys::open("memory:translation", O_RDWR), EPERM);
    checks.expect_errno("irq:msi: EPERM", sys::open("irq:msi", O_RDWR), EPERM);
    checks.expect_errno("irq:pci/0000:00:00.0: EPERM", sys::open("irq:pci/0000:00:00.0", O_RDWR), EPERM);
}
