//! Data files in and out: Parquet, CSV, Arrow IPC and JSON Lines, chosen by
//! extension, read in batches and written atomically.
//!
//! Parsing is the arrow and parquet crates' job: no format here has a
//! hand-written parser. What this module adds is what a backfill needs
//! around them: reading only the columns asked for (with the transform's
//! declared types for text formats, where types would otherwise be
//! guessed), errors that name the file (and the column and row of a value
//! that does not parse, without the libraries' prefixes), a count of bytes
//! or rows for the progress bar, and output that appears under its final
//! name only once it is complete.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::RecordBatch;
use arrow::datatypes::{Field as ArrowField, Schema, SchemaRef};
use arrow::error::ArrowError;
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

mod csv;
mod flush;
mod jsonl;

use crate::convert::column_list;
use crate::error::{Error, Result};
use crate::spec::{DataType, NaiveTimestamps, Provenance};

/// A data file format, chosen by file extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `.parquet`
    Parquet,
    /// `.csv`, with a header row.
    Csv,
    /// `.arrow`, `.ipc` or `.feather`: Arrow IPC, file or stream format.
    ArrowIpc,
    /// `.jsonl` or `.ndjson`: one JSON object per line.
    Jsonl,
}

impl Format {
    /// The format of `path`, from its extension.
    pub fn from_path(path: &Path) -> Result<Format> {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("parquet") => Ok(Format::Parquet),
            Some("csv") => Ok(Format::Csv),
            Some("arrow" | "ipc" | "feather") => Ok(Format::ArrowIpc),
            Some("jsonl" | "ndjson") => Ok(Format::Jsonl),
            _ => Err(Error::BadRequest(format!(
                "cannot tell the format of `{}` from its extension: use .parquet, .csv, \
                 .arrow (or .ipc), or .jsonl",
                path.display()
            ))),
        }
    }

    /// The format's name, e.g. `Parquet`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Parquet => "Parquet",
            Format::Csv => "CSV",
            Format::ArrowIpc => "Arrow IPC",
            Format::Jsonl => "JSON Lines",
        }
    }

    /// Whether files of this format record which transform wrote them.
    pub fn keeps_provenance(self) -> bool {
        matches!(self, Format::Parquet | Format::ArrowIpc)
    }
}

/// A column to read: its name and, for formats without types (CSV, JSON
/// Lines), the type to parse it as. `None` lets the reader infer it.
#[derive(Clone, Debug)]
pub struct ColumnRequest {
    /// Column name, matched exactly.
    pub name: String,
    /// The type to parse text as.
    pub data_type: Option<DataType>,
}

/// Rows a text-format reader samples to infer the types of columns that
/// were not given one.
const INFER_RECORDS: usize = 10_000;

/// Reads a data file in batches.
pub struct Reader {
    batches: Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>> + Send>,
    path: PathBuf,
    schema: SchemaRef,
    total_rows: Option<u64>,
    total_bytes: u64,
    bytes_read: Arc<AtomicU64>,
    aside: SetAside,
}

/// Values a text reader refused, by file row, once a backfill asks for
/// them to be set aside rather than fail the file
/// ([`Reader::set_aside_bad_values`]).
#[derive(Clone, Debug, Default)]
pub(crate) struct SetAside(Arc<std::sync::Mutex<Option<Vec<Error>>>>);

impl SetAside {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Vec<Error>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn is_on(&self) -> bool {
        self.lock().is_some()
    }

