//! Whether a model is there to use, as a product asks it: the files of one
//! revision that its file set selects, each on disk under the name the
//! listing gives it. Other files and other revisions do not matter.
//!
//! Read from the disk only (no network), so `sync --check` and `list` can
//! answer offline. The revision is a commit, or a branch or tag resolved
//! through the cache's `refs/`. Without a listing (`trees/<commit>.json`,
//! which caches written before huggingface_hub 2.x lack) the files that
//! should be there are unknown: a snapshot holding selected files counts as
//! whole, as huggingface_hub's own `scan_cache_dir` would say.

use std::collections::BTreeMap;

use serde::Serialize;

use super::report::{CachedRepo, RepoState};
use super::snapshot::snapshot_files;
use super::tree::{TreeEntry, TreeListing};
use super::{CommitHash, RefName};
use crate::file_set::FileSet;

/// How much of a revision's file set is on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Readiness {
    /// Whole, begun, absent, or damaged.
    pub state: Ready,
    /// The commit the revision is at here; `None` when the cache cannot say
    /// (a branch never downloaded).
    pub commit: Option<String>,
    /// Selected files that are missing, or of the wrong size or name.
    pub missing_files: usize,
    /// Their bytes, when the listing says (`None` without a listing).
    pub missing_bytes: Option<u64>,
}

/// The verdict of [`readiness`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ready {
    /// Every selected file is there.
    Ready,
    /// Some are, or a download of it is unfinished.
    Partial,
    /// Nothing of that revision is here.
    Missing,
    /// The repo is damaged (see `scan`).
    Corrupt,
}

/// The readiness of `revision`'s `files` in `repo` (as the scan read it;
/// `None` when it is not cached).
pub fn readiness(repo: Option<&CachedRepo>, revision: &RefName, files: &FileSet) -> Readiness {
    let Some(repo) = repo else {
        return Readiness::missing(None);
    };
    if repo.state == RepoState::Corrupt {
        return Readiness {
            state: Ready::Corrupt,
            ..Readiness::missing(None)
        };
    }
    let commit = match revision.as_commit() {
        Some(commit) => Some(commit.to_string()),
        None => repo.refs.get(revision.as_str()).cloned(),
    };
    let Some(commit) = commit.filter(|c| CommitHash::parse(c).is_ok()) else {
        return Readiness::missing(None).or_unfinished(repo);
    };
    // Canonical, as `snapshot_files` checks that links stay under the cache.
    let repo_path = dunce::canonicalize(&repo.repo_path).unwrap_or_else(|_| repo.repo_path.clone());
    let root = repo_path.parent().unwrap_or(&repo_path);
    let present: BTreeMap<String, (String, Option<u64>)> =
        snapshot_files(root, &repo_path.join("snapshots").join(&commit))
            .into_iter()
            .filter(|f| files.keeps(&f.path))
            .map(|f| (f.path.clone(), (f.etag(), f.size)))
            .collect();
    let mut ready = match TreeListing::entries(&TreeListing::dir(&repo_path), &commit) {
        Some(listing) => match compare(&listing, &present, files) {
            r if r.state == Ready::Missing => r.or_unfinished(repo),
            r => r,
        },
        None if present.is_empty() => Readiness::missing(None).or_unfinished(repo),
        // No listing: the selected files there are all we know of, and an
        // unfinished download of the repo may be one of ours.
        None => Readiness {
            state: Ready::Ready,
            ..Readiness::missing(None)
        }
        .or_unfinished(repo),
    };
    ready.commit = Some(commit);
    ready
}

impl Readiness {
    fn missing(missing_bytes: Option<u64>) -> Self {
        Self {
            state: Ready::Missing,
            commit: None,
            missing_files: 0,
            missing_bytes,
        }
    }

    /// Whether every selected file is there.
    pub fn is_ready(&self) -> bool {
        self.state == Ready::Ready
    }

    /// Partial when the scan found the repo unfinished: without a listing,
    /// only `.incomplete` files make it so (counted by file: one may still
    /// be empty).
    fn or_unfinished(mut self, repo: &CachedRepo) -> Self {
        if repo.state == RepoState::Partial {
            self.state = Ready::Partial;
        }
        self
    }
}

/// The listing's selected files against the snapshot's: a file counts when
/// its blob has the listing's size and, when it is a link, the listing's name.
fn compare(
    listing: &BTreeMap<String, TreeEntry>,
    present: &BTreeMap<String, (String, Option<u64>)>,
    files: &FileSet,
) -> Readiness {
    let (mut missing_files, mut missing_bytes, mut found) = (0, 0, 0);
    for (path, entry) in listing.iter().filter(|(p, _)| files.keeps(p)) {
        let whole = present.get(path).is_some_and(|(name, size)| {
            *size == Some(entry.size) && (name == entry.etag() || is_plain_copy(path, name))
        });
        if whole {
            found += 1;
        } else {
            missing_files += 1;
            missing_bytes += entry.size;
        }
    }
    let state = match (missing_files, found) {
        (0, _) => Ready::Ready,
        (_, 0) => Ready::Missing,
        _ => Ready::Partial,
    };
    Readiness {
        state,
        commit: None,
        missing_files,
        missing_bytes: Some(missing_bytes),
    }
}

