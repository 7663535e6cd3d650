//! One migration into a cache at a time: the app's banner and
//! `haid-models migrate` (or two of either) would otherwise move the same
//! files at once, and each would report the other's moves as missing files.
//! Held with `flock` on `<cache>/.locks/haid-migration.lock` (beside the
//! journal), so a killed run releases it with its process.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

use crate::download::lock::open_lock_file;
use crate::error::{Error, Result};

/// Held until dropped.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

pub fn lock_path(cache_dir: &Path) -> PathBuf {
    cache_dir.join(".locks").join("haid-migration.lock")
}

/// Takes the lock, or says at once that another migration holds it.
pub fn acquire(cache_dir: &Path) -> Result<RunLock> {
    let path = lock_path(cache_dir);
    let file = open_lock_file(&path)?;
    match file.try_lock() {
        Ok(()) => Ok(RunLock { _file: file }),
        Err(TryLockError::WouldBlock) => Err(Error::Busy {
            message: "another migration into this cache is running (from the app or `haid-models migrate`); let it finish, then run this again to see if anything is left".into(),
        }),
        Err(TryLockError::Error(e)) => Err(Error::io("lock", &path, e)),
    }
}
