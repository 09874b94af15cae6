//! The companion's replies and recommendations on a real SQLite file: similar past words come
//! from the store's FTS5 index (then BM25), the template path works without a model, the safety
//! response always wins, and with the demo model (ONNX Runtime needed) tokens stream and cancel.

#![cfg(feature = "llm")]

use std::path::PathBuf;

use chrono::{DateTime, Duration, FixedOffset};
use migru_core::Companion;
use migru_core::companion::now_local;
use migru_core::llm::adapter::AdapterFile;
use migru_core::llm::assistant::{AdapterOutcome, NO_MODEL_NOTICE};
use migru_core::llm::demo::lora_names;
use migru_core::store::{AdapterRecord, AdapterStatus};
use migru_core::llm::demo::{DemoSpec, write_demo_model};
use migru_core::llm::engine::ModelOptions;
use migru_core::llm::prompt::{ChildProfile, ForecastSummary, Level, ParentRecommendationInput, PatternSummary};
use migru_core::llm::responder::{ReplyEvent, ReplySource};
use migru_core::llm::CancelToken;

fn profile() -> ChildProfile {
    ChildProfile { name: Some("Lea".into()), age_years: Some(9), language: "en".into() }
}

fn days_ago(days: i64) -> DateTime<FixedOffset> {
    now_local() - Duration::days(days)
}

fn open() -> (tempfile::TempDir, Companion) {
    let dir = tempfile::tempdir().unwrap();
    let companion = Companion::open(dir.path().join("migru.db")).unwrap();
    (dir, companion)
}

fn shown_text(events: &[ReplyEvent]) -> String {
    events.iter().fold(String::new(), |acc, e| match e {
        ReplyEvent::Token { .. } => acc,
        ReplyEvent::Text(t) => acc + t,
        ReplyEvent::Replace(t) => t.clone(),
    })
}

#[test]
fn replies_recall_the_childs_similar_words_from_the_store() {
    let (_dir, companion) = open();
    for (days, text) in [
        (9, "my head hurts after football practice in the sun"),
        (8, "we had pizza for dinner"),
        (7, "football was fun today"),
        (6, "my head hurts after football practice in the sun"),
        (5, "I slept badly and felt tired at school"),
    ] {
        companion.log_message(text, Some(days_ago(days))).unwrap();
    }
    let sibling = companion.for_user("sibling").unwrap();
    sibling.log_message("my head hurts after football and swimming", Some(days_ago(2))).unwrap();
    // The app stores the message before asking for the reply: it is not recalled as its own past.
    let message = "my head hurts after football again";
    companion.log_message(message, None).unwrap();

    let mut events = Vec::new();
    let done = companion.reply_to_child(message, &profile(), &CancelToken::new(), &mut |e| events.push(e.clone())).unwrap();
    assert_eq!(done.reply.source, ReplySource::Template);
    assert_eq!(done.notice.as_deref(), Some(NO_MODEL_NOTICE));
    assert_eq!(shown_text(&events), done.reply.text);
    assert_eq!(done.recalled.len(), 2, "{:?}", done.recalled);
    assert!(done.recalled[0].ends_with("my head hurts after football practice in the sun"), "{:?}", done.recalled);
    assert!(done.recalled[1].ends_with("football was fun today"), "{:?}", done.recalled);
    assert!(done.recalled.iter().all(|r| !r.contains("swimming")), "another child's words stay theirs");
    assert!(done.recalled.iter().all(|r| !r.contains("again")), "the message itself is not recalled");

    // FTS5 syntax in the child's words is only words.
    let odd = companion.reply_to_child("\"football\" NEAR(head* -sun) OR \"", &profile(), &CancelToken::new(), &mut |_| {}).unwrap();
    assert!(!odd.recalled.is_empty());
    let none = companion.reply_to_child("violin lesson", &profile(), &CancelToken::new(), &mut |_| {}).unwrap();
    assert!(none.recalled.is_empty());
}

