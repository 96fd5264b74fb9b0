//! The online path: HTTP JSON serving on axum + tokio.
//!
//! ```text
//! POST /v1/transforms/{name}   {"rows": [{...}, ...], "expect_sha256": "..."}  -> {"transform": {...}, "rows": [...]}
//! POST /v1/events/{name}       {"rows": [{...}, ...], "expect_sha256": "..."}  -> {"applied": n, "duplicates": [..], "late": [..], ...}
//! GET  /v1/events/{name}?after=T  the events the state holds (JSON Lines, with `_arrival`)
//! GET  /v1/transforms          the loaded transforms, their specs and hashes
//! GET  /healthz                liveness
//! GET  /metrics                Prometheus text: requests, errors by kind, latency histograms
//! ```
//!
//! A request decodes (with the exact JSON codec in [`crate::codec::json`]) into a
//! `RecordBatch` and goes through [`Transform::call`], the same call a
//! backfill makes, at most `max_concurrency` at a time; a failing request
//! fails alone. A call of a few rows whose transform answered its recent
//! such calls within [`IN_PLACE_LIMIT`] runs in place on the request's
//! async worker; every other call runs on tokio's blocking pool (see
//! `run_call`).
//!
//! A transform that declares aggregations is served from its live state
//! ([`crate::online`]): events are posted to `/v1/events/NAME` and
//! answered once durable; a request's features are as of its time column,
//! or of the server's clock (returned as `as_of`) when it has none, and
//! the answer's `arrival` says which events it saw (for `skewless run
//! --as-served`).
//!
//! Errors answer with `{"error": {"kind", "message", "row", "field"}}`:
//! 400 for bad input (malformed JSON, missing field, wrong type, null in a
//! non-nullable field), 404 for an unknown transform or path, 405 for a
//! wrong method, 409 when `expect_sha256` does not match, 413 for a body
//! over the size limit or more rows than `max_rows`, 422 when the transform
//! rejects a row or exceeds its fuel, memory or output limit, 503 when it
//! exceeds the deadline, 500 when it crashes.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use serde_json::value::RawValue;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::codec::json;
use crate::engine::Transform;
use crate::error::{Error, Limit, Result};
use crate::online::{Online, StateOptions};

mod in_place;
mod log;
mod metrics;

use in_place::InPlaceCalls;
pub use log::{ErrorLog, LINES_PER_SECOND};
use metrics::Metrics;

/// Limits of the HTTP front end (the sandbox limits are the runtime's).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServeConfig {
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Most rows in one request.
    pub max_rows: usize,
    /// Guest calls running at once (give the runtime as many instances,
    /// `Config::max_instances`, so that each has one); further requests
    /// wait their turn in the queue.
    pub max_concurrency: usize,
    /// Requests that may wait for a call to finish; one more gets 503 with
    /// `Retry-After` at once.
    pub max_queue: usize,
    /// How long a request may wait in the queue before it gets 503.
    pub queue_timeout: Duration,
    /// How long a client may take to send a request body.
    pub body_timeout: Duration,
    /// After the shutdown signal, how long requests in flight may take to
    /// finish before [`serve`] returns without them.
    pub drain_timeout: Duration,
    /// What is logged about failed requests (one JSON line each, on stderr
    /// unless [`Server::log_to`] says otherwise).
    pub error_log: ErrorLog,
    /// Where the live state of transforms with aggregations is kept (with
    /// a directory, each transform's in a subdirectory named after it).
    pub state: StateOptions,
}

/// Default [`ServeConfig::max_body_bytes`]: 4 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 << 20;
/// Default [`ServeConfig::max_rows`]: 10,000.
pub const DEFAULT_MAX_ROWS: usize = 10_000;
/// Default [`ServeConfig::queue_timeout`]: one second.
pub const DEFAULT_QUEUE_TIMEOUT: Duration = Duration::from_secs(1);

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_rows: DEFAULT_MAX_ROWS,
            max_concurrency: crate::default_max_instances(),
            max_queue: 4 * crate::default_max_instances(),
            queue_timeout: DEFAULT_QUEUE_TIMEOUT,
            body_timeout: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(10),
            error_log: ErrorLog::Summary,
            state: StateOptions::default(),
        }
    }
}

impl ServeConfig {
    /// Sets [`ServeConfig::max_body_bytes`].
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Sets [`ServeConfig::max_rows`].
    pub fn max_rows(mut self, rows: usize) -> Self {
        self.max_rows = rows;
        self
    }

    /// Sets [`ServeConfig::max_concurrency`]. Default
    /// [`crate::default_max_instances`] (twice the CPUs).
    pub fn max_concurrency(mut self, calls: usize) -> Self {
        self.max_concurrency = calls.max(1);
        self
    }

