//! fmap and write-back: lent pages are the cache, msync / munmap / fsync /
//! close write what clients stored, private and failed write-backs, holes
//! and growth.

use super::*;

#[test]
fn lent_pages_are_the_cache_and_write_back_reaches_the_disk() {
    let mut fs = new_fs();
    let f = open(&mut fs, "/m", O_CREAT | O_RDWR).unwrap();
    let data: Vec<u8> = (0..2 * PAGE_BYTES + 100).map(|i| (i % 7) as u8 + 1).collect();
    fs.write(f, &data, 0).unwrap();
    // Four pages asked: three hold the file, the fourth is past EOF.
    let addr = fs.mmap_prep(f, 0, 4 * PAGE_BYTES, SHARED_RW, &CTX).unwrap();
    let pages = &fs.cache.pages;
    assert!(pages.is_open(addr) && pages.is_open(addr + 2 * PAGE_BYTES));
    assert!(!pages.is_open(addr + 3 * PAGE_BYTES), "past EOF: inaccessible (SIGBUS)");
    let mut first = vec![0u8; 16];
    pages.read(addr + PAGE_BYTES, &mut first);
    assert_eq!(first, data[PAGE_BYTES..PAGE_BYTES + 16], "filled from the disk at MmapPrep");
    let mut tail = vec![0xEEu8; PAGE_BYTES - 100];
    pages.read(addr + 2 * PAGE_BYTES + 100, &mut tail);
    assert!(tail.iter().all(|&b| b == 0), "zero past EOF");
    assert_eq!(pins_total(&mut fs), 4);

    // A client store is seen by read(); a write() is seen by the mapping.
    fs.cache.pages.write(addr + 10, b"MAPPED");
    let mut buf = [0u8; 6];
    fs.read(f, &mut buf, 10).unwrap();
    assert_eq!(&buf, b"MAPPED");
    fs.write(f, b"WRITTEN", PAGE + 5).unwrap();
    let mut seen = [0u8; 7];
    fs.cache.pages.read(addr + PAGE_BYTES + 5, &mut seen);
    assert_eq!(&seen, b"WRITTEN");

    // Not on the disk yet; msync puts it there, MS_SYNC flushes.
    let flushes = fs.fs.disk.inner.flushes;
    assert_eq!(fs.msync(f, 0, PAGE_BYTES, MS_ASYNC, &CTX), Ok(()));
    assert_eq!(fs.fs.disk.inner.flushes, flushes);
    assert_eq!(fs.msync(f, 0, PAGE_BYTES, MS_SYNC, &CTX), Ok(()));
    assert_eq!(fs.fs.disk.inner.flushes, flushes + 1);
    fs.cache.pages.write(addr + PAGE_BYTES + 50, b"LATE");
    assert_eq!(fs.munmap(f, 0, 4 * PAGE_BYTES, NEEDS_SYNC, &CTX), Ok(()));
    assert_eq!(pins_total(&mut fs), 0);
    assert_eq!(fs.cache.pages.windows.len(), 1, "the window stays while the file is open");
    fs.close(f);
    assert!(fs.cache.pages.windows.is_empty(), "the window goes with the file's last handle");

    let mut fs = remount(fs);
    let f = open(&mut fs, "/m", O_RDONLY).unwrap();
    let got = read_all(&mut fs, f);
    assert_eq!(got.len(), data.len(), "write-back keeps the size");
    assert_eq!(&got[10..16], b"MAPPED");
    assert_eq!(&got[PAGE_BYTES + 5..PAGE_BYTES + 12], b"WRITTEN");
    assert_eq!(&got[PAGE_BYTES + 50..PAGE_BYTES + 54], b"LATE", "munmap with NEEDS_SYNC wrote it");
}

