//! Arrow <-> WIT: the one place where columns cross the boundary.
//!
//! Backfill, serving, `verify` and the embedded API all come through here
//! to talk to a guest:
//!
//! - [`prepare_columns`] picks declared columns out of a `RecordBatch` by
//!   name, converts types only where that is exact (an `int32` column for
//!   an `int64` argument, `int64` values that fit an `int32` argument,
//!   `Utf8View` or a dictionary for `utf8`, whole nanosecond timestamps for
//!   `timestamp-micros`, a decimal rescaled without losing a digit, lists
//!   whose rows all have an embedding's length for a fixed-size list) and
//!   refuses everything else with an error naming the column, the expected
//!   and the found type (or the row of a value that does not fit).
//! - [`v2`] (contract 0.2.0) and [`v1`] (0.1.0, for components built before
//!   it) lend those columns to the guest call and check its answer against
//!   the declared outputs.

mod v1;
mod v2;

pub(crate) use v1::{WitInput as WitInputV1, from_wit as from_wit_v1};
pub(crate) use v2::{WitInput as WitInputV2, from_wit as from_wit_v2};

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, FixedSizeListArray, ListArray, PrimitiveArray, RecordBatch,
    TimestampMicrosecondArray,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{
    DataType as ArrowType, Field as ArrowField, Int64Type, TimeUnit, TimestampMicrosecondType,
    UInt64Type,
};

use crate::error::{Error, Result};
use crate::spec::{DataType, Field, LIST_ITEM, NaiveTimestamps, ScalarType, TransformInfo, UTC};

/// Selects, converts and checks the declared input columns of `batch`, in
/// declared order; `naive` says what timestamps without a zone mean.
pub(crate) fn prepare_input(
    info: &TransformInfo,
    batch: &RecordBatch,
    naive: NaiveTimestamps,
) -> Result<Vec<ArrayRef>> {
    prepare_columns(&info.name, &info.inputs, batch, naive)
}

/// Selects, converts and checks the columns `fields` of `batch` for
/// transform `transform`, in their order.
pub(crate) fn prepare_columns(
    transform: &str,
    fields: &[Field],
    batch: &RecordBatch,
    naive: NaiveTimestamps,
) -> Result<Vec<ArrayRef>> {
    let schema = batch.schema();
    fields
        .iter()
        .map(|field| {
            let Some((index, _)) = schema.column_with_name(&field.name) else {
                let names = || schema.fields().iter().map(|f| f.name().as_str());
                let not_taken = names().filter(|name| !fields.iter().any(|f| f.name == *name));
                return Err(Error::MissingColumn {
                    transform: transform.to_string(),
                    column: field.name.clone(),
                    expected: field.data_type.to_string(),
                    available: column_list(names())
                        + &misspelling(&field.name, near_miss(&field.name, not_taken)),
                });
            };
            let array = coerce(transform, field, batch.column(index), naive)?;
            if !field.nullable && array.null_count() > 0 {
                let row = (0..array.len())
                    .find(|&row| array.is_null(row))
                    .expect("null_count > 0");
                return Err(Error::UnexpectedNull {
                    transform: transform.to_string(),
                    column: field.name.clone(),
                    row: row as u64,
                    hint: Error::NOT_OPTIONAL.into(),
                });
            }
            Ok(array)
        })
        .collect()
}

/// The one of `candidates` that looks like a misspelling of `wanted`, the
/// closest first: the same but for case, or few edits apart (one for a
/// name of three characters or fewer, where two would match anything;
/// else two, or a quarter of its length). The one rule for every "did you
/// mean", in files, in-memory tables and JSON rows alike.
pub(crate) fn near_miss<'a>(
    wanted: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    let most = if wanted.chars().count() <= 3 {
        1
    } else {
        2.max(wanted.len() / 4)
    };
    candidates
        .filter(|candidate| *candidate != wanted)
        .map(|candidate| (strsim::damerau_levenshtein(candidate, wanted), candidate))
        .filter(|&(distance, candidate)| distance <= most || candidate.eq_ignore_ascii_case(wanted))
        .min()
        .map(|(_, candidate)| candidate)
}

