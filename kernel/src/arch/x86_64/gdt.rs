//! The kernel's GDT and TSS (the firmware's lived in boot-services memory,
//! which is free RAM now).
//!
//! Selector order is fixed by `syscall`/`sysret` (Intel SDM Vol. 3A §5.8.8):
//! kernel code, kernel data, then user data and user code, so that
//! `STAR[47:32] = KERNEL_CODE` and `STAR[63:48] = KERNEL_DATA` give user
//! `SS = KERNEL_DATA + 8` and `CS = KERNEL_DATA + 16`.
//!
//! The TSS holds `rsp0` (the kernel stack of the running thread, loaded by the
//! CPU on every trap from user mode) and IST 1, the double-fault stack, so a
//! kernel stack overflow is still reported.

use core::cell::UnsafeCell;

use spin::Once;
use x86_64::VirtAddr;
use x86_64::instructions::segmentation::{CS, DS, ES, SS, Segment};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;

/// IST slot (1-based in the IDT, 0-based in the TSS) for double faults.
pub const DOUBLE_FAULT_IST: u16 = 1;
const DOUBLE_FAULT_STACK_BYTES: usize = 16 * 1024;

/// Selectors, fixed by the append order in [`init`].
pub const KERNEL_CODE: u16 = 0x08;
pub const KERNEL_DATA: u16 = 0x10;
pub const USER_DATA: u16 = 0x18 | 3;
pub const USER_CODE: u16 = 0x20 | 3;

#[repr(align(16))]
#[allow(dead_code)] // only the address is used, by the CPU
struct Stack([u8; DOUBLE_FAULT_STACK_BYTES]);
static mut DOUBLE_FAULT_STACK: Stack = Stack([0; DOUBLE_FAULT_STACK_BYTES]);

/// The TSS, written by the CPU-local scheduler (`rsp0`) and read by the CPU.
struct Tss(UnsafeCell<TaskStateSegment>);
// SAFETY: one CPU for now; `rsp0` is only written with interrupts off by the
// CPU that owns it. (Per-CPU TSSs arrive with SMP.)
unsafe impl Sync for Tss {}

static TSS: Tss = Tss(UnsafeCell::new(TaskStateSegment::new()));
static GDT: Once<GlobalDescriptorTable> = Once::new();

/// Loads the GDT and TSS and reloads the segment registers.
pub fn init() {
    // SAFETY: runs once on the boot CPU before anything else uses the TSS.
    let tss = unsafe { &mut *TSS.0.get() };
    let top = VirtAddr::from_ptr(&raw const DOUBLE_FAULT_STACK) + DOUBLE_FAULT_STACK_BYTES as u64;
    tss.interrupt_stack_table[(DOUBLE_FAULT_IST - 1) as usize] = top;
    let gdt = GDT.call_once(|| {
        let mut gdt = GlobalDescriptorTable::new();
        let selectors = [
            gdt.append(Descriptor::kernel_code_segment()),
            gdt.append(Descriptor::kernel_data_segment()),
            gdt.append(Descriptor::user_data_segment()),
            gdt.append(Descriptor::user_code_segment()),
        ];
        let expected = [KERNEL_CODE, KERNEL_DATA, USER_DATA, USER_CODE];
        assert!(selectors.iter().zip(expected).all(|(s, e)| s.0 == e), "GDT selector layout");
        // SAFETY: the TSS is 'static and never moves.
        gdt.append(Descriptor::tss_segment(unsafe { &*TSS.0.get() }));
        gdt
    });
    gdt.load();
    // SAFETY: the selectors index the GDT just loaded, which is 'static; the
    // TSS selector is the fifth descriptor (two slots) at 0x28.
    unsafe {
        CS::set_reg(SegmentSelector(KERNEL_CODE));
        SS::set_reg(SegmentSelector(KERNEL_DATA));
        DS::set_reg(SegmentSelector(0));
        ES::set_reg(SegmentSelector(0));
        load_tss(SegmentSelector(0x28));
    }
}

/// Sets the stack the CPU switches to on a trap from user mode.
pub fn set_kernel_stack(top: u64) {
    // SAFETY: see `Tss`'s Sync argument; a plain field store.
    unsafe { (*TSS.0.get()).privilege_stack_table[0] = VirtAddr::new(top) };
}
