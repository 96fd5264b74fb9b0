//! JSON rows <-> Arrow, exactly: the edge of the online path.
//!
//! Serving, the embedded JSON API and `verify` all use this one codec, both
//! ways (requests decode into input batches, output batches encode into
//! responses, and `verify` decodes responses back to compare bits).
//!
//! | column type        | JSON                                                          |
//! |--------------------|---------------------------------------------------------------|
//! | `boolean`          | `true`, `false`                                               |
//! | `int32`, `int64`   | an integer number, exact (`9007199254740993` stays itself)   |
//! | `float32`, `float64` | a number, printed in the shortest form that parses back to the same bits; `"NaN"`, `"Infinity"`, `"-Infinity"` as strings |
//! | `utf8`             | a string                                                      |
//! | `timestamp-micros` | an RFC 3339 string with a zone, printed as `2026-03-02T00:10:43.000000Z`; a number is refused (seconds? milliseconds?), and so is a string without a zone unless [`NaiveTimestamps::Utc`] says it is UTC |
//! | any, when null     | `null` (a nullable field must still be present)               |
//!
//! Reading is lenient in one way only, and the same way for every type: a
//! string holding a value's text form is read by that type's text rule
//! ([`crate::codec::parse`], the rule of a CSV cell), so `"9007199254740993"`
//! from a JavaScript client that cannot hold the number, `"True"`, or
//! `"12.5"` mean what they mean in a CSV file. A number is read from its
//! text by the same rule. Anything else of the wrong kind is refused.
//!
//! NaN: `"NaN"` is the canonical quiet NaN (the only NaN arithmetic in a
//! transform produces), `"-NaN"` the same with its sign bit set; any other
//! NaN is written with its bits, `"NaN:0xfff80000deadbeef"`
//! (`"NaN:0x7fc00001"` for float32), so that a NaN crosses JSON bit for bit
//! too. Numbers are parsed from their text with correct rounding for their
//! column's own width, so a float32 is never rounded twice.
//!
//! Output rows can hold any column a backfill keeps from its input; each is
//! written by the one text rule of its type in [`crate::codec::text`], as a JSON
//! number (integers, finite floats), `true`/`false`, or a string.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder,
    Float64Builder, Int32Builder, Int64Builder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::Schema;
use serde_json::value::RawValue;

use crate::codec::parse;
use crate::codec::text::{CellSink, ColumnText};
use crate::engine::Transform;
use crate::error::{Error, Result};
use crate::spec::{DataType, Field, NaiveTimestamps, ScalarType, UTC};

/// The online path in one function: JSON rows (objects) decoded by this
/// codec into the transform's inputs, one call of the transform, and its
/// output rows encoded by this codec. Serving, `verify`'s JSON path, the
/// embedded JSON API and the Python package's rows all come through here.
pub fn call(transform: &Transform, rows: &[&RawValue]) -> Result<Vec<String>> {
    rows_alone(transform)?;
    let batch = decode_input(transform, rows)?;
    let output = transform.call(&batch)?;
    Ok(encode_rows(&output))
}

/// Refuses rows alone for a transform that aggregates events, whose inputs
/// include the aggregates: they would be asked of the rows.
fn rows_alone(transform: &Transform) -> Result<()> {
    match transform.info().aggregation {
        None => Ok(()),
        Some(_) => Err(Error::BadRequest(format!(
            "transform `{}` aggregates events, which rows alone do not carry: compute its \
             features with the events (`skewless run --events`; in Python \
             `t.transform(spine, events=events)`) or from a live state (`skewless serve`, \
             `Online`; in Python `skewless.Online(t).features(rows)`)",
            transform.name()
        ))),
    }
}

/// JSON rows (objects) as `transform`'s input batch, by its declared
/// inputs and its runtime's rule for timestamps without a zone.
pub fn decode_input(transform: &Transform, rows: &[&RawValue]) -> Result<RecordBatch> {
    decode_rows(
        transform.name(),
        &transform.info().inputs,
        rows,
        transform.config().naive_timestamps,
    )
}

/// The embedded JSON API: rows as `serde_json` values, through [`call`]'s
/// codec.
impl Transform {
    /// One row in, one row out, as JSON objects, through the same codec as
    /// `skewless serve` (see [`crate::codec::json`] for how each type is
    /// written).
    ///
    /// ```no_run
    /// # let transform = skewless::Runtime::new(skewless::Config::default())?.load("fraud_features.wasm")?;
    /// let features = transform.call_json(&serde_json::json!({
    ///     "amount": 12.5, "hour": 3, "merchant_category": "travel"
    /// }))?;
    /// assert_eq!(features["is_night"], 1);
    /// # Ok::<(), skewless::Error>(())
    /// ```
    pub fn call_json(&self, row: &serde_json::Value) -> Result<serde_json::Value> {
        let mut rows = self.call_json_rows(std::slice::from_ref(row))?;
        Ok(rows.pop().expect("one row in, one row out"))
    }

    /// Rows in, rows out, as JSON objects (see [`Transform::call_json`]).
    pub fn call_json_rows(&self, rows: &[serde_json::Value]) -> Result<Vec<serde_json::Value>> {
        rows_alone(self)?;
        let raw = rows
            .iter()
            .map(serde_json::value::to_raw_value)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::BadRequest(format!("cannot encode the rows as JSON: {e}")))?;
        let raw: Vec<&RawValue> = raw.iter().map(|r| &**r).collect();
        let output = self.call(&decode_input(self, &raw)?)?;
        Ok(encode_values(&output))
    }
}

