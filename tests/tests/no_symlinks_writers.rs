//! Migrate and import into a cache without symlinks (`HF_HUB_DISABLE_SYMLINKS=1`;
//! a cache folder that refuses them takes the same path, through the probe):
//! both write the layout a download writes then. Every snapshot file is a
//! plain file with the hub's bytes, a blob two paths share is copied,
//! `blobs/` ends empty, no symlink is made; a killed run finishes on the
//! next; Python's `hf cache verify` passes and its scan agrees with ours.
//! An export of such a cache is the standard layout, and imports into a
//! cache with symlinks and into one without; a move to another disk keeps
//! it as it is.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use haid_models_tests::fake_hub::HubRepo;
use haid_models_tests::fixture::weights;
use haid_models_tests::output::{assert_ok, json_ok, ndjson, stderr};
use haid_models_tests::published::Published;
use haid_models_tests::tree_walk::tree_state;
use haid_models_tests::{haid, python};
use serde_json::Value;

const OFF: (&str, &str) = ("HF_HUB_DISABLE_SYMLINKS", "1");
const EMBED: &str = "acme/embed";
const CAPTION: &str = "acme/caption";

/// The hub with two models, each with two paths of the same bytes (one
/// blob placed twice), a small file and an LFS one.
struct World {
    base: Published,
}

impl std::ops::Deref for World {
    type Target = Published;
    fn deref(&self) -> &Published {
        &self.base
    }
}

impl World {
    fn new() -> Self {
        let mut base = Published::new();
        for (id, seed) in [(EMBED, 1u8), (CAPTION, 2)] {
            let files = [
                ("config.json", format!("{{\"seed\": {seed}}}").into_bytes()),
                ("tokenizer.json", weights(seed + 20, 4000)),
                ("copy/tokenizer.json", weights(seed + 20, 4000)),
                ("model.safetensors", weights(seed, 300_000)),
            ];
            let repo = base.hub.publish(id, &files);
            base.models.push((id, repo));
        }
        Self { base }
    }

    fn repo(&self, id: &str) -> &HubRepo {
        &self.models.iter().find(|(i, _)| *i == id).unwrap().1
    }

    fn cmd(&self, cache: &Path, off: bool) -> Command {
        let mut cmd = haid(self.tmp.path());
        cmd.env("HF_ENDPOINT", &self.hub.url)
            .arg("--cache-dir")
            .arg(cache);
        if off {
            cmd.env(OFF.0, OFF.1);
        }
        cmd
    }

    /// `haid-models --cache-dir CACHE ARGS…`, without symlinks when `off`.
    fn haid(&self, cache: &Path, off: bool, args: &[&str]) -> Output {
        self.cmd(cache, off).args(args).output().unwrap()
    }

    fn import(&self, cache: &Path, off: bool, tar: &Path) -> Output {
        let mut cmd = self.cmd(cache, off);
        cmd.args(["--json", "import"]).arg(tar).output().unwrap()
    }

    /// Every file of `id` is a plain file of the hub's bytes in its
    /// snapshot, `blobs/` is empty, no symlink is in the cache, and our
    /// verify, Python's offline reads and `hf cache verify` all pass.
    fn assert_plain(&self, cache: &Path, id: &str) {
        let repo = self.repo(id);
        let dir = repo_dir(cache, id);
        for f in &repo.files {
            let p = dir.join("snapshots").join(&repo.sha).join(&f.path);
            let meta = std::fs::symlink_metadata(&p).unwrap();
            assert!(meta.is_file(), "{id}/{}: a plain file", f.path);
            assert_eq!(std::fs::read(&p).unwrap(), std::fs::read(&f.abs).unwrap());
        }
        let blobs = std::fs::read_dir(dir.join("blobs")).unwrap().count();
        assert_eq!(blobs, 0, "{id}: every blob went into the snapshot");
        assert_no_symlink(cache);
        self.assert_verified(cache, id);
    }

    /// The standard layout: each file a relative link into `../../blobs/`.
    fn assert_linked(&self, cache: &Path, id: &str) {
        let repo = self.repo(id);
        let dir = repo_dir(cache, id);
        for f in &repo.files {
            let p = dir.join("snapshots").join(&repo.sha).join(&f.path);
            let target = std::fs::read_link(&p).unwrap();
            let ups = "../".repeat(f.path.matches('/').count() + 2);
            assert_eq!(target, PathBuf::from(format!("{ups}blobs/{}", f.etag())));
            assert_eq!(std::fs::read(&p).unwrap(), std::fs::read(&f.abs).unwrap());
        }
        self.assert_verified(cache, id);
    }

