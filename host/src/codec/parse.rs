//! One reader per type: a value's text as the column type's value.
//!
//! A CSV cell, a JSON number, and a JSON string that holds a value's text
//! are all read here, by the type's one rule, so a value means the same
//! thing in a file and in a request, and is refused with the same words.
//! Each rule takes back exactly what [`super::text`] writes, and the forms
//! users' own tools write (pandas writes `True` and `inf` in CSV files).
//!
//! | type | text |
//! |---|---|
//! | boolean | `true` or `false`, in any case |
//! | int32, int64 | an optional sign and decimal digits, within the type's range |
//! | float32, float64 | a decimal number (`12.5`, `-1e-3`, `.5`), correctly rounded to the type from the text; `NaN`, `-NaN`, `NaN:0x...` (a NaN with its bits), `Infinity`, `-Infinity`, and `inf`, `-inf`, `nan` in any case |
//! | utf8 | the text itself |
//! | timestamp | RFC 3339 with a zone, in whole microseconds |
//! | date | `2026-03-02` (a sign and more digits for years outside 0000-9999) |
//! | decimal | `12.30`, `-0.5`, `1e3`: exact, within the type's digits |
//! | binary | standard base64, with padding (JSON only: CSV files cannot hold bytes) |
//!
//! Surrounding spaces are ignored, except in text.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayBuilder, ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder,
    Float32Builder, Float64Builder, Int32Builder, Int64Builder, StringArray,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::DataType as ArrowType;

use crate::spec::{NAIVE_FIX, NaiveTimestamps};

/// The canonical quiet NaN of float64, written `NaN`.
pub(crate) const CANONICAL_NAN_64: u64 = 0x7ff8_0000_0000_0000;
/// The canonical quiet NaN of float32, written `NaN`.
pub(crate) const CANONICAL_NAN_32: u32 = 0x7fc0_0000;

/// Why a value's text was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The text is not of the type at all: this says what the type's
    /// values look like, e.g. "an int64 (a whole number such as 42)".
    NotA(&'static str),
    /// It is of the type's form but not acceptable; the reason quotes it.
    Invalid(String),
    /// A timestamp without a zone, which is not assumed to be UTC.
    NoZone(String),
}

impl Refused {
    /// Why `text` was refused, alone (for a value outside any column).
    #[cfg(feature = "serve")]
    pub(crate) fn reason(self, text: &str) -> String {
        match self {
            Refused::NotA(what) => not_a(text, what),
            Refused::Invalid(reason) | Refused::NoZone(reason) => reason,
        }
    }

    /// The error for the value `text` at `row` of `column`.
    pub(crate) fn into_error(self, column: &str, row: u64, text: &str) -> crate::Error {
        match self {
            Refused::NotA(what) => crate::Error::InvalidValue {
                column: column.to_string(),
                row,
                reason: not_a(text, what),
            },
            Refused::Invalid(reason) => crate::Error::InvalidValue {
                column: column.to_string(),
                row,
                reason,
            },
            Refused::NoZone(reason) => crate::Error::NaiveTimestamp {
                column: column.to_string(),
                row: Some(row),
                reason,
            },
        }
    }
}

/// `"abc" is not an int64 (...)`, with what a user most likely meant.
fn not_a(text: &str, what: &str) -> String {
    let lower = text.trim().to_ascii_lowercase();
    if ["null", "none", "na", "n/a", "<na>", "nat"].contains(&lower.as_str()) {
        return format!(
            "{text:?} is not {what}; a null is an empty CSV field or a JSON null, not a word"
        );
    }
    format!("{text:?} is not {what}")
}

pub(crate) const BOOLEAN: &str = "a boolean (true or false)";
pub(crate) const INT32: &str = "an int32 (a whole number such as 42)";
pub(crate) const INT64: &str = "an int64 (a whole number such as 42)";
pub(crate) const FLOAT32: &str = "a float32 (a number such as 12.5)";
pub(crate) const FLOAT64: &str = "a float64 (a number such as 12.5)";
/// What a timestamp written as text looks like, for messages.
pub(crate) const TIMESTAMP: &str =
    "an RFC 3339 timestamp with a time zone, such as \"2026-03-02T00:10:43Z\"";

