//! A heap that grows: free lists over chunks of anonymous memory, mapped
//! with `mmap` as the program needs more.
//!
//! [`GrowingHeap`] is a `GlobalAlloc`. It starts with no memory; its first
//! allocation (or [`GrowingHeap::grow`], which can also ask for the pages
//! to be populated) maps a chunk of [`FIRST_CHUNK_BYTES`]. When no region has room, it maps another chunk
//! (as large as everything mapped so far, at least the request, at most
//! [`MAX_STEP_BYTES`] unless the request alone is larger) right after the
//! last one if the kernel gives that address, extending that region; else
//! as a region of its own (up to [`MAX_REGIONS`]). When the mapping fails
//! the allocation returns null (`alloc`'s handler then reports out of
//! memory); nothing here panics. Freed memory goes back to its region's
//! free list and is reused; chunks are never unmapped.
//!
//! Where the chunks come from is a [`ChunkSource`]: [`AnonMmap`] on
//! Tessera, a fake in the host tests. Each region's free list is
//! `linked_list_allocator`'s `Heap`; one spin lock guards them all (an
//! allocation can run on any thread of the program).
//!
//! In front of them, *quick lists*: a block of up to [`QUICK_MAX_BYTES`]
//! (alignment at most 16) is a power of two of at least 16 bytes, and a
//! freed one goes on its size's list, from which the next allocation of
//! that size takes it at once. `linked_list_allocator` searches its free
//! list first-fit (a walk over every hole before the one that fits) and
//! merges on every free; a daemon's steady traffic (4 KiB blocks, 60 KiB
//! messages, small nodes) is mostly the same sizes over and over. A list
//! keeps at most [`QUICK_LIST_MAX_BYTES`]; beyond that a freed block goes
//! back to the free lists. Cost: up to half a block of rounding, and up to
//! that much held per size ([`GrowingHeap::used_bytes`] does not count
//! it).
//!
//! Placement: the first chunk is asked for at [`DEFAULT_HINT`], 512 MiB, in
//! the middle of a large free range, so that the kernel's placement of the
//! program's own mappings (best fit, lowest address) is the same as with
//! no heap there: below the heap is the smaller gap, and nothing lands
//! right next to a heap chunk, where a mapping of the same kind would merge
//! with it in `sys:maps`. A fork copies the heap with the rest of the
//! address space.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr::{NonNull, null_mut};
use core::sync::atomic::{AtomicBool, Ordering};

use linked_list_allocator::Heap;

use crate::mm::{ANONYMOUS_FD, MAP_POPULATE, MAP_PRIVATE, PAGE_SIZE, PROT_RW};

/// The size of the first chunk: the whole heap of a program that never
/// needs more (the runtime's heap was this size before it could grow).
pub const FIRST_CHUNK_BYTES: usize = 1 << 20;
/// The most one step of growth maps beyond what the request needs.
pub const MAX_STEP_BYTES: usize = 64 << 20;
/// How many separate regions the heap can have (chunks the kernel placed
/// right after the previous one extend it and do not count).
pub const MAX_REGIONS: usize = 64;
/// Where the first chunk is asked for (a hint: the kernel places it
/// elsewhere when that range is taken).
pub const DEFAULT_HINT: usize = 0x2000_0000;

/// Where the heap's chunks come from.
pub trait ChunkSource {
    /// Maps `len_bytes` (a multiple of the page size) of fresh read-write
    /// memory, preferably at `hint`, with every page present when
    /// `populate` is set; its address, or `None` when there is none to be
    /// had.
    fn map(&self, hint: usize, len_bytes: usize, populate: bool) -> Option<usize>;

    /// Gives back a chunk [`ChunkSource::map`] returned and the heap could
    /// not use.
    ///
    /// # Safety
    /// Nothing may use the chunk.
    unsafe fn unmap(&self, addr: usize, len_bytes: usize);
}

/// Private anonymous memory from the kernel's `mmap`.
pub struct AnonMmap;

