//! Flat records for results, mirroring core types where their shapes differ (timestamps as
//! RFC 3339 strings, ids as strings, maps as hash maps).

use std::collections::HashMap;

use migru_core::companion::{Logged, LoggedMessage};
use migru_core::event::format_ts;
use migru_core::insights::{Decision, Quiet};
use migru_core::{exchange, store};

/// One stored event, as the talk screen shows it.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct LoggedEvent {
    /// Time-ordered UUIDv7.
    pub id: String,
    /// Local sequence number (insertion order on this device).
    pub seq: i64,
    /// RFC 3339 with the offset the child's clock had.
    pub ts: String,
    /// Contract kind name: `message`, `symptom`, …
    pub kind: String,
    /// The child's own words, where the kind carries them.
    pub text: Option<String>,
    /// 0–10, for symptoms.
    pub intensity: Option<u8>,
    /// `false` when the identical record was already stored.
    pub newly_stored: bool,
}

impl LoggedEvent {
    pub(crate) fn from_stored(event: store::StoredEvent, newly_stored: bool) -> Self {
        let record = event.record;
        let intensity = match record.body {
            migru_core::event::Body::Symptom { intensity, .. } => Some(intensity),
            _ => None,
        };
        LoggedEvent {
            id: record.id.map(|id| id.to_string()).unwrap_or_default(),
            seq: event.seq,
            ts: format_ts(&record.ts),
            kind: record.kind().as_str().to_owned(),
            text: record.body.text().map(str::to_owned),
            intensity,
            newly_stored,
        }
    }
}

impl From<Logged> for LoggedEvent {
    fn from(logged: Logged) -> Self {
        LoggedEvent::from_stored(logged.event, logged.newly_stored)
    }
}

/// What Migru says after a message, beside the reply (`MigruCompanion::converse`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum TurnDecision {
    /// An insight to show the child now (and its parent wording for the parents' app).
    Share { key: String, message_child: String, message_parent: String },
    /// A red flag: show `message_child` at once; the parents are alerted through sync.
    RedFlag { family: String, message_child: String, message_parent: String },
    /// Nothing to say: `too_early`, `not_this_turn`, `already_shared_today`, `nothing_new` or
    /// `quiet_hours` (an insight waits for the child's next window).
    Quiet { reason: String },
}

impl From<Decision> for TurnDecision {
    fn from(decision: Decision) -> Self {
        match decision {
            Decision::Share { key, message_child, message_parent } => TurnDecision::Share { key, message_child, message_parent },
            Decision::RedFlag { family, message_child, message_parent } => {
                TurnDecision::RedFlag { family, message_child, message_parent }
            }
            Decision::Quiet { reason } => TurnDecision::Quiet { reason: quiet_name(reason).to_owned() },
        }
    }
}

fn quiet_name(reason: Quiet) -> &'static str {
    match reason {
        Quiet::TooEarly => "too_early",
        Quiet::NotThisTurn => "not_this_turn",
        Quiet::AlreadySharedToday => "already_shared_today",
        Quiet::NothingNew => "nothing_new",
        Quiet::QuietHours => "quiet_hours",
    }
}

/// One conversation turn: the stored message and what Migru says about it.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ConversationTurn {
    pub event: LoggedEvent,
    pub decision: TurnDecision,
}

impl From<LoggedMessage> for LoggedEvent {
    fn from(message: LoggedMessage) -> Self {
        message.logged.into()
    }
}

/// What an import did; the same keys as `migru import --json`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ImportReport {
    pub imported: u64,
    pub skipped: u64,
    pub duplicates: u64,
    /// The first 100 problems, by line number.
    pub errors: Vec<LineError>,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LineError {
    /// 1-based line number in the imported file.
    pub line: u64,
    pub reason: String,
}

impl From<exchange::ImportReport> for ImportReport {
    fn from(report: exchange::ImportReport) -> Self {
        ImportReport {
            imported: report.imported,
            skipped: report.skipped,
            duplicates: report.duplicates,
            errors: report
                .errors
                .into_iter()
                .map(|e| LineError {
                    line: e.line,
                    reason: e.reason,
                })
                .collect(),
        }
    }
}

/// What the store holds; the same keys as `migru stats --json`.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Stats {
    pub events: u64,
    /// Event counts by contract kind name.
    pub by_kind: HashMap<String, u64>,
    pub users: Vec<String>,
    pub first_ts: Option<String>,
    pub last_ts: Option<String>,
    pub outbox_pending: u64,
    pub sleep_episodes: u64,
    pub sensor_minutes: u64,
    pub schema_version: i32,
    pub file_bytes: u64,
}

impl From<store::StoreStats> for Stats {
    fn from(s: store::StoreStats) -> Self {
        Stats {
            events: s.events,
            by_kind: s.by_kind.into_iter().collect(),
            users: s.users,
            first_ts: s.first_ts,
            last_ts: s.last_ts,
            outbox_pending: s.outbox_pending,
            sleep_episodes: s.sleep_episodes,
            sensor_minutes: s.sensor_minutes,
            schema_version: s.schema_version,
            file_bytes: s.file_bytes,
        }
    }
}
