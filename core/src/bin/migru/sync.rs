//! `migru sync --server URL`: pushes this device's outbox and pulls its family's changes.

use anyhow::Context;
use migru_core::sync::{self, SyncClient, SyncConfig};

use crate::Global;

/// Where this device's token is kept after pairing.
pub(crate) const TOKEN_KEY: &str = "sync.token";

#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// The Migru server, e.g. `https://migru.example`.
    #[arg(long, env = "MIGRU_SERVER")]
    pub server: String,
    /// Pair this device first with a parent's one-time code (`XXXX-XXXX`).
    #[arg(long)]
    pub pair: Option<String>,
    /// Name shown to the parents when pairing.
    #[arg(long, default_value = "migru cli")]
    pub device_name: String,
    /// Device token (default: the one saved at pairing).
    #[arg(long, env = "MIGRU_SYNC_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

pub fn run(global: &Global, args: SyncArgs) -> anyhow::Result<()> {
    let companion = crate::data::open(global)?;
    let store = companion.store();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the runtime")?;
    if let Some(code) = &args.pair {
        let enrolment = runtime.block_on(sync::pair(&args.server, code, &args.device_name))?;
        store.set_setting(TOKEN_KEY, &enrolment.token)?;
        tracing::info!(family = %enrolment.family_id, role = %enrolment.role, "paired");
    }
    let token = match args.token {
        Some(token) => token,
        None => store.setting(TOKEN_KEY)?.context("no device token: pass --pair CODE or --token")?,
    };
    // Pulled adapters are verified and kept beside the database, as on the phone.
    let installer = sync::adapters::AdapterInstaller::beside(store, None);
    let client = SyncClient::new(SyncConfig::new(args.server, token))?.with_adapters(installer);
    let mut pulled = Vec::new();
    let progress = runtime.block_on(client.sync(
        store,
        |p| tracing::info!(accepted = p.accepted, duplicate = p.duplicate, refused = p.refused, "sync progress"),
        |change| {
            pulled.push(change.clone());
            Ok(())
        },
    ))?;
    if global.json {
        crate::output::print_json(&serde_json::json!({
            "accepted": progress.accepted,
            "duplicate": progress.duplicate,
            "refused": progress.refused,
            "kept_private": progress.kept_private,
            "feedback_sent": progress.feedback_sent,
            "changes_pulled": progress.changes_pulled,
            "retries": progress.retries,
            "changes": pulled.iter().map(|c| serde_json::json!({"kind": c.kind, "id": c.id, "body": c.body})).collect::<Vec<_>>(),
        }))?;
    } else {
        println!(
            "sent {} new, {} already there, {} refused; {} kept private; {} changes pulled",
            progress.accepted, progress.duplicate, progress.refused, progress.kept_private, progress.changes_pulled
        );
    }
    Ok(())
}
