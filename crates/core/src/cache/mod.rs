//! The Hugging Face cache on disk: repo ids, the scan and its report.

pub mod blob_hash;
pub mod delete;
mod dir_handle;
pub mod live;
pub(crate) mod paths;
pub mod prune;
pub mod repo;
mod repo_scan;
pub mod report;
pub mod safe_fs;
pub mod scan;
pub mod snapshot;
pub mod tree;
pub mod verify;

pub use repo::{RepoId, RepoType};
pub use repo_scan::RepoScan;
pub use report::{CacheReport, CachedRepo, CachedRevision, RepoState, ScanWarning};
pub use scan::{scan_cache, scan_repo};