#[test]
fn a_second_mapping_lends_the_cached_pages_and_msync_seals_what_it_wrote() {
    let mut fs = new_fs();
    let f = open(&mut fs, "/s", O_CREAT | O_RDWR).unwrap();
    let data: Vec<u8> = (0..64 * PAGE_BYTES).map(|i| (i * 7 / PAGE_BYTES) as u8).collect();
    fs.write(f, &data, 0).unwrap();
    let len = 64 * PAGE_BYTES;
    let base = fs.mmap_prep(f, 0, len, PRIVATE_RW, &CTX).unwrap();
    fs.munmap(f, 0, len, 0, &CTX).unwrap();
    // The pages stay while the file is open: a new mapping reads nothing
    // from the disk (the size is remembered too).
    let reads = disk_reads(&fs);
    assert_eq!(fs.mmap_prep(f, 0, len, SHARED_RW, &CTX), Ok(base), "the same pages");
    assert_eq!(disk_reads(&fs), reads, "disk reads for a cached file");
    // A store to every page; msync writes them and seals them (set aside
    // for lending here, taken back from the mappings).
    for page in 0..64 {
        fs.cache.pages.write(base + page * PAGE_BYTES, &[0xC0 + page as u8]);
    }
    let taken = fs.cache.pages.taken_back.len();
    assert_eq!(fs.msync(f, 0, len, MS_SYNC, &CTX), Ok(()));
    assert!(fs.cache.pages.taken_back.len() > taken, "the written pages were taken back");
    assert!((0..64).all(|page| fs.cache.pages.lent_aside.contains(&(base + page * PAGE_BYTES))), "sealed");
    assert!((0..64).all(|page| fs.cache.pages.is_open(base + page * PAGE_BYTES)), "and still open here");
    // Sealed pages are clean: a write-back reads and writes nothing (it
    // passes with the device failing).
    fs.fs.disk.fail_writes = true;
    let reads = disk_reads(&fs);
    assert_eq!(fs.msync(f, 0, len, MS_ASYNC, &CTX), Ok(()));
    assert_eq!(disk_reads(&fs), reads, "disk reads for sealed pages");
    fs.fs.disk.fail_writes = false;
    // A client touching a sealed page: the kernel asks for it again; it is
    // opened, and a store to it is written by the next write-back.
    assert_eq!(relend(&mut fs, f, 5), base + 5 * PAGE_BYTES);
    assert!(!fs.cache.pages.lent_aside.contains(&(base + 5 * PAGE_BYTES)), "opened again");
    fs.cache.pages.write(base + 5 * PAGE_BYTES + 1, b"R");
    // write() over a sealed page opens it and stores into it; a write()
    // past the end grows the size MmapPrep sees.
    fs.write(f, b"W", 9 * PAGE + 2).unwrap();
    fs.write(f, b"+", len as u64).unwrap();
    let grown = fs.mmap_prep(f, len as u64, PAGE_BYTES, SHARED_RW, &CTX).unwrap();
    assert!(fs.cache.pages.is_open(grown), "the new last page is lent, not past the end");
    fs.munmap(f, len as u64, PAGE_BYTES, NEEDS_SYNC, &CTX).unwrap();
    let mut seen = [0u8; 1];
    fs.cache.pages.read(base + 9 * PAGE_BYTES + 2, &mut seen);
    assert_eq!(&seen, b"W");
    fs.cache.pages.write(base + 9 * PAGE_BYTES + 3, b"M");
    // The munmap writes back the opened pages (redoxfs reads each record
    // it rewrites: the block cache has them from the msync's writes);
    // then nothing is left to write.
    let reads = disk_reads(&fs);
    assert_eq!(fs.munmap(f, 0, len, NEEDS_SYNC, &CTX), Ok(()));
    assert_eq!(disk_reads(&fs), reads, "the records written before are read from the block cache");
    let node = *fs.cache.windows.keys().next().expect("the window stays");
    assert_eq!(fs.cache.to_write(node, 0..64, len as u64, true), Vec::new());
    fs.close(f);
    let mut fs = remount(fs);
    let f = open(&mut fs, "/s", O_RDONLY).unwrap();
    let got = read_all(&mut fs, f);
    for page in 0..64 {
        assert_eq!(got[page * PAGE_BYTES], 0xC0 + page as u8, "page {page}");
        assert_eq!(got[page * PAGE_BYTES + 10], data[page * PAGE_BYTES + 10]);
    }
    assert_eq!(got[5 * PAGE_BYTES + 1], b'R', "a store after relending is written");
    assert_eq!(&got[9 * PAGE_BYTES + 2..9 * PAGE_BYTES + 4], b"WM", "write() and a store after it");
}

