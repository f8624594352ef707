//! The cache's limit: eviction of lent and dirty pages, the order pages
//! are lent in, and sealed pages opened again.

use super::*;

#[test]
fn eviction_keeps_the_cache_under_its_limit_and_loses_no_store() {
    let mut fs = new_fs();
    fs.set_cache_pages(4);
    let f = open(&mut fs, "/big", O_CREAT | O_RDWR).unwrap();
    let data: Vec<u8> = (0..16 * PAGE_BYTES).map(|i| (i / PAGE_BYTES) as u8 + 1).collect();
    fs.write(f, &data, 0).unwrap();
    let base = fs.mmap_prep(f, 0, 16 * PAGE_BYTES, SHARED_RW, &CTX).unwrap();
    assert_eq!(cache_stat(&mut fs, "pages"), 4, "only the limit is read at MmapPrep");
    assert!(fs.cache.pages.aside.contains(&(base + 4 * PAGE_BYTES)), "the rest is set aside");
    // A client stores to every page in turn (each set aside page is lent
    // again first), so every eviction must write a store back.
    for page in 0..16u64 {
        let at = base + (page * PAGE) as usize;
        if fs.cache.pages.aside.contains(&at) {
            assert_eq!(relend(&mut fs, f, page), at, "lent again at the same address");
        }
        fs.cache.pages.write(at + 7, &[0xA0 + page as u8]);
        assert!(fs.cache.resident_pages() <= 4);
        assert_eq!(pins_total(&mut fs), 16, "the extra pins went back");
    }
    assert_eq!(cache_stat(&mut fs, "peak"), 4);
    assert_eq!(cache_stat(&mut fs, "evictions"), 12);
    assert_eq!(cache_stat(&mut fs, "over-limit"), 0);
    assert!(fs.cache.pages.taken_back.len() >= 12, "each eviction took its page back");
    // read() sees every store, evicted or not.
    let got = read_all(&mut fs, f);
    for page in 0..16 {
        assert_eq!(got[page * PAGE_BYTES + 7], 0xA0 + page as u8, "page {page}");
        assert_eq!(got[page * PAGE_BYTES + 8], page as u8 + 1);
    }
    fs.munmap(f, 0, 16 * PAGE_BYTES, NEEDS_SYNC, &CTX).unwrap();
    assert_eq!(pins_total(&mut fs), 0);
    assert_eq!(cache_stat(&mut fs, "pages"), 4, "kept while the file is open");
    fs.close(f);
    assert!(fs.cache.pages.windows.is_empty());
    assert_eq!(cache_stat(&mut fs, "pages"), 0);
    let mut fs = remount(fs);
    let f = open(&mut fs, "/big", O_RDONLY).unwrap();
    let got = read_all(&mut fs, f);
    assert!((0..16).all(|page| got[page * PAGE_BYTES + 7] == 0xA0 + page as u8), "on the disk");
}

#[test]
fn dirty_pages_that_cannot_be_written_are_not_evicted() {
    let mut fs = new_fs();
    let ctl = open(&mut fs, "/.redoxfsd/ctl", O_WRONLY).unwrap();
    assert_eq!(fs.write(ctl, b"cache-pages 0", 0), Err(Error::new(EINVAL)));
    assert_eq!(fs.write(ctl, b"cache-pages x", 0), Err(Error::new(EINVAL)));
    assert_eq!(fs.write(ctl, b"cache-pages 2\n", 0), Ok(14));
    assert_eq!(cache_stat(&mut fs, "limit"), 2);
    let f = open(&mut fs, "/d", O_CREAT | O_RDWR).unwrap();
    fs.write(f, &vec![b'.'; 3 * PAGE_BYTES], 0).unwrap();
    let base = fs.mmap_prep(f, 0, 3 * PAGE_BYTES, SHARED_RW, &CTX).unwrap();
    fs.cache.pages.write(base, b"P0");
    fs.cache.pages.write(base + PAGE_BYTES, b"P1");
    fs.write(ctl, b"fail-writes on", 0).unwrap();
    // Page 2 comes in; neither other page can be written: none goes.
    relend(&mut fs, f, 2);
    assert_eq!(cache_stat(&mut fs, "pages"), 3);
    assert_eq!(cache_stat(&mut fs, "over-limit"), 1);
    assert_eq!(cache_stat(&mut fs, "evictions"), 0);
    assert!(fs.cache.pages.is_open(base) && !fs.cache.pages.aside.contains(&base), "opened again");
    fs.cache.pages.write(base + 2 * PAGE_BYTES, b"P2");
    // A lower limit evicts what it can once writes work again.
    fs.write(ctl, b"fail-writes off", 0).unwrap();
    fs.write(ctl, b"cache-pages 1", 0).unwrap();
    assert_eq!(cache_stat(&mut fs, "pages"), 1);
    assert_eq!(cache_stat(&mut fs, "evictions"), 2);
    fs.munmap(f, 0, 3 * PAGE_BYTES, NEEDS_SYNC, &CTX).unwrap();
    let mut fs = remount(fs);
    let f = open(&mut fs, "/d", O_RDONLY).unwrap();
    let got = read_all(&mut fs, f);
    assert_eq!(
        [&got[..2], &got[PAGE_BYTES..PAGE_BYTES + 2], &got[2 * PAGE_BYTES..2 * PAGE_BYTES + 2]],
        [b"P0", b"P1", b"P2"]
    );
}

