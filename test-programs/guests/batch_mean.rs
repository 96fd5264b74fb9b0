//! A deliberately batch-dependent transform, written against the raw
//! bindings: each value divided by the mean of its batch (the classic
//! pandas `df.x / df.x.mean()` mistake). Its output for a row depends on
//! which other rows share the batch, which `skewless verify` must catch.

use skewless_guest::__private::{
    Batch, Column, Guest, TransformError, TransformInfo, WitDataType, WitField, WitScalarType,
};

struct BatchMean;

impl Guest for BatchMean {
    fn describe() -> TransformInfo {
        let field = |name: &str| WitField {
            name: name.into(),
            data_type: WitDataType::Scalar(WitScalarType::Float64),
            nullable: false,
        };
        TransformInfo {
            name: "batch-mean".into(),
            version: "0.1.0".into(),
            description: "x divided by the mean x of its batch (wrong on purpose)".into(),
            inputs: vec![field("x")],
            outputs: vec![field("x_over_mean")],
            aggregation: None,
        }
    }

    fn transform(input: Batch) -> Result<Batch, TransformError> {
        let x: Vec<f64> = input.columns[0]
            .values
            .chunks_exact(8)
            .map(|bytes| f64::from_le_bytes(bytes.try_into().expect("8 bytes")))
            .collect();
        let mean = x.iter().sum::<f64>() / x.len().max(1) as f64;
        Ok(Batch {
            num_rows: input.num_rows,
            columns: vec![Column {
                values: x.iter().flat_map(|v| (v / mean).to_le_bytes()).collect(),
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

skewless_guest::__private::export!(BatchMean);
