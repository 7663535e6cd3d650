//! The names outside data gives us that become paths in the cache: a file
//! path inside a repo, a commit, a blob name (etag) and a ref name. Each is
//! parsed once, where the answer is read, and only these types can be joined
//! to a cache folder (see [`RepoFilePath::join_to`] and the `AsRef<Path>`
//! impls). A [`super::RepoId`] is the fifth such name.
//!
//! Hand-written rather than a crate: the rules are the cache's own (what
//! huggingface_hub writes and reads), and the checks are a few lines each.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// Longest file name most file systems allow (ext4, NTFS, APFS: 255 bytes).
pub const MAX_SEGMENT_BYTES: usize = 255;
/// Longest repo file path we accept (the hub's own paths stay far below).
pub const MAX_PATH_BYTES: usize = 1024;
/// Deepest folder nesting we accept in a repo file path.
pub const MAX_PATH_DEPTH: usize = 64;
/// Longest ref name (git allows more; no hub branch or tag comes close).
pub const MAX_REF_BYTES: usize = 255;

/// Why a name was refused, for the person who sees the error.
pub type Reason = String;

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn shown(c: char) -> String {
    match c {
        '\0' => "a NUL byte".into(),
        '\\' => "a backslash".into(),
        c if c.is_control() => format!("the control character {c:?}"),
        c if c.is_whitespace() => "whitespace".into(),
        c => format!("{c:?}"),
    }
}

