//! [`Reader`]: a data file in batches, only the columns asked for, in the
//! types asked for (text formats) or the file's own (typed formats), with
//! errors that name the file, column and row.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType as ArrowType, Field as ArrowField, Schema, SchemaRef};
use arrow::error::ArrowError;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::metadata::KeyValue;

use super::{ColumnRequest, Format, csv, jsonl, open_input, read_failure, unreadable};
use crate::engine::{column_list, misspelling, near_miss};
use crate::error::{Error, Result};
use crate::spec::{DataType, NaiveTimestamps};

/// Rows a text-format reader samples to infer the types of columns that
/// were not given one.
pub(super) const INFER_RECORDS: usize = 10_000;

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

    pub(super) fn is_on(&self) -> bool {
        self.lock().is_some()
    }

    pub(super) fn push(&self, error: Error) {
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
                    let indices = select(path, builder.schema(), columns, &ColumnsFrom::default())?;
                    if naive == NaiveTimestamps::Refuse {
                        check_int96(builder.parquet_schema(), &indices, columns)?;
                    }
                    let total_rows = builder.metadata().file_metadata().num_rows() as u64;
                    let metadata_kv = builder
                        .metadata()
                        .file_metadata()
                        .key_value_metadata()
                        .cloned()
                        .unwrap_or_default();
                    let mask = ProjectionMask::roots(builder.parquet_schema(), indices.clone());
                    check_decompressed_sizes(path, builder.metadata(), &mask)?;
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
                        let indices = select(path, &full, columns, &ColumnsFrom::default())?;
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
                        let indices =
                            select(path, &reader.schema(), columns, &ColumnsFrom::default())?;
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
                    let guessed = jsonl::guess_columns(&mut buffered, INFER_RECORDS)
                        .map_err(|why| Error::data("cannot read", path, why))?;
                    let inferred = guessed.schema;
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
                    let from = ColumnsFrom {
                        scope: Some(format!(
                            " in its first {INFER_RECORDS} rows (where a JSON Lines file's \
                             columns are read from)"
                        )),
                        hint: None,
                    };
                    let indices = select(path, &full, columns, &from)?;
                    let projected = Arc::new(full.project(&indices).expect("indices are in range"));
                    // Declared columns are decoded exactly, as serving does,
                    // and so are the others of one scalar type, as guessed.
                    let mut exact = Vec::new();
                    let mut guesses = Vec::new();
                    for field in projected.fields() {
                        let name = field.name();
                        let data_type = match declared_type(columns, name) {
                            Some(declared) => declared,
                            None => {
                                if let Some((_, why)) =
                                    guessed.mixed.iter().find(|(mixed, _)| mixed == name)
                                {
                                    return Err(Error::data("cannot read", path, why));
                                }
                                // Lists of one scalar type too; objects
                                // stay with arrow's decoder.
                                let guess = match field.data_type() {
                                    ArrowType::Boolean => DataType::Boolean,
                                    ArrowType::Int64 => DataType::Int64,
                                    ArrowType::Float64 => DataType::Float64,
                                    ArrowType::Utf8 => DataType::Utf8,
                                    list @ ArrowType::List(_) => match DataType::from_arrow(list) {
                                        Some(list @ DataType::List { .. }) => list,
                                        _ => continue,
                                    },
                                    _ => continue,
                                };
                                guesses.push(name.clone());
                                guess
                            }
                        };
                        exact.push(crate::spec::Field {
                            name: name.clone(),
                            data_type,
                            nullable: true,
                        });
                    }
                    let mut file = buffered.into_inner();
                    file.seek(SeekFrom::Start(0))
                        .map_err(|e| Error::io("cannot read", path, e))?;
                    let counted = CountingReader::new(file, bytes_read.clone());
                    let reader = jsonl::JsonlBatches::new(
                        BufReader::new(counted),
                        projected.clone(),
                        exact,
                        guesses,
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

    /// Reads batches already in memory (Arrow data handed to the Python
    /// package) as [`Reader::open`] reads a typed file: the `columns` asked
    /// for, in that order, with the same error for a missing one; `name`
    /// stands for the file in errors (e.g. `events`).
    pub fn from_batches(
        name: &str,
        schema: &SchemaRef,
        batches: &[RecordBatch],
        columns: Option<&[ColumnRequest]>,
        batch_size: usize,
    ) -> Result<Reader> {
        let path = PathBuf::from(name);
        // Data handed over in memory is input, not a file that failed.
        let indices =
            select(&path, schema, columns, &ColumnsFrom::default()).map_err(|e| match e {
                Error::Data { .. } => Error::BadRequest(e.to_string()),
                other => other,
            })?;
        let projected = Arc::new(schema.project(&indices).expect("indices are in range"));
        let total_rows = batches.iter().map(|b| b.num_rows() as u64).sum();
        let total_bytes = batches
            .iter()
            .map(|b| b.get_array_memory_size() as u64)
            .sum();
        // Owned (each batch is a few reference counts): the reader outlives
        // the borrow.
        let owned: Vec<RecordBatch> = Vec::from(batches);
        let stream = owned.into_iter().map(move |batch| batch.project(&indices));
        let reorder = order_of(&projected, columns);
        Ok(Reader {
            batches: Box::new(Rechunk::new(
                reorder_batches(stream, reorder),
                batch_size.max(1),
            )),
            path,
            schema: schema_in_order(&projected, columns),
            total_rows: Some(total_rows),
            total_bytes,
            bytes_read: Arc::new(AtomicU64::new(total_bytes)),
            aside: SetAside::default(),
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
            .map(|batch| batch.map_err(|e| read_failure(&self.path, e)))
    }
}

/// The most bytes a row of one Parquet column may decompress to, on
/// average over a row group, before the row group is read: far beyond any
/// feature value, and far below what would exhaust memory.
pub(super) const MAX_DECOMPRESSED_BYTES_PER_ROW: u64 = 256 << 20;

/// Refuses, before decompressing anything, a Parquet file whose column
/// chunks declare more uncompressed bytes per row than
/// [`MAX_DECOMPRESSED_BYTES_PER_ROW`]: a few kilobytes on disk can declare
/// gigabytes (a damaged or hostile file, or one holding values no
/// transform could take), and the reader would allocate them.
fn check_decompressed_sizes(
    path: &Path,
    metadata: &parquet::file::metadata::ParquetMetaData,
    mask: &ProjectionMask,
) -> Result<()> {
    for (group_index, group) in metadata.row_groups().iter().enumerate() {
        let rows = u64::try_from(group.num_rows()).unwrap_or(0).max(1);
        for (leaf, column) in group.columns().iter().enumerate() {
            if !mask.leaf_included(leaf) {
                continue;
            }
            let uncompressed = u64::try_from(column.uncompressed_size()).unwrap_or(u64::MAX);
            if uncompressed / rows > MAX_DECOMPRESSED_BYTES_PER_ROW {
                return Err(Error::data(
                    "cannot read",
                    path,
                    format!(
                        "column `{}` of row group {group_index} declares {} uncompressed for \
                         its {rows} row{} ({} a row, from {} on disk); skewless refuses more \
                         than {} a row, which no feature value needs and which would exhaust \
                         memory",
                        column.column_path().string(),
                        crate::error::human_bytes(uncompressed),
                        if rows == 1 { "" } else { "s" },
                        crate::error::human_bytes(uncompressed / rows),
                        crate::error::human_bytes(
                            u64::try_from(column.compressed_size()).unwrap_or(0)
                        ),
                        crate::error::human_bytes(MAX_DECOMPRESSED_BYTES_PER_ROW),
                    ),
                ));
            }
        }
    }
    Ok(())
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

/// What the message for a column not found says about the file beside
/// its columns: where they were read from, when not from the whole file,
/// and what may explain the missing one.
#[derive(Default)]
pub(super) struct ColumnsFrom {
    /// Said after the missing column's name, e.g. " in its first 10000
    /// rows"; the columns listed are then said to be "there".
    pub(super) scope: Option<String>,
    /// Said after the list of the file's columns, starting with "; ".
    pub(super) hint: Option<String>,
}

/// The indices of the requested columns in `schema` (all when `None`);
/// a column not found is named, with the file's columns and `from`.
pub(super) fn select(
    path: &Path,
    schema: &Schema,
    columns: Option<&[ColumnRequest]>,
    from: &ColumnsFrom,
) -> Result<Vec<usize>> {
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
                        "it has no column `{}`{}{}; its columns{} are: {}{}{}",
                        column.name,
                        // Only inputs have declared types: the others are
                        // asked for to be kept (`--keep`, `keep=`).
                        if column.data_type.is_none() {
                            " to keep"
                        } else {
                            ""
                        },
                        from.scope.as_deref().unwrap_or_default(),
                        if from.scope.is_some() { " there" } else { "" },
                        column_list(schema.fields().iter().map(|f| f.name().as_str())),
                        misspelling(
                            &column.name,
                            near_miss(
                                &column.name,
                                schema
                                    .fields()
                                    .iter()
                                    .map(|f| f.name().as_str())
                                    .filter(|name| !columns.iter().any(|c| c.name == *name))
                            )
                        ),
                        from.hint.as_deref().unwrap_or_default(),
                    ),
                ));
            }
        }
    }
    indices.sort_unstable();
    Ok(indices)
}

