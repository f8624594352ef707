//! The filesystem as a scheme: [`Redoxfsd`] holds the RedoxFS, the page
//! cache and the open handles, and answers the requests. This file has the
//! path calls (open/create/mkdir, unlinkat, frename), the handles and the
//! way into redoxfs transactions; `io.rs` the calls on open files,
//! `fmap.rs` the lending of cache pages and `/.redoxfsd/`.
//!
//! Every change is one redoxfs transaction, committed to the device before
//! the answer: a failed one changes nothing on the disk (RedoxFS is
//! copy-on-write; its header is written last) and its errno (EIO, ENOSPC…)
//! is the caller's. A handle keeps its node alive after the node is removed
//! (redoxfs's node usages: POSIX's unlinked-but-open file).

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use redox_syscall_07::error::{Error as DiskError, Result as DiskResult};
use redoxfs::{FileSystem, Node, Transaction, TreeData, TreePtr};
use tessera_runtime::abi::Stat;
use tessera_runtime::abi::error::{EACCES, EBADF, EBUSY, EEXIST, EINVAL, EISDIR, ENOENT, ENOTDIR, EPERM};
use tessera_runtime::abi::flag::{AT_REMOVEDIR, O_CREAT, O_DIRECTORY, O_EXCL, O_RDONLY, O_TRUNC, O_WRONLY};
use tessera_runtime::abi::lock::FileLock;
use tessera_runtime::locks::LockTable;
use tessera_runtime::scheme::{CallerCtx, Opened, Scheme};
use tessera_runtime::{Error, Result};

use crate::cache::{Cache, CachePages};
use crate::disk::{Device, Knobs};
use crate::path::{self, Resolved};

/// The time now: (seconds, nanoseconds) since the epoch, for node times.
pub type Clock = fn() -> (u64, u32);

/// A redoxfs error as the caller's errno (both are Linux numbers).
pub(crate) fn errno(e: DiskError) -> Error {
    Error::new(e.errno)
}

/// What a handle is open on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// A RedoxFS node (file or directory), by tree id.
    Node(u32),
    /// `/.redoxfsd`.
    ControlDir,
    /// `/.redoxfsd/pins`.
    Pins,
    /// `/.redoxfsd/cache`.
    CacheStats,
    /// `/.redoxfsd/ctl`.
    Ctl,
}

/// An open file.
pub(crate) struct Handle {
    pub target: Target,
    pub dir: bool,
    /// The path it was opened (or last renamed) by: frename's source.
    pub path: Resolved,
    /// Cache pages lent through this handle and not given back yet.
    pub pins: u64,
    /// The open's access mode and status flags.
    pub flags: usize,
    /// `/.redoxfsd/pins` and `/.redoxfsd/cache`: the text made when it was
    /// opened.
    pub text: Vec<u8>,
}

/// Redox's access modes are two bits: `O_RDWR` is `O_RDONLY | O_WRONLY`.
impl Handle {
    pub fn readable(&self) -> bool {
        self.flags & O_RDONLY != 0
    }

    pub fn writable(&self) -> bool {
        self.flags & O_WRONLY != 0
    }
}

/// The filesystem on device `D`, its cache in memory `P`.
pub struct Redoxfsd<D: Device, P: tessera_ramfs::Pages> {
    pub(crate) fs: FileSystem<Knobs<D>>,
    pub(crate) cache: Cache<P>,
    pub(crate) handles: BTreeMap<usize, Handle>,
    next_handle: usize,
    pub(crate) clock: Clock,
    /// Record locks (`fcntl` F_SETLK) per node; a node's go with its last
    /// handle (every process holding one has closed the file by then).
    pub(crate) locks: BTreeMap<u32, LockTable>,
    /// File sizes as last read from the disk, by node: MmapPrep and
    /// write-back need the size, and reading the node is a disk request.
    /// Only this daemon changes the filesystem; every call that may change
    /// a size (write, ftruncate, open with O_TRUNC) forgets it first, and
    /// so does a node's last close.
    pub(crate) sizes: BTreeMap<u32, u64>,
    /// The compressor's output buffers for write-backs (`records.rs`): the
    /// daemon's thread's and the helper thread's, kept between them (a
    /// new one is 129 KiB to allocate and zero each time).
    pub(crate) compressed: [Vec<u8>; 2],
    /// Whole records write-backs wrote or found unchanged from their
    /// compressed form (`records.rs`), since the start.
    pub(crate) records: crate::records::Written,
}

