//! Arrow <-> WIT: the one place where columns cross the boundary.
//!
//! Backfill, serving, `verify` and the embedded API all call these three
//! functions and nothing else to talk to a guest:
//!
//! - [`prepare_input`] picks the declared input columns out of a
//!   `RecordBatch` by name, converts types only where that is exact (an
//!   `int32` column for an `int64` argument, `int64` values that fit an
//!   `int32` argument, `Utf8View` or a dictionary for `utf8`, whole
//!   nanosecond timestamps for `timestamp-micros`) and refuses everything
//!   else with an error naming the column, the expected and the found type
//!   (or the row of a value that does not fit).
//! - [`WitInput`] lends those Arrow buffers to the guest call: numbers,
//!   timestamps and string bytes are passed by reference, so the only copy
//!   is the one into guest memory.
//! - [`from_wit`] checks the guest's answer against its declared outputs
//!   (row count, types, nulls, string offsets and UTF-8) and wraps the
//!   returned vectors as Arrow buffers without copying them again.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float32Array, Float64Array, Int32Array, Int64Array,
    PrimitiveArray, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{
    DataType as ArrowType, Float32Type, Float64Type, Int32Type, Int64Type, SchemaRef, TimeUnit,
    TimestampMicrosecondType, UInt64Type,
};

use super::bindings::skewless::transform::types::{
    BatchParam, BatchResult, ColumnParam, ColumnResult, Utf8ArrayParam, ValuesParam, ValuesResult,
};
use crate::error::{Error, Result};
use crate::spec::{DataType, Field, NaiveTimestamps, TransformInfo, UTC};

/// Selects, converts and checks the declared input columns of `batch`, in
/// declared order; `naive` says what timestamps without a zone mean.
pub(crate) fn prepare_input(
    info: &TransformInfo,
    batch: &RecordBatch,
    naive: NaiveTimestamps,
) -> Result<Vec<ArrayRef>> {
    let schema = batch.schema();
    info.inputs
        .iter()
        .map(|field| {
            let Some((index, _)) = schema.column_with_name(&field.name) else {
                return Err(Error::MissingColumn {
                    transform: info.name.clone(),
                    column: field.name.clone(),
                    expected: field.data_type.to_string(),
                    available: column_list(schema.fields().iter().map(|f| f.name().as_str())),
                });
            };
            let array = coerce(info, field, batch.column(index), naive)?;
            if !field.nullable && array.null_count() > 0 {
                let row = (0..array.len())
                    .find(|&row| array.is_null(row))
                    .expect("null_count > 0");
                return Err(Error::UnexpectedNull {
                    transform: info.name.clone(),
                    column: field.name.clone(),
                    row: row as u64,
                });
            }
            Ok(array)
        })
        .collect()
}

