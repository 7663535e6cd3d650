//! `import`: an archive streamed into the cache, entry by entry. Each path
//! is parsed into the layout first (`layout::parse`); what is not in it, a
//! hard link, a device, a link that leaves its repo, is refused and
//! reported, and the rest goes on. A blob is written as `<etag>.incomplete`
//! under its lock (a valid partial download, should we be killed), checked
//! against its name, then committed; a damaged one is reported and skipped.
//! Refs are written last, and only to a snapshot that is there, so a ref
//! never points at nothing. A rerun skips what is committed.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, TryLockError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use ts_rs::TS;

use super::layout::{self, Place};
use super::placing::{link_to_shared, Placing};
use super::{ArchiveEvent, ArchiveSink, Index, Progress, INDEX_LIMIT};
use crate::atomic_file::write_atomically;
use crate::cache::blob_hash::BlobHashKind;
use crate::cache::hashing_copy::copy_hashed;
use crate::cache::paths::resolve_link;
use crate::cache::{BlobName, CommitHash, RefName, RepoFilePath, RepoId};
use crate::download::layout::{prepare_repo, real_folders};
use crate::download::lock::{lock_path, open_lock_file};
use crate::download::placement::{SnapshotEntry, SnapshotStyle};
use crate::error::{Error, Result};

/// A ref or a listing is small; anything bigger is not one.
const SMALL_LIMIT: u64 = 16 << 20;

/// What an import did (or, with `dry_run`, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
pub struct ImportReport {
    /// The models the archive brought, by id.
    pub models: Vec<String>,
    /// Blobs written and checked.
    pub blobs_added: u64,
    /// Blobs the cache had already (skipped).
    pub blobs_present: u64,
    /// Bytes written.
    pub bytes_written: u64,
    /// Entries outside the layout, or of a kind no cache holds: not written.
    pub refused: Vec<Refused>,
    /// Blobs whose bytes do not match their name: not committed.
    pub damaged: Vec<Refused>,
    /// What else to know (a ref kept, a blob another program was writing).
    pub notes: Vec<String>,
    /// Nothing was written.
    pub dry_run: bool,
}

/// An entry not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct Refused {
    /// Its path in the archive, as stored (shown escaped).
    pub path: String,
    /// Why.
    pub reason: String,
}

impl ImportReport {
    /// An error when anything was refused or damaged (the rest was imported).
    pub fn verdict(&self, file: &Path) -> Result<()> {
        if self.refused.is_empty() && self.damaged.is_empty() {
            return Ok(());
        }
        Err(Error::ImportIncomplete {
            file: file.to_owned(),
            refused: self.refused.len(),
            damaged: self.damaged.len(),
        })
    }
}

/// How to import.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Read and check only; write nothing.
    pub dry_run: bool,
    /// `HF_HUB_DISABLE_SYMLINKS`: snapshot files are written as plain
    /// files, as a download writes them then (and where the cache folder
    /// refuses symlinks).
    pub disable_symlinks: bool,
}

/// The archive reader's buffer: for tar's 512-byte headers. It is smaller
/// than `hashing_copy`'s chunks on purpose: a read at least as large as a
/// `BufReader`'s buffer bypasses it, so a blob's bytes go from the file to
/// the copy's chunk in one step. With a 1 MiB buffer every byte was copied
/// once more, through a buffer larger than the cores' caches (bench/archive.sh).
const ARCHIVE_BUFFER: usize = 64 << 10;
const _: () = assert!(ARCHIVE_BUFFER <= crate::cache::hashing_copy::CHUNK);

/// Opens the archive `file` and streams it into `cache_dir` ([`import`]).
pub fn import_file(
    cache_dir: &Path,
    file: &Path,
    options: ImportOptions,
    sink: ArchiveSink<'_>,
) -> Result<ImportReport> {
    let archive = File::open(file).map_err(|e| Error::io("open", file, e))?;
    let reader = std::io::BufReader::with_capacity(ARCHIVE_BUFFER, archive);
    import(cache_dir, reader, options, sink)
}

