//! Blob locks shared with huggingface_hub: `.locks/models--org--name/<etag>.lock`,
//! held with `flock` as Python's `filelock` does, so Python and we never write
//! the same blob at once. A held lock also tells `list` a download is running.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::cache::{BlobName, RepoId};
use crate::error::{Error, Result};

/// How often a held lock is tried again. No deadline: a download in another
/// program may take hours, and giving up after 10 s (as some clients do)
/// would only start a second copy.
const POLL: Duration = Duration::from_millis(200);

/// Held until dropped (closing the file releases the lock).
#[derive(Debug)]
pub struct BlobLock {
    _file: File,
}

/// `.locks/models--org--name/`: where a repo's blob locks are, as huggingface_hub puts them.
pub fn lock_dir(cache_dir: &Path, repo: &RepoId) -> PathBuf {
    cache_dir.join(".locks").join(repo.folder_name())
}

/// `.locks/models--org--name/<etag>.lock`, the file huggingface_hub locks too.
pub fn lock_path(cache_dir: &Path, repo: &RepoId, etag: &BlobName) -> PathBuf {
    lock_dir(cache_dir, repo).join(etag.lock_name())
}

/// Waits for the lock of `etag`; `on_wait` is called once if it is held.
pub async fn acquire(
    cache_dir: &Path,
    repo: &RepoId,
    etag: &BlobName,
    cancel: &CancellationToken,
    on_wait: impl FnOnce(),
) -> Result<BlobLock> {
    let path = lock_path(cache_dir, repo, etag);
    let file = open_lock_file(&path)?;
    let mut on_wait = Some(on_wait);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(BlobLock { _file: file }),
            Err(TryLockError::WouldBlock) => {
                if let Some(f) = on_wait.take() {
                    f();
                }
            }
            Err(TryLockError::Error(e)) => return Err(Error::io("lock", &path, e)),
        }
        tokio::select! {
            () = cancel.cancelled() => return Err(Error::Cancelled { repo: repo.id() }),
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

/// Opens a lock file, creating it and its folder, without locking it yet.
/// Shared with the migration's run lock.
pub(crate) fn open_lock_file(path: &Path) -> Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    }
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| Error::io("open lock", path, e))
}

/// Whether any blob lock of `repo` is held right now, by us or another program.
pub fn is_downloading(cache_dir: &Path, repo: &RepoId) -> bool {
    let Ok(entries) = std::fs::read_dir(lock_dir(cache_dir, repo)) else {
        return false;
    };
    entries.flatten().any(|e| {
        OpenOptions::new()
            .read(true)
            .open(e.path())
            .is_ok_and(|f| matches!(f.try_lock(), Err(TryLockError::WouldBlock)))
    })
}

/// Every repo with a held blob lock: downloads running anywhere on this machine.
pub fn downloading_repos(cache_dir: &Path) -> std::collections::HashSet<RepoId> {
    let Ok(entries) = std::fs::read_dir(cache_dir.join(".locks")) else {
        return Default::default();
    };
    entries
        .flatten()
        .filter_map(|e| RepoId::from_folder_name(&e.file_name().to_string_lossy()).ok())
        .filter(|repo| is_downloading(cache_dir, repo))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_held_lock_makes_the_second_wait_and_shows_as_downloading() {
        let cache = tempfile::tempdir().unwrap();
        let repo = RepoId::model("o/m").unwrap();
        let cancel = CancellationToken::new();
        let abc = BlobName::parse(&"abc0".repeat(10)).unwrap();
        assert!(!is_downloading(cache.path(), &repo));
        let first = acquire(cache.path(), &repo, &abc, &cancel, || {})
            .await
            .unwrap();
        assert!(cache
            .path()
            .join(format!(".locks/models--o--m/{abc}.lock"))
            .is_file());
        assert!(is_downloading(cache.path(), &repo));
        assert!(downloading_repos(cache.path()).contains(&repo));

        let waited = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = waited.clone();
        let (root, r, c) = (cache.path().to_owned(), repo.clone(), cancel.clone());
        let second = tokio::spawn(async move {
            acquire(&root, &r, &abc, &c, move || {
                flag.store(true, std::sync::atomic::Ordering::SeqCst)
            })
            .await
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !second.is_finished(),
            "the second waits while the first holds the lock"
        );
        assert!(waited.load(std::sync::atomic::Ordering::SeqCst));
        drop(first);
        second.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn waiting_ends_on_cancel() {
        let cache = tempfile::tempdir().unwrap();
        let repo = RepoId::model("o/m").unwrap();
        let cancel = CancellationToken::new();
        let x = BlobName::parse(&"f".repeat(40)).unwrap();
        let _held = acquire(cache.path(), &repo, &x, &cancel, || {})
            .await
            .unwrap();
        let c = cancel.clone();
        let root = cache.path().to_owned();
        let waiter = tokio::spawn(async move {
            acquire(&root, &RepoId::model("o/m").unwrap(), &x, &c, || {}).await
        });
        cancel.cancel();
        assert_eq!(
            waiter.await.unwrap().unwrap_err().kind(),
            crate::ErrorKind::Cancelled
        );
    }
}
