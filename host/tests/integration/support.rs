//! Shared helpers: one runtime and one compiled copy of each guest per test
//! process, and small builders for batches.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use arrow::array::{ArrayRef, RecordBatch};
use skewless::{Config, Runtime, Transform};

/// The default runtime, shared by tests that do not change limits.
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| Runtime::new(Config::default()).expect("default runtime"))
}

/// The guest at `path`, loaded once per test process on the default runtime.
pub fn load(path: &str) -> Transform {
    static LOADED: OnceLock<Mutex<HashMap<String, Transform>>> = OnceLock::new();
    let loaded = LOADED.get_or_init(Default::default);
    if let Some(transform) = loaded.lock().unwrap().get(path) {
        return transform.clone();
    }
    let transform = runtime()
        .load(path)
        .unwrap_or_else(|e| panic!("cannot load {path}: {e}"));
    loaded
        .lock()
        .unwrap()
        .insert(path.to_string(), transform.clone());
    transform
}

/// A batch from `(name, array)` pairs.
pub fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    RecordBatch::try_from_iter(columns).expect("valid batch")
}

/// `Arc::new(array) as ArrayRef`.
pub fn array(array: impl arrow::array::Array + 'static) -> ArrayRef {
    Arc::new(array)
}
