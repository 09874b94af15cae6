//! The on-device language model: Migru's replies to the child and the parents' recommendations.
//!
//! Layers, sans I/O first:
//! - `prompt`, `retrieval`, `templates`, `guardrail`: plain data in, text out. Always built, so the
//!   app works fully without a model (replies come from templates).
//! - `sampling`, `stream`, `config`, `onnx_proto`: pure pieces of decoding and of the model folder.
//! - behind the `llm` feature: `runtime` (finds and loads the ONNX Runtime library), `engine`
//!   (model folder, tokenizer, KV-cache decoding, LoRA adapters), `adapter` (the `TORT` adapter
//!   file format), `demo` (writes the project's small model) and `responder` (prompt → model →
//!   guardrail → template fallback).
//!
//! No message text is logged: logs carry counts and timings only.

pub mod ab;
pub mod config;
pub mod guardrail;
pub mod memory;
pub mod onnx_proto;
pub mod prompt;
pub mod retrieval;
pub mod sampling;
pub mod stream;
pub mod templates;

#[cfg(feature = "llm")]
pub mod adapter;
#[cfg(feature = "llm")]
pub mod assistant;
#[cfg(feature = "llm")]
pub mod demo;
#[cfg(feature = "llm")]
pub mod engine;
pub mod graph;
#[cfg(feature = "llm")]
pub mod responder;
#[cfg(feature = "llm")]
pub mod runtime;

use std::path::{Path, PathBuf};

pub use guardrail::{Audience, Guardrail, Verdict};
pub use prompt::{ChatMessage, ChatTemplate, ChildTurnInput, ParentRecommendationInput, Role};
pub use sampling::SamplingParams;
pub use stream::CancelToken;
pub use templates::{Situation, Templates};

/// Everything that can go wrong in the language-model layer, each naming what was wrong.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("ONNX Runtime library not found at {path}; run scripts/fetch-onnxruntime.sh and set ORT_DYLIB_PATH")]
    RuntimeMissing { path: PathBuf },
    #[error("ONNX Runtime library at {path} could not be loaded: {reason}")]
    RuntimeLoad { path: PathBuf, reason: String },
    #[error("model folder {dir}: missing {file}")]
    MissingFile { dir: PathBuf, file: String },
    #[error("model configuration: {0}")]
    Config(String),
    #[error("model does not match its genai_config.json: {0}")]
    ModelMismatch(String),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("adapter: {0}")]
    Adapter(String),
    #[error("prompt of {tokens} tokens does not fit the context of {context} tokens")]
    PromptTooLong { tokens: usize, context: usize },
    #[error("ONNX Runtime: {0}")]
    Ort(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("bundled data {name}: {reason}")]
    Data { name: &'static str, reason: String },
}

impl LlmError {
    #[cfg_attr(not(feature = "llm"), allow(dead_code))]
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io { path: path.to_path_buf(), source }
    }
}

#[cfg(feature = "llm")]
impl From<ort::Error> for LlmError {
    fn from(e: ort::Error) -> Self {
        Self::Ort(e.to_string())
    }
}