    /// Sets [`ServeConfig::max_queue`]. Default four times the default
    /// concurrency.
    pub fn max_queue(mut self, requests: usize) -> Self {
        self.max_queue = requests;
        self
    }

    /// Sets [`ServeConfig::queue_timeout`]. Default 1 s.
    pub fn queue_timeout(mut self, timeout: Duration) -> Self {
        self.queue_timeout = timeout;
        self
    }

    /// Sets [`ServeConfig::body_timeout`].
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// Sets [`ServeConfig::drain_timeout`].
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    /// Sets [`ServeConfig::error_log`]. Default [`ErrorLog::Summary`]: a
    /// line per failed request (rate-limited) without any value from it.
    pub fn error_log(mut self, log: ErrorLog) -> Self {
        self.error_log = log;
        self
    }

    /// Sets [`ServeConfig::state`]. Default: in memory.
    pub fn state(mut self, state: StateOptions) -> Self {
        self.state = state;
        self
    }
}

/// The loaded transforms and everything requests share.
pub struct Server {
    transforms: BTreeMap<String, Transform>,
    /// The live state of each transform that declares aggregations.
    online: BTreeMap<String, Online>,
    config: ServeConfig,
    calls: Semaphore,
    /// Requests waiting for a call slot.
    waiting: std::sync::atomic::AtomicUsize,
    /// How long each transform's last small call took (by name).
    call_times: BTreeMap<String, Arc<CallTime>>,
    /// Calls running in place on async workers now.
    in_place: Arc<InPlaceCalls>,
    metrics: Metrics,
    failures: log::FailureLog,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("transforms", &self.transforms.keys().collect::<Vec<_>>())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Label under which requests for unknown transforms are counted (so that
/// arbitrary names in URLs cannot grow the metrics without bound).
const UNKNOWN: &str = "(unknown)";

impl Server {
    /// A server for `transforms`, which must have distinct names.
    pub fn new(transforms: Vec<Transform>, config: ServeConfig) -> Result<Server> {
        let mut by_name = BTreeMap::new();
        for transform in transforms {
            if let Some(other) = by_name.get(transform.name()) {
                let other: &Transform = other;
                return Err(Error::BadRequest(format!(
                    "`{}` and `{}` both declare the transform name `{}`; serve one of them",
                    other.source_name(),
                    transform.source_name(),
                    transform.name()
                )));
            }
            by_name.insert(transform.name().to_string(), transform);
        }
        if by_name.is_empty() {
            return Err(Error::BadRequest("no transforms to serve".into()));
        }
        let mut online = BTreeMap::new();
        for (name, transform) in &by_name {
            if transform.info().aggregation.is_some() {
                online.insert(name.clone(), Online::open(transform, &config.state)?);
            }
        }
        let metrics = Metrics::new(by_name.keys().map(String::as_str).chain([UNKNOWN]));
        let call_times = by_name
            .keys()
            .map(|name| (name.clone(), Arc::new(CallTime::default())))
            .collect();
        Ok(Server {
            online,
            call_times,
            in_place: Arc::default(),
            calls: Semaphore::new(config.max_concurrency.max(1)),
            waiting: std::sync::atomic::AtomicUsize::new(0),
            transforms: by_name,
            failures: log::FailureLog::new(config.error_log),
            config,
            metrics,
        })
    }

    /// Sends the failed-request log lines (see [`ErrorLog`]) to `sink`
    /// instead of stderr, e.g. into the embedder's own logging.
    pub fn log_to(mut self, sink: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.failures.set_sink(Box::new(sink));
        self
    }

    /// Refuses unless transform `name` is loaded and its sha256 is `sha256`:
    /// a model is served only by the transform it was trained with.
    pub fn expect(&self, name: &str, sha256: &str) -> Result<()> {
        let Some(transform) = self.transforms.get(name) else {
            return Err(Error::BadRequest(format!(
                "the pin names transform `{name}`, which is not loaded (loaded: {})",
                self.names().join(", ")
            )));
        };
        transform.expect_sha256(sha256)?;
        Ok(())
    }

    /// The names of the loaded transforms.
    pub fn names(&self) -> Vec<&str> {
        self.transforms.keys().map(String::as_str).collect()
    }

    /// The configuration it was made with.
    pub fn config(&self) -> &ServeConfig {
        &self.config
    }

    /// The loaded transforms, by name.
    pub fn transforms(&self) -> &BTreeMap<String, Transform> {
        &self.transforms
    }

    /// The live state of transform `name`, when it declares aggregations.
    pub fn online(&self, name: &str) -> Option<&Online> {
        self.online.get(name)
    }

    /// The HTTP routes.
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/v1/transforms", get(list))
            .route("/v1/transforms/{name}", post(transform))
            .route("/v1/events/{name}", post(events).get(export))
            .route("/healthz", get(healthz))
            .route("/metrics", get(metrics))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .with_state(self)
    }
}

/// How [`serve`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// Every request in flight finished.
    Drained,
    /// Some connections were still open after
    /// [`ServeConfig::drain_timeout`], and were dropped.
    TimedOut,
}

