//! CSV input: the transform's declared columns parsed with errors that name
//! them.
//!
//! arrow-csv reads every declared column that is not text as text, and this
//! module parses it into its declared type by the rules arrow-csv itself
//! applies (arrow's `Parser` for numbers, `true` or `false` in any case for
//! booleans, an empty field is null), so the values are the ones arrow-csv
//! would give. What changes is the refusal: a value that does not parse
//! names its column, its row (counted from 0 at the first data row, as
//! every row in skewless's messages) and the value, where arrow-csv names
//! the column by position, counts CSV records as lines, and prints the
//! whole row.
//!
//! Timestamps are parsed as serving parses them (RFC 3339 with a time zone,
//! whole microseconds; or an integer of microseconds): arrow-csv would also
//! take a date alone, a time without a zone, or cut a nanosecond fraction.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, ArrowPrimitiveType, AsArray, BooleanBuilder, PrimitiveBuilder, RecordBatch,
    StringArray, TimestampMicrosecondBuilder,
};
use arrow::compute::kernels::cast_utils::Parser;
use arrow::datatypes::{
    DataType as ArrowType, Float32Type, Float64Type, Int32Type, Int64Type, SchemaRef,
};
use arrow::error::ArrowError;

use crate::error::Error;

/// `batches` with their `parsed` columns, read as text, parsed into the
/// types `schema` gives them.
pub(super) fn parse_declared(
    batches: impl Iterator<Item = Result<RecordBatch, ArrowError>> + Send + 'static,
    schema: SchemaRef,
    parsed: Vec<String>,
) -> impl Iterator<Item = Result<RecordBatch, ArrowError>> + Send + 'static {
    let mut rows_before = 0_u64;
    batches.map(move |batch| {
        let batch = batch?;
        let first = rows_before;
        rows_before += batch.num_rows() as u64;
        let columns = schema
            .fields()
            .iter()
            .zip(batch.columns())
            .map(|(field, column)| {
                if !parsed.contains(field.name()) {
                    return Ok(column.clone());
                }
                parse_column(
                    column.as_string::<i32>(),
                    field.data_type(),
                    field.name(),
                    first,
                )
                .map_err(|error| ArrowError::ExternalError(Box::new(error)))
            })
            .collect::<Result<Vec<_>, ArrowError>>()?;
        RecordBatch::try_new(schema.clone(), columns)
    })
}

/// `text` parsed as `data_type`; `first` is the file row of its first value.
fn parse_column(
    text: &StringArray,
    data_type: &ArrowType,
    column: &str,
    first: u64,
) -> Result<ArrayRef, Error> {
    let invalid = |row: usize, value: &str, what: &str| Error::InvalidValue {
        column: column.to_string(),
        row: first + row as u64,
        reason: format!("{value:?} is not {what}"),
    };
    Ok(match data_type {
        ArrowType::Boolean => {
            let mut values = BooleanBuilder::with_capacity(text.len());
            for (row, value) in text.iter().enumerate() {
                match value.map(|value| (value, parse_bool(value))) {
                    None => values.append_null(),
                    Some((_, Some(value))) => values.append_value(value),
                    Some((value, None)) => {
                        return Err(invalid(row, value, "a boolean (true or false)"));
                    }
                }
            }
            Arc::new(values.finish())
        }
        ArrowType::Int32 => primitive::<Int32Type>(text, |row, value| {
            invalid(row, value, "an int32 (a whole number such as 42)")
        })?,
        ArrowType::Int64 => primitive::<Int64Type>(text, |row, value| {
            invalid(row, value, "an int64 (a whole number such as 42)")
        })?,
        ArrowType::Float32 => primitive::<Float32Type>(text, |row, value| {
            invalid(row, value, "a float32 (a number such as 12.5)")
        })?,
        ArrowType::Float64 => primitive::<Float64Type>(text, |row, value| {
            invalid(row, value, "a float64 (a number such as 12.5)")
        })?,
        ArrowType::Timestamp(_, zone) => {
            let mut micros = TimestampMicrosecondBuilder::with_capacity(text.len())
                .with_timezone_opt(zone.clone());
            for (row, value) in text.iter().enumerate() {
                let Some(value) = value else {
                    micros.append_null();
                    continue;
                };
                let value = value.trim();
                let parsed = match value.parse::<i64>() {
                    Ok(integer) => Ok(integer),
                    Err(_) => crate::json::parse_rfc3339_micros(value),
                };
                match parsed {
                    Ok(value) => micros.append_value(value),
                    Err(reason) => {
                        return Err(Error::InvalidValue {
                            column: column.to_string(),
                            row: first + row as u64,
                            reason,
                        });
                    }
                }
            }
            Arc::new(micros.finish())
        }
        _ => Arc::new(text.clone()),
    })
}

