//! Physical frame allocation: the trait page tables draw from, and a bitmap
//! allocator over one contiguous physical span.
//!
//! The bitmap keeps one bit per 4 KiB frame (set = free), so 4 GiB of RAM
//! costs 128 KiB. Allocation is first-fit from a hint: the lowest frame
//! freed since the last allocation, or where the last allocation was, so
//! freed frames are reused first and repeated single-frame allocations
//! are O(1) amortised (a scan skips 64 used frames per word). Per-frame reference counts
//! (copy-on-write, sharing) are the kernel's, kept beside it
//! (`kernel/src/mm/frames.rs`).

use crate::{PAGE_SIZE, PhysAddr};

/// A source of physical frames (contents unspecified).
pub trait FrameAllocator {
    /// One 4 KiB frame, or `None` when memory is exhausted.
    fn allocate_frame(&mut self) -> Option<PhysAddr>;
}

/// Frames of `[base, base + frames * PAGE_SIZE)`, tracked in a caller-owned
/// bitmap. Every frame starts out used; [`Self::add_free`] releases ranges.
pub struct BitmapFrameAllocator<'a> {
    base: PhysAddr,
    frames: usize,
    bits: &'a mut [u64],
    free: usize,
    hint: usize,
}

/// Why a frame could not be freed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreeError {
    /// The address is outside the allocator's span or not page aligned.
    NotOurs,
    /// The frame is already free.
    DoubleFree,
}

impl<'a> BitmapFrameAllocator<'a> {
    /// Words of bitmap needed for `frames` frames.
    pub const fn bitmap_words(frames: usize) -> usize {
        frames.div_ceil(64)
    }

    /// Covers `frames` frames from `base` (page aligned) using `bits`
    /// (at least [`Self::bitmap_words`] long). All frames start used.
    pub fn new(base: PhysAddr, frames: usize, bits: &'a mut [u64]) -> Self {
        assert!(base.is_aligned(PAGE_SIZE), "frame span must be page aligned");
        assert!(bits.len() >= Self::bitmap_words(frames), "bitmap too small");
        bits.fill(0);
        Self { base, frames, bits, free: 0, hint: 0 }
    }

    /// Marks the whole frames inside `[start, end)` free (the range is
    /// shrunk to page boundaries and clipped to the span).
    pub fn add_free(&mut self, start: PhysAddr, end: PhysAddr) {
        self.set_range(start, end, true);
    }

    /// Marks every frame touching `[start, end)` used.
    pub fn reserve(&mut self, start: PhysAddr, end: PhysAddr) {
        self.set_range(start.align_down(PAGE_SIZE), end.add(PAGE_SIZE - 1).align_down(PAGE_SIZE), false);
    }

    fn set_range(&mut self, start: PhysAddr, end: PhysAddr, free: bool) {
        let span_end = self.base.get() + self.frames as u64 * PAGE_SIZE;
        let start = start.add(PAGE_SIZE - 1).align_down(PAGE_SIZE).get().max(self.base.get());
        let end = end.align_down(PAGE_SIZE).get().min(span_end);
        let mut frame = start;
        while frame < end {
            let index = ((frame - self.base.get()) / PAGE_SIZE) as usize;
            if self.is_free(index) != free {
                self.set(index, free);
                if free {
                    self.free += 1;
                } else {
                    self.free -= 1;
                }
            }
            frame += PAGE_SIZE;
        }
    }

    fn is_free(&self, index: usize) -> bool {
        self.bits[index / 64] & (1 << (index % 64)) != 0
    }

    fn set(&mut self, index: usize, free: bool) {
        if free {
            self.bits[index / 64] |= 1 << (index % 64);
        } else {
            self.bits[index / 64] &= !(1 << (index % 64));
        }
    }

    /// Free frames left.
    pub fn free_frames(&self) -> usize {
        self.free
    }

    /// Frames covered (free or not).
    pub fn total_frames(&self) -> usize {
        self.frames
    }

    /// `count` physically contiguous frames, or `None`.
    pub fn allocate_contiguous(&mut self, count: usize) -> Option<PhysAddr> {
        if count == 0 || count > self.free {
            return None;
        }
        let mut run = 0;
        let mut index = 0;
        while index < self.frames {
            let word = self.bits[index / 64];
            if index % 64 == 0 && word == 0 {
                run = 0;
                index += 64;
                continue;
            }
            if self.is_free(index) {
                run += 1;
                if run == count {
                    let first = index + 1 - count;
                    (first..=index).for_each(|i| self.set(i, false));
                    self.free -= count;
                    return Some(self.base.add(first as u64 * PAGE_SIZE));
                }
            } else {
                run = 0;
            }
            index += 1;
        }
        None
    }

