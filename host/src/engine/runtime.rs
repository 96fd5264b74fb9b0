//! [`Runtime`]: loads transforms onto one engine, configured once.
//!
//! Backfills, serving, `verify` and embedders all load transforms through
//! a `Runtime`, so they all run on the engine configuration of
//! [`super::core::engine_config`].

use std::path::Path;
use std::sync::Arc;

use super::config::Config;
use super::core::Core;
use super::transform::Transform;
use crate::error::{Error, Result};

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
    core: Arc<Core>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.core.config)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// A runtime with the given limits; [`Error::InvalidSetting`] names a
    /// setting it cannot use.
    pub fn new(config: Config) -> Result<Self> {
        Ok(Runtime {
            core: Arc::new(Core::new(config)?),
        })
    }

    /// The runtime's configuration.
    pub fn config(&self) -> &Config {
        &self.core.config
    }

    /// Loads the component file at `path`: computes its sha256, compiles it
    /// (or loads it from the cache), calls `describe` and validates what it
    /// declares.
    pub fn load(&self, path: impl AsRef<Path>) -> Result<Transform> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io("cannot read", path, e))?;
        Transform::load(self.core.clone(), &bytes, &path.display().to_string())
    }

    /// Loads a component from its bytes; `name` stands for it in messages.
    pub fn load_bytes(&self, bytes: &[u8], name: &str) -> Result<Transform> {
        Transform::load(self.core.clone(), bytes, name)
    }
}
