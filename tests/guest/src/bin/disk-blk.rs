//! `disk-blk`: the `disk:` scheme of `virtio-blkd` (docs/drivers.md), on
//! the test machines' data disk (`build/disk-test.img`, virtio-blk-pci with
//! `serial=tessera-disk0`, mk/qemu.mk; 16384 sectors, a GPT of two
//! partitions, mk/disk.mk). Init starts the driver privileged
//! (`privileged daemon virtio-blkd`); this test runs unprivileged, as any
//! client of `disk:`.
//!
//! | group | checks |
//! |---|---|
//! | list | `disk:` lists the disk with its ID, size and an irq, and its partitions 1 (LBA 2048, 4096 sectors) and 2 (LBA 6144, 8192 sectors) |
//! | whole | `disk:N`: fstat and `lseek(SEEK_END)` give 8 MiB; LBA 1 starts with "EFI PART"; the protective MBR ends with 55 AA |
//! | partitions | `NpM` sizes; `Np3`, `Np0`, `N0`, `99`, `x` are ENOENT; a write to a read-only handle EBADF; the listing opened for writing EACCES |
//! | rw | a pattern written at unaligned offsets (a few bytes inside one sector, across sectors, 100 KiB across the driver's 64 KiB transfers) reads back through the partition and through the whole disk at the partition's offset; `fsync` (a virtio flush) succeeds |
//! | bounds | at the partition's end a write is ENOSPC and a read 0; a write across the end is cut there; partition 2's first sector (the next one on the disk) is unchanged; reading partition 2 equals reading the disk there |
//! | queue | `dup(fd, "queue")` of partition 1 (EBADF of a read-only handle, EINVAL another name): 24 writes of 8 KiB, none continuing another, queued in four lists of six and a list writing the same 8 KiB twice with different bytes are read back through the partition before any `fsync` (a read comes after the queued writes; the later of two overlapping writes wins); `fsync` of the queue handle succeeds; `disk:stats` counts 26 queued requests and more than eight in flight at once; a list of six writes that continue each other is one request and rings the doorbell once; a write of 100 bytes and 8,092 zeros writes both; part of a sector (also of bytes and zeros together), an unaligned offset and a list cut short are EINVAL, a write (or its zeros) past the partition's end ENOSPC, and a refused list queues none of its writes |
//! | irq | `disk:stats`: 8 reads of 4 KiB raise the disk's requests and its interrupts by 8 or more each (the driver waits for an interrupt per request; it does not poll) |
//! | faults | the second disk (`serial=tessera-faulty`, behind QEMU's blkdebug: every write fails, and reads touching sector 64): a read there and any write are EIO, the disk's error count rises, and the driver goes on serving (a read elsewhere, the first disk); a queued write there is taken, and the queue handle's next `fsync` is EIO (the one after succeeds: a failure is reported once) |
//! | unprivileged | this test cannot open `pci:` (EPERM), and a `virtio-blkd` it starts (unprivileged) exits with status 1 |
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use tessera_guest_tests::mm::group;
use tessera_guest_tests::system::read_full;
use tessera_guest_tests::{Checks, Shown};
use tessera_runtime::abi::error::{EACCES, EBADF, EINVAL, EIO, ENOENT, ENOSPC, EPERM};
use tessera_runtime::abi::flag::{O_RDONLY, O_RDWR, SEEK_END, SEEK_SET};
use tessera_runtime::{Args, Result, io, process, sys};

tessera_runtime::entry!(main);

/// The data disk's ID (QEMU `serial=`, mk/qemu.mk).
const DISK_ID: &str = "tessera-disk0";
const SECTOR: u64 = 512;
const DISK_SECTORS: u64 = 16384;
/// (number, first LBA, sectors) of the partitions mk/disk.mk makes.
const PARTS: [(u32, u64, u64); 2] = [(1, 2048, 4096), (2, 6144, 8192)];

