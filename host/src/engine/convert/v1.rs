//! Contract 0.1.0: columns as typed lists (`list<f64>`, `list<bool>`, a
//! utf8 array of offsets and bytes), for components built before 0.2.0.
//! They load and run unchanged, with the same bits.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float32Array, Float64Array, Int32Array, Int64Array,
    RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{
    DataType as ArrowType, Float32Type, Float64Type, Int32Type, Int64Type, SchemaRef, TimeUnit,
    TimestampMicrosecondType,
};

use super::check_utf8_layout;
use crate::engine::bindings::v1::skewless::transform::types::{
    BatchParam, BatchResult, ColumnParam, ColumnResult, Utf8ArrayParam, ValuesParam, ValuesResult,
};
use crate::error::{Error, Result};
use crate::spec::{DataType, Field, TransformInfo, UTC};

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
    use crate::spec::NaiveTimestamps;

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
        let arrays = super::super::prepare_input(
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
    fn output_checks_name_the_problem() {
        let schema = info(DataType::Utf8, false).output_schema();
        let column = |offsets: Vec<u32>, data: &[u8], validity: Option<Vec<u8>>| BatchResult {
            num_rows: 2,
            columns: vec![ColumnResult {
                values: ValuesResult::Utf8(
                    crate::engine::bindings::v1::skewless::transform::types::Utf8ArrayResult {
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
