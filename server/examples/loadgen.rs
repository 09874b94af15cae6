//! Load generator: a real server on loopback, `DEVICES` child devices (one family each) pushing
//! pre-built batches concurrently. Reports push throughput and request-latency percentiles.
//!
//!     cargo run --release -p migru-server --example loadgen -- [DATABASE_URL] [DEVICES] [BATCH] [BATCHES_PER_DEVICE]
//!
//! DATABASE_URL defaults to a fresh SQLite file; pass `postgres://…` for PostgreSQL (use an
//! empty database or schema). Latency is measured per push request, client side, on loopback.

use std::time::{Duration, Instant};

use migru_server::{AppState, Limits};
use serde_json::json;

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let dir = tempfile::tempdir()?;
    let url = args.get(1).cloned().unwrap_or_else(|| format!("sqlite:{}", dir.path().join("load.db").display()));
    let devices: usize = args.get(2).map_or(Ok(64), |s| s.parse())?;
    let batch: usize = args.get(3).map_or(Ok(1000), |s| s.parse())?;
    let batches: usize = args.get(4).map_or(Ok(10), |s| s.parse())?;

    let store = migru_server::storage::open(&url).await?;
    let limits = Limits { device_rate_per_s: 1e6, device_burst: 1e6, anonymous_per_min: 1e6, ..Limits::default() };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(migru_server::serve(listener, AppState::new(store, limits), std::future::pending()));

    let http = reqwest::Client::builder().pool_max_idle_per_host(devices * 2).build()?;
    let mut tokens = Vec::with_capacity(devices);
    for i in 0..devices {
        let reply: serde_json::Value = http
            .post(format!("{base}/v1/families"))
            .header("migru-protocol", "1")
            .json(&json!({"name": format!("load {i}"), "device_name": "child"}))
            .send()
            .await?
            .json()
            .await?;
        tokens.push(reply["token"].as_str().unwrap_or_default().to_owned());
    }
    let now = chrono::Utc::now();
    let bodies: Vec<Vec<String>> = (0..devices)
        .map(|_| {
            (0..batches)
                .map(|_| {
                    let records: Vec<_> = (0..batch)
                        .map(|i| {
                            let ts = (now - chrono::Duration::seconds(i as i64)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                            json!({"id": uuid::Uuid::now_v7(), "ts": ts, "kind": "hr", "bpm": 60 + i % 40})
                        })
                        .collect();
                    json!({ "records": records }).to_string()
                })
                .collect()
        })
        .collect();

    let started = Instant::now();
    let tasks: Vec<_> = tokens
        .into_iter()
        .zip(bodies)
        .map(|(token, bodies)| {
            let (http, base) = (http.clone(), base.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(bodies.len());
                let mut accepted = 0usize;
                for body in bodies {
                    let sent = Instant::now();
                    let reply: serde_json::Value = http
                        .post(format!("{base}/v1/sync/push"))
                        .header("migru-protocol", "1")
                        .header("content-type", "application/json")
                        .bearer_auth(&token)
                        .body(body)
                        .send()
                        .await?
                        .json()
                        .await?;
                    latencies.push(sent.elapsed());
                    accepted += reply["accepted"].as_array().map_or(0, Vec::len);
                }
                anyhow::Ok((latencies, accepted))
            })
        })
        .collect();
    let mut latencies: Vec<Duration> = Vec::new();
    let mut accepted = 0;
    for task in tasks {
        let (mine, count) = task.await??;
        latencies.extend(mine);
        accepted += count;
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1).min(latencies.len() - 1)];
    let backend = if url.starts_with("sqlite") { "sqlite" } else { "postgres" };
    println!(
        "{backend}: {devices} devices x {batches} pushes x {batch} records: {accepted} accepted in {:.2} s = {:.0} records/s; \
         push latency n={} p50={:.1} ms p99={:.1} ms max={:.1} ms",
        elapsed.as_secs_f64(),
        accepted as f64 / elapsed.as_secs_f64(),
        latencies.len(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
    );
    Ok(())
}
