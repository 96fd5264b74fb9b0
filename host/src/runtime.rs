//! The `Runtime`: one engine, configured once, for every path.
//!
//! Backfills, serving, `verify` and embedders all load transforms through a
//! [`Runtime`], so they all run on the engine configuration built in
//! [`engine_config`]. That function is the one place where the settings that
//! keep results identical across machines and paths live; each says which
//! skew it prevents.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use wasmtime::component::Linker;
use wasmtime::{Engine, OptLevel};

use crate::error::{Error, Result};
use crate::sandbox::{self, GuestState};
use crate::spec::NaiveTimestamps;
use crate::transform::Transform;

/// Limits and settings of a [`Runtime`]. `Config::default()` is what the
/// CLI uses unless told otherwise.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// CPU budget of each row, in fuel units (about one WebAssembly
    /// instruction each). A row that needs more fails, alone or in any batch.
    pub fuel_per_row: u64,
    /// Linear memory one instance may grow to, in bytes.
    pub memory_limit: usize,
    /// Bytes a transform may return from one call (all columns together).
    pub max_output_bytes: usize,
    /// Wall-clock limit of one call, a backstop against hangs in serving.
    /// `None` disables it (backfills are bounded by fuel alone).
    pub deadline: Option<Duration>,
    /// Bytes of a guest's stdout and stderr kept per call for error messages.
    pub output_capture_bytes: usize,
    /// Warm instances kept per transform for reuse.
    pub max_idle_instances: usize,
    /// Directory of precompiled components, keyed by component sha256, engine
    /// version and configuration. `None` compiles on every load.
    pub cache_dir: Option<PathBuf>,
    /// What a timestamp without a time zone means, in every path: refused
    /// (the default), or UTC.
    pub naive_timestamps: NaiveTimestamps,
}

/// Default [`Config::fuel_per_row`]: 100 million instructions, roughly a
/// tenth of a second of computation, thousands of times what a typical
/// feature row needs.
pub const DEFAULT_FUEL_PER_ROW: u64 = 100_000_000;
/// Default [`Config::memory_limit`]: 256 MiB.
pub const DEFAULT_MEMORY_LIMIT: usize = 256 << 20;
/// Default [`Config::max_output_bytes`]: 256 MiB.
pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 256 << 20;

impl Default for Config {
    fn default() -> Self {
        Config {
            fuel_per_row: DEFAULT_FUEL_PER_ROW,
            memory_limit: DEFAULT_MEMORY_LIMIT,
            max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
            deadline: None,
            output_capture_bytes: 16 << 10,
            max_idle_instances: 16,
            cache_dir: None,
            naive_timestamps: NaiveTimestamps::Refuse,
        }
    }
}

impl Config {
    /// Sets [`Config::fuel_per_row`].
    pub fn fuel_per_row(mut self, fuel: u64) -> Self {
        self.fuel_per_row = fuel;
        self
    }

    /// Sets [`Config::memory_limit`].
    pub fn memory_limit(mut self, bytes: usize) -> Self {
        self.memory_limit = bytes;
        self
    }

    /// Sets [`Config::max_output_bytes`].
    pub fn max_output_bytes(mut self, bytes: usize) -> Self {
        self.max_output_bytes = bytes;
        self
    }

    /// Sets [`Config::deadline`].
    pub fn deadline(mut self, deadline: Option<Duration>) -> Self {
        self.deadline = deadline;
        self
    }

    /// Sets [`Config::cache_dir`].
    pub fn cache_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.cache_dir = dir;
        self
    }

    /// Sets [`Config::naive_timestamps`]: what a timestamp without a time
    /// zone means in files, rows and batches. Default
    /// [`NaiveTimestamps::Refuse`]: such a timestamp is refused, naming its
    /// column (and row, for text), since taking it as UTC would be a guess.
    pub fn naive_timestamps(mut self, rule: NaiveTimestamps) -> Self {
        self.naive_timestamps = rule;
        self
    }

    fn validate(&self) -> Result<()> {
        if self.fuel_per_row == 0 {
            return Err(Error::Runtime("the fuel per row must be positive".into()));
        }
        if self.memory_limit < (1 << 16) {
            return Err(Error::Runtime(
                "the memory limit must be at least 64 KiB (one WebAssembly page)".into(),
            ));
        }
        if self.deadline == Some(Duration::ZERO) {
            return Err(Error::Runtime("the deadline must be positive".into()));
        }
        Ok(())
    }
}

