//! The Hugging Face cache on disk: repo ids, the scan and its report.

pub mod blob_hash;
pub mod budget;
pub mod delete;
mod dir_handle;
pub(crate) mod hashing_copy;
pub mod live;
pub mod names;
pub(crate) mod paths;
pub mod prune;
pub mod readiness;
mod refs_scan;
pub mod relocate;
pub mod repo;
mod repo_scan;
pub mod report;
pub mod safe_fs;
pub mod scan;
pub mod shared_store;
pub mod snapshot;
pub mod space;
pub mod tree;
#[cfg(test)]
mod verdict_tests;
pub mod verify;

pub use names::{BlobName, CommitHash, RefName, RepoFilePath, XetHash};
pub use readiness::{readiness, Readiness, Ready};
pub use repo::{RepoFields, RepoId, RepoType};
pub use repo_scan::RepoScan;
pub use report::{
    BrokenRef, CacheReport, CachedRepo, CachedRevision, RepoState, ScanWarning, TrashLeft,
};
pub use scan::{scan_cache, scan_repo};
