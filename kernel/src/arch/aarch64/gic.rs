//! The GICv3 interrupt controller: the distributor (SPIs, shared by all
//! CPUs), one redistributor per CPU (its SGIs and PPIs) and each CPU's
//! system-register interface (acknowledge, end of interrupt, SGIs). Why
//! GICv3 and not QEMU `virt`'s default GICv2: docs/interrupts.md.
//!
//! References are to the GIC architecture specification (Arm IHI 0069,
//! GICv3 and GICv4): §2.2 "INTIDs", and the register maps and register
//! descriptions of chapter 12 "Programmers' model" for the distributor
//! (`GICD_*`), the redistributors (`GICR_*`) and the CPU interface
//! (`ICC_*_EL1`, also in the Arm ARM). Every interrupt is configured as Non-secure Group 1, the group
//! a kernel at Non-secure EL1 receives as IRQ; QEMU `virt` without
//! `secure=on` has a single security state (GICD_CTLR.DS = 1), where the
//! same settings give plain Group 1.
//!
//! Registers are reached through the physical window, which maps the
//! GIC's frames (outside RAM, below 4 GiB on QEMU) as Device-nGnRE.

use aarch64_cpu::registers::{MPIDR_EL1, Readable};
use fdt::Fdt;
use spin::Once;
use tessera_bootinfo::phys_to_virt;

/// The physical window maps at least the low 4 GiB (`mm::paging`).
const WINDOW_GUARANTEED_END: u64 = 1 << 32;
/// Redistributor regions we keep (QEMU `virt` has one up to 123 CPUs).
const MAX_REDISTRIBUTOR_REGIONS: usize = 4;

/// Distributor registers (ch. 12, the distributor register map).
const GICD_CTLR: u64 = 0x0000;
const GICD_TYPER: u64 = 0x0004;
const GICD_IGROUPR: u64 = 0x0080;
const GICD_ISENABLER: u64 = 0x0100;
const GICD_ICENABLER: u64 = 0x0180;
const GICD_ICPENDR: u64 = 0x0280;
const GICD_ICACTIVER: u64 = 0x0380;
const GICD_IPRIORITYR: u64 = 0x0400;
/// Two bits per INTID; the upper one set means edge-triggered.
const GICD_ICFGR: u64 = 0x0C00;
/// One 64-bit register per INTID: the affinity of the CPU an SPI goes to
/// (Interrupt_Routing_Mode, bit 31, clear).
const GICD_IROUTER: u64 = 0x6000;
/// GICD_CTLR: register write pending; affinity routing (ARE_NS, or ARE when
/// DS = 1); Group 1 enables (EnableGrp1A and EnableGrp1 in the Non-secure
/// view, EnableGrp1 and EnableGrp0 when DS = 1; the kernel uses no Group 0
/// interrupt, so enabling it changes nothing).
const GICD_CTLR_RWP: u32 = 1 << 31;
const GICD_CTLR_ARE_NS: u32 = 1 << 4;
const GICD_CTLR_ENABLE_G1A: u32 = 1 << 1;
const GICD_CTLR_ENABLE_G1: u32 = 1 << 0;
/// GICD_TYPER: ITLinesNumber (INTIDs up to 32 * (N + 1) - 1) and RSS
/// (SGIs can target Aff0 values above 15).
const GICD_TYPER_IT_LINES: u32 = 0x1F;
const GICD_TYPER_RSS: u32 = 1 << 26;

/// Redistributor RD_base frame registers (ch. 12, the redistributor
/// register map).
const GICR_CTLR: u64 = 0x0000;
const GICR_TYPER: u64 = 0x0008;
const GICR_WAKER: u64 = 0x0014;
const GICR_CTLR_RWP: u32 = 1 << 3;
const GICR_TYPER_LAST: u64 = 1 << 4;
const GICR_TYPER_VLPIS: u64 = 1 << 1;
const GICR_WAKER_PROCESSOR_SLEEP: u32 = 1 << 1;
const GICR_WAKER_CHILDREN_ASLEEP: u32 = 1 << 2;
/// The SGI_base frame follows RD_base; GICv4 adds two more 64 KiB frames
/// for virtual LPIs (GICR_TYPER.VLPIS).
const FRAME_BYTES: u64 = 0x1_0000;
/// SGI_base frame registers, for INTIDs 0-31 of this CPU.
const GICR_IGROUPR0: u64 = 0x0080;
const GICR_ISENABLER0: u64 = 0x0100;
const GICR_ICENABLER0: u64 = 0x0180;
const GICR_ISPENDR0: u64 = 0x0200;
const GICR_ICPENDR0: u64 = 0x0280;
const GICR_ICACTIVER0: u64 = 0x0380;
const GICR_IPRIORITYR: u64 = 0x0400;

