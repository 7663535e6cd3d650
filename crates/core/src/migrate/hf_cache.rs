//! A repo of a private Hugging Face cache joins the shared cache. Its blobs
//! are checked against their names and moved (or copied) in, skipping those
//! the cache already has; its snapshots, refs and listings are merged. Each
//! step is idempotent, so a killed run simply runs again: a blob is moved in
//! one rename, and links are made only to blobs that are there. Without
//! symlinks (`SnapshotStyle::Files`), the blobs then move on into the
//! snapshots, as a download places them. A blob that links into
//! huggingface_hub 2.5's shared store of the private cache comes as a
//! checked copy of its payload's bytes, a regular blob in the cache.

use std::fs;
use std::path::{Path, PathBuf};

use super::files::{blob_is_sound, files_under, hash_file, place_blob, prune_empty_tree};
use super::folder::Placed;
use super::{Method, PlanItem, Problem};
use crate::atomic_file::write_atomically;
use crate::cache::blob_hash::BlobHashKind;
use crate::cache::paths::file_name;
use crate::cache::shared_store::{Payload, SharedStore, MARKER};
use crate::cache::snapshot::snapshot_files;
use crate::cache::{BlobName, CommitHash, RefName, RepoFilePath};
use crate::download::layout::{prepare_repo, write_ref};
use crate::download::placement::{is_plain, Placer, SnapshotEntry, SnapshotStyle};
use crate::error::{Error, Result};

const INCOMPLETE: &str = ".incomplete";
/// What huggingface_hub leaves in a cache folder besides repos.
const CACHE_LITTER: [&str; 3] = [".locks", "CACHEDIR.TAG", "version.txt"];

/// Merges the repo at `item.source` into the cache; `on_file` after each blob.
pub(crate) fn place(
    item: &PlanItem,
    cache_dir: &Path,
    style: SnapshotStyle,
    on_file: &mut dyn FnMut(&str, u64),
) -> Result<Placed> {
    let target = prepare_repo(cache_dir, &item.repo)?;
    let mut placed = Placed::default();
    // Listings and refs first, as a download writes them: from here on a
    // kill leaves a partial snapshot, never a detached one.
    copy_missing_files(&item.source.join("trees"), &target.join("trees"))?;
    merge_refs(&item.source.join("refs"), &target, &mut placed.problems)?;
    let copy = item.method == Method::Copy;
    // Blobs this run put in the cache: without symlinks, one whose every
    // path was in place already (a rerun) is removed again.
    let mut brought = std::collections::HashSet::new();
    for (blob, size) in regular_files(&item.source.join("blobs")) {
        let name = file_name(&blob);
        let dest = target.join("blobs").join(&name);
        if name.ends_with(INCOMPLETE) {
            move_partial(&blob, &dest, copy, &mut placed.problems)?;
            continue;
        }
        if !blob_is_sound(&dest, &name, size) {
            // Checked before it moves: the cache gets no damaged blob, and
            // the source of one that fails stays as it is.
            let kind = BlobHashKind::of_etag(&name);
            if kind.is_some_and(|k| hash_file(&blob, k).ok().as_deref() != Some(name.as_str())) {
                placed.problems.push(Problem {
                    path: blob,
                    reason: "its bytes do not match its name (damaged); left here".into(),
                });
                continue;
            }
            place_blob(&blob, &dest, &name, copy)?;
            brought.extend(BlobName::parse(&name).ok());
        }
        placed.sound.insert(name.clone());
        placed.files += 1;
        placed.bytes += size;
        on_file(&name, size);
    }
    for (link, payload) in shared_blobs(item) {
        let name = file_name(&link);
        let dest = target.join("blobs").join(&name);
        // Always a copy, checked as it is written: the payload is shared
        // with other repos, and only the store's rules may remove it.
        match place_blob(&payload.path, &dest, &name, true) {
            Ok(()) => {}
            Err(e) if e.kind() == crate::ErrorKind::Checksum => {
                placed.problems.push(Problem {
                    path: link,
                    reason: "the shared payload it links to does not match its name (damaged); left here".into(),
                });
                continue;
            }
            Err(e) => return Err(e),
        }
        brought.extend(BlobName::parse(&name).ok());
        placed.sound.insert(name.clone());
        placed.files += 1;
        placed.bytes += payload.size;
        on_file(&name, payload.size);
    }
    let files = snapshot_entries(
        &item.source.join("snapshots"),
        &target,
        style,
        &mut placed.problems,
    );
    Placer::new(style, &target).place_each(&files, &brought)?;
    Ok(placed)
}

