//! The engine's values: one event value (or key) at a time, with the one
//! total order and the one equality every aggregate uses, and the way in
//! and out of Arrow columns.
//!
//! Order (for `min`, `max`, and ordering events of the same time): null
//! first; integers, timestamps, dates and decimals numerically; floats by
//! IEEE 754 totalOrder (`-NaN < -inf < ... < -0.0 < +0.0 < ... < +inf <
//! +NaN`); booleans `false < true`; text and bytes by their bytes.
//! Equality (for `count_distinct`): floats by their bits (so `0.0` and
//! `-0.0` are two values, and a NaN equals a NaN of the same bits), the
//! rest by value.

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use compact_str::CompactString;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder,
    Float32Builder, Float64Builder, Int32Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int32Type, Int64Type,
    TimestampMicrosecondType,
};

use crate::spec::{DataType, ScalarType, UTC};

/// One value of a scalar type.
#[derive(Clone, Debug)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    /// int32, int64, timestamp-micros and date values.
    Int(i64),
    F32(f32),
    F64(f64),
    Decimal(i128),
    /// Text of up to 24 bytes is held inline: keys, merchants and
    /// categories mostly are, so the state and the accumulators that
    /// clone them allocate nothing for them.
    Text(CompactString),
    Bytes(Box<[u8]>),
}

impl Value {
    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Rank of the variant, so that values of different kinds (which one
    /// column never mixes) still have an order.
    fn rank(&self) -> u8 {
        match self {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Int(_) => 2,
            Value::F32(_) => 3,
            Value::F64(_) => 4,
            Value::Decimal(_) => 5,
            Value::Text(_) => 6,
            Value::Bytes(_) => 7,
        }
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Value::Null, Value::Null) => Ordering::Equal,
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (Value::Int(a), Value::Int(b)) => a.cmp(b),
            (Value::F32(a), Value::F32(b)) => a.total_cmp(b),
            (Value::F64(a), Value::F64(b)) => a.total_cmp(b),
            (Value::Decimal(a), Value::Decimal(b)) => a.cmp(b),
            (Value::Text(a), Value::Text(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Value::Bytes(a), Value::Bytes(b)) => a.cmp(b),
            (a, b) => a.rank().cmp(&b.rank()),
        }
    }
}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Equal exactly when the order says so: floats by totalOrder, which
/// compares their bits (`0.0 != -0.0`, a NaN equals a NaN of its bits).
impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Value {}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.rank().hash(state);
        match self {
            Value::Null => {}
            Value::Bool(v) => v.hash(state),
            Value::Int(v) => v.hash(state),
            Value::F32(v) => v.to_bits().hash(state),
            Value::F64(v) => v.to_bits().hash(state),
            Value::Decimal(v) => v.hash(state),
            Value::Text(v) => v.hash(state),
            Value::Bytes(v) => v.hash(state),
        }
    }
}

/// The bytes of values as the durable state keeps them (see
/// [`crate::aggregate::live`]): a tag, then the value, little-endian,
/// text and bytes after their length.
impl Value {
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.rank());
        match self {
            Value::Null => {}
            Value::Bool(v) => out.push(u8::from(*v)),
            Value::Int(v) => out.extend_from_slice(&v.to_le_bytes()),
            Value::F32(v) => out.extend_from_slice(&v.to_bits().to_le_bytes()),
            Value::F64(v) => out.extend_from_slice(&v.to_bits().to_le_bytes()),
            Value::Decimal(v) => out.extend_from_slice(&v.to_le_bytes()),
            Value::Text(v) => {
                out.extend_from_slice(&(v.len() as u64).to_le_bytes());
                out.extend_from_slice(v.as_bytes());
            }
            Value::Bytes(v) => {
                out.extend_from_slice(&(v.len() as u64).to_le_bytes());
                out.extend_from_slice(v);
            }
        }
    }

    /// The value [`Value::encode`] wrote at the start of `bytes`, which
    /// moves past it; `None` when the bytes are not one.
    pub(crate) fn decode(bytes: &mut &[u8]) -> Option<Value> {
        fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
            let (head, rest) = bytes.split_at_checked(n)?;
            *bytes = rest;
            Some(head)
        }
        fn word<const N: usize>(bytes: &mut &[u8]) -> Option<[u8; N]> {
            take(bytes, N)?.try_into().ok()
        }
        let tag = take(bytes, 1)?[0];
        Some(match tag {
            0 => Value::Null,
            1 => Value::Bool(take(bytes, 1)?[0] != 0),
            2 => Value::Int(i64::from_le_bytes(word(bytes)?)),
            3 => Value::F32(f32::from_bits(u32::from_le_bytes(word(bytes)?))),
            4 => Value::F64(f64::from_bits(u64::from_le_bytes(word(bytes)?))),
            5 => Value::Decimal(i128::from_le_bytes(word(bytes)?)),
            6 | 7 => {
                let length = usize::try_from(u64::from_le_bytes(word(bytes)?)).ok()?;
                let data = take(bytes, length)?;
                if tag == 6 {
                    Value::Text(std::str::from_utf8(data).ok()?.into())
                } else {
                    Value::Bytes(data.into())
                }
            }
            _ => return None,
        })
    }
}

