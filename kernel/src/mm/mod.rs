//! Kernel memory management at boot: the physical frame allocator, the
//! kernel's own page tables, and the kernel heap.
//!
//! ```text
//!  KernelArgs.areas ──► frames (bitmap over Free areas) ──► paging (new root:
//!  kernel sections + physical window, no identity map) ──► heap (its own
//!  virtual region, grown page by page on demand)
//! ```
//! User address spaces (`user_space`) run `tessera-mm`'s grant logic over
//! these page tables and reference-counted frames, with TLB shootdowns
//! (`tlb`) before any frame is released; `page_fault` resolves faults on
//! user pages (the CPU's and the kernel's user copies'); `fmap` maps files
//! through their schemes.

pub mod dma;
pub mod fmap;
mod frames;
mod heap;
pub mod page_fault;
mod paging;
pub mod tlb;
mod user_space;

pub use paging::{activate_kernel_only, boot_identity_root, map_device_window};
pub use user_space::{FailInjector, KernelFrames, UserSpace, errno as grant_errno};

use tessera_bootinfo::{KernelArgs, MemoryArea, phys_to_virt};

pub use frames::{
    RefError, allocate_contiguous, allocate_frame, allocate_zeroed, free_frame, free_frames, get_ref, pool_stats,
    put_ref, refcount, total_frames, zero_idle_frames,
};
pub use heap::{size_bytes as heap_size_bytes, used_bytes as heap_used_bytes};

/// Kernel heap one system call or user page fault may use without asking
/// for more (paths that take more reserve an estimate: [`reserve_heap_for`]).
const CALL_HEAP_BYTES: usize = 1 << 20;

/// Heap one map or set entry may take with its share of a tree node,
/// generously (a guard marker, an MADV_FREE mark, a page of exec's
/// layout), and per grant (the grant: up to 224 bytes of a grant-map chunk
/// with its index entry; its gap-index entries; its share of the lists a
/// call makes).
pub const ENTRY_HEAP_BYTES: usize = 64;
pub const GRANT_HEAP_BYTES: usize = 384;

/// Heap one block of the slot map may take ([`tessera_mm::SLOT_BLOCK_PAGES`]
/// pages' frames and presence bits, 264 bytes, with its tree entry),
/// generously. A block exists while one of its pages holds a frame.
pub const SLOT_BLOCK_HEAP_BYTES: usize = 384;

/// Heap the slots of a run of `pages` pages may take: the blocks it spans.
pub fn slot_heap_bytes(pages: u64) -> usize {
    let blocks = tessera_mm::slot_blocks_for(pages);
    usize::try_from(blocks).unwrap_or(usize::MAX).saturating_mul(SLOT_BLOCK_HEAP_BYTES)
}

/// Makes room in the kernel heap for one call or fault ([`heap::reserve`]);
/// ENOMEM when memory is too short for it.
pub fn reserve_call_heap() -> tessera_abi::error::Result<()> {
    reserve_heap_for(0)
}

/// Makes room in the kernel heap for one call that will also take `bytes`
/// of bookkeeping; ENOMEM when memory is too short for it.
pub fn reserve_heap_for(bytes: usize) -> tessera_abi::error::Result<()> {
    let room = bytes.checked_add(CALL_HEAP_BYTES).ok_or(tessera_abi::error::Error::new(tessera_abi::error::ENOMEM))?;
    heap::reserve(room).map_err(|_| tessera_abi::error::Error::new(tessera_abi::error::ENOMEM))
}

/// What [`init`] found.
pub struct MemoryStats {
    /// All RAM the firmware reported (every area but MMIO).
    pub total_bytes: u64,
    /// RAM left for the frame allocator after boot.
    pub free_bytes: u64,
}

/// The loader's area list.
fn areas(args: &KernelArgs) -> &'static [MemoryArea] {
    // SAFETY: the loader wrote `areas_count` initialised areas into
    // kernel-owned memory at `areas_phys`, reachable through the physical map,
    // and nothing writes or frees them afterwards.
    unsafe {
        core::slice::from_raw_parts(phys_to_virt(args.areas_phys) as *const MemoryArea, args.areas_count as usize)
    }
}

/// Takes over physical memory and switches to the kernel's own tables.
pub fn init(args: &KernelArgs) -> MemoryStats {
    let areas = areas(args);
    frames::init(areas);
    paging::init(args, areas);
    heap::init();
    let total_bytes = areas.iter().filter(|a| a.kind.is_ram()).map(|a| a.size_bytes).sum();
    MemoryStats { total_bytes, free_bytes: free_frames() as u64 * rmm::PAGE_SIZE }
}
