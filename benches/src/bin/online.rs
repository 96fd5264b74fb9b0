//! Aggregations online: how fast a served state takes events and answers
//! features, for the card-velocity example (eight aggregates over 1 hour,
//! 24 hours and 7 days).
//!
//! One run measures, on this machine:
//!
//! - ingestion, events per second: embedded (`skewless::online::Online`,
//!   JSON rows in batches), in memory and in a state directory (redb,
//!   committed with fsync before each batch is acknowledged), and over HTTP
//!   (`POST /v1/events/NAME`, one keep-alive connection, batches of the
//!   same size) into a state directory;
//! - single-row queries as of now (`POST /v1/transforms/NAME` with the
//!   card and the amount, no time): embedded, and over HTTP at 1 and 16
//!   keep-alive connections (closed loop), for random cards and for the
//!   busiest card (the one with the most events in its 7-day window), with
//!   the same server's `/healthz` as the HTTP floor.
//!
//! `cargo run --release -p skewless-benches --bin online -- --out online.json`
//! (see `--help`); BENCHMARKS.md quotes a run.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::value::RawValue;
use skewless::online::{Online, StateOptions};
use skewless::{Config, Runtime};
use skewless_benches::{Connection, XorShift, card_id, percentiles};
use skewless_test_artifacts as artifacts;

const USAGE: &str = "\
Usage: online [--keys N] [--events-per-key N] [--busiest N] [--batch N] [--seconds N]
              [--redis URL] [--out FILE.json]

Generates events for N cards [default: 100000], N events each on average
[default: 10] spread over the last 7 days, and N events for the busiest card
[default: 1000]; ingests them in batches of N [default: 1000] embedded (in
memory, then in a state directory) and over HTTP into a state directory;
then asks single-row features as of now for N seconds per measurement
[default: 5]: embedded, and over HTTP at 1 and 16 connections, for random
cards and for the busiest one, beside the server's /healthz. With --redis
(e.g. redis://127.0.0.1:6379/15: its card-velocity keys are deleted first),
the same with the state in Redis: ingestion embedded, queries embedded and
over HTTP.";

struct Options {
    keys: usize,
    per_key: usize,
    busiest: usize,
    batch: usize,
    seconds: u64,
    redis: Option<String>,
    out: Option<PathBuf>,
}

fn options() -> Options {
    let mut options = Options {
        keys: 100_000,
        per_key: 10,
        busiest: 1_000,
        batch: 1_000,
        seconds: 5,
        redis: None,
        out: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next().unwrap_or_else(|| {
                eprintln!("online: {arg} needs a value\n\n{USAGE}");
                std::process::exit(2)
            })
        };
        let number = |text: String| -> usize {
            text.parse().unwrap_or_else(|_| {
                eprintln!("online: `{text}` is not a number\n\n{USAGE}");
                std::process::exit(2)
            })
        };
        match arg.as_str() {
            "--keys" => options.keys = number(value()),
            "--events-per-key" => options.per_key = number(value()),
            "--busiest" => options.busiest = number(value()),
            "--batch" => options.batch = number(value()).max(1),
            "--seconds" => options.seconds = number(value()) as u64,
            "--out" => options.out = Some(PathBuf::from(value())),
            "--redis" => options.redis = Some(value()),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => {
                eprintln!("online: unknown argument `{other}`\n\n{USAGE}");
                std::process::exit(2);
            }
        }
    }
    options
}

const MERCHANTS: [&str; 6] = ["grocery", "fuel", "books", "travel", "apparel", "gaming"];

