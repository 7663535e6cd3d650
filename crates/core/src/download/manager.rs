//! The download queue: at most N models at once (each with its own file
//! concurrency), cancel by repo, and a registry of what is in flight so
//! `list` can say `downloading`.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{download, DownloadOutcome, DownloadRequest, EventSink, Hub, DEFAULT_FILE_CONCURRENCY};
use crate::cache::RepoId;
use crate::error::{Error, Result};
use crate::settings::Settings;

/// Models downloaded at once when the settings say nothing.
pub const DEFAULT_MODEL_CONCURRENCY: usize = 2;

/// The app's downloads: queued under a limit, cancellable, and known while
/// they run. Clones share one queue.
#[derive(Debug, Clone)]
pub struct DownloadManager {
    cache_dir: PathBuf,
    /// Replaced when the settings change; a download keeps the hub it started with.
    hub: Arc<RwLock<Hub>>,
    slots: Arc<Semaphore>,
    /// How many models may download at once (the permits `slots` is meant to have).
    models: Arc<AtomicUsize>,
    file_concurrency: usize,
    active: Arc<Mutex<HashMap<RepoId, CancellationToken>>>,
}

/// Takes a repo out of the registry when its task ends, however it ends.
struct Registered {
    active: Arc<Mutex<HashMap<RepoId, CancellationToken>>>,
    repo: RepoId,
}

impl Drop for Registered {
    fn drop(&mut self) {
        if let Ok(mut active) = self.active.lock() {
            active.remove(&self.repo);
        }
    }
}

