//! Time on x86_64: the TSC is the clock, calibrated once against the 8254
//! PIT together with the local-APIC timer; the boot wall time comes from the
//! CMOS RTC. `arch::time` is this module (the same names on aarch64).
//!
//! - [`monotonic_ns`]: TSC ticks since [`init`] scaled to ns (one `rdtsc`
//!   and one multiply). Every CPU must see the same TSC: true on CPUs with
//!   an invariant TSC that the firmware started together (SDM Vol. 3B
//!   §17.17 "Time-Stamp Counter"), and under QEMU TCG, whose TSC is the
//!   host's. SMP bring-up should check it.
//! - [`realtime_ns`]: the RTC reading at boot (whole seconds) plus
//!   monotonic time. Without an RTC it counts from the epoch.
//!
//! Order: `irq::init` and `irq::init_cpu` first (the local APIC must be
//! enabled to calibrate its timer), then [`init`].

use core::arch::x86_64::{__cpuid, _mm_lfence, _rdtsc};
use core::sync::atomic::{AtomicU64, Ordering};

use spin::Once;
use tessera_bootinfo::KernelArgs;
use tessera_time::{DateTime, TickScale};

use super::{apic, irq, pit, rtc};

const NS_PER_SECOND: u64 = 1_000_000_000;
/// Calibrate over 10 ms of PIT time.
const CALIBRATION_PIT_TICKS: u16 = (pit::FREQUENCY_HZ / 100) as u16;
/// Bounds every polling loop of the calibration (each poll takes a few µs).
const MAX_POLLS: u32 = 10_000_000;

/// What [`init`] measured.
struct Clocks {
    /// TSC value at which monotonic time is 0.
    tsc_base: u64,
    tsc: TickScale,
    /// The local-APIC timer's rate (bus clock / 16).
    apic_timer: TickScale,
    /// Whether CPUID says the TSC is invariant (constant rate in every
    /// P-, C- and T-state; SDM Vol. 3B §17.17.1 "Invariant TSC").
    invariant_tsc: bool,
    /// How long [`init`] took.
    init_ns: u64,
}

static CLOCKS: Once<Clocks> = Once::new();
/// The wall time at monotonic time 0, in ns since the UNIX epoch.
static REALTIME_AT_ZERO_NS: AtomicU64 = AtomicU64::new(0);

/// Reads the TSC after every earlier instruction has completed: RDTSC is
/// not ordered by itself, and LFENCE waits for earlier instructions (SDM
/// Vol. 2B "RDTSC"), so a clock read never reflects a time before code that
/// precedes it.
fn rdtsc() -> u64 {
    // SAFETY: LFENCE and RDTSC exist on every x86_64 CPU (SSE2 and TSC are
    // baseline) and only read state.
    unsafe {
        _mm_lfence();
        _rdtsc()
    }
}

/// One simultaneous reading of the three counters; the TSC value is the
/// midpoint of the reads around the others, `width` their distance.
struct Sample {
    width: u64,
    tsc: u64,
    pit: u16,
    apic_timer: u32,
}

/// Not inlined, so every sample runs the same, already translated
/// instructions (see `calibrate`).
#[inline(never)]
fn sample(countdown: &pit::Countdown) -> Sample {
    let before = rdtsc();
    let pit = countdown.read();
    let apic_timer = apic::current_count();
    let after = rdtsc();
    Sample { width: after - before, tsc: before + (after - before) / 2, pit, apic_timer }
}

/// The tightest of a few samples in a row: if the host preempts QEMU in
/// the middle of one, its counters were read far apart.
fn steady_sample(countdown: &pit::Countdown) -> Sample {
    (0..4).map(|_| sample(countdown)).min_by_key(|s| s.width).expect("four samples")
}

/// Counts TSC and local-APIC timer ticks over [`CALIBRATION_PIT_TICKS`] of
/// the PIT; returns both frequencies in Hz.
fn calibrate() -> Result<(u64, u64), &'static str> {
    let timer_vector = irq::TIMER_VECTOR as u8;
    apic::start_counting(u32::MAX, timer_vector);
    let countdown = pit::Countdown::start();
    let poll_until = |done: &dyn Fn(&Sample) -> bool| {
        (0..MAX_POLLS).map(|_| sample(&countdown)).find(|s| done(s)).ok_or("the 8254 PIT does not count")
    };
    // Mode 0 starts counting on the first input clock after the load. The
    // polling also runs `sample` before the measured samples: QEMU TCG
    // translates code on its first run, which put tens of µs between the
    // PIT read and the others and made both results 0.1 % low.
    poll_until(&|s| s.pit != 0xFFFF)?;
    let start = steady_sample(&countdown);
    poll_until(&|s| start.pit.wrapping_sub(s.pit) >= CALIBRATION_PIT_TICKS)?;
    let end = steady_sample(&countdown);
    drop(countdown);
    apic::stop_timer(timer_vector);

    let pit_ticks = u128::from(start.pit.wrapping_sub(end.pit));
    let per_second = |ticks: u64| (u128::from(ticks) * u128::from(pit::FREQUENCY_HZ) / pit_ticks) as u64;
    let tsc_hz = per_second(end.tsc - start.tsc);
    let apic_timer_hz = per_second(u64::from(start.apic_timer - end.apic_timer));
    if !(100_000_000..=20_000_000_000).contains(&tsc_hz) {
        return Err("implausible TSC frequency");
    }
    if !(100_000..=10_000_000_000).contains(&apic_timer_hz) {
        return Err("implausible local APIC timer frequency");
    }
    Ok((tsc_hz, apic_timer_hz))
}

