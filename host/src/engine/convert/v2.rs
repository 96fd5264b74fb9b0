//! Contract 0.2.0: columns as byte buffers in Arrow's layout.
//!
//! In, [`WitInput`] lends the guest the Arrow buffers themselves (values,
//! offsets, validity) wherever their layout is the contract's, so the
//! only copy is the one into guest memory; it makes its own bytes only for
//! booleans (Arrow packs them in bits, the contract gives each a byte),
//! offsets that do not start at 0 (a slice), and validity bitmaps that do
//! not start on a byte. Out, [`from_wit`] checks every buffer of the
//! guest's answer against the declared outputs (lengths, offsets, UTF-8,
//! booleans, decimal precision, nulls) before wrapping it as Arrow arrays.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BooleanArray, Date32Array, Decimal128Array,
    FixedSizeListArray, Float32Array, Float64Array, Int32Array, Int64Array, ListArray, RecordBatch,
    StringArray, TimestampMicrosecondArray,
};
use arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{ArrowNativeType, DataType as ArrowType, Field as ArrowField, SchemaRef};

use crate::engine::bindings::v2::skewless::transform::types::{
    BatchParam, BatchResult, ColumnParam, ColumnResult,
};
use crate::error::{Error, Result};
use crate::spec::{DataType, Field, LIST_ITEM, ScalarType, TransformInfo, UTC};

#[cfg(target_endian = "big")]
compile_error!("the contract's buffers are little-endian, as Arrow's are on this target");

/// One column's buffers, borrowed from Arrow where the layout allows.
struct Buffers<'a> {
    values: Cow<'a, [u8]>,
    offsets: Option<Cow<'a, [u8]>>,
    validity: Option<Cow<'a, [u8]>>,
    element_offsets: Option<Cow<'a, [u8]>>,
    element_validity: Option<Cow<'a, [u8]>>,
}

/// The guest-call view of prepared input columns (of their declared types).
pub(crate) struct WitInput<'a> {
    rows: usize,
    columns: Vec<Buffers<'a>>,
}

impl<'a> WitInput<'a> {
    /// The buffers of `arrays` (from [`super::prepare_input`], so each has
    /// its declared type exactly).
    pub(crate) fn new(arrays: &'a [ArrayRef], rows: usize) -> Self {
        WitInput {
            rows,
            columns: arrays.iter().map(|array| buffers(array.as_ref())).collect(),
        }
    }

    /// The columns to pass to the guest, borrowing from `self`.
    pub(crate) fn columns(&self) -> Vec<ColumnParam<'_>> {
        self.columns
            .iter()
            .map(|b| ColumnParam {
                values: &b.values,
                offsets: b.offsets.as_deref(),
                validity: b.validity.as_deref(),
                element_offsets: b.element_offsets.as_deref(),
                element_validity: b.element_validity.as_deref(),
            })
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

fn buffers(array: &dyn Array) -> Buffers<'_> {
    let len = array.len();
    let validity = validity(array, 0, len);
    match array.data_type() {
        ArrowType::List(_) => {
            let list = array.as_list::<i32>();
            let offsets = list.value_offsets();
            let (start, end) = (offsets[0] as usize, offsets[len] as usize);
            let child = list.values().as_ref();
            let (values, element_offsets) = scalar_buffers(child, start, end - start);
            Buffers {
                values,
                offsets: Some(rebased(offsets)),
                validity,
                element_offsets,
                element_validity: validity_of(child, start, end - start),
            }
        }
        ArrowType::FixedSizeList(..) => {
            let child = array.as_fixed_size_list().values().as_ref();
            let (values, _) = scalar_buffers(child, 0, child.len());
            Buffers {
                values,
                offsets: None,
                validity,
                element_offsets: None,
                element_validity: None,
            }
        }
        _ => {
            let (values, offsets) = scalar_buffers(array, 0, len);
            Buffers {
                values,
                offsets,
                validity,
                element_offsets: None,
                element_validity: None,
            }
        }
    }
}

/// The validity bitmap of `array`'s rows `start..start + len`, when any of
/// them is null.
fn validity(array: &dyn Array, start: usize, len: usize) -> Option<Cow<'_, [u8]>> {
    let nulls = array.nulls()?.slice(start, len);
    if nulls.null_count() == 0 {
        return None;
    }
    Some(bitmap(array.nulls()?, start, len))
}

/// Like [`validity`], for a list's elements.
fn validity_of(child: &dyn Array, start: usize, len: usize) -> Option<Cow<'_, [u8]>> {
    validity(child, start, len)
}