fn main(_args: Args) -> i32 {
    let mut checks = Checks::new("disk-blk");
    let listing = text("disk:");
    tessera_runtime::println!("disk-blk: disk: lists\n{}", listing.trim_end());
    group(&mut checks, "disk-blk list", list);
    group(&mut checks, "disk-blk whole", whole);
    group(&mut checks, "disk-blk partitions", partitions);
    group(&mut checks, "disk-blk rw", rw);
    group(&mut checks, "disk-blk bounds", bounds);
    group(&mut checks, "disk-blk queue", queue);
    group(&mut checks, "disk-blk irq", irq);
    group(&mut checks, "disk-blk faults", faults);
    group(&mut checks, "disk-blk unprivileged", unprivileged);
    checks.finish()
}

/// A text file's contents (empty if it cannot be read).
fn text(path: &str) -> String {
    io::read_file(path).map(|t| String::from_utf8_lossy(&t).into_owned()).unwrap_or_default()
}

/// The number of the disk whose ID is [`DISK_ID`].
fn disk_number() -> Option<String> {
    number_of(DISK_ID)
}

/// The number of the disk whose ID is `id`.
fn number_of(id: &str) -> Option<String> {
    tessera_guest_tests::system::disk_number(id)
}

/// `disk:<the disk><suffix>` opened with `flags`.
fn open(suffix: &str, flags: usize) -> Result<usize> {
    let n = disk_number().unwrap_or_else(|| String::from("none"));
    sys::open(&alloc::format!("disk:{n}{suffix}"), flags)
}

/// Reads at `offset` until `buf` is full or the end: one `read` returns
/// at most one scheme message's worth (about 64 KiB).
fn pread(fd: usize, offset: u64, buf: &mut [u8]) -> Result<usize> {
    sys::lseek(fd, offset as isize, SEEK_SET)?;
    read_full(fd, buf)
}

fn pwrite(fd: usize, offset: u64, buf: &[u8]) -> Result<usize> {
    sys::lseek(fd, offset as isize, SEEK_SET)?;
    sys::write(fd, buf)
}

/// The disk's (requests, interrupts) from `disk:stats`.
fn stats() -> Option<(u64, u64)> {
    Some((stat(DISK_ID, "requests")?, stat(DISK_ID, "interrupts")?))
}