#[test]
fn the_safety_response_wins_and_empty_messages_are_refused() {
    let (_dir, companion) = open();
    let done = companion.reply_to_child("I want to die", &profile(), &CancelToken::new(), &mut |_| {}).unwrap();
    assert_eq!(done.reply.source, ReplySource::Safety);
    assert_eq!(done.notice, None);
    assert!(companion.reply_to_child("   ", &profile(), &CancelToken::new(), &mut |_| {}).is_err());
}

#[test]
fn parent_recommendations_recall_earlier_days_like_the_last_two() {
    let (_dir, companion) = open();
    companion.log_message("headache after the long school trip by bus", Some(days_ago(20))).unwrap();
    companion.log_message("we baked a cake", Some(days_ago(15))).unwrap();
    companion.log_message("headache after the school trip", Some(days_ago(1))).unwrap();
    let input = ParentRecommendationInput {
        profile: profile(),
        chronotype: None,
        patterns: vec![PatternSummary { description: "headaches follow long bus rides".into(), confidence: 0.8 }],
        forecast: ForecastSummary { stress: Level::Moderate, migraine_risk: Level::High, note: None },
        causal: None,
        similar_episodes: vec![],
    };
    let mut events = Vec::new();
    let done = companion.parent_recommendation(&input, &CancelToken::new(), &mut |e| events.push(e.clone())).unwrap();
    assert_eq!(done.reply.source, ReplySource::Template);
    assert_eq!(shown_text(&events), done.reply.text);
    assert_eq!(done.recalled.len(), 1, "{:?}", done.recalled);
    assert!(done.recalled[0].ends_with("headache after the long school trip by bus"), "days before the last two only: {:?}", done.recalled);
}

fn runtime_library() -> Option<PathBuf> {
    let found = std::env::var_os("ORT_DYLIB_PATH").map(PathBuf::from).filter(|p| p.is_file());
    if found.is_none() {
        assert!(std::env::var("MIGRU_REQUIRE_ORT").is_err(), "MIGRU_REQUIRE_ORT is set but ORT_DYLIB_PATH names no library");
        eprintln!("skipping: no ONNX Runtime library (ORT_DYLIB_PATH)");
    }
    found
}

#[test]
fn with_the_demo_model_tokens_stream_and_cancel_stops_them() {
    let Some(library) = runtime_library() else { return };
    let (dir, companion) = open();
    let model = dir.path().join("model");
    write_demo_model(&model, &DemoSpec::default()).unwrap();
    let options = ModelOptions { runtime_library: Some(library), intra_threads: Some(1), chat_template: None };
    assert!(companion.load_model(&dir.path().join("missing"), &options).is_err());
    assert!(!companion.has_model().unwrap(), "a failed load leaves the templates");
    assert_eq!(companion.load_model(&model, &options).unwrap(), AdapterOutcome::NoneActive);
    assert!(companion.has_model().unwrap());

    let mut events = Vec::new();
    let done = companion.reply_to_child("I played football today", &profile(), &CancelToken::new(), &mut |e| events.push(e.clone())).unwrap();
    let generation = done.reply.generation.as_ref().expect("the model ran");
    let tokens: Vec<usize> = events.iter().filter_map(|e| if let ReplyEvent::Token { generated } = e { Some(*generated) } else { None }).collect();
    assert_eq!(tokens, (1..=generation.tokens.len()).collect::<Vec<_>>(), "one event per token");
    assert_eq!(shown_text(&events), done.reply.text);
    assert_eq!(done.notice, None);

    let cancel = CancelToken::new();
    let mut seen = 0;
    let stopped = companion
        .reply_to_child("I played football today", &profile(), &cancel, &mut |e| {
            if let ReplyEvent::Token { generated } = e {
                seen = *generated;
                if *generated == 3 {
                    cancel.cancel();
                }
            }
        })
        .unwrap();
    assert!(stopped.cancelled);
    let n = stopped.reply.generation.as_ref().unwrap().tokens.len();
    assert!((3..=4).contains(&n), "stopped right after the cancel: {n} tokens");
    assert_eq!(seen, n);

    companion.unload_model().unwrap();
    let after = companion.reply_to_child("I played football today", &profile(), &CancelToken::new(), &mut |_| {}).unwrap();
    assert_eq!((after.reply.source, after.notice.is_some()), (ReplySource::Template, true));
}

