//! A stress score relative to the child's own baseline, robust anomaly flags, and EWMA smoothing.
//!
//! Score: each available component becomes a robust z-score against the child's baseline,
//! z = (x − median) / (1.4826 · MAD), with the sign chosen so that higher means more aroused:
//! −z of ln RMSSD (vagal withdrawal), +z of the EDA tonic level, +z of the SCR rate. The weighted
//! mean (HRV 0.5, tonic 0.25, SCR rate 0.25, re-normalised over the components present) maps to
//! 0–100 by 100 / (1 + e^(−1.702 z)), the logistic approximation of the normal CDF (within 1 point):
//! 50 is the child's typical state, 85 one robust SD above it, 97 two.
//!
//! Anomalies: modified z-scores (Iglewicz & Hoaglin 1993), |0.6745 (x − median) / MAD| > 3.5; when
//! the MAD is 0 the mean absolute deviation (× 1.2533) stands in, and if that is 0 nothing is flagged.

use serde::Serialize;

use super::SignalError;
use super::stats::{MAD_TO_SIGMA, mad, median};

/// Windows (e.g. 5-min) needed before a baseline is trusted: one hour's worth.
pub const MIN_BASELINE_WINDOWS: usize = 12;
const LOGISTIC_PROBIT: f64 = 1.702;
const WEIGHTS: [f64; 3] = [0.5, 0.25, 0.25];

/// Median and σ-scaled MAD of a baseline, floored so a flat baseline cannot divide by zero.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RobustStat {
    pub median: f64,
    pub sigma: f64,
}

impl RobustStat {
    /// Fits finite values; σ is floored at 1 % of |median| (and 1e-9).
    pub fn fit(what: &'static str, values: &[f64]) -> Result<Self, SignalError> {
        let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        if finite.len() < MIN_BASELINE_WINDOWS {
            return Err(SignalError::TooShort {
                what,
                needed: MIN_BASELINE_WINDOWS,
                got: finite.len(),
            });
        }
        let median = median(&finite).unwrap_or(0.0);
        let sigma = (MAD_TO_SIGMA * mad(&finite).unwrap_or(0.0))
            .max(0.01 * median.abs())
            .max(1e-9);
        Ok(Self { median, sigma })
    }

    /// Robust z-score of `x`.
    pub fn z(&self, x: f64) -> f64 {
        (x - self.median) / self.sigma
    }
}

/// One window's physiology (any part may be missing, e.g. no EDA contact).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StressInput {
    pub rmssd_ms: Option<f64>,
    pub eda_tonic_us: Option<f64>,
    pub scr_per_min: Option<f64>,
}

/// The child's baseline, one robust statistic per component (`None` when too few windows had it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StressBaseline {
    pub ln_rmssd: Option<RobustStat>,
    pub eda_tonic_us: Option<RobustStat>,
    pub scr_per_min: Option<RobustStat>,
}

/// A score and what it was built from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StressScore {
    /// 0–100, 50 = the child's typical state.
    pub score: f64,
    /// The combined robust z-score behind it.
    pub z: f64,
    /// How many of the three components contributed.
    pub components: usize,
}

impl StressBaseline {
    /// Fits a baseline from past windows; fails only when no component has enough data.
    pub fn fit(windows: &[StressInput]) -> Result<Self, SignalError> {
        let collect =
            |f: fn(&StressInput) -> Option<f64>| windows.iter().filter_map(f).collect::<Vec<f64>>();
        let ln_rmssd: Vec<f64> = collect(|w| w.rmssd_ms)
            .into_iter()
            .filter(|&v| v > 0.0)
            .map(f64::ln)
            .collect();
        let baseline = Self {
            ln_rmssd: RobustStat::fit("baseline RMSSD windows", &ln_rmssd).ok(),
            eda_tonic_us: RobustStat::fit("baseline EDA windows", &collect(|w| w.eda_tonic_us))
                .ok(),
            scr_per_min: RobustStat::fit("baseline SCR windows", &collect(|w| w.scr_per_min)).ok(),
        };
        if baseline.ln_rmssd.is_none()
            && baseline.eda_tonic_us.is_none()
            && baseline.scr_per_min.is_none()
        {
            let got = windows.len();
            return Err(SignalError::TooShort {
                what: "baseline windows with HRV or EDA",
                needed: MIN_BASELINE_WINDOWS,
                got,
            });
        }
        Ok(baseline)
    }

