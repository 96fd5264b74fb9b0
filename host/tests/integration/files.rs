//! Backfills through files: every format in and out, provenance metadata,
//! atomic output, row numbers counted from the start of the file, and
//! results that do not depend on batch size or threads.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, AsArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{Float64Type, Int64Type};
use parquet::file::reader::{FileReader, SerializedFileReader};
use skewless::backfill::Backfill;
use skewless::io::Reader;
use skewless::{Error, Provenance, TransformInfo};
use skewless_test_artifacts as artifacts;
use tempfile::TempDir;

use crate::support::{array, batch, load};
use crate::types::assert_batches_same_bits;

const CATEGORIES: [&str; 6] = [
    "grocery",
    "travel",
    "electronics",
    "gaming",
    "fuel",
    "Café ☕",
];

/// `rows` transactions with ids, amounts (some with long decimal
/// expansions), hours and categories.
fn transactions(rows: usize) -> RecordBatch {
    batch(vec![
        (
            "id",
            array(StringArray::from(
                (0..rows).map(|i| format!("tx-{i}")).collect::<Vec<_>>(),
            )),
        ),
        (
            "amount",
            array(Float64Array::from(
                (0..rows)
                    .map(|i| (i as f64) * 1.37 + 0.1)
                    .collect::<Vec<_>>(),
            )),
        ),
        (
            "hour",
            array(Int64Array::from(
                (0..rows).map(|i| (i % 24) as i64).collect::<Vec<_>>(),
            )),
        ),
        (
            "merchant_category",
            array(StringArray::from(
                (0..rows)
                    .map(|i| CATEGORIES[i % CATEGORIES.len()])
                    .collect::<Vec<_>>(),
            )),
        ),
    ])
}

/// Writes `batch` in the format of `path`'s extension with the arrow and
/// parquet crates directly (or by hand for the text formats), not through
/// the library under test.
fn write_input(path: &Path, batch: &RecordBatch) {
    let file = fs::File::create(path).unwrap();
    match path.extension().unwrap().to_str().unwrap() {
        "parquet" => {
            let mut writer =
                parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
            writer.write(batch).unwrap();
            writer.close().unwrap();
        }
        "arrow" => {
            let mut writer =
                arrow::ipc::writer::FileWriter::try_new(file, &batch.schema()).unwrap();
            writer.write(batch).unwrap();
            writer.finish().unwrap();
        }
        "csv" => {
            let mut text = String::from("id,amount,hour,merchant_category\n");
            for row in 0..batch.num_rows() {
                text.push_str(&format!(
                    "{},{},{},\"{}\"\n",
                    batch.column(0).as_string::<i32>().value(row),
                    batch.column(1).as_primitive::<Float64Type>().value(row),
                    batch.column(2).as_primitive::<Int64Type>().value(row),
                    batch.column(3).as_string::<i32>().value(row),
                ));
            }
            fs::write(path, text).unwrap();
        }
        "jsonl" => {
            let mut text = String::new();
            for row in 0..batch.num_rows() {
                text.push_str(&format!(
                    "{{\"id\": \"{}\", \"amount\": {}, \"hour\": {}, \"merchant_category\": \"{}\"}}\n",
                    batch.column(0).as_string::<i32>().value(row),
                    batch.column(1).as_primitive::<Float64Type>().value(row),
                    batch.column(2).as_primitive::<Int64Type>().value(row),
                    batch.column(3).as_string::<i32>().value(row),
                ));
            }
            fs::write(path, text).unwrap();
        }
        other => panic!("no writer for .{other}"),
    }
}

pub fn read_all(path: &Path) -> RecordBatch {
    read_columns(path, None, 1 << 20)
}

/// The `columns` of `path` read `batch_size` rows at a time, as one batch.
fn read_columns(
    path: &Path,
    columns: Option<&[skewless::io::ColumnRequest]>,
    batch_size: usize,
) -> RecordBatch {
    let batches: Vec<RecordBatch> = Reader::open(path, columns, batch_size, Default::default())
        .unwrap()
        .map(Result::unwrap)
        .collect();
    arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap()
}

/// The expected output: `id` kept, then the features computed by one call.
fn expected(input: &RecordBatch) -> RecordBatch {
    let features = load(artifacts::FRAUD_FEATURES).call(input).unwrap();
    let mut columns = vec![("id", input.column(0).clone())];
    for (field, column) in features
        .schema_ref()
        .fields()
        .iter()
        .zip(features.columns())
    {
        columns.push((field.name().as_str(), column.clone()));
    }
    batch(columns)
}

#[test]
fn every_format_in_and_out() {
    let dir = TempDir::new().unwrap();
    let input = transactions(1_000);
    let expected = expected(&input);
    let transform = load(artifacts::FRAUD_FEATURES);
    for input_ext in ["parquet", "csv", "arrow", "jsonl"] {
        let input_path = dir.path().join(format!("in.{input_ext}"));
        write_input(&input_path, &input);
        for output_ext in ["parquet", "csv", "arrow", "jsonl"] {
            let output_path = dir.path().join(format!("out-{input_ext}.{output_ext}"));
            let summary = Backfill::new(&transform, &input_path, &output_path)
                .keep(["id"])
                .batch_size(300)
                .run()
                .unwrap_or_else(|e| panic!("{input_ext} -> {output_ext}: {e}"));
            assert_eq!(summary.rows, 1_000);
            let output = read_all(&output_path);
            // Floats survive every text format bit for bit (shortest
            // round-trip printing) and every binary format trivially.
            let columns: Vec<(&str, arrow::array::ArrayRef)> = expected
                .schema_ref()
                .fields()
                .iter()
                .map(|f| {
                    (
                        f.name().as_str(),
                        output.column_by_name(f.name()).unwrap().clone(),
                    )
                })
                .collect();
            assert_batches_same_bits(&expected, &batch(columns));
        }
    }
}

fn sha256sum(path: &str) -> String {
    let output = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    String::from_utf8(output.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn parquet_outputs_record_the_transform_that_made_them() {
    let dir = TempDir::new().unwrap();
    let input_path = dir.path().join("in.csv");
    write_input(&input_path, &transactions(10));
    let output_path = dir.path().join("features.parquet");
    let transform = load(artifacts::FRAUD_FEATURES);
    Backfill::new(&transform, &input_path, &output_path)
        .run()
        .unwrap();

    let reader = SerializedFileReader::new(fs::File::open(&output_path).unwrap()).unwrap();
    let metadata = reader
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .unwrap()
        .clone();
    let get = |key: &str| {
        metadata
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.clone())
            .unwrap_or_else(|| panic!("no {key}"))
    };
    assert_eq!(get("skewless.transform.name"), "fraud-features");
    assert_eq!(get("skewless.transform.version"), "1.0.0");
    assert_eq!(
        get("skewless.transform.sha256"),
        sha256sum(artifacts::FRAUD_FEATURES)
    );
    let spec: TransformInfo = serde_json::from_str(&get("skewless.transform.spec")).unwrap();
    assert_eq!(&spec, transform.info());

    // The library reads it back the same way `skewless inspect` does.
    let summary = skewless::io::summarize(&output_path).unwrap();
    assert_eq!(summary.rows, Some(10));
    assert_eq!(summary.provenance, Some(transform.provenance()));
    // Arrow IPC outputs carry it in their schema metadata.
    let ipc_path = dir.path().join("features.arrow");
    Backfill::new(&transform, &input_path, &ipc_path)
        .run()
        .unwrap();
    let provenance: Option<Provenance> = skewless::io::summarize(&ipc_path).unwrap().provenance;
    assert_eq!(provenance.unwrap().sha256, transform.sha256());

    // A damaged file is named, and said without the reader's prefix.
    let bytes = fs::read(&output_path).unwrap();
    fs::write(&output_path, &bytes[..bytes.len() - 20]).unwrap();
    let error = skewless::io::summarize(&output_path)
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with(&format!("cannot read `{}`: ", output_path.display())),
        "{error}"
    );
    assert_no_library_prefix(&error);
}