/// How often the epoch advances when a deadline is set.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(5);

/// The engine configuration: the one place where execution semantics are
/// decided, for every path.
pub(crate) fn engine_config() -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    // Float arithmetic that produces a NaN may produce different NaN bit
    // patterns (sign, payload) on different CPUs and even in different
    // instruction selections on one CPU. Canonicalizing every NaN that
    // arithmetic produces makes a NaN feature bit-identical everywhere.
    config.cranelift_nan_canonicalization(true);
    // Relaxed SIMD instructions are allowed to give different results on
    // different hardware (e.g. fused or unfused multiply-add). They are off;
    // and should they ever be turned on, they must be deterministic.
    config.wasm_relaxed_simd(false);
    config.relaxed_simd_deterministic(true);
    // Threads make results depend on scheduling. The wasmtime `threads`
    // feature is not compiled in; shared memories are refused as well.
    config.shared_memory(false);
    config.wasm_shared_everything_threads(false);
    // CPU limits are counted in instructions (fuel), not time, so a row that
    // is too slow is too slow on every machine and in every batch.
    config.consume_fuel(true);
    // Wall-clock deadlines for serving: a backstop, never the primary limit.
    config.epoch_interruption(true);
    // The same stack size everywhere: a deep recursion overflows at the same
    // depth in a backfill and in serving.
    config.max_wasm_stack(1 << 20);
    config.cranelift_opt_level(OptLevel::Speed);
    // For profiling guests with `perf`: a perf map names JIT-compiled guest
    // functions. It changes nothing about how they run.
    if std::env::var_os("SKEWLESS_PERF_MAP").is_some_and(|v| v == "1") {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    config
}

/// Loads and runs transforms on one engine.
///
/// Cheap to clone; share one per process.
///
/// ```no_run
/// use skewless::{Config, Runtime};
///
/// let runtime = Runtime::new(Config::default())?;
/// let transform = runtime.load("fraud_features.wasm")?;
/// println!("{} {} sha256:{}", transform.name(), transform.version(), transform.sha256());
/// # Ok::<(), skewless::Error>(())
/// ```
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<RuntimeInner>,
}

pub(crate) struct RuntimeInner {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<GuestState>,
    pub(crate) config: Config,
    ticker_stop: Arc<AtomicBool>,
}

impl Drop for RuntimeInner {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// A runtime with the given limits.
    pub fn new(config: Config) -> Result<Self> {
        config.validate()?;
        let engine = Engine::new(&engine_config())
            .map_err(|e| Error::Runtime(format!("cannot create the WebAssembly engine: {e}")))?;
        let mut linker = Linker::new(&engine);
        sandbox::add_to_linker(&mut linker)
            .map_err(|e| Error::Runtime(format!("cannot set up the guest imports: {e}")))?;
        let ticker_stop = Arc::new(AtomicBool::new(false));
        if config.deadline.is_some() {
            spawn_epoch_ticker(engine.weak(), ticker_stop.clone());
        }
        Ok(Runtime {
            inner: Arc::new(RuntimeInner {
                engine,
                linker,
                config,
                ticker_stop,
            }),
        })
    }

    /// The runtime's configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Loads the component file at `path`: computes its sha256, compiles it
    /// (or loads it from the cache), calls `describe` and validates what it
    /// declares.
    pub fn load(&self, path: impl AsRef<Path>) -> Result<Transform> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io("cannot read", path, e))?;
        Transform::load(self.clone(), &bytes, &path.display().to_string())
    }

    /// Loads a component from its bytes; `name` stands for it in messages.
    pub fn load_bytes(&self, bytes: &[u8], name: &str) -> Result<Transform> {
        Transform::load(self.clone(), bytes, name)
    }

    pub(crate) fn inner(&self) -> &RuntimeInner {
        &self.inner
    }
}

fn spawn_epoch_ticker(engine: wasmtime::EngineWeak, stop: Arc<AtomicBool>) {
    thread::Builder::new()
        .name("skewless-epoch".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                thread::sleep(EPOCH_TICK);
                match engine.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => return,
                }
            }
        })
        .expect("cannot spawn the epoch thread");
}

/// Deadline in epoch ticks, rounded up.
pub(crate) fn deadline_ticks(deadline: Duration) -> u64 {
    deadline.as_nanos().div_ceil(EPOCH_TICK.as_nanos()).max(1) as u64
}
