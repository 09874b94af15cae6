//! The three sources behind one trait: simulator, replay, and (via encoded notifications) the
//! same decoder the BLE source uses.

use chrono::{DateTime, Duration, FixedOffset, Timelike};
use migru_core::event::encode_line;
use migru_core::wearable::simulate::notifications;
use migru_core::wearable::{
    AggregatorConfig, Decoder, SensorMinute, MinuteAggregator, Reading, ReplaySource,
    SensorEvent, SensorSample, SensorSource, SensorStream, SimConfig, Simulator,
};

fn start() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2026-03-02T12:00:00+01:00").unwrap()
}

fn sim(hours: i64, seed: u64) -> Simulator {
    Simulator::new(SimConfig::new(seed, start(), Duration::hours(hours)))
}

fn aggregate(samples: impl Iterator<Item = SensorSample>) -> Vec<SensorMinute> {
    let mut agg = MinuteAggregator::new("local", AggregatorConfig::default());
    let mut out = Vec::new();
    for s in samples {
        agg.push(s, |m| out.push(m));
    }
    out.extend(agg.finish());
    out
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0), |(s, n), x| (s + x, n + 1));
    s / n as f64
}

#[test]
fn simulator_is_deterministic_per_seed() {
    let a: Vec<_> = sim(1, 42).take(5000).collect();
    let b: Vec<_> = sim(1, 42).take(5000).collect();
    let c: Vec<_> = sim(1, 43).take(5000).collect();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn a_simulated_day_looks_like_a_child_wearing_a_band() {
    let minutes = aggregate(sim(24, 7));
    // Heart-rate notifications close each second, so the last one opens minute 1441.
    assert!(
        (24 * 60..=24 * 60 + 1).contains(&minutes.len()),
        "{} minutes",
        minutes.len()
    );
    let sim = sim(24, 7);
    let (night, day): (Vec<_>, Vec<_>) =
        minutes.iter().partition(|m| sim.asleep_at(m.minute_start));
    assert!(
        night.len() > 8 * 60 && night.len() < 11 * 60,
        "{} sleeping minutes",
        night.len()
    );
    let hr = |ms: &[&SensorMinute]| mean(ms.iter().filter_map(|m| m.hr_bpm));
    let rmssd = |ms: &[&SensorMinute]| mean(ms.iter().filter_map(|m| m.rmssd_ms));
    let act = |ms: &[&SensorMinute]| mean(ms.iter().filter_map(|m| m.activity_count));
    let scr = |ms: &[&SensorMinute]| mean(ms.iter().filter_map(|m| m.scr_count.map(f64::from)));
    let temp = |ms: &[&SensorMinute]| mean(ms.iter().filter_map(|m| m.skin_temp_c));
    assert!(
        hr(&night) + 10.0 < hr(&day),
        "hr night {} day {}",
        hr(&night),
        hr(&day)
    );
    assert!((55.0..75.0).contains(&hr(&night)));
    assert!(
        rmssd(&night) > rmssd(&day),
        "rmssd night {} day {}",
        rmssd(&night),
        rmssd(&day)
    );
    assert!((15.0..150.0).contains(&rmssd(&day)));
    assert!(
        act(&night) * 3.0 < act(&day),
        "activity night {} day {}",
        act(&night),
        act(&day)
    );
    assert!(
        scr(&night) < scr(&day),
        "scr night {} day {}",
        scr(&night),
        scr(&day)
    );
    assert!(temp(&night) > temp(&day) + 1.0);
    assert!(
        minutes[..24 * 60]
            .iter()
            .all(|m| m.eda_tonic_us.is_some_and(|v| v > 0.0))
    );
    // Sleep starts in the evening and ends in the morning.
    let first_sleep = night.iter().map(|m| m.minute_start).min().unwrap();
    assert!((20..=23).contains(&first_sleep.hour()), "{first_sleep}");
}

/// Simulator → the band's notifications → the decoder: what the BLE source does, minus the radio.
#[test]
fn notifications_round_trip_through_the_decoder() {
    let original: Vec<_> = sim(1, 3).collect();
    let mut decoder = Decoder::new();
    let mut decoded = Vec::new();
    for (uuid, value, arrival) in notifications(original.clone().into_iter()) {
        decoder
            .decode(uuid, &value, arrival, |s| decoded.push(s))
            .unwrap();
    }
    let stats = decoder.stats();
    assert_eq!(stats.packets_dropped, 0);
    assert_eq!(stats.gaps, 0);
    assert_eq!(decoded.len(), original.len());
    for (a, b) in original.iter().zip(&decoded) {
        assert!(
            (a.at - b.at).num_milliseconds().abs() <= 1,
            "{} vs {}",
            a.at,
            b.at
        );
        match (&a.reading, &b.reading) {
            (Reading::Rr { rr_ms: x }, Reading::Rr { rr_ms: y }) => {
                assert!(x.iter().zip(y).all(|(p, q)| (p - q).abs() < 0.5))
            }
            (
                Reading::Eda {
                    microsiemens: x, ..
                },
                Reading::Eda {
                    microsiemens: y, ..
                },
            ) => {
                assert!(x.iter().zip(y).all(|(p, q)| (p - q).abs() <= 0.0005))
            }
            (x, y) => assert_eq!(std::mem::discriminant(x), std::mem::discriminant(y)),
        }
    }
    // Same aggregates either way (within the wire's resolution).
    let (a, b) = (
        aggregate(original.into_iter()),
        aggregate(decoded.into_iter()),
    );
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.minute_start, y.minute_start);
        assert!((x.hr_bpm.unwrap() - y.hr_bpm.unwrap()).abs() < 1e-9);
        assert!((x.rmssd_ms.unwrap() - y.rmssd_ms.unwrap()).abs() < 0.5);
    }
}

