//! `export`: chosen models (each at one revision) into one tar, in a fixed
//! order with fixed owners and modes, so the same cache always gives the
//! same bytes. Every blob is hashed as it streams into the archive; one that
//! does not match its name stops the export, and no archive is left.

use std::path::{Path, PathBuf};

use serde::Serialize;
use ts_rs::TS;

use super::{ArchiveSink, ExportReport};

use crate::cache::blob_hash::BlobHashKind;
use crate::cache::scan::{canonical_root, scan_repo};
use crate::cache::snapshot::snapshot_files;
use crate::cache::tree::TreeListing;
use crate::cache::verify::pick_revision;
use crate::cache::{BlobName, RepoId, RepoState};
use crate::error::{Error, Result};
use crate::migrate::files::hash_file;

/// What an export will write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ExportPlan {
    /// Each model, at its commit.
    pub models: Vec<ExportedModel>,
    /// Regular files in all.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    #[serde(skip)]
    #[ts(skip)]
    items: Vec<Item>,
}

/// One model of an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ExportedModel {
    /// The model.
    #[serde(flatten)]
    pub repo: RepoId,
    /// The commit exported.
    pub commit: String,
    /// Its files.
    pub files: u64,
    /// Their bytes (a blob two paths share counts once).
    pub bytes: u64,
}

/// One entry of the archive, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    File {
        path: String,
        source: PathBuf,
        size: u64,
        mtime: u64,
        /// What its content must hash to: the blob name, or the sha256
        /// read when planning.
        hash: String,
    },
    Link {
        path: String,
        target: String,
        mtime: u64,
    },
}

/// Plans the export of `wanted` (each with a revision: a ref, a commit or
/// a prefix; default `main`). Refuses a model that is not whole or is
/// damaged, saying why. Reads only.
pub fn plan_export(cache_dir: &Path, wanted: &[(RepoId, Option<String>)]) -> Result<ExportPlan> {
    let not_cached = |repo: &RepoId| Error::NotFound {
        what: format!("{repo} in the cache {}", cache_dir.display()),
    };
    let root = match canonical_root(cache_dir)? {
        Some(root) => root,
        None => {
            return Err(not_cached(
                &wanted.first().map(|w| w.0.clone()).ok_or_else(nothing)?,
            ))
        }
    };
    let mut plan = ExportPlan {
        models: Vec::new(),
        files: 0,
        bytes: 0,
        items: Vec::new(),
    };
    let mut wanted = wanted.to_vec();
    wanted.sort_by_key(|(repo, _)| repo.folder_name());
    wanted.dedup_by_key(|(repo, _)| repo.folder_name());
    if wanted.is_empty() {
        return Err(nothing());
    }
    for (repo, revision) in &wanted {
        let scan = scan_repo(&root, repo)?.ok_or_else(|| not_cached(repo))?;
        let commit = pick_revision(&scan.repo, revision.as_deref())?;
        let (model, items) = plan_model(&root, &scan.repo, &commit)?;
        plan.files += model.files;
        plan.bytes += items
            .iter()
            .map(|i| match i {
                Item::File { size, .. } => *size,
                Item::Link { .. } => 0,
            })
            .sum::<u64>();
        plan.models.push(model);
        plan.items.extend(items);
    }
    Ok(plan)
}

fn nothing() -> Error {
    Error::InvalidArgument {
        what: "export",
        value: String::new(),
        reason: "no model to export: name one or more ids, or --manifest".into(),
    }
}

fn damaged(repo: &RepoId, reason: String) -> Error {
    Error::Damaged {
        repo: repo.id(),
        reason: format!("{reason}; nothing was exported (`haid-models verify {repo}` says more, and a download repairs it)"),
    }
}

