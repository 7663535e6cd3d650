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
    /// Send file bodies at this many bytes per second.
    pub throttle_bps: Option<u64>,
    /// Repos (`org/name`) that answer 401 `GatedRepo` without this token.
    pub gated: Vec<String>,
    /// The token that opens gated repos.
    pub token: Option<String>,
    /// Answer the next N file requests with this status (500, 429, …).
    pub fail_next: u32,
    pub fail_status: Option<u16>,
    /// Ignore `Range` and always send the whole file with 200 (as some proxies do).
    pub ignore_range: bool,
    /// Serve these bytes instead of a file's real content (a corrupt mirror).
    pub corrupt_path: Option<String>,
}