    /// Scores one window; `None` when it shares no usable component with the baseline.
    pub fn score(&self, input: &StressInput) -> Option<StressScore> {
        let parts = [
            self.ln_rmssd
                .zip(input.rmssd_ms.filter(|&v| v > 0.0 && v.is_finite()))
                .map(|(b, v)| -b.z(v.ln())),
            self.eda_tonic_us
                .zip(input.eda_tonic_us.filter(|v| v.is_finite()))
                .map(|(b, v)| b.z(v)),
            self.scr_per_min
                .zip(input.scr_per_min.filter(|v| v.is_finite()))
                .map(|(b, v)| b.z(v)),
        ];
        let (mut sum, mut weight, mut components) = (0.0, 0.0, 0);
        for (z, w) in parts.iter().zip(WEIGHTS) {
            if let Some(z) = z {
                sum += w * z;
                weight += w;
                components += 1;
            }
        }
        (components > 0).then(|| {
            let z = sum / weight;
            StressScore {
                score: 100.0 / (1.0 + (-LOGISTIC_PROBIT * z).exp()),
                z,
                components,
            }
        })
    }
}

/// Flags values whose modified z-score exceeds `threshold` (3.5 is Iglewicz & Hoaglin's). Non-finite
/// values are never flagged and do not enter the median.
pub fn robust_anomalies(values: &[f64], threshold: f64) -> Vec<bool> {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let Some(centre) = median(&finite) else {
        return vec![false; values.len()];
    };
    let raw_mad = mad(&finite).unwrap_or(0.0);
    // 0.6745 · |x − m| / MAD  ==  |x − m| / (MAD / 0.6745); the fallback keeps the same scale.
    let spread = if raw_mad > 0.0 {
        raw_mad / 0.6745
    } else {
        1.2533 * finite.iter().map(|v| (v - centre).abs()).sum::<f64>() / finite.len() as f64
    };
    values
        .iter()
        .map(|&v| spread > 0.0 && v.is_finite() && ((v - centre).abs() / spread) > threshold)
        .collect()
}

/// Exponentially weighted moving average with smoothing factor `alpha` ∈ (0, 1]; a non-finite input
/// repeats the previous smoothed value (NaN until the first finite value).
pub fn ewma(values: &[f64], alpha: f64) -> Result<Vec<f64>, SignalError> {
    if !(alpha > 0.0 && alpha <= 1.0) {
        return Err(SignalError::InvalidParameter {
            name: "alpha",
            reason: format!("{alpha} is outside (0, 1]"),
        });
    }
    let mut state: Option<f64> = None;
    Ok(values
        .iter()
        .map(|&v| {
            if v.is_finite() {
                state = Some(state.map_or(v, |s| s + alpha * (v - s)));
            }
            state.unwrap_or(f64::NAN)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn baseline_windows() -> Vec<StressInput> {
        (0..24)
            .map(|i| StressInput {
                rmssd_ms: Some(40.0 + (i % 5) as f64 * 2.0),
                eda_tonic_us: Some(2.0 + (i % 3) as f64 * 0.1),
                scr_per_min: Some(1.0 + (i % 4) as f64 * 0.25),
            })
            .collect()
    }

    #[test]
    fn typical_window_scores_about_50_and_aroused_one_scores_high() {
        let b = StressBaseline::fit(&baseline_windows()).unwrap();
        let typical = b
            .score(&StressInput {
                rmssd_ms: Some(44.0),
                eda_tonic_us: Some(2.1),
                scr_per_min: Some(1.25),
            })
            .unwrap();
        assert!((typical.score - 50.0).abs() < 10.0, "{typical:?}");
        let aroused = b
            .score(&StressInput {
                rmssd_ms: Some(25.0),
                eda_tonic_us: Some(2.6),
                scr_per_min: Some(3.0),
            })
            .unwrap();
        assert!(aroused.score > 95.0, "{aroused:?}");
        assert_eq!(aroused.components, 3);
        let calm = b
            .score(&StressInput {
                rmssd_ms: Some(70.0),
                ..Default::default()
            })
            .unwrap();
        assert!(calm.score < 10.0 && calm.components == 1, "{calm:?}");
        assert_eq!(b.score(&StressInput::default()), None);
    }

    #[test]
    fn short_baselines_are_refused() {
        let few = &baseline_windows()[..5];
        assert!(matches!(
            StressBaseline::fit(few),
            Err(SignalError::TooShort { .. })
        ));
    }

    #[test]
    fn anomalies_and_ewma() {
        let mut v: Vec<f64> = (0..50).map(|i| 10.0 + (i % 7) as f64 * 0.5).collect();
        v[20] = 40.0;
        v[30] = f64::NAN;
        let flags = robust_anomalies(&v, 3.5);
        assert_eq!(flags.iter().filter(|&&f| f).count(), 1);
        assert!(flags[20]);
        // constant series with one spike: MAD = 0, mean-absolute-deviation fallback flags the spike
        let mut flat = vec![5.0; 20];
        flat[3] = 9.0;
        assert_eq!(
            robust_anomalies(&flat, 3.5).iter().position(|&f| f),
            Some(3)
        );
        let s = ewma(&[f64::NAN, 0.0, 10.0, f64::NAN, 10.0], 0.5).unwrap();
        assert!(s[0].is_nan());
        assert_eq!(&s[1..], &[0.0, 5.0, 5.0, 7.5]);
        assert!(ewma(&[1.0], 0.0).is_err());
    }
}
