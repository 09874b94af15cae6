//! The retrain job: every `every_n` new feedbacks of a family, train a LoRA adapter with KTO on
//! all of the family's feedback, store it as the next version and publish it through sync.
//!
//! Idempotent: the job trains on the feedback present when it runs and records that count with the
//! adapter; a job finding an adapter for the same count only makes sure it was published. Job state
//! lives in the `jobs` table, so a job interrupted by a restart is claimed again when its lease ends.

use std::path::PathBuf;
use std::time::Instant;

use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::storage::training::{AdapterMeta, NewAdapter};
use crate::storage::{ChangeKind, Job, Storage};

use super::TrainingError;
use super::export::{self, ModelInfo};
use super::kto::{self, KtoConfig, KtoExample, KtoReport};
use super::model::Model;
use super::tokenize::Sequence;

/// The `jobs.kind` of a retrain job.
pub const JOB_KIND: &str = "retrain";
/// Adapter files larger than this are refused (the phones download them).
pub const MAX_ADAPTER_BYTES: usize = 1 << 20;

/// Where the base model lives and how to retrain.
#[derive(Debug, Clone)]
pub struct TrainingSettings {
    /// The model folder written by `migru-server train-base`.
    pub model_dir: PathBuf,
    pub kto: KtoConfig,
    /// New feedbacks per family that trigger a retrain.
    pub every_n: usize,
}

impl TrainingSettings {
    pub fn new(model_dir: PathBuf) -> Self {
        Self { model_dir, kto: KtoConfig::default(), every_n: 10 }
    }
}

/// What a running job reports.
#[derive(Debug, Clone, PartialEq)]
pub enum RetrainProgress {
    Loaded { feedbacks: usize },
    Step { step: usize, steps: usize, loss: f32 },
    Published { version: i64 },
}

/// How a job ended.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RetrainOutcome {
    pub family_id: Uuid,
    pub version: i64,
    pub sha256: String,
    pub size_bytes: i64,
    pub feedback_count: i64,
    /// False when an adapter for this feedback already existed (idempotent re-run).
    pub trained: bool,
    pub report: Option<KtoReport>,
    pub seconds: f64,
}

/// Rolls the family's active adapter back if the A/B shows it worse than the base
/// (`ab::check_rollback`), then enqueues a retrain job when the family has `every_n` feedbacks more than its newest adapter
/// was trained on and no retrain job is queued or running. Call after storing a feedback.
pub async fn on_feedback(storage: &dyn Storage, settings: &TrainingSettings, family_id: Uuid, now_ms: i64) -> Result<Option<i64>, TrainingError> {
    // Every feedback may tip the A/B: an adapter worse than the base is rolled back at once.
    super::ab::check_rollback(storage, family_id, now_ms).await?;
    let count = storage.feedback_examples(family_id).await?.len() as i64;
    let trained = storage.adapters(family_id).await?.first().map_or(0, |a| a.feedback_count);
    if count - trained < settings.every_n as i64 || storage.open_job(JOB_KIND, family_id).await?.is_some() {
        return Ok(None);
    }
    let payload = serde_json::json!({ "feedbacks": count }).to_string();
    Ok(Some(storage.enqueue_job(JOB_KIND, Some(family_id), &payload, now_ms).await?))
}

/// Runs a job claimed by `worker` and marks it done or failed (the `retrain` command's path; the
/// serve worker calls `run_retrain_job` and records the outcome itself).
pub async fn run_job(
    storage: &dyn Storage,
    settings: &TrainingSettings,
    job: &Job,
    worker: &str,
    progress: Box<dyn FnMut(RetrainProgress) + Send>,
) -> Result<RetrainOutcome, TrainingError> {
    let result = match job.family_id {
        Some(family_id) if job.kind == JOB_KIND => {
            let work = run_retrain_job(storage, settings, family_id, progress);
            let clock = crate::state::Clock::default();
            crate::jobs::hold_lease(storage, &clock, job.id, worker, CLAIM_LEASE_MS, work)
                .await
                .unwrap_or(Err(TrainingError::LeaseLost(crate::jobs::LeaseLost)))
        }
        _ => Err(TrainingError::Data(format!("job {} is not a family retrain job", job.id))),
    };
    if let Err(TrainingError::LeaseLost(_)) = result {
        // Another worker holds the job now and reports its own outcome.
        return result;
    }
    let outcome = result.as_ref().map(|_| ()).map_err(|e| e.to_string());
    storage.finish_job(job.id, worker, outcome, now_ms()).await?;
    result
}

/// The lease `migru-server retrain` takes on the job it runs (renewed while it trains).
const CLAIM_LEASE_MS: i64 = 10 * 60 * 1000;

/// Enqueues (or finds) the family's retrain job, claims it and runs it: `migru-server retrain`.
pub async fn retrain_now(
    storage: &dyn Storage,
    settings: &TrainingSettings,
    family_id: Uuid,
    worker: &str,
    progress: Box<dyn FnMut(RetrainProgress) + Send>,
) -> Result<RetrainOutcome, TrainingError> {
    let now = now_ms();
    let job_id = match storage.open_job(JOB_KIND, family_id).await? {
        Some(id) => id,
        None => storage.enqueue_job(JOB_KIND, Some(family_id), "{}", now).await?,
    };
    let job = storage
        .claim_job_by_id(job_id, worker, now, CLAIM_LEASE_MS)
        .await?
        .ok_or_else(|| TrainingError::Busy(format!("retrain job {job_id} of family {family_id} is running elsewhere")))?;
    run_job(storage, settings, &job, worker, progress).await
}

