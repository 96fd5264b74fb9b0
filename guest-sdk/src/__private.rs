//! What the `#[transform]` and `#[derive(Features)]` expansions call: the
//! WIT bindings, typed column readers and builders, and the row loop's
//! helpers. Not a public API; names here may change in any release.

use crate::{DataType, Features, Field, Timestamp};

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
    Column, DataType as WitDataType, Field as WitField, RowError, Utf8Array, Values,
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

fn wit_data_type(data_type: DataType) -> WitDataType {
    match data_type {
        DataType::Boolean => WitDataType::Boolean,
        DataType::Int32 => WitDataType::Int32,
        DataType::Int64 => WitDataType::Int64,
        DataType::Float32 => WitDataType::Float32,
        DataType::Float64 => WitDataType::Float64,
        DataType::Utf8 => WitDataType::Utf8,
        DataType::TimestampMicros => WitDataType::TimestampMicros,
    }
}

fn wit_field(field: &Field) -> WitField {
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
    inputs: &[Field],
) -> TransformInfo {
    TransformInfo {
        name: name.to_string(),
        version: version.to_string(),
        description: description.to_string(),
        inputs: inputs.iter().map(wit_field).collect(),
        outputs: F::FIELDS.iter().map(wit_field).collect(),
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

/// Whether `row` is valid.
///
/// # Safety
///
/// `validity`, when present, has at least `row / 8 + 1` bytes (it was
/// checked to have `ceil(rows / 8)` and `row < rows`).
#[inline(always)]
unsafe fn is_valid(validity: Option<&[u8]>, row: usize) -> bool {
    match validity {
        None => true,
        Some(bits) => {
            // SAFETY: the caller guarantees the byte exists.
            let byte = unsafe { *bits.get_unchecked(row / 8) };
            byte & (1 << (row % 8)) != 0
        }
    }
}

fn check_validity<'a>(
    column: &'a Column,
    name: &str,
    rows: usize,
) -> Result<Option<&'a [u8]>, TransformError> {
    match &column.validity {
        None => Ok(None),
        Some(bits) if bits.len() == rows.div_ceil(8) => Ok(Some(bits)),
        Some(bits) => Err(TransformError::InvalidInput(format!(
            "column `{name}`: validity has {} bytes, expected {} for {rows} rows",
            bits.len(),
            rows.div_ceil(8)
        ))),
    }
}

fn wrong_type(name: &str, expected: DataType, values: &Values) -> TransformError {
    let found = match values {
        Values::Boolean(_) => "boolean",
        Values::Int32(_) => "int32",
        Values::Int64(_) => "int64",
        Values::Float32(_) => "float32",
        Values::Float64(_) => "float64",
        Values::Utf8(_) => "utf8",
        Values::TimestampMicros(_) => "timestamp-micros",
    };
    TransformError::InvalidInput(format!(
        "column `{name}`: expected {expected:?} values, found {found}"
    ))
}

fn wrong_len(name: &str, len: usize, rows: usize) -> TransformError {
    TransformError::InvalidInput(format!("column `{name}`: {len} values for {rows} rows"))
}

/// A column's values, checked once per batch, read once per row.
pub trait Value<'a>: Sized {
    /// The column type this Rust type reads.
    const DATA_TYPE: DataType;
    /// A borrowed, checked view of the values.
    type Values: Copy;
    /// Checks `values` has this type and `rows` entries.
    fn values(values: &'a Values, name: &str, rows: usize) -> Result<Self::Values, TransformError>;
    /// The value of `row`.
    ///
    /// # Safety
    ///
    /// `row` is less than the `rows` that `values` was checked for.
    unsafe fn get(values: Self::Values, row: usize) -> Self;
}

