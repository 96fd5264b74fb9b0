//! Write a skewless feature transform as a plain Rust function.
//!
//! A transform is a row function: its arguments are input columns, matched
//! by name; its return type is a struct whose fields are the output columns.
//! [`transform`] turns it into a WebAssembly component that the `skewless`
//! runtime executes, unchanged, for backfills and for online serving.
//!
//! ```
//! /// Fraud-scoring features from a card transaction.
//! #[skewless_guest::transform(name = "fraud-features", version = "1.0.0")]
//! fn fraud(amount: f64, hour: i64, merchant_category: &str) -> FraudFeatures {
//!     FraudFeatures {
//!         log_amount: amount.ln_1p(),
//!         is_night: (hour < 6 || hour >= 22) as i64,
//!         category_risk: if merchant_category == "travel" { 0.7 } else { 0.3 },
//!     }
//! }
//!
//! #[derive(skewless_guest::Features)]
//! struct FraudFeatures {
//!     log_amount: f64,
//!     is_night: i64,
//!     category_risk: f64,
//! }
//!
//! // The function stays an ordinary Rust function, callable natively.
//! assert_eq!(fraud(0.0, 23, "travel").is_night, 1);
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2` (crate type
//! `cdylib`) or `cargo component build --release`; the `.wasm` file is the
//! transform.
//!
//! # Column types
//!
//! | column type        | argument                | output field        |
//! |--------------------|-------------------------|---------------------|
//! | `boolean`          | `bool`                  | `bool`              |
//! | `int32`            | `i32`                   | `i32`               |
//! | `int64`            | `i64`                   | `i64`               |
//! | `float32`          | `f32`                   | `f32`               |
//! | `float64`          | `f64`                   | `f64`               |
//! | `utf8`             | `&str` or `String`      | `String`            |
//! | `timestamp-micros` | [`Timestamp`]           | [`Timestamp`]       |
//! | `date`             | [`Date`]                | [`Date`]            |
//! | `decimal(P,S)`     | [`Decimal<P, S>`](Decimal) | [`Decimal<P, S>`](Decimal) |
//! | `binary`           | `&[u8]` or `Vec<u8>`    | `Vec<u8>`           |
//! | `list<T>`          | `&[i32]`, `&[i64]`, `&[f32]`, `&[f64]` (read in place), `Vec<T>`, `Vec<&str>` | `Vec<T>` |
//! | `list<nullable T>` | `Vec<Option<T>>`        | `Vec<Option<T>>`    |
//! | `fixed-size-list<T, N>` | `&[f32; N]`, `[f32; N]` (and `f64`) | `[f32; N]`, `[f64; N]` |
//!
//! A type alias works anywhere a type does (`type Money = Decimal<18, 2>;`).
//! Aggregations over an entity's events are declared with [`events`](macro@events),
//! [`Aggregates`](trait@Aggregates) and `#[aggregates]` (see `examples/card-velocity` and the
//! README's "Aggregations").
//!
//! Wrap any of them in `Option<_>` to make the column nullable: a `None`
//! argument is a null input, a `None` field a null output. A null in a column
//! whose argument is not an `Option` is refused before your function runs.
//!
//! # Failing a row
//!
//! Return `Result<YourFeatures, E>` where `E: Display` to reject a row; the
//! error reaches the caller with the row number and your message.
//!
//! # One transform per crate
//!
//! A component exports one transform, so a crate has one `#[transform]`.
//!
//! # Memory allocator
//!
//! With the default `allocator` feature, a component built with the SDK
//! allocates small blocks (up to 64 KiB) from power-of-two free lists
//! instead of wasi-libc's `malloc`: every call allocates and frees a dozen
//! blocks for its input and output columns, and this makes each a pointer
//! swap. A crate that declares its own `#[global_allocator]` depends on the
//! SDK with `default-features = false`. Native builds are not affected.

// The macros' expansions name `::skewless_guest`, including inside this crate.
extern crate self as skewless_guest;

#[cfg(any(test, all(feature = "allocator", target_arch = "wasm32")))]
mod allocator;
mod date;
mod decimal;
mod timestamp;