#[test]
fn private_unmaps_write_nothing_and_pins_balance() {
    let mut fs = new_fs();
    let f = open(&mut fs, "/p", O_CREAT | O_RDWR).unwrap();
    fs.write(f, &vec![b'a'; PAGE_BYTES], 0).unwrap();
    let a = fs.mmap_prep(f, 0, PAGE_BYTES, PRIVATE_RW, &CTX).unwrap();
    let b = fs.mmap_prep(f, 0, PAGE_BYTES, SHARED_RW, &CTX).unwrap();
    assert_eq!(a, b, "one cache page per file page");
    assert_eq!(pins_total(&mut fs), 2);
    assert_eq!(fs.munmap(f, 0, 3 * PAGE_BYTES, 0, &CTX), Err(Error::new(EINVAL)), "more than lent");
    assert_eq!(fs.munmap(f, 0, PAGE_BYTES, 0, &CTX), Ok(()));
    assert_eq!(fs.munmap(f, 0, PAGE_BYTES, 0, &CTX), Ok(()));
    assert_eq!(pins_total(&mut fs), 0);
    // Errors of MmapPrep.
    assert_eq!(fs.mmap_prep(f, 1, PAGE_BYTES, SHARED_RW, &CTX), Err(Error::new(EINVAL)));
    assert_eq!(fs.mmap_prep(f, 0, 0, SHARED_RW, &CTX), Err(Error::new(EINVAL)));
    assert_eq!(fs.mmap_prep(f, 8 << 30, PAGE_BYTES, SHARED_RW, &CTX), Err(Error::new(EINVAL)));
    let r = open(&mut fs, "/p", O_RDONLY).unwrap();
    assert_eq!(fs.mmap_prep(r, 0, PAGE_BYTES, SHARED_RW, &CTX), Err(Error::new(EACCES)));
    let d = open(&mut fs, "/", O_RDONLY).unwrap();
    assert_eq!(fs.mmap_prep(d, 0, PAGE_BYTES, SHARED_RW, &CTX), Err(Error::new(EISDIR)));
    for id in [f, r, d] {
        fs.close(id);
    }
    assert!(fs.cache.pages.windows.is_empty());
}

#[test]
fn truncate_and_growth_of_a_mapped_file() {
    let mut fs = new_fs();
    let f = open(&mut fs, "/t", O_CREAT | O_RDWR).unwrap();
    fs.write(f, &vec![b'x'; 3 * PAGE_BYTES], 0).unwrap();
    let addr = fs.mmap_prep(f, 0, 4 * PAGE_BYTES, SHARED_RW, &CTX).unwrap();
    fs.ftruncate(f, PAGE + 10).unwrap();
    assert!(!fs.cache.pages.is_open(addr + 2 * PAGE_BYTES), "gone past the new end");
    let mut tail = vec![0xEE; 20];
    fs.cache.pages.read(addr + PAGE_BYTES, &mut tail);
    assert_eq!(&tail[..10], b"xxxxxxxxxx");
    assert!(tail[10..].iter().all(|&b| b == 0), "zeroed past the new end");
    // Growing sets the pages aside (lent again when asked, reading zero),
    // and the disk agrees.
    fs.ftruncate(f, 4 * PAGE).unwrap();
    assert!(fs.cache.pages.aside.contains(&(addr + 3 * PAGE_BYTES)));
    relend(&mut fs, f, 3);
    assert!(fs.cache.pages.is_open(addr + 3 * PAGE_BYTES));
    let got = read_all(&mut fs, f);
    assert_eq!(got.len(), 4 * PAGE_BYTES);
    assert!(got[PAGE_BYTES + 10..].iter().all(|&b| b == 0));
    fs.munmap(f, 0, 4 * PAGE_BYTES, NEEDS_SYNC, &CTX).unwrap();
    // O_TRUNC of a file with no window.
    let t = open(&mut fs, "/t", O_RDWR | O_TRUNC).unwrap();
    assert_eq!(size(&mut fs, t), 0);
}

#[test]
fn a_failed_write_back_is_eio_and_stays_dirty() {
    let mut fs = new_fs();
    let f = open(&mut fs, "/e", O_CREAT | O_RDWR).unwrap();
    fs.write(f, &vec![b'0'; PAGE_BYTES], 0).unwrap();
    let addr = fs.mmap_prep(f, 0, PAGE_BYTES, SHARED_RW, &CTX).unwrap();
    fs.cache.pages.write(addr, b"DIRTY");
    let ctl = open(&mut fs, "/.redoxfsd/ctl", O_WRONLY).unwrap();
    assert_eq!(fs.write(ctl, b"fail-writes on\n", 0), Ok(15));
    assert_eq!(fs.write(ctl, b"bogus", 0), Err(Error::new(EINVAL)));
    assert_eq!(fs.msync(f, 0, PAGE_BYTES, MS_SYNC, &CTX), Err(Error::new(EIO)));
    assert_eq!(fs.write(f, b"w", 0), Err(Error::new(EIO)), "write() fails too, changing nothing");
    assert_eq!(fs.munmap(f, 0, PAGE_BYTES, NEEDS_SYNC, &CTX), Err(Error::new(EIO)));
    assert_eq!(pins_total(&mut fs), 0, "the pins go all the same");
    assert_eq!(fs.fsync(f), Err(Error::new(EIO)));
    let id = open(&mut fs, "/.redoxfsd/pins", O_RDONLY).unwrap();
    let text = String::from_utf8(read_all(&mut fs, id)).unwrap();
    assert!(text.contains("dirty=1"), "{text}");
    fs.close(id);
    // The fault is lifted: fsync writes the dirty page, and the window goes.
    fs.write(ctl, b"fail-writes off", 0).unwrap();
    assert_eq!(fs.fsync(f), Ok(()));
    assert_eq!(fs.cache.pin_counts().map(|(_, _, dirty)| dirty).sum::<usize>(), 0, "clean");
    fs.close(f);
    assert!(fs.cache.pages.windows.is_empty());
    fs.close(ctl);
    let mut fs = remount(fs);
    let f = open(&mut fs, "/e", O_RDONLY).unwrap();
    assert_eq!(&read_all(&mut fs, f)[..5], b"DIRTY");
}

