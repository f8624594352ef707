//! The page cache: the pages of mapped files, in the daemon's own address
//! space, which fmap lends to clients (`fmap.rs`).
//!
//! Each file with pages lent has a **window**: [`WINDOW_BYTES`] of address
//! space reserved inaccessible (ramfs's `Pages`), so that file byte `o`
//! always lives at `base + o` and a lent page never moves. A page of the
//! window is *resident* when it is open (readable and writable) and holds
//! the file's bytes; a page of the file that is not resident is *set
//! aside* (read-only, no memory: the kernel asks for it again with an
//! MmapPrep of that page when a client needs it, docs/fmap.md); pages past
//! the end of file are inaccessible, so a client that reaches them gets
//! SIGBUS.
//!
//! ```text
//! base                                   round_up(size)             base + WINDOW_BYTES
//!  |res|-r-|res|res|-r-|res|0000|        |<-- inaccessible ---------------->|
//!   resident: open, the file's bytes (zero past EOF in the last page)
//!   -r-:      set aside (or never loaded): read-only, no memory, lent again on demand
//!   others:   inaccessible, no memory; read() and write() go to the disk
//! ```
//! Invariants:
//! - the resident pages hold the file's current bytes: `read()` reads them
//!   over what the disk has, `write()` writes the disk and them;
//! - the bytes past the end of file in a resident page are zero;
//! - a resident page is never moved; it leaves the cache only taken back
//!   from every mapping first (eviction, truncate);
//! - a *sealed* page is resident, set aside for lending here
//!   (`MADV_LEND_ASIDE`: still mapped and writable in this space, but the
//!   kernel takes it for no client without asking), taken back from every
//!   mapping and equal to the disk: no client has stored to it since its
//!   last write-back, so write-backs skip it; the kernel's fetch asks for
//!   it again (MmapPrep opens it, and it may be written from then on);
//!   `write()` opens it too. A page is set aside for lending exactly while
//!   it is sealed;
//! - *dirty* pages are resident pages whose write-back failed: they are
//!   written again by the next msync, munmap or fsync of the file (or
//!   before their eviction), and keep the window alive until then or until
//!   the file's last handle closes (one more try, then they are dropped:
//!   `fs.rs`).
//!
//! Pages come in when MmapPrep asks for them (read from the disk then, as
//! the kernel fetches a lent page by faulting it in this space as a write;
//! a page that reads all zero is opened but not written, so a hole costs
//! no memory until a client touches it). The cache holds at most
//! [`Cache::limit`] resident pages: before more come in, the least
//! recently lent ones are evicted (`fmap.rs`: set aside and taken back,
//! written back if a client may have stored to them, then their memory
//! goes). The resident pages stay when the file's last pin goes: the next
//! mapping of the open file lends them with no disk read. The window goes
//! with the file's last handle (`fs.rs`), or once it has no pin, nothing
//! dirty and no resident page.

use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;

use crate::runs::RunSet;
use tessera_ramfs::{PAGE_BYTES, Pages, SystemPages};
use tessera_runtime::abi::error::{EIO, ENOMEM};
use tessera_runtime::abi::scheme::EVICT_MAX_BYTES;
use tessera_runtime::mm::{self, MADV_DONTNEED, MADV_LEND_ASIDE, MADV_LEND_OPEN, PROT_READ};
use tessera_runtime::{Error, Result, scheme};

/// The size of a window: the largest offset a mapping can reach.
pub const WINDOW_BYTES: u64 = 4 << 30;

/// The cache's limit unless `--cache-pages` says otherwise: 4096 pages
/// (16 MiB).
pub const DEFAULT_CACHE_PAGES: u64 = 4096;

const PAGE: u64 = PAGE_BYTES as u64;

/// Pages covering `[0, bytes)`.
pub fn pages_to(bytes: u64) -> u64 {
    bytes.div_ceil(PAGE).min(WINDOW_BYTES / PAGE)
}

