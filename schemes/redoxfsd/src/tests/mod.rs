//! Host tests of the whole scheme: a RedoxFS on a disk in memory, the
//! cache in fake pages that check every access, the requests as the
//! kernel sends them, and the disk mounted again to see what reached it.
//! Here: the harness and the path calls; [`fmap`] mappings and write-back,
//! [`eviction`] the cache's limit, [`records`] compressed-record write-back.

mod eviction;
mod fmap;
mod records;

use std::collections::BTreeMap;
use std::vec;
use std::vec::Vec;

use tessera_ramfs::{PAGE_BYTES, Pages};
use tessera_runtime::abi::Stat;
use tessera_runtime::abi::error::*;
use tessera_runtime::abi::flag::{
    AT_REMOVEDIR, MapFlags, O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY,
};
use tessera_runtime::abi::scheme::MunmapFlags;
use tessera_runtime::mm::{MS_ASYNC, MS_SYNC};
use tessera_runtime::scheme::{CallerCtx, Scheme};
use tessera_runtime::{Error, Result};

use crate::Redoxfsd;
use crate::cache::CachePages;
use crate::disk::mem::MemDisk;

const PAGE: u64 = PAGE_BYTES as u64;
const CTX: CallerCtx = CallerCtx { pid: 1, uid: 0, gid: 0 };
const DISK_BYTES: usize = 16 << 20;

/// Fake memory for the cache: the windows reserved (base, bytes) in the
/// order made, and each open page with its bytes once written (`None`:
/// open, never written: it costs no memory); pages set aside (read-only),
/// pages set aside for lending (sealed: open, the kernel lends them only
/// when asked) and the ranges taken back. Every access is checked.
#[derive(Default)]
struct FakePages {
    windows: Vec<(usize, usize)>,
    made: usize,
    pages: BTreeMap<usize, Option<Vec<u8>>>,
    aside: std::collections::BTreeSet<usize>,
    taken_back: Vec<(usize, usize)>,
    /// Pages set aside for lending ([`CachePages::lend_aside`]).
    lent_aside: std::collections::BTreeSet<usize>,
}

impl FakePages {
    /// Each page of `[addr, addr + len)`.
    fn each(addr: usize, len: usize) -> impl Iterator<Item = usize> {
        (addr / PAGE_BYTES * PAGE_BYTES..addr + len).step_by(PAGE_BYTES)
    }

    fn is_open(&self, page: usize) -> bool {
        self.pages.contains_key(&page)
    }

    /// Pages written (holding memory).
    fn holding(&self) -> usize {
        self.pages.values().filter(|bytes| bytes.is_some()).count()
    }

    /// Calls `f(page, offset in page, offset in buffer, length)` per page piece.
    fn pieces(addr: usize, len: usize, mut f: impl FnMut(usize, usize, usize, usize)) {
        let mut done = 0;
        while done < len {
            let at = addr + done;
            let (page, inside) = (at / PAGE_BYTES * PAGE_BYTES, at % PAGE_BYTES);
            let n = (PAGE_BYTES - inside).min(len - done);
            f(page, inside, done, n);
            done += n;
        }
    }
}

impl Pages for FakePages {
    fn reserve(&mut self, bytes: usize) -> Result<usize> {
        self.made += 1;
        // Each window far from the others: an overrun would hit nothing.
        let base = self.made << 40;
        self.windows.push((base, bytes));
        Ok(base)
    }
    fn release(&mut self, base: usize, bytes: usize) {
        let before = self.windows.len();
        self.windows.retain(|&window| window != (base, bytes));
        assert_eq!(self.windows.len() + 1, before, "released a window that was reserved");
        self.pages.retain(|&page, _| page < base || page >= base + bytes);
        self.aside.retain(|&page| page < base || page >= base + bytes);
        self.lent_aside.retain(|&page| page < base || page >= base + bytes);
    }
    fn open_up(&mut self, addr: usize, bytes: usize) -> Result<()> {
        for page in Self::each(addr, bytes) {
            if self.aside.remove(&page) {
                self.pages.entry(page).or_insert(None);
            } else {
                assert!(self.pages.insert(page, None).is_none(), "page {page:#x} opened twice");
            }
        }
        Ok(())
    }
    /// Pages past a new end of file: open, set aside or never opened.
    fn close_down(&mut self, addr: usize, bytes: usize) -> Result<()> {
        for page in Self::each(addr, bytes) {
            assert!(!self.lent_aside.contains(&page), "page {page:#x} closed while set aside for lending");
            self.pages.remove(&page);
            self.aside.remove(&page);
        }
        Ok(())
    }
    fn read(&self, addr: usize, out: &mut [u8]) {
        Self::pieces(addr, out.len(), |page, inside, at, n| match self.pages.get(&page) {
            Some(Some(bytes)) => out[at..at + n].copy_from_slice(&bytes[inside..inside + n]),
            Some(None) => out[at..at + n].fill(0),
            None => panic!("read of page {page:#x}, which is not open"),
        });
    }
    fn write(&mut self, addr: usize, data: &[u8]) {
        Self::pieces(addr, data.len(), |page, inside, at, n| {
            assert!(!self.aside.contains(&page), "write to page {page:#x}, which is set aside");
            assert!(!self.lent_aside.contains(&page), "write to page {page:#x}, which is sealed");
            let slot =
                self.pages.get_mut(&page).unwrap_or_else(|| panic!("write to page {page:#x}, which is not open"));
            slot.get_or_insert_with(|| vec![0; PAGE_BYTES])[inside..inside + n].copy_from_slice(&data[at..at + n]);
        });
    }
}

