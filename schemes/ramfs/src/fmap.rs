//! Lending file pages (the daemon side of fmap) and the `/.ramfs/`
//! control files that show and steer it.
//!
//! `MmapPrep` answers the address of the file page at the offset asked
//! for, inside the file's own range (`data.rs`): the kernel borrows those
//! frames for the client's mapping, so `read`/`write` and the mapping see
//! the same bytes. The range may reach past the end of file: the kernel
//! finds those pages inaccessible and gives the client SIGBUS. Each
//! request pins `ceil(size / page)` pages of the file, counted on the
//! file and on the handle, until `Munmap` through that handle gives them
//! back (or the handle closes); a pinned file outlives its removal.
//!
//! | file | what |
//! |---|---|
//! | `/.ramfs/pins` | read-only text made at open: `PINS INODE PATH` per pinned file (`(removed)` for a removed one), then `total PINS` |
//! | `/.ramfs/ctl` | write-only; `fail-writeback PATH on\|off`: write-back of that file (munmap with `NEEDS_SYNC`, msync) fails with EIO |

use alloc::vec::Vec;
use core::fmt::Write;

use tessera_runtime::abi::error::{EACCES, EBADF, EINVAL, EIO, EISDIR};
use tessera_runtime::abi::flag::MapFlags;
use tessera_runtime::abi::scheme::MunmapFlags;
use tessera_runtime::{Error, Result};

use crate::data::MAX_FILE_BYTES;
use crate::fs::Ramfs;
use crate::pages::{PAGE_BYTES, Pages};
use crate::tree::Kind;

/// Pages covering `size_bytes`.
fn pages_for(size_bytes: usize) -> u64 {
    size_bytes.div_ceil(PAGE_BYTES) as u64
}

impl<P: Pages> Ramfs<P> {
    /// MmapPrep. EBADF unknown id; EISDIR a directory, EACCES a control
    /// file or a shared writable mapping of a read-only open; EINVAL an
    /// unaligned offset, a zero size, a range past the largest file.
    pub(crate) fn lend(&mut self, id: usize, offset: u64, size: usize, flags: usize) -> Result<usize> {
        let (handle, node) = self.handle(id)?;
        let data = match &node.kind {
            Kind::File(data) => data,
            Kind::Dir(_) => return Err(Error::new(EISDIR)),
            Kind::Pins | Kind::Ctl => return Err(Error::new(EACCES)),
        };
        if !offset.is_multiple_of(PAGE_BYTES as u64) || size == 0 {
            return Err(Error::new(EINVAL));
        }
        if offset.checked_add(size as u64).is_none_or(|end| end > MAX_FILE_BYTES) {
            return Err(Error::new(EINVAL));
        }
        let flags = MapFlags::from_bits_retain(flags);
        if flags.contains(MapFlags::PROT_WRITE) && flags.contains(MapFlags::MAP_SHARED) && !handle.writable() {
            return Err(Error::new(EACCES));
        }
        let (address, ino, pages) = (data.address(offset), handle.ino, pages_for(size));
        if let Some(handle) = self.handles.get_mut(&id) {
            handle.pins += pages;
        }
        if let Some(node) = self.tree.node_mut(ino) {
            node.pins += pages;
        }
        Ok(address)
    }

    /// Munmap: drops the pins (EINVAL if more than were lent through this
    /// handle: nothing changes then); with `NEEDS_SYNC`, the write-back
    /// (nothing to do in RAM) fails with EIO if the knob is on — the pins
    /// are dropped anyway.
    pub(crate) fn give_back(&mut self, id: usize, _offset: u64, size: usize, flags: usize) -> Result<()> {
        let (handle, node) = self.handle(id)?;
        let ino = handle.ino;
        if !matches!(node.kind, Kind::File(_)) {
            return Err(Error::new(EINVAL));
        }
        let pages = pages_for(size);
        if pages > handle.pins {
            return Err(Error::new(EINVAL));
        }
        let fail = node.fail_writeback && MunmapFlags::from_bits_retain(flags).contains(MunmapFlags::NEEDS_SYNC);
        if let Some(handle) = self.handles.get_mut(&id) {
            handle.pins -= pages;
        }
        if let Some(node) = self.tree.node_mut(ino) {
            node.pins -= pages;
        }
        self.release_if_unused(ino);
        if fail { Err(Error::new(EIO)) } else { Ok(()) }
    }

    /// Msync: nothing to write in RAM; EIO with the knob on.
    pub(crate) fn write_back(&mut self, id: usize) -> Result<()> {
        let (_, node) = self.handle(id)?;
        match &node.kind {
            Kind::File(_) if node.fail_writeback => Err(Error::new(EIO)),
            Kind::File(_) => Ok(()),
            _ => Err(Error::new(EINVAL)),
        }
    }

    /// `/.ramfs/pins`' text.
    pub(crate) fn pins_text(&self) -> Vec<u8> {
        let mut text = alloc::string::String::new();
        let mut total = 0;
        for (ino, node) in self.tree.nodes().filter(|(_, node)| node.pins > 0) {
            let path = self.tree.path_of(ino).unwrap_or_else(|| "(removed)".into());
            let _ = writeln!(text, "{} {ino} {path}", node.pins);
            total += node.pins;
        }
        let _ = writeln!(text, "total {total}");
        text.into_bytes()
    }

    /// A write to `/.ramfs/ctl`: one command, a trailing newline allowed.
    /// EINVAL unknown, ENOENT/ENOTDIR the path, EISDIR not a file.
    pub(crate) fn control(&mut self, command: &[u8]) -> Result<()> {
        let command = core::str::from_utf8(command).map_err(|_| Error::new(EINVAL))?;
        let command = command.strip_suffix('\n').unwrap_or(command);
        let rest = command.strip_prefix("fail-writeback ").ok_or(Error::new(EINVAL))?;
        let (path, state) = rest.rsplit_once(' ').ok_or(Error::new(EINVAL))?;
        let on = match state {
            "on" => true,
            "off" => false,
            _ => return Err(Error::new(EINVAL)),
        };
        let ino = self.lookup(path)?;
        let node = self.tree.node_mut(ino).ok_or(Error::new(EBADF))?;
        match node.kind {
            Kind::File(_) => node.fail_writeback = on,
            _ => return Err(Error::new(EISDIR)),
        }
        Ok(())
    }
}
