//! Bad rows on purpose: `--on-error skip|null` writes the other rows and an
//! exact record of the rejected ones, the same for any batch size and
//! threads; serving can answer per-row errors; `verify` requires every
//! path to reject the same rows; a busy server says so with 503.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use skewless::backfill::{Backfill, MaxRejects, OnError};
use skewless_test_artifacts as artifacts;
use tempfile::TempDir;

use crate::support::{TestServer, load};

/// 30,000 amounts; the transform rejects the negative ones (first, middle,
/// last rows, and rows across batch edges), and the reader refuses the
/// ones that are not numbers.
fn bad_rows_csv(dir: &Path) -> (PathBuf, Vec<u64>) {
    let rows = 30_000;
    let negative = [0_u64, 1, 8191, 8192, 15_000, 29_999];
    let unreadable = [7_u64, 16_384, 29_998];
    let mut text = String::from("id,amount\n");
    for row in 0..rows {
        let amount = if negative.contains(&row) {
            "-4".to_string()
        } else if unreadable.contains(&row) {
            "four".to_string()
        } else {
            (row % 97).to_string()
        };
        text.push_str(&format!("r{row},{amount}\n"));
    }
    let path = dir.join("amounts.csv");
    std::fs::write(&path, text).unwrap();
    let mut bad: Vec<u64> = negative.iter().chain(&unreadable).copied().collect();
    bad.sort_unstable();
    (path, bad)
}

