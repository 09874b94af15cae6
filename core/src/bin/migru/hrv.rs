//! `migru hrv`: heart-rate variability of an RR-interval file (one interval in ms per line).

use std::path::PathBuf;

use anyhow::{Context, bail};
use migru_core::signals::hrv::{HrvOptions, HrvSummary, hrv};
use migru_core::signals::series::parse_series;

use crate::Global;
use crate::output::print_json;

#[derive(Debug, clap::Args)]
pub struct HrvArgs {
    /// RR intervals, one per line in milliseconds (`#` comments and blank lines allowed).
    #[arg(long)]
    pub rr_file: Option<PathBuf>,
}

pub fn run(global: &Global, args: HrvArgs) -> anyhow::Result<()> {
    let Some(path) = args.rr_file else {
        bail!(
            "reading RR intervals from the database is not available yet: pass --rr-file FILE (one RR interval in ms per line)"
        );
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
