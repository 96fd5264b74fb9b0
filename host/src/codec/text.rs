//! The one text form of every value: how JSON (requests, responses, JSON
//! Lines), CSV and `inspect` write a value, and how text becomes a
//! timestamp.
//!
//! A value written one way in a CSV file and another in a response is skew
//! that `verify` cannot see, and a value a writer cannot format must not
//! quietly become `""`. So every Arrow type that can reach an output has
//! one rule here, chosen before any row is written (the types that have
//! no exact text form are refused, by name), and every path that writes
//! text goes through it:
//!
//! | Arrow type | text |
//! |---|---|
//! | boolean | `true`, `false` |
//! | integers, any width, signed or not | decimal digits, exact |
//! | float16/32/64 | the shortest text that parses back to the same bits; `NaN`, `-NaN`, `NaN:0x...` (a NaN with a payload), `Infinity`, `-Infinity` |
//! | utf8, large utf8, utf8 view, dictionaries | the string |
//! | timestamp, any unit, with a zone | RFC 3339 in UTC with the unit's digits: `2026-03-02T00:10:43.123456Z` (µs) |
//! | timestamp without a zone | the same without `Z` |
//! | date32, date64 | `2026-03-02` |
//! | decimal128/256 | the exact decimal, e.g. `12.340` |
//! | null type | null |
//!
//! Years outside 0000-9999 (which RFC 3339 cannot write) take ISO 8601's
//! expanded form, a sign and at least four digits (`+10000-01-01T...`,
//! `-0001-12-31T...`), so every 64-bit timestamp has a text form that
//! parses back to itself.
//!
//! Reading text back is [`super::parse`]'s job: one reader per type, which
//! takes back exactly what this module writes.

use std::fmt::Write as _;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, RecordBatchOptions, StringArray};
use arrow::datatypes::{
    DataType as ArrowType, Date32Type, Date64Type, Decimal128Type, Decimal256Type, Field,
    Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, Schema,
    TimeUnit, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};

use super::parse::{CANONICAL_NAN_32, CANONICAL_NAN_64};
/// The canonical quiet NaN of float16, written `NaN`.
const CANONICAL_NAN_16: u16 = 0x7e00;

/// Where formatted cells go: JSON quotes and escapes text, CSV quotes it
/// only where it must.
pub(crate) trait CellSink {
    /// A null.
    fn null(&mut self);
    /// A number or a boolean: never needs quoting, and JSON writes it bare.
    fn bare(&mut self, text: &str);
    /// Text: a string in JSON.
    fn text(&mut self, text: &str);
    /// A list, as a JSON array of its elements' JSON values (`[1.5,null]`):
    /// an array in JSON, its JSON text elsewhere.
    fn array(&mut self, json: &str);
}

/// How one column's values are written, decided once from its type.
#[derive(Clone, Debug)]
pub(crate) struct ColumnText {
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    Null,
    Boolean,
    Int8,
    Int16,
    Int32,
    Int64,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    Float16,
    Float32,
    Float64,
    Utf8,
    LargeUtf8,
    Utf8View,
    Timestamp {
        unit: TimeUnit,
        zoned: bool,
    },
    Date32,
    Date64,
    Decimal128 {
        scale: i8,
    },
    Decimal256,
    Binary,
    LargeBinary,
    BinaryView,
    /// Any of Arrow's list layouts: the elements by their own rule.
    List(Box<ColumnText>),
}

impl ColumnText {
    /// The text rule of columns of `data_type` (dictionaries by their
    /// values: see [`ColumnText::unpack`]); `Err` with the name of the
    /// type that has none.
    pub(crate) fn new(data_type: &ArrowType) -> Result<ColumnText, String> {
        use ArrowType as A;
        let kind = match data_type {
            A::Null => Kind::Null,
            A::Boolean => Kind::Boolean,
            A::Int8 => Kind::Int8,
            A::Int16 => Kind::Int16,
            A::Int32 => Kind::Int32,
            A::Int64 => Kind::Int64,
            A::UInt8 => Kind::UInt8,
            A::UInt16 => Kind::UInt16,
            A::UInt32 => Kind::UInt32,
            A::UInt64 => Kind::UInt64,
            A::Float16 => Kind::Float16,
            A::Float32 => Kind::Float32,
            A::Float64 => Kind::Float64,
            A::Utf8 => Kind::Utf8,
            A::LargeUtf8 => Kind::LargeUtf8,
            A::Utf8View => Kind::Utf8View,
            A::Timestamp(unit, zone) => Kind::Timestamp {
                unit: *unit,
                zoned: zone.is_some(),
            },
            A::Date32 => Kind::Date32,
            A::Date64 => Kind::Date64,
            A::Decimal128(_, scale) => Kind::Decimal128 { scale: *scale },
            A::Decimal256(..) => Kind::Decimal256,
            A::Binary | A::FixedSizeBinary(_) => Kind::Binary,
            A::LargeBinary => Kind::LargeBinary,
            A::BinaryView => Kind::BinaryView,
            A::List(item) | A::LargeList(item) | A::FixedSizeList(item, _) => {
                Kind::List(Box::new(ColumnText::new(item.data_type())?))
            }
            A::Dictionary(_, values) => return ColumnText::new(values),
            other => return Err(other.to_string()),
        };
        Ok(ColumnText { kind })
    }

