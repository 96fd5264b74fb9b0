//! Every column type across the boundary, with and without nulls, at every
//! batch size; float bits; and the exact errors of schema mismatches.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float32Array, Float64Array, Int32Array, Int64Array,
    RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Float32Type, Float64Type};
use skewless::Error;
use skewless_test_artifacts as artifacts;

use crate::support::{array, batch, load};

const UTC: &str = "+00:00";

const F64_EDGES: [f64; 10] = [
    0.0,
    -0.0,
    1.5,
    f64::MAX,
    f64::MIN,
    f64::MIN_POSITIVE,
    5e-324, // the smallest subnormal
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
];
const F32_EDGES: [f32; 8] = [
    0.0,
    -0.0,
    1.5,
    f32::MAX,
    f32::MIN,
    1e-45,
    f32::INFINITY,
    f32::NAN,
];
const I64_EDGES: [i64; 6] = [0, -1, 1, i64::MIN, i64::MAX, 9_007_199_254_740_993];
const I32_EDGES: [i32; 5] = [0, -1, 1, i32::MIN, i32::MAX];
const STRINGS: [&str; 7] = [
    "",
    "a",
    "héllo",
    "日本語のテキスト",
    "emoji 🎉🔥",
    "tab\tnew\nline \"quoted\"",
    "x",
];

/// `rows` rows of every type; the `n*` columns are null in rows 1, 5, 9...
/// when `with_nulls`.
pub fn all_types_input(rows: usize, with_nulls: bool) -> RecordBatch {
    let null = |i: usize| with_nulls && i % 4 == 1;
    let b: Vec<bool> = (0..rows).map(|i| i % 3 == 0).collect();
    let i32s: Vec<i32> = (0..rows)
        .map(|i| I32_EDGES[i % I32_EDGES.len()].wrapping_add(i as i32 / 5))
        .collect();
    let i64s: Vec<i64> = (0..rows)
        .map(|i| I64_EDGES[i % I64_EDGES.len()].wrapping_sub(i as i64 / 6))
        .collect();
    let f32s: Vec<f32> = (0..rows).map(|i| F32_EDGES[i % F32_EDGES.len()]).collect();
    let f64s: Vec<f64> = (0..rows)
        .map(|i| match i % 11 {
            10 => f64::from_bits(0xfff8_0000_dead_beef), // a negative NaN with a payload
            k => F64_EDGES[k],
        })
        .collect();
    let strings: Vec<String> = (0..rows)
        .map(|i| {
            format!(
                "{}{}",
                STRINGS[i % STRINGS.len()],
                if i % 7 == 6 {
                    i.to_string()
                } else {
                    String::new()
                }
            )
        })
        .collect();
    let times: Vec<i64> = (0..rows)
        .map(|i| I64_EDGES[i % I64_EDGES.len()] / 3 + i as i64)
        .collect();
    let mask = |i: usize| if null(i) { None } else { Some(()) };
    batch(vec![
        ("b", array(BooleanArray::from(b.clone()))),
        ("i", array(Int32Array::from(i32s.clone()))),
        ("l", array(Int64Array::from(i64s.clone()))),
        ("f", array(Float32Array::from(f32s.clone()))),
        ("d", array(Float64Array::from(f64s.clone()))),
        ("s", array(StringArray::from(strings.clone()))),
        (
            "t",
            array(TimestampMicrosecondArray::from(times.clone()).with_timezone(UTC)),
        ),
        (
            "nb",
            array(
                (0..rows)
                    .map(|i| mask(i).map(|_| b[i]))
                    .collect::<BooleanArray>(),
            ),
        ),
        (
            "ni",
            array(
                (0..rows)
                    .map(|i| mask(i).map(|_| i32s[i]))
                    .collect::<Int32Array>(),
            ),
        ),
        (
            "nl",
            array(
                (0..rows)
                    .map(|i| mask(i).map(|_| i64s[i]))
                    .collect::<Int64Array>(),
            ),
        ),
        (
            "nf",
            array(
                (0..rows)
                    .map(|i| mask(i).map(|_| f32s[i]))
                    .collect::<Float32Array>(),
            ),
        ),
        (
            "nd",
            array(
                (0..rows)
                    .map(|i| mask(i).map(|_| f64s[i]))
                    .collect::<Float64Array>(),
            ),
        ),
        (
            "ns",
            array(
                (0..rows)
                    .map(|i| mask(i).map(|_| strings[i].clone()))
                    .collect::<StringArray>(),
            ),
        ),
        (
            "nt",
            array(
                (0..rows)
                    .map(|i| mask(i).map(|_| times[i]))
                    .collect::<TimestampMicrosecondArray>()
                    .with_timezone(UTC),
            ),
        ),
    ])
}

