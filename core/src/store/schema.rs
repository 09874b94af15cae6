//! The schema: the current version as constants, and one upgrade arm per old version.
//!
//! A new database runs `CURRENT` at once; an old one runs each arm from its version up. Both
//! paths use the same DDL constants (an arm that needs a table's old shape keeps it as its own
//! constant), and a test upgrades frozen snapshots (`core/tests/fixtures/store/v1.sql`, `v3.sql`, `v4.sql`, `v5.sql`)
//! and checks each equals a fresh database.

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;
use super::sql::APPLICATION_ID;
use crate::event::Body;

/// The schema version this build writes (`PRAGMA user_version`).
pub const VERSION: i32 = 6;

/// The children (and other users) of this phone, numbered: events and readings carry the number,
/// so their indexes compare one small integer instead of a string per row (v4).
const USERS: &str = "
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
) STRICT;
";

/// Append-only events. `seq` is the local arrival order (pattern-engine cursors, the sync push
/// cursor, export order); `id` the time-ordered UUIDv7 shared with the server; `user_key` a
/// `users.id`. Time is UTC milliseconds plus the offset the child's clock had, so "9 AM" stays the
/// child's 9 AM across zones and DST changes. Two b-trees only (rowid and `id`): every read goes
/// by `seq` or `id`, and v3's `events_by_user_time` index, which no query used, cost 28 % of the
/// import's writer time (v4).
const EVENTS: &str = "
CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    id BLOB NOT NULL UNIQUE,
    user_key INTEGER NOT NULL,
    kind TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    utc_offset_min INTEGER NOT NULL,
    payload TEXT NOT NULL,
    recorded_ms INTEGER NOT NULL
) STRICT;
CREATE TRIGGER events_are_immutable BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;
";

/// Items other than events waiting to go to the server (parent feedback), each with its payload.
/// Events are not queued here since v4: they go up in `seq` order after the push cursor (the
/// `sync.push_cursor` setting), which costs an append nothing. `event_seq` is left from v3 and
/// always NULL now.
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

/// Insights the policy decided to share, so none is told twice and at most one is decided a
/// day. `delivered_ms` is when the child was told (v5): NULL while the insight waits for the
/// child's next window (`delivery`), with the reason it waits in `deferred_reason`. The waiting
/// rows are the delivery queue, so a decision and its place in the queue are one row.
const INSIGHTS_SHARED: &str = "
CREATE TABLE insights_shared (
    user_id TEXT NOT NULL,
    insight_key TEXT NOT NULL,
    shared_ms INTEGER NOT NULL,
    utc_offset_min INTEGER NOT NULL,
    message TEXT NOT NULL,
    message_parent TEXT NOT NULL DEFAULT '',
    delivered_ms INTEGER,
    deferred_reason TEXT,
    PRIMARY KEY (user_id, insight_key)
) STRICT;
";

const SETTINGS: &str = "
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
";

/// Environment readings (from `env` events), one b-tree keyed by their event's `seq`, so every
/// reading is appended at the end whatever the order of the children in the input (v6). They
/// are most of a wearable's events, so every structure here costs import time: no foreign key,
/// no second index. A phone keeps a few hundred readings per child (hourly, 30 days), so the
/// barometer's per-child look-up scans them faster than an index would pay for itself on every
/// append; purging deletes readings by their events' time cut.
const ENV_READINGS: &str = "
CREATE TABLE env_readings (
    event_seq INTEGER PRIMARY KEY,
    user_key INTEGER NOT NULL,
    ts_ms INTEGER NOT NULL,
    utc_offset_min INTEGER NOT NULL,
    pressure_hpa REAL,
    temp_c REAL,
    humidity_pct REAL
) STRICT;
";

/// `env_readings` as v4 and v5 wrote it (clustered by child and time), for the arm from v3.
/// An input that interleaves many children scattered its inserts over that key: one page per
/// child per transaction (1,100 children: 6.9 s against 3.9 s for a million records).
const ENV_READINGS_V5: &str = "
CREATE TABLE env_readings (
    event_seq INTEGER NOT NULL,
    user_key INTEGER NOT NULL,
    ts_ms INTEGER NOT NULL,
    utc_offset_min INTEGER NOT NULL,
    pressure_hpa REAL,
    temp_c REAL,
    humidity_pct REAL,
    PRIMARY KEY (user_key, ts_ms, event_seq)
) STRICT, WITHOUT ROWID;
";