#[test]
fn results_do_not_depend_on_batch_size_or_threads() {
    let dir = TempDir::new().unwrap();
    let input_path = dir.path().join("in.parquet");
    let input = transactions(5_000);
    write_input(&input_path, &input);
    let expected = expected(&input);
    let transform = load(artifacts::FRAUD_FEATURES);
    for (batch_size, threads) in [(1, 1), (7, 2), (1_000, 3), (4_999, 2), (100_000, 1)] {
        let output_path = dir.path().join(format!("out-{batch_size}-{threads}.arrow"));
        let summary = Backfill::new(&transform, &input_path, &output_path)
            .keep(["id"])
            .batch_size(batch_size)
            .threads(threads)
            .run()
            .unwrap();
        assert_eq!(summary.batches, 5_000_u64.div_ceil(batch_size as u64));
        assert_batches_same_bits(&expected, &read_all(&output_path));
    }
}

#[test]
fn units_of_a_large_file_are_written_in_input_order_on_any_number_of_threads() {
    // Larger than several of the units workers take at a time (128Ki rows),
    // so threads finish units out of order and the writer must reorder them.
    let dir = TempDir::new().unwrap();
    let input_path = dir.path().join("in.parquet");
    let input = transactions(400_000);
    write_input(&input_path, &input);
    let expected = expected(&input);
    let transform = load(artifacts::FRAUD_FEATURES);
    for threads in [1, 3] {
        let output_path = dir.path().join(format!("out-{threads}.parquet"));
        Backfill::new(&transform, &input_path, &output_path)
            .keep(["id"])
            .threads(threads)
            .run()
            .unwrap();
        assert_batches_same_bits(&expected, &read_all(&output_path));
    }
}

#[test]
fn the_first_failing_row_in_the_file_is_reported_whichever_thread_meets_it() {
    let dir = TempDir::new().unwrap();
    let input_path = dir.path().join("amounts.csv");
    let mut text = String::from("amount\n");
    for i in 0..400_000 {
        text.push_str(if i == 150_001 || i == 390_000 {
            "-1.5\n"
        } else {
            "4.0\n"
        });
    }
    fs::write(&input_path, text).unwrap();
    let transform = load(artifacts::FAILS_ROW);
    for threads in [1, 2, 3] {
        let output = dir.path().join("out.parquet");
        let error = Backfill::new(&transform, &input_path, &output)
            .threads(threads)
            .run()
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "transform `fails-row` failed at row 150001: amount must not be negative, got -1.5",
            "{threads} threads"
        );
        assert!(!output.exists());
    }
    assert_eq!(leftovers(dir.path()), Vec::<PathBuf>::new());
}

fn leftovers(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("skewless-tmp"))
        .collect()
}

