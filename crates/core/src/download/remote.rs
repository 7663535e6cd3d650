//! What the hub says about a repo: its commit and file listing, and the URLs
//! and requests for the files themselves. Every answer is untrusted: names
//! are parsed into validated types ([`super::listing`]) before anything is
//! written, redirects are limited, and the token only goes where it is safe.

use std::collections::BTreeMap;

use reqwest::header::{HeaderValue, AUTHORIZATION};

use super::api_retry::{retried, retry_after, ApiError};
use super::config::HubConfig;
use super::http::{self, endpoint_url, is_cleartext_to_another_host};
use super::listing::{self, Refuse, MAX_LISTING_BYTES, MAX_LISTING_FILES, MAX_LISTING_PAGES};
use crate::cache::tree::TreeEntry;
use crate::cache::{BlobName, CommitHash, RefName, RepoFilePath, RepoId, RepoType};
use crate::error::{Error, Result};

/// One file of a commit, with the etag its blob will be named by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    /// Its path in the repo, validated.
    pub path: RepoFilePath,
    /// Its size in bytes.
    pub size: u64,
    /// git blob sha1 (the tree's `oid`).
    pub blob_id: BlobName,
    /// sha256 of an LFS file.
    pub lfs_sha256: Option<BlobName>,
    /// The Xet storage hash, when the hub sent one.
    pub xet_hash: Option<String>,
}

impl RemoteFile {
    /// The blob name, as the hub's `ETag` gives it: sha256 for LFS files,
    /// the git blob sha1 otherwise.
    pub fn etag(&self) -> &BlobName {
        self.lfs_sha256.as_ref().unwrap_or(&self.blob_id)
    }

    /// The entry `trees/<commit>.json` keeps for it.
    pub fn tree_entry(&self) -> TreeEntry {
        TreeEntry {
            size: self.size,
            blob_id: self.blob_id.to_string(),
            lfs_sha256: self.lfs_sha256.as_ref().map(BlobName::to_string),
            lfs_size: self.lfs_sha256.as_ref().map(|_| self.size),
            xet_hash: self.xet_hash.clone(),
        }
    }
}

/// A commit and its files.
#[derive(Debug, Clone)]
pub struct RemoteSnapshot {
    /// The commit the revision resolved to.
    pub commit: CommitHash,
    /// Every file of it.
    pub files: Vec<RemoteFile>,
}

impl RemoteSnapshot {
    /// The listing `trees/<commit>.json` keeps: path → entry.
    pub fn listing(&self) -> BTreeMap<String, TreeEntry> {
        self.files
            .iter()
            .map(|f| (f.path.to_string(), f.tree_entry()))
            .collect()
    }
}

/// The hub, as configured. Every request is ours, through one HTTP client:
/// hf-hub 1.0 reads `HF_TOKEN` and `$HF_HOME/token` on its own whenever it
/// is given no token, so it would send a token we keep back (an `http://`
/// mirror) or one the user never gave this app; its listing lacks the LFS
/// etags and its downloads restart partial files (docs/decisions.md).
#[derive(Debug, Clone)]
pub struct Hub {
    /// What it was built from.
    pub config: HubConfig,
    http: reqwest::Client,
    /// The token we send: the configured one, unless it would travel in
    /// clear text to another machine.
    pub(super) token: Option<String>,
    /// The bandwidth limit; clones of this hub share it.
    pub rate: super::RateLimit,
    /// Permits for connections that fetch files, for every download at once
    /// (`ParallelPolicy::total`); clones of this hub share them.
    pub connections: std::sync::Arc<tokio::sync::Semaphore>,
}

impl Hub {
    /// A bad endpoint is not an error here but at the first request: the
    /// app must start (and show its settings) whatever `HF_ENDPOINT` says.
    pub fn new(config: HubConfig, _cache_dir: &std::path::Path) -> Result<Self> {
        let http = http::client(&config)?;
        let safe_for_token = reqwest::Url::parse(&config.endpoint)
            .is_ok_and(|url| !is_cleartext_to_another_host(&url));
        let token = config
            .token
            .clone()
            .filter(|_| config.allow_http_token || safe_for_token);
        let connections = std::sync::Arc::new(tokio::sync::Semaphore::new(config.parallel.total));
        Ok(Self {
            config,
            http,
            token,
            rate: super::RateLimit::default(),
            connections,
        })
    }

    /// Whether a configured token is kept back (see [`is_cleartext_to_another_host`]).
    pub fn token_withheld(&self) -> bool {
        self.config.token.is_some() && self.token.is_none()
    }

    fn refuse<'a>(&'a self, repo: &'a RepoId) -> Refuse<'a> {
        Refuse {
            endpoint: &self.config.endpoint,
            repo,
        }
    }

