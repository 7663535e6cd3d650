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

use crate::cache::blob_hash::{BlobHashKind, BlobHasher};
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
                let reader = Checked::open(source, hash, *size, &mut progress)?;
                append(&mut tar, partial, path, *size, *mtime, reader)?;
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
    tar.append_data(&mut h, path, data).map_err(|e| {
        match e.get_ref().and_then(|i| i.downcast_ref::<HashMismatch>()) {
            Some(m) => m.error(),
            None => Error::io("write", partial, e),
        }
    })
}

/// A file read into the archive, hashed as it goes; at its end a content
/// that does not match fails the read, which fails the export.
struct Checked<'p, 'a> {
    file: File,
    hasher: Option<BlobHasher>,
    hash: String,
    source: PathBuf,
    left: u64,
    progress: &'p mut Progress<'a>,
}

impl<'p, 'a> Checked<'p, 'a> {
    fn open(source: &Path, hash: &str, size: u64, progress: &'p mut Progress<'a>) -> Result<Self> {
        let kind = BlobHashKind::of_etag(hash).unwrap_or(BlobHashKind::Sha256);
        Ok(Self {
            file: File::open(source).map_err(|e| Error::io("read", source, e))?,
            hasher: Some(BlobHasher::new(kind, size)),
            hash: hash.to_owned(),
            source: source.to_owned(),
            left: size,
            progress,
        })
    }
}

impl Checked<'_, '_> {
    /// Once every byte is read: the content must match.
    fn finish(&mut self) -> std::io::Result<()> {
        let Some(h) = self.hasher.take() else {
            return Ok(());
        };
        let actual = h.finish_hex();
        if actual == self.hash {
            return Ok(());
        }
        Err(std::io::Error::other(HashMismatch {
            source: self.source.clone(),
            expected: self.hash.clone(),
            actual,
        }))
    }
}

impl Read for Checked<'_, '_> {
    /// Exactly the planned size: tar writes what it reads after a header
    /// that says the size, so a file that grew or shrank would corrupt it.
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            self.finish()?;
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.file.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::Error::other(format!(
                "{} became shorter while it was exported; export again",
                self.source.display()
            )));
        }
        if let Some(h) = self.hasher.as_mut() {
            h.update(&buf[..n]);
        }
        self.left -= n as u64;
        self.progress.add(n as u64);
        if self.left == 0 {
            self.finish()?;
        }
        Ok(n)
    }
}

#[derive(Debug)]
struct HashMismatch {
    source: PathBuf,
    expected: String,
    actual: String,
}

impl HashMismatch {
    fn error(&self) -> Error {
        Error::Damaged {
            repo: self.source.display().to_string(),
            reason: format!(
                "its content hashes to {}, not {}; nothing was exported: download the model again (`haid-models verify` shows every damaged file)",
                self.actual, self.expected
            ),
        }
    }
}

impl std::fmt::Display for HashMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} does not match its name", self.source.display())
    }
}

impl std::error::Error for HashMismatch {}