/// What the cache needs of its memory besides [`Pages`]: setting pages
/// aside for eviction.
pub trait CachePages: Pages {
    /// Makes `[addr, addr + bytes)` read-only: a fetch by the kernel finds
    /// it set aside and asks for it again (MmapPrep) instead of taking it.
    /// EIO if that fails.
    fn set_aside(&mut self, addr: usize, bytes: usize) -> Result<()>;
    /// Takes `[addr, addr + bytes)` (set aside) back from every mapping that
    /// borrowed it: the kernel drops the pages that show these frames from
    /// every space and flushes the TLBs before this returns; private copies
    /// stay (`scheme::evict`). EIO if that fails.
    fn take_back(&mut self, addr: usize, bytes: usize) -> Result<()>;
    /// Drops the memory of pages set aside (they stay read-only and read
    /// as zeroes). EIO if that fails.
    fn forget(&mut self, addr: usize, bytes: usize) -> Result<()>;
    /// Sets `[addr, addr + bytes)` (open) aside for lending: the kernel
    /// takes none of its pages for a client without asking again
    /// (MmapPrep), while they stay mapped and writable here with their
    /// data, so opening them again changes no page table entry. How pages
    /// are sealed. EIO if that fails.
    fn lend_aside(&mut self, addr: usize, bytes: usize) -> Result<()>;
    /// Ends [`Self::lend_aside`] for `[addr, addr + bytes)` (nothing for
    /// pages not set aside so). ENOMEM if that fails (the kernel could not
    /// cut its books of the range).
    fn lend_open(&mut self, addr: usize, bytes: usize) -> Result<()>;
    /// Calls `f` with the bytes of `[addr, addr + len)` (a copy unless the
    /// memory can be read in place).
    ///
    /// # Safety
    /// The pages are open or set aside, and nothing can store to them until
    /// `f` returns: sealed (set aside for lending and taken back from every
    /// mapping), and this daemon does not write them meanwhile.
    unsafe fn with_sealed<R>(&self, addr: usize, len: usize, f: impl FnOnce(&[u8]) -> R) -> R {
        let mut bytes = vec![0u8; len];
        self.read(addr, &mut bytes);
        f(&bytes)
    }
}

impl CachePages for SystemPages {
    fn set_aside(&mut self, addr: usize, bytes: usize) -> Result<()> {
        // SAFETY: pages of a window, which hold no Rust object; read-only
        // keeps them readable for the write-back.
        unsafe { mm::mprotect(addr, bytes, PROT_READ) }.map_err(|_| Error::new(EIO))
    }

    fn take_back(&mut self, addr: usize, bytes: usize) -> Result<()> {
        match self.queue {
            Some(queue) => scheme::evict(queue, addr, bytes).map(drop).map_err(|_| Error::new(EIO)),
            None => Ok(()),
        }
    }

    fn forget(&mut self, addr: usize, bytes: usize) -> Result<()> {
        // SAFETY: pages set aside and taken back: no client holds their
        // frames, and the cache no longer reads them.
        unsafe { mm::madvise(addr, bytes, MADV_DONTNEED) }.map_err(|_| Error::new(EIO))
    }

    fn lend_aside(&mut self, addr: usize, bytes: usize) -> Result<()> {
        // SAFETY: a mark on the pages of a window for the kernel's lending;
        // nothing in this space changes.
        unsafe { mm::madvise(addr, bytes, MADV_LEND_ASIDE) }.map_err(|_| Error::new(EIO))
    }

    fn lend_open(&mut self, addr: usize, bytes: usize) -> Result<()> {
        // SAFETY: as `lend_aside`.
        unsafe { mm::madvise(addr, bytes, MADV_LEND_OPEN) }.map_err(|_| Error::new(ENOMEM))
    }

    /// In place: no copy.
    unsafe fn with_sealed<R>(&self, addr: usize, len: usize, f: impl FnOnce(&[u8]) -> R) -> R {
        // SAFETY: the caller's: the pages are mapped readable in this
        // space (open or set aside), hold no Rust object, and nothing
        // stores to them while `f` runs.
        f(unsafe { core::slice::from_raw_parts(addr as *const u8, len) })
    }
}

