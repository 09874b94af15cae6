//! Activity counts per epoch from 3-axis acceleration (g).
//!
//! Method (an approximation of ActiGraph counts, not equal to them; after Brønd et al. 2017):
//! vector magnitude minus 1 g, band-pass 0.25–2.5 Hz (two second-order Butterworth sections, high-
//! then low-pass, bilinear transform), rectify, a dead band of 0.068 g, then the epoch sum expressed
//! in ActiGraph units: Σ|a| × (10 Hz / fs) / 0.01664 g (ActiGraph sums 10 Hz samples quantised in
//! steps of 0.01664 g). Only complete epochs are emitted; [`CountsAccumulator`] keeps O(1) memory so
//! a day of 32 Hz samples never needs to be held at once.

use std::f64::consts::PI;

use super::{SignalError, ensure_rate};

const DEAD_BAND_G: f64 = 0.068;
const COUNT_STEP_G: f64 = 0.016_64;
const ACTIGRAPH_HZ: f64 = 10.0;
const BAND_HZ: (f64, f64) = (0.25, 2.5);

/// A biquad section in transposed direct form II (two state variables: fewer moves per sample
/// than direct form I, the same transfer function).
#[derive(Debug, Clone)]
struct Biquad {
    b: [f64; 3],
    a: [f64; 2],
    s: [f64; 2],
}

impl Biquad {
    /// Second-order Butterworth (Q = 1/√2) low- or high-pass by the bilinear transform (RBJ).
    fn butterworth(fs: f64, fc: f64, high: bool) -> Self {
        let w0 = 2.0 * PI * fc / fs;
        let (sin, cos) = w0.sin_cos();
        let alpha = sin / (2.0 * std::f64::consts::FRAC_1_SQRT_2);
        let a0 = 1.0 + alpha;
        let b = if high {
            [(1.0 + cos) / 2.0, -(1.0 + cos), (1.0 + cos) / 2.0]
        } else {
            [(1.0 - cos) / 2.0, 1.0 - cos, (1.0 - cos) / 2.0]
        };
        Self {
            b: b.map(|v| v / a0),
            a: [-2.0 * cos / a0, (1.0 - alpha) / a0],
            s: [0.0; 2],
        }
    }

    #[inline]
    fn step(&mut self, v: f64) -> f64 {
        let out = self.b[0] * v + self.s[0];
        self.s[0] = self.b[1] * v - self.a[0] * out + self.s[1];
        self.s[1] = self.b[2] * v - self.a[1] * out;
        out
    }
}

/// Streaming counts: push samples, receive one count per completed epoch; or, with
/// [`CountsAccumulator::sample_count`], each sample's share of the count (for epochs on a clock,
/// such as the wearable's UTC minutes).
#[derive(Debug, Clone)]
pub struct CountsAccumulator {
    high: Biquad,
    low: Biquad,
    per_epoch: usize,
    in_epoch: usize,
    sum: f64,
    scale: f64,
}

impl CountsAccumulator {
    /// An accumulator for samples at `hz` and epochs of `epoch_s` seconds.
    pub fn new(hz: f64, epoch_s: f64) -> Result<Self, SignalError> {
        ensure_rate("acceleration sampling rate", hz)?;
        if hz <= 2.0 * BAND_HZ.1 {
            return Err(SignalError::InvalidParameter {
                name: "hz",
                reason: format!("{hz} Hz cannot carry the 2.5 Hz band (need > 5 Hz)"),
            });
        }
        let per_epoch = (hz * epoch_s).round();
        if per_epoch.is_nan() || per_epoch < 1.0 {
            return Err(SignalError::InvalidParameter {
                name: "epoch_s",
                reason: format!("{epoch_s} s holds no sample at {hz} Hz"),
            });
        }
        Ok(Self {
            high: Biquad::butterworth(hz, BAND_HZ.0, true),
            low: Biquad::butterworth(hz, BAND_HZ.1, false),
            per_epoch: per_epoch as usize,
            in_epoch: 0,
            sum: 0.0,
            scale: ACTIGRAPH_HZ / hz / COUNT_STEP_G,
        })
    }

    /// The band-passed, rectified deviation of one sample above the dead band (g; 0 inside it).
    #[inline]
    fn filtered(&mut self, x: f64, y: f64, z: f64) -> f64 {
        let vm = (x * x + y * y + z * z).sqrt() - 1.0;
        let vm = if vm.is_finite() { vm } else { 0.0 };
        let band = self.low.step(self.high.step(vm)).abs();
        if band > DEAD_BAND_G { band } else { 0.0 }
    }

