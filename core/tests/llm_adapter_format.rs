//! The adapter file format against ONNX Runtime's own writer: a file written by Python's
//! `onnxruntime.AdapterFormat` (1.31.1; `core/validation/llm/fixtures/python_written.onnx_adapter`,
//! see `core/validation/llm/README.md`) reads back with the values it was given, and our writer's
//! output re-reads identically.

#![cfg(feature = "llm")]

use migru_core::llm::adapter::AdapterFile;

#[test]
fn reads_an_adapter_written_by_onnxruntime() {
    let bytes = include_bytes!("../validation/llm/fixtures/python_written.onnx_adapter");
    let file = AdapterFile::from_bytes(bytes).unwrap();
    assert_eq!((file.format_version, file.adapter_version, file.model_version), (1, 7, 3));
    let mut params = file.params.clone();
    params.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(params[0].name, "lora_a");
    assert_eq!(params[0].dims, vec![4, 1]);
    assert_eq!(params[0].f32_values().unwrap(), vec![3.0, 4.0, 5.0, 6.0]);
    assert_eq!(params[1].dims, vec![1, 4]);
    assert_eq!(params[1].f32_values().unwrap(), vec![7.0, 8.0, 9.0, 10.0]);
    let rewritten = AdapterFile::from_bytes(&file.to_bytes()).unwrap();
    assert_eq!(rewritten, file);
}
