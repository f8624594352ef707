//! The page-fault path: how a fault on a user page is resolved, whether the
//! CPU took it in user mode or the kernel met the page in a user copy.
//!
//! ```text
//!  arch trap (x86_64 #PF, aarch64 data/instruction abort)
//!   └─ trap::user_fault ── handle_user_fault (heap room, then:)
//!                           └─ fault_in ── UserSpace::fault ── tessera_mm::AddrSpace::fault
//!                                │           (kernel/mm/src/fault.rs: demand zero, CoW, stack growth)
//!                                └─ FilePage: unlock ── fmap::fetch (the lender's page, and
//!                                             fault-around's neighbours it already holds)
//!                                             ── lock ── UserSpace::supply_file_page(s) ── retry
//!  usercopy (a syscall, futex, clear-tid)
//!   └─ with_user_space ── the copy under the lock; a file page it found
//!                          missing (UserSpace::want) ── fault_in ── the copy again
//! ```
//!
//! No two address-space locks are ever held at once: a fault drops the
//! faulting space's lock before it takes the lender's (see `fmap`).

use alloc::vec::Vec;

use rmm::{PAGE_SIZE, VirtAddr};
use tessera_abi::error::{EFAULT, Error, Result};
use tessera_mm::{Access, FaultError};

use super::UserSpace;
use super::fmap;
use crate::arch;
use crate::sync::Mutex;

/// How many fetches one fault may need before it gives up (each retry
/// follows a change by another thread: an unmap, a CoW copy).
const MAX_FETCHES: usize = 8;

/// How often one user copy may wait for a file page before it gives up
/// (EFAULT): each wait follows a change by another thread.
const MAX_FILE_PAGE_WAITS: usize = 8;

/// Resolves a fault the CPU took in user mode at `address` of `space` (the
/// current process's): room in the kernel heap first (none is like no frame
/// for the page, [`FaultError::OutOfMemory`]), then [`fault_in`]. On
/// success the faulting page's entry is dropped from this CPU's TLB: the
/// fault may have come from a stale entry with fewer rights than the PTE
/// now gives (an upgrade is never shot down), and the Arm architecture lets
/// a TLB keep an entry that caused a permission fault, so an aarch64 CPU
/// could fault on it again (x86 drops it on the fault itself).
pub fn handle_user_fault(
    space: &Mutex<Option<UserSpace>>,
    address: VirtAddr,
    access: Access,
) -> core::result::Result<(), FaultError> {
    super::reserve_call_heap().map_err(|_| FaultError::OutOfMemory)?;
    fault_in(space, address, access)?;
    arch::tlb::flush_user_pages_local(arch::tlb::current_asid(), address.align_down(PAGE_SIZE).get(), 1);
    Ok(())
}

/// Resolves a fault at `virt` in `space` (a process's), fetching file
/// pages from their lenders as needed.
pub fn fault_in(
    space: &Mutex<Option<UserSpace>>,
    virt: VirtAddr,
    access: Access,
) -> core::result::Result<(), FaultError> {
    for _ in 0..MAX_FETCHES {
        let result = space.lock().as_mut().map_or(Err(FaultError::Segv), |s| s.fault(virt, access));
        match result {
            Err(FaultError::FilePage) => fetch_into(space, virt)?,
            other => return other,
        }
    }
    Err(FaultError::Bus)
}

/// Pages MADV_POPULATE_* faults in per lock of the space: enough to
/// spread the lock and the shootdown, few enough that another thread of
/// the process does not wait long for the lock.
const POPULATE_BATCH_PAGES: u64 = 64;

