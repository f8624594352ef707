//! File mappings (fmap): pages a filesystem scheme lends, and the pins
//! that tell it when it may have them back.
//!
//! The kernel asks the scheme once per `mmap` (MmapPrep) and gets the file
//! pages as a window of the daemon's own address space. That lease is a
//! [`FileMap`]: every grant made from it, including the pieces a partial
//! munmap or mprotect leaves and a forked child's copies, shares it. An
//! mremap that grows a file mapping asks the scheme for the added pages
//! (a second MmapPrep) and [extends](FileMap::extend) the same lease with
//! that window, so the grown mapping stays one grant of one lease. The
//! crate never talks to the scheme. It keeps three things for the kernel:
//!
//! - **Windows.** Where in the lender each lent file page is
//!   ([`FileMap::lender_address`]): the first MmapPrep's answer, and one
//!   more window per growth.
//!
//! - **Pages on demand.** A fault on a page with no frame yet stops with
//!   [`crate::FaultError::FilePage`]; the kernel, without the space's lock,
//!   takes the frame from the lender and hands it in with
//!   [`crate::AddrSpace::supply_file_page`], then retries the fault.
//! - **Pins.** Each file page counts the grants (in every space) mapping
//!   it. A page leaves a space on munmap, MAP_FIXED replace, mremap shrink,
//!   or teardown (not on madvise or PROT_NONE, which keep the mapping).
//!   When its count reaches zero the page is handed back: the kernel gets a
//!   [`FileRelease`] from [`crate::Shootdown::finish`] (or from
//!   [`crate::AddrSpace::teardown`]) and sends the scheme Munmap for it,
//!   with NEEDS_SYNC when the lease was shared and ever writable. So the
//!   scheme sees each lent page handed back exactly once.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;
use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use spin::Mutex;

/// The kernel's side of a lease (the open file, the lender): opaque here.
pub type FileToken = Arc<dyn Any + Send + Sync>;

/// One lease of file pages. See the module docs.
pub struct FileMap {
    id: u64,
    first_page: u64,
    /// Pages from `first_page` the lease has ever lent (grows with
    /// [`Self::extend`]); only pinned ones are lent now.
    pages: AtomicU64,
    shared: bool,
    /// The file may be mapped writable and shared (opened for writing).
    write_allowed: bool,
    /// A shared mapping of it has been writable: hand-backs need a sync.
    written: AtomicBool,
    /// Bumped each time the lender takes pages back ([`Self::invalidating`]):
    /// a page fetched before cannot be handed in after
    /// ([`crate::AddrSpace::supply_file_page`]).
    generation: AtomicU64,
    /// Grants mapping each file page, and where the lender has them.
    state: Mutex<LeaseState>,
    token: FileToken,
}

/// A lease's pins and windows, under one lock so that a growth sees and
/// changes both at once.
struct LeaseState {
    /// Grants mapping each file page (see [`PinRuns`]).
    pins: PinRuns,
    /// Where the lender has each run of file pages: first page → (end,
    /// lender address of the first page). A window whose pages are no
    /// longer pinned is stale and may be replaced by a later growth.
    windows: BTreeMap<u64, (u64, u64)>,
}

/// The handle grants keep on a lease.
pub type FileRef = Arc<FileMap>;

static NEXT_FILE_MAP_ID: AtomicU64 = AtomicU64::new(1);

