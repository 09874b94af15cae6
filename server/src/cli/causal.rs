//! `migru-server causal` (estimate from a CSV) and the hidden `causal-generate` (validation data).
//!
//! JSON keys are a contract: `estimate`, `ci_low`, `ci_high`, `method`, `n`, `n_treated`,
//! `refutations` (`name`, `new_estimate`, `passed`) always appear; when the data cannot support an
//! answer the numbers are `null` and `status` is `not_enough_data` with a `reason`.

use std::path::PathBuf;

use anyhow::Context;
use serde_json::{Value, json};

use crate::causal::generate::{self, GenSpec, Shape};
use crate::causal::summary::{self, Labels};
use crate::causal::{self, Analysis, Config, Method, NumStrata, Spec, Table};

#[derive(Debug, clap::Args)]
pub struct CausalArgs {
    /// CSV with a header row; booleans as true/false (any case) or 0/1.
    #[arg(long)]
    pub csv: PathBuf,
    /// Binary treatment column.
    #[arg(long)]
    pub treatment: String,
    /// Outcome column (continuous or 0/1).
    #[arg(long)]
    pub outcome: String,
    /// Comma-separated common causes (confounders).
    #[arg(long, value_delimiter = ',')]
    pub common_causes: Vec<String>,
    #[arg(long, value_parser = parse_method)]
    pub method: Method,
    /// Bootstrap replicates for the interval (0: analytic interval).
    #[arg(long, default_value_t = 0)]
    pub bootstrap: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Stratification: number of strata, or `auto` (DoWhy's default).
    #[arg(long, default_value = "auto", value_parser = parse_strata)]
    pub strata: NumStrata,
    /// Stratification: strata need more than this many treated and untreated rows.
    #[arg(long, default_value_t = 10)]
    pub clipping_threshold: usize,
    /// IPW/AIPW: drop rows with propensity outside [A, 1-A].
    #[arg(long)]
    pub trim: Option<f64>,
    /// Skip the three refutations.
    #[arg(long)]
    pub no_refute: bool,
    /// Print JSON (the contract) instead of the parent-language summary.
    #[arg(long)]
    pub json: bool,
}

fn parse_method(s: &str) -> Result<Method, String> {
    s.parse::<Method>().map_err(|e| e.to_string())
}

fn parse_strata(s: &str) -> Result<NumStrata, String> {
    if s.eq_ignore_ascii_case("auto") {
        return Ok(NumStrata::Auto);
    }
    match s.parse::<usize>() {
        Ok(k) if k >= 1 => Ok(NumStrata::Fixed(k)),
        _ => Err(format!("'{s}' is not 'auto' or a positive number of strata")),
    }
}

pub fn run(args: &CausalArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.csv).with_context(|| format!("reading {}", args.csv.display()))?;
    let spec = Spec {
        treatment: args.treatment.clone(),
        outcome: args.outcome.clone(),
        common_causes: args.common_causes.iter().filter(|c| !c.is_empty()).cloned().collect(),
    };
    let mut wanted: Vec<&str> = vec![&spec.treatment, &spec.outcome];
    wanted.extend(spec.common_causes.iter().map(String::as_str));
    let table = Table::from_csv(&text, &wanted).with_context(|| format!("in {}", args.csv.display()))?;
    let cfg = Config {
        method: args.method,
        bootstrap: args.bootstrap,
        seed: args.seed,
        num_strata: args.strata,
        clipping_threshold: args.clipping_threshold,
        trim: args.trim,
        refute: !args.no_refute,
        ..Config::default()
    };
    let started = std::time::Instant::now();
    let analysis = causal::analyze(&table, &spec, &cfg)?;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    tracing::info!(rows = table.n_rows(), method = args.method.as_str(), elapsed_ms, "causal analysis done");
    let summary = summary::summarize(&analysis, &Labels::from_columns(&spec.treatment, &spec.outcome));
    if args.json {
        let mut out = to_json(&analysis);
        out["summary"] = json!(summary.text);
        out["certainty"] = json!(summary.certainty);
        out["elapsed_ms"] = json!(elapsed_ms);
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("{}", summary.text);
    }
    Ok(())
}

/// The contract's JSON: the estimate's fields, or nulls plus the reason.
pub fn to_json(analysis: &Analysis) -> Value {
    match analysis {
        Analysis::Estimated(e) => {
            let mut v = serde_json::to_value(e).unwrap_or_else(|_| json!({}));
            v["status"] = json!("estimated");
            v
        }
        Analysis::NotEnoughData(r) => json!({
            "status": "not_enough_data",
            "method": r.method,
            "estimate": null,
            "ci_low": null,
            "ci_high": null,
            "n": r.n,
            "n_treated": r.n_treated,
            "refutations": [],
            "reason": r.reason,
            "message": r.message,
        }),
    }
}

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Where to write the CSV (columns t, y, w0…).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 1000)]
    pub rows: usize,
    #[arg(long, default_value_t = 2)]
    pub common_causes: usize,
    #[arg(long, default_value_t = -1.5, allow_hyphen_values = true)]
    pub effect: f64,
    /// Bend the outcome (sine, square, interaction) so linear regression is misspecified.
    #[arg(long)]
    pub nonlinear: bool,
    #[arg(long)]
    pub binary_outcome: bool,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Writes the data and prints the true effect as JSON (`true_ate`, `rows`, `seed`).
pub fn generate(args: &GenerateArgs) -> anyhow::Result<()> {
    let g = generate::generate(&GenSpec {
        n: args.rows,
        common_causes: args.common_causes,
        effect: args.effect,
        shape: if args.nonlinear { Shape::NonLinear } else { Shape::Linear },
        binary_outcome: args.binary_outcome,
        seed: args.seed,
    });
    std::fs::write(&args.out, g.table.to_csv()).with_context(|| format!("writing {}", args.out.display()))?;
    println!("{}", json!({ "true_ate": g.true_ate, "rows": args.rows, "seed": args.seed }));
    Ok(())
}
