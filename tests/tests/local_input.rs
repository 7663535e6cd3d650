//! Local input that must not hurt us (issue 14): a manifest or settings
//! path that is a device, a FIFO or a huge file is refused at once; escape
//! codes in a manifest reach the terminal as text; bad settings values are
//! refused with the file, the key and the fix. Loading speed is measured by
//! `bench/manifest.sh`, not here; here a large manifest must load correctly.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use haid_models_tests::haid;
use serde_json::Value;

/// Long enough for a slow CI machine, short enough that a hang fails.
const DEADLINE: Duration = Duration::from_secs(20);

/// Runs `haid-models ARGS` in `root`, killing it at the deadline: a read
/// that blocks must fail the test, not hang it. Its output is read while it
/// runs (a full pipe would block it too).
fn run(root: &Path, args: &[&str]) -> Output {
    let mut child = haid(root)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > DEADLINE {
            child.kill().unwrap();
            panic!("haid-models {args:?} still runs after {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        pipe.read_to_end(&mut bytes).unwrap();
        bytes
    })
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Exit 1 and one `error:` line that contains every piece of `wanted`.
fn fails_with(out: &Output, wanted: &[&str]) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(out.stdout.is_empty(), "nothing on stdout on failure");
    assert!(err.starts_with("error: "), "{err}");
    for piece in wanted {
        assert!(err.contains(piece), "{piece:?} not in: {err}");
    }
    err
}

fn json(out: &Output) -> Value {
    assert!(out.status.success(), "failed: {}", stderr(out));
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON document")
}

/// `list --manifest FILE` against an empty cache in `root`.
fn list(root: &Path, manifest: &Path, json: bool) -> Output {
    let cache = root.join("hub");
    let mut args = vec![
        "list",
        "--manifest",
        manifest.to_str().unwrap(),
        "--cache-dir",
        cache.to_str().unwrap(),
    ];
    if json {
        args.push("--json");
    }
    run(root, &args)
}

#[cfg(unix)]
#[test]
fn a_device_as_manifest_is_refused_without_reading_it() {
    let root = tempfile::tempdir().unwrap();
    let out = list(root.path(), Path::new("/dev/zero"), true);
    fails_with(
        &out,
        &[
            "/dev/zero",
            "is not a regular file but a character device",
            "--manifest",
        ],
    );
}

#[cfg(unix)]
#[test]
fn a_fifo_as_manifest_fails_at_once() {
    let root = tempfile::tempdir().unwrap();
    let fifo = root.path().join("manifest.json");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.unwrap().success(), "mkfifo");
    let started = Instant::now();
    let out = list(root.path(), &fifo, false);
    fails_with(
        &out,
        &[
            fifo.to_str().unwrap(),
            "is not a regular file but a named pipe (FIFO)",
        ],
    );
    // Not a timing goal: "at once" means no wait for a writer at all.
    assert!(started.elapsed() < DEADLINE / 2, "{:?}", started.elapsed());
}

#[test]
fn an_oversized_manifest_is_refused_before_it_is_read() {
    let root = tempfile::tempdir().unwrap();
    let big = root.path().join("big.json");
    // Sparse: its size is what is checked, so nothing needs writing.
    fs::File::create(&big)
        .unwrap()
        .set_len(16 * 1024 * 1024 + 1)
        .unwrap();
    let out = list(root.path(), &big, true);
    fails_with(
        &out,
        &[
            "big.json",
            "more than the 16 MiB limit",
            "names the right file",
        ],
    );
}

/// A manifest whose name, team and type carry escape codes.
fn escape_manifest(root: &Path) -> PathBuf {
    let file = root.join("escape.json");
    fs::write(
        &file,
        r#"{"embedding": [{"id": "acme/red", "name": "red\u001b[31m", "team": "acme\u009b2J", "dimensions": 8}],
            "x\u001b[2J": [{"id": "acme/clear", "name": "clear", "team": "acme"}]}"#,
    )
    .unwrap();
    file
}