#[test]
fn holes_cost_no_memory_when_lent() {
    let mut fs = new_fs();
    let f = open(&mut fs, "/sparse", O_CREAT | O_RDWR).unwrap();
    // 64 MiB on a 16 MiB disk: RedoxFS keeps the holes sparse.
    fs.ftruncate(f, 64 << 20).unwrap();
    fs.write(f, b"one", 40 * PAGE).unwrap();
    fs.write(f, b"two", (64 << 20) - 3).unwrap();
    fs.set_cache_pages(1 << 20);
    // A first mapping of one page, then all of it: only the rest is read.
    let one = fs.mmap_prep(f, 40 * PAGE, PAGE_BYTES, SHARED_RW, &CTX).unwrap();
    let all = fs.mmap_prep(f, 0, 64 << 20, SHARED_RW, &CTX).unwrap();
    assert_eq!(one, all + 40 * PAGE_BYTES);
    assert_eq!(fs.cache.pages.pages.len(), (64 << 20) / PAGE_BYTES, "every page of the file is there");
    assert_eq!(fs.cache.pages.holding(), 2, "only the two pages with data hold memory");
    let mut got = [0u8; 3];
    fs.cache.pages.read(all + (64 << 20) - 3, &mut got);
    assert_eq!(&got, b"two");
    assert_eq!(pins_total(&mut fs), 1 + (64 << 20) / PAGE);
    fs.munmap(f, 40 * PAGE, PAGE_BYTES, 0, &CTX).unwrap();
    // Nothing differs from the disk: the write-back writes nothing (so it
    // passes even with the device failing writes).
    fs.fs.disk.fail_writes = true;
    assert_eq!(fs.munmap(f, 0, 64 << 20, NEEDS_SYNC, &CTX), Ok(()));
    fs.close(f);
    assert!(fs.cache.pages.windows.is_empty());
}

#[test]
fn the_last_close_writes_dirty_pages_once_more_or_drops_them() {
    let mut fs = new_fs();
    let ctl = open(&mut fs, "/.redoxfsd/ctl", O_WRONLY).unwrap();
    for (name, lifted) in [("/kept", true), ("/lost", false)] {
        let f = open(&mut fs, name, O_CREAT | O_RDWR).unwrap();
        let other = open(&mut fs, name, O_RDONLY).unwrap();
        fs.write(f, &vec![b'-'; PAGE_BYTES], 0).unwrap();
        let addr = fs.mmap_prep(f, 0, PAGE_BYTES, SHARED_RW, &CTX).unwrap();
        fs.cache.pages.write(addr, b"STORE");
        fs.write(ctl, b"fail-writes on", 0).unwrap();
        assert_eq!(fs.munmap(f, 0, PAGE_BYTES, NEEDS_SYNC, &CTX), Err(Error::new(EIO)));
        fs.close(f);
        assert_eq!(fs.cache.windows.len(), 1, "another handle is open: the dirty page stays");
        if lifted {
            fs.write(ctl, b"fail-writes off", 0).unwrap();
        }
        fs.close(other);
        assert!(fs.cache.pages.windows.is_empty(), "no window outlives the file's handles");
        fs.write(ctl, b"fail-writes off", 0).unwrap();
    }
    fs.close(ctl);
    let mut fs = remount(fs);
    for (name, expect) in [("/kept", &b"STORE"[..]), ("/lost", b"-----")] {
        let f = open(&mut fs, name, O_RDONLY).unwrap();
        assert_eq!(&read_all(&mut fs, f)[..5], expect, "{name}");
        fs.close(f);
    }
}
