//! The exported `MigruCompanion`: one child's companion over one on-device store. Each method
//! delegates to `migru_core::Companion`; conversions live in `records` and `error`.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset};
use migru_core::event::jsonl::parse_ts;
use migru_core::event::{Body, Kind, Record};
use migru_core::store::EventFilter;

use crate::error::MigruError;
use crate::records::{ConversationTurn, ImportReport, LoggedEvent, Stats};
use crate::runtime::runtime;

/// Told about a long import's progress after each stored batch (every 20,000 records and at
/// the end), on the thread running the import.
#[uniffi::export(with_foreign)]
pub trait ImportProgress: Send + Sync {
    fn on_progress(&self, imported: u64, skipped: u64, duplicates: u64);
}

/// Kinds the talk screen shows: those holding the child's own words.
const TALK_KINDS: [Kind; 4] = [Kind::Message, Kind::Symptom, Kind::Relief, Kind::Activity];

/// Most recent events `recent_events` returns at most.
const MAX_RECENT: u32 = 1_000;

/// Named `MigruCompanion` at the FFI: in Kotlin, a class named `Companion` collides with the
/// companion objects the generated code declares.
#[derive(Debug, uniffi::Object)]
pub struct MigruCompanion {
    pub(crate) inner: migru_core::Companion,
}

#[uniffi::export]
impl MigruCompanion {
    /// Opens (creating or upgrading) the database at `path`. A file that is not a Migru
    /// database is refused with `NotAMigruDatabase` and left as it was.
    #[uniffi::constructor]
    pub fn open(path: String) -> Result<Arc<Self>, MigruError> {
        Ok(Arc::new(MigruCompanion {
            inner: migru_core::Companion::open(path)?,
        }))
    }

    /// The same store, seen as another child (a parent's phone may hold several).
    pub fn for_user(&self, user: String) -> Result<Arc<MigruCompanion>, MigruError> {
        Ok(Arc::new(MigruCompanion {
            inner: self.inner.for_user(&user)?,
        }))
    }

    /// Whose records this companion reads and writes.
    pub fn user(&self) -> String {
        self.inner.user().to_owned()
    }

    /// Stores a message the child wrote, at `at` (RFC 3339 with offset; default now).
    pub fn log_message(&self, text: String, at: Option<String>) -> Result<LoggedEvent, MigruError> {
        Ok(self.inner.log_message(&text, parse_at(at)?)?.into())
    }

    /// One conversation turn: stores the child's message exactly as `log_message` does, updates
    /// the child's patterns and returns what Migru says now: a red flag at once, an insight by
    /// the policy (from the 3rd conversation, every 3rd, one a day, inside the child's
    /// windows), or quiet with the reason. `lang` picks the wording (`en`, `de`; default `en`).
    pub fn converse(&self, text: String, at: Option<String>, lang: Option<String>) -> Result<ConversationTurn, MigruError> {
        let turn = self.inner.converse(&text, parse_at(at)?, lang.as_deref().unwrap_or("en"))?;
        let appended = turn
            .appended
            .as_ref()
            .ok_or_else(|| MigruError::InvalidInput { reason: "the message was not stored".into() })?;
        let logged = self.inner.logged(appended)?;
        Ok(ConversationTurn { event: logged.into(), decision: turn.decision.into() })
    }

    /// The quick symptom log: an intensity 0–10 and optional words, at `at` (default now).
    pub fn log_symptom(
        &self,
        intensity: u8,
        text: Option<String>,
        at: Option<String>,
    ) -> Result<LoggedEvent, MigruError> {
        Ok(self
            .inner
            .append(symptom_record(intensity, text, parse_at(at)?)?)?
            .into())
    }

    /// The last `limit` (at most 1,000) messages, symptoms, reliefs and activities of this
    /// child, oldest first.
    pub fn recent_events(&self, limit: u32) -> Result<Vec<LoggedEvent>, MigruError> {
        let filter = EventFilter {
            user: Some(self.inner.user().to_owned()),
            kinds: TALK_KINDS.to_vec(),
            ..Default::default()
        };
        let events = self
            .inner
            .store()
            .events(&filter)
            .map_err(migru_core::CompanionError::from)?;
        let skip = events.len().saturating_sub(limit.min(MAX_RECENT) as usize);
        Ok(events
            .into_iter()
            .skip(skip)
            .map(|e| LoggedEvent::from_stored(e, false))
            .collect())
    }

    /// Imports a JSON Lines file (the PRODUCT.md contract), blocking the calling thread.
    pub fn import_file(
        &self,
        path: String,
        progress: Option<Arc<dyn ImportProgress>>,
    ) -> Result<ImportReport, MigruError> {
        import(&self.inner, &path, progress.as_deref())
    }

    /// Writes every record to `path` (created or truncated) as JSON Lines; returns the count.
    pub fn export_file(&self, path: String) -> Result<u64, MigruError> {
        Ok(self.inner.export_file(Path::new(&path))?)
    }

    pub fn stats(&self) -> Result<Stats, MigruError> {
        Ok(self.inner.stats()?.into())
    }

    /// Applies the retention window (default 30 days) now; returns rows deleted.
    pub fn purge_expired(&self) -> Result<u64, MigruError> {
        Ok(self.inner.purge_expired()?)
    }

    /// Deletes everything this device holds, for every user.
    pub fn delete_all(&self) -> Result<(), MigruError> {
        Ok(self.inner.delete_all()?)
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl MigruCompanion {
    /// `import_file` without blocking the caller: the import runs on this library's runtime.
    pub async fn import_file_async(
        &self,
        path: String,
        progress: Option<Arc<dyn ImportProgress>>,
    ) -> Result<ImportReport, MigruError> {
        let inner = self.inner.clone();
        runtime()
            .spawn_blocking(move || import(&inner, &path, progress.as_deref()))
            .await?
    }
}

fn import(
    companion: &migru_core::Companion,
    path: &str,
    progress: Option<&dyn ImportProgress>,
) -> Result<ImportReport, MigruError> {
    let report = companion.import_file(Path::new(path), |r| {
        if let Some(progress) = progress {
            progress.on_progress(r.imported, r.skipped, r.duplicates);
        }
    })?;
    Ok(report.into())
}

fn parse_at(at: Option<String>) -> Result<Option<DateTime<FixedOffset>>, MigruError> {
    at.map(|text| {
        parse_ts(text.trim()).map_err(|reason| MigruError::invalid(format!("at: {reason}")))
    })
    .transpose()
}

fn symptom_record(
    intensity: u8,
    text: Option<String>,
    at: Option<DateTime<FixedOffset>>,
) -> Result<Record, MigruError> {
    if intensity > 10 {
        return Err(MigruError::invalid(format!(
            "intensity must be 0 to 10, got {intensity}"
        )));
    }
    let text = text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    let ts = at.unwrap_or_else(migru_core::companion::now_local);
    Ok(Record::new(ts, Body::Symptom { intensity, text }))
}