/// The source's snapshot links whose blob reached the cache (or, without
/// symlinks, whose file is in its snapshot already), to be made there too.
fn snapshot_entries(
    snapshots: &Path,
    target: &Path,
    style: SnapshotStyle,
    problems: &mut Vec<Problem>,
) -> Vec<SnapshotEntry> {
    let mut out = Vec::new();
    let Ok(commits) = fs::read_dir(snapshots) else {
        return out;
    };
    for commit in commits.filter_map(|e| e.ok()) {
        let Ok(commit_hash) = CommitHash::parse(&file_name(&commit.path())) else {
            problems.push(Problem {
                path: commit.path(),
                reason: "a snapshot folder not named by a commit hash; left here".into(),
            });
            continue;
        };
        // Only names are read from the links: the source cache is not followed.
        for file in snapshot_files(snapshots, &commit.path()) {
            let names = (
                RepoFilePath::parse(&file.path),
                BlobName::parse(&file.etag()),
            );
            let (Ok(path), Ok(etag)) = names else {
                problems.push(Problem {
                    path: file.entry,
                    reason:
                        "a snapshot file whose path or blob name cannot be in a cache; left here"
                            .into(),
                });
                continue;
            };
            if file.blob == file.entry {
                problems.push(Problem {
                    path: file.entry,
                    reason:
                        "a plain file in a snapshot (a cache written without symlinks); left here"
                            .into(),
                });
            } else if target.join("blobs").join(etag.as_str()).is_file()
                || style == SnapshotStyle::Files && is_plain(target, &commit_hash, &path)
            {
                out.push(SnapshotEntry {
                    commit: commit_hash.clone(),
                    path,
                    etag,
                });
            }
        }
    }
    out
}

/// Refs the cache lacks are taken; where both have one, the cache's stays
/// (it is the newer knowledge) and the source's commit is kept reachable
/// under `<name>-migrated`, so a prune does not take it.
fn merge_refs(refs: &Path, target: &Path, problems: &mut Vec<Problem>) -> Result<()> {
    for (name, file, _) in files_under(refs) {
        let text = fs::read_to_string(&file).map_err(|e| Error::io("read", &file, e))?;
        let parsed = (RefName::parse(&name), CommitHash::parse(text.trim()));
        let (Ok(ref_name), Ok(commit)) = parsed else {
            problems.push(Problem {
                path: file.clone(),
                reason:
                    "not a ref a cache can hold (a bad name, or no commit hash inside); left here"
                        .into(),
            });
            continue;
        };
        let theirs = fs::read_to_string(ref_name.path_in(&target.join("refs"))).ok();
        match theirs.as_deref().map(str::trim) {
            None => write_ref(target, &ref_name, &commit)?,
            Some(same) if same == commit.as_str() => {}
            Some(_) => {
                let migrated = RefName::parse(&format!("{name}-migrated")).map_err(|reason| {
                    Error::InvalidArgument {
                        what: "ref",
                        value: name.clone(),
                        reason,
                    }
                })?;
                write_ref(target, &migrated, &commit)?;
                problems.push(Problem {
                    path: file.clone(),
                    reason: format!("the cache's {name} points elsewhere; this commit is kept as {name}-migrated"),
                });
            }
        }
    }
    Ok(())
}

/// A half-downloaded blob: taken if the cache has none of it (a download
/// resumes from it), else left where it is.
fn move_partial(blob: &Path, dest: &Path, copy: bool, problems: &mut Vec<Problem>) -> Result<()> {
    if dest.exists() {
        problems.push(Problem {
            path: blob.to_owned(),
            reason: "an unfinished download the cache also has; left here".into(),
        });
        return Ok(());
    }
    if copy {
        fs::copy(blob, dest).map_err(|e| Error::io("copy", blob, e))?;
        fs::remove_file(blob).map_err(|e| Error::io("remove", blob, e))
    } else {
        fs::rename(blob, dest).map_err(|e| Error::io("move", blob, e))
    }
}

fn copy_missing_files(from: &Path, to: &Path) -> Result<()> {
    for (file, _) in regular_files(from) {
        let dest = to.join(file_name(&file));
        if !dest.exists() {
            let bytes = fs::read(&file).map_err(|e| Error::io("read", &file, e))?;
            write_atomically(&dest, &bytes)?;
        }
    }
    Ok(())
}

