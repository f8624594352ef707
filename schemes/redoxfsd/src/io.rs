//! Calls on open files: read, write, fstat, ftruncate, fsync and getdents.
//!
//! `read` reads the disk and lays the cache's resident pages over it (a
//! mapping's stores are there before any write-back); `write` writes the
//! disk (one transaction) and then the resident pages, so a mapping sees
//! it at once. Pages that are not resident are not read into the cache:
//! only fmap brings pages in.

use alloc::string::String;
use alloc::vec::Vec;

use redox_syscall_07::error::Error as DiskError;
use redoxfs::{DirEntry, TreePtr};
use tessera_ramfs::PAGE_BYTES;

use crate::cache::CachePages;
use tessera_runtime::abi::Stat;
use tessera_runtime::abi::dirent::{DirEntry as Dirent, DirentBuf, DirentKind, HEADER_BYTES};
use tessera_runtime::abi::error::{EBADF, EFBIG, EINVAL, EISDIR, ENOTDIR};
use tessera_runtime::abi::flag::{MODE_DIR, MODE_FILE, O_APPEND};
use tessera_runtime::{Error, Result};

use crate::disk::Device;
use crate::fs::{Redoxfsd, Target, walk};

/// The largest file, in bytes (4 GiB, ramfs's and the cache window's): a
/// write reaching past it is cut short there, one starting at or past it
/// is EFBIG, as is a longer ftruncate. redoxfs walks a file's records one
/// by one when it shrinks, so a bound keeps every call short.
pub const MAX_FILE_BYTES: u64 = crate::cache::WINDOW_BYTES;
/// Bytes `st_blocks` counts in.
const STAT_BLOCK_BYTES: u64 = 512;
/// The listing's cookie of the first entry after `.` and `..`.
const FIRST_COOKIE: u64 = 2;

impl<D: Device, P: CachePages> Redoxfsd<D, P> {
    /// read: a file's bytes at `offset`, `/.redoxfsd/pins`' text. EBADF not
    /// open for reading, EISDIR a directory, EIO the disk.
    pub(crate) fn read_at(&mut self, id: usize, buf: &mut [u8], offset: u64) -> Result<usize> {
        let handle = self.handle(id)?;
        if !handle.readable() {
            return Err(Error::new(EBADF));
        }
        let node = match handle.target {
            _ if handle.dir => return Err(Error::new(EISDIR)),
            Target::Node(node) => node,
            Target::Pins | Target::CacheStats => {
                let rest = usize::try_from(offset).ok().and_then(|o| handle.text.get(o..)).unwrap_or(&[]);
                let n = rest.len().min(buf.len());
                buf[..n].copy_from_slice(&rest[..n]);
                return Ok(n);
            }
            Target::Ctl | Target::ControlDir => return Err(Error::new(EBADF)),
        };
        if offset >= MAX_FILE_BYTES {
            return Ok(0);
        }
        let n = self.tx(|tx| tx.read_node(TreePtr::new(node), offset, buf, 0, 0))?;
        self.cache.overlay(node, offset, &mut buf[..n]);
        Ok(n)
    }

    /// write: a file's bytes at `offset` (at the end with `O_APPEND`), a
    /// command to `/.redoxfsd/ctl`. EBADF not open for writing, EISDIR a
    /// directory, ENOSPC the disk is full, EIO it failed (nothing written).
    pub(crate) fn write_at(&mut self, id: usize, buf: &[u8], offset: u64) -> Result<usize> {
        let handle = self.handle(id)?;
        if !handle.writable() {
            return Err(Error::new(EBADF));
        }
        let append = handle.flags & O_APPEND != 0;
        let node = match handle.target {
            _ if handle.dir => return Err(Error::new(EISDIR)),
            Target::Node(node) => node,
            Target::Ctl => return self.control(buf).map(|()| buf.len()),
            Target::Pins | Target::CacheStats | Target::ControlDir => return Err(Error::new(EBADF)),
        };
        if buf.is_empty() {
            return Ok(0);
        }
        self.sizes.remove(&node);
        let now = (self.clock)();
        let (offset, old_size, buf) = self.tx(|tx| {
            let ptr = TreePtr::<redoxfs::Node>::new(node);
            let size = tx.read_tree(ptr)?.data().size();
            let offset = if append { size } else { offset };
            if offset >= MAX_FILE_BYTES {
                return Err(DiskError::new(EFBIG));
            }
            let buf = &buf[..(MAX_FILE_BYTES - offset).min(buf.len() as u64) as usize];
            tx.write_node(ptr, offset, buf, now.0, now.1)?;
            Ok((offset, size, buf))
        })?;
        let end = offset + buf.len() as u64;
        if end > old_size {
            self.cache.grow(node, old_size, end)?;
        }
        self.cache.store(node, offset, buf)?;
        Ok(buf.len())
    }