/// Field `name` of the `disk:stats` line of the disk whose ID is `id`.
fn stat(id: &str, name: &str) -> Option<u64> {
    let n = number_of(id)?;
    let stats = text("disk:stats");
    let line = stats.lines().find(|l| l.split(' ').next() == Some(n.as_str()))?;
    line.split(' ').find_map(|w| w.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
}

fn list(checks: &mut Checks) {
    let listing = text("disk:");
    let n = disk_number();
    checks.check(&alloc::format!("disk: lists a disk with id={DISK_ID}"), n.is_some(), format_args!("{listing:?}"));
    let Some(n) = n else { return };
    let line = listing.lines().find(|l| l.starts_with(&alloc::format!("{n} "))).unwrap_or("");
    checks.check(
        "its line gives 16384 sectors, rw, an irq and the primary GPT with 2 partitions",
        line.contains(" sectors=16384 ")
            && line.contains(" rw ")
            && line.contains(" irq=")
            && !line.contains("irq= ")
            && line.contains("gpt=primary partitions=2"),
        format_args!("{line:?}"),
    );
    for (number, first, sectors) in PARTS {
        let want = alloc::format!("{n}p{number} first={first} sectors={sectors} name=tessera-");
        checks.check(
            &alloc::format!("partition {number}: LBA {first}, {sectors} sectors"),
            listing.lines().any(|l| l.starts_with(&want)),
            format_args!("{listing:?}"),
        );
    }
}

fn whole(checks: &mut Checks) {
    let fd = open("", O_RDONLY);
    checks.check("open the whole disk read-only", fd.is_ok(), format_args!("{}", Shown(fd)));
    let Ok(fd) = fd else { return };
    let size = sys::fstat(fd).map(|s| s.st_size);
    checks.check("fstat: 8 MiB", size == Ok(DISK_SECTORS * SECTOR), format_args!("{size:?}"));
    let end = sys::lseek(fd, 0, SEEK_END);
    checks.check("lseek(SEEK_END): 8 MiB", end == Ok((DISK_SECTORS * SECTOR) as usize), format_args!("{end:?}"));
    let mut header = [0u8; 512];
    let n = pread(fd, SECTOR, &mut header);
    checks.check(
        "LBA 1 starts with the GPT signature \"EFI PART\"",
        n == Ok(512) && &header[..8] == b"EFI PART",
        format_args!("{n:?} {:x?}", &header[..8]),
    );
    let mut mbr = [0u8; 2];
    let n = pread(fd, 510, &mut mbr);
    checks.check("the protective MBR ends with 55 AA", n == Ok(2) && mbr == [0x55, 0xAA], format_args!("{mbr:x?}"));
    let _ = sys::close(fd);
}

fn partitions(checks: &mut Checks) {
    for (number, _, sectors) in PARTS {
        let fd = open(&alloc::format!("p{number}"), O_RDONLY);
        let size = fd.and_then(|fd| {
            let size = sys::fstat(fd).map(|s| s.st_size);
            let _ = sys::close(fd);
            size
        });
        checks.check(
            &alloc::format!("partition {number} opens, fstat {} bytes", sectors * SECTOR),
            size == Ok(sectors * SECTOR),
            format_args!("{size:?}"),
        );
    }
    for suffix in ["p3", "p0", "p01", "x"] {
        checks.expect_errno(&alloc::format!("disk:N{suffix}: ENOENT"), open(suffix, O_RDONLY), ENOENT);
    }
    checks.expect_errno("disk:99: ENOENT", sys::open("disk:99", O_RDONLY), ENOENT);
    checks.expect_errno("disk:stats/x: ENOENT", sys::open("disk:stats/x", O_RDONLY), ENOENT);
    checks.expect_errno("the listing opened for writing: EACCES", sys::open("disk:", O_RDWR), EACCES);
    if let Ok(fd) = open("p1", O_RDONLY) {
        checks.expect_errno("a write to a read-only handle: EBADF", sys::write(fd, b"x"), EBADF);
        let _ = sys::close(fd);
    }
}

/// A pattern that differs from run to run within a boot (the disk is a
/// fresh snapshot each boot) and per byte.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8).collect()
}

fn rw(checks: &mut Checks) {
    let Ok(part) = open("p1", O_RDWR) else {
        return checks.check("open partition 1 read-write", false, format_args!("{:?}", open("p1", O_RDWR)));
    };
    let Ok(disk) = open("", O_RDONLY) else { return checks.check("open the disk", false, format_args!("")) };
    let base = PARTS[0].1 * SECTOR;
    for (what, offset, len, seed) in [
        ("5 bytes inside one sector at 511 - 4", 507u64, 5usize, 1u8),
        ("3000 bytes at 1000 (across sectors)", 1000, 3000, 2),
        ("100 KiB at 70001 (across 64 KiB transfers)", 70001, 100 * 1024, 3),
        ("one aligned sector at 8192", 8192, 512, 4),
    ] {
        let data = pattern(len, seed);
        let wrote = pwrite(part, offset, &data);
        let mut back = vec![0u8; len];
        let read = pread(part, offset, &mut back);
        let mut through_disk = vec![0u8; len];
        let read_disk = pread(disk, base + offset, &mut through_disk);
        checks.check(
            &alloc::format!("{what}: written, read back through the partition and through the disk"),
            wrote == Ok(len) && read == Ok(len) && back == data && read_disk == Ok(len) && through_disk == data,
            format_args!(
                "write {wrote:?}, read {read:?}, disk read {read_disk:?}, equal {} {}",
                back == data,
                through_disk == data
            ),
        );
    }
    // The bytes around the first write kept what the second wrote around them.
    let mut edge = [0u8; 2];
    let n = pread(part, 506, &mut edge);
    checks.check(
        "the byte before the 5-byte write is untouched (0)",
        n == Ok(2) && edge[0] == 0,
        format_args!("{edge:?}"),
    );
    let synced = sys::fsync(part);
    checks.check("fsync (a virtio flush)", synced.is_ok(), format_args!("{synced:?}"));
    let _ = sys::close(part);
    let _ = sys::close(disk);
}

