//! Time on aarch64: the generic timer's system counter is the clock (its
//! rate is in CNTFRQ_EL0, so nothing needs calibrating); the boot wall time
//! comes from the PL031 RTC the device tree names. `arch::time` is this
//! module (the same names on x86_64).
//!
//! - [`monotonic_ns`]: CNTVCT_EL0 ticks since [`init`] scaled to ns (one
//!   `mrs` and one multiply). The system counter is one counter for the
//!   whole machine, so every CPU reads the same time.
//! - [`realtime_ns`]: the RTC reading at boot (whole seconds) plus
//!   monotonic time. Without an RTC it counts from the epoch.
//!
//! Order: `irq::init` and `irq::init_cpu` first (as on x86_64, where the
//! timer calibration needs the local APIC), then [`init`].

use core::sync::atomic::{AtomicU64, Ordering};

use spin::Once;
use tessera_bootinfo::KernelArgs;
use tessera_time::{DateTime, TickScale};

use super::{devtree, gic, irq, rtc, timer};

const NS_PER_SECOND: u64 = 1_000_000_000;

/// What [`init`] found.
struct Clocks {
    /// Counter value at which monotonic time is 0.
    counter_base: u64,
    counter: TickScale,
    /// Whether the device tree had a PL031 to read the wall time from.
    have_rtc: bool,
    /// How long [`init`] took.
    init_ns: u64,
}

static CLOCKS: Once<Clocks> = Once::new();
/// The wall time at monotonic time 0, in ns since the UNIX epoch.
static REALTIME_AT_ZERO_NS: AtomicU64 = AtomicU64::new(0);

/// Reads the counter frequency and the boot wall time. Once, on the boot
/// CPU.
pub fn init(args: &KernelArgs) {
    let start = timer::counter();
    let hz = timer::frequency_hz();
    assert!(hz != 0, "time: CNTFRQ_EL0 is 0: the firmware did not set the counter frequency");
    let counter = TickScale::new(hz);
    let wall_seconds = devtree::open(args).and_then(|fdt| rtc::read_unix_seconds(&fdt));
    let read_at = timer::counter();
    if let Some(seconds) = wall_seconds {
        let since_zero = counter.ticks_to_ns(read_at - start);
        REALTIME_AT_ZERO_NS.store((seconds * NS_PER_SECOND).saturating_sub(since_zero), Ordering::Relaxed);
    }
    let init_ns = counter.ticks_to_ns(timer::counter() - start);
    CLOCKS.call_once(|| Clocks { counter_base: start, counter, have_rtc: wall_seconds.is_some(), init_ns });
}

/// Nanoseconds since [`init`] (0 before it). Never decreases.
pub fn monotonic_ns() -> u64 {
    CLOCKS.get().map_or(0, |c| c.counter.ticks_to_ns(timer::counter().saturating_sub(c.counter_base)))
}

/// Nanoseconds since the UNIX epoch (UTC).
pub fn realtime_ns() -> u64 {
    REALTIME_AT_ZERO_NS.load(Ordering::Relaxed) + monotonic_ns()
}

/// Counter ticks in `period_ns`.
pub(super) fn counter_ticks(period_ns: u64) -> u64 {
    CLOCKS.get().expect("the timer is started before time::init").counter.ns_to_ticks(period_ns)
}

/// Boot-time check, with interrupts masked: prints the clock and the wall
/// time, then arms the timer and polls until its interrupt is pending at
/// the GIC, then stops it and checks the pending state went away; last,
/// sends the reschedule SGI to this CPU and checks it arrives:
///
/// ```text
/// time: generic timer <freq> Hz, realtime <YYYY-MM-DD HH:MM:SS> UTC
/// time: counter frequency from CNTFRQ_EL0, no calibration; init took <N> us
/// timer: armed <period> ns, fired (pending seen after <N> us)
/// ipi: SGI 0 to this CPU (affinity <id>) pending after <N> us, cleared
/// ```
///
/// Nothing stays pending afterwards.
pub fn selftest() {
    const PERIOD_NS: u64 = 1_000_000;
    const TIMEOUT_NS: u64 = NS_PER_SECOND;
    let clocks = CLOCKS.get().expect("time::selftest before time::init");

    let (first, second) = (monotonic_ns(), monotonic_ns());
    assert!(second >= first, "time: monotonic clock went backwards ({first} then {second} ns)");
    let wall_seconds = realtime_ns() / NS_PER_SECOND;
    let date = DateTime::from_unix_seconds(wall_seconds);
    assert_eq!(date.to_unix_seconds(), Some(wall_seconds), "time: calendar conversion does not round-trip");
    arch_println!(
        "time: generic timer {} Hz, realtime {date} UTC{}",
        clocks.counter.hz(),
        if clocks.have_rtc { "" } else { " (no PL031 RTC: counting from the epoch)" }
    );
    arch_println!("time: counter frequency from CNTFRQ_EL0, no calibration; init took {} us", clocks.init_ns / 1000);

    let intid = irq::TIMER_VECTOR;
    assert!(!gic::is_private_pending(intid), "timer: INTID {intid} pending before the timer was armed");
    let armed_at = monotonic_ns();
    irq::start_timer(PERIOD_NS);
    let waited_ns = loop {
        let fired = timer::condition_met() && gic::is_private_pending(intid);
        // Read after looking: a time read before could be older than the
        // firing by as long as this CPU was held up in between (a host
        // that deschedules the vCPU), and look too early.
        let waited = monotonic_ns() - armed_at;
        if fired {
            break waited;
        }
        if waited > TIMEOUT_NS {
            irq::stop_timer();
            panic!("timer: armed {PERIOD_NS} ns, INTID {intid} not pending after {} ms", waited / 1_000_000);
        }
        core::hint::spin_loop();
    };
    let highest = gic::highest_pending();
    irq::stop_timer();
    assert_eq!(highest, Some(intid), "timer: the CPU interface does not see INTID {intid} as the next interrupt");
    assert!(!gic::is_private_pending(intid), "timer: INTID {intid} still pending after the timer stopped");
    assert!(
        waited_ns >= PERIOD_NS * 9 / 10,
        "timer: armed {PERIOD_NS} ns but fired after {waited_ns} ns: the counter frequency is wrong"
    );
    arch_println!("timer: armed {PERIOD_NS} ns, fired (pending seen after {} us)", waited_ns / 1000);

    // The IPI path, to this CPU only (the others are not running the
    // kernel yet): the SGI must become pending here; then it is cleared.
    let (me, sgi) = (irq::hardware_id(), irq::IpiKind::Reschedule.id());
    assert!(!gic::is_private_pending(sgi), "ipi: SGI {sgi} pending before it was sent");
    let sent_at = monotonic_ns();
    irq::send_ipi(me, irq::IpiKind::Reschedule);
    while !gic::is_private_pending(sgi) {
        assert!(monotonic_ns() - sent_at < TIMEOUT_NS, "ipi: SGI {sgi} sent to this CPU never became pending");
        core::hint::spin_loop();
    }
    let waited_ns = monotonic_ns() - sent_at;
    gic::clear_private_pending(sgi);
    assert!(!gic::is_private_pending(sgi), "ipi: SGI {sgi} still pending after clearing it");
    arch_println!("ipi: SGI {sgi} to this CPU (affinity {me:#x}) pending after {} us, cleared", waited_ns / 1000);
}