    fn push(&self, error: Error) {
        if let Some(errors) = self.lock().as_mut() {
            errors.push(error);
        }
    }
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("path", &self.path)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl Reader {
    /// Opens `path` to read the `columns` asked for, in that order (all
    /// columns when `None`), `batch_size` rows at a time. `naive` says what
    /// a timestamp written without a zone means in a text format's typed
    /// columns (typed formats keep the column's own type, and
    /// [`crate::Transform::call`] applies the same rule to it).
    ///
    /// A column that is asked for but missing is an error listing the
    /// columns the file has.
    pub fn open(
        path: &Path,
        columns: Option<&[ColumnRequest]>,
        batch_size: usize,
        naive: NaiveTimestamps,
    ) -> Result<Reader> {
        let (file, format) = open_input(path)?;
        let total_bytes = file
            .metadata()
            .map_err(|e| Error::io("cannot read", path, e))?
            .len();
        let bytes_read = Arc::new(AtomicU64::new(0));
        let aside = SetAside::default();
        let cannot_read = |e: &dyn std::fmt::Display| unreadable(path, e);
        let batch_size = batch_size.max(1);
        let (batches, schema, total_rows): (Box<dyn Iterator<Item = _> + Send>, SchemaRef, _) =
            match format {
                Format::Parquet => {
                    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
                        .map_err(|e| cannot_read(&e))?;
                    let indices = select(path, builder.schema(), columns)?;
                    let total_rows = builder.metadata().file_metadata().num_rows() as u64;
                    let metadata_kv = builder
                        .metadata()
                        .file_metadata()
                        .key_value_metadata()
                        .cloned()
                        .unwrap_or_default();
                    let mask = ProjectionMask::roots(builder.parquet_schema(), indices.clone());
                    let reader = builder
                        .with_projection(mask)
                        .with_batch_size(batch_size)
                        .build()
                        .map_err(|e| cannot_read(&e))?;
                    let schema = arrow::array::RecordBatchReader::schema(&reader);
                    let reorder = order_of(&schema, columns);
                    let batches = reorder_batches(reader, reorder);
                    let schema = schema_in_order(&schema, columns);
                    let (batches, schema) = match written_zones(&metadata_kv, &schema) {
                        Some(relabel) => relabel.apply(batches),
                        None => (batches, schema),
                    };
                    (batches, schema, Some(total_rows))
                }
                Format::ArrowIpc => {
                    let mut file = file;
                    let mut magic = [0u8; 6];
                    let is_file_format = file.read_exact(&mut magic).is_ok() && &magic == b"ARROW1";
                    file.seek(SeekFrom::Start(0))
                        .map_err(|e| Error::io("cannot read", path, e))?;
                    if is_file_format {
                        let reader = arrow::ipc::reader::FileReader::try_new(file, None)
                            .map_err(|e| cannot_read(&e))?;
                        let full = reader.schema();
                        let indices = select(path, &full, columns)?;
                        let total_rows = None;
                        let reader = arrow::ipc::reader::FileReader::try_new(
                            File::open(path).map_err(|e| Error::io("cannot open", path, e))?,
                            Some(indices),
                        )
                        .map_err(|e| cannot_read(&e))?;
                        let schema = reader.schema();
                        let reorder = order_of(&schema, columns);
                        (
                            reorder_batches(reader, reorder),
                            schema_in_order(&schema, columns),
                            total_rows,
                        )
                    } else {
                        let counted = CountingReader::new(file, bytes_read.clone());
                        let reader = arrow::ipc::reader::StreamReader::try_new(
                            BufReader::new(counted),
                            None,
                        )
                        .map_err(|e| cannot_read(&e))?;
                        let indices = select(path, &reader.schema(), columns)?;
                        let full = reader.schema();
                        let projected =
                            Arc::new(full.project(&indices).expect("indices are in range"));
                        let stream = reader.map(move |batch| batch?.project(&indices));
                        let reorder = order_of(&projected, columns);
                        (
                            reorder_batches(stream, reorder),
                            schema_in_order(&projected, columns),
                            None,
                        )
                    }
                }
                Format::Csv => {
                    let (reader, projected) = csv::open(
                        file,
                        path,
                        columns,
                        batch_size,
                        bytes_read.clone(),
                        naive,
                        aside.clone(),
                    )?;
                    let reorder = order_of(&projected, columns);
                    (
                        reorder_batches(reader, reorder),
                        schema_in_order(&projected, columns),
                        None,
                    )
                }
                Format::Jsonl => {
                    let mut buffered = BufReader::new(file);
                    let inferred = arrow::json::reader::infer_json_schema_from_seekable(
                        &mut buffered,
                        Some(INFER_RECORDS),
                    );
                    let (inferred, _) = match inferred {
                        Ok(inferred) => inferred,
                        Err(error) => {
                            let why = buffered
                                .seek(SeekFrom::Start(0))
                                .ok()
                                .and_then(|_| jsonl::first_bad_row(&mut buffered, INFER_RECORDS));
                            return Err(match why {
                                Some(why) => Error::data("cannot read", path, why),
                                None => cannot_read(&error),
                            });
                        }
                    };
                    let inferred = match columns {
                        // A file without a line has nothing to infer from;
                        // when every column asked for has a type, it reads
                        // as zero rows, as a CSV file with only a header does.
                        Some(columns)
                            if inferred.fields().is_empty()
                                && columns.iter().all(|c| c.data_type.is_some()) =>
                        {
                            let mut fields: Vec<ArrowField> = Vec::new();
                            for column in columns {
                                if let (Some(data_type), false) = (
                                    column.data_type,
                                    fields.iter().any(|f| f.name() == &column.name),
                                ) {
                                    fields.push(ArrowField::new(
                                        &column.name,
                                        data_type.arrow(),
                                        true,
                                    ));
                                }
                            }
                            Schema::new(fields)
                        }
                        _ => inferred,
                    };
                    let full = typed_schema(&inferred, columns);
                    let indices = select(path, &full, columns)?;
                    let projected = Arc::new(full.project(&indices).expect("indices are in range"));
                    // Declared columns are decoded exactly, as serving does.
                    let exact = projected
                        .fields()
                        .iter()
                        .filter_map(|field| {
                            let data_type = declared_type(columns, field.name())?;
                            Some(crate::spec::Field {
                                name: field.name().clone(),
                                data_type,
                                nullable: true,
                            })
                        })
                        .collect();
                    let mut file = buffered.into_inner();
                    file.seek(SeekFrom::Start(0))
                        .map_err(|e| Error::io("cannot read", path, e))?;
                    let counted = CountingReader::new(file, bytes_read.clone());
                    let reader = jsonl::JsonlBatches::new(
                        BufReader::new(counted),
                        projected.clone(),
                        exact,
                        batch_size,
                        naive,
                        aside.clone(),
                    )
                    .map_err(|e| cannot_read(&e))?;
                    let reorder = order_of(&projected, columns);
                    (
                        reorder_batches(reader, reorder),
                        schema_in_order(&projected, columns),
                        None,
                    )
                }
            };
        Ok(Reader {
            batches: Box::new(Rechunk::new(batches, batch_size)),
            path: path.to_path_buf(),
            schema,
            total_rows,
            total_bytes,
            bytes_read,
            aside,
        })
    }

    /// From now on, a value of a CSV or JSON Lines file that does not read
    /// as its column's type (or a JSON Lines row that is not an object)
    /// does not fail the file: it reads as null, and its error is kept for
    /// [`Reader::take_set_aside`], with its row in the file. (Typed formats
    /// have no such values; a backfill sets aside what the transform
    /// refuses of them.)
    pub fn set_aside_bad_values(&self) {
        let mut aside = self.aside.lock();
        if aside.is_none() {
            *aside = Some(Vec::new());
        }
    }

    /// The errors of the values set aside since the last call, in file order.
    pub fn take_set_aside(&self) -> Vec<Error> {
        self.aside
            .lock()
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// The schema of the batches this reader yields.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Rows in the file, when the format records it (Parquet).
    pub fn total_rows(&self) -> Option<u64> {
        self.total_rows
    }

    /// Size of the file in bytes.
    pub fn total_bytes(&self) -> u64 {
        self.total_bytes
    }

    /// A counter of bytes consumed so far (for text and stream formats;
    /// stays 0 for Parquet and Arrow IPC files).
    pub fn bytes_read(&self) -> Arc<AtomicU64> {
        self.bytes_read.clone()
    }
}

impl Iterator for Reader {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        self.batches
            .next()
            .map(|batch| batch.map_err(|e| unreadable(&self.path, &e)))
    }
}

/// Time zones of timestamp columns as the Parquet file's writer gave them,
/// where the parquet crate reads another label.
///
/// pyarrow and pandas record the Arrow schema in the file (`ARROW:schema`);
/// the parquet crate takes a timestamp's zone from it only when the units
/// match, and Parquet has no seconds, so `timestamp[s, tz=America/New_York]`
/// comes back as `timestamp[ms, tz=UTC]`. The values are the same instants
/// either way; this restores the label, so a kept column keeps its zone.
fn written_zones(metadata: &[KeyValue], schema: &SchemaRef) -> Option<Relabel> {
    use base64::Engine as _;
    let encoded = metadata
        .iter()
        .find(|kv| kv.key == "ARROW:schema")?
        .value
        .as_deref()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    // An IPC message, after a continuation marker and length when present.
    let message = match bytes.get(..4) {
        Some([0xff, 0xff, 0xff, 0xff]) => bytes.get(8..)?,
        _ => &bytes[..],
    };
    let written = arrow::ipc::root_as_message(message)
        .ok()?
        .header_as_schema()
        .and_then(|schema| arrow::ipc::convert::try_fb_to_schema(schema).ok())?;
    let mut changed = false;
    let fields: Vec<ArrowField> =
        schema
            .fields()
            .iter()
            .map(|field| {
                let hinted = written.field_with_name(field.name()).ok();
                match (field.data_type(), hinted.map(|h| h.data_type())) {
                    (
                        arrow::datatypes::DataType::Timestamp(unit, Some(read)),
                        Some(arrow::datatypes::DataType::Timestamp(_, Some(zone))),
                    ) if read != zone => {
                        changed = true;
                        field.as_ref().clone().with_data_type(
                            arrow::datatypes::DataType::Timestamp(*unit, Some(zone.clone())),
                        )
                    }
                    _ => field.as_ref().clone(),
                }
            })
            .collect();
    changed.then(|| Relabel {
        schema: Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone())),
    })
}

