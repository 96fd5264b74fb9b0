//! Same input, same answer, whatever came before: every call runs on a new
//! instance from the component's initial state, nothing of one call is
//! visible to the next, and memory a call grew is given back.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use arrow::array::{AsArray, Int64Array, StringArray};
use arrow::datatypes::Int64Type;
use skewless::backfill::Backfill;
use skewless::{Config, Runtime};
use skewless_test_artifacts as artifacts;
use tempfile::TempDir;

use crate::support::{TestServer, array, batch, http, load};

fn ys(transform: &skewless::Transform, xs: Vec<i64>) -> Vec<i64> {
    let output = transform
        .call(&batch(vec![("x", array(Int64Array::from(xs)))]))
        .unwrap();
    output
        .column(0)
        .as_primitive::<Int64Type>()
        .values()
        .to_vec()
}

/// A counter in a `static` cannot make the same request answer differently:
/// embedded, online, and in a backfill after other calls.
#[test]
fn state_kept_in_a_static_does_not_survive_a_call() {
    let transform = load(artifacts::COUNTER);
    // Within a call, the rows share an instance: 5, 6, 7.
    assert_eq!(ys(&transform, vec![5, 5, 5]), [5, 6, 7]);
    // But each call starts again.
    assert_eq!(ys(&transform, vec![5]), [5]);
    assert_eq!(ys(&transform, vec![5]), [5]);
    assert_eq!(
        transform.call_json(&serde_json::json!({"x": 5})).unwrap()["y"],
        5
    );
    let server = TestServer::start(vec![transform.clone()], Default::default());
    for _ in 0..3 {
        let (status, answer) = server.post("counter", r#"{"rows": [{"x": 5}]}"#);
        assert_eq!((status, answer["rows"][0]["y"].clone()), (200, 5.into()));
    }
    // A backfill gives the same output whatever ran before it.
    let dir = TempDir::new().unwrap();
    let input = dir.path().join("xs.csv");
    let rows: Vec<String> = (0..20_000).map(|i| (i % 7).to_string()).collect();
    std::fs::write(&input, format!("x\n{}\n", rows.join("\n"))).unwrap();
    let backfill = |name: &str, transform: &skewless::Transform| {
        let output = dir.path().join(name);
        Backfill::new(transform, &input, &output)
            .batch_size(3000)
            .threads(2)
            .run()
            .unwrap();
        std::fs::read(output).unwrap()
    };
    let first = backfill("first.csv", &transform);
    let fresh = Runtime::new(Config::default())
        .unwrap()
        .load(artifacts::COUNTER)
        .unwrap();
    assert_eq!(backfill("fresh.csv", &fresh), first);
}

/// Reuse is an explicit opt-in, and the risk it states is real.
#[test]
fn reusing_instances_is_an_opt_in_whose_risk_is_real() {
    let reused = Runtime::new(Config::default().reuse_instances(true).max_instances(1))
        .unwrap()
        .load(artifacts::COUNTER)
        .unwrap();
    let first = ys(&reused, vec![5]);
    let second = ys(&reused, vec![5]);
    assert_ne!(
        first, second,
        "a reused instance remembers: {first:?} {second:?}"
    );
}

/// What one call wrote into memory (a static, a freed heap block) is not
/// there for the next.
#[test]
fn a_call_finds_nothing_an_earlier_call_left_in_memory() {
    let transform = load(artifacts::LEFTOVER);
    let call = |secret: &str| {
        let output = transform
            .call(&batch(vec![(
                "secret",
                array(StringArray::from(vec![secret])),
            )]))
            .unwrap();
        (
            output.column(0).as_string::<i32>().value(0).to_string(),
            output.column(1).as_string::<i32>().value(0).to_string(),
        )
    };
    // Rows of one call share it (the guest does see its own earlier row),
    // and so do calls on a reused instance: the probe is not blind.
    let within = transform
        .call(&batch(vec![(
            "secret",
            array(StringArray::from(vec!["first", "second"])),
        )]))
        .unwrap();
    assert_eq!(within.column(0).as_string::<i32>().value(1), "first");
    let reused = Runtime::new(Config::default().reuse_instances(true).max_instances(1))
        .unwrap()
        .load(artifacts::LEFTOVER)
        .unwrap();
    let probe = |transform: &skewless::Transform, secret: &str| {
        let output = transform
            .call(&batch(vec![(
                "secret",
                array(StringArray::from(vec![secret])),
            )]))
            .unwrap();
        output.column(0).as_string::<i32>().value(0).to_string()
    };
    probe(&reused, "card 4111 1111 1111 1111");
    assert_eq!(probe(&reused, "next"), "card 4111 1111 1111 1111");
    // A call on its own instance finds nothing of an earlier one.
    call("card 4111 1111 1111 1111");
    assert_eq!(call("next"), (String::new(), String::new()));
    let server = TestServer::start(vec![transform.clone()], Default::default());
    for secret in ["alice's ssn", "bob"] {
        let (status, answer) = server.post(
            "leftover",
            &format!(r#"{{"rows": [{{"secret": "{secret}"}}]}}"#),
        );
        assert_eq!(status, 200);
        assert_eq!(answer["rows"][0]["in_static"], "", "{answer}");
        assert_eq!(answer["rows"][0]["in_heap"], "", "{answer}");
    }
}

/// Memory a call grew is not there for the next: each starts at the
/// component's initial size, on an instance put back in place (the
/// default) as on a new one.
#[test]
fn a_call_starts_at_the_initial_memory_size() {
    let before = |transform: &skewless::Transform, pages: i64| {
        let output = transform
            .call(&batch(vec![(
                "pages",
                array(Int64Array::from(vec![pages])),
            )]))
            .unwrap();
        output.column(0).as_primitive::<Int64Type>().value(0)
    };
    let load_with = |config: Config| {
        Runtime::new(config.max_instances(1))
            .unwrap()
            .load(artifacts::MEMORY_SIZE)
            .unwrap()
    };
    // A reused instance keeps what a call grew: the probe is not blind.
    let reused = load_with(Config::default().reuse_instances(true));
    let initial = before(&reused, 40);
    assert_eq!(before(&reused, 0), initial + 40);
    let put_back = load_with(Config::default());
    assert_eq!(put_back.resets_in_place(), Ok(()));
    let fresh = load_with(Config::default().fresh_instances(true));
    assert!(fresh.resets_in_place().is_err());
    for transform in [&put_back, &fresh] {
        for pages in [40, 0, 200, 1, 0] {
            assert_eq!(
                before(transform, pages),
                initial,
                "after growing by {pages}"
            );
        }
    }
    // Each of those calls' instance was put back, none dropped.
    assert_eq!(put_back.resets_in_place(), Ok(()));
}

/// Instances kept between calls never take the room the pool keeps for
/// the calls that may run at once: one runtime serves more transforms than
/// it keeps instances for (here eight, where it keeps three), each loaded
/// and called in turn.
#[test]
fn kept_instances_leave_room_for_every_call() {
    let runtime = Runtime::new(Config::default().max_instances(1)).unwrap();
    let transforms: Vec<_> = (0..8)
        .map(|i| {
            runtime
                .load(artifacts::COUNTER)
                .unwrap_or_else(|e| panic!("load {i}: {e}"))
        })
        .collect();
    for _ in 0..2 {
        for transform in &transforms {
            assert_eq!(ys(transform, vec![5, 5]), [5, 6]);
        }
    }
}

/// Every Rust guest and example is put back in place between calls, none
/// falls back to a new instance per call (`Transform::resets_in_place`).
#[test]
fn every_rust_component_is_put_back_in_place() {
    let runtime = Runtime::new(Config::default()).unwrap();
    for (name, path) in artifacts::ALL {
        let Ok(transform) = runtime.load(path) else {
            continue; // the guests that cannot load are other tests' subject
        };
        assert_eq!(transform.resets_in_place(), Ok(()), "{name}");
    }
}

/// Past the point where a slot gives its heap's pages back instead of
/// resetting them in place (its first release, after 256 resets in place,
/// in the vendored wasmtime's `cow.rs`), calls on one slot still find
/// nothing of earlier ones, after a large call. (That the release happens is
/// `engine::runtime::tests::a_slot_gives_back_the_pages_a_large_call_wrote`.)
#[test]
fn a_slot_that_gives_its_pages_back_still_starts_clean() {
    let transform = Runtime::new(Config::default().max_instances(1))
        .unwrap()
        .load(artifacts::LEFTOVER)
        .unwrap();
    let call = |secrets: Vec<String>| {
        let output = transform
            .call(&batch(vec![("secret", array(StringArray::from(secrets)))]))
            .unwrap();
        (
            output.column(0).as_string::<i32>().value(0).to_string(),
            output.column(1).as_string::<i32>().value(0).to_string(),
        )
    };
    // A call of many rows grows the heap and writes pages far beyond a
    // one-row call's.
    call((0..20_000).map(|i| format!("bulk secret {i}")).collect());
    for i in 0..600 {
        assert_eq!(
            call(vec![format!("secret {i}")]),
            (String::new(), String::new()),
            "call {i} found an earlier call's secret"
        );
    }
}

/// Resident memory of a process, from `/proc` (Linux).
fn resident_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib << 10)
}

