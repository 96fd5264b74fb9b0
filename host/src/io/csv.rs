//! CSV input: types for the columns, and values that do not parse named by
//! column and row.
//!
//! A column the transform declares is read as text by arrow-csv and parsed
//! here into its declared type by the rules arrow-csv itself applies
//! (arrow's `Parser` for numbers, `true` or `false` in any case for
//! booleans, an empty field is null), so the values are the ones arrow-csv
//! would give. What changes is the refusal: a value that does not parse
//! names its column, its row (counted from 0 at the first data row, as
//! every row in skewless's messages) and the value, where arrow-csv names
//! the column by position, counts CSV records as lines, and prints the
//! whole row. Timestamps are parsed as serving parses them
//! ([`crate::codec::text::parse_timestamp`]: RFC 3339 with a time zone, whole
//! microseconds): arrow-csv would also take a date alone, a time without a
//! zone, or cut a nanosecond fraction. Floats also take the text forms
//! skewless writes for NaNs and infinities (`NaN:0x...`, `Infinity`), so a
//! CSV file skewless wrote reads back bit for bit.
//!
//! Other columns (`--keep` ones) get the type arrow-csv guesses from the
//! first rows, with three differences: a column of numbers where one is
//! written with a leading zero or a sign (`0123`, `+5`, `007.5`; `-0` among
//! integers) stays text, so an id is copied as written; a column arrow-csv would take as dates or
//! timestamps stays text too (it would drop the zone a value was written
//! with); and a later value that does not fit the guess (or that an integer
//! would not write back the same) is refused the same way, saying the type
//! was guessed.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType as ArrowType, Field as ArrowField, Schema, SchemaRef};
use arrow::error::ArrowError;

use super::reader::{ColumnsFrom, CountingReader, INFER_RECORDS, declared_type, select};
use super::{ColumnRequest, SetAside, unreadable};
use crate::error::{Error, Result};
use crate::spec::{DataType, NaiveTimestamps};

