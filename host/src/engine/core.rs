//! The engine core every transform of a [`Runtime`](crate::Runtime)
//! shares: one wasmtime `Engine`, configured in [`engine_config`], one
//! `Linker` of the sandbox's imports, the [`Config`], and the instance
//! slots that bound how many calls run at once.
//!
//! [`engine_config`] is the one place where execution semantics are
//! decided, for every path; each setting says which skew it prevents.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, mpsc};
use std::thread;
use std::time::Duration;

use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, OptLevel};

use super::config::Config;
use super::sandbox::{self, GuestState};
use crate::error::{Error, Result};

/// What the transforms of one runtime share.
pub(crate) struct Core {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<GuestState>,
    pub(crate) config: Config,
    /// One permit per call that may run at once ([`Config::max_instances`]).
    pub(crate) slots: Slots,
    /// Memory slots held by instances kept between calls, across the
    /// runtime's transforms (see [`Core::keep_idle`]).
    idle: AtomicUsize,
    ticker_stop: Arc<AtomicBool>,
    /// The [`forks::generation`] of the process the epoch ticker runs in
    /// (see [`Core::keep_time`]); [`NO_TICKER`] without a deadline.
    ticker_generation: AtomicU64,
    /// The runtime's thread for work taken off the callers' paths (see
    /// [`Core::in_background`]), and the [`forks::generation`] of the
    /// process it runs in: started when first needed, `None` if it could
    /// not be.
    background: OnceLock<Option<(mpsc::Sender<Job>, u64)>>,
    /// The [`forks::generation`] of the process the runtime was made in.
    generation: u64,
}

/// [`Core::ticker_generation`] of a runtime without a deadline.
const NO_TICKER: u64 = u64::MAX;

/// Work for the runtime's background thread.
pub(crate) type Job = Box<dyn FnOnce() + Send>;

impl Core {
    pub(crate) fn new(config: Config) -> Result<Core> {
        config.validate()?;
        forks::watch();
        let engine = Engine::new(&engine_config(&config))
            .map_err(|e| Error::Runtime(format!("cannot create the WebAssembly engine: {e}")))?;
        let mut linker = Linker::new(&engine);
        sandbox::add_to_linker(&mut linker)
            .map_err(|e| Error::Runtime(format!("cannot set up the guest imports: {e}")))?;
        let ticker_stop = Arc::new(AtomicBool::new(false));
        let ticker_generation = match config.deadline {
            Some(_) => {
                let generation = forks::generation();
                spawn_epoch_ticker(engine.weak(), ticker_stop.clone()).map_err(|e| {
                    Error::Runtime(format!("cannot start the deadline's clock thread: {e}"))
                })?;
                generation
            }
            None => NO_TICKER,
        };
        Ok(Core {
            engine,
            linker,
            slots: Slots::new(config.max_instances),
            idle: AtomicUsize::new(0),
            config,
            ticker_stop,
            ticker_generation: AtomicU64::new(ticker_generation),
            generation: forks::generation(),
            background: OnceLock::new(),
        })
    }

    /// Compiles a component for this runtime (through the precompiled
    /// cache, [`Config::cache_dir`]). The engine compiles in parallel on
    /// rayon's global thread pool, whose threads a child process forked
    /// after they started does not have: its compilation would wait for
    /// them forever (rayon-rs/rayon#708). So in a child forked after the
    /// runtime was made, a compilation is made on the calling thread, by an
    /// engine with the same compilation settings (and no instance pool),
    /// and loaded into the runtime's engine. An engine made in a forked
    /// child compiles on the calling thread itself ([`engine_config`]).
    pub(crate) fn compile(&self, bytes: &[u8], sha256: &str) -> wasmtime::Result<Component> {
        let compiler = if self.generation == forks::generation() {
            None
        } else {
            let mut config = engine_config(&self.config);
            config
                .parallel_compilation(false)
                .allocation_strategy(wasmtime::InstanceAllocationStrategy::OnDemand);
            Some(Engine::new(&config)?)
        };
        super::cache::compile(
            &self.engine,
            compiler.as_ref(),
            self.config.cache_dir.as_deref(),
            bytes,
            sha256,
        )
    }