/// Serves `server` on `listener` until `shutdown` resolves. Requests in
/// flight then have [`ServeConfig::drain_timeout`] to finish; a client
/// that is still sending (or not reading) by then is dropped, so one
/// stalled connection cannot keep the server from stopping.
pub async fn serve(
    listener: TcpListener,
    server: Arc<Server>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<Stopped> {
    let drain_timeout = server.config.drain_timeout;
    let (stopping, stopped) = tokio::sync::oneshot::channel();
    let graceful = axum::serve(listener, server.router()).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = stopping.send(());
    });
    let drained = async move {
        match stopped.await {
            Ok(()) => tokio::time::sleep(drain_timeout).await,
            // The server ended on its own (an error): nothing to drain.
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        result = graceful.into_future() => result.map(|()| Stopped::Drained),
        () = drained => Ok(Stopped::TimedOut),
    }
}

/// Starts listening for SIGINT (Ctrl-C) and SIGTERM, and returns a future
/// that resolves when either arrives. The handlers are in place when this
/// returns, so a signal that comes before the future is first polled is not
/// lost. Call it inside a Tokio runtime.
///
/// # Errors
///
/// When the signal handlers cannot be installed.
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {},
                _ = terminate.recv() => {},
            }
        })
    }
    #[cfg(not(unix))]
    {
        // Only Ctrl-C exists here; tokio installs its handler on first poll.
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

/// The body of a transform request. An unknown key is refused, so a
/// misspelt `expect_sha256` cannot silently turn the pin off.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransformRequest<'a> {
    #[serde(borrow)]
    rows: Vec<&'a RawValue>,
    #[serde(default)]
    expect_sha256: Option<String>,
    /// A row that fails gets its own error in the answer's rows, instead of
    /// failing the request.
    #[serde(default)]
    per_row_errors: bool,
}

/// The request body, refused as too large before it is read when its
/// `Content-Length` says so, refused when the client takes longer than
/// [`ServeConfig::body_timeout`] to send it, and refused when it is
/// compressed (`Content-Encoding`), which this server does not undo. A
/// UTF-8 byte order mark in front (which some Windows tools write) is not
/// part of the JSON, and is dropped.
async fn read_body(
    config: &ServeConfig,
    headers: &header::HeaderMap,
    body: Body,
) -> std::result::Result<bytes::Bytes, Failure> {
    if let Some(encoding) = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .filter(|value| !value.trim().eq_ignore_ascii_case("identity"))
    {
        return Err(Failure::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_encoding",
            format!(
                "the request body is `{}`-encoded; this server reads bodies as they are: \
                 send it without `Content-Encoding`",
                encoding.trim()
            ),
        ));
    }
    let too_large = || {
        Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!(
                "the request body is larger than {}; send fewer rows per request \
                 (the server's `--max-body-bytes`)",
                limit_text(config.max_body_bytes as u64)
            ),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > config.max_body_bytes as u64) {
        return Err(too_large());
    }
    let read = axum::body::to_bytes(body, config.max_body_bytes);
    match tokio::time::timeout(config.body_timeout, read).await {
        Ok(Ok(bytes)) => Ok(match bytes.strip_prefix(b"\xEF\xBB\xBF") {
            Some(rest) => bytes.slice_ref(rest),
            None => bytes,
        }),
        Ok(Err(error)) if is_length_limit(&error) => Err(too_large()),
        Ok(Err(error)) => Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "body_unreadable",
            format!("the request body could not be read: {error}"),
        )),
        Err(_) => Err(Failure::new(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            format!(
                "the request body did not arrive within {} s",
                config.body_timeout.as_secs_f64()
            ),
        )),
    }
}

/// `4 MiB` for a limit given in whole units, `2000 bytes` otherwise.
fn limit_text(bytes: u64) -> String {
    if bytes.is_multiple_of(1024) {
        crate::error::human_bytes(bytes)
    } else {
        format!("{bytes} bytes")
    }
}

/// Whether reading a body failed because it passed the size limit (and not
/// because the client went away).
fn is_length_limit(error: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = cause {
        if error.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = error.source();
    }
    false
}

