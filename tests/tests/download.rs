//! Downloads against the fake hub: the layout Python reads, resume after
//! SIGKILL, network faults, every failure's message, and locks shared with
//! huggingface_hub.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use haid_models_tests::fake_hub::{FakeHub, Faults, HubRepo};
use haid_models_tests::fixture::weights;
use haid_models_tests::output::{assert_ok, ndjson, stderr};
use haid_models_tests::{haid, python};
use serde_json::Value;
use sha2::{Digest, Sha256};

const MB: usize = 1 << 20;

struct World {
    tmp: tempfile::TempDir,
    hub: FakeHub,
    cache: PathBuf,
}

impl World {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let hub = FakeHub::start(tmp.path().join("hub-root"));
        let cache = tmp.path().join("cache");
        Self { tmp, hub, cache }
    }

    /// A repo on the fake hub with `files`.
    fn model(&self, id: &str, files: &[(&str, Vec<u8>)]) -> HubRepo {
        for (path, content) in files {
            let p = self.hub.root.join(id).join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        self.hub.repo(id)
    }

    /// config, an LFS tokenizer, `mb` MiB of weights and a file in a folder.
    fn standard(&self, id: &str, mb: usize) -> HubRepo {
        self.model(
            id,
            &[
                ("config.json", b"{\"hidden_size\": 384}".to_vec()),
                ("tokenizer.json", weights(7, 4000)),
                ("model.safetensors", weights(1, mb * MB)),
                ("onnx/model.onnx", weights(2, 3000)),
            ],
        )
    }

    fn haid(&self) -> Command {
        let mut cmd = haid(self.tmp.path());
        cmd.env("HF_ENDPOINT", &self.hub.url)
            .arg("--cache-dir")
            .arg(&self.cache);
        cmd
    }

    fn download(&self, args: &[&str]) -> Output {
        self.haid().arg("download").args(args).output().unwrap()
    }

    fn repo_dir(&self, id: &str) -> PathBuf {
        self.cache
            .join(format!("models--{}", id.replace('/', "--")))
    }
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn assert_fails_with(out: &Output, needles: &[&str]) {
    assert_eq!(out.status.code(), Some(1), "{}", stderr(out));
    let err = stderr(out);
    assert_eq!(err.lines().count(), 1, "one clear line: {err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} not in {err:?}");
    }
}

