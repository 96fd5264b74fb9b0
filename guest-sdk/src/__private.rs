//! What the `#[transform]`, `#[events]` and derive expansions call: the
//! WIT bindings, typed column readers and builders over the contract's
//! byte buffers, and the row loop's helpers. Not a public API; names here
//! may change in any release.
//!
//! Columns arrive as byte buffers in Arrow's layout (`wit/transform.wit`,
//! `column`). A reader checks a column once per batch (its length, its
//! offsets, its UTF-8) and then reads each row in place: a number is a
//! load, a `&str` or `&[f32]` a slice of the buffer. A builder writes rows
//! into the same layout.

use crate::{DataType, Date, Decimal, Features, Field, ScalarType, Timestamp};

pub use wit_bindgen;

wit_bindgen::generate!({
    path: "../wit",
    world: "transform",
    pub_export_macro: true,
    export_macro_name: "export",
    default_bindings_module: "::skewless_guest::__private",
    runtime_path: "::skewless_guest::__private::wit_bindgen::rt",
});

pub use self::skewless::transform::types::{
    Aggregate as WitAggregate, AggregateFunction as WitAggregateFunction,
    Aggregation as WitAggregation, Column, DataType as WitDataType, DecimalType as WitDecimalType,
    Field as WitField, FixedSizeListType as WitFixedSizeListType, ListType as WitListType,
    RowError, ScalarType as WitScalarType,
};

/// Asks the host to start the CPU budget for rows from `row` on; returns
/// how many rows may run before `end_rows` (natively: all of them).
#[inline(always)]
pub fn start_rows(row: usize) -> usize {
    #[cfg(target_arch = "wasm32")]
    return skewless::transform::host::start_rows(row as u32).max(1) as usize;
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = row;
        usize::MAX
    }
}

/// Ends the rows started by `start_rows` (a host call on wasm; nothing
/// natively).
#[inline(always)]
pub fn end_rows() {
    #[cfg(target_arch = "wasm32")]
    skewless::transform::host::end_rows();
}

fn wit_scalar(scalar: ScalarType) -> WitScalarType {
    match scalar {
        ScalarType::Boolean => WitScalarType::Boolean,
        ScalarType::Int32 => WitScalarType::Int32,
        ScalarType::Int64 => WitScalarType::Int64,
        ScalarType::Float32 => WitScalarType::Float32,
        ScalarType::Float64 => WitScalarType::Float64,
        ScalarType::Utf8 => WitScalarType::Utf8,
        ScalarType::TimestampMicros => WitScalarType::TimestampMicros,
        ScalarType::Date => WitScalarType::Date,
        ScalarType::Decimal { precision, scale } => {
            WitScalarType::Decimal(WitDecimalType { precision, scale })
        }
        ScalarType::Binary => WitScalarType::Binary,
    }
}

fn wit_data_type(data_type: DataType) -> WitDataType {
    match data_type {
        DataType::Scalar(scalar) => WitDataType::Scalar(wit_scalar(scalar)),
        DataType::List {
            element,
            element_nullable,
        } => WitDataType::List(WitListType {
            element: wit_scalar(element),
            element_nullable,
        }),
        DataType::FixedSizeList { element, size } => {
            WitDataType::FixedSizeList(WitFixedSizeListType {
                element: wit_scalar(element),
                size,
            })
        }
    }
}

/// The contract's form of a field.
pub fn wit_field(field: &Field) -> WitField {
    WitField {
        name: field.name.to_string(),
        data_type: wit_data_type(field.data_type),
        nullable: field.nullable,
    }
}

/// Builds the `describe` answer from what the macros know.
pub fn describe<F: Features>(
    name: &str,
    version: &str,
    description: &str,
    inputs: &[&[Field]],
    aggregation: Option<WitAggregation>,
) -> TransformInfo {
    TransformInfo {
        name: name.to_string(),
        version: version.to_string(),
        description: description.to_string(),
        inputs: inputs
            .iter()
            .flat_map(|f| f.iter())
            .map(wit_field)
            .collect(),
        outputs: F::FIELDS.iter().map(wit_field).collect(),
        aggregation,
    }
}

/// The input `Field` of an argument of type `T` named `name`.
pub const fn input_field<'a, T: Input<'a>>(name: &'static str) -> Field {
    Field {
        name,
        data_type: T::DATA_TYPE,
        nullable: T::NULLABLE,
    }
}

/// Checks the batch's shape and returns its row count.
pub fn check_batch(batch: &Batch, inputs: usize) -> Result<usize, TransformError> {
    if batch.columns.len() != inputs {
        return Err(TransformError::InvalidInput(format!(
            "expected {inputs} input columns, got {}",
            batch.columns.len()
        )));
    }
    Ok(batch.num_rows as usize)
}

/// A row failed: the user's function returned an error, or a null reached
/// a non-`Option` argument.
pub fn row_failed(row: usize, message: impl std::fmt::Display) -> TransformError {
    TransformError::Failed(RowError {
        row: row as u32,
        message: message.to_string(),
    })
}

/// A null in a column whose argument is not an `Option`.
#[derive(Debug)]
pub struct UnexpectedNull;

/// The reader's error for a null in a non-nullable column.
pub fn null_in(row: usize, column: &str) -> TransformError {
    TransformError::InvalidInput(format!(
        "row {row}: column `{column}` is null but the transform's argument is not an `Option`"
    ))
}

/// The `events` export of a transform without aggregations.
pub fn no_events() -> Result<Batch, TransformError> {
    Err(TransformError::InvalidInput(
        "this transform declares no aggregations, so it takes no events".into(),
    ))
}

/// Whether bit `index` of `bits` is set.
///
/// # Safety
///
/// `bits`, when present, has at least `index / 8 + 1` bytes.
#[inline(always)]
unsafe fn is_set(bits: Option<&[u8]>, index: usize) -> bool {
    match bits {
        None => true,
        Some(bits) => {
            // SAFETY: the caller guarantees the byte exists.
            let byte = unsafe { *bits.get_unchecked(index / 8) };
            byte & (1 << (index % 8)) != 0
        }
    }
}

