//! Workloads shared by the criterion benchmarks (`cargo bench`) and the
//! benchmark report (`cargo run --release -p skewless-benches --bin report`).
//!
//! Every wasm measurement has a native baseline that runs the *same* Rust
//! function (the example crates are linked natively as rlibs) over the same
//! Arrow input, building the same Arrow output: that is what a hand-written
//! "production" reimplementation would cost at best.

pub mod page_scan;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, RecordBatch, UInt32Array,
};
use arrow::datatypes::{Float64Type, Int64Type, TimestampMicrosecondType};
use skewless::io::{ColumnRequest, Reader};
use skewless::{Config, Runtime, Transform};
use skewless_guest::Timestamp;

/// The example transforms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Example {
    /// `fraud-features`: f64, i64 and a short string in; four numbers out.
    Fraud,
    /// `glucose-alerts`: a timestamp and nullable floats in; a nullable
    /// float and four flags out.
    Glucose,
    /// `email-subject`: a string in; string statistics out.
    Email,
}

impl Example {
    /// Every example.
    pub const ALL: [Example; 3] = [Example::Fraud, Example::Glucose, Example::Email];

    /// The transform's name.
    pub fn name(self) -> &'static str {
        match self {
            Example::Fraud => "fraud-features",
            Example::Glucose => "glucose-alerts",
            Example::Email => "email-subject",
        }
    }

    /// The component file.
    pub fn component(self) -> &'static str {
        match self {
            Example::Fraud => skewless_test_artifacts::FRAUD_FEATURES,
            Example::Glucose => skewless_test_artifacts::GLUCOSE_ALERTS,
            Example::Email => skewless_test_artifacts::EMAIL_SUBJECT,
        }
    }

    /// The bundled sample data.
    pub fn sample_path(self) -> PathBuf {
        let file = match self {
            Example::Fraud => "fraud-features/data/transactions.csv",
            Example::Glucose => "glucose-alerts/data/readings.csv",
            Example::Email => "email-subject/data/subjects.jsonl",
        };
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples")
            .join(file)
    }

    /// The transform, loaded once per process on a default runtime.
    pub fn transform(self) -> Transform {
        static LOADED: OnceLock<[Transform; 3]> = OnceLock::new();
        let loaded = LOADED.get_or_init(|| {
            let runtime = Runtime::new(Config::default()).expect("runtime");
            Example::ALL.map(|e| runtime.load(e.component()).expect("example loads"))
        });
        loaded[self as usize].clone()
    }

    /// `rows` input rows: the sample data repeated, with the declared types.
    pub fn batch(self, rows: usize) -> RecordBatch {
        static SAMPLES: OnceLock<[RecordBatch; 3]> = OnceLock::new();
        let samples = SAMPLES.get_or_init(|| Example::ALL.map(|e| e.read_sample()));
        let sample = &samples[self as usize];
        let indices =
            UInt32Array::from_iter_values((0..rows).map(|i| (i % sample.num_rows()) as u32));
        arrow::compute::take_record_batch(sample, &indices).expect("take")
    }

    fn read_sample(self) -> RecordBatch {
        read_sample(&self.transform(), &self.sample_path())
    }

    /// One row, as the JSON body of a serving request.
    pub fn request_body(self) -> String {
        let row = skewless::codec::json::encode_rows(&self.batch(1)).remove(0);
        format!("{{\"rows\": [{row}]}}")
    }

    /// The same function, natively: read Arrow, call the row function,
    /// build Arrow.
    pub fn native(self, batch: &RecordBatch) -> RecordBatch {
        match self {
            Example::Fraud => native_fraud(batch),
            Example::Glucose => native_glucose(batch),
            Example::Email => native_email(batch),
        }
    }
}

/// A data file's rows in `transform`'s declared inputs (read as a
/// backfill reads them, converted as a call converts them), in one batch.
pub fn read_sample(transform: &Transform, path: &Path) -> RecordBatch {
    let requests: Vec<ColumnRequest> = transform
        .info()
        .inputs
        .iter()
        .map(|f| ColumnRequest {
            name: f.name.clone(),
            data_type: Some(f.data_type),
        })
        .collect();
    let reader = Reader::open(path, Some(&requests), 1 << 20, Default::default()).expect("sample");
    let schema = reader.schema().clone();
    let batches: Vec<RecordBatch> = reader.map(|b| b.expect("sample batch")).collect();
    let sample = arrow::compute::concat_batches(&schema, &batches).expect("concat");
    transform
        .prepare_input(&sample)
        .expect("the sample's columns")
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> &'a ArrayRef {
    batch.column_by_name(name).expect("declared column")
}

