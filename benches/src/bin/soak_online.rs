//! A soak test of served aggregations: `skewless serve card_velocity.wasm
//! --state DIR` fed events over one connection at a steady rate while 16
//! connections ask single-row features, for minutes, over 100,000 cards.
//! `bash scripts/soak-online.sh` builds what it needs and runs it; it is not
//! part of CI's default run (it takes ten minutes).
//!
//! Event times run on a simulated clock, `--speed` times faster than the
//! wall clock (3,000 by default: ten minutes cover about 21 days), so that
//! the 7-day windows fill and expiry runs within the soak; every event and
//! query is at the simulated "now". At the end the server is killed with
//! SIGKILL and restarted on the same directory: the events it holds after
//! the replay must be exactly the acknowledged events not yet expired.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use skewless_benches::{Connection, ServerProcess, XorShift, card_id, rss_kib};
use skewless_test_artifacts as artifacts;

const USAGE: &str = "\
Usage: soak-online --skewless PATH [--minutes N] [--connections N] [--keys N]
                   [--events-per-second N] [--speed N] [--out FILE.json]

Serves card-velocity from a state directory for N minutes [default: 10]:
one connection posts N events a second [default: 12000] in batches of 500
over N cards [default: 100000] while N connections [default: 16] ask
single-row features; event times run N times faster than the clock
[default: 3000], so the 7-day windows fill and expire during the soak.

Passes (exit 0) when every request is answered 200 and every event applied,
every minute's query p99 is within 2x of the first minute's, resident
memory and the state directory's size in the last minute are within 25% of
their size when the windows had filled, and, after a SIGKILL and a restart,
the state holds exactly the acknowledged events that had not expired.";

const WEEK: i64 = 7 * 86_400 * 1_000_000;
const LAG: i64 = 3_600 * 1_000_000;
const BATCH: usize = 500;

struct Options {
    skewless: PathBuf,
    minutes: u64,
    connections: usize,
    keys: u64,
    per_second: u64,
    speed: i64,
    out: Option<PathBuf>,
}

fn parse_args() -> Options {
    let mut options = Options {
        skewless: PathBuf::new(),
        minutes: 10,
        connections: 16,
        keys: 100_000,
        per_second: 12_000,
        speed: 3_000,
        out: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next().unwrap_or_else(|| {
                eprintln!("soak-online: {arg} needs a value\n\n{USAGE}");
                std::process::exit(2)
            })
        };
        let number = |text: String| -> u64 {
            text.parse().unwrap_or_else(|_| {
                eprintln!("soak-online: `{text}` is not a number\n\n{USAGE}");
                std::process::exit(2)
            })
        };
        match arg.as_str() {
            "--skewless" => options.skewless = PathBuf::from(value()),
            "--minutes" => options.minutes = number(value()).max(1),
            "--connections" => options.connections = number(value()).max(1) as usize,
            "--keys" => options.keys = number(value()).max(2),
            "--events-per-second" => options.per_second = number(value()).max(1),
            "--speed" => options.speed = number(value()).max(1) as i64,
            "--out" => options.out = Some(PathBuf::from(value())),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => {
                eprintln!("soak-online: unknown argument `{other}`\n\n{USAGE}");
                std::process::exit(2);
            }
        }
    }
    if options.skewless.as_os_str().is_empty() {
        eprintln!("soak-online: --skewless is required\n\n{USAGE}");
        std::process::exit(2);
    }
    options
}

/// The simulated clock: UTC microseconds, `speed` times the wall clock's
/// pace from `base` at `start`.
#[derive(Clone, Copy)]
struct Clock {
    start: Instant,
    base: i64,
    speed: i64,
}

impl Clock {
    fn now(&self) -> i64 {
        self.base + self.start.elapsed().as_micros() as i64 * self.speed
    }
}

