//! The smaller tables: settings, outbox, insights log, sensor minutes, sleep episodes, stats.

use chrono::{DateTime, FixedOffset};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::StoreError;
use crate::event::ts_from_parts;

pub fn setting(conn: &Connection, key: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT value FROM settings WHERE key = ?1")?
        .query_row([key], |row| row.get(0))
        .optional()?)
}

pub fn set_setting(conn: &Connection, key: &str, value: &str) -> Result<(), StoreError> {
    conn.prepare_cached("INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")?
        .execute([key, value])?;
    Ok(())
}

// ---- outbox ----------------------------------------------------------------------------------

/// One non-event item waiting for the server (events go by the push cursor), with its JSON
/// payload.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxItem {
    pub seq: i64,
    pub topic: String,
    pub payload: Option<String>,
    pub attempts: u32,
}

/// The settings key of the push cursor: the `seq` of the last event the server answered for.
/// Every event after it is waiting to go up.
pub const PUSH_CURSOR_KEY: &str = "sync.push_cursor";

pub fn push_cursor(conn: &Connection) -> Result<i64, StoreError> {
    let value: Option<String> = conn
        .prepare_cached("SELECT value FROM settings WHERE key = ?1")?
        .query_row([PUSH_CURSOR_KEY], |row| row.get(0))
        .optional()?;
    match value {
        None => Ok(0),
        Some(text) => text.parse().map_err(|_| StoreError::InvalidSetting {
            key: PUSH_CURSOR_KEY,
            reason: format!("{text:?} is not an event sequence number"),
        }),
    }
}

/// Moves the cursor forward to `seq`, only if the event stored there is still the one sent.
pub fn advance_push_cursor(conn: &Connection, seq: i64, id: uuid::Uuid) -> Result<bool, StoreError> {
    let moved = conn
        .prepare_cached(
            "INSERT INTO settings (key, value)
             SELECT ?1, CAST(?2 AS TEXT) WHERE EXISTS (SELECT 1 FROM events WHERE seq = ?2 AND id = ?3)
             ON CONFLICT (key) DO UPDATE SET value = CAST(max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER)) AS TEXT)",
        )?
        .execute(params![PUSH_CURSOR_KEY, seq, id.as_bytes().as_slice()])?;
    Ok(moved == 1)
}

/// Keeps the cursor at or below the highest stored seq. SQLite numbers a new event one past the
/// highest seq present, so after a purge removed the newest arrivals a cursor beyond them would
/// silently cover events not sent yet.
pub fn clamp_push_cursor(conn: &Connection) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE settings SET value = CAST(min(CAST(value AS INTEGER), coalesce((SELECT max(seq) FROM events), 0)) AS TEXT)
         WHERE key = ?1",
    )?
    .execute([PUSH_CURSOR_KEY])?;
    Ok(())
}

/// Events after the cursor plus queued non-event items.
pub fn pending_push(conn: &Connection) -> Result<u64, StoreError> {
    let cursor = push_cursor(conn)?;
    let n: i64 = conn
        .prepare_cached("SELECT (SELECT count(*) FROM events WHERE seq > ?1) + (SELECT count(*) FROM outbox)")?
        .query_row([cursor], |row| row.get(0))?;
    Ok(n as u64)
}

pub fn outbox_due(conn: &Connection, now_ms: i64, limit: usize) -> Result<Vec<OutboxItem>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, topic, payload, attempts FROM outbox WHERE next_attempt_ms <= ?1 ORDER BY seq LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![now_ms, limit as i64], |row| {
        Ok(OutboxItem { seq: row.get(0)?, topic: row.get(1)?, payload: row.get(2)?, attempts: row.get(3)? })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn outbox_push(conn: &Connection, topic: &str, payload: &str, now_ms: i64) -> Result<i64, StoreError> {
    conn.prepare_cached("INSERT INTO outbox (topic, payload, created_ms) VALUES (?1, ?2, ?3)")?
        .execute(params![topic, payload, now_ms])?;
    Ok(conn.last_insert_rowid())
}

pub fn outbox_ack(conn: &Connection, seqs: &[i64]) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached("DELETE FROM outbox WHERE seq = ?1")?;
    for seq in seqs {
        stmt.execute([seq])?;
    }
    Ok(())
}