#[test]
fn json_output_keeps_escape_codes_exact() {
    let root = tempfile::tempdir().unwrap();
    let out = list(root.path(), &escape_manifest(root.path()), true);
    let v = json(&out);
    let groups = v["groups"].as_array().unwrap();
    let models = groups.iter().flat_map(|g| g["models"].as_array().unwrap());
    let red = models.clone().find(|m| m["id"] == "acme/red").unwrap();
    assert_eq!(red["name"], "red\u{1b}[31m");
    assert_eq!(red["team"], "acme\u{9b}2J");
    assert!(groups.iter().any(|g| g["type"] == "x\u{1b}[2J"), "{v}");
    // On the wire it is JSON's escape, not the raw byte.
    let raw = String::from_utf8(out.stdout).unwrap();
    assert!(raw.contains(r#""red\u001b[31m""#), "{raw}");
    assert!(!raw.contains('\u{1b}'), "{raw}");
}

#[test]
fn human_output_shows_escape_codes_as_text() {
    let root = tempfile::tempdir().unwrap();
    let out = list(root.path(), &escape_manifest(root.path()), false);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(r"red\x1b[31m"), "{text}");
    assert!(text.contains(r"acme\x9b2J"), "{text}");
    assert!(text.contains(r"X\x1b[2J"), "the type's title: {text}");
    assert!(
        !text.contains(['\u{1b}', '\u{9b}']),
        "raw control characters: {text:?}"
    );
}

/// `n` models in four groups; the last one replaces a bundled model
/// (written in other case) and so moves it to a user group.
fn large_manifest(root: &Path, n: usize) -> PathBuf {
    let types = ["embedding", "caption", "reranker", "ocr"];
    let model = |i: usize| {
        serde_json::json!({"id": format!("org{}/model-{i}", i % 97), "name": format!("Model {i}"),
                           "team": format!("org{}", i % 97), "size_mb": i})
    };
    // Written by hand: a serde_json map would sort the types.
    let groups: Vec<String> = (0..types.len())
        .map(|t| {
            let mut models: Vec<Value> = (t..n).step_by(types.len()).map(model).collect();
            if types[t] == "ocr" {
                models.push(serde_json::json!(
                    {"id": "baai/BGE-large-EN-v1.5", "name": "moved", "team": "BAAI"}
                ));
            }
            format!("{:?}: {}", types[t], Value::Array(models))
        })
        .collect();
    let file = root.join("large.json");
    fs::write(&file, format!("{{{}}}", groups.join(",\n"))).unwrap();
    file
}

#[test]
fn a_large_manifest_lists_every_model_once_in_order() {
    const MODELS: usize = 40_000;
    let root = tempfile::tempdir().unwrap();
    let file = large_manifest(root.path(), MODELS);
    let v = json(&list(root.path(), &file, true));
    let groups = v["groups"].as_array().unwrap();
    let types: Vec<&str> = groups.iter().map(|g| g["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["embedding", "caption", "reranker", "ocr", "other"]);
    let ids: Vec<&str> = groups
        .iter()
        .flat_map(|g| g["models"].as_array().unwrap())
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    // The bundled 5 (one of them replaced by the moved one), plus the user's.
    assert_eq!(ids.len(), 5 + MODELS);
    let unique: std::collections::HashSet<String> =
        ids.iter().map(|id| id.to_ascii_lowercase()).collect();
    assert_eq!(unique.len(), ids.len(), "an id is listed twice");
    let embedding = groups[0]["models"].as_array().unwrap();
    assert_eq!(
        embedding.len(),
        2 + MODELS / 4,
        "bge left its bundled group"
    );
    assert_eq!(
        embedding[2]["id"], "org0/model-0",
        "bundled first, then the file's order"
    );
    let last = MODELS - 4; // the last index of group 0
    assert_eq!(
        embedding.last().unwrap()["id"],
        format!("org{}/model-{last}", last % 97).as_str()
    );
    let moved = groups[3]["models"].as_array().unwrap().last().unwrap();
    assert_eq!(
        (&moved["id"], &moved["name"]),
        (
            &Value::from("baai/BGE-large-EN-v1.5"),
            &Value::from("moved")
        )
    );
    assert!(groups.iter().all(|g| g["models"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["state"] == "not_downloaded")));
}

/// Writes the app's settings file (where `haid` puts the config folder).
fn settings(root: &Path, json: &str) -> PathBuf {
    let file = root.join("config/com.haid.models/settings.json");
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    fs::write(&file, json).unwrap();
    file
}

#[test]
fn bad_settings_values_fail_with_file_key_and_fix() {
    let root = tempfile::tempdir().unwrap();
    let cases = [
        (
            r#"{"concurrency": 0}"#,
            r#""concurrency" is 0, but concurrency must be 1 to 8"#,
        ),
        (
            r#"{"endpoint": "file:///etc/passwd"}"#,
            r#""endpoint" is "file:///etc/passwd", but endpoint must be an http(s) URL"#,
        ),
        (
            r#"{"cache_dir": "models/hub"}"#,
            r#""cache_dir" is "models/hub", but cache_dir must be an absolute path"#,
        ),
    ];
    for (json, wanted) in cases {
        let file = settings(root.path(), json);
        // `where` reads the settings for the cache location.
        let out = run(root.path(), &["where", "--json"]);
        fails_with(
            &out,
            &[
                &format!("settings file {}", file.display()),
                wanted,
                "Fix the file or delete it to go back to the defaults.",
            ],
        );
    }
}

#[test]
fn a_bad_endpoint_fails_a_download_even_with_a_cache_dir() {
    let root = tempfile::tempdir().unwrap();
    settings(root.path(), r#"{"endpoint": "file:///srv/models"}"#);
    let cache = root.path().join("hub");
    let out = run(
        root.path(),
        &["download", "acme/m", "--cache-dir", cache.to_str().unwrap()],
    );
    fails_with(&out, &["endpoint must be an http(s) URL"]);
    assert!(!cache.join("models--acme--m").exists(), "nothing written");
}

#[cfg(unix)]
#[test]
fn a_settings_path_that_is_a_fifo_or_a_huge_file_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let file = settings(root.path(), "");
    fs::remove_file(&file).unwrap();
    let made = std::process::Command::new("mkfifo").arg(&file).status();
    assert!(made.unwrap().success(), "mkfifo");
    let out = run(root.path(), &["where", "--json"]);
    fails_with(
        &out,
        &[
            "settings.json",
            "is not a regular file but a named pipe (FIFO)",
        ],
    );
    fs::remove_file(&file).unwrap();
    fs::File::create(&file)
        .unwrap()
        .set_len(1024 * 1024 + 1)
        .unwrap();
    let out = run(root.path(), &["where", "--json"]);
    fails_with(&out, &["settings.json", "more than the 1 MiB limit"]);
}

#[test]
fn good_settings_still_load() {
    let root = tempfile::tempdir().unwrap();
    settings(
        root.path(),
        r#"{"concurrency": 8, "endpoint": "https://hf-mirror.com", "cache_dir": "/srv/hf/hub"}"#,
    );
    let v = json(&run(root.path(), &["where", "--json"]));
    assert_eq!(
        (v["cache_dir"].as_str(), v["source"].as_str()),
        (Some("/srv/hf/hub"), Some("settings"))
    );
}
