//! Carrying a move out. The order is what keeps every model whole in one
//! place at every moment:
//! 1. the journal, in the old cache (and a copy beside the settings, which
//!    a start reads when the old folder is gone before step 3 or 4 is over);
//! 2. every file at DEST (one rename, or links and checked copies), the old
//!    cache untouched and still the one in use;
//! 3. the journal at DEST, then the switch: the settings name DEST;
//! 4. the old cache removed, then the link at its path (`--leave-symlink`);
//! 5. the journal removed, then its copy.

use std::collections::BTreeSet;
use std::fs::{self, File, TryLockError};

use super::entries::{self, LOCKS};
use super::journal::{self, Journal};
use super::transfer::Placer;
use super::{crash, MoveEvent, MoveMethod, MovePlan, MoveReport, MoveSink};
use crate::byte_progress::ByteProgress;
use crate::cache::safe_fs::{remove_inside, trash_dirs};
use crate::download::lock::{downloading_repos, open_lock_file};
use crate::error::{Error, Result};
use crate::settings::Settings;

/// Runs `plan`, telling `sink` how it goes. Blocking: file work only.
pub fn run_move(plan: &MovePlan, sink: MoveSink<'_>) -> Result<MoveReport> {
    let lock = run_lock(plan)?;
    let made_dest = !plan.to.exists();
    fs::create_dir_all(&plan.to).map_err(|e| Error::io("create", &plan.to, e))?;
    let layout = Layout::of(plan)?;
    if let Err(e) = check_room(plan, layout.to_copy) {
        if made_dest {
            let _ = fs::remove_dir(&plan.to);
        }
        return Err(e);
    }
    let copied = if plan.from.is_dir() {
        if !plan.resuming {
            journal::write_pointer(&plan.settings_file, &journal_of(plan))?;
            journal::write(&plan.from, &journal_of(plan))?;
            crash::step();
        }
        place_all(plan, &layout, sink)?
    } else {
        0
    };
    switch(plan)?;
    sink(&MoveEvent::Switched {
        to: plan.to.clone(),
    });
    remove_old(plan, lock)?;
    let symlink = plan.leave_symlink && leave_link(plan)?;
    journal::remove(&plan.to)?;
    journal::remove_pointer(&plan.settings_file)?;
    let report = MoveReport {
        from: plan.from.clone(),
        to: plan.to.clone(),
        method: plan.method,
        repos: plan.repos.len(),
        bytes: plan.bytes,
        bytes_copied: copied,
        remembered: plan.remember,
        symlink,
        without_symlinks: layout.plain,
    };
    sink(&MoveEvent::Done(report.clone()));
    Ok(report)
}

fn journal_of(plan: &MovePlan) -> Journal {
    Journal {
        from: plan.from.clone(),
        to: plan.to.clone(),
        leave_symlink: plan.leave_symlink,
        remember: plan.remember,
    }
}

/// One move of a cache at a time (the app's and the CLI's), held with
/// `flock` so a killed run releases it.
fn run_lock(plan: &MovePlan) -> Result<File> {
    let home = if plan.from.is_dir() {
        &plan.from
    } else {
        &plan.to
    };
    let path = home.join(LOCKS).join("haid-move.lock");
    let file = open_lock_file(&path)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(Error::Busy {
            message: "another move of this cache is running (from the app or `haid-models move`); let it finish".into(),
        }),
        Err(TryLockError::Error(e)) => Err(Error::io("lock", &path, e)),
    }
}

/// How the files are laid out at DEST, known once DEST is there to ask.
struct Layout {
    /// DEST refuses symlinks (a copy only: one file system keeps them), so
    /// snapshot files are plain copies (`plain`).
    plain: bool,
    /// The bytes placed at DEST, for the progress.
    bytes: u64,
    /// The bytes a copy writes.
    to_copy: u64,
}

impl Layout {
    fn of(plan: &MovePlan) -> Result<Self> {
        let plain = plan.method == MoveMethod::Copy
            && plan.from.is_dir()
            && !crate::download::placement::symlinks_supported(&plan.to);
        if !plain {
            return Ok(Self {
                plain,
                bytes: plan.bytes,
                to_copy: plan.bytes_to_copy,
            });
        }
        let top = entries::top(&plan.from)?.unwrap_or_default();
        let names: Vec<String> = top.repos.into_iter().chain(top.others).collect();
        let (bytes, to_copy) = super::plain::totals(&plan.from, &plan.to, &names)?;
        Ok(Self {
            plain,
            bytes,
            to_copy,
        })
    }
}

/// A copy must fit at DEST before it starts.
fn check_room(plan: &MovePlan, to_copy: u64) -> Result<()> {
    match plan.free_bytes {
        Some(free) if plan.method == MoveMethod::Copy && to_copy > free => {
            Err(Error::MoveRefused {
                to: plan.to.clone(),
                reason: format!(
                    "it needs {} and has {} free; free up space there or choose another disk",
                    crate::cache::safe_fs::shown_size(to_copy),
                    crate::cache::safe_fs::shown_size(free)
                ),
            })
        }
        _ => Ok(()),
    }
}

