//! The project's own small model: a decoder-only transformer in the onnxruntime-genai layout,
//! written from Rust (`migru model demo --out DIR`).
//!
//! Seeded random weights (the server's `train-base` writes trained ones into the same graph,
//! `llm::graph`): the same seed writes the same bytes.

use std::path::Path;

use tokenizers::models::TrainerWrapper;
use tokenizers::models::bpe::{BPE, BpeTrainerBuilder};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{AddedToken, Tokenizer};

use super::LlmError;
use super::graph::{self, GraphSpec, Init, SearchDefaults};
use super::sampling::Rng;

/// Sizes of the demo model.
#[derive(Debug, Clone)]
pub struct DemoSpec {
    pub hidden: usize,
    pub heads: usize,
    pub layers: usize,
    pub ffn: usize,
    pub context_length: usize,
    /// Upper bound for the BPE vocabulary (specials + 256 bytes + merges).
    pub max_vocab: usize,
    pub seed: u64,
}

impl Default for DemoSpec {
    fn default() -> Self {
        Self { hidden: 64, heads: 4, layers: 2, ffn: 128, context_length: 512, max_vocab: 640, seed: 42 }
    }
}

/// Special tokens, in id order. Phi-3 style chat markers, so the `phi3` chat template applies.
pub const SPECIAL_TOKENS: [&str; 5] = ["<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"];

const CORPUS: &str = include_str!("../../data/llm/demo_corpus.txt");
const FALLBACKS: &str = include_str!("../../data/llm/fallback_templates.json");

/// What `write_demo_model` produced.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DemoSummary {
    pub vocab_size: usize,
    pub parameters: usize,
    pub model_bytes: usize,
    pub lora_inputs: Vec<String>,
}

/// Writes `genai_config.json`, `model.onnx` and `tokenizer.json` into `dir` (created if needed).
pub fn write_demo_model(dir: &Path, spec: &DemoSpec) -> Result<DemoSummary, LlmError> {
    std::fs::create_dir_all(dir).map_err(|e| LlmError::io(dir, e))?;
    let tokenizer = build_tokenizer(spec.max_vocab)?;
    let vocab = tokenizer.get_vocab_size(true);
    let tokenizer_json = tokenizer.to_string(true).map_err(|e| LlmError::Tokenizer(e.to_string()))?;
    let graph_spec = GraphSpec { hidden: spec.hidden, heads: spec.heads, layers: spec.layers, ffn: spec.ffn, context_length: spec.context_length, vocab };
    // Seeded weights, drawn in graph order: the same seed writes the same bytes.
    let mut rng = Rng::new(spec.seed);
    let mut parameters = 0;
    let mut seeded = |_: &str, dims: &[usize], init: Init| {
        let n: usize = dims.iter().product();
        Ok(match init {
            Init::Uniform(scale) => {
                parameters += n;
                (0..n).map(|_| rng.symmetric(scale)).collect()
            }
            Init::Ones => vec![1.0; n],
            Init::Zeros => vec![0.0; n],
        })
    };
    let metadata = vec![("migru.demo.seed".into(), spec.seed.to_string())];
    let model = graph::build_graph(&graph_spec, "migru_demo", metadata, &mut seeded)?;
    let bytes = model.encode();
    write(dir, "tokenizer.json", tokenizer_json.as_bytes())?;
    write(dir, "model.onnx", &bytes)?;
    let config = serde_json::to_string_pretty(&graph::genai_config(&graph_spec, SearchDefaults::GREEDY)).map_err(|e| LlmError::Config(e.to_string()))?;
    write(dir, "genai_config.json", config.as_bytes())?;
    let lora_inputs = lora_names(spec.layers).into_iter().flat_map(|(a, b)| [a, b]).collect();
    Ok(DemoSummary { vocab_size: vocab, parameters, model_bytes: bytes.len(), lora_inputs })
}

/// `(lora_A name, lora_B name)` for every adapted projection, layer by layer.
pub fn lora_names(layers: usize) -> Vec<(String, String)> {
    graph::lora_targets(layers).into_iter().map(|base| (format!("{base}.lora_A.weight"), format!("{base}.lora_B.weight"))).collect()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), LlmError> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).map_err(|e| LlmError::io(&path, e))
}

/// A byte-level BPE trained on the bundled corpus and the fallback templates (deterministic).
pub fn build_tokenizer(max_vocab: usize) -> Result<Tokenizer, LlmError> {
    train_tokenizer(CORPUS.lines().chain(FALLBACKS.lines()).map(str::to_owned), max_vocab)
}

/// Trains the project's byte-level BPE (the special tokens first, so the `phi3` chat template
/// and the stop ids apply) on `lines`; deterministic for the same lines. The demo model and the
/// server's recommendation model both use it.
pub fn train_tokenizer(lines: impl Iterator<Item = String> + Send, max_vocab: usize) -> Result<Tokenizer, LlmError> {
    let specials: Vec<AddedToken> = SPECIAL_TOKENS.iter().map(|t| AddedToken::from(*t, true)).collect();
    let mut trainer: TrainerWrapper = BpeTrainerBuilder::new()
        .show_progress(false)
        .vocab_size(max_vocab)
        .min_frequency(2)
        .special_tokens(specials)
        .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
        .build()
        .into();
    let mut tokenizer = Tokenizer::new(BPE::default());
    tokenizer.with_pre_tokenizer(Some(ByteLevel::new(false, true, true)));
    tokenizer.with_decoder(Some(ByteLevel::default()));
    tokenizer.train(&mut trainer, lines).map_err(|e| LlmError::Tokenizer(e.to_string()))?;
    Ok(tokenizer)
}
