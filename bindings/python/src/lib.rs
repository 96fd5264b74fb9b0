//! `skewless._native`: the skewless library (the same `Runtime` and
//! `Transform` the CLI and the server run) as a Python extension module.
//!
//! The Python package `skewless` (bindings/python/python/skewless) wraps it
//! with the documented API; this module is its engine room. Arrow data
//! crosses by the Arrow C Data / PyCapsule interface, without copies: a
//! table's buffers are read where pyarrow (or polars, or any producer)
//! put them, and the features come back as buffers pyarrow adopts. Every
//! call into a transform releases the GIL.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};
use arrow::ffi_stream::RecordBatchStreamReader;
use arrow::pyarrow::{FromPyArrow, IntoPyArrow, Table, ToPyArrow};
use arrow::record_batch::RecordBatchReader;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyList};
use skewless::backfill::{Backfill, MaxRejects, OnError};
use skewless::verify::{BatchSize, Verify};
use skewless::{Config, Error, ErrorClass, NaiveTimestamps, Runtime};

/// A loaded transform: the library's `Transform` and the bytes it was
/// loaded from (a pickled transform travels as its bytes).
#[pyclass(frozen, name = "Transform", module = "skewless._native")]
struct NativeTransform {
    transform: skewless::Transform,
    bytes: Arc<[u8]>,
}

/// The Python exception class (in `skewless.errors`) of a library error:
/// every class, by name, so a new one is a compile error here.
fn error_class(error: &Error) -> &'static str {
    match error.class() {
        ErrorClass::InvalidComponent => "InvalidComponent",
        ErrorClass::PinMismatch => "PinMismatch",
        ErrorClass::BadInput => "BadInput",
        ErrorClass::RowRejected => "RowRejected",
        ErrorClass::LimitExceeded => "LimitExceeded",
        ErrorClass::InvalidOutput => "InvalidOutput",
        ErrorClass::Data => "DataError",
        ErrorClass::InvalidSetting => "InvalidSetting",
        ErrorClass::Runtime => "SkewlessError",
    }
}

/// `error` as the matching `skewless.errors` exception, with `.kind`,
/// `.row` and `.column` set; the message is the CLI's.
fn to_py_err(py: Python<'_>, error: Error) -> PyErr {
    static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    let raise = || -> PyResult<PyErr> {
        let module =
            ERRORS.get_or_try_init(py, || py.import("skewless.errors").map(Bound::unbind))?;
        let class = module.bind(py).getattr(error_class(&error))?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("kind", error.kind())?;
        kwargs.set_item("row", error.row())?;
        kwargs.set_item("column", error.column())?;
        if let Error::LimitExceeded { limit, .. } = &error {
            kwargs.set_item("limit", limit.to_string())?;
        }
        let message = format!("{error}{}", python_hint(&error));
        let exception = class.call((message,), Some(&kwargs))?;
        Ok(PyErr::from_value(exception))
    };
    // Should the exception class itself be out of reach, the library's
    // message still reaches the caller.
    raise().unwrap_or_else(|lookup| {
        pyo3::exceptions::PyRuntimeError::new_err(format!(
            "{error} (skewless.errors could not raise it: {lookup})"
        ))
    })
}

/// For an error the library traces to one of its settings (which its
/// message names by its keyword), where that keyword is given in Python,
/// e.g. ` (in Python: `skewless.load(component, naive_timestamps="utc")`)`.
fn python_hint(error: &Error) -> String {
    use skewless::Setting;
    let call = match error.setting() {
        Some(Setting::NaiveTimestamps) => "skewless.load(component, naive_timestamps=\"utc\")",
        Some(Setting::FuelPerRow) => "skewless.load(component, fuel_per_row=...)",
        Some(Setting::MemoryLimit) => "skewless.load(component, memory_limit=...)",
        Some(Setting::MaxOutputBytes) => "skewless.load(component, max_output_bytes=...)",
        Some(Setting::Deadline) => "skewless.load(component, deadline=...)",
        Some(Setting::OnError) => "skewless.run(..., on_error=...)",
        Some(Setting::Rejects) => "skewless.run(..., rejects=...)",
        // `events=` is said already, in Python's words.
        _ => return String::new(),
    };
    format!(" (in Python: `{call}`)")
}

