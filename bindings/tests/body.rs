//! The body-signal surface of the FFI on real data: the band's notifications (the simulator's,
//! encoded as a real band sends them) through a `WearableSession`, RR intervals imported as
//! JSON Lines, a real actigraphy recording replayed, then sleep, HRV, the forecast and the
//! delivery windows read back; and the refusals.

use std::io::Write;
use std::sync::Arc;

use chrono::{DateTime, Duration, FixedOffset};
use migru_core::wearable::simulate::notifications;
use migru_core::wearable::{SimConfig, Simulator};
use migru_ffi::{ChronotypeConfidence, MigruCompanion, MigruError};

fn open(dir: &tempfile::TempDir) -> Arc<MigruCompanion> {
    MigruCompanion::open(dir.path().join("migru.db").to_string_lossy().into_owned()).expect("a fresh database opens")
}

fn at(text: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(text).expect("time")
}

#[test]
fn band_notifications_become_minutes_sleep_and_a_stress_forecast() {
    let dir = tempfile::tempdir().unwrap();
    let companion = open(&dir);
    let start = at("2026-03-02T12:00:00+01:00");
    let mut config = SimConfig::new(7, start, Duration::hours(56));
    config.accel_hz = 8;
    let session = companion.wearable_session();
    let mut samples = 0u64;
    for (uuid, bytes, arrival) in notifications(Simulator::new(config)) {
        let outcome = session.on_notification(uuid.to_string(), bytes, Some(arrival.timestamp_millis())).expect("notification");
        assert_eq!(outcome.dropped, None);
        samples += u64::from(outcome.samples);
    }
    let stats = session.stats().unwrap();
    assert_eq!((stats.packets_dropped, stats.gaps), (0, 0));
    let summary = session.finish_span().unwrap();
    assert_eq!(summary.samples, samples);
    assert!((56 * 60 - 2..=56 * 60 + 1).contains(&summary.minutes_stored), "{summary:?}");
    assert!(summary.sleep_episodes_stored >= 2, "two simulated nights: {summary:?}");

    let end = (start + Duration::hours(56)).to_rfc3339();
    let sleep = companion.sleep_report(None, Some(end.clone())).unwrap();
    assert!(sleep.episodes.len() >= 2);
    assert!(sleep.episodes.iter().all(|e| e.source == "detected" && e.efficiency_pct.is_some() && e.duration_min >= 180.0));
    // Two nights are not enough for a chronotype; the estimates are null and the timing says so.
    assert_eq!(sleep.chronotype.confidence, ChronotypeConfidence::NotYet);
    assert_eq!((sleep.chronotype.msf_sc, sleep.chronotype.category), (None, None));
    let timing = companion.delivery_timing(Some(end.clone())).unwrap();
    assert!(!timing.from_chronotype && timing.note.contains("not yet"), "{timing:?}");
    assert_eq!((timing.sleep_onset.as_str(), timing.wake_school_day.as_str()), ("21:00", "07:00"));

    let outlook = companion.forecast(Some(3), Some(end), false).unwrap();
    assert_eq!(outlook.stress.len(), 24, "{:?}", outlook.stress_note);
    assert!(outlook.stress.iter().all(|p| p.lo <= p.value && p.value <= p.hi && (0.0..=100.0).contains(&p.value)));
    assert!((0.0..=1.0).contains(&outlook.migraine_risk.probability));
    assert_eq!(outlook.migraine_risk.confidence, "not_yet");
    assert!(outlook.stress_backtest.is_none() && outlook.sleep_backtest.is_none());
}

