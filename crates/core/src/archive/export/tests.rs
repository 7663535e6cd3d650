//! The export's own writing of a file's bytes (`writing::append_checked`): the
//! archive reads back whole, with a GNU long name, a file large enough for
//! the second hashing thread, and small files around it; and a damaged
//! large file fails the export, leaving no archive.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::*;
use crate::archive::INDEX_PATH;
use crate::cache::RepoType;

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
/// Past `hashing_copy`'s threshold for a second thread, and not a whole
/// number of tar blocks (the padding is ours).
const BIG: usize = (9 << 20) + 77;

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 131 % 251) as u8).collect()
}

/// One file of the fixture's model.
struct Fixture {
    etag: String,
    bytes: Vec<u8>,
    /// Its snapshot path: a link to its blob, or where links cannot be
    /// made (Windows, Wine) a copy of it, as huggingface_hub writes there.
    snapshot: std::path::PathBuf,
}

/// A model with a big blob under a long path, and a small one, with the
/// commit's listing (which names each file's blob in either layout).
fn cache_with_model(cache: &Path) -> Vec<Fixture> {
    let repo = cache.join("models--acme--big");
    let deep = format!("{}/weights.bin", "a-long-folder-name".repeat(8));
    let mut files = Vec::new();
    let mut listing = std::collections::BTreeMap::new();
    for (path, bytes) in [
        (deep.as_str(), pattern(BIG)),
        ("config.json", b"{}".to_vec()),
    ] {
        let etag = hex::encode(Sha256::digest(&bytes));
        std::fs::create_dir_all(repo.join("blobs")).unwrap();
        std::fs::write(repo.join("blobs").join(&etag), &bytes).unwrap();
        let snapshot = repo.join("snapshots").join(COMMIT).join(path);
        std::fs::create_dir_all(snapshot.parent().unwrap()).unwrap();
        let up = "../".repeat(path.matches('/').count() + 2);
        crate::test_fs::symlink(format!("{up}blobs/{etag}"), &snapshot).unwrap();
        listing.insert(
            path.to_owned(),
            crate::cache::tree::TreeEntry {
                size: bytes.len() as u64,
                blob_id: "0".repeat(40),
                lfs_sha256: Some(etag.clone()),
                lfs_size: Some(bytes.len() as u64),
                xet_hash: None,
            },
        );
        files.push(Fixture {
            etag,
            bytes,
            snapshot,
        });
    }
    std::fs::create_dir_all(repo.join("trees")).unwrap();
    TreeListing::write(&repo.join("trees"), COMMIT, listing).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), COMMIT).unwrap();
    files
}

fn export_model(cache: &Path, out: &Path) -> Result<ExportReport> {
    let repo = RepoId::parse("acme/big", RepoType::Model).unwrap();
    let plan = plan_export(cache, &[(repo, None)])?;
    export(&plan, out, &|_| {})
}

#[test]
fn a_big_file_and_a_long_path_read_back_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("hub");
    let files = cache_with_model(&cache);
    let out = tmp.path().join("out.tar");
    let report = export_model(&cache, &out).unwrap();
    assert_eq!(report.models[0].bytes, (BIG + 2) as u64);
    assert_eq!(std::fs::metadata(&out).unwrap().len() % 512, 0);

    let mut archive = tar::Archive::new(File::open(&out).unwrap());
    let mut seen = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        if let Some(file) = files.iter().find(|f| path.ends_with(f.etag.as_str())) {
            assert_eq!(bytes, file.bytes, "{path}");
        }
        seen.push(path);
    }
    assert_eq!(seen[0], INDEX_PATH);
    assert!(
        seen.iter()
            .any(|p| p.ends_with("a-long-folder-name/weights.bin")),
        "the GNU long name reads back: {seen:?}"
    );
    assert_eq!(
        seen.iter().filter(|p| p.contains("/blobs/")).count(),
        2,
        "{seen:?}"
    );
}

#[test]
fn a_damaged_big_file_fails_the_export_and_leaves_no_archive() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("hub");
    let files = cache_with_model(&cache);
    // Through the snapshot path: the blob, or in the no-symlink layout the
    // copy the export reads.
    let mut bytes = files[0].bytes.clone();
    bytes[BIG / 2] ^= 1;
    std::fs::write(&files[0].snapshot, bytes).unwrap();
    let out = tmp.path().join("out.tar");
    let err = export_model(&cache, &out).unwrap_err();
    assert!(
        matches!(&err, Error::Damaged { reason, .. } if reason.contains("nothing was exported")),
        "{err}"
    );
    assert!(!out.exists() && !tmp.path().join("out.tar.partial").exists());
}

#[test]
fn a_file_that_shrank_after_the_plan_fails_the_export() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("hub");
    let files = cache_with_model(&cache);
    let repo = RepoId::parse("acme/big", RepoType::Model).unwrap();
    let plan = plan_export(&cache, &[(repo, None)]).unwrap();
    std::fs::write(&files[0].snapshot, &files[0].bytes[..BIG - 1000]).unwrap();
    let out = tmp.path().join("out.tar");
    let err = export(&plan, &out, &|_| {}).unwrap_err();
    assert!(err.to_string().contains("became shorter"), "{err}");
    assert!(!out.exists());
}
