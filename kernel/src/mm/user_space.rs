//! A process's address space: the grant logic of `tessera-mm` over the
//! kernel's page tables (`rmm`), frames (reference-counted, `frames`) and
//! TLB shootdowns (`tlb`).
//!
//! ```text
//!  mm::UserSpace ── grants: tessera_mm::AddrSpace<KernelTable>   (grants, slots, gaps)
//!                ├─ cpus: Arc<CpuSet>    CPUs with this table loaded (set by the scheduler)
//!                └─ tag: arch::SpaceTag  the TLB tag (aarch64 ASID) its entries carry
//!  every change: run the tessera-mm operation with a Shootdown, flush the
//!  Shootdown's ranges of `tag` (x86_64: on `cpus`, IPI + acknowledgement;
//!  aarch64: broadcast TLBI by ASID), then release the frames it held back
//!  (`Shootdown::finish`).
//! ```
//!
//! The user half is root entries 0..256: on x86_64 the kernel half is
//! copied into every root; on aarch64 it lives in TTBR1. A space is freed
//! only once no CPU has its root loaded (`cpus` empty).

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};

use rmm::{FrameAllocator, LeafEdit, PAGE_SIZE, PageFlags, PageMapper, PageSize, PhysAddr, VirtAddr};
use tessera_abi::error::{EFAULT, EINVAL, ENOMEM, Error, Result};
use tessera_bootinfo::{USER_END, phys_to_virt};
use tessera_mm::{
    Access, FaultError, FileRelease, FrameStore, MapFailed, MapFlags, MmError, MmapRequest, PageTable, Prot, Shootdown,
    SpaceConfig,
};

use super::frames;
use super::paging;
use super::tlb::{self, CpuSet};
use crate::arch;

/// Root entries that hold user mappings.
const USER_ROOT_ENTRIES: core::ops::Range<usize> = 0..256;

/// Allocation-failure injection (a test knob, `sys:inject`): when not 0,
/// the (value − 1)-th next user-memory frame allocation of the process
/// whose counter this is fails. One failure, then off.
///
/// It also holds the second knob of `sys:inject`: skipping TLB shootdowns
/// for this space (each call flushes only its own CPU), which a privileged
/// test sets to show that `mm-threads` notices a missing shootdown.
#[derive(Default)]
pub struct FailInjector(AtomicUsize, AtomicBool);

impl FailInjector {
    /// Makes this space's calls flush only the calling CPU's TLB (`true`),
    /// or shoot down every CPU again (`false`).
    pub fn skip_shootdowns(&self, skip: bool) {
        self.1.store(skip, Ordering::Release);
    }
    fn skips_shootdowns(&self) -> bool {
        self.1.load(Ordering::Acquire)
    }

    /// Makes the `n`-th next allocation (0 = the very next) fail.
    pub fn arm(&self, n: usize) {
        self.0.store(n.saturating_add(1), Ordering::Release);
    }
    /// No more injected failures.
    pub fn disarm(&self) {
        self.0.store(0, Ordering::Release);
    }
    /// Counts one allocation; true if it must fail.
    fn should_fail(&self) -> bool {
        let mut now = self.0.load(Ordering::Acquire);
        loop {
            if now == 0 {
                return false;
            }
            match self.0.compare_exchange(now, now - 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return now == 1,
                Err(seen) => now = seen,
            }
        }
    }
}

/// The injector of the operation each CPU is running (null: none). The
/// kernel is not preempted, so an operation's allocations all happen on the
/// CPU that set it.
static CURRENT_INJECTOR: [AtomicPtr<FailInjector>; crate::config::MAX_CPUS] =
    [const { AtomicPtr::new(core::ptr::null_mut()) }; crate::config::MAX_CPUS];

