//! Turning the final UEFI memory map into the kernel's [`MemoryArea`] list:
//! classified, sorted by base and with neighbours of one kind merged.

use alloc::string::String;

use tessera_bootinfo::{AreaKind, MemoryArea};
use uefi::mem::memory_map::{MemoryMap, MemoryMapOwned, MemoryType};

use crate::memory::{KERNEL_MEMORY, KernelMemory};

/// Entries the final map may have beyond the map read before it.
const SLACK: usize = 64;

/// What a firmware memory type is to the kernel.
fn classify(ty: MemoryType) -> AreaKind {
    match ty {
        MemoryType::CONVENTIONAL
        | MemoryType::BOOT_SERVICES_CODE
        | MemoryType::BOOT_SERVICES_DATA
        | MemoryType::LOADER_CODE
        | MemoryType::LOADER_DATA => AreaKind::Free,
        MemoryType::ACPI_RECLAIM => AreaKind::Reclaim,
        MemoryType::MMIO | MemoryType::MMIO_PORT_SPACE | MemoryType::RESERVED => AreaKind::Mmio,
        t if t == KERNEL_MEMORY => AreaKind::Kernel,
        _ => AreaKind::Reserved,
    }
}

/// A kernel-owned array filled after ExitBootServices (no allocation then).
pub struct AreaBuffer {
    areas: &'static mut [MemoryArea],
}

impl AreaBuffer {
    /// Room for `entries` firmware entries plus slack.
    pub fn new(entries: usize, mem: &mut KernelMemory) -> Result<Self, String> {
        let capacity = entries + SLACK;
        let region = mem.allocate(capacity * core::mem::size_of::<MemoryArea>())?;
        // SAFETY: the region is zeroed, page aligned, large enough and never
        // freed; an all-zero MemoryArea is not valid (kind 0), so every slot is
        // written before being read as one.
        let areas = unsafe {
            let ptr = region.as_mut_ptr().cast::<MemoryArea>();
            for i in 0..capacity {
                ptr.add(i).write(MemoryArea { base_phys: 0, size_bytes: 0, kind: AreaKind::Reserved, _reserved: 0 });
            }
            core::slice::from_raw_parts_mut(ptr, capacity)
        };
        Ok(Self { areas })
    }

    /// Fills the array from `map`; returns the used part.
    pub fn fill(&mut self, map: &MemoryMapOwned) -> &'static [MemoryArea] {
        let mut count = 0;
        for d in map.entries() {
            if count == self.areas.len() || d.page_count == 0 {
                continue;
            }
            self.areas[count] = MemoryArea {
                base_phys: d.phys_start,
                size_bytes: d.page_count * rmm::PAGE_SIZE,
                kind: classify(d.ty),
                _reserved: 0,
            };
            count += 1;
        }
        let used = &mut self.areas[..count];
        used.sort_unstable_by_key(|a| a.base_phys);
        let mut merged = 0;
        for i in 0..count {
            let a = used[i];
            if merged > 0 && used[merged - 1].kind == a.kind && used[merged - 1].end_phys() == a.base_phys {
                used[merged - 1].size_bytes += a.size_bytes;
            } else {
                used[merged] = a;
                merged += 1;
            }
        }
        let all: *const MemoryArea = self.areas.as_ptr();
        // SAFETY: the first `merged` entries are initialised and the buffer
        // lives forever (kernel memory).
        unsafe { core::slice::from_raw_parts(all, merged) }
    }
}