impl FileMap {
    /// A lease of `pages` file pages from file page `first_page`, found
    /// at `lender_base` in the lender, pinned once (by the mapping about
    /// to be made). `shared` is MAP_SHARED; `write_allowed` says whether a
    /// shared mapping may be writable (the file was opened for writing;
    /// EACCES otherwise).
    pub fn new(
        first_page: u64,
        pages: u64,
        shared: bool,
        write_allowed: bool,
        lender_base: u64,
        token: FileToken,
    ) -> FileRef {
        let id = NEXT_FILE_MAP_ID.fetch_add(1, Ordering::Relaxed);
        let end = first_page.saturating_add(pages);
        let pins = PinRuns::new(first_page, end);
        let mut windows = BTreeMap::new();
        if first_page < end {
            windows.insert(first_page, (end, lender_base));
        }
        Arc::new(Self {
            id,
            first_page,
            pages: AtomicU64::new(pages),
            shared,
            write_allowed,
            written: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            state: Mutex::new(LeaseState { pins, windows }),
            token,
        })
    }
    /// The lease's id (for listings).
    pub fn id(&self) -> u64 {
        self.id
    }
    /// The first file page lent.
    pub fn first_page(&self) -> u64 {
        self.first_page
    }
    /// Pages from the first one the lease has lent (more after a growth).
    pub fn pages(&self) -> u64 {
        self.pages.load(Ordering::Relaxed)
    }
    /// MAP_SHARED (else MAP_PRIVATE: copy-on-write from the file's pages).
    pub fn is_shared(&self) -> bool {
        self.shared
    }
    /// The kernel's token.
    pub fn token(&self) -> &FileToken {
        &self.token
    }
    /// Pages still pinned.
    pub fn pinned_pages(&self) -> u64 {
        self.state.lock().pins.pages()
    }
    /// The lease's generation: read it before fetching a page, hand it in
    /// with the page ([`crate::AddrSpace::supply_file_page`]).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Starts taking pages back: pages fetched before this call are no
    /// longer handed in. The kernel calls it before it drops the pages
    /// from every space ([`crate::AddrSpace::drop_file_pages`]), and the
    /// lender has made them unfetchable before that, so no space can end
    /// up with the old frame: a fetch that began earlier is refused when
    /// it hands the page in, and one that begins later finds the lender's
    /// new page (or none: SIGBUS).
    pub fn invalidating(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The file pages this lease has lent from lender addresses
    /// `[start, end)` (bytes, page aligned by the caller), as runs of file
    /// pages, in order: which of the lease's pages a lender that takes that
    /// memory back means.
    pub fn lent_from(&self, start: u64, end: u64) -> Vec<(u64, u64)> {
        let state = self.state.lock();
        let mut runs: Vec<(u64, u64)> = Vec::new();
        for (first, (last, base)) in &state.windows {
            let bytes = (last - first).saturating_mul(rmm::PAGE_SIZE);
            let (lo, hi) = ((*base).max(start), base.saturating_add(bytes).min(end));
            if lo >= hi {
                continue;
            }
            let from = first + (lo - base) / rmm::PAGE_SIZE;
            let to = first + (hi - base).div_ceil(rmm::PAGE_SIZE);
            runs.push((from, to));
        }
        runs.sort_unstable();
        runs
    }

    /// Whether hand-backs need a write-back (shared and ever writable).
    pub fn needs_sync(&self) -> bool {
        self.shared && self.written.load(Ordering::Relaxed)
    }
    /// Whether `prot` may be used for a mapping of this lease: a shared
    /// writable mapping needs a file opened for writing.
    pub(crate) fn allows(&self, writable: bool) -> bool {
        !(self.shared && writable && !self.write_allowed)
    }
    /// Notes that a mapping of the lease is (or may become) writable.
    pub(crate) fn note_writable(&self, writable: bool) {
        if writable && self.shared {
            self.written.store(true, Ordering::Relaxed);
        }
    }
    /// Whether file page `index` is inside the lease.
    pub(crate) fn lends(&self, index: u64) -> bool {
        index >= self.first_page && index - self.first_page < self.pages()
    }

    /// The lender's address of file page `index`, from the window that
    /// lends it; `None` outside every window (or if it would not fit).
    pub fn lender_address(&self, index: u64) -> Option<u64> {
        self.lender_run(index).map(|(address, _)| address)
    }

    /// [`Self::lender_address`] of file page `index` and how many pages
    /// from it on the same window lends at consecutive addresses (at least
    /// one): a run of pages costs one lookup.
    pub fn lender_run(&self, index: u64) -> Option<(u64, u64)> {
        let state = self.state.lock();
        let (start, (end, base)) = state.windows.range(..=index).next_back()?;
        if index >= *end {
            return None;
        }
        let address = (index - start).checked_mul(rmm::PAGE_SIZE).and_then(|offset| base.checked_add(offset))?;
        Some((address, end - index))
    }

    /// Extends the lease with file pages `[start, end)`, which the lender
    /// has just lent again at `lender_base` (a growth's MmapPrep), and pins
    /// them once for the grown grant. Pages no mapping pins take the new
    /// window; pages that other grants of the lease still pin keep their
    /// window and are pinned once more, and are returned (coalesced): the
    /// lender lent them twice, so the kernel hands that second lending
    /// back at once (Munmap), keeping the lender's count exact.
    pub(crate) fn extend(&self, start: u64, end: u64, lender_base: u64) -> Vec<(u64, u64)> {
        let mut state = self.state.lock();
        let pinned: Vec<(u64, u64)> = state
            .pins
            .runs
            .iter()
            .filter(|(s, (e, _))| **s < end && *e > start)
            .map(|(s, (e, _))| ((*s).max(start), (*e).min(end)))
            .collect();
        let mut duplicates: Vec<(u64, u64)> = Vec::new();
        let mut cursor = start;
        for (s, e) in pinned.iter().copied().chain(core::iter::once((end, end))) {
            if cursor < s {
                // Not lent now: the new window, pinned once.
                state.pins.add(cursor, s);
                let base = lender_base + (cursor - start) * rmm::PAGE_SIZE;
                state.replace_window(cursor, s, base);
            }
            if s < e {
                state.pins.pin(s, e);
                match duplicates.last_mut() {
                    Some((_, last_end)) if *last_end == s => *last_end = e,
                    _ => duplicates.push((s, e)),
                }
            }
            cursor = e;
        }
        let lent = end.saturating_sub(self.first_page);
        self.pages.fetch_max(lent, Ordering::Relaxed);
        duplicates
    }

    /// One more grant maps file pages `[start, end)`.
    pub(crate) fn pin(&self, start: u64, end: u64) {
        self.state.lock().pins.pin(start, end);
    }

    /// One grant fewer maps file pages `[start, end)`; returns the runs
    /// whose count reached zero (no longer pinned).
    pub(crate) fn unpin(&self, start: u64, end: u64) -> Vec<(u64, u64)> {
        self.state.lock().pins.unpin(start, end)
    }

    /// The pinned runs, `(start, end, count)`, in order (for tests).
    pub fn pin_runs(&self) -> Vec<(u64, u64, u32)> {
        self.state.lock().pins.runs()
    }
}

impl LeaseState {
    /// Makes `[start, end)` one window at `base`, cutting stale windows
    /// that overlap it.
    fn replace_window(&mut self, start: u64, end: u64, base: u64) {
        for at in [start, end] {
            let covering = self.windows.range(..at).next_back().map(|(s, (e, b))| (*s, *e, *b));
            if let Some((s, e, b)) = covering
                && at < e
            {
                self.windows.insert(s, (at, b));
                self.windows.insert(at, (e, b + (at - s) * rmm::PAGE_SIZE));
            }
        }
        let inside: Vec<u64> = self.windows.range(start..end).map(|(s, _)| *s).collect();
        for at in inside {
            self.windows.remove(&at);
        }
        self.windows.insert(start, (end, base));
    }
}

/// How many grants map each file page, as maximal runs of pages with the
/// same non-zero count: `start → (end, count)`. Runs never overlap, and
/// two touching runs never have the same count (they are merged), so a
/// uniform lease is one run however many grants map it.
///
/// A pin or unpin of `[start, end)` splits at most the two runs that
/// straddle its ends, changes the `k` runs inside and merges only around
/// them: O((k + 1) log n) for n runs. Pinning every grant of a space (a
/// fork) is so O((grants + runs) log runs), never a rescan of every run
/// per grant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PinRuns {
    runs: BTreeMap<u64, (u64, u32)>,
}