pub fn outbox_defer(conn: &Connection, seqs: &[i64], retry_at_ms: i64) -> Result<(), StoreError> {
    let mut stmt =
        conn.prepare_cached("UPDATE outbox SET attempts = attempts + 1, next_attempt_ms = ?2 WHERE seq = ?1")?;
    for seq in seqs {
        stmt.execute(params![seq, retry_at_ms])?;
    }
    Ok(())
}

// ---- insights log ----------------------------------------------------------------------------

/// An insight the policy decided to share, keyed so the same one is never told twice.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SharedInsight {
    pub user: String,
    pub key: String,
    /// When the policy decided it.
    pub shared_at: DateTime<FixedOffset>,
    /// The child's message.
    pub message: String,
    pub message_parent: String,
    /// When the child was told; `None` while it waits for the child's window.
    pub delivered_at: Option<DateTime<FixedOffset>>,
    /// Why it waits (`quiet_hours`, `school_morning`, `one_per_turn`, `one_per_day`); `None`
    /// once delivered or before the delivery step has looked at it.
    pub deferred_reason: Option<String>,
}

pub fn record_shared_insight(conn: &Connection, insight: &SharedInsight) -> Result<bool, StoreError> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO insights_shared
                 (user_id, insight_key, shared_ms, utc_offset_min, message, message_parent, delivered_ms, deferred_reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING",
        )?
        .execute(params![
            insight.user,
            insight.key,
            insight.shared_at.timestamp_millis(),
            insight.shared_at.offset().local_minus_utc() / 60,
            insight.message,
            insight.message_parent,
            insight.delivered_at.map(|t| t.timestamp_millis()),
            insight.deferred_reason,
        ])?;
    Ok(inserted == 1)
}

/// Every decided insight of a child, in the order they were decided.
pub fn shared_insights(conn: &Connection, user: &str) -> Result<Vec<SharedInsight>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT insight_key, shared_ms, utc_offset_min, message, message_parent, delivered_ms, deferred_reason
         FROM insights_shared WHERE user_id = ?1 ORDER BY shared_ms, insight_key",
    )?;
    let rows = stmt.query_map([user], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, i64>(1)?,
            row.get::<_, i32>(2)?,
            row.get::<_, String>(3)?,
            row.get::<_, String>(4)?,
            row.get::<_, Option<i64>>(5)?,
            row.get::<_, Option<String>>(6)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (key, ms, offset, message, message_parent, delivered_ms, deferred_reason) = row?;
        let impossible = || StoreError::BadRow { seq: 0, reason: format!("insight {key} has an impossible time") };
        let shared_at = ts_from_parts(ms, offset).ok_or_else(impossible)?;
        // Delivery times are shown in the offset the insight was decided in.
        let delivered_at = match delivered_ms {
            Some(ms) => Some(ts_from_parts(ms, offset).ok_or_else(impossible)?),
            None => None,
        };
        out.push(SharedInsight { user: user.to_owned(), key, shared_at, message, message_parent, delivered_at, deferred_reason });
    }
    Ok(out)
}

/// Marks a waiting insight delivered at `at`; false when it was not waiting.
pub fn mark_insight_delivered(conn: &Connection, user: &str, key: &str, at: DateTime<FixedOffset>) -> Result<bool, StoreError> {
    let updated = conn
        .prepare_cached(
            "UPDATE insights_shared SET delivered_ms = ?3, deferred_reason = NULL
             WHERE user_id = ?1 AND insight_key = ?2 AND delivered_ms IS NULL",
        )?
        .execute(params![user, key, at.timestamp_millis()])?;
    Ok(updated == 1)
}

/// Notes why a waiting insight still waits.
pub fn mark_insight_deferred(conn: &Connection, user: &str, key: &str, reason: &str) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE insights_shared SET deferred_reason = ?3 WHERE user_id = ?1 AND insight_key = ?2 AND delivered_ms IS NULL",
    )?
    .execute(params![user, key, reason])?;
    Ok(())
}

// ---- sensor minutes --------------------------------------------------------------------------

/// Per-minute wearable aggregates (units in the names; `None` where the sensor gave nothing): the
/// output of `wearable::MinuteAggregator` (methods in its module docs) and the `sensor_minutes` row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SensorMinute {
    pub user: String,
    pub minute_start: DateTime<FixedOffset>,
    pub hr_bpm: Option<f64>,
    pub rmssd_ms: Option<f64>,
    pub eda_tonic_us: Option<f64>,
    pub scr_count: Option<u32>,
    pub activity_count: Option<f64>,
    pub skin_temp_c: Option<f64>,
}