/// `a`, `b`, `c` (or "none").
pub(crate) fn column_list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.map(|name| format!("`{name}`")).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// Converts `array` to the declared type when that loses nothing: widening
/// (`int32` for `int64`, `float32` or `float16` for `float64`), narrowing
/// when every value fits (`int64` for `int32`: the JSON codec and the CSV
/// reader check each value the same way), any string layout, dictionaries
/// of convertible values, a column of the null type for a nullable input,
/// and timestamps of any unit (exact) and zone (the values are UTC
/// instants whatever the label; none is `naive`'s to decide).
fn coerce(
    info: &TransformInfo,
    field: &Field,
    array: &ArrayRef,
    naive: NaiveTimestamps,
) -> Result<ArrayRef> {
    use ArrowType as A;
    let found = array.data_type();
    let exact_cast = |array: &ArrayRef| {
        let options = CastOptions {
            safe: false,
            ..Default::default()
        };
        cast_with_options(array, &field.data_type.arrow(), &options).map_err(|e| {
            Error::InvalidValue {
                column: field.name.clone(),
                row: 0,
                reason: format!("cannot convert {found} to {}: {e}", field.data_type),
            }
        })
    };
    let small_int = matches!(found, A::Int8 | A::Int16 | A::UInt8 | A::UInt16);
    let int32_like = small_int || matches!(found, A::Int32 | A::UInt32);
    match (field.data_type, found) {
        (DataType::Boolean, A::Boolean)
        | (DataType::Int32, A::Int32)
        | (DataType::Int64, A::Int64)
        | (DataType::Float32, A::Float32)
        | (DataType::Float64, A::Float64)
        | (DataType::Utf8, A::Utf8) => Ok(array.clone()),
        (_, A::Dictionary(_, values)) if !matches!(**values, A::Dictionary(..)) => {
            // The values, row by row, then the values' own rule.
            let unpacked =
                arrow::compute::cast(array, values).map_err(|e| Error::InvalidValue {
                    column: field.name.clone(),
                    row: 0,
                    reason: format!("cannot read the dictionary of {found}: {e}"),
                })?;
            coerce(info, field, &unpacked, naive)
        }
        (_, A::Null) => Ok(arrow::array::new_null_array(
            &field.data_type.arrow(),
            array.len(),
        )),
        (DataType::Int32, _) if small_int => exact_cast(array),
        (DataType::Int32, A::Int64 | A::UInt32 | A::UInt64) | (DataType::Int64, A::UInt64) => {
            let (range, name, hint) = if field.data_type == DataType::Int32 {
                (
                    i128::from(i32::MIN)..=i128::from(i32::MAX),
                    "int32",
                    "; declare the input int64 (`i64` in Rust, `int` in Python)",
                )
            } else {
                (i128::from(i64::MIN)..=i128::from(i64::MAX), "int64", "")
            };
            if let Some((row, value)) = first_outside(array, &range) {
                return Err(Error::InvalidValue {
                    column: field.name.clone(),
                    row: row as u64,
                    reason: format!("{value} is out of range for {name}{hint}"),
                });
            }
            exact_cast(array)
        }
        (DataType::Int64, _) if int32_like => exact_cast(array),
        (DataType::Float32, A::Float16) => exact_cast(array),
        (DataType::Float64, _) if int32_like || matches!(found, A::Float32 | A::Float16) => {
            exact_cast(array)
        }
        (DataType::Utf8, A::LargeUtf8 | A::Utf8View) => exact_cast(array),
        (DataType::TimestampMicros, A::Timestamp(unit, zone)) => {
            if zone.is_none() && naive == NaiveTimestamps::Refuse {
                return Err(Error::NaiveTimestamp {
                    column: field.name.clone(),
                    row: None,
                    reason: format!(
                        "has type {found}, which has no time zone; {}",
                        crate::spec::NAIVE_FIX
                    ),
                });
            }
            to_utc_micros(field, array, *unit)
        }
        _ => Err(Error::WrongType {
            transform: info.name.clone(),
            column: field.name.clone(),
            expected: field.data_type.to_string(),
            found: found.to_string(),
            hint: wrong_type_hint(field.data_type, found),
        }),
    }
}

/// The first row of an integer column whose value is outside `range`.
fn first_outside(
    array: &ArrayRef,
    range: &std::ops::RangeInclusive<i128>,
) -> Option<(usize, i128)> {
    let value: Box<dyn Fn(usize) -> i128> = match array.data_type() {
        ArrowType::Int64 => {
            let values = array.as_primitive::<Int64Type>();
            Box::new(move |i| i128::from(values.value(i)))
        }
        ArrowType::UInt32 => {
            let values = array.as_primitive::<arrow::datatypes::UInt32Type>();
            Box::new(move |i| i128::from(values.value(i)))
        }
        ArrowType::UInt64 => {
            let values = array.as_primitive::<UInt64Type>();
            Box::new(move |i| i128::from(values.value(i)))
        }
        _ => return None,
    };
    (0..array.len())
        .filter(|&i| array.is_valid(i))
        .map(|i| (i, value(i)))
        .find(|(_, v)| !range.contains(v))
}

