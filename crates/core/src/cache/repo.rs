//! Repo ids: parsed and validated once; only a [`RepoId`] can become a path.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Serialize, Serializer};
use ts_rs::TS;

use crate::error::{Error, Result};

/// The hub's longest allowed org or name.
const MAX_PART_LEN: usize = 96;

/// What a repo is on the hub; each has its own folder prefix in the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum RepoType {
    /// A model (`models--…`): what this app manages.
    Model,
    /// A dataset (`datasets--…`): scanned and shown, never downloaded here.
    Dataset,
    /// A Space (`spaces--…`).
    Space,
    /// A kernel (`kernels--…`), as newer huggingface_hub versions cache them.
    Kernel,
}

impl RepoType {
    /// Every type, in the order a scan lists them.
    pub const ALL: [RepoType; 4] = [Self::Model, Self::Dataset, Self::Space, Self::Kernel];

    /// The singular, as `scan --json` writes it (`model`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Model => "model",
            Self::Dataset => "dataset",
            Self::Space => "space",
            Self::Kernel => "kernel",
        }
    }

    /// The plural that starts a cache folder name (`models--…`).
    pub fn folder_prefix(self) -> &'static str {
        match self {
            Self::Model => "models",
            Self::Dataset => "datasets",
            Self::Space => "spaces",
            Self::Kernel => "kernels",
        }
    }

    /// The type a cache folder's prefix names (`models` → model).
    pub fn from_folder_prefix(prefix: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.folder_prefix() == prefix)
    }

    /// The type its singular names (`model`), as [`RepoType::as_str`] writes it.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for RepoType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `org/name` (or a bare legacy `name` such as `gpt2`) of a given type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoId {
    repo_type: RepoType,
    org: Option<String>,
    name: String,
}

impl RepoId {
    /// Parses a model id such as `BAAI/bge-large-en-v1.5`.
    pub fn model(id: &str) -> Result<Self> {
        Self::parse(id, RepoType::Model)
    }

    /// Parses a hub id of any type; the error says what is wrong and how to write it.
    pub fn parse(id: &str, repo_type: RepoType) -> Result<Self> {
        let reject = |reason: &str| Error::InvalidRepoId {
            id: id.to_owned(),
            reason: reason.to_owned(),
        };
        if id.is_empty() {
            return Err(reject("it is empty; write it as org/name"));
        }
        if id.starts_with('/') || id.starts_with('\\') || id.get(1..3) == Some(":\\") {
            return Err(reject(
                "it looks like an absolute path; write the hub id as org/name",
            ));
        }
        let mut parts = id.split('/');
        let first = parts.next().unwrap_or_default();
        let (org, name) = match (parts.next(), parts.next()) {
            (None, _) => (None, first),
            (Some(name), None) => (Some(first), name),
            (Some(_), Some(_)) => {
                return Err(reject(
                    "it has more than one '/'; a hub id is org/name (or a bare name)",
                ))
            }
        };
        if let Some(org) = org {
            check_part(org, "org").map_err(|r| reject(&r))?;
        }
        check_part(name, "name").map_err(|r| reject(&r))?;
        Ok(Self {
            repo_type,
            org: org.map(str::to_owned),
            name: name.to_owned(),
        })
    }

    /// Parses a cache folder name such as `models--BAAI--bge-large-en-v1.5`.
    pub fn from_folder_name(folder: &str) -> Result<Self> {
        let reject = |reason: &str| Error::InvalidRepoId {
            id: folder.to_owned(),
            reason: reason.to_owned(),
        };
        let (prefix, rest) = folder.split_once("--").ok_or_else(|| {
            reject("not a cache repo folder (expected models--org--name, datasets--…, spaces--…)")
        })?;
        let repo_type = RepoType::from_folder_prefix(prefix).ok_or_else(|| {
            reject("unknown repo type prefix (expected models, datasets, spaces or kernels)")
        })?;
        Self::parse(&rest.replace("--", "/"), repo_type).map_err(|e| match e {
            Error::InvalidRepoId { reason, .. } => reject(&reason),
            other => other,
        })
    }

