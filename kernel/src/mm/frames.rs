//! The physical frame allocator: one bitmap over the span of Free areas, and
//! beside it one reference count per frame of that span (for copy-on-write
//! and shared memory: a frame mapped by several address spaces is freed
//! when the last one lets go). Both live in the first Free area large
//! enough to hold them, which is then reserved. The first MiB stays
//! reserved (x86 real-mode structures and the AP trampoline live there, and
//! frame 0 doubles as "null").
//!
//! ```text
//!  count   meaning                          get_ref        put_ref
//!  0       free (bitmap or zeroed pool)     panic (bug)    panic (bug)
//!  1..=MAX allocated, that many owners      +1 (Overflow   -1; at 0 the
//!                                           at MAX_REFS)   frame is freed
//!  UNCOUNTED  never handed out: outside     NotCounted     ignored (false)
//!          the Free areas, reserved at boot
//! ```
//! Frames outside the span (MMIO, firmware) have no entry and behave like
//! UNCOUNTED ones, so a borrowed physical mapping can go through the same
//! calls without corrupting anything.
//!
//! A free frame is in the bitmap (its bytes whatever its last owner left) or
//! in the **zeroed pool**: frames an idle CPU took from the bitmap and
//! zeroed ([`zero_idle_frames`], called by the scheduler loop instead of
//! waiting), up to [`pool_target`] of them. [`allocate_zeroed`] takes from
//! the pool, so a demand-zero fault does not zero its frame itself;
//! [`allocate_frame`] takes from the bitmap first (its caller overwrites the
//! frame anyway) and from the pool only when the bitmap is empty. Pool
//! frames, and the few an idle CPU is zeroing, count as free
//! ([`free_frames`]), with count 0. The pool is a stack linked through each
//! frame's first word, which is set back to zero when the frame leaves it.
//!
//! The counts are atomics read and changed without the allocator lock; only
//! a transition to or from 0 touches the bitmap (under its lock). Taking a
//! reference needs one already held, so a count never rises from 0.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use rmm::{BitmapFrameAllocator, FrameAllocator, PAGE_SIZE, PhysAddr};
use spin::Once;

use crate::sync::Mutex;
use tessera_bootinfo::{AreaKind, MemoryArea, phys_to_virt};

use crate::{arch, println};

static FRAMES: Mutex<Option<Frames>> = Mutex::new(None);
static REFS: Once<RefTable> = Once::new();

const LOW_RESERVED_BYTES: u64 = 1 << 20;

/// The count of a frame the allocator never hands out.
const UNCOUNTED: u32 = u32::MAX;
/// The most references one frame can have; [`get_ref`] refuses more.
const MAX_REFS: u32 = u32::MAX - 1;

/// Why [`get_ref`] took no reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefError {
    /// Not a frame the allocator hands out (MMIO, firmware, the kernel
    /// image, boot reservations): it is not reference counted. Callers that
    /// borrow such frames own nothing and must not free them.
    NotCounted,
    /// The frame already has [`MAX_REFS`] references (callers turn this
    /// into ENOMEM).
    Overflow,
}

/// The free frames: the bitmap and the zeroed pool.
struct Frames {
    bitmap: BitmapFrameAllocator<'static>,
    /// The first frame of the zeroed pool (its first word links to the
    /// next; 0 ends the list: frame 0 is never handed out).
    zeroed: u64,
    /// Frames in the pool.
    zeroed_len: usize,
    /// Frames an idle CPU took from the bitmap and is zeroing (free, in
    /// neither place for that moment).
    zeroing: usize,
    /// At most this many frames in the pool and being zeroed together.
    target: usize,
}

/// The first word of `frame`, through the physical window.
fn link(frame: u64) -> *mut u64 {
    phys_to_virt(frame) as *mut u64
}

impl Frames {
    /// Puts a zeroed frame on the pool (its first word becomes the link).
    fn push_zeroed(&mut self, frame: PhysAddr) {
        // SAFETY: a free frame nobody else holds (the caller just zeroed
        // it), page aligned and mapped writable in the physical window.
        unsafe { link(frame.get()).write(self.zeroed) };
        self.zeroed = frame.get();
        self.zeroed_len += 1;
    }

    /// Takes a frame from the pool, all zero again.
    fn pop_zeroed(&mut self) -> Option<PhysAddr> {
        let frame = core::num::NonZeroU64::new(self.zeroed)?.get();
        // SAFETY: a frame of the pool, which only this allocator touches
        // (under its lock); its first word is the link `push_zeroed` wrote.
        unsafe {
            self.zeroed = link(frame).read();
            link(frame).write(0);
        }
        self.zeroed_len -= 1;
        Some(PhysAddr::new(frame))
    }

