//! `disk-redoxfs`: the whole storage stack on a real (virtual) disk —
//! `virtio-blkd` (`disk:`), `redoxfsd` on a partition of it, file mappings
//! written back to the device.
//!
//! The data disk (`serial=tessera-disk0`, `build/disk-test.img`, attached
//! `snapshot=on`: what this run writes is gone at power-off) has a 4 MiB
//! partition 2 (mk/disk.mk).
//!
//! | group | checks |
//! |---|---|
//! | mkfs | `redoxfsd --mkfs disk:Np2 rfs-disk` serves `rfs-disk:` |
//! | write-back | a file written through a MAP_SHARED mapping, msync(MS_SYNC): the marker page's bytes are found on the partition by reading `disk:Np2` itself (they reached the device; anywhere in it, as RedoxFS may compress a record) |
//! | daemon-death | a lazy mapping with one page fetched; the daemon killed: that page stays readable, an unfetched one is SIGBUS (in a child), munmap returns, the kernel goes on |
//! | remount | the daemon killed, a second one mounts the partition: the file's bytes through `read()` and through a new mapping |
//! | fmapcheck | the fmap kit passes on the disk filesystem, pins back to 0 |
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use tessera_guest_tests::Checks;
use tessera_guest_tests::mm::{child_signal, read_word};
use tessera_guest_tests::ramfs::start_daemon;
use tessera_runtime::abi::flag::{O_CREAT, O_RDONLY, O_RDWR, O_TRUNC, SEEK_SET};
use tessera_runtime::abi::signal::{SIGBUS, SIGKILL};
use tessera_runtime::mm::{self, MAP_SHARED, MS_SYNC, MapFlags, PROT_READ, PROT_RW};
use tessera_runtime::{Args, process, sys};

tessera_runtime::entry!(main);

/// The data disk's ID (QEMU `serial=`, mk/qemu.mk).
const DISK_ID: &str = "tessera-disk0";
const PAGE: usize = 4096;
const FILE_PAGES: usize = 4;

