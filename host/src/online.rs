//! Aggregations online: a transform's live state, fed events as they
//! happen and asked for features as of a request's time (or now), by the
//! same engine and the same component as backfills.
//!
//! `skewless serve` keeps one [`Online`] per transform that declares
//! aggregations (`POST /v1/events/NAME` ingests, `POST
//! /v1/transforms/NAME` asks); an embedder can keep its own:
//!
//! ```no_run
//! use skewless::online::{Online, StateOptions};
//! # let transform = skewless::Runtime::new(skewless::Config::default())?.load("card_velocity.wasm")?;
//! let online = Online::open(&transform, &StateOptions::default().dir("state"))?;
//! let events = serde_json::json!([{"card_id": "c1", "ts": "2026-03-01T10:00:00Z",
//!     "amount": 12.5, "merchant": "books", "declined": false}]);
//! online.ingest_json_values(events.as_array().unwrap())?;
//! let features = online.features_json_values(&[serde_json::json!({"card_id": "c1", "amount": 30.0})])?;
//! println!("as of {}: {}", features.moment.as_of_text(), features.rows[0]);
//! # Ok::<(), skewless::Error>(())
//! ```
//!
//! The rules (the README's aggregations section says what an aggregate
//! counts):
//! an event with a declared id is applied once per key however often it
//! is sent; an event older than its key's newest event minus the declared
//! lateness is late, and dropped (counted, and named in the answer); the
//! state answers as of times no earlier than its newest event less the
//! lateness and the [query lag](StateOptions::query_lag), keeps only the
//! events such answers need, and drops an event older than that on
//! arrival (expired); a batch with an event further ahead of the clock
//! than the lateness and the query lag is refused whole, since that
//! event would leave the state unable to answer as of now, and so is a
//! request as of a time that far ahead. With a
//! directory, an event is on disk before its ingestion is acknowledged,
//! and reopening the directory gives the state a clean replay of the
//! acknowledged events would. In Redis
//! ([`StateOptions::redis`]), the state is shared by every process that
//! serves it there: each answers from every event any of them
//! acknowledged.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Array, ArrayRef, RecordBatch, TimestampMicrosecondArray};
use serde_json::value::RawValue;

use crate::aggregate::live::{Fate, Incoming, Live, Rules, Store, Unanswered};
use crate::aggregate::{self, Plan};
use crate::codec::json;
use crate::engine::{Transform, prepare_columns};
use crate::error::{Error, Result};
use crate::spec::{DataType, Field};

/// Default [`StateOptions::query_lag`]: one hour.
pub const DEFAULT_QUERY_LAG: Duration = Duration::from_secs(3600);

/// Where an [`Online`] state lives and how far back it answers.
#[derive(Clone, Debug)]
pub struct StateOptions {
    kept: Kept,
    query_lag: Duration,
}

/// Where a state is kept (one place at a time).
#[derive(Clone, Debug)]
enum Kept {
    Memory,
    Dir(PathBuf),
    Redis(String),
}

impl Default for StateOptions {
    fn default() -> Self {
        StateOptions {
            kept: Kept::Memory,
            query_lag: DEFAULT_QUERY_LAG,
        }
    }
}

impl StateOptions {
    /// Keeps the state in `dir` (created when missing, reopened when
    /// present), durable across crashes and restarts: each transform's in
    /// `dir/NAME/`, as `skewless serve --state DIR` keeps it, so that one
    /// directory holds the states of several transforms, and a server's
    /// is opened in process by the same path. Default: in memory, lost
    /// when the process ends.
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.kept = Kept::Dir(dir.into());
        self
    }

    /// Keeps the state in Redis at `url` (`redis://HOST:PORT/DB`, e.g.
    /// `redis://127.0.0.1:6379/0`), under keys named after the transform
    /// (`skewless:NAME:log`, `skewless:NAME:meta`), shared by every
    /// process that serves it there: each answers from every event any of
    /// them acknowledged. An event is acknowledged once Redis has it
    /// (durable across a crash of Redis with `appendonly yes` and
    /// `appendfsync always`). Every replica holds the whole state in
    /// memory, and all must keep the same query lag.
    pub fn redis(mut self, url: impl Into<String>) -> Self {
        self.kept = Kept::Redis(url.into());
        self
    }

    /// [`StateOptions::redis`] when `location` is a Redis URL
    /// (`redis://...`), [`StateOptions::dir`] otherwise.
    pub fn location(self, location: &str) -> Self {
        if aggregate::shared::is_redis_url(location) {
            self.redis(location)
        } else {
            self.dir(location)
        }
    }

    /// How far before the newest event (less the declared lateness) a
    /// query may be as of; the state keeps the events such queries need
    /// and no more. Default [`DEFAULT_QUERY_LAG`] (one hour).
    pub fn query_lag(mut self, lag: Duration) -> Self {
        self.query_lag = lag;
        self
    }

    /// The directory, if the state is kept in one.
    pub fn state_dir(&self) -> Option<&Path> {
        match &self.kept {
            Kept::Dir(dir) => Some(dir),
            _ => None,
        }
    }

    /// The Redis URL, if the state is kept in Redis.
    pub fn redis_url(&self) -> Option<&str> {
        match &self.kept {
            Kept::Redis(url) => Some(url),
            _ => None,
        }
    }
}