    /// Resolves `revision` to a commit and lists its files.
    pub async fn snapshot(&self, id: &RepoId, revision: &RefName) -> Result<RemoteSnapshot> {
        endpoint_url(&self.config.endpoint)?;
        if id.repo_type() != RepoType::Model {
            return Err(Error::InvalidArgument {
                what: "repo type",
                value: id.repo_type().to_string(),
                reason: "only models can be downloaded".into(),
            });
        }
        let sha = retried(&self.config.retry, id, "the revision's info", || {
            self.revision_info(id, revision)
        })
        .await?;
        let commit = self.commit_of(id, revision, &sha)?;
        let files = self.list_files(id, &commit).await?;
        Ok(RemoteSnapshot { commit, files })
    }

    /// The hub's commit for `revision`, validated: a pinned commit must come
    /// back as itself.
    fn commit_of(&self, id: &RepoId, revision: &RefName, sha: &str) -> Result<CommitHash> {
        let refuse = self.refuse(id);
        let commit = CommitHash::parse(sha).map_err(|r| refuse.err("commit", sha, r))?;
        match revision.as_commit() {
            Some(asked) if asked != commit => {
                Err(refuse.err("commit", sha, format!("commit {asked} was asked for")))
            }
            _ => Ok(commit),
        }
    }

    /// path → etag of every file of `commit`, as the hub lists them (for verify).
    pub async fn listing(&self, id: &RepoId, commit: &str) -> Result<BTreeMap<String, String>> {
        if self.config.offline {
            return Err(Error::Offline { repo: id.id() });
        }
        let commit = CommitHash::parse(commit).map_err(|reason| Error::InvalidArgument {
            what: "commit",
            value: commit.to_owned(),
            reason,
        })?;
        let files = self.list_files(id, &commit).await?;
        Ok(files
            .into_iter()
            .map(|f| (f.path.to_string(), f.etag().to_string()))
            .collect())
    }

    /// Every file of `commit`, from the hub's tree API, page by page, with
    /// limits on pages, bytes and files.
    ///
    /// Our own request rather than hf-hub's `list_tree`: hf-hub 1.0 reads the
    /// LFS sha256 from a `sha256` key, but the hub sends it as `lfs.oid`, so
    /// every LFS file would lose the etag its blob is named and verified by.
    async fn list_files(&self, id: &RepoId, commit: &CommitHash) -> Result<Vec<RemoteFile>> {
        let refuse = self.refuse(id);
        let mut url = self.url(&["api", "models"], id, &["tree", commit.as_str()])?;
        url.query_pairs_mut()
            .append_pair("recursive", "true")
            .append_pair("expand", "false");
        let mut files = Vec::new();
        let mut budget = MAX_LISTING_BYTES;
        let mut next = Some(url);
        for _ in 0..MAX_LISTING_PAGES {
            let Some(url) = next.take() else {
                listing::check_whole(&files, refuse)?;
                return Ok(files);
            };
            let (body, link) = retried(&self.config.retry, id, "the file listing", || {
                self.listing_page(url.clone(), id, commit, budget)
            })
            .await?;
            budget -= body.len();
            next = link;
            files.extend(listing::parse_page(&body, refuse)?);
            if files.len() > MAX_LISTING_FILES {
                return Err(listing::too_many(files.len(), refuse));
            }
        }
        Err(refuse.err(
            "file listing",
            &format!("{MAX_LISTING_PAGES} pages"),
            "it goes on past that many pages",
        ))
    }

    /// `GET url` with our token: the answer, whatever its status, unless
    /// it never came or is a redirect that could not be followed.
    async fn api_get(&self, url: reqwest::Url, id: &RepoId) -> Result<reqwest::Response, ApiError> {
        let resp = self
            .authorized(self.http.get(url))
            .send()
            .await
            .map_err(|e| ApiError::from_send(&e, id))?;
        match http::unfollowed_redirect(&resp) {
            Some(message) => Err(ApiError::Final(network(&id.id(), message))),
            None => Ok(resp),
        }
    }

    /// One page of the listing: its body (at most `budget` bytes) and the next page.
    async fn listing_page(
        &self,
        url: reqwest::Url,
        id: &RepoId,
        commit: &CommitHash,
        budget: usize,
    ) -> Result<(Vec<u8>, Option<reqwest::Url>), ApiError> {
        let refuse = self.refuse(id);
        let resp = self.api_get(url, id).await?;
        let status = resp.status();
        if !status.is_success() {
            let after = retry_after(resp.headers());
            return Err(ApiError::from_status(status, after, || {
                self.status_error(status, id, commit.as_str())
            }));
        }
        let next = self.next_page(&resp, refuse)?;
        let body = read_limited(resp, budget, refuse).await?;
        Ok((body, next))
    }

