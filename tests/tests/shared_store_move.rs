//! Move, export, import and migrate of a cache holding huggingface_hub 2.5's
//! shared store. Every store here is written by 2.5's own code
//! (`tests/py/shared_store.py publish`), and after each step 2.5 reads the
//! result: its scan agrees with ours, and it loads the models offline.
#![cfg(unix)] // the store is symlinks; huggingface_hub uses none where they do not work

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use haid_models_tests::fixture::{commit, etag, weights, CacheFixture, RepoFixture};
use haid_models_tests::haid;
use haid_models_tests::output::{assert_ok, json_ok, ndjson, stderr};
use haid_models_tests::python::run_json;
use haid_models_tests::tree_walk::tree_state;
use serde_json::Value;

mod archive;
mod migrate;

const CONFIG_A: &[u8] = b"{\"model\": \"a\"}";
const CONFIG_B: &[u8] = b"{\"model\": \"b\"}";

/// A one-revision repo `org/<name>` at `main` in `cache`, with its listing,
/// as a 2.x download leaves it.
fn repo(cache: &Path, name: &str, files: &[(&str, &[u8])]) {
    let c = commit(name);
    let path = cache.join(format!("models--org--{name}"));
    fs::create_dir_all(&path).unwrap();
    RepoFixture { path }
        .revision(&c, files)
        .tree(&c, files)
        .reference("main", &c);
}

