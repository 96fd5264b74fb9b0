//! The offline path: a data file through a transform into a data file.
//!
//! `threads` worker threads each take the next unit of rows from the input
//! (reading it under a lock, so the file is read in order), run its
//! batches through [`Transform::call`] on a warm instance, and encode the
//! result; the calling thread appends encoded units to the output in input
//! order. So `--threads N` means N threads of work, whatever the format:
//! with one, reading, transforming and encoding take turns on one thread;
//! a machine or container with N CPUs is used without oversubscribing it.
//! Channels between the stages are bounded, so memory holds a few units
//! whatever the size of the file. The output appears under its name only
//! when complete; any error leaves no output file. Errors name the row
//! counted from the start of the input file.

pub use crate::aggregate::backfill::PointInTime;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};

use crate::engine::{Setting, Transform};
use crate::error::{Error, Result};
use crate::io::{ColumnRequest, Encoded, Encoder, Reader, Writer};
use crate::spec::TransformInfo;

/// Default rows per batch.
pub const DEFAULT_BATCH_SIZE: usize = 8192;

/// A backfill of one file, configured with the builder methods and started
/// with [`Backfill::run`].
///
/// ```no_run
/// use skewless::{Config, Runtime, backfill::Backfill};
///
/// let transform = Runtime::new(Config::default())?.load("fraud_features.wasm")?;
/// let summary = Backfill::new(&transform, "transactions.parquet", "features.parquet")
///     .keep(["transaction_id"])
///     .run()?;
/// println!("{} rows", summary.rows);
/// # Ok::<(), skewless::Error>(())
/// ```
#[derive(Clone)]
pub struct Backfill {
    transform: Transform,
    input: PathBuf,
    output: PathBuf,
    batch_size: usize,
    threads: usize,
    keep: Vec<String>,
    on_error: OnError,
    rejects: Option<PathBuf>,
    max_rejects: Option<MaxRejects>,
    progress: Option<Arc<dyn Fn(Progress) + Send + Sync>>,
    events: Option<PathBuf>,
    as_served: bool,
    spill_above: u64,
}

/// What a backfill does with a row the transform rejects (its code returns
/// an error, panics, or exceeds its CPU or memory budget at that row) or a
/// value the reader cannot take as its column's type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnError {
    /// The backfill fails, with no output (the default).
    #[default]
    Fail,
    /// The row is left out of the output.
    Skip,
    /// The row's features are null (every output column must be nullable).
    Null,
}

impl std::str::FromStr for OnError {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        match text.trim() {
            "fail" => Ok(OnError::Fail),
            "skip" => Ok(OnError::Skip),
            "null" => Ok(OnError::Null),
            other => Err(format!(
                "`{other}` is not what to do with a bad row: use `fail` (the default), `skip` \
                 or `null`"
            )),
        }
    }
}

/// How many rejected rows a backfill tolerates before it fails.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MaxRejects {
    /// At most this many rows.
    Rows(u64),
    /// At most this fraction of the input's rows (checked at the end).
    Fraction(f64),
}

impl std::str::FromStr for MaxRejects {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let text = text.trim();
        let refused = || {
            format!("`{text}` is not a number of rows (`1000`) or a percentage of them (`0.5%`)")
        };
        match text.strip_suffix('%') {
            Some(percent) => match percent.trim().parse::<f64>() {
                Ok(p) if (0.0..=100.0).contains(&p) => Ok(MaxRejects::Fraction(p / 100.0)),
                _ => Err(refused()),
            },
            None => text.parse().map(MaxRejects::Rows).map_err(|_| refused()),
        }
    }
}

impl std::fmt::Debug for Backfill {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backfill")
            .field("transform", &self.transform)
            .field("input", &self.input)
            .field("output", &self.output)
            .field("batch_size", &self.batch_size)
            .field("threads", &self.threads)
            .field("keep", &self.keep)
            .finish_non_exhaustive()
    }
}

/// Where a backfill is, reported after each written batch.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Rows written so far.
    pub rows: u64,
    /// Rows in the input, when the format records it.
    pub total_rows: Option<u64>,
    /// Input bytes consumed so far (text and stream formats).
    pub bytes_read: u64,
    /// Size of the input file.
    pub total_bytes: u64,
}

