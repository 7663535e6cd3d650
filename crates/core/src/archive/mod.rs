//! Models that travel without the internet: `export` writes a tar of the
//! standard cache layout (`models--org--name/{blobs,snapshots,refs,trees}`,
//! snapshots as relative links), so `tar -xf FILE -C $HF_HOME/hub` works
//! with no tool of ours; `import` streams one into the cache, checking each
//! blob against its name and refusing every entry outside the layout.
//!
//! The archive's first entry is a small index (`.locks/haid-export.json`):
//! the models, and every file's size and sha256. It lives under `.locks`,
//! the one folder both huggingface_hub's scan and ours skip, so a plain
//! `tar -x` leaves nothing a scan would warn about.
//!
//! Why the `tar` crate: it is the well-kept reader and writer of the format
//! (GNU long names, PAX), and it hands us each entry as a stream, so the
//! checks here (layout, links, hashes) run before a byte is committed.

mod export;
mod import;
mod layout;
mod placing;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

pub use export::{export, plan_export, ExportPlan, ExportedModel};
pub use import::{import, import_file, ImportOptions, ImportReport, Refused};

/// The index's place in the archive.
pub const INDEX_PATH: &str = ".locks/haid-export.json";

/// The most an index may hold: it lists files, it holds none.
const INDEX_LIMIT: u64 = 64 << 20;

/// The index: what the archive holds, written first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    /// `haid-models-export`, so another JSON file is not mistaken for one.
    pub format: String,
    /// 1.
    pub version: u32,
    /// Each model: its id, type and commit.
    pub models: Vec<IndexModel>,
    /// Every regular file, by its path in the archive.
    pub files: Vec<IndexFile>,
}

/// One model of an archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexModel {
    /// `org/name`.
    pub repo_id: String,
    /// `model`, `dataset` or `space`.
    pub repo_type: String,
    /// The commit exported.
    pub commit: String,
}

/// One file of an archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexFile {
    /// Its path in the archive.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// The sha256 of its content, hex.
    pub sha256: String,
}

/// What a running export or import says, in order. Serialised with an
/// `event` tag, as the CLI's NDJSON and the app's events carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ArchiveEvent {
    /// A model's files are being written (export) or read (import).
    Model {
        /// `org/name`.
        repo_id: String,
    },
    /// Bytes of files done so far.
    Progress {
        /// Done.
        bytes_done: u64,
        /// Of (0 when unknown: an archive with no index).
        bytes_total: u64,
    },
}

/// Calls with each [`ArchiveEvent`].
pub type ArchiveSink<'a> = &'a (dyn Fn(&ArchiveEvent) + Send + Sync);

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ExportReport {
    /// The archive.
    pub file: PathBuf,
    /// The models in it, each at its commit.
    pub models: Vec<ExportedModel>,
    /// Regular files in it.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// The archive's own size.
    pub archive_bytes: u64,
}

/// The progress of an export or an import, as [`ArchiveEvent::Progress`].
type Progress<'a> = crate::byte_progress::ByteProgress<Box<dyn FnMut(u64, u64) + 'a>>;

fn progress<'a>(total: u64, sink: ArchiveSink<'a>) -> Progress<'a> {
    Progress::new(
        total,
        Box::new(move |done, total| {
            sink(&ArchiveEvent::Progress {
                bytes_done: done,
                bytes_total: total.max(done),
            })
        }),
    )
}