/// Batches of a CSV file's requested columns (all when `columns` is
/// `None`), in file order, and their schema.
pub(super) fn open(
    file: File,
    path: &Path,
    columns: Option<&[ColumnRequest]>,
    batch_size: usize,
    bytes_read: Arc<AtomicU64>,
    naive: NaiveTimestamps,
    aside: SetAside,
) -> Result<(
    impl Iterator<Item = Result<RecordBatch, ArrowError>> + Send + 'static,
    SchemaRef,
)> {
    let cannot_read = |e: &dyn std::fmt::Display| unreadable(path, e);
    let mut file = BufReader::new(file);
    let (guessed, _) = arrow::csv::reader::Format::default()
        .with_header(true)
        .infer_schema(&mut file, Some(INFER_RECORDS))
        .map_err(|e| cannot_read(&e))?;
    let from = ColumnsFrom {
        scope: None,
        hint: other_separator(&guessed),
    };
    let indices = select(path, &guessed, columns, &from)?;
    let mut parsed = Vec::new();
    let mut fields: Vec<ArrowField> = Vec::with_capacity(guessed.fields().len());
    for (index, field) in guessed.fields().iter().enumerate() {
        let name = field.name();
        let data_type = match declared_type(columns, name) {
            Some(declared) if indices.contains(&index) && !has_csv_form(&declared.arrow()) => {
                return Err(Error::data(
                    "cannot read",
                    path,
                    format!(
                        "column `{name}` is read as {declared}, which has no CSV form that \
                         tools agree on (pandas writes bytes and lists as Python source); \
                         read it from Parquet, Arrow IPC or JSON Lines (bytes as base64, \
                         lists as JSON arrays)"
                    ),
                ));
            }
            Some(declared) => {
                if declared != DataType::Utf8 && indices.contains(&index) {
                    parsed.push(Parsed {
                        name: name.clone(),
                        guessed: false,
                    });
                }
                declared.arrow()
            }
            None => {
                let guess = match field.data_type() {
                    // Copied as written: a date or time parsed by arrow-csv
                    // would lose the zone (or offset) it was written with.
                    ArrowType::Date32
                    | ArrowType::Date64
                    | ArrowType::Time32(_)
                    | ArrowType::Time64(_)
                    | ArrowType::Timestamp(..) => ArrowType::Utf8,
                    guess => guess.clone(),
                };
                if matches!(
                    guess,
                    ArrowType::Boolean | ArrowType::Int64 | ArrowType::Float64
                ) && indices.contains(&index)
                {
                    parsed.push(Parsed {
                        name: name.clone(),
                        guessed: true,
                    });
                }
                guess
            }
        };
        fields.push(ArrowField::new(name, data_type, true));
    }
    // Numbers written with a leading zero or a sign stay text.
    let mut file = file.into_inner();
    let numbers: Vec<(usize, ArrowType)> = parsed
        .iter()
        .filter(|column| column.guessed)
        .map(|column| {
            guessed
                .index_of(&column.name)
                .expect("a column of the file")
        })
        .map(|index| (index, fields[index].data_type().clone()))
        .filter(|(_, data_type)| matches!(data_type, ArrowType::Int64 | ArrowType::Float64))
        .collect();
    if !numbers.is_empty() {
        file.seek(SeekFrom::Start(0))
            .map_err(|e| Error::io("cannot read", path, e))?;
        for index in written_as_text(&mut file, &guessed, &numbers, path)? {
            fields[index] = fields[index].clone().with_data_type(ArrowType::Utf8);
            parsed.retain(|column| &column.name != guessed.field(index).name());
        }
    }
    // arrow-csv reads no rows for no columns, and a spine of only an
    // aggregation's key and time (read elsewhere) asks for none: then the
    // first column is read, as text, for its rows, and left out.
    let count_only = indices.is_empty() && !fields.is_empty();
    if count_only {
        fields[0] = fields[0].clone().with_data_type(ArrowType::Utf8);
    }
    let read = if count_only { vec![0] } else { indices.clone() };
    let full = Schema::new(fields);
    let as_text = Schema::new(
        full.fields()
            .iter()
            .map(|field| {
                let field = field.as_ref().clone();
                if parsed.iter().any(|column| &column.name == field.name()) {
                    field.with_data_type(ArrowType::Utf8)
                } else {
                    field
                }
            })
            .collect::<Vec<_>>(),
    );
    file.seek(SeekFrom::Start(0))
        .map_err(|e| Error::io("cannot read", path, e))?;
    let counted = QuotesClosed::new(CountingReader::new(file, bytes_read));
    let reader = arrow::csv::ReaderBuilder::new(Arc::new(as_text))
        .with_header(true)
        .with_batch_size(batch_size)
        .with_projection(read.clone())
        .build(BufReader::new(counted))
        .map_err(|e| cannot_read(&e))?;
    let projected = Arc::new(full.project(&read).expect("indices are in range"));
    let batches =
        parse_text_columns(reader, projected.clone(), parsed, naive, aside).map(move |batch| {
            if count_only {
                batch?.project(&[])
            } else {
                batch
            }
        });
    let schema = if count_only {
        Arc::new(Schema::empty())
    } else {
        projected
    };
    Ok((batches, schema))
}

/// Why a column may be missing when the header is one column that holds
/// another separator: a file written with `;` (as spreadsheets in many
/// locales write CSV), tabs or `|`.
fn other_separator(header: &Schema) -> Option<String> {
    let [only] = header.fields().as_ref() else {
        return None;
    };
    let separator = [(';', "`;`"), ('\t', "tabs"), ('|', "`|`")]
        .into_iter()
        .find(|(c, _)| only.name().contains(*c))
        .map(|(_, name)| name)?;
    Some(format!(
        "; the header looks separated by {separator}: skewless reads CSV separated by commas \
         (write the file with `,`, e.g. pandas `pd.read_csv(f, sep=...).to_csv(g, \
         index=False)`, or as Parquet)"
    ))
}

