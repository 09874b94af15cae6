//! The exported `sync` against the real migru-server (its library, on 127.0.0.1:0, SQLite):
//! records go up once however often the phone syncs, pulled changes are kept on the phone in
//! `pulled_changes` with the cursor in its settings, and both survive closing and reopening it.

use std::sync::{Arc, Mutex};

use migru_core::event::{Body, Record, jsonl::parse_ts};
use migru_ffi::{CancelHandle, MigruCompanion, MigruError, SyncListener, SyncProgress};
use migru_server::storage::{self, ChangeKind, Storage};
use migru_server::{AppState, Limits};
use uuid::Uuid;

struct Server {
    url: String,
    store: Arc<dyn Storage>,
    _dir: tempfile::TempDir,
}

/// A server with pages of two changes, so every pull needs several pages.
async fn server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = storage::open(&format!("sqlite:{}", dir.path().join("server.db").display())).await.unwrap();
    let limits = Limits {
        device_rate_per_s: 10_000.0,
        device_burst: 10_000.0,
        anonymous_per_min: 10_000.0,
        max_pull_page: 2,
        ..Limits::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(migru_server::serve(listener, AppState::new(store.clone(), limits), std::future::pending()));
    Server { url, store, _dir: dir }
}

/// A family with a child device; returns (family id, the child's token).
async fn enrol(base: &str) -> (Uuid, String) {
    let http = reqwest::Client::new();
    let post = |path: &str, token: Option<&str>, body: serde_json::Value| {
        let mut request = http.post(format!("{base}{path}")).header("migru-protocol", "1").json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move { request.send().await.unwrap().json::<serde_json::Value>().await.unwrap() }
    };
    let family = post("/v1/families", None, serde_json::json!({"name": "F", "device_name": "mum"})).await;
    let parent = family["token"].as_str().unwrap().to_owned();
    let code = post("/v1/pairing-codes", Some(&parent), serde_json::json!({"role": "child"})).await;
    let child = post("/v1/pair", None, serde_json::json!({"code": code["code"], "device_name": "kid"})).await;
    (Uuid::parse_str(family["family_id"].as_str().unwrap()).unwrap(), child["token"].as_str().unwrap().to_owned())
}

#[derive(Default)]
struct Progress(Mutex<Vec<SyncProgress>>);

impl SyncListener for Progress {
    fn on_progress(&self, progress: SyncProgress) {
        self.0.lock().unwrap().push(progress);
    }
}

/// Three symptoms (one a red flag, which the server turns into an alert) and one private message.
fn child_records(db: &std::path::Path) {
    let core = migru_core::Companion::open(db).unwrap();
    let base = chrono::Utc::now() - chrono::Duration::hours(3);
    for i in 0..4i64 {
        let ts = parse_ts(&(base + chrono::Duration::minutes(i)).to_rfc3339()).unwrap();
        let body = match i {
            3 => Body::Message { text: "nobody else may read this".into() },
            _ => Body::Symptom { intensity: 4 + i as u8, text: None },
        };
        let mut record = Record::new(ts, body);
        record.id = Some(Uuid::now_v7());
        if i == 2 {
            record.extra.insert("red_flag".into(), "thunderclap".into());
        }
        core.append(record).unwrap();
    }
}

