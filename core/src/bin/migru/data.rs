//! Store commands: `log`, `import`, `export`, `stats`, `purge`, `delete-all`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use migru_core::Companion;
use migru_core::event::{encode_line, jsonl::parse_ts};
use serde_json::Value;

use crate::Global;
use crate::output::print_json;

#[derive(Debug, clap::Args)]
pub struct LogArgs {
    /// What the child said, in their own words.
    pub text: String,
    /// When it happened (RFC 3339 with offset); default now.
    #[arg(long)]
    pub at: Option<String>,
    /// The child this message belongs to (default: the local child).
    #[arg(long)]
    pub user: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// A JSON Lines file in Migru's record format (`docs/record.schema.json`).
    pub file: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Where to write (default: standard output).
    #[arg(long, short)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct PurgeArgs {
    /// Change the retention window (days) before purging.
    #[arg(long)]
    pub retention_days: Option<u32>,
}

#[derive(Debug, clap::Args)]
pub struct DeleteAllArgs {
    /// Confirms that every record on this device should be deleted.
    #[arg(long)]
    pub yes: bool,
}

/// Opens the companion at `--db` or the platform default (creating its folder).
pub fn open(global: &Global) -> anyhow::Result<Companion> {
    let path = match &global.db {
        Some(path) => path.clone(),
        None => default_db_path()?,
    };
    Companion::open(&path).with_context(|| format!("opening {}", path.display()))
}

fn default_db_path() -> anyhow::Result<PathBuf> {
    let dirs = directories::ProjectDirs::from("org", "Migru", "migru")
        .context("no home directory found; pass --db PATH")?;
    std::fs::create_dir_all(dirs.data_dir()).with_context(|| format!("creating {}", dirs.data_dir().display()))?;
    Ok(dirs.data_dir().join("migru.db"))
}

pub fn log(global: &Global, args: LogArgs) -> anyhow::Result<()> {
    let mut companion = open(global)?;
    if let Some(user) = &args.user {
        companion = companion.for_user(user)?;
    }
    let at = args.at.as_deref().map(parse_ts).transpose().map_err(|e| anyhow::anyhow!("--at: {e}"))?;
    let logged = companion.log_message(&args.text, at)?;
    let record = &logged.logged.event.record;
    if global.json {
        let mut value: Value = serde_json::from_str(&encode_line(record))?;
        let c = &logged.classification;
        value["red_flag"] = serde_json::to_value(c.red_flag)?;
        value["safety_concern"] = c.safety_concern.into();
        value["newly_stored"] = logged.logged.newly_stored.into();
        value["classification"] = serde_json::to_value(c)?;
        value["also_stored"] = logged.also_stored.iter().map(|e| serde_json::from_str::<Value>(&encode_line(&e.record))).collect::<Result<Vec<_>, _>>()?.into();
        print_json(&value)
    } else {
        println!("Saved as {}. Thank you for telling me.", record.kind());
        Ok(())
    }
}

pub fn import(global: &Global, args: ImportArgs) -> anyhow::Result<()> {
    let companion = open(global)?;
    let show_progress = !global.json;
    let report = companion.import_file(&args.file, |so_far| {
        if show_progress {
            eprint!("\r{} lines read", so_far.lines_seen());
        }
    })?;
    if show_progress {
        eprintln!();
    }
    if global.json {
        return print_json(&report);
    }
    println!("Imported {} records, skipped {}, already stored {}.", report.imported, report.skipped, report.duplicates);
    for error in &report.errors {
        println!("  line {}: {}", error.line, error.reason);
    }
    if report.skipped as usize > report.errors.len() {
        println!("  (and {} more)", report.skipped as usize - report.errors.len());
    }
    Ok(())
}

pub fn export(global: &Global, args: ExportArgs) -> anyhow::Result<()> {
    let companion = open(global)?;
    let count = match &args.out {
        Some(path) => companion.export_file(path)?,
        None => {
            let stdout = std::io::stdout().lock();
            migru_core::exchange::export_jsonl(companion.store(), &Default::default(), std::io::BufWriter::new(stdout))?
        }
    };
    if args.out.is_some() {
        if global.json {
            print_json(&serde_json::json!({ "exported": count }))?;
        } else {
            println!("Exported {count} records.");
        }
    }
    Ok(())
}

pub fn stats(global: &Global) -> anyhow::Result<()> {
    let companion = open(global)?;
    let stats = companion.stats()?;
    let retention_days = companion.store().retention_days()?;
    if global.json {
        let mut value = serde_json::to_value(&stats)?;
        value["retention_days"] = retention_days.into();
        return print_json(&value);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{} events ({} users), {} bytes on disk", stats.events, stats.users.len(), stats.file_bytes)?;
    for (kind, n) in &stats.by_kind {
        writeln!(out, "  {kind:<13} {n}")?;
    }
    if let (Some(first), Some(last)) = (&stats.first_ts, &stats.last_ts) {
        writeln!(out, "from {first} to {last}")?;
    }
    writeln!(out, "waiting to sync: {}; kept for {retention_days} days", stats.outbox_pending)?;
    Ok(())
}

pub fn purge(global: &Global, args: PurgeArgs) -> anyhow::Result<()> {
    let companion = open(global)?;
    if let Some(days) = args.retention_days {
        companion.store().set_retention_days(days)?;
    }
    let deleted = companion.purge_expired()?;
    let retention_days = companion.store().retention_days()?;
    if global.json {
        print_json(&serde_json::json!({ "deleted": deleted, "retention_days": retention_days }))
    } else {
        println!("Deleted {deleted} rows older than {retention_days} days.");
        Ok(())
    }
}

pub fn delete_all(global: &Global, args: DeleteAllArgs) -> anyhow::Result<()> {
    if !args.yes {
        anyhow::bail!("this deletes every record on this device; run again with --yes to confirm");
    }
    let companion = open(global)?;
    companion.delete_all()?;
    if global.json {
        print_json(&serde_json::json!({ "deleted_all": true }))
    } else {
        println!("Everything on this device was deleted.");
        Ok(())
    }
}