/// A frame for user memory or a user page table. When none is free, the
/// freeable pages (MADV_FREE) of every other space whose lock is free are
/// reclaimed and the allocation tried once more; the operation that asked
/// reclaims its own space's itself (`tessera-mm`'s `Txn::allocate`). An
/// injected failure is such a shortage: it fails only if no other space
/// had anything to reclaim. `allocate` is `frames::allocate_frame` or
/// `frames::allocate_zeroed`.
fn allocate_user_frame_with(allocate: fn() -> Option<PhysAddr>) -> Option<PhysAddr> {
    let injector = CURRENT_INJECTOR[arch::cpu_index()].load(Ordering::Acquire);
    // SAFETY: `UserSpace::run` sets the pointer from an `Arc` it holds until
    // it clears it again, on this CPU.
    let injected = !injector.is_null() && unsafe { &*injector }.should_fail();
    let frame = if injected { None } else { allocate() };
    frame.or_else(|| {
        let mut reclaimed = 0;
        crate::process::try_each_space(|space| reclaimed += space.reclaim_unmapped_freeable());
        if reclaimed > 0 { allocate() } else { None }
    })
}

/// A user frame whose bytes the caller overwrites ([`allocate_user_frame_with`]).
fn allocate_user_frame() -> Option<PhysAddr> {
    allocate_user_frame_with(frames::allocate_frame)
}

/// The kernel's frames as `tessera-mm` sees them.
pub struct KernelFrames;

/// The frame every never-written private page reads as: zeroed once, then
/// only ever mapped read-only; its one reference is never dropped.
fn zero_frame() -> PhysAddr {
    static ZERO: spin::Once<PhysAddr> = spin::Once::new();
    *ZERO.call_once(|| frames::allocate_zeroed().expect("a frame for the zero page at boot"))
}

impl FrameStore for KernelFrames {
    fn allocate_zeroed(&mut self) -> Option<PhysAddr> {
        // From the pool idle CPUs zero (`frames`), if it has one.
        allocate_user_frame_with(frames::allocate_zeroed)
    }
    fn copy(&mut self, from: PhysAddr, to: PhysAddr) {
        // SAFETY: both are frames of the physical window; `to` is fresh and
        // the caller's alone, so they do not overlap.
        unsafe { arch::copy_page(phys_to_virt(to.get()) as *mut u8, phys_to_virt(from.get()) as *const u8) };
    }
    fn allocate_copy(&mut self, from: PhysAddr) -> Option<PhysAddr> {
        // Not zeroed first: the copy overwrites all of it.
        let frame = allocate_user_frame()?;
        self.copy(from, frame);
        Some(frame)
    }
    fn get(&mut self, frame: PhysAddr) {
        // A count near u32::MAX would need billions of mappings of one
        // frame; the frame allocator runs out long before.
        frames::get_ref(frame).expect("frame reference count");
    }
    fn put(&mut self, frame: PhysAddr) -> bool {
        frames::put_ref(frame)
    }
    fn refcount(&self, frame: PhysAddr) -> usize {
        frames::refcount(frame) as usize
    }
    fn zero_frame(&self) -> PhysAddr {
        zero_frame()
    }
}

/// Where a user table's intermediate tables come from (counted by the
/// failure injector like every other frame of the operation).
struct TableFrames {
    /// Whether a table was allocated.
    allocated: bool,
}

impl FrameAllocator for TableFrames {
    fn allocate_frame(&mut self) -> Option<PhysAddr> {
        let frame = allocate_user_frame();
        self.allocated |= frame.is_some();
        frame
    }
}

/// Makes `frame` safe to execute from user mode after the kernel wrote it
/// (a loaded image, a copy-on-write copy, a zeroed page). Only RAM frames
/// the allocator hands out are reachable through the physical window.
fn sync_icache(frame: PhysAddr) {
    if frames::refcount(frame) > 0 {
        arch::sync_icache(phys_to_virt(frame.get()));
    }
}