    fn assert_verified(&self, cache: &Path, id: &str) {
        let report = json_ok(&self.haid(cache, false, &["--json", "verify", id]));
        assert_eq!(report["ok"], true, "{report}");
        self.assert_python_reads(cache, &[id]);
        assert_python_scan_agrees(&self.haid(cache, false, &["--json", "scan"]), cache);
    }
}

fn repo_dir(cache: &Path, id: &str) -> PathBuf {
    cache.join(format!("models--{}", id.replace('/', "--")))
}

/// Python's `scan_cache_dir` gives each repo our sizes and counts.
fn assert_python_scan_agrees(ours: &Output, cache: &Path) {
    let ours: Value = serde_json::from_slice(&ours.stdout).unwrap();
    let theirs = python::run_json("hf_scan.py", &[cache.to_str().unwrap()]);
    for repo in theirs["repos"].as_array().unwrap() {
        let mine = ours["repos"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["repo_id"] == repo["repo_id"])
            .unwrap();
        assert_eq!(mine["size_on_disk"], repo["size_on_disk"], "{repo}");
        assert_eq!(mine["nb_files"], repo["nb_files"], "{repo}");
        assert_eq!(mine["state"], "complete", "{mine}");
    }
}

fn assert_no_symlink(dir: &Path) {
    for (path, what) in tree_state(dir, &[]) {
        assert!(
            !what.starts_with("symlink"),
            "a symlink: {}",
            path.display()
        );
    }
}

fn done(out: &Output) -> Value {
    ndjson(out).pop().expect("a done line")
}

/// The two old layouts under `<tmp>/data`: a plain folder of EMBED, and a
/// private cache of CAPTION that Python wrote (with symlinks).
fn old_layouts(w: &World) -> PathBuf {
    let data = w.tmp.path().join("data");
    let folder = data.join("embedding/models").join(EMBED);
    for f in &w.repo(EMBED).files {
        let dest = folder.join(&f.path);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&f.abs, dest).unwrap();
    }
    let private = data.join("image-caption/acme--caption");
    python::hf_ok(&["download", CAPTION], &private, &w.hub.url);
    data
}

fn migrate(w: &World, cache: &Path, data: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = w.cmd(cache, true);
    cmd.envs(env.iter().copied())
        .arg("migrate")
        .arg("--from")
        .arg(data);
    cmd.output().unwrap()
}

#[test]
fn a_migration_without_symlinks_writes_plain_files_python_verifies() {
    let w = World::new();
    let data = old_layouts(&w);
    let cache = w.tmp.path().join("cache");
    w.hub.reset_counts();
    assert_ok(&migrate(&w, &cache, &data, &[]));
    assert!(!data.join("embedding/models/acme").exists(), "folder gone");
    assert!(!data.join("image-caption").join("acme--caption").exists());
    w.assert_plain(&cache, EMBED);
    w.assert_plain(&cache, CAPTION);
    // Whole: a download (ours or Python's) fetches nothing.
    assert_ok(&w.haid(&cache, true, &["download", EMBED]));
    python::hf_ok(&["download", CAPTION], &cache, &w.hub.url);
    assert_eq!(w.hub.bytes_served(), 0);
    w.assert_plain(&cache, CAPTION);
}

#[cfg(unix)] // a kill is a signal
#[test]
fn a_migration_without_symlinks_killed_at_any_point_finishes_on_the_next_run() {
    use std::os::unix::process::ExitStatusExt;
    // The 3 blobs of the private cache, then the 4 files of the folder.
    for n in 1..=7 {
        let w = World::new();
        let data = old_layouts(&w);
        let cache = w.tmp.path().join("cache");
        let killed = migrate(
            &w,
            &cache,
            &data,
            &[("HAID_MIGRATE_CRASH_AFTER", &n.to_string())],
        );
        assert_eq!(killed.status.signal(), Some(6), "{n}: {}", stderr(&killed));
        assert_no_symlink(&cache);
        assert_ok(&migrate(&w, &cache, &data, &[]));
        assert!(!data.join("embedding/models/acme").exists(), "after {n}");
        w.assert_plain(&cache, EMBED);
        w.assert_plain(&cache, CAPTION);
    }
}