impl<D: Device, P: CachePages> Redoxfsd<D, P> {
    /// Mounts the RedoxFS on `disk`. Errors: ENOENT no RedoxFS there (no
    /// valid header; EIO instead when the search for one reads past the
    /// end of a small device), EIO a read failed, ENOKEY an encrypted one.
    pub fn mount(disk: D, pages: P, clock: Clock) -> Result<Self> {
        let fs = FileSystem::open(Knobs::new(disk), None, None, true).map_err(errno)?;
        Self::ready(fs, pages, clock)
    }

    /// Formats `disk` (all of it) as an empty RedoxFS and mounts it.
    /// Errors: ENOSPC too small, EIO a failed write.
    pub fn mkfs(disk: D, pages: P, clock: Clock) -> Result<Self> {
        let fs = crate::mkfs::format(Knobs::new(disk), clock()).map_err(errno)?;
        Self::ready(fs, pages, clock)
    }

    /// The daemon over a mounted `fs`: the device's header ring is where
    /// the filesystem starts, and what is held is sent. EIO if that fails.
    fn ready(mut fs: FileSystem<Knobs<D>>, pages: P, clock: Clock) -> Result<Self> {
        fs.disk.ring = fs.block..fs.block + redoxfs::HEADER_RING;
        fs.disk.drain().map_err(errno)?;
        Ok(Self::with(fs, pages, clock))
    }

    fn with(fs: FileSystem<Knobs<D>>, pages: P, clock: Clock) -> Self {
        Self {
            fs,
            cache: Cache::new(pages),
            handles: BTreeMap::new(),
            next_handle: 0,
            clock,
            locks: BTreeMap::new(),
            sizes: BTreeMap::new(),
            compressed: [Vec::new(), Vec::new()],
            records: crate::records::Written::default(),
        }
    }

    /// The device back (tests mount it again).
    pub fn into_device(mut self) -> D {
        let _ = self.fs.disk.drain();
        self.fs.disk.inner
    }

    /// Sets the page cache's limit in pages (at least 1; `--cache-pages`).
    pub fn set_cache_pages(&mut self, pages: u64) {
        self.cache.set_limit(pages);
    }

    /// The cache's memory (tests look at it).
    pub fn pages(&self) -> &P {
        &self.cache.pages
    }

    /// Handles open.
    pub fn open_handles(&self) -> usize {
        self.handles.len()
    }

    /// Runs `f` as one transaction, committed before this returns.
    /// What the device holds back is sent before the answer (EIO if that
    /// fails).
    pub(crate) fn tx<T>(&mut self, f: impl FnOnce(&mut Transaction<Knobs<D>>) -> DiskResult<T>) -> Result<T> {
        let result = self.fs.tx(f);
        let drained = self.fs.disk.drain();
        let value = result.map_err(errno)?;
        drained.map_err(errno)?;
        Ok(value)
    }

    /// The handle `id`. EBADF for an unknown id.
    pub(crate) fn handle(&self, id: usize) -> Result<&Handle> {
        self.handles.get(&id).ok_or(Error::new(EBADF))
    }

    /// The node of handle `id`: EBADF unknown, EINVAL a control file.
    pub(crate) fn node_of(&self, id: usize) -> Result<(&Handle, u32)> {
        let handle = self.handle(id)?;
        match handle.target {
            Target::Node(node) => Ok((handle, node)),
            _ => Err(Error::new(EINVAL)),
        }
    }

    /// The node's data (size, mode…).
    pub(crate) fn read_node(&mut self, node: u32) -> Result<TreeData<Node>> {
        self.tx(|tx| tx.read_tree(TreePtr::new(node)))
    }

