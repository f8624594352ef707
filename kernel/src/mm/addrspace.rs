//! A process's address space: the grant logic of `tessera-mm` over the
//! kernel's page tables (`rmm`), frames (reference-counted, `frames`) and
//! TLB shootdowns (`tlb`).
//!
//! ```text
//!  mm::AddrSpace ── grants: tessera_mm::AddrSpace<KernelTable>   (grants, slots, gaps)
//!                └─ cpus: Arc<CpuSet>    CPUs with this table loaded (set by the scheduler)
//!  every change: run the tessera-mm operation with a Shootdown, flush the
//!  Shootdown's ranges on `cpus` (IPI + acknowledgement), then release the
//!  frames it held back (`Shootdown::finish`).
//! ```
//!
//! The user half is root entries 0..256: on x86_64 the kernel half is
//! copied into every root; on aarch64 it lives in TTBR1. A space is freed
//! only once no CPU has its root loaded (`cpus` empty).

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use rmm::{FrameAllocator, PAGE_SIZE, PageFlags, PageMapper, PageSize, PhysAddr, VirtAddr};
use tessera_abi::error::{EFAULT, EINVAL, ENOMEM, Error, Result};
use tessera_bootinfo::{USER_END, phys_to_virt};
use tessera_mm::{
    Access, FaultError, FrameStore, MapFailed, MapFlags, MmError, MmapRequest, PageTable, Prot, Shootdown, SpaceConfig,
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
#[derive(Default)]
pub struct FailInjector(AtomicUsize);

impl FailInjector {
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
static CURRENT_INJECTOR: [AtomicPtr<FailInjector>; crate::sched::MAX_CPUS] =
    [const { AtomicPtr::new(core::ptr::null_mut()) }; crate::sched::MAX_CPUS];

/// A frame for user memory or a user page table.
fn allocate_user_frame() -> Option<PhysAddr> {
    let injector = CURRENT_INJECTOR[arch::cpu_index()].load(Ordering::Acquire);
    // SAFETY: `AddrSpace::run` sets the pointer from an `Arc` it holds until
    // it clears it again, on this CPU.
    if !injector.is_null() && unsafe { &*injector }.should_fail() {
        return None;
    }
    frames::allocate_frame()
}

/// The kernel's frames as `tessera-mm` sees them.
pub struct KernelFrames;

fn zero(frame: PhysAddr) {
    // SAFETY: a frame the caller owns, mapped writable in the physical window.
    unsafe { core::ptr::write_bytes(phys_to_virt(frame.get()) as *mut u8, 0, PAGE_SIZE as usize) };
}

/// The frame every never-written private page reads as: zeroed once, then
/// only ever mapped read-only; its one reference is never dropped.
fn zero_frame() -> PhysAddr {
    static ZERO: spin::Once<PhysAddr> = spin::Once::new();
    *ZERO.call_once(|| {
        let frame = frames::allocate_frame().expect("a frame for the zero page at boot");
        zero(frame);
        frame
    })
}

impl FrameStore for KernelFrames {
    fn allocate_zeroed(&mut self) -> Option<PhysAddr> {
        let frame = allocate_user_frame()?;
        zero(frame);
        Some(frame)
    }
    fn copy(&mut self, from: PhysAddr, to: PhysAddr) {
        // SAFETY: both are frames of the physical window; `to` is fresh and
        // the caller's alone, so they do not overlap.
        unsafe {
            core::ptr::copy_nonoverlapping(
                phys_to_virt(from.get()) as *const u8,
                phys_to_virt(to.get()) as *mut u8,
                PAGE_SIZE as usize,
            )
        };
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
struct TableFrames;

impl FrameAllocator for TableFrames {
    fn allocate_frame(&mut self) -> Option<PhysAddr> {
        allocate_user_frame()
    }
}

/// A user page table as `tessera-mm` sees it. Dropping it frees its
/// intermediate tables and root, not the leaves' frames (`tessera-mm`
/// releases those).
pub struct KernelTable {
    mapper: PageMapper<arch::Paging>,
}

impl PageTable for KernelTable {
    fn map(&mut self, page: VirtAddr, frame: PhysAddr, flags: PageFlags) -> core::result::Result<(), MapFailed> {
        match self.mapper.map(page, frame, PageSize::Size4K, flags, &mut TableFrames) {
            // A new entry: no TLB holds it (the caller flushes downgrades).
            Ok(flush) => {
                flush.ignore();
                Ok(())
            }
            Err(_) => Err(MapFailed),
        }
    }
    fn unmap(&mut self, page: VirtAddr) -> Option<(PhysAddr, PageFlags)> {
        let (phys, flags, _) = self.mapper.translate(page)?;
        // The caller's Shootdown flushes it.
        self.mapper.unmap(page).ok()?.2.ignore();
        Some((phys, flags))
    }
    fn protect(&mut self, page: VirtAddr, flags: PageFlags) -> Option<PageFlags> {
        self.mapper.protect(page, flags).ok().map(|(old, flush)| {
            flush.ignore();
            old
        })
    }
    fn translate(&self, page: VirtAddr) -> Option<(PhysAddr, PageFlags)> {
        self.mapper.translate(page).map(|(phys, flags, _)| (phys, flags))
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

/// One process's address space.
pub struct AddrSpace {
    grants: Option<tessera_mm::AddrSpace<KernelTable>>,
    /// CPUs that have this space's root loaded.
    pub cpus: Arc<CpuSet>,
    /// The process's allocation-failure injector (a test knob).
    pub inject: Arc<FailInjector>,
}

fn new_table() -> Result<KernelTable> {
    let root = frames::allocate_frame().ok_or(Error::new(ENOMEM))?;
    zero(root);
    // SAFETY: a zeroed frame is an empty table; all frames are reachable
    // through the physical window.
    let mut mapper = unsafe { PageMapper::new(root, tessera_bootinfo::PHYS_OFFSET) };
    paging::with_kernel_mapper(|kernel| arch::init_user_root(&mut mapper, kernel));
    Ok(KernelTable { mapper })
}

impl AddrSpace {
    /// An empty user half, with `inject` as its failure injector.
    pub fn new(inject: Arc<FailInjector>) -> Result<Self> {
        let table = new_table()?;
        let config = SpaceConfig::new(VirtAddr::new(USER_END));
        match tessera_mm::AddrSpace::new(table, config) {
            Ok(grants) => Ok(Self { grants: Some(grants), cpus: Arc::new(CpuSet::new()), inject }),
            Err(e) => Err(errno(e)),
        }
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

    /// The grants, as `/proc/pid/maps`-like lines.
    pub fn describe(&self) -> Vec<tessera_mm::GrantInfo> {
        self.grants().grants().collect()
    }

    /// Runs one `tessera-mm` operation: flushes what it unmapped or
    /// downgraded on every CPU using the space, then releases the frames it
    /// held back. The space's lock is held by the caller; other CPUs
    /// spinning on it still answer the shootdown (`crate::sync`).
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
        if shootdown.needs_flush() {
            let ranges: Vec<core::ops::Range<u64>> =
                shootdown.ranges().map(|(start, pages)| start.get()..start.get() + pages * PAGE_SIZE).collect();
            tlb::shootdown(&self.cpus, &ranges);
        }
        shootdown.finish(&mut KernelFrames);
        result
    }

    /// The frame and rights behind user address `virt`, if mapped for user
    /// mode now (a lazy page may not be: see [`Self::fault`]).
    pub fn translate(&self, virt: u64) -> Option<(PhysAddr, PageFlags)> {
        if virt >= USER_END {
            return None;
        }
        let page = VirtAddr::new(virt & !(PAGE_SIZE - 1));
        let (phys, flags) = self.grants().table().translate(page)?;
        flags.is_user().then_some((phys.add(virt & (PAGE_SIZE - 1)), flags))
    }

    /// Resolves a fault at `virt` (demand zero, copy-on-write, stack
    /// growth), as the page-fault handler and user copies do.
    pub fn fault(&mut self, virt: u64, access: Access) -> core::result::Result<(), FaultError> {
        if virt >= USER_END {
            return Err(FaultError::Segv);
        }
        self.run(|grants, frames, tlb| grants.fault(frames, VirtAddr::new(virt), access, tlb))
    }

    /// Maps `count` private pages at `virt` with `prot`, every page
    /// allocated now (for the kernel building a new image; the space is not
    /// live anywhere). `grows_down` makes it a stack.
    pub fn map_populated(&mut self, virt: u64, count: usize, prot: Prot, grows_down: bool) -> Result<()> {
        let len = (count as u64).checked_mul(PAGE_SIZE).ok_or(Error::new(EINVAL))?;
        let mut flags = MapFlags::PRIVATE | MapFlags::FIXED_NOREPLACE | MapFlags::POPULATE;
        if grows_down {
            flags |= MapFlags::GROWSDOWN;
        }
        let request = MmapRequest::anonymous(len, prot, flags).at(VirtAddr::new(virt));
        self.run(|grants, frames, tlb| grants.mmap(frames, &request, tlb)).map(drop).map_err(errno)
    }

    /// Changes the protection of `[virt, virt + count pages)`.
    pub fn protect(&mut self, virt: u64, count: usize, prot: Prot) -> Result<()> {
        let len = count as u64 * PAGE_SIZE;
        self.run(|grants, frames, tlb| grants.mprotect(frames, VirtAddr::new(virt), len, prot, tlb)).map_err(errno)
    }

    /// Copies `data` to user address `virt`, ignoring page rights (for the
    /// kernel building a new image, whose pages are populated). EFAULT if a
    /// page is not mapped.
    pub fn write_bytes(&mut self, virt: u64, data: &[u8]) -> Result<()> {
        let mut done = 0;
        while done < data.len() {
            let at = virt + done as u64;
            let (phys, _) = self.translate(at).ok_or(Error::new(EFAULT))?;
            let len = (PAGE_SIZE - (at & (PAGE_SIZE - 1))).min((data.len() - done) as u64) as usize;
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
        let table = new_table()?;
        let child = self.run(|grants, frames, tlb| grants.fork(frames, table, tlb));
        match child {
            Ok(grants) => Ok(Self { grants: Some(grants), cpus: Arc::new(CpuSet::new()), inject }),
            // `fork` consumed the table on failure too: it has nothing
            // mapped but the kernel half.
            Err(e) => Err(errno(e)),
        }
    }
}

impl Drop for AddrSpace {
    fn drop(&mut self) {
        // A CPU that ran a thread of this space may not have switched its
        // root away yet (its scheduler loop does that just after the
        // thread's last switch): the root must stay valid until it has.
        while !self.cpus.is_empty() {
            tlb::serve_pending();
            core::hint::spin_loop();
        }
        if let Some(grants) = self.grants.take() {
            // The returned table frees its own tables when dropped.
            drop(grants.teardown(&mut KernelFrames));
        }
    }
}
