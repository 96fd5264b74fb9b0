//! `skewless verify`: passes on every example, and catches a transform whose
//! output depends on the rest of its batch.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use arrow::array::AsArray;

use skewless::verify::{BatchSize, Verify};
use skewless_test_artifacts as artifacts;
use tempfile::TempDir;

use crate::support::load;

fn sample(relative: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(relative)
}

#[test]
fn every_example_verifies_on_its_sample_data() {
    for (component, data, rows) in [
        (
            artifacts::FRAUD_FEATURES,
            "fraud-features/data/transactions.csv",
            2_000,
        ),
        (
            artifacts::GLUCOSE_ALERTS,
            "glucose-alerts/data/readings.csv",
            830,
        ),
        (
            artifacts::EMAIL_SUBJECT,
            "email-subject/data/subjects.jsonl",
            240,
        ),
    ] {
        let report = Verify::new(&load(component), sample(data)).run().unwrap();
        assert!(report.passed(), "{component}: {report:#?}");
        assert_eq!(report.rows, rows);
        let names: Vec<&str> = report.paths.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names[..4],
            [
                "online: each row alone through the JSON codec",
                "batches of 1 row",
                "batches of 7 rows",
                "batches of 1024 rows"
            ]
        );
        assert!(names[4].starts_with("one batch of all"));
    }
}

#[test]
fn all_types_with_extreme_values_verify_through_every_path() {
    // Every type, nulls, NaN payloads, -0.0, subnormals, int64 limits,
    // non-ASCII text: through Arrow IPC (which keeps every bit) into verify.
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("all.arrow");
    let input = crate::types::all_types_input(300, true);
    let mut writer = arrow::ipc::writer::FileWriter::try_new(
        std::fs::File::create(&path).unwrap(),
        &input.schema(),
    )
    .unwrap();
    writer.write(&input).unwrap();
    writer.finish().unwrap();
    let report = Verify::new(&load(artifacts::ALL_TYPES), &path)
        .run()
        .unwrap();
    assert!(report.passed(), "{report:#?}");
    assert_eq!(report.columns, 14);
}

/// Timestamps as pandas and pyarrow write them (nanoseconds, a named
/// zone; milliseconds, another zone) go through the online path too: the
/// JSON path sends the values the transform receives, not the file's
/// representation of them.
#[test]
fn timestamps_of_any_unit_and_zone_verify_through_the_json_path() {
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    let dir = TempDir::new().unwrap();
    let input = crate::types::all_types_input(50, true);
    let mut fields: Vec<Field> = Vec::new();
    let mut columns = Vec::new();
    for (field, column) in input.schema().fields().iter().zip(input.columns()) {
        let retyped = match field.name().as_str() {
            "t" => DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            "nt" => DataType::Timestamp(TimeUnit::Millisecond, Some("America/New_York".into())),
            _ => field.data_type().clone(),
        };
        // Whole milliseconds, and values nanoseconds can hold.
        let whole = |v: i64| (v / 1_000_000_000) * 1000;
        let column: arrow::array::ArrayRef = match field.name().as_str() {
            "t" => Arc::new(
                column
                    .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
                    .unary::<_, arrow::datatypes::TimestampNanosecondType>(|v| whole(v) * 1000)
                    .with_timezone("UTC"),
            ),
            "nt" => Arc::new(
                column
                    .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
                    .unary::<_, arrow::datatypes::TimestampMillisecondType>(|v| whole(v) / 1000)
                    .with_timezone("America/New_York"),
            ),
            _ => column.clone(),
        };
        fields.push(field.as_ref().clone().with_data_type(retyped));
        columns.push(column);
    }
    let batch = arrow::array::RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
    let path = dir.path().join("zoned.parquet");
    let mut writer = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&path).unwrap(),
        batch.schema(),
        None,
    )
    .unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let report = Verify::new(&load(artifacts::ALL_TYPES), &path)
        .run()
        .unwrap();
    assert!(report.passed(), "{report:#?}");
}

#[test]
fn a_path_that_fails_says_whose_fault_it_is() {
    use skewless::verify::PathError;
    assert_eq!(
        PathError::Transport("row 3: x".into()).to_string(),
        "skewless could not carry the rows through this path (a defect in skewless, not in the \
         transform): row 3: x"
    );
    assert_eq!(
        PathError::Transform("row 3: y".into()).to_string(),
        "the transform failed here but not in the backfill: row 3: y"
    );
}