macro_rules! primitive_values {
    ($($ty:ty => $variant:ident,)*) => {$(
        impl<'a> Value<'a> for $ty {
            const DATA_TYPE: DataType = DataType::$variant;
            type Values = &'a [$ty];

            fn values(values: &'a Values, name: &str, rows: usize) -> Result<&'a [$ty], TransformError> {
                match values {
                    Values::$variant(v) if v.len() == rows => Ok(v),
                    Values::$variant(v) => Err(wrong_len(name, v.len(), rows)),
                    other => Err(wrong_type(name, DataType::$variant, other)),
                }
            }

            #[inline(always)]
            unsafe fn get(values: &'a [$ty], row: usize) -> $ty {
                // SAFETY: `values` has `rows` entries and `row < rows`.
                unsafe { *values.get_unchecked(row) }
            }
        }
    )*};
}

primitive_values! {
    bool => Boolean,
    i32 => Int32,
    i64 => Int64,
    f32 => Float32,
    f64 => Float64,
}

impl<'a> Value<'a> for Timestamp {
    const DATA_TYPE: DataType = DataType::TimestampMicros;
    type Values = &'a [i64];

    fn values(values: &'a Values, name: &str, rows: usize) -> Result<&'a [i64], TransformError> {
        match values {
            Values::TimestampMicros(v) if v.len() == rows => Ok(v),
            Values::TimestampMicros(v) => Err(wrong_len(name, v.len(), rows)),
            other => Err(wrong_type(name, DataType::TimestampMicros, other)),
        }
    }

    #[inline(always)]
    unsafe fn get(values: &'a [i64], row: usize) -> Timestamp {
        // SAFETY: `values` has `rows` entries and `row < rows`.
        Timestamp::from_micros(unsafe { *values.get_unchecked(row) })
    }
}

/// A checked view of a `utf8` column: offsets are in bounds, never
/// decrease, and fall on character boundaries of valid UTF-8 data.
#[derive(Clone, Copy, Debug)]
pub struct StrValues<'a> {
    offsets: &'a [u32],
    data: &'a str,
}

impl<'a> Value<'a> for &'a str {
    const DATA_TYPE: DataType = DataType::Utf8;
    type Values = StrValues<'a>;

    fn values(
        values: &'a Values,
        name: &str,
        rows: usize,
    ) -> Result<StrValues<'a>, TransformError> {
        let array = match values {
            Values::Utf8(array) => array,
            other => return Err(wrong_type(name, DataType::Utf8, other)),
        };
        let invalid = |why: &str| TransformError::InvalidInput(format!("column `{name}`: {why}"));
        if array.offsets.len() != rows + 1 {
            return Err(wrong_len(name, array.offsets.len().saturating_sub(1), rows));
        }
        let data =
            std::str::from_utf8(&array.data).map_err(|_| invalid("data is not valid UTF-8"))?;
        let mut previous = 0;
        for &offset in &array.offsets {
            if offset < previous || !data.is_char_boundary(offset as usize) {
                return Err(invalid("offsets are out of order or split a character"));
            }
            previous = offset;
        }
        Ok(StrValues {
            offsets: &array.offsets,
            data,
        })
    }

    #[inline(always)]
    unsafe fn get(values: StrValues<'a>, row: usize) -> &'a str {
        // SAFETY: `offsets` has `rows + 1` entries and `row < rows`; the
        // offsets were checked to be in order, within `data` and on
        // character boundaries.
        unsafe {
            let start = *values.offsets.get_unchecked(row) as usize;
            let end = *values.offsets.get_unchecked(row + 1) as usize;
            values.data.get_unchecked(start..end)
        }
    }
}

impl<'a> Value<'a> for String {
    const DATA_TYPE: DataType = DataType::Utf8;
    type Values = StrValues<'a>;

    fn values(
        values: &'a Values,
        name: &str,
        rows: usize,
    ) -> Result<StrValues<'a>, TransformError> {
        <&'a str as Value<'a>>::values(values, name, rows)
    }

    #[inline(always)]
    unsafe fn get(values: StrValues<'a>, row: usize) -> String {
        // SAFETY: forwarded from the caller.
        unsafe { <&'a str as Value<'a>>::get(values, row) }.to_owned()
    }
}

