//! Declares a float64 output but returns int32 values (4 bytes a row, where
//! a float64 has 8).

use skewless_guest::__private::{
    Batch, Column, Guest, TransformError, TransformInfo, WitDataType, WitField, WitScalarType,
};

struct WrongTypes;

impl Guest for WrongTypes {
    fn describe() -> TransformInfo {
        let field = |name: &str, scalar| WitField {
            name: name.into(),
            data_type: WitDataType::Scalar(scalar),
            nullable: false,
        };
        TransformInfo {
            name: "wrong-types".into(),
            version: "0.1.0".into(),
            description: "declares float64, returns int32".into(),
            inputs: vec![field("x", WitScalarType::Int64)],
            outputs: vec![field("y", WitScalarType::Float64)],
            aggregation: None,
        }
    }

    fn transform(input: Batch) -> Result<Batch, TransformError> {
        Ok(Batch {
            num_rows: input.num_rows,
            columns: vec![Column {
                values: 1_i32.to_le_bytes().repeat(input.num_rows as usize),
                offsets: None,
                validity: None,
                element_offsets: None,
                element_validity: None,
            }],
        })
    }

    fn events(_: Batch) -> Result<Batch, TransformError> {
        skewless_guest::__private::no_events()
    }
}

skewless_guest::__private::export!(WrongTypes);
