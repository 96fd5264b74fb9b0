//! `skewless serve` driven over HTTP on a loopback port: every example,
//! exact values both ways, every bad request with its status and body,
//! pinning, failure isolation, metrics and graceful shutdown.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use arrow::array::RecordBatch;
use serde_json::{Value, json};
use skewless::io::{ColumnRequest, Reader};
use skewless::serve::ServeConfig;
use skewless::{Config, Runtime, codec::json as codec};
use skewless_test_artifacts as artifacts;

use crate::support::{TestServer, http, http_raw, load};
use crate::types::assert_batches_same_bits;

fn server(paths: &[&str]) -> TestServer {
    TestServer::start(
        paths.iter().map(|p| load(p)).collect(),
        ServeConfig::default(),
    )
}

/// The rows of a sample file, as a request body, and as a batch.
fn sample_request(transform: &skewless::Transform, relative: &str) -> (String, RecordBatch) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(relative);
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
        Reader::open(&path, Some(&requests), 1 << 20, Default::default())
            .unwrap()
            .map(Result::unwrap)
            .collect();
    let batch = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    (
        format!("{{\"rows\": {}}}", codec::encode_array(&batch)),
        batch,
    )
}

/// Decodes the `rows` of an answer with the transform's output schema.
fn answer_rows(transform: &skewless::Transform, answer: &Value) -> RecordBatch {
    let rows: Vec<Box<serde_json::value::RawValue>> = answer["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| serde_json::value::to_raw_value(row).unwrap())
        .collect();
    let refs: Vec<&serde_json::value::RawValue> = rows.iter().map(|r| &**r).collect();
    codec::decode_rows(
        transform.name(),
        &transform.info().outputs,
        &refs,
        Default::default(),
    )
    .unwrap()
}

#[test]
fn every_example_serves_the_same_bits_as_a_direct_call() {
    let examples = [
        (
            artifacts::FRAUD_FEATURES,
            "fraud-features/data/transactions.csv",
        ),
        (
            artifacts::GLUCOSE_ALERTS,
            "glucose-alerts/data/readings.csv",
        ),
        (
            artifacts::EMAIL_SUBJECT,
            "email-subject/data/subjects.jsonl",
        ),
    ];
    let server = server(&examples.map(|(path, _)| path));
    for (path, data) in examples {
        let transform = load(path);
        let (body, batch) = sample_request(&transform, data);
        let (status, answer) = server.post(transform.name(), &body);
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["transform"]["sha256"], transform.sha256());
        assert_eq!(answer["transform"]["version"], "1.0.0");
        let served = answer_rows(&transform, &answer);
        // Text parsed back to values, compared bit for bit with the call a
        // backfill makes.
        assert_batches_same_bits(&transform.call(&batch).unwrap(), &served);
    }
}

#[test]
fn nulls_pass_through_as_null() {
    let server = server(&[artifacts::GLUCOSE_ALERTS]);
    let (status, answer) = server.post(
        "glucose-alerts",
        r#"{"rows": [
            {"read_at": "2026-03-02T03:00:00Z", "glucose_mg_dl": 62.0, "previous_mg_dl": null, "minutes_since_previous": null},
            {"read_at": "2026-03-02T03:00:00.000000+00:00", "glucose_mg_dl": 200.5, "previous_mg_dl": 190.5, "minutes_since_previous": 5}
        ]}"#,
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["rows"],
        json!([
            {"rate_mg_dl_per_min": null, "hyperglycemia": false, "hypoglycemia": true, "rapid_rise": false, "nocturnal_hypoglycemia": true},
            {"rate_mg_dl_per_min": 2.0, "hyperglycemia": true, "hypoglycemia": false, "rapid_rise": true, "nocturnal_hypoglycemia": false}
        ])
    );
}

