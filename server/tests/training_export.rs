//! The exported ONNX model (run by ONNX Runtime, as on the phone) and the candle model agree on
//! logits, with and without a LoRA adapter written as a `TORT` file; the on-device engine loads the
//! folder and accepts the adapter.
//!
//! Needs the runtime library (`ORT_DYLIB_PATH`); without it the tests print why and return, unless
//! `MIGRU_REQUIRE_ORT=1` (CI), where a missing library fails them.

use std::borrow::Cow;
use std::collections::HashMap;

use candle_core::{Device, Tensor};
use migru_core::llm::adapter::AdapterFile;
use migru_core::llm::engine::{LanguageModel, ModelOptions};
use migru_core::llm::runtime::Runtime;
use migru_core::llm::sampling::Rng;
use migru_server::training::corpus;
use migru_server::training::export::{self, ModelInfo};
use migru_server::training::model::{Lora, Model, ModelSpec, small_spec};
use migru_server::training::tokenize;
use ort::session::{Session, SessionInputValue};
use ort::value::Tensor as OrtTensor;
use training_support::runtime_library;

mod training_support;

fn random(rng: &mut Rng, shape: &[usize], scale: f32, offset: f32) -> Tensor {
    let n: usize = shape.iter().product();
    Tensor::from_vec((0..n).map(|_| offset + rng.symmetric(scale)).collect::<Vec<f32>>(), shape, &Device::Cpu).unwrap()
}

/// A model with every weight random (LayerNorm gains around 1, biases around 0), so no tensor
/// is left at a value that would hide a layout mistake.
fn random_model(vocab: usize) -> Model {
    let spec = ModelSpec { context_length: 48, ..small_spec(vocab) };
    let mut rng = Rng::new(11);
    let tensors: HashMap<String, Tensor> = spec
        .weights()
        .unwrap()
        .into_iter()
        .map(|slot| {
            let (name, shape) = (slot.name, slot.shape);
            let t = if name.contains("norm.weight") {
                random(&mut rng, &shape, 0.3, 1.0)
            } else if name.ends_with(".bias") {
                random(&mut rng, &shape, 0.2, 0.0)
            } else {
                random(&mut rng, &shape, (3.0 / shape[0] as f32).sqrt(), 0.0)
            };
            (name, t)
        })
        .collect();
    Model::from_tensors(&spec, tensors).unwrap()
}

