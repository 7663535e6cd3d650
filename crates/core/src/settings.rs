//! The app's settings file (JSON). The CLI only reads it; the desktop app
//! writes it, through [`Settings::apply`] (in `page`, with the view the page shows).

mod page;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::manifest::local_file::{self, Refusal, SETTINGS_LIMIT};

pub use page::{SettingsUpdate, SettingsView};

/// What the user chose in the app. Unknown keys are kept out of the way
/// (ignored) so an older CLI reads a newer app's file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Where the user moved the cache to (rule 4 of the cache location).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_dir: Option<PathBuf>,
    /// A hub mirror to download from; `HF_ENDPOINT` wins when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Models downloaded at once (each with up to 8 files at once).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
    /// Whether the app asks the hub for updates at start and daily (on
    /// unless turned off; never under `HF_HUB_OFFLINE`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_updates: Option<bool>,
    /// Keep the cache under this many bytes (`prune --keep-under`); off when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_under: Option<u64>,
    /// Apply the budget without asking, whenever the cache goes over it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_under_auto: Option<bool>,
    /// The bandwidth of all downloads together, bytes per second; none when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_rate: Option<u64>,
}

/// The most models a user may download at once.
pub const MAX_CONCURRENCY: usize = 8;

impl Settings {
    /// Reads the file; a missing file means defaults. A broken one, one that
    /// is no regular file or is too big (refused before it is read: the path
    /// may be a FIFO or `/dev/zero`), and a bad value are errors naming the
    /// file and what to fix.
    pub fn load(path: &Path) -> Result<Self> {
        let settings_error = |message: String| Error::Settings {
            path: path.to_owned(),
            message,
        };
        let text = match local_file::read_text(path, SETTINGS_LIMIT) {
            Ok(text) => text,
            Err(refusal) if refusal.is_not_found() => return Ok(Self::default()),
            Err(Refusal::Io(e)) => return Err(Error::io("read settings file", path, e)),
            Err(refusal) => return Err(settings_error(refusal.describe())),
        };
        let settings: Self = serde_json::from_str(&text).map_err(|e| {
            settings_error(format!(
                "not valid JSON at line {} column {} ({e})",
                e.line(),
                e.column()
            ))
        })?;
        // Checked here, not where each value is used: a bad value would
        // otherwise fail later, far from the file that holds it.
        match settings.bad_value() {
            Some(bad) => Err(settings_error(bad.to_string())),
            None => Ok(settings),
        }
    }

    /// Refuses the values that [`Settings::load`] refuses, for a change made
    /// in the app (no file to blame yet): the same rules, the same words.
    pub fn validate(&self) -> Result<()> {
        match self.bad_value() {
            Some(bad) => Err(Error::InvalidArgument {
                what: bad.key,
                value: match bad.value {
                    Value::String(text) => text,
                    other => other.to_string(),
                },
                reason: bad.rule,
            }),
            None => Ok(()),
        }
    }

    /// The first value that would fail later: a concurrency outside
    /// 1..=8, an endpoint that is not an http(s) URL, a cache dir that would
    /// move with the current directory.
    pub fn bad_value(&self) -> Option<BadValue> {
        let bad = |key, value: Value, rule: String| Some(BadValue { key, value, rule });
        if let Some(n) = self
            .concurrency
            .filter(|n| !(1..=MAX_CONCURRENCY).contains(n))
        {
            return bad(
                "concurrency",
                n.into(),
                format!(
                    "concurrency must be 1 to {MAX_CONCURRENCY} (the models downloaded at once)"
                ),
            );
        }
        if let Some(url) = self.endpoint.as_ref().filter(|u| !is_http_url(u)) {
            return bad(
                "endpoint",
                url.as_str().into(),
                "endpoint must be an http(s) URL, e.g. https://hf-mirror.com".into(),
            );
        }
        if let Some(dir) = self.cache_dir.as_ref().filter(|d| !is_absolute(d)) {
            return bad(
                "cache_dir",
                dir.to_string_lossy().into(),
                "cache_dir must be an absolute path (or start with ~/), e.g. /data/hf/hub".into(),
            );
        }
        None
    }