fn bounds(checks: &mut Checks) {
    let (Ok(part), Ok(disk)) = (open("p1", O_RDWR), open("", O_RDONLY)) else {
        return checks.check("open partition 1 and the disk", false, format_args!(""));
    };
    let size = PARTS[0].2 * SECTOR;
    let next = (PARTS[1].1) * SECTOR;
    let mut before = [0u8; 512];
    let read_before = pread(disk, next, &mut before);
    let mut through_p2 = [0u8; 512];
    let read_p2 = open("p2", O_RDONLY).and_then(|fd| {
        let r = pread(fd, 0, &mut through_p2);
        let _ = sys::close(fd);
        r
    });
    checks.check(
        "partition 2's first sector reads the same through the partition and the disk",
        read_before == Ok(512) && read_p2 == Ok(512) && before == through_p2,
        format_args!("{read_before:?} {read_p2:?}"),
    );
    checks.expect_errno("a write at the partition's end: ENOSPC", pwrite(part, size, b"beyond"), ENOSPC);
    checks.expect_errno("a write far past the end: ENOSPC", pwrite(part, size + 4096 * 1024, b"x"), ENOSPC);
    let mut buf = [0u8; 64];
    let at_end = pread(part, size, &mut buf);
    checks.check("a read at the end: 0 bytes", at_end == Ok(0), format_args!("{at_end:?}"));
    let across = pwrite(part, size - 10, &[0xA5; 64]);
    checks.check("a 64-byte write 10 bytes before the end is cut to 10", across == Ok(10), format_args!("{across:?}"));
    let tail = pread(part, size - 10, &mut buf);
    checks.check(
        "and a read there gives those 10 bytes",
        tail == Ok(10) && buf[..10] == [0xA5; 10],
        format_args!("{tail:?}"),
    );
    let mut after = [0u8; 512];
    let read_after = pread(disk, next, &mut after);
    checks.check(
        "partition 2's first sector (right after partition 1) is unchanged",
        read_after == Ok(512) && after == before,
        format_args!("{read_after:?}"),
    );
    let _ = sys::close(part);
    let _ = sys::close(disk);
}

/// A queue handle's list (docs/drivers.md, "Queued writes"): per write its
/// byte offset and count (`u64` little-endian each), then its bytes.
fn queue_list(writes: &[(u64, &[u8])]) -> Vec<u8> {
    let zeros: Vec<(u64, &[u8], usize)> = writes.iter().map(|&(offset, data)| (offset, data, 0)).collect();
    queue_list_zeros(&zeros)
}

/// A queue list of `(offset, bytes, zero bytes after them)`.
fn queue_list_zeros(writes: &[(u64, &[u8], usize)]) -> Vec<u8> {
    let mut list = Vec::new();
    for (offset, data, zeros) in writes {
        list.extend_from_slice(&offset.to_le_bytes());
        list.extend_from_slice(&(data.len() as u32).to_le_bytes());
        list.extend_from_slice(&(*zeros as u32).to_le_bytes());
        list.extend_from_slice(data);
    }
    list
}