/// After the repo is in place: removes from the source every blob the cache
/// now holds soundly (`placed.sound`), the links, refs and listings (all
/// recreated there), and then the private cache folder if nothing but its
/// housekeeping is left. A blob that did not verify keeps all of it.
pub(crate) fn remove_source(item: &PlanItem, placed: &Placed) -> Result<()> {
    let mut blobs_left = false;
    for (blob, _) in regular_files(&item.source.join("blobs")) {
        if placed.sound.contains(&file_name(&blob)) {
            fs::remove_file(&blob).map_err(|e| Error::io("remove", &blob, e))?;
        } else {
            blobs_left = true;
        }
    }
    blobs_left |= remove_shared_links(item, placed)?;
    if blobs_left {
        return Ok(());
    }
    for sub in ["snapshots", "refs", "trees", ".no_exist"] {
        let dir = item.source.join(sub);
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(|e| Error::io("remove", &dir, e))?;
        }
    }
    prune_empty_tree(&item.source);
    remove_private_cache_if_empty(&item.container, &item.repo.folder_name());
    Ok(())
}

/// The private cache folder goes once only huggingface_hub's housekeeping
/// (locks of this repo, the cache tag) is in it.
fn remove_private_cache_if_empty(container: &Path, repo_folder: &str) {
    let _ = fs::remove_dir_all(container.join(".locks").join(repo_folder));
    let _ = fs::remove_dir(container.join(".locks"));
    let Ok(entries) = fs::read_dir(container) else {
        return;
    };
    let others = entries
        .filter_map(|e| e.ok())
        .any(|e| !CACHE_LITTER.contains(&e.file_name().to_string_lossy().as_ref()));
    if !others {
        for name in &CACHE_LITTER[1..] {
            let _ = fs::remove_file(container.join(name));
        }
        let _ = fs::remove_dir(container);
    }
}

/// The source's blobs that are links into huggingface_hub 2.5's shared
/// store of its private cache (read by the store's rules), each with the
/// payload holding its bytes. Such a link is never moved: in the cache it
/// would dangle (its target is relative to the private cache).
fn shared_blobs(item: &PlanItem) -> Vec<(PathBuf, Payload)> {
    let Some(store) = SharedStore::open(&item.container) else {
        return Vec::new();
    };
    let Ok(entries) = fs::read_dir(item.source.join("blobs")) else {
        return Vec::new();
    };
    let mut out: Vec<_> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.path(), store.linked_payload(&e.path())?)))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Removes the source's links into the store whose blob the cache now
/// holds soundly, then lets the store collect each payload no repo links
/// to any more (its own rules, under its lock: another repo of the private
/// cache may still share it). Whether a link was left (its blob is not in
/// the cache): then the source stays. A store emptied so is removed, so
/// the private cache can go.
fn remove_shared_links(item: &PlanItem, placed: &Placed) -> Result<bool> {
    let Some(store) = SharedStore::open(&item.container) else {
        return Ok(false);
    };
    let mut left = false;
    let mut unlinked = std::collections::BTreeSet::new();
    for (link, payload) in shared_blobs(item) {
        if placed.sound.contains(&file_name(&link)) {
            fs::remove_file(&link).map_err(|e| Error::io("remove", &link, e))?;
            unlinked.insert(payload.hash);
        } else {
            left = true;
        }
    }
    for hash in &unlinked {
        store.sweep(hash);
    }
    remove_store_if_empty(&store);
    Ok(left)
}

/// Removes the store when it holds nothing but its marker, its prefix
/// folders and lock files: no payload, no `.refs`, nothing of another.
fn remove_store_if_empty(store: &SharedStore) {
    let housekeeping = |e: &fs::DirEntry| {
        let name = e.file_name().to_string_lossy().into_owned();
        match e.file_type() {
            Ok(t) if t.is_dir() => only(&e.path(), &|inner| is_lock_file(inner)),
            Ok(t) if t.is_file() => name == MARKER || is_lock_file(e),
            _ => false,
        }
    };
    if only(store.dir(), &housekeeping) {
        let _ = fs::remove_dir_all(store.dir());
    }
}

/// Whether every entry of `dir` passes `keep` (false when unreadable).
fn only(dir: &Path, keep: &dyn Fn(&fs::DirEntry) -> bool) -> bool {
    fs::read_dir(dir).is_ok_and(|entries| entries.filter_map(|e| e.ok()).all(|e| keep(&e)))
}

/// A payload's lock file (`<hash>.lock`, or filelock's `.lock.soft`).
fn is_lock_file(e: &fs::DirEntry) -> bool {
    let name = e.file_name().to_string_lossy().into_owned();
    e.file_type().is_ok_and(|t| t.is_file())
        && (name.ends_with(".lock") || name.ends_with(".lock.soft"))
}

fn regular_files(dir: &Path) -> Vec<(PathBuf, u64)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<_> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let meta = fs::symlink_metadata(e.path()).ok()?;
            meta.is_file().then(|| (e.path(), meta.len()))
        })
        .collect();
    out.sort();
    out
}
