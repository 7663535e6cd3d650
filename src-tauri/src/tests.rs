//! The commands through Tauri's mock runtime, with the app's real context
//! (config and access control), as the page calls them.

#![allow(clippy::unwrap_used)]

use haid_models::env::Env;
use haid_models::location::PlatformDirs;
use haid_models_tests::fixture::{commit, weights, CacheFixture};
use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{App, Manager, WebviewWindow, WebviewWindowBuilder};

use crate::state::AppState;

fn app(fx: &CacheFixture) -> App<MockRuntime> {
    app_with(fx, &[])
}

fn app_with(fx: &CacheFixture, vars: &[(&str, &str)]) -> App<MockRuntime> {
    app_at(fx, Some(&fx.cache), vars)
}

/// The app for the cache `cli_dir` names, else the one the rules give
/// (`<tmp>/haid/models/hub` by default, or the settings').
fn app_at(
    fx: &CacheFixture,
    cli_dir: Option<&std::path::Path>,
    vars: &[(&str, &str)],
) -> App<MockRuntime> {
    let mut pairs = vec![("HF_ENDPOINT", "http://127.0.0.1:9")];
    pairs.extend_from_slice(vars);
    let env = Env::from_pairs(pairs);
    let dirs = PlatformDirs {
        home: Some(fx.dir.path().into()),
        data: Some(fx.dir.path().into()),
        config: Some(fx.dir.path().into()),
    };
    mock_builder()
        .manage(AppState::new(cli_dir, &env, dirs).unwrap())
        .manage(crate::downloads::Board::default())
        .manage(crate::window::PageGeneration::default())
        .manage(crate::updates::Updates::default())
        .manage(crate::live::WatcherSlot::default())
        .on_window_event(crate::window::on_event)
        .invoke_handler(crate::handlers!())
        .build(tauri::generate_context!())
        .unwrap()
}

fn window(app: &App<MockRuntime>, label: &str) -> WebviewWindow<MockRuntime> {
    WebviewWindowBuilder::new(app, label, Default::default())
        .build()
        .unwrap()
}

fn call(w: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    get_ipc_response(
        w,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            // The origin of the app's own pages on Linux.
            url: "tauri://localhost".parse().unwrap(),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|b| b.deserialize::<Value>().unwrap())
}

fn with_model(fx: &CacheFixture) {
    let c = commit("m");
    fx.repo("models--acme--m")
        .revision(&c, &[("w.bin", &weights(1, 2000))])
        .reference("main", &c);
}

#[test]
fn list_models_gives_the_groups_with_states() {
    let fx = CacheFixture::new();
    with_model(&fx);
    let app = app(&fx);
    let main = window(&app, "main");
    let list = call(&main, "list_models", json!({})).unwrap();
    let types: Vec<&str> = list["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["embedding", "caption", "other"]);
    assert_eq!(list["groups"][2]["models"][0]["id"], "acme/m");
    assert_eq!(list["groups"][2]["models"][0]["state"], "downloaded");
    assert_eq!(list["groups"][0]["models"][0]["state"], "not_downloaded");
    let info = call(&main, "cache_info", json!({})).unwrap();
    assert_eq!(info["source"], "--cache-dir");
    assert!(info["free_bytes"].as_u64().unwrap() > 0);
}

#[test]
fn delete_plans_then_deletes_from_disk() {
    let fx = CacheFixture::new();
    with_model(&fx);
    let app = app(&fx);
    let main = window(&app, "main");
    let plan = call(&main, "delete_plan", json!({"id": "acme/m"})).unwrap();
    assert_eq!(plan["freed_bytes"], 2000);
    assert!(
        fx.cache.join("models--acme--m").exists(),
        "a plan deletes nothing"
    );
    call(&main, "delete_model", json!({"id": "acme/m"})).unwrap();
    assert!(!fx.cache.join("models--acme--m").exists());
}

#[test]
fn errors_reach_the_page_as_kind_and_message() {
    let fx = CacheFixture::new();
    let app = app(&fx);
    let main = window(&app, "main");
    let err = call(&main, "delete_plan", json!({"id": "../etc"})).unwrap_err();
    assert_eq!(err["kind"], "invalid_repo_id");
    assert!(err["message"].as_str().unwrap().contains("'..'"), "{err}");
    let err = call(&main, "open_folder", json!({"path": "/etc"})).unwrap_err();
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("not in the cache"),
        "{err}"
    );
    assert_eq!(
        call(&main, "cancel_download", json!({"id": "acme/none"})).unwrap(),
        json!(false)
    );
}