trait IntoPy<T> {
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPy<T> for skewless::Result<T> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|error| to_py_err(py, error))
    }
}

/// The runtime configuration from the keyword arguments of `skewless.load`
/// (`None` keeps the library's default).
#[allow(clippy::too_many_arguments)]
fn config(
    fuel_per_row: Option<u64>,
    memory_limit: Option<usize>,
    max_output_bytes: Option<usize>,
    deadline: Option<f64>,
    max_instances: Option<usize>,
    reuse_instances: bool,
    naive_timestamps: &str,
    cache_dir: Option<PathBuf>,
) -> PyResult<Config> {
    let mut config = Config::default()
        .reuse_instances(reuse_instances)
        .cache_dir(cache_dir);
    if let Some(fuel) = fuel_per_row {
        config = config.fuel_per_row(fuel);
    }
    if let Some(bytes) = memory_limit {
        config = config.memory_limit(bytes);
    }
    if let Some(bytes) = max_output_bytes {
        config = config.max_output_bytes(bytes);
    }
    if let Some(seconds) = deadline {
        if !(seconds.is_finite() && seconds > 0.0) {
            return Err(PyValueError::new_err(format!(
                "deadline must be a positive number of seconds, not {seconds}"
            )));
        }
        config = config.deadline(Some(Duration::from_secs_f64(seconds)));
    }
    if let Some(instances) = max_instances {
        config = config.max_instances(instances);
    }
    let naive = match naive_timestamps {
        "refuse" => NaiveTimestamps::Refuse,
        "utc" => NaiveTimestamps::Utc,
        other => {
            return Err(PyValueError::new_err(format!(
                "naive_timestamps must be \"refuse\" or \"utc\", not {other:?}"
            )));
        }
    };
    Ok(config.naive_timestamps(naive))
}

/// Loads a component from its bytes. `name` names it in errors (its path).
#[pyfunction]
#[pyo3(signature = (bytes, name, *, fuel_per_row=None, memory_limit=None, max_output_bytes=None,
    deadline=None, max_instances=None, reuse_instances=false, naive_timestamps="refuse",
    cache_dir=None))]
#[allow(clippy::too_many_arguments)]
fn load(
    py: Python<'_>,
    bytes: &[u8],
    name: String,
    fuel_per_row: Option<u64>,
    memory_limit: Option<usize>,
    max_output_bytes: Option<usize>,
    deadline: Option<f64>,
    max_instances: Option<usize>,
    reuse_instances: bool,
    naive_timestamps: &str,
    cache_dir: Option<PathBuf>,
) -> PyResult<NativeTransform> {
    let config = config(
        fuel_per_row,
        memory_limit,
        max_output_bytes,
        deadline,
        max_instances,
        reuse_instances,
        naive_timestamps,
        cache_dir,
    )?;
    let bytes: Arc<[u8]> = Arc::from(bytes);
    let loaded = py.detach(|| {
        let runtime = Runtime::new(config)?;
        runtime.load_bytes(&bytes, &name)
    });
    Ok(NativeTransform {
        transform: loaded.py_err(py)?,
        bytes,
    })
}

/// The batches of an Arrow object: anything with `__arrow_c_stream__` (a
/// pyarrow `Table` or `RecordBatchReader`, a polars `DataFrame`, ...) or
/// `__arrow_c_array__` (a pyarrow `RecordBatch`).
fn batches_of(data: &Bound<'_, PyAny>) -> PyResult<(SchemaRef, Vec<RecordBatch>)> {
    let py = data.py();
    if data.hasattr(pyo3::intern!(py, "__arrow_c_stream__"))? {
        let reader = RecordBatchStreamReader::from_pyarrow_bound(data)?;
        let schema = reader.schema();
        let batches = reader
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| PyValueError::new_err(format!("cannot read the Arrow stream: {e}")))?;
        return Ok((schema, batches));
    }
    if data.hasattr(pyo3::intern!(py, "__arrow_c_array__"))? {
        let batch = RecordBatch::from_pyarrow_bound(data)?;
        return Ok((batch.schema(), vec![batch]));
    }
    let type_name = data.get_type().fully_qualified_name()?;
    let hint = if type_name.to_string().ends_with("LazyFrame") {
        "a polars LazyFrame is a query, not its rows: give its .collect()"
    } else {
        "for a pandas DataFrame use transform_pandas(df)"
    };
    Err(PyTypeError::new_err(format!(
        "expected Arrow data (a pyarrow Table or RecordBatch, a polars DataFrame, or anything \
         with __arrow_c_stream__), not {type_name}; {hint}"
    )))
}