/// A user page table as `tessera-mm` sees it. Dropping it frees its
/// intermediate tables and root, not the leaves' frames (`tessera-mm`
/// releases those).
pub struct KernelTable {
    mapper: PageMapper<arch::Paging>,
    /// The pages whose mapping allocated intermediate tables during the
    /// current operation (a hull): where a failed operation may have left
    /// empty tables for [`UserSpace::run`] to prune.
    fresh: Option<(u64, u64)>,
}

impl KernelTable {
    /// Detaches the empty tables the last operation allocated, returning
    /// their frames (freed by the caller after the TLB flush).
    fn take_empty_fresh_tables(&mut self) -> Vec<PhysAddr> {
        let mut tables = Vec::new();
        if let Some((start, end)) = self.fresh.take() {
            self.mapper.prune(VirtAddr::new(start), VirtAddr::new(end), &mut |t| tables.push(t));
        }
        tables
    }
}

impl PageTable for KernelTable {
    fn map(&mut self, page: VirtAddr, frame: PhysAddr, flags: PageFlags) -> core::result::Result<(), MapFailed> {
        let mut tables = TableFrames { allocated: false };
        let result = self.mapper.map(page, frame, PageSize::Size4K, flags, &mut tables);
        if tables.allocated {
            let (start, end) = (page.get(), page.get() + PAGE_SIZE);
            self.fresh = Some(self.fresh.map_or((start, end), |(lo, hi)| (lo.min(start), hi.max(end))));
        }
        match result {
            // A new entry: no TLB holds it (the caller flushes downgrades).
            Ok(flush) => {
                if flags.is_executable() {
                    sync_icache(frame);
                }
                flush.ignore();
                Ok(())
            }
            Err(_) => Err(MapFailed),
        }
    }
    fn map_pages(&mut self, pages: &[(VirtAddr, PhysAddr, PageFlags)]) -> core::result::Result<(), MapFailed> {
        let (Some(&(first, ..)), Some(&(last, ..))) = (pages.first(), pages.last()) else { return Ok(()) };
        let mut tables = TableFrames { allocated: false };
        let result = self.mapper.map_4k_pages(pages.iter().copied(), &mut tables);
        if tables.allocated {
            // The pages are in order (fork's): new tables lie in their span.
            let (start, end) = (first.get().min(last.get()), first.get().max(last.get()) + PAGE_SIZE);
            self.fresh = Some(self.fresh.map_or((start, end), |(lo, hi)| (lo.min(start), hi.max(end))));
        }
        // New entries: no TLB holds them.
        for &(_, frame, flags) in pages {
            if flags.is_executable() {
                sync_icache(frame);
            }
        }
        result.map_err(|_| MapFailed)
    }
    fn unmap(&mut self, page: VirtAddr) -> Option<(PhysAddr, PageFlags)> {
        let (phys, flags, _) = self.mapper.translate(page)?;
        // The caller's Shootdown flushes it.
        self.mapper.unmap(page).ok()?.2.ignore();
        Some((phys, flags))
    }
    fn protect(&mut self, page: VirtAddr, flags: PageFlags) -> Option<PageFlags> {
        if flags.is_executable() {
            let (frame, old, _) = self.mapper.translate(page)?;
            if !old.is_executable() {
                sync_icache(frame);
            }
        }
        self.mapper.protect(page, flags).ok().map(|(old, flush)| {
            flush.ignore();
            old
        })
    }
    fn translate(&self, page: VirtAddr) -> Option<(PhysAddr, PageFlags)> {
        self.mapper.translate(page).map(|(phys, flags, _)| (phys, flags))
    }
    fn next_mapped(&self, from: VirtAddr, end: VirtAddr) -> Option<(VirtAddr, PhysAddr, PageFlags)> {
        self.mapper.next_leaf(from, end).map(|(page, phys, flags, _)| (page, phys, flags))
    }
    fn unmap_mapped(&mut self, from: VirtAddr, end: VirtAddr) -> Option<(VirtAddr, VirtAddr)> {
        // A leaf table at a time, no call per entry; the caller's
        // Shootdown flushes the span.
        self.mapper.clear_leaves(from, end)
    }
    fn edit_mapped(
        &mut self,
        from: VirtAddr,
        end: VirtAddr,
        f: &mut dyn FnMut(VirtAddr, PhysAddr, PageFlags) -> LeafEdit,
    ) {
        // A leaf table at a time; the caller's Shootdown flushes.
        self.mapper.edit_leaves(from, end, &mut |page, frame, old| {
            let edit = f(page, frame, old);
            if let LeafEdit::Protect(flags) = edit
                && flags.is_executable()
                && !old.is_executable()
            {
                sync_icache(frame);
            }
            edit
        });
    }
}