/// One mapped file's pages.
pub struct Window {
    pub base: usize,
    /// Resident pages, each with the tick it was last lent at.
    pub resident: BTreeMap<u64, u64>,
    /// The same pages as runs: what is (not) resident in a range is a few
    /// runs to look at, not a walk over every resident page.
    pub resident_runs: RunSet,
    pub dirty: RunSet,
    /// Pages lent and not given back (MmapPrep minus Munmap).
    pub pins: u64,
    /// Pages `[0, extent)` may be accessible (resident or set aside);
    /// all past it are inaccessible.
    pub extent: u64,
    /// Lent shared and writable at least once: a client may have stored
    /// to any resident page that is not sealed.
    pub written_through: bool,
    /// Resident pages *sealed*: written back (or known equal to the disk),
    /// then set aside for lending here ([`CachePages::lend_aside`]) and
    /// taken back from every mapping, so no client can have stored to them
    /// since. A write-back skips them; a fetch by the kernel asks for them
    /// again (MmapPrep opens them: they may be written from then on).
    pub sealed: RunSet,
}

impl Window {
    pub fn address(&self, page: u64) -> usize {
        self.base + (page * PAGE) as usize
    }
}

/// What `/.redoxfsd/cache` shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Resident pages now.
    pub pages: u64,
    /// The limit.
    pub limit: u64,
    /// The most resident pages there have been (since the limit was last set).
    pub peak: u64,
    /// Pages evicted.
    pub evictions: u64,
    /// Times the cache was left above its limit (every other page dirty
    /// and failing to be written).
    pub over_limit: u64,
}

/// The cache: windows by RedoxFS node id.
pub struct Cache<P: Pages> {
    pub pages: P,
    pub windows: BTreeMap<u32, Window>,
    /// At most this many resident pages (but see [`CacheStats::over_limit`]).
    pub limit: u64,
    /// Resident pages by the tick they were last lent at: the least
    /// recently lent first.
    lru: BTreeMap<u64, (u32, u64)>,
    tick: u64,
    /// Changes to `lru` so far (every insert and remove).
    lru_changes: u64,
    /// The last lend that left its pages the newest, in page order, and
    /// `lru_changes` then: a lend of the same pages with no change since
    /// finds the order as it would leave it.
    last_lend: Option<(u32, core::ops::Range<u64>, u64)>,
    pub stats: CacheStats,
}

impl<P: CachePages> Cache<P> {
    pub fn new(pages: P) -> Self {
        Self {
            pages,
            windows: BTreeMap::new(),
            limit: DEFAULT_CACHE_PAGES,
            lru: BTreeMap::new(),
            tick: 0,
            lru_changes: 0,
            last_lend: None,
            stats: CacheStats::default(),
        }
    }

    /// Resident pages now.
    pub fn resident_pages(&self) -> u64 {
        self.lru.len() as u64
    }

    /// Sets the limit (at least 1) and starts the peak again.
    pub fn set_limit(&mut self, limit: u64) {
        self.limit = limit.max(1);
        self.stats.peak = self.resident_pages();
    }

    /// `/.redoxfsd/cache`'s numbers.
    pub fn stats(&self) -> CacheStats {
        CacheStats { pages: self.resident_pages(), limit: self.limit, ..self.stats }
    }

    /// The least recently lent resident page, with none of the pages of
    /// `keep` (node, pages) nor those in `skip`.
    pub fn oldest(&self, keep: (u32, &core::ops::Range<u64>), skip: &[(u32, u64)]) -> Option<(u32, u64)> {
        self.lru
            .values()
            .find(|&&(node, page)| {
                let kept = node == keep.0 && keep.1.contains(&page);
                !kept && !skip.contains(&(node, page))
            })
            .copied()
    }

    /// Page `page` of `node` leaves the cache's books (its memory is dealt
    /// with by the caller).
    pub fn unlist(&mut self, node: u32, page: u64) {
        if let Some(window) = self.windows.get_mut(&node)
            && let Some(tick) = window.resident.remove(&page)
        {
            window.resident_runs.remove(page);
            self.lru.remove(&tick);
            self.lru_changes += 1;
            window.dirty.remove(page);
            if window.sealed.contains(page) {
                window.sealed.remove(page);
                // Set aside for lending only while sealed (the caller has
                // set it aside read-only; loaded again, it is lent again).
                let _ = self.pages.lend_open(window.address(page), PAGE_BYTES);
            }
        }
    }

