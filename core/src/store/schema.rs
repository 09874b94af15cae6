//! The schema: the current version as constants, and one upgrade arm per old version.
//!
//! A new database runs `CURRENT` at once; an old one runs each arm from its version up. Both
//! paths use the same DDL constants, and a test upgrades a frozen version-1 snapshot
//! (`core/tests/fixtures/store/v1.sql`) and checks it equals a fresh database.

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;
use super::sql::APPLICATION_ID;

/// The schema version this build writes (`PRAGMA user_version`).
pub const VERSION: i32 = 3;

/// Append-only events. `seq` is the local arrival order (pattern-engine cursors, export order);
/// `id` the time-ordered UUIDv7 shared with the server. Time is UTC milliseconds plus the offset
/// the child's clock had, so "9 AM" stays the child's 9 AM across zones and DST changes.
const EVENTS: &str = "
CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    id BLOB NOT NULL UNIQUE,
    user_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    utc_offset_min INTEGER NOT NULL,
    payload TEXT NOT NULL,
    recorded_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX events_by_user_time ON events (user_id, ts_ms);
CREATE TRIGGER events_are_immutable BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;
";

/// Everything waiting to go to the server. Events are referenced (their payload is read at send
/// time, minus anything the family did not opt in to share); other topics carry a payload.
/// No foreign key or secondary index: every append adds a row here, so it must cost one append
/// to the rowid tree; purging removes rows of purged events itself (`Store::purge_before`).
const OUTBOX: &str = "
CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    event_seq INTEGER,
    payload TEXT,
    created_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL DEFAULT 0
) STRICT;
";

/// Insights already shared, so none is told twice and at most one a day.
const INSIGHTS_SHARED: &str = "
CREATE TABLE insights_shared (
    user_id TEXT NOT NULL,
    insight_key TEXT NOT NULL,
    shared_ms INTEGER NOT NULL,
    utc_offset_min INTEGER NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (user_id, insight_key)
) STRICT;
";

const SETTINGS: &str = "
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
";

/// Environment readings (from `env` events), clustered by child and time for pressure look-ups:
/// one b-tree, no second index. They are most of a wearable's events, so every structure here
/// costs import time: no foreign key either; purging deletes readings by their events' time cut.
const ENV_READINGS: &str = "
CREATE TABLE env_readings (
    event_seq INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    utc_offset_min INTEGER NOT NULL,
    pressure_hpa REAL,
    temp_c REAL,
    humidity_pct REAL,
    PRIMARY KEY (user_id, ts_ms, event_seq)
) STRICT, WITHOUT ROWID;
";

/// Sleep episodes, logged (from `sleep` events) or detected from the wearable.
const SLEEP_EPISODES: &str = "
CREATE TABLE sleep_episodes (
    seq INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    start_offset_min INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    end_offset_min INTEGER NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('logged', 'detected')),
    event_seq INTEGER REFERENCES events (seq) ON DELETE CASCADE,
    efficiency_pct REAL,
    UNIQUE (user_id, start_ms, source)
) STRICT;
CREATE INDEX sleep_by_event ON sleep_episodes (event_seq);
";

/// Per-minute aggregates of the wearable's raw samples.
const SENSOR_MINUTES: &str = "
CREATE TABLE sensor_minutes (
    user_id TEXT NOT NULL,
    minute_ms INTEGER NOT NULL,
    utc_offset_min INTEGER NOT NULL,
    hr_bpm REAL,
    rmssd_ms REAL,
    eda_tonic_us REAL,
    scr_count INTEGER,
    activity_count REAL,
    skin_temp_c REAL,
    PRIMARY KEY (user_id, minute_ms)
) STRICT, WITHOUT ROWID;
";

/// The pattern engine's state per child, so a restart resumes after `last_seq` instead of
/// replaying the whole stream.
const PATTERN_STATE: &str = "
CREATE TABLE pattern_state (
    user_id TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL,
    state BLOB NOT NULL,
    updated_ms INTEGER NOT NULL
) STRICT;
";