#[test]
fn an_import_without_symlinks_places_files_as_a_download_does_and_a_rerun_writes_nothing() {
    let w = World::new();
    let src = w.tmp.path().join("src");
    for id in [EMBED, CAPTION] {
        assert_ok(&w.haid(&src, false, &["download", id]));
    }
    let tar = w.tmp.path().join("models.tar");
    let out = w.haid(
        &src,
        false,
        &["export", EMBED, CAPTION, "-o", tar.to_str().unwrap()],
    );
    assert_ok(&out);

    let dst = w.tmp.path().join("dst");
    let report = done(&w.import(&dst, true, &tar));
    assert_eq!(report["refused"], serde_json::json!([]), "{report}");
    assert_eq!(report["blobs_added"], 6, "3 blobs a model: {report}");
    w.assert_plain(&dst, EMBED);
    w.assert_plain(&dst, CAPTION);

    // A rerun finds every blob in its snapshot files: nothing is written.
    let before = tree_state(&dst, &[]);
    let out = w.import(&dst, true, &tar);
    assert_ok(&out);
    let report = done(&out);
    assert_eq!(report["blobs_present"], 6, "{report}");
    assert_eq!(report["bytes_written"], 0, "{report}");
    assert_eq!(tree_state(&dst, &[]), before, "a rerun changed nothing");
}

#[test]
fn an_import_cut_short_without_symlinks_finishes_on_a_rerun() {
    let w = World::new();
    let src = w.tmp.path().join("src");
    assert_ok(&w.haid(&src, false, &["download", EMBED]));
    let tar = w.tmp.path().join("m.tar");
    assert_ok(&w.haid(&src, false, &["export", EMBED, "-o", tar.to_str().unwrap()]));

    // Cut inside the first link's header: every blob (they come first) is
    // committed, and no file placed (that waits for the last blob).
    let cut = w.tmp.path().join("cut.tar");
    let bytes = std::fs::read(&tar).unwrap();
    let first_link = b"models--acme--embed/snapshots/";
    let at = bytes
        .windows(first_link.len())
        .position(|b| b == first_link)
        .unwrap();
    std::fs::write(&cut, &bytes[..at + 100]).unwrap();
    let dst = w.tmp.path().join("dst");
    let out = w.import(&dst, true, &cut);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not a whole tar archive"),
        "{}",
        stderr(&out)
    );
    assert_no_symlink(&dst);

    let blobs = repo_dir(&dst, EMBED).join("blobs");
    assert_eq!(std::fs::read_dir(&blobs).unwrap().count(), 3);

    let out = w.import(&dst, true, &tar);
    assert_ok(&out);
    let report = done(&out);
    assert_eq!(report["blobs_present"], 3, "{report}");
    assert_eq!(report["bytes_written"], 0, "{report}");
    w.assert_plain(&dst, EMBED);

    // As a kill in the placing leaves it: one file not moved in yet, and
    // of the shared blob, the copy made and the move not.
    let repo = w.repo(EMBED);
    let snapshot = repo_dir(&dst, EMBED).join("snapshots").join(&repo.sha);
    for path in ["model.safetensors", "copy/tokenizer.json"] {
        let etag = repo.file(path).unwrap().etag();
        std::fs::rename(snapshot.join(path), blobs.join(etag)).unwrap();
    }
    let out = w.import(&dst, true, &tar);
    assert_ok(&out);
    assert_eq!(done(&out)["bytes_written"], 0, "every blob was there");
    w.assert_plain(&dst, EMBED);
}

/// An archive with links to check without symlinks: two good ones to one
/// blob, one to a blob that does not come, and three that must be refused.
const LINKS: &str = r#"
import hashlib, io, sys, tarfile
out = sys.argv[1]
c = "0123456789abcdef0123456789abcdef01234567"
data = b"x"
blob = hashlib.sha256(data).hexdigest()
t = tarfile.open(out, "w", format=tarfile.GNU_FORMAT)
def add(name, data=b"", link=None):
    i = tarfile.TarInfo(name)
    if link is None:
        i.size = len(data); t.addfile(i, io.BytesIO(data))
    else:
        i.type = tarfile.SYMTYPE; i.linkname = link; t.addfile(i)
for repo in ["models--evil--m", "models--other--m"]:
    add(repo + "/blobs/" + blob, data)
s = "models--evil--m/snapshots/" + c + "/"
add(s + "ok.bin", link="../../blobs/" + blob)
add(s + "sub/ok.bin", link="../../../blobs/" + blob)
add(s + "later.bin", link="../../blobs/" + "b" * 64)
add(s + "other.bin", link="../../../models--other--m/blobs/" + blob)
add(s + "up.bin", link="../../../../outside/" + blob)
add(s + "snap.bin", link="../" + c + "/ok.bin")
add("models--evil--m/refs/main", c.encode())
t.close()
"#;

