//! What the hub says about a repo: its commit and file listing (through
//! hf-hub), and the URLs and requests for the files themselves.

use std::collections::BTreeMap;

use hf_hub::{HFClient, HFError};
use reqwest::header::{HeaderValue, AUTHORIZATION};

use super::config::HubConfig;
use crate::cache::tree::TreeEntry;
use crate::cache::{RepoId, RepoType};
use crate::error::{Error, Result};

/// One file of a commit, with the etag its blob will be named by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    pub path: String,
    pub size: u64,
    /// git blob sha1 (the tree's `oid`).
    pub blob_id: String,
    /// sha256 of an LFS file.
    pub lfs_sha256: Option<String>,
    pub xet_hash: Option<String>,
}

impl RemoteFile {
    /// The blob name, as the hub's `ETag` gives it: sha256 for LFS files,
    /// the git blob sha1 otherwise.
    pub fn etag(&self) -> &str {
        self.lfs_sha256.as_deref().unwrap_or(&self.blob_id)
    }

    pub fn tree_entry(&self) -> TreeEntry {
        TreeEntry {
            size: self.size,
            blob_id: self.blob_id.clone(),
            lfs_sha256: self.lfs_sha256.clone(),
            lfs_size: self.lfs_sha256.as_ref().map(|_| self.size),
            xet_hash: self.xet_hash.clone(),
        }
    }
}

/// A commit and its files.
#[derive(Debug, Clone)]
pub struct RemoteSnapshot {
    pub commit: String,
    pub files: Vec<RemoteFile>,
}

impl RemoteSnapshot {
    pub fn listing(&self) -> BTreeMap<String, TreeEntry> {
        self.files
            .iter()
            .map(|f| (f.path.clone(), f.tree_entry()))
            .collect()
    }
}

/// The hub, as configured: hf-hub for the API, and the same HTTP client for
/// our ranged file transfers.
#[derive(Debug, Clone)]
pub struct Hub {
    pub config: HubConfig,
    client: HFClient,
    http: reqwest::Client,
}

