//! Starting the other CPUs (Intel SDM Vol. 3A §8.4.4 "MP Initialization
//! Example"): the real-mode trampoline below is copied to physical
//! [`TRAMPOLINE_PHYS`] (in the first MiB, which the frame allocator never
//! hands out), and each CPU gets INIT, then STARTUP twice. The trampoline
//! enters protected mode, then long mode on a boot table that maps the
//! kernel half and identity-maps the first 2 MiB, and jumps to
//! [`secondary_entry`] on the CPU's own stack.

use core::sync::atomic::{AtomicUsize, Ordering};

use rmm::PhysAddr;
use tessera_bootinfo::{KernelArgs, phys_to_virt};

use super::{apic, gdt, trap};

/// Where the trampoline runs (page 8: a valid STARTUP vector).
pub const TRAMPOLINE_PHYS: u64 = 0x8000;

core::arch::global_asm!(
    r#"
.section .rodata.trampoline, "a"
.balign 16
.global ap_trampoline_start
ap_trampoline_start:
.code16
    cli
    cld
    xorw %ax, %ax
    movw %ax, %ds
    lgdt 0x8000 + (tr_gdt_ptr - ap_trampoline_start)
    movl %cr0, %eax
    orl $1, %eax
    movl %eax, %cr0
    ljmp $0x08, $(0x8000 + tr_protected - ap_trampoline_start)
.code32
tr_protected:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movl %cr4, %eax
    orl $0x20, %eax
    movl %eax, %cr4
    movl 0x8000 + (ap_trampoline_cr3 - ap_trampoline_start), %eax
    movl %eax, %cr3
    movl $0xC0000080, %ecx
    rdmsr
    orl $0x901, %eax
    wrmsr
    movl %cr0, %eax
    orl $0x80010000, %eax
    movl %eax, %cr0
    ljmp $0x18, $(0x8000 + tr_long - ap_trampoline_start)
.code64
tr_long:
    movq 0x8000 + (ap_trampoline_stack - ap_trampoline_start), %rsp
    movq 0x8000 + (ap_trampoline_index - ap_trampoline_start), %rdi
    movq 0x8000 + (ap_trampoline_entry - ap_trampoline_start), %rax
    xorl %ebp, %ebp
    pushq $0
    jmpq *%rax
.balign 8
tr_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff
    .quad 0x00cf92000000ffff
    .quad 0x00af9a000000ffff
tr_gdt_ptr:
    .word tr_gdt_ptr - tr_gdt - 1
    .long 0x8000 + (tr_gdt - ap_trampoline_start)
.balign 8
.global ap_trampoline_cr3
ap_trampoline_cr3:
    .quad 0
.global ap_trampoline_stack
ap_trampoline_stack:
    .quad 0
.global ap_trampoline_entry
ap_trampoline_entry:
    .quad 0
.global ap_trampoline_index
ap_trampoline_index:
    .quad 0
.global ap_trampoline_end
ap_trampoline_end:
.text
"#,
    options(att_syntax)
);

unsafe extern "C" {
    static ap_trampoline_start: u8;
    static ap_trampoline_end: u8;
    static ap_trampoline_cr3: u8;
    static ap_trampoline_stack: u8;
    static ap_trampoline_entry: u8;
    static ap_trampoline_index: u8;
}

/// Set by a starting CPU to its index once it runs kernel code.
static ARRIVED: AtomicUsize = AtomicUsize::new(0);

fn offset(symbol: *const u8) -> u64 {
    symbol as u64 - (&raw const ap_trampoline_start) as u64
}

/// The hardware ids (APIC ids) of every CPU, and this CPU's.
pub fn cpu_ids(args: &KernelArgs) -> Result<(alloc::vec::Vec<usize>, usize), &'static str> {
    let ids = super::acpi::cpu_apic_ids(args)?;
    Ok((ids.into_iter().map(|id| id as usize).collect(), apic::id() as usize))
}

/// The physical ranges a starting CPU needs identity-mapped: the trampoline.
pub fn identity_ranges(_args: &KernelArgs) -> [(u64, u64); 1] {
    [(0, 2 << 20)]
}

fn wait_until(deadline_ns: u64, done: impl Fn() -> bool) -> bool {
    while super::time::monotonic_ns() < deadline_ns {
        if done() {
            return true;
        }
        core::hint::spin_loop();
    }
    done()
}

/// Starts CPU `hw_id` as kernel CPU `index` on the stack ending at
/// `stack_top`, with `boot_root` (kernel half + identity map of the first
/// 2 MiB, below 4 GiB) as its first page table. Returns once it runs.
pub fn start_cpu(hw_id: usize, index: usize, stack_top: u64, boot_root: PhysAddr) -> Result<(), &'static str> {
    if boot_root.get() >= 1 << 32 {
        return Err("the boot page table is above 4 GiB");
    }
    // The start-up table runs kernel code: all of the kernel half, not the
    // shadow a user root gets.
    super::kpti::share_kernel_half(boot_root);
    let base = phys_to_virt(TRAMPOLINE_PHYS) as *mut u8;
    let len = offset(&raw const ap_trampoline_end) as usize;
    // SAFETY: the first MiB is reserved from the frame allocator and mapped
    // in the physical window; the trampoline is a few hundred bytes; the
    // fields are 8-byte slots inside it.
    unsafe {
        core::ptr::copy_nonoverlapping(&raw const ap_trampoline_start, base, len);
        let field = |symbol: *const u8| base.add(offset(symbol) as usize).cast::<u64>();
        field(&raw const ap_trampoline_cr3).write(boot_root.get());
        field(&raw const ap_trampoline_stack).write(stack_top);
        field(&raw const ap_trampoline_entry).write(secondary_entry as *const () as u64);
        field(&raw const ap_trampoline_index).write(index as u64);
    }
    ARRIVED.store(0, Ordering::SeqCst);
    let now = super::time::monotonic_ns;
    let hw_id = hw_id as u32;
    apic::send_init_or_startup(hw_id, None);
    wait_until(now() + 10_000_000, || false);
    for _ in 0..2 {
        apic::send_init_or_startup(hw_id, Some((TRAMPOLINE_PHYS >> 12) as u8));
        if wait_until(now() + 1_000_000, || ARRIVED.load(Ordering::SeqCst) == index) {
            return Ok(());
        }
    }
    if wait_until(now() + 1_000_000_000, || ARRIVED.load(Ordering::SeqCst) == index) {
        Ok(())
    } else {
        Err("the CPU did not answer INIT/STARTUP within 1 s")
    }
}

/// Where a started CPU enters the kernel, in long mode on the boot table.
extern "C" fn secondary_entry(index: usize) -> ! {
    let tss = gdt::init_secondary(index);
    super::kpti::install_cpu(index, tss);
    trap::init();
    super::context::init_fpu();
    super::protect::init_cpu();
    ARRIVED.store(index, Ordering::SeqCst);
    super::hooks::secondary_main(index)
}
