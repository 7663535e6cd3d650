//! The move's journal, `.locks/haid-move.json`: where the cache goes, and
//! what finishing means (remember the place, leave a symlink). It is written
//! in the old cache before the first change (a one-rename move carries it
//! along), and in the new one before the switch; it goes when the move is
//! over. A killed run is finished by running the same move again, and a
//! move elsewhere is refused until then.
//!
//! A journal is a file in the cache, so another program could have written
//! it: it never names the settings file or the symlink's place (those come
//! from the location), and one is followed only when its old place is the
//! cache the rules chose, or its new place is.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::entries::LOCKS;
use crate::atomic_file::write_atomically;
use crate::error::{Error, Result};
use crate::location::CacheLocation;
use crate::manifest::local_file::{self, Refusal};

/// A journal is a few paths; anything bigger was not written by us.
const LIMIT: u64 = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Journal {
    pub from: PathBuf,
    pub to: PathBuf,
    pub leave_symlink: bool,
    pub remember: bool,
}

/// A move that was cut short, as the app's banner and `where` tell it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct UnfinishedMove {
    /// The old place.
    pub from: PathBuf,
    /// The new place: `haid-models move <to>` finishes it.
    pub to: PathBuf,
}

pub(super) fn path(cache_dir: &Path) -> PathBuf {
    cache_dir.join(LOCKS).join("haid-move.json")
}

/// The journal in `cache_dir`, if there is one. One that cannot be read is
/// an error, not a fresh start: it is the record of a half-done move.
pub(super) fn read(cache_dir: &Path) -> Result<Option<Journal>> {
    read_file(&path(cache_dir))
}

fn read_file(path: &Path) -> Result<Option<Journal>> {
    let path = path.to_owned();
    let refuse = |reason: String| {
        Error::CacheDir {
        path: path.clone(),
        message: format!("the journal of an interrupted move is unreadable ({reason}); look at both folders, then remove this file and move again"),
    }
    };
    let text = match local_file::read_text(&path, LIMIT) {
        Ok(text) => text,
        Err(Refusal::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(other) => return Err(refuse(other.describe())),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| refuse(e.to_string()))
}

/// [`read`], or `None` when `dir` is no folder (DEST may be a file).
pub(super) fn read_if_dir(dir: &Path) -> Result<Option<Journal>> {
    if !dir.is_dir() {
        return Ok(None);
    }
    read(dir)
}

pub(super) fn write(cache_dir: &Path, journal: &Journal) -> Result<()> {
    let text = serde_json::to_vec_pretty(journal)
        .map_err(|e| Error::io("write", path(cache_dir), std::io::Error::other(e)))?;
    write_atomically(&path(cache_dir), &text)
}

pub(super) fn remove(cache_dir: &Path) -> Result<()> {
    let path = path(cache_dir);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io("remove", &path, e)),
        _ => Ok(()),
    }
}

/// The move `cache_dir` is part of and that did not finish, if any.
pub fn unfinished_move(cache_dir: &Path) -> Result<Option<UnfinishedMove>> {
    Ok(read(cache_dir)?.map(|j| UnfinishedMove {
        from: j.from,
        to: j.to,
    }))
}

/// Where a move leaves word of itself outside the cache: next to the
/// settings. Between a rename (or the old copy's removal) and the switch or
/// the link, the folder the rules name is gone, and its journal with it: a
/// start then found an empty cache and no word of the move.
pub(super) fn pointer_path(settings_file: &Path) -> PathBuf {
    settings_file.with_file_name("moving.json")
}

pub(super) fn write_pointer(settings_file: &Path, journal: &Journal) -> Result<()> {
    let text = serde_json::to_vec_pretty(journal).map_err(|e| {
        Error::io(
            "write",
            pointer_path(settings_file),
            std::io::Error::other(e),
        )
    })?;
    write_atomically(&pointer_path(settings_file), &text)
}

pub(super) fn remove_pointer(settings_file: &Path) -> Result<()> {
    let path = pointer_path(settings_file);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io("remove", &path, e)),
        _ => Ok(()),
    }
}

/// The unfinished move of the cache `location` names: its own journal, or,
/// when that folder is gone, the word next to the settings. That word is
/// followed only when it is about this cache and DEST's own journal says
/// the same, so a planted file names no folder of its choosing.
pub fn unfinished_move_of(location: &CacheLocation) -> Result<Option<UnfinishedMove>> {
    if let Some(found) = unfinished_move(&location.cache_dir)? {
        return Ok(Some(found));
    }
    if location.cache_dir.exists() {
        return Ok(None);
    }
    let Some(word) = read_file(&pointer_path(&location.settings_file))? else {
        return Ok(None);
    };
    if word.from != location.cache_dir {
        return Ok(None);
    }
    Ok(read_if_dir(&word.to)?
        .filter(|j| j.from == word.from && j.to == word.to)
        .map(|j| UnfinishedMove {
            from: j.from,
            to: j.to,
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_round_trips_and_a_broken_one_is_an_error_that_says_what_to_do() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(read(tmp.path()).unwrap(), None);
        let j = Journal {
            from: "/a/hub".into(),
            to: "/b/hub".into(),
            leave_symlink: false,
            remember: true,
        };
        write(tmp.path(), &j).unwrap();
        assert_eq!(read(tmp.path()).unwrap(), Some(j));
        assert_eq!(
            unfinished_move(tmp.path()).unwrap().unwrap().to,
            PathBuf::from("/b/hub")
        );
        std::fs::write(path(tmp.path()), "{not json").unwrap();
        let err = read(tmp.path()).unwrap_err();
        assert!(err.to_string().contains("remove this file"), "{err}");
        remove(tmp.path()).unwrap();
        remove(tmp.path()).unwrap();
        assert_eq!(read(tmp.path()).unwrap(), None);
    }

    #[test]
    fn the_word_beside_the_settings_is_followed_only_when_dest_agrees_and_it_is_this_caches() {
        let tmp = tempfile::tempdir().unwrap();
        let from = tmp.path().join("old/hub");
        let to = tmp.path().join("new/hub");
        let location = CacheLocation {
            cache_dir: from.clone(),
            hf_home: tmp.path().join("old"),
            data_dir: tmp.path().join("data"),
            settings_file: tmp.path().join("config/settings.json"),
            source: crate::location::LocationSource::Default,
        };
        let j = Journal {
            from: from.clone(),
            to: to.clone(),
            leave_symlink: false,
            remember: true,
        };
        write_pointer(&location.settings_file, &j).unwrap();
        // Planted, or left by a move that finished: DEST has no journal.
        std::fs::create_dir_all(&to).unwrap();
        assert_eq!(unfinished_move_of(&location).unwrap(), None);
        // The renamed cache carries its journal: the move is found.
        write(&to, &j).unwrap();
        let found = unfinished_move_of(&location).unwrap().unwrap();
        assert_eq!((found.from, found.to), (from.clone(), to.clone()));
        // About another cache: not this one's word.
        let other = CacheLocation {
            cache_dir: tmp.path().join("elsewhere/hub"),
            ..location.clone()
        };
        assert_eq!(unfinished_move_of(&other).unwrap(), None);
        // A DEST journal that names another origin is not followed either.
        write(
            &to,
            &Journal {
                from: tmp.path().join("x/hub"),
                ..j.clone()
            },
        )
        .unwrap();
        assert_eq!(unfinished_move_of(&location).unwrap(), None);
        remove_pointer(&location.settings_file).unwrap();
        remove_pointer(&location.settings_file).unwrap();
    }
}
