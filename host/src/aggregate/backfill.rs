//! Point-in-time aggregates for a backfill: every spine row's aggregates
//! as of its time, from a file of events, in bounded memory.
//!
//! 1. **Events**: `threads` workers read the events file in batches, run
//!    the transform's `events` on each, and split the result by a hash of
//!    the key into partitions.
//! 2. **Spine**: the spine's keys and times, with their row numbers, split
//!    the same way.
//! 3. **Answers**: each partition (on `threads` workers) sorts its events
//!    into each entity's one order, and slides every window over them
//!    through its queries in time order ([`super::window`]); the answers
//!    are kept sorted by spine row.
//! 4. **In spine order**: [`Aggregated::next_rows`] merges the partitions'
//!    answers back into the order of the spine, batch by batch, for the
//!    row function.
//!
//! Partitions stay in memory for small inputs; beyond
//! [`Aggregated::spill_above`] bytes of events they go to Arrow IPC files in a
//! temporary directory, and there are as many as keep each under that size,
//! so memory holds one partition per worker whatever the size of the files
//! (a single entity's events do not split: the busiest entity's history is
//! the floor).

use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray, UInt64Array};
use arrow::datatypes::{DataType as ArrowType, Field as ArrowField, Schema, SchemaRef};

use super::{Answer, Plan, Value, event_batch, event_schema, events_of, ids_of};
use crate::engine::Transform;
use crate::error::{Error, Result};
use crate::io::{ColumnRequest, Reader};
use crate::spec::{Aggregation, DataType, Field};

/// Default of [`Aggregated::spill_above`]: 32 MiB of event files. Files
/// are compressed (a 10M-event Parquet file of 151 MB held 3.8 GB in one
/// partition, on one thread, at the earlier 256 MiB), so the threshold is
/// low: partitioned, the same file ran in flat memory on every thread.
pub(crate) const DEFAULT_SPILL_ABOVE: u64 = 32 << 20;

/// Where partitions are kept.
struct Store {
    dir: Option<tempfile::TempDir>,
    partitions: Vec<Mutex<Partition>>,
    schema: SchemaRef,
}

/// One partition's batches: in memory, or in an open Arrow IPC file.
#[derive(Default)]
struct Partition {
    batches: Vec<RecordBatch>,
    file: Option<(PathBuf, arrow::ipc::writer::StreamWriter<BufWriter<File>>)>,
    rows: u64,
}

impl Store {
    fn new(count: usize, schema: SchemaRef, dir: Option<&Path>) -> Result<Store> {
        let dir = match dir {
            Some(parent) => Some(
                tempfile::Builder::new()
                    .prefix(".skewless-aggregates-")
                    .tempdir_in(parent)
                    .map_err(|e| Error::io("cannot create a temporary directory in", parent, e))?,
            ),
            None => None,
        };
        Ok(Store {
            dir,
            partitions: (0..count)
                .map(|_| Mutex::new(Partition::default()))
                .collect(),
            schema,
        })
    }

    fn add(&self, partition: usize, batch: RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let mut held = self.partitions[partition]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        held.rows += batch.num_rows() as u64;
        let Some(dir) = &self.dir else {
            held.batches.push(batch);
            return Ok(());
        };
        if held.file.is_none() {
            let path = dir.path().join(format!("{partition}.arrows"));
            let file = File::create(&path).map_err(|e| Error::io("cannot create", &path, e))?;
            let writer =
                arrow::ipc::writer::StreamWriter::try_new(BufWriter::new(file), &self.schema)
                    .map_err(|e| Error::data("cannot write", &path, e))?;
            held.file = Some((path, writer));
        }
        let (path, writer) = held.file.as_mut().expect("opened above");
        writer
            .write(&batch)
            .map_err(|e| Error::data("cannot write", path.clone(), e))
    }

    /// Closes every file; the partitions can be read.
    fn seal(&self) -> Result<()> {
        for partition in &self.partitions {
            let mut held = partition.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((path, writer)) = held.file.as_mut() {
                writer
                    .finish()
                    .map_err(|e| Error::data("cannot write", path.clone(), e))?;
            }
        }
        Ok(())
    }

    /// The batches of partition `index`.
    fn read(&self, index: usize) -> Result<Box<dyn Iterator<Item = Result<RecordBatch>> + Send>> {
        let mut held = self.partitions[index]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some((path, _)) = held.file.take() {
            let file = File::open(&path).map_err(|e| Error::io("cannot read", &path, e))?;
            let reader = arrow::ipc::reader::StreamReader::try_new(BufReader::new(file), None)
                .map_err(|e| Error::data("cannot read", &path, e))?;
            return Ok(Box::new(reader.map(move |batch| {
                batch.map_err(|e| Error::data("cannot read", &path, e))
            })));
        }
        Ok(Box::new(
            std::mem::take(&mut held.batches).into_iter().map(Ok),
        ))
    }
}

