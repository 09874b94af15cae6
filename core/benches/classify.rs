//! Classification throughput over the labelled messages (505, EN/DE/ES), with a peer in the same
//! run: the seed's keyword rule (lower-case substring search for a dozen words), the floor any
//! classifier is compared with. Reports per-message medians; throughput = 1 / median.

use std::hint::black_box;

use chrono::DateTime;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use migru_core::classify::{Lang, classify, red_flag};

const LABELLED: &str = include_str!("../data/classify/labelled.jsonl");

fn texts() -> Vec<String> {
    LABELLED
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["text"].as_str().map(str::to_string))
        .collect()
}

/// The seed's rule: the first keyword family found decides.
fn seed_keywords(text: &str) -> &'static str {
    let t = text.to_lowercase();
    let any = |words: &[&str]| words.iter().any(|w| t.contains(w));
    if any(&["headache", "migraine", "stress", "pain"]) {
        "symptom"
    } else if any(&["better", "helped", "relieved", "improved"]) {
        "relief"
    } else if any(&["walking", "meditation", "work", "exercise"]) {
        "activity"
    } else {
        "message"
    }
}

fn bench(c: &mut Criterion) {
    let texts = texts();
    let now = DateTime::parse_from_rfc3339("2026-03-10T18:00:00+01:00").expect("fixed time");
    let _ = classify("warm up", now, None);
    let mut group = c.benchmark_group("classify");
    group.throughput(Throughput::Elements(texts.len() as u64));
    group.bench_function("rules_detect_lang_505_messages", |b| {
        b.iter(|| texts.iter().map(|t| classify(black_box(t), now, None).intensity.unwrap_or(0) as u64).sum::<u64>())
    });
    group.bench_function("rules_hint_en_505_messages", |b| {
        b.iter(|| texts.iter().map(|t| classify(black_box(t), now, Some(Lang::En)).intensity.unwrap_or(0) as u64).sum::<u64>())
    });
    group.bench_function("red_flag_only_505_messages", |b| {
        b.iter(|| texts.iter().filter(|t| red_flag(black_box(t), Some(Lang::En)).any()).count())
    });
    group.bench_function("seed_keywords_505_messages", |b| {
        b.iter(|| texts.iter().filter(|t| seed_keywords(black_box(t)) == "symptom").count())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