    /// Makes sure the thread that advances the engine's epoch (the clock
    /// of [`Config::deadline`]) runs in this process. A child process
    /// forked after the runtime was made (Python's `multiprocessing`, a
    /// server's pre-fork workers) has only the thread that forked: without
    /// a ticker of its own, its calls would never reach their deadline and
    /// run until their fuel ran out. The first call or load with a
    /// deadline in such a child starts one; everywhere else this is two
    /// atomic loads.
    pub(crate) fn keep_time(&self) -> Result<()> {
        let running = self.ticker_generation.load(Ordering::Acquire);
        let now = forks::generation();
        if running == NO_TICKER || running == now {
            return Ok(());
        }
        if self
            .ticker_generation
            .compare_exchange(running, now, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // Another call of this process started it.
            return Ok(());
        }
        spawn_epoch_ticker(self.engine.weak(), self.ticker_stop.clone()).map_err(|e| {
            // The next call tries again.
            self.ticker_generation.store(running, Ordering::Release);
            Error::Runtime(format!(
                "cannot start the deadline's clock thread in this process (forked after the \
                 runtime was made): {e}"
            ))
        })
    }

    /// Runs `job` on the runtime's background thread, one job after
    /// another, or gives it back if there is no such thread: it could not
    /// be started, or this is a child process forked after it was (where
    /// only the forking thread goes on). The thread starts with the first
    /// job and ends once the runtime and its transforms are dropped and its
    /// jobs done. A job that panics ends alone.
    ///
    /// On Linux the thread runs under `SCHED_IDLE`: the scheduler gives it
    /// a small share of a core that other threads want, and any of them
    /// that wakes takes the core from it. A reset left to it is work no
    /// caller waits for, and on a machine with few cores it competed with
    /// the threads that answer the next request: served at one connection
    /// on two cores, a Python transform's p50 went from 397-399 to 325-326
    /// µs (wrk, two alternations; BENCHMARKS.md). When the machine is busy,
    /// a reset waits longer here, and the calls in the meantime reset their
    /// instances on their own threads, as they would without this thread.
    /// The risk is the thread being held off while it holds a lock a
    /// caller needs (the transform's kept instances, briefly; the kernel's
    /// lock on the process's mappings, during the scan of written pages):
    /// at 16 connections on two cores, the saturated case, wrk measured
    /// p99 7.45-7.55 ms and a maximum of 20-24 ms with it, against 7.77-8.06
    /// ms and 24-30 ms without (8 s runs, alternated twice).
    pub(crate) fn in_background(&self, job: Job) -> std::result::Result<(), Job> {
        let started = self.background.get_or_init(|| {
            let (sender, jobs) = mpsc::channel::<Job>();
            thread::Builder::new()
                .name("skewless-reset".into())
                .spawn(move || {
                    run_when_idle();
                    for job in jobs {
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    }
                })
                .ok()
                .map(|_| (sender, forks::generation()))
        });
        match started {
            Some((sender, generation)) if *generation == forks::generation() => {
                sender.send(job).map_err(|unsent| unsent.0)
            }
            _ => Err(job),
        }
    }

    /// Units of room taken by kept instances (see [`Core::keep_idle`]).
    #[cfg(test)]
    pub(crate) fn kept_units(&self) -> usize {
        self.idle.load(Ordering::Acquire)
    }

    /// Takes room for one more instance kept between calls (put back to its
    /// initial state, or warm with `Config::reuse_instances`), with
    /// `memories` linear memories, if the pool has it. Kept instances hold
    /// their pool slots, and `max_instances` instances' slots must stay free
    /// for the calls that may run at once (they may all need a new
    /// instance, for a transform that keeps none), so kept instances are at
    /// most [`idle_capacity`] instances, holding at most that many
    /// instances' memory slots between them, whichever transforms they are
    /// of; past that, an ended instance is dropped. [`Core::forget_idle`]
    /// gives the room back.
    pub(crate) fn keep_idle(&self, memories: usize) -> bool {
        let capacity = idle_capacity(&self.config) * MEMORIES_PER_INSTANCE;
        let units = slots_held(memories);
        self.idle
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |kept| {
                (kept + units <= capacity).then_some(kept + units)
            })
            .is_ok()
    }

    /// Gives back the room of a kept instance with `memories` linear
    /// memories, taken for a call or dropped.
    pub(crate) fn forget_idle(&self, memories: usize) {
        self.idle.fetch_sub(slots_held(memories), Ordering::AcqRel);
    }
}

/// The memory slots a kept instance with `memories` memories is counted
/// for: at least an instance's share of the pool, so that kept instances
/// are also at most [`idle_capacity`] of the pool's instances.
fn slots_held(memories: usize) -> usize {
    memories.max(MEMORIES_PER_INSTANCE)
}

