//! The engine: a model folder in the onnxruntime-genai layout, its tokenizer and chat template,
//! KV-cache decoding with streaming, and LoRA adapters switched per run.
//!
//! Load-time validation compares the ONNX graph's declared inputs and outputs with
//! `genai_config.json`, so a wrong export fails at load with a message naming the input, not at
//! the first token.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ort::session::{Adapter, RunOptions, Session, SessionInputValue};
use ort::value::{DynValue, Tensor, TensorElementType, ValueType};
use serde::Serialize;
use tokenizers::Tokenizer;

use super::LlmError;
use super::adapter::AdapterFile;
use super::config::{GenaiConfig, layer_name};
use super::prompt::{ChatMessage, ChatTemplate};
use super::runtime::Runtime;
use super::sampling::{self, Rng, SamplingParams};
use super::stream::{CancelToken, TextStream};

/// How to load a model.
#[derive(Debug, Clone, Default)]
pub struct ModelOptions {
    /// The ONNX Runtime library (otherwise `ORT_DYLIB_PATH`, then beside the executable).
    pub runtime_library: Option<PathBuf>,
    /// Intra-op threads (otherwise genai_config's `intra_op_num_threads`, then ONNX Runtime's default).
    pub intra_threads: Option<usize>,
    /// A chat template family name, overriding detection.
    pub chat_template: Option<String>,
}

/// Limits and sampling for one generation.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    pub max_new_tokens: usize,
    pub sampling: SamplingParams,
    /// Extra stop strings (the chat template's turn markers are always added).
    pub stop_strings: Vec<String>,
    /// Wall-clock budget for the whole generation, prompt included.
    pub time_budget: Option<Duration>,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self { max_new_tokens: 64, sampling: SamplingParams::greedy(), stop_strings: Vec::new(), time_budget: None }
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    Eos,
    StopString,
    MaxTokens,
    ContextFull,
    TimeBudget,
    Cancelled,
}

/// One streamed step: the token chosen and the text that may now be shown (often empty while a
/// character or a possible stop string is incomplete).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEvent {
    pub token: u32,
    pub text: String,
}

/// The result of a generation, with timings.
#[derive(Debug, Clone, Serialize)]
pub struct Generation {
    pub prompt_tokens: usize,
    pub tokens: Vec<u32>,
    pub text: String,
    pub stop_reason: StopReason,
    /// From the call to the first generated token (tokenisation and prefill included).
    pub ms_first_token: f64,
    /// Mean time per token after the first (decode steps).
    pub ms_per_token: f64,
    pub ms_total: f64,
}

/// Shape and type of an input an adapter may set (a LoRA A or B matrix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterSlot {
    pub dims: Vec<i64>,
    pub onnx_type: i32,
}

/// A loaded model.
pub struct LanguageModel {
    session: Session,
    config: GenaiConfig,
    tokenizer: Tokenizer,
    template: ChatTemplate,
    names: IoNames,
    kv_heads: usize,
    head_size: usize,
    vocab: usize,
    adapter_slots: BTreeMap<String, AdapterSlot>,
    adapters: AdapterState,
    dir: PathBuf,
    /// A Migru recommendation model (its folder has `graph::SPEC_FILE`): prompted with the
    /// training context, not the chat template.
    context_prompted: bool,
}

/// Loaded adapters and the run options that activate one of them.
#[derive(Default)]
struct AdapterState {
    loaded: HashMap<String, Adapter>,
    active: Option<(String, RunOptions)>,
}

// SAFETY: `ort::session::Adapter` is `!Send` only because it holds an `Arc` around a raw pointer to
// an `OrtLoraAdapter`, which ONNX Runtime never mutates after loading and which has no thread
// affinity. Every clone of that `Arc` (the map entry and the one inside the active `RunOptions`)
// lives in this struct and moves with it; none escapes. `LanguageModel` only touches it through
// `&mut self`, so there is no concurrent access (the type is `Send`, not `Sync`).
unsafe impl Send for AdapterState {}

impl std::fmt::Debug for LanguageModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LanguageModel")
            .field("dir", &self.dir)
            .field("layers", &self.names.past_keys.len())
            .field("template", &self.template.family)
            .field("active_adapter", &self.active_adapter())
            .finish()
    }
}