pub use date::Date;
pub use decimal::{Decimal, DecimalError};
pub use skewless_guest_macro::{Aggregates, Features, events, transform};
pub use timestamp::Timestamp;

/// The type of one value: a scalar column's, or a list's elements'.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScalarType {
    /// `bool`
    Boolean,
    /// `i32`
    Int32,
    /// `i64`
    Int64,
    /// `f32`
    Float32,
    /// `f64`
    Float64,
    /// UTF-8 text: `&str` or `String`.
    Utf8,
    /// [`Timestamp`]: microseconds since the Unix epoch, UTC.
    TimestampMicros,
    /// [`Date`]: days since 1970-01-01.
    Date,
    /// [`Decimal<P, S>`](Decimal): an exact decimal.
    Decimal {
        /// Digits in all, 1 to 38.
        precision: u8,
        /// Digits after the point.
        scale: u8,
    },
    /// Bytes: `&[u8]` or `Vec<u8>`.
    Binary,
}

/// The type of a column, as declared in a transform's schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataType {
    /// One value a row.
    Scalar(ScalarType),
    /// A list of values a row: `Vec<T>` (`&[T]` for numbers), or
    /// `Vec<Option<T>>` when elements may be null.
    List {
        /// The elements' type.
        element: ScalarType,
        /// Whether an element may be null.
        element_nullable: bool,
    },
    /// Exactly `size` float32 or float64 values a row (an embedding):
    /// `[f32; N]` or `&[f32; N]`.
    FixedSizeList {
        /// The elements' type.
        element: ScalarType,
        /// Values a row.
        size: u32,
    },
}

/// One output column as declared by a [`Features`] struct.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Field {
    /// Column name: the struct field's name.
    pub name: &'static str,
    /// Column type, from the field's Rust type.
    pub data_type: DataType,
    /// Whether the field is an `Option`.
    pub nullable: bool,
}

/// The output row of a transform: one field per output column.
///
/// Derive it with `#[derive(skewless_guest::Features)]` on a struct with
/// named fields of the types listed in the [crate docs](crate).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a transform output row",
    label = "add `#[derive(skewless_guest::Features)]` to `{Self}`",
    note = "a transform returns a struct with one named field per output column"
)]
pub trait Features: Sized {
    /// The output columns, in field order.
    const FIELDS: &'static [Field];

    /// Column builders for a batch of these rows (generated by the derive).
    #[doc(hidden)]
    type Columns: __private::FeatureColumns<Self>;
}

/// The aggregates a transform reads: a struct whose fields are aggregates
/// of an entity's events, each in a window ending at the request's time.
///
/// Derive it with `#[derive(skewless_guest::Aggregates)]`, name the
/// `#[events]` function that computes each event's values with
/// `#[aggregates(events = my_events)]`, and mark each field with
/// `#[aggregate(function(value), window = "24h")]`; take the struct as an
/// argument of the `#[transform]` function marked `#[aggregates]`. See the
/// crate docs, "Aggregations".
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a struct of aggregates",
    label = "add `#[derive(skewless_guest::Aggregates)]` to `{Self}`"
)]
pub trait Aggregates: Sized {
    /// The events it aggregates.
    #[doc(hidden)]
    type Events: __private::EventSource;
    /// Its fields, as the row function's input columns.
    const FIELDS: &'static [Field];
    /// Its aggregates, in field order.
    #[doc(hidden)]
    const AGGREGATES: &'static [__private::AggregateDecl];
    /// The checked columns of a batch.
    #[doc(hidden)]
    type Reader<'a>: Copy;
    /// Checks its columns (in field order) once per batch.
    #[doc(hidden)]
    fn reader<'a>(
        columns: &'a [__private::Column],
        rows: usize,
    ) -> Result<Self::Reader<'a>, __private::TransformError>;
    /// Reads one row; `Err` names a null in a non-`Option` field.
    ///
    /// # Safety
    ///
    /// `row` is less than the `rows` the reader was checked for.
    #[doc(hidden)]
    unsafe fn read(reader: Self::Reader<'_>, row: usize) -> Result<Self, __private::NullIn>;
}

#[doc(hidden)]
pub mod __private;
