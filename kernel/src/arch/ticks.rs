//! Counter ticks ↔ nanoseconds for a fixed-frequency counter (the x86 TSC,
//! the Arm generic counter). Reading the clock is one multiply: the
//! nanoseconds per tick are kept as a 32.32 fixed-point number, so the
//! result is exact to better than one part in 10^8 for any counter under
//! 40 GHz and never decreases as ticks increase.
//!
//! Shared by both arches' `time.rs` (each includes it with `#[path]`): it is
//! arithmetic, not arch code. The tests at the end run with
//! `rustc --edition 2024 --test kernel/src/arch/ticks.rs && ./ticks`.

const NS_PER_SECOND: u64 = 1_000_000_000;

/// The conversion for one counter frequency.
#[derive(Clone, Copy, Debug)]
pub struct TickScale {
    hz: u64,
    /// Nanoseconds per tick, times 2^32.
    ns_per_tick_q32: u64,
}

impl TickScale {
    /// The scale of a counter running at `hz` (at least 1).
    pub fn new(hz: u64) -> Self {
        assert!(hz > 0, "a counter frequency of 0 Hz");
        let ns_per_tick_q32 = ((u128::from(NS_PER_SECOND) << 32) / u128::from(hz)) as u64;
        Self { hz, ns_per_tick_q32 }
    }

    /// The counter frequency.
    pub fn hz(&self) -> u64 {
        self.hz
    }

    /// `ticks` in nanoseconds, rounded down.
    pub fn ticks_to_ns(&self, ticks: u64) -> u64 {
        ((u128::from(ticks) * u128::from(self.ns_per_tick_q32)) >> 32) as u64
    }

    /// The ticks in `ns` nanoseconds, rounded down (a division: for timer
    /// set-up, not for reading the clock).
    pub fn ns_to_ticks(&self, ns: u64) -> u64 {
        (u128::from(ns) * u128::from(self.hz) / u128::from(NS_PER_SECOND)) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_for_round_frequencies() {
        let arm = TickScale::new(62_500_000);
        assert_eq!(arm.ticks_to_ns(62_500_000), NS_PER_SECOND);
        assert_eq!(arm.ticks_to_ns(1), 16);
        assert_eq!(arm.ns_to_ticks(1_000_000), 62_500);
        let ghz = TickScale::new(NS_PER_SECOND);
        assert_eq!(ghz.ticks_to_ns(123_456_789_012), 123_456_789_012);
    }

    #[test]
    fn close_for_odd_frequencies() {
        for hz in [1_193_182, 24_000_000, 2_893_456_789, 3_999_999_999, 19_200_000] {
            let scale = TickScale::new(hz);
            let one_hour_ticks = hz * 3600;
            let ns = scale.ticks_to_ns(one_hour_ticks);
            let exact = 3600 * NS_PER_SECOND;
            assert!(exact - ns < exact / 100_000_000 + 1, "{hz} Hz: {ns} ns for an hour");
            assert!(scale.ns_to_ticks(exact) == one_hour_ticks);
        }
    }

    #[test]
    fn never_decreases_and_survives_long_uptimes() {
        let scale = TickScale::new(2_893_456_789);
        let mut last = 0;
        for ticks in (0..10_000_000u64).step_by(7) {
            let ns = scale.ticks_to_ns(ticks);
            assert!(ns >= last);
            last = ns;
        }
        // A century of ticks does not overflow.
        let century = 2_893_456_789u64 * 3600 * 24 * 365 * 100;
        assert!(scale.ticks_to_ns(century) > 3_150_000_000 * NS_PER_SECOND);
    }
}
