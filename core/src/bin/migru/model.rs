//! `migru model`: write the demo model, check a model folder, write a seeded LoRA adapter.

use std::path::PathBuf;

use anyhow::Context;
use migru_core::llm::adapter::AdapterFile;
use migru_core::llm::demo::{DemoSpec, write_demo_model};
use migru_core::llm::engine::{LanguageModel, ModelOptions};

use crate::Global;
use crate::output::print_json;

#[derive(Debug, clap::Args)]
pub struct ModelArgs {
    #[command(subcommand)]
    pub command: ModelCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ModelCommand {
    /// Write the small demo model (genai layout, seeded weights, LoRA inputs) into a folder.
    Demo {
        #[arg(long)]
        out: PathBuf,
        /// Seed of the weights; the same seed writes the same files.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Hidden size (default: the demo's 64). With the sizes below, writes bigger models of the
        /// same layout, e.g. for memory and speed measurements.
        #[arg(long)]
        hidden: Option<usize>,
        #[arg(long)]
        heads: Option<usize>,
        #[arg(long)]
        layers: Option<usize>,
        /// Feed-forward size.
        #[arg(long)]
        ffn: Option<usize>,
        #[arg(long)]
        context_length: Option<usize>,
    },
    /// Load a model folder and report what it is (validates names, shapes and types).
    Check {
        #[arg(long, env = "MIGRU_MODEL")]
        model: PathBuf,
        /// The ONNX Runtime library (default: ORT_DYLIB_PATH, then beside the executable).
        #[arg(long)]
        ort_lib: Option<PathBuf>,
    },
    /// Write a seeded LoRA adapter that fits a model's adapter inputs (for tests and demos).
    Adapter {
        #[arg(long, env = "MIGRU_MODEL")]
        model: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 4)]
        rank: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Bound of the uniform entries of A and B.
        #[arg(long, default_value_t = 0.3)]
        scale: f32,
        #[arg(long)]
        ort_lib: Option<PathBuf>,
    },
}

pub fn run(global: &Global, args: ModelArgs) -> anyhow::Result<()> {
    match args.command {
        ModelCommand::Demo { out, seed, hidden, heads, layers, ffn, context_length } => {
            let base = DemoSpec::default();
            let spec = DemoSpec {
                seed,
                hidden: hidden.unwrap_or(base.hidden),
                heads: heads.unwrap_or(base.heads),
                layers: layers.unwrap_or(base.layers),
                ffn: ffn.unwrap_or(base.ffn),
                context_length: context_length.unwrap_or(base.context_length),
                ..base
            };
            let summary = write_demo_model(&out, &spec)
                .with_context(|| format!("writing the demo model to {}", out.display()))?;
            if global.json {
                print_json(&summary)?;
            } else {
                println!(
                    "Demo model written to {}: {} parameters, vocabulary {}, model.onnx {} bytes, {} LoRA inputs.",
                    out.display(),
                    summary.parameters,
                    summary.vocab_size,
                    summary.model_bytes,
                    summary.lora_inputs.len()
                );
            }
            Ok(())
        }
        ModelCommand::Check { model, ort_lib } => {
            let lm = load(&model, ort_lib)?;
            let config = lm.config();
            let report = serde_json::json!({
                "model": model.display().to_string(),
                "type": config.model.model_type,
                "context_length": config.model.context_length,
                "eos_token_id": config.model.eos_token_id,
                "chat_template": lm.template().family,
                "adapter_inputs": lm.adapter_slots().keys().collect::<Vec<_>>(),
            });
            if global.json {
                print_json(&report)?;
            } else {
                println!(
                    "{} loads: type {:?}, context {}, chat template {}, {} adapter inputs.",
                    model.display(),
                    config.model.model_type,
                    config.model.context_length,
                    lm.template().family,
                    lm.adapter_slots().len()
                );
            }
            Ok(())
        }
        ModelCommand::Adapter { model, out, rank, seed, scale, ort_lib } => {
            let lm = load(&model, ort_lib)?;
            let targets = lora_targets(&lm)?;
            let adapter = AdapterFile::seeded_lora(&targets, rank, scale, seed);
            lm.check_adapter(&adapter)?;
            std::fs::write(&out, adapter.to_bytes()).with_context(|| format!("writing {}", out.display()))?;
            if !global.json {
                println!("Adapter with {} parameters (rank {rank}) written to {}.", adapter.params.len(), out.display());
            } else {
                print_json(&serde_json::json!({ "parameters": adapter.params.len(), "rank": rank, "out": out.display().to_string() }))?;
            }
            Ok(())
        }
    }
}

pub fn load(model: &std::path::Path, ort_lib: Option<PathBuf>) -> anyhow::Result<LanguageModel> {
    let options = ModelOptions { runtime_library: ort_lib, ..ModelOptions::default() };
    LanguageModel::load(model, &options).with_context(|| format!("loading the model in {}", model.display()))
}

/// `(A name, B name, rows, cols)` for every `….lora_A…` input with its `….lora_B…` partner.
fn lora_targets(lm: &LanguageModel) -> anyhow::Result<Vec<(String, String, usize, usize)>> {
    let slots = lm.adapter_slots();
    let mut targets = Vec::new();
    for (a_name, a) in slots.iter().filter(|(n, _)| n.contains("lora_A")) {
        let b_name = a_name.replace("lora_A", "lora_B");
        let b = slots.get(&b_name).with_context(|| format!("{a_name} has no lora_B partner"))?;
        let (rows, cols) = (a.dims.first().copied().unwrap_or(-1), b.dims.get(1).copied().unwrap_or(-1));
        anyhow::ensure!(rows > 0 && cols > 0, "{a_name}: the model does not fix the LoRA matrix sizes");
        targets.push((a_name.clone(), b_name, rows as usize, cols as usize));
    }
    anyhow::ensure!(!targets.is_empty(), "the model has no LoRA inputs");
    Ok(targets)
}