/// Streams `archive` into `cache_dir`. A truncated or malformed archive
/// stops with an error; what was committed before it stays (a rerun of a
/// whole copy skips it).
pub fn import(
    cache_dir: &Path,
    archive: impl Read,
    options: ImportOptions,
    sink: ArchiveSink<'_>,
) -> Result<ImportReport> {
    let dry_run = options.dry_run;
    let mut run = Run {
        cache_dir,
        dry_run,
        report: ImportReport {
            dry_run,
            ..Default::default()
        },
        hashes: BTreeMap::new(),
        refs: Vec::new(),
        placing: Placing::new(options.disable_symlinks),
        repos: BTreeSet::new(),
        progress: super::progress(0, sink),
        sink,
    };
    let mut tar = tar::Archive::new(archive);
    let entries = tar.entries().map_err(|e| broken(&e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| broken(&e))?;
        run.entry(&mut entry)?;
    }
    run.finish()
}

fn broken(e: &std::io::Error) -> Error {
    Error::InvalidArgument {
        what: "archive",
        value: String::new(),
        reason: format!("it is not a whole tar archive ({e}); what was imported before this point is kept, and a whole copy imports the rest"),
    }
}

struct Run<'a> {
    cache_dir: &'a Path,
    dry_run: bool,
    report: ImportReport,
    /// The index's sha256 of each file, by archive path.
    hashes: BTreeMap<String, String>,
    /// Refs, written last.
    refs: Vec<(RepoId, RefName, CommitHash)>,
    /// Where the snapshot files go: links, or (without symlinks) the blobs.
    placing: Placing,
    repos: BTreeSet<String>,
    progress: Progress<'a>,
    sink: ArchiveSink<'a>,
}

