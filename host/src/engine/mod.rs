//! The engine: loading, sandboxing and calling transform components.
//!
//! This layer knows nothing of files, JSON or HTTP: it takes Arrow
//! batches in and gives Arrow batches out, and every product (backfill,
//! serving, `verify`, the Python package) calls it the same way. Inside,
//! dependencies run one way: `config` and `sandbox` at the bottom, `core`
//! (the shared wasmtime engine) on them, the compile `cache` and the
//! Arrow <-> WIT `convert`er beside it, `transform` on all of those, and
//! `runtime` (the public entry point) on top.

mod bindings;
mod cache;
pub(crate) mod config;
mod convert;
pub(crate) mod core;
mod runtime;
pub(crate) mod sandbox;
mod transform;

pub use config::{
    Config, DEFAULT_FUEL_PER_ROW, DEFAULT_MAX_OUTPUT_BYTES, DEFAULT_MEMORY_LIMIT,
    DEFAULT_OUTPUT_CAPTURE_BYTES, Setting, default_cache_dir, default_max_instances,
};
pub(crate) use convert::{column_list, misspelling, near_miss, prepare_columns};
pub use runtime::Runtime;
pub use transform::{Rejecting, Transform};