/// `text` parsed by arrow's parser for `T`, as arrow-csv parses it.
fn primitive<T: ArrowPrimitiveType + Parser>(
    text: &StringArray,
    invalid: impl Fn(usize, &str) -> Error,
) -> Result<ArrayRef, Error> {
    let mut values = PrimitiveBuilder::<T>::with_capacity(text.len());
    for (row, value) in text.iter().enumerate() {
        match value {
            None => values.append_null(),
            Some(value) => match T::parse(value) {
                Some(parsed) => values.append_value(parsed),
                None => return Err(invalid(row, value)),
            },
        }
    }
    Ok(Arc::new(values.finish()))
}

/// arrow-csv's boolean rule: `true` or `false`, in any case.
fn parse_bool(value: &str) -> Option<bool> {
    if value.eq_ignore_ascii_case("true") {
        Some(true)
    } else if value.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// A CSV reader's complaint about a record's number of fields, said as
/// `line 3 has 2 fields where the header has 3`; `None` for other messages.
/// (The `csv` crate reports it while the schema is inferred, arrow-csv's
/// decoder after that, in different words.)
pub(super) fn field_count(message: &str) -> Option<String> {
    let number = |text: &str| text.trim().parse::<u64>().ok();
    if let Some(rest) =
        message.strip_prefix("Encountered unequal lengths between records on CSV file. Expected ")
    {
        let (expected, rest) = rest.split_once(" records, found ")?;
        let (found, line) = match rest.split_once(" records at line ") {
            Some((found, line)) => (found, Some(line)),
            None => (rest.strip_suffix(" records")?, None),
        };
        let (expected, found) = (number(expected)?, number(found)?);
        let place = match line.and_then(number) {
            Some(line) => format!("line {line}"),
            None => "a line".to_string(),
        };
        return Some(format!(
            "{place} has {found} fields where the header has {expected}"
        ));
    }
    let rest = message.strip_prefix("incorrect number of fields for line ")?;
    let (line, rest) = rest.split_once(", expected ")?;
    let (expected, found) = rest.split_once(" got ")?;
    let found = match found.strip_prefix("more than ") {
        Some(found) => format!("more than {}", number(found)?),
        None => number(found)?.to_string(),
    };
    Some(format!(
        "line {} has {found} fields where the header has {}",
        number(line)?,
        number(expected)?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same text read by arrow-csv with the types, and read as text
    /// and parsed here, gives the same arrays.
    #[test]
    fn parsed_values_are_the_ones_arrow_csv_gives() {
        use arrow::datatypes::{Field, Schema};
        let text = "b,i,l,f,d\n\
                    true,7,-3,1.5,1e3\n\
                    FALSE,+7,9223372036854775807,NaN,-inf\n\
                    ,,,,\n\
                    True,-2147483648,0,3.4028235e38,0.1\n";
        let types = [
            ArrowType::Boolean,
            ArrowType::Int32,
            ArrowType::Int64,
            ArrowType::Float32,
            ArrowType::Float64,
        ];
        let schema = |types: &[ArrowType]| {
            Arc::new(Schema::new(
                ["b", "i", "l", "f", "d"]
                    .iter()
                    .zip(types)
                    .map(|(name, data_type)| Field::new(*name, data_type.clone(), true))
                    .collect::<Vec<_>>(),
            ))
        };
        let read = |schema: SchemaRef| {
            arrow::csv::ReaderBuilder::new(schema)
                .with_header(true)
                .build(text.as_bytes())
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
        };
        let typed = read(schema(&types));
        let as_text = read(schema(&[const { ArrowType::Utf8 }; 5]));
        for (i, data_type) in types.iter().enumerate() {
            let parsed =
                parse_column(as_text.column(i).as_string::<i32>(), data_type, "c", 0).unwrap();
            assert_eq!(parsed.to_data(), typed.column(i).to_data(), "{data_type}");
        }
    }

    #[test]
    fn a_value_that_does_not_parse_names_its_column_and_file_row() {
        let text = StringArray::from(vec![Some("1"), None, Some("1.5")]);
        let error = parse_column(&text, &ArrowType::Int64, "hour", 10).unwrap_err();
        assert_eq!(
            error.to_string(),
            "column `hour`, row 12: \"1.5\" is not an int64 (a whole number such as 42)"
        );
        let text = StringArray::from(vec!["yes"]);
        let error = parse_column(&text, &ArrowType::Boolean, "flag", 0).unwrap_err();
        assert_eq!(
            error.to_string(),
            "column `flag`, row 0: \"yes\" is not a boolean (true or false)"
        );
    }

    #[test]
    fn field_count_errors_are_said_plainly() {
        assert_eq!(
            field_count(
                "Encountered unequal lengths between records on CSV file. Expected 3 records, \
                 found 2 records at line 3"
            )
            .as_deref(),
            Some("line 3 has 2 fields where the header has 3")
        );
        assert_eq!(
            field_count("incorrect number of fields for line 2001, expected 3 got 4").as_deref(),
            Some("line 2001 has 4 fields where the header has 3")
        );
        assert_eq!(
            field_count("incorrect number of fields for line 7, expected 3 got more than 3")
                .as_deref(),
            Some("line 7 has more than 3 fields where the header has 3")
        );
        assert_eq!(field_count("Error reading CSV file"), None);
    }
}