/// Step 2: every file of the old cache at DEST. Returns the bytes copied.
fn place_all(plan: &MovePlan, layout: &Layout, sink: MoveSink<'_>) -> Result<u64> {
    if plan.method == MoveMethod::Rename && rename_whole(plan)? {
        sink(&MoveEvent::Progress {
            bytes_done: plan.bytes,
            bytes_total: plan.bytes,
        });
        return Ok(0);
    }
    let mut progress = ByteProgress::new(layout.bytes, |done: u64, total: u64| {
        sink(&MoveEvent::Progress {
            bytes_done: done.min(total),
            bytes_total: total,
        })
    });
    let mut on_bytes = |n| progress.add(n);
    let mut placer = Placer {
        from: &plan.from,
        to: &plan.to,
        method: plan.method,
        plain: layout.plain,
        on_bytes: &mut on_bytes,
        copied: 0,
    };
    // What appeared since the plan (a download that started) is moved too;
    // the top is read again until nothing new is there.
    let mut done = BTreeSet::new();
    loop {
        let top = entries::top(&plan.from)?.unwrap_or_default();
        let pending: Vec<String> = top
            .repos
            .into_iter()
            .chain(top.others)
            .filter(|n| !done.contains(n))
            .collect();
        if pending.is_empty() {
            break;
        }
        for name in pending {
            sink(&MoveEvent::Repo {
                folder: name.clone(),
            });
            placer.place(&name)?;
            done.insert(name);
        }
    }
    let copied = placer.copied;
    progress.done = progress.done.max(progress.total);
    progress.say();
    Ok(copied)
}

/// The whole cache in one rename, when DEST is missing or an empty folder.
fn rename_whole(plan: &MovePlan) -> Result<bool> {
    if plan.into_existing_cache {
        return Ok(false);
    }
    // An empty DEST (we made it, or the user did) goes first: a rename over
    // a folder is not portable. One that is not empty after all stays.
    if fs::remove_dir(&plan.to).is_err() && plan.to.exists() {
        let only_locks = fs::read_dir(&plan.to)
            .map(|d| d.flatten().all(|e| e.file_name() == LOCKS))
            .unwrap_or(false);
        if !only_locks || fs::remove_dir_all(&plan.to).is_err() {
            return Ok(false);
        }
    }
    fs::rename(&plan.from, &plan.to).map_err(|e| Error::io("move", &plan.from, e))?;
    crash::step();
    Ok(true)
}

/// Step 3: DEST becomes the cache. Before it, a download that started in
/// the old cache stops the move (its bytes would be left behind).
fn switch(plan: &MovePlan) -> Result<()> {
    let busy = downloading_repos(&plan.from);
    if !busy.is_empty() {
        return Err(Error::Busy {
            message: format!(
                "a download into the old cache started during the move ({}); the old cache is whole and still in use: let it finish, then run the same move again",
                busy.iter().map(|r| r.id()).collect::<Vec<_>>().join(", ")
            ),
        });
    }
    journal::write(&plan.to, &journal_of(plan))?;
    crash::step();
    if plan.remember {
        let mut settings = Settings::load(&plan.settings_file)?;
        if settings.cache_dir.as_ref() != Some(&plan.to) {
            settings.cache_dir = Some(plan.to.clone());
            settings.save(&plan.settings_file)?;
            crash::step();
        }
    }
    Ok(())
}

/// Step 4: the old cache goes, everything DEST now holds: its repos, its
/// files, its locks and trash. The folder itself goes when that left it
/// empty (it is kept, with what else is in it, otherwise).
fn remove_old(plan: &MovePlan, run_lock: File) -> Result<()> {
    let from = &plan.from;
    let Some(top) = entries::top(from)? else {
        return Ok(());
    };
    for name in top.repos.iter().chain(&top.others) {
        remove_inside(from, &from.join(name))?;
        crash::step();
    }
    for trash in trash_dirs(from, None) {
        remove_inside(from, &trash)?;
    }
    // The run lock (in `.locks` here) is let go only now, and before its
    // folder goes: an open file cannot be removed on Windows, and a FUSE
    // disk (exfat-fuse) keeps it as `.fuse_hidden…`, so the folder would
    // never be empty. The switch is done: a move started from here on
    // resumes from DEST's journal, and each step left is idempotent.
    drop(run_lock);
    remove_inside(from, &from.join(LOCKS))?;
    let _ = fs::remove_dir(from);
    Ok(())
}

/// Step 4, `--leave-symlink`: the old path becomes a link to DEST. Made
/// only where nothing is left (a link the path was already is replaced).
fn leave_link(plan: &MovePlan) -> Result<bool> {
    let path = &plan.from;
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            fs::remove_file(path).map_err(|e| Error::io("remove", path, e))?
        }
        Ok(_) => return Ok(false),
        Err(_) => {}
    }
    #[cfg(unix)]
    let made = std::os::unix::fs::symlink(&plan.to, path);
    #[cfg(windows)]
    let made = std::os::windows::fs::symlink_dir(&plan.to, path);
    made.map_err(|e| Error::io("link", path, e))?;
    crash::step();
    Ok(true)
}
