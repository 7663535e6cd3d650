//! Progress of a model download: events for the CLI's bars, its NDJSON and
//! the app, with speed and ETA, at most 10 per second.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use ts_rs::TS;

/// At most one `progress` event per this interval.
const EMIT_EVERY: Duration = Duration::from_millis(100);
/// Speed is measured over this window.
const SPEED_WINDOW: Duration = Duration::from_secs(5);

/// A file's share of a `progress` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct FileStatus {
    /// The file's path in the repo.
    pub path: String,
    /// Bytes of it on disk so far.
    pub bytes: u64,
    /// Its size.
    pub total: u64,
}

/// What a download reports. Serialised as the NDJSON lines of `download --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum DownloadEvent {
    /// The commit and what is left to fetch are known.
    Resolved {
        /// The model (`org/name`).
        repo_id: String,
        /// The commit the revision resolved to.
        commit_hash: String,
        /// Files the download's file set selects.
        total_files: usize,
        /// Their size together.
        total_bytes: u64,
        /// Already on disk (finished blobs and partial files to resume).
        present_bytes: u64,
    },
    /// Bytes so far, for the model and each file in flight.
    Progress {
        /// The model.
        repo_id: String,
        /// Bytes on disk so far, resumed ones included.
        bytes: u64,
        /// Bytes when done.
        total: u64,
        /// Bytes per second over the last few seconds.
        speed: u64,
        /// Seconds left at the current speed; `None` while nothing flows.
        eta_seconds: Option<u64>,
        /// The files in flight.
        files: Vec<FileStatus>,
    },
    /// Another program (or download) holds the file's lock; we wait for it.
    Waiting {
        /// The model.
        repo_id: String,
        /// The file waited for.
        path: String,
        /// Who holds it, as far as we know.
        reason: String,
    },
    /// A file's transfer failed and is tried again after a pause.
    Retrying {
        /// The model.
        repo_id: String,
        /// The file.
        path: String,
        /// Failures in a row without progress so far (1 after the first).
        attempt: u32,
        /// The pause before it, in milliseconds.
        delay_ms: u64,
        /// What went wrong.
        message: String,
    },
    /// A file is verified and in its place.
    FileDone {
        /// The model.
        repo_id: String,
        /// The file.
        path: String,
        /// Its size.
        size: u64,
    },
    /// The model is complete: every selected file verified and linked.
    Done {
        /// The model.
        repo_id: String,
        /// The commit it is at.
        commit_hash: String,
        /// The folder to load it from.
        snapshot_path: PathBuf,
        /// What the repo takes on disk now.
        size_on_disk: u64,
    },
}

/// Where events go. Called from download tasks: keep it quick.
pub type EventSink = Arc<dyn Fn(DownloadEvent) + Send + Sync>;

/// A sink that drops everything.
pub fn no_events() -> EventSink {
    Arc::new(|_| {})
}

#[derive(Debug, Default)]
struct State {
    total: u64,
    files: BTreeMap<String, FileStatus>,
    /// Bytes held by files that are done (and left `files`).
    finished: u64,
    /// Bytes received over the network (not counting resumed bytes).
    received: u64,
    samples: VecDeque<(Instant, u64)>,
    last_emit: Option<Instant>,
}

/// The progress of one model.
pub struct ModelProgress {
    repo_id: String,
    sink: EventSink,
    state: Mutex<State>,
}

impl std::fmt::Debug for ModelProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelProgress")
            .field("repo_id", &self.repo_id)
            .finish()
    }
}

impl ModelProgress {
    /// Progress of a model of `total` bytes, `already_done` of them on disk before the start.
    pub fn new(repo_id: String, total: u64, already_done: u64, sink: EventSink) -> Arc<Self> {
        let state = State {
            total,
            finished: already_done,
            ..State::default()
        };
        Arc::new(Self {
            repo_id,
            sink,
            state: Mutex::new(state),
        })
    }

    /// Sends an event as it is, outside the rate limit.
    pub fn emit(&self, event: DownloadEvent) {
        (self.sink)(event);
    }

    /// The model (`org/name`).
    pub fn repo_id(&self) -> &str {
        &self.repo_id
    }

    /// The progress of one of its files, `total` bytes long.
    pub fn file(self: &Arc<Self>, path: &str, total: u64) -> FileProgress {
        FileProgress {
            model: self.clone(),
            path: path.to_owned(),
            total,
        }
    }

    fn with_state(&self, force: bool, f: impl FnOnce(&mut State)) {
        let event = {
            let Ok(mut st) = self.state.lock() else {
                return;
            };
            f(&mut st);
            let now = Instant::now();
            let due = st
                .last_emit
                .is_none_or(|t| now.duration_since(t) >= EMIT_EVERY);
            if !(force || due) {
                return;
            }
            st.last_emit = Some(now);
            self.snapshot(&mut st, now)
        };
        (self.sink)(event);
    }

