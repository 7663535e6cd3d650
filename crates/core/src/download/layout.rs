//! Writes the standard cache layout (DESIGN.md): refs, tree listings and
//! relative snapshot symlinks, each replaced atomically so a crash never
//! leaves a half-written pointer. Every name joined to a path here is a
//! validated type (`crate::cache::names`), so no answer from a hub can
//! place a file outside its repo folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::crash::{self, Step};
use crate::atomic_file::write_atomically;
use crate::cache::tree::{TreeEntry, TreeListing};
use crate::cache::{BlobName, CommitHash, RefName, RepoFilePath, RepoId};
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
pub fn write_ref(repo_dir: &Path, name: &RefName, commit: &CommitHash) -> Result<()> {
    let path = name.path_in(&repo_dir.join("refs"));
    if std::fs::read_to_string(&path).is_ok_and(|c| c.trim() == commit.as_str()) {
        return Ok(());
    }
    write_atomically(&path, commit.as_str().as_bytes())?;
    crash::reached(Step::Ref);
    Ok(())
}

/// `trees/<commit>.json`, unless a valid one is already there.
pub fn write_listing(
    repo_dir: &Path,
    commit: &CommitHash,
    files: BTreeMap<String, TreeEntry>,
) -> Result<()> {
    let trees = TreeListing::dir(repo_dir);
    // Kept only when it reads: a damaged listing (another program's, or a
    // full disk's) is replaced by the hub's.
    if TreeListing::read(&trees, commit.as_str(), &mut Vec::new()).is_some() {
        return Ok(());
    }
    TreeListing::write(&trees, commit.as_str(), files)?;
    crash::reached(Step::Listing);
    Ok(())
}

/// `snapshots/<commit>/<path>` → `../../blobs/<etag>` (one more `../` per folder).
pub fn link_snapshot(
    repo_dir: &Path,
    commit: &CommitHash,
    path: &RepoFilePath,
    etag: &BlobName,
) -> Result<PathBuf> {
    let snapshot = repo_dir.join("snapshots").join(commit.as_str());
    let link = path.join_to(&snapshot);
    let target = blob_target(path, etag);
    if std::fs::read_link(&link).is_ok_and(|t| t == target) {
        return Ok(link);
    }
    real_folders(&snapshot, path)?;
    let parent = link.parent().unwrap_or(repo_dir);
    let tmp = parent.join(format!(".{etag}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    symlink(&target, &tmp).map_err(|e| Error::io("link", &tmp, e))?;
    if let Err(e) = crate::fs_retry::rename(&tmp, &link) {
        // Not left behind: a stray temp link would read as damage.
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    crash::reached(Step::Link);
    Ok(link)
}

/// `../../blobs/<etag>`, one more `..` per folder of `path`, built from
/// components: Windows resolves a link's target only with its own
/// separator, so a `/`-written target dangles there ("File not found").
fn blob_target(path: &RepoFilePath, etag: &BlobName) -> PathBuf {
    let mut target: PathBuf = std::iter::repeat_n("..", path.depth() + 2).collect();
    target.push("blobs");
    target.push(etag.as_str());
    target
}

/// Creates the snapshot folder and the folders of `path` in it, refusing
/// any that exists as a symlink or a file: `create_dir_all` would follow a
/// link that another program left there, and write outside the cache.
pub(crate) fn real_folders(snapshot: &Path, path: &RepoFilePath) -> Result<()> {
    let folders = std::iter::once(snapshot.to_owned()).chain(path.parents().map(|p| {
        RepoFilePath::parse(p).map_or_else(|_| snapshot.join(p), |p| p.join_to(snapshot))
    }));
    for dir in folders {
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Error::CacheDir {
                    path: dir,
                    message: "is a symlink or a file where the snapshot needs a folder; remove it and run the download again".into(),
                })
            }
            Err(_) => match std::fs::create_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => {}
                Err(e) => return Err(Error::io("create", dir, e)),
            },
        }
    }
    Ok(())
}

