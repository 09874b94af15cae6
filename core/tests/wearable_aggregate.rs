//! Per-minute aggregation on hand-built sample streams with known answers.

use chrono::{DateTime, Duration, FixedOffset};
use migru_core::wearable::{
    AggregatorConfig, SensorMinute, MinuteAggregator, RawRetention, Reading, SensorContact,
    SensorSample,
};

fn t0() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2026-03-02T08:00:00+01:00").unwrap()
}

fn sample(at: DateTime<FixedOffset>, reading: Reading) -> SensorSample {
    SensorSample { at, reading }
}

fn hr(bpm: f64) -> Reading {
    Reading::HeartRate {
        bpm,
        contact: SensorContact::Detected,
        energy_kj: None,
    }
}

fn run(
    samples: Vec<SensorSample>,
    config: AggregatorConfig,
) -> (Vec<SensorMinute>, MinuteAggregator) {
    let mut agg = MinuteAggregator::new("kid", config);
    let mut out = Vec::new();
    for s in samples {
        agg.push(s, |m| out.push(m));
    }
    out.extend(agg.finish());
    (out, agg)
}

#[test]
fn heart_rate_mean_per_minute_keeps_the_offset() {
    let samples = vec![
        sample(t0(), hr(60.0)),
        sample(t0() + Duration::seconds(30), hr(70.0)),
        sample(t0() + Duration::seconds(30), hr(0.0)), // no contact: ignored
        sample(t0() + Duration::seconds(61), hr(90.0)),
    ];
    let (minutes, _) = run(samples, AggregatorConfig::default());
    assert_eq!(minutes.len(), 2);
    assert_eq!(minutes[0].minute_start, t0());
    assert_eq!(minutes[0].minute_start.offset().local_minus_utc(), 3600);
    assert_eq!(minutes[0].hr_bpm, Some(65.0));
    assert_eq!(minutes[1].hr_bpm, Some(90.0));
    assert_eq!(minutes[0].user, "kid");
    assert_eq!(minutes[0].rmssd_ms, None);
    assert_eq!(minutes[0].eda_tonic_us, None);
    assert_eq!(minutes[0].scr_count, None);
}

/// RR batches of alternating 800/850 ms beats, one batch per second of beats.
fn rr_stream(minutes: i64, ectopic_every: Option<usize>) -> Vec<SensorSample> {
    let mut out = Vec::new();
    let mut t_ms = 0.0;
    let mut beat = 0usize;
    while t_ms < (minutes * 60_000) as f64 {
        let mut batch = Vec::new();
        let end = t_ms + 1000.0;
        while t_ms < end {
            let mut rr = if beat.is_multiple_of(2) { 800.0 } else { 850.0 };
            if ectopic_every.is_some_and(|k| beat % k == k - 1) {
                rr = 450.0;
            }
            t_ms += rr;
            batch.push(rr);
            beat += 1;
        }
        out.push(sample(
            t0() + Duration::milliseconds(t_ms as i64),
            Reading::Rr { rr_ms: batch },
        ));
    }
    out
}

#[test]
fn rmssd_over_the_trailing_window_and_hr_from_rr() {
    let (minutes, _) = run(rr_stream(7, None), AggregatorConfig::default());
    assert!(minutes.len() >= 7);
    for m in &minutes[..7] {
        let rmssd = m.rmssd_ms.expect("enough beats");
        assert!((rmssd - 50.0).abs() < 1e-9, "rmssd {rmssd}");
        let hr = m.hr_bpm.expect("hr from rr");
        assert!((hr - 60_000.0 / 825.0).abs() < 1.5, "hr {hr}");
    }
}

#[test]
fn ectopic_beats_do_not_inflate_rmssd() {
    let (minutes, _) = run(rr_stream(6, Some(50)), AggregatorConfig::default());
    for m in &minutes[..5] {
        let rmssd = m.rmssd_ms.unwrap();
        assert!(
            (rmssd - 50.0).abs() < 1e-9,
            "rmssd {rmssd} should ignore the 450 ms beats"
        );
    }
}