/// Full-text index of the child's own words (rowid = `events.seq`), for recalling similar past
/// episodes in the model's prompt. Contentless: the text lives only in `events`, so the index
/// adds no second copy; purging an event removes its entry through the trigger.
const MESSAGE_FTS: &str = "
CREATE VIRTUAL TABLE message_fts USING fts5 (
    text,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER events_leave_fts AFTER DELETE ON events
BEGIN
    DELETE FROM message_fts WHERE rowid = old.seq;
END;
";

/// What the phone pulled from the server (recommendations, analysis results, adapter versions,
/// feedback acknowledgements), keyed by the server's change id so a repeated pull stores nothing.
const PULLED_CHANGES: &str = "
CREATE TABLE pulled_changes (
    change_id TEXT PRIMARY KEY,
    topic TEXT NOT NULL,
    payload TEXT NOT NULL,
    server_seq INTEGER,
    received_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX pulled_by_topic ON pulled_changes (topic, received_ms);
";

/// LoRA adapters this phone received: at most one active; refused ones are kept with the reason.
const ADAPTERS: &str = "
CREATE TABLE adapters (
    version INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    path TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'inactive', 'refused')),
    reason TEXT,
    received_ms INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX one_active_adapter ON adapters (status) WHERE status = 'active';
";

/// v2 → v3: the outbox and environment readings lose their foreign keys (see their DDL).
const V3_SET_ASIDE: &str = "
DROP INDEX IF EXISTS outbox_by_event;
ALTER TABLE outbox RENAME TO outbox_v2;
DROP INDEX IF EXISTS env_by_user_time;
ALTER TABLE env_readings RENAME TO env_readings_v2;
";
const V3_COPY_BACK: &str = "
INSERT INTO outbox SELECT * FROM outbox_v2;
DROP TABLE outbox_v2;
INSERT INTO env_readings SELECT * FROM env_readings_v2;
DROP TABLE env_readings_v2;
";

/// One statement per table, children first. A test checks no table of the schema is missing.
pub const DELETE_EVERYTHING: &[&str] = &[
    "DELETE FROM outbox",
    "DELETE FROM env_readings",
    "DELETE FROM sleep_episodes",
    "DELETE FROM sensor_minutes",
    "DELETE FROM insights_shared",
    "DELETE FROM settings",
    "DELETE FROM pattern_state",
    "DELETE FROM pulled_changes",
    "DELETE FROM adapters",
    // A contentless FTS5 table empties through its own command.
    "INSERT INTO message_fts (message_fts) VALUES ('delete-all')",
    "DELETE FROM events",
];

/// Creates or upgrades the schema. Every step runs in one transaction: a failed upgrade leaves
/// the file at its old version.
pub fn init(conn: &Connection) -> Result<(), StoreError> {
    let version: i32 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version == VERSION {
        return Ok(());
    }
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    if version == 0 {
        for ddl in [
            EVENTS,
            OUTBOX,
            INSIGHTS_SHARED,
            SETTINGS,
            ENV_READINGS,
            SLEEP_EPISODES,
            SENSOR_MINUTES,
            PATTERN_STATE,
            MESSAGE_FTS,
            PULLED_CHANGES,
            ADAPTERS,
        ] {
            tx.execute_batch(ddl)?;
        }
    } else {
        for from in version..VERSION {
            upgrade_from(&tx, from)?;
        }
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.pragma_update(None, "user_version", VERSION)?;
    tx.commit()?;
    tracing::info!(from = version, to = VERSION, "database schema ready");
    Ok(())
}

fn upgrade_from(conn: &Connection, version: i32) -> Result<(), StoreError> {
    match version {
        1 => {
            // v2 split environment readings and sleep episodes out of the event payloads.
            conn.execute_batch(ENV_READINGS)?;
            conn.execute_batch(SLEEP_EPISODES)?;
            conn.execute_batch(SENSOR_MINUTES)?;
            backfill_env_and_sleep(conn)
        }
        2 => {
            // v3 moved the pattern engine's state out of settings, indexed the child's words for
            // retrieval, and kept what the phone pulls from the server (including adapters).
            for ddl in [PATTERN_STATE, MESSAGE_FTS, PULLED_CHANGES, ADAPTERS] {
                conn.execute_batch(ddl)?;
            }
            // SQLite cannot drop a foreign key in place: rename, recreate, copy, drop.
            conn.execute_batch(V3_SET_ASIDE)?;
            conn.execute_batch(OUTBOX)?;
            conn.execute_batch(ENV_READINGS)?;
            conn.execute_batch(V3_COPY_BACK)?;
            conn.execute("DELETE FROM settings WHERE key LIKE 'patterns.state.%'", [])?;
            backfill_text_index(conn)
        }
        other => Err(StoreError::UnknownVersion(other)),
    }
}

fn backfill_text_index(conn: &Connection) -> Result<(), StoreError> {
    let mut select = conn.prepare("SELECT seq, id, user_id, kind, ts_ms, utc_offset_min, payload FROM events WHERE kind IN ('message', 'symptom', 'relief', 'activity') ORDER BY seq")?;
    let rows = select.query_map([], super::events::StoredRow::from_row)?;
    for row in rows {
        let row = row?;
        let seq = row.seq;
        super::events::index_text(conn, seq, &row.decode()?)?;
    }
    Ok(())
}

fn backfill_env_and_sleep(conn: &Connection) -> Result<(), StoreError> {
    let mut select = conn.prepare("SELECT seq, id, user_id, kind, ts_ms, utc_offset_min, payload FROM events WHERE kind IN ('env', 'sleep') ORDER BY seq")?;
    let rows = select.query_map([], super::events::StoredRow::from_row)?;
    for row in rows {
        let row = row?;
        let seq = row.seq;
        super::events::insert_derived(conn, seq, &row.decode()?)?;
    }
    Ok(())
}
