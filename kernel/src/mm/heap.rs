//! The kernel heap: a linked-list allocator over contiguous frames reached
//! through the physical window. Fixed size for now; it grows once the
//! kernel has a virtual-region allocator.

use linked_list_allocator::LockedHeap;
use tessera_bootinfo::phys_to_virt;

use super::frames;

/// Heap size at boot.
const HEAP_PAGES: usize = 1024; // 4 MiB

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

/// Gives the heap its memory.
pub fn init() {
    let base = frames::allocate_contiguous(HEAP_PAGES).expect("no room for the kernel heap");
    // SAFETY: the frames are ours alone from now on, mapped writable in the
    // physical window, and never freed.
    unsafe {
        HEAP.lock().init(phys_to_virt(base.get()) as *mut u8, HEAP_PAGES * rmm::PAGE_SIZE as usize);
    }
}

/// Bytes allocated from the heap right now.
pub fn used_bytes() -> usize {
    HEAP.lock().used()
}