/// The word at `word` of the marker page: unlike anything else on the disk.
fn marker(word: usize) -> u64 {
    0x7E55_E2A0_0000_0000 ^ (word as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

fn main(_args: Args) -> i32 {
    let mut checks = Checks::new("disk-redoxfs");
    let Some(partition) = partition() else {
        checks.check("the data disk is listed by disk:", false, format_args!("no id={DISK_ID}"));
        return checks.finish();
    };
    let Some(first) = start(&mut checks, true, &partition, "rfs-disk") else { return checks.finish() };
    write_back(&mut checks, &partition);
    daemon_death(&mut checks, first);
    if let Some(second) = start(&mut checks, false, &partition, "rfs-disk2") {
        remount(&mut checks);
        fmapcheck(&mut checks);
        let _ = sys::kill(second, SIGKILL);
        let _ = process::wait(second);
    }
    checks.finish()
}

/// `disk:<N>p2` of the data disk.
fn partition() -> Option<String> {
    tessera_guest_tests::system::disk_number(DISK_ID).map(|n| format!("disk:{n}p2"))
}

/// Starts `redoxfsd [--mkfs] PARTITION scheme` and waits until it serves.
fn start(checks: &mut Checks, mkfs: bool, partition: &str, scheme: &str) -> Option<usize> {
    let mut argv = vec!["redoxfsd"];
    if mkfs {
        argv.push("--mkfs");
    }
    argv.extend([partition, scheme]);
    let what = format!("redoxfsd {} on {partition} serves {scheme}:", if mkfs { "--mkfs" } else { "(mount)" });
    start_daemon(checks, &what, &argv, scheme)
}

fn write_back(checks: &mut Checks, partition: &str) {
    let fd = sys::open("rfs-disk:/mapped", O_CREAT | O_TRUNC | O_RDWR).and_then(|fd| {
        sys::ftruncate(fd, FILE_PAGES * PAGE)?;
        Ok(fd)
    });
    let Ok(fd) = fd else { return checks.check("create rfs-disk:/mapped", false, format_args!("{fd:?}")) };
    // SAFETY: no fixed address: nothing of this test is replaced.
    let Ok(addr) = (unsafe { mm::mmap(0, FILE_PAGES * PAGE, PROT_RW, MAP_SHARED, fd, 0) }) else {
        return checks.check("mmap shared", false, format_args!("failed"));
    };
    for word in 0..PAGE / 8 {
        // SAFETY: page 2 of the mapping, writable.
        unsafe { core::ptr::write_volatile((addr + 2 * PAGE + word * 8) as *mut u64, marker(word)) };
    }
    let synced = mm::msync(addr, FILE_PAGES * PAGE, MS_SYNC);
    checks.check("write-back: msync(MS_SYNC)", synced.is_ok(), format_args!("{synced:?}"));
    let found = find_marker(partition);
    checks.check("write-back: the page is on the device", found.is_some(), format_args!("not found in {partition}"));
    // SAFETY: the test's own mapping, no longer used.
    let _ = unsafe { mm::munmap(addr, FILE_PAGES * PAGE) };
    let _ = sys::close(fd);
}

/// The byte offset in `partition` where 256 bytes of the marker page (from
/// its second word) are, read through `disk:` itself. Anywhere, not only at
/// a block: RedoxFS compresses records (lz4), which keeps such bytes as a
/// literal run but moves it off the block boundary (and the first word's
/// zero low half may join the zeroes before it).
fn find_marker(partition: &str) -> Option<u64> {
    const PROBE: usize = 256;
    let probe: Vec<u8> = (1..=PROBE / 8).flat_map(|i| marker(i).to_le_bytes()).collect();
    let fd = sys::open(partition, O_RDONLY).ok()?;
    // Each read keeps the last PROBE - 1 bytes of the one before, so that a
    // match across two reads is found.
    let mut window: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut consumed = 0u64;
    let found = loop {
        let n = match sys::read(fd, &mut chunk) {
            Ok(0) | Err(_) => break None,
            Ok(n) => n,
        };
        window.extend_from_slice(&chunk[..n]);
        if let Some(at) = window.windows(PROBE).position(|w| w == probe.as_slice()) {
            break Some(consumed + at as u64);
        }
        let keep = window.len().min(PROBE - 1);
        consumed += (window.len() - keep) as u64;
        window.drain(..window.len() - keep);
    };
    let _ = sys::close(fd);
    found
}

/// Redox's MAP_LAZY: fetch file pages on first touch (not at mmap).
const MAP_LAZY: MapFlags = MapFlags::from_bits_retain(0x10);

fn daemon_death(checks: &mut Checks, daemon: usize) {
    let fd = sys::open("rfs-disk:/mapped", O_RDONLY);
    // SAFETY: no fixed address: nothing of this test is replaced.
    let mapped = fd.and_then(|fd| unsafe { mm::mmap(0, FILE_PAGES * PAGE, PROT_READ, MAP_SHARED | MAP_LAZY, fd, 0) });
    let Ok(addr) = mapped else {
        let _ = sys::kill(daemon, SIGKILL);
        let _ = process::wait(daemon);
        return checks.check("daemon-death: a lazy mapping", false, format_args!("{mapped:?}"));
    };
    let fetched = read_word(addr + 2 * PAGE + 8);
    let _ = sys::kill(daemon, SIGKILL);
    let reaped = process::wait(daemon);
    checks.check("daemon-death: the daemon is gone", reaped.is_ok(), format_args!("{reaped:?}"));
    checks.check(
        "daemon-death: a fetched page stays readable",
        fetched == marker(1) && read_word(addr + 2 * PAGE + 8) == marker(1),
        format_args!("{fetched:#x}"),
    );
    let signal = child_signal(|| {
        core::hint::black_box(read_word(addr + 3 * PAGE));
    });
    checks.check("daemon-death: an unfetched page is SIGBUS", signal == Some(SIGBUS), format_args!("{signal:?}"));
    // SAFETY: the test's own mapping, no longer used.
    let unmapped = unsafe { mm::munmap(addr, FILE_PAGES * PAGE) };
    checks.check("daemon-death: munmap returns", unmapped.is_ok(), format_args!("{unmapped:?}"));
}

fn remount(checks: &mut Checks) {
    let Ok(fd) = sys::open("rfs-disk2:/mapped", O_RDONLY) else {
        return checks.check("remount: the file is there", false, format_args!("open failed"));
    };
    let mut buf = vec![0u8; PAGE];
    let read = sys::lseek(fd, (2 * PAGE) as isize, SEEK_SET).and_then(|_| sys::read(fd, &mut buf));
    let words: Vec<u64> = buf.chunks_exact(8).map(|w| u64::from_le_bytes(w.try_into().unwrap_or_default())).collect();
    let by_read = read == Ok(PAGE) && words.iter().enumerate().all(|(i, w)| *w == marker(i));
    checks.check("remount: read() gives the page written through the mapping", by_read, format_args!("{read:?}"));
    // SAFETY: no fixed address: nothing of this test is replaced.
    let mapped = unsafe { mm::mmap(0, FILE_PAGES * PAGE, PROT_READ, MAP_SHARED, fd, 0) };
    let by_map = mapped.is_ok_and(|addr| (0..PAGE / 8).all(|i| read_word(addr + 2 * PAGE + i * 8) == marker(i)));
    checks.check("remount: so does a new mapping", by_map, format_args!("{mapped:?}"));
    if let Ok(addr) = mapped {
        // SAFETY: the test's own mapping, no longer used.
        let _ = unsafe { mm::munmap(addr, FILE_PAGES * PAGE) };
    }
    let _ = sys::close(fd);
}

fn fmapcheck(checks: &mut Checks) {
    let argv = ["fmapcheck", "rfs-disk2:", "rfs-disk2:/.redoxfsd/pins"];
    let status = process::spawn(&process::program_path("fmapcheck"), &argv, &[]).and_then(process::wait);
    checks.check(
        "fmapcheck passes on the disk filesystem",
        status.is_ok_and(|s| s.success()),
        format_args!("{status:?}"),
    );
}