#[test]
fn a_failed_backfill_leaves_no_output_and_keeps_an_existing_file() {
    let dir = TempDir::new().unwrap();
    let input_path = dir.path().join("amounts.csv");
    let mut text = String::from("amount\n");
    for i in 0..10_000 {
        text.push_str(if i == 7_321 { "-1.5\n" } else { "4.0\n" });
    }
    fs::write(&input_path, text).unwrap();
    let transform = load(artifacts::FAILS_ROW);

    let fresh = dir.path().join("fresh.parquet");
    let error = Backfill::new(&transform, &input_path, &fresh)
        .batch_size(1_000)
        .threads(2)
        .run()
        .unwrap_err();
    // The row counts from the first data row of the file, not the batch.
    assert!(
        matches!(
            error,
            Error::RowFailed {
                row: Some(7_321),
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "transform `fails-row` failed at row 7321: amount must not be negative, got -1.5"
    );
    assert!(!fresh.exists());

    let existing = dir.path().join("existing.parquet");
    fs::write(&existing, "yesterday's features").unwrap();
    Backfill::new(&transform, &input_path, &existing)
        .batch_size(1_000)
        .run()
        .unwrap_err();
    assert_eq!(
        fs::read_to_string(&existing).unwrap(),
        "yesterday's features"
    );
    assert_eq!(leftovers(dir.path()), Vec::<PathBuf>::new());
}

#[test]
fn malformed_input_names_the_file_and_where_in_it() {
    let dir = TempDir::new().unwrap();
    let transform = load(artifacts::FRAUD_FEATURES);
    let output = dir.path().join("out.parquet");

    let csv = dir.path().join("bad.csv");
    fs::write(
        &csv,
        "amount,hour,merchant_category\n1.0,3,travel\nabc,4,grocery\n",
    )
    .unwrap();
    let error = backfill_error(&transform, &csv, &output, &[]);
    assert_eq!(
        error,
        format!(
            "cannot read `{}`: column `amount`, row 1: \"abc\" is not a float64 (a number such as 12.5)",
            csv.display()
        )
    );

    // A line with the wrong number of fields: among the first 10,000 rows
    // (read to guess types, by a reader that counts lines) it is named by
    // its line; after them, by its row, as a quoted field can span lines.
    // The second field of row 1 spans two lines.
    for (rows_before, line, place) in [
        (3, "2.0,4", "line 6"),
        (5_000, "2.0,4,travel,extra", "line 5003"),
        (10_500, "2.0,4", "row 10500"),
    ] {
        let mut text = String::from("amount,hour,merchant_category\n");
        for row in 0..rows_before {
            match row {
                1 => text.push_str("1.5,3,\"trav\nel\"\n"),
                _ => text.push_str(&format!("{row}.5,3,travel\n")),
            }
        }
        text.push_str(line);
        text.push('\n');
        fs::write(&csv, text).unwrap();
        let error = backfill_error(&transform, &csv, &output, &[]);
        let fields = line.split(',').count();
        assert_eq!(
            error,
            format!(
                "cannot read `{}`: {place} has {fields} fields where the header has 3",
                csv.display(),
            )
        );
    }

    // Bytes that are not UTF-8 (a Latin-1 "é"), among the first rows and
    // after them.
    for (rows_before, place) in [(1, "line 3, field 3"), (12_000, "row 12000, field 3")] {
        let mut bytes = b"amount,hour,merchant_category\n".to_vec();
        for row in 0..rows_before {
            bytes.extend_from_slice(format!("{row}.5,3,travel\n").as_bytes());
        }
        bytes.extend_from_slice(b"2.5,4,caf\xe9\n");
        fs::write(&csv, bytes).unwrap();
        assert_eq!(
            backfill_error(&transform, &csv, &output, &[]),
            format!(
                "cannot read `{}`: {place} is not valid UTF-8 (if the file is in another \
                 encoding, save it as UTF-8)",
                csv.display()
            )
        );
    }

    // An empty file has no header to find columns in.
    fs::write(&csv, "").unwrap();
    assert_eq!(
        backfill_error(&transform, &csv, &output, &[]),
        format!(
            "cannot read `{}`: it is empty, so it has no column `amount`",
            csv.display()
        )
    );

    // Two columns with the name the transform reads: which one it would
    // get is not something to guess. A duplicated column nobody reads is
    // fine.
    fs::write(
        &csv,
        "amount,hour,merchant_category,amount\n1.0,3,travel,2.0\n",
    )
    .unwrap();
    assert_eq!(
        backfill_error(&transform, &csv, &output, &[]),
        format!(
            "cannot read `{}`: it has more than one column named `amount` (the 1st and the \
             4th), so which one to use is ambiguous; rename or drop the others",
            csv.display()
        )
    );
    fs::write(
        &csv,
        "note,amount,hour,merchant_category,note\nx,1.0,3,travel,y\n",
    )
    .unwrap();
    Backfill::new(&transform, &csv, dir.path().join("ok.parquet"))
        .run()
        .unwrap();

    // A quote that is never closed would swallow every line after it into
    // one field, and those rows would be lost without a word.
    fs::write(
        &csv,
        "amount,hour,merchant_category\n1.0,3,\"travel\"\n2.0,4,\"grocery\n3.0,5,travel\n",
    )
    .unwrap();
    assert_eq!(
        backfill_error(&transform, &csv, &output, &[]),
        format!(
            "cannot read `{}`: line 3: a field opens a quote (`\"`) that is never closed, so \
             every line after it would be read into that one field",
            csv.display()
        )
    );

    // A line that is not a JSON object is named by its row (blank lines
    // are not rows), whether arrow meets it while guessing types or later.
    let jsonl = dir.path().join("bad.jsonl");
    let good = "{\"amount\": 1.0, \"hour\": 3, \"merchant_category\": \"travel\"}\n";
    for (rows_before, line, why) in [
        (
            1,
            "{\"amount\": 2.0, \"hour\": ",
            "not valid JSON: EOF while parsing a value at column 23",
        ),
        (
            2,
            "[1, 2]",
            "expected a JSON object of fields, found an array",
        ),
        (
            10_500,
            "{\"amount\": 2.0,, \"hour\": 3}",
            "not valid JSON: key must be a string at column 16",
        ),
    ] {
        fs::write(
            &jsonl,
            format!("\n{}{line}\n{good}", good.repeat(rows_before)),
        )
        .unwrap();
        let error = backfill_error(&transform, &jsonl, &output, &[]);
        assert_eq!(
            error,
            format!(
                "cannot read `{}`: row {rows_before}: {why}",
                jsonl.display()
            )
        );
    }

    let parquet = dir.path().join("truncated.parquet");
    write_input(&parquet, &transactions(100));
    let bytes = fs::read(&parquet).unwrap();
    fs::write(&parquet, &bytes[..bytes.len() - 20]).unwrap();
    let error = backfill_error(&transform, &parquet, &output, &[]);
    assert!(
        error.starts_with(&format!("cannot read `{}`: ", parquet.display())),
        "{error}"
    );
    assert_no_library_prefix(&error);

    let missing = dir.path().join("no-hour.csv");
    fs::write(&missing, "amount,merchant_category\n1.0,travel\n").unwrap();
    let error = backfill_error(&transform, &missing, &output, &[]);
    assert_eq!(
        error,
        format!(
            "cannot read `{}`: it has no column `hour`; its columns are: `amount`, `merchant_category`",
            missing.display()
        )
    );
    // A misspelt header is pointed at, as in a request.
    let misspelt = dir.path().join("misspelt.csv");
    fs::write(&misspelt, "amount,merchant_categroy,hour\n1.0,travel,3\n").unwrap();
    assert_eq!(
        backfill_error(&transform, &misspelt, &output, &[]),
        format!(
            "cannot read `{}`: it has no column `merchant_category`; its columns are: `amount`, \
             `merchant_categroy`, `hour`; `merchant_categroy` looks like a misspelling of \
             `merchant_category`",
            misspelt.display()
        )
    );
    // A column asked for only to be kept says so.
    let no_id = dir.path().join("no-id.csv");
    fs::write(&no_id, "amount,hour,merchant_category\n1.0,3,travel\n").unwrap();
    let error = backfill_error(&transform, &no_id, &output, &["id"]);
    assert_eq!(
        error,
        format!(
            "cannot read `{}`: it has no column `id` to keep; its columns are: `amount`, `hour`, \
             `merchant_category`",
            no_id.display()
        )
    );
    assert!(!output.exists());
    assert_eq!(leftovers(dir.path()), Vec::<PathBuf>::new());
}

/// The error of a backfill of `input` into `output` that must fail.
fn backfill_error(
    transform: &skewless::Transform,
    input: &Path,
    output: &Path,
    keep: &[&str],
) -> String {
    Backfill::new(transform, input, output)
        .keep(keep.iter().copied())
        .run()
        .unwrap_err()
        .to_string()
}

/// The part after "cannot read `FILE`: " does not start with what arrow or
/// parquet put in front of their messages.
fn assert_no_library_prefix(error: &str) {
    let (_, message) = error.split_once("`: ").unwrap();
    for prefix in [
        "Csv error",
        "Parser error",
        "External",
        "Parquet error",
        "Json error",
    ] {
        assert!(!message.starts_with(prefix), "{error}");
    }
}

/// A kept column whose type an output format cannot hold is refused before
/// any row is written, naming the column and what to write instead, where
/// a writer would otherwise fail mid-file or write its display text.
#[test]
fn a_kept_column_an_output_cannot_hold_is_refused_up_front() {
    let dir = TempDir::new().unwrap();
    let mut batch = transactions(20);
    let durations = arrow::array::DurationSecondArray::from(vec![60; 20]);
    let lists = arrow::array::ListArray::from_iter_primitive::<arrow::datatypes::Int32Type, _, _>(
        (0..20).map(|i| Some(vec![Some(i)])),
    );
    let places = arrow::array::StructArray::from(vec![(
        Arc::new(arrow::datatypes::Field::new(
            "city",
            arrow::datatypes::DataType::Utf8,
            true,
        )),
        Arc::new(StringArray::from(vec!["Oslo"; 20])) as arrow::array::ArrayRef,
    )]);
    let mut columns = batch.columns().to_vec();
    columns.push(Arc::new(durations));
    columns.push(Arc::new(lists));
    columns.push(Arc::new(places.clone()));
    let mut fields = batch.schema().fields().to_vec();
    fields.push(Arc::new(arrow::datatypes::Field::new(
        "waited",
        arrow::datatypes::DataType::Duration(arrow::datatypes::TimeUnit::Second),
        false,
    )));
    fields.push(Arc::new(arrow::datatypes::Field::new(
        "tags",
        lists_type(),
        true,
    )));
    fields.push(Arc::new(arrow::datatypes::Field::new(
        "place",
        places.data_type().clone(),
        false,
    )));
    batch = RecordBatch::try_new(Arc::new(arrow::datatypes::Schema::new(fields)), columns).unwrap();
    let input = dir.path().join("in.arrow");
    write_input(&input, &batch);
    let transform = load(artifacts::FRAUD_FEATURES);
    for (output, keep, message) in [
        (
            "out.csv",
            "waited",
            "column `waited` has type Duration(s), which has no exact text form, so a CSV file \
             cannot hold it; write .parquet or .arrow instead, or do not keep the column",
        ),
        // A type JSON Lines cannot hold either: not told to write .jsonl.
        (
            "out.csv",
            "place",
            "column `place` has type Struct(\"city\": Utf8), which has no exact text form, so a \
             CSV file cannot hold it; write .parquet or .arrow instead, or do not keep the column",
        ),
        (
            "out.csv",
            "tags",
            "column `tags` is list<nullable int32>, which has no CSV form that tools read back as the \
             same values; write .parquet, .arrow or .jsonl (where bytes are base64 and lists \
             are JSON arrays)",
        ),
    ] {
        let output = dir.path().join(output);
        let error = backfill_error(&transform, &input, &output, &[keep]);
        assert_eq!(
            error,
            format!("cannot write `{}`: {message}", output.display())
        );
        assert!(
            leftovers(dir.path()).is_empty(),
            "{:?}",
            leftovers(dir.path())
        );
    }
    // JSON Lines holds a list as a JSON array.
    let output = dir.path().join("tags.jsonl");
    Backfill::new(&transform, &input, &output)
        .keep(["tags"])
        .run()
        .unwrap();
    let first = fs::read_to_string(&output).unwrap();
    assert!(first.starts_with(r#"{"tags":[0],"#), "{first}");
    // Parquet and Arrow hold both, exactly.
    for output in ["out.parquet", "out.arrow"] {
        let output = dir.path().join(output);
        Backfill::new(&transform, &input, &output)
            .keep(["waited", "tags"])
            .run()
            .unwrap();
        let back = read_all(&output);
        assert_eq!(back.column(0).to_data(), batch.column(4).to_data());
        assert_eq!(back.column(1).to_data(), batch.column(5).to_data());
    }
}

fn lists_type() -> arrow::datatypes::DataType {
    arrow::datatypes::DataType::List(Arc::new(arrow::datatypes::Field::new_list_field(
        arrow::datatypes::DataType::Int32,
        true,
    )))
}

#[test]
fn kept_csv_columns_are_copied_as_written() {
    let dir = TempDir::new().unwrap();
    let transform = load(artifacts::FRAUD_FEATURES);
    let input = dir.path().join("in.csv");
    let output = dir.path().join("out.parquet");
    // Ids with a leading zero stay text; plain integers and 0/1 labels are
    // guessed as integers.
    fs::write(
        &input,
        "id,n,label,amount,hour,merchant_category\n\
         0123,5,0,1.0,3,travel\n\
         77,-0,1,2.0,4,grocery\n",
    )
    .unwrap();
    Backfill::new(&transform, &input, &output)
        .keep(["id", "n", "label"])
        .run()
        .unwrap();
    let out = read_all(&output);
    let ids: Vec<_> = out.column(0).as_string::<i32>().iter().flatten().collect();
    assert_eq!(ids, ["0123", "77"]);
    let ns: Vec<_> = out.column(1).as_string::<i32>().iter().flatten().collect();
    assert_eq!(ns, ["5", "-0"]);
    assert_eq!(
        out.column(2).as_primitive::<Int64Type>().values().to_vec(),
        [0, 1]
    );

    // A value after the first rows that does not fit the guessed type is
    // refused with the column, the row and why.
    let mut text = String::from("id,amount,hour,merchant_category\n");
    for row in 0..10_500 {
        text.push_str(&format!("{row},1.0,3,travel\n"));
    }
    text.push_str("A77,1.0,3,travel\n");
    fs::write(&input, text).unwrap();
    let error = backfill_error(&transform, &input, &output, &["id"]);
    assert_eq!(
        error,
        format!(
            "cannot read `{}`: column `id`, row 10500: \"A77\" is not an int64 (a whole number \
             such as 42); the type of `id` was guessed from the file's first 10000 rows (only \
             the transform's inputs have declared types)",
            input.display()
        )
    );

    // Nor may an integer there that would not be written back the same.
    let mut text = String::from("id,amount,hour,merchant_category\n");
    for row in 0..10_500 {
        text.push_str(&format!("{row},1.0,3,travel\n"));
    }
    text.push_str("0123,1.0,3,travel\n");
    fs::write(&input, text).unwrap();
    assert_eq!(
        backfill_error(&transform, &input, &output, &["id"]),
        format!(
            "cannot read `{}`: column `id`, row 10500: \"0123\" would lose its leading zero \
             or sign as an int64; the type of `id` was guessed from the file's first 10000 \
             rows (only the transform's inputs have declared types)",
            input.display()
        )
    );
}

/// Columns a JSON Lines file only carries (kept ones) have types guessed
/// from its first rows and read by the serving codec's rules, as CSV
/// cells are: a later value that does not fit is refused with its column
/// and row (arrow's reader cut `2.5` to `2` in a column guessed int64), a
/// column of several kinds is refused up front, a row may leave a kept
/// field out, and a number no float holds reads as infinity wherever it
/// is (the first rows' guess once failed on it, and a later row took it).
#[test]
fn kept_json_lines_columns_are_read_by_the_codec_rules() {
    let dir = TempDir::new().unwrap();
    let transform = load(artifacts::FRAUD_FEATURES);
    let input = dir.path().join("in.jsonl");
    let output = dir.path().join("out.parquet");
    let row = |extra: &str| {
        format!("{{\"amount\": 1.0, \"hour\": 3, \"merchant_category\": \"travel\"{extra}}}\n")
    };
    let after_ints = |last: &str| {
        let mut text: String = (0..10_500)
            .map(|n| row(&format!(", \"id\": {n}")))
            .collect();
        text.push_str(&row(&format!(", \"id\": {last}")));
        text
    };
    for (last, why) in [
        (
            "\"A77\"",
            "\"A77\" is not an int64 (a whole number such as 42)",
        ),
        (
            "2.5",
            "2.5 is not an integer (an integer column takes whole numbers written without a \
             fraction or exponent)",
        ),
        ("-3.99", "-3.99 is not an integer"),
    ] {
        fs::write(&input, after_ints(last)).unwrap();
        let error = backfill_error(&transform, &input, &output, &["id"]);
        assert!(
            error.starts_with(&format!(
                "cannot read `{}`: column `id`, row 10500: {why}",
                input.display()
            )) && error.ends_with(
                "; the type of `id` was guessed from the file's first 10000 rows (only the \
                 transform's inputs have declared types)"
            ),
            "{error}"
        );
        assert!(!output.exists());
    }

    let mixed = [", \"n\": 1", ", \"n\": 2", ", \"n\": \"abc\""]
        .map(row)
        .concat();
    fs::write(&input, mixed).unwrap();
    assert_eq!(
        backfill_error(&transform, &input, &output, &["n"]),
        format!(
            "cannot read `{}`: column `n` holds numbers (from row 0) and strings (from row 2) \
             in the file's first 10000 rows; a column's values must have one type",
            input.display()
        )
    );

    // Left out, a kept field is null; nested values are carried whole.
    let sparse = [
        ", \"id\": 1, \"tags\": [\"a\"], \"meta\": {\"k\": 1}",
        "",
        ", \"id\": 3, \"tags\": [], \"meta\": {\"k\": 2.5}",
    ]
    .map(row)
    .concat();
    fs::write(&input, sparse).unwrap();
    Backfill::new(&transform, &input, &output)
        .keep(["id", "tags", "meta"])
        .run()
        .unwrap();
    let out = read_all(&output);
    assert_eq!(
        out.column(0)
            .as_primitive::<Int64Type>()
            .iter()
            .collect::<Vec<_>>(),
        [Some(1), None, Some(3)]
    );
    assert_eq!(out.column(1).as_list::<i32>().value_length(0), 1);
    assert!(matches!(
        out.column(2).data_type(),
        arrow::datatypes::DataType::Struct(_)
    ));

    // Set aside, a row refused for one kept value keeps its other values
    // in the rejects file.
    let rejects = dir.path().join("rejects.jsonl");
    fs::write(&input, after_ints("2.5")).unwrap();
    Backfill::new(&transform, &input, &output)
        .keep(["id"])
        .on_error(skewless::backfill::OnError::Skip)
        .rejects(&rejects)
        .run()
        .unwrap();
    let line: serde_json::Value =
        serde_json::from_str(fs::read_to_string(&rejects).unwrap().trim()).unwrap();
    assert_eq!(line["row"], 10500);
    assert_eq!(
        line["input"],
        serde_json::json!({"id": null, "amount": 1.0, "hour": 3, "merchant_category": "travel"})
    );

    // Lists of one type are read exactly too; a column that is null in the
    // first rows has no type, and a later value says so.
    let mut lists: String = (0..10_500).map(|_| row(", \"l\": [1, 2]")).collect();
    lists.push_str(&row(", \"l\": [1.5]"));
    fs::write(&input, lists).unwrap();
    let error = backfill_error(&transform, &input, &output, &["l"]);
    assert!(
        error.contains("column `l`, row 10500: element 0 of the list: 1.5 is not an integer"),
        "{error}"
    );
    let mut nulls: String = (0..10_000).map(|_| row(", \"n\": null")).collect();
    nulls.push_str(&row(", \"n\": 7"));
    fs::write(&input, nulls).unwrap();
    let error = backfill_error(&transform, &input, &output, &["n"]);
    assert!(
        error.contains(
            "column `n`, row 10000: the column is null in the file's first 10000 rows, so it \
             has no type"
        ),
        "{error}"
    );

    // The floats JSON has no number for, written as text (as Spark and
    // skewless write them), are numbers in a guessed column.
    let floats = [", \"f\": 1.5", ", \"f\": \"NaN\"", ", \"f\": \"-Infinity\""]
        .map(row)
        .concat();
    fs::write(&input, floats).unwrap();
    Backfill::new(&transform, &input, &output)
        .keep(["f"])
        .run()
        .unwrap();
    let f = read_all(&output);
    let f = f.column(0).as_primitive::<Float64Type>();
    assert_eq!(f.value(0), 1.5);
    assert!(f.value(1).is_nan());
    assert_eq!(f.value(2), f64::NEG_INFINITY);
    // Among words, the same spelling is a word (a person called Nan).
    let names = [", \"who\": \"Nan\"", ", \"who\": \"Bob\""]
        .map(row)
        .concat();
    fs::write(&input, names).unwrap();
    Backfill::new(&transform, &input, &output)
        .keep(["who"])
        .run()
        .unwrap();
    let who = read_all(&output);
    let who: Vec<_> = who.column(0).as_string::<i32>().iter().flatten().collect();
    assert_eq!(who, ["Nan", "Bob"]);

    // A column the first rows do not have is named as missing there.
    let mut late: String = (0..10_000).map(|_| row("")).collect();
    late.push_str(&row(", \"lab\": 7"));
    fs::write(&input, late).unwrap();
    assert_eq!(
        backfill_error(&transform, &input, &output, &["lab"]),
        format!(
            "cannot read `{}`: it has no column `lab` to keep in its first 10000 rows (where a JSON \
             Lines file's columns are read from); its columns there are: `amount`, `hour`, \
             `merchant_category`",
            input.display()
        )
    );

    // `1e400`: infinity in the first rows, and after them, as in a request.
    for before in [1, 10_500] {
        let mut text: String = (0..before).map(|_| row(", \"x\": 1.5")).collect();
        text.push_str(&row(", \"x\": 1e400"));
        text = text.replacen("\"amount\": 1.0", "\"amount\": 1e400", 1);
        fs::write(&input, text).unwrap();
        Backfill::new(&transform, &input, &output)
            .keep(["x", "amount"])
            .run()
            .unwrap();
        let out = read_all(&output);
        let x = out.column(0).as_primitive::<Float64Type>();
        assert_eq!(x.value(before), f64::INFINITY);
        let amount = out.column(1).as_primitive::<Float64Type>();
        assert_eq!(amount.value(0), f64::INFINITY);
    }
}

/// A CSV file separated by `;` (as spreadsheets in many locales save
/// CSV), tabs or `|` is refused saying so, not only that a column is
/// missing.
#[test]
fn a_csv_file_with_another_separator_is_named_so() {
    let dir = TempDir::new().unwrap();
    let transform = load(artifacts::FRAUD_FEATURES);
    let output = dir.path().join("out.parquet");
    for (separator, said) in [(";", "`;`"), ("\t", "tabs"), ("|", "`|`")] {
        let input = dir.path().join("in.csv");
        let header = ["amount", "hour", "merchant_category"].join(separator);
        let row = ["1.5", "3", "travel"].join(separator);
        fs::write(&input, format!("{header}\n{row}\n")).unwrap();
        let error = backfill_error(&transform, &input, &output, &[]);
        assert!(
            error.starts_with(&format!(
                "cannot read `{}`: it has no column `amount`",
                input.display()
            )) && error.contains(&format!(
                "; the header looks separated by {said}: skewless reads CSV separated by commas"
            )),
            "{error}"
        );
    }
}

/// A JSON Lines file that starts with a UTF-8 byte order mark (which
/// Windows tools write) reads as the same file without it, as CSV does.
#[test]
fn a_json_lines_byte_order_mark_is_not_part_of_the_first_row() {
    let dir = TempDir::new().unwrap();
    let transform = load(artifacts::FRAUD_FEATURES);
    let rows = "{\"amount\": 12.5, \"hour\": 3, \"merchant_category\": \"travel\", \"id\": 1}\n\
                {\"amount\": 7.0, \"hour\": 23, \"merchant_category\": \"books\", \"id\": 2}\n";
    let mut outputs = Vec::new();
    for (name, text) in [
        ("plain", rows.to_string()),
        ("marked", format!("\u{feff}{rows}")),
    ] {
        let input = dir.path().join(format!("{name}.jsonl"));
        fs::write(&input, text).unwrap();
        let output = dir.path().join(format!("{name}.jsonl.out.jsonl"));
        Backfill::new(&transform, &input, &output)
            .keep(["id"])
            .run()
            .unwrap();
        outputs.push(fs::read_to_string(&output).unwrap());
    }
    assert_eq!(outputs[0], outputs[1]);
    assert!(outputs[0].starts_with("{\"id\":1,"), "{}", outputs[0]);
}

/// A nullable input left out of a JSON Lines row is refused, as in a
/// request, saying who writes rows so: Spark, by default.
#[test]
fn a_missing_json_lines_field_names_sparks_option() {
    let dir = TempDir::new().unwrap();
    let transform = load(artifacts::GLUCOSE_ALERTS);
    let input = dir.path().join("in.jsonl");
    fs::write(
        &input,
        "{\"read_at\": \"2026-03-02T00:00:00Z\", \"glucose_mg_dl\": 100.0, \
         \"previous_mg_dl\": null, \"minutes_since_previous\": null}\n\
         {\"read_at\": \"2026-03-02T00:05:00Z\", \"glucose_mg_dl\": 120.0, \
         \"minutes_since_previous\": 5.0}\n",
    )
    .unwrap();
    let output = dir.path().join("out.parquet");
    assert_eq!(
        backfill_error(&transform, &input, &output, &[]),
        format!(
            "cannot read `{}`: row 1: missing field `previous_mg_dl` (float64); give `null` for \
             a missing value (Spark leaves null fields out of the JSON it writes unless told \
             `.option(\"ignoreNullFields\", False)`)",
            input.display()
        )
    );
}

#[test]
fn kept_columns_come_first_and_must_not_clash_with_outputs() {
    let dir = TempDir::new().unwrap();
    let input_path = dir.path().join("in.parquet");
    write_input(&input_path, &transactions(3));
    let transform = load(artifacts::FRAUD_FEATURES);
    let output_path = dir.path().join("out.parquet");
    Backfill::new(&transform, &input_path, &output_path)
        .keep(["id", "hour"])
        .run()
        .unwrap();
    let output = read_all(&output_path);
    let names: Vec<String> = output
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(
        names,
        [
            "id",
            "hour",
            "log_amount",
            "is_night",
            "amount_bucket",
            "category_risk"
        ]
    );

    let error = Backfill::new(&transform, &input_path, &output_path)
        .keep(["id", "id"])
        .run()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "column `id` is kept twice; name each kept column once"
    );

    let error = Backfill::new(&transform, &input_path, &output_path)
        .keep(["is_night"])
        .run()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "cannot keep input column `is_night`: transform `fraud-features` has an output column of that name"
    );
}

#[test]
fn a_backfill_does_not_overwrite_its_input() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("data.parquet");
    write_input(&path, &transactions(3));
    let before = fs::read(&path).unwrap();
    let error = Backfill::new(&load(artifacts::FRAUD_FEATURES), &path, &path)
        .run()
        .unwrap_err();
    assert!(error.to_string().contains("is the input file"), "{error}");
    assert_eq!(fs::read(&path).unwrap(), before);
}

#[test]
fn an_empty_input_gives_an_empty_output_with_the_schema() {
    let dir = TempDir::new().unwrap();
    let input_path = dir.path().join("empty.csv");
    fs::write(&input_path, "amount,hour,merchant_category\n").unwrap();
    let output_path = dir.path().join("empty.parquet");
    let summary = Backfill::new(&load(artifacts::FRAUD_FEATURES), &input_path, &output_path)
        .run()
        .unwrap();
    assert_eq!(summary.rows, 0);
    let file = skewless::io::summarize(&output_path).unwrap();
    assert_eq!(file.rows, Some(0));
    assert_eq!(file.schema.fields().len(), 4);

    // A JSON Lines file without a line (or with blank lines only) has no
    // names to read, but the transform's inputs are declared.
    for text in ["", "\n\n"] {
        let input_path = dir.path().join("empty.jsonl");
        fs::write(&input_path, text).unwrap();
        let summary = Backfill::new(&load(artifacts::FRAUD_FEATURES), &input_path, &output_path)
            .run()
            .unwrap();
        assert_eq!(summary.rows, 0);
        let file = skewless::io::summarize(&output_path).unwrap();
        assert_eq!(file.rows, Some(0));
        assert_eq!(file.schema.fields().len(), 4);
    }
}

#[test]
fn progress_is_reported_as_output_is_written() {
    let dir = TempDir::new().unwrap();
    let input_path = dir.path().join("in.parquet");
    write_input(&input_path, &transactions(300_000));
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let recorder = seen.clone();
    Backfill::new(
        &load(artifacts::FRAUD_FEATURES),
        &input_path,
        dir.path().join("out.parquet"),
    )
    .on_progress(move |p| recorder.lock().unwrap().push((p.rows, p.total_rows)))
    .run()
    .unwrap();
    let seen = seen.lock().unwrap();
    assert!(seen.len() >= 2, "{seen:?}");
    // The first report comes before any output, with the total, so a
    // progress bar knows its length from the start.
    assert_eq!(seen.first(), Some(&(0, Some(300_000))));
    assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "{seen:?}");
    assert_eq!(seen.last(), Some(&(300_000, Some(300_000))));
}