fn queue(checks: &mut Checks) {
    const PIECE: usize = 8 * 1024;
    /// Where the queued writes go in partition 1 (clear of `rw`'s).
    const AT: u64 = 512 * 1024;
    if let Ok(ro) = open("p1", O_RDONLY) {
        checks.expect_errno("dup(\"queue\") of a read-only handle: EBADF", sys::dup_named(ro, b"queue"), EBADF);
        let _ = sys::close(ro);
    }
    let Ok(part) = open("p1", O_RDWR) else {
        return checks.check("open partition 1 read-write", false, format_args!("{:?}", open("p1", O_RDWR)));
    };
    checks.expect_errno("dup(\"bogus\"): EINVAL", sys::dup_named(part, b"bogus"), EINVAL);
    let q = sys::dup_named(part, b"queue");
    checks.check("dup(\"queue\") of partition 1 open read-write", q.is_ok(), format_args!("{}", Shown(q)));
    let Ok(q) = q else { return };
    let (queued0, peak0) = (stat(DISK_ID, "queued"), stat(DISK_ID, "inflight-max"));
    let mut wrote = Vec::new();
    // Every other 8 KiB: no write continues another, each is a request.
    let pieces: Vec<Vec<u8>> = (0..24).map(|i| pattern(PIECE, 40 + i as u8)).collect();
    let spaced = |i: u64| AT + 2 * i * PIECE as u64;
    for batch in 0..4u64 {
        let writes: Vec<(u64, &[u8])> =
            (batch * 6..batch * 6 + 6).map(|i| (spaced(i), &pieces[i as usize][..])).collect();
        let bytes = queue_list(&writes);
        wrote.push((sys::write(q, &bytes), bytes.len()));
    }
    let twice = AT + 50 * PIECE as u64;
    let (one, two) = (pattern(PIECE, 1), pattern(PIECE, 2));
    let bytes = queue_list(&[(twice, &one), (twice, &two)]);
    wrote.push((sys::write(q, &bytes), bytes.len()));
    checks.check(
        "26 writes of 8 KiB queued in 5 lists (the last two over the same 8 KiB), each list taken whole",
        wrote.iter().all(|(w, len)| *w == Ok(*len)),
        format_args!("{wrote:?}"),
    );
    let mut back = vec![0u8; 48 * PIECE];
    let read = pread(part, AT, &mut back);
    let all_there = (0..24).all(|i| back[2 * i * PIECE..(2 * i + 1) * PIECE] == pattern(PIECE, 40 + i as u8)[..]);
    checks.check(
        "read back through the partition before any fsync: every queued write is there",
        read == Ok(48 * PIECE) && all_there,
        format_args!("{read:?}, equal {all_there}"),
    );
    let mut last = vec![0u8; PIECE];
    let read = pread(part, twice, &mut last);
    checks.check(
        "the same 8 KiB queued twice reads as the second",
        read == Ok(PIECE) && last == pattern(PIECE, 2),
        format_args!("{read:?}, first {} second {}", last == pattern(PIECE, 1), last == pattern(PIECE, 2)),
    );
    checks.check("fsync of the queue handle", sys::fsync(q).is_ok(), format_args!("{:?}", sys::fsync(q)));
    let (queued1, peak1) = (stat(DISK_ID, "queued"), stat(DISK_ID, "inflight-max"));
    tessera_runtime::println!("disk-blk: queued {queued0:?} -> {queued1:?}, inflight-max {peak0:?} -> {peak1:?}");
    checks.check(
        "disk:stats: 26 more queued requests, and more than eight were with the device at once",
        matches!((queued0, queued1), (Some(a), Some(b)) if b == a + 26) && peak1.is_some_and(|p| p > 8),
        format_args!("queued {queued0:?} -> {queued1:?}, inflight-max {peak1:?}"),
    );
    // Six writes that continue each other: one request, one doorbell.
    let rung0 = stat(DISK_ID, "doorbells");
    let writes: Vec<(u64, &[u8])> = (0..6).map(|i| (AT + i * PIECE as u64, &pieces[i as usize][..])).collect();
    let bytes = queue_list(&writes);
    let wrote = sys::write(q, &bytes);
    let synced = sys::fsync(q);
    let (rung1, queued2) = (stat(DISK_ID, "doorbells"), stat(DISK_ID, "queued"));
    let read = pread(part, AT, &mut back[..6 * PIECE]);
    let all_there = (0..6).all(|i| back[i * PIECE..(i + 1) * PIECE] == pieces[i][..]);
    checks.check(
        "a list of 6 writes that continue each other is one request and rings the doorbell once",
        wrote == Ok(bytes.len())
            && synced.is_ok()
            && matches!((rung0, rung1), (Some(a), Some(b)) if b == a + 1)
            && matches!((queued1, queued2), (Some(a), Some(b)) if b == a + 1)
            && read == Ok(6 * PIECE)
            && all_there,
        format_args!(
            "{wrote:?}, fsync {synced:?}, doorbells {rung0:?} -> {rung1:?}, queued {queued1:?} -> {queued2:?}, \
             read {read:?}, equal {all_there}"
        ),
    );
    // A write of 100 bytes and 8,092 zeros over a piece: only the 100
    // bytes cross, the zeros land too.
    let bytes = queue_list_zeros(&[(AT, &[0x5A; 100], PIECE - 100)]);
    let wrote = sys::write(q, &bytes);
    let synced = sys::fsync(q);
    let read = pread(part, AT, &mut back[..PIECE]);
    let (head, tail) = back[..PIECE].split_at(100);
    checks.check(
        "a queued write of 100 bytes and 8,092 zeros writes both",
        wrote == Ok(bytes.len())
            && synced.is_ok()
            && read == Ok(PIECE)
            && head.iter().all(|&b| b == 0x5A)
            && tail.iter().all(|&b| b == 0),
        format_args!("{wrote:?} of {}, fsync {synced:?}, read {read:?}", bytes.len()),
    );
    let queued1 = stat(DISK_ID, "queued");
    let end = PARTS[0].2 * SECTOR;
    let sector = [1u8; 512];
    let good = queue_list(&[(AT, &sector)]);
    for (what, list, errno) in [
        ("a queued write of part of a sector: EINVAL", queue_list(&[(AT, &sector[..100])]), EINVAL),
        ("a queued write at an unaligned offset: EINVAL", queue_list(&[(AT + 1, &sector)]), EINVAL),
        ("a list cut inside a header: EINVAL", good[..10].to_vec(), EINVAL),
        ("a list cut inside the bytes: EINVAL", good[..100].to_vec(), EINVAL),
        ("bytes and zeros of part of a sector: EINVAL", queue_list_zeros(&[(AT, &sector, 100)]), EINVAL),
        ("zeros past the partition's end: ENOSPC", queue_list_zeros(&[(end - 512, &sector, 512)]), ENOSPC),
        ("a queued write at the partition's end: ENOSPC", queue_list(&[(end, &sector)]), ENOSPC),
        (
            "a list whose second write ends past the end: ENOSPC",
            [good.clone(), queue_list(&[(end - 512, &[1u8; 1024])])].concat(),
            ENOSPC,
        ),
    ] {
        checks.expect_errno(what, sys::write(q, &list), errno);
    }
    let queued2 = stat(DISK_ID, "queued");
    checks.check(
        "a list that is refused queues nothing, not even its good writes",
        queued2 == queued1,
        format_args!("queued {queued1:?} -> {queued2:?}"),
    );
    let _ = sys::close(q);
    let _ = sys::close(part);
}