fn invalid(name: &str, why: impl std::fmt::Display) -> TransformError {
    TransformError::InvalidInput(format!("column `{name}`: {why}"))
}

fn check_bitmap<'a>(
    bits: Option<&'a Vec<u8>>,
    name: &str,
    len: usize,
    what: &str,
) -> Result<Option<&'a [u8]>, TransformError> {
    match bits {
        None => Ok(None),
        Some(bits) if bits.len() == len.div_ceil(8) => Ok(Some(bits)),
        Some(bits) => Err(invalid(
            name,
            format!(
                "{what} has {} bytes, expected {} for {len} values",
                bits.len(),
                len.div_ceil(8)
            ),
        )),
    }
}

/// `bytes` as `len` values of `T`, in place.
fn plain_slice<'a, T: Plain>(
    bytes: &'a [u8],
    len: usize,
    name: &str,
) -> Result<&'a [T], TransformError> {
    if bytes.len() != len * size_of::<T>() {
        return Err(invalid(
            name,
            format!(
                "{} bytes of values for {len} values of {} bytes",
                bytes.len(),
                size_of::<T>()
            ),
        ));
    }
    // SAFETY: `T` is a plain number type (every bit pattern is a value),
    // so any aligned run of its bytes is a `T`.
    let (before, values, after) = unsafe { bytes.align_to::<T>() };
    if !before.is_empty() || !after.is_empty() {
        return Err(invalid(name, "its values are not aligned in memory"));
    }
    Ok(values)
}

/// `bytes` as `count + 1` offsets that start at 0, never decrease and end
/// at `end`.
fn checked_offsets<'a>(
    bytes: Option<&'a Vec<u8>>,
    count: usize,
    end: usize,
    name: &str,
    what: &str,
) -> Result<&'a [u32], TransformError> {
    let bytes = bytes.ok_or_else(|| invalid(name, format!("{what} are missing")))?;
    let offsets: &[u32] = plain_slice(bytes, count + 1, name)?;
    let mut previous = 0;
    if offsets.first() != Some(&0) {
        return Err(invalid(name, format!("{what} do not start at 0")));
    }
    for &offset in offsets {
        if offset < previous {
            return Err(invalid(name, format!("{what} are out of order")));
        }
        previous = offset;
    }
    if previous as usize != end {
        return Err(invalid(
            name,
            format!("{what} end at {previous}, not at {end}"),
        ));
    }
    Ok(offsets)
}

/// A number type whose values are their little-endian bytes in the
/// contract (and, on wasm, in memory).
///
/// # Safety
///
/// Every bit pattern of `size_of::<Self>()` bytes is a valid value.
pub unsafe trait Plain: Copy + 'static {}

// SAFETY: plain integers and floats: every bit pattern is a value.
unsafe impl Plain for i32 {}
// SAFETY: as above.
unsafe impl Plain for i64 {}
// SAFETY: as above.
unsafe impl Plain for u32 {}
// SAFETY: as above.
unsafe impl Plain for f32 {}
// SAFETY: as above.
unsafe impl Plain for f64 {}
// SAFETY: as above.
unsafe impl Plain for i128 {}

/// The element values of a column (of a scalar type, or of a list's
/// elements), checked once per batch, read once per element.
pub trait Element<'a>: Sized {
    /// The scalar type this Rust type reads and writes.
    const SCALAR: ScalarType;
    /// A borrowed, checked view of `len` values.
    type Values: Copy;
    /// Checks `values` (and `offsets`, for text and bytes) hold `len`
    /// values of this type.
    fn values(
        values: &'a [u8],
        offsets: Option<&'a Vec<u8>>,
        name: &str,
        len: usize,
    ) -> Result<Self::Values, TransformError>;
    /// Value `index`.
    ///
    /// # Safety
    ///
    /// `index` is less than the `len` that `values` was checked for.
    unsafe fn get(values: Self::Values, index: usize) -> Self;
}

macro_rules! plain_elements {
    ($($ty:ty => $scalar:expr, $native:ty, $wrap:expr;)*) => {$(
        impl<'a> Element<'a> for $ty {
            const SCALAR: ScalarType = $scalar;
            type Values = &'a [$native];

            fn values(
                values: &'a [u8],
                offsets: Option<&'a Vec<u8>>,
                name: &str,
                len: usize,
            ) -> Result<&'a [$native], TransformError> {
                if offsets.is_some() {
                    return Err(invalid(name, "it has offsets, which its type has not"));
                }
                plain_slice(values, len, name)
            }

            #[inline(always)]
            unsafe fn get(values: &'a [$native], index: usize) -> $ty {
                // SAFETY: `values` has `len` entries and `index < len`.
                let raw = unsafe { *values.get_unchecked(index) };
                let wrap = $wrap;
                wrap(raw)
            }
        }
    )*};
}

plain_elements! {
    i32 => ScalarType::Int32, i32, |v| v;
    i64 => ScalarType::Int64, i64, |v| v;
    f32 => ScalarType::Float32, f32, |v| v;
    f64 => ScalarType::Float64, f64, |v| v;
    Timestamp => ScalarType::TimestampMicros, i64, Timestamp::from_micros;
    Date => ScalarType::Date, i32, Date::from_days;
}

impl<'a, const P: u8, const S: u8> Element<'a> for Decimal<P, S> {
    const SCALAR: ScalarType = ScalarType::Decimal {
        precision: P,
        scale: S,
    };
    type Values = &'a [u8];

    fn values(
        values: &'a [u8],
        offsets: Option<&'a Vec<u8>>,
        name: &str,
        len: usize,
    ) -> Result<&'a [u8], TransformError> {
        if offsets.is_some() || values.len() != len * 16 {
            return Err(invalid(name, "its values are not 16 bytes each"));
        }
        Ok(values)
    }

    #[inline(always)]
    unsafe fn get(values: &'a [u8], index: usize) -> Self {
        // SAFETY: `values` has 16 bytes per value and `index < len`.
        let bytes = unsafe { values.get_unchecked(index * 16..index * 16 + 16) };
        let units = i128::from_le_bytes(bytes.try_into().expect("16 bytes"));
        // The host checked the precision of every input value.
        Decimal::try_from_units(units).unwrap_or_default()
    }
}