#[test]
fn the_reader_reads_only_requested_columns_in_requested_order() {
    let dir = TempDir::new().unwrap();
    for ext in ["parquet", "csv", "arrow", "jsonl"] {
        let path = dir.path().join(format!("t.{ext}"));
        write_input(&path, &transactions(5));
        let requests = [
            skewless::io::ColumnRequest {
                name: "merchant_category".into(),
                data_type: Some(skewless::DataType::Utf8),
            },
            skewless::io::ColumnRequest {
                name: "amount".into(),
                data_type: Some(skewless::DataType::Float64),
            },
        ];
        let reader = Reader::open(&path, Some(&requests), 2, Default::default()).unwrap();
        let names: Vec<String> = reader
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(names, ["merchant_category", "amount"], "{ext}");
        let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
        assert_eq!(
            batches
                .iter()
                .map(RecordBatch::num_rows)
                .collect::<Vec<_>>(),
            [2, 2, 1],
            "{ext}"
        );
        assert!(batches.iter().all(|b| b.column(1).null_count() == 0));
    }
}

/// JSON object lines decoded by the serving codec, as `fields`.
fn decode_lines(fields: &[skewless::Field], lines: &[&str]) -> RecordBatch {
    let raw: Vec<Box<serde_json::value::RawValue>> = lines
        .iter()
        .map(|l| serde_json::value::RawValue::from_string(l.to_string()).unwrap())
        .collect();
    let refs: Vec<&serde_json::value::RawValue> = raw.iter().map(|r| &**r).collect();
    skewless::codec::json::decode_rows("test", fields, &refs, Default::default()).unwrap()
}

