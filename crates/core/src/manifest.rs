//! The models a product needs: `models_manifest.json` (type → list of models),
//! compiled in, with an optional user manifest merged over it.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::cache::{RefName, RepoId, RepoType};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::file_set::FileSet;
use local_file::{Refusal, MANIFEST_LIMIT};

/// The manifest shipped with the app.
pub const BUNDLED_MANIFEST: &str = include_str!("../../../models_manifest.json");
/// The group of cached models that no manifest names; not a manifest key.
pub const OTHER_GROUP: &str = "other";

/// One model the product needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestModel {
    /// Its hub id.
    pub id: RepoId,
    /// What the product calls it.
    pub name: String,
    /// Who made it.
    pub team: String,
    /// The size of its embeddings, for embedding models.
    pub dimensions: Option<u32>,
    /// Its download size as the manifest states it, in MB.
    pub size_mb: Option<u64>,
    /// Its page, when the manifest gives one (an http(s) URL).
    pub link: Option<String>,
    /// The branch, tag or commit the product was tested with; `main` by default.
    pub revision: RefName,
    /// The files of it the product needs (`include` / `exclude`); all by default.
    pub files: FileSet,
}

impl ManifestModel {
    /// Pinned to a commit: it never moves, and once whole needs no request.
    pub fn is_pinned(&self) -> bool {
        self.revision.as_commit().is_some()
    }
}

/// Models of one type (`embedding`, `caption`, … any key is a type).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManifestGroup {
    /// The key in the manifest (`embedding`).
    #[serde(rename = "type")]
    pub model_type: String,
    /// Its models, in the file's order.
    pub models: Vec<ManifestModel>,
}

/// Groups in the order the file gives them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Manifest {
    /// Each type with its models.
    pub groups: Vec<ManifestGroup>,
}

impl Manifest {
    /// The compiled-in manifest. Its validity is checked by a unit test.
    pub fn bundled() -> Self {
        Self::parse(
            BUNDLED_MANIFEST,
            Path::new("models_manifest.json (bundled)"),
        )
        .expect("the bundled models_manifest.json is valid (tested)")
    }

    /// The bundled manifest with the user's merged over it: `user` (the
    /// `--manifest` flag) first, else `HAID_MODELS_MANIFEST`.
    pub fn load(user: Option<&Path>, env: &Env) -> Result<Self> {
        Self::load_or_default(user, env, None)
    }

    /// As [`Manifest::load`], and without flag or variable, the app's own
    /// user manifest (`user_file::user_manifest_path`) when it exists.
    pub fn load_or_default(user: Option<&Path>, env: &Env, default: Option<&Path>) -> Result<Self> {
        let mut manifest = Self::bundled();
        let user = user
            .map(Path::to_owned)
            .or_else(|| env.path("HAID_MODELS_MANIFEST", None))
            .or_else(|| default.filter(|p| p.is_file()).map(Path::to_owned));
        if let Some(path) = user {
            manifest.merge(Self::from_file(&path)?);
        }
        Ok(manifest)
    }

