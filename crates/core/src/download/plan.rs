//! What a download has to do before it starts: the bytes of the selected
//! files that are there, partly there and still to fetch, and whether the
//! file system has room for the last.

use std::path::Path;

use super::remote::RemoteFile;
use super::{blob_is_there, parallel};
use crate::error::{Error, Result};

/// Bytes of the selected files: total, finished, partially there, to fetch.
pub(super) struct Plan {
    /// Every selected file.
    pub total: u64,
    /// Blobs (or, without symlinks, snapshot files) in place.
    pub finished: u64,
    /// Partial downloads to resume.
    pub partial: u64,
    /// What the disk must still take.
    pub to_fetch: u64,
}

impl Plan {
    /// `in_store`: files the shared store will likely give (no space needed).
    pub fn of(
        blobs_dir: &Path,
        files: &[&RemoteFile],
        placed: impl Fn(&RemoteFile) -> bool,
        in_store: impl Fn(&RemoteFile) -> bool,
    ) -> Self {
        let mut plan = Plan {
            total: 0,
            finished: 0,
            partial: 0,
            to_fetch: 0,
        };
        for f in files {
            plan.total += f.size;
            if blob_is_there(&blobs_dir.join(f.etag().as_str()), f.size) || placed(f) {
                plan.finished += f.size;
                continue;
            }
            let serial = std::fs::metadata(blobs_dir.join(f.etag().incomplete_name()))
                .map_or(0, |m| m.len())
                .min(f.size);
            let part = serial.max(parallel::present(blobs_dir, f.etag(), f.size));
            plan.partial += part;
            if !in_store(f) {
                plan.to_fetch += f.size - part;
            }
        }
        plan
    }
}

/// Free bytes (what a user may still fill) on the file system that holds
/// `dir`, or will hold it: a cache that does not exist yet is on the file
/// system of its nearest existing folder. `None` when the system cannot tell.
pub fn free_space(dir: &Path) -> Option<u64> {
    let existing = dir.ancestors().find(|d| d.is_dir())?;
    fs4::available_space(existing).ok()
}

/// Refuses to start what cannot finish: the bytes still to fetch must fit.
pub(super) fn check_space(cache_dir: &Path, needed: u64) -> Result<()> {
    let Some(available) = free_space(cache_dir) else {
        return Ok(()); // Unknown (exotic file system): the write will tell.
    };
    if needed > available {
        return Err(Error::DiskFull {
            dir: cache_dir.to_owned(),
            needed,
            available,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_refused_before_starting() {
        let dir = tempfile::tempdir().unwrap();
        let err = check_space(dir.path(), u64::MAX).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::DiskFull);
        assert!(err.to_string().contains("free up space"), "{err}");
        check_space(dir.path(), 1).unwrap();
    }

    #[test]
    fn a_file_the_store_gives_needs_no_space_but_is_still_to_come() {
        let dir = tempfile::tempdir().unwrap();
        let file = |path: &str, size| RemoteFile {
            path: crate::cache::RepoFilePath::parse(path).unwrap(),
            size,
            blob_id: crate::cache::BlobName::parse(&"a".repeat(40)).unwrap(),
            lfs_sha256: Some(crate::cache::BlobName::parse(&path.repeat(64)).unwrap()),
            xet_hash: None,
        };
        let (a, b) = (file("a", 100), file("b", 30));
        let plan = Plan::of(dir.path(), &[&a, &b], |_| false, |f| f.size == 100);
        assert_eq!((plan.total, plan.finished, plan.to_fetch), (130, 0, 30));
    }

    #[test]
    fn free_space_of_a_cache_not_made_yet_is_its_parents() {
        let dir = tempfile::tempdir().unwrap();
        let here = free_space(dir.path()).unwrap();
        assert!(here > 0);
        let later = free_space(&dir.path().join("not/made/yet/hub")).unwrap();
        // The same file system, a moment later: about the same.
        assert!(later.abs_diff(here) < 1 << 30, "{here} vs {later}");
    }
}