/// `migru --db FILE chat`: each line is a conversation turn stored like the app stores it (with
/// the insight policy's decision), and later lines recall the earlier ones from the store
/// (templates here: no model given).
#[cfg(feature = "cli")]
#[test]
fn the_terminal_chat_stores_messages_and_recalls_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.db");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_migru"))
        .arg("--db")
        .arg(&db)
        .args(["--json", "chat"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "my head hurts after football practice").unwrap();
        writeln!(stdin, "we baked a cake").unwrap();
        writeln!(stdin, "my head hurts again after football").unwrap();
        writeln!(stdin, "worst headache of my life, it came on suddenly").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let turns: Vec<serde_json::Value> =
        serde_json::Deserializer::from_slice(&out.stdout).into_iter().collect::<Result<_, _>>().unwrap();
    assert_eq!(turns.len(), 4);
    assert!(turns[..3].iter().all(|t| t["source"] == "template"), "{turns:?}");
    // Each line is a conversation turn: quiet before the 3rd, a red flag at once.
    assert_eq!(turns[0]["decision"]["reason"], "too_early");
    assert_eq!(turns[3]["decision"]["decision"], "red_flag", "{}", turns[3]);
    let recalled = turns[2]["recalled"].as_array().unwrap();
    assert_eq!(recalled.len(), 1, "{recalled:?}");
    assert!(recalled[0].as_str().unwrap().ends_with("my head hurts after football practice"));
    let stored = Companion::open(&db).unwrap().stats().unwrap();
    assert!(stored.events >= 4, "every line was stored: {stored:?}");
}

/// The child's adapter from the store: verified (size, SHA-256, parameters) before it is used,
/// switched without reloading the model, refused and marked so when it does not verify.
#[test]
fn the_stores_active_adapter_is_verified_and_applied() {
    let Some(library) = runtime_library() else { return };
    let (dir, companion) = open();
    let model = dir.path().join("model");
    write_demo_model(&model, &DemoSpec::default()).unwrap();
    let hidden = DemoSpec::default().hidden;
    let targets: Vec<_> = lora_names(DemoSpec::default().layers).into_iter().map(|(a, b)| (a, b, hidden, hidden)).collect();
    let record = |version: i64, bytes: &[u8], sha256: String| {
        let path = dir.path().join(format!("v{version}.onnx_adapter"));
        std::fs::write(&path, bytes).unwrap();
        AdapterRecord {
            version,
            sha256,
            size_bytes: bytes.len() as i64,
            path: path.display().to_string(),
            status: AdapterStatus::Inactive,
            reason: None,
            received_ms: 1,
        }
    };
    let sha = |bytes: &[u8]| {
        use sha2::Digest;
        sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let good = AdapterFile::seeded_lora(&targets, 4, 0.3, 1).to_bytes();
    let other = AdapterFile::seeded_lora(&targets, 2, 0.3, 2).to_bytes();
    companion.store().put_adapter(&record(1, &good, sha(&good))).unwrap();
    companion.store().put_adapter(&record(2, &other, sha(&good))).unwrap();
    companion.store().activate_adapter(1).unwrap();

    let options = ModelOptions { runtime_library: Some(library), intra_threads: Some(1), chat_template: None };
    assert_eq!(companion.load_model(&model, &options).unwrap(), AdapterOutcome::Active { version: 1 }, "applied at load");
    match companion.activate_adapter(2).unwrap() {
        AdapterOutcome::Refused { version: 2, reason } => assert!(reason.contains("SHA-256"), "{reason}"),
        other => panic!("a tampered file must be refused: {other:?}"),
    }
    let refused = companion.store().adapters().unwrap().into_iter().find(|a| a.version == 2).unwrap();
    assert_eq!(refused.status, AdapterStatus::Refused);
    assert!(companion.activate_adapter(2).is_err(), "a refused adapter cannot be activated again");
    assert_eq!(companion.activate_adapter(1).unwrap(), AdapterOutcome::Active { version: 1 }, "switched back without a reload");
    let reply = companion.reply_to_child("I played football today", &profile(), &CancelToken::new(), &mut |_| {}).unwrap();
    assert!(reply.reply.generation.is_some(), "the model answers with the adapter");
}
