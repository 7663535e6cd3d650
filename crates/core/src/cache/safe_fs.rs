//! Removing things from the cache, and nothing else: every path is checked to
//! lie inside the (canonical) cache after its parent folders are resolved, and
//! symlinks are unlinked, never followed. Showing a place of the cache (the
//! app's "Open folder") goes through the same check ([`resolve_inside`]).

use std::fs;
use std::path::{Component, Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::paths::is_under;
use super::repo::{RepoId, RepoType};
use super::report::TrashLeft;
use crate::error::{Error, Result};

/// Repos being deleted are renamed to `.trash-<folder>-<pid>-<nanos>` first;
/// a crash leaves a name no tool reads as a model, and the next scan finishes
/// the removal. What even that cannot remove (a permission) is listed by the
/// scan with its size ([`TrashLeft`]), and `delete` or `prune` try again.
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
    let real_parent = dunce::canonicalize(parent).map_err(|e| Error::io("resolve", parent, e))?;
    if !is_under(&real_parent, root) {
        return Err(refuse("it lies outside the cache"));
    }
    Ok(())
}

/// The real path of `path` (every symlink resolved) when that is the cache
/// or lies inside it; anything else is refused. For handing a path that
/// came from outside (the page) to another program, such as the file
/// manager: a link that leads out of the cache is refused too.
pub fn resolve_inside(cache_dir: &Path, path: &Path) -> Result<PathBuf> {
    let root = dunce::canonicalize(cache_dir)
        .map_err(|e| Error::io("open the cache folder", cache_dir, e))?;
    let real = dunce::canonicalize(path).map_err(|e| Error::io("resolve", path, e))?;
    if !is_under(&real, &root) {
        return Err(Error::InvalidArgument {
            what: "path",
            value: path.display().to_string(),
            reason: "it is not in the cache; only the cache's own folders are opened".into(),
        });
    }
    Ok(real)
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

/// The repo folder a trash folder held: `.trash-<folder>-<pid>-<nanos>` →
/// `<folder>`; `None` for any other name.
pub fn trash_origin(name: &str) -> Option<&str> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (rest, nanos) = name.strip_prefix(TRASH_PREFIX)?.rsplit_once('-')?;
    let (folder, pid) = rest.rsplit_once('-')?;
    (digits(nanos) && digits(pid) && !folder.is_empty()).then_some(folder)
}

/// Every trash folder of the cache root, sorted; with `folder`, only those
/// that held that repo folder.
pub fn trash_dirs(root: &Path, folder: Option<&str>) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(root) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with(TRASH_PREFIX) && folder.is_none_or(|f| trash_origin(&name) == Some(f))
        })
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

/// Finishes the removal of a trash folder (a delete a crash or an error cut
/// short). What cannot be removed is returned with why, so it is shown,
/// never hidden.
pub fn finish_trash(root: &Path, trash: &Path) -> Option<(TrashLeft, String)> {
    finish_trash_with(trash, || remove_inside(root, trash))
}

/// [`finish_trash`] with the removal given, so tests can make it fail.
fn finish_trash_with(
    trash: &Path,
    remove: impl FnOnce() -> Result<()>,
) -> Option<(TrashLeft, String)> {
    let cause = match remove() {
        Ok(()) => return None,
        Err(e) => e.to_string(),
    };
    fs::symlink_metadata(trash).ok()?;
    // The error names no file (remove_dir_all stops at the first it cannot
    // remove): show one that is left, so the user knows where to look.
    let cause = match example_left(trash) {
        Some(file) => format!("{cause}; still there: {}", file.display()),
        None => cause,
    };
    let name = file_name_of(trash);
    let left = TrashLeft {
        path: trash.to_owned(),
        folder: trash_origin(&name).unwrap_or(&name).to_owned(),
        size_on_disk: size_of(trash),
    };
    Some((left, cause))
}

/// The warning for what a delete left: how big, why, and how to finish it.
pub fn trash_warning(left: &TrashLeft, cause: &str) -> String {
    let again = finish_advice(&left.folder);
    format!(
        "{} of {} are still on disk here: a delete could not finish ({cause}). \
         Fix the permission of what is left (or its immutable flag: `chattr -i`), then {again}",
        shown_size(left.size_on_disk),
        left.folder
    )
}

/// The command that finishes the delete of a repo folder: `delete` takes
/// model ids, `prune` finishes any.
pub fn finish_advice(folder: &str) -> String {
    match RepoId::from_folder_name(folder) {
        Ok(id) if id.repo_type() == RepoType::Model => {
            format!(
                "run `haid-models delete {}` again, or `haid-models prune`",
                id.id()
            )
        }
        _ => "run `haid-models prune`".to_owned(),
    }
}

