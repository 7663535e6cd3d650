//! The files of a repo that a product needs: `include` / `exclude` globs, as
//! `download --include/--exclude` and a manifest entry give them.
//!
//! Globs are globset's, with its defaults: `*` also matches `/`, as the
//! `fnmatch` of huggingface_hub's `allow_patterns` does, so `*.json` selects
//! `1_Pooling/config.json` there and here alike.

use globset::{Glob, GlobSet, GlobSetBuilder};

/// Include and exclude globs, checked when made.
#[derive(Debug, Clone, Default)]
pub struct FileSet {
    include: Vec<String>,
    exclude: Vec<String>,
    included: Option<GlobSet>,
    excluded: Option<GlobSet>,
}

impl FileSet {
    /// Every file.
    pub fn all() -> Self {
        Self::default()
    }

    /// The files matching one of `include` (all when it is empty) and none of
    /// `exclude`. A bad glob is refused with the reason, naming it.
    pub fn new(include: Vec<String>, exclude: Vec<String>) -> Result<Self, String> {
        Ok(Self {
            included: compile(&include)?,
            excluded: compile(&exclude)?,
            include,
            exclude,
        })
    }

    /// Whether the set selects `path` (a repo path, `/`-separated).
    pub fn keeps(&self, path: &str) -> bool {
        self.included.as_ref().is_none_or(|g| g.is_match(path))
            && !self.excluded.as_ref().is_some_and(|g| g.is_match(path))
    }

    /// Whether it selects every file.
    pub fn is_all(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    /// The include globs, as given.
    pub fn include(&self) -> &[String] {
        &self.include
    }

    /// The exclude globs, as given.
    pub fn exclude(&self) -> &[String] {
        &self.exclude
    }
}

/// Two sets are the same when they were given the same globs.
impl PartialEq for FileSet {
    fn eq(&self, other: &Self) -> bool {
        self.include == other.include && self.exclude == other.exclude
    }
}

impl Eq for FileSet {}

fn compile(patterns: &[String]) -> Result<Option<GlobSet>, String> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut set = GlobSetBuilder::new();
    for p in patterns {
        if p.trim().is_empty() {
            return Err("a glob is empty; remove it or write one such as \"*.json\"".into());
        }
        let glob = Glob::new(p).map_err(|e| format!("{p:?} is not a valid glob: {}", e.kind()))?;
        set.add(glob);
    }
    set.build()
        .map(Some)
        .map_err(|e| format!("the globs cannot be combined: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(include: &[&str], exclude: &[&str]) -> Result<FileSet, String> {
        let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        FileSet::new(owned(include), owned(exclude))
    }

    #[test]
    fn include_and_exclude() {
        let f = set(&["*.json", "onnx/*"], &["tokenizer*"]).unwrap();
        assert!(f.keeps("config.json"));
        assert!(
            f.keeps("1_Pooling/config.json"),
            "* crosses / as fnmatch does"
        );
        assert!(f.keeps("onnx/model.onnx"));
        assert!(!f.keeps("tokenizer.json"));
        assert!(!f.keeps("model.safetensors"));
        assert!(FileSet::all().keeps("anything"));
        assert!(FileSet::all().is_all());
        assert!(!f.is_all());
    }

    #[test]
    fn bad_globs_say_which_and_why() {
        let err = set(&["a["], &[]).unwrap_err();
        assert!(err.contains("\"a[\""), "{err}");
        assert!(set(&[], &[" "]).unwrap_err().contains("empty"));
    }
}