/// Reads values of one scalar type out of an Arrow column (of exactly the
/// type [`crate::spec::DataType::arrow`] gives it).
pub(crate) fn read(array: &dyn Array, scalar: ScalarType, row: usize) -> Value {
    if array.is_null(row) {
        return Value::Null;
    }
    match scalar {
        ScalarType::Boolean => Value::Bool(array.as_boolean().value(row)),
        ScalarType::Int32 => Value::Int(i64::from(array.as_primitive::<Int32Type>().value(row))),
        ScalarType::Int64 => Value::Int(array.as_primitive::<Int64Type>().value(row)),
        ScalarType::TimestampMicros => {
            Value::Int(array.as_primitive::<TimestampMicrosecondType>().value(row))
        }
        ScalarType::Date => Value::Int(i64::from(array.as_primitive::<Date32Type>().value(row))),
        ScalarType::Float32 => Value::F32(array.as_primitive::<Float32Type>().value(row)),
        ScalarType::Float64 => Value::F64(array.as_primitive::<Float64Type>().value(row)),
        ScalarType::Decimal { .. } => {
            Value::Decimal(array.as_primitive::<Decimal128Type>().value(row))
        }
        ScalarType::Utf8 => Value::Text(array.as_string::<i32>().value(row).into()),
        ScalarType::Binary => Value::Bytes(array.as_binary::<i32>().value(row).into()),
    }
}

/// Builds an Arrow column of a declared type from values.
pub(crate) enum Builder {
    Boolean(BooleanBuilder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Timestamp(TimestampMicrosecondBuilder),
    Date(Date32Builder),
    F32(Float32Builder),
    F64(Float64Builder),
    Decimal(Decimal128Builder),
    Text(StringBuilder),
    Bytes(BinaryBuilder),
    /// A list of values of one scalar type (`last_n`).
    List(Box<ListBuilder<Builder>>),
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Builder")
    }
}

impl arrow::array::ArrayBuilder for Builder {
    fn len(&self) -> usize {
        self.inner().len()
    }
    fn finish(&mut self) -> ArrayRef {
        self.inner_mut().finish()
    }
    fn finish_cloned(&self) -> ArrayRef {
        self.inner().finish_cloned()
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
    fn into_box_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}

impl Builder {
    /// A builder of columns of `data_type` (a scalar, or a list of one).
    pub(crate) fn new(data_type: DataType) -> Builder {
        match data_type {
            DataType::List { element, .. } => {
                let item = Arc::new(arrow::datatypes::Field::new(
                    crate::spec::LIST_ITEM,
                    element.arrow(),
                    false,
                ));
                Builder::List(Box::new(
                    ListBuilder::new(Builder::new(element.into())).with_field(item),
                ))
            }
            DataType::FixedSizeList { .. } => unreachable!("no aggregate gives embeddings"),
            scalar => match scalar.scalar().expect("a scalar") {
                ScalarType::Boolean => Builder::Boolean(BooleanBuilder::new()),
                ScalarType::Int32 => Builder::Int32(Int32Builder::new()),
                ScalarType::Int64 => Builder::Int64(Int64Builder::new()),
                ScalarType::TimestampMicros => {
                    Builder::Timestamp(TimestampMicrosecondBuilder::new().with_timezone(UTC))
                }
                ScalarType::Date => Builder::Date(Date32Builder::new()),
                ScalarType::Float32 => Builder::F32(Float32Builder::new()),
                ScalarType::Float64 => Builder::F64(Float64Builder::new()),
                ScalarType::Decimal { precision, scale } => Builder::Decimal(
                    Decimal128Builder::new()
                        .with_precision_and_scale(precision, scale as i8)
                        .expect("a declared decimal type"),
                ),
                ScalarType::Utf8 => Builder::Text(StringBuilder::new()),
                ScalarType::Binary => Builder::Bytes(BinaryBuilder::new()),
            },
        }
    }

