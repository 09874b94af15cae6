//! Retraining the recommendation model from parents' thumbs up/down (issue 8).
//!
//! - `corpus`: the seeded, generated corpus of short, kind, concrete recommendations.
//! - `tokenize`: the byte-level BPE and right-padded batches.
//! - `model`: the decoder-only model in candle (the on-device graph) with LoRA on attention.
//! - `pretrain`: reproducible pretraining and batched sampling.
//! - `export`: the on-device model folder (genai layout) and `TORT` adapter files.
//! - `kto`: the KTO loss on LoRA weights; `job`: the retrain job; `ab`: A/B with rollback.

pub mod ab;
pub mod corpus;
pub mod export;
pub mod job;
pub mod kto;
pub mod model;
pub mod pretrain;
pub mod simulate;
pub mod tokenize;

pub use job::{JOB_KIND, RetrainOutcome, RetrainProgress, TrainingSettings, on_feedback, retrain_now, run_job, run_retrain_job};

/// Everything that can go wrong while training, exporting or publishing, naming what was wrong.
#[derive(Debug, thiserror::Error)]
pub enum TrainingError {
    #[error("tensor computation: {0}")]
    Candle(#[from] candle_core::Error),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("model specification: {0}")]
    Spec(String),
    #[error("model files: {0}")]
    Model(String),
    #[error("training data: {0}")]
    Data(String),
    #[error("job: {0}")]
    Busy(String),
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    #[error("adapter: {0}")]
    Adapter(String),
    #[error(transparent)]
    LeaseLost(#[from] crate::jobs::LeaseLost),
    #[error(transparent)]
    Llm(#[from] migru_core::llm::LlmError),
}
