//! The record model of the import/export contract (PRODUCT.md, `docs/record.schema.json`).
//!
//! A record is `ts` + `kind` + kind-specific fields, an optional `user` and `id`, and any unknown
//! fields, which are kept verbatim (`extra`) so a newer producer's data survives a round trip.

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use serde_json::{Map, Value};

use super::vocab::{ActivityCategory, ReliefStrategy};

/// The user a record belongs to when it names none: the child who owns this phone.
pub const LOCAL_USER: &str = "local";

/// One immutable event in the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Time-ordered UUIDv7; `None` until the store assigns one.
    pub id: Option<uuid::Uuid>,
    /// When it happened, with the offset the child's clock had then.
    pub ts: DateTime<FixedOffset>,
    /// Whose record it is (`LOCAL_USER` by default).
    pub user: String,
    pub body: Body,
    /// Unknown fields, kept as given.
    pub extra: Map<String, Value>,
}

/// The kind-specific part of a record. Field names follow the contract; units are in the names.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Message { text: String },
    Symptom { intensity: u8, text: Option<String> },
    Relief { strategy: ReliefStrategy, text: Option<String> },
    Activity { category: ActivityCategory, text: Option<String> },
    Sleep { start: DateTime<FixedOffset>, end: DateTime<FixedOffset> },
    Env { pressure_hpa: Option<f64>, temp_c: Option<f64>, humidity_pct: Option<f64> },
    Intervention { name: String },
    Rr { rr_ms: Vec<f64> },
    Hr { bpm: f64 },
    Eda { microsiemens: Vec<f64>, hz: f64 },
    Accel { hz: f64, x: Vec<f64>, y: Vec<f64>, z: Vec<f64> },
}

/// The `kind` discriminant, as stored and as written in the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Message,
    Symptom,
    Relief,
    Activity,
    Sleep,
    Env,
    Intervention,
    Rr,
    Hr,
    Eda,
    Accel,
}

impl Kind {
    pub const ALL: &'static [Kind] = &[
        Kind::Message,
        Kind::Symptom,
        Kind::Relief,
        Kind::Activity,
        Kind::Sleep,
        Kind::Env,
        Kind::Intervention,
        Kind::Rr,
        Kind::Hr,
        Kind::Eda,
        Kind::Accel,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Message => "message",
            Kind::Symptom => "symptom",
            Kind::Relief => "relief",
            Kind::Activity => "activity",
            Kind::Sleep => "sleep",
            Kind::Env => "env",
            Kind::Intervention => "intervention",
            Kind::Rr => "rr",
            Kind::Hr => "hr",
            Kind::Eda => "eda",
            Kind::Accel => "accel",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| k.as_str() == text)
    }

    /// Kinds that carry the child's own words in `text`.
    pub fn may_hold_text(self) -> bool {
        matches!(self, Kind::Message | Kind::Symptom | Kind::Relief | Kind::Activity)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Body {
    pub fn kind(&self) -> Kind {
        match self {
            Body::Message { .. } => Kind::Message,
            Body::Symptom { .. } => Kind::Symptom,
            Body::Relief { .. } => Kind::Relief,
            Body::Activity { .. } => Kind::Activity,
            Body::Sleep { .. } => Kind::Sleep,
            Body::Env { .. } => Kind::Env,
            Body::Intervention { .. } => Kind::Intervention,
            Body::Rr { .. } => Kind::Rr,
            Body::Hr { .. } => Kind::Hr,
            Body::Eda { .. } => Kind::Eda,
            Body::Accel { .. } => Kind::Accel,
        }
    }

    /// The child's own words, where the kind carries them.
    pub fn text(&self) -> Option<&str> {
        match self {
            Body::Message { text } => Some(text),
            Body::Symptom { text, .. } | Body::Relief { text, .. } | Body::Activity { text, .. } => {
                text.as_deref()
            }
            _ => None,
        }
    }
}

impl Record {
    /// A record for the local child with no extra fields.
    pub fn new(ts: DateTime<FixedOffset>, body: Body) -> Self {
        Record { id: None, ts, user: LOCAL_USER.to_owned(), body, extra: Map::new() }
    }

    pub fn kind(&self) -> Kind {
        self.body.kind()
    }

    /// Milliseconds since the Unix epoch (UTC).
    pub fn ts_utc_ms(&self) -> i64 {
        self.ts.timestamp_millis()
    }

    /// The offset from UTC, in minutes, that the child's clock had at `ts`.
    pub fn utc_offset_min(&self) -> i32 {
        self.ts.offset().local_minus_utc() / 60
    }
}

/// Rebuilds a timestamp from its stored form (UTC milliseconds and the original offset).
pub fn ts_from_parts(utc_ms: i64, offset_min: i32) -> Option<DateTime<FixedOffset>> {
    let offset = FixedOffset::east_opt(offset_min.checked_mul(60)?)?;
    let utc = Utc.timestamp_millis_opt(utc_ms).single()?;
    Some(utc.with_timezone(&offset))
}

/// The canonical RFC 3339 form written on export: milliseconds only when non-zero, `Z` for UTC.
pub fn format_ts(ts: &DateTime<FixedOffset>) -> String {
    ts.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}