fn incomplete_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir.join("blobs"))
        .map(|it| {
            it.flatten()
                .map(|e| e.path())
                .filter(|p| p.to_string_lossy().ends_with(".incomplete"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn python_reads_our_download_offline_byte_for_byte() {
    let w = World::new();
    let repo = w.standard("acme/small", 2);
    let out = w.download(&["acme/small", "--json"]);
    assert_ok(&out);
    let events = ndjson(&out);
    let done = events.last().unwrap();
    assert_eq!(done["event"], "done");
    assert_eq!(done["repo_id"], "acme/small");
    assert_eq!(done["commit_hash"], repo.sha.as_str());
    assert_eq!(done["size_on_disk"], repo.total_size());
    let snapshot = w.repo_dir("acme/small").join("snapshots").join(&repo.sha);
    assert_eq!(done["snapshot_path"], snapshot.to_str().unwrap());
    assert!(events.iter().any(|e| e["event"] == "progress"));

    let paths: Vec<&str> = repo.files.iter().map(|f| f.path.as_str()).collect();
    let mut args = vec![w.cache.to_str().unwrap(), "acme/small"];
    args.extend(&paths);
    let read = python::run_json("read_offline.py", &args);
    assert_eq!(read["snapshot"], snapshot.to_str().unwrap());
    for f in &repo.files {
        let expected = sha256(&std::fs::read(&f.abs).unwrap());
        assert_eq!(read["files"][&f.path], expected.as_str(), "{}", f.path);
        let blob = w.repo_dir("acme/small").join("blobs").join(f.etag());
        assert!(blob.is_file(), "blob named by etag: {}", blob.display());
    }
    assert_eq!(
        std::fs::read_to_string(w.repo_dir("acme/small").join("refs/main")).unwrap(),
        repo.sha
    );
    let tree: Value = serde_json::from_str(
        &std::fs::read_to_string(
            w.repo_dir("acme/small")
                .join("trees")
                .join(format!("{}.json", repo.sha)),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(tree["format_version"], 1);
    assert_eq!(
        tree["files"]["model.safetensors"]["lfs_sha256"],
        repo.file("model.safetensors").unwrap().etag()
    );

    // Online, Python finds everything in place and fetches nothing.
    w.hub.reset_counts();
    python::hf_ok(&["cache", "verify", "acme/small"], &w.cache, &w.hub.url);
    python::hf_ok(&["download", "acme/small"], &w.cache, &w.hub.url);
    assert_eq!(w.hub.bytes_served(), 0, "Python downloaded nothing again");
}

#[test]
fn a_model_python_downloaded_is_listed_as_downloaded() {
    let w = World::new();
    let repo = w.standard("acme/pyfirst", 1);
    python::hf_ok(&["download", "acme/pyfirst"], &w.cache, &w.hub.url);
    // The fake hub is faithful: the reference verifies what it fetched from it.
    python::hf_ok(&["cache", "verify", "acme/pyfirst"], &w.cache, &w.hub.url);
    let manifest = w.tmp.path().join("m.json");
    std::fs::write(
        &manifest,
        r#"{"embedding": [{"id": "acme/pyfirst", "name": "py", "team": "acme"}]}"#,
    )
    .unwrap();
    let out = w
        .haid()
        .args(["list", "--json", "--manifest"])
        .arg(&manifest)
        .output()
        .unwrap();
    assert_ok(&out);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let model = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["models"].as_array().unwrap())
        .find(|m| m["id"] == "acme/pyfirst")
        .unwrap();
    assert_eq!(model["state"], "downloaded");
    assert_eq!(model["size_on_disk"], repo.total_size());
    // And our download of it transfers nothing.
    w.hub.reset_counts();
    assert_ok(&w.download(&["acme/pyfirst"]));
    assert_eq!(w.hub.bytes_served(), 0);
}

#[test]
fn sigkill_half_way_resumes_where_it_stopped() {
    let w = World::new();
    let repo = w.standard("acme/resume", 8);
    let size = repo.total_size();
    w.hub.set_faults(Faults {
        throttle_bps: Some(3 * MB as u64),
        ..Faults::default()
    });
    let mut child = w
        .haid()
        .args(["download", "acme/resume", "--json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let weights = repo.file("model.safetensors").unwrap();
    let partial = w
        .repo_dir("acme/resume")
        .join("blobs")
        .join(format!("{}.incomplete", weights.etag()));
    let began = Instant::now();
    while std::fs::metadata(&partial).map_or(0, |m| m.len()) < weights.size * 6 / 10 {
        assert!(
            began.elapsed() < Duration::from_secs(30),
            "download did not progress"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "download ended before the kill"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    let kept = std::fs::metadata(&partial).unwrap().len();
    assert!(
        kept >= weights.size / 2,
        "the partial file survives the kill ({kept} bytes)"
    );
    let list = w
        .haid()
        .args(["list", "--json", "--type", "other"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(v["groups"][0]["models"][0]["state"], "partial", "{v}");

    std::thread::sleep(Duration::from_millis(200)); // the server notices the dead socket
    let first_run = w.hub.bytes_served();
    w.hub.reset_counts();
    w.hub.set_faults(Faults::default());
    assert_ok(&w.download(&["acme/resume"]));
    let total = first_run + w.hub.bytes_served();
    assert!(
        total as f64 <= size as f64 * 1.1,
        "served {total} bytes for a {size}-byte model (first run {first_run})"
    );
    let got = std::fs::read(
        w.repo_dir("acme/resume")
            .join("snapshots")
            .join(&repo.sha)
            .join("model.safetensors"),
    )
    .unwrap();
    assert_eq!(sha256(&got), weights.etag());
    assert!(incomplete_files(&w.repo_dir("acme/resume")).is_empty());
}

#[test]
fn cut_connections_and_server_errors_finish_in_the_same_run() {
    let w = World::new();
    let repo = w.standard("acme/flaky", 3);
    w.hub.set_faults(Faults {
        cut_after: Some(MB as u64),
        cut_times: Some(4),
        ..Faults::default()
    });
    let out = w.download(&["acme/flaky", "--json"]);
    assert_ok(&out);
    let events = ndjson(&out);
    assert!(
        events.iter().any(|e| e["event"] == "retrying"),
        "the cuts were retried"
    );
    assert!(
        w.hub.bytes_served() <= repo.total_size() + MB as u64,
        "resumed, not restarted: {}",
        w.hub.bytes_served()
    );

    let w2 = World::new();
    w2.standard("acme/busy", 1);
    w2.hub.set_faults(Faults {
        fail_next: 2,
        fail_status: Some(503),
        ..Faults::default()
    });
    assert_ok(&w2.download(&["acme/busy"]));
    w2.hub.set_faults(Faults {
        fail_next: 1,
        fail_status: Some(429),
        ..Faults::default()
    });
    std::fs::remove_dir_all(&w2.cache).unwrap();
    assert_ok(&w2.download(&["acme/busy"]));
}

#[test]
fn a_server_that_ignores_range_starts_over_without_corrupting() {
    let w = World::new();
    let repo = w.standard("acme/norange", 2);
    let weights = repo.file("model.safetensors").unwrap();
    // A partial from an earlier run: the real first MiB.
    let blobs = w.repo_dir("acme/norange").join("blobs");
    std::fs::create_dir_all(&blobs).unwrap();
    let content = std::fs::read(&weights.abs).unwrap();
    std::fs::write(
        blobs.join(format!("{}.incomplete", weights.etag())),
        &content[..MB],
    )
    .unwrap();
    w.hub.set_faults(Faults {
        ignore_range: true,
        ..Faults::default()
    });
    assert_ok(&w.download(&["acme/norange"]));
    let got = std::fs::read(blobs.join(weights.etag())).unwrap();
    assert_eq!(got.len(), content.len());
    assert_eq!(sha256(&got), weights.etag());
}

#[test]
fn corrupt_bytes_are_never_committed() {
    let w = World::new();
    let repo = w.standard("acme/bad", 1);
    w.hub.set_faults(Faults {
        corrupt_path: Some("model.safetensors".into()),
        ..Faults::default()
    });
    let out = w.download(&["acme/bad"]);
    assert_fails_with(
        &out,
        &["model.safetensors does not match its checksum", "try again"],
    );
    let blobs = w.repo_dir("acme/bad").join("blobs");
    assert!(!blobs
        .join(repo.file("model.safetensors").unwrap().etag())
        .exists());
    assert!(
        incomplete_files(&w.repo_dir("acme/bad")).is_empty(),
        "the bad partial is deleted"
    );
    let list: Value = serde_json::from_slice(
        &w.haid()
            .args(["list", "--json", "--type", "other"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_ne!(list["groups"][0]["models"][0]["state"], "downloaded");
}

#[test]
fn each_failure_says_what_to_do_and_touches_nothing() {
    let w = World::new();
    w.standard("acme/gated", 1);
    w.standard("acme/open", 1);
    w.hub.set_faults(Faults {
        gated: vec!["acme/gated".into()],
        token: Some("hf_good".into()),
        ..Faults::default()
    });
    assert_fails_with(
        &w.download(&["acme/gated"]),
        &[
            "acme/gated is gated or private",
            "HF_TOKEN",
            "hf auth login",
        ],
    );
    let out = w
        .haid()
        .env("HF_TOKEN", "hf_wrong")
        .args(["download", "acme/gated"])
        .output()
        .unwrap();
    assert_fails_with(&out, &["the token was refused"]);
    assert_ok(
        &w.haid()
            .env("HF_TOKEN", "hf_good")
            .args(["download", "acme/gated"])
            .output()
            .unwrap(),
    );

    assert_fails_with(&w.download(&["acme/nope"]), &["not found: model acme/nope"]);
    assert_fails_with(
        &w.download(&["acme/open", "--revision", "v9"]),
        &["not found: revision \"v9\""],
    );

    w.hub.reset_counts();
    let out = w
        .haid()
        .env("HF_HUB_OFFLINE", "1")
        .args(["download", "acme/other"])
        .output()
        .unwrap();
    assert_fails_with(&out, &["HF_HUB_OFFLINE", "unset it"]);
    for bad in ["../x", "a/b/c", "/etc/passwd", "org/na me"] {
        assert_fails_with(&w.download(&[bad]), &["invalid repo id"]);
    }
    assert_fails_with(
        &w.download(&["acme/gated", "--revision", "../../x"]),
        &["invalid revision"],
    );
    assert_eq!(
        w.hub.requests(),
        0,
        "offline and invalid input never reach the network"
    );
    assert!(!w.cache.join("models--acme--other").exists());
}

/// A small file system of our own, to fill up on purpose.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(path: PathBuf, size: &str) -> Self {
        std::fs::create_dir_all(&path).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "this test mounts a tmpfs and needs root (as `make test` on the CI machine has)"
        );
        Self(path)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_is_refused_up_front_or_kept_for_resume() {
    let w = World::new();
    let repo = w.standard("acme/big", 3);
    let fs = Tmpfs::mount(w.tmp.path().join("small-disk"), "2m");
    let cache = fs.0.join("hub");
    let run = |args: &[&str]| {
        let mut cmd = haid(w.tmp.path());
        cmd.env("HF_ENDPOINT", &w.hub.url)
            .arg("--cache-dir")
            .arg(&cache)
            .arg("download")
            .args(args);
        cmd.output().unwrap()
    };
    assert_fails_with(
        &run(&["acme/big"]),
        &["not enough disk space", "free up space"],
    );
    assert_eq!(w.hub.file_requests(), 0, "refused before any transfer");
    assert!(
        !cache.join("models--acme--big").exists(),
        "refused before anything is written: no ref to a commit without a snapshot"
    );

    // Room at the start, a full disk midway: the partial stays for the resume.
    drop(fs);
    let fs = Tmpfs::mount(w.tmp.path().join("mid-disk"), "4m");
    let cache = fs.0.join("hub");
    w.hub.set_faults(Faults {
        throttle_bps: Some(2 * MB as u64),
        ..Faults::default()
    });
    let child = haid(w.tmp.path())
        .env("HF_ENDPOINT", &w.hub.url)
        .arg("--cache-dir")
        .arg(&cache)
        .args(["download", "acme/big"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let weights = repo.file("model.safetensors").unwrap();
    let partial = cache
        .join("models--acme--big/blobs")
        .join(format!("{}.incomplete", weights.etag()));
    let began = Instant::now();
    while std::fs::metadata(&partial).map_or(0, |m| m.len()) < MB as u64 {
        assert!(began.elapsed() < Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(20));
    }
    let filler = fs.0.join("filler");
    let _ = std::fs::write(&filler, vec![0u8; 4 * MB]); // fills what is left
    let out = child.wait_with_output().unwrap();
    assert_fails_with(&out, &["disk is full", "resume"]);
    let kept = std::fs::metadata(&partial).unwrap().len();
    assert!(kept >= MB as u64, "the partial is kept: {kept}");
    std::fs::remove_file(&filler).unwrap();
    w.hub.set_faults(Faults::default());
    let out = haid(w.tmp.path())
        .env("HF_ENDPOINT", &w.hub.url)
        .arg("--cache-dir")
        .arg(&cache)
        .args(["download", "acme/big"])
        .output()
        .unwrap();
    assert_ok(&out);
    let got = std::fs::read(cache.join("models--acme--big/blobs").join(weights.etag())).unwrap();
    assert_eq!(sha256(&got), weights.etag());
}

#[test]
fn ours_and_pythons_at_once_end_with_one_intact_copy() {
    let w = World::new();
    let repo = w.standard("acme/race", 6);
    w.hub.set_faults(Faults {
        throttle_bps: Some(6 * MB as u64),
        ..Faults::default()
    });
    let python = python::venv_command("hf")
        .args(["download", "acme/race", "--cache-dir"])
        .arg(&w.cache)
        .env("HF_ENDPOINT", &w.hub.url)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let ours = w
        .haid()
        .args(["download", "acme/race"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (py, us) = (
        python.wait_with_output().unwrap(),
        ours.wait_with_output().unwrap(),
    );
    assert!(
        py.status.success(),
        "python: {}",
        String::from_utf8_lossy(&py.stderr)
    );
    assert_ok(&us);
    let blobs: Vec<_> = std::fs::read_dir(w.repo_dir("acme/race").join("blobs"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(
        blobs.len(),
        repo.files.len(),
        "one blob per file, no leftovers"
    );
    for f in &repo.files {
        let got = std::fs::read(w.repo_dir("acme/race").join("blobs").join(f.etag())).unwrap();
        assert_eq!(
            sha256(&got),
            sha256(&std::fs::read(&f.abs).unwrap()),
            "{}",
            f.path
        );
    }
    let served = w.hub.bytes_served() as f64;
    assert!(
        served <= repo.total_size() as f64 * 1.1,
        "the lock made one wait for the other: {served}"
    );
}

#[test]
fn list_says_downloading_while_a_download_runs() {
    let w = World::new();
    w.standard("acme/slow", 4);
    w.hub.set_faults(Faults {
        throttle_bps: Some(MB as u64),
        ..Faults::default()
    });
    let mut child = w
        .haid()
        .args(["download", "acme/slow"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let began = Instant::now();
    let state = loop {
        let out = w
            .haid()
            .args(["list", "--json", "--type", "other"])
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let state = v["groups"][0]["models"][0]["state"].clone();
        if state == "downloading" || began.elapsed() > Duration::from_secs(10) {
            break state;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(state, "downloading");
}
