//! One line per failed request, for the operator: what failed, where, and
//! how often, without scraping `/metrics`.
//!
//! Each line is a JSON object (so log collectors parse it without a
//! pattern):
//!
//! ```text
//! {"time":"2026-12-02T01:22:26.104127Z","event":"request_failed","status":400,"kind":"missing_field","transform":"fraud-features","row":0,"field":"hour","ms":0.21}
//! ```
//!
//! Row values stay out of the log by default: an error's message can quote
//! what the client sent (`"abc" is not an int64`), so it is written only
//! with [`ErrorLog::Full`]. Lines are rate-limited (a burst of
//! [`LINES_PER_SECOND`], then that many a second); a line written after
//! some were dropped says how many with `"dropped_before"`.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;

/// Lines written per second at most (and the size of a burst).
pub const LINES_PER_SECOND: u32 = 20;

/// What `skewless serve` logs about failed requests, on stderr.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorLog {
    /// Nothing.
    Off,
    /// Status, error kind, transform, row, field and time: no values from
    /// the request. The default.
    #[default]
    Summary,
    /// The summary and the error's message, which can quote values the
    /// client sent.
    Full,
}

impl std::str::FromStr for ErrorLog {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "off" => Ok(ErrorLog::Off),
            "summary" => Ok(ErrorLog::Summary),
            "full" => Ok(ErrorLog::Full),
            _ => Err(format!(
                "`{text}` is not an error log setting: use `summary` (the default), `full` \
                 (with messages, which can quote request values) or `off`"
            )),
        }
    }
}

/// Where lines go: stderr unless an embedder says otherwise.
pub(super) type Sink = Box<dyn Fn(&str) + Send + Sync>;

/// The rate-limited writer of failure lines.
pub(super) struct FailureLog {
    level: ErrorLog,
    sink: Sink,
    bucket: Mutex<Bucket>,
}

struct Bucket {
    tokens: f64,
    refilled: Instant,
    dropped: u64,
}

/// What one failed request was.
pub(super) struct Failed<'a> {
    pub(super) status: u16,
    pub(super) kind: &'a str,
    pub(super) transform: &'a str,
    pub(super) row: Option<u64>,
    pub(super) field: Option<&'a str>,
    pub(super) message: &'a str,
    pub(super) elapsed: Duration,
}

impl FailureLog {
    pub(super) fn new(level: ErrorLog) -> Self {
        FailureLog {
            level,
            sink: Box::new(|line| eprintln!("{line}")),
            bucket: Mutex::new(Bucket {
                tokens: f64::from(LINES_PER_SECOND),
                refilled: Instant::now(),
                dropped: 0,
            }),
        }
    }

    pub(super) fn set_sink(&mut self, sink: Sink) {
        self.sink = sink;
    }

    /// Logs `failed`, unless the log is off or over its rate.
    pub(super) fn failed(&self, failed: &Failed<'_>) {
        if self.level == ErrorLog::Off {
            return;
        }
        let dropped = {
            let mut bucket = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let refill = now.duration_since(bucket.refilled).as_secs_f64();
            let rate = f64::from(LINES_PER_SECOND);
            bucket.tokens = (bucket.tokens + refill * rate).min(rate);
            bucket.refilled = now;
            if bucket.tokens < 1.0 {
                bucket.dropped += 1;
                return;
            }
            bucket.tokens -= 1.0;
            std::mem::take(&mut bucket.dropped)
        };
        let mut line = json!({
            "time": now_rfc3339(),
            "event": "request_failed",
            "status": failed.status,
            "kind": failed.kind,
            "transform": failed.transform,
            "row": failed.row,
            "field": failed.field,
            "ms": (failed.elapsed.as_secs_f64() * 1e5).round() / 1e2,
        });
        if self.level == ErrorLog::Full {
            line["message"] = failed.message.into();
        }
        if dropped > 0 {
            line["dropped_before"] = dropped.into();
        }
        (self.sink)(&line.to_string());
    }
}

fn now_rfc3339() -> String {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_micros() as i64);
    let mut text = String::with_capacity(32);
    crate::codec::text::write_timestamp(
        micros,
        arrow::datatypes::TimeUnit::Microsecond,
        true,
        &mut text,
    );
    text
}