    /// One sample's contribution to its epoch's count (counts); an epoch's count is the sum of
    /// its samples' contributions, so this equals [`CountsAccumulator::push`] summed over the
    /// epoch. Epoch bookkeeping is left to the caller.
    #[inline]
    pub fn sample_count(&mut self, x: f64, y: f64, z: f64) -> f64 {
        self.filtered(x, y, z) * self.scale
    }

    /// The sampling rate this accumulator's filters were designed for.
    pub fn rate_hz(&self) -> f64 {
        ACTIGRAPH_HZ / self.scale / COUNT_STEP_G
    }

    /// Adds one sample (g); returns the epoch's count when this sample completes it.
    /// Non-finite samples are treated as rest (0 g deviation) so one glitch cannot poison the filter.
    #[inline]
    pub fn push(&mut self, x: f64, y: f64, z: f64) -> Option<f64> {
        self.sum += self.filtered(x, y, z);
        self.in_epoch += 1;
        if self.in_epoch == self.per_epoch {
            let count = self.sum * self.scale;
            self.in_epoch = 0;
            self.sum = 0.0;
            Some(count)
        } else {
            None
        }
    }
}

/// Counts for every complete epoch of the three axis arrays.
pub fn activity_counts(
    x: &[f64],
    y: &[f64],
    z: &[f64],
    hz: f64,
    epoch_s: f64,
) -> Result<Vec<f64>, SignalError> {
    if x.len() != y.len() || x.len() != z.len() {
        return Err(SignalError::LengthMismatch {
            what: "acceleration",
            x: x.len(),
            y: y.len(),
            z: z.len(),
        });
    }
    let mut acc = CountsAccumulator::new(hz, epoch_s)?;
    let mut out = Vec::with_capacity(x.len() / acc.per_epoch + 1);
    for i in 0..x.len() {
        if let Some(c) = acc.push(x[i], y[i], z[i]) {
            out.push(c);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wrist at rest (1 g on z) plus a sinusoid of `amp_g` at `freq_hz` along z.
    fn wrist(seconds: usize, hz: f64, amp_g: f64, freq_hz: f64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let n = (seconds as f64 * hz) as usize;
        let z = (0..n)
            .map(|i| 1.0 + amp_g * (2.0 * PI * freq_hz * i as f64 / hz).sin())
            .collect();
        (vec![0.0; n], vec![0.0; n], z)
    }

    #[test]
    fn rest_gives_zero_and_walking_gives_many_counts() {
        let (x, y, z) = wrist(180, 32.0, 0.0, 1.0);
        assert_eq!(
            activity_counts(&x, &y, &z, 32.0, 60.0).unwrap(),
            vec![0.0; 3]
        );
        // 0.3 g at 1.5 Hz (arm swing while walking): mean |a| above the dead band ≈ 0.18 g, so
        // about 0.18 × 1920 samples × 10/32 / 0.01664 ≈ 6,500 counts a minute.
        let (x, y, z) = wrist(180, 32.0, 0.3, 1.5);
        let c = activity_counts(&x, &y, &z, 32.0, 60.0).unwrap();
        assert_eq!(c.len(), 3);
        assert!(c[2] > 5_000.0 && c[2] < 8_000.0, "{c:?}");
        // A slow posture change (0.02 Hz) is filtered out.
        let (x, y, z) = wrist(180, 32.0, 0.5, 0.02);
        let slow = activity_counts(&x, &y, &z, 32.0, 60.0).unwrap();
        assert!(slow[2] < 0.01 * c[2], "{slow:?}");
    }

    #[test]
    fn partial_epochs_are_not_emitted_and_bad_input_is_an_error() {
        let (x, y, z) = wrist(90, 32.0, 0.0, 1.0);
        assert_eq!(activity_counts(&x, &y, &z, 32.0, 60.0).unwrap().len(), 1);
        assert!(matches!(
            activity_counts(&x, &y[..3], &z, 32.0, 60.0),
            Err(SignalError::LengthMismatch { .. })
        ));
        assert!(matches!(
            CountsAccumulator::new(4.0, 60.0),
            Err(SignalError::InvalidParameter { .. })
        ));
    }
}