/// The concrete input/output names, expanded per layer.
#[derive(Debug, Clone)]
struct IoNames {
    input_ids: String,
    attention_mask: String,
    position_ids: Option<String>,
    past_keys: Vec<String>,
    past_values: Vec<String>,
    logits: String,
    present_keys: Vec<String>,
    present_values: Vec<String>,
}

fn ort_err(e: impl Display) -> LlmError {
    LlmError::Ort(e.to_string())
}

impl LanguageModel {
    /// Loads and validates a model folder (`genai_config.json`, the decoder, `tokenizer.json`).
    pub fn load(dir: &Path, options: &ModelOptions) -> Result<Self, LlmError> {
        let config_text = read_file(dir, "genai_config.json")?;
        let config = GenaiConfig::parse(&config_text)?;
        let model_path = existing(dir, &config.model.decoder.filename)?;
        let tokenizer_path = existing(dir, "tokenizer.json")?;
        let tokenizer = Tokenizer::from_file(&tokenizer_path).map_err(|e| LlmError::Tokenizer(format!("{}: {e}", tokenizer_path.display())))?;
        let runtime = Runtime::init(options.runtime_library.as_deref())?;
        let mut builder = Session::builder(&runtime.env).map_err(ort_err)?;
        if let Some(threads) = options.intra_threads.or(config.model.decoder.session_options.intra_op_num_threads) {
            builder = builder.with_intra_threads(threads).map_err(ort_err)?;
        }
        let session = builder.commit_from_file(&model_path).map_err(|e| LlmError::ModelMismatch(format!("{}: {e}", model_path.display())))?;
        let template = match &options.chat_template {
            Some(family) => ChatTemplate::named(family)?,
            None => ChatTemplate::for_model(&config.model.model_type, |t| tokenizer.token_to_id(t).is_some())?,
        };
        let mut model = Self {
            session,
            names: expand_names(&config, 0),
            config,
            tokenizer,
            template,
            kv_heads: 0,
            head_size: 0,
            vocab: 0,
            adapter_slots: BTreeMap::new(),
            adapters: AdapterState::default(),
            dir: dir.to_path_buf(),
            context_prompted: dir.join(super::graph::SPEC_FILE).is_file(),
        };
        model.validate()?;
        tracing::info!(dir = %dir.display(), layers = model.names.past_keys.len(), vocab = model.vocab, template = %model.template.family, "language model loaded");
        Ok(model)
    }

    pub fn config(&self) -> &GenaiConfig {
        &self.config
    }

