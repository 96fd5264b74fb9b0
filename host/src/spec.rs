//! What a transform declares about itself (`describe`), as the host keeps
//! it: validated once at load, mapped to Arrow schemas, serialized into the
//! metadata of every backfill output.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use arrow::datatypes::{DataType as ArrowType, Field as ArrowField, Schema, SchemaRef, TimeUnit};
use serde::{Deserialize, Serialize};

/// The time zone label of `timestamp-micros` columns in Arrow: UTC, written
/// as an offset so that every Arrow reader and writer understands it without
/// a time zone database.
pub const UTC: &str = "+00:00";

/// The type of one value: a scalar column's type, or a list's elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScalarType {
    /// `bool`
    Boolean,
    /// 32-bit signed integer.
    Int32,
    /// 64-bit signed integer.
    Int64,
    /// 32-bit IEEE 754 float.
    Float32,
    /// 64-bit IEEE 754 float.
    Float64,
    /// UTF-8 text.
    Utf8,
    /// Microseconds since the Unix epoch, UTC.
    TimestampMicros,
    /// Days since 1970-01-01.
    Date,
    /// An exact decimal: a 128-bit integer of units of 10^-`scale`, of at
    /// most `precision` (1 to 38) digits.
    Decimal {
        /// Digits in all, 1 to 38.
        precision: u8,
        /// Digits after the point, 0 to `precision`.
        scale: u8,
    },
    /// Bytes.
    Binary,
}

/// The type of a column in a transform's schema.
///
/// Written (in messages, `inspect`, and the spec recorded in outputs) as
/// `float64`, `decimal(18,2)`, `list<utf8>`, `list<nullable float64>`,
/// `fixed-size-list<float32, 768>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataType {
    /// `bool`
    Boolean,
    /// 32-bit signed integer.
    Int32,
    /// 64-bit signed integer.
    Int64,
    /// 32-bit IEEE 754 float.
    Float32,
    /// 64-bit IEEE 754 float.
    Float64,
    /// UTF-8 text.
    Utf8,
    /// Microseconds since the Unix epoch, UTC.
    TimestampMicros,
    /// Days since 1970-01-01.
    Date,
    /// An exact decimal (see [`ScalarType::Decimal`]).
    Decimal {
        /// Digits in all, 1 to 38.
        precision: u8,
        /// Digits after the point, 0 to `precision`.
        scale: u8,
    },
    /// Bytes.
    Binary,
    /// Lists of any length.
    List {
        /// The elements' type.
        element: ScalarType,
        /// Whether an element may be null.
        element_nullable: bool,
    },
    /// Lists of exactly `size` float32 or float64 values (embeddings).
    FixedSizeList {
        /// The elements' type: float32 or float64.
        element: ScalarType,
        /// Values in each list.
        size: u32,
    },
}

impl From<ScalarType> for DataType {
    fn from(scalar: ScalarType) -> DataType {
        match scalar {
            ScalarType::Boolean => DataType::Boolean,
            ScalarType::Int32 => DataType::Int32,
            ScalarType::Int64 => DataType::Int64,
            ScalarType::Float32 => DataType::Float32,
            ScalarType::Float64 => DataType::Float64,
            ScalarType::Utf8 => DataType::Utf8,
            ScalarType::TimestampMicros => DataType::TimestampMicros,
            ScalarType::Date => DataType::Date,
            ScalarType::Decimal { precision, scale } => DataType::Decimal { precision, scale },
            ScalarType::Binary => DataType::Binary,
        }
    }
}

impl ScalarType {
    /// The Arrow type of values of this type.
    pub fn arrow(self) -> ArrowType {
        DataType::from(self).arrow()
    }
}

impl fmt::Display for ScalarType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        DataType::from(*self).fmt(f)
    }
}

/// The Arrow name of a list's element field.
pub const LIST_ITEM: &str = "item";