/// The partition of a key: any stable hash (answers do not depend on it).
fn partition_of(key: &Value, partitions: usize) -> usize {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    key.hash(&mut hasher);
    (hasher.finish() % partitions as u64) as usize
}

/// Splits `batch` into one batch per partition, by the key in column 0
/// (of scalar type `key`).
fn split(
    batch: &RecordBatch,
    key: crate::spec::ScalarType,
    partitions: usize,
) -> Result<Vec<(usize, RecordBatch)>> {
    if partitions == 1 {
        return Ok(vec![(0, batch.clone())]);
    }
    let mut rows: Vec<Vec<u32>> = vec![Vec::new(); partitions];
    for row in 0..batch.num_rows() {
        let key = super::value::read(batch.column(0).as_ref(), key, row);
        rows[partition_of(&key, partitions)].push(row as u32);
    }
    rows.into_iter()
        .enumerate()
        .filter(|(_, rows)| !rows.is_empty())
        .map(|(partition, rows)| {
            let indices = arrow::array::UInt32Array::from(rows);
            let columns = batch
                .columns()
                .iter()
                .map(|column| arrow::compute::take(column, &indices, None))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| Error::Runtime(format!("cannot split the events: {e}")))?;
            let options =
                arrow::array::RecordBatchOptions::new().with_row_count(Some(indices.len()));
            RecordBatch::try_new_with_options(batch.schema(), columns, &options)
                .map(|batch| (partition, batch))
                .map_err(|e| Error::Runtime(format!("cannot split the events: {e}")))
        })
        .collect()
}

/// The requests of `fields` for a reader.
fn requests(fields: &[Field]) -> Vec<ColumnRequest> {
    fields
        .iter()
        .map(|f| ColumnRequest {
            name: f.name.clone(),
            data_type: Some(f.data_type),
        })
        .collect()
}

/// How a point-in-time computation runs.
#[derive(Clone, Debug)]
pub(crate) struct Options {
    pub(crate) threads: usize,
    pub(crate) batch_size: usize,
    /// Events beyond this many bytes (of files) spill to disk.
    pub(crate) spill_above: u64,
    /// Where spilled partitions go (the output's directory).
    pub(crate) spill_dir: PathBuf,
    /// As served ([`AsServed`]): the events and the spine carry arrival
    /// times (`_arrival`), and an event counts only for rows it arrived
    /// by, after the serving rules.
    pub(crate) as_served: bool,
}

/// Where a backfill's events or spine come from.
pub(crate) enum Data<'a> {
    /// A data file, in any supported format.
    File(&'a Path),
    /// Arrow batches in memory; `name` stands for the file in errors.
    Memory {
        name: &'a str,
        schema: &'a SchemaRef,
        batches: &'a [RecordBatch],
    },
}

impl Data<'_> {
    /// `error`, about rows or columns of this data, saying which data.
    fn within(&self, error: Error) -> Error {
        match self {
            Data::File(path) => Error::in_file("cannot read", *path, error),
            // Data handed over in memory (the Python package's `events=`
            // and input) is named the same way, keeping the error's kind.
            Data::Memory { name, .. } => match error {
                Error::BadRequest(message) if !message.contains(&format!("`{name}`")) => {
                    Error::BadRequest(format!("in `{name}`: {message}"))
                }
                other => Error::in_file("in", *name, other),
            },
        }
    }

    /// Its size in bytes (a file's on disk, batches' in memory).
    fn size(&self) -> Result<u64> {
        match self {
            Data::File(path) => Ok(std::fs::metadata(path)
                .map_err(|e| Error::io("cannot open", path, e))?
                .len()),
            Data::Memory { batches, .. } => Ok(batches
                .iter()
                .map(|b| b.get_array_memory_size() as u64)
                .sum()),
        }
    }

    fn open(
        &self,
        columns: &[ColumnRequest],
        batch_size: usize,
        naive: crate::spec::NaiveTimestamps,
    ) -> Result<Reader> {
        match self {
            Data::File(path) => {
                Reader::open(path, Some(columns), batch_size, naive).map_err(|e| self.within(e))
            }
            Data::Memory {
                name,
                schema,
                batches,
            } => Reader::from_batches(name, schema, batches, Some(columns), batch_size),
        }
    }
}

/// Every spine row's aggregates, ready to be read in spine order.
pub(crate) struct Aggregated {
    plan: Arc<Plan>,
    transform: String,
    results: Store,
    /// The next result batch of each partition, and where in it we are.
    heads: Vec<Option<(RecordBatch, usize)>>,
    sources: Vec<Box<dyn Iterator<Item = Result<RecordBatch>> + Send>>,
    heap: BinaryHeap<std::cmp::Reverse<(u64, usize)>>,
    /// Rows of the spine: each has one answer.
    pub(crate) spine_rows: u64,
    /// Events read.
    pub(crate) events: u64,
    /// Rows of the spine whose key has no event at all (at any time).
    pub(crate) rows_without_events: u64,
}

