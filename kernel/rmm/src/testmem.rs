//! Fake physical memory for host tests: a page-aligned heap buffer whose
//! frames pose as physical addresses starting at [`TestMemory::BASE`].

extern crate std;
use std::boxed::Box;
use std::vec::Vec;

use crate::{FrameAllocator, PAGE_SIZE, PhysAddr};

#[repr(C, align(4096))]
struct Frame([u8; PAGE_SIZE as usize]);

pub struct TestMemory {
    frames: Box<[Frame]>,
    next: usize,
}

impl TestMemory {
    /// Where the fake frames start, physically.
    pub const BASE: u64 = 0x10_0000;

    pub fn new(frames: usize) -> Self {
        let mut v = Vec::with_capacity(frames);
        v.resize_with(frames, || Frame([0xA5; PAGE_SIZE as usize]));
        Self { frames: v.into_boxed_slice(), next: 0 }
    }

    /// `phys + offset()` is the frame's host address.
    pub fn offset(&self) -> u64 {
        (self.frames.as_ptr() as u64).wrapping_sub(Self::BASE)
    }

    pub fn used(&self) -> usize {
        self.next
    }
}

impl FrameAllocator for TestMemory {
    fn allocate_frame(&mut self) -> Option<PhysAddr> {
        (self.next < self.frames.len()).then(|| {
            self.next += 1;
            PhysAddr::new(Self::BASE + (self.next as u64 - 1) * PAGE_SIZE)
        })
    }
}