impl Hub {
    pub fn new(config: HubConfig, cache_dir: &std::path::Path) -> Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("haid-models/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(15))
            // A read that waits longer than this is a stall: retried, resumed.
            .read_timeout(config.retry.stall_timeout)
            .build()
            .map_err(|e| network("client", e))?;
        let mut builder = HFClient::builder()
            .endpoint(config.endpoint.clone())
            .cache_dir(cache_dir)
            .client(http.clone());
        if let Some(token) = &config.token {
            builder = builder.token(token.clone());
        }
        let client = builder.build().map_err(|e| Error::InvalidArgument {
            what: "hub endpoint",
            value: config.endpoint.clone(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            config,
            client,
            http,
        })
    }

    /// Resolves `revision` to a commit and lists its files.
    pub async fn snapshot(&self, id: &RepoId, revision: &str) -> Result<RemoteSnapshot> {
        if id.repo_type() != RepoType::Model {
            return Err(Error::InvalidArgument {
                what: "repo type",
                value: id.repo_type().to_string(),
                reason: "only models can be downloaded".into(),
            });
        }
        let repo = self.client.model(id.org().unwrap_or_default(), id.name());
        let info = repo
            .info()
            .revision(revision.to_owned())
            .send()
            .await
            .map_err(|e| hub_error(e, id, revision, self.config.token.is_some()))?;
        let commit = info.sha.ok_or_else(|| Error::Network {
            repo: id.id(),
            message: "the hub did not say which commit the revision is".into(),
        })?;
        let files = self.list_files(id, &commit).await?;
        Ok(RemoteSnapshot { commit, files })
    }

    /// path → etag of every file of `commit`, as the hub lists them (for verify).
    pub async fn listing(
        &self,
        id: &RepoId,
        commit: &str,
    ) -> Result<std::collections::BTreeMap<String, String>> {
        if self.config.offline {
            return Err(Error::Offline { repo: id.id() });
        }
        let files = self.list_files(id, commit).await?;
        Ok(files
            .into_iter()
            .map(|f| (f.path.clone(), f.etag().to_owned()))
            .collect())
    }

    /// Every file of `commit`, from the hub's tree API, page by page.
    ///
    /// Our own request rather than hf-hub's `list_tree`: hf-hub 1.0 reads the
    /// LFS sha256 from a `sha256` key, but the hub sends it as `lfs.oid`, so
    /// every LFS file would lose the etag its blob is named and verified by.
    async fn list_files(&self, id: &RepoId, commit: &str) -> Result<Vec<RemoteFile>> {
        let mut url = self.url(&["api", "models"], id, &["tree", commit])?;
        url.query_pairs_mut()
            .append_pair("recursive", "true")
            .append_pair("expand", "false");
        let mut files = Vec::new();
        let mut next = Some(url);
        while let Some(url) = next.take() {
            let resp = self
                .authorized(self.http.get(url))
                .send()
                .await
                .map_err(|e| network(&id.id(), e))?;
            let status = resp.status();
            if !status.is_success() {
                return Err(status_error(
                    status,
                    id,
                    commit,
                    self.config.token.is_some(),
                ));
            }
            next = next_page(&resp);
            let page: Vec<TreeItem> = resp.json().await.map_err(|e| network(&id.id(), e))?;
            files.extend(
                page.into_iter()
                    .filter(|i| i.kind == "file")
                    .map(TreeItem::into_remote),
            );
        }
        Ok(files)
    }

    /// `{endpoint}/{before…}/{org}/{name}/{after…}`, each part percent-encoded.
    fn url(&self, before: &[&str], id: &RepoId, after: &[&str]) -> Result<reqwest::Url> {
        let bad = |reason: String| Error::InvalidArgument {
            what: "hub endpoint",
            value: self.config.endpoint.clone(),
            reason,
        };
        let mut url = reqwest::Url::parse(&self.config.endpoint).map_err(|e| bad(e.to_string()))?;
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
        if let Some(token) = &self.config.token {
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
        commit: &str,
        path: &str,
    ) -> Result<reqwest::RequestBuilder> {
        let mut after = vec!["resolve", commit];
        after.extend(path.split('/'));
        let url = self.url(&[], id, &after)?;
        Ok(self.authorized(self.http.get(url)))
    }
}

/// One entry of the hub's tree API.
#[derive(Debug, serde::Deserialize)]
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

#[derive(Debug, serde::Deserialize)]
struct LfsItem {
    oid: String,
}

impl TreeItem {
    fn into_remote(self) -> RemoteFile {
        RemoteFile {
            path: self.path,
            size: self.size,
            blob_id: self.oid,
            lfs_sha256: self.lfs.map(|l| l.oid),
            xet_hash: self.xet_hash,
        }
    }
}

/// The `rel="next"` URL of a `Link` header (the hub paginates long listings).
fn next_page(resp: &reqwest::Response) -> Option<reqwest::Url> {
    let link = resp.headers().get(reqwest::header::LINK)?.to_str().ok()?;
    link.split(',')
        .find(|part| part.contains("rel=\"next\""))
        .and_then(|part| part.split(['<', '>']).nth(1))
        .and_then(|u| reqwest::Url::parse(u).ok())
}

/// A failed listing request, said as hub_error says hf-hub's.
fn status_error(status: reqwest::StatusCode, id: &RepoId, commit: &str, has_token: bool) -> Error {
    match status.as_u16() {
        401 | 403 => Error::Auth {
            repo: id.id(),
            reason: if has_token {
                "the token was refused".into()
            } else {
                "no token is set".into()
            },
        },
        404 => revision_not_found(&id.id(), commit),
        _ => network(
            &id.id(),
            format!("the hub answered {status} to the file listing"),
        ),
    }
}

pub(crate) fn network(repo: &str, e: impl std::fmt::Display) -> Error {
    Error::Network {
        repo: repo.to_owned(),
        message: e.to_string(),
    }
}

/// hf-hub's errors, said the way a user can act on.
fn hub_error(e: HFError, id: &RepoId, revision: &str, has_token: bool) -> Error {
    let repo = id.id();
    // The hub's X-Error-Code says more than which call failed: hf-hub
    // reports a missing repo as a missing revision when one was asked for.
    let code = match &e {
        HFError::AuthRequired { context } | HFError::Forbidden { context } => {
            context.error_code.clone()
        }
        HFError::RepoNotFound { context, .. } | HFError::RevisionNotFound { context, .. } => {
            context.as_ref().and_then(|c| c.error_code.clone())
        }
        _ => None,
    };
    match (e, code.as_deref()) {
        (HFError::AuthRequired { .. }, code) => Error::Auth {
            repo,
            reason: match (code, has_token) {
                (_, true) => "the token was refused".into(),
                (Some("GatedRepo"), false) => "no token is set".into(),
                _ => "needs a token".into(),
            },
        },
        (HFError::Forbidden { .. }, _) => Error::Auth {
            repo,
            reason: "this token has no access to it".into(),
        },
        (HFError::RepoNotFound { .. } | HFError::RevisionNotFound { .. }, Some("RepoNotFound")) => {
            repo_not_found(&repo)
        }
        (
            HFError::RepoNotFound { .. } | HFError::RevisionNotFound { .. },
            Some("RevisionNotFound"),
        ) => revision_not_found(&repo, revision),
        (HFError::RevisionNotFound { .. }, _) => revision_not_found(&repo, revision),
        (HFError::RepoNotFound { .. }, _) => repo_not_found(&repo),
        (other, _) => network(&repo, other),
    }
}

fn repo_not_found(repo: &str) -> Error {
    Error::NotFound {
        what: format!(
            "model {repo} on the hub (check the id; a private model also needs HF_TOKEN)"
        ),
    }
}

fn revision_not_found(repo: &str, revision: &str) -> Error {
    Error::NotFound {
        what: format!("revision {revision:?} of {repo} (check the branch, tag or commit)"),
    }
}