    fn snapshot(&self, st: &mut State, now: Instant) -> DownloadEvent {
        st.samples.push_back((now, st.received));
        while st.samples.len() > 2 && now.duration_since(st.samples[0].0) > SPEED_WINDOW {
            st.samples.pop_front();
        }
        let (t0, b0) = st.samples[0];
        let secs = now.duration_since(t0).as_secs_f64();
        let speed = if secs > 0.2 {
            ((st.received - b0) as f64 / secs) as u64
        } else {
            0
        };
        let bytes = st.finished + st.files.values().map(|f| f.bytes).sum::<u64>();
        let eta_seconds = (speed > 0).then(|| st.total.saturating_sub(bytes) / speed);
        DownloadEvent::Progress {
            repo_id: self.repo_id.clone(),
            bytes,
            total: st.total,
            speed,
            eta_seconds,
            files: st.files.values().cloned().collect(),
        }
    }

    /// A final `progress` event, whatever the rate limit.
    pub fn flush(&self) {
        self.with_state(true, |_| {});
    }
}

/// The progress of one file; cheap to update from the transfer loop.
#[derive(Debug)]
pub struct FileProgress {
    model: Arc<ModelProgress>,
    path: String,
    total: u64,
}

impl FileProgress {
    fn update(&self, force: bool, f: impl FnOnce(&mut FileStatus, &mut u64)) {
        let (path, total) = (self.path.clone(), self.total);
        self.model.with_state(force, |st| {
            let file = st.files.entry(path.clone()).or_insert(FileStatus {
                path,
                bytes: 0,
                total,
            });
            f(file, &mut st.received);
        });
    }

    /// Bytes already on disk when the transfer starts (a resume).
    pub fn present(&self, bytes: u64) {
        self.update(false, |f, _| f.bytes = bytes);
    }

    /// Bytes that arrived from the network.
    pub fn add(&self, n: u64) {
        self.update(false, |f, received| {
            f.bytes += n;
            *received += n;
        });
    }

    /// The file starts over (bad checksum, or a server that ignored `Range`).
    pub fn reset(&self) {
        self.update(true, |f, _| f.bytes = 0);
    }

    /// A failed transfer is retried after `delay` (a `retrying` event).
    pub fn retrying(&self, message: &str, attempt: u32, delay: Duration) {
        self.model.emit(DownloadEvent::Retrying {
            repo_id: self.model.repo_id.clone(),
            path: self.path.clone(),
            attempt,
            delay_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            message: message.to_owned(),
        });
    }

    /// The file's lock is held elsewhere; the download waits (a `waiting` event).
    pub fn waiting(&self, reason: &str) {
        self.model.emit(DownloadEvent::Waiting {
            repo_id: self.model.repo_id.clone(),
            path: self.path.clone(),
            reason: reason.to_owned(),
        });
    }

    /// The file is in place: its bytes move to the finished total.
    pub fn done(&self) {
        let (path, total) = (self.path.clone(), self.total);
        self.model.with_state(true, |st| {
            st.files.remove(&path);
            st.finished += total;
        });
        self.model.emit(DownloadEvent::FileDone {
            repo_id: self.model.repo_id.clone(),
            path: self.path.clone(),
            size: self.total,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect() -> (EventSink, Arc<Mutex<Vec<DownloadEvent>>>) {
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink_events = events.clone();
        let sink: EventSink = Arc::new(move |e| sink_events.lock().unwrap().push(e));
        (sink, events)
    }

    #[test]
    fn progress_is_rate_limited_and_totals_add_up() {
        let (sink, events) = collect();
        let model = ModelProgress::new("o/m".into(), 1000, 100, sink);
        let file = model.file("w.bin", 900);
        for _ in 0..900 {
            file.add(1);
        }
        let progress_events = events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| matches!(e, DownloadEvent::Progress { .. }))
            .count();
        assert!(
            progress_events <= 2,
            "900 updates in a moment give at most a couple of events, got {progress_events}"
        );
        file.done();
        let all = events.lock().unwrap();
        let last_progress = all
            .iter()
            .rev()
            .find_map(|e| match e {
                DownloadEvent::Progress {
                    bytes,
                    total,
                    files,
                    ..
                } => Some((*bytes, *total, files.len())),
                _ => None,
            })
            .unwrap();
        assert_eq!(last_progress, (1000, 1000, 0));
        assert!(matches!(
            all.last(),
            Some(DownloadEvent::FileDone { size: 900, .. })
        ));
    }

    #[test]
    fn resumed_bytes_count_toward_progress_not_speed() {
        let (sink, events) = collect();
        let model = ModelProgress::new("o/m".into(), 100, 0, sink);
        let file = model.file("a", 100);
        file.present(60);
        model.flush();
        let all = events.lock().unwrap();
        match all.last().unwrap() {
            DownloadEvent::Progress { bytes, speed, .. } => assert_eq!((*bytes, *speed), (60, 0)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn events_serialise_with_an_event_tag() {
        let e = DownloadEvent::FileDone {
            repo_id: "o/m".into(),
            path: "a".into(),
            size: 3,
        };
        let v = serde_json::to_value(e).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"event": "file_done", "repo_id": "o/m", "path": "a", "size": 3})
        );
    }
}