    /// `array` as this rule formats it: dictionaries unpacked to their
    /// values (once per batch, not per cell).
    pub(crate) fn unpack(array: &ArrayRef) -> ArrayRef {
        match array.data_type() {
            ArrowType::Dictionary(_, values) => {
                arrow::compute::cast(array, values).expect("a dictionary casts to its value type")
            }
            _ => array.clone(),
        }
    }

    /// Writes row `row` of `array` (of this rule's type, unpacked) to `sink`.
    pub(crate) fn write(&self, array: &dyn Array, row: usize, sink: &mut impl CellSink) {
        if array.is_null(row) {
            sink.null();
            return;
        }
        let mut itoa = itoa::Buffer::new();
        match &self.kind {
            Kind::Null => sink.null(),
            Kind::Boolean => sink.bare(if array.as_boolean().value(row) {
                "true"
            } else {
                "false"
            }),
            Kind::Int8 => sink.bare(itoa.format(array.as_primitive::<Int8Type>().value(row))),
            Kind::Int16 => sink.bare(itoa.format(array.as_primitive::<Int16Type>().value(row))),
            Kind::Int32 => sink.bare(itoa.format(array.as_primitive::<Int32Type>().value(row))),
            Kind::Int64 => sink.bare(itoa.format(array.as_primitive::<Int64Type>().value(row))),
            Kind::UInt8 => sink.bare(itoa.format(array.as_primitive::<UInt8Type>().value(row))),
            Kind::UInt16 => sink.bare(itoa.format(array.as_primitive::<UInt16Type>().value(row))),
            Kind::UInt32 => sink.bare(itoa.format(array.as_primitive::<UInt32Type>().value(row))),
            Kind::UInt64 => sink.bare(itoa.format(array.as_primitive::<UInt64Type>().value(row))),
            Kind::Float16 => {
                let value = array.as_primitive::<Float16Type>().value(row);
                if value.is_finite() {
                    sink.bare(ryu::Buffer::new().format_finite(value.to_f32()));
                } else {
                    let bits = value.to_bits();
                    special_float(
                        value.is_nan(),
                        bits >> 15 == 1,
                        bits & 0x7fff == CANONICAL_NAN_16,
                        || format!("NaN:0x{bits:04x}"),
                        sink,
                    );
                }
            }
            Kind::Float32 => {
                let value = array.as_primitive::<Float32Type>().value(row);
                if value.is_finite() {
                    sink.bare(ryu::Buffer::new().format_finite(value));
                } else {
                    let bits = value.to_bits();
                    special_float(
                        value.is_nan(),
                        value.is_sign_negative(),
                        bits & !(1 << 31) == CANONICAL_NAN_32,
                        || format!("NaN:0x{bits:08x}"),
                        sink,
                    );
                }
            }
            Kind::Float64 => {
                let value = array.as_primitive::<Float64Type>().value(row);
                if value.is_finite() {
                    sink.bare(ryu::Buffer::new().format_finite(value));
                } else {
                    let bits = value.to_bits();
                    special_float(
                        value.is_nan(),
                        value.is_sign_negative(),
                        bits & !(1 << 63) == CANONICAL_NAN_64,
                        || format!("NaN:0x{bits:016x}"),
                        sink,
                    );
                }
            }
            Kind::Utf8 => sink.text(array.as_string::<i32>().value(row)),
            Kind::LargeUtf8 => sink.text(array.as_string::<i64>().value(row)),
            Kind::Utf8View => sink.text(array.as_string_view().value(row)),
            Kind::Timestamp { unit, zoned } => {
                let value = timestamp_value(array, *unit, row);
                let mut text = String::with_capacity(32);
                write_timestamp(value, *unit, *zoned, &mut text);
                sink.text(&text);
            }
            Kind::Date32 => {
                let days = array.as_primitive::<Date32Type>().value(row);
                let mut text = String::with_capacity(16);
                write_date(i64::from(days), &mut text);
                sink.text(&text);
            }
            Kind::Date64 => {
                let millis = array.as_primitive::<Date64Type>().value(row);
                let mut text = String::with_capacity(32);
                if millis % 86_400_000 == 0 {
                    write_date(millis / 86_400_000, &mut text);
                } else {
                    // Not a whole day (which Arrow asks of date64 but does
                    // not enforce): the exact instant, rather than a day
                    // that drops its time.
                    write_timestamp(millis, TimeUnit::Millisecond, false, &mut text);
                }
                sink.text(&text);
            }
            Kind::Decimal128 { scale } => {
                let mut text = String::with_capacity(24);
                write_decimal(
                    array.as_primitive::<Decimal128Type>().value(row),
                    i32::from(*scale),
                    &mut text,
                );
                sink.text(&text);
            }
            Kind::Decimal256 => {
                sink.text(&array.as_primitive::<Decimal256Type>().value_as_string(row))
            }
            Kind::Binary => {
                let bytes = match array.data_type() {
                    ArrowType::FixedSizeBinary(_) => array.as_fixed_size_binary().value(row),
                    _ => array.as_binary::<i32>().value(row),
                };
                sink.text(&base64_text(bytes));
            }
            Kind::LargeBinary => sink.text(&base64_text(array.as_binary::<i64>().value(row))),
            Kind::BinaryView => sink.text(&base64_text(array.as_binary_view().value(row))),
            Kind::List(element) => {
                let items = match array.data_type() {
                    ArrowType::LargeList(_) => array.as_list::<i64>().value(row),
                    ArrowType::FixedSizeList(..) => array.as_fixed_size_list().value(row),
                    _ => array.as_list::<i32>().value(row),
                };
                let items = ColumnText::unpack(&items);
                let mut json = String::with_capacity(2 + items.len() * 8);
                json.push('[');
                for index in 0..items.len() {
                    if index > 0 {
                        json.push(',');
                    }
                    let mut cell = JsonText(&mut json);
                    element.write(items.as_ref(), index, &mut cell);
                }
                json.push(']');
                sink.array(&json);
            }
        }
    }
}

