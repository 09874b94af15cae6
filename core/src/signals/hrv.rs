//! Heart-rate variability from RR intervals (ms).
//!
//! Cleaning: a beat is an artefact when it lies outside 300–2000 ms or differs from the median of
//! its local window (±5 beats) by more than 20 % of that median (a median-referenced form of
//! Malik's 20 % rule, robust to runs of ectopic beats). Artefacts are replaced by linear
//! interpolation between the nearest clean neighbours (by beat index), so `n_beats` is unchanged.
//!
//! Time domain follows NeuroKit2 0.2.13 (`hrv_time`): SDNN with `ddof = 1`; RMSSD over successive
//! differences; pNN50 = (#|ΔRR| > 50 ms) / (number of RR intervals) × 100, i.e. NeuroKit2's
//! `len(diff) + 1` denominator (HeartPy divides by the number of differences and uses `ddof = 0`).
//!
//! Frequency domain (only when the cleaned series spans ≥ 120 s): RR values at their beat times,
//! natural cubic spline resampled at 4 Hz, linear detrend, Welch with NeuroKit2's settings (Hann
//! segments of half the series, 50 % overlap, zero-padded to twice the segment rounded up to a
//! power of two); LF = 0.04–0.15 Hz and HF = 0.15–0.40 Hz power in ms² (Task Force 1996 bands),
//! trapezoid rule over the bins in the band. Within 6 % of NeuroKit2's LF/HF (`docs/signals.md`).

use serde::Serialize;

use super::spectral::{detrend_linear, spline_resample, welch};
use super::stats::{median_of_sorted, std_dev};
use super::{SignalError, ensure_finite};

/// Interpolation rate for the spectral estimate (Hz), the usual choice for HRV (Kubios, Task Force).
const RESAMPLE_HZ: f64 = 4.0;
/// Task Force 1996 frequency bands (Hz).
const LF_BAND: (f64, f64) = (0.04, 0.15);
const HF_BAND: (f64, f64) = (0.15, 0.40);

/// How RR intervals are cleaned and when spectra are computed.
#[derive(Debug, Clone, PartialEq)]
pub struct HrvOptions {
    /// Replace artefacts before computing anything (default true).
    pub correct_artifacts: bool,
    /// Beats on each side of the local median window (default 5, i.e. an 11-beat window).
    pub half_window: usize,
    /// Maximum relative deviation from the local median (default 0.20).
    pub tolerance: f64,
    /// Physiological bounds for one RR interval (default 300–2000 ms, i.e. 30–200 bpm).
    pub min_rr_ms: f64,
    pub max_rr_ms: f64,
    /// Minimum duration of the series for LF/HF (default 120 s, the Task Force's minimum for LF).
    pub min_spectral_s: f64,
}

impl Default for HrvOptions {
    fn default() -> Self {
        Self {
            correct_artifacts: true,
            half_window: 5,
            tolerance: 0.20,
            min_rr_ms: 300.0,
            max_rr_ms: 2000.0,
            min_spectral_s: 120.0,
        }
    }
}

/// HRV summary; its keys are the JSON contract of `migru hrv --json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HrvSummary {
    pub n_beats: usize,
    pub mean_rr_ms: f64,
    pub sdnn_ms: f64,
    pub rmssd_ms: f64,
    pub pnn50_pct: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lf_ms2: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hf_ms2: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lf_hf: Option<f64>,
    pub artifacts_corrected: usize,
}

/// Time-domain indices of an already clean series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeDomain {
    pub mean_rr_ms: f64,
    pub sdnn_ms: f64,
    pub rmssd_ms: f64,
    pub pnn50_pct: f64,
}

/// LF and HF band powers (ms²).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrequencyDomain {
    pub lf_ms2: f64,
    pub hf_ms2: f64,
}

/// Cleans `rr_ms` (when asked) and computes every index the series allows.
pub fn hrv(rr_ms: &[f64], options: &HrvOptions) -> Result<HrvSummary, SignalError> {
    ensure_finite("RR intervals", rr_ms)?;
    if rr_ms.len() < 3 {
        return Err(SignalError::TooShort {
            what: "RR intervals",
            needed: 3,
            got: rr_ms.len(),
        });
    }
    let (clean, artifacts_corrected) = if options.correct_artifacts {
        correct_artifacts(rr_ms, options)?
    } else {
        (rr_ms.to_vec(), 0)
    };
    let time = time_domain(&clean)?;
    let freq = frequency_domain(&clean, options.min_spectral_s);
    Ok(HrvSummary {
        n_beats: clean.len(),
        mean_rr_ms: time.mean_rr_ms,
        sdnn_ms: time.sdnn_ms,
        rmssd_ms: time.rmssd_ms,
        pnn50_pct: time.pnn50_pct,
        lf_ms2: freq.map(|f| f.lf_ms2),
        hf_ms2: freq.map(|f| f.hf_ms2),
        lf_hf: freq.and_then(|f| (f.hf_ms2 > 0.0).then(|| f.lf_ms2 / f.hf_ms2)),
        artifacts_corrected,
    })
}

