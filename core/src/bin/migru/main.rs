//! `migru`: Migru on a desktop, offline. Every reporting command takes `--db PATH` and `--json`.
//!
//! One file per subcommand; this file only parses arguments, sets up logging and dispatches.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

mod actigraphy;
mod ble;
mod chat;
mod data;
mod demo;
mod forecast;
mod generate;
mod hrv;
mod insights;
mod model;
mod output;
mod patterns;
mod simulate;
mod sleep;
mod sync;
mod wearable;

/// Options every subcommand shares.
#[derive(Debug, clap::Args)]
pub struct Global {
    /// The on-device database (default: Migru's file in the platform data directory).
    #[arg(long, global = true, env = "MIGRU_DB")]
    pub db: Option<PathBuf>,
    /// Print machine-readable JSON instead of prose.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Parser)]
#[command(name = "migru", version, about = "Migru: a gentle migraine and stress companion, offline")]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Store what the child said (classified into symptom, relief, activity or message).
    Log(data::LogArgs),
    /// Import records from a JSON Lines file.
    Import(data::ImportArgs),
    /// Export every record as JSON Lines.
    Export(data::ExportArgs),
    /// What the database holds.
    Stats,
    /// Delete records older than the retention window.
    Purge(data::PurgeArgs),
    /// Delete everything on this device.
    DeleteAll(data::DeleteAllArgs),
    /// Run an end-to-end demonstration on generated sample data.
    Demo(demo::DemoArgs),
    /// Talk with Migru (streams the model's reply; templates without a model).
    Chat(chat::ChatArgs),
    /// Heart-rate variability of RR intervals (`--rr-file`, or the newest stored 5 minutes; `--json`: n_beats, sdnn_ms, rmssd_ms, …).
    Hrv(hrv::HrvArgs),
    /// Sleep/wake labels of 60 s activity counts by Cole–Kripke or Sadeh (before rescoring).
    Actigraphy(actigraphy::ActigraphyArgs),
    /// Generate text with a language model folder (`--json`: tokens, text, timings).
    Generate(generate::GenerateArgs),
    /// Language model tools: write the demo model, check a folder, write an adapter.
    Model(model::ModelArgs),
    /// The wrist band over Bluetooth LE: `scan` for bands, `record` samples as JSON Lines.
    Ble(ble::BleArgs),
    /// Patterns in a child's diary: effects, intervals, counts and confidence.
    Patterns(patterns::PatternsArgs),
    /// Insights Migru could share, in the child's and the parent's voice.
    Insights(insights::InsightsArgs),
    /// Simulate a cohort of children with planted effects (records and truth).
    Simulate(simulate::SimulateArgs),
    /// Push this device's outbox to the family server and pull its changes.
    Sync(sync::SyncArgs),
    /// Sleep episodes and the chronotype (MSFsc, social jet lag) from the database.
    Sleep(sleep::SleepArgs),
    /// Store the band's per-minute aggregates and detected sleep from a recording or the simulator.
    Wearable(wearable::WearableArgs),
    /// The next 24 h: stress, sleep timing and the migraine-risk outlook (patterns + weather).
    Forecast(forecast::ForecastArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    output::init_tracing();
    let global = &cli.global;
    let result = match cli.command {
        Command::Log(args) => data::log(global, args),
        Command::Import(args) => data::import(global, args),
        Command::Export(args) => data::export(global, args),
        Command::Stats => data::stats(global),
        Command::Purge(args) => data::purge(global, args),
        Command::DeleteAll(args) => data::delete_all(global, args),
        Command::Demo(args) => demo::run(global, args),
        Command::Chat(args) => chat::run(global, args),
        Command::Hrv(args) => hrv::run(global, args),
        Command::Actigraphy(args) => actigraphy::run(global, args),
        Command::Generate(args) => generate::run(global, args),
        Command::Model(args) => model::run(global, args),
        Command::Ble(args) => ble::run(global, args),
        Command::Patterns(args) => patterns::run(global, args),
        Command::Insights(args) => insights::run(global, args),
        Command::Simulate(args) => simulate::run(global, args),
        Command::Sync(args) => sync::run(global, args),
        Command::Sleep(args) => sleep::run(global, args),
        Command::Wearable(args) => wearable::run(global, args),
        Command::Forecast(args) => forecast::run(global, args),
    };
    output::finish(result)
}
