//! The parity proof: a dataset through the backfill path and through the
//! online path, compared bit for bit.
//!
//! 1. **Backfill** (the reference): [`Backfill`] writes the features of the
//!    whole file to a temporary Arrow IPC file, exactly as `skewless run`
//!    would, and reads them back.
//! 2. **Online, row by row**: every row on its own is encoded as a JSON
//!    request row, decoded by the serving codec, transformed as a batch of
//!    one, encoded as a JSON response and decoded again.
//! 3. **Batches**: the whole file again, in batches of each size asked for
//!    (by default 1, 7, 1024 and all rows at once).
//! 4. **Served state** (aggregations): the events fed to a fresh live
//!    state, as `skewless serve` keeps it, shuffled within the declared
//!    lateness, and each spine row asked alone at its time, in time order.
//!
//! Every output value of every path is compared with the reference by its
//! bits (floats included: NaN payloads, signed zeros), nulls included. A row
//! the transform rejects (or a value the reader refuses) is no failure of
//! the proof when every path rejects it with the same message; a path that
//! rejects other rows, or with another message, differs. The input is held
//! in memory for the batch paths.

use std::path::{Path, PathBuf};

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType as ArrowType, Float32Type, Float64Type, SchemaRef};
use serde_json::value::RawValue;

use crate::backfill::Backfill;
use crate::codec::json;
use crate::engine::Transform;
use crate::error::{Error, Result};
use crate::io::{ColumnRequest, Reader};

/// The batch sizes `verify` uses unless told otherwise: one row, a small
/// odd size, a typical backfill size, and the whole file.
pub const DEFAULT_BATCH_SIZES: [BatchSize; 4] = [
    BatchSize::Rows(1),
    BatchSize::Rows(7),
    BatchSize::Rows(1024),
    BatchSize::All,
];

/// How many rows each call of a batch path gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchSize {
    /// This many rows per call (the last call gets the rest).
    Rows(usize),
    /// The whole file in one call.
    All,
}

impl std::str::FromStr for BatchSize {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        match text.trim() {
            "all" => Ok(BatchSize::All),
            number => match number.parse::<usize>() {
                Ok(0) | Err(_) => Err(format!(
                    "`{number}` is not a batch size (a positive number, or `all`)"
                )),
                Ok(rows) => Ok(BatchSize::Rows(rows)),
            },
        }
    }
}

/// One value that differs between the reference and a path.
#[derive(Clone, Debug, PartialEq)]
pub struct Mismatch {
    /// The row, counted from the first data row of the file.
    pub row: u64,
    /// The output column.
    pub column: String,
    /// The backfill's value, with its bits for floats.
    pub expected: String,
    /// This path's value.
    pub actual: String,
}

/// Why a path stopped before its outputs could be compared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathError {
    /// skewless itself could not carry the rows through the path's
    /// transport (the JSON codec, both ways). The transform is not at
    /// fault: it never saw the rows, or its answer could not be read back.
    Transport(String),
    /// The transform failed on this path where the backfill did not: its
    /// result depends on how rows are batched or transported.
    Transform(String),
}

impl std::fmt::Display for PathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PathError::Transport(error) => write!(
                f,
                "skewless could not carry the rows through this path (a defect in skewless, \
                 not in the transform): {error}"
            ),
            PathError::Transform(error) => {
                write!(
                    f,
                    "the transform failed here but not in the backfill: {error}"
                )
            }
        }
    }
}

/// How one path compared with the reference.
#[derive(Clone, Debug)]
pub struct PathReport {
    /// What the path is, e.g. "batches of 7 rows".
    pub name: String,
    /// Rows that differ in at least one column.
    pub rows_differing: u64,
    /// The first differing value.
    pub first_mismatch: Option<Mismatch>,
    /// The error that stopped the path, when it failed where the reference
    /// did not.
    pub error: Option<PathError>,
}

impl PathReport {
    /// Whether every value matched.
    pub fn passed(&self) -> bool {
        self.rows_differing == 0 && self.error.is_none()
    }
}