/// What a finished backfill did.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct BackfillSummary {
    /// Rows written.
    pub rows: u64,
    /// Batches processed.
    pub batches: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// The output file.
    pub output: PathBuf,
    /// Rows set aside ([`Backfill::on_error`]), each a line of the rejects file.
    pub rejected: u64,
    /// With events: how many were read, and how many rows of the input
    /// have a key no event has (their windows are all empty).
    pub events: Option<EventsSummary>,
    /// What looks wrong though nothing failed: every window of every row
    /// empty, because the events file has none or no row's key is one of
    /// theirs (keys written differently in the two files).
    pub warning: Option<String>,
}

/// What a backfill's events gave its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EventsSummary {
    /// Events read.
    pub events: u64,
    /// Rows of the input asked about (each got its aggregates, or was
    /// rejected).
    pub rows: u64,
    /// Rows of the input whose key no event has, at any time: all their
    /// windows are empty. All of them, with events read, usually means
    /// keys that do not match (`C001` against `c001`, `7` against `007`).
    pub rows_without_events: u64,
}

/// The metadata key of a Parquet or Arrow output that counts the rows a
/// backfill set aside.
pub const REJECTED_ROWS_KEY: &str = "skewless.backfill.rejected_rows";

impl Backfill {
    /// A backfill of `input` into `output` (formats by extension).
    pub fn new(transform: &Transform, input: impl AsRef<Path>, output: impl AsRef<Path>) -> Self {
        Backfill {
            transform: transform.clone(),
            input: input.as_ref().to_path_buf(),
            output: output.as_ref().to_path_buf(),
            batch_size: DEFAULT_BATCH_SIZE,
            threads: thread::available_parallelism().map_or(1, |n| n.get()),
            keep: Vec::new(),
            on_error: OnError::Fail,
            rejects: None,
            max_rejects: None,
            progress: None,
            events: None,
            as_served: false,
            spill_above: crate::aggregate::backfill::DEFAULT_SPILL_ABOVE,
        }
    }

    /// The events a transform that declares aggregations reads: each row
    /// of the input (the spine: an entity's key, the time features are as
    /// of, and the row function's other inputs) gets the aggregates of its
    /// entity's events as of its time. The file need not be sorted.
    pub fn events(mut self, path: impl AsRef<Path>) -> Self {
        self.events = Some(path.as_ref().to_path_buf());
        self
    }

    /// Computes the aggregates as the server answered them: the events
    /// (and the input rows) carry arrival times in `_arrival`, the events
    /// of each key are taken in the order they arrived under the serving
    /// rules (an event id applied once, late events dropped), and an event
    /// counts for a row only if it arrived at or before the row's
    /// `_arrival`. With the events `GET /v1/events/NAME` exports and the
    /// requests logged with their answers' `as_of` and `arrival`, this
    /// gives every answer the server gave, bit for bit.
    pub fn as_served(mut self, as_served: bool) -> Self {
        self.as_served = as_served;
        self
    }

    /// Events files larger than this (in bytes) are partitioned to disk,
    /// next to the output, while the aggregates are computed (default 32
    /// MiB); smaller ones stay in memory. Results do not depend on it.
    #[doc(hidden)]
    pub fn spill_above(mut self, bytes: u64) -> Self {
        self.spill_above = bytes.max(1);
        self
    }

    /// What to do with a row the transform rejects, or a value the reader
    /// cannot take (default [`OnError::Fail`]). With `Skip` or `Null`, the
    /// other rows are written, and every rejected row goes to the
    /// [`Backfill::rejects`] file (required), with its row in the input,
    /// its input values and its error. Results do not depend on the batch
    /// size or the threads.
    pub fn on_error(mut self, on_error: OnError) -> Self {
        self.on_error = on_error;
        self
    }

    /// The JSON Lines file the rejected rows are written to, one object a
    /// row: `{"row", "kind", "column", "message", "input"}`. Written
    /// atomically, with the output.
    pub fn rejects(mut self, path: impl AsRef<Path>) -> Self {
        self.rejects = Some(path.as_ref().to_path_buf());
        self
    }

    /// Fails the backfill (with no output) when more rows than this are
    /// rejected; default no limit.
    pub fn max_rejects(mut self, limit: MaxRejects) -> Self {
        self.max_rejects = Some(limit);
        self
    }

