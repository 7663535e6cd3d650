//! What the app holds while it runs: where the cache is, where the user's
//! manifest is, and the download manager. Built once from the environment
//! and settings.

use std::path::PathBuf;

use haid_models::cache::live::LiveCache;
use haid_models::download::manager::DEFAULT_MODEL_CONCURRENCY;
use haid_models::download::{DownloadManager, Hub, HubConfig, DEFAULT_FILE_CONCURRENCY};
use haid_models::env::Env;
use haid_models::location::CacheLocation;
use haid_models::manifest::user_file::user_manifest_path;
use haid_models::manifest::Manifest;
use haid_models::settings::Settings;

use crate::error::AppResult;

pub struct AppState {
    pub location: CacheLocation,
    /// Where "Add a model" writes; read again on every use, so edits by hand
    /// (or by the CLI) show at once.
    pub user_manifest: PathBuf,
    pub env: Env,
    pub manager: DownloadManager,
    /// The cache as last seen: scanned in full once, then per repo as the
    /// watcher (or one of our own commands) changes it.
    pub live: LiveCache,
}

impl AppState {
    pub fn from_env() -> AppResult<Self> {
        let env = Env::from_process();
        let location = CacheLocation::from_system(None)?;
        Self::new(location, &env)
    }

    /// The state for a resolved location; `env` gives the manifest and the hub.
    pub fn new(location: CacheLocation, env: &Env) -> AppResult<Self> {
        let user_manifest = user_manifest_path(env, &location.settings_file);
        let settings = Settings::load(&location.settings_file)?;
        let config = HubConfig::from_env_and_settings(env, &location.hf_home, &settings);
        let hub = Hub::new(config, &location.cache_dir)?;
        let models = settings.concurrency.unwrap_or(DEFAULT_MODEL_CONCURRENCY);
        let manager = DownloadManager::new(
            location.cache_dir.clone(),
            hub,
            models,
            DEFAULT_FILE_CONCURRENCY,
        );
        manager.set_rate_limit(settings.limit_rate.unwrap_or(0));
        let state = Self {
            live: LiveCache::new(&location.cache_dir),
            location,
            user_manifest,
            env: env.clone(),
            manager,
        };
        state.manifest()?; // a broken user manifest is said at start, not later
        Ok(state)
    }

    /// The bundled manifest with the user's merged over it.
    pub fn manifest(&self) -> AppResult<Manifest> {
        Ok(Manifest::load_or_default(
            None,
            &self.env,
            Some(&self.user_manifest),
        )?)
    }

    /// The hub as the settings and the environment say now.
    pub fn hub_config(&self) -> AppResult<HubConfig> {
        Ok(HubConfig::load(&self.env, &self.location)?)
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.location.cache_dir.clone()
    }
}
