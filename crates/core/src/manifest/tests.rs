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
    // The app opens links: one with a control character is no URL either.
    let (_, _, msg) = err(
        "{\"e\": [{\"id\": \"o/m\", \"name\": \"n\", \"team\": \"t\", \"link\": \"https://x.org/\\u001b[0m\"}]}",
    );
    assert!(
        msg.contains(r#"not an http(s) URL: "https://x.org/\u{1b}[0m""#),
        "{msg}"
    );
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

/// A manifest of `n` models in four groups, ids `org{i % 97}/model-{i}`.
fn generated(n: usize) -> String {
    let types = ["embedding", "caption", "reranker", "ocr"];
    let group = |t: usize| {
        (t..n)
            .step_by(types.len())
            .map(|i| {
                format!(
                    r#"{{"id": "org{}/model-{i}", "name": "Model {i}", "team": "org"}}"#,
                    i % 97
                )
            })
            .collect::<Vec<_>>()
            .join(",\n")
    };
    let body: Vec<String> = (0..types.len())
        .map(|t| format!("\"{}\": [\n{}]", types[t], group(t)))
        .collect();
    format!("{{{}}}", body.join(",\n"))
}

#[test]
fn a_large_manifest_merges_completely_and_in_order() {
    let mut user = parse(&generated(20_000)).unwrap();
    // One bundled model moves to a user group, written in other case.
    user.groups[2].models.push(
        parse(r#"{"x": [{"id": "baai/BGE-LARGE-en-v1.5", "name": "moved", "team": "BAAI"}]}"#)
            .unwrap()
            .groups
            .remove(0)
            .models
            .remove(0),
    );
    let mut m = Manifest::bundled();
    m.merge(user);
    assert_eq!(
        m.types().collect::<Vec<_>>(),
        ["embedding", "caption", "reranker", "ocr"]
    );
    assert_eq!(m.models().count(), 5 + 20_000, "one bundled model replaced");
    // Bundled models first, then the user's in file order.
    let embedding: Vec<String> = m.groups[0].models.iter().map(|x| x.id.id()).collect();
    assert_eq!(
        embedding[..3],
        [
            "Alibaba-NLP/gte-large-en-v1.5",
            "sentence-transformers/all-MiniLM-L6-v2",
            "org0/model-0"
        ]
    );
    assert_eq!(embedding.last().unwrap(), "org14/model-19996");
    assert_eq!(m.groups[2].models.last().unwrap().name, "moved");
}

#[test]
fn a_large_manifest_still_finds_a_late_duplicate() {
    let text = generated(20_000).replacen(
        "\"ocr\": [\n",
        "\"ocr\": [\n{\"id\": \"ORG0/model-0\", \"name\": \"n\", \"team\": \"t\"},\n",
        1,
    );
    let (_, _, msg) = err(&text);
    assert!(
        msg.contains("duplicate id \"ORG0/model-0\" (already listed under \"embedding\")"),
        "{msg}"
    );
}

#[test]
fn same_repo_ignores_case_but_not_the_org() {
    let id = |s: &str| RepoId::model(s).unwrap();
    assert!(same_repo(&id("BAAI/bge"), &id("baai/BGE")));
    assert!(same_repo(&id("gpt2"), &id("GPT2")));
    assert!(!same_repo(&id("gpt2"), &id("openai/gpt2")));
    assert!(!same_repo(&id("a/b"), &id("a/c")));
    assert_eq!(RepoKey::of(&id("BAAI/bge")), RepoKey::of(&id("baai/BGE")));
}

#[test]
fn a_type_name_is_shown_escaped_in_messages() {
    let (_, _, msg) = err("{\"e\\u001b[31m\": [], \"e\\u001b[31m\": []}");
    assert!(
        msg.contains(r#"model type "e\u{1b}[31m" appears twice"#),
        "{msg}"
    );
}

#[cfg(unix)]
#[test]
fn a_device_or_a_huge_file_is_refused_before_it_is_read() {
    let msg = Manifest::from_file(Path::new("/dev/zero"))
        .unwrap_err()
        .to_string();
    assert_eq!(
        msg,
        "/dev/zero:0:0: it is not a regular file but a character device; \
         give --manifest or HAID_MODELS_MANIFEST the path of a JSON file"
    );
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.json");
    let file = std::fs::File::create(&big).unwrap();
    // Sparse: the size is what is checked, nothing needs writing.
    file.set_len(local_file::MANIFEST_LIMIT + 1).unwrap();
    let msg = Manifest::from_file(&big).unwrap_err().to_string();
    assert!(
        msg.contains("it is 16.0 MiB, more than the 16 MiB limit"),
        "{msg}"
    );
    assert!(msg.contains("names the right file"), "{msg}");
}

#[test]
fn a_model_may_pin_a_revision_and_name_its_files() {
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let m = parse(&format!(
        r#"{{"e": [
            {{"id": "o/pinned", "name": "p", "team": "o", "revision": "{sha}", "include": ["*.json", "onnx/*"], "exclude": ["*.bin"]}},
            {{"id": "o/tagged", "name": "t", "team": "o", "revision": "v1.0"}},
            {{"id": "o/plain", "name": "n", "team": "o"}}
        ]}}"#
    ))
    .unwrap();
    let models: Vec<&ManifestModel> = m.models().collect();
    assert!(models[0].is_pinned());
    assert_eq!(models[0].revision.as_str(), sha);
    assert!(models[0].files.keeps("onnx/model.onnx"));
    assert!(!models[0].files.keeps("pytorch_model.bin"));
    assert!(!models[0].files.keeps("model.safetensors"));
    assert_eq!(models[1].revision.as_str(), "v1.0");
    assert!(!models[1].is_pinned());
    assert_eq!(models[2].revision, RefName::main());
    assert!(models[2].files.is_all());
    // Written back with only what was given.
    let json = serde_json::to_value(models[0]).unwrap();
    assert_eq!(json["revision"], sha);
    assert_eq!(json["include"], serde_json::json!(["*.json", "onnx/*"]));
    assert!(serde_json::to_value(models[2])
        .unwrap()
        .get("revision")
        .is_none());
}

#[test]
fn a_bad_revision_or_glob_is_placed_and_explained() {
    let (line, column, msg) =
        err("{\"e\": [\n {\"id\": \"o/m\", \"name\": \"m\", \"team\": \"o\", \"revision\": \"../main\"}]}");
    assert_eq!(line, 2);
    assert!(column > 40, "{column}");
    assert!(
        msg.contains("\"revision\" \"../main\" is not valid"),
        "{msg}"
    );
    assert!(msg.contains("40-hex commit hash"), "{msg}");
    let (line, _, msg) =
        err("{\"e\": [\n {\"id\": \"o/m\", \"name\": \"m\", \"team\": \"o\", \"include\": [\"onnx/[\"]}]}");
    assert_eq!(line, 2);
    assert!(
        msg.contains("model \"o/m\" has a bad \"include\" or \"exclude\""),
        "{msg}"
    );
    assert!(msg.contains("\"onnx/[\" is not a valid glob"), "{msg}");
    let (_, _, msg) = err(
        "{\"e\": [{\"id\": \"o/m\", \"name\": \"m\", \"team\": \"o\", \"include\": \"*.json\"}]}",
    );
    assert!(msg.contains("a sequence"), "a list is asked for: {msg}");
}