/// Passes a CSV file's bytes through, following its quoting as the CSV
/// reader does, and fails at the end of the file if a quoted field was
/// never closed. The CSV reader takes an unclosed quote to run to the end
/// of the file: one field would swallow every line after it, and the rows
/// there would be lost without a word.
///
/// As in the reader (csv-core), a `"` opens a quoted field only at the
/// start of a field; inside one, `""` is a quote and a lone `"` closes it.
/// Quote-free stretches are skipped with `memchr`.
struct QuotesClosed<R> {
    inner: R,
    state: Quoting,
    /// The last byte of what was read before (a newline at the start).
    previous: u8,
    /// Newlines read before the current buffer.
    lines: u64,
    /// The line the open quoted field started on, counting from 1.
    opened_on: u64,
}

#[derive(Clone, Copy, PartialEq)]
enum Quoting {
    Outside,
    Inside,
    /// Inside, just after a `"`: closed, unless a second `"` follows.
    AfterQuote,
}

impl<R> QuotesClosed<R> {
    fn new(inner: R) -> Self {
        QuotesClosed {
            inner,
            state: Quoting::Outside,
            previous: b'\n',
            lines: 0,
            opened_on: 0,
        }
    }

    /// Follows the quoting through `bytes`, the next bytes of the file.
    fn follow(&mut self, bytes: &[u8]) {
        let mut opened_at = None;
        let mut at = 0;
        while at < bytes.len() {
            match self.state {
                Quoting::Outside => {
                    // Most quotes open right where the scan is (after `,`
                    // or at a line's start): no search for those.
                    let quote = if bytes[at] == b'"' {
                        Some(at)
                    } else {
                        memchr::memchr(b'"', &bytes[at..]).map(|offset| at + offset)
                    };
                    let Some(quote) = quote else {
                        at = bytes.len();
                        continue;
                    };
                    let before = if quote == 0 {
                        self.previous
                    } else {
                        bytes[quote - 1]
                    };
                    if matches!(before, b',' | b'\n' | b'\r') {
                        opened_at = Some(quote);
                        self.state = Quoting::Inside;
                    }
                    at = quote + 1;
                }
                Quoting::Inside => match memchr::memchr(b'"', &bytes[at..]) {
                    None => at = bytes.len(),
                    Some(offset) => {
                        self.state = Quoting::AfterQuote;
                        at += offset + 1;
                    }
                },
                Quoting::AfterQuote => {
                    self.state = if bytes[at] == b'"' {
                        Quoting::Inside
                    } else {
                        Quoting::Outside
                    };
                    // A closed field is mostly followed by `,` or a line
                    // end: step over it too, so the next quote is at hand.
                    if matches!(bytes[at], b'"' | b',' | b'\n' | b'\r') {
                        at += 1;
                    }
                }
            }
        }
        // Lines are counted once per read: the line a quote opened on only
        // matters for one still open at the end of what was read.
        let newlines = |bytes: &[u8]| memchr::memchr_iter(b'\n', bytes).count() as u64;
        if let Some(quote) = opened_at.filter(|_| self.state != Quoting::Outside) {
            self.opened_on = self.lines + newlines(&bytes[..quote]) + 1;
        }
        self.lines += newlines(bytes);
        if let Some(&last) = bytes.last() {
            self.previous = last;
        }
    }
}

impl<R: Read> Read for QuotesClosed<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() && self.state == Quoting::Inside {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "line {}: a field opens a quote (`\"`) that is never closed, so every line \
                     after it would be read into that one field",
                    self.opened_on
                ),
            ));
        }
        self.follow(&buf[..n]);
        Ok(n)
    }
}