impl ChunkSource for AnonMmap {
    fn map(&self, hint: usize, len_bytes: usize, populate: bool) -> Option<usize> {
        let flags = if populate { MAP_PRIVATE | MAP_POPULATE } else { MAP_PRIVATE };
        // SAFETY: no fixed flag: the hint is only a hint, and the new
        // mapping replaces nothing.
        unsafe { crate::mm::mmap(hint, len_bytes, PROT_RW, flags, ANONYMOUS_FD, 0) }.ok()
    }

    unsafe fn unmap(&self, addr: usize, len_bytes: usize) {
        // SAFETY: the caller's contract: nothing uses the chunk.
        let _ = unsafe { crate::mm::munmap(addr, len_bytes) };
    }
}

/// The largest block the quick lists hold (`2^QUICK_CLASSES * 8`).
pub const QUICK_MAX_BYTES: usize = 64 * 1024;
/// The most bytes one quick list holds.
pub const QUICK_LIST_MAX_BYTES: usize = 256 * 1024;
/// Quick-list sizes: 16, 32, ... [`QUICK_MAX_BYTES`].
const QUICK_CLASSES: usize = 13;
/// The alignment every quick-list block has.
const QUICK_ALIGN: usize = 16;

/// The quick list for `layout` (its index and block size), if any.
fn quick_class(layout: Layout) -> Option<(usize, usize)> {
    if layout.align() > QUICK_ALIGN || layout.size() > QUICK_MAX_BYTES {
        return None;
    }
    let size = layout.size().max(QUICK_ALIGN).next_power_of_two();
    Some((size.trailing_zeros() as usize - QUICK_ALIGN.trailing_zeros() as usize, size))
}

/// The regions and what has been mapped, behind the heap's lock.
struct Regions {
    heaps: [Heap; MAX_REGIONS],
    count: usize,
    mapped_bytes: usize,
    /// Each quick list's first free block (its first word points to the
    /// next), and the bytes it holds.
    quick: [(*mut u8, usize); QUICK_CLASSES],
}

/// A growable heap over chunks from `S` (see the module doc).
pub struct GrowingHeap<S> {
    locked: AtomicBool,
    regions: UnsafeCell<Regions>,
    source: S,
    first_hint: usize,
}

// SAFETY: `regions` is only touched with `locked` held (see `with`), so
// sharing the heap between threads is sound when the source may be shared.
unsafe impl<S: ChunkSource + Sync> Sync for GrowingHeap<S> {}

impl<S: ChunkSource> GrowingHeap<S> {
    /// A heap with no memory yet, that asks `source` for its first chunk
    /// at `first_hint`.
    pub const fn new(source: S, first_hint: usize) -> Self {
        Self {
            locked: AtomicBool::new(false),
            regions: UnsafeCell::new(Regions {
                heaps: [const { Heap::empty() }; MAX_REGIONS],
                count: 0,
                mapped_bytes: 0,
                quick: [(null_mut(), 0); QUICK_CLASSES],
            }),
            source,
            first_hint,
        }
    }