impl std::fmt::Debug for Aggregated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aggregated")
            .field("spine_rows", &self.spine_rows)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

impl Aggregated {
    /// Computes the aggregates of every row of `spine` from `events`.
    pub(crate) fn compute(
        transform: &Transform,
        events: &Data<'_>,
        spine: &Data<'_>,
        options: &Options,
    ) -> Result<Aggregated> {
        let aggregation = super::declared(transform)?;
        let plan = Arc::new(Plan::new(aggregation));
        let naive = transform.config().naive_timestamps;
        let key_type = aggregation.key.data_type.scalar().expect("a scalar key");
        let events_size = events.size()?;

        let spill = events_size > options.spill_above;
        let partitions = if spill {
            (events_size / options.spill_above.max(1) * 4).clamp(2, 1024) as usize
        } else {
            1
        };
        let dir = spill.then_some(options.spill_dir.as_path());

        // 1. Events, through the transform's `events`, split by key.
        let served = options.as_served.then(|| AsServed::new(aggregation));
        let event_columns = match &served {
            Some(served) => served.event_columns(aggregation),
            None => aggregation.event_columns(),
        };
        let schema = match &served {
            Some(served) => served.event_schema(aggregation),
            None => event_schema(aggregation),
        };
        let event_store = Store::new(partitions, schema, dir)?;
        let events_hint = |error: Error| match &served {
            Some(_) => AsServed::explain(
                error,
                "each event's arrival time, as `GET /v1/events/NAME` exports them",
            ),
            None => error,
        };
        let reader = events
            .open(&requests(&event_columns), options.batch_size, naive)
            .map_err(events_hint)?;
        let read_schema = reader.schema().clone();
        let source = Mutex::new((reader, 0_u64));
        // The failure of the earliest batch, with its first row: a batch
        // before a failed one is still read, so that the error reported is
        // the first in the file whichever thread reaches it first.
        let failure: Mutex<Option<(u64, Error)>> = Mutex::new(None);
        thread::scope(|scope| {
            for _ in 0..options.threads.max(1) {
                scope.spawn(|| {
                    loop {
                        let next = {
                            let mut source = source.lock().unwrap_or_else(|e| e.into_inner());
                            let first = source.1;
                            let batch = source.0.next();
                            if let Some(Ok(batch)) = &batch {
                                source.1 += batch.num_rows() as u64;
                            }
                            batch.map(|b| (first, b))
                        };
                        let Some((first, batch)) = next else { return };
                        if failure
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .as_ref()
                            .is_some_and(|(failed, _)| *failed < first)
                        {
                            return;
                        }
                        let result = batch
                            .and_then(|batch| {
                                event_batch(transform, &batch, naive)
                                    .and_then(|computed| match &served {
                                        Some(served) => served.with_arrival(
                                            transform, &computed, &batch, naive, first,
                                        ),
                                        None => Ok(computed),
                                    })
                                    .map_err(|e| events.within(e.offset_rows(first)))
                            })
                            .and_then(|batch| split(&batch, key_type, partitions))
                            .and_then(|parts| {
                                parts
                                    .into_iter()
                                    .try_for_each(|(p, batch)| event_store.add(p, batch))
                            });
                        if let Err(error) = result {
                            let mut failure = failure.lock().unwrap_or_else(|e| e.into_inner());
                            if failure.as_ref().is_none_or(|(failed, _)| first < *failed) {
                                *failure =
                                    Some((first, super::about_key_or_time(aggregation, error)));
                            }
                            return;
                        }
                    }
                });
            }
        });
        if let Some((_, error)) = failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
            return Err(events_hint(error));
        }
        if source.into_inner().unwrap_or_else(|e| e.into_inner()).1 == 0 {
            // No events: their columns are still checked, as they would be
            // with rows (an empty table of the wrong types is still wrong).
            let empty = RecordBatch::new_empty(read_schema);
            event_batch(transform, &empty, naive)
                .and_then(|computed| match &served {
                    Some(served) => served.with_arrival(transform, &computed, &empty, naive, 0),
                    None => Ok(computed),
                })
                .map_err(|e| {
                    events_hint(super::about_key_or_time(aggregation, events.within(e)))
                })?;
        }
        event_store.seal()?;
        let event_count: u64 = event_store
            .partitions
            .iter()
            .map(|p| p.lock().unwrap_or_else(|e| e.into_inner()).rows)
            .sum();