impl Drop for KernelTable {
    fn drop(&mut self) {
        self.mapper.clear_root_entries(USER_ROOT_ENTRIES, &mut |_, _| {}, &mut |t| frames::free_frame(t));
        frames::free_frame(self.mapper.root());
    }
}

/// The errno of a grant-layer error.
pub fn errno(error: MmError) -> Error {
    Error::new(error.errno())
}

/// The next [`UserSpace::id`].
static NEXT_SPACE_ID: AtomicU64 = AtomicU64::new(1);

/// One process's user address space: `tessera-mm`'s [`tessera_mm::AddrSpace`]
/// (the grants) over this kernel's page table, frames and TLB shootdowns.
pub struct UserSpace {
    /// Unique among all spaces ever made (an exec'd process gets a new
    /// one): what a file lease names its lender's pages by.
    id: u64,
    grants: Option<tessera_mm::AddrSpace<KernelTable>>,
    /// File pages the last operations handed back, for the caller to send
    /// to their schemes (Munmap) once the space's lock is dropped.
    releases: Vec<FileRelease>,
    /// A file page a user copy found missing ([`FaultError::FilePage`]):
    /// `syscall::with_space` fetches it without the lock and retries.
    wanted: Option<(VirtAddr, Access)>,
    /// CPUs that have this space's root loaded.
    pub cpus: Arc<CpuSet>,
    /// The space's TLB tag (aarch64: its ASID, set by the scheduler when it
    /// loads the root; x86_64: none). Shootdowns flush by it.
    pub tag: arch::SpaceTag,
    /// The process's allocation-failure injector (a test knob).
    pub inject: Arc<FailInjector>,
}

fn new_table() -> Result<KernelTable> {
    let root = frames::allocate_zeroed().ok_or(Error::new(ENOMEM))?;
    // SAFETY: a zeroed frame is an empty table; all frames are reachable
    // through the physical window.
    let mut mapper = unsafe { PageMapper::new(root, tessera_bootinfo::PHYS_OFFSET) };
    paging::with_kernel_mapper(|kernel| arch::init_user_root(&mut mapper, kernel));
    Ok(KernelTable { mapper, fresh: None })
}

impl UserSpace {
    /// An empty user half, with `inject` as its failure injector.
    pub fn new(inject: Arc<FailInjector>) -> Result<Self> {
        let table = new_table()?;
        let config = SpaceConfig::new(VirtAddr::new(USER_END));
        match tessera_mm::AddrSpace::new(table, config) {
            Ok(grants) => Ok(Self::wrap(grants, inject)),
            Err(e) => Err(errno(e)),
        }
    }

    fn wrap(grants: tessera_mm::AddrSpace<KernelTable>, inject: Arc<FailInjector>) -> Self {
        let id = NEXT_SPACE_ID.fetch_add(1, Ordering::Relaxed);
        Self {
            id,
            grants: Some(grants),
            releases: Vec::new(),
            wanted: None,
            cpus: Arc::new(CpuSet::new()),
            tag: arch::SpaceTag::new(),
            inject,
        }
    }

