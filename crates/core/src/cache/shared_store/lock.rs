//! The lock of one payload, `<hash>.lock`: the same file huggingface_hub
//! locks (`filelock`, `flock` on Unix), so publishing, adding a reference and
//! collecting a payload never overlap between Python and us.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

use super::SharedStore;
use crate::cache::names::XetHash;

/// Held until dropped (closing the file lets the lock go).
#[derive(Debug)]
pub struct PayloadLock {
    _file: File,
}

impl SharedStore {
    /// Waits for the lock of `hash`'s payload.
    pub fn lock(&self, hash: &XetHash) -> io::Result<PayloadLock> {
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(false);
        let file = open_shared_file(&self.lock_path(hash), &mut options)?;
        file.lock()?;
        Ok(PayloadLock { _file: file })
    }
}

/// Opens (creating it) a file of the store that every user of a shared
/// cache writes (a `.lock`, a `.refs`): never through a symlink, since a
/// planted link must not make us create or write a file elsewhere, and left
/// writable by all, as Python leaves it, so others can lock or append too.
pub(super) fn open_shared_file(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW).mode(0o666);
    }
    let file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::other(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = file.set_permissions(std::fs::Permissions::from_mode(0o666));
    }
    Ok(file)
}
