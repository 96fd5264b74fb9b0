//! The module that implements the `skewless serve` command.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use skewless::serve::{ErrorLog, ServeConfig, Server, Stopped, serve, shutdown_signal};

use super::{RuntimeArgs, Size, ValueArgs, load, positive};

const EXAMPLES: &str = "\
Examples:
  skewless serve fraud_features.wasm
  skewless serve fraud_features.wasm email_subject.wasm --addr 0.0.0.0:8080
  # Refuse to start unless the component is the one the model was trained with
  # (the sha256 comes from `skewless inspect training-features.parquet`):
  skewless serve fraud_features.wasm --expect fraud-features=9a317f4e...

  curl -s localhost:8080/v1/transforms/fraud-features \\
      -d '{\"rows\": [{\"amount\": 12.5, \"hour\": 3, \"merchant_category\": \"travel\"}]}'

  # Aggregations: events in, features as of now (or of the request's time)
  skewless serve card_velocity.wasm --state /var/lib/skewless
  curl -s localhost:8080/v1/events/card-velocity -d '{\"rows\": [{\"card_id\": \"c1\", \
      \"ts\": \"2026-03-01T10:00:00Z\", \"amount\": 12.5, \"merchant\": \"books\", \"declined\": false}]}'
  curl -s localhost:8080/v1/transforms/card-velocity -d '{\"rows\": [{\"card_id\": \"c1\", \"amount\": 30}]}'
  # Replicas behind a load balancer share one state in Redis
  skewless serve card_velocity.wasm --state redis://127.0.0.1:6379/0 --addr 0.0.0.0:8080";

/// Serve transforms over HTTP: POST JSON rows to /v1/transforms/NAME, get
/// feature rows back, computed by the same component and runtime as
/// `skewless run`.
///
/// Also: GET /v1/transforms (the loaded transforms, specs and sha256s),
/// GET /healthz, GET /metrics (Prometheus). SIGINT or SIGTERM stops the
/// server after requests in flight finish.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct ServeCommand {
    /// The transform components (.wasm) to serve, each under its own name.
    #[arg(value_name = "COMPONENT", required = true)]
    components: Vec<PathBuf>,

    /// The address to listen on: an IP or a host name (e.g. `localhost`),
    /// and a port (0 picks a free one).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8080")]
    addr: String,

    /// Refuse to start unless transform NAME has this sha256 (repeatable).
    #[arg(long = "expect", value_name = "NAME=SHA256", value_parser = parse_pin)]
    expect: Vec<(String, String)>,

    /// Wall-clock limit of one request's transform call, in milliseconds.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 2_000,
        value_parser = positive::<u64>,
        help_heading = "Limits"
    )]
    deadline_ms: u64,

    /// Largest request body, e.g. `4MiB`.
    #[arg(long, value_name = "SIZE", default_value_t = Size(skewless::serve::DEFAULT_MAX_BODY_BYTES), help_heading = "Limits")]
    max_body_bytes: Size,

    /// Most rows in one request.
    #[arg(
        long,
        value_name = "ROWS",
        default_value_t = skewless::serve::DEFAULT_MAX_ROWS,
        value_parser = positive::<usize>,
        help_heading = "Limits"
    )]
    max_rows: usize,

    /// Transform calls that run at once, each on an instance of its own
    /// [default: twice the CPUs]. Memory is bounded by this times
    /// --memory-limit.
    #[arg(long, value_name = "N", value_parser = positive::<usize>, help_heading = "Limits")]
    concurrency: Option<usize>,

    /// Requests that may wait for a call to finish; one more gets 503 with
    /// Retry-After at once, and so does one that waits longer than
    /// --queue-timeout-ms [default: four times the concurrency].
    #[arg(long, value_name = "N", help_heading = "Limits")]
    queue: Option<usize>,

    /// How long a request may wait in the queue before it gets 503, in
    /// milliseconds.
    #[arg(long, value_name = "MS", default_value_t = skewless::serve::DEFAULT_QUEUE_TIMEOUT.as_millis() as u64, value_parser = positive::<u64>, help_heading = "Limits")]
    queue_timeout_ms: u64,

    /// What stderr gets about each failed request (one JSON line, at most
    /// 20 a second): `summary` (status, error kind, transform, row, field;
    /// no request values), `full` (also the message, which can quote
    /// request values) or `off`.
    #[arg(long, value_name = "LEVEL", default_value = "summary", value_parser = parse_error_log)]
    error_log: ErrorLog,

    /// Keep the live state of transforms with aggregations in DIR (each in
    /// a subdirectory named after it): an acknowledged event survives a
    /// crash and a restart. Or in Redis, `redis://HOST:PORT/DB`, shared by
    /// every `skewless serve` given the same URL (each answers from every
    /// event any of them acknowledged; run Redis with `appendonly yes` and
    /// `appendfsync always` to keep them across a crash of Redis). Without
    /// it, the state is in memory and lost when the server stops.
    #[arg(long, value_name = "DIR|URL", help_heading = "Aggregations")]
    state: Option<String>,

    /// How far before the newest event (less the declared lateness) a
    /// request's time may be, e.g. `1h`, `30d`; the state keeps the events
    /// such requests need and no more.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration, help_heading = "Aggregations")]
    query_lag: Duration,

    #[command(flatten)]
    values: ValueArgs,

    #[command(flatten)]
    runtime: RuntimeArgs,
}

fn parse_error_log(text: &str) -> Result<ErrorLog> {
    text.parse().map_err(anyhow::Error::msg)
}

