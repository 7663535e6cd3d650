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
}

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
    /// Writes the file (and its folder), replacing it atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::io("write", path, std::io::Error::other(e)))?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text).map_err(|e| Error::io("write", &tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io("write", path, e))
    }
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
        };
        s.save(&file).unwrap();
        assert_eq!(Settings::load(&file).unwrap(), s);
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