/// Priority of every interrupt: the middle of the range the Non-secure
/// side can use (it sees 0x80-0xF8 when security is on); no nesting yet.
const DEFAULT_PRIORITY: u8 = 0xA0;
/// ICC_PMR_EL1: interrupts with a priority value below this are signalled.
const PRIORITY_MASK: u64 = 0xF0;
/// ICC_SRE_EL1: system-register interface on, FIQ and IRQ bypass disabled.
const ICC_SRE_SRE: u64 = 1 << 0;
const ICC_SRE_DFB: u64 = 1 << 1;
const ICC_SRE_DIB: u64 = 1 << 2;
/// ICC_CTLR_EL1.EOImode: 0 = a write to ICC_EOIR1_EL1 both drops the
/// priority and deactivates the interrupt.
const ICC_CTLR_EOIMODE: u64 = 1 << 1;
/// INTIDs 1020-1023 are special: no interrupt to handle (1023: spurious).
const SPECIAL_INTIDS: core::ops::RangeInclusive<u32> = 1020..=1023;

/// The INTID field (bits 23:0) of ICC_IAR1_EL1 / ICC_HPPIR1_EL1, unless
/// it is a special INTID.
fn real_intid(register: u64) -> Option<u32> {
    let intid = (register & 0xFF_FFFF) as u32;
    (!SPECIAL_INTIDS.contains(&intid)).then_some(intid)
}

/// Where the GIC's registers are, from the device tree.
struct Gic {
    distributor: u64,
    /// (virtual base, size) of each redistributor region.
    redistributor_regions: [(u64, u64); MAX_REDISTRIBUTOR_REGIONS],
    region_count: usize,
    /// The `redistributor-stride` property, if present.
    stride: Option<u64>,
    /// Whether SGIs can target Aff0 values above 15 (GICD_TYPER.RSS).
    range_selector: bool,
}

static GIC: Once<Gic> = Once::new();

fn gic() -> &'static Gic {
    GIC.get().expect("the GIC is used before irq::init")
}

fn read32(addr: u64) -> u32 {
    // SAFETY: every caller passes a register of the distributor or of a
    // redistributor found in the device tree and mapped as device memory
    // in the physical window (checked in `init`); reads of the registers
    // used here have no side effects.
    unsafe { (addr as *const u32).read_volatile() }
}

fn read64(addr: u64) -> u64 {
    // SAFETY: as in `read32`; GICR_TYPER is a 64-bit register, and the
    // GIC allows 64-bit accesses to its 64-bit registers.
    unsafe { (addr as *const u64).read_volatile() }
}

fn write32(addr: u64, value: u32) {
    // SAFETY: as in `read32`; callers write values valid for the register.
    unsafe { (addr as *mut u32).write_volatile(value) }
}

fn write64(addr: u64, value: u64) {
    // SAFETY: as in `read64`; GICD_IROUTER is a 64-bit register.
    unsafe { (addr as *mut u64).write_volatile(value) }
}

/// Waits for a register write to take effect (the RWP bit of a CTLR).
fn wait_rwp(ctlr: u64, rwp: u32) -> Result<(), &'static str> {
    match (0..1_000_000).any(|_| read32(ctlr) & rwp == 0) {
        true => Ok(()),
        false => Err("GIC register write never completed (RWP stuck)"),
    }
}