/// Shared by the four types: a `Display`, `AsRef<str>`, `AsRef<Path>` and
/// `Serialize` as the plain string.
macro_rules! name_type {
    ($t:ident) => {
        impl $t {
            /// The name as text, exactly as parsed.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl AsRef<Path> for $t {
            fn as_ref(&self) -> &Path {
                Path::new(&self.0)
            }
        }
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl PartialEq<str> for $t {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
        impl PartialEq<&str> for $t {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

/// A commit id: 40 lowercase hex digits, the name of `snapshots/<commit>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommitHash(String);
name_type!(CommitHash);

impl CommitHash {
    /// Checks `s`; the error says what a commit looks like.
    pub fn parse(s: &str) -> Result<Self, Reason> {
        if s.len() != 40 || !is_lower_hex(s) {
            return Err("a commit is 40 lowercase hex digits".into());
        }
        Ok(Self(s.to_owned()))
    }
}

/// The end of a parallel download's file (see [`BlobName::parts_name`]).
pub const PARTS_SUFFIX: &str = ".parts.incomplete";
/// The end of its record of written ranges (see [`BlobName::ranges_name`]).
pub const RANGES_SUFFIX: &str = ".ranges.incomplete";

/// The etag of a partial download's file name: `<etag>.incomplete`, or a
/// parallel download's `<etag>.parts.incomplete` and `<etag>.ranges.incomplete`.
pub fn partial_etag(file_name: &str) -> Option<&str> {
    [PARTS_SUFFIX, RANGES_SUFFIX, ".incomplete"]
        .iter()
        .find_map(|suffix| file_name.strip_suffix(suffix))
}

/// A blob's name: the etag, sha256 (64 hex) for LFS files or git sha1 (40
/// hex) for small ones. It names `blobs/<etag>`, its `.incomplete` and its lock.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobName(String);
name_type!(BlobName);

impl BlobName {
    /// Checks `s`; the error says what a blob name looks like.
    pub fn parse(s: &str) -> Result<Self, Reason> {
        if !matches!(s.len(), 40 | 64) || !is_lower_hex(s) {
            return Err("a blob name is a sha1 (40) or sha256 (64) in lowercase hex".into());
        }
        Ok(Self(s.to_owned()))
    }

    /// `<etag>.incomplete`: a download in progress.
    pub fn incomplete_name(&self) -> String {
        format!("{}.incomplete", self.0)
    }

    /// `<etag>.parts.incomplete`: a download in parallel ranges, preallocated
    /// to the full size. Not `<etag>.incomplete`, which huggingface_hub
    /// resumes from its length: a full-length file with holes would pass
    /// for finished there (`download::parallel` says more).
    pub fn parts_name(&self) -> String {
        format!("{}{PARTS_SUFFIX}", self.0)
    }

    /// `<etag>.ranges.incomplete`: which bytes of the parts file are written.
    pub fn ranges_name(&self) -> String {
        format!("{}{RANGES_SUFFIX}", self.0)
    }

    /// `<etag>.lock`: the lock huggingface_hub takes too.
    pub fn lock_name(&self) -> String {
        format!("{}.lock", self.0)
    }
}

/// A Xet file hash: 64 lowercase hex digits, as the hub lists it (`xetHash`,
/// `X-Xet-Hash`). It names a payload of huggingface_hub 2.5's shared store,
/// `blobs/<first 2>/<hash>`, with its `.refs` and `.lock` beside it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct XetHash(String);
name_type!(XetHash);

impl XetHash {
    /// Checks `s`; the error says what a Xet hash looks like.
    pub fn parse(s: &str) -> Result<Self, Reason> {
        if s.len() != 64 || !is_lower_hex(s) {
            return Err("a Xet hash is 64 lowercase hex digits".into());
        }
        Ok(Self(s.to_owned()))
    }

    /// The store's prefix folder: the first two hex digits.
    pub fn prefix(&self) -> &str {
        &self.0[..2]
    }
}

/// A file's path inside a repo: relative, `/`-separated, each part a plain
/// file name. It becomes `snapshots/<commit>/<path>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoFilePath(String);
name_type!(RepoFilePath);

impl RepoFilePath {
    /// Checks `s` part by part; the error names the part and what is wrong with it.
    pub fn parse(s: &str) -> Result<Self, Reason> {
        if s.is_empty() {
            return Err("the path is empty".into());
        }
        if s.len() > MAX_PATH_BYTES {
            return Err(format!("the path is longer than {MAX_PATH_BYTES} bytes"));
        }
        if s.starts_with('/') {
            return Err("the path is absolute".into());
        }
        if let Some(c) = s.chars().find(|c| *c == '\\' || c.is_control()) {
            return Err(format!("the path contains {}", shown(c)));
        }
        if has_drive_prefix(s) {
            return Err("the path starts with a drive letter".into());
        }
        let parts: Vec<&str> = s.split('/').collect();
        if parts.len() > MAX_PATH_DEPTH {
            return Err(format!(
                "the path is nested deeper than {MAX_PATH_DEPTH} folders"
            ));
        }
        for part in parts {
            check_segment(part)?;
        }
        Ok(Self(s.to_owned()))
    }

    /// `dir/<path>`, with the platform's separators.
    pub fn join_to(&self, dir: &Path) -> PathBuf {
        self.0
            .split('/')
            .fold(dir.to_owned(), |p, part| p.join(part))
    }

    /// How many folders deep the file is (`a/b/c.txt` → 2).
    pub fn depth(&self) -> usize {
        self.0.matches('/').count()
    }

    /// Every folder above the file: `a/b/c.txt` → `a`, `a/b`.
    pub fn parents(&self) -> impl Iterator<Item = &str> {
        self.0.match_indices('/').map(|(i, _)| &self.0[..i])
    }
}

/// `C:` at the start: a drive on Windows, whatever follows.
fn has_drive_prefix(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

fn check_segment(part: &str) -> Result<(), Reason> {
    match part {
        "" => return Err("the path has an empty part ('//' or a trailing '/')".into()),
        "." | ".." => return Err(format!("the path has a '{part}' part")),
        _ => {}
    }
    if part.len() > MAX_SEGMENT_BYTES {
        return Err(format!(
            "a part of the path is longer than {MAX_SEGMENT_BYTES} bytes"
        ));
    }
    if cfg!(windows) {
        check_windows_segment(part)?;
    }
    Ok(())
}

/// Names Windows cannot create or that mean something else there (`NUL`,
/// `a:stream`, a trailing dot). Refused only on Windows: on other systems
/// they are ordinary names, and real repos hold files such as `aux.py`.
fn check_windows_segment(part: &str) -> Result<(), Reason> {
    const RESERVED: [&str; 22] = [
        "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
        "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
    ];
    if let Some(c) = part
        .chars()
        .find(|c| matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*'))
    {
        return Err(format!(
            "the path contains {c:?}, which Windows does not allow"
        ));
    }
    if part.ends_with(['.', ' ']) {
        return Err("a part of the path ends with '.' or a space, which Windows drops".into());
    }
    let stem = part.split('.').next().unwrap_or(part);
    if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(stem)) {
        return Err(format!("{stem:?} is a reserved device name on Windows"));
    }
    Ok(())
}

/// A branch or tag (`main`, `v1.0`, `refs/pr/1`), or a commit asked for by
/// its hash. It becomes `refs/<name>`, so it follows git's rules for ref
/// names where they matter to a path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RefName(String);
name_type!(RefName);

impl RefName {
    /// The branch every repo has, and the default revision.
    pub fn main() -> Self {
        Self("main".into())
    }

    /// Checks `s` against git's ref rules that matter to a path; the error says which.
    pub fn parse(s: &str) -> Result<Self, Reason> {
        if s.is_empty() {
            return Err("it is empty; use a branch (main), a tag or a commit hash".into());
        }
        if s.len() > MAX_REF_BYTES {
            return Err(format!("it is longer than {MAX_REF_BYTES} bytes"));
        }
        if s.starts_with('/') || has_drive_prefix(s) {
            return Err("it must be a branch, tag or commit, not a path".into());
        }
        if let Some(c) = s.chars().find(|c| {
            c.is_control()
                || c.is_whitespace()
                || matches!(c, '\\' | '~' | '^' | ':' | '?' | '*' | '[')
        }) {
            return Err(format!("it contains {}", shown(c)));
        }
        if s.contains("..") || s.contains("@{") {
            return Err("'..' and '@{' are not allowed".into());
        }
        for part in s.split('/') {
            if part.is_empty() {
                return Err("it has an empty part ('//' or a trailing '/')".into());
            }
            // A leading dot would also collide with the `.main.<pid>.tmp`
            // files a ref is written through.
            if part.starts_with('.') || part.ends_with(".lock") {
                return Err("no part may start with '.' or end with '.lock'".into());
            }
        }
        Ok(Self(s.to_owned()))
    }

    /// The commit itself, when the name is one (a pinned revision).
    pub fn as_commit(&self) -> Option<CommitHash> {
        CommitHash::parse(&self.0).ok()
    }

    /// `refs/<name>` under a repo folder.
    pub fn path_in(&self, refs_dir: &Path) -> PathBuf {
        self.0
            .split('/')
            .fold(refs_dir.to_owned(), |p, part| p.join(part))
    }
}

impl Default for RefName {
    fn default() -> Self {
        Self::main()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA1: &str = "0123456789abcdef0123456789abcdef01234567";
    const SHA256: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn partial_files_name_their_etag() {
        let etag = BlobName::parse(SHA256).unwrap();
        for name in [
            etag.incomplete_name(),
            etag.parts_name(),
            etag.ranges_name(),
        ] {
            assert_eq!(partial_etag(&name), Some(SHA256), "{name}");
        }
        assert_eq!(partial_etag(SHA256), None);
        assert_eq!(partial_etag(&etag.lock_name()), None);
    }

    #[test]
    fn commits_are_40_lowercase_hex() {
        CommitHash::parse(SHA1).unwrap();
        for bad in [
            "",
            "..",
            "../../name",
            "/some/absolute/name",
            &SHA1[..39],
            &format!("{SHA1}0"),
            &SHA1.to_uppercase(),
            &format!("{}g", &SHA1[..39]),
            SHA256,
        ] {
            assert!(CommitHash::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn blob_names_are_sha1_or_sha256() {
        BlobName::parse(SHA1).unwrap();
        let b = BlobName::parse(SHA256).unwrap();
        assert_eq!(b.incomplete_name(), format!("{SHA256}.incomplete"));
        for bad in [
            "",
            "..",
            "../../x",
            "not-a-hash",
            &SHA1[..39],
            &format!("{SHA1}.lock"),
        ] {
            assert!(BlobName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn repo_file_paths_stay_inside() {
        for ok in [
            "config.json",
            "onnx/model.onnx",
            "1_Pooling/config.json",
            "a b/é 模型 🙂.txt",
            ".gitattributes",
            "a..b",
        ] {
            RepoFilePath::parse(ok).unwrap_or_else(|e| panic!("{ok:?}: {e}"));
        }
        // Ordinary names elsewhere; Windows cannot create them (see below).
        for only_off_windows in ["aux.py", "..."] {
            assert_eq!(
                RepoFilePath::parse(only_off_windows).is_ok(),
                !cfg!(windows)
            );
        }
        let long = "a".repeat(256);
        let deep = vec!["d"; 65].join("/");
        for (bad, why) in [
            ("", "empty"),
            ("/etc/passwd", "absolute"),
            ("../../../x.json", "'..'"),
            ("a/../../x", "'..'"),
            ("./a", "'.'"),
            ("a//b", "empty part"),
            ("a/", "empty part"),
            ("a\\..\\x", "backslash"),
            ("C:/Windows/x", "drive"),
            ("C:x", "drive"),
            ("//server/share", "absolute"),
            ("\\\\server\\share", "backslash"),
            ("a\0b", "NUL"),
            ("a\nb", "control"),
            ("a\u{7f}b", "control"),
            (long.as_str(), "longer than 255"),
            (deep.as_str(), "deeper"),
        ] {
            let err = RepoFilePath::parse(bad).expect_err(bad);
            assert!(err.contains(why), "{bad:?}: {err} should say {why}");
        }
    }

    #[test]
    fn paths_join_part_by_part() {
        let p = RepoFilePath::parse("a/b/c.txt").unwrap();
        assert_eq!(p.join_to(Path::new("/s")), PathBuf::from("/s/a/b/c.txt"));
        assert_eq!(p.depth(), 2);
        assert_eq!(p.parents().collect::<Vec<_>>(), ["a", "a/b"]);
    }

    #[test]
    fn ref_names_follow_git() {
        for ok in ["main", "v1.0", "refs/pr/1", "release-2026.01", SHA1] {
            RefName::parse(ok).unwrap_or_else(|e| panic!("{ok:?}: {e}"));
        }
        for bad in [
            "",
            "../../name",
            "/etc/passwd",
            "..",
            "a//b",
            "refs/../../x",
            "a\\b",
            "a b",
            "x\0",
            ".hidden",
            "main.lock",
            "a/",
            "C:x",
            "a@{1}",
            "a~1",
        ] {
            assert!(RefName::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(RefName::parse(SHA1).unwrap().as_commit().unwrap(), SHA1);
        assert!(RefName::main().as_commit().is_none());
        assert_eq!(
            RefName::parse("refs/pr/1")
                .unwrap()
                .path_in(Path::new("/r")),
            PathBuf::from("/r/refs/pr/1")
        );
    }

    /// Reserved device names and characters are refused on Windows with a
    /// message that says why (run under Wine by `make test-windows`).
    #[cfg(windows)]
    #[test]
    fn windows_reserved_names_and_characters_are_refused() {
        for (bad, why) in [
            ("CON", "reserved device name"),
            ("onnx/nul.onnx", "reserved device name"),
            ("Com1.txt", "reserved device name"),
            ("a<b.txt", "Windows does not allow"),
            ("model:stream", "Windows does not allow"),
            ("what?.json", "Windows does not allow"),
            ("a|b", "Windows does not allow"),
            ("dir./f", "ends with '.'"),
            ("trailing ", "ends with '.' or a space"),
        ] {
            let err = RepoFilePath::parse(bad).unwrap_err();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
        RepoFilePath::parse("console.json").unwrap();
        RepoFilePath::parse("a/connection.py").unwrap();
    }
}
