//! Property test: whatever ids and symlink layouts are thrown at delete and
//! prune, no file outside the cache changes.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use haid_models::cache::delete::{execute_delete, plan_delete};
use haid_models::cache::prune::{execute_prune, plan_prune};
use haid_models::cache::RepoId;
use haid_models_tests::fixture::{commit, symlink, weights, CacheFixture};
use proptest::prelude::*;

/// Ways a repo can point outside the cache.
#[derive(Debug, Clone, Copy)]
enum Trap {
    BlobsDirIsLink,
    BlobIsLink,
    SnapshotFileToOutside,
    SnapshotDirIsLink,
    RefIsLink,
    RepoDirIsLink,
    RelativeEscape,
    None,
}

fn trap() -> impl Strategy<Value = Trap> {
    prop_oneof![
        Just(Trap::BlobsDirIsLink),
        Just(Trap::BlobIsLink),
        Just(Trap::SnapshotFileToOutside),
        Just(Trap::SnapshotDirIsLink),
        Just(Trap::RefIsLink),
        Just(Trap::RepoDirIsLink),
        Just(Trap::RelativeEscape),
        Just(Trap::None),
    ]
}

fn hostile_id() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("../outside".to_owned()),
        Just("org/../../outside".to_owned()),
        Just("/etc/passwd".to_owned()),
        Just("~".to_owned()),
        Just("org\\..\\x".to_owned()),
        Just("org/m0".to_owned()),
        Just("org/m1".to_owned()),
        Just("org/m2".to_owned()),
        "[a-z./\\\\~ -]{0,10}(/[a-z.~]{0,6}){0,2}",
    ]
}

/// The outside world: files, a folder, a file named like a blob.
fn build_outside(dir: &Path) {
    fs::create_dir_all(dir.join("deep/er")).unwrap();
    fs::write(dir.join("secret.txt"), "do not touch").unwrap();
    fs::write(dir.join("deep/er/data.bin"), weights(9, 2000)).unwrap();
    fs::write(
        dir.join("0123456789012345678901234567890123456789"),
        "blob-like",
    )
    .unwrap();
    fs::write(dir.join("x.incomplete"), "partial-like").unwrap();
}

fn snapshot_of(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().to_owned();
            if e.file_type().unwrap().is_dir() {
                out.insert(rel, b"<dir>".to_vec());
                walk(base, &p, out);
            } else {
                out.insert(rel, fs::read(&p).unwrap());
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

fn build_repo(fx: &CacheFixture, outside: &Path, n: usize, trap: Trap) {
    let folder = format!("models--org--m{n}");
    let c = commit(&format!("r{n}"));
    if let Trap::RepoDirIsLink = trap {
        symlink(outside, &fx.cache.join(&folder));
        return;
    }
    let repo = fx.repo(&folder);
    repo.revision(
        &c,
        &[("config.json", b"{}"), ("w.bin", &weights(n as u8, 1500))],
    );
    repo.revision(
        &commit(&format!("old{n}")),
        &[("old.bin", &weights(7, 1200))],
    );
    repo.reference("main", &c);
    repo.incomplete("feedface", 10);
    match trap {
        Trap::BlobsDirIsLink => {
            let blobs = repo.path.join("blobs");
            fs::remove_dir_all(&blobs).unwrap();
            symlink(outside, &blobs);
        }
        Trap::BlobIsLink => symlink(&outside.join("secret.txt"), &repo.path.join("blobs/aaaa")),
        Trap::SnapshotFileToOutside => {
            repo.link(&c, "evil.bin", &outside.join("deep/er/data.bin"));
        }
        Trap::SnapshotDirIsLink => symlink(
            outside,
            &repo.path.join("snapshots").join(commit("linkrev")),
        ),
        Trap::RefIsLink => symlink(&outside.join("secret.txt"), &repo.path.join("refs/evil")),
        Trap::RelativeEscape => {
            repo.link(&c, "up.bin", Path::new("../../../../outside/secret.txt"));
        }
        Trap::RepoDirIsLink | Trap::None => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn nothing_outside_the_cache_ever_changes(
        traps in proptest::collection::vec(trap(), 1..4),
        ids in proptest::collection::vec(hostile_id(), 1..6),
        revision_prefixes in proptest::collection::vec("[0-9a-f]{4,8}", 0..3),
    ) {
        let fx = CacheFixture::new();
        let outside = fx.outside();
        build_outside(&outside);
        for (n, t) in traps.iter().enumerate() {
            build_repo(&fx, &outside, n, *t);
        }
        let before = snapshot_of(&outside);
        for id in &ids {
            // A bad id must be refused by the parser: it never becomes a path.
            let Ok(repo) = RepoId::model(id) else { continue };
            if let Ok(plan) = plan_delete(&fx.cache, &repo, &revision_prefixes) {
                let _ = execute_delete(&fx.cache, &plan);
            }
        }
        if let Ok(plan) = plan_prune(&fx.cache) {
            let _ = execute_prune(&fx.cache, &plan);
        }
        for t in 0..traps.len() {
            if let Ok(plan) = plan_delete(&fx.cache, &RepoId::model(&format!("org/m{t}")).unwrap(), &[]) {
                let _ = execute_delete(&fx.cache, &plan);
            }
        }
        prop_assert_eq!(snapshot_of(&outside), before);
        // And delete did its work inside: every repo, trapped or not, is gone.
        let left: Vec<String> = fs::read_dir(&fx.cache).unwrap().flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("models--") || n.starts_with(".trash-"))
            .collect();
        prop_assert!(left.is_empty(), "left in the cache: {:?}", left);
    }
}
