//! The models a product needs: `models_manifest.json` (type → list of models),
//! compiled in, with an optional user manifest merged over it.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::cache::RepoId;
use crate::env::Env;
use crate::error::{Error, Result};

/// The manifest shipped with the app.
pub const BUNDLED_MANIFEST: &str = include_str!("../../../models_manifest.json");
/// The group of cached models that no manifest names; not a manifest key.
pub const OTHER_GROUP: &str = "other";

/// One model the product needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestModel {
    pub id: RepoId,
    pub name: String,
    pub team: String,
    pub dimensions: Option<u32>,
    pub size_mb: Option<u64>,
    pub link: Option<String>,
}

/// Models of one type (`embedding`, `caption`, … any key is a type).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManifestGroup {
    #[serde(rename = "type")]
    pub model_type: String,
    pub models: Vec<ManifestModel>,
}

/// Groups in the order the file gives them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Manifest {
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

    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Manifest {
            path: path.to_owned(),
            line: 0,
            column: 0,
            message: format!("cannot read the manifest ({e}); check the path given with --manifest or HAID_MODELS_MANIFEST"),
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
    pub fn merge(&mut self, other: Manifest) {
        for group in other.groups {
            for model in group.models {
                self.remove(&model.id);
                self.group_mut(&group.model_type).models.push(model);
            }
            self.group_mut(&group.model_type);
        }
    }

    pub fn types(&self) -> impl Iterator<Item = &str> {
        self.groups.iter().map(|g| g.model_type.as_str())
    }

    pub fn contains(&self, id: &RepoId) -> bool {
        self.models().any(|m| same_repo(&m.id, id))
    }

    pub fn models(&self) -> impl Iterator<Item = &ManifestModel> {
        self.groups.iter().flat_map(|g| g.models.iter())
    }

    fn remove(&mut self, id: &RepoId) {
        for group in &mut self.groups {
            group.models.retain(|m| !same_repo(&m.id, id));
        }
    }

    fn group_mut(&mut self, model_type: &str) -> &mut ManifestGroup {
        match self.groups.iter().position(|g| g.model_type == model_type) {
            Some(i) => &mut self.groups[i],
            None => {
                self.groups.push(ManifestGroup {
                    model_type: model_type.to_owned(),
                    models: Vec::new(),
                });
                let last = self.groups.len() - 1;
                &mut self.groups[last]
            }
        }
    }
}

/// The hub treats ids case-insensitively, so does the manifest.
pub fn same_repo(a: &RepoId, b: &RepoId) -> bool {
    a.repo_type() == b.repo_type() && a.id().eq_ignore_ascii_case(&b.id())
}

impl Serialize for ManifestModel {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("ManifestModel", 6)?;
        st.serialize_field("id", &self.id.id())?;
        st.serialize_field("name", &self.name)?;
        st.serialize_field("team", &self.team)?;
        st.serialize_field("dimensions", &self.dimensions)?;
        st.serialize_field("size_mb", &self.size_mb)?;
        st.serialize_field("link", &self.link)?;
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
        let mut seen: HashMap<String, String> = HashMap::new();
        while let Some(model_type) = map.next_key::<String>()? {
            check_type_name(&model_type, &manifest).map_err(de::Error::custom)?;
            let models = map.next_value_seed(GroupSeed {
                model_type: &model_type,
                seen: &mut seen,
            })?;
            manifest.groups.push(ManifestGroup { model_type, models });
        }
        Ok(manifest)
    }
}

pub(crate) fn check_type_name(name: &str, so_far: &Manifest) -> std::result::Result<(), String> {
    if name.trim().is_empty() {
        return Err("a model type is empty; name the group, e.g. \"embedding\"".into());
    }
    if name == OTHER_GROUP {
        return Err(format!(
            "\"{OTHER_GROUP}\" is reserved for cached models that are not in the manifest; rename this group"
        ));
    }
    if so_far.types().any(|t| t == name) {
        return Err(format!(
            "model type \"{name}\" appears twice; merge the two lists into one"
        ));
    }
    Ok(())
}

/// Parses one group's list, refusing an id already seen in any group.
struct GroupSeed<'a> {
    model_type: &'a str,
    seen: &'a mut HashMap<String, String>,
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
        write!(f, "a list of models for type \"{}\"", self.model_type)
    }

    fn visit_seq<A: SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let mut models = Vec::new();
        while let Some(raw) = seq.next_element::<RawModel>()? {
            let model = validate(raw).map_err(de::Error::custom)?;
            let key = model.id.id().to_ascii_lowercase();
            if let Some(first) = self.seen.get(&key) {
                return Err(de::Error::custom(format!(
                    "duplicate id \"{}\" (already listed under \"{first}\"); keep one entry",
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
        if !(link.starts_with("https://") || link.starts_with("http://")) {
            return Err(format!(
                "model \"{id}\" has a \"link\" that is not an http(s) URL: {link:?}"
            ));
        }
    }
    Ok(ManifestModel {
        id,
        name: raw.name,
        team: raw.team,
        dimensions: raw.dimensions,
        size_mb: raw.size_mb,
        link: raw.link,
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

pub mod user_file;

#[cfg(test)]
mod tests;
