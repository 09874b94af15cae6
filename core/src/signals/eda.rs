//! Electrodermal activity (skin conductance, µS): tonic level and skin-conductance responses (SCRs).
//!
//! - Tonic level: a zero-phase low-pass (a first-order exponential filter run forwards then
//!   backwards, cutoff 0.05 Hz), i.e. the slow skin-conductance level beneath the responses.
//! - Responses: trough-to-peak detection on the signal smoothed by a centred 1 s moving average.
//!   An onset is a local minimum, the peak the next local maximum; the response counts when its
//!   amplitude (peak − onset) is at least `min_amplitude_us` (default 0.01 µS; 0.01–0.05 µS are the
//!   usual criteria, Boucsein 2012) and its rise time is at most `max_rise_s` (default 5 s; slower
//!   rises are tonic drift).

use super::{SignalError, ensure_finite, ensure_rate};

/// Detection thresholds.
#[derive(Debug, Clone, PartialEq)]
pub struct EdaOptions {
    /// Minimum trough-to-peak amplitude (µS); must lie in 0.005–0.5.
    pub min_amplitude_us: f64,
    /// Maximum onset-to-peak time (s).
    pub max_rise_s: f64,
    /// Cutoff of the tonic low-pass (Hz).
    pub tonic_cutoff_hz: f64,
}

impl Default for EdaOptions {
    fn default() -> Self {
        Self {
            min_amplitude_us: 0.01,
            max_rise_s: 5.0,
            tonic_cutoff_hz: 0.05,
        }
    }
}

/// One skin-conductance response.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scr {
    pub onset_index: usize,
    pub peak_index: usize,
    /// Seconds from the first sample to the onset.
    pub onset_s: f64,
    pub amplitude_us: f64,
    pub rise_time_s: f64,
}

/// Tonic level per sample, responses, and summaries over the whole recording.
#[derive(Debug, Clone, PartialEq)]
pub struct EdaAnalysis {
    pub tonic_us: Vec<f64>,
    pub responses: Vec<Scr>,
    pub mean_tonic_us: f64,
    pub responses_per_min: f64,
}

/// One minute of EDA: mean tonic level and the number of responses whose onset falls in it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EdaMinute {
    pub tonic_us: f64,
    pub scr_count: usize,
}

/// Analyses `sc_us` sampled at `hz`.
pub fn analyze(sc_us: &[f64], hz: f64, options: &EdaOptions) -> Result<EdaAnalysis, SignalError> {
    ensure_rate("EDA sampling rate", hz)?;
    ensure_finite("EDA samples", sc_us)?;
    if !(0.005..=0.5).contains(&options.min_amplitude_us) {
        return Err(SignalError::InvalidParameter {
            name: "min_amplitude_us",
            reason: format!("{} µS is outside 0.005–0.5", options.min_amplitude_us),
        });
    }
    if let Some(index) = sc_us.iter().position(|&v| v < 0.0) {
        return Err(SignalError::OutOfRange {
            what: "EDA samples",
            index,
            value: sc_us[index],
            reason: "conductance cannot be negative",
        });
    }
    let needed = (2.0 * hz).ceil() as usize;
    if sc_us.len() < needed {
        return Err(SignalError::TooShort {
            what: "EDA samples (2 s)",
            needed,
            got: sc_us.len(),
        });
    }
    let tonic_us = zero_phase_lowpass(sc_us, hz, options.tonic_cutoff_hz);
    let smooth = moving_average(sc_us, ((hz).round() as usize).max(1));
    let responses = detect_responses(&smooth, hz, options);
    let minutes = sc_us.len() as f64 / hz / 60.0;
    Ok(EdaAnalysis {
        mean_tonic_us: tonic_us.iter().sum::<f64>() / tonic_us.len() as f64,
        responses_per_min: responses.len() as f64 / minutes,
        tonic_us,
        responses,
    })
}

/// Splits an analysis into whole and partial minutes (the last one may be shorter).
pub fn per_minute(analysis: &EdaAnalysis, hz: f64) -> Vec<EdaMinute> {
    let per = ((60.0 * hz).round() as usize).max(1);
    let mut minutes: Vec<EdaMinute> = analysis
        .tonic_us
        .chunks(per)
        .map(|c| EdaMinute {
            tonic_us: c.iter().sum::<f64>() / c.len() as f64,
            scr_count: 0,
        })
        .collect();
    for r in &analysis.responses {
        if let Some(m) = minutes.get_mut(r.onset_index / per) {
            m.scr_count += 1;
        }
    }
    minutes
}