/// Finds the GICv3 in the device tree and keeps its register addresses.
fn locate(fdt: &Fdt) -> Result<Gic, &'static str> {
    let Some(node) = fdt.find_compatible(&["arm,gic-v3"]) else {
        return Err(if fdt.find_compatible(&["arm,cortex-a15-gic", "arm,gic-400", "arm,gic-v2"]).is_some() {
            "the machine has a GICv2; Tessera drives GICv3 (QEMU: -machine virt,gic-version=3)"
        } else {
            "no GICv3 (arm,gic-v3) in the device tree"
        });
    };
    let region_count = node.property("#redistributor-regions").and_then(|p| p.as_usize()).unwrap_or(1);
    let stride = node.property("redistributor-stride").and_then(|p| p.as_usize()).map(|s| s as u64);
    let mut regs = node.reg().ok_or("the GICv3 node has no reg")?;
    let mapped = |region: fdt::standard_nodes::MemoryRegion| -> Result<(u64, u64), &'static str> {
        let (phys, size) = (region.starting_address as u64, region.size.unwrap_or(0) as u64);
        if size == 0 || phys + size > WINDOW_GUARANTEED_END {
            return Err("a GICv3 register frame is empty or above 4 GiB, outside the guaranteed physical window");
        }
        Ok((phys_to_virt(phys), size))
    };
    let distributor = mapped(regs.next().ok_or("the GICv3 node has no distributor")?)?.0;
    let mut gic = Gic {
        distributor,
        redistributor_regions: [(0, 0); MAX_REDISTRIBUTOR_REGIONS],
        region_count: 0,
        stride,
        range_selector: false,
    };
    for region in regs.take(region_count.min(MAX_REDISTRIBUTOR_REGIONS)) {
        gic.redistributor_regions[gic.region_count] = mapped(region)?;
        gic.region_count += 1;
    }
    if gic.region_count == 0 {
        return Err("the GICv3 node lists no redistributor region");
    }
    gic.range_selector = read32(distributor + GICD_TYPER) & GICD_TYPER_RSS != 0;
    Ok(gic)
}

/// Once, on the boot CPU: finds the GIC and sets up the distributor with
/// every SPI disabled, inactive, not pending, Group 1 and at the default
/// priority, then enables it with affinity routing.
pub fn init(fdt: &Fdt) -> Result<(), &'static str> {
    let gic = GIC.try_call_once(|| locate(fdt))?;
    let d = gic.distributor;
    write32(d + GICD_CTLR, 0);
    wait_rwp(d + GICD_CTLR, GICD_CTLR_RWP)?;
    let lines = (read32(d + GICD_TYPER) & GICD_TYPER_IT_LINES) + 1;
    // Register n covers INTIDs 32n..32n+31; n = 0 (SGIs, PPIs) is per CPU
    // and lives in the redistributors once affinity routing is on.
    for n in 1..u64::from(lines) {
        write32(d + GICD_IGROUPR + 4 * n, u32::MAX);
        write32(d + GICD_ICENABLER + 4 * n, u32::MAX);
        write32(d + GICD_ICPENDR + 4 * n, u32::MAX);
        write32(d + GICD_ICACTIVER + 4 * n, u32::MAX);
        for word in 0..8 {
            write32(d + GICD_IPRIORITYR + 32 * n + 4 * word, u32::from_ne_bytes([DEFAULT_PRIORITY; 4]));
        }
    }
    wait_rwp(d + GICD_CTLR, GICD_CTLR_RWP)?;
    write32(d + GICD_CTLR, GICD_CTLR_ARE_NS | GICD_CTLR_ENABLE_G1A | GICD_CTLR_ENABLE_G1);
    wait_rwp(d + GICD_CTLR, GICD_CTLR_RWP)
}

/// This CPU's affinity as GICR_TYPER and ICC_SGI1R_EL1 group it.
fn affinity() -> (u64, u64, u64, u64) {
    let mpidr = MPIDR_EL1.get();
    ((mpidr >> 32) & 0xFF, (mpidr >> 16) & 0xFF, (mpidr >> 8) & 0xFF, mpidr & 0xFF)
}

/// This CPU's hardware id: MPIDR_EL1's affinity fields (Aff3 at bits
/// 39:32, Aff2-Aff0 at 23:0), as in the device tree's `cpu` `reg` and
/// PSCI's target CPU.
pub fn hardware_id() -> u64 {
    let (aff3, aff2, aff1, aff0) = affinity();
    aff3 << 32 | aff2 << 16 | aff1 << 8 | aff0
}

/// The RD_base of this CPU's redistributor: the frame whose GICR_TYPER
/// affinity matches MPIDR_EL1.
fn redistributor() -> Result<u64, &'static str> {
    let gic = gic();
    let (aff3, aff2, aff1, aff0) = affinity();
    let wanted = aff3 << 24 | aff2 << 16 | aff1 << 8 | aff0;
    for &(base, size) in &gic.redistributor_regions[..gic.region_count] {
        let mut frame = base;
        while frame + 2 * FRAME_BYTES <= base + size {
            let typer = read64(frame + GICR_TYPER);
            if typer >> 32 == wanted {
                return Ok(frame);
            }
            if typer & GICR_TYPER_LAST != 0 {
                break;
            }
            let frames = if typer & GICR_TYPER_VLPIS != 0 { 4 } else { 2 };
            frame += gic.stride.unwrap_or(frames * FRAME_BYTES);
        }
    }
    Err("no GIC redistributor for this CPU")
}

