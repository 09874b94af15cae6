//! Pattern engine performance (issue 3):
//! - per-event update (target p99 < 50 µs), against recomputing the report per event (the peer);
//! - message → classified → stored → patterns updated → insight decision (target p99 < 1 ms);
//! - 1 million simulated events replayed (target < 5 s).
//!
//! Percentiles are measured over every call of a replay (criterion reports means/medians).
//! `cargo bench -p migru-core --bench patterns`

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset};
use criterion::{Criterion, criterion_group, criterion_main};
use migru_core::event::Record;
use migru_core::insights::on_message;
use migru_core::patterns::Engine;
use migru_core::simulate::{Config, cohort};
use migru_core::store::Store;

fn one_child(days: u32) -> Vec<Record> {
    cohort(&Config { children: 1, days, seed: 5, effect_share: 1.0, ..Config::default() }).0
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn summary(name: &str, mut samples: Vec<Duration>) {
    samples.sort_unstable();
    println!(
        "{name}: n={} median {:?} p99 {:?} p99.9 {:?} max {:?}",
        samples.len(),
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        percentile(&samples, 0.999),
        samples[samples.len() - 1]
    );
}

fn per_event(c: &mut Criterion) {
    let records = one_child(60);
    // Percentiles over a whole 60-day replay of one child.
    let mut engine = Engine::default();
    let mut samples = Vec::with_capacity(records.len());
    for r in &records {
        let t = Instant::now();
        black_box(engine.observe(r));
        samples.push(t.elapsed());
    }
    summary("per_event_update", samples);

    let (warm, rest) = records.split_at(records.len() - 500);
    let mut base = Engine::default();
    for r in warm {
        base.observe(r);
    }
    let mut group = c.benchmark_group("per_event");
    group.bench_function("incremental_update", |b| {
        b.iter_batched(
            || base.clone(),
            |mut engine| {
                for r in &rest[..100] {
                    black_box(engine.observe(r));
                }
            },
            criterion::BatchSize::LargeInput,
        )
    });
    group.bench_function("clone_only_baseline", |b| b.iter_batched(|| base.clone(), black_box, criterion::BatchSize::LargeInput));
    // The peer: what a non-incremental engine does per event (recompute everything).
    group.sample_size(10);
    group.bench_function("recompute_from_scratch_per_event", |b| {
        b.iter(|| {
            let mut engine = Engine::default();
            for r in warm {
                engine.observe(r);
            }
            black_box(engine.report("child-000"))
        })
    });
    group.bench_function("report_on_warm_state", |b| b.iter(|| black_box(base.report("child-000"))));
    group.finish();
}

fn message_to_decision(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("bench.db")).expect("store");
    let history = one_child(28);
    let mut engine = Engine::default();
    let appended = store.append_batch(&history).expect("append");
    for (r, a) in history.iter().zip(appended) {
        if let migru_core::store::Appended::Stored { seq, .. } = a {
            engine.observe_stored(seq, r);
        }
    }
    let user = "child-000";
    let last: DateTime<FixedOffset> = history.last().expect("records").ts;
    let texts = ["my head hurts", "i skipped breakfast", "resting helped", "hi migru", "so much homework", "headache again"];
    let mut samples = Vec::new();
    let mut looks = Vec::new();
    for i in 0..3_000u32 {
        let now = last + chrono::Duration::seconds(i64::from(i) * 37);
        let text = format!("{} {}", texts[i as usize % texts.len()], i);
        let t = Instant::now();
        black_box(on_message(&store, &mut engine, user, &text, now, "en").expect("turn"));
        let took = t.elapsed();
        samples.push(took);
        if engine.child(user).map_or(0, |c| c.conversations) % migru_core::insights::LOOK_EVERY == 0 {
            looks.push(took);
        }
    }
    // Percentiles over every single call (one `Instant` per turn), not criterion's batches.
    summary("message_to_decision", samples);
    summary("message_to_decision_look_turns_only", looks);
    // The peer, in the same run and the same store: the same messages classified and stored
    // only (`migru log`'s path), without the pattern update and the insight decision.
    let mut peer = Vec::new();
    for i in 3_000..6_000u32 {
        let now = last + chrono::Duration::seconds(i64::from(i) * 37);
        let text = format!("{} {}", texts[i as usize % texts.len()], i);
        let t = Instant::now();
        black_box(migru_core::companion::store_message(&store, user, &text, now).expect("stored"));
        peer.push(t.elapsed());
    }
    summary("peer_classify_and_store_only", peer);
    // Per stage, per iteration, same store: where the tail of a turn comes from.
    let t_en = migru_core::insights::templates::for_lang("en").expect("templates");
    let mut stages: [(&str, Vec<Duration>); 7] = [
        ("stage_classify_store", Vec::new()),
        ("stage_observe", Vec::new()),
        ("stage_read_insight_log", Vec::new()),
        ("stage_report_after_aggregates", Vec::new()),
        ("stage_decide", Vec::new()),
        ("stage_save_pattern_state", Vec::new()),
        ("stage_aggregates_current", Vec::new()),
    ];
    for i in 6_000..9_000u32 {
        let now = last + chrono::Duration::seconds(i64::from(i) * 37);
        let text = format!("{} {}", texts[i as usize % texts.len()], i);
        let t = Instant::now();
        let stored = migru_core::companion::store_message(&store, user, &text, now).expect("stored");
        stages[0].1.push(t.elapsed());
        let t = Instant::now();
        for (a, r) in &stored.records {
            if let migru_core::store::Appended::Stored { seq, .. } = a {
                engine.observe_stored(*seq, r);
            }
        }
        stages[1].1.push(t.elapsed());
        if engine.child(user).map_or(0, |c| c.conversations) % migru_core::insights::LOOK_EVERY != 0 {
            continue;
        }
        let t = Instant::now();
        let shared = store.shared_insights(user).expect("log");
        stages[2].1.push(t.elapsed());
        // The aggregates first (`ChildState::current`: totals + open hours), then the report
        // on the now-warm open-hour cache, which is the statistics (`report::build`) plus a
        // cache hit.
        let t = Instant::now();
        black_box(engine.child(user).map(|c| c.current()));
        stages[6].1.push(t.elapsed());
        let t = Instant::now();
        let report = engine.report(user);
        stages[3].1.push(t.elapsed());
        let t = Instant::now();
        if let Some(report) = report {
            let input = migru_core::insights::PolicyInput { now, conversations: 0, shared: &shared };
            black_box(migru_core::insights::decide(&report.candidates, &input, t_en));
        }
        stages[4].1.push(t.elapsed());
        let t = Instant::now();
        migru_core::patterns::save(&store, user, &engine).expect("save");
        stages[5].1.push(t.elapsed());
    }
    for (name, samples) in stages {
        summary(name, samples);
    }
    // The apps' real path (`Companion::converse`, exported through the FFI): the turn above plus
    // saving the pattern state every look and the delivery step reading the insight log.
    let companion = migru_core::companion::Companion::open(dir.path().join("bench.db")).expect("companion");
    let companion = companion.for_user(user).expect("user");
    let mut conv = Vec::new();
    for i in 9_000..12_000u32 {
        let now = last + chrono::Duration::seconds(i64::from(i) * 37);
        let text = format!("{} {}", texts[i as usize % texts.len()], i);
        let t = Instant::now();
        black_box(companion.converse(&text, Some(now), "en").expect("turn"));
        conv.push(t.elapsed());
        // A child types for seconds between turns: the state save a look turn started on its
        // own thread finishes here, untimed, instead of queueing the next turn behind it.
        companion.wait_for_pattern_save();
    }
    summary("companion_converse", conv);
    let mut i = 10_000u32;
    c.bench_function("message_to_decision", |b| {
        b.iter(|| {
            i += 1;
            let now = last + chrono::Duration::seconds(i64::from(i) * 37);
            black_box(on_message(&store, &mut engine, user, &format!("my head hurts {i}"), now, "en").expect("turn"))
        })
    });
}

fn replay_million(c: &mut Criterion) {
    let (records, _) = cohort(&Config { children: 310, days: 112, seed: 9, ..Config::default() });
    let t = Instant::now();
    let mut engine = Engine::default();
    for r in &records {
        engine.observe(r);
    }
    let elapsed = t.elapsed();
    println!(
        "replay: {} events, {} children in {:?} ({:.0} events/s)",
        records.len(),
        engine.children.len(),
        elapsed,
        records.len() as f64 / elapsed.as_secs_f64()
    );
    let mut group = c.benchmark_group("replay");
    group.sample_size(10);
    group.bench_function("replay_1m_events", |b| {
        b.iter(|| {
            let mut engine = Engine::default();
            for r in &records {
                engine.observe(r);
            }
            black_box(engine.children.len())
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    targets = per_event, message_to_decision, replay_million
}
criterion_main!(benches);
