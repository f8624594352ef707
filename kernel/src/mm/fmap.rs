//! The kernel's half of file mappings: leases from filesystem schemes,
//! fetching a lent page from its lender ([`fetch`], for the page-fault path
//! in `page_fault`), and handing pages back (DESIGN §6, docs/fmap.md).
//!
//! ```text
//!  mmap(fd)  ── scheme.mmap_prep ──► FmapLease { address in the daemon, lender }
//!            ── FileMap::new(token) + grants.mmap(File)     (no page yet: lazy)
//!  fault     ── page_fault::fault_in: grants.fault → FilePage ── unlock ── fetch(): the
//!               lender's space.fault(Write) + get_ref ── lock ── supply_file_page ── retry
//!  munmap…   ── Shootdown::finish → FileRelease ── send_releases → scheme.munmap
//!  mremap(grow) ── EOPNOTSUPP from tessera-mm ── unlock ── [`grow`]: scheme.mmap_prep of
//!               the added pages ── lock ── mremap with them (extends the lease) or [`give_up`]
//!  set aside ── a lender page readable, not writable: fetch asks the lender
//!               again (MmapPrep of that page, its pin given back at once)
//!  take back ── the lender writes an Invalidate to its queue ── [`invalidate`]: its leases
//!               over that memory (`LEASES`) ── generation bumped ── every space: drop the
//!               pages (shootdown) ── the write returns: the memory is the lender's again
//! ```
//!
//! No two address-space locks are ever held at once: a fault drops the
//! faulting space's lock before it takes the lender's, so two processes
//! that serve files to each other cannot deadlock, and neither can a
//! process mapping a file of its own scheme.

use alloc::collections::BTreeMap;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;

use rmm::{PAGE_SIZE, PhysAddr, VirtAddr};
use tessera_abi::error::{EINVAL, EIO, Error, Result};
use tessera_abi::flag::{MapFlags, MunmapFlags};
use tessera_mm::{Access, FaultError, FileGrowth, FileRef, FileRelease};

use crate::file::Description;
use crate::process::{self, Process};
use crate::sync::Mutex;

/// Every live lease by its lender's address space ([`FmapToken::lender_space`]),
/// so that a lender taking memory back finds the leases over it. Dead
/// entries are swept when a list doubles; a space's list goes with the
/// space ([`forget_lender`]).
static LEASES: Mutex<BTreeMap<u64, Vec<Weak<tessera_mm::FileMap>>>> = Mutex::new(BTreeMap::new());

/// Held while pages are taken back, and by `fork` while it copies a space
/// and makes the child a process: a child forked part-way through a take
/// back would otherwise copy a frame from a space not yet visited and not
/// be visited itself. Taken before any space lock and before the process
/// table's.
pub static TAKE_BACK: Mutex<()> = Mutex::new(());

/// The address space `lender_space` is gone: its entry goes (a lease it
/// lent can no longer be taken back by anyone, and fetches from it fail).
pub fn forget_lender(lender_space: u64) {
    LEASES.lock().remove(&lender_space);
}

fn register(file: &tessera_mm::FileRef, lender_space: u64) {
    let mut leases = LEASES.lock();
    let len = leases.get(&lender_space).map_or(0, Vec::len);
    if len >= 16 && len.is_power_of_two() {
        // Every list, so that a space that died while its answer was on
        // the way (registered after `forget_lender`) does not stay.
        leases.retain(|_, list| {
            list.retain(|lease| lease.strong_count() > 0);
            !list.is_empty()
        });
    }
    leases.entry(lender_space).or_default().push(Arc::downgrade(file));
}

/// The kernel's side of one lease, kept as the lease's token.
pub struct FmapToken {
    /// The open file (kept open while any mapping of it lives).
    pub description: Arc<Description>,
    /// The daemon whose address space holds the pages.
    pub lender: Weak<Process>,
    /// That address space ([`super::UserSpace::id`]): once the daemon
    /// execs (a new space), pages not fetched yet are gone (SIGBUS), as
    /// when it dies; its new image's memory is never lent in their place.
    pub lender_space: u64,
    /// The MmapPrep flags of the lease (rights, shared or private), asked
    /// again for the pages a growth adds.
    pub flags: usize,
}

fn token(file: &FileRef) -> &FmapToken {
    file.token().downcast_ref::<FmapToken>().expect("file leases carry an FmapToken")
}

