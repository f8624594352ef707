//! The filesystem as a scheme: [`Ramfs`] holds the tree, the file memory
//! and the open handles, and answers the requests of `file:`. This file
//! has the path calls (open/create/mkdir, unlinkat, frename) and the
//! handles; `io.rs` the calls on open files, `fmap.rs` the lending of file
//! pages and the `/.ramfs/` control files.
//!
//! Every open file is positioned (the kernel keeps the offset). A handle
//! keeps its node alive after the node is removed (POSIX: an unlinked file
//! stays readable through the fds open on it).

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use tessera_runtime::abi::Stat;
use tessera_runtime::abi::error::{EACCES, EBADF, EBUSY, EEXIST, EINVAL, EISDIR, ENOENT, ENOTDIR, ENOTEMPTY, EPERM};
use tessera_runtime::abi::flag::{
    AT_REMOVEDIR, O_ACCMODE, O_CREAT, O_DIRECTORY, O_EXCL, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY,
};
use tessera_runtime::abi::lock::FileLock;
use tessera_runtime::scheme::{CallerCtx, Opened, Scheme};
use tessera_runtime::{Error, Result};

use crate::data::FileData;
use crate::pages::Pages;
use crate::path::{self, Last};
use crate::tree::{Dir, Ino, Kind, Node, ROOT, Tree};

/// An open file.
pub(crate) struct Handle {
    pub ino: Ino,
    /// The open's access mode and status flags.
    pub flags: usize,
    /// `/.ramfs/pins`: the text made when it was opened.
    pub text: Vec<u8>,
    /// File pages lent through this handle and not given back yet.
    pub pins: u64,
}

impl Handle {
    pub fn readable(&self) -> bool {
        matches!(self.flags & O_ACCMODE, O_RDONLY | O_RDWR)
    }

    pub fn writable(&self) -> bool {
        matches!(self.flags & O_ACCMODE, O_WRONLY | O_RDWR)
    }
}

/// The filesystem, over file memory `P`.
pub struct Ramfs<P: Pages> {
    pub(crate) pages: P,
    pub(crate) tree: Tree,
    pub(crate) handles: BTreeMap<usize, Handle>,
    next_handle: usize,
}

impl<P: Pages> Ramfs<P> {
    /// An empty filesystem: the root and `/.ramfs/` (`pins`, `ctl`).
    pub fn new(pages: P) -> Self {
        let mut tree = Tree::default();
        let reserved = |kind| Node { reserved: true, ..Node::new(kind) };
        let control = tree.add(reserved(Kind::Dir(Dir::default())));
        tree.link(ROOT, crate::CONTROL_DIR, control);
        let pins = tree.add(reserved(Kind::Pins));
        tree.link(control, "pins", pins);
        let ctl = tree.add(reserved(Kind::Ctl));
        tree.link(control, "ctl", ctl);
        Self { pages, tree, handles: BTreeMap::new(), next_handle: 0 }
    }

    /// The file memory (tests look at what it holds).
    pub fn pages(&self) -> &P {
        &self.pages
    }

    /// Handles open.
    pub fn open_handles(&self) -> usize {
        self.handles.len()
    }

    /// Nodes alive, the root and `/.ramfs/` included.
    pub fn node_count(&self) -> usize {
        self.tree.nodes().count()
    }

    /// The handle `id` and its node. EBADF for an unknown id.
    pub(crate) fn handle(&self, id: usize) -> Result<(&Handle, &Node)> {
        let handle = self.handles.get(&id).ok_or(Error::new(EBADF))?;
        let node = self.tree.node(handle.ino).ok_or(Error::new(EBADF))?;
        Ok((handle, node))
    }

    /// The node `path` names. ENOENT, ENOTDIR (also for a trailing `/`
    /// after a non-directory), or the path's own errors.
    pub(crate) fn lookup(&self, path: &str) -> Result<Ino> {
        let parsed = path::parse(path)?;
        let parent = self.tree.walk(&parsed.dirs)?;
        let ino = self.tree.step(parent, parsed.last)?.ok_or(Error::new(ENOENT))?;
        if parsed.trailing_slash && !self.tree.node(ino).is_some_and(Node::is_dir) {
            return Err(Error::new(ENOTDIR));
        }
        Ok(ino)
    }

    /// Frees node `ino` if nothing keeps it (see `Tree::take_if_unused`).
    pub(crate) fn release_if_unused(&mut self, ino: Ino) {
        if let Some(node) = self.tree.take_if_unused(ino)
            && let Kind::File(data) = node.kind
        {
            data.release(&mut self.pages);
        }
    }