    /// An eviction done.
    pub fn evicted(&mut self) {
        self.stats.evictions += 1;
    }

    /// Copies the resident bytes of `[offset, offset + buf.len())` of file
    /// `node` over `buf` (which holds what the disk has).
    pub fn overlay(&self, node: u32, offset: u64, buf: &mut [u8]) {
        let Some(window) = self.windows.get(&node) else { return };
        for_pages(offset, buf.len(), |page, in_page, at, len| {
            if window.resident.contains_key(&page) {
                self.pages.read(window.address(page) + in_page, &mut buf[at..at + len]);
            }
        });
    }

    /// Copies `data` into the resident pages of `[offset, ...)` (after the
    /// disk took it).
    /// A sealed page is opened first (it is no longer known to be clean
    /// afterwards: a fetch may lend it writable). EIO if that fails.
    pub fn store(&mut self, node: u32, offset: u64, data: &[u8]) -> Result<()> {
        let Some(window) = self.windows.get_mut(&node) else { return Ok(()) };
        let mut result = Ok(());
        for_pages(offset, data.len(), |page, in_page, at, len| {
            if window.resident.contains_key(&page) && result.is_ok() {
                result = unseal(&mut self.pages, window, page..page + 1);
                if result.is_ok() {
                    self.pages.write(window.address(page) + in_page, &data[at..at + len]);
                }
            }
        });
        result
    }

    /// Pages of `pages` of `node` not resident (0 without a window).
    pub fn missing(&self, node: u32, pages: &core::ops::Range<u64>) -> u64 {
        let Some(window) = self.windows.get(&node) else { return pages.end - pages.start };
        let resident: u64 = window.resident_runs.runs_in(pages.clone()).iter().map(|(s, e)| e - s).sum();
        pages.end - pages.start - resident
    }

    /// The window of `node`, made if needed. ENOSPC no address space.
    pub fn open_window(&mut self, node: u32) -> Result<()> {
        if !self.windows.contains_key(&node) {
            let base = self.pages.reserve(WINDOW_BYTES as usize)?;
            let window = Window {
                base,
                resident: BTreeMap::new(),
                resident_runs: RunSet::new(),
                dirty: RunSet::new(),
                pins: 0,
                extent: 0,
                written_through: false,
                sealed: RunSet::new(),
            };
            self.windows.insert(node, window);
        }
        Ok(())
    }

    /// Makes the pages `load` of file `node` resident and those of
    /// `aside` (after them) set aside, and pins `pins`; returns the
    /// window's base (the window is made if needed). Each run of pages not
    /// resident yet is opened at once (one memory call), then read with
    /// `load(offset, bytes)` [`LOAD_PAGES`] at a time; a page that reads
    /// all zero is not written, so a hole costs no memory until a client
    /// touches it. Every page of `load` counts as lent now (the least
    /// recently lent is evicted first). Errors: ENOSPC no memory or address
    /// space; EIO setting pages aside; a load's error (nothing pinned then;
    /// the pages of that run not read yet are closed again).
    pub fn lend(
        &mut self,
        node: u32,
        load: core::ops::Range<u64>,
        aside: core::ops::Range<u64>,
        pins: u64,
        mut read: impl FnMut(u64, &mut [u8]) -> Result<()>,
    ) -> Result<usize> {
        self.open_window(node)?;
        let result = match self.windows.get_mut(&node) {
            Some(window) => unseal(&mut self.pages, window, load.clone())
                .and_then(|()| fill(&mut self.pages, window, load.clone(), &mut read))
                .and_then(|()| set_aside_missing(&mut self.pages, window, aside))
                .map(|()| window.pins += pins),
            None => Ok(()),
        };
        if let Some(window) = self.windows.get_mut(&node) {
            debug_assert!(window.resident.keys().copied().eq(window.resident_runs.runs().flat_map(|(s, e)| s..e)));
            // Lent again as they were last (the newest, in page order, as a
            // mapping of the same range leaves them): the order stays, and
            // the map is not rewritten. Known without a look when this
            // lend repeats the last one and nothing changed since.
            let repeated = self.last_lend == Some((node, load.clone(), self.lru_changes));
            let in_order = repeated || {
                let count = window.resident.range(load.clone()).count();
                let newest = self.lru.values().rev().take(count).copied();
                newest.eq(window.resident.range(load.clone()).rev().map(|(&page, _)| (node, page)))
            };
            if !in_order {
                for (&page, tick) in window.resident.range_mut(load.clone()) {
                    self.lru.remove(tick);
                    self.tick += 1;
                    *tick = self.tick;
                    self.lru.insert(self.tick, (node, page));
                    self.lru_changes += 2;
                }
            }
            self.last_lend = result.is_ok().then_some((node, load, self.lru_changes));
        }
        let resident = self.resident_pages();
        self.stats.peak = self.stats.peak.max(resident);
        if resident > self.limit {
            self.stats.over_limit += 1;
        }
        self.release_if_unused(node);
        result?;
        self.windows.get(&node).map(|w| w.base).ok_or(Error::new(EIO))
    }

