//! Retraining on both storage backends: served recommendations with their feedback, the retrain
//! trigger, idempotent jobs that survive a dead worker, adapter versions published through sync,
//! and automatic rollback of an adapter that is worse than the base model.

mod common;
mod training_support;

use std::sync::Arc;

use migru_core::llm::adapter::AdapterFile;
use migru_server::storage::training::{AdapterState, Arm, ServedRecommendation};
use migru_server::storage::*;
use migru_server::training::ab;
use migru_server::training::export;
use migru_server::training::job::{self, JOB_KIND, TrainingSettings};
use migru_server::training::simulate::serve;
use training_support::tiny_model_dir;
use migru_server::training::corpus;
use sha2::{Digest, Sha256};
use uuid::Uuid;

const NOW: i64 = 1_790_000_000_000;

fn settings() -> TrainingSettings {
    let mut s = TrainingSettings::new(tiny_model_dir().to_path_buf());
    s.kto.steps = 3;
    s
}

async fn family(store: &dyn Storage) -> (Uuid, Uuid) {
    let family_id = Uuid::now_v7();
    let parent = Uuid::now_v7();
    let device = NewDevice { id: parent, name: "parent".into(), role: Role::Parent, token_hash: *Uuid::now_v7().as_bytes().repeat(2).first_chunk::<32>().unwrap() };
    store.create_family(family_id, "Family", &device, NOW).await.unwrap();
    (family_id, parent)
}

/// Serves `n` recommendations on `arm` and records a thumbs for each (`up` of them positive).
#[allow(clippy::too_many_arguments)]
async fn serve_and_rate(store: &dyn Storage, family_id: Uuid, device: Uuid, n: usize, up: usize, arm: Arm, version: Option<i64>, t0: i64) {
    let examples = corpus::generate(n, t0 as u64);
    for (i, e) in examples.iter().enumerate() {
        let id = Uuid::now_v7();
        let at = t0 + i as i64 * 1000;
        let served = ServedRecommendation { recommendation_id: id, prompt: e.context.prompt(), text: e.text.clone(), arm, adapter_version: version, served_at_ms: at };
        serve(store, family_id, &served).await.unwrap();
        assert!(!store.record_served(family_id, &served).await.unwrap(), "a served id is recorded once");
        let value = if i < up { 1 } else { -1 };
        let result = store.record_feedback(family_id, Feedback { recommendation_id: id, device_id: device, value, device_ts_ms: at + 10 }, at + 10).await.unwrap();
        assert!(matches!(result, FeedbackResult::Recorded { applied: true, .. }));
    }
}

async fn feedback_joins_the_text_shown_and_last_writer_wins(store: Arc<dyn Storage>) {
    let (family_id, device) = family(&*store).await;
    let (other, other_device) = family(&*store).await;
    serve_and_rate(&*store, family_id, device, 4, 2, Arm::Base, None, NOW).await;
    serve_and_rate(&*store, other, other_device, 3, 3, Arm::Base, None, NOW).await;
    let examples = store.feedback_examples(family_id).await.unwrap();
    assert_eq!(examples.len(), 4, "only this family's feedback");
    assert_eq!(examples.iter().filter(|e| e.value > 0).count(), 2);
    assert!(examples.iter().all(|e| e.prompt.contains("Tip for a parent") && e.text.ends_with('.') && e.arm == Arm::Base));
    // A later thumbs down from the same parent replaces the thumbs up.
    let first = examples[0].clone();
    store.record_feedback(family_id, Feedback { recommendation_id: first.recommendation_id, device_id: device, value: -1, device_ts_ms: first.device_ts_ms + 5 }, NOW).await.unwrap();
    let again = store.feedback_examples(family_id).await.unwrap();
    assert_eq!(again.iter().find(|e| e.recommendation_id == first.recommendation_id).unwrap().value, -1);
    assert_eq!(store.arm_feedback(None).await.unwrap().iter().filter(|f| f.family_id == other).count(), 3);
}

