//! Placing files at DEST: checked copies, times kept, links made again,
//! and without symlinks each link a checked copy of its blob.

use super::*;

/// A placer from `from` to `to` that has copied nothing yet.
fn new_placer<'a>(
    from: &'a Path,
    to: &'a Path,
    method: MoveMethod,
    plain: bool,
    on_bytes: &'a mut dyn FnMut(u64),
) -> Placer<'a> {
    Placer {
        from,
        to,
        method,
        plain,
        on_bytes,
        copied: 0,
    }
}

fn sha(bytes: &[u8]) -> String {
    let mut h = BlobHasher::new(BlobHashKind::Sha256, bytes.len() as u64);
    h.update(bytes);
    h.finish_hex()
}

#[test]
fn a_blob_that_does_not_match_its_name_is_not_placed_and_nothing_is_left() {
    let tmp = tempfile::tempdir().unwrap();
    let (from, to) = (tmp.path().join("a"), tmp.path().join("b"));
    let wrong = "0".repeat(64);
    fs::create_dir_all(from.join("models--o--m/blobs")).unwrap();
    fs::write(from.join("models--o--m/blobs").join(&wrong), b"hello").unwrap();
    let mut bytes = 0;
    let mut on = |n| bytes += n;
    let mut placer = new_placer(&from, &to, MoveMethod::Copy, false, &mut on);
    let err = placer.place("models--o--m").unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::Checksum, "{err}");
    let left: Vec<_> = fs::read_dir(to.join("models--o--m/blobs"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_copy_keeps_the_access_time_and_skips_what_the_new_cache_has() {
    let tmp = tempfile::tempdir().unwrap();
    let (from, to) = (tmp.path().join("a"), tmp.path().join("b"));
    let name = sha(b"hello");
    let blob = from.join("models--o--m/blobs").join(&name);
    fs::create_dir_all(blob.parent().unwrap()).unwrap();
    fs::write(&blob, b"hello").unwrap();
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
    File::options()
        .write(true)
        .open(&blob)
        .unwrap()
        .set_times(fs::FileTimes::new().set_accessed(old).set_modified(old))
        .unwrap();
    let mut on = |_| {};
    let mut placer = new_placer(&from, &to, MoveMethod::Copy, false, &mut on);
    placer.place("models--o--m").unwrap();
    placer.place("models--o--m").unwrap();
    assert_eq!(placer.copied, 5, "the second pass copied nothing");
    let placed = to.join("models--o--m/blobs").join(&name);
    // Before the read below, which moves the access time on.
    assert_eq!(fs::metadata(&placed).unwrap().accessed().unwrap(), old);
    assert_eq!(fs::read(&placed).unwrap(), b"hello");
}

#[cfg(unix)]
#[test]
fn links_are_made_again_and_an_absolute_one_into_the_old_cache_follows_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (from, to) = (tmp.path().join("a"), tmp.path().join("b"));
    let snap = from.join("models--o--m/snapshots/c");
    fs::create_dir_all(&snap).unwrap();
    std::os::unix::fs::symlink("../../blobs/x", snap.join("rel")).unwrap();
    std::os::unix::fs::symlink(from.join("models--o--m/blobs/x"), snap.join("abs")).unwrap();
    let mut on = |_| {};
    new_placer(&from, &to, MoveMethod::Rename, false, &mut on)
        .place("models--o--m")
        .unwrap();
    let new_snap = to.join("models--o--m/snapshots/c");
    assert_eq!(
        fs::read_link(new_snap.join("rel")).unwrap(),
        Path::new("../../blobs/x")
    );
    assert_eq!(
        fs::read_link(new_snap.join("abs")).unwrap(),
        to.join("models--o--m/blobs/x")
    );
}

#[cfg(unix)]
#[test]
fn without_symlinks_each_link_is_a_checked_copy_and_blobs_keeps_only_the_unlinked() {
    let tmp = tempfile::tempdir().unwrap();
    let (from, to) = (tmp.path().join("a"), tmp.path().join("b"));
    let repo = from.join("models--o--m");
    let name = sha(b"hello");
    let orphan = sha(b"orphan");
    fs::create_dir_all(repo.join("blobs")).unwrap();
    fs::create_dir_all(repo.join("snapshots/c/sub")).unwrap();
    fs::write(repo.join("blobs").join(&name), b"hello").unwrap();
    fs::write(repo.join("blobs").join(&orphan), b"orphan").unwrap();
    let link = |target: String, at: &str| {
        std::os::unix::fs::symlink(target, repo.join("snapshots/c").join(at)).unwrap()
    };
    link(format!("../../blobs/{name}"), "a.bin");
    link(format!("../../../blobs/{name}"), "sub/shared.bin");
    let mut bytes = 0;
    let mut on = |n| bytes += n;
    let mut placer = new_placer(&from, &to, MoveMethod::Copy, true, &mut on);
    placer.place("models--o--m").unwrap();
    let new_snap = to.join("models--o--m/snapshots/c");
    for file in ["a.bin", "sub/shared.bin"] {
        let meta = fs::symlink_metadata(new_snap.join(file)).unwrap();
        assert!(meta.is_file(), "{file} is a plain file");
        assert_eq!(fs::read(new_snap.join(file)).unwrap(), b"hello");
    }
    let blobs: Vec<_> = fs::read_dir(to.join("models--o--m/blobs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(blobs, [orphan], "only the blob no snapshot holds");
    assert_eq!(placer.copied, 5 + 5 + 6);
    placer.place("models--o--m").unwrap();
    assert_eq!(placer.copied, 16, "a rerun copies nothing more");
    assert_eq!(bytes, 32, "each pass tells every byte it placed");

    // A blob that does not match its name gives no snapshot file.
    fs::remove_dir_all(&to).unwrap();
    fs::write(repo.join("blobs").join(&name), b"HELLO").unwrap();
    let mut on = |_| {};
    let err = new_placer(&from, &to, MoveMethod::Copy, true, &mut on)
        .place("models--o--m")
        .unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::Checksum, "{err}");
    assert!(!new_snap.join("a.bin").exists());
}
