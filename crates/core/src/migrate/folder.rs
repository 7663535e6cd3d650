//! A plain model folder becomes a proper cache entry. Each file is hashed
//! the way the hub names it (sha256 for LFS files, git blob sha1 otherwise)
//! and compared with the hub's listing; what matches becomes a blob under
//! that name, linked into `snapshots/<commit>`, with `refs/main` and
//! `trees/<commit>.json`, so huggingface_hub finds the model offline and
//! online without downloading a byte. Offline, the names come from the files
//! alone and the commit is a local one (see [`local_commit`]).

use std::collections::BTreeMap;
use std::path::Path;

use sha1::{Digest, Sha1};

use super::files::{files_under, hash_file, place_blob, prune_empty_tree, remove_empty_dirs};
use super::journal::{FolderRecord, JournalProblem};
use super::{Method, PlanItem, Problem};
use crate::cache::blob_hash::BlobHashKind;
use crate::cache::tree::TreeEntry;
use crate::cache::{BlobName, CommitHash, RefName, RepoFilePath};
use crate::download::layout::{prepare_repo, write_listing, write_ref};
use crate::download::placement::{is_placed, Placer, SnapshotEntry, SnapshotStyle};
use crate::download::RemoteSnapshot;
use crate::error::{Error, Result};

/// Local commits start with this many zeros: no real commit does in practice
/// (a chance of one in 2^48), so anyone can tell one at a glance.
pub(crate) const LOCAL_COMMIT_PREFIX: &str = "000000000000";

/// Files at least this big are taken as LFS files (named by sha256) when the
/// hub cannot say; the hub's own rule sends every weight file to LFS.
const LFS_GUESS_SIZE: u64 = 10 * 1024 * 1024;
const LFS_EXTENSIONS: [&str; 12] = [
    "safetensors",
    "bin",
    "pt",
    "pth",
    "ckpt",
    "onnx",
    "h5",
    "msgpack",
    "ot",
    "pb",
    "gguf",
    "npy",
];

/// Hashes the folder's files and matches them to the hub's snapshot (or,
/// with `remote` an error, names them from their content alone).
pub(crate) fn resolve(
    item: &PlanItem,
    remote: std::result::Result<RemoteSnapshot, String>,
) -> Result<FolderRecord> {
    let local = local_files(&item.source);
    match remote {
        Ok(snapshot) => resolve_with_hub(item, &local, snapshot),
        Err(reason) => resolve_offline(item, &local, &reason),
    }
}

/// Source-relative paths (with `/`) and sizes of the folder's regular files.
fn local_files(source: &Path) -> BTreeMap<String, u64> {
    files_under(source)
        .into_iter()
        .map(|(rel, _, size)| (rel, size))
        .collect()
}

fn resolve_with_hub(
    item: &PlanItem,
    local: &BTreeMap<String, u64>,
    snapshot: RemoteSnapshot,
) -> Result<FolderRecord> {
    let remote: BTreeMap<_, _> = snapshot
        .files
        .iter()
        .map(|f| (f.path.as_str(), f))
        .collect();
    let mut verified = BTreeMap::new();
    let mut problems = Vec::new();
    let mut problem = |path: &str, reason: String| {
        problems.push(JournalProblem {
            path: item.source.join(path),
            reason,
        })
    };
    for (path, size) in local {
        let Some(file) = remote.get(path.as_str()) else {
            problem(
                path,
                format!("not in the hub's files of {}; left here", item.repo),
            );
            continue;
        };
        let kind = if file.lfs_sha256.is_some() {
            BlobHashKind::Sha256
        } else {
            BlobHashKind::GitSha1
        };
        let matches =
            *size == file.size && hash_file(&item.source.join(path), kind)? == file.etag().as_str();
        if matches {
            verified.insert(path.clone(), file.etag().to_string());
        } else {
            problem(path, "differs from the hub's file; left here, and `haid-models download` fetches the hub's".into());
        }
    }
    let missing = remote
        .keys()
        .filter(|p| !verified.contains_key(**p))
        .count();
    let advice = (missing > 0).then(|| {
        format!("{missing} of the hub's files are not here (or differ): `haid-models download {}` fetches only those", item.repo)
    });
    Ok(FolderRecord {
        repo_id: item.repo.id(),
        commit: snapshot.commit.to_string(),
        local_commit: false,
        checked_with_hub: true,
        listing: snapshot.listing(),
        verified,
        problems,
        advice,
    })
}

