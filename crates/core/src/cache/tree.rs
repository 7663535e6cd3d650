//! `trees/<commit>.json`: the file listing of a commit, as huggingface_hub 2.x
//! writes it. With it, a snapshot that lacks files is known to be partial.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::report::ScanWarning;

/// The only format version we (and huggingface_hub 2.x) read and write.
pub const TREE_FORMAT_VERSION: u32 = 1;

/// One file of a listing: the fields of the hub's `/tree` endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeEntry {
    /// The file's size in bytes.
    pub size: u64,
    /// The git blob sha1: a small file's etag.
    pub blob_id: String,
    /// The content's sha256 for an LFS file: its etag then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lfs_sha256: Option<String>,
    /// The LFS object's size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lfs_size: Option<u64>,
    /// The Xet storage hash, kept as the hub sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xet_hash: Option<String>,
}

impl TreeEntry {
    /// The name its blob has in the cache: the LFS sha256, else the git sha1.
    pub fn etag(&self) -> &str {
        self.lfs_sha256.as_deref().unwrap_or(&self.blob_id)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct TreeFile {
    format_version: u32,
    files: BTreeMap<String, TreeEntry>,
}

/// The paths a commit holds, with their sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeListing {
    /// Repo path → size in bytes.
    pub files: BTreeMap<String, u64>,
}

impl TreeListing {
    /// `trees/` of a repo folder.
    pub fn dir(repo_path: &Path) -> PathBuf {
        repo_path.join("trees")
    }

    /// `trees/<commit>.json` in that folder.
    pub fn path(trees_dir: &Path, commit: &str) -> PathBuf {
        trees_dir.join(format!("{commit}.json"))
    }

    /// `None` when there is no listing or it is of another format version
    /// (as huggingface_hub, we then know nothing); a broken file adds a warning.
    pub fn read(trees_dir: &Path, commit: &str, warnings: &mut Vec<ScanWarning>) -> Option<Self> {
        let path = Self::path(trees_dir, commit);
        let text = std::fs::read_to_string(&path).ok()?;
        match serde_json::from_str::<TreeFile>(&text) {
            Ok(tree) if tree.format_version == TREE_FORMAT_VERSION => Some(Self {
                files: tree
                    .files
                    .into_iter()
                    .map(|(path, e)| (path, e.size))
                    .collect(),
            }),
            Ok(_) => None,
            Err(e) => {
                warnings.push(ScanWarning {
                    path,
                    message: format!("tree listing is not valid ({e}); ignored"),
                });
                None
            }
        }
    }

    /// Every file of a listing with its entry; `None` when there is none we can read.
    pub fn entries(trees_dir: &Path, commit: &str) -> Option<BTreeMap<String, TreeEntry>> {
        let text = std::fs::read_to_string(Self::path(trees_dir, commit)).ok()?;
        let tree: TreeFile = serde_json::from_str(&text).ok()?;
        (tree.format_version == TREE_FORMAT_VERSION).then_some(tree.files)
    }

    /// The blob names (etags) a listing names: the LFS sha256, else the git sha1.
    pub fn etags(trees_dir: &Path, commit: &str) -> Option<Vec<String>> {
        let text = std::fs::read_to_string(Self::path(trees_dir, commit)).ok()?;
        let tree: TreeFile = serde_json::from_str(&text).ok()?;
        Some(
            tree.files
                .into_values()
                .map(|e| e.lfs_sha256.unwrap_or(e.blob_id))
                .collect(),
        )
    }

    /// Writes a listing in huggingface_hub's format (sorted, indent 1).
    pub fn write(
        trees_dir: &Path,
        commit: &str,
        files: BTreeMap<String, TreeEntry>,
    ) -> crate::Result<()> {
        let body = TreeFile {
            format_version: TREE_FORMAT_VERSION,
            files,
        };
        let mut text = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b" ");
        let mut ser = serde_json::Serializer::with_formatter(&mut text, fmt);
        let path = Self::path(trees_dir, commit);
        body.serialize(&mut ser)
            .map_err(|e| crate::Error::io("write", &path, std::io::Error::other(e)))?;
        crate::atomic_file::write_atomically(&path, &text)
    }
}