    /// Gives `pins` back (fewer if fewer are left); the window goes if
    /// that was the last and nothing is dirty.
    pub fn unpin(&mut self, node: u32, pins: u64) {
        if let Some(window) = self.windows.get_mut(&node) {
            window.pins = window.pins.saturating_sub(pins);
        }
        self.release_if_unused(node);
    }

    /// Drops the window of `node` if it has no pins, nothing dirty and no
    /// resident page. A window whose pages are all given back keeps its
    /// resident pages while the file is open (the next mapping lends them
    /// with no disk read): they go by eviction, or with the file's last
    /// handle (`fs.rs`).
    pub fn release_if_unused(&mut self, node: u32) {
        if self.windows.get(&node).is_some_and(|w| w.pins == 0 && w.dirty.is_empty() && w.resident.is_empty()) {
            self.discard(node);
        }
    }

    /// Drops the window of `node`, whatever it holds.
    pub fn discard(&mut self, node: u32) {
        if let Some(window) = self.windows.remove(&node) {
            for tick in window.resident.values() {
                self.lru.remove(tick);
                self.lru_changes += 1;
            }
            self.pages.release(window.base, WINDOW_BYTES as usize);
        }
    }

    /// The file grew from `old` to `new` bytes: the zero tail of the old
    /// last page is kept zero, and every new page is set aside (no memory:
    /// it is read from the disk when a client needs it), so a mapping past
    /// the old end sees the file, not SIGBUS.
    pub fn grow(&mut self, node: u32, old: u64, new: u64) -> Result<()> {
        let Some(window) = self.windows.get_mut(&node) else { return Ok(()) };
        let tail_page = old / PAGE;
        if !old.is_multiple_of(PAGE) && window.resident.contains_key(&tail_page) {
            unseal(&mut self.pages, window, tail_page..tail_page + 1)?;
            let end = new.min((tail_page + 1) * PAGE);
            let zeroes = vec![0u8; (end - old) as usize];
            self.pages.write(window.address(tail_page) + (old % PAGE) as usize, &zeroes);
        }
        set_aside_missing(&mut self.pages, window, pages_to(old)..pages_to(new))
    }

    /// The file shrank to `new` bytes: the tail of the new last page is
    /// zeroed, the pages past it are made inaccessible and dropped (a
    /// client touching them gets SIGBUS).
    pub fn shrink(&mut self, node: u32, new: u64) -> Result<()> {
        let Some(window) = self.windows.get_mut(&node) else { return Ok(()) };
        let tail_page = new / PAGE;
        if !new.is_multiple_of(PAGE) && window.resident.contains_key(&tail_page) {
            unseal(&mut self.pages, window, tail_page..tail_page + 1)?;
            let zeroes = vec![0u8; (PAGE - new % PAGE) as usize];
            self.pages.write(window.address(tail_page) + (new % PAGE) as usize, &zeroes);
        }
        let first = pages_to(new);
        let mut result = Ok(());
        if window.extent > first {
            let gone: Vec<u64> = window.resident.range(first..).map(|(&page, _)| page).collect();
            for page in gone {
                if let Some(tick) = window.resident.remove(&page) {
                    self.lru.remove(&tick);
                    self.lru_changes += 1;
                }
            }
            window.resident_runs.remove_range(first..u64::MAX);
            for (s, e) in window.sealed.runs_in(first..u64::MAX) {
                let _ = self.pages.lend_open(window.address(s), ((e - s) * PAGE) as usize);
            }
            for set in [&mut window.dirty, &mut window.sealed] {
                set.remove_range(first..u64::MAX);
            }
            result = self.pages.close_down(window.address(first), ((window.extent - first) * PAGE) as usize);
            window.extent = first;
        }
        self.release_if_unused(node);
        result
    }

