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
//! range's pages a client may have stored to (the window was lent shared
//! and writable, and they are not *sealed*) and any left dirty into the
//! RedoxFS file, one [`records::write_file`] per run in one transaction
//! (each record compared with the disk, only those that differ written;
//! whole compressed records by their compressed form, `records.rs`).
//! The pages are sealed first: read-only here and taken back from every
//! mapping, so the next write-back skips them unless a client touched them
//! again (the kernel then asks for them, and MmapPrep opens them).
//! `MS_SYNC` and `fsync` then flush the device. If that fails the answer
//! is EIO and the pages stay dirty (written again by the next msync,
//! munmap or fsync); Munmap's pins are given back all the same (the kernel
//! has unmapped the range).
//!
//! The cache holds at most its limit of resident pages: before pages come
//! in, the least recently lent are evicted ([`Redoxfsd::evict`]: set aside,
//! taken back with private copies kept, written back, forgotten); MmapPrep
//! reads at most the limit and sets the rest aside, to be lent again page
//! by page when clients touch them (docs/redoxfs.md, "The limit and
//! eviction").
//!
//! | file | what |
//! |---|---|
//! | `/.redoxfsd/pins` | read-only text made at open: `PINS NODE dirty=N` per file with a window, then `total PINS` |
//! | `/.redoxfsd/cache` | read-only text made at open: `pages`, `limit`, `peak`, `evictions`, `over-limit` (one `NAME N` line each) |
//! | `/.redoxfsd/ctl` | write-only; `fail-writes on\|off`: every device write and flush fails with EIO (for tests); `cache-pages N`: the cache's limit |

use alloc::vec::Vec;
use core::fmt::Write;

use redoxfs::TreePtr;
use tessera_ramfs::PAGE_BYTES;
use tessera_runtime::abi::error::{EACCES, EINVAL, EISDIR};
use tessera_runtime::abi::flag::MapFlags;
use tessera_runtime::abi::scheme::MunmapFlags;
use tessera_runtime::mm::MS_SYNC;
use tessera_runtime::{Error, Result};

use crate::cache::{CachePages, WINDOW_BYTES, pages_to};
use crate::disk::Device;
use crate::fs::{Redoxfsd, Target};
use crate::records::{self, Written};

const PAGE: u64 = PAGE_BYTES as u64;

/// Pages covering `size_bytes`.
fn pages_for(size_bytes: usize) -> u64 {
    size_bytes.div_ceil(PAGE_BYTES) as u64
}

/// The pages of `[offset, offset + size)`.
fn page_range(offset: u64, size: usize) -> core::ops::Range<u64> {
    offset / PAGE..offset.saturating_add(size as u64).div_ceil(PAGE)
}