/// A transform's live state (cheap to clone: clones share it).
#[derive(Clone, Debug)]
pub struct Online {
    transform: Transform,
    plan: Arc<Plan>,
    live: Arc<Live>,
}

/// What an ingestion did: the rows (of the batch sent, from 0) that were
/// not applied, and why.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Ingested {
    /// Events applied (now durable when the state has a directory).
    pub applied: u64,
    /// Rows whose event id was already applied for their key.
    pub duplicates: Vec<u64>,
    /// Rows older than their key's newest event minus the lateness.
    pub late: Vec<u64>,
    /// Rows older than anything the state still answers for.
    pub expired: Vec<u64>,
    /// When they arrived (UTC microseconds): the clock, or just after the
    /// previous batch's arrival if the clock is behind it, so that arrival
    /// times order batches.
    pub arrival: i64,
}

/// When features were answered: the clock, which rows without a time were
/// answered as of, and the arrival time of the last events the answer saw.
/// A request logged with its time (or `as_of`) and `arrival` (as the
/// spine's `_arrival`) is answered again, bit for bit, by `skewless run
/// --as-served` from the exported events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Moment {
    /// The clock when asked (UTC microseconds).
    pub as_of: i64,
    /// The answer counts every event that arrived at or before this time
    /// (an [`Ingested::arrival`]) and none that arrived after.
    pub arrival: i64,
}

impl Moment {
    /// [`Moment::as_of`] as RFC 3339 text.
    pub fn as_of_text(&self) -> String {
        crate::codec::text::timestamp_text(self.as_of)
    }

    /// [`Moment::arrival`] as RFC 3339 text.
    pub fn arrival_text(&self) -> String {
        crate::codec::text::timestamp_text(self.arrival)
    }
}

/// Features of JSON rows: one JSON object per row, and when they were
/// answered.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Answered {
    /// The output rows, as JSON objects.
    pub rows: Vec<String>,
    /// When.
    pub moment: Moment,
}

/// Counts of an [`Online`] state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OnlineStats {
    /// Events held (within the windows).
    pub events: u64,
    /// Entities with events held.
    pub entities: u64,
    /// Since opened: events applied, duplicates, late and expired ones.
    pub applied: u64,
    /// See [`OnlineStats::applied`].
    pub duplicates: u64,
    /// See [`OnlineStats::applied`].
    pub late: u64,
    /// See [`OnlineStats::applied`].
    pub expired: u64,
    /// With Redis, since opened: expiries whose trim of the shared stream
    /// failed. Answers are unaffected (the next expiry trims what one
    /// left); a count that keeps growing means Redis's memory does.
    pub trims_failed: u64,
}

/// The clock: UTC microseconds.
pub fn now_micros() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
}

/// Where transform `name`'s state is kept in the state directory `dir`:
/// `dir/NAME`. A journal directly in `dir` (where an `Online` of an
/// earlier skewless kept it) is refused rather than left beside a new,
/// empty state.
fn state_dir(dir: &Path, name: &str) -> Result<PathBuf> {
    let own = dir.join(name);
    let earlier = dir.join(aggregate::live::JOURNAL_FILE);
    if earlier.is_file() && !own.exists() {
        return Err(Error::BadRequest(format!(
            "the state directory {} holds a state directly ({}), where each transform's is \
             kept in a directory of its own named after it, as `skewless serve --state` keeps \
             it: move it there (`mkdir {} && mv {} {}`)",
            dir.display(),
            earlier.display(),
            own.display(),
            earlier.display(),
            own.display(),
        )));
    }
    Ok(own)
}