/// A snapshot written without symlinks holds the file itself, named as in
/// the repo (huggingface_hub on Windows without developer mode).
fn is_plain_copy(path: &str, name: &str) -> bool {
    path.rsplit('/').next() == Some(name)
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::*;
    use crate::cache::{scan_repo, RepoId};

    const C1: &str = "1111111111111111111111111111111111111111";
    const C2: &str = "2222222222222222222222222222222222222222";

    /// A repo at `commit` listing `files` (path, content); those in `have`
    /// are in the snapshot. `main` points to `commit`.
    fn repo(root: &Path, commit: &str, files: &[(&str, &str)], have: &[&str]) {
        let dir = root.join("models--org--m");
        let mut listing = BTreeMap::new();
        for (path, content) in files {
            let etag = format!(
                "{:0>40}",
                content.len().to_string() + path.len().to_string().as_str()
            );
            listing.insert(
                path.to_string(),
                TreeEntry {
                    size: content.len() as u64,
                    blob_id: etag.clone(),
                    lfs_sha256: None,
                    lfs_size: None,
                    xet_hash: None,
                },
            );
            if !have.contains(path) {
                continue;
            }
            std::fs::create_dir_all(dir.join("blobs")).unwrap();
            std::fs::write(dir.join("blobs").join(&etag), content).unwrap();
            let link = dir.join("snapshots").join(commit).join(path);
            std::fs::create_dir_all(link.parent().unwrap()).unwrap();
            let up = "../".repeat(path.matches('/').count() + 2);
            std::os::unix::fs::symlink(format!("{up}blobs/{etag}"), link).unwrap();
        }
        std::fs::create_dir_all(dir.join("refs")).unwrap();
        std::fs::write(dir.join("refs/main"), commit).unwrap();
        TreeListing::write(&TreeListing::dir(&dir), commit, listing).unwrap();
    }

    fn ready_of(root: &Path, revision: &str, include: &[&str]) -> Readiness {
        let id = RepoId::model("org/m").unwrap();
        let scanned = scan_repo(root, &id).unwrap().map(|s| s.repo);
        let files = FileSet::new(include.iter().map(|s| s.to_string()).collect(), vec![]).unwrap();
        readiness(scanned.as_ref(), &RefName::parse(revision).unwrap(), &files)
    }

    const FILES: &[(&str, &str)] = &[
        ("config.json", "{}"),
        ("onnx/model.onnx", "onnx weights"),
        ("model.safetensors", "st weights!"),
    ];

    #[test]
    fn only_the_selected_files_matter() {
        let tmp = tempfile::tempdir().unwrap();
        repo(tmp.path(), C1, FILES, &["config.json", "onnx/model.onnx"]);
        let onnx = ready_of(tmp.path(), "main", &["*.json", "onnx/*"]);
        assert_eq!(onnx.state, Ready::Ready);
        assert_eq!(onnx.commit.as_deref(), Some(C1));
        assert_eq!(onnx.missing_bytes, Some(0));
        let all = ready_of(tmp.path(), "main", &[]);
        assert_eq!(all.state, Ready::Partial);
        assert_eq!((all.missing_files, all.missing_bytes), (1, Some(11)));
    }

    #[test]
    fn a_pinned_commit_is_read_by_its_hash_and_other_commits_do_not_count() {
        let tmp = tempfile::tempdir().unwrap();
        repo(
            tmp.path(),
            C1,
            FILES,
            &["config.json", "onnx/model.onnx", "model.safetensors"],
        );
        assert_eq!(ready_of(tmp.path(), C1, &[]).state, Ready::Ready);
        let other = ready_of(tmp.path(), C2, &[]);
        assert_eq!(other.state, Ready::Missing);
        assert_eq!(
            ready_of(tmp.path(), "v1.0", &[]).state,
            Ready::Missing,
            "no such tag here"
        );
        assert_eq!(
            ready_of(tmp.path().join("nothing").as_path(), "main", &[]).state,
            Ready::Missing
        );
    }

    #[test]
    fn a_file_under_the_wrong_name_or_size_is_missing() {
        let tmp = tempfile::tempdir().unwrap();
        repo(tmp.path(), C1, FILES, &["config.json"]);
        let dir = tmp.path().join("models--org--m");
        // The right size under another blob's name: not the listed file.
        let link = dir.join("snapshots").join(C1).join("model.safetensors");
        std::fs::write(dir.join("blobs").join("f".repeat(40)), "st weights!").unwrap();
        std::os::unix::fs::symlink(format!("../../blobs/{}", "f".repeat(40)), &link).unwrap();
        let r = ready_of(tmp.path(), "main", &["*.json", "*.safetensors"]);
        assert_eq!(r.state, Ready::Partial);
        assert_eq!(r.missing_files, 1);
    }
}
