//! Server storage: one trait, two real implementations (SQLite for one machine, PostgreSQL for
//! several stateless servers sharing one database), one shared test suite (`tests/storage.rs`).
//!
//! Every method takes the family it acts for, so isolation is a property of the queries, not of
//! the callers' care. Times are Unix milliseconds passed in by the caller, so tests control the clock.

pub mod migrations;
mod postgres;
mod sqlite;
pub mod training;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
pub use training::TrainingStore;

/// Why the database could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("unsupported database URL (expected sqlite:PATH or postgres://…): {0}")]
    BadUrl(String),
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("postgres pool: {0}")]
    Pool(String),
    #[error("database schema version {found} is newer than this server knows ({known})")]
    SchemaTooNew { found: i64, known: i64 },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database task failed: {0}")]
    Task(String),
}

pub type Result<T> = std::result::Result<T, StorageError>;

/// What a device may do in its family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Parent,
    Child,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Parent => "parent",
            Role::Child => "child",
        }
    }

    pub fn parse(text: &str) -> Result<Role> {
        match text {
            "parent" => Ok(Role::Parent),
            "child" => Ok(Role::Child),
            other => Err(StorageError::Corrupt(format!("unknown role {other:?}"))),
        }
    }
}

/// A device about to be registered; only the hash of its token is ever stored.
#[derive(Debug, Clone)]
pub struct NewDevice {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    pub token_hash: [u8; 32],
}

/// Who a valid (not revoked) token belongs to, with its family's settings read in the same
/// query (a push needs both; one round trip instead of two).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceAuth {
    pub device_id: Uuid,
    pub family_id: Uuid,
    pub role: Role,
    pub settings: FamilySettings,
}

/// A device as its family's parents see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeviceInfo {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

/// Per-family choices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FamilySettings {
    /// Whether the child's own words (`text`) may be uploaded. Off unless a parent opts in.
    pub share_text: bool,
}

/// A validated record ready to store: `line` is its canonical JSONL form, `content_hash` its
/// SHA-256, so "same id, same content" is a byte comparison.
#[derive(Debug, Clone)]
pub struct IncomingRecord {
    pub id: Uuid,
    pub kind: String,
    pub ts_ms: i64,
    pub content_hash: [u8; 32],
    pub line: String,
    /// An alert (JSON body) to publish to the family's parents if this record is new.
    pub alert: Option<String>,
}

/// What became of one pushed record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Stored now.
    Accepted,
    /// Already stored with the same content: nothing to do.
    Duplicate,
    /// Already stored with different content: refused, the original is kept.
    Conflict,
}

/// The outcomes, in request order, and the alert changes the new records produced.
#[derive(Debug, Clone, Default)]
pub struct PushResult {
    pub outcomes: Vec<PushOutcome>,
    pub alerts: Vec<Change>,
}

/// What a device pulls: one entry of its family's change feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Recommendation,
    AnalysisResult,
    AdapterVersion,
    FeedbackAck,
    Alert,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Recommendation => "recommendation",
            ChangeKind::AnalysisResult => "analysis_result",
            ChangeKind::AdapterVersion => "adapter_version",
            ChangeKind::FeedbackAck => "feedback_ack",
            ChangeKind::Alert => "alert",
        }
    }

    pub fn parse(text: &str) -> Result<ChangeKind> {
        Ok(match text {
            "recommendation" => ChangeKind::Recommendation,
            "analysis_result" => ChangeKind::AnalysisResult,
            "adapter_version" => ChangeKind::AdapterVersion,
            "feedback_ack" => ChangeKind::FeedbackAck,
            "alert" => ChangeKind::Alert,
            other => return Err(StorageError::Corrupt(format!("unknown change kind {other:?}"))),
        })
    }
}

/// One entry of a family's change feed; `seq` orders the feed and backs the pull cursor.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub seq: i64,
    pub kind: ChangeKind,
    pub item_id: String,
    pub body: serde_json::Value,
    pub created_at_ms: i64,
}

/// A parent's thumbs up (+1) or down (-1) on a recommendation, stamped by the device's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feedback {
    pub recommendation_id: Uuid,
    pub device_id: Uuid,
    pub value: i8,
    pub device_ts_ms: i64,
}

impl Feedback {
    /// Last writer wins: the later device timestamp, ties broken by the larger device id, so every
    /// replica picks the same winner whatever the arrival order.
    pub fn wins_over(&self, other: &Feedback) -> bool {
        (self.device_ts_ms, self.device_id) > (other.device_ts_ms, other.device_id)
    }
}

/// The feedback now in force, whether the pushed one won, and the acknowledgement published.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedbackResult {
    /// No such recommendation in this family.
    UnknownRecommendation,
    Recorded { applied: bool, current: Feedback, ack: Option<Change> },
}