impl Online {
    /// The live state of `transform` (which must declare aggregations).
    pub fn open(transform: &Transform, options: &StateOptions) -> Result<Online> {
        let aggregation = aggregate::declared(transform)?;
        let plan = Arc::new(Plan::new(aggregation));
        let micros = |d: Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        let rules = Rules {
            lateness: aggregation.lateness_micros,
            query_lag: micros(options.query_lag),
            longest: plan.longest_window(),
        };
        let dir = match &options.kept {
            Kept::Dir(dir) => Some(state_dir(dir, transform.name())?),
            _ => None,
        };
        let store = match &options.kept {
            Kept::Memory => Store::Memory,
            Kept::Dir(_) => Store::Dir(dir.as_deref().expect("a directory")),
            Kept::Redis(url) => Store::Redis {
                url,
                name: transform.name(),
            },
        };
        let live = Live::open(plan.clone(), rules, store, transform.sha256(), now_micros())?;
        Ok(Online {
            transform: transform.clone(),
            plan,
            live: Arc::new(live),
        })
    }

    /// The transform it serves.
    pub fn transform(&self) -> &Transform {
        &self.transform
    }

    /// Counts of what it holds and did.
    pub fn stats(&self) -> OnlineStats {
        use std::sync::atomic::Ordering::Relaxed;
        let (events, entities) = self.live.held();
        let counters = &self.live.counters;
        OnlineStats {
            events,
            entities,
            applied: counters.applied.load(Relaxed),
            duplicates: counters.duplicates.load(Relaxed),
            late: counters.late.load(Relaxed),
            expired: counters.expired.load(Relaxed),
            trims_failed: counters.trims_failed.load(Relaxed),
        }
    }

    /// Where the state is kept: its journal file, its Redis URL (without a
    /// password), or `None` in memory.
    pub fn location(&self) -> Option<String> {
        self.live.location()
    }

    /// For a state in Redis, what Redis's settings promise about an
    /// acknowledged event (durable or not across a crash of Redis), when
    /// Redis tells (`CONFIG GET`).
    pub fn durability(&self) -> Option<String> {
        self.live.durability()
    }

    /// Applies what other replicas of a state in Redis appended (queries
    /// and ingestions do this first; [`Online::stats`] does not).
    pub fn sync(&self) -> Result<()> {
        self.live.sync()
    }

    /// The newest event time applied (UTC microseconds), if any.
    pub fn newest_event(&self) -> Option<i64> {
        self.live.newest()
    }

    /// Ingests events given as JSON objects (the events' columns, by the
    /// same JSON rules as requests), arrived now.
    pub fn ingest_json(&self, rows: &[&RawValue]) -> Result<Ingested> {
        let (batch, texts) = self.decode_events_json(rows)?;
        self.ingest_rows(&batch, texts, now_micros())
    }

    /// JSON events decoded, with each row's text (what the journal keeps).
    pub(crate) fn decode_events_json(
        &self,
        rows: &[&RawValue],
    ) -> Result<(RecordBatch, Vec<String>)> {
        let aggregation = aggregate::declared(&self.transform)?;
        let batch = json::decode_rows(
            self.transform.name(),
            &aggregation.event_columns(),
            rows,
            self.transform.config().naive_timestamps,
        )
        .map_err(|e| aggregate::about_key_or_time(aggregation, e))
        .map_err(|e| self.a_request_as_an_event(rows, e))?;
        let texts = rows.iter().map(|r| r.get().trim().to_string()).collect();
        Ok((batch, texts))
    }

    /// `error`, for an event row that lacks an event column but has every
    /// column of a features request: said to be a request sent as an
    /// event, the easy slip of posting to the wrong endpoint.
    fn a_request_as_an_event(&self, rows: &[&RawValue], error: Error) -> Error {
        let Error::MissingField {
            column,
            row,
            expected,
            hint,
        } = error
        else {
            return error;
        };
        let spine = self.transform.info().spine_inputs();
        let Ok(aggregation) = aggregate::declared(&self.transform) else {
            return Error::MissingField {
                column,
                row,
                expected,
                hint,
            };
        };
        let events = aggregation.event_columns();
        let keys = rows
            .get(row as usize)
            .and_then(|raw| serde_json::from_str::<serde_json::Map<_, _>>(raw.get()).ok());
        // A request has every column of a spine row, one of them no event
        // has (the time, when requests name it otherwise): an event that
        // only lacks a value, or misspells one, is not taken for one.
        let looks_like_a_request = keys.is_some_and(|keys| {
            spine.iter().all(|f| keys.contains_key(&f.name))
                && spine
                    .iter()
                    .any(|f| !events.iter().any(|e| e.name == f.name))
        });
        let hint = if looks_like_a_request {
            format!(
                "; the row has the columns of a features request ({}): ask for its features \
                 (POST /v1/transforms/{}, or `features` when embedded), and send events, with \
                 their `{column}`, here",
                crate::engine::column_list(spine.iter().map(|f| f.name.as_str())),
                self.transform.name()
            )
        } else {
            hint
        };
        Error::MissingField {
            column,
            row,
            expected,
            hint,
        }
    }

