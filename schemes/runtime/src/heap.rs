//! The global allocator: a linked-list allocator over a static 1 MiB array
//! in `.bss`.
//!
//! The kernel has no `brk` or anonymous `mmap` for user space yet, so the
//! heap cannot grow: an allocation that does not fit fails, and `alloc`'s
//! out-of-memory handling panics (exit status 101). When the `memory:`
//! scheme lands, the heap moves there and grows on demand. A fork copies the
//! heap with the rest of the address space.

/// The heap's size in bytes.
pub const HEAP_SIZE_BYTES: usize = 1 << 20;

#[cfg(all(target_os = "none", not(test)))]
mod global {
    use linked_list_allocator::LockedHeap;

    use super::HEAP_SIZE_BYTES;

    /// Page-aligned so the heap starts on its own page.
    #[repr(C, align(4096))]
    struct HeapSpace([u8; HEAP_SIZE_BYTES]);

    static mut HEAP_SPACE: HeapSpace = HeapSpace([0; HEAP_SIZE_BYTES]);

    #[global_allocator]
    static ALLOCATOR: LockedHeap = LockedHeap::empty();

    /// Hands the static array to the allocator. Called once, by `start`,
    /// before anything allocates.
    pub(crate) fn init() {
        let mut heap = ALLOCATOR.lock();
        if heap.size() != 0 {
            return;
        }
        // SAFETY: only the allocator ever touches HEAP_SPACE, and only from
        // here on (the check above makes a second call a no-op); the array
        // is static, so the memory stays valid for the program's life.
        unsafe { heap.init((&raw mut HEAP_SPACE).cast::<u8>(), HEAP_SIZE_BYTES) };
    }
}

#[cfg(all(target_os = "none", not(test)))]
pub(crate) use global::init;
