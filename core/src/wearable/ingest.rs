//! Samples → per-minute aggregates in the store, and the sleep they show.
//!
//! [`StoreSink`] feeds a [`MinuteAggregator`] and writes closed minutes to `sensor_minutes` in
//! batches (one transaction per `batch_minutes`, default 10). Raw samples are never stored: the
//! aggregator keeps only its bounded look-back ring (`AggregatorConfig::raw`, default 5 min /
//! 2048 samples), so memory does not grow with the recording's length.
//!
//! When a stream ends, [`detect_sleep`] scores the stored minutes of the recorded span plus a
//! look-back (default 36 h, so a night that began before the recording is seen whole) and
//! upserts the episodes into `sleep_episodes` as `detected`:
//! - The minutes' activity counts are cut into segments at gaps of 10 or more missing minutes;
//!   shorter gaps are filled by linear interpolation between the neighbouring minutes.
//! - Each segment of at least 60 minutes is scored with Cole–Kripke (one-minute mean-activity
//!   coefficients). A wrist can be as still awake (sitting, reading) as asleep, so where the band
//!   measured heart rate a heart-rate gate follows: a minute scored sleep whose 5-minute median
//!   heart rate is above P10 + 0.35 × (P90 − P10) of the segment's heart rates is wake (applied
//!   when the segment has ≥ 6 h of heart rate spanning ≥ 15 bpm between P10 and P90; sleeping
//!   heart rate sits near the bottom of a day's range). Then Webster's rescoring, and grouping
//!   into episodes
//!   (`signals::sleep::sleep_episodes` defaults); episodes of at least 3 h are stored (the main
//!   sleep and long naps; shorter ones are too unsure from the wrist alone) and at most 18 h
//!   (longer stillness is a band off the wrist: real recordings have days of it, and Cole–Kripke
//!   alone cannot tell it from sleep).
//! - Episodes are keyed by (user, start): scoring the same minutes again gives the same episode and
//!   updates it (a night still running when a recording stopped is extended later).

use std::ops::Deref;

use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use super::aggregate::{AggregatorConfig, MinuteAggregator, SensorMinute};
use super::sample::{SensorEvent, SensorSample};
use crate::signals::SignalError;
use crate::signals::sleep::{Algorithm, EpisodeOptions, score, sleep_episodes, webster_rescore};
use crate::store::{SleepEpisode, SleepSource, Store, StoreError};

const MINUTE_MS: i64 = 60_000;
/// Gaps at least this long (minutes) cut the series into separately scored segments.
const MAX_FILLED_GAP_MIN: usize = 10;
/// Segments shorter than this (minutes) are not scored.
const MIN_SEGMENT_MIN: usize = 60;
/// Detected episodes shorter than this (minutes) are not stored.
const MIN_STORED_EPISODE_MIN: f64 = 180.0;
/// Detected "episodes" longer than this (minutes) are the band lying still off the wrist, not
/// sleep, and are not stored.
const MAX_STORED_EPISODE_MIN: f64 = 1080.0;

/// What went wrong storing the wearable's minutes.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("storing sensor minutes: {0}")]
    Store(#[from] StoreError),
    #[error("scoring sleep from the stored minutes: {0}")]
    Signal(#[from] SignalError),
}

/// How the sink batches and looks back.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestConfig {
    pub aggregator: AggregatorConfig,
    /// Closed minutes written per transaction (≥ 1).
    pub batch_minutes: usize,
    /// Hours before the first recorded minute that sleep detection also scores.
    pub sleep_lookback_h: u32,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            aggregator: AggregatorConfig::default(),
            batch_minutes: 10,
            sleep_lookback_h: 36,
        }
    }
}

/// What a stream stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IngestSummary {
    pub samples: u64,
    pub minutes_stored: u64,
    pub late_samples: u64,
    pub sleep_episodes_stored: u64,
    pub first_minute: Option<String>,
    pub last_minute: Option<String>,
}

/// Aggregates one user's samples and stores the minutes (see the module docs). `S` is how the
/// store is held: `&Store` for a stream that lives inside a borrow (the CLI), `Arc<Store>` for one
/// that outlives it (the apps' BLE layer through the FFI).
#[derive(Debug)]
pub struct StoreSink<S: Deref<Target = Store>> {
    store: S,
    user: String,
    aggregator: MinuteAggregator,
    pending: Vec<SensorMinute>,
    config: IngestConfig,
    summary: IngestSummary,
    span: Option<(DateTime<FixedOffset>, DateTime<FixedOffset>)>,
}

