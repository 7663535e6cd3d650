//! Delete, prune and verify: exact, crash-safe, and never outside the cache.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use haid_models_tests::fake_hub::FakeHub;
use haid_models_tests::fixture::{commit, etag, symlink, weights, CacheFixture};
use haid_models_tests::output::{json_ok, stderr};
use haid_models_tests::{haid, python};
use serde_json::Value;

fn run(fx: &CacheFixture, args: &[&str]) -> Output {
    haid(fx.dir.path())
        .arg("--cache-dir")
        .arg(&fx.cache)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Every path under `dir` with its kind and content (or link target).
fn tree(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().to_owned();
            let ft = e.file_type().unwrap();
            if ft.is_symlink() {
                out.insert(
                    rel,
                    format!("link {}", fs::read_link(&p).unwrap().display()),
                );
            } else if ft.is_dir() {
                out.insert(rel, "dir".into());
                walk(base, &p, out);
            } else {
                out.insert(rel, format!("file {}", etag(&fs::read(&p).unwrap())));
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

/// One model, three revisions: `main` (b), a detached one (a) sharing the
/// config with b, and `v1` (c); plus an unfinished download.
fn three_revisions(fx: &CacheFixture) -> (String, String, String) {
    let (a, b, c) = (commit("a"), commit("b"), commit("c"));
    let cfg: &[u8] = b"{\"dim\": 8}";
    fx.repo("models--org--m")
        .revision(&a, &[("config.json", cfg), ("w.bin", &weights(1, 4000))])
        .revision(
            &b,
            &[
                ("config.json", cfg),
                ("w.bin", &weights(2, 5000)),
                ("x/y.bin", &weights(2, 5000)),
            ],
        )
        .revision(
            &c,
            &[
                ("config.json", b"{\"dim\": 9}"),
                ("w.bin", &weights(3, 6000)),
            ],
        )
        .reference("main", &b)
        .reference("v1", &c)
        .incomplete(&etag(&weights(4, 9000)), 1234);
    (a, b, c)
}

#[test]
fn hostile_ids_are_refused_and_touch_nothing() {
    let fx = CacheFixture::new();
    three_revisions(&fx);
    let outside = fx.outside();
    fs::write(outside.join("x"), "precious").unwrap();
    let before = tree(fx.dir.path());
    for id in [
        "../x",
        "a/../../b",
        "/etc",
        "org/name/extra",
        "org\\name",
        "",
        "~",
        "../outside",
        ".",
    ] {
        let out = run(&fx, &["delete", id, "--yes"]);
        assert_eq!(out.status.code(), Some(1), "{id:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("invalid repo id"),
            "{id:?}: {}",
            stderr(&out)
        );
    }
    assert_eq!(tree(fx.dir.path()), before);
}

#[test]
fn revision_delete_frees_exactly_what_python_plans() {
    let fx = CacheFixture::new();
    let (a, _b, c) = three_revisions(&fx);
    for hashes in [vec![a.clone()], vec![c.clone()], vec![a.clone(), c.clone()]] {
        let mut args = vec![fx.cache.to_str().unwrap()];
        args.extend(hashes.iter().map(String::as_str));
        let theirs = python::run_json("hf_delete_plan.py", &args);
        let mut ours_args = vec!["delete", "org/m", "--dry-run", "--json"];
        for h in &hashes {
            ours_args.extend(["--revision", h.as_str()]);
        }
        let ours = json_ok(&run(&fx, &ours_args));
        assert_eq!(
            ours["freed_bytes"], theirs["expected_freed_size"],
            "{hashes:?}"
        );
        assert_eq!(ours["dry_run"], true);
        assert_eq!(ours["whole_repo"], false);
        let blobs: Vec<&str> = ours["deleted"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .filter(|p| p.contains("/blobs/"))
            .collect();
        let mut blobs = blobs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        blobs.sort();
        assert_eq!(serde_json::json!(blobs), theirs["blobs"], "{hashes:?}");
    }
    let before = tree(&fx.cache);
    assert_eq!(tree(&fx.cache), before, "dry runs touch nothing");

    // Delete v1 for real: its ref goes, shared blobs stay, Python agrees on the result.
    let out = json_ok(&run(
        &fx,
        &["delete", "org/m", "--revision", &c[..8], "--yes", "--json"],
    ));
    assert_eq!(out["dry_run"], false);
    let repo = fx.cache.join("models--org--m");
    assert!(!repo.join("refs/v1").exists());
    assert!(!repo.join("snapshots").join(&c).exists());
    assert!(repo.join("refs/main").exists());
    let scan = python::run_json("hf_scan.py", &[fx.cache.to_str().unwrap()]);
    let revs = scan["repos"][0]["revisions"].as_array().unwrap();
    assert_eq!(revs.len(), 2);
    assert!(scan["warnings"].as_array().unwrap().is_empty(), "{scan}");
}

#[test]
fn whole_repo_delete_is_crash_safe_and_leaves_nothing() {
    let fx = CacheFixture::new();
    three_revisions(&fx);
    let out = run(&fx, &["delete", "org/m"]);
    assert_eq!(out.status.code(), Some(1), "no terminal, no --yes: refused");
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert!(fx.cache.join("models--org--m").exists());

    let plan = json_ok(&run(&fx, &["delete", "org/m", "--dry-run", "--json"]));
    assert_eq!(plan["whole_repo"], true);
    let freed = plan["freed_bytes"].as_u64().unwrap();
    assert_eq!(
        freed,
        10 + 4000 + 5000 + 10 + 6000 + 1234,
        "blobs once each, plus the partial"
    );
    let out = json_ok(&run(&fx, &["delete", "org/m", "--yes", "--json"]));
    assert_eq!(out["freed_bytes"], freed);
    let left: Vec<String> = fs::read_dir(&fx.cache)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        left.iter()
            .all(|n| !n.starts_with("models--") && !n.starts_with(".trash-")),
        "{left:?}"
    );

    // A delete a crash cut short: the trash is finished by the next scan.
    let trash = fx.cache.join(".trash-models--org--gone-1-2");
    fs::create_dir_all(trash.join("blobs")).unwrap();
    fs::write(trash.join("blobs/x"), "half-deleted").unwrap();
    let scan = json_ok(&run(&fx, &["scan", "--json"]));
    assert!(scan["repos"].as_array().unwrap().is_empty());
    assert!(!trash.exists());
}

#[test]
fn delete_refuses_while_a_download_holds_a_lock() {
    let fx = CacheFixture::new();
    three_revisions(&fx);
    let locks = fx.cache.join(".locks/models--org--m");
    fs::create_dir_all(&locks).unwrap();
    let lock = locks.join("abc.lock");
    // A Python process holding the lock as huggingface_hub does (filelock).
    let mut holder = python::venv_command("python")
        .args(["-c", "import sys,filelock; l=filelock.FileLock(sys.argv[1]); l.acquire(); print('held', flush=True); sys.stdin.read()"])
        .arg(&lock)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "held");
    let out = run(&fx, &["delete", "org/m", "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("being downloaded right now"),
        "{}",
        stderr(&out)
    );
    assert!(fx.cache.join("models--org--m/snapshots").exists());
    drop(holder.stdin.take());
    holder.wait().unwrap();
    assert!(run(&fx, &["delete", "org/m", "--yes"]).status.success());
}

#[test]
fn prune_leaves_python_nothing_to_prune_and_spares_links_outside() {
    let fx = CacheFixture::new();
    let (a, b, _) = three_revisions(&fx);
    let repo = fx.cache.join("models--org--m");
    fs::write(
        repo.join("blobs")
            .join("0123456789012345678901234567890123456789"),
        "orphan",
    )
    .unwrap();
    let outside = fx.outside();
    fs::write(outside.join("target.bin"), "outside, keep me").unwrap();
    symlink(&outside.join("target.bin"), &repo.join("blobs/link-out"));
    // A repo with no ref at all is wholly detached.
    fx.repo("models--org--detached")
        .revision(&a, &[("config.json", b"{}")]);

    let plan = json_ok(&run(&fx, &["prune", "--dry-run", "--json"]));
    let pruned: Vec<&str> = plan["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["commit_hash"].as_str().unwrap())
        .collect();
    assert!(
        pruned.contains(&a.as_str()) && !pruned.contains(&b.as_str()),
        "{plan}"
    );
    assert_eq!(plan["orphan_blobs"].as_array().unwrap().len(), 1);
    assert_eq!(plan["incomplete"].as_array().unwrap().len(), 1);
    json_ok(&run(&fx, &["prune", "--yes", "--json"]));

    let scan = python::run_json("hf_scan.py", &[fx.cache.to_str().unwrap()]);
    for r in scan["repos"].as_array().unwrap() {
        for rev in r["revisions"].as_array().unwrap() {
            assert!(
                !rev["refs"].as_array().unwrap().is_empty(),
                "detached revision left: {rev}"
            );
        }
    }
    assert_eq!(scan["incomplete_size_on_disk"], 0);
    assert!(fs::symlink_metadata(repo.join("blobs/link-out"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        fs::read_to_string(outside.join("target.bin")).unwrap(),
        "outside, keep me"
    );
    assert!(!fx.cache.join("models--org--detached").exists());
    assert_eq!(
        json_ok(&run(&fx, &["prune", "--dry-run", "--json"]))["deleted"],
        serde_json::json!([])
    );
}

#[test]
fn verify_catches_one_flipped_byte_offline() {
    let fx = CacheFixture::new();
    let (_, b, _) = three_revisions(&fx);
    let ok = json_ok(&offline(&fx, &["verify", "org/m", "--json"]));
    assert_eq!(ok["ok"], true);
    assert_eq!(ok["commit_hash"], b.as_str());
    assert_eq!(ok["checked"], 3);
    assert_eq!(ok["hub"], "offline");

    let w = weights(2, 5000);
    let blob = fx.cache.join("models--org--m/blobs").join(etag(&w));
    let mut bytes = fs::read(&blob).unwrap();
    bytes[1234] ^= 1;
    fs::write(&blob, bytes).unwrap();
    let out = offline(&fx, &["verify", "org/m", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let bad: Vec<&str> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["verdict"] == "mismatch")
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        bad,
        ["w.bin", "x/y.bin"],
        "both files share the damaged blob"
    );
    assert!(
        stderr(&out).contains("download the model again"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn verify_against_the_hub_finds_missing_and_extra_files() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = FakeHub::start(tmp.path().join("root"));
    let dir = hub.root.join("acme/v");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("config.json"), "{}").unwrap();
    fs::write(dir.join("w.bin"), weights(5, 3000)).unwrap();
    let fx = CacheFixture::new();
    let dl = haid(fx.dir.path())
        .env("HF_ENDPOINT", &hub.url)
        .arg("--cache-dir")
        .arg(&fx.cache)
        .args(["download", "acme/v"])
        .output()
        .unwrap();
    assert!(dl.status.success(), "{}", stderr(&dl));
    let online = |fx: &CacheFixture| {
        haid(fx.dir.path())
            .env("HF_ENDPOINT", &hub.url)
            .arg("--cache-dir")
            .arg(&fx.cache)
            .args(["verify", "acme/v", "--json"])
            .output()
            .unwrap()
    };
    let v = json_ok(&online(&fx));
    assert_eq!(
        (v["ok"].as_bool(), v["hub"].as_str()),
        (Some(true), Some("checked"))
    );
    let snap = PathBuf::from(v["snapshot_path"].as_str().unwrap());
    fs::remove_file(snap.join("w.bin")).unwrap();
    fs::write(
        fx.cache
            .join("models--acme--v/blobs/2e65efe2a145dda7ee51d1741299f848e5bf752e"),
        "x",
    )
    .unwrap();
    symlink(
        Path::new("../../blobs/2e65efe2a145dda7ee51d1741299f848e5bf752e"),
        &snap.join("extra.txt"),
    );
    let out = online(&fx);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let verdicts: BTreeMap<&str, &str> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["path"].as_str().unwrap(), f["verdict"].as_str().unwrap()))
        .collect();
    assert_eq!(verdicts.get("w.bin"), Some(&"missing"));
    assert_eq!(verdicts.get("extra.txt"), Some(&"extra"));
    assert_eq!(verdicts.get("config.json"), Some(&"ok"));
}

fn offline(fx: &CacheFixture, args: &[&str]) -> Output {
    haid(fx.dir.path())
        .env("HF_HUB_OFFLINE", "1")
        .arg("--cache-dir")
        .arg(&fx.cache)
        .args(args)
        .output()
        .unwrap()
}

/// `delete` run on a real terminal (a pty from `script`), answering `answer`.
fn delete_on_a_terminal(fx: &CacheFixture, answer: &str) -> Output {
    use std::io::Write;
    let bin = haid_models_tests::haid_bin();
    let cmd = format!(
        "{} --cache-dir {} delete org/m",
        bin.display(),
        fx.cache.display()
    );
    let mut child = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("HOME", fx.dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script(1) from util-linux gives the command a terminal");
    std::thread::sleep(std::time::Duration::from_millis(500));
    child
        .stdin
        .as_mut()
        .unwrap()
        .write_all(answer.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn delete_asks_on_a_terminal_and_takes_no_for_an_answer() {
    let fx = CacheFixture::new();
    three_revisions(&fx);
    let out = delete_on_a_terminal(&fx, "n\n");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Delete org/m (all 3 revision(s))"), "{text}");
    assert!(text.contains("Nothing was deleted"), "{text}");
    assert!(fx.cache.join("models--org--m").exists());
    let out = delete_on_a_terminal(&fx, "y\n");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("freed"), "{text}");
    assert!(!fx.cache.join("models--org--m").exists());
}
