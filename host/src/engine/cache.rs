//! The precompiled component cache.
//!
//! Compiling a component takes a fraction of a second to seconds; loading a
//! precompiled one takes milliseconds. Entries are keyed by the component's
//! sha256 *and* the engine's compatibility hash (wasmtime version, target,
//! and every engine setting, including the determinism settings), so an
//! artifact compiled by another version or configuration is never loaded:
//! its key differs. wasmtime checks the same again when deserializing, and
//! an entry that fails that check is recompiled and replaced.
//!
//! Loading precompiled code is trusting it: the cache directory must be
//! writable only by the user running skewless.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Compiles `bytes` for `engine`, through the cache in `dir` when there
/// is one. A compilation that is not found in the cache is made by
/// `compiler` when given (an engine with the same compilation settings as
/// `engine`; see `Core::compile`), by `engine` otherwise.
pub(crate) fn compile(
    engine: &Engine,
    compiler: Option<&Engine>,
    dir: Option<&Path>,
    bytes: &[u8],
    sha256: &str,
) -> wasmtime::Result<Component> {
    let compile = || match compiler {
        None => Component::new(engine, bytes),
        Some(compiler) => {
            let code = compiler.precompile_component(bytes)?;
            // SAFETY: `code` was just compiled from `bytes` by `compiler`,
            // whose compilation settings are `engine`'s (wasmtime checks
            // that they match again, from the code's header).
            unsafe { Component::deserialize(engine, &code) }
        }
    };
    let Some(dir) = dir else {
        return compile();
    };
    let path = entry_path(dir, engine, sha256);
    if path.is_file() {
        // SAFETY: the entry was written by `store` below from
        // `Component::serialize` of this engine configuration (the key
        // includes its compatibility hash), in a directory only the user can
        // write; wasmtime additionally checks its header for version and
        // configuration compatibility.
        if let Ok(component) = unsafe { Component::deserialize_file(engine, &path) } {
            return Ok(component);
        }
    }
    let component = compile()?;
    // A cache that cannot be written is a slower start, not a failure.
    let _ = store(&path, &component);
    Ok(component)
}

/// `DIR/<sha256 of (component sha256, engine compatibility hash)>.cwasm`
pub(crate) fn entry_path(dir: &Path, engine: &Engine, sha256: &str) -> PathBuf {
    let mut hasher = Sha256Hasher(Sha256::new());
    sha256.hash(&mut hasher);
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let key: String = hasher
        .0
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    dir.join(format!("{key}.cwasm"))
}

fn store(path: &Path, component: &Component) -> std::io::Result<()> {
    let bytes = component.serialize().map_err(std::io::Error::other)?;
    let dir = path.parent().expect("entries live in a directory");
    std::fs::create_dir_all(dir)?;
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(&bytes)?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Feeds `Hash` input into sha256, so keys are stable across Rust versions
/// (unlike `DefaultHasher`).
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        unreachable!("only the full digest is used")
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}
