//! `haid-models move DEST`: the cache to another disk (a tmpfs) and within
//! one, checked by Python offline and `hf cache verify` at the new place; a
//! kill at every step; the variable that chose the cache, both ways; every
//! refusal changes nothing; a merge into an existing cache; nothing outside
//! the two folders touched.

#[cfg(unix)]
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[cfg(unix)]
use haid_models_tests::output::ndjson;
use haid_models_tests::output::{assert_ok, json_ok, stderr};
use haid_models_tests::published::Published;
use haid_models_tests::tree_walk::tree_state;
use haid_models_tests::{haid, python};

const EMBED: &str = "acme/embed";
const CAPTION: &str = "acme/caption";
/// Downloaded by Python with `HF_HUB_DISABLE_SYMLINKS=1`: files in the
/// snapshot, no links (the layout huggingface_hub writes on Windows).
const FLAT: &str = "acme/flat";

/// The hub and its models (`Published`), with this file's commands.
struct World {
    base: Published,
}

impl std::ops::Deref for World {
    type Target = Published;
    fn deref(&self) -> &Published {
        &self.base
    }
}

impl std::ops::DerefMut for World {
    fn deref_mut(&mut self) -> &mut Published {
        &mut self.base
    }
}

impl World {
    /// Three models in the default cache: one downloaded by us, one by
    /// Python, one by Python without symlinks.
    fn new() -> Self {
        let mut w = Self {
            base: Published::new(),
        };
        w.publish(EMBED, 1, 300_000);
        w.publish(CAPTION, 2, 300_000);
        w.publish(FLAT, 4, 300_000);
        assert_ok(&w.haid().args(["download", EMBED]).output().unwrap());
        python::hf_ok(&["download", CAPTION], &w.default_cache(), &w.hub.url);
        let flat = python::venv_command("hf")
            .args(["download", FLAT, "--cache-dir"])
            .arg(w.default_cache())
            .env("HF_ENDPOINT", &w.hub.url)
            .env("HF_HUB_DISABLE_SYMLINKS", "1")
            .output()
            .unwrap();
        assert_ok(&flat);
        let snapshot = w.default_cache().join("models--acme--flat/snapshots");
        let commit = std::fs::read_dir(&snapshot)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        assert!(
            commit
                .join("model.safetensors")
                .symlink_metadata()
                .unwrap()
                .is_file(),
            "Python wrote the no-symlink layout"
        );
        w
    }

    /// The cache the rules give with no variable set: rule 6.
    fn default_cache(&self) -> PathBuf {
        self.tmp.path().join("data/haid/models/hub")
    }

    fn settings_file(&self) -> PathBuf {
        self.tmp.path().join("config/com.haid.models/settings.json")
    }

    fn haid(&self) -> Command {
        let mut cmd = haid(self.tmp.path());
        cmd.env("HF_ENDPOINT", &self.hub.url);
        cmd
    }

    fn move_to(&self, dest: &Path, args: &[&str]) -> Output {
        self.haid()
            .arg("move")
            .arg(dest)
            .args(args)
            .output()
            .unwrap()
    }

    /// Where the cache is now, as `where` says.
    fn current_cache(&self) -> PathBuf {
        let loc = json_ok(&self.haid().args(["where", "--json"]).output().unwrap());
        PathBuf::from(loc["cache_dir"].as_str().unwrap())
    }

