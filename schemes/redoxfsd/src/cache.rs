//! The page cache: the pages of mapped files, in the daemon's own address
//! space, which fmap lends to clients (`fmap.rs`).
//!
//! Each file with pages lent has a **window**: [`WINDOW_BYTES`] of address
//! space reserved inaccessible (ramfs's `Pages`), so that file byte `o`
//! always lives at `base + o` and a lent page never moves. A page of the
//! window is *resident* when it is open (readable and writable) and holds
//! the file's bytes; every other page of the window is inaccessible, so a
//! client that reaches it (past the end of the file) gets SIGBUS.
//!
//! ```text
//! base                                   round_up(size)             base + WINDOW_BYTES
//!  |res|   |res|res|    |res|0000|        |<-- inaccessible ---------------->|
//!   resident: open, the file's bytes (zero past EOF in the last page)
//!   others:   inaccessible, no memory; read() and write() go to the disk
//! ```
//! Invariants:
//! - the resident pages hold the file's current bytes: `read()` reads them
//!   over what the disk has, `write()` writes the disk and them;
//! - the bytes past the end of file in a resident page are zero;
//! - a resident page is never moved or made inaccessible while the file
//!   has it, except past a new end of file (truncate: the client's SIGBUS);
//! - *dirty* pages are resident pages whose write-back failed: they are
//!   written again by the next msync, munmap or fsync of the file, and keep
//!   the window alive until then or until the file's last handle closes
//!   (one more try, then they are dropped: `fs.rs`).
//!
//! Pages come in when MmapPrep asks for them (read from the disk then, as
//! the kernel fetches a lent page by faulting it in this space as a write;
//! a page that reads all zero is opened but not written, so a hole costs
//! no memory until a client touches it) and when a mapped file grows
//! (zero). The window goes, with all its
//! pages, when the file's last pin goes and nothing is dirty. The cache
//! never takes a lent page back (that needs the kernel's invalidation
//! path): until then it does not evict.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec;
use alloc::vec::Vec;

use tessera_ramfs::{PAGE_BYTES, Pages};
use tessera_runtime::Result;

/// The size of a window: the largest offset a mapping can reach.
pub const WINDOW_BYTES: u64 = 4 << 30;

const PAGE: u64 = PAGE_BYTES as u64;

/// Pages covering `[0, bytes)`.
pub fn pages_to(bytes: u64) -> u64 {
    bytes.div_ceil(PAGE).min(WINDOW_BYTES / PAGE)
}

/// One mapped file's pages.
pub struct Window {
    pub base: usize,
    pub resident: BTreeSet<u64>,
    pub dirty: BTreeSet<u64>,
    /// Pages lent and not given back (MmapPrep minus Munmap).
    pub pins: u64,
}

impl Window {
    fn address(&self, page: u64) -> usize {
        self.base + (page * PAGE) as usize
    }
}

/// The cache: windows by RedoxFS node id.
pub struct Cache<P: Pages> {
    pub pages: P,
    pub windows: BTreeMap<u32, Window>,
}

impl<P: Pages> Cache<P> {
    pub fn new(pages: P) -> Self {
        Self { pages, windows: BTreeMap::new() }
    }

    /// Copies the resident bytes of `[offset, offset + buf.len())` of file
    /// `node` over `buf` (which holds what the disk has).
    pub fn overlay(&self, node: u32, offset: u64, buf: &mut [u8]) {
        let Some(window) = self.windows.get(&node) else { return };
        for_pages(offset, buf.len(), |page, in_page, at, len| {
            if window.resident.contains(&page) {
                self.pages.read(window.address(page) + in_page, &mut buf[at..at + len]);
            }
        });
    }

    /// Copies `data` into the resident pages of `[offset, ...)` (after the
    /// disk took it).
    pub fn store(&mut self, node: u32, offset: u64, data: &[u8]) {
        let Some(window) = self.windows.get(&node) else { return };
        for_pages(offset, data.len(), |page, in_page, at, len| {
            if window.resident.contains(&page) {
                self.pages.write(window.address(page) + in_page, &data[at..at + len]);
            }
        });
    }

