//! Calls on open files: read, write, fstat, ftruncate and getdents.

use tessera_runtime::abi::Stat;
use tessera_runtime::abi::dirent::{DirEntry, DirentBuf, DirentKind, HEADER_BYTES};
use tessera_runtime::abi::error::{EBADF, EINVAL, EISDIR, ENOTDIR};
use tessera_runtime::abi::flag::{MODE_DIR, MODE_FILE, O_APPEND};
use tessera_runtime::abi::lock::FileLock;
use tessera_runtime::{Error, Result};

use crate::fs::Ramfs;
use crate::pages::{PAGE_BYTES, Pages};
use crate::tree::{DOTDOT_COOKIE, FIRST_COOKIE, Kind, Node, ROOT};

/// Bytes `st_blocks` counts in.
const STAT_BLOCK_BYTES: u64 = 512;

/// The kind a listing shows for `node`.
fn dirent_kind(node: &Node) -> DirentKind {
    if node.is_dir() { DirentKind::Directory } else { DirentKind::Regular }
}

impl<P: Pages> Ramfs<P> {
    /// read: a file's bytes at `offset`, `/.ramfs/pins`' text. EBADF not
    /// open for reading, EISDIR a directory.
    pub(crate) fn read_at(&mut self, id: usize, buf: &mut [u8], offset: u64) -> Result<usize> {
        let (handle, node) = self.handle(id)?;
        if !handle.readable() {
            return Err(Error::new(EBADF));
        }
        match &node.kind {
            Kind::File(data) => Ok(data.read(&self.pages, offset, buf)),
            Kind::Dir(_) => Err(Error::new(EISDIR)),
            Kind::Pins => {
                let rest = usize::try_from(offset).ok().and_then(|o| handle.text.get(o..)).unwrap_or(&[]);
                let n = rest.len().min(buf.len());
                buf[..n].copy_from_slice(&rest[..n]);
                Ok(n)
            }
            Kind::Ctl => Err(Error::new(EBADF)),
        }
    }

    /// write: a file's bytes at `offset` (at the end with `O_APPEND`), a
    /// command to `/.ramfs/ctl`. EBADF not open for writing, EISDIR a
    /// directory, EFBIG past the largest file, ENOSPC no memory.
    pub(crate) fn write_at(&mut self, id: usize, buf: &[u8], offset: u64) -> Result<usize> {
        let (handle, node) = self.handle(id)?;
        if !handle.writable() {
            return Err(Error::new(EBADF));
        }
        let (ino, append) = (handle.ino, handle.flags & O_APPEND != 0);
        match &node.kind {
            Kind::Dir(_) => return Err(Error::new(EISDIR)),
            Kind::Pins => return Err(Error::new(EBADF)),
            Kind::Ctl => return self.control(buf).map(|()| buf.len()),
            Kind::File(_) => {}
        }
        let Some(Kind::File(data)) = self.tree.node_mut(ino).map(|n| &mut n.kind) else {
            return Err(Error::new(EBADF));
        };
        let offset = if append { data.size() } else { offset };
        data.write(&mut self.pages, offset, buf)
    }

    /// fstat: mode (`MODE_DIR` 0755, `MODE_FILE` 0644; `pins` 0444, `ctl`
    /// 0200), size, inode, links, blocks.
    pub(crate) fn stat(&mut self, id: usize, stat: &mut Stat) -> Result<()> {
        let (handle, node) = self.handle(id)?;
        let (mode, size) = match &node.kind {
            Kind::Dir(_) => (MODE_DIR | 0o755, 0),
            Kind::File(data) => (MODE_FILE | 0o644, data.size()),
            Kind::Pins => (MODE_FILE | 0o444, handle.text.len() as u64),
            Kind::Ctl => (MODE_FILE | 0o200, 0),
        };
        let linked = node.link.is_some() || handle.ino == ROOT;
        let nlink = match &node.kind {
            Kind::Dir(dir) if linked => {
                // `/.ramfs` is not counted, as it is not listed.
                let subdirs = dir.children().filter(|&c| self.tree.node(c).is_some_and(|n| n.is_dir() && !n.reserved));
                let subdirs = subdirs.count();
                2 + subdirs as u32
            }
            _ => u32::from(linked),
        };
        *stat = Stat {
            st_ino: handle.ino,
            st_mode: mode,
            st_nlink: nlink,
            st_size: size,
            st_blksize: PAGE_BYTES as u32,
            st_blocks: size.div_ceil(STAT_BLOCK_BYTES),
            ..Stat::default()
        };
        Ok(())
    }

