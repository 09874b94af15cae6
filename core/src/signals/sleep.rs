//! Sleep/wake scoring of 60 s epochs of activity counts, Webster rescoring, and sleep episodes.
//!
//! Both scorers reproduce pyActigraphy 1.2.2 epoch for epoch, edges included (validated in
//! `core/tests/signals_actigraphy.rs` against its labels on its example recordings):
//!
//! - Cole–Kripke, pyActigraphy `CK(settings="mean", threshold=1)`: A = counts / 30 (the weights
//!   were derived for the mean of 2 s epochs), D = 0.001 × (106 A₋₄ + 54 A₋₃ + 58 A₋₂ + 76 A₋₁ +
//!   230 A₀ + 74 A₊₁ + 67 A₊₂), sleep when D < 1. pandas' centred 9-wide window leaves the first
//!   and last 4 epochs without a score: they are wake.
//! - Sadeh (pyActigraphy `Sadeh()` defaults): PS = 7.601 − 0.065·mean₁₁ − 1.08·NAT − 0.056·SD₆ −
//!   0.703·ln(1 + x), sleep when PS > 0; mean₁₁ and NAT (50 < count < 100, strict) over the centred
//!   11-epoch window; SD₆ the sample SD (ddof 1) of this and the 5 preceding epochs; and, as in
//!   pyActigraphy's code, x is the *next* epoch's count (`shift(-1)`). Epochs lacking any term (the
//!   first 5 and last 5) are wake.
//!
//! Rescoring (Webster et al. 1982) is a separate step, [`webster_rescore`].

use chrono::{DateTime, Duration, FixedOffset};
use serde::Serialize;

use super::{SignalError, ensure_finite};

const CK_WEIGHTS: [f64; 7] = [106.0, 54.0, 58.0, 76.0, 230.0, 74.0, 67.0];
const CK_SCALE: f64 = 0.001;
const CK_MEAN_FACTOR: f64 = 30.0;
const SADEH_OFFSET: f64 = 7.601;
const SADEH_WEIGHTS: [f64; 4] = [-0.065, -1.08, -0.056, -0.703];

/// Which scorer to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    ColeKripke,
    Sadeh,
}

/// Scores each epoch: `true` = sleep. Counts must be finite and non-negative.
pub fn score(counts: &[f64], algorithm: Algorithm) -> Result<Vec<bool>, SignalError> {
    ensure_finite("activity counts", counts)?;
    if let Some(index) = counts.iter().position(|&c| c < 0.0) {
        return Err(SignalError::OutOfRange {
            what: "activity counts",
            index,
            value: counts[index],
            reason: "counts cannot be negative",
        });
    }
    Ok(match algorithm {
        Algorithm::ColeKripke => cole_kripke(counts),
        Algorithm::Sadeh => sadeh(counts),
    })
}

fn cole_kripke(counts: &[f64]) -> Vec<bool> {
    let n = counts.len();
    let a: Vec<f64> = counts.iter().map(|c| c / CK_MEAN_FACTOR).collect();
    (0..n)
        .map(|i| {
            if i < 4 || i + 4 >= n {
                return false;
            }
            let dot: f64 = CK_WEIGHTS
                .iter()
                .enumerate()
                .map(|(k, w)| a[i - 4 + k] * w)
                .sum();
            CK_SCALE * dot < 1.0
        })
        .collect()
}

fn sadeh(counts: &[f64]) -> Vec<bool> {
    let n = counts.len();
    (0..n)
        .map(|i| {
            if i < 5 || i + 5 >= n {
                return false;
            }
            let window = &counts[i - 5..=i + 5];
            let mean = window.iter().sum::<f64>() / 11.0;
            let nat = window.iter().filter(|&&c| c > 50.0 && c < 100.0).count() as f64;
            let last6 = &counts[i - 5..=i];
            let m6 = last6.iter().sum::<f64>() / 6.0;
            let sd = (last6.iter().map(|c| (c - m6) * (c - m6)).sum::<f64>() / 5.0).sqrt();
            let log_act = (1.0 + counts[i + 1]).ln();
            let terms = [mean, nat, sd, log_act];
            let ps = SADEH_OFFSET
                + terms
                    .iter()
                    .zip(SADEH_WEIGHTS)
                    .map(|(t, w)| t * w)
                    .sum::<f64>();
            ps > 0.0
        })
        .collect()
}

/// Maximal runs of equal labels as `(value, start, len)`.
fn runs(labels: &[bool]) -> Vec<(bool, usize, usize)> {
    let mut out: Vec<(bool, usize, usize)> = Vec::new();
    for (i, &v) in labels.iter().enumerate() {
        match out.last_mut() {
            Some((value, _, len)) if *value == v => *len += 1,
            _ => out.push((v, i, 1)),
        }
    }
    out
}

