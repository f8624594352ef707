//! `madvise(addr, len, advice)`: the grant layer (`tessera-mm`, `advise.rs`)
//! validates and applies each value; what needs the kernel beyond one
//! operation is done here, after it succeeded:
//!
//! - MADV_POPULATE_READ / WRITE fault the range in page by page, as reads
//!   or writes, up to [`HEAP_STEP_PAGES`] pages per lock of the space and
//!   shootdown (file pages are fetched from their lender without the lock,
//!   then it goes on from there): a page that
//!   would be SIGBUS (past a file's or object's end) or SIGSEGV (a guard
//!   marker) is EFAULT, no frame ENOMEM, as Linux. Pages before the failing
//!   one stay populated (Linux too).
//! - MADV_REMOVE of a shared file mapping asks the file's scheme to punch
//!   the hole (a Call with `CALL_PUNCH_HOLE`: the bytes read as zeroes, the
//!   size unchanged); the scheme takes the lent pages back from every
//!   mapping first, through the kernel (docs/fmap.md), so each reads
//!   zeroes on its next touch. EOPNOTSUPP from a scheme that cannot, as
//!   Linux from a filesystem without hole punching. Sent after the grant
//!   layer's part, with no address-space lock held.
//! - MADV_WILLNEED fetches the file pages of the range that are not there
//!   yet, as MAP_POPULATE does for a new mapping; a failure (past the end of
//!   the file, PROT_NONE) stops that mapping's prefetch and is not
//!   reported, as Linux's read-ahead. Anonymous memory: nothing to do.
//!
//! Heap: MADV_FREE marks and guard markers cost a set entry per page;
//! room for them is made first (ENOMEM when there is none). Populating
//! makes room again every [`HEAP_STEP_PAGES`] pages.

use rmm::{PAGE_SIZE, VirtAddr};
use tessera_abi::error::{EFAULT, EINVAL, ENOMEM, Error, Result};
use tessera_mm::{Access, Advice, FaultError, ProviderKind};

use super::with_space;
use crate::mm::fmap::FmapToken;
use crate::mm::{ENTRY_HEAP_BYTES, grant_errno, page_fault, reserve_call_heap, reserve_heap_for};
use crate::process;

/// Pages populated or prefetched between two heap reservations (each
/// reservation leaves room for 16,384 slots).
const HEAP_STEP_PAGES: u64 = 1024;

/// `madvise(addr, len, advice)`.
pub fn madvise(addr: usize, len: usize, raw: usize) -> Result<usize> {
    let advice = Advice::from_raw(raw).map_err(grant_errno)?;
    let (start, len) = (VirtAddr::new(addr as u64), len as u64);
    let marks = match advice {
        Advice::Free => with_space(|space| Ok(space.run(|grants, _, _| grants.resident_in_range(start, len))))?,
        Advice::GuardInstall => len.div_ceil(PAGE_SIZE),
        _ => 0,
    };
    reserve_heap_for(usize::try_from(marks).unwrap_or(usize::MAX).saturating_mul(ENTRY_HEAP_BYTES))?;
    with_space(|space| {
        space.run(|grants, frames, tlb| grants.madvise(frames, start, len, advice, tlb)).map_err(grant_errno)
    })?;
    let pages = len.div_ceil(PAGE_SIZE);
    if let Some(write) = advice.populate() {
        populate(start, pages, if write { Access::Write } else { Access::Read })?;
    } else if advice == Advice::WillNeed {
        prefetch(start, pages)?;
    } else if advice == Advice::Remove {
        punch_holes(start, len)?;
    }
    Ok(0)
}

/// Asks the scheme of each shared file mapping in `[start, start + len)`
/// (validated: every such mapping is writable) to punch its part.
fn punch_holes(start: VirtAddr, len: u64) -> Result<()> {
    let files = with_space(|space| space.file_ranges(start, len))?;
    for range in files.into_iter().filter(|range| range.file.is_shared()) {
        let token = range.file.token().downcast_ref::<FmapToken>().ok_or(Error::new(EINVAL))?;
        let offset = range.first_page.checked_mul(PAGE_SIZE).ok_or(Error::new(EINVAL))?;
        let bytes = range.pages.checked_mul(PAGE_SIZE).ok_or(Error::new(EINVAL))?;
        token.description.scheme.punch_hole(token.description.id, offset, bytes)?;
    }
    Ok(())
}

/// Faults in `pages` pages from `start` (all mapped, checked) with
/// `access`, [`HEAP_STEP_PAGES`] at a time.
fn populate(start: VirtAddr, pages: u64, access: Access) -> Result<()> {
    let space = &process::current().space;
    let mut done = 0;
    while done < pages {
        reserve_call_heap()?;
        let step = (pages - done).min(HEAP_STEP_PAGES);
        match page_fault::populate_in(space, start.add(done * PAGE_SIZE), step, access) {
            Ok(()) => done += step,
            Err(FaultError::OutOfMemory) => return Err(Error::new(ENOMEM)),
            Err(_) => return Err(Error::new(EFAULT)),
        }
    }
    Ok(())
}

/// Fetches the missing file pages of the `pages` pages from `start`,
/// mapping by mapping; a failure ends that mapping's prefetch.
fn prefetch(start: VirtAddr, pages: u64) -> Result<()> {
    let space = &process::current().space;
    let end = start.add(pages * PAGE_SIZE);
    let mut at = start;
    let mut done = 0u64;
    while at < end {
        let grant = space.lock().as_ref().and_then(|s| s.describe_at(at));
        let Some(grant) = grant else { break };
        let stop = if grant.end < end { grant.end } else { end };
        if let ProviderKind::FmapBorrowed(_) = grant.kind {
            while at < stop {
                if done.is_multiple_of(HEAP_STEP_PAGES) {
                    reserve_call_heap()?;
                }
                done += 1;
                let missing = space.lock().as_ref().is_some_and(|s| s.file_page_wanted(at).is_some());
                if missing && page_fault::fault_in(space, at, Access::Read).is_err() {
                    break;
                }
                at = at.add(PAGE_SIZE);
            }
        }
        at = stop;
    }
    Ok(())
}