/// The kept columns' positions in `schema`, or the error the backfill
/// gives for a column the input lacks.
fn kept_indices(schema: &Schema, keep: &[String]) -> Result<Vec<usize>, Error> {
    keep.iter()
        .map(|name| {
            schema.index_of(name).map_err(|_| {
                let available: Vec<&str> =
                    schema.fields().iter().map(|f| f.name().as_str()).collect();
                Error::BadRequest(format!(
                    "cannot keep column `{name}`: the input has no such column; its columns \
                     are: {}",
                    available.join(", ")
                ))
            })
        })
        .collect()
}

#[pymethods]
impl NativeTransform {
    #[getter]
    fn name(&self) -> &str {
        self.transform.name()
    }

    #[getter]
    fn version(&self) -> &str {
        self.transform.version()
    }

    #[getter]
    fn sha256(&self) -> &str {
        self.transform.sha256()
    }

    #[getter]
    fn description(&self) -> &str {
        &self.transform.info().description
    }

    #[getter]
    fn source_name(&self) -> &str {
        self.transform.source_name()
    }

    /// The declaration as JSON (what `skewless inspect --json` shows).
    fn spec_json(&self) -> String {
        serde_json::to_string(self.transform.info()).expect("a spec serializes")
    }

    /// The columns a spine gives (the key and time first when the
    /// transform aggregates), as JSON fields.
    fn spine_inputs_json(&self) -> String {
        serde_json::to_string(&self.transform.info().spine_inputs()).expect("fields serialize")
    }

    /// The columns events give (for a transform that aggregates), as
    /// JSON fields.
    fn event_columns_json(&self) -> String {
        let columns = self
            .transform
            .info()
            .aggregation
            .as_ref()
            .map(|a| a.event_columns())
            .unwrap_or_default();
        serde_json::to_string(&columns).expect("fields serialize")
    }

    /// The provenance metadata entries the outputs carry.
    fn provenance(&self) -> Vec<(String, String)> {
        self.transform.provenance().to_metadata()
    }

