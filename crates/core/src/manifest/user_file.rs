//! The user's own manifest: models added from the app ("Add a model by id")
//! or by hand, merged over the bundled one.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use super::local_file::{self, MANIFEST_LIMIT};
use super::{check_type_name, refused, same_repo, Manifest, ManifestModel};
use crate::cache::RepoId;
use crate::download::config::DEFAULT_ENDPOINT;
use crate::env::Env;
use crate::error::{Error, Result};

/// `HAID_MODELS_MANIFEST` when set, else `models_manifest.json` beside the
/// settings file (the app's config folder).
pub fn user_manifest_path(env: &Env, settings_file: &Path) -> PathBuf {
    env.path("HAID_MODELS_MANIFEST", None)
        .unwrap_or_else(|| settings_file.with_file_name("models_manifest.json"))
}

/// Adds `id` to the group `model_type` of the user manifest at `path`
/// (created if missing). Refuses an invalid id, a reserved or empty type,
/// and a model the manifest already has.
pub fn add_model(
    path: &Path,
    current: &Manifest,
    model_type: &str,
    id: &str,
) -> Result<ManifestModel> {
    let repo = RepoId::model(id.trim())?;
    check_type_name(model_type).map_err(|reason| Error::InvalidArgument {
        what: "model type",
        value: model_type.to_owned(),
        reason,
    })?;
    if let Some(group) = current
        .groups
        .iter()
        .find(|g| g.models.iter().any(|m| same_repo(&m.id, &repo)))
    {
        return Err(Error::InvalidArgument {
            what: "model",
            value: repo.id(),
            reason: format!(
                "it is already in the manifest, under \"{}\"",
                group.model_type
            ),
        });
    }
    let mut doc = read_object(path)?;
    let entry = json!({
        "id": repo.id(),
        "name": repo.name(),
        "team": repo.org().unwrap_or(repo.name()),
        "link": repo.hub_url(DEFAULT_ENDPOINT),
    });
    match doc
        .entry(model_type.to_owned())
        .or_insert_with(|| Value::Array(Vec::new()))
    {
        Value::Array(models) => models.push(entry),
        _ => {
            return Err(Error::Manifest {
                path: path.to_owned(),
                line: 0,
                column: 0,
                message: format!("\"{model_type}\" is not a list of models; fix the file by hand"),
            })
        }
    }
    let text = serde_json::to_string_pretty(&Value::Object(doc))
        .map_err(|e| Error::io("write", path, std::io::Error::other(e)))?;
    // What we write must read back: check it before it replaces the file.
    let written = Manifest::parse(&text, path)?;
    let model = written.models().find(|m| same_repo(&m.id, &repo)).cloned();
    crate::atomic_file::write_atomically(path, text.as_bytes())?;
    model.ok_or_else(|| Error::io("write", path, std::io::Error::other("the model vanished")))
}

fn read_object(path: &Path) -> Result<Map<String, Value>> {
    let text =
        match local_file::read_text(path, MANIFEST_LIMIT) {
            Ok(text) => text,
            Err(refusal) if refusal.is_not_found() => return Ok(Map::new()),
            Err(refusal) => return Err(refused(
                path,
                &refusal,
                "the app keeps the models you add in this file: move it away, or fix it by hand",
            )),
        };
    // Validated as a manifest first, so an error carries its line and column.
    Manifest::parse(&text, path)?;
    match serde_json::from_str(&text) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Ok(Map::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_validated_models_and_refuses_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cfg/models_manifest.json");
        let bundled = Manifest::bundled();
        let added = add_model(&file, &bundled, "reranker", " BAAI/bge-reranker-base ").unwrap();
        assert_eq!(
            (added.id.id(), added.name.as_str(), added.team.as_str()),
            ("BAAI/bge-reranker-base".into(), "bge-reranker-base", "BAAI")
        );
        let mut merged = Manifest::bundled();
        merged.merge(Manifest::from_file(&file).unwrap());
        assert!(merged.types().any(|t| t == "reranker"));
        let again = add_model(&file, &merged, "embedding", "baai/BGE-reranker-base").unwrap_err();
        assert!(
            again
                .to_string()
                .contains("already in the manifest, under \"reranker\""),
            "{again}"
        );
        let bundled_dup =
            add_model(&file, &merged, "embedding", "BAAI/bge-large-en-v1.5").unwrap_err();
        assert!(bundled_dup.to_string().contains("already"), "{bundled_dup}");
        assert_eq!(
            add_model(&file, &merged, "embedding", "../x")
                .unwrap_err()
                .kind(),
            crate::ErrorKind::InvalidRepoId
        );
        assert!(add_model(&file, &merged, "other", "a/b")
            .unwrap_err()
            .to_string()
            .contains("reserved"));
        add_model(
            &file,
            &merged,
            "reranker",
            "mixedbread-ai/mxbai-rerank-base-v1",
        )
        .unwrap();
        assert_eq!(Manifest::from_file(&file).unwrap().models().count(), 2);
    }

    #[test]
    fn the_path_is_the_variable_or_beside_the_settings() {
        let settings = Path::new("/cfg/com.haid.models/settings.json");
        assert_eq!(
            user_manifest_path(&Env::default(), settings),
            PathBuf::from("/cfg/com.haid.models/models_manifest.json")
        );
        let env = Env::from_pairs([("HAID_MODELS_MANIFEST", "/x/m.json")]);
        assert_eq!(
            user_manifest_path(&env, settings),
            PathBuf::from("/x/m.json")
        );
    }
}