#[test]
fn only_the_main_window_may_call_commands() {
    let fx = CacheFixture::new();
    let app = app(&fx);
    let other = window(&app, "intruder");
    let err = call(&other, "list_models", json!({})).unwrap_err();
    assert!(err.to_string().contains("not allowed"), "{err}");
}

#[test]
fn the_tray_menu_shows_downloads_and_offers_pause_or_resume() {
    use std::collections::BTreeMap;
    let idle = crate::tray::entries(
        "4 of 5 models ready · 2.7 GB".into(),
        &BTreeMap::new(),
        0,
        0,
    );
    let labels: Vec<(&str, bool)> = idle.iter().map(|(_, l, e)| (l.as_str(), *e)).collect();
    assert_eq!(
        labels,
        [
            ("4 of 5 models ready · 2.7 GB", false),
            ("Open HAID Models", true),
            ("Pause all", false),
            ("Quit", true)
        ]
    );
    let running = BTreeMap::from([("BAAI/bge-large-en-v1.5".to_owned(), 42u8)]);
    let busy = crate::tray::entries("status".into(), &running, 0, 0);
    assert!(busy
        .iter()
        .any(|(_, l, _)| l == "↓ BAAI/bge-large-en-v1.5 — 42 %"));
    assert!(busy
        .iter()
        .any(|(id, _, enabled)| id == "pause" && *enabled));
    let paused = crate::tray::entries("status".into(), &BTreeMap::new(), 2, 0);
    assert!(paused
        .iter()
        .any(|(id, l, _)| id == "resume" && l == "Resume all (2)"));
    let updates = crate::tray::entries("status".into(), &BTreeMap::new(), 0, 2);
    assert_eq!(
        updates[1],
        ("updates".to_owned(), "2 updates".to_owned(), true)
    );
    let one = crate::tray::entries("status".into(), &BTreeMap::new(), 0, 1);
    assert_eq!(one[1].1, "1 update");
}

#[test]
fn a_model_added_by_id_is_listed_and_bad_ids_are_refused() {
    let fx = CacheFixture::new();
    let app = app(&fx);
    let main = window(&app, "main");
    let id = call(
        &main,
        "add_model",
        json!({"id": "acme/new-model", "modelType": "embedding"}),
    )
    .unwrap();
    assert_eq!(id, "acme/new-model");
    let list = call(&main, "list_models", json!({})).unwrap();
    let embedding: Vec<&str> = list["groups"][0]["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(embedding.contains(&"acme/new-model"), "{embedding:?}");
    let err = call(
        &main,
        "add_model",
        json!({"id": "a/b/c", "modelType": "embedding"}),
    )
    .unwrap_err();
    assert_eq!(err["kind"], "invalid_repo_id");
    let err = call(
        &main,
        "add_model",
        json!({"id": "acme/new-model", "modelType": "caption"}),
    )
    .unwrap_err();
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("already in the manifest"),
        "{err}"
    );
}