    /// Rows per batch (default [`DEFAULT_BATCH_SIZE`]). Results do not
    /// depend on it; memory and speed do.
    pub fn batch_size(mut self, rows: usize) -> Self {
        self.batch_size = rows.max(1);
        self
    }

    /// Threads that read, transform and encode (default: the number of CPUs
    /// available to the process). Results do not depend on it.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Input columns to copy into the output before the features (ids,
    /// labels, timestamps).
    pub fn keep<S: Into<String>>(mut self, columns: impl IntoIterator<Item = S>) -> Self {
        self.keep = columns.into_iter().map(Into::into).collect();
        self
    }

    /// Calls `report` once before any output (0 rows, with the totals),
    /// then as output is written (every 128Ki rows or so).
    pub fn on_progress(mut self, report: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(report));
        self
    }

    /// Runs the backfill. On error, no output file is left behind.
    pub fn run(&self) -> Result<BackfillSummary> {
        let started = Instant::now();
        if same_file(&self.input, &self.output) {
            return Err(Error::BadRequest(format!(
                "the output `{}` is the input file; write the features to another file",
                self.output.display()
            )));
        }
        check_keep(&self.transform, &self.keep)?;
        let info = self.transform.info();
        crate::aggregate::check_events_given(&self.transform, self.events.is_some())?;
        let aggregated = match (&info.aggregation, &self.events) {
            (Some(_), Some(events)) => {
                if same_file(events, &self.output) {
                    return Err(Error::BadRequest(format!(
                        "the output `{}` is the events file; write the features to another file",
                        self.output.display()
                    )));
                }
                let spill_dir = match self.output.parent() {
                    Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
                    _ => PathBuf::from("."),
                };
                let options = crate::aggregate::backfill::Options {
                    threads: self.threads,
                    batch_size: self.batch_size,
                    spill_above: self.spill_above,
                    spill_dir,
                    as_served: self.as_served,
                };
                Some(crate::aggregate::backfill::Aggregated::compute(
                    &self.transform,
                    &crate::aggregate::backfill::Data::File(events),
                    &crate::aggregate::backfill::Data::File(&self.input),
                    &options,
                )?)
            }
            // Refused above, when only one of the two is there.
            _ => None,
        };
        // An aggregation's key and time too: a rejected row's record shows
        // what identifies it.
        let mut requests: Vec<ColumnRequest> = info
            .spine_inputs()
            .iter()
            .map(|field| ColumnRequest {
                name: field.name.clone(),
                data_type: Some(field.data_type),
            })
            .collect();
        // A kept column the transform declares (an aggregation's key or
        // time) is read as declared, not guessed: ids "007" and "7" in a
        // CSV column that also holds "7.5" would both be written 7.0.
        let declared = info.spine_inputs();
        for kept in &self.keep {
            if !requests.iter().any(|r| &r.name == kept) {
                requests.push(ColumnRequest {
                    name: kept.clone(),
                    data_type: declared
                        .iter()
                        .find(|f| &f.name == kept)
                        .map(|f| f.data_type),
                });
            }
        }
        let rejects = self.check_rejecting()?;
        let naive = self.transform.config().naive_timestamps;
        let reader = Reader::open(&self.input, Some(&requests), self.batch_size, naive)?;
        if self.on_error != OnError::Fail {
            reader.set_aside_bad_values();
        }
        let total_rows = reader.total_rows();
        let events = aggregated.as_ref().map(|a| EventsSummary {
            events: a.events,
            rows: a.spine_rows,
            rows_without_events: a.rows_without_events,
        });
        let source = Source::new(reader, aggregated, self.on_error != OnError::Fail)?;
        let input_schema = source.schema.clone();
        let kept_indices: Vec<usize> = self
            .keep
            .iter()
            .map(|name| {
                input_schema
                    .index_of(name)
                    .expect("requested from the reader")
            })
            .collect();
        let output_schema =
            output_schema(&input_schema, &kept_indices, self.transform.output_schema());
        let mut writer = Writer::create(
            &self.output,
            &output_schema,
            Some(&self.transform.provenance()),
        )?;
        let mut rejects = rejects.map(|path| Rejects::create(&path)).transpose()?;
        let (batches, rows_read) = self.pipeline(
            source,
            &kept_indices,
            &output_schema,
            &mut writer,
            rejects.as_mut(),
        )?;
        let rejected = rejects.as_ref().map_or(0, |r| r.count);
        if let (Some(MaxRejects::Fraction(fraction)), true) = (self.max_rejects, rejected > 0) {
            let read = total_rows.unwrap_or(rows_read).max(1);
            if rejected as f64 > fraction * read as f64 {
                let percent = fraction * 100.0;
                return Err(Error::BadRequest(format!(
                    "{rejected} of {read} rows were rejected, more than the {percent}% allowed \
                     (`max_rejects` {percent}%); no output was written; look at the first with \
                     `on_error` `fail`, which stops there"
                )));
            }
        }
        let rows = writer.rows();
        let metadata = if self.on_error == OnError::Fail {
            Vec::new()
        } else {
            vec![(REJECTED_ROWS_KEY.to_string(), rejected.to_string())]
        };
        writer.finish_with(&metadata)?;
        if let Some(rejects) = rejects {
            rejects.finish()?;
        }
        Ok(BackfillSummary {
            rows,
            batches,
            elapsed: started.elapsed(),
            output: self.output.clone(),
            rejected,
            warning: events.and_then(|events| self.empty_windows(&events)),
            events,
        })
    }

    /// The warning for a backfill whose rows all have empty windows.
    fn empty_windows(&self, events: &EventsSummary) -> Option<String> {
        let path = self.events.as_ref()?;
        let key = &self.transform.info().aggregation.as_ref()?.key.name;
        if events.rows == 0 {
            None
        } else if events.events == 0 {
            Some(format!(
                "`{}` has no events, so every window of every row is empty",
                path.display()
            ))
        } else if events.rows_without_events == events.rows {
            Some(format!(
                "no row's `{key}` is the key of {} in `{}`, so every window of every row is \
                 empty: are the keys written alike in both files (case, leading zeros, spaces)?",
                if events.events == 1 {
                    "its one event".to_string()
                } else {
                    format!("any of the {} events", events.events)
                },
                path.display()
            ))
        } else {
            None
        }
    }

    /// Checks the rejecting options before anything is read; returns the
    /// rejects file to write, if any.
    fn check_rejecting(&self) -> Result<Option<PathBuf>> {
        if self.on_error == OnError::Fail {
            return Ok(None);
        }
        let refuse =
            |setting: Setting, reason: String| Err(Error::InvalidSetting { setting, reason });
        let Some(rejects) = &self.rejects else {
            return refuse(
                Setting::Rejects,
                format!(
                    "none is given, and `on_error` `{}` needs one: a JSON Lines file where every \
                     rejected row is written (nothing is left out without a record)",
                    if self.on_error == OnError::Skip {
                        "skip"
                    } else {
                        "null"
                    }
                ),
            );
        };
        if crate::io::Format::from_path(rejects).ok() != Some(crate::io::Format::Jsonl) {
            return refuse(
                Setting::Rejects,
                format!(
                    "`{}` is not a JSON Lines file name: name it `.jsonl`",
                    rejects.display()
                ),
            );
        }
        if same_file(rejects, &self.input) || rejects == &self.output {
            return refuse(
                Setting::Rejects,
                format!(
                    "`{}` is the input or the output; name another file",
                    rejects.display()
                ),
            );
        }
        if self.on_error == OnError::Null
            && let Some(field) = self.transform.info().outputs.iter().find(|f| !f.nullable)
        {
            return refuse(
                Setting::OnError,
                format!(
                    "`null` writes nulls for a rejected row's features, but output `{}` of `{}` \
                     is not nullable; use `skip`",
                    field.name,
                    self.transform.name()
                ),
            );
        }
        Ok(Some(rejects.clone()))
    }

    /// Reads, transforms and writes every batch (and the rejected rows);
    /// returns the batch count and the rows read.
    fn pipeline(
        &self,
        reader: Source,
        kept: &[usize],
        output_schema: &SchemaRef,
        writer: &mut Writer,
        rejects: Option<&mut Rejects>,
    ) -> Result<(u64, u64)> {
        let total_rows = reader.reader.total_rows();
        let total_bytes = reader.reader.total_bytes();
        let bytes_read = reader.reader.bytes_read();
        let unit_rows = UNIT_ROWS.max(self.batch_size);
        let encoder = writer.encoder();
        let (done_tx, done_rx) = sync_channel::<Done>(self.threads * 2);
        let source = Mutex::new(Units {
            reader,
            unit_rows,
            seq: 0,
            first_row: 0,
            finished: false,
        });
        thread::scope(|scope| {
            for worker in 0..self.threads {
                let done_tx = done_tx.clone();
                let encoder = encoder.clone();
                let source = &source;
                thread::Builder::new()
                    .name(format!("skewless-worker-{worker}"))
                    .spawn_scoped(scope, move || {
                        let worker = Worker {
                            transform: &self.transform,
                            kept,
                            output_schema,
                            encoder,
                            on_error: self.on_error,
                        };
                        worker.run(source, &done_tx)
                    })
                    .expect("cannot start a worker thread");
            }
            drop(done_tx);
            let report = |rows| {
                if let Some(progress) = &self.progress {
                    progress(Progress {
                        rows,
                        total_rows,
                        bytes_read: bytes_read.load(Ordering::Relaxed),
                        total_bytes,
                    });
                }
            };
            report(0);
            let max_rows = match self.max_rejects {
                Some(MaxRejects::Rows(rows)) => Some(rows),
                _ => None,
            };
            write_in_order(done_rx, writer, rejects, max_rows, report)
        })
    }
}