/// Of the `numbers` columns (guessed as int64 or float64), those where a
/// value of the first rows has a leading zero or a sign, which a number
/// would lose.
fn written_as_text(
    file: &mut File,
    schema: &Schema,
    numbers: &[(usize, ArrowType)],
    path: &Path,
) -> Result<Vec<usize>> {
    let text = Schema::new(
        schema
            .fields()
            .iter()
            .map(|field| field.as_ref().clone().with_data_type(ArrowType::Utf8))
            .collect::<Vec<_>>(),
    );
    let sample = arrow::csv::ReaderBuilder::new(Arc::new(text))
        .with_header(true)
        .with_batch_size(INFER_RECORDS)
        .with_projection(numbers.iter().map(|(index, _)| *index).collect())
        .build(BufReader::new(&mut *file))
        .map_err(|e| unreadable(path, &e))?
        .next()
        .transpose()
        .map_err(|e| unreadable(path, &e))?;
    let Some(sample) = sample else {
        return Ok(Vec::new());
    };
    Ok(numbers
        .iter()
        .zip(sample.columns())
        .filter(|((_, data_type), values)| {
            values
                .as_string::<i32>()
                .iter()
                .flatten()
                .any(|value| loses_text(value, data_type))
        })
        .map(|((index, _), _)| *index)
        .collect())
}

/// Whether a number of `data_type` written as `value` would not be written
/// back the same: a leading zero or a sign (`0123`, `+5`; `-0` as an
/// integer; `007.5` as a float, where `-0.5` and `-0.0` are written back).
fn loses_text(value: &str, data_type: &ArrowType) -> bool {
    if value.starts_with('+') {
        return true;
    }
    match data_type {
        ArrowType::Int64 => value.starts_with("-0") || (value.len() > 1 && value.starts_with('0')),
        _ => {
            let digits = value.strip_prefix('-').unwrap_or(value).as_bytes();
            digits.len() > 1 && digits[0] == b'0' && digits[1].is_ascii_digit()
        }
    }
}

/// A column read as text and parsed here.
struct Parsed {
    name: String,
    /// Whether its type was guessed from the first rows (not declared).
    guessed: bool,
}

/// `batches` with their `parsed` columns, read as text, parsed into the
/// types `schema` gives them. A value that does not parse fails the batch,
/// or, when `aside` is on, is set aside there and read as null.
fn parse_text_columns(
    batches: impl Iterator<Item = Result<RecordBatch, ArrowError>> + Send + 'static,
    schema: SchemaRef,
    parsed: Vec<Parsed>,
    naive: NaiveTimestamps,
    aside: SetAside,
) -> impl Iterator<Item = Result<RecordBatch, ArrowError>> + Send + 'static {
    let mut rows_before = 0_u64;
    batches.map(move |batch| {
        let batch = batch?;
        let first = rows_before;
        rows_before += batch.num_rows() as u64;
        let columns = schema
            .fields()
            .iter()
            .zip(batch.columns())
            .map(|(field, column)| {
                let Some(how) = parsed.iter().find(|parsed| &parsed.name == field.name()) else {
                    return Ok(column.clone());
                };
                let text = column.as_string::<i32>();
                let parse = |text: &StringArray, first: u64| {
                    parse_as(text, field, how.guessed, first, naive)
                };
                match parse(text, first) {
                    Ok(array) => Ok(array),
                    Err(error) if !aside.is_on() => Err(ArrowError::ExternalError(Box::new(error))),
                    Err(_) => {
                        // Value by value: the ones that parse, and nulls
                        // for the ones set aside.
                        let cells = (0..text.len())
                            .map(|row| {
                                parse(&text.slice(row, 1), first + row as u64).unwrap_or_else(
                                    |error| {
                                        aside.push(error);
                                        arrow::array::new_null_array(field.data_type(), 1)
                                    },
                                )
                            })
                            .collect::<Vec<_>>();
                        let cells: Vec<&dyn Array> = cells.iter().map(|a| a.as_ref()).collect();
                        arrow::compute::concat(&cells)
                    }
                }
            })
            .collect::<Result<Vec<_>, ArrowError>>()?;
        RecordBatch::try_new(schema.clone(), columns)
    })
}

