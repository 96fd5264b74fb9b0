//! Aggregations online: events posted to `skewless serve` and features
//! asked of its live state give, bit for bit, what the backfill gives for
//! the same spine; in memory, in a state directory, and across a `kill -9`
//! and a restart. Duplicated event ids and late events follow the rules.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use skewless::io::{ColumnRequest, Reader};
use skewless::online::{Online, StateOptions};
use skewless::serve::ServeConfig;
use skewless_test_artifacts as artifacts;

use crate::support::{RedisServer, TestServer, http, load};

fn example(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/card-velocity/data")
        .join(file)
}

/// The rows of `path` (its `fields`, typed) as JSON objects, as a client
/// would send them.
fn json_rows(path: &Path, fields: &[skewless::Field]) -> Vec<String> {
    let requests: Vec<ColumnRequest> = fields
        .iter()
        .map(|f| ColumnRequest {
            name: f.name.clone(),
            data_type: Some(f.data_type),
        })
        .collect();
    let mut rows = Vec::new();
    for batch in Reader::open(path, Some(&requests), 1000, Default::default()).unwrap() {
        rows.extend(skewless::codec::json::encode_rows(&batch.unwrap()));
    }
    rows
}

/// Field `name` of a JSON row, as text (RFC 3339 times in UTC with
/// microseconds, as the codec writes them, order as their times).
fn field(row: &str, name: &str) -> String {
    let value: Value = serde_json::from_str(row).unwrap();
    value[name].as_str().unwrap().to_string()
}

fn body(rows: &[String]) -> String {
    format!("{{\"rows\":[{}]}}", rows.join(","))
}

/// What `skewless run --events` writes for the card-velocity example's
/// spine, row by row.
fn backfill_rows(component: &str) -> Vec<Value> {
    let dir = tempfile::TempDir::new().unwrap();
    let out = dir.path().join("features.jsonl");
    let status = Command::new(env!("CARGO_BIN_EXE_skewless"))
        .arg("run")
        .arg(component)
        .arg("--events")
        .arg(example("events.csv"))
        .arg("--input")
        .arg(example("spine.csv"))
        .arg("--output")
        .arg(&out)
        .arg("--quiet")
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The events (in time order: the example declares no lateness, so an
/// event behind its card's newest would be late) and the spine's rows as
/// requests, for the card-velocity example.
fn card_velocity_data(transform: &skewless::Transform) -> (Vec<String>, Vec<String>) {
    let aggregation = transform.info().aggregation.clone().unwrap();
    let mut events = json_rows(&example("events.csv"), &aggregation.event_columns());
    events.sort_by_key(|row| field(row, "ts"));
    let spine = json_rows(&example("spine.csv"), &transform.info().spine_inputs());
    (events, spine)
}

/// Posts the events in requests of `chunk`, each acknowledged.
fn post_events(addr: std::net::SocketAddr, name: &str, events: &[String], chunk: usize) {
    for rows in events.chunks(chunk) {
        let (status, text) = http(addr, "POST", &format!("/v1/events/{name}"), &body(rows));
        assert_eq!(status, 200, "{text}");
        let answer: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(answer["applied"], rows.len(), "{text}");
    }
}

/// Asks the features of every spine row, in requests of 100.
fn ask(addr: std::net::SocketAddr, name: &str, spine: &[String]) -> Vec<Value> {
    let mut rows = Vec::new();
    for chunk in spine.chunks(100) {
        let (status, text) = http(
            addr,
            "POST",
            &format!("/v1/transforms/{name}"),
            &body(chunk),
        );
        assert_eq!(status, 200, "{text}");
        let answer: Value = serde_json::from_str(&text).unwrap();
        rows.extend(answer["rows"].as_array().unwrap().iter().cloned());
    }
    rows
}

fn assert_same(served: &[Value], backfill: &[Value]) {
    assert_eq!(served.len(), backfill.len());
    for (row, (served, backfill)) in served.iter().zip(backfill).enumerate() {
        // The backfill's rows carry no input columns here; compare every
        // feature, whose JSON text is exact (shortest round-trip floats).
        for (name, value) in backfill.as_object().unwrap() {
            assert_eq!(&served[name], value, "row {row}, feature `{name}`");
        }
    }
}

/// The spine asked of a server fed the events file (card by card, not in
/// time order: only each card's own order across requests matters, for
/// lateness; each request newest first, as a request's events are taken
/// in time order) gives the backfill's features, by bits, with the state
/// in memory and in a directory.
#[test]
fn served_aggregates_equal_the_backfill() {
    let transform = load(artifacts::CARD_VELOCITY);
    let (mut events, spine) = card_velocity_data(&transform);
    events.sort_by_key(|row| field(row, "card_id"));
    let events: Vec<String> = events
        .chunks(500)
        .flat_map(|rows| rows.iter().rev().cloned())
        .collect();
    let backfill = backfill_rows(artifacts::CARD_VELOCITY);
    let dir = tempfile::TempDir::new().unwrap();
    // The spine's times go back weeks before the newest event.
    let lag = Duration::from_secs(60 * 86_400);
    for state in [
        StateOptions::default().query_lag(lag),
        StateOptions::default().query_lag(lag).dir(dir.path()),
    ] {
        let server =
            TestServer::start(vec![transform.clone()], ServeConfig::default().state(state));
        post_events(server.addr, "card-velocity", &events, 500);
        let served = ask(server.addr, "card-velocity", &spine);
        assert_same(&served, &backfill);
    }
    assert!(
        dir.path()
            .join("card-velocity")
            .join("events.redb")
            .is_file()
    );
}

/// Production's order: each request asked when the events before its time
/// have arrived, with the default query lag, gives the backfill's answer.
#[test]
fn a_replay_in_time_order_equals_the_backfill() {
    let transform = load(artifacts::CARD_VELOCITY);
    let (events, spine) = card_velocity_data(&transform);
    let backfill = backfill_rows(artifacts::CARD_VELOCITY);
    let time = |row: &String| field(row, "ts");
    let events: Vec<(String, String)> = events.into_iter().map(|e| (time(&e), e)).collect();
    let mut order: Vec<usize> = (0..spine.len()).collect();
    order.sort_by_key(|&i| time(&spine[i]));
    let online = Online::open(&transform, &StateOptions::default()).unwrap();
    let mut served = vec![Value::Null; spine.len()];
    let mut next = 0;
    for i in order {
        let t = time(&spine[i]);
        let upto = next + events[next..].partition_point(|(et, _)| *et < t);
        if upto > next {
            let batch: Vec<Value> = events[next..upto]
                .iter()
                .map(|(_, e)| serde_json::from_str(e).unwrap())
                .collect();
            let ingested = online.ingest_json_values(&batch).unwrap();
            assert_eq!(ingested.applied, batch.len() as u64);
            next = upto;
        }
        let request: Value = serde_json::from_str(&spine[i]).unwrap();
        let answered = online.features_json_values(&[request]).unwrap();
        served[i] = serde_json::from_str(&answered.rows[0]).unwrap();
    }
    assert_same(&served, &backfill);
    // Events before the horizon (the newest less an hour, less 7 days)
    // are forgotten as the replay goes.
    let stats = online.stats();
    assert!(stats.events < 4_000, "{stats:?}");
    assert_eq!(stats.applied, 4_000);
}

/// A request without a time is answered as of the server's clock, which
/// the answer says; one older than the state answers for is refused,
/// naming the row and the times.
#[test]
fn requests_as_of_now_and_too_old() {
    let transform = load(artifacts::PAYMENTS);
    let server = TestServer::start(vec![transform], ServeConfig::default());
    let now = chrono::Utc::now();
    let at = |ago: i64| {
        (now - chrono::Duration::seconds(ago)).to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    };
    let events = [
        format!(
            r#"{{"user": "u1", "ts": "{}", "id": "a", "amount": 1.5}}"#,
            at(120)
        ),
        format!(
            r#"{{"user": "u1", "ts": "{}", "id": "b", "amount": 2.0}}"#,
            at(7200)
        ),
    ];
    let (status, text) = http(
        server.addr,
        "POST",
        "/v1/events/payments",
        &body(&events[..1]),
    );
    assert_eq!(status, 200, "{text}");
    let (status, text) = http(
        server.addr,
        "POST",
        "/v1/events/payments",
        &body(&events[1..]),
    );
    assert_eq!(status, 200, "{text}");
    // Two hours behind u1's newest (of an earlier request), with ten
    // minutes' lateness: late.
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["late"], serde_json::json!([0]), "{text}");
    let (status, answer) = server.post("payments", r#"{"rows": [{"user": "u1"}]}"#);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["rows"][0]["payments_1h"], 1);
    assert_eq!(answer["rows"][0]["amount_1h"], 1.5);
    let as_of = chrono::DateTime::parse_from_rfc3339(answer["as_of"].as_str().unwrap()).unwrap();
    assert!((as_of.timestamp() - now.timestamp()).abs() < 60, "{answer}");
    let (status, answer) = server.post(
        "payments",
        &format!(r#"{{"rows": [{{"user": "u1", "ts": "{}"}}]}}"#, at(86_400)),
    );
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["row"], 0);
    assert_eq!(answer["error"]["field"], "ts");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("answers as of"), "{message}");
    // Per-row errors would answer from request columns, not the state.
    let (status, answer) = server.post(
        "payments",
        r#"{"rows": [{"user": "u1"}], "per_row_errors": true}"#,
    );
    assert_eq!(status, 400, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("declares aggregations"), "{message}");
    // A field the transform does not take is no reason to refuse a request
    // as of now; a time under another name is: as of now would count the
    // events after the time meant.
    let (status, answer) = server.post(
        "payments",
        r#"{"rows": [{"user": "u1", "request_id": "r-17"}]}"#,
    );
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = server.post(
        "payments",
        &format!(
            r#"{{"rows": [{{"user": "u1", "request_id": "r-17", "event_time": "{}"}}]}}"#,
            at(600)
        ),
    );
    assert_eq!(status, 400, "{answer}");
    assert_eq!(
        answer["error"]["message"],
        "row 0: missing field `ts` (timestamp-micros); without it the row is answered as of now, but \
         it has `event_time`, a time, which transform `payments` does not take: name that field \
         `ts`, or leave it out to be answered as of now",
        "{answer}"
    );
    // An event that lacks a value is told so, not taken for a request
    // (its key and time are a request's too: the same names).
    let (status, text) = http(
        server.addr,
        "POST",
        "/v1/events/payments",
        &format!(
            r#"{{"rows": [{{"user": "u1", "ts": "{}", "id": "e1"}}]}}"#,
            at(600)
        ),
    );
    assert_eq!(status, 400, "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        answer["error"]["message"], "row 0: missing field `amount` (float64)",
        "{answer}"
    );
    // An id of another type than declared is told where the type is said.
    let (status, text) = http(
        server.addr,
        "POST",
        "/v1/events/payments",
        &format!(
            r#"{{"rows": [{{"user": "u1", "ts": "{}", "id": 12, "amount": 1.0}}]}}"#,
            at(600)
        ),
    );
    assert_eq!(status, 400, "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.ends_with(
            "; it is the events' id, whose type is declared with the events (`event_id = \"id: \
             int64\"`; utf8 when not said): send the type declared, or declare the type the ids \
             have"
        ),
        "{message}"
    );
}