impl DataType {
    /// The scalar type of a column of this type, `None` for lists.
    pub fn scalar(self) -> Option<ScalarType> {
        Some(match self {
            DataType::Boolean => ScalarType::Boolean,
            DataType::Int32 => ScalarType::Int32,
            DataType::Int64 => ScalarType::Int64,
            DataType::Float32 => ScalarType::Float32,
            DataType::Float64 => ScalarType::Float64,
            DataType::Utf8 => ScalarType::Utf8,
            DataType::TimestampMicros => ScalarType::TimestampMicros,
            DataType::Date => ScalarType::Date,
            DataType::Decimal { precision, scale } => ScalarType::Decimal { precision, scale },
            DataType::Binary => ScalarType::Binary,
            DataType::List { .. } | DataType::FixedSizeList { .. } => return None,
        })
    }

    /// The Arrow type columns of this type have.
    pub fn arrow(self) -> ArrowType {
        match self {
            DataType::Boolean => ArrowType::Boolean,
            DataType::Int32 => ArrowType::Int32,
            DataType::Int64 => ArrowType::Int64,
            DataType::Float32 => ArrowType::Float32,
            DataType::Float64 => ArrowType::Float64,
            DataType::Utf8 => ArrowType::Utf8,
            DataType::TimestampMicros => {
                ArrowType::Timestamp(TimeUnit::Microsecond, Some(UTC.into()))
            }
            DataType::Date => ArrowType::Date32,
            DataType::Decimal { precision, scale } => ArrowType::Decimal128(precision, scale as i8),
            DataType::Binary => ArrowType::Binary,
            DataType::List {
                element,
                element_nullable,
            } => ArrowType::List(Arc::new(ArrowField::new(
                LIST_ITEM,
                element.arrow(),
                element_nullable,
            ))),
            DataType::FixedSizeList { element, size } => ArrowType::FixedSizeList(
                Arc::new(ArrowField::new(LIST_ITEM, element.arrow(), false)),
                size as i32,
            ),
        }
    }

    /// The type whose columns have the Arrow type `arrow` exactly, if any.
    pub fn from_arrow(arrow: &ArrowType) -> Option<DataType> {
        let scalar = |arrow: &ArrowType| -> Option<ScalarType> {
            Some(match arrow {
                ArrowType::Boolean => ScalarType::Boolean,
                ArrowType::Int32 => ScalarType::Int32,
                ArrowType::Int64 => ScalarType::Int64,
                ArrowType::Float32 => ScalarType::Float32,
                ArrowType::Float64 => ScalarType::Float64,
                ArrowType::Utf8 => ScalarType::Utf8,
                ArrowType::Timestamp(TimeUnit::Microsecond, Some(zone)) if &**zone == UTC => {
                    ScalarType::TimestampMicros
                }
                ArrowType::Date32 => ScalarType::Date,
                ArrowType::Decimal128(precision, scale)
                    if (1..=38).contains(precision) && (0..=*precision as i8).contains(scale) =>
                {
                    ScalarType::Decimal {
                        precision: *precision,
                        scale: *scale as u8,
                    }
                }
                ArrowType::Binary => ScalarType::Binary,
                _ => return None,
            })
        };
        match arrow {
            ArrowType::List(item) => Some(DataType::List {
                element: scalar(item.data_type())?,
                element_nullable: item.is_nullable(),
            }),
            ArrowType::FixedSizeList(item, size) => Some(DataType::FixedSizeList {
                element: scalar(item.data_type())?,
                size: u32::try_from(*size).ok()?,
            }),
            other => scalar(other).map(DataType::from),
        }
    }

    /// The name used in the contract and in messages, e.g. `float64`.
    pub fn name(self) -> String {
        self.to_string()
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DataType::Boolean => f.write_str("boolean"),
            DataType::Int32 => f.write_str("int32"),
            DataType::Int64 => f.write_str("int64"),
            DataType::Float32 => f.write_str("float32"),
            DataType::Float64 => f.write_str("float64"),
            DataType::Utf8 => f.write_str("utf8"),
            DataType::TimestampMicros => f.write_str("timestamp-micros"),
            DataType::Date => f.write_str("date"),
            DataType::Decimal { precision, scale } => write!(f, "decimal({precision},{scale})"),
            DataType::Binary => f.write_str("binary"),
            DataType::List {
                element,
                element_nullable: false,
            } => write!(f, "list<{element}>"),
            DataType::List {
                element,
                element_nullable: true,
            } => write!(f, "list<nullable {element}>"),
            DataType::FixedSizeList { element, size } => {
                write!(f, "fixed-size-list<{element}, {size}>")
            }
        }
    }
}