#[test]
fn extreme_floats_travel_exactly_both_ways() {
    let server = server(&[artifacts::FLOAT_BITS]);
    let (status, text) = server.request(
        "POST",
        "/v1/transforms/float-bits",
        r#"{"rows": [
            {"x": 5e-324, "y": 1e-45},
            {"x": -0.0, "y": -0.0},
            {"x": 1.7976931348623157e308, "y": 3.4028235e38},
            {"x": -1.7976931348623157e308, "y": -3.4028235e38},
            {"x": "NaN", "y": "NaN"},
            {"x": "NaN:0xfff80000deadbeef", "y": "NaN:0x7fc00001"},
            {"x": "Infinity", "y": "-Infinity"},
            {"x": 0.1, "y": 0.1}
        ]}"#,
    );
    assert_eq!(status, 200, "{text}");
    // The values as the server wrote them, before any JSON library reads them.
    #[derive(serde::Deserialize)]
    struct Answer<'a> {
        #[serde(borrow)]
        rows: Vec<std::collections::HashMap<String, &'a serde_json::value::RawValue>>,
    }
    let answer: Answer<'_> = serde_json::from_str(&text).unwrap();
    let raw = |row: usize, field: &str| answer.rows[row][field].get().to_string();
    let numbers = [
        (5e-324_f64, 1e-45_f32),
        (-0.0, -0.0),
        (f64::MAX, f32::MAX),
        (f64::MIN, f32::MIN),
        (0.1, 0.1),
    ];
    for (row, (x, y)) in [0, 1, 2, 3, 7].into_iter().zip(numbers) {
        // Numbers: the shortest text that parses back to the same bits.
        assert_eq!(
            raw(row, "x_echo").parse::<f64>().unwrap().to_bits(),
            x.to_bits(),
            "row {row}"
        );
        assert_eq!(
            raw(row, "y_echo").parse::<f32>().unwrap().to_bits(),
            y.to_bits(),
            "row {row}"
        );
    }
    assert_eq!(
        (raw(1, "x_echo"), raw(7, "x_echo"), raw(7, "y_echo")),
        ("-0.0".into(), "0.1".into(), "0.1".into())
    );
    for (row, x, y) in [
        (4, "\"NaN\"", "\"NaN\""),
        (5, "\"NaN:0xfff80000deadbeef\"", "\"NaN:0x7fc00001\""),
        (6, "\"Infinity\"", "\"-Infinity\""),
    ] {
        assert_eq!(
            (raw(row, "x_echo"), raw(row, "y_echo")),
            (x.to_string(), y.to_string()),
            "row {row}"
        );
    }
    let rows: Vec<Value> = serde_json::from_str::<Value>(&text).unwrap()["rows"]
        .as_array()
        .unwrap()
        .clone();
    // Arithmetic NaNs come back as the canonical NaN; -0.0 + 0.0 is 0.0.
    assert_eq!(rows[5]["x_plus_zero"], "NaN");
    assert_eq!(rows[1]["x_plus_zero"], json!(0.0));
    assert_eq!(rows[0]["zero_over_zero"], "NaN");
}

