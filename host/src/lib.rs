//! skewless runs one WebAssembly feature transform for offline backfills and
//! online serving, with bit-identical results.
//!
//! A transform is one component file (see the `skewless-guest` crate for
//! writing one); its identity is the sha256 of its bytes. A [`Runtime`]
//! loads it into a [`Transform`], which computes output rows from input
//! rows as Arrow `RecordBatch`es. Backfills ([`backfill`]), serving and the
//! embedded API all go through that one call, on one engine configuration.
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray};
//! use skewless::{Config, Runtime};
//!
//! let runtime = Runtime::new(Config::default())?;
//! let transform = runtime.load("target/wasm32-wasip2/release/fraud_features.wasm")?;
//! let input = RecordBatch::try_from_iter([
//!     ("amount", Arc::new(Float64Array::from(vec![12.5, 830.0])) as _),
//!     ("hour", Arc::new(Int64Array::from(vec![3, 14])) as _),
//!     ("merchant_category", Arc::new(StringArray::from(vec!["travel", "grocery"])) as _),
//! ]).unwrap();
//! let features = transform.call(&input)?;
//! println!("{} sha256:{}", transform.name(), transform.sha256());
//! println!("{}", arrow::util::pretty::pretty_format_batches(&[features]).unwrap());
//! # Ok::<(), skewless::Error>(())
//! ```

// The layers, bottom up: what a transform declares (`spec`) and the
// library's errors; the engine that loads and calls components; the value
// rules every format and request follows (`codec`); data files (`io`); and
// the products on top (`backfill`, `verify`, `serve`).
mod aggregate;
pub mod backfill;
pub mod codec;
pub mod engine;
mod error;
pub mod io;
pub mod online;
#[cfg(feature = "serve")]
pub mod serve;
pub mod spec;
pub mod verify;

pub use engine::{
    Config, DEFAULT_FUEL_PER_ROW, DEFAULT_MAX_OUTPUT_BYTES, DEFAULT_MEMORY_LIMIT, Rejecting,
    Runtime, Setting, Transform, default_cache_dir, default_max_instances,
};
pub use error::{Error, ErrorClass, Limit, Result};
pub use spec::{DataType, Field, NaiveTimestamps, Provenance, TransformInfo};