/// Takes one reference to the lender's frame of file page `index`: the
/// page is faulted in the lender's space as a write (so it has a frame of
/// its own, not the zero frame) with the lender's rights. SIGBUS if the
/// lender is gone or has exec'd (its lending space is gone), the page is
/// not there (past the end of the file), or it is not memory the lender
/// owns ([`super::UserSpace::lendable`]).
///
/// With `around` (fault-around), also takes the window's neighbours the
/// lender already holds ([`lent_around`]) into its second half, in the
/// same hold of the lender's lock: one fetch for up to 16 pages.
///
/// A lender page that is readable but not writable is one the lender
/// evicted from its cache (docs/fmap.md, "Lending again"): the lender is
/// asked for it again (MmapPrep of that page with the lease's flags), the
/// page is taken, and the extra pin that request added goes back at once
/// (Munmap, one-way). Never when the lender is the faulting process (it
/// would wait on itself). Fault-around never takes such a page: it is not
/// writable in the lender's space.
pub(super) fn fetch(
    file: &FileRef,
    index: u64,
    mut around: Option<(&tessera_mm::FaultAround, &mut Around)>,
) -> core::result::Result<PhysAddr, FaultError> {
    for _ in 0..RELENDS {
        let window = around.as_mut().map(|(window, out)| (*window, &mut **out));
        match take_frame(file, index, window)? {
            Taken::Frame(frame) => return Ok(frame),
            Taken::SetAside => relend(file, index)?,
        }
    }
    Err(FaultError::Bus)
}

/// How often one fetch asks the lender again for a page it set aside
/// (each time another request of the lender's evicted it meanwhile).
const RELENDS: usize = 4;

/// What the lender's space has at a lent page.
enum Taken {
    /// Its frame, with one reference taken.
    Frame(PhysAddr),
    /// Nothing, but readable: the lender lends it again when asked.
    SetAside,
}

fn take_frame(
    file: &FileRef,
    index: u64,
    around: Option<(&tessera_mm::FaultAround, &mut Around)>,
) -> core::result::Result<Taken, FaultError> {
    let token = token(file);
    let lender = token.lender.upgrade().ok_or(FaultError::Bus)?;
    // The lender's range was checked to lie in user space (user.rs), so
    // this cannot wrap; a lease that says otherwise is SIGBUS.
    let addr = file.lender_address(index).map(VirtAddr::new).ok_or(FaultError::Bus)?;
    let mut guard = lender.space.lock();
    let space = guard.as_mut().filter(|space| space.id() == token.lender_space).ok_or(FaultError::Bus)?;
    // Only memory the lender owns: a device or physical mapping's frames
    // may be anyone's (or free), borrowed pages are not lent on.
    if !space.lendable(addr) {
        return Err(FaultError::Bus);
    }
    let not_self = !Arc::ptr_eq(&lender, &process::current());
    // Set aside for lending (the lender sealed it, MADV_LEND_ASIDE): it
    // lends it again when asked, as a page it made read-only.
    if space.lent_aside(addr, 1) {
        return if not_self { Ok(Taken::SetAside) } else { Err(FaultError::Bus) };
    }
    match space.fault(addr, Access::Write) {
        Ok(()) => {}
        Err(FaultError::OutOfMemory) => return Err(FaultError::OutOfMemory),
        Err(FaultError::Segv) if not_self && space.fault(addr, Access::Read).is_ok() => {
            return Ok(Taken::SetAside);
        }
        // A lender's page lent from a file mapping of its own is not lent
        // on: one level of lending only.
        Err(_) => return Err(FaultError::Bus),
    }
    let (frame, _) = space.translate(addr).ok_or(FaultError::Bus)?;
    super::get_ref(frame).map_err(|_| FaultError::Bus)?;
    if let Some((around, out)) = around {
        lent_around(space, file, index, around, out);
    }
    Ok(Taken::Frame(frame))
}

/// Asks the lease's scheme to lend file page `index` again (it set the
/// page aside), at the same address, and gives the pin back. SIGBUS if the
/// scheme refuses, is gone, or answers another address or from another
/// process.
fn relend(file: &FileRef, index: u64) -> core::result::Result<(), FaultError> {
    let token = token(file);
    let (offset, bytes) = byte_range(index, 1).ok_or(FaultError::Bus)?;
    let scheme = &token.description.scheme;
    let reply = scheme.mmap_prep(token.description.id, offset, bytes, token.flags).map_err(|_| FaultError::Bus)?;
    let _ = scheme.munmap(token.description.id, offset, bytes, 0, false);
    let same_lender = Weak::ptr_eq(&reply.lender, &token.lender) && reply.lender_space == token.lender_space;
    if !same_lender || file.lender_address(index) != Some(reply.address as u64) {
        return Err(FaultError::Bus);
    }
    Ok(())
}

