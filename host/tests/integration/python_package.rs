//! The Python package (`bindings/python`, module `skewless`): built with
//! maturin into the tests' venv, then tested by its pytest suite with real
//! pyarrow, pandas, polars and PySpark (`local[2]`): parity with the CLI
//! bit for bit on every example, errors, pickling, threads, Spark.

use std::path::Path;
use std::process::Command;

use serde_json::json;
use skewless_test_artifacts as artifacts;

use crate::python::workspace;

/// Builds the extension (the dev profile) and installs the package into
/// the venv; returns its python. The build has a target directory of its
/// own: maturin's cargo runs with another environment than the `cargo
/// test` running this, so in a shared directory it rebuilt some of the
/// test build's crates in place, and the doctests compiled after it then
/// failed with E0460 ("found possibly newer version of crate `arrow`").
fn install_package() -> String {
    let python = crate::conformance::python();
    let venv = Path::new(&python).parent().unwrap().parent().unwrap();
    let output = Command::new(venv.join("bin/maturin"))
        .current_dir(workspace())
        .args(["develop", "--quiet", "-m", "bindings/python/Cargo.toml"])
        .env("VIRTUAL_ENV", venv)
        .env("CARGO_TARGET_DIR", workspace().join("target/python-ext"))
        .env_remove("CONDA_PREFIX")
        .output()
        .expect("run maturin");
    assert!(
        output.status.success(),
        "maturin develop failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    python
}

#[test]
fn the_python_package_and_spark_match_the_cli_bit_for_bit() {
    let python = install_package();
    let data = |relative: &str| workspace().join(relative).display().to_string();
    let examples = json!({
        "fraud-features": {"component": artifacts::FRAUD_FEATURES,
                           "data": data("examples/fraud-features/data/transactions.csv")},
        "fraud-features-py": {"component": crate::python::python_guest("examples/fraud-features-py"),
                              "data": data("examples/fraud-features/data/transactions.csv")},
        "glucose-alerts": {"component": artifacts::GLUCOSE_ALERTS,
                           "data": data("examples/glucose-alerts/data/readings.csv")},
        "email-subject": {"component": artifacts::EMAIL_SUBJECT,
                          "data": data("examples/email-subject/data/subjects.jsonl")},
        "order-features": {"component": artifacts::ORDER_FEATURES,
                           "data": data("examples/order-features/data/orders.jsonl")},
        "card-velocity": {"component": artifacts::CARD_VELOCITY,
                          "data": data("examples/card-velocity/data/spine.csv"),
                          "events": data("examples/card-velocity/data/events.csv")},
        "card-velocity-py": {"component": crate::python::python_guest("examples/card-velocity-py"),
                             "data": data("examples/card-velocity/data/spine.csv"),
                             "events": data("examples/card-velocity/data/events.csv")},
    });
    let guests: serde_json::Map<String, serde_json::Value> = artifacts::ALL
        .iter()
        .map(|(name, path)| (name.to_uppercase(), json!(path)))
        .collect();
    let cache = tempfile::TempDir::new().unwrap();
    let output = Command::new(&python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(workspace().join("bindings/python/tests"))
        .env("SKEWLESS", env!("CARGO_BIN_EXE_skewless"))
        .env("SKEWLESS_EXAMPLES", examples.to_string())
        .env(
            "SKEWLESS_GUESTS",
            serde_json::Value::Object(guests).to_string(),
        )
        .env("XDG_CACHE_HOME", cache.path())
        .env("PYSPARK_PYTHON", &python)
        .env("PYSPARK_DRIVER_PYTHON", &python)
        .output()
        .expect("run pytest");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
