//! Full-text search over the child's own words (the `message_fts` index), for recalling similar
//! past episodes. The query is an FTS5 MATCH expression passed as a bound parameter.

use rusqlite::{Connection, params};

use super::StoreError;
use crate::event::Kind;

/// One past event whose words matched, best match first.
#[derive(Debug, Clone, PartialEq)]
pub struct TextHit {
    pub seq: i64,
    pub ts_ms: i64,
    pub utc_offset_min: i32,
    pub kind: Kind,
    pub text: String,
    /// FTS5's bm25 rank: lower (more negative) is a better match.
    pub rank: f64,
}

pub fn search_text(conn: &Connection, user: &str, fts_query: &str, limit: usize) -> Result<Vec<TextHit>, StoreError> {
    if fts_query.trim().is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    // The index is contentless, so the words come back from `events` (the only copy).
    let mut stmt = conn.prepare_cached(
        "SELECT e.seq, e.ts_ms, e.utc_offset_min, e.kind, e.payload, m.rank
         FROM message_fts AS m JOIN events AS e ON e.seq = m.rowid
         WHERE message_fts MATCH ?1 AND e.user_key = (SELECT id FROM users WHERE name = ?2)
         ORDER BY m.rank LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![fts_query, user, limit as i64], |row| {
        Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?, row.get::<_, i32>(2)?, row.get::<_, String>(3)?, row.get::<_, String>(4)?, row.get::<_, f64>(5)?))
    })
    .map_err(query_error)?;
    let mut hits = Vec::new();
    for row in rows {
        let (seq, ts_ms, utc_offset_min, kind, payload, rank) = row.map_err(query_error)?;
        let bad = |reason: String| StoreError::BadRow { seq, reason };
        let kind = Kind::parse(&kind).ok_or_else(|| bad(format!("unknown kind {kind:?}")))?;
        let fields: serde_json::Value = serde_json::from_str(&payload).map_err(|e| bad(format!("payload is not JSON: {e}")))?;
        let Some(text) = fields.get("text").and_then(|t| t.as_str()) else { continue };
        hits.push(TextHit { seq, ts_ms, utc_offset_min, kind, text: text.to_owned(), rank });
    }
    Ok(hits)
}

/// A malformed MATCH expression is the caller's mistake, not a broken database.
fn query_error(error: rusqlite::Error) -> StoreError {
    match error {
        // The statement is fixed, so a generic SQLITE_ERROR while stepping comes from parsing the
        // MATCH expression ("fts5: syntax error near …", "unterminated string", "no such column").
        rusqlite::Error::SqliteFailure(code, why) if code.code == rusqlite::ErrorCode::Unknown => {
            StoreError::BadSearch(why.unwrap_or_else(|| code.to_string()))
        }
        other => StoreError::Sqlite(other),
    }
}