impl<'a> Element<'a> for bool {
    const SCALAR: ScalarType = ScalarType::Boolean;
    type Values = &'a [u8];

    fn values(
        values: &'a [u8],
        offsets: Option<&'a Vec<u8>>,
        name: &str,
        len: usize,
    ) -> Result<&'a [u8], TransformError> {
        if offsets.is_some() || values.len() != len {
            return Err(invalid(name, "its values are not one byte each"));
        }
        Ok(values)
    }

    #[inline(always)]
    unsafe fn get(values: &'a [u8], index: usize) -> bool {
        // SAFETY: `values` has `len` bytes and `index < len`.
        unsafe { *values.get_unchecked(index) != 0 }
    }
}

/// A checked view of text or bytes: offsets in bounds, in order (and, for
/// text, on character boundaries of valid UTF-8).
#[derive(Debug)]
pub struct Runs<'a, T: ?Sized> {
    offsets: &'a [u32],
    data: &'a T,
}

impl<T: ?Sized> Clone for Runs<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized> Copy for Runs<'_, T> {}

impl<'a> Element<'a> for &'a str {
    const SCALAR: ScalarType = ScalarType::Utf8;
    type Values = Runs<'a, str>;

    fn values(
        values: &'a [u8],
        offsets: Option<&'a Vec<u8>>,
        name: &str,
        len: usize,
    ) -> Result<Runs<'a, str>, TransformError> {
        let offsets = checked_offsets(offsets, len, values.len(), name, "its string offsets")?;
        let data =
            std::str::from_utf8(values).map_err(|_| invalid(name, "data is not valid UTF-8"))?;
        if let Some(&offset) = offsets
            .iter()
            .find(|&&offset| !data.is_char_boundary(offset as usize))
        {
            return Err(invalid(
                name,
                format!("offset {offset} splits a UTF-8 character"),
            ));
        }
        Ok(Runs { offsets, data })
    }

    #[inline(always)]
    unsafe fn get(values: Runs<'a, str>, index: usize) -> &'a str {
        // SAFETY: `offsets` has `len + 1` entries and `index < len`; the
        // offsets were checked to be in order, within `data` and on
        // character boundaries.
        unsafe {
            let start = *values.offsets.get_unchecked(index) as usize;
            let end = *values.offsets.get_unchecked(index + 1) as usize;
            values.data.get_unchecked(start..end)
        }
    }
}

impl<'a> Element<'a> for String {
    const SCALAR: ScalarType = ScalarType::Utf8;
    type Values = Runs<'a, str>;

    fn values(
        values: &'a [u8],
        offsets: Option<&'a Vec<u8>>,
        name: &str,
        len: usize,
    ) -> Result<Runs<'a, str>, TransformError> {
        <&'a str as Element<'a>>::values(values, offsets, name, len)
    }

    #[inline(always)]
    unsafe fn get(values: Runs<'a, str>, index: usize) -> String {
        // SAFETY: forwarded from the caller.
        unsafe { <&'a str as Element<'a>>::get(values, index) }.to_owned()
    }
}

impl<'a> Element<'a> for &'a [u8] {
    const SCALAR: ScalarType = ScalarType::Binary;
    type Values = Runs<'a, [u8]>;

    fn values(
        values: &'a [u8],
        offsets: Option<&'a Vec<u8>>,
        name: &str,
        len: usize,
    ) -> Result<Runs<'a, [u8]>, TransformError> {
        let offsets = checked_offsets(offsets, len, values.len(), name, "its offsets")?;
        Ok(Runs {
            offsets,
            data: values,
        })
    }

    #[inline(always)]
    unsafe fn get(values: Runs<'a, [u8]>, index: usize) -> &'a [u8] {
        // SAFETY: `offsets` has `len + 1` entries and `index < len`; the
        // offsets were checked to be in order and within `data`.
        unsafe {
            let start = *values.offsets.get_unchecked(index) as usize;
            let end = *values.offsets.get_unchecked(index + 1) as usize;
            values.data.get_unchecked(start..end)
        }
    }
}

impl<'a> Element<'a> for Vec<u8> {
    const SCALAR: ScalarType = ScalarType::Binary;
    type Values = Runs<'a, [u8]>;

    fn values(
        values: &'a [u8],
        offsets: Option<&'a Vec<u8>>,
        name: &str,
        len: usize,
    ) -> Result<Runs<'a, [u8]>, TransformError> {
        <&'a [u8] as Element<'a>>::values(values, offsets, name, len)
    }

    #[inline(always)]
    unsafe fn get(values: Runs<'a, [u8]>, index: usize) -> Vec<u8> {
        // SAFETY: forwarded from the caller.
        unsafe { <&'a [u8] as Element<'a>>::get(values, index) }.to_vec()
    }
}

/// A Rust type usable as a transform argument: a scalar, a list or a
/// fixed-size list, or an `Option` of one for a nullable column.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a column type a transform can take",
    label = "not a column type",
    note = "an argument is bool, i32, i64, f32, f64, &str, String, Timestamp, Date, Decimal<P, S>, \
            &[u8], Vec<u8>, a list (`Vec<T>`, `&[f64]`, `Vec<Option<T>>`), an embedding \
            (`[f32; N]`, `&[f32; N]`), or an Option of one of them"
)]
pub trait Input<'a>: Sized {
    /// The column type.
    const DATA_TYPE: DataType;
    /// Whether the argument accepts nulls.
    const NULLABLE: bool;
    /// The checked column.
    type Reader: Copy;
    /// Checks a column once per batch.
    fn reader(column: &'a Column, name: &str, rows: usize) -> Result<Self::Reader, TransformError>;
    /// Reads one row; `Err` for a null in a non-nullable column.
    ///
    /// # Safety
    ///
    /// `row` is less than the `rows` the reader was checked for.
    unsafe fn read(reader: Self::Reader, row: usize) -> Result<Self, UnexpectedNull>;
}

