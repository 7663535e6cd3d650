//! The Hugging Face cache on disk: repo ids, the scan and its report.

pub mod blob_hash;
mod dir_handle;
mod paths;
pub mod repo;
mod repo_scan;
pub mod report;
pub mod scan;
pub mod tree;

pub use repo::{RepoId, RepoType};
pub use repo_scan::RepoScan;
pub use report::{CacheReport, CachedRepo, CachedRevision, RepoState, ScanWarning};
pub use scan::{scan_cache, scan_repo};