#[test]
fn int64_near_the_limits_and_non_ascii_text_are_exact() {
    let server = server(&[artifacts::ALL_TYPES]);
    let row = |l: &str, s: &str| {
        format!(
            r#"{{"b": true, "i": -2147483648, "l": {l}, "f": 1.5, "d": 2.5, "s": {s}, "t": "1969-12-31T23:59:59.999999Z",
                "nb": null, "ni": 2147483647, "nl": null, "nf": null, "nd": null, "ns": null, "nt": null}}"#
        )
    };
    let body = format!(
        r#"{{"rows": [{}, {}, {}]}}"#,
        row("9223372036854775807", r#""日本語 🎉 naïve""#),
        row("-9223372036854775808", r#""\u0000 nul and \"quotes\"""#),
        row("9007199254740993", r#""""#)
    );
    let (status, answer) = server.post("all-types", &body);
    assert_eq!(status, 200, "{answer}");
    let rows = answer["rows"].as_array().unwrap();
    assert_eq!(rows[0]["l"].to_string(), "9223372036854775807");
    assert_eq!(rows[1]["l"].to_string(), "-9223372036854775808");
    assert_eq!(rows[2]["l"].to_string(), "9007199254740993");
    assert_eq!(rows[0]["s"], "日本語 🎉 naïve");
    assert_eq!(rows[1]["s"], "\u{0} nul and \"quotes\"");
    assert_eq!(rows[0]["i"], -2147483648_i64);
    assert_eq!(rows[0]["ni"], 2147483647);
    assert_eq!(rows[0]["t"], "1969-12-31T23:59:59.999999Z");
    assert_eq!(rows[0]["nl"], Value::Null);
}

/// `(status, kind, row, field)` of an error answer.
fn error_of(server: &TestServer, name: &str, body: &str) -> (u16, String, Value, Value) {
    let (status, answer) = server.post(name, body);
    let error = &answer["error"];
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{answer}"
    );
    (
        status,
        error["kind"].as_str().unwrap().to_string(),
        error["row"].clone(),
        error["field"].clone(),
    )
}

#[test]
fn bad_requests_get_a_4xx_naming_the_row_and_field() {
    let server = TestServer::start(
        vec![load(artifacts::FRAUD_FEATURES)],
        ServeConfig::default().max_body_bytes(2_000),
    );
    let good = r#"{"amount": 12.5, "hour": 3, "merchant_category": "travel"}"#;
    assert_eq!(
        error_of(
            &server,
            "fraud-feature",
            &format!(r#"{{"rows": [{good}]}}"#)
        ),
        (404, "unknown_transform".into(), Value::Null, Value::Null)
    );
    assert_eq!(
        error_of(
            &server,
            "fraud-features",
            &format!(r#"{{"rows": [{good}, {{"amount": 1.0, "merchant_category": "x"}}]}}"#)
        ),
        (400, "missing_field".into(), json!(1), json!("hour"))
    );
    assert_eq!(
        error_of(
            &server,
            "fraud-features",
            r#"{"rows": [{"amount": "twelve", "hour": 3, "merchant_category": "x"}]}"#
        ),
        (400, "invalid_value".into(), json!(0), json!("amount"))
    );
    assert_eq!(
        error_of(
            &server,
            "fraud-features",
            &format!(
                r#"{{"rows": [{good}, {good}, {{"amount": 1.0, "hour": null, "merchant_category": "x"}}]}}"#
            )
        ),
        (400, "unexpected_null".into(), json!(2), json!("hour"))
    );
    assert_eq!(
        error_of(&server, "fraud-features", r#"{"rows": [{"amount": 1.0,"#),
        (400, "malformed_json".into(), Value::Null, Value::Null)
    );
    assert_eq!(
        error_of(&server, "fraud-features", r#"{"rows": [17]}"#),
        (400, "bad_row".into(), json!(0), Value::Null)
    );
    assert_eq!(
        error_of(
            &server,
            "fraud-features",
            r#"{"rows": [{"amount": 1.0, "hour": 3, "hour": 4, "merchant_category": "x"}]}"#
        ),
        (400, "bad_row".into(), json!(0), Value::Null)
    );
    let huge = format!(r#"{{"rows": [{}]}}"#, vec![good; 100].join(","));
    assert_eq!(
        error_of(&server, "fraud-features", &huge),
        (413, "body_too_large".into(), Value::Null, Value::Null)
    );
    // The messages say what is wrong in words.
    let (_, answer) = server.post(
        "fraud-features",
        r#"{"rows": [{"amount": "twelve", "hour": 3, "merchant_category": "x"}]}"#,
    );
    assert_eq!(
        answer["error"]["message"],
        "column `amount`, row 0: \"twelve\" is not a float64 (a number such as 12.5)"
    );
    // A misspelt key would otherwise turn a pin off without a word.
    let (status, answer) = server.post(
        "fraud-features",
        &format!(r#"{{"rows": [{good}], "expect_sha": "00"}}"#),
    );
    assert_eq!(status, 400);
    assert!(
        answer["error"]["message"].as_str().unwrap().contains(
            "unknown field `expect_sha`, expected one of `rows`, `expect_sha256`, `per_row_errors`"
        ),
        "{answer}"
    );
    for (body, message) in [
        (
            "[]",
            "the body must be a JSON object like {\"rows\": [{...}]}, not an array",
        ),
        (
            "not json",
            "the body is not valid JSON: expected ident at line 1 column 2",
        ),
    ] {
        let (_, answer) = server.post("fraud-features", body);
        assert_eq!(answer["error"]["message"], message);
    }
    let (_, answer) = server.post("fraud-features", &huge);
    assert_eq!(
        answer["error"]["message"],
        "the request body is larger than 2000 bytes; send fewer rows per request (the server's \
         `--max-body-bytes`)"
    );
    let (_, answer) = server.post("fraud-feature", "{}");
    assert_eq!(
        answer["error"]["message"],
        "no transform named `fraud-feature`; this server has: fraud-features"
    );
    // And the server is fine afterwards.
    assert_eq!(
        server
            .post("fraud-features", &format!(r#"{{"rows": [{good}]}}"#))
            .0,
        200
    );
}

/// What a client sends by mistake from Python or JavaScript gets a 400
/// that says what to send instead, never features computed from a guess.
#[test]
fn values_that_would_be_guesses_are_refused_with_what_to_send() {
    let server = server(&[artifacts::GLUCOSE_ALERTS]);
    let row = |read_at: &str, extra: &str| {
        format!(
            r#"{{"rows": [{{"read_at": {read_at}, "glucose_mg_dl": 62.0, "previous_mg_dl": null{extra}}}]}}"#
        )
    };
    let refused = |body: String| {
        let (status, answer) = server.post("glucose-alerts", &body);
        let error = &answer["error"];
        (
            status,
            error["kind"].as_str().unwrap().to_string(),
            error["message"].as_str().unwrap().to_string(),
        )
    };
    // `time.time()` in Python, `Date.now()` in JavaScript.
    assert_eq!(
        refused(row("1772420400", r#", "minutes_since_previous": null"#)),
        (
            400,
            "invalid_value".into(),
            "column `read_at`, row 0: \"1772420400\" is a number, but a timestamp is an RFC \
             3339 timestamp with a time zone, such as \"2026-03-02T00:10:43Z\": a number could \
             count seconds, milliseconds or microseconds since the epoch, so skewless does not \
             guess"
                .into()
        )
    );
    // `datetime.isoformat()` of a datetime without a zone.
    assert_eq!(
        refused(row(
            r#""2026-03-02T03:00:00.250000""#,
            r#", "minutes_since_previous": null"#
        )),
        (
            400,
            "naive_timestamp".into(),
            "column `read_at`, row 0: \"2026-03-02T03:00:00.250000\" has no time zone; \
             skewless does not guess which zone a timestamp without one is in; give it a zone \
             where the data is written, or, if such timestamps are UTC, say so with the \
             `naive_timestamps` setting (`utc`) (the server's `--naive-timestamps utc`)"
                .into()
        )
    );
    // A misspelt field.
    assert_eq!(
        refused(row(
            r#""2026-03-02T03:00:00Z""#,
            r#", "minutes_since_prev": null"#
        )),
        (
            400,
            "missing_field".into(),
            "row 0: missing field `minutes_since_previous` (float64); unknown field \
             `minutes_since_prev` given: did you mean `minutes_since_previous`?"
                .into()
        )
    );
    // Python's json writes NaN as a bare word, which JSON does not have.
    let (status, answer) = server.post(
        "glucose-alerts",
        r#"{"rows": [{"read_at": "2026-03-02T03:00:00Z", "glucose_mg_dl": NaN, "previous_mg_dl": null, "minutes_since_previous": null}]}"#,
    );
    assert_eq!(status, 400);
    assert_eq!(
        answer["error"]["message"],
        "the body is not valid JSON: expected value at line 1 column 64; JSON has no NaN or \
         Infinity (Python's json module writes them anyway): send them as the strings \"NaN\", \
         \"Infinity\" and \"-Infinity\""
    );
}

/// An operator sees every failed request in the log, without its values.
#[test]
fn each_failed_request_is_one_log_line_without_request_values() {
    let server = server(&[artifacts::GLUCOSE_ALERTS, artifacts::FAILS_ROW]);
    let (status, _) = server.post(
        "glucose-alerts",
        r#"{"rows": [{"read_at": "2026-03-02T03:00:00Z", "glucose_mg_dl": "sixty", "previous_mg_dl": null, "minutes_since_previous": null}]}"#,
    );
    assert_eq!(status, 400);
    let (status, _) = server.post("nope", r#"{"rows": []}"#);
    assert_eq!(status, 404);
    let logged = server.logged.lock().unwrap().clone();
    assert_eq!(logged.len(), 2, "{logged:?}");
    let line: Value = serde_json::from_str(&logged[0]).unwrap();
    assert_eq!(
        (
            &line["event"],
            &line["status"],
            &line["kind"],
            &line["transform"],
            &line["row"],
            &line["field"]
        ),
        (
            &json!("request_failed"),
            &json!(400),
            &json!("invalid_value"),
            &json!("glucose-alerts"),
            &json!(0),
            &json!("glucose_mg_dl")
        )
    );
    assert!(line["time"].as_str().unwrap().ends_with('Z'), "{line}");
    assert!(line["ms"].as_f64().is_some(), "{line}");
    assert!(!logged[0].contains("sixty"), "no request values: {line}");
    assert!(line.get("message").is_none(), "{line}");
    let line: Value = serde_json::from_str(&logged[1]).unwrap();
    assert_eq!(
        (&line["status"], &line["kind"], &line["transform"]),
        (&json!(404), &json!("unknown_transform"), &json!("nope"))
    );
}

/// `full` adds the message; a burst beyond the rate is counted, not lost
/// without a word.
#[test]
fn the_failure_log_can_carry_messages_and_is_rate_limited() {
    let server = TestServer::start(
        vec![load(artifacts::FAILS_ROW)],
        ServeConfig::default().error_log(skewless::serve::ErrorLog::Full),
    );
    let name = load(artifacts::FAILS_ROW).name().to_string();
    let burst = skewless::serve::LINES_PER_SECOND as usize * 3;
    for _ in 0..burst {
        server.post(&name, r#"{"rows": [17]}"#);
    }
    let logged = server.logged.lock().unwrap().clone();
    assert!(
        logged.len() < burst,
        "{} lines for {burst} failures",
        logged.len()
    );
    let first: Value = serde_json::from_str(&logged[0]).unwrap();
    assert_eq!(
        first["message"],
        "row 0: expected a JSON object of fields, found a number 17"
    );
    // The next line after the rate recovers says how many were dropped.
    std::thread::sleep(Duration::from_millis(200));
    server.post(&name, r#"{"rows": [17]}"#);
    let logged = server.logged.lock().unwrap().clone();
    let last: Value = serde_json::from_str(logged.last().unwrap()).unwrap();
    assert!(last["dropped_before"].as_u64().unwrap() > 0, "{logged:?}");
    // Every dropped line is counted once, by the line after it (a slow
    // machine may see the rate recover mid-burst, and report twice).
    let dropped: u64 = logged
        .iter()
        .map(|line| {
            serde_json::from_str::<Value>(line).unwrap()["dropped_before"]
                .as_u64()
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(dropped as usize, burst + 1 - logged.len(), "{logged:?}");
}

#[test]
fn a_request_pinned_to_another_sha256_gets_409() {
    let server = server(&[artifacts::FRAUD_FEATURES]);
    let transform = load(artifacts::FRAUD_FEATURES);
    let row = r#"{"amount": 12.5, "hour": 3, "merchant_category": "travel"}"#;
    let pinned = |sha: &str| format!(r#"{{"rows": [{row}], "expect_sha256": "{sha}"}}"#);
    assert_eq!(
        server.post("fraud-features", &pinned(transform.sha256())).0,
        200
    );
    let (status, answer) = server.post("fraud-features", &pinned(&"0".repeat(64)));
    assert_eq!(status, 409);
    assert_eq!(answer["error"]["kind"], "sha256_mismatch");
}

#[test]
fn a_failing_guest_fails_only_its_own_request() {
    let server = server(&[artifacts::PANICS, artifacts::FAILS_ROW]);
    let (status, answer) =
        server.post("panics", r#"{"rows": [{"amount": 1.0}, {"amount": -3.0}]}"#);
    assert_eq!(status, 500);
    assert_eq!(answer["error"]["kind"], "trap");
    assert_eq!(answer["error"]["row"], 1);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("amount must be positive, got -3"),
        "{answer}"
    );
    let (status, answer) = server.post(
        "fails-row",
        r#"{"rows": [{"amount": 4.0}, {"amount": -1.0}]}"#,
    );
    assert_eq!(
        (status, answer["error"]["kind"].as_str()),
        (422, Some("row_failed"))
    );
    assert_eq!(answer["error"]["row"], 1);
    let (status, answer) = server.post("panics", r#"{"rows": [{"amount": 2.0}]}"#);
    assert_eq!((status, &answer["rows"]), (200, &json!([{"doubled": 4.0}])));
}

#[test]
fn a_server_on_a_current_thread_runtime_serves_and_survives_a_panic() {
    // Embedders pick their runtime: `serve` must work on a current-thread
    // one too (no `block_in_place`, which panics there).
    let server = TestServer::start_on(
        vec![load(artifacts::PANICS), load(artifacts::FRAUD_FEATURES)],
        ServeConfig::default(),
        || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        },
    );
    let (status, answer) = server.post("panics", r#"{"rows": [{"amount": -3.0}]}"#);
    assert_eq!(
        (status, answer["error"]["kind"].as_str()),
        (500, Some("trap"))
    );
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("amount must be positive, got -3"),
        "{answer}"
    );
    let (status, answer) = server.post(
        "fraud-features",
        r#"{"rows": [{"amount": 0.0, "hour": 3, "merchant_category": "travel"}]}"#,
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["rows"],
        json!([{"log_amount": 0.0, "is_night": 1, "amount_bucket": 0, "category_risk": 0.7}])
    );
}

#[test]
fn listing_health_and_metrics() {
    let server = server(&[artifacts::FRAUD_FEATURES, artifacts::EMAIL_SUBJECT]);
    let (status, text) = server.request("GET", "/v1/transforms", "");
    assert_eq!(status, 200);
    let list: Value = serde_json::from_str(&text).unwrap();
    let names: Vec<&str> = list["transforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["email-subject", "fraud-features"]);
    assert_eq!(
        list["transforms"][1]["sha256"],
        load(artifacts::FRAUD_FEATURES).sha256()
    );
    assert_eq!(
        list["transforms"][1]["inputs"][0],
        json!({"name": "amount", "data_type": "float64", "nullable": false})
    );
    assert_eq!(
        server.request("GET", "/healthz", ""),
        (200, r#"{"status":"ok"}"#.to_string())
    );

    server.post("fraud-features", r#"{"rows": [{"amount": 1.0, "hour": 1, "merchant_category": "x"}, {"amount": 2.0, "hour": 2, "merchant_category": "y"}]}"#);
    server.post("fraud-features", r#"{"rows": [{"amount": 1.0}]}"#);
    server.post("no-such-thing", "{}");
    let (status, metrics) = server.request("GET", "/metrics", "");
    assert_eq!(status, 200);
    for line in [
        "skewless_requests_total{transform=\"fraud-features\",status=\"200\"} 1",
        "skewless_requests_total{transform=\"fraud-features\",status=\"400\"} 1",
        "skewless_errors_total{transform=\"fraud-features\",kind=\"missing_field\"} 1",
        "skewless_errors_total{transform=\"(unknown)\",kind=\"unknown_transform\"} 1",
        "skewless_rows_total{transform=\"fraud-features\"} 2",
        "skewless_request_duration_seconds_count{transform=\"fraud-features\"} 2",
        "skewless_request_duration_seconds_bucket{transform=\"fraud-features\",le=\"+Inf\"} 2",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "missing `{line}` in:\n{metrics}"
        );
    }
    assert!(metrics.contains("# TYPE skewless_request_duration_seconds histogram"));
}

#[test]
fn wrong_paths_and_methods_get_the_json_error_shape() {
    let server = server(&[artifacts::FRAUD_FEATURES]);
    for (method, path, status, kind) in [
        ("GET", "/nope", 404, "not_found"),
        ("POST", "/v1/transforms/", 404, "not_found"),
        (
            "GET",
            "/v1/transforms/fraud-features",
            405,
            "method_not_allowed",
        ),
        ("POST", "/healthz", 405, "method_not_allowed"),
    ] {
        let (got, text) = server.request(method, path, "");
        let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(
            (got, body["error"]["kind"].as_str()),
            (status, Some(kind)),
            "{method} {path}: {body}"
        );
        assert!(
            body["error"]["message"].as_str().unwrap().contains(path),
            "{method} {path}: {body}"
        );
    }
}

#[test]
fn hostile_requests_fail_while_concurrent_good_requests_succeed() {
    let little_fuel = Runtime::new(Config::default().fuel_per_row(5_000_000)).unwrap();
    let little_memory = Runtime::new(Config::default().memory_limit(32 << 20)).unwrap();
    let server = TestServer::start(
        vec![
            little_fuel.load(artifacts::INFINITE_LOOP).unwrap(),
            load(artifacts::FRAUD_FEATURES),
            little_memory.load(artifacts::MEMORY_HOG).unwrap(),
        ],
        ServeConfig::default(),
    );
    let good = r#"{"rows": [{"amount": 12.5, "hour": 3, "merchant_category": "travel"}]}"#;
    let addr = server.addr;
    std::thread::scope(|scope| {
        let clients: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(move || {
                    (0..40)
                        .map(|_| http(addr, "POST", "/v1/transforms/fraud-features", good).0)
                        .collect::<Vec<u16>>()
                })
            })
            .collect();
        for _ in 0..5 {
            let (status, body) = http(
                addr,
                "POST",
                "/v1/transforms/infinite-loop",
                r#"{"rows": [{"x": 1}]}"#,
            );
            assert_eq!(status, 422, "{body}");
            assert!(body.contains("\"kind\":\"fuel_exhausted\""), "{body}");
            // The limit is the operator's, named as they set it.
            assert!(
                body.contains("raise `fuel_per_row` (the server's `--fuel-per-row`)"),
                "{body}"
            );
            let (status, body) = http(
                addr,
                "POST",
                "/v1/transforms/memory-hog",
                r#"{"rows": [{"megabytes": -1}]}"#,
            );
            assert_eq!(status, 422, "{body}");
            assert!(body.contains("\"kind\":\"memory_limit\""), "{body}");
        }
        for client in clients {
            assert!(client.join().unwrap().iter().all(|&s| s == 200));
        }
    });
    assert_eq!(server.post("fraud-features", good).0, 200);
}

/// A server of `burn` that has answered quick calls of it, so that its
/// next small calls run in place.
fn quick_burn_server() -> TestServer {
    let runtime = Runtime::new(Config::default().fuel_per_row(1 << 40)).unwrap();
    let server = TestServer::start(
        vec![runtime.load(artifacts::BURN).unwrap()],
        ServeConfig::default(),
    );
    for _ in 0..3 {
        assert_eq!(server.post("burn", r#"{"rows": [{"units": 1}]}"#).0, 200);
    }
    server
}

/// A call in place whose rows turn out slow leaves the server answering:
/// tokio leaves nobody waiting on the sockets while the worker that was
/// runs a task, and the server's watch of calls in place wakes another.
#[test]
fn a_call_that_turns_slow_in_place_leaves_the_server_answering() {
    let server = quick_burn_server();
    // Idle now: one worker waits on the sockets, the other on its own (and
    // the server's watch of calls in place has gone to sleep). The slow
    // call is taken by the worker that waits on the sockets.
    std::thread::sleep(Duration::from_millis(1500));
    let addr = server.addr;
    let slow = r#"{"rows": [{"units": 3000000000}]}"#;
    let call = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        // The connection is taken first and the request sent after: then
        // it is the wait on the sockets that wakes a worker for it.
        std::thread::sleep(Duration::from_millis(100));
        write!(
            stream,
            "POST /v1/transforms/burn HTTP/1.1\r\nHost: {addr}\r\nContent-Type: \
             application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{slow}",
            slow.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    });
    std::thread::sleep(Duration::from_millis(300));
    let (status, _) = http(addr, "GET", "/healthz", "");
    assert_eq!(status, 200);
    let finished = call.is_finished();
    let response = call.join().unwrap();
    assert!(
        !finished,
        "/healthz answered only once the slow call had finished: it answered {response}"
    );
    assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
}

/// Small calls of a transform that has been quick run in place on the
/// server's async workers, but never on all of them: two requests that
/// turn out slow at once leave a worker to answer `/healthz` while they
/// run, and both still answer.
#[test]
fn calls_that_turn_slow_cannot_take_every_worker() {
    let server = quick_burn_server();
    let addr = server.addr;
    // Seconds of work each (a few instructions an iteration).
    let slow = r#"{"rows": [{"units": 3000000000}]}"#;
    let calls: Vec<_> = (0..2)
        .map(|_| std::thread::spawn(move || http(addr, "POST", "/v1/transforms/burn", slow)))
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let (status, _) = http(addr, "GET", "/healthz", "");
    assert_eq!(status, 200);
    let finished: Vec<bool> = calls.iter().map(|call| call.is_finished()).collect();
    let answers: Vec<(u16, String)> = calls.into_iter().map(|c| c.join().unwrap()).collect();
    // Said with the slow calls' answers, so that a failure tells a call
    // that ended early (refused, say) from a worker that was taken.
    assert!(
        !finished.contains(&true),
        "/healthz answered only once a slow call had finished: finished {finished:?}, \
         answers {answers:?}"
    );
    for (status, body) in answers {
        assert_eq!(status, 200, "{body}");
    }
}

/// Starts `skewless serve` and returns it with its address, read from the
/// line it prints when listening.
fn spawn_cli(args: &[&str]) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_skewless"))
        .arg("serve")
        .args(args)
        .args(["--addr", "127.0.0.1:0", "--no-cache"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("the server printed its address")
            .unwrap();
        if let Some(addr) = line.strip_prefix("listening on http://") {
            break addr.to_string();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    (child, addr)
}

#[test]
fn serve_refuses_to_start_when_a_pin_does_not_match() {
    let transform = load(artifacts::FRAUD_FEATURES);
    let wrong = format!("fraud-features={}", "ab".repeat(32));
    let output = Command::new(env!("CARGO_BIN_EXE_skewless"))
        .args([
            "serve",
            artifacts::FRAUD_FEATURES,
            "--expect",
            &wrong,
            "--no-cache",
            "--addr",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        stderr.trim_end(),
        format!(
            "error: refusing to serve (`--expect fraud-features=...`): transform `fraud-features` \
             from `{}` has sha256 {}, but it is pinned to {}; use the component the model was \
             trained with",
            artifacts::FRAUD_FEATURES,
            transform.sha256(),
            "ab".repeat(32)
        )
    );
    let unknown = Command::new(env!("CARGO_BIN_EXE_skewless"))
        .args([
            "serve",
            artifacts::FRAUD_FEATURES,
            "--expect",
            &format!("fraud={}", transform.sha256()),
            "--no-cache",
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8(unknown.stderr).unwrap().contains(
            "`--expect fraud=...`): the pin names transform `fraud`, which is not loaded"
        )
    );

    // The right pin starts.
    let (mut child, addr) = spawn_cli(&[
        artifacts::FRAUD_FEATURES,
        "--expect",
        &format!("fraud-features={}", transform.sha256()),
    ]);
    let (status, _) = http(addr.parse().unwrap(), "GET", "/healthz", "");
    assert_eq!(status, 200);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn sigterm_lets_requests_in_flight_finish() {
    // A row that takes a moment: the slow row with a budget big enough.
    let (mut child, addr) = spawn_cli(&[
        artifacts::SLOW_ROW,
        "--fuel-per-row",
        "100000000000",
        "--deadline-ms",
        "60000",
    ]);
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    let in_flight = std::thread::spawn(move || {
        http(
            addr,
            "POST",
            "/v1/transforms/slow-row",
            r#"{"rows": [{"x": 13}]}"#,
        )
    });
    std::thread::sleep(Duration::from_millis(150));
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let (status, body) = in_flight.join().unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"rows\":[{\"y\":"), "{body}");
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    // And nothing listens any more.
    assert!(std::net::TcpStream::connect(addr).is_err());
}

/// A body with a UTF-8 byte order mark in front (PowerShell's
/// `Invoke-RestMethod`, Notepad files sent with `curl -d @file`) is the
/// JSON after it; a compressed body is refused with what to do, not
/// reported as invalid JSON.
#[test]
fn a_byte_order_mark_is_dropped_and_a_compressed_body_refused() {
    let server = TestServer::start(
        vec![load(artifacts::FRAUD_FEATURES)],
        ServeConfig::default(),
    );
    let body = r#"{"rows": [{"amount": 12.5, "hour": 3, "merchant_category": "travel"}]}"#;
    let (status, plain) = server.post("fraud-features", body);
    assert_eq!(status, 200, "{plain}");
    let (status, marked) = server.post("fraud-features", &format!("\u{feff}{body}"));
    assert_eq!(status, 200, "{marked}");
    assert_eq!(marked, plain);
    let request = format!(
        "POST /v1/transforms/fraud-features HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (status, answer) = http_raw(server.addr, request.as_bytes());
    assert_eq!(status, 415, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["error"]["kind"], "unsupported_encoding");
    assert_eq!(
        answer["error"]["message"],
        "the request body is `gzip`-encoded; this server reads bodies as they are: send it \
         without `Content-Encoding`"
    );
}

/// More rows than the server takes in one request: 413, with the limit
/// and the flag that sets it; nothing is computed.
#[test]
fn too_many_rows_are_refused_with_the_flag_that_sets_the_limit() {
    let server = TestServer::start(
        vec![load(artifacts::FRAUD_FEATURES)],
        ServeConfig::default().max_rows(2),
    );
    let row = r#"{"amount": 12.5, "hour": 3, "merchant_category": "travel"}"#;
    let (status, answer) = server.post("fraud-features", &format!(r#"{{"rows": [{row}, {row}]}}"#));
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = server.post(
        "fraud-features",
        &format!(r#"{{"rows": [{row}, {row}, {row}]}}"#),
    );
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["error"]["kind"], "too_many_rows");
    assert_eq!(
        answer["error"]["message"],
        "3 rows in one request; the limit is 2 (the server's `--max-rows`)"
    );
}

/// A client that claims a huge body, or sends its body too slowly, is
/// answered without waiting for it; and one still sending cannot keep the
/// server from stopping.
#[test]
fn slow_and_oversized_bodies_cannot_hold_the_server() {
    let request = |length: u64, body: &str| {
        format!(
            "POST /v1/transforms/fraud-features HTTP/1.1\r\nHost: x\r\n\
             Content-Length: {length}\r\nConnection: close\r\n\r\n{body}"
        )
    };
    let server = TestServer::start(
        vec![load(artifacts::FRAUD_FEATURES)],
        ServeConfig::default().body_timeout(Duration::from_millis(300)),
    );
    // Refused on its Content-Length, before any of it is sent.
    let (status, body) = http_raw(server.addr, request(1 << 40, "").as_bytes());
    assert_eq!(status, 413, "{body}");
    // Ten bytes of a promised hundred, then nothing.
    let (status, body) = http_raw(server.addr, request(100, "{\"rows\": [").as_bytes());
    assert_eq!(status, 408, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["error"]["kind"], "body_timeout");
    assert_eq!(
        answer["error"]["message"],
        "the request body did not arrive within 0.3 s"
    );

    // Shutting down while a client is still sending: the server waits
    // `drain_timeout` for it, then stops anyway.
    let server = TestServer::start(
        vec![load(artifacts::FRAUD_FEATURES)],
        ServeConfig::default()
            .body_timeout(Duration::from_secs(3600))
            .drain_timeout(Duration::from_millis(300)),
    );
    let mut stalled = std::net::TcpStream::connect(server.addr).unwrap();
    std::io::Write::write_all(&mut stalled, request(100, "{\"rows\": [").as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let (stopped, stop) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(server);
        stopped.send(()).unwrap();
    });
    assert!(
        stop.recv_timeout(Duration::from_secs(60)).is_ok(),
        "the server did not stop while a client was still sending"
    );
    drop(stalled);
}

/// A request with a body does not make its connection's task wake itself.
/// hyper 1.12's server woke a request's own connection task as the handler
/// took the body, after the body's sender was gone; on tokio's multi-thread
/// runtime that woke a second worker for nothing, on every such request
/// (`vendor/README.md`, hyper). One connection is driven by hand here, on
/// the test's thread, and every wake of its task that comes from inside its
/// own poll is counted: none is needed, as everything a one-row request
/// waits for (the call, on the blocking pool) wakes it from another thread.
#[test]
fn a_request_body_does_not_wake_its_own_connection() {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Wake, Waker};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    thread_local! {
        /// Whether this thread is inside the connection's poll.
        static POLLING: Cell<bool> = const { Cell::new(false) };
    }
    /// The task's waker, counting the wakes made from inside its poll.
    struct Counting {
        task: Mutex<Waker>,
        from_own_poll: AtomicUsize,
    }
    impl Wake for Counting {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            if POLLING.get() {
                self.from_own_poll.fetch_add(1, Ordering::SeqCst);
            }
            self.task.lock().unwrap().wake_by_ref();
        }
    }

    let server = Arc::new(
        skewless::serve::Server::new(
            vec![load(artifacts::FRAUD_FEATURES)],
            ServeConfig::default(),
        )
        .unwrap(),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (answer, from_own_poll) = runtime.block_on(async move {
        let body = r#"{"rows": [{"amount": 12.5, "hour": 3, "merchant_category": "travel"}]}"#;
        let (mut client, io) = tokio::io::duplex(1 << 16);
        client
            .write_all(
                format!(
                    "POST /v1/transforms/fraud-features HTTP/1.1\r\nhost: test\r\n\
                     content-type: application/json\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            )
            .await
            .unwrap();
        let connection = hyper::server::conn::http1::Builder::new().serve_connection(
            hyper_util::rt::TokioIo::new(io),
            hyper_util::service::TowerToHyperService::new(server.router()),
        );
        let mut connection = std::pin::pin!(connection);
        let counting = Arc::new(Counting {
            task: Mutex::new(Waker::noop().clone()),
            from_own_poll: AtomicUsize::new(0),
        });
        let waker = Waker::from(counting.clone());
        std::future::poll_fn(|cx| {
            *counting.task.lock().unwrap() = cx.waker().clone();
            POLLING.set(true);
            let polled = connection.as_mut().poll(&mut Context::from_waker(&waker));
            POLLING.set(false);
            polled.map(|result| result.expect("the connection failed"))
        })
        .await;
        let mut answer = String::new();
        client.read_to_string(&mut answer).await.unwrap();
        (answer, counting.from_own_poll.load(Ordering::SeqCst))
    });
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#""category_risk":0.7"#), "{answer}");
    assert_eq!(
        from_own_poll, 0,
        "the connection's task woke itself {from_own_poll} time(s) while it ran, \
         each a thread wake-up on a multi-thread runtime (vendor/README.md, hyper)"
    );
}
