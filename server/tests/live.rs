//! Against a real listener on loopback: live alerts, graceful shutdown, TLS-free HTTP/1.

mod common;

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use migru_server::AppState;
use serde_json::{Value, json};

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    fn new(base: String) -> Client {
        Client { http: reqwest::Client::new(), base }
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Value {
        common::post(&self.http, &self.base, path, token, body).await
    }

    async fn enrol(&self, parent: Option<&str>, role: &str) -> String {
        match parent {
            None => common::new_family(&self.http, &self.base).await.1,
            Some(parent) => common::pair(&self.http, &self.base, parent, role).await,
        }
    }

    /// Opens the SSE stream and returns a receiver of `alert` event data.
    async fn alerts(&self, token: &str) -> tokio::sync::mpsc::UnboundedReceiver<Value> {
        let response = self
            .http
            .get(format!("{}/v1/alerts/stream", self.base))
            .header("migru-protocol", "1")
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut stream = response.bytes_stream();
            let mut buffer = String::new();
            while let Some(Ok(chunk)) = stream.next().await {
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find("\n\n") {
                    let event: String = buffer.drain(..end + 2).collect();
                    if event.contains("event: alert") {
                        let data = event.lines().find_map(|l| l.strip_prefix("data: ")).unwrap_or("null");
                        let _ = tx.send(serde_json::from_str(data).unwrap());
                    }
                }
            }
        });
        rx
    }
}