#[test]
fn without_symlinks_a_link_is_still_checked_before_its_file_is_placed() {
    let w = World::new();
    let tar = w.tmp.path().join("links.tar");
    let made = Command::new(python::python())
        .args(["-c", LINKS])
        .arg(&tar)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let dst = w.tmp.path().join("work/dst");
    std::fs::create_dir_all(w.tmp.path().join("work")).unwrap();
    let before = tree_state(w.tmp.path(), &[&dst]);
    let out = w.import(&dst, true, &tar);
    assert_eq!(
        out.status.code(),
        Some(1),
        "refusals fail it: {}",
        stderr(&out)
    );
    let report = done(&out);
    let refused: Vec<String> = report["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("{} {}", r["path"], r["reason"]))
        .collect();
    assert_eq!(refused.len(), 3, "{refused:#?}");
    for name in ["other.bin", "up.bin", "snap.bin"] {
        let hit = refused.iter().find(|r| r.contains(name));
        assert!(
            hit.is_some_and(|r| r.contains("leaves its repo's blobs")),
            "{refused:#?}"
        );
    }
    let repo = dst.join("models--evil--m");
    let snapshot = repo.join("snapshots/0123456789abcdef0123456789abcdef01234567");
    for good in ["ok.bin", "sub/ok.bin"] {
        let meta = std::fs::symlink_metadata(snapshot.join(good)).unwrap();
        assert!(meta.is_file(), "{good}");
        assert_eq!(std::fs::read(snapshot.join(good)).unwrap(), b"x");
    }
    for bad in ["later.bin", "other.bin", "up.bin", "snap.bin"] {
        assert!(
            std::fs::symlink_metadata(snapshot.join(bad)).is_err(),
            "{bad}"
        );
    }
    assert_eq!(std::fs::read_dir(repo.join("blobs")).unwrap().count(), 0);
    assert_no_symlink(&dst);
    assert!(!w.tmp.path().join("work/outside").exists());
    assert_eq!(
        before,
        tree_state(w.tmp.path(), &[&dst]),
        "nothing outside changed"
    );
}

#[test]
fn an_export_of_a_cache_without_symlinks_is_the_standard_layout_and_imports_both_ways() {
    let w = World::new();
    // Written without symlinks: one model by us, one by Python.
    let src = w.tmp.path().join("src");
    assert_ok(&w.haid(&src, true, &["download", EMBED]));
    let py = python::venv_command("hf")
        .args(["download", CAPTION, "--cache-dir"])
        .arg(&src)
        .env("HF_ENDPOINT", &w.hub.url)
        .env(OFF.0, OFF.1)
        .output()
        .unwrap();
    assert_ok(&py);
    assert_no_symlink(&src);
    let tar = w.tmp.path().join("plain.tar");
    assert_ok(&w.haid(
        &src,
        false,
        &["export", EMBED, CAPTION, "-o", tar.to_str().unwrap()],
    ));

    // In the archive, as in any export: blobs, and snapshot files as links.
    let listed = Command::new("tar").arg("-tvf").arg(&tar).output().unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    let snapshot_entries: Vec<&str> = listed
        .lines()
        .filter(|l| l.contains("/snapshots/"))
        .collect();
    assert_eq!(snapshot_entries.len(), 8, "{listed}");
    assert!(
        snapshot_entries.iter().all(|l| l.starts_with('l')),
        "{listed}"
    );
    let blob_entries = listed
        .lines()
        .filter(|l| l.starts_with('-') && l.contains("/blobs/"))
        .count();
    assert_eq!(
        blob_entries, 6,
        "one blob for two identical files: {listed}"
    );

    let linked = w.tmp.path().join("linked");
    assert_ok(&w.import(&linked, false, &tar));
    w.assert_linked(&linked, EMBED);
    w.assert_linked(&linked, CAPTION);

    let plain = w.tmp.path().join("plain");
    assert_ok(&w.import(&plain, true, &tar));
    w.assert_plain(&plain, EMBED);
    w.assert_plain(&plain, CAPTION);
}

#[cfg(unix)] // /dev/shm: another file system
#[test]
fn a_move_to_another_disk_keeps_a_cache_without_symlinks_plain() {
    let w = World::new();
    let src = w.tmp.path().join("src");
    for id in [EMBED, CAPTION] {
        assert_ok(&w.haid(&src, true, &["download", id]));
    }
    let shm = tempfile::tempdir_in("/dev/shm").unwrap();
    let dest = shm.path().join("hub");
    let out = w.haid(&src, true, &["--json", "move", dest.to_str().unwrap()]);
    assert_ok(&out);
    assert_eq!(
        done(&out)["method"],
        "copy",
        "across disks: copied and checked"
    );
    assert!(!src.exists(), "the old copy is gone");
    w.assert_plain(&dest, EMBED);
    w.assert_plain(&dest, CAPTION);
}
