//! Is the cache on a network file system, where inotify sees nothing that
//! other machines write? Then the watcher polls.

use std::path::Path;

/// The nearest folder of `path` that exists.
pub fn nearest_existing(path: &Path) -> Option<&Path> {
    path.ancestors().find(|p| p.is_dir())
}

/// Whether `path` (or its nearest existing folder) is on NFS, SMB/CIFS or
/// FUSE (sshfs), where file events from other machines never come.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn is_network_fs(path: &Path) -> bool {
    // statfs f_type magic numbers (linux/magic.h).
    const NFS: i64 = 0x6969;
    const SMB: i64 = 0x517b;
    const CIFS: i64 = 0xff53_4d42;
    const SMB2: i64 = 0xfe53_4d42;
    const FUSE: i64 = 0x6573_5546; // sshfs and other FUSE file systems
    let Some(dir) = nearest_existing(path) else {
        return false;
    };
    match rustix::fs::statfs(dir) {
        Ok(st) => {
            // f_type's width differs between architectures.
            #[allow(clippy::useless_conversion)]
            let kind = i64::from(st.f_type);
            [NFS, SMB, CIFS, SMB2, FUSE].contains(&kind)
        }
        Err(_) => false,
    }
}

/// Whether `path` is on a network file system: not known on this system, so
/// no (`HAID_WATCH_POLL=1` forces polling).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn is_network_fs(_path: &Path) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_disks_are_not_network_file_systems() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!is_network_fs(dir.path()));
        assert!(
            !is_network_fs(&dir.path().join("not/yet/there")),
            "judged by the nearest existing folder"
        );
        assert_eq!(nearest_existing(&dir.path().join("a/b")), Some(dir.path()));
    }
}