/// Memory slots the pool has per instance. A component may define more
/// (up to `sandbox::MAX_MEMORIES`), but then fewer of its instances run at
/// once, or are kept.
const MEMORIES_PER_INSTANCE: usize = 4;

/// Whether instances are kept between calls: put back to their initial
/// state (the default) or warm (`Config::reuse_instances`).
pub(crate) fn keeps_instances(config: &Config) -> bool {
    config.reuse_instances || !config.fresh_instances
}

/// How many instances of any component the pool holds: the calls that may
/// run at once, one more for loading a component (its `describe`), and,
/// when instances are kept between calls, [`idle_capacity`] of those.
fn pool_instances(config: &Config) -> usize {
    config.max_instances.max(1) + 1 + idle_capacity(config)
}

/// How many instances are kept between calls, at most, across a runtime's
/// transforms: three per call that may run at once, so that a server of a
/// few transforms keeps one ready for each of its calls.
fn idle_capacity(config: &Config) -> usize {
    if keeps_instances(config) {
        config.max_instances.max(1) * 3
    } else {
        0
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
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
    // Compiling in parallel runs on rayon's global thread pool, whose
    // threads a forked child does not have (see `Core::compile`): in a
    // child forked after a runtime was made, compile on the calling thread.
    // How code is compiled, not what it does.
    config.parallel_compilation(!forks::forked());
    // Every call starts from the component's initial state on a new
    // instance. The pooling allocator makes that cheap: slots of memory
    // are reserved once, a new instance maps the component's memory image
    // copy-on-write instead of copying it, and a finished instance's pages
    // are reset (up to `MEMORY_KEEP_RESIDENT` of them in place, the rest
    // given back to the system), so memory a call grew does not stay held.
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
/// between calls (when the kernel can scan for written pages). Sized for a
/// backfill's batches: a 65,536-row batch of the examples writes a few
/// MiB, and with 1 MiB kept the rest came back as page faults on every
/// call (clean 65,536-row batches 1.56x to 1.59x the time of reused ones;
/// 1.11x to 1.14x with 8 MiB, and no better with 16). A slot keeps only
/// the pages a call wrote, so a server whose calls are single rows holds
/// no more than before; at most this much per slot stays after a burst.
/// Every page a call wrote is reset by every later call on the slot, so
/// once 256 resets in place have passed since the slot last gave the
/// heap's pages back, a reset gives them back if the slot holds more than
/// an eighth (and a page) above what one call was seen to write, and in
/// any case after 4,096 (the vendored wasmtime's fourth change,
/// `vendor/README.md`): after a large batch, one-row calls would otherwise
/// pay for the batch's pages for as long as the slot lived.
const MEMORY_KEEP_RESIDENT: usize = 8 << 20;
/// Bytes of each table reset in place between calls.
const TABLE_KEEP_RESIDENT: usize = 64 << 10;

/// Whether a finished instance's memory is reset in place, only the pages
/// its call wrote (see [`pooling`]); if not, all of it is given back to the
/// system after every call, and the next call faults its pages in again.
pub(crate) fn resets_written_pages() -> bool {
    wasmtime::PoolingAllocationConfig::is_pagemap_scan_available()
}

/// The instance pool: room for [`pool_instances`] instances of any of the
/// runtime's components, each with the sandbox's caps.
fn pooling(limits: &Config) -> wasmtime::PoolingAllocationConfig {
    let instances = u32::try_from(pool_instances(limits)).unwrap_or(u32::MAX);
    // Resetting an instance's memory: where the kernel can say which pages
    // a call wrote (Linux 6.7's PAGEMAP_SCAN; the vendored wasmtime checks
    // once per process that it finds a page written for the purpose, its
    // fifth change in `vendor/README.md`), the first 8 MiB are reset in
    // place, page by written page, and stay resident (no page faults for
    // the next call, and no `madvise`, whose TLB flush reaches every CPU);
    // the rest, and everything without that scan, goes back to the system.
    let keep_resident = if resets_written_pages() {
        MEMORY_KEEP_RESIDENT
    } else {
        0
    };
    let mut pool = wasmtime::PoolingAllocationConfig::new();
    pool.total_component_instances(instances)
        .total_core_instances(instances.saturating_mul(sandbox::MAX_INSTANCES as u32))
        .total_memories(instances.saturating_mul(MEMORIES_PER_INSTANCE as u32))
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

/// A counting semaphore of instance slots: a call holds a [`Slot`] while
/// it runs, and waits for one when all are taken. Giving a
/// slot back wakes a waiter only when there is one: a condition
/// variable's notify is a system call even with nobody waiting (about a
/// microsecond on this project's machine, on every call).
pub(crate) struct Slots {
    state: Mutex<SlotCount>,
    freed: Condvar,
}

struct SlotCount {
    free: usize,
    waiting: usize,
}

/// A taken slot, given back when dropped.
pub(crate) struct Slot<'a>(&'a Slots);

impl Slots {
    fn new(count: usize) -> Self {
        Slots {
            state: Mutex::new(SlotCount {
                free: count.max(1),
                waiting: 0,
            }),
            freed: Condvar::new(),
        }
    }

    /// Takes a slot, waiting until one is free.
    pub(crate) fn take(&self) -> Slot<'_> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while state.free == 0 {
            state.waiting += 1;
            state = self.freed.wait(state).unwrap_or_else(|e| e.into_inner());
            state.waiting -= 1;
        }
        state.free -= 1;
        Slot(self)
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut state = self.0.state.lock().unwrap_or_else(|e| e.into_inner());
        state.free += 1;
        let waiting = state.waiting > 0;
        drop(state);
        if waiting {
            self.0.freed.notify_one();
        }
    }
}

