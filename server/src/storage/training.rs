//! Storage for retraining (issue 8): what each recommendation showed (prompt context, exact text,
//! A/B arm), the family's adapters (versioned, hashed, with their bytes), and job helpers.
//!
//! A supertrait of `Storage`, implemented beside each backend (`sqlite/training.rs`,
//! `postgres/training.rs`), so every `dyn Storage` offers it. Every method is scoped to one family.

use uuid::Uuid;

use super::{Job, Result};

/// Which model wrote a recommendation: the core's type, shared with the phone's A/B choice.
pub use migru_core::llm::ab::Arm;

/// An arm as stored in the database; anything else means the row is damaged.
pub fn parse_arm(text: &str) -> Result<Arm> {
    Arm::parse(text).ok_or_else(|| super::StorageError::Corrupt(format!("unknown arm {text:?}")))
}

/// A recommendation as it was shown: the prompt context, the exact text, the arm and adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedRecommendation {
    pub recommendation_id: Uuid,
    pub prompt: String,
    pub text: String,
    pub arm: Arm,
    /// The adapter version for `Arm::Adapter`.
    pub adapter_version: Option<i64>,
    pub served_at_ms: i64,
}

/// A served recommendation with the thumbs now in force (last writer wins).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedbackExample {
    pub recommendation_id: Uuid,
    pub prompt: String,
    pub text: String,
    pub arm: Arm,
    pub adapter_version: Option<i64>,
    /// +1 or -1.
    pub value: i8,
    pub device_ts_ms: i64,
}

/// The arm and thumbs of one feedback, for the A/B report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArmFeedback {
    pub family_id: Uuid,
    pub arm: Arm,
    pub adapter_version: Option<i64>,
    pub value: i8,
}

/// The lifecycle of an adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdapterState {
    /// The family's current adapter (at most one).
    Active,
    /// Replaced by a newer one.
    Superseded,
    /// Worse than the base model with 95 % confidence: no longer served.
    RolledBack,
}

impl AdapterState {
    pub fn as_str(self) -> &'static str {
        match self {
            AdapterState::Active => "active",
            AdapterState::Superseded => "superseded",
            AdapterState::RolledBack => "rolled_back",
        }
    }

    pub fn parse(text: &str) -> Result<AdapterState> {
        match text {
            "active" => Ok(AdapterState::Active),
            "superseded" => Ok(AdapterState::Superseded),
            "rolled_back" => Ok(AdapterState::RolledBack),
            other => Err(super::StorageError::Corrupt(format!("unknown adapter state {other:?}"))),
        }
    }
}

/// A trained adapter to store; the version is assigned by the store.
#[derive(Debug, Clone)]
pub struct NewAdapter {
    pub model_version: i32,
    pub sha256: String,
    pub bytes: Vec<u8>,
    /// How many feedbacks it was trained on (the retrain job's idempotency key).
    pub feedback_count: i64,
}

/// A stored adapter, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterMeta {
    pub version: i64,
    pub model_version: i32,
    pub sha256: String,
    pub size_bytes: i64,
    pub feedback_count: i64,
    pub state: AdapterState,
    pub reason: Option<String>,
    /// The change-feed sequence number of its `adapter_version` change, once published.
    pub change_seq: Option<i64>,
    pub created_at_ms: i64,
}

#[async_trait::async_trait]
pub trait TrainingStore: Send + Sync {
    /// Records what a recommendation showed; false if that id was already recorded (kept as is).
    async fn record_served(&self, family_id: Uuid, served: &ServedRecommendation) -> Result<bool>;
    /// Served recommendations that have feedback, oldest feedback first.
    async fn feedback_examples(&self, family_id: Uuid) -> Result<Vec<FeedbackExample>>;
    /// Arms and thumbs of one family's feedback, or of every family's (`None`, for the overall report).
    async fn arm_feedback(&self, family_id: Option<Uuid>) -> Result<Vec<ArmFeedback>>;

    /// Stores an adapter as the next version and makes it the only active one (one transaction).
    async fn insert_adapter(&self, family_id: Uuid, adapter: &NewAdapter, now_ms: i64) -> Result<AdapterMeta>;
    /// The family's adapters, newest first.
    async fn adapters(&self, family_id: Uuid) -> Result<Vec<AdapterMeta>>;
    async fn adapter_bytes(&self, family_id: Uuid, version: i64) -> Result<Option<Vec<u8>>>;
    async fn set_adapter_published(&self, family_id: Uuid, version: i64, change_seq: i64) -> Result<()>;
    async fn set_adapter_state(&self, family_id: Uuid, version: i64, state: AdapterState, reason: Option<&str>) -> Result<()>;

    /// A queued or running job of this kind for this family, if any.
    async fn open_job(&self, kind: &str, family_id: Uuid) -> Result<Option<i64>>;
    /// Claims one job by id if it is queued, or running with an expired lease.
    async fn claim_job_by_id(&self, job_id: i64, worker: &str, now_ms: i64, lease_ms: i64) -> Result<Option<Job>>;
}
