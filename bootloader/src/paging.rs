//! The page tables the kernel starts on.
//!
//! One root table holds: the kernel's segments at their link addresses with
//! their ELF permissions; all physical memory at `PHYS_OFFSET` (RAM cached,
//! holes and MMIO as device memory, never executable); and the same at
//! address 0 (identity, RAM executable) so the loader's switch code, which
//! runs from its identity-mapped image, survives loading the new root. The
//! kernel drops the identity part when it builds its own tables.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use rmm::{PageFlags, PageMapper, PageSize, PhysAddr, VirtAddr, map_physical};
use tessera_bootinfo::PHYS_OFFSET;
use uefi::mem::memory_map::{MemoryMap, MemoryMapOwned, MemoryType};

use crate::arch::Paging;
use crate::elf::LoadedKernel;
use crate::memory::KernelMemory;

/// The physical map always covers at least the 32-bit space (LAPIC, IOAPIC,
/// PL011, GIC and PCI windows live there).
const MIN_PHYS_END: u64 = 1 << 32;

/// The built tables.
pub struct Tables {
    pub root: u64,
}

/// Whether a firmware memory type is RAM (mapped cacheable). The same split
/// as the kernel's `AreaKind::is_ram`.
pub fn is_ram(ty: MemoryType) -> bool {
    !matches!(ty, MemoryType::MMIO | MemoryType::MMIO_PORT_SPACE | MemoryType::RESERVED)
}

/// Builds the tables described in the module doc.
pub fn build(kernel: &LoadedKernel, map: &MemoryMapOwned, mem: &mut KernelMemory) -> Result<Tables, String> {
    let err = |what: &str, e| format!("building page tables ({what}): {e:?}");
    // SAFETY: the loader runs identity-mapped, so frames from `mem` are
    // reachable at offset 0.
    let mut mapper = unsafe { PageMapper::<Paging>::create(mem, 0) }.ok_or("out of memory for page tables")?;

    for seg in &kernel.segments {
        let phys = PhysAddr::new(kernel.phys + (seg.virt - kernel.virt));
        let flags = PageFlags::new().write(seg.writable).execute(seg.executable);
        mapper
            .map_range(VirtAddr::new(seg.virt), phys, seg.size_bytes, flags, PageSize::Size4K, mem)
            .map_err(|e| err("kernel image", e))?;
    }

    let mut ram: Vec<(PhysAddr, PhysAddr)> = map
        .entries()
        .filter(|d| is_ram(d.ty))
        .map(|d| (PhysAddr::new(d.phys_start), PhysAddr::new(d.phys_start + d.page_count * rmm::PAGE_SIZE)))
        .collect();
    ram.sort_unstable_by_key(|r| r.0);
    let end = map.entries().map(|d| d.phys_start + d.page_count * rmm::PAGE_SIZE).max().unwrap_or(0).max(MIN_PHYS_END);

    let rw = PageFlags::new().write(true);
    map_physical(
        &mut mapper,
        mem,
        VirtAddr::new(PHYS_OFFSET),
        rw,
        ram.iter().copied(),
        PhysAddr::new(end),
        PageSize::Size2M,
    )
    .map_err(|e| err("physical map", e))?;
    map_physical(&mut mapper, mem, VirtAddr::new(0), rw.execute(true), ram, PhysAddr::new(end), PageSize::Size2M)
        .map_err(|e| err("identity map", e))?;
    Ok(Tables { root: mapper.root().get() })
}
