//! Where an archive's entry may go: the cache layout and nothing else. Each
//! path is parsed into the validated names of `cache::names` before a file
//! is created, so `../x`, an absolute path, a drive letter or a file beside
//! the layout is refused here, with the reason.

use super::INDEX_PATH;
use crate::cache::{BlobName, CommitHash, RefName, RepoFilePath, RepoId};

/// One entry of an archive, as a place in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Place {
    /// The export's index (read, never written to the cache).
    Index,
    /// A folder of the layout (made as needed; the entry itself is ignored).
    Folder,
    /// `models--org--name/blobs/<etag>`.
    Blob { repo: RepoId, name: BlobName },
    /// `models--org--name/refs/<name>`.
    Ref { repo: RepoId, name: RefName },
    /// `models--org--name/trees/<commit>.json`.
    Tree { repo: RepoId, commit: CommitHash },
    /// `models--org--name/snapshots/<commit>/<path>`.
    Snapshot {
        repo: RepoId,
        commit: CommitHash,
        path: RepoFilePath,
    },
    /// `models--org--name/.no_exist/<commit>/<path>`: a file known to be absent.
    NoExist {
        repo: RepoId,
        commit: CommitHash,
        path: RepoFilePath,
    },
}

impl Place {
    /// The repo the entry belongs to (none for the index and folders).
    pub fn repo(&self) -> Option<&RepoId> {
        match self {
            Place::Index | Place::Folder => None,
            Place::Blob { repo, .. }
            | Place::Ref { repo, .. }
            | Place::Tree { repo, .. }
            | Place::Snapshot { repo, .. }
            | Place::NoExist { repo, .. } => Some(repo),
        }
    }
}

/// Parses an entry's path (`/`-separated, as tar stores it; a trailing `/`
/// for folders, and a leading `./`, are allowed).
pub(crate) fn parse(path: &str) -> Result<Place, String> {
    let path = path.strip_prefix("./").unwrap_or(path);
    let path = path.strip_suffix('/').unwrap_or(path);
    if path == INDEX_PATH {
        return Ok(Place::Index);
    }
    if path.starts_with('/') {
        return Err("an absolute path".into());
    }
    let parts: Vec<&str> = path.split('/').collect();
    if parts.iter().any(|p| matches!(*p, "" | "." | "..")) {
        return Err("a path with '..', '.' or an empty part".into());
    }
    if parts == [".locks"] {
        return Ok(Place::Folder);
    }
    let repo = RepoId::from_folder_name(parts[0])
        .map_err(|_| "not in a repo folder of the cache (models--org--name, …)".to_owned())?;
    in_repo(repo, &parts[1..])
}

fn in_repo(repo: RepoId, rest: &[&str]) -> Result<Place, String> {
    let commit = |s: &str| CommitHash::parse(s).map_err(|e| format!("snapshot folder: {e}"));
    let file = |parts: &[&str]| RepoFilePath::parse(&parts.join("/"));
    match rest {
        [] | ["blobs" | "snapshots" | "refs" | "trees" | ".no_exist"] => Ok(Place::Folder),
        ["blobs", name] => BlobName::parse(name)
            .map(|name| Place::Blob { repo, name })
            .map_err(|e| format!("blob: {e}")),
        ["refs", name @ ..] => RefName::parse(&name.join("/"))
            .map(|name| Place::Ref { repo, name })
            .map_err(|e| format!("ref: {e}")),
        ["trees", json] => {
            let c = json
                .strip_suffix(".json")
                .ok_or("a tree listing is <commit>.json")?;
            Ok(Place::Tree {
                repo,
                commit: commit(c)?,
            })
        }
        ["snapshots", c] | [".no_exist", c] => commit(c).map(|_| Place::Folder),
        ["snapshots", c, path @ ..] => Ok(Place::Snapshot {
            commit: commit(c)?,
            path: file(path).map_err(|e| format!("snapshot file: {e}"))?,
            repo,
        }),
        [".no_exist", c, path @ ..] => Ok(Place::NoExist {
            commit: commit(c)?,
            path: file(path).map_err(|e| format!("absent file: {e}"))?,
            repo,
        }),
        _ => Err("not part of the cache layout (blobs, snapshots, refs, trees, .no_exist)".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn the_layout_parses_and_everything_else_is_refused() {
        let blob = format!("models--org--m/blobs/{}", "a".repeat(64));
        assert!(matches!(parse(&blob), Ok(Place::Blob { .. })));
        assert!(matches!(
            parse(&format!("./{blob}")),
            Ok(Place::Blob { .. })
        ));
        assert!(matches!(
            parse("models--org--m/refs/refs/pr/1"),
            Ok(Place::Ref { .. })
        ));
        assert!(matches!(
            parse(&format!("models--org--m/snapshots/{C}/onnx/model.onnx")),
            Ok(Place::Snapshot { .. })
        ));
        assert!(matches!(
            parse(&format!("models--org--m/trees/{C}.json")),
            Ok(Place::Tree { .. })
        ));
        assert_eq!(parse("models--org--m/snapshots/"), Ok(Place::Folder));
        assert_eq!(parse(INDEX_PATH), Ok(Place::Index));
        for bad in [
            "../etc/passwd",
            "/etc/passwd",
            "models--org--m/../../x",
            "models--org--m/blobs/../../x",
            "models--org--m/blobs/notahash",
            &format!("models--org--m/snapshots/{C}/../../../x"),
            &format!("models--org--m/snapshots/{C}/a//b"),
            "models--org--m/refs/../../x",
            "models--org--m/other/file",
            "photos/cat.jpg",
            "models--org--m/snapshots/nothex/x",
            ".locks/models--org--m/x.lock",
            "CACHEDIR.TAG",
        ] {
            assert!(parse(bad).is_err(), "{bad} was accepted");
        }
    }
}
