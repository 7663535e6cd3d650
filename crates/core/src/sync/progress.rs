//! One progress for a whole `sync`: each model's latest numbers, summed.
//! Models resolve one after another, so the total grows as they do; a model
//! already whole counts with its bytes done.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use ts_rs::TS;

use super::SyncEvent;
use crate::download::DownloadEvent;
use crate::ErrorReport;

/// How often the summed progress is sent at most.
const EVERY: Duration = Duration::from_millis(250);

/// The whole set's bytes, speed and models.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
pub struct SyncProgress {
    /// Bytes on disk so far, over the models resolved yet.
    pub bytes: u64,
    /// Bytes when they are done.
    pub total: u64,
    /// Bytes per second, summed over the models downloading.
    pub speed: u64,
    /// Seconds left at that speed; `None` while nothing flows.
    pub eta_seconds: Option<u64>,
    /// Models whole so far.
    pub models_ready: usize,
    /// Models that failed so far.
    pub models_failed: usize,
    /// Models in the set.
    pub models: usize,
}

#[derive(Default)]
struct Sums {
    /// Model → (bytes, total, speed).
    each: HashMap<String, (u64, u64, u64)>,
    ready: usize,
    failed: usize,
    last_sent: Option<Instant>,
}

/// Shared by every model's sink.
#[derive(Clone)]
pub(super) struct Tracker {
    sums: Arc<Mutex<Sums>>,
    models: usize,
    sink: Arc<dyn Fn(SyncEvent) + Send + Sync>,
}

impl SyncProgress {
    pub(super) fn tracker(sink: Arc<dyn Fn(SyncEvent) + Send + Sync>, models: usize) -> Tracker {
        Tracker {
            sums: Arc::default(),
            models,
            sink,
        }
    }
}

impl Tracker {
    /// Takes one model's event into the sums, and sends them now and then.
    pub(super) fn observe(&self, event: &DownloadEvent) {
        let Ok(mut sums) = self.sums.lock() else {
            return;
        };
        match event {
            DownloadEvent::Resolved {
                repo_id,
                total_bytes,
                present_bytes,
                ..
            } => {
                sums.each
                    .insert(repo_id.clone(), (*present_bytes, *total_bytes, 0));
            }
            DownloadEvent::Progress {
                repo_id,
                bytes,
                total,
                speed,
                ..
            } => {
                sums.each.insert(repo_id.clone(), (*bytes, *total, *speed));
            }
            DownloadEvent::Done { repo_id, .. } => {
                if let Some(e) = sums.each.get_mut(repo_id) {
                    *e = (e.1, e.1, 0);
                }
            }
            _ => return,
        }
        let due = sums.last_sent.is_none_or(|t| t.elapsed() >= EVERY);
        if due {
            sums.last_sent = Some(Instant::now());
            let now = self.summed(&sums);
            drop(sums);
            (self.sink)(SyncEvent::SyncProgress(now));
        }
    }

    /// A model is whole (`asked_hub`: the hub was asked about it).
    pub(super) fn ready(&self, repo_id: &str, commit_hash: String, asked_hub: bool) {
        if let Ok(mut sums) = self.sums.lock() {
            sums.ready += 1;
        }
        (self.sink)(SyncEvent::ModelReady {
            repo_id: repo_id.to_owned(),
            commit_hash,
            asked_hub,
        });
    }

    /// A model could not be brought.
    pub(super) fn failed(&self, repo_id: &str, error: &ErrorReport) {
        if let Ok(mut sums) = self.sums.lock() {
            sums.failed += 1;
        }
        (self.sink)(SyncEvent::ModelFailed {
            repo_id: repo_id.to_owned(),
            kind: error.kind,
            message: error.message.clone(),
        });
    }

    /// Sends the sums as they are at the end.
    pub(super) fn flush(&self) {
        let Ok(sums) = self.sums.lock() else { return };
        let now = self.summed(&sums);
        drop(sums);
        (self.sink)(SyncEvent::SyncProgress(now));
    }

    fn summed(&self, sums: &Sums) -> SyncProgress {
        let (bytes, total, speed) = sums
            .each
            .values()
            .fold((0, 0, 0), |(b, t, s), e| (b + e.0, t + e.1, s + e.2));
        SyncProgress {
            bytes,
            total,
            speed,
            eta_seconds: (speed > 0).then(|| total.saturating_sub(bytes) / speed),
            models_ready: sums.ready,
            models_failed: sums.failed,
            models: self.models,
        }
    }
}