impl CachePages for FakePages {
    fn set_aside(&mut self, addr: usize, bytes: usize) -> Result<()> {
        self.aside.extend(Self::each(addr, bytes));
        Ok(())
    }
    fn take_back(&mut self, addr: usize, bytes: usize) -> Result<()> {
        for page in Self::each(addr, bytes) {
            let aside = self.aside.contains(&page) || self.lent_aside.contains(&page);
            assert!(aside, "page {page:#x} taken back but not set aside");
        }
        self.taken_back.push((addr, bytes));
        Ok(())
    }
    fn forget(&mut self, addr: usize, bytes: usize) -> Result<()> {
        for page in Self::each(addr, bytes) {
            assert!(self.aside.contains(&page), "page {page:#x} forgotten but not set aside");
            assert!(!self.lent_aside.contains(&page), "page {page:#x} forgotten while set aside for lending");
            self.pages.remove(&page);
        }
        Ok(())
    }
    /// Only open pages (as the kernel's: memory the space owns).
    fn lend_aside(&mut self, addr: usize, bytes: usize) -> Result<()> {
        for page in Self::each(addr, bytes) {
            assert!(self.is_open(page) && !self.aside.contains(&page), "page {page:#x} lent aside but not open");
            self.lent_aside.insert(page);
        }
        Ok(())
    }
    fn lend_open(&mut self, addr: usize, bytes: usize) -> Result<()> {
        for page in Self::each(addr, bytes) {
            self.lent_aside.remove(&page);
        }
        Ok(())
    }
}

type Fs = Redoxfsd<MemDisk, FakePages>;

fn clock() -> (u64, u32) {
    (1_700_000_000, 0)
}

fn new_fs() -> Fs {
    Redoxfsd::mkfs(MemDisk::new(DISK_BYTES), FakePages::default(), clock).expect("mkfs")
}

/// Unmounts (drops the daemon's state) and mounts the same disk again.
fn remount(fs: Fs) -> Fs {
    Redoxfsd::mount(fs.into_device(), FakePages::default(), clock).expect("mount again")
}

fn open(fs: &mut Fs, path: &str, flags: usize) -> Result<usize> {
    fs.open(path, flags, &CTX).map(|o| o.id)
}

