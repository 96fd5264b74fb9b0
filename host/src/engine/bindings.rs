//! Host bindings generated from the contracts in `wit/`: the current one
//! (0.2.0) and 0.1.0, whose components keep loading unchanged.
//!
//! A component's declaration (`describe`) is turned into the host's own
//! model ([`crate::spec`]) here, whatever the contract it was built for.

pub(crate) mod v1 {
    wasmtime::component::bindgen!({
        path: "../wit/v0.1.0",
        world: "transform",
        ownership: Borrowing { duplicate_if_necessary: true },
    });
}

pub(crate) mod v2 {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "transform",
        ownership: Borrowing { duplicate_if_necessary: true },
    });
}

use crate::spec;

/// The interface of the row-budget imports, in each contract.
pub(crate) const HOST_INTERFACES: [&str; 2] = [
    "skewless:transform/host@0.1.0",
    "skewless:transform/host@0.2.0",
];

mod from_v1 {
    use super::spec;
    use super::v1::skewless::transform::types as wit;

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
                aggregation: None,
            }
        }
    }
}

mod from_v2 {
    use super::spec;
    use super::v2::skewless::transform::types as wit;

    impl From<wit::ScalarType> for spec::ScalarType {
        fn from(value: wit::ScalarType) -> Self {
            use spec::ScalarType as S;
            match value {
                wit::ScalarType::Boolean => S::Boolean,
                wit::ScalarType::Int32 => S::Int32,
                wit::ScalarType::Int64 => S::Int64,
                wit::ScalarType::Float32 => S::Float32,
                wit::ScalarType::Float64 => S::Float64,
                wit::ScalarType::Utf8 => S::Utf8,
                wit::ScalarType::TimestampMicros => S::TimestampMicros,
                wit::ScalarType::Date => S::Date,
                wit::ScalarType::Decimal(d) => S::Decimal {
                    precision: d.precision,
                    scale: d.scale,
                },
                wit::ScalarType::Binary => S::Binary,
            }
        }
    }

    impl From<wit::DataType> for spec::DataType {
        fn from(value: wit::DataType) -> Self {
            match value {
                wit::DataType::Scalar(scalar) => spec::ScalarType::from(scalar).into(),
                wit::DataType::List(list) => spec::DataType::List {
                    element: list.element.into(),
                    element_nullable: list.element_nullable,
                },
                wit::DataType::FixedSizeList(list) => spec::DataType::FixedSizeList {
                    element: list.element.into(),
                    size: list.size,
                },
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

    impl From<wit::AggregateFunction> for spec::AggregateFunction {
        fn from(value: wit::AggregateFunction) -> Self {
            use spec::AggregateFunction as F;
            match value {
                wit::AggregateFunction::Count => F::Count,
                wit::AggregateFunction::Sum => F::Sum,
                wit::AggregateFunction::Mean => F::Mean,
                wit::AggregateFunction::Min => F::Min,
                wit::AggregateFunction::Max => F::Max,
                wit::AggregateFunction::CountDistinct => F::CountDistinct,
                wit::AggregateFunction::First => F::First,
                wit::AggregateFunction::Last => F::Last,
                wit::AggregateFunction::SecondsSinceLast => F::SecondsSinceLast,
                wit::AggregateFunction::LastN(n) => F::LastN(n),
            }
        }
    }

    impl From<wit::Aggregation> for spec::Aggregation {
        fn from(value: wit::Aggregation) -> Self {
            spec::Aggregation {
                key: value.key.into(),
                event_time: value.event_time,
                request_time: value.request_time,
                event_inputs: value.event_inputs.into_iter().map(Into::into).collect(),
                event_values: value.event_values.into_iter().map(Into::into).collect(),
                tie_break: value.tie_break.map(Into::into),
                event_id: value.event_id.map(Into::into),
                lateness_micros: value.lateness_micros,
                aggregates: value
                    .aggregates
                    .into_iter()
                    .map(|a| spec::Aggregate {
                        name: a.name,
                        function: a.function.into(),
                        value: a.value,
                        filter: a.filter,
                        window_micros: a.window_micros,
                    })
                    .collect(),
            }
        }
    }

    impl From<wit::TransformInfo> for spec::TransformInfo {
        fn from(value: wit::TransformInfo) -> Self {
            spec::TransformInfo {
                name: value.name,
                version: value.version,
                description: value.description,
                inputs: value.inputs.into_iter().map(Into::into).collect(),
                outputs: value.outputs.into_iter().map(Into::into).collect(),
                aggregation: value.aggregation.map(Into::into),
            }
        }
    }
}
