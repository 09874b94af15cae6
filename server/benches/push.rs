//! The push path with batches of 1,000 records (issue 6), layer by layer, beside a peer in the same
//! run: raw `rusqlite` inserting the same rows into the same table with one prepared statement in
//! one transaction — the floor any SQLite-backed server could reach.
//!
//! - `raw_rusqlite_insert` (peer): the 1,000 rows, nothing else;
//! - `storage_push_records`: `SqliteStore::push_records` (outcome per record, alerts, the
//!   blocking-pool hop);
//! - `http_push_handler`: the whole request through the router (`oneshot`, no socket): token
//!   check, JSON parsing, validation against the record contract, canonical encoding, SHA-256,
//!   storage, the response.
//!
//! With `MIGRU_TEST_POSTGRES_URL` set, a second group does the same on PostgreSQL (in a schema of
//! its own, dropped afterwards):
//!
//! - `raw_on_conflict_insert` (peer): the same rows as one `INSERT … SELECT FROM unnest(…) ON
//!   CONFLICT DO NOTHING RETURNING id` inside a transaction — what the store did before it tried a
//!   plain INSERT first;
//! - `storage_push_records`: `PostgresStore::push_records` (plain INSERT committed on its own,
//!   falling back to the ON CONFLICT transaction when an id is already stored).
//!
//!     cargo bench -p migru-server --bench push

use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use migru_server::auth::sha256;
use migru_server::storage::{IncomingRecord, SqliteStore, Storage};
use migru_server::{AppState, Limits};
use tower::ServiceExt;
use uuid::Uuid;

const BATCH: usize = 1_000;