    /// Writes the file (and its folder), replacing it atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::io("write", path, std::io::Error::other(e)))?;
        crate::atomic_file::write_atomically(path, text.as_bytes())
    }
}

/// A settings value refused: its key, the value as JSON shows it, the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadValue {
    /// The key in the file (`concurrency`).
    pub key: &'static str,
    /// The value found.
    pub value: Value,
    /// What a good value looks like.
    pub rule: String,
}

/// `"concurrency" is 0, but concurrency must be 1 to 8 (…)`. The value is
/// shown as JSON: quoted, and with any control character escaped.
impl fmt::Display for BadValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\" is {}, but {}", self.key, self.value, self.rule)
    }
}

/// An http(s) URL with a host, and nothing in it that a URL parser would
/// quietly drop (spaces, control characters). The manifest's links too.
pub(crate) fn is_http_url(text: &str) -> bool {
    !text.contains(|c: char| c.is_whitespace() || c.is_control())
        && url::Url::parse(text).is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
        })
}

/// Absolute, or from the home directory (`~`, `~/…`), as the cache
/// location reads it; a relative path would follow the current directory.
fn is_absolute(dir: &Path) -> bool {
    let text = dir.to_string_lossy();
    let after_home = text.strip_prefix('~');
    dir.is_absolute()
        || after_home.is_some_and(|rest| {
            rest.is_empty() || rest.starts_with('/') || rest.starts_with(std::path::MAIN_SEPARATOR)
        })
}

