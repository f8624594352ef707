//! Memory the loader hands to the kernel.
//!
//! Everything the kernel keeps (its image, boot stack, page tables, the
//! argument block, area list, env, initfs and DTB/RSDP copies) is allocated
//! with the custom UEFI type [`KERNEL_MEMORY`], which becomes
//! [`AreaKind::Kernel`](tessera_bootinfo::AreaKind::Kernel) in the area list,
//! so the kernel never mistakes it for free RAM. Each allocation is recorded
//! so the aarch64 switch code can clean it to the point of coherency before
//! it turns the MMU off.

use alloc::format;
use alloc::string::String;

use rmm::{FrameAllocator, PAGE_SIZE, PhysAddr};
use uefi::boot::{self, AllocateType};
use uefi::mem::memory_map::MemoryType;

/// UEFI memory type of kernel-owned allocations (first OS-loader value).
pub const KERNEL_MEMORY: MemoryType = MemoryType::custom(0x8000_0000);

/// Page-table frames are taken from chunks this many pages long.
const TABLE_CHUNK_PAGES: usize = 16;
/// At most this many separate allocations are tracked.
const MAX_REGIONS: usize = 64;

/// A page-aligned allocation, identity-mapped while the loader runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Region {
    phys: u64,
    len: usize,
}

impl Region {
    pub fn phys(&self) -> u64 {
        self.phys
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn as_mut_ptr(&self) -> *mut u8 {
        self.phys as *mut u8
    }
}

/// Allocator of kernel-owned memory.
pub struct KernelMemory {
    regions: [Region; MAX_REGIONS],
    count: usize,
    chunk: Option<(u64, usize)>,
}

impl KernelMemory {
    pub fn new() -> Self {
        Self { regions: [Region::default(); MAX_REGIONS], count: 0, chunk: None }
    }

    /// `len` bytes (rounded up to pages), zeroed.
    pub fn allocate(&mut self, len: usize) -> Result<Region, String> {
        if self.count == MAX_REGIONS {
            return Err(format!("more than {MAX_REGIONS} kernel allocations"));
        }
        let pages = len.max(1).div_ceil(PAGE_SIZE as usize);
        let ptr = boot::allocate_pages(AllocateType::AnyPages, KERNEL_MEMORY, pages)
            .map_err(|e| format!("out of memory allocating {} KiB: {e:?}", pages * 4))?;
        // SAFETY: UEFI gave us `pages` identity-mapped pages.
        unsafe { ptr.as_ptr().write_bytes(0, pages * PAGE_SIZE as usize) };
        let region = Region { phys: ptr.as_ptr() as u64, len };
        self.regions[self.count] = Region { phys: region.phys, len: pages * PAGE_SIZE as usize };
        self.count += 1;
        Ok(region)
    }

    /// A kernel-owned copy of `bytes`.
    pub fn copy_in(&mut self, bytes: &[u8]) -> Result<Region, String> {
        let region = self.allocate(bytes.len())?;
        // SAFETY: the region is at least `bytes.len()` long and fresh.
        unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), region.as_mut_ptr(), bytes.len()) };
        Ok(region)
    }

    /// Every allocation made so far (whole pages).
    pub fn regions(&self) -> &[Region] {
        &self.regions[..self.count]
    }
}

impl FrameAllocator for KernelMemory {
    fn allocate_frame(&mut self) -> Option<PhysAddr> {
        let (next, left) = match self.chunk {
            Some((next, left)) if left > 0 => (next, left),
            _ => (self.allocate(TABLE_CHUNK_PAGES * PAGE_SIZE as usize).ok()?.phys(), TABLE_CHUNK_PAGES),
        };
        self.chunk = Some((next + PAGE_SIZE, left - 1));
        Some(PhysAddr::new(next))
    }
}