impl std::str::FromStr for DataType {
    type Err = String;

    /// A type's name, as [`fmt::Display`] writes it.
    fn from_str(text: &str) -> Result<DataType, String> {
        let unknown = || format!("`{text}` is not a column type");
        let text = text.trim();
        let scalar = |name: &str| -> Result<ScalarType, String> {
            match name.parse::<DataType>()?.scalar() {
                Some(scalar) => Ok(scalar),
                None => Err(format!("`{name}` is not a list's element type")),
            }
        };
        if let Some(inner) = text.strip_prefix("list<").and_then(|t| t.strip_suffix('>')) {
            let (element, element_nullable) = match inner.trim().strip_prefix("nullable ") {
                Some(element) => (element, true),
                None => (inner, false),
            };
            return Ok(DataType::List {
                element: scalar(element)?,
                element_nullable,
            });
        }
        if let Some(inner) = text
            .strip_prefix("fixed-size-list<")
            .and_then(|t| t.strip_suffix('>'))
        {
            let (element, size) = inner.rsplit_once(',').ok_or_else(unknown)?;
            return Ok(DataType::FixedSizeList {
                element: scalar(element)?,
                size: size.trim().parse().map_err(|_| unknown())?,
            });
        }
        if let Some(inner) = text
            .strip_prefix("decimal(")
            .and_then(|t| t.strip_suffix(')'))
        {
            let (precision, scale) = inner.split_once(',').ok_or_else(unknown)?;
            return Ok(DataType::Decimal {
                precision: precision.trim().parse().map_err(|_| unknown())?,
                scale: scale.trim().parse().map_err(|_| unknown())?,
            });
        }
        Ok(match text {
            "boolean" => DataType::Boolean,
            "int32" => DataType::Int32,
            "int64" => DataType::Int64,
            "float32" => DataType::Float32,
            "float64" => DataType::Float64,
            "utf8" => DataType::Utf8,
            "timestamp-micros" => DataType::TimestampMicros,
            "date" => DataType::Date,
            "binary" => DataType::Binary,
            _ => return Err(unknown()),
        })
    }
}

impl Serialize for DataType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DataType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// What a timestamp without a time zone means (a `timestamp[ns]` column
/// from pandas, or `"2026-03-02 00:10:43"` in a CSV file or a request).
///
/// One rule for every format and path: without a zone, a timestamp is a
/// wall-clock reading in some zone nobody wrote down, and taking it as UTC
/// is a guess that shifts every feature computed from it by the zone's
/// offset. So it is refused unless the caller says what it means.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NaiveTimestamps {
    /// Refused, with the column, the row (for text) and how to give a zone.
    /// The default.
    #[default]
    Refuse,
    /// Taken as UTC.
    Utc,
}

impl std::str::FromStr for NaiveTimestamps {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "refuse" => Ok(NaiveTimestamps::Refuse),
            "utc" => Ok(NaiveTimestamps::Utc),
            _ => Err(format!(
                "`{text}` is not a rule for timestamps without a time zone: use `utc` (they are \
                 UTC) or `refuse` (the default)"
            )),
        }
    }
}

/// How to give a zone, or say what timestamps without one mean: the end of
/// every refusal of a timestamp without a zone, whatever the format.
pub(crate) const NAIVE_FIX: &str = "skewless does not guess which zone a timestamp without one is \
     in; give it a zone where the data is written, or, if such timestamps are UTC, say so with \
     the `naive_timestamps` setting (`utc`)";

/// One column of a transform's inputs or outputs.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Field {
    /// Column name, matched exactly.
    pub name: String,
    /// Column type.
    pub data_type: DataType,
    /// Whether the column may hold nulls.
    pub nullable: bool,
}

