//! The core's sync client against a real server on loopback, through faults: a proxy that
//! records the bytes on the wire and cuts connections mid-response, a server crash and restart
//! mid-push, a client killed mid-sync. Afterwards the server holds exactly the union of the
//! records, each once, and the outbox is empty.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use migru_core::event::{Body, Record, jsonl::parse_ts};
use migru_core::store::Store;
use migru_core::sync::{SyncClient, SyncConfig};
use migru_server::AppState;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

const SECRET: &str = "zebra-umbrella-secret";

/// A child's store with `n` records: every tenth a message with private words, every tenth+1 a
/// symptom that also carries them.
fn child_store(dir: &std::path::Path, n: usize) -> (Arc<Store>, usize) {
    let store = Store::open(dir.join("phone.db")).unwrap();
    let base = chrono::Utc::now() - chrono::Duration::hours(2);
    let records: Vec<Record> = (0..n)
        .map(|i| {
            let ts = parse_ts(&(base + chrono::Duration::seconds(i as i64)).to_rfc3339()).unwrap();
            let body = match i % 10 {
                0 => Body::Message { text: format!("{SECRET} {i}") },
                1 => Body::Symptom { intensity: 3, text: Some(SECRET.into()) },
                _ => Body::Hr { bpm: 60.0 + (i % 40) as f64 },
            };
            let mut record = Record::new(ts, body);
            record.id = Some(Uuid::now_v7());
            record
        })
        .collect();
    store.append_batch(&records).unwrap();
    let shareable = records.iter().filter(|r| !matches!(r.body, Body::Message { .. })).count();
    (Arc::new(store), shareable)
}

/// What is left to send: events after the push cursor and queued items.
fn outbox_len(store: &Store) -> usize {
    store.pending_push().unwrap() as usize
}

/// Enrols a family with a child device; returns (family id, child token).
async fn enrol(base: &str) -> (Uuid, String) {
    let http = reqwest::Client::new();
    let (family, parent) = common::new_family(&http, base).await;
    (family, common::pair(&http, base, &parent, "child").await)
}

fn config(server: String, token: String) -> SyncConfig {
    SyncConfig {
        batch_size: 250,
        max_attempts: 40,
        base_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(300),
        request_timeout: Duration::from_secs(5),
        ..SyncConfig::new(server, token)
    }
}

/// A TCP proxy that keeps every byte the client sent and cuts the first `cuts` connections
/// after 20 bytes of the server's answer.
struct Proxy {
    addr: SocketAddr,
    sent: Arc<Mutex<Vec<u8>>>,
}

impl Proxy {
    async fn start(upstream: SocketAddr, cuts: usize) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let remaining_cuts = Arc::new(AtomicUsize::new(cuts));
        let captured = Arc::clone(&sent);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, upstream, Arc::clone(&captured), Arc::clone(&remaining_cuts)));
            }
        });
        Proxy { addr, sent }
    }

    fn wire(&self) -> String {
        String::from_utf8_lossy(&self.sent.lock().unwrap()).into_owned()
    }
}

