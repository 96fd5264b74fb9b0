//! `skewless new` and `skewless build`: from nothing to a pinned component
//! through the CLI, the same bytes wherever it is built, and one-line
//! refusals of what is not a transform.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use tempfile::TempDir;

/// `skewless ARGS` in `dir`, with nothing of this test's own cargo leaking
/// into the builds it starts.
fn skewless(dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_skewless"));
    command.current_dir(dir).args(args);
    for variable in [
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WRAPPER",
    ] {
        command.env_remove(variable);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("run skewless")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A project made by `skewless new` and built once, shared by the tests
/// (a first build compiles the SDK's dependencies: about 20 s here).
struct Built {
    _root: TempDir,
    project: PathBuf,
    component: PathBuf,
    sha256: String,
}

fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = TempDir::new().unwrap();
        let created = skewless(root.path(), &["new", "trip-fares"], &[]);
        assert!(created.status.success(), "{}", text(&created));
        assert!(text(&created).contains("skewless build trip-fares"));
        let project = root.path().join("trip-fares");
        let output = skewless(&project, &["build", "--json"], &[]);
        assert!(output.status.success(), "{}", text(&output));
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(report["name"], "trip-fares");
        assert_eq!(report["version"], "0.1.0");
        assert_eq!(report["verified_on"]["passed"], true, "{report}");
        let component = PathBuf::from(report["component"].as_str().unwrap());
        let component = if component.is_absolute() {
            component
        } else {
            project.join(component)
        };
        assert_eq!(
            std::fs::metadata(&component).unwrap().len(),
            report["size"].as_u64().unwrap()
        );
        Built {
            sha256: report["sha256"].as_str().unwrap().to_string(),
            _root: root,
            project,
            component,
        }
    })
}

#[test]
fn a_new_project_builds_backfills_verifies_and_tests_with_no_edits() {
    let built = built();
    let dir = TempDir::new().unwrap();
    let features = dir.path().join("features.parquet");
    let component = built.component.to_str().unwrap();
    let sample = built.project.join("data/sample.csv");
    let run = skewless(
        &built.project,
        &[
            "run",
            component,
            "--input",
            sample.to_str().unwrap(),
            "--output",
            features.to_str().unwrap(),
            "--keep",
            "payment_id",
        ],
        &[],
    );
    assert!(run.status.success(), "{}", text(&run));
    let inspect = skewless(
        dir.path(),
        &["inspect", features.to_str().unwrap(), "--rows", "3"],
        &[],
    );
    let shown = text(&inspect);
    assert!(
        shown.contains(&format!("sha256       {}", built.sha256)),
        "{shown}"
    );
    assert!(shown.contains("payment_id"), "{shown}");
    let verify = skewless(
        &built.project,
        &["verify", component, "--input", sample.to_str().unwrap()],
        &[],
    );
    assert!(verify.status.success(), "{}", text(&verify));
    assert!(text(&verify).contains("OK: 5 paths x 12 rows x 3 columns"));
    let test = cargo_test(&built.project);
    assert!(test.status.success(), "{}", text(&test));
}

/// `skewless new --aggregations`: a transform over each customer's recent
/// payments that builds (verified with its sample events), backfills with
/// them and passes its own test, with no edits.
#[test]
fn a_new_aggregating_project_builds_backfills_and_tests_with_no_edits() {
    let root = TempDir::new().unwrap();
    let created = skewless(root.path(), &["new", "spend", "--aggregations"], &[]);
    assert!(created.status.success(), "{}", text(&created));
    assert!(
        text(&created).contains("--events spend/data/events.csv"),
        "{}",
        text(&created)
    );
    let project = root.path().join("spend");
    let output = skewless(&project, &["build", "--json"], &[]);
    assert!(output.status.success(), "{}", text(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["verified_on"]["passed"], true, "{report}");
    assert_eq!(report["not_verified"], serde_json::Value::Null, "{report}");
    let features = root.path().join("features.csv");
    let run = skewless(
        &project,
        &[
            "run",
            report["component"].as_str().unwrap(),
            "--input",
            "data/sample.csv",
            "--events",
            "data/events.csv",
            "--output",
            features.to_str().unwrap(),
            "--keep",
            "payment_id",
        ],
        &[],
    );
    assert!(run.status.success(), "{}", text(&run));
    assert_new_aggregating_features(&features);
    let test = cargo_test(&project);
    assert!(test.status.success(), "{}", text(&test));
    assert!(text(&test).contains("2 passed"), "{}", text(&test));
}

/// The project's own test, natively, as its author runs it.
fn cargo_test(project: &Path) -> Output {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .current_dir(project)
        .args(["test", "--quiet"])
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .unwrap()
}

/// The features `skewless new --aggregations` (Rust or Python) writes for
/// two of its sample payments (with `--keep payment_id`, as CSV): one after
/// two payments 55 and 25 minutes before and four in the week (26.425 on
/// average), and one of a customer never seen.
pub fn assert_new_aggregating_features(features: &Path) {
    let written = std::fs::read_to_string(features).unwrap();
    for line in [
        "payment_id,payments_1h,amount_sum_24h,amount_above_mean_7d,seconds_since_last",
        "p-0001,2,68.2,15.575,1500.0",
        "p-0009,0,0.0,,",
    ] {
        assert!(written.lines().any(|l| l == line), "{line} in {written}");
    }
}

/// The same source built from another directory, into another target
/// directory, with another `CARGO_HOME`, is the same component.
#[test]
fn a_rebuild_anywhere_gives_the_same_bytes() {
    let built = built();
    let elsewhere = TempDir::new().unwrap();
    let copy = elsewhere.path().join("some/deeper/checkout/trip-fares");
    copy_source(&built.project, &copy);
    // Another CARGO_HOME, sharing the registry (no network): its path is
    // what would reach the component without the remapping.
    let home = elsewhere.path().join("cargo-home");
    std::fs::create_dir_all(&home).unwrap();
    let registry = cargo_home().join("registry");
    std::os::unix::fs::symlink(&registry, home.join("registry")).unwrap();
    let target = elsewhere.path().join("another-target");
    let output = skewless(
        &copy,
        &["build", "--json", "--no-verify"],
        &[("CARGO_HOME", &home), ("CARGO_TARGET_DIR", &target)],
    );
    assert!(output.status.success(), "{}", text(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["sha256"], built.sha256.as_str());
    let rebuilt = target.join("wasm32-wasip2/release/trip_fares.wasm");
    assert_eq!(
        std::fs::read(rebuilt).unwrap(),
        std::fs::read(&built.component).unwrap()
    );
}

fn cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cargo"))
}

/// The project as a fresh clone has it: no target, no link.
fn copy_source(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" || name == ".skewless" {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy_source(&path, &to.join(&name));
        } else {
            std::fs::copy(&path, to.join(&name)).unwrap();
        }
    }
}

