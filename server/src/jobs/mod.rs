//! Background jobs: a worker loop in every `serve` process claims jobs from the database's `jobs`
//! table, runs them and records the outcome, so any number of server processes can share one
//! database and each job runs once.
//!
//! - Claiming is atomic in the storage (`FOR UPDATE SKIP LOCKED` on PostgreSQL, an `IMMEDIATE`
//!   transaction on SQLite) and leases the job for [`WorkerConfig::lease`]. A worker that dies
//!   mid-job (crash, SIGKILL, deploy) simply stops; when its lease runs out another worker claims
//!   the job again, so work survives restarts. A worker reports an outcome only while it still
//!   holds the lease.
//! - While a job runs, its worker renews the lease every third of its length ([`hold_lease`]),
//!   so a long job (a retrain, a big family's analysis) is never claimed twice; the renewals stop
//!   when the job ends. A worker whose renewal finds the job taken over (or that could not renew
//!   before the lease ran out) drops the job at its next `await` and reports nothing; jobs also
//!   call [`ensure_lease`] right before they write results.
//! - A failing (or panicking) job is retried with exponential backoff (2, 4, 8 … s) up to
//!   [`MAX_JOB_ATTEMPTS`](crate::storage::MAX_JOB_ATTEMPTS) attempts, then stays `failed` with its
//!   last error.
//! - Kinds are the [`JobKind`] enum; [`run_job`] is the one `match` that dispatches them. A worker
//!   claims only kinds it knows, so a newer kind waits for a server that understands it.
//!
//! To add a kind: a variant in [`JobKind`] (with its name in `as_str` and `ALL`), an arm in
//! [`run_job`], and a module with its `run`.

pub mod causal_analysis;
pub mod retrain;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use tracing::Instrument;
use uuid::Uuid;

use crate::state::{AppState, Clock};
use crate::storage::{Job, Storage, StorageError};

/// What went wrong in a job (stored as its `last_error`; no personal data).
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("job {id} of kind {kind:?} is malformed: {reason}")]
    BadJob { id: i64, kind: String, reason: String },
    #[error("causal analysis: {0}")]
    Causal(#[from] crate::causal::CausalError),
    #[error("job task failed: {0}")]
    Task(String),
    #[error("retraining: {0}")]
    Training(#[from] crate::training::TrainingError),
    #[error(transparent)]
    LeaseLost(#[from] LeaseLost),
}

/// The worker no longer holds the job's lease: its results must not be written.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the job's lease ran out or another worker took the job over; its results are not written")]
pub struct LeaseLost;

/// The lease on the job the current task runs: held until `until_ms` as of its last renewal,
/// unless a renewal found it taken over.
#[derive(Debug)]
struct Lease {
    clock: Clock,
    until_ms: AtomicI64,
    lost: AtomicBool,
}

impl Lease {
    fn held(&self) -> bool {
        !self.lost.load(Ordering::Acquire) && self.clock.now_ms() < self.until_ms.load(Ordering::Acquire)
    }
}

tokio::task_local! {
    static LEASE: Arc<Lease>;
}

/// Jobs call this right before they write results. Inside [`hold_lease`] it fails once the lease
/// is lost or has run out without a renewal; outside (a job run directly by a test) it passes.
pub fn ensure_lease() -> Result<(), LeaseLost> {
    match LEASE.try_with(|lease| lease.held()) {
        Ok(false) => Err(LeaseLost),
        _ => Ok(()),
    }
}

/// Runs `work` while holding job `job_id`'s lease for `worker`: renews it to `now + lease_ms`
/// every third of `lease_ms` until `work` ends. When a renewal finds the job taken over, or no
/// renewal succeeded before the lease ran out (database unreachable), `work` is dropped — it
/// stops at its next `await` — and `None` is returned: the caller must not report an outcome.
pub async fn hold_lease<F: Future>(
    store: &dyn Storage,
    clock: &Clock,
    job_id: i64,
    worker: &str,
    lease_ms: i64,
    work: F,
) -> Option<F::Output> {
    let lease = Arc::new(Lease {
        clock: clock.clone(),
        until_ms: AtomicI64::new(clock.now_ms() + lease_ms),
        lost: AtomicBool::new(false),
    });
    let every = Duration::from_millis(u64::try_from(lease_ms / 3).unwrap_or(0).max(1));
    let heartbeat = async {
        loop {
            tokio::time::sleep(every).await;
            let now = clock.now_ms();
            match store.renew_job(job_id, worker, now, lease_ms).await {
                Ok(true) => lease.until_ms.store(now + lease_ms, Ordering::Release),
                Ok(false) => {
                    tracing::warn!("another worker took the job over; stopping it without reporting");
                    break;
                }
                Err(error) if clock.now_ms() >= lease.until_ms.load(Ordering::Acquire) => {
                    tracing::warn!(%error, "the lease ran out without a renewal; stopping the job without reporting");
                    break;
                }
                Err(error) => tracing::warn!(%error, "renewing the job's lease failed; trying again"),
            }
        }
        lease.lost.store(true, Ordering::Release);
    };
    tokio::select! {
        biased;
        output = LEASE.scope(Arc::clone(&lease), work) => Some(output),
        () = heartbeat => None,
    }
}

/// Every kind of background job this server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// A family's causal analyses after new data (issue 7): [`causal_analysis`].
    CausalAnalysis,
    /// A family's LoRA adapter after N new parent feedbacks (issue 8): [`retrain`].
    Retrain,
}

impl JobKind {
    pub const ALL: &'static [JobKind] = &[JobKind::CausalAnalysis, JobKind::Retrain];

    /// The name stored in the `jobs.kind` column (a contract between server versions).
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::CausalAnalysis => "causal_analysis",
            JobKind::Retrain => crate::training::job::JOB_KIND,
        }
    }

    pub fn parse(name: &str) -> Option<JobKind> {
        JobKind::ALL.iter().copied().find(|k| k.as_str() == name)
    }
}