    fn new_handle(&mut self, ino: Ino, flags: usize) -> usize {
        let text = match self.tree.node(ino).map(|n| &n.kind) {
            Some(Kind::Pins) => self.pins_text(),
            _ => Vec::new(),
        };
        if let Some(node) = self.tree.node_mut(ino) {
            node.open += 1;
        }
        let id = self.next_handle;
        self.next_handle += 1;
        self.handles.insert(id, Handle { ino, flags, text, pins: 0 });
        id
    }

    /// open: see `docs/ramfs.md` for the flags and errors.
    fn open_path(&mut self, path: &str, flags: usize) -> Result<Opened> {
        let parsed = path::parse(path)?;
        let parent = self.tree.walk(&parsed.dirs)?;
        let probe = Handle { ino: 0, flags, text: Vec::new(), pins: 0 };
        let want_dir = flags & O_DIRECTORY != 0 || parsed.trailing_slash;
        let ino = match self.tree.step(parent, parsed.last)? {
            Some(ino) => {
                if flags & O_CREAT != 0 && flags & O_EXCL != 0 {
                    return Err(Error::new(EEXIST));
                }
                let node = self.tree.node_mut(ino).ok_or(Error::new(ENOENT))?;
                match &mut node.kind {
                    Kind::Dir(_) if probe.writable() || flags & O_TRUNC != 0 => return Err(Error::new(EISDIR)),
                    Kind::Dir(_) => {}
                    _ if want_dir => return Err(Error::new(ENOTDIR)),
                    Kind::File(data) if flags & O_TRUNC != 0 && probe.writable() => data.set_len(&mut self.pages, 0)?,
                    Kind::File(_) => {}
                    Kind::Pins if probe.writable() => return Err(Error::new(EACCES)),
                    Kind::Ctl if probe.readable() => return Err(Error::new(EACCES)),
                    Kind::Pins | Kind::Ctl => {}
                }
                ino
            }
            None => {
                let Last::Name(name) = parsed.last else { return Err(Error::new(ENOENT)) };
                if flags & O_CREAT == 0 {
                    return Err(Error::new(ENOENT));
                }
                if self.tree.node(parent).is_some_and(|n| n.reserved) {
                    return Err(Error::new(EACCES));
                }
                let kind = if flags & O_DIRECTORY != 0 {
                    if probe.writable() {
                        return Err(Error::new(EISDIR));
                    }
                    Kind::Dir(Dir::default())
                } else if parsed.trailing_slash {
                    return Err(Error::new(EISDIR));
                } else {
                    Kind::File(FileData::new(&mut self.pages)?)
                };
                let ino = self.tree.add(Node::new(kind));
                self.tree.link(parent, name, ino);
                ino
            }
        };
        Ok(Opened { id: self.new_handle(ino, flags), positioned: true })
    }

    /// unlinkat: removes a file, or with `AT_REMOVEDIR` an empty directory.
    fn unlink_path(&mut self, path: &str, flags: usize) -> Result<()> {
        if flags & !AT_REMOVEDIR != 0 {
            return Err(Error::new(EINVAL));
        }
        let parsed = path::parse(path)?;
        let parent = self.tree.walk(&parsed.dirs)?;
        let name = match parsed.last {
            Last::Root => return Err(Error::new(EBUSY)),
            Last::Dot => return Err(Error::new(EINVAL)),
            Last::DotDot => return Err(Error::new(ENOTEMPTY)),
            Last::Name(name) => name,
        };
        let ino = self.tree.dir(parent)?.get(name).ok_or(Error::new(ENOENT))?;
        let node = self.tree.node(ino).ok_or(Error::new(ENOENT))?;
        if node.reserved {
            return Err(Error::new(EPERM));
        }
        match (&node.kind, flags & AT_REMOVEDIR != 0) {
            (Kind::Dir(dir), true) if !dir.is_empty() => return Err(Error::new(ENOTEMPTY)),
            (Kind::Dir(_), true) => {}
            (Kind::Dir(_), false) => return Err(Error::new(EISDIR)),
            (_, true) => return Err(Error::new(ENOTDIR)),
            (_, false) if parsed.trailing_slash => return Err(Error::new(ENOTDIR)),
            (_, false) => {}
        }
        self.tree.unlink(parent, name);
        self.release_if_unused(ino);
        Ok(())
    }

