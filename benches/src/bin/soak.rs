//! A soak test of `skewless serve`: many connections for many minutes, good
//! requests mixed with hostile ones, checking that no good request fails or
//! changes its answer, that latency does not creep up and that resident
//! memory stays flat. `bash scripts/soak.sh` builds what it needs and runs it;
//! it is not part of CI's default run (it takes ten minutes).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use skewless_benches::{Connection, Example, ServerProcess, rss_kib};

const USAGE: &str = "\
Usage: soak --skewless PATH [--minutes N] [--connections N] [--out FILE.json]

Starts `PATH serve` with fraud-features and three hostile guests, then drives
it for N minutes [default: 10] over N keep-alive connections [default: 16].
Each connection sends single-row fraud-features requests, and in turn the
hostile requests that are due (shared by all connections):

  loop       a guest that never returns (stopped by its CPU budget)  2 a second
  memory     a guest that grows its memory by 64 MiB, then returns    2 a second
  panic      a guest that panics (a crash: 500)                      20 a second
  malformed  a body that is not JSON                                 20 a second

It passes (exit 0) when no good request fails or answers other than the
first one did, no hostile request goes unanswered or gets an unexpected
status, every minute's good-request p99 is within 2x of the first minute's,
and the server's resident memory in the last minute (median of samples
every second) is within 50 MiB of the first minute's.

Example: soak --skewless target/release/skewless --minutes 1 --out /tmp/soak.json";

/// The kinds of request sent, hostile ones with their rate per second and
/// the statuses they may get.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Good,
    Loop,
    Memory,
    Panic,
    Malformed,
}

impl Kind {
    const HOSTILE: [Kind; 4] = [Kind::Loop, Kind::Memory, Kind::Panic, Kind::Malformed];

