//! What the phone received from the server: pulled changes and the LoRA adapters among them.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::StoreError;

/// One change pulled from the server, kept as the server sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct PulledChange {
    pub change_id: String,
    pub topic: String,
    pub payload: String,
    pub server_seq: Option<i64>,
    pub received_ms: i64,
}

/// Stores changes not seen before; a repeated pull changes nothing. Returns how many were new.
pub fn put_pulled_changes(conn: &Connection, changes: &[PulledChange]) -> Result<usize, StoreError> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO pulled_changes (change_id, topic, payload, server_seq, received_ms)
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (change_id) DO NOTHING",
    )?;
    let mut added = 0;
    for c in changes {
        added += insert.execute(params![c.change_id, c.topic, c.payload, c.server_seq, c.received_ms])?;
    }
    Ok(added)
}

/// Newest first; `topic = None` means every topic.
pub fn pulled_changes(conn: &Connection, topic: Option<&str>, limit: usize) -> Result<Vec<PulledChange>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT change_id, topic, payload, server_seq, received_ms FROM pulled_changes
         WHERE ?1 IS NULL OR topic = ?1
         ORDER BY received_ms DESC, server_seq DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![topic, limit as i64], |row| {
        Ok(PulledChange {
            change_id: row.get(0)?,
            topic: row.get(1)?,
            payload: row.get(2)?,
            server_seq: row.get(3)?,
            received_ms: row.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Where an adapter stands on this phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdapterStatus {
    /// The one the model uses now.
    Active,
    /// Verified and kept (a previous version, or not yet switched to).
    Inactive,
    /// Failed verification; kept only as a record of why.
    Refused,
}

impl AdapterStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AdapterStatus::Active => "active",
            AdapterStatus::Inactive => "inactive",
            AdapterStatus::Refused => "refused",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [AdapterStatus::Active, AdapterStatus::Inactive, AdapterStatus::Refused].into_iter().find(|s| s.as_str() == text)
    }
}

/// A LoRA adapter file the phone received.
#[derive(Debug, Clone, PartialEq)]
pub struct AdapterRecord {
    pub version: i64,
    pub sha256: String,
    pub size_bytes: i64,
    pub path: String,
    pub status: AdapterStatus,
    pub reason: Option<String>,
    pub received_ms: i64,
}

const ADAPTER_COLUMNS: &str = "version, sha256, size_bytes, path, status, reason, received_ms";

fn adapter_from_row(row: &Row<'_>) -> rusqlite::Result<AdapterRecord> {
    let status: String = row.get(4)?;
    let status = AdapterStatus::parse(&status).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Text, format!("adapter status {status:?}").into())
    })?;
    Ok(AdapterRecord {
        version: row.get(0)?,
        sha256: row.get(1)?,
        size_bytes: row.get(2)?,
        path: row.get(3)?,
        status,
        reason: row.get(5)?,
        received_ms: row.get(6)?,
    })
}

/// Inserts or replaces the record of one adapter version. Making one active goes through
/// [`activate_adapter`], so there is never more than one.
pub fn put_adapter(conn: &Connection, adapter: &AdapterRecord) -> Result<(), StoreError> {
    if adapter.status == AdapterStatus::Active {
        conn.prepare_cached("UPDATE adapters SET status = 'inactive' WHERE status = 'active' AND version <> ?1")?
            .execute([adapter.version])?;
    }
    conn.prepare_cached(
        "INSERT INTO adapters (version, sha256, size_bytes, path, status, reason, received_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (version) DO UPDATE SET sha256 = excluded.sha256, size_bytes = excluded.size_bytes,
             path = excluded.path, status = excluded.status, reason = excluded.reason, received_ms = excluded.received_ms",
    )?
    .execute(params![
        adapter.version,
        adapter.sha256,
        adapter.size_bytes,
        adapter.path,
        adapter.status.as_str(),
        adapter.reason,
        adapter.received_ms
    ])?;
    Ok(())
}

pub fn adapters(conn: &Connection) -> Result<Vec<AdapterRecord>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {ADAPTER_COLUMNS} FROM adapters ORDER BY version"))?;
    let rows = stmt.query_map([], adapter_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn active_adapter(conn: &Connection) -> Result<Option<AdapterRecord>, StoreError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {ADAPTER_COLUMNS} FROM adapters WHERE status = 'active'"))?
        .query_row([], adapter_from_row)
        .optional()?)
}

/// Makes `version` the only active adapter. A refused or unknown version is an error and the
/// active one stays as it was.
pub fn activate_adapter(conn: &Connection, version: i64) -> Result<(), StoreError> {
    let status: Option<String> = conn
        .prepare_cached("SELECT status FROM adapters WHERE version = ?1")?
        .query_row([version], |row| row.get(0))
        .optional()?;
    match status.as_deref() {
        None => return Err(StoreError::NoSuchAdapter(version)),
        Some("refused") => return Err(StoreError::RefusedAdapter(version)),
        _ => {}
    }
    conn.prepare_cached("UPDATE adapters SET status = 'inactive' WHERE status = 'active' AND version <> ?1")?.execute([version])?;
    conn.prepare_cached("UPDATE adapters SET status = 'active' WHERE version = ?1")?.execute([version])?;
    Ok(())
}