impl PinRuns {
    /// Pages `[start, end)` pinned once each (nothing if empty).
    pub fn new(start: u64, end: u64) -> Self {
        let mut runs = BTreeMap::new();
        if start < end {
            runs.insert(start, (end, 1));
        }
        Self { runs }
    }

    /// Whether no page is pinned.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// Pages pinned at least once.
    pub fn pages(&self) -> u64 {
        self.runs.iter().map(|(start, (end, _))| end - start).sum()
    }

    /// The runs, `(start, end, count)`, in order.
    pub fn runs(&self) -> Vec<(u64, u64, u32)> {
        self.runs.iter().map(|(s, (e, c))| (*s, *e, *c)).collect()
    }

    /// Pins pages `[start, end)` once more. Pages of the range that are
    /// not pinned at all are skipped (a grant can only be copied from one
    /// that pins its pages: a bug upstream, caught by a debug assertion).
    pub fn pin(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        self.split_at(start);
        self.split_at(end);
        let mut covered = 0;
        for (piece_start, (piece_end, count)) in self.runs.range_mut(start..end) {
            *count += 1;
            covered += *piece_end - *piece_start;
        }
        debug_assert_eq!(covered, end - start, "pinning pages nobody pinned");
        self.merge_around(start, end);
    }

    /// Pins pages `[start, end)`, none of which is pinned, once.
    fn add(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        debug_assert!(self.runs.range(..end).next_back().is_none_or(|(_, (e, _))| *e <= start));
        self.runs.insert(start, (end, 1));
        self.merge_around(start, end);
    }