/// Batches given other labels for the same data (`written_zones`).
struct Relabel {
    schema: SchemaRef,
}

type Batches = Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>> + Send>;

impl Relabel {
    fn apply(self, batches: Batches) -> (Batches, SchemaRef) {
        let schema = self.schema;
        let relabelled = schema.clone();
        let batches = batches.map(move |batch| {
            let batch = batch?;
            let columns = batch
                .columns()
                .iter()
                .zip(relabelled.fields())
                .map(|(column, field)| {
                    if column.data_type() == field.data_type() {
                        Ok(column.clone())
                    } else {
                        let data = column
                            .to_data()
                            .into_builder()
                            .data_type(field.data_type().clone())
                            .build()?;
                        Ok(arrow::array::make_array(data))
                    }
                })
                .collect::<Result<Vec<_>, ArrowError>>()?;
            RecordBatch::try_new(relabelled.clone(), columns)
        });
        (Box::new(batches), schema)
    }
}

/// What arrow, parquet and csv put in front of their messages.
const LIBRARY_PREFIXES: [&str; 13] = [
    "External error: ",
    "Parser error: ",
    "Csv error: ",
    "Json error: ",
    "Io error: ",
    "Ipc error: ",
    "Schema error: ",
    "Invalid argument error: ",
    "Parquet argument error: ",
    "Parquet error: ",
    "External: ",
    "Arrow: ",
    "EOF: ",
];

/// "cannot read `FILE`: " and a reader's error, as [`readable`] puts it.
fn unreadable(path: &Path, error: &dyn std::fmt::Display) -> Error {
    Error::data("cannot read", path, readable(error))
}

