//! Data as users' own tools write it: files from pandas, pyarrow, polars
//! and DuckDB through every path, checked by the pytest suite in
//! `host/tests/conformance/` with those tools (pinned, installed into a
//! venv under `target/` by `scripts/python-env.sh`).

use std::path::Path;
use std::process::Command;

use skewless_test_artifacts as artifacts;

/// The venv's python, made on first use.
pub fn python() -> String {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let output = Command::new("bash")
        .arg(workspace.join("scripts/python-env.sh"))
        .output()
        .expect("run scripts/python-env.sh");
    assert!(
        output.status.success(),
        "scripts/python-env.sh failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

/// Runs the pytest file `test` of `host/tests/conformance` against the
/// built CLI; its report is the failure message.
fn pytest(test: &str) {
    let cache = tempfile::TempDir::new().unwrap();
    let output = Command::new(python())
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/conformance")
                .join(test),
        )
        .env("SKEWLESS", env!("CARGO_BIN_EXE_skewless"))
        .env("SKEWLESS_ECHO", artifacts::ECHO)
        .env("SKEWLESS_CACHE_DIR", cache.path())
        .output()
        .expect("run pytest");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn data_as_it_comes() {
    pytest("test_data_as_it_comes.py");
}