    /// Makes the pages `pages` of file `node` resident (the window is made
    /// if needed) and pins `pins`; returns the window's base. Each run of
    /// pages not resident yet is opened at once (one memory call), then
    /// read with `load(offset, bytes)` [`LOAD_PAGES`] at a time; a page
    /// that reads all zero is not written, so a hole costs no memory until
    /// a client touches it. Errors: ENOSPC no memory or address space; a
    /// load's error (nothing pinned then; the pages of that run not read
    /// yet are closed again).
    pub fn lend(
        &mut self,
        node: u32,
        pages: core::ops::Range<u64>,
        pins: u64,
        mut load: impl FnMut(u64, &mut [u8]) -> Result<()>,
    ) -> Result<usize> {
        if !self.windows.contains_key(&node) {
            let base = self.pages.reserve(WINDOW_BYTES as usize)?;
            self.windows.insert(node, Window { base, resident: BTreeSet::new(), dirty: BTreeSet::new(), pins: 0 });
        }
        let result = match self.windows.get_mut(&node) {
            Some(window) => fill(&mut self.pages, window, pages, &mut load).map(|()| window.pins += pins),
            None => Ok(()),
        };
        self.release_if_unused(node);
        result?;
        self.windows.get(&node).map(|w| w.base).ok_or(tessera_runtime::Error::new(tessera_runtime::abi::error::EIO))
    }

    /// Gives `pins` back (fewer if fewer are left); the window goes if
    /// that was the last and nothing is dirty.
    pub fn unpin(&mut self, node: u32, pins: u64) {
        if let Some(window) = self.windows.get_mut(&node) {
            window.pins = window.pins.saturating_sub(pins);
        }
        self.release_if_unused(node);
    }

    /// Drops the window of `node` if it has no pins and nothing dirty.
    pub fn release_if_unused(&mut self, node: u32) {
        if self.windows.get(&node).is_some_and(|w| w.pins == 0 && w.dirty.is_empty())
            && let Some(window) = self.windows.remove(&node)
        {
            self.pages.release(window.base, WINDOW_BYTES as usize);
        }
    }

    /// Drops the window of `node`, whatever it holds.
    pub fn discard(&mut self, node: u32) {
        if let Some(window) = self.windows.remove(&node) {
            self.pages.release(window.base, WINDOW_BYTES as usize);
        }
    }

    /// The file grew from `old` to `new` bytes: the zero tail of the old
    /// last page is kept zero, and every new page is made resident (zero),
    /// so a mapping past the old end sees the file, not SIGBUS.
    pub fn grow(&mut self, node: u32, old: u64, new: u64) -> Result<()> {
        let Some(window) = self.windows.get_mut(&node) else { return Ok(()) };
        let tail_page = old / PAGE;
        if !old.is_multiple_of(PAGE) && window.resident.contains(&tail_page) {
            let end = new.min((tail_page + 1) * PAGE);
            let zeroes = vec![0u8; (end - old) as usize];
            self.pages.write(window.address(tail_page) + (old % PAGE) as usize, &zeroes);
        }
        let (first, end) = (pages_to(old), pages_to(new));
        if end > first {
            self.pages.open_up(window.address(first), ((end - first) * PAGE) as usize)?;
            window.resident.extend(first..end);
        }
        Ok(())
    }

    /// The file shrank to `new` bytes: the tail of the new last page is
    /// zeroed, the pages past it are made inaccessible and dropped (a
    /// client touching them gets SIGBUS).
    pub fn shrink(&mut self, node: u32, new: u64) -> Result<()> {
        let Some(window) = self.windows.get_mut(&node) else { return Ok(()) };
        let tail_page = new / PAGE;
        if !new.is_multiple_of(PAGE) && window.resident.contains(&tail_page) {
            let zeroes = vec![0u8; (PAGE - new % PAGE) as usize];
            self.pages.write(window.address(tail_page) + (new % PAGE) as usize, &zeroes);
        }
        let gone: Vec<u64> = window.resident.range(pages_to(new)..).copied().collect();
        let mut result = Ok(());
        for page in gone {
            window.resident.remove(&page);
            window.dirty.remove(&page);
            if let Err(e) = self.pages.close_down(window.address(page), PAGE_BYTES) {
                result = Err(e);
            }
        }
        self.release_if_unused(node);
        result
    }

