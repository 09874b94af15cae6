//! 24 h of a wrist band through the signal pipeline on one core: 32 Hz 3-axis acceleration →
//! 60 s activity counts → Cole–Kripke and Sadeh → Webster rescoring → sleep episodes; RR stream →
//! HRV (cleaning, time and frequency domain) per 5-min window; 4 Hz EDA → tonic level and SCRs →
//! per-minute aggregates. Target: under 150 ms. The peer (NeuroKit2 + pyActigraphy + NumPy/SciPy
//! doing the same steps on the same-sized day) is timed by `core/validation/signals/bench_peer.py`;
//! `core/validation/signals/bench_compare.sh` runs both and prints the ratio.

use std::f64::consts::PI;
use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::DateTime;
use criterion::{Criterion, criterion_group, criterion_main};
use migru_core::signals::activity::activity_counts;
use migru_core::signals::eda::{EdaOptions, analyze, per_minute};
use migru_core::signals::hrv::{HrvOptions, hrv};
use migru_core::signals::sleep::{
    Algorithm, EpisodeOptions, score, sleep_episodes, webster_rescore,
};

const ACC_HZ: f64 = 32.0;
const EDA_HZ: f64 = 4.0;
const DAY_S: usize = 86_400;

/// Deterministic xorshift noise in [-1, 1).
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

struct Day {
    x: Vec<f64>,
    y: Vec<f64>,
    z: Vec<f64>,
    eda: Vec<f64>,
    rr: Vec<f64>,
}

/// Noon to noon; asleep 21:00–07:00 (seconds 32,400–68,400 after noon), walking bursts by day.
fn day() -> Day {
    let mut noise = Noise(0x9E37_79B9_7F4A_7C15);
    let asleep = |t: f64| (32_400.0..68_400.0).contains(&t);
    let n = DAY_S * ACC_HZ as usize;
    let (mut x, mut y, mut z) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for i in 0..n {
        let t = i as f64 / ACC_HZ;
        let walking = !asleep(t) && ((t / 600.0) as u64).is_multiple_of(3);
        let swing = if walking {
            0.3 * (2.0 * PI * 1.6 * t).sin()
        } else {
            0.0
        };
        let jitter = if asleep(t) { 0.005 } else { 0.03 };
        x.push(jitter * noise.next());
        y.push(jitter * noise.next());
        z.push(1.0 + swing + jitter * noise.next());
    }
    let eda = (0..DAY_S * EDA_HZ as usize)
        .map(|i| {
            let t = i as f64 / EDA_HZ;
            let phase = (t % 45.0) / 45.0; // a response every 45 s by day
            let scr = if asleep(t) {
                0.0
            } else {
                0.15 * (phase * 20.0).min(1.0) * (-phase * 8.0).exp()
            };
            2.0 + 0.5 * (2.0 * PI * t / DAY_S as f64).sin() + scr + 0.002 * noise.next()
        })
        .collect();
    let mut rr = Vec::new();
    let mut t = 0.0;
    while t < DAY_S as f64 {
        let base = if asleep(t) { 950.0 } else { 700.0 };
        let mut v = base + 40.0 * (2.0 * PI * 0.25 * t).sin() + 15.0 * noise.next();
        if rr.len() % 500 == 250 {
            v *= 0.55; // an ectopic beat now and then
        }
        rr.push(v);
        t += v / 1000.0;
    }
    Day { x, y, z, eda, rr }
}

/// The 5-min windows of an RR stream, by cumulative time.
fn five_minute_windows(rr: &[f64]) -> Vec<&[f64]> {
    let mut out = Vec::new();
    let (mut start, mut elapsed) = (0, 0.0);
    for (i, &v) in rr.iter().enumerate() {
        elapsed += v;
        if elapsed >= 300_000.0 {
            out.push(&rr[start..=i]);
            start = i + 1;
            elapsed = 0.0;
        }
    }
    out
}

/// Everything the phone computes from one day: returns small totals so nothing is optimised away.
fn process(day: &Day) -> (usize, usize, f64, usize) {
    let counts = activity_counts(&day.x, &day.y, &day.z, ACC_HZ, 60.0).expect("counts");
    let ck = webster_rescore(&score(&counts, Algorithm::ColeKripke).expect("CK"));
    let sadeh = score(&counts, Algorithm::Sadeh).expect("Sadeh");
    let t0 = DateTime::parse_from_rfc3339("2026-03-02T12:00:00+01:00").expect("fixed time");
    let episodes = sleep_episodes(&ck, t0, 60, &EpisodeOptions::default()).expect("episodes");
    let options = HrvOptions::default();
    let rmssd_sum: f64 = five_minute_windows(&day.rr)
        .iter()
        .filter_map(|w| hrv(w, &options).ok())
        .map(|s| s.rmssd_ms)
        .sum();
    let eda = analyze(&day.eda, EDA_HZ, &EdaOptions::default()).expect("EDA");
    let minutes = per_minute(&eda, EDA_HZ);
    (
        episodes.len() + sadeh.iter().filter(|&&s| s).count(),
        eda.responses.len(),
        rmssd_sum,
        minutes.len(),
    )
}

/// CPU time of the calling thread in ns (Linux `/proc/thread-self/schedstat`), `None` elsewhere.
/// The build machine is shared; CPU time is what the peer's `time.process_time()` measures too.
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn bench(c: &mut Criterion) {
    let day = day();
    let (episodes_and_sadeh, scrs, _, minutes) = process(&day);
    eprintln!(
        "day: {} RR, {scrs} SCRs, {minutes} EDA minutes, episodes+Sadeh-sleep {episodes_and_sadeh}",
        day.rr.len()
    );
    let mut group = c.benchmark_group("signals");
    group.sample_size(20);
    group.bench_function("day_pipeline", |b| b.iter(|| process(black_box(&day))));
    group.bench_function("day_pipeline_cpu", |b| {
        b.iter_custom(|iters| {
            let (cpu, wall) = (thread_cpu_ns(), Instant::now());
            for _ in 0..iters {
                black_box(process(black_box(&day)));
            }
            match (cpu, thread_cpu_ns()) {
                (Some(a), Some(b)) => Duration::from_nanos(b.saturating_sub(a)),
                _ => wall.elapsed(),
            }
        })
    });
    group.bench_function("day_counts", |b| {
        b.iter(|| activity_counts(black_box(&day.x), &day.y, &day.z, ACC_HZ, 60.0).expect("counts"))
    });
    let counts = activity_counts(&day.x, &day.y, &day.z, ACC_HZ, 60.0).expect("counts");
    group.bench_function("day_scoring_and_episodes", |b| {
        let t0 = DateTime::parse_from_rfc3339("2026-03-02T12:00:00+01:00").expect("fixed time");
        b.iter(|| {
            let ck =
                webster_rescore(&score(black_box(&counts), Algorithm::ColeKripke).expect("CK"));
            let sadeh = score(&counts, Algorithm::Sadeh).expect("Sadeh");
            (
                sleep_episodes(&ck, t0, 60, &EpisodeOptions::default()).expect("episodes"),
                sadeh,
            )
        })
    });
    group.bench_function("day_hrv_5min", |b| {
        let options = HrvOptions::default();
        b.iter(|| {
            five_minute_windows(black_box(&day.rr))
                .iter()
                .filter_map(|w| hrv(w, &options).ok())
                .count()
        })
    });
    group.bench_function("day_eda", |b| {
        b.iter(|| {
            per_minute(
                &analyze(black_box(&day.eda), EDA_HZ, &EdaOptions::default()).expect("EDA"),
                EDA_HZ,
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
