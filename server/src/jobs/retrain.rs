//! The `retrain` job in the serve worker: one family's KTO + LoRA retraining (issue 8), the same
//! work `migru-server retrain --family ID` runs by hand.

use crate::jobs::JobError;
use crate::state::AppState;
use crate::storage::Job;
use crate::training::job::{RetrainProgress, run_retrain_job};

pub async fn run(state: &AppState, job: &Job) -> Result<(), JobError> {
    let bad = |reason: &str| JobError::BadJob { id: job.id, kind: job.kind.clone(), reason: reason.into() };
    let family_id = job.family_id.ok_or_else(|| bad("no family"))?;
    // The worker only claims retrain jobs when a model is configured (`Dispatcher::kinds`).
    let settings = state.training.as_ref().ok_or_else(|| bad("this server has no base model (--model-dir)"))?;
    let job_id = job.id;
    let progress = Box::new(move |step: RetrainProgress| tracing::debug!(job_id, ?step, "retraining"));
    let outcome = run_retrain_job(state.store.as_ref(), settings, family_id, progress).await?;
    tracing::info!(job_id, %family_id, ?outcome, "retrain job finished");
    Ok(())
}
