//! A deliberately batch-dependent transform, written against the raw
//! bindings: each value divided by the mean of its batch (the classic
//! pandas `df.x / df.x.mean()` mistake). Its output for a row depends on
//! which other rows share the batch, which `skewless verify` must catch.

use skewless_guest::__private::{
    Batch, Column, Guest, TransformError, TransformInfo, Values, WitDataType, WitField,
};

struct BatchMean;

impl Guest for BatchMean {
    fn describe() -> TransformInfo {
        let field = |name: &str| WitField {
            name: name.into(),
            data_type: WitDataType::Float64,
            nullable: false,
        };
        TransformInfo {
            name: "batch-mean".into(),
            version: "0.1.0".into(),
            description: "x divided by the mean x of its batch (wrong on purpose)".into(),
            inputs: vec![field("x")],
            outputs: vec![field("x_over_mean")],
        }
    }

    fn transform(input: Batch) -> Result<Batch, TransformError> {
        let Values::Float64(x) = &input.columns[0].values else {
            return Err(TransformError::InvalidInput("x must be float64".into()));
        };
        let mean = x.iter().sum::<f64>() / x.len().max(1) as f64;
        Ok(Batch {
            num_rows: input.num_rows,
            columns: vec![Column {
                values: Values::Float64(x.iter().map(|v| v / mean).collect()),
                validity: None,
            }],
        })
    }
}

skewless_guest::__private::export!(BatchMean);