/// The outcome of a verification.
#[derive(Clone, Debug)]
pub struct VerifyReport {
    /// Rows in the input.
    pub rows: u64,
    /// Output columns compared.
    pub columns: usize,
    /// Rows the backfill rejected (a path passes only when it rejects the
    /// same rows with the same messages).
    pub rejected: u64,
    /// The first rejected row (in the input) and why it was rejected.
    pub first_rejected: Option<(u64, String)>,
    /// Each path compared with the reference.
    pub paths: Vec<PathReport>,
    /// For a transform that aggregates events: how many events every path
    /// but the reference took, one at a time and shuffled, into the
    /// incremental state its aggregates came from.
    pub incremental_events: Option<u64>,
}

impl VerifyReport {
    /// Rows whose outputs were compared: the rows the backfill did not
    /// reject.
    pub fn compared_rows(&self) -> u64 {
        self.rows.saturating_sub(self.rejected)
    }

    /// Whether the proof holds: some rows were compared, and every path
    /// matched the reference bit for bit. Nothing compared is no proof.
    pub fn passed(&self) -> bool {
        self.compared_rows() > 0 && self.paths.iter().all(PathReport::passed)
    }
}

/// Called with the name of each path as it starts.
type PathStarted = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

/// A verification of one transform on one file.
#[derive(Clone)]
pub struct Verify {
    transform: Transform,
    input: PathBuf,
    batch_sizes: Vec<BatchSize>,
    progress: Option<PathStarted>,
    events: Option<PathBuf>,
    arrival_order: bool,
}

impl std::fmt::Debug for Verify {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verify")
            .field("transform", &self.transform)
            .field("input", &self.input)
            .field("batch_sizes", &self.batch_sizes)
            .finish_non_exhaustive()
    }
}

impl Verify {
    /// Verifies `transform` on the data file `input`.
    pub fn new(transform: &Transform, input: impl AsRef<Path>) -> Self {
        Verify {
            transform: transform.clone(),
            input: input.as_ref().to_path_buf(),
            batch_sizes: DEFAULT_BATCH_SIZES.to_vec(),
            progress: None,
            events: None,
            arrival_order: false,
        }
    }

    /// The events of a transform that declares aggregations: `input` is
    /// then the spine. The reference is the backfill's (every entity's
    /// events sorted, windows slid through its queries); every other path
    /// reads the aggregates of an incremental state that took the events
    /// one at a time, in a shuffled order, and answered each row alone.
    pub fn events(mut self, path: impl AsRef<Path>) -> Self {
        self.events = Some(path.as_ref().to_path_buf());
        self
    }

    /// A deliberately wrong incremental state that keeps each entity's
    /// events in the order they arrived instead of their one order: for
    /// tests that verification catches an order-dependent engine.
    #[doc(hidden)]
    pub fn with_arrival_order_state(mut self) -> Self {
        self.arrival_order = true;
        self
    }

    /// The batch sizes of the batch paths (default [`DEFAULT_BATCH_SIZES`]).
    pub fn batch_sizes(mut self, sizes: impl IntoIterator<Item = BatchSize>) -> Self {
        self.batch_sizes = sizes.into_iter().collect();
        self
    }

    /// Calls `report` with the name of each path as it starts.
    pub fn on_path(mut self, report: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.progress = Some(std::sync::Arc::new(report));
        self
    }

