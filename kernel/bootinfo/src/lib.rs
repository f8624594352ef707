//! The hand-off contract between `bootloader/` and `kernel/`.
//!
//! The loader fills one [`KernelArgs`] and jumps to the kernel entry with its
//! address in the first argument register. Everything the structure points at
//! lives in memory the loader allocated as [`AreaKind::Kernel`], so the kernel
//! never hands it out before it has consumed it. Both sides are built from this
//! one crate, and [`KernelArgs::MAGIC`] / [`KernelArgs::VERSION`] catch a loader
//! and kernel built from different trees.
//!
//! Addresses named `*_phys` are physical; the kernel reaches them through the
//! physical map at [`PHYS_OFFSET`]. Addresses named `*_virt` are already
//! virtual kernel addresses.
#![no_std]

pub mod env;

/// Where all physical memory is mapped, on both arches (PML4 slot 256 on
/// x86_64, the bottom of the TTBR1 range on aarch64 with 48-bit VAs).
pub const PHYS_OFFSET: u64 = 0xFFFF_8000_0000_0000;

/// The virtual base the kernel ELF is linked at, per arch (see the linker
/// scripts in `kernel/`).
pub const KERNEL_BASE_X86_64: u64 = 0xFFFF_FFFF_8000_0000;
/// See [`KERNEL_BASE_X86_64`].
pub const KERNEL_BASE_AARCH64: u64 = 0xFFFF_FF00_0000_0000;

/// End (exclusive) of user space on both arches.
pub const USER_END: u64 = 0x0000_8000_0000_0000;

const _: () = assert!(PHYS_OFFSET >= USER_END, "the physical map must be in the kernel half");

/// Size of the boot stack the loader gives the kernel.
pub const BOOT_STACK_BYTES: u64 = 256 * 1024;

/// What a physical memory area may be used for.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AreaKind {
    /// Usable RAM, free as soon as the kernel starts (conventional memory,
    /// boot-services code/data and the loader's own scratch memory).
    Free = 1,
    /// RAM holding ACPI tables: usable once the kernel has read them.
    Reclaim = 2,
    /// RAM that is not usable: firmware runtime code/data, ACPI NVS,
    /// PAL code, persistent or faulty memory.
    Reserved = 3,
    /// RAM the loader filled for the kernel: its image, boot stack, boot
    /// page tables, this structure, the area list, env text, initfs, and the
    /// DTB copy. Owned by the kernel; never handed out at boot.
    Kernel = 4,
    /// Not RAM as far as the kernel can tell: memory-mapped I/O the firmware
    /// reported, and ranges of UEFI's `EfiReservedMemoryType` (on OVMF the PCI
    /// configuration window and flash). Mapped as device memory, never counted
    /// as RAM.
    Mmio = 5,
}

impl AreaKind {
    /// Whether the area is RAM (mapped as normal cacheable memory).
    pub fn is_ram(self) -> bool {
        self != AreaKind::Mmio
    }
}

/// One physical memory area, page aligned.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryArea {
    pub base_phys: u64,
    pub size_bytes: u64,
    pub kind: AreaKind,
    pub _reserved: u32,
}

impl MemoryArea {
    /// One past the last byte.
    pub fn end_phys(&self) -> u64 {
        self.base_phys + self.size_bytes
    }
}

/// What `hwdesc` points at.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HwDescKind {
    /// No hardware description was found.
    None = 0,
    /// ACPI RSDP (x86_64). `hwdesc_size` is 36 (ACPI 2.0+) or 20.
    Rsdp = 1,
    /// Flattened device tree blob (aarch64), copied into kernel memory.
    Dtb = 2,
}

/// Everything the kernel learns from the loader.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KernelArgs {
    /// [`KernelArgs::MAGIC`].
    pub magic: u64,
    /// [`KernelArgs::VERSION`].
    pub version: u32,
    pub hwdesc_kind: HwDescKind,

    /// Physical base and size of the loaded kernel image (all PT_LOAD
    /// segments, contiguous, page aligned).
    pub kernel_phys: u64,
    pub kernel_size_bytes: u64,
    /// Virtual address the image's first byte is mapped at.
    pub kernel_virt: u64,

    /// The boot stack, as a physical range (the kernel runs on it through
    /// the physical map: stack pointer = `PHYS_OFFSET + stack_phys + stack_size_bytes`).
    pub stack_phys: u64,
    pub stack_size_bytes: u64,

    /// Root of the loader's page tables (CR3 / TTBR1_EL1). TTBR0 on aarch64
    /// points at the same table: it also identity-maps RAM so the loader's
    /// jump survives the switch.
    pub page_table_phys: u64,

    /// Kernel environment: UTF-8 text of `KEY=value` lines (the ESP's `env`).
    pub env_phys: u64,
    pub env_size_bytes: u64,

    /// Hardware description, see [`HwDescKind`].
    pub hwdesc_phys: u64,
    pub hwdesc_size_bytes: u64,

    /// Array of [`MemoryArea`], sorted by base, non-overlapping.
    pub areas_phys: u64,
    pub areas_count: u64,

    /// The initfs image as read from the ESP.
    pub initfs_phys: u64,
    pub initfs_size_bytes: u64,
}

impl KernelArgs {
    /// "TESSERA\0" little-endian.
    pub const MAGIC: u64 = u64::from_le_bytes(*b"TESSERA\0");
    /// Bumped whenever the layout above changes.
    pub const VERSION: u32 = 1;
}

/// On aarch64 the loader leaves the MMU programmed for the kernel:
/// MAIR_EL1 = `rmm::AArch64::MAIR`, and TCR_EL1 = [`AARCH64_TCR_BASE`] with
/// IPS set from ID_AA64MMFR0_EL1.PARange. The kernel keeps both.
///
/// T0SZ = T1SZ = 16 (48-bit halves), 4 KiB granules (TG0 = 0, TG1 = 0b10),
/// inner-shareable write-back write-allocate table walks on both halves
/// (Arm ARM D19.2 "TCR_EL1").
pub const AARCH64_TCR_BASE: u64 = 16 // T0SZ
    | (0b01 << 8) | (0b01 << 10) | (0b11 << 12) // IRGN0, ORGN0, SH0
    | (16 << 16) // T1SZ
    | (0b01 << 24) | (0b01 << 26) | (0b11 << 28) // IRGN1, ORGN1, SH1
    | (0b10 << 30); // TG1 = 4 KiB

/// Virtual address of a physical address in the physical map.
pub const fn phys_to_virt(phys: u64) -> u64 {
    PHYS_OFFSET + phys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_stable() {
        // The loader and the kernel are separate binaries: a silent layout
        // change would make the kernel read garbage.
        assert_eq!(core::mem::size_of::<MemoryArea>(), 24);
        assert_eq!(core::mem::size_of::<KernelArgs>(), 15 * 8 + 8);
        assert_eq!(KernelArgs::MAGIC.to_le_bytes(), *b"TESSERA\0");
    }

    #[test]
    fn phys_map_is_in_the_higher_half() {
        assert_eq!(phys_to_virt(0x1000), 0xFFFF_8000_0000_1000);
    }
}
