//! The local APIC of each CPU: enabling it with everything masked, its
//! timer, end of interrupt, the pending-interrupt bits and inter-processor
//! interrupts.
//!
//! References are to the Intel SDM Vol. 3A, chapter 10 "Advanced
//! Programmable Interrupt Controller (APIC)" (section numbers of the
//! 2016-2023 editions; later editions renumber the chapter but keep the
//! titles).
//!
//! Register access: in xAPIC mode the registers are a 4 KiB MMIO page at
//! the address in `IA32_APIC_BASE`, reached through the physical window
//! (which maps everything outside RAM as uncached device memory); in x2APIC
//! mode they are MSRs `0x800 + offset / 16` (§10.12.1.2 "x2APIC Register
//! Address Space"). Tessera uses xAPIC; x2APIC is used only if the firmware
//! left it on, because leaving x2APIC needs a full APIC disable (§10.12.5
//! "x2APIC State Transitions"). QEMU TCG exercises the xAPIC path only.

use core::sync::atomic::{Ordering, fence};

use spin::Once;
use tessera_bootinfo::phys_to_virt;
use x86_64::registers::model_specific::Msr;

/// `IA32_APIC_BASE` and its bits (§10.4.4 "Local APIC Status and
/// Location", Figure 10-5; EXTD: §10.12.1).
const IA32_APIC_BASE: u32 = 0x1B;
const APIC_BASE_BSP: u64 = 1 << 8;
const APIC_BASE_X2APIC: u64 = 1 << 10;
const APIC_BASE_ENABLE: u64 = 1 << 11;
const APIC_BASE_ADDRESS: u64 = 0x000F_FFFF_FFFF_F000;
/// The xAPIC register page (§10.4.1).
const XAPIC_PAGE_BYTES: u64 = 4096;
/// The physical window maps at least the low 4 GiB (`mm::paging`).
const WINDOW_GUARANTEED_END: u64 = 1 << 32;

/// Register offsets in the xAPIC page (§10.4.1, Table 10-1 "Local APIC
/// Register Address Map").
const ID: u32 = 0x020;
const VERSION: u32 = 0x030;
const TPR: u32 = 0x080;
const EOI: u32 = 0x0B0;
const SVR: u32 = 0x0F0;
const ISR: u32 = 0x100;
const IRR: u32 = 0x200;
const ESR: u32 = 0x280;
const LVT_CMCI: u32 = 0x2F0;
const ICR_LOW: u32 = 0x300;
const ICR_HIGH: u32 = 0x310;
const LVT_TIMER: u32 = 0x320;
const LVT_THERMAL: u32 = 0x330;
const LVT_PERFMON: u32 = 0x340;
const LVT_LINT0: u32 = 0x350;
const LVT_LINT1: u32 = 0x360;
const LVT_ERROR: u32 = 0x370;
const TIMER_INITIAL_COUNT: u32 = 0x380;
const TIMER_CURRENT_COUNT: u32 = 0x390;
const TIMER_DIVIDE: u32 = 0x3E0;
/// The x2APIC ICR: one 64-bit MSR (§10.12.9 "ICR Operation in x2APIC Mode").
const X2APIC_ICR_MSR: u32 = 0x830;

/// LVT entry bits (§10.5.1 "Local Vector Table", Figure 10-8).
const LVT_MASKED: u32 = 1 << 16;
const LVT_TIMER_PERIODIC: u32 = 0b01 << 17;
const LVT_DELIVERY_NMI: u32 = 0b100 << 8;
const LVT_DELIVERY_EXTINT: u32 = 0b111 << 8;
/// Timer divide configuration value for divide-by-16 (bits 0, 1, 3 = 0b011;
/// §10.5.4 "APIC Timer", Figure 10-10).
const TIMER_DIVIDE_BY_16: u32 = 0b0011;
/// SVR bit 8: APIC software enable (§10.9 "Spurious Interrupt", Figure 10-23).
const SVR_ENABLE: u32 = 1 << 8;
/// ICR bits (§10.6.1 "Interrupt Command Register (ICR)", Figure 10-12):
/// delivery mode fixed (000), physical destination (bit 11 = 0), no
/// shorthand, edge; level must be "assert" for every mode but INIT
/// de-assert; delivery status (xAPIC only) reads 1 while a send is pending.
const ICR_LEVEL_ASSERT: u32 = 1 << 14;
const ICR_SEND_PENDING: u32 = 1 << 12;

/// How this machine's local APICs are reached.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Memory-mapped, at this virtual address in the physical window.
    XApic { base_virt: u64 },
    /// Through MSRs.
    X2Apic,
}

