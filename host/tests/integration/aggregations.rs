//! Aggregations: `skewless run --events` against an independent reference
//! written in plain Python (`host/tests/aggregations/`), by bits, on
//! generated data with every edge of the semantics.

use std::path::Path;
use std::process::Command;

use skewless_test_artifacts as artifacts;

use crate::support::TestServer;

#[test]
fn card_velocity_matches_the_python_reference_by_bits() {
    let cache = tempfile::TempDir::new().unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/aggregations");
    let output = Command::new(crate::conformance::python())
        .current_dir(&dir)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .env("SKEWLESS", env!("CARGO_BIN_EXE_skewless"))
        .env("SKEWLESS_CARD_VELOCITY", artifacts::CARD_VELOCITY)
        .env(
            "SKEWLESS_CARD_VELOCITY_PY",
            crate::python::python_guest("examples/card-velocity-py"),
        )
        .env("SKEWLESS_CACHE_DIR", cache.path())
        .output()
        .expect("run pytest");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn example(file: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/card-velocity/data")
        .join(file)
}

/// `verify --events`: the backfill against an incremental state fed the
/// events one at a time, shuffled; every output bit identical.
#[test]
fn verify_compares_the_backfill_with_an_incremental_state() {
    let transform = crate::support::load(artifacts::CARD_VELOCITY);
    let report = skewless::verify::Verify::new(&transform, example("spine.csv"))
        .events(example("events.csv"))
        .run()
        .unwrap();
    assert!(report.passed(), "{report:?}");
    assert_eq!(report.rows, 1_000);
    assert_eq!(report.incremental_events, Some(4_000));
    assert!(
        report
            .paths
            .iter()
            .any(|p| p.name.starts_with("served state") && p.passed()),
        "{report:?}"
    );
}

/// The served path of `verify` feeds a live state the events shuffled
/// within the declared lateness (10 minutes here) and agrees with the
/// backfill; an events file that repeats an event (a producer's retry)
/// counts it once on every path: served, incrementally and in a plain
/// backfill, whose output is the file's without the repeat.
#[test]
fn verify_drives_a_served_state_and_a_repeated_event_id_counts_once() {
    let dir = tempfile::TempDir::new().unwrap();
    let transform = crate::support::load(artifacts::PAYMENTS);
    let mut seed = 0x1234_5678_9abc_def1_u64;
    let mut random = move |below: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % below
    };
    let at = |minutes: u64, seconds: u64| {
        format!(
            "2026-03-01T{:02}:{:02}:{seconds:02}Z",
            minutes / 60 + 8,
            minutes % 60
        )
    };
    let mut events: Vec<String> = (0..400)
        .map(|n| {
            let (user, minute, second) = (random(8), random(240), random(60));
            let cents = random(100_000);
            format!(
                r#"{{"user":"u{user}","ts":"{}","id":"e{n}","amount":{}.{:02}}}"#,
                at(minute, second),
                cents / 100,
                cents % 100
            )
        })
        .collect();
    let spine: Vec<String> = (0..120)
        .map(|_| {
            let (user, minute, second) = (random(8), random(260), random(60));
            format!(r#"{{"user":"u{user}","ts":"{}"}}"#, at(minute, second))
        })
        .collect();
    let write = |name: &str, rows: &[String]| {
        let path = dir.path().join(name);
        std::fs::write(&path, rows.join("\n") + "\n").unwrap();
        path
    };
    let spine = write("spine.jsonl", &spine);
    let verify = |events: &Path| {
        skewless::verify::Verify::new(&transform, &spine)
            .events(events)
            .batch_sizes([skewless::verify::BatchSize::All])
            .run()
            .unwrap()
    };
    let report = verify(&write("events.jsonl", &events));
    assert!(report.passed(), "{report:?}");
    let served = report.paths.last().unwrap();
    assert!(served.name.starts_with("served state"), "{served:?}");

    let once = write("events.jsonl", &events);
    // A producer's retry, written twice into the file (and a second time,
    // before the first, for another event).
    events.push(events[17].clone());
    events.insert(3, events[250].clone());
    let repeated = write("repeated.jsonl", &events);
    let report = verify(&repeated);
    assert!(report.passed(), "{report:?}");
    let out = dir.path().join("out.jsonl");
    let backfill = |events: &Path| {
        crate::support::run_backfill(artifacts::PAYMENTS, events, &spine, &out, &[])
    };
    assert_eq!(backfill(&repeated), backfill(&once));
}

/// An engine that keeps events in the order they arrive (a deliberately
/// order-dependent one) is caught, naming the row, the feature and both
/// values: the check can fail.
#[test]
fn verify_catches_an_order_dependent_engine() {
    let transform = crate::support::load(artifacts::CARD_VELOCITY);
    let report = skewless::verify::Verify::new(&transform, example("spine.csv"))
        .events(example("events.csv"))
        .with_arrival_order_state()
        .run()
        .unwrap();
    assert!(!report.passed());
    let path = &report.paths[0];
    assert!(path.rows_differing > 0, "{path:?}");
    let first = path.first_mismatch.as_ref().unwrap();
    assert!(
        !first.column.is_empty() && first.expected != first.actual,
        "{first:?}"
    );
}

/// The CLI's errors for events given to a row transform, or missing for an
/// aggregating one, say what to do.
#[test]
fn events_are_required_exactly_when_a_transform_aggregates() {
    let dir = tempfile::TempDir::new().unwrap();
    let run = |component: &str, events: Option<&Path>, input: &Path| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_skewless"));
        command
            .args(["run", component, "--input"])
            .arg(input)
            .arg("--output")
            .arg(dir.path().join("out.parquet"))
            .arg("--no-cache");
        if let Some(events) = events {
            command.arg("--events").arg(events);
        }
        let output = command.output().unwrap();
        assert!(!output.status.success());
        String::from_utf8(output.stderr).unwrap()
    };
    let error = run(artifacts::CARD_VELOCITY, None, &example("spine.csv"));
    assert!(
        error.contains(
            "invalid `events`: none is given, and transform `card-velocity` aggregates events: \
             give the events file beside the input"
        ) && error
            .trim_end()
            .ends_with("(on the command line: `--events FILE`)"),
        "{error}"
    );
    let transactions = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/fraud-features/data/transactions.csv");
    let error = run(
        artifacts::FRAUD_FEATURES,
        Some(&example("events.csv")),
        &transactions,
    );
    assert!(
        error
            .contains("transform `fraud-features` declares no aggregations, so it takes no events"),
        "{error}"
    );
    // Giving events is the mistake here: not told to give them.
    assert!(!error.contains("--events"), "{error}");
}