fn run_onnx(session: &mut Session, ids: &[u32], adapter: Option<&ort::session::Adapter>, layers: usize, heads: usize, hd: usize) -> Vec<f32> {
    let t = ids.len();
    let mut inputs: Vec<(Cow<'_, str>, SessionInputValue<'_>)> = vec![
        ("input_ids".into(), OrtTensor::<i64>::from_array(([1, t], ids.iter().map(|&i| i64::from(i)).collect::<Vec<_>>())).unwrap().into()),
        ("attention_mask".into(), OrtTensor::<i64>::from_array(([1, t], vec![1i64; t])).unwrap().into()),
        ("position_ids".into(), OrtTensor::<i64>::from_array(([1, t], (0..t as i64).collect::<Vec<_>>())).unwrap().into()),
    ];
    for l in 0..layers {
        for kind in ["key", "value"] {
            let empty = OrtTensor::<f32>::from_array(([1usize, heads, 0, hd], Vec::<f32>::new())).unwrap();
            inputs.push((format!("past_key_values.{l}.{kind}").into(), empty.into_dyn().into()));
        }
    }
    let mut options = ort::session::RunOptions::new().unwrap();
    if let Some(a) = adapter {
        options.add_adapter(a).unwrap();
    }
    let outputs = session.run_with_options(inputs, &options).unwrap();
    let (_, data) = outputs["logits"].try_extract_tensor::<f32>().unwrap();
    data.to_vec()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn onnx_and_candle_agree_on_logits_with_and_without_an_adapter() {
    let Some(library) = runtime_library() else { return };
    let lines: Vec<String> = corpus::generate(300, 1).iter().map(|e| e.training_text()).collect();
    let tokenizer = tokenize::build_tokenizer(&lines, 320).unwrap();
    let model = random_model(tokenizer.get_vocab_size(true));
    let spec = model.spec;
    let dir = tempfile::tempdir().unwrap();
    export::write_model_folder(dir.path(), &model, &tokenizer, &ModelInfo { spec, model_version: 1, seed: 11 }).unwrap();

    // An adapter with alpha != rank, so the export must fold alpha / rank into B.
    let lora = Lora::init(&spec, 4, 8.0, 5).unwrap();
    let mut rng = Rng::new(21);
    for (i, var) in lora.vars().iter().enumerate() {
        if i % 2 == 1 {
            var.set(&random(&mut rng, var.dims(), 0.2, 0.0)).unwrap();
        }
    }
    let file = export::adapter_file(&lora, 3, 1).unwrap();
    let bytes = file.to_bytes();
    assert!(bytes.len() < 1_000_000, "{} bytes", bytes.len());

    // The phone's engine loads the folder and accepts the adapter.
    let options = ModelOptions { runtime_library: Some(library), intra_threads: Some(1), chat_template: None };
    let mut engine = LanguageModel::load(dir.path(), &options).unwrap();
    engine.check_adapter(&AdapterFile::from_bytes(&bytes).unwrap()).unwrap();
    engine.load_adapter_bytes("family", &bytes).unwrap();
    engine.set_active_adapter(Some("family")).unwrap();

    let runtime = Runtime::init(None).unwrap();
    let mut session = Session::builder(runtime.environment()).unwrap().with_intra_threads(1).unwrap().commit_from_file(dir.path().join("model.onnx")).unwrap();
    let ort_adapter = ort::session::Adapter::from_memory(&bytes, None).unwrap();
    let read_back = export::lora_from_file(&spec, &AdapterFile::from_bytes(&bytes).unwrap()).unwrap();

    let mut worst = (0f32, 0f32, 0f32);
    for trial in 0..4 {
        let t = 5 + 9 * trial;
        let ids: Vec<u32> = (0..t).map(|_| (rng.next_u64() % spec.vocab as u64) as u32).collect();
        let input = Tensor::from_vec(ids.clone(), (1, t), &Device::Cpu).unwrap();
        let candle_base = model.forward(&input, None).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let candle_lora = model.forward(&input, Some(&lora)).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let candle_read = model.forward(&input, Some(&read_back)).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let onnx_base = run_onnx(&mut session, &ids, None, spec.layers, spec.heads, spec.head_dim());
        let onnx_lora = run_onnx(&mut session, &ids, Some(&ort_adapter), spec.layers, spec.heads, spec.head_dim());
        let (d_base, d_lora, d_read) = (max_abs_diff(&candle_base, &onnx_base), max_abs_diff(&candle_lora, &onnx_lora), max_abs_diff(&candle_read, &candle_lora));
        assert!(max_abs_diff(&candle_base, &candle_lora) > 1e-2, "the adapter must change the logits");
        worst = (worst.0.max(d_base), worst.1.max(d_lora), worst.2.max(d_read));
    }
    eprintln!("max |candle - onnx|: base {:.2e}, adapter {:.2e}; adapter file round trip {:.2e}", worst.0, worst.1, worst.2);
    assert!(worst.0 < 1e-4 && worst.1 < 1e-4 && worst.2 < 1e-5, "{worst:?}");
}

#[test]
fn a_mismatched_adapter_is_refused_by_the_reader() {
    let spec = small_spec(100);
    let lora = Lora::init(&ModelSpec { hidden: 32, heads: 4, ..spec }, 2, 2.0, 1).unwrap();
    let file = export::adapter_file(&lora, 1, 1).unwrap();
    let err = export::lora_from_file(&spec, &file).unwrap_err().to_string();
    assert!(err.contains("do not fit hidden size 64"), "{err}");
    let mut missing = export::adapter_file(&Lora::init(&spec, 2, 2.0, 1).unwrap(), 1, 1).unwrap();
    missing.params.pop();
    assert!(export::lora_from_file(&spec, &missing).unwrap_err().to_string().contains("lacks"));
}
