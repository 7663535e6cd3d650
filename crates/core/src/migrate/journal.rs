//! The migration's journal: what a plain folder's files were found to be
//! (path → blob name, the commit), written before the first file moves. A run
//! killed half way has moved some files out of the source; the journal still
//! knows where each went, so the next run links them and finishes.
//!
//! It lives at `<cache>/.locks/haid-migration.json`: `.locks` is the one
//! folder of the cache that both huggingface_hub's scan and ours skip, so the
//! journal is never mistaken for a repo.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Problem;
use crate::atomic_file::write_atomically;
use crate::cache::tree::TreeEntry;
use crate::error::{Error, Result};

/// A plain folder, resolved: each file's blob name, and the commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FolderRecord {
    pub repo_id: String,
    pub commit: String,
    pub local_commit: bool,
    pub checked_with_hub: bool,
    /// The commit's listing (the hub's, or ours from the files).
    pub listing: BTreeMap<String, TreeEntry>,
    /// Source-relative path → blob name, for the files that verified.
    pub verified: BTreeMap<String, String>,
    /// Files that did not verify (they stay in the source).
    #[serde(default)]
    pub problems: Vec<JournalProblem>,
    #[serde(default)]
    pub advice: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct JournalProblem {
    pub path: PathBuf,
    pub reason: String,
}

impl From<&JournalProblem> for Problem {
    fn from(p: &JournalProblem) -> Self {
        Problem {
            path: p.path.clone(),
            reason: p.reason.clone(),
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct JournalFile {
    /// Source folder → its record.
    folders: BTreeMap<PathBuf, FolderRecord>,
}

#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
    file: JournalFile,
}

impl Journal {
    pub fn path(cache_dir: &Path) -> PathBuf {
        cache_dir.join(".locks").join("haid-migration.json")
    }

    /// The journal of `cache_dir`; an unreadable one is an error, not a fresh
    /// start: it may be the only record of where moved files went.
    pub fn open(cache_dir: &Path) -> Result<Self> {
        let path = Self::path(cache_dir);
        let file = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| Error::InvalidArgument {
                what: "migration journal",
                value: path.display().to_string(),
                reason: format!("{e}; it records an interrupted migration — move it aside only if its source folders are gone"),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => JournalFile::default(),
            Err(e) => return Err(Error::io("read", &path, e)),
        };
        Ok(Self { path, file })
    }

    pub fn folder(&self, source: &Path) -> Option<&FolderRecord> {
        self.file.folders.get(source)
    }

    pub fn record(&mut self, source: &Path, record: FolderRecord) -> Result<()> {
        self.file.folders.insert(source.to_owned(), record);
        self.save()
    }

    pub fn finish(&mut self, source: &Path) -> Result<()> {
        if self.file.folders.remove(source).is_none() {
            return Ok(());
        }
        if self.file.folders.is_empty() {
            return std::fs::remove_file(&self.path).or_else(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Ok(()),
                _ => Err(Error::io("remove", &self.path, e)),
            });
        }
        self.save()
    }

    fn save(&self) -> Result<()> {
        let text = serde_json::to_vec_pretty(&self.file).map_err(|e| Error::InvalidArgument {
            what: "migration journal",
            value: self.path.display().to_string(),
            reason: e.to_string(),
        })?;
        write_atomically(&self.path, &text)
    }
}
