//! The module that implements the `skewless new` command: a transform
//! project that builds, tests and verifies with no edits.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;

const EXAMPLES: &str = "\
Examples:
  skewless new fares                 # a Rust transform in ./fares
  skewless new features/fares        # in ./features/fares
  skewless new fares --python        # a Python one
  skewless new spend --aggregations  # features over each customer's recent payments
  skewless build fares               # then: the component, its sha256, verified on its sample";

/// Start a transform project: a transform (a row function with a doc
/// comment), sample data, and a native test of the function; a Rust crate,
/// or a Python module with `--python`. With `--aggregations`, the
/// transform also reads windows over each customer's past payments (its
/// events), with sample events beside the sample rows.
///
/// The project depends on the skewless-guest SDK of this skewless, through
/// `.skewless/skewless` (a link to these sources, which `skewless build`
/// restores on a fresh clone), so that it builds to the same bytes
/// wherever it is checked out. Refuses to write into a directory that
/// exists.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct NewCommand {
    /// The project's directory; its last part names the crate and the
    /// transform (lowercase letters, digits, `-` and `_`).
    #[arg(value_name = "NAME")]
    path: PathBuf,

    /// A Python transform instead of a Rust one.
    #[arg(long)]
    python: bool,

    /// A transform that also reads aggregates over windows of each
    /// customer's past payments (counts, sums, means over the last hour,
    /// day and week), kept by skewless for backfills and serving alike.
    #[arg(long)]
    aggregations: bool,

    /// The skewless sources whose SDK the project uses [default: the ones
    /// this binary was built from].
    #[arg(long, value_name = "DIR")]
    sdk: Option<PathBuf>,
}

/// Where a project links the skewless sources it uses, from its root.
pub const SDK_LINK: &str = ".skewless/skewless";

/// The skewless sources this binary was built from (or `given`): the root of
/// the repository, with `guest-sdk/` and `wit/`.
pub fn skewless_sources(given: Option<&Path>) -> Result<PathBuf> {
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let (root, said) = match given {
        Some(dir) => (dir.to_path_buf(), "given with --sdk"),
        None => match std::env::var_os("SKEWLESS_SDK") {
            Some(dir) => (PathBuf::from(dir), "given by SKEWLESS_SDK"),
            None => (built_from, "this skewless was built from"),
        },
    };
    let root = root.canonicalize().unwrap_or(root);
    if !root.join("guest-sdk/Cargo.toml").is_file() || !root.join("wit").is_dir() {
        bail!(
            "the skewless sources {said} are not at `{}` (no guest-sdk/ and wit/ there); \
             point at a skewless checkout with `--sdk DIR` or SKEWLESS_SDK=DIR",
            root.display()
        );
    }
    Ok(root)
}

/// Makes `dir/.skewless/skewless` a link to `sources`, unless it already is.
pub fn link_sdk(dir: &Path, sources: &Path) -> Result<()> {
    let link = dir.join(SDK_LINK);
    if std::fs::read_link(&link).is_ok_and(|target| target == sources) && link.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(link.parent().expect("the link is in a directory"))
        .with_context(|| format!("cannot create `{}`", dir.join(".skewless").display()))?;
    if std::fs::symlink_metadata(&link).is_ok() {
        std::fs::remove_file(&link)
            .with_context(|| format!("cannot replace the link `{}`", link.display()))?;
    }
    #[cfg(unix)]
    std::os::unix::fs::symlink(sources, &link).with_context(|| {
        format!(
            "cannot link `{}` to `{}`",
            link.display(),
            sources.display()
        )
    })?;
    #[cfg(not(unix))]
    bail!(
        "linking `{}` to the skewless sources needs a Unix system; link it by hand",
        link.display()
    );
    #[cfg(unix)]
    Ok(())
}