/// An error answer: status, kind, message, and where.
struct Failure {
    status: StatusCode,
    kind: &'static str,
    message: String,
    row: Option<u64>,
    field: Option<String>,
    /// Seconds for a `Retry-After` header.
    retry_after: Option<u64>,
}

impl Failure {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Failure {
            status,
            kind,
            message: message.into(),
            row: None,
            field: None,
            retry_after: None,
        }
    }

    fn from_error(error: &Error) -> Self {
        let status = match error {
            error if error.is_input_error() => StatusCode::BAD_REQUEST,
            Error::RowFailed { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Error::LimitExceeded {
                limit: Limit::Deadline,
                ..
            } => StatusCode::SERVICE_UNAVAILABLE,
            Error::LimitExceeded { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Error::StateUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        // A setting that refused the request (a limit, naive timestamps)
        // is the server's, named as its operator sets it.
        let flag = match error.setting() {
            Some(
                setting @ (crate::Setting::FuelPerRow
                | crate::Setting::MemoryLimit
                | crate::Setting::MaxOutputBytes
                | crate::Setting::Deadline
                | crate::Setting::NaiveTimestamps),
            ) => format!(" (the server's `{}`)", setting.flag()),
            _ => String::new(),
        };
        Failure {
            status,
            kind: error.kind(),
            message: format!("{error}{flag}"),
            row: error.row(),
            field: error.column().map(str::to_string),
            // Another replica, or this one a moment later, may reach it.
            retry_after: matches!(error, Error::StateUnavailable { .. }).then_some(1),
        }
    }

    fn into_response(self) -> Response {
        let body = json!({ "error": self.body() });
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
        }
        response
    }

    /// `{"kind", "message", "row", "field"}`: a failed request's error, and
    /// a failed row's with per-row errors.
    fn body(&self) -> serde_json::Value {
        json!({
            "kind": self.kind,
            "message": self.message,
            "row": self.row,
            "field": self.field,
        })
    }
}

/// Every answer that is not a success has the same JSON shape, including
/// the router's own.
async fn not_found(uri: axum::http::Uri) -> Response {
    Failure::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!(
            "nothing at `{}`; POST rows to /v1/transforms/NAME (events to \
             /v1/events/NAME), or GET /v1/transforms, /healthz, /metrics",
            uri.path()
        ),
    )
    .into_response()
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    let allowed =
        if uri.path().starts_with("/v1/transforms/") || uri.path().starts_with("/v1/events/") {
            "POST"
        } else {
            "GET"
        };
    let mut response = Failure::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("`{}` takes {allowed}, not {method}", uri.path()),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static(allowed));
    response
}

async fn transform(
    State(server): State<Arc<Server>>,
    Path(name): Path<String>,
    headers: header::HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let (label, result) = match server.transforms.get(&name) {
        None => (UNKNOWN, Err(unknown_transform(&server, &name))),
        Some(transform) => (
            transform.name(),
            answer(&server, transform, &headers, body).await,
        ),
    };
    let (response, status, kind, rows) = match result {
        Ok((body, rows)) => (
            ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
            StatusCode::OK,
            None,
            rows,
        ),
        Err(failure) => {
            log_failure(&server, &name, &failure, started);
            let (status, kind) = (failure.status, failure.kind);
            (failure.into_response(), status, Some(kind), 0)
        }
    };
    server
        .metrics
        .record(label, status, kind, rows, started.elapsed());
    response
}

/// The answer to one transform request: the body and the row count.
async fn answer(
    server: &Server,
    transform: &Transform,
    headers: &header::HeaderMap,
    body: Body,
) -> std::result::Result<(String, u64), Failure> {
    let bytes = read_body(&server.config, headers, body).await?;
    let request: TransformRequest<'_> =
        serde_json::from_slice(&bytes).map_err(|e| malformed(&bytes, &e))?;
    check_pin(transform, request.expect_sha256.as_deref())?;
    if request.rows.len() > server.config.max_rows {
        return Err(Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_rows",
            format!(
                "{} rows in one request; the limit is {} (the server's `--max-rows`)",
                request.rows.len(),
                server.config.max_rows
            ),
        ));
    }
    let identity = json!({
        "name": transform.name(),
        "version": transform.version(),
        "sha256": transform.sha256(),
    });
    if let Some(online) = server.online.get(transform.name()) {
        if request.per_row_errors {
            return Err(Failure::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!(
                    "`per_row_errors` is not available for `{}`, which declares aggregations; \
                     send the rows without it",
                    transform.name()
                ),
            ));
        }
        let batch = online
            .decode_requests_json(&request.rows)
            .map_err(|e| Failure::from_error(&e))?;
        let rows = batch.num_rows() as u64;
        let _permit = call_slot(server).await?;
        let online = online.clone();
        let (output, moment) = run_call(server, transform, batch.num_rows(), move || {
            online.features(&batch)
        })
        .await?;
        let body = format!(
            "{{\"transform\":{identity},\"as_of\":\"{}\",\"arrival\":\"{}\",\"rows\":{}}}",
            moment.as_of_text(),
            moment.arrival_text(),
            json::encode_array(&output)
        );
        return Ok((body, rows));
    }
    if request.per_row_errors {
        let rows = request.rows.len() as u64;
        let answers = per_row_answers(server, transform, &request.rows).await?;
        return Ok((
            format!(
                "{{\"transform\":{identity},\"rows\":[{}]}}",
                answers.join(",")
            ),
            rows,
        ));
    }
    let batch =
        json::decode_input(transform, &request.rows).map_err(|e| Failure::from_error(&e))?;
    let rows = batch.num_rows() as u64;
    let _permit = call_slot(server).await?;
    let worker = transform.clone();
    let output = run_call(server, transform, batch.num_rows(), move || {
        worker.call(&batch)
    })
    .await?;
    let body = format!(
        "{{\"transform\":{identity},\"rows\":{}}}",
        json::encode_array(&output)
    );
    Ok((body, rows))
}