/// Opens an input file and tells its format from its extension, refusing
/// what would otherwise fail with a misleading message: a missing file
/// (before its extension is looked at), a directory, and a Parquet or
/// Arrow file under a text format's extension (or the other way round).
fn open_input(path: &Path) -> Result<(File, Format)> {
    let mut file = File::open(path).map_err(|e| Error::io("cannot open", path, e))?;
    let metadata = file
        .metadata()
        .map_err(|e| Error::io("cannot read", path, e))?;
    if metadata.is_dir() {
        return Err(Error::data(
            "cannot read",
            path,
            "it is a directory, not a data file",
        ));
    }
    let format = Format::from_path(path)?;
    let mut start = Vec::with_capacity(6);
    (&mut file)
        .take(6)
        .read_to_end(&mut start)
        .and_then(|_| file.seek(SeekFrom::Start(0)))
        .map_err(|e| Error::io("cannot read", path, e))?;
    let contents = match start.as_slice() {
        [b'P', b'A', b'R', b'1', ..] => Some(Format::Parquet),
        b"ARROW1" => Some(Format::ArrowIpc),
        _ => None,
    };
    match contents {
        Some(actual) if actual != format => Err(Error::data(
            "cannot read",
            path,
            format!(
                "it is a{} {} file, not {}; give it the {} extension",
                if actual == Format::ArrowIpc { "n" } else { "" },
                actual.name(),
                format.name(),
                if actual == Format::Parquet {
                    ".parquet"
                } else {
                    ".arrow"
                }
            ),
        )),
        _ => Ok((file, format)),
    }
}

/// A reader's error as a user should read it after "cannot read `FILE`: ":
/// without the libraries' prefixes, and CSV field-count and UTF-8 errors
/// said plainly.
fn readable(error: &dyn std::fmt::Display) -> String {
    let message = error.to_string();
    let mut rest = message.as_str();
    while let Some(stripped) = LIBRARY_PREFIXES
        .iter()
        .find_map(|prefix| rest.strip_prefix(prefix))
    {
        rest = stripped;
    }
    csv::field_count(rest)
        .or_else(|| csv::invalid_utf8(rest))
        .unwrap_or_else(|| rest.to_string())
}

/// The indices of the requested columns in `schema` (all when `None`).
fn select(path: &Path, schema: &Schema, columns: Option<&[ColumnRequest]>) -> Result<Vec<usize>> {
    let Some(columns) = columns else {
        return Ok((0..schema.fields().len()).collect());
    };
    let mut indices = Vec::with_capacity(columns.len());
    for column in columns {
        let mut positions = schema
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, field)| field.name() == &column.name)
            .map(|(index, _)| index + 1);
        if let (Some(first), Some(second)) = (positions.next(), positions.next()) {
            return Err(Error::data(
                "cannot read",
                path,
                format!(
                    "it has more than one column named `{}` (the {} and the {}), so which \
                     one to use is ambiguous; rename or drop the others",
                    column.name,
                    ordinal(first),
                    ordinal(second)
                ),
            ));
        }
        match schema.index_of(&column.name) {
            Ok(index) => {
                if !indices.contains(&index) {
                    indices.push(index);
                }
            }
            Err(_) if schema.fields().is_empty() => {
                return Err(Error::data(
                    "cannot read",
                    path,
                    format!("it is empty, so it has no column `{}`", column.name),
                ));
            }
            Err(_) => {
                return Err(Error::data(
                    "cannot read",
                    path,
                    format!(
                        "it has no column `{}`; its columns are: {}",
                        column.name,
                        column_list(schema.fields().iter().map(|f| f.name().as_str()))
                    ),
                ));
            }
        }
    }
    indices.sort_unstable();
    Ok(indices)
}

