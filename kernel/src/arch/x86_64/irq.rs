//! Interrupt control on x86_64, under the names aarch64 uses too
//! (`arch::irq`): the 8259 PICs masked, each CPU's local APIC, the periodic
//! timer, end of interrupt and IPIs. The IDT and the entry stubs live with
//! the trap code; the vector the CPU took comes from the stub, so x86 needs
//! no `acknowledge`.
//!
//! Vectors (one IDT vector per source; the upper four bits are the
//! priority class, SDM Vol. 3A §10.8.3.1):
//!
//! | vectors | use |
//! |---|---|
//! | 0x00-0x1F | CPU exceptions |
//! | 0x20 | [`TIMER_VECTOR`]: the local-APIC timer |
//! | 0x21-0x2F | free for device interrupts (I/O APIC) |
//! | 0x30-0xDF | [`MSI_VECTORS`]: MSIs handed to drivers through `irq:msi` |
//! | 0xE0-0xEF | the 8259 PICs, remapped here and masked; only a spurious IRQ 7 / 15 could appear |
//! | 0xF0 | [`IpiKind::Reschedule`] |
//! | 0xF1 | [`IpiKind::TlbShootdown`] |
//! | 0xFE | local-APIC error interrupt (masked for now) |
//! | 0xFF | [`SPURIOUS_VECTOR`] |

use tessera_bootinfo::KernelArgs;

use super::{apic, pic, time};

/// The IDT vector of the local-APIC timer.
pub const TIMER_VECTOR: u32 = 0x20;
/// The local APIC's spurious-interrupt vector. Never in service: its
/// handler must not call [`end_of_interrupt`] (SDM Vol. 3A §10.9).
pub const SPURIOUS_VECTOR: u32 = 0xFF;
/// The local-APIC error interrupt's vector (its LVT entry stays masked
/// until someone handles it).
pub const APIC_ERROR_VECTOR: u32 = 0xFE;

/// The vectors device interrupts handed to drivers arrive at.
pub const DEVICE_VECTORS: core::ops::Range<u32> = 0x30..0xE0;
/// The vectors `irq:msi` hands out: all of [`DEVICE_VECTORS`].
pub const MSI_VECTORS: core::ops::Range<u32> = DEVICE_VECTORS;

/// The MSI address and data that raise `vector` on this CPU (SDM Vol. 3A
/// §11.11.1 "Message Address Register Format": 0xFEE, the destination APIC
/// ID in bits 19:12, physical mode, no redirection hint; §11.11.2 "Message
/// Data Register Format": fixed delivery, edge, the vector in bits 7:0).
/// `None` for an APIC ID above 255, which xAPIC messages cannot name.
pub fn msi_message(vector: u32) -> Option<(u64, u32)> {
    let id = u8::try_from(apic::id()).ok()?;
    Some((0xFEE0_0000 | u64::from(id) << 12, vector & 0xFF))
}

/// Nothing to do: an MSI is edge-triggered and can be masked only at the
/// device (its MSI-X table), which is the driver's.
pub fn enable_device(_id: u32, _level: bool) {}

/// Nothing to do, as for [`enable_device`]: a vector nobody holds is
/// counted and ignored (`crate::irq`).
pub fn disable_device(_id: u32) {}

/// Why one CPU interrupts another. Every IPI also wakes a halted CPU.
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
    /// The interrupt id the receiving CPU sees.
    pub const fn id(self) -> u32 {
        match self {
            IpiKind::Reschedule => 0xF0,
            IpiKind::TlbShootdown => 0xF1,
        }
    }

    /// The IPI kind an interrupt id stands for, if any.
    pub fn from_id(id: u32) -> Option<Self> {
        [IpiKind::Reschedule, IpiKind::TlbShootdown].into_iter().find(|kind| kind.id() == id)
    }
}

/// Once, on the boot CPU, before [`init_cpu`]: moves the legacy PICs out
/// of the way and masks them. `_args` is unused on x86_64 (the local APIC's
/// address is in an MSR; aarch64 finds its GIC in the device tree).
pub fn init(_args: &KernelArgs) -> Result<(), &'static str> {
    pic::disable();
    Ok(())
}

/// On every CPU, with interrupts disabled: enables its local APIC with
/// every local interrupt source masked and the timer stopped; IPIs can
/// arrive from here on, so the CPU joins the TLB shootdowns (`mm::tlb`).
pub fn init_cpu() -> Result<(), &'static str> {
    apic::init_cpu(SPURIOUS_VECTOR as u8, TIMER_VECTOR as u8, APIC_ERROR_VECTOR as u8)?;
    Ok(())
}

/// This CPU's hardware id: its APIC ID, the `cpu` of [`send_ipi`].
pub fn hardware_id() -> usize {
    apic::id() as usize
}

/// Starts this CPU's timer: an interrupt at [`TIMER_VECTOR`] every
/// `period_ns` (the local-APIC timer in periodic mode, at most 2^32 ticks
/// of bus clock / 16). Needs `time::init`.
pub fn start_timer(period_ns: u64) {
    apic::start_periodic(time::apic_timer_count(period_ns), TIMER_VECTOR as u8, false);
}

/// Nothing to do on x86_64: the local-APIC timer reloads itself. The
/// timer handler calls it on every arch.
pub fn timer_tick_rearm() {}

/// Stops this CPU's timer and masks it.
pub fn stop_timer() {
    apic::stop_timer(TIMER_VECTOR as u8);
}

/// Ends the interrupt being handled on this CPU. The local APIC retires
/// the highest-priority in-service vector, so `_id` is for the interface
/// only (aarch64 needs it). Not for [`SPURIOUS_VECTOR`].
pub fn end_of_interrupt(_id: u32) {
    apic::end_of_interrupt();
}

/// Interrupts the CPU whose APIC ID is `cpu` with `kind`.
pub fn send_ipi(cpu: usize, kind: IpiKind) {
    let apic_id = u32::try_from(cpu).expect("an APIC ID is 32 bits");
    apic::send_ipi(apic_id, kind.id() as u8);
}