#[test]
fn rmssd_window_forgets_old_minutes() {
    // Two minutes of 50 ms differences, then four of identical beats (differences of 0).
    let mut samples = rr_stream(2, None);
    let start = samples.last().unwrap().at;
    for s in 1..=240 {
        samples.push(sample(
            start + Duration::seconds(s),
            Reading::Rr {
                rr_ms: vec![1000.0],
            },
        ));
    }
    let config = AggregatorConfig {
        rmssd_window_min: 2,
        ..AggregatorConfig::default()
    };
    let (minutes, _) = run(samples, config);
    assert!(minutes[1].rmssd_ms.unwrap() > 40.0);
    assert_eq!(minutes.last().unwrap().rmssd_ms, Some(0.0));
}

/// 4 Hz EDA at `base` µS with unit Bateman-like bumps of `amp` µS starting at the given seconds.
fn eda_minute(base: f64, amp: f64, onsets_s: &[f64]) -> Vec<SensorSample> {
    (0..60)
        .map(|sec| {
            let values = (0..4)
                .map(|i| {
                    let t = sec as f64 + i as f64 / 4.0;
                    let phasic: f64 = onsets_s
                        .iter()
                        .map(|&o| {
                            let d = t - o;
                            if d <= 0.0 {
                                0.0
                            } else {
                                ((-d / 3.5).exp() - (-d / 0.7).exp()) / 0.6236
                            }
                        })
                        .sum();
                    base + amp * phasic
                })
                .collect();
            sample(
                t0() + Duration::seconds(sec),
                Reading::Eda {
                    hz: 4.0,
                    microsiemens: values,
                },
            )
        })
        .collect()
}

#[test]
fn skin_conductance_responses_are_counted_and_tonic_is_the_level() {
    let (minutes, _) = run(
        eda_minute(2.0, 0.3, &[5.0, 25.0, 45.0]),
        AggregatorConfig::default(),
    );
    assert_eq!(minutes.len(), 1);
    assert_eq!(minutes[0].scr_count, Some(3));
    let tonic = minutes[0].eda_tonic_us.unwrap();
    assert!((tonic - 2.0).abs() < 0.1, "tonic {tonic}");
}

#[test]
fn responses_below_threshold_and_flat_signals_count_zero() {
    let (minutes, _) = run(
        eda_minute(1.0, 0.03, &[10.0, 40.0]),
        AggregatorConfig::default(),
    );
    assert_eq!(minutes[0].scr_count, Some(0));
    let (minutes, _) = run(eda_minute(5.0, 0.0, &[]), AggregatorConfig::default());
    assert_eq!(minutes[0].scr_count, Some(0));
    assert_eq!(minutes[0].eda_tonic_us, Some(5.0));
}

/// One second of a wrist at 32 Hz: 1 g on z plus an arm swing of `swing_g` at 1.5 Hz along z.
fn accel_second(at: DateTime<FixedOffset>, swing_g: f64) -> SensorSample {
    let n = 32;
    let s0 = (at - t0()).num_milliseconds() as f64 / 1000.0;
    let z = (0..n)
        .map(|i| 1.0 + swing_g * (std::f64::consts::TAU * 1.5 * (s0 + i as f64 / 32.0)).sin())
        .collect();
    sample(
        at,
        Reading::Accel {
            hz: 32.0,
            x: vec![0.0; n],
            y: vec![0.0; n],
            z,
        },
    )
}

