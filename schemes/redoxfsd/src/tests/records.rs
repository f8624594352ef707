//! Write-back from whole compressed records (`records.rs`): the disk comes
//! out as redoxfs's own `write_node` leaves it.

use super::*;

#[test]
fn whole_records_written_from_their_compressed_form_leave_the_disk_as_write_node_does() {
    const RECORD: usize = 128 << 10;
    let mut fs = new_fs();
    let f = open(&mut fs, "/r", O_CREAT | O_RDWR).unwrap();
    // 8.5 records of a short repeating pattern (lz4 compresses each to one
    // block; decompressing it is the slow byte loop), record 5 all zero
    // (a hole: redoxfs writes no record for it).
    let mut old: Vec<u8> = (0..RECORD * 17 / 2).map(|i| (i * 31 + 11) as u8).collect();
    old[5 * RECORD..6 * RECORD].fill(0);
    fs.write(f, &old, 0).unwrap();
    fs.close(f);
    let (mut fs, mut reference) = twins(fs);
    // The new bytes: record 0 as it was; record 1 a word changed in every
    // page (the benchmark's store); record 2 one byte; record 3 bytes lz4
    // cannot compress (the size class changes); record 5 data in the hole;
    // the half record at the end one byte; 4, 6 and 7 as they were.
    let mut new = old.clone();
    for page in 0..RECORD / PAGE_BYTES {
        new[RECORD + page * PAGE_BYTES..][..8].copy_from_slice(&(page as u64 * 0x9e37_79b9).to_le_bytes());
    }
    new[2 * RECORD + 777] ^= 0xFF;
    let mut seed = 1u32;
    for byte in &mut new[3 * RECORD..4 * RECORD] {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        *byte = (seed >> 16) as u8;
    }
    new[5 * RECORD + 5] = 5;
    new[8 * RECORD + 9] ^= 1;
    // Through a shared mapping and msync here ...
    let f = open(&mut fs, "/r", O_RDWR).unwrap();
    let len = new.len();
    let base = fs.mmap_prep(f, 0, len, SHARED_RW, &CTX).unwrap();
    fs.cache.pages.write(base, &new);
    assert_eq!(fs.msync(f, 0, len, MS_SYNC, &CTX), Ok(()));
    assert_eq!(
        fs.records,
        crate::records::Written { replaced: 2, unchanged: 4, read_back: 4 },
        "records 1 and 2 written from their compressed form (their hashes differ: not read back); \
         0, 4, 6 and 7 found unchanged (equal hashes, read back and compared)"
    );
    // ... and with redoxfs's own write_node on the copy: the same disk.
    let r = open(&mut reference, "/r", O_RDWR).unwrap();
    let mut stat = Stat::default();
    reference.fstat(r, &mut stat).unwrap();
    let node = stat.st_ino as u32;
    let now = clock();
    reference.tx(|tx| tx.write_node(redoxfs::TreePtr::new(node), 0, &new, now.0, now.1)).unwrap();
    fs.fs.disk.drain().unwrap();
    assert!(fs.fs.disk.inner.bytes == reference.fs.disk.inner.bytes, "the two disks differ");
    // Lent again and written back untouched: every whole record is found
    // unchanged, nothing reaches the device.
    fs.munmap(f, 0, len, 0, &CTX).unwrap();
    assert_eq!(fs.mmap_prep(f, 0, len, SHARED_RW, &CTX), Ok(base));
    let writes = fs.fs.disk.inner.writes;
    assert_eq!(fs.munmap(f, 0, len, NEEDS_SYNC, &CTX), Ok(()));
    assert_eq!(fs.fs.disk.inner.writes, writes, "an untouched write-back writes nothing");
    assert_eq!(fs.records.unchanged, 4 + 7, "all but 3 (stored uncompressed now) found unchanged");
    assert_eq!(fs.records.read_back, 4 + 7, "each of them read back to compare, nothing else");
    fs.close(f);
    let mut fs = remount(fs);
    let f = open(&mut fs, "/r", O_RDONLY).unwrap();
    assert!(read_all(&mut fs, f) == new, "the file holds the new bytes");
}
