//! JSON Lines input, read exactly.
//!
//! The columns a transform declares are decoded by the serving codec
//! ([`crate::codec::json`]), so a line of a backfill file and a row of a request
//! with the same text become the same values, or the same refusal. (arrow's
//! JSON reader would cut `3.9` to `3` for an integer column and take the
//! string `"12.5"` as a float: a backfill would then train on values that
//! serving refuses.) Other columns (`--keep` ones, or every column when no
//! types are asked for) go through arrow's JSON decoder with their inferred
//! types, as they are only copied.

use std::io::BufRead;
use std::ops::Range;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use serde_json::value::RawValue;

use super::SetAside;
use crate::error::Error;
use crate::spec::{Field, NaiveTimestamps};

/// Batches of `batch_size` rows (one per non-blank line) with `schema`.
pub(super) struct JsonlBatches<R> {
    lines: R,
    /// The columns to produce, in order.
    schema: SchemaRef,
    /// The columns decoded exactly, with their declared types.
    exact: Vec<Field>,
    /// The other columns, and arrow's decoder for them.
    others: Option<(SchemaRef, arrow::json::reader::Decoder)>,
    batch_size: usize,
    /// What a timestamp without a zone means.
    naive: NaiveTimestamps,
    /// Where bad rows go instead of failing the file, when it is on.
    aside: SetAside,
    /// Rows yielded so far: errors count rows from the file's first.
    rows_read: u64,
    done: bool,
}

impl<R: BufRead> JsonlBatches<R> {
    /// `exact` names the columns of `schema` to decode with the serving
    /// codec; the rest are decoded by arrow with their types in `schema`.
    pub(super) fn new(
        lines: R,
        schema: SchemaRef,
        exact: Vec<Field>,
        batch_size: usize,
        naive: NaiveTimestamps,
        aside: SetAside,
    ) -> Result<Self, ArrowError> {
        let other_fields: Vec<_> = schema
            .fields()
            .iter()
            .filter(|field| !exact.iter().any(|e| &e.name == field.name()))
            .cloned()
            .collect();
        let others = if other_fields.is_empty() {
            None
        } else {
            let other_schema = std::sync::Arc::new(arrow::datatypes::Schema::new(other_fields));
            let decoder = arrow::json::ReaderBuilder::new(other_schema.clone())
                .with_batch_size(batch_size)
                .build_decoder()?;
            Some((other_schema, decoder))
        };
        Ok(JsonlBatches {
            lines,
            schema,
            exact,
            others,
            batch_size,
            naive,
            aside,
            rows_read: 0,
            done: false,
        })
    }

    /// Up to `batch_size` non-blank lines, as one text and the range of
    /// each line in it.
    fn read_lines(&mut self) -> Result<(String, Vec<Range<usize>>), ArrowError> {
        let mut text = String::new();
        let mut ranges = Vec::new();
        let mut line = String::new();
        while ranges.len() < self.batch_size {
            line.clear();
            let read = self.lines.read_line(&mut line).map_err(|e| {
                ArrowError::ExternalError(Box::new(Error::BadRequest(format!(
                    "row {}: {e}",
                    self.rows_read + ranges.len() as u64
                ))))
            })?;
            if read == 0 {
                self.done = true;
                break;
            }
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let start = text.len();
            text.push_str(line);
            ranges.push(start..text.len());
            text.push('\n');
        }
        Ok((text, ranges))
    }

