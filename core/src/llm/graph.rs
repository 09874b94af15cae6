//! The project's decoder-only transformer as an ONNX graph (onnxruntime-genai layout), written
//! node by node: one graph for the demo model (`demo`, seeded weights) and the server's trained
//! recommendation model (`migru-server`'s `training::export`, trained weights), so the phone runs
//! exactly what the server trained.
//!
//! Architecture: learned token and position embeddings, pre-norm blocks (multi-head attention with
//! a KV cache, SiLU MLP), untied output projection. Every attention projection carries LoRA inputs
//! `….lora_A.weight` `[hidden, lora_rank]` and `….lora_B.weight` `[lora_rank, hidden]` whose
//! initializers have rank 0, so the model runs unchanged until an adapter supplies them.

use serde_json::json;

use super::LlmError;
use super::onnx_proto::{Attr, DataType, Dim, Model, Node, Tensor, ValueInfo};

/// The file the server's `train-base` writes into a model folder beside the ONNX export (its
/// spec and seed). Its presence marks a Migru recommendation model, trained on
/// `ab::recommendation_context` prompts: the phone prompts it with the same words.
pub const SPEC_FILE: &str = "migru_model.json";

/// Sizes of the graph: the demo model's and the server's recommendation model's (which the
/// server trains in candle and exports through `build_graph`, so both name weights alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GraphSpec {
    pub hidden: usize,
    pub heads: usize,
    pub layers: usize,
    pub ffn: usize,
    pub context_length: usize,
    pub vocab: usize,
}

/// One weight of the graph: its initializer name, shape and how it would be initialised.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightSlot {
    pub name: String,
    pub shape: Vec<usize>,
    pub init: Init,
}

impl GraphSpec {
    pub fn head_dim(&self) -> usize {
        self.hidden / self.heads
    }

    /// Every weight in graph order, read off `build_graph` itself so that a trainer's tensors
    /// are named exactly as the exported graph asks for them.
    pub fn weights(&self) -> Result<Vec<WeightSlot>, LlmError> {
        let mut slots = Vec::new();
        build_graph(self, "weights", Vec::new(), &mut |name, shape, init| {
            slots.push(WeightSlot { name: name.to_owned(), shape: shape.to_vec(), init });
            Ok(vec![0.0; shape.iter().product()])
        })?;
        Ok(slots)
    }

    /// Base names (`model.layers.L.attn.T`) of the projections carrying LoRA, layer by layer;
    /// the graph's adapter inputs are these plus `.lora_A.weight` and `.lora_B.weight`.
    pub fn lora_targets(&self) -> Vec<String> {
        lora_targets(self.layers)
    }
}

/// `GraphSpec::lora_targets` for a graph of `layers` layers.
pub fn lora_targets(layers: usize) -> Vec<String> {
    (0..layers).flat_map(|l| LORA_TARGETS.iter().map(move |t| format!("model.layers.{l}.attn.{t}"))).collect()
}

/// The attention projections that carry LoRA, in each layer.
pub const LORA_TARGETS: [&str; 4] = ["q_proj", "k_proj", "v_proj", "o_proj"];

/// How a weight would be initialised (the demo draws it; a trained model ignores it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// Uniform in [-scale, scale).
    Uniform(f32),
    /// LayerNorm gains.
    Ones,
    /// LayerNorm biases.
    Zeros,
}

/// Supplies each weight's values by name, shape and initialisation, in graph order.
pub type Weights<'a> = dyn FnMut(&str, &[usize], Init) -> Result<Vec<f32>, LlmError> + 'a;

/// The decoding defaults written into `genai_config.json`'s `search` section.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchDefaults {
    pub do_sample: bool,
    pub temperature: f64,
    pub top_k: usize,
}

impl SearchDefaults {
    pub const GREEDY: SearchDefaults = SearchDefaults { do_sample: false, temperature: 1.0, top_k: 1 };
}

/// `genai_config.json` for a graph of `spec`.
pub fn genai_config(spec: &GraphSpec, search: SearchDefaults) -> serde_json::Value {
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
            "do_sample": search.do_sample,
            "early_stopping": true,
            "length_penalty": 1.0,
            "max_length": spec.context_length,
            "min_length": 0,
            "no_repeat_ngram_size": 0,
            "num_beams": 1,
            "num_return_sequences": 1,
            "past_present_share_buffer": false,
            "repetition_penalty": 1.0,
            "temperature": search.temperature,
            "top_k": search.top_k,
            "top_p": 1.0
        }
    })
}

/// Builds the ONNX graph node by node.
struct GraphBuilder<'w, 'a> {
    model: Model,
    weights: &'w mut Weights<'a>,
    counter: usize,
}

