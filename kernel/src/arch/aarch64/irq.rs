//! Interrupt control on aarch64, under the names x86_64 uses too
//! (`arch::irq`): the GICv3 and the EL1 virtual timer. The IRQ vector
//! entry (trap code) calls [`acknowledge`] for the INTID, handles it and
//! calls [`end_of_interrupt`].
//!
//! INTIDs (GIC spec §2.2: 0-15 SGIs, 16-31 PPIs, 32-1019 SPIs):
//!
//! | INTID | use |
//! |---|---|
//! | 0 | [`IpiKind::Reschedule`] (SGI) |
//! | 1 | [`IpiKind::TlbShootdown`] (SGI) |
//! | 27 | [`TIMER_VECTOR`]: the EL1 virtual timer (PPI 11) |
//! | 32-1019 | SPIs: device interrupts ([`DEVICE_VECTORS`]), disabled until a driver opens one through `irq:` (PCI INTx lines) |
//! | 1023 | [`SPURIOUS_VECTOR`]: nothing pending (`acknowledge` gives `None`) |

use tessera_bootinfo::KernelArgs;

use super::{devtree, gic, time, timer};

/// The EL1 virtual timer's INTID: PPI 11, the number the Arm Base System
/// Architecture (DEN0094) fixes and QEMU `virt` uses; `init` checks the
/// device tree agrees. Named like x86_64's IDT vector.
pub const TIMER_VECTOR: u32 = 27;
/// The GIC's "no pending interrupt" INTID. [`acknowledge`] turns it (and
/// the other special INTIDs, 1020-1022) into `None`.
#[allow(dead_code, reason = "documents the INTID acknowledge() filters out")]
pub const SPURIOUS_VECTOR: u32 = 1023;

/// The INTIDs of device interrupts a driver can be handed (the SPIs).
pub const DEVICE_VECTORS: core::ops::Range<u32> = 32..1020;
/// Whether drivers get MSIs here: no (an MSI on the GICv3 needs its ITS,
/// which the kernel does not drive yet); PCI devices use INTx lines.
pub const MSI_VECTORS: core::ops::Range<u32> = 0..0;

/// The MSI address and data that raise `vector`; never called here
/// ([`MSI_VECTORS`] is empty).
pub fn msi_message(_vector: u32) -> Option<(u64, u32)> {
    None
}

/// Lets device interrupt `id` (an SPI) through to this CPU, as
/// level-sensitive (PCI INTx) or edge-triggered.
pub fn enable_device(id: u32, level: bool) {
    gic::enable_shared(id, level);
}

/// Stops device interrupt `id` (an SPI) at the distributor.
pub fn disable_device(id: u32) {
    gic::disable_shared(id);
}

/// Why one CPU interrupts another. Every IPI also wakes a CPU in `wfi`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpiKind {
    /// Look at your run queue: work was queued for you, or the running
    /// thread should be preempted. Also the plain wake-up of an idle CPU
    /// (an idle CPU's only job on waking is to look at its run queue).
    Reschedule,
    /// Flush the TLB entries a shootdown request names, then acknowledge.
    TlbShootdown,
}

impl IpiKind {
    /// The interrupt id the receiving CPU sees: its SGI.
    pub const fn id(self) -> u32 {
        match self {
            IpiKind::Reschedule => 0,
            IpiKind::TlbShootdown => 1,
        }
    }

    /// The IPI kind an interrupt id stands for, if any.
    pub fn from_id(id: u32) -> Option<Self> {
        [IpiKind::Reschedule, IpiKind::TlbShootdown].into_iter().find(|kind| kind.id() == id)
    }
}

/// Once, on the boot CPU, before [`init_cpu`]: finds the GICv3 in the
/// device tree and sets up its distributor with every SPI disabled.
pub fn init(args: &KernelArgs) -> Result<(), &'static str> {
    let fdt = devtree::open(args).ok_or("no device tree to find the GIC in")?;
    let timer = fdt.find_compatible(&["arm,armv8-timer"]).ok_or("no arm,armv8-timer in the device tree")?;
    // Its interrupts: secure physical, non-secure physical, virtual, hypervisor.
    let virtual_timer = devtree::gic_interrupt(timer, 2).and_then(|i| i.intid());
    if virtual_timer != Some(TIMER_VECTOR) {
        return Err("the device tree's virtual timer interrupt is not PPI 11 (INTID 27)");
    }
    gic::init(&fdt)
}

/// On every CPU, with IRQs masked: wakes its GIC redistributor with every
/// PPI disabled (the IPI SGIs enabled), turns on its CPU interface and
/// stops its timer. IPIs can arrive from here on, so the CPU joins the TLB
/// shootdowns (`mm::tlb`).
pub fn init_cpu() -> Result<(), &'static str> {
    timer::stop();
    let ipis = (1 << IpiKind::Reschedule.id()) | (1 << IpiKind::TlbShootdown.id());
    gic::init_cpu(ipis)?;
    Ok(())
}

/// This CPU's hardware id: its MPIDR_EL1 affinity (Aff3 at bits 39:32,
/// Aff2-Aff0 at 23:0, as in the device tree's `cpu` `reg`), the `cpu` of
/// [`send_ipi`].
pub fn hardware_id() -> usize {
    gic::hardware_id() as usize
}

/// Starts this CPU's timer: INTID [`TIMER_VECTOR`] every `period_ns`. The
/// virtual timer fires once per deadline, so the handler must call
/// [`timer_tick_rearm`] before [`end_of_interrupt`]. Needs `time::init`.
pub fn start_timer(period_ns: u64) {
    gic::enable_private(TIMER_VECTOR);
    timer::start(time::counter_ticks(period_ns));
}

/// Sets this CPU's timer for the next tick, one period after the last
/// deadline; this also drops the level-sensitive interrupt of the tick
/// being handled.
pub fn timer_tick_rearm() {
    timer::rearm();
}

/// Stops this CPU's timer and disables and clears its interrupt.
pub fn stop_timer() {
    timer::stop();
    gic::disable_private(TIMER_VECTOR).expect("disabling the timer interrupt");
}

/// Acknowledges the interrupt to handle on this CPU: its INTID, or `None`
/// if there is none (spurious). Call from the IRQ entry.
pub fn acknowledge() -> Option<u32> {
    gic::acknowledge()
}

/// Ends interrupt `id` (from [`acknowledge`]) on this CPU.
pub fn end_of_interrupt(id: u32) {
    gic::end_of_interrupt(id);
}

/// Interrupts the CPU whose hardware id (MPIDR affinity) is `cpu` with
/// `kind`.
pub fn send_ipi(cpu: usize, kind: IpiKind) {
    gic::send_sgi(cpu as u64, kind.id());
}
