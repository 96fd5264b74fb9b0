//! [`Writer`]: a data file written atomically (under its name only when
//! complete), and the [`Encoder`] that lets other threads encode for it.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{Field as ArrowField, Schema, SchemaRef};
use arrow::error::ArrowError;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use super::{Format, csv, flush, readable};
use crate::error::{Error, Result};
use crate::spec::Provenance;

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
    /// CSV with every value in its one text form ([`crate::codec::text`]).
    Csv {
        out: BufWriter<File>,
        rules: Vec<crate::codec::text::ColumnText>,
    },
    /// An Arrow IPC file. It holds one dictionary per column for the whole
    /// file, and the batches of a Parquet file (or a stream) each bring
    /// their own, so dictionary-encoded columns are written as their values
    /// (the same values; the writer would otherwise fail mid-file).
    ArrowIpc {
        writer: Box<arrow::ipc::writer::FileWriter<BufWriter<File>>>,
        schema: SchemaRef,
    },
    /// JSON Lines in the serving codec's exact form (`crate::codec::json`): arrow's
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
                                 cannot hold ({}); write .arrow instead, or do not keep the \
                                 column",
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
                            crate::codec::json::encode_rows(batch)
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
) -> Result<Vec<crate::codec::text::ColumnText>> {
    schema
        .fields()
        .iter()
        .map(|field| {
            // A type JSON Lines cannot hold either is refused below, with
            // the formats that can.
            let json_lines = crate::codec::text::ColumnText::new(field.data_type()).is_ok();
            if format == Format::Csv && !csv::has_csv_form(field.data_type()) && json_lines {
                return Err(Error::BadRequest(format!(
                    "cannot write `{}`: column `{}` is {}, which has no CSV form that tools \
                     read back as the same values; write .parquet, .arrow or .jsonl (where \
                     bytes are base64 and lists are JSON arrays)",
                    path.display(),
                    field.name(),
                    crate::spec::DataType::from_arrow(field.data_type())
                        .map_or_else(|| field.data_type().to_string(), |t| t.to_string())
                )));
            }
            crate::codec::text::ColumnText::new(field.data_type()).map_err(|why| {
                Error::BadRequest(format!(
                    "cannot write `{}`: column `{}` has type {why}, which has no exact text \
                     form, so a {} file cannot hold it; write .parquet or .arrow instead, or \
                     do not keep the column",
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