/// Decodes JSON objects (one per row) into a batch with `fields` as its
/// schema. Fields not in `fields` are ignored; every field in `fields` must
/// be present (as `null` if it is nullable), and a missing one is named
/// with the row's fields that look like it. `naive` says what a timestamp
/// without a zone means. Errors name the row and field.
pub fn decode_rows(
    transform: &str,
    fields: &[Field],
    rows: &[&RawValue],
    naive: NaiveTimestamps,
) -> Result<RecordBatch> {
    decode_rows_with(transform, fields, rows, naive, &[])
}

/// [`decode_rows`], where a row may leave out the fields named in
/// `optional` (they are then null): a served query's time, which is the
/// server's clock when not given, or a column a file's rows only copy.
pub(crate) fn decode_rows_with(
    transform: &str,
    fields: &[Field],
    rows: &[&RawValue],
    naive: NaiveTimestamps,
    optional: &[&str],
) -> Result<RecordBatch> {
    let objects = rows
        .iter()
        .enumerate()
        .map(|(row, raw)| {
            let bad_row = |message| Error::BadRow {
                row: row as u64,
                message,
            };
            let object = serde_json::from_str::<Row<'_>>(raw.get()).map_err(|_| {
                bad_row(format!(
                    "expected a JSON object of fields, found {}",
                    describe(raw.get())
                ))
            })?;
            match object.repeated {
                Some(name) => Err(bad_row(format!(
                    "field `{name}` is given more than once; which value to use is ambiguous"
                ))),
                None => Ok(object.fields),
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let columns = fields
        .iter()
        .map(|field| {
            let mut cells = objects.iter().enumerate().map(|(row, object)| {
                match object.get(field.name.as_str()) {
                    Some(raw) => Ok(raw.get()),
                    None if optional.contains(&field.name.as_str()) => {
                        match misnamed_time(fields, object) {
                            None => Ok("null"),
                            Some(key) => Err(Error::MissingField {
                                column: field.name.clone(),
                                row: row as u64,
                                expected: field.data_type.to_string(),
                                hint: format!(
                                    "; without it the row is answered as of now, but it has \
                                     `{key}`, a time, which transform `{transform}` does not \
                                     take: name that field `{}`, or leave it out to be answered \
                                     as of now",
                                    field.name
                                ),
                            }),
                        }
                    }
                    None => Err(missing(transform, fields, field, row, object)),
                }
            });
            decode_column(transform, field, &mut cells, naive)
        })
        .collect::<Result<Vec<ArrayRef>>>()?;
    let schema = Arc::new(Schema::new(
        fields.iter().map(Field::arrow).collect::<Vec<_>>(),
    ));
    let options = arrow::array::RecordBatchOptions::new().with_row_count(Some(rows.len()));
    RecordBatch::try_new_with_options(schema, columns, &options)
        .map_err(|e| Error::Runtime(format!("cannot assemble the decoded batch: {e}")))
}

/// One JSON row: its fields by name, borrowed from the request where no
/// escape needs decoding. A field given twice is noted rather than
/// silently overwritten (a map would keep the last one).
struct Row<'a> {
    fields: HashMap<Cow<'a, str>, &'a RawValue>,
    repeated: Option<Cow<'a, str>>,
}

impl<'de> Fields<'de> for Row<'de> {
    fn with_capacity(capacity: usize) -> Self {
        Row {
            fields: HashMap::with_capacity(capacity),
            repeated: None,
        }
    }
    fn push(&mut self, name: Cow<'de, str>, value: &'de RawValue) {
        if self.fields.insert(name.clone(), value).is_some() {
            self.repeated.get_or_insert(name);
        }
    }
}

impl<'de> serde::Deserialize<'de> for Row<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_fields(deserializer)
    }
}

/// Where a JSON object's fields go as they are read, each name and value
/// borrowed from the text where no escape needs decoding: a request's row
/// (by name), or a file's row when guessing its columns (in order).
pub(crate) trait Fields<'de>: Sized {
    /// Room for `capacity` fields.
    fn with_capacity(capacity: usize) -> Self;
    /// The next field of the object.
    fn push(&mut self, name: Cow<'de, str>, value: &'de RawValue);
}

/// Reads a JSON object into `F`, its fields unparsed.
pub(crate) fn deserialize_fields<'de, F, D>(deserializer: D) -> Result<F, D::Error>
where
    F: Fields<'de>,
    D: serde::Deserializer<'de>,
{
    struct Object<F>(std::marker::PhantomData<F>);
    impl<'de, F: Fields<'de>> serde::de::Visitor<'de> for Object<F> {
        type Value = F;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object of fields")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<F, A::Error> {
            let mut fields = F::with_capacity(map.size_hint().unwrap_or(8));
            while let Some(Name(name)) = map.next_key()? {
                fields.push(name, map.next_value()?);
            }
            Ok(fields)
        }
    }
    deserializer.deserialize_map(Object(std::marker::PhantomData))
}

/// A field name, borrowed unless it has escapes.
pub(crate) struct Name<'a>(pub(crate) Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for Name<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl<'de> serde::de::Visitor<'de> for Text {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E>(self, name: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Borrowed(name)))
            }
            fn visit_str<E>(self, name: &str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(name.to_owned())))
            }
        }
        deserializer.deserialize_str(Text)
    }
}