/// Timestamps in `unit` as UTC microseconds: exact, or refused at the first
/// value that is not (a fraction of a microsecond, or beyond the range).
fn to_utc_micros(field: &Field, array: &ArrayRef, unit: TimeUnit) -> Result<ArrayRef> {
    use arrow::datatypes::{
        TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
    };
    let values: PrimitiveArray<Int64Type> = match unit {
        TimeUnit::Second => array
            .as_primitive::<TimestampSecondType>()
            .reinterpret_cast(),
        TimeUnit::Millisecond => array
            .as_primitive::<TimestampMillisecondType>()
            .reinterpret_cast(),
        TimeUnit::Microsecond => array
            .as_primitive::<TimestampMicrosecondType>()
            .reinterpret_cast(),
        TimeUnit::Nanosecond => array
            .as_primitive::<TimestampNanosecondType>()
            .reinterpret_cast(),
    };
    let invalid = |row: usize, reason: String| Error::InvalidValue {
        column: field.name.clone(),
        row: row as u64,
        reason,
    };
    let micros: TimestampMicrosecondArray = match unit {
        TimeUnit::Microsecond => values.reinterpret_cast(),
        TimeUnit::Nanosecond => {
            if let Some(row) =
                (0..values.len()).find(|&i| values.is_valid(i) && values.value(i) % 1000 != 0)
            {
                return Err(invalid(
                    row,
                    format!(
                        "timestamp {}ns has a fraction of a microsecond, and skewless timestamps \
                         are whole microseconds; truncate the column to microseconds where it \
                         is produced",
                        values.value(row)
                    ),
                ));
            }
            values.unary(|v| v / 1000)
        }
        TimeUnit::Second | TimeUnit::Millisecond => {
            let (scale, suffix) = if unit == TimeUnit::Second {
                (1_000_000, "s")
            } else {
                (1_000, "ms")
            };
            if let Some(row) = (0..values.len())
                .find(|&i| values.is_valid(i) && values.value(i).checked_mul(scale).is_none())
            {
                return Err(invalid(
                    row,
                    format!(
                        "timestamp {}{suffix} is outside the range of microsecond timestamps",
                        values.value(row)
                    ),
                ));
            }
            values.unary(|v| v * scale)
        }
    };
    Ok(Arc::new(micros.with_timezone(UTC)))
}

fn wrong_type_hint(expected: DataType, found: &ArrowType) -> String {
    use ArrowType as A;
    match (expected, found) {
        (DataType::Float64 | DataType::Float32, A::Int64 | A::UInt64) => {
            "; large integers do not convert to floats exactly, so skewless will not do it \
             implicitly: cast the column where the data is produced, or declare the input int64 \
             (`i64` in Rust, `int` in Python)"
                .into()
        }
        (DataType::Float64 | DataType::Float32, A::Decimal128(..) | A::Decimal256(..)) => {
            "; decimals do not convert to floats exactly, so skewless will not do it \
             implicitly: cast the column to a float where the data is produced (DuckDB: \
             `CAST(x AS DOUBLE)`; Spark: `.cast(\"double\")`)"
                .into()
        }
        (DataType::Float32, A::Float64) => {
            "; float64 does not convert to float32 without rounding: declare the input \
             float64 (`f64` in Rust, `float` in Python), or cast the column where the data is \
             produced"
                .into()
        }
        (_, A::Utf8 | A::LargeUtf8 | A::Utf8View) => {
            "; the column holds text: parse it where the data is produced, or declare the input \
             utf8 (`&str` in Rust, `str` in Python)"
                .into()
        }
        (DataType::Int32 | DataType::Int64, A::Float16 | A::Float32 | A::Float64) => {
            "; floats do not convert to integers without rounding, so skewless will not do \
             it implicitly: round or cast the column where the data is produced, or declare \
             the input float64 (`f64` in Rust, `float` in Python). If it holds whole numbers with missing values, it was likely \
             written by pandas, which stores such a column as float64: give it the nullable \
             integer dtype first, `df[column].astype(\"Int64\")`"
                .into()
        }
        (DataType::TimestampMicros, A::Date32 | A::Date64) => {
            "; a date is a day, not an instant: convert it to a timestamp with a time zone \
             where the data is produced"
                .into()
        }
        (expected, _) => format!(
            "; convert the column to {expected} where the data is produced, or change the \
             input's declared type to match the data"
        ),
    }
}

/// Owned pieces of the guest's input that Arrow does not hold in the WIT
/// layout (bit-packed booleans, validity bitmaps at an odd offset, string
/// offsets that do not start at 0). Everything else is borrowed.
#[derive(Default)]
struct ColumnScratch {
    booleans: Option<Vec<bool>>,
    offsets: Option<Vec<u32>>,
    validity: Option<Vec<u8>>,
}