/// Rows a worker takes at a time: transformed in batches of the configured
/// size, then encoded together (one Parquet row group).
const UNIT_ROWS: usize = 128 * 1024;

/// A unit of input: its sequence number, the file row it starts at, and
/// its batches and the values the reader set aside in them (or the error
/// reading them).
type Work = (u64, u64, Result<(Vec<RecordBatch>, Vec<Error>)>);
/// A worker's output for a unit, by sequence number, with its batch count:
/// the encoded rows, the rows read, and the lines of its rejected rows.
type Done = (u64, u64, Result<(Encoded, u64, Vec<String>)>);

/// The input's batches: the file's, with the aggregates of each row
/// appended when the transform declares aggregations.
struct Source {
    reader: Reader,
    schema: SchemaRef,
    aggregated: Option<crate::aggregate::backfill::Aggregated>,
    /// Rows read so far.
    row: u64,
    /// Whether a row whose aggregates failed is set aside (rather than
    /// failing the backfill).
    lenient: bool,
    aside: Vec<Error>,
}

impl Source {
    fn new(
        reader: Reader,
        aggregated: Option<crate::aggregate::backfill::Aggregated>,
        lenient: bool,
    ) -> Result<Source> {
        let mut schema = reader.schema().clone();
        if aggregated.is_some() {
            let aggregation = reader_aggregation_fields(&aggregated);
            let mut fields = schema.fields().to_vec();
            fields.extend(aggregation);
            schema = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
        }
        Ok(Source {
            reader,
            schema,
            aggregated,
            row: 0,
            lenient,
            aside: Vec::new(),
        })
    }

