//! Issue 8 end to end, phone side: a parent's phone (the core's `Companion` with the model the
//! server exports, run by ONNX Runtime) serves recommendations from an A/B arm, sends 10 thumbs
//! with their arms through sync to the real server on loopback, the retrain job trains an adapter,
//! and the next sync downloads it, verifies it, stores it atomically, activates it and applies it to
//! the loaded model without a reload. Corrupted downloads (a flipped byte, a wrong size, shapes the
//! model does not have) are refused with the previous adapter still active, and the server's
//! rollback switches the phone back to the base model.
//!
//! Needs the runtime library (`ORT_DYLIB_PATH`); without it the test prints why and returns, unless
//! `MIGRU_REQUIRE_ORT=1` (CI).

mod common;
mod training_support;

use std::path::Path;

use migru_core::Companion;
use migru_core::llm::CancelToken;
use migru_core::llm::ab::Arm as PhoneArm;
use migru_core::llm::adapter::{AdapterFile, AdapterParam};
use migru_core::llm::engine::ModelOptions;
use migru_core::llm::prompt::{ChildProfile, ForecastSummary, Level, ParentRecommendationInput};
use migru_core::store::AdapterStatus;
use migru_core::sync::SyncConfig;
use migru_server::AppState;
use migru_server::storage::training::{Arm, ServedRecommendation};
use migru_server::storage::{ChangeKind, Feedback, Storage};
use migru_server::training::job::{self, TrainingSettings};
use migru_server::training::{ab, simulate};
use training_support::{runtime_library, tiny_model_dir};
use sha2::{Digest, Sha256};
use uuid::Uuid;

fn facts() -> ParentRecommendationInput {
    ParentRecommendationInput {
        profile: ChildProfile { name: Some("Lea".into()), age_years: Some(9), language: "en".into() },
        chronotype: None,
        patterns: vec![],
        forecast: ForecastSummary { stress: Level::Low, migraine_risk: Level::Low, note: None },
        causal: None,
        similar_episodes: vec![],
    }
}

