//! The hub's file listing of a commit (`/api/models/{id}/tree/{commit}`),
//! read as untrusted input. A mirror or proxy may send anything, and every
//! path, etag and size in it is about to name a file in the cache, so each
//! entry is parsed into validated names here, and the whole listing is
//! checked, before the download creates anything (DESIGN, "Everything from
//! outside is untrusted").

use std::collections::{HashMap, HashSet};

use serde::Deserialize;

use super::remote::RemoteFile;
use crate::cache::{BlobName, RepoFilePath, RepoId};
use crate::error::Error;

/// Most files one commit may list. The hub's biggest model repos hold a few
/// thousand; a listing past this is an attack on memory, not a model.
pub const MAX_LISTING_FILES: usize = 100_000;
/// Most bytes of listing JSON, over all pages (100,000 LFS entries take ~25 MB).
pub const MAX_LISTING_BYTES: usize = 64 << 20;
/// Most pages followed (the hub sends 1,000 entries a page).
pub const MAX_LISTING_PAGES: usize = 1_000;
/// Largest single file: the hub refuses files over 50 GB; 1 TiB leaves room
/// for mirrors and is still far below what would overflow a sum.
pub const MAX_FILE_SIZE: u64 = 1 << 40;

/// Builds the error for a refused value, naming the endpoint and the repo.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Refuse<'a> {
    pub endpoint: &'a str,
    pub repo: &'a RepoId,
}

impl Refuse<'_> {
    pub fn err(&self, what: &'static str, value: &str, reason: impl Into<String>) -> Error {
        Error::invalid_response(self.endpoint, &self.repo.id(), what, value, reason)
    }
}

/// One entry of the tree API, as sent.
#[derive(Debug, Deserialize)]
struct TreeItem {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    oid: String,
    #[serde(default)]
    size: u64,
    path: String,
    lfs: Option<LfsItem>,
    #[serde(rename = "xetHash")]
    xet_hash: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LfsItem {
    oid: String,
}

/// The files of one page; folders are left out (the paths imply them).
pub(crate) fn parse_page(body: &[u8], refuse: Refuse<'_>) -> Result<Vec<RemoteFile>, Error> {
    let items: Vec<TreeItem> = serde_json::from_slice(body).map_err(|e| {
        let start = String::from_utf8_lossy(&body[..body.len().min(60)]).into_owned();
        refuse.err(
            "file listing",
            &start,
            format!("it is not the hub's JSON ({e})"),
        )
    })?;
    items
        .into_iter()
        .filter(|i| i.kind == "file")
        .map(|i| to_remote(i, refuse))
        .collect()
}

fn to_remote(item: TreeItem, refuse: Refuse<'_>) -> Result<RemoteFile, Error> {
    let path =
        RepoFilePath::parse(&item.path).map_err(|r| refuse.err("file path", &item.path, r))?;
    let at = |r: String| format!("{r} (file {path})");
    let blob_id = BlobName::parse(&item.oid).map_err(|r| refuse.err("oid", &item.oid, at(r)))?;
    let lfs_sha256 = match item.lfs {
        Some(lfs) => Some(
            BlobName::parse(&lfs.oid)
                .ok()
                .filter(|b| b.as_str().len() == 64)
                .ok_or_else(|| {
                    refuse.err("LFS sha256", &lfs.oid, at("it is not a sha256".into()))
                })?,
        ),
        None => None,
    };
    if let Some(xet) = &item.xet_hash {
        if xet.len() != 64 || !xet.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(refuse.err("xet hash", xet, at("it is not 64 hex digits".into())));
        }
    }
    if item.size > MAX_FILE_SIZE {
        return Err(refuse.err(
            "file size",
            &item.size.to_string(),
            at(format!("it is over {MAX_FILE_SIZE} bytes (1 TiB)")),
        ));
    }
    Ok(RemoteFile {
        path,
        size: item.size,
        blob_id,
        lfs_sha256,
        xet_hash: item.xet_hash,
    })
}

/// What no single entry shows: the same path twice, a file that is also a
/// folder of another file (`a` and `a/b`), or too many files.
pub(crate) fn check_whole(files: &[RemoteFile], refuse: Refuse<'_>) -> Result<(), Error> {
    if files.len() > MAX_LISTING_FILES {
        return Err(too_many(files.len(), refuse));
    }
    let mut seen: HashSet<&str> = HashSet::with_capacity(files.len());
    for f in files {
        if !seen.insert(f.path.as_str()) {
            return Err(refuse.err("file path", f.path.as_str(), "it is listed twice"));
        }
    }
    if cfg!(windows) {
        if let Some((first, second)) = case_collision(files) {
            return Err(refuse.err(
                "file path",
                second,
                format!("it and {first:?} differ only in case, and Windows, whose file names ignore case, would keep one file for both"),
            ));
        }
    }
    for f in files {
        if let Some(dir) = f.path.parents().find(|d| seen.contains(d)) {
            return Err(refuse.err(
                "file path",
                f.path.as_str(),
                format!("{dir:?} is listed as a file and as the folder of this one"),
            ));
        }
    }
    Ok(())
}