/// One text column parsed into `field`'s type (`first` is the file row of
/// its first value); a column whose type was `guessed` also refuses
/// integers that would lose their text, and says the type was a guess.
fn parse_as(
    text: &StringArray,
    field: &ArrowField,
    guessed: bool,
    first: u64,
    naive: NaiveTimestamps,
) -> Result<ArrayRef, Error> {
    let lossy = match (guessed, field.data_type()) {
        (true, data_type @ (ArrowType::Int64 | ArrowType::Float64)) => text
            .iter()
            .enumerate()
            .find_map(|(row, value)| Some((row, value.filter(|v| loses_text(v, data_type))?))),
        _ => None,
    };
    match lossy {
        Some((row, value)) => Err(Error::InvalidValue {
            column: field.name().clone(),
            row: first + row as u64,
            reason: format!(
                "{value:?} would lose its leading zero or sign as {}",
                if field.data_type() == &ArrowType::Int64 {
                    "an int64"
                } else {
                    "a float64"
                }
            ),
        }),
        None => {
            crate::codec::parse::text_column(text, field.data_type(), field.name(), first, naive)
        }
    }
    .map_err(|mut error| {
        if let (Error::InvalidValue { reason, .. }, true) = (&mut error, guessed) {
            reason.push_str(&format!(
                "; the type of `{}` was guessed from the file's first {INFER_RECORDS} rows \
                 (only the transform's inputs have declared types)",
                field.name()
            ));
        }
        error
    })
}

/// Whether values of `data_type` have a CSV form: bytes and lists have
/// none that other tools read back as the same values (pandas writes
/// `b'...'` and `[1, 2]` as Python source), so they are refused in CSV
/// files, both ways.
pub(super) fn has_csv_form(data_type: &ArrowType) -> bool {
    match data_type {
        ArrowType::Dictionary(_, values) => has_csv_form(values),
        ArrowType::Binary
        | ArrowType::LargeBinary
        | ArrowType::BinaryView
        | ArrowType::FixedSizeBinary(_)
        | ArrowType::List(_)
        | ArrowType::LargeList(_)
        | ArrowType::ListView(_)
        | ArrowType::LargeListView(_)
        | ArrowType::FixedSizeList(..)
        | ArrowType::Struct(_)
        | ArrowType::Map(..) => false,
        _ => true,
    }
}

/// Writes `batch` as CSV records, each value in its one text form
/// ([`crate::codec::text`]). A null is an empty field; an empty string is `""`
/// (which readers that tell the two apart, polars and pyarrow with
/// `quoted_strings_can_be_null=False`, read back as an empty string).
/// `rules` has one entry per column of `batch` (its schema was checked).
pub(super) fn write_records(
    out: &mut impl std::io::Write,
    batch: &RecordBatch,
    rules: &[crate::codec::text::ColumnText],
) -> std::io::Result<()> {
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(crate::codec::text::ColumnText::unpack)
        .collect();
    let mut line = CsvCells(String::with_capacity(256));
    for row in 0..batch.num_rows() {
        line.0.clear();
        for (index, (column, rule)) in columns.iter().zip(rules).enumerate() {
            if index > 0 {
                line.0.push(',');
            }
            rule.write(column.as_ref(), row, &mut line);
        }
        line.0.push('\n');
        out.write_all(line.0.as_bytes())?;
    }
    Ok(())
}

/// The header record of `schema`.
pub(super) fn write_header(out: &mut impl std::io::Write, schema: &Schema) -> std::io::Result<()> {
    let mut line = CsvCells(String::new());
    for (index, field) in schema.fields().iter().enumerate() {
        if index > 0 {
            line.0.push(',');
        }
        crate::codec::text::CellSink::text(&mut line, field.name());
    }
    line.0.push('\n');
    out.write_all(line.0.as_bytes())
}

