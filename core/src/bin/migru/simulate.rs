//! `migru simulate`: a cohort of simulated children (JSON Lines records) and what was planted.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;
use migru_core::event::encode_line;
use migru_core::simulate::{Config, cohort};

use crate::Global;
use crate::output::print_json;

#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    #[arg(long, default_value_t = 200)]
    pub children: u32,
    #[arg(long, default_value_t = 28)]
    pub days: u32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Share of children with planted effects.
    #[arg(long, default_value_t = 0.5)]
    pub effect_share: f64,
    /// Where to write the records (JSON Lines).
    #[arg(long)]
    pub out: PathBuf,
    /// Where to write what was planted (JSON).
    #[arg(long)]
    pub truth: Option<PathBuf>,
}

pub fn run(global: &Global, args: SimulateArgs) -> anyhow::Result<()> {
    if !(0.0..=1.0).contains(&args.effect_share) {
        anyhow::bail!("--effect-share must be between 0 and 1");
    }
    if args.days == 0 || args.days > 3660 || args.children == 0 {
        anyhow::bail!("--children must be at least 1 and --days between 1 and 3660");
    }
    let config = Config { children: args.children, days: args.days, seed: args.seed, effect_share: args.effect_share, ..Config::default() };
    let (records, truth) = cohort(&config);
    let file = std::fs::File::create(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let mut out = BufWriter::new(file);
    for r in &records {
        writeln!(out, "{}", encode_line(r)).with_context(|| format!("writing {}", args.out.display()))?;
    }
    out.flush()?;
    if let Some(path) = &args.truth {
        std::fs::write(path, serde_json::to_string_pretty(&truth)?).with_context(|| format!("writing {}", path.display()))?;
    }
    let planted: usize = truth.children.iter().map(|c| c.effects.len()).sum();
    if global.json {
        return print_json(&serde_json::json!({
            "records": records.len(), "children": args.children, "days": args.days, "seed": args.seed,
            "planted_effects": planted, "out": args.out, "truth": args.truth,
        }));
    }
    println!("Wrote {} records for {} children over {} days ({planted} planted effects) to {}", records.len(), args.children, args.days, args.out.display());
    Ok(())
}