    /// The pages of `node` among `pages` that a write-back must write,
    /// clipped to `size` bytes: the resident ones a client may have stored
    /// to (the window was lent shared and writable, and they are not
    /// sealed) and the dirty ones; with `dirty`, every dirty page of the
    /// file too. As runs `(first page, end)`.
    pub fn to_write(&self, node: u32, pages: core::ops::Range<u64>, size: u64, dirty: bool) -> Vec<(u64, u64)> {
        let Some(window) = self.windows.get(&node) else { return Vec::new() };
        let end = pages_to(size);
        let within = pages.start.min(end)..pages.end.min(end);
        // A run at a time: the resident runs of the range, less the sealed
        // ones if clients may store, else only their dirty pages.
        let mut chosen = RunSet::new();
        for (first, run_end) in window.resident_runs.runs_in(within.clone()) {
            if window.written_through {
                chosen.insert_range(first..run_end);
                for (s, e) in window.sealed.runs_in(first..run_end) {
                    chosen.remove_range(s..e);
                }
            }
            for (s, e) in window.dirty.runs_in(first..run_end) {
                chosen.insert_range(s..e);
            }
        }
        if dirty {
            for (s, e) in window.dirty.runs_in(0..end) {
                chosen.insert_range(s..e);
            }
        }
        chosen.runs().collect()
    }

    /// Seals the pages of `runs` of `node` (resident): made read-only here
    /// and taken back from every mapping ([`EVICT_MAX_BYTES`] at a time),
    /// so a store after this reaches no lent frame. Call it before reading
    /// the pages for a write-back: a store made before is in the frame and
    /// is written. EIO if that fails (the pages are opened again then, not
    /// sealed).
    pub fn seal(&mut self, node: u32, runs: &[(u64, u64)]) -> Result<()> {
        let Some(window) = self.windows.get_mut(&node) else { return Ok(()) };
        for &(first, end) in runs {
            let (addr, bytes) = (window.address(first), ((end - first) * PAGE) as usize);
            let mut result = self.pages.lend_aside(addr, bytes);
            let mut at = 0;
            while result.is_ok() && at < bytes {
                let n = (bytes - at).min(EVICT_MAX_BYTES as usize);
                result = self.pages.take_back(addr + at, n);
                at += n;
            }
            if let Err(e) = result {
                let _ = self.pages.lend_open(addr, bytes);
                return Err(e);
            }
            window.sealed.insert_range(first..end);
        }
        Ok(())
    }

    /// Calls `f` with the bytes of the pages `first..end` of `node`,
    /// clipped to `size` (none without a window): read in place if
    /// `sealed` says they are read-only here and taken back from every
    /// mapping, else copied first (a client may still store to them).
    pub fn with_bytes<R>(
        &self,
        node: u32,
        (first, end): (u64, u64),
        size: u64,
        sealed: bool,
        f: impl FnOnce(&[u8]) -> R,
    ) -> R {
        let Some(window) = self.windows.get(&node) else { return f(&[]) };
        let len = (end * PAGE).min(size).saturating_sub(first * PAGE) as usize;
        if sealed {
            // SAFETY: the caller says the pages are sealed (set aside and
            // taken back) and `f` gets no way to open them.
            return unsafe { self.pages.with_sealed(window.address(first), len, f) };
        }
        let mut bytes = vec![0u8; len];
        self.pages.read(window.address(first), &mut bytes);
        f(&bytes)
    }

