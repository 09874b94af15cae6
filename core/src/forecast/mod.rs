//! Forecasts for the next 24 h: the child's stress (hourly, with intervals), tonight's sleep
//! timing, and a migraine-risk outlook from the child's patterns plus the weather outlook.
//!
//! - Stress: each stored minute is scored against the child's own baseline (`signals::stress`,
//!   fitted on the same minutes), averaged per hour (an hour needs ≥ 10 scored minutes), and
//!   forecast with additive damped Holt–Winters with a 24 h season ([`holt_winters`]); needs two
//!   full days of hours. Intervals are ± 1.96 in-sample RMSEs of the same horizon (nominal 95 %).
//! - Sleep timing: the onset and wake-up of the night starting today, from the nights of the same
//!   kind (followed by a free day or a school day, as in `chronotype`): the mean of the last (up
//!   to) 14 such nights, the interval mean ± t(0.975, n−1) · s · √(1 + 1/n). Needs 3 such nights.
//! - Backtests ([`backtest_hourly`], [`backtest_nights`]) compare against the seasonal-naive
//!   baseline (the same hour yesterday; the same night a week earlier) by mean absolute error.
//! - Risk: [`risk`].

pub mod holt_winters;
pub mod risk;
pub mod weather;

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, Timelike, Weekday};
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::signals::stress::{StressBaseline, StressInput};
use crate::store::{SensorMinute, SleepEpisode};
use holt_winters::HoltWinters;

const HOUR_MS: i64 = 3_600_000;
const MIN_SCORED_MINUTES: usize = 10;
const Z95: f64 = 1.959_964;
const MAX_NIGHTS: usize = 14;
const MIN_NIGHTS: usize = 3;
const MIN_MAIN_SLEEP_MIN: f64 = 180.0;

/// What went wrong forecasting.
#[derive(Debug, thiserror::Error)]
pub enum ForecastError {
    #[error("reading the store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("the series is too short: {needed} points needed, {got} given")]
    TooShort { needed: usize, got: usize },
    #[error("too few observed points: {what}")]
    TooSparse { what: &'static str },
    #[error("invalid {name}: {reason}")]
    InvalidParameter { name: &'static str, reason: String },
}

/// One hour of the stress forecast (`migru forecast --json` → `stress`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StressPoint {
    pub ts: String,
    pub value: f64,
    pub lo: f64,
    pub hi: f64,
}

/// The child's hourly stress (0–100, 50 = their typical state) from stored minutes: the hour
/// starts (UTC hours, shown in the minutes' offset) and the hourly mean where ≥ 10 minutes scored.
pub fn hourly_stress(minutes: &[SensorMinute]) -> Vec<(DateTime<FixedOffset>, Option<f64>)> {
    let inputs: Vec<StressInput> = minutes
        .iter()
        .map(|m| StressInput {
            rmssd_ms: m.rmssd_ms,
            eda_tonic_us: m.eda_tonic_us,
            scr_per_min: m.scr_count.map(f64::from),
        })
        .collect();
    let Ok(baseline) = StressBaseline::fit(&inputs) else {
        return Vec::new();
    };
    let (Some(first), Some(last)) = (minutes.first(), minutes.last()) else {
        return Vec::new();
    };
    let hour_of = |m: &SensorMinute| m.minute_start.timestamp_millis().div_euclid(HOUR_MS);
    let (h0, h1) = (hour_of(first), hour_of(last));
    let hours = usize::try_from(h1 - h0 + 1).unwrap_or(0);
    let mut sums = vec![(0.0, 0usize); hours];
    for (m, input) in minutes.iter().zip(&inputs) {
        let Ok(i) = usize::try_from(hour_of(m) - h0) else { continue };
        if let (Some(slot), Some(score)) = (sums.get_mut(i), baseline.score(input)) {
            slot.0 += score.score;
            slot.1 += 1;
        }
    }
    let offset = *last.minute_start.offset();
    sums.into_iter()
        .enumerate()
        .filter_map(|(i, (sum, n))| {
            let start = DateTime::from_timestamp_millis((h0 + i as i64) * HOUR_MS)?.with_timezone(&offset);
            Some((start, (n >= MIN_SCORED_MINUTES).then(|| sum / n as f64)))
        })
        .collect()
}

/// The next 24 hours of stress after the last hour of `hourly`.
pub fn stress_forecast(hourly: &[(DateTime<FixedOffset>, Option<f64>)]) -> Result<Vec<StressPoint>, ForecastError> {
    let values: Vec<Option<f64>> = hourly.iter().map(|(_, v)| *v).collect();
    let model = HoltWinters::fit(&values, 24, 24)?;
    let Some(&(last, _)) = hourly.last() else {
        return Err(ForecastError::TooShort { needed: 48, got: 0 });
    };
    Ok(model
        .forecast(24, Z95)
        .into_iter()
        .enumerate()
        .map(|(i, p)| StressPoint {
            ts: crate::event::format_ts(&(last + Duration::hours(i as i64 + 1))),
            value: round1(p.mean.clamp(0.0, 100.0)),
            lo: round1(p.lo.clamp(0.0, 100.0)),
            hi: round1(p.hi.clamp(0.0, 100.0)),
        })
        .collect())
}

/// Mean absolute errors of a backtest, the model's against the seasonal-naive baseline's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Backtest {
    pub origins: usize,
    pub points: usize,
    pub mae: f64,
    pub naive_mae: f64,
    /// `mae / naive_mae`: below 1 beats the baseline.
    pub ratio: f64,
    /// Share of points inside the 95 % interval.
    pub coverage_95: f64,
}

