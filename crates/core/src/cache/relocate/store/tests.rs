//! The store in a move: payloads checked against the etag of a repo blob
//! linking to them and kept read-only, locks left, `.refs` merged.
#![cfg(unix)] // the store is symlinks

use std::os::unix::fs::{symlink, PermissionsExt};

use super::*;
use crate::cache::blob_hash::BlobHasher;
use crate::cache::relocate::plain::PlainLayout;
use crate::cache::relocate::MoveMethod;
use crate::cache::shared_store::{publish, MARKER};

fn sha(bytes: &[u8]) -> String {
    let mut h = BlobHasher::new(BlobHashKind::Sha256, bytes.len() as u64);
    h.update(bytes);
    h.finish_hex()
}

/// A made-up Xet hash: our code never computes one, it only names files.
fn xet(seed: char) -> XetHash {
    XetHash::parse(&seed.to_string().repeat(64)).unwrap()
}

/// `models--o--<repo>/blobs/<sha>` holding `bytes`, published as `hash`.
fn shared_blob(cache: &Path, repo: &str, bytes: &[u8], hash: &XetHash) -> PathBuf {
    let blob = cache
        .join(format!("models--o--{repo}/blobs"))
        .join(sha(bytes));
    fs::create_dir_all(blob.parent().unwrap()).unwrap();
    fs::write(&blob, bytes).unwrap();
    let size = bytes.len() as u64;
    assert!(publish(cache, &blob, hash, size).unwrap().is_some());
    blob
}

fn placer<'a>(from: &'a Path, to: &'a Path, on: &'a mut dyn FnMut(u64)) -> Placer<'a> {
    Placer {
        from,
        to,
        method: MoveMethod::Copy,
        plain: false,
        on_bytes: on,
        copied: 0,
    }
}

#[test]
fn the_store_goes_checked_and_read_only_and_its_locks_are_not_copied() {
    let tmp = tempfile::tempdir().unwrap();
    let (from, to) = (tmp.path().join("a"), tmp.path().join("b"));
    let hash = xet('a');
    shared_blob(&from, "m", b"weights", &hash);
    let store = SharedStore::open(&from).unwrap();
    assert!(store.lock_path(&hash).is_file(), "publishing took the lock");
    // A payload no repo links to: copied with its length checked.
    let lone = xet('b');
    fs::create_dir_all(store.payload_path(&lone).parent().unwrap()).unwrap();
    fs::write(store.payload_path(&lone), b"lonely").unwrap();

    let mut on = |_| {};
    let mut p = placer(&from, &to, &mut on);
    p.place("models--o--m").unwrap();
    p.place(STORE_DIR).unwrap();
    assert_eq!(p.copied, 7 + 6 + 2, "the payloads and the marker");
    let dest = SharedStore::open(&to).expect("DEST's store is marked");
    assert_eq!(fs::read(dest.dir().join(MARKER)).unwrap(), b"1\n");
    let payload = dest.linked_payload(&to.join("models--o--m/blobs").join(sha(b"weights")));
    let payload = payload.expect("the repo blob links into DEST's store");
    assert_eq!(fs::read(&payload.path).unwrap(), b"weights");
    let mode = fs::metadata(&payload.path).unwrap().permissions().mode();
    assert_eq!(mode & 0o222, 0, "read-only as 2.5 keeps it: {mode:o}");
    assert_eq!(fs::read(dest.payload_path(&lone)).unwrap(), b"lonely");
    let lock = Path::new("aa").join(format!("{}.lock", hash.as_str()));
    assert!(!moves(STORE_DIR, &lock), "a lock belongs to its place");
    assert!(moves("models--o--m", Path::new("blobs/x.lock")));
    let refs = dest.references(&hash).unwrap();
    assert_eq!(refs.len(), 1, "{refs:?}");

    // A rerun places nothing again.
    p.place(STORE_DIR).unwrap();
    assert_eq!(p.copied, 15);
}

#[test]
fn a_payload_that_does_not_match_the_blob_linking_to_it_stops_the_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let (from, to) = (tmp.path().join("a"), tmp.path().join("b"));
    let hash = xet('c');
    shared_blob(&from, "m", b"weights", &hash);
    let payload = SharedStore::open(&from).unwrap().payload_path(&hash);
    fs::set_permissions(&payload, fs::Permissions::from_mode(0o600)).unwrap();
    fs::write(&payload, b"WEIGHTS").unwrap();
    let mut on = |_| {};
    let err = placer(&from, &to, &mut on).place(STORE_DIR).unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::Checksum, "{err}");
    let dest = SharedStore::open(&to).unwrap();
    assert!(!dest.payload_path(&hash).exists());
}

#[test]
fn into_a_store_that_has_the_payload_the_refs_are_merged_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (from, to) = (tmp.path().join("a"), tmp.path().join("b"));
    let hash = xet('d');
    shared_blob(&from, "m", b"weights", &hash);
    shared_blob(&to, "n", b"weights", &hash);
    let mut on = |_| {};
    let mut p = placer(&from, &to, &mut on);
    p.place("models--o--m").unwrap();
    p.place(STORE_DIR).unwrap();
    p.place(STORE_DIR).unwrap();
    assert_eq!(p.copied, 0, "DEST had the payload");
    let dest = SharedStore::open(&to).unwrap();
    let text = fs::read_to_string(dest.refs_path(&hash)).unwrap();
    let etag = sha(b"weights");
    assert_eq!(
        text,
        format!("models--o--n/blobs/{etag}\nmodels--o--m/blobs/{etag}\n")
    );
    assert_eq!(dest.references(&hash).unwrap().len(), 2);
}

#[test]
fn without_symlinks_a_shared_blob_is_its_payload_s_bytes_and_the_store_stays() {
    let tmp = tempfile::tempdir().unwrap();
    let (from, to) = (tmp.path().join("a"), tmp.path().join("b"));
    let hash = xet('e');
    let blob = shared_blob(&from, "m", b"weights", &hash);
    let snap = from.join("models--o--m/snapshots/c");
    fs::create_dir_all(&snap).unwrap();
    symlink(
        format!("../../blobs/{}", sha(b"weights")),
        snap.join("model.bin"),
    )
    .unwrap();
    let walked = entries::walk(&from.join("models--o--m")).unwrap();
    let layout = PlainLayout::of(&from.join("models--o--m"), &walked);
    let linked = &layout.links[Path::new("snapshots/c/model.bin")];
    assert_eq!(
        linked.source,
        SharedStore::open(&from).unwrap().payload_path(&hash)
    );
    assert!(layout.is_linked_blob(&blob));

    let mut on = |_| {};
    let mut p = placer(&from, &to, &mut on);
    p.plain = true;
    p.place("models--o--m").unwrap();
    p.place(STORE_DIR).unwrap();
    let file = to.join("models--o--m/snapshots/c/model.bin");
    assert!(fs::symlink_metadata(&file).unwrap().is_file());
    assert_eq!(fs::read(&file).unwrap(), b"weights");
    assert!(!to.join(STORE_DIR).exists(), "no store without symlinks");
    assert!(!to.join("models--o--m/blobs").join(sha(b"weights")).exists());
}
