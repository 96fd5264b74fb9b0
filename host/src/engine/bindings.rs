//! Host bindings generated from the contract in `wit/`.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "transform",
    ownership: Borrowing { duplicate_if_necessary: true },
});

use crate::spec;
use skewless::transform::types as wit;

impl From<wit::DataType> for spec::DataType {
    fn from(value: wit::DataType) -> Self {
        use spec::DataType;
        match value {
            wit::DataType::Boolean => DataType::Boolean,
            wit::DataType::Int32 => DataType::Int32,
            wit::DataType::Int64 => DataType::Int64,
            wit::DataType::Float32 => DataType::Float32,
            wit::DataType::Float64 => DataType::Float64,
            wit::DataType::Utf8 => DataType::Utf8,
            wit::DataType::TimestampMicros => DataType::TimestampMicros,
        }
    }
}

impl From<wit::Field> for spec::Field {
    fn from(value: wit::Field) -> Self {
        spec::Field {
            name: value.name,
            data_type: value.data_type.into(),
            nullable: value.nullable,
        }
    }
}

impl From<wit::TransformInfo> for spec::TransformInfo {
    fn from(value: wit::TransformInfo) -> Self {
        spec::TransformInfo {
            name: value.name,
            version: value.version,
            description: value.description,
            inputs: value.inputs.into_iter().map(spec::Field::from).collect(),
            outputs: value.outputs.into_iter().map(spec::Field::from).collect(),
        }
    }
}
