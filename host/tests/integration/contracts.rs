//! Contract versions: a component built for 0.1.0, before 0.2.0 existed,
//! loads and runs unchanged, with the same sha256 and the same output
//! bits; and the same Rust source built for 0.2.0 computes the same bits.

use std::path::Path;

use arrow::array::{Array, AsArray, Float64Array, Int64Array, RecordBatch, StringArray};
use skewless::backfill::Backfill;
use skewless_test_artifacts as artifacts;
use tempfile::TempDir;

use crate::support::{array, batch, load};

const LEGACY_SHA256: &str = "ed5809ca8f18ec50b8d12d6d38dbd177c49c8e4936abc196e1a8830966e674c5";

fn transactions() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/fraud-features/data/transactions.csv")
}

#[test]
fn a_0_1_component_loads_with_its_sha256_and_writes_the_same_bytes() {
    let legacy = load(artifacts::LEGACY_FRAUD_FEATURES_0_1);
    assert_eq!(legacy.sha256(), LEGACY_SHA256);
    let current = load(artifacts::FRAUD_FEATURES);
    assert_ne!(
        legacy.sha256(),
        current.sha256(),
        "built for another contract"
    );
    assert_eq!(legacy.info().inputs, current.info().inputs);
    assert_eq!(legacy.info().outputs, current.info().outputs);
    assert_eq!(legacy.info().aggregation, None);

    // Byte for byte what skewless before 0.2.0 wrote for it.
    let dir = TempDir::new().unwrap();
    let output = dir.path().join("features.jsonl");
    Backfill::new(&legacy, transactions(), &output)
        .keep(["transaction_id"])
        .run()
        .unwrap();
    let written = std::fs::read_to_string(&output).unwrap();
    let recorded = std::fs::read_to_string(artifacts::LEGACY_FRAUD_FEATURES_0_1_OUTPUT).unwrap();
    assert_eq!(written.lines().count(), 2_000);
    assert!(written == recorded, "the 0.1.0 component's output changed");

    // And verify holds for it, every path.
    let report = skewless::verify::Verify::new(&legacy, transactions())
        .run()
        .unwrap();
    assert!(report.passed(), "{report:?}");
}

/// Edge values of the fraud example's inputs: every bucket edge and its
/// neighbours, signed zeros, subnormals, infinities, NaN, extreme hours,
/// text in several scripts.
fn edges() -> RecordBatch {
    let mut amounts = vec![
        0.0,
        -0.0,
        5e-324,
        -5e-324,
        1e308,
        -1e308,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        -1.0,
        -0.5,
        1e-300,
        12.5,
        830.0,
    ];
    for edge in [10.0_f64, 50.0, 100.0, 500.0, 1000.0] {
        amounts.extend([
            edge,
            f64::from_bits(edge.to_bits() - 1),
            f64::from_bits(edge.to_bits() + 1),
        ]);
    }
    let hours = [i64::MIN, -1, 0, 5, 6, 21, 22, 23, 24, i64::MAX];
    let categories = [
        "grocery",
        "travel",
        "electronics",
        "gaming",
        "",
        "épicerie",
        "旅行",
        "x",
    ];
    let rows = amounts.len() * hours.len();
    let amount: Float64Array = (0..rows).map(|i| amounts[i % amounts.len()]).collect();
    let hour: Int64Array = (0..rows).map(|i| hours[i % hours.len()]).collect();
    let category: StringArray = (0..rows)
        .map(|i| Some(categories[i % categories.len()]))
        .collect();
    batch(vec![
        ("amount", array(amount)),
        ("hour", array(hour)),
        ("merchant_category", array(category)),
    ])
}

#[test]
fn the_same_source_built_for_each_contract_computes_the_same_bits() {
    let legacy = load(artifacts::LEGACY_FRAUD_FEATURES_0_1);
    let current = load(artifacts::FRAUD_FEATURES);
    let input = edges();
    for rows in [1, 7, input.num_rows()] {
        for start in (0..input.num_rows()).step_by(rows) {
            let slice = input.slice(start, rows.min(input.num_rows() - start));
            let old = legacy.call(&slice).unwrap();
            let new = current.call(&slice).unwrap();
            for (a, b) in old.columns().iter().zip(new.columns()) {
                assert_eq!(a.to_data(), b.to_data(), "rows {start}..+{rows}");
            }
        }
    }
    // Floats compared by their bits, NaN included.
    let old = legacy.call(&input).unwrap();
    let new = current.call(&input).unwrap();
    let bits = |b: &RecordBatch| -> Vec<u64> {
        b.column(0)
            .as_primitive::<arrow::datatypes::Float64Type>()
            .values()
            .iter()
            .map(|v| v.to_bits())
            .collect()
    };
    assert_eq!(bits(&old), bits(&new));
    assert!(old.column(0).null_count() == 0);
}