    fn decode(&mut self, text: &str, ranges: &[Range<usize>]) -> Result<RecordBatch, Error> {
        let first = self.rows_read;
        let lenient = self.aside.is_on();
        // Rows that are not JSON objects: each fails the file, or, set
        // aside, reads as `{}` (all nulls).
        let mut bad_lines = Vec::new();
        for (index, range) in ranges.iter().enumerate() {
            let row = first + index as u64;
            let line = &text[range.clone()];
            let refusal = match serde_json::from_str::<&RawValue>(line) {
                Err(e) => Some(invalid_json(row, line, &e)),
                Ok(raw) if !raw.get().starts_with('{') => Some(format!(
                    "row {row}: expected a JSON object of fields, found {}",
                    crate::codec::json::describe(raw.get())
                )),
                Ok(_) => None,
            };
            if let Some(message) = refusal {
                if !lenient {
                    return Err(Error::BadRequest(message));
                }
                let message = message
                    .split_once(": ")
                    .map_or(message.clone(), |(_, why)| why.to_string());
                self.aside.push(Error::BadRow { row, message });
                bad_lines.push(index);
            }
        }
        let substituted;
        let (text, ranges) = if bad_lines.is_empty() {
            (text, ranges)
        } else {
            let mut fixed = String::with_capacity(text.len());
            let mut fixed_ranges = Vec::with_capacity(ranges.len());
            for (index, range) in ranges.iter().enumerate() {
                let start = fixed.len();
                fixed.push_str(if bad_lines.contains(&index) {
                    "{}"
                } else {
                    &text[range.clone()]
                });
                fixed_ranges.push(start..fixed.len());
                fixed.push('\n');
            }
            substituted = (fixed, fixed_ranges);
            (substituted.0.as_str(), substituted.1.as_slice())
        };
        let rows: Vec<&RawValue> = ranges
            .iter()
            .map(|range| serde_json::from_str(&text[range.clone()]).expect("checked above"))
            .collect();
        let exact = match crate::codec::json::decode_rows("", &self.exact, &rows, self.naive) {
            Ok(exact) if bad_lines.is_empty() => exact,
            Err(error) if !lenient => return Err(error.offset_rows(first)),
            _ => {
                // Row by row: the rows that decode, and nulls for the others.
                let schema = std::sync::Arc::new(arrow::datatypes::Schema::new(
                    self.exact.iter().map(Field::arrow).collect::<Vec<_>>(),
                ));
                let mut decoded = Vec::with_capacity(rows.len());
                for (index, raw) in rows.iter().enumerate() {
                    let one = if bad_lines.contains(&index) {
                        None
                    } else {
                        match crate::codec::json::decode_rows("", &self.exact, &[raw], self.naive) {
                            Ok(batch) => Some(batch),
                            Err(error) => {
                                self.aside.push(error.offset_rows(first + index as u64));
                                None
                            }
                        }
                    };
                    decoded.push(one.unwrap_or_else(|| RecordBatch::new_empty(schema.clone())));
                    if decoded.last().is_some_and(|b| b.num_rows() == 0) {
                        let nulls = schema
                            .fields()
                            .iter()
                            .map(|f| arrow::array::new_null_array(f.data_type(), 1))
                            .collect();
                        *decoded.last_mut().expect("pushed") = RecordBatch::try_new_with_options(
                            schema.clone(),
                            nulls,
                            &RecordBatchOptions::new().with_row_count(Some(1)),
                        )
                        .map_err(|e| Error::Runtime(e.to_string()))?;
                    }
                }
                arrow::compute::concat_batches(&schema, &decoded)
                    .map_err(|e| Error::Runtime(format!("cannot assemble rows: {e}")))?
            }
        };
        let others = match &mut self.others {
            None => None,
            Some((schema, decoder)) => {
                let arrow_error = |e| others_error(schema, text, ranges, first, e);
                let mut bytes = text.as_bytes();
                while !bytes.is_empty() {
                    let used = decoder.decode(bytes).map_err(arrow_error)?;
                    if used == 0 {
                        break;
                    }
                    bytes = &bytes[used..];
                }
                decoder.flush().map_err(arrow_error)?
            }
        };
        let columns: Vec<ArrayRef> = self
            .schema
            .fields()
            .iter()
            .map(|field| {
                let from = if self.exact.iter().any(|e| &e.name == field.name()) {
                    Some(&exact)
                } else {
                    others.as_ref()
                };
                from.and_then(|batch| batch.column_by_name(field.name()))
                    .cloned()
                    .ok_or_else(|| {
                        Error::Runtime(format!("column `{}` was not decoded", field.name()))
                    })
            })
            .collect::<Result<_, _>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(ranges.len()));
        RecordBatch::try_new_with_options(self.schema.clone(), columns, &options)
            .map_err(|e| Error::Runtime(format!("cannot assemble the decoded rows: {e}")))
    }
}

/// `row {row}: not valid JSON: {why} at column {column}`: serde's message
/// says "line 1", as it sees one line at a time.
fn invalid_json(row: u64, line: &str, error: &serde_json::Error) -> String {
    let message = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    let why = message.strip_suffix(&suffix).unwrap_or(&message);
    format!(
        "row {row}: not valid JSON: {why} at column {}{}",
        error.column(),
        crate::codec::json::bare_word_hint(line.as_bytes(), error)
    )
}

/// Why arrow could not guess the columns of a JSON Lines file: the first
/// line, among the first `limit` rows, that is not a JSON object, named by
/// its row (arrow's own message says "line 1" or dumps the value). `None`
/// when every line is an object.
pub(super) fn first_bad_row(lines: impl BufRead, limit: usize) -> Option<String> {
    let mut row = 0_u64;
    for line in lines.lines() {
        let line = match line {
            Ok(line) => line,
            Err(error) => return Some(format!("row {row}: {error}")),
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match serde_json::from_str::<&RawValue>(line) {
            Err(error) => return Some(invalid_json(row, line, &error)),
            Ok(raw) if !raw.get().starts_with('{') => {
                return Some(format!(
                    "row {row}: expected a JSON object of fields, found {}",
                    crate::codec::json::describe(raw.get())
                ));
            }
            Ok(_) => {}
        }
        row += 1;
        if row as usize >= limit {
            break;
        }
    }
    None
}

/// arrow's `error` on the rows at `ranges` of `text` (the first is file row
/// `first`), narrowed to the first row that fails alone.
fn others_error(
    schema: &SchemaRef,
    text: &str,
    ranges: &[Range<usize>],
    first: u64,
    error: ArrowError,
) -> Error {
    let alone = |range: &Range<usize>| -> Result<(), ArrowError> {
        let mut decoder = arrow::json::ReaderBuilder::new(schema.clone()).build_decoder()?;
        decoder.decode(text[range.clone()].as_bytes())?;
        decoder.flush().map(|_| ())
    };
    let (rows, error) = match ranges
        .iter()
        .enumerate()
        .find_map(|(index, range)| Some((index, alone(range).err()?)))
    {
        Some((index, error)) => (format!("row {}", first + index as u64), error),
        None => (
            format!("rows {first} to {}", first + ranges.len() as u64 - 1),
            error,
        ),
    };
    let message = error.to_string();
    let message = message.strip_prefix("Json error: ").unwrap_or(&message);
    Error::BadRequest(format!(
        "{rows}: {message} (columns that are not inputs of the transform have the types \
         guessed from the file's first {} rows)",
        super::reader::INFER_RECORDS
    ))
}

impl<R: BufRead> Iterator for JsonlBatches<R> {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let (text, ranges) = match self.read_lines() {
            Ok(lines) => lines,
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        };
        if ranges.is_empty() {
            return None;
        }
        let batch = self.decode(&text, &ranges).map_err(|error| {
            self.done = true;
            ArrowError::ExternalError(Box::new(error))
        });
        self.rows_read += ranges.len() as u64;
        Some(batch)
    }
}
