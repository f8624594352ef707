//! The whole scheme on fake memory: each test runs requests through the
//! `Scheme` methods the daemon's loop calls, and most end by checking
//! that nothing is left behind (no handle, no extra node, no reserved
//! range, no page of data).

use std::string::String;
use std::vec;
use std::vec::Vec;

use tessera_runtime::abi::dirent::{self, DirentKind};
use tessera_runtime::abi::error::*;
use tessera_runtime::abi::flag::{
    AT_REMOVEDIR, MODE_DIR, MODE_FILE, MODE_TYPE, MapFlags, O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_RDONLY, O_RDWR,
    O_TRUNC, O_WRONLY,
};
use tessera_runtime::abi::scheme::MunmapFlags;
use tessera_runtime::abi::{Error, Result, Stat};
use tessera_runtime::scheme::{CallerCtx, Scheme};

use crate::pages::PAGE_BYTES;
use crate::pages::fake::FakePages;
use crate::{MAX_FILE_BYTES, Ramfs};

/// Nodes of an empty filesystem: the root, `/.ramfs`, `pins`, `ctl`.
const EMPTY_NODES: usize = 4;
const CTX: CallerCtx = CallerCtx { pid: 7, uid: 0, gid: 0 };
const PAGE: u64 = PAGE_BYTES as u64;

fn fs() -> Ramfs<FakePages> {
    Ramfs::new(FakePages::default())
}

fn open(fs: &mut Ramfs<FakePages>, path: &str, flags: usize) -> Result<usize> {
    fs.open(path, flags, &CTX).map(|opened| {
        assert!(opened.positioned);
        opened.id
    })
}

fn create(fs: &mut Ramfs<FakePages>, path: &str, data: &[u8]) -> usize {
    let id = open(fs, path, O_CREAT | O_RDWR).expect("create");
    assert_eq!(fs.write(id, data, 0), Ok(data.len()));
    id
}

/// Creates `path` with `data` and closes it.
fn touch(fs: &mut Ramfs<FakePages>, path: &str, data: &[u8]) {
    let id = create(fs, path, data);
    fs.close(id);
}

fn mkdir(fs: &mut Ramfs<FakePages>, path: &str) -> Result<()> {
    let id = open(fs, path, O_CREAT | O_DIRECTORY | O_EXCL | O_RDONLY)?;
    fs.close(id);
    Ok(())
}

fn stat(fs: &mut Ramfs<FakePages>, id: usize) -> Stat {
    let mut stat = Stat::default();
    fs.fstat(id, &mut stat).expect("fstat");
    stat
}

fn read_all(fs: &mut Ramfs<FakePages>, id: usize) -> Vec<u8> {
    let mut buf = vec![0u8; 1 << 16];
    let n = fs.read(id, &mut buf, 0).expect("read");
    buf.truncate(n);
    buf
}

/// The names `getdents` gives for `path`, read `chunk` bytes at a time.
fn listing(fs: &mut Ramfs<FakePages>, path: &str, chunk: usize) -> Vec<String> {
    let id = open(fs, path, O_RDONLY | O_DIRECTORY).expect("open the directory");
    let mut names = Vec::new();
    let mut opaque = 0;
    let mut buf = vec![0u8; chunk];
    loop {
        let n = fs.getdents(id, &mut buf, opaque).expect("getdents");
        if n == 0 {
            break;
        }
        for entry in dirent::entries(&buf[..n]) {
            let entry = entry.expect("well-formed");
            names.push(String::from_utf8(entry.name.to_vec()).unwrap());
            opaque = entry.next_opaque_id;
        }
    }
    fs.close(id);
    names
}

/// Nothing left: no handle, no node beyond the empty tree's, no memory.
fn assert_empty(fs: &Ramfs<FakePages>) {
    assert_eq!(fs.open_handles(), 0, "handles left open");
    assert_eq!(fs.node_count(), EMPTY_NODES, "nodes left");
    let pages = fs.pages();
    assert!(pages.reserved.is_empty() && pages.open.is_empty() && pages.data.is_empty(), "memory left");
}

