//! The engine on the demo model, through ONNX Runtime.
//!
//! Needs the runtime library: `ORT_DYLIB_PATH`, else `<repo>/.cache/onnxruntime/` (written by
//! `scripts/fetch-onnxruntime.sh`). Without it these tests print why and return, unless
//! `MIGRU_REQUIRE_ORT=1` (CI), where a missing library fails them.

#![cfg(feature = "llm")]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use migru_core::llm::adapter::{AdapterFile, AdapterParam};
use migru_core::llm::demo::{DemoSpec, lora_names, write_demo_model};
use migru_core::llm::engine::{GenerateOptions, LanguageModel, ModelOptions, StopReason};
use migru_core::llm::prompt::{ChatMessage, ChildProfile, ChildTurnInput, Role};
use migru_core::llm::responder::{ReplyEvent, ReplySource, Responder};
use migru_core::llm::{CancelToken, LlmError, SamplingParams};

fn runtime_library() -> Option<PathBuf> {
    let from_env = std::env::var_os("ORT_DYLIB_PATH").map(PathBuf::from);
    let cached = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.cache/onnxruntime/libonnxruntime.so.1.31.1");
    let found = from_env.filter(|p| p.is_file()).or_else(|| cached.is_file().then_some(cached));
    if found.is_none() {
        assert!(std::env::var("MIGRU_REQUIRE_ORT").is_err(), "MIGRU_REQUIRE_ORT is set but no ONNX Runtime library was found");
        eprintln!("skipping: no ONNX Runtime library (run scripts/fetch-onnxruntime.sh)");
    }
    found
}

/// The demo model, written once per test process.
fn demo_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        write_demo_model(dir.path(), &DemoSpec::default()).unwrap();
        dir
    })
    .path()
}

fn load() -> Option<LanguageModel> {
    let library = runtime_library()?;
    let options = ModelOptions { runtime_library: Some(library), intra_threads: Some(1), chat_template: None };
    Some(LanguageModel::load(demo_dir(), &options).unwrap())
}

fn greedy(max_new_tokens: usize) -> GenerateOptions {
    GenerateOptions { max_new_tokens, ..GenerateOptions::default() }
}

fn run(lm: &mut LanguageModel, prompt: &str, options: &GenerateOptions) -> migru_core::llm::engine::Generation {
    lm.generate(prompt, options, &CancelToken::new(), &mut |_| {}).unwrap()
}

fn chat_prompt(lm: &LanguageModel) -> String {
    lm.render(&[ChatMessage::new(Role::User, "Hi Migru, my head hurts after school.")])
}

#[test]
fn demo_model_is_reproducible_and_small() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let summary = write_demo_model(a.path(), &DemoSpec::default()).unwrap();
    write_demo_model(b.path(), &DemoSpec::default()).unwrap();
    for file in ["model.onnx", "tokenizer.json", "genai_config.json"] {
        assert_eq!(std::fs::read(a.path().join(file)).unwrap(), std::fs::read(b.path().join(file)).unwrap(), "{file}");
    }
    let other = tempfile::tempdir().unwrap();
    write_demo_model(other.path(), &DemoSpec { seed: 7, ..DemoSpec::default() }).unwrap();
    assert_ne!(std::fs::read(a.path().join("model.onnx")).unwrap(), std::fs::read(other.path().join("model.onnx")).unwrap());
    assert!(summary.model_bytes < 1_000_000, "{} bytes", summary.model_bytes);
    assert_eq!(summary.lora_inputs.len(), 2 * 4 * DemoSpec::default().layers);
}