    /// The size of file `node`: remembered, or read from the disk (and
    /// remembered).
    pub(crate) fn file_size(&mut self, node: u32) -> Result<u64> {
        if let Some(&size) = self.sizes.get(&node) {
            return Ok(size);
        }
        let size = self.read_node(node)?.data().size();
        self.sizes.insert(node, size);
        Ok(size)
    }

    /// open: see `docs/redoxfs.md` for the flags and errors.
    fn open_path(&mut self, path: &str, flags: usize) -> Result<Opened> {
        let resolved = path::resolve(path)?;
        let probe =
            Handle { target: Target::Ctl, dir: false, path: resolved.clone(), flags, text: Vec::new(), pins: 0 };
        let want_dir = flags & O_DIRECTORY != 0 || resolved.trailing_slash;
        if let Some(target) = control_target(&resolved)? {
            let dir = target == Target::ControlDir;
            match target {
                _ if flags & O_CREAT != 0 && flags & O_EXCL != 0 => return Err(Error::new(EEXIST)),
                Target::ControlDir if probe.writable() || flags & O_TRUNC != 0 => return Err(Error::new(EISDIR)),
                Target::Pins | Target::CacheStats | Target::Ctl if want_dir => return Err(Error::new(ENOTDIR)),
                Target::Pins | Target::CacheStats if probe.writable() => return Err(Error::new(EACCES)),
                Target::Ctl if probe.readable() => return Err(Error::new(EACCES)),
                _ => {}
            }
            return Ok(self.new_handle(target, dir, resolved, flags));
        }
        let now = (self.clock)();
        let truncated = flags & O_TRUNC != 0 && probe.writable();
        // A truncation changes a size this daemon may remember.
        if truncated {
            self.sizes.clear();
        }
        let (node, dir, old_size) = self.tx(|tx| {
            let found = match resolved.split_last() {
                None => Some(tx.read_tree(TreePtr::root())?),
                Some((dirs, name)) => {
                    let parent = walk(tx, dirs)?;
                    match tx.find_node(parent, name) {
                        Ok(node) => Some(node),
                        Err(e) if e.errno == ENOENT => None,
                        Err(e) => return Err(e),
                    }
                }
            };
            let (node, old_size) = match found {
                Some(node) => {
                    if flags & O_CREAT != 0 && flags & O_EXCL != 0 {
                        return Err(DiskError::new(EEXIST));
                    }
                    let is_dir = node.data().is_dir();
                    if is_dir && (probe.writable() || flags & O_TRUNC != 0) {
                        return Err(DiskError::new(EISDIR));
                    }
                    if !is_dir && want_dir {
                        return Err(DiskError::new(ENOTDIR));
                    }
                    let old_size = node.data().size();
                    if !is_dir && truncated && old_size > 0 {
                        tx.truncate_node(node.ptr(), 0, now.0, now.1)?;
                    }
                    (node, old_size)
                }
                None => {
                    let Some((dirs, name)) = resolved.split_last() else { return Err(DiskError::new(ENOENT)) };
                    if flags & O_CREAT == 0 {
                        return Err(DiskError::new(ENOENT));
                    }
                    let mode = if flags & O_DIRECTORY != 0 {
                        if probe.writable() {
                            return Err(DiskError::new(EISDIR));
                        }
                        Node::MODE_DIR | 0o755
                    } else if resolved.trailing_slash {
                        return Err(DiskError::new(EISDIR));
                    } else {
                        Node::MODE_FILE | 0o644
                    };
                    let parent = walk(tx, dirs)?;
                    (tx.create_node(parent, name, mode, now.0, now.1)?, 0)
                }
            };
            tx.on_open_node(node.ptr())?;
            Ok((node.id(), node.data().is_dir(), old_size))
        })?;
        if truncated && old_size > 0 {
            self.cache.shrink(node, 0)?;
        }
        Ok(self.new_handle(Target::Node(node), dir, resolved, flags))
    }

    fn new_handle(&mut self, target: Target, dir: bool, path: Resolved, flags: usize) -> Opened {
        let text = match target {
            Target::Pins => self.pins_text(),
            Target::CacheStats => self.cache_text(),
            _ => Vec::new(),
        };
        let id = self.next_handle;
        self.next_handle += 1;
        self.handles.insert(id, Handle { target, dir, path, flags, text, pins: 0 });
        Opened { id, positioned: true }
    }