/// Runs one claimed job: the single dispatch point over [`JobKind`].
pub async fn run_job(state: &AppState, kind: JobKind, job: &Job) -> Result<(), JobError> {
    match kind {
        JobKind::CausalAnalysis => causal_analysis::run(state, job).await,
        JobKind::Retrain => retrain::run(state, job).await,
    }
}

/// What a worker runs. [`Dispatcher`] is the real one; tests substitute their own to observe the
/// queue's guarantees.
#[async_trait::async_trait]
pub trait Runner: Send + Sync {
    /// The job kinds this runner claims.
    fn kinds(&self) -> Vec<&'static str>;
    async fn run(&self, job: &Job) -> Result<(), JobError>;
}

/// Runs every [`JobKind`] through [`run_job`].
#[derive(Debug, Clone)]
pub struct Dispatcher {
    pub state: AppState,
}

#[async_trait::async_trait]
impl Runner for Dispatcher {
    fn kinds(&self) -> Vec<&'static str> {
        // Without a base model this server cannot retrain; the job waits for one that can.
        let can_retrain = self.state.training.is_some();
        JobKind::ALL.iter().filter(|k| **k != JobKind::Retrain || can_retrain).map(|k| k.as_str()).collect()
    }

    async fn run(&self, job: &Job) -> Result<(), JobError> {
        let kind = JobKind::parse(&job.kind).ok_or_else(|| JobError::BadJob {
            id: job.id,
            kind: job.kind.clone(),
            reason: "unknown kind".into(),
        })?;
        run_job(&self.state, kind, job).await
    }
}

/// How a worker polls and leases.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Names the worker in `jobs.locked_by` (process and a random suffix by default).
    pub name: String,
    /// How long to wait before looking again when the queue is empty.
    pub poll: Duration,
    /// How long a claimed job is reserved; a worker that dies is replaced after this.
    pub lease: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            name: format!("pid{}-{}", std::process::id(), &Uuid::now_v7().simple().to_string()[20..]),
            poll: Duration::from_secs(1),
            lease: Duration::from_secs(600),
        }
    }
}

/// Claims and runs jobs until `shutdown` resolves; a job in progress is finished first.
pub async fn run_worker(
    store: Arc<dyn Storage>,
    clock: crate::state::Clock,
    runner: Arc<dyn Runner>,
    config: WorkerConfig,
    shutdown: impl Future<Output = ()> + Send,
) {
    let kinds = runner.kinds();
    let lease_ms = i64::try_from(config.lease.as_millis()).unwrap_or(i64::MAX / 4);
    tracing::info!(worker = %config.name, ?kinds, "job worker started");
    tokio::pin!(shutdown);
    loop {
        let claimed = tokio::select! {
            () = &mut shutdown => break,
            claimed = store.claim_job(&config.name, &kinds, clock.now_ms(), lease_ms) => claimed,
        };
        match claimed {
            Ok(Some(job)) => run_claimed(&*store, &clock, &*runner, &config.name, lease_ms, job).await,
            Ok(None) => {
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(config.poll) => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "claiming a job failed; retrying after the poll interval");
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(config.poll) => {}
                }
            }
        }
    }
    tracing::info!(worker = %config.name, "job worker stopped");
}

