//! The process environment, read once and injected everywhere.
//!
//! Tests build an [`Env`] from pairs instead of mutating the real environment,
//! which is process-global and races between parallel tests.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A snapshot of environment variables. An empty value counts as unset,
/// as it does for `huggingface_hub`.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    /// The environment of this process (variables that are not UTF-8 are skipped).
    pub fn from_process() -> Self {
        Self::from_pairs(std::env::vars())
    }

    /// An environment of these variables only: for tests, and for the app's own choices.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let vars = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Self { vars }
    }

    /// The value of `key`, or `None` when it is unset or empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A boolean flag in the forms `huggingface_hub` accepts (`1`, `true`, `yes`, `on`).
    pub fn flag(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| {
            matches!(
                v.to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on" | "y" | "t"
            )
        })
    }

    /// A path-valued variable with `~` and `$VAR` expanded.
    pub fn path(&self, key: &str, home: Option<&Path>) -> Option<PathBuf> {
        self.get(key).map(|v| self.expand_path(v, home))
    }

    /// Expands like Python's `os.path.expandvars(os.path.expanduser(value))`,
    /// which is what `huggingface_hub` does to `HF_HOME` and `HF_HUB_CACHE`.
    pub fn expand_path(&self, value: &str, home: Option<&Path>) -> PathBuf {
        PathBuf::from(self.expand_vars(&expand_user(
            value,
            self.get("HOME").map(Path::new).or(home),
        )))
    }

    /// `$NAME` and `${NAME}` are replaced when NAME is set; anything else is left
    /// as written, as Python does. Hand-written because the crates for this
    /// (shellexpand) treat an unknown variable as an error, not as literal text.
    fn expand_vars(&self, value: &str) -> String {
        let mut out = String::with_capacity(value.len());
        let mut rest = value;
        while let Some(dollar) = rest.find('$') {
            out.push_str(&rest[..dollar]);
            let after = &rest[dollar + 1..];
            let (name, consumed) = match after.strip_prefix('{') {
                Some(braced) => match braced.find('}') {
                    Some(end) => (&braced[..end], end + 2),
                    None => ("", 0),
                },
                None => {
                    let end = after
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .unwrap_or(after.len());
                    (&after[..end], end)
                }
            };
            match self.vars.get(name).filter(|_| !name.is_empty()) {
                Some(v) => out.push_str(v),
                None => out.push_str(&rest[dollar..dollar + 1 + consumed]),
            }
            rest = &after[consumed..];
        }
        out.push_str(rest);
        out
    }
}

/// `~` or `~/…` at the start becomes the home directory (`~user` is left alone:
/// there is no portable way to look another user up, and nobody sets HF_HOME so).
fn expand_user(value: &str, home: Option<&Path>) -> String {
    let Some(home) = home else {
        return value.to_owned();
    };
    match value.strip_prefix('~') {
        Some("") => home.to_string_lossy().into_owned(),
        Some(rest) if rest.starts_with('/') || rest.starts_with(std::path::MAIN_SEPARATOR) => {
            format!("{}{}", home.to_string_lossy(), rest)
        }
        _ => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn empty_counts_as_unset() {
        let e = env(&[("HF_HOME", ""), ("X", "1")]);
        assert_eq!(e.get("HF_HOME"), None);
        assert_eq!(e.get("X"), Some("1"));
        assert_eq!(e.get("MISSING"), None);
    }

    #[test]
    fn expands_home_then_vars() {
        let e = env(&[("HOME", "/home/ann"), ("ROOT", "/srv")]);
        assert_eq!(e.expand_path("~", None), PathBuf::from("/home/ann"));
        assert_eq!(e.expand_path("~/hf", None), PathBuf::from("/home/ann/hf"));
        assert_eq!(e.expand_path("$ROOT/hf", None), PathBuf::from("/srv/hf"));
        assert_eq!(
            e.expand_path("${ROOT}x/hf", None),
            PathBuf::from("/srvx/hf")
        );
        assert_eq!(e.expand_path("~bob/hf", None), PathBuf::from("~bob/hf"));
    }

    #[test]
    fn unknown_vars_stay_literal_like_python() {
        let e = env(&[("HOME", "/h")]);
        assert_eq!(e.expand_path("$NOPE/a", None), PathBuf::from("$NOPE/a"));
        assert_eq!(e.expand_path("${NOPE}/a", None), PathBuf::from("${NOPE}/a"));
        assert_eq!(e.expand_path("a$/b", None), PathBuf::from("a$/b"));
        assert_eq!(e.expand_path("${open", None), PathBuf::from("${open"));
    }

    #[test]
    fn home_falls_back_to_platform_home() {
        let e = env(&[]);
        assert_eq!(
            e.expand_path("~/x", Some(Path::new("/p"))),
            PathBuf::from("/p/x")
        );
    }

    #[test]
    fn flags() {
        let e = env(&[("A", "1"), ("B", "TRUE"), ("C", "0"), ("D", "")]);
        assert!(e.flag("A") && e.flag("B"));
        assert!(!e.flag("C") && !e.flag("D") && !e.flag("E"));
    }
}