    fn input_schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.transform.input_schema().to_pyarrow(py)
    }

    fn output_schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.transform.output_schema().to_pyarrow(py)
    }

    fn component_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.bytes)
    }

    fn expect_sha256(&self, py: Python<'_>, sha256: &str) -> PyResult<()> {
        self.transform.expect_sha256(sha256).py_err(py)
    }

    /// The features of `data` (with `keep` columns first) as a pyarrow
    /// Table whose schema carries the provenance.
    #[pyo3(signature = (data, keep=Vec::new(), events=None))]
    fn transform<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
        keep: Vec<String>,
        events: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (schema, batches) = batches_of(data)?;
        let events = events.map(batches_of).transpose()?;
        let transform = &self.transform;
        let computed = py.detach(|| -> skewless::Result<(SchemaRef, Vec<RecordBatch>)> {
            skewless::backfill::check_keep(transform, &keep)?;
            let mut aggregates = match (&transform.info().aggregation, &events) {
                (None, None) => None,
                (None, Some(_)) => {
                    return Err(Error::BadRequest(format!(
                        "transform `{}` declares no aggregations, so it takes no `events=`",
                        transform.name()
                    )));
                }
                (Some(_), None) => {
                    return Err(Error::BadRequest(format!(
                        "transform `{}` aggregates events: pass them as `events=` (Arrow data, \
                         like the spine), beside the spine's rows (key, time, and the other \
                         inputs)",
                        transform.name()
                    )));
                }
                (Some(_), Some((event_schema, event_batches))) => {
                    let threads = std::thread::available_parallelism().map_or(1, usize::from);
                    Some(skewless::backfill::PointInTime::new(
                        transform,
                        (event_schema, event_batches),
                        (&schema, &batches),
                        threads,
                    )?)
                }
            };
            let kept = kept_indices(&schema, &keep)?;
            let fields = kept
                .iter()
                .map(|&i| schema.fields()[i].clone())
                .chain(transform.output_schema().fields().iter().cloned());
            let metadata: std::collections::HashMap<String, String> =
                transform.provenance().to_metadata().into_iter().collect();
            let output_schema =
                Arc::new(Schema::new(fields.collect::<Vec<_>>()).with_metadata(metadata));
            if batches.iter().all(|b| b.num_rows() == 0) {
                // No rows: the columns are still checked, as for a file.
                let mut empty = RecordBatch::new_empty(schema.clone());
                if let Some(aggregates) = &mut aggregates {
                    empty = aggregates.with_aggregates(&empty)?;
                }
                transform.prepare_input(&empty)?;
            }
            let mut outputs = Vec::new();
            let mut first_row = 0_u64;
            for batch in batches.iter().filter(|b| b.num_rows() > 0) {
                let rows = batch.num_rows();
                // Slices (no copies) of at most the backfill's batch size, so
                // that a table of one huge chunk stays within guest memory.
                for start in (0..rows).step_by(skewless::backfill::DEFAULT_BATCH_SIZE) {
                    let len = (rows - start).min(skewless::backfill::DEFAULT_BATCH_SIZE);
                    let mut slice = batch.slice(start, len);
                    if let Some(aggregates) = &mut aggregates {
                        slice = aggregates.with_aggregates(&slice)?;
                    }
                    let features = transform
                        .call(&slice)
                        .map_err(|e| e.offset_rows(first_row + start as u64))?;
                    let columns = kept
                        .iter()
                        .map(|&i| slice.column(i).clone())
                        .chain(features.columns().iter().cloned())
                        .collect();
                    let options = arrow::array::RecordBatchOptions::new().with_row_count(Some(len));
                    let output =
                        RecordBatch::try_new_with_options(output_schema.clone(), columns, &options)
                            .map_err(|e| {
                                Error::Runtime(format!("cannot assemble the output: {e}"))
                            })?;
                    outputs.push(output);
                }
                first_row += rows as u64;
            }
            Ok((output_schema, outputs))
        });
        let (schema, outputs) = computed.py_err(py)?;
        Table::try_new(outputs, schema)
            .map_err(|e| PyValueError::new_err(e.to_string()))?
            .into_pyarrow(py)
    }

    /// JSON rows (a JSON array of objects) through the serving codec; the
    /// response rows as a JSON array.
    fn transform_json(&self, py: Python<'_>, rows: &str) -> PyResult<String> {
        let transform = &self.transform;
        let out = py.detach(|| -> skewless::Result<String> {
            let rows: Vec<&serde_json::value::RawValue> = serde_json::from_str(rows)
                .map_err(|e| Error::BadRequest(format!("the rows are not a JSON array: {e}")))?;
            Ok(format!(
                "[{}]",
                skewless::codec::json::call(transform, &rows)?.join(",")
            ))
        });
        out.py_err(py)
    }

    fn __repr__(&self) -> String {
        format!(
            "<skewless.Transform {} {} sha256={}>",
            self.transform.name(),
            self.transform.version(),
            self.transform.sha256()
        )
    }
}

/// A transform's live state (`skewless::online::Online`): what `skewless
/// serve` keeps for a transform that aggregates, in this process.
#[pyclass(frozen, name = "Online", module = "skewless._native")]
struct NativeOnline {
    online: skewless::online::Online,
}

/// An ingestion: (applied, duplicates, late, expired, arrival in UTC
/// microseconds).
type IngestedTuple = (u64, Vec<u64>, Vec<u64>, Vec<u64>, i64);

fn ingested_tuple(ingested: skewless::online::Ingested) -> IngestedTuple {
    (
        ingested.applied,
        ingested.duplicates,
        ingested.late,
        ingested.expired,
        ingested.arrival,
    )
}

/// Batches as one (an ingestion or a query is one batch: one arrival, one
/// moment).
fn one_batch(schema: &SchemaRef, batches: &[RecordBatch]) -> skewless::Result<RecordBatch> {
    arrow::compute::concat_batches(schema, batches)
        .map_err(|e| Error::BadRequest(format!("cannot gather the batches: {e}")))
}