impl NewCommand {
    /// Writes the project.
    pub fn execute(self) -> Result<ExitCode> {
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        check_name(&name)?;
        if self.path.exists() {
            bail!(
                "`{}` already exists; choose a new directory (skewless new does not write into \
                 an existing one)",
                self.path.display()
            );
        }
        let sources = skewless_sources(self.sdk.as_deref())?;
        let module = name.replace('-', "_");
        let mut files = if self.python {
            python_project(&name, &module, self.aggregations)
        } else {
            rust_project(&name, self.aggregations)
        };
        if self.aggregations {
            files.push(("data/events.csv".to_string(), EVENTS.to_string()));
        }
        for (relative, contents) in &files {
            let path = self.path.join(relative);
            std::fs::create_dir_all(path.parent().expect("files are in the project"))
                .with_context(|| format!("cannot create `{}`", self.path.display()))?;
            std::fs::write(&path, contents)
                .with_context(|| format!("cannot write `{}`", path.display()))?;
        }
        link_sdk(&self.path, &sources)?;
        let dir = self.path.display();
        let (language, lines, component, test) = if self.python {
            (
                "Python",
                vec![
                    (format!("{module}.py"), "the transform"),
                    (format!("test_{module}.py"), "a test of it (pytest)"),
                ],
                format!("target/{module}.wasm"),
                "python -m pytest",
            )
        } else {
            (
                "Rust",
                vec![("src/lib.rs".to_string(), "the transform, and a test of it")],
                format!("target/wasm32-wasip2/release/{module}.wasm"),
                "cargo test",
            )
        };
        println!("created `{dir}`: a {language} transform `{name}`");
        for (file, what) in lines {
            println!("  {:<30} {what}", format!("{dir}/{file}"));
        }
        if self.aggregations {
            println!(
                "  {:<30} sample payments to score, verified on every build",
                format!("{dir}/data/sample.csv")
            );
            println!(
                "  {:<30} sample past payments, the events the windows hold",
                format!("{dir}/data/events.csv")
            );
        } else {
            println!(
                "  {:<30} sample data, verified on every build",
                format!("{dir}/data/sample.csv")
            );
        }
        println!(
            "  {:<30} the SDK: {}",
            format!("{dir}/{SDK_LINK}"),
            sources.display()
        );
        println!();
        println!("next:");
        println!(
            "  skewless build {dir}    # the component and its sha256, verified on the sample"
        );
        if self.aggregations {
            println!(
                "  skewless run {dir}/{component} --input {dir}/data/sample.csv --events \
                 {dir}/data/events.csv --output features.parquet"
            );
        }
        println!("  skewless serve {dir}/{component}");
        println!("  (cd {dir} && {test})    # the transform's test, natively");
        Ok(ExitCode::SUCCESS)
    }
}

/// The rule for transform names (`TransformInfo::validate`), said up front.
fn check_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        bail!(
            "`{name}` cannot name a transform: use 1 to 64 lowercase letters, digits, `-` and \
             `_`, starting with a letter (e.g. `trip-fares`)"
        );
    }
    Ok(())
}

/// `trip-fares` as `TripFares`.
fn camel(name: &str) -> String {
    name.split(['-', '_'])
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The files of a Rust project named `name`, by path.
fn rust_project(name: &str, aggregations: bool) -> Vec<(String, String)> {
    let manifest = format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
# cdylib: the WebAssembly component (`skewless build`); rlib: the same
# function, callable natively from tests.
crate-type = ["cdylib", "rlib"]

[dependencies]
# The SDK of the skewless that made this project, through a link inside the
# project (`skewless build` restores it), so that no path of this machine
# reaches the component.
skewless-guest = {{ path = "{SDK_LINK}/guest-sdk" }}

# Small components, and the same bytes from the same source wherever they
# are built: one codegen unit (several name symbols after object paths),
# no debug info (it holds absolute paths).
[profile.release]
codegen-units = 1
debug = false
strip = "debuginfo"
"#
    );
    let lib = if aggregations {
        rust_aggregating_lib(name)
    } else {
        rust_lib(name)
    };
    vec![
        ("Cargo.toml".to_string(), manifest),
        (
            "Cargo.lock".to_string(),
            include_str!("../../../Cargo.lock").to_string(),
        ),
        ("src/lib.rs".to_string(), lib),
        (
            "data/sample.csv".to_string(),
            sample(aggregations).to_string(),
        ),
        (
            ".gitignore".to_string(),
            "/target\n/.skewless\n".to_string(),
        ),
    ]
}