#[test]
fn activity_counts_are_zero_at_rest_and_grow_with_movement() {
    let rest: Vec<_> = (0..60)
        .map(|s| accel_second(t0() + Duration::seconds(s), 0.0))
        .collect();
    let moving: Vec<_> = (60..120)
        .map(|s| accel_second(t0() + Duration::seconds(s), 0.5))
        .collect();
    let brisk: Vec<_> = (120..180)
        .map(|s| accel_second(t0() + Duration::seconds(s), 1.0))
        .collect();
    let (minutes, _) = run(
        rest.into_iter().chain(moving).chain(brisk).collect(),
        AggregatorConfig::default(),
    );
    let counts: Vec<f64> = minutes.iter().map(|m| m.activity_count.unwrap()).collect();
    assert_eq!(counts[0], 0.0);
    // The same method as `signals::activity` on the same samples, minute by minute.
    let z: Vec<f64> = (0..180 * 32)
        .map(|i| {
            let swing = [0.0, 0.5, 1.0][i / (60 * 32)];
            let s = i as f64 / 32.0;
            1.0 + swing * (std::f64::consts::TAU * 1.5 * s).sin()
        })
        .collect();
    let zeros = vec![0.0; z.len()];
    let direct = migru_core::signals::activity::activity_counts(&zeros, &zeros, &z, 32.0, 60.0).unwrap();
    for (a, b) in counts.iter().zip(&direct) {
        assert!((a - b).abs() <= 1e-6 * b.max(1.0), "{counts:?} vs {direct:?}");
    }
    assert!(
        counts[1] > 1000.0 && counts[2] > 2.0 * counts[1],
        "{counts:?}"
    );
}

#[test]
fn skin_temperature_is_the_minute_mean() {
    let samples = vec![
        sample(
            t0(),
            Reading::SkinTemp {
                hz: 1.0,
                celsius: vec![33.0, 33.5],
            },
        ),
        sample(
            t0() + Duration::seconds(10),
            Reading::SkinTemp {
                hz: 1.0,
                celsius: vec![34.0],
            },
        ),
    ];
    let (minutes, _) = run(samples, AggregatorConfig::default());
    assert_eq!(minutes[0].skin_temp_c, Some(33.5));
}

#[test]
fn late_samples_are_counted_and_raw_retention_is_bounded() {
    let mut samples: Vec<_> = (0..600)
        .map(|s| sample(t0() + Duration::seconds(s), hr(70.0)))
        .collect();
    samples.push(sample(t0(), hr(200.0)));
    let config = AggregatorConfig {
        raw: RawRetention {
            max_age: std::time::Duration::from_secs(120),
            max_samples: 100,
        },
        ..AggregatorConfig::default()
    };
    let (minutes, agg) = run(samples, config);
    assert_eq!(agg.late_samples(), 1);
    assert_eq!(minutes.len(), 10);
    assert!(minutes.iter().all(|m| m.hr_bpm == Some(70.0)));
    assert_eq!(agg.recent_raw().count(), 100);
    let config = AggregatorConfig {
        raw: RawRetention {
            max_age: std::time::Duration::from_secs(30),
            max_samples: 1000,
        },
        ..AggregatorConfig::default()
    };
    let samples: Vec<_> = (0..600)
        .map(|s| sample(t0() + Duration::seconds(s), hr(70.0)))
        .collect();
    let (_, agg) = run(samples, config);
    assert_eq!(agg.recent_raw().count(), 31);
}

/// Over BLE, the heart-rate notification that opens a minute can arrive before the acceleration
/// batch that started in the previous one; the grace period keeps that batch.
#[test]
fn a_batch_arriving_after_the_next_minute_opened_still_counts() {
    let boundary = t0() + Duration::minutes(1);
    let samples = vec![
        sample(t0() + Duration::seconds(10), hr(70.0)),
        sample(boundary, hr(80.0)),
        accel_second(boundary - Duration::seconds(1), 0.5),
        sample(boundary + Duration::seconds(10), hr(80.0)),
    ];
    let (minutes, agg) = run(samples, AggregatorConfig::default());
    assert_eq!(agg.late_samples(), 0);
    assert_eq!(minutes.len(), 2);
    assert!(minutes[0].activity_count.unwrap() > 0.0);
    assert_eq!(minutes[1].activity_count, None);
    assert_eq!(
        (minutes[0].hr_bpm, minutes[1].hr_bpm),
        (Some(70.0), Some(80.0))
    );
}
