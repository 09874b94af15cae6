//! Body-signal reports over what the store holds: sleep episodes with the chronotype
//! (`migru sleep`), and HRV of the most recent RR intervals (`migru hrv` without a file).
//!
//! The computation is in the sans-I/O modules (`signals`, `chronotype`); this module only selects
//! the rows, in bounded memory.
//!
//! - Sleep: every episode of the child in the look-back window (default 28 days, by wake-up
//!   time), logged (`sleep` records) and detected (the wearable's actigraphy) alike, oldest first;
//!   an episode longer than 24 h is no night and is left out.
//!   The chronotype uses all of them: per wake-up date only the longest counts, so a night both
//!   logged and detected is counted once.
//! - HRV: the RR intervals of the `rr` records in the `window_min` minutes (default 5, the
//!   short-term HRV standard) ending at the newest `rr` record, concatenated in time order. A record
//!   whose beats cannot follow the previous record's (its first beat would start more than 3 s
//!   after, or before, the previous record's last beat) is a gap: only the run after the last gap
//!   in the window is used, so a gap never becomes one huge or negative successive difference.

use std::collections::VecDeque;

use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use crate::chronotype::{Chronotype, ChronotypeError, ChronotypeOptions, chronotype};
use crate::event::{Body, Kind, format_ts};
use crate::signals::SignalError;
use crate::signals::hrv::{HrvOptions, HrvSummary, hrv};
use crate::store::{EventFilter, SleepSource, Store, StoreError};

const DAY_MS: i64 = 86_400_000;
/// Largest mismatch between a record's time and the beats it carries before it counts as a gap.
const RR_GAP_MS: f64 = 3_000.0;

/// What went wrong reading a report.
#[derive(Debug, thiserror::Error)]
pub enum ReadingsError {
    #[error("reading the store: {0}")]
    Store(#[from] StoreError),
    #[error("estimating the chronotype: {0}")]
    Chronotype(#[from] ChronotypeError),
    #[error("computing HRV of the stored RR intervals: {0}")]
    Signal(#[from] SignalError),
    #[error("no RR intervals are stored for {user} (record them with `migru ble record` or import `rr` records)")]
    NoRr { user: String },
    #[error("invalid {name}: {reason}")]
    InvalidParameter { name: &'static str, reason: String },
}

/// One sleep episode of the report (`migru sleep --json` → `episodes`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SleepEpisodeReport {
    pub start: String,
    pub end: String,
    pub duration_min: f64,
    /// Sleep time / episode time × 100; `null` for logged sleep (nobody measured the wake bouts).
    pub efficiency_pct: Option<f64>,
    pub source: SleepSource,
}

/// `migru sleep --json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SleepReport {
    pub episodes: Vec<SleepEpisodeReport>,
    pub chronotype: Chronotype,
    pub window_days: u32,
}

/// The child's sleep episodes ending in the `days` days before `now`, and the chronotype.
pub fn sleep_report(
    store: &Store,
    user: &str,
    now: DateTime<FixedOffset>,
    days: u32,
    options: &ChronotypeOptions,
) -> Result<SleepReport, ReadingsError> {
    if days == 0 {
        return Err(ReadingsError::InvalidParameter { name: "days", reason: "must be at least 1".into() });
    }
    let since_ms = now.timestamp_millis() - i64::from(days) * DAY_MS;
    let episodes: Vec<_> = store
        .sleep_episodes(user)?
        .into_iter()
        .filter(|e| e.end.timestamp_millis() > since_ms && e.end <= now && e.end > e.start)
        // Longer than a day is no night (a band still off the wrist, a mistyped log): left out
        // rather than failing the whole report.
        .filter(|e| e.end - e.start <= chrono::Duration::hours(24))
        .collect();
    let episodes = without_overlaps(episodes);
    let pairs: Vec<_> = episodes.iter().map(|e| (e.start, e.end)).collect();
    let chronotype = chronotype(&pairs, options)?;
    let episodes = episodes
        .iter()
        .map(|e| SleepEpisodeReport {
            start: format_ts(&e.start),
            end: format_ts(&e.end),
            duration_min: ((e.end - e.start).num_seconds() as f64 / 60.0).round(),
            efficiency_pct: e.efficiency_pct.map(|v| (v * 10.0).round() / 10.0),
            source: e.source,
        })
        .collect();
    Ok(SleepReport { episodes, chronotype, window_days: days })
}

/// Of overlapping episodes from the same source (a night detected again from a slightly different
/// span), keeps the longest. Input and output are ordered by start.
fn without_overlaps(episodes: Vec<crate::store::SleepEpisode>) -> Vec<crate::store::SleepEpisode> {
    let mut out: Vec<crate::store::SleepEpisode> = Vec::with_capacity(episodes.len());
    for e in episodes {
        let overlapping = out.iter().rposition(|k| k.source == e.source && k.end > e.start && e.end > k.start);
        match overlapping {
            Some(i) if out[i].end - out[i].start >= e.end - e.start => {}
            Some(i) => out[i] = e,
            None => out.push(e),
        }
    }
    out.sort_by_key(|e| e.start);
    out
}

/// The RR intervals HRV was computed from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RrWindow {
    pub from: String,
    pub to: String,
    pub records: usize,
    /// Gaps found inside the window (only the run after the last one is used).
    pub gaps: usize,
}

/// `migru hrv --json` from the database: the contract's keys plus where they came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredHrv {
    #[serde(flatten)]
    pub summary: HrvSummary,
    pub window: RrWindow,
}