    /// fstat: mode (the node's: files 0644, directories 0755 as made
    /// here; control files `pins` 0444, `ctl` 0200), size, inode (the tree
    /// id), links, blocks, times.
    pub(crate) fn stat(&mut self, id: usize, stat: &mut Stat) -> Result<()> {
        let handle = self.handle(id)?;
        let control = |mode, size| Stat { st_ino: 0, st_mode: mode, st_nlink: 1, st_size: size, ..Stat::default() };
        let node = match handle.target {
            Target::Node(node) => node,
            Target::ControlDir => {
                *stat = control(MODE_DIR | 0o555, 0);
                return Ok(());
            }
            Target::Pins | Target::CacheStats => {
                *stat = control(MODE_FILE | 0o444, handle.text.len() as u64);
                return Ok(());
            }
            Target::Ctl => {
                *stat = control(MODE_FILE | 0o200, 0);
                return Ok(());
            }
        };
        let data = self.read_node(node)?;
        let node_data = data.data();
        let (mtime, ctime, atime) = (node_data.mtime(), node_data.ctime(), node_data.atime());
        *stat = Stat {
            st_ino: u64::from(node),
            st_mode: node_data.mode(),
            st_nlink: node_data.links(),
            st_uid: node_data.uid(),
            st_gid: node_data.gid(),
            st_size: node_data.size(),
            st_blksize: PAGE_BYTES as u32,
            st_blocks: node_data.blocks() * (redoxfs::BLOCK_SIZE / STAT_BLOCK_BYTES),
            st_mtime: mtime.0,
            st_mtime_nsec: mtime.1,
            st_ctime: ctime.0,
            st_ctime_nsec: ctime.1,
            st_atime: atime.0,
            st_atime_nsec: atime.1,
            ..Stat::default()
        };
        Ok(())
    }

    /// ftruncate: EBADF not open for writing, EISDIR a directory, EINVAL a
    /// control file, ENOSPC / EIO the disk. Pages of a mapping past the new
    /// end are gone (SIGBUS for the client); growing shows zeroes.
    pub(crate) fn truncate(&mut self, id: usize, len: u64) -> Result<()> {
        let handle = self.handle(id)?;
        if !handle.writable() {
            return Err(Error::new(EBADF));
        }
        if handle.dir {
            return Err(Error::new(EISDIR));
        }
        let Target::Node(node) = handle.target else { return Err(Error::new(EINVAL)) };
        if len > MAX_FILE_BYTES {
            return Err(Error::new(EFBIG));
        }
        self.sizes.remove(&node);
        let now = (self.clock)();
        let old = self.tx(|tx| {
            let ptr = TreePtr::<redoxfs::Node>::new(node);
            let old = tx.read_tree(ptr)?.data().size();
            tx.truncate_node(ptr, len, now.0, now.1)?;
            Ok(old)
        })?;
        if len < old { self.cache.shrink(node, len) } else { self.cache.grow(node, old, len) }
    }

    /// fsync: the file's cache pages that a mapping may have written (all
    /// resident ones while it has pins) and the dirty ones are written,
    /// then the device is flushed. EIO if either failed (the pages stay
    /// dirty).
    pub(crate) fn sync(&mut self, id: usize) -> Result<()> {
        let handle = self.handle(id)?;
        if let Target::Node(node) = handle.target {
            self.write_back(node, 0..u64::MAX)?;
        }
        self.fs.disk.flush()
    }

    /// getdents: `.` (opaque 0), `..` (1), then the entries from cookie
    /// `opaque` on, in RedoxFS's order (`/.redoxfsd` is not listed); as
    /// many whole records as fit. EINVAL if the first does not fit,
    /// ENOTDIR not a directory.
    pub(crate) fn list(&mut self, id: usize, buf: &mut [u8], opaque: u64) -> Result<usize> {
        let handle = self.handle(id)?;
        if !handle.dir {
            return Err(Error::new(ENOTDIR));
        }
        let mut out = DirentBuf::new(buf, HEADER_BYTES as u16).ok_or(Error::new(EINVAL))?;
        let Target::Node(node) = handle.target else {
            // `/.redoxfsd`: its two files.
            let names = [
                (".", DirentKind::Directory),
                ("..", DirentKind::Directory),
                ("pins", DirentKind::Regular),
                ("cache", DirentKind::Regular),
                ("ctl", DirentKind::Regular),
            ];
            for (cookie, (name, kind)) in names.into_iter().enumerate().skip(opaque as usize) {
                let entry = Dirent { inode: 0, next_opaque_id: cookie as u64 + 1, name, kind };
                if out.entry(entry).is_err() {
                    if cookie as u64 == opaque {
                        return Err(Error::new(EINVAL));
                    }
                    break;
                }
            }
            return Ok(out.finalize());
        };
        let parent_names = handle.path.split_last().map(|(dirs, _)| dirs.to_vec());
        let at_root = node == TreePtr::<redoxfs::Node>::root().id();
        let (parent, entries) = self.tx(|tx| {
            let parent = match &parent_names {
                Some(names) => walk(tx, names).map(|p| p.id()).unwrap_or(node),
                None => node,
            };
            let mut children: Vec<DirEntry> = Vec::new();
            tx.child_nodes(TreePtr::new(node), &mut children)?;
            let mut entries: Vec<(String, u32, DirentKind)> = Vec::new();
            for child in children {
                let Some(name) = child.name() else { continue };
                if at_root && name == crate::CONTROL_DIR {
                    continue;
                }
                let id = child.node_ptr().id();
                let kind = if tx.read_tree(child.node_ptr())?.data().is_dir() {
                    DirentKind::Directory
                } else {
                    DirentKind::Regular
                };
                entries.push((String::from(name), id, kind));
            }
            Ok((parent, entries))
        })?;
        let dots = [(0, ".", node), (1, "..", parent)].map(|(c, n, i)| (c, n, i, DirentKind::Directory));
        let listed = entries
            .iter()
            .enumerate()
            .map(|(i, (name, id, kind))| (FIRST_COOKIE + i as u64, name.as_str(), *id, *kind));
        let chosen = dots.into_iter().chain(listed).filter(|entry| entry.0 >= opaque);
        for (i, (cookie, name, inode, kind)) in chosen.enumerate() {
            if out.entry(Dirent { inode: u64::from(inode), next_opaque_id: cookie + 1, name, kind }).is_err() {
                if i == 0 {
                    return Err(Error::new(EINVAL));
                }
                break;
            }
        }
        Ok(out.finalize())
    }
}