/// Event times without a zone in a text events file: the CLI's error names
/// the file, column and row, and the flag that takes them; with the flag
/// they are read as UTC, and give what the same times with `Z` give.
#[test]
fn naive_event_times_in_a_file_name_the_flag_that_takes_them() {
    let dir = tempfile::TempDir::new().unwrap();
    let with_zone = std::fs::read_to_string(example("events.csv")).unwrap();
    let naive = with_zone.replace("Z,", ",");
    assert_ne!(naive, with_zone);
    let events = dir.path().join("events.csv");
    std::fs::write(&events, naive).unwrap();
    let run = |events: &Path, output: &str, flags: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_skewless"))
            .args(["run", artifacts::CARD_VELOCITY, "--input"])
            .arg(example("spine.csv"))
            .arg("--events")
            .arg(events)
            .arg("--output")
            .arg(dir.path().join(output))
            .arg("--no-cache")
            .args(flags)
            .output()
            .unwrap()
    };
    let refused = run(&events, "refused.csv", &[]);
    assert!(!refused.status.success());
    let error = String::from_utf8(refused.stderr).unwrap();
    assert!(
        error.contains(&format!(
            "cannot read `{}`: column `ts`, row 0: \"2026-03-15T13:05:19.050815\" has no time zone",
            events.display()
        )) && error
            .trim_end()
            .ends_with("(on the command line: `--naive-timestamps utc`)"),
        "{error}"
    );
    assert!(!dir.path().join("refused.csv").exists());
    let taken = run(&events, "naive.csv", &["--naive-timestamps", "utc"]);
    assert!(
        taken.status.success(),
        "{}",
        String::from_utf8_lossy(&taken.stderr)
    );
    assert!(
        run(&example("events.csv"), "zoned.csv", &[])
            .status
            .success()
    );
    assert_eq!(
        std::fs::read(dir.path().join("naive.csv")).unwrap(),
        std::fs::read(dir.path().join("zoned.csv")).unwrap()
    );
}