    /// Model, dataset, space or kernel.
    pub fn repo_type(&self) -> RepoType {
        self.repo_type
    }

    /// The part before the `/`; `None` for a bare legacy name (`gpt2`).
    pub fn org(&self) -> Option<&str> {
        self.org.as_deref()
    }

    /// The part after the `/` (the whole id for a bare name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The hub id, `org/name`.
    pub fn id(&self) -> String {
        match &self.org {
            Some(org) => format!("{org}/{}", self.name),
            None => self.name.clone(),
        }
    }

    /// `models--org--name`.
    pub fn folder_name(&self) -> String {
        match &self.org {
            Some(org) => format!("{}--{org}--{}", self.repo_type.folder_prefix(), self.name),
            None => format!("{}--{}", self.repo_type.folder_prefix(), self.name),
        }
    }

    /// The repo's folder in a cache. Safe by construction: the parts were checked
    /// to hold no separator, `..` or other path syntax.
    pub fn repo_dir(&self, cache_dir: &Path) -> PathBuf {
        cache_dir.join(self.folder_name())
    }

    /// The hub page of the repo.
    pub fn hub_url(&self, endpoint: &str) -> String {
        let endpoint = endpoint.trim_end_matches('/');
        match self.repo_type {
            RepoType::Model => format!("{endpoint}/{}", self.id()),
            other => format!("{endpoint}/{}/{}", other.folder_prefix(), self.id()),
        }
    }
}

impl fmt::Display for RepoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id())
    }
}

/// Serialised as the two fields scripts read: `repo_id` and `repo_type`
/// (flatten it into the struct that holds it).
impl Serialize for RepoId {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        RepoFields {
            repo_id: self.id(),
            repo_type: self.repo_type,
        }
        .serialize(s)
    }
}

/// The page's type of a [`RepoId`] is [`RepoFields`]'s, as it is written.
/// By hand because ts-rs's `#[ts(as = …)]` cannot be flattened.
impl TS for RepoId {
    type WithoutGenerics = Self;
    type OptionInnerType = Self;

    fn name(cfg: &ts_rs::Config) -> String {
        RepoFields::name(cfg)
    }
    fn inline(cfg: &ts_rs::Config) -> String {
        RepoFields::inline(cfg)
    }
    fn inline_flattened(cfg: &ts_rs::Config) -> String {
        RepoFields::inline_flattened(cfg)
    }
    fn visit_dependencies(v: &mut impl ts_rs::TypeVisitor) {
        RepoFields::visit_dependencies(v);
    }
}

/// What a [`RepoId`] is written as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct RepoFields {
    /// `org/name`.
    pub repo_id: String,
    /// What the repo is on the hub.
    pub repo_type: RepoType,
}

/// The hub's rules for one part of an id, with the reason a person needs.
fn check_part(part: &str, what: &str) -> std::result::Result<(), String> {
    if part.is_empty() {
        return Err(format!("the {what} is empty; write the id as org/name"));
    }
    if part == "." || part == ".." || part.contains("..") {
        return Err(format!(
            "the {what} contains '..', which is not allowed (it could point outside the cache)"
        ));
    }
    if let Some(bad) = part.chars().find(|c| !is_allowed_char(*c)) {
        let shown = match bad {
            '\0' => "a NUL byte".to_owned(),
            '\\' => "a backslash".to_owned(),
            c if c.is_whitespace() => "whitespace".to_owned(),
            c => format!("{c:?}"),
        };
        return Err(format!(
            "the {what} contains {shown}; only letters, digits, '-', '_' and '.' are allowed"
        ));
    }
    if part.contains("--") {
        return Err(format!(
            "the {what} contains '--', which the cache uses to separate org and name"
        ));
    }
    if part.starts_with(['-', '.']) || part.ends_with(['-', '.']) {
        return Err(format!("the {what} must not start or end with '-' or '.'"));
    }
    if part.len() > MAX_PART_LEN {
        return Err(format!(
            "the {what} is longer than {MAX_PART_LEN} characters"
        ));
    }
    Ok(())
}

