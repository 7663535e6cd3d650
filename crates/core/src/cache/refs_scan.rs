//! Reads `refs/**` of one repo: the commit each branch or tag names, and the
//! refs that name none. A ref we cannot read as a commit is never dropped
//! silently: dropping it would make the revision it meant look detached, and
//! prune would delete it. It becomes a [`BrokenRef`] instead.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::dir_handle::{DirHandle, Kind};
use super::names::CommitHash;
use super::paths::OS_LITTER;
use super::report::BrokenRef;
use crate::atomic_file::{is_stale_temp, TempName};

/// A ref holds 40 hex digits (and maybe a newline); more is never a commit,
/// and a ref of garbage is not read further than this.
const MAX_REF_READ: u64 = 256;

/// What `refs/` holds.
#[derive(Debug, Default)]
pub(crate) struct RefsRead {
    /// Ref name (`main`, `refs/pr/1`) → commit, for every ref that holds one.
    pub refs: BTreeMap<String, String>,
    pub broken: Vec<BrokenRef>,
    /// `.NAME.<pid>.tmp` files a write that died left (not refs).
    pub stale_temps: Vec<PathBuf>,
}

impl RefsRead {
    fn broken(&mut self, name: String, path: PathBuf, problem: impl Into<String>) {
        self.broken.push(BrokenRef {
            name,
            path,
            problem: problem.into(),
        });
    }
}

/// Reads every ref under the open `refs` folder.
pub(crate) fn read_refs(refs_dir: DirHandle) -> RefsRead {
    let mut out = RefsRead::default();
    let mut pending = vec![(refs_dir, String::new())];
    while let Some((dir, prefix)) = pending.pop() {
        let entries = match dir.entries() {
            Ok(entries) => entries,
            Err(e) => {
                let name = prefix.trim_end_matches('/').to_owned();
                let problem = format!("cannot be read as a folder ({e})");
                out.broken(name, dir.path().to_owned(), problem);
                continue;
            }
        };
        for (name, kind) in entries {
            if OS_LITTER.iter().any(|n| name == *n) {
                continue;
            }
            let path = dir.path().join(&name);
            let ref_name = format!("{prefix}{}", name.to_string_lossy());
            if is_temp(&name) {
                // A live writer's temp is its business; a dead one's is litter.
                if is_stale_temp(&path) {
                    out.stale_temps.push(path);
                }
                continue;
            }
            match kind {
                Kind::Dir => match dir.open_child(&name) {
                    Ok(sub) => pending.push((sub, format!("{ref_name}/"))),
                    Err(e) => out.broken(ref_name, path, format!("cannot be opened ({e})")),
                },
                Kind::File => match read_commit(&path) {
                    Ok(commit) => {
                        out.refs.insert(ref_name, commit);
                    }
                    Err(problem) => out.broken(ref_name, path, problem),
                },
                Kind::Symlink => out.broken(
                    ref_name,
                    path,
                    "is a symlink, not a file; it is not followed",
                ),
                Kind::Other => out.broken(ref_name, path, "is not a regular file"),
            }
        }
    }
    out.broken.sort_by(|a, b| a.name.cmp(&b.name));
    out.stale_temps.sort();
    out
}

fn is_temp(name: &OsStr) -> bool {
    name.to_str().and_then(TempName::parse).is_some()
}

/// The commit a ref file holds (whitespace around it tolerated), or what is
/// wrong with it.
fn read_commit(path: &Path) -> Result<String, String> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_REF_READ + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("cannot be read ({e})"))?;
    let text = String::from_utf8_lossy(&bytes);
    // huggingface_hub reads refs as UTF-8: such a ref makes its scan of the
    // whole cache fail (UnicodeDecodeError), not only of this repo.
    let not_text = match std::str::from_utf8(&bytes) {
        Ok(_) => "",
        Err(_) => " (and not text: huggingface_hub cannot scan the cache while it is there)",
    };
    match CommitHash::parse(text.trim()) {
        Ok(commit) => Ok(commit.as_str().to_owned()),
        Err(_) if bytes.is_empty() => Err("is empty (a write cut short?)".into()),
        Err(_) => Err(format!(
            "holds {}, which is not a commit hash{not_text}",
            preview(&text, bytes.len() as u64 > MAX_REF_READ)
        )),
    }
}

/// The start of a ref's text, escaped so no control character reaches a terminal.
fn preview(text: &str, cut: bool) -> String {
    const SHOWN: usize = 24;
    let mut shown: String = text.trim().chars().take(SHOWN).collect();
    let more = cut || text.trim().chars().count() > SHOWN;
    if more {
        shown.push('…');
    }
    format!("{shown:?}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn read(dir: &Path) -> RefsRead {
        read_refs(DirHandle::open(dir).unwrap())
    }

    #[test]
    fn commits_are_read_and_everything_else_is_broken() {
        let tmp = tempfile::tempdir().unwrap();
        let refs = tmp.path();
        let c = "a".repeat(40);
        fs::write(refs.join("main"), format!("{c}\n")).unwrap();
        fs::create_dir_all(refs.join("refs/pr")).unwrap();
        fs::write(refs.join("refs/pr/1"), "not a commit\u{1b}[2J").unwrap();
        fs::write(refs.join("v1"), [0xff, 0xfe, 0x00]).unwrap();
        fs::write(refs.join("v2"), "").unwrap();
        fs::write(refs.join("v3"), "A".repeat(40)).unwrap();
        let linked = crate::test_fs::links_work(refs);
        if linked {
            crate::test_fs::symlink(refs.join("main"), refs.join("link")).unwrap();
        }
        fs::write(refs.join(".DS_Store"), "").unwrap();
        let got = read(refs);
        assert_eq!(got.refs, BTreeMap::from([("main".into(), c)]));
        let names: Vec<&str> = got.broken.iter().map(|b| b.name.as_str()).collect();
        let expected = ["link", "refs/pr/1", "v1", "v2", "v3"];
        assert_eq!(names, expected[usize::from(!linked)..]);
        let pr = &got.broken[usize::from(linked)];
        assert!(pr.problem.contains("not a commit hash"), "{}", pr.problem);
        assert!(!pr.problem.contains('\u{1b}'), "escaped: {}", pr.problem);
        let v2 = got.broken.iter().find(|b| b.name == "v2").unwrap();
        assert!(v2.problem.contains("empty"));
    }

    #[test]
    fn temps_are_not_refs_and_only_dead_ones_are_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let refs = tmp.path();
        fs::write(refs.join("main"), "b".repeat(40)).unwrap();
        let dead = refs.join(".main.4194999.tmp");
        fs::write(&dead, "bbb").unwrap();
        fs::write(refs.join(crate::atomic_file::temp_name("main")), "").unwrap();
        let got = read(refs);
        assert!(got.broken.is_empty(), "{:?}", got.broken);
        assert_eq!(got.refs.len(), 1);
        // A dead pid is known only on Linux; elsewhere the temp's age decides.
        let expected = if cfg!(target_os = "linux") {
            vec![dead]
        } else {
            vec![]
        };
        assert_eq!(got.stale_temps, expected);
    }

    #[test]
    fn a_long_garbage_ref_is_cut() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("main"), "x".repeat(10_000)).unwrap();
        let got = read(tmp.path());
        assert!(
            got.broken[0].problem.len() < 80,
            "{}",
            got.broken[0].problem
        );
        assert!(got.broken[0].problem.contains('…'));
    }
}