/// Asserts two columns hold the same values bit for bit (floats compared
/// by their bits, so NaN payloads and signed zeros count) and the same nulls.
pub fn assert_same_bits(name: &str, expected: &ArrayRef, actual: &ArrayRef) {
    assert_eq!(expected.len(), actual.len(), "column `{name}`: length");
    assert_eq!(
        expected.data_type(),
        actual.data_type(),
        "column `{name}`: type"
    );
    for row in 0..expected.len() {
        assert_eq!(
            expected.is_null(row),
            actual.is_null(row),
            "column `{name}`, row {row}: validity"
        );
    }
    match expected.data_type() {
        DataType::Float64 => {
            let (e, a) = (
                expected.as_primitive::<Float64Type>(),
                actual.as_primitive::<Float64Type>(),
            );
            for row in (0..e.len()).filter(|&r| e.is_valid(r)) {
                assert_eq!(
                    e.value(row).to_bits(),
                    a.value(row).to_bits(),
                    "column `{name}`, row {row}: {} vs {}",
                    e.value(row),
                    a.value(row)
                );
            }
        }
        DataType::Float32 => {
            let (e, a) = (
                expected.as_primitive::<Float32Type>(),
                actual.as_primitive::<Float32Type>(),
            );
            for row in (0..e.len()).filter(|&r| e.is_valid(r)) {
                assert_eq!(
                    e.value(row).to_bits(),
                    a.value(row).to_bits(),
                    "column `{name}`, row {row}"
                );
            }
        }
        _ => {
            // Compare only valid slots: the value under a null is arbitrary.
            for row in (0..expected.len()).filter(|&r| expected.is_valid(r)) {
                assert_eq!(
                    expected.slice(row, 1).to_data(),
                    actual.slice(row, 1).to_data(),
                    "column `{name}`, row {row}"
                );
            }
        }
    }
}

pub fn assert_batches_same_bits(expected: &RecordBatch, actual: &RecordBatch) {
    assert_eq!(expected.num_rows(), actual.num_rows(), "row count");
    assert_eq!(expected.num_columns(), actual.num_columns(), "column count");
    for (field, (e, a)) in expected
        .schema()
        .fields()
        .iter()
        .zip(expected.columns().iter().zip(actual.columns()))
    {
        assert_same_bits(field.name(), e, a);
    }
}

#[test]
fn every_type_round_trips_without_nulls() {
    let transform = load(artifacts::ALL_TYPES);
    let input = all_types_input(64, false);
    let output = transform.call(&input).unwrap();
    assert_batches_same_bits(&input, &output);
    // Non-nullable outputs never carry a validity bitmap.
    assert!(output.columns().iter().all(|c| c.null_count() == 0));
}

#[test]
fn every_type_round_trips_with_nulls() {
    let transform = load(artifacts::ALL_TYPES);
    let input = all_types_input(64, true);
    let output = transform.call(&input).unwrap();
    assert_batches_same_bits(&input, &output);
    assert_eq!(output.column_by_name("ns").unwrap().null_count(), 16);
}

#[test]
fn an_empty_batch_gives_an_empty_batch_with_the_declared_schema() {
    let transform = load(artifacts::ALL_TYPES);
    let output = transform.call(&all_types_input(0, true)).unwrap();
    assert_eq!(output.num_rows(), 0);
    assert_eq!(output.schema(), *transform.output_schema());
}

#[test]
fn a_batch_of_one_row() {
    let transform = load(artifacts::ALL_TYPES);
    for with_nulls in [false, true] {
        // Row 1 is the null row when nulls are on: slice it out alone.
        let input = all_types_input(4, with_nulls).slice(1, 1);
        let output = transform.call(&input).unwrap();
        assert_batches_same_bits(&input, &output);
    }
}

#[test]
fn large_batches_keep_every_row_in_order() {
    let transform = load(artifacts::ALL_TYPES);
    let input = all_types_input(100_003, true);
    let output = transform.call(&input).unwrap();
    assert_batches_same_bits(&input, &output);
}

#[test]
fn sliced_input_is_read_from_its_offset() {
    // Offsets that are not multiples of 8 exercise the repacked validity
    // bitmap and the rebased string offsets.
    let transform = load(artifacts::ALL_TYPES);
    let whole = all_types_input(50, true);
    for (offset, len) in [(3, 20), (8, 17), (13, 1), (49, 1)] {
        let input = whole.slice(offset, len);
        assert_batches_same_bits(&input, &transform.call(&input).unwrap());
    }
}

