//! The older commits of a repo, so they stay downloadable by their hash after
//! `main` moves (a manifest may pin one; an update must see what changed).
//!
//! Layout: `<root>/.history/<org>/<name>/<sha>/<files…>` holds a copy of each
//! kept commit, and `<root>/.history/<org>/<name>/log` their shas, oldest
//! first. Copies, not hard links: a test that rewrites a file in place would
//! rewrite the history too. On disk rather than in memory only, so a hub
//! restarted on the same root still serves them. `.history` itself is never
//! served as a repo (see `HubState::repo`).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::HubRepo;

/// The folder under the hub's root that holds the history.
pub const DIR: &str = ".history";

/// Where the kept commits of `id` live.
fn repo_dir(root: &Path, id: &str) -> PathBuf {
    root.join(DIR).join(id)
}

/// A full, lowercase commit hash: the only revs looked up on disk, since a
/// rev comes from the URL and must never name another path (`../..`).
fn is_commit_hash(rev: &str) -> bool {
    rev.len() == 40 && rev.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Keeps `repo` (the commit `main` points to now) in the history and returns
/// it as served from its copy. A commit already kept is not copied again.
pub fn archive(root: &Path, repo: &HubRepo) -> std::io::Result<HubRepo> {
    let dir = repo_dir(root, &repo.id);
    let kept = dir.join(&repo.sha);
    if !kept.is_dir() {
        // Copied aside, then renamed: a copy cut short never looks like a commit.
        let staging = dir.join(format!(".staging-{}", repo.sha));
        if staging.exists() {
            std::fs::remove_dir_all(&staging)?;
        }
        copy_files(repo, &staging)?;
        std::fs::rename(&staging, &kept)?;
        append_log(&dir, &repo.sha)?;
    }
    Ok(repo.moved_to(&kept))
}

fn copy_files(repo: &HubRepo, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for f in &repo.files {
        let dest = to.join(&f.path);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(&f.abs, &dest)?;
    }
    Ok(())
}

fn append_log(dir: &Path, sha: &str) -> std::io::Result<()> {
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("log"))?;
    writeln!(log, "{sha}")
}

/// The kept commit `rev` of `id`, hashed from its copy; `None` when `rev` is
/// not a kept commit.
pub fn load(root: &Path, id: &str, rev: &str) -> Option<HubRepo> {
    if !is_commit_hash(rev) {
        return None;
    }
    let repo = HubRepo::load_dir(&repo_dir(root, id).join(rev), id)?;
    // A copy edited since it was kept is no longer that commit.
    (repo.sha == rev).then_some(repo)
}

/// The shas of the kept commits of `id`, oldest first.
pub fn shas(root: &Path, id: &str) -> Vec<String> {
    let log = std::fs::read_to_string(repo_dir(root, id).join("log")).unwrap_or_default();
    log.lines().map(str::to_owned).collect()
}
