//! `migru demo`: everything Migru can do on the phone, end to end, on a generated sample diary:
//! import and export, the pattern engine, conversation turns with insights and a red flag
//! (`conversation`), a simulated wrist band with sleep, chronotype, HRV and the outlook (`body`),
//! the assistant's reply in a real ONNX Runtime session (`assistant`), and the family on a real
//! `migru-server` on loopback: pairing, sync, the red-flag alert and the server's analysis
//! reaching the parent's phone (`family`), and the parent's thumbs retraining the family's
//! adapter, which the phone verifies and applies (`retrain`).
//!
//! It never touches the user's real database: without `--db` it works in a fresh temporary folder.

mod assistant;
mod body;
mod conversation;
mod family;
mod retrain;

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Duration, FixedOffset, Timelike};
use migru_core::event::encode_line;
use migru_core::{Companion, sample};
use serde_json::json;

use crate::Global;
use crate::output::print_json;

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Days of sample diary to generate.
    #[arg(long, default_value_t = 21)]
    pub days: u32,
    /// Seed of the sample diary.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Skip retraining the family's adapter from the parent's thumbs (it pretrains a small model
    /// and runs the KTO job: seconds in a release build, minutes in a debug one).
    #[arg(long)]
    pub no_retrain: bool,
}

pub fn run(global: &Global, args: DemoArgs) -> anyhow::Result<()> {
    let workdir = tempfile_dir()?;
    let db = global.db.clone().unwrap_or_else(|| workdir.join("demo.db"));
    let say = |line: &str| if !global.json { println!("{line}") };
    say(&format!("Migru demo — working in {}", workdir.display()));

    let sample_file = write_sample(&workdir, &args)?;
    let companion = Companion::open(&db).with_context(|| format!("opening {}", db.display()))?;
    let first = companion.import_file(&sample_file, |_| {})?;
    say(&format!(
        "1. Imported a {}-day sample diary: {} records stored, {} malformed lines skipped with reasons:",
        args.days, first.imported, first.skipped
    ));
    for error in &first.errors {
        say(&format!("     line {}: {}", error.line, error.reason));
    }
    let second = companion.import_file(&sample_file, |_| {})?;
    say(&format!("2. Imported the same file again: {} new, {} already stored.", second.imported, second.duplicates));

    let logged = companion.log_message("my head hurts a little after school", None)?;
    say(&format!("3. Logged a message: {}", encode_line(&logged.logged.event.record)));

    let stats = companion.stats()?;
    say(&format!("4. The store holds {} events ({} bytes); {} wait in the sync outbox.", stats.events, stats.file_bytes, stats.outbox_pending));

    let identical = export_round_trip(&companion, &workdir)?;
    say(&format!("5. Export → import into a new database → export: identical = {identical}."));

    let patterns = demo_patterns(&companion)?;
    say(&format!(
        "6. Pattern engine: {} symptom episodes, {} candidate patterns tested, {} significant after FDR control:",
        patterns["symptom_episodes"], patterns["tested"], patterns["significant"].as_array().map_or(0, Vec::len)
    ));
    for p in patterns["significant"].as_array().into_iter().flatten() {
        let high = p["ci_high"].as_f64().map_or_else(|| "∞".to_owned(), |h| format!("{h:.1}"));
        say(&format!(
            "     {} {}: rate ratio {:.1} (95% CI {:.1} to {high}), {} episodes",
            p["kind"].as_str().unwrap_or(""),
            p["subject"].as_str().unwrap_or(""),
            p["effect"].as_f64().unwrap_or(0.0),
            p["ci_low"].as_f64().unwrap_or(0.0),
            p["support"]
        ));
    }

    let today = today_midnight();
    let afternoon = today - Duration::days(1) + Duration::hours(16) + Duration::minutes(30);
    let turns = conversation::turns(&companion, afternoon)?;
    say("7. A conversation after school (stored, patterns updated, the insight policy decides):");
    for line in turns.iter().flat_map(conversation::describe) {
        say(&line);
    }

    let body = body::run(&companion, today, args.seed)?;
    say("8. A simulated wrist band streams 3 days through the phone's ingest:");
    for line in body::describe(&body) {
        say(&line);
    }

    let reply = assistant::run(&companion, &workdir)?;
    say("9. The assistant replies on the phone:");
    for line in assistant::describe(&reply) {
        say(&line);
    }

    let (family, retrained) = family::run(&companion, &workdir, !args.no_retrain)?;
    say("10. The family on a real server (loopback):");
    for line in family::describe(&family) {
        say(&line);
    }
    say("11. The parent's thumbs retrain the family's recommendations:");
    for line in retrain::describe(&retrained) {
        say(&line);
    }

    let purged = companion.purge_expired()?;
    say(&format!("12. Retention ({} days) purged {purged} old rows.", companion.store().retention_days()?));

    if global.json {
        print_json(&json!({
            "database": db,
            "import": first,
            "reimport": second,
            "logged": serde_json::from_str::<serde_json::Value>(&encode_line(&logged.logged.event.record))?,
            "stats": stats,
            "export_round_trip_identical": identical,
            "patterns": patterns,
            "conversation": turns,
            "body": body,
            "assistant": reply,
            "family": family,
            "retrain": retrained,
            "purged": purged,
        }))?;
    }
    anyhow::ensure!(identical, "export round trip differed");
    Ok(())
}

