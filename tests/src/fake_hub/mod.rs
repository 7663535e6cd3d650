//! A hub-compatible HTTP server (axum) that serves folders as model repos, for
//! our tests, benchmarks and offline demos. It speaks what `huggingface_hub`
//! and `hf-hub` use to download: repo info, tree listings, and `resolve` with
//! HEAD, `Range` and the hub's headers and error codes. A file a test marks
//! as stored with Xet ([`FakeHub::set_xet_hash`]) is listed with its
//! `xetHash` and answered with `X-Xet-Hash`, as the real hub does, but its
//! bytes still come over plain HTTP (see `xet`). It counts the bytes it
//! serves and can misbehave on demand ([`Faults`]).
//!
//! Layout served: `<root>/<org>/<name>/<files…>`; the commit of a repo is a
//! hash of its content, and `main` points to it. [`FakeHub::advance`] (or
//! `POST /_fake/advance/{org}/{name}`) moves `main` and keeps the commit it
//! left in `<root>/.history/` (see `history`), still served by its hash.

mod faults;
mod history;
mod repo;
mod routes;
mod xet;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub use faults::{attacks, Faults, Hostile};
pub use repo::{HubFile, HubRepo};

/// Shared by all requests.
#[derive(Debug)]
pub struct HubState {
    root: PathBuf,
    faults: Mutex<Faults>,
    bytes_served: AtomicU64,
    file_requests: AtomicU64,
    /// File bodies being sent now, and the most at once (connections of a
    /// parallel download).
    transfers: AtomicU64,
    max_transfers: AtomicU64,
    requests: AtomicU64,
    /// Every `Authorization` header value received, in order.
    authorizations: Mutex<Vec<String>>,
    /// The commit `main` points to, per repo id.
    repos: Mutex<HashMap<String, Arc<HubRepo>>>,
    /// Older commits, per `{id}@{sha}`, as served from their history copy.
    /// Its lock is also held while a commit is archived, so two archives of
    /// one repo never copy at once.
    history: Mutex<HashMap<String, Arc<HubRepo>>>,
    /// Files marked as stored with Xet.
    xet: xet::XetMarks,
}

impl HubState {
    pub fn new(root: PathBuf, faults: Faults) -> Arc<Self> {
        Arc::new(Self {
            root,
            faults: Mutex::new(faults),
            bytes_served: AtomicU64::new(0),
            file_requests: AtomicU64::new(0),
            transfers: AtomicU64::new(0),
            max_transfers: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            authorizations: Mutex::new(Vec::new()),
            repos: Mutex::new(HashMap::new()),
            history: Mutex::new(HashMap::new()),
            xet: xet::XetMarks::default(),
        })
    }

    /// A repo at `main`, hashed on first use (fixtures reach 1 GiB; hash once).
    fn repo(&self, id: &str) -> Option<Arc<HubRepo>> {
        // The history's folder looks like an org; it is not a repo.
        if id.split('/').next() == Some(history::DIR) {
            return None;
        }
        if let Some(repo) = self.repos.lock().unwrap().get(id) {
            return Some(repo.clone());
        }
        let repo = Arc::new(HubRepo::load(&self.root, id)?);
        self.repos
            .lock()
            .unwrap()
            .insert(id.to_owned(), repo.clone());
        Some(repo)
    }

    /// An older commit of `id` by its sha, from the history.
    fn commit(&self, id: &str, sha: &str) -> Option<Arc<HubRepo>> {
        let key = format!("{id}@{sha}");
        if let Some(repo) = self.history.lock().unwrap().get(&key) {
            return Some(repo.clone());
        }
        // Kept by an earlier hub on this root: hash its copy once.
        let repo = Arc::new(history::load(&self.root, id, sha)?);
        self.history.lock().unwrap().insert(key, repo.clone());
        Some(repo)
    }

    /// Keeps the commit `main` points to in the history; returns its sha.
    /// `NotFound` when there is no such repo.
    fn archive(&self, id: &str) -> std::io::Result<String> {
        let Some(main) = self.repo(id) else {
            let msg = format!("no repo {id} under the fake hub's root");
            return Err(std::io::Error::new(std::io::ErrorKind::NotFound, msg));
        };
        let mut history = self.history.lock().unwrap();
        let kept = history::archive(&self.root, &main)?;
        history.insert(format!("{id}@{}", main.sha), Arc::new(kept));
        Ok(main.sha.clone())
    }

    /// Drops the cached `main` of `id`: the next request hashes the folder again.
    fn forget(&self, id: &str) {
        self.repos.lock().unwrap().remove(id);
    }

    /// Every commit served for `id`, oldest first: the kept ones, then `main`'s.
    fn commits(&self, id: &str) -> Vec<String> {
        let main = self.repo(id).map(|r| r.sha.clone());
        let mut shas = history::shas(&self.root, id);
        // Back at a kept commit, `main` is listed once, last.
        shas.retain(|s| Some(s) != main.as_ref());
        shas.extend(main);
        shas
    }

