//! `export`: chosen models (each at one revision) into one tar, in a fixed
//! order with fixed owners and modes, so the same cache always gives the
//! same bytes. Every blob is hashed as it streams into the archive; one that
//! does not match its name stops the export, and no archive is left.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use ts_rs::TS;

use super::INDEX_PATH;
use super::{ArchiveEvent, ArchiveSink, ExportReport, Index, IndexFile, IndexModel, Progress};

use crate::cache::blob_hash::BlobHashKind;
use crate::cache::hashing_copy::copy_hashed;
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
            let source = if is_link { &f.blob } else { &f.entry };
            blobs.entry(etag.clone()).or_insert(Item::File {
                path: format!("{folder}/blobs/{etag}"),
                source: source.clone(),
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
    if let Err(e) = write_archive(plan, &partial, sink) {
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

fn write_archive(plan: &ExportPlan, partial: &Path, sink: ArchiveSink<'_>) -> Result<()> {
    let file = File::create(partial).map_err(|e| Error::io("create", partial, e))?;
    let mut tar = tar::Builder::new(BufWriter::with_capacity(1 << 20, file));
    let index = serde_json::to_vec_pretty(&index_of(plan))
        .map_err(|e| Error::io("write", partial, std::io::Error::other(e)))?;
    append(
        &mut tar,
        partial,
        INDEX_PATH,
        index.len() as u64,
        0,
        &index[..],
    )?;
    let mut progress = super::progress(plan.bytes, sink);
    let mut current = String::new();
    for item in &plan.items {
        let folder = item_path(item).split('/').next().unwrap_or_default();
        if folder != current {
            current = folder.to_owned();
            if let Ok(repo) = RepoId::from_folder_name(folder) {
                sink(&ArchiveEvent::Model { repo_id: repo.id() });
            }
        }
        match item {
            Item::File {
                path,
                source,
                size,
                mtime,
                hash,
            } => {
                let file = FileEntry {
                    path,
                    source,
                    size: *size,
                    mtime: *mtime,
                    hash,
                };
                append_checked(&mut tar, partial, &file, &mut progress)?;
            }
            Item::Link {
                path,
                target,
                mtime,
            } => {
                let mut header = header(tar::EntryType::Symlink, 0, *mtime, 0o777);
                tar.append_link(&mut header, path, target)
                    .map_err(|e| Error::io("write", partial, e))?;
            }
        }
    }
    progress.say();
    // Not fsynced, as `tar` does not: an archive cut by a power loss fails
    // the import's checks (each blob against its name); it is never taken
    // for a whole one.
    let mut out = tar
        .into_inner()
        .map_err(|e| Error::io("write", partial, e))?;
    out.flush().map_err(|e| Error::io("write", partial, e))
}

fn item_path(item: &Item) -> &str {
    match item {
        Item::File { path, .. } | Item::Link { path, .. } => path,
    }
}

fn index_of(plan: &ExportPlan) -> Index {
    Index {
        format: "haid-models-export".into(),
        version: 1,
        models: plan
            .models
            .iter()
            .map(|m| IndexModel {
                repo_id: m.repo.id(),
                repo_type: m.repo.repo_type().as_str().to_owned(),
                commit: m.commit.clone(),
            })
            .collect(),
        files: plan
            .items
            .iter()
            .filter_map(|i| match i {
                Item::File {
                    path, size, hash, ..
                } => Some(IndexFile {
                    path: path.clone(),
                    size: *size,
                    sha256: hash.clone(),
                }),
                Item::Link { .. } => None,
            })
            .collect(),
    }
}

/// A header with what varies between machines fixed: owner 0, no names.
fn header(kind: tar::EntryType, size: u64, mtime: u64, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mtime(mtime);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h
}

fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    partial: &Path,
    path: &str,
    size: u64,
    mtime: u64,
    data: impl Read,
) -> Result<()> {
    let mut h = header(tar::EntryType::Regular, size, mtime, 0o644);
    tar.append_data(&mut h, path, data)
        .map_err(|e| Error::io("write", partial, e))
}

/// A file of the plan, as it goes into the archive.
struct FileEntry<'i> {
    path: &'i str,
    source: &'i Path,
    size: u64,
    mtime: u64,
    /// What its content must hash to.
    hash: &'i str,
}

/// Appends a file, its bytes hashed on a second thread as they stream
/// (`copy_hashed`): on one thread, read, sha256 and write took their sum,
/// 2.1 s per GiB against `tar -cf`'s 1.5 s (bench/archive.sh). A content
/// that does not match its hash, or that is not its planned size, fails
/// the export.
///
/// tar writes the header (and a GNU long-name entry when the path needs
/// one) for an entry given no data; the bytes then go straight to the
/// archive's file, not through the `BufWriter` (a copy of each byte more),
/// and the padding after them, so the archive is byte for byte the one
/// `append_data` would write.
fn append_checked(
    tar: &mut tar::Builder<BufWriter<File>>,
    partial: &Path,
    entry: &FileEntry<'_>,
    progress: &mut Progress<'_>,
) -> Result<()> {
    let write_err = |e| Error::io("write", partial, e);
    let source = File::open(entry.source).map_err(|e| Error::io("read", entry.source, e))?;
    let mut h = header(tar::EntryType::Regular, entry.size, entry.mtime, 0o644);
    tar.append_data(&mut h, entry.path, std::io::empty())
        .map_err(write_err)?;
    let out = tar.get_mut();
    out.flush().map_err(write_err)?;
    let kind = BlobHashKind::of_etag(entry.hash).unwrap_or(BlobHashKind::Sha256);
    let mut copied = 0;
    let mut source = Source {
        file: source.take(entry.size),
        failed: false,
    };
    let actual = copy_hashed(&mut source, out.get_mut(), kind, entry.size, &mut |n| {
        copied += n;
        progress.add(n);
    })
    .map_err(|e| match source.failed {
        true => Error::io("read", entry.source, e),
        false => write_err(e),
    })?;
    if copied < entry.size {
        return Err(Error::io(
            "read",
            entry.source,
            std::io::Error::other("it became shorter while it was exported; export again"),
        ));
    }
    if actual != entry.hash {
        return Err(mismatch(entry.source, entry.hash, &actual));
    }
    let pad = (512 - entry.size % 512) % 512;
    out.write_all(&[0; 512][..pad as usize]).map_err(write_err)
}

/// A file whose content does not match its name or the planned hash.
fn mismatch(source: &Path, expected: &str, actual: &str) -> Error {
    Error::Damaged {
        repo: source.display().to_string(),
        reason: format!(
            "its content hashes to {actual}, not {expected}; nothing was exported: download the model again (`haid-models verify` shows every damaged file)"
        ),
    }
}

/// A reader that remembers whether it failed, so an error of the copy is
/// told as the source's (a read) or the archive's (a write: a full disk).
struct Source {
    file: std::io::Take<File>,
    failed: bool,
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.file.read(buf);
        self.failed |= read.is_err();
        read
    }
}

#[cfg(test)]
mod tests;
