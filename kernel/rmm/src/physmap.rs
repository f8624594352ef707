//! The physical-memory window: all of physical memory mapped at one virtual
//! offset, RAM as normal cached memory and everything else (MMIO, holes) as
//! device memory, so the window never makes the CPU speculate into devices.
//! The loader and the kernel build theirs with this one function.

use crate::{
    Arch, FrameAllocator, MapError, MemoryKind, PAGE_SIZE, PageFlags, PageMapper, PageSize, PhysAddr, VirtAddr,
};

/// Maps `[0, end)` at `window + phys`: the `ram` ranges (sorted by start;
/// they may touch or overlap) with `ram_flags`, the rest as writable,
/// non-executable device memory. Uses blocks up to `max`.
pub fn map_physical<A: Arch>(
    mapper: &mut PageMapper<A>,
    alloc: &mut impl FrameAllocator,
    window: VirtAddr,
    ram_flags: PageFlags,
    ram: impl IntoIterator<Item = (PhysAddr, PhysAddr)>,
    end: PhysAddr,
    max: PageSize,
) -> Result<(), MapError> {
    let end = end.add(PAGE_SIZE - 1).align_down(PAGE_SIZE).get();
    let normal = ram_flags.kind(MemoryKind::Normal);
    let device = PageFlags::new().write(true).kind(MemoryKind::Device);
    let mut map = |start: u64, stop: u64, flags| -> Result<(), MapError> {
        let stop = stop.min(end);
        if start < stop {
            mapper.map_range(window.add(start), PhysAddr::new(start), stop - start, flags, max, alloc)?;
        }
        Ok(())
    };
    let mut mapped_to = 0;
    let mut pending: Option<(u64, u64)> = None;
    for (start, stop) in ram {
        let start = start.align_down(PAGE_SIZE).get().max(mapped_to);
        let stop = stop.add(PAGE_SIZE - 1).align_down(PAGE_SIZE).get();
        if start >= stop {
            continue;
        }
        match pending {
            Some((s, e)) if start <= e => pending = Some((s, e.max(stop))),
            _ => {
                if let Some((s, e)) = pending {
                    map(mapped_to, s, device)?;
                    map(s, e, normal)?;
                    mapped_to = e;
                }
                pending = Some((start.max(mapped_to), stop));
            }
        }
    }
    if let Some((s, e)) = pending {
        map(mapped_to, s, device)?;
        map(s, e, normal)?;
        mapped_to = e;
    }
    map(mapped_to, end, device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::X86_64;
    use crate::testmem::TestMemory;

    #[test]
    fn ram_is_normal_and_holes_are_device() {
        let mut mem = TestMemory::new(32);
        let offset = mem.offset();
        // SAFETY: TestMemory frames are reachable at its offset.
        let mut m = unsafe { PageMapper::<X86_64>::create(&mut mem, offset) }.unwrap();
        let window = VirtAddr::new(0xFFFF_8000_0000_0000);
        let ram = [
            (PhysAddr::new(0x1000), PhysAddr::new(0x9_F000)),
            (PhysAddr::new(0x10_0000), PhysAddr::new(0x20_0000)),
            (PhysAddr::new(0x1F_F000), PhysAddr::new(0x4000_0000)), // overlaps the previous one
        ];
        let rw = PageFlags::new().write(true);
        map_physical(&mut m, &mut mem, window, rw, ram, PhysAddr::new(0x1_0000_0000), PageSize::Size2M).unwrap();
        let kind = |phys: u64| m.translate(window.add(phys)).map(|(p, f, _)| (p.get(), f.memory_kind()));
        assert_eq!(kind(0), Some((0, MemoryKind::Device)));
        assert_eq!(kind(0x5000), Some((0x5000, MemoryKind::Normal)));
        assert_eq!(kind(0xA_0000), Some((0xA_0000, MemoryKind::Device)));
        assert_eq!(kind(0x10_0000), Some((0x10_0000, MemoryKind::Normal)));
        assert_eq!(kind(0x3FFF_FFFF), Some((0x3FFF_FFFF, MemoryKind::Normal)));
        assert_eq!(kind(0xFEE0_0000), Some((0xFEE0_0000, MemoryKind::Device)));
        assert_eq!(kind(0x1_0000_0000), None);
        let (_, flags, size) = m.translate(window.add(0x2000_0000)).unwrap();
        assert_eq!(size, PageSize::Size2M, "big RAM runs use blocks");
        assert!(flags.is_writable() && !flags.is_executable());
    }
}
