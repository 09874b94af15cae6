//! Export to the on-device model folder (onnxruntime-genai layout) and to ONNX Runtime adapter files.
//!
//! The graph is node for node the one `migru_core::llm::demo` writes (attention bias from the
//! attention mask, KV cache inputs and outputs, LoRA inputs `….lora_A.weight [hidden, lora_rank]` /
//! `….lora_B.weight [lora_rank, hidden]` with rank-0 initializers), with the trained weights as
//! initializers (LayerNorm gains and biases included). The folder also keeps `weights.safetensors`
//! and `migru_model.json` for the server; the phone's engine ignores both.

use std::path::Path;

use migru_core::llm::adapter::{AdapterFile, AdapterParam};
use migru_core::llm::onnx_proto::{Attr, DataType, Dim, Model as OnnxModel, Node, Tensor as OnnxTensor, ValueInfo};
use serde_json::json;
use tokenizers::Tokenizer;

use super::TrainingError;
use super::model::{Lora, Model, ModelSpec};

/// Files of a model folder.
pub const WEIGHTS_FILE: &str = "weights.safetensors";
pub const SPEC_FILE: &str = "migru_model.json";

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
    let config = serde_json::to_vec_pretty(&genai_config(&model.spec)).map_err(|e| TrainingError::Model(e.to_string()))?;
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

fn genai_config(spec: &ModelSpec) -> serde_json::Value {
    json!({
        "model": {
            "bos_token_id": 0,
            "context_length": spec.context_length,
            "decoder": {
                "filename": "model.onnx",
                "head_size": spec.head_dim(),
                "hidden_size": spec.hidden,
                "inputs": {
                    "input_ids": "input_ids",
                    "attention_mask": "attention_mask",
                    "position_ids": "position_ids",
                    "past_key_names": "past_key_values.%d.key",
                    "past_value_names": "past_key_values.%d.value"
                },
                "outputs": {
                    "logits": "logits",
                    "present_key_names": "present.%d.key",
                    "present_value_names": "present.%d.value"
                },
                "num_attention_heads": spec.heads,
                "num_hidden_layers": spec.layers,
                "num_key_value_heads": spec.heads,
                "session_options": { "log_id": "onnxruntime-genai", "provider_options": [] }
            },
            "eos_token_id": [0, 4],
            "pad_token_id": 0,
            "type": "llama",
            "vocab_size": spec.vocab
        },
        "search": {
            "diversity_penalty": 0.0,
            "do_sample": true,
            "early_stopping": true,
            "length_penalty": 1.0,
            "max_length": spec.context_length,
            "min_length": 0,
            "no_repeat_ngram_size": 0,
            "num_beams": 1,
            "num_return_sequences": 1,
            "past_present_share_buffer": false,
            "repetition_penalty": 1.0,
            "temperature": 0.8,
            "top_k": 50,
            "top_p": 1.0
        }
    })
}

struct Graph<'a> {
    onnx: OnnxModel,
    model: &'a Model,
    counter: usize,
}