/// A Rust type usable as a transform argument: a [`Value`], or an
/// `Option` of one for a nullable column.
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
            values: T::values(&column.values, name, rows)?,
            validity: check_validity(column, name, rows)?,
        })
    }

    #[inline(always)]
    unsafe fn read(reader: Self::Reader, row: usize) -> Result<T, UnexpectedNull> {
        // SAFETY: forwarded from the caller; validity and values were
        // checked for the same `rows`.
        unsafe {
            if is_valid(reader.validity, row) {
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
        unsafe { Ok(is_valid(reader.validity, row).then(|| T::get(reader.values, row))) }
    }
}

/// A Rust type usable as an output field.
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

/// Values without nulls.
#[derive(Debug)]
pub struct PrimitiveBuilder<T> {
    values: Vec<T>,
}

/// Values with a validity bitmap.
#[derive(Debug)]
pub struct NullableBuilder<B> {
    inner: B,
    /// `ceil(rows / 8)` bytes, zeroed: bits are set as valid rows arrive.
    validity: Vec<u8>,
    len: usize,
    nulls: usize,
}

impl<B> NullableBuilder<B> {
    /// # Safety
    ///
    /// Fewer than `rows` values have been pushed.
    #[inline(always)]
    unsafe fn push_validity(&mut self, valid: bool) {
        // SAFETY: `len < rows`, and the bitmap has `ceil(rows / 8)` bytes.
        unsafe {
            *self.validity.get_unchecked_mut(self.len / 8) |= u8::from(valid) << (self.len % 8)
        };
        self.nulls += usize::from(!valid);
        self.len += 1;
    }
}

/// The value pushed in place of a null.
pub trait NullPlaceholder {
    /// The placeholder (zero, false, empty).
    fn placeholder() -> Self;
}

macro_rules! primitive_outputs {
    ($($ty:ty => $variant:ident($wrap:expr),)*) => {$(
        impl Output for $ty {
            const DATA_TYPE: DataType = DataType::$variant;
            const NULLABLE: bool = false;
            type Builder = PrimitiveBuilder<$ty>;
        }

        impl NullPlaceholder for $ty {
            fn placeholder() -> Self {
                <$ty>::default()
            }
        }

        impl ColumnBuilder<$ty> for PrimitiveBuilder<$ty> {
            fn with_capacity(rows: usize) -> Self {
                PrimitiveBuilder { values: Vec::with_capacity(rows) }
            }

            #[inline(always)]
            unsafe fn push(&mut self, value: $ty) {
                let len = self.values.len();
                debug_assert!(len < self.values.capacity());
                // SAFETY: the builder was made with capacity for `rows`
                // values and fewer than `rows` have been pushed.
                unsafe {
                    self.values.as_mut_ptr().add(len).write(value);
                    self.values.set_len(len + 1);
                }
            }

            fn finish(self) -> Column {
                let wrap = $wrap;
                Column { values: Values::$variant(wrap(self.values)), validity: None }
            }
        }
    )*};
}

primitive_outputs! {
    bool => Boolean(|v| v),
    i32 => Int32(|v| v),
    i64 => Int64(|v| v),
    f32 => Float32(|v| v),
    f64 => Float64(|v| v),
    Timestamp => TimestampMicros(|v: Vec<Timestamp>| v.into_iter().map(Timestamp::as_micros).collect()),
}

/// A `utf8` column without nulls.
#[derive(Debug)]
pub struct StringBuilder {
    offsets: Vec<u32>,
    data: Vec<u8>,
}

impl Output for String {
    const DATA_TYPE: DataType = DataType::Utf8;
    const NULLABLE: bool = false;
    type Builder = StringBuilder;
}

impl NullPlaceholder for String {
    fn placeholder() -> Self {
        String::new()
    }
}

impl ColumnBuilder<String> for StringBuilder {
    fn with_capacity(rows: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        StringBuilder {
            offsets,
            data: Vec::with_capacity(rows * 8),
        }
    }

    #[inline(always)]
    unsafe fn push(&mut self, value: String) {
        self.data.extend_from_slice(value.as_bytes());
        // A wasm32 guest cannot hold 4 GiB, so the end offset fits in u32.
        self.offsets.push(self.data.len() as u32);
    }

    fn finish(self) -> Column {
        Column {
            values: Values::Utf8(Utf8Array {
                offsets: self.offsets,
                data: self.data,
            }),
            validity: None,
        }
    }
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
        // SAFETY: forwarded from the caller.
        unsafe {
            self.push_validity(value.is_some());
            self.inner.push(value.unwrap_or_else(T::placeholder));
        }
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
