//! `migru generate`: one generation from a prompt, streamed or as JSON with timings.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use migru_core::llm::engine::{GenerateOptions, StreamEvent};
use migru_core::llm::prompt::{ChatMessage, Role};
use migru_core::llm::{CancelToken, SamplingParams, memory};

use crate::Global;
use crate::output::print_json;

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Model folder in the onnxruntime-genai layout.
    #[arg(long, env = "MIGRU_MODEL")]
    pub model: PathBuf,
    #[arg(long)]
    pub prompt: String,
    /// Wrap the prompt as a user message in the model's chat template.
    #[arg(long)]
    pub chat: bool,
    /// An ONNX Runtime adapter file (LoRA) to activate.
    #[arg(long)]
    pub adapter: Option<PathBuf>,
    #[arg(long, default_value_t = 64)]
    pub max_new_tokens: usize,
    /// Sample instead of greedy decoding.
    #[arg(long)]
    pub sample: bool,
    #[arg(long, default_value_t = 0.7)]
    pub temperature: f32,
    #[arg(long, default_value_t = 40)]
    pub top_k: usize,
    #[arg(long, default_value_t = 0.9)]
    pub top_p: f32,
    #[arg(long, default_value_t = 1.0)]
    pub repetition_penalty: f32,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Wall-clock budget in milliseconds.
    #[arg(long)]
    pub budget_ms: Option<u64>,
    /// Intra-op threads of ONNX Runtime.
    #[arg(long)]
    pub threads: Option<usize>,
    /// The ONNX Runtime library (default: ORT_DYLIB_PATH, then beside the executable).
    #[arg(long)]
    pub ort_lib: Option<PathBuf>,
    /// Timed runs (in one process); the JSON timings are their medians.
    #[arg(long, default_value_t = 1)]
    pub repeat: usize,
    /// Untimed runs before the timed ones.
    #[arg(long, default_value_t = 0)]
    pub warmup: usize,
}

pub fn run(global: &Global, args: GenerateArgs) -> anyhow::Result<()> {
    let rss_start = memory::rss_kib();
    // The runtime library first, so its own footprint is told apart from the model's.
    migru_core::llm::runtime::Runtime::init(args.ort_lib.as_deref())?;
    let rss_runtime = memory::rss_kib();
    let options = migru_core::llm::engine::ModelOptions {
        runtime_library: args.ort_lib.clone(),
        intra_threads: args.threads,
        chat_template: None,
    };
    let mut lm = migru_core::llm::engine::LanguageModel::load(&args.model, &options)
        .with_context(|| format!("loading the model in {}", args.model.display()))?;
    if let Some(path) = &args.adapter {
        lm.load_adapter("cli", path).with_context(|| format!("loading adapter {}", path.display()))?;
        lm.set_active_adapter(Some("cli"))?;
    }
    let rss_loaded = memory::rss_kib();
    let peak_load = memory::peak_rss_kib();
    let peak_reset = memory::reset_peak();
    let prompt = if args.chat { lm.render(&[ChatMessage::new(Role::User, args.prompt.clone())]) } else { args.prompt.clone() };
    let sampling = if args.sample {
        SamplingParams { temperature: args.temperature, top_k: args.top_k, top_p: args.top_p, repetition_penalty: args.repetition_penalty, seed: args.seed }
    } else {
        SamplingParams { repetition_penalty: args.repetition_penalty, ..SamplingParams::greedy() }
    };
    let gen_options = GenerateOptions {
        max_new_tokens: args.max_new_tokens,
        sampling,
        stop_strings: vec![],
        time_budget: args.budget_ms.map(std::time::Duration::from_millis),
    };
    let started = Instant::now();
    let prompt_ids = lm.encode(&prompt)?;
    let json = global.json;
    let mut stdout = std::io::stdout();
    let mut print = |e: &StreamEvent| {
        if !json {
            let _ = write!(stdout, "{}", e.text);
            let _ = stdout.flush();
        }
    };
    let mut generation = lm.generate_ids(&prompt_ids, &gen_options, &CancelToken::new(), &mut print, started)?;
    let (mut first, mut per) = (vec![generation.ms_first_token], vec![generation.ms_per_token]);
    if args.repeat > 1 || args.warmup > 0 {
        (first, per) = (Vec::new(), Vec::new());
        for run in 0..args.warmup + args.repeat.max(1) {
            let started = Instant::now();
            let ids = lm.encode(&prompt)?;
            generation = lm.generate_ids(&ids, &gen_options, &CancelToken::new(), &mut |_| {}, started)?;
            if run >= args.warmup {
                first.push(generation.ms_first_token);
                per.push(generation.ms_per_token);
            }
        }
    }
    let (rss_end, peak_generation) = (memory::rss_kib(), memory::peak_rss_kib());
    let weights = weights_bytes(&args.model);
    if json {
        print_json(&serde_json::json!({
            "memory": {
                "weights_kib": weights.map(|b| b / 1024),
                "rss_start_kib": rss_start,
                "rss_after_runtime_kib": rss_runtime,
                "rss_after_load_kib": rss_loaded,
                "peak_during_load_kib": peak_load,
                "rss_after_generation_kib": rss_end,
                "peak_during_generation_kib": if peak_reset { peak_generation } else { None },
            },
            "prompt_ids": prompt_ids,
            "tokens": generation.tokens,
            "text": generation.text,
            "stop_reason": generation.stop_reason,
            "ms_first_token": median(&mut first),
            "ms_per_token": median(&mut per),
            "ms_first_token_runs": first,
            "ms_per_token_runs": per,
        }))?;
    } else {
        println!();
    }
    Ok(())
}

/// Size of the model's weights: the decoder file and any external data beside it.
fn weights_bytes(dir: &std::path::Path) -> Option<u64> {
    let entries = std::fs::read_dir(dir).ok()?;
    Some(
        entries
            .filter_map(Result::ok)
            .filter(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                name.ends_with(".onnx") || name.ends_with(".onnx.data") || name.ends_with(".onnx_data")
            })
            .filter_map(|e| e.metadata().ok().map(|m| m.len()))
            .sum(),
    )
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}
