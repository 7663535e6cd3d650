//! A folder served as a hub repo: its files with their git blob ids, LFS
//! sha256s and a commit hash derived from the content (so the same files
//! always give the same commit, and any change gives a new one).

use std::io::Read;
use std::path::{Path, PathBuf};

use haid_models::serve::protocol::{directories, FileInfo};
use serde_json::Value;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::fixture::LFS_THRESHOLD;

/// One file of a repo.
#[derive(Debug, Clone)]
pub struct HubFile {
    pub path: String,
    pub size: u64,
    /// git blob sha1: the `oid` of the tree API, and the etag of small files.
    pub oid: String,
    /// sha256 for LFS files: their etag.
    pub lfs_sha256: Option<String>,
    pub abs: PathBuf,
}

impl HubFile {
    /// What the hub sends as `ETag`/`X-Linked-Etag` and huggingface_hub names the blob.
    pub fn etag(&self) -> &str {
        self.lfs_sha256.as_deref().unwrap_or(&self.oid)
    }

    /// The file as the hub protocol (core's, shared with `serve`) describes it.
    pub fn info(&self) -> FileInfo {
        FileInfo {
            path: self.path.clone(),
            size: self.size,
            blob_id: self.oid.clone(),
            lfs_sha256: self.lfs_sha256.clone(),
        }
    }

    pub fn tree_entry(&self) -> Value {
        self.info().tree_entry()
    }
}

/// A repo at one commit (the one `main` points to, or an older one).
#[derive(Debug, Clone)]
pub struct HubRepo {
    pub id: String,
    pub sha: String,
    pub files: Vec<HubFile>,
}

impl HubRepo {
    /// Reads `root/org/name/**`. `None` when the folder does not exist.
    pub fn load(root: &Path, id: &str) -> Option<Self> {
        Self::load_dir(&root.join(id), id)
    }

    /// Reads `dir/**` as a commit of `id`: the main folder, or an older
    /// commit's copy in the history, which lives elsewhere.
    pub fn load_dir(dir: &Path, id: &str) -> Option<Self> {
        if !dir.is_dir() {
            return None;
        }
        let mut files = Vec::new();
        walk(dir, dir, &mut files);
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let mut commit = Sha1::new();
        for f in &files {
            commit.update(format!("{} {}\n", f.path, f.etag()).as_bytes());
        }
        Some(Self {
            id: id.to_owned(),
            sha: hex::encode(commit.finalize()),
            files,
        })
    }

    /// The same commit, its bytes read from `dir` (a copy of its files):
    /// no need to hash them again.
    pub fn moved_to(&self, dir: &Path) -> Self {
        let mut repo = self.clone();
        for f in &mut repo.files {
            f.abs = dir.join(&f.path);
        }
        repo
    }

    pub fn file(&self, path: &str) -> Option<&HubFile> {
        self.files.iter().find(|f| f.path == path)
    }

    /// Its files as the hub protocol describes them.
    pub fn infos(&self) -> Vec<FileInfo> {
        self.files.iter().map(HubFile::info).collect()
    }

    /// The folders of the tree listing (the hub lists them too).
    pub fn directories(&self) -> Vec<String> {
        directories(&self.infos())
    }

    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<HubFile>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(root, &path, out);
        } else if let Some(file) = hash_file(root, &path) {
            out.push(file);
        }
    }
}

/// Hashes a file once with both algorithms, streaming (fixtures reach 1 GiB).
fn hash_file(root: &Path, path: &Path) -> Option<HubFile> {
    let size = std::fs::metadata(path).ok()?.len();
    let mut git = Sha1::new();
    git.update(format!("blob {size}\0").as_bytes());
    let mut sha = Sha256::new();
    let mut file = std::fs::File::open(path).ok()?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        git.update(&buf[..n]);
        sha.update(&buf[..n]);
    }
    let rel = path
        .strip_prefix(root)
        .ok()?
        .to_string_lossy()
        .replace('\\', "/");
    Some(HubFile {
        path: rel,
        size,
        oid: hex::encode(git.finalize()),
        lfs_sha256: (size >= LFS_THRESHOLD as u64).then(|| hex::encode(sha.finalize())),
        abs: path.to_owned(),
    })
}