/// Puts the calling thread under Linux's `SCHED_IDLE` policy (see
/// [`Core::in_background`]). Lowering one's own priority needs no
/// privilege; should it fail anyway, the thread runs as it was.
fn run_when_idle() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: `pthread_self` is this live thread, and `param` a valid
        // `sched_param` (`SCHED_IDLE` takes priority 0).
        unsafe { libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_IDLE, &param) };
    }
}

fn spawn_epoch_ticker(engine: wasmtime::EngineWeak, stop: Arc<AtomicBool>) -> io::Result<()> {
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
        .map(drop)
}

/// Which process this is, as far as the runtime's threads go: a child
/// forked from a process has none of its threads but the one that forked,
/// so a runtime's threads belong to the generation they were started in.
/// Counted by a `pthread_atfork` handler rather than by comparing
/// `getpid()`, a system call on every call.
mod forks {
    use std::sync::atomic::{AtomicU64, Ordering};

    /// How many forks lie between the process that installed the handler
    /// and this one (each child adds one to what its parent had).
    static GENERATION: AtomicU64 = AtomicU64::new(0);

    /// Installs the handler, once per process. Runs before any runtime's
    /// thread starts, so every fork after one may have started is counted.
    pub(super) fn watch() {
        #[cfg(unix)]
        {
            static WATCH: std::sync::Once = std::sync::Once::new();
            extern "C" fn in_child() {
                // An atomic add: safe in a child of a multithreaded parent.
                GENERATION.fetch_add(1, Ordering::Relaxed);
            }
            WATCH.call_once(|| {
                // SAFETY: `in_child` is a valid handler for the process's
                // lifetime and only makes an atomic add.
                let installed = unsafe { libc::pthread_atfork(None, None, Some(in_child)) };
                // It fails only for want of memory to record the handler.
                debug_assert_eq!(installed, 0, "pthread_atfork failed");
            });
        }
    }

    /// This process's generation (see [`watch`]).
    pub(super) fn generation() -> u64 {
        GENERATION.load(Ordering::Relaxed)
    }

    /// Whether this process was forked after a runtime was made (in it or
    /// in an ancestor).
    pub(super) fn forked() -> bool {
        generation() != 0
    }
}

/// Deadline in epoch ticks, rounded up.
pub(crate) fn deadline_ticks(deadline: Duration) -> u64 {
    deadline.as_nanos().div_ceil(EPOCH_TICK.as_nanos()).max(1) as u64
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The background thread runs under `SCHED_IDLE`.
    #[test]
    fn background_jobs_run_under_sched_idle() {
        let core = Core::new(Config::default()).unwrap();
        let (sender, policy) = mpsc::channel();
        let job: Job = Box::new(move || {
            let (mut policy, mut param) = (-1, libc::sched_param { sched_priority: 0 });
            // SAFETY: `pthread_self` is this live thread; the call writes
            // only the two locals.
            unsafe { libc::pthread_getschedparam(libc::pthread_self(), &mut policy, &mut param) };
            sender.send(policy).unwrap();
        });
        assert!(core.in_background(job).is_ok(), "the thread did not start");
        let policy = policy.recv_timeout(Duration::from_secs(60)).unwrap();
        assert_eq!(policy, libc::SCHED_IDLE);
    }
}