/// Fault-around's neighbours of a fetch, taken under the same hold of the
/// lender's space: at most the window's pages ([`tessera_mm::FAULT_AHEAD_PAGES`]),
/// in a list the caller made room for.
pub(super) type Around = Vec<(VirtAddr, u64, PhysAddr)>;

/// The pages of `around` (but `index`, fetched already) that the lender
/// holds now: memory it owns ([`super::UserSpace::lendable`]), not set
/// aside for lending ([`super::UserSpace::lent_aside`]), mapped
/// writable in its space — its own frame, never the zero frame or a
/// copy-on-write one, and never a page it keeps `PROT_NONE` (past the end
/// of the file) or has not touched yet: those cost the lender a fault and
/// are left to their own. One reference each, added to `out` as long as it
/// has room (never growing it: the fault reserved it).
fn lent_around(
    space: &super::UserSpace,
    file: &FileRef,
    index: u64,
    around: &tessera_mm::FaultAround,
    out: &mut Around,
) {
    // One window lookup and one lender-grant check per run of pages the
    // lender lends at consecutive addresses (the whole window, usually).
    // The run: its first page, that page's lender address, and whether the
    // lender's grants let all of it be lent.
    let mut run: Option<(u64, u64, bool)> = None;
    let mut run_end = 0;
    for (virt, page) in around.pages() {
        if page >= run_end {
            run = file.lender_run(page).map(|(address, pages)| {
                let pages = pages.min(around.first_index + around.pages - page);
                run_end = page + pages;
                let lendable = space.lendable_pages(VirtAddr::new(address), pages)
                    && !space.lent_aside(VirtAddr::new(address), pages);
                (page, address, lendable)
            });
            if run.is_none() {
                continue;
            }
        }
        if page == index || out.len() == out.capacity() {
            continue;
        }
        let Some((first, address, true)) = run else { continue };
        let addr = VirtAddr::new(address + (page - first) * PAGE_SIZE);
        let Some((frame, flags)) = space.translate(addr) else { continue };
        if !flags.is_writable() || super::get_ref(frame).is_err() {
            continue;
        }
        out.push((virt, page, frame));
    }
}

/// Asks the scheme behind `description` to lend `[offset, offset + size)`
/// for a mapping with Redox's `flags`, and makes the lease: `first_page`
/// and `pages` as mapped, shared or private, writable if the file is open
/// for writing.
pub fn lease(description: &Arc<Description>, offset: u64, size: u64, flags: usize, shared: bool) -> Result<FileRef> {
    let bytes = usize::try_from(size).map_err(|_| Error::new(EINVAL))?;
    let reply = description.scheme.mmap_prep(description.id, offset, bytes, flags)?;
    let writable = matches!(
        description.flags & tessera_abi::flag::O_ACCMODE,
        tessera_abi::flag::O_WRONLY | tessera_abi::flag::O_RDWR
    );
    let kept =
        MapFlags::PROT_READ | MapFlags::PROT_WRITE | MapFlags::PROT_EXEC | MapFlags::MAP_SHARED | MapFlags::MAP_PRIVATE;
    let token = FmapToken {
        description: description.clone(),
        lender: reply.lender,
        lender_space: reply.lender_space,
        flags: flags & kept.bits(),
    };
    let (first_page, pages) = (offset / PAGE_SIZE, size.div_ceil(PAGE_SIZE));
    let lender_space = token.lender_space;
    let file = tessera_mm::FileMap::new(first_page, pages, shared, writable, reply.address as u64, Arc::new(token));
    register(&file, lender_space);
    Ok(file)
}