impl<D: Device, P: CachePages> Redoxfsd<D, P> {
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
        let file_size = self.file_size(node)?;
        let asked = page_range(offset, size);
        let inside = asked.start..asked.end.min(pages_to(file_size)).max(asked.start);
        // At most the cache's limit is read now; the rest is set aside and
        // lent when a client touches it (the kernel asks again).
        let load = inside.start..inside.end.min(inside.start.saturating_add(self.cache.limit));
        let aside = load.end..inside.end;
        let pins = pages_for(size);
        self.cache.open_window(node)?;
        let missing = self.cache.missing(node, &load);
        self.make_room(missing, node, &load);
        if flags.contains(MapFlags::PROT_WRITE)
            && flags.contains(MapFlags::MAP_SHARED)
            && let Some(window) = self.cache.windows.get_mut(&node)
        {
            window.written_through = true;
        }
        let Self { fs, cache, .. } = self;
        let base = cache.lend(node, load, aside, pins, |offset, bytes| {
            fs.tx(|tx| tx.read_node(TreePtr::new(node), offset, bytes, 0, 0)).map(drop).map_err(crate::fs::errno)
        })?;
        if let Some(handle) = self.handles.get_mut(&id) {
            handle.pins += pins;
        }
        Ok(base + offset as usize)
    }

    /// Evicts the least recently lent pages (none of `keep` of `node`)
    /// until `incoming` more fit under the limit, or no page can go: every
    /// other one is dirty and its write-back fails (the cache then goes
    /// over its limit, counted in `over-limit`: no data is dropped).
    pub(crate) fn make_room(&mut self, incoming: u64, node: u32, keep: &core::ops::Range<u64>) {
        let mut failed = Vec::new();
        while self.cache.resident_pages() + incoming > self.cache.limit {
            let Some((victim, page)) = self.cache.oldest((node, keep), &failed) else { break };
            if self.evict(victim, page).is_err() {
                failed.push((victim, page));
            }
        }
    }

    /// Evicts page `page` of `node`: set aside (a fetch from now on asks
    /// for it again, and waits for this request to end), taken back from
    /// every mapping (so no client can store to it any more), written back
    /// if a client may have stored to it (compared with the disk) or it is
    /// dirty, and then its memory goes. If the write-back fails, the page
    /// stays resident and dirty (opened again: the kernel takes it as
    /// before) and the error is returned.
    pub(crate) fn evict(&mut self, node: u32, page: u64) -> Result<()> {
        let Some(window) = self.cache.windows.get(&node) else { return Ok(()) };
        let addr = window.address(page);
        let exposed = window.written_through && !window.sealed.contains(page);
        let needs_write = exposed || window.dirty.contains(page);
        self.cache.pages.set_aside(addr, PAGE_BYTES)?;
        let mut result = self.cache.pages.take_back(addr, PAGE_BYTES);
        if result.is_ok() && needs_write {
            // Set aside and taken back: as sealed.
            result = self.write_runs(node, &[(page, page + 1)], true);
        }
        if let Err(e) = result {
            // If this fails too the page stays set aside (and dirty): the
            // next write-back of the file still writes it.
            let _ = self.cache.pages.open_up(addr, PAGE_BYTES);
            if let Some(window) = self.cache.windows.get_mut(&node) {
                window.dirty.insert(page);
            }
            return Err(e);
        }
        self.cache.evicted();
        self.cache.unlist(node, page);
        let result = self.cache.pages.forget(addr, PAGE_BYTES);
        // An unpinned window goes with its last resident page.
        self.cache.release_if_unused(node);
        result
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
            // The kernel says the lease was shared and writable.
            if let Some(window) = self.cache.windows.get_mut(&node) {
                window.written_through = true;
            }
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

    /// Writes the pages of `node` among `pages` that a client may have
    /// stored to (lent shared and writable, not sealed), and its dirty ones,
    /// into the file (clipped to its size), in one transaction.
    pub(crate) fn write_back(&mut self, node: u32, pages: core::ops::Range<u64>) -> Result<()> {
        self.write_pages(node, pages, true)
    }

    /// [`Self::write_back`] of `pages`, and with `dirty` of every dirty
    /// page. The pages are sealed first (taken back from every mapping,
    /// read-only here), so a store after the copy below faults and asks
    /// for the page again: until then a later write-back skips them. If
    /// sealing fails they are written all the same (not sealed).
    fn write_pages(&mut self, node: u32, pages: core::ops::Range<u64>, dirty: bool) -> Result<()> {
        if !self.cache.windows.contains_key(&node) {
            return Ok(());
        }
        let size = self.file_size(node)?;
        let runs = self.cache.to_write(node, pages, size, dirty);
        if runs.is_empty() {
            return Ok(());
        }
        let sealed = self.cache.seal(node, &runs).is_ok();
        self.write_runs(node, &runs, sealed)
    }

    /// Writes the pages `runs` of `node` into the file (clipped to its
    /// size) in one transaction: one [`records::write_file`] per run, which
    /// compares each record with the disk and writes only those that
    /// differ, as redoxfs's `write_node` (an untouched page costs a read
    /// and, in a whole compressed record, a compression; not a new
    /// record). With `sealed` (the pages are set aside here, for lending
    /// or read-only, and taken back from every mapping) they are read
    /// where they are, else from a copy. The pages are clean afterwards,
    /// or dirty if it failed.
    fn write_runs(&mut self, node: u32, runs: &[(u64, u64)], sealed: bool) -> Result<()> {
        let size = self.file_size(node)?;
        let now = (self.clock)();
        let mut records = Written::default();
        let Self { fs, cache, compressed, .. } = self;
        let result = fs.tx(|tx| {
            let ptr = TreePtr::new(node);
            for &run in runs {
                let written = cache.with_bytes(node, run, size, sealed, |data| {
                    if data.is_empty() {
                        return Ok(Written::default());
                    }
                    records::write_file(tx, ptr, run.0 * PAGE, data, now, compressed)
                })?;
                records.replaced += written.replaced;
                records.unchanged += written.unchanged;
                records.read_back += written.read_back;
            }
            Ok(())
        });
        // What the device held back goes before the answer.
        let drained = fs.disk.drain();
        let result = result.and(drained).map_err(crate::fs::errno);
        if result.is_ok() {
            self.records.replaced += records.replaced;
            self.records.unchanged += records.unchanged;
            self.records.read_back += records.read_back;
        }
        self.cache.written(node, runs, result.is_ok());
        result
    }

    /// `/.redoxfsd/pins`' text.
    pub(crate) fn pins_text(&self) -> Vec<u8> {
        let mut text = alloc::string::String::new();
        let mut total = 0;
        for (node, pins, dirty) in self.cache.pin_counts() {
            let _ = writeln!(text, "{pins} {node} dirty={dirty}");
            total += pins;
        }
        let _ = writeln!(text, "total {total}");
        text.into_bytes()
    }

    /// `/.redoxfsd/cache`'s text.
    pub(crate) fn cache_text(&self) -> Vec<u8> {
        let stats = self.cache.stats();
        let mut text = alloc::string::String::new();
        let _ = writeln!(text, "pages {}", stats.pages);
        let _ = writeln!(text, "limit {}", stats.limit);
        let _ = writeln!(text, "peak {}", stats.peak);
        let _ = writeln!(text, "evictions {}", stats.evictions);
        let _ = writeln!(text, "over-limit {}", stats.over_limit);
        text.into_bytes()
    }

    /// A write to `/.redoxfsd/ctl`: one command, a trailing newline
    /// allowed. EINVAL unknown, or a limit that is not a number from 1.
    pub(crate) fn control(&mut self, command: &[u8]) -> Result<()> {
        let command = core::str::from_utf8(command).map_err(|_| Error::new(EINVAL))?;
        let command = command.strip_suffix('\n').unwrap_or(command);
        if let Some(limit) = command.strip_prefix("cache-pages ") {
            let limit = limit.parse::<u64>().ok().filter(|&n| n > 0).ok_or(Error::new(EINVAL))?;
            self.cache.set_limit(limit);
            self.make_room(0, 0, &(0..0));
            return Ok(());
        }
        self.fs.disk.fail_writes = match command {
            "fail-writes on" => true,
            "fail-writes off" => false,
            _ => return Err(Error::new(EINVAL)),
        };
        Ok(())
    }
}
