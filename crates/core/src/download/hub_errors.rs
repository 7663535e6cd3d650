//! A hub's refusals, said the way a user can act on: which token went (or
//! was kept back), which repo or revision is missing.

use super::remote::{network, Hub};
use crate::cache::RepoId;
use crate::error::Error;

impl Hub {
    /// A 401/403, said the way a user can act on.
    pub(crate) fn auth_error(&self, id: &RepoId, reason_with_token: &str) -> Error {
        if self.token_withheld() {
            return Error::TokenWithheld {
                repo: id.id(),
                endpoint: self.config.endpoint.clone(),
            };
        }
        Error::Auth {
            repo: id.id(),
            reason: if self.token.is_some() {
                reason_with_token.into()
            } else {
                "no token is set".into()
            },
        }
    }

    /// A failed listing request, said as [`Self::info_error`] says the info's.
    pub(super) fn status_error(
        &self,
        status: reqwest::StatusCode,
        id: &RepoId,
        commit: &str,
    ) -> Error {
        match status.as_u16() {
            401 | 403 => self.auth_error(id, "the token was refused"),
            404 => revision_not_found(&id.id(), commit),
            _ => network(
                &id.id(),
                format!("the hub answered {status} to the file listing"),
            ),
        }
    }

    /// A failed info request, said the way a user can act on. The hub's
    /// `X-Error-Code` says more than the status: a missing repo answers 401
    /// to a request without a token, so as not to tell private repos apart.
    pub(super) fn info_error(
        &self,
        status: reqwest::StatusCode,
        code: Option<&str>,
        id: &RepoId,
        revision: &str,
    ) -> Error {
        let repo = id.id();
        match (status.as_u16(), code) {
            (_, Some("RepoNotFound")) => repo_not_found(&repo),
            (_, Some("RevisionNotFound")) => revision_not_found(&repo, revision),
            (401, Some("GatedRepo")) if self.token.is_none() => self.auth_error(id, ""),
            (401, _) if self.token.is_none() && !self.token_withheld() => Error::Auth {
                repo,
                reason: "needs a token".into(),
            },
            (401, _) => self.auth_error(id, "the token was refused"),
            (403, _) => self.auth_error(id, "this token has no access to it"),
            (404, _) if revision == "main" => repo_not_found(&repo),
            (404, _) => revision_not_found(&repo, revision),
            _ => network(
                &repo,
                format!("the hub answered {status} to the revision's info"),
            ),
        }
    }
}

pub(super) fn repo_not_found(repo: &str) -> Error {
    Error::NotFound {
        what: format!(
            "model {repo} on the hub (check the id; a private model also needs HF_TOKEN)"
        ),
    }
}

pub(super) fn revision_not_found(repo: &str, revision: &str) -> Error {
    Error::NotFound {
        what: format!("revision {revision:?} of {repo} (check the branch, tag or commit)"),
    }
}
