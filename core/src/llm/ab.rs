//! A/B between the base model and the family's latest adapter, shared by the server (which rolls
//! a worse adapter back) and the parent's phone (which chooses the arm of each recommendation it
//! shows): Thompson sampling on Beta posteriors of the thumbs-up rate, Wilson intervals per arm and
//! Newcombe's hybrid score interval for the difference. Sans I/O.

use serde::{Deserialize, Serialize};

use super::sampling::Rng;

/// z for a two-sided 95 % interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// Which model wrote a recommendation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arm {
    Base,
    Adapter,
}

impl Arm {
    pub fn as_str(self) -> &'static str {
        match self {
            Arm::Base => "base",
            Arm::Adapter => "adapter",
        }
    }

    pub fn parse(text: &str) -> Option<Arm> {
        [Arm::Base, Arm::Adapter].into_iter().find(|a| a.as_str() == text)
    }
}

/// The prompt context a recommendation is trained on (Phi-3 style markers, as the on-device chat
/// template renders them): the child's chronotype ("early bird", "night owl", "in-between") and the
/// part of the day ("morning", "afternoon", "evening"). It names no child's words, so it may go to
/// the server with the parent's thumbs.
pub fn recommendation_context(chronotype: &str, day_part: &str) -> String {
    format!("<|user|>Tip for a parent. Child: {chronotype}. Time: {day_part}.<|end|><|assistant|>")
}

/// The part of the day of a local hour (0–23), as the training corpus names it.
pub fn day_part(hour: u32) -> &'static str {
    match hour {
        4..=11 => "morning",
        12..=16 => "afternoon",
        _ => "evening",
    }
}

/// Thumbs counted for one arm.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArmStats {
    pub up: u64,
    pub down: u64,
}

impl ArmStats {
    pub fn n(&self) -> u64 {
        self.up + self.down
    }

    pub fn rate(&self) -> Option<f64> {
        (self.n() > 0).then(|| self.up as f64 / self.n() as f64)
    }

    /// Wilson score interval (95 %) of the thumbs-up rate; `(0, 1)` without data.
    pub fn wilson(&self) -> (f64, f64) {
        let n = self.n() as f64;
        if n == 0.0 {
            return (0.0, 1.0);
        }
        let p = self.up as f64 / n;
        let z2 = Z95 * Z95;
        let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
        let half = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / (1.0 + z2 / n);
        ((centre - half).max(0.0), (centre + half).min(1.0))
    }

    /// Counts one thumbs.
    pub fn add(&mut self, up: bool) {
        if up { self.up += 1 } else { self.down += 1 }
    }
}

/// Newcombe's hybrid score interval (method 10, 95 %) for `rate(a) − rate(b)`:
/// `(difference, lower, upper)`.
pub fn difference_interval(a: ArmStats, b: ArmStats) -> Option<(f64, f64, f64)> {
    let (pa, pb) = (a.rate()?, b.rate()?);
    let ((la, ua), (lb, ub)) = (a.wilson(), b.wilson());
    let d = pa - pb;
    let lower = d - ((pa - la).powi(2) + (ub - pb).powi(2)).sqrt();
    let upper = d + ((ua - pa).powi(2) + (pb - lb).powi(2)).sqrt();
    Some((d, lower, upper))
}

/// A Gamma(shape, 1) draw (Marsaglia–Tsang; shape < 1 boosted).
fn gamma(shape: f64, rng: &mut Rng) -> f64 {
    if shape < 1.0 {
        let u = rng.next_f64().max(f64::MIN_POSITIVE);
        return gamma(shape + 1.0, rng) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let (u1, u2) = (rng.next_f64().max(f64::MIN_POSITIVE), rng.next_f64());
        let x = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        let v = (1.0 + c * x).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u = rng.next_f64().max(f64::MIN_POSITIVE);
        if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
            return d * v;
        }
    }
}

/// A Beta(a, b) draw.
pub fn beta(a: f64, b: f64, rng: &mut Rng) -> f64 {
    let x = gamma(a, rng);
    let y = gamma(b, rng);
    x / (x + y)
}