/// A body that is not `{"rows": [...]}`, said as precisely as it can be.
fn malformed(bytes: &[u8], e: &serde_json::Error) -> Failure {
    let text = String::from_utf8_lossy(bytes);
    let message = if e.is_syntax() || e.is_eof() {
        format!(
            "the body is not valid JSON: {e}{}",
            json::bare_word_hint(bytes, e)
        )
    } else if !text.trim_start().starts_with('{') {
        format!(
            "the body must be a JSON object like {{\"rows\": [{{...}}]}}, not {}",
            json::describe(&text)
        )
    } else {
        format!("the body is not a JSON object like {{\"rows\": [{{...}}]}}: {e}")
    };
    Failure::new(StatusCode::BAD_REQUEST, "malformed_json", message)
}

/// 409 when a request's `expect_sha256` is given and is not `transform`'s.
fn check_pin(transform: &Transform, expected: Option<&str>) -> std::result::Result<(), Failure> {
    match expected {
        Some(expected) if transform.expect_sha256(expected).is_err() => Err(Failure::new(
            StatusCode::CONFLICT,
            "sha256_mismatch",
            format!(
                "this server's `{}` has sha256 {}, not the expected {}",
                transform.name(),
                transform.sha256(),
                expected.trim()
            ),
        )),
        _ => Ok(()),
    }
}

/// The body of an events request; as a transform request's, an unknown
/// key is refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsRequest<'a> {
    #[serde(borrow)]
    rows: Vec<&'a RawValue>,
    /// The producer's pin: the events are refused (409) unless the server
    /// computes them with this component.
    #[serde(default)]
    expect_sha256: Option<String>,
}

async fn events(
    State(server): State<Arc<Server>>,
    Path(name): Path<String>,
    headers: header::HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let result = match online_of(&server, &name, "takes no events") {
        Ok(online) => ingest(&server, online, &headers, body).await,
        Err(failure) => Err(failure),
    };
    respond(&server, &name, started, "application/json", result)
}

/// The live state of transform `name`, or the 404 of a request for its
/// events (the transform `what`s: "takes no events", "has no events").
fn online_of<'s>(
    server: &'s Server,
    name: &str,
    what: &str,
) -> std::result::Result<&'s Online, Failure> {
    match server.online.get(name) {
        Some(online) => Ok(online),
        None if server.transforms.contains_key(name) => Err(Failure::new(
            StatusCode::NOT_FOUND,
            "no_aggregations",
            format!("transform `{name}` declares no aggregations, so it {what}"),
        )),
        None => Err(unknown_transform(server, name)),
    }
}

/// The answer of an events endpoint: `body` as `content_type`, or the
/// failure, logged.
fn respond(
    server: &Server,
    name: &str,
    started: Instant,
    content_type: &'static str,
    result: std::result::Result<impl IntoResponse, Failure>,
) -> Response {
    match result {
        Ok(body) => ([(header::CONTENT_TYPE, content_type)], body).into_response(),
        Err(failure) => {
            log_failure(server, name, &failure, started);
            failure.into_response()
        }
    }
}

/// `GET /v1/events/NAME[?after=TIME]`: the events the state holds (that
/// arrived after `after`), as JSON Lines with `_arrival`, for `skewless
/// run --as-served`.
async fn export(
    State(server): State<Arc<Server>>,
    Path(name): Path<String>,
    uri: axum::http::Uri,
) -> Response {
    let started = Instant::now();
    let result = match online_of(&server, &name, "has no events") {
        Ok(online) => export_events(online, uri.query()).await,
        Err(failure) => Err(failure),
    };
    respond(&server, &name, started, "application/x-ndjson", result)
}

