//! Lending cache pages (the daemon side of fmap), writing them back, and
//! the `/.redoxfsd/` control files that show and steer it.
//!
//! `MmapPrep` makes the asked pages that lie inside the file resident
//! (read from the disk now: the kernel fetches a lent page by faulting it
//! in this space, so it must hold the file's bytes already) and answers
//! their address in the file's window (`cache.rs`); pages past the end of
//! file stay inaccessible, and the client gets SIGBUS there. Each request
//! pins `ceil(size / page)` pages, counted on the file's window and on the
//! handle, until `Munmap` gives them back.
//!
//! Write-back (`Munmap` with `NEEDS_SYNC`, `Msync`, `fsync`) writes the
//! range's resident pages (and any left dirty) into the RedoxFS file, in
//! one transaction, skipping the pages that read the same on the disk (the
//! daemon cannot tell which pages a client stored to); `MS_SYNC` and `fsync` then flush the device. If that
//! fails the answer is EIO and the pages stay dirty (written again by the
//! next msync, munmap or fsync); Munmap's pins are given back all the same
//! (the kernel has unmapped the range).
//!
//! | file | what |
//! |---|---|
//! | `/.redoxfsd/pins` | read-only text made at open: `PINS NODE dirty=N` per file with a window, then `total PINS` |
//! | `/.redoxfsd/ctl` | write-only; `fail-writes on\|off`: every device write and flush fails with EIO (for tests) |

use alloc::vec::Vec;
use core::fmt::Write;

use redoxfs::TreePtr;
use tessera_ramfs::{PAGE_BYTES, Pages};
use tessera_runtime::abi::error::{EACCES, EINVAL, EISDIR};
use tessera_runtime::abi::flag::MapFlags;
use tessera_runtime::abi::scheme::MunmapFlags;
use tessera_runtime::mm::MS_SYNC;
use tessera_runtime::{Error, Result};

use crate::cache::{WINDOW_BYTES, pages_to};
use crate::disk::Device;
use crate::fs::{Redoxfsd, Target};

const PAGE: u64 = PAGE_BYTES as u64;

/// Pages covering `size_bytes`.
fn pages_for(size_bytes: usize) -> u64 {
    size_bytes.div_ceil(PAGE_BYTES) as u64
}

/// The byte ranges, in whole pages, where `cached` differs from `on_disk`
/// (same length), neighbours merged.
fn differing(cached: &[u8], on_disk: &[u8]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (i, (a, b)) in cached.chunks(PAGE_BYTES).zip(on_disk.chunks(PAGE_BYTES)).enumerate() {
        if a == b {
            continue;
        }
        let (start, end) = (i * PAGE_BYTES, i * PAGE_BYTES + a.len());
        match out.last_mut() {
            Some(last) if last.1 == start => last.1 = end,
            _ => out.push((start, end)),
        }
    }
    out
}

/// The pages of `[offset, offset + size)`.
fn page_range(offset: u64, size: usize) -> core::ops::Range<u64> {
    offset / PAGE..offset.saturating_add(size as u64).div_ceil(PAGE)
}

impl<D: Device, P: Pages> Redoxfsd<D, P> {
    /// MmapPrep. EBADF unknown id; EISDIR a directory, EACCES a control
    /// file or a shared writable mapping of a read-only open; EINVAL an
    /// unaligned offset, a zero size, a range past the window; ENOSPC no
    /// memory for the pages; EIO reading them.
    pub(crate) fn lend(&mut self, id: usize, offset: u64, size: usize, flags: usize) -> Result<usize> {
        let handle = self.handle(id)?;
        let node = match handle.target {
            _ if handle.dir => return Err(Error::new(EISDIR)),
            Target::Node(node) => node,
            _ => return Err(Error::new(EACCES)),
        };
        if !offset.is_multiple_of(PAGE) || size == 0 {
            return Err(Error::new(EINVAL));
        }
        if offset.checked_add(size as u64).is_none_or(|end| end > WINDOW_BYTES) {
            return Err(Error::new(EINVAL));
        }
        let flags = MapFlags::from_bits_retain(flags);
        if flags.contains(MapFlags::PROT_WRITE) && flags.contains(MapFlags::MAP_SHARED) && !handle.writable() {
            return Err(Error::new(EACCES));
        }
        let file_size = self.read_node(node)?.data().size();
        let asked = page_range(offset, size);
        let inside = asked.start..asked.end.min(pages_to(file_size));
        let pins = pages_for(size);
        let Self { fs, cache, .. } = self;
        let base = cache.lend(node, inside, pins, |offset, bytes| {
            fs.tx(|tx| tx.read_node(TreePtr::new(node), offset, bytes, 0, 0)).map(drop).map_err(crate::fs::errno)
        })?;
        if let Some(handle) = self.handles.get_mut(&id) {
            handle.pins += pins;
        }
        Ok(base + offset as usize)
    }