/// "; `wanted_` looks like a misspelling of `wanted`" for a near miss, or
/// nothing: the end of a missing column's error.
pub(crate) fn misspelling(wanted: &str, near_miss: Option<&str>) -> String {
    near_miss
        .map(|name| format!("; `{name}` looks like a misspelling of `{wanted}`"))
        .unwrap_or_default()
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
    transform: &str,
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
        | (DataType::Utf8, A::Utf8)
        | (DataType::Date, A::Date32)
        | (DataType::Binary, A::Binary) => Ok(array.clone()),
        (DataType::Date, A::Date64) => whole_days(field, array),
        (DataType::Decimal { precision, scale }, _)
            if matches!(found, A::Decimal128(..) | A::Decimal256(..)) || found.is_integer() =>
        {
            rescale(field, array, precision, scale)
        }
        (DataType::Binary, A::LargeBinary | A::BinaryView | A::FixedSizeBinary(_)) => {
            exact_cast(array)
        }
        (
            DataType::List {
                element,
                element_nullable,
            },
            A::List(_)
            | A::LargeList(_)
            | A::ListView(_)
            | A::LargeListView(_)
            | A::FixedSizeList(..),
        ) => list(transform, field, array, element, element_nullable, naive),
        (
            DataType::FixedSizeList { element, size },
            A::List(_)
            | A::LargeList(_)
            | A::ListView(_)
            | A::LargeListView(_)
            | A::FixedSizeList(..),
        ) => fixed_size_list(transform, field, array, element, size, naive),
        (_, A::Dictionary(_, values)) if !matches!(**values, A::Dictionary(..)) => {
            // The values, row by row, then the values' own rule.
            let unpacked =
                arrow::compute::cast(array, values).map_err(|e| Error::InvalidValue {
                    column: field.name.clone(),
                    row: 0,
                    reason: format!("cannot read the dictionary of {found}: {e}"),
                })?;
            coerce(transform, field, &unpacked, naive)
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
            transform: transform.to_string(),
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
                        "timestamp {} has a fraction of a microsecond, and skewless timestamps \
                         are whole microseconds; truncate the column to microseconds where it \
                         is produced (pandas: `df[column].dt.floor(\"us\")`; polars: \
                         `.dt.cast_time_unit(\"us\")`)",
                        {
                            let mut text = String::new();
                            crate::codec::text::write_timestamp(
                                values.value(row),
                                TimeUnit::Nanosecond,
                                true,
                                &mut text,
                            );
                            text
                        }
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

/// A date64 column (milliseconds) as days, when every value is a whole day.
fn whole_days(field: &Field, array: &ArrayRef) -> Result<ArrayRef> {
    let millis = array.as_primitive::<arrow::datatypes::Date64Type>();
    if let Some(row) =
        (0..millis.len()).find(|&i| millis.is_valid(i) && millis.value(i) % 86_400_000 != 0)
    {
        return Err(Error::InvalidValue {
            column: field.name.clone(),
            row: row as u64,
            reason: format!(
                "date64 value {} ms is not a whole day, so it is not a date",
                millis.value(row)
            ),
        });
    }
    let days: arrow::array::Date32Array = millis.unary(|ms| (ms / 86_400_000) as i32);
    Ok(Arc::new(days))
}

/// A decimal (any precision and scale) or integer column as
/// `decimal(precision, scale)`, when every value is exact there: a scale
/// that grows multiplies, one that shrinks may only drop zeros, and every
/// value must fit `precision` digits.
fn rescale(field: &Field, array: &ArrayRef, precision: u8, scale: u8) -> Result<ArrayRef> {
    use arrow::datatypes::Decimal128Type;
    let invalid = |row: usize, reason: String| Error::InvalidValue {
        column: field.name.clone(),
        row: row as u64,
        reason,
    };
    // Every source as exact i128 units of 10^-from_scale (decimal256 that
    // does not fit i128 cannot fit 38 digits either).
    let (units, from_scale): (Vec<Option<i128>>, i32) = match array.data_type() {
        ArrowType::Decimal128(_, s) => (
            array.as_primitive::<Decimal128Type>().iter().collect(),
            i32::from(*s),
        ),
        ArrowType::Decimal256(_, s) => (
            array
                .as_primitive::<arrow::datatypes::Decimal256Type>()
                .iter()
                .map(|v| v.map(|v| v.to_i128().unwrap_or(i128::MAX)))
                .collect(),
            i32::from(*s),
        ),
        _ => {
            let wide = arrow::compute::cast(array, &ArrowType::Decimal128(38, 0)).map_err(|e| {
                invalid(
                    0,
                    format!("cannot convert {} to a decimal: {e}", array.data_type()),
                )
            })?;
            (wide.as_primitive::<Decimal128Type>().iter().collect(), 0)
        }
    };
    let to_scale = i32::from(scale);
    let limit = 10_i128.pow(u32::from(precision));
    let mut out = Vec::with_capacity(units.len());
    for (row, value) in units.into_iter().enumerate() {
        let Some(value) = value else {
            out.push(None);
            continue;
        };
        let shown = || {
            let mut text = String::new();
            crate::codec::text::write_decimal(value, from_scale, &mut text);
            text
        };
        let exact = if to_scale >= from_scale {
            10_i128
                .checked_pow((to_scale - from_scale) as u32)
                .and_then(|factor| value.checked_mul(factor))
        } else {
            let factor = 10_i128.pow((from_scale - to_scale) as u32);
            if value % factor != 0 {
                return Err(invalid(
                    row,
                    format!(
                        "{} has more than {scale} digits after the point, so it is not a {} \
                         without rounding; round it where the data is produced",
                        shown(),
                        field.data_type
                    ),
                ));
            }
            Some(value / factor)
        };
        match exact {
            Some(units) if units.abs() < limit => out.push(Some(units)),
            _ => {
                return Err(invalid(
                    row,
                    format!(
                        "{} has more than {precision} digits as a {}",
                        shown(),
                        field.data_type
                    ),
                ));
            }
        }
    }
    let array = PrimitiveArray::<Decimal128Type>::from(out)
        .with_precision_and_scale(precision, scale as i8)
        .map_err(|e| invalid(0, e.to_string()))?;
    Ok(Arc::new(array))
}

/// A list-like column's rows as (offsets from 0, the elements they span,
/// nulls): any of Arrow's list layouts.
fn list_parts(array: &ArrayRef) -> Result<(Vec<i32>, ArrayRef, Option<NullBuffer>), String> {
    let too_long = || "more than 2^31 elements in one batch".to_string();
    match array.data_type() {
        ArrowType::List(_) => {
            let list = array.as_list::<i32>();
            let offsets = list.value_offsets();
            let base = offsets[0];
            let values = list
                .values()
                .slice(base as usize, (offsets[offsets.len() - 1] - base) as usize);
            Ok((
                offsets.iter().map(|o| o - base).collect(),
                values,
                list.nulls().cloned(),
            ))
        }
        ArrowType::LargeList(_) => {
            let list = array.as_list::<i64>();
            let offsets = list.value_offsets();
            let base = offsets[0];
            let end = offsets[offsets.len() - 1];
            let rebased = offsets
                .iter()
                .map(|o| i32::try_from(o - base).map_err(|_| too_long()))
                .collect::<Result<Vec<_>, _>>()?;
            let values = list.values().slice(base as usize, (end - base) as usize);
            Ok((rebased, values, list.nulls().cloned()))
        }
        ArrowType::FixedSizeList(_, size) => {
            let list = array.as_fixed_size_list();
            let size = *size;
            let offsets = (0..=list.len() as i32)
                .map(|i| i.checked_mul(size).ok_or_else(too_long))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((offsets, list.values().clone(), list.nulls().cloned()))
        }
        ArrowType::ListView(_) | ArrowType::LargeListView(_) => {
            // Views may share and reorder elements: as a plain list first.
            let item = match array.data_type() {
                ArrowType::ListView(item) | ArrowType::LargeListView(item) => item.clone(),
                _ => unreachable!(),
            };
            let plain = arrow::compute::cast(array, &ArrowType::List(item))
                .map_err(|e| format!("cannot read the list view: {e}"))?;
            list_parts(&plain)
        }
        other => Err(format!("{other} is not a list")),
    }
}

/// The row holding element `element` of a list with `offsets`.
fn row_of(offsets: &[i32], element: u64) -> u64 {
    offsets
        .partition_point(|&o| (o as u64) <= element)
        .saturating_sub(1) as u64
}

/// The elements of a list column, converted by the element type's rule
/// (an element's error names its row).
fn list_elements(
    transform: &str,
    field: &Field,
    offsets: &[i32],
    values: &ArrayRef,
    element: ScalarType,
    element_nullable: bool,
    naive: NaiveTimestamps,
) -> Result<ArrayRef> {
    let element_field = Field {
        name: field.name.clone(),
        data_type: element.into(),
        nullable: true,
    };
    let at_row = |error: Error| match error {
        Error::InvalidValue {
            column,
            row: element,
            reason,
        } => {
            let row = row_of(offsets, element);
            let index = element - offsets[row as usize] as u64;
            Error::InvalidValue {
                column,
                row,
                reason: format!("element {index} of the list: {reason}"),
            }
        }
        Error::WrongType {
            transform,
            column,
            expected,
            found,
            hint,
        } => Error::WrongType {
            transform,
            column,
            expected: format!("{} (a list of {expected})", field.data_type),
            found: format!("a list of {found}"),
            hint,
        },
        other => other,
    };
    let converted = coerce(transform, &element_field, values, naive).map_err(at_row)?;
    if !element_nullable && converted.null_count() > 0 {
        let at = (0..converted.len())
            .find(|&i| converted.is_null(i))
            .expect("has nulls") as u64;
        let row = row_of(offsets, at);
        return Err(Error::InvalidValue {
            column: field.name.clone(),
            row,
            reason: format!(
                "element {} of the list is null, but the transform declares its elements \
                 non-nullable ({})",
                at - offsets[row as usize] as u64,
                field.data_type
            ),
        });
    }
    Ok(converted)
}

/// Any of Arrow's list layouts as `list<element>`.
fn list(
    transform: &str,
    field: &Field,
    array: &ArrayRef,
    element: ScalarType,
    element_nullable: bool,
    naive: NaiveTimestamps,
) -> Result<ArrayRef> {
    let invalid = |reason: String| Error::InvalidValue {
        column: field.name.clone(),
        row: 0,
        reason,
    };
    let (offsets, values, nulls) = list_parts(array).map_err(invalid)?;
    let converted = list_elements(
        transform,
        field,
        &offsets,
        &values,
        element,
        element_nullable,
        naive,
    )?;
    let item = Arc::new(ArrowField::new(
        LIST_ITEM,
        element.arrow(),
        element_nullable,
    ));
    let list = ListArray::try_new(item, OffsetBuffer::new(offsets.into()), converted, nulls)
        .map_err(|e| invalid(e.to_string()))?;
    Ok(Arc::new(list))
}

/// Any of Arrow's list layouts as `fixed-size-list<element, size>`, when
/// every row that is not null holds exactly `size` elements (pandas and
/// pyarrow often write embeddings as plain lists).
fn fixed_size_list(
    transform: &str,
    field: &Field,
    array: &ArrayRef,
    element: ScalarType,
    size: u32,
    naive: NaiveTimestamps,
) -> Result<ArrayRef> {
    let invalid = |row: u64, reason: String| Error::InvalidValue {
        column: field.name.clone(),
        row,
        reason,
    };
    let (offsets, values, nulls) = list_parts(array).map_err(|r| invalid(0, r))?;
    // Elements under a null row may be null (Parquet writes them so); those
    // of the other rows may not.
    let converted = list_elements(transform, field, &offsets, &values, element, true, naive)?;
    let size_usize = size as usize;
    let is_null = |row: usize| nulls.as_ref().is_some_and(|n| n.is_null(row));
    let rows = offsets.len() - 1;
    let mut take = Vec::with_capacity(rows * size_usize);
    for row in 0..rows {
        let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
        if is_null(row) {
            // A null row holds `size` placeholder elements.
            take.extend(std::iter::repeat_n(None, size_usize));
            continue;
        }
        if end - start != size_usize {
            return Err(invalid(
                row as u64,
                format!(
                    "the list has {} elements, but the transform takes exactly {size} ({})",
                    end - start,
                    field.data_type
                ),
            ));
        }
        if let Some(at) = (start..end).find(|&i| converted.is_null(i)) {
            return Err(invalid(
                row as u64,
                format!(
                    "element {} of the list is null, but the transform declares its elements \
                     non-nullable ({})",
                    at - start,
                    field.data_type
                ),
            ));
        }
        take.extend((start..end).map(|i| Some(i as u32)));
    }
    let indices = arrow::array::UInt32Array::from(take);
    let mut elements =
        arrow::compute::take(&converted, &indices, None).map_err(|e| invalid(0, e.to_string()))?;
    if elements.null_count() > 0 {
        // Placeholders of null rows are zeros, not nulls: the elements of a
        // fixed-size list are never null.
        elements = arrow::compute::kernels::zip::zip(
            &arrow::array::BooleanArray::from(
                (0..elements.len())
                    .map(|i| elements.is_valid(i))
                    .collect::<Vec<_>>(),
            ),
            &elements,
            &arrow::array::Scalar::new(zero_of(element)),
        )
        .map_err(|e| invalid(0, e.to_string()))?;
    }
    let item = Arc::new(ArrowField::new(LIST_ITEM, element.arrow(), false));
    let list = FixedSizeListArray::try_new(item, size as i32, elements, nulls)
        .map_err(|e| invalid(0, e.to_string()))?;
    Ok(Arc::new(list))
}

/// A one-value array of zero of a float element type.
fn zero_of(element: ScalarType) -> ArrayRef {
    match element {
        ScalarType::Float32 => Arc::new(arrow::array::Float32Array::from(vec![0.0_f32])),
        _ => Arc::new(arrow::array::Float64Array::from(vec![0.0_f64])),
    }
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

#[cfg(test)]
mod tests {
    use arrow::array::{BooleanArray, Float64Array, Int32Array, Int64Array};

    use super::*;

    #[test]
    fn a_near_miss_is_a_few_edits_away_and_never_any_short_name() {
        let near =
            |wanted, candidates: &[&'static str]| near_miss(wanted, candidates.iter().copied());
        assert_eq!(
            near("merchant_category", &["merchant_categroy", "merchant_name"]),
            Some("merchant_categroy")
        );
        assert_eq!(near("hour", &["Hours", "amount"]), Some("Hours"));
        assert_eq!(near("ts", &["id", "user"]), None);
        assert_eq!(near("ts", &["TS"]), Some("TS"));
        assert_eq!(near("ts", &["tx"]), Some("tx"));
        assert_eq!(near("amount", &["amonut", "amount_usd"]), Some("amonut"));
    }
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
            aggregation: None,
        }
    }

    fn batch(array: ArrayRef) -> RecordBatch {
        RecordBatch::try_from_iter([("x", array)]).unwrap()
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
}