#[test]
fn hrv_comes_from_imported_rr_records() {
    let dir = tempfile::tempdir().unwrap();
    let companion = open(&dir);
    assert_eq!(companion.hrv(None).unwrap(), None, "no RR stored yet");
    // 10 minutes of beats alternating 800/850 ms, four to a record, stamped at the last beat.
    let path = dir.path().join("rr.jsonl");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut t = at("2026-03-02T08:00:00+01:00");
    for _ in 0..(600_000 / 3300) {
        t += Duration::milliseconds(3300);
        writeln!(file, r#"{{"ts":"{}","kind":"rr","rr_ms":[800,850,800,850]}}"#, t.to_rfc3339()).unwrap();
    }
    file.flush().unwrap();
    drop(file);
    let report = companion.import_file(path.to_string_lossy().into_owned(), None).unwrap();
    assert_eq!(report.imported, 181);
    let hrv = companion.hrv(Some(5)).unwrap().expect("hrv");
    assert!((hrv.mean_rr_ms - 825.0).abs() < 1e-9 && (hrv.rmssd_ms - 50.0).abs() < 1e-9, "{hrv:?}");
    assert_eq!(hrv.n_beats, hrv.records * 4);
    assert_eq!((hrv.gaps, hrv.artifacts_corrected), (0, 0));
    // Successive differences of exactly 50 ms are not > 50 ms.
    assert_eq!(hrv.pnn50_pct, 0.0);
    assert!(hrv.sdnn_ms > 24.0 && hrv.sdnn_ms < 26.0, "{hrv:?}");
    let refused = companion.hrv(Some(0)).unwrap_err();
    assert!(matches!(&refused, MigruError::InvalidInput { reason } if reason.starts_with("window_min")), "{refused:?}");
}

#[test]
fn a_real_actigraphy_recording_replays_into_nights_and_a_sleep_backtest() {
    let dir = tempfile::tempdir().unwrap();
    let companion = open(&dir);
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../core/tests/fixtures/forecast/actigraphy_example_03.jsonl");
    let summary = companion.replay_sensor_file(fixture.into()).unwrap();
    assert_eq!(summary.minutes_stored, 21_456);
    let end = summary.last_minute.clone().expect("last minute");
    let sleep = companion.sleep_report(Some(28), Some(end.clone())).unwrap();
    assert!(sleep.episodes.len() >= 10, "{}", sleep.episodes.len());
    assert_ne!(sleep.chronotype.confidence, ChronotypeConfidence::NotYet);
    assert!(sleep.chronotype.msf_sc.is_some() && sleep.chronotype.social_jetlag_min.is_some());
    let outlook = companion.forecast(None, Some(end), true).unwrap();
    // Counts only: no stress, and the outlook says why.
    assert!(outlook.stress.is_empty() && outlook.stress_note.is_some());
    assert!(outlook.stress_backtest.is_none());
    let bt = outlook.sleep_backtest.expect("sleep backtest");
    assert!(bt.points >= 8 && bt.mae < bt.naive_mae, "{bt:?}");
    assert!(outlook.sleep.is_some());
}

#[test]
fn malformed_packets_are_counted_and_bad_arguments_refused() {
    let dir = tempfile::tempdir().unwrap();
    let companion = open(&dir);
    let session = companion.wearable_session();
    let hr = "00002a37-0000-1000-8000-00805f9b34fb".to_owned();
    // Flags say RR intervals follow (0x10), then 72 bpm and one RR of 1024/1024 s.
    let ok = session.on_notification(hr.clone(), vec![0x10, 72, 0x00, 0x04], Some(1_772_434_800_000)).unwrap();
    assert_eq!((ok.samples, ok.dropped), (2, None));
    let truncated = session.on_notification(hr.clone(), vec![0x01, 72], None).unwrap();
    assert_eq!((truncated.samples, truncated.dropped.as_deref()), (0, Some("truncated")));
    let battery = session.on_notification("00002a19-0000-1000-8000-00805f9b34fb".into(), vec![87], None).unwrap();
    assert_eq!(battery.battery_percent, Some(87));
    let unknown = session.on_notification("0000ffff-0000-1000-8000-00805f9b34fb".into(), vec![1], None).unwrap();
    assert_eq!(unknown.dropped.as_deref(), Some("unknown_characteristic"));
    let stats = session.stats().unwrap();
    assert_eq!((stats.packets_ok, stats.packets_dropped), (2, 2));
    assert_eq!(stats.drops.iter().map(|d| (d.reason.as_str(), d.count)).collect::<Vec<_>>(), vec![("truncated", 1), ("unknown_characteristic", 1)]);
    session.on_reconnect().unwrap();

    assert!(matches!(session.on_notification("heart rate".into(), vec![0], None), Err(MigruError::InvalidInput { .. })));
    assert!(matches!(companion.sleep_report(Some(0), None), Err(MigruError::InvalidInput { .. })));
    let bad_now = companion.forecast(None, Some("tomorrow".into()), false).unwrap_err();
    assert!(matches!(&bad_now, MigruError::InvalidInput { reason } if reason.starts_with("now:")), "{bad_now:?}");
    let missing = companion.replay_sensor_file(dir.path().join("carol.jsonl").to_string_lossy().into_owned()).unwrap_err();
    assert!(matches!(&missing, MigruError::Io { reason } if !reason.contains("carol")), "{missing:?}");
}
