//! The module that implements the `skewless build` command: a transform
//! project to a component, reproducibly, and its identity.
//!
//! A transform's sha256 is its identity: the pin that connects a served
//! component to the training data it made. So a rebuild from the same
//! source, lockfile and toolchain must give the same bytes wherever it
//! happens. What stands in the way, and what this does about it:
//!
//! - Several codegen units let LLVM name promoted symbols after the object
//!   files' paths (`.llvm.1753...`): one codegen unit
//!   (`CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1`).
//! - Debug info records absolute paths: none (`CARGO_PROFILE_RELEASE_DEBUG`).
//! - Panic locations in dependencies name their files by absolute path (the
//!   cargo registry under `CARGO_HOME`, the target directory for generated
//!   code, the project itself): `--remap-path-prefix` for each. The flags
//!   reach rustc through skewless itself as `RUSTC_WRAPPER` (it appends
//!   them, and runs a wrapper the user already had), because setting
//!   `RUSTFLAGS` would replace the user's own rustflags from their cargo
//!   configuration rather than add to them.
//! - Cargo hashes a path dependency outside the project by its absolute
//!   path into every symbol of the crates that use it, so the SDK is a path
//!   inside the project: `skewless new` links `.skewless/skewless` to the
//!   skewless sources the binary came with, and this command restores the
//!   link when it is missing (a fresh clone).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::json;

use super::new::{SDK_LINK, link_sdk, skewless_sources};

const EXAMPLES: &str = "\
Examples:
  skewless build                     # the project in this directory
  skewless build fares               # the project in ./fares
  skewless build examples/fraud-features --json";

/// Build a transform project into a WebAssembly component, reproducibly,
/// and print its path, name, version, size and sha256.
///
/// The same source, lockfile and toolchain give the same bytes wherever the
/// project is checked out and whatever the target directory, so the sha256
/// pins the source a model was trained with. When the project has sample
/// data (`data/sample.csv`, `.parquet`, `.jsonl` or `.arrow`), the new
/// component is verified on it (`skewless verify`), with the sample events
/// in `data/events.*` for a transform that aggregates them. Installs the
/// wasm32-wasip2 target when it is missing.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct BuildCommand {
    /// The project directory [default: the current directory].
    #[arg(value_name = "DIR")]
    dir: Option<PathBuf>,

    /// Print the result as JSON (on stdout; cargo's progress stays on stderr).
    #[arg(long)]
    json: bool,

    /// Do not verify the component on the project's sample data.
    #[arg(long)]
    no_verify: bool,

    #[command(flatten)]
    runtime: super::RuntimeArgs,
}

/// The environment variable that turns `skewless` into a rustc wrapper: it
/// holds the `--remap-path-prefix` flags to add, separated by `\x1f`.
const REMAP_ENV: &str = "SKEWLESS_RUSTC_REMAP";
/// The rustc wrapper the user had, which the wrapper runs in turn.
const INNER_WRAPPER_ENV: &str = "SKEWLESS_INNER_RUSTC_WRAPPER";
const TARGET: &str = "wasm32-wasip2";

/// When cargo runs this binary as `RUSTC_WRAPPER` for `skewless build`:
/// runs rustc (or the user's own wrapper) with the remapping flags added,
/// and returns its exit code. `None` in every other case.
pub fn run_as_rustc_wrapper() -> Option<ExitCode> {
    let remaps = std::env::var_os(REMAP_ENV)?;
    let mut args = std::env::args_os().skip(1);
    let rustc = args.next()?;
    let mut command = match std::env::var_os(INNER_WRAPPER_ENV).filter(|w| !w.is_empty()) {
        Some(inner) => {
            let mut command = Command::new(inner);
            command.arg(rustc);
            command
        }
        None => Command::new(rustc),
    };
    command.args(args);
    for flag in remaps.to_string_lossy().split('\x1f') {
        command.arg(flag);
    }
    let status = match command.status() {
        Ok(status) => status,
        Err(error) => {
            eprintln!("error: skewless could not run rustc: {error}");
            return Some(ExitCode::FAILURE);
        }
    };
    Some(ExitCode::from(
        status.code().unwrap_or(1).clamp(0, 255) as u8
    ))
}

