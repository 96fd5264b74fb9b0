//! [`Config`]: the limits and settings of a [`Runtime`](crate::Runtime).
//!
//! Fields are private: each setter says what its setting does and what
//! its default is, and the defaults are stated once, here, as the
//! `DEFAULT_*` constants the CLI and the Python package show in their help.

use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::spec::NaiveTimestamps;

/// Default of [`Config::fuel_per_row`]: 100 million instructions, roughly a
/// tenth of a second of computation, thousands of times what a typical
/// feature row needs.
pub const DEFAULT_FUEL_PER_ROW: u64 = 100_000_000;
/// Default of [`Config::memory_limit`]: 256 MiB.
pub const DEFAULT_MEMORY_LIMIT: usize = 256 << 20;
/// Default of [`Config::max_output_bytes`]: 256 MiB.
pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 256 << 20;
/// Default of [`Config::output_capture_bytes`]: 16 KiB.
pub const DEFAULT_OUTPUT_CAPTURE_BYTES: usize = 16 << 10;

/// Default of [`Config::max_instances`]: twice the CPUs available to the
/// process, and at least 4.
pub fn default_max_instances() -> usize {
    thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(2)
        * 2
}

/// Where the CLI and the Python package keep precompiled components unless
/// told otherwise: `$XDG_CACHE_HOME/skewless`, else `~/.cache/skewless`;
/// `None` when neither variable is set. (The library's own default is no
/// cache: see [`Config::cache_dir`].)
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("skewless"))
}

/// Limits and settings of a [`Runtime`](crate::Runtime), built with its
/// setters from `Config::default()`:
///
/// ```
/// use std::time::Duration;
/// let config = skewless::Config::default()
///     .fuel_per_row(10_000_000)
///     .deadline(Some(Duration::from_millis(50)));
/// # let _ = config;
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) fuel_per_row: u64,
    pub(crate) memory_limit: usize,
    pub(crate) max_output_bytes: usize,
    pub(crate) deadline: Option<Duration>,
    pub(crate) output_capture_bytes: usize,
    pub(crate) max_instances: usize,
    pub(crate) reuse_instances: bool,
    pub(crate) fresh_instances: bool,
    pub(crate) cache_dir: Option<PathBuf>,
    pub(crate) naive_timestamps: NaiveTimestamps,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            fuel_per_row: DEFAULT_FUEL_PER_ROW,
            memory_limit: DEFAULT_MEMORY_LIMIT,
            max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
            deadline: None,
            output_capture_bytes: DEFAULT_OUTPUT_CAPTURE_BYTES,
            max_instances: default_max_instances(),
            reuse_instances: false,
            fresh_instances: false,
            cache_dir: None,
            naive_timestamps: NaiveTimestamps::Refuse,
        }
    }
}

/// A setting of [`Config`], or an option of a
/// [`Backfill`](crate::backfill::Backfill), named in errors about it so
/// that each front end can say how to change it in its own terms (a CLI
/// flag, a Python keyword, a setter): the library never names a flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Setting {
    /// [`Config::fuel_per_row`]
    FuelPerRow,
    /// [`Config::memory_limit`]
    MemoryLimit,
    /// [`Config::max_output_bytes`]
    MaxOutputBytes,
    /// [`Config::deadline`]
    Deadline,
    /// [`Config::naive_timestamps`]
    NaiveTimestamps,
    /// [`Backfill::on_error`](crate::backfill::Backfill::on_error)
    OnError,
    /// [`Backfill::rejects`](crate::backfill::Backfill::rejects)
    Rejects,
    /// [`Backfill::events`](crate::backfill::Backfill::events): the events
    /// a transform that aggregates needs, and one that does not refuses.
    Events,
}

impl Setting {
    /// The setting's name in the library (its setter) and in the Python
    /// package (its keyword), e.g. `fuel_per_row`, `on_error`.
    pub fn name(self) -> &'static str {
        match self {
            Setting::FuelPerRow => "fuel_per_row",
            Setting::MemoryLimit => "memory_limit",
            Setting::MaxOutputBytes => "max_output_bytes",
            Setting::Deadline => "deadline",
            Setting::NaiveTimestamps => "naive_timestamps",
            Setting::OnError => "on_error",
            Setting::Rejects => "rejects",
            Setting::Events => "events",
        }
    }

    /// The setting on the `skewless` command line, e.g. `--fuel-per-row`.
    pub fn flag(self) -> &'static str {
        match self {
            Setting::FuelPerRow => "--fuel-per-row",
            Setting::MemoryLimit => "--memory-limit",
            Setting::MaxOutputBytes => "--max-output-bytes",
            Setting::Deadline => "--deadline-ms",
            Setting::NaiveTimestamps => "--naive-timestamps utc",
            Setting::OnError => "--on-error",
            Setting::Rejects => "--rejects FILE.jsonl",
            Setting::Events => "--events FILE",
        }
    }
}

