//! Starting the other CPUs with PSCI `CPU_ON` (Arm DEN 0022 §5.6): each CPU
//! starts at the physical address of [`secondary_start`] at EL1 with the MMU
//! off, loads MAIR/TCR/SCTLR as the boot CPU has them, TTBR1 = the kernel
//! table, TTBR0 = a boot table identity-mapping the kernel image (so the
//! instruction after turning the MMU on is still mapped), then jumps to
//! [`secondary_entry`] in the higher half on its own stack.

use alloc::vec::Vec;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicUsize, Ordering};

use rmm::PhysAddr;
use tessera_bootinfo::KernelArgs;

use super::{dtb, irq, trap};

/// PSCI 0.2+ function CPU_ON, SMC64 convention.
const PSCI_CPU_ON: u64 = 0xC400_0003;

/// What `secondary_start` reads with the MMU off (cleaned to the point of
/// coherency before CPU_ON).
#[repr(C, align(64))]
struct BootBlock {
    mair: u64,
    tcr: u64,
    ttbr0: u64,
    ttbr1: u64,
    sctlr: u64,
    stack_top: u64,
    entry: u64,
    index: u64,
}

core::arch::global_asm!(
    r#"
.text
.balign 4096
.global secondary_start
secondary_start:
    msr spsel, #1
    ldr x1, [x0, #0]
    msr mair_el1, x1
    ldr x1, [x0, #8]
    msr tcr_el1, x1
    ldr x1, [x0, #16]
    msr ttbr0_el1, x1
    ldr x1, [x0, #24]
    msr ttbr1_el1, x1
    ldr x2, [x0, #40]
    ldr x3, [x0, #48]
    ldr x4, [x0, #56]
    ldr x1, [x0, #32]
    isb
    tlbi vmalle1
    dsb nsh
    isb
    msr sctlr_el1, x1
    isb
    ic iallu
    dsb nsh
    isb
    mov sp, x2
    mov x0, x4
    mov x29, xzr
    mov x30, xzr
    br x3
"#
);

unsafe extern "C" {
    static secondary_start: u8;
}

/// The block of the CPU being started (one at a time: `start_cpu` waits),
/// in the kernel image so its physical address is known.
struct BlockSlot(UnsafeCell<BootBlock>);
// SAFETY: only `start_cpu` writes it, one CPU start at a time, before the
// started CPU reads it.
unsafe impl Sync for BlockSlot {}
static BLOCK: BlockSlot = BlockSlot(UnsafeCell::new(BootBlock {
    mair: 0,
    tcr: 0,
    ttbr0: 0,
    ttbr1: 0,
    sctlr: 0,
    stack_top: 0,
    entry: 0,
    index: 0,
}));

static ARRIVED: AtomicUsize = AtomicUsize::new(0);
static KERNEL_PHYS: AtomicUsize = AtomicUsize::new(0);
static KERNEL_VIRT: AtomicUsize = AtomicUsize::new(0);
pub(super) static PSCI_HVC: AtomicUsize = AtomicUsize::new(0);

/// The MPIDRs of every CPU, and this CPU's.
pub fn cpu_ids(args: &KernelArgs) -> Result<(Vec<usize>, usize), &'static str> {
    KERNEL_PHYS.store(args.kernel_phys as usize, Ordering::Relaxed);
    KERNEL_VIRT.store(args.kernel_virt as usize, Ordering::Relaxed);
    PSCI_HVC.store(dtb::psci_uses_hvc(args)? as usize, Ordering::Relaxed);
    Ok((dtb::cpu_mpidrs(args)?, irq::hardware_id()))
}

/// The physical ranges a starting CPU needs identity-mapped: the kernel image.
pub fn identity_ranges(args: &KernelArgs) -> [(u64, u64); 1] {
    [(args.kernel_phys, args.kernel_phys + args.kernel_size_bytes)]
}

fn physical(virt: *const u8) -> u64 {
    virt as u64 - KERNEL_VIRT.load(Ordering::Relaxed) as u64 + KERNEL_PHYS.load(Ordering::Relaxed) as u64
}

fn clean_to_poc(start: u64, len: usize) {
    let ctr: u64;
    // SAFETY: reading CTR_EL0 has no side effects.
    unsafe { core::arch::asm!("mrs {}, ctr_el0", out(reg) ctr) };
    let line = 4u64 << ((ctr >> 16) & 0xF);
    let mut addr = start & !(line - 1);
    while addr < start + len as u64 {
        // SAFETY: the address is mapped and ours.
        unsafe { core::arch::asm!("dc cvac, {}", in(reg) addr) };
        addr += line;
    }
    // SAFETY: a barrier only.
    unsafe { core::arch::asm!("dsb sy") };
}

pub(super) fn psci_call(function: u64, a: u64, b: u64, c: u64) -> i64 {
    let result: i64;
    // SAFETY: PSCI calls return to us with x0 = status; x1-x3 and x4-x17
    // may be clobbered per the SMC calling convention.
    unsafe {
        if PSCI_HVC.load(Ordering::Relaxed) != 0 {
            core::arch::asm!("hvc #0", inlateout("x0") function as i64 => result, inlateout("x1") a => _,
                inlateout("x2") b => _, inlateout("x3") c => _, clobber_abi("C"), options(nostack));
        } else {
            core::arch::asm!("smc #0", inlateout("x0") function as i64 => result, inlateout("x1") a => _,
                inlateout("x2") b => _, inlateout("x3") c => _, clobber_abi("C"), options(nostack));
        }
    }
    result
}

/// Starts CPU `hw_id` (MPIDR) as kernel CPU `index` on the stack ending at
/// `stack_top`, with `boot_root` identity-mapping the kernel image for
/// TTBR0. Returns once it runs.
pub fn start_cpu(hw_id: usize, index: usize, stack_top: u64, boot_root: PhysAddr) -> Result<(), &'static str> {
    let (mair, tcr, ttbr1, sctlr): (u64, u64, u64, u64);
    // SAFETY: reading the boot CPU's translation registers.
    unsafe {
        core::arch::asm!("mrs {}, mair_el1", out(reg) mair);
        core::arch::asm!("mrs {}, tcr_el1", out(reg) tcr);
        core::arch::asm!("mrs {}, ttbr1_el1", out(reg) ttbr1);
        core::arch::asm!("mrs {}, sctlr_el1", out(reg) sctlr);
    }
    let block = BLOCK.0.get();
    // SAFETY: see BlockSlot: no other CPU reads the block until CPU_ON below.
    unsafe {
        block.write(BootBlock {
            mair,
            tcr,
            ttbr0: boot_root.get(),
            ttbr1,
            sctlr,
            stack_top,
            entry: secondary_entry as *const () as u64,
            index: index as u64,
        })
    };
    clean_to_poc(block as u64, core::mem::size_of::<BootBlock>());
    let block_phys = physical(block as *const u8);
    ARRIVED.store(0, Ordering::SeqCst);
    let status = psci_call(PSCI_CPU_ON, hw_id as u64, physical(&raw const secondary_start), block_phys);
    if status != 0 {
        return Err(match status {
            -2 => "PSCI CPU_ON: invalid parameters",
            -4 => "PSCI CPU_ON: already on",
            -5 => "PSCI CPU_ON: on pending",
            _ => "PSCI CPU_ON failed",
        });
    }
    let deadline = super::time::monotonic_ns() + 1_000_000_000;
    while super::time::monotonic_ns() < deadline {
        if ARRIVED.load(Ordering::SeqCst) == index {
            return Ok(());
        }
        core::hint::spin_loop();
    }
    Err("the CPU did not arrive within 1 s of CPU_ON")
}

/// Where a started CPU enters the kernel, MMU on, on its own stack.
extern "C" fn secondary_entry(index: usize) -> ! {
    // SAFETY: TPIDR_EL1 is the kernel's per-CPU index register (no other use).
    unsafe { core::arch::asm!("msr tpidr_el1, {}", in(reg) index) };
    trap::init();
    super::context::init_fpu();
    super::protect::init_cpu();
    super::cache::init_cpu();
    ARRIVED.store(index, Ordering::SeqCst);
    super::hooks::secondary_main(index)
}

/// This CPU's index.
pub fn cpu_index() -> usize {
    let index: usize;
    // SAFETY: TPIDR_EL1 holds the index (0 on the boot CPU, set in kstart).
    unsafe { core::arch::asm!("mrs {}, tpidr_el1", out(reg) index, options(nomem, nostack)) };
    index
}