#[test]
fn punching_a_hole_zeroes_the_range_and_gives_whole_pages_back() {
    let mut fs = fs();
    let data: Vec<u8> = (0..4 * PAGE as usize).map(|i| (i % 251) as u8 + 1).collect();
    let id = create(&mut fs, "/holes", &data);
    assert_eq!(fs.pages().resident(), 4);
    // From the middle of page 0 to the middle of page 3: pages 1 and 2 go.
    assert_eq!(fs.punch_hole(id, 100, 3 * PAGE), Ok(()));
    let all = read_all(&mut fs, id);
    assert_eq!(all.len(), 4 * PAGE as usize, "the size is kept");
    assert_eq!(&all[..100], &data[..100]);
    assert!(all[100..3 * PAGE as usize + 100].iter().all(|&b| b == 0));
    assert_eq!(&all[3 * PAGE as usize + 100..], &data[3 * PAGE as usize + 100..]);
    assert_eq!(fs.pages().resident(), 2, "the two whole pages hold no memory");
    // Past the end, or empty: nothing; within one page: zeroed in place.
    assert_eq!(fs.punch_hole(id, 8 * PAGE, PAGE), Ok(()));
    assert_eq!(fs.punch_hole(id, 10, 0), Ok(()));
    assert_eq!(fs.punch_hole(id, 3 * PAGE + 200, 10), Ok(()));
    assert_eq!(read_all(&mut fs, id)[3 * PAGE as usize + 205], 0);
    assert_eq!(stat(&mut fs, id).st_size, 4 * PAGE);
    // Only through a handle open for writing, only on files.
    let reader = open(&mut fs, "/holes", O_RDONLY).unwrap();
    assert_eq!(fs.punch_hole(reader, 0, PAGE), Err(Error::new(EBADF)));
    let dir = open(&mut fs, "/", O_RDONLY | O_DIRECTORY).unwrap();
    assert_eq!(fs.punch_hole(dir, 0, PAGE), Err(Error::new(EBADF)));
}

#[test]
fn files_read_write_seek_truncate() {
    let mut fs = fs();
    let id = create(&mut fs, "/f", b"hello world");
    let s = stat(&mut fs, id);
    assert_eq!((s.st_mode & MODE_TYPE, s.st_size, s.st_nlink), (MODE_FILE, 11, 1));
    assert_eq!(fs.fsize(id), Ok(11));
    let mut buf = [0u8; 5];
    assert_eq!(fs.read(id, &mut buf, 6), Ok(5));
    assert_eq!(&buf, b"world");
    assert_eq!(fs.read(id, &mut buf, 11), Ok(0));
    assert_eq!(fs.fsync(id), Ok(()));

    // Grow with ftruncate: zeroes; shrink: the tail reads zero after regrowing.
    assert_eq!(fs.ftruncate(id, 3 * PAGE), Ok(()));
    let all = read_all(&mut fs, id);
    assert_eq!((&all[..11], all[11..].iter().all(|&b| b == 0)), (&b"hello world"[..], true));
    assert_eq!(fs.ftruncate(id, 4), Ok(()));
    assert_eq!(fs.ftruncate(id, 8), Ok(()));
    assert_eq!(read_all(&mut fs, id), b"hell\0\0\0\0");
    assert_eq!(fs.pages().open.len(), 1, "only the file's one page is open");

    // Other opens of the same file see the data; O_TRUNC empties it.
    let again = open(&mut fs, "f", O_RDONLY).unwrap();
    assert_eq!(read_all(&mut fs, again), b"hell\0\0\0\0");
    assert_eq!(fs.write(again, b"x", 0), Err(Error::new(EBADF)), "read-only open");
    assert_eq!(fs.ftruncate(again, 0), Err(Error::new(EBADF)));
    let trunc = open(&mut fs, "/f", O_WRONLY | O_TRUNC).unwrap();
    assert_eq!(stat(&mut fs, again).st_size, 0);
    assert_eq!(fs.read(trunc, &mut buf, 0), Err(Error::new(EBADF)), "write-only open");

    // O_APPEND writes at the end whatever the offset.
    let append = open(&mut fs, "/f", O_WRONLY | O_APPEND).unwrap();
    assert_eq!(fs.write(append, b"ab", 0), Ok(2));
    assert_eq!(fs.write(append, b"cd", 0), Ok(2));
    assert_eq!(read_all(&mut fs, again), b"abcd");

    // Limits.
    assert_eq!(fs.write(id, b"x", MAX_FILE_BYTES), Err(Error::new(EFBIG)));
    assert_eq!(fs.ftruncate(id, MAX_FILE_BYTES + 1), Err(Error::new(EFBIG)));

    for handle in [id, again, trunc, append] {
        fs.close(handle);
    }
    assert_eq!(fs.unlinkat("/f", 0, &CTX), Ok(()));
    assert_empty(&fs);
}

