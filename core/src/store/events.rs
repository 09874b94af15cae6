//! Appending and reading events, with the rows derived from them (environment readings, logged
//! sleep episodes, the text index) written in the same transaction.

use std::collections::HashMap;

use rusqlite::{CachedStatement, Connection, OptionalExtension, Row, params};
use uuid::Uuid;

use super::StoreError;
use crate::event::jsonl::{decode_object, encode_payload, payload_and_content_id};
use crate::event::{Body, Kind, Record, ts_from_parts};

/// What happened to one record offered to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// Newly stored, at local sequence number `seq`.
    Stored { seq: i64, id: Uuid },
    /// The same record (same id, same content) was already stored: nothing changed.
    Duplicate { id: Uuid },
    /// The id is already stored with different content; the stored record was kept.
    Conflict { id: Uuid },
}

/// An event as stored: its local sequence number and the record (with its id).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub seq: i64,
    pub record: Record,
}

/// Which events to read. Empty `kinds` means every kind.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub user: Option<String>,
    pub kinds: Vec<Kind>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub after_seq: Option<i64>,
}

/// A record with its id and stored payload already worked out: the CPU part of an append, which
/// an import does on its decoding thread so the writer only writes.
#[derive(Debug, Clone)]
pub struct PreparedRecord {
    pub record: Record,
    id: Uuid,
    payload: String,
}

impl PreparedRecord {
    /// Assigns the content id where the record has none, and encodes the payload.
    pub fn new(record: Record) -> Self {
        let (id, payload) = id_and_payload(&record);
        PreparedRecord { record, id, payload }
    }
}

/// The record's id (its content id when it has none) and its stored payload.
fn id_and_payload(record: &Record) -> (Uuid, String) {
    match record.id {
        Some(id) => (id, encode_payload(record)),
        None => {
            let (payload, id) = payload_and_content_id(record);
            (id, payload)
        }
    }
}

/// Appends records inside one write transaction. It holds the two statements every append runs
/// and the numbers of the children seen so far (`users.id`), so a batch looks each child up once.
/// Lives no longer than its transaction: a rolled-back transaction takes its new numbers along.
pub struct Inserter<'c> {
    conn: &'c Connection,
    event: CachedStatement<'c>,
    env: CachedStatement<'c>,
    users: HashMap<String, i64>,
}

impl<'c> Inserter<'c> {
    pub fn new(conn: &'c Connection) -> Result<Self, StoreError> {
        Ok(Inserter {
            conn,
            event: conn.prepare_cached(
                "INSERT INTO events (id, user_key, kind, ts_ms, utc_offset_min, payload, recorded_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO NOTHING",
            )?,
            env: conn.prepare_cached(
                "INSERT INTO env_readings (event_seq, user_key, ts_ms, utc_offset_min, pressure_hpa, temp_c, humidity_pct)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?,
            users: HashMap::new(),
        })
    }

    /// Inserts one record (assigning its content id if it has none) and its derived rows.
    pub fn insert(&mut self, record: &Record, now_ms: i64) -> Result<Appended, StoreError> {
        let (id, payload) = id_and_payload(record);
        self.insert_with(record, id, &payload, now_ms)
    }

    pub fn insert_prepared(&mut self, prepared: &PreparedRecord, now_ms: i64) -> Result<Appended, StoreError> {
        self.insert_with(&prepared.record, prepared.id, &prepared.payload, now_ms)
    }

    fn insert_with(&mut self, record: &Record, id: Uuid, payload: &str, now_ms: i64) -> Result<Appended, StoreError> {
        let (user_key, new_user) = self.user_key(&record.user)?;
        let inserted = self.event.execute(params![
            id.as_bytes().as_slice(),
            user_key,
            record.kind().as_str(),
            record.ts_utc_ms(),
            record.utc_offset_min(),
            payload,
            now_ms
        ])?;
        if inserted == 0 {
            if new_user {
                // `users` lists exactly the children with events: a refused record adds none.
                self.conn.prepare_cached("DELETE FROM users WHERE id = ?1")?.execute([user_key])?;
                self.users.remove(&record.user);
            }
            return same_as_stored(self.conn, id, record, payload);
        }
        let seq = self.conn.last_insert_rowid();
        match &record.body {
            Body::Env { pressure_hpa, temp_c, humidity_pct } => {
                self.env.execute(params![seq, user_key, record.ts_utc_ms(), record.utc_offset_min(), pressure_hpa, temp_c, humidity_pct])?;
            }
            Body::Sleep { .. } => insert_sleep(self.conn, seq, record)?,
            _ => index_text(self.conn, seq, record)?,
        }
        Ok(Appended::Stored { seq, id })
    }

    /// The child's number, given one on first sight (then `true`).
    fn user_key(&mut self, name: &str) -> Result<(i64, bool), StoreError> {
        if let Some(key) = self.users.get(name) {
            return Ok((*key, false));
        }
        let known = self
            .conn
            .prepare_cached("SELECT id FROM users WHERE name = ?1")?
            .query_row([name], |row| row.get(0))
            .optional()?;
        let (key, new) = match known {
            Some(key) => (key, false),
            None => {
                self.conn.prepare_cached("INSERT INTO users (name) VALUES (?1)")?.execute([name])?;
                (self.conn.last_insert_rowid(), true)
            }
        };
        self.users.insert(name.to_owned(), key);
        Ok((key, new))
    }
}

fn same_as_stored(conn: &Connection, id: Uuid, record: &Record, payload: &str) -> Result<Appended, StoreError> {
    let stored = conn
        .prepare_cached(
            "SELECT (SELECT name FROM users WHERE id = e.user_key), e.kind, e.ts_ms, e.utc_offset_min, e.payload
             FROM events AS e WHERE e.id = ?1",
        )?
        .query_row([id.as_bytes().as_slice()], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, i64>(2)?, row.get::<_, i32>(3)?, row.get::<_, String>(4)?))
        })?;
    let offered = (record.user.clone(), record.kind().as_str().to_owned(), record.ts_utc_ms(), record.utc_offset_min(), payload.to_owned());
    Ok(if stored == offered { Appended::Duplicate { id } } else { Appended::Conflict { id } })
}

