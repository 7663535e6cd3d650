//! Writes the standard cache layout (DESIGN.md): refs, tree listings and
//! relative snapshot symlinks, each replaced atomically so a crash never
//! leaves a half-written pointer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::atomic_file::write_atomically;
use crate::cache::tree::{TreeEntry, TreeListing};
use crate::cache::RepoId;
use crate::error::{Error, Result};

/// The tag backup tools honour; huggingface_hub writes the same.
const CACHEDIR_TAG: &str = "Signature: 8a477f597d28d172789f06886806bc55\n\
# This file is a cache directory tag created by HAID Models.\n\
# For information about cache directory tags, see:\n\
#\thttps://bford.info/cachedir/\n";

/// Creates `<cache>/models--org--name/{blobs,snapshots,refs}` and the cache's tag.
pub fn prepare_repo(cache_dir: &Path, repo: &RepoId) -> Result<PathBuf> {
    let dir = repo.repo_dir(cache_dir);
    for sub in ["blobs", "snapshots", "refs"] {
        let p = dir.join(sub);
        std::fs::create_dir_all(&p).map_err(|e| Error::io("create", p, e))?;
    }
    let tag = cache_dir.join("CACHEDIR.TAG");
    if !tag.exists() {
        let _ = std::fs::write(tag, CACHEDIR_TAG);
    }
    Ok(dir)
}

/// `refs/<name>` → `commit` (no newline, as huggingface_hub writes it).
pub fn write_ref(repo_dir: &Path, name: &str, commit: &str) -> Result<()> {
    let path = repo_dir.join("refs").join(name);
    if std::fs::read_to_string(&path).is_ok_and(|c| c.trim() == commit) {
        return Ok(());
    }
    write_atomically(&path, commit.as_bytes())
}

/// `trees/<commit>.json`, unless it is already there.
pub fn write_listing(
    repo_dir: &Path,
    commit: &str,
    files: BTreeMap<String, TreeEntry>,
) -> Result<()> {
    let trees = TreeListing::dir(repo_dir);
    if TreeListing::path(&trees, commit).is_file() {
        return Ok(());
    }
    TreeListing::write(&trees, commit, files)
}

/// `snapshots/<commit>/<path>` → `../../blobs/<etag>` (one more `../` per folder).
pub fn link_snapshot(repo_dir: &Path, commit: &str, path: &str, etag: &str) -> Result<PathBuf> {
    let link = repo_dir.join("snapshots").join(commit).join(path);
    let depth = path.split('/').count() + 1;
    let target = PathBuf::from(format!("{}blobs/{etag}", "../".repeat(depth)));
    if std::fs::read_link(&link).is_ok_and(|t| t == target) {
        return Ok(link);
    }
    let parent = link.parent().unwrap_or(repo_dir);
    std::fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
    let tmp = parent.join(format!(".{etag}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    symlink(&target, &tmp).map_err(|e| Error::io("link", &tmp, e))?;
    std::fs::rename(&tmp, &link).map_err(|e| Error::io("link", &link, e))?;
    Ok(link)
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(windows)]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::windows::fs::symlink_file(target, link)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_relative_and_replaced() {
        let cache = tempfile::tempdir().unwrap();
        let repo = RepoId::model("o/m").unwrap();
        let dir = prepare_repo(cache.path(), &repo).unwrap();
        std::fs::write(dir.join("blobs/e1"), "x").unwrap();
        let link = link_snapshot(&dir, "c0", "a/b/f.txt", "e1").unwrap();
        assert_eq!(
            std::fs::read_link(&link).unwrap(),
            PathBuf::from("../../../../blobs/e1")
        );
        assert_eq!(std::fs::read_to_string(&link).unwrap(), "x");
        std::fs::write(dir.join("blobs/e2"), "y").unwrap();
        link_snapshot(&dir, "c0", "a/b/f.txt", "e2").unwrap();
        assert_eq!(std::fs::read_to_string(&link).unwrap(), "y");
        write_ref(&dir, "main", "c0").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("refs/main")).unwrap(),
            "c0"
        );
        assert!(cache.path().join("CACHEDIR.TAG").is_file());
    }
}