#[test]
fn json_lines_output_keeps_nan_infinities_and_negative_zero() {
    // Arrow's JSON writer would write `null` for NaN and infinities; the
    // JSONL output uses the serving codec's exact form instead.
    let dir = TempDir::new().unwrap();
    let input = dir.path().join("floats.csv");
    fs::write(&input, "x,y\nNaN,inf\n-0.0,1e-45\n1.5,-inf\n").unwrap();
    let output = dir.path().join("floats.jsonl");
    let transform = load(artifacts::FLOAT_BITS);
    Backfill::new(&transform, &input, &output).run().unwrap();
    let text = fs::read_to_string(&output).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            r#"{"x_echo":"NaN","x_plus_zero":"NaN","zero_over_zero":"NaN","y_echo":"Infinity","y_plus_zero":"Infinity"}"#,
            r#"{"x_echo":-0.0,"x_plus_zero":0.0,"zero_over_zero":"NaN","y_echo":1e-45,"y_plus_zero":1e-45}"#,
            r#"{"x_echo":1.5,"x_plus_zero":1.5,"zero_over_zero":"NaN","y_echo":"-Infinity","y_plus_zero":"-Infinity"}"#,
        ]
    );
    // And it decodes back to the same bits.
    let back = decode_lines(&transform.info().outputs, &lines);
    let csv_batches: Vec<RecordBatch> = Reader::open(
        &input,
        Some(&[
            skewless::io::ColumnRequest {
                name: "x".into(),
                data_type: Some(skewless::DataType::Float64),
            },
            skewless::io::ColumnRequest {
                name: "y".into(),
                data_type: Some(skewless::DataType::Float32),
            },
        ]),
        10,
        Default::default(),
    )
    .unwrap()
    .map(Result::unwrap)
    .collect();
    assert_batches_same_bits(&transform.call(&csv_batches[0]).unwrap(), &back);
}