pub(crate) const DATE: &str = "a date such as \"2026-03-02\"";
pub(crate) const BINARY: &str = "bytes in base64, such as \"3q2+7w==\"";

/// A date: days since 1970-01-01.
pub(crate) fn date(text: &str) -> Result<i32, Refused> {
    let trimmed = text.trim();
    match date_prefix(trimmed) {
        Some((year, month, day, [])) => i32::try_from(days_from_civil(year, month, day))
            .map_err(|_| Refused::Invalid(format!("{text:?} is outside the range of dates"))),
        Some(_) if Parsed::from(trimmed).is_some() => Err(Refused::Invalid(format!(
            "{text:?} is a timestamp, not a date; a date is written without a time, such as \
             \"2026-03-02\""
        ))),
        _ => Err(Refused::NotA(DATE)),
    }
}

/// The decimal of `precision` digits and `scale` digits after the point
/// that `text` writes, as units of 10^-`scale`: exact or refused (a digit
/// it would have to drop, more digits than `precision`).
pub(crate) fn decimal(text: &str, precision: u8, scale: u8) -> Result<i128, Refused> {
    let what = || Refused::NotA("a decimal (a number such as 12.30)");
    let trimmed = text.trim();
    let (negative, unsigned) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (
            &unsigned[..at],
            unsigned[at + 1..].parse::<i32>().map_err(|_| what())?,
        ),
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if (whole.is_empty() && fraction.is_empty())
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return Err(what());
    }
    let digits = format!("{whole}{fraction}");
    let digits = digits.trim_start_matches('0');
    // The value is digits x 10^(exponent - fraction digits); in units of
    // 10^-scale, that is digits x 10^shift.
    let shift = i64::from(exponent) - fraction.len() as i64 + i64::from(scale);
    let too_many = || {
        Refused::Invalid(format!(
            "{text} has more than {precision} digits as a decimal({precision},{scale})"
        ))
    };
    let units: i128 = if digits.is_empty() {
        0
    } else if shift >= 0 {
        let zeros = usize::try_from(shift).map_err(|_| too_many())?;
        if digits.len() + zeros > usize::from(precision) {
            return Err(too_many());
        }
        format!("{digits}{}", "0".repeat(zeros))
            .parse()
            .map_err(|_| too_many())?
    } else {
        let dropped = usize::try_from(-shift).map_err(|_| too_many())?;
        let kept = digits.len().saturating_sub(dropped);
        if digits[kept..].bytes().any(|b| b != b'0') {
            return Err(Refused::Invalid(format!(
                "{text} has more than {scale} digits after the point, so it is not a \
                 decimal({precision},{scale}) without rounding"
            )));
        }
        if kept > usize::from(precision) {
            return Err(too_many());
        }
        if kept == 0 {
            0
        } else {
            digits[..kept].parse().map_err(|_| too_many())?
        }
    };
    if units >= 10_i128.pow(u32::from(precision)) {
        return Err(too_many());
    }
    Ok(if negative { -units } else { units })
}

/// Bytes written in standard base64.
pub(crate) fn binary(text: &str) -> Result<Vec<u8>, Refused> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|_| Refused::NotA(BINARY))
}

/// A boolean: `true` or `false` in any case.
pub(crate) fn boolean(text: &str) -> Result<bool, Refused> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if text.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(Refused::NotA(BOOLEAN))
    }
}

/// An int64.
pub(crate) fn int64(text: &str) -> Result<i64, Refused> {
    integer(text, i128::from(i64::MIN)..=i128::from(i64::MAX), INT64).map(|v| v as i64)
}

/// An int32.
pub(crate) fn int32(text: &str) -> Result<i32, Refused> {
    integer(text, i128::from(i32::MIN)..=i128::from(i32::MAX), INT32).map(|v| v as i32)
}