#[test]
fn floats_keep_their_bits_and_arithmetic_nans_are_canonical() {
    let transform = load(artifacts::FLOAT_BITS);
    let x_bits: [u64; 5] = [
        0xfff8_0000_dead_beef, // negative quiet NaN with a payload
        0x7ff8_0000_0000_0001, // positive quiet NaN with a payload
        0x8000_0000_0000_0000, // -0.0
        0x0000_0000_0000_0001, // smallest subnormal
        0x7ff0_0000_0000_0000, // +inf
    ];
    let y_bits: [u32; 5] = [
        0xffc0_1234,
        0x7fc0_0001,
        0x8000_0000,
        0x0000_0001,
        0x7f80_0000,
    ];
    let input = batch(vec![
        (
            "x",
            array(Float64Array::from(x_bits.map(f64::from_bits).to_vec())),
        ),
        (
            "y",
            array(Float32Array::from(y_bits.map(f32::from_bits).to_vec())),
        ),
    ]);
    let output = transform.call(&input).unwrap();
    let f64_bits = |name: &str| -> Vec<u64> {
        output
            .column_by_name(name)
            .unwrap()
            .as_primitive::<Float64Type>()
            .values()
            .iter()
            .map(|v| v.to_bits())
            .collect()
    };
    let f32_bits = |name: &str| -> Vec<u32> {
        output
            .column_by_name(name)
            .unwrap()
            .as_primitive::<Float32Type>()
            .values()
            .iter()
            .map(|v| v.to_bits())
            .collect()
    };
    // Moved values are untouched.
    assert_eq!(f64_bits("x_echo"), x_bits);
    assert_eq!(f32_bits("y_echo"), y_bits);
    // NaNs from arithmetic are the canonical NaN, whatever the CPU would
    // have produced (x86 keeps the payload and makes 0/0 negative).
    const CANONICAL_F64: u64 = 0x7ff8_0000_0000_0000;
    const CANONICAL_F32: u32 = 0x7fc0_0000;
    assert_eq!(
        f64_bits("x_plus_zero"),
        [CANONICAL_F64, CANONICAL_F64, 0, 1, 0x7ff0_0000_0000_0000]
    );
    assert_eq!(f64_bits("zero_over_zero"), [CANONICAL_F64; 5]);
    assert_eq!(
        f32_bits("y_plus_zero"),
        [CANONICAL_F32, CANONICAL_F32, 0, 1, 0x7f80_0000]
    );
}

fn fraud_input(amount: ArrayRef, hour: ArrayRef) -> RecordBatch {
    batch(vec![
        ("amount", amount),
        ("hour", hour),
        (
            "merchant_category",
            array(StringArray::from(vec!["travel", "grocery", "gaming"])),
        ),
    ])
}

