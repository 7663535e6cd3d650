//! Open folders that look names up relative to themselves.
//!
//! A cache scan is ~2 syscalls per file (readlink, stat). With full paths the
//! kernel walks every component of `/home/…/hub/models--x/snapshots/…` each
//! time; with `readlinkat`/`fstatat` on an open folder it resolves one name.
//! That is the difference between ~14× and >15× `scan_cache_dir` (BENCHMARKS.md).
//! Linux gets the `*at` calls (rustix, safe wrappers); other systems use std
//! with full paths, which behaves the same, only slower.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use super::paths::{unix_seconds, FileIdentity};

/// What a directory entry is, without following symlinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
    Symlink,
    Other,
}

/// The fields of a `stat` the scan needs.
#[derive(Debug, Clone)]
pub struct FileStat {
    pub kind: Kind,
    pub size: u64,
    pub accessed: i64,
    pub modified: i64,
    pub identity: FileIdentity,
}

impl Kind {
    pub fn of(ft: std::fs::FileType) -> Self {
        if ft.is_symlink() {
            Kind::Symlink
        } else if ft.is_dir() {
            Kind::Dir
        } else if ft.is_file() {
            Kind::File
        } else {
            Kind::Other
        }
    }
}

impl FileStat {
    pub fn from_metadata(path: &Path, meta: &std::fs::Metadata) -> Self {
        Self {
            kind: Kind::of(meta.file_type()),
            size: meta.len(),
            accessed: unix_seconds(meta.accessed()),
            modified: unix_seconds(meta.modified()),
            identity: FileIdentity::of(path, meta),
        }
    }
}

/// An open folder.
#[derive(Debug)]
pub struct DirHandle {
    path: PathBuf,
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fd: rustix::fd::OwnedFd,
}

impl DirHandle {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `lstat` of `path`, by full path (for files outside any open folder).
    pub fn lstat_path(path: &Path) -> io::Result<FileStat> {
        std::fs::symlink_metadata(path).map(|m| FileStat::from_metadata(path, &m))
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod imp {
    use std::ffi::OsStr;
    use std::os::unix::ffi::{OsStrExt, OsStringExt};

    use rustix::fs::{AtFlags, FileType, Mode, OFlags, RawDir, CWD};

    use super::*;

    fn kind(ft: FileType) -> Kind {
        match ft {
            FileType::Directory => Kind::Dir,
            FileType::RegularFile => Kind::File,
            FileType::Symlink => Kind::Symlink,
            _ => Kind::Other,
        }
    }

    const DIR_FLAGS: OFlags = OFlags::RDONLY
        .union(OFlags::DIRECTORY)
        .union(OFlags::NOFOLLOW)
        .union(OFlags::CLOEXEC);

    impl DirHandle {
        /// Opens a folder; a symlink is refused (never followed).
        pub fn open(path: &Path) -> io::Result<Self> {
            let fd = rustix::fs::openat(CWD, path, DIR_FLAGS, Mode::empty())?;
            Ok(Self {
                path: path.to_owned(),
                fd,
            })
        }

        pub fn open_child(&self, name: &OsStr) -> io::Result<Self> {
            let fd = rustix::fs::openat(&self.fd, name, DIR_FLAGS, Mode::empty())?;
            Ok(Self {
                path: self.path.join(name),
                fd,
            })
        }

        /// Names and kinds of the entries (`.` and `..` left out). Reads with
        /// the handle's own fd: each handle is listed once, from the start.
        pub fn entries(&self) -> io::Result<Vec<(OsString, Kind)>> {
            let mut buf = Vec::with_capacity(16 * 1024);
            let mut dir = RawDir::new(&self.fd, buf.spare_capacity_mut());
            let mut out = Vec::new();
            while let Some(entry) = dir.next() {
                let entry = entry?;
                let name = entry.file_name().to_bytes();
                if name == b"." || name == b".." {
                    continue;
                }
                out.push((OsStr::from_bytes(name).to_owned(), kind(entry.file_type())));
            }
            // Some file systems do not fill d_type.
            for (name, kind) in &mut out {
                if *kind == Kind::Other {
                    *kind = self.lstat(name).map_or(Kind::Other, |s| s.kind);
                }
            }
            Ok(out)
        }

        pub fn read_link(&self, name: &OsStr) -> io::Result<PathBuf> {
            let target = rustix::fs::readlinkat(&self.fd, name, Vec::new())?;
            Ok(PathBuf::from(OsString::from_vec(target.into_bytes())))
        }

        pub fn lstat(&self, name: &OsStr) -> io::Result<FileStat> {
            let st = rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW)?;
            Ok(FileStat {
                kind: kind(FileType::from_raw_mode(st.st_mode)),
                size: u64::try_from(st.st_size).unwrap_or(0),
                accessed: st.st_atime,
                modified: st.st_mtime,
                identity: FileIdentity::Inode {
                    dev: st.st_dev,
                    ino: st.st_ino,
                },
            })
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod imp {
    use std::ffi::OsStr;

    use super::*;

    impl DirHandle {
        pub fn open(path: &Path) -> io::Result<Self> {
            let meta = std::fs::symlink_metadata(path)?;
            if !meta.is_dir() {
                return Err(io::Error::new(io::ErrorKind::NotADirectory, "not a folder"));
            }
            Ok(Self {
                path: path.to_owned(),
            })
        }

        pub fn open_child(&self, name: &OsStr) -> io::Result<Self> {
            Self::open(&self.path.join(name))
        }

        pub fn entries(&self) -> io::Result<Vec<(OsString, Kind)>> {
            std::fs::read_dir(&self.path)?
                .map(|e| {
                    let e = e?;
                    Ok((e.file_name(), Kind::of(e.file_type()?)))
                })
                .collect()
        }

        pub fn read_link(&self, name: &OsStr) -> io::Result<PathBuf> {
            std::fs::read_link(self.path.join(name))
        }

        pub fn lstat(&self, name: &OsStr) -> io::Result<FileStat> {
            Self::lstat_path(&self.path.join(name))
        }
    }
}
