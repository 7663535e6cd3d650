//! Symlinks for the unit tests, on every system: the tests build caches as
//! huggingface_hub lays them out, with relative links written `../../blobs/x`.
//! On Windows a link's target must use `\` to resolve, and a link to a
//! folder must be made as one, so the target is rewritten there. Where no
//! symlink can be made (Wine, Windows without developer mode), a link to a
//! file becomes a copy of it: the layout huggingface_hub writes there.

use std::path::Path;

/// Whether links can be made in `dir`: always on Unix; on Windows, when
/// the account may (developer mode) and the system really makes them.
pub fn links_work(dir: &Path) -> bool {
    cfg!(unix) || crate::download::placement::symlinks_supported(dir)
}

/// `link` → `target` (relative to the link's folder, or absolute).
#[cfg(unix)]
pub fn symlink(target: impl AsRef<Path>, link: impl AsRef<Path>) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

/// `link` → `target` (relative to the link's folder, or absolute).
#[cfg(windows)]
pub fn symlink(target: impl AsRef<Path>, link: impl AsRef<Path>) -> std::io::Result<()> {
    let target: std::path::PathBuf = target.as_ref().components().collect();
    let link = link.as_ref();
    let dir = link.parent().unwrap_or(Path::new("."));
    let resolved = dir.join(&target);
    if !crate::download::placement::symlinks_supported(dir) {
        return std::fs::copy(&resolved, link).map(|_| ());
    }
    if resolved.is_dir() {
        std::os::windows::fs::symlink_dir(target, link)
    } else {
        std::os::windows::fs::symlink_file(target, link)
    }
}
