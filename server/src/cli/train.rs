//! `migru-server train-base`: pretrains the recommendation model and writes its model folder.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use migru_core::llm::sampling::Rng;

use crate::training::corpus::Context;
use crate::training::export::{self, ModelInfo};
use crate::training::pretrain::{self, PretrainConfig};

#[derive(Debug, clap::Args)]
pub struct TrainBaseArgs {
    /// The model folder to write (genai layout plus the server's weights).
    #[arg(long)]
    pub out: PathBuf,
    /// Optimiser steps.
    #[arg(long, default_value_t = PretrainConfig::default().steps)]
    pub steps: usize,
    #[arg(long, default_value_t = PretrainConfig::default().seed)]
    pub seed: u64,
    /// Sample recommendations to print per context after training.
    #[arg(long, default_value_t = 2)]
    pub samples: usize,
}

pub fn run_train_base(args: &TrainBaseArgs) -> anyhow::Result<()> {
    let config = PretrainConfig { steps: args.steps, seed: args.seed, ..PretrainConfig::default() };
    let started = Instant::now();
    let every = (config.steps / 20).max(1);
    let trained = pretrain::pretrain(&config, |step, loss| {
        if step % every == 0 || step + 1 == config.steps {
            eprintln!("step {:>5}/{}  loss {loss:.3}  {:.0} s", step + 1, config.steps, started.elapsed().as_secs_f64());
        }
    })?;
    let info = ModelInfo { spec: trained.model.spec.clone(), model_version: 1, seed: args.seed };
    export::write_model_folder(&args.out, &trained.model, &trained.tokenizer, &info)
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "pretrained {} parameters (vocabulary {}) in {:.1} s; loss {:.3} -> {:.3}; wrote {}",
        trained.model.parameter_count(),
        info.spec.vocab,
        started.elapsed().as_secs_f64(),
        trained.first_loss,
        trained.last_loss,
        args.out.display()
    );
    let mut rng = Rng::new(args.seed);
    for context in Context::all() {
        for text in pretrain::sample(&trained.model, None, &trained.tokenizer, context, args.samples, 0.8, 60, &mut rng)? {
            println!("[{} / {}] {text}", context.chronotype.as_str(), context.day_part.as_str());
        }
    }
    Ok(())
}