fn py(args: &[&str]) -> Value {
    run_json("shared_store.py", args)
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Publishes `<cache>/<folder>/blobs/<etag>` with 2.5's own code; its Xet hash.
fn publish(cache: &Path, folder: &str, etag: &str) -> String {
    let out = py(&["publish", text(cache), folder, etag]);
    assert_eq!(out["published"], true, "{out}");
    out["hash"].as_str().unwrap().to_owned()
}

fn payload_path(cache: &Path, hash: &str) -> PathBuf {
    cache.join("blobs").join(&hash[..2]).join(hash)
}

fn refs_lines(cache: &Path, hash: &str) -> Vec<String> {
    let list = format!("{}.refs", payload_path(cache, hash).display());
    let mut lines: Vec<String> = fs::read_to_string(list)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines.dedup();
    lines
}

fn blob_line(name: &str, etag: &str) -> String {
    format!("models--org--{name}/blobs/{etag}")
}

/// Python reads `org/<name>`'s weights from `cache` offline; their sha256.
fn python_reads(cache: &Path, name: &str) -> String {
    let id = format!("org/{name}");
    let out = run_json("read_offline.py", &[text(cache), &id, "model.safetensors"]);
    out["files"]["model.safetensors"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// 2.5's scan of `cache` and ours agree (the total, each repo's size), and
/// ours calls every repo complete. 2.5's answer.
fn assert_scans_agree(root: &Path, cache: &Path) -> Value {
    let theirs = py(&["scan", text(cache)]);
    let out = haid(root)
        .arg("--cache-dir")
        .arg(cache)
        .args(["scan", "--json"])
        .output()
        .unwrap();
    let ours = json_ok(&out);
    assert_eq!(
        ours["size_on_disk"], theirs["size_on_disk"],
        "{ours}\n{theirs}"
    );
    let repos = ours["repos"].as_array().unwrap();
    assert_eq!(repos.len(), theirs["repos"].as_object().unwrap().len());
    for r in repos {
        let key = format!("model/{}", r["repo_id"].as_str().unwrap());
        assert_eq!(r["size_on_disk"], theirs["repos"][&key], "{key}: {ours}");
        assert_eq!(r["state"], "complete", "{r}");
    }
    theirs
}

/// Two repos, `org/a` and `org/b`, sharing one payload, and a payload that
/// no repo references any more, as 2.5 leaves them.
struct Shared {
    fx: CacheFixture,
    hash: String,
    weights: Vec<u8>,
    lone: String,
    lone_weights: Vec<u8>,
}

impl Shared {
    fn new() -> Self {
        let fx = CacheFixture::new();
        let w = weights(7, 300_000);
        repo(
            &fx.cache,
            "a",
            &[("config.json", CONFIG_A), ("model.safetensors", &w)],
        );
        repo(
            &fx.cache,
            "b",
            &[("config.json", CONFIG_B), ("model.safetensors", &w)],
        );
        let hash = publish(&fx.cache, "models--org--a", &etag(&w));
        assert_eq!(publish(&fx.cache, "models--org--b", &etag(&w)), hash);
        // Published, then its repo folder removed by hand: referenced by nothing.
        let lone_weights = weights(9, 50_000);
        repo(&fx.cache, "gone", &[("model.safetensors", &lone_weights)]);
        let lone = publish(&fx.cache, "models--org--gone", &etag(&lone_weights));
        fs::remove_dir_all(fx.cache.join("models--org--gone")).unwrap();
        Self {
            fx,
            hash,
            weights: w,
            lone,
            lone_weights,
        }
    }

    fn root(&self) -> &Path {
        self.fx.dir.path()
    }

    /// `haid-models --cache-dir <cache>`.
    fn haid(&self, cache: &Path) -> Command {
        let mut cmd = haid(self.root());
        cmd.arg("--cache-dir").arg(cache);
        cmd
    }

    fn move_to(&self, dest: &Path, args: &[&str]) -> Output {
        let mut cmd = self.haid(&self.fx.cache);
        cmd.arg("move").arg(dest).args(args);
        cmd.output().unwrap()
    }

    /// What every byte of the cache takes: each payload once.
    fn physical(&self) -> u64 {
        (self.weights.len() + self.lone_weights.len() + CONFIG_A.len() + CONFIG_B.len()) as u64
    }

    /// Both models read whole through their snapshot links at `cache`.
    fn whole_at(&self, cache: &Path) -> bool {
        ["a", "b"].iter().all(|name| {
            let file = cache
                .join(format!("models--org--{name}/snapshots"))
                .join(commit(name))
                .join("model.safetensors");
            fs::read(file).is_ok_and(|b| b == self.weights)
        })
    }

    /// The cache with its store, at `dest` after a move: relative links into
    /// DEST's store, payloads read-only with their references, the one no
    /// repo references too, and 2.5 reads all of it.
    fn assert_moved_to(&self, dest: &Path) {
        assert!(!self.fx.cache.exists(), "the old place is gone");
        let e = etag(&self.weights);
        let relative = format!("../../blobs/{}/{}", &self.hash[..2], self.hash);
        for name in ["a", "b"] {
            let blob = dest.join(format!("models--org--{name}/blobs")).join(&e);
            assert_eq!(
                fs::read_link(&blob).unwrap(),
                Path::new(&relative),
                "{name}"
            );
        }
        let payload = payload_path(dest, &self.hash);
        let mode = fs::symlink_metadata(&payload).unwrap().permissions().mode();
        assert_eq!(mode & 0o222, 0, "read-only, as 2.5 keeps it: {mode:o}");
        assert_eq!(fs::read(&payload).unwrap(), self.weights);
        assert_eq!(
            refs_lines(dest, &self.hash),
            [blob_line("a", &e), blob_line("b", &e)]
        );
        assert_eq!(
            fs::read(payload_path(dest, &self.lone)).unwrap(),
            self.lone_weights
        );
        let theirs = assert_scans_agree(self.root(), dest);
        assert_eq!(theirs["size_on_disk"].as_u64().unwrap(), self.physical());
        assert_eq!(
            theirs["unreferenced"].as_object().unwrap().len(),
            1,
            "{theirs}"
        );
        assert_eq!(python_reads(dest, "a"), e);
        assert_eq!(python_reads(dest, "b"), e);
    }
}

/// A folder on another file system than the temp dir (a tmpfs): a copy.
fn other_disk() -> tempfile::TempDir {
    tempfile::tempdir_in("/dev/shm").expect("/dev/shm (a tmpfs) for the cross-disk move")
}

#[test]
fn a_move_to_another_disk_takes_the_store_along_counted_once_and_2_5_reads_it_there() {
    let s = Shared::new();
    let disk = other_disk();
    let dest = disk.path().join("hub");
    let plan = json_ok(&s.move_to(&dest, &["--dry-run", "--json"]));
    assert_eq!(plan["method"], "copy", "{plan}");
    let to_copy = plan["bytes_to_copy"].as_u64().unwrap();
    // Refs, listings and the `.refs` lists are small; a payload counted per
    // sharer would add 300 000.
    assert!(
        to_copy >= s.physical() && to_copy < s.physical() + 100_000,
        "each payload once: {plan}"
    );

    let out = s.move_to(&dest, &["--json"]);
    assert_ok(&out);
    let done = ndjson(&out).pop().unwrap();
    assert_eq!(done["event"], "done", "{done}");
    assert_eq!(done["without_symlinks"], false);
    s.assert_moved_to(&dest);
}

#[test]
fn a_move_of_the_store_killed_at_any_step_finishes_on_the_next_run() {
    let s = Shared::new();
    let disk = other_disk();
    let dest = disk.path().join("hub");
    let pristine = s.root().join("pristine");
    let cp = |from: &Path, to: &Path| {
        assert_ok(
            &Command::new("cp")
                .arg("-a")
                .arg(from)
                .arg(to)
                .output()
                .unwrap(),
        )
    };
    cp(&s.fx.cache, &pristine);
    // From the same cache each time, killed after step n, then run again.
    let mut n = 1;
    loop {
        for dir in [&dest, &s.fx.cache] {
            if dir.exists() {
                fs::remove_dir_all(dir).unwrap();
            }
        }
        cp(&pristine, &s.fx.cache);
        let mut cmd = s.haid(&s.fx.cache);
        cmd.arg("move").arg(&dest);
        let out = cmd
            .env("HAID_MOVE_CRASH_AFTER", n.to_string())
            .output()
            .unwrap();
        if out.status.success() {
            break; // past the last step
        }
        assert_eq!(out.status.signal(), Some(6), "step {n}: {}", stderr(&out));
        assert!(
            s.whole_at(&s.fx.cache) || s.whole_at(&dest),
            "after a kill at step {n}, both models are whole in one place"
        );
        assert_ok(&s.move_to(&dest, &[]));
        assert!(s.whole_at(&dest) && !s.fx.cache.exists(), "step {n}");
        let e = etag(&s.weights);
        assert_eq!(
            refs_lines(&dest, &s.hash),
            [blob_line("a", &e), blob_line("b", &e)]
        );
        n += 1;
    }
    assert!(n > 10, "the store's files are steps too: {n}");
    s.assert_moved_to(&dest);
}

#[test]
fn a_merge_on_one_disk_into_a_cache_whose_store_holds_the_payload_keeps_one_copy() {
    let s = Shared::new();
    let dest = s.root().join("other/hub");
    repo(&dest, "c", &[("model.safetensors", &s.weights)]);
    let e = etag(&s.weights);
    assert_eq!(publish(&dest, "models--org--c", &e), s.hash);

    let plan = json_ok(&s.move_to(&dest, &["--dry-run", "--json"]));
    assert_eq!(plan["into_existing_cache"], true, "{plan}");
    assert_eq!(plan["method"], "rename");
    assert_ok(&s.move_to(&dest, &[]));
    assert!(!s.fx.cache.exists(), "the old place is gone");
    let lines = [blob_line("a", &e), blob_line("b", &e), blob_line("c", &e)];
    assert_eq!(
        refs_lines(&dest, &s.hash),
        lines,
        "every sharer is a reference"
    );
    let payloads: Vec<_> = fs::read_dir(payload_path(&dest, &s.hash).parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.contains('.'))
        .collect();
    assert_eq!(payloads, [s.hash.as_str()], "one payload");
    let theirs = assert_scans_agree(s.root(), &dest);
    // c's weights were the payload already: nothing more on disk than the
    // old cache held.
    assert_eq!(theirs["size_on_disk"].as_u64().unwrap(), s.physical());
    for name in ["a", "b", "c"] {
        assert_eq!(python_reads(&dest, name), e, "{name}");
    }
}

#[test]
fn a_blobs_folder_without_the_marker_is_refused_and_nothing_moves() {
    let fx = CacheFixture::new();
    repo(&fx.cache, "a", &[("config.json", CONFIG_A)]);
    fs::create_dir_all(fx.cache.join("blobs/ab")).unwrap();
    fs::write(fx.cache.join("blobs/ab/photo.jpg"), b"not a payload").unwrap();
    let dest = fx.dir.path().join("elsewhere/hub");
    // No marker, then one of a layout 2.5 does not know: somebody else's.
    for marker in [None, Some("2\n")] {
        if let Some(content) = marker {
            fs::write(fx.cache.join("blobs/.huggingface-shared-blobs"), content).unwrap();
        }
        let before = tree_state(&fx.cache, &[]);
        let out = haid(fx.dir.path())
            .arg("--cache-dir")
            .arg(&fx.cache)
            .arg("move")
            .arg(&dest)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let said = stderr(&out);
        assert!(
            said.contains("not huggingface_hub's shared store"),
            "{said}"
        );
        assert!(said.contains(".huggingface-shared-blobs"), "{said}");
        assert_eq!(said.trim().lines().count(), 1, "one clear line: {said}");
        assert_eq!(before, tree_state(&fx.cache, &[]), "nothing changed");
        assert!(!fx.dir.path().join("elsewhere").exists(), "nothing moved");
    }
}

/// An exFAT drive takes no symlinks, so no store (2.5 keeps none there):
/// each snapshot file of a shared blob becomes a checked plain copy of the
/// payload, the layout huggingface_hub writes on such a disk.
#[cfg(target_os = "linux")]
#[test]
fn a_move_to_a_disk_without_symlinks_makes_shared_files_plain_copies() {
    let s = Shared::new();
    let disk = haid_models_tests::exfat::ExfatDisk::new(s.root(), 64);
    let dest = disk.path().join("hub");
    let out = s.move_to(&dest, &["--json"]);
    assert_ok(&out);
    let done = ndjson(&out).pop().unwrap();
    assert_eq!(done["without_symlinks"], true, "{done}");
    let links = tree_state(&dest, &[])
        .into_values()
        .filter(|kind| kind.starts_with("symlink"))
        .count();
    assert_eq!(links, 0, "no symlink at DEST");
    assert!(!dest.join("blobs").exists(), "no store without symlinks");
    for name in ["a", "b"] {
        let file = dest
            .join(format!("models--org--{name}/snapshots"))
            .join(commit(name))
            .join("model.safetensors");
        assert_eq!(fs::read(&file).unwrap(), s.weights, "{name}");
    }
    assert!(!s.fx.cache.exists(), "the old place is gone");
    assert_scans_agree(s.root(), &dest);
    assert_eq!(python_reads(&dest, "a"), etag(&s.weights));
}