    /// Runs `f` with the regions, under the lock.
    fn with<R>(&self, f: impl FnOnce(&mut Regions) -> R) -> R {
        while self.locked.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            core::hint::spin_loop();
        }
        // SAFETY: the lock is held, so this is the only reference.
        let result = f(unsafe { &mut *self.regions.get() });
        self.locked.store(false, Ordering::Release);
        result
    }

    /// Maps one more chunk with room for at least `min_bytes` (every page
    /// present at once with `populate`); false when the source has no
    /// memory or the region table is full.
    pub fn grow(&self, min_bytes: usize, populate: bool) -> bool {
        self.with(|regions| self.grow_locked(regions, min_bytes, populate))
    }

    fn grow_locked(&self, regions: &mut Regions, min_bytes: usize, populate: bool) -> bool {
        let step = regions.mapped_bytes.clamp(FIRST_CHUNK_BYTES, MAX_STEP_BYTES);
        let Some(len) = min_bytes.max(step).checked_next_multiple_of(PAGE_SIZE) else { return false };
        let last = regions.count.checked_sub(1).map(|i| &regions.heaps[i]);
        let hint = last.map_or(self.first_hint, |heap| heap.top() as usize);
        let Some(addr) = self.source.map(hint, len, populate) else { return false };
        if let Some(i) = regions.count.checked_sub(1)
            && regions.heaps[i].top() as usize == addr
        {
            // SAFETY: the chunk starts at the region's top and is ours.
            unsafe { regions.heaps[i].extend(len) };
        } else if regions.count < MAX_REGIONS {
            // SAFETY: a fresh chunk of `len` bytes, used by nothing else.
            unsafe { regions.heaps[regions.count].init(addr as *mut u8, len) };
            regions.count += 1;
        } else {
            // SAFETY: the chunk was just mapped and nothing uses it.
            unsafe { self.source.unmap(addr, len) };
            return false;
        }
        regions.mapped_bytes += len;
        true
    }

    /// Bytes mapped for the heap so far.
    pub fn mapped_bytes(&self) -> usize {
        self.with(|regions| regions.mapped_bytes)
    }

    /// Bytes handed out and not yet freed (with the free lists' and the
    /// quick lists' rounding; blocks held on quick lists are free).
    pub fn used_bytes(&self) -> usize {
        self.with(|regions| {
            let used: usize = regions.heaps[..regions.count].iter().map(Heap::used).sum();
            used - regions.quick.iter().map(|&(_, bytes)| bytes).sum::<usize>()
        })
    }

    /// How many separate regions the heap has.
    pub fn regions(&self) -> usize {
        self.with(|regions| regions.count)
    }
}

/// Room a chunk needs beyond the request: the worst alignment padding and
/// the free list's bookkeeping at either end.
fn chunk_need(layout: Layout) -> Option<usize> {
    layout.size().checked_add(layout.align())?.checked_add(4 * size_of::<usize>())
}

// SAFETY: allocations come from the regions' free lists, which hand out
// disjoint blocks of at least the layout's size and alignment inside
// chunks that stay mapped for the program's life; deallocations go back to
// the region that holds the pointer.
unsafe impl<S: ChunkSource> GlobalAlloc for GrowingHeap<S> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some((class, size)) = quick_class(layout) else {
            return self.alloc_free_lists(layout);
        };
        let taken = self.with(|regions| {
            let (head, bytes) = &mut regions.quick[class];
            let block = *head;
            if !block.is_null() {
                // SAFETY: a block on this list: its first word, written by
                // `dealloc`, is the next one (16-aligned, at least 16 bytes).
                *head = unsafe { block.cast::<*mut u8>().read() };
                *bytes -= size;
            }
            block
        });
        if !taken.is_null() {
            return taken;
        }
        // SAFETY: a non-zero size, a power of two; alignment 16.
        self.alloc_free_lists(unsafe { Layout::from_size_align_unchecked(size, QUICK_ALIGN) })
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ptr.is_null() {
            return;
        }
        let Some((class, size)) = quick_class(layout) else {
            return self.dealloc_free_lists(ptr, layout);
        };
        let kept = self.with(|regions| {
            let (head, bytes) = &mut regions.quick[class];
            if *bytes + size > QUICK_LIST_MAX_BYTES {
                return false;
            }
            // SAFETY: the block is `size` bytes, 16-aligned (it came from
            // `alloc` with this class) and no longer used: its first word
            // holds the list's link.
            unsafe { ptr.cast::<*mut u8>().write(*head) };
            *head = ptr;
            *bytes += size;
            true
        });
        if !kept {
            // SAFETY: as allocated by `alloc` for this class.
            self.dealloc_free_lists(ptr, unsafe { Layout::from_size_align_unchecked(size, QUICK_ALIGN) });
        }
    }
}

impl<S: ChunkSource> GrowingHeap<S> {
    /// A block from the regions' free lists, growing the heap if none fits.
    fn alloc_free_lists(&self, layout: Layout) -> *mut u8 {
        self.with(|regions| {
            let first_fit = |regions: &mut Regions| {
                regions.heaps[..regions.count].iter_mut().find_map(|heap| heap.allocate_first_fit(layout).ok())
            };
            if let Some(block) = first_fit(regions) {
                return block.as_ptr();
            }
            let Some(need) = chunk_need(layout) else { return null_mut() };
            if !self.grow_locked(regions, need, false) {
                return null_mut();
            }
            first_fit(regions).map_or(null_mut(), NonNull::as_ptr)
        })
    }