/// `env_readings` as v2 and v3 wrote it (child by name), for the upgrade arms from v1 and v2.
const ENV_READINGS_V3: &str = "
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
";
const EVENTS_LEAVE_FTS: &str = "
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

/// v3 → v4: events and readings name their child by `users.id`, events lose the unused
/// `events_by_user_time` index and leave the outbox for the push cursor. Old tables are renamed
/// aside (with `legacy_alter_table` on and foreign keys off, so `sleep_episodes`' reference to
/// `events` is not rewritten), the new ones created from the current DDL, the rows copied with
/// their numbers, the old tables dropped.
/// v5: the deferred-insight queue moves from a settings JSON into `insights_shared` rows. Rows
/// whose key waits in a child's queue stay undelivered (with the queue's parent message and
/// reason); every other row was told when it was decided.
const V5_SET_ASIDE: &str = "ALTER TABLE insights_shared RENAME TO insights_shared_v4;";
const V5_COPY_BACK: &str = "
INSERT INTO insights_shared (user_id, insight_key, shared_ms, utc_offset_min, message, message_parent, delivered_ms, deferred_reason)
    SELECT i.user_id, i.insight_key, i.shared_ms, i.utc_offset_min, i.message,
           coalesce(q.message_parent, ''),
           CASE WHEN q.insight_key IS NULL THEN i.shared_ms END,
           q.reason
    FROM insights_shared_v4 AS i
    LEFT JOIN (
        SELECT substr(s.key, length('delivery.deferred_insights.') + 1) AS user_id,
               json_extract(j.value, '$.key') AS insight_key,
               json_extract(j.value, '$.message_parent') AS message_parent,
               json_extract(j.value, '$.reason') AS reason
        FROM settings AS s, json_each(s.value) AS j
        WHERE s.key LIKE 'delivery.deferred_insights.%' AND json_valid(s.value)
    ) AS q ON q.user_id = i.user_id AND q.insight_key = i.insight_key;
DROP TABLE insights_shared_v4;
DELETE FROM settings WHERE key LIKE 'delivery.deferred_insights.%';
";

/// v5 → v6: readings keyed by their event's `seq` (see `ENV_READINGS`).
const V6_SET_ASIDE: &str = "ALTER TABLE env_readings RENAME TO env_readings_v5;";
const V6_COPY_BACK: &str = "
INSERT INTO env_readings (event_seq, user_key, ts_ms, utc_offset_min, pressure_hpa, temp_c, humidity_pct)
    SELECT event_seq, user_key, ts_ms, utc_offset_min, pressure_hpa, temp_c, humidity_pct
    FROM env_readings_v5 ORDER BY event_seq;
DROP TABLE env_readings_v5;
";

const V4_SET_ASIDE: &str = "
DROP TRIGGER events_are_immutable;
DROP TRIGGER events_leave_fts;
DROP INDEX events_by_user_time;
ALTER TABLE events RENAME TO events_v3;
ALTER TABLE env_readings RENAME TO env_readings_v3;
";
const V4_COPY_BACK: &str = "
INSERT INTO users (name) SELECT user_id FROM events_v3 UNION SELECT user_id FROM env_readings_v3 ORDER BY 1;
INSERT INTO events (seq, id, user_key, kind, ts_ms, utc_offset_min, payload, recorded_ms)
    SELECT e.seq, e.id, u.id, e.kind, e.ts_ms, e.utc_offset_min, e.payload, e.recorded_ms
    FROM events_v3 AS e JOIN users AS u ON u.name = e.user_id ORDER BY e.seq;
INSERT INTO env_readings (event_seq, user_key, ts_ms, utc_offset_min, pressure_hpa, temp_c, humidity_pct)
    SELECT r.event_seq, u.id, r.ts_ms, r.utc_offset_min, r.pressure_hpa, r.temp_c, r.humidity_pct
    FROM env_readings_v3 AS r JOIN users AS u ON u.name = r.user_id;
DROP TABLE events_v3;
DROP TABLE env_readings_v3;
-- Events still queued are sent from the first of them on (the server keeps each id once, so an
-- event sent before and after it goes again harmlessly); with none queued, all were sent.
INSERT INTO settings (key, value) SELECT 'sync.push_cursor', CAST(coalesce(
    (SELECT min(event_seq) - 1 FROM outbox WHERE topic = 'event' AND event_seq IS NOT NULL),
    (SELECT max(seq) FROM events),
    0) AS TEXT)
    WHERE true
    ON CONFLICT (key) DO UPDATE SET value = excluded.value;