/// The events, as JSON rows in time order (the example declares no
/// lateness: each card's events must arrive in time order).
fn events(options: &Options, now: i64) -> Vec<String> {
    let week = 7 * 86_400 * 1_000_000_i64;
    let mut random = XorShift(0x2545_f491_4f6c_dd1d);
    let total = options.keys * options.per_key;
    let mut events: Vec<(i64, String)> = Vec::with_capacity(total + options.busiest);
    let mut push = |random: &mut XorShift, key: u64| {
        // Within the 7 days before now, less a minute.
        let time = now - 60_000_000 - random.below((week - 3_600_000_000) as u64) as i64;
        let stamp = chrono::DateTime::from_timestamp_micros(time)
            .expect("a time")
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let amount = random.below(100_000) as f64 / 100.0;
        let merchant = MERCHANTS[random.below(MERCHANTS.len() as u64) as usize];
        let declined = random.below(20) == 0;
        events.push((
            time,
            format!(
                r#"{{"card_id":"{}","ts":"{stamp}","amount":{amount},"merchant":"{merchant}","declined":{declined}}}"#,
                card_id(key)
            ),
        ));
    };
    for _ in 0..total {
        let key = 1 + random.below(options.keys as u64 - 1);
        push(&mut random, key);
    }
    for _ in 0..options.busiest {
        push(&mut random, 0);
    }
    events.sort_unstable_by_key(|(time, _)| *time);
    events.into_iter().map(|(_, row)| row).collect()
}

fn body(rows: &[String]) -> String {
    format!("{{\"rows\":[{}]}}", rows.join(","))
}