fn native_fraud(batch: &RecordBatch) -> RecordBatch {
    let amount = column(batch, "amount").as_primitive::<Float64Type>();
    let hour = column(batch, "hour").as_primitive::<Int64Type>();
    let category = column(batch, "merchant_category").as_string::<i32>();
    let rows = batch.num_rows();
    let (mut log_amount, mut is_night, mut bucket, mut risk) = (
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
    );
    for row in 0..rows {
        let f = fraud_features::fraud(amount.value(row), hour.value(row), category.value(row));
        log_amount.push(f.log_amount);
        is_night.push(f.is_night);
        bucket.push(f.amount_bucket);
        risk.push(f.category_risk);
    }
    RecordBatch::try_from_iter([
        (
            "log_amount",
            Arc::new(Float64Array::from(log_amount)) as ArrayRef,
        ),
        ("is_night", Arc::new(Int64Array::from(is_night)) as ArrayRef),
        (
            "amount_bucket",
            Arc::new(Int64Array::from(bucket)) as ArrayRef,
        ),
        (
            "category_risk",
            Arc::new(Float64Array::from(risk)) as ArrayRef,
        ),
    ])
    .expect("batch")
}

fn native_glucose(batch: &RecordBatch) -> RecordBatch {
    let read_at = column(batch, "read_at").as_primitive::<TimestampMicrosecondType>();
    let glucose = column(batch, "glucose_mg_dl").as_primitive::<Float64Type>();
    let previous = column(batch, "previous_mg_dl").as_primitive::<Float64Type>();
    let minutes = column(batch, "minutes_since_previous").as_primitive::<Float64Type>();
    let rows = batch.num_rows();
    let mut rate = Vec::with_capacity(rows);
    let mut flags: [Vec<bool>; 4] = std::array::from_fn(|_| Vec::with_capacity(rows));
    for row in 0..rows {
        let a = glucose_alerts::glucose_alerts(
            Timestamp::from_micros(read_at.value(row)),
            glucose.value(row),
            previous.is_valid(row).then(|| previous.value(row)),
            minutes.is_valid(row).then(|| minutes.value(row)),
        );
        rate.push(a.rate_mg_dl_per_min);
        flags[0].push(a.hyperglycemia);
        flags[1].push(a.hypoglycemia);
        flags[2].push(a.rapid_rise);
        flags[3].push(a.nocturnal_hypoglycemia);
    }
    let [hyper, hypo, rapid, nocturnal] = flags;
    RecordBatch::try_from_iter([
        (
            "rate_mg_dl_per_min",
            Arc::new(Float64Array::from(rate)) as ArrayRef,
        ),
        (
            "hyperglycemia",
            Arc::new(BooleanArray::from(hyper)) as ArrayRef,
        ),
        (
            "hypoglycemia",
            Arc::new(BooleanArray::from(hypo)) as ArrayRef,
        ),
        (
            "rapid_rise",
            Arc::new(BooleanArray::from(rapid)) as ArrayRef,
        ),
        (
            "nocturnal_hypoglycemia",
            Arc::new(BooleanArray::from(nocturnal)) as ArrayRef,
        ),
    ])
    .expect("batch")
}

fn native_email(batch: &RecordBatch) -> RecordBatch {
    let subject = column(batch, "subject").as_string::<i32>();
    let rows = batch.num_rows();
    let mut ints: [Vec<i64>; 3] = std::array::from_fn(|_| Vec::with_capacity(rows));
    let mut share = Vec::with_capacity(rows);
    let mut flags: [Vec<bool>; 2] = std::array::from_fn(|_| Vec::with_capacity(rows));
    for row in 0..rows {
        let f = email_subject::email_subject(subject.value(row));
        ints[0].push(f.length_chars);
        ints[1].push(f.word_count);
        share.push(f.uppercase_share);
        ints[2].push(f.exclamation_marks);
        flags[0].push(f.has_emoji);
        flags[1].push(f.has_personalization_token);
    }
    let [length, words, exclamations] = ints;
    let [emoji, token] = flags;
    RecordBatch::try_from_iter([
        (
            "length_chars",
            Arc::new(Int64Array::from(length)) as ArrayRef,
        ),
        ("word_count", Arc::new(Int64Array::from(words)) as ArrayRef),
        (
            "uppercase_share",
            Arc::new(Float64Array::from(share)) as ArrayRef,
        ),
        (
            "exclamation_marks",
            Arc::new(Int64Array::from(exclamations)) as ArrayRef,
        ),
        ("has_emoji", Arc::new(BooleanArray::from(emoji)) as ArrayRef),
        (
            "has_personalization_token",
            Arc::new(BooleanArray::from(token)) as ArrayRef,
        ),
    ])
    .expect("batch")
}