/// A column's values (of a non-nullable type) read one row at a time.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a column type a transform can take",
    label = "not a column type"
)]
pub trait Value<'a>: Sized {
    /// The column type.
    const DATA_TYPE: DataType;
    /// A checked view of the column's values.
    type Values: Copy;
    /// Checks the column's values for `rows` rows.
    fn values(column: &'a Column, name: &str, rows: usize) -> Result<Self::Values, TransformError>;
    /// The value of `row`.
    ///
    /// # Safety
    ///
    /// `row` is less than the `rows` that `values` was checked for.
    unsafe fn get(values: Self::Values, row: usize) -> Self;
}

/// Scalar columns: their values are the column's.
macro_rules! scalar_values {
    ($($ty:ty),* $(,)?) => {$(
        impl<'a> Value<'a> for $ty {
            const DATA_TYPE: DataType = DataType::Scalar(<$ty as Element<'a>>::SCALAR);
            type Values = <$ty as Element<'a>>::Values;

            fn values(column: &'a Column, name: &str, rows: usize) -> Result<Self::Values, TransformError> {
                no_elements(column, name)?;
                <$ty as Element<'a>>::values(&column.values, column.offsets.as_ref(), name, rows)
            }

            #[inline(always)]
            unsafe fn get(values: Self::Values, row: usize) -> Self {
                // SAFETY: forwarded from the caller.
                unsafe { <$ty as Element<'a>>::get(values, row) }
            }
        }
    )*};
}

scalar_values!(
    bool,
    i32,
    i64,
    f32,
    f64,
    Timestamp,
    Date,
    &'a str,
    String,
    &'a [u8],
    Vec<u8>
);

impl<'a, const P: u8, const S: u8> Value<'a> for Decimal<P, S> {
    const DATA_TYPE: DataType = DataType::Scalar(<Self as Element<'a>>::SCALAR);
    type Values = &'a [u8];

    fn values(column: &'a Column, name: &str, rows: usize) -> Result<&'a [u8], TransformError> {
        no_elements(column, name)?;
        <Self as Element<'a>>::values(&column.values, column.offsets.as_ref(), name, rows)
    }

    #[inline(always)]
    unsafe fn get(values: &'a [u8], row: usize) -> Self {
        // SAFETY: forwarded from the caller.
        unsafe { <Self as Element<'a>>::get(values, row) }
    }
}

fn no_elements(column: &Column, name: &str) -> Result<(), TransformError> {
    if column.element_offsets.is_some() || column.element_validity.is_some() {
        return Err(invalid(
            name,
            "it has list elements, which its type has not",
        ));
    }
    Ok(())
}

/// A checked list column: its rows' ranges of elements, and the elements.
#[derive(Clone, Copy, Debug)]
pub struct ListValues<'a, V: Copy> {
    offsets: &'a [u32],
    elements: V,
    element_validity: Option<&'a [u8]>,
}

/// The elements of a list column.
fn list_values<'a, E: Element<'a>>(
    column: &'a Column,
    name: &str,
    rows: usize,
    nullable_elements: bool,
) -> Result<ListValues<'a, E::Values>, TransformError> {
    let offsets: &[u32] = plain_slice(
        column
            .offsets
            .as_ref()
            .ok_or_else(|| invalid(name, "its list offsets are missing"))?,
        rows + 1,
        name,
    )?;
    let count = *offsets.last().unwrap_or(&0) as usize;
    if offsets.first() != Some(&0) || offsets.windows(2).any(|pair| pair[0] > pair[1]) {
        return Err(invalid(name, "its list offsets are out of order"));
    }
    let element_validity = check_bitmap(
        column.element_validity.as_ref(),
        name,
        count,
        "its elements' validity",
    )?;
    if element_validity.is_some() && !nullable_elements {
        return Err(invalid(
            name,
            "it has null elements, which its type has not",
        ));
    }
    let elements = E::values(&column.values, column.element_offsets.as_ref(), name, count)?;
    Ok(ListValues {
        offsets,
        elements,
        element_validity,
    })
}

impl<'a, E: Element<'a>> Value<'a> for Vec<E> {
    const DATA_TYPE: DataType = DataType::List {
        element: E::SCALAR,
        element_nullable: false,
    };
    type Values = ListValues<'a, E::Values>;

    fn values(column: &'a Column, name: &str, rows: usize) -> Result<Self::Values, TransformError> {
        list_values::<E>(column, name, rows, false)
    }

    #[inline(always)]
    unsafe fn get(values: Self::Values, row: usize) -> Vec<E> {
        // SAFETY: `row < rows`, and the offsets (checked, `rows + 1` of
        // them) bound indices below the element count.
        unsafe {
            let start = *values.offsets.get_unchecked(row) as usize;
            let end = *values.offsets.get_unchecked(row + 1) as usize;
            (start..end).map(|i| E::get(values.elements, i)).collect()
        }
    }
}

impl<'a, E: Element<'a>> Value<'a> for Vec<Option<E>> {
    const DATA_TYPE: DataType = DataType::List {
        element: E::SCALAR,
        element_nullable: true,
    };
    type Values = ListValues<'a, E::Values>;

    fn values(column: &'a Column, name: &str, rows: usize) -> Result<Self::Values, TransformError> {
        list_values::<E>(column, name, rows, true)
    }

    #[inline(always)]
    unsafe fn get(values: Self::Values, row: usize) -> Vec<Option<E>> {
        // SAFETY: as for `Vec<E>`; the element validity has a bit for
        // every element.
        unsafe {
            let start = *values.offsets.get_unchecked(row) as usize;
            let end = *values.offsets.get_unchecked(row + 1) as usize;
            (start..end)
                .map(|i| is_set(values.element_validity, i).then(|| E::get(values.elements, i)))
                .collect()
        }
    }
}

/// `&[T]` for a list of plain numbers: the row's elements in place.
macro_rules! slice_values {
    ($($ty:ty),*) => {$(
        impl<'a> Value<'a> for &'a [$ty] {
            const DATA_TYPE: DataType = DataType::List {
                element: <$ty as Element<'a>>::SCALAR,
                element_nullable: false,
            };
            type Values = ListValues<'a, &'a [$ty]>;

            fn values(column: &'a Column, name: &str, rows: usize) -> Result<Self::Values, TransformError> {
                list_values::<$ty>(column, name, rows, false)
            }

            #[inline(always)]
            unsafe fn get(values: Self::Values, row: usize) -> &'a [$ty] {
                // SAFETY: as for `Vec<E>`.
                unsafe {
                    let start = *values.offsets.get_unchecked(row) as usize;
                    let end = *values.offsets.get_unchecked(row + 1) as usize;
                    values.elements.get_unchecked(start..end)
                }
            }
        }
    )*};
}