/// Rolling-origin backtest of the hourly forecast: at every 24th hour from `min_train` on, fit on
/// everything before, forecast 24 h and score the observed hours against the model and the same
/// hour one day earlier.
pub fn backtest_hourly(series: &[Option<f64>], min_train: usize) -> Result<Backtest, ForecastError> {
    let min_train = min_train.max(48);
    let (mut err, mut naive, mut inside, mut points, mut origins) = (0.0, 0.0, 0usize, 0usize, 0usize);
    let mut origin = min_train;
    while origin + 24 <= series.len() {
        let model = HoltWinters::fit(&series[..origin], 24, 24)?;
        for (h, p) in model.forecast(24, Z95).iter().enumerate() {
            let t = origin + h;
            if let (Some(y), Some(yesterday)) = (series[t], series[t - 24]) {
                err += (p.mean - y).abs();
                naive += (yesterday - y).abs();
                inside += usize::from(p.lo <= y && y <= p.hi);
                points += 1;
            }
        }
        origins += 1;
        origin += 24;
    }
    finish(origins, points, err, naive, inside)
}

fn finish(origins: usize, points: usize, err: f64, naive: f64, inside: usize) -> Result<Backtest, ForecastError> {
    if points == 0 {
        return Err(ForecastError::TooSparse { what: "no forecast point could be scored" });
    }
    let n = points as f64;
    Ok(Backtest {
        origins,
        points,
        mae: err / n,
        naive_mae: naive / n,
        ratio: if naive > 0.0 { err / naive } else { f64::INFINITY },
        coverage_95: inside as f64 / n,
    })
}

/// Tonight's sleep timing (`migru forecast --json` → `sleep`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SleepTiming {
    /// The local date the night starts on.
    pub night_of: String,
    /// Whether the next day is free (no school).
    pub free_day_next: bool,
    pub onset: String,
    pub onset_lo: String,
    pub onset_hi: String,
    pub wake: String,
    pub wake_lo: String,
    pub wake_hi: String,
    /// Nights of the same kind it was computed from.
    pub nights: usize,
}

/// One main sleep: local date it started on (a night "of" that date), onset and wake in minutes
/// after that date's noon, and whether the wake-up day was free.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Night {
    pub night_of: NaiveDate,
    pub onset_min: f64,
    pub wake_min: f64,
    pub free_next: bool,
}

fn is_free(date: NaiveDate, free_dates: &std::collections::BTreeSet<NaiveDate>) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun) || free_dates.contains(&date)
}

/// The main sleeps (≥ 3 h, the longest per night) of the episodes, oldest first.
pub fn nights(episodes: &[SleepEpisode], free_dates: &std::collections::BTreeSet<NaiveDate>) -> Vec<Night> {
    let mut by_night: std::collections::BTreeMap<NaiveDate, (f64, Night)> = Default::default();
    for e in episodes {
        let duration = (e.end - e.start).num_minutes() as f64;
        if !(MIN_MAIN_SLEEP_MIN..=1440.0).contains(&duration) {
            continue;
        }
        // A night belongs to the date of the noon before it.
        let since_noon = e.start - Duration::hours(12);
        let night_of = since_noon.date_naive();
        let onset_min = f64::from(since_noon.hour() * 60 + since_noon.minute());
        let night = Night {
            night_of,
            onset_min,
            wake_min: onset_min + duration,
            free_next: night_of.succ_opt().is_some_and(|d| is_free(d, free_dates)),
        };
        let entry = by_night.entry(night_of).or_insert((0.0, night));
        if duration > entry.0 {
            *entry = (duration, night);
        }
    }
    by_night.into_values().map(|(_, n)| n).collect()
}

