//! Shared by the training tests: the ONNX Runtime library and a tiny exported base model.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use migru_server::training::export::{self, ModelInfo};
use migru_server::training::model::{Model, ModelSpec};
use migru_server::training::{corpus, tokenize};

/// The runtime library from `ORT_DYLIB_PATH`; without it the caller skips, unless
/// `MIGRU_REQUIRE_ORT=1` (CI), where a missing library fails the test.
pub fn runtime_library() -> Option<PathBuf> {
    let found = std::env::var_os("ORT_DYLIB_PATH").map(PathBuf::from).filter(|p| p.is_file());
    if found.is_none() {
        assert!(std::env::var("MIGRU_REQUIRE_ORT").is_err(), "MIGRU_REQUIRE_ORT is set but ORT_DYLIB_PATH names no library");
        eprintln!("skipping: no ONNX Runtime library (set ORT_DYLIB_PATH; scripts/fetch-onnxruntime.sh)");
    }
    found
}

/// A tiny (untrained) base model folder, written once per test process.
pub fn tiny_model_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let lines: Vec<String> = corpus::generate(200, 3).iter().map(|e| e.training_text()).collect();
        let tokenizer = tokenize::build_tokenizer(&lines, 300).unwrap();
        let spec = ModelSpec { hidden: 32, heads: 4, layers: 2, ffn: 64, context_length: 96, vocab: tokenizer.get_vocab_size(true) };
        let model = Model::init(&spec, 5).unwrap();
        export::write_model_folder(dir.path(), &model, &tokenizer, &ModelInfo { spec, model_version: 1, seed: 5 }).unwrap();
        dir
    })
    .path()
}
