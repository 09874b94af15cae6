//! Simulated parents with a hidden, consistent taste, and the proof that retraining helps: each
//! family rates recommendations from the base model, a retrain job (through the real storage,
//! job and adapter file) trains its adapter, and fresh recommendations from both arms are rated.

use std::time::Instant;

use migru_core::llm::adapter::AdapterFile;
use migru_core::llm::sampling::Rng;
use uuid::Uuid;

use crate::storage::training::{Arm, ServedRecommendation};
use crate::storage::{ChangeKind, Feedback, Storage};

use super::TrainingError;
use super::ab::{ArmStats, difference_interval};
use super::corpus::{self, Context, Topic};
use super::export;
use super::job::{self, TrainingSettings};
use super::model::{Lora, Model};
use super::pretrain;

/// A parent's hidden taste: topics liked and disliked, and whether short tips are preferred.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Taste {
    pub likes: Vec<Topic>,
    pub dislikes: Vec<Topic>,
    pub likes_short: bool,
}

/// Up to this many words a tip counts as short.
pub const SHORT_WORDS: usize = 10;

impl Taste {
    /// Two liked topics, one disliked, a length preference; drawn with `rng`.
    pub fn random(rng: &mut Rng) -> Self {
        let mut topics = Topic::ALL.to_vec();
        for i in (1..topics.len()).rev() {
            topics.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
        }
        Self { likes: topics[..2].to_vec(), dislikes: vec![topics[2]], likes_short: rng.next_u64().is_multiple_of(2) }
    }

    /// Probability of a thumbs up for `text`.
    pub fn p_up(&self, text: &str) -> f64 {
        let topics = corpus::topics_of(text);
        if topics.is_empty() {
            return 0.1;
        }
        let mut p: f64 = 0.25;
        if topics.iter().any(|t| self.likes.contains(t)) {
            p += 0.55;
        }
        if topics.iter().any(|t| self.dislikes.contains(t)) {
            p -= 0.2;
        }
        let short = corpus::word_count(text) <= SHORT_WORDS;
        p += if short == self.likes_short { 0.1 } else { -0.1 };
        p.clamp(0.02, 0.98)
    }

    pub fn judge(&self, text: &str, rng: &mut Rng) -> bool {
        rng.next_f64() < self.p_up(text)
    }
}

/// Proof settings.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProofConfig {
    pub families: usize,
    /// Feedbacks per family before the retrain.
    pub feedbacks: usize,
    /// Fresh recommendations per arm and family for the evaluation.
    pub eval_samples: usize,
    pub temperature: f32,
    pub seed: u64,
}

impl Default for ProofConfig {
    fn default() -> Self {
        Self { families: 20, feedbacks: 50, eval_samples: 54, temperature: 1.0, seed: 2024 }
    }
}

/// One family's outcome.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FamilyResult {
    pub family_id: Uuid,
    pub taste: Taste,
    /// Thumbs up among the training feedbacks.
    pub training_up: usize,
    pub base: ArmStats,
    pub adapted: ArmStats,
    pub retrain_seconds: f64,
    pub adapter_bytes: i64,
    pub kto: Option<super::kto::KtoReport>,
}

/// All families, pooled.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProofReport {
    pub config: ProofConfig,
    pub families: Vec<FamilyResult>,
    pub base: ArmStats,
    pub adapted: ArmStats,
    /// Pooled adapted − base with Newcombe's 95 % interval.
    pub difference: Option<(f64, f64, f64)>,
    /// Mean of the per-family differences with a 95 % t interval (families as the unit).
    pub family_difference: (f64, f64, f64),
    pub families_improved: usize,
    pub retrain_seconds_median: f64,
    pub retrain_seconds_max: f64,
    pub adapter_bytes_max: i64,
}

/// `n` samples spread over the nine contexts, in a seeded order: `(context, text)`.
fn sample_spread(model: &Model, lora: Option<&Lora>, tok: &tokenizers::Tokenizer, n: usize, temperature: f32, rng: &mut Rng) -> Result<Vec<(Context, String)>, TrainingError> {
    let contexts = Context::all();
    let mut out = Vec::with_capacity(n);
    for (i, ctx) in contexts.iter().enumerate() {
        let k = n / contexts.len() + usize::from(i < n % contexts.len());
        if k == 0 {
            continue;
        }
        for text in pretrain::sample(model, lora, tok, *ctx, k, temperature, 60, rng)? {
            out.push((*ctx, text));
        }
    }
    for i in (1..out.len()).rev() {
        out.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
    }
    Ok(out)
}

/// Stores a served recommendation the way the product does: a `recommendation` change (what the
/// parent's phone pulls) and the served row (prompt context, exact text, arm).
pub async fn serve(storage: &dyn Storage, family_id: Uuid, served: &ServedRecommendation) -> Result<(), TrainingError> {
    let body = serde_json::json!({ "text": served.text, "arm": served.arm, "adapter_version": served.adapter_version });
    storage.append_change(family_id, ChangeKind::Recommendation, &served.recommendation_id.to_string(), &body, served.served_at_ms).await?;
    storage.record_served(family_id, served).await?;
    Ok(())
}