#[test]
fn open_flags_and_errors() {
    let mut fs = fs();
    touch(&mut fs, "/f", b"");
    assert_eq!(open(&mut fs, "/f", O_CREAT | O_EXCL | O_RDWR), Err(Error::new(EEXIST)));
    assert_eq!(open(&mut fs, "/missing", O_RDONLY), Err(Error::new(ENOENT)));
    assert_eq!(open(&mut fs, "/no/such/dir", O_CREAT | O_RDWR), Err(Error::new(ENOENT)));
    assert_eq!(open(&mut fs, "/f/x", O_CREAT | O_RDWR), Err(Error::new(ENOTDIR)));
    assert_eq!(open(&mut fs, "/f/", O_RDONLY), Err(Error::new(ENOTDIR)));
    assert_eq!(open(&mut fs, "/f", O_RDONLY | O_DIRECTORY), Err(Error::new(ENOTDIR)));
    assert_eq!(open(&mut fs, "/new/", O_CREAT | O_RDWR), Err(Error::new(EISDIR)));
    assert_eq!(open(&mut fs, "/", O_RDWR), Err(Error::new(EISDIR)));
    assert_eq!(open(&mut fs, "/a\0b", O_CREAT | O_RDWR), Err(Error::new(EINVAL)));
    assert_eq!(open(&mut fs, &"n".repeat(256), O_CREAT | O_RDWR), Err(Error::new(ENAMETOOLONG)));
    assert_eq!(open(&mut fs, "/", O_CREAT | O_EXCL | O_DIRECTORY), Err(Error::new(EEXIST)));

    // Path forms: `..` above the root stays there, `//` and `.` vanish.
    for path in ["f", "//f", "/./f", "/../../f", "/.ramfs/../f"] {
        let id = open(&mut fs, path, O_RDONLY).unwrap_or_else(|e| panic!("{path}: {e}"));
        fs.close(id);
    }
    let root = open(&mut fs, "", O_RDONLY).unwrap();
    let s = stat(&mut fs, root);
    assert_eq!((s.st_mode & MODE_TYPE, s.st_ino, s.st_nlink), (MODE_DIR, 1, 2));
    assert_eq!(fs.read(root, &mut [0u8; 4], 0), Err(Error::new(EISDIR)));
    fs.close(root);
    assert_eq!(fs.unlinkat("f", 0, &CTX), Ok(()));
    assert_empty(&fs);
}

#[test]
fn directories() {
    let mut fs = fs();
    assert_eq!(mkdir(&mut fs, "/d"), Ok(()));
    assert_eq!(mkdir(&mut fs, "/d"), Err(Error::new(EEXIST)));
    assert_eq!(mkdir(&mut fs, "/d/e/"), Ok(()));
    assert_eq!(mkdir(&mut fs, "/x/y"), Err(Error::new(ENOENT)));
    assert_eq!(open(&mut fs, "/d2", O_CREAT | O_DIRECTORY | O_RDWR), Err(Error::new(EISDIR)));
    touch(&mut fs, "/d/file", b"1");
    let d = open(&mut fs, "/d", O_RDONLY).unwrap();
    assert_eq!(stat(&mut fs, d).st_nlink, 3, "2 + one subdirectory");
    fs.close(d);

    assert_eq!(fs.unlinkat("/d", AT_REMOVEDIR, &CTX), Err(Error::new(ENOTEMPTY)));
    assert_eq!(fs.unlinkat("/d", 0, &CTX), Err(Error::new(EISDIR)));
    assert_eq!(fs.unlinkat("/d/file", AT_REMOVEDIR, &CTX), Err(Error::new(ENOTDIR)));
    assert_eq!(fs.unlinkat("/d/file/", 0, &CTX), Err(Error::new(ENOTDIR)));
    assert_eq!(fs.unlinkat("/d/nope", 0, &CTX), Err(Error::new(ENOENT)));
    assert_eq!(fs.unlinkat("/d/file/x", 0, &CTX), Err(Error::new(ENOTDIR)));
    assert_eq!(fs.unlinkat("/", AT_REMOVEDIR, &CTX), Err(Error::new(EBUSY)));
    assert_eq!(fs.unlinkat("/d/.", AT_REMOVEDIR, &CTX), Err(Error::new(EINVAL)));
    assert_eq!(fs.unlinkat("/d/e/..", AT_REMOVEDIR, &CTX), Err(Error::new(ENOTEMPTY)));
    assert_eq!(fs.unlinkat("/d/file", 0x1, &CTX), Err(Error::new(EINVAL)));

    assert_eq!(fs.unlinkat("/d/file", 0, &CTX), Ok(()));
    assert_eq!(fs.unlinkat("/d/e/", AT_REMOVEDIR, &CTX), Ok(()));
    assert_eq!(fs.unlinkat("/d", AT_REMOVEDIR, &CTX), Ok(()));
    assert_empty(&fs);
}

