//! The subcommands, and the flags they share.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use skewless::{Config, NaiveTimestamps, Runtime, Transform};

pub mod build;
pub mod inspect;
pub mod new;
mod python;
pub mod run;
pub mod serve;
pub mod verify;

/// Sandbox limits and the compile cache, shared by every command that runs
/// a transform.
#[derive(Args, Debug, Clone)]
pub struct RuntimeArgs {
    /// CPU budget of each row, in fuel units (about one WebAssembly
    /// instruction each). A row that needs more fails, alone or in a batch.
    #[arg(long, value_name = "FUEL", default_value_t = skewless::DEFAULT_FUEL_PER_ROW, value_parser = positive::<u64>, help_heading = "Limits")]
    pub fuel_per_row: u64,

    /// Linear memory each instance may use, e.g. `256MiB`, `1GiB`.
    #[arg(long, value_name = "SIZE", default_value_t = Size(skewless::DEFAULT_MEMORY_LIMIT), help_heading = "Limits")]
    pub memory_limit: Size,

    /// Bytes a transform may return per batch, e.g. `256MiB`.
    #[arg(long, value_name = "SIZE", default_value_t = Size(skewless::DEFAULT_MAX_OUTPUT_BYTES), help_heading = "Limits")]
    pub max_output_bytes: Size,

    /// Directory of precompiled transforms [default: $XDG_CACHE_HOME/skewless
    /// or ~/.cache/skewless].
    #[arg(long, value_name = "DIR", help_heading = "Cache")]
    pub cache_dir: Option<PathBuf>,

    /// Compile the transform on every start instead of using the cache.
    #[arg(long, conflicts_with = "cache_dir", help_heading = "Cache")]
    pub no_cache: bool,

    /// Reuse warm instances between calls instead of starting every call
    /// from the component's initial state. Saves a few microseconds a call,
    /// but a transform that keeps state answers the same input differently
    /// depending on earlier calls, and one call's data stays in memory
    /// during the next: only for transforms known to keep none.
    #[arg(long, help_heading = "Limits")]
    pub reuse_instances: bool,

    /// Make a new instance for every call instead of putting the one an
    /// earlier call used back in place. Each call starts from the
    /// component's initial state either way; a new instance costs about
    /// twice as much. For comparing the two.
    #[arg(long, conflicts_with = "reuse_instances", help_heading = "Limits")]
    pub fresh_instances: bool,
}

/// How values in the data are read: shared by the commands that read data.
#[derive(Args, Debug, Clone)]
pub struct ValueArgs {
    /// What a timestamp without a time zone means: `refuse` it (it names the
    /// column and row) or take it as `utc`. The same rule for every file
    /// format and for requests.
    #[arg(long, value_name = "RULE", default_value = "refuse", value_parser = parse_naive, help_heading = "Values")]
    pub naive_timestamps: NaiveTimestamps,
}

impl Default for ValueArgs {
    fn default() -> Self {
        ValueArgs {
            naive_timestamps: NaiveTimestamps::Refuse,
        }
    }
}

fn parse_naive(text: &str) -> Result<NaiveTimestamps> {
    text.parse().map_err(anyhow::Error::msg)
}

impl RuntimeArgs {
    /// The library configuration these flags describe.
    pub fn config(&self, deadline: Option<Duration>) -> Config {
        let cache_dir = if self.no_cache {
            None
        } else {
            self.cache_dir.clone().or_else(skewless::default_cache_dir)
        };
        Config::default()
            .fuel_per_row(self.fuel_per_row)
            .memory_limit(self.memory_limit.0)
            .max_output_bytes(self.max_output_bytes.0)
            .deadline(deadline)
            .cache_dir(cache_dir)
    }

    /// A runtime with these limits, reading values by `values`' rules.
    pub fn runtime(&self, deadline: Option<Duration>, values: &ValueArgs) -> Result<Runtime> {
        self.runtime_with(deadline, values, skewless::default_max_instances())
    }