    pub fn template(&self) -> &ChatTemplate {
        &self.template
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Whether this is a Migru recommendation model, trained on `ab::recommendation_context`
    /// prompts (its folder carries `graph::SPEC_FILE`).
    pub fn is_context_prompted(&self) -> bool {
        self.context_prompted
    }

    /// Inputs an adapter may set, by name.
    pub fn adapter_slots(&self) -> &BTreeMap<String, AdapterSlot> {
        &self.adapter_slots
    }

    /// Checks the graph against the config and records the KV geometry and adapter inputs.
    fn validate(&mut self) -> Result<(), LlmError> {
        let inputs: HashMap<String, ValueType> = self.session.inputs().iter().map(|i| (i.name().to_string(), i.dtype().clone())).collect();
        let outputs: HashMap<String, ValueType> = self.session.outputs().iter().map(|o| (o.name().to_string(), o.dtype().clone())).collect();
        let layers = match self.config.model.decoder.num_hidden_layers {
            Some(n) => n,
            None => (0..).take_while(|&l| inputs.contains_key(&layer_name(&self.config.model.decoder.inputs.past_key_names, l))).count(),
        };
        if layers == 0 {
            return Err(LlmError::ModelMismatch(format!(
                "no past key input named like {:?}",
                self.config.model.decoder.inputs.past_key_names
            )));
        }
        self.names = expand_names(&self.config, layers);
        if !inputs.contains_key(&self.config.model.decoder.inputs.position_ids) {
            self.names.position_ids = None;
        }
        expect_tensor(&inputs, &self.names.input_ids, TensorElementType::Int64, 2, "input")?;
        expect_tensor(&inputs, &self.names.attention_mask, TensorElementType::Int64, 2, "input")?;
        if let Some(p) = &self.names.position_ids {
            expect_tensor(&inputs, p, TensorElementType::Int64, 2, "input")?;
        }
        let mut kv_dims = Vec::new();
        for name in self.names.past_keys.iter().chain(&self.names.past_values) {
            kv_dims.push(expect_tensor(&inputs, name, TensorElementType::Float32, 4, "input")?);
        }
        for name in self.names.present_keys.iter().chain(&self.names.present_values) {
            expect_tensor(&outputs, name, TensorElementType::Float32, 4, "output")?;
        }
        let logits = expect_tensor(&outputs, &self.names.logits, TensorElementType::Float32, 3, "output")?;
        self.kv_heads = geometry(&kv_dims, 1, self.config.model.decoder.num_key_value_heads, "num_key_value_heads")?;
        self.head_size = geometry(&kv_dims, 3, self.config.model.decoder.head_size, "head_size")?;
        self.vocab = self.check_vocab(logits[2])?;
        let known: Vec<&String> = [&self.names.input_ids, &self.names.attention_mask].into_iter()
            .chain(self.names.position_ids.as_ref())
            .chain(&self.names.past_keys)
            .chain(&self.names.past_values)
            .collect();
        if let Some(extra) = inputs.keys().find(|k| !known.contains(k)) {
            return Err(LlmError::ModelMismatch(format!("the model needs input {extra:?}, which genai_config.json does not describe")));
        }
        self.adapter_slots = self
            .session
            .overridable_initializers()
            .iter()
            .filter_map(|init| match init.dtype() {
                ValueType::Tensor { ty, shape, .. } => {
                    Some((init.name().to_string(), AdapterSlot { dims: shape.to_vec(), onnx_type: onnx_type(*ty) }))
                }
                _ => None,
            })
            .collect();
        Ok(())
    }

    fn check_vocab(&self, logits_dim: i64) -> Result<usize, LlmError> {
        let tokenizer_vocab = self.tokenizer.get_vocab_size(true);
        let config_vocab = self.config.model.vocab_size;
        let vocab = if logits_dim > 0 { logits_dim as usize } else if config_vocab > 0 { config_vocab } else { tokenizer_vocab };
        if config_vocab > 0 && config_vocab != vocab {
            return Err(LlmError::ModelMismatch(format!("logits have {vocab} entries but vocab_size is {config_vocab}")));
        }
        if tokenizer_vocab > vocab {
            return Err(LlmError::ModelMismatch(format!("tokenizer has {tokenizer_vocab} tokens, the model only {vocab}")));
        }
        if let Some(eos) = self.config.model.eos_token_id.iter().find(|&&id| id as usize >= vocab) {
            return Err(LlmError::ModelMismatch(format!("eos_token_id {eos} is outside the vocabulary of {vocab}")));
        }
        Ok(vocab)
    }

    /// The prompt text for chat messages in this model's template.
    pub fn render(&self, messages: &[ChatMessage]) -> String {
        self.template.render(messages)
    }

    pub fn encode(&self, text: &str) -> Result<Vec<u32>, LlmError> {
        let encoding = self.tokenizer.encode(text, false).map_err(|e| LlmError::Tokenizer(e.to_string()))?;
        Ok(encoding.get_ids().to_vec())
    }

    pub fn decode(&self, ids: &[u32]) -> Result<String, LlmError> {
        self.tokenizer.decode(ids, true).map_err(|e| LlmError::Tokenizer(e.to_string()))
    }

    /// Generates from prompt text (already in the chat template, if chatting).
    pub fn generate(
        &mut self,
        prompt: &str,
        options: &GenerateOptions,
        cancel: &CancelToken,
        on_token: &mut dyn FnMut(&StreamEvent),
    ) -> Result<Generation, LlmError> {
        let started = Instant::now();
        let ids = self.encode(prompt)?;
        self.generate_ids(&ids, options, cancel, on_token, started)
    }

    /// Generates from token ids; `started` is when the caller's clock began (for time to first token).
    pub fn generate_ids(
        &mut self,
        prompt_ids: &[u32],
        options: &GenerateOptions,
        cancel: &CancelToken,
        on_token: &mut dyn FnMut(&StreamEvent),
        started: Instant,
    ) -> Result<Generation, LlmError> {
        let context = self.config.model.context_length;
        if prompt_ids.is_empty() || prompt_ids.len() >= context {
            return Err(LlmError::PromptTooLong { tokens: prompt_ids.len(), context });
        }
        if let Some(bad) = prompt_ids.iter().find(|&&id| id as usize >= self.vocab) {
            return Err(LlmError::Tokenizer(format!("token id {bad} is outside the vocabulary of {}", self.vocab)));
        }
        let mut stops = self.template.stop.clone();
        stops.extend(options.stop_strings.iter().cloned());
        let mut stream = TextStream::new(stops);
        let mut rng = Rng::new(options.sampling.seed);
        let mut all: Vec<u32> = prompt_ids.to_vec();
        let mut generated: Vec<u32> = Vec::new();
        let mut past = self.empty_past()?;
        let mut step_ids: Vec<u32> = prompt_ids.to_vec();
        let mut first_token_at = None;
        let stop_reason = loop {
            if cancel.is_cancelled() {
                break StopReason::Cancelled;
            }
            if options.time_budget.is_some_and(|b| started.elapsed() >= b) {
                break StopReason::TimeBudget;
            }
            let (mut logits, next_past) = self.step(&step_ids, all.len(), past)?;
            past = next_past;
            let next = sampling::choose(&mut logits, &all, &options.sampling, &mut rng);
            first_token_at.get_or_insert_with(Instant::now);
            if self.config.model.eos_token_id.contains(&next) {
                break StopReason::Eos;
            }
            generated.push(next);
            all.push(next);
            let step = stream.update(&self.decode(&generated)?);
            on_token(&StreamEvent { token: next, text: step.emit });
            if step.stopped {
                break StopReason::StopString;
            }
            if generated.len() >= options.max_new_tokens {
                break StopReason::MaxTokens;
            }
            if all.len() >= context {
                break StopReason::ContextFull;
            }
            step_ids = vec![next];
        };
        let decoded = self.decode(&generated)?;
        let tail = stream.finish(&decoded);
        if !tail.is_empty() {
            on_token(&StreamEvent { token: *generated.last().unwrap_or(&0), text: tail });
        }
        let text = stream.stopped_text().map_or_else(|| decoded.trim_end_matches('\u{FFFD}').to_string(), str::to_owned);
        let ended = Instant::now();
        let first = first_token_at.unwrap_or(ended);
        let decode_steps = generated.len().saturating_sub(1).max(1);
        Ok(Generation {
            prompt_tokens: prompt_ids.len(),
            tokens: generated,
            text,
            stop_reason,
            ms_first_token: ms(first - started),
            ms_per_token: ms(ended - first) / decode_steps as f64,
            ms_total: ms(ended - started),
        })
    }

    fn empty_past(&self) -> Result<Vec<DynValue>, LlmError> {
        let layers = self.names.past_keys.len();
        (0..2 * layers)
            .map(|_| {
                Tensor::<f32>::from_array(([1usize, self.kv_heads, 0, self.head_size], Vec::<f32>::new()))
                    .map(|t| t.into_dyn())
                    .map_err(ort_err)
            })
            .collect()
    }

    /// One forward pass over `ids` (the new tokens); `total` counts all tokens so far. Returns the
    /// last row of logits and the KV cache to feed next.
    fn step(&mut self, ids: &[u32], total: usize, past: Vec<DynValue>) -> Result<(Vec<f32>, Vec<DynValue>), LlmError> {
        let seq = ids.len();
        let past_len = total - seq;
        let mut inputs: Vec<(Cow<'_, str>, SessionInputValue<'_>)> = Vec::with_capacity(3 + past.len());
        let tensor = |shape: [usize; 2], data: Vec<i64>| Tensor::<i64>::from_array((shape, data)).map_err(ort_err);
        inputs.push((self.names.input_ids.as_str().into(), tensor([1, seq], ids.iter().map(|&i| i64::from(i)).collect())?.into()));
        inputs.push((self.names.attention_mask.as_str().into(), tensor([1, total], vec![1; total])?.into()));
        if let Some(p) = &self.names.position_ids {
            inputs.push((p.as_str().into(), tensor([1, seq], (past_len as i64..total as i64).collect())?.into()));
        }
        let layers = self.names.past_keys.len();
        for (i, value) in past.into_iter().enumerate() {
            let name = if i < layers { &self.names.past_keys[i] } else { &self.names.past_values[i - layers] };
            inputs.push((name.as_str().into(), value.into()));
        }
        let mut outputs = match &self.adapters.active {
            Some((_, run_options)) => self.session.run_with_options(inputs, run_options).map_err(ort_err)?,
            None => self.session.run(inputs).map_err(ort_err)?,
        };
        let logits = {
            let value = outputs.get(&self.names.logits).ok_or_else(|| LlmError::ModelMismatch("no logits output".into()))?;
            let (shape, data) = value.try_extract_tensor::<f32>().map_err(ort_err)?;
            let vocab = *shape.last().unwrap_or(&0) as usize;
            if vocab == 0 || data.len() < vocab {
                return Err(LlmError::ModelMismatch(format!("logits of shape {:?}", shape.to_vec())));
            }
            data[data.len() - vocab..].to_vec()
        };
        let mut next_past = Vec::with_capacity(2 * layers);
        for name in self.names.present_keys.iter().chain(&self.names.present_values) {
            next_past.push(outputs.remove(name).ok_or_else(|| LlmError::ModelMismatch(format!("no output {name:?}")))?);
        }
        Ok((logits, next_past))
    }

    /// Checks an adapter against the model's adapter inputs: every parameter must name one, with
    /// the same element type and rank and matching fixed dimensions.
    pub fn check_adapter(&self, adapter: &AdapterFile) -> Result<(), LlmError> {
        if adapter.params.is_empty() {
            return Err(LlmError::Adapter("the adapter has no parameters".into()));
        }
        for p in &adapter.params {
            let slot = self.adapter_slots.get(&p.name).ok_or_else(|| {
                LlmError::Adapter(format!("parameter {:?} is not an input of the model", p.name))
            })?;
            if slot.onnx_type != p.data_type {
                return Err(LlmError::Adapter(format!("parameter {:?} has type {} but the model expects {}", p.name, p.data_type, slot.onnx_type)));
            }
            let fits = slot.dims.len() == p.dims.len() && slot.dims.iter().zip(&p.dims).all(|(&m, &a)| m < 0 || m == a || (m == 0 && a >= 0));
            if !fits {
                return Err(LlmError::Adapter(format!("parameter {:?} has shape {:?} but the model expects {:?}", p.name, p.dims, slot.dims)));
            }
        }
        Ok(())
    }

    /// Loads (and checks) an adapter file under `name`, without activating it.
    pub fn load_adapter(&mut self, name: &str, path: &Path) -> Result<(), LlmError> {
        let bytes = std::fs::read(path).map_err(|e| LlmError::io(path, e))?;
        self.load_adapter_bytes(name, &bytes)
    }

    pub fn load_adapter_bytes(&mut self, name: &str, bytes: &[u8]) -> Result<(), LlmError> {
        let file = AdapterFile::from_bytes(bytes)?;
        self.check_adapter(&file)?;
        let adapter = Adapter::from_memory(bytes, None).map_err(|e| LlmError::Adapter(e.to_string()))?;
        self.adapters.loaded.insert(name.to_string(), adapter);
        if self.active_adapter() == Some(name) {
            self.set_active_adapter(Some(name))?;
        }
        Ok(())
    }

    /// Activates a loaded adapter (one at a time), or none; the model is not reloaded.
    pub fn set_active_adapter(&mut self, name: Option<&str>) -> Result<(), LlmError> {
        self.adapters.active = match name {
            None => None,
            Some(name) => {
                let adapter = self.adapters.loaded.get(name).ok_or_else(|| LlmError::Adapter(format!("no adapter loaded as {name:?}")))?;
                let mut run_options = RunOptions::new().map_err(ort_err)?;
                run_options.add_adapter(adapter).map_err(ort_err)?;
                Some((name.to_string(), run_options))
            }
        };
        Ok(())
    }

    pub fn active_adapter(&self) -> Option<&str> {
        self.adapters.active.as_ref().map(|(n, _)| n.as_str())
    }

    /// Forgets an adapter (deactivating it if active).
    pub fn unload_adapter(&mut self, name: &str) {
        if self.active_adapter() == Some(name) {
            self.adapters.active = None;
        }
        self.adapters.loaded.remove(name);
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn read_file(dir: &Path, name: &str) -> Result<String, LlmError> {
    let path = existing(dir, name)?;
    std::fs::read_to_string(&path).map_err(|e| LlmError::io(&path, e))
}

fn existing(dir: &Path, name: &str) -> Result<PathBuf, LlmError> {
    let path = dir.join(name);
    if path.is_file() { Ok(path) } else { Err(LlmError::MissingFile { dir: dir.to_path_buf(), file: name.to_string() }) }
}

fn expand_names(config: &GenaiConfig, layers: usize) -> IoNames {
    let d = &config.model.decoder;
    let per_layer = |pattern: &str| (0..layers).map(|l| layer_name(pattern, l)).collect::<Vec<_>>();
    IoNames {
        input_ids: d.inputs.input_ids.clone(),
        attention_mask: d.inputs.attention_mask.clone(),
        position_ids: Some(d.inputs.position_ids.clone()),
        past_keys: per_layer(&d.inputs.past_key_names),
        past_values: per_layer(&d.inputs.past_value_names),
        logits: d.outputs.logits.clone(),
        present_keys: per_layer(&d.outputs.present_key_names),
        present_values: per_layer(&d.outputs.present_value_names),
    }
}

/// The declared dims of a tensor input/output after checking its element type and rank.
fn expect_tensor(
    declared: &HashMap<String, ValueType>,
    name: &str,
    ty: TensorElementType,
    rank: usize,
    kind: &str,
) -> Result<Vec<i64>, LlmError> {
    match declared.get(name) {
        None => {
            let mut names: Vec<&String> = declared.keys().collect();
            names.sort();
            Err(LlmError::ModelMismatch(format!("the model has no {kind} {name:?} (it has {names:?})")))
        }
        Some(ValueType::Tensor { ty: actual, shape, .. }) if *actual == ty && shape.len() == rank => Ok(shape.to_vec()),
        Some(other) => Err(LlmError::ModelMismatch(format!("{kind} {name:?} is {other:?}, expected a rank-{rank} {ty:?} tensor"))),
    }
}

/// A KV dimension: the graph's fixed value, checked against the config's, or the config's.
fn geometry(kv_dims: &[Vec<i64>], axis: usize, configured: Option<usize>, field: &str) -> Result<usize, LlmError> {
    let fixed: Vec<i64> = kv_dims.iter().map(|d| d[axis]).filter(|&d| d > 0).collect();
    if let Some(first) = fixed.first() {
        if fixed.iter().any(|d| d != first) {
            return Err(LlmError::ModelMismatch(format!("past key/value inputs disagree on {field}: {fixed:?}")));
        }
        if let Some(c) = configured.filter(|&c| c as i64 != *first) {
            return Err(LlmError::ModelMismatch(format!("genai_config.json says {field} = {c}, the model's past inputs have {first}")));
        }
        return Ok(*first as usize);
    }
    configured.ok_or_else(|| LlmError::Config(format!("genai_config.json lacks model.decoder.{field} and the model does not fix it")))
}

/// ONNX `TensorProto.DataType` of an element type.
fn onnx_type(ty: TensorElementType) -> i32 {
    match ty {
        TensorElementType::Float32 => 1,
        TensorElementType::Uint8 => 2,
        TensorElementType::Int8 => 3,
        TensorElementType::Int32 => 6,
        TensorElementType::Int64 => 7,
        TensorElementType::Float16 => 10,
        TensorElementType::Float64 => 11,
        TensorElementType::Bfloat16 => 16,
        _ => 0,
    }
}