    /// Runs every path. `Err` when the reference itself cannot be computed
    /// (a file that cannot be read): there is nothing to compare with then.
    /// A row the transform rejects is not an error: every path must reject
    /// it too, with the same message.
    pub fn run(&self) -> Result<VerifyReport> {
        crate::aggregate::check_events_given(&self.transform, self.events.is_some())?;
        let started = |name: &str| {
            if let Some(progress) = &self.progress {
                progress(name);
            }
        };
        started("backfill (the reference)");
        let reference = self.backfill_reference()?;
        let input = self.read_input()?;
        let rows = input.file_rows.len() as u64 + input.set_aside.len() as u64;
        let mut paths = Vec::new();
        let name = "online: each row alone through the JSON codec".to_string();
        started(&name);
        let outcome = self.json_rows(&input);
        paths.push(compare(name, &reference, outcome, &input));
        for &size in &self.batch_sizes {
            let (name, chunk) = match size {
                BatchSize::Rows(1) => ("batches of 1 row".to_string(), 1),
                BatchSize::Rows(rows) => (format!("batches of {rows} rows"), rows),
                BatchSize::All => (
                    format!("one batch of all {} rows", input.batch.num_rows()),
                    input.batch.num_rows().max(1),
                ),
            };
            started(&name);
            let outcome = self.batches(&input, chunk);
            paths.push(compare(name, &reference, outcome, &input));
        }
        if let Some(events) = &self.events {
            let name = "served state: events shuffled, rows at their times".to_string();
            started(&name);
            let outcome = self.served(&input, events);
            paths.push(compare(name, &reference, outcome, &input));
        }
        Ok(VerifyReport {
            rows,
            columns: self.transform.info().outputs.len(),
            rejected: reference.rejected.len() as u64,
            first_rejected: reference.rejected.first().cloned(),
            paths,
            incremental_events: input.events,
        })
    }

    /// The features as `skewless run` writes them, read back, and the rows
    /// it rejected (`--on-error skip`).
    fn backfill_reference(&self) -> Result<Outcome> {
        let dir = tempfile::tempdir().map_err(|e| {
            Error::io(
                "cannot create a temporary directory in",
                std::env::temp_dir(),
                e,
            )
        })?;
        let output = dir.path().join("reference.arrow");
        let rejects = dir.path().join("rejects.jsonl");
        let mut backfill = Backfill::new(&self.transform, &self.input, &output)
            .on_error(crate::backfill::OnError::Skip)
            .rejects(&rejects);
        if let Some(events) = &self.events {
            backfill = backfill.events(events);
        }
        backfill.run()?;
        let batches: Vec<RecordBatch> =
            Reader::open(&output, None, usize::MAX, Default::default())?.collect::<Result<_>>()?;
        let text =
            std::fs::read_to_string(&rejects).map_err(|e| Error::io("cannot read", &rejects, e))?;
        let rejected = text
            .lines()
            .map(|line| {
                let value: serde_json::Value = serde_json::from_str(line)
                    .map_err(|e| Error::Runtime(format!("the rejects file is damaged: {e}")))?;
                Ok((
                    value["row"].as_u64().unwrap_or_default(),
                    value["message"].as_str().unwrap_or_default().to_string(),
                ))
            })
            .collect::<Result<_>>()?;
        Ok(Outcome {
            output: Ok(concat(self.transform.output_schema(), &batches)?),
            rejected,
        })
    }

