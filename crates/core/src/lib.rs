//! HAID Models core: everything the CLI and the desktop app do, without a UI.
//! Both are thin shells over it: they parse their input, make one call here,
//! and show the answer, so the two never disagree.
//!
//! One module per idea (DESIGN.md): [`location`] says where the cache is,
//! [`cache`] reads it (scan, delete, prune, verify), [`manifest`] says which
//! models the product needs, and [`status`] joins the two; [`download`],
//! [`watch`] and [`migrate`] change the cache or follow its changes, and
//! [`settings`] holds what the user chose in the app.
//!
//! A cache holding one model, laid out as `huggingface_hub` lays it out,
//! scanned, then joined with a manifest:
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::collections::HashSet;
//! use std::path::Path;
//!
//! use haid_models::cache::{scan_cache, RepoState};
//! use haid_models::manifest::Manifest;
//! use haid_models::status::model_list;
//!
//! let cache = tempfile::tempdir()?;
//! let repo = cache.path().join("models--acme--tiny");
//! let commit = "c".repeat(40);
//! // A small file's blob is named by its git sha1 (`git hash-object`).
//! let blob = "9e26dfeeb6e641a33dae4961196235bdb965b21b";
//! let snapshot = repo.join("snapshots").join(&commit);
//! std::fs::create_dir_all(repo.join("blobs"))?;
//! std::fs::create_dir_all(repo.join("refs"))?;
//! std::fs::create_dir_all(&snapshot)?;
//! std::fs::write(repo.join("blobs").join(blob), "{}")?;
//! std::fs::write(repo.join("refs/main"), &commit)?;
//! # #[cfg(unix)]
//! std::os::unix::fs::symlink(format!("../../blobs/{blob}"), snapshot.join("config.json"))?;
//! # #[cfg(not(unix))]
//! # std::fs::copy(repo.join("blobs").join(blob), snapshot.join("config.json"))?;
//!
//! let report = scan_cache(cache.path())?;
//! for repo in &report.repos {
//!     println!("{}: {}, {} bytes", repo.repo, repo.state.as_str(), repo.size_on_disk);
//! }
//! assert_eq!(report.repos[0].state, RepoState::Complete);
//!
//! let manifest = Manifest::parse(
//!     r#"{"embedding": [{"id": "acme/tiny", "name": "Tiny", "team": "acme"}]}"#,
//!     Path::new("models_manifest.json"),
//! )?;
//! let list = model_list(&manifest, &report, &HashSet::new());
//! assert_eq!(list.summary().to_string(), "1 of 1 models ready · 0.0 GB");
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

pub mod archive;
mod atomic_file;
mod byte_progress;
pub mod cache;
pub mod download;
pub mod env;
pub mod error;
mod error_kind;
pub mod file_set;
mod fs_retry;
pub mod location;
pub mod manifest;
pub mod migrate;
pub mod query;
pub mod serve;
pub mod settings;
pub mod status;
pub mod sync;
#[cfg(test)]
mod test_fs;
#[cfg(test)]
mod ui_types;
pub mod watch;

pub use error::{Error, ErrorKind, ErrorReport, Result};