static MODE: Once<Mode> = Once::new();

fn mode() -> Mode {
    *MODE.get().expect("the local APIC is used before irq::init_cpu")
}

fn read(offset: u32) -> u32 {
    match mode() {
        // SAFETY: `base_virt` maps this CPU's APIC page as device memory
        // (checked in `init_cpu`) and `offset` is a register of Table 10-1;
        // reading registers has no side effects.
        Mode::XApic { base_virt } => unsafe { ((base_virt + u64::from(offset)) as *const u32).read_volatile() },
        // SAFETY: the x2APIC MSR range exists in x2APIC mode; reads of the
        // registers used here have no side effects.
        Mode::X2Apic => unsafe { Msr::new(0x800 + offset / 16).read() as u32 },
    }
}

fn write(offset: u32, value: u32) {
    match mode() {
        // SAFETY: as in `read`; callers write values valid for the register.
        Mode::XApic { base_virt } => unsafe { ((base_virt + u64::from(offset)) as *mut u32).write_volatile(value) },
        // SAFETY: as in `read`.
        Mode::X2Apic => unsafe { Msr::new(0x800 + offset / 16).write(u64::from(value)) },
    }
}

/// Enables this CPU's local APIC with the spurious vector `spurious`, the
/// task priority at 0 (accept everything) and every local interrupt source
/// masked: timer, LINT0 (the 8259's ExtINT path), error, performance
/// monitor, thermal and CMCI. LINT1 stays an NMI input on the bootstrap CPU
/// only, as the MP specification wires it; APs mask it. Also retires any
/// interrupt the firmware left in service.
pub fn init_cpu(spurious: u8, timer_vector: u8, error_vector: u8) -> Result<(), &'static str> {
    let mut base_msr = Msr::new(IA32_APIC_BASE);
    // SAFETY: IA32_APIC_BASE exists on every x86_64 CPU (CPUID.1:EDX.APIC;
    // §10.4.4); setting the global-enable bit keeps the current mode and base.
    let base = unsafe {
        let value = base_msr.read();
        if value & APIC_BASE_ENABLE == 0 {
            base_msr.write(value | APIC_BASE_ENABLE);
        }
        value | APIC_BASE_ENABLE
    };
    let found = if base & APIC_BASE_X2APIC != 0 {
        Mode::X2Apic
    } else {
        let phys = base & APIC_BASE_ADDRESS;
        if phys + XAPIC_PAGE_BYTES > WINDOW_GUARANTEED_END {
            return Err("the local APIC is above 4 GiB, outside the guaranteed physical window");
        }
        Mode::XApic { base_virt: phys_to_virt(phys) }
    };
    if *MODE.call_once(|| found) != found {
        return Err("this CPU's local APIC mode or base differs from the boot CPU's");
    }

    // Software-enable first: while disabled, LVT mask bits are forced on
    // and writes cannot clear them (§10.4.7.2).
    write(SVR, SVR_ENABLE | u32::from(spurious));
    write(TPR, 0);
    write(TIMER_INITIAL_COUNT, 0);
    write(LVT_TIMER, LVT_MASKED | u32::from(timer_vector));
    write(LVT_LINT0, LVT_MASKED | LVT_DELIVERY_EXTINT);
    let is_bsp = base & APIC_BASE_BSP != 0;
    write(LVT_LINT1, if is_bsp { LVT_DELIVERY_NMI } else { LVT_MASKED | LVT_DELIVERY_NMI });
    write(LVT_ERROR, LVT_MASKED | u32::from(error_vector));
    // Version register bits 23:16: index of the last LVT entry (§10.4.8).
    let max_lvt = (read(VERSION) >> 16) & 0xFF;
    if max_lvt >= 4 {
        write(LVT_PERFMON, LVT_MASKED);
    }
    if max_lvt >= 5 {
        write(LVT_THERMAL, LVT_MASKED);
    }
    if max_lvt >= 6 {
        write(LVT_CMCI, LVT_MASKED);
    }
    // A write (of 0) latches the errors seen so far, clearing them (§10.5.3).
    write(ESR, 0);
    // Each EOI retires the highest-priority in-service interrupt (§10.8.5).
    for _ in 0..256 {
        if (0..8).all(|i| read(ISR + 0x10 * i) == 0) {
            break;
        }
        end_of_interrupt();
    }
    Ok(())
}

/// This CPU's APIC ID (§10.4.6 "Local APIC ID": bits 31:24 in xAPIC mode,
/// the whole register in x2APIC mode).
pub fn id() -> u32 {
    match mode() {
        Mode::XApic { .. } => read(ID) >> 24,
        Mode::X2Apic => read(ID),
    }
}

