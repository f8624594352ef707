//! The kernel's own page tables, replacing the loader's: the kernel image
//! section by section with least rights (text RX, rodata R, data+bss RW NX),
//! and all physical memory at `PHYS_OFFSET` (RAM cached, the rest device
//! memory). No identity map: a stray low address now faults.

use rmm::{PAGE_SIZE, PageFlags, PageMapper, PageSize, PhysAddr, VirtAddr, map_physical};
use spin::Once;
use tessera_bootinfo::{KernelArgs, MemoryArea, PHYS_OFFSET};

use super::frames::GlobalFrames;
use crate::arch;

unsafe extern "C" {
    static __text_start: u8;
    static __text_end: u8;
    static __rodata_start: u8;
    static __rodata_end: u8;
    static __data_start: u8;
    static __data_end: u8;
}

/// The physical window covers at least the 32-bit space (LAPIC, IOAPIC,
/// PL011 and GIC registers live there).
const MIN_PHYS_END: u64 = 1 << 32;

/// Root of the kernel's table.
static KERNEL_ROOT: Once<PhysAddr> = Once::new();

/// Runs `f` with the kernel's page table (read-only use: its root entries
/// are what user tables share on x86_64).
pub fn with_kernel_mapper<R>(f: impl FnOnce(&PageMapper<arch::Paging>) -> R) -> R {
    let root = *KERNEL_ROOT.get().expect("paging::init ran");
    // SAFETY: the kernel table is valid and reachable through the window.
    let mapper = unsafe { PageMapper::<arch::Paging>::new(root, PHYS_OFFSET) };
    f(&mapper)
}

/// The empty user table installed while no process runs (aarch64's TTBR0;
/// on x86_64 the kernel root itself serves).
static EMPTY_USER_ROOT: Once<PhysAddr> = Once::new();

/// Leaves no user address space active (before freeing the current one).
pub fn activate_kernel_only() {
    let root = *EMPTY_USER_ROOT.get().expect("paging::init ran");
    // SAFETY: an empty user half (aarch64) or the kernel table (x86_64) maps
    // everything the kernel uses.
    unsafe { arch::activate_user_table(root) };
}

/// Builds the kernel's tables and switches to them.
pub fn init(args: &KernelArgs, areas: &[MemoryArea]) {
    let mut frames = GlobalFrames;
    // SAFETY: the physical window maps all RAM at PHYS_OFFSET, and new frames
    // come from the frame allocator, which owns them.
    let mut mapper = unsafe { PageMapper::<arch::Paging>::create(&mut frames, PHYS_OFFSET) }
        .expect("out of memory for the kernel page table");

    let sections = [
        (&raw const __text_start, &raw const __text_end, PageFlags::new().execute(true)),
        (&raw const __rodata_start, &raw const __rodata_end, PageFlags::new()),
        (&raw const __data_start, &raw const __data_end, PageFlags::new().write(true)),
    ];
    for (start, end, flags) in sections {
        let (start, end) = (start as u64, end as u64);
        let phys = PhysAddr::new(args.kernel_phys + (start - args.kernel_virt));
        mapper
            .map_range(VirtAddr::new(start), phys, end - start, flags, PageSize::Size4K, &mut frames)
            .expect("mapping the kernel image");
    }

    let end = areas.iter().map(MemoryArea::end_phys).max().unwrap_or(0).max(MIN_PHYS_END);
    let ram =
        areas.iter().filter(|a| a.kind.is_ram()).map(|a| (PhysAddr::new(a.base_phys), PhysAddr::new(a.end_phys())));
    map_physical(
        &mut mapper,
        &mut frames,
        VirtAddr::new(PHYS_OFFSET),
        PageFlags::new().write(true),
        ram,
        PhysAddr::new(end.next_multiple_of(PAGE_SIZE)),
        arch::window_page_size(),
    )
    .expect("mapping the physical window");

    let user_root = super::allocate_frame().expect("out of memory for the empty user table");
    // SAFETY: a fresh frame, reachable through the (still active) loader window.
    unsafe {
        core::ptr::write_bytes(tessera_bootinfo::phys_to_virt(user_root.get()) as *mut u8, 0, PAGE_SIZE as usize)
    };
    // SAFETY: the new table maps the running code (kernel text), the stack
    // and the args (both in the physical window) exactly as the loader's did.
    unsafe { arch::activate_tables(mapper.root(), user_root) };
    KERNEL_ROOT.call_once(|| mapper.root());
    EMPTY_USER_ROOT.call_once(|| arch::empty_user_root(mapper.root(), user_root));
    crate::println!("paging: kernel tables active (root {:#x})", mapper.root().get());
}