/// Runs the proof on `storage` (families are created fresh, with random ids).
pub async fn run_proof(
    storage: &dyn Storage,
    settings: &TrainingSettings,
    config: &ProofConfig,
    mut progress: impl FnMut(&FamilyResult),
) -> Result<ProofReport, TrainingError> {
    let (base, tokenizer, _) = export::read_model_folder(&settings.model_dir)?;
    let mut rng = Rng::new(config.seed);
    let mut families = Vec::new();
    for _ in 0..config.families {
        let family_id = Uuid::from_u64_pair(rng.next_u64(), rng.next_u64());
        let device_id = Uuid::from_u64_pair(rng.next_u64(), rng.next_u64());
        let taste = Taste::random(&mut rng);
        let mut training_up = 0;
        let mut clock = 1_700_000_000_000i64;
        for (ctx, text) in sample_spread(&base, None, &tokenizer, config.feedbacks, config.temperature, &mut rng)? {
            clock += 60_000;
            let recommendation_id = Uuid::from_u64_pair(rng.next_u64(), rng.next_u64());
            let served = ServedRecommendation { recommendation_id, prompt: ctx.prompt(), text: text.clone(), arm: Arm::Base, adapter_version: None, served_at_ms: clock };
            serve(storage, family_id, &served).await?;
            let up = taste.judge(&text, &mut rng);
            training_up += usize::from(up);
            let feedback = Feedback { recommendation_id, device_id, value: if up { 1 } else { -1 }, device_ts_ms: clock + 1000 };
            storage.record_feedback(family_id, feedback, clock + 1000).await?;
        }
        let started = Instant::now();
        let outcome = job::run_retrain_job(storage, settings, family_id, Box::new(|_| {})).await?;
        let retrain_seconds = started.elapsed().as_secs_f64();
        // The phone's path: the stored bytes, parsed and checked against the model's shapes.
        let bytes = storage
            .adapter_bytes(family_id, outcome.version)
            .await?
            .ok_or_else(|| TrainingError::Adapter("stored adapter missing".into()))?;
        let lora = export::lora_from_file(&base.spec, &AdapterFile::from_bytes(&bytes)?)?;
        let (mut base_stats, mut adapted_stats) = (ArmStats::default(), ArmStats::default());
        for (arm, stats) in [(None, &mut base_stats), (Some(&lora), &mut adapted_stats)] {
            for (_, text) in sample_spread(&base, arm, &tokenizer, config.eval_samples, config.temperature, &mut rng)? {
                if taste.judge(&text, &mut rng) { stats.up += 1 } else { stats.down += 1 }
            }
        }
        let result = FamilyResult { family_id, taste, training_up, base: base_stats, adapted: adapted_stats, retrain_seconds, adapter_bytes: outcome.size_bytes, kto: outcome.report };
        progress(&result);
        families.push(result);
    }
    Ok(summarise(config.clone(), families))
}

fn summarise(config: ProofConfig, families: Vec<FamilyResult>) -> ProofReport {
    let mut base = ArmStats::default();
    let mut adapted = ArmStats::default();
    for f in &families {
        base.up += f.base.up;
        base.down += f.base.down;
        adapted.up += f.adapted.up;
        adapted.down += f.adapted.down;
    }
    let diffs: Vec<f64> = families.iter().map(|f| f.adapted.rate().unwrap_or(0.0) - f.base.rate().unwrap_or(0.0)).collect();
    let n = diffs.len().max(1) as f64;
    let mean = diffs.iter().sum::<f64>() / n;
    let sd = (diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt();
    let t = statrs_t(diffs.len().saturating_sub(1).max(1));
    let half = t * sd / n.sqrt();
    let mut secs: Vec<f64> = families.iter().map(|f| f.retrain_seconds).collect();
    secs.sort_by(f64::total_cmp);
    ProofReport {
        families_improved: diffs.iter().filter(|d| **d > 0.0).count(),
        retrain_seconds_median: secs.get(secs.len() / 2).copied().unwrap_or(0.0),
        retrain_seconds_max: secs.last().copied().unwrap_or(0.0),
        adapter_bytes_max: families.iter().map(|f| f.adapter_bytes).max().unwrap_or(0),
        difference: difference_interval(adapted, base),
        family_difference: (mean, mean - half, mean + half),
        base,
        adapted,
        config,
        families,
    }
}

/// The 97.5 % quantile of Student's t with `df` degrees of freedom.
fn statrs_t(df: usize) -> f64 {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    StudentsT::new(0.0, 1.0, df as f64).map_or(1.96, |t| t.inverse_cdf(0.975))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tastes_prefer_what_they_like() {
        let taste = Taste { likes: vec![Topic::Outdoor], dislikes: vec![Topic::Screens], likes_short: true };
        let liked = taste.p_up("Go for a short walk in the park after school.");
        let disliked = taste.p_up("Switch off screens an hour before bed. Rested eyes and a quiet mind help the evening.");
        let garbled = taste.p_up("the the the");
        assert!(liked > 0.8 && disliked < 0.2 && garbled <= 0.1, "{liked} {disliked} {garbled}");
    }
}