    /// ftruncate: EBADF not open for writing, EISDIR a directory, EINVAL a
    /// control file, EFBIG past the largest file.
    pub(crate) fn truncate(&mut self, id: usize, len: u64) -> Result<()> {
        let (handle, _) = self.handle(id)?;
        if !handle.writable() {
            return Err(Error::new(EBADF));
        }
        let ino = handle.ino;
        match self.tree.node_mut(ino).map(|n| &mut n.kind) {
            Some(Kind::File(data)) => data.set_len(&mut self.pages, len),
            Some(Kind::Dir(_)) => Err(Error::new(EISDIR)),
            _ => Err(Error::new(EINVAL)),
        }
    }

    /// A record lock: set, cleared or tested on the handle's node (any
    /// kind of node; the kernel checked the access mode). EAGAIN a
    /// conflict, ENOLCK too many locks on the file.
    pub(crate) fn record_lock(&mut self, id: usize, lock: FileLock, test: bool) -> Result<Option<FileLock>> {
        let ino = self.handle(id)?.0.ino;
        let node = self.tree.node_mut(ino).ok_or(Error::new(EBADF))?;
        if test {
            return Ok(node.locks.conflict(&lock));
        }
        node.locks.set(lock).map(|()| None)
    }

    /// A process closed a descriptor of the handle's node: its locks go.
    pub(crate) fn drop_locks(&mut self, id: usize, owner: u64) {
        let Ok((handle, _)) = self.handle(id) else { return };
        let ino = handle.ino;
        if let Some(node) = self.tree.node_mut(ino) {
            node.locks.unlock_all(owner);
        }
    }

    /// Punches a hole (MADV_REMOVE): EBADF not open for writing, EISDIR a
    /// directory, EINVAL a control file.
    pub(crate) fn punch(&mut self, id: usize, offset: u64, len: u64) -> Result<()> {
        let (handle, _) = self.handle(id)?;
        if !handle.writable() {
            return Err(Error::new(EBADF));
        }
        let ino = handle.ino;
        match self.tree.node_mut(ino).map(|n| &mut n.kind) {
            Some(Kind::File(data)) => data.punch(&mut self.pages, offset, len),
            Some(Kind::Dir(_)) => Err(Error::new(EISDIR)),
            _ => Err(Error::new(EINVAL)),
        }
    }

    /// getdents: `.` (opaque 0), `..` (1), then the entries from cookie
    /// `opaque` on (`/.ramfs` is not listed at the root); as many whole
    /// records as fit. 0 at the end and for a removed directory; EINVAL
    /// if the first record does not fit; ENOTDIR not a directory.
    pub(crate) fn list(&mut self, id: usize, buf: &mut [u8], opaque: u64) -> Result<usize> {
        let (handle, node) = self.handle(id)?;
        let Kind::Dir(dir) = &node.kind else { return Err(Error::new(ENOTDIR)) };
        let ino = handle.ino;
        if node.link.is_none() && ino != ROOT {
            return Ok(0);
        }
        let mut out = DirentBuf::new(buf, HEADER_BYTES as u16).ok_or(Error::new(EINVAL))?;
        let parent = self.tree.parent(ino);
        let dots = [(0, ".", ino, DirentKind::Directory), (DOTDOT_COOKIE, "..", parent, DirentKind::Directory)];
        let entries = dir.from(opaque.max(FIRST_COOKIE)).filter_map(|(cookie, name, child)| {
            let node = self.tree.node(child)?;
            let hidden = node.reserved && ino == ROOT;
            (!hidden).then(|| (cookie, name, child, dirent_kind(node)))
        });
        let listed = dots.into_iter().filter(|dot| dot.0 >= opaque).chain(entries);
        for (i, (cookie, name, inode, kind)) in listed.enumerate() {
            if out.entry(DirEntry { inode, next_opaque_id: cookie + 1, name, kind }).is_err() {
                if i == 0 {
                    return Err(Error::new(EINVAL));
                }
                break;
            }
        }
        Ok(out.finalize())
    }
}