    fn next(&mut self) -> Option<Result<RecordBatch>> {
        let batch = match self.reader.next()? {
            Ok(batch) => batch,
            Err(error) => return Some(Err(error)),
        };
        let first = self.row;
        self.row += batch.num_rows() as u64;
        let Some(aggregated) = &mut self.aggregated else {
            return Some(Ok(batch));
        };
        let (batch, failed) = match aggregated.append(&batch, first) {
            Ok(appended) => appended,
            Err(error) => return Some(Err(error)),
        };
        if !self.lenient && !failed.is_empty() {
            return Some(Err(failed.into_iter().next().expect("not empty")));
        }
        self.aside.extend(failed);
        Some(Ok(batch))
    }

    fn take_set_aside(&mut self) -> Vec<Error> {
        let mut aside = self.reader.take_set_aside();
        if !self.aside.is_empty() {
            aside.append(&mut self.aside);
            aside.sort_by_key(|e| e.row());
        }
        aside
    }
}

fn reader_aggregation_fields(
    aggregated: &Option<crate::aggregate::backfill::Aggregated>,
) -> Vec<arrow::datatypes::FieldRef> {
    aggregated.as_ref().map(|a| a.fields()).unwrap_or_default()
}

/// The input, cut into units of about `unit_rows` rows, handed out in order.
struct Units {
    reader: Source,
    unit_rows: usize,
    seq: u64,
    first_row: u64,
    /// The input is exhausted or failed: no more units.
    finished: bool,
}

