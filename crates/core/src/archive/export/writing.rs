//! Writing an export's archive: the index first, then each planned entry,
//! every file's bytes hashed on their way in.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;

use super::{ExportPlan, Item};
use crate::archive::{
    ArchiveEvent, ArchiveSink, Index, IndexFile, IndexModel, Progress, INDEX_PATH,
};
use crate::cache::blob_hash::BlobHashKind;
use crate::cache::hashing_copy::copy_hashed;
use crate::cache::RepoId;
use crate::error::{Error, Result};

/// Writes the plan's archive to `partial`.
pub(super) fn write_archive(
    plan: &ExportPlan,
    partial: &Path,
    sink: ArchiveSink<'_>,
) -> Result<()> {
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
    let mut progress = crate::archive::progress(plan.bytes, sink);
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
    .map_err(|e| {
        if source.failed {
            Error::io("read", entry.source, e)
        } else {
            write_err(e)
        }
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