/// A field of `object` that is none of `fields` and holds a time (a
/// string that reads as a timestamp, with or without a zone): given where
/// an optional time is missing, it is most likely that time misnamed, and
/// answering as of now instead would count events after the time meant.
fn misnamed_time<'a>(
    fields: &[Field],
    object: &'a HashMap<Cow<'_, str>, &RawValue>,
) -> Option<&'a str> {
    let mut times: Vec<&str> = object
        .iter()
        .filter(|(key, _)| !fields.iter().any(|f| f.name == **key))
        .filter(|(_, raw)| {
            serde_json::from_str::<Cow<'_, str>>(raw.get())
                .is_ok_and(|text| parse::timestamp(&text, NaiveTimestamps::Utc).is_ok())
        })
        .map(|(key, _)| key.as_ref())
        .collect();
    times.sort_unstable();
    times.first().copied()
}

/// A field missing from a row, with what the row has instead: a key that
/// looks like it ("did you mean"), or the keys the transform does not take.
fn missing(
    transform: &str,
    fields: &[Field],
    field: &Field,
    row: usize,
    object: &HashMap<Cow<'_, str>, &RawValue>,
) -> Error {
    let mut unknown: Vec<&str> = object
        .keys()
        .map(|key| key.as_ref())
        .filter(|key| !fields.iter().any(|f| f.name == *key))
        .collect();
    unknown.sort_unstable();
    let similar = crate::engine::near_miss(&field.name, unknown.iter().copied());
    let null_hint = if field.nullable {
        "; give `null` for a missing value"
    } else {
        ""
    };
    let hint = match (similar, unknown.as_slice()) {
        (Some(key), _) => {
            format!(
                "; unknown field `{key}` given: did you mean `{}`?",
                field.name
            )
        }
        (None, []) => null_hint.to_string(),
        (None, keys) => {
            let shown = keys.len().min(8);
            format!(
                "{null_hint}; the row has {}{}, which transform `{transform}` does not take",
                crate::engine::column_list(keys[..shown].iter().copied()),
                if keys.len() > shown { ", ..." } else { "" }
            )
        }
    };
    Error::MissingField {
        column: field.name.clone(),
        row: row as u64,
        expected: field.data_type.to_string(),
        hint,
    }
}

/// After "not valid JSON": where a bare `NaN` or `Infinity` (which Python's
/// `json` module and DuckDB write, and JSON does not have) is the cause.
pub(crate) fn bare_word_hint(text: &[u8], error: &serde_json::Error) -> &'static str {
    let line = text
        .split(|&b| b == b'\n')
        .nth(error.line().saturating_sub(1));
    let at = line.and_then(|line| line.get(error.column().saturating_sub(1)..));
    match at {
        Some(rest)
            if [&b"NaN"[..], b"Infinity", b"-Infinity"]
                .iter()
                .any(|word| rest.starts_with(word)) =>
        {
            "; JSON has no NaN or Infinity (Python's json module writes them anyway): send \
             them as the strings \"NaN\", \"Infinity\" and \"-Infinity\""
        }
        _ => "",
    }
}

/// "a string \"abc\"", "an object", ... for error messages.
pub(crate) fn describe(text: &str) -> String {
    let text = text.trim();
    let kind = match text.as_bytes().first() {
        Some(b'"') => "a string",
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        Some(_) => "a number",
        None => "nothing",
    };
    if kind == "an object" || kind == "an array" || kind == "null" {
        return kind.to_string();
    }
    let shown: String = text.chars().take(40).collect();
    let ellipsis = if text.chars().count() > 40 { "..." } else { "" };
    format!("{kind} {shown}{ellipsis}")
}

fn decode_column(
    transform: &str,
    field: &Field,
    cells: &mut dyn Iterator<Item = Result<&str>>,
    naive: NaiveTimestamps,
) -> Result<ArrayRef> {
    macro_rules! build {
        ($builder:expr, $parse:expr) => {{
            let mut builder = $builder;
            for (row, cell) in cells.enumerate() {
                let text = cell?.trim();
                match Cell::of(text) {
                    Cell::Null if !field.nullable => {
                        return Err(Error::UnexpectedNull {
                            transform: transform.to_string(),
                            column: field.name.clone(),
                            row: row as u64,
                            hint: Error::NOT_OPTIONAL.into(),
                        });
                    }
                    Cell::Null => builder.append_null(),
                    cell => {
                        let value = $parse(cell)
                            .map_err(|reason: Reason| reason.into_error(field, row as u64, text))?;
                        builder.append_value(value);
                    }
                }
            }
            Arc::new(builder.finish()) as ArrayRef
        }};
    }
    Ok(match field.data_type {
        DataType::Boolean => build!(BooleanBuilder::new(), |cell: Cell<'_>| match cell {
            Cell::Bare("true") => Ok(true),
            Cell::Bare("false") => Ok(false),
            cell => cell
                .text(parse::BOOLEAN)
                .and_then(|t| Ok(parse::boolean(&t)?)),
        }),
        DataType::Int32 => build!(Int32Builder::new(), |cell: Cell<'_>| {
            Ok(parse::int32(&cell.number_or_text(parse::INT32)?)?)
        }),
        DataType::Int64 => build!(Int64Builder::new(), |cell: Cell<'_>| {
            Ok(parse::int64(&cell.number_or_text(parse::INT64)?)?)
        }),
        DataType::Float32 => build!(Float32Builder::new(), |cell: Cell<'_>| {
            Ok(parse::float32(&cell.number_or_text(parse::FLOAT32)?)?)
        }),
        DataType::Float64 => build!(Float64Builder::new(), |cell: Cell<'_>| {
            Ok(parse::float64(&cell.number_or_text(parse::FLOAT64)?)?)
        }),
        DataType::Utf8 => build!(StringBuilder::new(), |cell: Cell<'_>| match cell {
            Cell::String(_) => cell.text("a string").map(Cow::into_owned),
            _ => Err(Reason::Expected("a string")),
        }),
        DataType::TimestampMicros => build!(
            TimestampMicrosecondBuilder::new().with_timezone(UTC),
            |cell: Cell<'_>| Ok(parse::timestamp(&cell.number_or_text(TIMESTAMP)?, naive)?)
        ),
        DataType::Date => build!(Date32Builder::new(), |cell: Cell<'_>| {
            Ok(parse::date(&cell.text(parse::DATE)?)?)
        }),
        DataType::Decimal { precision, scale } => build!(
            Decimal128Builder::new()
                .with_precision_and_scale(precision, scale as i8)
                .expect("a declared decimal type"),
            |cell: Cell<'_>| {
                let what = "a decimal (a number, or its text such as \"12.30\")";
                Ok(parse::decimal(
                    &cell.number_or_text(what)?,
                    precision,
                    scale,
                )?)
            }
        ),
        DataType::Binary => build!(BinaryBuilder::new(), |cell: Cell<'_>| {
            Ok(parse::binary(&cell.text(parse::BINARY)?)?)
        }),
        DataType::List {
            element,
            element_nullable,
        } => decode_list(
            transform,
            field,
            cells,
            element,
            element_nullable,
            None,
            naive,
        )?,
        DataType::FixedSizeList { element, size } => {
            decode_list(transform, field, cells, element, false, Some(size), naive)?
        }
    })
}

