//! Python transforms (the `skewless_guest` SDK in `guest-sdk-python/`,
//! compiled by componentize-py) on the same host as Rust ones: the same
//! bits as the Rust twin, the same failures offline and online, nothing
//! ambient, and build errors in one line.
//!
//! Python guests are built through the CLI (`skewless build`), once per
//! machine for a given source: components are kept under
//! `target/python-guests/`, named by a hash of their sources, the SDK, the
//! contract and the pinned tools, and compiled once into a precompiled
//! cache beside them (an 18 MB component takes seconds to compile).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch, StringArray};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use skewless::backfill::Backfill;
use skewless::{Config, Runtime, Transform};
use skewless_test_artifacts as artifacts;
use tempfile::TempDir;

use crate::support::{TestServer, array, batch};
use crate::types::assert_batches_same_bits;

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

/// Where built Python guests and their compiled code are kept.
fn guests_dir() -> PathBuf {
    workspace().join("target/python-guests")
}

/// componentize-py from the tests' pinned venv.
fn componentize_py() -> PathBuf {
    let python = PathBuf::from(crate::conformance::python());
    python.parent().unwrap().join("componentize-py")
}

/// `skewless ARGS` in `dir` with the venv's componentize-py.
pub fn skewless(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_skewless"))
        .current_dir(dir)
        .args(args)
        .env("SKEWLESS_COMPONENTIZE_PY", componentize_py())
        .output()
        .expect("run skewless")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The component of the Python project `relative` (to the workspace),
/// built by `skewless build` unless an identical build is kept.
pub fn python_guest(relative: &str) -> PathBuf {
    static BUILDING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    let project = workspace().join(relative);
    let mut hasher = Sha256::new();
    for dir in [
        project.clone(),
        workspace().join("guest-sdk-python/skewless_guest"),
        workspace().join("wit"),
    ] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "py" || e == "wit"))
            .collect();
        files.sort();
        for file in files {
            hasher.update(file.file_name().unwrap().as_encoded_bytes());
            hasher.update(std::fs::read(&file).unwrap());
        }
    }
    hasher.update(std::fs::read(workspace().join("scripts/python-requirements.txt")).unwrap());
    let key: String = hasher.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let name = project
        .file_name()
        .unwrap()
        .to_string_lossy()
        .replace('-', "_");
    let kept = guests_dir().join(format!("{name}-{key}.wasm"));
    if kept.is_file() {
        return kept;
    }
    let output = skewless(&project, &["build", "--json", "--no-verify", "--no-cache"]);
    assert!(output.status.success(), "{}", text(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let built = project.join(report["component"].as_str().unwrap());
    let built = if built.is_file() {
        built
    } else {
        PathBuf::from(report["component"].as_str().unwrap())
    };
    std::fs::create_dir_all(guests_dir()).unwrap();
    std::fs::copy(&built, &kept).unwrap();
    kept
}

/// A runtime that keeps compiled Python guests (`config` plus the cache).
fn runtime_with(config: Config) -> Runtime {
    Runtime::new(config.cache_dir(Some(guests_dir().join("compiled")))).unwrap()
}

/// The guest of `relative`, loaded once per test process.
fn load(relative: &str) -> Transform {
    static LOADED: OnceLock<Mutex<std::collections::HashMap<String, Transform>>> = OnceLock::new();
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    let loaded = LOADED.get_or_init(Default::default);
    if let Some(transform) = loaded.lock().unwrap().get(relative) {
        return transform.clone();
    }
    let runtime = RUNTIME.get_or_init(|| runtime_with(Config::default()));
    let transform = runtime.load(python_guest(relative)).unwrap();
    loaded
        .lock()
        .unwrap()
        .insert(relative.to_string(), transform.clone());
    transform
}

const FRAUD_PY: &str = "examples/fraud-features-py";
const TICKETS_PY: &str = "examples/support-tickets-py";

/// Amounts at the edges of everything the fraud features compute: bucket
/// edges and their neighbours, zeros of both signs, subnormals, the
/// largest floats, infinities, NaN, refunds below zero (where `ln(1 +
/// amount)` is -inf or NaN), and categories in every script.
fn edge_transactions(rows: usize) -> RecordBatch {
    let specials = [
        0.0,
        -0.0,
        5e-324,
        -5e-324,
        f64::MIN_POSITIVE,
        1e308,
        f64::MAX,
        -1e308,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        -1.0,
        -0.5,
        -2.0,
        -1e-300,
        9.999999999999998,
        10.0,
        49.99999999999999,
        50.0,
        100.0,
        499.99999999999994,
        500.0,
        999.9999999999999,
        1000.0,
    ];
    let categories = [
        "grocery",
        "travel",
        "electronics",
        "gaming",
        "Café Olé",
        "日本語",
        "",
        "GROCERY",
        "🎉 party",
    ];
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let amounts: Vec<f64> = (0..rows)
        .map(|i| match i % 4 {
            0 => specials[i / 4 % specials.len()],
            1 => -((next() % 100_000) as f64) / 7.0,
            _ => {
                f64::from_bits(0x3ff0_0000_0000_0000 | (next() >> 12))
                    * 2f64.powi((i % 40) as i32 - 10)
            }
        })
        .collect();
    let hours: Vec<i64> = (0..rows).map(|i| (i % 28) as i64 - 2).collect();
    let names: Vec<&str> = (0..rows)
        .map(|i| categories[i % categories.len()])
        .collect();
    batch(vec![
        ("amount", array(Float64Array::from(amounts))),
        ("hour", array(Int64Array::from(hours))),
        ("merchant_category", array(StringArray::from(names))),
    ])
}

#[test]
fn python_and_rust_fraud_features_are_bit_identical() {
    let python = load(FRAUD_PY);
    let rust = crate::support::load(artifacts::FRAUD_FEATURES);
    assert_eq!(python.info().inputs, rust.info().inputs);
    assert_eq!(python.info().outputs, rust.info().outputs);
    let edges = edge_transactions(20_000);
    assert_batches_same_bits(&rust.call(&edges).unwrap(), &python.call(&edges).unwrap());
    // The bundled sample, through a backfill each (the file path).
    let dir = TempDir::new().unwrap();
    let sample = workspace().join("examples/fraud-features-py/data/transactions.csv");
    let mut outputs = Vec::new();
    for (transform, name) in [(&rust, "rust.arrow"), (&python, "python.arrow")] {
        let output = dir.path().join(name);
        Backfill::new(transform, &sample, &output).run().unwrap();
        outputs.push(crate::files::read_all(&output));
    }
    assert_eq!(outputs[0].num_rows(), 2_000);
    assert_batches_same_bits(&outputs[0], &outputs[1]);
}

#[test]
fn python_examples_verify_serve_inspect_and_record_their_sha256() {
    for (project, data) in [
        (FRAUD_PY, "data/transactions.csv"),
        (TICKETS_PY, "data/sample.csv"),
    ] {
        let transform = load(project);
        let data = workspace().join(project).join(data);
        let report = skewless::verify::Verify::new(&transform, &data)
            .run()
            .unwrap();
        assert!(report.passed(), "{project}: {report:#?}");
        assert!(report.rows > 200);
        // A Parquet backfill records the component that made it.
        let dir = TempDir::new().unwrap();
        let output = dir.path().join("features.parquet");
        Backfill::new(&transform, &data, &output).run().unwrap();
        let summary = skewless::io::summarize(&output).unwrap();
        assert_eq!(summary.provenance.unwrap().sha256, transform.sha256());
        // Served, it answers what the backfill wrote.
        let server = TestServer::start(vec![transform.clone()], Default::default());
        let requests: Vec<skewless::io::ColumnRequest> = transform
            .info()
            .inputs
            .iter()
            .map(|field| skewless::io::ColumnRequest {
                name: field.name.clone(),
                data_type: Some(field.data_type),
            })
            .collect();
        let first = skewless::io::Reader::open(&data, Some(&requests), 1, Default::default())
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        let inputs = transform.prepare_input(&first).unwrap();
        let row = skewless::codec::json::encode_rows(&inputs).remove(0);
        let (status, answer) = server.post(transform.name(), &format!("{{\"rows\": [{row}]}}"));
        assert_eq!(status, 200, "{answer}");
        let expected =
            skewless::codec::json::encode_rows(&transform.call(&inputs).unwrap()).remove(0);
        assert_eq!(
            answer["rows"][0],
            serde_json::from_str::<Value>(&expected).unwrap()
        );
    }
    // inspect shows the declaration, as for a Rust component.
    let output = skewless(
        &workspace(),
        &[
            "inspect",
            python_guest(TICKETS_PY).to_str().unwrap(),
            "--cache-dir",
            guests_dir().join("compiled").to_str().unwrap(),
        ],
    );
    let shown = text(&output);
    assert!(output.status.success(), "{shown}");
    assert!(shown.starts_with("support-tickets 1.0.0\n"), "{shown}");
    assert!(
        shown.contains("  subject    utf8\n  opened_at  timestamp-micros\n"),
        "{shown}"
    );
    assert!(
        shown.contains("  order_number    utf8  (nullable)\n"),
        "{shown}"
    );
    assert!(
        shown.contains("description  Triage features of a support ticket"),
        "{shown}"
    );
}

fn small_fuel() -> Config {
    Config::default().fuel_per_row(50_000_000)
}

/// Every hostile Python guest fails with the same kind, message and row
/// whether its rows come from a file or a request; the host keeps working.
#[test]
fn hostile_python_guests_fail_the_same_way_offline_and_online() {
    // (limits, guest, column, values, error kind, what the message says)
    type Case<'a> = (Config, &'a str, &'a str, &'a [&'a str], &'a str, &'a str);
    let wide: Vec<String> = (0..3000).map(|x| x.to_string()).collect();
    let wide: Vec<&str> = wide.iter().map(String::as_str).collect();
    let cases: [Case<'_>; 7] = [
        (
            small_fuel(),
            "py_loop",
            "x",
            &["1"],
            "fuel_exhausted",
            "at row 0",
        ),
        (
            small_fuel(),
            "py_slow_row",
            "x",
            &["1", "13", "2"],
            "fuel_exhausted",
            "at row 1",
        ),
        // Found by running the batch again one row at a time, whose forty
        // outputs a row are stored outside the rows' budgets.
        (
            small_fuel(),
            "py_wide_slow_row",
            "x",
            &wide,
            "fuel_exhausted",
            "at row 2999",
        ),
        (
            Config::default().memory_limit(32 << 20),
            "py_memory",
            "megabytes",
            &["1", "-1"],
            "memory_limit",
            "over the limit of 32 MiB",
        ),
        (
            Config::default(),
            "py_recursion",
            "depth",
            &["10", "100000"],
            "row_failed",
            "at row 1: RecursionError: maximum recursion depth exceeded (at py_recursion.py, line 13, in down)",
        ),
        (
            Config::default().fuel_per_row(50_000_000_000),
            "py_stack",
            "depth",
            &["100000"],
            "trap",
            "at row 0: stack overflow (too deep a recursion)",
        ),
        (
            Config::default(),
            "py_fails_row",
            "amount",
            &["4", "-1"],
            "row_failed",
            "at row 1: ValueError: amount must not be negative, got -1.0 (at py_fails_row.py, line 17, in root)",
        ),
    ];
    let dir = TempDir::new().unwrap();
    for (config, guest, column, values, kind, said) in cases {
        let path = python_guest(&format!("test-programs/python/{guest}"));
        let transform = runtime_with(config).load(&path).unwrap();
        let input = dir.path().join(format!("{guest}.csv"));
        std::fs::write(&input, format!("{column}\n{}\n", values.join("\n"))).unwrap();
        let output = dir.path().join(format!("{guest}.parquet"));
        let offline = Backfill::new(&transform, &input, &output)
            .run()
            .unwrap_err();
        assert_eq!(offline.kind(), kind, "{guest} offline: {offline}");
        assert!(offline.to_string().contains(said), "{guest}: {offline}");
        assert!(!output.exists());
        let server = TestServer::start(vec![transform.clone()], Default::default());
        let rows: Vec<String> = values
            .iter()
            .map(|v| format!("{{\"{column}\": {v}}}"))
            .collect();
        let (status, answer) = server.post(
            transform.name(),
            &format!("{{\"rows\": [{}]}}", rows.join(",")),
        );
        assert!(status >= 400, "{guest}: {answer}");
        assert_eq!(answer["error"]["kind"], kind, "{guest} online: {answer}");
        // The same message; the server adds its own flag for a limit.
        let expected = match offline.setting() {
            Some(setting) => format!("{offline} (the server's `{}`)", setting.flag()),
            None => offline.to_string(),
        };
        assert_eq!(answer["error"]["message"], expected, "{guest}");
        assert_eq!(answer["error"]["row"], json!(offline.row()), "{guest}");
        // And the same transform still answers a good row.
        let (status, _) = server.post(
            transform.name(),
            &format!("{{\"rows\": [{{\"{column}\": {}}}]}}", values[0]),
        );
        if guest != "py_loop" && guest != "py_stack" {
            assert_eq!(status, 200, "{guest} recovers");
        }
    }
}

/// What one call of a Python transform left in a module global or a class
/// attribute is not there for the next call (whose instance is the one the
/// earlier call used, put back in place), embedded or served; rows of
/// one call, and calls on a reused instance, do see it, so the probe is
/// not blind.
#[test]
fn a_python_call_finds_nothing_an_earlier_call_left() {
    let path = python_guest("test-programs/python/py_leftover");
    let call = |transform: &Transform, secrets: Vec<&str>| {
        let output = transform
            .call(&batch(vec![("secret", array(StringArray::from(secrets)))]))
            .unwrap();
        (0..output.num_rows())
            .map(|row| {
                (
                    output.column(0).as_string::<i32>().value(row).to_string(),
                    output.column(1).as_string::<i32>().value(row).to_string(),
                )
            })
            .collect::<Vec<_>>()
    };
    let clean = runtime_with(Config::default()).load(&path).unwrap();
    // Each call on an instance an earlier call used, put back in place.
    assert_eq!(clean.resets_in_place(), Ok(()));
    let within = call(&clean, vec!["first", "second"]);
    assert_eq!(within[1], ("first".to_string(), "first".to_string()));
    let reused = runtime_with(Config::default().reuse_instances(true).max_instances(1))
        .load(&path)
        .unwrap();
    call(&reused, vec!["card 4111 1111 1111 1111"]);
    assert_eq!(
        call(&reused, vec!["next"]),
        [(
            "card 4111 1111 1111 1111".to_string(),
            "card 4111 1111 1111 1111".to_string()
        )]
    );
    call(&clean, vec!["card 4111 1111 1111 1111"]);
    assert_eq!(call(&clean, vec!["next"]), [(String::new(), String::new())]);
    let server = TestServer::start(vec![clean.clone()], Default::default());
    for secret in ["alice's ssn", "bob", "carol"] {
        let (status, answer) = server.post(
            clean.name(),
            &format!(r#"{{"rows": [{{"secret": "{secret}"}}]}}"#),
        );
        assert_eq!(status, 200);
        assert_eq!(answer["rows"][0]["in_global"], "", "{answer}");
        assert_eq!(answer["rows"][0]["in_class"], "", "{answer}");
    }
    // And every call's instance was put back when it ended.
    assert_eq!(clean.resets_in_place(), Ok(()));
}

/// What a Python transform sees of the world, in two runs of the same
/// file, offline and online: no file, no environment, no network, clocks
/// at the epoch, zero random bytes, and the same hash and random values.
#[test]
fn nothing_ambient_reaches_a_python_guest_and_what_varies_does_not() {
    let path = python_guest("test-programs/python/py_ambient");
    let secret = workspace().join("target/python-guests/secret.txt");
    std::fs::write(&secret, "secret").unwrap();
    let observe = |transform: &Transform| {
        let input = batch(vec![(
            "path",
            array(StringArray::from(vec![secret.to_str().unwrap()])),
        )]);
        let output = transform.call(&input).unwrap();
        serde_json::from_str::<Value>(&skewless::codec::json::encode_rows(&output)[0]).unwrap()
    };
    // Two runtimes: two runs of the same file, each on a fresh instance.
    let first = observe(&runtime_with(Config::default()).load(&path).unwrap());
    let second = observe(&runtime_with(Config::default()).load(&path).unwrap());
    assert_eq!(first, second, "the same in every run");
    let transform = runtime_with(Config::default()).load(&path).unwrap();
    let online = transform
        .call_json(&json!({"path": secret.to_str().unwrap()}))
        .unwrap();
    assert_eq!(online, first, "the same online");
    assert!(
        first["file"]
            .as_str()
            .unwrap()
            .starts_with("FileNotFoundError"),
        "{first}"
    );
    assert_eq!(first["env_vars"], 0);
    assert_eq!(first["home"], Value::Null);
    assert_eq!(first["time_time"], 0.0);
    assert_eq!(first["now"], "1970-01-01T00:00:00");
    assert_eq!(first["utc_now"], "1970-01-01T00:00:00+00:00");
    assert_eq!(first["urandom_hex"], "ok: 0000000000000000");
    let socket = first["socket"].as_str().unwrap();
    assert!(
        !socket.starts_with("ok") && socket.contains("Error"),
        "no network: {socket}"
    );
}

/// What would make a Python transform fail to build says so in one line
/// naming the file, after the Python traceback; nothing is left built.
#[test]
fn python_build_errors_are_one_line_naming_the_file() {
    let dir = TempDir::new().unwrap();
    let cases = [
        (
            "syntax.py",
            "import skewless_guest\ndef f(:\n",
            "SyntaxError: invalid syntax (syntax.py, line 2)",
        ),
        (
            "untyped.py",
            "from dataclasses import dataclass\nfrom skewless_guest import transform\n\
             @dataclass\nclass Out:\n    y: float\n\
             @transform(name=\"t\", version=\"1\")\ndef f(x) -> Out:\n    return Out(x)\n",
            "SpecError: parameter `x` of `untyped.f` has no type annotation; write one of \
             bool, int, float, str, datetime, date, bytes, skewless_guest.Int32, \
             skewless_guest.Float32, skewless_guest.Decimal(18, 2), list[...] of one of them, \
             skewless_guest.Embedding(768), or Optional[...] of any of these, e.g. `x: float`",
        ),
        (
            "listy.py",
            "from dataclasses import dataclass\nfrom skewless_guest import transform\n\
             @dataclass\nclass Out:\n    y: float\n\
             @transform(name=\"t\", version=\"1\")\ndef f(x: list) -> Out:\n    return Out(1.0)\n",
            "SpecError: parameter `x` of `listy.f` is a list without an element type; write \
             list[float], list[str], ...",
        ),
        (
            "dicty.py",
            "from skewless_guest import transform\n\
             @transform(name=\"t\", version=\"1\")\ndef f(x: float) -> dict:\n    return {}\n",
            "SpecError: `dicty.f` returns dict, not a dataclass; return a @dataclass whose \
             fields are the output columns",
        ),
        (
            "twice.py",
            "from dataclasses import dataclass\nfrom skewless_guest import transform\n\
             @dataclass\nclass Out:\n    y: float\n\
             @transform(name=\"a\", version=\"1\")\ndef f(x: float) -> Out:\n    return Out(x)\n\
             @transform(name=\"b\", version=\"1\")\ndef g(x: float) -> Out:\n    return Out(x)\n",
            "SpecError: `twice.g` is a second @transform (the first is `twice.py:6`); a \
             component holds one transform: put each in its own project",
        ),
    ];
    for (file, source, cause) in cases {
        let project = dir.path().join(file.trim_end_matches(".py"));
        std::fs::create_dir(&project).unwrap();
        std::fs::write(project.join(file), source).unwrap();
        let output = skewless(&project, &["build"]);
        assert!(!output.status.success(), "{file}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().last().unwrap_or_default();
        assert_eq!(
            last,
            format!(
                "error: the Python transform `./{file}` does not build: {cause}; fix it and build \
                 again"
            ),
            "{file}: {stderr}"
        );
        assert!(
            !project
                .join("target")
                .join(file.replace(".py", ".wasm"))
                .exists()
        );
    }
}

/// `skewless build` of a transform that aggregates events verifies it
/// with the project's sample events (`data/events.*`) beside its sample;
/// without them it builds, and says why it did not verify.
#[test]
fn an_aggregating_project_is_verified_with_its_sample_events() {
    let dir = TempDir::new().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/card-velocity-py");
    let project = dir.path().join("velocity");
    std::fs::create_dir_all(project.join("data")).unwrap();
    std::fs::copy(
        example.join("card_velocity.py"),
        project.join("card_velocity.py"),
    )
    .unwrap();
    std::fs::copy(
        example.join("data/spine.csv"),
        project.join("data/sample.csv"),
    )
    .unwrap();
    let cache = dir.path().join("cache");
    let build = || {
        let output = skewless(
            &project,
            &["build", "--json", "--cache-dir", cache.to_str().unwrap()],
        );
        assert!(output.status.success(), "{}", text(&output));
        serde_json::from_slice::<Value>(&output.stdout).unwrap()
    };
    let report = build();
    assert_eq!(report["verified_on"], Value::Null, "{report}");
    let why = report["not_verified"].as_str().unwrap_or_default();
    assert!(
        why.starts_with("`card-velocity` aggregates events, and the project has no sample events")
            && why.contains("data/events.csv"),
        "{report}"
    );
    std::fs::copy(
        example.join("data/events.csv"),
        project.join("data/events.csv"),
    )
    .unwrap();
    let report = build();
    assert_eq!(report["verified_on"]["passed"], true, "{report}");
    assert_eq!(report["not_verified"], Value::Null, "{report}");
}

/// `skewless new --python`: a project that builds, backfills, verifies and
/// passes its own test with no edits.
#[test]
fn a_new_python_project_builds_backfills_verifies_and_tests() {
    let dir = TempDir::new().unwrap();
    let created = skewless(dir.path(), &["new", "trip-fares", "--python"]);
    assert!(created.status.success(), "{}", text(&created));
    let project = dir.path().join("trip-fares");
    let cache = dir.path().join("cache");
    let built = skewless(
        &project,
        &["build", "--json", "--cache-dir", cache.to_str().unwrap()],
    );
    assert!(built.status.success(), "{}", text(&built));
    let report: Value = serde_json::from_slice(&built.stdout).unwrap();
    assert_eq!(report["name"], "trip-fares");
    assert_eq!(report["reproducible"], false);
    assert_eq!(report["verified_on"]["passed"], true, "{report}");
    let component = project.join(report["component"].as_str().unwrap());
    let features = dir.path().join("features.parquet");
    let run = skewless(
        &project,
        &[
            "run",
            component.to_str().unwrap(),
            "--input",
            "data/sample.csv",
            "--output",
            features.to_str().unwrap(),
            "--cache-dir",
            cache.to_str().unwrap(),
        ],
    );
    assert!(run.status.success(), "{}", text(&run));
    // The project's own test, natively, with the venv's Python.
    let test = Command::new(crate::conformance::python())
        .current_dir(&project)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .output()
        .unwrap();
    assert!(test.status.success(), "{}", text(&test));
}

/// `skewless new --python --aggregations`: windows over each customer's
/// past payments, verified with the sample events when built, the same
/// features as the Rust template's, and its own test passes.
#[test]
fn a_new_aggregating_python_project_builds_backfills_and_tests() {
    let dir = TempDir::new().unwrap();
    let created = skewless(dir.path(), &["new", "spend", "--python", "--aggregations"]);
    assert!(created.status.success(), "{}", text(&created));
    let project = dir.path().join("spend");
    let cache = dir.path().join("cache");
    let built = skewless(
        &project,
        &["build", "--json", "--cache-dir", cache.to_str().unwrap()],
    );
    assert!(built.status.success(), "{}", text(&built));
    let report: Value = serde_json::from_slice(&built.stdout).unwrap();
    assert_eq!(report["verified_on"]["passed"], true, "{report}");
    assert_eq!(report["not_verified"], Value::Null, "{report}");
    let features = dir.path().join("features.csv");
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
            "--cache-dir",
            cache.to_str().unwrap(),
        ],
    );
    assert!(run.status.success(), "{}", text(&run));
    crate::building::assert_new_aggregating_features(&features);
    let test = Command::new(crate::conformance::python())
        .current_dir(&project)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .output()
        .unwrap();
    assert!(test.status.success(), "{}", text(&test));
    assert!(text(&test).contains("2 passed"), "{}", text(&test));
}

/// The same columns through the Python SDK's readers and builders as
/// through Rust's: nulls, every type, at a batch size that crosses bytes of
/// the validity bitmap.
#[test]
fn the_python_sdk_reads_and_writes_every_type_as_the_rust_one() {
    let python = load("test-programs/python/py_all_types");
    let rust = crate::support::load(artifacts::ALL_TYPES);
    assert_eq!(python.info().inputs, rust.info().inputs);
    assert_eq!(python.info().outputs, rust.info().outputs);
    // Python's datetime holds years 1 to 9999: timestamps within them.
    let input = crate::types::all_types_input(61, true);
    let within: Vec<(&str, ArrayRef)> = input
        .schema_ref()
        .fields()
        .iter()
        .zip(input.columns())
        .map(|(field, column)| {
            let column = if field.name() == "t" || field.name() == "nt" {
                let micros = column.as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
                array(
                    micros
                        .unary::<_, arrow::datatypes::TimestampMicrosecondType>(|v| {
                            v.rem_euclid(250_000_000_000_000_000) - 62_000_000_000_000_000
                        })
                        .with_timezone("+00:00"),
                )
            } else {
                column.clone()
            };
            (field.name().as_str(), column)
        })
        .collect();
    let input = batch(within);
    assert!(input.column(13).null_count() > 0);
    assert_batches_same_bits(&rust.call(&input).unwrap(), &python.call(&input).unwrap());
}

/// The types of contract 0.2.0 through the Python SDK's buffers as through
/// Rust's: dates, decimals, bytes, lists (with null elements) and
/// embeddings, with nulls, at a batch size that crosses bitmap bytes.
#[test]
fn the_python_sdk_reads_and_writes_the_new_types_as_the_rust_one() {
    let python = load("test-programs/python/py_rich_types");
    let rust = crate::support::load(artifacts::RICH_TYPES);
    assert_eq!(python.info().inputs, rust.info().inputs);
    assert_eq!(python.info().outputs, rust.info().outputs);
    let input = crate::rich_types::rich_input(61);
    assert_batches_same_bits(&rust.call(&input).unwrap(), &python.call(&input).unwrap());
    assert_batches_same_bits(&input, &python.call(&input).unwrap());
}

/// The SDK's own tests, natively (its signature checks).
#[test]
fn the_python_sdk_checks_signatures_natively() {
    let sdk = workspace().join("guest-sdk-python");
    let output = Command::new(crate::conformance::python())
        .current_dir(sdk.join("tests"))
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .env("PYTHONPATH", &sdk)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
}