/// What was built.
pub(super) struct Built {
    pub(super) component: PathBuf,
    pub(super) transform: skewless::Transform,
    pub(super) size: u64,
    /// Why the bytes are not reproducible, when they are not.
    pub(super) not_reproducible: Option<&'static str>,
}

impl BuildCommand {
    /// Builds, describes and (with sample data) verifies the component.
    pub fn execute(self) -> Result<ExitCode> {
        let dir = self.dir.clone().unwrap_or_else(|| PathBuf::from("."));
        let runtime = self.runtime.runtime(None, &super::ValueArgs::default())?;
        let built = build(&dir, &runtime)?;
        let transform = &built.transform;
        // An aggregating transform is verified with sample events; without
        // them, the build says why it was not verified rather than failing.
        let mut not_verified = None;
        let verified = match sample_data(&dir, "sample") {
            Some(_) if self.no_verify => None,
            Some(sample) if transform.info().aggregation.is_none() => {
                Some((sample.clone(), verify(&built, &sample, None)?))
            }
            Some(sample) => match sample_data(&dir, "events") {
                Some(events) => Some((sample.clone(), verify(&built, &sample, Some(&events))?)),
                None => {
                    not_verified = Some(format!(
                        "`{}` aggregates events, and the project has no sample events beside \
                         `{}`: add them as `{}` (or .parquet, .jsonl, .arrow) to verify on \
                         every build",
                        transform.name(),
                        sample.display(),
                        sample.with_file_name("events.csv").display()
                    ));
                    None
                }
            },
            None => None,
        };
        if self.json {
            let value = json!({
                "component": built.component.display().to_string(),
                "name": transform.name(),
                "version": transform.version(),
                "size": built.size,
                "sha256": transform.sha256(),
                "reproducible": built.not_reproducible.is_none(),
                "verified_on": verified.as_ref().map(|(sample, verified)| json!({
                    "file": sample.display().to_string(),
                    "passed": verified.passed,
                    "rejected_rows": verified.rejected,
                    "said": verified.said,
                })),
                "not_verified": not_verified,
            });
            println!("{}", serde_json::to_string_pretty(&value)?);
        } else {
            println!("built {} {}", transform.name(), transform.version());
            println!("  component  {}", built.component.display());
            println!("  size       {}", thousands(built.size));
            println!("  sha256     {}", transform.sha256());
            if let Some(why) = built.not_reproducible {
                println!("  note       not reproducible: {why}");
            }
            if let Some((sample, verified)) = &verified {
                println!("  verified   {}: {}", sample.display(), verified.said);
            }
            if let Some(why) = &not_verified {
                println!("  verified   no: {why}");
            }
        }
        match verified {
            Some((_, verified)) if !verified.passed => Ok(ExitCode::FAILURE),
            _ => Ok(ExitCode::SUCCESS),
        }
    }
}

/// `102400` as `102,400 bytes`.
fn thousands(bytes: u64) -> String {
    let digits = bytes.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    format!("{out} bytes")
}

/// The project's sample data, `data/STEM.*` (`sample`, or `events` for an
/// aggregating transform's events), if it has one.
fn sample_data(dir: &Path, stem: &str) -> Option<PathBuf> {
    let data = if dir == Path::new(".") {
        PathBuf::from("data")
    } else {
        dir.join("data")
    };
    ["csv", "parquet", "jsonl", "arrow"]
        .iter()
        .map(|extension| data.join(format!("{stem}.{extension}")))
        .find(|path| path.is_file())
}

fn verify(built: &Built, sample: &Path, events: Option<&Path>) -> Result<Verified> {
    let mut verify = skewless::verify::Verify::new(&built.transform, sample);
    if let Some(events) = events {
        verify = verify.events(events);
    }
    let report = verify.run().with_context(|| {
        format!(
            "cannot verify `{}` on its sample data `{}`",
            built.component.display(),
            sample.display()
        )
    })?;
    Ok(verdict(&report))
}