/// CSV fields: quoted (with `""` for a quote) when empty or when they hold
/// a separator, a quote, a line break, or space at either end.
struct CsvCells(String);

impl crate::codec::text::CellSink for CsvCells {
    fn null(&mut self) {}

    fn bare(&mut self, text: &str) {
        self.0.push_str(text);
    }

    fn text(&mut self, text: &str) {
        let quote = text.is_empty()
            || text.contains([',', '"', '\n', '\r'])
            || text.starts_with([' ', '\t'])
            || text.ends_with([' ', '\t']);
        if quote {
            self.0.push('"');
            for c in text.chars() {
                if c == '"' {
                    self.0.push('"');
                }
                self.0.push(c);
            }
            self.0.push('"');
        } else {
            self.0.push_str(text);
        }
    }

    fn array(&mut self, json: &str) {
        // Refused before any row by `text_rules`; written as its text if
        // ever reached.
        self.text(json);
    }
}

/// A CSV reader's complaint about a record's number of fields, said as
/// `1 field`, `2 fields`.
fn fields(count: u64) -> String {
    if count == 1 {
        "1 field".to_string()
    } else {
        format!("{count} fields")
    }
}

/// `line 3 has 2 fields where the header has 3` (among the first rows, read
/// by the `csv` crate to guess types, which counts lines) or `row 11500 has
/// ...` (after them, from arrow-csv's decoder, which counts records);
/// `None` for other messages.
pub(super) fn field_count(message: &str) -> Option<String> {
    let number = |text: &str| text.trim().parse::<u64>().ok();
    if let Some(rest) =
        message.strip_prefix("Encountered unequal lengths between records on CSV file. Expected ")
    {
        let (expected, rest) = rest.split_once(" records, found ")?;
        let (found, line) = match rest.split_once(" records at line ") {
            Some((found, line)) => (found, Some(line)),
            None => (rest.strip_suffix(" records")?, None),
        };
        let (expected, found) = (number(expected)?, number(found)?);
        let place = match line.and_then(number) {
            Some(line) => format!("line {line}"),
            None => "a line".to_string(),
        };
        return Some(format!(
            "{place} has {} where the header has {expected}",
            fields(found)
        ));
    }
    // arrow-csv's decoder counts records (the header is 1), not lines: a
    // quoted field can span lines, so this is said as a row.
    let rest = message.strip_prefix("incorrect number of fields for line ")?;
    let (record, rest) = rest.split_once(", expected ")?;
    let (expected, found) = rest.split_once(" got ")?;
    let found = match found.strip_prefix("more than ") {
        Some(found) => format!("more than {} fields", number(found)?),
        None => fields(number(found)?),
    };
    Some(format!(
        "row {} has {found} where the header has {}",
        number(record)?.checked_sub(2)?,
        number(expected)?
    ))
}

