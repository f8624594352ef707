//! Physical and virtual addresses as distinct types, so a frame address can
//! never be passed where a virtual address is expected.

use core::fmt;

/// log2 of the base page size (4 KiB on both arches).
pub const PAGE_SHIFT: u32 = 12;
/// The base page size in bytes.
pub const PAGE_SIZE: u64 = 1 << PAGE_SHIFT;

macro_rules! address {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        #[repr(transparent)]
        pub struct $name(u64);

        impl $name {
            /// Wraps a raw address.
            pub const fn new(raw: u64) -> Self {
                Self(raw)
            }
            /// The raw address.
            pub const fn get(self) -> u64 {
                self.0
            }
            /// Adds a byte offset.
            pub const fn add(self, bytes: u64) -> Self {
                Self(self.0.wrapping_add(bytes))
            }
            /// Whether the address is a multiple of `align_bytes` (a power of two).
            pub const fn is_aligned(self, align_bytes: u64) -> bool {
                self.0 & (align_bytes - 1) == 0
            }
            /// Rounds down to a multiple of `align_bytes` (a power of two).
            pub const fn align_down(self, align_bytes: u64) -> Self {
                Self(self.0 & !(align_bytes - 1))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({:#x})"), self.0)
            }
        }
    };
}

address!(PhysAddr, "A physical address.");
address!(VirtAddr, "A virtual address.");

impl VirtAddr {
    /// Index into the page table at `level` (0 = the leaf table of 4 KiB
    /// pages, 3 = the root) for this address.
    pub const fn table_index(self, level: usize) -> usize {
        ((self.0 >> (PAGE_SHIFT as u64 + 9 * level as u64)) & 0x1FF) as usize
    }
}
