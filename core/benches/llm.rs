//! Language-model performance on the demo model (one intra-op thread):
//! - `decode_32_tokens/engine`: the engine's greedy generation of 32 tokens (prefill included);
//! - `decode_32_tokens/raw_ort`: the peer in the same run, a minimal hand-written loop over the
//!   same ONNX Runtime session calls (no tokenizer, streaming, stop strings or checks) — the
//!   ratio engine / raw_ort is the engine's own overhead;
//! - `guardrail/check`: one full guardrail check of a typical reply;
//! - `recall_5000/fts5_then_bm25`: the companion's retrieval of similar past words from a store
//!   of 5,000 messages (FTS5 prefilter in SQLite, BM25 over the candidates); the peer in the same
//!   run, `recall_5000/bm25_all`, reads every text from the store and ranks them all (retrieval
//!   without the FTS5 index).
//! - `adapters/*` (feature `sync`): a pulled `adapter_version` change handled by
//!   `AdapterInstaller` on the demo model (`pull_verify_activate`: base64, size, SHA-256, format,
//!   parameter list, the model's inputs, atomic write with fsync, store, activate, apply), a switch
//!   between two stored adapters on the loaded model (`switch`: file re-read and re-verified,
//!   loaded into ONNX Runtime, activated), and the peer in the same run, `model_reload`: loading the
//!   model folder again, what a switch would cost without run-time adapters.
//!
//! Needs the ONNX Runtime library (`ORT_DYLIB_PATH` or `.cache/onnxruntime/`); the decode group is
//! skipped without it. The comparison with onnxruntime-genai is `core/validation/llm/compare_genai.py`.

use std::borrow::Cow;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use migru_core::llm::demo::{DemoSpec, write_demo_model};
use migru_core::llm::engine::{GenerateOptions, LanguageModel, ModelOptions};
use migru_core::llm::guardrail::{Audience, Guardrail};
use migru_core::event::jsonl::parse_ts;
use migru_core::event::{Body, Kind, LOCAL_USER, Record};
use migru_core::llm::CancelToken;
use migru_core::llm::retrieval::{self, Episode};
use migru_core::store::{EventFilter, Store};
use ort::session::{Session, SessionInputValue};
use ort::value::{DynValue, Tensor};

const NEW_TOKENS: usize = 32;

fn library() -> Option<PathBuf> {
    let cached = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.cache/onnxruntime/libonnxruntime.so.1.31.1");
    std::env::var_os("ORT_DYLIB_PATH").map(PathBuf::from).filter(|p| p.is_file()).or_else(|| cached.is_file().then_some(cached))
}

/// Greedy decoding with nothing but session runs and an argmax.
fn raw_greedy(session: &mut Session, prompt: &[i64], layers: usize, heads: usize, head_size: usize) -> Vec<i64> {
    let mut past: Vec<DynValue> =
        (0..2 * layers).map(|_| Tensor::<f32>::from_array(([1usize, heads, 0, head_size], Vec::<f32>::new())).unwrap().into_dyn()).collect();
    let mut all = prompt.to_vec();
    let mut step = prompt.to_vec();
    let mut out = Vec::new();
    for _ in 0..NEW_TOKENS {
        let (s, t) = (step.len(), all.len());
        let mut inputs: Vec<(Cow<'_, str>, SessionInputValue<'_>)> = vec![
            ("input_ids".into(), Tensor::<i64>::from_array(([1, s], step.clone())).unwrap().into()),
            ("attention_mask".into(), Tensor::<i64>::from_array(([1, t], vec![1i64; t])).unwrap().into()),
            ("position_ids".into(), Tensor::<i64>::from_array(([1, s], ((t - s) as i64..t as i64).collect::<Vec<_>>())).unwrap().into()),
        ];
        for (i, v) in past.drain(..).enumerate() {
            let kind = if i < layers { "key" } else { "value" };
            inputs.push((format!("past_key_values.{}.{kind}", i % layers).into(), v.into()));
        }
        let mut outputs = session.run(inputs).unwrap();
        let (shape, logits) = outputs["logits"].try_extract_tensor::<f32>().unwrap();
        let vocab = shape[2] as usize;
        let last = &logits[logits.len() - vocab..];
        let next = (0..vocab).fold(0, |best, i| if last[i] > last[best] { i } else { best }) as i64;
        for kind in ["key", "value"] {
            for l in 0..layers {
                past.push(outputs.remove(format!("present.{l}.{kind}")).unwrap());
            }
        }
        out.push(next);
        all.push(next);
        step = vec![next];
    }
    out
}

