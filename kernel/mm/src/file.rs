//! File mappings (fmap): pages a filesystem scheme lends, and the pins
//! that tell it when it may have them back.
//!
//! The kernel asks the scheme once per `mmap` (MmapPrep) and gets the file
//! pages as a window of the daemon's own address space. That lease is a
//! [`FileMap`]: every grant made from it, including the pieces a partial
//! munmap or mprotect leaves and a forked child's copies, shares it. The
//! crate never talks to the scheme. It keeps two things for the kernel:
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
    pages: u64,
    shared: bool,
    /// The file may be mapped writable and shared (opened for writing).
    write_allowed: bool,
    /// A shared mapping of it has been writable: hand-backs need a sync.
    written: AtomicBool,
    /// Grants mapping each file page: `start → (end, count)`, covering
    /// exactly the pages still pinned.
    pins: Mutex<BTreeMap<u64, (u64, u32)>>,
    token: FileToken,
}

/// The handle grants keep on a lease.
pub type FileRef = Arc<FileMap>;

static NEXT_FILE_MAP_ID: AtomicU64 = AtomicU64::new(1);

impl FileMap {
    /// A lease of `pages` file pages from file page `first_page`, pinned
    /// once (by the mapping about to be made). `shared` is MAP_SHARED;
    /// `write_allowed` says whether a shared mapping may be writable (the
    /// file was opened for writing; EACCES otherwise).
    pub fn new(first_page: u64, pages: u64, shared: bool, write_allowed: bool, token: FileToken) -> FileRef {
        let id = NEXT_FILE_MAP_ID.fetch_add(1, Ordering::Relaxed);
        let mut pins = BTreeMap::new();
        if pages > 0 {
            pins.insert(first_page, (first_page + pages, 1));
        }
        Arc::new(Self {
            id,
            first_page,
            pages,
            shared,
            write_allowed,
            written: AtomicBool::new(false),
            pins: Mutex::new(pins),
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
    /// Pages lent.
    pub fn pages(&self) -> u64 {
        self.pages
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
        self.pins.lock().iter().map(|(start, (end, _))| end - start).sum()
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
        index >= self.first_page && index - self.first_page < self.pages
    }

    /// One more grant maps file pages `[start, end)`.
    pub(crate) fn pin(&self, start: u64, end: u64) {
        let mut pins = self.pins.lock();
        for (_, (_, count)) in pieces(&mut pins, start, end) {
            *count += 1;
        }
        merge_equal(&mut pins);
    }

    /// One grant fewer maps file pages `[start, end)`; returns the runs
    /// whose count reached zero (no longer pinned).
    pub(crate) fn unpin(&self, start: u64, end: u64) -> Vec<(u64, u64)> {
        let mut pins = self.pins.lock();
        let mut freed = Vec::new();
        for (piece_start, (piece_end, count)) in pieces(&mut pins, start, end) {
            debug_assert!(*count > 0);
            *count -= 1;
            if *count == 0 {
                match freed.last_mut() {
                    Some((_, last_end)) if *last_end == piece_start => *last_end = piece_end,
                    _ => freed.push((piece_start, piece_end)),
                }
            }
        }
        for (start, _) in &freed {
            // `freed` runs are unions of whole pieces.
            let mut at = *start;
            while let Some((end, 0)) = pins.get(&at).copied() {
                pins.remove(&at);
                at = end;
            }
        }
        merge_equal(&mut pins);
        freed
    }
}

/// Splits the pinned runs at `start` and `end` and returns those inside
/// `[start, end)` (pages not pinned at all are skipped: a bug upstream,
/// caught by the debug assertion in `unpin`).
fn pieces(pins: &mut BTreeMap<u64, (u64, u32)>, start: u64, end: u64) -> Vec<(u64, (u64, &mut u32))> {
    for at in [start, end] {
        let covering = pins.range(..at).next_back().map(|(s, (e, c))| (*s, *e, *c));
        if let Some((s, e, c)) = covering
            && s < at
            && at < e
        {
            pins.insert(s, (at, c));
            pins.insert(at, (e, c));
        }
    }
    pins.range_mut(start..end).map(|(s, (e, c))| (*s, (*e, c))).collect()
}

/// Joins neighbouring runs with the same count.
fn merge_equal(pins: &mut BTreeMap<u64, (u64, u32)>) {
    let runs: Vec<(u64, u64, u32)> = pins.iter().map(|(s, (e, c))| (*s, *e, *c)).collect();
    let mut merged: Vec<(u64, u64, u32)> = Vec::with_capacity(runs.len());
    for (s, e, c) in runs {
        match merged.last_mut() {
            Some((_, last_end, last_count)) if *last_end == s && *last_count == c => *last_end = e,
            _ => merged.push((s, e, c)),
        }
    }
    if merged.len() != pins.len() {
        *pins = merged.into_iter().map(|(s, e, c)| (s, (e, c))).collect();
    }
}

impl fmt::Debug for FileMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "FileMap(id {}, pages {}+{}, {})",
            self.id,
            self.first_page,
            self.pages,
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
        FileMap::new(10, pages, true, true, Arc::new(()))
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
        assert!(file.pins.lock().is_empty());
    }

    #[test]
    fn runs_merge_back() {
        let file = lease(4);
        file.pin(11, 12);
        file.pin(10, 11);
        file.pin(12, 14);
        let runs = file.pins.lock().clone();
        assert_eq!(runs.len(), 1, "{runs:?}");
        assert!(file.unpin(10, 14).is_empty());
        assert_eq!(file.unpin(10, 14), [(10, 14)]);
    }
}
