//! Runs the reference client, Python `huggingface_hub`, from the venv that
//! `make test` creates under `target/venv`.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::fake_hub::HubRepo;

/// The workspace root (this crate lives in `<root>/tests`).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// `HAID_TEST_PYTHON`, else `target/venv/bin/python`. Missing is a test
/// failure with the command that fixes it, never a silent skip.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("HAID_TEST_PYTHON").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let venv = workspace_root().join("target/venv/bin/python");
    assert!(
        venv.exists(),
        "the reference Python is missing: run `make test-deps` (creates target/venv with huggingface_hub) or set HAID_TEST_PYTHON"
    );
    venv
}

/// Runs `tests/py/<script>` with `args`; returns its stdout parsed as JSON.
pub fn run_json(script: &str, args: &[&str]) -> serde_json::Value {
    let path = workspace_root().join("tests/py").join(script);
    let out = Command::new(python())
        .arg(&path)
        .args(args)
        .env("HF_HUB_OFFLINE", "1")
        .env("HF_HUB_DISABLE_TELEMETRY", "1")
        .output()
        .expect("run the reference python");
    assert!(
        out.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the python script prints JSON")
}

/// A program of the reference venv (`hf`, …), with HF_* variables cleared.
pub fn venv_command(program: &str) -> Command {
    let bin = python().parent().unwrap().join(program);
    let mut cmd = Command::new(bin);
    for (key, _) in std::env::vars() {
        if key.starts_with("HF_") || key.starts_with("HUGGINGFACE_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("HF_HUB_DISABLE_TELEMETRY", "1")
        .env("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        .env("HF_HUB_DISABLE_XET", "1");
    cmd
}

/// Runs `hf ARGS… --cache-dir CACHE` against `endpoint` and asserts it succeeded.
pub fn hf_ok(args: &[&str], cache: &std::path::Path, endpoint: &str) -> std::process::Output {
    let out = venv_command("hf")
        .args(args)
        .arg("--cache-dir")
        .arg(cache)
        .env("HF_ENDPOINT", endpoint)
        .output()
        .expect("run hf");
    assert!(
        out.status.success(),
        "hf {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Python, offline, resolves every file of `repo` (`id`, whose files are
/// under `hub_root`) from `cache`, with the hub's bytes.
pub fn assert_reads_offline(cache: &Path, hub_root: &Path, id: &str, repo: &HubRepo) {
    let files: Vec<&str> = repo.files.iter().map(|f| f.path.as_str()).collect();
    let mut args = vec![cache.to_str().unwrap(), id];
    args.extend(&files);
    let got = run_json("read_offline.py", &args);
    for f in &repo.files {
        let want = hex::encode(Sha256::digest(
            std::fs::read(hub_root.join(id).join(&f.path)).unwrap(),
        ));
        assert_eq!(got["files"][&f.path], want, "{id}/{}", f.path);
    }
}
