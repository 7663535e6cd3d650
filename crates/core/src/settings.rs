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