#[test]
fn json_lines_input_is_decoded_exactly_like_a_request() {
    let dir = TempDir::new().unwrap();
    // Every float form of the serving codec, a blank line, and a float32
    // that must not be rounded through a float64.
    let lines = [
        r#"{"x": "NaN", "y": "Infinity"}"#,
        r#"{"x": "NaN:0x7ff80000deadbeef", "y": 1e-45}"#,
        r#"{"x": -0.0, "y": "-Infinity"}"#,
        r#"{"x": 0.1, "y": 16777217}"#,
    ];
    let input = dir.path().join("floats.jsonl");
    fs::write(
        &input,
        format!("{}\n\n{}\n{}\n{}\n", lines[0], lines[1], lines[2], lines[3]),
    )
    .unwrap();
    let transform = load(artifacts::FLOAT_BITS);
    let requests: Vec<skewless::io::ColumnRequest> = transform
        .info()
        .inputs
        .iter()
        .map(|f| skewless::io::ColumnRequest {
            name: f.name.clone(),
            data_type: Some(f.data_type),
        })
        .collect();
    let read = read_columns(&input, Some(&requests), 3);
    let requested = decode_lines(&transform.info().inputs, &lines);
    assert_batches_same_bits(&read, &requested);

    // What serving refuses, a backfill refuses, with the file, row and field
    // (rows count from the first data row; the blank line is not one).
    let output = dir.path().join("features.parquet");
    let fraud = load(artifacts::FRAUD_FEATURES);
    for (bad_line, field, value) in [
        (
            r#"{"amount": 2.0, "hour": 3.9, "merchant_category": "travel", "id": "b"}"#,
            "hour",
            "3.9",
        ),
        (
            r#"{"amount": "12,5", "hour": 3, "merchant_category": "travel", "id": "b"}"#,
            "amount",
            "12,5",
        ),
    ] {
        let input = dir.path().join("transactions.jsonl");
        fs::write(
            &input,
            format!(
                "{}\n\n{}\n",
                r#"{"amount": 1.0, "hour": 3, "merchant_category": "travel", "id": "a"}"#, bad_line
            ),
        )
        .unwrap();
        let error = backfill_error(&fraud, &input, &output, &["id"]);
        assert!(
            error.starts_with(&format!("cannot read `{}`: ", input.display()))
                && error.contains("row 1")
                && error.contains(&format!("`{field}`"))
                && error.contains(value),
            "{error}"
        );
        assert!(!output.exists());
    }
}

