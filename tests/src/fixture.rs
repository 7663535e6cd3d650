//! Builds caches file by file: blobs named by their real hash (sha256 for
//! large files, git blob sha1 for small ones, as the hub's etags), relative
//! snapshot symlinks, refs, tree listings, and every kind of damage.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Files at or above this size are "LFS" files named by sha256, like the hub.
pub const LFS_THRESHOLD: usize = 1024;

pub struct CacheFixture {
    pub dir: tempfile::TempDir,
    pub cache: PathBuf,
}

impl Default for CacheFixture {
    fn default() -> Self {
        Self::new()
    }
}

impl CacheFixture {
    /// An empty cache at `<tmp>/hub`.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("hub");
        fs::create_dir_all(&cache).unwrap();
        Self { dir, cache }
    }

    /// A repo by folder name, e.g. `models--org--name`.
    pub fn repo(&self, folder: &str) -> RepoFixture {
        let path = self.cache.join(folder);
        fs::create_dir_all(&path).unwrap();
        RepoFixture { path }
    }

    /// A folder outside the cache (for symlinks that must not be followed).
    pub fn outside(&self) -> PathBuf {
        let p = self.dir.path().join("outside");
        fs::create_dir_all(&p).unwrap();
        p
    }
}

pub struct RepoFixture {
    pub path: PathBuf,
}

/// The hub's etag for a file's content.
pub fn etag(content: &[u8]) -> String {
    if content.len() >= LFS_THRESHOLD {
        hex::encode(Sha256::digest(content))
    } else {
        git_blob_sha1(content)
    }
}

pub fn git_blob_sha1(content: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", content.len()).as_bytes());
    h.update(content);
    hex::encode(h.finalize())
}

/// A commit hash made from a label, so tests read well.
pub fn commit(label: &str) -> String {
    git_blob_sha1(label.as_bytes())
}

impl RepoFixture {
    /// Writes the blob and a relative symlink `snapshots/<commit>/<file>` to it.
    pub fn file(&self, commit: &str, file: &str, content: &[u8]) -> &Self {
        let etag = etag(content);
        let blob = self.path.join("blobs").join(&etag);
        fs::create_dir_all(blob.parent().unwrap()).unwrap();
        if !blob.exists() {
            fs::write(&blob, content).unwrap();
        }
        let link = self.path.join("snapshots").join(commit).join(file);
        fs::create_dir_all(link.parent().unwrap()).unwrap();
        let depth = file.split('/').count() + 1;
        let target = format!("{}blobs/{etag}", "../".repeat(depth));
        symlink(Path::new(&target), &link);
        self
    }

    /// A whole revision of `(path, content)` files.
    pub fn revision(&self, commit: &str, files: &[(&str, &[u8])]) -> &Self {
        fs::create_dir_all(self.path.join("snapshots").join(commit)).unwrap();
        for (name, content) in files {
            self.file(commit, name, content);
        }
        self
    }

    pub fn reference(&self, name: &str, commit: &str) -> &Self {
        let p = self.path.join("refs").join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, commit).unwrap();
        self
    }

    /// A `trees/<commit>.json` listing in huggingface_hub 2.x's format.
    pub fn tree(&self, commit: &str, files: &[(&str, &[u8])]) -> &Self {
        let mut entries = BTreeMap::new();
        for (name, content) in files {
            let mut entry =
                serde_json::json!({"size": content.len(), "blob_id": git_blob_sha1(content)});
            if content.len() >= LFS_THRESHOLD {
                entry["lfs_sha256"] = etag(content).into();
                entry["lfs_size"] = content.len().into();
            }
            entries.insert((*name).to_owned(), entry);
        }
        let body = serde_json::json!({"format_version": 1, "files": entries});
        let p = self.path.join("trees").join(format!("{commit}.json"));
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, serde_json::to_string_pretty(&body).unwrap()).unwrap();
        self
    }

    /// An unfinished download: `blobs/<etag>.incomplete` with `bytes` bytes.
    pub fn incomplete(&self, etag: &str, bytes: usize) -> &Self {
        let p = self.path.join("blobs").join(format!("{etag}.incomplete"));
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, vec![7u8; bytes]).unwrap();
        self
    }

    /// A snapshot symlink to a blob that does not exist.
    pub fn dangling(&self, commit: &str, file: &str) -> &Self {
        let link = self.path.join("snapshots").join(commit).join(file);
        fs::create_dir_all(link.parent().unwrap()).unwrap();
        symlink(
            Path::new("../../blobs/0000000000000000000000000000000000000000"),
            &link,
        );
        self
    }

    /// A snapshot file that is a symlink to `target` (anywhere).
    pub fn link(&self, commit: &str, file: &str, target: &Path) -> &Self {
        let link = self.path.join("snapshots").join(commit).join(file);
        fs::create_dir_all(link.parent().unwrap()).unwrap();
        symlink(target, &link);
        self
    }
}

#[cfg(unix)]
pub fn symlink(target: &Path, link: &Path) {
    std::os::unix::fs::symlink(target, link).unwrap();
}

#[cfg(windows)]
pub fn symlink(target: &Path, link: &Path) {
    std::os::windows::fs::symlink_file(target, link).unwrap();
}

/// `n` bytes that differ per `seed`, large enough to be an LFS file.
pub fn weights(seed: u8, n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// `n` bytes that never repeat at any offset (xorshift): a range misplaced by
/// any amount shows, and Xet chunks them into many chunks, as real weights.
pub fn noise(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