    /// [`Online::ingest_json`] for `serde_json` values.
    pub fn ingest_json_values(&self, rows: &[serde_json::Value]) -> Result<Ingested> {
        let raw = raw_rows(rows)?;
        self.ingest_json(&raw.iter().map(|r| &**r).collect::<Vec<_>>())
    }

    /// Ingests the events of `batch` (its event columns, by name), arrived
    /// now.
    pub fn ingest(&self, batch: &RecordBatch) -> Result<Ingested> {
        let aggregation = aggregate::declared(&self.transform)?;
        let fields = aggregation.event_columns();
        let columns = prepare_columns(
            self.transform.name(),
            &fields,
            batch,
            self.transform.config().naive_timestamps,
        )
        .map_err(|e| aggregate::about_key_or_time(aggregation, e))?;
        let events = batch_of(&fields, columns, batch.num_rows())?;
        let texts = json::encode_rows(&events);
        self.ingest_rows(&events, texts, now_micros())
    }

    /// Ingests decoded events (with each row's text), arrived at the
    /// clock's `now`.
    pub(crate) fn ingest_rows(
        &self,
        batch: &RecordBatch,
        texts: Vec<String>,
        now: i64,
    ) -> Result<Ingested> {
        let aggregation = aggregate::declared(&self.transform)?;
        let naive = self.transform.config().naive_timestamps;
        let computed = aggregate::event_batch(&self.transform, batch, naive)?;
        let ids = aggregate::ids_of(aggregation, &computed);
        let incoming = aggregate::events_of(aggregation, &computed)
            .into_iter()
            .zip(ids)
            .zip(texts)
            .map(|(((key, event), id), row)| Incoming {
                key,
                event,
                id,
                row,
            })
            .collect::<Vec<Incoming>>();
        let (latest, ahead) = self.live.latest_event(now);
        if let Some(row) = incoming.iter().position(|item| item.event.time > latest) {
            let text = crate::codec::text::timestamp_text;
            return Err(Error::InvalidValue {
                column: aggregation.event_time.clone(),
                row: row as u64,
                reason: format!(
                    "the event's time, {}, is more than {} (the lateness and the query lag) \
                     ahead of this server's clock, {}: the state would then answer no query \
                     as of now, and forget the events such queries need. Nothing of this \
                     batch was applied; fix the time (or the clock of what sent it), or \
                     serve with a longer query lag (`skewless serve --query-lag`)",
                    text(incoming[row].event.time),
                    crate::spec::duration_words(ahead),
                    text(now),
                ),
            });
        }
        let (fates, arrival) = self.live.ingest(incoming, now)?;
        let mut ingested = Ingested {
            arrival,
            ..Ingested::default()
        };
        for (row, fate) in fates.into_iter().enumerate() {
            let row = row as u64;
            match fate {
                Fate::Applied => ingested.applied += 1,
                Fate::Duplicate => ingested.duplicates.push(row),
                Fate::Late => ingested.late.push(row),
                Fate::Expired => ingested.expired.push(row),
            }
        }
        Ok(ingested)
    }

    /// Features of requests given as JSON objects: the key, the request's
    /// time (optional: without it, or null, a row is as of the clock) and
    /// the row function's own inputs.
    pub fn features_json(&self, rows: &[&RawValue]) -> Result<Answered> {
        let batch = self.decode_requests_json(rows)?;
        let (output, moment) = self.features(&batch)?;
        Ok(Answered {
            rows: json::encode_rows(&output),
            moment,
        })
    }