/// A list column: each cell a JSON array of the element type's values
/// (`size` of them for a fixed-size list), read by the element type's
/// rule; an element's error names its row and place in the list.
fn decode_list<'a>(
    transform: &str,
    field: &Field,
    cells: &mut dyn Iterator<Item = Result<&'a str>>,
    element: ScalarType,
    element_nullable: bool,
    size: Option<u32>,
    naive: NaiveTimestamps,
) -> Result<ArrayRef> {
    let mut offsets = vec![0_i32];
    let mut elements: Vec<&'a str> = Vec::new();
    let mut valid = Vec::new();
    for (row, cell) in cells.enumerate() {
        let text = cell?.trim();
        let at = |reason: Reason| reason.into_error(field, row as u64, text);
        match Cell::of(text) {
            Cell::Null if !field.nullable => {
                return Err(Error::UnexpectedNull {
                    transform: transform.to_string(),
                    column: field.name.clone(),
                    row: row as u64,
                    hint: Error::NOT_OPTIONAL.into(),
                });
            }
            Cell::Null => {
                valid.push(false);
                // A null fixed-size list still holds `size` (zero) values.
                elements.extend(std::iter::repeat_n("0", size.unwrap_or(0) as usize));
            }
            Cell::Array(array) => {
                let items: Vec<&'a RawValue> = serde_json::from_str(array)
                    .map_err(|e| at(Reason::Invalid(format!("invalid array: {e}"))))?;
                if let Some(size) = size
                    && items.len() != size as usize
                {
                    return Err(at(Reason::Invalid(format!(
                        "the list has {} elements, but the transform takes exactly {size} ({})",
                        items.len(),
                        field.data_type
                    ))));
                }
                valid.push(true);
                elements.extend(items.iter().map(|item| item.get()));
            }
            _ => return Err(at(Reason::Expected("a list (a JSON array)"))),
        }
        offsets.push(
            i32::try_from(elements.len()).map_err(|_| {
                Error::BadRequest("more than 2^31 list elements in one batch".into())
            })?,
        );
    }
    let element_field = Field {
        name: field.name.clone(),
        data_type: element.into(),
        nullable: element_nullable,
    };
    let values = decode_column(
        transform,
        &element_field,
        &mut elements.iter().map(|e| Ok(*e)),
        naive,
    )
    .map_err(|error| element_error(error, &offsets, field))?;
    let nulls = valid
        .iter()
        .any(|v| !v)
        .then(|| arrow::buffer::NullBuffer::from(valid));
    let item = Arc::new(arrow::datatypes::Field::new(
        crate::spec::LIST_ITEM,
        element.arrow(),
        element_nullable,
    ));
    let array: ArrayRef = match size {
        None => Arc::new(
            arrow::array::ListArray::try_new(
                item,
                arrow::buffer::OffsetBuffer::new(offsets.into()),
                values,
                nulls,
            )
            .map_err(|e| Error::Runtime(format!("cannot assemble a list column: {e}")))?,
        ),
        Some(size) => Arc::new(
            arrow::array::FixedSizeListArray::try_new(item, size as i32, values, nulls)
                .map_err(|e| Error::Runtime(format!("cannot assemble a list column: {e}")))?,
        ),
    };
    Ok(array)
}

