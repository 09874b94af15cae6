//! Refutations in the manner of DoWhy: re-estimate under a change that should (placebo) or should
//! not (random common cause, data subset) move the estimate, and say whether the original holds.
//!
//! DoWhy repeats each refuter 100 times and reports a p-value; one seeded run judged against the
//! original estimate's standard error answers the same question at a hundredth of the cost
//! (pass rules in ADR 0004).

use serde::Serialize;

use super::Config;
use super::estimate::{Sample, point};
use super::rng::SplitMix64;

/// The fraction of rows the data-subset refuter keeps (DoWhy's default).
pub const SUBSET_FRACTION: f64 = 0.8;

/// One refutation's outcome. `new_estimate` is `None` when the changed data could not be
/// estimated at all (the note says why); that counts as not passed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Refutation {
    pub name: &'static str,
    pub new_estimate: Option<f64>,
    pub passed: bool,
    /// How far the new estimate may be from its expected value and still pass.
    pub tolerance: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Runs the three refuters (on two threads) against an estimate `ate` with standard error `se`.
pub fn refute_all(s: &Sample, cfg: &Config, ate: f64, se: f64) -> Vec<Refutation> {
    std::thread::scope(|scope| {
        let placebo = scope.spawn(|| placebo_treatment(s, cfg, se));
        let common = random_common_cause(s, cfg, ate, se);
        let subset = data_subset(s, cfg, ate, se);
        let placebo = placebo.join().unwrap_or_else(|_| failed("placebo_treatment", "the refuter panicked"));
        vec![placebo, common, subset]
    })
}

fn failed(name: &'static str, why: &str) -> Refutation {
    Refutation { name, new_estimate: None, passed: false, tolerance: 0.0, note: Some(why.to_owned()) }
}

fn judge(name: &'static str, s: &Sample, cfg: &Config, expected: f64, tolerance: f64) -> Refutation {
    match point(s, cfg, false) {
        Ok(p) => Refutation {
            name,
            new_estimate: Some(p.ate),
            passed: (p.ate - expected).abs() <= tolerance,
            tolerance,
            note: None,
        },
        Err(reason) => failed(name, &reason.to_string()),
    }
}

/// Treatment replaced by a random permutation of itself: the true effect becomes zero, so the new
/// estimate passes when it lies within 1.96 standard errors of zero.
pub fn placebo_treatment(s: &Sample, cfg: &Config, se: f64) -> Refutation {
    let mut rng = SplitMix64::stream(cfg.seed, 0x091A_CEB0);
    let mut placebo = s.clone();
    rng.shuffle(&mut placebo.t);
    judge("placebo_treatment", &placebo, cfg, 0.0, 1.96 * se)
}

/// An extra common cause of pure noise: a sound estimate barely moves. Passes within one standard
/// error of the original.
pub fn random_common_cause(s: &Sample, cfg: &Config, ate: f64, se: f64) -> Refutation {
    let mut rng = SplitMix64::stream(cfg.seed, 0x00C0_77A5);
    let mut more = s.clone();
    more.w.push((0..s.n()).map(|_| rng.normal()).collect());
    more.w_names.push("random_common_cause".to_owned());
    judge("random_common_cause", &more, cfg, ate, se)
}

/// A random 80 % of the rows: the difference from the full estimate has standard deviation about
/// `se·√(1/f − 1)`, so it passes within 1.96 of those.
pub fn data_subset(s: &Sample, cfg: &Config, ate: f64, se: f64) -> Refutation {
    let mut rng = SplitMix64::stream(cfg.seed, 0x0050_B5E7);
    let mut idx: Vec<usize> = (0..s.n()).collect();
    rng.shuffle(&mut idx);
    idx.truncate((s.n() as f64 * SUBSET_FRACTION).round() as usize);
    idx.sort_unstable();
    let tolerance = 1.96 * se * (1.0 / SUBSET_FRACTION - 1.0).sqrt();
    judge("data_subset", &s.pick(&idx), cfg, ate, tolerance)
}
