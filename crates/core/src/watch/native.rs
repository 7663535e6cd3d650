//! File events from the OS through notify-debouncer-full. The cache is
//! watched recursively; while it does not exist, its nearest existing parent
//! is watched (not recursively) until it appears.

use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::time::Duration;

use notify_debouncer_full::notify::{EventKind, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{new_debouncer, DebounceEventResult, Debouncer, RecommendedCache};

use super::fs_kind::nearest_existing;
use super::Msg;

/// Events are gathered for this long before the engine sees them: enough to
/// merge a burst, well inside the 300 ms budget.
const DEBOUNCE: Duration = Duration::from_millis(80);

pub(crate) struct Native {
    debouncer: Debouncer<RecommendedWatcher, RecommendedCache>,
    root: PathBuf,
    /// What is watched now, and whether it is the cache itself.
    watched: Option<(PathBuf, bool)>,
}

impl Native {
    pub fn start(
        root: PathBuf,
        feeder: Sender<Msg>,
    ) -> notify_debouncer_full::notify::Result<Self> {
        let handler = move |result: DebounceEventResult| {
            let msg = match result {
                Ok(events) if events.iter().any(|e| e.need_rescan()) => {
                    Msg::Rescan("the system dropped file events (its queue overflowed)".into())
                }
                // Opening and reading (our own scans do both) changes nothing:
                // reacting to it would rescan forever.
                Ok(events) => Msg::Paths(
                    events
                        .into_iter()
                        .filter(|e| !matches!(e.event.kind, EventKind::Access(_)))
                        .flat_map(|e| e.event.paths)
                        .collect(),
                ),
                Err(errors) => Msg::Rescan(format!(
                    "file events failed: {}",
                    errors
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                )),
            };
            let _ = feeder.send(msg);
        };
        let debouncer = new_debouncer(DEBOUNCE, Some(Duration::from_millis(20)), handler)?;
        let mut native = Self {
            debouncer,
            root,
            watched: None,
        };
        native.reconfigure()?;
        Ok(native)
    }

    /// While waiting for the cache to appear, any event may be it; and an
    /// event on the cache folder itself may be its removal.
    pub fn needs_reconfigure(&self, paths: &[PathBuf]) -> bool {
        match &self.watched {
            Some((_, true)) => paths.iter().any(|p| p == &self.root) && !self.root.is_dir(),
            _ => true,
        }
    }

    /// Watches the cache if it exists, else its nearest existing parent.
    pub fn reconfigure(&mut self) -> notify_debouncer_full::notify::Result<()> {
        let target: (PathBuf, bool) = if self.root.is_dir() {
            (self.root.clone(), true)
        } else {
            let parent = nearest_existing(&self.root)
                .unwrap_or(Path::new("/"))
                .to_owned();
            (parent, false)
        };
        if self.watched.as_ref() == Some(&target) {
            return Ok(());
        }
        if let Some((old, _)) = self.watched.take() {
            let _ = self.debouncer.unwatch(&old);
        }
        let mode = if target.1 {
            RecursiveMode::Recursive
        } else {
            RecursiveMode::NonRecursive
        };
        self.debouncer.watch(&target.0, mode)?;
        self.watched = Some(target);
        Ok(())
    }
}