    /// Unpins pages `[start, end)` once; returns the runs whose count
    /// reached zero (each page handed back exactly once), in order and
    /// coalesced.
    pub fn unpin(&mut self, start: u64, end: u64) -> Vec<(u64, u64)> {
        let mut freed: Vec<(u64, u64)> = Vec::new();
        if start >= end {
            return freed;
        }
        self.split_at(start);
        self.split_at(end);
        let mut dead = Vec::new();
        for (piece_start, (piece_end, count)) in self.runs.range_mut(start..end) {
            debug_assert!(*count > 0);
            *count = count.saturating_sub(1);
            if *count == 0 {
                dead.push(*piece_start);
                match freed.last_mut() {
                    Some((_, last_end)) if *last_end == *piece_start => *last_end = *piece_end,
                    _ => freed.push((*piece_start, *piece_end)),
                }
            }
        }
        for at in dead {
            self.runs.remove(&at);
        }
        self.merge_around(start, end);
        freed
    }

    /// Splits the run straddling page `at` (if any) into two at `at`.
    fn split_at(&mut self, at: u64) {
        let covering = self.runs.range(..at).next_back().map(|(s, (e, c))| (*s, *e, *c));
        if let Some((s, e, c)) = covering
            && at < e
        {
            self.runs.insert(s, (at, c));
            self.runs.insert(at, (e, c));
        }
    }

    /// Merges equal touching runs from the one before `start` through the
    /// one starting at `end`: the only places a change in `[start, end)`
    /// can have made mergeable.
    fn merge_around(&mut self, start: u64, end: u64) {
        let mut cursor = start;
        while let Some((&key, &(key_end, key_count))) = self.runs.range(cursor..=end).next() {
            let before = self.runs.range_mut(..key).next_back();
            if let Some((_, (prev_end, prev_count))) = before
                && *prev_end == key
                && *prev_count == key_count
            {
                *prev_end = key_end;
                self.runs.remove(&key);
            }
            // Runs are at least a page long: the next one starts later.
            if key >= end {
                break;
            }
            cursor = key + 1;
        }
    }
}