/// `inspect` shows what a transform aggregates, as declared, and its JSON
/// carries the declaration (the sha256 pins it).
#[test]
fn inspect_shows_the_aggregation() {
    let output = Command::new(env!("CARGO_BIN_EXE_skewless"))
        .args(["inspect", artifacts::CARD_VELOCITY])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    for line in [
        "inputs (a spine's or a request's)",
        "events  (by `card_id` at `ts`, as of the spine's `ts`; no lateness)",
        "  columns  amount float64 (nullable), merchant utf8, declined boolean (nullable)",
        "count over 1h",
        "sum(amount) over 24h",
        "mean(amount) over 7d",
        "count over 24h where declined",
        "seconds_since_last over 7d",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    let output = Command::new(env!("CARGO_BIN_EXE_skewless"))
        .args(["inspect", artifacts::CARD_VELOCITY, "--json"])
        .output()
        .unwrap();
    let mut json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["aggregation"]["key"]["name"], "card_id");
    assert_eq!(json["aggregation"]["aggregates"][0]["function"], "count");
    // What a spine row or a request gives, as the text says it.
    let spine: Vec<&str> = json["spine_inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(spine, ["card_id", "ts", "amount"]);
    // The server lists the same description (without the file).
    let transform = skewless::Runtime::new(skewless::Config::default())
        .unwrap()
        .load(artifacts::CARD_VELOCITY)
        .unwrap();
    let server = TestServer::start(vec![transform], skewless::serve::ServeConfig::default());
    let (status, text) = server.request("GET", "/v1/transforms", "");
    assert_eq!(status, 200, "{text}");
    let listed: serde_json::Value = serde_json::from_str(&text).unwrap();
    json.as_object_mut().unwrap().remove("file");
    assert_eq!(listed["transforms"][0], json);
}

/// The key and the time are declared with the events, not as the row
/// function's inputs: a null there, or a column of another type, is told
/// what fixes it, not to use `Option<_>` or to declare the input.
#[test]
fn a_bad_key_or_time_is_told_what_fixes_it() {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray};
    use arrow::array::{RecordBatch, TimestampMicrosecondArray};

    let dir = tempfile::TempDir::new().unwrap();
    let transform = skewless::Runtime::new(skewless::Config::default())
        .unwrap()
        .load(artifacts::CARD_VELOCITY)
        .unwrap();
    let fail = |events: &Path, spine: &Path| {
        skewless::backfill::Backfill::new(&transform, spine, dir.path().join("out.parquet"))
            .events(events)
            .run()
            .unwrap_err()
            .to_string()
    };
    // A spine row without its key.
    let spine = dir.path().join("spine.csv");
    std::fs::write(
        &spine,
        "card_id,ts,amount\nc1,2026-03-15T13:05:19Z,1.0\n,2026-03-15T13:05:20Z,2.0\n",
    )
    .unwrap();
    let error = fail(&example("events.csv"), &spine);
    assert!(
        error.contains(
            "column `card_id` is null in row 1, but transform `card-velocity` declares it \
             non-nullable: it is the aggregation's key, which every event, spine row and request \
             needs; drop or fill such rows where the data is produced"
        ),
        "{error}"
    );
    // Events whose key is a number, as a key column of ids often is.
    let events = dir.path().join("events.parquet");
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("card_id", Arc::new(Int64Array::from(vec![1, 2]))),
        (
            "ts",
            Arc::new(
                TimestampMicrosecondArray::from(vec![1_773_580_000_000_000, 1_773_580_001_000_000])
                    .with_timezone("UTC"),
            ),
        ),
        ("amount", Arc::new(Float64Array::from(vec![1.0, 2.0]))),
        ("merchant", Arc::new(StringArray::from(vec!["a", "b"]))),
        ("declined", Arc::new(BooleanArray::from(vec![false, true]))),
    ];
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&events).unwrap(),
        batch.schema(),
        None,
    )
    .unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let error = fail(&events, &example("spine.csv"));
    assert!(
        error.contains("column `card_id` has type")
            && error.contains(
                "the key's type is declared with the events (`key = \"card_id: int64\"`; utf8 \
                 when not said): declare the type the data has, or convert the column where the \
                 data is produced"
            )
            && !error.contains("declare the input"),
        "{error}"
    );
    // The same events with no rows, and a spine with none whose time is
    // text: their columns are checked all the same.
    let write = |path: &Path, batch: &RecordBatch| {
        let file = std::fs::File::create(path).unwrap();
        let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
        writer.write(batch).unwrap();
        writer.close().unwrap();
    };
    let no_events = dir.path().join("no-events.parquet");
    write(&no_events, &batch.slice(0, 0));
    let error = fail(&no_events, &example("spine.csv"));
    assert!(error.contains("column `card_id` has type"), "{error}");
    let no_spine = dir.path().join("no-spine.parquet");
    let text_times: Vec<(&str, ArrayRef)> = vec![
        ("card_id", Arc::new(StringArray::from(Vec::<&str>::new()))),
        ("ts", Arc::new(StringArray::from(Vec::<&str>::new()))),
        ("amount", Arc::new(Float64Array::from(Vec::<f64>::new()))),
    ];
    write(&no_spine, &RecordBatch::try_from_iter(text_times).unwrap());
    let error = fail(&example("events.csv"), &no_spine);
    assert!(
        error.contains("column `ts` has type Utf8, but transform `card-velocity` takes"),
        "{error}"
    );
    // A served event and request whose key is a JSON number.
    let online =
        skewless::online::Online::open(&transform, &skewless::online::StateOptions::default())
            .unwrap();
    let told = "row 0, field `card_id`: expected a string, found a number 17; it is the \
                aggregation's key, whose type is declared with the events (`key = \"card_id: \
                int64\"`; utf8 when not said): send the type declared, or declare the type the \
                keys have";
    let event = serde_json::json!({"card_id": 17, "ts": "2026-03-15T13:05:19Z", "amount": 1.0,
        "merchant": "a", "declined": false});
    let error = online.ingest_json_values(&[event]).unwrap_err().to_string();
    assert_eq!(error, told);
    let request = serde_json::json!({"card_id": 17, "ts": "2026-03-15T13:05:19Z", "amount": 1.0});
    let error = online
        .features_json_values(std::slice::from_ref(&request))
        .unwrap_err()
        .to_string();
    assert_eq!(error, told);
    // An event without its id.
    let payments = skewless::online::Online::open(
        &crate::support::load(artifacts::PAYMENTS),
        &skewless::online::StateOptions::default(),
    )
    .unwrap();
    let event = serde_json::json!({"user": "u1", "ts": "2026-03-15T13:05:19Z", "id": null,
        "amount": 1.0});
    let error = payments
        .ingest_json_values(&[event])
        .unwrap_err()
        .to_string();
    assert!(
        error.ends_with(
            "it is the events' id (`event_id = \"id\"`), which tells a retried event from a new \
             one, so every event needs one; give such events an id where the data is produced, \
             or declare no `event_id` if the events have none"
        ),
        "{error}"
    );
    // Rows alone, without the state: told where the aggregates come from.
    let error = transform.call_json(&request).unwrap_err().to_string();
    assert!(
        error.starts_with(
            "transform `card-velocity` aggregates events, which rows alone do not carry: compute \
             its features with the events (`skewless run --events`"
        ),
        "{error}"
    );
}

