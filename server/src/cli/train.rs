//! `migru-server train-base` (pretrain the recommendation model, write its model folder),
//! `retrain --family ID` (one retrain job by hand) and `train-proof` (the simulated-parents proof).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use migru_core::llm::sampling::Rng;

use crate::training::corpus::Context;
use crate::training::export::{self, ModelInfo};
use crate::training::job::{self, RetrainProgress, TrainingSettings};
use crate::training::pretrain::{self, PretrainConfig};
use crate::training::simulate::{self, ProofConfig};

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
    let info = ModelInfo { spec: trained.model.spec, model_version: 1, seed: args.seed };
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

#[derive(Debug, clap::Args)]
pub struct RetrainArgs {
    /// The family whose adapter to retrain.
    #[arg(long)]
    pub family: uuid::Uuid,
    #[arg(long, env = "MIGRU_DATABASE_URL", default_value = "sqlite:migru-server.db", hide_env_values = true)]
    pub database_url: String,
    /// The base model folder (written by `train-base`).
    #[arg(long, env = "MIGRU_MODEL_DIR", default_value = "migru-model")]
    pub model: PathBuf,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

/// One retrain job by hand: enqueues (or resumes) the family's job in the jobs table, claims it,
/// trains with a progress line on stderr, publishes the adapter. Running it again without new
/// feedback publishes nothing new.
pub fn run_retrain(args: &RetrainArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    runtime.block_on(async {
        let store = crate::storage::open(&args.database_url)
            .await
            .with_context(|| format!("opening {}", crate::storage::redact_url(&args.database_url)))?;
        let settings = TrainingSettings::new(args.model.clone());
        let worker = format!("cli-{}", std::process::id());
        let outcome = job::retrain_now(store.as_ref(), &settings, args.family, &worker, Box::new(progress_line)).await?;
        eprintln!();
        if args.json {
            println!("{}", serde_json::to_string_pretty(&outcome)?);
        } else if outcome.trained {
            println!(
                "adapter version {} for family {}: {} bytes, sha256 {}, trained on {} feedbacks in {:.1} s",
                outcome.version, outcome.family_id, outcome.size_bytes, outcome.sha256, outcome.feedback_count, outcome.seconds
            );
        } else {
            println!("adapter version {} already covers the {} feedbacks; nothing to train", outcome.version, outcome.feedback_count);
        }
        Ok(())
    })
}

/// A one-line progress bar on stderr.
fn progress_line(p: RetrainProgress) {
    use std::io::Write as _;
    let mut err = std::io::stderr().lock();
    let _ = match p {
        RetrainProgress::Loaded { feedbacks } => write!(err, "loaded {feedbacks} feedbacks"),
        RetrainProgress::Step { step, steps, loss } => {
            let width = 30;
            let done = (step + 1) * width / steps.max(1);
            write!(err, "\r[{}{}] {:>3}/{steps}  KTO loss {loss:.4}", "#".repeat(done), " ".repeat(width - done), step + 1)
        }
        RetrainProgress::Published { version } => write!(err, "\npublished adapter version {version}"),
    };
    let _ = err.flush();
}

#[derive(Debug, clap::Args)]
pub struct ProofArgs {
    /// The base model folder (written by `train-base`).
    #[arg(long)]
    pub model: PathBuf,
    #[arg(long, default_value_t = ProofConfig::default().families)]
    pub families: usize,
    #[arg(long, default_value_t = ProofConfig::default().feedbacks)]
    pub feedbacks: usize,
    #[arg(long, default_value_t = ProofConfig::default().eval_samples)]
    pub eval_samples: usize,
    #[arg(long, default_value_t = ProofConfig::default().seed)]
    pub seed: u64,
    /// Write the full report as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Override the KTO steps, learning rate, beta (tuning).
    #[arg(long)]
    pub kto_steps: Option<usize>,
    #[arg(long)]
    pub kto_lr: Option<f64>,
    #[arg(long)]
    pub kto_beta: Option<f64>,
}

/// Simulated parents with hidden tastes rate base recommendations, a retrain job runs per family
/// (in a private SQLite database), and both arms are rated again.
pub fn run_proof(args: &ProofArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    runtime.block_on(async {
        let store = crate::storage::open("sqlite::memory:").await?;
        let mut settings = TrainingSettings::new(args.model.clone());
        settings.kto.steps = args.kto_steps.unwrap_or(settings.kto.steps);
        settings.kto.learning_rate = args.kto_lr.unwrap_or(settings.kto.learning_rate);
        settings.kto.beta = args.kto_beta.unwrap_or(settings.kto.beta);
        let config = ProofConfig { families: args.families, feedbacks: args.feedbacks, eval_samples: args.eval_samples, seed: args.seed, ..ProofConfig::default() };
        let report = simulate::run_proof(store.as_ref(), &settings, &config, |f| {
            eprintln!(
                "family {}: likes {:?}, dislikes {:?}, short {}; train {}/{} up; base {}/{} -> adapted {}/{}; retrain {:.1} s, {} bytes; rewards +{:.2} / -{:.2}, KL {:.2}",
                &f.family_id.to_string()[..8],
                f.taste.likes,
                f.taste.dislikes,
                f.taste.likes_short,
                f.training_up,
                config.feedbacks,
                f.base.up,
                f.base.n(),
                f.adapted.up,
                f.adapted.n(),
                f.retrain_seconds,
                f.adapter_bytes,
                f.kto.as_ref().map_or(0.0, |k| k.reward_desirable),
                f.kto.as_ref().map_or(0.0, |k| k.reward_undesirable),
                f.kto.as_ref().map_or(0.0, |k| k.kl_estimate)
            );
        })
        .await?;
        let (d, lo, hi) = report.difference.unwrap_or_default();
        let (fd, flo, fhi) = report.family_difference;
        println!(
            "{} families x {} feedbacks: thumbs-up base {}/{} = {:.3}, adapted {}/{} = {:.3}; difference {d:.3} (95 % Newcombe CI {lo:.3} to {hi:.3}); per-family mean difference {fd:.3} (95 % t CI {flo:.3} to {fhi:.3}); {} of {} families improved; retrain median {:.1} s, max {:.1} s; largest adapter {} bytes",
            report.families.len(),
            config.feedbacks,
            report.base.up,
            report.base.n(),
            report.base.rate().unwrap_or(0.0),
            report.adapted.up,
            report.adapted.n(),
            report.adapted.rate().unwrap_or(0.0),
            report.families_improved,
            report.families.len(),
            report.retrain_seconds_median,
            report.retrain_seconds_max,
            report.adapter_bytes_max
        );
        if let Some(path) = &args.json {
            std::fs::write(path, serde_json::to_vec_pretty(&report)?).with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(())
    })
}