#[test]
fn greedy_streaming_matches_the_final_text() {
    let Some(mut lm) = load() else { return };
    assert_eq!(lm.template().family, "phi3");
    let prompt = chat_prompt(&lm);
    let mut streamed = String::new();
    let mut count = 0;
    let g = lm.generate(&prompt, &greedy(24), &CancelToken::new(), &mut |e| {
        streamed.push_str(&e.text);
        count += 1;
    }).unwrap();
    assert!(!g.tokens.is_empty() && g.tokens.len() <= 24);
    assert!(count >= g.tokens.len(), "one event per token at least");
    assert_eq!(streamed, g.text);
    assert!(g.ms_first_token > 0.0 && g.ms_per_token > 0.0);
    assert_eq!(run(&mut lm, &prompt, &greedy(24)).tokens, g.tokens, "greedy is deterministic");
}

/// Each cached decoding step must give the token a full recomputation gives.
#[test]
fn kv_cache_equals_full_recomputation() {
    let Some(mut lm) = load() else { return };
    let prompt_ids = lm.encode(&chat_prompt(&lm)).unwrap();
    let g = lm.generate_ids(&prompt_ids, &greedy(12), &CancelToken::new(), &mut |_| {}, Instant::now()).unwrap();
    for i in 0..g.tokens.len() {
        let mut ids = prompt_ids.clone();
        ids.extend(&g.tokens[..i]);
        let one = lm.generate_ids(&ids, &greedy(1), &CancelToken::new(), &mut |_| {}, Instant::now()).unwrap();
        assert_eq!(one.tokens, vec![g.tokens[i]], "step {i}");
    }
}

#[test]
fn sampling_is_seeded() {
    let Some(mut lm) = load() else { return };
    let prompt = chat_prompt(&lm);
    let sampled = |seed| GenerateOptions { max_new_tokens: 20, sampling: SamplingParams { temperature: 1.0, top_k: 50, top_p: 0.95, repetition_penalty: 1.1, seed }, ..GenerateOptions::default() };
    let a = run(&mut lm, &prompt, &sampled(1)).tokens;
    assert_eq!(a, run(&mut lm, &prompt, &sampled(1)).tokens);
    assert_ne!(a, run(&mut lm, &prompt, &sampled(2)).tokens);
}

#[test]
fn stop_strings_budget_and_length_limits() {
    let Some(mut lm) = load() else { return };
    let prompt = chat_prompt(&lm);
    let full = run(&mut lm, &prompt, &greedy(30));
    let words: Vec<&str> = full.text.split_whitespace().filter(|w| w.len() >= 3 && w.chars().all(|c| c.is_ascii_alphanumeric())).collect();
    if let Some(stop) = words.get(words.len() / 2) {
        let cut = full.text.find(stop).unwrap();
        let options = GenerateOptions { stop_strings: vec![stop.to_string()], ..greedy(30) };
        let g = run(&mut lm, &prompt, &options);
        assert_eq!(g.stop_reason, StopReason::StopString);
        assert_eq!(g.text, full.text[..cut]);
    }
    let g = run(&mut lm, &prompt, &GenerateOptions { time_budget: Some(Duration::ZERO), ..greedy(30) });
    assert_eq!((g.stop_reason, g.tokens.len()), (StopReason::TimeBudget, 0));
    assert_eq!(run(&mut lm, &prompt, &greedy(5)).tokens.len(), 5);
    let long = "word ".repeat(2000);
    assert!(matches!(lm.generate(&long, &greedy(5), &CancelToken::new(), &mut |_| {}), Err(LlmError::PromptTooLong { .. })));
}

#[test]
fn cancellation_from_another_thread_stops_generation() {
    let Some(mut lm) = load() else { return };
    let prompt = chat_prompt(&lm);
    let token = CancelToken::new();
    let (tx, rx) = mpsc::channel::<()>();
    let canceller = {
        let token = token.clone();
        std::thread::spawn(move || {
            rx.recv().unwrap();
            token.cancel();
        })
    };
    let mut sent = false;
    let g = lm
        .generate(&prompt, &greedy(400), &token, &mut |_| {
            if !sent {
                tx.send(()).unwrap();
                sent = true;
                std::thread::sleep(Duration::from_millis(50));
            }
        })
        .unwrap();
    canceller.join().unwrap();
    assert_eq!(g.stop_reason, StopReason::Cancelled);
    assert!(g.tokens.len() < 10, "{} tokens after cancel", g.tokens.len());
}