/// The SGI_base frame of this CPU's redistributor.
fn sgi_frame() -> u64 {
    redistributor().expect("this CPU's redistributor went missing after irq::init_cpu") + FRAME_BYTES
}

/// On every CPU: wakes its redistributor, disables its SGIs and PPIs
/// except `enabled_sgis` (a bit mask), sets all 32 to Group 1 and the
/// default priority, and turns on the system-register CPU interface.
pub fn init_cpu(enabled_sgis: u16) -> Result<(), &'static str> {
    let rd = redistributor()?;
    let waker = read32(rd + GICR_WAKER);
    write32(rd + GICR_WAKER, waker & !GICR_WAKER_PROCESSOR_SLEEP);
    if !(0..1_000_000).any(|_| read32(rd + GICR_WAKER) & GICR_WAKER_CHILDREN_ASLEEP == 0) {
        return Err("the GIC redistributor does not wake up");
    }
    let sgi = rd + FRAME_BYTES;
    write32(sgi + GICR_ICENABLER0, u32::MAX);
    wait_rwp(rd + GICR_CTLR, GICR_CTLR_RWP)?;
    write32(sgi + GICR_ICPENDR0, u32::MAX);
    write32(sgi + GICR_ICACTIVER0, u32::MAX);
    write32(sgi + GICR_IGROUPR0, u32::MAX);
    for word in 0..8 {
        write32(sgi + GICR_IPRIORITYR + 4 * word, u32::from_ne_bytes([DEFAULT_PRIORITY; 4]));
    }
    write32(sgi + GICR_ISENABLER0, u32::from(enabled_sgis));

    // SAFETY: ICC_SRE_EL1 is accessible at EL1 when the GIC has a
    // system-register interface; the read-back checks that EL2/EL3 allowed
    // it (ICC_SRE_EL1.SRE is RAO/WI or writable then).
    let sre = unsafe {
        let sre: u64;
        core::arch::asm!("mrs {}, icc_sre_el1", out(reg) sre, options(nomem, nostack));
        core::arch::asm!("msr icc_sre_el1, {}", "isb", in(reg) sre | ICC_SRE_SRE | ICC_SRE_DFB | ICC_SRE_DIB, options(nostack));
        let now: u64;
        core::arch::asm!("mrs {}, icc_sre_el1", out(reg) now, options(nomem, nostack));
        now
    };
    if sre & ICC_SRE_SRE == 0 {
        return Err("the GIC CPU interface's system registers are disabled by a higher EL");
    }
    // SAFETY: with SRE set these ICC registers exist at EL1; the values
    // unmask every priority above PRIORITY_MASK, use no priority grouping,
    // make EOI also deactivate and enable Group 1 (register descriptions
    // ICC_PMR_EL1, ICC_BPR1_EL1, ICC_CTLR_EL1, ICC_IGRPEN1_EL1).
    unsafe {
        core::arch::asm!(
            "msr icc_pmr_el1, {pmr}",
            "msr icc_bpr1_el1, xzr",
            "mrs {ctlr}, icc_ctlr_el1",
            "bic {ctlr}, {ctlr}, {eoimode}",
            "msr icc_ctlr_el1, {ctlr}",
            "msr icc_igrpen1_el1, {one}",
            "isb",
            pmr = in(reg) PRIORITY_MASK,
            ctlr = out(reg) _,
            eoimode = in(reg) ICC_CTLR_EOIMODE,
            one = in(reg) 1u64,
            options(nostack),
        )
    };
    Ok(())
}

/// Acknowledges the highest-priority pending Group 1 interrupt: its INTID,
/// or `None` when there is nothing to handle (a special INTID: 1023 is
/// spurious).
pub fn acknowledge() -> Option<u32> {
    let iar: u64;
    // SAFETY: reading ICC_IAR1_EL1 acknowledges the interrupt, making it
    // active; the caller ends it with `end_of_interrupt`. The DSB keeps
    // device accesses of the handler after the acknowledge.
    unsafe { core::arch::asm!("mrs {}, icc_iar1_el1", "dsb sy", out(reg) iar, options(nostack)) };
    real_intid(iar)
}

/// Drops the priority of and deactivates `intid` (EOImode 0).
pub fn end_of_interrupt(intid: u32) {
    // SAFETY: writing ICC_EOIR1_EL1 with an INTID acknowledged on this CPU
    // ends it; the ISB makes it take effect before interrupts are unmasked.
    unsafe { core::arch::asm!("msr icc_eoir1_el1, {}", "isb", in(reg) u64::from(intid), options(nostack)) };
}

