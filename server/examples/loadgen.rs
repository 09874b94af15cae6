//! Load generator: a real server on loopback, `DEVICES` child devices (one family each) pushing
//! pre-built batches concurrently over HTTP/1.1 keep-alive connections.
//!
//!     cargo run --release -p migru-server --example loadgen -- DATABASE_URL DEVICES BATCH PUSHES MODE [INTERVAL_MS]
//!
//! `DATABASE_URL`: `sqlite` for a fresh SQLite file, or `postgres://…` (an empty database or
//! schema). Two modes, reported separately because they answer different questions:
//!
//! - `saturate`: every device pushes back to back, so the server is always busy. The result is
//!   the **saturation throughput** (records/s); latencies here are queueing time, not service.
//! - `paced`: every device pushes one batch every `INTERVAL_MS` (random phase per device), an
//!   **offered load** of DEVICES × BATCH / INTERVAL records/s. Latency is measured from each
//!   push's scheduled send time, so a server that falls behind is charged for the wait
//!   (no coordinated omission).

use std::time::{Duration, Instant};

use migru_server::{AppState, Limits};
use serde_json::json;

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let dir = tempfile::tempdir()?;
    let url = match args.get(1).map(String::as_str) {
        None | Some("sqlite") => format!("sqlite:{}", dir.path().join("load.db").display()),
        Some(other) => other.to_owned(),
    };
    let devices: usize = args.get(2).map_or(Ok(64), |s| s.parse())?;
    let batch: usize = args.get(3).map_or(Ok(1000), |s| s.parse())?;
    let pushes: usize = args.get(4).map_or(Ok(10), |s| s.parse())?;
    let paced = args.get(5).is_some_and(|m| m == "paced");
    let interval = Duration::from_millis(args.get(6).map_or(Ok(1000), |s| s.parse())?);

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
            (0..pushes)
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
        .enumerate()
        .map(|(d, (token, bodies))| {
            let (http, base) = (http.clone(), base.clone());
            // Spread the devices' phases evenly over one interval.
            let phase = interval.mul_f64(d as f64 / devices as f64);
            tokio::spawn(async move {
                let mut latencies: Vec<(usize, Duration, Duration)> = Vec::with_capacity(bodies.len());
                let mut accepted = 0usize;
                let first = Instant::now() + if paced { phase } else { Duration::ZERO };
                for (k, body) in bodies.into_iter().enumerate() {
                    let scheduled = if paced { first + interval * k as u32 } else { Instant::now() };
                    tokio::time::sleep_until(scheduled.into()).await;
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
                    latencies.push((k, scheduled.elapsed(), scheduled.saturating_duration_since(started)));
                    accepted += reply["accepted"].as_array().map_or(0, Vec::len);
                }
                anyhow::Ok((latencies, accepted))
            })
        })
        .collect();
    let mut all: Vec<(usize, Duration, Duration)> = Vec::new();
    let mut accepted = 0;
    for task in tasks {
        let (mine, count) = task.await??;
        all.extend(mine);
        accepted += count;
    }
    let elapsed = started.elapsed();
    // Each device's first push also opens its connection and warms the server's statement
    // caches; the steady state is reported without it as well.
    let mut latencies: Vec<Duration> = all.iter().map(|(_, d, _)| *d).collect();
    let mut steady: Vec<Duration> = all.iter().filter(|(k, _, _)| *k > 0).map(|(_, d, _)| *d).collect();
    latencies.sort();
    steady.sort();
    let at = |sorted: &[Duration], p: f64| {
        sorted.get(((sorted.len() as f64 * p).ceil() as usize).saturating_sub(1).min(sorted.len().saturating_sub(1))).copied().unwrap_or_default()
    };
    let pct = |p: f64| at(&latencies, p);
    let backend = if url.starts_with("sqlite") { "sqlite" } else { "postgres" };
    let mode = if paced {
        format!(
            "paced (offered {:.0} records/s: one push of {batch} per device every {} ms)",
            (devices * batch) as f64 / interval.as_secs_f64(),
            interval.as_millis()
        )
    } else {
        "saturate (back to back)".to_owned()
    };
    println!(
        "{backend} {mode}: {devices} devices x {pushes} pushes x {batch} records: {accepted} accepted in {:.2} s = {:.0} records/s; \
         push latency n={} p50={:.1} ms p90={:.1} ms p99={:.1} ms max={:.1} ms; \
         without each device's first push n={} p50={:.1} ms p99={:.1} ms",
        elapsed.as_secs_f64(),
        accepted as f64 / elapsed.as_secs_f64(),
        latencies.len(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.90).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
        steady.len(),
        at(&steady, 0.50).as_secs_f64() * 1e3,
        at(&steady, 0.99).as_secs_f64() * 1e3,
    );
    // LOADGEN_SLOWEST=N: when the slowest pushes were sent, to match a tail with what else ran.
    if let Some(n) = std::env::var("LOADGEN_SLOWEST").ok().and_then(|v| v.parse::<usize>().ok()) {
        all.sort_by_key(|p| std::cmp::Reverse(p.1));
        for (k, latency, sent) in all.iter().take(n) {
            println!("  slow: push {k} sent at +{:.3} s took {:.1} ms", sent.as_secs_f64(), latency.as_secs_f64() * 1e3);
        }
    }
    Ok(())
}