    fn inner(&self) -> &dyn arrow::array::ArrayBuilder {
        match self {
            Builder::Boolean(b) => b,
            Builder::Int32(b) => b,
            Builder::Int64(b) => b,
            Builder::Timestamp(b) => b,
            Builder::Date(b) => b,
            Builder::F32(b) => b,
            Builder::F64(b) => b,
            Builder::Decimal(b) => b,
            Builder::Text(b) => b,
            Builder::Bytes(b) => b,
            Builder::List(b) => b.as_ref(),
        }
    }

    fn inner_mut(&mut self) -> &mut dyn arrow::array::ArrayBuilder {
        match self {
            Builder::Boolean(b) => b,
            Builder::Int32(b) => b,
            Builder::Int64(b) => b,
            Builder::Timestamp(b) => b,
            Builder::Date(b) => b,
            Builder::F32(b) => b,
            Builder::F64(b) => b,
            Builder::Decimal(b) => b,
            Builder::Text(b) => b,
            Builder::Bytes(b) => b,
            Builder::List(b) => b.as_mut(),
        }
    }

    /// Appends `value` (of this builder's type; a list for a list builder).
    pub(crate) fn push(&mut self, value: &Value) {
        match (self, value) {
            (Builder::Boolean(b), Value::Bool(v)) => b.append_value(*v),
            (Builder::Int32(b), Value::Int(v)) => b.append_value(*v as i32),
            (Builder::Int64(b), Value::Int(v)) => b.append_value(*v),
            (Builder::Timestamp(b), Value::Int(v)) => b.append_value(*v),
            (Builder::Date(b), Value::Int(v)) => b.append_value(*v as i32),
            (Builder::F32(b), Value::F32(v)) => b.append_value(*v),
            (Builder::F64(b), Value::F64(v)) => b.append_value(*v),
            (Builder::Decimal(b), Value::Decimal(v)) => b.append_value(*v),
            (Builder::Text(b), Value::Text(v)) => b.append_value(v),
            (Builder::Bytes(b), Value::Bytes(v)) => b.append_value(v),
            (builder, Value::Null) => builder.push_null(),
            (builder, value) => unreachable!("a {value:?} for {builder:?}"),
        }
    }

    /// Appends a list of `values` (a list builder).
    pub(crate) fn push_list<'a>(&mut self, values: impl Iterator<Item = &'a Value>) {
        let Builder::List(list) = self else {
            unreachable!("a list for a scalar builder")
        };
        for value in values {
            list.values().push(value);
        }
        list.append(true);
    }

    fn push_null(&mut self) {
        match self {
            Builder::Boolean(b) => b.append_null(),
            Builder::Int32(b) => b.append_null(),
            Builder::Int64(b) => b.append_null(),
            Builder::Timestamp(b) => b.append_null(),
            Builder::Date(b) => b.append_null(),
            Builder::F32(b) => b.append_null(),
            Builder::F64(b) => b.append_null(),
            Builder::Decimal(b) => b.append_null(),
            Builder::Text(b) => b.append_null(),
            Builder::Bytes(b) => b.append_null(),
            Builder::List(b) => b.append_null(),
        }
    }

    /// The column built so far.
    pub(crate) fn finish(&mut self) -> ArrayRef {
        self.inner_mut().finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_order_and_compare_by_total_order() {
        let mut values = [
            Value::F64(1.0),
            Value::F64(f64::NAN),
            Value::F64(-f64::NAN),
            Value::F64(0.0),
            Value::F64(-0.0),
            Value::F64(f64::NEG_INFINITY),
            Value::F64(f64::INFINITY),
        ];
        values.sort();
        let bits: Vec<u64> = values
            .iter()
            .map(|v| match v {
                Value::F64(f) => f.to_bits(),
                _ => unreachable!(),
            })
            .collect();
        let expected: Vec<u64> = [
            -f64::NAN,
            f64::NEG_INFINITY,
            -0.0,
            0.0,
            1.0,
            f64::INFINITY,
            f64::NAN,
        ]
        .iter()
        .map(|f| f.to_bits())
        .collect();
        assert_eq!(bits, expected);
        assert_ne!(Value::F64(0.0), Value::F64(-0.0));
        assert_eq!(Value::F64(f64::NAN), Value::F64(f64::NAN));
        assert!(Value::Null < Value::Int(i64::MIN));
        assert!(Value::Text("b".into()) > Value::Text("a".into()));
    }
}