/// Sends SGI `intid` (0-15) to the CPU with hardware id `target` (see
/// [`hardware_id`]) through ICC_SGI1R_EL1: TargetList bit Aff0 % 16 in the
/// cluster Aff3.Aff2.Aff1, range selector RS = Aff0 / 16 (Aff0 above 15
/// is untested: QEMU `virt` numbers CPUs 0-15 in Aff0).
pub fn send_sgi(target: u64, intid: u32) {
    assert!(intid < 16, "SGIs are INTIDs 0-15");
    let (aff3, aff2, aff1, aff0) = ((target >> 32) & 0xFF, (target >> 16) & 0xFF, (target >> 8) & 0xFF, target & 0xFF);
    assert!(aff0 < 16 || gic().range_selector, "this GIC cannot target Aff0 values above 15");
    let value = aff3 << 48 | (aff0 / 16) << 44 | aff2 << 32 | u64::from(intid) << 24 | aff1 << 16 | 1 << (aff0 % 16);
    // SAFETY: ICC_SGI1R_EL1 generates the SGI and nothing else. The DSB
    // makes this CPU's earlier stores visible before the target can take
    // the interrupt (system-register writes are not ordered with memory
    // accesses); the ISB issues the write before anything that follows.
    unsafe { core::arch::asm!("dsb ishst", "msr icc_sgi1r_el1, {}", "isb", in(reg) value, options(nostack)) };
}

/// Enables PPI or SGI `intid` (below 32) at this CPU's redistributor.
pub fn enable_private(intid: u32) {
    write32(sgi_frame() + GICR_ISENABLER0, 1 << intid);
}

/// Disables PPI or SGI `intid` at this CPU's redistributor and clears its
/// pending state.
pub fn disable_private(intid: u32) -> Result<(), &'static str> {
    let sgi = sgi_frame();
    write32(sgi + GICR_ICENABLER0, 1 << intid);
    wait_rwp(sgi - FRAME_BYTES + GICR_CTLR, GICR_CTLR_RWP)?;
    clear_private_pending(intid);
    Ok(())
}

/// Clears the pending state of PPI or SGI `intid` at this CPU's
/// redistributor (GICR_ICPENDR0). A level-sensitive interrupt whose line
/// is still asserted stays pending.
pub fn clear_private_pending(intid: u32) {
    write32(sgi_frame() + GICR_ICPENDR0, 1 << intid);
}

/// Whether PPI or SGI `intid` is pending at this CPU's redistributor
/// (GICR_ISPENDR0).
pub fn is_private_pending(intid: u32) -> bool {
    read32(sgi_frame() + GICR_ISPENDR0) & (1 << intid) != 0
}

/// The highest-priority pending interrupt the CPU interface would signal,
/// without acknowledging it (ICC_HPPIR1_EL1); `None` for a special INTID.
pub fn highest_pending() -> Option<u32> {
    let hppir: u64;
    // SAFETY: reading ICC_HPPIR1_EL1 has no side effects.
    unsafe { core::arch::asm!("mrs {}, icc_hppir1_el1", out(reg) hppir, options(nomem, nostack)) };
    real_intid(hppir)
}

/// Configures SPI `intid` (32-1019) as level-sensitive or edge-triggered,
/// routes it to this CPU and enables it at the distributor.
pub fn enable_shared(intid: u32, level: bool) {
    let d = gic().distributor;
    let n = u64::from(intid);
    let icfgr = d + GICD_ICFGR + 4 * (n / 16);
    let edge_bit = 1 << ((intid % 16) * 2 + 1);
    let config = read32(icfgr);
    write32(icfgr, if level { config & !edge_bit } else { config | edge_bit });
    write64(d + GICD_IROUTER + 8 * n, hardware_id());
    write32(d + GICD_ISENABLER + 4 * (n / 32), 1 << (intid % 32));
}

/// Disables SPI `intid` at the distributor and waits until it took effect
/// (no new activation after this returns; one being handled finishes).
pub fn disable_shared(intid: u32) {
    let d = gic().distributor;
    write32(d + GICD_ICENABLER + 4 * u64::from(intid / 32), 1 << (intid % 32));
    // A stuck RWP leaves the SPI disabled as far as software can tell.
    let _ = wait_rwp(d + GICD_CTLR, GICD_CTLR_RWP);
}
