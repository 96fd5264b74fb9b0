//! The `Runtime`: one engine, configured once, for every path.
//!
//! Backfills, serving, `verify` and embedders all load transforms through a
//! [`Runtime`], so they all run on the engine configuration built in
//! [`engine_config`]. That function is the one place where the settings that
//! keep results identical across machines and paths live; each says which
//! skew it prevents.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
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
    /// Calls that may run at once on the runtime's transforms, each on an
    /// instance of its own: the number of instances that can exist, so
    /// that memory is bounded by `max_instances x memory_limit`. A call
    /// beyond it waits for one to finish.
    pub max_instances: usize,
    /// Whether calls reuse warm instances instead of each starting from
    /// the component's initial state (see [`Config::reuse_instances`]).
    pub reuse_instances: bool,
    /// Directory of precompiled components, keyed by component sha256, engine
    /// version and configuration. `None` compiles on every load.
    pub cache_dir: Option<PathBuf>,
    /// What a timestamp without a time zone means, in every path: refused
    /// (the default), or UTC.
    pub naive_timestamps: NaiveTimestamps,
}

/// Default [`Config::max_instances`]: twice the CPUs available to the
/// process, and at least 4.
pub fn default_max_instances() -> usize {
    thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(2)
        * 2
}

/// Where the CLI and the Python package keep precompiled components unless
/// told otherwise: `$XDG_CACHE_HOME/skewless`, else `~/.cache/skewless`;
/// `None` when neither variable is set.
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("skewless"))
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
            max_instances: default_max_instances(),
            reuse_instances: false,
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

    /// Sets [`Config::max_instances`]: how many calls run at once (each on an
    /// instance of its own) across the runtime's transforms; a call beyond
    /// them waits. Default [`default_max_instances`]. Memory is bounded by
    /// this times [`Config::memory_limit`].
    pub fn max_instances(mut self, instances: usize) -> Self {
        self.max_instances = instances.max(1);
        self
    }

    /// Sets [`Config::reuse_instances`]. Default `false`: every call (a
    /// backfill batch, a request, an embedded call) runs on a new instance
    /// made from the component's initial state (cheap: copy-on-write memory
    /// from wasmtime's pooling allocator), so its answer cannot depend on
    /// what ran before, no call can read what an earlier one left in
    /// memory, and memory a call grew is given back when it ends.
    ///
    /// `true` keeps instances warm between calls, which saves the reset (a
    /// few microseconds per call) at a cost: a transform that keeps state
    /// (a counter in a `static`, a cache that changes its answers) answers
    /// the same input differently depending on the calls before it, one
    /// call's data stays in memory during the next, and memory a call grew
    /// stays held. Only for transforms known to keep no state.
    pub fn reuse_instances(mut self, reuse: bool) -> Self {
        self.reuse_instances = reuse;
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
        if self.memory_limit > (4 << 30) {
            return Err(Error::Runtime(
                "the memory limit must be at most 4 GiB (a 32-bit WebAssembly memory)".into(),
            ));
        }
        Ok(())
    }
}

/// How often the epoch advances when a deadline is set.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(5);

/// The engine configuration: the one place where execution semantics are
/// decided, for every path, and where instances are allocated.
pub(crate) fn engine_config(limits: &Config) -> wasmtime::Config {
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
    // Every call starts from the component's initial state on a new
    // instance. The pooling allocator makes that cheap: slots of memory
    // are reserved once, a new instance maps the component's memory image
    // copy-on-write instead of copying it, and a finished instance's pages
    // are given back to the system (none kept resident), so memory a call
    // grew does not stay held.
    config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pooling(
        limits,
    )));
    config.memory_init_cow(true);

    // For profiling guests with `perf`: a perf map names JIT-compiled guest
    // functions. It changes nothing about how they run.
    if std::env::var_os("SKEWLESS_PERF_MAP").is_some_and(|v| v == "1") {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    config
}

/// Bytes of each instance slot's memory reset in place and kept resident
/// between calls (when the kernel can scan for written pages).
const MEMORY_KEEP_RESIDENT: usize = 1 << 20;
/// Bytes of each table reset in place between calls.
const TABLE_KEEP_RESIDENT: usize = 64 << 10;

/// The instance pool: room for `max_instances` instances of any of the
/// runtime's components (four times that when instances are reused, as
/// idle ones keep their slots), each with the sandbox's caps.
fn pooling(limits: &Config) -> wasmtime::PoolingAllocationConfig {
    let instances = limits.max_instances.max(1) * if limits.reuse_instances { 4 } else { 1 };
    // Loading a component (its `describe`) takes an instance too.
    let instances = u32::try_from(instances + 1).unwrap_or(u32::MAX);
    // Resetting an instance's memory: where the kernel can say which pages
    // a call wrote (Linux 6.7's PAGEMAP_SCAN), the first MiB is reset in
    // place, page by written page, and stays resident (no page faults for
    // the next call, and no `madvise`, whose TLB flush reaches every CPU);
    // the rest, and everything without that scan, goes back to the system.
    let keep_resident = if wasmtime::PoolingAllocationConfig::is_pagemap_scan_available() {
        MEMORY_KEEP_RESIDENT
    } else {
        0
    };
    let mut pool = wasmtime::PoolingAllocationConfig::new();
    pool.total_component_instances(instances)
        .total_core_instances(instances.saturating_mul(sandbox::MAX_INSTANCES as u32))
        .total_memories(instances.saturating_mul(4))
        .total_tables(instances.saturating_mul(sandbox::MAX_TABLES as u32))
        .max_core_instances_per_component(sandbox::MAX_INSTANCES as u32)
        .max_memories_per_component(sandbox::MAX_MEMORIES as u32)
        .max_tables_per_component(sandbox::MAX_TABLES as u32)
        .max_memories_per_module(sandbox::MAX_MEMORIES as u32)
        .max_tables_per_module(sandbox::MAX_TABLES as u32)
        .table_elements(sandbox::MAX_TABLE_ELEMENTS)
        // Any 32-bit memory fits a slot; the sandbox's own limit
        // (`memory_limit`) is what refuses growth, with its message.
        .max_memory_size(4 << 30)
        .max_component_instance_size(16 << 20)
        .max_core_instance_size(4 << 20)
        .linear_memory_keep_resident(keep_resident)
        .table_keep_resident(TABLE_KEEP_RESIDENT)
        .pagemap_scan(wasmtime::Enabled::Auto);
    pool
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
    /// One permit per call that may run at once ([`Config::max_instances`]).
    pub(crate) slots: Slots,
    ticker_stop: Arc<AtomicBool>,
}

/// A counting semaphore of instance slots: a call holds a [`Slot`] while
/// its instance exists, and waits for one when all are taken.
pub(crate) struct Slots {
    free: Mutex<usize>,
    freed: Condvar,
}

/// A taken slot, given back when dropped.
pub(crate) struct Slot<'a>(&'a Slots);

impl Slots {
    fn new(count: usize) -> Self {
        Slots {
            free: Mutex::new(count.max(1)),
            freed: Condvar::new(),
        }
    }

    /// Takes a slot, waiting until one is free.
    pub(crate) fn take(&self) -> Slot<'_> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
        Slot(self)
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.0.freed.notify_one();
    }
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
        let engine = Engine::new(&engine_config(&config))
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
                slots: Slots::new(config.max_instances),
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
