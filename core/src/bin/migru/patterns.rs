//! `migru patterns`: the pattern engine's report for one child (counts, effects, intervals,
//! FDR-controlled confidence, sliding windows). Catches up from the saved cursor first.

use std::io::BufRead;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use migru_core::event::decode_line;
use migru_core::patterns::{self, Engine, Report};
use migru_core::store::Store;

use crate::Global;
use crate::output::print_json;

#[derive(Debug, clap::Args)]
pub struct PatternsArgs {
    /// The child (default: the local child).
    #[arg(long)]
    pub user: Option<String>,
    /// Replay a JSON Lines file through an in-memory engine (no database) and report the
    /// throughput and cohort-wide counts (used by the Pathway comparison).
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
}

/// Loads the saved engine, feeds it every event after its cursor and saves it again.
pub fn up_to_date(store: &Store, user: &str) -> anyhow::Result<Engine> {
    let mut engine = patterns::load(store, user)?;
    let read = patterns::catch_up(store, user, &mut engine)?;
    if read > 0 {
        patterns::save(store, user, &engine)?;
    }
    tracing::debug!(read, last_seq = engine.last_seq, "pattern engine caught up");
    Ok(engine)
}

pub fn run(global: &Global, args: PatternsArgs) -> anyhow::Result<()> {
    if let Some(path) = &args.replay {
        return replay(path);
    }
    let companion = crate::data::open(global)?;
    let user = args.user.unwrap_or_else(|| companion.user().to_owned());
    let engine = up_to_date(companion.store(), &user)?;
    let Some(report) = engine.report(&user) else {
        if global.json {
            return print_json(&serde_json::json!({ "user": user, "candidates": [], "symptom_episodes": 0 }));
        }
        println!("No events for {user} yet.");
        return Ok(());
    };
    if global.json {
        return print_json(&report);
    }
    print_prose(&report);
    Ok(())
}

fn print_prose(r: &Report) {
    println!(
        "{}: {} symptom episodes in {:.0} awake hours ({} to {}); FDR q = {}",
        r.user, r.symptom_episodes, r.awake_hours, r.observed_from, r.observed_until, r.fdr_q
    );
    let mut shown = 0;
    for c in r.candidates.iter().filter(|c| c.tested) {
        let high = c.ci_high.map_or_else(|| "∞".to_owned(), |h| format!("{h:.2}"));
        let mark = if c.significant { "*" } else { " " };
        println!(
            "{mark} {:<32} effect {:>6.2} [{:.2}, {high}]  exposed {:>3}  unexposed {:>3}  q {:.3}",
            c.key, c.effect, c.ci_low, c.counts.exposed_events, c.counts.unexposed_events, c.q_value
        );
        shown += 1;
    }
    if shown == 0 {
        println!("Not enough data yet to test any pattern.");
    }
}

/// Decodes the whole file first, so the timing covers the engine only.
fn replay(path: &PathBuf) -> anyhow::Result<()> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut records = Vec::new();
    let mut skipped = 0u64;
    for line in std::io::BufReader::new(file).lines() {
        match decode_line(line?.as_bytes()) {
            Ok(record) => records.push(record),
            Err(_) => skipped += 1,
        }
    }
    let started = Instant::now();
    let mut engine = Engine::default();
    for record in &records {
        engine.observe(record);
    }
    let seconds = started.elapsed().as_secs_f64();
    let reports: Vec<Report> = engine.users().filter_map(|u| engine.report(u)).collect();
    let sum = |key: &str, exposed: bool| -> u64 {
        reports
            .iter()
            .filter_map(|r| r.candidates.iter().find(|c| c.key == key))
            .map(|c| u64::from(if exposed { c.counts.exposed_events } else { c.counts.unexposed_events }))
            .sum()
    };
    let tod: serde_json::Map<String, serde_json::Value> = ["morning", "afternoon", "evening", "night"]
        .iter()
        .map(|t| (t.to_string(), sum(&format!("time_of_day:{t}"), true).into()))
        .collect();
    let triggers: u64 = migru_core::event::ActivityCategory::ALL.iter().map(|c| sum(&format!("trigger:activity:{c}"), true)).sum();
    print_json(&serde_json::json!({
        "events": records.len(),
        "skipped_lines": skipped,
        "children": reports.len(),
        "seconds": (seconds * 1000.0).round() / 1000.0,
        "events_per_s": (records.len() as f64 / seconds).round(),
        "significant_patterns": reports.iter().map(|r| r.candidates.iter().filter(|c| c.significant).count()).sum::<usize>(),
        "counts": {
            "symptom_episodes_by_time_of_day": tod,
            "symptom_episodes_in_low_pressure_hours": sum("weather:low_pressure", true),
            "symptom_episodes_within_2h_after_an_activity_summed_over_categories": triggers,
        },
    }))
}