impl GraphBuilder<'_, '_> {
    fn op(&mut self, op: &str, inputs: &[&str], attributes: Vec<(&str, Attr)>) -> String {
        self.counter += 1;
        let out = format!("{}_{}", op.to_lowercase(), self.counter);
        self.op_named(op, inputs, attributes, &out);
        out
    }

    fn op_named(&mut self, op: &str, inputs: &[&str], attributes: Vec<(&str, Attr)>, output: &str) {
        self.counter += 1;
        self.model.nodes.push(Node {
            op_type: op.into(),
            name: format!("n{}_{op}", self.counter),
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            outputs: vec![output.into()],
            attributes: attributes.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        });
    }

    /// Adds weight `name` as an initializer, its values from the caller.
    fn weight(&mut self, name: &str, dims: &[usize], init: Init) -> Result<String, LlmError> {
        let values = (self.weights)(name, dims, init)?;
        let n: usize = dims.iter().product();
        if values.len() != n {
            return Err(LlmError::Config(format!("weight {name}: {} values for shape {dims:?}", values.len())));
        }
        self.model.initializers.push(Tensor::f32(name, dims.iter().map(|&d| d as i64).collect(), &values));
        Ok(name.into())
    }

    fn constant_f32(&mut self, name: &str, value: f32) -> String {
        self.model.initializers.push(Tensor::f32(name, vec![], &[value]));
        name.into()
    }

    fn constant_i64(&mut self, name: &str, dims: Vec<i64>, values: &[i64]) -> String {
        self.model.initializers.push(Tensor::i64(name, dims, values));
        name.into()
    }

    fn layer_norm(&mut self, x: &str, prefix: &str, hidden: usize) -> Result<String, LlmError> {
        let gamma = self.weight(&format!("{prefix}.weight"), &[hidden], Init::Ones)?;
        let beta = self.weight(&format!("{prefix}.bias"), &[hidden], Init::Zeros)?;
        Ok(self.op("LayerNormalization", &[x, &gamma, &beta], vec![("axis", Attr::Int(-1)), ("epsilon", Attr::Float(1e-5))]))
    }

    /// `x·W + (x·A)·B`, with A and B graph inputs defaulting to rank-0 initializers.
    fn lora_projection(&mut self, x: &str, base: &str, hidden: usize) -> Result<String, LlmError> {
        let w = self.weight(&format!("{base}.weight"), &[hidden, hidden], Init::Uniform(1.0 / (hidden as f32).sqrt()))?;
        let a = format!("{base}.lora_A.weight");
        let b = format!("{base}.lora_B.weight");
        for (name, dims, init) in [
            (&a, vec![Dim::Fixed(hidden as i64), Dim::Named("lora_rank".into())], vec![hidden as i64, 0]),
            (&b, vec![Dim::Named("lora_rank".into()), Dim::Fixed(hidden as i64)], vec![0, hidden as i64]),
        ] {
            self.model.inputs.push(ValueInfo { name: name.clone(), data_type: DataType::Float, dims });
            self.model.initializers.push(Tensor::f32(name.clone(), init, &[]));
        }
        let base_out = self.op("MatMul", &[x, &w], vec![]);
        let down = self.op("MatMul", &[x, &a], vec![]);
        let up = self.op("MatMul", &[&down, &b], vec![]);
        Ok(self.op("Add", &[&base_out, &up], vec![]))
    }
}