    /// The space's id (never 0, never reused).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The file pages handed back since the last call (see `mm::fmap`).
    pub fn take_file_releases(&mut self) -> Vec<FileRelease> {
        core::mem::take(&mut self.releases)
    }

    /// The file page a user copy is waiting for, if any.
    pub fn take_wanted(&mut self) -> Option<(VirtAddr, Access)> {
        self.wanted.take()
    }

    /// Notes that a user copy needs the file page at `virt`.
    pub fn want(&mut self, virt: VirtAddr, access: Access) {
        self.wanted = Some((virt, access));
    }

    /// The lease and file page a fault at `virt` waits for.
    pub fn file_page_wanted(&self, virt: VirtAddr) -> Option<(tessera_mm::FileRef, u64)> {
        self.grants().file_page_wanted(virt)
    }

    /// Hands in a fetched file page (see `tessera_mm::AddrSpace::supply_file_page`).
    pub fn supply_file_page(
        &mut self,
        virt: VirtAddr,
        file: &tessera_mm::FileRef,
        index: u64,
        generation: u64,
        frame: PhysAddr,
    ) -> bool {
        let grants = self.grants.as_mut().expect("a live space");
        grants.supply_file_page(&mut KernelFrames, virt, file, index, generation, frame)
    }

    /// Fault-around's window for a fault at `virt` (see
    /// `tessera_mm::AddrSpace::fault_around`).
    pub fn fault_around(&self, virt: VirtAddr) -> Option<tessera_mm::FaultAround> {
        self.grants().fault_around(virt)
    }

    /// Hands in and maps fault-around's neighbours (see
    /// `tessera_mm::AddrSpace::supply_file_pages`); new PTEs only.
    pub fn supply_file_pages(
        &mut self,
        file: &tessera_mm::FileRef,
        generation: u64,
        pages: &[(VirtAddr, u64, PhysAddr)],
    ) -> u64 {
        if pages.is_empty() {
            return 0;
        }
        self.run(|grants, frames, _| grants.supply_file_pages(frames, file, generation, pages))
    }

    /// The file pages mapped in `[virt, virt + len_bytes)` (for msync).
    pub fn file_ranges(&self, virt: VirtAddr, len_bytes: u64) -> Result<Vec<tessera_mm::FileRange>> {
        self.grants().file_ranges(virt, len_bytes).map_err(errno)
    }

    fn grants(&self) -> &tessera_mm::AddrSpace<KernelTable> {
        self.grants.as_ref().expect("a live space")
    }

    /// The root table (what `activate_user_table` takes).
    pub fn root(&self) -> PhysAddr {
        self.grants().table().mapper.root()
    }

    /// Resident user pages (RSS).
    pub fn pages(&self) -> usize {
        self.grants().resident_pages() as usize
    }

    /// Mapped user pages.
    pub fn mapped_pages(&self) -> usize {
        self.grants().mapped_pages() as usize
    }

    /// The mapped-pages cap (an RLIMIT_AS in pages), `None` for none.
    pub fn max_mapped_pages(&self) -> Option<u64> {
        self.grants().config().max_mapped_pages
    }

    /// Sets the mapped-pages cap: mapping calls that would grow the space
    /// past it fail with ENOMEM. Lowering it below the current size only
    /// stops growth, as `setrlimit(RLIMIT_AS)`. Forks and exec keep it.
    pub fn set_max_mapped_pages(&mut self, cap: Option<u64>) {
        self.grants.as_mut().expect("a live space").set_max_mapped_pages(cap);
    }

    /// The most grants (mappings) the space may hold.
    pub fn max_grants(&self) -> u64 {
        self.grants().config().max_grants
    }

    /// Sets the grant cap: calls that would need more grants fail with
    /// ENOMEM. Forks and exec keep it.
    pub fn set_max_grants(&mut self, cap: u64) {
        self.grants.as_mut().expect("a live space").set_max_grants(cap);
    }

