//! Export to the on-device model folder (onnxruntime-genai layout) and to ONNX Runtime adapter files.
//!
//! The graph is the core's (`migru_core::llm::graph`, the one the demo model uses: attention bias from the
//! attention mask, KV cache inputs and outputs, LoRA inputs `….lora_A.weight [hidden, lora_rank]` /
//! `….lora_B.weight [lora_rank, hidden]` with rank-0 initializers), with the trained weights as
//! initializers (LayerNorm gains and biases included). The folder also keeps `weights.safetensors`
//! and `migru_model.json` for the server; the phone's engine ignores both.

use std::path::Path;

use migru_core::llm::adapter::{AdapterFile, AdapterParam};
use migru_core::llm::LlmError;
use migru_core::llm::graph::{self, Init, SearchDefaults};
use migru_core::llm::onnx_proto::Model as OnnxModel;
use tokenizers::Tokenizer;

use super::TrainingError;
use super::model::{Lora, Model, ModelSpec};

/// Files of a model folder.
pub const WEIGHTS_FILE: &str = "weights.safetensors";
pub const SPEC_FILE: &str = migru_core::llm::graph::SPEC_FILE;

/// What the server keeps beside the ONNX export.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ModelInfo {
    pub spec: ModelSpec,
    /// Identifies the base weights; adapters carry it as their `model_version`.
    pub model_version: i32,
    pub seed: u64,
}

/// Writes `genai_config.json`, `model.onnx`, `tokenizer.json`, `weights.safetensors` and
/// `migru_model.json` into `dir`.
pub fn write_model_folder(dir: &Path, model: &Model, tokenizer: &Tokenizer, info: &ModelInfo) -> Result<(), TrainingError> {
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let onnx = build_graph(model)?.encode();
    write(dir, "model.onnx", &onnx)?;
    let tok = tokenizer.to_string(true).map_err(|e| TrainingError::Tokenizer(e.to_string()))?;
    write(dir, "tokenizer.json", tok.as_bytes())?;
    let config = serde_json::to_vec_pretty(&graph::genai_config(&model.spec, SEARCH)).map_err(|e| TrainingError::Model(e.to_string()))?;
    write(dir, "genai_config.json", &config)?;
    write(dir, SPEC_FILE, &serde_json::to_vec_pretty(info).map_err(|e| TrainingError::Model(e.to_string()))?)?;
    model.save(&dir.join(WEIGHTS_FILE))
}

/// Reads a model folder written by `write_model_folder`.
pub fn read_model_folder(dir: &Path) -> Result<(Model, Tokenizer, ModelInfo), TrainingError> {
    let info_path = dir.join(SPEC_FILE);
    let text = std::fs::read_to_string(&info_path).map_err(|e| io(&info_path, e))?;
    let info: ModelInfo = serde_json::from_str(&text).map_err(|e| TrainingError::Model(format!("{}: {e}", info_path.display())))?;
    let tok_path = dir.join("tokenizer.json");
    let tokenizer = Tokenizer::from_file(&tok_path).map_err(|e| TrainingError::Tokenizer(format!("{}: {e}", tok_path.display())))?;
    let model = Model::load(&info.spec, &dir.join(WEIGHTS_FILE))?;
    Ok((model, tokenizer, info))
}

/// The adapter file for `lora`: for each target `A [hidden, rank]` and `B · alpha/rank [rank, hidden]`.
pub fn adapter_file(lora: &Lora, adapter_version: i32, model_version: i32) -> Result<AdapterFile, TrainingError> {
    let mut params = Vec::new();
    for (target, a_dims, a, b_dims, b) in lora.export()? {
        params.push(AdapterParam::f32(format!("{target}.lora_A.weight"), a_dims.iter().map(|&d| d as i64).collect(), &a));
        params.push(AdapterParam::f32(format!("{target}.lora_B.weight"), b_dims.iter().map(|&d| d as i64).collect(), &b));
    }
    Ok(AdapterFile::new(adapter_version, model_version, params))
}

/// Reads an adapter file back into a LoRA for `spec` (names and shapes checked).
pub fn lora_from_file(spec: &ModelSpec, file: &AdapterFile) -> Result<Lora, TrainingError> {
    use candle_core::{Device, Tensor};
    let mut pairs = std::collections::BTreeMap::new();
    let mut rank = None;
    for target in spec.lora_targets() {
        let find = |suffix: &str| {
            let name = format!("{target}.{suffix}");
            let p = file.params.iter().find(|p| p.name == name).ok_or_else(|| TrainingError::Adapter(format!("adapter lacks {name}")))?;
            let values = p.f32_values().ok_or_else(|| TrainingError::Adapter(format!("{name} is not float32")))?;
            let dims: Vec<usize> = p.dims.iter().map(|&d| usize::try_from(d).unwrap_or(0)).collect();
            Ok::<_, TrainingError>((dims, values))
        };
        let (a_dims, a) = find("lora_A.weight")?;
        let (b_dims, b) = find("lora_B.weight")?;
        let r = *a_dims.get(1).unwrap_or(&0);
        if a_dims != [spec.hidden, r] || b_dims != [r, spec.hidden] || r == 0 || rank.is_some_and(|k| k != r) {
            return Err(TrainingError::Adapter(format!("{target}: shapes {a_dims:?} / {b_dims:?} do not fit hidden size {}", spec.hidden)));
        }
        rank = Some(r);
        pairs.insert(target, (Tensor::from_vec(a, (spec.hidden, r), &Device::Cpu)?, Tensor::from_vec(b, (r, spec.hidden), &Device::Cpu)?));
    }
    Lora::from_pairs(rank.unwrap_or(1), pairs)
}

fn io(path: &Path, e: std::io::Error) -> TrainingError {
    TrainingError::Model(format!("{}: {e}", path.display()))
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), TrainingError> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).map_err(|e| io(&path, e))
}

/// Sampling defaults of the exported folder (the pretraining samples' temperature).
const SEARCH: SearchDefaults = SearchDefaults { do_sample: true, temperature: 0.8, top_k: 50 };

/// The ONNX graph of `model`: the core's graph (`migru_core::llm::graph`, the demo model's) with
/// the trained weights, each checked against the shape the graph expects.
pub fn build_graph(model: &Model) -> Result<OnnxModel, TrainingError> {
    let mut trained = |name: &str, dims: &[usize], _: Init| {
        let values = model.weight(name).and_then(|t| {
            if t.dims() != dims {
                return Err(TrainingError::Model(format!("has shape {:?}, the graph needs {dims:?}", t.dims())));
            }
            Ok(t.flatten_all()?.to_vec1::<f32>()?)
        });
        values.map_err(|e| LlmError::Config(format!("weight {name}: {e}")))
    };
    let metadata = vec![("migru.model".into(), "recommendation".into())];
    Ok(graph::build_graph(&model.spec, "migru_recommender", metadata, &mut trained)?)
}
