//! Caches left damaged by crashes and by other programs (issue 14): a broken
//! ref, an empty skeleton, a stale temp, a delete that cannot finish. Each
//! case asserts what is on disk, the state every command reports, the exit
//! code and the message, and that Python's `scan_cache_dir` still reads the
//! cache and, for every repo it lists, agrees with our sizes.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, SystemTime};

use haid_models_tests::fake_hub::FakeHub;
use haid_models_tests::fixture::{commit, weights, CacheFixture};
use haid_models_tests::tree_walk::tree_state;
use haid_models_tests::{haid, python};
use serde_json::Value;

/// A pid no process has (Linux's largest is 2^22), for temps of dead writers.
const DEAD_PID: u32 = 4_194_999;

fn run(fx: &CacheFixture, args: &[&str]) -> Output {
    haid(fx.dir.path())
        .env("HF_HUB_OFFLINE", "1")
        .arg("--cache-dir")
        .arg(&fx.cache)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        stderr(out)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn ok_json(fx: &CacheFixture, args: &[&str]) -> Value {
    json(&run(fx, args))
}

/// `org/m` with two revisions: `main` → b (two files), and a, which `bad`
/// (a ref the test then breaks) may have meant.
fn model(fx: &CacheFixture) -> (PathBuf, String, String) {
    let (a, b) = (commit("a"), commit("b"));
    let repo = fx.repo("models--org--m");
    repo.revision(&a, &[("config.json", b"{}"), ("w.bin", &weights(1, 3000))])
        .revision(&b, &[("config.json", b"{}"), ("w.bin", &weights(2, 4000))])
        .reference("main", &b);
    (repo.path.clone(), a, b)
}

/// The verdict of every command on `org/m`: scan's state, list's state,
/// verify's exit code, and what `prune --dry-run` would delete.
#[derive(Debug, PartialEq)]
struct Verdict {
    scan: String,
    list: String,
    verify_exit: Option<i32>,
    prune_deletes: usize,
}

fn verdict(fx: &CacheFixture) -> Verdict {
    let scan = ok_json(fx, &["scan", "--json"]);
    let list = ok_json(fx, &["list", "--json"]);
    let listed = list["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["models"].as_array().unwrap())
        .find(|m| m["id"] == "org/m")
        .map_or("absent".into(), |m| m["state"].as_str().unwrap().to_owned());
    Verdict {
        scan: repo_of(&scan)["state"].as_str().unwrap().to_owned(),
        list: listed,
        verify_exit: run(fx, &["verify", "org/m"]).status.code(),
        prune_deletes: ok_json(fx, &["prune", "--dry-run", "--json"])["deleted"]
            .as_array()
            .unwrap()
            .len(),
    }
}

fn repo_of(scan: &Value) -> &Value {
    scan["repos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["repo_id"] == "org/m")
        .unwrap_or_else(|| panic!("org/m not in {scan}"))
}

/// Python reads the cache, and every repo it lists has our sizes. Returns
/// the ids it lists.
fn python_agrees(fx: &CacheFixture) -> Vec<String> {
    let theirs = python::run_json("hf_scan.py", &[fx.cache.to_str().unwrap()]);
    let ours = ok_json(fx, &["scan", "--json"]);
    let mut ids = Vec::new();
    for repo in theirs["repos"].as_array().unwrap() {
        let id = repo["repo_id"].as_str().unwrap();
        let mine = ours["repos"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["repo_id"] == id && r["repo_type"] == repo["repo_type"])
            .unwrap_or_else(|| panic!("{id}: Python lists it, we do not"));
        for field in ["size_on_disk", "nb_files"] {
            assert_eq!(mine[field], repo[field], "{id}: {field}");
        }
        let sizes = |revs: &Value| -> Vec<(Value, Value, Value)> {
            revs.as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        r["commit_hash"].clone(),
                        r["size_on_disk"].clone(),
                        r["refs"].clone(),
                    )
                })
                .collect()
        };
        assert_eq!(sizes(&mine["revisions"]), sizes(&repo["revisions"]), "{id}");
        ids.push(id.to_owned());
    }
    ids
}