/// The transform of a Rust project: a row function.
fn rust_lib(name: &str) -> String {
    let features = format!("{}Features", camel(name));
    format!(
        r#"//! `{name}`: a skewless feature transform.
//!
//! `skewless build` makes the component and prints its sha256; `skewless
//! run target/wasm32-wasip2/release/{file}.wasm --input data/sample.csv
//! --output features.parquet` backfills; `skewless serve` serves it.

use skewless_guest::{{Features, Timestamp, transform}};

/// Features of a payment: the log of its amount, the hour of the day it was
/// made (UTC) and whether that day was a Saturday or Sunday.
#[transform(name = "{name}", version = "0.1.0")]
pub fn features(amount: f64, paid_at: Timestamp) -> {features} {{
    {features} {{
        log_amount: (1.0 + amount).ln(),
        hour: i64::from(paid_at.hour()),
        is_weekend: paid_at.is_weekend(),
    }}
}}

/// The features of one payment: the output columns.
#[derive(Features, Debug, PartialEq)]
pub struct {features} {{
    /// `ln(1 + amount)`.
    pub log_amount: f64,
    /// Hour of the day, 0 to 23, in UTC.
    pub hour: i64,
    /// Whether it was a Saturday or Sunday, in UTC.
    pub is_weekend: bool,
}}

#[cfg(test)]
mod tests {{
    use super::*;

    #[test]
    fn a_saturday_night_payment() {{
        // 2026-03-07T23:30:00Z, a Saturday.
        let paid_at = Timestamp::from_micros(1_772_926_200_000_000);
        let got = features(12.5, paid_at);
        assert_eq!(got.hour, 23);
        assert!(got.is_weekend);
        assert_eq!(got.log_amount, 13.5_f64.ln());
    }}
}}
"#,
        file = name.replace('-', "_")
    )
}

