//! What a data file says about itself, for `inspect`: its schema, rows
//! and provenance ([`summarize`]), and its first rows ([`head`]).

use std::path::Path;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::{Format, Reader, open_input, unreadable};
use crate::error::{Error, Result};
use crate::spec::{NaiveTimestamps, Provenance};

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