fn integer(
    text: &str,
    range: std::ops::RangeInclusive<i128>,
    what: &'static str,
) -> Result<i128, Refused> {
    let trimmed = text.trim();
    let digits = trimmed.strip_prefix(['+', '-']).unwrap_or(trimmed);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        if trimmed.parse::<f64>().is_ok_and(f64::is_finite) {
            return Err(Refused::Invalid(format!(
                "{text} is not an integer (an integer column takes whole numbers written \
                 without a fraction or exponent){}",
                integral_float_hint(trimmed)
            )));
        }
        return Err(Refused::NotA(what));
    }
    let type_name = if what == INT32 { "int32" } else { "int64" };
    match trimmed.parse::<i128>() {
        Ok(value) if range.contains(&value) => Ok(value),
        _ if type_name == "int32" && trimmed.parse::<i64>().is_ok() => {
            Err(Refused::Invalid(format!(
                "{text} is out of range for int32; declare the input int64 (`i64` in Rust, \
                 `int` in Python)"
            )))
        }
        _ => Err(Refused::Invalid(format!(
            "{text} is out of range for {type_name}"
        ))),
    }
}

/// After "is not an integer": where whole numbers written as floats come
/// from, and what to do about it.
pub(crate) fn integral_float_hint(text: &str) -> &'static str {
    match text.trim().parse::<f64>() {
        Ok(value) if value.fract() == 0.0 => {
            "; pandas writes an integer column that has missing values as floats (1.0, NaN): \
             give the column the nullable integer dtype, `df[column].astype(\"Int64\")`, \
             before writing it"
        }
        _ => "",
    }
}

/// A float64, correctly rounded from its decimal text.
pub(crate) fn float64(text: &str) -> Result<f64, Refused> {
    match special_float_bits(text.trim(), 16) {
        Some(Ok(bits)) => return Ok(f64::from_bits(bits)),
        Some(Err(reason)) => return Err(Refused::Invalid(reason)),
        None => {}
    }
    text.trim()
        .parse::<f64>()
        .map(canonical_word_nan_64)
        .map_err(|_| Refused::NotA(FLOAT64))
}

/// A float32, correctly rounded from its decimal text (never through a
/// float64, which would round twice).
pub(crate) fn float32(text: &str) -> Result<f32, Refused> {
    match special_float_bits(text.trim(), 8) {
        Some(Ok(bits)) => return Ok(f32::from_bits(bits as u32)),
        Some(Err(reason)) => return Err(Refused::Invalid(reason)),
        None => {}
    }
    text.trim()
        .parse::<f32>()
        .map(|value| {
            if value.is_nan() {
                f32::from_bits(CANONICAL_NAN_32 | (value.to_bits() & (1 << 31)))
            } else {
                value
            }
        })
        .map_err(|_| Refused::NotA(FLOAT32))
}

/// A NaN written as a word (`nan`, `-nan`) is the canonical one, with its
/// sign.
fn canonical_word_nan_64(value: f64) -> f64 {
    if value.is_nan() {
        f64::from_bits(CANONICAL_NAN_64 | (value.to_bits() & (1 << 63)))
    } else {
        value
    }
}

