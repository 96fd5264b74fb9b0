//! Declares a float64 output but returns int64 values.

use skewless_guest::__private::{
    Batch, Column, Guest, TransformError, TransformInfo, Values, WitDataType, WitField,
};

struct WrongTypes;

impl Guest for WrongTypes {
    fn describe() -> TransformInfo {
        let field = |name: &str, data_type| WitField {
            name: name.into(),
            data_type,
            nullable: false,
        };
        TransformInfo {
            name: "wrong-types".into(),
            version: "0.1.0".into(),
            description: "declares float64, returns int64".into(),
            inputs: vec![field("x", WitDataType::Int64)],
            outputs: vec![field("y", WitDataType::Float64)],
        }
    }

    fn transform(input: Batch) -> Result<Batch, TransformError> {
        Ok(Batch {
            num_rows: input.num_rows,
            columns: vec![Column {
                values: Values::Int64(vec![1; input.num_rows as usize]),
                validity: None,
            }],
        })
    }
}

skewless_guest::__private::export!(WrongTypes);