#[test]
fn listings_in_small_pieces() {
    let mut fs = fs();
    let names: Vec<String> = (0..20).map(|i| std::format!("entry-{i:02}")).collect();
    for name in &names {
        touch(&mut fs, &std::format!("/{name}"), b"");
    }
    mkdir(&mut fs, "/sub").unwrap();
    let mut want = vec![String::from("."), "..".into()];
    want.extend(names.iter().cloned());
    want.push("sub".into());
    // One record per call, and everything at once: the same listing;
    // `/.ramfs` is not in it.
    assert_eq!(listing(&mut fs, "/", dirent::record_bytes(8)), want);
    assert_eq!(listing(&mut fs, "/", 2 * dirent::record_bytes(8) - 1), want);
    assert_eq!(listing(&mut fs, "/", 4096), want);
    assert_eq!(listing(&mut fs, "/.ramfs", 4096), [".", "..", "pins", "ctl"]);

    // Changes between calls: entries that stay come exactly once.
    let id = open(&mut fs, "/", O_RDONLY).unwrap();
    let mut buf = vec![0u8; 4 * dirent::record_bytes(8)];
    let n = fs.getdents(id, &mut buf, 0).unwrap();
    let first: Vec<_> = dirent::entries(&buf[..n]).map(Result::unwrap).collect();
    assert_eq!(first.len(), 4);
    let opaque = first[3].next_opaque_id;
    assert!(matches!(first[0].kind, DirentKind::Directory) && matches!(first[2].kind, DirentKind::Regular));
    fs.unlinkat("/entry-00", 0, &CTX).unwrap(); // already listed
    fs.unlinkat("/entry-05", 0, &CTX).unwrap(); // not yet listed: gone
    touch(&mut fs, "/late", b""); // comes at the end
    let mut rest = Vec::new();
    let mut at = opaque;
    loop {
        let n = fs.getdents(id, &mut buf, at).unwrap();
        if n == 0 {
            break;
        }
        for entry in dirent::entries(&buf[..n]).map(Result::unwrap) {
            rest.push(String::from_utf8(entry.name.to_vec()).unwrap());
            at = entry.next_opaque_id;
        }
    }
    let mut expected: Vec<String> = names[2..].iter().filter(|n| *n != "entry-05").cloned().collect();
    expected.extend(["sub".into(), "late".into()]);
    assert_eq!(rest, expected);

    assert_eq!(fs.getdents(id, &mut [0u8; 8], 0), Err(Error::new(EINVAL)), "no room for a record");
    fs.close(id);
    let file = open(&mut fs, "/late", O_RDONLY).unwrap();
    assert_eq!(fs.getdents(file, &mut buf, 0), Err(Error::new(ENOTDIR)));
    fs.close(file);
}

