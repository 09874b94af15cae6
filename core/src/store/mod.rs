//! The on-device SQLite store: the append-only event stream and the tables derived from it.
//!
//! `Store` is the only type the rest of the core uses; SQL stays in this module. Every query is a
//! prepared statement with bound parameters (no SQL built from data).

mod events;
mod pulled;
mod schema;
mod search;
mod sql;
mod tables;

use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};
use rusqlite::params;
use uuid::Uuid;

pub use events::{Appended, EventFilter, Inserter, PreparedRecord, StoredEvent};
pub use schema::VERSION as SCHEMA_VERSION;
pub use sql::{APPLICATION_ID, Checkpointer};
pub use pulled::{AdapterRecord, AdapterStatus, PulledChange};
pub use search::TextHit;
pub use tables::{EnvReading, OutboxItem, PUSH_CURSOR_KEY, PatternState, SensorMinute, SharedInsight, SleepEpisode, SleepSource, StoreStats};

use crate::event::Record;

/// How long events are kept unless the user chooses otherwise.
pub const DEFAULT_RETENTION_DAYS: u32 = 30;

/// Rows deleted per transaction while purging, so appends never wait long behind a purge.
const PURGE_CHUNK: i64 = 2_000;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database at {0}: {1}")]
    Open(PathBuf, rusqlite::Error),
    #[error("cannot read {0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("{0} is not a SQLite database; it was left untouched")]
    NotADatabase(PathBuf),
    #[error("{0} is a SQLite database that does not belong to Migru; it was left untouched")]
    Foreign(PathBuf),
    #[error("{0} looks damaged ({1}); it was left untouched")]
    Corrupt(PathBuf, String),
    #[error("{path} was written by a newer Migru (schema {found}, this build reads up to {supported}); it was left untouched")]
    TooNew { path: PathBuf, found: i64, supported: i32 },
    #[error("no upgrade path from schema version {0}")]
    UnknownVersion(i32),
    #[error("stored event #{seq} cannot be read: {reason}")]
    BadRow { seq: i64, reason: String },
    #[error("invalid setting {key}: {reason}")]
    InvalidSetting { key: &'static str, reason: String },
    #[error("invalid search: {0}")]
    BadSearch(String),
    #[error("no adapter with version {0} was received")]
    NoSuchAdapter(i64),
    #[error("adapter version {0} failed verification and cannot be activated")]
    RefusedAdapter(i64),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

impl StoreError {
    fn open(path: &Path, error: rusqlite::Error) -> Self {
        StoreError::Open(path.to_owned(), error)
    }
}

/// The on-device store. Cheap to share across threads (`Arc<Store>`).
#[derive(Debug)]
pub struct Store {
    db: sql::Database,
}

impl Store {
    /// Opens the database at `path`, creating or upgrading it. A file that is not a Migru
    /// database, or is damaged, or is from a newer version, is refused and left as it was.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Ok(Store { db: sql::Database::open(path.as_ref())? })
    }

    pub fn path(&self) -> &Path {
        self.db.path()
    }

    /// Appends one record durably (committed when this returns).
    pub fn append(&self, record: &Record) -> Result<Appended, StoreError> {
        self.append_in_one_transaction(|inserter, now| inserter.insert(record, now))
    }

    /// Appends many records in one transaction; one outcome per record, in order.
    pub fn append_batch(&self, records: &[Record]) -> Result<Vec<Appended>, StoreError> {
        self.append_in_one_transaction(|inserter, now| records.iter().map(|r| inserter.insert(r, now)).collect())
    }

    /// Runs `f` in one write transaction with an appender, committing only if it succeeds: a
    /// long import stores several of its batches per transaction this way (see `exchange`).
    pub fn append_in_one_transaction<T>(
        &self,
        f: impl FnOnce(&mut events::Inserter<'_>, i64) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let now = now_ms();
        self.db.write(|tx| f(&mut events::Inserter::new(tx)?, now))
    }

    /// Streams matching events in arrival order.
    pub fn for_each_event(
        &self,
        filter: &EventFilter,
        visit: impl FnMut(StoredEvent) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.db.read(|conn| events::for_each(conn, filter, None, visit))
    }

    /// Collects matching events (for bounded queries; use `for_each_event` for everything).
    pub fn events(&self, filter: &EventFilter) -> Result<Vec<StoredEvent>, StoreError> {
        let mut out = Vec::new();
        self.for_each_event(filter, |event| {
            out.push(event);
            Ok(())
        })?;
        Ok(out)
    }

    pub fn event_by_id(&self, id: Uuid) -> Result<Option<StoredEvent>, StoreError> {
        self.db.read(|conn| events::by_id(conn, id))
    }

    // ---- retention and deletion --------------------------------------------------------------

    pub fn retention_days(&self) -> Result<u32, StoreError> {
        match self.setting("retention_days")? {
            None => Ok(DEFAULT_RETENTION_DAYS),
            Some(text) => text.parse().map_err(|_| StoreError::InvalidSetting {
                key: "retention_days",
                reason: format!("{text:?} is not a whole number of days"),
            }),
        }
    }

    pub fn set_retention_days(&self, days: u32) -> Result<(), StoreError> {
        if !(1..=3650).contains(&days) {
            return Err(StoreError::InvalidSetting { key: "retention_days", reason: format!("{days} is outside 1..=3650") });
        }
        self.set_setting("retention_days", &days.to_string())
    }

    /// Deletes everything that happened before `now - retention window`, in small transactions
    /// (WAL readers are never blocked; writers wait at most one chunk). Returns rows deleted.
    #[tracing::instrument(level = "debug", skip(self))]
    pub fn purge_expired(&self, now_ms: i64) -> Result<u64, StoreError> {
        let cutoff = now_ms - i64::from(self.retention_days()?) * 86_400_000;
        self.purge_before(cutoff)
    }

    /// Deletes events, readings, episodes and aggregates older than `cutoff_ms` (UTC).
    pub fn purge_before(&self, cutoff_ms: i64) -> Result<u64, StoreError> {
        let mut deleted = 0u64;
        loop {
            let n = self.db.write(|tx| {
                let n = tx
                    .prepare_cached("DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE ts_ms < ?1 LIMIT ?2)")?
                    .execute(params![cutoff_ms, PURGE_CHUNK])?;
                // In the same transaction, so no append can take a seq the push cursor has passed.
                tables::clamp_push_cursor(tx)?;
                Ok::<_, StoreError>(n)
            })?;
            deleted += n as u64;
            if (n as i64) < PURGE_CHUNK {
                break;
            }
        }
        deleted += self.db.write(|tx| {
            // Rows derived from events carry no foreign key (cheap appends), so they go here:
            // readings by the same time cut as their events, and the numbers of children who
            // have no event left.
            tx.execute("DELETE FROM env_readings WHERE ts_ms < ?1", [cutoff_ms])?;
            tx.execute("DELETE FROM users WHERE NOT EXISTS (SELECT 1 FROM events WHERE user_key = users.id)", [])?;
            let minutes = tx.execute("DELETE FROM sensor_minutes WHERE minute_ms < ?1", [cutoff_ms])?;
            // Logged episodes go with their `sleep` events (cascade); detected ones age on their own.
            let sleep = tx.execute("DELETE FROM sleep_episodes WHERE source = 'detected' AND end_ms < ?1", [cutoff_ms])?;
            // Counted: events (above) and rows that stand alone; derived rows went with their events.
            Ok::<_, StoreError>((minutes + sleep) as u64)
        })?;
        tracing::info!(deleted, "purged expired rows");
        Ok(deleted)
    }

    /// Deletes every row of every table, then compacts the file so nothing readable remains.
    #[tracing::instrument(level = "info", skip(self))]
    pub fn delete_all(&self) -> Result<(), StoreError> {
        self.db.write(|tx| {
            // Children before parents, so foreign keys hold at every step.
            for statement in schema::DELETE_EVERYTHING {
                tx.execute(statement, [])?;
            }
            Ok::<_, StoreError>(())
        })?;
        self.db.release_readers();
        self.db.with_writer(|conn| {
            conn.execute_batch("VACUUM")?;
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        })?;
        Ok(())
    }

    // ---- settings ----------------------------------------------------------------------------

    pub fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.db.read(|conn| tables::setting(conn, key))
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.db.write(|tx| tables::set_setting(tx, key, value))
    }

    // ---- what goes to the server ----------------------------------------------------------------

    /// Up to `limit` events not yet acknowledged by the server (after the push cursor), in
    /// arrival order.
    pub fn events_to_push(&self, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        self.db.read(|conn| {
            let filter = EventFilter { after_seq: Some(tables::push_cursor(conn)?), ..EventFilter::default() };
            let mut out = Vec::new();
            events::for_each(conn, &filter, Some(limit), |event| {
                out.push(event);
                Ok(())
            })?;
            Ok(out)
        })
    }

    /// The server answered for every event up to `seq` (whose id is `id`): the push cursor moves
    /// there. Returns `false`, leaving the cursor, if that event was purged meanwhile (its seq may
    /// be given again); the events are then sent again, which the server's per-id storage absorbs.
    pub fn ack_pushed(&self, seq: i64, id: Uuid) -> Result<bool, StoreError> {
        self.db.write(|tx| tables::advance_push_cursor(tx, seq, id))
    }

    /// Events and other items waiting for the server.
    pub fn pending_push(&self) -> Result<u64, StoreError> {
        self.db.read(tables::pending_push)
    }

    /// Up to `limit` non-event items due for sending at `now_ms`, oldest first.
    pub fn outbox_due(&self, now_ms: i64, limit: usize) -> Result<Vec<OutboxItem>, StoreError> {
        self.db.read(|conn| tables::outbox_due(conn, now_ms, limit))
    }

    /// Queues a non-event item (e.g. parent feedback) for the server.
    pub fn outbox_push(&self, topic: &str, payload: &str) -> Result<i64, StoreError> {
        let now = now_ms();
        self.db.write(|tx| tables::outbox_push(tx, topic, payload, now))
    }

    /// Removes items the server acknowledged.
    pub fn outbox_ack(&self, seqs: &[i64]) -> Result<(), StoreError> {
        self.db.write(|tx| tables::outbox_ack(tx, seqs))
    }

    /// Records a failed attempt; the item waits until `retry_at_ms`.
    pub fn outbox_defer(&self, seqs: &[i64], retry_at_ms: i64) -> Result<(), StoreError> {
        self.db.write(|tx| tables::outbox_defer(tx, seqs, retry_at_ms))
    }

    // ---- insights log, sensor minutes, sleep, stats ------------------------------------------

    /// Remembers that an insight was decided; `false` if it had been decided before.
    pub fn record_shared_insight(&self, insight: &SharedInsight) -> Result<bool, StoreError> {
        self.db.write(|tx| tables::record_shared_insight(tx, insight))
    }

    pub fn shared_insights(&self, user: &str) -> Result<Vec<SharedInsight>, StoreError> {
        self.db.read(|conn| tables::shared_insights(conn, user))
    }

    /// One delivery step in one transaction: `delivered` (key, time) is marked told, and each
    /// (key, reason) in `waiting` notes why it still waits.
    pub fn settle_insight_delivery(
        &self,
        user: &str,
        delivered: Option<(&str, DateTime<FixedOffset>)>,
        waiting: &[(&str, &str)],
    ) -> Result<(), StoreError> {
        self.db.write(|tx| {
            if let Some((key, at)) = delivered {
                tables::mark_insight_delivered(tx, user, key, at)?;
            }
            for (key, reason) in waiting {
                tables::mark_insight_deferred(tx, user, key, reason)?;
            }
            Ok(())
        })
    }

    /// Inserts or replaces per-minute sensor aggregates.
    pub fn put_sensor_minutes(&self, minutes: &[SensorMinute]) -> Result<(), StoreError> {
        self.db.write(|tx| tables::put_sensor_minutes(tx, minutes))
    }

    pub fn sensor_minutes(&self, user: &str, since_ms: i64, until_ms: i64) -> Result<Vec<SensorMinute>, StoreError> {
        self.db.read(|conn| tables::sensor_minutes(conn, user, since_ms, until_ms))
    }

    /// Stores an episode detected from the wearable (logged ones come from `sleep` events).
    pub fn put_detected_sleep(&self, episode: &SleepEpisode) -> Result<(), StoreError> {
        self.db.write(|tx| tables::put_detected_sleep(tx, episode))
    }

    pub fn sleep_episodes(&self, user: &str) -> Result<Vec<SleepEpisode>, StoreError> {
        self.db.read(|conn| tables::sleep_episodes(conn, user))
    }

    /// The child's environment readings with `since_ms <= ts < until_ms`, in arrival order.
    pub fn env_readings(&self, user: &str, since_ms: i64, until_ms: i64) -> Result<Vec<EnvReading>, StoreError> {
        self.db.read(|conn| tables::env_readings(conn, user, since_ms, until_ms))
    }

    // ---- pattern engine state, text search ---------------------------------------------------

    pub fn load_pattern_state(&self, user: &str) -> Result<Option<PatternState>, StoreError> {
        self.db.read(|conn| tables::load_pattern_state(conn, user))
    }

    pub fn save_pattern_state(&self, user: &str, state: &PatternState) -> Result<(), StoreError> {
        let now = now_ms();
        self.db.write(|tx| tables::save_pattern_state(tx, user, state, now))
    }

    /// The child's past words matching an FTS5 MATCH expression, best first (bm25).
    pub fn search_text(&self, user: &str, fts_query: &str, limit: usize) -> Result<Vec<TextHit>, StoreError> {
        self.db.read(|conn| search::search_text(conn, user, fts_query, limit))
    }

    // ---- what the server sent ------------------------------------------------------------------

    /// Stores pulled changes not seen before (by `change_id`); returns how many were new.
    pub fn put_pulled_changes(&self, changes: &[PulledChange]) -> Result<usize, StoreError> {
        self.db.write(|tx| pulled::put_pulled_changes(tx, changes))
    }

    /// Pulled changes, newest first, optionally of one topic.
    pub fn pulled_changes(&self, topic: Option<&str>, limit: usize) -> Result<Vec<PulledChange>, StoreError> {
        self.db.read(|conn| pulled::pulled_changes(conn, topic, limit))
    }

    pub fn put_adapter(&self, adapter: &AdapterRecord) -> Result<(), StoreError> {
        self.db.write(|tx| pulled::put_adapter(tx, adapter))
    }

    pub fn adapters(&self) -> Result<Vec<AdapterRecord>, StoreError> {
        self.db.read(pulled::adapters)
    }

    pub fn active_adapter(&self) -> Result<Option<AdapterRecord>, StoreError> {
        self.db.read(pulled::active_adapter)
    }

    /// Makes `version` the only active adapter, in one transaction.
    pub fn activate_adapter(&self, version: i64) -> Result<(), StoreError> {
        self.db.write(|tx| pulled::activate_adapter(tx, version))
    }

    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        self.db.read(tables::stats)
    }
}

/// The current time in UTC milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