/// An error about element `e` of the elements of a list column, said of
/// its row and its place in that row's list.
fn element_error(error: Error, offsets: &[i32], field: &Field) -> Error {
    let place = |element: u64| {
        let row = offsets
            .partition_point(|&o| (o as u64) <= element)
            .saturating_sub(1);
        (row as u64, element - offsets[row] as u64)
    };
    match error {
        Error::UnexpectedNull { row, .. } => {
            let (row, index) = place(row);
            Error::InvalidValue {
                column: field.name.clone(),
                row,
                reason: format!(
                    "element {index} of the list is null, but the transform declares its \
                     elements non-nullable ({})",
                    field.data_type
                ),
            }
        }
        Error::InvalidValue {
            column,
            row,
            reason,
        } => {
            let (row, index) = place(row);
            Error::InvalidValue {
                column,
                row,
                reason: format!("element {index} of the list: {reason}"),
            }
        }
        Error::WrongValue {
            column,
            row,
            expected,
            found,
            hint,
        } => {
            let (row, index) = place(row);
            Error::WrongValue {
                column,
                row,
                expected: format!("{expected} as element {index} of the list"),
                found,
                hint,
            }
        }
        Error::NaiveTimestamp {
            column,
            row: Some(row),
            reason,
        } => {
            let (row, index) = place(row);
            Error::NaiveTimestamp {
                column,
                row: Some(row),
                reason: format!("element {index} of the list: {reason}"),
            }
        }
        other => other,
    }
}

/// What a timestamp is in JSON, for messages.
const TIMESTAMP: &str =
    "a timestamp (an RFC 3339 string with a time zone, such as \"2026-03-02T00:10:43Z\")";