    /// unlinkat: removes a file, or with `AT_REMOVEDIR` an empty directory.
    fn unlink_path(&mut self, path: &str, flags: usize) -> Result<()> {
        if flags & !AT_REMOVEDIR != 0 {
            return Err(Error::new(EINVAL));
        }
        let resolved = path::resolve(path)?;
        if control_target(&resolved)?.is_some() {
            return Err(Error::new(EPERM));
        }
        let Some((dirs, name)) = resolved.split_last() else { return Err(Error::new(EBUSY)) };
        let remove_dir = flags & AT_REMOVEDIR != 0;
        self.tx(|tx| {
            let parent = walk(tx, dirs)?;
            let node = tx.find_node(parent, name)?;
            let mode = match (node.data().is_dir(), remove_dir) {
                (true, true) => Node::MODE_DIR,
                (true, false) => return Err(DiskError::new(EISDIR)),
                (false, true) => return Err(DiskError::new(ENOTDIR)),
                (false, false) if resolved.trailing_slash => return Err(DiskError::new(ENOTDIR)),
                (false, false) => Node::MODE_FILE,
            };
            tx.remove_node(parent, name, mode).map(drop)
        })
    }

    /// frename: the node open as `id` moves to `path`, replacing what is
    /// there as POSIX `rename` does. The source is found by the path the
    /// handle was opened with.
    fn rename(&mut self, id: usize, path: &str) -> Result<()> {
        let handle = self.handle(id)?;
        let source = handle.path.clone();
        let source_is_dir = handle.dir;
        if !matches!(handle.target, Target::Node(_)) {
            return Err(Error::new(EPERM));
        }
        let Some((old_dirs, old_name)) = source.split_last() else { return Err(Error::new(EBUSY)) };
        let target = path::resolve(path)?;
        if control_target(&target)?.is_some() || target.names.first().is_some_and(|n| n == crate::CONTROL_DIR) {
            return Err(Error::new(EACCES));
        }
        let Some((new_dirs, new_name)) = target.split_last() else { return Err(Error::new(EBUSY)) };
        if target.trailing_slash && !source_is_dir {
            return Err(Error::new(ENOTDIR));
        }
        if source_is_dir && target.within(&source) && target != source {
            return Err(Error::new(EINVAL));
        }
        self.tx(|tx| {
            let old_parent = walk(tx, old_dirs)?;
            let new_parent = walk(tx, new_dirs)?;
            let moving = tx.find_node(old_parent, old_name)?;
            match tx.find_node(new_parent, new_name) {
                Ok(existing) if existing.id() == moving.id() => return Ok(()),
                Ok(existing) => match (source_is_dir, existing.data().is_dir()) {
                    (false, true) => return Err(DiskError::new(EISDIR)),
                    (true, false) => return Err(DiskError::new(ENOTDIR)),
                    _ => {}
                },
                Err(e) if e.errno == ENOENT => {}
                Err(e) => return Err(e),
            }
            tx.rename_node(old_parent, old_name, new_parent, new_name)
        })?;
        if let Some(handle) = self.handles.get_mut(&id) {
            handle.path = target;
        }
        Ok(())
    }

    /// Drops handle `id` and the pins still lent through it (the kernel
    /// closes a handle after its last Munmap, but for an MmapPrep answered
    /// after its client gave up). With the node's last handle its window
    /// goes: pages still dirty get one more write-back, and are dropped if
    /// that fails too (their munmap or msync already answered EIO); a
    /// removed node is then freed on the disk, and its id may be reused,
    /// which is why no window may outlive the handles.
    fn close_handle(&mut self, id: usize) {
        let Some(handle) = self.handles.remove(&id) else { return };
        let Target::Node(node) = handle.target else { return };
        self.cache.unpin(node, handle.pins);
        if !self.handles.values().any(|other| other.target == handle.target) {
            let _ = self.write_back(node, 0..0);
            self.cache.discard(node);
            self.locks.remove(&node);
            self.sizes.remove(&node);
        }
        let _ = self.tx(|tx| tx.on_close_node(TreePtr::new(node)));
    }
}