impl<S: Deref<Target = Store>> StoreSink<S> {
    pub fn new(store: S, user: &str, mut config: IngestConfig) -> Self {
        config.batch_minutes = config.batch_minutes.max(1);
        StoreSink {
            store,
            user: user.to_owned(),
            aggregator: MinuteAggregator::new(user, config.aggregator),
            pending: Vec::with_capacity(config.batch_minutes),
            config,
            summary: IngestSummary::default(),
            span: None,
        }
    }

    /// The aggregator (for its raw look-back ring and late-sample count).
    pub fn aggregator(&self) -> &MinuteAggregator {
        &self.aggregator
    }

    /// Feeds one sample; writes a batch when enough minutes have closed.
    pub fn push(&mut self, sample: SensorSample) -> Result<(), IngestError> {
        self.summary.samples += 1;
        let pending = &mut self.pending;
        self.aggregator.push(sample, |m| pending.push(m));
        if self.pending.len() >= self.config.batch_minutes {
            self.flush()?;
        }
        Ok(())
    }

    /// Feeds an event (only samples carry data).
    pub fn push_event(&mut self, event: SensorEvent) -> Result<(), IngestError> {
        match event {
            SensorEvent::Sample(sample) => self.push(sample),
            _ => Ok(()),
        }
    }

    /// Minutes closed but not yet written.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Writes the closed minutes now.
    pub fn flush(&mut self) -> Result<(), IngestError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.store.put_sensor_minutes(&self.pending)?;
        for m in &self.pending {
            let t = m.minute_start;
            self.span = Some(match self.span {
                Some((lo, hi)) => (lo.min(t), hi.max(t)),
                None => (t, t),
            });
        }
        self.summary.minutes_stored += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }

    /// Closes the open minutes, writes them, detects sleep over the recorded span (plus the
    /// look-back) and returns what was stored.
    pub fn finish(mut self) -> Result<IngestSummary, IngestError> {
        self.close()
    }

    /// [`finish`](Self::finish) without ending the sink: what was stored since the last close,
    /// after which the sink starts a new span (for a band that stays connected for days; a
    /// minute still open is closed, so call it when the stream pauses).
    pub fn close(&mut self) -> Result<IngestSummary, IngestError> {
        let rest = self.aggregator.finish();
        self.pending.extend(rest);
        self.flush()?;
        self.summary.late_samples = self.aggregator.late_samples();
        if let Some((lo, hi)) = self.span.take() {
            let since = lo.timestamp_millis() - i64::from(self.config.sleep_lookback_h) * 3_600_000;
            let stored = detect_sleep(&self.store, &self.user, since, hi.timestamp_millis() + MINUTE_MS)?;
            self.summary.sleep_episodes_stored = stored.len() as u64;
            self.summary.first_minute = Some(crate::event::format_ts(&lo));
            self.summary.last_minute = Some(crate::event::format_ts(&hi));
        }
        Ok(std::mem::take(&mut self.summary))
    }
}

/// Scores the user's stored minutes in `[since_ms, until_ms)` and upserts the detected sleep
/// episodes (module docs); returns them.
pub fn detect_sleep(store: &Store, user: &str, since_ms: i64, until_ms: i64) -> Result<Vec<SleepEpisode>, IngestError> {
    let minutes = store.sensor_minutes(user, since_ms, until_ms)?;
    let mut stored = Vec::new();
    for segment in segments(&minutes) {
        if segment.counts.len() < MIN_SEGMENT_MIN {
            continue;
        }
        let mut labels = score(&segment.counts, Algorithm::ColeKripke)?;
        heart_rate_gate(&mut labels, &segment.hr);
        let labels = webster_rescore(&labels);
        for e in sleep_episodes(&labels, segment.start, 60, &EpisodeOptions::default())? {
            if e.duration_min < MIN_STORED_EPISODE_MIN {
                continue;
            }
            if e.duration_min > MAX_STORED_EPISODE_MIN {
                tracing::info!(user, minutes = e.duration_min, "still for too long to be sleep: not stored (off the wrist)");
                continue;
            }
            let episode = SleepEpisode {
                user: user.to_owned(),
                start: e.start,
                end: e.end,
                source: SleepSource::Detected,
                efficiency_pct: Some(e.efficiency_pct),
            };
            store.put_detected_sleep(&episode)?;
            stored.push(episode);
        }
    }
    tracing::debug!(user, minutes = minutes.len(), episodes = stored.len(), "sleep detection");
    Ok(stored)
}