impl Units {
    /// Reads the next unit, or `None` when there is none.
    fn next(&mut self) -> Option<Work> {
        if self.finished {
            return None;
        }
        let (seq, first_row) = (self.seq, self.first_row);
        let mut unit: Vec<RecordBatch> = Vec::new();
        let mut unit_len = 0;
        while unit_len < self.unit_rows {
            match self.reader.next() {
                Some(Ok(batch)) => {
                    unit_len += batch.num_rows();
                    unit.push(batch);
                }
                Some(Err(error)) => {
                    self.finished = true;
                    return Some((seq, first_row, Err(error)));
                }
                None => {
                    self.finished = true;
                    break;
                }
            }
        }
        if unit.is_empty() {
            return None;
        }
        self.seq += 1;
        self.first_row += unit_len as u64;
        let aside = self.reader.take_set_aside();
        Some((seq, first_row, Ok((unit, aside))))
    }
}

/// A worker thread: transforms its units' batches and encodes the results.
struct Worker<'a> {
    transform: &'a Transform,
    kept: &'a [usize],
    output_schema: &'a SchemaRef,
    encoder: Encoder,
    on_error: OnError,
}

impl Worker<'_> {
    fn run(&self, source: &Mutex<Units>, done: &SyncSender<Done>) {
        loop {
            let next = source.lock().unwrap_or_else(|e| e.into_inner()).next();
            let Some((seq, first_row, unit)) = next else {
                return;
            };
            let batches = unit.as_ref().map_or(0, |(batches, _)| batches.len() as u64);
            let result =
                unit.and_then(|(batches, aside)| self.unit(seq, first_row, batches, aside));
            if done.send((seq, batches, result)).is_err() {
                return;
            }
        }
    }

    fn unit(
        &self,
        seq: u64,
        first_row: u64,
        batches: Vec<RecordBatch>,
        aside: Vec<Error>,
    ) -> Result<(Encoded, u64, Vec<String>)> {
        let mut row = first_row;
        let mut outputs = Vec::with_capacity(batches.len());
        let mut rejected = Vec::new();
        let mut aside = aside.into_iter().peekable();
        for input in batches {
            let rows = input.num_rows() as u64;
            let mut set_aside = Vec::new();
            while let Some(error) = aside.next_if(|e| e.row().is_some_and(|r| r < row + rows)) {
                set_aside.push(error);
            }
            let output = if self.on_error == OnError::Fail {
                let features = self
                    .transform
                    .call(&input)
                    .map_err(|error| error.offset_rows(row))?;
                self.assemble(&input, None, features)?
            } else {
                // Rows set aside before the call (a value the reader
                // refused, aggregates that could not be computed): the
                // transform never received them.
                let aside: std::collections::HashSet<u64> =
                    set_aside.iter().filter_map(Error::row).collect();
                let (output, errors) = self.rejecting(&input, row, set_aside)?;
                for (local, error) in errors {
                    let received = !aside.contains(&(row + local as u64));
                    rejected.push(reject_line(
                        &input,
                        local,
                        &error,
                        self.transform.info(),
                        received,
                    ));
                }
                output
            };
            row += rows;
            outputs.push(output);
        }
        let encoded = self.encoder.encode(seq as usize, outputs)?;
        Ok((encoded, row - first_row, rejected))
    }

    /// The output of `input` (file rows from `first`) with its rejected
    /// rows left out or null, and those rows' errors by row in `input`.
    /// `aside` holds the reader's refusals in these rows.
    fn rejecting(
        &self,
        input: &RecordBatch,
        first: u64,
        aside: Vec<Error>,
    ) -> Result<(RecordBatch, Vec<(usize, Error)>)> {
        let rows = input.num_rows();
        let mut errors: Vec<(usize, Error)> = Vec::new();
        for error in aside {
            let local = (error.row().expect("set aside by row") - first) as usize;
            // One record a row, for its first refused value.
            if !errors.iter().any(|(r, _)| *r == local) {
                errors.push((local, error));
            }
        }
        // What the transform gets: the rows the reader did not refuse.
        let read: Vec<u32> = (0..rows as u32)
            .filter(|r| !errors.iter().any(|(e, _)| *e == *r as usize))
            .collect();
        let computed = if read.len() == rows {
            input.clone()
        } else {
            take_rows(input, &read)?
        };
        let outcome = self.transform.call_rejecting(&computed)?;
        for error in outcome.rejected {
            let at = error.row().expect("a rejection has its row") as usize;
            let local = read[at] as usize;
            errors.push((local, error.offset_rows(first + local as u64 - at as u64)));
        }
        errors.sort_by_key(|(local, _)| *local);
        let kept_rows: Vec<u32> = (0..rows as u32)
            .filter(|r| !errors.iter().any(|(e, _)| *e == *r as usize))
            .collect();
        let output = match self.on_error {
            OnError::Skip => {
                let kept_input = if kept_rows.len() == rows {
                    input.clone()
                } else {
                    take_rows(input, &kept_rows)?
                };
                self.assemble(&kept_input, None, outcome.output)?
            }
            _ => {
                // Rejected rows in place, as nulls.
                let mut next = 0_u32;
                let indices: arrow::array::UInt32Array = (0..rows)
                    .map(|r| {
                        if errors.iter().any(|(e, _)| *e == r) {
                            None
                        } else {
                            next += 1;
                            Some(next - 1)
                        }
                    })
                    .collect();
                self.assemble(input, Some(&indices), outcome.output)?
            }
        };
        Ok((output, errors))
    }

    /// Kept columns of `input`, then `features` (placed by `indices`, nulls
    /// where they are null).
    fn assemble(
        &self,
        input: &RecordBatch,
        indices: Option<&arrow::array::UInt32Array>,
        features: RecordBatch,
    ) -> Result<RecordBatch> {
        let features: Vec<arrow::array::ArrayRef> = match indices {
            None => features.columns().to_vec(),
            Some(indices) => features
                .columns()
                .iter()
                .map(|column| arrow::compute::take(column, indices, None))
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| Error::Runtime(format!("cannot place the rejected rows: {e}")))?,
        };
        let columns = self
            .kept
            .iter()
            .map(|&i| input.column(i).clone())
            .chain(features)
            .collect();
        let options =
            arrow::array::RecordBatchOptions::new().with_row_count(Some(input.num_rows()));
        RecordBatch::try_new_with_options(self.output_schema.clone(), columns, &options)
            .map_err(|e| Error::Runtime(format!("cannot assemble the output batch: {e}")))
    }
}

