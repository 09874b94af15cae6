//! `migru ble scan` and `migru ble record`: the wrist band over Bluetooth LE (desktop, btleplug).
//!
//! `record` writes the band's samples as JSON Lines records (`hr`, `rr`, `eda`, `accel`), the
//! import format, so `migru import` stores them. Without a usable adapter both commands fail fast
//! with "no Bluetooth adapter found".

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use migru_core::event::{LOCAL_USER, encode_line};
use migru_core::wearable::ble::{BleConfig, BleSource, first_adapter, scan};
use migru_core::wearable::{IngestConfig, IngestStats, IngestSummary, SensorEvent, SensorStream, StoreSink};
use serde::Serialize;

use crate::Global;
use crate::output::print_json;

#[derive(Debug, clap::Args)]
pub struct BleArgs {
    #[command(subcommand)]
    command: BleCommand,
}

#[derive(Debug, clap::Subcommand)]
enum BleCommand {
    /// List nearby bands that offer the Heart Rate or the Migru sensor service.
    Scan {
        /// How long to scan.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Record a band's samples as JSON Lines (the import format), reconnecting if it drops.
    Record {
        /// The device id or address, as `migru ble scan` lists it.
        #[arg(long)]
        device: String,
        /// Stop after this many seconds (default: until interrupted).
        #[arg(long)]
        seconds: Option<u64>,
        /// Write the records here instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
        /// The `user` of the records (default: the local child).
        #[arg(long, default_value = LOCAL_USER)]
        user: String,
        /// Also aggregate the samples into the database's per-minute rows and detected sleep
        /// (raw samples are not stored; see `migru wearable`).
        #[arg(long)]
        store: bool,
    },
}

pub fn run(global: &Global, args: BleArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        match args.command {
            BleCommand::Scan { seconds } => scan_command(global, seconds).await,
            BleCommand::Record {
                device,
                seconds,
                out,
                user,
                store,
            } => record_command(global, device, seconds, out, &user, store).await,
        }
    })
}

async fn scan_command(global: &Global, seconds: u64) -> anyhow::Result<()> {
    let devices = scan(Duration::from_secs(seconds)).await?;
    if global.json {
        return print_json(&serde_json::json!({ "devices": devices }));
    }
    if devices.is_empty() {
        println!("No band found in {seconds} s (looked for the Heart Rate and Migru services).");
    }
    for d in devices {
        let rssi = d.rssi_dbm.map_or_else(|| "?".into(), |r| r.to_string());
        let name = d.name.as_deref().unwrap_or("(no name)");
        let migru = if d.migru_service {
            ", Migru sensors"
        } else {
            ""
        };
        println!("{}  {name}  {rssi} dBm{migru}", d.id);
    }
    Ok(())
}

/// What `record` did, printed at the end (stderr, or stdout with `--json --out`).
#[derive(Debug, Default, Serialize)]
struct RecordSummary {
    records_written: u64,
    /// Samples with no record kind in the import format (battery level, skin temperature).
    samples_not_recorded: u64,
    connections: u64,
    ingest: IngestStats,
    /// With `--store`: what went into the database.
    #[serde(skip_serializing_if = "Option::is_none")]
    stored: Option<IngestSummary>,
}

async fn record_command(
    global: &Global,
    device: String,
    seconds: Option<u64>,
    out: Option<PathBuf>,
    user: &str,
    store: bool,
) -> anyhow::Result<()> {
    first_adapter().await?;
    let companion = if store { Some(crate::data::open(global)?) } else { None };
    let mut minutes = companion
        .as_ref()
        .map(|c| StoreSink::new(c.store(), user, IngestConfig::default()));
    let mut sink: Box<dyn Write> = match &out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut stream = SensorStream::spawn(Box::new(BleSource::new(BleConfig::new(device))));
    let mut summary = RecordSummary::default();
    let deadline = seconds.map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
    loop {
        let next = match deadline {
            Some(d) => match tokio::time::timeout_at(d, stream.next()).await {
                Ok(event) => event,
                Err(_) => break,
            },
            None => stream.next().await,
        };
        let Some(event) = next else { break };
        if let (Some(minutes), SensorEvent::Sample(sample)) = (minutes.as_mut(), &event) {
            minutes.push(sample.clone()).context("storing minutes")?;
        }
        handle(event, user, &mut sink, &mut summary)?;
    }
    if let Some(minutes) = minutes {
        summary.stored = Some(minutes.finish().context("storing minutes")?);
    }
    sink.flush().context("writing records")?;
    drop(sink);
    let ended = if deadline.is_some() {
        Ok(())
    } else {
        stream.finish().await
    };
    report(global, out.is_some(), &summary)?;
    ended.map_err(Into::into)
}

fn handle(
    event: SensorEvent,
    user: &str,
    sink: &mut dyn Write,
    summary: &mut RecordSummary,
) -> anyhow::Result<()> {
    match event {
        SensorEvent::Sample(sample) => match sample.to_record(user) {
            Some(record) => {
                writeln!(sink, "{}", encode_line(&record)).context("writing records")?;
                summary.records_written += 1;
            }
            None => summary.samples_not_recorded += 1,
        },
        SensorEvent::Connection { state, .. } => {
            if matches!(
                state,
                migru_core::wearable::ConnectionState::Connected { .. }
            ) {
                summary.connections += 1;
            }
            tracing::info!(?state, "band connection");
        }
        SensorEvent::Stats(stats) => summary.ingest = stats,
    }
    Ok(())
}

fn report(global: &Global, records_in_file: bool, s: &RecordSummary) -> anyhow::Result<()> {
    if global.json && records_in_file {
        return print_json(s);
    }
    let drops: Vec<String> = s
        .ingest
        .drops
        .nonzero()
        .map(|(r, n)| format!("{n} {}", r.as_str()))
        .collect();
    eprintln!(
        "migru: {} records written, {} samples without a record kind; {} connections; {} packets dropped{}; {} gaps ({} packets missing)",
        s.records_written,
        s.samples_not_recorded,
        s.connections,
        s.ingest.packets_dropped,
        if drops.is_empty() {
            String::new()
        } else {
            format!(" ({})", drops.join(", "))
        },
        s.ingest.gaps,
        s.ingest.missing_packets,
    );
    if let Some(stored) = &s.stored {
        eprintln!(
            "migru: {} minutes and {} sleep episodes stored",
            stored.minutes_stored, stored.sleep_episodes_stored
        );
    }
    Ok(())
}
