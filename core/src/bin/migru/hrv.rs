//! `migru hrv`: heart-rate variability of an RR-interval file (one interval in ms per line), or
//! without a file of the RR intervals stored in the database: the `--minutes` (default 5) ending
//! at the newest `rr` record, from the last gap on (`migru_core::readings`).

use std::path::PathBuf;

use anyhow::Context;
use migru_core::signals::hrv::{HrvOptions, HrvSummary, hrv};
use migru_core::readings::recent_hrv;
use migru_core::signals::series::parse_series;

use crate::Global;
use crate::output::print_json;

#[derive(Debug, clap::Args)]
pub struct HrvArgs {
    /// RR intervals, one per line in milliseconds (`#` comments and blank lines allowed).
    #[arg(long)]
    pub rr_file: Option<PathBuf>,
    /// Without `--rr-file`: the minutes of stored RR intervals, ending at the newest `rr` record.
    #[arg(long, default_value_t = 5)]
    pub minutes: u32,
    /// Without `--rr-file`: whose RR intervals (default: the local child).
    #[arg(long)]
    pub user: Option<String>,
}

pub fn run(global: &Global, args: HrvArgs) -> anyhow::Result<()> {
    let Some(path) = args.rr_file else {
        return from_database(global, &args);
    };
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let rr = parse_series("RR intervals", &text).with_context(|| path.display().to_string())?;
    let summary = hrv(&rr, &HrvOptions::default())
        .with_context(|| format!("computing HRV of {}", path.display()))?;
    if global.json {
        print_json(&summary)
    } else {
        print_prose(&summary)
    }
}

fn from_database(global: &Global, args: &HrvArgs) -> anyhow::Result<()> {
    let mut companion = crate::data::open(global)?;
    if let Some(user) = &args.user {
        companion = companion.for_user(user)?;
    }
    let stored = recent_hrv(companion.store(), companion.user(), args.minutes, &HrvOptions::default())?;
    if global.json {
        return print_json(&stored);
    }
    println!(
        "RR intervals from {} to {} ({} records{})",
        stored.window.from,
        stored.window.to,
        stored.window.records,
        if stored.window.gaps > 0 { ", after the last gap" } else { "" }
    );
    print_prose(&stored.summary)
}

fn print_prose(s: &HrvSummary) -> anyhow::Result<()> {
    println!(
        "{} beats ({} corrected as artefacts)",
        s.n_beats, s.artifacts_corrected
    );
    println!(
        "mean RR {:.1} ms ({:.0} bpm)",
        s.mean_rr_ms,
        60_000.0 / s.mean_rr_ms
    );
    println!(
        "SDNN {:.1} ms, RMSSD {:.1} ms, pNN50 {:.1} %",
        s.sdnn_ms, s.rmssd_ms, s.pnn50_pct
    );
    match (s.lf_ms2, s.hf_ms2, s.lf_hf) {
        (Some(lf), Some(hf), ratio) => {
            let ratio = ratio.map_or_else(|| "n/a".to_string(), |r| format!("{r:.2}"));
            println!("LF {lf:.0} ms², HF {hf:.0} ms², LF/HF {ratio}");
        }
        _ => println!("LF/HF: the series is shorter than 2 minutes"),
    }
    Ok(())
}