/// `(p50, p99, p99.9)` of `samples` (sorted in place).
pub fn percentiles(samples: &mut [Duration]) -> (Duration, Duration, Duration) {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    (at(0.50), at(0.99), at(0.999))
}

/// The median of `values` (sorted in place).
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Latencies of `n` warm single-row calls through the public `Transform` API.
pub fn call_latencies(transform: &Transform, row: &RecordBatch, n: usize) -> Vec<Duration> {
    for _ in 0..1_000 {
        transform.call(row).expect("warm-up call");
    }
    (0..n)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(transform.call(std::hint::black_box(row)).expect("call"));
            start.elapsed()
        })
        .collect()
}

/// What a load run measured.
#[derive(Debug, Clone)]
pub struct LoadRun {
    /// Requests answered with 200.
    pub ok: u64,
    /// Requests answered otherwise.
    pub failed: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Latency of every request, as the client saw it.
    pub latencies: Vec<Duration>,
}

impl LoadRun {
    /// Requests per second.
    pub fn throughput(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }
}

/// A keep-alive HTTP/1.1 client connection that sends one request at a time.
#[derive(Debug)]
pub struct Connection {
    addr: SocketAddr,
    writer: TcpStream,
    reader: BufReader<TcpStream>,
    body: Vec<u8>,
}

impl Connection {
    /// Connects to `addr`.
    pub fn open(addr: SocketAddr) -> std::io::Result<Connection> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            addr,
            writer: stream.try_clone()?,
            reader: BufReader::new(stream),
            body: Vec::new(),
        })
    }

    /// The bytes of a `POST` of the JSON `body` to `path`.
    pub fn post_request(&self, path: &str, body: &str) -> Vec<u8> {
        format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .into_bytes()
    }

    /// Sends `request` (from [`Connection::post_request`]) and reads the
    /// answer: its status, with its body in [`Connection::body`].
    pub fn send(&mut self, request: &[u8]) -> std::io::Result<u16> {
        self.writer.write_all(request)?;
        self.read_response()
    }

    /// The body of the last answer.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Reads one HTTP/1.1 response with a Content-Length; returns its status.
    fn read_response(&mut self) -> std::io::Result<u16> {
        let invalid = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| invalid("no status"))?;
        let mut length = 0;
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value
                    .trim()
                    .parse()
                    .map_err(|_| invalid("bad content length"))?;
            }
        }
        self.body.resize(length, 0);
        self.reader.read_exact(&mut self.body)?;
        Ok(status)
    }
}

/// A closed-loop HTTP/1.1 load generator: `connections` keep-alive
/// connections, each sending `body` to `path` (a `GET` of `path` when
/// `body` is empty) and waiting for the answer before the next request,
/// for `duration`.
pub fn http_load(
    addr: SocketAddr,
    path: &str,
    body: &str,
    connections: usize,
    duration: Duration,
) -> LoadRun {
    let started = Instant::now();
    let deadline = started + duration;
    let results: Vec<(u64, u64, Vec<Duration>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..connections)
            .map(|_| {
                scope.spawn(move || {
                    let mut connection = Connection::open(addr).expect("connect");
                    let request = if body.is_empty() {
                        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").into_bytes()
                    } else {
                        connection.post_request(path, body)
                    };
                    let (mut ok, mut failed, mut latencies) = (0, 0, Vec::new());
                    while Instant::now() < deadline {
                        let start = Instant::now();
                        let status = connection.send(&request).expect("request");
                        latencies.push(start.elapsed());
                        if status == 200 {
                            ok += 1;
                        } else {
                            failed += 1;
                        }
                    }
                    (ok, failed, latencies)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("load worker"))
            .collect()
    });
    let elapsed = started.elapsed();
    let mut run = LoadRun {
        ok: 0,
        failed: 0,
        elapsed,
        latencies: Vec::new(),
    };
    for (ok, failed, latencies) in results {
        run.ok += ok;
        run.failed += failed;
        run.latencies.extend(latencies);
    }
    run
}

/// A running in-process server: its address, the sender that stops it,
/// and its thread.
pub type RunningServer = (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    std::thread::JoinHandle<()>,
);

/// A server for `transforms` on a loopback port, on its own tokio runtime
/// with `workers` threads.
pub fn start_server(transforms: Vec<Transform>, workers: usize) -> RunningServer {
    start_server_with(transforms, workers, skewless::serve::ServeConfig::default())
}

/// [`start_server`] with `config`.
pub fn start_server_with(
    transforms: Vec<Transform>,
    workers: usize,
    config: skewless::serve::ServeConfig,
) -> RunningServer {
    let server = Arc::new(skewless::serve::Server::new(transforms, config).expect("server"));
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
            .expect("tokio");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            addr_tx
                .send(listener.local_addr().expect("addr"))
                .expect("send addr");
            skewless::serve::serve(listener, server, async {
                let _ = stop_rx.await;
            })
            .await
            .expect("serve");
        });
    });
    (addr_rx.recv().expect("server address"), stop_tx, thread)
}

