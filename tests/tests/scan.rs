//! The cache scan against fixtures built file by file.

use std::fs;

use haid_models::cache::{scan_cache, scan_repo, CacheReport, CachedRepo, RepoId, RepoState};
use haid_models_tests::fixture::{commit, etag, weights, CacheFixture};

fn repo<'a>(report: &'a CacheReport, id: &str) -> &'a CachedRepo {
    report
        .repos
        .iter()
        .find(|r| r.repo.id() == id)
        .unwrap_or_else(|| panic!("{id} not in scan: {report:#?}"))
}

fn warned(report: &CacheReport, needle: &str) -> bool {
    report.warnings.iter().any(|w| w.message.contains(needle))
}

#[test]
fn revisions_share_blobs_and_each_blob_counts_once() {
    let fx = CacheFixture::new();
    let (a, b) = (commit("a"), commit("b"));
    let config = b"{\"hidden\": 1024}".to_vec();
    let w1 = weights(1, 5000);
    let w2 = weights(2, 7000);
    fx.repo("models--org--model")
        .revision(&a, &[("config.json", &config), ("model.safetensors", &w1)])
        .revision(
            &b,
            &[
                ("config.json", &config),
                ("model.safetensors", &w2),
                ("sub/dir/tok.json", &config),
            ],
        )
        .reference("main", &b);

    let report = scan_cache(&fx.cache).unwrap();
    let r = repo(&report, "org/model");
    assert_eq!(r.state, RepoState::Complete);
    assert_eq!(r.nb_files, 3, "config, w1, w2: one blob each");
    assert_eq!(r.size_on_disk, (config.len() + 5000 + 7000) as u64);
    assert_eq!(report.size_on_disk, r.size_on_disk);
    assert_eq!(r.refs.get("main"), Some(&b));
    let rev_b = r.revisions.iter().find(|x| x.commit_hash == b).unwrap();
    assert_eq!(rev_b.nb_files, 3, "three snapshot files");
    assert_eq!(
        rev_b.size_on_disk,
        (config.len() + 7000) as u64,
        "tok.json shares config's blob"
    );
    assert_eq!(rev_b.refs, ["main"]);
    let rev_a = r.revisions.iter().find(|x| x.commit_hash == a).unwrap();
    assert!(rev_a.refs.is_empty(), "detached revision has no refs");
    assert_eq!(rev_a.size_on_disk, (config.len() + 5000) as u64);
    assert_eq!(r.current_revision().unwrap().commit_hash, b);
}

#[test]
fn incomplete_blobs_make_a_repo_partial() {
    let fx = CacheFixture::new();
    let c = commit("c");
    fx.repo("models--org--m")
        .revision(&c, &[("config.json", b"{}")])
        .reference("main", &c)
        .incomplete(&etag(&weights(3, 4000)), 1234);
    let report = scan_cache(&fx.cache).unwrap();
    let r = repo(&report, "org/m");
    assert_eq!(r.state, RepoState::Partial);
    assert_eq!(r.incomplete_size_on_disk, 1234);
    assert_eq!(report.incomplete_size_on_disk, 1234);
    assert_eq!(r.size_on_disk, 2, "unfinished bytes are not finished blobs");
    assert_eq!(r.total_size_on_disk(), 1236);
}

#[test]
fn a_download_that_has_not_placed_a_file_is_partial_not_corrupt() {
    let fx = CacheFixture::new();
    let c = commit("first");
    // huggingface_hub writes the ref before the first file lands.
    fx.repo("models--org--new")
        .reference("main", &c)
        .incomplete("abc", 10);
    // Our downloader writes the listing first too.
    fx.repo("models--org--listed")
        .reference("main", &c)
        .tree(&c, &[("config.json", b"{}")]);
    let report = scan_cache(&fx.cache).unwrap();
    assert_eq!(repo(&report, "org/new").state, RepoState::Partial);
    assert_eq!(repo(&report, "org/listed").state, RepoState::Partial);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
}