/// Webster's rescoring rules for 1-minute epochs, all judged on the original labels:
/// (a) after ≥ 4 min of wake the next 1 min of sleep becomes wake; (b) after ≥ 10 min, the next
/// 3 min; (c) after ≥ 15 min, the next 4 min; (d) a sleep run of ≤ 6 min with ≥ 10 min of wake on
/// both sides becomes wake; (e) a sleep run of ≤ 10 min with ≥ 20 min of wake on both sides
/// becomes wake. Rule (d) uses Webster's original 10 min (pyActigraphy's docstring says 15).
/// A run at either end of the recording has no wake on that side and is not rescored by (d)/(e).
pub fn webster_rescore(labels: &[bool]) -> Vec<bool> {
    let mut out = labels.to_vec();
    let r = runs(labels);
    for (k, &(is_sleep, start, len)) in r.iter().enumerate() {
        if !is_sleep || k == 0 {
            continue;
        }
        let before = r[k - 1].2;
        let after = r.get(k + 1).map_or(0, |run| run.2);
        let head = match before {
            b if b >= 15 => 4,
            b if b >= 10 => 3,
            b if b >= 4 => 1,
            _ => 0,
        };
        let whole =
            (len <= 6 && before >= 10 && after >= 10) || (len <= 10 && before >= 20 && after >= 20);
        let n = if whole { len } else { head.min(len) };
        out[start..start + n].iter_mut().for_each(|v| *v = false);
    }
    out
}

/// How epochs of sleep are grouped into episodes.
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeOptions {
    /// Sleep runs shorter than this (epochs) do not start or extend an episode (default 3).
    pub min_run_epochs: usize,
    /// Wake gaps up to this long (epochs) are bridged into one episode (default 30).
    pub max_gap_epochs: usize,
    /// Episodes with less total sleep than this (minutes) are dropped (default 30).
    pub min_sleep_min: f64,
}

impl Default for EpisodeOptions {
    fn default() -> Self {
        Self {
            min_run_epochs: 3,
            max_gap_epochs: 30,
            min_sleep_min: 30.0,
        }
    }
}

/// One sleep episode: from the first sleep epoch to the end of the last one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SleepEpisode {
    pub start: DateTime<FixedOffset>,
    pub end: DateTime<FixedOffset>,
    #[serde(skip)]
    pub start_epoch: usize,
    /// Exclusive.
    #[serde(skip)]
    pub end_epoch: usize,
    pub duration_min: f64,
    pub sleep_min: f64,
    /// Sleep time / episode duration × 100 (a sleep-period efficiency: there is no bed time).
    pub efficiency_pct: f64,
    /// Wake runs inside the episode, and their total (wake after sleep onset).
    pub wake_bouts: usize,
    pub waso_min: f64,
}

