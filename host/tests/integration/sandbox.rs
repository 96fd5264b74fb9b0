//! Hostile and broken guests: each fails with the right kind of error and a
//! message that says what happened and what to do, the runtime keeps
//! working, and nothing the guest can reach exists.

use std::time::Duration;

use arrow::array::{AsArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::Int64Type;
use skewless::backfill::Backfill;
use skewless::{Config, Error, Limit, Runtime, Transform};
use skewless_test_artifacts as artifacts;
use tempfile::TempDir;

use crate::support::{array, batch, load};

/// A runtime with a small CPU budget, so runaway rows fail fast.
fn small_fuel() -> Runtime {
    Runtime::new(Config::default().fuel_per_row(2_000_000)).unwrap()
}

fn ints(name: &str, values: Vec<i64>) -> RecordBatch {
    batch(vec![(name, array(Int64Array::from(values)))])
}

#[test]
fn an_infinite_loop_runs_out_of_fuel_on_its_row() {
    let transform = small_fuel().load(artifacts::INFINITE_LOOP).unwrap();
    let error = transform.call(&ints("x", vec![1, 2])).unwrap_err();
    assert!(
        matches!(
            error,
            Error::LimitExceeded {
                limit: Limit::Fuel,
                row: Some(0),
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "transform `infinite-loop` exceeded the CPU budget (fuel) at row 0: the row needed more \
         than 2000000 fuel; raise `fuel_per_row`"
    );
}

#[test]
fn a_deadline_stops_a_call_by_wall_clock() {
    // Fuel alone would allow this row to run for a long time.
    let runtime = Runtime::new(
        Config::default()
            .fuel_per_row(u64::MAX / 4)
            .deadline(Some(Duration::from_millis(50))),
    )
    .unwrap();
    let transform = runtime.load(artifacts::INFINITE_LOOP).unwrap();
    let error = transform.call(&ints("x", vec![1])).unwrap_err();
    assert!(
        matches!(
            error,
            Error::LimitExceeded {
                limit: Limit::Deadline,
                row: Some(0),
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("ran longer than 50 ms; raise `deadline`"),
        "{error}"
    );
}

/// A child process forked after the runtime was made (Python's
/// `multiprocessing`, a server's pre-fork workers) has none of the parent's
/// threads but the one that forked: not the deadline's clock, and not the
/// compiler's thread pool. Its calls still stop at their deadline, and it
/// compiles components, with the parent's runtime and with a new one. The
/// fork happens in a process of its own (this test binary run again for
/// this test alone), so that no other test's thread can hold a lock the
/// child then waits on forever.
#[cfg(unix)]
#[test]
fn a_child_forked_after_the_runtime_was_made_keeps_its_deadline_and_compiles() {
    const ROLE: &str = "SKEWLESS_TEST_FORK_ROLE";
    if std::env::var_os(ROLE).is_none() {
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "sandbox::a_child_forked_after_the_runtime_was_made_keeps_its_deadline_and_compiles",
                "--test-threads=1",
                "--nocapture",
            ])
            .env(ROLE, "forks")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("1 passed"),
            "{}\n{stdout}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        return;
    }
    let runtime = Runtime::new(
        Config::default()
            .fuel_per_row(u64::MAX / 4)
            .deadline(Some(Duration::from_millis(500))),
    )
    .unwrap();
    // (A deadline long enough that the child's loads and quick calls on
    // this runtime meet it on a busy machine.)
    let transform = runtime.load(artifacts::INFINITE_LOOP).unwrap();
    // The parent's calls stop at the deadline (its clock runs).
    assert!(transform.call(&ints("x", vec![1])).is_err());
    // SAFETY: the child runs only this thread's code, then `_exit`s
    // without running the parent's destructors or flushing its buffers.
    let child = unsafe { libc::fork() };
    assert!(child >= 0, "fork failed");
    if child == 0 {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            match transform.call(&ints("x", vec![1])) {
                Err(Error::LimitExceeded {
                    limit: Limit::Deadline,
                    ..
                }) => {}
                Err(_) => return 1,
                Ok(_) => return 2,
            }
            // Components not compiled yet in this process family.
            let runs = |runtime: &Runtime, component: &str, column: &str| {
                runtime
                    .load(component)
                    .and_then(|t| t.call(&ints(column, vec![3])))
                    .is_ok()
            };
            if !runs(&runtime, artifacts::BURN, "units") {
                return 4;
            }
            let fresh = Runtime::new(Config::default()).unwrap();
            if !runs(&fresh, artifacts::SLOW_ROW, "x") {
                return 5;
            }
            0
        }));
        let code = outcome.unwrap_or(3);
        // SAFETY: ends the child at once, as a forked child should.
        unsafe { libc::_exit(code) };
    }
    // The child's loop, were its deadline never reached, would run for as
    // long as its fuel lasts (years), and a compilation waiting for the
    // parent's threads forever: give it 60 s, then stop it.
    let limit = std::time::Instant::now() + Duration::from_secs(60);
    let mut status = 0;
    loop {
        // SAFETY: `child` is this process's child; `status` is a valid out pointer.
        let done = unsafe { libc::waitpid(child, &mut status, libc::WNOHANG) };
        if done == child {
            break;
        }
        if std::time::Instant::now() > limit {
            // SAFETY: as above; the child is ended and reaped.
            unsafe {
                libc::kill(child, libc::SIGKILL);
                libc::waitpid(child, &mut status, 0);
            }
            panic!(
                "the forked child did not end in 60 s (a call past its 500 ms deadline, or a \
                 compilation waiting for threads the child does not have)"
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        libc::WIFEXITED(status),
        "the forked child ended abnormally: status {status}"
    );
    let code = libc::WEXITSTATUS(status);
    assert_eq!(
        code,
        0,
        "in the forked child, {}",
        match code {
            1 => "the looping call failed, but not at its deadline",
            2 => "the looping call succeeded",
            3 => "something panicked",
            4 => "a component did not load or run on the parent's runtime",
            5 => "a component did not load or run on a runtime made in the child",
            _ => "the test ended with an unknown code",
        }
    );
}

/// The fuel budget is per row: the slow row (x = 13) fails the same way
/// alone and deep inside a large batch, and its neighbours succeed alone.
#[test]
fn a_slow_row_fails_identically_alone_and_in_a_large_batch() {
    let transform = small_fuel().load(artifacts::SLOW_ROW).unwrap();
    let alone = transform.call(&ints("x", vec![13])).unwrap_err();
    let mut values: Vec<i64> = (0..200_000).map(|i| i % 10).collect();
    values[150_000] = 13;
    let in_batch = transform.call(&ints("x", values.clone())).unwrap_err();
    match (&alone, &in_batch) {
        (
            Error::LimitExceeded {
                limit: Limit::Fuel,
                row: Some(0),
                detail: a,
                ..
            },
            Error::LimitExceeded {
                limit: Limit::Fuel,
                row: Some(150_000),
                detail: b,
                ..
            },
        ) => assert_eq!(a, b),
        other => panic!("{other:?}"),
    }
    // The same error once rows are counted from the file's start.
    assert_eq!(
        alone.to_string().replace("row 0", "row 150000"),
        in_batch.to_string()
    );

    for neighbour in [149_999, 150_001] {
        let output = transform.call(&ints("x", vec![values[neighbour]])).unwrap();
        assert_eq!(
            output.column(0).as_primitive::<Int64Type>().value(0),
            values[neighbour]
        );
    }
    // Without the slow row, the whole large batch passes on the same budget.
    values[150_000] = 3;
    assert_eq!(
        transform.call(&ints("x", values)).unwrap().num_rows(),
        200_000
    );
}

#[test]
fn a_slow_row_fails_the_backfill_with_its_row_in_the_file() {
    let dir = TempDir::new().unwrap();
    let input = dir.path().join("x.csv");
    let mut text = String::from("x\n");
    for i in 0..5_000 {
        text.push_str(if i == 4_321 { "13\n" } else { "1\n" });
    }
    std::fs::write(&input, text).unwrap();
    let transform = small_fuel().load(artifacts::SLOW_ROW).unwrap();
    let output = dir.path().join("y.parquet");
    let error = Backfill::new(&transform, &input, &output)
        .batch_size(1_000)
        .run()
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::LimitExceeded {
                limit: Limit::Fuel,
                row: Some(4_321),
                ..
            }
        ),
        "{error:?}"
    );
    assert!(!output.exists());
}