impl Field {
    /// The Arrow field for this column.
    pub fn arrow(&self) -> ArrowField {
        ArrowField::new(&self.name, self.data_type.arrow(), self.nullable)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.data_type)?;
        if self.nullable {
            f.write_str(" (nullable)")?;
        }
        Ok(())
    }
}

/// What a transform declares: name, version, description and schemas.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransformInfo {
    /// Short identifier, e.g. `fraud-features`.
    pub name: String,
    /// The author's version, e.g. `1.0.0`.
    pub version: String,
    /// What the features are.
    pub description: String,
    /// Input columns in the order the transform receives them (with
    /// aggregations, the aggregates among them).
    pub inputs: Vec<Field>,
    /// Output columns in the order the transform returns them.
    pub outputs: Vec<Field>,
    /// Aggregations over events, when the transform has any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregation: Option<Aggregation>,
}

/// Aggregations over an entity's events in time windows, as a transform
/// declares them: the host computes them, the transform's row function
/// reads them as inputs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Aggregation {
    /// The entity's column, in events and in requests (utf8, int32, int64).
    pub key: Field,
    /// The events' time column (timestamp-micros).
    pub event_time: String,
    /// The requests' time column (timestamp-micros): features are as of it.
    pub request_time: String,
    /// The event columns the transform's `events` function reads.
    pub event_inputs: Vec<Field>,
    /// What `events` computes for each event.
    pub event_values: Vec<Field>,
    /// An event column that orders events of the same time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tie_break: Option<Field>,
    /// An event column that identifies an event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<Field>,
    /// How far behind the newest event of its entity an event may arrive,
    /// in microseconds.
    #[serde(default)]
    pub lateness_micros: i64,
    /// The aggregates, each an input of the row function.
    pub aggregates: Vec<Aggregate>,
}

/// One aggregate: a function of an entity's events in a window ending at
/// the query's time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Aggregate {
    /// The row function's input it fills.
    pub name: String,
    /// What it computes.
    pub function: AggregateFunction,
    /// The event value it reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// A boolean event value: only events where it is true count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// The window's length: an event at `time` counts for a query at `t`
    /// when `t - window <= time < t`.
    pub window_micros: i64,
}

/// A length of time in microseconds as its largest whole unit: `7d`,
/// `24h`, `90s`, `1500ms`, `7us`.
pub fn duration_text(micros: i64) -> String {
    const UNITS: [(i64, &str); 5] = [
        (86_400_000_000, "d"),
        (3_600_000_000, "h"),
        (60_000_000, "m"),
        (1_000_000, "s"),
        (1_000, "ms"),
    ];
    if micros == 0 {
        return "0s".into();
    }
    for (unit, name) in UNITS {
        // A day is read as `24h`, as windows are usually written.
        if micros % unit == 0 && (name != "d" || micros > unit) {
            return format!("{}{name}", micros / unit);
        }
    }
    format!("{micros}us")
}

/// `micros` in its largest units, for people rather than declarations:
/// `20d 10m`, `1h 30m 15s`, `250ms`.
pub(crate) fn duration_words(micros: i64) -> String {
    const UNITS: [(i64, &str); 6] = [
        (86_400_000_000, "d"),
        (3_600_000_000, "h"),
        (60_000_000, "m"),
        (1_000_000, "s"),
        (1_000, "ms"),
        (1, "us"),
    ];
    if micros <= 0 {
        return duration_text(micros);
    }
    let mut left = micros;
    let mut parts = Vec::new();
    for (unit, name) in UNITS {
        if left >= unit {
            parts.push(format!("{}{name}", left / unit));
            left %= unit;
        }
    }
    parts.join(" ")
}

impl fmt::Display for Aggregate {
    /// `count over 1h`, `sum(amount) over 24h where declined`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.function, &self.value) {
            (AggregateFunction::LastN(n), Some(value)) => write!(f, "last_n({value}, {n})")?,
            (function, Some(value)) => write!(f, "{function}({value})")?,
            (function, None) => write!(f, "{function}")?,
        }
        write!(f, " over {}", duration_text(self.window_micros))?;
        if let Some(filter) = &self.filter {
            write!(f, " where {filter}")?;
        }
        Ok(())
    }
}