pub fn put_sensor_minutes(conn: &Connection, minutes: &[SensorMinute]) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "INSERT OR REPLACE INTO sensor_minutes
         (user_id, minute_ms, utc_offset_min, hr_bpm, rmssd_ms, eda_tonic_us, scr_count, activity_count, skin_temp_c)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for m in minutes {
        stmt.execute(params![
            m.user,
            m.minute_start.timestamp_millis(),
            m.minute_start.offset().local_minus_utc() / 60,
            m.hr_bpm,
            m.rmssd_ms,
            m.eda_tonic_us,
            m.scr_count,
            m.activity_count,
            m.skin_temp_c
        ])?;
    }
    Ok(())
}

pub fn sensor_minutes(conn: &Connection, user: &str, since_ms: i64, until_ms: i64) -> Result<Vec<SensorMinute>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT minute_ms, utc_offset_min, hr_bpm, rmssd_ms, eda_tonic_us, scr_count, activity_count, skin_temp_c
         FROM sensor_minutes WHERE user_id = ?1 AND minute_ms >= ?2 AND minute_ms < ?3 ORDER BY minute_ms",
    )?;
    let rows = stmt.query_map(params![user, since_ms, until_ms], |row| {
        let (ms, offset): (i64, i32) = (row.get(0)?, row.get(1)?);
        Ok((ms, offset, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?, row.get(6)?, row.get(7)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (ms, offset, hr_bpm, rmssd_ms, eda_tonic_us, scr_count, activity_count, skin_temp_c) = row?;
        let minute_start = ts_from_parts(ms, offset)
            .ok_or_else(|| StoreError::BadRow { seq: 0, reason: "sensor minute has an impossible time".into() })?;
        out.push(SensorMinute {
            user: user.to_owned(),
            minute_start,
            hr_bpm,
            rmssd_ms,
            eda_tonic_us,
            scr_count,
            activity_count,
            skin_temp_c,
        });
    }
    Ok(out)
}

// ---- sleep episodes --------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SleepSource {
    /// Told by the child or a parent (`sleep` records).
    Logged,
    /// Found in the wearable's actigraphy.
    Detected,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SleepEpisode {
    pub user: String,
    pub start: DateTime<FixedOffset>,
    pub end: DateTime<FixedOffset>,
    pub source: SleepSource,
    pub efficiency_pct: Option<f64>,
}

pub fn put_detected_sleep(conn: &Connection, e: &SleepEpisode) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO sleep_episodes (user_id, start_ms, start_offset_min, end_ms, end_offset_min, source, efficiency_pct)
         VALUES (?1, ?2, ?3, ?4, ?5, 'detected', ?6)
         ON CONFLICT (user_id, start_ms, source) DO UPDATE SET
           end_ms = excluded.end_ms, end_offset_min = excluded.end_offset_min, efficiency_pct = excluded.efficiency_pct",
    )?
    .execute(params![
        e.user,
        e.start.timestamp_millis(),
        e.start.offset().local_minus_utc() / 60,
        e.end.timestamp_millis(),
        e.end.offset().local_minus_utc() / 60,
        e.efficiency_pct
    ])?;
    Ok(())
}

pub fn sleep_episodes(conn: &Connection, user: &str) -> Result<Vec<SleepEpisode>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT start_ms, start_offset_min, end_ms, end_offset_min, source, efficiency_pct
         FROM sleep_episodes WHERE user_id = ?1 ORDER BY start_ms, source",
    )?;
    let rows = stmt.query_map([user], |row| {
        Ok((row.get::<_, i64>(0)?, row.get::<_, i32>(1)?, row.get::<_, i64>(2)?, row.get::<_, i32>(3)?, row.get::<_, String>(4)?, row.get(5)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (start_ms, start_off, end_ms, end_off, source, efficiency_pct) = row?;
        let bad = || StoreError::BadRow { seq: 0, reason: "sleep episode has an impossible time".into() };
        out.push(SleepEpisode {
            user: user.to_owned(),
            start: ts_from_parts(start_ms, start_off).ok_or_else(bad)?,
            end: ts_from_parts(end_ms, end_off).ok_or_else(bad)?,
            source: if source == "logged" { SleepSource::Logged } else { SleepSource::Detected },
            efficiency_pct,
        });
    }
    Ok(out)
}

/// One environment reading as stored (`env_readings`), in the child's local time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnvReading {
    pub ts: DateTime<FixedOffset>,
    pub pressure_hpa: Option<f64>,
    pub temp_c: Option<f64>,
    pub humidity_pct: Option<f64>,
}

/// The child's readings with `since_ms <= ts < until_ms`, in arrival order.
pub fn env_readings(conn: &Connection, user: &str, since_ms: i64, until_ms: i64) -> Result<Vec<EnvReading>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.event_seq, r.ts_ms, r.utc_offset_min, r.pressure_hpa, r.temp_c, r.humidity_pct
         FROM env_readings AS r
         WHERE r.user_key = (SELECT id FROM users WHERE name = ?1) AND r.ts_ms >= ?2 AND r.ts_ms < ?3
         ORDER BY r.event_seq",
    )?;
    let rows = stmt.query_map(params![user, since_ms, until_ms], |row| {
        Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?, row.get::<_, i32>(2)?, row.get(3)?, row.get(4)?, row.get(5)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, ts_ms, offset_min, pressure_hpa, temp_c, humidity_pct) = row?;
        let ts = ts_from_parts(ts_ms, offset_min).ok_or_else(|| StoreError::BadRow { seq, reason: "reading has an impossible time".into() })?;
        out.push(EnvReading { ts, pressure_hpa, temp_c, humidity_pct });
    }
    Ok(out)
}