/// A features request sent as an event (posted to `/v1/events/NAME`, or
/// ingested) is told where it belongs: it has the request's time, which no
/// event has, and lacks the event's.
#[test]
fn a_request_sent_as_an_event_is_told_where_it_belongs() {
    let online = Online::open(&load(artifacts::BASKET), &StateOptions::default()).unwrap();
    let error = online
        .ingest_json_values(&[serde_json::json!({"user": "u1", "at": "2026-03-01T09:00:00Z"})])
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "row 0: missing field `ts` (timestamp-micros); the row has the columns of a features \
         request (`user`, `at`): ask for its features (POST /v1/transforms/basket, or `features` \
         when embedded), and send events, with their `ts`, here"
    );
    // An event is not mistaken for one.
    let error = online
        .ingest_json_values(&[serde_json::json!({"user": "u1", "ts": "2026-03-01T09:00:00Z"})])
        .unwrap_err();
    assert_eq!(error.to_string(), "row 0: missing field `units` (int64)");
}

/// The same for requests as Arrow data: a timestamp column under another
/// name than the time is refused, not answered as of now.
#[test]
fn arrow_requests_with_the_time_misnamed_are_refused() {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, RecordBatch, StringArray, TimestampMicrosecondArray};

    let online = Online::open(&load(artifacts::PAYMENTS), &StateOptions::default()).unwrap();
    let user: ArrayRef = Arc::new(StringArray::from(vec!["u1"]));
    let time: ArrayRef = Arc::new(
        TimestampMicrosecondArray::from(vec![chrono::Utc::now().timestamp_micros()])
            .with_timezone("UTC"),
    );
    let misnamed = RecordBatch::try_from_iter([("user", user.clone()), ("event_time", time)]);
    let error = online.features(&misnamed.unwrap()).unwrap_err().to_string();
    assert!(
        error.contains(
            "the requests have no column `ts`, so they would be answered as of now, but they \
             have `event_time`, a time, which transform `payments` does not take"
        ),
        "{error}"
    );
    let without = RecordBatch::try_from_iter([("user", user)]).unwrap();
    assert_eq!(online.features(&without).unwrap().0.num_rows(), 1);
}

