//! The counters behind `GET /metrics`, rendered as Prometheus text.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::StatusCode;

use crate::engine::Transform;

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 16] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0,
];

/// Counters per transform, fixed at startup.
pub(super) struct Metrics {
    per_transform: BTreeMap<String, TransformMetrics>,
}

#[derive(Default)]
struct TransformMetrics {
    statuses: Mutex<BTreeMap<u16, u64>>,
    errors: Mutex<BTreeMap<&'static str, u64>>,
    rows: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Metrics {
    pub(super) fn new<'a>(names: impl Iterator<Item = &'a str>) -> Self {
        Metrics {
            per_transform: names
                .map(|n| (n.to_string(), TransformMetrics::default()))
                .collect(),
        }
    }

    pub(super) fn record(
        &self,
        name: &str,
        status: StatusCode,
        kind: Option<&'static str>,
        rows: u64,
        elapsed: Duration,
    ) {
        let Some(m) = self.per_transform.get(name) else {
            return;
        };
        *m.statuses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(status.as_u16())
            .or_default() += 1;
        if let Some(kind) = kind {
            *m.errors
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(kind)
                .or_default() += 1;
        }
        m.rows.fetch_add(rows, Ordering::Relaxed);
        let seconds = elapsed.as_secs_f64();
        for (bucket, bound) in m.buckets.iter().zip(BUCKETS) {
            if seconds <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        m.count.fetch_add(1, Ordering::Relaxed);
        m.sum_nanos
            .fetch_add(elapsed.as_nanos() as u64, Ordering::Relaxed);
    }

    pub(super) fn render(&self, transforms: &BTreeMap<String, Transform>) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let label = |name: &str| name.replace('\\', "\\\\").replace('"', "\\\"");
        out.push_str("# HELP skewless_transform_info The loaded transforms and their identity.\n");
        out.push_str("# TYPE skewless_transform_info gauge\n");
        for t in transforms.values() {
            let _ = writeln!(
                out,
                "skewless_transform_info{{transform=\"{}\",version=\"{}\",sha256=\"{}\"}} 1",
                label(t.name()),
                label(t.version()),
                t.sha256()
            );
        }
        out.push_str(
            "# HELP skewless_requests_total Transform requests answered, by HTTP status.\n",
        );
        out.push_str("# TYPE skewless_requests_total counter\n");
        for (name, m) in &self.per_transform {
            for (status, count) in m.statuses.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                let _ = writeln!(
                    out,
                    "skewless_requests_total{{transform=\"{}\",status=\"{status}\"}} {count}",
                    label(name)
                );
            }
        }
        out.push_str("# HELP skewless_errors_total Failed transform requests, by error kind.\n");
        out.push_str("# TYPE skewless_errors_total counter\n");
        for (name, m) in &self.per_transform {
            for (kind, count) in m.errors.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                let _ = writeln!(
                    out,
                    "skewless_errors_total{{transform=\"{}\",kind=\"{kind}\"}} {count}",
                    label(name)
                );
            }
        }
        out.push_str("# HELP skewless_rows_total Rows transformed.\n");
        out.push_str("# TYPE skewless_rows_total counter\n");
        for (name, m) in &self.per_transform {
            let _ = writeln!(
                out,
                "skewless_rows_total{{transform=\"{}\"}} {}",
                label(name),
                m.rows.load(Ordering::Relaxed)
            );
        }
        out.push_str(
            "# HELP skewless_request_duration_seconds Time to answer a transform request.\n",
        );
        out.push_str("# TYPE skewless_request_duration_seconds histogram\n");
        for (name, m) in &self.per_transform {
            let name = label(name);
            for (bucket, bound) in m.buckets.iter().zip(BUCKETS) {
                let _ = writeln!(
                    out,
                    "skewless_request_duration_seconds_bucket{{transform=\"{name}\",le=\"{bound}\"}} {}",
                    bucket.load(Ordering::Relaxed)
                );
            }
            let count = m.count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "skewless_request_duration_seconds_bucket{{transform=\"{name}\",le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(
                out,
                "skewless_request_duration_seconds_sum{{transform=\"{name}\"}} {}",
                m.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9
            );
            let _ = writeln!(
                out,
                "skewless_request_duration_seconds_count{{transform=\"{name}\"}} {count}"
            );
        }
        out
    }
}