/// Two paths that name one file where names ignore case (`README.md` and
/// `readme.md`): the second would overwrite the first, and the snapshot
/// would never be whole. Lower case by Unicode's rules, close to NTFS's.
fn case_collision(files: &[RemoteFile]) -> Option<(&str, &str)> {
    let mut seen: HashMap<String, &str> = HashMap::with_capacity(files.len());
    files.iter().find_map(|f| {
        let path = f.path.as_str();
        seen.insert(path.to_lowercase(), path)
            .map(|first| (first, path))
    })
}

pub(crate) fn too_many(count: usize, refuse: Refuse<'_>) -> Error {
    refuse.err(
        "file listing",
        &format!("{count} files"),
        format!("a commit may list at most {MAX_LISTING_FILES} files"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA1: &str = "0123456789abcdef0123456789abcdef01234567";
    const SHA256: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn paths_that_differ_only_in_case_collide() {
        let file = |p: &str| RemoteFile {
            path: RepoFilePath::parse(p).unwrap(),
            size: 1,
            blob_id: BlobName::parse(SHA1).unwrap(),
            lfs_sha256: None,
            xet_hash: None,
        };
        let files = [file("README.md"), file("a/x.txt"), file("readme.md")];
        assert_eq!(case_collision(&files), Some(("README.md", "readme.md")));
        assert_eq!(case_collision(&files[..2]), None);
        let repo = RepoId::model("o/m").unwrap();
        let checked = check_whole(&files, refuse_for(&repo));
        if cfg!(windows) {
            let err = checked.unwrap_err().to_string();
            assert!(err.contains("differ only in case"), "{err}");
        } else {
            checked.unwrap();
        }
    }

    fn refuse_for(repo: &RepoId) -> Refuse<'_> {
        Refuse {
            endpoint: "http://mirror.test",
            repo,
        }
    }

    fn page(entries: serde_json::Value) -> Result<Vec<RemoteFile>, Error> {
        let repo = RepoId::model("o/m").unwrap();
        let files = parse_page(entries.to_string().as_bytes(), refuse_for(&repo))?;
        check_whole(&files, refuse_for(&repo))?;
        Ok(files)
    }

    fn file(path: &str) -> serde_json::Value {
        serde_json::json!({"type": "file", "oid": SHA1, "size": 3, "path": path})
    }

    #[test]
    fn a_good_listing_keeps_files_and_drops_folders() {
        let files = page(serde_json::json!([
            {"type": "directory", "oid": SHA1, "size": 0, "path": "onnx"},
            file("onnx/model.onnx"),
            {"type": "file", "oid": SHA1, "size": 5000, "path": "w.bin", "lfs": {"oid": SHA256}},
        ]))
        .unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(files[1].etag().as_str(), SHA256);
        assert_eq!(files[0].etag().as_str(), SHA1);
    }

    #[test]
    fn every_bad_value_is_refused_with_the_endpoint_and_the_value() {
        let cases = [
            (
                serde_json::json!([file("../../x.json")]),
                "file path \"../../x.json\"",
            ),
            (serde_json::json!([file("/abs/x")]), "file path \"/abs/x\""),
            (
                serde_json::json!([{"type": "file", "oid": "../../n", "size": 1, "path": "a"}]),
                "oid \"../../n\"",
            ),
            (
                serde_json::json!([{"type": "file", "oid": SHA1, "size": 1, "path": "a", "lfs": {"oid": SHA1}}]),
                "LFS sha256",
            ),
            (
                serde_json::json!([{"type": "file", "oid": SHA1, "size": 1u64 << 62, "path": "a"}]),
                "file size",
            ),
            (serde_json::json!([file("a"), file("a")]), "listed twice"),
            (
                serde_json::json!([file("a"), file("a/b.json")]),
                "as a file and as the folder",
            ),
            (serde_json::json!({"not": "a list"}), "not the hub's JSON"),
            (
                serde_json::json!([{"type": "file", "oid": SHA1, "size": -1, "path": "a"}]),
                "not the hub's JSON",
            ),
        ];
        for (entries, said) in cases {
            let err = page(entries.clone()).expect_err(&entries.to_string());
            assert_eq!(err.kind(), crate::ErrorKind::InvalidResponse);
            let msg = err.to_string();
            assert!(msg.contains(said), "{msg} should say {said}");
            assert!(msg.contains("http://mirror.test"), "{msg}");
            assert!(msg.contains("o/m"), "{msg}");
        }
    }

    #[test]
    fn too_many_files_are_refused() {
        let repo = RepoId::model("o/m").unwrap();
        let f = RemoteFile {
            path: RepoFilePath::parse("a").unwrap(),
            size: 1,
            blob_id: BlobName::parse(SHA1).unwrap(),
            lfs_sha256: None,
            xet_hash: None,
        };
        let files: Vec<RemoteFile> = (0..=MAX_LISTING_FILES)
            .map(|i| RemoteFile {
                path: RepoFilePath::parse(&format!("f{i}")).unwrap(),
                ..f.clone()
            })
            .collect();
        let err = check_whole(&files, refuse_for(&repo)).unwrap_err();
        assert!(err.to_string().contains("at most 100000 files"), "{err}");
    }
}