/// The control file `resolved` names, if it is under `/.redoxfsd`.
/// ENOENT another name there.
fn control_target(resolved: &Resolved) -> Result<Option<Target>> {
    match resolved.names.as_slice() {
        [dir, rest @ ..] if dir == crate::CONTROL_DIR => match rest {
            [] => Ok(Some(Target::ControlDir)),
            [name] if name == "pins" => Ok(Some(Target::Pins)),
            [name] if name == "cache" => Ok(Some(Target::CacheStats)),
            [name] if name == "ctl" => Ok(Some(Target::Ctl)),
            _ => Err(Error::new(ENOENT)),
        },
        _ => Ok(None),
    }
}

/// The directory `names` lead to from the root. ENOENT a missing name,
/// ENOTDIR a name that is not a directory.
pub(crate) fn walk<D: Device>(
    tx: &mut Transaction<Knobs<D>>,
    names: &[alloc::string::String],
) -> DiskResult<TreePtr<Node>> {
    let mut at = TreePtr::root();
    for name in names {
        let node = tx.find_node(at, name)?;
        if !node.data().is_dir() {
            return Err(DiskError::new(ENOTDIR));
        }
        at = node.ptr();
    }
    Ok(at)
}

/// The requests, by kind: path calls, calls on open files, fmap.
impl<D: Device, P: CachePages> Scheme for Redoxfsd<D, P> {
    fn open(&mut self, path: &str, flags: usize, _ctx: &CallerCtx) -> Result<Opened> {
        self.open_path(path, flags)
    }
    fn unlinkat(&mut self, path: &str, flags: usize, _ctx: &CallerCtx) -> Result<()> {
        self.unlink_path(path, flags)
    }
    fn frename(&mut self, id: usize, path: &str, _ctx: &CallerCtx) -> Result<()> {
        self.rename(id, path)
    }
    fn close(&mut self, id: usize) {
        self.close_handle(id);
    }
    fn write(&mut self, id: usize, buf: &[u8], offset: u64) -> Result<usize> {
        self.write_at(id, buf, offset)
    }
    fn read(&mut self, id: usize, buf: &mut [u8], offset: u64) -> Result<usize> {
        self.read_at(id, buf, offset)
    }
    fn ftruncate(&mut self, id: usize, len: u64) -> Result<()> {
        self.truncate(id, len)
    }
    /// Record locks on the handle's node (the kernel checked the access
    /// mode); control files have none (EINVAL).
    fn lock(&mut self, id: usize, lock: FileLock, test: bool) -> Result<Option<FileLock>> {
        let (_, node) = self.node_of(id)?;
        let table = self.locks.entry(node).or_default();
        if test {
            return Ok(table.conflict(&lock));
        }
        table.set(lock).map(|()| None)
    }
    fn unlock_all(&mut self, id: usize, owner: u64) {
        if let Ok((_, node)) = self.node_of(id)
            && let Some(table) = self.locks.get_mut(&node)
        {
            table.unlock_all(owner);
        }
    }
    fn fstat(&mut self, id: usize, stat: &mut Stat) -> Result<()> {
        self.stat(id, stat)
    }
    fn getdents(&mut self, id: usize, buf: &mut [u8], opaque: u64) -> Result<usize> {
        self.list(id, buf, opaque)
    }
    fn fsync(&mut self, id: usize) -> Result<()> {
        self.sync(id)
    }
    fn mmap_prep(&mut self, id: usize, offset: u64, size: usize, flags: usize, _ctx: &CallerCtx) -> Result<usize> {
        self.lend(id, offset, size, flags)
    }
    fn msync(&mut self, id: usize, offset: u64, size: usize, flags: usize, _ctx: &CallerCtx) -> Result<()> {
        self.msync_range(id, offset, size, flags)
    }
    fn munmap(&mut self, id: usize, offset: u64, size: usize, flags: usize, _ctx: &CallerCtx) -> Result<()> {
        self.give_back(id, offset, size, flags)
    }
}