#[test]
fn renames() {
    let mut fs = fs();
    mkdir(&mut fs, "/a").unwrap();
    mkdir(&mut fs, "/b").unwrap();
    let f = create(&mut fs, "/a/f", b"first");
    let g = create(&mut fs, "/b/g", b"second");

    assert_eq!(fs.frename(f, "/b/f2", &CTX), Ok(()));
    assert_eq!(open(&mut fs, "/a/f", O_RDONLY), Err(Error::new(ENOENT)));
    assert_eq!(listing(&mut fs, "/b", 4096), [".", "..", "g", "f2"]);
    // Onto an existing file: replaced; the replaced file stays readable
    // through its handle.
    assert_eq!(fs.frename(f, "/b/g", &CTX), Ok(()));
    assert_eq!(listing(&mut fs, "/b", 4096), [".", "..", "g"]);
    assert_eq!(read_all(&mut fs, g), b"second");
    let now = open(&mut fs, "/b/g", O_RDONLY).unwrap();
    assert_eq!(read_all(&mut fs, now), b"first");
    fs.close(now);
    assert_eq!(fs.frename(f, "/b/g", &CTX), Ok(()), "onto itself");
    assert_eq!(fs.frename(g, "/x", &CTX), Err(Error::new(ENOENT)), "a removed file");
    fs.close(g);

    let a = open(&mut fs, "/a", O_RDONLY).unwrap();
    mkdir(&mut fs, "/c").unwrap();
    touch(&mut fs, "/c/x", b"");
    assert_eq!(fs.frename(f, "/a", &CTX), Err(Error::new(EISDIR)), "a file onto a directory");
    assert_eq!(fs.frename(a, "/b/g", &CTX), Err(Error::new(ENOTDIR)), "a directory onto a file");
    assert_eq!(fs.frename(a, "/c", &CTX), Err(Error::new(ENOTEMPTY)));
    assert_eq!(fs.frename(f, "/b/g/", &CTX), Err(Error::new(ENOTDIR)));
    assert_eq!(fs.frename(f, "/nope/g", &CTX), Err(Error::new(ENOENT)));
    assert_eq!(fs.frename(f, "/", &CTX), Err(Error::new(EBUSY)));
    assert_eq!(fs.frename(f, "/.ramfs/x", &CTX), Err(Error::new(EACCES)));
    mkdir(&mut fs, "/a/inner").unwrap();
    assert_eq!(fs.frename(a, "/a/inner/a", &CTX), Err(Error::new(EINVAL)), "into itself");
    fs.unlinkat("/a/inner", AT_REMOVEDIR, &CTX).unwrap();
    fs.unlinkat("/c/x", 0, &CTX).unwrap();
    // A directory onto an empty one: replaced; it moves with its contents.
    touch(&mut fs, "/a/inside", b"in");
    assert_eq!(fs.frename(a, "/c", &CTX), Ok(()));
    assert_eq!(listing(&mut fs, "/", 4096), [".", "..", "b", "c"]);
    let inside = open(&mut fs, "/c/inside", O_RDONLY).unwrap();
    assert_eq!(read_all(&mut fs, inside), b"in");
    fs.close(inside);
    let root = open(&mut fs, "/", O_RDONLY).unwrap();
    assert_eq!(fs.frename(root, "/r", &CTX), Err(Error::new(EBUSY)));
    fs.close(root);

    for handle in [f, a] {
        fs.close(handle);
    }
    for path in ["/c/inside", "/b/g"] {
        fs.unlinkat(path, 0, &CTX).unwrap();
    }
    for dir in ["/c", "/b"] {
        fs.unlinkat(dir, AT_REMOVEDIR, &CTX).unwrap();
    }
    assert_empty(&fs);
}

#[test]
fn an_unlinked_file_lives_while_open() {
    let mut fs = fs();
    let id = create(&mut fs, "/gone", &vec![7u8; 3 * PAGE_BYTES]);
    assert_eq!(fs.unlinkat("/gone", 0, &CTX), Ok(()));
    assert_eq!(listing(&mut fs, "/", 4096), [".", ".."]);
    assert_eq!(open(&mut fs, "/gone", O_RDONLY), Err(Error::new(ENOENT)));
    assert_eq!(read_all(&mut fs, id).len(), 3 * PAGE_BYTES);
    assert_eq!(fs.write(id, b"still", 0), Ok(5));
    assert_eq!(stat(&mut fs, id).st_nlink, 0);
    assert_eq!(fs.pages().resident(), 3);
    fs.close(id);
    assert_empty(&fs);

    // A removed directory lists nothing and takes no new entries.
    mkdir(&mut fs, "/d").unwrap();
    let d = open(&mut fs, "/d", O_RDONLY).unwrap();
    fs.unlinkat("/d", AT_REMOVEDIR, &CTX).unwrap();
    assert_eq!(fs.getdents(d, &mut [0u8; 256], 0), Ok(0));
    assert_eq!(open(&mut fs, "/d/x", O_CREAT | O_RDWR), Err(Error::new(ENOENT)));
    fs.close(d);
    assert_empty(&fs);
}