    /// Reads and parses a user manifest. Only a regular file of at most
    /// `MANIFEST_LIMIT` (16 MiB) is read: the path may be anything (`/dev/zero`).
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = local_file::read_text(path, MANIFEST_LIMIT).map_err(|refusal| {
            let fix = match refusal {
                Refusal::Io(_) => "check the path given with --manifest or HAID_MODELS_MANIFEST",
                Refusal::NotRegular(_) => {
                    "give --manifest or HAID_MODELS_MANIFEST the path of a JSON file"
                }
                Refusal::TooBig { .. } => {
                    "a manifest lists models, not their files: check that --manifest or HAID_MODELS_MANIFEST names the right file"
                }
            };
            refused(path, &refusal, fix)
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates; errors carry the file, line and column.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let mut de = serde_json::Deserializer::from_str(text);
        let manifest = de
            .deserialize_map(ManifestVisitor)
            .and_then(|m| de.end().map(|()| m))
            .map_err(|e| manifest_error(path, &e))?;
        Ok(manifest)
    }

    /// Merges `other` over `self`: a model with the same id is replaced (and
    /// moves to `other`'s group); new models and groups are appended.
    /// `other` holds each id once (`parse` refuses duplicates).
    ///
    /// Linear in both: sets and maps, not a search of `self` per model
    /// (that made 40,000 user models take minutes).
    pub fn merge(&mut self, other: Manifest) {
        let replaced: HashSet<RepoKey> = other.models().map(|m| RepoKey::of(&m.id)).collect();
        for group in &mut self.groups {
            group
                .models
                .retain(|m| !replaced.contains(&RepoKey::of(&m.id)));
        }
        let mut position: HashMap<String, usize> = (self.groups.iter().enumerate())
            .map(|(i, g)| (g.model_type.clone(), i))
            .collect();
        for group in other.groups {
            let i = *position.entry(group.model_type.clone()).or_insert_with(|| {
                self.groups.push(ManifestGroup {
                    model_type: group.model_type,
                    models: Vec::new(),
                });
                self.groups.len() - 1
            });
            self.groups[i].models.extend(group.models);
        }
    }

    /// The model types, in order.
    pub fn types(&self) -> impl Iterator<Item = &str> {
        self.groups.iter().map(|g| g.model_type.as_str())
    }

    /// Whether the manifest names `id` (in any case).
    pub fn contains(&self, id: &RepoId) -> bool {
        self.models().any(|m| same_repo(&m.id, id))
    }

    /// Every model of every type, in order.
    pub fn models(&self) -> impl Iterator<Item = &ManifestModel> {
        self.groups.iter().flat_map(|g| g.models.iter())
    }
}

/// The hub treats ids case-insensitively, so does the manifest. Compares
/// the parts in place: this runs for every pair a search looks at.
pub fn same_repo(a: &RepoId, b: &RepoId) -> bool {
    let same_org = match (a.org(), b.org()) {
        (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
        (None, None) => true,
        _ => false,
    };
    a.repo_type() == b.repo_type() && same_org && a.name().eq_ignore_ascii_case(b.name())
}

/// What [`same_repo`] compares, as a key for sets and maps: lookups by id
/// without a search.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepoKey {
    repo_type: RepoType,
    id: String,
}

impl RepoKey {
    /// The key of an id.
    pub fn of(id: &RepoId) -> Self {
        Self {
            repo_type: id.repo_type(),
            id: id.id().to_ascii_lowercase(),
        }
    }
}

impl Serialize for ManifestModel {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("ManifestModel", 9)?;
        st.serialize_field("id", &self.id.id())?;
        st.serialize_field("name", &self.name)?;
        st.serialize_field("team", &self.team)?;
        st.serialize_field("dimensions", &self.dimensions)?;
        st.serialize_field("size_mb", &self.size_mb)?;
        st.serialize_field("link", &self.link)?;
        // The defaults are left out, as a person writes the file.
        if self.revision != RefName::main() {
            st.serialize_field("revision", self.revision.as_str())?;
        }
        if !self.files.include().is_empty() {
            st.serialize_field("include", self.files.include())?;
        }
        if !self.files.exclude().is_empty() {
            st.serialize_field("exclude", self.files.exclude())?;
        }
        st.end()
    }
}

/// The JSON shape of one model; unknown fields are refused so typos show.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    id: ModelId,
    name: String,
    team: String,
    #[serde(default)]
    dimensions: Option<u32>,
    #[serde(default)]
    size_mb: Option<u64>,
    #[serde(default)]
    link: Option<String>,
    #[serde(default)]
    revision: Option<ModelRevision>,
    #[serde(default)]
    include: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
}

/// A revision validated while parsing, so the error points at its line and column.
struct ModelRevision(RefName);

impl<'de> Deserialize<'de> for ModelRevision {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        RefName::parse(&text).map(ModelRevision).map_err(|reason| {
            de::Error::custom(format!(
                "\"revision\" {text:?} is not valid ({reason}); write a branch (\"main\"), \
                 a tag (\"v1.0\") or a 40-hex commit hash"
            ))
        })
    }
}

/// An id validated while parsing, so the error points at its line and column.
struct ModelId(RepoId);

impl<'de> Deserialize<'de> for ModelId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        RepoId::model(&text).map(ModelId).map_err(|e| {
            de::Error::custom(format!(
                "{e}; write \"id\" as on huggingface.co, e.g. \"BAAI/bge-large-en-v1.5\""
            ))
        })
    }
}

struct ManifestVisitor;

