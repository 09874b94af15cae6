//! Shared test helpers: the two storage backends, a server on loopback, devices and records.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use migru_server::storage::{self, Storage};
use migru_server::{AppState, Limits};

/// A fresh SQLite database in a temporary directory (kept alive by the returned guard).
pub async fn sqlite() -> (Arc<dyn Storage>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite:{}", dir.path().join("server.db").display());
    (storage::open(&url).await.expect("open sqlite"), dir)
}

/// The PostgreSQL URL for tests. Unset fails loudly unless `MIGRU_SKIP_POSTGRES=1`, so CI cannot
/// skip the PostgreSQL suite by accident. `None` means "skip".
pub fn postgres_url() -> Option<String> {
    match std::env::var("MIGRU_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("MIGRU_SKIP_POSTGRES").as_deref() == Ok("1") => None,
        _ => panic!(
            "MIGRU_TEST_POSTGRES_URL is not set: run `export MIGRU_TEST_POSTGRES_URL=$(server/scripts/start-postgres.sh)` \
             or set MIGRU_SKIP_POSTGRES=1 to skip the PostgreSQL suite deliberately"
        ),
    }
}

/// A fresh PostgreSQL schema of its own (tests run in parallel on one database).
pub async fn postgres() -> Option<(Arc<dyn Storage>, String)> {
    let (scoped, _client) = postgres_schema().await?;
    Some((storage::open(&scoped).await.expect("open postgres"), scoped))
}

/// An empty PostgreSQL schema of its own: the URL that selects it, and a client already in it.
pub async fn postgres_schema() -> Option<(String, tokio_postgres::Client)> {
    let url = postgres_url()?;
    let schema = format!("t_{}", uuid::Uuid::now_v7().simple());
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.expect("connect postgres");
    tokio::spawn(connection);
    client.batch_execute(&format!("CREATE SCHEMA {schema}; SET search_path TO {schema}")).await.expect("create schema");
    let separator = if url.contains('?') { '&' } else { '?' };
    Some((format!("{url}{separator}options=-csearch_path%3D{schema}"), client))
}

/// Limits generous enough that tests hit only the limit they mean to.
pub fn test_limits() -> Limits {
    Limits { device_rate_per_s: 10_000.0, device_burst: 10_000.0, anonymous_per_min: 10_000.0, ..Limits::default() }
}

/// A server on an ephemeral loopback port; dropping the handle's sender shuts it down.
pub struct Server {
    pub addr: SocketAddr,
    pub state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Server {
    pub async fn start(state: AppState) -> Server {
        Self::start_on(state, "127.0.0.1:0".parse().unwrap()).await
    }

    pub async fn start_on(state: AppState, addr: SocketAddr) -> Server {
        let listener = bind_retrying(addr).await;
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(migru_server::serve(listener, state.clone(), async move {
            let _ = stopped.await;
        }));
        Server { addr, state, stop: Some(stop), task: Some(task) }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Graceful stop: waits for in-flight requests.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server io");
        }
    }

    /// Hard stop: aborts the task, dropping connections mid-request (a crash).
    pub async fn kill(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

async fn bind_retrying(addr: SocketAddr) -> tokio::net::TcpListener {
    for _ in 0..100 {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => return listener,
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
        }
    }
    panic!("cannot bind {addr}");
}

/// A record line in the contract's object form with a fresh id.
pub fn symptom(intensity: u8, ts: &str) -> serde_json::Value {
    serde_json::json!({ "id": uuid::Uuid::now_v7(), "ts": ts, "kind": "symptom", "intensity": intensity })
}

/// An RFC 3339 time `minutes` before now.
pub fn minutes_ago(minutes: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::minutes(minutes)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// POSTs `body` as JSON to `base` + `path` with the protocol header and, when given, the
/// device's bearer token; the answer as it came (tests that expect a refusal read its status).
pub async fn post_raw(http: &reqwest::Client, base: &str, path: &str, token: Option<&str>, body: &serde_json::Value) -> reqwest::Response {
    let mut request = http.post(format!("{base}{path}")).header("migru-protocol", "1").json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap_or_else(|e| panic!("POST {path}: {e}"))
}

/// [`post_raw`] that expects a 2xx answer and returns its JSON.
pub async fn post(http: &reqwest::Client, base: &str, path: &str, token: Option<&str>, body: serde_json::Value) -> serde_json::Value {
    let response = post_raw(http, base, path, token, &body).await;
    assert!(response.status().is_success(), "POST {path}: {}", response.status());
    response.json().await.unwrap_or_else(|e| panic!("POST {path}: the answer is not JSON: {e}"))
}

/// A new family created by a parent's device: (family id, the parent's token).
pub async fn new_family(http: &reqwest::Client, base: &str) -> (uuid::Uuid, String) {
    let reply = post(http, base, "/v1/families", None, serde_json::json!({"name": "F", "device_name": "mum's phone"})).await;
    let family_id = uuid::Uuid::parse_str(reply["family_id"].as_str().expect("family_id")).expect("family_id is a uuid");
    (family_id, reply["token"].as_str().expect("token").to_owned())
}

/// A device paired into the parent's family with `role` (`child` or `parent`): its token.
pub async fn pair(http: &reqwest::Client, base: &str, parent: &str, role: &str) -> String {
    let code = post(http, base, "/v1/pairing-codes", Some(parent), serde_json::json!({"role": role})).await;
    let reply = post(http, base, "/v1/pair", None, serde_json::json!({"code": code["code"], "device_name": role})).await;
    reply["token"].as_str().expect("token").to_owned()
}

/// GETs `base` + `path` with the protocol header and the device's bearer token; expects a 2xx
/// answer and returns its JSON.
pub async fn get(http: &reqwest::Client, base: &str, path: &str, token: &str) -> serde_json::Value {
    let response = http
        .get(format!("{base}{path}"))
        .header("migru-protocol", "1")
        .bearer_auth(token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    assert!(response.status().is_success(), "GET {path}: {}", response.status());
    response.json().await.unwrap_or_else(|e| panic!("GET {path}: the answer is not JSON: {e}"))
}
