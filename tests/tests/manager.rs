//! The download manager through the core API: queue limits, cancel, registry.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use haid_models::cache::RepoId;
use haid_models::download::{
    DownloadEvent, DownloadManager, DownloadRequest, EventSink, Hub, HubConfig, RetryPolicy,
};
use haid_models_tests::fake_hub::{FakeHub, Faults};
use haid_models_tests::fixture::weights;

const MB: usize = 1 << 20;

fn setup(models: &[&str], mb: usize) -> (tempfile::TempDir, FakeHub, Hub) {
    let tmp = tempfile::tempdir().unwrap();
    let hub = FakeHub::start(tmp.path().join("root"));
    for (i, id) in models.iter().enumerate() {
        let dir = hub.root.join(id);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("model.bin"), weights(i as u8, mb * MB)).unwrap();
    }
    let config = HubConfig {
        endpoint: hub.url.clone(),
        token: None,
        offline: false,
        retry: RetryPolicy::default(),
    };
    let client = Hub::new(config, &tmp.path().join("cache")).unwrap();
    (tmp, hub, client)
}

type Log = Arc<Mutex<Vec<(Instant, DownloadEvent)>>>;

fn recorder() -> (EventSink, Log) {
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    (
        Arc::new(move |e| l.lock().unwrap().push((Instant::now(), e))),
        log,
    )
}