/// The child pushes a red-flag symptom; every stream must carry the alert within 1 s. Returns
/// how long the last one took.
async fn push_red_flag_heard_by(
    client: &Client,
    child: &str,
    streams: &mut [&mut tokio::sync::mpsc::UnboundedReceiver<Value>],
) -> Duration {
    let started = Instant::now();
    let pushed = client
        .post("/v1/sync/push", Some(child), json!({"records": [common::symptom(9, &common::minutes_ago(1))]}))
        .await;
    assert_eq!(pushed["accepted"].as_array().unwrap().len(), 1);
    for stream in streams.iter_mut() {
        let alert = tokio::time::timeout(Duration::from_secs(1), stream.recv()).await.expect("alert within 1 s").unwrap();
        assert_eq!(alert["kind"], "alert");
        assert_eq!(alert["body"]["type"], "red_flag_symptom");
    }
    let latency = started.elapsed();
    assert!(latency < Duration::from_secs(1), "{latency:?}");
    latency
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_red_flag_reaches_every_parent_device_of_the_family_within_a_second() {
    let (store, _dir) = common::sqlite().await;
    let server = common::Server::start(AppState::new(store, common::test_limits())).await;
    let client = Client::new(server.url());
    let mum = client.enrol(None, "parent").await;
    let dad = client.enrol(Some(&mum), "parent").await;
    let child = client.enrol(Some(&mum), "child").await;
    let stranger = client.enrol(None, "parent").await;
    let (mut mum_stream, mut dad_stream) = (client.alerts(&mum).await, client.alerts(&dad).await);
    let mut stranger_stream = client.alerts(&stranger).await;
    tokio::time::sleep(Duration::from_millis(100)).await;

    let latency = push_red_flag_heard_by(&client, &child, &mut [&mut mum_stream, &mut dad_stream]).await;
    eprintln!("alert push-to-both-parents latency: {latency:?}");
    assert!(
        tokio::time::timeout(Duration::from_millis(200), stranger_stream.recv()).await.is_err(),
        "another family's parent hears nothing"
    );
    // A parent that was offline finds the alert through pull.
    let pulled = common::get(&client.http, &client.base, "/v1/sync/pull", &dad).await;
    assert_eq!(pulled["changes"][0]["kind"], "alert");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_in_flight_requests_and_closes_streams() {
    let (store, _dir) = common::sqlite().await;
    let server = common::Server::start(AppState::new(store, common::test_limits())).await;
    let client = Client::new(server.url());
    let parent = client.enrol(None, "parent").await;
    let _stream = client.alerts(&parent).await; // must not hold shutdown open
    let ts = common::minutes_ago(1);
    let body = json!({"records": (0..100).map(|_| common::symptom(2, &ts)).collect::<Vec<_>>()}).to_string();
    let (first, second) = body.split_at(body.len() / 2);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Result<Vec<u8>, std::io::Error>>();
    tx.send(Ok(first.as_bytes().to_vec())).unwrap();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    let push = {
        let request = client
            .http
            .post(format!("{}/v1/sync/push", client.base))
            .header("migru-protocol", "1")
            .header("content-type", "application/json")
            .bearer_auth(&parent)
            .body(reqwest::Body::wrap_stream(stream));
        tokio::spawn(request.send())
    };
    // The request is half sent when shutdown begins; the rest arrives afterwards.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopping = tokio::spawn(server.stop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!stopping.is_finished(), "shutdown waits for the in-flight request");
    tx.send(Ok(second.as_bytes().to_vec())).unwrap();
    drop(tx);
    let response = push.await.unwrap().expect("in-flight push answered");
    assert_eq!(response.status(), 200);
    let reply: Value = response.json().await.unwrap();
    assert_eq!(reply["accepted"].as_array().unwrap().len(), 100);
    tokio::time::timeout(Duration::from_secs(10), stopping).await.expect("shutdown finishes").unwrap();
}

/// Two server processes on one PostgreSQL database (as behind a load balancer): a red flag
/// pushed through one reaches the family's parents on both within a second, once each, and
/// nobody outside the family; when the second server's listening connection is cut, it
/// reconnects and hears the next one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_red_flag_reaches_parents_connected_to_another_server_on_the_same_database() {
    let Some((store_a, url)) = common::postgres().await else { return };
    // Server b's connections carry a name of their own, so the test can cut exactly its listener.
    let name = format!("live_{}", uuid::Uuid::now_v7().simple());
    let url_b = format!("{url}&application_name={name}");
    let store_b = migru_server::storage::open(&url_b).await.unwrap();
    let a = common::Server::start(AppState::new(store_a, common::test_limits())).await;
    let b = common::Server::start(AppState::new(store_b, common::test_limits())).await;
    let (on_a, on_b) = (Client::new(a.url()), Client::new(b.url()));
    let mum = on_a.enrol(None, "parent").await;
    let dad = on_b.enrol(Some(&mum), "parent").await;
    let child = on_a.enrol(Some(&mum), "child").await;
    let stranger = on_b.enrol(None, "parent").await;
    let mut mum_on_a = on_a.alerts(&mum).await;
    let mut dad_on_b = on_b.alerts(&dad).await;
    let mut stranger_on_b = on_b.alerts(&stranger).await;
    tokio::time::sleep(Duration::from_millis(100)).await;

    let latency = push_red_flag_heard_by(&on_a, &child, &mut [&mut mum_on_a, &mut dad_on_b]).await;
    eprintln!("alert push-to-parents-on-two-servers latency: {latency:?}");
    for stream in [&mut mum_on_a, &mut dad_on_b, &mut stranger_on_b] {
        assert!(tokio::time::timeout(Duration::from_millis(300), stream.recv()).await.is_err(), "once, and family only");
    }

    let (admin, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let listeners = "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query = 'LISTEN migru_alerts'";
    let cut: Vec<i32> = admin.query(listeners, &[&name]).await.unwrap().iter().map(|row| row.get(0)).collect();
    assert_eq!(cut.len(), 1, "server b listens on one connection");
    admin.execute("SELECT pg_terminate_backend($1)", &[&cut[0]]).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now: Vec<i32> = admin.query(listeners, &[&name]).await.unwrap().iter().map(|row| row.get(0)).collect();
        if now.iter().any(|pid| !cut.contains(pid)) {
            break;
        }
        assert!(Instant::now() < deadline, "server b did not listen again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    push_red_flag_heard_by(&on_a, &child, &mut [&mut dad_on_b]).await;
    a.stop().await;
    b.stop().await;
}