/// (mean, half-width of the 95 % prediction interval) of the last nights of the same kind.
fn predict_night(history: &[Night], free_next: bool, value: fn(&Night) -> f64) -> Option<(f64, f64, usize)> {
    let same: Vec<f64> = history.iter().rev().filter(|n| n.free_next == free_next).take(MAX_NIGHTS).map(value).collect();
    let n = same.len();
    if n < MIN_NIGHTS {
        return None;
    }
    let mean = same.iter().sum::<f64>() / n as f64;
    let var = same.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let t = StudentsT::new(0.0, 1.0, (n - 1) as f64).map(|d| d.inverse_cdf(0.975)).unwrap_or(Z95);
    Some((mean, t * var.sqrt() * (1.0 + 1.0 / n as f64).sqrt(), n))
}

/// Sleep timing of the night starting on `night_of` (local date, in `offset`).
pub fn sleep_timing(
    history: &[Night],
    night_of: NaiveDate,
    offset: FixedOffset,
    free_dates: &std::collections::BTreeSet<NaiveDate>,
) -> Option<SleepTiming> {
    let free_next = night_of.succ_opt().is_some_and(|d| is_free(d, free_dates));
    let (onset, onset_half, nights) = predict_night(history, free_next, |n| n.onset_min)?;
    let (wake, wake_half, _) = predict_night(history, free_next, |n| n.wake_min)?;
    let noon = night_of.and_hms_opt(12, 0, 0)?.and_local_timezone(offset).single()?;
    let at = |min: f64| crate::event::format_ts(&(noon + Duration::minutes(min.round() as i64)));
    Some(SleepTiming {
        night_of: night_of.to_string(),
        free_day_next: free_next,
        onset: at(onset),
        onset_lo: at(onset - onset_half),
        onset_hi: at(onset + onset_half),
        wake: at(wake),
        wake_lo: at(wake - wake_half),
        wake_hi: at(wake + wake_half),
        nights,
    })
}

/// Backtest of the onset and wake forecasts over every night with enough history before it,
/// against the same night one week earlier; errors in minutes, onset and wake pooled.
pub fn backtest_nights(history: &[Night]) -> Result<Backtest, ForecastError> {
    let (mut err, mut naive, mut inside, mut points, mut origins) = (0.0, 0.0, 0usize, 0usize, 0usize);
    for (i, night) in history.iter().enumerate() {
        let before = &history[..i];
        let Some(week_ago) = before.iter().rev().find(|n| n.night_of == night.night_of - Duration::days(7)) else {
            continue;
        };
        let mut scored = false;
        for value in [(|n: &Night| n.onset_min) as fn(&Night) -> f64, |n: &Night| n.wake_min] {
            if let Some((mean, half, _)) = predict_night(before, night.free_next, value) {
                let y = value(night);
                err += (mean - y).abs();
                naive += (value(week_ago) - y).abs();
                inside += usize::from((mean - y).abs() <= half);
                points += 1;
                scored = true;
            }
        }
        origins += usize::from(scored);
    }
    finish(origins, points, err, naive, inside)
}

/// Everything `migru forecast --json` prints (and the apps show), for one child.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outlook {
    pub generated_at: String,
    pub stress: Vec<StressPoint>,
    /// Why `stress` is empty, if it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stress_note: Option<String>,
    pub sleep: Option<SleepTiming>,
    pub migraine_risk: risk::MigraineRisk,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backtest: Option<Backtests>,
}

/// The backtests of [`outlook`] (`None` where the data are too few).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Backtests {
    pub stress: Option<Backtest>,
    pub sleep_timing: Option<Backtest>,
}

