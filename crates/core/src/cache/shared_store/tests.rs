//! The store's rules on caches laid out by hand here; the same rules against
//! caches that huggingface_hub 2.5 itself wrote are in `tests/tests/shared_store.rs`.
#![cfg(unix)]

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use super::*;
use crate::cache::shared_store::publish::ensure_store;

const ETAG: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

fn hash(c: char) -> XetHash {
    XetHash::parse(&c.to_string().repeat(64)).unwrap()
}

/// A repo blob holding `bytes`, as a finished download leaves it.
fn repo_blob(cache: &Path, repo: &str, bytes: &[u8]) -> PathBuf {
    let dir = cache.join(repo).join("blobs");
    fs::create_dir_all(&dir).unwrap();
    let blob = dir.join(ETAG);
    fs::write(&blob, bytes).unwrap();
    blob
}

/// Where a second repo's blob of the same file goes (its `blobs/` made).
fn second_blob(cache: &Path) -> PathBuf {
    let blob = cache.join("models--c--d/blobs").join(ETAG);
    fs::create_dir_all(blob.parent().unwrap()).unwrap();
    blob
}

/// `hello` published from `models--a--b`, then linked from `models--c--d`:
/// the two sharers' blobs.
fn two_sharers(cache: &Path, h: &XetHash) -> (PathBuf, PathBuf) {
    let first = repo_blob(cache, "models--a--b", b"hello");
    publish(cache, &first, h, 5).unwrap();
    let second = second_blob(cache);
    assert!(try_link(cache, &second, h, 5, |_| true));
    (first, second)
}

fn cache() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dunce::canonicalize(dir.path()).unwrap();
    (dir, root)
}

#[test]
fn an_unmarked_or_foreign_blobs_folder_is_never_adopted() {
    let (_t, root) = cache();
    fs::create_dir(root.join("blobs")).unwrap();
    fs::write(root.join("blobs/notes.txt"), "mine").unwrap();
    assert!(SharedStore::open(&root).is_none());
    assert!(
        ensure_store(&root).is_none(),
        "a folder with other files is not ours"
    );
    let blob = repo_blob(&root, "models--a--b", b"hello");
    assert_eq!(publish(&root, &blob, &hash('a'), 5).unwrap(), None);
    assert!(
        fs::symlink_metadata(&blob).unwrap().is_file(),
        "the download stays a file"
    );
    assert_eq!(
        fs::read_to_string(root.join("blobs/notes.txt")).unwrap(),
        "mine"
    );

    fs::write(root.join("blobs").join(MARKER), "2\n").unwrap();
    assert!(
        SharedStore::open(&root).is_none(),
        "an unknown layout is not read"
    );
}

#[test]
fn publish_link_and_collect_follow_the_references() {
    let (_t, root) = cache();
    let h = hash('a');
    let first = repo_blob(&root, "models--a--b", b"hello");
    assert_eq!(
        publish(&root, &first, &h, 5).unwrap(),
        Some(Published::Moved)
    );
    let store = SharedStore::open(&root).expect("publishing marks the store");
    assert_eq!(
        fs::read_link(&first).unwrap(),
        Path::new("../../blobs/aa").join(h.as_str())
    );
    let payload = store.payload(&h).unwrap();
    assert_eq!(fs::read(&payload.path).unwrap(), b"hello");
    assert_eq!(
        fs::metadata(&payload.path).unwrap().permissions().mode() & 0o222,
        0
    );

    // A second repo reuses it, after the caller's check of the bytes.
    let second = second_blob(&root);
    assert!(
        !try_link(&root, &second, &h, 4, |_| true),
        "a size that differs is no match"
    );
    assert!(
        !try_link(&root, &second, &h, 5, |_| false),
        "a failed check is no match"
    );
    assert!(try_link(&root, &second, &h, 5, |_| true));
    let both: BTreeSet<PathBuf> = [first.clone(), second.clone()].into();
    assert_eq!(store.references(&h).unwrap(), both);
    assert_eq!(store.expected_freed(&h, &[first.clone()].into()), 0);
    assert_eq!(store.expected_freed(&h, &both), 5);

    fs::remove_file(&first).unwrap();
    assert_eq!(store.sweep(&h), 0, "still referenced by the second repo");
    assert_eq!(
        fs::read_to_string(store.refs_path(&h)).unwrap(),
        format!("models--c--d/blobs/{ETAG}\n"),
        "the list is rewritten to the references left"
    );
    fs::remove_file(&second).unwrap();
    assert_eq!(store.sweep(&h), 5);
    assert!(store.payload(&h).is_none());
    assert!(!store.refs_path(&h).exists());
}