    /// Records how a write-back of `runs` went: their pages are clean on
    /// success, dirty on failure.
    pub fn written(&mut self, node: u32, runs: &[(u64, u64)], ok: bool) {
        let Some(window) = self.windows.get_mut(&node) else { return };
        for &(first, end) in runs {
            if ok {
                window.dirty.remove_range(first..end);
            } else {
                window.dirty.insert_range(first..end);
            }
        }
        self.release_if_unused(node);
    }

    /// (pins, dirty pages) of each window, by node.
    pub fn pin_counts(&self) -> impl Iterator<Item = (u32, u64, usize)> + '_ {
        self.windows.iter().map(|(&node, w)| (node, w.pins, w.dirty.len()))
    }
}

/// Pages read from the disk at a time when filling (one RedoxFS record).
const LOAD_PAGES: u64 = 32;

/// Makes `pages` of `window` resident, read with `load` (see
/// [`Cache::lend`]); the ticks are the caller's.
fn fill<P: CachePages>(
    memory: &mut P,
    window: &mut Window,
    pages: core::ops::Range<u64>,
    load: &mut impl FnMut(u64, &mut [u8]) -> Result<()>,
) -> Result<()> {
    let mut bytes = vec![0u8; (LOAD_PAGES * PAGE) as usize];
    for (mut page, run_end) in missing_runs(window, pages) {
        let (addr, len) = (window.address(page), ((run_end - page) * PAGE) as usize);
        memory.open_up(addr, len)?;
        // Never set aside for lending if its `lend_open` failed when it
        // left the cache (`unlist`): lent, it must be takeable.
        memory.lend_open(addr, len)?;
        window.extent = window.extent.max(run_end);
        while page < run_end {
            let n = (run_end - page).min(LOAD_PAGES);
            let chunk = &mut bytes[..(n * PAGE) as usize];
            chunk.fill(0);
            if let Err(e) = load(page * PAGE, chunk) {
                // Not resident: dropped and set aside again (the kernel
                // asks for them when a client needs them).
                let (addr, bytes) = (window.address(page), ((run_end - page) * PAGE) as usize);
                let _ = memory.close_down(addr, bytes);
                let _ = memory.set_aside(addr, bytes);
                return Err(e);
            }
            for (i, data) in chunk.chunks(PAGE_BYTES).enumerate() {
                if data.iter().any(|&b| b != 0) {
                    memory.write(window.address(page + i as u64), data);
                }
            }
            window.resident.extend((page..page + n).map(|p| (p, 0)));
            window.resident_runs.insert_range(page..page + n);
            page += n;
        }
    }
    Ok(())
}

/// Opens the sealed pages of `pages` of `window` (a run at a time): a
/// fetch may lend them writable from now on, so they are no longer known
/// to be clean.
fn unseal<P: CachePages>(memory: &mut P, window: &mut Window, pages: core::ops::Range<u64>) -> Result<()> {
    for (first, end) in window.sealed.runs_in(pages) {
        // Mapped and writable here all along: only the kernel's lending
        // changes, no page table entry.
        memory.lend_open(window.address(first), ((end - first) * PAGE) as usize)?;
        window.sealed.remove_range(first..end);
    }
    Ok(())
}

/// Sets aside the pages of `pages` of `window` that are not resident (a
/// run at a time), so the kernel asks for them when a client needs them.
fn set_aside_missing<P: CachePages>(memory: &mut P, window: &mut Window, pages: core::ops::Range<u64>) -> Result<()> {
    for (page, run_end) in missing_runs(window, pages) {
        memory.set_aside(window.address(page), ((run_end - page) * PAGE) as usize)?;
        window.extent = window.extent.max(run_end);
    }
    Ok(())
}

/// The runs `(first, end)` of pages of `pages` not resident in `window`.
fn missing_runs(window: &Window, pages: core::ops::Range<u64>) -> Vec<(u64, u64)> {
    let mut runs = Vec::new();
    let mut page = pages.start;
    for (first, end) in window.resident_runs.runs_in(pages.clone()) {
        if first > page {
            runs.push((page, first));
        }
        page = end;
    }
    if page < pages.end {
        runs.push((page, pages.end));
    }
    runs
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