/// The child's outlook for the 24 h after `now`: stress from the `days` (≥ 3) of stored minutes
/// before `now`, sleep timing from the stored episodes, the migraine risk from the pattern
/// engine (caught up in memory from its saved state; nothing is written) and `weather`.
pub fn outlook(
    store: &crate::store::Store,
    user: &str,
    now: DateTime<FixedOffset>,
    days: u32,
    weather: Option<&weather::WeatherOutlook>,
    with_backtest: bool,
) -> Result<Outlook, ForecastError> {
    let since = now - Duration::days(i64::from(days.max(3)));
    let minutes = store.sensor_minutes(user, since.timestamp_millis(), now.timestamp_millis())?;
    let hourly = hourly_stress(&minutes);
    let (stress, stress_note) = match stress_forecast(&hourly) {
        Ok(points) => (points, None),
        Err(error) => (Vec::new(), Some(format!("no stress forecast yet: {error} (two full days of band data needed)"))),
    };
    let free = std::collections::BTreeSet::new();
    let history = nights(&store.sleep_episodes(user)?, &free);
    let sleep = sleep_timing(&history, (now - Duration::hours(12)).date_naive(), *now.offset(), &free);
    let patterns = crate::patterns::load(store, user)
        .and_then(|mut engine| crate::patterns::catch_up(store, user, &mut engine).map(|_| engine))
        .map_err(|error| tracing::warn!(%error, "pattern engine unavailable; the risk uses the prior"))
        .ok()
        .and_then(|engine| engine.report(user));
    let migraine_risk = risk::migraine_risk(now, patterns.as_ref(), weather, &stress);
    let backtest = with_backtest.then(|| {
        let series: Vec<Option<f64>> = hourly.iter().map(|(_, v)| *v).collect();
        Backtests { stress: backtest_hourly(&series, 24 * 7).ok(), sleep_timing: backtest_nights(&history).ok() }
    });
    Ok(Outlook { generated_at: crate::event::format_ts(&now), stress, stress_note, sleep, migraine_risk, backtest })
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::SplitMix64;
    use crate::store::SleepSource;

    #[test]
    fn the_hourly_forecast_beats_yesterdays_value_on_a_noisy_daily_rhythm() {
        let mut rng = SplitMix64::new(3);
        let mut ar = 0.0;
        let series: Vec<Option<f64>> = (0..24 * 21)
            .map(|t| {
                ar = 0.6 * ar + rng.normal() * 4.0;
                let h = (t % 24) as f64;
                (t % 97 != 0).then_some(50.0 + 12.0 * (std::f64::consts::TAU * (h - 15.0) / 24.0).sin() + ar)
            })
            .collect();
        let b = backtest_hourly(&series, 24 * 7).unwrap();
        assert_eq!(b.origins, 14);
        assert!(b.ratio < 0.85, "{b:?}");
        assert!((0.85..=0.99).contains(&b.coverage_95), "{b:?}");
    }

    fn episode(start: DateTime<FixedOffset>, minutes: i64) -> SleepEpisode {
        SleepEpisode { user: "kid".into(), start, end: start + Duration::minutes(minutes), source: SleepSource::Logged, efficiency_pct: None }
    }

    #[test]
    fn sleep_timing_follows_the_kind_of_night_and_beats_last_week() {
        let mut rng = SplitMix64::new(11);
        let day0 = DateTime::parse_from_rfc3339("2026-03-02T12:00:00+01:00").unwrap(); // a Monday
        let episodes: Vec<SleepEpisode> = (0..42)
            .map(|d| {
                let noon = day0 + Duration::days(d);
                let free_next = matches!((noon + Duration::days(1)).weekday(), Weekday::Sat | Weekday::Sun);
                let bed = if free_next { 600.0 } else { 570.0 } + rng.normal() * 20.0;
                let sleep = if free_next { 660.0 } else { 600.0 } + rng.normal() * 20.0;
                episode(noon + Duration::minutes(bed as i64), sleep as i64)
            })
            .collect();
        let free = Default::default();
        let history = nights(&episodes, &free);
        assert_eq!(history.len(), 42);
        assert_eq!(history.iter().filter(|n| n.free_next).count(), 12);
        let friday = NaiveDate::from_ymd_opt(2026, 4, 17).unwrap();
        let t = sleep_timing(&history, friday, *day0.offset(), &free).unwrap();
        assert!(t.free_day_next);
        assert!(t.onset.starts_with("2026-04-17T21:") || t.onset.starts_with("2026-04-17T22:"), "{t:?}");
        assert!(t.onset_lo < t.onset && t.onset < t.onset_hi);
        let b = backtest_nights(&history).unwrap();
        assert!(b.ratio < 0.9, "{b:?}");
        assert!(b.coverage_95 > 0.85, "{b:?}");
    }

    #[test]
    fn hourly_stress_needs_a_baseline_and_ten_minutes_per_hour() {
        let t0 = DateTime::parse_from_rfc3339("2026-03-02T08:00:00+01:00").unwrap();
        let minutes: Vec<SensorMinute> = (0..180)
            .map(|i| SensorMinute {
                user: "kid".into(),
                minute_start: t0 + Duration::minutes(i),
                hr_bpm: Some(80.0),
                rmssd_ms: (!(60..175).contains(&i)).then_some(40.0 + (i % 5) as f64),
                eda_tonic_us: None,
                scr_count: None,
                activity_count: None,
                skin_temp_c: None,
            })
            .collect();
        let hours = hourly_stress(&minutes);
        assert_eq!(hours.len(), 3);
        assert!(hours[0].1.is_some() && hours[1].1.is_none() && hours[2].1.is_none());
        assert!(hourly_stress(&minutes[60..170]).is_empty());
    }
}
