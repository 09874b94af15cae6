//! Demo step: conversation turns through the same path the apps use (`Companion::converse`):
//! each message is classified and stored, the child's patterns update, and the insight policy
//! decides, in the child's voice and the parent's.

use chrono::{DateTime, Duration, FixedOffset};
use migru_core::Companion;
use serde_json::{Value, json};

/// What the child says after school, then a red flag at the end.
const TURNS: &[&str] = &[
    "back from school, I skipped lunch again",
    "my head hurts a bit now",
    "we played football at break",
    "I had some water and lay down",
    "worst headache of my life, it came on suddenly",
];

/// Runs the turns from `start` (an afternoon, inside the child's window), five minutes apart.
pub fn turns(companion: &Companion, start: DateTime<FixedOffset>) -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::with_capacity(TURNS.len());
    for (i, text) in TURNS.iter().enumerate() {
        let at = start + Duration::minutes(5 * i as i64);
        let turn = companion.converse(text, Some(at), "en")?;
        out.push(json!({
            "text": text,
            "kind": turn.classification.kind,
            "red_flag": turn.classification.red_flag,
            "decision": turn.decision,
        }));
    }
    Ok(out)
}

/// One line per turn for the prose output.
pub fn describe(turn: &Value) -> Vec<String> {
    let mut lines = vec![format!("     child: \"{}\" → {}", turn["text"].as_str().unwrap_or(""), turn["kind"].as_str().unwrap_or(""))];
    match turn["decision"]["decision"].as_str() {
        Some("share") | Some("red_flag") => {
            let what = if turn["decision"]["decision"] == "red_flag" { "red flag" } else { "insight" };
            lines.push(format!("       Migru ({what}, to the child): {}", turn["decision"]["message_child"].as_str().unwrap_or("")));
            lines.push(format!("       Migru ({what}, to the parents): {}", turn["decision"]["message_parent"].as_str().unwrap_or("")));
        }
        _ => lines.push(format!("       (quiet: {})", turn["decision"]["reason"].as_str().unwrap_or(""))),
    }
    lines
}