/// What an aggregate computes (see the README's "Aggregations").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AggregateFunction {
    /// Events (or, with a value, events whose value is not null).
    Count,
    /// The exact sum of the values.
    Sum,
    /// The exact sum, rounded once, over the number of values.
    Mean,
    /// The least value.
    Min,
    /// The greatest value.
    Max,
    /// The number of distinct values.
    CountDistinct,
    /// The value of the earliest event.
    First,
    /// The value of the latest event.
    Last,
    /// Seconds from the latest event to the query's time.
    SecondsSinceLast,
    /// The values of the latest `n` events, oldest first.
    LastN(u32),
}

impl fmt::Display for AggregateFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AggregateFunction::Count => f.write_str("count"),
            AggregateFunction::Sum => f.write_str("sum"),
            AggregateFunction::Mean => f.write_str("mean"),
            AggregateFunction::Min => f.write_str("min"),
            AggregateFunction::Max => f.write_str("max"),
            AggregateFunction::CountDistinct => f.write_str("count_distinct"),
            AggregateFunction::First => f.write_str("first"),
            AggregateFunction::Last => f.write_str("last"),
            AggregateFunction::SecondsSinceLast => f.write_str("seconds_since_last"),
            AggregateFunction::LastN(n) => write!(f, "last_n({n})"),
        }
    }
}

impl AggregateFunction {
    /// The type (and nullability) of what this function gives over values
    /// of `value` (`None`: it reads no value); `Err` says why it cannot.
    pub fn output(self, value: Option<DataType>) -> Result<(DataType, bool), String> {
        use AggregateFunction as F;
        let scalar = match value {
            None => None,
            Some(value) => Some(value.scalar().ok_or_else(|| {
                format!("it reads a {value} value, and aggregates read scalar values only")
            })?),
        };
        let needs_value = || format!("`{self}` needs a value to read");
        match (self, scalar) {
            (F::Count, _) => Ok((DataType::Int64, false)),
            (F::SecondsSinceLast, None) => Ok((DataType::Float64, true)),
            (F::SecondsSinceLast, Some(_)) => {
                Err("`seconds_since_last` reads no value (it counts events)".into())
            }
            (_, None) => Err(needs_value()),
            (F::Sum, Some(ScalarType::Int32 | ScalarType::Int64)) => Ok((DataType::Int64, false)),
            (F::Sum, Some(ScalarType::Float32 | ScalarType::Float64)) => {
                Ok((DataType::Float64, false))
            }
            (F::Sum, Some(ScalarType::Decimal { scale, .. })) => Ok((
                DataType::Decimal {
                    precision: 38,
                    scale,
                },
                false,
            )),
            (
                F::Mean,
                Some(
                    ScalarType::Int32
                    | ScalarType::Int64
                    | ScalarType::Float32
                    | ScalarType::Float64,
                ),
            ) => Ok((DataType::Float64, true)),
            (F::Sum | F::Mean, Some(other)) => Err(format!(
                "`{self}` adds numbers (int32, int64, float32, float64{}), not {other}",
                if self == F::Sum { ", decimal" } else { "" }
            )),
            (F::Min | F::Max | F::First | F::Last, Some(value)) => Ok((value.into(), true)),
            (F::CountDistinct, Some(_)) => Ok((DataType::Int64, false)),
            (F::LastN(_), Some(element)) => Ok((
                DataType::List {
                    element,
                    element_nullable: false,
                },
                false,
            )),
        }
    }
}