    /// The input columns, all in memory, as the transform receives them
    /// (declared types and order), so that every path sends the same
    /// values; values the reader refuses are set aside, as the backfill
    /// sets them aside.
    fn read_input(&self) -> Result<Input> {
        let info = self.transform.info();
        let mut requests: Vec<ColumnRequest> = info
            .request_inputs()
            .iter()
            .map(|field| ColumnRequest {
                name: field.name.clone(),
                data_type: Some(field.data_type),
            })
            .collect();
        let state = match (&info.aggregation, &self.events) {
            (Some(aggregation), Some(events)) => {
                for field in [
                    aggregation.key.clone(),
                    crate::spec::Field {
                        name: aggregation.request_time.clone(),
                        data_type: crate::spec::DataType::TimestampMicros,
                        nullable: false,
                    },
                ] {
                    if !requests.iter().any(|r| r.name == field.name) {
                        requests.push(ColumnRequest {
                            name: field.name,
                            data_type: Some(field.data_type),
                        });
                    }
                }
                Some(self.incremental_state(events)?)
            }
            _ => None,
        };
        let naive = self.transform.config().naive_timestamps;
        let mut reader = Reader::open(&self.input, Some(&requests), 64 * 1024, naive)?;
        reader.set_aside_bad_values();
        let mut batches = Vec::new();
        let mut spine = Vec::new();
        let mut file_rows = Vec::new();
        let mut set_aside: Vec<(u64, String)> = Vec::new();
        let mut refused_rows = std::collections::HashSet::new();
        let mut row = 0_u64;
        while let Some(batch) = reader.next() {
            let batch = batch?;
            let rows = batch.num_rows() as u64;
            let aside = reader.take_set_aside();
            let refused: std::collections::BTreeSet<u64> =
                aside.iter().filter_map(Error::row).collect();
            // One record a row, for its first refused value.
            for error in aside {
                let at = error.row().unwrap_or_default();
                if refused_rows.insert(at) {
                    set_aside.push((at, error.to_string()));
                }
            }
            let all: Vec<u64> = (row..row + rows).collect();
            let mut kept: Vec<u64> = all
                .iter()
                .copied()
                .filter(|at| !refused.contains(at))
                .collect();
            let mut batch = select_of(&batch, &all, &kept)?;
            let batch = match &state {
                Some(state) => {
                    let (with, failed) = self.with_aggregates(state, &batch)?;
                    // A row whose aggregates cannot be computed (a sum
                    // beyond int64) is rejected, as the backfill rejects
                    // it: the incremental state must fail it with the
                    // backfill's message, and no path is asked it.
                    let with = if failed.is_empty() {
                        with
                    } else {
                        let mut asked = vec![true; kept.len()];
                        for (index, message) in failed {
                            asked[index] = false;
                            set_aside.push((
                                kept[index],
                                Error::RowFailed {
                                    transform: self.transform.name().to_string(),
                                    row: Some(kept[index]),
                                    message,
                                }
                                .to_string(),
                            ));
                        }
                        let still: Vec<u64> = kept
                            .iter()
                            .zip(&asked)
                            .filter_map(|(&at, &asked)| asked.then_some(at))
                            .collect();
                        let with = select_of(&with, &kept, &still)?;
                        batch = select_of(&batch, &kept, &still)?;
                        kept = still;
                        with
                    };
                    spine.push(batch);
                    with
                }
                None => batch,
            };
            file_rows.extend(kept);
            batches.push(self.transform.prepare_input(&batch)?);
            row += rows;
        }
        Ok(Input {
            batch: concat(self.transform.input_schema(), &batches)?,
            file_rows,
            set_aside,
            events: state.as_ref().map(crate::aggregate::State::events),
            spine: match state {
                Some(_) => Some(
                    arrow::compute::concat_batches(
                        &spine
                            .first()
                            .map_or_else(|| reader.schema().clone(), RecordBatch::schema),
                        &spine,
                    )
                    .map_err(|e| Error::Runtime(format!("cannot gather the spine: {e}")))?,
                ),
                None => None,
            },
        })
    }