/// Flags artefacts (see the module docs) and replaces them by linear interpolation.
/// Returns the cleaned series and how many beats were replaced.
pub fn correct_artifacts(
    rr_ms: &[f64],
    options: &HrvOptions,
) -> Result<(Vec<f64>, usize), SignalError> {
    ensure_finite("RR intervals", rr_ms)?;
    let valid = options.tolerance > 0.0 && options.min_rr_ms < options.max_rr_ms;
    if !valid {
        return Err(SignalError::InvalidParameter {
            name: "HrvOptions",
            reason: "tolerance must be > 0 and min_rr_ms < max_rr_ms".into(),
        });
    }
    let is_artifact = flag_artifacts(rr_ms, options);
    let count = is_artifact.iter().filter(|&&a| a).count();
    if count + 2 > rr_ms.len() {
        return Err(SignalError::TooShort {
            what: "clean RR intervals",
            needed: 2,
            got: rr_ms.len() - count,
        });
    }
    Ok((interpolate_flagged(rr_ms, &is_artifact), count))
}

fn flag_artifacts(rr: &[f64], o: &HrvOptions) -> Vec<bool> {
    let in_range: Vec<bool> = rr
        .iter()
        .map(|&v| v >= o.min_rr_ms && v <= o.max_rr_ms)
        .collect();
    let mut window = Vec::with_capacity(2 * o.half_window + 1);
    (0..rr.len())
        .map(|i| {
            if !in_range[i] {
                return true;
            }
            let lo = i.saturating_sub(o.half_window);
            let hi = (i + o.half_window + 1).min(rr.len());
            window.clear();
            window.extend((lo..hi).filter(|&j| in_range[j]).map(|j| rr[j]));
            window.sort_by(f64::total_cmp);
            let local = median_of_sorted(&window);
            (rr[i] - local).abs() > o.tolerance * local
        })
        .collect()
}

/// Linear interpolation by beat index across flagged runs; runs at the ends take the nearest clean
/// value.
fn interpolate_flagged(rr: &[f64], flagged: &[bool]) -> Vec<f64> {
    let mut out = rr.to_vec();
    let mut prev_clean: Option<usize> = None;
    let mut i = 0;
    while i < rr.len() {
        if !flagged[i] {
            prev_clean = Some(i);
            i += 1;
            continue;
        }
        let run_end = (i..rr.len()).find(|&j| !flagged[j]);
        for k in i..run_end.unwrap_or(rr.len()) {
            out[k] = match (prev_clean, run_end) {
                (Some(a), Some(b)) => rr[a] + (rr[b] - rr[a]) * (k - a) as f64 / (b - a) as f64,
                (Some(a), None) => rr[a],
                (None, Some(b)) => rr[b],
                (None, None) => rr[k],
            };
        }
        i = run_end.unwrap_or(rr.len());
    }
    out
}

/// Mean RR, SDNN (ddof 1), RMSSD and pNN50 (NeuroKit2 denominator) of a clean series.
pub fn time_domain(rr_ms: &[f64]) -> Result<TimeDomain, SignalError> {
    ensure_finite("RR intervals", rr_ms)?;
    let n = rr_ms.len();
    if n < 2 {
        return Err(SignalError::TooShort {
            what: "RR intervals",
            needed: 2,
            got: n,
        });
    }
    let mean_rr_ms = rr_ms.iter().sum::<f64>() / n as f64;
    let sdnn_ms = std_dev(rr_ms, 1).unwrap_or(0.0);
    let (mut sq, mut nn50) = (0.0, 0usize);
    for w in rr_ms.windows(2) {
        let d = w[1] - w[0];
        sq += d * d;
        nn50 += usize::from(d.abs() > 50.0);
    }
    Ok(TimeDomain {
        mean_rr_ms,
        sdnn_ms,
        rmssd_ms: (sq / (n - 1) as f64).sqrt(),
        pnn50_pct: 100.0 * nn50 as f64 / n as f64,
    })
}

