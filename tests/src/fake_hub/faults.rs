//! Misbehaviour the fake hub can be told to show, to test what users meet:
//! dropped connections, slow links, gated repos, server errors, old proxies.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Cut every file transfer after this many bytes of its body (then drop
    /// the connection, as a flaky network does).
    pub cut_after: Option<u64>,
    /// Only the next N transfers are cut (`None`: all of them).
    pub cut_times: Option<u32>,
    /// Stop sending (but keep the connection open) after this many bytes of
    /// the next `stall_times` transfers (default: the next one): a stall.
    pub stall_after: Option<u64>,
    pub stall_times: Option<u32>,
    /// The next transfer (with `only_ranges`, the next answer to a bounded
    /// range) crawls at this many bytes per second, whatever `throttle_bps`
    /// says: one connection a CDN holds back while fresh ones run fast.
    pub crawl_once_bps: Option<u64>,
    /// Cut and stall only answers to a bounded `Range` (`bytes=A-B`, as the
    /// connections of a parallel download ask): the one stream a big file
    /// starts with passes untouched.
    pub only_ranges: bool,
    /// Send each file body at this many bytes per second: a throttle per
    /// connection (each range of a parallel download has its own), as a CDN holds it.
    pub throttle_bps: Option<u64>,
    /// Repos (`org/name`) that answer 401 `GatedRepo` without this token.
    pub gated: Vec<String>,
    /// The token that opens gated repos.
    pub token: Option<String>,
    /// Answer the next N file requests with this status (500, 429, …).
    pub fail_next: u32,
    pub fail_status: Option<u16>,
    /// Answer the next N API requests (repo info, tree listing) with
    /// `fail_api_status` (500 by default; a 429 carries `Retry-After: 1`).
    pub fail_api_next: u32,
    pub fail_api_status: Option<u16>,
    /// Ignore `Range` and always send the whole file with 200 (as some proxies do).
    pub ignore_range: bool,
    /// Answer every request with a `Range` with 416 (a server that refuses ranges).
    pub refuse_range: bool,
    /// Serve these bytes instead of a file's real content (a corrupt mirror).
    pub corrupt_path: Option<String>,
    /// Lies instead of faults (see [`Hostile`]).
    pub hostile: Hostile,
}

/// A hub that lies: the values an attacker in a mirror or proxy would send.
/// Applied to every repo the fake hub serves. Known attacks, to pick from,
/// are in [`attacks`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Hostile {
    /// Sent as the repo's commit (`sha` of the info answer, what `refs/main`
    /// would point to) instead of the real one.
    pub commit: Option<String>,
    /// Sent as the tree listing instead of the real one: raw JSON entries
    /// (`{"type":"file","oid":…,"size":…,"path":…,"lfs":{"oid":…}}`).
    pub listing: Option<Vec<serde_json::Value>>,
    /// Answer every URL that no route knows, and every `resolve` of a path
    /// the repo does not hold, with 200 and this body (a catch-all server).
    pub any_url_body: Option<String>,
    /// File bodies go on past their end by this many bytes of garbage, sent
    /// without a `Content-Length` (chunked), as a broken or hostile server may.
    pub extra_body_bytes: u64,
    /// File bodies are sent with a `Content-Length` (and, for ranges, a
    /// `Content-Range` total) this many bytes larger than the listing says,
    /// and that many garbage bytes more in the body.
    pub overstate_length: u64,
    /// `resolve` answers `302 Found` to `{redirect_files_to}{request path}`
    /// (another origin, a `file://` URL, or itself for a loop).
    pub redirect_files_to: Option<String>,
    /// The tree listing carries `Link: <{next_page}>; rel="next"`.
    pub next_page: Option<String>,
}

/// Values that must never become a path: each one, served by the fake hub,
/// must make a download fail cleanly with nothing written.
pub mod attacks {
    /// File paths a listing may carry.
    pub const PATHS: &[&str] = &[
        "/some/absolute/file.json",
        "../../../x.json",
        "a/../../x.json",
        "..",
        ".",
        "",
        "./config.json",
        "a//b.json",
        "a/",
        "a\\..\\..\\x.json",
        "C:/Windows/x.json",
        "C:x.json",
        "//server/share/x.json",
        "\\\\server\\share\\x.json",
        "a\0b.json",
        "a\nb.json",
        "a\u{7f}b.json",
    ];
    /// Commits (the info's `sha`, the target of `refs/main`).
    pub const COMMITS: &[&str] = &[
        "/some/absolute/name",
        "../../name",
        "..",
        "",
        "abc",
        "0123456789abcdef0123456789abcdef0123456",
        "0123456789abcdef0123456789abcdef012345678",
        "0123456789abcdef0123456789abcdef0123456g",
        "0123456789ABCDEF0123456789ABCDEF01234567",
        "0123456789abcdef0123456789abcdef01234567/..",
    ];
    /// Etags (a listing's `oid` or `lfs.oid`), which name blobs and lock files.
    pub const ETAGS: &[&str] = &[
        "../../name",
        "/some/absolute/name",
        "..",
        "",
        "not-a-hash",
        "0123456789abcdef0123456789abcdef0123456",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg",
        "0123456789abcdef0123456789abcdef01234567.lock",
    ];
    /// Ref names (a `--revision`, later a manifest's `revision`).
    pub const REFS: &[&str] = &[
        "../../name",
        "/etc/passwd",
        "..",
        "",
        "a//b",
        "refs/../../x",
        "a\\b",
        "a b",
        "x\0",
        ".hidden",
        "main.lock",
    ];
}
