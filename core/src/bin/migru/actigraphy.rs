//! `migru actigraphy`: sleep/wake labels of a counts file (one count per 60 s epoch per line).

use std::path::PathBuf;

use anyhow::Context;
use migru_core::signals::series::parse_series;
use migru_core::signals::sleep::{Algorithm, score};

use crate::Global;
use crate::output::print_json;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum AlgorithmArg {
    /// Cole–Kripke 1992, one-minute mean-activity coefficients (pyActigraphy `CK(settings="mean")`).
    ColeKripke,
    /// Sadeh 1994 (pyActigraphy `Sadeh()` defaults).
    Sadeh,
}

#[derive(Debug, clap::Args)]
pub struct ActigraphyArgs {
    /// Activity counts, one per 60 s epoch per line.
    #[arg(long)]
    pub counts_file: PathBuf,
    /// The scoring algorithm.
    #[arg(long, value_enum)]
    pub algorithm: AlgorithmArg,
}

#[derive(serde::Serialize)]
struct Labels {
    /// One label per epoch, `true` = sleep, before any rescoring.
    sleep: Vec<bool>,
}

pub fn run(global: &Global, args: ActigraphyArgs) -> anyhow::Result<()> {
    let path = &args.counts_file;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let counts =
        parse_series("activity counts", &text).with_context(|| path.display().to_string())?;
    let algorithm = match args.algorithm {
        AlgorithmArg::ColeKripke => Algorithm::ColeKripke,
        AlgorithmArg::Sadeh => Algorithm::Sadeh,
    };
    let sleep = score(&counts, algorithm).with_context(|| format!("scoring {}", path.display()))?;
    if global.json {
        print_json(&Labels { sleep })
    } else {
        let asleep = sleep.iter().filter(|&&s| s).count();
        println!(
            "{asleep} of {} epochs scored as sleep ({} min of {} min)",
            sleep.len(),
            asleep,
            sleep.len()
        );
        Ok(())
    }
}