/// Trains and publishes the family's next adapter (the job body, without the jobs table).
pub async fn run_retrain_job(
    storage: &dyn Storage,
    settings: &TrainingSettings,
    family_id: Uuid,
    mut progress: Box<dyn FnMut(RetrainProgress) + Send>,
) -> Result<RetrainOutcome, TrainingError> {
    let started = Instant::now();
    let feedback = storage.feedback_examples(family_id).await?;
    let count = feedback.len() as i64;
    progress(RetrainProgress::Loaded { feedbacks: feedback.len() });
    if let Some(existing) = storage.adapters(family_id).await?.into_iter().find(|a| a.feedback_count == count) {
        publish(storage, family_id, &existing).await?;
        return Ok(outcome(family_id, &existing, false, None, started));
    }
    let dir = settings.model_dir.clone();
    let config = settings.kto.clone();
    let pairs: Vec<(String, String, bool)> = feedback.iter().map(|f| (f.prompt.clone(), f.text.clone(), f.value > 0)).collect();
    let (bytes, info, report, progress_back) = tokio::task::spawn_blocking(move || {
        let (base, tokenizer, info) = export::read_model_folder(&dir)?;
        let examples = pairs
            .iter()
            .map(|(prompt, text, desirable)| Ok(KtoExample { seq: Sequence::encode(&tokenizer, prompt, text)?, desirable: *desirable }))
            .collect::<Result<Vec<_>, TrainingError>>()?;
        let (bytes, report) = train_adapter(&base, &info, &examples, &config, count, &mut *progress)?;
        Ok::<_, TrainingError>((bytes, info, report, progress))
    })
    .await
    .map_err(|e| TrainingError::Data(format!("training task failed: {e}")))??;
    progress = progress_back;
    // Training may have outlived the lease; a worker that lost it stores and publishes nothing.
    crate::jobs::ensure_lease()?;
    let sha256 = hex(&Sha256::digest(&bytes));
    let adapter = NewAdapter { model_version: info.model_version, sha256, bytes, feedback_count: count };
    let meta = storage.insert_adapter(family_id, &adapter, now_ms()).await?;
    publish(storage, family_id, &meta).await?;
    progress(RetrainProgress::Published { version: meta.version });
    tracing::info!(%family_id, version = meta.version, bytes = meta.size_bytes, feedbacks = count, "adapter trained and published");
    Ok(outcome(family_id, &meta, true, Some(report), started))
}

/// KTO on `examples`, written as a `TORT` adapter file (version = feedback count).
pub fn train_adapter(
    base: &Model,
    info: &ModelInfo,
    examples: &[KtoExample],
    config: &KtoConfig,
    feedback_count: i64,
    progress: &mut dyn FnMut(RetrainProgress),
) -> Result<(Vec<u8>, KtoReport), TrainingError> {
    let (lora, report) = kto::train(base, examples, config, |step, steps, loss| progress(RetrainProgress::Step { step, steps, loss }))?;
    let file = export::adapter_file(&lora, i32::try_from(feedback_count).unwrap_or(i32::MAX), info.model_version)?;
    let bytes = file.to_bytes();
    if bytes.len() > MAX_ADAPTER_BYTES {
        return Err(TrainingError::Adapter(format!("adapter of {} bytes exceeds {MAX_ADAPTER_BYTES}", bytes.len())));
    }
    Ok((bytes, report))
}

fn outcome(family_id: Uuid, meta: &AdapterMeta, trained: bool, report: Option<KtoReport>, started: Instant) -> RetrainOutcome {
    RetrainOutcome {
        family_id,
        version: meta.version,
        sha256: meta.sha256.clone(),
        size_bytes: meta.size_bytes,
        feedback_count: meta.feedback_count,
        trained,
        report,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// The `adapter_version` change a phone pulls: what to verify (size, hash, model version,
/// parameter names and shapes) and the file itself (base64; adapters stay under 1 MB).
pub fn change_body(meta: &AdapterMeta, bytes: &[u8]) -> Result<serde_json::Value, TrainingError> {
    let file = migru_core::llm::adapter::AdapterFile::from_bytes(bytes)?;
    let params: Vec<_> = file.params.iter().map(|p| serde_json::json!({ "name": p.name, "dims": p.dims })).collect();
    Ok(serde_json::json!({
        "version": meta.version,
        "state": "active",
        "model_version": meta.model_version,
        "sha256": meta.sha256,
        "size_bytes": meta.size_bytes,
        "feedback_count": meta.feedback_count,
        "parameters": params,
        "data_base64": base64(bytes),
    }))
}

async fn publish(storage: &dyn Storage, family_id: Uuid, meta: &AdapterMeta) -> Result<(), TrainingError> {
    if meta.change_seq.is_some() {
        return Ok(());
    }
    let bytes = storage
        .adapter_bytes(family_id, meta.version)
        .await?
        .ok_or_else(|| TrainingError::Adapter(format!("adapter {} of family {family_id} has no bytes", meta.version)))?;
    let body = change_body(meta, &bytes)?;
    let change = storage.append_change(family_id, ChangeKind::AdapterVersion, &format!("adapter-{}", meta.version), &body, now_ms()).await?;
    storage.set_adapter_published(family_id, meta.version, change.seq).await?;
    Ok(())
}

/// The wall clock in Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        for (plain, encoded) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("foobar", "Zm9vYmFy")] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }
}
