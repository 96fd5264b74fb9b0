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
  skewless build fares               # then: the component, its sha256, verified on its sample";

/// Start a transform project: a transform (a row function with a doc
/// comment), sample data, and a native test of the function; a Rust crate,
/// or a Python module with `--python`.
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
        let files = if self.python {
            python_project(&name, &module)
        } else {
            rust_project(&name)
        };
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
        println!(
            "  {:<30} sample data, verified on every build",
            format!("{dir}/data/sample.csv")
        );
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
fn rust_project(name: &str) -> Vec<(String, String)> {
    let features = format!("{}Features", camel(name));
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
    let lib = format!(
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
    );
    vec![
        ("Cargo.toml".to_string(), manifest),
        (
            "Cargo.lock".to_string(),
            include_str!("../../../Cargo.lock").to_string(),
        ),
        ("src/lib.rs".to_string(), lib),
        ("data/sample.csv".to_string(), SAMPLE.to_string()),
        (
            ".gitignore".to_string(),
            "/target\n/.skewless\n".to_string(),
        ),
    ]
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

/// The files of a Python project named `name` (module `module`), by path.
fn python_project(name: &str, module: &str) -> Vec<(String, String)> {
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
        ("data/sample.csv".to_string(), SAMPLE.to_string()),
        (
            ".gitignore".to_string(),
            "/target\n/.skewless\n__pycache__/\n".to_string(),
        ),
    ]
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