fn batch_dependent_input(dir: &TempDir) -> std::path::PathBuf {
    let path = dir.path().join("x.csv");
    let mut text = String::from("x\n");
    for i in 1..=50 {
        text.push_str(&format!("{i}\n"));
    }
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_batch_dependent_transform_fails_with_the_differing_row() {
    let dir = TempDir::new().unwrap();
    let input = batch_dependent_input(&dir);
    let report = Verify::new(&load(artifacts::BATCH_MEAN), &input)
        .batch_sizes([BatchSize::Rows(7), BatchSize::All])
        .run()
        .unwrap();
    assert!(!report.passed());
    let row_by_row = &report.paths[0];
    assert_eq!(row_by_row.rows_differing, 50);
    let first = row_by_row.first_mismatch.as_ref().unwrap();
    // x = 1 over the mean of 1..=50 (25.5) in the backfill; alone, x / x = 1.
    assert_eq!((first.row, first.column.as_str()), (0, "x_over_mean"));
    assert_eq!(
        first.expected,
        format!(
            "{:?} (bits 0x{:016x})",
            1.0 / 25.5,
            (1.0_f64 / 25.5).to_bits()
        )
    );
    assert_eq!(first.actual, "1.0 (bits 0x3ff0000000000000)");
    assert!(!report.paths[1].passed(), "batches of 7");
    assert!(
        report.paths[2].passed(),
        "the whole file at once is what the backfill did"
    );
}

#[test]
fn the_command_exits_zero_only_when_every_bit_matches() {
    let ok = Command::new(env!("CARGO_BIN_EXE_skewless"))
        .args(["verify", artifacts::FRAUD_FEATURES, "--no-cache", "--input"])
        .arg(sample("fraud-features/data/transactions.csv"))
        .output()
        .unwrap();
    let stdout = String::from_utf8(ok.stdout).unwrap();
    assert!(ok.status.success(), "{stdout}");
    assert!(
        stdout.ends_with(
            "OK: 5 paths x 2000 rows x 4 columns, every output bit identical to the backfill\n"
        ),
        "{stdout}"
    );

    let dir = TempDir::new().unwrap();
    let bad = Command::new(env!("CARGO_BIN_EXE_skewless"))
        .args(["verify", artifacts::BATCH_MEAN, "--no-cache", "--input"])
        .arg(batch_dependent_input(&dir))
        .output()
        .unwrap();
    let stdout = String::from_utf8(bad.stdout).unwrap();
    assert_eq!(bad.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(
            "online: each row alone through the JSON codec        DIFFERENT in 50 of 50 rows"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("first difference: row 0, column `x_over_mean`: backfill 0.0392156862745098 (bits 0x3fa4141414141414), this path 1.0"),
        "{stdout}"
    );
    assert!(
        stdout.contains("MISMATCH: 3 of 5 paths differ from the backfill"),
        "{stdout}"
    );
}

/// Verifying nothing is not a pass, and verifying a feature file (instead
/// of the data it was made from) says what the file is.
#[test]
fn the_command_fails_on_no_rows_and_explains_a_feature_file() {
    let dir = TempDir::new().unwrap();
    let verify = |input: &Path| {
        let output = Command::new(env!("CARGO_BIN_EXE_skewless"))
            .args(["verify", artifacts::FRAUD_FEATURES, "--no-cache", "--input"])
            .arg(input)
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8(output.stderr).unwrap(),
        )
    };
    let header_only = dir.path().join("empty.csv");
    std::fs::write(&header_only, "amount,hour,merchant_category\n").unwrap();
    let (code, stdout, _) = verify(&header_only);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.ends_with(&format!(
            "NOTHING VERIFIED: `{}` has no rows, so no output was compared\n",
            header_only.display()
        )),
        "{stdout}"
    );

    // Every row refused: nothing verified, and the first refusal says why.
    let unreadable = dir.path().join("unreadable.csv");
    std::fs::write(
        &unreadable,
        "amount,hour,merchant_category\nabc,3,travel\nxyz,4,travel\n",
    )
    .unwrap();
    let (code, stdout, _) = verify(&unreadable);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.ends_with(&format!(
            "NOTHING VERIFIED: `{}` has 2 rows, and the transform rejected every one (the \
             first: column `amount`, row 0: \"abc\" is not a float64 (a number such as 12.5)), \
             so no output was compared\n",
            unreadable.display()
        )),
        "{stdout}"
    );

    let features = dir.path().join("features.parquet");
    skewless::backfill::Backfill::new(
        &load(artifacts::FRAUD_FEATURES),
        sample("fraud-features/data/transactions.csv"),
        &features,
    )
    .run()
    .unwrap();
    let (code, _, stderr) = verify(&features);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "(`{}` holds features written by fraud-features 1.0.0; verify takes the data a \
             transform reads, such as the file that was backfilled): cannot read",
            features.display()
        )),
        "{stderr}"
    );
}

/// Events that give one id to two events that differ make the paths
/// differ (which copy counts depends on the order they arrive in): the
/// command says so, not only that the transform depends on its path.
#[test]
fn events_sharing_an_id_are_named_as_a_cause_of_a_mismatch() {
    let dir = TempDir::new().unwrap();
    let events = dir.path().join("events.csv");
    let mut text = String::from("user,ts,id,amount\n");
    for i in 0..50 {
        text.push_str(&format!("u1,2026-03-15T13:{i:02}:00Z,e{i},{i}.5\n"));
    }
    // Nine ids given again, at the same time, with another amount.
    for i in (0..50).step_by(6) {
        text.push_str(&format!("u1,2026-03-15T13:{i:02}:00Z,e{i},1000.0\n"));
    }
    std::fs::write(&events, text).unwrap();
    // A spine of only the key and the time (the row function reads only
    // aggregates), as CSV.
    let spine = dir.path().join("spine.csv");
    std::fs::write(&spine, "user,ts\nu1,2026-03-15T14:00:00Z\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_skewless"))
        .args(["verify", artifacts::PAYMENTS, "--no-cache", "--input"])
        .arg(&spine)
        .arg("--events")
        .arg(&events)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    assert!(
        stdout.contains(
            "or the events give one `id` to two events that differ (which of them counts then \
             depends on the order they arrive in: give each event its own id)"
        ),
        "{stdout}"
    );
}