/// The rows `indices` of `batch`.
fn take_rows(batch: &RecordBatch, indices: &[u32]) -> Result<RecordBatch> {
    let indices = arrow::array::UInt32Array::from(indices.to_vec());
    arrow::compute::take_record_batch(batch, &indices)
        .map_err(|e| Error::Runtime(format!("cannot select rows: {e}")))
}

/// A rejected row as a line of the rejects file: its row in the input, its
/// error, and its input values (each in its text form, as JSON Lines are
/// written). For an aggregation, the spine's columns as read, and the
/// aggregates the row function `received`, if it did (not for a row set
/// aside before the call, whose aggregates may never have been computed).
fn reject_line(
    input: &RecordBatch,
    local: usize,
    error: &Error,
    info: &TransformInfo,
    received: bool,
) -> String {
    let row = input.slice(local, 1);
    let row = match &info.aggregation {
        Some(aggregation) if !received => {
            let schema = row.schema();
            let read: Vec<usize> = (0..schema.fields().len())
                .filter(|&i| {
                    let name = schema.field(i).name();
                    !aggregation.aggregates.iter().any(|a| &a.name == name)
                })
                .collect();
            row.project(&read).unwrap_or(row)
        }
        _ => row,
    };
    let values = if crate::codec::json::check_encodable(&row.schema()).is_ok() {
        crate::codec::json::encode_rows(&row).remove(0)
    } else {
        crate::codec::json::encode_rows(&crate::codec::text::text_batch(&row)).remove(0)
    };
    let head = serde_json::json!({
        "row": error.row(),
        "kind": error.kind(),
        "column": error.column(),
        "message": error.to_string(),
    })
    .to_string();
    format!("{},\"input\":{values}}}", &head[..head.len() - 1])
}

