//! Builds every guest the tests use, once per test build: the test programs
//! in `test-programs/guests/` and the real examples in `examples/`. They are
//! compiled to `wasm32-wasip2` components by one nested cargo invocation
//! into a target directory of their own (sharing the outer one would
//! deadlock on its lock), and their paths become constants in
//! `artifacts.rs`, so no test hard-codes a `target/` path.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";
/// The example transforms (crate names).
const EXAMPLES: &[&str] = &[
    "fraud-features",
    "glucose-alerts",
    "email-subject",
    "card-velocity",
    "order-features",
];

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest_dir
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    let target_dir = guests_target_dir(&out_dir, &workspace);

    for watched in [
        "wit",
        "guest-sdk",
        "test-programs/guests",
        "test-programs/Cargo.toml",
        "Cargo.lock",
    ] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }
    for example in EXAMPLES {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join("examples").join(example).display()
        );
    }

    ensure_target_installed();

    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(&workspace)
        .args([
            "build",
            "--release",
            "--target",
            TARGET,
            "--lib",
            "--examples",
        ])
        .args(["-p", "skewless-test-programs"])
        .args(EXAMPLES.iter().flat_map(|e| ["-p", e]))
        .arg("--target-dir")
        .arg(&target_dir);
    // Flags meant for the host build must not leak into the guest build.
    for variable in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
    ] {
        command.env_remove(variable);
    }
    let status = command
        .status()
        .expect("cannot run cargo to build the test guests");
    assert!(
        status.success(),
        "building the test guests for {TARGET} failed (see above)"
    );

    let release = target_dir.join(TARGET).join("release");
    let mut guests: Vec<(String, PathBuf)> = Vec::new();
    for entry in fs::read_dir(manifest_dir.parent().unwrap().join("guests")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            guests.push((
                name.clone(),
                release.join("examples").join(format!("{name}.wasm")),
            ));
        }
    }
    for example in EXAMPLES {
        let crate_name = example.replace('-', "_");
        guests.push((
            crate_name.clone(),
            release.join(format!("{crate_name}.wasm")),
        ));
    }
    guests.sort();

    let mut code = String::new();
    for (name, path) in &guests {
        assert!(path.is_file(), "expected a component at {}", path.display());
        writeln!(code, "/// `{}`", path.display()).unwrap();
        writeln!(
            code,
            "pub const {}: &str = {:?};",
            name.to_uppercase(),
            path.display().to_string()
        )
        .unwrap();
    }
    writeln!(code, "/// Every guest, by name.").unwrap();
    writeln!(code, "pub const ALL: &[(&str, &str)] = &[").unwrap();
    for (name, _) in &guests {
        writeln!(code, "    ({name:?}, {}),", name.to_uppercase()).unwrap();
    }
    writeln!(code, "];").unwrap();
    fs::write(out_dir.join("artifacts.rs"), code).unwrap();
}

/// `<the workspace target directory>/guests`: found from `OUT_DIR` (which
/// lives under the target directory, marked by `CACHEDIR.TAG`), so it is
/// shared by every profile and survives `cargo test` reruns.
fn guests_target_dir(out_dir: &Path, workspace: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .find(|dir| dir.join("CACHEDIR.TAG").is_file())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| workspace.join("target"))
        .join("guests")
}

/// Installs the wasm target with rustup when it is missing, so the test
/// command works on a fresh machine.
fn ensure_target_installed() {
    let sysroot = Command::new(env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    let installed = sysroot.is_some_and(|root| root.join("lib/rustlib").join(TARGET).is_dir());
    if installed {
        return;
    }
    println!(
        "cargo:warning=installing the {TARGET} target with rustup (needed to build test guests)"
    );
    let status = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status();
    match status {
        Ok(status) if status.success() => {}
        _ => panic!(
            "the {TARGET} target is missing and `rustup target add {TARGET}` failed; install it and retry"
        ),
    }
}