        // 2. The spine's keys and times, with their rows, split by key.
        let mut query_fields = vec![
            Field {
                name: "__key".into(),
                ..aggregation.key.clone()
            }
            .arrow(),
            ArrowField::new("__time", ArrowType::Int64, false),
            ArrowField::new("__row", ArrowType::UInt64, false),
        ];
        if served.is_some() {
            query_fields.push(ArrowField::new("__arrival", ArrowType::Int64, false));
        }
        let query_schema = Arc::new(Schema::new(query_fields));
        let query_store = Store::new(partitions, query_schema.clone(), dir)?;
        let mut query_fields = vec![
            aggregation.key.clone(),
            Field {
                name: aggregation.request_time.clone(),
                data_type: DataType::TimestampMicros,
                nullable: false,
            },
        ];
        if served.is_some() {
            query_fields.push(arrival_field());
        }
        let mut spine_rows = 0_u64;
        let spine_hint = |error: Error| {
            let error = super::about_key_or_time(aggregation, error);
            match &served {
                Some(_) => AsServed::explain(
                    error,
                    "each row's `arrival`, as the server's answer to it returned it",
                ),
                None => error,
            }
        };
        let spine_reader = spine
            .open(&requests(&query_fields), options.batch_size, naive)
            .map_err(spine_hint)?;
        let read_schema = spine_reader.schema().clone();
        for batch in spine_reader {
            let batch = batch.map_err(spine_hint)?;
            let columns =
                crate::engine::prepare_columns(transform.name(), &query_fields, &batch, naive)
                    .map_err(|e| spine_hint(spine.within(e.offset_rows(spine_rows))))?;
            let times: ArrayRef = Arc::new(
                columns[1]
                    .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
                    .reinterpret_cast::<arrow::datatypes::Int64Type>(),
            );
            let rows: ArrayRef = Arc::new(UInt64Array::from_iter_values(
                spine_rows..spine_rows + batch.num_rows() as u64,
            ));
            let mut query_columns = vec![columns[0].clone(), times, rows];
            if served.is_some() {
                query_columns.push(Arc::new(
                    columns[2]
                        .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
                        .reinterpret_cast::<arrow::datatypes::Int64Type>(),
                ));
            }
            let queries = RecordBatch::try_new(query_schema.clone(), query_columns)
                .map_err(|e| Error::Runtime(format!("cannot assemble the queries: {e}")))?;
            for (partition, part) in split(&queries, key_type, partitions)? {
                query_store.add(partition, part)?;
            }
            spine_rows += batch.num_rows() as u64;
        }
        if spine_rows == 0 {
            // No rows: the key and time columns are still checked.
            let empty = RecordBatch::new_empty(read_schema);
            crate::engine::prepare_columns(transform.name(), &query_fields, &empty, naive)
                .map_err(|e| spine_hint(spine.within(e)))?;
        }
        query_store.seal()?;

