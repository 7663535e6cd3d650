//! Removing things from the cache, and nothing else: every path is checked to
//! lie inside the (canonical) cache after its parent folders are resolved, and
//! symlinks are unlinked, never followed.

use std::fs;
use std::path::{Component, Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::paths::is_under;
use crate::error::{Error, Result};

/// Repos being deleted are renamed to `.trash-…` first; a crash leaves a
/// name no tool reads as a model, and the next scan finishes the removal.
pub const TRASH_PREFIX: &str = ".trash-";

/// Refuses `path` unless its real parent folder is inside `root` and its
/// last part is a plain name (no `..`).
pub fn check_inside(root: &Path, path: &Path) -> Result<()> {
    let refuse = |why: &str| Error::InvalidArgument {
        what: "path",
        value: path.display().to_string(),
        reason: format!("{why}; nothing outside the cache is ever touched"),
    };
    let (Some(parent), Some(Component::Normal(_))) = (path.parent(), path.components().next_back())
    else {
        return Err(refuse("not a file or folder name"));
    };
    let real_parent = fs::canonicalize(parent).map_err(|e| Error::io("resolve", parent, e))?;
    if !is_under(&real_parent, root) {
        return Err(refuse("it lies outside the cache"));
    }
    Ok(())
}

/// Bytes a removal frees: regular files, counted without following links.
pub fn size_of(path: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return 0;
    };
    if meta.is_file() {
        return meta.len();
    }
    if !meta.is_dir() {
        return 0;
    }
    fs::read_dir(path)
        .map(|entries| entries.flatten().map(|e| size_of(&e.path())).sum())
        .unwrap_or(0)
}

/// Removes a file, a symlink (the link, not its target) or a folder tree
/// (whose symlinks are unlinked, not followed). A missing path is fine.
pub fn remove_inside(root: &Path, path: &Path) -> Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("read", path, e)),
    };
    check_inside(root, path)?;
    let result = if meta.is_dir() {
        // std's remove_dir_all unlinks symlinks inside without following them.
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
    match result {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io("delete", path, e)),
        _ => Ok(()),
    }
}

/// Renames a folder of the cache to a fresh trash name beside it.
pub fn move_to_trash(root: &Path, dir: &Path) -> Result<PathBuf> {
    check_inside(root, dir)?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let trash = root.join(format!(
        "{TRASH_PREFIX}{name}-{}-{nanos}",
        std::process::id()
    ));
    fs::rename(dir, &trash).map_err(|e| Error::io("move to trash", dir, e))?;
    Ok(trash)
}

/// Finishes removals a crash interrupted. Errors are left for the next time.
pub fn empty_trash(root: &Path) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(TRASH_PREFIX)
        {
            let _ = remove_inside(root, &entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_paths_whose_parent_leads_outside() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("cache");
        let outside = tmp.path().join("outside");
        fs::create_dir_all(root.join("repo")).unwrap();
        fs::create_dir_all(&outside).unwrap();
        fs::write(outside.join("precious"), "keep").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("repo/blobs")).unwrap();
        let root = fs::canonicalize(&root).unwrap();
        let err = remove_inside(&root, &root.join("repo/blobs/precious")).unwrap_err();
        assert!(err.to_string().contains("outside the cache"), "{err}");
        assert_eq!(
            fs::read_to_string(outside.join("precious")).unwrap(),
            "keep"
        );
        // The link itself may go; its target stays.
        remove_inside(&root, &root.join("repo/blobs")).unwrap();
        assert!(outside.join("precious").exists());
        assert!(remove_inside(&root, &root.join("..")).is_err());
    }

    #[test]
    fn trash_is_emptied() {
        let tmp = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(tmp.path()).unwrap();
        fs::create_dir_all(root.join("models--a--b/blobs")).unwrap();
        fs::write(root.join("models--a--b/blobs/x"), "12345").unwrap();
        assert_eq!(size_of(&root.join("models--a--b")), 5);
        let trash = move_to_trash(&root, &root.join("models--a--b")).unwrap();
        assert!(trash
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(TRASH_PREFIX));
        empty_trash(&root);
        assert_eq!(fs::read_dir(&root).unwrap().count(), 0);
    }
}
