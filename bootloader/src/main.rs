//! Tessera's UEFI loader, one program for x86_64 and aarch64.
//!
//! It reads `\kernel` (an ELF linked in the higher half), `\initfs` and
//! `\env` from the ESP it was started from, loads the kernel's PT_LOAD
//! segments, builds page tables (kernel at its link address with each
//! segment's permissions, all physical memory at `PHYS_OFFSET`, and an
//! identity map so the jump survives the switch), finds the RSDP or DTB,
//! exits boot services, converts the memory map into [`MemoryArea`]s and
//! jumps to the kernel with one [`KernelArgs`]. Any failure before
//! ExitBootServices prints `tessera-loader: error: …` and stops.
#![no_std]
#![no_main]

extern crate alloc;

#[cfg_attr(target_arch = "x86_64", path = "arch/x86_64.rs")]
#[cfg_attr(target_arch = "aarch64", path = "arch/aarch64.rs")]
mod arch;
mod areas;
mod elf;
mod files;
mod memory;
mod paging;

use core::fmt::Display;

use tessera_bootinfo::{KernelArgs, MemoryArea, PHYS_OFFSET};
use uefi::mem::memory_map::MemoryMap;
use uefi::prelude::*;

/// Prints the error and stops: the loader has nothing to fall back to.
fn fail(what: impl Display) -> ! {
    uefi::println!("tessera-loader: error: {what}");
    loop {
        boot::stall(core::time::Duration::from_secs(1));
    }
}

#[entry]
fn main() -> Status {
    if uefi::helpers::init().is_err() {
        return Status::ABORTED;
    }
    uefi::println!("tessera-loader: starting (arch {})", arch::NAME);
    arch::check_cpu().unwrap_or_else(|e| fail(e));

    let mut esp = files::Esp::open().unwrap_or_else(|e| fail(e));
    let kernel_file = esp.read("kernel", true).unwrap_or_else(|e| fail(e));
    let initfs_file = esp.read("initfs", true).unwrap_or_else(|e| fail(e));
    let env_file = esp.read("env", false).unwrap_or_else(|e| fail(e));

    let mut mem = memory::KernelMemory::new();
    let kernel = elf::load(&kernel_file, arch::ELF_MACHINE, &mut mem).unwrap_or_else(|e| fail(e));
    drop(kernel_file);
    let initfs = mem.copy_in(&initfs_file).unwrap_or_else(|e| fail(e));
    let env = mem.copy_in(&env_file).unwrap_or_else(|e| fail(e));
    let (hwdesc_kind, hwdesc) = match arch::find_hwdesc() {
        Some((kind, bytes)) => (kind, mem.copy_in(bytes).unwrap_or_else(|e| fail(e))),
        None => fail("no hardware description (ACPI RSDP / device tree) in the UEFI configuration table"),
    };
    let stack = mem.allocate(tessera_bootinfo::BOOT_STACK_BYTES as usize).unwrap_or_else(|e| fail(e));
    let args_region = mem.allocate(core::mem::size_of::<KernelArgs>()).unwrap_or_else(|e| fail(e));

    let firmware_map = uefi::boot::memory_map(uefi::mem::memory_map::MemoryType::LOADER_DATA)
        .unwrap_or_else(|e| fail(format_args!("reading the memory map: {e:?}")));
    let tables = paging::build(&kernel, &firmware_map, &mut mem).unwrap_or_else(|e| fail(e));
    let mut areas = areas::AreaBuffer::new(firmware_map.len(), &mut mem).unwrap_or_else(|e| fail(e));
    drop(firmware_map);

    uefi::println!(
        "tessera-loader: kernel {} KiB at {:#x}, entry {:#x}; jumping",
        kernel.size_bytes / 1024,
        kernel.phys,
        kernel.entry
    );

    // SAFETY: nothing below uses boot services; every buffer the kernel needs
    // was allocated as kernel memory above and stays valid.
    let final_map = unsafe { boot::exit_boot_services(None) };
    let area_list: &[MemoryArea] = areas.fill(&final_map);

    let args = KernelArgs {
        magic: KernelArgs::MAGIC,
        version: KernelArgs::VERSION,
        hwdesc_kind,
        kernel_phys: kernel.phys,
        kernel_size_bytes: kernel.size_bytes,
        kernel_virt: kernel.virt,
        stack_phys: stack.phys(),
        stack_size_bytes: stack.len() as u64,
        page_table_phys: tables.root,
        env_phys: env.phys(),
        env_size_bytes: env.len() as u64,
        hwdesc_phys: hwdesc.phys(),
        hwdesc_size_bytes: hwdesc.len() as u64,
        areas_phys: area_list.as_ptr() as u64,
        areas_count: area_list.len() as u64,
        initfs_phys: initfs.phys(),
        initfs_size_bytes: initfs.len() as u64,
    };
    let args_ptr = args_region.as_mut_ptr().cast::<KernelArgs>();
    // SAFETY: the region is at least size_of::<KernelArgs>() bytes, page aligned
    // and owned by us.
    unsafe { args_ptr.write(args) };

    let jump = arch::Jump {
        table: tables.root,
        entry: kernel.entry,
        stack_top: PHYS_OFFSET + stack.phys() + stack.len() as u64,
        args: PHYS_OFFSET + args_ptr as u64,
    };
    // SAFETY: the tables map the kernel, the stack and the args (through the
    // physical map) and identity-map RAM, so the switch code keeps running.
    unsafe { arch::enter_kernel(jump, mem.regions()) }
}