/// Finishes removals a crash interrupted. Errors are left for the next time.
pub fn empty_trash(root: &Path) {
    for trash in trash_dirs(root, None) {
        let _ = remove_inside(root, &trash);
    }
}

/// A file (or link) still under `dir`, links not followed; `None` when only
/// folders are left.
fn example_left(dir: &Path) -> Option<PathBuf> {
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).ok()?.flatten() {
            match entry.file_type() {
                Ok(t) if t.is_dir() => pending.push(entry.path()),
                Ok(_) => return Some(entry.path()),
                Err(_) => {}
            }
        }
    }
    None
}

fn file_name_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `1.5 GB`, `320 KB`, `12 bytes`: sizes in messages (decimal units, as the CLI).
pub(crate) fn shown_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
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
        if !crate::test_fs::links_work(tmp.path()) {
            return; // nothing can lead outside where no link can be made
        }
        crate::test_fs::symlink(&outside, root.join("repo/blobs")).unwrap();
        let root = dunce::canonicalize(&root).unwrap();
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
    fn only_places_in_the_cache_resolve() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = tmp.path().join("cache");
        let outside = tmp.path().join("outside");
        fs::create_dir_all(cache.join("models--a--b/snapshots")).unwrap();
        fs::create_dir_all(&outside).unwrap();
        let root = dunce::canonicalize(&cache).unwrap();
        assert_eq!(resolve_inside(&cache, &cache).unwrap(), root);
        assert_eq!(
            resolve_inside(&cache, &cache.join("models--a--b/snapshots/../snapshots")).unwrap(),
            root.join("models--a--b/snapshots")
        );
        // Out by `..`, by a link (where links can be made), or a sibling
        // whose name starts the same.
        let mut outs = vec![
            cache.join(".."),
            tmp.path().join("cache-other"),
            PathBuf::from("/etc"),
        ];
        if crate::test_fs::links_work(tmp.path()) {
            crate::test_fs::symlink(&outside, cache.join("models--a--b/out")).unwrap();
            outs.push(cache.join("models--a--b/out"));
        }
        fs::create_dir_all(tmp.path().join("cache-other")).unwrap();
        for path in outs {
            let err = resolve_inside(&cache, &path).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument, "{path:?}");
            assert!(err.to_string().contains("not in the cache"), "{err}");
        }
        let err = resolve_inside(&cache, &cache.join("gone")).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Io, "{err}");
    }

    #[test]
    fn trash_is_emptied() {
        let tmp = tempfile::tempdir().unwrap();
        let root = dunce::canonicalize(tmp.path()).unwrap();
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

    #[test]
    fn trash_names_tell_the_repo_folder() {
        assert_eq!(
            trash_origin(".trash-models--my-org--m-1-2"),
            Some("models--my-org--m")
        );
        for not in [".trash-x", ".trash--1-2", ".trash-m-1-x", "models--a--b"] {
            assert_eq!(trash_origin(not), None, "{not}");
        }
    }

    // Unix permissions make the file undeletable; Windows has its own.
    #[cfg(unix)]
    #[test]
    fn what_a_removal_cannot_finish_is_shown_with_its_size_and_the_fix() {
        let tmp = tempfile::tempdir().unwrap();
        let root = dunce::canonicalize(tmp.path()).unwrap();
        let trash = root.join(".trash-models--org--m-7-8");
        fs::create_dir_all(trash.join("blobs")).unwrap();
        fs::write(trash.join("blobs/x"), vec![0u8; 1500]).unwrap();
        // An injected failure: as root, permissions stop nothing.
        let denied = || {
            Err(Error::io(
                "delete",
                trash.join("blobs/x"),
                std::io::ErrorKind::PermissionDenied.into(),
            ))
        };
        let (left, cause) = finish_trash_with(&trash, denied).unwrap();
        assert_eq!(left.folder, "models--org--m");
        assert_eq!(left.size_on_disk, 1500);
        let warning = trash_warning(&left, &cause);
        assert!(warning.starts_with("1.5 KB of models--org--m"), "{warning}");
        assert!(warning.contains("permission denied"), "{warning}");
        assert!(warning.contains("still there: "), "{warning}");
        assert!(warning.contains("blobs/x"), "{warning}");
        assert!(
            warning.contains("`haid-models delete org/m` again"),
            "{warning}"
        );
        assert_eq!(
            trash_dirs(&root, Some("models--org--m")),
            std::slice::from_ref(&trash)
        );
        assert!(trash_dirs(&root, Some("models--org--other")).is_empty());
        // Without the failure it goes, and nothing is reported.
        assert!(finish_trash(&root, &trash).is_none());
        assert!(!trash.exists());
    }
}
