//! Parent-language summaries whose certainty words follow the interval.
//!
//! Wording rules (also in ADR 0004):
//! - Size. Continuous outcome: the effect relative to the untreated days' mean, rounded to a whole
//!   percent ("about 15 % lower"); under 1 % reads "about the same"; when that mean is near zero
//!   the absolute change is given instead. Binary outcome: the risk difference as days out of 100
//!   ("on about 12 fewer days out of 100").
//! - Certainty, from the interval (95 % unless configured):
//!   * `quite_sure`: the interval excludes zero and its end nearer zero is at least half the
//!     estimate ("we are quite sure");
//!   * `fairly_sure`: the interval excludes zero ("we are fairly sure");
//!   * `could_be_chance`: the interval includes zero but the estimate is more than one standard
//!     error from it ("but this could still be chance");
//!   * `no_clear_difference`: otherwise ("we cannot see a clear difference yet").
//! - A failed refutation lowers the certainty one step and adds a sentence saying a check did not
//!   hold up.
//! - "Not enough data yet" names the reason and never a number.

use serde::Serialize;

use super::{Analysis, Estimate};

/// How sure the wording may sound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Certainty {
    NoClearDifference,
    CouldBeChance,
    FairlySure,
    QuiteSure,
}

impl Certainty {
    fn lowered(self) -> Certainty {
        match self {
            Certainty::QuiteSure => Certainty::FairlySure,
            Certainty::FairlySure => Certainty::CouldBeChance,
            _ => Certainty::NoClearDifference,
        }
    }
}

/// What the treatment and the outcome are called in a sentence.
#[derive(Debug, Clone, PartialEq)]
pub struct Labels {
    /// e.g. "the breathing exercise"
    pub treatment: String,
    /// e.g. "evening stress"
    pub outcome: String,
}

impl Labels {
    /// Column names made readable (`breathing_exercise` → "breathing exercise").
    pub fn from_columns(treatment: &str, outcome: &str) -> Labels {
        Labels { treatment: treatment.replace('_', " "), outcome: outcome.replace('_', " ") }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub text: String,
    /// `None` when there is no estimate.
    pub certainty: Option<Certainty>,
}

pub fn summarize(analysis: &Analysis, labels: &Labels) -> Summary {
    match analysis {
        Analysis::NotEnoughData(r) => Summary {
            text: format!(
                "We don't have enough days yet to say whether {} helps with {}: {}.",
                labels.treatment, labels.outcome, r.message
            ),
            certainty: None,
        },
        Analysis::Estimated(e) => estimated(e, labels),
    }
}

/// The certainty the interval alone supports.
pub fn certainty(e: &Estimate) -> Certainty {
    let (lo, hi, est) = (e.ci_low, e.ci_high, e.estimate);
    let excludes_zero = lo > 0.0 || hi < 0.0;
    if excludes_zero {
        let near = if lo > 0.0 { lo } else { -hi };
        return if near >= 0.5 * est.abs() { Certainty::QuiteSure } else { Certainty::FairlySure };
    }
    let z = crate_z(e.confidence);
    let se = (hi - lo) / (2.0 * z);
    if est.abs() > se { Certainty::CouldBeChance } else { Certainty::NoClearDifference }
}

fn crate_z(confidence: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    Normal::new(0.0, 1.0).map_or(1.96, |d| d.inverse_cdf(0.5 + confidence / 2.0))
}

fn estimated(e: &Estimate, labels: &Labels) -> Summary {
    let refuted = e.refutations.iter().any(|r| !r.passed);
    let mut level = certainty(e);
    if refuted {
        level = level.lowered();
    }
    let size = size_phrase(e, labels);
    let mut text = match level {
        Certainty::QuiteSure => format!("On days with {}, {size}; we are quite sure.", labels.treatment),
        Certainty::FairlySure => format!("On days with {}, {size}; we are fairly sure.", labels.treatment),
        Certainty::CouldBeChance => {
            format!("On days with {}, {size}, but this could still be chance.", labels.treatment)
        }
        Certainty::NoClearDifference => format!(
            "On days with {} we cannot see a clear difference in {} yet ({size}, which may well be chance).",
            labels.treatment, labels.outcome
        ),
    };
    if refuted {
        text.push_str(" One of our checks did not hold up, so take this with care.");
    }
    Summary { text, certainty: Some(level) }
}

fn size_phrase(e: &Estimate, labels: &Labels) -> String {
    let outcome = &labels.outcome;
    if e.outcome_binary {
        let per100 = (e.estimate * 100.0).round().abs();
        if per100 < 1.0 {
            return format!("{outcome} happened about as often");
        }
        let dir = if e.estimate < 0.0 { "fewer" } else { "more" };
        return format!("{outcome} happened on about {per100:.0} {dir} days out of 100");
    }
    let dir = if e.estimate < 0.0 { "lower" } else { "higher" };
    if e.untreated_mean.abs() > 1e-6 && e.untreated_mean > 0.0 {
        let pct = (100.0 * e.estimate / e.untreated_mean).abs().round();
        if pct < 1.0 {
            return format!("{outcome} was about the same");
        }
        return format!("{outcome} was about {pct:.0} % {dir}");
    }
    format!("{outcome} was about {:.1} points {dir}", e.estimate.abs())
}

#[cfg(test)]
mod tests {
    use super::super::{Diagnostics, IntervalKind, Method, Refutation};
    use super::*;