/// Float text as [`super::text`] writes it: `NaN`, `-NaN`, `NaN:0x...`,
/// `Infinity`, `-Infinity` as their bits, `None` for any other text.
/// `hex_digits` is 16 for float64, 8 for float32.
pub(crate) fn special_float_bits(word: &str, hex_digits: usize) -> Option<Result<u64, String>> {
    let wide = hex_digits == 16;
    let bits = match word {
        "NaN" if wide => CANONICAL_NAN_64,
        "NaN" => u64::from(CANONICAL_NAN_32),
        "-NaN" if wide => CANONICAL_NAN_64 | (1 << 63),
        "-NaN" => u64::from(CANONICAL_NAN_32 | (1 << 31)),
        "Infinity" if wide => f64::INFINITY.to_bits(),
        "Infinity" => u64::from(f32::INFINITY.to_bits()),
        "-Infinity" if wide => f64::NEG_INFINITY.to_bits(),
        "-Infinity" => u64::from(f32::NEG_INFINITY.to_bits()),
        other => {
            let hex = other.strip_prefix("NaN:0x")?;
            if hex.len() != hex_digits {
                return Some(Err(format!(
                    "{other} has {} hex digits; a NaN's bits are {hex_digits} hex digits",
                    hex.len()
                )));
            }
            let Ok(bits) = u64::from_str_radix(hex, 16) else {
                return Some(Err(format!("{other} are not the bits of a NaN")));
            };
            let is_nan = if wide {
                f64::from_bits(bits).is_nan()
            } else {
                f32::from_bits(bits as u32).is_nan()
            };
            if !is_nan {
                return Some(Err(format!("{other} are not the bits of a NaN")));
            }
            bits
        }
    };
    Some(Ok(bits))
}

/// Microseconds since the Unix epoch of `text`: RFC 3339 (a `T`, `t` or
/// space between date and time), with a zone (`Z`, `+01:00`, `+0100` or
/// `+01`, or `+05:21:10` for an offset in seconds), in whole microseconds, years written as four digits or, outside
/// 0000-9999, as a sign and more. A number is refused (it could count
/// seconds, milliseconds or microseconds), and so is a timestamp without a
/// zone unless [`NaiveTimestamps::Utc`] says what it means.
pub(crate) fn timestamp(text: &str, naive: NaiveTimestamps) -> Result<i64, Refused> {
    let parsed = Parsed::from(text.trim()).ok_or_else(|| {
        let trimmed = text.trim();
        let number = trimmed.starts_with(|c: char| c.is_ascii_digit() || c == '-')
            && trimmed.parse::<f64>().is_ok();
        if number {
            // Thirteen digits are milliseconds of this century: what
            // pandas' `to_json` writes unless told otherwise.
            let pandas = if trimmed.len() == 13 && trimmed.bytes().all(|b| b.is_ascii_digit()) {
                " (pandas' `to_json` writes milliseconds unless given `date_format=\"iso\", \
                 date_unit=\"us\"`)"
            } else {
                ""
            };
            Refused::Invalid(format!(
                "{text:?} is a number, but a timestamp is {TIMESTAMP}: a number could count \
                 seconds, milliseconds or microseconds since the epoch, so skewless does not \
                 guess{pandas}"
            ))
        } else {
            Refused::NotA(TIMESTAMP)
        }
    })?;
    if parsed.nanos % 1_000 != 0 {
        return Err(Refused::Invalid(format!(
            "{text:?} has a fraction of a microsecond; timestamps are whole microseconds"
        )));
    }
    let offset_seconds = match (parsed.offset_seconds, naive) {
        (Some(offset), _) => offset,
        (None, NaiveTimestamps::Utc) => 0,
        (None, NaiveTimestamps::Refuse) => {
            return Err(Refused::NoZone(format!(
                "{text:?} has no time zone; {NAIVE_FIX}"
            )));
        }
    };
    let seconds = days_from_civil(parsed.year, parsed.month, parsed.day) * 86_400
        + i128::from(parsed.seconds_of_day)
        - i128::from(offset_seconds);
    let micros = seconds * 1_000_000 + i128::from(parsed.nanos / 1_000);
    i64::try_from(micros).map_err(|_| {
        Refused::Invalid(format!(
            "{text:?} is outside the range of timestamps (64-bit microseconds since 1970)"
        ))
    })
}