/// Thompson sampling with uniform Beta(1, 1) priors: draws a rate for each arm from its posterior
/// and serves the larger. With no data both posteriors are uniform, so the split is 50/50; without
/// an adapter the base model serves.
pub fn choose_arm(base: ArmStats, adapter: Option<ArmStats>, rng: &mut Rng) -> Arm {
    let Some(adapter) = adapter else { return Arm::Base };
    let b = beta(1.0 + base.up as f64, 1.0 + base.down as f64, rng);
    let a = beta(1.0 + adapter.up as f64, 1.0 + adapter.down as f64, rng);
    if a > b { Arm::Adapter } else { Arm::Base }
}

/// The thumbs a phone has seen per arm, for its Thompson draws: the base model's, and the current
/// adapter version's (a new version starts from zero, as the server's rollback test does).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArmCounts {
    pub base: ArmStats,
    pub adapter_version: Option<i64>,
    pub adapter: ArmStats,
}

impl ArmCounts {
    /// The adapter arm's counts for `version` (zero for a version not counted yet).
    pub fn adapter_for(&self, version: i64) -> ArmStats {
        if self.adapter_version == Some(version) { self.adapter } else { ArmStats::default() }
    }

    /// Counts one thumbs for `arm` (with the adapter version it was served with).
    pub fn add(&mut self, arm: Arm, adapter_version: Option<i64>, up: bool) {
        match (arm, adapter_version) {
            (Arm::Base, _) => self.base.add(up),
            (Arm::Adapter, Some(version)) => {
                if self.adapter_version != Some(version) {
                    self.adapter_version = Some(version);
                    self.adapter = ArmStats::default();
                }
                self.adapter.add(up);
            }
            (Arm::Adapter, None) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_a_known_value() {
        // 81 of 263: Wilson 95 % [0.2553, 0.3662] (Newcombe 1998, table I).
        let (l, u) = ArmStats { up: 81, down: 182 }.wilson();
        assert!((l - 0.2553).abs() < 5e-4 && (u - 0.3662).abs() < 5e-4, "{l} {u}");
    }

    #[test]
    fn newcombe_difference_matches_the_published_example() {
        // Newcombe 1998, example (a): 56/70 vs 48/80 → difference 0.2, method 10 CI [0.0524, 0.3339].
        let (d, l, u) = difference_interval(ArmStats { up: 56, down: 14 }, ArmStats { up: 48, down: 32 }).unwrap();
        assert!((d - 0.2).abs() < 1e-12);
        assert!((l - 0.0524).abs() < 5e-4 && (u - 0.3339).abs() < 5e-4, "{l} {u}");
    }

    #[test]
    fn thompson_starts_even_and_follows_the_better_arm() {
        let mut rng = Rng::new(3);
        let even = (0..4000).filter(|_| choose_arm(ArmStats::default(), Some(ArmStats::default()), &mut rng) == Arm::Adapter).count();
        assert!((1800..2200).contains(&even), "{even}");
        let better = (0..1000)
            .filter(|_| choose_arm(ArmStats { up: 10, down: 30 }, Some(ArmStats { up: 30, down: 10 }), &mut rng) == Arm::Adapter)
            .count();
        assert!(better > 950, "{better}");
        assert_eq!(choose_arm(ArmStats::default(), None, &mut rng), Arm::Base);
    }

    #[test]
    fn beta_draws_have_the_right_mean() {
        let mut rng = Rng::new(9);
        let mean = (0..20_000).map(|_| beta(2.0, 6.0, &mut rng)).sum::<f64>() / 20_000.0;
        assert!((mean - 0.25).abs() < 0.01, "{mean}");
    }

    #[test]
    fn a_new_adapter_version_starts_its_counts_afresh() {
        let mut counts = ArmCounts::default();
        counts.add(Arm::Adapter, Some(1), true);
        counts.add(Arm::Adapter, Some(1), false);
        counts.add(Arm::Base, None, true);
        assert_eq!(counts.adapter_for(1), ArmStats { up: 1, down: 1 });
        assert_eq!(counts.adapter_for(2), ArmStats::default());
        counts.add(Arm::Adapter, Some(2), true);
        assert_eq!(counts.adapter_for(2), ArmStats { up: 1, down: 0 });
        assert_eq!(counts.base, ArmStats { up: 1, down: 0 });
        assert_eq!(Arm::parse("adapter"), Some(Arm::Adapter));
        assert_eq!(Arm::parse("other"), None);
    }
}