async fn run_claimed(store: &dyn Storage, clock: &Clock, runner: &dyn Runner, worker: &str, lease_ms: i64, job: Job) {
    let span = tracing::info_span!("job", id = job.id, kind = %job.kind, attempt = job.attempts);
    run_claimed_in_span(store, clock, runner, worker, lease_ms, job).instrument(span).await;
}

async fn run_claimed_in_span(
    store: &dyn Storage,
    clock: &Clock,
    runner: &dyn Runner,
    worker: &str,
    lease_ms: i64,
    job: Job,
) {
    let started = std::time::Instant::now();
    let run = std::panic::AssertUnwindSafe(runner.run(&job)).catch_unwind();
    let Some(result) = hold_lease(store, clock, job.id, worker, lease_ms, run).await else {
        tracing::warn!(elapsed_ms = started.elapsed().as_millis() as u64, "job stopped: its lease was lost");
        return;
    };
    let outcome = match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(JobError::LeaseLost(_) | JobError::Training(crate::training::TrainingError::LeaseLost(_)))) => {
            tracing::warn!("job stopped before writing its results: its lease was lost");
            return;
        }
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err("the job panicked".to_owned()),
    };
    let elapsed_ms = started.elapsed().as_millis() as u64;
    match &outcome {
        Ok(()) => tracing::info!(elapsed_ms, "job done"),
        Err(error) => tracing::warn!(elapsed_ms, %error, "job failed; it will be retried unless out of attempts"),
    }
    match store.finish_job(job.id, worker, outcome, clock.now_ms()).await {
        Ok(true) => {}
        Ok(false) => tracing::warn!("lease expired before the job finished; another worker owns it now"),
        Err(error) => tracing::warn!(%error, "recording the job's outcome failed; its lease will expire and it will run again"),
    }
}

/// Schedules a family's analysis after new data: one waiting job per family (deduplicated in the
/// database), run `delay` after the first push of a burst so one analysis covers the burst.
/// Remembers its own recent enqueues so a burst of pushes costs one database write, not one each.
#[derive(Debug)]
pub struct AnalysisScheduler {
    delay_ms: i64,
    recent: Mutex<HashMap<Uuid, i64>>,
}

impl AnalysisScheduler {
    /// Slack for clock differences between server processes.
    const MARGIN_MS: i64 = 1_000;

    pub fn new(delay: Duration) -> Self {
        AnalysisScheduler { delay_ms: i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 4), recent: Mutex::default() }
    }

    /// Call after a push committed new records of a kind the analysis reads.
    pub async fn after_push(&self, store: &dyn Storage, family_id: Uuid, now_ms: i64) {
        {
            let recent = self.recent.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            // A job this process queued still waits to run and will read these records.
            if recent.get(&family_id).is_some_and(|&at| now_ms + Self::MARGIN_MS < at + self.delay_ms) {
                return;
            }
        }
        let kind = JobKind::CausalAnalysis.as_str();
        let key = format!("{kind}:{family_id}");
        match store.enqueue_job_once(kind, Some(family_id), &key, "{}", now_ms + self.delay_ms).await {
            // Someone else's waiting job may run sooner than ours would: remember only our own.
            Ok(None) => tracing::debug!("an analysis is already waiting"),
            Ok(Some(id)) => {
                tracing::debug!(job = id, "analysis scheduled");
                let mut recent = self.recent.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                if recent.len() > 100_000 {
                    let horizon = now_ms - self.delay_ms;
                    recent.retain(|_, at| *at > horizon);
                }
                recent.insert(family_id, now_ms);
            }
            Err(error) => tracing::warn!(%error, "scheduling the family's analysis failed; the next push retries"),
        }
    }
}

impl Default for AnalysisScheduler {
    fn default() -> Self {
        AnalysisScheduler::new(Duration::from_secs(60))
    }
}