/// LF and HF power when the series spans at least `min_duration_s` (else `None`).
pub fn frequency_domain(rr_ms: &[f64], min_duration_s: f64) -> Option<FrequencyDomain> {
    let duration_s = rr_ms.iter().sum::<f64>() / 1000.0;
    if rr_ms.len() < 4
        || duration_s < min_duration_s
        || rr_ms.iter().any(|&v| !v.is_finite() || v <= 0.0)
    {
        return None;
    }
    let mut t = Vec::with_capacity(rr_ms.len());
    let mut now = 0.0;
    for &rr in rr_ms {
        now += rr / 1000.0;
        t.push(now);
    }
    let mut x = spline_resample(&t, rr_ms, RESAMPLE_HZ);
    detrend_linear(&mut x);
    // NeuroKit2's Welch settings: segments of half the recording (three with 50 % overlap),
    // zero-padded to twice their length (here: the power of two at or above it).
    let seg = (x.len() / 2).max(1);
    let psd = welch(&x, RESAMPLE_HZ, seg, 2 * seg);
    Some(FrequencyDomain {
        lf_ms2: psd.band_power(LF_BAND.0, LF_BAND.1),
        hf_ms2: psd.band_power(HF_BAND.0, HF_BAND.1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_domain_by_hand() {
        // diffs: 50, -100, 60 → nn50 = 2 (50 is not > 50), n = 4 → pNN50 = 50 %
        let td = time_domain(&[800.0, 850.0, 750.0, 810.0]).unwrap();
        assert!((td.mean_rr_ms - 802.5).abs() < 1e-12);
        assert!((td.rmssd_ms - ((2500.0 + 10000.0 + 3600.0) / 3.0_f64).sqrt()).abs() < 1e-9);
        assert!((td.pnn50_pct - 50.0).abs() < 1e-12);
        assert!((td.sdnn_ms - 41.129_875_95).abs() < 1e-6);
    }

    #[test]
    fn an_ectopic_beat_and_a_dropout_are_replaced() {
        let mut rr = vec![800.0; 30];
        rr[10] = 400.0; // premature beat
        rr[20] = 2600.0; // missed detection, out of range
        let (clean, n) = correct_artifacts(&rr, &HrvOptions::default()).unwrap();
        assert_eq!(n, 2);
        assert!(clean.iter().all(|&v| (v - 800.0).abs() < 1e-9));
    }

    #[test]
    fn artefacts_at_the_ends_take_the_nearest_clean_value() {
        let mut rr: Vec<f64> = (0..20).map(|i| 800.0 + i as f64).collect();
        rr[0] = 5000.0;
        rr[19] = 100.0;
        let (clean, n) = correct_artifacts(&rr, &HrvOptions::default()).unwrap();
        assert_eq!(n, 2);
        assert_eq!(clean[0], 801.0);
        assert_eq!(clean[19], 818.0);
    }

    #[test]
    fn respiratory_sinus_arrhythmia_lands_in_hf() {
        // RR modulated at 0.25 Hz (15 breaths/min) for 5 minutes.
        let mut rr = Vec::new();
        let mut t = 0.0;
        while t < 300.0 {
            let v = 800.0 + 40.0 * (2.0 * std::f64::consts::PI * 0.25 * t).sin();
            rr.push(v);
            t += v / 1000.0;
        }
        let s = hrv(&rr, &HrvOptions::default()).unwrap();
        let (lf, hf) = (s.lf_ms2.unwrap(), s.hf_ms2.unwrap());
        assert!(hf > 10.0 * lf, "lf {lf} hf {hf}");
        assert!(s.lf_hf.unwrap() < 0.1);
    }

    #[test]
    fn short_series_have_no_spectrum_and_bad_input_is_an_error() {
        let s = hrv(&[800.0; 50], &HrvOptions::default()).unwrap();
        assert_eq!(s.lf_ms2, None);
        let json = serde_json::to_value(&s).unwrap();
        assert!(json.get("lf_hf").is_none());
        assert_eq!(json["n_beats"], 50);
        assert!(matches!(
            hrv(&[800.0, f64::NAN, 800.0], &HrvOptions::default()),
            Err(SignalError::NotFinite { index: 1, .. })
        ));
        assert!(matches!(
            hrv(&[800.0], &HrvOptions::default()),
            Err(SignalError::TooShort { .. })
        ));
    }
}