/// The lender (the current process, writing an Invalidate to its scheme's
/// queue) takes back its memory `[start, start + len)`: every page of every
/// lease it lent from there is dropped from every address space that maps
/// it — shared pages, private pages not copied yet and private copies
/// (Linux drops copies past a truncation too) — and the TLBs are flushed
/// before this returns. The mappings stay; a later touch fetches again,
/// which is SIGBUS if the lender has made the pages inaccessible (as it
/// must before it calls this: docs/fmap.md). With `evict` (a page cache
/// evicting, at most `EVICT_MAX_BYTES`), only the pages that show the
/// lender's frames go: private copies stay. Returns how many mapped pages
/// were dropped.
pub fn invalidate(start: u64, len: u64, evict: bool) -> Result<u64> {
    let end = start.checked_add(len).ok_or(Error::new(EINVAL))?;
    if !start.is_multiple_of(PAGE_SIZE) || !len.is_multiple_of(PAGE_SIZE) {
        return Err(Error::new(EINVAL));
    }
    if evict && len > tessera_abi::scheme::EVICT_MAX_BYTES {
        return Err(Error::new(EINVAL));
    }
    let lender = process::current();
    let Some(lender_space) = lender.space.lock().as_ref().map(super::UserSpace::id) else {
        return Err(Error::new(EINVAL));
    };
    let _taking_back = TAKE_BACK.lock();
    let leases: Vec<tessera_mm::FileRef> =
        LEASES.lock().get(&lender_space).map_or(Vec::new(), |list| list.iter().filter_map(Weak::upgrade).collect());
    let mut affected = Vec::new();
    for file in leases {
        let runs = file.lent_from(start, end);
        if !runs.is_empty() {
            file.invalidating();
            affected.push((file, runs));
        }
    }
    let mut dropped = 0;
    if affected.is_empty() {
        return Ok(0);
    }
    // For an eviction: the lender's frame of each page (read now, before
    // the daemon drops its memory), to tell private copies from them.
    let lender_frames = if evict { lent_frames(&lender, &affected) } else { BTreeMap::new() };
    for process in process::all() {
        let mut guard = process.space.lock();
        let Some(space) = guard.as_mut() else { continue };
        for (file, runs) in &affected {
            dropped += space.run(|grants, frames, tlb| {
                if !evict {
                    return grants.drop_file_pages(frames, file, runs, tlb);
                }
                let is_lenders = |index, frame| lender_frames.get(&(file.id(), index)) == Some(&frame);
                grants.evict_file_pages(frames, file, runs, is_lenders, tlb)
            });
        }
    }
    Ok(dropped)
}

/// The lender's current frame of each file page of the private leases of
/// `affected` (leases and their runs of file pages), by (lease id, file
/// page). A shared lease needs none: every page of its mappings is the
/// lender's (`evict_file_pages`).
fn lent_frames(
    lender: &Arc<Process>,
    affected: &[(tessera_mm::FileRef, Vec<(u64, u64)>)],
) -> BTreeMap<(u64, u64), PhysAddr> {
    let mut frames = BTreeMap::new();
    let guard = lender.space.lock();
    let Some(space) = guard.as_ref() else { return frames };
    for (file, runs) in affected.iter().filter(|(file, _)| !file.is_shared()) {
        for &(first, end) in runs {
            for index in first..end {
                let address = file.lender_address(index).map(VirtAddr::new);
                if let Some((frame, _)) = address.and_then(|address| space.translate(address)) {
                    frames.insert((file.id(), index), frame);
                }
            }
        }
    }
    frames
}

/// For `msync(MS_INVALIDATE)`: the lender's current frame of each file
/// page of the private leases in `ranges` (shared mappings need none:
/// every page of theirs is the file's), so that the caller's pages that
/// still show them can be told from its private copies.
pub fn file_frames(ranges: &[tessera_mm::FileRange]) -> BTreeMap<(u64, u64), PhysAddr> {
    let mut frames = BTreeMap::new();
    for range in ranges.iter().filter(|range| !range.file.is_shared()) {
        let token = token(&range.file);
        let Some(lender) = token.lender.upgrade() else { continue };
        let guard = lender.space.lock();
        let Some(space) = guard.as_ref().filter(|space| space.id() == token.lender_space) else { continue };
        for index in range.first_page..range.first_page + range.pages {
            let address = range.file.lender_address(index).map(VirtAddr::new);
            if let Some((frame, _)) = address.and_then(|address| space.translate(address)) {
                frames.insert((range.file.id(), index), frame);
            }
        }
    }
    frames
}

