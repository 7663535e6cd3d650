use super::*;

fn parse(text: &str) -> Result<Manifest> {
    Manifest::parse(text, Path::new("user.json"))
}

fn err(text: &str) -> (usize, usize, String) {
    match parse(text).unwrap_err() {
        Error::Manifest {
            path,
            line,
            column,
            message,
        } => {
            assert_eq!(path, PathBuf::from("user.json"));
            (line, column, message)
        }
        other => panic!("not a manifest error: {other}"),
    }
}

#[test]
fn bundled_manifest_has_the_real_models() {
    let m = Manifest::bundled();
    let types: Vec<&str> = m.types().collect();
    assert_eq!(types, ["embedding", "caption"]);
    let dims: Vec<(String, Option<u32>)> = m.groups[0]
        .models
        .iter()
        .map(|x| (x.id.id(), x.dimensions))
        .collect();
    assert_eq!(
        dims,
        [
            ("BAAI/bge-large-en-v1.5".to_owned(), Some(1024)),
            ("Alibaba-NLP/gte-large-en-v1.5".to_owned(), Some(1024)),
            (
                "sentence-transformers/all-MiniLM-L6-v2".to_owned(),
                Some(384)
            ),
        ]
    );
    let captions: Vec<String> = m.groups[1].models.iter().map(|x| x.id.id()).collect();
    assert_eq!(
        captions,
        [
            "Salesforce/blip-image-captioning-base",
            "Salesforce/blip-image-captioning-large"
        ]
    );
    for model in m.models() {
        assert_eq!(
            model.link.as_deref(),
            Some(model.id.hub_url("https://huggingface.co").as_str())
        );
        assert!(model.size_mb.is_some());
    }
}

#[test]
fn invalid_json_gives_line_column_and_hint() {
    let (line, column, msg) =
        err("{\n  \"embedding\": [\n    {\"id\": \"a/b\" \"name\": \"x\"}\n  ]\n}");
    assert_eq!((line, column), (3, 18));
    assert!(msg.contains("not valid JSON"), "{msg}");
}

#[test]
fn truncated_file_says_it_ends_early() {
    let (_, _, msg) = err("{\"embedding\": [");
    assert!(msg.contains("ends too early"), "{msg}");
}

#[test]
fn bad_id_points_at_the_id() {
    let (line, column, msg) =
        err("{\"caption\": [\n  {\"id\": \"../etc\", \"name\": \"n\", \"team\": \"t\"}\n]}");
    assert_eq!(line, 2);
    assert_eq!(column, 17, "{msg}");
    assert!(msg.contains("invalid repo id \"../etc\""), "{msg}");
    assert!(msg.contains("'..'"), "{msg}");
    assert!(msg.contains("write \"id\" as on huggingface.co"), "{msg}");
}

#[test]
fn duplicate_id_names_the_first_group_even_across_case() {
    let (line, _, msg) = err(
        "{\"a\": [{\"id\": \"o/m\", \"name\": \"n\", \"team\": \"t\"}],\n \"b\": [{\"id\": \"O/M\", \"name\": \"n\", \"team\": \"t\"}]}",
    );
    assert_eq!(line, 2);
    assert!(msg.contains("duplicate id \"O/M\""), "{msg}");
    assert!(msg.contains("already listed under \"a\""), "{msg}");
}

#[test]
fn wrong_field_type_is_named() {
    let (line, _, msg) = err(
        "{\"e\": [\n{\"id\": \"o/m\", \"name\": \"n\", \"team\": \"t\", \"dimensions\": \"big\"}]}",
    );
    assert_eq!(line, 2);
    assert!(
        msg.contains("invalid type: string \"big\", expected u32"),
        "{msg}"
    );
}

#[test]
fn missing_and_unknown_fields_are_named() {
    let (_, _, msg) = err("{\"e\": [{\"id\": \"o/m\", \"team\": \"t\"}]}");
    assert!(msg.contains("missing field `name`"), "{msg}");
    let (_, _, msg) =
        err("{\"e\": [{\"id\": \"o/m\", \"name\": \"n\", \"team\": \"t\", \"dimension\": 3}]}");
    assert!(msg.contains("unknown field `dimension`"), "{msg}");
}

#[test]
fn shape_errors_say_what_is_expected() {
    let (_, _, msg) = err("[1, 2]");
    assert!(msg.contains("an object of model type"), "{msg}");
    let (_, _, msg) = err("{\"e\": {\"id\": \"o/m\"}}");
    assert!(msg.contains("a list of models for type \"e\""), "{msg}");
    let (_, _, msg) = err("{\"other\": []}");
    assert!(msg.contains("reserved"), "{msg}");
    let (_, _, msg) = err("{\"e\": [], \"e\": []}");
    assert!(msg.contains("appears twice"), "{msg}");
    let (_, _, msg) = err("{\"e\": [{\"id\": \"o/m\", \"name\": \" \", \"team\": \"t\"}]}");
    assert!(msg.contains("empty \"name\""), "{msg}");
    let (_, _, msg) = err(
        "{\"e\": [{\"id\": \"o/m\", \"name\": \"n\", \"team\": \"t\", \"link\": \"file:///x\"}]}",
    );
    assert!(msg.contains("not an http(s) URL"), "{msg}");
}

#[test]
fn types_are_open() {
    let m = parse("{\"reranker\": [{\"id\": \"BAAI/bge-reranker-base\", \"name\": \"r\", \"team\": \"BAAI\"}]}")
        .unwrap();
    assert_eq!(m.types().collect::<Vec<_>>(), ["reranker"]);
}

#[test]
fn user_manifest_merges_over_bundled() {
    let mut m = Manifest::bundled();
    m.merge(
        parse(
            r#"{"caption": [{"id": "BAAI/bge-large-en-v1.5", "name": "moved", "team": "BAAI"}],
                "reranker": [{"id": "BAAI/bge-reranker-base", "name": "r", "team": "BAAI"}]}"#,
        )
        .unwrap(),
    );
    assert_eq!(
        m.types().collect::<Vec<_>>(),
        ["embedding", "caption", "reranker"]
    );
    assert_eq!(
        m.groups[0].models.len(),
        2,
        "replaced model leaves its old group"
    );
    let moved = m.groups[1].models.last().unwrap();
    assert_eq!(
        (moved.id.id().as_str(), moved.name.as_str()),
        ("BAAI/bge-large-en-v1.5", "moved")
    );
    assert_eq!(m.models().count(), 6);
}

#[test]
fn load_reads_flag_then_env() {
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("flag.json");
    let env_file = dir.path().join("env.json");
    std::fs::write(
        &flag,
        r#"{"flag": [{"id": "a/flag", "name": "f", "team": "a"}]}"#,
    )
    .unwrap();
    std::fs::write(
        &env_file,
        r#"{"env": [{"id": "a/env", "name": "e", "team": "a"}]}"#,
    )
    .unwrap();
    let env = Env::from_pairs([("HAID_MODELS_MANIFEST", env_file.to_str().unwrap())]);
    let from_flag = Manifest::load(Some(&flag), &env).unwrap();
    assert!(from_flag.types().any(|t| t == "flag"));
    assert!(!from_flag.types().any(|t| t == "env"));
    let from_env = Manifest::load(None, &env).unwrap();
    assert!(from_env.types().any(|t| t == "env"));
    let missing = Manifest::load(Some(&dir.path().join("nope.json")), &env).unwrap_err();
    assert!(missing.to_string().contains("nope.json"), "{missing}");
    assert!(missing.to_string().contains("--manifest"), "{missing}");
}