/// A list's element, as JSON text appended to a string.
struct JsonText<'a>(&'a mut String);

impl CellSink for JsonText<'_> {
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

/// Bytes as standard base64 with padding: their one text form.
pub(crate) fn base64_text(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `units` of 10^-`scale` as exact decimal text: `12.30`, `-0.05`, `1200`
/// (a negative scale appends zeros).
pub(crate) fn write_decimal(units: i128, scale: i32, out: &mut String) {
    let digits = units.unsigned_abs().to_string();
    if units < 0 {
        out.push('-');
    }
    if scale <= 0 {
        out.push_str(&digits);
        if units != 0 {
            out.extend(std::iter::repeat_n('0', scale.unsigned_abs() as usize));
        }
        return;
    }
    let scale = scale as usize;
    if digits.len() > scale {
        let (whole, fraction) = digits.split_at(digits.len() - scale);
        out.push_str(whole);
        out.push('.');
        out.push_str(fraction);
    } else {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', scale - digits.len()));
        out.push_str(&digits);
    }
}

/// NaN and the infinities, as the text forms in the module docs.
fn special_float(
    nan: bool,
    negative: bool,
    canonical: bool,
    with_bits: impl FnOnce() -> String,
    sink: &mut impl CellSink,
) {
    match (nan, negative, canonical) {
        (true, false, true) => sink.text("NaN"),
        (true, true, true) => sink.text("-NaN"),
        (true, _, false) => sink.text(&with_bits()),
        (false, false, _) => sink.text("Infinity"),
        (false, true, _) => sink.text("-Infinity"),
    }
}

fn timestamp_value(array: &dyn Array, unit: TimeUnit, row: usize) -> i64 {
    use arrow::datatypes::{
        TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
        TimestampSecondType,
    };
    match unit {
        TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(row),
        TimeUnit::Millisecond => array.as_primitive::<TimestampMillisecondType>().value(row),
        TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().value(row),
        TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().value(row),
    }
}

/// Units per second, and the fraction digits of `unit`.
fn unit_scale(unit: TimeUnit) -> (i64, usize) {
    match unit {
        TimeUnit::Second => (1, 0),
        TimeUnit::Millisecond => (1_000, 3),
        TimeUnit::Microsecond => (1_000_000, 6),
        TimeUnit::Nanosecond => (1_000_000_000, 9),
    }
}

/// A UTC timestamp in microseconds as RFC 3339 text, as every writer
/// writes it (for messages and answers that name a time).
pub(crate) fn timestamp_text(micros: i64) -> String {
    let mut out = String::new();
    write_timestamp(micros, TimeUnit::Microsecond, true, &mut out);
    out
}

/// `value` (in `unit` since the Unix epoch) as RFC 3339 in UTC, with the
/// unit's fraction digits; `Z` at the end when `zoned`.
pub(crate) fn write_timestamp(value: i64, unit: TimeUnit, zoned: bool, out: &mut String) {
    let (per_second, digits) = unit_scale(unit);
    let seconds = value.div_euclid(per_second);
    let fraction = value.rem_euclid(per_second);
    write_date(seconds.div_euclid(86_400), out);
    let of_day = seconds.rem_euclid(86_400);
    let _ = write!(
        out,
        "T{:02}:{:02}:{:02}",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    );
    if digits > 0 {
        let _ = write!(out, ".{fraction:0digits$}");
    }
    if zoned {
        out.push('Z');
    }
}

/// The date `days` after 1970-01-01, `YYYY-MM-DD` (a sign and at least four
/// digits for years outside 0000-9999).
fn write_date(days: i64, out: &mut String) {
    let (year, month, day) = civil_from_days(days);
    if (0..=9999).contains(&year) {
        let _ = write!(out, "{year:04}-{month:02}-{day:02}");
    } else {
        let sign = if year < 0 { '-' } else { '+' };
        let _ = write!(out, "{sign}{:04}-{month:02}-{day:02}", year.unsigned_abs());
    }
}

/// Howard Hinnant's `civil_from_days`: the proleptic Gregorian date `days`
/// after 1970-01-01, for any `i64` (whose years fit `i64` with room).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = i128::from(days) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i128::from(month <= 2);
    (year as i64, month, day)
}