/// Saves a hub token where `hf auth login` does (`$HF_HOME/token`), readable
/// by its owner only. The token is never read back to be shown.
pub fn save_token(hf_home: &Path, token: &str) -> Result<PathBuf> {
    let token = token.trim();
    if token.is_empty() || token.contains(char::is_whitespace) {
        return Err(Error::InvalidArgument {
            what: "token",
            value: "(hidden)".into(),
            reason:
                "paste the whole token from https://huggingface.co/settings/tokens, without spaces"
                    .into(),
        });
    }
    std::fs::create_dir_all(hf_home).map_err(|e| Error::io("create", hf_home, e))?;
    let path = hf_home.join("token");
    let tmp = hf_home.join("token.tmp");
    write_private(&tmp, token).map_err(|e| Error::io("write", &tmp, e))?;
    crate::fs_retry::rename(&tmp, &path)?;
    Ok(path)
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An absolute folder on this system (a path without a drive is not one on Windows).
    pub(crate) const DATA_HUB: &str = if cfg!(windows) {
        "C:/data/hub"
    } else {
        "/data/hub"
    };

    #[test]
    fn missing_file_is_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let s = Settings::load(&dir.path().join("nope.json")).unwrap();
        assert_eq!(s, Settings::default());
    }

    #[test]
    fn reads_cache_dir_and_ignores_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("settings.json");
        std::fs::write(
            &file,
            format!(r#"{{"cache_dir": "{DATA_HUB}", "theme": "dark"}}"#),
        )
        .unwrap();
        let s = Settings::load(&file).unwrap();
        assert_eq!(s.cache_dir, Some(PathBuf::from(DATA_HUB)));
    }

    #[test]
    fn saved_settings_load_back() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("deep/settings.json");
        let s = Settings {
            cache_dir: Some(DATA_HUB.into()),
            endpoint: Some("https://hf-mirror.com".into()),
            concurrency: Some(3),
            check_updates: Some(false),
            keep_under: Some(50_000_000_000),
            keep_under_auto: Some(false),
            limit_rate: Some(10 << 20),
        };
        s.save(&file).unwrap();
        assert_eq!(Settings::load(&file).unwrap(), s);
    }

    #[test]
    fn values_are_checked() {
        let bad_url = Settings {
            endpoint: Some("ftp://x".into()),
            ..Settings::default()
        };
        assert!(bad_url
            .validate()
            .unwrap_err()
            .to_string()
            .contains("http(s) URL"));
        let too_many = Settings {
            concurrency: Some(99),
            ..Settings::default()
        };
        assert_eq!(
            too_many.validate().unwrap_err().to_string(),
            "invalid concurrency \"99\": concurrency must be 1 to 8 (the models downloaded at once)"
        );
        let relative = Settings {
            cache_dir: Some("hub".into()),
            ..Settings::default()
        };
        assert!(relative
            .validate()
            .unwrap_err()
            .to_string()
            .contains("cache_dir must be an absolute path"));
        Settings {
            endpoint: Some("http://127.0.0.1:8088".into()),
            concurrency: Some(2),
            ..Settings::default()
        }
        .validate()
        .unwrap();
    }

    /// The message a user sees for a settings file holding `json`.
    fn load_error(json: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("settings.json");
        std::fs::write(&file, json).unwrap();
        let err = Settings::load(&file).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Settings, "{err}");
        let msg = err.to_string();
        assert!(msg.contains(&file.display().to_string()), "{msg}");
        msg
    }

    #[test]
    fn bad_values_in_the_file_name_file_key_value_and_fix() {
        let msg = load_error(r#"{"concurrency": 0}"#);
        assert!(
            msg.contains(r#""concurrency" is 0, but concurrency must be 1 to 8"#),
            "{msg}"
        );
        assert!(msg.contains("Fix the file or delete it"), "{msg}");
        let msg = load_error(r#"{"endpoint": "file:///etc/passwd"}"#);
        assert!(
            msg.contains(
                r#""endpoint" is "file:///etc/passwd", but endpoint must be an http(s) URL"#
            ),
            "{msg}"
        );
        let msg = load_error(r#"{"cache_dir": "models/hub"}"#);
        assert!(
            msg.contains(r#""cache_dir" is "models/hub", but cache_dir must be an absolute path"#),
            "{msg}"
        );
        // Control characters in a value are shown escaped, as JSON writes them.
        let msg = load_error("{\"endpoint\": \"http://a\\u001b[31m\"}");
        assert!(msg.contains(r#""http://a\u001b[31m""#), "{msg}");
        assert!(!msg.contains('\u{1b}'), "{msg}");
    }

    #[test]
    fn good_values_load() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("settings.json");
        for json in [
            format!(
                r#"{{"concurrency": 1, "endpoint": "http://127.0.0.1:8088/", "cache_dir": "{DATA_HUB}"}}"#
            ),
            r#"{"concurrency": 8, "cache_dir": "~/hf/hub"}"#.to_owned(),
            r#"{"cache_dir": "~"}"#.to_owned(),
        ] {
            std::fs::write(&file, &json).unwrap();
            Settings::load(&file).unwrap_or_else(|e| panic!("{json}: {e}"));
        }
    }

    #[test]
    fn endpoints_need_a_scheme_and_a_host() {
        for url in ["https://hf-mirror.com", "http://[::1]:80/hub"] {
            assert!(is_http_url(url), "{url}");
        }
        for url in [
            "http://",
            "ftp://x",
            "hf-mirror.com",
            "https://a b",
            "https://a\n",
        ] {
            assert!(!is_http_url(url), "{url}");
        }
    }

    #[test]
    fn a_too_big_file_is_refused_before_it_is_read() {
        let msg = load_error(&" ".repeat(2 * 1024 * 1024));
        assert!(msg.contains("more than the 1 MiB limit"), "{msg}");
    }

    #[cfg(unix)]
    #[test]
    fn a_device_is_not_a_settings_file() {
        let err = Settings::load(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "settings file /dev/zero: it is not a regular file but a character device. \
             Fix the file or delete it to go back to the defaults."
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_token_is_saved_like_hf_auth_login_and_private() {
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::tempdir().unwrap();
        let path = save_token(home.path(), " hf_abc123 \n").unwrap();
        assert_eq!(path, home.path().join("token"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "hf_abc123");
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(save_token(home.path(), "two words").is_err());
    }

    #[test]
    fn broken_file_names_file_and_position() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("settings.json");
        std::fs::write(&file, "{\n  \"cache_dir\": 3\n}").unwrap();
        let msg = Settings::load(&file).unwrap_err().to_string();
        assert!(msg.contains("settings.json"), "{msg}");
        assert!(msg.contains("line 2"), "{msg}");
        assert!(msg.contains("delete it"), "{msg}");
    }
}
