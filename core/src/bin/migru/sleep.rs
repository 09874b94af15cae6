//! `migru sleep`: sleep episodes (logged and detected) and the chronotype from the database.

use std::collections::BTreeSet;

use anyhow::Context;
use chrono::NaiveDate;
use migru_core::chronotype::{AgeGroup, ChronotypeOptions, Confidence};
use migru_core::companion::now_local;
use migru_core::readings::{SleepReport, sleep_report};

use crate::Global;
use crate::data::open;
use crate::output::print_json;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum AgeGroupArg {
    /// 4–12 years.
    Child,
    /// 13–19 years.
    Teen,
    Adult,
}

#[derive(Debug, clap::Args)]
pub struct SleepArgs {
    /// Look back this many days (by wake-up time).
    #[arg(long, default_value_t = 28)]
    pub days: u32,
    /// A free day besides weekends (holiday, vacation), YYYY-MM-DD; repeat for more.
    #[arg(long = "free-date")]
    pub free_dates: Vec<NaiveDate>,
    /// Weekends are school days too (only `--free-date`s are free).
    #[arg(long)]
    pub no_free_weekends: bool,
    /// Whose norms the early/late thresholds follow.
    #[arg(long, value_enum, default_value = "child")]
    pub age_group: AgeGroupArg,
    /// Whose sleep (default: the local child).
    #[arg(long)]
    pub user: Option<String>,
}

pub fn run(global: &Global, args: SleepArgs) -> anyhow::Result<()> {
    let mut companion = open(global)?;
    if let Some(user) = &args.user {
        companion = companion.for_user(user)?;
    }
    let options = ChronotypeOptions {
        weekends_free: !args.no_free_weekends,
        free_dates: args.free_dates.iter().copied().collect::<BTreeSet<_>>(),
        age_group: match args.age_group {
            AgeGroupArg::Child => AgeGroup::Child,
            AgeGroupArg::Teen => AgeGroup::Teen,
            AgeGroupArg::Adult => AgeGroup::Adult,
        },
    };
    let report = sleep_report(companion.store(), companion.user(), now_local(), args.days, &options)
        .context("reading sleep")?;
    if global.json { print_json(&report) } else { print_prose(&report) }
}

fn print_prose(r: &SleepReport) -> anyhow::Result<()> {
    if r.episodes.is_empty() {
        println!("No sleep in the last {} days (log `sleep` records or wear the band at night).", r.window_days);
    }
    for e in &r.episodes {
        let eff = e.efficiency_pct.map_or_else(String::new, |v| format!(", efficiency {v:.0} %"));
        println!("{} → {}  {:.0} min{eff}", e.start, e.end, e.duration_min);
    }
    let c = &r.chronotype;
    match (c.confidence, &c.msf_sc, c.category, c.social_jetlag_min) {
        (Confidence::NotYet, ..) | (_, None, ..) | (_, _, None, _) | (_, _, _, None) => println!(
            "Chronotype: not yet ({} free and {} school nights; it needs at least 2 free and 4 school nights).",
            c.free_days, c.school_days
        ),
        (confidence, Some(msf), Some(category), Some(sjl)) => println!(
            "Chronotype: mid-sleep on free days {msf} (sleep-corrected), {category:?}; social jet lag {sjl:.0} min; confidence {confidence:?} ({} free, {} school nights).",
            c.free_days, c.school_days
        ),
    }
    Ok(())
}
