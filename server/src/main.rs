//! `migru-server`: parses arguments, sets up logging and dispatches. One file per subcommand in
//! `cli/`; this file stays small.

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "migru-server", version, about = "Migru's server: sync, causal analysis, retraining")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve pairing, sync and live alerts over HTTP(S).
    Serve(migru_server::cli::serve::ServeArgs),
    /// Estimate the effect of a binary treatment on an outcome from a CSV table.
    Causal(migru_server::cli::causal::CausalArgs),
    /// Write confounded data with a known effect (validation of `causal`).
    #[command(hide = true)]
    CausalGenerate(migru_server::cli::causal::GenerateArgs),
    /// Pretrain the recommendation model and write its model folder.
    TrainBase(migru_server::cli::train::TrainBaseArgs),
    /// Retrain one family's recommendation adapter now (one job, with progress).
    Retrain(migru_server::cli::train::RetrainArgs),
    /// Simulated parents: does retraining raise the thumbs-up rate?
    #[command(hide = true)]
    TrainProof(migru_server::cli::train::ProofArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    migru_server::cli::init_tracing();
    let result = match cli.command {
        Command::Serve(args) => migru_server::cli::serve::run(&args),
        Command::Causal(args) => migru_server::cli::causal::run(&args),
        Command::CausalGenerate(args) => migru_server::cli::causal::generate(&args),
        Command::TrainBase(args) => migru_server::cli::train::run_train_base(&args),
        Command::Retrain(args) => migru_server::cli::train::run_retrain(&args),
        Command::TrainProof(args) => migru_server::cli::train::run_proof(&args),
    };
    migru_server::cli::finish(result)
}