/// Asks the lease's scheme to lend the pages `growth` adds to a growing
/// mapping (MmapPrep with the lease's flags) and fills in where they are.
/// The scheme's error as it is; EIO if another process (or the lender
/// after an exec) answered: a lease has one lender.
pub fn grow(growth: &mut FileGrowth) -> Result<()> {
    let token = token(&growth.file);
    let pages = growth.end_page - growth.first_page;
    let (offset, bytes) = byte_range(growth.first_page, pages).ok_or(Error::new(EINVAL))?;
    let reply = token.description.scheme.mmap_prep(token.description.id, offset, bytes, token.flags)?;
    growth.lender_base = reply.address as u64;
    if !Weak::ptr_eq(&reply.lender, &token.lender) || reply.lender_space != token.lender_space {
        give_up(growth);
        return Err(Error::new(EIO));
    }
    Ok(())
}

/// Hands back the pages [`grow`] had lent when the mremap did not take them.
pub fn give_up(growth: &FileGrowth) {
    let release = FileRelease {
        file: growth.file.clone(),
        first_page: growth.first_page,
        pages: growth.end_page - growth.first_page,
        needs_sync: false,
    };
    let _ = send_releases(alloc::vec![release], true);
}

/// File pages `[first_page, first_page + pages)` as a byte offset and
/// length; `None` if that does not fit (never for a lease's pages).
fn byte_range(first_page: u64, pages: u64) -> Option<(u64, usize)> {
    let offset = first_page.checked_mul(PAGE_SIZE)?;
    let len = pages.checked_mul(PAGE_SIZE)?;
    offset.checked_add(len)?;
    Some((offset, usize::try_from(len).ok()?))
}

/// Hands back the pages of a lease no mapping took (the mapping failed).
pub fn abandon(file: FileRef) {
    let (first_page, pages) = (file.first_page(), file.pages());
    let _ = send_releases(alloc::vec![FileRelease { file, first_page, pages, needs_sync: false }], true);
}

/// Hands pages back to their schemes (Munmap, NEEDS_SYNC when written).
/// With `wait`, returns EIO if any write-back failed (every release is
/// still sent); without, only sends them. Inlined for its first line:
/// most calls (every mmap and munmap of anonymous memory) send nothing.
#[inline]
pub fn send_releases(releases: Vec<FileRelease>, wait: bool) -> Result<()> {
    if releases.is_empty() {
        return Ok(());
    }
    send_each(releases, wait)
}

/// [`send_releases`] of at least one release.
fn send_each(releases: Vec<FileRelease>, wait: bool) -> Result<()> {
    let mut result = Ok(());
    for release in coalesce(releases) {
        let token = token(&release.file);
        let flags = if release.needs_sync { MunmapFlags::NEEDS_SYNC.bits() } else { 0 };
        // Inside the lease, whose offset + length was checked at mmap.
        let sent = match byte_range(release.first_page, release.pages) {
            Some((offset, len)) => token.description.scheme.munmap(token.description.id, offset, len, flags, wait),
            None => Err(Error::new(EIO)),
        };
        // A failed write-back (or a dead scheme) loses data only if the
        // pages needed one.
        if sent.is_err() && release.needs_sync && result.is_ok() {
            result = Err(Error::new(EIO));
        }
    }
    result
}

/// Joins releases of the same lease that continue each other (one per
/// grant when many small grants go at once), so that the scheme gets one
/// Munmap per run of pages, not one per grant.
fn coalesce(releases: Vec<FileRelease>) -> Vec<FileRelease> {
    let mut out: Vec<FileRelease> = Vec::with_capacity(releases.len());
    for release in releases {
        if let Some(last) = out.last_mut()
            && Arc::ptr_eq(&last.file, &release.file)
            && last.needs_sync == release.needs_sync
            && last.first_page.checked_add(last.pages) == Some(release.first_page)
        {
            last.pages += release.pages;
            continue;
        }
        out.push(release);
    }
    out
}

/// Asks each lease's scheme to write back its pages in `ranges` (`MS_*`
/// flags). EIO if any fails.
pub fn sync(ranges: Vec<tessera_mm::FileRange>, flags: usize) -> Result<()> {
    let mut result = Ok(());
    for range in ranges {
        let token = token(&range.file);
        let synced = match byte_range(range.first_page, range.pages) {
            Some((offset, len)) => token.description.scheme.msync(token.description.id, offset, len, flags),
            None => Err(Error::new(EIO)),
        };
        if synced.is_err() && result.is_ok() {
            result = Err(Error::new(EIO));
        }
    }
    result
}