async fn export_events(
    online: &Online,
    query: Option<&str>,
) -> std::result::Result<Vec<u8>, Failure> {
    let bad = |message: String| Failure::new(StatusCode::BAD_REQUEST, "bad_request", message);
    let mut after = None;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name != "after" {
            return Err(bad(format!(
                "unknown query parameter `{name}`; the one there is, `after`, takes an arrival \
                 time (e.g. ?after=2026-03-01T10:00:00.000001Z)"
            )));
        }
        // `+` in a query is a space, and `%2B` a plus.
        let value = value
            .replace("%2B", "+")
            .replace("%2b", "+")
            .replace("%3A", ":");
        let value = value.replace("%3a", ":");
        let parsed = crate::codec::parse::timestamp(&value, crate::spec::NaiveTimestamps::Refuse)
            .map_err(|refused| {
            bad(format!(
                "`after` is not an arrival time: {}",
                refused.reason(&value)
            ))
        })?;
        after = Some(parsed);
    }
    let worker = online.clone();
    blocking(move || {
        let mut out = Vec::new();
        worker.export_to(&mut out, after).map(|_| out)
    })
    .await
}

/// 404 for a transform name this server does not have, naming those it has.
fn unknown_transform(server: &Server, name: &str) -> Failure {
    Failure::new(
        StatusCode::NOT_FOUND,
        "unknown_transform",
        format!(
            "no transform named `{name}`; this server has: {}",
            server.names().join(", ")
        ),
    )
}

/// The failed-request log line of a request for transform `name`.
fn log_failure(server: &Server, name: &str, failure: &Failure, started: Instant) {
    server.failures.failed(&log::Failed {
        status: failure.status.as_u16(),
        kind: failure.kind,
        transform: name,
        row: failure.row,
        field: failure.field.as_deref(),
        message: &failure.message,
        elapsed: started.elapsed(),
    });
}

/// Applies an events request to the live state; answers once they are
/// durable.
async fn ingest(
    server: &Server,
    online: &Online,
    headers: &header::HeaderMap,
    body: Body,
) -> std::result::Result<String, Failure> {
    let bytes = read_body(&server.config, headers, body).await?;
    let request: EventsRequest<'_> =
        serde_json::from_slice(&bytes).map_err(|e| malformed(&bytes, &e))?;
    check_pin(online.transform(), request.expect_sha256.as_deref())?;
    if request.rows.len() > server.config.max_rows {
        return Err(Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_rows",
            format!(
                "{} events in one request; the limit is {} (the server's `--max-rows`)",
                request.rows.len(),
                server.config.max_rows
            ),
        ));
    }
    let (batch, texts) = online
        .decode_events_json(&request.rows)
        .map_err(|e| Failure::from_error(&e))?;
    let _permit = call_slot(server).await?;
    let worker = online.clone();
    let ingested =
        blocking(move || worker.ingest_rows(&batch, texts, crate::online::now_micros())).await?;
    let transform = online.transform();
    Ok(json!({
        "transform": {
            "name": transform.name(),
            "version": transform.version(),
            "sha256": transform.sha256(),
        },
        "applied": ingested.applied,
        "duplicates": ingested.duplicates,
        "late": ingested.late,
        "expired": ingested.expired,
        "arrival": crate::codec::text::timestamp_text(ingested.arrival),
    })
    .to_string())
}

/// The answer of each row alone: its features, or `{"error": {...}}` with
/// the shape of a failed request's error (its `row` the row in the
/// request). Rows that decode are computed together; a row the transform
/// rejects does not fail the others.
async fn per_row_answers(
    server: &Server,
    transform: &Transform,
    rows: &[&RawValue],
) -> std::result::Result<Vec<String>, Failure> {
    let mut answers: Vec<Option<String>> = vec![None; rows.len()];
    let mut decoded = Vec::new();
    let mut positions = Vec::new();
    for (position, row) in rows.iter().enumerate() {
        match json::decode_input(transform, std::slice::from_ref(row)) {
            Ok(batch) => {
                decoded.push(batch);
                positions.push(position);
            }
            Err(error) => {
                answers[position] = Some(row_error(&error.offset_rows(position as u64)));
            }
        }
    }
    if !decoded.is_empty() {
        let batch = arrow::compute::concat_batches(transform.input_schema(), &decoded)
            .map_err(|e| Failure::from_error(&Error::Runtime(e.to_string())))?;
        let _permit = call_slot(server).await?;
        let worker = transform.clone();
        let outcome = run_call(server, transform, batch.num_rows(), move || {
            worker.call_rejecting(&batch)
        })
        .await?;
        let mut computed = json::encode_rows(&outcome.output).into_iter();
        let mut rejected = outcome.rejected.into_iter().peekable();
        for (index, position) in positions.into_iter().enumerate() {
            let answer = match rejected.next_if(|e| e.row() == Some(index as u64)) {
                Some(error) => row_error(&error.offset_rows(position as u64 - index as u64)),
                None => computed.next().expect("one output row a computed row"),
            };
            answers[position] = Some(answer);
        }
    }
    Ok(answers
        .into_iter()
        .map(|a| a.expect("every row answered"))
        .collect())
}

