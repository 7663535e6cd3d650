//! Renames that survive Windows' share modes. Windows refuses to rename a
//! file over one that another process holds open (an antivirus scanning a
//! new blob, a model loaded by Python, the search indexer), where POSIX
//! simply replaces it. Those refusals pass within moments, so a rename is
//! retried a few times before it fails with [`Error::InUse`], which says
//! what to do. Elsewhere the first answer is final.

use std::path::Path;
use std::time::Duration;

use crate::error::{Error, Result};

/// Tries after the first one; the waits grow from 50 ms to 0.8 s (1.5 s in all).
const RETRIES: u32 = 5;

/// `std::fs::rename`, retried while the system says the file is in use.
pub fn rename(from: &Path, to: &Path) -> Result<()> {
    let mut attempt = 0;
    loop {
        match std::fs::rename(from, to) {
            Ok(()) => return Ok(()),
            Err(e) if in_use(&e) && attempt < RETRIES => {
                std::thread::sleep(Duration::from_millis(50 << attempt));
                attempt += 1;
            }
            Err(e) if in_use(&e) => {
                return Err(Error::InUse {
                    path: to.to_owned(),
                    source: e,
                })
            }
            Err(e) => return Err(Error::io("rename", from, e)),
        }
    }
}

/// ERROR_ACCESS_DENIED (5), ERROR_SHARING_VIOLATION (32), ERROR_LOCK_VIOLATION (33):
/// what MoveFileExW answers while another handle is open without FILE_SHARE_DELETE.
#[cfg(windows)]
fn in_use(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(5 | 32 | 33))
}

#[cfg(not(windows))]
fn in_use(_: &std::io::Error) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, "new").unwrap();
        std::fs::write(&b, "old").unwrap();
        rename(&a, &b).unwrap();
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "new");
        let err = rename(&a, &b).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Io, "{err}");
    }

    /// A file held open without FILE_SHARE_DELETE cannot be replaced on
    /// Windows: after the retries the error says so (runs under Wine).
    #[cfg(windows)]
    #[test]
    fn a_target_held_open_is_a_clear_error() {
        use std::os::windows::fs::OpenOptionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, "new").unwrap();
        std::fs::write(&b, "old").unwrap();
        let _held = std::fs::OpenOptions::new()
            .read(true)
            .share_mode(1) // FILE_SHARE_READ only
            .open(&b)
            .unwrap();
        let err = rename(&a, &b).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Busy, "{err}");
        assert!(
            err.to_string().contains("another program holds it open"),
            "{err}"
        );
    }
}