    /// Every event of the events file applied, one at a time and in a
    /// shuffled order, to a fresh incremental state.
    fn incremental_state(&self, events: &Path) -> Result<crate::aggregate::State> {
        let aggregation = crate::aggregate::declared(&self.transform)?;
        let naive = self.transform.config().naive_timestamps;
        let requests: Vec<ColumnRequest> = aggregation
            .event_columns()
            .into_iter()
            .map(|field| ColumnRequest {
                name: field.name,
                data_type: Some(field.data_type),
            })
            .collect();
        let mut all = Vec::new();
        let mut row = 0_u64;
        for batch in Reader::open(events, Some(&requests), 64 * 1024, naive)? {
            let batch = batch?;
            let read = crate::aggregate::event_batch(&self.transform, &batch, naive)
                .map_err(|e| Error::in_file("cannot read", events, e.offset_rows(row)))?;
            row += batch.num_rows() as u64;
            all.extend(
                crate::aggregate::events_of(aggregation, &read)
                    .into_iter()
                    .zip(crate::aggregate::ids_of(aggregation, &read)),
            );
        }
        // A fixed shuffle (xorshift), so a failure can be reproduced.
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        for i in (1..all.len()).rev() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            all.swap(i, (seed % (i as u64 + 1)) as usize);
        }
        let plan = std::sync::Arc::new(crate::aggregate::Plan::new(aggregation));
        let mut state = crate::aggregate::State::new(plan);
        if self.arrival_order {
            state.keep_arrival_order();
        }
        for ((key, event), id) in all {
            // An id counts once, as served: the first to arrive.
            if id.as_ref().is_some_and(|id| state.has_id(&key, id)) {
                continue;
            }
            state.apply_with_id(key, event, id);
        }
        Ok(state)
    }

    /// The online path of aggregations: a fresh live state (as `skewless
    /// serve` keeps) is fed the events in the order a producer could send
    /// them (each delayed by a fixed pseudo-random part of the declared
    /// lateness, so they arrive shuffled but never late), and each spine
    /// row is asked alone, in time order, once every event before its
    /// time has arrived.
    fn served(&self, input: &Input, events: &Path) -> Outcome {
        let transport = |e: Error| Outcome {
            output: Err(PathError::Transport(e.to_string())),
            rejected: input.set_aside.clone(),
        };
        let spine = input.spine.as_ref().expect("a spine with aggregations");
        let (online, all, delivery) = match self.served_events(events) {
            Ok(read) => read,
            Err(error) => return transport(error),
        };
        let aggregation = crate::aggregate::declared(&self.transform).expect("aggregations");
        let naive = self.transform.config().naive_timestamps;
        let queries = match crate::aggregate::read_queries(&self.transform, spine, naive) {
            Ok(queries) => queries,
            Err(error) => return transport(error),
        };
        let mut asked: Vec<usize> = (0..queries.len()).collect();
        asked.sort_by_key(|&row| queries[row].1);
        let mut outputs: Vec<Option<RecordBatch>> = vec![None; queries.len()];
        let mut rejected = input.set_aside.clone();
        let mut next = 0;
        for row in asked {
            let t = queries[row].1;
            // Every event before `t` has arrived once those delivered
            // before `t` plus the lateness have.
            let due = t.saturating_add(aggregation.lateness_micros);
            let end = next + delivery[next..].partition_point(|(d, _)| *d < due);
            if end > next {
                let indices = arrow::array::UInt64Array::from_iter_values(
                    delivery[next..end].iter().map(|(_, i)| *i as u64),
                );
                let ingested = arrow::compute::take_record_batch(&all, &indices)
                    .map_err(|e| Error::Runtime(format!("cannot select events: {e}")))
                    .and_then(|batch| online.ingest(&batch));
                match ingested {
                    // A repeated id counts once on both paths.
                    Ok(ingested)
                        if ingested.applied + ingested.duplicates.len() as u64
                            == (end - next) as u64 => {}
                    Ok(ingested) => {
                        let file_row = |local: &u64| delivery[next + *local as usize].1;
                        let (why, rows) = if !ingested.late.is_empty() {
                            ("were late", &ingested.late)
                        } else {
                            ("had expired", &ingested.expired)
                        };
                        return Outcome {
                            output: Err(PathError::Transform(format!(
                                "events at rows {:?} of `{}` {why} when served, so the \
                                 served state dropped them and the backfill did not",
                                rows.iter().take(5).map(file_row).collect::<Vec<_>>(),
                                events.display()
                            ))),
                            rejected,
                        };
                    }
                    Err(error) => return transport(error),
                }
                next = end;
            }
            let file_row = input.file_rows[row];
            match online.features(&spine.slice(row, 1)) {
                Ok((output, _)) => outputs[row] = Some(output),
                Err(error) if error.is_row_rejection() => {
                    rejected.push((file_row, error.offset_rows(file_row).to_string()));
                }
                Err(error) => {
                    return Outcome {
                        output: Err(PathError::Transform(
                            error.offset_rows(file_row).to_string(),
                        )),
                        rejected,
                    };
                }
            }
        }
        rejected.sort();
        let outputs: Vec<RecordBatch> = outputs.into_iter().flatten().collect();
        Outcome {
            output: concat(self.transform.output_schema(), &outputs)
                .map_err(|e| PathError::Transport(e.to_string())),
            rejected,
        }
    }

    /// A fresh in-memory live state, the events file's events (its event
    /// columns, in one batch), and the order they are delivered in: each
    /// event's (time plus a fixed pseudo-random delay under the lateness,
    /// row), sorted.
    fn served_events(
        &self,
        events: &Path,
    ) -> Result<(crate::online::Online, RecordBatch, Delivery)> {
        let aggregation = crate::aggregate::declared(&self.transform)?;
        let naive = self.transform.config().naive_timestamps;
        let online =
            crate::online::Online::open(&self.transform, &crate::online::StateOptions::default())?;
        let fields = aggregation.event_columns();
        let requests: Vec<ColumnRequest> = fields
            .iter()
            .map(|field| ColumnRequest {
                name: field.name.clone(),
                data_type: Some(field.data_type),
            })
            .collect();
        let reader = Reader::open(events, Some(&requests), 64 * 1024, naive)?;
        let schema = reader.schema().clone();
        let batches: Vec<RecordBatch> = reader.collect::<Result<_>>()?;
        let all = arrow::compute::concat_batches(&schema, &batches)
            .map_err(|e| Error::Runtime(format!("cannot gather the events: {e}")))?;
        let time = crate::engine::prepare_columns(
            self.transform.name(),
            &aggregation.engine_columns()[1..2],
            &all,
            naive,
        )
        .map_err(|e| Error::in_file("cannot read", events, e))?;
        let times = time[0].as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let lateness = aggregation.lateness_micros.max(0) as u64;
        let delivery = (0..all.num_rows())
            .map(|row| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let delay = if lateness == 0 { 0 } else { seed % lateness };
                (times.value(row).saturating_add(delay as i64), row)
            })
            .collect::<Vec<_>>();
        let mut delivery = delivery;
        delivery.sort_unstable();
        Ok((online, all, delivery))
    }

    /// `batch` (spine rows) with each row's aggregates from `state`, each
    /// row answered alone, as of its time.
    fn with_aggregates(
        &self,
        state: &crate::aggregate::State,
        batch: &RecordBatch,
    ) -> Result<(RecordBatch, Vec<(usize, String)>)> {
        let naive = self.transform.config().naive_timestamps;
        let queries = crate::aggregate::read_queries(&self.transform, batch, naive)?;
        let answers: Vec<std::result::Result<Vec<crate::aggregate::Answer>, String>> = queries
            .iter()
            .map(|(key, t)| state.query(key, *t))
            .collect();
        let rows: Vec<Option<&[crate::aggregate::Answer]>> = answers
            .iter()
            .map(|a| a.as_ref().ok().map(Vec::as_slice))
            .collect();
        let failed = answers
            .iter()
            .enumerate()
            .filter_map(|(index, answer)| Some((index, answer.as_ref().err()?.clone())))
            .collect();
        Ok((
            crate::aggregate::with_answers(state.plan(), batch, &rows)?,
            failed,
        ))
    }

    /// Every row alone through JSON both ways: the request as a client
    /// would send it, decoded as `serve` decodes it, and the response read
    /// back.
    fn json_rows(&self, input: &Input) -> Outcome {
        let info = self.transform.info();
        let mut outputs = Vec::with_capacity(input.batch.num_rows());
        let mut rejected = input.set_aside.clone();
        for (index, &file_row) in input.file_rows.iter().enumerate() {
            let at_row = |e: Error| e.offset_rows(file_row);
            let transport = |e: Error| PathError::Transport(at_row(e).to_string());
            let one = (|| {
                let request = one_json_row(&input.batch.slice(index, 1)).map_err(transport)?;
                let batch = json::decode_input(&self.transform, &[&request]).map_err(transport)?;
                let output = match self.transform.call(&batch) {
                    Ok(output) => output,
                    Err(error) if error.is_row_rejection() => return Ok(Err(at_row(error))),
                    Err(error) => return Err(PathError::Transform(at_row(error).to_string())),
                };
                let response = one_json_row(&output).map_err(transport)?;
                json::decode_rows(&info.name, &info.outputs, &[&response], Default::default())
                    .map(Ok)
                    .map_err(transport)
            })();
            match one {
                Ok(Ok(output)) => outputs.push(output),
                Ok(Err(error)) => rejected.push((file_row, error.to_string())),
                Err(error) => {
                    return Outcome {
                        output: Err(error),
                        rejected,
                    };
                }
            }
        }
        rejected.sort();
        Outcome {
            output: concat(self.transform.output_schema(), &outputs)
                .map_err(|e| PathError::Transport(e.to_string())),
            rejected,
        }
    }

    /// The input in batches of `chunk` rows, rows the transform rejects set
    /// aside.
    fn batches(&self, input: &Input, chunk: usize) -> Outcome {
        let rows = input.batch.num_rows();
        let mut outputs = Vec::new();
        let mut rejected = input.set_aside.clone();
        let mut offset = 0;
        while offset < rows {
            let len = chunk.min(rows - offset);
            match self
                .transform
                .call_rejecting(&input.batch.slice(offset, len))
            {
                Ok(outcome) => {
                    outputs.push(outcome.output);
                    for error in outcome.rejected {
                        let local = error.row().unwrap_or_default() as usize;
                        let file_row = input.file_rows[offset + local];
                        rejected.push((
                            file_row,
                            error.offset_rows(file_row - local as u64).to_string(),
                        ));
                    }
                }
                Err(error) => {
                    let file_row = input.file_rows[offset];
                    return Outcome {
                        output: Err(PathError::Transform(
                            error.offset_rows(file_row).to_string(),
                        )),
                        rejected,
                    };
                }
            }
            offset += len;
        }
        rejected.sort();
        Outcome {
            output: concat(self.transform.output_schema(), &outputs)
                .map_err(|e| PathError::Transport(e.to_string())),
            rejected,
        }
    }
}

