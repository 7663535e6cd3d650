//! The plan of a move, and every refusal, before anything is written.

use std::path::{Path, PathBuf};

use super::entries::{self, Kind, Top};
use super::journal::{self, Journal};
use super::store;
use super::{MoveMethod, MovePlan, RepoToMove};
use crate::cache::paths::is_under;
use crate::cache::shared_store::{MARKER, STORE_DIR};
use crate::download::{free_space, lock};
use crate::error::{Error, Result};
use crate::location::{CacheLocation, LocationSource};
use crate::migrate::files::same_file_system;

/// Plans moving the cache `location` names to `dest` (absolute). With
/// `leave_symlink`, the old path is to become a link to DEST. Reads only.
/// When DEST or the cache holds the journal of an interrupted move to DEST,
/// the plan finishes that move, as it was asked.
pub fn plan_move(location: &CacheLocation, dest: &Path, leave_symlink: bool) -> Result<MovePlan> {
    let refuse = |reason: String| Error::MoveRefused {
        to: dest.to_owned(),
        reason,
    };
    if !dest.is_absolute() {
        return Err(refuse("give an absolute path".into()));
    }
    let dest = crate::cache::paths::normalize_lexically(dest);
    let from = &location.cache_dir;
    // An interrupted move: DEST's journal (written before the switch) or the
    // cache's (written before the first change). Followed only when it is
    // about this cache, so a planted journal cannot name another folder.
    let dest_journal =
        journal::read_if_dir(&dest)?.filter(|j| j.to == dest && (&j.from == from || from == &dest));
    if let Some(j) = dest_journal {
        return plan_from(j, true, location);
    }
    if let Some(j) = journal::read_if_dir(from)? {
        if j.to != dest || &j.from != from {
            return Err(refuse(format!(
                "a move of this cache to {} was interrupted; finish it first with `haid-models move {}`",
                j.to.display(),
                j.to.display()
            )));
        }
        return plan_from(j, true, location);
    }
    check_allowed(location, &dest, leave_symlink).map_err(refuse)?;
    let remember = matches!(
        location.source,
        LocationSource::Settings | LocationSource::Default | LocationSource::HaidDataDir
    );
    let j = Journal {
        from: from.clone(),
        to: dest,
        leave_symlink,
        remember,
    };
    let mut plan = plan_from(j, false, location)?;
    plan.notes = notes(location, &plan);
    Ok(plan)
}

/// The refusals that depend on the rules and the two places.
fn check_allowed(
    location: &CacheLocation,
    dest: &Path,
    leave_symlink: bool,
) -> std::result::Result<(), String> {
    // HAID_DATA_DIR comes after the settings in the rules: remembering the
    // new place there is enough, so only the variables before them refuse.
    let forced_by = location
        .source
        .variable()
        .filter(|_| location.source != LocationSource::HaidDataDir);
    if let (Some(var), false) = (forced_by, leave_symlink) {
        return Err(format!(
            "{var} chooses the cache's place ({}), and it would still name the old one. Either move with --leave-symlink, so the old path becomes a link to the new place and every tool that reads {var} keeps working, or move the folder yourself and change {var}",
            location.cache_dir.display()
        ));
    }
    let (from, to) = (real(&location.cache_dir), real(dest));
    if from == to {
        return Err("it is the cache already".into());
    }
    if is_under(&to, &from) {
        return Err("it is inside the cache".into());
    }
    if is_under(&from, &to) {
        return Err(format!(
            "the cache ({}) is inside it; choose a folder beside the cache, not above it",
            location.cache_dir.display()
        ));
    }
    match std::fs::symlink_metadata(dest) {
        Ok(meta) if !meta.is_dir() => return Err("it exists and is not a folder".into()),
        _ => {}
    }
    if crate::migrate::journal_exists(&location.cache_dir) {
        return Err("a migration into the cache is unfinished; run `haid-models migrate` to finish it first".into());
    }
    Ok(())
}

/// The real path of `path`, whose end may not exist yet: its nearest
/// existing ancestor resolved, the rest appended.
fn real(path: &Path) -> PathBuf {
    for base in path.ancestors() {
        if let Ok(real) = dunce::canonicalize(base) {
            let rest = path.strip_prefix(base).unwrap_or(Path::new(""));
            return real.join(rest);
        }
    }
    path.to_owned()
}