/// Bits `start..start + len` of `nulls` as whole bytes: borrowed when they
/// start on a byte.
fn bitmap(nulls: &NullBuffer, start: usize, len: usize) -> Cow<'_, [u8]> {
    let bit = nulls.offset() + start;
    if bit.is_multiple_of(8) {
        let first = bit / 8;
        Cow::Borrowed(&nulls.inner().inner().as_slice()[first..first + len.div_ceil(8)])
    } else {
        Cow::Owned(nulls.inner().slice(start, len).sliced().as_slice().to_vec())
    }
}

/// `offsets` rebased to start at 0, as bytes: borrowed when they already do.
fn rebased(offsets: &[i32]) -> Cow<'_, [u8]> {
    if offsets.first() == Some(&0) {
        Cow::Borrowed(as_bytes(offsets))
    } else {
        let base = offsets.first().copied().unwrap_or(0);
        Cow::Owned(
            offsets
                .iter()
                .flat_map(|&o| ((o - base) as u32).to_le_bytes())
                .collect(),
        )
    }
}

/// A slice of plain numbers as its bytes (little-endian, as the contract).
fn as_bytes<T: ArrowNativeType>(values: &[T]) -> &[u8] {
    // SAFETY: `T` is a plain number type (no padding, every byte
    // initialised); the byte slice covers exactly the same memory, and u8
    // has alignment 1.
    unsafe { std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), size_of_val(values)) }
}

/// The values (and, for text and bytes, the offsets) of rows
/// `start..start + len` of a scalar array of a contract type.
fn scalar_buffers(
    array: &dyn Array,
    start: usize,
    len: usize,
) -> (Cow<'_, [u8]>, Option<Cow<'_, [u8]>>) {
    use arrow::datatypes::{
        Date32Type, Decimal128Type, Float32Type, Float64Type, Int32Type, Int64Type,
        TimestampMicrosecondType,
    };
    let range = start..start + len;
    let primitive = match array.data_type() {
        ArrowType::Boolean => {
            let bits = array.as_boolean().values().slice(start, len);
            return (Cow::Owned(bits.iter().map(u8::from).collect()), None);
        }
        ArrowType::Int32 => as_bytes(&array.as_primitive::<Int32Type>().values()[range]),
        ArrowType::Date32 => as_bytes(&array.as_primitive::<Date32Type>().values()[range]),
        ArrowType::Int64 => as_bytes(&array.as_primitive::<Int64Type>().values()[range]),
        ArrowType::Timestamp(..) => {
            as_bytes(&array.as_primitive::<TimestampMicrosecondType>().values()[range])
        }
        ArrowType::Float32 => as_bytes(&array.as_primitive::<Float32Type>().values()[range]),
        ArrowType::Float64 => as_bytes(&array.as_primitive::<Float64Type>().values()[range]),
        ArrowType::Decimal128(..) => {
            as_bytes(&array.as_primitive::<Decimal128Type>().values()[range])
        }
        ArrowType::Utf8 => {
            let strings = array.as_string::<i32>();
            return bytes_and_offsets(strings.value_offsets(), strings.values(), start, len);
        }
        ArrowType::Binary => {
            let bytes = array.as_binary::<i32>();
            return bytes_and_offsets(bytes.value_offsets(), bytes.values(), start, len);
        }
        other => unreachable!("prepare_input converts every column, found {other}"),
    };
    (Cow::Borrowed(primitive), None)
}

fn bytes_and_offsets<'a>(
    offsets: &'a [i32],
    data: &'a [u8],
    start: usize,
    len: usize,
) -> (Cow<'a, [u8]>, Option<Cow<'a, [u8]>>) {
    let offsets = &offsets[start..=start + len];
    let (first, last) = (offsets[0] as usize, offsets[len] as usize);
    (Cow::Borrowed(&data[first..last]), Some(rebased(offsets)))
}

/// Checks the guest's output against the declaration and wraps it as a
/// `RecordBatch` with `schema` (the declared outputs).
pub(crate) fn from_wit(
    info: &TransformInfo,
    fields: &[Field],
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
    if output.columns.len() != fields.len() {
        return Err(invalid(format!(
            "{} columns, but it declares {} outputs",
            output.columns.len(),
            fields.len()
        )));
    }
    let arrays = output
        .columns
        .into_iter()
        .zip(fields)
        .map(|(column, field)| {
            output_array(field, rows, column)
                .map_err(|reason| invalid(format!("column `{}`: {reason}", field.name)))
        })
        .collect::<Result<Vec<_>>>()?;
    let options = arrow::array::RecordBatchOptions::new().with_row_count(Some(rows));
    RecordBatch::try_new_with_options(schema.clone(), arrays, &options)
        .map_err(|e| invalid(e.to_string()))
}