/// `1st`, `2nd`, `3rd`, `4th`, ... `11th`, ... `21st`.
fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// `inferred` with the requested types put in place of the guesses.
fn typed_schema(inferred: &Schema, columns: Option<&[ColumnRequest]>) -> SchemaRef {
    let fields: Vec<ArrowField> = inferred
        .fields()
        .iter()
        .map(|field| match declared_type(columns, field.name()) {
            Some(data_type) => ArrowField::new(field.name(), data_type.arrow(), true),
            None => field.as_ref().clone().with_nullable(true),
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// The type asked for column `name` (the first request for it wins).
fn declared_type(columns: Option<&[ColumnRequest]>, name: &str) -> Option<DataType> {
    columns?.iter().find(|c| c.name == name)?.data_type
}

/// For each requested column, its index in the projected `schema`.
fn order_of(schema: &Schema, columns: Option<&[ColumnRequest]>) -> Option<Vec<usize>> {
    let columns = columns?;
    let mut seen = Vec::new();
    let order: Vec<usize> = columns
        .iter()
        .filter(|c| {
            let new = !seen.contains(&c.name);
            seen.push(c.name.clone());
            new
        })
        .map(|c| schema.index_of(&c.name).expect("selected above"))
        .collect();
    let identity = order.iter().enumerate().all(|(i, &j)| i == j);
    (!identity).then_some(order)
}

fn schema_in_order(schema: &SchemaRef, columns: Option<&[ColumnRequest]>) -> SchemaRef {
    match order_of(schema, columns) {
        Some(order) => Arc::new(schema.project(&order).expect("indices are in range")),
        None => schema.clone(),
    }
}

fn reorder_batches(
    batches: impl Iterator<Item = Result<RecordBatch, ArrowError>> + Send + 'static,
    order: Option<Vec<usize>>,
) -> Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>> + Send> {
    match order {
        None => Box::new(batches),
        Some(order) => Box::new(batches.map(move |batch| batch?.project(&order))),
    }
}

/// Splits batches larger than `batch_size` (Arrow IPC files keep the
/// batches they were written with) into zero-copy slices.
struct Rechunk<I> {
    inner: I,
    batch_size: usize,
    current: Option<(RecordBatch, usize)>,
}

impl<I> Rechunk<I> {
    fn new(inner: I, batch_size: usize) -> Self {
        Rechunk {
            inner,
            batch_size,
            current: None,
        }
    }
}

impl<I: Iterator<Item = Result<RecordBatch, ArrowError>>> Iterator for Rechunk<I> {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((batch, offset)) = &mut self.current {
                if *offset < batch.num_rows() {
                    let len = self.batch_size.min(batch.num_rows() - *offset);
                    let slice = batch.slice(*offset, len);
                    *offset += len;
                    return Some(Ok(slice));
                }
                self.current = None;
            }
            match self.inner.next()? {
                Ok(batch) if batch.num_rows() <= self.batch_size => return Some(Ok(batch)),
                Ok(batch) => self.current = Some((batch, 0)),
                Err(error) => return Some(Err(error)),
            }
        }
    }
}

/// Counts bytes as they are read, for progress.
struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R> CountingReader<R> {
    fn new(inner: R, count: Arc<AtomicU64>) -> Self {
        CountingReader { inner, count }
    }
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Writes a data file atomically: batches go to a hidden temporary file in
/// the destination's directory, which is renamed over the destination by
/// [`Writer::finish`]. Dropping the writer without finishing removes the
/// temporary file, so a failed run leaves no output behind.
///
/// Encoding can happen elsewhere: [`Writer::encoder`] gives an [`Encoder`]
/// that other threads use to encode batches (Parquet row groups are encoded
/// there, in parallel), and [`Writer::append`] appends the results in order.
pub struct Writer {
    inner: Option<FormatWriter>,
    encoder: Encoder,
    temp: tempfile::NamedTempFile,
    /// Keeps `temp` listed for [`remove_unfinished_outputs`] until the
    /// writer is finished or dropped.
    _listed: Unfinished,
    flusher: flush::Flusher,
    path: PathBuf,
    rows: u64,
    row_groups: usize,
}

enum FormatWriter {
    Parquet(parquet::file::writer::SerializedFileWriter<File>),
    /// CSV with every value in its one text form ([`crate::text`]).
    Csv {
        out: BufWriter<File>,
        rules: Vec<crate::text::ColumnText>,
    },
    /// An Arrow IPC file. It holds one dictionary per column for the whole
    /// file, and the batches of a Parquet file (or a stream) each bring
    /// their own, so dictionary-encoded columns are written as their values
    /// (the same values; the writer would otherwise fail mid-file).
    ArrowIpc {
        writer: Box<arrow::ipc::writer::FileWriter<BufWriter<File>>>,
        schema: SchemaRef,
    },
    /// JSON Lines in the serving codec's exact form (`crate::json`): arrow's
    /// JSON writer turns NaN and infinities into `null`.
    Jsonl(BufWriter<File>),
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("path", &self.path)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl Writer {
    /// Starts writing `path` (format by extension) with `schema`, recording
    /// `provenance` in the file's metadata where the format has metadata.
    pub fn create(
        path: &Path,
        schema: &SchemaRef,
        provenance: Option<&Provenance>,
    ) -> Result<Writer> {
        let format = Format::from_path(path)?;
        let cannot_write = |e: &dyn std::fmt::Display| Error::data("cannot write", path, e);
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let prefix = format!(".{file_name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".skewless-tmp");
        // A new file's usual mode (0666 less the umask), not the private
        // 0600 of temporary files: the output is meant to be shared.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o666));
        }
        if path.is_dir() {
            return Err(Error::BadRequest(format!(
                "the output `{}` is a directory; name a file to write",
                path.display()
            )));
        }
        if !dir.is_dir() {
            return Err(Error::BadRequest(format!(
                "cannot write `{}`: the directory `{}` does not exist",
                path.display(),
                dir.display()
            )));
        }
        // tempfile's error names the random temporary path; the user named
        // the output.
        let temp = builder
            .tempfile_in(dir)
            .map_err(|e| Error::io("cannot create a file next to", path, e.kind().into()))?;
        let file = temp
            .as_file()
            .try_clone()
            .map_err(|e| Error::io("cannot write", path, e))?;
        let listed = Unfinished::list(temp.path());
        let flusher = temp
            .as_file()
            .try_clone()
            .map(|file| flush::Flusher::new(file, flush::Flusher::EVERY))
            .map_err(|e| Error::io("cannot write", path, e))?;
        let metadata: Vec<(String, String)> =
            provenance.map(Provenance::to_metadata).unwrap_or_default();
        let schema = Arc::new(
            schema.as_ref().clone().with_metadata(
                metadata
                    .iter()
                    .cloned()
                    .collect::<std::collections::HashMap<_, _>>(),
            ),
        );
        let mut parquet_factory = None;
        let inner = match format {
            Format::Parquet => {
                let mut properties = WriterProperties::builder()
                    .set_compression(Compression::SNAPPY)
                    .set_key_value_metadata(Some(
                        metadata
                            .iter()
                            .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
                            .collect(),
                    ));
                // Float features are mostly distinct values: a dictionary
                // for them costs more time than it saves space.
                for field in schema.fields() {
                    if field.data_type().is_floating() {
                        properties = properties.set_column_dictionary_enabled(
                            parquet::schema::types::ColumnPath::from(field.name().as_str()),
                            false,
                        );
                    }
                }
                let properties = properties.build();
                for field in schema.fields() {
                    // The writer's own refusal names no column.
                    parquet::arrow::ArrowSchemaConverter::new()
                        .convert(&Schema::new(vec![field.clone()]))
                        .map_err(|e| {
                            Error::BadRequest(format!(
                                "cannot write `{}`: column `{}` has type {}, which Parquet \
                                 cannot hold ({}); write .arrow instead, or leave the column \
                                 out of `--keep`",
                                path.display(),
                                field.name(),
                                field.data_type(),
                                readable(&e)
                            ))
                        })?;
                }
                let (writer, factory) =
                    ArrowWriter::try_new(file, schema.clone(), Some(properties))
                        .and_then(ArrowWriter::into_serialized_writer)
                        .map_err(|e| cannot_write(&e))?;
                parquet_factory = Some(Arc::new(factory));
                FormatWriter::Parquet(writer)
            }
            Format::Csv => {
                let mut out = BufWriter::new(file);
                csv::write_header(&mut out, &schema)
                    .map_err(|e| Error::io("cannot write", path, e))?;
                FormatWriter::Csv {
                    out,
                    rules: text_rules(path, format, &schema)?,
                }
            }
            Format::ArrowIpc => {
                let schema = without_dictionaries(&schema);
                FormatWriter::ArrowIpc {
                    writer: Box::new(
                        arrow::ipc::writer::FileWriter::try_new(BufWriter::new(file), &schema)
                            .map_err(|e| cannot_write(&e))?,
                    ),
                    schema,
                }
            }
            Format::Jsonl => {
                text_rules(path, format, &schema)?;
                FormatWriter::Jsonl(BufWriter::new(file))
            }
        };
        Ok(Writer {
            inner: Some(inner),
            encoder: Encoder {
                parquet: parquet_factory,
                schema,
                path: path.to_path_buf(),
            },
            temp,
            _listed: listed,
            flusher,
            path: path.to_path_buf(),
            rows: 0,
            row_groups: 0,
        })
    }

    /// An encoder for this writer's format and schema, for other threads.
    pub fn encoder(&self) -> Encoder {
        self.encoder.clone()
    }

    /// Appends a batch (in Parquet, as a row group of its own).
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let encoded = self.encoder.encode(self.row_groups, vec![batch.clone()])?;
        self.append(encoded)
    }

    /// Appends batches encoded by [`Writer::encoder`]; in Parquet, encoded
    /// batches must be appended in the order of the indices they were
    /// encoded with.
    pub fn append(&mut self, encoded: Encoded) -> Result<()> {
        let path = &self.path;
        let cannot_write = |e: &dyn std::fmt::Display| Error::data("cannot write", path, e);
        match (self.inner.as_mut().expect("not finished"), encoded.payload) {
            (FormatWriter::Parquet(writer), Payload::RowGroup(chunks)) => {
                let mut row_group = writer.next_row_group().map_err(|e| cannot_write(&e))?;
                for chunk in chunks {
                    chunk
                        .append_to_row_group(&mut row_group)
                        .map_err(|e| cannot_write(&e))?;
                }
                row_group.close().map_err(|e| cannot_write(&e))?;
                self.row_groups += 1;
            }
            (FormatWriter::Parquet(_), Payload::Batches(batches)) => {
                debug_assert!(batches.is_empty(), "Parquet batches are encoded first");
            }
            (writer, Payload::Batches(batches)) => {
                for batch in &batches {
                    let result = match writer {
                        FormatWriter::Csv { out, rules } => csv::write_records(out, batch, rules)
                            .map_err(|e| ArrowError::IoError(e.to_string(), e)),
                        FormatWriter::ArrowIpc { writer, schema } => {
                            unpack_dictionaries(batch, schema).and_then(|b| writer.write(&b))
                        }
                        FormatWriter::Jsonl(w) => {
                            use std::io::Write;
                            crate::json::encode_rows(batch)
                                .into_iter()
                                .try_for_each(|row| {
                                    w.write_all(row.as_bytes())
                                        .and_then(|()| w.write_all(b"\n"))
                                        .map_err(|e| ArrowError::IoError(e.to_string(), e))
                                })
                        }
                        FormatWriter::Parquet(_) => unreachable!("matched above"),
                    };
                    result.map_err(|e| cannot_write(&e))?;
                }
            }
            (_, Payload::RowGroup(_)) => unreachable!("only Parquet encoders make row groups"),
        }
        self.rows += encoded.rows;
        self.flusher
            .written()
            .map_err(|e| Error::io("cannot write", path, e))
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Completes the file, flushes it to disk and moves it into place.
    pub fn finish(self) -> Result<()> {
        self.finish_with(&[])
    }

    /// Completes the file with `metadata` entries learnt while writing it
    /// (Parquet and Arrow IPC; other formats have no metadata).
    pub fn finish_with(mut self, metadata: &[(String, String)]) -> Result<()> {
        let path = self.path.clone();
        let cannot_write = |e: String| Error::data("cannot write", &path, e);
        match self.inner.take().expect("not finished") {
            FormatWriter::Parquet(mut w) => {
                for (key, value) in metadata {
                    w.append_key_value_metadata(KeyValue::new(key.clone(), value.clone()));
                }
                w.close().map_err(|e| cannot_write(e.to_string()))?;
            }
            FormatWriter::Csv { mut out, .. } => {
                use std::io::Write;
                out.flush().map_err(|e| cannot_write(e.to_string()))?;
            }
            FormatWriter::ArrowIpc { writer: mut w, .. } => {
                use std::io::Write;
                for (key, value) in metadata {
                    w.write_metadata(key.clone(), value.clone());
                }
                w.finish().map_err(|e| cannot_write(e.to_string()))?;
                w.into_inner()
                    .map_err(|e| cannot_write(e.to_string()))?
                    .flush()
                    .map_err(|e| cannot_write(e.to_string()))?;
            }
            FormatWriter::Jsonl(mut w) => {
                use std::io::Write;
                w.flush().map_err(|e| cannot_write(e.to_string()))?;
            }
        }
        self.flusher
            .finish()
            .map_err(|e| Error::io("cannot write", &path, e))?;
        self.temp
            .persist(&path)
            .map_err(|e| Error::io("cannot move the finished file to", &path, e.error))?;
        Ok(())
    }
}

/// The text rule of each column of a text output, refusing (before any row
/// is written) a column whose type has none.
fn text_rules(
    path: &Path,
    format: Format,
    schema: &Schema,
) -> Result<Vec<crate::text::ColumnText>> {
    schema
        .fields()
        .iter()
        .map(|field| {
            crate::text::ColumnText::new(field.data_type()).map_err(|why| {
                Error::BadRequest(format!(
                    "cannot write `{}`: column `{}` has type {why}, which has no exact text \
                     form, so a {} file cannot hold it; write .parquet or .arrow instead, or \
                     leave the column out of `--keep`",
                    path.display(),
                    field.name(),
                    format.name()
                ))
            })
        })
        .collect()
}

/// `schema` with each dictionary-encoded column as its value type.
fn without_dictionaries(schema: &SchemaRef) -> SchemaRef {
    let fields: Vec<ArrowField> = schema
        .fields()
        .iter()
        .map(|field| match field.data_type() {
            arrow::datatypes::DataType::Dictionary(_, values) => field
                .as_ref()
                .clone()
                .with_data_type(values.as_ref().clone()),
            _ => field.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// `batch` with its dictionary-encoded columns unpacked, as `schema` says.
fn unpack_dictionaries(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, ArrowError> {
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| match column.data_type() {
            arrow::datatypes::DataType::Dictionary(..) => {
                arrow::compute::cast(column, field.data_type())
            }
            _ => Ok(column.clone()),
        })
        .collect::<Result<Vec<_>, ArrowError>>()?;
    RecordBatch::try_new(schema.clone(), columns)
}

/// Temporary files of the outputs being written in this process.
static UNFINISHED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Deletes the temporary files of every output this process is writing, so
/// that nothing is left behind when it is about to exit on a signal (which
/// runs no destructors). Writers whose file is deleted fail; none of them
/// can leave a partial file under its final name. Meant for a signal
/// handler that exits the process right after; `skewless run` calls it on
/// Ctrl-C and SIGTERM.
pub fn remove_unfinished_outputs() {
    let listed = UNFINISHED.lock().unwrap_or_else(|e| e.into_inner());
    for path in listed.iter() {
        let _ = std::fs::remove_file(path);
    }
}

/// A temporary output file listed in [`UNFINISHED`] while this lives.
struct Unfinished(PathBuf);

impl Unfinished {
    fn list(path: &Path) -> Unfinished {
        UNFINISHED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(path.to_path_buf());
        Unfinished(path.to_path_buf())
    }
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        let mut listed = UNFINISHED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(index) = listed.iter().position(|p| p == &self.0) {
            listed.swap_remove(index);
        }
    }
}

/// Encodes batches for a [`Writer`] on any thread. Parquet row groups are
/// encoded here, so a backfill's workers encode in parallel and the writer
/// only appends bytes; other formats pass batches through to the writer.
#[derive(Clone)]
pub struct Encoder {
    parquet: Option<Arc<parquet::arrow::arrow_writer::ArrowRowGroupWriterFactory>>,
    schema: SchemaRef,
    path: PathBuf,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("path", &self.path)
            .field("parquet", &self.parquet.is_some())
            .finish_non_exhaustive()
    }
}

/// Batches encoded by an [`Encoder`], ready for [`Writer::append`].
#[derive(Debug)]
pub struct Encoded {
    rows: u64,
    payload: Payload,
}

#[derive(Debug)]
enum Payload {
    RowGroup(Vec<parquet::arrow::arrow_writer::ArrowColumnChunk>),
    Batches(Vec<RecordBatch>),
}

impl Encoder {
    /// Encodes `batches` (with the writer's schema) as the `index`-th
    /// row group of a Parquet file, or keeps them for the writer to encode.
    pub fn encode(&self, index: usize, batches: Vec<RecordBatch>) -> Result<Encoded> {
        let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
        let Some(factory) = &self.parquet else {
            return Ok(Encoded {
                rows,
                payload: Payload::Batches(batches),
            });
        };
        if rows == 0 {
            return Ok(Encoded {
                rows,
                payload: Payload::Batches(Vec::new()),
            });
        }
        let cannot_write = |e: &dyn std::fmt::Display| Error::data("cannot write", &self.path, e);
        let mut writers = factory
            .create_column_writers(index)
            .map_err(|e| cannot_write(&e))?;
        for batch in &batches {
            let mut leaves_of = writers.iter_mut();
            for (field, column) in self.schema.fields().iter().zip(batch.columns()) {
                let leaves = parquet::arrow::arrow_writer::compute_leaves(field, column)
                    .map_err(|e| cannot_write(&e))?;
                for leaf in leaves {
                    leaves_of
                        .next()
                        .expect("one writer per leaf column")
                        .write(&leaf)
                        .map_err(|e| cannot_write(&e))?;
                }
            }
        }
        let chunks = writers
            .into_iter()
            .map(|writer| writer.close().map_err(|e| cannot_write(&e)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Encoded {
            rows,
            payload: Payload::RowGroup(chunks),
        })
    }
}

/// What a data file says about itself: its schema, its row count when known,
/// and the transform that wrote it, if skewless did.
#[derive(Debug)]
pub struct FileSummary {
    /// The file's format.
    pub format: Format,
    /// The file's schema.
    pub schema: SchemaRef,
    /// Number of rows, when the format records it.
    pub rows: Option<u64>,
    /// The transform that produced the file.
    pub provenance: Option<Provenance>,
}

/// The Parquet metadata key under which Spark keeps its schema (as JSON,
/// with each field's metadata).
const SPARK_ROW_METADATA: &str = "org.apache.spark.sql.parquet.row.metadata";

/// The provenance of a file Spark wrote with `skewless.spark`: the
/// transform's entries are on its output fields' metadata.
fn spark_provenance(schema: &str) -> std::result::Result<Option<Provenance>, String> {
    let schema: serde_json::Value =
        serde_json::from_str(schema).map_err(|e| format!("Spark's schema is not JSON: {e}"))?;
    let fields = schema["fields"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    for field in fields {
        let metadata = &field["metadata"];
        if metadata.get(Provenance::SHA256_KEY).is_some() {
            return Provenance::from_metadata(|key| metadata.get(key).and_then(|v| v.as_str()));
        }
    }
    Ok(None)
}

/// Reads `path`'s schema, row count and provenance without reading its data.
pub fn summarize(path: &Path) -> Result<FileSummary> {
    let (file, format) = open_input(path)?;
    let damaged = |e: String| {
        Error::data(
            "cannot read",
            path,
            format!("its skewless metadata is damaged: {e}"),
        )
    };
    match format {
        Format::Parquet => {
            let builder =
                ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| unreadable(path, &e))?;
            let metadata = builder.metadata().file_metadata();
            let kv = metadata.key_value_metadata();
            let get = |key: &str| {
                kv.and_then(|kv| kv.iter().find(|e| e.key == key))
                    .and_then(|e| e.value.as_deref())
            };
            let provenance = match Provenance::from_metadata(get).map_err(damaged)? {
                Some(provenance) => Some(provenance),
                None => get(SPARK_ROW_METADATA)
                    .map(spark_provenance)
                    .transpose()
                    .map_err(damaged)?
                    .flatten(),
            };
            Ok(FileSummary {
                format,
                schema: builder.schema().clone(),
                rows: Some(metadata.num_rows() as u64),
                provenance,
            })
        }
        Format::ArrowIpc => {
            let reader = Reader::open(path, None, 1, NaiveTimestamps::Refuse)?;
            let schema = reader.schema().clone();
            let provenance =
                Provenance::from_metadata(|key| schema.metadata().get(key).map(String::as_str))
                    .map_err(damaged)?;
            Ok(FileSummary {
                format,
                schema,
                rows: None,
                provenance,
            })
        }
        Format::Csv | Format::Jsonl => {
            let reader = Reader::open(path, None, 1, NaiveTimestamps::Refuse)?;
            Ok(FileSummary {
                format,
                schema: reader.schema().clone(),
                rows: None,
                provenance: None,
            })
        }
    }
}

/// Reads the first `limit` rows of `path` (all columns).
pub fn head(path: &Path, limit: usize) -> Result<Vec<RecordBatch>> {
    let mut batches = Vec::new();
    let mut rows = 0;
    for batch in Reader::open(path, None, limit.clamp(1, 8192), NaiveTimestamps::Refuse)? {
        let batch = batch?;
        let take = (limit - rows).min(batch.num_rows());
        rows += take;
        batches.push(batch.slice(0, take));
        if rows >= limit {
            break;
        }
    }
    Ok(batches)
}

#[cfg(test)]
mod tests {
    use super::ordinal;

    #[test]
    fn ordinals() {
        let said: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 103, 111]
            .into_iter()
            .map(ordinal)
            .collect();
        assert_eq!(
            said,
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "103rd",
                "111th"
            ]
        );
    }
}
