//! The `Timestamp` argument and output type, with the calendar helpers a
//! feature author needs (hour of day, day of week, date).
//!
//! All arithmetic is integer arithmetic on microseconds since the Unix epoch
//! in UTC: no time zone database and no clock reach the guest, so a
//! timestamp feature computes the same value everywhere.

use std::fmt;

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_MINUTE: i64 = 60 * MICROS_PER_SECOND;
const MICROS_PER_HOUR: i64 = 60 * MICROS_PER_MINUTE;
const MICROS_PER_DAY: i64 = 24 * MICROS_PER_HOUR;

/// An instant, as microseconds since 1970-01-01T00:00:00 UTC.
///
/// This is the type of a `timestamp-micros` column. Calendar helpers work in
/// UTC; shift with [`Timestamp::add_micros`] first for a fixed local offset.
///
/// ```
/// use skewless_guest::Timestamp;
///
/// // 2024-03-09T23:30:00Z, a Saturday.
/// let t = Timestamp::from_micros(1_710_027_000_000_000);
/// assert_eq!(t.hour(), 23);
/// assert_eq!(t.minute(), 30);
/// assert_eq!(t.day_of_week(), 5); // Monday = 0 ... Sunday = 6
/// assert!(t.is_weekend());
/// assert_eq!(t.date(), (2024, 3, 9));
/// assert_eq!(t.to_string(), "2024-03-09T23:30:00.000000Z");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    micros: i64,
}

impl Timestamp {
    /// The Unix epoch, 1970-01-01T00:00:00Z.
    pub const UNIX_EPOCH: Timestamp = Timestamp { micros: 0 };

    /// The instant `micros` microseconds after the Unix epoch (negative is before).
    pub const fn from_micros(micros: i64) -> Self {
        Timestamp { micros }
    }

    /// The instant `seconds` seconds after the Unix epoch, or `None` if it
    /// does not fit in 64-bit microseconds.
    pub const fn from_seconds(seconds: i64) -> Option<Self> {
        match seconds.checked_mul(MICROS_PER_SECOND) {
            Some(micros) => Some(Timestamp { micros }),
            None => None,
        }
    }

    /// Microseconds since the Unix epoch.
    pub const fn as_micros(self) -> i64 {
        self.micros
    }

    /// This instant shifted by `micros` (saturating at the representable range).
    pub const fn add_micros(self, micros: i64) -> Self {
        Timestamp {
            micros: self.micros.saturating_add(micros),
        }
    }

    /// Microseconds from `earlier` to `self` (negative if `earlier` is later),
    /// saturating at the representable range.
    pub const fn micros_since(self, earlier: Timestamp) -> i64 {
        self.micros.saturating_sub(earlier.micros)
    }

    /// Whole days since the Unix epoch (floor, so instants before 1970 are negative).
    pub const fn days_since_epoch(self) -> i64 {
        self.micros.div_euclid(MICROS_PER_DAY)
    }

    const fn micros_of_day(self) -> i64 {
        self.micros.rem_euclid(MICROS_PER_DAY)
    }

    /// Hour of the day in UTC, `0..=23`.
    pub const fn hour(self) -> u32 {
        (self.micros_of_day() / MICROS_PER_HOUR) as u32
    }

    /// Minute of the hour, `0..=59`.
    pub const fn minute(self) -> u32 {
        (self.micros_of_day() % MICROS_PER_HOUR / MICROS_PER_MINUTE) as u32
    }

    /// Second of the minute, `0..=59`.
    pub const fn second(self) -> u32 {
        (self.micros_of_day() % MICROS_PER_MINUTE / MICROS_PER_SECOND) as u32
    }

    /// Microseconds within the second, `0..=999_999`.
    pub const fn subsec_micros(self) -> u32 {
        (self.micros_of_day() % MICROS_PER_SECOND) as u32
    }

    /// Day of the week in UTC: Monday = 0, ..., Sunday = 6 (ISO 8601 order).
    pub const fn day_of_week(self) -> u32 {
        // 1970-01-01 was a Thursday, which is 3 counting from Monday = 0.
        (self.days_since_epoch() + 3).rem_euclid(7) as u32
    }