fn decode(c: &mut Criterion) {
    let Some(lib) = library() else {
        eprintln!("llm bench: no ONNX Runtime library; decode group skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let spec = DemoSpec::default();
    write_demo_model(dir.path(), &spec).unwrap();
    let options = ModelOptions { runtime_library: Some(lib), intra_threads: Some(1), chat_template: None };
    let mut lm = LanguageModel::load(dir.path(), &options).unwrap();
    let prompt = lm.render(&[migru_core::llm::ChatMessage::new(migru_core::llm::Role::User, "Hi Migru, my head hurts after school.")]);
    let ids = lm.encode(&prompt).unwrap();
    // Generate exactly NEW_TOKENS: no EOS stop, so both loops do the same work.
    let options_gen = GenerateOptions { max_new_tokens: NEW_TOKENS, ..GenerateOptions::default() };
    let runtime = migru_core::llm::runtime::Runtime::init(None).unwrap();
    let mut session = Session::builder(runtime.environment()).unwrap().with_intra_threads(1).unwrap().commit_from_file(dir.path().join("model.onnx")).unwrap();
    let prompt_i64: Vec<i64> = ids.iter().map(|&i| i64::from(i)).collect();
    let (layers, heads, head_size) = (spec.layers, spec.heads, spec.hidden / spec.heads);
    let engine_tokens = lm.generate_ids(&ids, &options_gen, &CancelToken::new(), &mut |_| {}, Instant::now()).unwrap().tokens;
    let raw_tokens = raw_greedy(&mut session, &prompt_i64, layers, heads, head_size);
    assert_eq!(engine_tokens.len(), NEW_TOKENS, "the prompt must not reach EOS early, or the loops differ");
    assert_eq!(engine_tokens.iter().map(|&t| i64::from(t)).collect::<Vec<_>>(), raw_tokens, "same greedy tokens");

    let mut group = c.benchmark_group("decode_32_tokens");
    group.bench_function("engine", |b| {
        b.iter(|| black_box(lm.generate_ids(&ids, &options_gen, &CancelToken::new(), &mut |_| {}, Instant::now()).unwrap()))
    });
    group.bench_function("raw_ort", |b| b.iter(|| black_box(raw_greedy(&mut session, &prompt_i64, layers, heads, head_size))));
    group.finish();
}

fn guardrail(c: &mut Criterion) {
    let g = Guardrail::default();
    let text = "I'm sorry your head hurts. Let's rest in a quiet room and drink some water. Tell a grown-up how you feel, okay?";
    c.bench_function("guardrail/check", |b| b.iter(|| black_box(g.check(black_box(text), Audience::Child, "en"))));
}

/// A store with `n` messages of a child over a year, from a few hundred phrases.
fn diary(dir: &Path, n: usize) -> Store {
    const WHAT: &[&str] = &["my head hurts", "I feel tired", "we played football", "school was loud", "I slept badly",
        "my tummy hurts", "we went swimming", "I was worried about the test", "the nap helped", "I drew a dragon"];
    const WHEN: &[&str] = &["after lunch", "in the morning", "after practice", "at school", "before bed", "in the car",
        "after the trip", "on the bus", "at grandma's", "in the sun"];
    const HOW: &[&str] = &["a bit", "a lot", "again", "today", "all day", "since yesterday", "now", "really"];
    let store = Store::open(dir.join("bench.db")).unwrap();
    let start = parse_ts("2025-11-01T08:00:00+01:00").unwrap();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = |m: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % m as u64) as usize
    };
    let records: Vec<Record> = (0..n)
        .map(|i| {
            let text = format!("{} {} {}", WHAT[next(WHAT.len())], WHEN[next(WHEN.len())], HOW[next(HOW.len())]);
            Record::new(start + chrono::Duration::minutes(i as i64 * 97), Body::Message { text })
        })
        .collect();
    store.append_batch(&records).unwrap();
    store
}