/// A run of minutes with counts, small gaps filled (heart rate `None` where unmeasured).
struct Segment {
    start: DateTime<FixedOffset>,
    counts: Vec<f64>,
    hr: Vec<Option<f64>>,
}

const HR_GATE_MIN_MINUTES: usize = 360;
const HR_GATE_MIN_SPREAD_BPM: f64 = 15.0;
const HR_GATE_FRACTION: f64 = 0.35;

/// The heart-rate gate of the module docs.
fn heart_rate_gate(labels: &mut [bool], hr: &[Option<f64>]) {
    let mut known: Vec<f64> = hr.iter().flatten().copied().filter(|v| v.is_finite()).collect();
    if known.len() < HR_GATE_MIN_MINUTES {
        return;
    }
    known.sort_unstable_by(f64::total_cmp);
    let q = |p: f64| known[((known.len() - 1) as f64 * p).round() as usize];
    let (p10, p90) = (q(0.1), q(0.9));
    if p90 - p10 < HR_GATE_MIN_SPREAD_BPM {
        return;
    }
    let threshold = p10 + HR_GATE_FRACTION * (p90 - p10);
    let mut window: Vec<f64> = Vec::with_capacity(5);
    for i in 0..labels.len().min(hr.len()) {
        if !labels[i] {
            continue;
        }
        window.clear();
        window.extend(hr[i.saturating_sub(2)..(i + 3).min(hr.len())].iter().flatten().copied());
        if window.is_empty() {
            continue;
        }
        window.sort_unstable_by(f64::total_cmp);
        if window[window.len() / 2] > threshold {
            labels[i] = false;
        }
    }
}

