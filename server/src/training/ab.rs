//! A/B between the base model and the family's latest adapter: Thompson sampling on Beta
//! posteriors of the thumbs-up rate, rates with Wilson intervals, the difference with Newcombe's
//! hybrid score interval (all in `migru_core::llm::ab`, shared with the parent's phone), the
//! recommendations phones report with their thumbs, and automatic rollback of an adapter that is
//! worse than the base model with 95 % confidence.

use migru_core::llm::sampling::Rng;
use uuid::Uuid;

use crate::storage::training::{AdapterState, Arm, ArmFeedback, ServedRecommendation};
use crate::storage::{ChangeKind, Storage};

use super::TrainingError;

pub use migru_core::llm::ab::{ArmStats, beta, difference_interval};

/// Thompson sampling (the core's rule, the same the parent's phone uses): 50/50 while both arms
/// have no data, the base model when there is no adapter.
pub fn choose_arm(base: ArmStats, adapter: Option<ArmStats>, rng: &mut Rng) -> Arm {
    match migru_core::llm::ab::choose_arm(base, adapter, rng) {
        migru_core::llm::ab::Arm::Base => Arm::Base,
        migru_core::llm::ab::Arm::Adapter => Arm::Adapter,
    }
}

/// What a parent's phone showed, sent with the thumbs (`POST /v1/feedback {…, "served": {…}}`):
/// the prompt context (chronotype and part of the day, never the child's words), the exact text,
/// and the A/B arm with its adapter version. It makes the phone's recommendations count in the A/B,
/// the rollback check and the retraining like the server's own.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServedOnPhone {
    pub prompt: String,
    pub text: String,
    /// `base` or `adapter`.
    #[schema(value_type = String)]
    pub arm: Arm,
    /// The adapter version for the `adapter` arm.
    #[serde(default)]
    pub adapter_version: Option<i64>,
}

/// Longest prompt context or text accepted from a phone, in bytes.
pub const MAX_SERVED_TEXT: usize = 4096;

impl ServedOnPhone {
    /// Names what is wrong, never echoing the text.
    pub fn validate(&self) -> Result<(), String> {
        if self.prompt.trim().is_empty() || self.text.trim().is_empty() {
            return Err("served: prompt and text must not be empty".into());
        }
        if self.prompt.len() > MAX_SERVED_TEXT || self.text.len() > MAX_SERVED_TEXT {
            return Err(format!("served: prompt and text must be at most {MAX_SERVED_TEXT} bytes"));
        }
        match (self.arm, self.adapter_version) {
            (Arm::Adapter, None) => Err("served: the adapter arm needs adapter_version".into()),
            (Arm::Base, Some(_)) => Err("served: the base arm has no adapter_version".into()),
            _ => Ok(()),
        }
    }
}

/// Records a recommendation the phone generated and showed, once: the served row, and the
/// `recommendation` change the family's other parent devices pull (and that feedback refers to).
/// Returns false when it was recorded already (a re-sent feedback).
pub async fn record_phone_served(
    storage: &dyn Storage,
    family_id: Uuid,
    recommendation_id: Uuid,
    served: &ServedOnPhone,
    now_ms: i64,
) -> Result<bool, crate::storage::StorageError> {
    let row = ServedRecommendation {
        recommendation_id,
        prompt: served.prompt.clone(),
        text: served.text.clone(),
        arm: served.arm,
        adapter_version: served.adapter_version,
        served_at_ms: now_ms,
    };
    if !storage.record_served(family_id, &row).await? {
        return Ok(false);
    }
    publish_phone_served(storage, family_id, recommendation_id, served, now_ms).await?;
    Ok(true)
}

/// The `recommendation` change for a phone-served recommendation, so the family's devices (and
/// the feedback check) know it. Also called by the feedback handler when a crash between
/// `record_served` and this append left the served row without its change: the resent thumbs
/// then heal it instead of being refused as unknown.
pub async fn publish_phone_served(
    storage: &dyn Storage,
    family_id: Uuid,
    recommendation_id: Uuid,
    served: &ServedOnPhone,
    now_ms: i64,
) -> Result<(), crate::storage::StorageError> {
    let body = serde_json::json!({ "text": served.text, "arm": served.arm, "adapter_version": served.adapter_version, "served_on": "phone" });
    storage.append_change(family_id, ChangeKind::Recommendation, &recommendation_id.to_string(), &body, now_ms).await?;
    Ok(())
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
            Arm::Base => base.add(f.value > 0),
            Arm::Adapter if adapter_version.is_none() || f.adapter_version == adapter_version => adapter.add(f.value > 0),
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
    fn the_servers_arm_is_the_cores_choice() {
        // The rule itself is tested in `migru_core::llm::ab`; the same seed picks the same arms.
        let (mut ours, mut core) = (Rng::new(3), Rng::new(3));
        for (base, adapter) in [(ArmStats::default(), ArmStats::default()), (ArmStats { up: 3, down: 9 }, ArmStats { up: 9, down: 3 })] {
            for _ in 0..50 {
                let expected = match migru_core::llm::ab::choose_arm(base, Some(adapter), &mut core) {
                    migru_core::llm::ab::Arm::Base => Arm::Base,
                    migru_core::llm::ab::Arm::Adapter => Arm::Adapter,
                };
                assert_eq!(choose_arm(base, Some(adapter), &mut ours), expected);
            }
        }
        assert_eq!(choose_arm(ArmStats::default(), None, &mut ours), Arm::Base);
    }

    #[test]
    fn rollback_needs_confidence() {
        let base = ArmStats { up: 30, down: 10 };
        assert!(worse_than_base(base, ArmStats { up: 8, down: 22 }));
        assert!(!worse_than_base(base, ArmStats { up: 2, down: 5 }), "too few adapter feedbacks");
        assert!(!worse_than_base(base, ArmStats { up: 25, down: 15 }), "not clearly worse");
    }
}
