//! What every command starts from, built once in `main` and passed down (as
//! ripgrep passes its `HiArgs`): the flags every command takes, the
//! environment, and, when a command first asks, the cache's location, the
//! hub's configuration and the async runtime.
//!
//! The location and the runtime are made on first use, not in `main`: a
//! command checks its own arguments first (a bad id is said before a broken
//! settings file), and `where` or `scan` need no runtime.

use std::cell::OnceCell;
use std::future::Future;
use std::path::{Path, PathBuf};

use haid_models::download::HubConfig;
use haid_models::env::Env;
use haid_models::location::CacheLocation;
use haid_models::manifest::Manifest;
use haid_models::{Error, Result};

use crate::GlobalArgs;

#[derive(Debug)]
pub struct Context {
    /// `--json`: stdout is JSON only.
    pub json: bool,
    /// The process environment, read once.
    pub env: Env,
    cache_dir: Option<PathBuf>,
    location: OnceCell<CacheLocation>,
    runtime: OnceCell<tokio::runtime::Runtime>,
}

impl Context {
    pub fn new(global: &GlobalArgs) -> Self {
        Self {
            json: global.json,
            env: Env::from_process(),
            cache_dir: global.cache_dir.clone(),
            location: OnceCell::new(),
            runtime: OnceCell::new(),
        }
    }

    /// Where the cache is (`--cache-dir`, the variables, the settings, the default).
    pub fn location(&self) -> Result<&CacheLocation> {
        if let Some(loc) = self.location.get() {
            return Ok(loc);
        }
        let loc = CacheLocation::from_system(self.cache_dir.as_deref())?;
        Ok(self.location.get_or_init(|| loc))
    }

    /// The manifest: the bundled one with `flag`'s (else `HAID_MODELS_MANIFEST`,
    /// else the app's "Add a model" list beside the settings file) merged over it.
    pub fn manifest(&self, flag: Option<&Path>) -> Result<Manifest> {
        let app_manifest = self
            .location()?
            .settings_file
            .with_file_name("models_manifest.json");
        Manifest::load_or_default(flag, &self.env, Some(&app_manifest))
    }

    /// The hub to talk to, as the environment and the settings say.
    pub fn hub_config(&self) -> Result<HubConfig> {
        HubConfig::load(&self.env, self.location()?)
    }

    /// Runs `future` to its end on the one runtime of this process.
    pub fn block_on<F: Future>(&self, future: F) -> Result<F::Output> {
        if self.runtime.get().is_none() {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| Error::io("start", "the async runtime", e))?;
            let _ = self.runtime.set(runtime);
        }
        match self.runtime.get() {
            Some(runtime) => Ok(runtime.block_on(future)),
            None => Err(Error::io(
                "start",
                "the async runtime",
                std::io::Error::other("not started"),
            )),
        }
    }
}