/// A background job (analysis, retraining) claimed by one worker until `locked_until_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub family_id: Option<Uuid>,
    pub payload: String,
    pub attempts: i32,
}

/// A record as stored, for the analyses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub id: Uuid,
    pub device_id: Uuid,
    pub kind: String,
    pub ts_ms: i64,
    pub line: String,
}

/// An alert another server process committed to this database: its family and feed `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertNotice {
    pub family_id: Uuid,
    pub seq: i64,
}

/// The server's storage. Implementations must make `push_records`, `redeem_pairing_code`,
/// `record_feedback` and `claim_job` atomic.
#[async_trait::async_trait]
pub trait Storage: TrainingStore + Send + Sync + std::fmt::Debug {
    /// A cheap round trip, for readiness.
    async fn ping(&self) -> Result<()>;

    async fn create_family(&self, family_id: Uuid, name: &str, first_parent: &NewDevice, now_ms: i64) -> Result<()>;
    async fn family_settings(&self, family_id: Uuid) -> Result<FamilySettings>;
    async fn set_family_settings(&self, family_id: Uuid, settings: FamilySettings) -> Result<()>;

    async fn create_pairing_code(
        &self,
        family_id: Uuid,
        code_hash: [u8; 32],
        role: Role,
        created_by: Uuid,
        expires_at_ms: i64,
    ) -> Result<()>;
    /// Uses the code (once, before it expires) and registers the device in its family.
    async fn redeem_pairing_code(&self, code_hash: [u8; 32], device: &NewDevice, now_ms: i64) -> Result<Option<Uuid>>;

    /// The device holding this token, unless revoked, and its family's settings. Asked on every
    /// request (never cached), so a revocation holds at once in every server sharing the database.
    async fn authenticate(&self, token_hash: [u8; 32]) -> Result<Option<DeviceAuth>>;
    async fn list_devices(&self, family_id: Uuid) -> Result<Vec<DeviceInfo>>;
    /// Revokes a device of this family; false when the family has no such device.
    async fn revoke_device(&self, family_id: Uuid, device_id: Uuid, now_ms: i64) -> Result<bool>;

    /// Stores each record once per family, in one transaction.
    async fn push_records(
        &self,
        family_id: Uuid,
        device_id: Uuid,
        records: &[IncomingRecord],
        now_ms: i64,
    ) -> Result<PushResult>;
    async fn records(&self, family_id: Uuid, after_ts_ms: i64, limit: u32) -> Result<Vec<StoredRecord>>;
    /// Alerts that *other* server processes sharing this database commit, as they commit, so
    /// this process can pass them to its own parents' streams (the pushing process already
    /// did). `None` where the backend has no such channel: a SQLite file is served by one
    /// process. The stream ends when the backend gives up; dropping it stops listening.
    async fn alerts_from_other_processes(&self) -> Result<Option<futures_util::stream::BoxStream<'static, AlertNotice>>> {
        Ok(None)
    }
    async fn count_records(&self, family_id: Uuid) -> Result<u64>;

    /// Appends to the family's change feed (recommendations, analysis results, adapters).
    async fn append_change(
        &self,
        family_id: Uuid,
        kind: ChangeKind,
        item_id: &str,
        body: &serde_json::Value,
        now_ms: i64,
    ) -> Result<Change>;
    /// Changes with `seq > after_seq`, oldest first.
    async fn pull_changes(&self, family_id: Uuid, after_seq: i64, limit: u32) -> Result<Vec<Change>>;

    async fn record_feedback(&self, family_id: Uuid, feedback: Feedback, now_ms: i64) -> Result<FeedbackResult>;

    async fn enqueue_job(&self, kind: &str, family_id: Option<Uuid>, payload: &str, run_after_ms: i64) -> Result<i64>;
    /// Enqueues unless a job with the same `dedup_key` is already waiting and has never run
    /// (`None` then): a burst of pushes from one family schedules one analysis, while new data
    /// arriving during a run schedules the next.
    async fn enqueue_job_once(
        &self,
        kind: &str,
        family_id: Option<Uuid>,
        dedup_key: &str,
        payload: &str,
        run_after_ms: i64,
    ) -> Result<Option<i64>>;
    /// Claims the oldest ready job of one of `kinds` (or one whose lease expired) for `lease_ms`.
    /// Kinds this worker does not know stay queued for a server that does.
    async fn claim_job(&self, worker: &str, kinds: &[&str], now_ms: i64, lease_ms: i64) -> Result<Option<Job>>;
    /// Extends the lease of a job this worker holds to `now_ms + lease_ms` (the running worker's
    /// heartbeat). False when the job is no longer running under this worker (another worker took
    /// it over after the lease ran out, or it was finished): the caller must stop the job.
    async fn renew_job(&self, job_id: i64, worker: &str, now_ms: i64, lease_ms: i64) -> Result<bool>;
    /// Marks a job this worker holds done, or failed with a reason (retried with exponential
    /// backoff up to [`MAX_JOB_ATTEMPTS`]). False when the lease had expired and another worker
    /// took the job over: the outcome is then dropped, the new holder reports its own.
    async fn finish_job(
        &self,
        job_id: i64,
        worker: &str,
        outcome: std::result::Result<(), String>,
        now_ms: i64,
    ) -> Result<bool>;
    /// How many jobs are in each state (operations and tests).
    async fn job_counts(&self) -> Result<JobCounts>;

    /// The family's records of the given kinds after the keyset cursor `(ts_ms, id)`, ordered by
    /// `(ts_ms, id)`, so paging never skips records that share a timestamp.
    async fn records_by_kind(
        &self,
        family_id: Uuid,
        kinds: &[&str],
        after: Option<(i64, Uuid)>,
        limit: u32,
    ) -> Result<Vec<StoredRecord>>;
}