    /// Munmap: with `NEEDS_SYNC` the range is written back first (EIO if
    /// that failed: the pages stay dirty); then the pins go (EINVAL if
    /// more than were lent through this handle: nothing changes then).
    pub(crate) fn give_back(&mut self, id: usize, offset: u64, size: usize, flags: usize) -> Result<()> {
        let (handle, node) = self.node_of(id)?;
        let pins = pages_for(size);
        if pins > handle.pins {
            return Err(Error::new(EINVAL));
        }
        let result = if MunmapFlags::from_bits_retain(flags).contains(MunmapFlags::NEEDS_SYNC) {
            self.write_back(node, page_range(offset, size))
        } else {
            Ok(())
        };
        if let Some(handle) = self.handles.get_mut(&id) {
            handle.pins -= pins;
        }
        self.cache.unpin(node, pins);
        result
    }

    /// Msync: writes the range back; with `MS_SYNC` flushes the device
    /// too. EIO if either failed.
    pub(crate) fn msync_range(&mut self, id: usize, offset: u64, size: usize, flags: usize) -> Result<()> {
        let (_, node) = self.node_of(id)?;
        self.write_back(node, page_range(offset, size))?;
        if flags & MS_SYNC != 0 {
            self.fs.disk.flush()?;
        }
        Ok(())
    }

    /// Writes the resident pages of `node` among `pages`, and its dirty
    /// ones, into the file (clipped to its size), in one transaction.
    pub(crate) fn write_back(&mut self, node: u32, pages: core::ops::Range<u64>) -> Result<()> {
        if !self.cache.windows.contains_key(&node) {
            return Ok(());
        }
        let size = self.read_node(node)?.data().size();
        let runs = self.cache.runs(node, pages, size);
        if runs.is_empty() {
            return Ok(());
        }
        let now = (self.clock)();
        let result = self.tx(|tx| {
            let ptr = TreePtr::new(node);
            let mut on_disk = Vec::new();
            for (offset, data) in &runs {
                // Only the pages that differ from the disk are written: a
                // mapping's untouched pages cost a read, not a new record.
                on_disk.clear();
                on_disk.resize(data.len(), 0);
                tx.read_node(ptr, *offset, &mut on_disk, 0, 0)?;
                for (start, end) in differing(data, &on_disk) {
                    tx.write_node(ptr, offset + start as u64, &data[start..end], now.0, now.1)?;
                }
            }
            Ok(())
        });
        self.cache.written(node, &runs, result.is_ok());
        result
    }

    /// `/.redoxfsd/pins`' text.
    pub(crate) fn pins_text(&self) -> Vec<u8> {
        let mut text = alloc::string::String::new();
        let mut total = 0;
        for (node, pins, dirty) in self.cache.stats() {
            let _ = writeln!(text, "{pins} {node} dirty={dirty}");
            total += pins;
        }
        let _ = writeln!(text, "total {total}");
        text.into_bytes()
    }

    /// A write to `/.redoxfsd/ctl`: one command, a trailing newline
    /// allowed. EINVAL unknown.
    pub(crate) fn control(&mut self, command: &[u8]) -> Result<()> {
        let command = core::str::from_utf8(command).map_err(|_| Error::new(EINVAL))?;
        let command = command.strip_suffix('\n').unwrap_or(command);
        self.fs.disk.fail_writes = match command {
            "fail-writes on" => true,
            "fail-writes off" => false,
            _ => return Err(Error::new(EINVAL)),
        };
        Ok(())
    }
}