    /// Whether the page at `virt` may be lent to another space (fmap): only
    /// memory this space owns, private or shared anonymous. Device and
    /// physical mappings (whose frames may be anyone's, or free), pages
    /// borrowed from another space and file pages are not lent on.
    pub fn lendable(&self, virt: VirtAddr) -> bool {
        self.lendable_pages(virt, 1)
    }

    /// Whether all `pages` pages from `virt` may be lent ([`Self::lendable`]),
    /// one grant lookup per grant crossed: what an `MmapPrep` answer is
    /// checked with before the request's caller takes it.
    pub fn lendable_pages(&self, virt: VirtAddr, pages: u64) -> bool {
        let owned = |kind: &tessera_mm::ProviderKind| {
            matches!(kind, tessera_mm::ProviderKind::Allocated | tessera_mm::ProviderKind::AllocatedShared(_))
        };
        let end = pages.checked_mul(PAGE_SIZE).and_then(|bytes| virt.get().checked_add(bytes));
        end.is_some_and(|end| end <= USER_END) && self.grants().covered_by(virt, pages, owned)
    }

    /// Whether a page of `pages` pages from `virt` is set aside for
    /// lending (MADV_LEND_ASIDE): a borrower's fetch asks the lender again.
    pub fn lent_aside(&self, virt: VirtAddr, pages: u64) -> bool {
        self.grants().lent_aside(virt, pages)
    }

    /// The grant at `virt`, if any.
    pub fn describe_at(&self, virt: VirtAddr) -> Option<tessera_mm::GrantInfo> {
        self.grants().grant_at(virt)
    }

    /// The grants, as `/proc/pid/maps`-like lines.
    pub fn describe(&self) -> Vec<tessera_mm::GrantInfo> {
        self.grants().grants().collect()
    }

    /// Frees the frames of this space's MADV_FREE pages that have no PTE
    /// (no TLB can hold them, so no shootdown is needed); how many. For a
    /// frame allocation that found memory short.
    pub fn reclaim_unmapped_freeable(&mut self) -> u64 {
        self.grants.as_mut().map_or(0, |grants| grants.reclaim_unmapped_freeable(&mut KernelFrames))
    }

    /// Runs one `tessera-mm` operation: flushes what it unmapped or
    /// downgraded on every CPU using the space, then releases the frames it
    /// held back. The space's lock is held by the caller throughout, as the
    /// lock rule in `mm::tlb` allows (other CPUs spinning on it answer the
    /// shootdown from their spin loop).
    pub fn run<R>(
        &mut self,
        op: impl FnOnce(&mut tessera_mm::AddrSpace<KernelTable>, &mut KernelFrames, &mut Shootdown) -> R,
    ) -> R {
        let injector = &CURRENT_INJECTOR[arch::cpu_index()];
        injector.store(Arc::as_ptr(&self.inject).cast_mut(), Ordering::Release);
        let mut shootdown = Shootdown::new();
        let grants = self.grants.as_mut().expect("a live space");
        let result = op(grants, &mut KernelFrames, &mut shootdown);
        injector.store(core::ptr::null_mut(), Ordering::Release);
        // An operation that failed part-way (or unmapped what it had just
        // mapped) may leave tables it allocated empty: they go too, so a
        // failed call leaves the space exactly as it was.
        let empty_tables = grants.table_mut().take_empty_fresh_tables();
        if shootdown.needs_flush() || !empty_tables.is_empty() {
            // On the stack: a request carries at most `tlb::MAX_RANGES`
            // ranges, and more become a flush of all user entries anyway.
            let mut ranges: [core::ops::Range<u64>; tlb::MAX_RANGES] = Default::default();
            let mut len = 0;
            for (start, pages) in shootdown.ranges() {
                if len == ranges.len() {
                    len = usize::MAX;
                    break;
                }
                ranges[len] = start.get()..start.get() + pages * PAGE_SIZE;
                len += 1;
            }
            let full = 0..USER_END;
            let all = core::slice::from_ref(&full);
            // Cached walks through freed tables also need a full flush.
            let ranges = if len > ranges.len() || !empty_tables.is_empty() { all } else { &ranges[..len] };
            if self.inject.skips_shootdowns() {
                tlb::flush_local_only(self.tag.asid(), ranges);
            } else {
                tlb::shootdown(&self.cpus, &self.tag, ranges);
            }
        }
        // Most calls defer nothing (an untouched mapping, a fault): no
        // releases to gather then.
        if !shootdown.is_empty() {
            self.releases.extend(shootdown.finish(&mut KernelFrames));
        }
        for table in empty_tables {
            frames::free_frame(table);
        }
        result
    }