/// A sink that collects one cell as text (`None` for null): for tests and
/// for showing values.
#[derive(Default)]
pub(crate) struct Plain(pub(crate) Option<String>);

impl CellSink for Plain {
    fn null(&mut self) {
        self.0 = None;
    }
    fn bare(&mut self, text: &str) {
        self.0 = Some(text.to_string());
    }
    fn text(&mut self, text: &str) {
        self.0 = Some(text.to_string());
    }
    fn array(&mut self, json: &str) {
        self.0 = Some(json.to_string());
    }
}

/// `batch` with every column as text (utf8, nulls kept): each value in the
/// one text form of its type, as CSV and JSON write it, so what is shown
/// is what a file would hold. A column whose type has no text form is
/// shown as Arrow displays it.
pub fn text_batch(batch: &RecordBatch) -> RecordBatch {
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|column| {
            let texts: StringArray = match ColumnText::new(column.data_type()) {
                Ok(rule) => {
                    let unpacked = ColumnText::unpack(column);
                    (0..column.len())
                        .map(|row| {
                            let mut plain = Plain::default();
                            rule.write(unpacked.as_ref(), row, &mut plain);
                            plain.0
                        })
                        .collect()
                }
                Err(_) => {
                    let options = arrow::util::display::FormatOptions::default();
                    let display = arrow::util::display::ArrayFormatter::try_new(column, &options);
                    (0..column.len())
                        .map(|row| {
                            (!column.is_null(row)).then(|| match &display {
                                Ok(display) => display.value(row).to_string(),
                                Err(e) => format!("<{e}>"),
                            })
                        })
                        .collect()
                }
            };
            Arc::new(texts) as ArrayRef
        })
        .collect();
    let schema = Schema::new(
        batch
            .schema()
            .fields()
            .iter()
            .map(|f| Field::new(f.name(), ArrowType::Utf8, true))
            .collect::<Vec<_>>(),
    );
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    RecordBatch::try_new_with_options(Arc::new(schema), columns, &options)
        .expect("one text column per column")
}

