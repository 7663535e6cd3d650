//! What the app holds while it runs: where the cache is, the manifest, the
//! hub and the download manager. Built once from the environment and settings.

use std::path::PathBuf;

use haid_models::download::{DownloadManager, Hub, HubConfig};
use haid_models::env::Env;
use haid_models::location::CacheLocation;
use haid_models::manifest::Manifest;

use crate::error::AppResult;

pub struct AppState {
    pub location: CacheLocation,
    pub manifest: Manifest,
    pub manager: DownloadManager,
}

impl AppState {
    pub fn from_env() -> AppResult<Self> {
        let env = Env::from_process();
        let location = CacheLocation::from_system(None)?;
        Self::new(location, &env)
    }

    /// The state for a resolved location; `env` gives the manifest and the hub.
    pub fn new(location: CacheLocation, env: &Env) -> AppResult<Self> {
        let manifest = Manifest::load(None, env)?;
        let config = HubConfig::from_env(env, &location.hf_home);
        let hub = Hub::new(config, &location.cache_dir)?;
        let manager = DownloadManager::with_defaults(location.cache_dir.clone(), hub);
        Ok(Self {
            location,
            manifest,
            manager,
        })
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.location.cache_dir.clone()
    }
}