/// The incremental pattern engine over everything just stored: what is significant, and the
/// counts behind it.
fn demo_patterns(companion: &Companion) -> anyhow::Result<serde_json::Value> {
    let engine = crate::patterns::up_to_date(companion.store(), companion.user())?;
    let Some(report) = engine.report(companion.user()) else {
        return Ok(json!({ "symptom_episodes": 0, "tested": 0, "significant": [] }));
    };
    let significant: Vec<_> = report.candidates.iter().filter(|c| c.significant).collect();
    Ok(json!({
        "symptom_episodes": report.symptom_episodes,
        "tested": report.candidates.iter().filter(|c| c.tested).count(),
        "fdr_q": report.fdr_q,
        "significant": significant,
    }))
}

/// Local midnight that starts today (the sample diary ends the day before).
fn today_midnight() -> DateTime<FixedOffset> {
    let now = migru_core::companion::now_local();
    now - Duration::seconds(i64::from(now.num_seconds_from_midnight())) - Duration::nanoseconds(i64::from(now.nanosecond()))
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("migru-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// The sample diary as JSONL, with two deliberately broken lines to show the error report.
fn write_sample(dir: &Path, args: &DemoArgs) -> anyhow::Result<PathBuf> {
    let midnight = today_midnight();
    let path = dir.join("sample.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
    for (i, record) in sample::diary(args.seed, args.days, midnight).iter().enumerate() {
        writeln!(out, "{}", encode_line(record))?;
        if i == 10 {
            writeln!(out, r#"{{"ts":"2026-02-30T09:00:00+01:00","kind":"symptom","intensity":4}}"#)?;
        }
        if i == 20 {
            writeln!(out, r#"{{"ts":"2026-03-01T09:00:00+01:00","kind":"symptom","intensity":"very bad"}}"#)?;
        }
    }
    out.flush()?;
    Ok(path)
}

fn export_round_trip(companion: &Companion, dir: &Path) -> anyhow::Result<bool> {
    let first = dir.join("export-1.jsonl");
    let second = dir.join("export-2.jsonl");
    let copy_db = dir.join("round-trip.db");
    let _ = std::fs::remove_file(&copy_db);
    companion.export_file(&first)?;
    let copy = Companion::open(&copy_db)?;
    copy.import_file(&first, |_| {})?;
    copy.export_file(&second)?;
    Ok(std::fs::read(&first)? == std::fs::read(&second)?)
}