impl TransformInfo {
    /// Checks the declaration is one the host can honour; the error says
    /// what is wrong with it.
    pub fn validate(&self) -> Result<(), String> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !name_ok {
            return Err(format!(
                "its name `{}` is not 1 to 64 lowercase letters, digits, `-` or `_`",
                self.name
            ));
        }
        if self.version.trim().is_empty() {
            return Err("its version is empty".into());
        }
        for (what, fields) in [("input", &self.inputs), ("output", &self.outputs)] {
            if fields.is_empty() {
                return Err(format!("it declares no {what} columns"));
            }
            let mut seen = HashSet::new();
            for field in fields {
                if field.name.is_empty() {
                    return Err(format!("it declares an {what} column with an empty name"));
                }
                if !seen.insert(field.name.as_str()) {
                    return Err(format!(
                        "it declares the {what} column `{}` twice",
                        field.name
                    ));
                }
            }
        }
        if let Some(aggregation) = &self.aggregation {
            aggregation
                .validate(&self.inputs)
                .map_err(|reason| format!("its aggregation is invalid: {reason}"))?;
        }
        Ok(())
    }

    /// The columns a spine (or a request) gives: with aggregations, the
    /// key and the time first, then the row function's own inputs (every
    /// input but the aggregates); without, the inputs.
    pub fn spine_inputs(&self) -> Vec<Field> {
        let mut fields = Vec::new();
        if let Some(aggregation) = &self.aggregation {
            fields.push(aggregation.key.clone());
            if aggregation.request_time != aggregation.key.name {
                fields.push(Field {
                    name: aggregation.request_time.clone(),
                    data_type: DataType::TimestampMicros,
                    nullable: false,
                });
            }
        }
        for field in self.request_inputs() {
            if !fields.iter().any(|f| f.name == field.name) {
                fields.push(field);
            }
        }
        fields
    }

    /// The row function's inputs that requests give (without the
    /// aggregates the host computes); all of them without aggregations.
    pub fn request_inputs(&self) -> Vec<Field> {
        match &self.aggregation {
            None => self.inputs.clone(),
            Some(aggregation) => self
                .inputs
                .iter()
                .filter(|f| !aggregation.aggregates.iter().any(|a| a.name == f.name))
                .cloned()
                .collect(),
        }
    }

    /// The Arrow schema of the inputs.
    pub fn input_schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.inputs.iter().map(Field::arrow).collect::<Vec<_>>(),
        ))
    }

    /// The Arrow schema of the event values (empty without aggregations).
    pub fn event_schema(&self) -> SchemaRef {
        let fields = self
            .aggregation
            .iter()
            .flat_map(|a| a.event_values.iter().map(Field::arrow))
            .collect::<Vec<_>>();
        Arc::new(Schema::new(fields))
    }

    /// The Arrow schema of the outputs.
    pub fn output_schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.outputs.iter().map(Field::arrow).collect::<Vec<_>>(),
        ))
    }
}

impl Aggregation {
    /// The event columns the engine itself reads: the key, the time and
    /// the tie-break, with their declared types.
    pub fn engine_columns(&self) -> Vec<Field> {
        let mut fields = vec![
            self.key.clone(),
            Field {
                name: self.event_time.clone(),
                data_type: DataType::TimestampMicros,
                nullable: false,
            },
        ];
        if let Some(tie) = &self.tie_break {
            fields.push(tie.clone());
        }
        fields
    }

    /// Every column events must have: what the engine reads, then what
    /// the transform's `events` reads and the event id, each once.
    pub fn event_columns(&self) -> Vec<Field> {
        let mut fields = self.engine_columns();
        for field in self.event_inputs.iter().chain(self.event_id.iter()) {
            if !fields.iter().any(|f| f.name == field.name) {
                fields.push(field.clone());
            }
        }
        fields
    }

    /// The type of event value `name`, if there is one.
    pub fn event_value(&self, name: &str) -> Option<&Field> {
        self.event_values.iter().find(|f| f.name == name)
    }