    fn name(self) -> &'static str {
        match self {
            Kind::Good => "good",
            Kind::Loop => "loop",
            Kind::Memory => "memory",
            Kind::Panic => "panic",
            Kind::Malformed => "malformed",
        }
    }

    fn per_second(self) -> f64 {
        match self {
            Kind::Good => f64::INFINITY,
            Kind::Loop | Kind::Memory => 2.0,
            Kind::Panic | Kind::Malformed => 20.0,
        }
    }

    /// Statuses this kind of request may get from a healthy server.
    fn expected(self, status: u16) -> bool {
        match self {
            Kind::Good | Kind::Memory => status == 200,
            // The CPU budget (422) or the deadline (503) stops it.
            Kind::Loop => status == 422 || status == 503,
            // A crash is the transform's defect, not the request's.
            Kind::Panic => status == 500,
            Kind::Malformed => status == 400,
        }
    }

    fn request(self, connection: &Connection) -> Vec<u8> {
        match self {
            Kind::Good => connection.post_request(
                "/v1/transforms/fraud-features",
                &Example::Fraud.request_body(),
            ),
            Kind::Loop => {
                connection.post_request("/v1/transforms/infinite-loop", r#"{"rows":[{"x":1}]}"#)
            }
            Kind::Memory => connection.post_request(
                "/v1/transforms/memory-hog",
                r#"{"rows":[{"megabytes":64}]}"#,
            ),
            Kind::Panic => {
                connection.post_request("/v1/transforms/panics", r#"{"rows":[{"amount":-1.0}]}"#)
            }
            Kind::Malformed => {
                connection.post_request("/v1/transforms/fraud-features", r#"{"rows":[{"amount":"#)
            }
        }
    }
}

/// One request's outcome.
struct Sample {
    /// When it was sent, from the start of the soak.
    at: Duration,
    latency: Duration,
    kind: Kind,
    status: Option<u16>,
    /// A good request whose answer differed from the first good answer.
    changed: bool,
}

/// When each hostile kind is next due.
struct Schedule {
    due: Mutex<BTreeMap<Kind, Instant>>,
}

impl Schedule {
    fn new(start: Instant) -> Self {
        Schedule {
            due: Mutex::new(Kind::HOSTILE.iter().map(|&k| (k, start)).collect()),
        }
    }

    /// The hostile request due now, if any (taken: no other connection gets it).
    fn take(&self, now: Instant) -> Option<Kind> {
        let mut due = self.due.lock().expect("schedule");
        for (kind, at) in due.iter_mut() {
            if *at <= now {
                *at += Duration::from_secs_f64(1.0 / kind.per_second());
                return Some(*kind);
            }
        }
        None
    }
}

struct Options {
    skewless: PathBuf,
    minutes: u64,
    connections: usize,
    out: Option<PathBuf>,
}

fn main() {
    let options = parse_args();
    use skewless_test_artifacts as artifacts;
    let mut server = ServerProcess::start(
        &options.skewless,
        &[
            artifacts::FRAUD_FEATURES,
            artifacts::INFINITE_LOOP,
            artifacts::MEMORY_HOG,
            artifacts::PANICS,
        ],
        "soak",
    );
    let addr = server.addr;
    std::thread::sleep(Duration::from_secs(1));
    let idle = rss_kib(server.child.id()).unwrap_or(0);
    eprintln!(
        "soak: {} connections for {} minutes against {addr} (server pid {}, idle RSS {} MiB)",
        options.connections,
        options.minutes,
        server.child.id(),
        idle / 1024
    );

    let start_time = Instant::now();
    let duration = Duration::from_secs(options.minutes * 60);
    let deadline = start_time + duration;
    let schedule = Schedule::new(start_time);
    let expected: Mutex<Option<Vec<u8>>> = Mutex::new(None);
    let done = Arc::new(AtomicBool::new(false));
    let pid = server.child.id();
    let rss_done = Arc::clone(&done);
    let sampler = std::thread::spawn(move || {
        let mut samples = Vec::new();
        while !rss_done.load(Ordering::Relaxed) {
            if let Some(kib) = rss_kib(pid) {
                samples.push((start_time.elapsed(), kib));
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        samples
    });
    let progress_done = Arc::clone(&done);
    let progress = std::thread::spawn(move || {
        let mut minute = 1;
        while !progress_done.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(200));
            if start_time.elapsed() >= Duration::from_secs(60 * minute) {
                eprintln!("soak: minute {minute} of {} done", duration.as_secs() / 60);
                minute += 1;
            }
        }
    });

    let samples: Vec<Sample> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..options.connections)
            .map(|_| {
                let (schedule, expected) = (&schedule, &expected);
                scope.spawn(move || drive(addr, deadline, start_time, schedule, expected))
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("connection"))
            .collect()
    });
    done.store(true, Ordering::Relaxed);
    let rss = sampler.join().expect("sampler");
    progress.join().expect("progress");
    let still_running = server.child.try_wait().ok().flatten().is_none();
    let _ = server.child.kill();
    let _ = server.child.wait();

    let (summary, passed) = summarize(&samples, &rss, idle, options.minutes, still_running);
    println!("{}", summary["text"].as_str().unwrap_or_default());
    if let Some(out) = &options.out {
        let json = serde_json::to_string_pretty(&summary).expect("summary");
        std::fs::write(out, json + "\n").expect("write the summary");
        eprintln!("soak: wrote {}", out.display());
    }
    eprintln!("soak: server log in {}", server.log.display());
    std::process::exit(if passed { 0 } else { 1 });
}