fn read_all(fs: &mut Fs, id: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 5000];
    loop {
        let n = fs.read(id, &mut buf, out.len() as u64).expect("read");
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

fn size(fs: &mut Fs, id: usize) -> u64 {
    let mut stat = Stat::default();
    fs.fstat(id, &mut stat).expect("fstat");
    stat.st_size
}

fn names(fs: &mut Fs, path: &str) -> Vec<String> {
    let id = open(fs, path, O_RDONLY | O_DIRECTORY).expect("open dir");
    let mut buf = vec![0u8; 4096];
    let n = fs.getdents(id, &mut buf, 0).expect("getdents");
    let mut out: Vec<String> = tessera_runtime::abi::dirent::entries(&buf[..n])
        .map(|e| String::from_utf8_lossy(e.expect("well-formed").name).into_owned())
        .collect();
    out.sort();
    fs.close(id);
    out
}

fn pins_total(fs: &mut Fs) -> u64 {
    let id = open(fs, "/.redoxfsd/pins", O_RDONLY).expect("pins");
    let text = String::from_utf8(read_all(fs, id)).expect("text");
    fs.close(id);
    text.lines().last().and_then(|l| l.strip_prefix("total ")).and_then(|n| n.parse().ok()).expect("total line")
}

use std::string::String;

#[test]
fn files_directories_and_errnos() {
    let mut fs = new_fs();
    let f = open(&mut fs, "/a.txt", O_CREAT | O_RDWR).unwrap();
    assert_eq!(fs.write(f, b"hello world", 0), Ok(11));
    assert_eq!(read_all(&mut fs, f), b"hello world");
    assert_eq!(size(&mut fs, f), 11);
    assert_eq!(fs.ftruncate(f, 5), Ok(()));
    assert_eq!(read_all(&mut fs, f), b"hello");
    fs.close(f);
    let g = open(&mut fs, "a.txt", O_WRONLY | O_APPEND).unwrap();
    assert_eq!(fs.write(g, b"!", 0), Ok(1));
    assert_eq!(fs.read(g, &mut [0; 4], 0), Err(Error::new(EBADF)));
    fs.close(g);
    let r = open(&mut fs, "/a.txt", O_RDONLY).unwrap();
    assert_eq!(read_all(&mut fs, r), b"hello!");
    assert_eq!(fs.write(r, b"x", 0), Err(Error::new(EBADF)));
    assert_eq!(fs.ftruncate(r, 0), Err(Error::new(EBADF)));
    fs.close(r);

    assert_eq!(open(&mut fs, "/a.txt", O_CREAT | O_EXCL | O_RDWR), Err(Error::new(EEXIST)));
    assert_eq!(open(&mut fs, "/nope", O_RDONLY), Err(Error::new(ENOENT)));
    assert_eq!(open(&mut fs, "/a.txt/x", O_RDONLY), Err(Error::new(ENOTDIR)));
    assert_eq!(open(&mut fs, "/a.txt/", O_RDONLY), Err(Error::new(ENOTDIR)));
    assert_eq!(open(&mut fs, "/a.txt", O_RDONLY | O_DIRECTORY), Err(Error::new(ENOTDIR)));

    let d = open(&mut fs, "/dir", O_CREAT | O_DIRECTORY | O_RDONLY).unwrap();
    fs.close(d);
    assert_eq!(open(&mut fs, "/dir", O_RDWR), Err(Error::new(EISDIR)));
    let inner = open(&mut fs, "/dir/inner", O_CREAT | O_RDWR).unwrap();
    assert_eq!(fs.write(inner, b"in", 0), Ok(2));
    let dir = open(&mut fs, "/dir", O_RDONLY).unwrap();
    assert_eq!(fs.read(dir, &mut [0; 4], 0), Err(Error::new(EISDIR)));
    fs.close(dir);
    assert_eq!(names(&mut fs, "/"), [".", "..", "a.txt", "dir"]);
    assert_eq!(names(&mut fs, "/dir"), [".", "..", "inner"]);
    assert_eq!(fs.getdents(inner, &mut [0; 64], 0), Err(Error::new(ENOTDIR)));

    assert_eq!(fs.unlinkat("/dir", AT_REMOVEDIR, &CTX), Err(Error::new(ENOTEMPTY)));
    assert_eq!(fs.unlinkat("/dir", 0, &CTX), Err(Error::new(EISDIR)));
    assert_eq!(fs.unlinkat("/a.txt", AT_REMOVEDIR, &CTX), Err(Error::new(ENOTDIR)));
    assert_eq!(fs.unlinkat("/", AT_REMOVEDIR, &CTX), Err(Error::new(EBUSY)));
    assert_eq!(fs.unlinkat("/missing", 0, &CTX), Err(Error::new(ENOENT)));

    // rename: a file over a file, into a directory, a dir over a file.
    assert_eq!(fs.frename(inner, "/moved", &CTX), Ok(()));
    assert_eq!(names(&mut fs, "/dir"), [".", ".."]);
    assert_eq!(fs.frename(inner, "/dir", &CTX), Err(Error::new(EISDIR)));
    assert_eq!(fs.frename(inner, "/a.txt", &CTX), Ok(()));
    assert_eq!(read_all(&mut fs, inner), b"in");
    fs.close(inner);
    let dir = open(&mut fs, "/dir", O_RDONLY).unwrap();
    assert_eq!(fs.frename(dir, "/dir/sub", &CTX), Err(Error::new(EINVAL)));
    assert_eq!(fs.frename(dir, "/a.txt", &CTX), Err(Error::new(ENOTDIR)));
    fs.close(dir);
    assert_eq!(fs.unlinkat("/dir", AT_REMOVEDIR, &CTX), Ok(()));
    assert_eq!(names(&mut fs, "/"), [".", "..", "a.txt"]);

    // An unlinked file stays readable through its handle.
    let h = open(&mut fs, "/a.txt", O_RDONLY).unwrap();
    assert_eq!(fs.unlinkat("/a.txt", 0, &CTX), Ok(()));
    assert_eq!(read_all(&mut fs, h), b"in");
    fs.close(h);
    assert_eq!(open(&mut fs, "/a.txt", O_RDONLY), Err(Error::new(ENOENT)));

    // The size limit.
    let big = open(&mut fs, "/big", O_CREAT | O_RDWR).unwrap();
    assert_eq!(fs.write(big, b"x", crate::io::MAX_FILE_BYTES), Err(Error::new(EFBIG)));
    assert_eq!(fs.write(big, b"abcd", crate::io::MAX_FILE_BYTES - 2), Ok(2), "cut short at the limit");
    assert_eq!(size(&mut fs, big), crate::io::MAX_FILE_BYTES);
    assert_eq!(fs.read(big, &mut [0; 4], u64::MAX - 1), Ok(0));
    assert_eq!(fs.ftruncate(big, crate::io::MAX_FILE_BYTES + 1), Err(Error::new(EFBIG)));
    assert_eq!(fs.ftruncate(big, 0), Ok(()));
    fs.close(big);
    assert_eq!(fs.unlinkat("/big", 0, &CTX), Ok(()));

    // The control directory cannot be used as a place for files.
    assert_eq!(open(&mut fs, "/.redoxfsd/x", O_CREAT | O_RDWR), Err(Error::new(ENOENT)));
    assert_eq!(open(&mut fs, "/.redoxfsd/pins", O_RDWR), Err(Error::new(EACCES)));
    assert_eq!(fs.unlinkat("/.redoxfsd/pins", 0, &CTX), Err(Error::new(EPERM)));
    assert_eq!(fs.open_handles(), 0);
}

#[test]
fn data_survives_a_remount() {
    let mut fs = new_fs();
    let f = open(&mut fs, "/big", O_CREAT | O_RDWR).unwrap();
    let data: Vec<u8> = (0..300_000).map(|i| (i % 251) as u8).collect();
    assert_eq!(fs.write(f, &data, 0), Ok(data.len()));
    fs.close(f);
    let d = open(&mut fs, "/keep", O_CREAT | O_DIRECTORY | O_RDONLY).unwrap();
    fs.close(d);
    let mut fs = remount(fs);
    let f = open(&mut fs, "/big", O_RDONLY).unwrap();
    assert_eq!(read_all(&mut fs, f), data);
    fs.close(f);
    assert_eq!(names(&mut fs, "/"), [".", "..", "big", "keep"]);
    // mkfs on a used disk leaves an empty filesystem.
    let fs = Redoxfsd::mkfs(fs.into_device(), FakePages::default(), clock);
    let mut fs = fs.expect("mkfs again");
    assert_eq!(names(&mut fs, "/"), [".", ".."]);
}

#[test]
fn mkfs_refuses_a_tiny_disk_and_mount_an_empty_one() {
    let tiny = Redoxfsd::mkfs(MemDisk::new(64 * 4096), FakePages::default(), clock);
    assert_eq!(tiny.err(), Some(Error::new(ENOSPC)));
    // No header in the ring: redoxfs reads on past the end of a small disk.
    let blank = Redoxfsd::mount(MemDisk::new(1 << 20), FakePages::default(), clock);
    assert!(matches!(blank.err(), Some(e) if e == Error::new(EIO) || e == Error::new(ENOENT)));
}

const SHARED_RW: usize = MapFlags::MAP_SHARED.bits() | MapFlags::PROT_READ.bits() | MapFlags::PROT_WRITE.bits();
const PRIVATE_RW: usize = MapFlags::MAP_PRIVATE.bits() | MapFlags::PROT_READ.bits() | MapFlags::PROT_WRITE.bits();
const NEEDS_SYNC: usize = MunmapFlags::NEEDS_SYNC.bits();

/// Disk reads so far.
fn disk_reads(fs: &Fs) -> usize {
    fs.fs.disk.inner.reads
}

/// What the kernel does when a client touches a page the cache set aside:
/// MmapPrep of that page, the extra pin given back at once.
fn relend(fs: &mut Fs, id: usize, page: u64) -> usize {
    let addr = fs.mmap_prep(id, page * PAGE, PAGE_BYTES, SHARED_RW, &CTX).expect("lent again");
    fs.munmap(id, page * PAGE, PAGE_BYTES, 0, &CTX).expect("extra pin back");
    addr
}

fn cache_stat(fs: &mut Fs, name: &str) -> u64 {
    let id = open(fs, "/.redoxfsd/cache", O_RDONLY).expect("cache");
    let text = String::from_utf8(read_all(fs, id)).expect("text");
    fs.close(id);
    let prefix = format!("{name} ");
    text.lines().find_map(|l| l.strip_prefix(prefix.as_str())).and_then(|n| n.parse().ok()).expect("cache line")
}

/// The disk under `fs` mounted again, and a copy of it mounted by a
/// second daemon: the two have the same history.
fn twins(fs: Fs) -> (Fs, Fs) {
    let disk = fs.into_device();
    let mut copy = MemDisk::new(0);
    copy.bytes = disk.bytes.clone();
    let mount = |disk| Redoxfsd::mount(disk, FakePages::default(), clock).expect("mount");
    (mount(disk), mount(copy))
}
