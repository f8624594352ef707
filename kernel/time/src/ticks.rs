//! Counter ticks ↔ nanoseconds for a fixed-frequency counter (the x86 TSC,
//! the Arm generic counter). Reading the clock is one multiply: the
//! nanoseconds per tick are kept as a 32.32 fixed-point number, so the
//! result is exact to better than one part in 10^8 for any counter under
//! 40 GHz and never decreases as ticks increase.
//! Nanoseconds past `u64::MAX` (584 years) wrap: no counter in a running
//! machine gets there.
//!
//! Both arches' `time.rs` use it.

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

    /// `ticks` in ns computed exactly (rounded down) in u128.
    fn exact_ns(hz: u64, ticks: u64) -> u128 {
        u128::from(ticks) * u128::from(NS_PER_SECOND) / u128::from(hz)
    }

    /// The most ticks at `hz` whose nanoseconds fit in a u64.
    fn max_ticks(hz: u64) -> u64 {
        (u128::from(u64::MAX) * u128::from(hz) / u128::from(NS_PER_SECOND)).min(u128::from(u64::MAX)) as u64
    }

    /// Frequencies of real counters and awkward ones: 1 Hz, primes, just
    /// under and over 1 GHz, the 40 GHz the precision claim covers.
    const ODD_HZ: [u64; 9] =
        [1, 3, 1_193_182, 19_200_000, 62_500_000, 999_999_937, 1_000_000_007, 3_999_999_999, 40_000_000_000];

    #[test]
    fn edge_tick_counts_match_exact_arithmetic() {
        for hz in ODD_HZ {
            let scale = TickScale::new(hz);
            assert_eq!(scale.hz(), hz);
            assert_eq!(scale.ticks_to_ns(0), 0);
            assert_eq!(scale.ns_to_ticks(0), 0);
            // The most ticks whose nanoseconds still fit in a u64, and
            // counts around the powers of two where carries happen.
            let max_ticks = max_ticks(hz);
            let counts = [1, hz - 1, hz, hz + 1, 1 << 32, (1 << 32) - 1, 1 << 52, max_ticks / 2, max_ticks];
            for ticks in counts.into_iter().filter(|&t| t <= max_ticks) {
                let exact = exact_ns(hz, ticks);
                let got = u128::from(scale.ticks_to_ns(ticks));
                // Never ahead of the true time; behind by less than one
                // part in 10^8, plus the ns the rounding down costs.
                assert!(got <= exact, "{hz} Hz, {ticks} ticks: {got} > {exact}");
                assert!(exact - got <= exact / 100_000_000 + 1, "{hz} Hz, {ticks} ticks: {got} vs {exact}");
            }
        }
    }

    #[test]
    fn ns_to_ticks_is_exact_floor() {
        for hz in ODD_HZ {
            let scale = TickScale::new(hz);
            // The most ns whose ticks fit in a u64.
            let max_ns = (u128::from(u64::MAX) * u128::from(NS_PER_SECOND) / u128::from(hz)).min(u128::from(u64::MAX));
            for ns in [1, 999, NS_PER_SECOND - 1, NS_PER_SECOND, 1 << 40, max_ns as u64] {
                let exact = u128::from(ns) * u128::from(hz) / u128::from(NS_PER_SECOND);
                assert_eq!(u128::from(scale.ns_to_ticks(ns)), exact, "{hz} Hz, {ns} ns");
            }
        }
    }

    #[test]
    fn round_trip_loses_at_most_a_nanosecond() {
        for hz in ODD_HZ {
            let scale = TickScale::new(hz);
            for ticks in [1u64, 7, 1_000_003, 1 << 33, 1 << 45].into_iter().filter(|&t| t <= max_ticks(hz)) {
                let back = scale.ns_to_ticks(scale.ticks_to_ns(ticks));
                // Rounding down to whole ns loses the ticks of one ns (more
                // than one tick above 1 GHz), plus the scale's error.
                let slack = hz.div_ceil(NS_PER_SECOND) + ticks / 100_000_000;
                assert!(back <= ticks && ticks - back <= slack, "{hz} Hz: {ticks} -> {back}");
            }
        }
    }

    #[test]
    #[should_panic(expected = "0 Hz")]
    fn zero_hz_is_refused() {
        let _ = TickScale::new(0);
    }
}
