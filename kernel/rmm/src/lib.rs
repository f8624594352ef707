//! Tessera's paging library: page-table entry formats, a page mapper and a
//! physical frame allocator, shared by the UEFI loader and the kernel.
//!
//! The same code runs on the host: a page table is only ever reached through
//! `phys + phys_offset`, so the unit tests give it a heap buffer as "physical
//! memory" and check the entries it leaves behind.
//!
//! ```text
//!   PageMapper<A: Arch> ── root table (phys) ── 4 levels of 512 entries
//!        │                     reached at phys + phys_offset
//!        ├── map(virt, phys, size, flags)  → Flush (caller flushes the TLB)
//!        ├── translate(virt)               → (phys, flags, size)
//!        └── unmap(virt)                   → (phys, Flush)
//!   A: Arch ─── entry encoding only (X86_64, AArch64); TLB and
//!               translation-base registers are the kernel's arch code.
//!   FrameAllocator ─ where new table pages come from (BitmapFrameAllocator).
//! ```
//!
//! This crate is not Redox's `rmm` (which lives in the Redox kernel tree and is
//! not published); it fills the same role with Tessera's own code.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

mod addr;
pub mod arch;
mod flags;
mod frame;
mod mapper;
mod physmap;

pub use addr::{PAGE_SHIFT, PAGE_SIZE, PhysAddr, VirtAddr};
pub use arch::{AArch64, Arch, X86_64};
pub use flags::{MemoryKind, PageFlags};
pub use frame::{BitmapFrameAllocator, FrameAllocator, FreeError};
pub use mapper::{Flush, LeafEdit, MapError, PageMapper, PageSize, UnmapError};
pub use physmap::map_physical;

#[cfg(test)]
mod testmem;
