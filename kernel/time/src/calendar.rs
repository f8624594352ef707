//! UTC calendar dates ↔ seconds since the UNIX epoch (1970-01-01 00:00:00
//! UTC), for the real-time clocks (the CMOS RTC counts in dates, the PL031
//! in seconds) and for printing the wall time. Proleptic Gregorian calendar,
//! no leap seconds (POSIX time), years 1970 to 9999.
//!
//! Both arches' `time.rs` use it (the x86_64 `rtc.rs` too). The day counts
//! use the civil-from-days construction of H. Hinnant, "chrono-Compatible
//! Low-Level Date Algorithms": years are shifted to start on 1 March so the
//! leap day is the last day of the year, and a 400-year era has exactly
//! 146 097 days.

use core::fmt;

const SECONDS_PER_DAY: u64 = 86_400;
/// Days from 0000-03-01 to 1970-01-01.
const EPOCH_SHIFT_DAYS: u64 = 719_468;
const DAYS_PER_ERA: u64 = 146_097;

/// A UTC date and time of day, to the second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTime {
    pub year: u32,
    /// 1-12.
    pub month: u32,
    /// 1-31.
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

fn is_leap(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl DateTime {
    /// Seconds since the epoch; `None` if a field is out of range or the
    /// date is outside 1970-9999.
    pub fn to_unix_seconds(self) -> Option<u64> {
        let valid = (1970..=9999).contains(&self.year)
            && (1..=12).contains(&self.month)
            && (1..=days_in_month(self.year, self.month)).contains(&self.day)
            && self.hour < 24
            && self.minute < 60
            && self.second < 60;
        if !valid {
            return None;
        }
        // Count from 1 March so February (and its leap day) ends the year.
        let (year, month) = (u64::from(self.year), u64::from(self.month));
        let year = if month <= 2 { year - 1 } else { year };
        let (era, year_of_era) = (year / 400, year % 400);
        let month_from_march = (month + 9) % 12;
        let day_of_year = (153 * month_from_march + 2) / 5 + u64::from(self.day) - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        let days = era * DAYS_PER_ERA + day_of_era - EPOCH_SHIFT_DAYS;
        Some(
            days * SECONDS_PER_DAY + u64::from(self.hour) * 3600 + u64::from(self.minute) * 60 + u64::from(self.second),
        )
    }

    /// The date and time `seconds` after the epoch.
    pub fn from_unix_seconds(seconds: u64) -> Self {
        let (days, time_of_day) = (seconds / SECONDS_PER_DAY + EPOCH_SHIFT_DAYS, seconds % SECONDS_PER_DAY);
        let (era, day_of_era) = (days / DAYS_PER_ERA, days % DAYS_PER_ERA);
        let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_from_march = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
        let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
        let year = era * 400 + year_of_era + u64::from(month <= 2);
        Self {
            year: year as u32,
            month: month as u32,
            day: day as u32,
            hour: (time_of_day / 3600) as u32,
            minute: (time_of_day / 60 % 60) as u32,
            second: (time_of_day % 60) as u32,
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS`.
impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::format;

    use super::*;

    fn date(year: u32, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> DateTime {
        DateTime { year, month, day, hour, minute, second }
    }

    #[test]
    fn known_instants() {
        let cases = [
            (date(1970, 1, 1, 0, 0, 0), 0),
            (date(2000, 2, 29, 12, 0, 0), 951_825_600),
            (date(2000, 3, 1, 0, 0, 0), 951_868_800),
            (date(2038, 1, 19, 3, 14, 8), 1 << 31),
            (date(2024, 12, 31, 23, 59, 59), 1_735_689_599),
            (date(2100, 3, 1, 0, 0, 0), 4_107_542_400),
            (date(1972, 2, 29, 0, 0, 0), 68_169_600),
            (date(2000, 2, 29, 0, 0, 0), 951_782_400),
            (date(2099, 12, 31, 23, 59, 59), 4_102_444_799),
            (date(2100, 1, 1, 0, 0, 0), 4_102_444_800),
            (date(2100, 2, 28, 23, 59, 59), 4_107_542_399),
            (date(2400, 2, 29, 0, 0, 0), 13_574_563_200),
            (date(9999, 12, 31, 23, 59, 59), LAST_SECOND),
        ];
        for (dt, seconds) in cases {
            assert_eq!(dt.to_unix_seconds(), Some(seconds), "{dt}");
            assert_eq!(DateTime::from_unix_seconds(seconds), dt, "{seconds}");
        }
    }

    #[test]
    fn every_day_round_trips() {
        let mut expected = date(1970, 1, 1, 0, 0, 0);
        for day in 0..(10_000 * 366) {
            let seconds = day * SECONDS_PER_DAY + 3661;
            let dt = DateTime::from_unix_seconds(seconds);
            if dt.year > 9999 {
                break;
            }
            assert_eq!((dt.year, dt.month, dt.day), (expected.year, expected.month, expected.day));
            assert_eq!((dt.hour, dt.minute, dt.second), (1, 1, 1));
            assert_eq!(dt.to_unix_seconds(), Some(seconds));
            expected.day += 1;
            if expected.day > days_in_month(expected.year, expected.month) {
                expected.day = 1;
                expected.month += 1;
                if expected.month > 12 {
                    expected.month = 1;
                    expected.year += 1;
                }
            }
        }
    }

    /// 9999-12-31 23:59:59, the last second of the range.
    const LAST_SECOND: u64 = 253_402_300_799;

    #[test]
    fn range_ends_at_year_9999() {
        // One second later is year 10000: it decodes, but is out of range.
        let after = DateTime::from_unix_seconds(LAST_SECOND + 1);
        assert_eq!(after, date(10_000, 1, 1, 0, 0, 0));
        assert_eq!(after.to_unix_seconds(), None);
        assert_eq!(DateTime::from_unix_seconds(0), date(1970, 1, 1, 0, 0, 0));
    }

    #[test]
    fn every_second_of_a_leap_day_round_trips() {
        let start = date(2000, 2, 29, 0, 0, 0).to_unix_seconds().expect("in range");
        for seconds in start..start + SECONDS_PER_DAY {
            let dt = DateTime::from_unix_seconds(seconds);
            assert_eq!((dt.year, dt.month, dt.day), (2000, 2, 29), "{seconds}");
            assert_eq!(dt.to_unix_seconds(), Some(seconds));
        }
        assert_eq!(DateTime::from_unix_seconds(start + SECONDS_PER_DAY), date(2000, 3, 1, 0, 0, 0));
    }

    #[test]
    fn rejects_bad_fields() {
        // Each field pushed just out of range from a valid date; 1969 is
        // one second before the epoch.
        let good = date(2024, 12, 31, 23, 59, 59);
        assert!(good.to_unix_seconds().is_some());
        let bad = |dt: DateTime| assert_eq!(dt.to_unix_seconds(), None, "{dt}");
        for year in [1969, 10_000] {
            bad(DateTime { year, ..good });
        }
        for month in [0, 13] {
            bad(DateTime { month, ..good });
        }
        for (year, month, day) in
            [(2023, 2, 29), (2100, 2, 29), (2000, 2, 30), (2024, 4, 31), (2024, 1, 0), (2024, 1, 32)]
        {
            bad(date(year, month, day, 0, 0, 0));
        }
        bad(DateTime { hour: 24, ..good });
        bad(DateTime { minute: 60, ..good });
        bad(DateTime { second: 60, ..good });
        assert_eq!(date(2024, 2, 29, 0, 0, 0).to_unix_seconds(), Some(1_709_164_800));
    }

    #[test]
    fn formats() {
        assert_eq!(format!("{}", date(2025, 3, 7, 9, 5, 1)), "2025-03-07 09:05:01");
    }
}