/// Groups (rescored) labels into sleep episodes; `first_epoch` is the start of epoch 0.
pub fn sleep_episodes(
    labels: &[bool],
    first_epoch: DateTime<FixedOffset>,
    epoch_s: u32,
    options: &EpisodeOptions,
) -> Result<Vec<SleepEpisode>, SignalError> {
    if epoch_s == 0 {
        return Err(SignalError::InvalidParameter {
            name: "epoch_s",
            reason: "must be at least 1 s".into(),
        });
    }
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for (is_sleep, start, len) in runs(labels) {
        if !is_sleep || len < options.min_run_epochs {
            continue;
        }
        match spans.last_mut() {
            Some((_, end)) if start - *end <= options.max_gap_epochs => *end = start + len,
            _ => spans.push((start, start + len)),
        }
    }
    let epoch_min = f64::from(epoch_s) / 60.0;
    let at = |i: usize| first_epoch + Duration::seconds(i as i64 * i64::from(epoch_s));
    Ok(spans
        .into_iter()
        .filter_map(|(s, e)| {
            let inside = &labels[s..e];
            let sleep = inside.iter().filter(|&&v| v).count() as f64 * epoch_min;
            let duration = (e - s) as f64 * epoch_min;
            let wake_bouts = runs(inside).iter().filter(|r| !r.0).count();
            (sleep >= options.min_sleep_min).then(|| SleepEpisode {
                start: at(s),
                end: at(e),
                start_epoch: s,
                end_epoch: e,
                duration_min: duration,
                sleep_min: sleep,
                efficiency_pct: 100.0 * sleep / duration,
                wake_bouts,
                waso_min: duration - sleep,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pattern: &[(bool, usize)]) -> Vec<bool> {
        pattern
            .iter()
            .flat_map(|&(v, n)| std::iter::repeat_n(v, n))
            .collect()
    }

    #[test]
    fn cole_kripke_by_hand_and_edges_are_wake() {
        // All zero → D = 0 → sleep, except the 4 unscored epochs at each end.
        let s = score(&[0.0; 12], Algorithm::ColeKripke).unwrap();
        assert_eq!(s, labels(&[(false, 4), (true, 4), (false, 4)]));
        // A single 131-count minute: D at that epoch = 0.001 × 230 × 131/30 = 1.0043 → wake;
        // 130 counts give 0.9967 → sleep.
        let mut c = vec![0.0; 12];
        c[6] = 131.0;
        assert!(!score(&c, Algorithm::ColeKripke).unwrap()[6]);
        c[6] = 130.0;
        assert!(score(&c, Algorithm::ColeKripke).unwrap()[6]);
    }

    #[test]
    fn sadeh_by_hand() {
        let s = score(&[0.0; 13], Algorithm::Sadeh).unwrap();
        assert_eq!(s, labels(&[(false, 5), (true, 3), (false, 5)]));
        // One 800-count minute at epoch 7. Epoch 5: PS = 7.601 − 0.065·800/11 = 2.874 → sleep.
        // Epoch 6: its own count is 0, but logAct uses the next epoch (pyActigraphy's shift(-1)):
        // PS = 2.874 − 0.703·ln 801 = −1.83 → wake. Epoch 7: SD₆ = 326.6 → wake.
        let mut c = vec![0.0; 13];
        c[7] = 800.0;
        let s = score(&c, Algorithm::Sadeh).unwrap();
        assert_eq!(s, labels(&[(false, 5), (true, 1), (false, 7)]));
    }

    #[test]
    fn webster_rules() {
        // (a): 5 wake then 20 sleep → first sleep minute rescored.
        let l = labels(&[(false, 5), (true, 20)]);
        assert_eq!(webster_rescore(&l), labels(&[(false, 6), (true, 19)]));
        // (c): 15 wake then 20 sleep → 4 minutes rescored.
        let l = labels(&[(true, 30), (false, 15), (true, 20)]);
        assert_eq!(
            webster_rescore(&l),
            labels(&[(true, 30), (false, 19), (true, 16)])
        );
        // (e): 8 sleep inside 20 wake on each side → wake.
        let l = labels(&[(true, 30), (false, 20), (true, 8), (false, 20), (true, 30)]);
        assert_eq!(
            webster_rescore(&l),
            labels(&[(true, 30), (false, 48), (false, 4), (true, 26)])
        );
        // Rules never turn wake into sleep.
        let l = labels(&[(false, 3), (true, 2), (false, 3)]);
        assert_eq!(webster_rescore(&l), l);
    }

    #[test]
    fn a_night_with_one_awakening_is_one_episode() {
        let t0 = DateTime::parse_from_rfc3339("2026-03-02T21:00:00+01:00").unwrap();
        // 60 min awake, 240 asleep, 20 awake, 200 asleep, 1 stray sleep minute, 60 awake.
        let l = labels(&[
            (false, 60),
            (true, 240),
            (false, 20),
            (true, 200),
            (false, 40),
            (true, 1),
            (false, 60),
        ]);
        let eps = sleep_episodes(&l, t0, 60, &EpisodeOptions::default()).unwrap();
        assert_eq!(eps.len(), 1);
        let e = &eps[0];
        assert_eq!(e.start.to_rfc3339(), "2026-03-02T22:00:00+01:00");
        assert_eq!(e.end.to_rfc3339(), "2026-03-03T05:40:00+01:00");
        assert_eq!(
            (e.duration_min, e.sleep_min, e.wake_bouts, e.waso_min),
            (460.0, 440.0, 1, 20.0)
        );
        assert!((e.efficiency_pct - 95.652_173_9).abs() < 1e-6);
        let json = serde_json::to_value(e).unwrap();
        assert_eq!(json["start"], "2026-03-02T22:00:00+01:00");
    }

    #[test]
    fn bad_counts_are_errors() {
        assert!(matches!(
            score(&[1.0, -2.0], Algorithm::Sadeh),
            Err(SignalError::OutOfRange { index: 1, .. })
        ));
        assert!(matches!(
            score(&[f64::INFINITY], Algorithm::ColeKripke),
            Err(SignalError::NotFinite { index: 0, .. })
        ));
        assert_eq!(
            score(&[], Algorithm::ColeKripke).unwrap(),
            Vec::<bool>::new()
        );
    }
}