fn resolve_offline(
    item: &PlanItem,
    local: &BTreeMap<String, u64>,
    reason: &str,
) -> Result<FolderRecord> {
    let mut listing = BTreeMap::new();
    let mut verified = BTreeMap::new();
    let mut problems = Vec::new();
    for (path, size) in local {
        if let Err(reason) = RepoFilePath::parse(path) {
            problems.push(JournalProblem {
                path: item.source.join(path),
                reason: format!("its name cannot be a repo file ({reason}); left here"),
            });
            continue;
        }
        let kind = guess_kind(path, *size);
        let etag = hash_file(&item.source.join(path), kind)?;
        listing.insert(path.clone(), entry_for(kind, &etag, *size));
        verified.insert(path.clone(), etag);
    }
    Ok(FolderRecord {
        repo_id: item.repo.id(),
        commit: local_commit(&listing),
        local_commit: true,
        checked_with_hub: false,
        listing,
        verified,
        problems,
        advice: Some(format!(
            "not checked with the hub ({reason}); when it is reachable, run `haid-models download {}`: it checks these files against the hub and fetches only what differs",
            item.repo
        )),
    })
}

fn guess_kind(path: &str, size: u64) -> BlobHashKind {
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    let binary = ext.is_some_and(|e| LFS_EXTENSIONS.contains(&e.as_str()));
    if binary || size >= LFS_GUESS_SIZE {
        BlobHashKind::Sha256
    } else {
        BlobHashKind::GitSha1
    }
}

/// The listing entry the hub would give: an LFS file's `blob_id` is the git
/// id of its pointer file, which follows from the sha256 and the size.
fn entry_for(kind: BlobHashKind, etag: &str, size: u64) -> TreeEntry {
    match kind {
        BlobHashKind::GitSha1 => TreeEntry {
            size,
            blob_id: etag.to_owned(),
            lfs_sha256: None,
            lfs_size: None,
            xet_hash: None,
        },
        BlobHashKind::Sha256 => {
            let pointer = format!(
                "version https://git-lfs.github.com/spec/v1\noid sha256:{etag}\nsize {size}\n"
            );
            let mut h = Sha1::new();
            h.update(format!("blob {}\0", pointer.len()).as_bytes());
            h.update(pointer.as_bytes());
            TreeEntry {
                size,
                blob_id: hex::encode(h.finalize()),
                lfs_sha256: Some(etag.to_owned()),
                lfs_size: Some(size),
                xet_hash: None,
            }
        }
    }
}

/// A commit id made from the listing: the same files give the same id (a
/// rerun finds its own snapshot), and the zeros mark it as ours.
pub(crate) fn local_commit(listing: &BTreeMap<String, TreeEntry>) -> String {
    let mut h = Sha1::new();
    for (path, entry) in listing {
        h.update(path.as_bytes());
        h.update(b"\0");
        h.update(
            entry
                .lfs_sha256
                .as_deref()
                .unwrap_or(&entry.blob_id)
                .as_bytes(),
        );
        h.update(b"\n");
    }
    let digest = hex::encode(h.finalize());
    format!(
        "{LOCAL_COMMIT_PREFIX}{}",
        &digest[LOCAL_COMMIT_PREFIX.len()..]
    )
}

/// What placing the files did.
#[derive(Debug, Default)]
pub(crate) struct Placed {
    pub files: usize,
    pub bytes: u64,
    pub problems: Vec<Problem>,
    /// Blob names the cache now holds, checked against their names.
    pub sound: std::collections::BTreeSet<String>,
}