    /// Our scan of `cache`: each repo id with its state.
    fn states(&self, cache: &Path) -> Vec<(String, String)> {
        let out = self
            .haid()
            .arg("--cache-dir")
            .arg(cache)
            .args(["scan", "--json"])
            .output()
            .unwrap();
        let scan = json_ok(&out);
        let mut states: Vec<_> = scan["repos"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["repo_id"].as_str().unwrap().to_owned(),
                    r["state"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        states.sort();
        states
    }

    /// Each model whole in one of the two places (the move is one rename
    /// on one disk, so the rules may name the emptied one until the rerun).
    #[cfg(unix)]
    fn assert_whole_in_either(&self, a: &Path, b: &Path, when: &str) {
        let mut complete: Vec<String> = [a, b]
            .iter()
            .flat_map(|c| self.states(c))
            .filter(|(_, state)| state == "complete")
            .map(|(id, _)| id)
            .collect();
        complete.sort();
        complete.dedup();
        assert_eq!(complete, [CAPTION, EMBED, FLAT], "{when}");
    }

    fn assert_whole_by_our_scan(&self, cache: &Path, when: &str) {
        let complete = |id: &str| (id.to_owned(), "complete".to_owned());
        assert_eq!(
            self.states(cache),
            [complete(CAPTION), complete(EMBED), complete(FLAT)],
            "{when}: every model whole in {}",
            cache.display()
        );
    }

    #[cfg(unix)]
    fn settings_cache_dir(&self) -> Option<PathBuf> {
        let text = std::fs::read_to_string(self.settings_file()).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["cache_dir"].as_str().map(PathBuf::from)
    }
}

#[cfg(unix)]
/// A folder on another file system than the temp dir: a tmpfs.
fn other_file_system(near: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir_in("/dev/shm").expect("/dev/shm (a tmpfs) for the cross-disk move");
    assert_ne!(
        std::fs::metadata(dir.path()).unwrap().dev(),
        std::fs::metadata(near).unwrap().dev(),
        "/dev/shm must be another file system than the temp dir"
    );
    dir
}

#[cfg(unix)]
fn blob_inode(cache: &Path, id: &str) -> u64 {
    let blobs = cache.join(format!("models--{}/blobs", id.replace('/', "--")));
    let first = std::fs::read_dir(blobs).unwrap().next().unwrap().unwrap();
    first.metadata().unwrap().ino()
}

#[cfg(unix)]
#[test]
fn a_move_to_another_disk_copies_checks_and_python_finds_every_model_there() {
    let w = World::new();
    let shm = other_file_system(w.tmp.path());
    let dest = shm.path().join("hub");
    let old = w.default_cache();
    let outside = |w: &World| tree_state(w.tmp.path(), &[&old, &w.tmp.path().join("config")]);
    let before = outside(&w);

    let out = w.move_to(&dest, &["--json"]);
    assert_ok(&out);
    let events = ndjson(&out);
    let done = events.last().unwrap();
    assert_eq!(done["event"], "done", "{events:?}");
    assert_eq!(done["method"], "copy");
    assert!(done["bytes_copied"].as_u64().unwrap() > 600_000, "{done}");
    assert_eq!(done["remembered"], true);
    assert!(events.iter().any(|e| e["event"] == "progress"));
    assert!(events.iter().any(|e| e["event"] == "switched"));

    assert!(!old.exists(), "the old copy is gone");
    assert_eq!(w.settings_cache_dir(), Some(dest.clone()));
    assert_eq!(w.current_cache(), dest);
    assert_eq!(
        before,
        outside(&w),
        "nothing else under the temp dir changed"
    );
    assert!(
        !dest.join(".locks/haid-move.json").exists(),
        "the journal is gone"
    );
    w.assert_whole_by_our_scan(&dest, "after the move");
    w.assert_python_reads_all(&dest);
}

/// An exFAT drive refuses symlinks: every snapshot file lands there as a
/// plain copy of its blob (the layout huggingface_hub writes on one), which
/// our scan, Python and `hf cache verify` read; killed at any step, the
/// same move finishes it.
#[cfg(target_os = "linux")]
#[test]
fn a_move_to_a_disk_without_symlinks_writes_plain_files_and_survives_a_kill_at_every_step() {
    let w = World::new();
    let disk = haid_models_tests::exfat::ExfatDisk::new(w.tmp.path(), 64);
    let dest = disk.path().join("hub");
    let out = w.move_to(&dest, &["--json"]);
    assert_ok(&out);
    let done = ndjson(&out).pop().unwrap();
    assert_eq!(done["event"], "done", "{done}");
    assert_eq!(done["method"], "copy");
    assert_eq!(done["without_symlinks"], true, "{done}");
    let links = tree_state(&dest, &[])
        .into_iter()
        .filter(|(_, kind)| kind.starts_with("symlink"))
        .count();
    assert_eq!(links, 0, "no symlink at DEST");
    let blobs = std::fs::read_dir(dest.join("models--acme--embed/blobs")).unwrap();
    assert_eq!(blobs.count(), 0, "its blobs are in its snapshot");
    w.assert_whole_by_our_scan(&dest, "after the move");
    w.assert_python_reads_all(&dest);
    // Disk use as huggingface_hub counts it there (each plain copy).
    let theirs = python::run_json("hf_scan.py", &[dest.to_str().unwrap()]);
    let ours = json_ok(
        &w.haid()
            .arg("--cache-dir")
            .arg(&dest)
            .args(["scan", "--json"])
            .output()
            .unwrap(),
    );
    let sizes = |scan: &serde_json::Value| -> Vec<(String, u64)> {
        let mut repos: Vec<_> = scan["repos"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let id = r["repo_id"].as_str().unwrap().to_owned();
                (id, r["size_on_disk"].as_u64().unwrap())
            })
            .collect();
        repos.sort();
        repos
    };
    assert_eq!(sizes(&ours), sizes(&theirs));

    // Back to the first disk, then out again with a kill at every step.
    assert_ok(&w.move_to(&w.default_cache(), &[]));
    kill_at_every_step(&w, &dest, true);
}

#[cfg(unix)]
#[test]
fn a_move_on_one_disk_is_one_rename_and_a_dry_run_changes_nothing() {
    let w = World::new();
    let dest = w.tmp.path().join("bigdisk/models/hub");
    let old = w.default_cache();
    let inode = blob_inode(&old, EMBED);
    let before = tree_state(w.tmp.path(), &[]);

    let plan = json_ok(&w.move_to(&dest, &["--dry-run", "--json"]));
    assert_eq!(plan["method"], "rename");
    assert_eq!(plan["into_existing_cache"], false);
    assert_eq!(plan["repos"].as_array().unwrap().len(), 3);
    assert_eq!(plan["bytes_to_copy"], 0);
    assert!(plan["bytes"].as_u64().unwrap() > 600_000);
    assert_eq!(plan["remember"], true);
    assert_eq!(
        before,
        tree_state(w.tmp.path(), &[]),
        "the dry run changed nothing"
    );

    let out = w.move_to(&dest, &[]);
    assert_ok(&out);
    assert!(stderr(&out).contains("one rename"), "{}", stderr(&out));
    assert_eq!(blob_inode(&dest, EMBED), inode, "the same file, not a copy");
    assert!(!old.exists());
    assert_eq!(w.current_cache(), dest);
    w.assert_python_reads_all(&dest);
}

/// Kills the move after each step in turn; after every kill each model is
/// whole in one place (on another disk: in the place the rules name), and
/// the same move finishes it.
#[cfg(unix)]
fn kill_at_every_step(w: &World, dest: &Path, copies: bool) {
    let old = w.default_cache();
    let mut killed = 0;
    for n in 1..200 {
        let out = w
            .haid()
            .arg("move")
            .arg(dest)
            .env("HAID_MOVE_CRASH_AFTER", n.to_string())
            .output()
            .unwrap();
        if out.status.success() {
            break;
        }
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(out.status.signal(), Some(6), "step {n}: {}", stderr(&out));
        killed += 1;
        let current = w.current_cache();
        assert!(current == old || current == dest, "step {n}: {current:?}");
        // What a start shows: the cache, or where the move went.
        let info = json_ok(&w.haid().args(["where", "--json"]).output().unwrap());
        if !current.exists() {
            assert_eq!(
                info["unfinished_move"]["to"].as_str().map(Path::new),
                Some(dest),
                "step {n}: the cache's folder is gone and nothing says where: {info}"
            );
        }
        w.assert_whole_in_either(&old, dest, &format!("killed after step {n}"));
        if copies {
            // A copy switches only once DEST is whole: the cache in use always is.
            w.assert_whole_by_our_scan(&current, &format!("killed after step {n}"));
        }
        // The same move finishes it, from wherever it stopped; then the
        // next iteration starts over from the old place.
        assert_ok(&w.move_to(dest, &[]));
        assert_eq!(w.current_cache(), dest, "step {n}");
        assert!(!old.exists(), "step {n}: the old copy is gone");
        w.assert_whole_by_our_scan(dest, &format!("finished after step {n}"));
        assert_ok(&w.move_to(&old, &[]));
    }
    assert!(killed >= 3, "the kill hook stopped the move {killed} times");
    w.assert_python_reads_all(dest);
}

#[cfg(unix)]
#[test]
fn a_copy_across_disks_killed_at_every_step_finishes_on_the_next_run() {
    let w = World::new();
    let shm = other_file_system(w.tmp.path());
    kill_at_every_step(&w, &shm.path().join("hub"), true);
}

#[cfg(unix)]
#[test]
fn a_rename_killed_at_every_step_finishes_on_the_next_run() {
    let w = World::new();
    kill_at_every_step(&w, &w.tmp.path().join("elsewhere/hub"), false);
}

#[test]
fn a_variable_that_chose_the_cache_refuses_unless_the_old_path_becomes_a_link() {
    let w = World::new();
    let home = w.tmp.path().join("hf-home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::rename(w.default_cache(), home.join("hub")).unwrap();
    let dest = w.tmp.path().join("disk2/hub");
    let with_home = |args: &[&str]| {
        w.haid()
            .env("HF_HOME", &home)
            .arg("move")
            .arg(&dest)
            .args(args)
            .output()
            .unwrap()
    };
    let before = tree_state(w.tmp.path(), &[]);
    let out = with_home(&[]);
    assert_eq!(out.status.code(), Some(1));
    let said = stderr(&out);
    assert!(said.contains("HF_HOME chooses the cache's place"), "{said}");
    assert!(said.contains("--leave-symlink"), "{said}");
    assert_eq!(
        before,
        tree_state(w.tmp.path(), &[]),
        "refused: nothing changed"
    );

    assert_ok(&with_home(&["--leave-symlink"]));
    let link = home.join("hub");
    assert_eq!(std::fs::read_link(&link).unwrap(), dest);
    assert!(
        !w.settings_file().exists(),
        "HF_HOME still chooses: no settings written"
    );
    // Every tool that reads HF_HOME keeps working through the link.
    w.assert_python_reads_all(&link);
    w.assert_whole_by_our_scan(&dest, "at the new place");
}

#[test]
fn refusals_say_why_and_change_nothing() {
    let w = World::new();
    let cache = w.default_cache();
    let foreign = w.tmp.path().join("documents");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("thesis.txt"), "mine").unwrap();
    let lock_dir = cache.join(".locks/models--acme--embed");
    std::fs::create_dir_all(&lock_dir).unwrap();
    let cases: Vec<(PathBuf, &str)> = vec![
        (cache.join("sub"), "inside the cache"),
        (w.tmp.path().join("data"), "is inside it"),
        (cache.clone(), "the cache already"),
        (
            foreign.clone(),
            "neither empty nor a Hugging Face cache (it holds thesis.txt)",
        ),
    ];
    let before = tree_state(w.tmp.path(), &[]);
    for (dest, why) in &cases {
        let out = w.move_to(dest, &[]);
        assert_eq!(out.status.code(), Some(1), "{dest:?}");
        assert!(stderr(&out).contains(why), "{dest:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("Nothing was changed"),
            "{}",
            stderr(&out)
        );
    }
    assert_eq!(
        before,
        tree_state(w.tmp.path(), &[]),
        "refused: nothing changed"
    );
    // A download holding a lock (ours or Python's).
    let lock = std::fs::File::create(lock_dir.join(format!("{}.lock", "ab".repeat(20)))).unwrap();
    lock.lock().unwrap();
    let before_lock = tree_state(w.tmp.path(), &[]);
    let out = w.move_to(&w.tmp.path().join("disk2/hub"), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("acme/embed is being downloaded"),
        "{}",
        stderr(&out)
    );
    assert_eq!(before_lock, tree_state(w.tmp.path(), &[]));
}

#[cfg(unix)]
#[test]
fn a_move_into_an_existing_cache_merges_and_keeps_each_blob_once() {
    let mut w = World::new();
    w.publish("acme/other", 3, 300_000);
    let dest = w.tmp.path().join("team/hub");
    // DEST holds the embedder already, and one model of its own.
    for id in [EMBED, "acme/other"] {
        let out = w
            .haid()
            .arg("--cache-dir")
            .arg(&dest)
            .args(["download", id])
            .output()
            .unwrap();
        assert_ok(&out);
    }
    let inode = blob_inode(&dest, EMBED);
    let plan = json_ok(&w.move_to(&dest, &["--dry-run", "--json"]));
    assert_eq!(plan["into_existing_cache"], true);
    let out = w.move_to(&dest, &["--json"]);
    assert_ok(&out);
    let done = ndjson(&out).pop().unwrap();
    assert_eq!(done["bytes_copied"], 0, "one disk: links, no copy");
    assert_eq!(
        blob_inode(&dest, EMBED),
        inode,
        "DEST's blob kept, not replaced"
    );
    let ids: Vec<String> = w.states(&dest).into_iter().map(|(id, _)| id).collect();
    assert_eq!(
        ids,
        ["acme/caption", "acme/embed", "acme/flat", "acme/other"]
    );
    assert!(!w.default_cache().exists());
    w.assert_python_reads_all(&dest);
}

#[test]
fn a_journal_another_program_wrote_cannot_send_the_move_to_another_folder() {
    let w = World::new();
    // Someone's folder that looks like a cache, and a planted journal that
    // says a move from it to DEST was interrupted.
    let victim = w.tmp.path().join("victim");
    std::fs::create_dir_all(victim.join("models--x--y/blobs")).unwrap();
    std::fs::write(victim.join("models--x--y/blobs/a"), "precious").unwrap();
    let dest = w.tmp.path().join("dest/hub");
    std::fs::create_dir_all(dest.join(".locks")).unwrap();
    let planted =
        serde_json::json!({"from": victim, "to": dest, "leave_symlink": true, "remember": true});
    std::fs::write(dest.join(".locks/haid-move.json"), planted.to_string()).unwrap();
    let victim_before = tree_state(&victim, &[]);

    // Ignored: it is not about the cache the rules chose. The real cache moves.
    assert_ok(&w.move_to(&dest, &[]));
    assert_eq!(
        victim_before,
        tree_state(&victim, &[]),
        "the victim is untouched"
    );
    assert!(victim.is_dir() && !victim.is_symlink());
    assert_eq!(w.current_cache(), dest);
    w.assert_whole_by_our_scan(&dest, "after the move");

    // A journal in the cache that names another move is refused, not followed;
    // one that is not JSON is an error that says what to do.
    let other = w.tmp.path().join("other/hub");
    let journal = dest.join(".locks/haid-move.json");
    let planted =
        serde_json::json!({"from": victim, "to": other, "leave_symlink": false, "remember": true});
    std::fs::write(&journal, planted.to_string()).unwrap();
    let out = w.move_to(&other, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("was interrupted"), "{}", stderr(&out));
    std::fs::write(&journal, "{not json").unwrap();
    let out = w.move_to(&other, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("remove this file and move again"),
        "{}",
        stderr(&out)
    );
    assert!(!other.exists(), "nothing was made at DEST");
    assert_eq!(victim_before, tree_state(&victim, &[]));
}
