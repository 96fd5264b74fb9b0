//! JSON Lines input, read exactly.
//!
//! The columns a transform declares are decoded by the serving codec
//! ([`crate::codec::json`]), so a line of a backfill file and a row of a request
//! with the same text become the same values, or the same refusal. (arrow's
//! JSON reader would cut `3.9` to `3` for an integer column and take the
//! string `"12.5"` as a float: a backfill would then train on values that
//! serving refuses.) Other columns (`--keep` ones, or every column when no
//! types are asked for) have types guessed from the file's first rows
//! ([`guess_columns`]); those of one scalar type are decoded by the same
//! codec, so a later value that does not fit the guess stops the read with
//! its column and row instead of being cut to fit, and nested ones (objects,
//! lists) by arrow's decoder, as they are only copied.

use std::borrow::Cow;
use std::io::BufRead;
use std::ops::Range;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow::datatypes::{DataType as ArrowType, Field as ArrowField, SchemaRef};
use arrow::error::ArrowError;
use serde_json::value::RawValue;

use super::SetAside;
use crate::codec::json::{Fields, deserialize_fields};
use crate::error::Error;
use crate::spec::{Field, NaiveTimestamps};

/// Batches of `batch_size` rows (one per non-blank line) with `schema`.
pub(super) struct JsonlBatches<R> {
    lines: R,
    /// The columns to produce, in order.
    schema: SchemaRef,
    /// The columns decoded exactly, with their declared or guessed types.
    exact: Vec<Field>,
    /// Those of `exact` whose types were guessed: a row may leave them out.
    guessed: Vec<String>,
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
    /// codec (`guessed`: those whose types were guessed, not declared); the
    /// rest are decoded by arrow with their types in `schema`.
    pub(super) fn new(
        lines: R,
        schema: SchemaRef,
        exact: Vec<Field>,
        guessed: Vec<String>,
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
            guessed,
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
            let mut line = line.trim();
            if self.rows_read == 0 && ranges.is_empty() {
                // A byte order mark (which some Windows tools write) is not
                // part of the first row.
                line = line.trim_start_matches('\u{feff}');
            }
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
        let optional: Vec<&str> = self.guessed.iter().map(String::as_str).collect();
        let guessed = &self.guessed;
        let decode = |rows: &[&RawValue]| {
            crate::codec::json::decode_rows_with("", &self.exact, rows, self.naive, &optional)
                .map_err(|error| guess_hint(error, guessed))
        };
        let exact = match decode(&rows) {
            Ok(exact) if bad_lines.is_empty() => exact,
            Err(error) if !lenient => return Err(error.offset_rows(first)),
            _ => {
                // Row by row: the rows that decode; in a row that does not,
                // the values that do (the rejects file shows them), and
                // nulls for the others.
                let schema = std::sync::Arc::new(arrow::datatypes::Schema::new(
                    self.exact.iter().map(Field::arrow).collect::<Vec<_>>(),
                ));
                let options = RecordBatchOptions::new().with_row_count(Some(1));
                let mut decoded = Vec::with_capacity(rows.len());
                for (index, raw) in rows.iter().enumerate() {
                    let whole = if bad_lines.contains(&index) {
                        None
                    } else {
                        match decode(&[raw]) {
                            Ok(batch) => Some(batch),
                            Err(error) => {
                                self.aside.push(error.offset_rows(first + index as u64));
                                None
                            }
                        }
                    };
                    let one = match whole {
                        Some(batch) => batch,
                        None => {
                            let columns = self
                                .exact
                                .iter()
                                .map(|field| {
                                    let alone = (!bad_lines.contains(&index))
                                        .then(|| {
                                            crate::codec::json::decode_rows_with(
                                                "",
                                                std::slice::from_ref(field),
                                                &[raw],
                                                self.naive,
                                                &optional,
                                            )
                                            .ok()
                                        })
                                        .flatten();
                                    match alone {
                                        Some(batch) => batch.column(0).clone(),
                                        None => arrow::array::new_null_array(
                                            &field.data_type.arrow(),
                                            1,
                                        ),
                                    }
                                })
                                .collect();
                            RecordBatch::try_new_with_options(schema.clone(), columns, &options)
                                .map_err(|e| Error::Runtime(e.to_string()))?
                        }
                    };
                    decoded.push(one);
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

/// The columns of a JSON Lines file, as its first rows show them.
pub(super) struct Guessed {
    /// Every column, in the order the rows first show it, with the type its
    /// values suggest ([`ArrowType::Null`] when they were all null).
    pub schema: arrow::datatypes::Schema,
    /// The columns whose first rows hold values of more than one kind, and
    /// what they hold: reading one is refused, as no type would keep every
    /// value.
    pub mixed: Vec<(String, String)>,
}

/// What the values of one column in the first rows are.
#[derive(Default)]
struct Seen {
    name: String,
    /// For each kind of value, the first row that holds one.
    boolean: Option<u64>,
    integer: Option<u64>,
    float: Option<u64>,
    text: Option<u64>,
    /// A string that spells a float JSON has no number for (`"NaN"`):
    /// a number in a column of numbers, text in a column of text.
    non_finite: Option<u64>,
    nested: Option<u64>,
    /// The nested values (objects, lists), for arrow to guess their type.
    nested_values: Vec<serde_json::Value>,
    /// Why a nested value cannot be read, with its row.
    nested_error: Option<String>,
}

impl Seen {
    fn note(&mut self, row: u64, raw: &RawValue) {
        let text = raw.get();
        let first = |kind: &mut Option<u64>| {
            kind.get_or_insert(row);
        };
        match text.as_bytes().first() {
            Some(b'n') => {}
            Some(b't' | b'f') => first(&mut self.boolean),
            // The floats JSON has no number for, as Spark, pandas and
            // skewless write them, or a word (a person called Nan).
            Some(b'"') if non_finite(&text[1..text.len() - 1]) => first(&mut self.non_finite),
            Some(b'"') => first(&mut self.text),
            Some(b'[' | b'{') => {
                first(&mut self.nested);
                if self.nested_error.is_none() {
                    match serde_json::from_str(text) {
                        Ok(value) => self.nested_values.push(value),
                        Err(e) => {
                            self.nested_error = Some(format!(
                                "column `{}`, row {row}: {}",
                                self.name,
                                e.to_string().replace(" at line 1 ", " at ")
                            ))
                        }
                    }
                }
            }
            _ if text.contains(['.', 'e', 'E']) => first(&mut self.float),
            _ => first(&mut self.integer),
        }
    }

    /// The column's type, or what it holds when it holds several kinds.
    fn resolve(mut self, limit: usize) -> Result<ArrowField, (String, String)> {
        match self.text {
            Some(_) => self.text = earliest(self.text, self.non_finite),
            None => self.float = earliest(self.float, self.non_finite),
        }
        let kinds: Vec<(&str, u64)> = [
            ("`true`/`false`", self.boolean),
            ("numbers", earliest(self.integer, self.float)),
            ("strings", self.text),
            ("objects or lists", self.nested),
        ]
        .into_iter()
        .filter_map(|(what, row)| Some((what, row?)))
        .collect();
        let data_type = match kinds.as_slice() {
            [] => ArrowType::Null,
            [(_, _)] if self.boolean.is_some() => ArrowType::Boolean,
            [(_, _)] if self.float.is_some() => ArrowType::Float64,
            [(_, _)] if self.integer.is_some() => ArrowType::Int64,
            [(_, _)] if self.text.is_some() => ArrowType::Utf8,
            [(_, _)] => {
                if let Some(error) = self.nested_error {
                    return Err((self.name, error));
                }
                let name = self.name.clone();
                let records = self.nested_values.into_iter().map(|value| {
                    let mut record = serde_json::Map::new();
                    record.insert(name.clone(), value);
                    Ok::<_, ArrowError>(serde_json::Value::Object(record))
                });
                match arrow::json::reader::infer_json_schema_from_iterator(records) {
                    Ok(schema) => match schema.field_with_name(&self.name) {
                        Ok(field) => field.data_type().clone(),
                        Err(_) => ArrowType::Null,
                    },
                    Err(e) => return Err((self.name, super::readable(&e))),
                }
            }
            several => {
                let what: Vec<String> = several
                    .iter()
                    .map(|(what, row)| format!("{what} (from row {row})"))
                    .collect();
                let why = format!(
                    "column `{}` holds {} in the file's first {limit} rows; a column's values \
                     must have one type",
                    self.name,
                    join_and(&what)
                );
                return Err((self.name, why));
            }
        };
        Ok(ArrowField::new(self.name, data_type, true))
    }
}

/// Whether `text` (a JSON string's contents) is a float JSON has no
/// number for: `NaN`, `Infinity`, `-Infinity` and the other spellings the
/// codec reads (`inf`, `nan`, `NaN:0x...` with its bits).
fn non_finite(text: &str) -> bool {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    ["nan", "inf", "infinity"]
        .iter()
        .any(|word| unsigned.eq_ignore_ascii_case(word))
        || unsigned.starts_with("NaN:0x")
}

/// The earlier of two first rows.
fn earliest(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        _ => a.or(b),
    }
}

/// `a`, `a and b`, `a, b and c`.
fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// The columns of a JSON Lines file, guessed from its first `limit` rows
/// (one per non-blank line). A line that is not a JSON object fails with
/// its row, as it would fail the read. Numbers are read as the codec reads
/// them (an integer's text guesses int64, any other float64), so a number
/// no float can hold, such as `1e400`, is guessed like any other (the
/// codec then reads it as infinity, as it does in a request).
pub(super) fn guess_columns(lines: impl BufRead, limit: usize) -> Result<Guessed, String> {
    let mut columns: Vec<Seen> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut row = 0_u64;
    for line in lines.lines() {
        if row as usize >= limit {
            break;
        }
        let line = line.map_err(|error| format!("row {row}: {error}"))?;
        let mut line = line.trim();
        if row == 0 {
            line = line.trim_start_matches('\u{feff}');
        }
        if line.is_empty() {
            continue;
        }
        let fields = match serde_json::from_str::<Ordered<'_>>(line) {
            Ok(fields) => fields,
            Err(error) => {
                return Err(match serde_json::from_str::<&RawValue>(line) {
                    Err(error) => invalid_json(row, line, &error),
                    Ok(raw) if !raw.get().starts_with('{') => format!(
                        "row {row}: expected a JSON object of fields, found {}",
                        crate::codec::json::describe(raw.get())
                    ),
                    Ok(_) => format!("row {row}: {error}"),
                });
            }
        };
        for (name, raw) in fields.0 {
            let at = *index.entry(name.to_string()).or_insert_with(|| {
                columns.push(Seen {
                    name: name.to_string(),
                    ..Seen::default()
                });
                columns.len() - 1
            });
            columns[at].note(row, raw);
        }
        row += 1;
    }
    let mut fields = Vec::with_capacity(columns.len());
    let mut mixed = Vec::new();
    for seen in columns {
        match seen.resolve(limit) {
            Ok(field) => fields.push(field),
            Err((name, why)) => {
                fields.push(ArrowField::new(&name, ArrowType::Null, true));
                mixed.push((name, why));
            }
        }
    }
    Ok(Guessed {
        schema: arrow::datatypes::Schema::new(fields),
        mixed,
    })
}

/// A JSON object's fields in their order, borrowed from the line.
struct Ordered<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Fields<'de> for Ordered<'de> {
    fn with_capacity(capacity: usize) -> Self {
        Ordered(Vec::with_capacity(capacity))
    }
    fn push(&mut self, name: Cow<'de, str>, value: &'de RawValue) {
        self.0.push((name, value));
    }
}

impl<'de> serde::Deserialize<'de> for Ordered<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_fields(deserializer)
    }
}

/// `error`, said of a file's row: about a column in `guessed`, that its
/// type was a guess; about a missing field, who writes rows without one.
fn guess_hint(error: Error, guessed: &[String]) -> Error {
    let hint = |column: &str| {
        format!(
            "; the type of `{column}` was guessed from the file's first {} rows (only the \
             transform's inputs have declared types)",
            super::reader::INFER_RECORDS
        )
    };
    match error {
        Error::InvalidValue {
            column,
            row,
            mut reason,
        } if guessed.contains(&column) => {
            reason.push_str(&hint(&column));
            Error::InvalidValue {
                column,
                row,
                reason,
            }
        }
        Error::WrongValue {
            column,
            row,
            expected,
            found,
            hint: mut told,
        } if guessed.contains(&column) => {
            told.push_str(&hint(&column));
            Error::WrongValue {
                column,
                row,
                expected,
                found,
                hint: told,
            }
        }
        Error::MissingField {
            column,
            row,
            expected,
            mut hint,
        } if hint.starts_with("; give `null` for a missing value") => {
            hint.insert_str(
                "; give `null` for a missing value".len(),
                " (Spark leaves null fields out of the JSON it writes unless told \
                 `.option(\"ignoreNullFields\", False)`)",
            );
            Error::MissingField {
                column,
                row,
                expected,
                hint,
            }
        }
        other => other,
    }
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
        Some((index, error)) => {
            let row = first + index as u64;
            // A column null in every row the guess saw has no type: say
            // so, rather than arrow's "expected null".
            let line = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(
                &text[ranges[index].clone()],
            );
            let unguessed = schema.fields().iter().find(|field| {
                field.data_type() == &ArrowType::Null
                    && line
                        .as_ref()
                        .is_ok_and(|line| line.get(field.name()).is_some_and(|v| !v.is_null()))
            });
            if let Some(field) = unguessed {
                return Error::InvalidValue {
                    column: field.name().clone(),
                    row,
                    reason: format!(
                        "the column is null in the file's first {} rows, so it has no type to \
                         read this value as (only the transform's inputs have declared types); \
                         keep it from a typed file (Parquet), or put a row with a value first",
                        super::reader::INFER_RECORDS
                    ),
                };
            }
            (format!("row {row}"), error)
        }
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