DELETE FROM outbox WHERE topic = 'event';
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
    "DELETE FROM users",
];

/// Creates or upgrades the schema. Every step runs in one transaction: a failed upgrade leaves
/// the file at its old version.
pub fn init(conn: &Connection) -> Result<(), StoreError> {
    let version: i32 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version == VERSION {
        return Ok(());
    }
    // Upgrades rebuild tables that others reference (v4: `events`); foreign keys stay off while
    // they do (the pragma is a no-op inside a transaction), as SQLite's ALTER TABLE guide says.
    conn.pragma_update(None, "foreign_keys", false)?;
    let result = init_in_transaction(conn, version);
    conn.pragma_update(None, "foreign_keys", true)?;
    result
}

fn init_in_transaction(conn: &Connection, version: i32) -> Result<(), StoreError> {
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    if version == 0 {
        for ddl in [
            USERS,
            EVENTS,
            OUTBOX,
            INSIGHTS_SHARED,
            SETTINGS,
            ENV_READINGS,
            SLEEP_EPISODES,
            SENSOR_MINUTES,
            PATTERN_STATE,
            MESSAGE_FTS,
            EVENTS_LEAVE_FTS,
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
            conn.execute_batch(ENV_READINGS_V3)?;
            conn.execute_batch(SLEEP_EPISODES)?;
            conn.execute_batch(SENSOR_MINUTES)?;
            backfill_env_and_sleep(conn)
        }
        2 => {
            // v3 moved the pattern engine's state out of settings, indexed the child's words for
            // retrieval, and kept what the phone pulls from the server (including adapters).
            for ddl in [PATTERN_STATE, MESSAGE_FTS, EVENTS_LEAVE_FTS, PULLED_CHANGES, ADAPTERS] {
                conn.execute_batch(ddl)?;
            }
            // SQLite cannot drop a foreign key in place: rename, recreate, copy, drop.
            conn.execute_batch(V3_SET_ASIDE)?;
            conn.execute_batch(OUTBOX)?;
            conn.execute_batch(ENV_READINGS_V3)?;
            conn.execute_batch(V3_COPY_BACK)?;
            conn.execute("DELETE FROM settings WHERE key LIKE 'patterns.state.%'", [])?;
            backfill_text_index(conn)
        }
        3 => {
            // v4 numbers the children (integer keys in the readings' b-tree), drops an index no
            // query used, and replaces the outbox row of every event with the push cursor: two
            // b-tree rows less per append.
            conn.pragma_update(None, "legacy_alter_table", true)?;
            conn.execute_batch(V4_SET_ASIDE)?;
            conn.execute_batch(USERS)?;
            conn.execute_batch(EVENTS)?;
            conn.execute_batch(ENV_READINGS_V5)?;
            conn.execute_batch(EVENTS_LEAVE_FTS)?;
            conn.execute_batch(V4_COPY_BACK)?;
            conn.pragma_update(None, "legacy_alter_table", false)?;
            Ok(())
        }
        4 => {
            // v5 records when an insight reached the child, not only when it was decided.
            conn.execute_batch(V5_SET_ASIDE)?;
            conn.execute_batch(INSIGHTS_SHARED)?;
            conn.execute_batch(V5_COPY_BACK)?;
            Ok(())
        }
        5 => {
            // v6 appends readings in arrival order instead of by child and time.
            conn.execute_batch(V6_SET_ASIDE)?;
            conn.execute_batch(ENV_READINGS)?;
            conn.execute_batch(V6_COPY_BACK)?;
            Ok(())
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
        let record = row.decode()?;
        if let Body::Env { pressure_hpa, temp_c, humidity_pct } = &record.body {
            // The v2 shape (child by name): later arms carry these rows forward.
            conn.prepare_cached(
                "INSERT INTO env_readings (event_seq, user_id, ts_ms, utc_offset_min, pressure_hpa, temp_c, humidity_pct)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(rusqlite::params![seq, record.user, record.ts_utc_ms(), record.utc_offset_min(), pressure_hpa, temp_c, humidity_pct])?;
        }
        super::events::insert_sleep(conn, seq, &record)?;
    }
    Ok(())
}