/// Events in the order a producer delivers them: (delivery time, row).
type Delivery = Vec<(i64, usize)>;

/// The verification's input: the rows the reader took, as the transform
/// receives them, the row of the file each one is, and the values the
/// reader refused, with their rows and messages.
struct Input {
    batch: RecordBatch,
    file_rows: Vec<u64>,
    set_aside: Vec<(u64, String)>,
    /// Events applied to the incremental state, for aggregations.
    events: Option<u64>,
    /// The spine's rows as read (key, time, the row function's inputs),
    /// for aggregations: what the served path asks.
    spine: Option<RecordBatch>,
}

/// What a path computed: the output rows of the rows it did not reject (in
/// order), and the rejected rows' `(row in the file, message)`.
struct Outcome {
    output: std::result::Result<RecordBatch, PathError>,
    rejected: Vec<(u64, String)>,
}

/// A path's outcome against the reference's: the same rows rejected with
/// the same messages, then every value of the other rows by its bits.
fn compare(name: String, reference: &Outcome, path: Outcome, input: &Input) -> PathReport {
    let mut report = PathReport {
        name,
        rows_differing: 0,
        first_mismatch: None,
        error: None,
    };
    let output = match path.output {
        Ok(output) => output,
        Err(error) => {
            report.error = Some(error);
            return report;
        }
    };
    if path.rejected != reference.rejected {
        let described = |rejected: &[(u64, String)], row: u64| {
            rejected
                .iter()
                .find(|(r, _)| *r == row)
                .map_or("not rejected".to_string(), |(_, m)| {
                    format!("rejected: {m}")
                })
        };
        let mut rows: Vec<u64> = path
            .rejected
            .iter()
            .chain(&reference.rejected)
            .map(|(row, _)| *row)
            .collect();
        rows.sort_unstable();
        rows.dedup();
        for row in rows {
            let expected = described(&reference.rejected, row);
            let actual = described(&path.rejected, row);
            if expected != actual {
                report.rows_differing += 1;
                if report.first_mismatch.is_none() {
                    report.first_mismatch = Some(Mismatch {
                        row,
                        column: "(the row)".into(),
                        expected,
                        actual,
                    });
                }
            }
        }
        return report;
    }
    // The same rows were rejected: the others line up, in file order.
    let reference_output = reference.output.as_ref().expect("the reference has rows");
    let kept: Vec<u64> = input
        .file_rows
        .iter()
        .copied()
        .filter(|row| !reference.rejected.iter().any(|(r, _)| r == row))
        .collect();
    compare_rows(reference_output, &output, &kept, &mut report);
    report
}