/// The guest-call view of prepared input columns.
pub(crate) struct WitInput<'a> {
    rows: usize,
    arrays: &'a [ArrayRef],
    scratch: Vec<ColumnScratch>,
}

impl<'a> WitInput<'a> {
    /// Prepares the owned pieces of `arrays` (from [`prepare_input`]).
    pub(crate) fn new(arrays: &'a [ArrayRef], rows: usize) -> Self {
        let scratch = arrays
            .iter()
            .map(|array| scratch_for(array.as_ref()))
            .collect();
        WitInput {
            rows,
            arrays,
            scratch,
        }
    }

    /// The batch to pass to the guest, borrowing from `self`.
    pub(crate) fn columns(&self) -> Vec<ColumnParam<'_>> {
        self.arrays
            .iter()
            .zip(&self.scratch)
            .map(|(array, scratch)| column_param(array.as_ref(), scratch))
            .collect()
    }

    /// The batch to pass to the guest, given the columns from [`Self::columns`].
    pub(crate) fn batch<'b>(&self, columns: &'b [ColumnParam<'b>]) -> BatchParam<'b> {
        BatchParam {
            num_rows: self.rows as u32,
            columns,
        }
    }
}

fn scratch_for(array: &dyn Array) -> ColumnScratch {
    let mut scratch = ColumnScratch::default();
    if let Some(nulls) = array.nulls().filter(|nulls| nulls.null_count() > 0)
        && nulls.offset() % 8 != 0
    {
        scratch.validity = Some(nulls.inner().sliced().as_slice().to_vec());
    }
    match array.data_type() {
        ArrowType::Boolean => {
            scratch.booleans = Some(array.as_boolean().values().iter().collect());
        }
        ArrowType::Utf8 => {
            let offsets = array.as_string::<i32>().value_offsets();
            if offsets[0] != 0 {
                let base = offsets[0];
                scratch.offsets = Some(offsets.iter().map(|&o| (o - base) as u32).collect());
            }
        }
        _ => {}
    }
    scratch
}

fn column_param<'a>(array: &'a dyn Array, scratch: &'a ColumnScratch) -> ColumnParam<'a> {
    let values = match array.data_type() {
        ArrowType::Boolean => ValuesParam::Boolean(scratch.booleans.as_deref().expect("scratch")),
        ArrowType::Int32 => ValuesParam::Int32(array.as_primitive::<Int32Type>().values()),
        ArrowType::Int64 => ValuesParam::Int64(array.as_primitive::<Int64Type>().values()),
        ArrowType::Float32 => ValuesParam::Float32(array.as_primitive::<Float32Type>().values()),
        ArrowType::Float64 => ValuesParam::Float64(array.as_primitive::<Float64Type>().values()),
        ArrowType::Timestamp(TimeUnit::Microsecond, _) => {
            ValuesParam::TimestampMicros(array.as_primitive::<TimestampMicrosecondType>().values())
        }
        ArrowType::Utf8 => {
            let strings = array.as_string::<i32>();
            let offsets = strings.value_offsets();
            let (start, end) = (offsets[0] as usize, offsets[offsets.len() - 1] as usize);
            let offsets: &[u32] = match &scratch.offsets {
                Some(rebased) => rebased,
                None => {
                    // SAFETY: i32 and u32 have the same size and alignment,
                    // every bit pattern is valid for both, and Arrow offsets
                    // are non-negative, so the values are unchanged.
                    unsafe {
                        std::slice::from_raw_parts(offsets.as_ptr().cast::<u32>(), offsets.len())
                    }
                }
            };
            ValuesParam::Utf8(Utf8ArrayParam {
                offsets,
                data: &strings.values()[start..end],
            })
        }
        other => unreachable!("prepare_input converts every column, found {other}"),
    };
    let validity = match array.nulls().filter(|nulls| nulls.null_count() > 0) {
        None => None,
        Some(nulls) => Some(match &scratch.validity {
            Some(owned) => owned.as_slice(),
            None => {
                let start = nulls.offset() / 8;
                &nulls.inner().inner().as_slice()[start..start + nulls.len().div_ceil(8)]
            }
        }),
    };
    ColumnParam { values, validity }
}