    fn est(estimate: f64, lo: f64, hi: f64) -> Estimate {
        Estimate {
            method: Method::Aipw,
            estimate,
            ci_low: lo,
            ci_high: hi,
            confidence: 0.95,
            interval: IntervalKind::Normal,
            se: (hi - lo) / 3.92,
            att: None,
            n: 60,
            n_treated: 25,
            n_used: 60,
            outcome_binary: false,
            untreated_mean: 4.0,
            refutations: vec![],
            diagnostics: Diagnostics::default(),
            bootstrap: None,
            dropped_common_causes: vec![],
        }
    }

    fn check(e: Estimate, expected: &str) {
        let labels = Labels { treatment: "the breathing exercise".into(), outcome: "evening stress".into() };
        assert_eq!(summarize(&Analysis::Estimated(Box::new(e)), &labels).text, expected);
    }

    #[test]
    fn certainty_follows_the_interval() {
        check(est(-0.6, -1.0, -0.2), "On days with the breathing exercise, evening stress was about 15 % lower; we are fairly sure.");
        check(est(-0.6, -0.8, -0.4), "On days with the breathing exercise, evening stress was about 15 % lower; we are quite sure.");
        check(est(-0.6, -1.3, 0.1), "On days with the breathing exercise, evening stress was about 15 % lower, but this could still be chance.");
        check(
            est(0.1, -0.9, 1.1),
            "On days with the breathing exercise we cannot see a clear difference in evening stress yet (evening stress was about 3 % higher, which may well be chance).",
        );
    }

    #[test]
    fn failed_check_lowers_certainty() {
        let mut e = est(-0.6, -0.8, -0.4);
        e.refutations.push(Refutation {
            name: "placebo_treatment",
            new_estimate: Some(-0.5),
            passed: false,
            tolerance: 0.2,
            note: None,
        });
        check(e, "On days with the breathing exercise, evening stress was about 15 % lower; we are fairly sure. One of our checks did not hold up, so take this with care.");
    }

    #[test]
    fn binary_outcomes_read_as_days_out_of_100() {
        let mut e = est(-0.12, -0.2, -0.04);
        e.outcome_binary = true;
        let labels = Labels::from_columns("screen_free_evening", "headache");
        let s = summarize(&Analysis::Estimated(Box::new(e)), &labels);
        assert_eq!(s.text, "On days with screen free evening, headache happened on about 12 fewer days out of 100; we are fairly sure.");
        assert_eq!(s.certainty, Some(Certainty::FairlySure));
    }
}