/// The rejects file, written atomically like the output.
struct Rejects {
    file: std::io::BufWriter<std::fs::File>,
    temp: tempfile::NamedTempFile,
    path: PathBuf,
    count: u64,
}

impl Rejects {
    fn create(path: &Path) -> Result<Rejects> {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let temp = tempfile::Builder::new()
            .prefix(".rejects.")
            .suffix(".skewless-tmp")
            .tempfile_in(dir)
            .map_err(|e| Error::io("cannot create a file next to", path, e))?;
        let file = temp
            .as_file()
            .try_clone()
            .map_err(|e| Error::io("cannot write", path, e))?;
        Ok(Rejects {
            file: std::io::BufWriter::new(file),
            temp,
            path: path.to_path_buf(),
            count: 0,
        })
    }

    fn append(&mut self, lines: &[String]) -> Result<()> {
        use std::io::Write;
        for line in lines {
            self.file
                .write_all(line.as_bytes())
                .and_then(|()| self.file.write_all(b"\n"))
                .map_err(|e| Error::io("cannot write", &self.path, e))?;
        }
        self.count += lines.len() as u64;
        Ok(())
    }

    fn finish(mut self) -> Result<()> {
        use std::io::Write;
        self.file
            .flush()
            .and_then(|()| self.file.get_ref().sync_all())
            .map_err(|e| Error::io("cannot write", &self.path, e))?;
        self.temp
            .persist(&self.path)
            .map_err(|e| Error::io("cannot move the finished file to", &self.path, e.error))?;
        Ok(())
    }
}

/// Appends encoded units in sequence order (and their rejected rows); the
/// first error (in input order) stops the backfill, and so does a rejected
/// row beyond `max_rejects`. Returns the batches transformed and the rows
/// read.
fn write_in_order(
    done: Receiver<Done>,
    writer: &mut Writer,
    mut rejects: Option<&mut Rejects>,
    max_rejects: Option<u64>,
    report: impl Fn(u64),
) -> Result<(u64, u64)> {
    let mut pending = BTreeMap::new();
    let (mut next, mut batches, mut rows_read) = (0, 0, 0);
    for (seq, count, result) in done {
        pending.insert(seq, (count, result));
        while let Some((count, result)) = pending.remove(&next) {
            let (encoded, read, rejected) = result?;
            if let Some(rejects) = rejects.as_deref_mut() {
                rejects.append(&rejected)?;
                if let Some(limit) = max_rejects.filter(|&limit| rejects.count > limit) {
                    return Err(Error::BadRequest(format!(
                        "more than {limit} rows were rejected (`max_rejects` {limit}); no \
                         output was written; look at the first with `on_error` `fail`, which \
                         stops there"
                    )));
                }
            }
            writer.append(encoded)?;
            batches += count;
            rows_read += read;
            report(writer.rows());
            next += 1;
        }
    }
    Ok((batches, rows_read))
}

/// Checks the columns to keep beside a transform's outputs: each named
/// once, and none named like an output column (the output would hold two
/// columns of one name). The backfill's rule, for embedders that keep
/// columns themselves.
pub fn check_keep(transform: &Transform, keep: &[impl AsRef<str>]) -> Result<()> {
    let info = transform.info();
    for (index, kept) in keep.iter().enumerate() {
        let kept = kept.as_ref();
        if keep[..index].iter().any(|k| k.as_ref() == kept) {
            return Err(Error::BadRequest(format!(
                "column `{kept}` is kept twice; name each kept column once"
            )));
        }
        if info.outputs.iter().any(|field| field.name == kept) {
            return Err(Error::BadRequest(format!(
                "cannot keep input column `{kept}`: transform `{}` has an output column of that name",
                info.name
            )));
        }
    }
    Ok(())
}

fn output_schema(input: &Schema, kept: &[usize], features: &SchemaRef) -> SchemaRef {
    let fields: Vec<_> = kept
        .iter()
        .map(|&i| input.fields()[i].clone())
        .chain(features.fields().iter().cloned())
        .collect();
    Arc::new(Schema::new(fields))
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