/// Checks the guest's output against the declaration and wraps it as a
/// `RecordBatch` with `schema` (the declared outputs).
pub(crate) fn from_wit(
    info: &TransformInfo,
    schema: &SchemaRef,
    rows: usize,
    output: BatchResult,
) -> Result<RecordBatch> {
    let invalid = |reason: String| Error::InvalidOutput {
        transform: info.name.clone(),
        reason,
    };
    if output.num_rows as usize != rows {
        return Err(invalid(format!(
            "{} rows for {rows} input rows (a transform returns exactly one row per input row)",
            output.num_rows
        )));
    }
    if output.columns.len() != info.outputs.len() {
        return Err(invalid(format!(
            "{} columns, but it declares {} outputs",
            output.columns.len(),
            info.outputs.len()
        )));
    }
    let arrays = output
        .columns
        .into_iter()
        .zip(&info.outputs)
        .map(|(column, field)| {
            output_array(field, rows, column)
                .map_err(|reason| invalid(format!("column `{}`: {reason}", field.name)))
        })
        .collect::<Result<Vec<_>>>()?;
    RecordBatch::try_new(schema.clone(), arrays).map_err(|e| invalid(e.to_string()))
}

fn output_array(field: &Field, rows: usize, column: ColumnResult) -> Result<ArrayRef, String> {
    let nulls = match column.validity {
        None => None,
        Some(bits) => {
            if bits.len() != rows.div_ceil(8) {
                return Err(format!(
                    "its validity bitmap has {} bytes, expected {} for {rows} rows",
                    bits.len(),
                    rows.div_ceil(8)
                ));
            }
            let nulls = NullBuffer::new(BooleanBuffer::new(Buffer::from_vec(bits), 0, rows));
            if nulls.null_count() == 0 {
                None
            } else if !field.nullable {
                let row = (0..rows).find(|&i| nulls.is_null(i)).expect("has nulls");
                return Err(format!(
                    "row {row} is null, but the column is declared non-nullable"
                ));
            } else {
                Some(nulls)
            }
        }
    };
    let values = column.values;
    let found = values_type(&values);
    if found != field.data_type {
        return Err(format!("declared {}, returned {found}", field.data_type));
    }
    let check_len = |len: usize| {
        if len == rows {
            Ok(())
        } else {
            Err(format!("{len} values for {rows} rows"))
        }
    };
    let array: ArrayRef = match values {
        ValuesResult::Boolean(v) => {
            check_len(v.len())?;
            Arc::new(BooleanArray::new(BooleanBuffer::from(v), nulls))
        }
        ValuesResult::Int32(v) => {
            check_len(v.len())?;
            Arc::new(Int32Array::new(ScalarBuffer::from(v), nulls))
        }
        ValuesResult::Int64(v) => {
            check_len(v.len())?;
            Arc::new(Int64Array::new(ScalarBuffer::from(v), nulls))
        }
        ValuesResult::Float32(v) => {
            check_len(v.len())?;
            Arc::new(Float32Array::new(ScalarBuffer::from(v), nulls))
        }
        ValuesResult::Float64(v) => {
            check_len(v.len())?;
            Arc::new(Float64Array::new(ScalarBuffer::from(v), nulls))
        }
        ValuesResult::TimestampMicros(v) => {
            check_len(v.len())?;
            Arc::new(
                TimestampMicrosecondArray::new(ScalarBuffer::from(v), nulls).with_timezone(UTC),
            )
        }
        ValuesResult::Utf8(strings) => {
            if strings.offsets.len() != rows + 1 {
                return Err(format!(
                    "{} string offsets for {rows} rows (expected {})",
                    strings.offsets.len(),
                    rows + 1
                ));
            }
            check_utf8_layout(&strings.offsets, &strings.data)?;
            let offsets: Vec<i32> = strings.offsets.into_iter().map(|o| o as i32).collect();
            // SAFETY: `check_utf8_layout` verified the offsets never
            // decrease, end within `data` below 2^31, and fall on character
            // boundaries of valid UTF-8, so every value is valid UTF-8.
            let array = unsafe {
                StringArray::new_unchecked(
                    OffsetBuffer::new_unchecked(ScalarBuffer::from(offsets)),
                    Buffer::from_vec(strings.data),
                    nulls,
                )
            };
            Arc::new(array)
        }
    };
    Ok(array)
}