    /// JSON requests decoded (a missing time is null).
    pub(crate) fn decode_requests_json(&self, rows: &[&RawValue]) -> Result<RecordBatch> {
        let aggregation = aggregate::declared(&self.transform)?;
        let fields: Vec<Field> = self
            .transform
            .info()
            .spine_inputs()
            .into_iter()
            .map(|mut f| {
                if f.name == aggregation.request_time {
                    f.nullable = true;
                }
                f
            })
            .collect();
        json::decode_rows_with(
            self.transform.name(),
            &fields,
            rows,
            self.transform.config().naive_timestamps,
            &[aggregation.request_time.as_str()],
        )
        .map_err(|e| aggregate::about_key_or_time(aggregation, e))
    }

    /// [`Online::features_json`] for `serde_json` values; the rows come
    /// back as values.
    pub fn features_json_values(&self, rows: &[serde_json::Value]) -> Result<Answered> {
        let raw = raw_rows(rows)?;
        self.features_json(&raw.iter().map(|r| &**r).collect::<Vec<_>>())
    }

    /// Features of the requests in `batch` (the key, the request's time,
    /// the row function's inputs, by name): a null or missing time is
    /// the clock's. Returns the output rows and when they were answered.
    pub fn features(&self, batch: &RecordBatch) -> Result<(RecordBatch, Moment)> {
        self.features_as_of(batch, now_micros())
    }

    fn features_as_of(&self, batch: &RecordBatch, as_of: i64) -> Result<(RecordBatch, Moment)> {
        let aggregation = aggregate::declared(&self.transform)?;
        let naive = self.transform.config().naive_timestamps;
        // The time, the clock's where not given.
        let time_field = Field {
            name: aggregation.request_time.clone(),
            data_type: DataType::TimestampMicros,
            nullable: true,
        };
        let times: ArrayRef = if batch.column_by_name(&time_field.name).is_some() {
            let given = prepare_columns(
                self.transform.name(),
                std::slice::from_ref(&time_field),
                batch,
                naive,
            )
            .map_err(|e| aggregate::about_key_or_time(aggregation, e))?;
            let given = given[0]
                .as_any()
                .downcast_ref::<TimestampMicrosecondArray>()
                .expect("a timestamp column");
            Arc::new(
                given
                    .iter()
                    .map(|t| Some(t.unwrap_or(as_of)))
                    .collect::<TimestampMicrosecondArray>()
                    .with_timezone(crate::spec::UTC),
            )
        } else {
            // A time column under another name is most likely the time
            // misnamed: as of now would count events after the time meant.
            let spine = self.transform.info().spine_inputs();
            if let Some(other) = batch.schema().fields().iter().find(|f| {
                matches!(f.data_type(), arrow::datatypes::DataType::Timestamp(..))
                    && !spine.iter().any(|s| &s.name == f.name())
            }) {
                return Err(Error::BadRequest(format!(
                    "the requests have no column `{}`, so they would be answered as of now, but \
                     they have `{}`, a time, which transform `{}` does not take: name that \
                     column `{}`, or leave it out to be answered as of now",
                    time_field.name,
                    other.name(),
                    self.transform.name(),
                    time_field.name
                )));
            }
            Arc::new(
                TimestampMicrosecondArray::from(vec![as_of; batch.num_rows()])
                    .with_timezone(crate::spec::UTC),
            )
        };
        let mut fields: Vec<_> = batch
            .schema()
            .fields()
            .iter()
            .filter(|f| f.name() != &time_field.name)
            .cloned()
            .collect();
        let mut columns: Vec<ArrayRef> = batch
            .schema()
            .fields()
            .iter()
            .zip(batch.columns())
            .filter(|(f, _)| f.name() != &time_field.name)
            .map(|(_, c)| c.clone())
            .collect();
        fields.push(Arc::new(arrow::datatypes::Field::new(
            &time_field.name,
            times.data_type().clone(),
            false,
        )));
        columns.push(times);
        let options =
            arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        let batch = RecordBatch::try_new_with_options(
            Arc::new(arrow::datatypes::Schema::new(fields)),
            columns,
            &options,
        )
        .map_err(|e| Error::Runtime(format!("cannot assemble the requests: {e}")))?;
        let queries = aggregate::read_queries(&self.transform, &batch, naive)?;
        // As far ahead of the clock as an event may be, and no further: a
        // later time (a mistyped year, a client's wrong clock) would be
        // answered from none of the events up to it, which the state
        // refuses to take yet.
        let (latest, ahead) = self.live.latest_event(as_of);
        if let Some(row) = queries.iter().position(|(_, t)| *t > latest) {
            let text = crate::codec::text::timestamp_text;
            return Err(Error::InvalidValue {
                column: aggregation.request_time.clone(),
                row: row as u64,
                reason: format!(
                    "the time, {}, is more than {} (the lateness and the query lag) ahead of \
                     this server's clock, {}: no event that far ahead is taken yet, so no \
                     answer as of it can count them; fix the time (or the clock of what sent \
                     it)",
                    text(queries[row].1),
                    crate::spec::duration_words(ahead),
                    text(as_of),
                ),
            });
        }
        let (answers, arrival) = self.live.query(&queries)?;
        if let Some((row, Err(why))) = answers.iter().enumerate().find(|(_, a)| a.is_err()) {
            return Err(match why {
                Unanswered::TooOld(reason) => Error::InvalidValue {
                    column: aggregation.request_time.clone(),
                    row: row as u64,
                    reason: reason.clone(),
                },
                Unanswered::Failed(message) => Error::RowFailed {
                    transform: self.transform.name().to_string(),
                    row: Some(row as u64),
                    message: message.clone(),
                },
            });
        }
        let rows: Vec<Option<&[aggregate::Answer]>> = answers
            .iter()
            .map(|a| a.as_ref().ok().map(Vec::as_slice))
            .collect();
        let with = aggregate::with_answers(&self.plan, &batch, &rows)?;
        Ok((self.transform.call(&with)?, Moment { as_of, arrival }))
    }