/// A page table for starting other CPUs: the kernel half shared (x86_64) and
/// `ranges` identity-mapped (rounded out to 2 MiB), kernel-only, RWX. Used
/// only until each CPU switches to the kernel table; never freed (a few
/// frames).
pub fn boot_identity_root(ranges: &[(u64, u64)]) -> PhysAddr {
    let mut frames = GlobalFrames;
    // SAFETY: frames come from the allocator and are reachable through the
    // physical window.
    let mut mapper = unsafe { PageMapper::<arch::Paging>::create(&mut frames, PHYS_OFFSET) }
        .expect("out of memory for the CPU start-up table");
    with_kernel_mapper(|kernel| arch::init_user_root(&mut mapper, kernel));
    const BLOCK: u64 = 2 << 20;
    for &(start, end) in ranges {
        let (start, end) = (start & !(BLOCK - 1), end.next_multiple_of(BLOCK));
        let flags = PageFlags::new().write(true).execute(true);
        mapper
            .map_range(VirtAddr::new(start), PhysAddr::new(start), end - start, flags, PageSize::Size2M, &mut frames)
            .expect("mapping the CPU start-up identity range");
    }
    mapper.root()
}

/// Maps `count` fresh frames, writable and not executable, at kernel address `virt` (for the heap). All or nothing.
/// Callers serialise (the heap lock); the new entries need no TLB flush,
/// only ordering before use (`arch::publish_new_mappings`).
pub fn map_kernel_pages(virt: u64, count: usize) -> bool {
    let Some(&root) = KERNEL_ROOT.get() else { return false };
    // SAFETY: the kernel table is valid and reachable through the window;
    // callers are serialised, so no one else edits it meanwhile.
    let mut mapper = unsafe { PageMapper::<arch::Paging>::new(root, PHYS_OFFSET) };
    let flags = PageFlags::new().write(true);
    for i in 0..count as u64 {
        let page = VirtAddr::new(virt + i * PAGE_SIZE);
        let mapped = super::frames::allocate_frame().map(|frame| {
            match mapper.map(page, frame, PageSize::Size4K, flags, &mut GlobalFrames) {
                Ok(flush) => {
                    flush.ignore();
                    true
                }
                Err(_) => {
                    super::frames::free_frame(frame);
                    false
                }
            }
        });
        if mapped != Some(true) {
            for j in 0..i {
                if let Ok((frame, _, flush)) = mapper.unmap(VirtAddr::new(virt + j * PAGE_SIZE)) {
                    flush.ignore();
                    super::frames::free_frame(frame);
                }
            }
            return false;
        }
    }
    arch::publish_new_mappings();
    true
}

/// Makes `[phys, phys + len_bytes)` (page-aligned) reachable through the
/// physical window as device memory, for device registers past the window's
/// end (a PCI ECAM window above 4 GiB on aarch64 `virt`). What the window
/// already maps is left alone. Boot only, before other CPUs start: nothing
/// else edits the kernel table then, and no TLB holds the new addresses.
pub fn map_device_window(phys: u64, len_bytes: u64) -> Result<(), &'static str> {
    let root = *KERNEL_ROOT.get().ok_or("paging::init has not run")?;
    let end = phys.checked_add(len_bytes).filter(|&e| e <= HEAP_WINDOW_BYTES).ok_or("beyond the physical window")?;
    // SAFETY: the kernel table is valid and reachable through the window;
    // at boot on one CPU nobody else edits it.
    let mut mapper = unsafe { PageMapper::<arch::Paging>::new(root, PHYS_OFFSET) };
    let flags = PageFlags::new().write(true).kind(rmm::MemoryKind::Device);
    let mut at = phys & !(PAGE_SIZE - 1);
    while at < end {
        let virt = VirtAddr::new(PHYS_OFFSET + at);
        if let Some((_, _, size)) = mapper.translate(virt) {
            // Already in the window: skip to the end of that mapping.
            at = (at & !(size.bytes() - 1)) + size.bytes();
            continue;
        }
        // The window is one run from 0, so an unmapped address starts a
        // wholly unmapped 2 MiB block when it is aligned to one.
        let block = PageSize::Size2M;
        let size = if at.is_multiple_of(block.bytes()) && end - at >= block.bytes() { block } else { PageSize::Size4K };
        mapper
            .map(virt, PhysAddr::new(at), size, flags, &mut GlobalFrames)
            .map_err(|_| "out of memory for device page tables")?
            .ignore();
        at += size.bytes();
    }
    arch::publish_new_mappings();
    Ok(())
}

/// The physical window's reach: from `PHYS_OFFSET` up to the heap.
const HEAP_WINDOW_BYTES: u64 = super::heap::HEAP_BASE - PHYS_OFFSET;
