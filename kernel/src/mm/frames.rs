//! The physical frame allocator: one bitmap over the span of Free areas,
//! placed in the first Free area large enough to hold it. The first MiB stays
//! reserved (x86 real-mode structures and the future AP trampoline live
//! there, and frame 0 doubles as "null").

use rmm::{BitmapFrameAllocator, FrameAllocator, PAGE_SIZE, PhysAddr};
use spin::Mutex;
use tessera_bootinfo::{AreaKind, MemoryArea, phys_to_virt};

use crate::println;

static FRAMES: Mutex<Option<BitmapFrameAllocator<'static>>> = Mutex::new(None);

const LOW_RESERVED_BYTES: u64 = 1 << 20;

/// Builds the allocator from the loader's areas.
pub fn init(areas: &[MemoryArea]) {
    let free = || areas.iter().filter(|a| a.kind == AreaKind::Free && a.size_bytes > 0);
    let (Some(lo), Some(hi)) = (free().map(|a| a.base_phys).min(), free().map(|a| a.end_phys()).max()) else {
        panic!("the memory map has no free RAM");
    };
    let lo = lo & !(PAGE_SIZE - 1);
    let frames = ((hi - lo) / PAGE_SIZE) as usize;
    let bitmap_bytes = (BitmapFrameAllocator::bitmap_words(frames) * 8) as u64;
    let home = free()
        .map(|a| (a.base_phys.max(LOW_RESERVED_BYTES).next_multiple_of(PAGE_SIZE), a.end_phys()))
        .find(|(start, end)| end.saturating_sub(*start) >= bitmap_bytes)
        .map(|(start, _)| start)
        .unwrap_or_else(|| panic!("no free area holds the {bitmap_bytes}-byte frame bitmap"));
    // SAFETY: `home` starts a Free area of at least `bitmap_bytes` bytes, which
    // nothing else uses (the allocator marks it used below before handing out
    // frames); it is mapped writable in the physical window and 8-aligned.
    let bits = unsafe {
        core::slice::from_raw_parts_mut(phys_to_virt(home) as *mut u64, BitmapFrameAllocator::bitmap_words(frames))
    };
    let mut alloc = BitmapFrameAllocator::new(PhysAddr::new(lo), frames, bits);
    for area in free() {
        alloc.add_free(PhysAddr::new(area.base_phys), PhysAddr::new(area.end_phys()));
    }
    alloc.reserve(PhysAddr::new(0), PhysAddr::new(LOW_RESERVED_BYTES));
    alloc.reserve(PhysAddr::new(home), PhysAddr::new(home + bitmap_bytes));
    println!(
        "frames: {} of {} frames free, bitmap of {} KiB at {:#x}",
        alloc.free_frames(),
        alloc.total_frames(),
        bitmap_bytes.div_ceil(1024),
        home
    );
    *FRAMES.lock() = Some(alloc);
}

fn with<R>(f: impl FnOnce(&mut BitmapFrameAllocator<'static>) -> R) -> R {
    f(FRAMES.lock().as_mut().expect("frame allocator used before mm::init"))
}

/// One free frame, or `None` when memory is exhausted.
pub fn allocate_frame() -> Option<PhysAddr> {
    with(|a| a.allocate_frame())
}

/// `count` contiguous frames.
pub fn allocate_contiguous(count: usize) -> Option<PhysAddr> {
    with(|a| a.allocate_contiguous(count))
}

/// Returns a frame. Freeing a frame twice or one that is not RAM is a kernel
/// bug and panics.
pub fn free_frame(frame: PhysAddr) {
    with(|a| a.free_frame(frame)).unwrap_or_else(|e| panic!("freeing frame {frame:?}: {e:?}"));
}

/// Frames the allocator covers.
pub fn total_frames() -> usize {
    with(|a| a.total_frames())
}

/// Frames left.
pub fn free_frames() -> usize {
    with(|a| a.free_frames())
}

/// The global allocator as an [`rmm::FrameAllocator`] (for page tables).
pub struct GlobalFrames;

impl FrameAllocator for GlobalFrames {
    fn allocate_frame(&mut self) -> Option<PhysAddr> {
        allocate_frame()
    }
}