/// `90s`, `15m`, `1h`, `7d` (or `0s`).
fn parse_duration(text: &str) -> Result<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => bail!("`{text}` is not a duration like 90s, 15m, 1h or 7d"),
    };
    let number: u64 = number
        .parse()
        .map_err(|_| anyhow::anyhow!("`{text}` is not a duration like 90s, 15m, 1h or 7d"))?;
    Ok(Duration::from_secs(number.saturating_mul(seconds)))
}

fn parse_pin(text: &str) -> Result<(String, String)> {
    let Some((name, sha256)) = text.split_once('=') else {
        bail!("expected NAME=SHA256, e.g. fraud-features=9a317f4e...");
    };
    let sha256 = sha256.trim().to_ascii_lowercase();
    if sha256.len() != 64 || !sha256.chars().all(|c| c.is_ascii_hexdigit()) {
        bail!("`{sha256}` is not a sha256 (64 hex digits)");
    }
    Ok((name.trim().to_string(), sha256))
}

impl ServeCommand {
    /// Loads, checks pins, and serves until a signal.
    pub fn execute(self) -> Result<ExitCode> {
        let concurrency = self
            .concurrency
            .unwrap_or_else(skewless::default_max_instances);
        let runtime = self.runtime.runtime_with(
            Some(Duration::from_millis(self.deadline_ms)),
            &self.values,
            concurrency,
        )?;
        let transforms = self
            .components
            .iter()
            .map(|component| load(&runtime, component))
            .collect::<Result<Vec<_>>>()?;
        let resets_written_pages = runtime.resets_written_pages();
        let defaults = ServeConfig::default();
        // A request within its deadline can always finish on shutdown.
        let drain_timeout = defaults
            .drain_timeout
            .max(Duration::from_millis(self.deadline_ms) + Duration::from_secs(1));
        let config = defaults
            .max_body_bytes(self.max_body_bytes.0)
            .max_rows(self.max_rows)
            .drain_timeout(drain_timeout)
            .error_log(self.error_log)
            .max_concurrency(concurrency)
            .max_queue(self.queue.unwrap_or(4 * concurrency))
            .queue_timeout(Duration::from_millis(self.queue_timeout_ms))
            .state({
                let state = skewless::online::StateOptions::default().query_lag(self.query_lag);
                match &self.state {
                    Some(location) => state.location(location),
                    None => state,
                }
            });
        let server = Server::new(transforms, config)?;
        for (name, sha256) in &self.expect {
            server
                .expect(name, sha256)
                .with_context(|| format!("refusing to serve (`--expect {name}=...`)"))?;
        }
        let server = Arc::new(server);
        // Guest calls (but small quick ones, which run in place: see
        // `skewless::serve`), durable writes and the state's reads run on
        // tokio's blocking pool, at most `concurrency` at a time (the call
        // slots) plus exports. A pool of that size whose threads stay: tokio's
        // default (up to 512 threads, each leaving after 10 s idle) kept
        // about 40 coming and going under the served-aggregations soak;
        // this pool keeps 12 threads in all there, and answered more
        // queries a minute (BENCHMARKS.md).
        let tokio = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .max_blocking_threads(concurrency + 4)
            .thread_keep_alive(Duration::from_secs(24 * 3600))
            .build()
            .context("cannot start the async runtime")?;
        tokio.block_on(async move {
            let listener = tokio::net::TcpListener::bind(self.addr.as_str())
                .await
                .with_context(|| format!("cannot listen on {}", self.addr))?;
            let addr = listener.local_addr()?;
            for transform in server.transforms().values() {
                eprintln!(
                    "serving {} {} (sha256 {}) at POST http://{addr}/v1/transforms/{}",
                    transform.name(),
                    transform.version(),
                    transform.sha256(),
                    transform.name()
                );
                if let Some(online) = server.online(transform.name()) {
                    let stats = online.stats();
                    let kept = match online.location() {
                        Some(location) => format!("kept in {location}"),
                        None => "in memory only (--state DIR or URL keeps it)".into(),
                    };
                    eprintln!(
                        "  events at POST http://{addr}/v1/events/{}; state {kept}: {} \
                         event(s) of {} entit{}",
                        transform.name(),
                        stats.events,
                        stats.entities,
                        if stats.entities == 1 { "y" } else { "ies" }
                    );
                    if let Some(durability) = online.durability() {
                        eprintln!("  Redis says acknowledged events are {durability}");
                    }
                }
            }
            if cfg!(target_os = "linux") && !resets_written_pages {
                eprintln!(
                    "  note: this kernel does not report the pages a call wrote (PAGEMAP_SCAN, \
                     Linux 6.7 and later), so each call's memory is given back and faulted in \
                     again: clean instances cost more here"
                );
            }
            eprintln!("listening on http://{addr}");
            let signal = shutdown_signal().context("cannot watch for Ctrl-C and SIGTERM")?;
            let drain_timeout = server.config().drain_timeout;
            let stop = async move {
                signal.await;
                eprintln!(
                    "stopping: requests in flight have {} s to finish",
                    drain_timeout.as_secs_f64()
                );
            };
            match serve(listener, server, stop).await? {
                Stopped::Drained => eprintln!("stopped"),
                Stopped::TimedOut => eprintln!(
                    "stopped; connections still open after {} s were closed",
                    drain_timeout.as_secs_f64()
                ),
            }
            anyhow::Ok(())
        })?;
        Ok(ExitCode::SUCCESS)
    }
}