fn rejects_of(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn bad_rows_are_left_out_the_same_way_whatever_the_batches_and_threads() {
    let dir = TempDir::new().unwrap();
    let (input, bad) = bad_rows_csv(dir.path());
    let transform = load(artifacts::FAILS_ROW);
    let mut first: Option<(Vec<u8>, Vec<u8>)> = None;
    for threads in [1, 2] {
        for batch_size in [1, 7, 1000, 8192, 100_000] {
            let output = dir.path().join(format!("out-{threads}-{batch_size}.csv"));
            let rejects = dir
                .path()
                .join(format!("rejects-{threads}-{batch_size}.jsonl"));
            let summary = Backfill::new(&transform, &input, &output)
                .keep(["id"])
                .threads(threads)
                .batch_size(batch_size)
                .on_error(OnError::Skip)
                .rejects(&rejects)
                .run()
                .unwrap();
            assert_eq!(summary.rejected, bad.len() as u64);
            assert_eq!(summary.rows, 30_000 - bad.len() as u64);
            let written = (
                std::fs::read(&output).unwrap(),
                std::fs::read(&rejects).unwrap(),
            );
            match &first {
                None => first = Some(written),
                Some(first) => assert_eq!(&written, first, "{threads} threads, {batch_size} rows"),
            }
        }
    }
    // The rejects file reads back: every rejected row, in order, with its
    // input values and its error.
    let rejects = rejects_of(&dir.path().join("rejects-1-1.jsonl"));
    let rows: Vec<u64> = rejects.iter().map(|r| r["row"].as_u64().unwrap()).collect();
    assert_eq!(rows, bad);
    assert_eq!(
        rejects[0],
        json!({
            "row": 0,
            "kind": "row_failed",
            "column": null,
            "message": "transform `fails-row` failed at row 0: amount must not be negative, got -4",
            "input": {"id": "r0", "amount": -4.0},
        })
    );
    let unreadable = rejects.iter().find(|r| r["row"] == 7).unwrap();
    assert_eq!(
        unreadable,
        &json!({
            "row": 7,
            "kind": "invalid_value",
            "column": "amount",
            "message": "column `amount`, row 7: \"four\" is not a float64 (a number such as 12.5)",
            "input": {"id": "r7", "amount": null},
        })
    );
    // The output has the other rows, in order.
    let output = std::fs::read_to_string(dir.path().join("out-1-1.csv")).unwrap();
    let ids: Vec<&str> = output
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(ids.len(), 30_000 - bad.len());
    assert_eq!(&ids[..3], ["r2", "r3", "r4"]);
    assert!(!ids.contains(&"r15000") && !ids.contains(&"r7"));
}

#[test]
fn null_writes_null_features_for_rejected_rows_and_records_them() {
    let dir = TempDir::new().unwrap();
    let (input, bad) = bad_rows_csv(dir.path());
    let output = dir.path().join("features.parquet");
    let rejects = dir.path().join("rejects.jsonl");
    let summary = Backfill::new(&load(artifacts::MAYBE_ROOT), &input, &output)
        .keep(["id"])
        .on_error(OnError::Null)
        .rejects(&rejects)
        .run()
        .unwrap();
    assert_eq!((summary.rows, summary.rejected), (30_000, bad.len() as u64));
    let features = crate::files::read_all(&output);
    let roots = arrow::array::AsArray::as_primitive::<arrow::datatypes::Float64Type>(
        features.column(1).as_ref(),
    );
    for row in &bad {
        assert!(
            arrow::array::Array::is_null(roots, *row as usize),
            "row {row}"
        );
    }
    assert_eq!(roots.value(3), 3f64.sqrt());
    // The Parquet metadata says how many rows were rejected.
    let file = std::fs::File::open(&output).unwrap();
    let reader = parquet::file::reader::SerializedFileReader::new(file).unwrap();
    let metadata = parquet::file::reader::FileReader::metadata(&reader);
    let rejected = metadata
        .file_metadata()
        .key_value_metadata()
        .unwrap()
        .iter()
        .find(|kv| kv.key == skewless::backfill::REJECTED_ROWS_KEY)
        .and_then(|kv| kv.value.clone());
    assert_eq!(rejected.as_deref(), Some("9"));
    assert_eq!(rejects_of(&rejects).len(), bad.len());
}

#[test]
fn rejecting_options_are_checked_before_any_row() {
    let dir = TempDir::new().unwrap();
    let (input, _) = bad_rows_csv(dir.path());
    let output = dir.path().join("features.parquet");
    let refused = |backfill: Backfill| backfill.run().unwrap_err().to_string();
    let fails_row = load(artifacts::FAILS_ROW);
    assert_eq!(
        refused(Backfill::new(&fails_row, &input, &output).on_error(OnError::Skip)),
        "invalid `rejects`: none is given, and `on_error` `skip` needs one: a JSON Lines file \
         where every rejected row is written (nothing is left out without a record)"
    );
    assert_eq!(
        refused(
            Backfill::new(&fails_row, &input, &output)
                .on_error(OnError::Null)
                .rejects(dir.path().join("r.jsonl"))
        ),
        "invalid `on_error`: `null` writes nulls for a rejected row's features, but output \
         `root` of `fails-row` is not nullable; use `skip`"
    );
    assert_eq!(
        refused(
            Backfill::new(&fails_row, &input, &output)
                .on_error(OnError::Skip)
                .rejects(dir.path().join("r.csv"))
        ),
        format!(
            "invalid `rejects`: `{}` is not a JSON Lines file name: name it `.jsonl`",
            dir.path().join("r.csv").display()
        )
    );
    let jsonl_output = dir.path().join("features.jsonl");
    assert_eq!(
        refused(
            Backfill::new(&fails_row, &input, &jsonl_output)
                .on_error(OnError::Skip)
                .rejects(&jsonl_output)
        ),
        format!(
            "invalid `rejects`: `{}` is the input or the output; name another file",
            jsonl_output.display()
        )
    );
    // More rejected rows than allowed: no output, no rejects file.
    let rejects = dir.path().join("r.jsonl");
    for limit in [MaxRejects::Rows(5), MaxRejects::Fraction(0.0001)] {
        let error = refused(
            Backfill::new(&fails_row, &input, &output)
                .on_error(OnError::Skip)
                .rejects(&rejects)
                .max_rejects(limit),
        );
        assert!(error.contains("no output was written"), "{error}");
        assert!(!output.exists() && !rejects.exists());
    }
    let error = refused(
        Backfill::new(&fails_row, &input, &output)
            .on_error(OnError::Skip)
            .rejects(&rejects)
            .max_rejects(MaxRejects::Rows(5)),
    );
    assert_eq!(
        error,
        "more than 5 rows were rejected (`max_rejects` 5); no output was written; look at the \
         first with `on_error` `fail`, which stops there"
    );
}

/// `verify` passes when every path rejects the same rows with the same
/// messages, and counts them.
#[test]
fn verify_requires_the_same_rejections_on_every_path() {
    let dir = TempDir::new().unwrap();
    let (input, bad) = bad_rows_csv(dir.path());
    let report = skewless::verify::Verify::new(&load(artifacts::FAILS_ROW), &input)
        .batch_sizes([
            skewless::verify::BatchSize::Rows(1),
            skewless::verify::BatchSize::Rows(1000),
            skewless::verify::BatchSize::All,
        ])
        .run()
        .unwrap();
    assert!(report.passed(), "{report:#?}");
    assert_eq!((report.rows, report.rejected), (30_000, bad.len() as u64));
}

#[test]
fn a_request_can_ask_for_per_row_errors() {
    let server = TestServer::start(vec![load(artifacts::FAILS_ROW)], Default::default());
    let (status, answer) = server.post(
        "fails-row",
        r#"{"rows": [{"amount": 4}, {"amount": -1}, {"amonut": 9}, {"amount": 9}], "per_row_errors": true}"#,
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["rows"][0], json!({"root": 2.0}));
    assert_eq!(
        answer["rows"][1],
        json!({"error": {
            "kind": "row_failed",
            "message": "transform `fails-row` failed at row 1: amount must not be negative, got -1",
            "row": 1,
            "field": null,
        }})
    );
    assert_eq!(answer["rows"][2]["error"]["kind"], "missing_field");
    assert_eq!(answer["rows"][2]["error"]["row"], 2);
    assert_eq!(
        answer["rows"][2]["error"]["message"],
        "row 2: missing field `amount` (float64); unknown field `amonut` given: did you mean \
         `amount`?"
    );
    assert_eq!(answer["rows"][3], json!({"root": 3.0}));
    // Without asking, the first bad row fails the request, as before.
    let (status, answer) = server.post("fails-row", r#"{"rows": [{"amount": 4}, {"amount": -1}]}"#);
    assert_eq!((status, answer["error"]["row"].clone()), (422, json!(1)));
}

/// With every call running and the queue full, a request gets 503 with
/// `Retry-After` at once, not a wait without end.
#[test]
fn a_busy_server_answers_503_with_retry_after() {
    // A call that loops until its 3 s deadline holds the only slot.
    let runtime = skewless::Runtime::new(
        skewless::Config::default()
            .fuel_per_row(1_000_000_000_000_000)
            .deadline(Some(std::time::Duration::from_secs(3)))
            .max_instances(1),
    )
    .unwrap();
    let slow = runtime.load(artifacts::INFINITE_LOOP).unwrap();
    let server = TestServer::start(
        vec![slow],
        skewless::serve::ServeConfig::default()
            .max_concurrency(1)
            .max_queue(0),
    );
    let addr = server.addr;
    let busy = std::thread::spawn(move || {
        crate::support::http(
            addr,
            "POST",
            "/v1/transforms/infinite-loop",
            r#"{"rows": [{"x": 1}]}"#,
        )
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut answer = (0, String::new());
    for _ in 0..20 {
        let body = r#"{"rows": [{"x": 1}]}"#;
        let request = format!(
            "POST /v1/transforms/infinite-loop HTTP/1.1\r\nHost: x\r\nContent-Type: \
             application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        answer = raw_answer(addr, request.as_bytes());
        if answer.1.contains("\"kind\":\"busy\"") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let first = busy.join().unwrap();
    assert_eq!(answer.0, 503, "{}\nthe first: {first:?}", answer.1);
    assert!(
        answer.1.to_ascii_lowercase().contains("retry-after: 1"),
        "{}",
        answer.1
    );
    assert!(answer.1.contains("\"kind\":\"busy\""), "{}", answer.1);
}

/// Status and the whole answer (head and body).
fn raw_answer(addr: std::net::SocketAddr, request: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.write_all(request).unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}
