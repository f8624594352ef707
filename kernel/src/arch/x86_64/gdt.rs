//! The kernel's GDT and TSS (the firmware's lived in boot-services memory,
//! which is free RAM now). The TSS gives double faults their own stack, so a
//! kernel stack overflow is still reported.

use spin::Once;
use x86_64::VirtAddr;
use x86_64::instructions::segmentation::{CS, DS, ES, SS, Segment};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;

/// IST slot (1-based in the IDT, 0-based in the TSS) for double faults.
pub const DOUBLE_FAULT_IST: u16 = 1;
const DOUBLE_FAULT_STACK_BYTES: usize = 16 * 1024;

#[repr(align(16))]
#[allow(dead_code)] // only the address is used, by the CPU
struct Stack([u8; DOUBLE_FAULT_STACK_BYTES]);
static mut DOUBLE_FAULT_STACK: Stack = Stack([0; DOUBLE_FAULT_STACK_BYTES]);

static TSS: Once<TaskStateSegment> = Once::new();
static GDT: Once<(GlobalDescriptorTable, SegmentSelector, SegmentSelector, SegmentSelector)> = Once::new();

/// Kernel code selector (for IDT gates).
pub fn code_selector() -> u16 {
    GDT.get().expect("gdt::init ran").1.0
}

/// Loads the GDT and TSS and reloads the segment registers.
pub fn init() {
    let tss = TSS.call_once(|| {
        let mut tss = TaskStateSegment::new();
        let top = VirtAddr::from_ptr(&raw const DOUBLE_FAULT_STACK) + DOUBLE_FAULT_STACK_BYTES as u64;
        tss.interrupt_stack_table[(DOUBLE_FAULT_IST - 1) as usize] = top;
        tss
    });
    let (gdt, code, data, tss_sel) = GDT.call_once(|| {
        let mut gdt = GlobalDescriptorTable::new();
        let code = gdt.append(Descriptor::kernel_code_segment());
        let data = gdt.append(Descriptor::kernel_data_segment());
        let tss_sel = gdt.append(Descriptor::tss_segment(tss));
        (gdt, code, data, tss_sel)
    });
    gdt.load();
    // SAFETY: the selectors index the GDT just loaded, which is 'static.
    unsafe {
        CS::set_reg(*code);
        SS::set_reg(*data);
        DS::set_reg(*data);
        ES::set_reg(*data);
        load_tss(*tss_sel);
    }
}