#[test]
fn lost_notifications_are_counted_as_gaps() {
    let mut decoder = Decoder::new();
    let mut kept = 0;
    for (i, (uuid, value, arrival)) in notifications(sim(1, 5)).enumerate() {
        if i % 50 == 49 && uuid == migru_core::wearable::uuids::MIGRU_ACCEL {
            continue; // lost over the air
        }
        decoder
            .decode(uuid, &value, arrival, |_| kept += 1)
            .unwrap();
    }
    let stats = decoder.stats();
    assert!(stats.gaps > 0);
    assert_eq!(stats.gaps, stats.missing_packets);
}

fn write_replay_file(dir: &tempfile::TempDir, samples: &[SensorSample]) -> std::path::PathBuf {
    let path = dir.path().join("band.jsonl");
    let mut text = String::from(
        "{\"ts\":\"2026-03-02T12:00:00+01:00\",\"kind\":\"message\",\"text\":\"hi\"}\n",
    );
    text.push_str("not json\n");
    for s in samples {
        if let Some(record) = s.to_record("local") {
            text.push_str(&encode_line(&record));
            text.push('\n');
        }
    }
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn replay_reads_back_what_was_recorded() {
    let original: Vec<_> = sim(1, 9).take(2000).collect();
    let dir = tempfile::tempdir().unwrap();
    let path = write_replay_file(&dir, &original);
    let mut replayed = Vec::new();
    let counts = ReplaySource::new(&path)
        .for_each(|s| {
            replayed.push(s);
            true
        })
        .unwrap();
    let recordable: Vec<_> = original
        .iter()
        .filter(|s| s.to_record("local").is_some())
        .collect();
    assert_eq!(counts.samples as usize, recordable.len());
    assert_eq!((counts.other_kinds, counts.malformed_lines), (1, 1));
    for (a, b) in recordable.iter().zip(&replayed) {
        assert_eq!(a.at, b.at);
        match (&a.reading, &b.reading) {
            (Reading::HeartRate { bpm: x, .. }, Reading::HeartRate { bpm: y, .. }) => {
                assert_eq!(x, y)
            }
            (x, y) => assert_eq!(x, y),
        }
    }
}

async fn collect(source: Box<dyn SensorSource>) -> Vec<SensorEvent> {
    let mut stream = SensorStream::spawn(source);
    let mut events = Vec::new();
    while let Some(e) = stream.next().await {
        events.push(e);
    }
    stream.finish().await.unwrap();
    events
}

#[tokio::test]
async fn every_source_is_consumed_through_the_same_trait() {
    let dir = tempfile::tempdir().unwrap();
    let original: Vec<_> = sim(1, 11).take(500).collect();
    let path = write_replay_file(&dir, &original);
    let from_sim = collect(Box::new(Simulator::new(SimConfig::new(
        11,
        start(),
        Duration::minutes(2),
    ))))
    .await;
    let from_file = collect(Box::new(ReplaySource::new(path))).await;
    assert!(from_sim.len() > 2 * 60 * 4);
    assert!(from_file.len() > 300);
    assert!(
        from_sim
            .iter()
            .chain(&from_file)
            .all(|e| matches!(e, SensorEvent::Sample(_)))
    );
}

#[tokio::test]
async fn dropping_the_stream_stops_the_source() {
    let source = Simulator::new(SimConfig::new(1, start(), Duration::days(365)));
    let mut stream = SensorStream::spawn(Box::new(source));
    for _ in 0..10 {
        assert!(stream.next().await.is_some());
    }
    drop(stream); // a year of data is not generated: the task is aborted
}

#[tokio::test]
async fn a_missing_replay_file_is_an_error_naming_the_path() {
    let stream = SensorStream::spawn(Box::new(ReplaySource::new("/nonexistent/band.jsonl")));
    let error = stream.finish().await.unwrap_err().to_string();
    assert!(error.contains("/nonexistent/band.jsonl"), "{error}");
}
