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

/// The type of a column in a transform's schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
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
}

impl DataType {
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
        }
    }

    /// The type whose columns have the Arrow type `arrow`, if any.
    pub fn from_arrow(arrow: &ArrowType) -> Option<DataType> {
        [
            DataType::Boolean,
            DataType::Int32,
            DataType::Int64,
            DataType::Float32,
            DataType::Float64,
            DataType::Utf8,
            DataType::TimestampMicros,
        ]
        .into_iter()
        .find(|data_type| &data_type.arrow() == arrow)
    }

    /// The name used in the contract and in messages, e.g. `float64`.
    pub fn name(self) -> &'static str {
        match self {
            DataType::Boolean => "boolean",
            DataType::Int32 => "int32",
            DataType::Int64 => "int64",
            DataType::Float32 => "float32",
            DataType::Float64 => "float64",
            DataType::Utf8 => "utf8",
            DataType::TimestampMicros => "timestamp-micros",
        }
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
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
    /// Input columns in the order the transform receives them.
    pub inputs: Vec<Field>,
    /// Output columns in the order the transform returns them.
    pub outputs: Vec<Field>,
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
        Ok(())
    }

    /// The Arrow schema of the inputs.
    pub fn input_schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.inputs.iter().map(Field::arrow).collect::<Vec<_>>(),
        ))
    }

    /// The Arrow schema of the outputs.
    pub fn output_schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.outputs.iter().map(Field::arrow).collect::<Vec<_>>(),
        ))
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