#[test]
fn csv_timestamps_are_parsed_as_serving_parses_them() {
    let dir = TempDir::new().unwrap();
    let request = [skewless::io::ColumnRequest {
        name: "read_at".into(),
        data_type: Some(skewless::DataType::TimestampMicros),
    }];
    let good = dir.path().join("good.csv");
    fs::write(
        &good,
        "read_at,n\n2026-03-02T00:10:43Z,0\n2026-03-02T01:10:43.000001+01:00,1\n,2\n2026-03-02 00:10:43+0000,3\n",
    )
    .unwrap();
    let read = read_columns(&good, Some(&request), 2);
    let micros = read
        .column(0)
        .as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
    assert_eq!(
        micros.iter().collect::<Vec<_>>(),
        [
            Some(1_772_410_243_000_000),
            Some(1_772_410_243_000_001),
            None,
            Some(1_772_410_243_000_000)
        ]
    );

    // What serving refuses, a backfill refuses, with the column and row.
    let output = dir.path().join("features.parquet");
    let transform = load(artifacts::GLUCOSE_ALERTS);
    let header = "patient_id,read_at,glucose_mg_dl,previous_mg_dl,minutes_since_previous";
    for (value, reason) in [
        (
            "2026-03-02 02:00:00",
            "has no time zone; skewless does not guess which zone a timestamp without one is in",
        ),
        (
            "1772420400000000",
            "is a number, but a timestamp is an RFC 3339 timestamp",
        ),
        ("2026-03-02", "is not an RFC 3339 timestamp"),
        (
            "2026-03-02T03:00:00.1234567Z",
            "has a fraction of a microsecond",
        ),
    ] {
        let input = dir.path().join("readings.csv");
        fs::write(
            &input,
            format!("{header}\np-1,2026-03-02T00:00:00Z,100.0,,\np-1,{value},120.0,100.0,5.0\n"),
        )
        .unwrap();
        let error = backfill_error(&transform, &input, &output, &[]);
        assert!(
            error.starts_with(&format!(
                "cannot read `{}`: column `read_at`, row 1: \"{value}\" {reason}",
                input.display()
            )),
            "{error}"
        );
        assert!(!output.exists());
    }

    // The refused value keeps its kind under the file's name, so that a
    // front end can say what would take it: the command line its flag,
    // Python a `BadInput` with the row and column.
    let input = dir.path().join("naive.csv");
    fs::write(
        &input,
        format!("{header}\np-1,2026-03-02T00:00:00Z,100.0,,\np-1,2026-03-02 02:00:00,120.0,,\n"),
    )
    .unwrap();
    let error = Backfill::new(&transform, &input, &output)
        .run()
        .unwrap_err();
    assert!(matches!(error, Error::InFile { .. }), "{error:?}");
    assert_eq!(error.kind(), "naive_timestamp");
    assert_eq!(error.class(), skewless::ErrorClass::BadInput);
    assert_eq!(error.setting(), Some(skewless::Setting::NaiveTimestamps));
    assert_eq!((error.column(), error.row()), (Some("read_at"), Some(1)));
}