impl Run<'_> {
    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<()> {
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let Ok(path) = String::from_utf8(raw) else {
            return self.refuse(&shown, "a path that is not UTF-8");
        };
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader
        ) {
            return Ok(());
        }
        let place = match layout::parse(&path) {
            Ok(place) => place,
            Err(reason) => return self.refuse(&path, &reason),
        };
        if let Some(repo) = place.repo() {
            if self.repos.insert(repo.folder_name()) {
                (self.sink)(&ArchiveEvent::Model { repo_id: repo.id() });
                self.report.models.push(repo.id());
            }
        }
        match (place, kind) {
            (Place::Folder, tar::EntryType::Directory) => Ok(()),
            (Place::Index, tar::EntryType::Regular) => self.index(entry, &path),
            (Place::Blob { repo, name }, tar::EntryType::Regular) => {
                self.blob(entry, &path, &repo, &name)
            }
            (Place::Ref { repo, name }, tar::EntryType::Regular) => {
                self.reference(entry, &path, repo, name)
            }
            (Place::Tree { repo, commit }, tar::EntryType::Regular) => {
                self.tree(entry, &path, &repo, &commit)
            }
            (
                Place::Snapshot {
                    repo,
                    commit,
                    path: file,
                },
                tar::EntryType::Symlink,
            ) => self.link(entry, &path, &repo, &commit, &file),
            (
                Place::Snapshot {
                    repo,
                    commit,
                    path: file,
                },
                tar::EntryType::Regular,
            ) => self.plain_file(entry, &path, &repo, &commit, &file),
            (
                Place::NoExist {
                    repo,
                    commit,
                    path: file,
                },
                tar::EntryType::Regular,
            ) => self.absent(entry, &path, &repo, &commit, &file),
            (_, tar::EntryType::Link) => self.refuse(&path, "a hard link"),
            (_, tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo) => {
                self.refuse(&path, "a device or FIFO")
            }
            (_, tar::EntryType::Symlink) => self.refuse(&path, "a link where the layout has none"),
            (_, other) => self.refuse(
                &path,
                &format!("a {other:?} entry where the layout has a file"),
            ),
        }
    }

    /// Reports the entry as refused and goes on with the next.
    fn refuse(&mut self, path: &str, reason: &str) -> Result<()> {
        self.report.refused.push(Refused {
            path: format!("{path:?}"),
            reason: reason.to_owned(),
        });
        Ok(())
    }

    /// The export's index: the total for the progress, the hashes of the
    /// files whose name is no hash. Not written to the cache.
    fn index<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>, path: &str) -> Result<()> {
        let Some(text) = read_small(entry, INDEX_LIMIT) else {
            return self.refuse(path, "an index bigger than 64 MiB");
        };
        match serde_json::from_slice::<Index>(&text) {
            Ok(index) if index.format == "haid-models-export" => {
                self.progress.total = index.files.iter().map(|f| f.size).sum();
                self.placing.set_commits(&index.models);
                self.hashes = index
                    .files
                    .into_iter()
                    .map(|f| (f.path, f.sha256))
                    .collect();
                Ok(())
            }
            _ => self.refuse(path, "an index that is not an export's"),
        }
    }

    fn repo_dir(&mut self, repo: &RepoId) -> Result<PathBuf> {
        prepare_repo(self.cache_dir, repo)?;
        let dir = repo.repo_dir(self.cache_dir);
        real_dirs(&dir)?;
        self.placing.style(self.cache_dir);
        Ok(dir)
    }

    fn blob<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        path: &str,
        repo: &RepoId,
        name: &BlobName,
    ) -> Result<()> {
        let size = entry.header().size().unwrap_or(0);
        let final_path = repo
            .repo_dir(self.cache_dir)
            .join("blobs")
            .join(name.as_str());
        let present = std::fs::metadata(&final_path).is_ok_and(|m| m.is_file() && m.len() == size);
        if !present && !self.dry_run {
            self.repo_dir(repo)?; // the cache's style is known from here on
        }
        // Without symlinks the blob may be in its snapshot files already.
        if present || self.placing.blob_in_place(self.cache_dir, repo, name, size) {
            self.report.blobs_present += 1;
            self.progress.add(size);
            return Ok(());
        }
        let kind = BlobHashKind::of_etag(name.as_str()).unwrap_or(BlobHashKind::Sha256);
        if self.dry_run {
            let actual = hash_stream(entry, kind, size, &mut std::io::sink(), &mut self.progress)
                .map_err(|e| Error::io("read", path, e))?;
            self.judge(path, name.as_str(), &actual);
            return Ok(());
        }
        let dir = self.repo_dir(repo)?;
        // The lock huggingface_hub takes too: never two writers of one blob.
        let lock = open_lock_file(&lock_path(self.cache_dir, repo, name))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                self.report.notes.push(format!("{path}: another program is downloading it; run the import again when it is done"));
                return Ok(());
            }
            Err(TryLockError::Error(e)) => return Err(Error::io("lock", path, e)),
        }
        // The cache's shared store holds these bytes already: a link to
        // them, not a second copy (the archive's bytes are then not read).
        if self.placing.style(self.cache_dir) == SnapshotStyle::Symlinks
            && link_to_shared(self.cache_dir, &final_path, name, size)
        {
            self.report.blobs_present += 1;
            self.progress.add(size);
            return Ok(());
        }
        let tmp = dir.join("blobs").join(name.incomplete_name());
        let mut file = File::create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
        // Not fsynced, as a download is not: the bytes were hashed on the
        // way in, and a blob cut by a power loss fails `verify` and the
        // next download's size check (tar -x does not sync either).
        let actual = hash_stream(entry, kind, size, &mut file, &mut self.progress);
        let actual = match actual {
            Ok(actual) => actual,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(Error::io("write", &tmp, e));
            }
        };
        if self.judge(path, name.as_str(), &actual) {
            std::fs::rename(&tmp, &final_path).map_err(|e| Error::io("move", &tmp, e))?;
            self.placing.brought(repo, name);
            self.report.bytes_written += size;
        } else {
            let _ = std::fs::remove_file(&tmp);
        }
        Ok(())
    }

    /// Whether the bytes match the name; a mismatch is reported as damage.
    fn judge(&mut self, path: &str, expected: &str, actual: &str) -> bool {
        if actual == expected {
            self.report.blobs_added += 1;
            return true;
        }
        self.report.damaged.push(Refused {
            path: format!("{path:?}"),
            reason: format!("its bytes hash to {actual}, not its name; skipped (the model stays incomplete: a download fetches the file)"),
        });
        false
    }

    fn reference<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        path: &str,
        repo: RepoId,
        name: RefName,
    ) -> Result<()> {
        let text = read_small(entry, 1024).and_then(|t| String::from_utf8(t).ok());
        match text.as_deref().map(str::trim).map(CommitHash::parse) {
            Some(Ok(commit)) => {
                self.refs.push((repo, name, commit));
                Ok(())
            }
            _ => self.refuse(path, "a ref that holds no commit hash"),
        }
    }

    fn tree<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        path: &str,
        repo: &RepoId,
        commit: &CommitHash,
    ) -> Result<()> {
        let Some(text) = read_small(entry, SMALL_LIMIT) else {
            return self.refuse(path, "a listing bigger than 16 MiB");
        };
        if !serde_json::from_slice::<serde_json::Value>(&text).is_ok_and(|v| v.is_object()) {
            return self.refuse(path, "a listing that is not a JSON object");
        }
        if self.dry_run {
            return Ok(());
        }
        let dest = self
            .repo_dir(repo)?
            .join("trees")
            .join(format!("{commit}.json"));
        if !dest.exists() {
            write_atomically(&dest, &text)?;
        }
        Ok(())
    }

    /// A snapshot link: it must stay in its repo and name a blob.
    fn link<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        path: &str,
        repo: &RepoId,
        commit: &CommitHash,
        file: &RepoFilePath,
    ) -> Result<()> {
        let target = entry
            .link_name_bytes()
            .map(|t| String::from_utf8_lossy(&t).into_owned());
        let Some(target) = target.filter(|t| !t.starts_with('/')) else {
            return self.refuse(path, "a link to an absolute path");
        };
        let repo_dir = repo.repo_dir(self.cache_dir);
        let from = file.join_to(&repo_dir.join("snapshots").join(commit.as_str()));
        let lands = resolve_link(from.parent().unwrap_or(&repo_dir), Path::new(&target));
        let blob = lands
            .strip_prefix(repo_dir.join("blobs"))
            .ok()
            .and_then(|rest| rest.to_str())
            .and_then(|rest| BlobName::parse(rest).ok());
        let Some(blob) = blob else {
            return self.refuse(path, "a link that leaves its repo's blobs");
        };
        if self.dry_run {
            return Ok(());
        }
        let dir = self.repo_dir(repo)?;
        let entry = SnapshotEntry {
            commit: commit.clone(),
            path: file.clone(),
            etag: blob,
        };
        self.placing.link(self.cache_dir, &dir, entry)
    }

    /// A file in the snapshot itself (the no-symlink layout), checked
    /// against the index's hash when it has one.
    fn plain_file<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        path: &str,
        repo: &RepoId,
        commit: &CommitHash,
        file: &RepoFilePath,
    ) -> Result<()> {
        let size = entry.header().size().unwrap_or(0);
        let snapshot = repo
            .repo_dir(self.cache_dir)
            .join("snapshots")
            .join(commit.as_str());
        let dest = file.join_to(&snapshot);
        if std::fs::symlink_metadata(&dest).is_ok() {
            self.progress.add(size);
            return Ok(());
        }
        let (tmp, mut out): (Option<PathBuf>, Box<dyn Write>) = if self.dry_run {
            (None, Box::new(std::io::sink()))
        } else {
            self.repo_dir(repo)?;
            real_folders(&snapshot, file)?;
            let tmp = dest.with_file_name(format!(".{}.haid-importing", std::process::id()));
            let f = File::create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
            (Some(tmp), Box::new(f))
        };
        let actual = hash_stream(
            entry,
            BlobHashKind::Sha256,
            size,
            &mut out,
            &mut self.progress,
        )
        .map_err(|e| Error::io("write", &dest, e))?;
        drop(out);
        let ok = self.hashes.get(path).is_none_or(|want| *want == actual);
        match (tmp, ok) {
            (Some(tmp), true) => {
                std::fs::rename(&tmp, &dest).map_err(|e| Error::io("move", &tmp, e))?;
                self.report.bytes_written += size;
            }
            (Some(tmp), false) => {
                let _ = std::fs::remove_file(&tmp);
            }
            (None, _) => {}
        }
        if !ok {
            self.report.damaged.push(Refused {
                path: format!("{path:?}"),
                reason: "its bytes do not match the archive's index; skipped".into(),
            });
        }
        Ok(())
    }

    fn absent<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        path: &str,
        repo: &RepoId,
        commit: &CommitHash,
        file: &RepoFilePath,
    ) -> Result<()> {
        if entry.header().size().unwrap_or(1) != 0 {
            return self.refuse(path, "a file of .no_exist that is not empty");
        }
        if self.dry_run {
            return Ok(());
        }
        self.repo_dir(repo)?;
        let dir = repo
            .repo_dir(self.cache_dir)
            .join(".no_exist")
            .join(commit.as_str());
        real_folders(&dir, file)?;
        let dest = file.join_to(&dir);
        if !dest.exists() {
            File::create(&dest).map_err(|e| Error::io("create", &dest, e))?;
        }
        Ok(())
    }

    /// After the last entry: the snapshot files are settled (`Placing::finish`),
    /// then the refs are written.
    fn finish(mut self) -> Result<ImportReport> {
        self.progress.say();
        if self.dry_run {
            return Ok(self.report);
        }
        self.placing.finish()?;
        for (repo, name, commit) in std::mem::take(&mut self.refs) {
            self.write_ref(&repo, &name, &commit)?;
        }
        Ok(self.report)
    }

    /// A ref to a snapshot that is here; one the cache has already, to
    /// another snapshot that is here, is kept (the cache's choice wins).
    fn write_ref(&mut self, repo: &RepoId, name: &RefName, commit: &CommitHash) -> Result<()> {
        let dir = repo.repo_dir(self.cache_dir);
        if !dir.join("snapshots").join(commit.as_str()).is_dir() {
            self.report.notes.push(format!(
                "{repo}: refs/{name} not written: none of its files came"
            ));
            return Ok(());
        }
        let path = name.path_in(&dir.join("refs"));
        let current = std::fs::read_to_string(&path)
            .ok()
            .and_then(|c| CommitHash::parse(c.trim()).ok());
        match current {
            Some(c) if &c == commit => Ok(()),
            Some(c) if dir.join("snapshots").join(c.as_str()).is_dir() => {
                self.report.notes.push(format!("{repo}: kept refs/{name} at {c} (the archive has {commit}, imported beside it)"));
                Ok(())
            }
            _ => crate::download::layout::write_ref(&dir, name, commit),
        }
    }
}

