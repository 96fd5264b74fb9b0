//! Shared helpers: one runtime and one compiled copy of each guest per test
//! process, and small builders for batches.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use arrow::array::{ArrayRef, RecordBatch};
use skewless::{Config, Runtime, Transform};

/// The default runtime, shared by tests that do not change limits.
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| Runtime::new(Config::default()).expect("default runtime"))
}

/// The guest at `path`, loaded once per test process on the default runtime.
pub fn load(path: &str) -> Transform {
    static LOADED: OnceLock<Mutex<HashMap<String, Transform>>> = OnceLock::new();
    let loaded = LOADED.get_or_init(Default::default);
    if let Some(transform) = loaded.lock().unwrap().get(path) {
        return transform.clone();
    }
    let transform = runtime()
        .load(path)
        .unwrap_or_else(|e| panic!("cannot load {path}: {e}"));
    loaded
        .lock()
        .unwrap()
        .insert(path.to_string(), transform.clone());
    transform
}

/// A batch from `(name, array)` pairs.
pub fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    RecordBatch::try_from_iter(columns).expect("valid batch")
}

/// `Arc::new(array) as ArrayRef`.
pub fn array(array: impl arrow::array::Array + 'static) -> ArrayRef {
    Arc::new(array)
}

/// A server on a loopback port, in this process, stopped on drop.
pub struct TestServer {
    pub addr: std::net::SocketAddr,
    /// What the server logged about failed requests, line by line.
    pub logged: Arc<Mutex<Vec<String>>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    pub fn start(transforms: Vec<Transform>, config: skewless::serve::ServeConfig) -> TestServer {
        Self::start_on(transforms, config, || {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
        })
    }

    /// A server on the tokio runtime `build` makes (an embedder's choice).
    pub fn start_on(
        transforms: Vec<Transform>,
        config: skewless::serve::ServeConfig,
        build: impl FnOnce() -> std::io::Result<tokio::runtime::Runtime> + Send + 'static,
    ) -> TestServer {
        let logged = Arc::new(Mutex::new(Vec::new()));
        let sink = logged.clone();
        let server = Arc::new(
            skewless::serve::Server::new(transforms, config)
                .unwrap()
                .log_to(move |line| sink.lock().unwrap().push(line.to_string())),
        );
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                skewless::serve::serve(listener, server, async {
                    let _ = stop.await;
                })
                .await
                .unwrap();
            });
        });
        TestServer {
            addr: addr_rx.recv().unwrap(),
            logged,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// `(status, body)` of one request.
    pub fn request(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        http(self.addr, method, path, body)
    }

    /// POSTs `body` to `/v1/transforms/{name}` and parses the JSON answer.
    pub fn post(&self, name: &str, body: &str) -> (u16, serde_json::Value) {
        let (status, text) = self.request("POST", &format!("/v1/transforms/{name}"), body);
        let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        (status, json)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `skewless run COMPONENT --events EVENTS --input SPINE --output OUT
/// --quiet` and then `extra`, which must succeed: what it wrote to `out`.
pub fn run_backfill(
    component: &str,
    events: &std::path::Path,
    spine: &std::path::Path,
    out: &std::path::Path,
    extra: &[&str],
) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_skewless"))
        .arg("run")
        .arg(component)
        .arg("--events")
        .arg(events)
        .arg("--input")
        .arg(spine)
        .arg("--output")
        .arg(out)
        .arg("--quiet")
        .args(extra)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::read_to_string(out).unwrap()
}

/// A minimal HTTP/1.1 client: one request per connection.
pub fn http(addr: std::net::SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    http_raw(addr, &[head.as_bytes(), body.as_bytes()].concat())
}

/// Sends `request` as it is (which may promise more body than it has, or
/// lie about its length) and reads the answer until the server closes.
pub fn http_raw(addr: std::net::SocketAddr, request: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    // A server that never answers fails the test instead of hanging it.
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let response = String::from_utf8(response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").unwrap();
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
}

/// A `redis-server` of the test's own, on a free loopback port, appending
/// every write to its file with an fsync (`appendfsync always`), as a
/// deployment that must not lose an acknowledged event runs it; stopped on
/// drop.
pub struct RedisServer {
    child: std::process::Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    /// `None`, saying why, where Debian's `redis-server` is not installed,
    /// unless `SKEWLESS_REQUIRE_REDIS` is set (`.ci/run` installs it and
    /// sets it), where that fails the test.
    pub fn start() -> Option<RedisServer> {
        let dir = tempfile::TempDir::new().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let spawned = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ])
            .arg("--dir")
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) if std::env::var_os("SKEWLESS_REQUIRE_REDIS").is_none() => {
                eprintln!(
                    "SKIPPED: this test needs `redis-server` (apt-get install redis-server): {e}"
                );
                return None;
            }
            Err(e) => panic!("SKEWLESS_REQUIRE_REDIS is set and redis-server cannot start: {e}"),
        };
        let server = RedisServer {
            child,
            port,
            _dir: dir,
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            use std::io::{Read, Write};
            if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                let mut answer = [0; 7];
                if stream.write_all(b"PING\r\n").is_ok()
                    && stream.read_exact(&mut answer).is_ok()
                    && &answer == b"+PONG\r\n"
                {
                    return Some(server);
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server did not answer on port {port}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// The URL of database `db`.
    pub fn url(&self, db: u32) -> String {
        format!("redis://127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
