//! Alert features from continuous glucose monitor (CGM) readings.
//!
//! Each row is one sensor reading with the reading before it. Thresholds
//! follow the usual CGM consensus ranges: above 180 mg/dL is hyperglycemia,
//! below 70 mg/dL hypoglycemia, and a rise of 2 mg/dL per minute or more is
//! "rising rapidly".

use skewless_guest::{Features, Timestamp, transform};

/// Readings above this (mg/dL) are hyperglycemic.
pub const HYPERGLYCEMIA_ABOVE: f64 = 180.0;
/// Readings below this (mg/dL) are hypoglycemic.
pub const HYPOGLYCEMIA_BELOW: f64 = 70.0;
/// A rate of change at or above this (mg/dL per minute) is a rapid rise.
pub const RAPID_RISE_AT: f64 = 2.0;

/// Alert features from a continuous glucose monitor reading: the rate of
/// change since the previous reading, hyper- and hypoglycemia flags, a rapid
/// rise flag, and whether a low happened at night (00:00 to 06:00 UTC).
#[transform(name = "glucose-alerts", version = "1.0.0")]
pub fn glucose_alerts(
    read_at: Timestamp,
    glucose_mg_dl: f64,
    previous_mg_dl: Option<f64>,
    minutes_since_previous: Option<f64>,
) -> GlucoseAlerts {
    let rate = match (previous_mg_dl, minutes_since_previous) {
        (Some(previous), Some(minutes)) if minutes > 0.0 => {
            Some((glucose_mg_dl - previous) / minutes)
        }
        _ => None,
    };
    let hypoglycemia = glucose_mg_dl < HYPOGLYCEMIA_BELOW;
    GlucoseAlerts {
        rate_mg_dl_per_min: rate,
        hyperglycemia: glucose_mg_dl > HYPERGLYCEMIA_ABOVE,
        hypoglycemia,
        rapid_rise: rate.is_some_and(|rate| rate >= RAPID_RISE_AT),
        nocturnal_hypoglycemia: hypoglycemia && read_at.hour() < 6,
    }
}

/// The alert features of one reading.
#[derive(Features, Debug, Clone, Copy, PartialEq)]
pub struct GlucoseAlerts {
    /// (glucose - previous) / minutes; null without a previous reading or
    /// when the minutes between them are not positive.
    pub rate_mg_dl_per_min: Option<f64>,
    /// glucose > 180 mg/dL.
    pub hyperglycemia: bool,
    /// glucose < 70 mg/dL.
    pub hypoglycemia: bool,
    /// rate >= 2 mg/dL per minute.
    pub rapid_rise: bool,
    /// hypoglycemia between 00:00 and 06:00 UTC.
    pub nocturnal_hypoglycemia: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIDNIGHT: Timestamp = Timestamp::from_micros(1_700_006_400_000_000);
    const NOON: Timestamp = Timestamp::from_micros(1_700_006_400_000_000 + 12 * 3_600_000_000);

    #[test]
    fn rate_needs_a_previous_reading_and_positive_minutes() {
        assert_eq!(
            glucose_alerts(NOON, 120.0, None, None).rate_mg_dl_per_min,
            None
        );
        assert_eq!(
            glucose_alerts(NOON, 120.0, Some(100.0), Some(0.0)).rate_mg_dl_per_min,
            None
        );
        assert_eq!(
            glucose_alerts(NOON, 120.0, Some(100.0), Some(5.0)).rate_mg_dl_per_min,
            Some(4.0)
        );
    }

    #[test]
    fn thresholds_are_strict() {
        assert!(!glucose_alerts(NOON, 180.0, None, None).hyperglycemia);
        assert!(glucose_alerts(NOON, 180.5, None, None).hyperglycemia);
        assert!(!glucose_alerts(NOON, 70.0, None, None).hypoglycemia);
        assert!(glucose_alerts(MIDNIGHT, 69.0, None, None).nocturnal_hypoglycemia);
        assert!(!glucose_alerts(NOON, 69.0, None, None).nocturnal_hypoglycemia);
        assert!(glucose_alerts(NOON, 110.0, Some(100.0), Some(5.0)).rapid_rise);
    }
}