fn demo_adapter(rank: usize, seed: u64) -> AdapterFile {
    let hidden = DemoSpec::default().hidden;
    let targets: Vec<_> = lora_names(DemoSpec::default().layers).into_iter().map(|(a, b)| (a, b, hidden, hidden)).collect();
    AdapterFile::seeded_lora(&targets, rank, 0.3, seed)
}

#[test]
fn adapters_switch_without_reloading() {
    let Some(mut lm) = load() else { return };
    let prompt = chat_prompt(&lm);
    let base = run(&mut lm, &prompt, &greedy(16)).tokens;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("child.onnx_adapter");
    std::fs::write(&path, demo_adapter(4, 1).to_bytes()).unwrap();
    lm.load_adapter("lea", &path).unwrap();
    lm.load_adapter_bytes("sam", &demo_adapter(2, 9).to_bytes()).unwrap();
    assert_eq!(run(&mut lm, &prompt, &greedy(16)).tokens, base, "loading does not activate");
    lm.set_active_adapter(Some("lea")).unwrap();
    let lea = run(&mut lm, &prompt, &greedy(16)).tokens;
    assert_ne!(lea, base);
    lm.set_active_adapter(Some("sam")).unwrap();
    let sam = run(&mut lm, &prompt, &greedy(16)).tokens;
    assert_ne!(sam, lea);
    lm.set_active_adapter(None).unwrap();
    assert_eq!(run(&mut lm, &prompt, &greedy(16)).tokens, base);
    lm.set_active_adapter(Some("lea")).unwrap();
    assert_eq!(run(&mut lm, &prompt, &greedy(16)).tokens, lea);
    // A zero adapter equals the base model.
    let mut zero = demo_adapter(3, 5);
    for p in &mut zero.params {
        p.raw.iter_mut().for_each(|b| *b = 0);
    }
    lm.load_adapter_bytes("zero", &zero.to_bytes()).unwrap();
    lm.set_active_adapter(Some("zero")).unwrap();
    assert_eq!(run(&mut lm, &prompt, &greedy(16)).tokens, base);
}

#[test]
fn mismatched_adapters_are_refused_before_activation() {
    let Some(mut lm) = load() else { return };
    let mut wrong_name = demo_adapter(2, 1);
    wrong_name.params[0].name = "model.layers.9.attn.q_proj.lora_A.weight".into();
    let mut wrong_shape = demo_adapter(2, 1);
    wrong_shape.params[0] = AdapterParam::f32(wrong_shape.params[0].name.clone(), vec![32, 2], &[0.0; 64]);
    let mut wrong_type = demo_adapter(2, 1);
    wrong_type.params[1].data_type = 6; // int32: same byte length, wrong type
    for (case, adapter, needle) in [("name", wrong_name, "not an input"), ("shape", wrong_shape, "shape"), ("type", wrong_type, "type")] {
        let err = lm.load_adapter_bytes(case, &adapter.to_bytes()).unwrap_err().to_string();
        assert!(err.contains(needle), "{case}: {err}");
    }
    assert!(lm.load_adapter_bytes("junk", b"definitely not an adapter").is_err());
    assert!(lm.set_active_adapter(Some("name")).is_err(), "refused adapters are not loaded");
}

fn broken_copy(edit: impl FnOnce(&Path)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for file in ["model.onnx", "tokenizer.json", "genai_config.json"] {
        std::fs::copy(demo_dir().join(file), dir.path().join(file)).unwrap();
    }
    edit(dir.path());
    dir
}

fn edit_config(dir: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join("genai_config.json");
    let mut config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    f(&mut config);
    std::fs::write(path, config.to_string()).unwrap();
}