    /// A frame whose bytes do not matter: the bitmap's, else the pool's.
    fn allocate_any(&mut self) -> Option<PhysAddr> {
        self.bitmap.allocate_frame().or_else(|| self.pop_zeroed())
    }

    /// Free frames: the bitmap's, the pool's and those being zeroed.
    fn free(&self) -> usize {
        self.bitmap.free_frames() + self.zeroed_len + self.zeroing
    }
}

/// Free frames an idle CPU leaves unzeroed in the bitmap, so that a burst
/// of allocations never finds the bitmap empty while frames are in flight.
const POOL_RESERVE: usize = 1024;

/// The pool's target: a sixteenth of memory, at most 32 MiB.
fn pool_target(total_frames: usize) -> usize {
    (total_frames / 16).min((32 << 20) / PAGE_SIZE as usize)
}

/// Frames [`allocate_zeroed`] took from the pool, and those it had to zero
/// itself (the pool was empty), and frames idle CPUs zeroed (for `sys:`).
static POOL_HITS: AtomicU64 = AtomicU64::new(0);
static POOL_MISSES: AtomicU64 = AtomicU64::new(0);
static IDLE_ZEROED: AtomicU64 = AtomicU64::new(0);

/// One count per frame of `[base, base + counts.len() * PAGE_SIZE)`.
struct RefTable {
    base: u64,
    counts: &'static [AtomicU32],
}

impl RefTable {
    /// The count of `frame`, or `None` outside the span.
    fn get(&self, frame: PhysAddr) -> Option<&AtomicU32> {
        debug_assert!(frame.is_aligned(PAGE_SIZE), "frame {frame:?} is not page aligned");
        let index = frame.get().checked_sub(self.base)? / PAGE_SIZE;
        self.counts.get(usize::try_from(index).ok()?)
    }

    /// Sets the count of every frame touching `[start, end)` in the span.
    fn set_range(&self, start: u64, end: u64, value: u32) {
        let first = start.max(self.base) / PAGE_SIZE;
        let last = end.div_ceil(PAGE_SIZE).min(self.base / PAGE_SIZE + self.counts.len() as u64);
        for page in first..last {
            self.counts[(page - self.base / PAGE_SIZE) as usize].store(value, Ordering::Relaxed);
        }
    }
}

fn refs() -> &'static RefTable {
    REFS.get().expect("frame allocator used before mm::init")
}

/// Builds the allocator and the reference counts from the loader's areas.
pub fn init(areas: &[MemoryArea]) {
    let free = || areas.iter().filter(|a| a.kind == AreaKind::Free && a.size_bytes > 0);
    let (Some(lo), Some(hi)) = (free().map(|a| a.base_phys).min(), free().map(|a| a.end_phys()).max()) else {
        panic!("the memory map has no free RAM");
    };
    let lo = lo & !(PAGE_SIZE - 1);
    let frames = ((hi - lo) / PAGE_SIZE) as usize;
    let bitmap_words = BitmapFrameAllocator::bitmap_words(frames);
    let bitmap_bytes = (bitmap_words * 8) as u64;
    let refs_bytes = (frames * size_of::<AtomicU32>()) as u64;
    let needed = bitmap_bytes + refs_bytes;
    let home = free()
        .map(|a| (a.base_phys.max(LOW_RESERVED_BYTES).next_multiple_of(PAGE_SIZE), a.end_phys()))
        .find(|(start, end)| end.saturating_sub(*start) >= needed)
        .map(|(start, _)| start)
        .unwrap_or_else(|| panic!("no free area holds the {needed}-byte frame bitmap and reference counts"));
    // SAFETY: `[home, home + needed)` lies in a Free area that nothing else
    // uses (the allocator marks it used below before handing out frames);
    // it is mapped writable in the physical window. The bitmap is 8-aligned
    // (`home` is page aligned) and the counts after it 4-aligned (the bitmap
    // is whole words); the two slices do not overlap. Every count is written
    // before the slice of atomics is formed.
    let (bits, counts) = unsafe {
        let bits = core::slice::from_raw_parts_mut(phys_to_virt(home) as *mut u64, bitmap_words);
        let counts_ptr = phys_to_virt(home + bitmap_bytes) as *mut u32;
        for i in 0..frames {
            counts_ptr.add(i).write(UNCOUNTED);
        }
        (bits, core::slice::from_raw_parts(counts_ptr as *const AtomicU32, frames))
    };
    let table = RefTable { base: lo, counts };
    let mut alloc = BitmapFrameAllocator::new(PhysAddr::new(lo), frames, bits);
    for area in free() {
        alloc.add_free(PhysAddr::new(area.base_phys), PhysAddr::new(area.end_phys()));
        // As `add_free`: only the whole frames inside the area.
        table.set_range(area.base_phys.next_multiple_of(PAGE_SIZE), area.end_phys() & !(PAGE_SIZE - 1), 0);
    }
    for (start, end) in [(0, LOW_RESERVED_BYTES), (home, home + needed)] {
        alloc.reserve(PhysAddr::new(start), PhysAddr::new(end));
        table.set_range(start, end, UNCOUNTED);
    }
    let zero = table.counts.iter().filter(|c| c.load(Ordering::Relaxed) == 0).count();
    assert_eq!(zero, alloc.free_frames(), "frame reference counts disagree with the bitmap");
    println!(
        "frames: {} of {} frames free, bitmap of {} KiB and reference counts of {} KiB at {:#x}",
        alloc.free_frames(),
        alloc.total_frames(),
        bitmap_bytes.div_ceil(1024),
        refs_bytes.div_ceil(1024),
        home
    );
    REFS.call_once(|| table);
    let target = pool_target(alloc.total_frames());
    *FRAMES.lock() = Some(Frames { bitmap: alloc, zeroed: 0, zeroed_len: 0, zeroing: 0, target });
}