    /// Checks the declaration against the row function's `inputs`.
    fn validate(&self, inputs: &[Field]) -> Result<(), String> {
        if !matches!(
            self.key.data_type,
            DataType::Utf8 | DataType::Int32 | DataType::Int64
        ) {
            return Err(format!(
                "its key `{}` is {}; a key is utf8, int32 or int64",
                self.key.name, self.key.data_type
            ));
        }
        for (what, name) in [
            ("key", &self.key.name),
            ("event time column", &self.event_time),
            ("request time column", &self.request_time),
        ] {
            if name.is_empty() {
                return Err(format!("its {what} has an empty name"));
            }
        }
        if let Some(id) = &self.event_id
            && !matches!(id.data_type, DataType::Utf8 | DataType::Int64)
        {
            return Err(format!(
                "its event id `{}` is {}; an id is utf8 or int64",
                id.name, id.data_type
            ));
        }
        if let Some(tie) = &self.tie_break
            && tie.data_type.scalar().is_none()
        {
            return Err(format!(
                "its tie-break `{}` is {}; events are ordered by scalar values",
                tie.name, tie.data_type
            ));
        }
        if self.lateness_micros < 0 {
            return Err("its allowed lateness is negative".into());
        }
        if self.aggregates.is_empty() {
            return Err("it declares no aggregates".into());
        }
        let mut seen = HashSet::new();
        for (what, fields) in [
            ("event input", &self.event_inputs),
            ("event value", &self.event_values),
        ] {
            seen.clear();
            for field in fields {
                if !seen.insert(field.name.as_str()) {
                    return Err(format!("it declares the {what} `{}` twice", field.name));
                }
            }
        }
        let mut names = HashSet::new();
        for aggregate in &self.aggregates {
            let at = |reason: String| format!("aggregate `{}`: {reason}", aggregate.name);
            if !names.insert(aggregate.name.as_str()) {
                return Err(at("declared twice".into()));
            }
            if aggregate.window_micros <= 0 {
                return Err(at(format!(
                    "its window is {} microseconds; a window is positive",
                    aggregate.window_micros
                )));
            }
            let value = match &aggregate.value {
                None => None,
                Some(name) => Some(
                    self.event_value(name)
                        .ok_or_else(|| {
                            at(format!("it reads `{name}`, which is not an event value"))
                        })?
                        .data_type,
                ),
            };
            if let Some(filter) = &aggregate.filter {
                match self.event_value(filter) {
                    Some(field) if field.data_type == DataType::Boolean => {}
                    Some(field) => {
                        return Err(at(format!(
                            "its filter `{filter}` is {}, not boolean",
                            field.data_type
                        )));
                    }
                    None => {
                        return Err(at(format!("its filter `{filter}` is not an event value")));
                    }
                }
            }
            if let AggregateFunction::LastN(0) = aggregate.function {
                return Err(at("`last_n(0)` keeps nothing".into()));
            }
            let (data_type, nullable) = aggregate.function.output(value).map_err(at)?;
            let Some(input) = inputs.iter().find(|f| f.name == aggregate.name) else {
                return Err(at("no input of the row function has its name".into()));
            };
            if input.data_type != data_type || (nullable && !input.nullable) {
                return Err(at(format!(
                    "it gives {data_type}{}, but the row function's input `{}` is {input}",
                    if nullable { " (nullable)" } else { "" },
                    input.name,
                )));
            }
        }
        Ok(())
    }

    /// The longest window.
    pub fn longest_window(&self) -> i64 {
        self.aggregates
            .iter()
            .map(|a| a.window_micros)
            .max()
            .unwrap_or(0)
    }
}

/// Where a batch came from: the transform that made it.
///
/// Backfill outputs carry it in their metadata under the `skewless.*` keys,
/// so the transform that produced training data can be pinned for serving.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The transform's name.
    pub name: String,
    /// The transform's version.
    pub version: String,
    /// sha256 of the component file, lowercase hex.
    pub sha256: String,
    /// The full declaration.
    pub spec: TransformInfo,
}

impl Provenance {
    /// Metadata key of the transform's name.
    pub const NAME_KEY: &'static str = "skewless.transform.name";
    /// Metadata key of the transform's version.
    pub const VERSION_KEY: &'static str = "skewless.transform.version";
    /// Metadata key of the component's sha256.
    pub const SHA256_KEY: &'static str = "skewless.transform.sha256";
    /// Metadata key of the declaration, as JSON.
    pub const SPEC_KEY: &'static str = "skewless.transform.spec";

    /// The metadata entries, in a fixed order.
    pub fn to_metadata(&self) -> Vec<(String, String)> {
        vec![
            (Self::NAME_KEY.into(), self.name.clone()),
            (Self::VERSION_KEY.into(), self.version.clone()),
            (Self::SHA256_KEY.into(), self.sha256.clone()),
            (
                Self::SPEC_KEY.into(),
                serde_json::to_string(&self.spec).expect("a spec serializes"),
            ),
        ]
    }

