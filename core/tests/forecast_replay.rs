//! The forecast backtest on a real recording, replayed: pyActigraphy's `example_03.AWD` (an
//! Actiwatch, 60 s activity counts, all 14.9 days), converted to `accel` records by
//! `core/validation/signals/actigraphy_replay.py`, replayed through `ReplaySource` into the
//! store's per-minute aggregates, scored for sleep, then backtested against seasonal-naive.
//! The recording has no heart rate, RR or EDA, so there is no stress to forecast: the outlook
//! says so.

use chrono::{DateTime, Duration, FixedOffset};
use migru_core::forecast::{backtest_nights, nights, outlook};
use migru_core::store::Store;
use migru_core::wearable::{IngestConfig, ReplaySource, StoreSink};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/forecast/actigraphy_example_03.jsonl");
/// Epochs in the fixture (14.9 days) and the recording's total count over them (from the script).
const EPOCHS: usize = 21_456;
const RECORDED_TOTAL: f64 = 5_414_998.0;

#[test]
fn the_sleep_timing_forecast_on_a_real_replayed_recording_against_seasonal_naive() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("replay.db")).expect("store");
    let mut sink = StoreSink::new(&store, "awd", IngestConfig::default());
    let counts = ReplaySource::new(FIXTURE).for_each(|sample| sink.push(sample).is_ok()).expect("replay");
    assert_eq!((counts.samples, counts.malformed_lines), (EPOCHS as u64, 0));
    let summary = sink.finish().expect("finish");
    assert_eq!(summary.minutes_stored, EPOCHS as u64);

    // The carrier bursts reproduce the recorded counts (the script's encoding error is ≤ 5 counts
    // per epoch).
    let minutes = store.sensor_minutes("awd", 0, i64::MAX).expect("minutes");
    let total: f64 = minutes.iter().filter_map(|m| m.activity_count).sum();
    assert!((total / RECORDED_TOTAL - 1.0).abs() < 0.005, "replayed total {total} vs recorded {RECORDED_TOTAL}");

    let free = Default::default();
    let episodes = store.sleep_episodes("awd").expect("episodes");
    let history = nights(&episodes, &free);
    // 14 nights were recorded; the first days hold a 67 h stretch of near-stillness (the band off
    // the wrist: one 12.4 h run of zero counts inside it) that Cole–Kripke scores as one long
    // sleep, which is no night (> 24 h) and is left out. Without heart rate there is no gate
    // to tell non-wear from sleep.
    assert!(history.len() >= 10, "main sleeps detected on {} nights", history.len());
    let bt = backtest_nights(&history).expect("backtest");
    println!(
        "example_03.AWD, 14.9 days, {} nights: sleep timing MAE {:.1} min vs seasonal-naive {:.1} min (ratio {:.2}, {} points over {} nights, 95 % coverage {:.0} %)",
        history.len(),
        bt.mae,
        bt.naive_mae,
        bt.ratio,
        bt.points,
        bt.origins,
        bt.coverage_95 * 100.0
    );
    assert!(bt.points >= 8, "{bt:?}");
    assert!(bt.ratio < 1.0, "the forecast must beat the same night a week earlier on real data: {bt:?}");

    // No heart rate or EDA in an actigraphy recording: no stress forecast, and the outlook says why.
    let last: DateTime<FixedOffset> = minutes.last().expect("a minute").minute_start + Duration::minutes(1);
    let out = outlook(&store, "awd", last, 14, None, true).expect("outlook");
    assert!(out.stress.is_empty());
    assert!(out.stress_note.as_deref().is_some_and(|n| n.contains("no stress forecast yet")), "{:?}", out.stress_note);
    assert!(out.sleep.is_some(), "tonight's sleep timing from the replayed nights");
}

/// Every multi-day recording pyActigraphy ships, replayed the same way (not committed: ~11 MB).
/// Write them with `actigraphy_replay.py --all DIR`, then
/// `MIGRU_REPLAY_DIR=DIR cargo test -p migru-core --test forecast_replay -- --ignored --nocapture`.
#[test]
#[ignore = "needs MIGRU_REPLAY_DIR with the converted recordings (actigraphy_replay.py --all)"]
fn every_bundled_recording_replayed() {
    let dir = std::path::PathBuf::from(std::env::var("MIGRU_REPLAY_DIR").expect("MIGRU_REPLAY_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(&dir).expect("dir").filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    let (mut err, mut naive, mut points) = (0.0, 0.0, 0usize);
    for file in files.iter().filter(|f| f.extension().is_some_and(|e| e == "jsonl")) {
        let db = tempfile::tempdir().expect("tempdir");
        let store = Store::open(db.path().join("r.db")).expect("store");
        let mut sink = StoreSink::new(&store, "awd", IngestConfig::default());
        ReplaySource::new(file).for_each(|sample| sink.push(sample).is_ok()).expect("replay");
        let summary = sink.finish().expect("finish");
        let history = nights(&store.sleep_episodes("awd").expect("episodes"), &Default::default());
        let days = summary.minutes_stored as f64 / 1440.0;
        match backtest_nights(&history) {
            Ok(bt) => {
                println!(
                    "{}: {days:.1} days, {} nights, {} points: MAE {:.1} min vs seasonal-naive {:.1} min (ratio {:.2}, coverage {:.0} %)",
                    file.display(),
                    history.len(),
                    bt.points,
                    bt.mae,
                    bt.naive_mae,
                    bt.ratio,
                    bt.coverage_95 * 100.0
                );
                err += bt.mae * bt.points as f64;
                naive += bt.naive_mae * bt.points as f64;
                points += bt.points;
            }
            Err(error) => println!("{}: {days:.1} days, {} nights: no backtest ({error})", file.display(), history.len()),
        }
    }
    assert!(points > 0);
    println!("pooled: {points} points, MAE {:.1} min vs seasonal-naive {:.1} min (ratio {:.2})", err / points as f64, naive / points as f64, err / naive);
}
