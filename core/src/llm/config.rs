//! `genai_config.json`, the onnxruntime-genai model description, read with serde.
//!
//! Only the fields the engine uses are read; unknown fields are ignored so that real exports
//! (Phi-3, Llama, Qwen…) load. Defaults are onnxruntime-genai's.

use serde::{Deserialize, Deserializer, Serialize};

use super::LlmError;
use super::sampling::SamplingParams;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GenaiConfig {
    pub model: ModelSection,
    #[serde(default)]
    pub search: SearchSection,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelSection {
    #[serde(rename = "type", default)]
    pub model_type: String,
    pub context_length: usize,
    #[serde(default)]
    pub vocab_size: usize,
    #[serde(default)]
    pub bos_token_id: Option<u32>,
    /// One id or several (Phi-3 stops on `<|endoftext|>` and `<|end|>`).
    #[serde(default, deserialize_with = "one_or_many")]
    pub eos_token_id: Vec<u32>,
    #[serde(default)]
    pub pad_token_id: Option<u32>,
    pub decoder: DecoderSection,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DecoderSection {
    pub filename: String,
    #[serde(default)]
    pub head_size: Option<usize>,
    #[serde(default)]
    pub hidden_size: Option<usize>,
    #[serde(default)]
    pub num_attention_heads: Option<usize>,
    #[serde(default)]
    pub num_hidden_layers: Option<usize>,
    #[serde(default)]
    pub num_key_value_heads: Option<usize>,
    #[serde(default)]
    pub session_options: SessionOptions,
    #[serde(default)]
    pub inputs: InputNames,
    #[serde(default)]
    pub outputs: OutputNames,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SessionOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intra_op_num_threads: Option<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct InputNames {
    pub input_ids: String,
    pub attention_mask: String,
    pub position_ids: String,
    /// `%d` stands for the layer index.
    pub past_key_names: String,
    pub past_value_names: String,
}

impl Default for InputNames {
    fn default() -> Self {
        Self {
            input_ids: "input_ids".into(),
            attention_mask: "attention_mask".into(),
            position_ids: "position_ids".into(),
            past_key_names: "past_key_values.%d.key".into(),
            past_value_names: "past_key_values.%d.value".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct OutputNames {
    pub logits: String,
    pub present_key_names: String,
    pub present_value_names: String,
}

impl Default for OutputNames {
    fn default() -> Self {
        Self {
            logits: "logits".into(),
            present_key_names: "present.%d.key".into(),
            present_value_names: "present.%d.value".into(),
        }
    }
}

/// The generation defaults a model ships with.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchSection {
    pub do_sample: bool,
    /// Prompt plus generated tokens (onnxruntime-genai's meaning).
    pub max_length: usize,
    pub temperature: f32,
    pub top_k: usize,
    pub top_p: f32,
    pub repetition_penalty: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub random_seed: Option<i64>,
}

impl Default for SearchSection {
    fn default() -> Self {
        Self {
            do_sample: false,
            max_length: 0,
            temperature: 1.0,
            top_k: 50,
            top_p: 1.0,
            repetition_penalty: 1.0,
            random_seed: None,
        }
    }
}

impl SearchSection {
    /// The model's defaults as sampling parameters (greedy unless `do_sample`).
    pub fn sampling(&self) -> SamplingParams {
        if !self.do_sample {
            return SamplingParams { repetition_penalty: self.repetition_penalty, ..SamplingParams::greedy() };
        }
        SamplingParams {
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            repetition_penalty: self.repetition_penalty,
            seed: self.random_seed.map_or(0, |s| s as u64),
        }
    }
}

impl GenaiConfig {
    pub fn parse(text: &str) -> Result<Self, LlmError> {
        let config: Self =
            serde_json::from_str(text).map_err(|e| LlmError::Config(format!("genai_config.json: {e}")))?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), LlmError> {
        let m = &self.model;
        if m.context_length == 0 {
            return Err(LlmError::Config("genai_config.json: model.context_length must be > 0".into()));
        }
        if m.eos_token_id.is_empty() {
            return Err(LlmError::Config("genai_config.json: model.eos_token_id is missing".into()));
        }
        if m.decoder.filename.is_empty() || m.decoder.filename.contains("..") {
            return Err(LlmError::Config(format!(
                "genai_config.json: model.decoder.filename {:?} is not a file name in the model folder",
                m.decoder.filename
            )));
        }
        for pattern in [&m.decoder.inputs.past_key_names, &m.decoder.inputs.past_value_names,
            &m.decoder.outputs.present_key_names, &m.decoder.outputs.present_value_names]
        {
            if !pattern.contains("%d") {
                return Err(LlmError::Config(format!("genai_config.json: name pattern {pattern:?} lacks %d")));
            }
        }
        Ok(())
    }
}

/// Expands a `%d` name pattern for one layer.
pub fn layer_name(pattern: &str, layer: usize) -> String {
    pattern.replacen("%d", &layer.to_string(), 1)
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u32>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(u32),
        Many(Vec<u32>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(id)) => vec![id],
        Some(OneOrMany::Many(ids)) => ids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_smallest_genai_config_loads_with_defaults() {
        let c = GenaiConfig::parse(
            r#"{"model": {"context_length": 64, "eos_token_id": 2, "decoder": {"filename": "model.onnx"}, "type": "llama", "vocab_size": 10}}"#,
        )
        .unwrap();
        assert_eq!(c.model.eos_token_id, vec![2]);
        assert_eq!(c.model.decoder.inputs.past_key_names, "past_key_values.%d.key");
        assert_eq!(layer_name(&c.model.decoder.outputs.present_value_names, 3), "present.3.value");
        assert!(c.search.sampling().is_greedy());
    }

    #[test]
    fn missing_fields_are_named() {
        let err = GenaiConfig::parse(r#"{"model": {"eos_token_id": 2, "decoder": {"filename": "m.onnx"}}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("context_length"), "{err}");
        let err = GenaiConfig::parse(r#"{"model": {"context_length": 8, "eos_token_id": [], "decoder": {"filename": "m.onnx"}}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("eos_token_id"), "{err}");
    }
}