impl Graph<'_> {
    fn op(&mut self, op: &str, inputs: &[&str], attributes: Vec<(&str, Attr)>) -> String {
        self.counter += 1;
        let out = format!("{}_{}", op.to_lowercase(), self.counter);
        self.op_named(op, inputs, attributes, &out);
        out
    }

    fn op_named(&mut self, op: &str, inputs: &[&str], attributes: Vec<(&str, Attr)>, output: &str) {
        self.counter += 1;
        self.onnx.nodes.push(Node {
            op_type: op.into(),
            name: format!("n{}_{op}", self.counter),
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            outputs: vec![output.into()],
            attributes: attributes.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        });
    }

    /// Adds the trained weight `name` as an initializer.
    fn weight(&mut self, name: &str) -> Result<String, TrainingError> {
        let t = self.model.weight(name)?;
        let dims = t.dims().iter().map(|&d| d as i64).collect();
        let values = t.flatten_all()?.to_vec1::<f32>()?;
        self.onnx.initializers.push(OnnxTensor::f32(name, dims, &values));
        Ok(name.into())
    }

    fn constant_f32(&mut self, name: &str, value: f32) -> String {
        self.onnx.initializers.push(OnnxTensor::f32(name, vec![], &[value]));
        name.into()
    }

    fn constant_i64(&mut self, name: &str, dims: Vec<i64>, values: &[i64]) -> String {
        self.onnx.initializers.push(OnnxTensor::i64(name, dims, values));
        name.into()
    }

    fn layer_norm(&mut self, x: &str, prefix: &str) -> Result<String, TrainingError> {
        let gamma = self.weight(&format!("{prefix}.weight"))?;
        let beta = self.weight(&format!("{prefix}.bias"))?;
        Ok(self.op("LayerNormalization", &[x, &gamma, &beta], vec![("axis", Attr::Int(-1)), ("epsilon", Attr::Float(1e-5))]))
    }

    fn lora_projection(&mut self, x: &str, base: &str, hidden: usize) -> Result<String, TrainingError> {
        let w = self.weight(&format!("{base}.weight"))?;
        let a = format!("{base}.lora_A.weight");
        let b = format!("{base}.lora_B.weight");
        for (name, dims, init) in [
            (&a, vec![Dim::Fixed(hidden as i64), Dim::Named("lora_rank".into())], vec![hidden as i64, 0]),
            (&b, vec![Dim::Named("lora_rank".into()), Dim::Fixed(hidden as i64)], vec![0, hidden as i64]),
        ] {
            self.onnx.inputs.push(ValueInfo { name: name.clone(), data_type: DataType::Float, dims });
            self.onnx.initializers.push(OnnxTensor::f32(name.clone(), init, &[]));
        }
        let base_out = self.op("MatMul", &[x, &w], vec![]);
        let down = self.op("MatMul", &[x, &a], vec![]);
        let up = self.op("MatMul", &[&down, &b], vec![]);
        Ok(self.op("Add", &[&base_out, &up], vec![]))
    }
}