#[test]
fn settings_are_saved_and_the_token_never_comes_back() {
    let fx = CacheFixture::new();
    let app = app(&fx);
    let main = window(&app, "main");
    let before = call(&main, "get_settings", json!({})).unwrap();
    assert_eq!(before["token_set"], false);
    assert_eq!(before["concurrency"], 2);
    let update = json!({"update": {"endpoint": "https://hf-mirror.com/", "concurrency": 3, "token": "hf_secret_42"}});
    let after = call(&main, "set_settings", update).unwrap();
    assert_eq!(
        after["endpoint"], "http://127.0.0.1:9",
        "HF_ENDPOINT still wins"
    );
    assert_eq!(after["endpoint_forced"], true);
    assert_eq!(after["concurrency"], 3);
    assert_eq!(after["token_set"], true);
    // Applied at once: the next download uses the new limit and token.
    let state = app.state::<AppState>();
    assert_eq!(state.place().manager.concurrency(), 3);
    let hub = state.place().manager.hub_config().unwrap();
    assert_eq!(hub.token.as_deref(), Some("hf_secret_42"));
    assert!(
        !after.to_string().contains("hf_secret_42"),
        "the token is never echoed: {after}"
    );
    let settings: Value = serde_json::from_str(
        &std::fs::read_to_string(after["settings_file"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(settings["endpoint"], "https://hf-mirror.com");
    let token_file = fx.dir.path().join("token");
    assert_eq!(
        std::fs::read_to_string(&token_file).unwrap(),
        "hf_secret_42"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let err = call(
        &main,
        "set_settings",
        json!({"update": {"endpoint": "mirror without scheme"}}),
    )
    .unwrap_err();
    assert!(
        err["message"].as_str().unwrap().contains("http(s) URL"),
        "{err}"
    );
}

#[test]
fn the_old_folders_are_offered_and_migrated() {
    let fx = CacheFixture::new();
    let data = fx.dir.path().join("old-data");
    let folder = data.join("embedding/models/acme/e");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("config.json"), b"{}").unwrap();
    std::fs::write(folder.join("model.safetensors"), weights(4, 5000)).unwrap();
    let app = app_with(
        &fx,
        &[
            ("HAID_DATA_DIR", data.to_str().unwrap()),
            ("HF_HUB_OFFLINE", "1"),
        ],
    );
    let main = window(&app, "main");

    let plan = call(&main, "migration_plan", json!({})).unwrap();
    assert_eq!(plan["models"][0]["repo_id"], "acme/e");
    assert_eq!(plan["models"][0]["bytes"], 5002);
    assert!(folder.exists(), "a plan moves nothing");

    let done = call(&main, "migrate", json!({"onEvent": "__CHANNEL__:7"})).unwrap();
    assert_eq!(done[0]["source_removed"], true, "{done}");
    assert_eq!(done[0]["local_commit"], true);
    assert!(!folder.exists());
    let list = call(&main, "list_models", json!({})).unwrap();
    let other = &list["groups"][2]["models"][0];
    assert_eq!(
        (other["id"].as_str(), other["state"].as_str()),
        (Some("acme/e"), Some("downloaded"))
    );
    let plan = call(&main, "migration_plan", json!({})).unwrap();
    assert_eq!(plan["models"], json!([]), "nothing is offered twice");
}

#[test]
fn closing_the_window_keeps_the_app_and_open_builds_it_again() {
    use crate::window::{keep_running, on_event, show_main, PageGeneration, MAIN};
    let fx = CacheFixture::new();
    let app = app(&fx);
    let generation = || app.state::<PageGeneration>().current();
    // The app starts with its window; "Open" (tray, second launch) builds it
    // when it is not there, and only focuses it when it is.
    assert!(app.get_webview_window(MAIN).is_none());
    show_main(app.handle());
    let main = app
        .get_webview_window(MAIN)
        .expect("Open builds the window");
    show_main(app.handle());
    assert_eq!(app.webview_windows().len(), 1);

    // The page going away is counted, so downloads it started report to the
    // next page through `download-event`; other windows do not count.
    let before = generation();
    on_event(&main.as_ref().window(), &tauri::WindowEvent::Destroyed);
    assert_eq!(generation(), before + 1);
    let other = window(&app, "other");
    on_event(&other.as_ref().window(), &tauri::WindowEvent::Destroyed);
    assert_eq!(generation(), before + 1);

    // Closing the last window does not quit; "Quit" (an exit code) does.
    assert!(keep_running(None));
    assert!(!keep_running(Some(0)));
}

#[test]
fn a_hostile_hub_reaches_the_page_as_invalid_response_and_nothing_is_written() {
    use haid_models_tests::fake_hub::{FakeHub, Faults, Hostile};
    let fx = CacheFixture::new();
    let hub = FakeHub::start(fx.dir.path().join("hub-root"));
    std::fs::create_dir_all(hub.root.join("acme/m")).unwrap();
    std::fs::write(hub.root.join("acme/m/config.json"), "{}").unwrap();
    hub.set_faults(Faults {
        hostile: Hostile {
            commit: Some("../../name".into()),
            ..Hostile::default()
        },
        ..Faults::default()
    });
    let app = app_with(&fx, &[("HF_ENDPOINT", &hub.url)]);
    let run = crate::downloads::run(app.handle(), "acme/m", haid_models::download::no_events());
    let err = tauri::async_runtime::block_on(run).unwrap_err();
    assert_eq!(err.kind, haid_models::ErrorKind::InvalidResponse);
    assert!(err.message.contains(&hub.url), "{}", err.message);
    assert!(err.message.contains("\"../../name\""), "{}", err.message);
    assert!(!fx.cache.join("models--acme--m").exists());
    assert!(!fx.dir.path().join("name.json").exists());
}

#[test]
fn the_tray_status_is_the_lists_summary() {
    let fx = CacheFixture::new();
    with_model(&fx);
    let app = app(&fx);
    let main = window(&app, "main");
    let list = call(&main, "list_models", json!({})).unwrap();
    let wanted = list["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["type"] != "other")
        .map(|g| g["models"].as_array().unwrap().len())
        .sum::<usize>();
    // acme/m is cached but no manifest names it: on disk, not counted.
    assert_eq!(
        crate::tray::status_line(app.handle()),
        format!("0 of {wanted} models ready · 0.0 GB")
    );
}

#[test]
fn verify_answers_off_the_main_thread_and_offline() {
    let fx = CacheFixture::new();
    with_model(&fx);
    let app = app(&fx);
    let main = window(&app, "main");
    let report = call(&main, "verify_model", json!({"id": "acme/m"})).unwrap();
    assert_eq!(report["hub"], "offline");
    assert_eq!(report["checked"], 1);
    let err = call(&main, "verify_model", json!({"id": "acme/none"})).unwrap_err();
    assert_eq!(err["kind"], "not_found");
}

#[cfg(unix)]
#[test]
fn open_folder_refuses_a_link_out_of_the_cache() {
    let fx = CacheFixture::new();
    with_model(&fx);
    let out = fx.dir.path().join("elsewhere");
    std::fs::create_dir_all(&out).unwrap();
    let link = fx.cache.join("models--acme--m/out");
    std::os::unix::fs::symlink(&out, &link).unwrap();
    let app = app(&fx);
    let main = window(&app, "main");
    let err = call(&main, "open_folder", json!({"path": link})).unwrap_err();
    assert_eq!(err["kind"], "invalid_argument");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("not in the cache"),
        "{err}"
    );
}

#[test]
fn no_old_data_folder_is_nothing_to_migrate() {
    let fx = CacheFixture::new();
    let gone = fx.dir.path().join("never-had-the-old-services");
    let app = app_with(&fx, &[("HAID_DATA_DIR", gone.to_str().unwrap())]);
    let main = window(&app, "main");
    let plan = call(&main, "migration_plan", json!({})).unwrap();
    assert_eq!(plan["models"], json!([]));
    assert_eq!(plan["from_exists"], false);
    assert!(!gone.exists(), "a plan creates nothing");
}

#[test]
fn get_all_then_an_update_through_the_commands_with_the_file_set_kept() {
    use haid_models_tests::fake_hub::FakeHub;
    let fx = CacheFixture::new();
    let hub = FakeHub::start(fx.dir.path().join("hub-root"));
    std::fs::create_dir_all(hub.root.join("acme/m")).unwrap();
    std::fs::write(hub.root.join("acme/m/config.json"), "{\"v\": 1}").unwrap();
    std::fs::write(hub.root.join("acme/m/weights.bin"), vec![7u8; 50_000]).unwrap();
    let manifest = fx.dir.path().join("manifest.json");
    let entry = json!({"id": "acme/m", "name": "m", "team": "acme", "include": ["*.json"]});
    std::fs::write(&manifest, json!({"test": [entry]}).to_string()).unwrap();
    let app = app_with(
        &fx,
        &[
            ("HF_ENDPOINT", &hub.url),
            ("HAID_MODELS_MANIFEST", manifest.to_str().unwrap()),
        ],
    );
    let main = window(&app, "main");
    let args = json!({"modelType": "test", "onEvent": "__CHANNEL__:7"});
    let report = call(&main, "sync_models", args).unwrap();
    assert_eq!(
        (report["ready"].as_u64(), report["not_ready"].as_u64()),
        (Some(1), Some(0))
    );
    let repo = fx.cache.join("models--acme--m");
    let v1 = std::fs::read_to_string(repo.join("refs/main")).unwrap();
    assert!(repo
        .join("snapshots")
        .join(&v1)
        .join("config.json")
        .exists());
    assert!(
        !repo
            .join("snapshots")
            .join(&v1)
            .join("weights.bin")
            .exists(),
        "outside the file set"
    );
    assert_eq!(hub.bytes_served(), 8);

    let v2 = hub.advance("acme/m", |d| {
        std::fs::write(d.join("config.json"), "{\"v\": 22}").unwrap()
    });
    let found = call(&main, "check_updates", json!({})).unwrap();
    assert_eq!(found["models"][0]["id"], "acme/m");
    assert_eq!(found["models"][0]["changed_files"], json!(["config.json"]));
    assert_eq!(
        app.state::<crate::board::Board>().updates(),
        1,
        "the tray says 1 update"
    );
    assert_eq!(call(&main, "updates", json!({})).unwrap(), found);
    hub.reset_counts();
    let old = call(
        &main,
        "update_model",
        json!({"id": "acme/m", "onEvent": "__CHANNEL__:8"}),
    )
    .unwrap();
    assert_eq!(old["commit"], v1.as_str());
    assert_eq!(hub.bytes_served(), 9, "only the changed file");
    assert_eq!(std::fs::read_to_string(repo.join("refs/main")).unwrap(), v2);
    assert_eq!(app.state::<crate::board::Board>().updates(), 0);
    let list = call(&main, "list_models", json!({})).unwrap();
    let group = list["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["type"] == "test")
        .unwrap();
    assert_eq!(group["models"][0]["state"], "downloaded");
    assert_eq!(group["models"][0]["commit"], v2.as_str());
}

#[test]
fn the_disk_picture_and_a_budget_that_asks_then_applies_automatically_when_told() {
    let fx = CacheFixture::new();
    for (name, size) in [("a", 3000), ("b", 2000), ("c", 1000)] {
        let c = commit(name);
        fx.repo(&format!("models--acme--{name}"))
            .revision(
                &c,
                &[("w.bin", &weights(name.len() as u8 + size as u8, size))],
            )
            .reference("main", &c);
    }
    let app = app(&fx);
    let main = window(&app, "main");
    let space = call(&main, "space_report", json!({})).unwrap();
    assert_eq!(space["cache_bytes"], 6000);
    assert_eq!(space["repos"][0]["id"], "acme/a", "biggest first");
    assert_eq!(space["repos"][0]["type"], "other");
    assert_eq!(
        call(&main, "budget_plan", json!({})).unwrap(),
        Value::Null,
        "no budget set"
    );

    let update = json!({"update": {"keepUnder": 4000}});
    call(&main, "set_settings", update).unwrap();
    let plan = call(&main, "budget_plan", json!({})).unwrap();
    let order: Vec<&str> = plan["repos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["repo_id"].as_str().unwrap())
        .collect();
    assert_eq!(order.len(), 1, "{plan}");
    assert!(
        fx.cache.join("models--acme--a").exists(),
        "asking deletes nothing"
    );
    call(&main, "apply_budget", json!({})).unwrap();
    assert!(!fx
        .cache
        .join(format!("models--{}", order[0].replace('/', "--")))
        .exists());

    // Automatically: the next look after a change applies it.
    call(
        &main,
        "set_settings",
        json!({"update": {"keepUnder": 1500, "keepUnderAuto": true}}),
    )
    .unwrap();
    crate::space::follow_budget(app.handle());
    let left: u64 = call(&main, "space_report", json!({})).unwrap()["cache_bytes"]
        .as_u64()
        .unwrap();
    assert!(left <= 1500, "{left}");
}

#[test]
fn the_speed_limit_is_a_setting_applied_live_and_the_tray_ticks_it() {
    let fx = CacheFixture::new();
    let app = app(&fx);
    let main = window(&app, "main");
    let state = app.state::<AppState>();
    assert_eq!(state.place().manager.rate_limit(), 0);
    let view = call(
        &main,
        "set_settings",
        json!({"update": {"limitRate": 5 << 20}}),
    )
    .unwrap();
    assert_eq!(view["limit_rate"], 5 << 20);
    assert_eq!(
        state.place().manager.rate_limit(),
        5 << 20,
        "applied at once"
    );
    let choices = crate::tray::speed_choices(state.place().manager.rate_limit());
    let ticked: Vec<&str> = choices
        .iter()
        .filter(|(_, l)| l.starts_with('✓'))
        .map(|(id, _)| id.as_str())
        .collect();
    assert_eq!(ticked, ["limit:5242880"]);
    assert_eq!(choices[0].1, "Unlimited");
    call(&main, "set_settings", json!({"update": {"limitRate": 0}})).unwrap();
    assert_eq!(state.place().manager.rate_limit(), 0);
}

#[test]
fn the_cache_moves_from_the_settings_and_the_app_follows_the_new_place() {
    let fx = CacheFixture::new();
    // The default place of these dirs: <tmp>/haid/models/hub.
    let old = fx.dir.path().join("haid/models/hub");
    let c = commit("m");
    haid_models_tests::fixture::RepoFixture {
        path: {
            std::fs::create_dir_all(old.join("models--acme--m")).unwrap();
            old.join("models--acme--m")
        },
    }
    .revision(&c, &[("w.bin", &weights(1, 2000))])
    .reference("main", &c);
    let app = app_at(&fx, None, &[]);
    let main = window(&app, "main");
    let dest = fx.dir.path().join("disk2/hub");

    // Refused: a DEST that holds someone's files.
    let docs = fx.dir.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(docs.join("a.txt"), "x").unwrap();
    let refused = call(
        &main,
        "move_plan",
        json!({"dest": docs, "leaveSymlink": false}),
    )
    .unwrap_err();
    assert_eq!(refused["kind"], "move_refused", "{refused}");

    let plan = call(
        &main,
        "move_plan",
        json!({"dest": dest, "leaveSymlink": false}),
    )
    .unwrap();
    assert_eq!(plan["method"], "rename");
    assert_eq!(plan["remember"], true);
    assert_eq!(plan["resuming"], false);
    assert!(old.exists(), "a plan moves nothing");
    let info = call(&main, "cache_info", json!({})).unwrap();
    assert_eq!(info["unfinished_move"], Value::Null);

    // A move that was cut short (its journal, as a kill leaves it): the
    // header's info carries it for the banner, and the plan finishes it.
    let journal = json!({"from": old, "to": dest, "leave_symlink": false, "remember": true});
    std::fs::create_dir_all(old.join(".locks")).unwrap();
    std::fs::write(old.join(".locks/haid-move.json"), journal.to_string()).unwrap();
    let info = call(&main, "cache_info", json!({})).unwrap();
    assert_eq!(info["unfinished_move"]["to"], json!(dest));
    let args = json!({"dest": dest, "leaveSymlink": false});
    assert_eq!(call(&main, "move_plan", args).unwrap()["resuming"], true);

    let args = json!({"dest": dest, "leaveSymlink": false, "onEvent": "__CHANNEL__:9"});
    let report = call(&main, "move_cache", args).unwrap();
    assert_eq!(report["repos"], 1);
    assert_eq!(report["remembered"], true);
    assert!(!old.exists());
    // Without a restart: the header and the list are the new place's.
    let info = call(&main, "cache_info", json!({})).unwrap();
    assert_eq!(info["cache_dir"], json!(dest));
    assert_eq!(info["source"], "settings");
    assert_eq!(info["unfinished_move"], Value::Null, "finished: no banner");
    let list = call(&main, "list_models", json!({})).unwrap();
    let other = list["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["type"] == "other")
        .unwrap();
    assert_eq!(other["models"][0]["id"], "acme/m");
    assert_eq!(other["models"][0]["state"], "downloaded");
}

#[test]
fn a_model_exported_then_deleted_comes_back_from_its_archive() {
    let fx = CacheFixture::new();
    with_model(&fx);
    let app = app(&fx);
    let main = window(&app, "main");
    let file = fx.dir.path().join("m.tar");
    let args =
        json!({"ids": ["acme/m"], "manifest": false, "file": file, "onEvent": "__CHANNEL__:10"});
    let report = call(&main, "export_models", args).unwrap();
    assert_eq!(report["models"][0]["repo_id"], "acme/m");
    assert!(file.is_file());

    call(&main, "delete_model", json!({"id": "acme/m"})).unwrap();
    assert!(!fx.cache.join("models--acme--m").exists());
    let args = json!({"file": file, "onEvent": "__CHANNEL__:11"});
    let report = call(&main, "import_archive", args).unwrap();
    assert_eq!(report["blobs_added"], 1);
    assert_eq!(report["refused"], json!([]));
    let list = call(&main, "list_models", json!({})).unwrap();
    let other = list["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["type"] == "other")
        .unwrap();
    assert_eq!(other["models"][0]["id"], "acme/m");
    assert_eq!(other["models"][0]["state"], "downloaded");
}