/// A broken `refs/main`: corrupt in every command, prune deletes nothing
/// (with a warning naming the ref and the fix), verify fails and says why.
fn assert_broken_main_is_kept(fx: &CacheFixture, repo: &Path) {
    assert_broken_main_is_kept_by_us(fx, repo);
    // Python drops the repo (so its prune leaves it alone), and reads the rest.
    assert!(!python_agrees(fx).contains(&"org/m".to_owned()));
}

fn assert_broken_main_is_kept_by_us(fx: &CacheFixture, repo: &Path) {
    let before = tree_state(repo, &[]);
    let expected = Verdict {
        scan: "corrupt".into(),
        list: "corrupt".into(),
        verify_exit: Some(1),
        prune_deletes: 0,
    };
    assert_eq!(verdict(fx), expected);

    let scan = ok_json(fx, &["scan", "--json"]);
    assert_eq!(repo_of(&scan)["broken_refs"][0]["name"], "main");

    let plan = ok_json(fx, &["prune", "--dry-run", "--json"]);
    let skipped = plan["skipped"][0]["message"].as_str().unwrap();
    assert!(skipped.contains("fix or delete refs/main"), "{skipped}");
    assert!(skipped.contains("haid-models delete org/m"), "{skipped}");

    let pruned = run(fx, &["prune", "--yes"]);
    assert!(pruned.status.success(), "{}", stderr(&pruned));
    assert!(
        stderr(&pruned).contains("warning:") && stderr(&pruned).contains("refs/main"),
        "{}",
        stderr(&pruned)
    );
    assert_eq!(tree_state(repo, &[]), before, "prune removed nothing");

    let verified = run(fx, &["verify", "org/m"]);
    assert!(
        stderr(&verified).contains("refs/main"),
        "{}",
        stderr(&verified)
    );
    assert!(!stderr(&verified).contains('✓'), "{}", stderr(&verified));
}

#[test]
fn a_garbage_ref_costs_no_data() {
    let fx = CacheFixture::new();
    let (repo, _, _) = model(&fx);
    fs::write(repo.join("refs/main"), "\u{1b}[31m garbage").unwrap();
    assert_broken_main_is_kept(&fx, &repo);
    // The garbage reaches no terminal raw.
    let verified = run(&fx, &["verify", "org/m"]);
    assert!(
        !stderr(&verified).contains('\u{1b}'),
        "{}",
        stderr(&verified)
    );
}

#[test]
fn a_ref_of_binary_garbage_costs_no_data_and_says_python_is_blind() {
    let fx = CacheFixture::new();
    let (repo, _, _) = model(&fx);
    fs::write(repo.join("refs/main"), b"\xff\xfe\x00garbage").unwrap();
    // No Python check: huggingface_hub 2.4's scan_cache_dir itself fails on
    // such a ref (UnicodeDecodeError), for the whole cache. We say so.
    assert_broken_main_is_kept_by_us(&fx, &repo);
    let scan = ok_json(&fx, &["scan", "--json"]);
    let problem = repo_of(&scan)["broken_refs"][0]["problem"]
        .as_str()
        .unwrap();
    assert!(
        problem.contains("huggingface_hub cannot scan the cache"),
        "{problem}"
    );
}

#[test]
fn a_ref_to_a_missing_snapshot_costs_no_data() {
    let fx = CacheFixture::new();
    let (repo, _, _) = model(&fx);
    fs::write(repo.join("refs/main"), commit("never downloaded")).unwrap();
    assert_broken_main_is_kept(&fx, &repo);
    let scan = ok_json(&fx, &["scan", "--json"]);
    let problem = repo_of(&scan)["broken_refs"][0]["problem"]
        .as_str()
        .unwrap();
    assert!(problem.contains("not in snapshots/"), "{problem}");
}

