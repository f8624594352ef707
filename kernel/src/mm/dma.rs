//! Memory for device DMA: physically contiguous, zeroed frames handed to a
//! privileged driver as one shared memory object
//! (`memory:zeroed?phys_contiguous`, docs/drivers.md).
//!
//! The frames are allocated and zeroed when the mapping is made, never
//! lazily, and they never move: the kernel does not migrate or swap pages.
//! They are freed when the last mapping (and so the object) goes, so a
//! driver keeps its mapping while the device may still use the memory.

use rmm::{PAGE_SIZE, PhysAddr};
use tessera_abi::error::{EINVAL, ENOMEM, Error, Result};
use tessera_bootinfo::phys_to_virt;
use tessera_mm::{MemObject, SharedObject};

/// The most one contiguous request may take: 16 MiB. Bigger buffers are
/// rarely needed by one device queue, and a contiguous run that long is
/// the first thing fragmentation takes away.
pub const MAX_CONTIGUOUS_PAGES: u64 = 4096;

/// A new object of `size_bytes` (rounded up to pages) backed by physically
/// contiguous, zeroed frames. EINVAL for 0 bytes, ENOMEM past
/// [`MAX_CONTIGUOUS_PAGES`] or when no run that long is free.
pub fn contiguous_object(size_bytes: u64) -> Result<SharedObject> {
    let pages = size_bytes.div_ceil(PAGE_SIZE);
    if pages == 0 {
        return Err(Error::new(EINVAL));
    }
    if pages > MAX_CONTIGUOUS_PAGES {
        return Err(Error::new(ENOMEM));
    }
    let frames: alloc::vec::Vec<PhysAddr> = {
        let first = super::allocate_contiguous(pages as usize).ok_or(Error::new(ENOMEM))?;
        (0..pages).map(|i| first.add(i * PAGE_SIZE)).collect()
    };
    // SAFETY: the run was just allocated for us alone and lies in RAM,
    // mapped writable in the physical window.
    unsafe { core::ptr::write_bytes(phys_to_virt(frames[0].get()) as *mut u8, 0, (pages * PAGE_SIZE) as usize) };
    Ok(MemObject::with_frames(&frames))
}
