//! `migru wearable`: store the band's per-minute aggregates (and the sleep they show) from a
//! replayed recording or the simulator. Raw samples are aggregated as they stream and never
//! stored (`migru_core::wearable::ingest`).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, Duration, FixedOffset};
use migru_core::event::encode_line;
use migru_core::wearable::{IngestConfig, IngestSummary, ReplaySource, SimConfig, Simulator, StoreSink};

use crate::Global;
use crate::data::open;
use crate::output::print_json;

#[derive(Debug, clap::Args)]
pub struct WearableArgs {
    #[command(subcommand)]
    command: WearableCommand,
    /// Whose data (default: the local child).
    #[arg(long, global = true)]
    user: Option<String>,
    /// Raw samples kept in memory for look-back (they are never stored), at most this many…
    #[arg(long, global = true, default_value_t = 2048)]
    raw_max_samples: usize,
    /// …and at most this many seconds old.
    #[arg(long, global = true, default_value_t = 300)]
    raw_max_age_s: u64,
}

#[derive(Debug, clap::Subcommand)]
enum WearableCommand {
    /// Aggregate a recording (JSON Lines `hr`/`rr`/`eda`/`accel` records, e.g. from `migru ble
    /// record`) into per-minute rows and detected sleep.
    Replay {
        /// The recording.
        file: PathBuf,
    },
    /// Simulate a wrist band (32 Hz acceleration, 4 Hz EDA, heart rate and RR) and store its minutes.
    Simulate {
        /// How many hours.
        #[arg(long, default_value_t = 24)]
        hours: u32,
        /// Start (RFC 3339, with offset).
        #[arg(long, default_value = "2026-03-02T00:00:00+01:00")]
        start: DateTime<FixedOffset>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Also write the simulated samples as JSON Lines records (the format `replay` reads).
        #[arg(long)]
        records: Option<PathBuf>,
    },
}

pub fn run(global: &Global, args: WearableArgs) -> anyhow::Result<()> {
    let mut companion = open(global)?;
    if let Some(user) = &args.user {
        companion = companion.for_user(user)?;
    }
    let mut config = IngestConfig::default();
    config.aggregator.raw.max_samples = args.raw_max_samples;
    config.aggregator.raw.max_age = std::time::Duration::from_secs(args.raw_max_age_s);
    let mut sink = StoreSink::new(companion.store(), companion.user(), config);
    match args.command {
        WearableCommand::Replay { file } => {
            let mut failed = None;
            let counts = ReplaySource::new(&file)
                .for_each(|sample| match sink.push(sample) {
                    Ok(()) => true,
                    Err(error) => {
                        failed = Some(error);
                        false
                    }
                })
                .with_context(|| format!("replaying {}", file.display()))?;
            if let Some(error) = failed {
                return Err(error).context("storing minutes");
            }
            if counts.malformed_lines > 0 {
                tracing::warn!(lines = counts.malformed_lines, "malformed lines skipped");
            }
        }
        WearableCommand::Simulate { hours, start, seed, records } => {
            let sim = Simulator::new(SimConfig::new(seed, start, Duration::hours(i64::from(hours))));
            let mut out = match &records {
                Some(path) => Some(std::io::BufWriter::new(
                    std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
                )),
                None => None,
            };
            for sample in sim {
                if let (Some(out), Some(record)) = (out.as_mut(), sample.to_record(companion.user())) {
                    writeln!(out, "{}", encode_line(&record)).context("writing records")?;
                }
                sink.push(sample).context("storing minutes")?;
            }
            if let Some(mut out) = out {
                out.flush().context("writing records")?;
            }
        }
    }
    let summary = sink.finish().context("storing minutes")?;
    report(global, &summary)
}

fn report(global: &Global, s: &IngestSummary) -> anyhow::Result<()> {
    if global.json {
        return print_json(s);
    }
    println!(
        "{} samples → {} minutes stored ({} to {}); {} sleep episodes detected; {} late samples dropped",
        s.samples,
        s.minutes_stored,
        s.first_minute.as_deref().unwrap_or("-"),
        s.last_minute.as_deref().unwrap_or("-"),
        s.sleep_episodes_stored,
        s.late_samples
    );
    Ok(())
}
