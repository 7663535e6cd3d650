//! A copy to a DEST that refuses symlinks: an exFAT or FAT drive (the usual
//! external disk), many SMB shares. A link cannot be made again there, so
//! each snapshot file becomes a plain copy of the blob it linked to, and
//! the blob itself is not copied into `blobs/`: the layout huggingface_hub
//! writes on such a disk (`download::placement`), which it, `hf-hub` and
//! our scan all read. A blob two snapshot files share is written twice, as
//! huggingface_hub does there; the room a move needs is counted that way.
//!
//! Only a link that lands on a file in its own repo's `blobs/` is copied:
//! a link to nothing, or out of the repo, is no file of a model and has no
//! plain form, so it is left behind, as a scan would not count it either.
//! A repo blob that links into huggingface_hub 2.5's shared store counts as
//! its payload: the snapshot file becomes a checked copy of the payload's
//! bytes, and the store stays behind (2.5 keeps none without symlinks).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::entries::{self, Entry, Kind};
use super::plan::has_same_size;
use crate::cache::paths::{is_under, resolve_link};
use crate::cache::shared_store::{SharedStore, STORE_DIR};
use crate::error::Result;

/// A blob a snapshot link names, in the old cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LinkedBlob {
    /// Its path in the old cache.
    pub source: PathBuf,
    /// Its name: the hash its content must have.
    pub name: String,
    pub size: u64,
}

/// One folder of the old cache as a plain copy sees it.
#[derive(Debug, Default)]
pub(super) struct PlainLayout {
    /// Each snapshot link (by its path relative to the folder) that becomes
    /// a copy of a blob.
    pub links: HashMap<PathBuf, LinkedBlob>,
    /// The blobs those links name (old-cache paths): not copied as blobs.
    pub linked: HashSet<PathBuf>,
}

impl PlainLayout {
    /// Reads the links of `walked`, the entries under `root` (a repo folder
    /// of the old cache, or any other top-level entry: then it has none).
    pub fn of(root: &Path, walked: &[Entry]) -> Self {
        let blobs = root.join("blobs");
        let store = root.parent().and_then(SharedStore::open);
        let mut layout = Self::default();
        for entry in walked {
            let Kind::Link { target } = &entry.kind else {
                continue;
            };
            let link = root.join(&entry.rel);
            let lands = resolve_link(link.parent().unwrap_or(root), target);
            let name = lands
                .strip_prefix(&blobs)
                .ok()
                .and_then(|n| n.to_str())
                .filter(|n| !n.contains(['/', '\\']));
            let (Some(name), true) = (name, is_under(&lands, &blobs)) else {
                continue;
            };
            // The blob itself, or the payload of a blob that links into the
            // shared store (read by the store's rules); never another link
            // a program left in `blobs/` (it could lead a copy outside).
            let content = match std::fs::symlink_metadata(&lands) {
                Ok(meta) if meta.is_file() => Some((lands.clone(), meta.len())),
                Ok(meta) if meta.file_type().is_symlink() => store
                    .as_ref()
                    .and_then(|s| s.linked_payload(&lands))
                    .map(|p| (p.path, p.size)),
                _ => None,
            };
            if let Some((source, size)) = content {
                layout.links.insert(
                    entry.rel.clone(),
                    LinkedBlob {
                        source,
                        name: name.to_owned(),
                        size,
                    },
                );
                layout.linked.insert(lands);
            }
        }
        layout
    }

    /// Whether a file of the old cache is a blob that goes into snapshots
    /// instead.
    pub fn is_linked_blob(&self, source: &Path) -> bool {
        self.linked.contains(source)
    }
}

/// What a plain copy of the folders `names` of `from` places at `to`:
/// (every byte it places, the bytes DEST lacks of them).
pub(super) fn totals(from: &Path, to: &Path, names: &[String]) -> Result<(u64, u64)> {
    let (mut bytes, mut to_copy) = (0, 0);
    for name in names {
        // The store does not go (`Placer::place`); what of it the snapshots
        // use is counted with their links, once per snapshot file.
        if name == STORE_DIR && SharedStore::open(from).is_some() {
            continue;
        }
        let root = from.join(name);
        let walked = entries::walk(&root)?;
        let layout = PlainLayout::of(&root, &walked);
        for entry in &walked {
            let size = match &entry.kind {
                Kind::File { size } if !layout.is_linked_blob(&root.join(&entry.rel)) => *size,
                Kind::Link { .. } => match layout.links.get(&entry.rel) {
                    Some(blob) => blob.size,
                    None => continue,
                },
                _ => continue,
            };
            bytes += size;
            if !has_same_size(&to.join(name).join(&entry.rel), size) {
                to_copy += size;
            }
        }
    }
    Ok((bytes, to_copy))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn links_to_the_repo_s_blobs_are_copies_and_the_rest_is_left() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("models--o--m");
        let snap = root.join("snapshots/c");
        std::fs::create_dir_all(root.join("blobs")).unwrap();
        std::fs::create_dir_all(snap.join("sub")).unwrap();
        std::fs::write(root.join("blobs/aa"), "12345").unwrap();
        std::fs::write(root.join("blobs/orphan"), "xy").unwrap();
        std::fs::write(tmp.path().join("outside"), "no").unwrap();
        symlink("../../blobs/aa", snap.join("a.bin")).unwrap();
        symlink("../../../blobs/aa", snap.join("sub/shared.bin")).unwrap();
        symlink("../../blobs/gone", snap.join("broken.bin")).unwrap();
        symlink("../../../outside", snap.join("out.bin")).unwrap();
        symlink("../../outside", root.join("blobs/bb")).unwrap();
        symlink("../../blobs/bb", snap.join("via-link.bin")).unwrap();
        std::fs::write(snap.join("plain.txt"), "abc").unwrap();

        let walked = entries::walk(&root).unwrap();
        let layout = PlainLayout::of(&root, &walked);
        let mut links: Vec<_> = layout.links.keys().cloned().collect();
        links.sort();
        assert_eq!(
            links,
            [
                PathBuf::from("snapshots/c/a.bin"),
                PathBuf::from("snapshots/c/sub/shared.bin")
            ]
        );
        assert!(layout.is_linked_blob(&root.join("blobs/aa")));
        assert!(!layout.is_linked_blob(&root.join("blobs/orphan")));

        // The shared blob twice, the orphan and the plain file once.
        let names = ["models--o--m".to_owned()];
        let to = tmp.path().join("dest");
        assert_eq!(totals(tmp.path(), &to, &names).unwrap(), (15, 15));
        std::fs::create_dir_all(to.join("models--o--m/snapshots/c")).unwrap();
        std::fs::write(to.join("models--o--m/snapshots/c/a.bin"), "12345").unwrap();
        assert_eq!(totals(tmp.path(), &to, &names).unwrap(), (15, 10));
    }
}
