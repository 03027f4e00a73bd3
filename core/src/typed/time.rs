//! RFC 3339 timestamps computed from a caller-supplied [`SystemTime`], without a date crate.
//!
//! Core never reads a clock: the time to stamp comes in as an argument.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds from the Unix epoch to 0000-01-01T00:00:00Z, the first instant RFC 3339 can write.
const MIN_SECS: i64 = -62_167_219_200;
/// Seconds from the Unix epoch to 10000-01-01T00:00:00Z, the first instant it cannot.
const MAX_SECS: i64 = 253_402_300_800;
const SECS_PER_DAY: i64 = 86_400;

/// Formats `at` as RFC 3339 UTC with millisecond precision, such as
/// `2026-11-26T05:02:31.123Z`. Sub-millisecond parts are truncated toward the past, so a time
/// just before the epoch is `1969-12-31T23:59:59.999Z`. `None` outside the years 0000 to 9999,
/// which the four-digit year of RFC 3339 cannot write.
pub fn format_rfc3339(at: SystemTime) -> Option<String> {
    let (secs, millis) = unix_millis(at)?;
    if !(MIN_SECS..MAX_SECS).contains(&secs) {
        return None;
    }
    let days = secs.div_euclid(SECS_PER_DAY);
    let second_of_day = secs.rem_euclid(SECS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let (hour, minute, second) = (second_of_day / 3600, second_of_day / 60 % 60, second_of_day % 60);
    Some(format!(
        "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{millis:03}Z"
    ))
}

/// Whole seconds since the epoch (floored, so negative before it) and the milliseconds past them.
fn unix_millis(at: SystemTime) -> Option<(i64, u32)> {
    match at.duration_since(UNIX_EPOCH) {
        Ok(after) => Some((i64::try_from(after.as_secs()).ok()?, after.subsec_millis())),
        Err(before) => {
            let before = before.duration();
            let secs = -i64::try_from(before.as_secs()).ok()?;
            match before.subsec_nanos() {
                0 => Some((secs, 0)),
                nanos => Some((secs - 1, (1_000_000_000 - nanos) / 1_000_000)),
            }
        }
    }
}

/// The proleptic Gregorian date of a day number counted from 1970-01-01 (Howard Hinnant's
/// `civil_from_days`): years are split into 400-year eras of 146 097 days that start on March 1,
/// so the leap day falls at the end of each year of the era.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097); // [0, 146096]
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365; // [0, 399]
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100); // [0, 365], from March 1
    let month_from_march = (5 * day_of_year + 2) / 153; // [0, 11]
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1; // [1, 31]
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both values are in range by construction: month in [1, 12], day in [1, 31].
    (year, month as u32, day as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: i64, millis: u32) -> SystemTime {
        let offset = Duration::from_secs(secs.unsigned_abs());
        let whole = if secs >= 0 {
            UNIX_EPOCH + offset
        } else {
            UNIX_EPOCH - offset
        };
        whole + Duration::from_millis(u64::from(millis))
    }

    /// Epoch seconds checked against an independent implementation (Python's `datetime`).
    const GOLDEN: &[(i64, u32, &str)] = &[
        (0, 0, "1970-01-01T00:00:00.000Z"),
        (951_827_696, 789, "2000-02-29T12:34:56.789Z"),
        (1_795_669_351, 0, "2026-11-26T05:02:31.000Z"),
        (1_795_669_351, 123, "2026-11-26T05:02:31.123Z"),
        (946_684_799, 999, "1999-12-31T23:59:59.999Z"),
        (946_684_800, 0, "2000-01-01T00:00:00.000Z"),
        (1_483_228_799, 0, "2016-12-31T23:59:59.000Z"),
        (2_147_483_648, 0, "2038-01-19T03:14:08.000Z"),
        (4_107_542_399, 0, "2100-02-28T23:59:59.000Z"),
        (4_107_542_400, 0, "2100-03-01T00:00:00.000Z"),
        (13_574_563_200, 0, "2400-02-29T00:00:00.000Z"),
        (253_402_300_799, 999, "9999-12-31T23:59:59.999Z"),
        (-1, 0, "1969-12-31T23:59:59.000Z"),
        (-2_203_891_200, 0, "1900-03-01T00:00:00.000Z"),
        (-62_135_596_800, 0, "0001-01-01T00:00:00.000Z"),
        (MIN_SECS, 0, "0000-01-01T00:00:00.000Z"),
    ];

    #[test]
    fn golden_values() {
        for &(secs, millis, want) in GOLDEN {
            assert_eq!(
                format_rfc3339(at(secs, millis)).as_deref(),
                Some(want),
                "{secs}.{millis:03}"
            );
        }
    }

    #[test]
    fn sub_millisecond_parts_round_toward_the_past() {
        assert_eq!(
            format_rfc3339(UNIX_EPOCH + Duration::from_nanos(1_999_999)).unwrap(),
            "1970-01-01T00:00:00.001Z"
        );
        assert_eq!(
            format_rfc3339(UNIX_EPOCH - Duration::from_nanos(1)).unwrap(),
            "1969-12-31T23:59:59.999Z"
        );
        assert_eq!(
            format_rfc3339(UNIX_EPOCH - Duration::from_millis(1)).unwrap(),
            "1969-12-31T23:59:59.999Z"
        );
        assert_eq!(
            format_rfc3339(UNIX_EPOCH - Duration::from_micros(1_500)).unwrap(),
            "1969-12-31T23:59:59.998Z"
        );
    }

    #[test]
    fn years_outside_four_digits_are_refused() {
        assert_eq!(format_rfc3339(at(MAX_SECS, 0)), None);
        if let Some(before_year_zero) = UNIX_EPOCH.checked_sub(Duration::from_secs(MIN_SECS.unsigned_abs() + 1)) {
            assert_eq!(format_rfc3339(before_year_zero), None);
        }
    }

    fn is_leap(year: i64) -> bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    fn days_in_month(year: i64, month: u32) -> u32 {
        match month {
            2 if is_leap(year) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        }
    }

    /// Walks every day from 0000-01-01 to 9999-12-31 with a naive calendar as the oracle.
    #[test]
    fn every_day_of_ten_thousand_years() {
        let (mut year, mut month, mut day) = (0i64, 1u32, 1u32);
        for days in MIN_SECS / SECS_PER_DAY..MAX_SECS / SECS_PER_DAY {
            assert_eq!(civil_from_days(days), (year, month, day), "day number {days}");
            day += 1;
            if day > days_in_month(year, month) {
                day = 1;
                month += 1;
                if month > 12 {
                    month = 1;
                    year += 1;
                }
            }
        }
        assert_eq!((year, month, day), (10_000, 1, 1));
    }
}
