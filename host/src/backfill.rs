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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};

use crate::error::{Error, Result};
use crate::io::{ColumnRequest, Encoded, Encoder, Reader, Writer};
use crate::transform::Transform;

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
    progress: Option<Arc<dyn Fn(Progress) + Send + Sync>>,
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
pub struct BackfillSummary {
    /// Rows written.
    pub rows: u64,
    /// Batches processed.
    pub batches: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// The output file.
    pub output: PathBuf,
}

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
            progress: None,
        }
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
        let info = self.transform.info();
        for (index, kept) in self.keep.iter().enumerate() {
            if self.keep[..index].contains(kept) {
                return Err(Error::BadRequest(format!(
                    "column `{kept}` is kept twice; name each kept column once"
                )));
            }
            if info.outputs.iter().any(|field| &field.name == kept) {
                return Err(Error::BadRequest(format!(
                    "cannot keep input column `{kept}`: transform `{}` has an output column of that name",
                    info.name
                )));
            }
        }
        let mut requests: Vec<ColumnRequest> = info
            .inputs
            .iter()
            .map(|field| ColumnRequest {
                name: field.name.clone(),
                data_type: Some(field.data_type),
            })
            .collect();
        for kept in &self.keep {
            if !requests.iter().any(|r| &r.name == kept) {
                requests.push(ColumnRequest {
                    name: kept.clone(),
                    data_type: None,
                });
            }
        }
        let naive = self.transform.runtime().config().naive_timestamps;
        let reader = Reader::open(&self.input, Some(&requests), self.batch_size, naive)?;
        let input_schema = reader.schema().clone();
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
        let batches = self.pipeline(reader, &kept_indices, &output_schema, &mut writer)?;
        let rows = writer.rows();
        writer.finish()?;
        Ok(BackfillSummary {
            rows,
            batches,
            elapsed: started.elapsed(),
            output: self.output.clone(),
        })
    }

    /// Reads, transforms and writes every batch; returns the batch count.
    fn pipeline(
        &self,
        reader: Reader,
        kept: &[usize],
        output_schema: &SchemaRef,
        writer: &mut Writer,
    ) -> Result<u64> {
        let total_rows = reader.total_rows();
        let total_bytes = reader.total_bytes();
        let bytes_read = reader.bytes_read();
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
            write_in_order(done_rx, writer, report)
        })
    }
}

/// Rows a worker takes at a time: transformed in batches of the configured
/// size, then encoded together (one Parquet row group).
const UNIT_ROWS: usize = 128 * 1024;

/// A unit of input: its sequence number, the file row it starts at, and
/// its batches (or the error reading them).
type Work = (u64, u64, Result<Vec<RecordBatch>>);
/// A worker's encoded output, by sequence number, with its batch count.
type Done = (u64, u64, Result<Encoded>);

/// The input, cut into units of about `unit_rows` rows, handed out in order.
struct Units {
    reader: Reader,
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
        Some((seq, first_row, Ok(unit)))
    }
}

/// A worker thread: transforms its units' batches and encodes the results.
struct Worker<'a> {
    transform: &'a Transform,
    kept: &'a [usize],
    output_schema: &'a SchemaRef,
    encoder: Encoder,
}

impl Worker<'_> {
    fn run(&self, source: &Mutex<Units>, done: &SyncSender<Done>) {
        loop {
            let next = source.lock().unwrap_or_else(|e| e.into_inner()).next();
            let Some((seq, first_row, unit)) = next else {
                return;
            };
            let batches = unit.as_ref().map_or(0, |batches| batches.len() as u64);
            let result = unit.and_then(|batches| self.unit(seq, first_row, batches));
            if done.send((seq, batches, result)).is_err() {
                return;
            }
        }
    }

    fn unit(&self, seq: u64, first_row: u64, batches: Vec<RecordBatch>) -> Result<Encoded> {
        let mut row = first_row;
        let mut outputs = Vec::with_capacity(batches.len());
        for input in batches {
            let features = self
                .transform
                .call(&input)
                .map_err(|error| error.offset_rows(row))?;
            row += input.num_rows() as u64;
            let columns = self
                .kept
                .iter()
                .map(|&i| input.column(i).clone())
                .chain(features.columns().iter().cloned())
                .collect();
            outputs.push(
                RecordBatch::try_new(self.output_schema.clone(), columns).map_err(|e| {
                    Error::Runtime(format!("cannot assemble the output batch: {e}"))
                })?,
            );
        }
        self.encoder.encode(seq as usize, outputs)
    }
}

/// Appends encoded units in sequence order; the first error (in input
/// order) stops the backfill. Returns the number of batches transformed.
fn write_in_order(done: Receiver<Done>, writer: &mut Writer, report: impl Fn(u64)) -> Result<u64> {
    let mut pending = BTreeMap::new();
    let (mut next, mut batches) = (0, 0);
    for (seq, count, result) in done {
        pending.insert(seq, (count, result));
        while let Some((count, result)) = pending.remove(&next) {
            writer.append(result?)?;
            batches += count;
            report(writer.rows());
            next += 1;
        }
    }
    Ok(batches)
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
