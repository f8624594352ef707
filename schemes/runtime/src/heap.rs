//! The global allocator: tessera-sys's growable heap
//! ([`tessera_sys::heap::GrowingHeap`]) over anonymous `mmap`.
//!
//! `start` maps the first 1 MiB chunk before `main` runs, populated (every
//! page present, as the kernel makes a program's `.bss`), so a program's
//! mappings are laid out and its first megabyte of heap is paid for before
//! it looks at `sys:maps` or counts free frames; the heap maps more chunks,
//! on demand, when it runs out, and an allocation the kernel has no memory for
//! fails (`alloc`'s out-of-memory handling then panics: exit status 101).
//! Freed memory is reused, never unmapped. A fork copies the heap with the
//! rest of the address space.

use tessera_sys::heap::{AnonMmap, DEFAULT_HINT, GrowingHeap};

/// The size of the heap's first chunk, in bytes.
pub use tessera_sys::heap::FIRST_CHUNK_BYTES;

/// The program's heap (the global allocator on the user targets).
#[cfg_attr(all(target_os = "none", not(test)), global_allocator)]
static HEAP: GrowingHeap<AnonMmap> = GrowingHeap::new(AnonMmap, DEFAULT_HINT);

/// Maps the first chunk. Called once, by `start`, before anything
/// allocates; if the kernel has no memory for it, the first allocation
/// tries again (and fails as out of memory).
#[cfg(all(target_os = "none", not(test)))]
pub(crate) fn init() {
    if HEAP.mapped_bytes() == 0 {
        HEAP.grow(FIRST_CHUNK_BYTES, true);
    }
}

/// Bytes mapped for the heap so far (it grows, never shrinks).
pub fn mapped_bytes() -> usize {
    HEAP.mapped_bytes()
}

/// Bytes allocated and not yet freed.
pub fn used_bytes() -> usize {
    HEAP.used_bytes()
}