impl Config {
    /// The CPU budget of each row, in fuel units (about one WebAssembly
    /// instruction each). A row that needs more fails, alone or in any
    /// batch. Default [`DEFAULT_FUEL_PER_ROW`]; must be positive.
    pub fn fuel_per_row(mut self, fuel: u64) -> Self {
        self.fuel_per_row = fuel;
        self
    }

    /// The linear memory one instance may grow to, in bytes. Default
    /// [`DEFAULT_MEMORY_LIMIT`]; from 64 KiB to 4 GiB.
    pub fn memory_limit(mut self, bytes: usize) -> Self {
        self.memory_limit = bytes;
        self
    }

    /// The bytes a transform may return from one call (all columns
    /// together). Default [`DEFAULT_MAX_OUTPUT_BYTES`].
    pub fn max_output_bytes(mut self, bytes: usize) -> Self {
        self.max_output_bytes = bytes;
        self
    }

    /// A wall-clock limit of one call, a backstop against hangs in
    /// serving. Default `None` (backfills are bounded by fuel alone); when
    /// set, it must be positive.
    pub fn deadline(mut self, deadline: Option<Duration>) -> Self {
        self.deadline = deadline;
        self
    }

    /// The bytes of a guest's stdout and stderr kept per call for error
    /// messages. Default [`DEFAULT_OUTPUT_CAPTURE_BYTES`].
    pub fn output_capture_bytes(mut self, bytes: usize) -> Self {
        self.output_capture_bytes = bytes;
        self
    }

    /// A directory of precompiled components, keyed by component sha256,
    /// engine version and configuration. Default `None`: every load
    /// compiles. (The CLI and the Python package use
    /// [`default_cache_dir`].)
    pub fn cache_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.cache_dir = dir;
        self
    }

    /// How many calls run at once (each on an instance of its own) across
    /// the runtime's transforms; a call beyond them waits. Memory is
    /// bounded by this times [`Config::memory_limit`], and one more instance
    /// per transform while a reset left to the background ends (see
    /// [`Config::reuse_instances`]). Default
    /// [`default_max_instances`]; 0 is taken as 1.
    pub fn max_instances(mut self, instances: usize) -> Self {
        self.max_instances = instances.max(1);
        self
    }

    /// Whether calls reuse warm instances. Default `false`: every call (a
    /// backfill batch, a request, an embedded call) starts from the
    /// component's initial state, so its answer cannot depend on what ran
    /// before, no call can read what an earlier one left in memory, and
    /// memory a call grew is given back when it ends. That state is an
    /// instance an earlier call used, put back in place when that call
    /// ended: the memory pages it wrote copied back from the component's
    /// image, memories and tables at their initial sizes, globals, tables
    /// and the component's own state as instantiation left them (see
    /// [`Config::fresh_instances`]). A reset that is slow beside its call
    /// (a Python transform's) is made on a background thread of the
    /// runtime, and the instance taken again only once it is done.
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

    /// Whether every call makes a new instance instead of taking one an
    /// earlier call used, put back to the component's initial state (see
    /// [`Config::reuse_instances`]). Default `false`. Both start every call
    /// from the same state; a new instance costs about twice the reset
    /// (instantiation, then teardown, on every call), so this is for
    /// comparing the two, or for ruling the reset out. Ignored with
    /// `reuse_instances`.
    pub fn fresh_instances(mut self, fresh: bool) -> Self {
        self.fresh_instances = fresh;
        self
    }

    /// What a timestamp without a time zone means in files, rows and
    /// batches. Default [`NaiveTimestamps::Refuse`]: such a timestamp is
    /// refused, naming its column (and row, for text), since taking it as
    /// UTC would be a guess.
    pub fn naive_timestamps(mut self, rule: NaiveTimestamps) -> Self {
        self.naive_timestamps = rule;
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let refuse = |setting: Setting, why: &str| {
            Err(Error::InvalidSetting {
                setting,
                reason: why.to_string(),
            })
        };
        if self.fuel_per_row == 0 {
            return refuse(Setting::FuelPerRow, "the fuel per row must be positive");
        }
        if self.memory_limit < (1 << 16) {
            return refuse(
                Setting::MemoryLimit,
                "the memory limit must be at least 64 KiB (one WebAssembly page)",
            );
        }
        if self.memory_limit > (4 << 30) {
            return refuse(
                Setting::MemoryLimit,
                "the memory limit must be at most 4 GiB (a 32-bit WebAssembly memory)",
            );
        }
        if self.deadline == Some(Duration::ZERO) {
            return refuse(Setting::Deadline, "the deadline must be positive");
        }
        Ok(())
    }
}
