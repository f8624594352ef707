//! The kernel's GDTs and TSSs, one pair per CPU in its entry area (`kpti`;
//! the firmware's lived in boot-services memory, which is free RAM now).
//!
//! Selector order is fixed by `syscall`/`sysret` (Intel SDM Vol. 3A §5.8.8):
//! kernel code, kernel data, then user data and user code, so that
//! `STAR[47:32] = KERNEL_CODE` and `STAR[63:48] = KERNEL_DATA` give user
//! `SS = KERNEL_DATA + 8` and `CS = KERNEL_DATA + 16`.
//!
//! The TSS holds `rsp0` (the CPU's entry stack, loaded by the CPU on every
//! trap from user mode; see `percpu`) and IST 1,
//! the double-fault stack, so a kernel stack overflow is still reported.

use alloc::boxed::Box;
use core::cell::UnsafeCell;

use x86_64::VirtAddr;
use x86_64::instructions::segmentation::{CS, DS, ES, SS, Segment};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;

/// IST slot (1-based in the IDT, 0-based in the TSS) for double faults.
pub const DOUBLE_FAULT_IST: u16 = 1;
const DOUBLE_FAULT_STACK_BYTES: usize = 16 * 1024;

/// Selectors, fixed by the append order in [`load`].
pub const KERNEL_CODE: u16 = 0x08;
pub const KERNEL_DATA: u16 = 0x10;
pub const USER_DATA: u16 = 0x18 | 3;
pub const USER_CODE: u16 = 0x20 | 3;
const TSS_SELECTOR: u16 = 0x28;

#[repr(align(16))]
#[allow(dead_code)] // only the address is used, by the CPU
struct Stack([u8; DOUBLE_FAULT_STACK_BYTES]);

/// The boot CPU's double-fault stack, static because it is needed before
/// the heap. (Not in the entry area: a double fault while the user root is
/// loaded cannot be reported anyway; see `kpti`.)
struct BootStack(UnsafeCell<Stack>);
// SAFETY: only the boot CPU touches it, once, in `init_boot`.
unsafe impl Sync for BootStack {}

static BOOT_STACK: BootStack = BootStack(UnsafeCell::new(Stack([0; DOUBLE_FAULT_STACK_BYTES])));

/// CPU `index`'s GDT and TSS, fresh, in its entry area (the CPU reads them
/// while the user root is loaded too).
fn tables(index: usize) -> (&'static mut GlobalDescriptorTable, &'static mut TaskStateSegment) {
    let area = super::kpti::area(index);
    // SAFETY: the area is this CPU's alone and lives forever; both are
    // written before the references are made.
    unsafe {
        let gdt = &raw mut (*area).gdt;
        let tss = &raw mut (*area).tss;
        gdt.write(GlobalDescriptorTable::new());
        tss.write(TaskStateSegment::new());
        (&mut *gdt, &mut *tss)
    }
}

/// Fills `gdt` and `tss`, loads them and reloads the segment registers.
fn load(gdt: &'static mut GlobalDescriptorTable, tss: &'static mut TaskStateSegment, df_stack_top: u64) {
    tss.interrupt_stack_table[(DOUBLE_FAULT_IST - 1) as usize] = VirtAddr::new(df_stack_top);
    let selectors = [
        gdt.append(Descriptor::kernel_code_segment()),
        gdt.append(Descriptor::kernel_data_segment()),
        gdt.append(Descriptor::user_data_segment()),
        gdt.append(Descriptor::user_code_segment()),
        gdt.append(Descriptor::tss_segment(tss)),
    ];
    let expected = [KERNEL_CODE, KERNEL_DATA, USER_DATA, USER_CODE, TSS_SELECTOR];
    assert!(selectors.iter().zip(expected).all(|(s, e)| s.0 == e), "GDT selector layout");
    gdt.load();
    // SAFETY: the selectors index the GDT just loaded, which is 'static.
    unsafe {
        CS::set_reg(SegmentSelector(KERNEL_CODE));
        SS::set_reg(SegmentSelector(KERNEL_DATA));
        DS::set_reg(SegmentSelector(0));
        ES::set_reg(SegmentSelector(0));
        load_tss(SegmentSelector(TSS_SELECTOR));
    }
}

/// The boot CPU's GDT and TSS; returns the TSS for the per-CPU block.
pub fn init_boot() -> *mut TaskStateSegment {
    let (gdt, tss) = tables(0);
    let top = BOOT_STACK.0.get() as u64 + DOUBLE_FAULT_STACK_BYTES as u64;
    let tss_ptr: *mut TaskStateSegment = tss;
    load(gdt, tss, top);
    tss_ptr
}

/// CPU `index`'s GDT and TSS (its double-fault stack heap-allocated, kept
/// forever).
pub fn init_secondary(index: usize) -> *mut TaskStateSegment {
    let (gdt, tss) = tables(index);
    // SAFETY: an all-zero byte array is a valid Stack; allocating it zeroed
    // keeps 16 KiB off this CPU's small boot stack.
    let stack = Box::leak(unsafe { Box::<Stack>::new_zeroed().assume_init() });
    let top = stack as *mut Stack as u64 + DOUBLE_FAULT_STACK_BYTES as u64;
    let tss_ptr: *mut TaskStateSegment = tss;
    load(gdt, tss, top);
    tss_ptr
}
