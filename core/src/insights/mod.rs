//! Proactive insights: when to share a pattern, which one, and in which words.
//!
//! Policy (the seed, made honest): nothing before the 3rd conversation; look only at every 3rd
//! conversation; at most one insight a local day; only patterns significant after FDR control;
//! never the same insight twice; the strongest untold one first (highest lower interval bound).
//! Red flags and safety concerns bypass all of it, at once.

pub mod pipeline;
pub mod templates;

use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use crate::classify::RedFlag;
use crate::patterns::{Candidate, Report};
use crate::store::SharedInsight;

pub use pipeline::{Turn, on_message};
pub use templates::{Pair, Templates};

/// Conversations before the first insight.
pub const MIN_CONVERSATIONS: u64 = 3;
/// Look for an insight at every this-many conversations.
pub const LOOK_EVERY: u64 = 3;

#[derive(Debug, Clone, thiserror::Error)]
pub enum InsightsError {
    #[error("insight templates for {lang} cannot be read: {reason}")]
    Templates { lang: &'static str, reason: String },
}

/// Why nothing was shared this turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Quiet {
    TooEarly,
    NotThisTurn,
    AlreadySharedToday,
    NothingNew,
    /// An insight was due but the child is asleep or in the school-morning rush: it is kept and
    /// delivered at the next conversation inside a child window (`delivery`).
    QuietHours,
}

/// The insight decision for one conversation turn.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Urgent: shown now, whatever the policy says.
    RedFlag { family: String, message_child: String, message_parent: String },
    Share { key: String, message_child: String, message_parent: String },
    Quiet { reason: Quiet },
}

impl Decision {
    /// What the child is shown this turn: the insight or the red-flag message; `None` when quiet.
    pub fn message_child(&self) -> Option<&str> {
        match self {
            Decision::Share { message_child, .. } | Decision::RedFlag { message_child, .. } => Some(message_child),
            Decision::Quiet { .. } => None,
        }
    }
}

/// What the policy needs to know about the child's history.
#[derive(Debug, Clone, Copy)]
pub struct PolicyInput<'a> {
    pub now: DateTime<FixedOffset>,
    pub conversations: u64,
    pub shared: &'a [SharedInsight],
}

impl PolicyInput<'_> {
    fn told(&self, key: &str) -> bool {
        self.shared.iter().any(|s| s.key == key)
    }

    fn shared_today(&self) -> bool {
        let today = self.now.date_naive();
        self.shared.iter().any(|s| s.shared_at.with_timezone(self.now.offset()).date_naive() == today)
    }

    /// Every gate except the every-3rd-turn one: would an untold significant pattern be allowed
    /// out today? (`shareable_now` in `migru insights --all`.)
    pub fn open_today(&self) -> bool {
        self.conversations >= MIN_CONVERSATIONS && !self.shared_today()
    }
}

/// Significant, untold candidates, strongest first (by the lower end of the interval, which
/// rewards both size and certainty; ties by effect, then key for determinism).
pub fn ranked<'c>(candidates: &'c [Candidate], input: &PolicyInput<'_>) -> Vec<&'c Candidate> {
    let mut out: Vec<&Candidate> = candidates.iter().filter(|c| c.significant && !input.told(&c.key)).collect();
    out.sort_by(|a, b| b.ci_low.total_cmp(&a.ci_low).then(b.effect.total_cmp(&a.effect)).then(a.key.cmp(&b.key)));
    out
}

/// The policy decision for an ordinary (red-flag-free) turn.
pub fn decide(candidates: &[Candidate], input: &PolicyInput<'_>, t: &Templates) -> Decision {
    if input.conversations < MIN_CONVERSATIONS {
        return Decision::Quiet { reason: Quiet::TooEarly };
    }
    if !input.conversations.is_multiple_of(LOOK_EVERY) {
        return Decision::Quiet { reason: Quiet::NotThisTurn };
    }
    if input.shared_today() {
        return Decision::Quiet { reason: Quiet::AlreadySharedToday };
    }
    match ranked(candidates, input).first() {
        Some(c) => Decision::Share { key: c.key.clone(), message_child: t.child_message(c), message_parent: t.parent_message(c) },
        None => Decision::Quiet { reason: Quiet::NothingNew },
    }
}

/// The urgent message for a red flag, or for a self-harm statement (`safety`).
pub fn urgent(red_flag: Option<RedFlag>, safety: bool, t: &Templates) -> Option<Decision> {
    let family = match (red_flag, safety) {
        (_, true) => "safety_concern",
        (Some(flag), false) => flag.as_str(),
        (None, false) => return None,
    };
    let pair = t.red_flag(family)?;
    Some(Decision::RedFlag {
        family: family.to_owned(),
        message_child: pair.child.clone(),
        message_parent: pair.parent.clone(),
    })
}

/// One row of `migru insights --all` (a contract: these keys).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InsightRow {
    pub key: String,
    pub kind: &'static str,
    pub subject: String,
    pub effect: f64,
    pub ci_low: f64,
    pub ci_high: Option<f64>,
    pub support: u32,
    pub confidence: f64,
    pub significant: bool,
    pub shareable_now: bool,
    pub message_child: String,
    pub message_parent: String,
    pub p_value: f64,
    pub q_value: f64,
    pub tested: bool,
    pub method: &'static str,
    pub counts: crate::patterns::Counts,
}

/// Every candidate of a report as an insight row, strongest untold first.
pub fn rows(report: &Report, input: &PolicyInput<'_>, t: &Templates) -> Vec<InsightRow> {
    let open = input.open_today();
    let mut rows: Vec<InsightRow> = report
        .candidates
        .iter()
        .map(|c| InsightRow {
            key: c.key.clone(),
            kind: c.kind.as_str(),
            subject: c.subject.clone(),
            effect: c.effect,
            ci_low: c.ci_low,
            ci_high: c.ci_high,
            support: c.support,
            confidence: c.confidence,
            significant: c.significant,
            shareable_now: open && c.significant && !input.told(&c.key),
            message_child: t.child_message(c),
            message_parent: t.parent_message(c),
            p_value: c.p_value,
            q_value: c.q_value,
            tested: c.tested,
            method: c.method,
            counts: c.counts.clone(),
        })
        .collect();
    rows.sort_by(|a, b| {
        b.significant.cmp(&a.significant).then(b.ci_low.total_cmp(&a.ci_low)).then(a.key.cmp(&b.key))
    });
    rows
}

#[cfg(test)]
mod tests;