    /// frename: the node open as `id` moves to `path`, replacing what is
    /// there as POSIX `rename` does.
    fn rename(&mut self, id: usize, path: &str) -> Result<()> {
        let (handle, node) = self.handle(id)?;
        let source = handle.ino;
        if source == ROOT {
            return Err(Error::new(EBUSY));
        }
        if node.reserved {
            return Err(Error::new(EPERM));
        }
        let (old_parent, old_name) = node.link.clone().ok_or(Error::new(ENOENT))?;
        let source_is_dir = node.is_dir();
        let parsed = path::parse(path)?;
        let new_parent = self.tree.walk(&parsed.dirs)?;
        let Last::Name(name) = parsed.last else { return Err(Error::new(EBUSY)) };
        if self.tree.node(new_parent).is_some_and(|n| n.reserved) {
            return Err(Error::new(EACCES));
        }
        if parsed.trailing_slash && !source_is_dir {
            return Err(Error::new(ENOTDIR));
        }
        if source_is_dir && self.tree.is_ancestor(source, new_parent) {
            return Err(Error::new(EINVAL));
        }
        if let Some(target) = self.tree.dir(new_parent)?.get(name) {
            if target == source {
                return Ok(());
            }
            let target_node = self.tree.node(target).ok_or(Error::new(ENOENT))?;
            if target_node.reserved {
                return Err(Error::new(EPERM));
            }
            match (source_is_dir, &target_node.kind) {
                (false, Kind::Dir(_)) => return Err(Error::new(EISDIR)),
                (true, Kind::Dir(dir)) if !dir.is_empty() => return Err(Error::new(ENOTEMPTY)),
                (true, Kind::Dir(_)) | (false, _) => {}
                (true, _) => return Err(Error::new(ENOTDIR)),
            }
            self.tree.unlink(new_parent, name);
            self.release_if_unused(target);
        }
        self.tree.unlink(old_parent, &old_name);
        self.tree.link(new_parent, name, source);
        Ok(())
    }

    /// Drops handle `id`, and the pins still lent through it: the kernel
    /// closes a handle only after its last Munmap, except when a client
    /// gave up waiting for an MmapPrep whose answer then comes late (its
    /// Munmap follows the Close and finds no handle).
    fn close_handle(&mut self, id: usize) {
        let Some(handle) = self.handles.remove(&id) else { return };
        if let Some(node) = self.tree.node_mut(handle.ino) {
            node.open -= 1;
            node.pins -= handle.pins;
        }
        self.release_if_unused(handle.ino);
    }
}

impl<P: Pages> Scheme for Ramfs<P> {
    fn open(&mut self, path: &str, flags: usize, _ctx: &CallerCtx) -> Result<Opened> {
        self.open_path(path, flags)
    }
    fn read(&mut self, id: usize, buf: &mut [u8], offset: u64) -> Result<usize> {
        self.read_at(id, buf, offset)
    }
    fn write(&mut self, id: usize, buf: &[u8], offset: u64) -> Result<usize> {
        self.write_at(id, buf, offset)
    }
    fn fstat(&mut self, id: usize, stat: &mut Stat) -> Result<()> {
        self.stat(id, stat)
    }
    fn fsync(&mut self, id: usize) -> Result<()> {
        self.handle(id).map(drop)
    }
    fn ftruncate(&mut self, id: usize, len: u64) -> Result<()> {
        self.truncate(id, len)
    }
    fn punch_hole(&mut self, id: usize, offset: u64, len: u64) -> Result<()> {
        self.punch(id, offset, len)
    }
    fn lock(&mut self, id: usize, lock: FileLock, test: bool) -> Result<Option<FileLock>> {
        self.record_lock(id, lock, test)
    }
    fn unlock_all(&mut self, id: usize, owner: u64) {
        self.drop_locks(id, owner);
    }
    fn unlinkat(&mut self, path: &str, flags: usize, _ctx: &CallerCtx) -> Result<()> {
        self.unlink_path(path, flags)
    }
    fn getdents(&mut self, id: usize, buf: &mut [u8], opaque: u64) -> Result<usize> {
        self.list(id, buf, opaque)
    }
    fn frename(&mut self, id: usize, path: &str, _ctx: &CallerCtx) -> Result<()> {
        self.rename(id, path)
    }
    fn mmap_prep(&mut self, id: usize, offset: u64, size: usize, flags: usize, _ctx: &CallerCtx) -> Result<usize> {
        self.lend(id, offset, size, flags)
    }
    fn munmap(&mut self, id: usize, offset: u64, size: usize, flags: usize, _ctx: &CallerCtx) -> Result<()> {
        self.give_back(id, offset, size, flags)
    }
    fn msync(&mut self, id: usize, _offset: u64, _size: usize, _flags: usize, _ctx: &CallerCtx) -> Result<()> {
        self.write_back(id)
    }
    fn close(&mut self, id: usize) {
        self.close_handle(id);
    }
}