        // 3. Each partition's answers, sorted by spine row.
        let results = Store::new(partitions, result_schema(&plan), dir)?;
        let without_events = std::sync::atomic::AtomicU64::new(0);
        let next_partition = Mutex::new(0_usize);
        let failure: Mutex<Option<Error>> = Mutex::new(None);
        thread::scope(|scope| {
            for _ in 0..options.threads.max(1) {
                scope.spawn(|| {
                    loop {
                        let partition = {
                            let mut next = next_partition.lock().unwrap_or_else(|e| e.into_inner());
                            if *next == partitions {
                                return;
                            }
                            *next += 1;
                            *next - 1
                        };
                        let result = match &served {
                            Some(served) => served.answer_partition(
                                aggregation,
                                &plan,
                                &event_store,
                                &query_store,
                                partition,
                            ),
                            None => answer_partition(
                                aggregation,
                                &plan,
                                &event_store,
                                &query_store,
                                partition,
                            ),
                        }
                        .and_then(|(batch, without)| {
                            without_events.fetch_add(without, std::sync::atomic::Ordering::Relaxed);
                            results.add(partition, batch)
                        });
                        if let Err(error) = result {
                            failure
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .get_or_insert(error);
                            return;
                        }
                    }
                });
            }
        });
        if let Some(error) = failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
            return Err(error);
        }
        results.seal()?;
        drop(event_store);
        drop(query_store);

        // 4. Ready to merge in spine order.
        let mut aggregated = Aggregated {
            plan,
            transform: transform.name().to_string(),
            heads: Vec::with_capacity(partitions),
            sources: Vec::with_capacity(partitions),
            heap: BinaryHeap::new(),
            results,
            spine_rows,
            events: event_count,
            rows_without_events: without_events.into_inner(),
        };
        for partition in 0..partitions {
            let source = aggregated.results.read(partition)?;
            aggregated.sources.push(source);
            aggregated.heads.push(None);
            aggregated.advance(partition)?;
        }
        Ok(aggregated)
    }

    /// The aggregates' fields, in declared order (as the row function
    /// takes them, named after them).
    pub(crate) fn fields(&self) -> Vec<arrow::datatypes::FieldRef> {
        self.plan
            .aggregates
            .iter()
            .map(|a| Arc::new(ArrowField::new(&a.name, a.output.arrow(), true)))
            .collect()
    }

    /// Loads the next row of `partition` into the heap.
    fn advance(&mut self, partition: usize) -> Result<()> {
        loop {
            match &mut self.heads[partition] {
                Some((batch, at)) if *at < batch.num_rows() => {
                    let row = batch
                        .column(0)
                        .as_primitive::<arrow::datatypes::UInt64Type>()
                        .value(*at);
                    self.heap.push(std::cmp::Reverse((row, partition)));
                    return Ok(());
                }
                _ => match self.sources[partition].next() {
                    Some(batch) => self.heads[partition] = Some((batch?, 0)),
                    None => {
                        self.heads[partition] = None;
                        return Ok(());
                    }
                },
            }
        }
    }

    /// The aggregate columns (one per aggregate, in declared order) of the
    /// next `rows` spine rows, which start at row `first` of the spine;
    /// with the errors of the rows whose aggregates could not be computed.
    pub(crate) fn next_rows(
        &mut self,
        rows: usize,
        first: u64,
    ) -> Result<(Vec<ArrayRef>, Vec<Error>)> {
        let mut picks: Vec<(RecordBatch, usize)> = Vec::with_capacity(rows);
        let mut errors = Vec::new();
        for expected in first..first + rows as u64 {
            let Some(std::cmp::Reverse((row, partition))) = self.heap.pop() else {
                return Err(Error::Runtime(format!(
                    "the aggregates of spine row {expected} are missing"
                )));
            };
            debug_assert_eq!(row, expected, "every spine row has one answer, in order");
            let (batch, at) = self.heads[partition]
                .as_mut()
                .expect("a head for a heap entry");
            let failed = batch.column(1).as_string::<i32>();
            if failed.is_valid(*at) {
                errors.push(Error::RowFailed {
                    transform: self.transform.clone(),
                    row: Some(row),
                    message: failed.value(*at).to_string(),
                });
            }
            picks.push((batch.clone(), *at));
            *at += 1;
            self.advance(partition)?;
        }
        if picks.is_empty() {
            let empty = self
                .plan
                .aggregates
                .iter()
                .map(|a| arrow::array::new_empty_array(&a.output.arrow()))
                .collect();
            return Ok((empty, errors));
        }
        let columns = (0..self.plan.aggregates.len())
            .map(|index| {
                let arrays: Vec<&dyn Array> = picks
                    .iter()
                    .map(|(batch, _)| batch.column(index + 2).as_ref())
                    .collect();
                let indices: Vec<(usize, usize)> = picks
                    .iter()
                    .enumerate()
                    .map(|(i, (_, at))| (i, *at))
                    .collect();
                arrow::compute::interleave(&arrays, &indices)
                    .map_err(|e| Error::Runtime(format!("cannot gather the aggregates: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((columns, errors))
    }
}

impl Aggregated {
    /// `batch` (the spine's next rows, from row `first`) with each row's
    /// aggregates appended as columns named after them, as the row
    /// function takes them; with the errors of the rows whose aggregates
    /// could not be computed (their aggregates are null).
    pub(crate) fn append(
        &mut self,
        batch: &RecordBatch,
        first: u64,
    ) -> Result<(RecordBatch, Vec<Error>)> {
        let (columns, failed) = self.next_rows(batch.num_rows(), first)?;
        let schema = batch.schema();
        let mut fields = schema.fields().to_vec();
        fields.extend(self.fields());
        let schema = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
        let mut all = batch.columns().to_vec();
        all.extend(columns);
        let options =
            arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        let batch = RecordBatch::try_new_with_options(schema, all, &options)
            .map_err(|e| Error::Runtime(format!("cannot append the aggregates: {e}")))?;
        Ok((batch, failed))
    }
}

/// Point-in-time aggregates for Arrow data in memory (what the Python
/// package's `transform(spine, events=...)` and `skewless.spark` run):
/// the same engine as [`crate::backfill::Backfill::events`], without files.
pub struct PointInTime {
    aggregated: Aggregated,
    row: u64,
}

impl std::fmt::Debug for PointInTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PointInTime")
            .field("aggregated", &self.aggregated)
            .field("row", &self.row)
            .finish()
    }
}

impl PointInTime {
    /// Computes every spine row's aggregates from `events` on `threads`
    /// threads. Each is a schema and its batches; in errors, the events
    /// are called `events` and the spine `input`. Large events spill to
    /// the system's temporary directory, as a backfill's do.
    pub fn new(
        transform: &Transform,
        events: (&SchemaRef, &[RecordBatch]),
        spine: (&SchemaRef, &[RecordBatch]),
        threads: usize,
    ) -> Result<PointInTime> {
        // The spine's own columns first: an error then lists what the spine
        // has (not the aggregates appended to it later), and comes before
        // any events are read.
        let aggregation = super::declared(transform)?;
        crate::engine::prepare_columns(
            transform.name(),
            &transform.info().spine_inputs(),
            &RecordBatch::new_empty(spine.0.clone()),
            transform.config().naive_timestamps,
        )
        .map_err(|e| super::about_key_or_time(aggregation, e))?;
        let options = Options {
            threads,
            batch_size: crate::backfill::DEFAULT_BATCH_SIZE,
            spill_above: DEFAULT_SPILL_ABOVE,
            spill_dir: std::env::temp_dir(),
            as_served: false,
        };
        let events = Data::Memory {
            name: "events",
            schema: events.0,
            batches: events.1,
        };
        let spine = Data::Memory {
            name: "input",
            schema: spine.0,
            batches: spine.1,
        };
        let aggregated = Aggregated::compute(transform, &events, &spine, &options)?;
        Ok(PointInTime { aggregated, row: 0 })
    }

    /// The next rows of the spine (in order, as given to
    /// [`PointInTime::new`]) with their aggregates appended: what
    /// [`Transform::call`] takes. A row whose aggregates cannot be
    /// computed is an error naming it.
    pub fn with_aggregates(&mut self, batch: &RecordBatch) -> Result<RecordBatch> {
        let first = self.row;
        let (batch, failed) = self.aggregated.append(batch, first)?;
        self.row += batch.num_rows() as u64;
        match failed.into_iter().next() {
            Some(error) => Err(error),
            None => Ok(batch),
        }
    }
}

/// The schema of a partition's answers: the spine row, why it failed
/// (null when it did not), then one column per aggregate.
fn result_schema(plan: &Plan) -> SchemaRef {
    let mut fields = vec![
        ArrowField::new("__row", ArrowType::UInt64, false),
        ArrowField::new("__failed", ArrowType::Utf8, true),
    ];
    fields.extend(
        plan.aggregates
            .iter()
            .map(|a| ArrowField::new(&a.name, a.output.arrow(), true)),
    );
    Arc::new(Schema::new(fields))
}

/// One partition's answers, sorted by spine row.
fn answer_partition(
    aggregation: &Aggregation,
    plan: &Plan,
    events: &Store,
    queries: &Store,
    partition: usize,
) -> Result<(RecordBatch, u64)> {
    let mut keyed: Vec<(Value, super::Event)> = Vec::new();
    let mut ids: Vec<Option<Value>> = Vec::new();
    for batch in events.read(partition)? {
        let batch = batch?;
        keyed.extend(events_of(aggregation, &batch));
        if aggregation.event_id.is_some() {
            ids.extend(ids_of(aggregation, &batch));
        }
    }
    // Each entity's events in their one order.
    let keyed = if aggregation.event_id.is_some() {
        once_per_id(keyed, ids)
    } else {
        keyed.sort_unstable();
        keyed
    };
    let (keys, events): (Vec<Value>, Vec<super::Event>) = keyed.into_iter().unzip();
    let key_type = aggregation.key.data_type.scalar().expect("a scalar key");
    let mut asked: Vec<(Value, i64, u64)> = read_queries(queries, partition, key_type)?
        .into_iter()
        .map(|(key, time, row, _)| (key, time, row))
        .collect();
    asked.sort_unstable();
    let mut answers: Vec<(u64, std::result::Result<Vec<Answer>, String>)> =
        Vec::with_capacity(asked.len());
    let mut start = 0;
    let mut without_events = 0_u64;
    while start < asked.len() {
        let key = &asked[start].0;
        let end = start + asked[start..].partition_point(|(k, _, _)| k == key);
        let from = keys.partition_point(|k| k < key);
        let to = keys.partition_point(|k| k <= key);
        if from == to {
            without_events += (end - start) as u64;
        }
        let times: Vec<i64> = asked[start..end].iter().map(|(_, t, _)| *t).collect();
        plan.answer(&events[from..to], &times, |query, result| {
            answers.push((asked[start + query].2, result));
        });
        start = end;
    }
    Ok((answers_batch(plan, answers)?, without_events))
}

/// Keyed events, sorted into each entity's one order, with the events
/// whose id an earlier one of their entity carries left out: served, an
/// id counts once (a producer's retry), and so it does here. Without
/// arrival times "earlier" is in the one order (time, tie-break, values),
/// so the answer does not depend on the order of the file; a retry
/// repeats its event, and then every rule keeps the same one. (An id
/// given to two different events is the producer's error: served, the
/// first to arrive counts; `verify` compares the two.)
fn once_per_id(
    keyed: Vec<(Value, super::Event)>,
    ids: Vec<Option<Value>>,
) -> Vec<(Value, super::Event)> {
    let mut all: Vec<((Value, super::Event), Option<Value>)> = keyed.into_iter().zip(ids).collect();
    all.sort_unstable();
    let mut seen = std::collections::HashSet::new();
    let mut current: Option<Value> = None;
    let mut kept = Vec::with_capacity(all.len());
    for ((key, event), id) in all {
        if current.as_ref() != Some(&key) {
            current = Some(key.clone());
            seen.clear();
        }
        if let Some(id) = id
            && !seen.insert(id)
        {
            continue;
        }
        kept.push((key, event));
    }
    kept
}

/// A partition's queries: each one's key, time, spine row and, as served,
/// arrival (0 otherwise).
fn read_queries(
    queries: &Store,
    partition: usize,
    key_type: crate::spec::ScalarType,
) -> Result<Vec<(Value, i64, u64, i64)>> {
    let mut asked = Vec::new();
    for batch in queries.read(partition)? {
        let batch = batch?;
        let int64 = |i: usize| {
            batch
                .column(i)
                .as_primitive::<arrow::datatypes::Int64Type>()
        };
        let times = int64(1);
        let arrivals = (batch.num_columns() > 3).then(|| int64(3));
        let rows = batch
            .column(2)
            .as_primitive::<arrow::datatypes::UInt64Type>();
        for row in 0..batch.num_rows() {
            asked.push((
                super::value::read(batch.column(0).as_ref(), key_type, row),
                times.value(row),
                rows.value(row),
                arrivals.map_or(0, |a| a.value(row)),
            ));
        }
    }
    Ok(asked)
}

/// A partition's answers (spine row, answer), as a batch sorted by row.
fn answers_batch(
    plan: &Plan,
    mut answers: Vec<(u64, std::result::Result<Vec<Answer>, String>)>,
) -> Result<RecordBatch> {
    answers.sort_unstable_by_key(|(row, _)| *row);
    let rows: ArrayRef = Arc::new(UInt64Array::from_iter_values(
        answers.iter().map(|(r, _)| *r),
    ));
    let failed: ArrayRef = Arc::new(StringArray::from_iter(
        answers
            .iter()
            .map(|(_, a)| a.as_ref().err().map(String::as_str)),
    ));
    let rows_of: Vec<Option<&[Answer]>> = answers
        .iter()
        .map(|(_, a)| a.as_ref().ok().map(Vec::as_slice))
        .collect();
    let mut columns = vec![rows, failed];
    columns.extend(super::answer_columns(plan, &rows_of));
    RecordBatch::try_new(result_schema(plan), columns)
        .map_err(|e| Error::Runtime(format!("cannot assemble the aggregates: {e}")))
}

/// The column of an events file or spine that holds arrival times.
fn arrival_field() -> Field {
    Field {
        name: crate::online::ARRIVAL.into(),
        data_type: DataType::TimestampMicros,
        nullable: false,
    }
}

/// A backfill as served: what the server's state would have answered.
///
/// Each event carries the time it arrived (`_arrival`), and so does each
/// spine row (the arrival time of the last events its answer saw, which
/// the server returns as `arrival`). Each key's events are taken in the
/// order they arrived, those that arrived together in time order (ties in
/// file order), under the serving rules: an event whose id an earlier one
/// of its key had is a duplicate, and one older than its key's newest kept
/// event minus the lateness is late; neither counts. A kept event counts
/// for a row when it is in the row's window and arrived at or before the
/// row's `_arrival`.
///
/// Expiry is not replayed: an event the server found expired is older
/// than every window it answered, so it counts in no answer either way.
struct AsServed {
    lateness: i64,
}

impl AsServed {
    fn new(aggregation: &Aggregation) -> AsServed {
        AsServed {
            lateness: aggregation.lateness_micros,
        }
    }

    /// `error`, when it is about `_arrival`, with what that column must
    /// hold (`what`).
    fn explain(error: Error, what: &str) -> Error {
        let arrival = crate::online::ARRIVAL;
        let hint = format!(" (as served, `{arrival}` holds {what})");
        match error {
            Error::Data {
                action,
                path,
                message,
            } if message.contains(&format!("`{arrival}`")) => Error::Data {
                action,
                path,
                message: message + &hint,
            },
            Error::InFile {
                action,
                path,
                error,
            } if error.column() == Some(arrival) => Error::Data {
                action,
                path,
                message: error.to_string() + &hint,
            },
            Error::BadRequest(message) if message.contains(&format!("`{arrival}`")) => {
                Error::BadRequest(message + &hint)
            }
            other => other,
        }
    }

    /// The events file's columns: the transform's, and `_arrival`.
    fn event_columns(&self, aggregation: &Aggregation) -> Vec<Field> {
        let mut columns = aggregation.event_columns();
        columns.push(arrival_field());
        columns
    }

    /// [`event_schema`], then `__arrival` and `__seq` (the row in the
    /// file).
    fn event_schema(&self, aggregation: &Aggregation) -> SchemaRef {
        let mut fields: Vec<_> = event_schema(aggregation).fields().to_vec();
        fields.push(Arc::new(ArrowField::new(
            "__arrival",
            ArrowType::Int64,
            false,
        )));
        fields.push(Arc::new(ArrowField::new("__seq", ArrowType::UInt64, false)));
        Arc::new(Schema::new(fields))
    }

    /// `computed` (an [`event_batch`] of `batch`, whose first row is row
    /// `first` of the file) with the columns of [`AsServed::event_schema`].
    fn with_arrival(
        &self,
        transform: &Transform,
        computed: &RecordBatch,
        batch: &RecordBatch,
        naive: crate::spec::NaiveTimestamps,
        first: u64,
    ) -> Result<RecordBatch> {
        let given =
            crate::engine::prepare_columns(transform.name(), &[arrival_field()], batch, naive)?;
        let mut columns = computed.columns().to_vec();
        columns.push(Arc::new(
            given[0]
                .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
                .reinterpret_cast::<arrow::datatypes::Int64Type>(),
        ));
        columns.push(Arc::new(UInt64Array::from_iter_values(
            first..first + batch.num_rows() as u64,
        )));
        let schema = self.event_schema(crate::aggregate::declared(transform)?);
        RecordBatch::try_new(schema, columns)
            .map_err(|e| Error::Runtime(format!("cannot assemble the events: {e}")))
    }

    /// [`answer_partition`], as served.
    fn answer_partition(
        &self,
        aggregation: &Aggregation,
        plan: &Plan,
        events: &Store,
        queries: &Store,
        partition: usize,
    ) -> Result<(RecordBatch, u64)> {
        let key_type = aggregation.key.data_type.scalar().expect("a scalar key");
        // (key, arrival, row in the file, event, id)
        let mut arrived: Vec<(Value, i64, u64, super::Event, Value)> = Vec::new();
        let first_extra = event_schema(aggregation).fields().len();
        for batch in events.read(partition)? {
            let batch = batch?;
            let arrivals = batch
                .column(first_extra)
                .as_primitive::<arrow::datatypes::Int64Type>();
            let seqs = batch
                .column(first_extra + 1)
                .as_primitive::<arrow::datatypes::UInt64Type>();
            let ids = ids_of(aggregation, &batch);
            for (row, ((key, event), id)) in events_of(aggregation, &batch)
                .into_iter()
                .zip(ids)
                .enumerate()
            {
                let id = id.unwrap_or(Value::Null);
                arrived.push((key, arrivals.value(row), seqs.value(row), event, id));
            }
        }
        arrived
            .sort_unstable_by(|a, b| (&a.0, a.1, a.3.time, a.2).cmp(&(&b.0, b.1, b.3.time, b.2)));
        // The serving rules, key by key in arrival order (a batch's events,
        // which arrived together, in time order).
        let mut kept: Vec<(Value, super::Event, i64)> = Vec::with_capacity(arrived.len());
        let mut current: Option<Value> = None;
        let mut newest: Option<i64> = None;
        let mut ids = std::collections::HashSet::new();
        for (key, arrival, _, event, id) in arrived {
            if current.as_ref() != Some(&key) {
                current = Some(key.clone());
                newest = None;
                ids.clear();
            }
            if !id.is_null() && ids.contains(&id) {
                continue;
            }
            if newest.is_some_and(|n| event.time < n.saturating_sub(self.lateness)) {
                continue;
            }
            newest = Some(newest.map_or(event.time, |n| n.max(event.time)));
            if !id.is_null() {
                ids.insert(id);
            }
            kept.push((key, event, arrival));
        }
        // Each entity's kept events in their one order.
        kept.sort_unstable_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        let asked = read_queries(queries, partition, key_type)?;
        let longest = plan.longest_window();
        let mut answers = Vec::with_capacity(asked.len());
        let mut window: Vec<super::Event> = Vec::new();
        let mut without_events = 0_u64;
        for (key, t, row, arrival) in asked {
            let from = kept.partition_point(|k| k.0 < key);
            let to = kept.partition_point(|k| k.0 <= key);
            if from == to {
                without_events += 1;
            }
            let of_key = &kept[from..to];
            let start = t.saturating_sub(longest);
            let lo = of_key.partition_point(|k| k.1.time < start);
            let hi = of_key.partition_point(|k| k.1.time < t);
            window.clear();
            window.extend(
                of_key[lo..hi]
                    .iter()
                    .filter(|k| k.2 <= arrival)
                    .map(|k| k.1.clone()),
            );
            let mut answer = Err(String::new());
            plan.answer(&window[..], &[t], |_, result| answer = result);
            answers.push((row, answer));
        }
        Ok((answers_batch(plan, answers)?, without_events))
    }
}
