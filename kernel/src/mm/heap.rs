//! The kernel heap: a linked-list allocator over its own virtual region,
//! [`HEAP_BASE`] .. `+ HEAP_MAX_BYTES`, which grows by mapping fresh frames
//! at its end whenever an allocation does not fit (frames need not be
//! contiguous). So what user space can make the kernel allocate (pipe
//! buffers, scheme messages, process tables) is bounded by free RAM, not by
//! a fixed heap. Only exhausted physical memory makes an allocation fail.
//!
//! The region's top-level table entry is made at boot, before any user
//! page table copies the kernel half, so growth only adds entries to tables
//! every address space already shares.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;

use crate::sync::Mutex;
use linked_list_allocator::Heap;
use rmm::PAGE_SIZE;

use super::paging;

/// Where the heap lives: root entry 384 on both arches, away from the
/// physical window (256..) and the kernel image (510 / 511).
pub const HEAP_BASE: u64 = 0xFFFF_C000_0000_0000;
/// The most the heap may grow to.
const HEAP_MAX_BYTES: u64 = 1 << 30;
/// Heap mapped at boot.
const INITIAL_BYTES: u64 = 4 << 20;
/// Smallest growth step.
const GROW_BYTES: u64 = 1 << 20;

struct GrowingHeap(Mutex<Heap>);

#[global_allocator]
static HEAP: GrowingHeap = GrowingHeap(Mutex::new(Heap::empty()));

/// Maps the first part of the heap and hands it to the allocator.
pub fn init() {
    assert!(paging::map_kernel_pages(HEAP_BASE, (INITIAL_BYTES / PAGE_SIZE) as usize), "no room for the kernel heap");
    // SAFETY: the range was just mapped writable and belongs to the heap
    // alone; the allocator is empty until now.
    unsafe { HEAP.0.lock().init(HEAP_BASE as *mut u8, INITIAL_BYTES as usize) };
}

/// Maps `bytes` more at the heap's end and gives them to the allocator.
fn grow(heap: &mut Heap, bytes: u64) -> bool {
    let top = heap.top() as u64;
    let bytes = bytes.next_multiple_of(PAGE_SIZE);
    if top + bytes > HEAP_BASE + HEAP_MAX_BYTES || !paging::map_kernel_pages(top, (bytes / PAGE_SIZE) as usize) {
        return false;
    }
    // SAFETY: the pages right after the heap's top were just mapped and are
    // the heap's alone.
    unsafe { heap.extend(bytes as usize) };
    true
}

// SAFETY: every allocation comes from the linked-list heap under its lock;
// growth only adds freshly mapped memory at the end.
unsafe impl GlobalAlloc for GrowingHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let mut heap = self.0.lock();
        loop {
            if let Ok(block) = heap.allocate_first_fit(layout) {
                return block.as_ptr();
            }
            let need = (layout.size() + layout.align()) as u64 + 64;
            if !grow(&mut heap, need.max(GROW_BYTES)) {
                return core::ptr::null_mut();
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` with this layout (GlobalAlloc's contract).
        unsafe { self.0.lock().deallocate(NonNull::new_unchecked(ptr), layout) }
    }
}

/// The heap could not be grown to the room asked for (memory is exhausted,
/// or the heap is at its maximum).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfHeap;

/// Makes sure at least `bytes` of the heap are free, growing it now if
/// not. An allocation the heap cannot satisfy is fatal to the kernel (Rust's
/// collections cannot report it), so every path on which user space makes
/// the kernel allocate asks for its room first: each system call and user
/// page fault a fixed amount (see `syscall::dispatch`, `trap::user_fault`),
/// and calls whose bookkeeping grows with their arguments (MAP_POPULATE,
/// fork) an estimate on top. When even that room cannot be had the call
/// fails with ENOMEM (a fault kills the process) before anything changed.
pub fn reserve(bytes: usize) -> Result<(), OutOfHeap> {
    let mut heap = HEAP.0.lock();
    let free = heap.free();
    if free >= bytes {
        return Ok(());
    }
    let missing = (bytes - free) as u64;
    if grow(&mut heap, missing.max(GROW_BYTES)) { Ok(()) } else { Err(OutOfHeap) }
}

/// Bytes allocated from the heap right now.
pub fn used_bytes() -> usize {
    HEAP.0.lock().used()
}

/// Bytes the heap spans (mapped), which only grows.
pub fn size_bytes() -> usize {
    HEAP.0.lock().size()
}
