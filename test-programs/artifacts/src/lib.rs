//! Paths of the guest components tests use, built by `build.rs`: the test
//! programs in `test-programs/guests/` (e.g. [`PANICS`]) and the example
//! transforms (e.g. [`FRAUD_FEATURES`]).

include!(concat!(env!("OUT_DIR"), "/artifacts.rs"));

/// `examples/fraud-features` as built for contract 0.1.0 by skewless before
/// 0.2.0 (sha256 `ed5809ca...`, the README's main job then), kept to prove
/// that such components load and run unchanged.
pub const LEGACY_FRAUD_FEATURES_0_1: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../legacy/fraud_features-0.1.0.wasm"
);

/// What `skewless run` wrote for [`LEGACY_FRAUD_FEATURES_0_1`] on
/// `examples/fraud-features/data/transactions.csv` (keeping
/// `transaction_id`) with skewless before 0.2.0, as JSON Lines.
pub const LEGACY_FRAUD_FEATURES_0_1_OUTPUT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../legacy/fraud_features-0.1.0.transactions.jsonl"
);

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// A guest nobody tests is dead weight: every constant must be used by
    /// the integration tests in `host/tests/`.
    #[test]
    fn every_guest_has_a_test() {
        fn read_sources(dir: &Path, sources: &mut String) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    read_sources(&path, sources);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    sources.push_str(&std::fs::read_to_string(path).unwrap());
                }
            }
        }
        let mut sources = String::new();
        read_sources(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../host/tests"),
            &mut sources,
        );
        let untested: Vec<&str> = super::ALL
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| !sources.contains(&format!("artifacts::{}", name.to_uppercase())))
            .collect();
        assert!(
            untested.is_empty(),
            "guests without a test in host/tests: {untested:?}"
        );
    }
}