impl DownloadManager {
    /// A queue that downloads up to `models` models at once, each with up to `files` files at once.
    pub fn new(cache_dir: PathBuf, hub: Hub, models: usize, files: usize) -> Self {
        Self {
            cache_dir,
            hub: Arc::new(RwLock::new(hub)),
            slots: Arc::new(Semaphore::new(models.max(1))),
            models: Arc::new(AtomicUsize::new(models.max(1))),
            file_concurrency: files.max(1),
            active: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// A queue with the app's defaults: [`DEFAULT_MODEL_CONCURRENCY`] models,
    /// [`DEFAULT_FILE_CONCURRENCY`] files each.
    pub fn with_defaults(cache_dir: PathBuf, hub: Hub) -> Self {
        Self::new(
            cache_dir,
            hub,
            DEFAULT_MODEL_CONCURRENCY,
            DEFAULT_FILE_CONCURRENCY,
        )
    }

    /// Queues a download; it starts when a slot is free. A repo already
    /// queued or running is refused (its first download carries on).
    pub fn start(
        &self,
        req: DownloadRequest,
        sink: EventSink,
    ) -> Result<JoinHandle<Result<DownloadOutcome>>> {
        let cancel = CancellationToken::new();
        {
            let mut active = self.active.lock().map_err(|_| poisoned())?;
            if active.contains_key(&req.repo) {
                return Err(Error::InvalidArgument {
                    what: "download",
                    value: req.repo.id(),
                    reason: "it is already downloading".into(),
                });
            }
            active.insert(req.repo.clone(), cancel.clone());
        }
        let me = self.clone();
        Ok(tokio::spawn(async move {
            let _registered = Registered {
                active: me.active.clone(),
                repo: req.repo.clone(),
            };
            let _slot = tokio::select! {
                () = cancel.cancelled() => return Err(Error::Cancelled { repo: req.repo.id() }),
                slot = me.slots.clone().acquire_owned() => slot.map_err(|_| poisoned())?,
            };
            let hub = me.hub.read().map_err(|_| poisoned())?.clone();
            download(
                &me.cache_dir,
                &hub,
                &req,
                sink,
                &cancel,
                me.file_concurrency,
            )
            .await
        }))
    }

    /// The hub for downloads started from now on (a new endpoint or token).
    /// The bandwidth limit and the connection permits stay the ones all downloads share.
    pub fn set_hub(&self, mut hub: Hub) {
        if let Ok(mut current) = self.hub.write() {
            hub.rate = current.rate.clone();
            hub.connections = current.connections.clone();
            *current = hub;
        }
    }

    /// The bandwidth limit now (0: none).
    pub fn rate_limit(&self) -> u64 {
        self.hub.read().map_or(0, |h| h.rate.rate())
    }

    /// The bandwidth limit of every download, running or to come (0: none).
    pub fn set_rate_limit(&self, bytes_per_second: u64) {
        if let Ok(hub) = self.hub.read() {
            hub.rate.set(bytes_per_second);
        }
    }

    /// How many models may download at once, from now on. Fewer: running
    /// downloads finish, and queued ones wait until the count is under it.
    pub fn set_concurrency(&self, models: usize) {
        let models = models.max(1);
        let before = self.models.swap(models, Ordering::SeqCst);
        if models > before {
            self.slots.add_permits(models - before);
        } else if models < before {
            // Free permits go now; the rest as running downloads end.
            let surplus = before - models;
            let left = surplus - self.slots.forget_permits(surplus);
            if left > 0 {
                let slots = self.slots.clone();
                tokio::spawn(async move {
                    if let Ok(permits) = slots.acquire_many_owned(left as u32).await {
                        permits.forget();
                    }
                });
            }
        }
    }

    /// Follows settings the user just changed (the app's page): downloads
    /// started from now on use `config`'s hub and token, and the limit on
    /// models at once applies at once.
    pub fn follow_settings(&self, config: super::HubConfig, settings: &Settings) -> Result<()> {
        self.set_hub(Hub::new(config, &self.cache_dir)?);
        if let Some(n) = settings.concurrency {
            self.set_concurrency(n);
        }
        // Live, for the downloads running too.
        self.set_rate_limit(settings.limit_rate.unwrap_or(0));
        Ok(())
    }

    /// How many models may download at once now.
    pub fn concurrency(&self) -> usize {
        self.models.load(Ordering::SeqCst)
    }

    /// Whether downloads from now on send this token (the hub's config as set).
    pub fn hub_config(&self) -> Option<super::HubConfig> {
        self.hub.read().ok().map(|h| h.config.clone())
    }

    /// Cancels a queued or running download; its partial files stay for a resume.
    pub fn cancel(&self, repo: &RepoId) -> bool {
        let token = self.active.lock().ok().and_then(|a| a.get(repo).cloned());
        token.map(|t| t.cancel()).is_some()
    }

    /// Cancels every queued and running download ("Pause all").
    pub fn cancel_all(&self) {
        if let Ok(active) = self.active.lock() {
            active.values().for_each(CancellationToken::cancel);
        }
    }

    /// Repos queued or downloading.
    pub fn active(&self) -> HashSet<RepoId> {
        self.active
            .lock()
            .map(|a| a.keys().cloned().collect())
            .unwrap_or_default()
    }
}

fn poisoned() -> Error {
    Error::Io {
        action: "manage downloads",
        path: PathBuf::new(),
        source: std::io::Error::other("the download registry was poisoned by a crash"),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::download::HubConfig;
    use crate::env::Env;

    #[test]
    fn changed_settings_apply_to_the_next_downloads() {
        let config = |endpoint: &str| {
            let env = Env::from_pairs([("HF_ENDPOINT", endpoint), ("HF_TOKEN", "hf_new")]);
            HubConfig::from_env(&env, Path::new("/nonexistent"))
        };
        let first = Hub::new(config("http://127.0.0.1:1"), Path::new("/c")).unwrap();
        let manager = DownloadManager::with_defaults("/c".into(), first);
        let settings = Settings {
            concurrency: Some(5),
            ..Settings::default()
        };
        manager
            .follow_settings(config("http://127.0.0.1:2"), &settings)
            .unwrap();
        assert_eq!(manager.concurrency(), 5);
        let hub = manager.hub_config().unwrap();
        assert_eq!(hub.endpoint, "http://127.0.0.1:2");
        assert_eq!(hub.token.as_deref(), Some("hf_new"));
        // No limit in the settings: the limit stays.
        manager
            .follow_settings(config("http://127.0.0.1:3"), &Settings::default())
            .unwrap();
        assert_eq!(manager.concurrency(), 5);
    }
}