/// The build's line about a verification on the sample data.
fn verdict(report: &skewless::verify::VerifyReport) -> Verified {
    Verified {
        passed: report.passed(),
        said: if report.passed() {
            match &report.first_rejected {
                None => "every output bit identical on every path".into(),
                Some((_, message)) => format!(
                    "every output bit identical on every path, and {} of {} rows rejected the \
                     same way on every path (the first: {message})",
                    report.rejected, report.rows
                ),
            }
        } else if report.rows == 0 {
            "NOTHING VERIFIED: the sample has no rows".into()
        } else if report.compared_rows() == 0 {
            let (_, message) = report.first_rejected.as_ref().expect("rows were rejected");
            format!(
                "NOTHING VERIFIED: the transform rejected every one of its {} rows (the first: \
                 {message})",
                report.rows
            )
        } else {
            "MISMATCH (run `skewless verify` for the details)".into()
        },
        rejected: report.rejected,
    }
}

/// What verifying on the sample data found.
struct Verified {
    passed: bool,
    /// The build's line about it.
    said: String,
    rejected: u64,
}

/// Builds the transform project in `dir`: Rust when it has a Cargo.toml,
/// Python when one of its modules imports `skewless_guest`.
fn build(dir: &Path, runtime: &skewless::Runtime) -> Result<Built> {
    if !dir.is_dir() {
        bail!(
            "`{}` is not a directory with a transform project",
            dir.display()
        );
    }
    let shown_dir = dir;
    let dir = &dir.canonicalize()?;
    let manifest = dir.join("Cargo.toml");
    if manifest.is_file() {
        return build_rust(dir, &manifest, runtime);
    }
    match super::python::transform_module(dir)? {
        Some(module) => {
            let python = super::python::build(dir, shown_dir, &module)?;
            let mut built = built(python.component, &module, &python.source, runtime)?;
            built.not_reproducible = Some(super::python::NOT_REPRODUCIBLE);
            Ok(built)
        }
        None => bail!(
            "`{}` has no transform: no Cargo.toml (Rust) and no Python module that imports \
             skewless_guest; start one with `skewless new NAME` (or `--python`)",
            shown_dir.display()
        ),
    }
}

/// The loaded component at `component`, as built: its size and declaration.
pub(super) fn built(
    component: PathBuf,
    what: &str,
    source: &Path,
    runtime: &skewless::Runtime,
) -> Result<Built> {
    let size = std::fs::metadata(&component)
        .with_context(|| format!("the build made no `{}`", component.display()))?
        .len();
    let transform = runtime.load(&component).map_err(|error| {
        // A declaration skewless refuses (a sum of text) is the user's to
        // fix in the source, not a missing transform.
        let refused = error.to_string().contains("its `describe` is invalid");
        anyhow::Error::new(error).context(if refused {
            format!(
                "`{what}` built, but what `{}` declares is refused",
                source.display()
            )
        } else {
            format!(
                "`{what}` built, but is not a transform: does `{}` declare one?",
                source.display()
            )
        })
    })?;
    let shown = component
        .strip_prefix(std::env::current_dir().unwrap_or_default())
        .map(Path::to_path_buf)
        .unwrap_or(component);
    Ok(Built {
        component: shown,
        transform,
        size,
        not_reproducible: None,
    })
}