/// A file that is not what its name says, a directory, or a missing file
/// without an extension: each gets the message that fits, from the
/// readers behind `skewless run`, `verify` and `inspect` alike.
#[test]
fn inputs_that_are_not_what_their_names_say_are_named_plainly() {
    let dir = TempDir::new().unwrap();
    let transform = load(artifacts::FRAUD_FEATURES);
    let csv = dir.path().join("in.csv");
    fs::write(&csv, "amount,hour,merchant_category\n1.0,3,travel\n").unwrap();
    let parquet = dir.path().join("features.parquet");
    let arrow = dir.path().join("features.arrow");
    for output in [&parquet, &arrow] {
        Backfill::new(&transform, &csv, output).run().unwrap();
    }
    let said = |path: &Path| {
        let read = Reader::open(path, None, 1024, Default::default())
            .unwrap_err()
            .to_string();
        let summarized = skewless::io::summarize(path).unwrap_err().to_string();
        assert_eq!(read, summarized);
        read
    };
    for (from, name, what) in [
        (
            &parquet,
            "a.csv",
            "a Parquet file, not CSV; give it the .parquet",
        ),
        (
            &parquet,
            "a.jsonl",
            "a Parquet file, not JSON Lines; give it the .parquet",
        ),
        (
            &parquet,
            "a.arrow",
            "a Parquet file, not Arrow IPC; give it the .parquet",
        ),
        (
            &arrow,
            "a.parquet",
            "an Arrow IPC file, not Parquet; give it the .arrow",
        ),
    ] {
        let renamed = dir.path().join(name);
        fs::copy(from, &renamed).unwrap();
        assert_eq!(
            said(&renamed),
            format!(
                "cannot read `{}`: it is {what} extension",
                renamed.display()
            )
        );
    }
    let directory = dir.path().join("d.parquet");
    fs::create_dir(&directory).unwrap();
    assert_eq!(
        said(&directory),
        format!(
            "cannot read `{}`: it is a directory, not a data file",
            directory.display()
        )
    );
    // One that holds a table as part files, as Spark writes it, says so.
    for part in ["part-00001-x.snappy.parquet", "part-00000-x.snappy.parquet"] {
        fs::copy(&parquet, directory.join(part)).unwrap();
    }
    fs::write(directory.join("_SUCCESS"), "").unwrap();
    fs::write(directory.join(".part-00000-x.snappy.parquet.crc"), "").unwrap();
    assert_eq!(
        said(&directory),
        format!(
            "cannot read `{}`: it is a directory, not a data file; it holds 2 data files \
             (`part-00000-x.snappy.parquet`, ...), as Spark writes a table: skewless reads one \
             file, so read the directory in Python \
             (`t.transform(pyarrow.dataset.dataset(DIR, format=\"parquet\").to_table())`, with \
             `events=` the same way), or run the transform in Spark \
             (`skewless.spark.transform`), or give one of them if part of the rows will do (not \
             of events: features would count only `part-00000-x.snappy.parquet`'s)",
            directory.display()
        )
    );
    // Partitioned by a column, as Spark's `partitionBy` writes it: the
    // files are in its directories, and pyarrow is told to read them so.
    let partitioned = dir.path().join("partitioned");
    for day in ["day=2026-01-02", "day=2026-01-01"] {
        fs::create_dir_all(partitioned.join(day)).unwrap();
        fs::copy(&parquet, partitioned.join(day).join("part-00000-z.parquet")).unwrap();
    }
    fs::write(partitioned.join("_SUCCESS"), "").unwrap();
    assert_eq!(
        said(&partitioned),
        format!(
            "cannot read `{}`: it is a directory, not a data file; it holds 2 data files \
             (`day=2026-01-01/part-00000-z.parquet`, ...), as Spark writes a table: skewless \
             reads one file, so read the directory in Python \
             (`t.transform(pyarrow.dataset.dataset(DIR, format=\"parquet\", \
             partitioning=\"hive\").to_table())`, with `events=` the same way), or run the \
             transform in Spark (`skewless.spark.transform`), or give one of them if part of the \
             rows will do (not of events: features would count only `part-00000-z.parquet`'s)",
            partitioned.display()
        )
    );
    // `inspect` shows one file: it names the first to give it.
    let inspect = std::process::Command::new(env!("CARGO_BIN_EXE_skewless"))
        .arg("inspect")
        .arg(&partitioned)
        .output()
        .unwrap();
    assert!(!inspect.status.success());
    assert_eq!(
        String::from_utf8_lossy(&inspect.stderr).trim_end(),
        format!(
            "error: `{}` is a directory of 2 data files, as Spark writes a table; inspect one of \
             them: `skewless inspect {}` (each part file a transform wrote carries its \
             provenance)",
            partitioned.display(),
            partitioned
                .join("day=2026-01-01/part-00000-z.parquet")
                .display()
        )
    );
    // Spark's JSON part files are JSON Lines under `.json`: one is told
    // the extension to use, and a directory of them is told the same.
    let jsonl = "{\"amount\": 1.0, \"hour\": 3, \"merchant_category\": \"travel\"}\n";
    let json = dir.path().join("spark.json");
    fs::create_dir(&json).unwrap();
    fs::write(json.join("part-00000-y.json"), jsonl).unwrap();
    fs::write(json.join("_SUCCESS"), "").unwrap();
    assert_eq!(
        said(&json),
        format!(
            "cannot read `{}`: it is a directory, not a data file; it holds 1 data file \
             (`part-00000-y.json`), as Spark writes a table: skewless reads one file, so read \
             the directory in Python \
             (`t.transform(pyarrow.dataset.dataset(DIR, format=\"json\").to_table())`, with \
             `events=` the same way), or run the transform in Spark \
             (`skewless.spark.transform`), or give one of them (named .jsonl) if part of the rows \
             will do (not of events: features would count only `part-00000-y.json`'s)",
            json.display()
        )
    );
    let part = json.join("part-00000-y.json");
    assert_eq!(
        said(&part),
        format!(
            "cannot tell the format of `{}` from its extension: a .json file can hold one JSON \
             document or JSON Lines; for JSON Lines (one object a line, as Spark and DuckDB \
             write them) use .jsonl or .ndjson",
            part.display()
        )
    );
    // Missing is said before the extension is looked at.
    let missing = dir.path().join("nope");
    assert!(
        said(&missing).starts_with(&format!("cannot open `{}`: ", missing.display())),
        "{}",
        said(&missing)
    );
}