const PROT_READ: usize = MapFlags::PROT_READ.bits();
const PROT_WRITE: usize = MapFlags::PROT_WRITE.bits();
const MAP_SHARED: usize = MapFlags::MAP_SHARED.bits();
const MAP_PRIVATE: usize = MapFlags::MAP_PRIVATE.bits();
const NEEDS_SYNC: usize = MunmapFlags::NEEDS_SYNC.bits();

fn pins_text(fs: &mut Ramfs<FakePages>) -> String {
    let id = open(fs, "/.ramfs/pins", O_RDONLY).unwrap();
    let text = String::from_utf8(read_all(fs, id)).unwrap();
    fs.close(id);
    text
}

#[test]
fn lending_pages() {
    let mut fs = fs();
    let id = create(&mut fs, "/m", &vec![1u8; 2 * PAGE_BYTES + 5]);
    let ino = stat(&mut fs, id).st_ino;
    let shared_rw = PROT_READ | PROT_WRITE | MAP_SHARED;
    let base = fs.mmap_prep(id, 0, PAGE_BYTES, shared_rw, &CTX).unwrap();
    assert_eq!(base % PAGE_BYTES, 0);
    // Past the end of file is fine (the kernel gives SIGBUS there).
    assert_eq!(fs.mmap_prep(id, PAGE, 5 * PAGE_BYTES, shared_rw, &CTX), Ok(base + PAGE_BYTES));
    assert_eq!(pins_text(&mut fs), std::format!("6 {ino} /m\ntotal 6\n"));

    let bad = [
        (PAGE / 2, PAGE_BYTES, EINVAL),
        (0, 0, EINVAL),
        (MAX_FILE_BYTES - PAGE, 2 * PAGE_BYTES, EINVAL),
        (u64::MAX - PAGE + 1, PAGE_BYTES, EINVAL),
    ];
    for (offset, size, errno) in bad {
        assert_eq!(fs.mmap_prep(id, offset, size, shared_rw, &CTX), Err(Error::new(errno)), "{offset:#x}+{size:#x}");
    }
    assert_eq!(fs.mmap_prep(99, 0, PAGE_BYTES, PROT_READ, &CTX), Err(Error::new(EBADF)));
    let read_only = open(&mut fs, "/m", O_RDONLY).unwrap();
    assert_eq!(fs.mmap_prep(read_only, 0, PAGE_BYTES, shared_rw, &CTX), Err(Error::new(EACCES)));
    assert_eq!(fs.mmap_prep(read_only, 0, PAGE_BYTES, PROT_READ | PROT_WRITE | MAP_PRIVATE, &CTX), Ok(base));
    let root = open(&mut fs, "/", O_RDONLY).unwrap();
    assert_eq!(fs.mmap_prep(root, 0, PAGE_BYTES, PROT_READ, &CTX), Err(Error::new(EISDIR)));
    fs.close(root);

    // Unpinning: never more than pinned; the knob fails the write-back only.
    assert_eq!(fs.munmap(id, 0, 8 * PAGE_BYTES, 0, &CTX), Err(Error::new(EINVAL)));
    assert_eq!(fs.munmap(read_only, 0, PAGE_BYTES, 0, &CTX), Ok(()));
    assert_eq!(fs.msync(id, 0, PAGE_BYTES, 4, &CTX), Ok(()));
    let ctl = open(&mut fs, "/.ramfs/ctl", O_WRONLY).unwrap();
    assert_eq!(fs.write(ctl, b"fail-writeback /m on\n", 0), Ok(21));
    assert_eq!(fs.msync(id, 0, PAGE_BYTES, 4, &CTX), Err(Error::new(EIO)));
    assert_eq!(fs.munmap(id, 0, PAGE_BYTES, 0, &CTX), Ok(()), "no write-back asked");
    assert_eq!(fs.munmap(id, PAGE, PAGE_BYTES, NEEDS_SYNC, &CTX), Err(Error::new(EIO)));
    assert_eq!(pins_text(&mut fs), std::format!("4 {ino} /m\ntotal 4\n"), "pins dropped despite EIO");
    for bad in [&b"fail-writeback /m maybe"[..], b"fail-writeback /nope on", b"frobnicate", b"fail-writeback / on"] {
        assert!(fs.write(ctl, bad, 0).is_err(), "{:?}", String::from_utf8_lossy(bad));
    }
    assert_eq!(fs.write(ctl, b"fail-writeback /m off", 0), Ok(21));
    fs.close(ctl);

    // A pinned file outlives its removal; its pins go with the handle's
    // Munmaps, or with the handle when it closes first (a client that gave
    // up on its MmapPrep: the kernel's Munmap then comes after the Close).
    fs.close(read_only);
    fs.unlinkat("/m", 0, &CTX).unwrap();
    assert_eq!(pins_text(&mut fs), std::format!("4 {ino} (removed)\ntotal 4\n"));
    assert_eq!(fs.munmap(id, 0, 3 * PAGE_BYTES, 0, &CTX), Ok(()));
    assert_eq!(pins_text(&mut fs), std::format!("1 {ino} (removed)\ntotal 1\n"));
    assert_eq!(fs.pages().resident(), 3, "the data is still there");
    fs.close(id);
    assert_eq!(pins_text(&mut fs), "total 0\n");
    assert_eq!(fs.munmap(id, 0, PAGE_BYTES, 0, &CTX), Err(Error::new(EBADF)), "the late Munmap");
    assert_empty(&fs);

    // Pins are per handle: another handle cannot give them back.
    let a = create(&mut fs, "/n", b"x");
    let b = open(&mut fs, "/n", O_RDONLY).unwrap();
    fs.mmap_prep(a, 0, PAGE_BYTES, PROT_READ | MAP_SHARED, &CTX).unwrap();
    assert_eq!(fs.munmap(b, 0, PAGE_BYTES, 0, &CTX), Err(Error::new(EINVAL)));
    assert_eq!(fs.munmap(a, 0, PAGE_BYTES, 0, &CTX), Ok(()));
    fs.close(a);
    fs.close(b);
    fs.unlinkat("/n", 0, &CTX).unwrap();
    assert_empty(&fs);
}