    /// The resident pages of `node` among `pages` and its dirty ones, as
    /// runs to write back: (file offset, bytes), clipped to `size`.
    pub fn runs(&self, node: u32, pages: core::ops::Range<u64>, size: u64) -> Vec<(u64, Vec<u8>)> {
        let Some(window) = self.windows.get(&node) else { return Vec::new() };
        let chosen: BTreeSet<u64> = window.resident.range(pages).chain(window.dirty.iter()).copied().collect();
        let mut runs: Vec<(u64, Vec<u8>)> = Vec::new();
        for page in chosen {
            let offset = page * PAGE;
            if offset >= size {
                continue;
            }
            let len = (size - offset).min(PAGE) as usize;
            let mut bytes = vec![0u8; len];
            self.pages.read(window.address(page), &mut bytes);
            match runs.last_mut() {
                Some((start, data)) if *start + data.len() as u64 == offset => data.extend_from_slice(&bytes),
                _ => runs.push((offset, bytes)),
            }
        }
        runs
    }

    /// Records how a write-back of `runs` went: their pages are clean on
    /// success, dirty on failure.
    pub fn written(&mut self, node: u32, runs: &[(u64, Vec<u8>)], ok: bool) {
        let Some(window) = self.windows.get_mut(&node) else { return };
        for (offset, data) in runs {
            for page in offset / PAGE..(offset + data.len() as u64).div_ceil(PAGE) {
                if ok {
                    window.dirty.remove(&page);
                } else {
                    window.dirty.insert(page);
                }
            }
        }
        self.release_if_unused(node);
    }

    /// (pins, dirty pages) of each window, by node.
    pub fn stats(&self) -> impl Iterator<Item = (u32, u64, usize)> + '_ {
        self.windows.iter().map(|(&node, w)| (node, w.pins, w.dirty.len()))
    }
}

/// Pages read from the disk at a time when filling (one RedoxFS record).
const LOAD_PAGES: u64 = 32;

/// Makes `pages` of `window` resident, read with `load` (see
/// [`Cache::lend`]).
fn fill<P: Pages>(
    memory: &mut P,
    window: &mut Window,
    pages: core::ops::Range<u64>,
    load: &mut impl FnMut(u64, &mut [u8]) -> Result<()>,
) -> Result<()> {
    let mut bytes = vec![0u8; (LOAD_PAGES * PAGE) as usize];
    let mut page = pages.start;
    while page < pages.end {
        if window.resident.contains(&page) {
            page += 1;
            continue;
        }
        let run_end = window.resident.range(page..pages.end).next().copied().unwrap_or(pages.end);
        memory.open_up(window.address(page), ((run_end - page) * PAGE) as usize)?;
        while page < run_end {
            let n = (run_end - page).min(LOAD_PAGES);
            let chunk = &mut bytes[..(n * PAGE) as usize];
            chunk.fill(0);
            if let Err(e) = load(page * PAGE, chunk) {
                let _ = memory.close_down(window.address(page), ((run_end - page) * PAGE) as usize);
                return Err(e);
            }
            for (i, data) in chunk.chunks(PAGE_BYTES).enumerate() {
                if data.iter().any(|&b| b != 0) {
                    memory.write(window.address(page + i as u64), data);
                }
            }
            window.resident.extend(page..page + n);
            page += n;
        }
    }
    Ok(())
}

/// Calls `f(page, offset in page, offset in buffer, length)` for each
/// page piece of `[offset, offset + len)`.
fn for_pages(offset: u64, len: usize, mut f: impl FnMut(u64, usize, usize, usize)) {
    let mut at = 0;
    while at < len {
        let file_offset = offset + at as u64;
        let (page, in_page) = (file_offset / PAGE, (file_offset % PAGE) as usize);
        if page >= WINDOW_BYTES / PAGE {
            return;
        }
        let n = (PAGE_BYTES - in_page).min(len - at);
        f(page, in_page, at, n);
        at += n;
    }
}
