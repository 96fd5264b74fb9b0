//! Loading components: identity, declaration, and every way a file can fail
//! to be a transform.

use skewless::Error;
use skewless_test_artifacts as artifacts;

use crate::support::{load, runtime};

fn load_error(bytes: &[u8]) -> String {
    match runtime().load_bytes(bytes, "bad.wasm") {
        Ok(transform) => panic!("loaded {transform:?}"),
        Err(error) => {
            assert!(matches!(error, Error::InvalidComponent { .. }), "{error:?}");
            error.to_string()
        }
    }
}

#[test]
fn identity_is_the_sha256_of_the_file() {
    let bytes = std::fs::read(artifacts::FRAUD_FEATURES).unwrap();
    let transform = load(artifacts::FRAUD_FEATURES);
    // Computed independently with sha256sum's algorithm (the sha2 crate
    // here would be the same code as the library's), so compare with a
    // second loader path instead: the bytes loaded from memory.
    let from_bytes = runtime().load_bytes(&bytes, "fraud").unwrap();
    assert_eq!(transform.sha256(), from_bytes.sha256());
    assert_eq!(transform.sha256().len(), 64);
    assert!(
        transform
            .sha256()
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    // One changed byte (in a custom section at the end) is another transform.
    let mut changed = bytes.clone();
    let last = changed.len() - 1;
    changed[last] ^= 1;
    if let Ok(other) = runtime().load_bytes(&changed, "changed") {
        assert_ne!(other.sha256(), transform.sha256());
    }
}

#[test]
fn describe_is_what_the_sdk_declared() {
    let transform = load(artifacts::FRAUD_FEATURES);
    let info = transform.info();
    assert_eq!(
        (info.name.as_str(), info.version.as_str()),
        ("fraud-features", "1.0.0")
    );
    assert!(
        info.description
            .starts_with("Fraud-scoring features from a card transaction")
    );
    let inputs: Vec<String> = info.inputs.iter().map(ToString::to_string).collect();
    assert_eq!(
        inputs,
        ["amount: float64", "hour: int64", "merchant_category: utf8"]
    );
    let outputs: Vec<String> = info.outputs.iter().map(ToString::to_string).collect();
    assert_eq!(
        outputs,
        [
            "log_amount: float64",
            "is_night: int64",
            "amount_bucket: int64",
            "category_risk: float64"
        ]
    );
    let glucose = load(artifacts::GLUCOSE_ALERTS);
    assert!(
        glucose.info().inputs[2].nullable,
        "Option<f64> is a nullable column"
    );
    assert!(glucose.info().outputs[0].nullable);
}

#[test]
fn a_file_that_is_not_webassembly_is_refused() {
    assert_eq!(
        load_error(b"transaction_id,amount\n1,2.5\n"),
        "`bad.wasm` is not a usable skewless transform: not a WebAssembly file (it does not start with `\\0asm`)"
    );
    assert!(load_error(b"").contains("not a WebAssembly file"));
}

#[test]
fn a_core_module_is_refused_with_how_to_build_a_component() {
    // The smallest valid core module: magic and version 1.
    let error = load_error(b"\0asm\x01\x00\x00\x00");
    assert!(
        error.contains("it is a core WebAssembly module, not a component"),
        "{error}"
    );
    assert!(error.contains("--target wasm32-wasip2"), "{error}");
}

#[test]
fn a_truncated_component_is_refused() {
    let bytes = std::fs::read(artifacts::FRAUD_FEATURES).unwrap();
    let error = load_error(&bytes[..bytes.len() / 2]);
    assert!(
        error.starts_with("`bad.wasm` is not a usable skewless transform: it does not compile:"),
        "{error}"
    );
}

#[test]
fn a_component_of_another_world_is_refused() {
    let bytes = std::fs::read(artifacts::COMMAND).unwrap();
    let error = load_error(&bytes);
    assert!(
        error.contains(
            "it does not export the `skewless:transform` world of version 0.2.0 or 0.1.0"
        ),
        "{error}"
    );
}

#[test]
fn guests_without_the_sdk_load_too() {
    // Written against the raw bindings: no row reports, one batch budget.
    let transform = load(artifacts::BATCH_MEAN);
    assert_eq!(transform.name(), "batch-mean");
}

#[test]
fn relaxed_simd_is_refused_at_load() {
    // Relaxed SIMD results depend on the hardware; the engine has it off.
    let bytes = std::fs::read(artifacts::RELAXED_SIMD).unwrap();
    let error = load_error(&bytes);
    assert!(
        error.contains("relaxed SIMD support is not enabled"),
        "{error}"
    );
}

#[test]
fn a_limit_hit_while_loading_names_the_file() {
    let little =
        skewless::Runtime::new(skewless::Config::default().memory_limit(64 << 10)).unwrap();
    let error = little
        .load(artifacts::FRAUD_FEATURES)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(
            "it cannot be instantiated: transform `fraud_features.wasm` exceeded the memory limit"
        ),
        "{error}"
    );
}
