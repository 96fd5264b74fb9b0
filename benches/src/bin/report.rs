//! Writes the benchmark report (`BENCHMARKS.md`): every measurement beside
//! its baseline, measured in the same run, as the median of several runs.
//!
//! `cargo run --release -p skewless-benches --bin report -- --out BENCHMARKS.md`
//! (or `bash benches/report.sh`, which also runs the Feast comparison).
//! `--runs N` sets the runs per figure, `--quick` measures smaller
//! workloads, and `--only serving,latency` measures some sections only
//! (write those elsewhere with `--out`, for a before/after comparison).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use skewless::backfill::Backfill;
use skewless::{Config, Runtime, Transform};
use skewless_benches::{
    Example, call_latencies, fraud_parquet, http_load, median, percentiles, start_server,
};

const USAGE: &str = "\
Usage: report [--out FILE] [--runs N] [--quick] [--only SECTION,...] [--feast RESULTS.json]
              [--python COMPONENT.wasm] [--python-package PYTHON] [--spark RESULTS.json]

Writes the benchmark report (default BENCHMARKS.md). `bash benches/report.sh`
builds in release, runs the Feast comparison and then this.

  --out FILE        where to write the report [default: BENCHMARKS.md]
  --runs N          runs per figure; the report gives their median [default: 5]
  --quick           smaller workloads (2M-row backfill instead of 10M)
  --only SECTIONS   measure only these sections, e.g. `--only serving,latency`
                    (sections: throughput, budget, latency, load, serving,
                    isolation, python, python-package, backfill, spark, feast)
  --feast FILE      results of benches/feast/compare.py to include
  --python FILE     examples/fraud-features-py built with `skewless build`,
                    for the Python section
  --python-package PYTHON
                    a python with the `skewless` package installed (release),
                    for the section on the package
  --spark FILE      results of benches/python/bench_spark.py to include

Example: report --only backfill --runs 3 --out /tmp/backfill.md";

struct Options {
    out: PathBuf,
    runs: usize,
    quick: bool,
    feast: Option<PathBuf>,
    /// `fraud-features-py`, built, for the Python section.
    python: Option<PathBuf>,
    /// A python with the `skewless` package, for the package's section.
    python_package: Option<PathBuf>,
    /// Results of `benches/python/bench_spark.py`.
    spark: Option<PathBuf>,
    /// Sections to measure (all when empty), for quick before/after checks.
    only: Vec<String>,
}

/// Measures one section and writes its body.
type Measure = fn(&Options, &mut String);

/// The report's sections: a key for `--only`, a heading, and what measures it.
const SECTIONS: [(&str, &str, Measure); 11] = [
    (
        "throughput",
        "Batch throughput: wasm beside native",
        throughput,
    ),
    ("budget", "Per-row CPU budget: what it costs", row_budget),
    ("latency", "Embedded single-row latency", latency),
    (
        "load",
        "Component load: compile and precompiled cache",
        load,
    ),
    ("serving", "HTTP serving", serving),
    (
        "isolation",
        "A clean instance per call beside instance reuse",
        isolation,
    ),
    ("python", "Transforms written in Python", python),
    (
        "python-package",
        "The Python package: Arrow in, Arrow out, GIL released",
        python_package,
    ),
    (
        "backfill",
        "End-to-end backfill of a Parquet file",
        backfill,
    ),
    ("spark", "Backfill on Spark", spark),
    ("feast", "Feast comparison", feast),
];

/// The embedded API's single-row latency for fraud-features, as measured in
/// the latency section: `(p50, p99)` in microseconds.
static EMBEDDED_FRAUD: std::sync::OnceLock<(f64, f64)> = std::sync::OnceLock::new();

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child-backfill") {
        child_backfill(&args[2..]);
        return;
    }
    let mut options = Options {
        out: PathBuf::from("BENCHMARKS.md"),
        runs: 5,
        quick: false,
        feast: None,
        python: None,
        python_package: None,
        spark: None,
        only: Vec::new(),
    };
    let value = |i: usize| -> &str {
        match args.get(i + 1) {
            Some(value) => value,
            None => {
                eprintln!("report: {} needs a value\n\n{USAGE}", args[i]);
                std::process::exit(2);
            }
        }
    };
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--out" => {
                options.out = PathBuf::from(value(i));
                i += 1;
            }
            "--runs" => {
                options.runs = match value(i).parse() {
                    Ok(runs) if runs > 0 => runs,
                    _ => {
                        eprintln!("report: --runs needs a positive whole number");
                        std::process::exit(2);
                    }
                };
                i += 1;
            }
            "--quick" => options.quick = true,
            "--only" => {
                options.only = value(i).split(',').map(str::to_string).collect();
                for key in &options.only {
                    if !SECTIONS.iter().any(|(known, ..)| known == key) {
                        eprintln!(
                            "report: --only {key}: the sections are {}",
                            SECTIONS.map(|(key, ..)| key).join(", ")
                        );
                        std::process::exit(2);
                    }
                }
                i += 1;
            }
            "--feast" => {
                options.feast = Some(PathBuf::from(value(i)));
                i += 1;
            }
            "--python" => {
                options.python = Some(PathBuf::from(value(i)));
                i += 1;
            }
            "--python-package" => {
                options.python_package = Some(PathBuf::from(value(i)));
                i += 1;
            }
            "--spark" => {
                options.spark = Some(PathBuf::from(value(i)));
                i += 1;
            }
            "--help" | "-h" => {
                println!("{USAGE}");
                return;
            }
            other => {
                eprintln!("report: unknown argument `{other}`\n\n{USAGE}");
                std::process::exit(2);
            }
        }
        i += 1;
    }
    let report = report(&options);
    std::fs::write(&options.out, report).expect("write the report");
    eprintln!("wrote {}", options.out.display());
}

fn report(options: &Options) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# skewless benchmarks\n");
    let _ = writeln!(
        out,
        "Generated by `bash benches/report.sh` (the Rust part: `cargo run --release -p \
         skewless-benches --bin report`). Every figure is the median of {} runs, and every \
         ratio compares two figures measured in the same run of this report, on this machine. \
         `cargo bench` runs the same workloads under criterion.\n",
        options.runs
    );
    machine(&mut out);
    for (key, heading, measure) in SECTIONS {
        if options.only.is_empty() || options.only.iter().any(|only| only == key) {
            section(heading, &mut out);
            measure(options, &mut out);
        }
    }
    if options.only.is_empty() {
        section("Where the time goes", &mut out);
        out.push_str(ANALYSIS);
    }
    out
}

/// What limits the figures that miss their targets, from `perf` profiles of
/// these workloads on this machine (`SKEWLESS_PERF_MAP=1 perf record -g`
/// names the JIT-compiled guest functions).
const ANALYSIS: &str = "\
**Batch throughput (1.3x of native).** Missed for every example. What is
left is mostly the guest's own code as Cranelift compiles it, not the
boundary:

- `fraud-features`: the guest's `ln` (wasi-libc's `log`, compiled to
  WebAssembly, which has no fused multiply-add outside relaxed SIMD, which
  is off for determinism) is about a third of the time; the user
  function's category match (byte-wise `memcmp` in wasm) about a seventh;
  copying columns in and out and building Arrow arrays about a sixth.
- `email-subject`: the user function's string scanning (std's `str::find`
  two-way searcher, char classification, no SIMD) is about three quarters
  of the profile; the boundary is under 5%.
- `glucose-alerts`: the function is a few comparisons, so per-row reading
  and writing of nine columns and lifting five output lists dominate.
- Every figure includes what the sandbox and the determinism guarantee
  cost: fuel metering (an add and a compare per basic block), epoch checks
  (a load and a compare per loop and call) and NaN canonicalization (a
  compare and a select after float arithmetic). Measured once by hand on
  2026-11-27 with a patched engine (not a configuration skewless offers,
  and not reproduced by this report): with all three off, 65,536-row
  batches ran at 1.48x native for `fraud-features`, 1.73x for
  `glucose-alerts` and 1.51x for `email-subject`, against 2.40x, 2.01x and
  2.24x with them in the same session. So about a third of the gap is the
  price of the guarantees, and the rest is Cranelift's code for the same
  function.