fn parse_args() -> Options {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut options = Options {
        skewless: PathBuf::new(),
        minutes: 10,
        connections: 16,
        out: None,
    };
    let fail = |why: String| -> ! {
        eprintln!("soak: {why}\n\n{USAGE}");
        std::process::exit(2);
    };
    let mut i = 0;
    while i < args.len() {
        let value = || {
            args.get(i + 1)
                .cloned()
                .unwrap_or_else(|| fail(format!("{} needs a value", args[i])))
        };
        match args[i].as_str() {
            "--skewless" => options.skewless = PathBuf::from(value()),
            "--minutes" => {
                options.minutes = value()
                    .parse()
                    .ok()
                    .filter(|&m| m > 0)
                    .unwrap_or_else(|| fail("--minutes needs a positive whole number".into()))
            }
            "--connections" => {
                options.connections =
                    value().parse().ok().filter(|&c| c > 0).unwrap_or_else(|| {
                        fail("--connections needs a positive whole number".into())
                    })
            }
            "--out" => options.out = Some(PathBuf::from(value())),
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => fail(format!("unknown argument `{other}`")),
        }
        i += 2;
    }
    if options.skewless.as_os_str().is_empty() {
        fail("--skewless PATH is needed (e.g. target/release/skewless)".into());
    }
    options
}

/// One connection's requests until `deadline`.
fn drive(
    addr: SocketAddr,
    deadline: Instant,
    start: Instant,
    schedule: &Schedule,
    expected: &Mutex<Option<Vec<u8>>>,
) -> Vec<Sample> {
    let mut samples = Vec::new();
    let mut connection = Connection::open(addr).expect("connect");
    let requests: BTreeMap<Kind, Vec<u8>> = [Kind::Good]
        .iter()
        .chain(&Kind::HOSTILE)
        .map(|&k| (k, k.request(&connection)))
        .collect();
    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let kind = schedule.take(now).unwrap_or(Kind::Good);
        let sent = Instant::now();
        let status = connection.send(&requests[&kind]);
        let latency = sent.elapsed();
        let mut changed = false;
        if kind == Kind::Good
            && let Ok(200) = status
        {
            let mut expected = expected.lock().expect("expected");
            match &*expected {
                Some(first) => changed = first.as_slice() != connection.body(),
                None => *expected = Some(connection.body().to_vec()),
            }
        }
        let failed = status.is_err();
        samples.push(Sample {
            at: sent - start,
            latency,
            kind,
            status: status.ok(),
            changed,
        });
        if failed {
            // The server closed the connection (as it does after a
            // malformed request it cannot resync on): open another.
            match Connection::open(addr) {
                Ok(c) => connection = c,
                Err(_) => break,
            }
        }
    }
    samples
}

/// Resident memory of process `pid`, in KiB (Linux `/proc`).
fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}

fn median_kib(values: &mut [u64]) -> u64 {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or(0)
}