fn with<R>(f: impl FnOnce(&mut Frames) -> R) -> R {
    f(FRAMES.lock().as_mut().expect("frame allocator used before mm::init"))
}

fn zero(frame: PhysAddr) {
    // SAFETY: a frame the caller owns, mapped writable in the physical window.
    unsafe { arch::zero_page(phys_to_virt(frame.get()) as *mut u8) };
}

/// Gives a frame just taken from the bitmap its first reference.
fn set_allocated(frame: PhysAddr) {
    let count = refs().get(frame).expect("the allocator hands out frames of its span");
    let before = count.swap(1, Ordering::Relaxed);
    debug_assert_eq!(before, 0, "allocated frame {frame:?} had reference count {before}");
}

/// One free frame with reference count 1, or `None` when memory is
/// exhausted. Its bytes are whatever they were (the caller overwrites
/// them).
pub fn allocate_frame() -> Option<PhysAddr> {
    with(|f| {
        let frame = f.allocate_any()?;
        set_allocated(frame);
        Some(frame)
    })
}

/// One free frame of zeroes with reference count 1: from the zeroed pool,
/// else from the bitmap, zeroed here; `None` when memory is exhausted.
pub fn allocate_zeroed() -> Option<PhysAddr> {
    let (frame, zeroed) = with(|f| match f.pop_zeroed() {
        Some(frame) => Some((frame, true)),
        None => f.bitmap.allocate_frame().map(|frame| (frame, false)),
    })?;
    set_allocated(frame);
    if zeroed {
        POOL_HITS.fetch_add(1, Ordering::Relaxed);
    } else {
        POOL_MISSES.fetch_add(1, Ordering::Relaxed);
        zero(frame);
    }
    Some(frame)
}

/// Zeroes up to `max` free frames for the pool while it is below its
/// target and the bitmap keeps [`POOL_RESERVE`] frames; returns whether it
/// zeroed any. For a CPU with nothing to run: each frame is zeroed outside
/// the allocator's lock.
pub fn zero_idle_frames(max: usize) -> bool {
    let mut done = 0;
    while done < max {
        let taken = with(|f| {
            if f.zeroed_len + f.zeroing >= f.target || f.bitmap.free_frames() <= POOL_RESERVE {
                return None;
            }
            let frame = f.bitmap.allocate_frame()?;
            f.zeroing += 1;
            Some(frame)
        });
        let Some(frame) = taken else { break };
        zero(frame);
        with(|f| {
            f.zeroing -= 1;
            f.push_zeroed(frame);
        });
        done += 1;
    }
    IDLE_ZEROED.fetch_add(done as u64, Ordering::Relaxed);
    done > 0
}

