//! What a cache folder holds, read without following a link: the repo
//! folders and the rest at its top, and every entry under a folder. Read
//! before anything is written, so a cache holding what no cache holds (a
//! FIFO, a device) is refused whole instead of half moved.

use std::fs;
use std::path::{Path, PathBuf};

use crate::cache::paths::OS_LITTER;
use crate::cache::safe_fs::TRASH_PREFIX;
use crate::cache::shared_store::{is_marked, STORE_DIR};
use crate::cache::RepoId;
use crate::error::{Error, Result};

/// The folder of locks and journals: never copied (a lock belongs to its
/// place), and the only top-level folder both scans skip.
pub(super) const LOCKS: &str = ".locks";

/// Files a cache holds at its top besides repos (huggingface_hub's tag and
/// version marker).
const CACHE_FILES: [&str; 2] = ["CACHEDIR.TAG", "version.txt"];

/// One thing under a folder, by its path relative to that folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    pub rel: PathBuf,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Kind {
    Dir,
    File { size: u64 },
    Link { target: PathBuf },
}

/// What the top of a cache folder holds.
#[derive(Debug, Default)]
pub(super) struct Top {
    /// Repo folders (`models--org--name`, …), sorted.
    pub repos: Vec<String>,
    /// Anything else that moves with the cache (its tag, the shared store,
    /// a stray file).
    pub others: Vec<String>,
    /// Entries that make a folder no cache (for a DEST).
    pub foreign: Vec<String>,
}

/// Reads the top of `dir`: `None` when it does not exist.
pub(super) fn top(dir: &Path) -> Result<Option<Top>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read", dir, e)),
    };
    let mut top = Top::default();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("read", dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // A symlink probe a kill left (`download::placement`) is no content.
        if name == LOCKS
            || name.starts_with(TRASH_PREFIX)
            || name.starts_with(crate::download::placement::PROBE_PREFIX)
            || OS_LITTER.contains(&name.as_str())
        {
            continue;
        }
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if is_dir && RepoId::from_folder_name(&name).is_ok() {
            top.repos.push(name);
        } else {
            // huggingface_hub 2.5's shared store is part of the cache (its
            // repos' blobs link into it), but only when marked as owned: an
            // unmarked `blobs/` is somebody else's, as 2.5 itself decides.
            let store = name == STORE_DIR && is_marked(&entry.path());
            if !store && !CACHE_FILES.contains(&name.as_str()) {
                top.foreign.push(name.clone());
            }
            top.others.push(name);
        }
    }
    top.repos.sort();
    top.others.sort();
    top.foreign.sort();
    Ok(Some(top))
}

/// `path` itself, then everything under it when it is a folder, parents
/// before children. A FIFO, socket or device is refused.
pub(super) fn walk(path: &Path) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    walk_into(path, PathBuf::new(), &mut out)?;
    Ok(out)
}

fn walk_into(path: &Path, rel: PathBuf, out: &mut Vec<Entry>) -> Result<()> {
    let meta = fs::symlink_metadata(path).map_err(|e| Error::io("read", path, e))?;
    let kind = if meta.is_dir() {
        Kind::Dir
    } else if meta.is_file() {
        Kind::File { size: meta.len() }
    } else if meta.file_type().is_symlink() {
        let target = fs::read_link(path).map_err(|e| Error::io("read link", path, e))?;
        Kind::Link { target }
    } else {
        return Err(Error::CacheDir {
            path: path.to_owned(),
            message: "this is neither a file, a folder nor a link (a FIFO, socket or device); no cache holds one, so nothing was moved: remove it, then move again".into(),
        });
    };
    let is_dir = kind == Kind::Dir;
    out.push(Entry {
        rel: rel.clone(),
        kind,
    });
    if !is_dir {
        return Ok(());
    }
    let mut children: Vec<_> = fs::read_dir(path)
        .map_err(|e| Error::io("read", path, e))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<std::io::Result<_>>()
        .map_err(|e| Error::io("read", path, e))?;
    children.sort();
    for name in children {
        walk_into(&path.join(&name), rel.join(&name), out)?;
    }
    Ok(())
}

/// (regular files, their bytes) among `entries`.
pub(super) fn tally(entries: &[Entry]) -> (u64, u64) {
    entries.iter().fold((0, 0), |(n, bytes), e| match e.kind {
        Kind::File { size } => (n + 1, bytes + size),
        _ => (n, bytes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::shared_store::MARKER;

    #[test]
    fn the_top_tells_repos_cache_files_and_foreign_things_apart() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        for d in [
            "models--a--b",
            ".locks/models--a--b",
            ".trash-x-1-2",
            "photos",
        ] {
            fs::create_dir_all(dir.join(d)).unwrap();
        }
        fs::write(dir.join("CACHEDIR.TAG"), "x").unwrap();
        fs::write(dir.join("notes.txt"), "x").unwrap();
        let top = top(dir).unwrap().unwrap();
        assert_eq!(top.repos, ["models--a--b"]);
        assert_eq!(top.others, ["CACHEDIR.TAG", "notes.txt", "photos"]);
        assert_eq!(top.foreign, ["notes.txt", "photos"]);
        assert!(super::top(&dir.join("absent")).unwrap().is_none());

        // An unmarked `blobs/` is foreign; once marked, it is the store.
        fs::create_dir_all(dir.join("blobs/ab")).unwrap();
        assert!(super::top(dir)
            .unwrap()
            .unwrap()
            .foreign
            .contains(&"blobs".to_owned()));
        fs::write(dir.join("blobs").join(MARKER), "2\n").unwrap();
        assert!(super::top(dir)
            .unwrap()
            .unwrap()
            .foreign
            .contains(&"blobs".to_owned()));
        fs::write(dir.join("blobs").join(MARKER), "1\n").unwrap();
        let top = super::top(dir).unwrap().unwrap();
        assert_eq!(top.foreign, ["notes.txt", "photos"]);
        assert!(top.others.contains(&"blobs".to_owned()));
    }

    #[cfg(unix)]
    #[test]
    fn a_walk_lists_links_without_following_and_refuses_a_fifo() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("r");
        fs::create_dir_all(dir.join("blobs")).unwrap();
        fs::write(dir.join("blobs/x"), "hello").unwrap();
        std::os::unix::fs::symlink("/etc", dir.join("out")).unwrap();
        let entries = walk(&dir).unwrap();
        assert_eq!(tally(&entries), (1, 5));
        assert!(entries.contains(&Entry {
            rel: "out".into(),
            kind: Kind::Link {
                target: "/etc".into()
            }
        }));
        assert_eq!(entries[0].rel, PathBuf::new(), "the folder itself first");

        let fifo = dir.join("blobs/pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success(), "mkfifo");
        let err = walk(&dir).unwrap_err();
        assert!(err.to_string().contains("FIFO"), "{err}");
    }
}
