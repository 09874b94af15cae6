//! Event-store benchmarks (issue 2): durable single append latency (p50/p99), JSONL import
//! throughput (the sample mix, and a simulated wearable cohort: 200 children over 28 days, 185k
//! records, 78 % `env`, interleaved by time), and bytes per million
//! events — each beside a peer measured in the same run: plain rusqlite with the same pragmas and
//! no validation, ids or derived rows.
//!
//! Run: `cargo bench -p migru-core --bench store`.

use std::io::Cursor;
use std::time::{Duration, Instant};

use chrono::DateTime;
use criterion::{Criterion, Throughput};
use migru_core::event::{Body, Record, encode_line};
use migru_core::exchange::import_jsonl;
use migru_core::store::Store;

fn sample_lines(records: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut written = 0;
    let mut user = 0;
    while written < records {
        let today = DateTime::parse_from_rfc3339("2026-03-10T00:00:00+01:00").unwrap();
        for mut record in migru_core::sample::diary(user, 60, today) {
            record.user = format!("child-{user}");
            out.extend_from_slice(encode_line(&record).as_bytes());
            out.push(b'\n');
            written += 1;
            if written == records {
                break;
            }
        }
        user += 1;
    }
    out
}

fn peer_connection(path: &std::path::Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
    conn.execute_batch("CREATE TABLE IF NOT EXISTS raw (id INTEGER PRIMARY KEY, line TEXT NOT NULL)").unwrap();
    conn
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// p50/p99 of single durable appends: criterion reports medians, so the tail is measured here.
fn append_latency_percentiles() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("lat.db")).unwrap();
    let peer = peer_connection(&dir.path().join("peer.db"));
    let mut ours = Vec::with_capacity(20_000);
    let mut theirs = Vec::with_capacity(20_000);
    let ts = DateTime::parse_from_rfc3339("2026-03-10T09:00:00+01:00").unwrap();
    for i in 0..20_000i64 {
        let record = Record::new(ts + chrono::Duration::milliseconds(i), Body::Message { text: format!("my head hurts {i}") });
        let line = encode_line(&record);
        let start = Instant::now();
        store.append(&record).unwrap();
        ours.push(start.elapsed());
        let start = Instant::now();
        peer.execute("INSERT INTO raw (line) VALUES (?1)", [&line]).unwrap();
        theirs.push(start.elapsed());
    }
    ours.sort();
    theirs.sort();
    println!(
        "append latency (20,000 durable single-event transactions): migru p50 {:?} p99 {:?} | plain rusqlite p50 {:?} p99 {:?} | ratio p50 {:.2} p99 {:.2}",
        percentile(&ours, 0.5),
        percentile(&ours, 0.99),
        percentile(&theirs, 0.5),
        percentile(&theirs, 0.99),
        percentile(&ours, 0.5).as_secs_f64() / percentile(&theirs, 0.5).as_secs_f64(),
        percentile(&ours, 0.99).as_secs_f64() / percentile(&theirs, 0.99).as_secs_f64(),
    );
}

/// Bytes on disk per million events of the sample mix (after a checkpoint).
fn bytes_per_million_events() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("million.db");
    let store = Store::open(&path).unwrap();
    let lines = sample_lines(1_000_000);
    let start = Instant::now();
    let report = import_jsonl(&store, Cursor::new(&lines), |_| {}).unwrap();
    let elapsed = start.elapsed();
    let stats = store.stats().unwrap();
    println!(
        "1,000,000 events of the sample mix: imported {} in {:.2?} ({:.0} records/s); {} bytes on disk = {:.1} MB per million events ({} bytes of JSONL input)",
        report.imported,
        elapsed,
        report.imported as f64 / elapsed.as_secs_f64(),
        stats.file_bytes,
        stats.file_bytes as f64 / 1e6 * 1e6 / report.imported as f64,
        lines.len(),
    );
}

/// The `migru simulate --children 200 --days 28 --seed 7` cohort as JSON Lines (185,493 records).
fn simulated_lines() -> (Vec<u8>, usize) {
    let config = migru_core::simulate::Config { children: 200, days: 28, seed: 7, ..Default::default() };
    let (records, _truth) = migru_core::simulate::cohort(&config);
    let mut out = Vec::new();
    for record in &records {
        out.extend_from_slice(encode_line(record).as_bytes());
        out.push(b'\n');
    }
    (out, records.len())
}

fn import_throughput(c: &mut Criterion) {
    let (lines, records) = simulated_lines();
    import_group(c, "import_simulated_cohort", &lines, records);
    let records = 100_000;
    let lines = sample_lines(records);
    import_group(c, "import_100k", &lines, records);
}

fn import_group(c: &mut Criterion, name: &str, lines: &[u8], records: usize) {
    let mut group = c.benchmark_group(name);
    group.sample_size(10).measurement_time(Duration::from_secs(20)).throughput(Throughput::Elements(records as u64));
    group.bench_function("migru_import_jsonl", |b| {
        b.iter_with_setup(
            || {
                let dir = tempfile::tempdir().unwrap();
                let store = Store::open(dir.path().join("i.db")).unwrap();
                (dir, store)
            },
            |(_dir, store)| import_jsonl(&store, Cursor::new(lines), |_| {}).unwrap(),
        )
    });
    group.bench_function("peer_plain_rusqlite_raw_lines", |b| {
        b.iter_with_setup(
            || {
                let dir = tempfile::tempdir().unwrap();
                let conn = peer_connection(&dir.path().join("p.db"));
                (dir, conn)
            },
            |(_dir, mut conn)| {
                let tx = conn.transaction().unwrap();
                {
                    let mut stmt = tx.prepare("INSERT INTO raw (line) VALUES (?1)").unwrap();
                    for line in lines.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                        stmt.execute([std::str::from_utf8(line).unwrap()]).unwrap();
                    }
                }
                tx.commit().unwrap();
            },
        )
    });
    group.finish();
}

fn single_append(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("a.db")).unwrap();
    let peer = peer_connection(&dir.path().join("peer.db"));
    let ts = DateTime::parse_from_rfc3339("2026-03-10T09:00:00+01:00").unwrap();
    let mut i = 0i64;
    let mut group = c.benchmark_group("append_one_durable");
    group.bench_function("migru_store_append", |b| {
        b.iter(|| {
            i += 1;
            let record = Record::new(ts + chrono::Duration::milliseconds(i), Body::Message { text: format!("tummy ache {i}") });
            store.append(&record).unwrap()
        })
    });
    group.bench_function("peer_plain_rusqlite_insert", |b| {
        b.iter(|| {
            i += 1;
            peer.execute("INSERT INTO raw (line) VALUES (?1)", [format!("tummy ache {i}")]).unwrap()
        })
    });
    group.finish();
}

fn main() {
    append_latency_percentiles();
    bytes_per_million_events();
    let mut criterion = Criterion::default().configure_from_args();
    single_append(&mut criterion);
    import_throughput(&mut criterion);
    criterion.final_summary();
}