/// MADV_POPULATE_*: faults in exactly the `pages` pages from `start` (no
/// write-around), [`POPULATE_BATCH_PAGES`] per lock of the space
/// (`UserSpace::populate`); a file page is fetched from its lender without
/// the lock, then the rest goes on from it. The first page that fails
/// ends it with its error (the pages before stay populated); as for a
/// fault, a page still missing after [`MAX_FETCHES`] fetches is SIGBUS.
pub fn populate_in(
    space: &Mutex<Option<UserSpace>>,
    start: VirtAddr,
    pages: u64,
    access: Access,
) -> core::result::Result<(), FaultError> {
    let (mut done, mut fetches) = (0, 0);
    while done < pages {
        let at = start.add(done * PAGE_SIZE);
        let batch = (pages - done).min(POPULATE_BATCH_PAGES);
        let result = space.lock().as_mut().map_or(Err((0, FaultError::Segv)), |s| s.populate(at, batch, access));
        match result {
            Ok(()) => {
                done += batch;
                fetches = 0;
            }
            Err((n, FaultError::FilePage)) => {
                done += n;
                fetches = if n > 0 { 1 } else { fetches + 1 };
                if fetches >= MAX_FETCHES {
                    return Err(FaultError::Bus);
                }
                fetch_into(space, start.add(done * PAGE_SIZE))?;
            }
            Err((_, error)) => return Err(error),
        }
    }
    Ok(())
}

/// Fetches the file page wanted at `virt` of `space` and hands it in,
/// without holding the lock while it talks to the lender.
fn fetch_into(space: &Mutex<Option<UserSpace>>, virt: VirtAddr) -> core::result::Result<(), FaultError> {
    let wanted = space.lock().as_ref().and_then(|s| s.file_page_wanted(virt).map(|w| (w, s.fault_around(virt))));
    // The page arrived meanwhile, or the mapping went: the retry decides.
    let Some(((file, index), around)) = wanted else { return Ok(()) };
    // Read before the lender's page: a take back after it refuses this
    // frame (the retry fetches again).
    let generation = file.generation();
    // Room for the whole window first (at most 512 entries, 12 KiB, within
    // the fault's heap reservation); without it, the page alone.
    let mut neighbours: fmap::Around = Vec::new();
    let around = around.filter(|around| neighbours.try_reserve_exact(around.pages as usize).is_ok());
    let frame = fmap::fetch(&file, index, around.as_ref().map(|around| (around, &mut neighbours)))?;
    match space.lock().as_mut() {
        Some(s) => {
            s.supply_file_page(virt, &file, index, generation, frame);
            s.supply_file_pages(&file, generation, &neighbours);
        }
        None => {
            super::put_ref(frame);
            for &(_, _, frame) in &neighbours {
                super::put_ref(frame);
            }
        }
    }
    Ok(())
}

/// Runs the user copy `f` on a process's address space `space`, under its lock.
/// Every kernel copy from or to user memory goes through here (a syscall
/// through `syscall::with_space`; futex and the clear-tid write directly),
/// so none fails with EFAULT on a lent file page only because it was not
/// fetched yet.
///
/// `f` runs again after it found such a page (`UserSpace::want`): the page
/// is fetched from its lender without the lock, so `f` must be retryable
/// (user copies fail before copying anything). File pages the call
/// unmapped are handed back after the lock is dropped (`funmap` reports
/// their write-back itself). EFAULT if the process has no space any more.
pub fn with_user_space<R>(
    space: &Mutex<Option<UserSpace>>,
    mut f: impl FnMut(&mut UserSpace) -> Result<R>,
) -> Result<R> {
    let mut waits = 0;
    loop {
        let mut guard = space.lock();
        let locked = guard.as_mut().ok_or(Error::new(EFAULT))?;
        let result = f(locked);
        let wanted = locked.take_wanted();
        let releases = locked.take_file_releases();
        drop(guard);
        let _ = fmap::send_releases(releases, true);
        match wanted {
            Some((virt, access)) if result.is_err() && waits < MAX_FILE_PAGE_WAITS => {
                waits += 1;
                if fault_in(space, virt, access).is_err() {
                    return result;
                }
            }
            _ => return result,
        }
    }
}
