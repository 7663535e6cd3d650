//! The watcher's loop: changes in, one rescan per touched repo, events out
//! only when a repo's status differs from what was last reported.

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use super::native::Native;
use super::poll::Poller;
use super::{Msg, RepoChange, WatchEvent, WatchMode, WatchSink};
use crate::cache::shared_store::SharedStore;
use crate::cache::{scan_cache, scan_repo, CachedRepo, RepoId};

/// A repo whose sizes keep changing (a download in progress) is reported at
/// most this often; a change of state is reported at once.
const MIN_INTERVAL: Duration = Duration::from_millis(250);

/// What a user sees of a repo: a change in any of these is worth an event.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Status {
    state: String,
    size: u64,
    incomplete: u64,
    files: usize,
}

impl Status {
    fn of(repo: &CachedRepo) -> Self {
        Self {
            state: repo.state.as_str().to_owned(),
            size: repo.size_on_disk,
            incomplete: repo.incomplete_size_on_disk,
            files: repo.nb_files,
        }
    }
}

struct Engine {
    root: PathBuf,
    sink: WatchSink,
    known: HashMap<RepoId, Status>,
    last_emit: HashMap<RepoId, Instant>,
    throttled: HashSet<RepoId>,
    notices: HashSet<String>,
}

enum Backend {
    Native(Native),
    /// Held only to keep it running: dropping it stops the poll thread.
    Poll {
        _poller: Poller,
    },
}

pub(crate) fn run(
    root: PathBuf,
    mode: WatchMode,
    sink: WatchSink,
    feeder: Sender<Msg>,
    rx: Receiver<Msg>,
) {
    let mut engine = Engine {
        root: root.clone(),
        sink: sink.clone(),
        known: HashMap::new(),
        last_emit: HashMap::new(),
        throttled: HashSet::new(),
        notices: HashSet::new(),
    };
    let (mut backend, mode) = match mode {
        WatchMode::Poll => (
            Backend::Poll {
                _poller: Poller::start(root.clone(), feeder),
            },
            WatchMode::Poll,
        ),
        WatchMode::Native => match Native::start(root.clone(), feeder.clone()) {
            Ok(native) => (Backend::Native(native), WatchMode::Native),
            Err(e) => {
                engine.notice(format!(
                    "file events are unavailable ({e}); polling the cache every second instead"
                ));
                (
                    Backend::Poll {
                        _poller: Poller::start(root.clone(), feeder),
                    },
                    WatchMode::Poll,
                )
            }
        },
    };
    // The state to compare changes with, read once the OS is watching, so
    // nothing between the two is missed (one scan: a big cache takes a while).
    engine.full_rescan(false);
    sink(WatchEvent::Ready {
        cache_dir: root,
        mode,
    });
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => break,
            Ok(Msg::Paths(paths)) if paths.is_empty() => {}
            Ok(Msg::Paths(paths)) => {
                if let Backend::Native(native) = &mut backend {
                    if native.needs_reconfigure(&paths) {
                        if let Err(e) = native.reconfigure() {
                            engine.notice(format!(
                                "cannot watch {} ({e}); it is rescanned on the next change",
                                engine.root.display()
                            ));
                        }
                        engine.full_rescan(true);
                        continue;
                    }
                }
                engine.paths_changed(&paths);
            }
            Ok(Msg::Rescan(reason)) => {
                engine.notice(format!("{reason}; rescanning the whole cache"));
                engine.full_rescan(true);
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        engine.flush_throttled();
    }
    drop(backend);
}

impl Engine {
    fn emit(&self, event: WatchEvent) {
        (self.sink)(event);
    }

    /// Says a thing once per watcher (a fallback, an overflow).
    fn notice(&mut self, message: String) {
        if self.notices.insert(message.clone()) {
            tracing::warn!("{message}");
            self.emit(WatchEvent::Notice { message });
        }
    }

