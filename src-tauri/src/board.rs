//! What the tray shows of downloads: each running one with its percent, and
//! those "Pause all" stopped, for "Resume all". The downloads write it, the
//! tray reads it; a change is told to whoever listens (the tray, once it
//! exists), so the downloads need not know the tray.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A running download's percent is told at most this often (the tray menu
/// is rebuilt for each); a start, an end or a pause is told at once.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

type Listener = Box<dyn Fn() + Send + Sync>;

/// The downloads as the tray lists them. Managed by the app as state.
#[derive(Default)]
pub struct Board {
    inner: Mutex<Inner>,
    listener: OnceLock<Listener>,
}

#[derive(Debug, Default)]
struct Inner {
    /// repo id → percent done.
    running: BTreeMap<String, u8>,
    /// Paused from the tray, to resume from the tray.
    paused: Vec<String>,
    /// Models whose branch moved upstream (the last update check).
    updates: usize,
    last_told: Option<Instant>,
}

impl std::fmt::Debug for Board {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Board")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl Board {
    /// Who is told of changes (the tray). Set once; later calls are ignored.
    pub fn listen(&self, listener: impl Fn() + Send + Sync + 'static) {
        let _ = self.listener.set(Box::new(listener));
    }

    /// A download's progress; told at most once per [`PROGRESS_EVERY`].
    pub fn progress(&self, id: &str, bytes: u64, total: u64) {
        let percent = bytes
            .saturating_mul(100)
            .checked_div(total)
            .map_or(0, |p| p.min(100) as u8);
        let due = {
            let mut inner = self.lock();
            inner.running.insert(id.to_owned(), percent);
            let due = inner
                .last_told
                .is_none_or(|t| t.elapsed() >= PROGRESS_EVERY);
            if due {
                inner.last_told = Some(Instant::now());
            }
            due
        };
        if due {
            self.tell();
        }
    }

    /// A download ended (done, failed or cancelled).
    pub fn finished(&self, id: &str) {
        self.lock().running.remove(id);
        self.tell();
    }

    /// Remembers downloads "Pause all" stopped.
    pub fn paused(&self, ids: impl IntoIterator<Item = String>) {
        self.lock().paused.extend(ids);
        self.tell();
    }

    /// The paused downloads, forgotten here: they are being resumed.
    pub fn take_paused(&self) -> Vec<String> {
        std::mem::take(&mut self.lock().paused)
    }

    /// How many models the last update check found moved upstream.
    pub fn set_updates(&self, count: usize) {
        self.lock().updates = count;
        self.tell();
    }

    /// What the last update check found.
    pub fn updates(&self) -> usize {
        self.lock().updates
    }

    /// The running downloads with their percent, and how many are paused.
    pub fn snapshot(&self) -> (BTreeMap<String, u8>, usize) {
        let inner = self.lock();
        (inner.running.clone(), inner.paused.len())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic elsewhere while holding it leaves plain data: still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn tell(&self) {
        if let Some(listener) = self.listener.get() {
            listener();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    #[test]
    fn progress_is_told_at_most_once_a_second_and_ends_at_once() {
        let board = Board::default();
        let told = Arc::new(AtomicUsize::new(0));
        let count = told.clone();
        board.listen(move || {
            count.fetch_add(1, Ordering::SeqCst);
        });
        board.progress("a/b", 10, 100);
        board.progress("a/b", 50, 100);
        assert_eq!(told.load(Ordering::SeqCst), 1, "the second is too soon");
        assert_eq!(board.snapshot().0.get("a/b"), Some(&50));
        board.finished("a/b");
        assert_eq!(told.load(Ordering::SeqCst), 2);
        assert!(board.snapshot().0.is_empty());
        board.paused(["a/b".to_owned(), "c/d".to_owned()]);
        assert_eq!(board.snapshot().1, 2);
        assert_eq!(board.take_paused(), ["a/b", "c/d"]);
        assert_eq!(board.snapshot().1, 0);
        board.set_updates(2);
        assert_eq!((board.updates(), told.load(Ordering::SeqCst)), (2, 4));
    }

    #[test]
    fn an_empty_download_is_at_zero_percent() {
        let board = Board::default();
        board.progress("a/b", 0, 0);
        board.progress("c/d", 7, 5);
        let (running, _) = board.snapshot();
        assert_eq!(running.get("a/b"), Some(&0));
        assert_eq!(running.get("c/d"), Some(&100));
    }
}