/// The transform of a Rust project with `--aggregations`: events, windows
/// over them, and a row function that reads both.
fn rust_aggregating_lib(name: &str) -> String {
    let features = format!("{}Features", camel(name));
    format!(
        r#"//! `{name}`: a skewless feature transform over each customer's recent
//! payments.
//!
//! Each past payment is an event (`payment`); skewless keeps the windows
//! over them (`Recent`), the same way for a backfill and for serving; the
//! row function turns them and the payment being scored into features.
//!
//! `skewless build` makes the component and prints its sha256 (verified on
//! data/sample.csv with data/events.csv); `skewless run
//! target/wasm32-wasip2/release/{file}.wasm --input data/sample.csv
//! --events data/events.csv --output features.parquet` backfills;
//! `skewless serve` serves it, with events posted to `/v1/events/{name}`.

use skewless_guest::{{Aggregates, Features, events, transform}};

/// What one past payment gives the windows.
#[derive(Features, Debug, PartialEq)]
pub struct Payment {{
    pub amount: f64,
}}

/// A customer's past payment: the events, keyed by `customer_id` and
/// ordered by `paid_at`.
#[events(key = "customer_id", time = "paid_at")]
pub fn payment(amount: f64) -> Payment {{
    Payment {{ amount }}
}}

/// The customer's payments before the one being scored (which never counts
/// in its own features).
#[derive(Aggregates, Debug)]
#[aggregates(events = payment)]
pub struct Recent {{
    /// Payments in the last hour.
    #[aggregate(count, window = "1h")]
    pub count_1h: i64,
    /// Their amount in the last day (0 when none).
    #[aggregate(sum(amount), window = "24h")]
    pub amount_sum_24h: f64,
    /// The mean amount over the last week (none when no payment).
    #[aggregate(mean(amount), window = "7d")]
    pub amount_mean_7d: Option<f64>,
    /// Seconds since the last payment within the week.
    #[aggregate(seconds_since_last, window = "7d")]
    pub seconds_since_last: Option<f64>,
}}

/// Features of a payment from the customer's recent payments: how many in
/// the last hour, how much in the last day, how far this amount is above
/// the week's mean, and how long since the last one.
#[transform(name = "{name}", version = "0.1.0")]
pub fn features(amount: f64, #[aggregates] recent: Recent) -> {features} {{
    {features} {{
        payments_1h: recent.count_1h,
        amount_sum_24h: recent.amount_sum_24h,
        amount_above_mean_7d: recent.amount_mean_7d.map(|mean| amount - mean),
        seconds_since_last: recent.seconds_since_last,
    }}
}}

/// The features of one payment: the output columns.
#[derive(Features, Debug, PartialEq)]
pub struct {features} {{
    pub payments_1h: i64,
    pub amount_sum_24h: f64,
    pub amount_above_mean_7d: Option<f64>,
    pub seconds_since_last: Option<f64>,
}}

#[cfg(test)]
mod tests {{
    use super::*;

    #[test]
    fn a_payment_after_two_others_within_the_hour() {{
        let recent = Recent {{
            count_1h: 2,
            amount_sum_24h: 68.2,
            amount_mean_7d: Some(26.425),
            seconds_since_last: Some(1500.0),
        }};
        let got = features(42.0, recent);
        assert_eq!(got.payments_1h, 2);
        assert_eq!(got.amount_above_mean_7d, Some(42.0 - 26.425));
    }}

    #[test]
    fn a_first_payment() {{
        let recent = Recent {{
            count_1h: 0,
            amount_sum_24h: 0.0,
            amount_mean_7d: None,
            seconds_since_last: None,
        }};
        assert_eq!(features(7.8, recent).amount_above_mean_7d, None);
    }}
}}
"#,
        file = name.replace('-', "_")
    )
}

/// The sample data of a new project: the payments to score.
fn sample(aggregations: bool) -> &'static str {
    if aggregations {
        AGGREGATING_SAMPLE
    } else {
        SAMPLE
    }
}

/// The sample payments of a new project.
const SAMPLE: &str = "\
payment_id,amount,paid_at
p-0001,12.50,2026-03-02T00:10:43Z
p-0002,230.00,2026-03-02T08:45:00Z
p-0003,5.25,2026-03-03T12:00:00Z
p-0004,99.99,2026-03-04T18:30:15Z
p-0005,1250.00,2026-03-05T23:59:59Z
p-0006,0.00,2026-03-06T06:00:00Z
p-0007,42.00,2026-03-07T10:20:30Z
p-0008,18.75,2026-03-07T23:30:00Z
p-0009,640.10,2026-03-08T14:05:00Z
p-0010,7.80,2026-03-08T21:40:00+01:00
p-0011,315.00,2026-03-09T09:15:00-05:00
p-0012,56.40,2026-03-10T03:33:33Z
";

/// The payments to score of a project with `--aggregations`: customers
/// with payments in the hour, day and week before, one whose last was over
/// a week before, one never seen, and a payment at the same time as one of
/// the events.
const AGGREGATING_SAMPLE: &str = "\
payment_id,customer_id,paid_at,amount
p-0001,c-001,2026-03-05T09:00:00Z,42.00
p-0002,c-001,2026-03-08T06:30:00Z,18.75
p-0003,c-002,2026-03-02T13:05:00Z,5.00
p-0004,c-002,2026-03-06T07:45:00Z,980.00
p-0005,c-002,2026-03-10T08:00:00Z,60.00
p-0006,c-003,2026-03-08T15:00:00Z,12.00
p-0007,c-003,2026-03-01T10:00:00Z,99.99
p-0008,c-004,2026-03-05T00:45:00Z,250.00
p-0009,c-005,2026-03-06T11:11:11Z,7.80
p-0010,c-001,2026-03-01T09:12:00Z,25.00
p-0011,c-004,2026-03-11T12:00:00Z,15.00
p-0012,c-001,2026-03-04T18:30:00Z,9.99
";