What the speed work bought, per 65,536-row `fraud-features` batch on this
machine: per-row fuel accounting by runs of rows instead of two host calls
per row took 13.7 ms to 4.5 ms; unchecked row reads and writes in the SDK
(lengths are checked once per batch) took it to 4.0 ms.

**Embedded single-row p99 (2 µs).** Missed. Timed by hand on 2026-11-27
(a temporary timer around each step, 300,000 warm one-row `fraud-features`
calls, mean per call, before the allocator below): picking and checking
the input columns 0.28 µs, lending them as WIT parameters 0.23 µs, taking
an instance and setting its budgets 0.07 µs, the guest call 3.6 µs,
returning the instance 0.06 µs, checking and wrapping the output 0.49 µs.
callgrind then counted 25,900 instructions per call, 7,300 of them in the
guest's allocator: wasi-libc's dlmalloc, under fuel metering, serving a
dozen allocations and frees per call (the host's copies of the input
lists through `realloc`, the output columns, and `post-return`'s frees).
The SDK now installs a size-class allocator in components
(`guest-sdk/src/allocator.rs`): a call is 20,600 instructions, 16,300 of
them in wasmtime's typed call (about 6,100 in the guest; the rest lowers
and lifts the lists and enters the guest for each `realloc` and for
`post-return`), and in one session the p50 went from 4.67 to 4.11 µs for
`fraud-features`, 7.06 to 5.80 µs for `glucose-alerts` and 6.56 to
5.95 µs for `email-subject`. Building the same one-row Arrow batch
natively is itself about 1.3 µs at the median (the native column).
Reaching 2 µs would take a different boundary for tiny batches (one flat
buffer per call instead of a list per column), a contract change not made.

**A clean instance per call (1.5 µs aim).** The figures are in the
isolation section. A call's instance is put back in place when the call
ends (the sixth change of `vendor/README.md`) instead of dropped and made
again, which took most of a clean call's cost: instantiating the
component (a `Store`, a pooling slot, its core modules with their
contexts and tables, the lowered WASI imports) and dropping it. What a
clean call pays beyond a reused one now is one `PAGEMAP_SCAN` system call
to find the pages the call wrote (timed alone in the isolation section),
copying the image back into those pages, copying back the instances'
contexts and tables, and handing the kept instance from call to call. A
cheaper way to know what a call wrote is the way left to the aim. It
stays the default all the same: a transform that keeps state answers the
same request differently, which is the skew skewless exists to prevent,
and one call's data stays readable in the next; reuse is one flag for
whoever has checked their transform. Clean batches pay for resetting the
pages a batch wrote; each slot keeps 8 MiB resident, so a 65,536-row
batch no longer faults its memory in on every call.

**HTTP (one connection at most 1.3x `/healthz`, 16 connections at least
half its requests/s).** The ratios, measured in the same run, are in the
isolation section. Beyond `/healthz`, a one-row request decodes its JSON
row into Arrow, takes a clean instance, calls the guest and encodes the
answer. Small calls of a transform whose last small call was quick run in
place on the request's async worker (fewer at once than there are
workers); through tokio's blocking pool each request paid two thread
wake-ups, which on this 2-core virtual machine were the largest single
cost. Past a few connections the closed-loop load generator shares the
two cores with the server, so each added connection adds queueing.

**Backfill scaling (2 threads 1.7x one).** Each thread reads (in turn,
under a lock), transforms and encodes its own run of rows, so `--threads
1` is one core of work and `--threads 2` does not oversubscribe two.
Until 2026-11-27 a separate reader thread fed the workers: `--threads 1`
then used about 1.2 cores and two threads ran four busy threads on two
cores (1.47x to 1.58x; 2 threads took 1.49 s where they now take about
1.26 s). The output is also flushed to disk in the background every 16
MiB, so the final `fsync` no longer writes the whole file with every
thread idle (0.25 s before, about 20 ms after, for the 10M-row output).
The ratio sits near the target because some work stays serial: appending
encoded bytes to the file, the final footer and `fsync`, and the last
unit's tail. Workers encode their own Parquet row groups; float columns
are written without dictionary encoding (interning mostly distinct float
values cost 27% of backfill CPU). Peak memory stays flat as the input
grows.
";

fn section(title: &str, out: &mut String) {
    eprintln!("== {title}");
    let _ = writeln!(out, "\n## {title}\n");
}

fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn machine(out: &mut String) {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|m| m.trim().trim_end_matches(" kB").parse::<u64>().ok())
        .map(|kb| format!("{:.1} GiB", kb as f64 / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(
        out,
        "| date | {} |",
        command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"])
    );
    let _ = writeln!(out, "| CPU | {cpu} |");
    let _ = writeln!(out, "| cores available | {cores} |");
    let _ = writeln!(out, "| memory | {memory} |");
    let _ = writeln!(out, "| kernel | {} |", command_output("uname", &["-sr"]));
    let _ = writeln!(
        out,
        "| rustc | {} |",
        command_output("rustc", &["--version"])
    );
    let _ = writeln!(out, "| wasmtime | {} |", wasmtime_version());
    let _ = writeln!(
        out,
        "| skewless commit | {} |",
        command_output("git", &["rev-parse", "--short", "HEAD"])
    );
}

/// The wasmtime this binary was built with, from the workspace's lock file.
fn wasmtime_version() -> &'static str {
    let lock = include_str!("../../../Cargo.lock");
    lock.split("[[package]]")
        .find(|package| package.contains("\nname = \"wasmtime\"\n"))
        .and_then(|package| package.split("\nversion = \"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("unknown")
}

/// Rows per second of `work` over `rows` rows, repeated for at least
/// `window`.
fn rows_per_second(rows: usize, window: Duration, mut work: impl FnMut()) -> f64 {
    work();
    let started = Instant::now();
    let mut calls = 0u64;
    while started.elapsed() < window || calls < 3 {
        work();
        calls += 1;
    }
    (rows as f64 * calls as f64) / started.elapsed().as_secs_f64()
}

fn window(options: &Options) -> Duration {
    if options.quick {
        Duration::from_millis(100)
    } else {
        Duration::from_millis(400)
    }
}

fn throughput(options: &Options, out: &mut String) {
    let _ = writeln!(
        out,
        "`Transform::call` on a batch (Arrow in, Arrow out: the input copied into the \
         component, the output checked and wrapped) beside the same Rust function compiled \
         natively and run over the same Arrow batch into the same Arrow output. Input rows are \
         the example's sample data, repeated.\n"
    );
    let _ = writeln!(
        out,
        "| example | rows per batch | wasm rows/s | native rows/s | wasm time / native time |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|");
    let mut worst: Vec<(String, f64)> = Vec::new();
    for example in Example::ALL {
        let transform = example.transform();
        for rows in [1, 1024, 65_536] {
            let batch = example.batch(rows);
            let (mut wasm, mut native, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..options.runs {
                let w = rows_per_second(rows, window(options), || {
                    std::hint::black_box(transform.call(&batch).expect("call"));
                });
                let n = rows_per_second(rows, window(options), || {
                    std::hint::black_box(example.native(&batch));
                });
                wasm.push(w);
                native.push(n);
                ratios.push(n / w);
            }
            let ratio = median(&mut ratios);
            if rows == 65_536 {
                worst.push((example.name().to_string(), ratio));
            }
            let _ = writeln!(
                out,
                "| {} | {rows} | {} | {} | {ratio:.2}x |",
                example.name(),
                si(median(&mut wasm)),
                si(median(&mut native)),
            );
        }
    }
    let _ = writeln!(out);
    for (name, ratio) in worst {
        let verdict = if ratio <= 1.3 { "meets" } else { "misses" };
        let _ = writeln!(
            out,
            "- {name} at 65,536 rows: {ratio:.2}x native, {verdict} the 1.3x target."
        );
    }
}

fn row_budget(options: &Options, out: &mut String) {
    let _ = writeln!(
        out,
        "The CPU budget is per row. Precise accounting restarts the budget at every row (two \
         host calls per row); the default fast accounting runs many rows on one budget and \
         falls back to precise only when a run exceeds it (see `host/src/sandbox.rs`). Both \
         give the same outcome; this is what each costs, on `fraud-features`, 65,536-row \
         batches (a fuel budget of 10,000 per row forces precise accounting).\n"
    );
    let rows = 65_536;
    let batch = Example::Fraud.batch(rows);
    let fast = Example::Fraud.transform();
    let precise = Runtime::new(Config::default().fuel_per_row(10_000))
        .expect("runtime")
        .load(Example::Fraud.component())
        .expect("load");
    let (mut f, mut p, mut n) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..options.runs {
        f.push(rows_per_second(rows, window(options), || {
            std::hint::black_box(fast.call(&batch).expect("call"));
        }));
        p.push(rows_per_second(rows, window(options), || {
            std::hint::black_box(precise.call(&batch).expect("call"));
        }));
        n.push(rows_per_second(rows, window(options), || {
            std::hint::black_box(Example::Fraud.native(&batch));
        }));
    }
    let (f, p, n) = (median(&mut f), median(&mut p), median(&mut n));
    let _ = writeln!(out, "| accounting | rows/s | ns per row | time / native |");
    let _ = writeln!(out, "|---|---:|---:|---:|");
    let _ = writeln!(
        out,
        "| fast (default) | {} | {:.1} | {:.2}x |",
        si(f),
        1e9 / f,
        n / f
    );
    let _ = writeln!(
        out,
        "| precise | {} | {:.1} | {:.2}x |",
        si(p),
        1e9 / p,
        n / p
    );
    let _ = writeln!(
        out,
        "| native (no budget) | {} | {:.1} | 1.00x |",
        si(n),
        1e9 / n
    );
    let _ = writeln!(
        out,
        "\nPrecise accounting costs {:.0} ns per row more than fast; fast costs {:.1} ns per row \
         more than native in all (budget, boundary copies and the wasm code itself).",
        1e9 / p - 1e9 / f,
        1e9 / f - 1e9 / n
    );
}

fn latency(options: &Options, out: &mut String) {
    let _ = writeln!(
        out,
        "Warm single-row calls through the public `Transform::call` API (a one-row Arrow \
         batch in and out), beside the same function natively on the same one-row batch.\n"
    );
    let calls = if options.quick { 20_000 } else { 200_000 };
    let _ = writeln!(
        out,
        "| example | wasm p50 | wasm p99 | wasm p99.9 | native p50 | native p99 | p99 wasm / native |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|");
    let mut fraud_p99 = 0.0;
    for example in Example::ALL {
        let transform = example.transform();
        let row = example.batch(1);
        let (mut w50, mut w99, mut w999, mut n50, mut n99, mut ratio) = (
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        for _ in 0..options.runs {
            let mut wasm = call_latencies(&transform, &row, calls);
            let mut native: Vec<Duration> = (0..calls)
                .map(|_| {
                    let start = Instant::now();
                    std::hint::black_box(example.native(std::hint::black_box(&row)));
                    start.elapsed()
                })
                .collect();
            let (a, b, c) = percentiles(&mut wasm);
            let (d, e, _) = percentiles(&mut native);
            w50.push(micros(a));
            w99.push(micros(b));
            w999.push(micros(c));
            n50.push(micros(d));
            n99.push(micros(e));
            ratio.push(micros(b) / micros(e));
        }
        let p99 = median(&mut w99);
        let p50 = median(&mut w50);
        if example == Example::Fraud {
            fraud_p99 = p99;
            let _ = EMBEDDED_FRAUD.set((p50, p99));
        }
        let _ = writeln!(
            out,
            "| {} | {p50:.2} µs | {p99:.2} µs | {:.2} µs | {:.2} µs | {:.2} µs | {:.2}x |",
            example.name(),
            median(&mut w999),
            median(&mut n50),
            median(&mut n99),
            median(&mut ratio),
        );
    }
    let verdict = if fraud_p99 < 2.0 { "meets" } else { "misses" };
    let _ = writeln!(
        out,
        "\nfraud-features p99: {fraud_p99:.2} µs, {verdict} the 2 µs target."
    );
}

fn load(options: &Options, out: &mut String) {
    let _ = writeln!(
        out,
        "Time from nothing to a loaded, described, instantiated transform: `Runtime::new` \
         then `Runtime::load`. Cold compiles the component with Cranelift; warm loads the \
         precompiled artifact from the cache (keyed by the component's sha256, the wasmtime \
         version and the engine configuration).\n"
    );
    let cache = std::env::temp_dir().join(format!("skewless-report-cache-{}", std::process::id()));
    let _ = writeln!(
        out,
        "| example | component size | cold (compile) | warm (cache) | cold / warm |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|");
    let mut worst_warm: f64 = 0.0;
    for example in Example::ALL {
        let component = example.component();
        let size = std::fs::metadata(component).map_or(0, |m| m.len());
        let cached = Config::default().cache_dir(Some(cache.clone()));
        let time = |config: &Config| {
            let started = Instant::now();
            let runtime = Runtime::new(config.clone()).expect("runtime");
            std::hint::black_box(runtime.load(component).expect("load"));
            started.elapsed().as_secs_f64() * 1e3
        };
        time(&cached); // fill the cache
        let (mut cold, mut warm, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..options.runs {
            let c = time(&Config::default());
            let w = time(&cached);
            cold.push(c);
            warm.push(w);
            ratio.push(c / w);
        }
        let warm = median(&mut warm);
        worst_warm = worst_warm.max(warm);
        let _ = writeln!(
            out,
            "| {} | {} KiB | {:.1} ms | {warm:.2} ms | {:.0}x |",
            example.name(),
            size / 1024,
            median(&mut cold),
            median(&mut ratio)
        );
    }
    let _ = std::fs::remove_dir_all(&cache);
    let verdict = if worst_warm < 10.0 { "meets" } else { "misses" };
    let _ = writeln!(
        out,
        "\nSlowest warm start: {worst_warm:.2} ms, {verdict} the 10 ms target."
    );
}

fn serving(options: &Options, out: &mut String) {
    let _ = writeln!(
        out,
        "`skewless serve` (in process, 2 tokio workers) on loopback, driven by a closed-loop \
         load generator from the same machine (`skewless_benches::http_load`: keep-alive \
         HTTP/1.1 connections, each sending one single-row `fraud-features` request and \
         waiting for the answer). The baseline is `GET /healthz`-sized work through the same \
         HTTP stack: a request to an unknown transform (404), which parses and routes but \
         runs nothing. Client and server share the 2 cores.\n"
    );
    let (addr, stop, thread) = start_server(vec![Example::Fraud.transform()], 2);
    let body = Example::Fraud.request_body();
    let duration = if options.quick {
        Duration::from_millis(500)
    } else {
        Duration::from_secs(2)
    };
    let _ = writeln!(
        out,
        "| connections | requests/s | p50 | p99 | p99.9 | baseline requests/s | baseline p99 | requests/s vs baseline |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut best: Option<(usize, f64, f64)> = None;
    let mut best_under_1ms: Option<(usize, f64, f64)> = None;
    for connections in [1, 2, 4, 8, 16] {
        let (mut rps, mut p50, mut p99, mut p999, mut brps, mut bp99, mut ratio) = (
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        for _ in 0..options.runs.min(3) {
            let mut run = http_load(
                addr,
                "/v1/transforms/fraud-features",
                &body,
                connections,
                duration,
            );
            assert_eq!(run.failed, 0, "failed requests");
            let throughput = run.throughput();
            let (a, b, c) = percentiles(&mut run.latencies);
            let mut base = http_load(addr, "/v1/transforms/none", &body, connections, duration);
            let base_throughput = (base.ok + base.failed) as f64 / base.elapsed.as_secs_f64();
            let (_, e, _) = percentiles(&mut base.latencies);
            rps.push(throughput);
            p50.push(micros(a));
            p99.push(micros(b));
            p999.push(micros(c));
            brps.push(base_throughput);
            bp99.push(micros(e));
            ratio.push(throughput / base_throughput);
        }
        let (r, q99) = (median(&mut rps), median(&mut p99));
        if best.is_none_or(|(_, b, _)| r > b) {
            best = Some((connections, r, q99));
        }
        if q99 < 1_000.0 && best_under_1ms.is_none_or(|(_, b, _)| r > b) {
            best_under_1ms = Some((connections, r, q99));
        }
        let _ = writeln!(
            out,
            "| {connections} | {} | {:.0} µs | {q99:.0} µs | {:.0} µs | {} | {:.0} µs | {:.2}x |",
            si(r),
            median(&mut p50),
            median(&mut p999),
            si(median(&mut brps)),
            median(&mut bp99),
            median(&mut ratio)
        );
    }
    let _ = stop.send(());
    thread.join().expect("server");
    if let Some((c, r, p)) = best {
        let verdict = if p < 1_000.0 { "meets" } else { "misses" };
        let _ = writeln!(
            out,
            "\nHighest throughput: {} requests/s with {c} connections, p99 {p:.0} µs: {verdict} \
             the 1 ms p99 target at the highest throughput.",
            si(r)
        );
    }
    if let Some((c, r, p)) = best_under_1ms {
        let _ = writeln!(
            out,
            "Highest throughput with p99 under 1 ms: {} requests/s ({c} connections, p99 {p:.0} µs).",
            si(r)
        );
    }
}

/// `component` on a runtime that reuses instances between calls.
fn reusing(component: &Path) -> Transform {
    Runtime::new(Config::default().reuse_instances(true))
        .expect("runtime")
        .load(component)
        .expect("load")
}

/// `component` on a runtime that makes a new instance for every call
/// instead of putting one back in place (`Config::fresh_instances`).
fn fresh(component: &Path) -> Transform {
    Runtime::new(Config::default().fresh_instances(true))
        .expect("runtime")
        .load(component)
        .expect("load")
}

/// `(p50, p99)` in microseconds of `calls` warm single-row calls.
fn single_row(transform: &Transform, row: &RecordBatch, calls: usize) -> (f64, f64) {
    let mut samples = call_latencies(transform, row, calls);
    let (p50, p99, _) = percentiles(&mut samples);
    (micros(p50), micros(p99))
}

/// `(requests/s, p50 µs, p99 µs)` of single-row `fraud-features` requests.
fn http_single_row(addr: SocketAddr, connections: usize, duration: Duration) -> (f64, f64, f64) {
    http_figures(
        addr,
        "/v1/transforms/fraud-features",
        &Example::Fraud.request_body(),
        connections,
        duration,
    )
}

/// `(requests/s, p50 µs, p99 µs)` of a closed-loop run of `body` to `path`
/// (a `GET` when `body` is empty).
fn http_figures(
    addr: SocketAddr,
    path: &str,
    body: &str,
    connections: usize,
    duration: Duration,
) -> (f64, f64, f64) {
    let mut run = http_load(addr, path, body, connections, duration);
    assert_eq!(run.failed, 0, "failed requests");
    let throughput = run.throughput();
    let (p50, p99, _) = percentiles(&mut run.latencies);
    (throughput, micros(p50), micros(p99))
}

fn isolation(options: &Options, out: &mut String) {
    let _ = writeln!(
        out,
        "By default every call starts from the component's initial state (a clean \
         instance), so no call can see what an earlier one left: on the instance an \
         earlier call used, put back in place when that call ended (the pages it wrote \
         copied back from the component's copy-on-write image, memories and tables at \
         their initial sizes, globals, tables and the component's flags as instantiation \
         left them: the sixth change of `vendor/README.md`). `Config::fresh_instances(true)` \
         (`--fresh-instances`) makes a new instance for every call instead (wasmtime's \
         pooling allocator maps the image afresh and resets the slot when the instance \
         ends), and `Config::reuse_instances(true)` (`--reuse-instances`) keeps a warm \
         instance per slot and resets only the budgets. All three measured here, \
         alternating in the same run.\n"
    );
    let calls = if options.quick { 20_000 } else { 100_000 };
    let _ = writeln!(
        out,
        "**Embedded single-row calls** (`Transform::call`, a one-row batch):\n"
    );
    let _ = writeln!(
        out,
        "| example | clean p50 | clean p99 | new instance p50 | new instance p99 | reuse p50 | \
         reuse p99 | clean slate at p50 | new instance's slate at p50 |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut fraud_cost = f64::NAN;
    for example in Example::ALL {
        let clean = example.transform();
        if let Err(why) = clean.resets_in_place() {
            panic!("{} is not put back in place: {why}", example.name());
        }
        let new = fresh(Path::new(example.component()));
        let reuse = reusing(Path::new(example.component()));
        let row = example.batch(1);
        let [
            mut c50,
            mut c99,
            mut n50,
            mut n99,
            mut r50,
            mut r99,
            mut cost,
            mut new_cost,
        ] = std::array::from_fn(|_| Vec::new());
        for _ in 0..options.runs {
            let (a, b) = single_row(&clean, &row, calls);
            let (e, f) = single_row(&new, &row, calls);
            let (c, d) = single_row(&reuse, &row, calls);
            c50.push(a);
            c99.push(b);
            n50.push(e);
            n99.push(f);
            r50.push(c);
            r99.push(d);
            cost.push(a - c);
            new_cost.push(e - c);
        }
        let cost = median(&mut cost);
        if example == Example::Fraud {
            fraud_cost = cost;
        }
        let _ = writeln!(
            out,
            "| {} | {:.2} µs | {:.2} µs | {:.2} µs | {:.2} µs | {:.2} µs | {:.2} µs | {cost:.2} µs | \
             {:.2} µs |",
            example.name(),
            median(&mut c50),
            median(&mut c99),
            median(&mut n50),
            median(&mut n99),
            median(&mut r50),
            median(&mut r99),
            median(&mut new_cost),
        );
    }

    // The floor under any clean slate that resets only written pages.
    let scan = skewless_benches::page_scan::written_page_scan(calls).map(|mut times| {
        let (p50, _, _) = percentiles(&mut times);
        micros(p50)
    });
    let _ = match &scan {
        Ok(scan) => writeln!(
            out,
            "\nThe kernel's scan for the pages a call wrote (`PAGEMAP_SCAN`, the ioctl \
             wasmtime's pool makes when an instance ends), timed alone on a mapping shaped \
             like `fraud-features`' slot (`benches/src/page_scan.rs`): {scan:.2} µs at the \
             median of {} scans. The reset in place makes the same call, so this is the \
             floor of a clean slate for as long as written pages are found this way.",
            si(calls as f64)
        ),
        Err(why) => writeln!(
            out,
            "\nThe kernel's scan for written pages was not timed alone: {why}."
        ),
    };

    let _ = writeln!(out, "\n**65,536-row batches:**\n");
    let _ = writeln!(
        out,
        "| example | clean rows/s | reuse rows/s | clean time / reuse time |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|");
    for example in Example::ALL {
        let clean = example.transform();
        let reuse = reusing(Path::new(example.component()));
        let rows = 65_536;
        let batch = example.batch(rows);
        let (mut c, mut r, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..options.runs {
            let a = rows_per_second(rows, window(options), || {
                std::hint::black_box(clean.call(&batch).expect("call"));
            });
            let b = rows_per_second(rows, window(options), || {
                std::hint::black_box(reuse.call(&batch).expect("call"));
            });
            c.push(a);
            r.push(b);
            ratio.push(b / a);
        }
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.3}x |",
            example.name(),
            si(median(&mut c)),
            si(median(&mut r)),
            median(&mut ratio)
        );
    }

    let _ = writeln!(
        out,
        "\n**HTTP single-row requests** (`skewless serve` in process, 2 tokio workers, \
         the load generator of the serving section, in this process; the same server's \
         `/healthz` is the HTTP floor, measured alternately with the others; \
         `benches/http/compare.sh` measures from another process with wrk):\n"
    );
    let _ = writeln!(
        out,
        "| connections | `/healthz` requests/s | `/healthz` p50 | clean requests/s | clean p50 | \
         clean p99 | reuse requests/s | reuse p50 | reuse p99 | clean p50 / `/healthz` p50 | \
         clean requests/s / `/healthz` |"
    );
    let _ = writeln!(
        out,
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    let (clean_addr, clean_stop, clean_thread) = start_server(vec![Example::Fraud.transform()], 2);
    let (reuse_addr, reuse_stop, reuse_thread) =
        start_server(vec![reusing(Path::new(Example::Fraud.component()))], 2);
    let duration = if options.quick {
        Duration::from_millis(500)
    } else {
        Duration::from_secs(2)
    };
    let mut http_ratios = Vec::new();
    for connections in [1, 16] {
        let mut figures: [Vec<f64>; 8] = Default::default();
        let (mut latency_ratio, mut throughput_ratio) = (Vec::new(), Vec::new());
        for _ in 0..options.runs.min(3) {
            let (h, i, _) = http_figures(clean_addr, "/healthz", "", connections, duration);
            let (a, b, c) = http_single_row(clean_addr, connections, duration);
            let (d, e, f) = http_single_row(reuse_addr, connections, duration);
            for (list, value) in figures.iter_mut().zip([h, i, a, b, c, d, e, f]) {
                list.push(value);
            }
            latency_ratio.push(b / i);
            throughput_ratio.push(a / h);
        }
        let [h, i, a, b, c, d, e, f] = figures.map(|mut list| median(&mut list));
        let (latency_ratio, throughput_ratio) =
            (median(&mut latency_ratio), median(&mut throughput_ratio));
        http_ratios.push((connections, latency_ratio, throughput_ratio));
        let _ = writeln!(
            out,
            "| {connections} | {} | {i:.0} µs | {} | {b:.0} µs | {c:.0} µs | {} | {e:.0} µs | \
             {f:.0} µs | {latency_ratio:.2}x | {throughput_ratio:.2}x |",
            si(h),
            si(a),
            si(d)
        );
    }
    let _ = clean_stop.send(());
    let _ = reuse_stop.send(());
    clean_thread.join().expect("server");
    reuse_thread.join().expect("server");

    let verdict = if fraud_cost <= 1.5 {
        "meets the 1.5 µs aim"
    } else if fraud_cost <= 10.0 {
        "misses the 1.5 µs aim, within the 10 µs that keeps it the default"
    } else {
        "more than the 10 µs bound; where the time goes, and why it stays the default: see the end of this report"
    };
    let _ = writeln!(
        out,
        "\nA clean slate costs `fraud-features` {fraud_cost:.2} µs per call at the median: \
         {verdict}."
    );
    if let Ok(scan) = scan {
        let _ = writeln!(
            out,
            "The kernel's scan for written pages alone took {scan:.2} µs in this run \
             ({:.0}% of that clean slate).",
            100.0 * scan / fraud_cost
        );
    }
    for (connections, latency, throughput) in http_ratios {
        let _ = match connections {
            1 => writeln!(
                out,
                "At 1 connection, a clean one-row request's p50 is {latency:.2}x the same \
                 server's `/healthz` p50 (aim: at most 1.3x)."
            ),
            _ => writeln!(
                out,
                "At {connections} connections, clean one-row requests run at {throughput:.2}x \
                 the same server's `/healthz` requests/s (aim: at least 0.5x)."
            ),
        };
    }
}

/// The Feast comparison's results (`--feast`), if they can be read.
fn feast_results(options: &Options) -> Result<serde_json::Value, String> {
    let Some(path) = &options.feast else {
        return Err(
            "Not run in this report: `bash benches/report.sh` runs it (it installs Feast from PyPI)."
                .into(),
        );
    };
    match std::fs::read_to_string(path).map(|t| serde_json::from_str(&t)) {
        Ok(Ok(results)) => Ok(results),
        Ok(Err(e)) => Err(format!(
            "The Feast comparison did not run: {} is not valid JSON: {e}.",
            path.display()
        )),
        Err(e) => Err(format!(
            "The Feast comparison did not run: cannot read {}: {e}.",
            path.display()
        )),
    }
}

/// Rows/s of the Python example's function run by native CPython over
/// `rows` rows (`benches/python/native_loop.py`), with the interpreter of
/// `--python-package`; `None` without one.
fn native_cpython(options: &Options, rows: usize) -> Option<f64> {
    let python = options.python_package.as_ref()?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/native_loop.py");
    let output = Command::new(python)
        .arg(script)
        .args(["--rows", &rows.to_string(), "--runs", "3"])
        .output()
        .ok()?;
    if !output.status.success() {
        eprintln!(
            "native_loop.py: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        return None;
    }
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
    answer["rows_per_second"].as_f64()
}

fn python(options: &Options, out: &mut String) {
    let Some(component) = &options.python else {
        let _ = writeln!(
            out,
            "Not run in this report: `bash benches/report.sh` builds `examples/fraud-features-py` \
             with componentize-py and passes it with `--python`."
        );
        return;
    };
    let _ = writeln!(
        out,
        "`examples/fraud-features-py` is `fraud-features` written in Python (the same \
         features, bit for bit: `host/tests/integration/python.rs` checks it), compiled by \
         `skewless build` with componentize-py into a component that carries CPython. It \
         runs on the same host, with the same sandbox, beside the Rust component and the \
         native function.\n"
    );

    // Size, and load from nothing (compile) and from the cache.
    let cache = std::env::temp_dir().join(format!("skewless-report-py-{}", std::process::id()));
    let cached = Config::default().cache_dir(Some(cache.clone()));
    let time = |config: &Config| {
        let started = Instant::now();
        let runtime = Runtime::new(config.clone()).expect("runtime");
        std::hint::black_box(runtime.load(component).expect("load"));
        started.elapsed().as_secs_f64() * 1e3
    };
    time(&cached);
    let (mut cold, mut warm) = (Vec::new(), Vec::new());
    for _ in 0..options.runs.min(3) {
        cold.push(time(&Config::default()));
        warm.push(time(&cached));
    }
    let _ = std::fs::remove_dir_all(&cache);
    let size = std::fs::metadata(component).map_or(0, |m| m.len());
    let rust_size = std::fs::metadata(Example::Fraud.component()).map_or(0, |m| m.len());
    let _ = writeln!(
        out,
        "| component | size | cold (compile) | warm (cache) |\n|---|---:|---:|---:|"
    );
    let _ = writeln!(
        out,
        "| fraud-features-py | {:.1} MiB | {:.0} ms | {:.1} ms |",
        size as f64 / (1 << 20) as f64,
        median(&mut cold),
        median(&mut warm)
    );
    let _ = writeln!(
        out,
        "| fraud-features (Rust) | {} KiB | see the load section | |",
        rust_size / 1024
    );

    let py = Runtime::new(Config::default())
        .expect("runtime")
        .load(component)
        .expect("load");
    let py_reuse = reusing(component);
    let py_fresh = fresh(component);
    let rust = Example::Fraud.transform();

    // Batches.
    let rows = 65_536;
    let batch = Example::Fraud.batch(rows);
    let (mut p, mut r, mut n, mut cpython) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..options.runs.min(3) {
        if let Some(rate) = native_cpython(options, rows) {
            cpython.push(rate);
        }
        p.push(rows_per_second(rows, window(options), || {
            std::hint::black_box(py.call(&batch).expect("call"));
        }));
        r.push(rows_per_second(rows, window(options), || {
            std::hint::black_box(rust.call(&batch).expect("call"));
        }));
        n.push(rows_per_second(rows, window(options), || {
            std::hint::black_box(Example::Fraud.native(&batch));
        }));
    }
    let (p, r, n) = (median(&mut p), median(&mut r), median(&mut n));
    // Native CPython is measured only with the Python package's
    // interpreter (`--python-package`); without it, its cells say so.
    let c = (!cpython.is_empty()).then(|| median(&mut cpython));
    let _ = writeln!(
        out,
        "\n**65,536-row batches** (native CPython: the same user function in a plain loop \
         building the four output lists, `benches/python/native_loop.py`, alternated with \
         the others):\n\n| engine | rows/s | ns per row | time / native Rust | time / native \
         CPython |\n|---|---:|---:|---:|---:|"
    );
    let not_measured = "not measured (needs `--python-package`)";
    for (name, rate) in [
        ("Python component", Some(p)),
        ("native CPython loop", c),
        ("Rust component", Some(r)),
        ("native Rust", Some(n)),
    ] {
        let Some(rate) = rate else {
            let _ = writeln!(out, "| {name} | {not_measured} | | | |");
            continue;
        };
        let cpython = c.map_or_else(|| not_measured.to_string(), |c| format!("{:.2}x", c / rate));
        let _ = writeln!(
            out,
            "| {name} | {} | {:.0} | {:.1}x | {cpython} |",
            si(rate),
            1e9 / rate,
            n / rate,
        );
    }

    // Single rows, embedded and over HTTP.
    let row = Example::Fraud.batch(1);
    let (clean_calls, reuse_calls) = if options.quick {
        (300, 3_000)
    } else {
        (2_000, 20_000)
    };
    let [mut c50, mut c99, mut n50, mut n99, mut r50, mut r99] =
        std::array::from_fn(|_| Vec::new());
    for _ in 0..options.runs.min(3) {
        let (a, b) = single_row(&py, &row, clean_calls);
        let (e, f) = single_row(&py_fresh, &row, clean_calls);
        let (c, d) = single_row(&py_reuse, &row, reuse_calls);
        c50.push(a);
        c99.push(b);
        n50.push(e);
        n99.push(f);
        r50.push(c);
        r99.push(d);
    }
    let (addr, stop, thread) = start_server(vec![py.clone()], 2);
    let duration = if options.quick {
        Duration::from_millis(500)
    } else {
        Duration::from_secs(2)
    };
    let mut http: [Vec<f64>; 6] = Default::default();
    for _ in 0..options.runs.min(3) {
        let (a, b, c) = http_single_row(addr, 1, duration);
        let (d, e, f) = http_single_row(addr, 16, duration);
        for (list, value) in http.iter_mut().zip([a, b, c, d, e, f]) {
            list.push(value);
        }
    }
    let _ = stop.send(());
    thread.join().expect("server");
    let [h1, h1_50, h1_99, h16, h16_50, h16_99] = http.map(|mut list| median(&mut list));
    let _ = writeln!(
        out,
        "\n**Single rows:**\n\n| path | p50 | p99 | requests/s |\n|---|---:|---:|---:|"
    );
    let _ = writeln!(
        out,
        "| embedded, clean instance (default: put back in place) | {:.0} µs | {:.0} µs | |",
        median(&mut c50),
        median(&mut c99)
    );
    let _ = writeln!(
        out,
        "| embedded, a new instance per call (`--fresh-instances`) | {:.0} µs | {:.0} µs | |",
        median(&mut n50),
        median(&mut n99)
    );
    let _ = writeln!(
        out,
        "| embedded, `--reuse-instances` | {:.1} µs | {:.1} µs | |",
        median(&mut r50),
        median(&mut r99)
    );
    let _ = writeln!(
        out,
        "| HTTP, 1 connection (clean) | {h1_50:.0} µs | {h1_99:.0} µs | {} |",
        si(h1)
    );
    let _ = writeln!(
        out,
        "| HTTP, 16 connections (clean) | {h16_50:.0} µs | {h16_99:.0} µs | {} |",
        si(h16)
    );
    match feast_results(options) {
        Ok(results) => {
            let latency = &results["latency"]["feast_python"];
            let _ = writeln!(
                out,
                "| Feast ODFV, python mode (the Feast section) | {:.0} µs | {:.0} µs | |",
                latency["p50_us"].as_f64().unwrap_or(f64::NAN),
                latency["p99_us"].as_f64().unwrap_or(f64::NAN)
            );
        }
        Err(why) => {
            let _ = writeln!(out, "\nFeast: {why}");
        }
    }
    let _ = writeln!(
        out,
        "\nA clean instance per call means a fresh CPython interpreter state per call, \
         restored from the component's memory image: that is most of the clean single-row \
         time. The instance is put back in place after each call (a new one, with \
         `--fresh-instances`, also fills CPython's shared function table with thousands of \
         funcrefs), and a CPython call writes pages scattered over its heap (reference \
         counts), each of which the reset finds and copies back from the image; \
         componentize-py's first-call setup then runs again in the next call. A service \
         that trusts its transform and wants the Python row speed can serve it with \
         `--reuse-instances`."
    );
}

/// `report --child-backfill COMPONENT INPUT OUTPUT THREADS CACHE`: one
/// backfill in a fresh process, so its peak memory can be measured alone. It
/// loads the component from the (warm) cache, as `skewless run` does, so
/// the peak is the backfill's, not the compiler's. Prints `peak_kb N`.
fn child_backfill(args: &[String]) {
    let config = Config::default().cache_dir(Some(PathBuf::from(&args[4])));
    let runtime = Runtime::new(config).expect("runtime");
    let transform = runtime.load(&args[0]).expect("load");
    let threads: usize = args[3].parse().expect("threads");
    Backfill::new(&transform, &args[1], &args[2])
        .threads(threads)
        .run()
        .expect("backfill");
    // This process's own peak resident memory: VmHWM starts afresh at exec,
    // unlike a child's rusage, which counts its parent's memory from before
    // the exec.
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let peak_kb = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse::<u64>().ok())
        .expect("VmHWM");
    println!("peak_kb {peak_kb}");
}

/// Wall time and peak resident memory of a child backfill.
fn measured_backfill(input: &Path, threads: usize, cache: &Path) -> (f64, u64) {
    let output =
        std::env::temp_dir().join(format!("skewless-report-{}.parquet", std::process::id()));
    let started = Instant::now();
    let child = Command::new(std::env::current_exe().expect("exe"))
        .arg("--child-backfill")
        .arg(Example::Fraud.component())
        .arg(input)
        .arg(&output)
        .arg(threads.to_string())
        .arg(cache)
        .output()
        .expect("run the backfill");
    let seconds = started.elapsed().as_secs_f64();
    assert!(child.status.success(), "the child backfill failed");
    let peak_kb: u64 = String::from_utf8_lossy(&child.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("peak_kb "))
        .and_then(|v| v.parse().ok())
        .expect("the child reports its peak memory");
    let _ = std::fs::remove_file(output);
    (seconds, peak_kb * 1024)
}

fn backfill(options: &Options, out: &mut String) {
    let big = if options.quick { 2_000_000 } else { 10_000_000 };
    let small = big / 10;
    let _ = writeln!(
        out,
        "`fraud-features` over a generated Parquet file of card transactions (four columns, \
         three of them read), written to Parquet. Each of the `--threads` threads reads, \
         transforms and encodes its own run of rows, and the calling thread appends the \
         encoded bytes, so 1 thread means one core of work. Each backfill runs \
         in a fresh process; peak memory is that process's maximum resident set size \
         (VmHWM), with the component loaded from a warm cache as `skewless run` does.\n"
    );
    let inputs = [(small, fraud_parquet(small)), (big, fraud_parquet(big))];
    let cache = std::env::temp_dir().join(format!(
        "skewless-report-backfill-cache-{}",
        std::process::id()
    ));
    Runtime::new(Config::default().cache_dir(Some(cache.clone())))
        .expect("runtime")
        .load(Example::Fraud.component())
        .expect("warm the cache");
    let _ = writeln!(out, "| rows | threads | wall time | rows/s | peak memory |");
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|");
    let mut results = std::collections::BTreeMap::new();
    for (rows, input) in &inputs {
        for threads in [1, 2] {
            let (mut times, mut peaks) = (Vec::new(), Vec::new());
            for _ in 0..options.runs.min(3) {
                let (seconds, peak) = measured_backfill(input, threads, &cache);
                times.push(seconds);
                peaks.push(peak as f64);
            }
            let (seconds, peak) = (median(&mut times), median(&mut peaks));
            results.insert((*rows, threads), (seconds, peak));
            let _ = writeln!(
                out,
                "| {} | {threads} | {seconds:.2} s | {} | {:.0} MiB |",
                si(*rows as f64),
                si(*rows as f64 / seconds),
                peak / 1048576.0
            );
        }
    }
    let _ = std::fs::remove_dir_all(&cache);
    let (one, _) = results[&(big, 1)];
    let (two, peak_two) = results[&(big, 2)];
    let (_, peak_small) = results[&(small, 2)];
    let speedup = one / two;
    let _ = writeln!(
        out,
        "\n- 2 threads vs 1 on {} rows: {speedup:.2}x ({} the 1.7x target).",
        si(big as f64),
        if speedup >= 1.7 { "meets" } else { "misses" }
    );
    let _ = writeln!(
        out,
        "- Peak memory, {} rows vs {} rows: {:.0} MiB vs {:.0} MiB ({:.2}x for 10x the rows); \
         {} the 300 MB target for 10M rows.",
        si(big as f64),
        si(small as f64),
        peak_two / 1048576.0,
        peak_small / 1048576.0,
        peak_two / peak_small,
        if peak_two < 300e6 { "meets" } else { "misses" }
    );
}

fn feast(options: &Options, out: &mut String) {
    let results = match feast_results(options) {
        Ok(results) => results,
        Err(why) => {
            let _ = writeln!(out, "{why}");
            return;
        }
    };
    let _ = writeln!(
        out,
        "`fraud-features` written as Feast {} on-demand feature views on a request source \
         ([`benches/feast/compare.py`](benches/feast/compare.py): python mode and pandas mode, \
         local provider, SQLite online store), beside skewless, measured in this run of the \
         report on this machine. Feast: `FeatureStore.get_online_features(...).to_dict()` for \
         one request row, in process (Python {}, pandas {}). skewless serve: one single-row \
         HTTP request from the same Python process over a keep-alive connection. skewless \
         embedded: `Transform::call` on a one-row batch, in process (the latency section \
         above).\n",
        results["feast_version"].as_str().unwrap_or("?"),
        results["python_version"].as_str().unwrap_or("?"),
        results["pandas_version"].as_str().unwrap_or("?"),
    );
    let (embedded_p50, embedded_p99) = EMBEDDED_FRAUD
        .get()
        .copied()
        .unwrap_or((f64::NAN, f64::NAN));
    let _ = writeln!(out, "| path | p50 | p99 | p50 / embedded p50 |");
    let _ = writeln!(out, "|---|---:|---:|---:|");
    let latency = &results["latency"];
    for (key, name) in [
        ("feast_python", "Feast ODFV, python mode"),
        ("feast_pandas", "Feast ODFV, pandas mode"),
        ("skewless_serve_http", "skewless serve (HTTP, from Python)"),
    ] {
        let p50 = latency[key]["p50_us"].as_f64().unwrap_or(f64::NAN);
        let p99 = latency[key]["p99_us"].as_f64().unwrap_or(f64::NAN);
        let _ = writeln!(
            out,
            "| {name} | {p50:.1} µs | {p99:.1} µs | {:.0}x |",
            p50 / embedded_p50
        );
    }
    let _ = writeln!(
        out,
        "| skewless embedded (`Transform::call`) | {embedded_p50:.2} µs | {embedded_p99:.2} µs | 1x |"
    );
    for (key, what) in [
        ("sample", "bundled sample transactions"),
        (
            "synthetic",
            "synthetic transactions (amounts log-uniform from 1 to 8,100)",
        ),
    ] {
        let set = &results[key];
        let _ = writeln!(
            out,
            "\n**Values on {} {what}**, Feast against `skewless run` (the component), bit for bit:\n",
            set["rows"]
        );
        let _ = writeln!(
            out,
            "| Feast mode | feature | rows differing | most units in the last place |"
        );
        let _ = writeln!(out, "|---|---|---:|---:|");
        let mut examples = Vec::new();
        if let Some(modes) = set["features"].as_object() {
            for (mode, features) in modes {
                if let Some(features) = features.as_object() {
                    for (feature, c) in features {
                        let _ = writeln!(
                            out,
                            "| {mode} | {feature} | {} | {} |",
                            c["differing"], c["max_ulps"]
                        );
                        if let Some(list) = c["examples"].as_array() {
                            examples.extend(
                                list.iter()
                                    .map(|e| (mode.clone(), feature.clone(), e.clone())),
                            );
                        }
                    }
                }
            }
        }
        if !examples.is_empty() {
            let _ = writeln!(out, "\nExamples:\n");
            for (mode, feature, e) in examples.iter().take(6) {
                let _ = writeln!(
                    out,
                    "- {mode} mode, `{feature}`, row {}, amount {}: Feast `{}`, skewless `{}` ({} ulp)",
                    e["row"], e["amount"], e["feast"], e["skewless"], e["ulps"]
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "\nPython's `math.log` and numpy's `log` come from the host's math libraries; the \
         component carries its own `ln`, compiled into the WebAssembly. Where two engines \
         disagree in the last bit, a model trained on one engine's offline values and served \
         the other's online values sees exactly this skew. skewless computes both sides with \
         the one component, so its training and serving values cannot differ (`skewless \
         verify` checks every bit)."
    );
}

/// `benches/python/bench_package.py` with `args`, its JSON output.
fn bench_package(python: &Path, args: &[&str]) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/bench_package.py");
    let output = Command::new(python)
        .arg(&script)
        .args(args)
        .output()
        .expect("run benches/python/bench_package.py");
    assert!(
        output.status.success(),
        "bench_package.py {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null)
}

fn floats(value: &serde_json::Value) -> Vec<f64> {
    value
        .as_array()
        .map(|values| {
            values
                .iter()
                .filter_map(serde_json::Value::as_f64)
                .collect()
        })
        .unwrap_or_default()
}

fn python_package(options: &Options, out: &mut String) {
    let Some(python) = &options.python_package else {
        let _ = writeln!(
            out,
            "Not run in this report: `bash benches/report.sh` builds the package (release) into \
             the tests' venv and passes its python with `--python-package`."
        );
        return;
    };
    let rows = if options.quick { 200_000 } else { 1_000_000 };
    let dir = std::env::temp_dir().join(format!("skewless-report-package-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let input = dir.join("transactions.parquet");
    let input_arg = input.to_str().expect("a UTF-8 path");
    let rows_arg = rows.to_string();
    bench_package(python, &["--write-input", input_arg, "--rows", &rows_arg]);
    let component = Example::Fraud.component();
    // The Rust side: the same file, the same 8,192-row slices, one call each.
    let file = std::fs::File::open(&input).expect("the input");
    let batches: Vec<RecordBatch> =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("a Parquet file")
            .with_projection(parquet::arrow::ProjectionMask::all())
            .with_batch_size(skewless::backfill::DEFAULT_BATCH_SIZE)
            .build()
            .expect("a reader")
            .map(|batch| batch.expect("a batch"))
            .collect();
    let runtime = Runtime::new(Config::default()).expect("a runtime");
    let transform = runtime.load(component).expect("fraud-features");
    transform.call(&batches[0]).expect("warm");
    let repeat = "3";
    let (mut rust, mut py) = (Vec::new(), Vec::new());
    for _ in 0..options.runs {
        // As the Python side: the median of 3 passes, in a warm process.
        let mut passes: Vec<f64> = (0..3)
            .map(|_| {
                let started = Instant::now();
                for batch in &batches {
                    transform.call(batch).expect("features");
                }
                started.elapsed().as_secs_f64()
            })
            .collect();
        rust.push(median(&mut passes));
        let measured = bench_package(
            python,
            &[
                "--component",
                component,
                "--input",
                input_arg,
                "--mode",
                "transform",
                "--repeat",
                repeat,
            ],
        );
        py.push(median(&mut floats(&measured["seconds"])));
    }
    let (mut one, mut four) = (Vec::new(), Vec::new());
    for _ in 0..options.runs {
        let measured = bench_package(
            python,
            &[
                "--component",
                component,
                "--input",
                input_arg,
                "--mode",
                "threads",
                "--repeat",
                repeat,
            ],
        );
        one.push(median(&mut floats(&measured["one"])));
        four.push(median(&mut floats(&measured["four"])));
    }
    // The same four passes from Rust threads: what this machine's cores give.
    let (mut rust_one, mut rust_four) = (Vec::new(), Vec::new());
    let pass = || {
        for batch in &batches {
            transform.call(batch).expect("features");
        }
    };
    for _ in 0..options.runs {
        let started = Instant::now();
        (0..4).for_each(|_| pass());
        rust_one.push(started.elapsed().as_secs_f64());
        let started = Instant::now();
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(pass);
            }
        });
        rust_four.push(started.elapsed().as_secs_f64());
    }
    let (rust, py) = (median(&mut rust), median(&mut py));
    let (one, four) = (median(&mut one), median(&mut four));
    let (rust_one, rust_four) = (median(&mut rust_one), median(&mut rust_four));
    let _ = writeln!(
        out,
        "`fraud-features` on a generated table of {} card transactions, read into memory from \
         Parquet (row groups of 131,072 rows). Python: `t.transform(table)` on the pyarrow \
         table ([`benches/python/bench_package.py`](benches/python/bench_package.py); the \
         package built in release), which slices it into the backfill's 8,192-row batches \
         without copying, calls the library on each with the GIL released, and returns a \
         pyarrow Table. Rust: `Transform::call` on the same file read as 8,192-row batches, \
         in this process. Each side's figure is the median of 3 passes in a warm process, \
         and the two alternate, run by run.\n",
        si(rows as f64)
    );
    let _ = writeln!(out, "| path | time | rows/s | / Rust |");
    let _ = writeln!(out, "|---|---:|---:|---:|");
    let _ = writeln!(
        out,
        "| Rust `Transform::call`, 8,192-row batches | {:.1} ms | {} | 1.00x |",
        rust * 1e3,
        si(rows as f64 / rust)
    );
    let _ = writeln!(
        out,
        "| Python `t.transform(table)` | {:.1} ms | {} | {:.2}x |",
        py * 1e3,
        si(rows as f64 / py),
        py / rust
    );
    let verdict = if py / rust <= 1.1 {
        "within"
    } else {
        "outside"
    };
    let _ = writeln!(
        out,
        "\nThe package's call is {verdict} the 1.1x aim ({:.2}x).\n",
        py / rust
    );
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let _ = writeln!(
        out,
        "Threads: four transforms of the table by one Python thread, then by four threads \
         sharing one `Transform` (a `ThreadPoolExecutor`), each the median of 3 passes in \
         a process, {} runs; beside them, the same from Rust threads in this process. This machine has {cpus} \
         CPUs, so {cpus}x is the most threads can give.\n",
        options.runs
    );
    let _ = writeln!(
        out,
        "| threads | Python: time for 4 tables | speedup | Rust threads: time | speedup |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|");
    let _ = writeln!(
        out,
        "| 1 | {:.1} ms | 1.00x | {:.1} ms | 1.00x |",
        one * 1e3,
        rust_one * 1e3
    );
    let _ = writeln!(
        out,
        "| 4 | {:.1} ms | {:.2}x | {:.1} ms | {:.2}x |",
        four * 1e3,
        one / four,
        rust_four * 1e3,
        rust_one / rust_four
    );
    let _ = std::fs::remove_dir_all(&dir);
    let verdict = if one / four >= 1.7 { "meets" } else { "misses" };
    let _ = writeln!(
        out,
        "\nFour Python threads {verdict} the 1.7x aim ({:.2}x); four Rust threads calling \
         `Transform::call` on the same batches, in the same run, get {:.2}x: most of the gap to \
         2x is what this machine's two CPUs give. Each call releases the GIL from its \
         first batch to its last; it holds it to import the input and to build the output \
         Table.",
        one / four,
        rust_one / rust_four
    );
}

fn spark(options: &Options, out: &mut String) {
    let Some(path) = &options.spark else {
        let _ = writeln!(
            out,
            "Not run in this report: `bash benches/report.sh` runs it (PySpark in local mode)."
        );
        return;
    };
    let results: serde_json::Value = match std::fs::read_to_string(path)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))
    {
        Ok(results) => results,
        Err(e) => {
            let _ = writeln!(
                out,
                "The Spark comparison did not run: {}: {e}.",
                path.display()
            );
            return;
        }
    };
    let rows = results["rows"].as_f64().unwrap_or(f64::NAN);
    let _ = writeln!(
        out,
        "`fraud-features` over a generated Parquet file of {} card transactions, written to \
         Parquet, three ways, alternated run by run \
         ([`benches/python/bench_spark.py`](benches/python/bench_spark.py), PySpark {} in \
         `local[{}]`, Python {}; the first round, which warms the JVM, is not counted): \
         `skewless run`; Spark with `skewless.spark.transform`; Spark with a pandas UDF \
         (`mapInPandas`) computing the same features in numpy and pandas, as Feast's and \
         Hopsworks' Spark backfills run them. Medians of {} runs.\n",
        si(rows),
        results["versions"]["pyspark"].as_str().unwrap_or("?"),
        results["cores"],
        results["versions"]["python"].as_str().unwrap_or("?"),
        results["runs"],
    );
    let medians = &results["median_seconds"];
    let base = medians["skewless run"].as_f64().unwrap_or(f64::NAN);
    let _ = writeln!(out, "| backfill | time | rows/s | / skewless run |");
    let _ = writeln!(out, "|---|---:|---:|---:|");
    for name in ["skewless run", "Spark + skewless", "Spark + pandas UDF"] {
        let seconds = medians[name].as_f64().unwrap_or(f64::NAN);
        let _ = writeln!(
            out,
            "| {name} | {seconds:.1} s | {} | {:.2}x |",
            si(rows / seconds),
            seconds / base
        );
    }
    let count = |key: &str| -> String {
        results[key]
            .as_object()
            .map(|columns| {
                columns
                    .iter()
                    .map(|(column, n)| format!("`{column}` {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    let _ = writeln!(
        out,
        "\nRows whose features differ from `skewless run`'s by their bits: Spark + skewless: \
         {}; the pandas UDF: {}.",
        count("spark_skewless_rows_differing_from_cli"),
        count("pandas_udf_rows_differing_from_cli")
    );
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

/// 1234567 -> "1.23 M".
fn si(value: f64) -> String {
    if value >= 1e9 {
        format!("{:.2} G", value / 1e9)
    } else if value >= 1e6 {
        format!("{:.2} M", value / 1e6)
    } else if value >= 1e3 {
        format!("{:.1} k", value / 1e3)
    } else {
        format!("{value:.0}")
    }
}