/// The logged episode of a `sleep` record. Also used by the v1→v2 upgrade to backfill.
pub(super) fn insert_sleep(conn: &Connection, seq: i64, record: &Record) -> Result<(), StoreError> {
    if let Body::Sleep { start, end } = &record.body {
        conn.prepare_cached(
            "INSERT INTO sleep_episodes (user_id, start_ms, start_offset_min, end_ms, end_offset_min, source, event_seq)
             VALUES (?1, ?2, ?3, ?4, ?5, 'logged', ?6) ON CONFLICT DO NOTHING",
        )?
        .execute(params![
            record.user,
            start.timestamp_millis(),
            start.offset().local_minus_utc() / 60,
            end.timestamp_millis(),
            end.offset().local_minus_utc() / 60,
            seq
        ])?;
    }
    Ok(())
}

/// Adds the child's words, if the record has any, to the full-text index under the event's seq.
/// Also used by the v2→v3 upgrade to backfill.
pub(super) fn index_text(conn: &Connection, seq: i64, record: &Record) -> Result<(), StoreError> {
    if let Some(text) = record.body.text().filter(|t| !t.trim().is_empty()) {
        conn.prepare_cached("INSERT INTO message_fts (rowid, text) VALUES (?1, ?2)")?.execute(params![seq, text])?;
    }
    Ok(())
}

/// One `events` row before decoding.
pub(super) struct StoredRow {
    pub seq: i64,
    id: Vec<u8>,
    user: String,
    kind: String,
    ts_ms: i64,
    offset_min: i32,
    payload: String,
}

impl StoredRow {
    /// Reads `seq, id, user_id, kind, ts_ms, utc_offset_min, payload`, in that order.
    pub fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(StoredRow {
            seq: row.get(0)?,
            id: row.get(1)?,
            user: row.get(2)?,
            kind: row.get(3)?,
            ts_ms: row.get(4)?,
            offset_min: row.get(5)?,
            payload: row.get(6)?,
        })
    }

    /// Rebuilds the record through the same validating decoder the import uses.
    pub fn decode(self) -> Result<Record, StoreError> {
        let bad = |why: String| StoreError::BadRow { seq: self.seq, reason: why };
        let id = Uuid::from_slice(&self.id).map_err(|_| bad("id is not 16 bytes".into()))?;
        let ts = ts_from_parts(self.ts_ms, self.offset_min).ok_or_else(|| bad("timestamp out of range".into()))?;
        let mut fields: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&self.payload).map_err(|e| bad(format!("payload is not JSON: {e}")))?;
        fields.insert("ts".into(), crate::event::format_ts(&ts).into());
        fields.insert("kind".into(), self.kind.clone().into());
        fields.insert("user".into(), self.user.clone().into());
        let mut record = decode_object(fields).map_err(|e| bad(e.to_string()))?;
        record.id = Some(id);
        Ok(record)
    }
}

/// Calls `visit` for each matching event in local arrival order (the first `limit` of them),
/// streaming (constant memory).
pub fn for_each(
    conn: &Connection,
    filter: &EventFilter,
    limit: Option<usize>,
    mut visit: impl FnMut(StoredEvent) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let kinds: Vec<&str> = filter.kinds.iter().map(|k| k.as_str()).collect();
    let kinds_json = serde_json::to_string(&kinds).unwrap_or_else(|_| "[]".into());
    let mut stmt = conn.prepare_cached(
        "SELECT e.seq, e.id, (SELECT name FROM users WHERE id = e.user_key), e.kind, e.ts_ms, e.utc_offset_min, e.payload
         FROM events AS e
         WHERE (?1 IS NULL OR e.user_key = (SELECT id FROM users WHERE name = ?1))
           AND (?2 = '[]' OR e.kind IN (SELECT value FROM json_each(?2)))
           AND (?3 IS NULL OR e.ts_ms >= ?3)
           AND (?4 IS NULL OR e.ts_ms < ?4)
           AND e.seq > ?5
         ORDER BY e.seq
         LIMIT ?6",
    )?;
    let limit = limit.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
    let rows = stmt.query_map(
        params![filter.user, kinds_json, filter.since_ms, filter.until_ms, filter.after_seq.unwrap_or(0), limit],
        StoredRow::from_row,
    )?;
    for row in rows {
        let row = row?;
        let seq = row.seq;
        visit(StoredEvent { seq, record: row.decode()? })?;
    }
    Ok(())
}

/// The stored event with this id, if any.
pub fn by_id(conn: &Connection, id: Uuid) -> Result<Option<StoredEvent>, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT e.seq, e.id, (SELECT name FROM users WHERE id = e.user_key), e.kind, e.ts_ms, e.utc_offset_min, e.payload
             FROM events AS e WHERE e.id = ?1",
        )?
        .query_row([id.as_bytes().as_slice()], StoredRow::from_row)
        .optional()?;
    row.map(|row| Ok(StoredEvent { seq: row.seq, record: row.decode()? })).transpose()
}