/// One JSON value of a row, by kind.
#[derive(Clone, Copy)]
enum Cell<'a> {
    Null,
    /// A string, still quoted and escaped.
    String(&'a str),
    /// A number, `true` or `false`.
    Bare(&'a str),
    /// An array.
    Array(&'a str),
    /// An object.
    Object,
}

impl<'a> Cell<'a> {
    fn of(text: &'a str) -> Cell<'a> {
        match text.as_bytes().first() {
            Some(b'"') => Cell::String(text),
            Some(b'[') => Cell::Array(text),
            Some(b'{') => Cell::Object,
            _ if text == "null" => Cell::Null,
            _ => Cell::Bare(text),
        }
    }

    /// A string's text (unescaped); any other kind is not `what`.
    fn text(self, what: &'static str) -> Result<Cow<'a, str>, Reason> {
        match self {
            Cell::String(quoted) => serde_json::from_str::<Cow<'_, str>>(quoted)
                .map_err(|e| Reason::Invalid(format!("invalid string: {e}"))),
            _ => Err(Reason::Expected(what)),
        }
    }

    /// A number's text, or a string's: both are read by the type's text
    /// rule ([`parse`]).
    fn number_or_text(self, what: &'static str) -> Result<Cow<'a, str>, Reason> {
        match self {
            Cell::Bare(number) if number.starts_with(|c: char| c == '-' || c.is_ascii_digit()) => {
                Ok(Cow::Borrowed(number))
            }
            Cell::String(_) => self.text(what),
            _ => Err(Reason::Expected(what)),
        }
    }
}

/// Why a cell did not decode.
enum Reason {
    /// The JSON value is of the wrong kind: this is what was expected.
    Expected(&'static str),
    /// The value is of the right kind but not acceptable.
    Invalid(String),
    /// Its text was refused by its type's rule.
    Refused(parse::Refused),
}

impl From<parse::Refused> for Reason {
    fn from(refused: parse::Refused) -> Self {
        Reason::Refused(refused)
    }
}

impl Reason {
    fn into_error(self, field: &Field, row: u64, text: &str) -> Error {
        match self {
            Reason::Expected(expected) => Error::WrongValue {
                column: field.name.clone(),
                row,
                expected: expected.to_string(),
                found: describe(text),
                hint: String::new(),
            },
            Reason::Invalid(reason) => Error::InvalidValue {
                column: field.name.clone(),
                row,
                reason,
            },
            Reason::Refused(refused) => {
                // Messages show a string's text as the text it holds.
                let shown =
                    serde_json::from_str::<Cow<'_, str>>(text).unwrap_or(Cow::Borrowed(text));
                refused.into_error(&field.name, row, &shown)
            }
        }
    }
}

/// Encodes each row of `batch` as a JSON object (fields in column order).
///
/// # Panics
///
/// When a column has a type with no text form;
/// writers check their schema with [`check_encodable`] before any row.
pub fn encode_rows(batch: &RecordBatch) -> Vec<String> {
    let schema = batch.schema();
    let names: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| serde_json::to_string(f.name()).expect("strings serialize"))
        .collect();
    let rules: Vec<ColumnText> = schema
        .fields()
        .iter()
        .map(|f| ColumnText::new(f.data_type()).expect("checked by the writer"))
        .collect();
    let columns: Vec<ArrayRef> = batch.columns().iter().map(ColumnText::unpack).collect();
    (0..batch.num_rows())
        .map(|row| {
            let mut out = JsonCell(String::with_capacity(64));
            out.0.push('{');
            for (i, column) in columns.iter().enumerate() {
                if i > 0 {
                    out.0.push(',');
                }
                out.0.push_str(&names[i]);
                out.0.push(':');
                rules[i].write(column.as_ref(), row, &mut out);
            }
            out.0.push('}');
            out.0
        })
        .collect()
}

/// Each row of `batch` as a `serde_json` object, with the values
/// [`encode_rows`] writes (same rule, another sink).
fn encode_values(batch: &RecordBatch) -> Vec<serde_json::Value> {
    let schema = batch.schema();
    let rules: Vec<ColumnText> = schema
        .fields()
        .iter()
        .map(|f| ColumnText::new(f.data_type()).expect("a transform's outputs have text forms"))
        .collect();
    let columns: Vec<ArrayRef> = batch.columns().iter().map(ColumnText::unpack).collect();
    (0..batch.num_rows())
        .map(|row| {
            let mut object = serde_json::Map::with_capacity(columns.len());
            for ((field, rule), column) in schema.fields().iter().zip(&rules).zip(&columns) {
                let mut value = JsonValue(serde_json::Value::Null);
                rule.write(column.as_ref(), row, &mut value);
                object.insert(field.name().clone(), value.0);
            }
            serde_json::Value::Object(object)
        })
        .collect()
}

/// A cell as a `serde_json` value: text as a string, numbers and booleans
/// as what their text is.
struct JsonValue(serde_json::Value);

impl CellSink for JsonValue {
    fn null(&mut self) {
        self.0 = serde_json::Value::Null;
    }
    fn bare(&mut self, text: &str) {
        self.0 = serde_json::from_str(text).expect("a bare cell is a JSON number or boolean");
    }
    fn text(&mut self, text: &str) {
        self.0 = serde_json::Value::String(text.to_string());
    }
    fn array(&mut self, json: &str) {
        self.0 = serde_json::from_str(json).expect("a list cell is a JSON array");
    }
}

/// Checks that every column of `schema` can be written as JSON (or CSV)
/// text; the error names the first that cannot.
pub fn check_encodable(schema: &Schema) -> std::result::Result<(), (String, String)> {
    for field in schema.fields() {
        ColumnText::new(field.data_type()).map_err(|why| (field.name().clone(), why))?;
    }
    Ok(())
}

/// `[row, row, ...]` for `batch`.
pub fn encode_array(batch: &RecordBatch) -> String {
    let rows = encode_rows(batch);
    let mut out =
        String::with_capacity(rows.iter().map(String::len).sum::<usize>() + rows.len() + 2);
    out.push('[');
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(row);
    }
    out.push(']');
    out
}

/// JSON text of cells: text as an escaped string, numbers bare.
struct JsonCell(String);

impl CellSink for JsonCell {
    fn null(&mut self) {
        self.0.push_str("null");
    }
    fn bare(&mut self, text: &str) {
        self.0.push_str(text);
    }
    fn text(&mut self, text: &str) {
        let escaped = serde_json::to_string(text).expect("strings serialize");
        self.0.push_str(&escaped);
    }
    fn array(&mut self, json: &str) {
        self.0.push_str(json);
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::AsArray;
    use arrow::datatypes::{Float32Type, Float64Type, Int64Type};

    use super::*;

    fn field(name: &str, data_type: DataType, nullable: bool) -> Field {
        Field {
            name: name.into(),
            data_type,
            nullable,
        }
    }

    fn raw(rows: &[&str]) -> Vec<Box<RawValue>> {
        rows.iter()
            .map(|r| RawValue::from_string(r.to_string()).unwrap())
            .collect()
    }

    fn decode(fields: &[Field], rows: &[&str]) -> Result<RecordBatch> {
        let raw = raw(rows);
        let refs: Vec<&RawValue> = raw.iter().map(|r| &**r).collect();
        decode_rows("t", fields, &refs, NaiveTimestamps::Refuse)
    }

    /// A field is found by its name whether or not the name has escapes;
    /// a field given twice in a row is refused, naming the row, where a
    /// map would have kept the last value without a word.
    #[test]
    fn rows_are_objects_with_each_field_once() {
        let fields = [field("amount", DataType::Int64, false)];
        let batch = decode(
            &fields,
            &[r#"{"amount": 1}"#, r#"{"am\u006funt": 2, "x": 0}"#],
        )
        .unwrap();
        assert_eq!(
            batch.column(0).as_primitive::<Int64Type>().values(),
            &[1, 2]
        );
        let refused = |rows: &[&str]| {
            let error = decode(&fields, rows).unwrap_err();
            (error.kind(), error.row(), error.to_string())
        };
        assert_eq!(
            refused(&[r#"{"amount": 1}"#, r#"{"amount": 1, "amount": 2}"#]),
            (
                "bad_row",
                Some(1),
                "row 1: field `amount` is given more than once; which value to use is ambiguous"
                    .to_string()
            )
        );
        assert_eq!(
            refused(&["[1, 2]"]),
            (
                "bad_row",
                Some(0),
                "row 0: expected a JSON object of fields, found an array".to_string()
            )
        );
    }

    #[test]
    fn floats_round_trip_bit_for_bit_through_text() {
        let fields = [
            field("d", DataType::Float64, false),
            field("f", DataType::Float32, false),
        ];
        let doubles = [
            0.1,
            -0.0,
            5e-324,
            f64::MAX,
            f64::MIN_POSITIVE,
            1e21,
            123_456_789.123_456_79,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -f64::NAN,
            f64::from_bits(0x7ff8_0000_dead_beef),
        ];
        let floats = [
            0.1_f32,
            -0.0,
            1e-45,
            f32::MAX,
            16777217.0,
            3.4028235e38,
            1.1754942e-38,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            -f32::NAN,
            f32::from_bits(0xffc0_0001),
        ];
        let batch = RecordBatch::try_from_iter([
            (
                "d",
                Arc::new(arrow::array::Float64Array::from(doubles.to_vec())) as ArrayRef,
            ),
            (
                "f",
                Arc::new(arrow::array::Float32Array::from(floats.to_vec())) as ArrayRef,
            ),
        ])
        .unwrap();
        let rows = encode_rows(&batch);
        let refs: Vec<&str> = rows.iter().map(String::as_str).collect();
        let back = decode(&fields, &refs).unwrap();
        let d = back.column(0).as_primitive::<Float64Type>();
        let f = back.column(1).as_primitive::<Float32Type>();
        for i in 0..doubles.len() {
            assert_eq!(d.value(i).to_bits(), doubles[i].to_bits(), "{}", rows[i]);
            assert_eq!(f.value(i).to_bits(), floats[i].to_bits(), "{}", rows[i]);
        }
        assert_eq!(rows[0], r#"{"d":0.1,"f":0.1}"#);
        assert_eq!(rows[9], r#"{"d":"NaN","f":"NaN"}"#);
        assert_eq!(rows[10], r#"{"d":"-NaN","f":"-NaN"}"#);
        assert_eq!(
            rows[11],
            r#"{"d":"NaN:0x7ff80000deadbeef","f":"NaN:0xffc00001"}"#
        );
    }

    #[test]
    fn float32_is_parsed_from_text_without_double_rounding() {
        // Halfway between two float32 values, by a hair: rounding to f64
        // first lands exactly on the halfway point and then rounds to even.
        let text = "1.00000005960464477539062500000000000001";
        let direct: f32 = text.parse().unwrap();
        let batch = decode(
            &[field("f", DataType::Float32, false)],
            &[&format!(r#"{{"f": {text}}}"#)],
        )
        .unwrap();
        assert_eq!(
            batch
                .column(0)
                .as_primitive::<Float32Type>()
                .value(0)
                .to_bits(),
            direct.to_bits()
        );
        assert_ne!(
            direct.to_bits(),
            (text.parse::<f64>().unwrap() as f32).to_bits()
        );
    }

    #[test]
    fn int64_is_exact_and_integers_are_strict() {
        let fields = [field("l", DataType::Int64, false)];
        let batch = decode(
            &fields,
            &[
                r#"{"l": 9007199254740993}"#,
                r#"{"l": "-9223372036854775808"}"#,
            ],
        )
        .unwrap();
        assert_eq!(
            batch.column(0).as_primitive::<Int64Type>().values(),
            &[9_007_199_254_740_993, i64::MIN]
        );
        assert_eq!(encode_rows(&batch)[0], r#"{"l":9007199254740993}"#);
        let error = decode(&fields, &[r#"{"l": 3.0}"#]).unwrap_err().to_string();
        assert!(
            error.starts_with("column `l`, row 0: 3.0 is not an integer"),
            "{error}"
        );
        // A string is shown as one, so `"x"` does not read as a bare word.
        let error = decode(&fields, &[r#"{"l": "x"}"#]).unwrap_err().to_string();
        assert_eq!(
            error,
            "column `l`, row 0: \"x\" is not an int64 (a whole number such as 42)"
        );
        let error = decode(&fields, &[r#"{"l": 9223372036854775808}"#])
            .unwrap_err()
            .to_string();
        assert!(error.contains("out of range for int64"), "{error}");
        let error = decode(
            &[field("i", DataType::Int32, false)],
            &[r#"{"i": 2147483648}"#],
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("out of range for int32"), "{error}");
    }

    #[test]
    fn errors_name_the_row_and_field() {
        let fields = [
            field("amount", DataType::Float64, false),
            field("note", DataType::Utf8, true),
        ];
        let error = decode(
            &fields,
            &[r#"{"amount": 1, "note": null}"#, r#"{"note": "x"}"#],
        )
        .unwrap_err();
        assert_eq!(error.to_string(), "row 1: missing field `amount` (float64)");
        let error = decode(&fields, &[r#"{"amount": 1}"#]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "row 0: missing field `note` (utf8); give `null` for a missing value"
        );
        // A string holds a value's text, read as a CSV cell would be.
        let read = decode(&fields, &[r#"{"amount": "12.5", "note": null}"#]).unwrap();
        assert_eq!(read.column(0).as_primitive::<Float64Type>().value(0), 12.5);
        let error = decode(&fields, &[r#"{"amount": "12,5", "note": null}"#]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "column `amount`, row 0: \"12,5\" is not a float64 (a number such as 12.5)"
        );
        let error = decode(&fields, &[r#"{"amount": true, "note": null}"#]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "row 0, field `amount`: expected a float64 (a number such as 12.5), found a boolean \
             true"
        );
        let error = decode(&fields, &[r#"{"amount": null, "note": null}"#]).unwrap_err();
        assert_eq!(error.kind(), "unexpected_null");
        assert_eq!(error.row(), Some(0));
        let error = decode(&fields, &[r#"[1, 2]"#]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "row 0: expected a JSON object of fields, found an array"
        );
    }

    #[test]
    fn timestamps_as_rfc3339_with_a_zone() {
        use arrow::array::Array;
        use arrow::datatypes::TimestampMicrosecondType;
        let fields = [field("t", DataType::TimestampMicros, false)];
        let batch = decode(
            &fields,
            &[
                r#"{"t": "2026-03-02T00:10:43Z"}"#,
                r#"{"t": "2026-03-02T01:10:43.000001+01:00"}"#,
                r#"{"t": "1969-12-31T23:59:59.999999Z"}"#,
            ],
        )
        .unwrap();
        let values = batch
            .column(0)
            .as_primitive::<TimestampMicrosecondType>()
            .values()
            .to_vec();
        assert_eq!(values, [1_772_410_243_000_000, 1_772_410_243_000_001, -1]);
        let rows = encode_rows(&batch);
        assert_eq!(rows[0], r#"{"t":"2026-03-02T00:10:43.000000Z"}"#);
        assert_eq!(rows[2], r#"{"t":"1969-12-31T23:59:59.999999Z"}"#);
        // Every 64-bit timestamp has a text form that reads back.
        let far = RecordBatch::try_from_iter([(
            "t",
            Arc::new(
                arrow::array::TimestampMicrosecondArray::from(vec![i64::MIN, i64::MAX])
                    .with_timezone(UTC),
            ) as ArrayRef,
        )])
        .unwrap();
        let rows = encode_rows(&far);
        assert_eq!(
            rows,
            [
                r#"{"t":"-290308-12-21T19:59:05.224192Z"}"#,
                r#"{"t":"+294247-01-10T04:00:54.775807Z"}"#
            ]
        );
        let refs: Vec<&str> = rows.iter().map(String::as_str).collect();
        let back = decode(&fields, &refs).unwrap();
        assert_eq!(
            back.column(0)
                .as_primitive::<TimestampMicrosecondType>()
                .values(),
            &[i64::MIN, i64::MAX]
        );
        assert!(back.column(0).null_count() == 0);
    }

    /// Epoch seconds sent for a timestamp would otherwise be features
    /// from 1970; a time without a zone would be a guess.
    #[test]
    fn timestamps_that_would_be_guesses_are_refused() {
        let fields = [field("t", DataType::TimestampMicros, false)];
        let refused = |row: &str| decode(&fields, &[row]).unwrap_err().to_string();
        assert_eq!(
            refused(r#"{"t": 1764633600}"#),
            "column `t`, row 0: \"1764633600\" is a number, but a timestamp is an RFC 3339 \
             timestamp with a time zone, such as \"2026-03-02T00:10:43Z\": a number could count \
             seconds, milliseconds or microseconds since the epoch, so skewless does not guess"
        );
        assert!(refused(r#"{"t": 1764633600000}"#).ends_with(
            "so skewless does not guess (pandas' `to_json` writes milliseconds unless given \
                 `date_format=\"iso\", date_unit=\"us\"`)"
        ));
        assert_eq!(
            refused(r#"{"t": "2026-03-02T00:10:43"}"#),
            format!(
                "column `t`, row 0: \"2026-03-02T00:10:43\" has no time zone; {}",
                crate::spec::NAIVE_FIX
            )
        );
        let raw = raw(&[r#"{"t": "2026-03-02 00:10:43"}"#]);
        let refs: Vec<&RawValue> = raw.iter().map(|r| &**r).collect();
        let utc = decode_rows("t", &fields, &refs, NaiveTimestamps::Utc).unwrap();
        assert_eq!(
            encode_rows(&utc)[0],
            r#"{"t":"2026-03-02T00:10:43.000000Z"}"#
        );
        let error = refused(r#"{"t": "2026-03-02T00:10:43.0000001Z"}"#);
        assert!(error.contains("fraction of a microsecond"), "{error}");
        assert_eq!(
            refused(r#"{"t": true}"#),
            "row 0, field `t`: expected a timestamp (an RFC 3339 string with a time zone, such \
             as \"2026-03-02T00:10:43Z\"), found a boolean true"
        );
    }

    /// A misspelt key is named where the field it was meant for is missing.
    #[test]
    fn a_missing_field_names_what_the_row_has_instead() {
        let fields = [
            field("pickup_zone", DataType::Utf8, false),
            field("fare", DataType::Float64, true),
        ];
        let refused = |row: &str| decode(&fields, &[row]).unwrap_err().to_string();
        assert_eq!(
            refused(r#"{"pickup_zones": "JFK", "fare": 1}"#),
            "row 0: missing field `pickup_zone` (utf8); unknown field `pickup_zones` given: did \
             you mean `pickup_zone`?"
        );
        assert_eq!(
            refused(r#"{"Pickup_Zone": "JFK", "fare": 1}"#),
            "row 0: missing field `pickup_zone` (utf8); unknown field `Pickup_Zone` given: did \
             you mean `pickup_zone`?"
        );
        assert_eq!(
            refused(r#"{"pickup_zone": "JFK", "tip": 1, "driver": "x"}"#),
            "row 0: missing field `fare` (float64); give `null` for a missing value; the row has \
             `driver`, `tip`, which transform `t` does not take"
        );
        assert_eq!(
            refused(r#"{"fare": 1}"#),
            "row 0: missing field `pickup_zone` (utf8)"
        );
    }

    /// A whole number written as a float says where those come from.
    #[test]
    fn integral_floats_for_integers_point_at_pandas() {
        let fields = [field("hour", DataType::Int64, true)];
        let error = decode(&fields, &[r#"{"hour": 3.0}"#])
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "column `hour`, row 0: 3.0 is not an integer (an integer column takes whole numbers \
             written without a fraction or exponent); pandas writes an integer column that has \
             missing values as floats (1.0, NaN): give the column the nullable integer dtype, \
             `df[column].astype(\"Int64\")`, before writing it"
        );
        let error = decode(&fields, &[r#"{"hour": 3.5}"#])
            .unwrap_err()
            .to_string();
        assert!(error.ends_with("fraction or exponent)"), "{error}");
    }

    #[test]
    fn strings_are_unicode_and_escaped() {
        let fields = [field("s", DataType::Utf8, false)];
        let batch = decode(&fields, &[r#"{"s": "caf\u00e9 \"☕\"\n🎉"}"#]).unwrap();
        assert_eq!(
            batch.column(0).as_string::<i32>().value(0),
            "café \"☕\"\n🎉"
        );
        assert_eq!(encode_rows(&batch)[0], r#"{"s":"café \"☕\"\n🎉"}"#);
        assert!(
            decode(&fields, &[r#"{"s": "\ud800"}"#]).is_err(),
            "a lone surrogate is not UTF-8"
        );
    }
}