/// The zeroed pool for `sys:memory`: frames in it, its target, frames
/// [`allocate_zeroed`] took from it and zeroed itself, frames idle CPUs
/// zeroed.
pub fn pool_stats() -> [u64; 5] {
    let (len, target) = with(|f| (f.zeroed_len, f.target));
    [
        len as u64,
        target as u64,
        POOL_HITS.load(Ordering::Relaxed),
        POOL_MISSES.load(Ordering::Relaxed),
        IDLE_ZEROED.load(Ordering::Relaxed),
    ]
}

/// `count` contiguous frames, each with reference count 1 (each is
/// released on its own). The bitmap's; when it has no such run, the
/// zeroed pool goes back to it first (its frames may be what breaks runs).
pub fn allocate_contiguous(count: usize) -> Option<PhysAddr> {
    with(|f| {
        let first = f.bitmap.allocate_contiguous(count).or_else(|| {
            while let Some(frame) = f.pop_zeroed() {
                f.bitmap.free_frame(frame).unwrap_or_else(|e| panic!("pool frame {frame:?}: {e:?}"));
            }
            f.bitmap.allocate_contiguous(count)
        })?;
        (0..count as u64).for_each(|i| set_allocated(first.add(i * PAGE_SIZE)));
        Some(first)
    })
}

/// Adds a reference to `frame`, which the caller already holds one of;
/// returns the new count. Frames the allocator does not hand out give
/// [`RefError::NotCounted`] and are left alone; at [`MAX_REFS`] it refuses
/// with [`RefError::Overflow`] (the count never wraps). A reference to a
/// free frame is a kernel bug and panics.
pub fn get_ref(frame: PhysAddr) -> Result<u32, RefError> {
    let count = refs().get(frame).ok_or(RefError::NotCounted)?;
    // Relaxed suffices: the caller's own reference keeps the frame alive.
    match count.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| (1..MAX_REFS).contains(&c).then(|| c + 1)) {
        Ok(before) => Ok(before + 1),
        Err(UNCOUNTED) => Err(RefError::NotCounted),
        Err(0) => panic!("reference taken to free frame {frame:?}"),
        Err(_) => Err(RefError::Overflow),
    }
}

/// Drops a reference to `frame`; the last one frees it. Returns whether it
/// was freed. Frames the allocator does not hand out are ignored (`false`).
/// Dropping a reference to a free frame is a kernel bug and panics.
pub fn put_ref(frame: PhysAddr) -> bool {
    let Some(count) = refs().get(frame) else { return false };
    // Release: this owner's uses of the frame happen before its reuse;
    // Acquire (on the last drop): so do every other owner's.
    match count.fetch_update(Ordering::AcqRel, Ordering::Relaxed, |c| (c != 0 && c != UNCOUNTED).then(|| c - 1)) {
        Ok(1) => {
            with(|f| f.bitmap.free_frame(frame)).unwrap_or_else(|e| panic!("freeing frame {frame:?}: {e:?}"));
            true
        }
        Ok(_) | Err(UNCOUNTED) => false,
        Err(_) => panic!("frame {frame:?} released more often than it was referenced"),
    }
}

/// References to `frame`: 0 if it is free or not counted (outside the
/// allocator's frames).
pub fn refcount(frame: PhysAddr) -> u32 {
    match refs().get(frame).map(|c| c.load(Ordering::Relaxed)) {
        None | Some(UNCOUNTED) => 0,
        Some(count) => count,
    }
}

/// Returns a frame that has a single owner (page tables, kernel stacks,
/// the plain address space): the same as [`put_ref`] on a frame with one
/// reference, which debug builds check. Freeing a frame twice or one the
/// allocator does not hand out is a kernel bug and panics.
pub fn free_frame(frame: PhysAddr) {
    debug_assert_eq!(refcount(frame), 1, "free_frame on frame {frame:?}, which is shared or free");
    if refs().get(frame).is_none_or(|c| c.load(Ordering::Relaxed) == UNCOUNTED) {
        panic!("freeing frame {frame:?}, which the allocator never handed out");
    }
    put_ref(frame);
}

/// Frames the allocator covers.
pub fn total_frames() -> usize {
    with(|f| f.bitmap.total_frames())
}

/// Frames left (the zeroed pool's included).
pub fn free_frames() -> usize {
    with(|f| f.free())
}

/// The global allocator as an [`rmm::FrameAllocator`] (for page tables).
pub struct GlobalFrames;

impl FrameAllocator for GlobalFrames {
    fn allocate_frame(&mut self) -> Option<PhysAddr> {
        allocate_frame()
    }
}