/// After a burst of concurrent requests that each grow memory to 200 MiB,
/// the server gives the memory back: resident memory returns to within
/// 50 MiB of what it was idle.
#[test]
fn memory_a_burst_grew_is_given_back() {
    if resident_bytes(std::process::id()).is_none() {
        eprintln!("skipped: no /proc to read resident memory from");
        return;
    }
    let child = Command::new(env!("CARGO_BIN_EXE_skewless"))
        .args([
            "serve",
            artifacts::MEMORY_HOG,
            "--addr",
            "127.0.0.1:0",
            "--no-cache",
        ])
        // Filling 200 MiB takes more than a row's default CPU budget.
        .args(["--fuel-per-row", "100000000000"])
        // Every request of the burst waits its turn, however slow the machine.
        .args(["--queue", "16", "--queue-timeout-ms", "600000"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Killed(child);
    let mut lines = BufReader::new(child.0.stderr.take().unwrap()).lines();
    let addr: std::net::SocketAddr = loop {
        let line = lines
            .next()
            .expect("the server printed its address")
            .unwrap();
        if let Some(addr) = line.strip_prefix("listening on http://") {
            break addr.parse().unwrap();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    let request = move |megabytes: i64| {
        http(
            addr,
            "POST",
            "/v1/transforms/memory-hog",
            &format!(r#"{{"rows": [{{"megabytes": {megabytes}}}]}}"#),
        )
    };
    assert_eq!(request(1).0, 200);
    std::thread::sleep(Duration::from_millis(200));
    let idle = resident_bytes(child.0.id()).unwrap();
    let burst: Vec<_> = (0..16)
        .map(|_| std::thread::spawn(move || request(200).0))
        .collect();
    for request in burst {
        assert_eq!(request.join().unwrap(), 200);
    }
    let started = Instant::now();
    let mut after = resident_bytes(child.0.id()).unwrap();
    while after > idle + (50 << 20) && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
        after = resident_bytes(child.0.id()).unwrap();
    }
    assert!(
        after <= idle + (50 << 20),
        "resident memory went from {} MiB idle to {} MiB after the burst",
        idle >> 20,
        after >> 20
    );
}

/// A child process, killed when the test ends (also when it fails).
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