#[pymethods]
impl NativeOnline {
    #[new]
    #[pyo3(signature = (transform, state_dir=None, query_lag_micros=3_600_000_000))]
    fn new(
        py: Python<'_>,
        transform: &NativeTransform,
        state_dir: Option<PathBuf>,
        query_lag_micros: u64,
    ) -> PyResult<Self> {
        let mut options = skewless::online::StateOptions::default()
            .query_lag(Duration::from_micros(query_lag_micros));
        // A directory, or a Redis URL (`redis://...`).
        if let Some(state) = state_dir {
            options = match state.to_str() {
                Some(text) => options.location(text),
                None => options.dir(state),
            };
        }
        let transform = &transform.transform;
        let online = py.detach(|| skewless::online::Online::open(transform, &options));
        Ok(NativeOnline {
            online: online.py_err(py)?,
        })
    }

    /// Events as a JSON array of objects.
    fn ingest_json(&self, py: Python<'_>, rows: &str) -> PyResult<IngestedTuple> {
        let online = &self.online;
        let ingested = py.detach(|| -> skewless::Result<_> {
            let rows: Vec<&serde_json::value::RawValue> = serde_json::from_str(rows)
                .map_err(|e| Error::BadRequest(format!("the rows are not a JSON array: {e}")))?;
            online.ingest_json(&rows)
        });
        ingested.py_err(py).map(ingested_tuple)
    }

    /// Events as Arrow data.
    fn ingest(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<IngestedTuple> {
        let (schema, batches) = batches_of(data)?;
        let online = &self.online;
        let ingested = py.detach(|| online.ingest(&one_batch(&schema, &batches)?));
        ingested.py_err(py).map(ingested_tuple)
    }

    /// Features of JSON rows: (the rows as a JSON array, as of, arrival).
    fn features_json(&self, py: Python<'_>, rows: &str) -> PyResult<(String, i64, i64)> {
        let online = &self.online;
        let answered = py.detach(|| -> skewless::Result<_> {
            let rows: Vec<&serde_json::value::RawValue> = serde_json::from_str(rows)
                .map_err(|e| Error::BadRequest(format!("the rows are not a JSON array: {e}")))?;
            online.features_json(&rows)
        });
        let answered = answered.py_err(py)?;
        Ok((
            format!("[{}]", answered.rows.join(",")),
            answered.moment.as_of,
            answered.moment.arrival,
        ))
    }

    /// Features of Arrow rows: (a pyarrow Table, as of, arrival).
    fn features<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
    ) -> PyResult<(Bound<'py, PyAny>, i64, i64)> {
        let (schema, batches) = batches_of(data)?;
        let online = &self.online;
        let answered = py.detach(|| online.features(&one_batch(&schema, &batches)?));
        let (output, moment) = answered.py_err(py)?;
        let table = Table::try_new(vec![output.clone()], output.schema())
            .map_err(|e| PyValueError::new_err(e.to_string()))?
            .into_pyarrow(py)?;
        Ok((table, moment.as_of, moment.arrival))
    }

    /// (events, entities, applied, duplicates, late, expired).
    fn stats(&self) -> (u64, u64, u64, u64, u64, u64) {
        let stats = self.online.stats();
        (
            stats.events,
            stats.entities,
            stats.applied,
            stats.duplicates,
            stats.late,
            stats.expired,
        )
    }

    /// Writes the events the state holds (that arrived after `after`) to
    /// `path` as JSON Lines; returns how many.
    #[pyo3(signature = (path, after=None))]
    fn export(&self, py: Python<'_>, path: PathBuf, after: Option<i64>) -> PyResult<u64> {
        let online = &self.online;
        let written = py.detach(|| -> skewless::Result<u64> {
            use std::io::Write as _;
            let io = |cause| Error::Io {
                action: "cannot write",
                path: path.clone(),
                cause,
            };
            let mut out = std::io::BufWriter::new(std::fs::File::create(&path).map_err(io)?);
            let count = online.export_to(&mut out, after)?;
            out.flush().map_err(io)?;
            out.get_ref().sync_all().map_err(io)?;
            Ok(count)
        });
        written.py_err(py)
    }
}

/// `skewless run`'s backfill: returns (rows, batches, seconds, rejected,
/// (events, rows without events) or None, warning or None).
#[pyfunction]
#[pyo3(signature = (transform, input, output, *, keep=Vec::new(), on_error="fail", rejects=None,
    max_rejects=None, batch_size=None, threads=None, events=None))]
