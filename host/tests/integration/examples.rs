//! The example transforms on their bundled data, against values computed
//! here independently of the examples' code.

use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Float64Type, Int64Type, TimestampMicrosecondType};
use skewless::io::{ColumnRequest, Reader};
use skewless_test_artifacts as artifacts;

use crate::support::load;

fn sample(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(relative)
}

/// Reads the columns `transform` takes, with its declared types, as a
/// backfill would.
fn read(path: &Path, transform: &skewless::Transform) -> RecordBatch {
    let requests: Vec<ColumnRequest> = transform
        .info()
        .inputs
        .iter()
        .map(|f| ColumnRequest {
            name: f.name.clone(),
            data_type: Some(f.data_type),
        })
        .collect();
    let batches: Vec<RecordBatch> =
        Reader::open(path, Some(&requests), 1 << 20, Default::default())
            .unwrap()
            .map(Result::unwrap)
            .collect();
    arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap()
}

/// Distance in units in the last place between two finite floats.
fn ulps(a: f64, b: f64) -> u64 {
    let key = |x: f64| {
        let bits = x.to_bits() as i64;
        if bits < 0 { i64::MIN - bits } else { bits }
    };
    key(a).abs_diff(key(b))
}

#[test]
fn fraud_features_match_the_spec_on_the_sample_transactions() {
    let transform = load(artifacts::FRAUD_FEATURES);
    let input = read(&sample("fraud-features/data/transactions.csv"), &transform);
    assert_eq!(input.num_rows(), 2_000);
    let output = transform.call(&input).unwrap();
    let amount = input
        .column_by_name("amount")
        .unwrap()
        .as_primitive::<Float64Type>();
    let hour = input
        .column_by_name("hour")
        .unwrap()
        .as_primitive::<Int64Type>();
    let category = input
        .column_by_name("merchant_category")
        .unwrap()
        .as_string::<i32>();
    let log_amount = output.column(0).as_primitive::<Float64Type>();
    let is_night = output.column(1).as_primitive::<Int64Type>();
    let bucket = output.column(2).as_primitive::<Int64Type>();
    let risk = output.column(3).as_primitive::<Float64Type>();
    let mut last_bit_differences = 0;
    for row in 0..input.num_rows() {
        let (a, h, c) = (amount.value(row), hour.value(row), category.value(row));
        // ln(1 + amount): the host's libm and the guest's may differ in the
        // last bit on a few inputs (the very skew skewless removes by
        // running one component everywhere), so allow one ulp here.
        let expected_log = (1.0 + a).ln();
        let distance = ulps(expected_log, log_amount.value(row));
        assert!(
            distance <= 1,
            "row {row}: ln(1 + {a}) = {expected_log}, got {}",
            log_amount.value(row)
        );
        last_bit_differences += usize::from(distance == 1);
        assert_eq!(
            is_night.value(row),
            if !(6..22).contains(&h) { 1 } else { 0 },
            "row {row}"
        );
        let expected_bucket = if a < 10.0 {
            0
        } else if a < 50.0 {
            1
        } else if a < 100.0 {
            2
        } else if a < 500.0 {
            3
        } else if a < 1000.0 {
            4
        } else {
            5
        };
        assert_eq!(bucket.value(row), expected_bucket, "row {row}: amount {a}");
        let expected_risk = match c {
            "grocery" => 0.1,
            "travel" => 0.7,
            "electronics" => 0.5,
            "gaming" => 0.8,
            _ => 0.3,
        };
        assert_eq!(
            risk.value(row).to_bits(),
            f64::to_bits(expected_risk),
            "row {row}: {c}"
        );
    }
    assert!(
        last_bit_differences < 20,
        "{last_bit_differences} rows differ in the last bit"
    );
}