fn text(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .expect("a time")
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The size of the files under `dir`, in bytes.
fn disk_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => disk_bytes(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// The events the server holds (by card and time), from its export.
fn exported(addr: std::net::SocketAddr) -> HashSet<(String, String)> {
    let mut connection = Connection::open(addr).expect("connect");
    let request = format!("GET /v1/events/card-velocity HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let status = connection.send(request.as_bytes()).expect("export");
    assert_eq!(
        status,
        200,
        "{}",
        String::from_utf8_lossy(connection.body())
    );
    String::from_utf8_lossy(connection.body())
        .lines()
        .map(|line| {
            let row: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            (
                row["card_id"].as_str().expect("card_id").to_string(),
                row["ts"].as_str().expect("ts").to_string(),
            )
        })
        .collect()
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}

fn main() {
    let options = parse_args();
    let dir = std::env::temp_dir().join(format!("skewless-soak-online-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let dir_text = dir
        .to_str()
        .expect("a UTF-8 temporary directory")
        .to_string();
    let serve_args = [artifacts::CARD_VELOCITY, "--state", &dir_text];
    let mut server = ServerProcess::start(&options.skewless, &serve_args, "soak-online");
    let addr = server.addr;
    let minutes = options.minutes;
    let duration = Duration::from_secs(minutes * 60);
    // Simulated time ends at the wall clock's now, a little before.
    let span = duration.as_micros() as i64 * options.speed;
    let clock = Clock {
        start: Instant::now(),
        base: skewless::online::now_micros() - span - 60_000_000,
        speed: options.speed,
    };
    let fill_after = Duration::from_micros(((WEEK + LAG) / options.speed) as u64);
    eprintln!(
        "soak-online: {minutes} min against {addr} (pid {}): {} events/s over {} cards, {} query \
         connections; the windows fill after {:.0} s",
        server.child.id(),
        options.per_second,
        options.keys,
        options.connections,
        fill_after.as_secs_f64()
    );
    let deadline = clock.start + duration;
    let done = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicU64::new(0));
    // (card, ts) of every acknowledged event.
    let acknowledged: Mutex<Vec<(String, String, i64)>> = Mutex::new(Vec::new());
    let sent = AtomicU64::new(0);
    let pid = server.child.id();
    let (latencies, samples) = std::thread::scope(|scope| {
        // Resident memory and disk, every second.
        let sampler = scope.spawn(|| {
            let mut samples = Vec::new();
            while !done.load(Ordering::Relaxed) {
                samples.push((
                    clock.start.elapsed(),
                    rss_kib(pid).unwrap_or(0),
                    disk_bytes(&dir),
                ));
                std::thread::sleep(Duration::from_secs(1));
            }
            samples
        });
        // Ingestion: batches at a steady rate, each card's events in time
        // order (the example declares no lateness), every time distinct.
        scope.spawn(|| {
            let mut connection = Connection::open(addr).expect("connect");
            let mut random = XorShift(0x2545_f491_4f6c_dd1d);
            let interval = Duration::from_secs_f64(BATCH as f64 / options.per_second as f64);
            let mut next = Instant::now();
            let mut last = i64::MIN;
            while Instant::now() < deadline {
                let mut rows = Vec::with_capacity(BATCH);
                let mut events = Vec::with_capacity(BATCH);
                for _ in 0..BATCH {
                    let time = clock.now().max(last + 1);
                    last = time;
                    let key = card_id(random.below(options.keys));
                    let ts = text(time);
                    rows.push(format!(
                        r#"{{"card_id":"{key}","ts":"{ts}","amount":{}.25,"merchant":"m{}","declined":{}}}"#,
                        random.below(2_000),
                        random.below(8),
                        random.below(25) == 0
                    ));
                    events.push((key, ts, time));
                }
                let body = format!("{{\"rows\":[{}]}}", rows.join(","));
                let request = connection.post_request("/v1/events/card-velocity", &body);
                match connection.send(&request) {
                    Ok(200) => {
                        let answer: serde_json::Value =
                            serde_json::from_slice(connection.body()).expect("JSON");
                        if answer["applied"] != BATCH {
                            eprintln!("soak-online: not every event applied: {answer}");
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                        acknowledged.lock().expect("acks").extend(events);
                    }
                    other => {
                        eprintln!(
                            "soak-online: events answered {other:?}: {}",
                            String::from_utf8_lossy(connection.body())
                        );
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
                sent.fetch_add(BATCH as u64, Ordering::Relaxed);
                next += interval;
                if let Some(wait) = next.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
        });
        // Queries at the simulated now.
        let workers: Vec<_> = (0..options.connections)
            .map(|worker| {
                let failures = &failures;
                scope.spawn(move || {
                    let mut connection = Connection::open(addr).expect("connect");
                    let mut random = XorShift(0x9e37_79b9_7f4a_7c15 + worker as u64);
                    let mut latencies = Vec::new();
                    while Instant::now() < deadline {
                        let body = format!(
                            r#"{{"rows":[{{"card_id":"{}","ts":"{}","amount":42.5}}]}}"#,
                            card_id(random.below(options.keys)),
                            text(clock.now())
                        );
                        let request =
                            connection.post_request("/v1/transforms/card-velocity", &body);
                        let at = clock.start.elapsed();
                        let started = Instant::now();
                        let status = connection.send(&request);
                        latencies.push((at, started.elapsed()));
                        if !matches!(status, Ok(200)) {
                            eprintln!(
                                "soak-online: a query answered {status:?}: {}",
                                String::from_utf8_lossy(connection.body())
                            );
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    latencies
                })
            })
            .collect();
        let latencies: Vec<(Duration, Duration)> = workers
            .into_iter()
            .flat_map(|w| w.join().expect("worker"))
            .collect();
        done.store(true, Ordering::Relaxed);
        (latencies, sampler.join().expect("sampler"))
    });

    // Per minute: query p99, requests, memory, disk.
    let mut report = Vec::new();
    let mut ok = failures.load(Ordering::Relaxed) == 0;
    let mut first_p99 = None;
    println!("minute  queries  p50 us  p99 us  rss MiB  state MiB");
    for minute in 0..minutes {
        let from = Duration::from_secs(minute * 60);
        let to = from + Duration::from_secs(60);
        let mut these: Vec<Duration> = latencies
            .iter()
            .filter(|(at, _)| *at >= from && *at < to)
            .map(|(_, l)| *l)
            .collect();
        these.sort_unstable();
        let (p50, p99) = (percentile(&these, 0.5), percentile(&these, 0.99));
        let last = samples.iter().rev().find(|(at, _, _)| *at < to);
        let (rss, disk) = last.map_or((0, 0), |(_, r, d)| (*r, *d));
        println!(
            "{:>6}  {:>7}  {:>6}  {:>6}  {:>7}  {:>9.1}",
            minute + 1,
            these.len(),
            p50.as_micros(),
            p99.as_micros(),
            rss / 1024,
            disk as f64 / (1 << 20) as f64
        );
        let first = *first_p99.get_or_insert(p99);
        if p99 > first * 2 {
            eprintln!(
                "soak-online: minute {} p99 {p99:?} > 2x the first's {first:?}",
                minute + 1
            );
            ok = false;
        }
        report.push(serde_json::json!({
            "minute": minute + 1, "queries": these.len(), "p50_us": p50.as_micros() as u64,
            "p99_us": p99.as_micros() as u64, "rss_kib": rss, "state_bytes": disk,
        }));
    }
    // Flat once the windows are full: the last sample against the first
    // after they filled.
    let filled = samples.iter().find(|(at, _, _)| *at >= fill_after);
    let last = samples.last();
    if let (Some((_, rss0, disk0)), Some((_, rss1, disk1))) = (filled, last) {
        let grew = |a: u64, b: u64| b as f64 > a as f64 * 1.25;
        println!(
            "when the windows had filled: rss {} MiB, state {:.1} MiB; at the end: rss {} MiB, \
             state {:.1} MiB",
            rss0 / 1024,
            *disk0 as f64 / (1 << 20) as f64,
            rss1 / 1024,
            *disk1 as f64 / (1 << 20) as f64
        );
        if grew(*rss0, *rss1) || grew(*disk0, *disk1) {
            eprintln!("soak-online: memory or disk grew by more than 25% after the windows filled");
            ok = false;
        }
    } else {
        eprintln!("soak-online: the windows never filled (a longer soak, or a higher --speed)");
        ok = false;
    }

    // SIGKILL, restart on the same directory, compare with what was acknowledged.
    let held_before = exported(addr);
    let _ = server.child.kill();
    let _ = server.child.wait();
    let mut restarted = ServerProcess::start(&options.skewless, &serve_args, "soak-online");
    let held = exported(restarted.addr);
    let acknowledged = acknowledged.into_inner().expect("acks");
    let newest = acknowledged
        .iter()
        .map(|(_, _, t)| *t)
        .max()
        .unwrap_or(i64::MIN);
    // Events at or after this can never have expired (lateness 0).
    let horizon = newest.saturating_sub(LAG).saturating_sub(WEEK);
    let acked: HashSet<(String, String)> = acknowledged
        .iter()
        .map(|(k, ts, _)| (k.clone(), ts.clone()))
        .collect();
    let lost = acknowledged
        .iter()
        .filter(|(k, ts, t)| *t >= horizon && !held.contains(&(k.clone(), ts.clone())))
        .count();
    let unknown = held.iter().filter(|e| !acked.contains(*e)).count();
    println!(
        "events: {} sent, {} acknowledged, {} held before the SIGKILL, {} after the restart; \
         {lost} acknowledged and unexpired missing, {unknown} held that were never acknowledged",
        sent.load(Ordering::Relaxed),
        acknowledged.len(),
        held_before.len(),
        held.len()
    );
    if lost > 0 || unknown > 0 || held != held_before {
        ok = false;
    }
    let _ = restarted.child.kill();
    let _ = restarted.child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    if let Some(out) = &options.out {
        let summary = serde_json::json!({
            "passed": ok, "minutes": report, "acknowledged": acknowledged.len(),
            "held_after_restart": held.len(), "lost": lost, "unknown": unknown,
        });
        std::fs::write(out, serde_json::to_string_pretty(&summary).expect("JSON")).expect("out");
    }
    println!("{}", if ok { "PASSED" } else { "FAILED" });
    eprintln!(
        "soak-online: server logs in {} and {}",
        server.log.display(),
        restarted.log.display()
    );
    std::process::exit(if ok { 0 } else { 1 });
}