async fn retrain_every_ten_feedbacks_publishes_a_verified_adapter(store: Arc<dyn Storage>) {
    let (family_id, device) = family(&*store).await;
    let s = settings();
    serve_and_rate(&*store, family_id, device, 9, 4, Arm::Base, None, NOW).await;
    assert_eq!(job::on_feedback(&*store, &s, family_id, NOW).await.unwrap(), None, "nine feedbacks do not trigger");
    serve_and_rate(&*store, family_id, device, 1, 1, Arm::Base, None, NOW + 60_000).await;
    let job_id = job::on_feedback(&*store, &s, family_id, NOW).await.unwrap().expect("the tenth feedback triggers a job");
    assert_eq!(job::on_feedback(&*store, &s, family_id, NOW).await.unwrap(), None, "one open job per family");
    assert_eq!(store.open_job(JOB_KIND, family_id).await.unwrap(), Some(job_id));

    let outcome = job::retrain_now(&*store, &s, family_id, "test", Box::new(|_| {})).await.unwrap();
    assert!(outcome.trained && outcome.version == 1 && outcome.feedback_count == 10);
    assert!(outcome.size_bytes > 0 && outcome.size_bytes < 1_000_000);
    assert_eq!(store.open_job(JOB_KIND, family_id).await.unwrap(), None, "the job is done");

    let bytes = store.adapter_bytes(family_id, 1).await.unwrap().unwrap();
    let sha: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(sha, outcome.sha256);
    let file = AdapterFile::from_bytes(&bytes).unwrap();
    assert_eq!(file.params.len(), 2 * 4 * 2);
    let (_, _, info) = export::read_model_folder(tiny_model_dir()).unwrap();
    export::lora_from_file(&info.spec, &file).unwrap();

    let changes = store.pull_changes(family_id, 0, 1000).await.unwrap();
    let published: Vec<_> = changes.iter().filter(|c| c.kind == ChangeKind::AdapterVersion).collect();
    assert_eq!(published.len(), 1);
    let body = &published[0].body;
    assert_eq!(body["version"], 1);
    assert_eq!(body["sha256"], outcome.sha256.as_str());
    assert_eq!(body["size_bytes"], outcome.size_bytes);
    assert_eq!(body["data_base64"].as_str().unwrap(), job::base64(&bytes));
    assert_eq!(body["parameters"].as_array().unwrap().len(), file.params.len());

    // Idempotent: no new feedback, no new adapter, nothing published twice.
    let again = job::retrain_now(&*store, &s, family_id, "test", Box::new(|_| {})).await.unwrap();
    assert!(!again.trained && again.version == 1);
    let changes = store.pull_changes(family_id, 0, 1000).await.unwrap();
    assert_eq!(changes.iter().filter(|c| c.kind == ChangeKind::AdapterVersion).count(), 1);

    // Ten more feedbacks: version 2 becomes the only active adapter.
    serve_and_rate(&*store, family_id, device, 10, 3, Arm::Adapter, Some(1), NOW + 120_000).await;
    assert!(job::on_feedback(&*store, &s, family_id, NOW).await.unwrap().is_some());
    let second = job::retrain_now(&*store, &s, family_id, "test", Box::new(|_| {})).await.unwrap();
    assert_eq!(second.version, 2);
    let states: Vec<_> = store.adapters(family_id).await.unwrap().iter().map(|a| (a.version, a.state)).collect();
    assert_eq!(states, vec![(2, AdapterState::Active), (1, AdapterState::Superseded)]);
}

async fn a_job_left_by_a_dead_worker_is_resumed(store: Arc<dyn Storage>) {
    let (family_id, device) = family(&*store).await;
    serve_and_rate(&*store, family_id, device, 10, 5, Arm::Base, None, NOW).await;
    let job_id = store.enqueue_job(JOB_KIND, Some(family_id), "{}", NOW).await.unwrap();
    // A worker claims it and dies; its lease ran out long ago.
    let now = job::now_ms();
    assert!(store.claim_job_by_id(job_id, "dead", now - 3_600_000, 60_000).await.unwrap().is_some());
    assert!(store.claim_job_by_id(job_id, "other", now - 3_600_000 + 1, 60_000).await.unwrap().is_none(), "leased");
    let outcome = job::retrain_now(&*store, &settings(), family_id, "restarted", Box::new(|_| {})).await.unwrap();
    assert!(outcome.trained && outcome.version == 1);
    assert_eq!(store.open_job(JOB_KIND, family_id).await.unwrap(), None);
    assert!(store.claim_job_by_id(job_id, "late", now + 1, 60_000).await.unwrap().is_none(), "done jobs stay done");
}