// ---- stats -----------------------------------------------------------------------------------

/// What the store holds (`migru stats`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoreStats {
    pub events: u64,
    /// Event counts by kind, in the contract's kind names.
    pub by_kind: std::collections::BTreeMap<String, u64>,
    pub users: Vec<String>,
    pub first_ts: Option<String>,
    pub last_ts: Option<String>,
    pub outbox_pending: u64,
    pub sleep_episodes: u64,
    pub sensor_minutes: u64,
    pub schema_version: i32,
    pub file_bytes: u64,
}

pub fn stats(conn: &Connection) -> Result<StoreStats, StoreError> {
    let count = |sql: &str| conn.query_row(sql, [], |row| row.get::<_, i64>(0)).map(|n| n as u64);
    let mut by_kind = std::collections::BTreeMap::new();
    let mut stmt = conn.prepare("SELECT kind, count(*) FROM events GROUP BY kind")?;
    for row in stmt.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)))? {
        let (kind, n) = row?;
        by_kind.insert(kind, n as u64);
    }
    let users = conn
        // Exactly the children with events: appends add them, purges remove those left without.
        .prepare("SELECT name FROM users ORDER BY name")?
        .query_map([], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    let bound = |sql: &str| -> Result<Option<String>, StoreError> {
        let row: Option<(i64, i32)> = conn.query_row(sql, [], |row| Ok((row.get(0)?, row.get(1)?))).optional()?;
        Ok(row.and_then(|(ms, off)| ts_from_parts(ms, off)).map(|ts| crate::event::format_ts(&ts)))
    };
    Ok(StoreStats {
        events: by_kind.values().sum(),
        by_kind,
        users,
        first_ts: bound("SELECT ts_ms, utc_offset_min FROM events ORDER BY ts_ms LIMIT 1")?,
        last_ts: bound("SELECT ts_ms, utc_offset_min FROM events ORDER BY ts_ms DESC LIMIT 1")?,
        outbox_pending: pending_push(conn)?,
        sleep_episodes: count("SELECT count(*) FROM sleep_episodes")?,
        sensor_minutes: count("SELECT count(*) FROM sensor_minutes")?,
        schema_version: conn.query_row("PRAGMA user_version", [], |row| row.get(0))?,
        file_bytes: count("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()")?,
    })
}

// ---- pattern engine state --------------------------------------------------------------------

/// The pattern engine's serialised state for one child and the last event it has seen.
#[derive(Debug, Clone, PartialEq)]
pub struct PatternState {
    pub last_seq: i64,
    pub state: Vec<u8>,
}

pub fn load_pattern_state(conn: &Connection, user: &str) -> Result<Option<PatternState>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT last_seq, state FROM pattern_state WHERE user_id = ?1")?
        .query_row([user], |row| Ok(PatternState { last_seq: row.get(0)?, state: row.get(1)? }))
        .optional()?)
}

pub fn save_pattern_state(conn: &Connection, user: &str, state: &PatternState, now_ms: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO pattern_state (user_id, last_seq, state, updated_ms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (user_id) DO UPDATE SET last_seq = excluded.last_seq, state = excluded.state, updated_ms = excluded.updated_ms",
    )?
    .execute(params![user, state.last_seq, state.state, now_ms])?;
    Ok(())
}
