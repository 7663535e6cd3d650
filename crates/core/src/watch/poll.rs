//! Polling, for network file systems (where inotify never hears what other
//! machines write) or when `HAID_WATCH_POLL=1`. Each cycle is cheap: a few
//! folder times per repo and the sizes of unfinished downloads; only repos
//! whose fingerprint moved are rescanned by the engine.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use super::Msg;

pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

pub(crate) struct Poller {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Poller {
    pub fn start(root: PathBuf, feeder: Sender<Msg>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("haid-watch-poll".into())
            .spawn(move || {
                let mut seen = fingerprints(&root);
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(POLL_INTERVAL);
                    let now = fingerprints(&root);
                    let changed: Vec<PathBuf> = now
                        .iter()
                        .filter(|(k, v)| seen.get(*k) != Some(*v))
                        .map(|(k, _)| root.join(k))
                        .chain(
                            seen.keys()
                                .filter(|k| !now.contains_key(*k))
                                .map(|k| root.join(k)),
                        )
                        .collect();
                    if !changed.is_empty() && feeder.send(Msg::Paths(changed)).is_err() {
                        break;
                    }
                    seen = now;
                }
            })
            .ok();
        Self { stop, thread }
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

type Fingerprint = Vec<(u128, u64)>;

/// repo folder name → the times and sizes that change when the repo does.
fn fingerprints(root: &Path) -> HashMap<String, Fingerprint> {
    let Ok(entries) = fs::read_dir(root) else {
        return HashMap::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("--") && !name.starts_with('.'))
        .map(|name| {
            let print = fingerprint(&root.join(&name));
            (name, print)
        })
        .collect()
}

fn fingerprint(repo: &Path) -> Fingerprint {
    let mut out = Vec::new();
    for dir in [
        repo.to_owned(),
        repo.join("blobs"),
        repo.join("snapshots"),
        repo.join("refs"),
        repo.join("trees"),
    ] {
        out.push((mtime(&dir), 0));
    }
    if let Ok(snapshots) = fs::read_dir(repo.join("snapshots")) {
        out.extend(snapshots.flatten().map(|s| (mtime(&s.path()), 0)));
    }
    if let Ok(refs) = fs::read_dir(repo.join("refs")) {
        out.extend(refs.flatten().map(|r| (mtime(&r.path()), 0)));
    }
    if let Ok(blobs) = fs::read_dir(repo.join("blobs")) {
        let partial: u64 = blobs
            .flatten()
            .filter(|b| b.file_name().to_string_lossy().ends_with(".incomplete"))
            .filter_map(|b| b.metadata().ok())
            .map(|m| m.len())
            .sum();
        out.push((0, partial));
    }
    out
}

fn mtime(path: &Path) -> u128 {
    fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos())
}