/// Signals the end of the interrupt in service (§10.8.5 "Signaling
/// Interrupt Servicing Completion"). Not for the spurious vector, which is
/// never in service.
pub fn end_of_interrupt() {
    write(EOI, 0);
}

/// Whether `vector` is requested and not yet accepted by the CPU: its bit
/// in the IRR (§10.8.4 "Interrupt Acceptance for Fixed Interrupts").
pub fn is_pending(vector: u8) -> bool {
    let word = read(IRR + 0x10 * u32::from(vector / 32));
    word & (1 << (vector % 32)) != 0
}

/// Starts the timer at bus clock / 16 from `initial_count`, masked,
/// one-shot: a free-running count-down to measure against a reference.
pub fn start_counting(initial_count: u32, vector: u8) {
    write(TIMER_DIVIDE, TIMER_DIVIDE_BY_16);
    write(LVT_TIMER, LVT_MASKED | u32::from(vector));
    write(TIMER_INITIAL_COUNT, initial_count);
}

/// The timer's current count.
pub fn current_count() -> u32 {
    read(TIMER_CURRENT_COUNT)
}

/// Starts the timer in periodic mode: every `count` ticks of bus clock / 16
/// the count reloads and, unless `masked`, raises `vector`. Writing the
/// initial count starts (or restarts) the count-down (§10.5.4).
pub fn start_periodic(count: u32, vector: u8, masked: bool) {
    write(TIMER_DIVIDE, TIMER_DIVIDE_BY_16);
    let mask = if masked { LVT_MASKED } else { 0 };
    write(LVT_TIMER, LVT_TIMER_PERIODIC | mask | u32::from(vector));
    write(TIMER_INITIAL_COUNT, count);
}

/// Masks the timer and stops its count (an initial count of 0 stops it,
/// §10.5.4).
pub fn stop_timer(vector: u8) {
    write(LVT_TIMER, LVT_MASKED | u32::from(vector));
    write(TIMER_INITIAL_COUNT, 0);
}

/// Sends an INIT (`startup_page == None`) or a STARTUP IPI (real-mode entry
/// at `startup_page << 12`) to APIC ID `apic_id` (§10.6.1, §8.4.4.1 "Typical
/// BSP Initialization Sequence").
pub fn send_init_or_startup(apic_id: u32, startup_page: Option<u8>) {
    const DELIVERY_INIT: u32 = 0b101 << 8;
    const DELIVERY_STARTUP: u32 = 0b110 << 8;
    let low = ICR_LEVEL_ASSERT
        | match startup_page {
            None => DELIVERY_INIT,
            Some(page) => DELIVERY_STARTUP | u32::from(page),
        };
    fence(Ordering::SeqCst);
    match mode() {
        Mode::XApic { .. } => {
            while read(ICR_LOW) & ICR_SEND_PENDING != 0 {
                core::hint::spin_loop();
            }
            write(ICR_HIGH, apic_id << 24);
            write(ICR_LOW, low);
        }
        // SAFETY: the x2APIC ICR MSR exists in x2APIC mode (§10.12.9).
        Mode::X2Apic => unsafe { Msr::new(X2APIC_ICR_MSR).write(u64::from(apic_id) << 32 | u64::from(low)) },
    }
}

/// Sends a fixed interrupt at `vector` to the CPU whose APIC ID is
/// `apic_id`, physical destination mode (§10.6.1).
pub fn send_ipi(apic_id: u32, vector: u8) {
    let low = ICR_LEVEL_ASSERT | u32::from(vector);
    // The target must see every store made before the IPI: MMIO and WRMSR
    // writes to the x2APIC are not ordered after earlier stores by
    // themselves (§10.12.3), so fence first.
    fence(Ordering::SeqCst);
    // No interrupt may come between the ICR writes: a handler that sends an
    // IPI itself would change the destination under us.
    x86_64::instructions::interrupts::without_interrupts(|| match mode() {
        Mode::XApic { .. } => {
            assert!(apic_id <= 0xFF, "xAPIC IPIs reach APIC IDs up to 255 only");
            while read(ICR_LOW) & ICR_SEND_PENDING != 0 {
                core::hint::spin_loop();
            }
            write(ICR_HIGH, apic_id << 24);
            write(ICR_LOW, low); // this write sends
        }
        // SAFETY: the x2APIC ICR MSR exists in x2APIC mode; the value is a
        // fixed, physical-destination IPI (§10.12.9).
        Mode::X2Apic => unsafe { Msr::new(X2APIC_ICR_MSR).write(u64::from(apic_id) << 32 | u64::from(low)) },
    });
}