#[test]
fn tree_listing_tells_complete_from_partial() {
    let fx = CacheFixture::new();
    let c = commit("t");
    let files: &[(&str, &[u8])] = &[("config.json", b"{}"), ("model.bin", &[1u8; 2000])];
    fx.repo("models--org--full")
        .revision(&c, files)
        .reference("main", &c)
        .tree(&c, files);
    fx.repo("models--org--half")
        .revision(&c, &files[..1])
        .reference("main", &c)
        .tree(&c, files);
    let report = scan_cache(&fx.cache).unwrap();
    assert_eq!(repo(&report, "org/full").state, RepoState::Complete);
    let half = repo(&report, "org/half");
    assert_eq!(half.state, RepoState::Partial);
    assert_eq!(half.revisions[0].nb_missing_files, 1);
}

#[test]
fn datasets_and_spaces_are_listed_with_their_type() {
    let fx = CacheFixture::new();
    let c = commit("d");
    fx.repo("datasets--nyu-mll--glue")
        .revision(&c, &[("a.csv", b"x,y")])
        .reference("main", &c);
    fx.repo("spaces--me--app")
        .revision(&c, &[("app.py", b"print()")])
        .reference("main", &c);
    fx.repo("models--gpt2")
        .revision(&c, &[("config.json", b"{}")])
        .reference("main", &c);
    let report = scan_cache(&fx.cache).unwrap();
    let kinds: Vec<(String, String)> = report
        .repos
        .iter()
        .map(|r| (r.repo.repo_type().to_string(), r.repo.id()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("model".into(), "gpt2".into()),
            ("dataset".into(), "nyu-mll/glue".into()),
            ("space".into(), "me/app".into())
        ]
    );
}

#[test]
fn broken_repos_are_listed_as_corrupt_with_a_warning() {
    let fx = CacheFixture::new();
    let c = commit("x");
    fx.repo("models--org--dangling")
        .revision(&c, &[("config.json", b"{}")])
        .dangling(&c, "model.bin")
        .reference("main", &c);
    fx.repo("models--org--nosnap");
    fx.repo("models--org--badref")
        .revision(&c, &[("config.json", b"{}")])
        .reference("main", &c)
        .reference("v2", &commit("missing"));
    let report = scan_cache(&fx.cache).unwrap();
    for id in ["org/dangling", "org/nosnap", "org/badref"] {
        assert_eq!(repo(&report, id).state, RepoState::Corrupt, "{id}");
    }
    assert!(warned(&report, "dangling pointer"));
    assert!(warned(&report, "snapshots folder is missing"));
    assert!(warned(&report, "ref \"v2\" points to commit"));
    assert_eq!(
        repo(&report, "org/dangling").size_on_disk,
        2,
        "what exists still counts"
    );
}

