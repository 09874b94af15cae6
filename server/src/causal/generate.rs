//! Confounded data with a known effect, for validating the estimators against the truth and
//! against DoWhy (`migru-server causal-generate`, the coverage test, the bench).
//!
//! Columns: `t` (0/1), `y`, `w0 … w{k-1}`. Every common cause pushes both treatment and outcome.
//! Treatment follows a logistic model linear in `w` in both shapes, so the propensity model is
//! right; `NonLinear` bends the outcome (sine, square, interaction) so linear regression is not.

use super::models::sigmoid;
use super::rng::SplitMix64;
use super::table::Table;

/// The outcome's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Linear,
    NonLinear,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GenSpec {
    pub n: usize,
    pub common_causes: usize,
    pub effect: f64,
    pub shape: Shape,
    /// A 0/1 outcome from a logistic model instead of a continuous one.
    pub binary_outcome: bool,
    pub seed: u64,
}

impl Default for GenSpec {
    fn default() -> Self {
        GenSpec { n: 1000, common_causes: 2, effect: -1.5, shape: Shape::Linear, binary_outcome: false, seed: 0 }
    }
}

/// A generated table and the effect that produced it.
#[derive(Debug, Clone)]
pub struct Generated {
    pub table: Table,
    /// The average treatment effect: `effect` for a continuous outcome; for a binary one the mean
    /// over rows of `P(y=1 | t=1, w) − P(y=1 | t=0, w)`.
    pub true_ate: f64,
}

/// Propensity coefficient of common cause `j`: alternating sign, shrinking, so no cause alone
/// dominates and propensities stay mostly inside [0.05, 0.95].
fn treat_coef(j: usize) -> f64 {
    let sign = if j.is_multiple_of(2) { 1.0 } else { -1.0 };
    sign * 0.8 / (1.0 + 0.5 * j as f64)
}

/// Outcome coefficient of common cause `j`: same sign as its propensity coefficient, so the
/// confounding biases add up instead of cancelling.
fn outcome_coef(j: usize) -> f64 {
    let sign = if j.is_multiple_of(2) { 1.0 } else { -1.0 };
    sign / (1.0 + 0.3 * j as f64)
}

pub fn generate(spec: &GenSpec) -> Generated {
    let mut rng = SplitMix64::new(spec.seed ^ 0xD0E5_0000);
    let k = spec.common_causes;
    let mut w: Vec<Vec<f64>> = vec![Vec::with_capacity(spec.n); k];
    let (mut t, mut y) = (Vec::with_capacity(spec.n), Vec::with_capacity(spec.n));
    let mut ate_sum = 0.0;
    for _ in 0..spec.n {
        let row: Vec<f64> = (0..k).map(|_| rng.normal()).collect();
        let logit: f64 = row.iter().enumerate().map(|(j, v)| treat_coef(j) * v).sum();
        let treated = if rng.uniform() < sigmoid(logit) { 1.0 } else { 0.0 };
        let base = baseline(&row, spec.shape);
        let outcome = if spec.binary_outcome {
            let (p1, p0) = (sigmoid(base * 0.5 + spec.effect), sigmoid(base * 0.5));
            ate_sum += p1 - p0;
            f64::from(u8::from(rng.uniform() < if treated == 1.0 { p1 } else { p0 }))
        } else {
            ate_sum += spec.effect;
            5.0 + base + spec.effect * treated + rng.normal()
        };
        for (col, v) in w.iter_mut().zip(&row) {
            col.push(*v);
        }
        t.push(treated);
        y.push(outcome);
    }
    let mut table = Table::new();
    let _ = table.insert("t", t);
    let _ = table.insert("y", y);
    for (j, col) in w.into_iter().enumerate() {
        let _ = table.insert(&format!("w{j}"), col);
    }
    Generated { table, true_ate: if spec.n == 0 { spec.effect } else { ate_sum / spec.n as f64 } }
}

fn baseline(row: &[f64], shape: Shape) -> f64 {
    match shape {
        Shape::Linear => row.iter().enumerate().map(|(j, v)| outcome_coef(j) * v).sum(),
        Shape::NonLinear => {
            let linear: f64 = row.iter().enumerate().skip(2).map(|(j, v)| outcome_coef(j) * v).sum();
            let w0 = row.first().copied().unwrap_or(0.0);
            let w1 = row.get(1).copied().unwrap_or(0.0);
            linear + 1.5 * (1.5 * w0).sin() + 0.6 * w1 * w1 + 0.5 * w0 * w1 + 0.8 * w0
        }
    }
}

/// A child's diary of `days` days from `first_day` (local midnight) with a planted effect, for the
/// scheduled analysis' tests: an intervention named "Breathing exercise" at 17:00 on about half
/// the days lowers that evening's stress (a symptom at 19:00) by 2 points; short sleep raises
/// stress and makes the exercise likelier (confounding through `sleep_h`). Records carry no ids.
pub fn diary(first_day: chrono::DateTime<chrono::FixedOffset>, days: i64, seed: u64) -> Vec<migru_core::event::Record> {
    use chrono::Duration;
    use migru_core::event::{Body, Record};
    let mut rng = SplitMix64::new(seed ^ 0xD1A2_0000);
    let mut out = Vec::new();
    for d in 0..days {
        let midnight = first_day + Duration::days(d);
        let sleep_h = 7.0 + 2.0 * rng.uniform();
        let bed = midnight + Duration::hours(7) - Duration::minutes((sleep_h * 60.0) as i64);
        out.push(Record::new(bed, Body::Sleep { start: bed, end: midnight + Duration::hours(7) }));
        let treated = rng.uniform() < 0.3 + 0.4 * f64::from(u8::from(sleep_h < 8.0));
        if treated {
            out.push(Record::new(midnight + Duration::hours(17), Body::Intervention { name: "Breathing exercise".into() }));
        }
        let stress = 6.0 - 2.0 * f64::from(u8::from(treated)) + (8.0 - sleep_h) + rng.normal() * 0.5;
        let intensity = stress.round().clamp(0.0, 10.0) as u8;
        out.push(Record::new(midnight + Duration::hours(19), Body::Symptom { intensity, text: None }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confounding_is_real_and_reproducible() {
        let g = generate(&GenSpec { n: 5000, seed: 1, ..Default::default() });
        assert_eq!(g.table.n_rows(), 5000);
        assert_eq!(g.true_ate, -1.5);
        let (t, y) = (g.table.column("t").unwrap(), g.table.column("y").unwrap());
        let mean = |pick: f64| {
            let v: Vec<f64> = (0..t.len()).filter(|&i| t[i] == pick).map(|i| y[i]).collect();
            v.iter().sum::<f64>() / v.len() as f64
        };
        // The naive difference is biased away from −1.5 by the common causes.
        assert!((mean(1.0) - mean(0.0) - g.true_ate).abs() > 0.3);
        let again = generate(&GenSpec { n: 5000, seed: 1, ..Default::default() });
        assert_eq!(again.table, g.table);
    }
}
