//! The `Date` argument and output type: a calendar day, as days since
//! 1970-01-01 (proleptic Gregorian), with the arithmetic features need.

use std::fmt;

use crate::Timestamp;

/// A calendar day, as days since 1970-01-01: the type of a `date` column.
///
/// ```
/// use skewless_guest::Date;
///
/// let opened = Date::from_ymd(2024, 2, 28).unwrap();
/// let today = Date::from_ymd(2024, 3, 1).unwrap();
/// assert_eq!(today.days_since(opened), 2); // 2024 is a leap year
/// assert_eq!(today.day_of_week(), 4); // Friday (Monday = 0)
/// assert_eq!(today.to_string(), "2024-03-01");
/// assert_eq!(Date::from_ymd(2023, 2, 29), None);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(transparent)]
pub struct Date {
    days: i32,
}

impl Date {
    /// 1970-01-01.
    pub const UNIX_EPOCH: Date = Date { days: 0 };

    /// The day `days` after 1970-01-01 (negative is before).
    pub const fn from_days(days: i32) -> Self {
        Date { days }
    }

    /// The day `year-month-day`, or `None` when there is no such day (or
    /// it is beyond 5.8 million years from 1970).
    pub const fn from_ymd(year: i32, month: u32, day: u32) -> Option<Self> {
        if month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) {
            return None;
        }
        // Howard Hinnant's `days_from_civil`.
        let y = if month <= 2 {
            year as i64 - 1
        } else {
            year as i64
        };
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let mp = if month > 2 { month - 3 } else { month + 9 } as i64;
        let doy = (153 * mp + 2) / 5 + day as i64 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        if days < i32::MIN as i64 || days > i32::MAX as i64 {
            return None;
        }
        Some(Date { days: days as i32 })
    }

    /// Days since 1970-01-01.
    pub const fn days_since_epoch(self) -> i32 {
        self.days
    }

    /// Days from `earlier` to `self` (negative when `earlier` is later).
    pub const fn days_since(self, earlier: Date) -> i64 {
        self.days as i64 - earlier.days as i64
    }

    /// The day `days` later (earlier when negative), saturating.
    pub const fn add_days(self, days: i32) -> Self {
        Date {
            days: self.days.saturating_add(days),
        }
    }

    /// `(year, month 1..=12, day 1..=31)`.
    pub const fn ymd(self) -> (i32, u32, u32) {
        // Howard Hinnant's `civil_from_days`.
        let z = self.days as i64 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
        (year as i32, month, day)
    }

    /// The year.
    pub const fn year(self) -> i32 {
        self.ymd().0
    }

    /// The month, `1..=12`.
    pub const fn month(self) -> u32 {
        self.ymd().1
    }

    /// The day of the month, `1..=31`.
    pub const fn day(self) -> u32 {
        self.ymd().2
    }

    /// Monday = 0, ..., Sunday = 6 (ISO 8601 order).
    pub const fn day_of_week(self) -> u32 {
        (self.days as i64 + 3).rem_euclid(7) as u32
    }

    /// The instant the day starts, in UTC (saturating beyond the range
    /// of timestamps, about 292,000 years).
    pub const fn start(self) -> Timestamp {
        Timestamp::from_micros((self.days as i64).saturating_mul(86_400_000_000))
    }
}

impl Timestamp {
    /// The day (in UTC) of this instant, as a [`Date`].
    pub const fn day(self) -> Date {
        Date {
            days: self.days_since_epoch() as i32,
        }
    }
}

const fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

impl fmt::Display for Date {
    /// `2026-03-02` (a sign and at least four digits outside 0000-9999).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (year, month, day) = self.ymd();
        if (0..=9999).contains(&year) {
            write!(f, "{year:04}-{month:02}-{day:02}")
        } else {
            let sign = if year < 0 { '-' } else { '+' };
            write!(f, "{sign}{:04}-{month:02}-{day:02}", year.unsigned_abs())
        }
    }
}

impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Date({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_calendar_dates_agree() {
        for days in -800_000..800_000 {
            let date = Date::from_days(days);
            let (y, m, d) = date.ymd();
            assert_eq!(Date::from_ymd(y, m, d), Some(date), "{days}");
        }
        assert_eq!(Date::from_ymd(1970, 1, 1), Some(Date::UNIX_EPOCH));
        assert_eq!(Date::from_ymd(1969, 12, 31).unwrap().days_since_epoch(), -1);
        assert_eq!(Date::from_ymd(2000, 2, 29).unwrap().day_of_week(), 1);
        assert_eq!(Date::from_days(-719_529).to_string(), "-0001-12-31");
        for days in [i32::MIN, i32::MAX] {
            let (y, m, d) = Date::from_days(days).ymd();
            assert_eq!(Date::from_ymd(y, m, d), Some(Date::from_days(days)));
        }
    }
}
