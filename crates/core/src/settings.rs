//! The app's settings file (JSON). The CLI only reads it; the desktop app writes it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

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
}

/// The most models a user may download at once.
pub const MAX_CONCURRENCY: usize = 8;

impl Settings {
    /// Reads the file; a missing file means defaults, a broken one is an error
    /// naming the file, line and column.
    pub fn load(path: &Path) -> Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(Error::io("read settings file", path, e)),
        };
        serde_json::from_str(&text).map_err(|e| Error::Settings {
            path: path.to_owned(),
            message: format!(
                "not valid JSON at line {} column {} ({e})",
                e.line(),
                e.column()
            ),
        })
    }
}

impl Settings {
    /// Refuses values that would fail later: an endpoint that is not an
    /// http(s) URL, a concurrency outside 1..=8.
    pub fn validate(&self) -> Result<()> {
        if let Some(url) = &self.endpoint {
            if !(url.starts_with("https://") || url.starts_with("http://"))
                || url.contains(char::is_whitespace)
            {
                return Err(Error::InvalidArgument {
                    what: "hub endpoint",
                    value: url.clone(),
                    reason: "write it as an http(s) URL, e.g. https://hf-mirror.com".into(),
                });
            }
        }
        if let Some(n) = self.concurrency {
            if !(1..=MAX_CONCURRENCY).contains(&n) {
                return Err(Error::InvalidArgument {
                    what: "download concurrency",
                    value: n.to_string(),
                    reason: format!("choose from 1 to {MAX_CONCURRENCY} models at once"),
                });
            }
        }
        Ok(())
    }

    /// Writes the file (and its folder), replacing it atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::io("write", path, std::io::Error::other(e)))?;
        crate::atomic_file::write_atomically(path, text.as_bytes())
    }
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
    std::fs::rename(&tmp, &path).map_err(|e| Error::io("write", &path, e))?;
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
        std::fs::write(&file, r#"{"cache_dir": "/data/hub", "theme": "dark"}"#).unwrap();
        let s = Settings::load(&file).unwrap();
        assert_eq!(s.cache_dir, Some(PathBuf::from("/data/hub")));
    }

    #[test]
    fn saved_settings_load_back() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("deep/settings.json");
        let s = Settings {
            cache_dir: Some("/data/hub".into()),
            endpoint: Some("https://hf-mirror.com".into()),
            concurrency: Some(3),
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
        assert!(too_many
            .validate()
            .unwrap_err()
            .to_string()
            .contains("1 to 8"));
        Settings {
            endpoint: Some("http://127.0.0.1:8088".into()),
            concurrency: Some(2),
            ..Settings::default()
        }
        .validate()
        .unwrap();
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