    /// Whether the day (in UTC) is a Saturday or Sunday.
    pub const fn is_weekend(self) -> bool {
        self.day_of_week() >= 5
    }

    /// The calendar date in UTC as `(year, month 1..=12, day 1..=31)`,
    /// proleptic Gregorian.
    pub const fn date(self) -> (i64, u32, u32) {
        // Howard Hinnant's `civil_from_days`, on days since 1970-01-01.
        let z = self.days_since_epoch() + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
        (year, month, day)
    }

    /// The year in UTC.
    pub const fn year(self) -> i64 {
        self.date().0
    }

    /// The month in UTC, `1..=12`.
    pub const fn month(self) -> u32 {
        self.date().1
    }

    /// The day of the month in UTC, `1..=31`.
    pub const fn day_of_month(self) -> u32 {
        self.date().2
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with microseconds, e.g. `2024-03-09T23:30:00.000000Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (year, month, day) = self.date();
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
            self.hour(),
            self.minute(),
            self.second(),
            self.subsec_micros()
        )
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(days: i64, h: i64, m: i64, s: i64) -> Timestamp {
        Timestamp::from_micros(
            days * MICROS_PER_DAY
                + h * MICROS_PER_HOUR
                + m * MICROS_PER_MINUTE
                + s * MICROS_PER_SECOND,
        )
    }

    #[test]
    fn epoch_is_a_thursday_at_midnight() {
        let t = Timestamp::UNIX_EPOCH;
        assert_eq!((t.hour(), t.minute(), t.second()), (0, 0, 0));
        assert_eq!(t.day_of_week(), 3);
        assert_eq!(t.date(), (1970, 1, 1));
    }

    #[test]
    fn instants_before_the_epoch_floor_to_the_previous_day() {
        // One microsecond before the epoch: 1969-12-31T23:59:59.999999, a Wednesday.
        let t = Timestamp::from_micros(-1);
        assert_eq!(t.days_since_epoch(), -1);
        assert_eq!(
            (t.hour(), t.minute(), t.second(), t.subsec_micros()),
            (23, 59, 59, 999_999)
        );
        assert_eq!(t.day_of_week(), 2);
        assert_eq!(t.date(), (1969, 12, 31));
        assert_eq!(t.to_string(), "1969-12-31T23:59:59.999999Z");
    }

    #[test]
    fn dates_match_known_calendar_days() {
        // 2000-02-29 (leap day in a century leap year) is day 11016.
        assert_eq!(ts(11_016, 0, 0, 0).date(), (2000, 2, 29));
        assert_eq!(ts(11_016, 0, 0, 0).day_of_week(), 1); // Tuesday
        // 2100-03-01 follows 2100-02-28: 2100 is not a leap year.
        assert_eq!(ts(47_540, 0, 0, 0).date(), (2100, 2, 28));
        assert_eq!(ts(47_541, 0, 0, 0).date(), (2100, 3, 1));
        // 1900-01-01 was a Monday.
        assert_eq!(ts(-25_567, 12, 0, 0).date(), (1900, 1, 1));
        assert_eq!(ts(-25_567, 12, 0, 0).day_of_week(), 0);
    }

    #[test]
    fn every_day_of_a_400_year_cycle_round_trips_through_its_date() {
        let mut previous = ts(-1, 0, 0, 0).date();
        for days in 0..146_097 {
            let date = ts(days, 0, 0, 0).date();
            let next_day = (previous.0, previous.1, previous.2 + 1);
            let next_month = (previous.0, previous.1 + 1, 1);
            let next_year = (previous.0 + 1, 1, 1);
            assert!(
                date == next_day || date == next_month || date == next_year,
                "{previous:?} -> {date:?}"
            );
            previous = date;
        }
    }

    #[test]
    fn extremes_do_not_overflow() {
        for micros in [i64::MIN, i64::MAX] {
            let t = Timestamp::from_micros(micros);
            assert!(t.hour() < 24 && t.day_of_week() < 7);
            let (_, month, day) = t.date();
            assert!((1..=12).contains(&month) && (1..=31).contains(&day));
        }
        assert_eq!(Timestamp::from_seconds(i64::MAX), None);
        assert_eq!(
            Timestamp::from_micros(i64::MAX).add_micros(1).as_micros(),
            i64::MAX
        );
    }
}