fn sha_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Publishes `body` as the family's next `adapter_version` change (what a damaged download or
/// a buggy server would send).
async fn publish(store: &dyn Storage, family_id: Uuid, item: &str, body: &serde_json::Value) {
    store.append_change(family_id, ChangeKind::AdapterVersion, item, body, job::now_ms()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retrained_adapter_reaches_the_phone_verified_active_and_applied() {
    let Some(library) = runtime_library() else { return };
    let (store, _guard) = common::sqlite().await;
    let mut settings = TrainingSettings::new(tiny_model_dir().to_path_buf());
    settings.kto.steps = 3;
    let server = common::Server::start(AppState::new(store.clone(), common::test_limits()).with_training(settings.clone())).await;
    let (family_id, parent_token) = common::new_family(&reqwest::Client::new(), &server.url()).await;
    let sync_config = || SyncConfig::new(server.url(), parent_token.clone());

    // The parent's phone with the exported model on ONNX Runtime.
    let phone_dir = tempfile::tempdir().unwrap();
    let phone = Companion::open(phone_dir.path().join("migru.db")).unwrap();
    let options = ModelOptions { runtime_library: Some(library), intra_threads: Some(1), chat_template: None };
    phone.load_model(tiny_model_dir(), &options).unwrap();
    assert_eq!(phone.adapter_in_use().unwrap(), None);

    let tokenizer = tokenizers::Tokenizer::from_file(tiny_model_dir().join("tokenizer.json")).unwrap();
    // Ten recommendations, each with its arm (base only: there is no adapter yet), rated by the
    // parent and sent with the arm through sync.
    let mut served = Vec::new();
    for i in 0..10 {
        let done = phone.parent_recommendation(&facts(), &CancelToken::new(), &mut |_| {}).unwrap();
        let s = done.served.clone().expect("a recommendation carries its arm");
        assert_eq!((s.arm, s.adapter_version), (PhoneArm::Base, None));
        assert!(s.context.starts_with("<|user|>Tip for a parent. Child: in-between. Time: "), "{}", s.context);
        // The server's model is prompted with the context it is trained on, not the chat template.
        let generation = done.reply.generation.as_ref().expect("the model ran");
        assert_eq!(generation.prompt_tokens, tokenizer.encode(s.context.as_str(), false).unwrap().len(), "{}", s.context);
        assert!(phone.recommendation_feedback(&s, &done.reply.text, i % 3 != 0).unwrap());
        served.push((s, done.reply.text));
    }
    let progress = phone.sync(sync_config(), None, |_| {}).await.unwrap();
    assert_eq!(progress.feedback_sent, 10);

    // The arms reached the server's A/B table, with the exact text shown.
    let arms = store.arm_feedback(Some(family_id)).await.unwrap();
    assert_eq!(arms.len(), 10);
    assert!(arms.iter().all(|a| a.arm == Arm::Base && a.adapter_version.is_none()));
    assert_eq!(arms.iter().filter(|a| a.value > 0).count(), 6);
    let examples = store.feedback_examples(family_id).await.unwrap();
    for (s, text) in &served {
        let e = examples.iter().find(|e| e.recommendation_id == s.recommendation_id).expect("served row");
        assert_eq!((&e.prompt, &e.text), (&s.context, text));
    }
    assert!(store.open_job(job::JOB_KIND, family_id).await.unwrap().is_some(), "the tenth feedback queued a retrain");
    // The acknowledgements came back: the phone's counts are the server's.
    let counts = migru_core::llm::assistant::arm_counts(phone.store(), None).unwrap();
    assert_eq!((counts.base.up, counts.base.down), (6, 4));

    // The retrain job, then the phone's next sync installs the adapter.
    let outcome = job::retrain_now(&*store, &settings, family_id, "test", Box::new(|_| {})).await.unwrap();
    assert!(outcome.trained && outcome.version == 1);
    phone.sync(sync_config(), None, |_| {}).await.unwrap();
    let active = phone.store().active_adapter().unwrap().expect("an active adapter");
    assert_eq!((active.version, active.size_bytes, active.sha256.as_str()), (1, outcome.size_bytes, outcome.sha256.as_str()));
    let file = std::fs::read(&active.path).unwrap();
    assert_eq!(sha_hex(&file), outcome.sha256);
    assert!(Path::new(&active.path).starts_with(phone_dir.path().join("adapters")), "{}", active.path);
    assert_eq!(phone.adapter_in_use().unwrap(), Some(1), "applied to the loaded model without a reload");
    eprintln!("adapter v1: {} bytes", active.size_bytes);

    // With an adapter, recommendations come from either arm and say which.
    let arms: Vec<(PhoneArm, Option<i64>)> = (0..12)
        .map(|_| {
            let s = phone.parent_recommendation(&facts(), &CancelToken::new(), &mut |_| {}).unwrap().served.unwrap();
            (s.arm, s.adapter_version)
        })
        .collect();
    assert!(arms.contains(&(PhoneArm::Adapter, Some(1))) && arms.contains(&(PhoneArm::Base, None)), "{arms:?}");
    assert_eq!(phone.adapter_in_use().unwrap(), Some(1), "serving the base arm leaves the adapter active");

    // Damaged downloads of the next versions are refused; version 1 stays active and applied.
    let good = phone.store().pulled_changes(Some("adapter_version"), 10).unwrap();
    let good: serde_json::Value = serde_json::from_str(&good[0].payload).unwrap();
    let good = good["body"].clone();
    let bytes = store.adapter_bytes(family_id, 1).await.unwrap().unwrap();
    assert_eq!(good["data_base64"].as_str().unwrap(), job::base64(&bytes));

    let mut flipped = bytes.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x40;
    let mut body = good.clone();
    body["version"] = 2.into();
    body["data_base64"] = job::base64(&flipped).into();
    publish(&*store, family_id, "adapter-2", &body).await;

    let mut body = good.clone();
    body["version"] = 3.into();
    body["size_bytes"] = (bytes.len() as i64 + 8).into();
    publish(&*store, family_id, "adapter-3", &body).await;

    // A well-formed adapter with the right hash and an honest parameter list, for a model with
    // another hidden size.
    let wrong = AdapterFile::from_bytes(&bytes).unwrap();
    let params: Vec<AdapterParam> = wrong
        .params
        .iter()
        .map(|p| {
            let dims: Vec<i64> = p.dims.iter().map(|&d| if d == 32 { 48 } else { d }).collect();
            let n: i64 = dims.iter().product();
            AdapterParam::f32(p.name.clone(), dims, &vec![0.01; n as usize])
        })
        .collect();
    let wrong = AdapterFile::new(4, 1, params).to_bytes();
    let mut body = good.clone();
    body["version"] = 4.into();
    body["sha256"] = sha_hex(&wrong).into();
    body["size_bytes"] = (wrong.len() as i64).into();
    body["parameters"] = AdapterFile::from_bytes(&wrong).unwrap().params.iter().map(|p| serde_json::json!({"name": p.name, "dims": p.dims})).collect();
    body["data_base64"] = job::base64(&wrong).into();
    publish(&*store, family_id, "adapter-4", &body).await;

    // The file's shapes differ from the published list.
    let mut body = good.clone();
    body["version"] = 5.into();
    body["parameters"][0]["dims"] = serde_json::json!([32, 7]);
    publish(&*store, family_id, "adapter-5", &body).await;

    phone.sync(sync_config(), None, |_| {}).await.unwrap();
    let records = phone.store().adapters().unwrap();
    let reason = |v: i64| records.iter().find(|a| a.version == v).and_then(|a| a.reason.clone()).unwrap_or_default();
    for v in 2..=5 {
        assert_eq!(records.iter().find(|a| a.version == v).unwrap().status, AdapterStatus::Refused, "v{v}");
    }
    assert!(reason(2).contains("SHA-256"), "{}", reason(2));
    assert!(reason(3).contains("bytes"), "{}", reason(3));
    assert!(reason(4).contains("does not fit the installed model"), "{}", reason(4));
    assert!(reason(5).contains("differ from"), "{}", reason(5));
    assert_eq!(phone.store().active_adapter().unwrap().map(|a| a.version), Some(1), "the previous adapter stays active");
    assert_eq!(phone.adapter_in_use().unwrap(), Some(1));
    let leftovers: Vec<_> = std::fs::read_dir(phone_dir.path().join("adapters")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 1, "only the verified file is kept: {leftovers:?}");

    // The A/B turns against the adapter: the server rolls it back and the phone follows.
    for i in 0..24 {
        let (arm, version, up) = if i % 2 == 0 { (Arm::Base, None, true) } else { (Arm::Adapter, Some(1), false) };
        let id = Uuid::now_v7();
        let now = job::now_ms();
        let row = ServedRecommendation { recommendation_id: id, prompt: served[0].0.context.clone(), text: "Drink water.".into(), arm, adapter_version: version, served_at_ms: now };
        simulate::serve(&*store, family_id, &row).await.unwrap();
        store.record_feedback(family_id, Feedback { recommendation_id: id, device_id: Uuid::now_v7(), value: if up { 1 } else { -1 }, device_ts_ms: now }, now).await.unwrap();
    }
    assert_eq!(ab::check_rollback(&*store, family_id, job::now_ms()).await.unwrap(), Some(1));
    phone.sync(sync_config(), None, |_| {}).await.unwrap();
    assert_eq!(phone.store().active_adapter().unwrap(), None, "rolled back: no adapter is active");
    let v1 = phone.store().adapters().unwrap().into_iter().find(|a| a.version == 1).unwrap();
    assert_eq!(v1.status, AdapterStatus::Inactive);
    assert!(v1.reason.unwrap().starts_with("rolled back by the server"));
    assert_eq!(phone.adapter_in_use().unwrap(), None, "the base model answers");
    // The other parent's thumbs came down too: the phone's A/B counts are the family's.
    let counts = migru_core::llm::assistant::arm_counts(phone.store(), Some(1)).unwrap();
    assert_eq!((counts.base.up, counts.base.down, counts.adapter.up, counts.adapter.down), (18, 4, 0, 12));
    let s = phone.parent_recommendation(&facts(), &CancelToken::new(), &mut |_| {}).unwrap().served.unwrap();
    assert_eq!(s.arm, PhoneArm::Base);

    // A repeated pull (cursor lost) changes nothing.
    phone.store().set_setting(migru_core::sync::CURSOR_KEY, "c1.0").unwrap();
    phone.sync(sync_config(), None, |_| {}).await.unwrap();
    assert_eq!(phone.store().active_adapter().unwrap(), None);
    assert_eq!(phone.adapter_in_use().unwrap(), None);
    server.stop().await;
}

/// Without a model (templates) the arm still travels: base, recorded with the exact text shown.
/// A `served` that contradicts itself is a 400 and records nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_arm_of_a_template_recommendation_reaches_the_servers_ab_table() {
    let (store, _guard) = common::sqlite().await;
    template_arm_reaches_the_server(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_arm_of_a_template_recommendation_reaches_the_servers_ab_table_on_postgres() {
    let Some((store, _url)) = common::postgres().await else { return };
    template_arm_reaches_the_server(store).await;
}

async fn template_arm_reaches_the_server(store: std::sync::Arc<dyn Storage>) {
    let server = common::Server::start(AppState::new(store.clone(), common::test_limits())).await;
    let (family_id, parent_token) = common::new_family(&reqwest::Client::new(), &server.url()).await;
    let phone_dir = tempfile::tempdir().unwrap();
    let phone = Companion::open(phone_dir.path().join("migru.db")).unwrap();
    let done = phone.parent_recommendation(&facts(), &CancelToken::new(), &mut |_| {}).unwrap();
    let served = done.served.clone().unwrap();
    assert_eq!((served.arm, served.adapter_version), (PhoneArm::Base, None));
    assert!(served.shareable, "a template carries none of the child's words");
    assert!(phone.recommendation_feedback(&served, &done.reply.text, false).unwrap());
    // A text that may repeat the child's words (a chat model prompted with them) stays home.
    let private = migru_core::llm::assistant::Served { recommendation_id: Uuid::now_v7(), shareable: false, ..served.clone() };
    assert!(!phone.recommendation_feedback(&private, "words the model may have copied", true).unwrap());
    phone.sync(SyncConfig::new(server.url(), parent_token.clone()), None, |_| {}).await.unwrap();
    let examples = store.feedback_examples(family_id).await.unwrap();
    assert_eq!(examples.len(), 1);
    let e = &examples[0];
    assert_eq!((e.recommendation_id, e.arm, e.adapter_version, e.value), (served.recommendation_id, Arm::Base, None, -1));
    assert_eq!((e.prompt.as_str(), e.text.as_str()), (served.context.as_str(), done.reply.text.as_str()));
    let counts = migru_core::llm::assistant::arm_counts(phone.store(), None).unwrap();
    assert_eq!((counts.base.up, counts.base.down), (1, 1), "the phone counts both thumbs for its next draws");

    let http = reqwest::Client::new();
    for served in [
        serde_json::json!({"prompt": "p", "text": "t", "arm": "adapter"}),
        serde_json::json!({"prompt": "p", "text": "t", "arm": "base", "adapter_version": 2}),
        serde_json::json!({"prompt": "", "text": "t", "arm": "base"}),
        serde_json::json!({"prompt": "p", "text": "t", "arm": "other"}),
    ] {
        let body = serde_json::json!({"recommendation_id": Uuid::now_v7(), "value": "up", "device_ts": chrono::Utc::now().to_rfc3339(), "served": served});
        let status = common::post_raw(&http, &server.url(), "/v1/feedback", Some(&parent_token), &body).await.status();
        assert_eq!(status.as_u16(), 400, "{served}");
    }
    assert_eq!(store.arm_feedback(Some(family_id)).await.unwrap().len(), 1, "nothing recorded from a refused request");

    // A crash between recording the served row and publishing its change: the phone's resent
    // thumbs heal it (the change is published, the feedback counts) instead of a 404.
    let orphan = Uuid::now_v7();
    let now = chrono::Utc::now().timestamp_millis();
    let row = ServedRecommendation { recommendation_id: orphan, prompt: "p".into(), text: "Go outside.".into(), arm: Arm::Base, adapter_version: None, served_at_ms: now };
    assert!(store.record_served(family_id, &row).await.unwrap());
    let body = serde_json::json!({"recommendation_id": orphan, "value": "up", "device_ts": chrono::Utc::now().to_rfc3339(),
        "served": {"prompt": "p", "text": "Go outside.", "arm": "base"}});
    let status = common::post_raw(&http, &server.url(), "/v1/feedback", Some(&parent_token), &body).await.status();
    assert_eq!(status.as_u16(), 200, "the resent thumbs of a half-recorded recommendation count");
    let healed = store.feedback_examples(family_id).await.unwrap();
    assert!(healed.iter().any(|e| e.recommendation_id == orphan && e.value == 1), "{healed:?}");
    server.stop().await;
}