slice_values!(i32, i64, f32, f64);

/// Fixed-size lists of float32 or float64 (embeddings), by value or in
/// place.
macro_rules! array_values {
    ($($ty:ty),*) => {$(
        impl<'a, const N: usize> Value<'a> for &'a [$ty; N] {
            const DATA_TYPE: DataType = DataType::FixedSizeList {
                element: <$ty as Element<'a>>::SCALAR,
                size: N as u32,
            };
            type Values = &'a [$ty];

            fn values(column: &'a Column, name: &str, rows: usize) -> Result<&'a [$ty], TransformError> {
                no_elements(column, name)?;
                if column.offsets.is_some() {
                    return Err(invalid(name, "it has offsets, which a fixed-size list has not"));
                }
                plain_slice(&column.values, rows * N, name)
            }

            #[inline(always)]
            unsafe fn get(values: &'a [$ty], row: usize) -> &'a [$ty; N] {
                // SAFETY: `values` has `rows * N` entries and `row < rows`.
                let slice = unsafe { values.get_unchecked(row * N..row * N + N) };
                slice.try_into().expect("N values")
            }
        }

        impl<'a, const N: usize> Value<'a> for [$ty; N] {
            const DATA_TYPE: DataType = <&'a [$ty; N] as Value<'a>>::DATA_TYPE;
            type Values = &'a [$ty];

            fn values(column: &'a Column, name: &str, rows: usize) -> Result<&'a [$ty], TransformError> {
                <&'a [$ty; N] as Value<'a>>::values(column, name, rows)
            }

            #[inline(always)]
            unsafe fn get(values: &'a [$ty], row: usize) -> [$ty; N] {
                // SAFETY: forwarded from the caller.
                *unsafe { <&'a [$ty; N] as Value<'a>>::get(values, row) }
            }
        }
    )*};
}

array_values!(f32, f64);

/// A checked column: values and validity.
#[derive(Clone, Copy, Debug)]
pub struct Reader<'a, V: Copy> {
    values: V,
    validity: Option<&'a [u8]>,
}

impl<'a, T: Value<'a>> Input<'a> for T {
    const DATA_TYPE: DataType = T::DATA_TYPE;
    const NULLABLE: bool = false;
    type Reader = Reader<'a, T::Values>;

    fn reader(column: &'a Column, name: &str, rows: usize) -> Result<Self::Reader, TransformError> {
        Ok(Reader {
            values: T::values(column, name, rows)?,
            validity: check_bitmap(column.validity.as_ref(), name, rows, "its validity")?,
        })
    }

    #[inline(always)]
    unsafe fn read(reader: Self::Reader, row: usize) -> Result<T, UnexpectedNull> {
        // SAFETY: forwarded from the caller; validity and values were
        // checked for the same `rows`.
        unsafe {
            if is_set(reader.validity, row) {
                Ok(T::get(reader.values, row))
            } else {
                Err(UnexpectedNull)
            }
        }
    }
}

impl<'a, T: Value<'a>> Input<'a> for Option<T> {
    const DATA_TYPE: DataType = T::DATA_TYPE;
    const NULLABLE: bool = true;
    type Reader = Reader<'a, T::Values>;

    fn reader(column: &'a Column, name: &str, rows: usize) -> Result<Self::Reader, TransformError> {
        <T as Input<'a>>::reader(column, name, rows)
    }

    #[inline(always)]
    unsafe fn read(reader: Self::Reader, row: usize) -> Result<Option<T>, UnexpectedNull> {
        // SAFETY: forwarded from the caller; validity and values were
        // checked for the same `rows`.
        unsafe { Ok(is_set(reader.validity, row).then(|| T::get(reader.values, row))) }
    }
}

/// A Rust type usable as an output field.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a column type a transform can return",
    label = "not a column type",
    note = "an output field is bool, i32, i64, f32, f64, String, Timestamp, Date, Decimal<P, S>, \
            Vec<u8>, a list (`Vec<T>`, `Vec<Option<T>>`), an embedding (`[f32; N]`), or an \
            Option of one of them"
)]
pub trait Output: Sized {
    /// The column type.
    const DATA_TYPE: DataType;
    /// Whether the field may be null.
    const NULLABLE: bool;
    /// Accumulates a column of these values.
    type Builder: ColumnBuilder<Self>;
}

/// Accumulates one output column.
pub trait ColumnBuilder<T> {
    /// A builder for `rows` values.
    fn with_capacity(rows: usize) -> Self;
    /// Appends one row.
    ///
    /// # Safety
    ///
    /// Fewer than `rows` values have been pushed.
    unsafe fn push(&mut self, value: T);
    /// The finished column.
    fn finish(self) -> Column;
}

/// How element values are written: into the values buffer (and, for text
/// and bytes, the offsets).
pub trait Write: Sized {
    /// The scalar type.
    const SCALAR: ScalarType;
    /// The value written for a null.
    fn placeholder() -> Self;
    /// Appends the value.
    fn write(self, values: &mut Vec<u8>, offsets: &mut Option<Vec<u8>>);
    /// Bytes per value, for reserving (0 when variable).
    const WIDTH: usize;
    /// Whether the type has offsets (text and bytes).
    const RUNS: bool = false;
}