/// The plan for moving `j.from` to `j.to`.
fn plan_from(j: Journal, resuming: bool, location: &CacheLocation) -> Result<MovePlan> {
    let refuse = |reason: String| Error::MoveRefused {
        to: j.to.clone(),
        reason,
    };
    let dest_top = entries::top(&j.to)?;
    if let Some(top) = dest_top
        .as_ref()
        .filter(|t| !t.foreign.is_empty() && !resuming)
    {
        return Err(refuse(format!(
            "it is neither empty nor a Hugging Face cache (it holds {}); choose an empty folder, or an existing cache to merge into",
            shown(&top.foreign)
        )));
    }
    let busy: Vec<String> = lock::downloading_repos(&j.from)
        .iter()
        .map(|r| r.id())
        .collect();
    if !busy.is_empty() {
        return Err(Error::Busy {
            message: format!(
                "{} {} being downloaded into the cache (by this app, the CLI or Python); let the download finish or stop it, then move",
                shown(&busy),
                if busy.len() == 1 { "is" } else { "are" }
            ),
        });
    }
    let into_existing_cache = dest_top
        .as_ref()
        .is_some_and(|t| !t.repos.is_empty() || !t.others.is_empty());
    let method = if same_file_system(&j.from, &j.to) || !j.from.exists() {
        MoveMethod::Rename
    } else {
        MoveMethod::Copy
    };
    let source_top = entries::top(&j.from)?.unwrap_or_default();
    if source_top.foreign.iter().any(|n| n == STORE_DIR) {
        return Err(refuse(format!(
            "the cache holds a `{STORE_DIR}` folder that is not huggingface_hub's shared store (it lacks the marker `{STORE_DIR}/{MARKER}`), so it belongs to another program and is not taken along; move it out of {}, then move again",
            j.from.display()
        )));
    }
    if !source_top.foreign.is_empty() {
        return Err(refuse(format!(
            "the cache holds {}, which no cache holds; move that out of {}, then move again",
            shown(&source_top.foreign),
            j.from.display()
        )));
    }
    let (repos, totals) = measure(&j.from, &j.to, &source_top, method)?;
    Ok(MovePlan {
        free_bytes: free_space(&j.to),
        method,
        into_existing_cache,
        repos,
        bytes: totals.bytes,
        files: totals.files,
        bytes_to_copy: totals.to_copy,
        remember: j.remember,
        resuming,
        notes: Vec::new(),
        source: location.source,
        // A link is made only at the cache the rules chose, or at a folder
        // that is there: never at a path a journal alone names.
        leave_symlink: j.leave_symlink && (j.from == location.cache_dir || j.from.exists()),
        settings_file: location.settings_file.clone(),
        from: j.from,
        to: j.to,
    })
}

#[derive(Default)]
struct Totals {
    bytes: u64,
    files: u64,
    to_copy: u64,
}

/// Each repo's size, and the bytes a copy writes (what DEST lacks).
fn measure(
    from: &Path,
    to: &Path,
    top: &Top,
    method: MoveMethod,
) -> Result<(Vec<RepoToMove>, Totals)> {
    let mut repos = Vec::new();
    let mut totals = Totals::default();
    for name in top.repos.iter().chain(&top.others) {
        let mut walked = entries::walk(&from.join(name))?;
        // The store's lock files stay (`store::moves`). Each payload is one
        // regular file, so the room a copy needs counts it once, however
        // many repos link to it.
        walked.retain(|e| store::moves(name, &e.rel));
        let (files, bytes) = entries::tally(&walked);
        totals.files += files;
        totals.bytes += bytes;
        if method == MoveMethod::Copy {
            totals.to_copy += walked
                .iter()
                .filter_map(|e| match e.kind {
                    Kind::File { size } if !has_same_size(&to.join(name).join(&e.rel), size) => {
                        Some(size)
                    }
                    _ => None,
                })
                .sum::<u64>();
        }
        if top.repos.contains(name) {
            repos.push(RepoToMove {
                folder: name.clone(),
                bytes,
                files,
            });
        }
    }
    Ok((repos, totals))
}

pub(super) fn has_same_size(path: &Path, size: u64) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file() && m.len() == size)
}

fn notes(location: &CacheLocation, plan: &MovePlan) -> Vec<String> {
    let mut notes = Vec::new();
    match (location.source, location.source.variable()) {
        (LocationSource::CliFlag, _) => notes.push(
            "--cache-dir chose the cache, so the settings are not changed: pass --cache-dir with the new place from now on".into(),
        ),
        (LocationSource::HaidDataDir, _) | (_, None) => {}
        (_, Some(var)) => notes.push(format!(
            "{var} still names the old place, which becomes a link to the new one; point {var} at {} when you can",
            plan.to.display()
        )),
    }
    if plan.into_existing_cache {
        notes.push(format!(
            "{} is a cache already: the two are merged, each blob kept once",
            plan.to.display()
        ));
    }
    notes
}

/// Up to three names, and how many more.
fn shown(names: &[String]) -> String {
    let mut out = names.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > 3 {
        out.push_str(&format!(" and {} more", names.len() - 3));
    }
    out
}
