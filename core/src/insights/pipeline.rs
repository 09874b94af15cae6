//! One conversation turn end to end: classify → store (`companion::store_message`, the same path
//! as `migru log`) → update patterns → insight decision.
//!
//! The cheap policy gates run before any statistics, so two turns in three cost only the
//! classification, one SQLite append and one engine update.

use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use super::{Decision, InsightsError, LOOK_EVERY, MIN_CONVERSATIONS, PolicyInput, Quiet, decide, templates, urgent};
use crate::classify::Classification;
use crate::companion::{CompanionError, store_message};
use crate::patterns::{Engine, PatternsError};
use crate::store::{Appended, SharedInsight, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Patterns(#[from] PatternsError),
    #[error(transparent)]
    Insights(#[from] InsightsError),
    /// The message was refused (empty, or its id is stored with different content).
    #[error("the message was not stored: {0}")]
    Refused(String),
}

/// What one turn did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Turn {
    pub classification: Classification,
    #[serde(skip)]
    pub appended: Option<Appended>,
    pub decision: Decision,
}

/// Handles one message from `user` written at `now`, in language `lang` (templates).
pub fn on_message(
    store: &Store,
    engine: &mut Engine,
    user: &str,
    text: &str,
    now: DateTime<FixedOffset>,
    lang: &str,
) -> Result<Turn, PipelineError> {
    let stored = store_message(store, user, text, now).map_err(|e| match e {
        CompanionError::Store(e) => PipelineError::Store(e),
        other => PipelineError::Refused(other.to_string()),
    })?;
    for (appended, record) in &stored.records {
        if let Appended::Stored { seq, .. } = appended {
            engine.observe_stored(*seq, record);
        }
    }
    let classification = stored.classification;
    let appended = stored.records.first().map(|(a, _)| *a);
    let t = templates::for_lang(lang)?;
    if let Some(decision) = urgent(classification.red_flag, classification.safety_concern, t) {
        tracing::info!(family = ?classification.red_flag, "red flag: bypassing the insight policy");
        return Ok(Turn { classification, appended, decision });
    }
    let conversations = engine.child(user).map_or(0, |c| c.conversations);
    let decision = if conversations < MIN_CONVERSATIONS {
        Decision::Quiet { reason: Quiet::TooEarly }
    } else if !conversations.is_multiple_of(LOOK_EVERY) {
        Decision::Quiet { reason: Quiet::NotThisTurn }
    } else {
        look(store, engine, user, now, conversations, t)?
    };
    Ok(Turn { classification, appended, decision })
}

/// The every-3rd-turn look: statistics, the policy, and the never-repeat log.
fn look(
    store: &Store,
    engine: &Engine,
    user: &str,
    now: DateTime<FixedOffset>,
    conversations: u64,
    t: &templates::Templates,
) -> Result<Decision, PipelineError> {
    let shared = store.shared_insights(user)?;
    let input = PolicyInput { now, conversations, shared: &shared };
    let Some(report) = engine.report(user) else {
        return Ok(Decision::Quiet { reason: Quiet::NothingNew });
    };
    let decision = decide(&report.candidates, &input, t);
    if let Decision::Share { key, message_child, message_parent } = &decision {
        // Recorded as decided, not yet told: the delivery step (`delivery::time_insight`) marks
        // it told when the child's window is open, so a crash in between delays it, never loses it.
        let log = SharedInsight {
            user: user.to_owned(),
            key: key.clone(),
            shared_at: now,
            message: message_child.clone(),
            message_parent: message_parent.clone(),
            delivered_at: None,
            deferred_reason: None,
        };
        store.record_shared_insight(&log)?;
    }
    Ok(decision)
}