#[allow(clippy::too_many_arguments)]
fn run(
    py: Python<'_>,
    transform: &NativeTransform,
    input: PathBuf,
    output: PathBuf,
    keep: Vec<String>,
    on_error: &str,
    rejects: Option<PathBuf>,
    max_rejects: Option<&str>,
    batch_size: Option<usize>,
    threads: Option<usize>,
    events: Option<PathBuf>,
) -> PyResult<RunSummary> {
    let on_error: OnError = on_error.parse().map_err(PyValueError::new_err)?;
    let mut backfill = Backfill::new(&transform.transform, input, output)
        .keep(keep)
        .on_error(on_error);
    if let Some(path) = rejects {
        backfill = backfill.rejects(path);
    }
    if let Some(limit) = max_rejects {
        let limit: MaxRejects = limit.parse().map_err(PyValueError::new_err)?;
        backfill = backfill.max_rejects(limit);
    }
    if let Some(rows) = batch_size {
        backfill = backfill.batch_size(rows);
    }
    if let Some(threads) = threads {
        backfill = backfill.threads(threads);
    }
    if let Some(events) = events {
        backfill = backfill.events(events);
    }
    let summary = py.detach(|| backfill.run()).py_err(py)?;
    Ok((
        summary.rows,
        summary.batches,
        summary.elapsed.as_secs_f64(),
        summary.rejected,
        summary
            .events
            .map(|events| (events.events, events.rows_without_events)),
        summary.warning,
    ))
}

/// What [`run`] returns to Python.
type RunSummary = (u64, u64, f64, u64, Option<(u64, u64)>, Option<String>);

/// `skewless verify`: the report as a dict.
#[pyfunction]
#[pyo3(signature = (transform, input, *, batch_sizes=None, events=None))]
fn verify<'py>(
    py: Python<'py>,
    transform: &NativeTransform,
    input: PathBuf,
    batch_sizes: Option<Vec<String>>,
    events: Option<PathBuf>,
) -> PyResult<Bound<'py, PyDict>> {
    let mut verify = Verify::new(&transform.transform, input);
    if let Some(events) = events {
        verify = verify.events(events);
    }
    if let Some(sizes) = batch_sizes {
        let sizes = sizes
            .iter()
            .map(|size| size.parse::<BatchSize>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(PyValueError::new_err)?;
        verify = verify.batch_sizes(sizes);
    }
    let report = py.detach(|| verify.run()).py_err(py)?;
    let paths = PyList::empty(py);
    for path in &report.paths {
        let entry = PyDict::new(py);
        entry.set_item("name", &path.name)?;
        entry.set_item("rows_differing", path.rows_differing)?;
        entry.set_item("passed", path.passed())?;
        entry.set_item("error", path.error.as_ref().map(ToString::to_string))?;
        let mismatch = match &path.first_mismatch {
            Some(m) => {
                let d = PyDict::new(py);
                d.set_item("row", m.row)?;
                d.set_item("column", &m.column)?;
                d.set_item("expected", &m.expected)?;
                d.set_item("actual", &m.actual)?;
                Some(d)
            }
            None => None,
        };
        entry.set_item("first_mismatch", mismatch)?;
        paths.append(entry)?;
    }
    let out = PyDict::new(py);
    out.set_item("rows", report.rows)?;
    out.set_item("columns", report.columns)?;
    out.set_item("rejected", report.rejected)?;
    out.set_item(
        "first_rejected",
        report
            .first_rejected
            .as_ref()
            .map(|(row, message)| (*row, message.as_str())),
    )?;
    out.set_item("paths", paths)?;
    out.set_item("passed", report.passed())?;
    Ok(out)
}

/// The cache directory the CLI uses.
#[pyfunction]
fn default_cache_dir() -> Option<PathBuf> {
    skewless::default_cache_dir()
}

#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<NativeTransform>()?;
    module.add_class::<NativeOnline>()?;
    module.add_function(wrap_pyfunction!(load, module)?)?;
    module.add_function(wrap_pyfunction!(run, module)?)?;
    module.add_function(wrap_pyfunction!(verify, module)?)?;
    module.add_function(wrap_pyfunction!(default_cache_dir, module)?)?;
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