fn output_array(field: &Field, rows: usize, column: ColumnResult) -> Result<ArrayRef, String> {
    let nulls = nulls(column.validity, rows, "its validity bitmap")?;
    if let Some(nulls) = &nulls
        && !field.nullable
    {
        let row = (0..rows).find(|&i| nulls.is_null(i)).expect("has nulls");
        return Err(format!(
            "row {row} is null, but the column is declared non-nullable"
        ));
    }
    let unexpected =
        |what: &str| format!("it has {what}, which a {} column has not", field.data_type);
    match field.data_type {
        DataType::List {
            element,
            element_nullable,
        } => {
            let offsets = offsets(column.offsets.as_deref(), rows, "its list offsets")?;
            let elements = offsets.last().copied().unwrap_or(0) as usize;
            let element_nulls =
                nulls_checked(column.element_validity, elements, "its elements' validity")?;
            if let Some(element_nulls) = &element_nulls
                && !element_nullable
            {
                let at = (0..elements)
                    .find(|&i| element_nulls.is_null(i))
                    .expect("has nulls");
                return Err(format!(
                    "element {at} is null, but its elements are declared non-nullable"
                ));
            }
            let values = scalar_array(
                element,
                elements,
                column.values,
                column.element_offsets,
                element_nulls,
            )
            .map_err(|reason| format!("its elements: {reason}"))?;
            let item = Arc::new(ArrowField::new(
                LIST_ITEM,
                element.arrow(),
                element_nullable,
            ));
            // SAFETY-free: `try_new` checks offsets against the values.
            let list = ListArray::try_new(
                item,
                OffsetBuffer::new(ScalarBuffer::from(offsets)),
                values,
                nulls,
            )
            .map_err(|e| e.to_string())?;
            Ok(Arc::new(list))
        }
        DataType::FixedSizeList { element, size } => {
            if column.offsets.is_some() || column.element_offsets.is_some() {
                return Err(unexpected("offsets"));
            }
            if column.element_validity.is_some() {
                return Err(unexpected("null elements"));
            }
            let elements = rows.checked_mul(size as usize).ok_or("too many elements")?;
            let values = scalar_array(element, elements, column.values, None, None)
                .map_err(|reason| format!("its elements: {reason}"))?;
            let item = Arc::new(ArrowField::new(LIST_ITEM, element.arrow(), false));
            let list = FixedSizeListArray::try_new(item, size as i32, values, nulls)
                .map_err(|e| e.to_string())?;
            Ok(Arc::new(list))
        }
        scalar => {
            if column.element_offsets.is_some() || column.element_validity.is_some() {
                return Err(unexpected("list elements"));
            }
            let scalar = scalar.scalar().expect("lists are matched above");
            scalar_array(scalar, rows, column.values, column.offsets, nulls)
        }
    }
}

/// `bits` as the validity of `len` values, checked; `None` when every
/// value is valid.
fn nulls(bits: Option<Vec<u8>>, len: usize, what: &str) -> Result<Option<NullBuffer>, String> {
    nulls_checked(bits, len, what)
}

fn nulls_checked(
    bits: Option<Vec<u8>>,
    len: usize,
    what: &str,
) -> Result<Option<NullBuffer>, String> {
    let Some(bits) = bits else {
        return Ok(None);
    };
    if bits.len() != len.div_ceil(8) {
        return Err(format!(
            "{what} has {} bytes, expected {} for {len} values",
            bits.len(),
            len.div_ceil(8)
        ));
    }
    let nulls = NullBuffer::new(BooleanBuffer::new(Buffer::from_vec(bits), 0, len));
    Ok((nulls.null_count() > 0).then_some(nulls))
}

/// `bytes` as `count + 1` offsets that start at 0 and never decrease.
fn offsets(bytes: Option<&[u8]>, count: usize, what: &str) -> Result<Vec<i32>, String> {
    let bytes = bytes.ok_or_else(|| format!("{what} are missing"))?;
    if bytes.len() != (count + 1) * 4 {
        return Err(format!(
            "{what} have {} bytes, expected {} for {count} values",
            bytes.len(),
            (count + 1) * 4
        ));
    }
    let mut offsets = Vec::with_capacity(count + 1);
    let mut previous = 0_u32;
    for (index, chunk) in bytes.chunks_exact(4).enumerate() {
        let offset = u32::from_le_bytes(chunk.try_into().expect("4 bytes"));
        if index == 0 && offset != 0 {
            return Err(format!(
                "{what} start at {offset}, not 0 (the contract's offsets start at 0)"
            ));
        }
        if offset < previous || offset > i32::MAX as u32 {
            return Err(format!(
                "{what}: offset {index} ({offset}) is out of order or beyond 2 GiB"
            ));
        }
        previous = offset;
        offsets.push(offset as i32);
    }
    Ok(offsets)
}