/// Builds the Rust transform crate of `manifest`.
fn build_rust(dir: &Path, manifest: &Path, runtime: &skewless::Runtime) -> Result<Built> {
    let uses_link = std::fs::read_to_string(manifest)
        .with_context(|| format!("cannot read `{}`", manifest.display()))?
        .contains(SDK_LINK);
    if uses_link {
        link_sdk(dir, &skewless_sources(None)?)?;
    }
    let metadata = cargo_metadata(manifest)?;
    let package = transform_package(&metadata, manifest)?;
    ensure_target(dir)?;
    let target_dir = PathBuf::from(
        metadata["target_directory"]
            .as_str()
            .context("cargo metadata gave no target directory")?,
    );
    let workspace = PathBuf::from(
        metadata["workspace_root"]
            .as_str()
            .context("cargo metadata gave no workspace root")?,
    );
    let status = Command::new(cargo())
        .current_dir(dir)
        .args(["build", "--release", "--lib", "--target", TARGET, "-p"])
        .arg(&package.name)
        .arg("--manifest-path")
        .arg(manifest)
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("RUSTC_WRAPPER", std::env::current_exe()?)
        .env(
            INNER_WRAPPER_ENV,
            std::env::var_os("RUSTC_WRAPPER").unwrap_or_default(),
        )
        .env(REMAP_ENV, remaps(&workspace, &target_dir, dir))
        .status()
        .context("cannot run cargo: install Rust with rustup (https://rustup.rs)")?;
    if !status.success() {
        bail!(
            "cargo could not build `{}` (its messages are above; `{}` is where the transform is)",
            package.name,
            package.source.display()
        );
    }
    let component = target_dir
        .join(TARGET)
        .join("release")
        .join(format!("{}.wasm", package.lib_name));
    built(component, &package.name, &package.source, runtime)
}

/// `cargo`, as cargo itself names it to the processes it runs.
fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

fn cargo_metadata(manifest: &Path) -> Result<serde_json::Value> {
    let output = Command::new(cargo())
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--manifest-path",
        ])
        .arg(manifest)
        .output()
        .context("cannot run cargo: install Rust with rustup (https://rustup.rs)")?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let why = stderr
            .lines()
            .find(|line| line.starts_with("error"))
            .unwrap_or("cargo metadata failed")
            .trim_start_matches("error: ");
        bail!("cannot read the project `{}`: {why}", manifest.display());
    }
    Ok(serde_json::from_slice(&output.stdout)?)
}

/// The transform crate a manifest stands for.
struct Package {
    name: String,
    lib_name: String,
    /// Its library's source file, for messages.
    source: PathBuf,
}

/// The package of `manifest` if it is a transform crate (a cdylib that
/// depends on `skewless-guest`); a workspace's one transform crate; or an
/// error that says what is wrong and what to write.
fn transform_package(metadata: &serde_json::Value, manifest: &Path) -> Result<Package> {
    let manifest = manifest.canonicalize()?;
    let packages = metadata["packages"].as_array().cloned().unwrap_or_default();
    let is_transform = |package: &serde_json::Value| {
        package["dependencies"]
            .as_array()
            .is_some_and(|deps| deps.iter().any(|d| d["name"] == "skewless-guest"))
    };
    let own = packages.iter().find(|package| {
        package["manifest_path"]
            .as_str()
            .and_then(|path| Path::new(path).canonicalize().ok())
            .is_some_and(|path| path == manifest)
    });
    let package = match own {
        Some(package) => package,
        None => {
            let transforms: Vec<&serde_json::Value> =
                packages.iter().filter(|p| is_transform(p)).collect();
            match transforms.as_slice() {
                [one] => *one,
                [] => bail!(
                    "`{}` has no transform crate (a package that depends on skewless-guest); \
                     start one with `skewless new NAME`",
                    manifest.display()
                ),
                many => {
                    let names: Vec<&str> = many.iter().filter_map(|p| p["name"].as_str()).collect();
                    bail!(
                        "`{}` is a workspace of {} transform crates ({}); build one of them \
                         with `skewless build DIR`",
                        manifest.display(),
                        many.len(),
                        names.join(", ")
                    )
                }
            }
        }
    };
    let name = package["name"].as_str().unwrap_or_default().to_string();
    if !is_transform(package) {
        bail!(
            "`{}` (package `{name}`) does not depend on skewless-guest, so it is not a \
             transform; start one with `skewless new NAME`",
            manifest.display()
        );
    }
    let lib = package["targets"].as_array().and_then(|targets| {
        targets.iter().find(|target| {
            target["kind"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|k| k == "cdylib"))
        })
    });
    let Some(lib) = lib else {
        bail!(
            "`{}` builds no .wasm: its [lib] has no `cdylib`; add `crate-type = [\"cdylib\", \
             \"rlib\"]` under [lib]",
            manifest.display()
        );
    };
    Ok(Package {
        name,
        lib_name: lib["name"].as_str().unwrap_or_default().replace('-', "_"),
        source: PathBuf::from(lib["src_path"].as_str().unwrap_or_default()),
    })
}

