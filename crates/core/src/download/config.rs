//! Where to download from and as whom: endpoint, token, offline mode, and the
//! patience for a bad network. Read once from the environment; never left
//! for hf-hub to read on its own.

use std::path::Path;
use std::time::Duration;

use crate::env::Env;

/// The public hub: where downloads go when neither `HF_ENDPOINT` nor the settings name a mirror.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// Where to download from and as whom, read once (the environment over the settings).
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// `HF_ENDPOINT`, else the public hub (a mirror can be set here).
    pub endpoint: String,
    /// `HF_TOKEN`, else the file `hf auth login` writes (`$HF_HOME/token`).
    pub token: Option<String>,
    /// `HF_HUB_OFFLINE`: refuse to download without touching the network.
    pub offline: bool,
    /// `HAID_ALLOW_HTTP_TOKEN=1`: send the token over plain http to another
    /// machine too (otherwise it is kept back; see `Hub::token_withheld`).
    pub allow_http_token: bool,
    /// `HF_HUB_DISABLE_SYMLINKS`: snapshot files are the blobs themselves,
    /// as huggingface_hub writes them (see `download::placement`).
    pub disable_symlinks: bool,
    /// Downloads of Xet files join huggingface_hub 2.5's shared blob store
    /// (reuse a payload, publish a download): unless `HF_HUB_DISABLE_SHARED_BLOBS`
    /// or `HF_HUB_DISABLE_XET` is set, which turn the store off for Python too.
    pub shared_blobs: bool,
    /// How transfers cope with a bad network.
    pub retry: RetryPolicy,
    /// When and how wide a file is fetched in parallel ranges.
    pub parallel: ParallelPolicy,
}

/// Big files are fetched as several ranges at once: the hub's CDN holds
/// each connection to some tens of MB/s, and 8 connections have been
/// measured at about 10× one (docs/FIELD-NOTES). Small files gain nothing
/// from it and stay one stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParallelPolicy {
    /// Files of at least this many bytes go in ranges (`HAID_PARALLEL_THRESHOLD`).
    pub threshold: u64,
    /// Connections for one file (`HAID_CONNECTIONS_PER_FILE`; 1: one stream).
    pub per_file: usize,
    /// Connections for every download of the process together (`HAID_CONNECTIONS`).
    pub total: usize,
    /// Hash in one pass after the last range instead of following the
    /// ranges (`HAID_HASH_AT_END=1`): the slower way, kept for the benchmark
    /// that compares the two (BENCHMARKS.md, "Parallel ranges").
    pub hash_at_end: bool,
}

impl Default for ParallelPolicy {
    fn default() -> Self {
        Self {
            threshold: 64 << 20,
            per_file: 8,
            total: 16,
            hash_at_end: false,
        }
    }
}

impl ParallelPolicy {
    /// The defaults, with what the environment sets (sizes as curl writes
    /// them: `64M`, or bytes). A value that does not parse is ignored.
    pub fn from_env(env: &Env) -> Self {
        let d = Self::default();
        let number = |key: &str| env.get(key).and_then(|v| super::rate::parse_rate(v).ok());
        let count = |key: &str, default: usize| {
            number(key).map_or(default, |n| {
                usize::try_from(n).unwrap_or(default).clamp(1, 64)
            })
        };
        Self {
            threshold: number("HAID_PARALLEL_THRESHOLD").map_or(d.threshold, |n| n.max(1)),
            per_file: count("HAID_CONNECTIONS_PER_FILE", d.per_file),
            total: count("HAID_CONNECTIONS", d.total),
            hash_at_end: env.flag("HAID_HASH_AT_END"),
        }
    }

    /// Whether a file of `size` bytes is fetched in ranges.
    pub fn splits(&self, size: u64) -> bool {
        self.per_file > 1 && size >= self.threshold
    }
}

/// How a transfer copes with a bad network: a stall (no byte for
/// `stall_timeout`), a dropped connection, a 5xx or 429 is retried after a
/// growing delay. The count restarts whenever bytes arrived, so a long
/// download on a flaky link goes on as long as it moves.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Failures in a row without a byte of progress that make the file fail.
    pub max_attempts: u32,
    /// The wait after the first failure; it doubles with each one.
    pub base_delay: Duration,
    /// The longest wait between two attempts.
    pub max_delay: Duration,
    /// No byte for this long is a stalled connection: it is dropped and retried.
    pub stall_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            stall_timeout: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `n` (1-based) after a failure without progress.
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(16));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

impl HubConfig {
    /// The environment alone (no settings file): `HF_ENDPOINT`, the token, offline mode.
    pub fn from_env(env: &Env, hf_home: &Path) -> Self {
        Self::from_env_and_settings(env, hf_home, &crate::settings::Settings::default())
    }