#[test]
fn hostile_reference_lines_count_for_nothing_and_reach_nothing() {
    let (_t, root) = cache();
    let outside = root.join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("x"), "keep").unwrap();
    let h = hash('b');
    let blob = repo_blob(&root, "models--a--b", b"hello");
    publish(&root, &blob, &h, 5).unwrap();
    let store = SharedStore::open(&root).unwrap();
    // A second payload, and a repo blob that links to it, not to `h`.
    let other = repo_blob(&root, "models--e--f", b"other");
    publish(&root, &other, &hash('c'), 5).unwrap();
    let hostile = [
        "../../outside/x".to_owned(),
        "/etc/passwd".to_owned(),
        "models--a--b/blobs/../../outside/x".to_owned(),
        "outside/x".to_owned(),
        "models--e--f/blobs/".to_owned(),
        format!("models--e--f/blobs/{ETAG}"),
        format!("not-a-repo/blobs/{ETAG}"),
    ]
    .join("\n");
    fs::write(store.refs_path(&h), hostile + "\n").unwrap();
    assert_eq!(store.references(&h).unwrap(), BTreeSet::new());
    fs::remove_file(&blob).unwrap();
    assert_eq!(store.unreferenced().len(), 1);
    assert_eq!(
        store.sweep(&h),
        5,
        "no valid reference: collected, as 2.5 does"
    );
    assert_eq!(fs::read_to_string(outside.join("x")).unwrap(), "keep");
    assert!(
        store.payload(&hash('c')).is_some(),
        "the other payload is untouched"
    );
}

#[test]
fn a_missing_or_unreadable_list_keeps_the_payload() {
    let (_t, root) = cache();
    let h = hash('d');
    let blob = repo_blob(&root, "models--a--b", b"hello");
    publish(&root, &blob, &h, 5).unwrap();
    let store = SharedStore::open(&root).unwrap();
    fs::remove_file(&blob).unwrap();
    fs::remove_file(store.refs_path(&h)).unwrap();
    assert_eq!(store.references(&h), None);
    assert!(store.unreferenced().is_empty());
    assert_eq!(store.expected_freed(&h, &[blob.clone()].into()), 0);
    assert_eq!(store.sweep(&h), 0);
    assert!(store.payload(&h).is_some(), "leaked, never deleted");
}

#[test]
fn only_exact_links_into_the_store_are_followed() {
    let (_t, root) = cache();
    let h = hash('e');
    let blob = repo_blob(&root, "models--a--b", b"hello");
    publish(&root, &blob, &h, 5).unwrap();
    let store = SharedStore::open(&root).unwrap();
    let dir = root.join("models--a--b/blobs");
    let cases = [
        ("wrong-prefix", format!("../../blobs/ab/{}", h.as_str())),
        ("outside", "../../../etc/passwd".to_owned()),
        ("deeper", format!("../../blobs/ee/x/{}", h.as_str())),
        ("short", "../../blobs/ee/eeee".to_owned()),
    ];
    for (name, target) in cases {
        let link = dir.join(name);
        symlink(&target, &link).unwrap();
        assert_eq!(store.link_target(&link), None, "{name} → {target}");
    }
    // The same link, but not in a repo's blobs/, is no repo blob.
    let stray = root.join("models--a--b/snapshots");
    fs::create_dir_all(&stray).unwrap();
    symlink(format!("../blobs/ee/{}", h.as_str()), stray.join("x")).unwrap();
    assert_eq!(store.link_target(&stray.join("x")), None);
    assert_eq!(store.link_target(&blob), Some(h));
}

#[test]
fn a_planted_lock_link_makes_no_file_outside() {
    let (_t, root) = cache();
    let h = hash('f');
    let blob = repo_blob(&root, "models--a--b", b"hello");
    let store = ensure_store(&root).unwrap();
    fs::create_dir(store.dir().join("ff")).unwrap();
    let planted = root.join("planted");
    symlink(&planted, store.lock_path(&h)).unwrap();
    assert!(store.lock(&h).is_err());
    assert_eq!(publish(&root, &blob, &h, 5).unwrap(), None);
    assert!(!planted.exists(), "nothing created through the link");
    assert!(fs::symlink_metadata(&blob).unwrap().is_file());
}

/// Whether `blob` holds `bytes`: a regular file, or a managed link whose
/// payload is there, listed in `.refs`, and holds them.
fn holds(store: &SharedStore, blob: &Path, bytes: &[u8]) -> bool {
    match store.link_target(blob) {
        Some(h) => {
            let listed = fs::read_to_string(store.refs_path(&h)).is_ok_and(|t| {
                t.lines()
                    .any(|l| Some(l) == store.repo_blob_name(blob).as_deref())
            });
            listed && fs::read(store.payload_path(&h)).is_ok_and(|b| b == bytes)
        }
        None => {
            fs::symlink_metadata(blob).is_ok_and(|m| m.is_file())
                && fs::read(blob).is_ok_and(|b| b == bytes)
        }
    }
}