/// Howard Hinnant's `days_from_civil`: days from 1970-01-01 to a valid
/// proleptic Gregorian date.
pub(crate) fn days_from_civil(year: i128, month: u32, day: u32) -> i128 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let month = i128::from(month);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + i128::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub(crate) fn days_in_month(year: i128, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// The fields of a timestamp's text.
struct Parsed {
    year: i128,
    month: u32,
    day: u32,
    seconds_of_day: u32,
    nanos: u32,
    offset_seconds: Option<i32>,
}

impl Parsed {
    /// `[±]YYYY-MM-DD(T|t| )HH:MM:SS[.fraction][Z|z|±HH:MM[:SS]|±HHMM|±HH]`;
    /// `None` when `text` is not of that form or not a real date and time.
    fn from(text: &str) -> Option<Parsed> {
        let (year, month, day, mut rest) = date_prefix(text)?;
        match rest.first()? {
            b'T' | b't' | b' ' => rest = &rest[1..],
            _ => return None,
        }
        let hour = digits2(&mut rest)?;
        let minute = field(&mut rest, b':')?;
        let second = field(&mut rest, b':')?;
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let mut nanos = 0;
        if rest.first() == Some(&b'.') {
            rest = &rest[1..];
            let count = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            if count == 0 {
                return None;
            }
            let (fraction, after) = rest.split_at(count);
            // Digits past the ninth must be zeros to be carried at all.
            if fraction.iter().skip(9).any(|&d| d != b'0') {
                nanos = 1; // not whole microseconds; refused by the caller
            } else {
                let mut padded = [b'0'; 9];
                let used = count.min(9);
                padded[..used].copy_from_slice(&fraction[..used]);
                nanos = number(&padded)? as u32;
            }
            rest = after;
        }
        let offset_seconds = match rest {
            [] => None,
            [b'Z' | b'z'] => Some(0),
            [sign @ (b'+' | b'-'), zone @ ..] => {
                let mut zone = zone;
                let hours = digits2(&mut zone)?;
                let (minutes, seconds) = match zone {
                    [] => (0, 0),
                    [b':', ..] => {
                        let minutes = field(&mut zone, b':')?;
                        // Seconds: a zone's local mean time, before it had
                        // a standard offset (Python's `isoformat` writes
                        // `1900-01-01T08:21:10+05:21:10` for Asia/Kolkata).
                        let seconds = match zone {
                            [b':', ..] => field(&mut zone, b':')?,
                            _ => 0,
                        };
                        (minutes, seconds)
                    }
                    _ => (digits2(&mut zone)?, 0),
                };
                if !zone.is_empty() || hours > 23 || minutes > 59 || seconds > 59 {
                    return None;
                }
                let offset = (hours * 3600 + minutes * 60 + seconds) as i32;
                Some(if *sign == b'-' { -offset } else { offset })
            }
            _ => return None,
        };
        Some(Parsed {
            year,
            month,
            day,
            seconds_of_day: hour * 3600 + minute * 60 + second,
            nanos,
            offset_seconds,
        })
    }
}

/// `[±]YYYY-MM-DD` at the start of `text` (a real date), and the rest.
fn date_prefix(text: &str) -> Option<(i128, u32, u32, &[u8])> {
    let mut rest = text.as_bytes();
    let sign: i128 = match rest.first()? {
        b'+' => {
            rest = &rest[1..];
            1
        }
        b'-' => {
            rest = &rest[1..];
            -1
        }
        _ => 1,
    };
    let year_digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if year_digits < 4 || (year_digits > 4 && text.as_bytes()[0].is_ascii_digit()) {
        // Four digits, or an expanded year, which has a sign.
        return None;
    }
    if year_digits > 18 {
        return None;
    }
    let year = sign * number(&rest[..year_digits])? as i128;
    rest = &rest[year_digits..];
    let month = field(&mut rest, b'-')?;
    let day = field(&mut rest, b'-')?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some((year, month, day, rest))
}

/// `SEP` then two digits.
fn field(rest: &mut &[u8], separator: u8) -> Option<u32> {
    if rest.first() != Some(&separator) {
        return None;
    }
    *rest = &rest[1..];
    digits2(rest)
}

fn digits2(rest: &mut &[u8]) -> Option<u32> {
    match rest {
        [a, b, ..] if a.is_ascii_digit() && b.is_ascii_digit() => {
            let value = u32::from(a - b'0') * 10 + u32::from(b - b'0');
            *rest = &rest[2..];
            Some(value)
        }
        _ => None,
    }
}

fn number(digits: &[u8]) -> Option<u64> {
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// A column of text cells (a CSV file's) as `data_type`, each cell by its
/// type's rule; a null stays null. `first` is the row of the first cell
/// and `naive` the rule for timestamps without a zone. A type without a
/// text rule here is kept as text.
pub(crate) fn text_column(
    text: &StringArray,
    data_type: &ArrowType,
    column: &str,
    first: u64,
    naive: NaiveTimestamps,
) -> Result<ArrayRef, crate::Error> {
    fn cells<B: ArrayBuilder, T>(
        text: &StringArray,
        mut builder: B,
        parse: impl Fn(&str) -> Result<T, Refused>,
        append: impl Fn(&mut B, Option<T>),
        column: &str,
        first: u64,
    ) -> Result<ArrayRef, crate::Error> {
        for (row, cell) in text.iter().enumerate() {
            match cell {
                None => append(&mut builder, None),
                Some(cell) => match parse(cell) {
                    Ok(value) => append(&mut builder, Some(value)),
                    Err(refused) => {
                        return Err(refused.into_error(column, first + row as u64, cell));
                    }
                },
            }
        }
        Ok(builder.finish())
    }
    let len = text.len();
    match data_type {
        ArrowType::Boolean => cells(
            text,
            BooleanBuilder::with_capacity(len),
            boolean,
            BooleanBuilder::append_option,
            column,
            first,
        ),
        ArrowType::Int32 => cells(
            text,
            Int32Builder::with_capacity(len),
            int32,
            Int32Builder::append_option,
            column,
            first,
        ),
        ArrowType::Int64 => cells(
            text,
            Int64Builder::with_capacity(len),
            int64,
            Int64Builder::append_option,
            column,
            first,
        ),
        ArrowType::Float32 => cells(
            text,
            Float32Builder::with_capacity(len),
            float32,
            Float32Builder::append_option,
            column,
            first,
        ),
        ArrowType::Float64 => cells(
            text,
            Float64Builder::with_capacity(len),
            float64,
            Float64Builder::append_option,
            column,
            first,
        ),
        ArrowType::Timestamp(_, zone) => cells(
            text,
            TimestampMicrosecondBuilder::with_capacity(len).with_timezone_opt(zone.clone()),
            |cell| timestamp(cell, naive),
            TimestampMicrosecondBuilder::append_option,
            column,
            first,
        ),
        ArrowType::Date32 => cells(
            text,
            Date32Builder::with_capacity(len),
            date,
            Date32Builder::append_option,
            column,
            first,
        ),
        ArrowType::Decimal128(precision, scale) => {
            let (precision, scale) = (*precision, *scale);
            cells(
                text,
                Decimal128Builder::with_capacity(len)
                    .with_precision_and_scale(precision, scale)
                    .expect("a declared decimal type"),
                |cell| decimal(cell, precision, scale as u8),
                Decimal128Builder::append_option,
                column,
                first,
            )
        }
        _ => Ok(Arc::new(text.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_in_any_case() {
        for (text, value) in [("true", true), ("False", false), (" TRUE ", true)] {
            assert_eq!(boolean(text), Ok(value), "{text}");
        }
        assert_eq!(boolean("yes"), Err(Refused::NotA(BOOLEAN)));
        assert_eq!(boolean("1"), Err(Refused::NotA(BOOLEAN)));
    }

    #[test]
    fn integers_say_why_they_are_refused() {
        assert_eq!(int64("+42"), Ok(42));
        assert_eq!(int64(" -9223372036854775808 "), Ok(i64::MIN));
        assert_eq!(int32("2147483647"), Ok(i32::MAX));
        let invalid = |r: Result<i64, Refused>| match r {
            Err(Refused::Invalid(reason)) => reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            invalid(int32("2147483648").map(i64::from)),
            "2147483648 is out of range for int32; declare the input int64 (`i64` in Rust, \
             `int` in Python)"
        );
        assert_eq!(
            invalid(int64("9223372036854775808")),
            "9223372036854775808 is out of range for int64"
        );
        assert!(invalid(int64("3.0")).contains("pandas writes an integer column"));
        assert!(!invalid(int64("3.5")).contains("pandas"));
        assert_eq!(int64("abc"), Err(Refused::NotA(INT64)));
        assert_eq!(
            Refused::NotA(INT64).into_error("n", 4, "NULL").to_string(),
            "column `n`, row 4: \"NULL\" is not an int64 (a whole number such as 42); a null \
             is an empty CSV field or a JSON null, not a word"
        );
    }

    #[test]
    fn floats_take_what_tools_write_and_what_skewless_writes() {
        assert_eq!(float64("12.5"), Ok(12.5));
        assert_eq!(float64("inf"), Ok(f64::INFINITY));
        assert_eq!(float64("-Infinity"), Ok(f64::NEG_INFINITY));
        assert_eq!(float64("nan").map(f64::to_bits), Ok(CANONICAL_NAN_64));
        assert_eq!(
            float64("NaN:0x7ff80000deadbeef").map(f64::to_bits),
            Ok(0x7ff8_0000_dead_beef)
        );
        assert_eq!(
            float32("-NaN").map(f32::to_bits),
            Ok(CANONICAL_NAN_32 | (1 << 31))
        );
        // Halfway between two float32 values, by a hair: rounding to f64
        // first lands on the halfway point and rounds to even.
        let text = "1.00000005960464477539062500000000000001";
        assert_eq!(
            float32(text).map(f32::to_bits),
            Ok(text.parse::<f32>().unwrap().to_bits())
        );
        assert_eq!(float64("12,5"), Err(Refused::NotA(FLOAT64)));
        assert!(matches!(
            float64("NaN:0x3ff0000000000000"),
            Err(Refused::Invalid(_))
        ));
    }

    #[test]
    fn decimals_are_exact_or_refused() {
        assert_eq!(decimal("12.3", 18, 2), Ok(1230));
        assert_eq!(decimal("-0.05", 18, 2), Ok(-5));
        assert_eq!(decimal("1e3", 18, 2), Ok(100_000));
        assert_eq!(decimal("12.300", 18, 2), Ok(1230));
        assert_eq!(decimal(" +7 ", 4, 0), Ok(7));
        assert_eq!(decimal("0", 1, 0), Ok(0));
        assert_eq!(
            decimal("99999999999999999999999999999999999999", 38, 0),
            Ok(99_999_999_999_999_999_999_999_999_999_999_999_999)
        );
        let refused = |text: &str, p, s| match decimal(text, p, s) {
            Err(Refused::Invalid(reason)) => reason,
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(
            refused("12.345", 18, 2),
            "12.345 has more than 2 digits after the point, so it is not a decimal(18,2) \
             without rounding"
        );
        assert_eq!(
            refused("1000", 4, 2),
            "1000 has more than 4 digits as a decimal(4,2)"
        );
        for bad in ["", ".", "1.2.3", "NaN", "inf", "12,5", "1e"] {
            assert!(
                matches!(decimal(bad, 18, 2), Err(Refused::NotA(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn dates_are_days() {
        assert_eq!(date("1970-01-01"), Ok(0));
        assert_eq!(date("2026-03-02"), Ok(20_514));
        assert_eq!(date("1969-12-31"), Ok(-1));
        assert!(matches!(
            date("2026-03-02T00:00:00Z"),
            Err(Refused::Invalid(_))
        ));
        assert_eq!(date("2026-02-30"), Err(Refused::NotA(DATE)));
        assert_eq!(binary("3q2+7w=="), Ok(vec![0xde, 0xad, 0xbe, 0xef]));
        assert_eq!(binary("not base64!"), Err(Refused::NotA(BINARY)));
    }
}