/// The one row of `batch` as a JSON object, as the codec writes it.
fn one_json_row(batch: &RecordBatch) -> Result<Box<RawValue>> {
    let text = json::encode_rows(batch)
        .into_iter()
        .next()
        .expect("one row");
    RawValue::from_string(text)
        .map_err(|e| Error::Runtime(format!("the JSON codec wrote invalid JSON: {e}")))
}

/// The rows of `batch` (whose rows are the file's rows `rows`) that are
/// the file's rows `wanted`, a subsequence of `rows`.
fn select_of(batch: &RecordBatch, rows: &[u64], wanted: &[u64]) -> Result<RecordBatch> {
    if wanted.len() == rows.len() {
        return Ok(batch.clone());
    }
    let mut wanted = wanted.iter().peekable();
    let indices: arrow::array::UInt32Array = rows
        .iter()
        .enumerate()
        .filter(|(_, at)| wanted.next_if_eq(at).is_some())
        .map(|(index, _)| index as u32)
        .collect();
    arrow::compute::take_record_batch(batch, &indices)
        .map_err(|e| Error::Runtime(format!("cannot select rows: {e}")))
}

fn concat(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<RecordBatch> {
    arrow::compute::concat_batches(schema, batches)
        .map_err(|e| Error::Runtime(format!("cannot assemble batches: {e}")))
}

/// Compares `actual` with `expected` value by value and bit by bit; row
/// `i` of both is row `rows[i]` of the file.
fn compare_rows(
    expected: &RecordBatch,
    actual: &RecordBatch,
    rows: &[u64],
    report: &mut PathReport,
) {
    if expected.num_rows() != actual.num_rows() || expected.num_columns() != actual.num_columns() {
        report.error = Some(PathError::Transform(format!(
            "{} rows x {} columns, the reference has {} x {}",
            actual.num_rows(),
            actual.num_columns(),
            expected.num_rows(),
            expected.num_columns()
        )));
        return;
    }
    let schema = expected.schema();
    for row in 0..expected.num_rows() {
        let mut differs = false;
        for (index, field) in schema.fields().iter().enumerate() {
            let (e, a) = (expected.column(index), actual.column(index));
            if !same_value(e, a, row) {
                differs = true;
                if report.first_mismatch.is_none() {
                    report.first_mismatch = Some(Mismatch {
                        row: rows.get(row).copied().unwrap_or(row as u64),
                        column: field.name().clone(),
                        expected: show(e, row),
                        actual: show(a, row),
                    });
                }
            }
        }
        report.rows_differing += u64::from(differs);
    }
}

fn same_value(expected: &ArrayRef, actual: &ArrayRef, row: usize) -> bool {
    if expected.data_type() != actual.data_type() {
        return false;
    }
    match (expected.is_null(row), actual.is_null(row)) {
        (true, true) => return true,
        (false, false) => {}
        _ => return false,
    }
    match expected.data_type() {
        ArrowType::Float64 => {
            expected.as_primitive::<Float64Type>().value(row).to_bits()
                == actual.as_primitive::<Float64Type>().value(row).to_bits()
        }
        ArrowType::Float32 => {
            expected.as_primitive::<Float32Type>().value(row).to_bits()
                == actual.as_primitive::<Float32Type>().value(row).to_bits()
        }
        _ => expected.slice(row, 1).to_data() == actual.slice(row, 1).to_data(),
    }
}

/// A value for a mismatch report: floats with their bits.
fn show(column: &ArrayRef, row: usize) -> String {
    if column.is_null(row) {
        return "null".into();
    }
    match column.data_type() {
        ArrowType::Float64 => {
            let value = column.as_primitive::<Float64Type>().value(row);
            format!("{value:?} (bits 0x{:016x})", value.to_bits())
        }
        ArrowType::Float32 => {
            let value = column.as_primitive::<Float32Type>().value(row);
            format!("{value:?} (bits 0x{:08x})", value.to_bits())
        }
        _ => arrow::util::display::array_value_to_string(column, row)
            .unwrap_or_else(|e| format!("<{e}>")),
    }
}