/// Runs `skewless build` in `dir` (sharing the built project's target
/// directory, so nothing is compiled twice) and returns its last line,
/// which must be the one error line.
fn build_refusal(dir: &Path) -> String {
    let target = built().project.join("target");
    let output = skewless(dir, &["build"], &[("CARGO_TARGET_DIR", &target)]);
    assert!(!output.status.success(), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    stderr.lines().last().unwrap_or_default().to_string()
}

#[test]
fn build_refuses_what_is_not_a_transform_in_one_line() {
    let dir = TempDir::new().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert_eq!(
        build_refusal(&empty),
        "error: `.` has no transform: no Cargo.toml (Rust) and no Python module that imports \
         skewless_guest; start one with `skewless new NAME` (or `--python`)"
    );

    // A crate that forgot `cdylib`.
    let no_cdylib = dir.path().join("no-cdylib");
    copy_source(&built().project, &no_cdylib);
    let manifest = no_cdylib.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace(
            "crate-type = [\"cdylib\", \"rlib\"]",
            "crate-type = [\"rlib\"]",
        ),
    )
    .unwrap();
    assert_eq!(
        build_refusal(&no_cdylib),
        format!(
            "error: `{}` builds no .wasm: its [lib] has no `cdylib`; add `crate-type = \
             [\"cdylib\", \"rlib\"]` under [lib]",
            manifest.canonicalize().unwrap().display()
        )
    );

    // Two transforms in one crate: the SDK's compile error, then one line.
    let two = dir.path().join("two");
    copy_source(&built().project, &two);
    // Its own name, so that the shared target directory keeps the built
    // project's component as it is.
    let manifest = two.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace("name = \"trip-fares\"", "name = \"two-transforms\""),
    )
    .unwrap();
    let lib = two.join("src/lib.rs");
    let source = std::fs::read_to_string(&lib).unwrap();
    let second = "\n/// Another.\n#[transform(name = \"other\", version = \"0.1.0\")]\npub fn \
                  other(amount: f64, paid_at: Timestamp) -> TripFaresFeatures {\n    \
                  features(amount, paid_at)\n}\n";
    std::fs::write(&lib, format!("{source}{second}")).unwrap();
    let line = build_refusal(&two);
    assert_eq!(
        line,
        format!(
            "error: cargo could not build `two-transforms` (its messages are above; `{}` is \
             where the transform is)",
            lib.canonicalize().unwrap().display()
        )
    );
}

#[test]
fn new_refuses_an_existing_directory_and_a_bad_name() {
    let dir = TempDir::new().unwrap();
    std::fs::create_dir(dir.path().join("taken")).unwrap();
    let output = skewless(dir.path(), &["new", "taken"], &[]);
    assert!(!output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: `taken` already exists; choose a new directory (skewless new does not write \
         into an existing one)\n"
    );
    let output = skewless(dir.path(), &["new", "Trip Fares"], &[]);
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: `Trip Fares` cannot name a transform: use 1 to 64 lowercase letters, digits, \
         `-` and `_`, starting with a letter (e.g. `trip-fares`)\n"
    );
    assert!(!dir.path().join("Trip Fares").exists());
}