    /// Gives a block back to the free list of its region.
    fn dealloc_free_lists(&self, ptr: *mut u8, layout: Layout) {
        let Some(block) = NonNull::new(ptr) else { return };
        self.with(|regions| {
            let addr = ptr as usize;
            let region = regions.heaps[..regions.count]
                .iter_mut()
                .find(|heap| (heap.bottom() as usize..heap.top() as usize).contains(&addr));
            if let Some(heap) = region {
                // SAFETY: `block` came from this region's `allocate_first_fit`
                // with `layout` (GlobalAlloc's contract).
                unsafe { heap.deallocate(block, layout) };
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::alloc::{Layout, alloc, dealloc};
    use std::cell::Cell;
    use std::vec::Vec;

    use super::*;

    /// Chunks cut from one arena: each right after the previous one
    /// (or a page further when `gaps` is set), until `budget_bytes` is
    /// used up.
    struct Arena {
        base: usize,
        size: usize,
        next: Cell<usize>,
        budget_bytes: Cell<usize>,
        gaps: bool,
        maps: Cell<usize>,
    }

    impl Arena {
        fn new(size: usize, budget_bytes: usize, gaps: bool) -> Self {
            // SAFETY: a non-zero size.
            let base = unsafe { alloc(Layout::from_size_align(size, PAGE_SIZE).unwrap()) } as usize;
            assert_ne!(base, 0);
            Self { base, size, next: Cell::new(base), budget_bytes: Cell::new(budget_bytes), gaps, maps: Cell::new(0) }
        }
    }

    impl Drop for Arena {
        fn drop(&mut self) {
            // SAFETY: allocated in `new` with this layout.
            unsafe { dealloc(self.base as *mut u8, Layout::from_size_align(self.size, PAGE_SIZE).unwrap()) };
        }
    }

    impl ChunkSource for &Arena {
        fn map(&self, _hint: usize, len_bytes: usize, _populate: bool) -> Option<usize> {
            let at = self.next.get() + if self.gaps && self.maps.get() > 0 { PAGE_SIZE } else { 0 };
            if len_bytes > self.budget_bytes.get() || at + len_bytes > self.base + self.size {
                return None;
            }
            self.budget_bytes.set(self.budget_bytes.get() - len_bytes);
            self.next.set(at + len_bytes);
            self.maps.set(self.maps.get() + 1);
            Some(at)
        }

        unsafe fn unmap(&self, _addr: usize, _len_bytes: usize) {}
    }

    const MIB: usize = 1 << 20;

    /// Allocates `count` blocks of `bytes`, writes each, and returns them.
    fn fill(heap: &GrowingHeap<&Arena>, count: usize, bytes: usize) -> Vec<*mut u8> {
        let layout = Layout::from_size_align(bytes, 16).unwrap();
        (0..count)
            .map(|i| {
                // SAFETY: a non-zero size.
                let p = unsafe { heap.alloc(layout) };
                assert!(!p.is_null(), "block {i}");
                // SAFETY: the block is ours, `bytes` long.
                unsafe { p.write_bytes(i as u8, bytes) };
                p
            })
            .collect()
    }

    fn free(heap: &GrowingHeap<&Arena>, blocks: &[*mut u8], bytes: usize) {
        let layout = Layout::from_size_align(bytes, 16).unwrap();
        for &p in blocks {
            // SAFETY: allocated by `fill` with this layout.
            unsafe { heap.dealloc(p, layout) };
        }
    }

    #[test]
    fn grows_past_the_first_chunk_and_reuses_what_is_freed() {
        let arena = Arena::new(64 * MIB, 64 * MIB, false);
        let heap = GrowingHeap::new(&arena, 0);
        assert_eq!(heap.mapped_bytes(), 0);
        let blocks = fill(&heap, 24, MIB / 2);
        let grown = heap.mapped_bytes();
        assert!((12 * MIB..32 * MIB).contains(&grown), "{grown}");
        assert_eq!(heap.regions(), 1, "contiguous chunks extend one region");
        for (i, &p) in blocks.iter().enumerate() {
            // SAFETY: written by `fill`.
            assert_eq!(unsafe { *p.add(MIB / 2 - 1) }, i as u8);
        }
        free(&heap, &blocks, MIB / 2);
        assert_eq!(heap.used_bytes(), 0);
        let again = fill(&heap, 24, MIB / 2);
        assert_eq!(heap.mapped_bytes(), grown, "freed memory is reused, nothing new is mapped");
        free(&heap, &again, MIB / 2);
    }

    #[test]
    fn separate_chunks_become_regions() {
        let arena = Arena::new(64 * MIB, 64 * MIB, true);
        let heap = GrowingHeap::new(&arena, 0);
        let blocks = fill(&heap, 8, MIB / 2);
        assert!(heap.regions() > 1);
        free(&heap, &blocks, MIB / 2);
        assert_eq!(heap.used_bytes(), 0);
    }

    #[test]
    fn a_large_request_gets_a_chunk_of_its_own_size() {
        let arena = Arena::new(64 * MIB, 64 * MIB, false);
        let heap = GrowingHeap::new(&arena, 0);
        let blocks = fill(&heap, 1, 5 * MIB);
        assert!(heap.mapped_bytes() > 5 * MIB);
        free(&heap, &blocks, 5 * MIB);
    }

    #[test]
    fn no_memory_is_null_not_a_panic() {
        let arena = Arena::new(4 * MIB, 2 * MIB, false);
        let heap = GrowingHeap::new(&arena, 0);
        let layout = Layout::from_size_align(3 * MIB, 8).unwrap();
        // SAFETY: a non-zero size.
        assert!(unsafe { heap.alloc(layout) }.is_null());
        // Smaller blocks still fit in what could be mapped.
        let blocks = fill(&heap, 3, MIB / 2);
        free(&heap, &blocks, MIB / 2);
        // SAFETY: an absurd size: no chunk can hold it.
        assert!(unsafe { heap.alloc(Layout::from_size_align(isize::MAX as usize - 64, 8).unwrap()) }.is_null());
    }

    #[test]
    fn quick_lists_hand_back_freed_blocks_and_hold_a_bounded_amount() {
        let arena = Arena::new(64 * MIB, 64 * MIB, false);
        let heap = GrowingHeap::new(&arena, 0);
        // 4000 bytes round to 4 KiB; 200 of them is more than a list holds.
        let blocks = fill(&heap, 200, 4000);
        for (i, &p) in blocks.iter().enumerate() {
            assert_eq!(p as usize % 16, 0, "aligned");
            // SAFETY: written by `fill`: no block overlaps another.
            assert_eq!(unsafe { *p.add(3999) }, i as u8);
        }
        let used = heap.used_bytes();
        assert!(used >= 200 * 4096, "{used}");
        free(&heap, &blocks, 4000);
        assert_eq!(heap.used_bytes(), 0, "blocks on a quick list count as free");
        let held =
            heap.with(|regions| regions.quick[quick_class(Layout::from_size_align(4000, 16).unwrap()).unwrap().0].1);
        assert_eq!(held, QUICK_LIST_MAX_BYTES, "a list holds at most its limit");
        // The next allocations of that size take the held blocks, the last
        // freed first.
        let again = fill(&heap, 3, 4096);
        // The first 64 freed (256 KiB) went on the list.
        assert_eq!(again, [blocks[63], blocks[62], blocks[61]]);
        free(&heap, &again, 4096);
        // Sizes that do not fit a list go to the free lists as before.
        let big = fill(&heap, 2, QUICK_MAX_BYTES + 1);
        let aligned = Layout::from_size_align(64, 64).unwrap();
        assert_eq!(quick_class(aligned), None, "alignment over 16: no quick list");
        free(&heap, &big, QUICK_MAX_BYTES + 1);
        assert_eq!(heap.used_bytes(), 0);
    }
}
