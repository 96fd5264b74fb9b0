//! The `skewless` command as a user runs it: exit codes, one-line errors
//! that name the file and the reason, and no output file on failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use skewless_test_artifacts as artifacts;
use tempfile::TempDir;

fn skewless(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_skewless"))
        .args(args)
        // Tests must not depend on, or fill, the user's cache.
        .arg("--no-cache")
        .output()
        .expect("run skewless")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn sample_transactions() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/fraud-features/data/transactions.csv")
}

/// Runs a backfill with `component`, which must fail with one line that
/// contains `reason`, and leave no output.
fn assert_run_refuses(component: &Path, reason: &str) {
    let dir = TempDir::new().unwrap();
    let output_path = dir.path().join("features.parquet");
    let output = skewless(&[
        "run",
        component.to_str().unwrap(),
        "--input",
        sample_transactions().to_str().unwrap(),
        "--output",
        output_path.to_str().unwrap(),
    ]);
    let message = stderr(&output);
    assert!(!output.status.success(), "{message}");
    assert_eq!(message.lines().count(), 1, "one line: {message}");
    assert!(message.starts_with("error: "), "{message}");
    assert!(
        message.contains(&component.display().to_string()),
        "names the file: {message}"
    );
    assert!(message.contains(reason), "says why ({reason}): {message}");
    assert!(!output_path.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing left behind"
    );
}

#[test]
fn a_text_file_is_not_a_component() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("notes.wasm");
    std::fs::write(&path, "these are not the bytes you are looking for").unwrap();
    assert_run_refuses(&path, "not a WebAssembly file");
}

#[test]
fn a_core_module_is_not_a_component() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("core.wasm");
    std::fs::write(&path, b"\0asm\x01\x00\x00\x00").unwrap();
    assert_run_refuses(&path, "it is a core WebAssembly module, not a component");
}

#[test]
fn a_component_of_another_world_is_refused() {
    assert_run_refuses(
        Path::new(artifacts::COMMAND),
        "does not export the `skewless:transform` world of version 0.2.0 or 0.1.0",
    );
}

#[test]
fn a_corrupt_component_is_refused() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("corrupt.wasm");
    let mut bytes = std::fs::read(artifacts::FRAUD_FEATURES).unwrap();
    bytes.truncate(bytes.len() * 2 / 3);
    std::fs::write(&path, bytes).unwrap();
    assert_run_refuses(&path, "it does not compile");
}

#[test]
fn a_missing_component_is_named() {
    assert_run_refuses(
        Path::new("/no/such/transform.wasm"),
        "No such file or directory",
    );
}

#[test]
fn run_writes_features_and_says_what_it_did() {
    let dir = TempDir::new().unwrap();
    let output_path = dir.path().join("features.parquet");
    let output = skewless(&[
        "run",
        artifacts::FRAUD_FEATURES,
        "-i",
        sample_transactions().to_str().unwrap(),
        "-o",
        output_path.to_str().unwrap(),
        "--keep",
        "transaction_id,is_fraud",
    ]);
    let message = stderr(&output);
    assert!(output.status.success(), "{message}");
    assert!(message.starts_with("wrote 2000 rows to `"), "{message}");
    assert!(
        message.contains("with fraud-features 1.0.0 (sha256 "),
        "{message}"
    );

    let inspect = skewless(&[
        "inspect",
        output_path.to_str().unwrap(),
        "--json",
        "--rows",
        "2",
    ]);
    assert!(inspect.status.success(), "{}", stderr(&inspect));
    let json: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(json["rows"], 2000);
    assert_eq!(json["transform"]["name"], "fraud-features");
    let columns: Vec<&str> = json["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        columns,
        [
            "transaction_id",
            "is_fraud",
            "log_amount",
            "is_night",
            "amount_bucket",
            "category_risk"
        ]
    );
    assert_eq!(json["rows_preview"][0]["transaction_id"], "tx_000001");
    // Types as transforms declare them; a kept column's guess as Arrow
    // names it when no transform type matches.
    let types: Vec<&str> = json["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["utf8", "int64", "float64", "int64", "int64", "float64"]
    );

    let rows_of_a_component = skewless(&["inspect", artifacts::FRAUD_FEATURES, "--rows", "2"]);
    assert!(!rows_of_a_component.status.success());
    assert!(
        stderr(&rows_of_a_component).contains("is a component, which has no rows"),
        "{}",
        stderr(&rows_of_a_component)
    );
}