impl fmt::Debug for FileMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "FileMap(id {}, pages {}+{}, {})",
            self.id,
            self.first_page,
            self.pages(),
            if self.shared { "shared" } else { "private" }
        )
    }
}

/// File pages no mapping uses any more: the kernel sends the scheme Munmap
/// for them (with NEEDS_SYNC when `needs_sync`).
#[derive(Clone, Debug)]
pub struct FileRelease {
    /// The lease.
    pub file: FileRef,
    /// First file page handed back.
    pub first_page: u64,
    /// Pages handed back.
    pub pages: u64,
    /// A shared, writable lease: the scheme must write the pages back.
    pub needs_sync: bool,
}

/// Pages of one lease inside a range of the address space (for msync).
#[derive(Clone, Debug)]
pub struct FileRange {
    /// The lease.
    pub file: FileRef,
    /// First file page.
    pub first_page: u64,
    /// Pages.
    pub pages: u64,
}

/// A grant-range whose pins go when the operation commits (kept in the
/// shootdown so that a rollback forgets it).
#[derive(Clone, Debug)]
pub(crate) struct Unpin {
    pub(crate) file: FileRef,
    pub(crate) start: u64,
    pub(crate) end: u64,
}

impl Unpin {
    /// Drops the pins; the runs that reached zero become releases.
    pub(crate) fn apply(self, out: &mut Vec<FileRelease>) {
        let needs_sync = self.file.needs_sync();
        for (start, end) in self.file.unpin(self.start, self.end) {
            out.push(FileRelease { file: self.file.clone(), first_page: start, pages: end - start, needs_sync });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(pages: u64) -> FileRef {
        FileMap::new(10, pages, true, true, 0, Arc::new(()))
    }

    #[test]
    fn pins_count_per_page_and_release_once() {
        let file = lease(8);
        file.pin(12, 14);
        assert_eq!(file.unpin(10, 13), [(10, 12)]);
        assert_eq!(file.pinned_pages(), 6);
        assert_eq!(file.unpin(13, 18), [(14, 18)]);
        assert_eq!(file.unpin(12, 14), [(12, 14)]);
        assert_eq!(file.pinned_pages(), 0);
        assert!(file.state.lock().pins.is_empty());
    }

    #[test]
    fn extend_takes_new_windows_only_for_unpinned_pages() {
        let page = rmm::PAGE_SIZE;
        let file = FileMap::new(10, 4, true, true, 0x1000_0000, Arc::new(()));
        // Pages 12..14 handed back; then lent again, with 14..16, elsewhere.
        assert_eq!(file.unpin(12, 14), [(12, 14)]);
        assert!(file.extend(12, 16, 0x2000_0000).is_empty());
        assert_eq!(file.pages(), 6);
        assert_eq!(file.lender_address(11), Some(0x1000_0000 + page));
        assert_eq!(file.lender_address(12), Some(0x2000_0000), "the stale window is replaced");
        assert_eq!(file.lender_address(15), Some(0x2000_0000 + 3 * page));
        assert_eq!(file.lender_address(16), None);
        // Pinned pages keep their window and come back as lent twice.
        assert_eq!(file.extend(11, 17, 0x3000_0000), [(11, 16)]);
        assert_eq!(file.lender_address(12), Some(0x2000_0000));
        assert_eq!(file.lender_address(16), Some(0x3000_0000 + 5 * page));
        assert_eq!(file.pin_runs(), [(10, 11, 1), (11, 16, 2), (16, 17, 1)]);
    }

    #[test]
    fn runs_merge_back() {
        let file = lease(4);
        file.pin(11, 12);
        file.pin(10, 11);
        file.pin(12, 14);
        let runs = file.pin_runs();
        assert_eq!(runs.len(), 1, "{runs:?}");
        assert!(file.unpin(10, 14).is_empty());
        assert_eq!(file.unpin(10, 14), [(10, 14)]);
    }
}