async fn relay(client: tokio::net::TcpStream, upstream: SocketAddr, sent: Arc<Mutex<Vec<u8>>>, cuts: Arc<AtomicUsize>) {
    let pushing = std::sync::atomic::AtomicBool::new(false);
    let Ok(server) = tokio::net::TcpStream::connect(upstream).await else { return };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let up = async {
        let mut buffer = vec![0u8; 64 * 1024];
        while let Ok(n) = client_read.read(&mut buffer).await {
            if n == 0 || server_write.write_all(&buffer[..n]).await.is_err() {
                break;
            }
            if buffer[..n].starts_with(b"POST ") || buffer[..n].starts_with(b"GET ") {
                pushing.store(buffer[..n].starts_with(b"POST /v1/sync/push"), Ordering::SeqCst);
            }
            sent.lock().unwrap().extend_from_slice(&buffer[..n]);
        }
    };
    let down = async {
        let mut buffer = vec![0u8; 64 * 1024];
        while let Ok(n) = server_read.read(&mut buffer).await {
            if n == 0 {
                break;
            }
            let cut = pushing.load(Ordering::SeqCst)
                && cuts.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
            if cut {
                // The server has committed the push; the client sees half an answer.
                let _ = client_write.write_all(&buffer[..n.min(20)]).await;
                return;
            }
            if client_write.write_all(&buffer[..n]).await.is_err() {
                break;
            }
        }
    };
    tokio::select! {
        () = up => {},
        () = down => {},
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn words_never_cross_the_wire_without_opt_in_and_cut_answers_are_retried() {
    let dir = tempfile::tempdir().unwrap();
    let (store, shareable) = child_store(dir.path(), 2_000);
    let (server_store, _server_dir) = common::sqlite().await;
    let server = common::Server::start(AppState::new(server_store.clone(), common::test_limits())).await;
    let (family, token) = enrol(&server.url()).await;
    let proxy = Proxy::start(server.addr, 3).await;
    let client = SyncClient::new(config(format!("http://{}", proxy.addr), token)).unwrap();
    let progress = client.sync(&store, |_| {}, |_| Ok(())).await.unwrap();
    assert_eq!(outbox_len(&store), 0, "outbox drained");
    assert_eq!(server_store.count_records(family).await.unwrap() as usize, shareable, "each record once");
    assert_eq!(progress.kept_private, 200);
    assert_eq!(progress.accepted + progress.duplicate, shareable);
    assert!(progress.retries >= 3, "three cut answers, three retries: {progress:?}");
    assert!(progress.duplicate > 0, "the cut pushes had been stored; their re-sends are duplicates");
    let wire = proxy.wire();
    assert!(wire.contains("\"kind\":\"symptom\""), "the proxy saw the pushes");
    assert!(!wire.contains(SECRET), "private words crossed the wire");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn words_go_up_once_the_family_opts_in() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = child_store(dir.path(), 50);
    let (server_store, _server_dir) = common::sqlite().await;
    let server = common::Server::start(AppState::new(server_store.clone(), common::test_limits())).await;
    let (family, token) = enrol(&server.url()).await;
    server_store.set_family_settings(family, migru_server::storage::FamilySettings { share_text: true }).await.unwrap();
    let proxy = Proxy::start(server.addr, 0).await;
    let client = SyncClient::new(config(format!("http://{}", proxy.addr), token)).unwrap();
    client.sync(&store, |_| {}, |_| Ok(())).await.unwrap();
    assert_eq!(server_store.count_records(family).await.unwrap(), 50);
    assert!(proxy.wire().contains(SECRET));
    server.stop().await;
}

/// The phone keeps each pulled change with the server's sequence number: the seqs the server
/// assigned, increasing across pages of two; a page pulled again (the cursor reset, as after a
/// crash before it moved) stores nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulled_changes_are_stored_with_the_server_seq_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("phone.db")).unwrap();
    let (server_store, _server_dir) = common::sqlite().await;
    let limits = migru_server::Limits { max_pull_page: 2, ..common::test_limits() };
    let server = common::Server::start(AppState::new(server_store.clone(), limits)).await;
    let (family, token) = enrol(&server.url()).await;
    let mut appended = Vec::new();
    for n in 0..5 {
        let change = server_store
            .append_change(family, migru_server::storage::ChangeKind::Recommendation, &format!("r{n}"), &serde_json::json!({"n": n}), 1)
            .await
            .unwrap();
        appended.push(change.seq);
    }
    let client = SyncClient::new(config(server.url(), token)).unwrap();
    let stored_seqs = |store: &Store| {
        let mut seqs: Vec<Option<i64>> = store.pulled_changes(None, 100).unwrap().iter().map(|c| c.server_seq).collect();
        seqs.reverse(); // newest first on read
        seqs
    };
    let progress = client.sync(&store, |_| {}, |_| Ok(())).await.unwrap();
    assert_eq!(progress.changes_pulled, 5);
    let mut seqs: Vec<i64> = stored_seqs(&store).into_iter().map(|s| s.expect("server_seq stored")).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, appended, "the stored seqs are the server's");
    assert!(appended.windows(2).all(|w| w[0] < w[1]));
    store.set_setting(migru_core::sync::CURSOR_KEY, "c1.0").unwrap();
    let again = client.sync(&store, |_| {}, |_| Ok(())).await.unwrap();
    assert_eq!(again.changes_pulled, 5, "the replayed pages came down again");
    assert_eq!(store.pulled_changes(None, 100).unwrap().len(), 5, "and were stored once");
    server.stop().await;
}

/// A server on its own runtime, so a "crash" drops every task and connection at once.
struct Crashable {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

fn start_crashable(url: String, addr: SocketAddr) -> (Crashable, SocketAddr) {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (stop, stop_rx) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async {
            let store = migru_server::storage::open(&url).await.unwrap();
            let listener = loop {
                match tokio::net::TcpListener::bind(addr).await {
                    Ok(listener) => break listener,
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            };
            ready_tx.send(listener.local_addr().unwrap()).unwrap();
            tokio::spawn(migru_server::serve(listener, AppState::new(store, common::test_limits()), std::future::pending()));
        });
        let _ = stop_rx.recv();
        runtime.shutdown_background();
    });
    let addr = ready_rx.recv().unwrap();
    (Crashable { stop, thread }, addr)
}

impl Crashable {
    fn crash(self) {
        let _ = self.stop.send(());
        self.thread.join().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_crash_mid_push_and_a_killed_client_lose_and_duplicate_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (store, shareable) = child_store(dir.path(), 6_000);
    let server_dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", server_dir.path().join("server.db").display());
    let (server, addr) = start_crashable(url.clone(), "127.0.0.1:0".parse().unwrap());
    let base = format!("http://{addr}");
    let (family, token) = enrol(&base).await;

    // 1. The client is killed mid-sync (its task dropped between or inside requests).
    let client = SyncClient::new(config(base.clone(), token.clone())).unwrap();
    let killed = {
        let (store, client) = (Arc::clone(&store), client.clone());
        tokio::spawn(async move { client.sync(&store, |_| {}, |_| Ok(())).await })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    killed.abort();
    let _ = killed.await;
    let left_after_kill = outbox_len(&store);

    // 2. A new client resumes; the server crashes under it and comes back on the same port.
    let resumed = {
        let (store, client) = (Arc::clone(&store), SyncClient::new(config(base.clone(), token.clone())).unwrap());
        tokio::spawn(async move { client.sync(&store, |_| {}, |_| Ok(())).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let left_at_crash = outbox_len(&store);
    tokio::task::spawn_blocking(move || server.crash()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (server, _) = start_crashable(url.clone(), addr);
    let progress = resumed.await.unwrap().expect("the resumed sync finishes");
    eprintln!("left after kill: {left_after_kill}, at crash: {left_at_crash}, progress: {progress:?}");

    assert_eq!(outbox_len(&store), 0, "outbox drained");
    let check = migru_server::storage::open(&url).await.unwrap();
    assert_eq!(check.count_records(family).await.unwrap() as usize, shareable, "exactly the union, each once");
    tokio::task::spawn_blocking(move || server.crash()).await.unwrap();
}