/// First-order exponential low-pass run forwards and backwards (no phase lag), started at the
/// first / last sample so the ends do not sag towards zero.
fn zero_phase_lowpass(x: &[f64], hz: f64, cutoff: f64) -> Vec<f64> {
    let dt = 1.0 / hz;
    let rc = 1.0 / (2.0 * std::f64::consts::PI * cutoff);
    let alpha = dt / (rc + dt);
    let mut y = Vec::with_capacity(x.len());
    let mut state = x[0];
    for &v in x {
        state += alpha * (v - state);
        y.push(state);
    }
    let mut state = y[y.len() - 1];
    for v in y.iter_mut().rev() {
        state += alpha * (*v - state);
        *v = state;
    }
    y
}

/// Centred moving average of `width` samples (shrinking at the ends), by a running sum.
fn moving_average(x: &[f64], width: usize) -> Vec<f64> {
    let half = width / 2;
    let mut prefix = Vec::with_capacity(x.len() + 1);
    prefix.push(0.0);
    for &v in x {
        prefix.push(prefix[prefix.len() - 1] + v);
    }
    (0..x.len())
        .map(|i| {
            let lo = i.saturating_sub(half);
            let hi = (i + width - half).min(x.len());
            (prefix[hi] - prefix[lo]) / (hi - lo) as f64
        })
        .collect()
}

/// Trough-to-peak responses in a smoothed signal.
fn detect_responses(s: &[f64], hz: f64, o: &EdaOptions) -> Vec<Scr> {
    let mut out = Vec::new();
    let n = s.len();
    let mut i = 0;
    while i + 1 < n {
        // Onset: the last sample before a rise.
        if s[i + 1] <= s[i] {
            i += 1;
            continue;
        }
        let onset = i;
        let mut peak = i + 1;
        while peak + 1 < n && s[peak + 1] > s[peak] {
            peak += 1;
        }
        let amplitude = s[peak] - s[onset];
        let rise = (peak - onset) as f64 / hz;
        if amplitude >= o.min_amplitude_us && rise <= o.max_rise_s {
            out.push(Scr {
                onset_index: onset,
                peak_index: peak,
                onset_s: onset as f64 / hz,
                amplitude_us: amplitude,
                rise_time_s: rise,
            });
        }
        i = peak;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2 µS baseline with a Bateman-shaped response (about 1.9 s rise) of `amp` µS at each `onsets_s`.
    fn synthetic(minutes: f64, hz: f64, onsets_s: &[f64], amp: f64) -> Vec<f64> {
        let n = (minutes * 60.0 * hz) as usize;
        (0..n)
            .map(|i| {
                let t = i as f64 / hz;
                2.0 + onsets_s
                    .iter()
                    .filter(|&&o| t >= o)
                    .map(|&o| {
                        let u = t - o;
                        // rises for ~1.9 s, decays with τ = 4 s, peak normalised to `amp`
                        amp * (1.0 - (-u / 0.75).exp()).powi(2) * (-u / 4.0).exp() / 0.527
                    })
                    .sum::<f64>()
            })
            .collect()
    }

    #[test]
    fn finds_each_response_with_its_amplitude_and_onset() {
        let hz = 4.0;
        let onsets = [20.0, 65.0, 130.0];
        let sc = synthetic(3.0, hz, &onsets, 0.2);
        let a = analyze(&sc, hz, &EdaOptions::default()).unwrap();
        assert_eq!(a.responses.len(), 3, "{:?}", a.responses);
        for (r, o) in a.responses.iter().zip(onsets) {
            assert!((r.onset_s - o).abs() <= 1.0, "onset {} vs {o}", r.onset_s);
            assert!(
                (r.amplitude_us - 0.2).abs() < 0.05,
                "amplitude {}",
                r.amplitude_us
            );
        }
        assert!((a.responses_per_min - 1.0).abs() < 1e-9);
        let minutes = per_minute(&a, hz);
        assert_eq!(
            minutes.iter().map(|m| m.scr_count).collect::<Vec<_>>(),
            vec![1, 1, 1]
        );
        assert!((a.mean_tonic_us - 2.0).abs() < 0.2);
    }

    #[test]
    fn flat_and_sub_threshold_signals_have_no_responses() {
        let flat = vec![3.0; 480];
        assert!(
            analyze(&flat, 4.0, &EdaOptions::default())
                .unwrap()
                .responses
                .is_empty()
        );
        let tiny = synthetic(2.0, 4.0, &[30.0], 0.005);
        assert!(
            analyze(&tiny, 4.0, &EdaOptions::default())
                .unwrap()
                .responses
                .is_empty()
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        let o = EdaOptions::default();
        assert!(matches!(
            analyze(&[1.0; 10], 0.0, &o),
            Err(SignalError::InvalidParameter { .. })
        ));
        assert!(matches!(
            analyze(&[1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], 4.0, &o),
            Err(SignalError::OutOfRange { index: 1, .. })
        ));
        assert!(matches!(
            analyze(&[1.0; 3], 4.0, &o),
            Err(SignalError::TooShort { .. })
        ));
    }
}