fn when(log: &Log, repo: &str, kind: &str) -> Option<Instant> {
    log.lock().unwrap().iter().find_map(|(t, e)| {
        let v = serde_json::to_value(e).unwrap();
        (v["event"] == kind && v["repo_id"] == repo).then_some(*t)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_two_models_at_once_and_all_finish() {
    let (tmp, hub, client) = setup(&["q/a", "q/b", "q/c"], 2);
    hub.set_faults(Faults {
        throttle_bps: Some(4 * MB as u64),
        ..Faults::default()
    });
    let manager = DownloadManager::new(tmp.path().join("cache"), client, 2, 8);
    let (sink, log) = recorder();
    let handles: Vec<_> = ["q/a", "q/b", "q/c"]
        .iter()
        .map(|id| {
            manager
                .start(
                    DownloadRequest::new(RepoId::model(id).unwrap()),
                    sink.clone(),
                )
                .unwrap()
        })
        .collect();
    assert_eq!(manager.active().len(), 3, "queued ones count as in flight");
    let dup = manager.start(
        DownloadRequest::new(RepoId::model("q/a").unwrap()),
        sink.clone(),
    );
    assert!(dup.unwrap_err().to_string().contains("already downloading"));
    for h in handles {
        h.await.unwrap().unwrap();
    }
    let first_done = ["q/a", "q/b", "q/c"]
        .iter()
        .filter_map(|id| when(&log, id, "done"))
        .min()
        .unwrap();
    let starts: Vec<Instant> = ["q/a", "q/b", "q/c"]
        .iter()
        .map(|id| when(&log, id, "resolved").unwrap())
        .collect();
    let late = starts.iter().filter(|t| **t >= first_done).count();
    assert_eq!(late, 1, "the third model waits for a free slot");
    assert!(manager.active().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_keeps_the_partial_for_a_resume() {
    let (tmp, hub, client) = setup(&["c/m"], 4);
    hub.set_faults(Faults {
        throttle_bps: Some(2 * MB as u64),
        ..Faults::default()
    });
    let cache = tmp.path().join("cache");
    let manager = DownloadManager::with_defaults(cache.clone(), client);
    let repo = RepoId::model("c/m").unwrap();
    let (sink, log) = recorder();
    let handle = manager
        .start(DownloadRequest::new(repo.clone()), sink.clone())
        .unwrap();
    let began = Instant::now();
    while log
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, e)| matches!(e, DownloadEvent::Progress { bytes, .. } if *bytes > MB as u64))
        .count()
        == 0
    {
        assert!(began.elapsed() < Duration::from_secs(20));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(manager.cancel(&repo));
    let err = handle.await.unwrap().unwrap_err();
    assert_eq!(err.kind(), "cancelled");
    assert!(err.to_string().contains("resumes"), "{err}");
    assert!(manager.active().is_empty());
    let blobs = cache.join("models--c--m/blobs");
    let partial: u64 = std::fs::read_dir(&blobs)
        .unwrap()
        .flatten()
        .map(|e| e.metadata().unwrap().len())
        .sum();
    assert!(partial >= MB as u64, "kept {partial} bytes");

    hub.set_faults(Faults::default());
    hub.reset_counts();
    manager
        .start(DownloadRequest::new(repo), sink)
        .unwrap()
        .await
        .unwrap()
        .unwrap();
    assert!(
        hub.bytes_served() <= (4 * MB) as u64 - partial + 64 * 1024,
        "resumed: {}",
        hub.bytes_served()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_transfer_is_retried_and_resumed() {
    let (tmp, hub, _) = setup(&["s/m"], 2);
    hub.set_faults(Faults {
        stall_after: Some(MB as u64),
        ..Faults::default()
    });
    let retry = RetryPolicy {
        stall_timeout: Duration::from_secs(1),
        base_delay: Duration::from_millis(50),
        ..RetryPolicy::default()
    };
    let config = HubConfig {
        endpoint: hub.url.clone(),
        token: None,
        offline: false,
        retry,
    };
    let cache = tmp.path().join("cache");
    let client = Hub::new(config, &cache).unwrap();
    let manager = DownloadManager::with_defaults(cache.clone(), client);
    let (sink, log) = recorder();
    let began = Instant::now();
    manager
        .start(DownloadRequest::new(RepoId::model("s/m").unwrap()), sink)
        .unwrap()
        .await
        .unwrap()
        .unwrap();
    assert!(began.elapsed() < Duration::from_secs(20));
    let retried = log.lock().unwrap().iter().any(|(_, e)| matches!(e, DownloadEvent::Retrying { message, .. } if message.contains("stalled")));
    assert!(retried, "the stall was noticed and retried");
    assert!(
        hub.bytes_served() <= (2 * MB + 64 * 1024) as u64,
        "resumed after the stall: {}",
        hub.bytes_served()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_limit_and_a_new_hub_apply_to_downloads_started_afterwards() {
    let (tmp, hub, _unreachable) = setup(&["n/a", "n/b", "n/c"], 1);
    hub.set_faults(Faults {
        throttle_bps: Some(4 * MB as u64),
        ..Faults::default()
    });
    // Started against a hub that does not answer, with one model at a time.
    let nowhere = HubConfig {
        endpoint: "http://127.0.0.1:9".into(),
        token: None,
        offline: false,
        retry: RetryPolicy::default(),
    };
    let cache = tmp.path().join("cache");
    let manager = DownloadManager::new(cache.clone(), Hub::new(nowhere, &cache).unwrap(), 1, 8);
    let good = HubConfig {
        endpoint: hub.url.clone(),
        token: None,
        offline: false,
        retry: RetryPolicy::default(),
    };
    manager.set_hub(Hub::new(good, &cache).unwrap());
    manager.set_concurrency(3);
    let (sink, log) = recorder();
    let handles: Vec<_> = ["n/a", "n/b", "n/c"]
        .iter()
        .map(|id| {
            let req = DownloadRequest::new(RepoId::model(id).unwrap());
            manager.start(req, sink.clone()).unwrap()
        })
        .collect();
    for h in handles {
        h.await.unwrap().unwrap();
    }
    let first_done = ["n/a", "n/b", "n/c"]
        .iter()
        .filter_map(|id| when(&log, id, "done"))
        .min()
        .unwrap();
    let late = ["n/a", "n/b", "n/c"]
        .iter()
        .filter(|id| when(&log, id, "resolved").unwrap() >= first_done)
        .count();
    assert_eq!(late, 0, "all three ran at once under the new limit");

    // Back down to one: two more models run one after the other.
    manager.set_concurrency(1);
    for id in ["n/d", "n/e"] {
        let dir = hub.root.join(id);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("model.bin"), weights(9, MB)).unwrap();
    }
    let (sink, log) = recorder();
    let handles: Vec<_> = ["n/d", "n/e"]
        .iter()
        .map(|id| {
            let req = DownloadRequest::new(RepoId::model(id).unwrap());
            manager.start(req, sink.clone()).unwrap()
        })
        .collect();
    for h in handles {
        h.await.unwrap().unwrap();
    }
    let (d_done, e_start) = (
        when(&log, "n/d", "done")
            .unwrap()
            .min(when(&log, "n/e", "done").unwrap()),
        when(&log, "n/d", "resolved")
            .unwrap()
            .max(when(&log, "n/e", "resolved").unwrap()),
    );
    assert!(e_start >= d_done, "the second waited for the first");
}