fn record_json(i: usize, now: chrono::DateTime<chrono::Utc>) -> serde_json::Value {
    let ts = (now - chrono::Duration::seconds(i as i64)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    serde_json::json!({"id": Uuid::now_v7(), "ts": ts, "kind": "hr", "bpm": 60 + i % 40})
}

fn incoming(now_ms: i64) -> Vec<IncomingRecord> {
    (0..BATCH)
        .map(|i| {
            let id = Uuid::now_v7();
            let line = format!(r#"{{"id":"{id}","ts":{},"kind":"hr","bpm":{}}}"#, now_ms - i as i64 * 1000, 60 + i % 40);
            IncomingRecord {
                id,
                kind: "hr".into(),
                ts_ms: now_ms - i as i64 * 1000,
                content_hash: sha256(line.as_bytes()),
                line,
                alert: None,
            }
        })
        .collect()
}

fn raw_peer(dir: &std::path::Path) -> rusqlite::Connection {
    std::fs::create_dir_all(dir).unwrap();
    let conn = rusqlite::Connection::open(dir.join("raw.db")).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
    // The server's page cache, so the comparison isolates the server's own work.
    conn.pragma_update(None, "cache_size", -32 * 1024).unwrap();
    conn.execute_batch(
        "CREATE TABLE records (
            family_id TEXT NOT NULL, id TEXT NOT NULL, device_id TEXT NOT NULL, kind TEXT NOT NULL,
            ts_ms INTEGER NOT NULL, content_hash BLOB NOT NULL, line TEXT NOT NULL,
            received_at_ms INTEGER NOT NULL, PRIMARY KEY (family_id, id)) WITHOUT ROWID;
         CREATE INDEX records_family_ts ON records(family_id, ts_ms);",
    )
    .unwrap();
    conn
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let now_ms = chrono::Utc::now().timestamp_millis();
    let (family, device) = (Uuid::now_v7(), Uuid::now_v7());

    let mut group = c.benchmark_group("push_1000_records_sqlite");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(30);

    // The peer twice: as a plain rusqlite user gets it (SQLite checkpoints the WAL inside the
    // commit that crosses 1,000 pages), and with checkpoints off the insert path as the server does.
    for (name, autocheckpoint) in [("raw_rusqlite_insert", true), ("raw_rusqlite_insert_no_autocheckpoint", false)] {
        let mut raw = raw_peer(&dir.path().join(name));
        if !autocheckpoint {
            raw.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        }
        group.bench_function(name, |b| {
            b.iter_batched(
                || incoming(now_ms),
                |records| {
                    let tx = raw.transaction().unwrap();
                    {
                        let mut insert = tx
                            .prepare_cached(
                                "INSERT INTO records (family_id, id, device_id, kind, ts_ms, content_hash, line, received_at_ms)
                                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING",
                            )
                            .unwrap();
                        let (family, device) = (family.to_string(), device.to_string());
                        for r in &records {
                            insert
                                .execute(rusqlite::params![family, r.id.to_string(), device, r.kind, r.ts_ms, &r.content_hash[..], r.line, now_ms])
                                .unwrap();
                        }
                    }
                    tx.commit().unwrap();
                },
                BatchSize::LargeInput,
            )
        });
    }

    let store: Arc<dyn Storage> = Arc::new(rt.block_on(SqliteStore::open(dir.path().join("store.db").to_str().unwrap())).unwrap());
    group.bench_function("storage_push_records", |b| {
        b.iter_batched(
            || incoming(now_ms),
            |records| rt.block_on(store.push_records(family, device, &records, now_ms)).unwrap(),
            BatchSize::LargeInput,
        )
    });

    let http_store = rt.block_on(migru_server::storage::open(&format!("sqlite:{}", dir.path().join("http.db").display()))).unwrap();
    let limits = Limits { device_rate_per_s: 1e9, device_burst: 1e9, anonymous_per_min: 1e9, ..Limits::default() };
    let app = migru_server::app(AppState::new(http_store, limits));
    let token = rt.block_on(async {
        let request = axum::http::Request::post("/v1/families")
            .header("migru-protocol", "1")
            .header("content-type", "application/json")
            .body(axum::body::Body::from(r#"{"name":"bench","device_name":"child"}"#))
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let bytes = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
        let reply: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        reply["token"].as_str().unwrap().to_owned()
    });
    group.bench_function("http_push_handler", |b| {
        b.iter_batched(
            || {
                let now = chrono::Utc::now();
                let records: Vec<_> = (0..BATCH).map(|i| record_json(i, now)).collect();
                serde_json::json!({ "records": records }).to_string()
            },
            |body| {
                rt.block_on(async {
                    let request = axum::http::Request::post("/v1/sync/push")
                        .header("migru-protocol", "1")
                        .header("content-type", "application/json")
                        .header("authorization", format!("Bearer {token}"))
                        .body(axum::body::Body::from(body))
                        .unwrap();
                    let response = app.clone().oneshot(request).await.unwrap();
                    assert_eq!(response.status(), 200);
                    http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes().len()
                })
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
    if let Ok(url) = std::env::var("MIGRU_TEST_POSTGRES_URL") {
        bench_postgres(c, &rt, &url, now_ms);
    }
}

fn bench_postgres(c: &mut Criterion, rt: &tokio::runtime::Runtime, url: &str, now_ms: i64) {
    let schema = format!("bench_push_{}", Uuid::now_v7().simple());
    let separator = if url.contains('?') { '&' } else { '?' };
    let scoped = format!("{url}{separator}options=-csearch_path%3D{schema}");
    let (admin, store, mut raw) = rt.block_on(async {
        let (admin, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(connection);
        admin.batch_execute(&format!("CREATE SCHEMA {schema}")).await.unwrap();
        let store = migru_server::storage::open(&scoped).await.unwrap();
        let (raw, connection) = tokio_postgres::connect(&scoped, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(connection);
        (admin, store, raw)
    });
    let (family, device) = (Uuid::now_v7().to_string(), Uuid::now_v7().to_string());

    let mut group = c.benchmark_group("push_1000_records_postgres");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(30);
    group.bench_function("raw_on_conflict_insert", |b| {
        b.iter_batched(
            || incoming(now_ms),
            |records| {
                let ids: Vec<String> = records.iter().map(|r| r.id.to_string()).collect();
                let kinds: Vec<&str> = records.iter().map(|r| r.kind.as_str()).collect();
                let ts: Vec<i64> = records.iter().map(|r| r.ts_ms).collect();
                let hashes: Vec<&[u8]> = records.iter().map(|r| &r.content_hash[..]).collect();
                let lines: Vec<&str> = records.iter().map(|r| r.line.as_str()).collect();
                rt.block_on(async {
                        let tx = raw.transaction().await.unwrap();
                        let rows = tx
                            .query(
                                "INSERT INTO records (family_id, id, device_id, kind, ts_ms, content_hash, line, received_at_ms)
                                 SELECT $1, r.id, $2, r.kind, r.ts_ms, r.h, r.line, $3
                                 FROM unnest($4::text[], $5::text[], $6::int8[], $7::bytea[], $8::text[]) AS r(id, kind, ts_ms, h, line)
                                 ON CONFLICT DO NOTHING RETURNING id",
                                &[&family, &device, &now_ms, &ids, &kinds, &ts, &hashes, &lines],
                            )
                            .await
                            .unwrap();
                        tx.commit().await.unwrap();
                        rows.len()
                })
            },
            BatchSize::LargeInput,
        )
    });
    let (family_id, device_id) = (Uuid::now_v7(), Uuid::now_v7());
    group.bench_function("storage_push_records", |b| {
        b.iter_batched(
            || incoming(now_ms),
            |records| rt.block_on(store.push_records(family_id, device_id, &records, now_ms)).unwrap(),
            BatchSize::LargeInput,
        )
    });
    group.finish();
    rt.block_on(admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))).unwrap();
}

criterion_group!(benches, bench);
criterion_main!(benches);