/// `{"error": {...}}` for one row of a request with per-row errors.
fn row_error(error: &Error) -> String {
    json!({ "error": Failure::from_error(error).body() }).to_string()
}

/// A slot to run a call in: at once if one is free, else after waiting in
/// the queue; 503 with `Retry-After` when the queue is full or the wait
/// takes longer than [`ServeConfig::queue_timeout`].
async fn call_slot(
    server: &Server,
) -> std::result::Result<tokio::sync::SemaphorePermit<'_>, Failure> {
    use std::sync::atomic::Ordering;
    let closed = |_| {
        Failure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is shutting down",
        )
    };
    match server.calls.try_acquire() {
        Ok(permit) => return Ok(permit),
        Err(tokio::sync::TryAcquireError::Closed) => {
            return Err(closed(()));
        }
        Err(tokio::sync::TryAcquireError::NoPermits) => {}
    }
    let busy = |why: String| {
        let mut failure = Failure::new(StatusCode::SERVICE_UNAVAILABLE, "busy", why);
        failure.retry_after = Some(1);
        failure
    };
    let config = &server.config;
    if server.waiting.fetch_add(1, Ordering::AcqRel) >= config.max_queue {
        server.waiting.fetch_sub(1, Ordering::AcqRel);
        return Err(busy(format!(
            "all {} calls are running and {} requests are waiting; retry shortly (the server's \
             `max_concurrency` and `max_queue`)",
            config.max_concurrency, config.max_queue
        )));
    }
    let waited = tokio::time::timeout(config.queue_timeout, server.calls.acquire()).await;
    server.waiting.fetch_sub(1, Ordering::AcqRel);
    match waited {
        Ok(permit) => permit.map_err(|_| closed(())),
        Err(_) => Err(busy(format!(
            "no call slot came free within {} ms; retry shortly (the server's `--concurrency` and `--queue-timeout-ms`)",
            config.queue_timeout.as_millis()
        ))),
    }
}

/// Calls of at most this many rows may run in place (see the module's
/// documentation).
pub const IN_PLACE_ROWS: usize = 16;
/// A small call runs in place when the shorter of the transform's last two
/// small calls took at most this long (see the module's documentation).
pub const IN_PLACE_LIMIT: Duration = Duration::from_micros(100);

/// How long a transform's last two calls of at most [`IN_PLACE_ROWS`] rows
/// took, in nanoseconds (`u64::MAX` before the first). Wall time on a busy
/// machine includes time the thread was preempted, which only ever adds:
/// the shorter of the two is the estimate, so one preempted call does not
/// send the next to the pool, and two slow calls in a row do.
struct CallTime([std::sync::atomic::AtomicU64; 2]);

impl Default for CallTime {
    fn default() -> Self {
        CallTime(std::array::from_fn(|_| {
            std::sync::atomic::AtomicU64::new(u64::MAX)
        }))
    }
}

impl CallTime {
    fn quick(&self) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        let shorter = self.0[0].load(Relaxed).min(self.0[1].load(Relaxed));
        shorter <= IN_PLACE_LIMIT.as_nanos() as u64
    }

    /// Runs `work`, remembering how long it took.
    fn time<T>(&self, work: impl FnOnce() -> T) -> T {
        use std::sync::atomic::Ordering::Relaxed;
        let started = Instant::now();
        let output = work();
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.0[0].store(self.0[1].swap(nanos, Relaxed), Relaxed);
        output
    }
}