/// Writes the cache entry for a resolved folder; `on_file` after each file.
/// Resumable: files already moved (gone from the source, present in the
/// cache) are linked, not looked for. Without symlinks (`style`), each
/// file's blob is then moved on into the snapshot, as a download does.
pub(crate) fn place(
    item: &PlanItem,
    cache_dir: &Path,
    style: SnapshotStyle,
    record: &FolderRecord,
    on_file: &mut dyn FnMut(&str, u64),
) -> Result<Placed> {
    // The record comes back from the journal on disk: its names are parsed
    // again before they become paths.
    let commit =
        CommitHash::parse(&record.commit).map_err(|r| damaged_journal(item, &record.commit, r))?;
    let files = record
        .verified
        .iter()
        .map(|(path, etag)| {
            let parsed = RepoFilePath::parse(path).and_then(|path| {
                Ok(SnapshotEntry {
                    commit: commit.clone(),
                    path,
                    etag: BlobName::parse(etag)?,
                })
            });
            parsed.map_err(|r| damaged_journal(item, path, r))
        })
        .collect::<Result<Vec<_>>>()?;
    let repo_dir = prepare_repo(cache_dir, &item.repo)?;
    // Listing and ref first: a run killed from here on leaves a partial
    // snapshot that scans say is partial, never a detached one to prune.
    write_listing(&repo_dir, &commit, record.listing.clone())?;
    let main_taken = std::fs::read_to_string(repo_dir.join("refs/main"))
        .is_ok_and(|c| c.trim() != record.commit);
    let ref_name = if record.local_commit && main_taken {
        RefName::parse("haid-migrated").unwrap_or_default()
    } else {
        RefName::main()
    };
    write_ref(&repo_dir, &ref_name, &commit)?;

    let copy = item.method == Method::Copy;
    let mut placed = Placed {
        problems: record.problems.iter().map(Problem::from).collect(),
        ..Placed::default()
    };
    let placer = Placer::new(style, &repo_dir);
    for (i, SnapshotEntry { path, etag, .. }) in files.iter().enumerate() {
        let source = path.join_to(&item.source);
        let blob = repo_dir.join("blobs").join(etag.as_str());
        let size = record.listing.get(path.as_str()).map_or(0, |e| e.size);
        if style == SnapshotStyle::Files && is_placed(&repo_dir, &commit, path, size) {
            // Moved on into the snapshot by an earlier run: done.
        } else if source.is_file() {
            place_blob(&source, &blob, etag.as_str(), copy)?;
        } else if !blob.is_file() {
            placed.problems.push(Problem {
                path: source,
                reason: "gone from the folder before it reached the cache (removed by hand?)"
                    .into(),
            });
            continue;
        }
        placer.place(&files, i)?;
        placed.sound.insert(etag.to_string());
        placed.files += 1;
        placed.bytes += size;
        on_file(path.as_str(), size);
    }
    Ok(placed)
}

fn damaged_journal(item: &PlanItem, value: &str, reason: String) -> Error {
    Error::InvalidArgument {
        what: "entry of the migration journal",
        value: value.to_owned(),
        reason: format!("{reason}; the journal of {} was changed by another program: delete it and run migrate again", item.repo),
    }
}

/// After the cache entry is in place and checked: removes the source files
/// that reached the cache, then the folders left empty (up to `embedding/models`).
pub(crate) fn remove_source(item: &PlanItem, record: &FolderRecord) {
    for path in record.verified.keys() {
        let _ = std::fs::remove_file(item.source.join(path));
    }
    prune_empty_tree(&item.source);
    if let Some(org) = item.source.parent() {
        if let Some(models) = org.parent() {
            remove_empty_dirs(org, models);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_lfs_and_small_text_is_not() {
        assert_eq!(guess_kind("model.safetensors", 10), BlobHashKind::Sha256);
        assert_eq!(guess_kind("onnx/model.ONNX", 10), BlobHashKind::Sha256);
        assert_eq!(guess_kind("config.json", 500), BlobHashKind::GitSha1);
        assert_eq!(guess_kind("tokenizer.json", 20 << 20), BlobHashKind::Sha256);
    }

    #[test]
    fn a_local_commit_is_marked_and_stable() {
        let mut listing = BTreeMap::new();
        listing.insert(
            "a".to_owned(),
            entry_for(BlobHashKind::GitSha1, &"1".repeat(40), 3),
        );
        let commit = local_commit(&listing);
        assert_eq!(commit.len(), 40);
        assert!(commit.starts_with(LOCAL_COMMIT_PREFIX));
        assert_eq!(commit, local_commit(&listing.clone()));
        listing.insert(
            "b".to_owned(),
            entry_for(BlobHashKind::Sha256, &"2".repeat(64), 9),
        );
        assert_ne!(commit, local_commit(&listing));
    }

    #[test]
    fn an_lfs_entry_names_the_pointer_file_as_git_would() {
        // `git hash-object` of the pointer file for sha256 "2"×64, size 9.
        let e = entry_for(BlobHashKind::Sha256, &"2".repeat(64), 9);
        assert_eq!(e.blob_id, "2371a35d4818629dd6759d6452fc0f6482ebcf37");
        assert_eq!(e.lfs_size, Some(9));
    }
}