#[test]
fn a_missing_column_is_named_with_its_type_and_the_columns_present() {
    let transform = load(artifacts::FRAUD_FEATURES);
    let input = batch(vec![
        ("amount", array(Float64Array::from(vec![1.0]))),
        (
            "merchant_category",
            array(StringArray::from(vec!["travel"])),
        ),
    ]);
    let error = transform.call(&input).unwrap_err();
    assert!(matches!(error, Error::MissingColumn { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "input has no column `hour` (int64), which transform `fraud-features` needs; \
         the input's columns are: `amount`, `merchant_category`"
    );

    // A column that looks like the missing one is pointed at, as in a
    // request; a column the transform takes is never the suggestion.
    let misspelt = batch(vec![
        ("amount", array(Float64Array::from(vec![1.0]))),
        ("Hours", array(Int64Array::from(vec![3]))),
        (
            "merchant_category",
            array(StringArray::from(vec!["travel"])),
        ),
    ]);
    assert_eq!(
        transform.call(&misspelt).unwrap_err().to_string(),
        "input has no column `hour` (int64), which transform `fraud-features` needs; \
         the input's columns are: `amount`, `Hours`, `merchant_category`; `Hours` looks like a \
         misspelling of `hour`"
    );
}

#[test]
fn a_wrong_type_names_the_column_and_both_types() {
    let transform = load(artifacts::FRAUD_FEATURES);
    let input = fraud_input(
        array(Float64Array::from(vec![1.0, 2.0, 3.0])),
        array(StringArray::from(vec!["3", "4", "5"])),
    );
    let error = transform.call(&input).unwrap_err();
    assert!(matches!(error, Error::WrongType { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "column `hour` has type Utf8, but transform `fraud-features` takes int64; the column \
         holds text: parse it where the data is produced, or declare the input utf8 (`&str` in \
         Rust, `str` in Python)"
    );
}

#[test]
fn a_null_in_a_non_nullable_column_names_the_row() {
    let transform = load(artifacts::FRAUD_FEATURES);
    let input = fraud_input(
        array(Float64Array::from(vec![Some(1.0), Some(2.0), None])),
        array(Int64Array::from(vec![1, 2, 3])),
    );
    let error = transform.call(&input).unwrap_err();
    assert!(
        matches!(error, Error::UnexpectedNull { row: 2, .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "column `amount` is null in row 2, but transform `fraud-features` declares it \
         non-nullable (not `Option<_>` in Rust, not `Optional[...]` in Python)"
    );
}

#[test]
fn exact_widenings_are_accepted() {
    // int32 hours, float32 amounts and a dictionary-encoded category mean
    // the same values; so do timestamps without a zone, when the runtime is
    // told they are UTC (and they are refused when it is not).
    let transform = load(artifacts::FRAUD_FEATURES);
    let category: arrow::array::DictionaryArray<arrow::datatypes::Int8Type> =
        vec!["travel", "grocery", "travel"].into_iter().collect();
    let narrow = batch(vec![
        (
            "amount",
            array(Float32Array::from(vec![12.5, 0.25, 1000.0])),
        ),
        ("hour", array(Int32Array::from(vec![3, 12, 23]))),
        ("merchant_category", Arc::new(category)),
    ]);
    let wide = batch(vec![
        (
            "amount",
            array(Float64Array::from(vec![12.5, 0.25, 1000.0])),
        ),
        ("hour", array(Int64Array::from(vec![3, 12, 23]))),
        (
            "merchant_category",
            array(StringArray::from(vec!["travel", "grocery", "travel"])),
        ),
    ]);
    assert_batches_same_bits(
        &transform.call(&wide).unwrap(),
        &transform.call(&narrow).unwrap(),
    );

    let all_types = load(artifacts::ALL_TYPES);
    let input = all_types_input(8, true);
    let unlabelled: Vec<(&str, ArrayRef)> = input
        .schema_ref()
        .fields()
        .iter()
        .zip(input.columns())
        .map(|(field, column)| {
            let column = match column.data_type() {
                DataType::Timestamp(..) => array(
                    column
                        .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
                        .clone()
                        .with_timezone_opt(None::<&str>),
                ),
                _ => column.clone(),
            };
            (field.name().as_str(), column)
        })
        .collect();
    let unlabelled = batch(unlabelled);
    let error = all_types.call(&unlabelled).unwrap_err();
    assert_eq!(
        error.to_string(),
        "column `t` has type Timestamp(µs), which has no time zone; skewless does not guess \
         which zone a timestamp without one is in; give it a zone where the data is written, \
         or, if such timestamps are UTC, say so with the `naive_timestamps` setting \
         (`utc`)"
    );
    assert_eq!(
        (error.kind(), error.column()),
        ("naive_timestamp", Some("t"))
    );
    let utc = skewless::Runtime::new(
        skewless::Config::default().naive_timestamps(skewless::NaiveTimestamps::Utc),
    )
    .unwrap()
    .load(artifacts::ALL_TYPES)
    .unwrap();
    assert_batches_same_bits(&input, &utc.call(&unlabelled).unwrap());

    // Nanoseconds are taken when they are whole microseconds; a fraction
    // is refused, with the time written as a time.
    let nanos: Vec<(&str, ArrayRef)> = input
        .schema_ref()
        .fields()
        .iter()
        .zip(input.columns())
        .map(|(field, column)| {
            let column = match column.data_type() {
                DataType::Timestamp(..) => array(
                    arrow::array::TimestampNanosecondArray::from_iter_values(
                        (0..column.len() as i64)
                            .map(|i| 1_772_420_400_000_000_000 + i * 1000 + i64::from(i == 3)),
                    )
                    .with_timezone(UTC),
                ),
                _ => column.clone(),
            };
            (field.name().as_str(), column)
        })
        .collect();
    let error = all_types.call(&batch(nanos)).unwrap_err().to_string();
    assert!(
        error.contains(
            "row 3: timestamp 2026-03-02T03:00:00.000003001Z has a fraction of a microsecond, \
             and skewless timestamps are whole microseconds"
        ),
        "{error}"
    );
}

#[test]
fn extra_input_columns_are_ignored_and_order_does_not_matter() {
    let transform = load(artifacts::FRAUD_FEATURES);
    let ordered = fraud_input(
        array(Float64Array::from(vec![1.0, 20.0, 300.0])),
        array(Int64Array::from(vec![1, 12, 23])),
    );
    let shuffled = batch(vec![
        ("merchant_category", ordered.column(2).clone()),
        ("note", array(StringArray::from(vec!["a", "b", "c"]))),
        ("hour", ordered.column(1).clone()),
        ("amount", ordered.column(0).clone()),
    ]);
    assert_batches_same_bits(
        &transform.call(&ordered).unwrap(),
        &transform.call(&shuffled).unwrap(),
    );
}