fn query_row(key: u64, amount: u64) -> String {
    format!(r#"{{"card_id":"{}","amount":{amount}.5}}"#, card_id(key))
}

/// Events per second of `ingest` over the events in batches.
fn rate(events: &[String], batch: usize, mut ingest: impl FnMut(&[String])) -> f64 {
    let started = Instant::now();
    for chunk in events.chunks(batch) {
        ingest(chunk);
    }
    events.len() as f64 / started.elapsed().as_secs_f64()
}

fn embedded_ingest(online: &Online, rows: &[String]) {
    let raw: Vec<Box<RawValue>> = rows
        .iter()
        .map(|r| RawValue::from_string(r.clone()).expect("JSON"))
        .collect();
    let refs: Vec<&RawValue> = raw.iter().map(|r| &**r).collect();
    let ingested = online.ingest_json(&refs).expect("ingest");
    assert_eq!(ingested.applied, rows.len() as u64, "{ingested:?}");
}

/// Latencies of single-row queries, embedded, for `seconds`.
fn embedded_queries(online: &Online, keys: &[u64], seconds: u64) -> Vec<Duration> {
    let rows: Vec<Box<RawValue>> = keys
        .iter()
        .enumerate()
        .map(|(i, &key)| RawValue::from_string(query_row(key, i as u64 % 500)).expect("JSON"))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut latencies = Vec::new();
    let mut i = 0;
    while Instant::now() < deadline {
        let row: &RawValue = &rows[i % rows.len()];
        let started = Instant::now();
        std::hint::black_box(online.features_json(&[row]).expect("features"));
        latencies.push(started.elapsed());
        i += 1;
    }
    latencies
}

/// A closed-loop run of `connections` connections, each cycling through
/// `bodies` (POSTed to `path`; GET /healthz when `path` is that).
fn http_queries(
    addr: SocketAddr,
    path: &str,
    bodies: &[String],
    connections: usize,
    seconds: u64,
) -> (Vec<Duration>, f64) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let results: Vec<Vec<Duration>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..connections)
            .map(|worker| {
                scope.spawn(move || {
                    let mut connection = Connection::open(addr).expect("connect");
                    let requests: Vec<Vec<u8>> = if path == "/healthz" {
                        vec![format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").into_bytes()]
                    } else {
                        bodies
                            .iter()
                            .map(|b| connection.post_request(path, b))
                            .collect()
                    };
                    let mut latencies = Vec::new();
                    let mut i = worker * 7919;
                    while Instant::now() < deadline {
                        let request = &requests[i % requests.len()];
                        let start = Instant::now();
                        let status = connection.send(request).expect("request");
                        latencies.push(start.elapsed());
                        assert_eq!(
                            status,
                            200,
                            "{}",
                            String::from_utf8_lossy(connection.body())
                        );
                        i += 1;
                    }
                    latencies
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("worker"))
            .collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    let latencies: Vec<Duration> = results.into_iter().flatten().collect();
    let per_second = latencies.len() as f64 / elapsed;
    (latencies, per_second)
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    let options = options();
    let now = skewless::online::now_micros();
    eprintln!(
        "online: generating {} events for {} cards ({} for the busiest)",
        options.keys * options.per_key + options.busiest,
        options.keys,
        options.busiest
    );
    let events = events(&options, now);
    let runtime = Runtime::new(Config::default()).expect("runtime");
    let transform = runtime.load(artifacts::CARD_VELOCITY).expect("load");
    let mut report = serde_json::Map::new();
    let mut lines = Vec::new();
    let mut record = |name: &str, value: serde_json::Value, line: String| {
        eprintln!("online: {line}");
        lines.push(line);
        report.insert(name.to_string(), value);
    };
    record(
        "events",
        events.len().into(),
        format!(
            "{} events, {} cards, {} in the busiest card's 7 days, batches of {}",
            events.len(),
            options.keys,
            options.busiest,
            options.batch
        ),
    );

    // Embedded ingestion, in memory and in a directory.
    let memory = Online::open(&transform, &StateOptions::default()).expect("open");
    let per_second = rate(&events, options.batch, |rows| {
        embedded_ingest(&memory, rows)
    });
    record(
        "ingest_embedded_memory",
        per_second.into(),
        format!("ingestion, embedded, in memory: {per_second:.0} events/s"),
    );
    drop(memory);
    let dir = tempfile_dir("embedded");
    let durable = Online::open(&transform, &StateOptions::default().dir(&dir)).expect("open");
    let per_second = rate(&events, options.batch, |rows| {
        embedded_ingest(&durable, rows)
    });
    record(
        "ingest_embedded_dir",
        per_second.into(),
        format!("ingestion, embedded, state directory (fsync per batch): {per_second:.0} events/s"),
    );

    let mut random = XorShift(0x9e37_79b9_7f4a_7c15);
    let keys: Vec<u64> = (0..10_000)
        .map(|_| 1 + random.below(options.keys as u64 - 1))
        .collect();
    embedded_section(&durable, &keys, &options, "", &mut record);
    drop(durable);
    let _ = std::fs::remove_dir_all(&dir);

    // Over HTTP, into a state directory.
    let dir = tempfile_dir("http");
    let state = StateOptions::default().dir(&dir);
    http_section(
        &transform,
        state,
        Some(&events),
        &keys,
        &options,
        "",
        &mut record,
    );
    let _ = std::fs::remove_dir_all(dir);

    if let Some(url) = &options.redis {
        // The state in Redis: ingested embedded, then asked embedded and
        // over HTTP (a server that reads the stream on opening).
        let client = redis::Client::open(url.as_str()).expect("a Redis URL");
        let mut connection = client.get_connection().expect("connect to Redis");
        for key in ["log", "meta"] {
            redis::cmd("DEL")
                .arg(format!("skewless:{{{}}}:{key}", transform.name()))
                .exec(&mut connection)
                .expect("DEL");
        }
        let state = StateOptions::default().redis(url);
        let shared = Online::open(&transform, &state).expect("open");
        if let Some(durability) = shared.durability() {
            record(
                "redis_durability",
                durability.clone().into(),
                format!("Redis: {durability}"),
            );
        }
        let per_second = rate(&events, options.batch, |rows| {
            embedded_ingest(&shared, rows)
        });
        record(
            "ingest_embedded_redis",
            per_second.into(),
            format!("ingestion, embedded, Redis: {per_second:.0} events/s"),
        );
        let bytes: i64 = redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(format!("skewless:{{{}}}:log", transform.name()))
            .arg("SAMPLES")
            .arg(0)
            .query(&mut connection)
            .expect("MEMORY USAGE");
        let held = shared.stats().events;
        record(
            "redis_bytes_per_event",
            (bytes as f64 / held as f64).into(),
            format!(
                "Redis holds the stream in {:.0} MiB: {:.0} bytes per event held ({held})",
                bytes as f64 / 1048576.0,
                bytes as f64 / held as f64
            ),
        );
        embedded_section(&shared, &keys, &options, "redis_", &mut record);
        drop(shared);
        http_section(
            &transform,
            state,
            None,
            &keys,
            &options,
            "redis_",
            &mut record,
        );
    }
    if let Some(out) = &options.out {
        let mut file = std::fs::File::create(out).expect("out");
        writeln!(
            file,
            "{}",
            serde_json::to_string_pretty(&serde_json::Value::Object(report)).expect("JSON")
        )
        .expect("write");
    }
    println!("{}", lines.join("\n"));
}

type Record<'a> = dyn FnMut(&str, serde_json::Value, String) + 'a;

/// Single-row queries as of now, embedded, for random cards and for the
/// busiest.
fn embedded_section(
    online: &Online,
    keys: &[u64],
    options: &Options,
    prefix: &str,
    record: &mut Record<'_>,
) {
    for (name, keys) in [("random", keys.to_vec()), ("busiest", vec![0])] {
        let mut latencies = embedded_queries(online, &keys, options.seconds);
        let (p50, p99, _) = percentiles(&mut latencies);
        record(
            &format!("query_embedded_{prefix}{name}"),
            serde_json::json!({"p50_us": micros(p50), "p99_us": micros(p99)}),
            format!(
                "query, embedded, {prefix}{name} card: p50 {:.1} us, p99 {:.1} us",
                micros(p50),
                micros(p99)
            ),
        );
    }
}

/// A server with its state as `state`: the events posted over one
/// connection (when given), then single-row queries at 1 and 16
/// connections beside its `/healthz`.
fn http_section(
    transform: &skewless::Transform,
    state: StateOptions,
    events: Option<&[String]>,
    keys: &[u64],
    options: &Options,
    prefix: &str,
    record: &mut Record<'_>,
) {
    let config = skewless::serve::ServeConfig::default().state(state);
    let (addr, stop, thread) =
        skewless_benches::start_server_with(vec![transform.clone()], 2, config);
    if let Some(events) = events {
        let mut connection = Connection::open(addr).expect("connect");
        let path = format!("/v1/events/{}", transform.name());
        let per_second = rate(events, options.batch, |rows| {
            let request = connection.post_request(&path, &body(rows));
            let status = connection.send(&request).expect("post");
            assert_eq!(
                status,
                200,
                "{}",
                String::from_utf8_lossy(connection.body())
            );
        });
        record(
            &format!("ingest_http_{prefix}dir"),
            per_second.into(),
            format!("ingestion, HTTP, one connection, state directory: {per_second:.0} events/s"),
        );
    }
    let path = format!("/v1/transforms/{}", transform.name());
    let random_bodies: Vec<String> = keys
        .iter()
        .enumerate()
        .map(|(i, &key)| body(&[query_row(key, i as u64 % 500)]))
        .collect();
    let busiest_bodies = vec![body(&[query_row(0, 42)])];
    for connections in [1, 16] {
        for (name, path, bodies) in [
            ("healthz", "/healthz", &random_bodies),
            ("random", path.as_str(), &random_bodies),
            ("busiest", path.as_str(), &busiest_bodies),
        ] {
            let (mut latencies, per_second) =
                http_queries(addr, path, bodies, connections, options.seconds);
            let (p50, p99, _) = percentiles(&mut latencies);
            record(
                &format!("http_{prefix}{name}_{connections}"),
                serde_json::json!({
                    "p50_us": micros(p50), "p99_us": micros(p99), "per_second": per_second,
                }),
                format!(
                    "HTTP {prefix}{name} at {connections} connection(s): p50 {:.0} us, p99 {:.0} \
                     us, {per_second:.0} requests/s",
                    micros(p50),
                    micros(p99)
                ),
            );
        }
    }
    let _ = stop.send(());
    let _ = thread.join();
}

fn tempfile_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "skewless-online-bench-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("state dir");
    dir
}