/// The summary as JSON (with a `text` rendering), and whether it passed.
fn summarize(
    samples: &[Sample],
    rss: &[(Duration, u64)],
    idle_kib: u64,
    minutes: u64,
    still_running: bool,
) -> (serde_json::Value, bool) {
    use std::fmt::Write as _;
    let mut text = String::new();
    let mut per_minute = Vec::new();
    let _ = writeln!(
        text,
        "| minute | good requests | good p50 | good p99 | good failed | hostile (loop/memory/panic/malformed) | RSS median | RSS max |"
    );
    let _ = writeln!(text, "|---:|---:|---:|---:|---:|---|---:|---:|");
    let mut first_p99 = None;
    let mut worst_p99_ratio: f64 = 0.0;
    let mut rss_first = 0;
    let mut rss_last = 0;
    for minute in 0..minutes {
        let range = Duration::from_secs(minute * 60)..Duration::from_secs((minute + 1) * 60);
        let in_minute: Vec<&Sample> = samples.iter().filter(|s| range.contains(&s.at)).collect();
        let mut good: Vec<Duration> = in_minute
            .iter()
            .filter(|s| s.kind == Kind::Good && s.status == Some(200) && !s.changed)
            .map(|s| s.latency)
            .collect();
        good.sort_unstable();
        let good_failed = in_minute
            .iter()
            .filter(|s| s.kind == Kind::Good && (s.status != Some(200) || s.changed))
            .count();
        let hostile: Vec<usize> = Kind::HOSTILE
            .iter()
            .map(|&k| in_minute.iter().filter(|s| s.kind == k).count())
            .collect();
        let (p50, p99) = (percentile(&good, 0.5), percentile(&good, 0.99));
        let first = *first_p99.get_or_insert(p99);
        worst_p99_ratio = worst_p99_ratio.max(p99.as_secs_f64() / first.as_secs_f64());
        let mut rss_minute: Vec<u64> = rss
            .iter()
            .filter(|(at, _)| range.contains(at))
            .map(|&(_, kib)| kib)
            .collect();
        let rss_max = rss_minute.iter().copied().max().unwrap_or(0);
        let rss_median = median_kib(&mut rss_minute);
        if minute == 0 {
            rss_first = rss_median;
        }
        rss_last = rss_median;
        let _ = writeln!(
            text,
            "| {} | {} | {:.0} µs | {:.0} µs | {good_failed} | {} | {} MiB | {} MiB |",
            minute + 1,
            good.len(),
            p50.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6,
            hostile
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(" / "),
            rss_median / 1024,
            rss_max / 1024,
        );
        per_minute.push(serde_json::json!({
            "minute": minute + 1,
            "good": good.len(),
            "good_failed": good_failed,
            "good_p50_us": p50.as_secs_f64() * 1e6,
            "good_p99_us": p99.as_secs_f64() * 1e6,
            "hostile": Kind::HOSTILE.iter().zip(&hostile)
                .map(|(k, n)| (k.name().to_string(), serde_json::json!(n)))
                .collect::<serde_json::Map<_, _>>(),
            "rss_median_kib": rss_median,
            "rss_max_kib": rss_max,
        }));
    }

    let mut statuses: BTreeMap<(Kind, Option<u16>), usize> = BTreeMap::new();
    for s in samples {
        *statuses.entry((s.kind, s.status)).or_default() += 1;
    }
    let good_failed = samples
        .iter()
        .filter(|s| s.kind == Kind::Good && (s.status != Some(200) || s.changed))
        .count();
    let changed = samples.iter().filter(|s| s.changed).count();
    let unexpected: usize = statuses
        .iter()
        .filter(|((kind, status), _)| {
            *kind != Kind::Good && !status.is_some_and(|s| kind.expected(s))
        })
        .map(|(_, n)| n)
        .sum();
    let rss_growth_kib = rss_last as i64 - rss_first as i64;
    let checks = [
        (
            "no good request failed or changed its answer",
            good_failed == 0,
        ),
        (
            "every hostile request got an expected status",
            unexpected == 0,
        ),
        (
            "every minute's good p99 within 2x of the first minute's",
            worst_p99_ratio <= 2.0,
        ),
        (
            "last minute's RSS median within 50 MiB of the first minute's",
            rss_growth_kib <= 50 * 1024,
        ),
        ("the server is still running", still_running),
    ];
    let _ = writeln!(
        text,
        "\nIdle RSS before the soak: {} MiB. Statuses:",
        idle_kib / 1024
    );
    for ((kind, status), n) in &statuses {
        let status = status.map_or("no answer".to_string(), |s| s.to_string());
        let _ = writeln!(text, "- {}: {status} x{n}", kind.name());
    }
    let _ = writeln!(
        text,
        "\nGood answers that differed from the first: {changed}. Worst minute p99 / first \
         minute p99: {worst_p99_ratio:.2}x. RSS median, last minute minus first: {:+} MiB.\n",
        rss_growth_kib / 1024
    );
    for (check, ok) in checks {
        let _ = writeln!(text, "{} {check}", if ok { "PASS" } else { "FAIL" });
    }
    let passed = checks.iter().all(|(_, ok)| *ok);
    let summary = serde_json::json!({
        "text": text,
        "passed": passed,
        "idle_rss_kib": idle_kib,
        "worst_p99_ratio": worst_p99_ratio,
        "rss_growth_kib": rss_growth_kib,
        "good_failed": good_failed,
        "unexpected_hostile": unexpected,
        "statuses": statuses.iter().map(|((k, s), n)| serde_json::json!({
            "kind": k.name(), "status": s, "count": n
        })).collect::<Vec<_>>(),
        "minutes": per_minute,
    });
    (summary, passed)
}