/// Refuses a Parquet INT96 column asked for as a timestamp, saying where
/// such columns come from: Spark writes its timestamps so by default,
/// with no zone in the file (they are instants, in UTC, for Spark), and
/// arrow reads them as nanoseconds without a zone, which the generic
/// refusal would describe without saying what to do about Spark.
fn check_int96(
    parquet: &parquet::schema::types::SchemaDescriptor,
    indices: &[usize],
    columns: Option<&[ColumnRequest]>,
) -> Result<()> {
    let roots = parquet.root_schema().get_fields();
    for &index in indices {
        let Some(root) = roots.get(index) else {
            continue;
        };
        let timestamp = declared_type(columns, root.name()) == Some(DataType::TimestampMicros);
        if timestamp
            && root.is_primitive()
            && root.get_physical_type() == parquet::basic::Type::INT96
        {
            return Err(Error::NaiveTimestamp {
                column: root.name().to_string(),
                row: None,
                reason: "holds INT96 timestamps, which carry no time zone: Spark writes its \
                         timestamps so by default, as instants in UTC; skewless does not guess \
                         which zone a timestamp without one is in: if this file comes from \
                         Spark, say they are UTC with the `naive_timestamps` setting (`utc`), \
                         or have Spark write them with their zone \
                         (`spark.sql.parquet.outputTimestampType=TIMESTAMP_MICROS`)"
                    .to_string(),
            });
        }
    }
    Ok(())
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
pub(super) fn declared_type(columns: Option<&[ColumnRequest]>, name: &str) -> Option<DataType> {
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
pub(super) struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R> CountingReader<R> {
    pub(super) fn new(inner: R, count: Arc<AtomicU64>) -> Self {
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