/// Runs `work`, a call of `rows` rows of `transform`, where it costs least.
///
/// A guest call blocks its thread. Handing it to tokio's blocking pool
/// keeps the async workers answering, but costs two thread wake-ups per
/// request, which on this project's 2-core machine were much of a
/// one-row request's time. Measured with the in-process load generator of
/// the report (one build, a switch between the two, three runs each, on
/// 2026-12-05): one-row `fraud-features` requests ran at 17.1k-18.2k
/// requests/s at 16 connections through the pool against 21.8k-27.4k in
/// place (21.2k-22.0k against 36.7k-45.1k with reused instances), and at
/// one connection at a median of 162-203 µs against 139-144 µs. So a
/// call of at most [`IN_PLACE_ROWS`] rows runs in place when the same
/// transform's recent such calls took at most [`IN_PLACE_LIMIT`] (see
/// [`CallTime`]), tokio's own bound for work between two awaits, and
/// fewer calls than the runtime has workers run in place at once, so one
/// worker is always free to accept, answer `/healthz` and hand calls to
/// the pool (a current-thread runtime runs none in place; and tokio leaves
/// nobody waiting on the sockets while the worker that did runs a call, so
/// a thread wakes a free worker when a call in place turns slow: see
/// `in_place`). Everything else
/// (the first call, larger batches, a transform whose small calls are
/// slow, like a Python one on a clean instance) goes to the pool. A
/// request whose rows turn out slow holds its worker for at most the row
/// budget or the deadline; two slow calls in a row send the next small
/// calls to the pool until one is quick again. A panic in place answers
/// 500, as one on the pool does. (`block_in_place` on the request's worker
/// was measured earlier and is slower than both: it moves the worker's
/// scheduler to another thread on every call, and it panics on a
/// current-thread runtime.)
async fn run_call<T: Send + 'static>(
    server: &Server,
    transform: &Transform,
    rows: usize,
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> std::result::Result<T, Failure> {
    let Some(time) = server
        .call_times
        .get(transform.name())
        .filter(|_| rows <= IN_PLACE_ROWS)
    else {
        return blocking(work).await;
    };
    if time.quick()
        && let Some(_in_place) = server.in_place.enter()
    {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| time.time(work)));
        return match outcome {
            Ok(result) => result.map_err(|e| Failure::from_error(&e)),
            Err(_) => Err(Failure::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the call failed: it panicked",
            )),
        };
    }
    let time = time.clone();
    blocking(move || time.time(work)).await
}

/// Runs `work` (a guest call, a durable write) on tokio's blocking pool;
/// see [`run_call`].
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> std::result::Result<T, Failure> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| {
            Failure::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("the call failed: {e}"),
            )
        })?
        .map_err(|e| Failure::from_error(&e))
}

async fn list(State(server): State<Arc<Server>>) -> Response {
    let transforms: Vec<_> = server
        .transforms
        .values()
        .map(|t| t.describe_json())
        .collect();
    axum::Json(json!({ "transforms": transforms })).into_response()
}

async fn healthz() -> Response {
    axum::Json(json!({"status": "ok"})).into_response()
}

async fn metrics(State(server): State<Arc<Server>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        server.metrics.render(&server.transforms) + &online_metrics(&server.online),
    )
        .into_response()
}

/// The live states' counts, in Prometheus text.
fn online_metrics(online: &BTreeMap<String, Online>) -> String {
    use std::fmt::Write;
    if online.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    out.push_str(
        "# HELP skewless_events_total Events posted, by what became of them.\n\
         # TYPE skewless_events_total counter\n",
    );
    let stats: Vec<_> = online.iter().map(|(n, o)| (n, o.stats())).collect();
    for (name, stats) in &stats {
        for (fate, count) in [
            ("applied", stats.applied),
            ("duplicate", stats.duplicates),
            ("late", stats.late),
            ("expired", stats.expired),
        ] {
            let _ = writeln!(
                out,
                "skewless_events_total{{transform=\"{name}\",fate=\"{fate}\"}} {count}"
            );
        }
    }
    out.push_str(
        "# HELP skewless_state_events Events the live state holds.\n\
         # TYPE skewless_state_events gauge\n",
    );
    for (name, stats) in &stats {
        let _ = writeln!(
            out,
            "skewless_state_events{{transform=\"{name}\"}} {}",
            stats.events
        );
    }
    out.push_str(
        "# HELP skewless_state_entities Entities the live state holds events of.\n\
         # TYPE skewless_state_entities gauge\n",
    );
    for (name, stats) in &stats {
        let _ = writeln!(
            out,
            "skewless_state_entities{{transform=\"{name}\"}} {}",
            stats.entities
        );
    }
    out.push_str(
        "# HELP skewless_state_trims_failed_total Expiries whose trim of the state in Redis \
         failed (the next trims what they left).\n\
         # TYPE skewless_state_trims_failed_total counter\n",
    );
    for (name, stats) in &stats {
        let _ = writeln!(
            out,
            "skewless_state_trims_failed_total{{transform=\"{name}\"}} {}",
            stats.trims_failed
        );
    }
    out
}