macro_rules! plain_writes {
    ($($ty:ty => $scalar:expr, $to:expr;)*) => {$(
        impl Write for $ty {
            const SCALAR: ScalarType = $scalar;
            const WIDTH: usize = size_of::<$ty>();

            fn placeholder() -> Self {
                <$ty>::default()
            }

            #[inline(always)]
            fn write(self, values: &mut Vec<u8>, _: &mut Option<Vec<u8>>) {
                let to = $to;
                values.extend_from_slice(&to(self).to_le_bytes());
            }
        }
    )*};
}

plain_writes! {
    i32 => ScalarType::Int32, |v: i32| v;
    i64 => ScalarType::Int64, |v: i64| v;
    f32 => ScalarType::Float32, |v: f32| v;
    f64 => ScalarType::Float64, |v: f64| v;
    Timestamp => ScalarType::TimestampMicros, Timestamp::as_micros;
    Date => ScalarType::Date, Date::days_since_epoch;
}

impl<const P: u8, const S: u8> Write for Decimal<P, S> {
    const SCALAR: ScalarType = ScalarType::Decimal {
        precision: P,
        scale: S,
    };
    const WIDTH: usize = 16;

    fn placeholder() -> Self {
        Self::ZERO
    }

    #[inline(always)]
    fn write(self, values: &mut Vec<u8>, _: &mut Option<Vec<u8>>) {
        values.extend_from_slice(&self.units().to_le_bytes());
    }
}

impl Write for bool {
    const SCALAR: ScalarType = ScalarType::Boolean;
    const WIDTH: usize = 1;

    fn placeholder() -> Self {
        false
    }

    #[inline(always)]
    fn write(self, values: &mut Vec<u8>, _: &mut Option<Vec<u8>>) {
        values.push(u8::from(self));
    }
}

/// Appends a run of bytes and its end offset.
#[inline(always)]
fn write_run(bytes: &[u8], values: &mut Vec<u8>, offsets: &mut Option<Vec<u8>>) {
    values.extend_from_slice(bytes);
    // A wasm32 guest cannot hold 4 GiB, so the end offset fits in u32.
    offsets
        .get_or_insert_with(|| 0_u32.to_le_bytes().to_vec())
        .extend_from_slice(&(values.len() as u32).to_le_bytes());
}

impl Write for String {
    const SCALAR: ScalarType = ScalarType::Utf8;
    const WIDTH: usize = 0;
    const RUNS: bool = true;

    fn placeholder() -> Self {
        String::new()
    }

    #[inline(always)]
    fn write(self, values: &mut Vec<u8>, offsets: &mut Option<Vec<u8>>) {
        write_run(self.as_bytes(), values, offsets);
    }
}

impl Write for Vec<u8> {
    const SCALAR: ScalarType = ScalarType::Binary;
    const WIDTH: usize = 0;
    const RUNS: bool = true;

    fn placeholder() -> Self {
        Vec::new()
    }

    #[inline(always)]
    fn write(self, values: &mut Vec<u8>, offsets: &mut Option<Vec<u8>>) {
        write_run(&self, values, offsets);
    }
}

/// A column of scalar values (of a type that writes plainly, or runs).
#[derive(Debug)]
pub struct ScalarBuilder<T> {
    values: Vec<u8>,
    offsets: Option<Vec<u8>>,
    _marker: std::marker::PhantomData<T>,
}

impl<T: Write> ColumnBuilder<T> for ScalarBuilder<T> {
    fn with_capacity(rows: usize) -> Self {
        let offsets = T::RUNS.then(|| {
            let mut offsets = Vec::with_capacity((rows + 1) * 4);
            offsets.extend_from_slice(&0_u32.to_le_bytes());
            offsets
        });
        ScalarBuilder {
            values: Vec::with_capacity(if T::RUNS { rows * 8 } else { rows * T::WIDTH }),
            offsets,
            _marker: std::marker::PhantomData,
        }
    }

    #[inline(always)]
    unsafe fn push(&mut self, value: T) {
        value.write(&mut self.values, &mut self.offsets);
    }

    fn finish(self) -> Column {
        Column {
            values: self.values,
            offsets: self.offsets,
            validity: None,
            element_offsets: None,
            element_validity: None,
        }
    }
}

macro_rules! scalar_outputs {
    ($($ty:ty),* $(,)?) => {$(
        impl Output for $ty {
            const DATA_TYPE: DataType = DataType::Scalar(<$ty as Write>::SCALAR);
            const NULLABLE: bool = false;
            type Builder = ScalarBuilder<$ty>;
        }
    )*};
}

scalar_outputs!(bool, i32, i64, f32, f64, Timestamp, Date, String, Vec<u8>);

impl<const P: u8, const S: u8> Output for Decimal<P, S> {
    const DATA_TYPE: DataType = DataType::Scalar(<Self as Write>::SCALAR);
    const NULLABLE: bool = false;
    type Builder = ScalarBuilder<Self>;
}

/// The value pushed in place of a null row.
pub trait NullPlaceholder {
    /// The placeholder (zero, false, empty).
    fn placeholder() -> Self;
}

macro_rules! scalar_placeholders {
    ($($ty:ty),* $(,)?) => {$(
        impl NullPlaceholder for $ty {
            fn placeholder() -> Self {
                <$ty as Write>::placeholder()
            }
        }
    )*};
}

scalar_placeholders!(bool, i32, i64, f32, f64, Timestamp, Date, String, Vec<u8>);

impl<const P: u8, const S: u8> NullPlaceholder for Decimal<P, S> {
    fn placeholder() -> Self {
        Self::ZERO
    }
}

/// A list column: offsets, elements (and their validity).
#[derive(Debug)]
pub struct ListBuilder<T> {
    offsets: Vec<u8>,
    values: Vec<u8>,
    element_offsets: Option<Vec<u8>>,
    element_validity: Vec<u8>,
    elements: usize,
    element_nulls: usize,
    _marker: std::marker::PhantomData<T>,
}