/// One `rr` record: its time (the last beat) and intervals.
struct RrBatch {
    ts: DateTime<FixedOffset>,
    rr_ms: Vec<f64>,
}

/// HRV of the child's RR intervals in the `window_min` minutes ending at the newest `rr` record.
pub fn recent_hrv(store: &Store, user: &str, window_min: u32, options: &HrvOptions) -> Result<StoredHrv, ReadingsError> {
    if !(1..=1440).contains(&window_min) {
        return Err(ReadingsError::InvalidParameter { name: "window_min", reason: format!("{window_min} is not 1 to 1440 minutes") });
    }
    let window_ms = i64::from(window_min) * 60_000;
    // Records come in arrival order; keep those within the window of the newest seen so far
    // (any older one can never be in the final window), so memory is bounded by the window.
    let mut kept: VecDeque<RrBatch> = VecDeque::new();
    let mut newest_ms = i64::MIN;
    let filter = EventFilter { user: Some(user.to_owned()), kinds: vec![Kind::Rr], ..Default::default() };
    store.for_each_event(&filter, |event| {
        if let Body::Rr { rr_ms } = event.record.body {
            let ts = event.record.ts;
            newest_ms = newest_ms.max(ts.timestamp_millis());
            kept.push_back(RrBatch { ts, rr_ms });
            kept.retain(|b| b.ts.timestamp_millis() > newest_ms - window_ms);
        }
        Ok(())
    })?;
    if kept.is_empty() {
        return Err(ReadingsError::NoRr { user: user.to_owned() });
    }
    let mut batches: Vec<RrBatch> = kept.into_iter().collect();
    batches.sort_by_key(|b| b.ts);
    let mut start = 0;
    let mut gaps = 0;
    for i in 1..batches.len() {
        let prev_end = batches[i - 1].ts.timestamp_millis() as f64;
        let first_start = batches[i].ts.timestamp_millis() as f64 - batches[i].rr_ms.iter().sum::<f64>();
        if (first_start - prev_end).abs() > RR_GAP_MS {
            gaps += 1;
            start = i;
        }
    }
    let run = &batches[start..];
    let rr: Vec<f64> = run.iter().flat_map(|b| b.rr_ms.iter().copied()).collect();
    let summary = hrv(&rr, options)?;
    let window = RrWindow {
        from: format_ts(&run[0].ts),
        to: format_ts(&run[run.len() - 1].ts),
        records: run.len(),
        gaps,
    };
    Ok(StoredHrv { summary, window })
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::chronotype::Confidence;
    use crate::event::{LOCAL_USER, Record};

    fn at(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    fn record(ts: DateTime<FixedOffset>, body: Body) -> Record {
        Record { id: None, ts, user: LOCAL_USER.into(), body, extra: Default::default() }
    }

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("m.db")).unwrap();
        (dir, store)
    }

    #[test]
    fn logged_nights_give_episodes_and_too_few_free_days_say_not_yet() {
        let (_dir, store) = store();
        // Mon 2026-03-02 .. : school nights 21:00–07:00, one weekend night 22:30–09:00.
        let monday = at("2026-03-02T21:00:00+01:00");
        for d in 0..5 {
            let start = monday + Duration::days(d) - Duration::days(1);
            store.append(&record(start, Body::Sleep { start, end: start + Duration::hours(10) })).unwrap();
        }
        let sat = at("2026-03-06T22:30:00+01:00");
        store.append(&record(sat, Body::Sleep { start: sat, end: sat + Duration::minutes(630) })).unwrap();
        let now = at("2026-03-08T12:00:00+01:00");
        let report = sleep_report(&store, LOCAL_USER, now, 28, &ChronotypeOptions::default()).unwrap();
        assert_eq!(report.episodes.len(), 6);
        assert_eq!(report.episodes[0].duration_min, 600.0);
        assert_eq!(report.episodes[0].efficiency_pct, None);
        assert_eq!(report.chronotype.free_days, 1);
        assert_eq!(report.chronotype.confidence, Confidence::NotYet);
        assert_eq!(report.chronotype.msf_sc, None);
        // A second free night makes an estimate: mid-sleep 03:45 on both free nights, with 30 min
        // more sleep than on school nights → MSFsc a little earlier.
        let sun = at("2026-03-07T22:30:00+01:00");
        store.append(&record(sun, Body::Sleep { start: sun, end: sun + Duration::minutes(630) })).unwrap();
        let now = at("2026-03-08T12:00:00+01:00");
        let report = sleep_report(&store, LOCAL_USER, now, 28, &ChronotypeOptions::default()).unwrap();
        assert_eq!(report.chronotype.free_days, 2);
        assert_eq!(report.chronotype.confidence, Confidence::Low);
        assert_eq!(report.chronotype.msf_sc.as_deref(), Some("03:34"));
        assert_eq!(report.chronotype.social_jetlag_min, Some(105.0));
        // Outside the window: nothing.
        let later = now + Duration::days(60);
        let report = sleep_report(&store, LOCAL_USER, later, 28, &ChronotypeOptions::default()).unwrap();
        assert!(report.episodes.is_empty());
        assert_eq!(report.chronotype.confidence, Confidence::NotYet);
    }

    #[test]
    fn hrv_uses_the_newest_window_and_only_the_run_after_a_gap() {
        let (_dir, store) = store();
        assert!(matches!(recent_hrv(&store, LOCAL_USER, 5, &HrvOptions::default()), Err(ReadingsError::NoRr { .. })));
        // An old hour (RR 600 ms) then, after a 2 h gap, 10 minutes alternating 800/850 ms in
        // records of 4 beats stamped at their last beat.
        let mut t = at("2026-03-02T08:00:00+01:00");
        let mut records = Vec::new();
        for _ in 0..(3600 / 3) {
            t += Duration::milliseconds(3 * 600);
            records.push(record(t, Body::Rr { rr_ms: vec![600.0; 3] }));
        }
        t += Duration::hours(2);
        for _ in 0..(600_000 / 3300) {
            t += Duration::milliseconds(3300);
            records.push(record(t, Body::Rr { rr_ms: vec![800.0, 850.0, 800.0, 850.0] }));
        }
        store.append_batch(&records).unwrap();
        let out = recent_hrv(&store, LOCAL_USER, 5, &HrvOptions::default()).unwrap();
        assert!((out.summary.mean_rr_ms - 825.0).abs() < 1e-9, "{out:?}");
        assert!((out.summary.rmssd_ms - 50.0).abs() < 1e-9);
        assert_eq!(out.summary.n_beats, out.window.records * 4);
        assert!(out.window.records >= 90 && out.window.records <= 91, "{:?}", out.window);
        assert_eq!(out.window.gaps, 0);
        // A wider window reaches across the gap; only the run after it is used.
        let wide = recent_hrv(&store, LOCAL_USER, 240, &HrvOptions::default()).unwrap();
        assert_eq!(wide.window.gaps, 1);
        assert!((wide.summary.mean_rr_ms - 825.0).abs() < 1e-9);
        assert!(recent_hrv(&store, LOCAL_USER, 0, &HrvOptions::default()).is_err());
    }
}