    /// Returns a frame from [`FrameAllocator::allocate_frame`] or
    /// [`Self::allocate_contiguous`].
    pub fn free_frame(&mut self, frame: PhysAddr) -> Result<(), FreeError> {
        let offset = frame.get().wrapping_sub(self.base.get());
        if !frame.is_aligned(PAGE_SIZE) || frame < self.base || offset / PAGE_SIZE >= self.frames as u64 {
            return Err(FreeError::NotOurs);
        }
        let index = (offset / PAGE_SIZE) as usize;
        if self.is_free(index) {
            return Err(FreeError::DoubleFree);
        }
        self.set(index, true);
        self.free += 1;
        // Lowest first: a freed frame is handed out again before frames
        // never used since boot (which the host may not have backed yet,
        // and which are cold in every cache).
        self.hint = self.hint.min(index);
        Ok(())
    }
}

impl FrameAllocator for BitmapFrameAllocator<'_> {
    fn allocate_frame(&mut self) -> Option<PhysAddr> {
        if self.free == 0 {
            return None;
        }
        let words = Self::bitmap_words(self.frames);
        for step in 0..=words {
            let word_index = (self.hint / 64 + step) % words;
            let word = self.bits[word_index];
            if word != 0 {
                let index = word_index * 64 + word.trailing_zeros() as usize;
                self.set(index, false);
                self.free -= 1;
                self.hint = index;
                return Some(self.base.add(index as u64 * PAGE_SIZE));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec;
    use std::vec::Vec;

    use super::*;

    const BASE: u64 = 0x4000_0000;

    fn p(frame: u64) -> PhysAddr {
        PhysAddr::new(BASE + frame * PAGE_SIZE)
    }

    #[test]
    fn freed_frames_are_handed_out_again_before_unused_ones() {
        let mut bits = vec![0; BitmapFrameAllocator::bitmap_words(1000)];
        let mut a = BitmapFrameAllocator::new(p(0), 1000, &mut bits);
        a.add_free(p(0), p(1000));
        let first: Vec<_> = (0..300).map(|_| a.allocate_frame().unwrap()).collect();
        assert_eq!(first[299], p(299), "in address order from the bottom");
        // Frees in the middle of what is in use: the next allocations take
        // them back, lowest first, before frame 300 (never used).
        for frame in [p(250), p(70), p(71), p(140)] {
            a.free_frame(frame).unwrap();
        }
        let again: Vec<_> = (0..5).map(|_| a.allocate_frame().unwrap()).collect();
        assert_eq!(again, [p(70), p(71), p(140), p(250), p(300)]);
    }

    #[test]
    fn only_added_ranges_are_handed_out_and_all_come_back() {
        let mut bits = vec![0; BitmapFrameAllocator::bitmap_words(200)];
        let mut a = BitmapFrameAllocator::new(p(0), 200, &mut bits);
        assert_eq!(a.allocate_frame(), None);
        // Unaligned edges shrink inward: frames 10..20 and 150..200.
        a.add_free(p(10).add(0), p(20).add(5));
        a.add_free(p(150).add(1), p(300));
        assert_eq!(a.free_frames(), 10 + 49);
        let mut got: Vec<_> = core::iter::from_fn(|| a.allocate_frame()).collect();
        assert_eq!(got.len(), 59);
        assert_eq!(a.free_frames(), 0);
        got.sort();
        got.dedup();
        assert_eq!(got.len(), 59, "no frame handed out twice");
        assert!(got.iter().all(|f| (p(10)..p(20)).contains(f) || (p(151)..p(200)).contains(f)));
        for f in &got {
            a.free_frame(*f).unwrap();
        }
        assert_eq!(a.free_frames(), 59);
    }

    #[test]
    fn reserve_and_bad_frees() {
        let mut bits = vec![0; 2];
        let mut a = BitmapFrameAllocator::new(p(0), 100, &mut bits);
        a.add_free(p(0), p(100));
        a.reserve(p(5).add(100), p(7).add(1)); // touches frames 5, 6, 7
        assert_eq!(a.free_frames(), 97);
        assert_eq!(a.free_frame(p(6)), Ok(()));
        assert_eq!(a.free_frames(), 98);
        assert_eq!(a.free_frame(p(8)), Err(FreeError::DoubleFree));
        assert_eq!(a.free_frame(p(100)), Err(FreeError::NotOurs));
        assert_eq!(a.free_frame(p(1).add(8)), Err(FreeError::NotOurs));
        assert_eq!(a.free_frame(PhysAddr::new(0)), Err(FreeError::NotOurs));
    }

    #[test]
    fn contiguous_runs() {
        let mut bits = vec![0; 4];
        let mut a = BitmapFrameAllocator::new(p(0), 256, &mut bits);
        a.add_free(p(0), p(256));
        a.reserve(p(60), p(61));
        let run = a.allocate_contiguous(70).unwrap();
        assert_eq!(run, p(61), "the first run of 70 starts after the hole");
        assert_eq!(a.free_frames(), 256 - 1 - 70);
        assert_eq!(a.allocate_contiguous(200), None);
        assert_eq!(a.allocate_contiguous(0), None);
    }
}