/// Checks that `offsets` describe valid UTF-8 strings in `data`, starting
/// at 0 as the contract's `utf8-array` says.
fn check_utf8_layout(offsets: &[u32], data: &[u8]) -> Result<(), String> {
    if let Some(&start) = offsets.first().filter(|&&start| start != 0) {
        return Err(format!(
            "its string offsets start at {start}, not 0 (the contract's utf8-array starts at 0)"
        ));
    }
    let text = std::str::from_utf8(data).map_err(|e| {
        let row = offsets
            .partition_point(|&o| (o as usize) <= e.valid_up_to())
            .saturating_sub(1);
        format!("row {row} is not valid UTF-8")
    })?;
    if data.len() > i32::MAX as usize {
        return Err(format!("{} bytes of text, more than 2 GiB", data.len()));
    }
    let mut previous = 0;
    for (index, &offset) in offsets.iter().enumerate() {
        let offset = offset as usize;
        if offset < previous || offset > data.len() {
            return Err(format!(
                "string offset {index} ({offset}) is out of order or past the end of the data"
            ));
        }
        if !text.is_char_boundary(offset) {
            return Err(format!(
                "row {} splits a UTF-8 character",
                index.saturating_sub(1)
            ));
        }
        previous = offset;
    }
    Ok(())
}

