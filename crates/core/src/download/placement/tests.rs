//! Placing snapshot files: the symlink probe under concurrent downloads,
//! blobs moved or copied into snapshots without symlinks, paths past
//! MAX_PATH, and the flag over the probe.

use super::*;
use crate::cache::RepoId;
use crate::download::layout::prepare_repo;

#[cfg(unix)]
#[test]
fn downloads_that_probe_one_folder_at_once_all_find_symlinks() {
    // A sync downloads several models at once, each asking first.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_owned();
    let answers: Vec<bool> = (0..8)
        .map(|_| {
            let dir = dir.clone();
            std::thread::spawn(move || symlinks_supported(&dir))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    assert!(answers.iter().all(|a| *a), "{answers:?}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "no probe left");
}

fn setup() -> (tempfile::TempDir, PathBuf, CommitHash) {
    let cache = tempfile::tempdir().unwrap();
    let dir = prepare_repo(cache.path(), &RepoId::model("o/m").unwrap()).unwrap();
    (cache, dir, CommitHash::parse(&"c".repeat(40)).unwrap())
}

#[test]
fn files_move_the_blob_or_copy_it_when_kept() {
    let (_cache, dir, c0) = setup();
    let etag = BlobName::parse(&"1".repeat(40)).unwrap();
    let blob = dir.join("blobs").join(etag.as_str());
    std::fs::write(&blob, "x").unwrap();
    let a = RepoFilePath::parse("a/one.txt").unwrap();
    let b = RepoFilePath::parse("two.txt").unwrap();
    let copy = place(SnapshotStyle::Files, &dir, &c0, &a, &etag, true).unwrap();
    assert!(blob.is_file(), "kept for the next path");
    let moved = place(SnapshotStyle::Files, &dir, &c0, &b, &etag, false).unwrap();
    assert!(!blob.exists(), "moved into the snapshot");
    for f in [&copy, &moved] {
        assert!(!std::fs::symlink_metadata(f).unwrap().is_symlink());
        assert_eq!(std::fs::read_to_string(f).unwrap(), "x");
    }
    // Placed again (the download's last pass): kept as it is.
    place(SnapshotStyle::Files, &dir, &c0, &b, &etag, false).unwrap();
    assert!(is_placed(&dir, &c0, &b, 1));
}

#[test]
fn a_blob_a_symlink_needs_is_copied_and_one_left_over_by_a_rerun_goes() {
    let (_cache, dir, c0) = setup();
    let old = CommitHash::parse(&"0".repeat(40)).unwrap();
    let (e1, e2) = (
        BlobName::parse(&"1".repeat(40)).unwrap(),
        BlobName::parse(&"2".repeat(40)).unwrap(),
    );
    std::fs::write(dir.join("blobs").join(e1.as_str()), "x").unwrap();
    std::fs::write(dir.join("blobs").join(e2.as_str()), "y").unwrap();
    let links = crate::test_fs::links_work(&dir);
    let file = |p: &str| RepoFilePath::parse(p).unwrap();
    if links {
        // An older revision, written with symlinks, links to e1.
        link_snapshot(&dir, &old, &file("old.txt"), &e1).unwrap();
    }
    // b.txt is in place already: a rerun brought e2 back for nothing.
    let snapshot = dir.join("snapshots").join(c0.as_str());
    std::fs::create_dir_all(&snapshot).unwrap();
    std::fs::write(snapshot.join("b.txt"), "y").unwrap();
    let entry = |p: &str, e: &BlobName| SnapshotEntry {
        commit: c0.clone(),
        path: file(p),
        etag: e.clone(),
    };
    let files = [entry("a.txt", &e1), entry("b.txt", &e2)];
    let brought = HashSet::from([e1.clone(), e2.clone()]);
    Placer::new(SnapshotStyle::Files, &dir)
        .place_each(&files, &brought)
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(snapshot.join("a.txt")).unwrap(),
        "x"
    );
    assert!(!std::fs::symlink_metadata(snapshot.join("a.txt"))
        .unwrap()
        .is_symlink());
    assert!(
        !dir.join("blobs").join(e2.as_str()).exists(),
        "left over: removed"
    );
    if links {
        assert!(
            dir.join("blobs").join(e1.as_str()).is_file(),
            "copied, not moved"
        );
        let old_file = dir.join("snapshots").join(old.as_str()).join("old.txt");
        assert_eq!(std::fs::read_to_string(old_file).unwrap(), "x");
    } else {
        assert!(!dir.join("blobs").join(e1.as_str()).exists(), "moved");
    }
}

/// Past Windows' 260-character MAX_PATH: std adds the `\\?\` prefix
/// itself to long absolute paths, so both layouts work there (under Wine
/// too) without a manifest.
#[test]
fn paths_longer_than_max_path_are_placed() {
    let (_cache, dir, c0) = setup();
    let deep = format!(
        "{}/model.onnx",
        ["folder-of-forty-characters-in-its-name!"; 8].join("/")
    );
    let path = RepoFilePath::parse(&deep).unwrap();
    for (style, n) in [(SnapshotStyle::Files, '1'), (SnapshotStyle::Symlinks, '2')] {
        let etag = BlobName::parse(&n.to_string().repeat(40)).unwrap();
        std::fs::write(dir.join("blobs").join(etag.as_str()), "x").unwrap();
        let commit = CommitHash::parse(&n.to_string().repeat(40)).unwrap();
        if style == SnapshotStyle::Symlinks && !symlinks_supported(&dir) {
            continue;
        }
        let placed = place(style, &dir, &commit, &path, &etag, false).unwrap();
        assert!(placed.as_os_str().len() > 300, "{}", placed.display());
        assert_eq!(std::fs::read_to_string(&placed).unwrap(), "x");
    }
    let _ = c0;
}

#[test]
fn the_disabled_flag_wins_over_the_probe() {
    let cache = tempfile::tempdir().unwrap();
    assert_eq!(
        SnapshotStyle::for_cache(cache.path(), true),
        SnapshotStyle::Files
    );
    // The probe leaves nothing behind.
    let _ = symlinks_supported(cache.path());
    assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 0);
}

#[cfg(unix)]
#[test]
fn a_folder_with_symlinks_says_so() {
    let cache = tempfile::tempdir().unwrap();
    assert_eq!(
        SnapshotStyle::for_cache(cache.path(), false),
        SnapshotStyle::Symlinks
    );
}