pub(crate) use crate::cache::paths::symlink;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_relative_and_replaced() {
        let cache = tempfile::tempdir().unwrap();
        if !crate::test_fs::links_work(cache.path()) {
            return; // placement::tests covers the layout without links
        }
        let repo = RepoId::model("o/m").unwrap();
        let dir = prepare_repo(cache.path(), &repo).unwrap();
        let (e1, e2) = (
            BlobName::parse(&"1".repeat(40)).unwrap(),
            BlobName::parse(&"2".repeat(40)).unwrap(),
        );
        let c0 = CommitHash::parse(&"c".repeat(40)).unwrap();
        let path = RepoFilePath::parse("a/b/f.txt").unwrap();
        std::fs::write(dir.join("blobs").join(e1.as_str()), "x").unwrap();
        let link = link_snapshot(&dir, &c0, &path, &e1).unwrap();
        let expected: PathBuf = ["..", "..", "..", "..", "blobs", e1.as_str()]
            .iter()
            .collect();
        assert_eq!(std::fs::read_link(&link).unwrap(), expected);
        assert_eq!(std::fs::read_to_string(&link).unwrap(), "x");
        std::fs::write(dir.join("blobs").join(e2.as_str()), "y").unwrap();
        link_snapshot(&dir, &c0, &path, &e2).unwrap();
        assert_eq!(std::fs::read_to_string(&link).unwrap(), "y");
        write_ref(&dir, &RefName::main(), &c0).unwrap();
        write_ref(&dir, &RefName::parse("refs/pr/1").unwrap(), &c0).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("refs/main")).unwrap(),
            c0.as_str()
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("refs/refs/pr/1")).unwrap(),
            c0.as_str()
        );
        assert!(cache.path().join("CACHEDIR.TAG").is_file());
    }

    #[test]
    fn a_damaged_listing_is_replaced_and_a_good_one_kept() {
        let cache = tempfile::tempdir().unwrap();
        let dir = prepare_repo(cache.path(), &RepoId::model("o/m").unwrap()).unwrap();
        let c0 = CommitHash::parse(&"c".repeat(40)).unwrap();
        let path = TreeListing::path(&TreeListing::dir(&dir), c0.as_str());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "{\"format_version\": 1, \"files\": {").unwrap();
        let entry = TreeEntry {
            size: 2,
            blob_id: "1".repeat(40),
            lfs_sha256: None,
            lfs_size: None,
            xet_hash: None,
        };
        let files = BTreeMap::from([("a.json".to_owned(), entry)]);
        write_listing(&dir, &c0, files.clone()).unwrap();
        let read = TreeListing::read(&TreeListing::dir(&dir), c0.as_str(), &mut Vec::new());
        assert_eq!(read.unwrap().files.get("a.json"), Some(&2));
        let written = std::fs::metadata(&path).unwrap().modified().unwrap();
        write_listing(&dir, &c0, BTreeMap::new()).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().modified().unwrap(),
            written,
            "kept"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_folder_that_is_a_symlink_is_never_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        let dir = prepare_repo(&tmp.path().join("cache"), &RepoId::model("o/m").unwrap()).unwrap();
        let c0 = CommitHash::parse(&"c".repeat(40)).unwrap();
        let snapshot = dir.join("snapshots").join(c0.as_str());
        std::fs::create_dir_all(&snapshot).unwrap();
        std::os::unix::fs::symlink(&outside, snapshot.join("onnx")).unwrap();
        let etag = BlobName::parse(&"1".repeat(40)).unwrap();
        let err = link_snapshot(
            &dir,
            &c0,
            &RepoFilePath::parse("onnx/m.onnx").unwrap(),
            &etag,
        )
        .unwrap_err();
        assert!(err.to_string().contains("symlink or a file"), "{err}");
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    }
}