/// Runs `f` with this thread's store steps armed to panic after the `k`-th,
/// as a kill there would stop it; whether the kill happened.
fn killed_at(k: usize, f: impl FnOnce()) -> bool {
    crash::in_tests::arm(k);
    let killed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err();
    crash::in_tests::arm(0);
    killed
}

/// After a kill: no link to a missing payload, and the bytes are either the
/// blob's or, when only the final rename is missing, the payload's (which
/// prune then links, so nothing is downloaded again).
fn after_a_kill(root: &Path, blob: &Path, bytes: &[u8]) {
    let store = SharedStore::open(root);
    if let Some(store) = &store {
        if let Some(h) = store.link_target(blob) {
            assert!(store.payload(&h).is_some(), "a link to a missing payload");
        }
    }
    if fs::symlink_metadata(blob).is_ok() {
        let plain = fs::read(blob).is_ok_and(|b| b == bytes);
        assert!(store.as_ref().map_or(plain, |s| holds(s, blob, bytes)));
        return;
    }
    let store = store.expect("the bytes went to the store");
    let cut = store.interrupted_in(blob.parent().unwrap());
    assert_eq!(
        cut.len(),
        1,
        "the blob is gone, so its publish must be finishable"
    );
    store.finish(&cut[0]).unwrap();
    assert!(holds(&store, blob, bytes));
}

#[test]
fn a_kill_at_any_step_of_a_publish_loses_nothing() {
    let mut k = 1;
    loop {
        let (_t, root) = cache();
        let blob = repo_blob(&root, "models--a--b", b"hello");
        let killed = killed_at(k, || {
            publish(&root, &blob, &hash('a'), 5).unwrap();
        });
        after_a_kill(&root, &blob, b"hello");
        if !killed {
            assert!(
                k > 3,
                "a publish has four steps, it stopped after {}",
                k - 1
            );
            break;
        }
        k += 1;
    }
}

#[test]
fn a_kill_at_any_step_of_a_link_loses_nothing() {
    let mut k = 1;
    loop {
        let (_t, root) = cache();
        let first = repo_blob(&root, "models--a--b", b"hello");
        publish(&root, &first, &hash('a'), 5).unwrap();
        let second = second_blob(&root);
        let killed = killed_at(k, || {
            try_link(&root, &second, &hash('a'), 5, |_| true);
        });
        let store = SharedStore::open(&root).unwrap();
        assert!(
            holds(&store, &first, b"hello"),
            "the first sharer is untouched"
        );
        if fs::symlink_metadata(&second).is_ok() {
            assert!(holds(&store, &second, b"hello"));
        }
        if !killed {
            assert!(k > 2, "a link has three steps");
            assert!(holds(&store, &second, b"hello"));
            break;
        }
        k += 1;
    }
}

#[test]
fn a_kill_at_any_step_of_a_collection_keeps_what_is_referenced() {
    for last in [false, true] {
        let mut k = 1;
        loop {
            let (_t, root) = cache();
            let h = hash('a');
            let (first, second) = two_sharers(&root, &h);
            let store = SharedStore::open(&root).unwrap();
            fs::remove_file(&first).unwrap();
            if last {
                fs::remove_file(&second).unwrap();
            }
            let killed = killed_at(k, || {
                store.sweep(&h);
            });
            if !last {
                assert!(holds(&store, &second, b"hello"), "kill at {k}");
            }
            // No valid reference ever names a missing payload.
            if store.payload(&h).is_none() {
                assert!(store.references(&h).is_none_or(|r| r.is_empty()));
            }
            if !killed {
                break;
            }
            k += 1;
        }
    }
}

#[test]
fn a_change_in_the_store_names_the_repos_that_share_the_payload() {
    let (_t, root) = cache();
    let h = hash('a');
    two_sharers(&root, &h);
    let store = SharedStore::open(&root).unwrap();
    let ids = |p: &Path| {
        store
            .sharers_of(p)
            .iter()
            .map(|r| r.id())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&store.payload_path(&h)), ["a/b", "c/d"]);
    assert_eq!(ids(&store.refs_path(&h)), ["a/b", "c/d"]);
    assert!(
        ids(&store.dir().join("ab").join(h.as_str())).is_empty(),
        "not its prefix"
    );
    assert!(ids(&store.dir().join(MARKER)).is_empty());
    assert!(ids(&root.join("elsewhere")).is_empty());
}