/// Jobs per state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobCounts {
    pub queued: u64,
    pub running: u64,
    pub done: u64,
    pub failed: u64,
}

impl JobCounts {
    fn add(&mut self, state: &str, n: i64) -> Result<()> {
        let slot = match state {
            "queued" => &mut self.queued,
            "running" => &mut self.running,
            "done" => &mut self.done,
            "failed" => &mut self.failed,
            other => return Err(StorageError::Corrupt(format!("unknown job state {other:?}"))),
        };
        *slot += n.max(0) as u64;
        Ok(())
    }
}

/// Jobs that failed this many times stay failed.
pub const MAX_JOB_ATTEMPTS: i32 = 5;

/// Opens the database named by `url` (`sqlite:PATH`, `sqlite::memory:`, `postgres://…`) and
/// brings its schema up to date.
pub async fn open(url: &str) -> Result<Arc<dyn Storage>> {
    if let Some(path) = url.strip_prefix("sqlite:") {
        let path = path.strip_prefix("//").unwrap_or(path);
        Ok(Arc::new(SqliteStore::open(path).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::connect(url).await?))
    } else {
        Err(StorageError::BadUrl(redact_url(url)))
    }
}

/// A URL fit for logs: the password replaced.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..scheme_end], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

pub(crate) fn parse_uuid(text: &str) -> Result<Uuid> {
    Uuid::parse_str(text).map_err(|_| StorageError::Corrupt(format!("bad uuid {text:?}")))
}

pub(crate) fn parse_body(text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| StorageError::Corrupt(format!("change body: {e}")))
}

// Row mapping shared by both backends: each backend reads its columns into plain values (its
// driver's types differ) and these build the domain types, with one set of checks.

pub(crate) fn device_auth(device: &str, family: &str, role: &str, share_text: bool) -> Result<DeviceAuth> {
    Ok(DeviceAuth {
        device_id: parse_uuid(device)?,
        family_id: parse_uuid(family)?,
        role: Role::parse(role)?,
        settings: FamilySettings { share_text },
    })
}

pub(crate) fn device_info(
    id: &str,
    name: String,
    role: &str,
    created_at_ms: i64,
    revoked_at_ms: Option<i64>,
) -> Result<DeviceInfo> {
    Ok(DeviceInfo { id: parse_uuid(id)?, name, role: Role::parse(role)?, created_at_ms, revoked_at_ms })
}

pub(crate) fn change(seq: i64, kind: &str, item_id: String, body: &str, created_at_ms: i64) -> Result<Change> {
    Ok(Change { seq, kind: ChangeKind::parse(kind)?, item_id, body: parse_body(body)?, created_at_ms })
}

pub(crate) fn job(id: i64, kind: String, family: Option<&str>, payload: String, attempts: i32) -> Result<Job> {
    Ok(Job { id, kind, family_id: family.map(parse_uuid).transpose()?, payload, attempts })
}

pub(crate) fn feedback(recommendation_id: Uuid, device: &str, value: i64, device_ts_ms: i64) -> Result<Feedback> {
    let value = i8::try_from(value).map_err(|_| StorageError::Corrupt(format!("feedback value {value}")))?;
    Ok(Feedback { recommendation_id, device_id: parse_uuid(device)?, value, device_ts_ms })
}

/// The body of a feedback acknowledgement in the change feed.
pub(crate) fn feedback_ack_body(feedback: &Feedback) -> String {
    serde_json::json!({
        "recommendation_id": feedback.recommendation_id,
        "value": if feedback.value > 0 { "up" } else { "down" },
        "device_id": feedback.device_id,
        "device_ts_ms": feedback.device_ts_ms,
    })
    .to_string()
}