#[test]
fn unbounded_memory_growth_hits_the_memory_limit() {
    let runtime = Runtime::new(Config::default().memory_limit(32 << 20)).unwrap();
    let transform = runtime.load(artifacts::MEMORY_HOG).unwrap();
    // Within the limit is fine, and the instance can be reused.
    let fine = transform.call(&ints("megabytes", vec![8])).unwrap();
    assert_eq!(fine.column(0).as_primitive::<Int64Type>().value(0), 8);
    let error = transform.call(&ints("megabytes", vec![4, -1])).unwrap_err();
    assert!(
        matches!(
            error,
            Error::LimitExceeded {
                limit: Limit::Memory,
                row: Some(1),
                ..
            }
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("over the limit of 32 MiB"), "{message}");
    assert!(message.contains("raise `memory_limit`"), "{message}");
    // The runtime keeps working.
    assert_eq!(
        transform
            .call(&ints("megabytes", vec![1]))
            .unwrap()
            .num_rows(),
        1
    );
}

#[test]
fn deep_recursion_overflows_the_stack_cleanly() {
    let transform = load(artifacts::DEEP_RECURSION);
    let shallow = transform.call(&ints("depth", vec![1_000])).unwrap();
    assert_eq!(
        shallow.column(0).as_primitive::<Int64Type>().value(0),
        1_000
    );
    let error = transform
        .call(&ints("depth", vec![10, 100_000_000]))
        .unwrap_err();
    assert!(
        matches!(error, Error::Trap { row: Some(1), .. }),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("stack overflow (too deep a recursion)"),
        "{error}"
    );
    assert_eq!(
        transform.call(&ints("depth", vec![5])).unwrap().num_rows(),
        1
    );
}

#[test]
fn a_panic_reaches_the_user_with_its_message_and_the_instance_is_replaced() {
    let transform = load(artifacts::PANICS);
    let input = batch(vec![(
        "amount",
        array(Float64Array::from(vec![1.0, -2.5, 3.0])),
    )]);
    let error = transform.call(&input).unwrap_err();
    assert!(
        matches!(error, Error::Trap { row: Some(1), .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.starts_with(
            "transform `panics` crashed at row 1: it panicked or aborted; the transform printed: "
        ),
        "{message}"
    );
    assert!(
        message.contains("amount must be positive, got -2.5"),
        "{message}"
    );
    assert!(message.contains("checking -2.5"), "{message}");
    // The trapped instance was dropped: the next call gets a fresh one and
    // sees none of the previous output; nor does a call after calls that
    // succeeded (their instances' host-side state serves later ones).
    for _ in 0..3 {
        let ok = transform
            .call(&batch(vec![(
                "amount",
                array(Float64Array::from(vec![4.0])),
            )]))
            .unwrap();
        assert_eq!(
            ok.column(0)
                .as_primitive::<arrow::datatypes::Float64Type>()
                .value(0),
            8.0
        );
    }
    let again = transform.call(&input).unwrap_err().to_string();
    assert_eq!(
        again.matches("amount must be positive").count(),
        1,
        "{again}"
    );
    assert!(!again.contains("checking 4"), "{again}");
}

#[test]
fn a_wrong_row_count_is_refused() {
    let transform = load(artifacts::WRONG_ROW_COUNT);
    let error = transform.call(&ints("x", vec![1, 2, 3])).unwrap_err();
    assert!(matches!(error, Error::InvalidOutput { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "transform `wrong-row-count` returned an invalid batch: 4 rows for 3 input rows \
         (a transform returns exactly one row per input row)"
    );
}

#[test]
fn wrong_output_types_are_refused() {
    let transform = load(artifacts::WRONG_TYPES);
    let error = transform.call(&ints("x", vec![1])).unwrap_err();
    assert_eq!(
        error.to_string(),
        "transform `wrong-types` returned an invalid batch: column `y`: 4 bytes of values for 1 values of 8 bytes"
    );
}

#[test]
fn oversized_output_is_refused() {
    let runtime = Runtime::new(Config::default().max_output_bytes(1 << 20)).unwrap();
    let transform = runtime.load(artifacts::HUGE_OUTPUT).unwrap();
    let fine = transform.call(&ints("bytes", vec![1_000, 2_000])).unwrap();
    assert_eq!(fine.column(0).as_string::<i32>().value(1).len(), 2_000);
    let error = transform
        .call(&ints("bytes", vec![1_000, 2_000_000]))
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::LimitExceeded {
                limit: Limit::OutputSize,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains(&format!("returned more than {} bytes", 1 << 20)),
        "{error}"
    );
    assert_eq!(
        transform.call(&ints("bytes", vec![3])).unwrap().num_rows(),
        1
    );
}

/// What the guest saw, row 0 of the ambient guest's output.
fn observe(transform: &Transform, path: &str) -> serde_json::Map<String, serde_json::Value> {
    let output = transform
        .call(&batch(vec![("path", array(StringArray::from(vec![path])))]))
        .unwrap();
    let mut buffer = Vec::new();
    let mut writer = arrow::json::ArrayWriter::new(&mut buffer);
    writer.write(&output).unwrap();
    writer.finish().unwrap();
    let rows: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_slice(&buffer).unwrap();
    rows.into_iter().next().unwrap()
}

#[test]
fn nothing_ambient_reaches_the_guest() {
    // The host process has files, environment variables (HOME...) and a
    // network; the guest must see none of them.
    let secret = std::env::temp_dir().join("skewless-secret.txt");
    std::fs::write(&secret, "do not read").unwrap();
    let transform = load(artifacts::AMBIENT);
    let seen = observe(&transform, secret.to_str().unwrap());
    assert!(
        seen["file"].as_str().unwrap().starts_with("error: "),
        "{seen:?}"
    );
    assert_eq!(seen["env_vars"], 0);
    assert_eq!(seen["args"], 0);
    assert!(
        !seen.contains_key("home"),
        "HOME is absent (null): {seen:?}"
    );
    assert_eq!(seen["preopened_dirs"], 0);
    assert!(
        seen["tcp"].as_str().unwrap().starts_with("error: "),
        "{seen:?}"
    );
    // Clocks are frozen at the epoch; randomness is all zeros.
    assert_eq!(seen["wall_clock_nanos"], 0);
    assert_eq!(seen["monotonic_nanos"], 0);
    assert_eq!(seen["random_hex"], "00000000000000000000000000000000/0/0:0");
    // And it stays so on the next call in the same instance.
    assert_eq!(
        observe(&transform, "/etc/hostname"),
        observe(&transform, "/etc/hostname")
    );
    std::fs::remove_file(secret).unwrap();
}

/// Every hostile guest fails with the same kind of error and the same
/// message whether its rows come from a file (backfill) or an HTTP request
/// (serving).
#[test]
fn hostile_guests_fail_the_same_way_offline_and_online() {
    let default = crate::support::runtime().clone();
    let little_fuel = small_fuel();
    let little_memory = Runtime::new(Config::default().memory_limit(32 << 20)).unwrap();
    let small_output = Runtime::new(Config::default().max_output_bytes(1 << 20)).unwrap();
    let cases: [(&Runtime, &str, &str, &[&str], &str); 9] = [
        (
            &little_fuel,
            artifacts::INFINITE_LOOP,
            "x",
            &["1"],
            "fuel_exhausted",
        ),
        (
            &little_fuel,
            artifacts::SLOW_ROW,
            "x",
            &["1", "13", "2"],
            "fuel_exhausted",
        ),
        (
            &little_memory,
            artifacts::MEMORY_HOG,
            "megabytes",
            &["1", "-1"],
            "memory_limit",
        ),
        (
            &default,
            artifacts::DEEP_RECURSION,
            "depth",
            &["100000000"],
            "trap",
        ),
        (
            &default,
            artifacts::PANICS,
            "amount",
            &["1.5", "-1"],
            "trap",
        ),
        (
            &default,
            artifacts::WRONG_ROW_COUNT,
            "x",
            &["1"],
            "invalid_output",
        ),
        (
            &default,
            artifacts::WRONG_TYPES,
            "x",
            &["1"],
            "invalid_output",
        ),
        (
            &small_output,
            artifacts::HUGE_OUTPUT,
            "bytes",
            &["2000000"],
            "output_too_large",
        ),
        (
            &default,
            artifacts::FAILS_ROW,
            "amount",
            &["4", "-1"],
            "row_failed",
        ),
    ];
    let dir = TempDir::new().unwrap();
    for (runtime, guest, column, values, kind) in cases {
        let transform = runtime.load(guest).unwrap();
        let input = dir.path().join(format!("{}.csv", transform.name()));
        std::fs::write(&input, format!("{column}\n{}\n", values.join("\n"))).unwrap();
        let output = dir.path().join(format!("{}.parquet", transform.name()));
        let offline = Backfill::new(&transform, &input, &output)
            .run()
            .unwrap_err();
        assert_eq!(offline.kind(), kind, "{guest} offline: {offline}");
        assert!(!output.exists());

        let server = crate::support::TestServer::start(
            vec![transform.clone()],
            skewless::serve::ServeConfig::default(),
        );
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
        // The same message both ways; the server adds its own flag for a
        // limit, which its operator, not the client, sets.
        let expected = match offline.setting() {
            Some(setting) => format!("{offline} (the server's `{}`)", setting.flag()),
            None => offline.to_string(),
        };
        assert_eq!(
            answer["error"]["message"], expected,
            "{guest}: same message both ways"
        );
        assert_eq!(
            answer["error"]["row"],
            serde_json::json!(offline.row()),
            "{guest}"
        );
    }
}

/// The exact per-row budget: find the least fuel a costly row needs alone,
/// then check that one unit less fails it, alone and in the middle of a
/// large batch, and that exactly enough passes it in both, even in a batch
/// of many such rows (whose total is far over one row's budget).
#[test]
fn the_per_row_budget_is_exact_in_any_batch() {
    let cache = TempDir::new().unwrap();
    let with_fuel = |fuel: u64| {
        Runtime::new(
            Config::default()
                .fuel_per_row(fuel)
                .cache_dir(Some(cache.path().to_path_buf())),
        )
        .unwrap()
        .load(artifacts::BURN)
        .unwrap()
    };
    let costly = 200_000;
    let passes_alone = |fuel: u64| with_fuel(fuel).call(&ints("units", vec![costly])).is_ok();
    let (mut low, mut high) = (1_u64, 100_000_000_u64);
    assert!(passes_alone(high) && !passes_alone(low));
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        if passes_alone(middle) {
            high = middle;
        } else {
            low = middle;
        }
    }
    let least = high;

    let mut mixed = vec![0_i64; 10_000];
    mixed[6_789] = costly;
    let short = with_fuel(least - 1);
    let alone = short.call(&ints("units", vec![costly])).unwrap_err();
    let in_batch = short.call(&ints("units", mixed.clone())).unwrap_err();
    assert!(
        matches!(
            alone,
            Error::LimitExceeded {
                limit: Limit::Fuel,
                row: Some(0),
                ..
            }
        ),
        "{alone:?}"
    );
    assert!(
        matches!(
            in_batch,
            Error::LimitExceeded {
                limit: Limit::Fuel,
                row: Some(6_789),
                ..
            }
        ),
        "{in_batch:?}"
    );

    let enough = with_fuel(least);
    assert_eq!(
        enough.call(&ints("units", mixed)).unwrap().num_rows(),
        10_000
    );
    let all_costly = enough.call(&ints("units", vec![costly; 50])).unwrap();
    assert_eq!(all_costly.num_rows(), 50);
    // The same again on the warm instance (whose fast runs are now sized
    // from what it has seen).
    assert_eq!(
        enough
            .call(&ints("units", vec![costly; 50]))
            .unwrap()
            .num_rows(),
        50
    );
}
