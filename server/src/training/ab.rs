//! A/B between the base model and the family's latest adapter: Thompson sampling on Beta
//! posteriors of the thumbs-up rate, rates with Wilson intervals, the difference with Newcombe's
//! hybrid score interval, and automatic rollback of an adapter that is worse than the base model
//! with 95 % confidence.

use migru_core::llm::sampling::Rng;
use uuid::Uuid;

use crate::storage::training::{AdapterState, Arm, ArmFeedback};
use crate::storage::{ChangeKind, Storage};

use super::TrainingError;

/// z for a two-sided 95 % interval.
const Z95: f64 = 1.959_963_984_540_054;

/// Thumbs counted for one arm.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
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

    fn add(&mut self, value: i8) {
        if value > 0 { self.up += 1 } else { self.down += 1 }
    }
}

/// Newcombe's hybrid score interval (method 10, 95 %) for `rate(a) − rate(b)`.
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
/// and serves the larger. With no data both posteriors are uniform, so the split is 50/50.
pub fn choose_arm(base: ArmStats, adapter: Option<ArmStats>, rng: &mut Rng) -> Arm {
    let Some(adapter) = adapter else { return Arm::Base };
    let b = beta(1.0 + base.up as f64, 1.0 + base.down as f64, rng);
    let a = beta(1.0 + adapter.up as f64, 1.0 + adapter.down as f64, rng);
    if a > b { Arm::Adapter } else { Arm::Base }
}

/// One arm's line of the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ArmLine {
    pub stats: ArmStats,
    pub rate: Option<f64>,
    pub interval: (f64, f64),
}

impl From<ArmStats> for ArmLine {
    fn from(stats: ArmStats) -> Self {
        Self { stats, rate: stats.rate(), interval: stats.wilson() }
    }
}

/// Thumbs-up rate per arm and the difference (adapter − base) with its interval.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AbReport {
    pub base: ArmLine,
    pub adapter: ArmLine,
    /// `(difference, lower, upper)`, 95 %.
    pub difference: Option<(f64, f64, f64)>,
}

/// Counts per arm; `adapter_version` restricts the adapter arm to one version.
pub fn count(feedback: &[ArmFeedback], adapter_version: Option<i64>) -> (ArmStats, ArmStats) {
    let (mut base, mut adapter) = (ArmStats::default(), ArmStats::default());
    for f in feedback {
        match f.arm {
            Arm::Base => base.add(f.value),
            Arm::Adapter if adapter_version.is_none() || f.adapter_version == adapter_version => adapter.add(f.value),
            Arm::Adapter => {}
        }
    }
    (base, adapter)
}

pub fn report(feedback: &[ArmFeedback], adapter_version: Option<i64>) -> AbReport {
    let (base, adapter) = count(feedback, adapter_version);
    AbReport { base: base.into(), adapter: adapter.into(), difference: difference_interval(adapter, base) }
}

/// The family's report (all adapter versions pooled) or, with `None`, every family's.
pub async fn ab_report(storage: &dyn Storage, family_id: Option<Uuid>) -> Result<AbReport, TrainingError> {
    Ok(report(&storage.arm_feedback(family_id).await?, None))
}

/// Feedbacks each arm needs before a rollback is considered.
pub const MIN_PER_ARM: u64 = 10;

/// Whether the adapter is worse than the base with 95 % confidence: the upper end of the 95 %
/// interval of `rate(adapter) − rate(base)` is below zero, with at least `MIN_PER_ARM` each.
pub fn worse_than_base(base: ArmStats, adapter: ArmStats) -> bool {
    base.n() >= MIN_PER_ARM
        && adapter.n() >= MIN_PER_ARM
        && difference_interval(adapter, base).is_some_and(|(_, _, upper)| upper < 0.0)
}

/// Rolls the family's active adapter back if it is worse than the base; publishes an
/// `adapter_version` change with `"state": "rolled_back"` so the phones deactivate it. Returns the
/// version rolled back.
pub async fn check_rollback(storage: &dyn Storage, family_id: Uuid, now_ms: i64) -> Result<Option<i64>, TrainingError> {
    let adapters = storage.adapters(family_id).await?;
    let Some(active) = adapters.iter().find(|a| a.state == AdapterState::Active) else { return Ok(None) };
    let (base, adapter) = count(&storage.arm_feedback(Some(family_id)).await?, Some(active.version));
    if !worse_than_base(base, adapter) {
        return Ok(None);
    }
    let (d, lower, upper) = difference_interval(adapter, base).unwrap_or_default();
    let reason = format!(
        "thumbs-up rate {:.2} ({} of {}) vs base {:.2} ({} of {}); difference {d:.2}, 95 % CI [{lower:.2}, {upper:.2}]",
        adapter.rate().unwrap_or(0.0),
        adapter.up,
        adapter.n(),
        base.rate().unwrap_or(0.0),
        base.up,
        base.n()
    );
    storage.set_adapter_state(family_id, active.version, AdapterState::RolledBack, Some(&reason)).await?;
    let body = serde_json::json!({ "version": active.version, "sha256": active.sha256, "state": "rolled_back", "reason": reason });
    storage.append_change(family_id, ChangeKind::AdapterVersion, &format!("adapter-{}-rollback", active.version), &body, now_ms).await?;
    tracing::warn!(%family_id, version = active.version, "adapter rolled back: worse than base");
    Ok(Some(active.version))
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
    fn rollback_needs_confidence() {
        let base = ArmStats { up: 30, down: 10 };
        assert!(worse_than_base(base, ArmStats { up: 8, down: 22 }));
        assert!(!worse_than_base(base, ArmStats { up: 2, down: 5 }), "too few adapter feedbacks");
        assert!(!worse_than_base(base, ArmStats { up: 25, down: 15 }), "not clearly worse");
    }
}
