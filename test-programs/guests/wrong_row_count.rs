//! Returns one row more than it was given.

use skewless_guest::__private::{
    Batch, Column, Guest, TransformError, TransformInfo, WitDataType, WitField, WitScalarType,
};

struct WrongRowCount;

impl Guest for WrongRowCount {
    fn describe() -> TransformInfo {
        let field = |name: &str| WitField {
            name: name.into(),
            data_type: WitDataType::Scalar(WitScalarType::Int64),
            nullable: false,
        };
        TransformInfo {
            name: "wrong-row-count".into(),
            version: "0.1.0".into(),
            description: "returns n + 1 rows".into(),
            inputs: vec![field("x")],
            outputs: vec![field("y")],
            aggregation: None,
        }
    }

    fn transform(input: Batch) -> Result<Batch, TransformError> {
        let rows = input.num_rows + 1;
        Ok(Batch {
            num_rows: rows,
            columns: vec![Column {
                values: 7_i64.to_le_bytes().repeat(rows as usize),
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

skewless_guest::__private::export!(WrongRowCount);