/// The past payments of a project with `--aggregations`: the events.
const EVENTS: &str = "\
customer_id,paid_at,amount
c-001,2026-03-01T09:12:00Z,25.00
c-001,2026-03-03T18:40:00Z,12.50
c-001,2026-03-05T08:05:00Z,60.00
c-001,2026-03-05T08:35:00Z,8.20
c-001,2026-03-07T22:10:00Z,140.00
c-001,2026-03-08T06:00:00Z,33.00
c-002,2026-03-02T12:00:00Z,5.00
c-002,2026-03-02T12:20:00Z,5.00
c-002,2026-03-02T12:45:00Z,5.00
c-002,2026-03-06T07:30:00Z,1200.00
c-002,2026-03-09T19:15:00+01:00,75.25
c-003,2026-02-20T10:00:00Z,80.00
c-003,2026-03-08T14:00:00Z,45.60
c-004,2026-03-04T23:59:59Z,310.00
c-004,2026-03-05T00:30:00Z,0.99
";

/// The files of a Python project named `name` (module `module`), by path.
fn python_project(name: &str, module: &str, aggregations: bool) -> Vec<(String, String)> {
    let (transform, test) = if aggregations {
        python_aggregating_module(name, module)
    } else {
        python_module(name, module)
    };
    let conftest = r#""""Makes the SDK of the skewless that made this project importable in
tests (through .skewless/skewless, which `skewless build` restores), unless
skewless-guest is installed."""

import pathlib
import sys

try:
    import skewless_guest  # noqa: F401
except ImportError:
    sys.path.insert(0, str(pathlib.Path(__file__).parent / ".skewless/skewless/guest-sdk-python"))
"#;
    vec![
        (format!("{module}.py"), transform),
        (format!("test_{module}.py"), test),
        ("conftest.py".to_string(), conftest.to_string()),
        (
            "data/sample.csv".to_string(),
            sample(aggregations).to_string(),
        ),
        (
            ".gitignore".to_string(),
            "/target\n/.skewless\n__pycache__/\n".to_string(),
        ),
    ]
}

/// The transform of a Python project and its test: a row function.
fn python_module(name: &str, module: &str) -> (String, String) {
    let features = format!("{}Features", camel(name));
    let transform = format!(
        r#""""`{name}`: a skewless feature transform.

`skewless build` makes the component (verifying it on data/sample.csv) and
prints its sha256; `skewless run target/{module}.wasm --input
data/sample.csv --output features.parquet` backfills; `skewless serve
target/{module}.wasm` serves it.
"""

import math
from dataclasses import dataclass
from datetime import datetime

from skewless_guest import transform


@dataclass
class {features}:
    """The features of one payment: the output columns."""

    log_amount: float
    hour: int
    is_weekend: bool


@transform(name="{name}", version="0.1.0")
def features(amount: float, paid_at: datetime) -> {features}:
    """Features of a payment: the log of its amount, the hour of the day it
    was made (UTC) and whether that day was a Saturday or Sunday."""
    return {features}(
        log_amount=math.log(1.0 + amount),
        hour=paid_at.hour,
        is_weekend=paid_at.weekday() >= 5,
    )
"#
    );
    let test = format!(
        r#""""The transform's own test, natively: `python -m pytest`."""

import math
from datetime import datetime, timezone

from {module} import features


def test_a_saturday_night_payment():
    got = features(12.5, datetime(2026, 3, 7, 23, 30, tzinfo=timezone.utc))
    assert got.hour == 23
    assert got.is_weekend
    assert got.log_amount == math.log(13.5)
"#
    );
    (transform, test)
}

