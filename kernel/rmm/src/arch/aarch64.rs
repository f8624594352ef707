//! AArch64 VMSAv8-64 stage-1 descriptors, 4 KiB granule, 48-bit VAs
//! (Arm ARM D8.3 "Translation table descriptor formats").
//!
//! Memory types go through MAIR_EL1: [`AArch64::MAIR`] is the value the loader
//! and kernel program, and the `ATTR_*` indices below select from it.

use super::Arch;
use crate::{MemoryKind, PageFlags, PhysAddr};

const VALID: u64 = 1 << 0;
/// Bit 1: table (levels 1-3 in Arm numbering) or page (leaf level); clear
/// for a block.
const TABLE_OR_PAGE: u64 = 1 << 1;
const ATTR_INDEX_SHIFT: u64 = 2;
const ATTR_DEVICE: u64 = 0;
const ATTR_NORMAL: u64 = 1;
/// AP[1]: EL0 may access.
const AP_EL0: u64 = 1 << 6;
/// AP[2]: read-only.
const AP_READ_ONLY: u64 = 1 << 7;
/// SH = inner shareable.
const INNER_SHAREABLE: u64 = 0b11 << 8;
/// Access flag; without it the first access faults.
const ACCESS_FLAG: u64 = 1 << 10;
/// nG: the TLB entry is tagged with the ASID (user mappings).
const NOT_GLOBAL: u64 = 1 << 11;
/// PXN: EL1 may not execute.
const PXN: u64 = 1 << 53;
/// UXN: EL0 may not execute.
const UXN: u64 = 1 << 54;

/// The AArch64 entry format.
#[derive(Clone, Copy, Debug)]
pub enum AArch64 {}

impl AArch64 {
    /// MAIR_EL1: attribute 0 = Device-nGnRE (0x04), attribute 1 = Normal
    /// write-back read/write-allocate inner and outer (0xFF), attribute 2 =
    /// Normal non-cacheable (0x44).
    pub const MAIR: u64 = 0x04 | (0xFF << 8) | (0x44 << 16);
}

impl Arch for AArch64 {
    fn table_entry(table: PhysAddr, _user: bool) -> u64 {
        table.get() | VALID | TABLE_OR_PAGE
    }

    fn leaf_entry(phys: PhysAddr, flags: PageFlags, level: usize) -> u64 {
        let mut entry = phys.get() | VALID | ACCESS_FLAG;
        if level == 0 {
            entry |= TABLE_OR_PAGE;
        }
        entry |= match flags.memory_kind() {
            MemoryKind::Normal => (ATTR_NORMAL << ATTR_INDEX_SHIFT) | INNER_SHAREABLE,
            MemoryKind::Device => ATTR_DEVICE << ATTR_INDEX_SHIFT,
        };
        if !flags.is_writable() {
            entry |= AP_READ_ONLY;
        }
        if flags.is_user() {
            // The kernel never executes user pages.
            entry |= AP_EL0 | NOT_GLOBAL | PXN;
            if !flags.is_executable() {
                entry |= UXN;
            }
        } else {
            // User mode never executes kernel pages.
            entry |= UXN;
            if !flags.is_executable() {
                entry |= PXN;
            }
        }
        entry
    }

    fn is_present(entry: u64) -> bool {
        entry & VALID != 0
    }

    fn is_table(entry: u64, level: usize) -> bool {
        level > 0 && entry & TABLE_OR_PAGE != 0
    }

    fn table_allow_user(entry: u64) -> u64 {
        entry
    }

    fn leaf_flags(entry: u64) -> PageFlags {
        let user = entry & AP_EL0 != 0;
        let executable = if user { entry & UXN == 0 } else { entry & PXN == 0 };
        let kind =
            if (entry >> ATTR_INDEX_SHIFT) & 0b111 == ATTR_DEVICE { MemoryKind::Device } else { MemoryKind::Normal };
        PageFlags::new().write(entry & AP_READ_ONLY == 0).execute(executable).user(user).kind(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_text_page() {
        let e = AArch64::leaf_entry(PhysAddr::new(0x4008_0000), PageFlags::new().execute(true), 0);
        assert_eq!(e & 0b11, 0b11, "a leaf-level page descriptor");
        assert_ne!(e & ACCESS_FLAG, 0);
        assert_ne!(e & AP_READ_ONLY, 0);
        assert_eq!(e & PXN, 0);
        assert_ne!(e & UXN, 0);
        assert_eq!((e >> 2) & 7, ATTR_NORMAL);
    }

    #[test]
    fn device_block() {
        let f = PageFlags::new().write(true).kind(MemoryKind::Device);
        let e = AArch64::leaf_entry(PhysAddr::new(0x0800_0000), f, 1);
        assert_eq!(e & 0b11, 0b01, "a block descriptor");
        assert!(!AArch64::is_table(e, 1));
        assert_eq!(AArch64::leaf_flags(e), f);
        assert_eq!(AArch64::MAIR & 0xFF, 0x04);
    }

    #[test]
    fn user_page_round_trips() {
        let f = PageFlags::new().write(true).user(true).execute(true);
        let e = AArch64::leaf_entry(PhysAddr::new(0x1000), f, 0);
        assert_ne!(e & NOT_GLOBAL, 0);
        assert_ne!(e & PXN, 0);
        assert_eq!(AArch64::leaf_flags(e), f);
    }
}
