//! The HTTP side of talking to a hub: which endpoints we speak to, which
//! redirects we follow, and when a token may travel. The rules are in
//! docs/security.md ("Redirects and tokens").

use crate::error::{Error, Result};

/// Redirects followed for one request (the hub's own take one or two: to
/// the CDN, or from a renamed repo).
pub const MAX_REDIRECTS: usize = 5;

/// The client every hub request goes through (hf-hub's and ours).
pub(crate) fn client(config: &super::HubConfig) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("haid-models/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(std::time::Duration::from_secs(15))
        // A read that waits longer than this is a stall: retried, resumed.
        .read_timeout(config.retry.stall_timeout)
        .redirect(redirect_policy())
        .build()
        .map_err(|e| Error::Network {
            repo: "client".into(),
            message: describe(&e),
        })
}

/// The endpoint as a URL; only `http` and `https` are spoken.
pub(crate) fn endpoint_url(endpoint: &str) -> Result<reqwest::Url> {
    let bad = |reason: String| Error::InvalidArgument {
        what: "hub endpoint",
        value: endpoint.to_owned(),
        reason,
    };
    let url =
        reqwest::Url::parse(endpoint).map_err(|e| bad(format!("{e}; write it as https://host")))?;
    match url.scheme() {
        "http" | "https" if url.host().is_some() => Ok(url),
        "http" | "https" => Err(bad("it has no host".into())),
        other => Err(bad(format!("{other}: is not http or https"))),
    }
}

/// Plain http to a host other than this machine: a token sent there can be
/// read by anyone on the way, so it is kept back unless
/// `HAID_ALLOW_HTTP_TOKEN=1` says otherwise.
pub fn is_cleartext_to_another_host(url: &reqwest::Url) -> bool {
    use url::Host;
    if url.scheme() != "http" {
        return false;
    }
    match url.host() {
        Some(Host::Ipv4(ip)) => !ip.is_loopback(),
        Some(Host::Ipv6(ip)) => !ip.is_loopback(),
        Some(Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d != "localhost" && !d.ends_with(".localhost")
        }
        None => true,
    }
}

/// At most [`MAX_REDIRECTS`], only to http(s), never from https down to
/// http. The token is not ours to guard here: reqwest drops `Authorization`
/// whenever a redirect changes scheme, host or port (tests/tests/hub_tokens.rs
/// proves it stays so).
pub(crate) fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let (next, previous) = (attempt.url(), attempt.previous());
        if previous.len() > MAX_REDIRECTS {
            let msg = format!("more than {MAX_REDIRECTS} redirects in a row; the server is misconfigured or hostile");
            return attempt.error(msg);
        }
        match next.scheme() {
            "http" | "https" => {}
            other => {
                let msg = format!(
                    "a redirect to a {other}: URL was refused; only http and https are followed"
                );
                return attempt.error(msg);
            }
        }
        if next.scheme() == "http" && previous.last().is_some_and(|p| p.scheme() == "https") {
            let msg = format!(
                "a redirect from https down to plain http ({}) was refused",
                next.as_str()
            );
            return attempt.error(msg);
        }
        attempt.follow()
    })
}

/// The message for a redirect reqwest handed back instead of following: its
/// `Location` is not a URL it can request (`file:///etc`, garbage), so the
/// redirect policy never saw it.
pub(crate) fn unfollowed_redirect(resp: &reqwest::Response) -> Option<String> {
    if !resp.status().is_redirection() {
        return None;
    }
    let location = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    Some(format!(
        "a redirect to {location:?} was refused; only http and https are followed"
    ))
}

/// A reqwest error with its causes: its own text leaves out why a redirect
/// or a connection failed.
pub(crate) fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clear_text_is_only_allowed_to_this_machine() {
        let url = |s: &str| reqwest::Url::parse(s).unwrap();
        for local in [
            "http://127.0.0.1:8765",
            "http://127.5.0.1",
            "http://[::1]:80",
            "http://localhost:1",
            "http://LOCALHOST.",
            "http://hub.localhost",
            "https://mirror.example",
        ] {
            assert!(!is_cleartext_to_another_host(&url(local)), "{local}");
        }
        for remote in [
            "http://mirror.example",
            "http://10.0.0.2:8080",
            "http://[fe80::1]",
            "http://localhost.evil.com",
        ] {
            assert!(is_cleartext_to_another_host(&url(remote)), "{remote}");
        }
    }

    #[test]
    fn only_http_endpoints_are_spoken() {
        endpoint_url("https://huggingface.co").unwrap();
        endpoint_url("http://127.0.0.1:9").unwrap();
        for bad in ["file:///etc", "ftp://x", "huggingface.co", "http://"] {
            let err = endpoint_url(bad).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument, "{bad}");
        }
    }
}
