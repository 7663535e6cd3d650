//! Replacing a small file (a ref, a listing, the settings, a manifest) so a
//! crash leaves either the old or the new version, never half of one.
//!
//! The new version is written to `.NAME.<pid>.tmp` beside the file, then
//! renamed over it. A kill or a full disk can leave that temp behind, and
//! huggingface_hub reads every file under `refs/` as a ref: a stale
//! `refs/.main.<pid>.tmp` makes it skip the whole repo. So temps are named
//! in one way ([`temp_name`]), recognised by the scan ([`TempName::parse`]),
//! and cleaned by the next writer in the folder and by `prune`
//! ([`stale_temps`]).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::error::{Error, Result};

/// No atomic write takes this long: a temp this old is stale even when its
/// pid is running (a reused pid, or a process on another machine of an NFS
/// cache, where the pid says nothing).
const STALE_AFTER: Duration = Duration::from_secs(10 * 60);

/// Writes `bytes` to a temporary file beside `path` (its folder created if
/// needed), then renames it over `path`. Stale temps a crashed earlier writer
/// left in the folder are removed first; our own is removed when the write
/// fails (a full disk must not leave one more).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    remove_stale_temps(dir);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = dir.join(temp_name(&name));
    let written = std::fs::write(&tmp, bytes)
        .map_err(|e| Error::io("write", &tmp, e))
        .and_then(|()| crate::fs_retry::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// `.NAME.<pid>.tmp`: the temp this process writes `NAME` through.
pub fn temp_name(name: &str) -> String {
    format!(".{name}.{}.tmp", std::process::id())
}

/// A file name of the form `.NAME.<pid>.tmp` (ours, and the snapshot links
/// the downloader writes the same way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TempName<'a> {
    /// The file it was to replace.
    pub target: &'a str,
    pub pid: u32,
}

impl<'a> TempName<'a> {
    pub fn parse(name: &'a str) -> Option<Self> {
        let inner = name.strip_prefix('.')?.strip_suffix(".tmp")?;
        let (target, pid) = inner.rsplit_once('.')?;
        if target.is_empty() || pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Self {
            target,
            pid: pid.parse().ok()?,
        })
    }
}

/// A temp nobody is writing any more: its process is gone, or it is older
/// than any write takes. `false` for what is not a temp, or has vanished.
pub fn is_stale_temp(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let Some(temp) = TempName::parse(&name) else {
        return false;
    };
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return false;
    };
    if meta.is_dir() {
        return false;
    }
    let age = meta
        .modified()
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .unwrap_or_default();
    age > STALE_AFTER || (temp.pid != std::process::id() && process_is_gone(temp.pid))
}

/// The stale temps directly in `dir`.
pub fn stale_temps(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| is_stale_temp(p))
        .collect();
    out.sort();
    out
}

/// Best effort: a temp that cannot be removed now is left for the next time.
fn remove_stale_temps(dir: &Path) {
    for temp in stale_temps(dir) {
        let _ = std::fs::remove_file(temp);
    }
}

/// Whether `pid` is certainly not running. Only Linux can tell cheaply
/// (`/proc`); elsewhere the age rule alone decides.
fn process_is_gone(pid: u32) -> bool {
    let proc = Path::new("/proc");
    cfg!(target_os = "linux") && proc.join("self").exists() && !proc.join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// A pid no process has: above Linux's largest (2^22).
    const DEAD_PID: u32 = 4_194_999;

    #[test]
    fn temp_names_are_recognised_and_nothing_else() {
        assert_eq!(
            TempName::parse(".main.123.tmp"),
            Some(TempName {
                target: "main",
                pid: 123
            })
        );
        assert_eq!(
            TempName::parse(".v1.0.77.tmp").map(|t| t.target),
            Some("v1.0")
        );
        for not in [
            "main",
            ".main.tmp",
            ".main.12a.tmp",
            "..1.tmp",
            "main.1.tmp",
            ".x.1.tmpx",
        ] {
            assert_eq!(TempName::parse(not), None, "{not}");
        }
        assert!(TempName::parse(&temp_name("main")).is_some());
    }

    #[test]
    fn a_writer_removes_stale_temps_and_keeps_live_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let dead = tmp.path().join(format!(".main.{DEAD_PID}.tmp"));
        let mine = tmp.path().join(temp_name("v1"));
        let other = tmp.path().join(".notes.txt");
        for p in [&dead, &mine, &other] {
            fs::write(p, "").unwrap();
        }
        write_atomically(&tmp.path().join("main"), b"abc").unwrap();
        assert_eq!(fs::read(tmp.path().join("main")).unwrap(), b"abc");
        // Only Linux tells a dead pid (see `process_is_gone`); elsewhere the age decides.
        assert_eq!(
            dead.exists(),
            !cfg!(target_os = "linux"),
            "a dead writer's temp goes"
        );
        assert!(mine.exists(), "a live writer's (here: ours) stays");
        assert!(other.exists(), "what is not a temp is not touched");
    }

    #[test]
    fn an_old_temp_is_stale_whoever_wrote_it() {
        let tmp = tempfile::tempdir().unwrap();
        let mine = tmp.path().join(temp_name("main"));
        fs::write(&mine, "").unwrap();
        assert!(!is_stale_temp(&mine));
        let old = SystemTime::now() - STALE_AFTER - Duration::from_secs(1);
        fs::File::options()
            .write(true)
            .open(&mine)
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert!(is_stale_temp(&mine));
        assert_eq!(stale_temps(tmp.path()), [mine]);
    }

    #[test]
    fn a_failed_write_leaves_no_temp() {
        let tmp = tempfile::tempdir().unwrap();
        // The target is a folder: the rename fails after the temp is written.
        let target = tmp.path().join("main");
        fs::create_dir_all(target.join("inside")).unwrap();
        assert!(write_atomically(&target, b"abc").is_err());
        let left: Vec<_> = fs::read_dir(tmp.path()).unwrap().flatten().collect();
        assert_eq!(left.len(), 1, "only the folder: {left:?}");
    }
}