/// A kept key is written as the data has it, not as a guess of its type
/// would: ids "007" and "7" beside "7.5" in a CSV are three entities, and
/// stay three ids. So is a kept column of numbers, one with a leading zero.
#[test]
fn a_kept_key_is_copied_as_written() {
    let dir = tempfile::TempDir::new().unwrap();
    let spine = dir.path().join("spine.csv");
    std::fs::write(
        &spine,
        "card_id,ts,amount,reference\n007,2026-03-15T13:05:19Z,1.0,007\n\
         7,2026-03-15T13:05:19Z,2.0,7.5\n7.5,2026-03-15T13:05:19Z,3.0,-0.5\n",
    )
    .unwrap();
    let written = crate::support::run_backfill(
        artifacts::CARD_VELOCITY,
        &example("events.csv"),
        &spine,
        &dir.path().join("out.csv"),
        &["--no-cache", "--keep", "card_id,reference"],
    );
    let kept: Vec<Vec<&str>> = written
        .lines()
        .skip(1)
        .map(|line| line.split(',').take(2).collect())
        .collect();
    assert_eq!(
        kept,
        [["007", "007"], ["7", "7.5"], ["7.5", "-0.5"]],
        "{written}"
    );
}

/// A bad event fails the run whatever `--on-error` says, and the CLI says
/// so rather than leave the user wondering why the flag did nothing.
#[test]
fn on_error_does_not_set_events_aside_and_says_so() {
    let dir = tempfile::TempDir::new().unwrap();
    let events = dir.path().join("events.csv");
    std::fs::write(
        &events,
        "card_id,ts,amount,merchant,declined\nc1,2026-03-15T13:05:19Z,12.5,books,false\n\
         c1,2026-03-15T13:06:19Z,abc,books,false\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_skewless"))
        .args(["run", artifacts::CARD_VELOCITY, "--input"])
        .arg(example("spine.csv"))
        .arg("--events")
        .arg(&events)
        .arg("--output")
        .arg(dir.path().join("out.parquet"))
        .args(["--no-cache", "--on-error", "skip"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let error = String::from_utf8(output.stderr).unwrap();
    assert!(
        error.contains(
            "an event cannot be read, and `--on-error` sets aside input rows, not events (one \
             left out would change other rows' features): fix or remove it: cannot read"
        ) && error.contains(&format!("`{}`: column `amount`, row 1", events.display())),
        "{error}"
    );
    assert!(!dir.path().join("out.parquet").exists());
}

/// A row whose aggregates cannot be computed (an integer sum beyond int64)
/// is rejected by the backfill, and `verify` proves the other rows with it
/// rejected on every path, by the same message, rather than failing; the
/// rejects file shows the spine row as read (key and time), without
/// aggregates that were never computed.
#[test]
fn a_row_whose_aggregate_overflows_is_rejected_on_every_path() {
    let dir = tempfile::TempDir::new().unwrap();
    let transform = crate::support::load(artifacts::BASKET);
    let events = dir.path().join("events.csv");
    std::fs::write(
        &events,
        format!(
            "user,ts,units\n\
             big,2026-03-01T08:00:00Z,{}\n\
             big,2026-03-01T09:00:00Z,1\n\
             small,2026-03-01T08:00:00Z,5\n\
             small,2026-03-01T09:00:00Z,-2\n\
             neg,2026-03-01T09:00:00Z,-3\n",
            i64::MAX
        ),
    )
    .unwrap();
    let spine = dir.path().join("spine.csv");
    std::fs::write(
        &spine,
        "user,at\n\
         small,2026-03-01T10:00:00Z\n\
         big,2026-03-01T08:30:00Z\n\
         big,2026-03-01T10:00:00Z\n\
         small,2026-03-01T08:30:00Z\n\
         neg,2026-03-01T10:00:00Z\n",
    )
    .unwrap();
    let message = "transform `basket` failed at row 2: aggregate `units_1d`: the sum \
                   9223372036854775808 is beyond int64";

    let report = skewless::verify::Verify::new(&transform, &spine)
        .events(&events)
        .run()
        .unwrap();
    assert!(report.passed(), "{report:?}");
    assert_eq!((report.rows, report.rejected), (5, 2));
    assert_eq!(report.first_rejected, Some((2, message.to_string())));
    assert!(
        report
            .paths
            .iter()
            .any(|p| p.name.starts_with("served state"))
    );

    let out = dir.path().join("out.jsonl");
    let rejects = dir.path().join("rejects.jsonl");
    skewless::backfill::Backfill::new(&transform, &spine, &out)
        .events(&events)
        .on_error(skewless::backfill::OnError::Skip)
        .rejects(&rejects)
        .run()
        .unwrap();
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&rejects)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["message"], message);
    // Aggregates never computed are not shown as if they were read.
    assert_eq!(
        lines[0]["input"],
        serde_json::json!({"user": "big", "at": "2026-03-01T10:00:00.000000Z"})
    );
    // A row the row function rejected shows the aggregates it received.
    assert_eq!(
        lines[1]["message"],
        "transform `basket` failed at row 4: -3 units in a day"
    );
    assert_eq!(
        lines[1]["input"],
        serde_json::json!({"user": "neg", "at": "2026-03-01T10:00:00.000000Z", "units_1d": -3})
    );
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "{\"units_1d\":3}\n{\"units_1d\":9223372036854775807}\n{\"units_1d\":5}\n"
    );
}