#[test]
fn a_failing_row_is_reported_with_the_file_and_row() {
    let dir = TempDir::new().unwrap();
    let input = dir.path().join("amounts.csv");
    std::fs::write(&input, "amount\n1\n4\n-9\n16\n").unwrap();
    let output_path = dir.path().join("roots.parquet");
    let run = || {
        skewless(&[
            "run",
            artifacts::FAILS_ROW,
            "-i",
            input.to_str().unwrap(),
            "-o",
            output_path.to_str().unwrap(),
        ])
    };
    let output = run();
    assert!(!output.status.success());
    assert_eq!(
        stderr(&output).trim_end(),
        format!(
            "error: backfill of `{}` with `fails-row` failed (no output was written): transform \
             `fails-row` failed at row 2: amount must not be negative, got -9",
            input.display()
        )
    );
    assert!(!output_path.exists());

    // An empty CSV field is a null, which a plain `f64` argument refuses;
    // the message says where the null came from.
    std::fs::write(&input, "amount,other\n1,x\n,y\n").unwrap();
    let output = run();
    assert!(
        stderr(&output).trim_end().ends_with(
            "column `amount` is null in row 1, but transform `fails-row` declares it \
             non-nullable (not `Option<_>` in Rust, not `Optional[...]` in Python); in a CSV \
             file, an empty field is null"
        ),
        "{}",
        stderr(&output)
    );
}

