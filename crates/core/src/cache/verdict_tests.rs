//! The scan's verdict on refs and on empty repos, and that prune, verify and
//! the model list all follow it (issue 14: a broken ref once made prune
//! delete a whole model that scan called corrupt).

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use super::prune::{execute_prune, plan_prune};
use super::verify::verify_local;
use super::{scan_cache, CachedRepo, RepoId, RepoState};
use crate::manifest::Manifest;
use crate::status::{model_list, ModelState};

const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

/// `models--org--m` with one small file per commit, linked into `blobs/`
/// under its git sha1 (so verify can check it).
fn repo(root: &Path, commits: &[&str]) -> PathBuf {
    let dir = root.join("models--org--m");
    for sub in ["blobs", "refs", "snapshots"] {
        fs::create_dir_all(dir.join(sub)).unwrap();
    }
    for commit in commits {
        let content = format!("weights of {commit}");
        let etag = git_sha1(content.as_bytes());
        fs::write(dir.join("blobs").join(&etag), &content).unwrap();
        let snapshot = dir.join("snapshots").join(commit);
        fs::create_dir_all(&snapshot).unwrap();
        crate::test_fs::symlink(format!("../../blobs/{etag}"), snapshot.join("w.bin")).unwrap();
    }
    dir
}

fn git_sha1(content: &[u8]) -> String {
    use sha1::Digest;
    let mut h = sha1::Sha1::new();
    h.update(format!("blob {}\0", content.len()).as_bytes());
    h.update(content);
    hex::encode(h.finalize())
}

fn scanned(root: &Path) -> CachedRepo {
    scan_cache(root).unwrap().repos.remove(0)
}

fn id() -> RepoId {
    RepoId::model("org/m").unwrap()
}

fn list_state(root: &Path, downloading: &HashSet<RepoId>) -> ModelState {
    let manifest = Manifest::parse(
        r#"{"embedding": [{"id": "org/m", "name": "m", "team": "org"}]}"#,
        Path::new("test.json"),
    )
    .unwrap();
    let list = model_list(&manifest, &scan_cache(root).unwrap(), downloading);
    let state = list.models().next().unwrap().state;
    state
}

/// Scan, prune, verify and list on a repo whose `refs/main` is broken:
/// corrupt everywhere, and not one file removed.
fn assert_broken_everywhere(root: &Path, dir: &Path, ref_name: &str) {
    let repo = scanned(root);
    assert_eq!(repo.state, RepoState::Corrupt);
    assert_eq!(repo.broken_refs.len(), 1, "{:?}", repo.broken_refs);
    assert_eq!(repo.broken_refs[0].name, ref_name);
    assert!(repo.revisions.iter().all(|r| repo.is_reachable(r)));
    assert_eq!(repo.detached_revisions().count(), 0);

    let plan = plan_prune(root).unwrap();
    assert!(plan.deleted.is_empty(), "{plan:?}");
    let warning = &plan.skipped[0].message;
    assert!(warning.contains(&format!("refs/{ref_name}")), "{warning}");
    assert!(warning.contains("haid-models delete org/m"), "{warning}");
    execute_prune(root, &plan).unwrap();
    assert!(dir.join("snapshots").join(A).join("w.bin").exists());

    let verified = verify_local(root, &id(), None).unwrap();
    assert!(!verified.ok);
    assert!(
        verified.problems.iter().any(|p| p.contains(ref_name)),
        "{:?}",
        verified.problems
    );
    assert_eq!(list_state(root, &HashSet::new()), ModelState::Corrupt);
}

#[test]
fn a_garbage_ref_is_broken_everywhere_and_prune_keeps_the_model() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = repo(tmp.path(), &[A]);
    fs::write(dir.join("refs/main"), b"\x00\xffgarbage\n").unwrap();
    assert_broken_everywhere(tmp.path(), &dir, "main");
}

#[test]
fn a_ref_to_a_commit_without_snapshot_is_broken_unless_a_download_explains_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = repo(tmp.path(), &[A]);
    fs::write(dir.join("refs/main"), B).unwrap();
    assert_broken_everywhere(tmp.path(), &dir, "main");
    assert!(scanned(tmp.path()).broken_refs[0]
        .problem
        .contains("not in snapshots/"));

    // With B's listing it is a download that has not placed a file yet.
    fs::create_dir_all(dir.join("trees")).unwrap();
    let listing = r#"{"format_version": 1, "files": {"w.bin": {"size": 3, "blob_id": "x"}}}"#;
    fs::write(dir.join("trees").join(format!("{B}.json")), listing).unwrap();
    let repo = scanned(tmp.path());
    assert_eq!(repo.state, RepoState::Partial);
    assert!(repo.broken_refs.is_empty());
    // Main moved on to B, but until B is there A is the only usable copy:
    // nothing is detached, prune says why, and verify checks B, not A.
    assert_eq!(repo.detached_revisions().count(), 0);
    let plan = plan_prune(tmp.path()).unwrap();
    assert!(plan.deleted.is_empty(), "{plan:?}");
    assert!(plan.skipped[0].message.contains("has not finished"));
    let verified = verify_local(tmp.path(), &id(), None).unwrap();
    assert_eq!(verified.commit_hash, B);
    assert!(!verified.ok);
    assert!(verified.problems[0].contains("no snapshot yet"));
    assert_eq!(list_state(tmp.path(), &HashSet::new()), ModelState::Partial);

    // B arrives: A is detached now.
    fs::create_dir_all(dir.join("snapshots").join(B)).unwrap();
    let repo = scanned(tmp.path());
    assert!(repo.refs_resolve());
    assert_eq!(repo.detached_revisions().count(), 1);
}