/// A CSV reader's complaint about bytes that are not UTF-8, said as `line
/// 3, field 3 is not valid UTF-8` (among the first rows, where the `csv`
/// crate counts lines and fields from 0) or `row 12000, field 3 ...` (after
/// them, where arrow-csv counts records and fields from 1); `None` for
/// other messages.
pub(super) fn invalid_utf8(message: &str) -> Option<String> {
    let number = |text: &str| text.trim().parse::<u64>().ok();
    const HINT: &str = "is not valid UTF-8 (if the file is in another encoding, save it as UTF-8)";
    if let Some(rest) = message.strip_prefix("Encountered UTF-8 error while reading CSV file: ") {
        let (_, rest) = rest.split_once(" in field ")?;
        let (field, rest) = rest.split_once(' ')?;
        let (_, line) = rest.rsplit_once(" at line ")?;
        return Some(format!(
            "line {}, field {} {HINT}",
            number(line)?,
            number(field)? + 1
        ));
    }
    let rest = message.strip_prefix("Encountered invalid UTF-8 data for line ")?;
    let (record, field) = rest.split_once(" and field ")?;
    Some(format!(
        "row {}, field {} {HINT}",
        number(record)?.checked_sub(2)?,
        number(field)?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_that_would_not_be_written_back_the_same() {
        for (value, int, float) in [
            ("0123", true, true),
            ("+5", true, true),
            ("-0", true, false),
            ("-007.5", true, true),
            ("007.5", true, true),
            ("0.5", true, false),
            ("-0.5", true, false),
            ("0", false, false),
            ("1001", false, false),
        ] {
            assert_eq!(loses_text(value, &ArrowType::Int64), int, "{value}");
            assert_eq!(loses_text(value, &ArrowType::Float64), float, "{value}");
        }
    }

    /// A reader that hands out at most `chunk` bytes per read.
    struct Chunked<'a> {
        bytes: &'a [u8],
        chunk: usize,
    }

    impl Read for Chunked<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.chunk.min(buf.len()).min(self.bytes.len());
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    /// A file that ends inside a quoted field is refused with the line the
    /// field opened on, however the reads cut the bytes; quotes the CSV
    /// reader takes as plain characters (not at a field's start) are
    /// plain characters here too.
    #[test]
    fn an_unclosed_quote_is_found_wherever_reads_cut_the_file() {
        let cases: [(&str, Option<u64>); 14] = [
            ("a,b\n1,\"x\"\n", None),
            ("a,b\n1,\"x\"\"y\"\n", None),
            ("a,b\n1,\"x\ny\"\n2,z\n", None),
            ("a,b\n1,12\" pizza\n2,\"z\"\n", None),
            ("a,b\n1,\"x\"y\"\n2,z\n", None),
            ("a,b\n1,\"\"\n", None),
            ("a,b\n1,\"x\"", None),
            ("\"a\",b\r\n1,\"x\"\r\n", None),
            ("a,b\n1,\"x\n2,y\n", Some(2)),
            ("a,b\n1,\"x\"\"\n", Some(2)),
            ("a,b\n1,\"\"\"\n", Some(2)),
            ("\"a,b\n1,2\n", Some(1)),
            ("a,b\r\n1,2\r\n3,\"x\r\n", Some(3)),
            ("a,b\n1,\"x\ny\"\n2,\"z\n", Some(4)),
        ];
        for (text, unclosed_on) in cases {
            for chunk in [1, 2, 3, 5, 8192] {
                let mut reader = QuotesClosed::new(Chunked {
                    bytes: text.as_bytes(),
                    chunk,
                });
                let mut read = Vec::new();
                let result = reader.read_to_end(&mut read).map(|_| read);
                let said = format!("{text:?} read {chunk} bytes at a time");
                match unclosed_on {
                    None => assert_eq!(result.unwrap(), text.as_bytes(), "{said}"),
                    Some(line) => assert_eq!(
                        result.unwrap_err().to_string(),
                        format!(
                            "line {line}: a field opens a quote (`\"`) that is never closed, \
                             so every line after it would be read into that one field"
                        ),
                        "{said}"
                    ),
                }
            }
        }
    }

    /// The same text read by arrow-csv with the types, and read as text
    /// and parsed here, gives the same arrays.
    #[test]
    fn parsed_values_are_the_ones_arrow_csv_gives() {
        use arrow::datatypes::{Field, Schema};
        let text = "b,i,l,f,d\n\
                    true,7,-3,1.5,1e3\n\
                    FALSE,+7,9223372036854775807,NaN,-inf\n\
                    ,,,,\n\
                    True,-2147483648,0,3.4028235e38,0.1\n";
        let types = [
            ArrowType::Boolean,
            ArrowType::Int32,
            ArrowType::Int64,
            ArrowType::Float32,
            ArrowType::Float64,
        ];
        let schema = |types: &[ArrowType]| {
            Arc::new(Schema::new(
                ["b", "i", "l", "f", "d"]
                    .iter()
                    .zip(types)
                    .map(|(name, data_type)| Field::new(*name, data_type.clone(), true))
                    .collect::<Vec<_>>(),
            ))
        };
        let read = |schema: SchemaRef| {
            arrow::csv::ReaderBuilder::new(schema)
                .with_header(true)
                .build(text.as_bytes())
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
        };
        let typed = read(schema(&types));
        let as_text = read(schema(&[const { ArrowType::Utf8 }; 5]));
        for (i, data_type) in types.iter().enumerate() {
            let parsed = crate::codec::parse::text_column(
                as_text.column(i).as_string::<i32>(),
                data_type,
                "c",
                0,
                NaiveTimestamps::Refuse,
            )
            .unwrap();
            assert_eq!(parsed.to_data(), typed.column(i).to_data(), "{data_type}");
        }
    }

    #[test]
    fn a_value_that_does_not_parse_names_its_column_and_file_row() {
        let text = StringArray::from(vec![Some("1"), None, Some("1.5")]);
        let error = crate::codec::parse::text_column(
            &text,
            &ArrowType::Int64,
            "hour",
            10,
            NaiveTimestamps::Refuse,
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "column `hour`, row 12: 1.5 is not an integer (an integer column takes whole numbers \
             written without a fraction or exponent)"
        );
        let text = StringArray::from(vec!["yes"]);
        let error = crate::codec::parse::text_column(
            &text,
            &ArrowType::Boolean,
            "flag",
            0,
            NaiveTimestamps::Refuse,
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "column `flag`, row 0: \"yes\" is not a boolean (true or false)"
        );
        // A null written out as a word: say how CSV writes one.
        let text = StringArray::from(vec!["2.5", "NULL"]);
        let error = crate::codec::parse::text_column(
            &text,
            &ArrowType::Float64,
            "amount",
            0,
            NaiveTimestamps::Refuse,
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "column `amount`, row 1: \"NULL\" is not a float64 (a number such as 12.5); a \
             null is an empty CSV field or a JSON null, not a word"
        );
    }

    #[test]
    fn field_count_errors_are_said_plainly() {
        assert_eq!(
            field_count(
                "Encountered unequal lengths between records on CSV file. Expected 3 records, \
                 found 2 records at line 3"
            )
            .as_deref(),
            Some("line 3 has 2 fields where the header has 3")
        );
        assert_eq!(
            field_count("incorrect number of fields for line 2001, expected 3 got 4").as_deref(),
            Some("row 1999 has 4 fields where the header has 3")
        );
        assert_eq!(
            field_count("incorrect number of fields for line 7, expected 3 got more than 3")
                .as_deref(),
            Some("row 5 has more than 3 fields where the header has 3")
        );
        assert_eq!(
            field_count("incorrect number of fields for line 4, expected 3 got 1").as_deref(),
            Some("row 2 has 1 field where the header has 3")
        );
        assert_eq!(field_count("Error reading CSV file"), None);
    }

    #[test]
    fn invalid_utf8_is_said_plainly() {
        assert_eq!(
            invalid_utf8(
                "Encountered UTF-8 error while reading CSV file: invalid utf-8: invalid UTF-8 \
                 in field 2 near byte index 3 at line 3"
            )
            .as_deref(),
            Some(
                "line 3, field 3 is not valid UTF-8 (if the file is in another encoding, save \
                 it as UTF-8)"
            )
        );
        assert_eq!(
            invalid_utf8("Encountered invalid UTF-8 data for line 12002 and field 3").as_deref(),
            Some(
                "row 12000, field 3 is not valid UTF-8 (if the file is in another encoding, \
                 save it as UTF-8)"
            )
        );
        assert_eq!(invalid_utf8("Error reading CSV file"), None);
    }
}
