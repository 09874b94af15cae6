//! Sans-I/O signal processing for the wearable: plain functions over slices, no clock, no storage.
//!
//! - [`hrv`]: RR-interval cleaning and heart-rate variability (time and frequency domain).
//! - [`eda`]: electrodermal activity, tonic level and skin-conductance responses.
//! - [`activity`]: activity counts per 60 s epoch from 3-axis acceleration.
//! - [`sleep`]: Cole–Kripke and Sadeh sleep/wake scoring, Webster rescoring, sleep episodes.
//! - [`stress`]: a 0–100 stress score against the child's own baseline, robust anomalies, EWMA.
//! - [`series`]: the one-value-per-line text format of `migru hrv --rr-file` and `--counts-file`.
//!
//! Methods, conventions and thresholds, with references, are in `docs/signals.md`; the peer
//! validation (NeuroKit2, pyActigraphy) lives in `core/validation/signals/` and `core/tests/`.

pub mod activity;
pub mod eda;
pub mod hrv;
pub mod series;
pub mod sleep;
mod spectral;
pub mod stats;
pub mod stress;

/// What went wrong in a signal computation; every message names the offending input.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SignalError {
    /// Too few samples for the requested computation.
    #[error("{what}: need at least {needed} values, got {got}")]
    TooShort {
        what: &'static str,
        needed: usize,
        got: usize,
    },
    /// A NaN or infinite value in the input.
    #[error("{what}: value #{index} is not a finite number")]
    NotFinite { what: &'static str, index: usize },
    /// A value outside its physically possible range (e.g. a negative count).
    #[error("{what}: value #{index} ({value}) is out of range: {reason}")]
    OutOfRange {
        what: &'static str,
        index: usize,
        value: f64,
        reason: &'static str,
    },
    /// A parameter (sampling rate, threshold, window) that cannot work.
    #[error("invalid parameter {name}: {reason}")]
    InvalidParameter { name: &'static str, reason: String },
    /// A line of a one-value-per-line file that is not a number.
    #[error("{what}: line {line} is not a number: {text:?}")]
    Parse {
        what: &'static str,
        line: usize,
        text: String,
    },
    /// Axis arrays of different lengths.
    #[error("{what}: axis lengths differ ({x}, {y}, {z})")]
    LengthMismatch {
        what: &'static str,
        x: usize,
        y: usize,
        z: usize,
    },
}

/// Fails on the first NaN or infinity, so every later computation can assume finite input.
pub(crate) fn ensure_finite(what: &'static str, values: &[f64]) -> Result<(), SignalError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(SignalError::NotFinite { what, index }),
        None => Ok(()),
    }
}

/// Fails when `rate` is not a positive finite sampling rate.
pub(crate) fn ensure_rate(name: &'static str, rate: f64) -> Result<(), SignalError> {
    if rate.is_finite() && rate > 0.0 {
        Ok(())
    } else {
        Err(SignalError::InvalidParameter {
            name,
            reason: format!("must be a positive number of Hz, got {rate}"),
        })
    }
}