impl<'de> Visitor<'de> for ManifestVisitor {
    type Value = Manifest;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of model type → list of models, e.g. {\"embedding\": [{\"id\": …}]}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Manifest, A::Error> {
        let mut manifest = Manifest::default();
        let mut seen: HashMap<RepoKey, String> = HashMap::new();
        let mut types: HashSet<String> = HashSet::new();
        while let Some(model_type) = map.next_key::<String>()? {
            check_type_name(&model_type).map_err(de::Error::custom)?;
            if !types.insert(model_type.clone()) {
                return Err(de::Error::custom(format!(
                    "model type {model_type:?} appears twice; merge the two lists into one"
                )));
            }
            let models = map.next_value_seed(GroupSeed {
                model_type: &model_type,
                seen: &mut seen,
            })?;
            manifest.groups.push(ManifestGroup { model_type, models });
        }
        Ok(manifest)
    }
}

/// An empty or reserved type name is refused; a repeated one is refused
/// where the names are collected.
pub(crate) fn check_type_name(name: &str) -> std::result::Result<(), String> {
    if name.trim().is_empty() {
        return Err("a model type is empty; name the group, e.g. \"embedding\"".into());
    }
    if name == OTHER_GROUP {
        return Err(format!(
            "\"{OTHER_GROUP}\" is reserved for cached models that are not in the manifest; rename this group"
        ));
    }
    Ok(())
}

/// Parses one group's list, refusing an id already seen in any group.
struct GroupSeed<'a> {
    model_type: &'a str,
    seen: &'a mut HashMap<RepoKey, String>,
}

impl<'de> DeserializeSeed<'de> for GroupSeed<'_> {
    type Value = Vec<ManifestModel>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for GroupSeed<'_> {
    type Value = Vec<ManifestModel>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        // `{:?}`: a type name is the file's text, and may hold escape codes.
        write!(f, "a list of models for type {:?}", self.model_type)
    }

    fn visit_seq<A: SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let mut models = Vec::new();
        while let Some(raw) = seq.next_element::<RawModel>()? {
            let model = validate(raw).map_err(de::Error::custom)?;
            let key = RepoKey::of(&model.id);
            if let Some(first) = self.seen.get(&key) {
                return Err(de::Error::custom(format!(
                    "duplicate id \"{}\" (already listed under {first:?}); keep one entry",
                    model.id
                )));
            }
            self.seen.insert(key, self.model_type.to_owned());
            models.push(model);
        }
        Ok(models)
    }
}

fn validate(raw: RawModel) -> std::result::Result<ManifestModel, String> {
    let id = raw.id.0;
    if raw.name.trim().is_empty() {
        return Err(format!(
            "model \"{id}\" has an empty \"name\"; give it a display name"
        ));
    }
    if raw.team.trim().is_empty() {
        return Err(format!(
            "model \"{id}\" has an empty \"team\"; give the org that publishes it"
        ));
    }
    if let Some(link) = &raw.link {
        if !crate::settings::is_http_url(link) {
            return Err(format!(
                "model \"{id}\" has a \"link\" that is not an http(s) URL: {link:?}"
            ));
        }
    }
    let files = FileSet::new(raw.include, raw.exclude).map_err(|reason| {
        format!("model \"{id}\" has a bad \"include\" or \"exclude\": {reason}")
    })?;
    Ok(ManifestModel {
        id,
        name: raw.name,
        team: raw.team,
        dimensions: raw.dimensions,
        size_mb: raw.size_mb,
        link: raw.link,
        revision: raw.revision.map_or_else(RefName::main, |r| r.0),
        files,
    })
}

/// serde_json's message without its " at line L column C" tail (we print the
/// position as `file:line:column`), plus what to do.
fn manifest_error(path: &Path, e: &serde_json::Error) -> Error {
    let full = e.to_string();
    let tail = format!(" at line {} column {}", e.line(), e.column());
    let message = full.strip_suffix(&tail).unwrap_or(&full);
    let hint = match e.classify() {
        serde_json::error::Category::Syntax => {
            "; the file is not valid JSON (look for a missing comma, quote or bracket)"
        }
        serde_json::error::Category::Eof => {
            "; the file ends too early (a bracket or brace is not closed)"
        }
        _ => "",
    };
    Error::Manifest {
        path: PathBuf::from(path),
        line: e.line(),
        column: e.column(),
        message: format!("{message}{hint}"),
    }
}

/// A refused read of `path` as a manifest error: what the file is, and `fix`.
fn refused(path: &Path, refusal: &Refusal, fix: &str) -> Error {
    Error::Manifest {
        path: path.to_owned(),
        line: 0,
        column: 0,
        message: format!("{}; {fix}", refusal.describe()),
    }
}

pub(crate) mod local_file;
pub mod user_file;

#[cfg(test)]
mod tests;
