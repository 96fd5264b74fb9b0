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
//!
//! Every output value of every path is compared with the reference by its
//! bits (floats included: NaN payloads, signed zeros), nulls included. The
//! input is held in memory for the batch paths.

use std::path::{Path, PathBuf};

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType as ArrowType, Float32Type, Float64Type, SchemaRef};
use serde_json::value::RawValue;

use crate::backfill::Backfill;
use crate::error::{Error, Result};
use crate::io::{ColumnRequest, Reader};
use crate::json;
use crate::transform::Transform;

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
    /// Each path compared with the reference.
    pub paths: Vec<PathReport>,
}

impl VerifyReport {
    /// Whether every path matched the reference bit for bit.
    pub fn passed(&self) -> bool {
        self.paths.iter().all(PathReport::passed)
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
        }
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
    /// (a bad file, a row the transform rejects): there is nothing to
    /// compare with then.
    pub fn run(&self) -> Result<VerifyReport> {
        let started = |name: &str| {
            if let Some(progress) = &self.progress {
                progress(name);
            }
        };
        started("backfill (the reference)");
        let reference = self.backfill_reference()?;
        let input = self.read_input()?;
        if input.num_rows() != reference.num_rows() {
            return Err(Error::Runtime(format!(
                "the backfill wrote {} rows for {} input rows",
                reference.num_rows(),
                input.num_rows()
            )));
        }
        let mut paths = Vec::new();
        let name = "online: each row alone through the JSON codec".to_string();
        started(&name);
        paths.push(self.compare_path(
            name,
            &reference,
            |offset, len| self.json_rows(&input, offset, len),
            1024,
        ));
        for &size in &self.batch_sizes {
            let (name, rows) = match size {
                BatchSize::Rows(1) => ("batches of 1 row".to_string(), 1),
                BatchSize::Rows(rows) => (format!("batches of {rows} rows"), rows),
                BatchSize::All => (
                    format!("one batch of all {} rows", input.num_rows()),
                    input.num_rows().max(1),
                ),
            };
            started(&name);
            let call = |offset: usize, len: usize| {
                self.transform
                    .call(&input.slice(offset, len))
                    .map_err(|e| PathError::Transform(e.offset_rows(offset as u64).to_string()))
            };
            paths.push(self.compare_path(name, &reference, call, rows));
        }
        Ok(VerifyReport {
            rows: input.num_rows() as u64,
            columns: reference.num_columns(),
            paths,
        })
    }

    /// The features as `skewless run` writes them, read back.
    fn backfill_reference(&self) -> Result<RecordBatch> {
        let dir = tempfile::tempdir().map_err(|e| {
            Error::io(
                "cannot create a temporary directory in",
                std::env::temp_dir(),
                e,
            )
        })?;
        let output = dir.path().join("reference.arrow");
        Backfill::new(&self.transform, &self.input, &output).run()?;
        let batches: Vec<RecordBatch> =
            Reader::open(&output, None, usize::MAX, Default::default())?.collect::<Result<_>>()?;
        concat(self.transform.output_schema(), &batches)
    }

    /// The input columns, all in memory, as the transform receives them
    /// (declared types and order), so that every path sends the same values.
    fn read_input(&self) -> Result<RecordBatch> {
        let requests: Vec<ColumnRequest> = self
            .transform
            .info()
            .inputs
            .iter()
            .map(|field| ColumnRequest {
                name: field.name.clone(),
                data_type: Some(field.data_type),
            })
            .collect();
        let naive = self.transform.runtime().config().naive_timestamps;
        let reader = Reader::open(&self.input, Some(&requests), 64 * 1024, naive)?;
        let batches: Vec<RecordBatch> = reader
            .map(|batch| self.transform.prepare_input(&batch?))
            .collect::<Result<_>>()?;
        concat(self.transform.input_schema(), &batches)
    }

    /// Rows `offset..offset + len`, each alone through JSON both ways: the
    /// request as a client would send it, decoded as `serve` decodes it,
    /// and the response read back.
    fn json_rows(
        &self,
        input: &RecordBatch,
        offset: usize,
        len: usize,
    ) -> std::result::Result<RecordBatch, PathError> {
        let info = self.transform.info();
        let mut outputs = Vec::with_capacity(len);
        for row in offset..offset + len {
            let at_row = |e: Error| e.offset_rows(row as u64).to_string();
            let transport = |e: Error| PathError::Transport(at_row(e));
            let request = one_json_row(&input.slice(row, 1)).map_err(transport)?;
            let batch = self
                .transform
                .decode_json_rows(&[&request])
                .map_err(transport)?;
            let output = self
                .transform
                .call(&batch)
                .map_err(|e| PathError::Transform(at_row(e)))?;
            let response = one_json_row(&output).map_err(transport)?;
            let decoded =
                json::decode_rows(&info.name, &info.outputs, &[&response], Default::default())
                    .map_err(transport)?;
            outputs.push(decoded);
        }
        concat(self.transform.output_schema(), &outputs)
            .map_err(|e| PathError::Transport(e.to_string()))
    }

    /// Runs `path` over the input in chunks of `chunk` rows and compares
    /// each chunk's output with the reference. `path` reports errors with
    /// rows counted from the start of the file.
    fn compare_path(
        &self,
        name: String,
        reference: &RecordBatch,
        path: impl Fn(usize, usize) -> std::result::Result<RecordBatch, PathError>,
        chunk: usize,
    ) -> PathReport {
        let mut report = PathReport {
            name,
            rows_differing: 0,
            first_mismatch: None,
            error: None,
        };
        let rows = reference.num_rows();
        let mut offset = 0;
        loop {
            let len = chunk.min(rows - offset);
            match path(offset, len) {
                Ok(output) => compare(
                    &reference.slice(offset, len),
                    &output,
                    offset as u64,
                    &mut report,
                ),
                Err(error) => {
                    report.error = Some(error);
                    return report;
                }
            }
            offset += len;
            if offset >= rows {
                return report;
            }
        }
    }
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

fn concat(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<RecordBatch> {
    arrow::compute::concat_batches(schema, batches)
        .map_err(|e| Error::Runtime(format!("cannot assemble batches: {e}")))
}

/// Compares `actual` with `expected` (rows starting at `first_row` of the
/// file) value by value and bit by bit.
fn compare(expected: &RecordBatch, actual: &RecordBatch, first_row: u64, report: &mut PathReport) {
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
                        row: first_row + row as u64,
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
