//! x86_64 4-level paging entries (Intel SDM Vol. 3A §4.5, Tables 4-14 to 4-20).

use super::Arch;
use crate::{MemoryKind, PageFlags, PhysAddr};

const PRESENT: u64 = 1 << 0;
const WRITABLE: u64 = 1 << 1;
const USER: u64 = 1 << 2;
const WRITE_THROUGH: u64 = 1 << 3;
const CACHE_DISABLE: u64 = 1 << 4;
const ACCESSED: u64 = 1 << 5;
const DIRTY: u64 = 1 << 6;
/// PS in a PDPTE / PDE: the entry maps a 1 GiB / 2 MiB page.
const HUGE: u64 = 1 << 7;
const GLOBAL: u64 = 1 << 8;
/// XD; needs IA32_EFER.NXE (the loader sets it).
const NO_EXECUTE: u64 = 1 << 63;

/// The x86_64 entry format. Device memory is mapped UC (PCD | PWT with the
/// power-on PAT). Kernel mappings are global; accessed/dirty are preset so
/// the CPU does not write them back on first use.
#[derive(Clone, Copy, Debug)]
pub enum X86_64 {}

impl Arch for X86_64 {
    fn table_entry(table: PhysAddr, user: bool) -> u64 {
        let entry = table.get() | PRESENT | WRITABLE;
        if user { entry | USER } else { entry }
    }

    fn leaf_entry(phys: PhysAddr, flags: PageFlags, level: usize) -> u64 {
        let mut entry = phys.get() | PRESENT | ACCESSED | DIRTY;
        if level > 0 {
            entry |= HUGE;
        }
        if flags.is_writable() {
            entry |= WRITABLE;
        }
        if !flags.is_executable() {
            entry |= NO_EXECUTE;
        }
        if flags.is_user() {
            entry |= USER;
        } else {
            entry |= GLOBAL;
        }
        if flags.memory_kind() == MemoryKind::Device {
            entry |= CACHE_DISABLE | WRITE_THROUGH;
        }
        entry
    }

    fn is_present(entry: u64) -> bool {
        entry & PRESENT != 0
    }

    fn is_table(entry: u64, level: usize) -> bool {
        level > 0 && entry & HUGE == 0
    }

    fn table_allow_user(entry: u64) -> u64 {
        entry | USER
    }

    fn leaf_flags(entry: u64) -> PageFlags {
        let kind = if entry & CACHE_DISABLE != 0 { MemoryKind::Device } else { MemoryKind::Normal };
        PageFlags::new()
            .write(entry & WRITABLE != 0)
            .execute(entry & NO_EXECUTE == 0)
            .user(entry & USER != 0)
            .kind(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_text_is_global_executable_read_only() {
        let e = X86_64::leaf_entry(PhysAddr::new(0x20_0000), PageFlags::new().execute(true), 0);
        assert_eq!(e & X86_64::ADDRESS_MASK, 0x20_0000);
        assert_eq!(e & (PRESENT | WRITABLE | USER | NO_EXECUTE | GLOBAL | HUGE), PRESENT | GLOBAL);
    }

    #[test]
    fn huge_device_page_is_uncached_and_not_executable() {
        let e =
            X86_64::leaf_entry(PhysAddr::new(0x4000_0000), PageFlags::new().write(true).kind(MemoryKind::Device), 2);
        assert_ne!(e & HUGE, 0);
        assert_ne!(e & CACHE_DISABLE, 0);
        assert_ne!(e & NO_EXECUTE, 0);
        assert!(!X86_64::is_table(e, 2));
        assert_eq!(X86_64::leaf_flags(e), PageFlags::new().write(true).kind(MemoryKind::Device));
    }

    #[test]
    fn user_page_round_trips() {
        let f = PageFlags::new().write(true).user(true);
        let e = X86_64::leaf_entry(PhysAddr::new(0x1000), f, 0);
        assert_eq!(e & GLOBAL, 0, "user pages must not be global");
        assert_eq!(X86_64::leaf_flags(e), f);
    }
}