#[test]
fn inspect_prints_identity_and_schemas() {
    let output = skewless(&["inspect", artifacts::GLUCOSE_ALERTS, "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["name"], "glucose-alerts");
    assert_eq!(json["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(
        json["inputs"][0],
        serde_json::json!({"name": "read_at", "data_type": "timestamp-micros", "nullable": false})
    );
    assert_eq!(json["outputs"][0]["nullable"], true);

    let text = skewless(&["inspect", artifacts::GLUCOSE_ALERTS]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.starts_with("glucose-alerts 1.0.0\n  sha256       "),
        "{text}"
    );
    assert!(
        text.contains("\n  previous_mg_dl          float64  (nullable)\n"),
        "{text}"
    );
}

#[test]
fn help_shows_examples() {
    for args in [&["--help"][..], &["run", "--help"], &["inspect", "--help"]] {
        let output = Command::new(env!("CARGO_BIN_EXE_skewless"))
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8(output.stdout).unwrap();
        assert!(output.status.success());
        assert!(text.contains("Examples:\n  "), "{args:?}: {text}");
    }
}

#[test]
fn an_unknown_extension_is_explained() {
    let dir = TempDir::new().unwrap();
    let output_path = dir.path().join("features.xlsx");
    let output = skewless(&[
        "run",
        artifacts::FRAUD_FEATURES,
        "-i",
        sample_transactions().to_str().unwrap(),
        "-o",
        output_path.to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("cannot tell the format of"),
        "{}",
        stderr(&output)
    );
    assert!(stderr(&output).contains(".parquet, .csv, .arrow (or .ipc), or .jsonl"));
}

#[test]
fn a_zero_count_is_refused_before_any_work() {
    let dir = TempDir::new().unwrap();
    let output_path = dir.path().join("features.parquet");
    for (flag, value) in [
        ("--threads", "0"),
        ("--batch-size", "0"),
        ("--fuel-per-row", "0"),
    ] {
        let output = skewless(&[
            "run",
            artifacts::FRAUD_FEATURES,
            "-i",
            sample_transactions().to_str().unwrap(),
            "-o",
            output_path.to_str().unwrap(),
            flag,
            value,
        ]);
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{flag}: {message}");
        assert!(
            message.contains(&format!("invalid value '0' for '{flag}"))
                && message.contains("not a positive whole number"),
            "{flag}: {message}"
        );
        assert!(!output_path.exists());
    }
}

/// The library names its options as the library and the Python package
/// spell them; the command line adds the flag to use.
#[test]
fn a_refused_backfill_option_names_its_flag() {
    let dir = TempDir::new().unwrap();
    let output_path = dir.path().join("features.parquet");
    let input = sample_transactions();
    let run = |flags: &[&str]| {
        let mut args = vec![
            "run",
            artifacts::FRAUD_FEATURES,
            "-i",
            input.to_str().unwrap(),
            "-o",
            output_path.to_str().unwrap(),
        ];
        args.extend_from_slice(flags);
        let output = skewless(&args);
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        assert!(!output_path.exists());
        stderr(&output).trim_end().to_string()
    };
    let message = run(&["--on-error", "skip"]);
    assert!(
        message.contains("invalid `rejects`: none is given, and `on_error` `skip` needs one")
            && message.ends_with("(on the command line: `--rejects FILE.jsonl`)"),
        "{message}"
    );
    let rejects = dir.path().join("rejects.jsonl");
    let message = run(&["--on-error", "null", "--rejects", rejects.to_str().unwrap()]);
    assert!(
        message.contains("invalid `on_error`: `null` writes nulls")
            && message.ends_with("use `skip` (on the command line: `--on-error`)"),
        "{message}"
    );
    assert!(!rejects.exists());
}

#[test]
fn output_paths_that_cannot_be_written_are_refused_before_any_work() {
    let dir = TempDir::new().unwrap();
    let input = sample_transactions();
    let into_directory = dir.path().join("features.parquet");
    std::fs::create_dir(&into_directory).unwrap();
    let missing_directory = dir.path().join("nowhere").join("features.parquet");
    for (output, reason) in [
        (
            &into_directory,
            format!(
                "the output `{}` is a directory; name a file to write",
                into_directory.display()
            ),
        ),
        (
            &missing_directory,
            format!(
                "cannot write `{}`: the directory `{}` does not exist",
                missing_directory.display(),
                dir.path().join("nowhere").display()
            ),
        ),
    ] {
        let run = skewless(&[
            "run",
            artifacts::FRAUD_FEATURES,
            "--input",
            input.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
        ]);
        assert_eq!(run.status.code(), Some(1));
        let message = stderr(&run);
        assert!(message.ends_with(&format!("{reason}\n")), "{message}");
        assert_eq!(message.lines().count(), 1, "{message}");
    }
    // Nothing was created beside them.
    let entries: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, vec![std::ffi::OsString::from("features.parquet")]);
}

#[cfg(unix)]
#[test]
fn an_interrupted_run_deletes_its_unfinished_output() {
    let dir = TempDir::new().unwrap();
    let input = dir.path().join("x.csv");
    std::fs::write(&input, "x\n1\n2\n").unwrap();
    let output = dir.path().join("y.parquet");
    std::fs::write(&output, "yesterday's features").unwrap();
    // A guest that never returns, with a budget it will not exhaust.
    let child = Command::new(env!("CARGO_BIN_EXE_skewless"))
        .args(["run", artifacts::INFINITE_LOOP, "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .args(["--fuel-per-row", "1000000000000000", "--no-cache"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let unfinished = || {
        std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".skewless-tmp"))
            .count()
    };
    let started = std::time::Instant::now();
    while unfinished() == 0 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the run never started writing"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let finished = child.wait_with_output().unwrap();
    assert_eq!(finished.status.code(), Some(130));
    assert_eq!(
        String::from_utf8_lossy(&finished.stderr),
        "error: interrupted; the unfinished output was deleted (no output was written)\n"
    );
    assert_eq!(unfinished(), 0);
    assert_eq!(
        std::fs::read_to_string(&output).unwrap(),
        "yesterday's features"
    );
}