/// Every folder from the cache down to `dir` and its layout folders is a
/// real folder, not a link another program left there to lead writes out.
fn real_dirs(dir: &Path) -> Result<()> {
    for sub in ["", "blobs", "snapshots", "refs", "trees", ".no_exist"] {
        let p = if sub.is_empty() {
            dir.to_owned()
        } else {
            dir.join(sub)
        };
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Error::CacheDir {
                    path: p,
                    message: "is a link or a file where the cache needs a folder; nothing is written through it: remove it, then import again".into(),
                })
            }
            Err(_) if matches!(sub, "trees" | ".no_exist") => {
                std::fs::create_dir(&p).map_err(|e| Error::io("create", &p, e))?
            }
            Err(e) => return Err(Error::io("read", &p, e)),
        }
    }
    Ok(())
}

/// Copies the entry (`size` bytes) to `to`, hashing it on the way.
fn hash_stream(
    from: &mut impl Read,
    kind: BlobHashKind,
    size: u64,
    to: &mut dyn Write,
    progress: &mut Progress<'_>,
) -> std::io::Result<String> {
    copy_hashed(from, to, kind, size, &mut |n| progress.add(n))
}

/// The entry's bytes when there are at most `limit`.
fn read_small(entry: &mut impl Read, limit: u64) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    entry.take(limit + 1).read_to_end(&mut out).ok()?;
    (out.len() as u64 <= limit).then_some(out)
}