#[test]
fn broken_model_folders_are_clear_errors() {
    let Some(library) = runtime_library() else { return };
    let options = ModelOptions { runtime_library: Some(library), ..ModelOptions::default() };
    let cases: Vec<(&str, tempfile::TempDir, &str)> = vec![
        ("no tokenizer", broken_copy(|d| std::fs::remove_file(d.join("tokenizer.json")).unwrap()), "missing tokenizer.json"),
        ("no model", broken_copy(|d| std::fs::remove_file(d.join("model.onnx")).unwrap()), "missing model.onnx"),
        ("garbage model", broken_copy(|d| std::fs::write(d.join("model.onnx"), b"not onnx").unwrap()), "model.onnx"),
        ("bad json", broken_copy(|d| std::fs::write(d.join("genai_config.json"), b"{").unwrap()), "genai_config.json"),
        ("past names", broken_copy(|d| edit_config(d, |c| c["model"]["decoder"]["inputs"]["past_key_names"] = "past.%d.k".into())), "past.0.k"),
        ("logits name", broken_copy(|d| edit_config(d, |c| c["model"]["decoder"]["outputs"]["logits"] = "scores".into())), "scores"),
        ("head size", broken_copy(|d| edit_config(d, |c| c["model"]["decoder"]["head_size"] = 8.into())), "head_size"),
        ("vocab", broken_copy(|d| edit_config(d, |c| c["model"]["vocab_size"] = 10.into())), "vocab_size"),
        ("eos", broken_copy(|d| edit_config(d, |c| c["model"]["eos_token_id"] = 99999.into())), "eos_token_id"),
    ];
    for (case, dir, needle) in cases {
        let err = LanguageModel::load(dir.path(), &options).unwrap_err().to_string();
        assert!(err.contains(needle), "{case}: {err}");
    }
}

#[test]
fn responder_guards_streams_and_falls_back() {
    let Some(lm) = load() else { return };
    let mut responder = Responder::new(Some(lm)).unwrap();
    let child = |message: &str| ChildTurnInput {
        profile: ChildProfile { name: None, age_years: Some(9), language: "en".into() },
        message: message.into(),
        recent_turns: vec![],
        similar_episodes: vec![],
    };
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let reply = responder.reply_to_child(&child("my head hurts"), &CancelToken::new(), &mut |e| sink.lock().unwrap().push(e.clone()));
    // The demo model's random weights write gibberish: the guardrail must block it.
    assert_eq!(reply.source, ReplySource::Template);
    assert!(!reply.verdict.as_ref().unwrap().passed());
    let shown = events.lock().unwrap().iter().fold(String::new(), |acc, e| match e {
        ReplyEvent::Token { .. } => acc,
        ReplyEvent::Text(t) => acc + t,
        ReplyEvent::Replace(t) => t.clone(),
    });
    assert_eq!(shown, reply.text, "what the UI shows is the final reply");
    let safety = responder.reply_to_child(&child("I want to die"), &CancelToken::new(), &mut |_| {});
    assert_eq!((safety.source, safety.generation.is_none()), (ReplySource::Safety, true));
}

#[test]
fn without_a_model_replies_come_from_templates() {
    let mut responder = Responder::new(None).unwrap();
    let input = ChildTurnInput { message: "I played football".into(), ..ChildTurnInput::default() };
    let reply = responder.reply_to_child(&input, &CancelToken::new(), &mut |_| {});
    assert_eq!(reply.source, ReplySource::Template);
    assert!(reply.text.len() > 10);
}

/// Bindings move the model and responder to a worker thread and cancel from the UI thread.
#[test]
fn engine_types_can_cross_threads() {
    fn send<T: Send>() {}
    fn send_sync<T: Send + Sync>() {}
    send::<LanguageModel>();
    send::<Responder>();
    send_sync::<CancelToken>();
}