/// The ONNX graph of `model` (the demo model's graph with these weights).
pub fn build_graph(model: &Model) -> Result<OnnxModel, TrainingError> {
    let spec = &model.spec;
    let (d, h, hd) = (spec.hidden, spec.heads, spec.head_dim());
    let mut g = Graph { onnx: OnnxModel { graph_name: "migru_recommender".into(), opset: 17, ..OnnxModel::default() }, model, counter: 0 };
    g.onnx.metadata = vec![("migru.model".into(), "recommendation".into())];
    declare_io(&mut g.onnx, spec);

    let one_idx = g.constant_i64("const.idx1", vec![], &[1]);
    let zero = g.constant_i64("const.zero", vec![], &[0]);
    let step = g.constant_i64("const.one", vec![], &[1]);
    let axes1 = g.constant_i64("const.axes1", vec![1], &[1]);
    let shape_ids = g.op("Shape", &["input_ids"], vec![]);
    let seq = g.op("Gather", &[&shape_ids, &one_idx], vec![("axis", Attr::Int(0))]);
    let shape_mask = g.op("Shape", &["attention_mask"], vec![]);
    let total = g.op("Gather", &[&shape_mask, &one_idx], vec![("axis", Attr::Int(0))]);
    let past = g.op("Sub", &[&total, &seq], vec![]);
    let key_pos = g.op("Range", &[&zero, &total, &step], vec![]);
    let query_pos = g.op("Range", &[&past, &total, &step], vec![]);
    let query_col = g.op("Unsqueeze", &[&query_pos, &axes1], vec![]);
    let causal = g.op("LessOrEqual", &[&key_pos, &query_col], vec![]);
    let mask_bool = g.op("Cast", &["attention_mask"], vec![("to", Attr::Int(DataType::Bool as i64))]);
    let allowed = g.op("And", &[&causal, &mask_bool], vec![]);
    let zero_f = g.constant_f32("const.zero_f", 0.0);
    let neg_f = g.constant_f32("const.neg_f", -1e9);
    let bias = g.op("Where", &[&allowed, &zero_f, &neg_f], vec![]);

    let embed = g.weight("model.embed_tokens.weight")?;
    let pos_embed = g.weight("model.embed_positions.weight")?;
    let tok = g.op("Gather", &[&embed, "input_ids"], vec![("axis", Attr::Int(0))]);
    let pos = g.op("Gather", &[&pos_embed, "position_ids"], vec![("axis", Attr::Int(0))]);
    let mut x = g.op("Add", &[&tok, &pos], vec![]);

    let split_heads = g.constant_i64("const.split_heads", vec![4], &[0, 0, h as i64, hd as i64]);
    let merge_heads = g.constant_i64("const.merge_heads", vec![3], &[0, 0, d as i64]);
    let scale = g.constant_f32("const.attn_scale", 1.0 / (hd as f32).sqrt());
    for layer in 0..spec.layers {
        let p = format!("model.layers.{layer}");
        let normed = g.layer_norm(&x, &format!("{p}.input_layernorm"))?;
        let mut heads = Vec::new();
        for t in ["q_proj", "k_proj", "v_proj"] {
            let proj = g.lora_projection(&normed, &format!("{p}.attn.{t}"), d)?;
            let split = g.op("Reshape", &[&proj, &split_heads], vec![]);
            heads.push(g.op("Transpose", &[&split], vec![("perm", Attr::Ints(vec![0, 2, 1, 3]))]));
        }
        let present_k = format!("present.{layer}.key");
        let present_v = format!("present.{layer}.value");
        g.op_named("Concat", &[&format!("past_key_values.{layer}.key"), &heads[1]], vec![("axis", Attr::Int(2))], &present_k);
        g.op_named("Concat", &[&format!("past_key_values.{layer}.value"), &heads[2]], vec![("axis", Attr::Int(2))], &present_v);
        let k_t = g.op("Transpose", &[&present_k], vec![("perm", Attr::Ints(vec![0, 1, 3, 2]))]);
        let scores = g.op("MatMul", &[&heads[0], &k_t], vec![]);
        let scaled = g.op("Mul", &[&scores, &scale], vec![]);
        let masked = g.op("Add", &[&scaled, &bias], vec![]);
        let probs = g.op("Softmax", &[&masked], vec![("axis", Attr::Int(-1))]);
        let context = g.op("MatMul", &[&probs, &present_v], vec![]);
        let context_t = g.op("Transpose", &[&context], vec![("perm", Attr::Ints(vec![0, 2, 1, 3]))]);
        let merged = g.op("Reshape", &[&context_t, &merge_heads], vec![]);
        let attn_out = g.lora_projection(&merged, &format!("{p}.attn.o_proj"), d)?;
        x = g.op("Add", &[&x, &attn_out], vec![]);

        let normed2 = g.layer_norm(&x, &format!("{p}.post_attention_layernorm"))?;
        let w1 = g.weight(&format!("{p}.mlp.up_proj.weight"))?;
        let w2 = g.weight(&format!("{p}.mlp.down_proj.weight"))?;
        let up = g.op("MatMul", &[&normed2, &w1], vec![]);
        let gate = g.op("Sigmoid", &[&up], vec![]);
        let act = g.op("Mul", &[&up, &gate], vec![]);
        let down = g.op("MatMul", &[&act, &w2], vec![]);
        x = g.op("Add", &[&x, &down], vec![]);
    }
    let final_norm = g.layer_norm(&x, "model.norm")?;
    let lm_head = g.weight("lm_head.weight")?;
    g.op_named("MatMul", &[&final_norm, &lm_head], vec![], "logits");
    Ok(g.onnx)
}

fn declare_io(model: &mut OnnxModel, spec: &ModelSpec) {
    let named = |s: &str| Dim::Named(s.into());
    let (h, hd) = (spec.heads as i64, spec.head_dim() as i64);
    for name in ["input_ids", "position_ids"] {
        model.inputs.push(ValueInfo { name: name.into(), data_type: DataType::Int64, dims: vec![named("batch_size"), named("sequence_length")] });
    }
    model.inputs.push(ValueInfo {
        name: "attention_mask".into(),
        data_type: DataType::Int64,
        dims: vec![named("batch_size"), named("total_sequence_length")],
    });
    for layer in 0..spec.layers {
        for kind in ["key", "value"] {
            model.inputs.push(ValueInfo {
                name: format!("past_key_values.{layer}.{kind}"),
                data_type: DataType::Float,
                dims: vec![named("batch_size"), Dim::Fixed(h), named("past_sequence_length"), Dim::Fixed(hd)],
            });
            model.outputs.push(ValueInfo {
                name: format!("present.{layer}.{kind}"),
                data_type: DataType::Float,
                dims: vec![named("batch_size"), Dim::Fixed(h), named("total_sequence_length"), Dim::Fixed(hd)],
            });
        }
    }
    model.outputs.insert(0, ValueInfo {
        name: "logits".into(),
        data_type: DataType::Float,
        dims: vec![named("batch_size"), named("sequence_length"), Dim::Fixed(spec.vocab as i64)],
    });
}