#[test]
fn a_broken_nested_ref_protects_the_revisions_no_other_ref_names() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = repo(tmp.path(), &[A, B]);
    fs::write(dir.join("refs/main"), B).unwrap();
    fs::create_dir_all(dir.join("refs/refs/pr")).unwrap();
    fs::write(dir.join("refs/refs/pr/1"), "not a commit").unwrap();
    let repo = scanned(tmp.path());
    assert_eq!(repo.broken_refs[0].name, "refs/pr/1");
    let a = repo.revisions.iter().find(|r| r.commit_hash == A).unwrap();
    assert!(a.refs.is_empty() && repo.is_reachable(a), "pr/1 may mean A");
    let plan = plan_prune(tmp.path()).unwrap();
    assert!(plan.revisions.is_empty(), "{plan:?}");
    assert!(plan.skipped[0].message.contains("refs/refs/pr/1"));

    // Once the ref is fixed, A is detached and prune may take it.
    fs::remove_file(dir.join("refs/refs/pr/1")).unwrap();
    let plan = plan_prune(tmp.path()).unwrap();
    assert_eq!(plan.revisions[0].revisions, [A]);
}

#[test]
fn an_empty_skeleton_is_no_model() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = repo(tmp.path(), &[]);
    let repo = scanned(tmp.path());
    assert_eq!(repo.state, RepoState::Empty);
    assert_eq!((repo.nb_files, repo.size_on_disk), (0, 0));
    assert_eq!(
        list_state(tmp.path(), &HashSet::new()),
        ModelState::NotDownloaded
    );
    let running = HashSet::from([id()]);
    assert_eq!(list_state(tmp.path(), &running), ModelState::Downloading);

    // An empty snapshot that main names is no model either, and verify
    // does not call 0 files a verified model.
    fs::create_dir_all(dir.join("snapshots").join(A)).unwrap();
    fs::write(dir.join("refs/main"), A).unwrap();
    assert_eq!(scanned(tmp.path()).state, RepoState::Empty);
    assert_eq!(
        list_state(tmp.path(), &HashSet::new()),
        ModelState::NotDownloaded
    );
    let verified = verify_local(tmp.path(), &id(), None).unwrap();
    assert!(!verified.ok);
    assert!(verified.problems[0].contains("holds no file"));
}

#[test]
fn a_stale_ref_temp_is_litter_that_prune_removes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = repo(tmp.path(), &[A]);
    fs::write(dir.join("refs/main"), A).unwrap();
    // Left by a writer that died (a pid no process has) on a full disk, an
    // hour ago: stale by its age too, where the pid cannot tell (Windows).
    let temp = dir.join("refs/.main.4194999.tmp");
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    fs::File::create(&temp)
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();
    let report = scan_cache(tmp.path()).unwrap();
    assert_eq!(report.repos[0].state, RepoState::Complete);
    assert!(report.repos[0].broken_refs.is_empty());
    assert!(report.warnings.iter().any(|w| w.path == temp));
    let plan = plan_prune(tmp.path()).unwrap();
    assert_eq!(plan.temp_files, std::slice::from_ref(&temp));
    execute_prune(tmp.path(), &plan).unwrap();
    assert!(!temp.exists());
    assert!(scan_cache(tmp.path()).unwrap().warnings.is_empty());
    assert!(verify_local(tmp.path(), &id(), None).unwrap().ok);
}

#[test]
fn sound_refs_leave_detached_revisions_to_prune() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = repo(tmp.path(), &[A, B]);
    fs::write(dir.join("refs/main"), B).unwrap();
    let repo = scanned(tmp.path());
    assert_eq!(repo.state, RepoState::Complete);
    let detached: Vec<&str> = repo
        .detached_revisions()
        .map(|r| r.commit_hash.as_str())
        .collect();
    assert_eq!(detached, [A]);
    assert!(verify_local(tmp.path(), &id(), None).unwrap().ok);
    assert_eq!(
        list_state(tmp.path(), &HashSet::new()),
        ModelState::Downloaded
    );
}