/// Windows that are all empty are no error, but nearly always a mistake
/// nothing else shows: an events file without events, or keys written
/// differently in the two files. `skewless run` says so, and says how many
/// rows have a key no event has.
#[test]
fn a_backfill_says_when_no_row_has_events() {
    let dir = tempfile::TempDir::new().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let events = write(
        "events.csv",
        "user,ts,units\nU1,2026-03-01T08:00:00Z,2\nU2,2026-03-01T08:00:00Z,3\n",
    );
    let run = |events: &Path, spine: &Path| {
        let output = Command::new(env!("CARGO_BIN_EXE_skewless"))
            .arg("run")
            .arg(artifacts::BASKET)
            .arg("--events")
            .arg(events)
            .arg("--input")
            .arg(spine)
            .arg("--output")
            .arg(dir.path().join("out.jsonl"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        assert!(output.status.success(), "{stderr}");
        stderr
    };
    let lower = write(
        "lower.csv",
        "user,at\nu1,2026-03-01T09:00:00Z\nu2,2026-03-01T09:00:00Z\n",
    );
    let said = run(&events, &lower);
    assert!(
        said.contains(&format!(
            "warning: no row's `user` is the key of any of the 2 events in `{}`, so every window \
             of every row is empty: are the keys written alike in both files (case, leading \
             zeros, spaces)?",
            events.display()
        )),
        "{said}"
    );
    let some = write(
        "some.csv",
        "user,at\nU1,2026-03-01T09:00:00Z\nu2,2026-03-01T09:00:00Z\nU3,2026-03-01T09:00:00Z\n",
    );
    let said = run(&events, &some);
    assert!(
        said.contains("2 of 3 rows have a `user` no event has (their windows are empty)"),
        "{said}"
    );
    assert!(!said.contains("warning"), "{said}");
    let none = write("none.csv", "user,ts,units\n");
    let said = run(&none, &some);
    assert!(
        said.contains(&format!(
            "warning: `{}` has no events, so every window of every row is empty",
            none.display()
        )),
        "{said}"
    );
    let all = write("all.csv", "user,at\nU1,2026-03-01T09:00:00Z\n");
    let said = run(&events, &all);
    assert!(!said.contains("window"), "{said}");
}