    /// Rescans everything and reports differences (`report`), or only learns.
    fn full_rescan(&mut self, report: bool) {
        let repos = scan_cache(&self.root).map(|r| r.repos).unwrap_or_default();
        let mut now: HashMap<RepoId, Status> = HashMap::new();
        for repo in &repos {
            let status = Status::of(repo);
            if report && self.known.get(&repo.repo) != Some(&status) {
                self.emit(WatchEvent::RepoChanged(RepoChange::of(repo)));
                self.last_emit.insert(repo.repo.clone(), Instant::now());
            }
            now.insert(repo.repo.clone(), status);
        }
        if report {
            for gone in self.known.keys().filter(|id| !now.contains_key(*id)) {
                let path = gone.repo_dir(&self.root);
                self.emit(WatchEvent::RepoChanged(RepoChange::removed(
                    gone.clone(),
                    path,
                )));
            }
        }
        self.known = now;
        self.throttled.clear();
    }

    fn paths_changed(&mut self, paths: &[PathBuf]) {
        let store = SharedStore::open(&self.root);
        let repos: HashSet<RepoId> = paths
            .iter()
            .flat_map(|p| match repo_of(&self.root, p) {
                Some(id) => vec![id],
                // A change in huggingface_hub 2.5's shared store: the repos
                // that link to that payload.
                None => store.as_ref().map(|s| s.sharers_of(p)).unwrap_or_default(),
            })
            .collect();
        for repo in repos {
            self.check(&repo);
        }
    }

    /// Rescans one repo; reports it if its status changed.
    fn check(&mut self, id: &RepoId) {
        let now = scan_repo(&self.root, id).ok().flatten();
        let status = now.as_ref().map(|scan| Status::of(&scan.repo));
        let before = self.known.get(id);
        if status.as_ref() == before {
            self.throttled.remove(id);
            return;
        }
        let same_state = matches!((&status, before), (Some(a), Some(b)) if a.state == b.state);
        let recent = self
            .last_emit
            .get(id)
            .is_some_and(|t| t.elapsed() < MIN_INTERVAL);
        if same_state && recent {
            self.throttled.insert(id.clone());
            return;
        }
        self.throttled.remove(id);
        self.last_emit.insert(id.clone(), Instant::now());
        match now {
            Some(scan) => {
                self.known.insert(id.clone(), Status::of(&scan.repo));
                self.emit(WatchEvent::RepoChanged(RepoChange::scanned(scan)));
            }
            None => {
                self.emit(WatchEvent::RepoChanged(RepoChange::removed(
                    id.clone(),
                    id.repo_dir(&self.root),
                )));
                self.known.remove(id);
            }
        }
    }

    /// Repos held back by the rate limit get their (fresh) turn.
    fn flush_throttled(&mut self) {
        let due: Vec<RepoId> = self
            .throttled
            .iter()
            .filter(|id| {
                self.last_emit
                    .get(*id)
                    .is_none_or(|t| t.elapsed() >= MIN_INTERVAL)
            })
            .cloned()
            .collect();
        for id in due {
            self.check(&id);
        }
    }
}

/// The repo a changed path belongs to (`<root>/models--org--name/…`).
pub(crate) fn repo_of(root: &Path, path: &Path) -> Option<RepoId> {
    let rel = path.strip_prefix(root).ok()?;
    match rel.components().next()? {
        Component::Normal(name) => RepoId::from_folder_name(&name.to_string_lossy()).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_their_repo() {
        let root = Path::new("/c/hub");
        let id = repo_of(root, Path::new("/c/hub/models--o--m/blobs/abc.incomplete")).unwrap();
        assert_eq!(id.id(), "o/m");
        assert!(repo_of(root, Path::new("/c/hub/.locks/models--o--m/x.lock")).is_none());
        assert!(repo_of(root, Path::new("/c/hub")).is_none());
        assert!(repo_of(root, Path::new("/elsewhere/models--o--m")).is_none());
    }
}