/// The `len` values of a scalar type from the guest's bytes.
fn scalar_array(
    scalar: ScalarType,
    len: usize,
    values: Vec<u8>,
    offsets_bytes: Option<Vec<u8>>,
    nulls: Option<NullBuffer>,
) -> Result<ArrayRef, String> {
    let fixed = |width: usize| -> Result<(), String> {
        if offsets_bytes.is_some() {
            return Err(format!("it has offsets, which {scalar} values have not"));
        }
        if values.len() != len * width {
            return Err(format!(
                "{} bytes of values for {len} values of {width} bytes",
                values.len()
            ));
        }
        Ok(())
    };
    Ok(match scalar {
        ScalarType::Boolean => {
            fixed(1)?;
            if let Some(at) = values.iter().position(|&b| b > 1) {
                return Err(format!(
                    "value {at} is the byte {}, not a boolean (0 or 1)",
                    values[at]
                ));
            }
            Arc::new(BooleanArray::new(
                BooleanBuffer::from_iter(values.iter().map(|&b| b == 1)),
                nulls,
            ))
        }
        ScalarType::Int32 => {
            fixed(4)?;
            Arc::new(Int32Array::new(scalars(values, len), nulls))
        }
        ScalarType::Date => {
            fixed(4)?;
            Arc::new(Date32Array::new(scalars(values, len), nulls))
        }
        ScalarType::Int64 => {
            fixed(8)?;
            Arc::new(Int64Array::new(scalars(values, len), nulls))
        }
        ScalarType::TimestampMicros => {
            fixed(8)?;
            Arc::new(TimestampMicrosecondArray::new(scalars(values, len), nulls).with_timezone(UTC))
        }
        ScalarType::Float32 => {
            fixed(4)?;
            Arc::new(Float32Array::new(scalars(values, len), nulls))
        }
        ScalarType::Float64 => {
            fixed(8)?;
            Arc::new(Float64Array::new(scalars(values, len), nulls))
        }
        ScalarType::Decimal { precision, scale } => {
            fixed(16)?;
            let array = Decimal128Array::new(scalars(values, len), nulls)
                .with_precision_and_scale(precision, scale as i8)
                .map_err(|e| e.to_string())?;
            let limit = 10_i128.pow(u32::from(precision));
            if let Some(row) = (0..len)
                .find(|&i| array.is_valid(i) && array.value(i).unsigned_abs() >= limit as u128)
            {
                return Err(format!(
                    "value {row} has more than {precision} digits (declared {})",
                    DataType::from(scalar)
                ));
            }
            Arc::new(array)
        }
        ScalarType::Utf8 => {
            let offsets = offsets(offsets_bytes.as_deref(), len, "its string offsets")?;
            check_text(&offsets, &values)?;
            // SAFETY: `offsets` start at 0 and never decrease (checked by
            // `offsets`), end within `values` and on character boundaries
            // of valid UTF-8 (checked by `check_text`).
            let array = unsafe {
                StringArray::new_unchecked(
                    OffsetBuffer::new_unchecked(ScalarBuffer::from(offsets)),
                    Buffer::from_vec(values),
                    nulls,
                )
            };
            Arc::new(array)
        }
        ScalarType::Binary => {
            let offsets = offsets(offsets_bytes.as_deref(), len, "its offsets")?;
            if offsets.last().copied().unwrap_or(0) as usize != values.len() {
                return Err(format!(
                    "its offsets end at {}, but it has {} bytes",
                    offsets.last().copied().unwrap_or(0),
                    values.len()
                ));
            }
            Arc::new(BinaryArray::new(
                OffsetBuffer::new(ScalarBuffer::from(offsets)),
                Buffer::from_vec(values),
                nulls,
            ))
        }
    })
}

/// `bytes` as `len` values of `T`: in place when the allocation is aligned
/// for `T` (it is, from any allocator this host runs on), else copied.
fn scalars<T: ArrowNativeType>(bytes: Vec<u8>, len: usize) -> ScalarBuffer<T> {
    let buffer = Buffer::from_vec(bytes);
    if buffer.as_ptr().align_offset(align_of::<T>()) == 0 {
        ScalarBuffer::new(buffer, 0, len)
    } else {
        ScalarBuffer::new(Buffer::from_slice_ref(buffer.as_slice()), 0, len)
    }
}

/// Text offsets end at the data's end, on character boundaries of valid
/// UTF-8.
fn check_text(offsets: &[i32], data: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(data).map_err(|e| {
        let row = offsets
            .partition_point(|&o| (o as usize) <= e.valid_up_to())
            .saturating_sub(1);
        format!("row {row} is not valid UTF-8")
    })?;
    if offsets.last().copied().unwrap_or(0) as usize != data.len() {
        return Err(format!(
            "its string offsets end at {}, but it has {} bytes of text",
            offsets.last().copied().unwrap_or(0),
            data.len()
        ));
    }
    for (index, &offset) in offsets.iter().enumerate() {
        if !text.is_char_boundary(offset as usize) {
            return Err(format!(
                "row {} splits a UTF-8 character",
                index.saturating_sub(1)
            ));
        }
    }
    Ok(())
}
