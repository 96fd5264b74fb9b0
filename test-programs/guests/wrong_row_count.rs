//! Returns one row more than it was given.

use skewless_guest::__private::{
    Batch, Column, Guest, TransformError, TransformInfo, Values, WitDataType, WitField,
};

struct WrongRowCount;

impl Guest for WrongRowCount {
    fn describe() -> TransformInfo {
        let field = |name: &str| WitField {
            name: name.into(),
            data_type: WitDataType::Int64,
            nullable: false,
        };
        TransformInfo {
            name: "wrong-row-count".into(),
            version: "0.1.0".into(),
            description: "returns n + 1 rows".into(),
            inputs: vec![field("x")],
            outputs: vec![field("y")],
        }
    }

    fn transform(input: Batch) -> Result<Batch, TransformError> {
        let rows = input.num_rows + 1;
        Ok(Batch {
            num_rows: rows,
            columns: vec![Column {
                values: Values::Int64(vec![7; rows as usize]),
                validity: None,
            }],
        })
    }
}

skewless_guest::__private::export!(WrongRowCount);