    /// The frame and rights behind user address `virt`, if mapped for user
    /// mode now (a lazy page may not be: see [`Self::fault`]).
    pub fn translate(&self, virt: VirtAddr) -> Option<(PhysAddr, PageFlags)> {
        if virt.get() >= USER_END {
            return None;
        }
        let page = virt.align_down(PAGE_SIZE);
        let (phys, flags) = self.grants().table().translate(page)?;
        flags.is_user().then_some((phys.add(virt.get() - page.get()), flags))
    }

    /// Resolves a fault at `virt` (demand zero, copy-on-write, stack
    /// growth), as the page-fault handler and user copies do.
    pub fn fault(&mut self, virt: VirtAddr, access: Access) -> core::result::Result<(), FaultError> {
        if virt.get() >= USER_END {
            return Err(FaultError::Segv);
        }
        self.run(|grants, frames, tlb| grants.fault(frames, virt, access, tlb))
    }

    /// Faults in exactly the `pages` pages from `start` (no write-around:
    /// `AddrSpace::populate`, for MADV_POPULATE_*): `Err((pages done,
    /// error))` at the first page that fails.
    pub fn populate(
        &mut self,
        start: VirtAddr,
        pages: u64,
        access: Access,
    ) -> core::result::Result<(), (u64, FaultError)> {
        let end = pages.checked_mul(PAGE_SIZE).and_then(|len| start.get().checked_add(len));
        if end.is_none_or(|end| end > USER_END) {
            return Err((0, FaultError::Segv));
        }
        let first = tessera_mm::Page::containing(start);
        self.run(|grants, frames, tlb| grants.populate(frames, first, pages, access, tlb))
    }

    /// Maps `pages` private pages at `start` with `prot`, every page
    /// allocated now (for the kernel building a new image; the space is not
    /// live anywhere). `grows_down` makes it a stack.
    pub fn map_populated(&mut self, start: VirtAddr, pages: u64, prot: Prot, grows_down: bool) -> Result<()> {
        let len = pages.checked_mul(PAGE_SIZE).ok_or(Error::new(EINVAL))?;
        let mut flags = MapFlags::PRIVATE | MapFlags::FIXED_NOREPLACE | MapFlags::POPULATE;
        if grows_down {
            flags |= MapFlags::GROWSDOWN;
        }
        let request = MmapRequest::anonymous(len, prot, flags).at(start);
        self.run(|grants, frames, tlb| grants.mmap(frames, &request, tlb)).map(drop).map_err(errno)
    }

    /// Maps the pages of lease `file` privately at `start` with `prot`,
    /// fetched from the lender on first touch (for the kernel building a new
    /// image). On failure the lease's pages go back to their scheme.
    pub fn map_file(&mut self, start: VirtAddr, prot: Prot, file: tessera_mm::FileRef) -> Result<()> {
        let request =
            MmapRequest::anonymous(file.pages() * PAGE_SIZE, prot, MapFlags::PRIVATE | MapFlags::FIXED_NOREPLACE)
                .at(start)
                .source(tessera_mm::MapSource::File { file: file.clone() });
        let mapped = self.run(|grants, frames, tlb| grants.mmap(frames, &request, tlb)).map_err(errno);
        if mapped.is_err() {
            super::fmap::abandon(file);
        }
        mapped.map(drop)
    }