    /// For a resolved location: its `HF_HOME` token and its settings file.
    pub fn load(env: &Env, location: &crate::location::CacheLocation) -> crate::Result<Self> {
        let settings = crate::settings::Settings::load(&location.settings_file)?;
        Ok(Self::from_env_and_settings(
            env,
            &location.hf_home,
            &settings,
        ))
    }

    /// `HF_ENDPOINT` first, then the endpoint saved in the app's settings.
    pub fn from_env_and_settings(
        env: &Env,
        hf_home: &Path,
        settings: &crate::settings::Settings,
    ) -> Self {
        let endpoint = env
            .get("HF_ENDPOINT")
            .or(settings.endpoint.as_deref())
            .unwrap_or(DEFAULT_ENDPOINT);
        Self {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            token: token(env, hf_home),
            offline: env.flag("HF_HUB_OFFLINE"),
            allow_http_token: env.flag("HAID_ALLOW_HTTP_TOKEN"),
            disable_symlinks: env.flag("HF_HUB_DISABLE_SYMLINKS"),
            shared_blobs: crate::cache::shared_store::enabled(env),
            retry: RetryPolicy::default(),
            parallel: ParallelPolicy::from_env(env),
        }
    }
}

/// `HF_TOKEN`, else `HF_TOKEN_PATH`'s file, else `$HF_HOME/token`, as
/// huggingface_hub looks for it.
fn token(env: &Env, hf_home: &Path) -> Option<String> {
    if let Some(t) = env.get("HF_TOKEN") {
        return Some(t.trim().to_owned());
    }
    let file = env
        .path("HF_TOKEN_PATH", None)
        .unwrap_or_else(|| hf_home.join("token"));
    std::fs::read_to_string(file)
        .ok()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_endpoint_token_and_offline() {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join("token"), "hf_file\n").unwrap();
        let env = Env::from_pairs([
            ("HF_ENDPOINT", "http://mirror:8080/"),
            ("HF_HUB_OFFLINE", "1"),
        ]);
        let c = HubConfig::from_env(&env, home.path());
        assert_eq!(c.endpoint, "http://mirror:8080");
        assert_eq!(c.token.as_deref(), Some("hf_file"));
        assert!(c.offline);
        assert!(!c.disable_symlinks);
        let env = Env::from_pairs([("HF_HUB_DISABLE_SYMLINKS", "1")]);
        assert!(HubConfig::from_env(&env, home.path()).disable_symlinks);
        assert!(c.shared_blobs);
        for off in ["HF_HUB_DISABLE_SHARED_BLOBS", "HF_HUB_DISABLE_XET"] {
            let env = Env::from_pairs([(off, "1")]);
            assert!(
                !HubConfig::from_env(&env, home.path()).shared_blobs,
                "{off}"
            );
        }
        let env = Env::from_pairs([("HF_TOKEN", "hf_env")]);
        let c = HubConfig::from_env(&env, home.path());
        assert_eq!(c.token.as_deref(), Some("hf_env"));
        assert_eq!(c.endpoint, DEFAULT_ENDPOINT);
        assert!(!c.offline);
    }

    #[test]
    fn the_environment_wins_over_the_settings() {
        let home = tempfile::tempdir().unwrap();
        let saved = crate::settings::Settings {
            endpoint: Some("https://mirror.example/".into()),
            ..Default::default()
        };
        let c = HubConfig::from_env_and_settings(&Env::default(), home.path(), &saved);
        assert_eq!(c.endpoint, "https://mirror.example");
        let env = Env::from_pairs([("HF_ENDPOINT", "http://local:1")]);
        assert_eq!(
            HubConfig::from_env_and_settings(&env, home.path(), &saved).endpoint,
            "http://local:1"
        );
    }

    #[test]
    fn parallel_ranges_follow_the_environment() {
        let home = tempfile::tempdir().unwrap();
        let c = HubConfig::from_env(&Env::default(), home.path());
        assert_eq!(c.parallel, ParallelPolicy::default());
        assert!(c.parallel.splits(64 << 20) && !c.parallel.splits((64 << 20) - 1));
        let env = Env::from_pairs([
            ("HAID_PARALLEL_THRESHOLD", "1M"),
            ("HAID_CONNECTIONS_PER_FILE", "4"),
            ("HAID_CONNECTIONS", "lots"),
        ]);
        let p = HubConfig::from_env(&env, home.path()).parallel;
        assert_eq!((p.threshold, p.per_file, p.total), (1 << 20, 4, 16));
        let one = Env::from_pairs([("HAID_CONNECTIONS_PER_FILE", "1")]);
        assert!(!ParallelPolicy::from_env(&one).splits(1 << 40));
    }

    #[test]
    fn backoff_grows_and_caps() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(1), Duration::from_millis(500));
        assert_eq!(p.delay(2), Duration::from_secs(1));
        assert_eq!(p.delay(4), Duration::from_secs(4));
        assert_eq!(p.delay(20), Duration::from_secs(30));
    }
}
