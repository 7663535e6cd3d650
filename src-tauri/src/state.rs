//! What the app holds while it runs: where the cache is, where the user's
//! manifest is, and the download manager. Built from the environment and
//! settings at start, and again for the new place after "Move the cache…",
//! so the app follows it without a restart.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use haid_models::cache::live::LiveCache;
use haid_models::download::manager::DEFAULT_MODEL_CONCURRENCY;
use haid_models::download::{DownloadManager, Hub, HubConfig, DEFAULT_FILE_CONCURRENCY};
use haid_models::env::Env;
use haid_models::location::{resolve, CacheLocation, PlatformDirs};
use haid_models::manifest::user_file::user_manifest_path;
use haid_models::manifest::Manifest;
use haid_models::settings::Settings;

use crate::error::{AppError, AppResult};

pub struct AppState {
    /// Where "Add a model" writes; read again on every use, so edits by hand
    /// (or by the CLI) show at once.
    pub user_manifest: PathBuf,
    pub env: Env,
    /// How the place was found, to find it again after a move.
    cli_dir: Option<PathBuf>,
    dirs: PlatformDirs,
    place: RwLock<Arc<Place>>,
    /// While the cache moves: nothing may write into it.
    moving: AtomicBool,
}

/// What belongs to one place of the cache.
pub struct Place {
    pub location: CacheLocation,
    pub manager: DownloadManager,
    /// The cache as last seen: scanned in full once, then per repo as the
    /// watcher (or one of our own commands) changes it.
    pub live: LiveCache,
}

impl AppState {
    pub fn from_env() -> AppResult<Self> {
        Self::new(None, &Env::from_process(), PlatformDirs::from_system())
    }

    /// The state for the place the rules give (`cli_dir` first, as the
    /// CLI's `--cache-dir`); `env` gives the manifest and the hub.
    pub fn new(cli_dir: Option<&Path>, env: &Env, dirs: PlatformDirs) -> AppResult<Self> {
        let location = resolve(cli_dir, env, &dirs)?;
        let state = Self {
            user_manifest: user_manifest_path(env, &location.settings_file),
            env: env.clone(),
            cli_dir: cli_dir.map(Path::to_owned),
            dirs,
            place: RwLock::new(Arc::new(Place::new(location, env)?)),
            moving: AtomicBool::new(false),
        };
        state.manifest()?; // a broken user manifest is said at start, not later
        Ok(state)
    }

    /// The place now. Held by a command for its whole run: a move swaps
    /// in a new one only when nothing runs in the old.
    pub fn place(&self) -> Arc<Place> {
        match self.place.read() {
            Ok(place) => place.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The place for a command that writes into the cache; refused while
    /// the cache moves.
    pub fn place_to_write(&self) -> AppResult<Arc<Place>> {
        if self.moving.load(Ordering::SeqCst) {
            return Err(AppError::from(haid_models::Error::Busy {
                message: "the cache is being moved; try again when the move is done".into(),
            }));
        }
        Ok(self.place())
    }

    /// Marks the cache as moving (true) or not; false when it already was.
    pub fn set_moving(&self, moving: bool) -> bool {
        self.moving.swap(moving, Ordering::SeqCst) != moving
    }

    /// Finds the cache again by the rules (after a move, the settings name
    /// the new place) and makes it the app's.
    pub fn follow_rules(&self) -> AppResult<()> {
        let location = resolve(self.cli_dir.as_deref(), &self.env, &self.dirs)?;
        let place = Arc::new(Place::new(location, &self.env)?);
        match self.place.write() {
            Ok(mut slot) => *slot = place,
            Err(poisoned) => *poisoned.into_inner() = place,
        }
        Ok(())
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
        Ok(HubConfig::load(&self.env, &self.place().location)?)
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.place().location.cache_dir.clone()
    }
}

impl Place {
    fn new(location: CacheLocation, env: &Env) -> AppResult<Self> {
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
        Ok(Self {
            live: LiveCache::new(&location.cache_dir),
            location,
            manager,
        })
    }
}
