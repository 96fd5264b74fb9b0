//! Python transforms for `skewless build` and `skewless new --python`:
//! componentize-py compiles a module that uses the `skewless_guest` SDK
//! (`guest-sdk-python/`) against the contract in `wit/`, its only copy.
//!
//! The build is not byte-reproducible, and says so: componentize-py 0.25
//! runs the interpreter's start-up at build time and snapshots its memory
//! into the component, and that memory holds what the build machine gave
//! it (random bytes behind the hash seed, the modification times of the
//! directories it read modules from). A rebuild is another file with
//! another sha256; for a Python transform, the identity is the built
//! component, which is what to keep and pin.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::new::skewless_sources;

/// The componentize-py line this host runs the components of.
pub const COMPONENTIZE_PY: &str = "0.25";
/// What to install, in the messages that ask for it.
pub const COMPONENTIZE_PY_INSTALL: &str = "pip install componentize-py==0.25.1";

/// Why a Python component is not reproducible, for the build's report.
pub const NOT_REPRODUCIBLE: &str = "componentize-py snapshots the interpreter after start-up, \
     with this build's random hash seed and file times (componentize-py issue #247); keep and \
     pin this file, since a rebuild is another component";

/// The module of `dir` that imports `skewless_guest` (its transform),
/// leaving tests aside; an error when there are several.
pub fn transform_module(dir: &Path) -> Result<Option<String>> {
    let mut modules = Vec::new();
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read `{}`", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        let Some(stem) = path
            .file_stem()
            .filter(|_| path.extension().is_some_and(|e| e == "py"))
            .map(|s| s.to_string_lossy().into_owned())
        else {
            continue;
        };
        if stem.starts_with("test_") || stem.ends_with("_test") || stem == "conftest" {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap_or_default();
        if source.contains("skewless_guest") {
            modules.push(stem);
        }
    }
    modules.sort();
    match modules.len() {
        0 => Ok(None),
        1 => Ok(modules.pop()),
        _ => bail!(
            "`{}` has {} Python modules that import skewless_guest ({}); a project holds one \
             transform: put each in its own directory",
            dir.display(),
            modules.len(),
            modules
                .iter()
                .map(|m| format!("{m}.py"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The componentize-py to run: `SKEWLESS_COMPONENTIZE_PY`, or the one on
/// `PATH`; checked to be of the line this host runs.
fn componentize_py() -> Result<PathBuf> {
    let program = std::env::var_os("SKEWLESS_COMPONENTIZE_PY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("componentize-py"));
    let version = Command::new(&program).arg("--version").output();
    let version = match version {
        Ok(output) if output.status.success() => {
            String::from_utf8_lossy(&output.stdout).trim().to_string()
        }
        _ => bail!(
            "building a Python transform needs componentize-py {COMPONENTIZE_PY}, which is not \
             installed: `{COMPONENTIZE_PY_INSTALL}` (in a virtual environment of its own: \
             modules the transform imports are taken from it)"
        ),
    };
    let number = version.rsplit(' ').next().unwrap_or_default();
    if !number.starts_with(&format!("{COMPONENTIZE_PY}.")) {
        bail!(
            "`{}` is {version}, and skewless runs components of componentize-py \
             {COMPONENTIZE_PY}: `{COMPONENTIZE_PY_INSTALL}`",
            program.display()
        );
    }
    Ok(program)
}

/// A Python transform built by componentize-py: the component's path and
/// the module it was built from.
pub struct PythonBuild {
    pub component: PathBuf,
    pub source: PathBuf,
}

/// Builds the Python transform `module` of `dir` (shown as `shown`).
pub fn build(dir: &Path, shown: &Path, module: &str) -> Result<PythonBuild> {
    let program = componentize_py()?;
    let sources = skewless_sources(None)?;
    if dir.join(".skewless").exists() || dir.join("conftest.py").is_file() {
        // A project from `skewless new --python`: its tests use the link.
        super::new::link_sdk(dir, &sources)?;
    }
    let source = shown.join(format!("{module}.py"));
    // The entry module imports the transform and the SDK's exports; the
    // SDK is copied, so that the build's byte-code caches stay out of the
    // skewless sources.
    let scratch = tempfile::tempdir().context("cannot create a temporary directory")?;
    let entry = scratch.path().join("entry");
    let sdk = scratch.path().join("sdk");
    std::fs::create_dir_all(&entry)?;
    copy_tree(
        &sources.join("guest-sdk-python/skewless_guest"),
        &sdk.join("skewless_guest"),
    )?;
    std::fs::write(
        entry.join("skewless_entry.py"),
        format!(
            "import {module}  # the transform\n\
             import skewless_guest\n\
             if skewless_guest.spec() is None:\n    \
             raise SystemExit(\"skewless: {module}.py declares no @transform function\")\n\
             from skewless_guest._component import WitWorld  # noqa: F401\n"
        ),
    )?;
    let target = dir.join("target");
    std::fs::create_dir_all(&target)
        .with_context(|| format!("cannot create `{}`", target.display()))?;
    let component = target.join(format!("{module}.wasm"));
    let output = Command::new(&program)
        .arg("-d")
        .arg(sources.join("wit"))
        .args(["-w", "transform", "componentize", "-p"])
        .arg(&entry)
        .arg("-p")
        .arg(&sdk)
        .arg("-p")
        .arg(dir)
        .arg("skewless_entry")
        .arg("-o")
        .arg(&component)
        .env("RUST_BACKTRACE", "0")
        .env("RUST_LIB_BACKTRACE", "0")
        .output()
        .with_context(|| format!("cannot run `{}`", program.display()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let (traceback, cause) = python_failure(&stderr);
        if !traceback.is_empty() {
            eprintln!("{traceback}");
        }
        bail!(
            "the Python transform `{}` does not build: {cause}; fix it and build again",
            source.display()
        );
    }
    Ok(PythonBuild { component, source })
}

/// What componentize-py says when the module fails at build time: the
/// Python traceback, and its cause on one line (`SyntaxError: invalid
/// syntax (fares.py, line 3)`, or the SDK's `SpecError: ...`).
fn python_failure(stderr: &str) -> (String, String) {
    // The guest's traceback is the last one (componentize-py's own comes first).
    let lines: Vec<&str> = stderr.lines().collect();
    let start = lines
        .iter()
        .rposition(|line| line.contains("Traceback (most recent call last)"))
        .map_or(lines.len(), |at| at + 1);
    let traceback: Vec<&str> = lines[start..]
        .iter()
        .take_while(|line| !line.starts_with("Caused by:"))
        .filter(|line| !line.trim().is_empty())
        .copied()
        .collect();
    let cause = stderr
        .lines()
        .skip_while(|line| !line.starts_with("Caused by:"))
        .nth(1)
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .or_else(|| traceback.last().map(|line| line.trim()))
        .unwrap_or("componentize-py failed (its message is above)")
        .trim_start_matches("SystemExit: ")
        .trim_start_matches("skewless_guest.SpecError: ")
        .to_string();
    (traceback.join("\n"), cause)
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        if name == "__pycache__" {
            continue;
        }
        if path.is_dir() {
            copy_tree(&path, &to.join(&name))?;
        } else {
            std::fs::copy(&path, to.join(&name))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::python_failure;

    #[test]
    fn a_build_failure_is_said_in_one_line() {
        let stderr = "Traceback (most recent call last):\n  File \"x\", line 8\nAssertionError: \
                      Traceback (most recent call last):\n  File \"/0/entry.py\", line 1, in \
                      <module>\n    import bad\n  File \"/2/bad.py\", line 2\n    def f(:\n\
                      SyntaxError: invalid syntax\n\n\nCaused by:\n    SyntaxError: invalid \
                      syntax (bad.py, line 2)\n\nStack backtrace:\n   0: anyhow\n";
        let (traceback, cause) = python_failure(stderr);
        assert_eq!(cause, "SyntaxError: invalid syntax (bad.py, line 2)");
        assert!(traceback.contains("def f(:"), "{traceback}");
        assert!(!traceback.contains("anyhow"), "{traceback}");
    }
}