fn segments(minutes: &[SensorMinute]) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    let mut last: Option<(i64, f64)> = None;
    for m in minutes {
        let Some(count) = m.activity_count.filter(|c| c.is_finite() && *c >= 0.0) else {
            continue;
        };
        let index = m.minute_start.timestamp_millis().div_euclid(MINUTE_MS);
        match (last, out.last_mut()) {
            (Some((prev_index, prev)), Some(segment))
                if index > prev_index && ((index - prev_index - 1) as usize) < MAX_FILLED_GAP_MIN =>
            {
                let missing = index - prev_index - 1;
                for k in 1..=missing {
                    segment.counts.push(prev + (count - prev) * k as f64 / (missing + 1) as f64);
                    segment.hr.push(None);
                }
                segment.counts.push(count);
                segment.hr.push(m.hr_bpm);
            }
            (Some((prev_index, _)), _) if index <= prev_index => continue,
            _ => out.push(Segment { start: m.minute_start, counts: vec![count], hr: vec![m.hr_bpm] }),
        }
        last = Some((index, count));
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::wearable::{RawRetention, Reading};

    fn t0() -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339("2026-03-02T20:00:00+01:00").unwrap()
    }

    fn minute(i: i64, count: Option<f64>) -> SensorMinute {
        SensorMinute {
            user: "kid".into(),
            minute_start: t0() + Duration::minutes(i),
            hr_bpm: None,
            rmssd_ms: None,
            eda_tonic_us: None,
            scr_count: None,
            activity_count: count,
            skin_temp_c: None,
        }
    }

    #[test]
    fn still_minutes_with_a_waking_heart_rate_are_wake() {
        // 8 h: still throughout; heart rate 95 for 4 h (sitting awake), then 62 (asleep).
        let hr: Vec<Option<f64>> = (0..480).map(|i| Some(if i < 240 { 95.0 } else { 62.0 })).collect();
        let mut labels = vec![true; 480];
        heart_rate_gate(&mut labels, &hr);
        assert!(labels[..238].iter().all(|v| !v) && labels[242..].iter().all(|v| *v));
        // Too little heart rate, or no spread: the labels stand.
        let mut labels = vec![true; 480];
        heart_rate_gate(&mut labels, &hr.iter().map(|_| Some(70.0)).collect::<Vec<_>>());
        heart_rate_gate(&mut labels, &hr[..100]);
        assert!(labels.iter().all(|v| *v));
    }

    #[test]
    fn small_gaps_are_interpolated_and_long_ones_cut() {
        let mut ms = vec![minute(0, Some(10.0)), minute(3, Some(40.0))];
        ms.push(minute(3 + MAX_FILLED_GAP_MIN as i64 + 1, Some(5.0)));
        ms.push(minute(100, None));
        let seg = segments(&ms);
        assert_eq!(seg.len(), 2);
        assert_eq!(seg[0].counts, vec![10.0, 20.0, 30.0, 40.0]);
        assert_eq!(seg[1].counts, vec![5.0]);
        assert_eq!(seg[1].start, t0() + Duration::minutes(14));
    }

    #[test]
    fn a_quiet_night_between_active_evenings_is_stored_once_and_updated() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("m.db")).unwrap();
        // 20:00–22:00 active, 22:00–06:30 still (a few twitches), 06:30–08:00 active.
        let counts = |i: i64| match i {
            0..120 => 800.0 + (i % 7) as f64 * 50.0,
            120..630 if i % 97 == 0 => 150.0,
            120..630 => 0.0,
            _ => 900.0,
        };
        let all: Vec<_> = (0..720).map(|i| minute(i, Some(counts(i)))).collect();
        store.put_sensor_minutes(&all[..500]).unwrap();
        let until = (t0() + Duration::hours(13)).timestamp_millis();
        let first = detect_sleep(&store, "kid", t0().timestamp_millis(), until).unwrap();
        assert_eq!(first.len(), 1, "{first:?}");
        // The rest of the night arrives: the same episode (same start) grows.
        store.put_sensor_minutes(&all[500..]).unwrap();
        let second = detect_sleep(&store, "kid", t0().timestamp_millis(), until).unwrap();
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].start, first[0].start);
        assert!(second[0].end > first[0].end);
        let stored = store.sleep_episodes("kid").unwrap();
        assert_eq!(stored.len(), 1);
        let start_h = (stored[0].start - t0()).num_minutes() as f64 / 60.0;
        let end_h = (stored[0].end - t0()).num_minutes() as f64 / 60.0;
        assert!((1.8..=2.5).contains(&start_h) && (10.0..=10.8).contains(&end_h), "{start_h} {end_h}");
        assert!(stored[0].efficiency_pct.unwrap() > 90.0);
    }

    #[test]
    fn the_sink_stores_minutes_in_batches_and_keeps_raw_samples_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("m.db")).unwrap();
        let config = IngestConfig {
            aggregator: AggregatorConfig {
                raw: RawRetention { max_age: std::time::Duration::from_secs(30), max_samples: 50 },
                ..AggregatorConfig::default()
            },
            batch_minutes: 5,
            sleep_lookback_h: 0,
        };
        let mut sink = StoreSink::new(&store, "kid", config);
        let mut most_raw = 0;
        // 2 h of 1 Hz heart rate and 32 Hz acceleration at rest.
        for s in 0..7200 {
            let at = t0() + Duration::seconds(s);
            sink.push(SensorSample { at, reading: Reading::HeartRate { bpm: 70.0, contact: crate::wearable::SensorContact::Detected, energy_kj: None } }).unwrap();
            sink.push(SensorSample {
                at,
                reading: Reading::Accel { hz: 32.0, x: vec![0.0; 32], y: vec![0.0; 32], z: vec![1.0; 32] },
            })
            .unwrap();
            most_raw = most_raw.max(sink.aggregator().recent_raw().count());
            assert!(sink.pending() < 5);
        }
        // The ring never held more than its bound, whatever the recording's length.
        assert_eq!(most_raw, 50);
        let summary = sink.finish().unwrap();
        assert_eq!(summary.samples, 14_400);
        assert_eq!(summary.minutes_stored, 120);
        let stored = store.sensor_minutes("kid", 0, i64::MAX).unwrap();
        assert_eq!(stored.len(), 120);
        assert!(stored.iter().all(|m| m.hr_bpm == Some(70.0) && m.activity_count == Some(0.0)));
        // Two hours of stillness are scored as sleep but stay below the 3 h minimum episode.
        assert_eq!(summary.sleep_episodes_stored, 0);
    }
}