/// One model's entries: its refs to the commit, its listing, its blobs,
/// then its snapshot (links after what they point to, for a streaming reader).
fn plan_model(
    root: &Path,
    repo: &crate::cache::CachedRepo,
    commit: &str,
) -> Result<(ExportedModel, Vec<Item>)> {
    let id = &repo.repo;
    if repo.state == RepoState::Corrupt {
        return Err(damaged(id, "the scan finds it corrupt".into()));
    }
    let dir =
        dunce::canonicalize(&repo.repo_path).map_err(|e| Error::io("read", &repo.repo_path, e))?;
    let folder = id.folder_name();
    let snapshot = dir.join("snapshots").join(commit);
    let files = snapshot_files(root, &snapshot);
    if files.is_empty() {
        return Err(damaged(
            id,
            format!("commit {commit} has no file in its snapshot"),
        ));
    }
    let listing = TreeListing::entries(&TreeListing::dir(&dir), commit);
    if let Some(listing) = &listing {
        let missing = listing
            .keys()
            .filter(|p| !files.iter().any(|f| &f.path == *p))
            .count();
        if missing > 0 {
            return Err(Error::NotReady {
                count: 1,
                verb: "is",
                names: format!("{id} misses {missing} files of commit {commit}: download it first (`haid-models download {id}`)"),
            });
        }
    }
    let mut head = Vec::new();
    for (name, target) in &repo.refs {
        if target == commit {
            head.push(small_file(
                &format!("{folder}/refs/{name}"),
                &dir.join("refs").join(name),
            )?);
        }
    }
    let tree = TreeListing::path(&TreeListing::dir(&dir), commit);
    if tree.is_file() {
        head.push(small_file(&format!("{folder}/trees/{commit}.json"), &tree)?);
    }
    let mut blobs = std::collections::BTreeMap::new();
    let mut snaps = Vec::new();
    for f in &files {
        let path = format!("{folder}/snapshots/{commit}/{}", f.path);
        let size = f
            .size
            .ok_or_else(|| damaged(id, format!("{} points to no file", f.path)))?;
        let is_link = std::fs::symlink_metadata(&f.entry).is_ok_and(|m| m.file_type().is_symlink());
        let in_blobs = f.blob.parent() == Some(&dir.join("blobs"));
        // The no-symlink layout: the file is in the snapshot itself. Where
        // the listing names its blob, it goes in as that blob and a link,
        // so an archive is the standard layout whichever layout the cache
        // has (an import writes the layout of the cache it goes into), and
        // its bytes are checked against that name as they stream.
        let plain_blob = (!is_link)
            .then(|| listing.as_ref()?.get(&f.path))
            .flatten()
            .and_then(|e| BlobName::parse(e.etag()).ok())
            .map(|e| e.to_string());
        if let Some(etag) = (is_link && in_blobs).then(|| f.etag()).or(plain_blob) {
            let depth = f.path.matches('/').count();
            snaps.push(Item::Link {
                target: format!("{}blobs/{etag}", "../".repeat(depth + 2)),
                mtime: mtime(&f.entry),
                path,
            });
            // A blob that links into huggingface_hub 2.5's shared store goes
            // in as the payload's bytes under the blob's own name: the
            // archive keeps the standard layout, and the bytes are checked
            // against the etag like any blob's. Other links are not followed.
            let source = if is_link { f.content() } else { &f.entry };
            blobs.entry(etag.clone()).or_insert(Item::File {
                path: format!("{folder}/blobs/{etag}"),
                source: source.to_owned(),
                mtime: mtime(source),
                hash: etag,
                size,
            });
        } else if !is_link {
            // Not in a listing: a plain file, checked by its sha256.
            snaps.push(Item::File {
                hash: hash_file(&f.entry, BlobHashKind::Sha256)?,
                source: f.entry.clone(),
                mtime: mtime(&f.entry),
                size,
                path,
            });
        } else {
            return Err(damaged(
                id,
                format!("{} links outside its repo's blobs", f.path),
            ));
        }
    }
    let mut items = head;
    items.extend(blobs.into_values());
    items.extend(snaps);
    // The model's content: blobs and plain snapshot files, not refs or listings.
    let bytes = items
        .iter()
        .filter_map(|i| match i {
            Item::File { size, path, .. }
                if path.contains("/blobs/") || path.contains("/snapshots/") =>
            {
                Some(*size)
            }
            _ => None,
        })
        .sum();
    let model = ExportedModel {
        repo: id.clone(),
        commit: commit.to_owned(),
        files: files.len() as u64,
        bytes,
    };
    Ok((model, items))
}

fn small_file(path: &str, source: &Path) -> Result<Item> {
    let size = std::fs::metadata(source)
        .map_err(|e| Error::io("read", source, e))?
        .len();
    Ok(Item::File {
        path: path.to_owned(),
        hash: hash_file(source, BlobHashKind::Sha256)?,
        source: source.to_owned(),
        mtime: mtime(source),
        size,
    })
}

fn mtime(path: &Path) -> u64 {
    std::fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

/// Writes the plan's archive to `out` (through `out.partial`, renamed at
/// the end, so a failed export leaves no archive). Blocking.
pub fn export(plan: &ExportPlan, out: &Path, sink: ArchiveSink<'_>) -> Result<ExportReport> {
    let partial = partial_path(out);
    if let Err(e) = writing::write_archive(plan, &partial, sink) {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, out).map_err(|e| Error::io("move", &partial, e))?;
    let archive_bytes = std::fs::metadata(out).map_or(0, |m| m.len());
    Ok(ExportReport {
        file: out.to_owned(),
        models: plan.models.clone(),
        files: plan.files,
        bytes: plan.bytes,
        archive_bytes,
    })
}

fn partial_path(out: &Path) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_owned();
    name.push(".partial");
    out.with_file_name(name)
}

mod writing;

#[cfg(test)]
mod tests;