fn is_allowed_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_org_name_and_bare_name() {
        let id = RepoId::model("BAAI/bge-large-en-v1.5").unwrap();
        assert_eq!(id.org(), Some("BAAI"));
        assert_eq!(id.name(), "bge-large-en-v1.5");
        assert_eq!(id.folder_name(), "models--BAAI--bge-large-en-v1.5");
        let bare = RepoId::model("gpt2").unwrap();
        assert_eq!(bare.org(), None);
        assert_eq!(bare.folder_name(), "models--gpt2");
        assert_eq!(bare.id(), "gpt2");
    }

    #[test]
    fn folder_names_round_trip() {
        for (folder, t, id) in [
            (
                "models--BAAI--bge-large-en-v1.5",
                RepoType::Model,
                "BAAI/bge-large-en-v1.5",
            ),
            ("datasets--nyu-mll--glue", RepoType::Dataset, "nyu-mll/glue"),
            ("spaces--user--my_app", RepoType::Space, "user/my_app"),
            ("kernels--org--k", RepoType::Kernel, "org/k"),
            ("models--gpt2", RepoType::Model, "gpt2"),
        ] {
            let parsed = RepoId::from_folder_name(folder).unwrap();
            assert_eq!(parsed.repo_type(), t);
            assert_eq!(parsed.id(), id);
            assert_eq!(parsed.folder_name(), folder);
            assert_eq!(RepoId::parse(id, t).unwrap(), parsed);
        }
    }

    #[test]
    fn hostile_ids_are_rejected_with_a_reason() {
        let table: &[(&str, &str)] = &[
            ("", "empty"),
            ("..", "'..'"),
            ("../x", "'..'"),
            ("a/../../b", "more than one '/'"),
            ("a/..", "'..'"),
            ("/etc", "absolute path"),
            ("/etc/passwd", "absolute path"),
            ("C:\\Windows", "absolute path"),
            ("org/name/extra", "more than one '/'"),
            ("a/b/c", "more than one '/'"),
            ("org\\name", "backslash"),
            ("org/na\0me", "NUL"),
            ("org/ name", "whitespace"),
            ("org/name ", "whitespace"),
            ("org\t/x", "whitespace"),
            ("~", "'~'"),
            ("~/x", "'~'"),
            ("org/", "name is empty"),
            ("/name", "absolute path"),
            ("org//name", "more than one '/'"),
            ("org/na--me", "'--'"),
            ("org/-name", "start or end"),
            ("org/name.", "start or end"),
            (".hidden/x", "start or end"),
            ("org/$HOME", "'$'"),
            ("org/na:me", "':'"),
        ];
        for (id, why) in table {
            let err = RepoId::model(id).expect_err(id);
            let msg = err.to_string();
            assert!(msg.contains(why), "{id:?}: {msg:?} should mention {why:?}");
        }
        let long = format!("org/{}", "a".repeat(97));
        assert!(RepoId::model(&long)
            .unwrap_err()
            .to_string()
            .contains("longer than 96"));
    }

    #[test]
    fn bad_folder_names_are_rejected() {
        for folder in [
            "models",
            "notes--x",
            "models--a--b--c",
            "models--..",
            "models--",
        ] {
            assert!(RepoId::from_folder_name(folder).is_err(), "{folder}");
        }
    }

    #[test]
    fn repo_dir_stays_in_the_cache() {
        let id = RepoId::model("org/name").unwrap();
        let dir = id.repo_dir(Path::new("/cache"));
        assert_eq!(dir, PathBuf::from("/cache/models--org--name"));
        assert_eq!(dir.parent(), Some(Path::new("/cache")));
    }

    #[test]
    fn hub_urls() {
        let m = RepoId::model("org/m").unwrap();
        assert_eq!(
            m.hub_url("https://huggingface.co/"),
            "https://huggingface.co/org/m"
        );
        let d = RepoId::parse("org/d", RepoType::Dataset).unwrap();
        assert_eq!(d.hub_url("https://hf.co"), "https://hf.co/datasets/org/d");
    }

    #[test]
    fn serialises_as_id_and_type() {
        let v = serde_json::to_value(RepoId::model("a/b").unwrap()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"repo_id": "a/b", "repo_type": "model"})
        );
    }
}