#[test]
fn evicting_the_last_dirty_page_of_an_unmapped_file_drops_its_window() {
    let mut fs = new_fs();
    let f = open(&mut fs, "/u", O_CREAT | O_RDWR).unwrap();
    fs.write(f, &vec![b'-'; PAGE_BYTES], 0).unwrap();
    let addr = fs.mmap_prep(f, 0, PAGE_BYTES, SHARED_RW, &CTX).unwrap();
    fs.cache.pages.write(addr, b"KEEP");
    fs.fs.disk.fail_writes = true;
    assert_eq!(fs.munmap(f, 0, PAGE_BYTES, NEEDS_SYNC, &CTX), Err(Error::new(EIO)));
    fs.fs.disk.fail_writes = false;
    // Another file comes in under a limit of 1: the dirty page is written
    // and evicted, and its window (no pins) goes with it.
    fs.set_cache_pages(1);
    let g = open(&mut fs, "/v", O_CREAT | O_RDWR).unwrap();
    fs.write(g, &vec![b'v'; PAGE_BYTES], 0).unwrap();
    fs.mmap_prep(g, 0, PAGE_BYTES, SHARED_RW, &CTX).unwrap();
    assert_eq!(cache_stat(&mut fs, "evictions"), 1);
    assert_eq!(fs.cache.windows.len(), 1, "only the new file's window");
    assert_eq!(cache_stat(&mut fs, "pages"), 1);
    fs.munmap(g, 0, PAGE_BYTES, NEEDS_SYNC, &CTX).unwrap();
    assert_eq!(&read_all(&mut fs, f)[..4], b"KEEP");
}

#[test]
fn a_mapping_again_makes_its_pages_the_most_recently_lent() {
    let mut fs = new_fs();
    fs.set_cache_pages(4);
    let mut bases = Vec::new();
    let mut ids = Vec::new();
    for name in ["/a", "/b", "/c"] {
        let f = open(&mut fs, name, O_CREAT | O_RDWR).unwrap();
        fs.write(f, &vec![b'.'; 2 * PAGE_BYTES], 0).unwrap();
        ids.push(f);
    }
    for &f in &ids[..2] {
        bases.push(fs.mmap_prep(f, 0, 2 * PAGE_BYTES, PRIVATE_RW, &CTX).unwrap());
        fs.munmap(f, 0, 2 * PAGE_BYTES, 0, &CTX).unwrap();
    }
    // /b's pages are the newest already: mapping it again changes nothing;
    // /a's are the oldest: mapping it again makes them the newest.
    for f in [ids[1], ids[0]] {
        fs.mmap_prep(f, 0, 2 * PAGE_BYTES, PRIVATE_RW, &CTX).unwrap();
        fs.munmap(f, 0, 2 * PAGE_BYTES, 0, &CTX).unwrap();
    }
    // /c comes in: /b's two pages go, /a's stay.
    fs.mmap_prep(ids[2], 0, 2 * PAGE_BYTES, PRIVATE_RW, &CTX).unwrap();
    assert_eq!(cache_stat(&mut fs, "evictions"), 2);
    assert!(fs.cache.pages.is_open(bases[0]) && !fs.cache.pages.aside.contains(&bases[0]), "/a stays");
    assert!(!fs.cache.pages.is_open(bases[1]) && !fs.cache.pages.is_open(bases[1] + PAGE_BYTES), "/b went");
    // The pages of one mapping keep their order: /c's first page is older.
    fs.munmap(ids[2], 0, 2 * PAGE_BYTES, 0, &CTX).unwrap();
    fs.mmap_prep(ids[1], 0, PAGE_BYTES, PRIVATE_RW, &CTX).unwrap();
    assert!(fs.cache.pages.aside.contains(&bases[0]), "/a's first page was the oldest");
    assert!(fs.cache.pages.is_open(bases[0] + PAGE_BYTES) && !fs.cache.pages.aside.contains(&(bases[0] + PAGE_BYTES)));
}