    /// `GET {endpoint}/api/models/{id}/revision/{revision}`: the commit the
    /// revision is at (the answer's `sha`).
    async fn revision_info(&self, id: &RepoId, revision: &RefName) -> Result<String, ApiError> {
        let url = self.url(&["api", "models"], id, &["revision", revision.as_str()])?;
        let resp = self.api_get(url, id).await?;
        let status = resp.status();
        if !status.is_success() {
            let after = retry_after(resp.headers());
            let code = resp
                .headers()
                .get("x-error-code")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            return Err(ApiError::from_status(status, after, || {
                self.info_error(status, code.as_deref(), id, revision.as_str())
            }));
        }
        let body = read_limited(resp, MAX_LISTING_BYTES, self.refuse(id)).await?;
        #[derive(serde::Deserialize)]
        struct Info {
            sha: Option<String>,
        }
        let info: Info = serde_json::from_slice(&body).map_err(|e| {
            let start = String::from_utf8_lossy(&body[..body.len().min(60)]).into_owned();
            self.refuse(id).err(
                "repo info",
                &start,
                format!("it is not the hub's JSON ({e})"),
            )
        })?;
        info.sha.ok_or_else(|| {
            ApiError::Final(Error::Network {
                repo: id.id(),
                message: "the hub did not say which commit the revision is".into(),
            })
        })
    }

    /// The `rel="next"` URL of a `Link` header (the hub paginates long
    /// listings). It must stay on the endpoint's origin: it is fetched with
    /// our token.
    fn next_page(
        &self,
        resp: &reqwest::Response,
        refuse: Refuse<'_>,
    ) -> Result<Option<reqwest::Url>> {
        let Some(link) = resp.headers().get(reqwest::header::LINK) else {
            return Ok(None);
        };
        let text = String::from_utf8_lossy(link.as_bytes());
        let Some(next) = text
            .split(',')
            .find(|part| part.contains("rel=\"next\""))
            .and_then(|part| part.split(['<', '>']).nth(1))
        else {
            return Ok(None);
        };
        let url = reqwest::Url::parse(next)
            .map_err(|e| refuse.err("next-page link", next, e.to_string()))?;
        let endpoint = endpoint_url(&self.config.endpoint)?;
        if url.origin() != endpoint.origin() {
            return Err(refuse.err(
                "next-page link",
                next,
                format!(
                    "it leads away from {}, and our token would go with it",
                    self.config.endpoint
                ),
            ));
        }
        Ok(Some(url))
    }

    /// `{endpoint}/{before…}/{org}/{name}/{after…}`, each part percent-encoded.
    fn url(&self, before: &[&str], id: &RepoId, after: &[&str]) -> Result<reqwest::Url> {
        let bad = |reason: String| Error::InvalidArgument {
            what: "hub endpoint",
            value: self.config.endpoint.clone(),
            reason,
        };
        let mut url = endpoint_url(&self.config.endpoint)?;
        {
            let mut segments = url
                .path_segments_mut()
                .map_err(|()| bad("not a base URL".into()))?;
            segments.pop_if_empty().extend(before);
            if let Some(org) = id.org() {
                segments.push(org);
            }
            segments.push(id.name()).extend(after);
        }
        Ok(url)
    }

    fn authorized(&self, mut req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        if let Some(token) = &self.token {
            if let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}")) {
                req = req.header(AUTHORIZATION, value);
            }
        }
        req
    }

    /// `GET {endpoint}/{org}/{name}/resolve/{commit}/{path}` with our token.
    pub fn file_request(
        &self,
        id: &RepoId,
        commit: &CommitHash,
        path: &RepoFilePath,
    ) -> Result<reqwest::RequestBuilder> {
        let mut after = vec!["resolve", commit.as_str()];
        after.extend(path.as_str().split('/'));
        let url = self.url(&[], id, &after)?;
        Ok(self.authorized(self.http.get(url)))
    }
}

/// The body of a listing page, up to what is left of the listing's budget.
async fn read_limited(
    mut resp: reqwest::Response,
    budget: usize,
    refuse: Refuse<'_>,
) -> Result<Vec<u8>, ApiError> {
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| ApiError::from_send(&e, refuse.repo))?
    {
        if body.len() + chunk.len() > budget {
            return Err(ApiError::Final(refuse.err(
                "file listing",
                &format!("over {MAX_LISTING_BYTES} bytes"),
                "a listing may hold at most that much JSON",
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

pub(crate) fn network(repo: &str, e: impl std::fmt::Display) -> Error {
    Error::Network {
        repo: repo.to_owned(),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(endpoint: &str) -> Hub {
        let env = crate::env::Env::from_pairs([("HF_ENDPOINT", endpoint), ("HF_TOKEN", "tok")]);
        let config = HubConfig::from_env(&env, std::path::Path::new("/nonexistent"));
        Hub::new(config, std::path::Path::new("/nonexistent")).unwrap()
    }

    #[test]
    fn a_ref_with_slashes_is_one_url_segment() {
        let id = RepoId::model("o/m").unwrap();
        let url =
            hub("https://hub.example/").url(&["api", "models"], &id, &["revision", "refs/pr/1"]);
        assert_eq!(
            url.unwrap().as_str(),
            "https://hub.example/api/models/o/m/revision/refs%2Fpr%2F1"
        );
    }

    #[test]
    fn the_token_is_kept_back_from_clear_text_to_another_machine() {
        assert!(!hub("https://hub.example").token_withheld());
        assert!(!hub("http://127.0.0.1:8765").token_withheld());
        assert!(hub("http://mirror.example").token_withheld());
    }
}