    /// Writes every event the state holds, in the order they were applied,
    /// to `path` as JSON Lines: each row as it was received, with its
    /// arrival time in `_arrival` (an events file that `skewless run
    /// --events FILE --as-served` replays by arrival). Returns how many.
    /// Only for a state kept in a directory or in Redis (one in memory
    /// keeps no log); see [`Online::export_to`].
    pub fn export(&self, path: &Path) -> Result<u64> {
        use std::io::Write;
        let io = |cause| Error::Io {
            action: "cannot write",
            path: path.to_path_buf(),
            cause,
        };
        let file = std::fs::File::create(path).map_err(io)?;
        let mut out = std::io::BufWriter::new(file);
        let count = self.export_to(&mut out, None).map_err(|e| match e {
            Error::Runtime(message) => Error::data("cannot write", path, message),
            other => other,
        })?;
        out.flush().map_err(io)?;
        out.get_ref().sync_all().map_err(io)?;
        Ok(count)
    }

    /// [`Online::export`] to any writer, of the events that arrived after
    /// `after` only when given (an incremental export: pass the last
    /// `_arrival` of the previous one). The state keeps events only within
    /// its windows, so a complete log of what was served is built by
    /// exporting at least once per longest window (plus lateness and query
    /// lag), each time after the previous export's last arrival.
    pub fn export_to(&self, out: &mut impl std::io::Write, after: Option<i64>) -> Result<u64> {
        let logged = self.live.logged(after.unwrap_or(i64::MIN))?;
        for event in &logged {
            let arrival = crate::codec::text::timestamp_text(event.arrival);
            let rest = event.row.trim_start().strip_prefix('{').unwrap_or("}");
            let separator = if rest.trim_start().starts_with('}') {
                ""
            } else {
                ","
            };
            writeln!(out, "{{\"{ARRIVAL}\":\"{arrival}\"{separator}{rest}")
                .map_err(|e| Error::Runtime(format!("cannot write the events: {e}")))?;
        }
        Ok(logged.len() as u64)
    }
}

/// The column of an exported events file that holds each event's arrival.
pub const ARRIVAL: &str = "_arrival";

fn raw_rows(rows: &[serde_json::Value]) -> Result<Vec<Box<RawValue>>> {
    rows.iter()
        .map(serde_json::value::to_raw_value)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::BadRequest(format!("cannot encode the rows as JSON: {e}")))
}

fn batch_of(fields: &[Field], columns: Vec<ArrayRef>, rows: usize) -> Result<RecordBatch> {
    let schema = arrow::datatypes::Schema::new(fields.iter().map(Field::arrow).collect::<Vec<_>>());
    let options = arrow::array::RecordBatchOptions::new().with_row_count(Some(rows));
    RecordBatch::try_new_with_options(Arc::new(schema), columns, &options)
        .map_err(|e| Error::Runtime(format!("cannot assemble the events: {e}")))
}