    /// Marks `path` of `id` (as `main` holds it now) as a Xet file with
    /// `hash`; false when there is no such file.
    fn set_xet_hash(&self, id: &str, path: &str, hash: &str) -> bool {
        let Some(file) = self.repo(id).and_then(|r| r.file(path).cloned()) else {
            return false;
        };
        self.xet.set(id, &file, hash);
        true
    }

    fn faults(&self) -> Faults {
        self.faults.lock().unwrap().clone()
    }

    pub fn stats(&self) -> serde_json::Value {
        serde_json::json!({
            "bytes_served": self.bytes_served.load(Ordering::SeqCst),
            "file_requests": self.file_requests.load(Ordering::SeqCst),
            "max_transfers": self.max_transfers.load(Ordering::SeqCst),
            "requests": self.requests.load(Ordering::SeqCst),
        })
    }
}

/// Serves until the future is dropped.
pub async fn serve(listener: tokio::net::TcpListener, state: Arc<HubState>) -> std::io::Result<()> {
    axum::serve(listener, routes::router(state)).await
}

/// A fake hub on a random local port, running on its own thread.
#[derive(Debug)]
pub struct FakeHub {
    pub url: String,
    pub root: PathBuf,
    state: Arc<HubState>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeHub {
    pub fn start(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        let state = HubState::new(root.clone(), Faults::default());
        let (addr_tx, addr_rx) = std::sync::mpsc::channel::<SocketAddr>();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let served = state.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                tokio::select! {
                    _ = serve(listener, served) => {}
                    _ = stop_rx => {}
                }
            });
        });
        let addr = addr_rx.recv().expect("fake hub started");
        Self {
            url: format!("http://{addr}"),
            root,
            state,
            shutdown: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn set_faults(&self, faults: Faults) {
        *self.state.faults.lock().unwrap() = faults;
    }

    pub fn bytes_served(&self) -> u64 {
        self.state.bytes_served.load(Ordering::SeqCst)
    }

    pub fn file_requests(&self) -> u64 {
        self.state.file_requests.load(Ordering::SeqCst)
    }

    /// The most file bodies that were being sent at once.
    pub fn max_transfers(&self) -> u64 {
        self.state.max_transfers.load(Ordering::SeqCst)
    }

    /// Every request, of any kind (a client told to stay offline makes none).
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// Forgets the counts (between the two halves of a resume test).
    pub fn reset_counts(&self) {
        self.state.bytes_served.store(0, Ordering::SeqCst);
        self.state.file_requests.store(0, Ordering::SeqCst);
        self.state.max_transfers.store(0, Ordering::SeqCst);
        self.state.requests.store(0, Ordering::SeqCst);
        self.state.authorizations.lock().unwrap().clear();
    }

    /// Every `Authorization` header value the hub received (any route), in order.
    pub fn authorizations(&self) -> Vec<String> {
        self.state.authorizations.lock().unwrap().clone()
    }

    /// Moves `main` of `id`: keeps its current commit in the history (still
    /// served by its sha), runs `change` on the repo's folder
    /// (`<root>/<org>/<name>`), then hashes the folder again. Returns the new
    /// commit of `main` (the old one if `change` changed nothing).
    pub fn advance(&self, id: &str, change: impl FnOnce(&Path)) -> String {
        self.state
            .archive(id)
            .expect("keep the current commit in the history");
        change(&self.root.join(id));
        // Forgotten before `change`, a request during it would hash (and
        // cache) a half-changed folder.
        self.state.forget(id);
        self.repo(id).sha
    }

    /// Marks `path` of `id` as stored with Xet under `hash` (any text: a test
    /// may give a wrong one): its listing entry gets `"xetHash"`, its
    /// `resolve` answers `X-Xet-Hash`. The bytes are served as before. The
    /// mark holds for the file's present content (`POST /_fake/xet/{org}/{name}`
    /// does the same for a hub in another process).
    pub fn set_xet_hash(&self, id: &str, path: &str, hash: &str) {
        assert!(
            self.state.set_xet_hash(id, path, hash),
            "{id} has no file {path}"
        );
    }

    /// Every commit of `id` the hub serves, oldest first; `main`'s is last.
    pub fn commits(&self, id: &str) -> Vec<String> {
        self.state.commits(id)
    }

    /// Puts `files` (path, content) under `id` on the hub; the repo as served then.
    pub fn publish(&self, id: &str, files: &[(&str, Vec<u8>)]) -> HubRepo {
        for (path, content) in files {
            let p = self.root.join(id).join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        self.repo(id)
    }

    /// The repo as served at `main` (files, etags, commit).
    pub fn repo(&self, id: &str) -> HubRepo {
        (*self
            .state
            .repo(id)
            .expect("repo exists under the fake hub's root"))
        .clone()
    }
}

impl Drop for FakeHub {
    fn drop(&mut self) {
        if let Some(stop) = self.shutdown.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