/// Calibrates the TSC and the local-APIC timer against 10 ms of PIT time
/// and reads the boot wall time from the RTC. Once, on the boot CPU, after
/// `irq::init_cpu`. `_args` is unused on x86_64 (aarch64 needs the device
/// tree).
pub fn init(_args: &KernelArgs) {
    let start = rdtsc();
    let (tsc_hz, apic_timer_hz) = calibrate().unwrap_or_else(|why| panic!("time: calibration failed: {why}"));
    let tsc = TickScale::new(tsc_hz);
    let wall_seconds = rtc::read_unix_seconds();
    let read_at = rdtsc();
    if let Some(seconds) = wall_seconds {
        let since_zero = tsc.ticks_to_ns(read_at - start);
        REALTIME_AT_ZERO_NS.store((seconds * NS_PER_SECOND).saturating_sub(since_zero), Ordering::Relaxed);
    }
    // CPUID.80000007H:EDX[8]: invariant TSC.
    let invariant_tsc = __cpuid(0x8000_0007).edx & (1 << 8) != 0;
    let init_ns = tsc.ticks_to_ns(rdtsc() - start);
    CLOCKS.call_once(|| Clocks {
        tsc_base: start,
        tsc,
        apic_timer: TickScale::new(apic_timer_hz),
        invariant_tsc,
        init_ns,
    });
}

/// Nanoseconds since [`init`] (0 before it). Never decreases on one CPU.
pub fn monotonic_ns() -> u64 {
    CLOCKS.get().map_or(0, |c| c.tsc.ticks_to_ns(rdtsc().saturating_sub(c.tsc_base)))
}

/// Nanoseconds since the UNIX epoch (UTC).
pub fn realtime_ns() -> u64 {
    REALTIME_AT_ZERO_NS.load(Ordering::Relaxed) + monotonic_ns()
}

/// The local-APIC timer count for `period_ns`, clamped to what its 32-bit
/// counter holds and at least 1.
pub(super) fn apic_timer_count(period_ns: u64) -> u32 {
    let clocks = CLOCKS.get().expect("the timer is started before time::init");
    clocks.apic_timer.ns_to_ticks(period_ns).clamp(1, u64::from(u32::MAX)) as u32
}

/// Boot-time check, with interrupts disabled: prints the clock and the wall
/// time, then runs the local-APIC timer in periodic mode, as
/// `irq::start_timer` does but with its LVT entry masked, and polls until
/// the count has run down and reloaded:
///
/// ```text
/// time: tsc <freq> Hz, realtime <YYYY-MM-DD HH:MM:SS> UTC
/// time: calibrated against the 8254 PIT in <N> us; local APIC timer <freq> Hz
/// timer: armed <period> ns, fired (reload seen after <N> us; LVT masked, nothing left pending)
/// ```
///
/// Masked, because x86 cannot withdraw a requested interrupt short of
/// taking it: an unmasked run sets [`irq::TIMER_VECTOR`] in the IRR, and
/// the first `sti`, whenever it comes, delivers that stale tick (seen as
/// `kernel: unexpected interrupt 0x20` while no timer handler is routed).
pub fn selftest() {
    const PERIOD_NS: u64 = 1_000_000;
    const TIMEOUT_NS: u64 = NS_PER_SECOND;
    let clocks = CLOCKS.get().expect("time::selftest before time::init");

    let (first, second) = (monotonic_ns(), monotonic_ns());
    assert!(second >= first, "time: monotonic clock went backwards ({first} then {second} ns)");
    let wall_seconds = realtime_ns() / NS_PER_SECOND;
    let date = DateTime::from_unix_seconds(wall_seconds);
    assert_eq!(date.to_unix_seconds(), Some(wall_seconds), "time: calendar conversion does not round-trip");
    arch_println!("time: tsc {} Hz, realtime {date} UTC", clocks.tsc.hz());
    arch_println!(
        "time: calibrated against the 8254 PIT in {} us; local APIC timer {} Hz{}",
        clocks.init_ns / 1000,
        clocks.apic_timer.hz(),
        if clocks.invariant_tsc { "" } else { "; the TSC is not invariant" }
    );

    let vector = irq::TIMER_VECTOR as u8;
    let count = apic_timer_count(PERIOD_NS);
    let armed_at = monotonic_ns();
    apic::start_periodic(count, vector, true);
    // The count only falls until it passes 0 and reloads from `count`.
    let mut last = apic::current_count();
    let waited_ns = loop {
        let now = apic::current_count();
        // Read after looking (as on aarch64): a time read before could be
        // older than the reload by as long as this CPU was held up.
        let waited = monotonic_ns() - armed_at;
        if now > last {
            break waited;
        }
        last = now;
        if waited > TIMEOUT_NS {
            irq::stop_timer();
            panic!("timer: armed {PERIOD_NS} ns, count still at {now} of {count} after {} ms", waited / 1_000_000);
        }
        core::hint::spin_loop();
    };
    irq::stop_timer();
    assert!(!apic::is_pending(vector), "timer: vector {vector:#x} pending although its LVT entry was masked");
    assert!(
        waited_ns >= PERIOD_NS * 9 / 10,
        "timer: armed {PERIOD_NS} ns but fired after {waited_ns} ns: the calibration is off"
    );
    arch_println!(
        "timer: armed {PERIOD_NS} ns, fired (reload seen after {} us; LVT masked, nothing left pending)",
        waited_ns / 1000
    );
}