/// Installs the wasm32-wasip2 target for the toolchain `dir` builds with,
/// when it is missing.
fn ensure_target(dir: &Path) -> Result<()> {
    let sysroot = Command::new("rustc")
        .current_dir(dir)
        .args(["--print", "sysroot"])
        .output()
        .context("cannot run rustc: install Rust with rustup (https://rustup.rs)")?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot.join("lib/rustlib").join(TARGET).is_dir() {
        return Ok(());
    }
    eprintln!("installing the {TARGET} target (once) with `rustup target add {TARGET}`");
    let status = Command::new("rustup")
        .current_dir(dir)
        .args(["target", "add", TARGET])
        .status();
    match status {
        Ok(status) if status.success() => Ok(()),
        Ok(_) => bail!("`rustup target add {TARGET}` failed (its message is above)"),
        Err(_) => bail!(
            "the {TARGET} target is not installed and there is no rustup to install it: add \
             the target to your Rust toolchain"
        ),
    }
}

/// The `--remap-path-prefix` flags, joined by `\x1f`: the paths that would
/// otherwise put this machine into the component. Later flags win where
/// several match, so the most specific come last.
fn remaps(workspace: &Path, target_dir: &Path, dir: &Path) -> String {
    let mut flags = Vec::new();
    let mut remap = |from: &Path, to: &str| {
        if !from.as_os_str().is_empty() {
            flags.push(format!("--remap-path-prefix={}={to}", from.display()));
        }
    };
    remap(workspace, "/skewless/workspace");
    if let Ok(project) = dir.canonicalize() {
        remap(&project, "/skewless/project");
    }
    if let Some(home) = cargo_home() {
        remap(&home, "/skewless/cargo");
    }
    if let Ok(output) = Command::new("rustc").args(["--print", "sysroot"]).output() {
        let sysroot = String::from_utf8_lossy(&output.stdout).trim().to_string();
        remap(Path::new(&sysroot), "/skewless/rust");
    }
    remap(target_dir, "/skewless/target");
    flags.join("\x1f")
}

fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .filter(|home| !home.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
}

#[cfg(test)]
mod tests {
    use skewless::verify::VerifyReport;

    use super::verdict;

    fn report(rows: u64, rejected: u64) -> VerifyReport {
        VerifyReport {
            rows,
            columns: 2,
            rejected,
            first_rejected: (rejected > 0)
                .then(|| (1, "ZeroDivisionError: division by zero".into())),
            paths: Vec::new(),
            incremental_events: None,
        }
    }

    /// Rows the transform rejected are said, with the first one's reason;
    /// a sample it rejected entirely verified nothing, which is not a
    /// mismatch.
    #[test]
    fn the_verdict_says_what_was_rejected() {
        let all = verdict(&report(3, 0));
        assert!(all.passed);
        assert_eq!(all.said, "every output bit identical on every path");
        let some = verdict(&report(3, 1));
        assert!(some.passed);
        assert_eq!(
            some.said,
            "every output bit identical on every path, and 1 of 3 rows rejected the same way on \
             every path (the first: ZeroDivisionError: division by zero)"
        );
        let every = verdict(&report(3, 3));
        assert!(!every.passed);
        assert_eq!(
            every.said,
            "NOTHING VERIFIED: the transform rejected every one of its 3 rows (the first: \
             ZeroDivisionError: division by zero)"
        );
        let none = verdict(&report(0, 0));
        assert!(!none.passed);
        assert_eq!(none.said, "NOTHING VERIFIED: the sample has no rows");
    }
}
