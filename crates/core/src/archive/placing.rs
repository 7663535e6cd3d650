//! Where an import puts the snapshot files an archive links to its blobs.
//! With symlinks, each link is made as it comes. Without them
//! (`HF_HUB_DISABLE_SYMLINKS`, or a cache folder that refuses them), the
//! layout a download writes then (`download::placement`): once every blob
//! has come, each is moved into its snapshot, or copied for a path that
//! shares it, so `blobs/` ends empty. Every link was validated before it
//! gets here (`Run::link`): it names a blob of its own repo. With
//! symlinks and huggingface_hub 2.5's shared store, a blob whose bytes the
//! store holds already becomes a link to them (`link_to_shared`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::cache::blob_hash::BlobHashKind;
use crate::cache::shared_store::{try_link, SharedStore};
use crate::cache::tree::TreeListing;
use crate::cache::{BlobName, CommitHash, RepoFilePath, RepoId, XetHash};
use crate::download::layout::link_snapshot;
use crate::download::placement::{self, Placer, SnapshotEntry, SnapshotStyle};
use crate::error::Result;
use crate::migrate::files::hash_file;

#[derive(Debug, Default)]
pub(super) struct Placing {
    disable_symlinks: bool,
    /// Known once the import first writes to the cache (the probe needs it).
    style: Option<SnapshotStyle>,
    /// The commits the archive's index names, per repo folder.
    commits: HashMap<String, Vec<CommitHash>>,
    /// Per repo folder: blobs whose every path in those commits' listings
    /// is in its snapshot already (a rerun after the placing), worked out
    /// at the repo's first blob.
    in_place: HashMap<String, HashSet<String>>,
    /// Blobs not written because their files were in place, with their size.
    skipped: HashMap<(String, BlobName), u64>,
    /// Without symlinks: the files to place at the end, per repo folder.
    pending: BTreeMap<String, (PathBuf, Vec<SnapshotEntry>)>,
    /// Blobs this import wrote, per repo folder.
    brought: HashMap<String, HashSet<BlobName>>,
    /// With symlinks: the links made, and the blob each needs.
    links: Vec<(PathBuf, PathBuf)>,
}

impl Placing {
    pub fn new(disable_symlinks: bool) -> Self {
        Self {
            disable_symlinks,
            ..Self::default()
        }
    }

    /// The style of the cache, asked once it is being written to.
    pub fn style(&mut self, cache_dir: &Path) -> SnapshotStyle {
        *self
            .style
            .get_or_insert_with(|| SnapshotStyle::for_cache(cache_dir, self.disable_symlinks))
    }

    /// The index's models, so a rerun can tell which blobs are in place.
    pub fn set_commits(&mut self, models: &[super::IndexModel]) {
        for m in models {
            let repo = crate::cache::RepoType::parse(&m.repo_type)
                .and_then(|t| RepoId::parse(&m.repo_id, t).ok());
            if let (Some(repo), Ok(commit)) = (repo, CommitHash::parse(&m.commit)) {
                let folder = repo.folder_name();
                self.commits.entry(folder).or_default().push(commit);
            }
        }
    }

    /// Whether the blob need not be written: without symlinks (or in a dry
    /// run, which cannot tell), every file of the archive's commits that the
    /// cache's listings say holds it is in its snapshot already.
    pub fn blob_in_place(
        &mut self,
        cache_dir: &Path,
        repo: &RepoId,
        name: &BlobName,
        size: u64,
    ) -> bool {
        if self.style == Some(SnapshotStyle::Symlinks) {
            return false;
        }
        let folder = repo.folder_name();
        let commits = self.commits.get(&folder).map_or(&[][..], Vec::as_slice);
        let in_place = self
            .in_place
            .entry(folder.clone())
            .or_insert_with(|| files_in_place(&repo.repo_dir(cache_dir), commits));
        let there = in_place.contains(name.as_str());
        if there {
            self.skipped.insert((folder, name.clone()), size);
        }
        there
    }

    /// A blob this import wrote into `blobs/`.
    pub fn brought(&mut self, repo: &RepoId, name: &BlobName) {
        let blobs = self.brought.entry(repo.folder_name()).or_default();
        blobs.insert(name.clone());
    }

    /// A validated snapshot link of `repo_dir`: made now, or placed at the end.
    pub fn link(&mut self, cache_dir: &Path, repo_dir: &Path, entry: SnapshotEntry) -> Result<()> {
        if self.style(cache_dir) == SnapshotStyle::Symlinks {
            let link = link_snapshot(repo_dir, &entry.commit, &entry.path, &entry.etag)?;
            let blob = repo_dir.join("blobs").join(entry.etag.as_str());
            self.links.push((link, blob));
            return Ok(());
        }
        let folder = placement_key(repo_dir);
        let (_, files) = self
            .pending
            .entry(folder)
            .or_insert_with(|| (repo_dir.to_owned(), Vec::new()));
        files.push(entry);
        Ok(())
    }