    /// Changes the protection of the `pages` pages from `start`.
    pub fn protect(&mut self, start: VirtAddr, pages: u64, prot: Prot) -> Result<()> {
        let len = pages.checked_mul(PAGE_SIZE).ok_or(Error::new(EINVAL))?;
        self.run(|grants, frames, tlb| grants.mprotect(frames, start, len, prot, tlb)).map_err(errno)
    }

    /// Copies `data` to user address `virt`, ignoring page rights (for the
    /// kernel building a new image, whose pages are populated). EFAULT if a
    /// page is not mapped.
    pub fn write_bytes(&mut self, virt: VirtAddr, data: &[u8]) -> Result<()> {
        let mut done = 0;
        while done < data.len() {
            let at = virt.add(done as u64);
            let (phys, _) = self.translate(at).ok_or(Error::new(EFAULT))?;
            let len = (PAGE_SIZE - (at.get() & (PAGE_SIZE - 1))).min((data.len() - done) as u64) as usize;
            // SAFETY: `phys` is a frame of this space in the physical window;
            // the piece stays inside its page.
            unsafe {
                core::ptr::copy_nonoverlapping(data[done..].as_ptr(), phys_to_virt(phys.get()) as *mut u8, len);
            }
            done += len;
        }
        Ok(())
    }

    /// A copy-on-write copy of this space for a forked child, which gets its
    /// own failure injector.
    pub fn fork(&mut self, inject: Arc<FailInjector>) -> Result<Self> {
        // The child's grants, slots and guard markers are copies of ours:
        // room for them first (ENOMEM, nothing changed, when there is none).
        let grants = self.grants();
        // The child's slot map has our blocks; guard markers are copied too
        // (one set entry each).
        let blocks = usize::try_from(grants.slot_blocks()).unwrap_or(usize::MAX);
        let bookkeeping = (grants.grant_count() as usize)
            .saturating_mul(super::GRANT_HEAP_BYTES)
            .saturating_add(blocks.saturating_mul(super::SLOT_BLOCK_HEAP_BYTES))
            .saturating_add((grants.guard_pages() as usize).saturating_mul(super::ENTRY_HEAP_BYTES));
        super::reserve_heap_for(bookkeeping)?;
        let table = new_table()?;
        let child = self.run(|grants, frames, tlb| grants.fork(frames, table, tlb));
        match child {
            Ok(grants) => Ok(Self::wrap(grants, inject)),
            // `fork` consumed the table on failure too: it has nothing
            // mapped but the kernel half.
            Err(e) => Err(errno(e)),
        }
    }
}

impl Drop for UserSpace {
    fn drop(&mut self) {
        // Nothing can be lent from this space any more: its leases leave
        // the take-back registry (they live on in the mappings that hold
        // them, and fetch nothing new).
        super::fmap::forget_lender(self.id);
        // A CPU that ran a thread of this space may not have switched its
        // root away yet (its scheduler loop keeps it loaded until it knows
        // what runs next): the root must stay valid until it has. This CPU
        // may be one (the loop dropping the space's last thread): it
        // leaves at once.
        if crate::sched::holds_space(&self.cpus) {
            crate::sched::leave_user_space();
        }
        while !self.cpus.is_empty() {
            tlb::serve_pending();
            core::hint::spin_loop();
        }
        if let Some(grants) = self.grants.take() {
            // The returned table frees its own tables when dropped.
            let (table, mut releases) = grants.teardown(&mut KernelFrames);
            drop(table);
            releases.append(&mut self.releases);
            // Nobody waits for a space being freed: the schemes are told
            // without waiting for their answers.
            let _ = super::fmap::send_releases(releases, false);
        }
    }
}
