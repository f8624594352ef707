//! Page-table entry formats. Each arch type says how a table, block or page
//! entry is encoded; nothing here touches a CPU register, so both encodings
//! are compiled and tested on every host.
//!
//! Levels are numbered from the leaf: 0 holds 4 KiB pages, 1 may hold 2 MiB
//! blocks, 2 may hold 1 GiB blocks, 3 is the root. Both arches use four levels
//! of 512 eight-byte entries with 48-bit virtual addresses.

mod aarch64;
mod x86_64;

pub use aarch64::AArch64;
pub use x86_64::X86_64;

use crate::{PageFlags, PhysAddr};

/// Number of translation levels.
pub const LEVELS: usize = 4;
/// Entries per table.
pub const ENTRIES: usize = 512;

/// An entry format.
pub trait Arch {
    /// Bits of an entry that hold the output address.
    const ADDRESS_MASK: u64 = 0x0000_FFFF_FFFF_F000;

    /// An entry pointing to the next-level table at `table`. `user` says
    /// whether user mappings will live below it (some arches gate user access
    /// at every level).
    fn table_entry(table: PhysAddr, user: bool) -> u64;
    /// A leaf entry at `level` (0 = 4 KiB page, 1 = 2 MiB, 2 = 1 GiB block).
    fn leaf_entry(phys: PhysAddr, flags: PageFlags, level: usize) -> u64;
    /// Whether the entry is present (valid).
    fn is_present(entry: u64) -> bool;
    /// Whether a present entry at `level` > 0 points to a table rather than
    /// mapping a block.
    fn is_table(entry: u64, level: usize) -> bool;
    /// Adds user access to an existing table entry.
    fn table_allow_user(entry: u64) -> u64;
    /// The permissions of a present leaf entry.
    fn leaf_flags(entry: u64) -> PageFlags;

    /// The output address of a present entry.
    fn entry_address(entry: u64) -> PhysAddr {
        PhysAddr::new(entry & Self::ADDRESS_MASK)
    }
}