/// The graph of `spec`, named `graph_name` with `metadata`; `weights` supplies every weight.
pub fn build_graph(
    spec: &GraphSpec,
    graph_name: &str,
    metadata: Vec<(String, String)>,
    weights: &mut Weights<'_>,
) -> Result<Model, LlmError> {
    if [spec.hidden, spec.heads, spec.layers, spec.ffn, spec.context_length, spec.vocab].contains(&0) {
        return Err(LlmError::Config("hidden size, heads, layers, feed-forward size, context length and vocabulary must all be above 0".into()));
    }
    if !spec.hidden.is_multiple_of(spec.heads) {
        return Err(LlmError::Config(format!("hidden size {} is not a multiple of {} heads", spec.hidden, spec.heads)));
    }
    let (d, h, hd, vocab) = (spec.hidden, spec.heads, spec.head_dim(), spec.vocab);
    let mut g = GraphBuilder { model: Model { graph_name: graph_name.into(), opset: 17, ..Model::default() }, weights, counter: 0 };
    g.model.metadata = metadata;
    declare_io(&mut g.model, spec);

    // Attention bias [S, T]: 0 where key j is visible from query i (j <= past + i and unmasked).
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

    let embed = g.weight("model.embed_tokens.weight", &[vocab, d], Init::Uniform(1.0))?;
    let pos_embed = g.weight("model.embed_positions.weight", &[spec.context_length, d], Init::Uniform(0.5))?;
    let tok = g.op("Gather", &[&embed, "input_ids"], vec![("axis", Attr::Int(0))]);
    let pos = g.op("Gather", &[&pos_embed, "position_ids"], vec![("axis", Attr::Int(0))]);
    let mut x = g.op("Add", &[&tok, &pos], vec![]);

    let split_heads = g.constant_i64("const.split_heads", vec![4], &[0, 0, h as i64, hd as i64]);
    let merge_heads = g.constant_i64("const.merge_heads", vec![3], &[0, 0, d as i64]);
    let scale = g.constant_f32("const.attn_scale", 1.0 / (hd as f32).sqrt());
    for layer in 0..spec.layers {
        let p = format!("model.layers.{layer}");
        let normed = g.layer_norm(&x, &format!("{p}.input_layernorm"), d)?;
        let mut heads = Vec::new();
        for t in &LORA_TARGETS[..3] {
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
        let attn_out = g.lora_projection(&merged, &format!("{p}.attn.{}", LORA_TARGETS[3]), d)?;
        x = g.op("Add", &[&x, &attn_out], vec![]);

        let normed2 = g.layer_norm(&x, &format!("{p}.post_attention_layernorm"), d)?;
        let w1 = g.weight(&format!("{p}.mlp.up_proj.weight"), &[d, spec.ffn], Init::Uniform(1.0 / (d as f32).sqrt()))?;
        let w2 = g.weight(&format!("{p}.mlp.down_proj.weight"), &[spec.ffn, d], Init::Uniform(1.0 / (spec.ffn as f32).sqrt()))?;
        let up = g.op("MatMul", &[&normed2, &w1], vec![]);
        let gate = g.op("Sigmoid", &[&up], vec![]);
        let act = g.op("Mul", &[&up, &gate], vec![]);
        let down = g.op("MatMul", &[&act, &w2], vec![]);
        x = g.op("Add", &[&x, &down], vec![]);
    }
    let final_norm = g.layer_norm(&x, "model.norm", d)?;
    // Untied output projection: with tied random embeddings the current token would always win.
    let lm_head = g.weight("lm_head.weight", &[d, vocab], Init::Uniform(0.5))?;
    g.op_named("MatMul", &[&final_norm, &lm_head], vec![], "logits");
    Ok(g.model)
}

fn declare_io(model: &mut Model, spec: &GraphSpec) {
    let named = |s: &str| Dim::Named(s.into());
    let (h, hd, vocab) = (spec.heads as i64, spec.head_dim() as i64, spec.vocab);
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
        dims: vec![named("batch_size"), named("sequence_length"), Dim::Fixed(vocab as i64)],
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_listed_in_graph_order_with_their_shapes_and_inits() {
        let spec = GraphSpec { hidden: 8, heads: 2, layers: 1, ffn: 16, context_length: 12, vocab: 30 };
        let listed: Vec<(String, Vec<usize>, Init)> = spec.weights().unwrap().into_iter().map(|w| (w.name, w.shape, w.init)).collect();
        let names: Vec<&str> = listed.iter().map(|(n, _, _)| n.as_str()).collect();
        // The order seeded trainers draw in: changing it changes every seeded model.
        assert_eq!(
            names,
            [
                "model.embed_tokens.weight",
                "model.embed_positions.weight",
                "model.layers.0.input_layernorm.weight",
                "model.layers.0.input_layernorm.bias",
                "model.layers.0.attn.q_proj.weight",
                "model.layers.0.attn.k_proj.weight",
                "model.layers.0.attn.v_proj.weight",
                "model.layers.0.attn.o_proj.weight",
                "model.layers.0.post_attention_layernorm.weight",
                "model.layers.0.post_attention_layernorm.bias",
                "model.layers.0.mlp.up_proj.weight",
                "model.layers.0.mlp.down_proj.weight",
                "model.norm.weight",
                "model.norm.bias",
                "lm_head.weight",
            ]
        );
        assert_eq!(listed[0].1, vec![30, 8]);
        assert_eq!(listed[10].1, vec![8, 16]);
        assert_eq!(listed[14].1, vec![8, 30]);
        assert_eq!((listed[2].2, listed[3].2), (Init::Ones, Init::Zeros));
        assert_eq!(spec.lora_targets()[3], "model.layers.0.attn.o_proj");
    }
}
