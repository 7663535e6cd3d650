//! What is on disk under a folder, to prove a command wrote nothing: compare
//! the state before and after.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every entry under `dir` (not `dir` itself), by path relative to it:
/// `dir`, `file SIZE`, `symlink -> TARGET` or `other`. Links are not
/// followed (`symlink_metadata`), so a dangling one counts too. Entries in
/// `skip` (absolute, as under `dir`) are left out with all they hold.
/// Folder sizes are left out: they depend on the file system, not on what
/// the folder holds.
pub fn tree_state(dir: &Path, skip: &[&Path]) -> BTreeMap<PathBuf, String> {
    let mut state = BTreeMap::new();
    walk(dir, dir, skip, &mut state);
    state
}

fn walk(root: &Path, dir: &Path, skip: &[&Path], state: &mut BTreeMap<PathBuf, String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if skip.contains(&path.as_path()) {
            continue;
        }
        let rel = path.strip_prefix(root).unwrap_or(&path).to_owned();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            state.insert(rel, "vanished".into());
            continue;
        };
        let kind = meta.file_type();
        let what = if kind.is_symlink() {
            let target = std::fs::read_link(&path).unwrap_or_default();
            format!("symlink -> {}", target.display())
        } else if kind.is_dir() {
            walk(root, &path, skip, state);
            "dir".into()
        } else if kind.is_file() {
            format!("file {}", meta.len())
        } else {
            "other".into()
        };
        state.insert(rel, what);
    }
}
