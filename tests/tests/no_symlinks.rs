//! Caches without symlinks (`HF_HUB_DISABLE_SYMLINKS=1`, or Windows without
//! developer mode), written as huggingface_hub writes them: every snapshot
//! file is a plain file, a new blob is moved there and a shared one copied.
//! Download, resume after a kill, a second revision, prune, delete and
//! verify all work on that layout, no symlink is ever made, and Python's
//! `hf cache verify` passes on what we wrote.

use std::path::{Path, PathBuf};
use std::process::Output;

use haid_models_tests::fake_hub::{FakeHub, HubRepo};
use haid_models_tests::fixture::weights;
use haid_models_tests::output::{assert_ok, json_ok};
use haid_models_tests::tree_walk::tree_state;
use haid_models_tests::{haid, python};
use serde_json::Value;

const ID: &str = "acme/plain";
const OFF: (&str, &str) = ("HF_HUB_DISABLE_SYMLINKS", "1");

struct World {
    tmp: tempfile::TempDir,
    hub: FakeHub,
    cache: PathBuf,
}

impl World {
    /// A repo with two identical files (one blob for two paths) and one
    /// file big enough for an LFS etag.
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let hub = FakeHub::start(tmp.path().join("hub-root"));
        for (path, content) in [
            ("config.json", b"{\"dim\": 8}".to_vec()),
            ("tokenizer.json", weights(7, 4000)),
            ("copy/tokenizer.json", weights(7, 4000)),
            ("model.safetensors", weights(1, 300_000)),
            ("onnx/model.onnx", weights(2, 3000)),
        ] {
            let p = hub.root.join(ID).join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        let cache = tmp.path().join("cache");
        Self { tmp, hub, cache }
    }

    fn run(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        let mut cmd = haid(self.tmp.path());
        cmd.env("HF_ENDPOINT", &self.hub.url)
            .env(OFF.0, OFF.1)
            .envs(env.iter().copied())
            .arg("--cache-dir")
            .arg(&self.cache)
            .args(args);
        cmd.output().unwrap()
    }

    fn repo_dir(&self) -> PathBuf {
        self.cache.join("models--acme--plain")
    }

    fn snapshot(&self, commit: &str) -> PathBuf {
        self.repo_dir().join("snapshots").join(commit)
    }

    /// The bytes a rerun still has to fetch: files neither in the snapshot
    /// nor in `blobs/`, less what their `.incomplete` holds.
    #[cfg(unix)]
    fn missing_bytes(&self, repo: &HubRepo) -> u64 {
        let len = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
        let blobs = self.repo_dir().join("blobs");
        let mut missing = std::collections::BTreeMap::new();
        for f in &repo.files {
            let placed = len(&self.snapshot(&repo.sha).join(&f.path)) == f.size;
            let blob = len(&blobs.join(f.etag())) == f.size;
            let partial = len(&blobs.join(format!("{}.incomplete", f.etag())));
            let need = if placed || blob { 0 } else { f.size - partial };
            // One fetch per blob, whichever path needs it.
            let entry = missing.entry(f.etag().to_owned()).or_insert(need);
            *entry = (*entry).min(need);
        }
        missing.values().sum()
    }

    /// Every file of `repo` is in its snapshot as a plain file, with the hub's bytes.
    fn assert_plain_snapshot(&self, repo: &HubRepo) {
        self.assert_plain_files(repo);
        for f in &repo.files {
            let p = self.snapshot(&repo.sha).join(&f.path);
            let same = std::fs::read(&p).unwrap() == std::fs::read(&f.abs).unwrap();
            assert!(same, "{} holds the hub's bytes", f.path);
        }
    }

    /// Every file of `repo` is in its snapshot as a plain file of its size
    /// (the hub's folder may hold a later commit's bytes by now).
    fn assert_plain_files(&self, repo: &HubRepo) {
        for f in &repo.files {
            let p = self.snapshot(&repo.sha).join(&f.path);
            let meta = std::fs::symlink_metadata(&p).unwrap();
            assert!(meta.is_file(), "{} is a plain file", f.path);
            assert_eq!(meta.len(), f.size, "{}", f.path);
        }
        assert_no_symlink(&self.cache);
        assert_eq!(self.blob_files(), 0, "blobs were moved into the snapshot");
    }

    /// A copy of `path`'s bytes back in `blobs/` beside the plain file,
    /// as another program leaves it (huggingface_hub copies a blob it did
    /// not just download, and keeps it).
    fn stray_blob(&self, repo: &HubRepo, path: &str) -> PathBuf {
        let blob = self.blob(repo, path);
        std::fs::copy(self.snapshot(&repo.sha).join(path), &blob).unwrap();
        blob
    }