/// The transform of a Python project with `--aggregations` and its test:
/// events, windows over them, and a row function that reads both.
fn python_aggregating_module(name: &str, module: &str) -> (String, String) {
    let features = format!("{}Features", camel(name));
    let transform = format!(
        r#""""`{name}`: a skewless feature transform over each customer's recent
payments.

Each past payment is an event (`payment`); skewless keeps the windows over
them (`Recent`), the same way for a backfill and for serving; the row
function turns them and the payment being scored into features.

`skewless build` makes the component (verifying it on data/sample.csv with
data/events.csv) and prints its sha256; `skewless run target/{module}.wasm
--input data/sample.csv --events data/events.csv --output
features.parquet` backfills; `skewless serve target/{module}.wasm` serves
it, with events posted to `/v1/events/{name}`.
"""

from dataclasses import dataclass
from typing import Annotated, Optional

from skewless_guest import agg, aggregates, events, transform


@dataclass
class Payment:
    """What one past payment gives the windows."""

    amount: float


@events(key="customer_id", time="paid_at")
def payment(amount: float) -> Payment:
    """A customer's past payment: the events, keyed by `customer_id` and
    ordered by `paid_at`."""
    return Payment(amount)


@aggregates(events=payment)
@dataclass
class Recent:
    """The customer's payments before the one being scored (which never
    counts in its own features)."""

    count_1h: Annotated[int, agg.count(window="1h")]
    amount_sum_24h: Annotated[float, agg.sum("amount", window="24h")]
    amount_mean_7d: Annotated[Optional[float], agg.mean("amount", window="7d")]
    seconds_since_last: Annotated[Optional[float], agg.seconds_since_last(window="7d")]


@dataclass
class {features}:
    """The features of one payment: the output columns."""

    payments_1h: int
    amount_sum_24h: float
    amount_above_mean_7d: Optional[float]
    seconds_since_last: Optional[float]


@transform(name="{name}", version="0.1.0")
def features(amount: float, recent: Recent) -> {features}:
    """Features of a payment from the customer's recent payments: how many
    in the last hour, how much in the last day, how far this amount is above
    the week's mean, and how long since the last one."""
    mean = recent.amount_mean_7d
    return {features}(
        payments_1h=recent.count_1h,
        amount_sum_24h=recent.amount_sum_24h,
        amount_above_mean_7d=None if mean is None else amount - mean,
        seconds_since_last=recent.seconds_since_last,
    )
"#
    );
    let test = format!(
        r#""""The transform's own test, natively: `python -m pytest`."""

from {module} import Recent, features


def test_a_payment_after_two_others_within_the_hour():
    got = features(42.0, Recent(count_1h=2, amount_sum_24h=68.2, amount_mean_7d=26.425, seconds_since_last=1500.0))
    assert got.payments_1h == 2
    assert got.amount_above_mean_7d == 42.0 - 26.425


def test_a_first_payment():
    got = features(7.8, Recent(count_1h=0, amount_sum_24h=0.0, amount_mean_7d=None, seconds_since_last=None))
    assert got.amount_above_mean_7d is None
"#
    );
    (transform, test)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_rust_names() {
        assert_eq!(camel("trip-fares"), "TripFares");
        assert_eq!(camel("fares"), "Fares");
        assert_eq!(camel("a_b-c"), "ABC");
    }

    #[test]
    fn names_follow_the_transform_rule() {
        assert!(check_name("trip-fares").is_ok());
        for bad in ["Fares", "9lives", "", "trip fares"] {
            let error = check_name(bad).unwrap_err().to_string();
            assert!(error.contains("cannot name a transform"), "{error}");
        }
    }
}