impl<T> ListBuilder<T> {
    fn new(rows: usize) -> Self {
        let mut offsets = Vec::with_capacity((rows + 1) * 4);
        offsets.extend_from_slice(&0_u32.to_le_bytes());
        ListBuilder {
            offsets,
            values: Vec::new(),
            element_offsets: None,
            element_validity: Vec::new(),
            elements: 0,
            element_nulls: 0,
            _marker: std::marker::PhantomData,
        }
    }

    fn push_element<E: Write>(&mut self, element: Option<E>) {
        if self.elements.is_multiple_of(8) {
            self.element_validity.push(0);
        }
        match element {
            Some(element) => {
                *self.element_validity.last_mut().expect("a byte") |= 1 << (self.elements % 8);
                element.write(&mut self.values, &mut self.element_offsets);
            }
            None => {
                self.element_nulls += 1;
                E::placeholder().write(&mut self.values, &mut self.element_offsets);
            }
        }
        self.elements += 1;
    }

    fn end_row(&mut self) {
        self.offsets
            .extend_from_slice(&(self.elements as u32).to_le_bytes());
    }

    fn into_column<E: Write>(self) -> Column {
        let element_offsets = match self.element_offsets {
            Some(offsets) => Some(offsets),
            None if E::RUNS => Some(0_u32.to_le_bytes().to_vec()),
            None => None,
        };
        Column {
            values: self.values,
            offsets: Some(self.offsets),
            validity: None,
            element_offsets,
            element_validity: (self.element_nulls > 0).then_some(self.element_validity),
        }
    }
}

impl<E: Write> ColumnBuilder<Vec<E>> for ListBuilder<Vec<E>> {
    fn with_capacity(rows: usize) -> Self {
        ListBuilder::new(rows)
    }

    unsafe fn push(&mut self, value: Vec<E>) {
        for element in value {
            self.push_element(Some(element));
        }
        self.end_row();
    }

    fn finish(self) -> Column {
        self.into_column::<E>()
    }
}

impl<E: Write> ColumnBuilder<Vec<Option<E>>> for ListBuilder<Vec<Option<E>>> {
    fn with_capacity(rows: usize) -> Self {
        ListBuilder::new(rows)
    }

    unsafe fn push(&mut self, value: Vec<Option<E>>) {
        for element in value {
            self.push_element(element);
        }
        self.end_row();
    }

    fn finish(self) -> Column {
        self.into_column::<E>()
    }
}

impl<E: Write> Output for Vec<E> {
    const DATA_TYPE: DataType = DataType::List {
        element: E::SCALAR,
        element_nullable: false,
    };
    const NULLABLE: bool = false;
    type Builder = ListBuilder<Vec<E>>;
}

impl<E: Write> Output for Vec<Option<E>> {
    const DATA_TYPE: DataType = DataType::List {
        element: E::SCALAR,
        element_nullable: true,
    };
    const NULLABLE: bool = false;
    type Builder = ListBuilder<Vec<Option<E>>>;
}

impl<E: Write> NullPlaceholder for Vec<E> {
    fn placeholder() -> Self {
        Vec::new()
    }
}

impl<E: Write> NullPlaceholder for Vec<Option<E>> {
    fn placeholder() -> Self {
        Vec::new()
    }
}

/// A fixed-size list column (an embedding).
#[derive(Debug)]
pub struct ArrayBuilder<T> {
    values: Vec<u8>,
    _marker: std::marker::PhantomData<T>,
}

impl<E: Write + Copy, const N: usize> ColumnBuilder<[E; N]> for ArrayBuilder<[E; N]> {
    fn with_capacity(rows: usize) -> Self {
        ArrayBuilder {
            values: Vec::with_capacity(rows * N * E::WIDTH),
            _marker: std::marker::PhantomData,
        }
    }

    #[inline(always)]
    unsafe fn push(&mut self, value: [E; N]) {
        for element in value {
            element.write(&mut self.values, &mut None);
        }
    }

    fn finish(self) -> Column {
        Column {
            values: self.values,
            offsets: None,
            validity: None,
            element_offsets: None,
            element_validity: None,
        }
    }
}

macro_rules! array_outputs {
    ($($ty:ty),*) => {$(
        impl<const N: usize> Output for [$ty; N] {
            const DATA_TYPE: DataType = DataType::FixedSizeList {
                element: <$ty as Write>::SCALAR,
                size: N as u32,
            };
            const NULLABLE: bool = false;
            type Builder = ArrayBuilder<[$ty; N]>;
        }

        impl<const N: usize> NullPlaceholder for [$ty; N] {
            fn placeholder() -> Self {
                [0.0; N]
            }
        }
    )*};
}

array_outputs!(f32, f64);

/// Values with a validity bitmap.
#[derive(Debug)]
pub struct NullableBuilder<B> {
    inner: B,
    /// `ceil(rows / 8)` bytes, zeroed: bits are set as valid rows arrive.
    validity: Vec<u8>,
    len: usize,
    nulls: usize,
}

impl<T: Output + NullPlaceholder> Output for Option<T> {
    const DATA_TYPE: DataType = T::DATA_TYPE;
    const NULLABLE: bool = true;
    type Builder = NullableBuilder<T::Builder>;
}

impl<T: NullPlaceholder, B: ColumnBuilder<T>> ColumnBuilder<Option<T>> for NullableBuilder<B> {
    fn with_capacity(rows: usize) -> Self {
        NullableBuilder {
            inner: B::with_capacity(rows),
            validity: vec![0; rows.div_ceil(8)],
            len: 0,
            nulls: 0,
        }
    }