fn recall(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = diary(dir.path(), 5_000);
    let query = "my head hurts again after football practice";
    let via_fts = retrieval::recall(&store, LOCAL_USER, query, 3, |_| true).unwrap();
    let all = || {
        let filter = EventFilter { user: Some(LOCAL_USER.into()), kinds: vec![Kind::Message], ..EventFilter::default() };
        let episodes: Vec<Episode> = store
            .events(&filter)
            .unwrap()
            .into_iter()
            .filter_map(|e| e.record.body.text().map(|t| Episode { id: e.seq, text: t.to_owned() }))
            .collect();
        retrieval::most_similar(query, &episodes, 3)
    };
    assert!(via_fts.len() == 3 && all().len() == 3, "both paths find episodes");
    let mut group = c.benchmark_group("recall_5000");
    group.bench_function("fts5_then_bm25", |b| b.iter(|| black_box(retrieval::recall(&store, LOCAL_USER, query, 3, |_| true).unwrap())));
    group.bench_function("bm25_all", |b| b.iter(|| black_box(all())));
    group.finish();
}

#[cfg(feature = "sync")]
fn adapters(c: &mut Criterion) {
    use base64::Engine as _;
    use migru_core::llm::adapter::AdapterFile;
    use migru_core::llm::assistant::Assistant;
    use migru_core::store::AdapterRecord;
    use migru_core::sync::PulledChange;
    use migru_core::sync::adapters::{AdapterInstaller, AdapterUpdate};
    use sha2::Digest;
    use std::sync::Arc;

    let Some(library) = library() else {
        eprintln!("llm bench: no ONNX Runtime library; adapters group skipped");
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().to_path_buf();
    let model_dir = dir.join("model");
    let spec = DemoSpec::default();
    write_demo_model(&model_dir, &spec).unwrap();
    let options = ModelOptions { runtime_library: Some(library), intra_threads: Some(1), chat_template: None };
    let assistant = Arc::new(Assistant::new().unwrap());
    assistant.load_model(&model_dir, &options).unwrap();
    let store = Store::open(dir.join("phone.db")).unwrap();
    let installer = AdapterInstaller::new(dir.join("adapters"), Some(Arc::clone(&assistant)));
    let targets: Vec<(String, String, usize, usize)> =
        migru_core::llm::demo::lora_names(spec.layers).into_iter().map(|(a, b)| (a, b, spec.hidden, spec.hidden)).collect();
    let bytes = AdapterFile::seeded_lora(&targets, 4, 0.05, 7).to_bytes();
    let sha: String = sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    let params: Vec<serde_json::Value> =
        AdapterFile::from_bytes(&bytes).unwrap().params.iter().map(|p| serde_json::json!({"name": p.name, "dims": p.dims})).collect();
    let data = base64::engine::general_purpose::STANDARD.encode(&bytes);
    eprintln!("adapter file: {} bytes ({} parameters, rank 4)", bytes.len(), params.len());
    let change = |version: i64| PulledChange {
        kind: "adapter_version".into(),
        id: format!("adapter-{version}"),
        body: serde_json::json!({"version": version, "state": "active", "model_version": 1, "sha256": sha, "size_bytes": bytes.len(),
            "parameters": params, "data_base64": data}),
        created_at_ms: 0,
        seq: Some(version),
    };
    let mut group = c.benchmark_group("adapters");
    let mut version = 0;
    group.bench_function("pull_verify_activate", |b| {
        b.iter(|| {
            version += 1;
            let update = installer.on_change(&store, &change(version)).unwrap();
            assert_eq!(update, Some(AdapterUpdate::Activated { version }));
        })
    });
    let records: Vec<AdapterRecord> = store.adapters().unwrap().into_iter().take(2).collect();
    let mut i = 0;
    group.bench_function("switch", |b| {
        b.iter(|| {
            i += 1;
            black_box(assistant.apply_adapter(&store, Some(&records[i % 2])).unwrap())
        })
    });
    group.bench_function("model_reload", |b| b.iter(|| black_box(LanguageModel::load(&model_dir, &options).unwrap())));
    group.finish();
}

#[cfg(not(feature = "sync"))]
fn adapters(_: &mut Criterion) {}

criterion_group!(benches, decode, guardrail, recall, adapters);
criterion_main!(benches);
