//! `malloc` and friends over anonymous `mmap`, and the Rust allocator on
//! top of them.
//!
//! ```text
//!  block:  | Header (16 bytes): usable bytes, tag | user bytes ...
//!  small   (header + request <= 64 KiB): power-of-two size classes from
//!          32 bytes; blocks are carved from 256 KiB chunks and kept on a
//!          free list per class (chunks are never given back)
//!  large   one mapping of its own, unmapped by free, grown by mremap
//!  aligned (alignment > 16) a header inside a bigger block, pointing back
//!          at the block's start
//! ```
//! Every user pointer is 16-byte aligned. One spin lock guards the free
//! lists (the library has no threads, but a program may make its own).

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ffi::{c_int, c_void};
use core::ptr::null_mut;
use core::sync::atomic::{AtomicBool, Ordering};

use tessera_abi::error::{EINVAL, ENOMEM};

use crate::mm::{map_anon, remap_anon, unmap};
use crate::sys;
use crate::unistd::PAGE_BYTES;

const HEADER_BYTES: usize = 16;
const MIN_CLASS: usize = 5;
const MAX_CLASS: usize = 16;
const CHUNK_BYTES: usize = 256 * 1024;
/// The tag's high bits say "this is a block of ours".
const MAGIC: usize = 0x7E55_A110_C000_0000;
const MAGIC_MASK: usize = !0xFF;
const KIND_LARGE: usize = 0xFF;
const KIND_ALIGNED: usize = 0xFE;

#[repr(C)]
struct Header {
    /// Usable bytes after the header (aligned: bytes back to the block).
    size: usize,
    /// `MAGIC | kind`: a class number, `KIND_LARGE` or `KIND_ALIGNED`.
    tag: usize,
}

/// A free small block's first word: the next free block of its class.
struct FreeBlock {
    next: *mut FreeBlock,
}

struct Heap {
    locked: AtomicBool,
    free: UnsafeCell<[*mut FreeBlock; MAX_CLASS + 1]>,
}

// SAFETY: `free` is only touched with `locked` held (see `with_lists`).
unsafe impl Sync for Heap {}

static HEAP: Heap = Heap { locked: AtomicBool::new(false), free: UnsafeCell::new([null_mut(); MAX_CLASS + 1]) };

/// Runs `f` on the free lists with the lock held.
fn with_lists<R>(f: impl FnOnce(&mut [*mut FreeBlock; MAX_CLASS + 1]) -> R) -> R {
    while HEAP.locked.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
        core::hint::spin_loop();
    }
    // SAFETY: the lock gives this call the only access to the lists.
    let r = f(unsafe { &mut *HEAP.free.get() });
    HEAP.locked.store(false, Ordering::Release);
    r
}

/// The size class for a block of `total` bytes (header included).
fn class_of(total: usize) -> usize {
    let class = usize::BITS as usize - (total.max(1 << MIN_CLASS) - 1).leading_zeros() as usize;
    class.max(MIN_CLASS)
}

/// A fresh block of `class`, from its free list or a new chunk.
fn take_small(class: usize) -> *mut Header {
    let block_bytes = 1usize << class;
    with_lists(|lists| {
        if lists[class].is_null() {
            let Ok(chunk) = map_anon(CHUNK_BYTES) else { return null_mut() };
            // Thread every block of the chunk onto the list.
            let count = CHUNK_BYTES / block_bytes;
            for i in (0..count).rev() {
                let block = (chunk + i * block_bytes) as *mut FreeBlock;
                // SAFETY: the block lies inside the fresh chunk, writable.
                unsafe { (*block).next = lists[class] };
                lists[class] = block;
            }
        }
        let block = lists[class];
        // SAFETY: a listed block is free and holds its `next` link.
        lists[class] = unsafe { (*block).next };
        block as *mut Header
    })
}

/// Writes a header at `at` and returns the user pointer after it.
///
/// # Safety
/// `at` must be the start of a block with room for the header.
unsafe fn stamp(at: *mut Header, size: usize, kind: usize) -> *mut c_void {
    // SAFETY: the caller's contract.
    unsafe {
        at.write(Header { size, tag: MAGIC | kind });
        at.add(1) as *mut c_void
    }
}