/// An event further ahead of the server's clock than the lateness and the
/// query lag would leave the state unable to answer as of now, and expire
/// what such answers need: its whole batch is refused, naming the row, and
/// the state is as before. An event less far ahead (a producer's clock a
/// little fast) is taken. A query as of a time that far ahead is refused
/// too: it would be answered from none of the events up to it.
#[test]
fn an_event_or_a_query_too_far_ahead_of_the_clock_is_refused() {
    let payments = load(artifacts::PAYMENTS);
    let online = Online::open(&payments, &StateOptions::default()).unwrap();
    let now = chrono::Utc::now();
    let event = |user: &str, seconds_from_now: i64, id: &str| -> Value {
        let time = (now + chrono::Duration::seconds(seconds_from_now))
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        serde_json::from_str(&format!(
            r#"{{"user": "{user}", "ts": "{time}", "id": "{id}", "amount": 1.0}}"#
        ))
        .unwrap()
    };
    online
        .ingest_json_values(&[event("u1", -120, "a")])
        .unwrap();
    // The lateness (10 minutes) and the query lag (1 hour) ahead, and more.
    let error = online
        .ingest_json_values(&[event("u2", -60, "b"), event("u3", 4 * 3600, "c")])
        .unwrap_err();
    assert!(
        matches!(&error, skewless::Error::InvalidValue { column, row: 1, .. } if column == "ts"),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("is more than 1h 10m (the lateness and the query lag) ahead"),
        "{message}"
    );
    assert!(
        message.contains("Nothing of this batch was applied"),
        "{message}"
    );
    assert_eq!(online.stats().events, 1);
    let asked: Value = serde_json::from_str(r#"{"user": "u1"}"#).unwrap();
    let answered = online
        .features_json_values(std::slice::from_ref(&asked))
        .unwrap();
    let row: Value = serde_json::from_str(&answered.rows[0]).unwrap();
    assert_eq!(row["payments_1h"], 1);
    // Half an hour ahead is within the lag: taken, and now is still answered.
    let taken = online
        .ingest_json_values(&[event("u2", 1800, "d")])
        .unwrap();
    assert_eq!(taken.applied, 1);
    assert!(online.features_json_values(&[asked]).is_ok());

    // A query that far ahead (a mistyped year) is refused, naming the row;
    // one within the bound is answered.
    let query = |seconds_from_now: i64| -> Value {
        let time = (now + chrono::Duration::seconds(seconds_from_now))
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        serde_json::from_str(&format!(r#"{{"user": "u1", "ts": "{time}"}}"#)).unwrap()
    };
    let error = online
        .features_json_values(&[query(0), query(365 * 86_400)])
        .unwrap_err();
    assert!(
        matches!(&error, skewless::Error::InvalidValue { column, row: 1, .. } if column == "ts"),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains(
            "is more than 1h 10m (the lateness and the query lag) ahead of this \
                          server's clock"
        ),
        "{message}"
    );
    assert!(online.features_json_values(&[query(1800)]).is_ok());
}

/// A state expired under a short query lag and reopened with a longer one
/// refuses the times whose events it no longer holds, rather than
/// answering short.
#[test]
fn a_longer_lag_after_expiry_does_not_answer_short() {
    let dir = tempfile::TempDir::new().unwrap();
    let payments = load(artifacts::PAYMENTS);
    let event = |user: &str, day: u32, id: &str| -> Value {
        serde_json::from_str(&format!(
            r#"{{"user": "{user}", "ts": "2026-03-{day:02}T10:00:00Z", "id": "{id}", "amount": 1.0}}"#
        ))
        .unwrap()
    };
    {
        let short = StateOptions::default().dir(dir.path());
        let online = Online::open(&payments, &short).unwrap();
        online.ingest_json_values(&[event("u1", 1, "a")]).unwrap();
        // Five days later: the first event is past the 1h lag and window.
        online.ingest_json_values(&[event("u1", 6, "b")]).unwrap();
        assert_eq!(online.stats().events, 1);
    }
    let long = StateOptions::default()
        .dir(dir.path())
        .query_lag(Duration::from_secs(30 * 86_400));
    let online = Online::open(&payments, &long).unwrap();
    let ask = |time: &str| {
        let request: Value =
            serde_json::from_str(&format!(r#"{{"user": "u1", "ts": "{time}"}}"#)).unwrap();
        online.features_json_values(&[request])
    };
    let error = ask("2026-03-01T10:30:00Z").unwrap_err().to_string();
    assert!(error.contains("answers as of"), "{error}");
    let answered = ask("2026-03-06T10:30:00Z").unwrap();
    let row: Value = serde_json::from_str(&answered.rows[0]).unwrap();
    assert_eq!(row["payments_1h"], 1);
    // An event from before the expiry mark (of a user with no newer one,
    // so not late) is dropped as expired.
    let ingested = online.ingest_json_values(&[event("u2", 2, "c")]).unwrap();
    assert_eq!(ingested.expired, vec![0]);
}

/// An event id is applied once per key however often it is sent (in one
/// request or across requests); an event more than the declared lateness
/// (10 minutes) behind its key's newest that arrived before it is dropped
/// and named, while a request's own events are taken in time order; the
/// counts are in /metrics.
#[test]
fn duplicates_and_late_events() {
    let transform = load(artifacts::PAYMENTS);
    let server = TestServer::start(vec![transform], ServeConfig::default());
    let event = |user: &str, time: &str, id: &str, amount: f64| {
        format!(
            r#"{{"user": "{user}", "ts": "2026-03-01T{time}Z", "id": "{id}", "amount": {amount}}}"#
        )
    };
    let first = [
        event("u1", "10:00:00", "a", 1.0),
        event("u1", "10:05:00", "b", 2.0),
        event("u1", "10:05:00", "b", 2.0),
        // The same id of another user is another event.
        event("u2", "10:05:00", "b", 4.0),
    ];
    let (status, text) = http(server.addr, "POST", "/v1/events/payments", &body(&first));
    assert_eq!(status, 200, "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["applied"], 3, "{text}");
    assert_eq!(answer["duplicates"], serde_json::json!([2]), "{text}");
    let second = [
        // A retry of the whole first request.
        event("u1", "10:00:00", "a", 1.0),
        event("u1", "10:30:00", "c", 8.0),
        // 25 minutes behind 10:30, but it arrived with it: a request's
        // events are taken in time order, as a backfill takes them.
        event("u1", "10:05:00", "d", 16.0),
        event("u1", "10:21:00", "e", 32.0),
    ];
    let (status, text) = http(server.addr, "POST", "/v1/events/payments", &body(&second));
    assert_eq!(status, 200, "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["applied"], 3, "{text}");
    assert_eq!(answer["duplicates"], serde_json::json!([0]), "{text}");
    assert_eq!(answer["late"], serde_json::json!([]), "{text}");
    let third = [
        // 9 minutes behind u1's newest (10:30), which arrived before: on time.
        event("u1", "10:21:30", "f", 64.0),
        // 15 minutes behind it: late.
        event("u1", "10:15:00", "g", 128.0),
    ];
    let (status, text) = http(server.addr, "POST", "/v1/events/payments", &body(&third));
    assert_eq!(status, 200, "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["applied"], 1, "{text}");
    assert_eq!(answer["late"], serde_json::json!([1]), "{text}");
    let (status, answer) = server.post(
        "payments",
        r#"{"rows": [{"user": "u1", "ts": "2026-03-01T10:40:00Z"}]}"#,
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["rows"][0]["payments_1h"], 6);
    assert_eq!(answer["rows"][0]["amount_1h"], 123.0);
    let (_, metrics) = server.request("GET", "/metrics", "");
    for line in [
        r#"skewless_events_total{transform="payments",fate="applied"} 7"#,
        r#"skewless_events_total{transform="payments",fate="duplicate"} 2"#,
        r#"skewless_events_total{transform="payments",fate="late"} 1"#,
        r#"skewless_state_events{transform="payments"} 7"#,
    ] {
        assert!(metrics.contains(line), "{line} not in:\n{metrics}");
    }
}

/// A producer pins the component its events are computed with: a
/// mismatch is 409 and applies nothing; the right sha256 is taken, and a
/// misspelt key is refused rather than ignored.
#[test]
fn events_can_carry_the_pin() {
    let transform = load(artifacts::PAYMENTS);
    let sha256 = transform.sha256().to_string();
    let server = TestServer::start(vec![transform], ServeConfig::default());
    let event = r#"{"user": "u1", "ts": "2026-03-01T10:00:00Z", "id": "a", "amount": 1.0}"#;
    let post = |pin: &str| {
        let body = format!(r#"{{"rows": [{event}], {pin}}}"#);
        http(server.addr, "POST", "/v1/events/payments", &body)
    };
    let (status, text) = post(&format!(r#""expect_sha256": "{}""#, "0".repeat(64)));
    assert_eq!(status, 409, "{text}");
    assert!(text.contains("sha256_mismatch"), "{text}");
    let (status, text) = post(r#""expect_sha": "x""#);
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("expect_sha256"), "{text}");
    let (status, text) = post(&format!(r#""expect_sha256": "{sha256}""#));
    assert_eq!(status, 200, "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["applied"], 1, "{text}");
}

/// A state directory made by one component is refused by another, which
/// is told how to carry the events over: exported rows, `_arrival` and
/// all, are events another state takes as they are.
#[test]
fn a_state_is_refused_by_another_component() {
    let dir = tempfile::TempDir::new().unwrap();
    let payments = load(artifacts::PAYMENTS);
    let old = Online::open(&payments, &StateOptions::default().dir(dir.path())).unwrap();
    let now = chrono::Utc::now();
    let events: Vec<Value> = (0..3)
        .map(|i| {
            serde_json::json!({"user": "u1", "id": format!("e{i}"), "amount": 1.5 + f64::from(i),
                "ts": (now - chrono::Duration::minutes(30 - i64::from(i)))
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)})
        })
        .collect();
    old.ingest_json_values(&events).unwrap();
    let mut exported = Vec::new();
    assert_eq!(old.export_to(&mut exported, None).unwrap(), 3);
    let request = serde_json::json!({"user": "u1"});
    let before = old
        .features_json_values(std::slice::from_ref(&request))
        .unwrap()
        .rows;
    drop(old);
    // Each transform's state is in a directory named after it, as `serve`
    // keeps it: another transform's opens beside it ...
    let card = load(artifacts::CARD_VELOCITY);
    let states = StateOptions::default().dir(dir.path());
    drop(Online::open(&card, &states).unwrap());
    assert!(dir.path().join("payments/events.redb").is_file());
    assert!(dir.path().join("card-velocity/events.redb").is_file());
    // ... and a state under its name made by another component (a
    // rebuild, say) is refused.
    std::fs::rename(
        dir.path().join("payments/events.redb"),
        dir.path().join("card-velocity/events.redb"),
    )
    .unwrap();
    let error = Online::open(&card, &states).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("events.redb"), "{message}");
    assert!(message.contains(payments.sha256()), "{message}");
    assert!(
        message.contains(
            "state directory of its own (to carry the events over, export them with the \
             component that made it"
        ),
        "{message}"
    );
    // A journal directly in the directory (an earlier layout) is refused,
    // not left beside a new, empty state.
    let flat = tempfile::TempDir::new().unwrap();
    std::fs::rename(
        dir.path().join("card-velocity/events.redb"),
        flat.path().join("events.redb"),
    )
    .unwrap();
    let error = Online::open(&payments, &StateOptions::default().dir(flat.path())).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("move it there"), "{message}");
    assert!(!flat.path().join("payments").exists(), "{message}");
    let carried = Online::open(&payments, &StateOptions::default()).unwrap();
    let rows: Vec<Value> = String::from_utf8(exported)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(carried.ingest_json_values(&rows).unwrap().applied, 3);
    assert_eq!(
        carried.features_json_values(&[request]).unwrap().rows,
        before
    );
}

/// `skewless serve --state DIR`, killed with SIGKILL while events are
/// being posted and started again: every acknowledged event is there (and
/// at most the one unacknowledged request besides); after the rest are
/// posted, the features equal the backfill's.
#[test]
fn acknowledged_events_survive_kill_9() {
    let transform = load(artifacts::CARD_VELOCITY);
    let (events, spine) = card_velocity_data(&transform);
    let backfill = backfill_rows(artifacts::CARD_VELOCITY);
    let dir = tempfile::TempDir::new().unwrap();
    let chunks: Vec<Vec<String>> = events.chunks(100).map(<[String]>::to_vec).collect();

    let (mut child, addr) = start_cli(dir.path());
    let acknowledged = kill_while_posting(&mut child, addr, &chunks);

    let (mut child, addr) = start_cli(dir.path());
    let held = state_events(addr);
    let acked_events: usize = chunks[..acknowledged].iter().map(|c| c.len()).sum();
    let in_flight = chunks[acknowledged].len();
    assert!(
        held == acked_events || held == acked_events + in_flight,
        "{held} events after the restart; {acked_events} were acknowledged"
    );
    let resume = if held == acked_events {
        acknowledged
    } else {
        acknowledged + 1
    };
    post_events(addr, "card-velocity", &events[resume * 100..], 100);
    let served = ask(addr, "card-velocity", &spine);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_same(&served, &backfill);
}

/// Posts `chunks` of card-velocity events to `server` (at `addr`) from
/// another thread and kills the server (`kill -9`) once five are
/// acknowledged, while the next ones are in flight; returns how many were
/// acknowledged (fewer than all, or the kill came too late to test).
fn kill_while_posting(
    server: &mut std::process::Child,
    addr: std::net::SocketAddr,
    chunks: &[Vec<String>],
) -> usize {
    let (acks, acked) = std::sync::mpsc::channel();
    let sender = {
        let chunks = chunks.to_vec();
        std::thread::spawn(move || {
            let mut acknowledged = 0;
            for rows in &chunks {
                let Ok((status, _)) = std::panic::catch_unwind(|| {
                    http(addr, "POST", "/v1/events/card-velocity", &body(rows))
                }) else {
                    break;
                };
                if status != 200 {
                    break;
                }
                acknowledged += 1;
                let _ = acks.send(acknowledged);
            }
            acknowledged
        })
    };
    while acked.recv().unwrap() < 5 {}
    server.kill().unwrap();
    server.wait().unwrap();
    let acknowledged: usize = sender.join().unwrap();
    assert!(
        acknowledged < chunks.len(),
        "killed too late to test anything"
    );
    acknowledged
}

/// `skewless serve` on a free port with its state in `state` (a directory
/// or a Redis URL); returns when
/// it listens.
fn start_cli(state: impl AsRef<std::ffi::OsStr>) -> (std::process::Child, std::net::SocketAddr) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_skewless"))
        .args(["serve", artifacts::CARD_VELOCITY, "--addr", "127.0.0.1:0"])
        .arg("--state")
        .arg(state)
        .args(["--query-lag", "60d"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("the server's output").unwrap();
        if let Some(addr) = line.strip_prefix("listening on http://") {
            break addr.parse().unwrap();
        }
    };
    // Keep draining its stderr so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

fn state_events(addr: std::net::SocketAddr) -> usize {
    let (_, metrics) = http(addr, "GET", "/metrics", "");
    let line = metrics
        .lines()
        .find(|l| l.starts_with("skewless_state_events{"))
        .unwrap_or_else(|| panic!("no state gauge in:\n{metrics}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

/// A state kept in a directory exports the events it holds, in the order
/// they were applied, each as it was received with its arrival time; an
/// in-memory state has nothing to export, and says so.
#[test]
fn a_state_exports_what_it_holds() {
    let dir = tempfile::TempDir::new().unwrap();
    let payments = load(artifacts::PAYMENTS);
    let online = Online::open(&payments, &StateOptions::default().dir(dir.path())).unwrap();
    let events: Vec<Value> = serde_json::from_str(
        r#"[{"user": "u1", "ts": "2026-03-01T10:05:00Z", "id": "b", "amount": 2.5},
            {"user": "u1", "ts": "2026-03-01T10:00:00Z", "id": "a", "amount": 1.0},
            {"user": "u1", "ts": "2026-03-01T10:00:00Z", "id": "a", "amount": 1.0}]"#,
    )
    .unwrap();
    let ingested = online.ingest_json_values(&events).unwrap();
    assert_eq!(ingested.applied, 2);
    let out = dir.path().join("export.jsonl");
    assert_eq!(online.export(&out).unwrap(), 2);
    let lines: Vec<Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for (line, event) in lines.iter().zip(&events) {
        for (name, value) in event.as_object().unwrap() {
            assert_eq!(&line[name], value);
        }
        let arrival = line[skewless::online::ARRIVAL].as_str().unwrap();
        assert_eq!(
            chrono::DateTime::parse_from_rfc3339(arrival)
                .unwrap()
                .timestamp_micros(),
            ingested.arrival
        );
    }
    let memory = Online::open(&payments, &StateOptions::default()).unwrap();
    let error = memory.export(&out).unwrap_err().to_string();
    assert!(error.contains("in memory only"), "{error}");
}

/// The as-served round trip: a server fed events in batches (out of order
/// within the lateness, some late, some retried) and asked between them
/// (as of given times and as of now) answers exactly what `skewless run
/// --as-served` gives for the logged requests (each with its time, or the
/// answer's `as_of`, and the answer's `arrival`), from the events the
/// server exports (in two incremental pulls), and from everything the
/// producer sent with each batch's arrival (the rules dropping the same
/// events offline). A plain backfill, which ignores arrival, does not.
#[test]
fn a_backfill_as_served_gives_every_answer_the_server_gave() {
    let dir = tempfile::TempDir::new().unwrap();
    let transform = load(artifacts::PAYMENTS);
    let server = TestServer::start(
        vec![transform],
        ServeConfig::default().state(StateOptions::default().dir(dir.path())),
    );
    as_served_round_trip(&[server]);
}

/// The same with two replicas on one Redis: batches posted to each in
/// turn, rows asked of each in turn, the export pulled from each in turn.
#[test]
fn a_backfill_as_served_gives_every_answer_replicas_on_redis_gave() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let transform = load(artifacts::PAYMENTS);
    let state = StateOptions::default().redis(redis.url(3));
    let replicas = [
        TestServer::start(
            vec![transform.clone()],
            ServeConfig::default().state(state.clone()),
        ),
        TestServer::start(vec![transform], ServeConfig::default().state(state)),
    ];
    as_served_round_trip(&replicas);
}

/// Feeds `replicas` (of one state) 60 batches, each a few events out of
/// order within the lateness, some late, some retried, asking a few rows
/// (at given times or as of now) after each; then checks that `run
/// --as-served` gives every answer back by bits, from the export (pulled in
/// two parts) and from what the producer sent with each batch's arrival,
/// and that a plain backfill does not.
fn as_served_round_trip(replicas: &[TestServer]) {
    let server = |step: i64| &replicas[step as usize % replicas.len()];
    let text = |micros: i64| {
        chrono::DateTime::from_timestamp_micros(micros)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    };
    let minute = 60_000_000_i64;
    // Event times trail the clock, so that rows asked as of now see them.
    let start = skewless::online::now_micros() - 100 * minute;
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut random = move |below: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % below
    };
    let mut sent: Vec<String> = Vec::new();
    let mut posted: Vec<String> = Vec::new();
    let (mut logged, mut answers) = (Vec::new(), Vec::<Value>::new());
    let mut exported = String::new();
    let mut last_arrival = None::<String>;
    let export = |after: &Option<String>| {
        let path = match after {
            Some(after) => format!("/v1/events/payments?after={after}"),
            None => "/v1/events/payments".to_string(),
        };
        let replica = server(after.is_some().into());
        let (status, text) = http(replica.addr, "GET", &path, "");
        assert_eq!(status, 200, "{text}");
        text
    };
    let (mut late, mut duplicates) = (0, 0);
    for step in 0..60 {
        let now = start + step * minute;
        let mut batch = Vec::new();
        for n in 0..8 {
            let (id, time, amount) = if random(10) == 0 && !posted.is_empty() {
                // A retry of an event already sent.
                let old: Value =
                    serde_json::from_str(&posted[random(posted.len() as u64) as usize]).unwrap();
                (
                    old["id"].as_str().unwrap().to_string(),
                    old["ts"].as_str().unwrap().to_string(),
                    old["amount"].as_f64().unwrap(),
                )
            } else {
                // Up to 8 minutes behind (within the 10 allowed), or 25 (late).
                let behind = if random(12) == 0 {
                    25
                } else {
                    random(9) as i64
                };
                (
                    format!("{step}-{n}"),
                    text(now - behind * minute - random(60) as i64 * 1_000_000),
                    random(10_000) as f64 / 100.0 + 0.1,
                )
            };
            let user = format!("u{}", random(6));
            batch.push(format!(
                r#"{{"user":"{user}","ts":"{time}","id":"{id}","amount":{amount}}}"#
            ));
        }
        let (status, reply) = http(
            server(step).addr,
            "POST",
            "/v1/events/payments",
            &body(&batch),
        );
        assert_eq!(status, 200, "{reply}");
        let reply: Value = serde_json::from_str(&reply).unwrap();
        late += reply["late"].as_array().unwrap().len();
        duplicates += reply["duplicates"].as_array().unwrap().len();
        let arrival = reply["arrival"].as_str().unwrap().to_string();
        for row in &batch {
            sent.push(format!(r#"{{"_arrival":"{arrival}",{}"#, &row[1..]));
        }
        posted.extend(batch);
        // Ask for a few users: as of a time up to 5 minutes back, or now.
        let mut asked = Vec::new();
        for _ in 0..3 {
            let user = format!("u{}", random(6));
            asked.push(if random(4) == 0 {
                format!(r#"{{"user":"{user}"}}"#)
            } else {
                let t = text(now - random(300) as i64 * 1_000_000);
                format!(r#"{{"user":"{user}","ts":"{t}"}}"#)
            });
        }
        let (status, reply) = http(
            server(step + 1).addr,
            "POST",
            "/v1/transforms/payments",
            &body(&asked),
        );
        assert_eq!(status, 200, "{reply}");
        let reply: Value = serde_json::from_str(&reply).unwrap();
        for (row, answer) in asked.iter().zip(reply["rows"].as_array().unwrap()) {
            let row: Value = serde_json::from_str(row).unwrap();
            let ts = row
                .get("ts")
                .cloned()
                .unwrap_or_else(|| reply["as_of"].clone());
            logged.push(serde_json::json!({
                "user": row["user"], "ts": ts, "_arrival": reply["arrival"],
            }));
            answers.push(answer.clone());
        }
        if step == 30 {
            exported = export(&None);
            let last: Value = serde_json::from_str(exported.lines().last().unwrap()).unwrap();
            last_arrival = Some(last["_arrival"].as_str().unwrap().to_string());
        }
    }
    exported.push_str(&export(&last_arrival));
    assert!(
        late > 0 && duplicates > 0,
        "late {late}, duplicates {duplicates}"
    );
    assert_eq!(
        exported.lines().count(),
        posted.len() - late - duplicates,
        "the two exports hold every applied event once"
    );

    let files = tempfile::TempDir::new().unwrap();
    let write = |name: &str, lines: &[String]| {
        let path = files.path().join(name);
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        path
    };
    let spine = write(
        "logged.jsonl",
        &logged.iter().map(Value::to_string).collect::<Vec<_>>(),
    );
    let exported = write(
        "exported.jsonl",
        &exported.lines().map(str::to_string).collect::<Vec<_>>(),
    );
    let sent = write("sent.jsonl", &sent);
    let out = files.path().join("out.jsonl");
    let backfill = |events: &Path, as_served: bool| -> Vec<Value> {
        let extra: &[&str] = if as_served { &["--as-served"] } else { &[] };
        crate::support::run_backfill(artifacts::PAYMENTS, events, &spine, &out, extra)
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    };
    assert_same(&answers, &backfill(&exported, true));
    assert_same(&answers, &backfill(&sent, true));
    let plain = backfill(&sent, false);
    assert!(
        answers.iter().zip(&plain).any(|(a, b)| a != b),
        "arrival made no difference: the test would not see it ignored"
    );
}

/// `--as-served` needs arrival times in the events and the input, and
/// says so.
#[test]
fn as_served_names_a_missing_arrival() {
    let files = tempfile::TempDir::new().unwrap();
    let events = files.path().join("events.jsonl");
    std::fs::write(
        &events,
        r#"{"user":"u1","ts":"2026-03-01T10:00:00Z","id":"a","amount":1.0}"#,
    )
    .unwrap();
    let spine = files.path().join("spine.jsonl");
    std::fs::write(
        &spine,
        r#"{"user":"u1","ts":"2026-03-01T11:00:00Z","_arrival":"2026-03-01T11:00:00Z"}"#,
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_skewless"))
        .arg("run")
        .arg(artifacts::PAYMENTS)
        .args(["--events".as_ref(), events.as_os_str()])
        .args(["--input".as_ref(), spine.as_os_str()])
        .args([
            "--output".as_ref(),
            files.path().join("out.jsonl").as_os_str(),
        ])
        .arg("--as-served")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("events.jsonl") && stderr.contains("_arrival"),
        "{stderr}"
    );
}

/// Two replicas on one Redis, each sent every other request of events,
/// answer (each half of the spine, and each all of it) what the backfill
/// gives, by bits; for the Rust and the Python card-velocity examples.
#[test]
fn replicas_on_one_redis_answer_as_the_backfill() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let python = crate::python::python_guest("examples/card-velocity-py");
    for (db, component) in [
        (0, Path::new(artifacts::CARD_VELOCITY)),
        (1, python.as_path()),
    ] {
        let transform = load(component.to_str().unwrap());
        let name = transform.name().to_string();
        let (mut events, spine) = card_velocity_data(&transform);
        events.sort_by_key(|row| field(row, "card_id"));
        let backfill = backfill_rows(component.to_str().unwrap());
        let state = StateOptions::default()
            .query_lag(Duration::from_secs(60 * 86_400))
            .redis(redis.url(db));
        let replicas = [
            TestServer::start(
                vec![transform.clone()],
                ServeConfig::default().state(state.clone()),
            ),
            TestServer::start(vec![transform.clone()], ServeConfig::default().state(state)),
        ];
        for (i, rows) in events.chunks(250).enumerate() {
            post_events(replicas[i % 2].addr, &name, rows, 250);
        }
        let half = spine.len() / 2;
        let mut served = ask(replicas[0].addr, &name, &spine[..half]);
        served.extend(ask(replicas[1].addr, &name, &spine[half..]));
        assert_same(&served, &backfill);
        assert_eq!(
            ask(replicas[0].addr, &name, &spine),
            ask(replicas[1].addr, &name, &spine),
            "{name}: the replicas answer differently"
        );
    }
}

/// A replica killed (`kill -9`) while a producer sends it events loses
/// nothing it acknowledged: the other replica holds every acknowledged
/// event (and at most the one unacknowledged request besides) at once; a
/// restarted replica catches up; after the rest are posted to both, both
/// answer what the backfill gives.
#[test]
fn a_replica_killed_mid_ingestion_on_redis_loses_nothing() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let url = redis.url(0);
    let transform = load(artifacts::CARD_VELOCITY);
    let (events, spine) = card_velocity_data(&transform);
    let backfill = backfill_rows(artifacts::CARD_VELOCITY);
    let chunks: Vec<Vec<String>> = events.chunks(100).map(<[String]>::to_vec).collect();
    let (mut doomed, doomed_addr) = start_cli(&url);
    let (mut other, other_addr) = start_cli(&url);

    let acknowledged = kill_while_posting(&mut doomed, doomed_addr, &chunks);

    // A query makes the other replica read what the stream holds.
    ask(other_addr, "card-velocity", &spine[..1]);
    let held = state_events(other_addr);
    let acked_events: usize = chunks[..acknowledged].iter().map(Vec::len).sum();
    let in_flight = chunks[acknowledged].len();
    assert!(
        held == acked_events || held == acked_events + in_flight,
        "{held} events held by the other replica; {acked_events} were acknowledged"
    );
    let resume = if held == acked_events {
        acknowledged
    } else {
        acknowledged + 1
    };
    let (mut restarted, restarted_addr) = start_cli(&url);
    ask(restarted_addr, "card-velocity", &spine[..1]);
    assert_eq!(state_events(restarted_addr), held);
    for (i, rows) in chunks[resume..].iter().enumerate() {
        let addr = [restarted_addr, other_addr][i % 2];
        post_events(addr, "card-velocity", rows, 100);
    }
    let served = [
        ask(restarted_addr, "card-velocity", &spine),
        ask(other_addr, "card-velocity", &spine),
    ];
    for child in [&mut restarted, &mut other] {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    assert_same(&served[0], &backfill);
    assert_same(&served[1], &backfill);
}

/// Two replicas of a state in Redis, in one process: an event id applied
/// by one is a duplicate at the other; lateness is judged against the
/// newest event either applied; batches sent to both at once (each
/// append racing the other's) are each applied exactly once; replicas
/// must keep one query lag; an unreachable Redis is a clear error.
#[test]
fn replicas_in_redis_share_ids_lateness_and_every_batch() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let payments = load(artifacts::PAYMENTS);
    let state = StateOptions::default().redis(redis.url(2));
    let replicas = [
        Online::open(&payments, &state).unwrap(),
        Online::open(&payments, &state).unwrap(),
    ];
    let event = |user: &str, time: &str, id: &str, amount: f64| -> Value {
        serde_json::from_str(&format!(
            r#"{{"user": "{user}", "ts": "2026-03-01T{time}Z", "id": "{id}", "amount": {amount}}}"#
        ))
        .unwrap()
    };
    let first = [
        event("u1", "10:00:00", "a", 1.0),
        event("u1", "10:05:00", "b", 2.0),
    ];
    assert_eq!(replicas[0].ingest_json_values(&first).unwrap().applied, 2);
    let retried = replicas[1].ingest_json_values(&first).unwrap();
    assert_eq!((retried.applied, retried.duplicates), (0, vec![0, 1]));
    // 15 minutes behind u1's newest, with 10 minutes' lateness.
    let late = replicas[1]
        .ingest_json_values(&[event("u1", "09:50:00", "x", 4.0)])
        .unwrap();
    assert_eq!(late.late, vec![0]);

    std::thread::scope(|scope| {
        for (n, replica) in replicas.iter().enumerate() {
            scope.spawn(move || {
                for batch in 0..40 {
                    let rows: Vec<Value> = (0..10)
                        .map(|i| {
                            let second = batch * 10 + i;
                            event(
                                &format!("r{n}-u{}", i % 3),
                                &format!("10:{:02}:{:02}", 10 + second / 60, second % 60),
                                &format!("{n}-{second}"),
                                f64::from(second),
                            )
                        })
                        .collect();
                    let ingested = replica.ingest_json_values(&rows).unwrap();
                    assert_eq!(ingested.applied, 10, "{ingested:?}");
                }
            });
        }
    });
    let ask = |replica: &Online| -> Vec<String> {
        let requests: Vec<Value> = ["u1", "r0-u0", "r0-u1", "r0-u2", "r1-u0", "r1-u1", "r1-u2"]
            .iter()
            .map(|user| serde_json::json!({"user": user, "ts": "2026-03-01T10:30:00Z"}))
            .collect();
        replica.features_json_values(&requests).unwrap().rows
    };
    let answers = ask(&replicas[0]);
    assert_eq!(answers, ask(&replicas[1]));
    let row: Value = serde_json::from_str(&answers[0]).unwrap();
    assert_eq!(
        (row["payments_1h"].clone(), row["amount_1h"].clone()),
        (2.into(), 3.0.into())
    );
    let counts: i64 = answers[1..]
        .iter()
        .map(|a| {
            serde_json::from_str::<Value>(a).unwrap()["payments_1h"]
                .as_i64()
                .unwrap()
        })
        .sum();
    assert_eq!(counts, 800);
    for replica in &replicas {
        assert_eq!(replica.stats().events, 802);
    }
    // A third replica catches up on opening.
    let third = Online::open(&payments, &state).unwrap();
    assert_eq!(ask(&third), answers);

    let other_lag = state.clone().query_lag(Duration::from_secs(7200));
    let error = Online::open(&payments, &other_lag).unwrap_err().to_string();
    assert!(
        error.contains("query lag of 1h") && error.contains("--query-lag 1h"),
        "{error}"
    );

    let location = redis.url(2);
    drop(redis);
    let error = replicas[0]
        .features_json_values(&[serde_json::json!({"user": "u1"})])
        .unwrap_err();
    assert_eq!(error.kind(), "state_unavailable", "{error}");
    assert!(error.to_string().contains(&location), "{error}");
}

/// Expiry with the state in Redis: ingesting eight hours of a transform
/// with 1-hour windows trims the stream's old entries and raises its floor;
/// a replica opened afterwards, on the trimmed stream, answers what the
/// long-running one answers. And when Redis loses entries a replica
/// applied (here deleted by hand, as a restart without the append-only
/// file would), the replica's next ingestion refuses rather than diverge.
#[test]
fn replicas_on_redis_expire_and_a_later_replica_answers_the_same() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let payments = load(artifacts::PAYMENTS);
    let state = StateOptions::default().redis(redis.url(4));
    let first = Online::open(&payments, &state).unwrap();
    let time = |minutes: u32| {
        format!(
            "2026-03-01T{:02}:{:02}:00Z",
            10 + minutes / 60,
            minutes % 60
        )
    };
    for batch in 0..48 {
        let rows: Vec<Value> = (0..5)
            .map(|user| {
                serde_json::json!({"user": format!("u{user}"), "ts": time(batch * 10 + user),
                                   "id": format!("{batch}-{user}"), "amount": batch + user})
            })
            .collect();
        assert_eq!(first.ingest_json_values(&rows).unwrap().applied, 5);
    }
    let mut conn = redis::Client::open(redis.url(4))
        .unwrap()
        .get_connection()
        .unwrap();
    let entries: u64 = redis::cmd("XLEN")
        .arg("skewless:{payments}:log")
        .query(&mut conn)
        .unwrap();
    assert!(entries < 48, "{entries} entries: nothing was trimmed");
    let floor: Option<String> = redis::cmd("HGET")
        .arg("skewless:{payments}:meta")
        .arg("floor")
        .query(&mut conn)
        .unwrap();
    assert!(floor.is_some());
    let later = Online::open(&payments, &state).unwrap();
    let ask = |replica: &Online| -> Vec<String> {
        let requests: Vec<Value> = (0..5)
            .flat_map(|user| {
                [410, 440, 479]
                    .map(|m| serde_json::json!({"user": format!("u{user}"), "ts": time(m)}))
            })
            .collect();
        replica.features_json_values(&requests).unwrap().rows
    };
    assert_eq!(ask(&later), ask(&first));

    redis::cmd("DEL")
        .arg("skewless:{payments}:log")
        .exec(&mut conn)
        .unwrap();
    let row = serde_json::json!({"user": "u9", "ts": time(480), "id": "x", "amount": 1.0});
    let error = first.ingest_json_values(&[row]).unwrap_err();
    assert_eq!(error.kind(), "state_unavailable", "{error}");
    assert!(
        error.to_string().contains("lost acknowledged writes"),
        "{error}"
    );
}

/// A replica's connection to Redis broken while idle (as Redis restarting,
/// or a proxy between them, breaks it) costs no request: the next query
/// reads on a new connection and answers.
#[test]
fn a_replica_reconnects_when_redis_drops_its_connection() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let payments = load(artifacts::PAYMENTS);
    let replica = Online::open(&payments, &StateOptions::default().redis(redis.url(0))).unwrap();
    let row =
        serde_json::json!({"user": "u1", "ts": "2026-03-01T10:00:00Z", "id": "a", "amount": 2.5});
    assert_eq!(replica.ingest_json_values(&[row]).unwrap().applied, 1);
    let request = [serde_json::json!({"user": "u1", "ts": "2026-03-01T10:30:00Z"})];
    let before = replica.features_json_values(&request).unwrap().rows;
    let mut admin = redis::Client::open(redis.url(0))
        .unwrap()
        .get_connection()
        .unwrap();
    let killed: u64 = redis::cmd("CLIENT")
        .arg(&["KILL", "TYPE", "normal", "SKIPME", "yes"])
        .query(&mut admin)
        .unwrap();
    assert!(killed >= 1, "the replica's connection was not killed");
    assert_eq!(replica.features_json_values(&request).unwrap().rows, before);
}

/// Redis not answering: queries waiting on the writer's lock share the
/// failure of the catch-up that began after they did rather than each
/// trying a connection of its own, one 5 s timeout after another. Eight
/// queries at once while Redis is paused for 15 s: every one fails
/// within the pause, on at most two attempts (the first catch-up's, and
/// one for queries that came in after it began, on the one new
/// connection Redis accepts); each trying on its own, only the first two
/// or three would fail before the pause ended.
#[test]
fn queries_waiting_on_an_unanswering_redis_share_one_failure() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let payments = load(artifacts::PAYMENTS);
    let replica = Online::open(&payments, &StateOptions::default().redis(redis.url(0))).unwrap();
    let row =
        serde_json::json!({"user": "u1", "ts": "2026-03-01T10:00:00Z", "id": "a", "amount": 2.5});
    assert_eq!(replica.ingest_json_values(&[row]).unwrap().applied, 1);
    let mut admin = redis::Client::open(redis.url(0))
        .unwrap()
        .get_connection()
        .unwrap();
    let accepted = |admin: &mut redis::Connection| -> u64 {
        let info: String = redis::cmd("INFO").arg("stats").query(admin).unwrap();
        info.lines()
            .find_map(|line| line.strip_prefix("total_connections_received:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let before = accepted(&mut admin);
    // Longer than two of the client's 5 s timeouts, one after the other.
    redis::cmd("CLIENT")
        .arg(&["PAUSE", "15000", "ALL"])
        .exec(&mut admin)
        .unwrap();
    let request = [serde_json::json!({"user": "u1", "ts": "2026-03-01T10:30:00Z"})];
    let barrier = std::sync::Barrier::new(8);
    let failures = std::thread::scope(|scope| {
        let queries: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    replica.features_json_values(&request).err()
                })
            })
            .collect();
        queries
            .into_iter()
            .filter_map(|query| query.join().unwrap())
            .collect::<Vec<_>>()
    });
    // (INFO waits for the pause to end.)
    let opened = accepted(&mut admin) - before;
    assert_eq!(failures.len(), 8, "{failures:?}");
    for error in &failures {
        assert_eq!(error.kind(), "state_unavailable", "{error}");
    }
    assert!(
        opened <= 1,
        "{opened} connections opened by {} failed queries",
        failures.len()
    );
}