#[test]
fn glucose_alerts_match_the_thresholds_on_the_sample_readings() {
    let transform = load(artifacts::GLUCOSE_ALERTS);
    let input = read(&sample("glucose-alerts/data/readings.csv"), &transform);
    let output = transform.call(&input).unwrap();
    let read_at = input
        .column_by_name("read_at")
        .unwrap()
        .as_primitive::<TimestampMicrosecondType>();
    let glucose = input
        .column_by_name("glucose_mg_dl")
        .unwrap()
        .as_primitive::<Float64Type>();
    let previous = input
        .column_by_name("previous_mg_dl")
        .unwrap()
        .as_primitive::<Float64Type>();
    let minutes = input
        .column_by_name("minutes_since_previous")
        .unwrap()
        .as_primitive::<Float64Type>();
    let rate = output
        .column_by_name("rate_mg_dl_per_min")
        .unwrap()
        .as_primitive::<Float64Type>();
    let flag = |name: &str| output.column_by_name(name).unwrap().as_boolean().clone();
    let (hyper, hypo, rapid, nocturnal) = (
        flag("hyperglycemia"),
        flag("hypoglycemia"),
        flag("rapid_rise"),
        flag("nocturnal_hypoglycemia"),
    );
    let mut counts = [0; 5];
    for row in 0..input.num_rows() {
        let g = glucose.value(row);
        let expected_rate =
            if previous.is_valid(row) && minutes.is_valid(row) && minutes.value(row) > 0.0 {
                Some((g - previous.value(row)) / minutes.value(row))
            } else {
                None
            };
        let actual_rate = rate.is_valid(row).then(|| rate.value(row));
        // Division is exact in IEEE 754: bit-identical everywhere.
        assert_eq!(
            actual_rate.map(f64::to_bits),
            expected_rate.map(f64::to_bits),
            "row {row}"
        );
        assert_eq!(hyper.value(row), g > 180.0, "row {row}");
        assert_eq!(hypo.value(row), g < 70.0, "row {row}");
        assert_eq!(
            rapid.value(row),
            expected_rate.is_some_and(|r| r >= 2.0),
            "row {row}"
        );
        let hour = read_at.value(row).rem_euclid(86_400_000_000) / 3_600_000_000;
        assert_eq!(nocturnal.value(row), g < 70.0 && hour < 6, "row {row}");
        counts[0] += usize::from(expected_rate.is_none());
        counts[1] += usize::from(g > 180.0);
        counts[2] += usize::from(g < 70.0);
        counts[3] += usize::from(rapid.value(row));
        counts[4] += usize::from(nocturnal.value(row));
    }
    // The sample exercises every branch.
    assert!(counts.iter().all(|&n| n > 0), "{counts:?}");
}

#[test]
fn email_subject_features_match_on_the_sample_subjects() {
    let transform = load(artifacts::EMAIL_SUBJECT);
    let input = read(&sample("email-subject/data/subjects.jsonl"), &transform);
    let output = transform.call(&input).unwrap();
    let subjects = input.column_by_name("subject").unwrap().as_string::<i32>();
    let int = |name: &str| {
        output
            .column_by_name(name)
            .unwrap()
            .as_primitive::<Int64Type>()
            .clone()
    };
    let (length, words, exclamations) = (
        int("length_chars"),
        int("word_count"),
        int("exclamation_marks"),
    );
    let share = output
        .column_by_name("uppercase_share")
        .unwrap()
        .as_primitive::<Float64Type>()
        .clone();
    let emoji = output
        .column_by_name("has_emoji")
        .unwrap()
        .as_boolean()
        .clone();
    let token = output
        .column_by_name("has_personalization_token")
        .unwrap()
        .as_boolean()
        .clone();
    for row in 0..input.num_rows() {
        let s = subjects.value(row);
        assert_eq!(length.value(row), s.chars().count() as i64, "{s:?}");
        assert_eq!(
            words.value(row),
            s.split(char::is_whitespace)
                .filter(|w| !w.is_empty())
                .count() as i64,
            "{s:?}"
        );
        assert_eq!(
            exclamations.value(row),
            s.matches('!').count() as i64,
            "{s:?}"
        );
        let letters: Vec<char> = s.chars().filter(|c| c.is_alphabetic()).collect();
        let upper = letters.iter().filter(|c| c.is_uppercase()).count();
        let expected_share = if letters.is_empty() {
            0.0
        } else {
            upper as f64 / letters.len() as f64
        };
        assert_eq!(
            share.value(row).to_bits(),
            expected_share.to_bits(),
            "{s:?}"
        );
        let expected_emoji = s.chars().any(|c| {
            let c = c as u32;
            (0x1F000..=0x1FAFF).contains(&c)
                || (0x2600..=0x27BF).contains(&c)
                || (0x2B00..=0x2BFF).contains(&c)
        });
        assert_eq!(emoji.value(row), expected_emoji, "{s:?}");
        let expected_token = ["*|FNAME|*", "{{first_name}}", "%%FirstName%%"]
            .iter()
            .any(|t| s.contains(t));
        assert_eq!(token.value(row), expected_token, "{s:?}");
    }
}