async fn a_worse_adapter_is_rolled_back(store: Arc<dyn Storage>) {
    let (family_id, device) = family(&*store).await;
    serve_and_rate(&*store, family_id, device, 10, 5, Arm::Base, None, NOW).await;
    let outcome = job::retrain_now(&*store, &settings(), family_id, "test", Box::new(|_| {})).await.unwrap();
    // Base: 30 of 40 up (with the 5 of 10 above: 35 of 50); adapter: 6 of 30.
    serve_and_rate(&*store, family_id, device, 40, 30, Arm::Base, None, NOW + 100_000).await;
    serve_and_rate(&*store, family_id, device, 12, 5, Arm::Adapter, Some(outcome.version), NOW + 200_000).await;
    assert_eq!(ab::check_rollback(&*store, family_id, NOW).await.unwrap(), None, "not yet clearly worse");
    serve_and_rate(&*store, family_id, device, 18, 1, Arm::Adapter, Some(outcome.version), NOW + 300_000).await;
    let report = ab::ab_report(&*store, Some(family_id)).await.unwrap();
    assert_eq!((report.base.stats.up, report.base.stats.n()), (35, 50));
    assert_eq!((report.adapter.stats.up, report.adapter.stats.n()), (6, 30));
    assert!(report.difference.unwrap().2 < 0.0);
    assert_eq!(ab::check_rollback(&*store, family_id, NOW).await.unwrap(), Some(outcome.version));
    let adapters = store.adapters(family_id).await.unwrap();
    assert_eq!(adapters[0].state, AdapterState::RolledBack);
    assert!(adapters[0].reason.as_deref().unwrap().contains("95 % CI"));
    let rollbacks = store.pull_changes(family_id, 0, 1000).await.unwrap().into_iter().filter(|c| c.kind == ChangeKind::AdapterVersion && c.body["state"] == "rolled_back").count();
    assert_eq!(rollbacks, 1);
    assert_eq!(ab::check_rollback(&*store, family_id, NOW).await.unwrap(), None, "nothing active any more");
}

/// The serve worker's path: a server with a base model claims the retrain job the tenth feedback
/// queued and runs it; a server without one leaves the job alone.
async fn the_serve_worker_runs_queued_retrain_jobs(store: Arc<dyn Storage>) {
    use migru_server::jobs::{Dispatcher, JobKind, Runner, run_job};
    use migru_server::state::{AppState, Limits};

    let (family_id, device) = family(&*store).await;
    serve_and_rate(&*store, family_id, device, 10, 6, Arm::Base, None, NOW).await;
    let without_model = Dispatcher { state: AppState::new(store.clone(), Limits::default()) };
    assert!(!without_model.kinds().contains(&JOB_KIND), "no model, no retrain claims");
    let with_model = AppState::new(store.clone(), Limits::default()).with_training(settings());
    assert!(Dispatcher { state: with_model.clone() }.kinds().contains(&JOB_KIND));

    job::on_feedback(&*store, &settings(), family_id, NOW).await.unwrap().expect("queued");
    let claimed = store.claim_job("worker", &[JOB_KIND], job::now_ms(), 600_000).await.unwrap().expect("claimable");
    assert_eq!(JobKind::parse(&claimed.kind), Some(JobKind::Retrain));
    run_job(&with_model, JobKind::Retrain, &claimed).await.unwrap();
    let adapters = store.adapters(family_id).await.unwrap();
    assert_eq!(adapters.len(), 1);
    assert_eq!(adapters[0].state, AdapterState::Active);
}

macro_rules! both_backends {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let (store, _dir) = crate::common::sqlite().await;
                    super::$check(store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let Some((store, _)) = crate::common::postgres().await else { return };
                    super::$check(store).await;
                }
            )*
        }
    };
}

both_backends!(
    feedback_joins_the_text_shown_and_last_writer_wins,
    retrain_every_ten_feedbacks_publishes_a_verified_adapter,
    a_job_left_by_a_dead_worker_is_resumed,
    a_worse_adapter_is_rolled_back,
    the_serve_worker_runs_queued_retrain_jobs,
);
