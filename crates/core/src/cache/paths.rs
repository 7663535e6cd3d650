//! Small path and file-time helpers shared by the cache modules.

use std::fs::Metadata;
use std::path::{Component, Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Names that operating systems drop into folders; ignored everywhere, as
/// `huggingface_hub` ignores them.
pub const OS_LITTER: [&str; 3] = [".DS_Store", "Thumbs.db", "desktop.ini"];

/// Resolves `.` and `..` without touching the disk, so a symlink's target can
/// be checked against the cache before anything is opened.
pub fn normalize_lexically(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// `dir/target` normalised: where a symlink in `dir` points. Fast for the
/// `../../blobs/<etag>` links that make up a cache (a scan resolves ~100k);
/// anything unusual goes through [`normalize_lexically`].
pub fn resolve_link(dir: &Path, target: &Path) -> PathBuf {
    if let (Some(text), false) = (target.to_str(), target.is_absolute()) {
        let mut base = dir;
        let mut rest = text;
        while let Some(r) = rest.strip_prefix("../") {
            let Some(parent) = base.parent() else { break };
            base = parent;
            rest = r;
        }
        let plain = !rest.is_empty() && rest.split('/').all(|c| !matches!(c, "" | "." | ".."));
        if plain {
            return base.join(rest);
        }
    }
    normalize_lexically(&dir.join(target))
}

/// Whether `path` lies under `root` (both normalised): a byte comparison, as
/// component-wise `Path::starts_with` shows in profiles of big scans.
/// The last component of `path` as text (empty for `/` or `..`).
pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub fn is_under(path: &Path, root: &Path) -> bool {
    let (path, root) = (
        path.as_os_str().as_encoded_bytes(),
        root.as_os_str().as_encoded_bytes(),
    );
    path.starts_with(root) && matches!(path.get(root.len()), None | Some(b'/') | Some(b'\\'))
        || root.ends_with(b"/") && path.starts_with(root)
}

/// A symlink to a file: the cache's links (snapshot files to blobs, repo
/// blobs to the shared store's payloads) are all to files.
#[cfg(unix)]
pub(crate) fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

/// A symlink to a file (Windows makes links to files and to folders apart).
#[cfg(windows)]
pub(crate) fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::windows::fs::symlink_file(target, link)
}

/// Seconds since the epoch, floored (times before 1970 clamp to 0).
pub fn unix_seconds(time: std::io::Result<SystemTime>) -> i64 {
    time.ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Identifies a file's storage, so a blob reached twice (hard link, shared
/// store) is counted once in physical totals.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FileIdentity {
    #[cfg(unix)]
    Inode { dev: u64, ino: u64 },
    #[cfg(not(unix))]
    Path(PathBuf),
}

impl FileIdentity {
    #[cfg(unix)]
    pub fn of(_path: &Path, meta: &Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Self::Inode {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }

    #[cfg(not(unix))]
    pub fn of(path: &Path, _meta: &Metadata) -> Self {
        Self::Path(path.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_parent_components() {
        assert_eq!(
            normalize_lexically(Path::new("/c/models--a--b/snapshots/x/../../blobs/e")),
            PathBuf::from("/c/models--a--b/blobs/e")
        );
        assert_eq!(
            normalize_lexically(Path::new("/c/./a/../../..")),
            PathBuf::from("/")
        );
    }
}