    /// Reads provenance back from metadata entries; `None` when the file was
    /// not written by skewless, `Err` when the entries are damaged.
    pub fn from_metadata<'a>(
        mut get: impl FnMut(&str) -> Option<&'a str>,
    ) -> Result<Option<Provenance>, String> {
        let Some(sha256) = get(Self::SHA256_KEY) else {
            return Ok(None);
        };
        let sha256 = sha256.to_string();
        let spec = get(Self::SPEC_KEY).ok_or("it has a sha256 but no spec")?;
        let spec: TransformInfo =
            serde_json::from_str(spec).map_err(|e| format!("its spec is not valid: {e}"))?;
        Ok(Some(Provenance {
            name: get(Self::NAME_KEY).unwrap_or(&spec.name).to_string(),
            version: get(Self::VERSION_KEY).unwrap_or(&spec.version).to_string(),
            sha256,
            spec,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_read_as_declared() {
        let aggregate = |function, value: Option<&str>, filter: Option<&str>, window_micros| {
            Aggregate {
                name: "x".into(),
                function,
                value: value.map(Into::into),
                filter: filter.map(Into::into),
                window_micros,
            }
            .to_string()
        };
        assert_eq!(
            aggregate(AggregateFunction::Count, None, None, 3_600_000_000),
            "count over 1h"
        );
        assert_eq!(
            aggregate(
                AggregateFunction::Sum,
                Some("amount"),
                Some("declined"),
                86_400_000_000
            ),
            "sum(amount) over 24h where declined"
        );
        assert_eq!(
            aggregate(AggregateFunction::LastN(3), Some("m"), None, 1_500),
            "last_n(m, 3) over 1500us"
        );
        assert_eq!(duration_text(7 * 86_400_000_000), "7d");
        assert_eq!(duration_text(90_000_000), "90s");
        assert_eq!(duration_text(0), "0s");
        assert_eq!(duration_words(20 * 86_400_000_000 + 600_000_000), "20d 10m");
        assert_eq!(duration_words(5_415_000_000), "1h 30m 15s");
        assert_eq!(duration_words(250_000), "250ms");
        assert_eq!(duration_words(1_000_001), "1s 1us");
        assert_eq!(duration_words(0), "0s");
    }

    fn info() -> TransformInfo {
        let field = |name: &str| Field {
            name: name.into(),
            data_type: DataType::Float64,
            nullable: false,
        };
        TransformInfo {
            name: "t".into(),
            version: "1".into(),
            description: String::new(),
            inputs: vec![field("a")],
            outputs: vec![field("b")],
            aggregation: None,
        }
    }

    #[test]
    fn validate_names_what_is_wrong() {
        assert_eq!(info().validate(), Ok(()));
        let mut bad = info();
        bad.name = "Fraud Features".into();
        assert!(bad.validate().unwrap_err().contains("`Fraud Features`"));
        let mut bad = info();
        bad.outputs.push(bad.outputs[0].clone());
        assert_eq!(
            bad.validate().unwrap_err(),
            "it declares the output column `b` twice"
        );
        let mut bad = info();
        bad.inputs.clear();
        assert_eq!(bad.validate().unwrap_err(), "it declares no input columns");
    }

    #[test]
    fn provenance_round_trips_through_metadata() {
        let provenance = Provenance {
            name: "t".into(),
            version: "1".into(),
            sha256: "ab".repeat(32),
            spec: info(),
        };
        let metadata = provenance.to_metadata();
        let get = |key: &str| {
            metadata
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(Provenance::from_metadata(get), Ok(Some(provenance)));
        assert_eq!(Provenance::from_metadata(|_| None), Ok(None));
    }

    #[test]
    fn data_types_serialize_as_in_the_contract() {
        assert_eq!(
            serde_json::to_string(&DataType::TimestampMicros).unwrap(),
            "\"timestamp-micros\""
        );
    }
}
