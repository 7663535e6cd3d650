//! The hub's API calls (the revision's info, the file listing) under the
//! same patience as the file transfers: a 429, a 5xx, a dropped connection
//! or a stall is tried again after a growing delay, honouring `Retry-After`
//! up to a cap. Without this, one busy moment of the hub failed a download
//! in two seconds that the transfers would have ridden out.

use std::future::Future;
use std::time::Duration;

use reqwest::header::RETRY_AFTER;

use super::config::RetryPolicy;
use crate::cache::RepoId;
use crate::error::{Error, Result};

/// The longest `Retry-After` we honour: a bad header must not park a
/// download for hours.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// How one call failed.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// Worth another try: the hub is busy or the network dropped.
    Transient {
        message: String,
        /// The server's `Retry-After`, when it sent one.
        after: Option<Duration>,
        rate_limited: bool,
    },
    /// Trying again would give the same answer.
    Final(Error),
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError::Final(e)
    }
}

impl ApiError {
    /// A non-success status: 429 and 5xx are transient, the rest is `final_error`.
    pub fn from_status(
        status: reqwest::StatusCode,
        after: Option<Duration>,
        final_error: impl FnOnce() -> Error,
    ) -> Self {
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            ApiError::Transient {
                message: format!("the hub answered {status}"),
                after,
                rate_limited: status == reqwest::StatusCode::TOO_MANY_REQUESTS,
            }
        } else {
            ApiError::Final(final_error())
        }
    }

    /// A request that got no answer: a refused redirect is final (the
    /// server's doing), anything else the network's.
    pub fn from_send(e: &reqwest::Error, repo: &RepoId) -> Self {
        let message = super::http::describe(e);
        if e.is_redirect() || e.is_builder() {
            return ApiError::Final(Error::Network {
                repo: repo.id(),
                message,
            });
        }
        ApiError::Transient {
            message,
            after: None,
            rate_limited: false,
        }
    }
}

/// `Retry-After` in seconds, capped at [`MAX_RETRY_AFTER`].
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let secs: u64 = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

/// Runs `call` until it succeeds, fails for good, or has failed
/// `policy.max_attempts` times in a row; `what` names the call in the message.
pub(crate) async fn retried<T, F, Fut>(
    policy: &RetryPolicy,
    repo: &RepoId,
    what: &str,
    mut call: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (message, after, rate_limited) = match call().await {
            Ok(value) => return Ok(value),
            Err(ApiError::Final(e)) => return Err(e),
            Err(ApiError::Transient {
                message,
                after,
                rate_limited,
            }) => (message, after, rate_limited),
        };
        if attempt >= policy.max_attempts {
            return Err(gave_up(repo, what, &message, attempt, rate_limited));
        }
        let delay = after.unwrap_or_else(|| policy.delay(attempt));
        tracing::info!(repo = %repo, what, %message, ?delay, "hub API call failed; retrying");
        tokio::time::sleep(delay).await;
    }
}

fn gave_up(repo: &RepoId, what: &str, message: &str, attempts: u32, rate_limited: bool) -> Error {
    let advice = if rate_limited {
        "the hub is rate-limiting this machine: wait a few minutes and run it again (a token, HF_TOKEN, gets a higher limit)"
    } else {
        "the hub or the network is down: run it again later; nothing downloaded so far is lost"
    };
    Error::Network {
        repo: repo.id(),
        message: format!("{what}: {message} ({attempts} attempts); {advice}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn fast() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(1),
            ..RetryPolicy::default()
        }
    }

    fn busy() -> ApiError {
        ApiError::Transient {
            message: "the hub answered 429 Too Many Requests".into(),
            after: None,
            rate_limited: true,
        }
    }

    #[tokio::test]
    async fn transient_failures_are_retried_until_it_works() {
        let calls = AtomicU32::new(0);
        let repo = RepoId::model("o/m").unwrap();
        let got = retried(&fast(), &repo, "the file listing", || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(busy()),
                _ => Ok(7),
            }
        })
        .await
        .unwrap();
        assert_eq!((got, calls.load(Ordering::SeqCst)), (7, 3));
    }

    #[tokio::test]
    async fn it_gives_up_with_advice_and_a_final_error_is_not_retried() {
        let repo = RepoId::model("o/m").unwrap();
        let err = retried(&fast(), &repo, "the file listing", || async {
            Err::<(), _>(busy())
        })
        .await
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("(3 attempts)") && msg.contains("rate-limiting"),
            "{msg}"
        );
        let calls = AtomicU32::new(0);
        let err = retried(&fast(), &repo, "info", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(ApiError::Final(Error::NotFound { what: "x".into() }))
        })
        .await
        .unwrap_err();
        assert_eq!(
            (err.kind(), calls.load(Ordering::SeqCst)),
            (crate::ErrorKind::NotFound, 1)
        );
    }

    #[test]
    fn retry_after_is_capped() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(RETRY_AFTER, "99999".parse().unwrap());
        assert_eq!(retry_after(&h), Some(MAX_RETRY_AFTER));
        h.insert(RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
    }
}