#[test]
fn litter_is_a_warning_not_an_error() {
    let fx = CacheFixture::new();
    let c = commit("ok");
    fx.repo("models--org--ok")
        .revision(&c, &[("config.json", b"{}")])
        .reference("main", &c);
    fs::create_dir_all(fx.cache.join(".locks/models--org--ok")).unwrap();
    fs::write(fx.cache.join(".locks/models--org--ok/x.lock"), "").unwrap();
    fs::write(
        fx.cache.join("CACHEDIR.TAG"),
        "Signature: 8a477f597d28d172789f06886806bc55",
    )
    .unwrap();
    fs::write(fx.cache.join(".DS_Store"), "").unwrap();
    fs::write(fx.cache.join("notes.txt"), "mine").unwrap();
    fs::create_dir_all(fx.cache.join("my-old-models")).unwrap();
    fs::create_dir_all(fx.cache.join("models--a--b--c")).unwrap();

    let report = scan_cache(&fx.cache).unwrap();
    assert_eq!(report.repos.len(), 1);
    assert_eq!(repo(&report, "org/ok").state, RepoState::Complete);
    let paths: Vec<String> = report
        .warnings
        .iter()
        .map(|w| w.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(paths, ["models--a--b--c", "my-old-models", "notes.txt"]);
    assert!(warned(&report, "stray file"));
    assert!(warned(&report, "not a cache repo folder"));
}

#[test]
fn symlinks_out_of_the_cache_are_not_followed() {
    let fx = CacheFixture::new();
    let outside = fx.outside();
    fs::write(outside.join("secret.bin"), vec![0u8; 9999]).unwrap();
    let c = commit("o");
    fx.repo("models--org--escape")
        .revision(&c, &[("config.json", b"{}")])
        .link(&c, "weights.bin", &outside.join("secret.bin"))
        .link(
            &c,
            "rel.bin",
            std::path::Path::new("../../../../outside/secret.bin"),
        )
        .reference("main", &c);
    fs::create_dir_all(fx.cache.join("models--org--ok")).unwrap();
    haid_models_tests::fixture::symlink(&outside, &fx.cache.join("models--org--linked"));

    let report = scan_cache(&fx.cache).unwrap();
    let r = repo(&report, "org/escape");
    assert_eq!(r.size_on_disk, 2, "the outside file is not counted");
    assert_eq!(r.revisions[0].nb_files, 1);
    assert!(warned(&report, "points outside the cache"));
    assert_eq!(repo(&report, "org/linked").state, RepoState::Corrupt);
    assert!(warned(&report, "repo folder is a symlink"));
    assert_eq!(fs::read(outside.join("secret.bin")).unwrap().len(), 9999);
}

#[test]
fn a_blob_shared_by_hard_link_counts_once_in_the_total() {
    let fx = CacheFixture::new();
    let c = commit("h");
    let w = weights(9, 3000);
    fx.repo("models--org--one")
        .revision(&c, &[("w.bin", &w)])
        .reference("main", &c);
    let two = fx.repo("models--org--two");
    fs::create_dir_all(two.path.join("blobs")).unwrap();
    fs::hard_link(
        fx.cache.join("models--org--one/blobs").join(etag(&w)),
        two.path.join("blobs").join(etag(&w)),
    )
    .unwrap();
    two.revision(&c, &[("w.bin", &w)]).reference("main", &c);
    let report = scan_cache(&fx.cache).unwrap();
    assert_eq!(repo(&report, "org/one").size_on_disk, 3000);
    assert_eq!(repo(&report, "org/two").size_on_disk, 3000);
    assert_eq!(report.size_on_disk, 3000, "physical size");
}

#[test]
fn one_repo_scan_equals_its_row_in_the_full_scan() {
    let fx = CacheFixture::new();
    let c = commit("one");
    fx.repo("models--org--m")
        .revision(&c, &[("config.json", b"{}")])
        .reference("main", &c);
    let full = scan_cache(&fx.cache).unwrap();
    let id = RepoId::model("org/m").unwrap();
    let one = scan_repo(&fx.cache, &id).unwrap().unwrap();
    assert_eq!(&one.repo, repo(&full, "org/m"));
    assert!(scan_repo(&fx.cache, &RepoId::model("org/absent").unwrap())
        .unwrap()
        .is_none());
}

#[test]
fn a_missing_cache_is_empty_and_a_file_is_an_error() {
    let fx = CacheFixture::new();
    let report = scan_cache(&fx.cache.join("not-yet")).unwrap();
    assert!(report.repos.is_empty() && report.warnings.is_empty());
    let file = fx.dir.path().join("file");
    fs::write(&file, "").unwrap();
    let err = scan_cache(&file).unwrap_err();
    assert!(err.to_string().contains("is a file, not a folder"), "{err}");
}

#[test]
fn a_blob_shorter_than_its_listing_is_corrupt() {
    let fx = CacheFixture::new();
    let c = commit("cut");
    let w = weights(4, 5000);
    let cut = fx.repo("models--org--cut");
    cut.revision(&c, &[("w.bin", &w)])
        .reference("main", &c)
        .tree(&c, &[("w.bin", &w)]);
    assert_eq!(repo_state(&fx, "org/cut"), RepoState::Complete);
    // What a power cut can leave: the name, not all the bytes.
    let blob = cut.path.join("blobs").join(etag(&w));
    fs::write(&blob, &w[..100]).unwrap();
    let report = scan_cache(&fx.cache).unwrap();
    assert_eq!(repo(&report, "org/cut").state, RepoState::Corrupt);
    assert!(warned(&report, "cut short"));
}

fn repo_state(fx: &CacheFixture, id: &str) -> RepoState {
    repo(&scan_cache(&fx.cache).unwrap(), id).state
}
