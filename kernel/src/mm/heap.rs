//! The kernel heap: a linked-list allocator over its own virtual region,
//! [`HEAP_BASE`] .. `+ HEAP_MAX_BYTES`, which grows by mapping fresh frames
//! at its end whenever an allocation does not fit (frames need not be
//! contiguous). So what user space can make the kernel allocate (pipe
//! buffers, scheme messages, process tables) is bounded by free RAM, not by
//! a fixed heap. Only exhausted physical memory makes an allocation fail.
//!
//! In front of the linked list sit **size-class free lists** for small
//! blocks (up to [`SMALL_MAX`] bytes, alignment up to 16, in classes of 16
//! bytes): a freed small block goes onto its class's list and the next
//! allocation of that class takes it back in O(1), where the linked list's
//! first fit walks its holes (B-tree nodes, shootdown lists and undo logs
//! come and go on every mm system call). The lists hold at most
//! [`CACHE_MAX_BYTES`] in all; past that a freed block goes back to the
//! linked list, and an allocation the heap cannot satisfy even after
//! growing first gives every cached block back. Cached blocks count as
//! unused in [`used_bytes`] but not as free room in [`reserve`].
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
/// Size-class step and the alignment every class block has.
const CLASS_BYTES: usize = 16;
/// The largest block the size classes serve (a node of the grant tree,
/// about 800 bytes, included).
const SMALL_MAX: usize = 1024;
/// Size classes: 16, 32, ..., [`SMALL_MAX`] bytes.
const CLASSES: usize = SMALL_MAX / CLASS_BYTES;
/// The most bytes the class lists keep cached, all classes together.
const CACHE_MAX_BYTES: usize = 128 << 10;

/// The heap and its size-class lists, under one lock.
struct Inner {
    heap: Heap,
    /// Per class, the address of the first cached block (0: none); each
    /// cached block's first word holds the next one's.
    lists: [usize; CLASSES],
    /// Bytes cached in `lists`.
    cached: usize,
}

struct GrowingHeap(Mutex<Inner>);

#[global_allocator]
static HEAP: GrowingHeap = GrowingHeap(Mutex::new(Inner { heap: Heap::empty(), lists: [0; CLASSES], cached: 0 }));

/// The class of a small layout (index into `lists`), if it has one.
fn class_of(layout: Layout) -> Option<usize> {
    (layout.size() <= SMALL_MAX && layout.align() <= CLASS_BYTES)
        .then(|| layout.size().max(1).div_ceil(CLASS_BYTES) - 1)
}

/// The layout every block of `class` has in the linked list.
fn class_layout(class: usize) -> Layout {
    // A multiple of 16 up to SMALL_MAX with alignment 16: always valid.
    Layout::from_size_align((class + 1) * CLASS_BYTES, CLASS_BYTES).unwrap_or(Layout::new::<u128>())
}

impl Inner {
    /// A block of `layout` from the linked list, growing the heap if needed;
    /// gives the cached blocks back before it gives up.
    fn allocate(&mut self, layout: Layout) -> *mut u8 {
        loop {
            if let Ok(block) = self.heap.allocate_first_fit(layout) {
                return block.as_ptr();
            }
            let need = (layout.size() + layout.align()) as u64 + 64;
            if !grow(&mut self.heap, need.max(GROW_BYTES)) {
                if self.cached == 0 {
                    return core::ptr::null_mut();
                }
                self.drain_cache();
            }
        }
    }

    /// Gives every cached block back to the linked list.
    fn drain_cache(&mut self) {
        for class in 0..CLASSES {
            while self.lists[class] != 0 {
                let block = self.lists[class] as *mut u8;
                // SAFETY: a cached block is a live class block whose first
                // word links the list (written by `dealloc`).
                unsafe {
                    self.lists[class] = block.cast::<usize>().read();
                    self.heap.deallocate(NonNull::new_unchecked(block), class_layout(class));
                }
            }
        }
        self.cached = 0;
    }
}

/// Maps the first part of the heap and hands it to the allocator.
pub fn init() {
    assert!(paging::map_kernel_pages(HEAP_BASE, (INITIAL_BYTES / PAGE_SIZE) as usize), "no room for the kernel heap");
    // SAFETY: the range was just mapped writable and belongs to the heap
    // alone; the allocator is empty until now.
    unsafe { HEAP.0.lock().heap.init(HEAP_BASE as *mut u8, INITIAL_BYTES as usize) };
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

// SAFETY: every block comes from the linked-list heap under its lock; a
// small block is always allocated and freed in the linked list with its
// class's layout, and while cached it is owned by the class list alone.
// Growth only adds freshly mapped memory at the end.
unsafe impl GlobalAlloc for GrowingHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let mut inner = self.0.lock();
        let Some(class) = class_of(layout) else { return inner.allocate(layout) };
        let block = inner.lists[class];
        if block == 0 {
            return inner.allocate(class_layout(class));
        }
        // SAFETY: a cached block's first word links the list (`dealloc`).
        inner.lists[class] = unsafe { (block as *const usize).read() };
        inner.cached -= class_layout(class).size();
        block as *mut u8
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let mut inner = self.0.lock();
        let Some(class) = class_of(layout) else {
            // SAFETY: `ptr` came from `alloc` with this layout (GlobalAlloc's contract).
            unsafe { inner.heap.deallocate(NonNull::new_unchecked(ptr), layout) };
            return;
        };
        let size = class_layout(class).size();
        if inner.cached + size > CACHE_MAX_BYTES {
            // SAFETY: a small block was allocated with its class's layout.
            unsafe { inner.heap.deallocate(NonNull::new_unchecked(ptr), class_layout(class)) };
            return;
        }
        // SAFETY: the block is at least 16 bytes, 16-aligned and no longer
        // in use: its first word may link the list.
        unsafe { ptr.cast::<usize>().write(inner.lists[class]) };
        inner.lists[class] = ptr as usize;
        inner.cached += size;
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
/// Blocks cached in the size classes do not count as room.
pub fn reserve(bytes: usize) -> Result<(), OutOfHeap> {
    let mut inner = HEAP.0.lock();
    let free = inner.heap.free();
    if free >= bytes {
        return Ok(());
    }
    let missing = (bytes - free) as u64;
    if grow(&mut inner.heap, missing.max(GROW_BYTES)) { Ok(()) } else { Err(OutOfHeap) }
}

/// Bytes allocated from the heap right now (blocks cached in the size
/// classes are not).
pub fn used_bytes() -> usize {
    let inner = HEAP.0.lock();
    inner.heap.used() - inner.cached
}

/// Bytes the heap spans (mapped), which only grows.
pub fn size_bytes() -> usize {
    HEAP.0.lock().heap.size()
}