fn values_type(values: &ValuesResult) -> DataType {
    match values {
        ValuesResult::Boolean(_) => DataType::Boolean,
        ValuesResult::Int32(_) => DataType::Int32,
        ValuesResult::Int64(_) => DataType::Int64,
        ValuesResult::Float32(_) => DataType::Float32,
        ValuesResult::Float64(_) => DataType::Float64,
        ValuesResult::Utf8(_) => DataType::Utf8,
        ValuesResult::TimestampMicros(_) => DataType::TimestampMicros,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Field;

    fn info(data_type: DataType, nullable: bool) -> TransformInfo {
        TransformInfo {
            name: "t".into(),
            version: "1".into(),
            description: String::new(),
            inputs: vec![Field {
                name: "x".into(),
                data_type,
                nullable,
            }],
            outputs: vec![Field {
                name: "y".into(),
                data_type,
                nullable,
            }],
        }
    }

    fn batch(array: ArrayRef) -> RecordBatch {
        RecordBatch::try_from_iter([("x", array)]).unwrap()
    }

    #[test]
    fn sliced_strings_and_validity_are_rebased() {
        let strings = StringArray::from(vec![
            Some("a"),
            None,
            Some("héllo"),
            Some(""),
            None,
            Some("z"),
            Some("q"),
            Some("w"),
            Some("e"),
            Some("r"),
        ]);
        let sliced: ArrayRef = Arc::new(strings.slice(2, 7));
        let arrays = prepare_input(
            &info(DataType::Utf8, true),
            &batch(sliced),
            NaiveTimestamps::Refuse,
        )
        .unwrap();
        let input = WitInput::new(&arrays, 7);
        let columns = input.columns();
        let ValuesParam::Utf8(utf8) = &columns[0].values else {
            panic!("utf8 expected")
        };
        assert_eq!(utf8.offsets, &[0, 6, 6, 6, 7, 8, 9, 10]);
        assert_eq!(utf8.data, "héllozqwe".as_bytes());
        // Rows 0..7 of the slice: valid, valid, null, valid x4.
        assert_eq!(columns[0].validity, Some(&[0b0111_1011][..]));
    }

    #[test]
    fn exact_widening_is_allowed_and_lossy_narrowing_is_not() {
        let ints: ArrayRef = Arc::new(Int32Array::from(vec![1, -2]));
        let arrays = prepare_input(
            &info(DataType::Int64, false),
            &batch(ints),
            NaiveTimestamps::Refuse,
        )
        .unwrap();
        assert_eq!(arrays[0].data_type(), &ArrowType::Int64);

        let big: ArrayRef = Arc::new(Int64Array::from(vec![1]));
        let error = prepare_input(
            &info(DataType::Float64, false),
            &batch(big),
            NaiveTimestamps::Refuse,
        )
        .unwrap_err();
        assert!(matches!(error, Error::WrongType { .. }), "{error}");
        assert!(
            error
                .to_string()
                .starts_with("column `x` has type Int64, but transform `t` takes float64"),
            "{error}"
        );

        // Every refusal says what to do.
        let floats: ArrayRef = Arc::new(Float64Array::from(vec![3.9]));
        let error = prepare_input(
            &info(DataType::Int64, false),
            &batch(floats),
            NaiveTimestamps::Refuse,
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("round or cast the column"),
            "{error}"
        );
        let flags: ArrayRef = Arc::new(BooleanArray::from(vec![true]));
        let error = prepare_input(
            &info(DataType::Utf8, false),
            &batch(flags),
            NaiveTimestamps::Refuse,
        )
        .unwrap_err();
        assert!(
            error
                .to_string()
                .ends_with("; convert the column to utf8 where the data is produced, or change the input's declared type to match the data"),
            "{error}"
        );
    }

    #[test]
    fn nanosecond_timestamps_convert_only_when_whole_microseconds() {
        let whole: ArrayRef = Arc::new(arrow::array::TimestampNanosecondArray::from(vec![
            5_000, -7_000,
        ]));
        let arrays = prepare_input(
            &info(DataType::TimestampMicros, false),
            &batch(whole),
            NaiveTimestamps::Utc,
        )
        .unwrap();
        assert_eq!(
            arrays[0]
                .as_primitive::<TimestampMicrosecondType>()
                .values(),
            &[5, -7]
        );

        let fractional: ArrayRef = Arc::new(arrow::array::TimestampNanosecondArray::from(vec![
            5_000, 7_001,
        ]));
        let error = prepare_input(
            &info(DataType::TimestampMicros, false),
            &batch(fractional),
            NaiveTimestamps::Utc,
        )
        .unwrap_err();
        assert_eq!(error.row(), Some(1));
    }

    #[test]
    fn output_checks_name_the_problem() {
        let schema = info(DataType::Utf8, false).output_schema();
        let column = |offsets: Vec<u32>, data: &[u8], validity: Option<Vec<u8>>| BatchResult {
            num_rows: 2,
            columns: vec![ColumnResult {
                values: ValuesResult::Utf8(
                    crate::engine::bindings::skewless::transform::types::Utf8ArrayResult {
                        offsets,
                        data: data.to_vec(),
                    },
                ),
                validity,
            }],
        };
        let check = |output| from_wit(&info(DataType::Utf8, false), &schema, 2, output);
        assert!(check(column(vec![0, 1, 3], b"abc", None)).is_ok());
        let error = check(column(vec![0, 1, 3], "éa".as_bytes(), None))
            .unwrap_err()
            .to_string();
        assert!(
            error.ends_with("column `y`: row 0 splits a UTF-8 character"),
            "{error}"
        );
        let error = check(column(vec![0, 2, 1], b"abc", None))
            .unwrap_err()
            .to_string();
        assert!(error.contains("out of order"), "{error}");
        let error = check(column(vec![0, 1, 2], b"a\xff", None))
            .unwrap_err()
            .to_string();
        assert!(error.ends_with("row 1 is not valid UTF-8"), "{error}");
        let error = check(column(vec![1, 1, 2], b"ab", None))
            .unwrap_err()
            .to_string();
        assert!(
            error.ends_with(
                "column `y`: its string offsets start at 1, not 0 (the contract's utf8-array \
                 starts at 0)"
            ),
            "{error}"
        );
        let error = check(column(vec![0, 1, 2], b"ab", Some(vec![0b01])))
            .unwrap_err()
            .to_string();
        assert!(
            error.ends_with("row 1 is null, but the column is declared non-nullable"),
            "{error}"
        );
        let mut short = column(vec![0, 1, 2], b"ab", None);
        short.num_rows = 1;
        let error = check(short).unwrap_err().to_string();
        assert!(error.contains("1 rows for 2 input rows"), "{error}");
    }
}