/// A Parquet file of `rows` synthetic card transactions (`transaction_id`,
/// `amount`, `hour`, `merchant_category`), generated once and kept in
/// `target/bench-data/`.
pub fn fraud_parquet(rows: usize) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-data");
    std::fs::create_dir_all(&dir).expect("bench data dir");
    let path = dir.join(format!("fraud-{rows}.parquet"));
    if path.is_file() {
        return path;
    }
    const CATEGORIES: [&str; 9] = [
        "grocery",
        "restaurants",
        "fuel",
        "online_retail",
        "pharmacy",
        "apparel",
        "electronics",
        "travel",
        "gaming",
    ];
    let schema = Arc::new(arrow::datatypes::Schema::new(vec![
        arrow::datatypes::Field::new("transaction_id", arrow::datatypes::DataType::Utf8, false),
        arrow::datatypes::Field::new("amount", arrow::datatypes::DataType::Float64, false),
        arrow::datatypes::Field::new("hour", arrow::datatypes::DataType::Int64, false),
        arrow::datatypes::Field::new("merchant_category", arrow::datatypes::DataType::Utf8, false),
    ]));
    let temp = path.with_extension("parquet.tmp");
    let file = std::fs::File::create(&temp).expect("create bench data");
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(file, schema.clone(), None).expect("writer");
    // A deterministic generator (64-bit LCG); amounts roughly log-normal.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        state >> 11
    };
    let mut written = 0;
    while written < rows {
        let n = (rows - written).min(65_536);
        let mut ids = Vec::with_capacity(n);
        let mut amounts = Vec::with_capacity(n);
        let mut hours = Vec::with_capacity(n);
        let mut categories = Vec::with_capacity(n);
        for i in 0..n {
            ids.push(format!("tx_{:09}", written + i));
            let uniform = (next() as f64) / (1u64 << 53) as f64;
            amounts.push(((uniform * 6.0).exp() * 100.0).round() / 100.0);
            hours.push((next() % 24) as i64);
            categories.push(CATEGORIES[(next() % 9) as usize]);
        }
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(arrow::array::StringArray::from(ids)),
                Arc::new(Float64Array::from(amounts)),
                Arc::new(Int64Array::from(hours)),
                Arc::new(arrow::array::StringArray::from(categories)),
            ],
        )
        .expect("batch");
        writer.write(&batch).expect("write");
        written += n;
    }
    writer.close().expect("close");
    std::fs::rename(&temp, &path).expect("rename");
    path
}

/// A `skewless serve` process of the CLI, on a free loopback port; its
/// stderr goes to a log file.
#[derive(Debug)]
pub struct ServerProcess {
    /// The process.
    pub child: std::process::Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its log.
    pub log: PathBuf,
}

impl ServerProcess {
    /// Runs `skewless serve ARGS --addr 127.0.0.1:0` and waits until it
    /// listens; exits the process (naming `who`) if it stops before.
    pub fn start(skewless: &Path, args: &[&str], who: &str) -> ServerProcess {
        use std::process::{Command, Stdio};
        let mut child = Command::new(skewless)
            .arg("serve")
            .args(args)
            .args(["--addr", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                eprintln!("{who}: cannot run {}: {e}", skewless.display());
                std::process::exit(1);
            });
        let log = std::env::temp_dir().join(format!("skewless-{who}-{}.log", child.id()));
        let mut file = std::fs::File::create(&log).expect("server log");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let addr = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    let _ = writeln!(file, "{line}");
                    if let Some(addr) = line.strip_prefix("listening on http://") {
                        break addr.parse().expect("server address");
                    }
                }
                _ => {
                    eprintln!(
                        "{who}: the server stopped before listening; see {}",
                        log.display()
                    );
                    std::process::exit(1);
                }
            }
        };
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let _ = writeln!(file, "{line}");
            }
        });
        ServerProcess { child, addr, log }
    }
}

/// The resident memory of process `pid`, in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
}

/// A fixed pseudo-random sequence (xorshift64), so that runs see the same
/// data.
#[derive(Debug, Clone)]
pub struct XorShift(pub u64);

impl XorShift {
    /// The next number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// The card-velocity example's card id of `key`.
pub fn card_id(key: u64) -> String {
    format!("card-{key:06}")
}