#[test]
fn sealed_pages_are_lent_aside_and_opened_when_lent_again() {
    let mut fs = new_fs();
    let f = open(&mut fs, "/w", O_CREAT | O_RDWR).unwrap();
    fs.ftruncate(f, 8 * PAGE).unwrap();
    let len = 8 * PAGE_BYTES;
    let base = fs.mmap_prep(f, 0, len, SHARED_RW, &CTX).unwrap();
    // Stores to pages 0, 1, 2 and 5; the others stay holes (no memory).
    for page in [0, 1, 2, 5] {
        fs.cache.pages.write(base + page * PAGE_BYTES, &[1 + page as u8]);
    }
    assert_eq!(fs.msync(f, 0, len, MS_SYNC, &CTX), Ok(()));
    assert_eq!(fs.munmap(f, 0, len, NEEDS_SYNC, &CTX), Ok(()));
    // Sealed: set aside for lending, still open here (no protection
    // changed), holes included; no memory given to the holes.
    let holding = fs.cache.pages.holding();
    let page = |i: usize| base + i * PAGE_BYTES;
    assert!((0..8).all(|i| fs.cache.pages.lent_aside.contains(&page(i)) && fs.cache.pages.is_open(page(i))));
    assert!((0..8).all(|i| !fs.cache.pages.aside.contains(&page(i))), "none read-only");
    // Lent again: every page is opened for lending, with no other change.
    assert_eq!(fs.mmap_prep(f, 0, len, SHARED_RW, &CTX), Ok(base));
    assert_eq!(fs.cache.pages.lent_aside.len(), 0, "all open for lending");
    assert_eq!(fs.cache.pages.holding(), holding, "holes get no memory");
    // A mapping given back without write-back seals nothing.
    assert_eq!(fs.munmap(f, 0, len, 0, &CTX), Ok(()));
    assert_eq!(fs.cache.pages.lent_aside.len(), 0);
    // Evicting a sealed page opens it for lending as it goes (it is set
    // aside read-only instead); lent again, it is read back and lendable.
    assert_eq!(fs.mmap_prep(f, 0, len, SHARED_RW, &CTX), Ok(base));
    fs.cache.pages.write(page(1), &[9]);
    assert_eq!(fs.munmap(f, 0, len, NEEDS_SYNC, &CTX), Ok(()));
    assert!(fs.cache.pages.lent_aside.contains(&page(1)));
    let node = fs.node_of(f).unwrap().1;
    assert_eq!(fs.evict(node, 1), Ok(()));
    assert!(!fs.cache.pages.lent_aside.contains(&page(1)) && fs.cache.pages.aside.contains(&page(1)));
    assert_eq!(fs.mmap_prep(f, 0, len, SHARED_RW, &CTX), Ok(base));
    assert!(fs.cache.pages.is_open(page(1)) && !fs.cache.pages.lent_aside.contains(&page(1)));
    let mut byte = [0u8];
    fs.cache.pages.read(page(1), &mut byte);
    assert_eq!(byte, [9], "read back from the disk");
    fs.cache.pages.write(page(5), &[7]);
    assert_eq!(fs.munmap(f, 0, len, NEEDS_SYNC, &CTX), Ok(()));
    // Truncating sealed pages opens them for lending before they close
    // (the fake fails a close of a page still set aside for lending).
    assert!(fs.cache.pages.lent_aside.contains(&page(5)));
    fs.ftruncate(f, 3 * PAGE).unwrap();
    assert!((3..8).all(|i| !fs.cache.pages.lent_aside.contains(&page(i))));
    // And the data is the file's.
    fs.close(f);
    let mut fs = remount(fs);
    let f = open(&mut fs, "/w", O_RDONLY).unwrap();
    let got = read_all(&mut fs, f);
    assert_eq!(got.len(), 3 * PAGE_BYTES);
    let firsts: Vec<u8> = (0..3).map(|page| got[page * PAGE_BYTES]).collect();
    assert_eq!(firsts, vec![1, 9, 3]);
}