#[test]
fn the_control_directory() {
    let mut fs = fs();
    assert_eq!(open(&mut fs, "/.ramfs/pins", O_RDWR), Err(Error::new(EACCES)));
    assert_eq!(open(&mut fs, "/.ramfs/ctl", O_RDONLY), Err(Error::new(EACCES)));
    assert_eq!(open(&mut fs, "/.ramfs/new", O_CREAT | O_RDWR), Err(Error::new(EACCES)));
    assert_eq!(mkdir(&mut fs, "/.ramfs/d"), Err(Error::new(EACCES)));
    assert_eq!(fs.unlinkat("/.ramfs/pins", 0, &CTX), Err(Error::new(EPERM)));
    assert_eq!(fs.unlinkat("/.ramfs", AT_REMOVEDIR, &CTX), Err(Error::new(EPERM)));
    let pins = open(&mut fs, "/.ramfs/pins", O_RDONLY).unwrap();
    assert_eq!(read_all(&mut fs, pins), b"total 0\n");
    assert_eq!(fs.frename(pins, "/p", &CTX), Err(Error::new(EPERM)));
    assert_eq!(fs.mmap_prep(pins, 0, PAGE_BYTES, PROT_READ, &CTX), Err(Error::new(EACCES)));
    fs.close(pins);
    let f = create(&mut fs, "/f", b"");
    assert_eq!(fs.frename(f, "/.ramfs", &CTX), Err(Error::new(EPERM)));
    fs.close(f);
    fs.unlinkat("/f", 0, &CTX).unwrap();
    assert_empty(&fs);
}

#[test]
fn out_of_address_space() {
    let mut fs = Ramfs::new(FakePages { reserve_limit: Some(1), ..FakePages::default() });
    touch(&mut fs, "/one", b"");
    assert_eq!(open(&mut fs, "/two", O_CREAT | O_RDWR), Err(Error::new(ENOSPC)));
    assert_eq!(listing(&mut fs, "/", 4096), [".", "..", "one"], "nothing half-made");
}