    fn blob(&self, repo: &HubRepo, path: &str) -> PathBuf {
        let etag = repo.file(path).unwrap().etag();
        self.repo_dir().join("blobs").join(etag)
    }

    fn prune_plan(&self) -> Value {
        json_ok(&self.run(&[], &["--json", "prune", "--dry-run"]))
    }

    fn blob_files(&self) -> usize {
        std::fs::read_dir(self.repo_dir().join("blobs")).map_or(0, |d| d.flatten().count())
    }

    fn scan_repo(&self) -> Value {
        let scan = json_ok(&self.run(&[], &["--json", "scan"]));
        scan["repos"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["repo_id"] == ID)
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// Our verify and Python's `hf cache verify` both pass.
    fn assert_verified(&self) {
        let report = json_ok(&self.run(&[], &["--json", "verify", ID]));
        assert_eq!(report["ok"], true, "{report}");
        assert!(report["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["verdict"] == "ok"));
        python::hf_ok(&["cache", "verify", ID], &self.cache, &self.hub.url);
    }
}

fn assert_no_symlink(dir: &Path) {
    for entry in walk(dir) {
        let meta = std::fs::symlink_metadata(&entry).unwrap();
        assert!(
            !meta.is_symlink(),
            "a symlink was made: {}",
            entry.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if e.file_type().unwrap().is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

#[test]
fn a_download_writes_plain_files_that_scan_verify_and_python_accept() {
    let w = World::new();
    let repo = w.hub.repo(ID);
    let out = w.run(&[], &["--json", "download", ID]);
    assert_ok(&out);
    w.assert_plain_snapshot(&repo);
    // One blob for two identical paths: fetched once, copied once.
    assert_eq!(w.hub.bytes_served(), repo.total_size() - 4000);

    let ours = w.scan_repo();
    assert_eq!(ours["state"], "complete", "{ours}");
    let theirs = python::run_json("hf_scan.py", &[w.cache.to_str().unwrap()]);
    let theirs = &theirs["repos"][0];
    assert_eq!(ours["size_on_disk"], theirs["size_on_disk"]);
    assert_eq!(ours["nb_files"], theirs["nb_files"]);
    assert_eq!(ours["size_on_disk"], repo.total_size());
    w.assert_verified();

    let manifest = w.tmp.path().join("manifest.json");
    let entry = format!(r#"{{"embedding": [{{"id": "{ID}", "name": "Plain", "team": "acme"}}]}}"#);
    std::fs::write(&manifest, entry).unwrap();
    let list = json_ok(&w.run(
        &[],
        &["--json", "list", "--manifest", manifest.to_str().unwrap()],
    ));
    // Merged over the bundled manifest: found by its id.
    let model = list["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["models"].as_array().unwrap())
        .find(|m| m["id"] == ID)
        .unwrap();
    assert_eq!(model["state"], "downloaded", "{list}");
    assert_eq!(model["size_on_disk"], repo.total_size());
}

#[test]
fn a_second_revision_copies_what_it_shares_and_prune_frees_the_first() {
    let w = World::new();
    assert_ok(&w.run(&[], &["download", ID]));
    let first = w.hub.repo(ID);
    let second_sha = w.hub.advance(ID, |dir| {
        std::fs::write(dir.join("onnx/model.onnx"), weights(9, 3500)).unwrap();
    });
    let second = w.hub.repo(ID);
    w.hub.reset_counts();
    assert_ok(&w.run(&[], &["download", ID]));
    assert_eq!(
        w.hub.bytes_served(),
        3500,
        "only the changed file is fetched"
    );
    w.assert_plain_snapshot(&second);
    w.assert_plain_files(&first);
    w.assert_verified();
    let old = json_ok(&w.run(&[], &["--json", "verify", ID, "--revision", &first.sha]));
    assert_eq!(old["ok"], true, "the first revision is whole too: {old}");

    let plan = json_ok(&w.run(&[], &["--json", "prune", "--dry-run"]));
    let first_size = first.total_size();
    assert_eq!(plan["freed_bytes"], first_size, "{plan}");
    assert_ok(&w.run(&[], &["prune", "--yes"]));
    assert!(!w.snapshot(&first.sha).exists());
    w.assert_plain_snapshot(&second);
    assert_eq!(w.scan_repo()["size_on_disk"], second.total_size());
    assert_eq!(w.scan_repo()["revisions"][0]["commit_hash"], second_sha);
    w.assert_verified();
}

#[test]
fn delete_frees_the_snapshot_files() {
    let w = World::new();
    assert_ok(&w.run(&[], &["download", ID]));
    let repo = w.hub.repo(ID);
    let out = json_ok(&w.run(&[], &["--json", "delete", ID, "--yes"]));
    assert_eq!(out["freed_bytes"], repo.total_size(), "{out}");
    assert!(!w.repo_dir().exists());
    assert_eq!(w.scan_repo(), Value::Null);
}

#[test]
fn a_damaged_plain_file_fails_verify() {
    let w = World::new();
    assert_ok(&w.run(&[], &["download", ID]));
    let repo = w.hub.repo(ID);
    std::fs::write(
        w.snapshot(&repo.sha).join("onnx/model.onnx"),
        weights(3, 3000),
    )
    .unwrap();
    let out = w.run(&[], &["--json", "verify", ID]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let bad: Vec<&Value> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["verdict"] != "ok")
        .collect();
    assert_eq!(bad.len(), 1, "{report}");
    assert_eq!(bad[0]["path"], "onnx/model.onnx");
    assert_eq!(bad[0]["verdict"], "mismatch");
}

#[cfg(unix)] // a kill is a signal
#[test]
fn a_download_killed_at_every_step_resumes_without_symlinks() {
    use std::os::unix::process::ExitStatusExt;
    let files = 5;
    let blobs = 4; // two paths share one blob
    let mut steps = vec![("ref", 1)];
    steps.extend((1..=blobs).map(|n| ("blob", n)));
    steps.extend((1..=files).map(|n| ("link", n)));
    for (step, n) in steps {
        let w = World::new();
        let repo = w.hub.repo(ID);
        let at = format!("{step}:{n}");
        let out = w.run(&[("HAID_DOWNLOAD_CRASH_AT", &at)], &["download", ID]);
        assert_eq!(out.status.signal(), Some(6), "{at}: killed");
        assert_no_symlink(&w.cache);
        python::run_json("hf_scan.py", &[w.cache.to_str().unwrap()]);

        let missing = w.missing_bytes(&repo);
        w.hub.reset_counts();
        assert_ok(&w.run(&[], &["download", ID]));
        assert_eq!(w.hub.bytes_served(), missing, "{at}: only what was missing");
        w.assert_plain_snapshot(&repo);
        assert_eq!(w.scan_repo()["state"], "complete", "{at}");
        w.assert_verified();
    }
}

#[test]
fn export_and_move_carry_a_cache_without_symlinks() {
    let w = World::new();
    assert_ok(&w.run(&[], &["download", ID]));
    let repo = w.hub.repo(ID);
    let tar = w.tmp.path().join("plain.tar");
    let out = w.run(&[], &["--json", "export", ID, "-o", tar.to_str().unwrap()]);
    assert_ok(&out);

    // Imported into a second cache that has no symlinks either.
    let other = w.tmp.path().join("other");
    let out = haid(w.tmp.path())
        .env(OFF.0, OFF.1)
        .arg("--cache-dir")
        .arg(&other)
        .args(["--json", "import"])
        .arg(&tar)
        .output()
        .unwrap();
    assert_ok(&out);
    let imported = other.join("models--acme--plain/snapshots").join(&repo.sha);
    for f in &repo.files {
        let meta = std::fs::symlink_metadata(imported.join(&f.path)).unwrap();
        assert!(meta.is_file(), "{} imported as a plain file", f.path);
    }
    assert_no_symlink(&other);
    python::hf_ok(&["cache", "verify", ID], &other, &w.hub.url);

    // Moved: the plain files go along, still plain.
    let dest = w.tmp.path().join("moved");
    assert_ok(&w.run(&[], &["move", dest.to_str().unwrap()]));
    let moved = dest.join("models--acme--plain/snapshots").join(&repo.sha);
    for f in &repo.files {
        let same = std::fs::read(moved.join(&f.path)).unwrap() == std::fs::read(&f.abs).unwrap();
        assert!(same, "{} moved", f.path);
    }
    assert_no_symlink(&dest);
    python::hf_ok(&["cache", "verify", ID], &dest, &w.hub.url);
}

fn names(list: &Value) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| PathBuf::from(p.as_str().unwrap()))
        .collect();
    out.sort();
    out
}

#[test]
fn prune_removes_a_blob_whose_files_are_all_plain_files_already() {
    let w = World::new();
    assert_ok(&w.run(&[], &["download", ID]));
    let repo = w.hub.repo(ID);
    // One blob of one file, and the one two identical files share.
    let mut strays = vec![
        w.stray_blob(&repo, "model.safetensors"),
        w.stray_blob(&repo, "tokenizer.json"),
    ];
    strays.sort();
    let wasted = 300_000 + 4000;

    let before = tree_state(&w.cache, &[]);
    let plan = w.prune_plan();
    assert_eq!(names(&plan["stray_blobs"]), strays, "{plan}");
    assert_eq!(plan["freed_bytes"], wasted, "{plan}");
    assert_eq!(
        tree_state(&w.cache, &[]),
        before,
        "a dry run removes nothing"
    );
    // The app's figure of what prune frees is the same.
    let space = json_ok(&w.run(&[], &["--json", "space"]));
    assert_eq!(space["prunable_bytes"], wasted, "{space}");

    let out = json_ok(&w.run(&[], &["--json", "prune", "--yes"]));
    assert_eq!(out["freed_bytes"], wasted, "{out}");
    w.assert_plain_snapshot(&repo);
    assert_eq!(w.scan_repo()["size_on_disk"], repo.total_size());
    w.assert_verified();
    assert_eq!(w.prune_plan()["freed_bytes"], 0);
}

#[test]
fn prune_keeps_a_blob_a_missing_file_a_symlink_or_a_held_lock_needs() {
    let w = World::new();
    assert_ok(&w.run(&[], &["download", ID]));
    let repo = w.hub.repo(ID);
    let snapshot = w.snapshot(&repo.sha);
    // Of the two identical files, one copied and the other still to be
    // moved in, as a kill in the placing leaves them.
    let shared = w.blob(&repo, "copy/tokenizer.json");
    std::fs::rename(snapshot.join("copy/tokenizer.json"), &shared).unwrap();
    // A file that is a symlink to its blob (a cache that had symlinks).
    let linked = w.blob(&repo, "model.safetensors");
    #[cfg(unix)]
    {
        std::fs::rename(snapshot.join("model.safetensors"), &linked).unwrap();
        let target = PathBuf::from(format!(
            "../../blobs/{}",
            linked.file_name().unwrap().to_str().unwrap()
        ));
        std::os::unix::fs::symlink(target, snapshot.join("model.safetensors")).unwrap();
    }
    // A stray copy whose lock a download holds.
    let held = w.stray_blob(&repo, "config.json");
    let etag = repo.file("config.json").unwrap().etag();
    let lock_path = w
        .cache
        .join(".locks/models--acme--plain")
        .join(format!("{etag}.lock"));
    std::fs::create_dir_all(lock_path.parent().unwrap()).unwrap();
    let lock = std::fs::File::create(&lock_path).unwrap();
    lock.lock().unwrap();

    let plan = w.prune_plan();
    assert_eq!(plan["freed_bytes"], 0, "{plan}");
    let skipped = plan["skipped"].to_string();
    assert!(skipped.contains("a download is running"), "{plan}");
    drop(lock);

    let plan = w.prune_plan();
    assert_eq!(
        names(&plan["stray_blobs"]),
        std::slice::from_ref(&held),
        "{plan}"
    );
    assert_eq!(
        names(&plan["orphan_blobs"]),
        Vec::<PathBuf>::new(),
        "{plan}"
    );
    assert_ok(&w.run(&[], &["prune", "--yes"]));
    assert!(!held.exists());
    assert!(shared.is_file(), "a missing file still needs it");
    assert!(!cfg!(unix) || linked.is_file(), "a symlink still needs it");

    // The download finishes from the blob it kept: nothing is fetched.
    w.hub.reset_counts();
    assert_ok(&w.run(&[], &["download", ID]));
    assert_eq!(w.hub.bytes_served(), 0);
    assert_eq!(w.scan_repo()["state"], "complete");
    w.assert_verified();
}

#[test]
fn a_cache_that_had_symlinks_keeps_its_links_whole_when_a_download_has_none() {
    let w = World::new();
    // The first revision with symlinks; the second without, sharing most.
    assert_ok(&w.run(&[(OFF.0, "0")], &["download", ID]));
    let first = w.hub.repo(ID);
    w.hub.advance(ID, |dir| {
        std::fs::write(dir.join("onnx/model.onnx"), weights(9, 3500)).unwrap();
    });
    let second = w.hub.repo(ID);
    w.hub.reset_counts();
    assert_ok(&w.run(&[], &["download", ID]));
    assert_eq!(w.hub.bytes_served(), 3500, "only the changed file");
    for f in &second.files {
        let meta = std::fs::symlink_metadata(w.snapshot(&second.sha).join(&f.path)).unwrap();
        assert!(meta.is_file(), "{}: a plain file", f.path);
    }
    // The blobs the first revision links to were copied, not moved.
    let old = json_ok(&w.run(&[], &["--json", "verify", ID, "--revision", &first.sha]));
    assert_eq!(old["ok"], true, "{old}");
    let new = json_ok(&w.run(&[], &["--json", "verify", ID]));
    assert_eq!(new["ok"], true, "{new}");
    python::hf_ok(
        &["cache", "verify", ID, "--revision", &first.sha],
        &w.cache,
        &w.hub.url,
    );
    python::hf_ok(&["cache", "verify", ID], &w.cache, &w.hub.url);
}
