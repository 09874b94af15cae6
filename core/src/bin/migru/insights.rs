//! `migru insights`: what Migru could share with a child now, in both voices. Read-only: it
//! never marks an insight as shared (the conversation does that).

use chrono::Local;
use migru_core::insights::{self, PolicyInput, templates};

use crate::Global;
use crate::output::print_json;

#[derive(Debug, clap::Args)]
pub struct InsightsArgs {
    /// List every candidate pattern, significant or not.
    #[arg(long)]
    pub all: bool,
    /// The child (default: the local child).
    #[arg(long)]
    pub user: Option<String>,
    /// Language of the messages (en, de).
    #[arg(long, default_value = "en")]
    pub lang: String,
}

pub fn run(global: &Global, args: InsightsArgs) -> anyhow::Result<()> {
    let companion = crate::data::open(global)?;
    let user = args.user.unwrap_or_else(|| companion.user().to_owned());
    let store = companion.store();
    let engine = crate::patterns::up_to_date(store, &user)?;
    let shared = store.shared_insights(&user)?;
    let conversations = engine.child(&user).map_or(0, |c| c.conversations);
    let input = PolicyInput { now: Local::now().fixed_offset(), conversations, shared: &shared };
    let t = templates::for_lang(&args.lang)?;
    let mut rows = engine.report(&user).map(|r| insights::rows(&r, &input, t)).unwrap_or_default();
    if !args.all {
        rows.retain(|r| r.significant);
    }
    if global.json {
        let mut out = serde_json::json!({
            "user": user,
            "conversations": conversations,
            "shared_before": shared.iter().map(|s| &s.key).collect::<Vec<_>>(),
            "waiting": shared.iter().filter(|s| s.delivered_at.is_none()).map(|s| &s.key).collect::<Vec<_>>(),
        });
        out[if args.all { "candidates" } else { "insights" }] = serde_json::to_value(&rows)?;
        return print_json(&out);
    }
    if rows.is_empty() {
        println!("Nothing to share yet for {user}: no pattern is clear enough.");
    }
    for r in rows {
        let now = if r.shareable_now { " (could be shared now)" } else { "" };
        println!("{}{now}\n  child:  {}\n  parent: {}\n", r.key, r.message_child, r.message_parent);
    }
    Ok(())
}