#[test]
fn an_unfinished_update_keeps_the_revision_it_replaces() {
    let fx = CacheFixture::new();
    let (repo, a, b) = model(&fx);
    let new = commit("new");
    // main moved on to `new`; its download was killed before its first
    // file: only its listing (ours) or an `.incomplete` (huggingface_hub's).
    fx.repo("models--org--m")
        .reference("main", &new)
        .tree(&new, &[("w.bin", &weights(5, 5000))]);
    let before = tree_state(&repo, &[]);
    let expected = Verdict {
        scan: "partial".into(),
        list: "partial".into(),
        verify_exit: Some(1),
        prune_deletes: 0,
    };
    assert_eq!(verdict(&fx), expected);
    let out = run(&fx, &["prune", "--yes"]);
    assert!(
        stderr(&out).contains("has not finished"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("haid-models download org/m"));
    assert_eq!(tree_state(&repo, &[]), before);
    let verified = run(&fx, &["verify", "org/m"]);
    assert!(
        stderr(&verified).contains("no snapshot yet"),
        "{}",
        stderr(&verified)
    );

    fs::remove_dir_all(repo.join("trees")).unwrap();
    fx.repo("models--org--m").incomplete(&"e".repeat(64), 100);
    assert_eq!(verdict(&fx), expected);
    for commit in [&a, &b] {
        assert!(repo.join("snapshots").join(commit).join("w.bin").exists());
    }
    python_agrees(&fx);
}

#[test]
fn a_broken_nested_ref_keeps_the_revision_it_may_mean() {
    let fx = CacheFixture::new();
    let (repo, a, b) = model(&fx);
    let pr = repo.join("refs/refs/pr/1");
    fs::create_dir_all(pr.parent().unwrap()).unwrap();
    fs::write(&pr, "").unwrap(); // a write cut short
    assert_eq!(
        verdict(&fx),
        Verdict {
            scan: "corrupt".into(),
            list: "corrupt".into(),
            verify_exit: Some(1),
            prune_deletes: 0,
        }
    );
    let out = run(&fx, &["prune", "--yes"]);
    assert!(stderr(&out).contains("refs/refs/pr/1"), "{}", stderr(&out));
    assert!(repo.join("snapshots").join(&a).join("w.bin").exists());
    assert!(!python_agrees(&fx).contains(&"org/m".to_owned()));

    // Fixed (deleted, as the warning says): a is detached, and prune takes it.
    fs::remove_file(&pr).unwrap();
    assert_eq!(
        verdict(&fx),
        Verdict {
            scan: "complete".into(),
            list: "downloaded".into(),
            verify_exit: Some(0),
            prune_deletes: 2, // a's snapshot and its weights blob
        }
    );
    json(&run(&fx, &["prune", "--yes", "--json"]));
    assert!(!repo.join("snapshots").join(&a).exists());
    assert!(repo.join("snapshots").join(&b).join("w.bin").exists());
    assert!(python_agrees(&fx).contains(&"org/m".to_owned()));
}

#[test]
fn an_empty_skeleton_is_not_downloaded() {
    let fx = CacheFixture::new();
    let repo = fx.repo("models--org--m").path;
    for sub in ["blobs", "refs", "snapshots"] {
        fs::create_dir_all(repo.join(sub)).unwrap();
    }
    let expected = Verdict {
        scan: "empty".into(),
        list: "not_downloaded".into(),
        verify_exit: Some(1),
        prune_deletes: 0,
    };
    assert_eq!(verdict(&fx), expected);
    assert_eq!(
        python_agrees(&fx),
        ["org/m"],
        "Python lists it with 0 bytes"
    );

    // While a download holds a lock, it is downloading.
    let locks = fx.cache.join(".locks/models--org--m");
    fs::create_dir_all(&locks).unwrap();
    let lock = fs::File::create(locks.join(format!("{}.lock", "ab".repeat(20)))).unwrap();
    lock.lock().unwrap();
    assert_eq!(verdict(&fx).list, "downloading");
    drop(lock);

    // An empty snapshot that main names: still no model, and verify says so.
    let c = commit("empty");
    fs::create_dir_all(repo.join("snapshots").join(&c)).unwrap();
    fs::write(repo.join("refs/main"), &c).unwrap();
    assert_eq!(verdict(&fx), expected);
    let out = run(&fx, &["verify", "org/m"]);
    assert!(stderr(&out).contains("holds no file"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("0 files match"), "{}", stderr(&out));
    python_agrees(&fx);
}

/// `refs/.main.<pid>.tmp` of a writer that died long ago, holding what a
/// full disk let it write.
fn stale_ref_temp(repo: &Path, content: &str) -> PathBuf {
    let temp = repo.join(format!("refs/.main.{DEAD_PID}.tmp"));
    fs::create_dir_all(temp.parent().unwrap()).unwrap();
    fs::write(&temp, content).unwrap();
    let old = SystemTime::now() - Duration::from_secs(3600);
    fs::File::options()
        .write(true)
        .open(&temp)
        .unwrap()
        .set_modified(old)
        .unwrap();
    temp
}

#[test]
fn a_stale_ref_temp_is_no_damage_and_prune_cleans_it() {
    let fx = CacheFixture::new();
    let (repo, _, b) = model(&fx);
    let temp = stale_ref_temp(&repo, &b[..7]);
    let listing_temp = repo.join(format!("trees/.{b}.json.{DEAD_PID}.tmp"));
    fs::create_dir_all(listing_temp.parent().unwrap()).unwrap();
    fs::write(&listing_temp, "{\"format_ver").unwrap();

    let scan = ok_json(&fx, &["scan", "--json"]);
    assert_eq!(repo_of(&scan)["state"], "complete", "{scan}");
    assert_eq!(repo_of(&scan)["refs"].as_object().unwrap().len(), 1);
    let warning = scan["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["path"].as_str().unwrap().ends_with(".tmp"))
        .unwrap();
    assert!(
        warning["message"]
            .as_str()
            .unwrap()
            .contains("haid-models prune"),
        "{warning}"
    );
    // huggingface_hub reads the temp as a ref to a missing commit: it drops
    // the repo until the temp is gone.
    assert!(python_agrees(&fx).is_empty());

    let plan = ok_json(&fx, &["prune", "--dry-run", "--json"]);
    let temps: Vec<&str> = plan["temp_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(temps.len(), 2, "{plan}");
    json(&run(&fx, &["prune", "--yes", "--json"]));
    assert!(!temp.exists() && !listing_temp.exists());
    assert!(repo.join("refs/main").exists());
    assert_eq!(python_agrees(&fx), ["org/m"]);
    assert!(ok_json(&fx, &["scan", "--json"])["warnings"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn a_download_cleans_a_stale_ref_temp() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = FakeHub::start(tmp.path().join("hub-root"));
    let files = hub.root.join("acme/tiny");
    fs::create_dir_all(&files).unwrap();
    fs::write(files.join("config.json"), "{}").unwrap();
    fs::write(files.join("w.bin"), weights(3, 2000)).unwrap();
    let fx = CacheFixture::new();
    let repo = fx.cache.join("models--acme--tiny");
    // What a full disk left on the first try: the temp, no ref.
    let temp = stale_ref_temp(&repo, "");
    assert!(python_agrees(&fx).is_empty(), "Python drops the repo");

    let out = haid(fx.dir.path())
        .env("HF_ENDPOINT", &hub.url)
        .arg("--cache-dir")
        .arg(&fx.cache)
        .args(["download", "acme/tiny"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !temp.exists(),
        "the ref's next writer removed the stale temp"
    );
    assert_eq!(python_agrees(&fx), ["acme/tiny"]);
    let scan = ok_json(&fx, &["scan", "--json"]);
    assert_eq!(scan["repos"][0]["state"], "complete");
    assert!(scan["warnings"].as_array().unwrap().is_empty(), "{scan}");
}

#[cfg(unix)] // permissions and chattr
/// Makes `path` undeletable, for root too: `chattr +i` (root ignores
/// permissions), else, for a user, a read-only parent folder. Undone on drop.
struct Undeletable {
    path: PathBuf,
    how: &'static str,
    undone: bool,
}

#[cfg(unix)]
impl Undeletable {
    fn new(path: &Path) -> Option<Self> {
        use std::os::unix::fs::PermissionsExt;
        use std::process::Command;
        let is_root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        if is_root {
            let set = Command::new("chattr").arg("+i").arg(path).status();
            return set.is_ok_and(|s| s.success()).then(|| Self {
                path: path.to_owned(),
                how: "chattr",
                undone: false,
            });
        }
        let parent = path.parent().unwrap();
        fs::set_permissions(parent, fs::Permissions::from_mode(0o555)).ok()?;
        Some(Self {
            path: parent.to_owned(),
            how: "chmod",
            undone: false,
        })
    }

    /// The same file or folder after a rename of an ancestor.
    fn moved(&mut self, from: &Path, to: &Path) {
        if let Ok(rest) = self.path.strip_prefix(from) {
            self.path = to.join(rest);
        }
    }

    fn undo(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        if std::mem::replace(&mut self.undone, true) {
            return;
        }
        if self.how == "chattr" {
            let _ = std::process::Command::new("chattr")
                .arg("-i")
                .arg(&self.path)
                .stderr(Stdio::null())
                .status();
        } else {
            let _ = fs::set_permissions(&self.path, fs::Permissions::from_mode(0o755));
        }
    }
}

#[cfg(unix)]
impl Drop for Undeletable {
    fn drop(&mut self) {
        self.undo();
    }
}

#[cfg(unix)]
/// Bytes of the regular files under `dir` (links not followed).
fn bytes_under(dir: &Path) -> u64 {
    tree_state(dir, &[])
        .values()
        .filter_map(|what| what.strip_prefix("file ")?.parse::<u64>().ok())
        .sum()
}

#[cfg(unix)]
fn trash_dirs(cache: &Path) -> Vec<PathBuf> {
    fs::read_dir(cache)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".trash-"))
        .map(|e| e.path())
        .collect()
}

#[cfg(unix)]
#[test]
fn a_delete_that_cannot_finish_hides_no_bytes() {
    let fx = CacheFixture::new();
    let (repo, _, _) = model(&fx);
    let blob = fs::read_dir(repo.join("blobs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .max_by_key(|p| fs::metadata(p).unwrap().len())
        .unwrap();
    let Some(mut stuck) = Undeletable::new(&blob) else {
        // Covered by core's safe_fs test with an injected failure instead.
        eprintln!("cannot make a file undeletable here (no chattr, no permissions); skipped");
        return;
    };
    let out = run(&fx, &["delete", "org/m", "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let message = stderr(&out);
    assert!(message.contains("not deleted completely"), "{message}");
    assert!(
        message.contains("`haid-models delete org/m` again"),
        "{message}"
    );

    // The model is in the trash: scan and list show it, with its size.
    let trash = trash_dirs(&fx.cache);
    assert_eq!(trash.len(), 1);
    stuck.moved(&repo, &trash[0]);
    let scan = ok_json(&fx, &["scan", "--json"]);
    assert!(scan["repos"].as_array().unwrap().is_empty());
    let left = scan["trash_size_on_disk"].as_u64().unwrap();
    assert!(
        left >= 4000,
        "the undeletable 4000-byte blob at least: {scan}"
    );
    assert_eq!(scan["trash"][0]["folder"], "models--org--m");
    let warning = scan["warnings"][0]["message"].as_str().unwrap();
    assert!(warning.contains("a delete could not finish"), "{warning}");
    let human = run(&fx, &["scan"]);
    assert!(
        String::from_utf8_lossy(&human.stdout).contains("left by unfinished deletes"),
        "{}",
        String::from_utf8_lossy(&human.stdout)
    );
    let list = ok_json(&fx, &["list", "--json"]);
    assert!(list["size_on_disk"].as_u64().unwrap() >= left, "{list}");
    assert!(list["warnings"][0]["message"]
        .as_str()
        .unwrap()
        .contains("haid-models delete org/m"));
    python_agrees(&fx);

    // Still stuck: delete again says the same, and prune fails the same way.
    let again = run(&fx, &["delete", "org/m", "--yes"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("not deleted completely"));
    let pruned = run(&fx, &["prune", "--yes"]);
    assert_eq!(pruned.status.code(), Some(1), "{}", stderr(&pruned));

    // Fixed as the message says: delete again finishes it.
    stuck.undo();
    let plan = ok_json(&fx, &["delete", "org/m", "--dry-run", "--json"]);
    assert_eq!(plan["freed_bytes"].as_u64(), Some(bytes_under(&trash[0])));
    assert!(plan["freed_bytes"].as_u64().unwrap() >= 4000);
    json(&run(&fx, &["delete", "org/m", "--yes", "--json"]));
    assert!(trash_dirs(&fx.cache).is_empty());
    let scan = ok_json(&fx, &["scan", "--json"]);
    assert_eq!(scan["trash_size_on_disk"], 0);
    assert!(scan["warnings"].as_array().unwrap().is_empty(), "{scan}");
    let gone = run(&fx, &["delete", "org/m", "--yes"]);
    assert_eq!(gone.status.code(), Some(1), "nothing left to delete");
}