async fn recommend(server: &Server, family: Uuid, n: usize) {
    for i in 0..n {
        let body = serde_json::json!({ "text": format!("a calm evening helps ({i})") });
        server.store.append_change(family, ChangeKind::Recommendation, &Uuid::now_v7().to_string(), &body, 1_000 + i as i64).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_twice_is_idempotent_and_pulled_changes_survive_a_restart() {
    let server = server().await;
    let (family, token) = enrol(&server.url).await;
    recommend(&server, family, 3).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("phone.db");
    child_records(&db);

    let phone = MigruCompanion::open(db.display().to_string()).unwrap();
    let listener = Arc::new(Progress::default());
    let first = phone.sync(server.url.clone(), token.clone(), Some(listener.clone()), None).await.unwrap();
    assert_eq!((first.accepted, first.kept_private, first.refused), (3, 1, 0), "{first:?}");
    // Three recommendations and the red flag's alert, in pages of two.
    assert_eq!(first.changes_pulled, 4, "{first:?}");
    let reports = listener.0.lock().unwrap().clone();
    assert!(reports.len() >= 3, "progress after the push and after each of the pages: {reports:?}");
    assert_eq!(reports.last(), Some(&first));
    let kept = phone.pulled_changes(None, 100).unwrap();
    assert_eq!(kept.len(), 4);
    assert_eq!(phone.pulled_changes(Some("alert".into()), 100).unwrap().len(), 1);
    assert_eq!(phone.pulled_changes(Some("recommendation".into()), 100).unwrap().len(), 3);
    let payload: serde_json::Value = serde_json::from_str(&kept.iter().find(|c| c.topic == "alert").unwrap().payload).unwrap();
    assert_eq!(payload["body"]["type"], "red_flag_symptom");

    let second = phone.sync(server.url.clone(), token.clone(), None, None).await.unwrap();
    assert_eq!((second.accepted, second.duplicate, second.changes_pulled), (0, 0, 0), "nothing new either way: {second:?}");
    assert_eq!(server.store.count_records(family).await.unwrap(), 3, "each record once on the server");
    assert_eq!(phone.pulled_changes(None, 100).unwrap(), kept);
    drop(phone);

    // A restart: the changes and the cursor are still there; only the new change comes down.
    recommend(&server, family, 1).await;
    let phone = MigruCompanion::open(db.display().to_string()).unwrap();
    assert_eq!(phone.pulled_changes(None, 100).unwrap().len(), 4, "pulled changes persist across reopen");
    let third = phone.sync(server.url.clone(), token.clone(), None, None).await.unwrap();
    assert_eq!(third.changes_pulled, 1, "the stored cursor resumes after the last page: {third:?}");
    assert_eq!(phone.pulled_changes(None, 100).unwrap().len(), 5);
    drop(phone);

    // A crash between storing a page and moving the cursor means the page comes again: with the
    // cursor lost, everything is pulled again and nothing is stored twice.
    let core = migru_core::store::Store::open(&db).unwrap();
    core.set_setting(migru_core::sync::CURSOR_KEY, &migru_server::api::sync::encode_cursor(0)).unwrap();
    drop(core);
    let phone = MigruCompanion::open(db.display().to_string()).unwrap();
    let again = phone.sync(server.url.clone(), token, None, None).await.unwrap();
    assert_eq!(again.changes_pulled, 5);
    assert_eq!(phone.pulled_changes(None, 100).unwrap().len(), 5, "stored once by change id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_or_unauthorised_sync_is_a_clear_error_and_loses_nothing() {
    let server = server().await;
    let (family, token) = enrol(&server.url).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("phone.db");
    child_records(&db);
    let phone = MigruCompanion::open(db.display().to_string()).unwrap();

    let cancel = CancelHandle::new();
    cancel.cancel();
    let error = phone.sync(server.url.clone(), token.clone(), None, Some(cancel)).await.unwrap_err();
    assert!(matches!(error, MigruError::Cancelled), "{error:?}");
    assert_eq!(phone.stats().unwrap().outbox_pending, 4, "the outbox is intact");

    let error = phone.sync(server.url.clone(), "not-a-token".into(), None, None).await.unwrap_err();
    assert!(matches!(error, MigruError::Unauthorized { .. }), "{error:?}");

    let done = phone.sync(server.url.clone(), token, None, None).await.unwrap();
    assert_eq!(done.accepted, 3);
    assert_eq!(server.store.count_records(family).await.unwrap(), 3);
    assert_eq!(phone.stats().unwrap().outbox_pending, 0);
}