/// The header of a user pointer; aborts on one that is not ours.
///
/// # Safety
/// `ptr` must have come from this allocator (checked as far as possible).
unsafe fn header(ptr: *mut c_void) -> &'static mut Header {
    // SAFETY: the caller's contract: a header precedes every block.
    let h = unsafe { &mut *(ptr as *mut Header).sub(1) };
    if h.tag & MAGIC_MASK != MAGIC {
        use core::fmt::Write;
        let _ = writeln!(sys::Fd2, "relibc-shim: free/realloc of a pointer malloc did not return: {ptr:p}");
        crate::process::abort_process();
    }
    h
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn malloc(size: usize) -> *mut c_void {
    let Some(total) = size.checked_add(HEADER_BYTES) else {
        sys::set_errno(ENOMEM);
        return null_mut();
    };
    if total <= 1 << MAX_CLASS {
        let class = class_of(total);
        let block = take_small(class);
        if block.is_null() {
            sys::set_errno(ENOMEM);
            return null_mut();
        }
        // SAFETY: a whole block of 2^class bytes.
        return unsafe { stamp(block, (1 << class) - HEADER_BYTES, class) };
    }
    let Some(len) = total.checked_next_multiple_of(PAGE_BYTES) else {
        sys::set_errno(ENOMEM);
        return null_mut();
    };
    match map_anon(len) {
        // SAFETY: a fresh mapping of `len` bytes.
        Ok(at) => unsafe { stamp(at as *mut Header, len - HEADER_BYTES, KIND_LARGE) },
        Err(e) => {
            sys::set_errno(e);
            null_mut()
        }
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn free(ptr: *mut c_void) {
    if ptr.is_null() {
        return;
    }
    // SAFETY: the caller passes a pointer from malloc.
    let h = unsafe { header(ptr) };
    let kind = h.tag & !MAGIC_MASK;
    let at = h as *mut Header;
    match kind {
        KIND_ALIGNED => {
            // SAFETY: `size` is the distance back to the real block.
            unsafe { free((ptr as *mut u8).sub(h.size) as *mut c_void) }
        }
        KIND_LARGE => {
            // SAFETY: the block is its own mapping; nothing uses it now.
            let _ = unsafe { unmap(at as usize, h.size + HEADER_BYTES) };
        }
        class => {
            h.tag = 0;
            with_lists(|lists| {
                let block = at as *mut FreeBlock;
                // SAFETY: the block is free now; its first word is the link.
                unsafe { (*block).next = lists[class] };
                lists[class] = block;
            })
        }
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn calloc(count: usize, size: usize) -> *mut c_void {
    let Some(bytes) = count.checked_mul(size) else {
        sys::set_errno(ENOMEM);
        return null_mut();
    };
    // SAFETY: a plain allocation.
    let p = unsafe { malloc(bytes) };
    if !p.is_null() {
        // Recycled small blocks hold old data; fresh mappings are zero.
        // SAFETY: `p` has at least `bytes` usable bytes.
        unsafe { core::ptr::write_bytes(p as *mut u8, 0, bytes) };
    }
    p
}

/// Usable bytes at `ptr`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn malloc_usable_size(ptr: *mut c_void) -> usize {
    if ptr.is_null() {
        return 0;
    }
    // SAFETY: the caller passes a pointer from malloc.
    let h = unsafe { header(ptr) };
    if h.tag & !MAGIC_MASK == KIND_ALIGNED {
        // SAFETY: the real block starts `size` bytes back.
        let real = unsafe { (ptr as *mut u8).sub(h.size) } as *mut c_void;
        // SAFETY: the real block is ours.
        return unsafe { malloc_usable_size(real) } - h.size;
    }
    h.size
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn realloc(ptr: *mut c_void, size: usize) -> *mut c_void {
    if ptr.is_null() {
        // SAFETY: a plain allocation.
        return unsafe { malloc(size) };
    }
    // SAFETY: the caller passes a pointer from malloc.
    let h = unsafe { header(ptr) };
    let kind = h.tag & !MAGIC_MASK;
    if kind != KIND_ALIGNED && size <= h.size && (kind != KIND_LARGE || size + HEADER_BYTES > 1 << MAX_CLASS) {
        return ptr;
    }
    if kind == KIND_LARGE && size.checked_add(HEADER_BYTES).is_some_and(|t| t > 1 << MAX_CLASS) {
        let Some(len) = (size + HEADER_BYTES).checked_next_multiple_of(PAGE_BYTES) else {
            sys::set_errno(ENOMEM);
            return null_mut();
        };
        let at = h as *mut Header as usize;
        // SAFETY: the mapping is this block's alone; it may move.
        match unsafe { remap_anon(at, h.size + HEADER_BYTES, len) } {
            // SAFETY: the (moved) mapping starts with the header.
            Ok(new) => return unsafe { stamp(new as *mut Header, len - HEADER_BYTES, KIND_LARGE) },
            Err(e) => {
                sys::set_errno(e);
                return null_mut();
            }
        }
    }
    // SAFETY: a plain allocation.
    let new = unsafe { malloc(size) };
    if !new.is_null() {
        // SAFETY: both blocks hold at least the bytes copied.
        unsafe {
            let old_size = malloc_usable_size(ptr);
            core::ptr::copy_nonoverlapping(ptr as *const u8, new as *mut u8, old_size.min(size));
            free(ptr);
        }
    }
    new
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn reallocarray(ptr: *mut c_void, count: usize, size: usize) -> *mut c_void {
    match count.checked_mul(size) {
        // SAFETY: the caller's contract.
        Some(bytes) => unsafe { realloc(ptr, bytes) },
        None => {
            sys::set_errno(ENOMEM);
            null_mut()
        }
    }
}

/// `size` bytes aligned to `align` (a power of two), or NULL with errno.
fn aligned(align: usize, size: usize) -> Result<*mut c_void, c_int> {
    if !align.is_power_of_two() {
        return Err(EINVAL);
    }
    if align <= HEADER_BYTES {
        // SAFETY: a plain allocation.
        let p = unsafe { malloc(size) };
        return if p.is_null() { Err(ENOMEM) } else { Ok(p) };
    }
    let total = size.checked_add(align + HEADER_BYTES).ok_or(ENOMEM)?;
    // SAFETY: a plain allocation.
    let raw = unsafe { malloc(total) };
    if raw.is_null() {
        return Err(ENOMEM);
    }
    let user = (raw as usize + HEADER_BYTES).next_multiple_of(align);
    // SAFETY: `user - HEADER_BYTES >= raw`, inside the block.
    Ok(unsafe { stamp((user as *mut Header).sub(1), user - raw as usize, KIND_ALIGNED) })
}

#[unsafe(no_mangle)]
pub extern "C" fn aligned_alloc(align: usize, size: usize) -> *mut c_void {
    aligned(align, size).unwrap_or_else(|e| {
        sys::set_errno(e);
        null_mut()
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn memalign(align: usize, size: usize) -> *mut c_void {
    aligned_alloc(align, size)
}

#[unsafe(no_mangle)]
pub extern "C" fn valloc(size: usize) -> *mut c_void {
    aligned_alloc(PAGE_BYTES, size)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn posix_memalign(out: *mut *mut c_void, align: usize, size: usize) -> c_int {
    if align < size_of::<usize>() {
        return EINVAL;
    }
    match aligned(align, size) {
        Ok(p) => {
            // SAFETY: the caller passes a writable pointer.
            unsafe { *out = p };
            0
        }
        Err(e) => e,
    }
}

/// Rust's allocations (`alloc::vec::Vec` inside libc) use `malloc`.
struct Malloc;

// SAFETY: `aligned` returns blocks of at least `size` bytes at `align`,
// which stay valid until `free`.
unsafe impl GlobalAlloc for Malloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        aligned(layout.align(), layout.size()).unwrap_or(null_mut()) as *mut u8
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from `alloc`.
        unsafe { free(ptr as *mut c_void) }
    }
}

#[global_allocator]
static ALLOCATOR: Malloc = Malloc;