    /// A runtime with these limits, running at most `instances` calls at once.
    pub fn runtime_with(
        &self,
        deadline: Option<Duration>,
        values: &ValueArgs,
        instances: usize,
    ) -> Result<Runtime> {
        let config = self
            .config(deadline)
            .naive_timestamps(values.naive_timestamps)
            .max_instances(instances)
            .reuse_instances(self.reuse_instances)
            .fresh_instances(self.fresh_instances);
        Ok(Runtime::new(config)?)
    }

    /// A runtime with these limits, and `component` loaded into it.
    pub fn load(
        &self,
        component: &std::path::Path,
        deadline: Option<Duration>,
        values: &ValueArgs,
    ) -> Result<Transform> {
        load(&self.runtime(deadline, values)?, component)
    }
}

/// For an error the library traces to one of its settings (which its
/// message names by the library's name), the flag that changes it here,
/// e.g. ` (on the command line: `--fuel-per-row`)`.
pub fn flag_hint(error: &anyhow::Error) -> String {
    let setting = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<skewless::Error>())
        .and_then(skewless::Error::setting);
    match setting {
        Some(setting) => format!(" (on the command line: `{}`)", setting.flag()),
        None => String::new(),
    }
}

/// Loads `component` (the library's errors name the file).
pub fn load(runtime: &Runtime, component: &std::path::Path) -> Result<Transform> {
    Ok(runtime.load(component)?)
}

/// Parses a count that must be at least 1 (`--threads 0` is a mistake, not
/// a request for a default).
pub fn positive<T>(text: &str) -> Result<T>
where
    T: std::str::FromStr + PartialEq + From<u8>,
{
    match text.trim().parse::<T>() {
        Ok(value) if value != T::from(0) => Ok(value),
        _ => bail!("`{text}` is not a positive whole number"),
    }
}

/// A size in bytes, as flags take it (`256MiB`) and as help shows it, so a
/// default shown in `--help` comes from the library's constant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size(pub usize);

impl std::str::FromStr for Size {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<Size> {
        parse_size(text).map(Size)
    }
}

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (unit, size) in [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
            if self.0 >= size && self.0.is_multiple_of(size) {
                return write!(f, "{}{unit}", self.0 / size);
            }
        }
        write!(f, "{}", self.0)
    }
}

/// Parses `1024`, `64KiB`, `256MiB`, `1GiB` (also `KB`, `MB`, `GB` as
/// powers of 1000).
pub fn parse_size(text: &str) -> Result<usize> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .with_context(|| format!("`{text}` is not a size like `256MiB`"))?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" | "k" => 1 << 10,
        "mib" | "m" => 1 << 20,
        "gib" | "g" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        other => bail!("unknown size unit `{other}` (use B, KiB, MiB or GiB)"),
    };
    let bytes = number
        .checked_mul(multiplier)
        .with_context(|| format!("`{text}` is too large"))?;
    usize::try_from(bytes).with_context(|| format!("`{text}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::{parse_size, positive};

    #[test]
    fn counts_must_be_positive() {
        assert_eq!(positive::<usize>("4").unwrap(), 4);
        assert_eq!(positive::<u64>(" 12 ").unwrap(), 12);
        for bad in ["0", "-1", "many", ""] {
            let error = positive::<usize>(bad).unwrap_err().to_string();
            assert!(
                error.contains("not a positive whole number"),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn sizes_parse_with_binary_and_decimal_units() {
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert_eq!(parse_size("256MiB").unwrap(), 256 << 20);
        assert_eq!(parse_size("1 GiB").unwrap(), 1 << 30);
        assert_eq!(parse_size("2mb").unwrap(), 2_000_000);
        assert!(
            parse_size("12 parsecs")
                .unwrap_err()
                .to_string()
                .contains("`parsecs`")
        );
        assert!(parse_size("lots").is_err());
    }
}