fn irq(checks: &mut Checks) {
    let before = stats();
    checks.check(
        "disk:stats gives the disk's requests and interrupts",
        before.is_some(),
        format_args!("{:?}", text("disk:stats")),
    );
    if let Ok(fd) = open("", O_RDONLY) {
        let mut buf = [0u8; 4096];
        for i in 0..8 {
            let _ = pread(fd, i * 4096, &mut buf);
        }
        let _ = sys::close(fd);
    }
    let after = stats();
    tessera_runtime::println!("disk-blk: disk:stats (requests, interrupts) before {before:?}, after {after:?}");
    checks.check(
        "8 reads later both counts rose by 8 or more (each request waits for its own interrupt)",
        matches!((before, after), (Some((r0, i0)), Some((r1, i1))) if r1 >= r0 + 8 && i1 >= i0 + 8),
        format_args!("before {before:?}, after {after:?}"),
    );
}

fn faults(checks: &mut Checks) {
    const FAULTY: &str = "tessera-faulty";
    let n = number_of(FAULTY);
    checks.check(
        &alloc::format!("disk: lists a disk with id={FAULTY}"),
        n.is_some(),
        format_args!("{:?}", text("disk:")),
    );
    let Some(n) = n else { return };
    let fd = sys::open(&alloc::format!("disk:{n}"), O_RDWR);
    checks.check("open it read-write", fd.is_ok(), format_args!("{}", Shown(fd)));
    let Ok(fd) = fd else { return };
    let errors = stat(FAULTY, "errors");
    let mut buf = [0u8; 512];
    checks.expect_errno("a read of sector 64 (an injected read error): EIO", pread(fd, 64 * SECTOR, &mut buf), EIO);
    checks.expect_errno("an aligned write: EIO", pwrite(fd, 0, &[1; 512]), EIO);
    checks.expect_errno("an unaligned write (read, then the failing write): EIO", pwrite(fd, 100, &[1; 7]), EIO);
    let fine = pread(fd, 0, &mut buf);
    checks.check(
        "a read of sector 0 still works and reads zeroes (nothing was written)",
        fine == Ok(512) && buf.iter().all(|&b| b == 0),
        format_args!("{fine:?}"),
    );
    let after = stat(FAULTY, "errors");
    checks.check(
        "its error count rose by 3",
        matches!((errors, after), (Some(a), Some(b)) if b == a + 3),
        format_args!("{errors:?} -> {after:?}"),
    );
    let q = sys::dup_named(fd, b"queue");
    checks.check("dup(\"queue\") of it", q.is_ok(), format_args!("{}", Shown(q)));
    if let Ok(q) = q {
        let list = queue_list(&[(0, &[1; 512])]);
        let queued = sys::write(q, &list);
        checks.check("a queued write is taken (its whole list)", queued == Ok(list.len()), format_args!("{queued:?}"));
        checks.expect_errno("the queue handle's fsync: EIO (the write failed)", sys::fsync(q).map(|()| 0), EIO);
        let again = sys::fsync(q);
        checks.check("the next fsync succeeds (a failure is reported once)", again.is_ok(), format_args!("{again:?}"));
        let _ = sys::close(q);
        let counted = stat(FAULTY, "errors");
        checks.check(
            "and its error count rose by 1 more",
            matches!((after, counted), (Some(a), Some(b)) if b == a + 1),
            format_args!("{after:?} -> {counted:?}"),
        );
    }
    let _ = sys::close(fd);
    let other = open("", O_RDONLY).and_then(|fd| {
        let r = pread(fd, SECTOR, &mut buf);
        let _ = sys::close(fd);
        r
    });
    checks.check(
        "the first disk still reads (\"EFI PART\")",
        other == Ok(512) && &buf[..8] == b"EFI PART",
        format_args!("{other:?}"),
    );
}

fn unprivileged(checks: &mut Checks) {
    checks.expect_errno("this (unprivileged) test's open of pci:: EPERM", sys::open("pci:", O_RDONLY), EPERM);
    let path = process::program_path("virtio-blkd");
    let status = process::spawn(&path, &["virtio-blkd"], &[]).and_then(process::wait);
    checks.check(
        "virtio-blkd started unprivileged exits with status 1 (pci: EPERM)",
        matches!(status, Ok(s) if s.code() == Some(1)),
        format_args!("{status:?}"),
    );
}