    /// After the last entry. Links whose blob did not come are removed (the
    /// model reads as partial, and a download fetches the file); without
    /// symlinks, the files whose blob came are placed, the rest left out.
    pub fn finish(&mut self) -> Result<()> {
        for (link, blob) in std::mem::take(&mut self.links) {
            if !blob.is_file() {
                let _ = std::fs::remove_file(&link);
            }
        }
        for (folder, (repo_dir, files)) in std::mem::take(&mut self.pending) {
            let ready: Vec<SnapshotEntry> = files
                .into_iter()
                .filter(|f| self.has_blob(&folder, &repo_dir, f))
                .collect();
            let brought = self.brought.remove(&folder).unwrap_or_default();
            Placer::new(SnapshotStyle::Files, &repo_dir).place_each(&ready, &brought)?;
        }
        Ok(())
    }

    /// The blob of `f` is in `blobs/`, or its file is in place, or (a blob
    /// skipped as in place, for a file outside the listing) it could be
    /// copied back from a snapshot file that holds it.
    fn has_blob(&self, folder: &str, repo_dir: &Path, f: &SnapshotEntry) -> bool {
        if repo_dir.join("blobs").join(f.etag.as_str()).is_file()
            || placement::is_plain(repo_dir, &f.commit, &f.path)
        {
            return true;
        }
        let skipped = self.skipped.get(&(folder.to_owned(), f.etag.clone()));
        skipped.is_some_and(|size| placement::restore_blob(repo_dir, &f.etag, *size))
    }
}

/// The repo folder's name, as the key of what is pending in it.
fn placement_key(repo_dir: &Path) -> String {
    crate::cache::paths::file_name(repo_dir)
}

/// Blobs whose every file in `commits` (by the cache's listings) is a
/// plain file of its size in its snapshot. Only blobs a listing names.
fn files_in_place(repo_dir: &Path, commits: &[CommitHash]) -> HashSet<String> {
    let trees = TreeListing::dir(repo_dir);
    let mut all: HashMap<String, bool> = HashMap::new();
    for commit in commits {
        let Some(listing) = TreeListing::entries(&trees, commit.as_str()) else {
            continue;
        };
        for (path, entry) in &listing {
            let placed = RepoFilePath::parse(path)
                .is_ok_and(|p| placement::is_placed(repo_dir, commit, &p, entry.size));
            *all.entry(entry.etag().to_owned()).or_insert(true) &= placed;
        }
    }
    all.into_iter()
        .filter_map(|(etag, placed)| placed.then_some(etag))
        .collect()
}

/// With symlinks, makes the repo blob `blob` (named `name`, `size` bytes, not
/// there yet) a link to the payload of huggingface_hub 2.5's shared store
/// that holds its bytes already, as 2.5 links a download it finds in the
/// store: no second copy. Which payload: a store is named by Xet hash, not
/// sha256, so it is the one another repo's blob of the same name links to.
/// Its sha256 is checked against the name before the link is made
/// (`try_link`, which also writes the `.refs` line first). Whether it linked.
pub(super) fn link_to_shared(cache_dir: &Path, blob: &Path, name: &BlobName, size: u64) -> bool {
    let Some(store) = SharedStore::open(cache_dir) else {
        return false;
    };
    let Some(kind) = BlobHashKind::of_etag(name.as_str()) else {
        return false;
    };
    let Some(hash) = payload_named(cache_dir, &store, name, size) else {
        return false;
    };
    let matches = |payload: &Path| hash_file(payload, kind).is_ok_and(|h| h == name.as_str());
    try_link(cache_dir, blob, &hash, size, matches)
}

/// The payload of `size` bytes that a repo blob `<repo>/blobs/<name>` of the
/// cache links to, when one does (read by the store's rules, no link followed).
fn payload_named(
    cache_dir: &Path,
    store: &SharedStore,
    name: &BlobName,
    size: u64,
) -> Option<XetHash> {
    let repos = std::fs::read_dir(cache_dir).ok()?;
    repos.flatten().find_map(|repo| {
        let folder = repo.file_name().to_string_lossy().into_owned();
        RepoId::from_folder_name(&folder).ok()?;
        let candidate = repo.path().join("blobs").join(name.as_str());
        let hash = store.link_target(&candidate)?;
        store
            .payload(&hash)
            .is_some_and(|p| p.size == size)
            .then_some(hash)
    })
}