    #[inline(always)]
    unsafe fn push(&mut self, value: Option<T>) {
        // SAFETY: `len < rows`, and the bitmap has `ceil(rows / 8)` bytes.
        unsafe {
            *self.validity.get_unchecked_mut(self.len / 8) |=
                u8::from(value.is_some()) << (self.len % 8);
        }
        self.nulls += usize::from(value.is_none());
        self.len += 1;
        // SAFETY: forwarded from the caller.
        unsafe { self.inner.push(value.unwrap_or_else(T::placeholder)) };
    }

    fn finish(self) -> Column {
        let mut column = self.inner.finish();
        if self.nulls > 0 {
            column.validity = Some(self.validity);
        }
        column
    }
}

/// The output field of type `T` named `name`.
pub const fn output_field<T: Output>(name: &'static str) -> Field {
    Field {
        name,
        data_type: T::DATA_TYPE,
        nullable: T::NULLABLE,
    }
}

/// Builders for every column of a [`Features`] struct (generated by the derive).
pub trait FeatureColumns<F> {
    /// Builders for `rows` rows.
    fn with_capacity(rows: usize) -> Self;
    /// Appends one output row.
    ///
    /// # Safety
    ///
    /// Fewer than `rows` rows have been pushed.
    unsafe fn push(&mut self, row: F);
    /// The output batch.
    fn finish(self, rows: usize) -> Batch;
}

/// Assembles the output batch.
pub fn batch(rows: usize, columns: Vec<Column>) -> Batch {
    Batch {
        num_rows: rows as u32,
        columns,
    }
}

/// The row loop every export runs: rows in runs the host budgets
/// (`start-rows`, `end-rows`), each through `compute`, into the columns of
/// `F`. A row run alone on its own budget ends before its output is
/// stored, so it is measured the same way wherever it sits in its batch.
#[inline(always)]
pub fn run_rows<F: Features>(
    rows: usize,
    mut compute: impl FnMut(usize) -> Result<F, TransformError>,
) -> Result<Batch, TransformError> {
    let mut output = <F::Columns as FeatureColumns<F>>::with_capacity(rows);
    let mut row = 0;
    while row < rows {
        let chunk = start_rows(row);
        if chunk == 1 {
            let features = compute(row);
            end_rows();
            // SAFETY: one push per row, fewer than the rows.
            unsafe { output.push(features?) };
            row += 1;
        } else {
            let end = rows.min(row.saturating_add(chunk));
            while row < end {
                match compute(row) {
                    // SAFETY: one push per row, fewer than the rows.
                    Ok(features) => unsafe { output.push(features) },
                    Err(error) => {
                        end_rows();
                        return Err(error);
                    }
                }
                row += 1;
            }
            end_rows();
        }
    }
    Ok(output.finish(rows))
}

/// What `#[events]` declares of a function from an event's columns to its
/// values: the columns the engine reads beside them, and the function.
pub trait EventSource {
    /// The entity's column.
    const KEY: Field;
    /// The events' time column.
    const TIME: &'static str;
    /// The requests' time column.
    const REQUEST_TIME: &'static str;
    /// Orders events of the same time.
    const TIE_BREAK: Option<Field>;
    /// Identifies an event.
    const EVENT_ID: Option<Field>;
    /// How late an event may arrive, in microseconds.
    const LATENESS_MICROS: i64;
    /// The event columns the function reads.
    const INPUTS: &'static [Field];
    /// The event values it computes.
    type Values: Features;
    /// The `events` export: every event of `batch` through the function.
    fn run(batch: Batch) -> Result<Batch, TransformError>;
}

/// An aggregate function, as `#[aggregate(...)]` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    Count,
    Sum,
    Mean,
    Min,
    Max,
    CountDistinct,
    First,
    Last,
    SecondsSinceLast,
    LastN(u32),
}

/// One aggregate of a `#[derive(Aggregates)]` struct.
#[derive(Clone, Copy, Debug)]
pub struct AggregateDecl {
    pub name: &'static str,
    pub function: Function,
    pub value: Option<&'static str>,
    pub filter: Option<&'static str>,
    pub window_micros: i64,
}

/// The declaration of `A`'s aggregation, for `describe`.
pub fn aggregation<A: crate::Aggregates>() -> WitAggregation {
    type E<A> = <A as crate::Aggregates>::Events;
    WitAggregation {
        key: wit_field(&E::<A>::KEY),
        event_time: E::<A>::TIME.to_string(),
        request_time: E::<A>::REQUEST_TIME.to_string(),
        event_inputs: E::<A>::INPUTS.iter().map(wit_field).collect(),
        event_values: <E<A> as EventSource>::Values::FIELDS
            .iter()
            .map(wit_field)
            .collect(),
        tie_break: E::<A>::TIE_BREAK.as_ref().map(wit_field),
        event_id: E::<A>::EVENT_ID.as_ref().map(wit_field),
        lateness_micros: E::<A>::LATENESS_MICROS,
        aggregates: A::AGGREGATES
            .iter()
            .map(|a| WitAggregate {
                name: a.name.to_string(),
                function: match a.function {
                    Function::Count => WitAggregateFunction::Count,
                    Function::Sum => WitAggregateFunction::Sum,
                    Function::Mean => WitAggregateFunction::Mean,
                    Function::Min => WitAggregateFunction::Min,
                    Function::Max => WitAggregateFunction::Max,
                    Function::CountDistinct => WitAggregateFunction::CountDistinct,
                    Function::First => WitAggregateFunction::First,
                    Function::Last => WitAggregateFunction::Last,
                    Function::SecondsSinceLast => WitAggregateFunction::SecondsSinceLast,
                    Function::LastN(n) => WitAggregateFunction::LastN(n),
                },
                value: a.value.map(str::to_string),
                filter: a.filter.map(str::to_string),
                window_micros: a.window_micros,
            })
            .collect(),
    }
}

/// The field `name` of a key, tie-break or event id column of type `T`.
pub const fn column_field<'a, T: Input<'a>>(name: &'static str) -> Field {
    Field {
        name,
        data_type: T::DATA_TYPE,
        nullable: false,
    }
}

/// An error reading a group of columns: the column whose value was null.
#[derive(Debug)]
pub struct NullIn(pub &'static str);