/// Row `row` of `array` as its text form (`None` for null); `Err` with the
/// type's name when it has none.
#[cfg(test)]
fn cell_text(array: &ArrayRef, row: usize) -> Result<Option<String>, String> {
    let rule = ColumnText::new(array.data_type())?;
    let array = ColumnText::unpack(array);
    let mut plain = Plain::default();
    rule.write(array.as_ref(), row, &mut plain);
    Ok(plain.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::parse::{
        Refused, TIMESTAMP, special_float_bits, timestamp as parse_timestamp,
    };
    use crate::spec::{NAIVE_FIX, NaiveTimestamps};

    fn micros_text(micros: i64) -> String {
        let mut out = String::new();
        write_timestamp(micros, TimeUnit::Microsecond, true, &mut out);
        out
    }

    /// In RFC 3339's range, the text is chrono's, and it parses back.
    #[test]
    fn timestamps_are_rfc3339_and_round_trip() {
        let mut micros: i64 = -62_167_219_200_000_000; // 0000-01-01
        let last: i64 = 253_402_300_799_999_999; // 9999-12-31T23:59:59.999999
        let step = 86_399_999_917; // about a day, and every field changes
        while micros <= last {
            let text = micros_text(micros);
            let chrono = chrono::DateTime::from_timestamp_micros(micros)
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            assert_eq!(text, chrono);
            assert_eq!(parse_timestamp(&text, NaiveTimestamps::Refuse), Ok(micros));
            micros += step;
        }
    }

    #[test]
    fn every_64_bit_timestamp_has_a_text_that_parses_back() {
        for micros in [
            i64::MIN,
            i64::MIN + 1,
            -62_167_219_200_000_001, // the last microsecond of year -1
            253_402_300_800_000_000, // 10000-01-01
            i64::MAX,
        ] {
            let text = micros_text(micros);
            assert!(text.starts_with(['+', '-']), "{text}");
            assert_eq!(
                parse_timestamp(&text, NaiveTimestamps::Refuse),
                Ok(micros),
                "{text}"
            );
        }
        assert_eq!(
            micros_text(-62_167_219_200_000_001),
            "-0001-12-31T23:59:59.999999Z"
        );
        assert_eq!(
            micros_text(253_402_300_800_000_000),
            "+10000-01-01T00:00:00.000000Z"
        );
    }

    #[test]
    fn timestamp_text_forms_that_are_accepted() {
        let at = 1_772_410_243_000_000; // 2026-03-02T00:10:43Z
        for text in [
            "2026-03-02T00:10:43Z",
            "2026-03-02t00:10:43z",
            "2026-03-02 00:10:43+00:00",
            "2026-03-02T01:10:43+01:00",
            "2026-03-02T01:10:43+0100",
            "2026-03-02T01:10:43+01",
            "2026-03-01T19:10:43-05:00",
            "2026-03-02T00:10:43.000000000Z",
            "2026-03-02T00:10:43.0000000000000Z",
            "2026-03-02T00:10:43-00:00",
            " 2026-03-02T00:10:43Z ",
            // An offset in seconds (a zone's local mean time, as Python's
            // `isoformat` writes it).
            "2026-03-02T05:32:53+05:22:10",
            "2026-03-02T00:10:42-00:00:01",
        ] {
            assert_eq!(
                parse_timestamp(text, NaiveTimestamps::Refuse),
                Ok(at),
                "{text}"
            );
        }
        assert_eq!(
            parse_timestamp("2026-03-02T00:10:43.5Z", NaiveTimestamps::Refuse),
            Ok(at + 500_000)
        );
        assert_eq!(
            parse_timestamp("2026-03-02 00:10:43", NaiveTimestamps::Utc),
            Ok(at)
        );
    }

    #[test]
    fn timestamp_refusals_say_why() {
        assert_eq!(
            parse_timestamp("2026-03-02 00:10:43", NaiveTimestamps::Refuse),
            Err(Refused::NoZone(format!(
                "\"2026-03-02 00:10:43\" has no time zone; {NAIVE_FIX}"
            )))
        );
        let refused = |text: &str| match parse_timestamp(text, NaiveTimestamps::Refuse) {
            Err(Refused::Invalid(reason)) => reason,
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(
            refused("1764633600.25"),
            "\"1764633600.25\" is a number, but a timestamp is an RFC 3339 timestamp with a time \
             zone, such as \"2026-03-02T00:10:43Z\": a number could count seconds, milliseconds \
             or microseconds since the epoch, so skewless does not guess"
        );
        assert_eq!(
            refused("2026-03-02T00:10:43.0000001Z"),
            "\"2026-03-02T00:10:43.0000001Z\" has a fraction of a microsecond; timestamps are \
             whole microseconds"
        );
        for bad in [
            "2026-02-29T00:00:00Z",
            "2026-03-02",
            "2026-03-02T24:00:00Z",
            "2026-03-02T00:10:60Z",
            "2026-3-2T00:10:43Z",
            "2026-03-02T00:10:43+24:00",
            "2026-03-02T00:10:43+01:00:60",
            "2026-03-02T00:10:43+01:00:",
            "2026-03-02T00:10:43+010000",
            "12026-03-02T00:10:43Z",
            "yesterday",
            "",
        ] {
            assert_eq!(
                parse_timestamp(bad, NaiveTimestamps::Refuse),
                Err(Refused::NotA(TIMESTAMP)),
                "{bad}"
            );
        }
        assert!(refused("+300000-01-01T00:00:00Z").contains("outside the range"));
    }

    #[test]
    fn every_unit_writes_its_own_digits() {
        let text = |value, unit, zoned| {
            let mut out = String::new();
            write_timestamp(value, unit, zoned, &mut out);
            out
        };
        assert_eq!(text(-1, TimeUnit::Second, true), "1969-12-31T23:59:59Z");
        assert_eq!(
            text(1, TimeUnit::Millisecond, true),
            "1970-01-01T00:00:00.001Z"
        );
        assert_eq!(
            text(-1, TimeUnit::Nanosecond, false),
            "1969-12-31T23:59:59.999999999"
        );
    }

    #[test]
    fn cells_of_every_supported_type() {
        use arrow::array::*;
        let cell = |array: ArrayRef| cell_text(&array, 0).unwrap();
        assert_eq!(
            cell(Arc::new(UInt64Array::from(vec![u64::MAX]))).as_deref(),
            Some("18446744073709551615")
        );
        assert_eq!(
            cell(Arc::new(Float32Array::from(vec![0.1_f32]))).as_deref(),
            Some("0.1")
        );
        assert_eq!(
            cell(
                arrow::compute::cast(&Float32Array::from(vec![0.5_f32]), &ArrowType::Float16)
                    .unwrap()
            )
            .as_deref(),
            Some("0.5")
        );
        assert_eq!(
            cell(Arc::new(Float64Array::from(vec![f64::from_bits(
                0xfff8_0000_dead_beef
            )])))
            .as_deref(),
            Some("NaN:0xfff80000deadbeef")
        );
        assert_eq!(
            cell(Arc::new(Float64Array::from(vec![-f64::NAN]))).as_deref(),
            Some("-NaN")
        );
        assert_eq!(
            cell(Arc::new(Date32Array::from(vec![20_514]))).as_deref(),
            Some("2026-03-02")
        );
        assert_eq!(
            cell(Arc::new(
                Decimal128Array::from(vec![12_340])
                    .with_precision_and_scale(10, 3)
                    .unwrap()
            ))
            .as_deref(),
            Some("12.340")
        );
        let dictionary: DictionaryArray<Int8Type> = vec!["grocery", "travel"].into_iter().collect();
        assert_eq!(
            cell_text(&(Arc::new(dictionary) as ArrayRef), 1)
                .unwrap()
                .as_deref(),
            Some("travel")
        );
        assert_eq!(
            cell(Arc::new(StringViewArray::from(vec!["vue"]))).as_deref(),
            Some("vue")
        );
        assert_eq!(
            cell(Arc::new(
                TimestampNanosecondArray::from(vec![1]).with_timezone("America/New_York")
            ))
            .as_deref(),
            Some("1970-01-01T00:00:00.000000001Z")
        );
        assert_eq!(cell(Arc::new(NullArray::new(1))), None);
        let refused = ColumnText::new(&ArrowType::Duration(TimeUnit::Second)).unwrap_err();
        assert_eq!(refused, "Duration(s)");
    }

    #[test]
    fn special_floats_are_read_back() {
        assert_eq!(special_float_bits("NaN", 16), Some(Ok(CANONICAL_NAN_64)));
        assert_eq!(
            special_float_bits("NaN:0x7fc00001", 8),
            Some(Ok(0x7fc0_0001))
        );
        assert_eq!(
            special_float_bits("NaN:0x3ff0000000000000", 16),
            Some(Err(
                "NaN:0x3ff0000000000000 are not the bits of a NaN".into()
            ))
        );
        assert_eq!(special_float_bits("nan", 16), None);
    }
}
