//! SQLite storage: one file, one connection behind a mutex, used from tokio's blocking pool.
//!
//! One writer is SQLite's own model; WAL lets readers (token checks, pulls) run on their own
//! connections while a push writes, and every multi-statement operation runs in an `IMMEDIATE`
//! transaction, so it is atomic and a concurrent process (a second server on the same file) waits
//! on the busy timeout instead of failing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use uuid::Uuid;
use migru_core::store::Checkpointer;

use super::migrations::{self, SQLITE};
use super::*;

mod training;

/// Reader connections beside the writer (a file database only; `:memory:` is one connection).
const READERS: usize = 2;

#[derive(Debug, Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    readers: Arc<Vec<Mutex<Connection>>>,
    next_reader: Arc<AtomicUsize>,
    // Declared after the writer: the last clone drops the writer (and its wake-up hook) first.
    _checkpointer: Arc<Option<Checkpointer>>,
}

/// Page cache per connection, in KiB (SQLite's default is 2 MiB): index pages of the records
/// table stay in memory instead of being re-read on every insert.
const CACHE_KIB: i64 = 32 * 1024;

fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if absent) the database at `path` (`:memory:` for a private one) and
    /// migrates it.
    pub async fn open(path: &str) -> Result<Self> {
        let path = path.to_owned();
        let (conn, readers, checkpointer) = tokio::task::spawn_blocking(move || -> Result<(Connection, Vec<Mutex<Connection>>, Option<Checkpointer>)> {
            let mut conn = Connection::open(&path)?;
            configure(&conn)?;
            migrate(&mut conn)?;
            let mut readers = Vec::new();
            let mut checkpointer = None;
            if path != ":memory:" && !path.is_empty() {
                // WAL checkpoints off the request path: the commit that crosses 1,000 WAL pages
                // would otherwise copy and fsync while holding the write lock, a latency spike
                // for every push queued behind it. The core's checkpointer runs them on its own
                // thread and connection when the writer's WAL hook says they are due.
                checkpointer = Some(Checkpointer::start(std::path::Path::new(&path), &mut conn)?);
                for _ in 0..READERS {
                    let reader = Connection::open(&path)?;
                    configure(&reader)?;
                    readers.push(Mutex::new(reader));
                }
            }
            Ok((conn, readers, checkpointer))
        })
        .await
        .map_err(|e| StorageError::Task(e.to_string()))??;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
            readers: Arc::new(readers),
            next_reader: Arc::new(AtomicUsize::new(0)),
            _checkpointer: Arc::new(checkpointer),
        })
    }

    /// Runs a read-only `f` on a reader connection (the writer when there are none), so reads do
    /// not queue behind a long write.
    async fn read<T: Send + 'static>(&self, f: impl FnOnce(&Connection) -> Result<T> + Send + 'static) -> Result<T> {
        if self.readers.is_empty() {
            return self.call(move |conn| f(conn)).await;
        }
        let (readers, next) = (Arc::clone(&self.readers), Arc::clone(&self.next_reader));
        tokio::task::spawn_blocking(move || {
            // A free reader if there is one, else wait for the next in turn.
            let guard = readers.iter().find_map(|r| r.try_lock().ok()).unwrap_or_else(|| {
                let i = next.fetch_add(1, Ordering::Relaxed) % readers.len();
                readers[i].lock().unwrap_or_else(|poisoned| poisoned.into_inner())
            });
            f(&guard)
        })
        .await
        .map_err(|e| StorageError::Task(e.to_string()))?
    }

    /// Runs `f` on the connection in the blocking pool.
    async fn call<T: Send + 'static>(&self, f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static) -> Result<T> {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| StorageError::Task(e.to_string()))?
    }

    /// Runs `f` in an IMMEDIATE transaction that commits only when `f` succeeds.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.call(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = f(&tx)?;
            tx.commit()?;
            Ok(value)
        })
        .await
    }
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let known = migrations::latest(SQLITE);
    if found > known {
        return Err(StorageError::SchemaTooNew { found, known });
    }
    for (index, sql) in SQLITE.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
        tracing::info!(version = index + 1, "sqlite schema migrated");
    }
    Ok(())
}

fn insert_device(tx: &Connection, family_id: Uuid, device: &NewDevice, now_ms: i64) -> Result<()> {
    tx.execute(
        "INSERT INTO devices (id, family_id, name, role, token_hash, created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![device.id.to_string(), family_id.to_string(), device.name, device.role.as_str(), &device.token_hash[..], now_ms],
    )?;
    Ok(())
}

fn insert_change(
    tx: &Connection,
    family_id: Uuid,
    kind: ChangeKind,
    item_id: &str,
    body: &str,
    now_ms: i64,
) -> Result<Change> {
    let seq: i64 = tx.query_row(
        "INSERT INTO changes (family_id, kind, item_id, body, created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING seq",
        params![family_id.to_string(), kind.as_str(), item_id, body, now_ms],
        |row| row.get(0),
    )?;
    Ok(Change { seq, kind, item_id: item_id.to_owned(), body: parse_body(body)?, created_at_ms: now_ms })
}

fn push_in_tx(
    tx: &Connection,
    family_id: Uuid,
    device_id: Uuid,
    records: &[IncomingRecord],
    now_ms: i64,
) -> Result<PushResult> {
    let family = family_id.to_string();
    let device = device_id.to_string();
    let mut insert = tx.prepare_cached(
        "INSERT INTO records (family_id, id, device_id, kind, ts_ms, content_hash, line, received_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING",
    )?;
    let mut existing = tx.prepare_cached("SELECT content_hash FROM records WHERE family_id = ?1 AND id = ?2")?;
    let mut result = PushResult { outcomes: Vec::with_capacity(records.len()), alerts: Vec::new() };
    for record in records {
        let id = record.id.to_string();
        let inserted = insert.execute(params![
            family,
            id,
            device,
            record.kind,
            record.ts_ms,
            &record.content_hash[..],
            record.line,
            now_ms
        ])?;
        let outcome = if inserted == 1 {
            if let Some(alert) = &record.alert {
                result.alerts.push(insert_change(tx, family_id, ChangeKind::Alert, &id, alert, now_ms)?);
            }
            PushOutcome::Accepted
        } else {
            let stored: Vec<u8> = existing.query_row(params![family, id], |row| row.get(0))?;
            if stored[..] == record.content_hash[..] { PushOutcome::Duplicate } else { PushOutcome::Conflict }
        };
        result.outcomes.push(outcome);
    }
    Ok(result)
}

fn change_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, String, String, String, i64)> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?))
}

fn build_change((seq, kind, item_id, body, created_at_ms): (i64, String, String, String, i64)) -> Result<Change> {
    change(seq, &kind, item_id, &body, created_at_ms)
}

fn record_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, String, i64, String)> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?))
}

/// SQLite keeps a record's ids as text (PostgreSQL binds uuids: its migration 4).
fn build_record((id, device, kind, ts_ms, line): (String, String, String, i64, String)) -> Result<StoredRecord> {
    Ok(StoredRecord { id: parse_uuid(&id)?, device_id: parse_uuid(&device)?, kind, ts_ms, line })
}

/// The keyset cursor's parts as text: before every record when absent.
fn keyset(after: Option<(i64, Uuid)>) -> (i64, String) {
    after.map_or((i64::MIN, String::new()), |(ts, id)| (ts, id.to_string()))
}

fn feedback_in_tx(tx: &Connection, family_id: Uuid, feedback: Feedback, now_ms: i64) -> Result<FeedbackResult> {
    let family = family_id.to_string();
    let rec = feedback.recommendation_id.to_string();
    let known: Option<i64> = tx
        .query_row(
            "SELECT 1 FROM changes WHERE family_id = ?1 AND kind = 'recommendation' AND item_id = ?2 LIMIT 1",
            params![family, rec],
            |row| row.get(0),
        )
        .optional()?;
    if known.is_none() {
        return Ok(FeedbackResult::UnknownRecommendation);
    }
    let stored = tx
        .query_row(
            "SELECT device_id, value, device_ts_ms FROM feedback WHERE family_id = ?1 AND recommendation_id = ?2",
            params![family, rec],
            |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?, row.get::<_, i64>(2)?)),
        )
        .optional()?;
    let stored = stored.map(|(device, value, ts)| super::feedback(feedback.recommendation_id, &device, value, ts)).transpose()?;
    let applied = stored.is_none_or(|old| feedback.wins_over(&old));
    if !applied {
        let current = stored.ok_or_else(|| StorageError::Corrupt("feedback vanished".into()))?;
        return Ok(FeedbackResult::Recorded { applied, current, ack: None });
    }
    tx.execute(
        "INSERT INTO feedback (family_id, recommendation_id, device_id, value, device_ts_ms, received_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (family_id, recommendation_id) DO UPDATE SET device_id = excluded.device_id,
           value = excluded.value, device_ts_ms = excluded.device_ts_ms, received_at_ms = excluded.received_at_ms",
        params![family, rec, feedback.device_id.to_string(), feedback.value as i64, feedback.device_ts_ms, now_ms],
    )?;
    let body = feedback_ack_body(&feedback);
    let ack = insert_change(tx, family_id, ChangeKind::FeedbackAck, &rec, &body, now_ms)?;
    Ok(FeedbackResult::Recorded { applied, current: feedback, ack: Some(ack) })
}

#[async_trait::async_trait]
impl Storage for SqliteStore {
    async fn ping(&self) -> Result<()> {
        self.read(|conn| Ok(conn.query_row("SELECT 1", [], |_| Ok(()))?)).await
    }

    async fn create_family(&self, family_id: Uuid, name: &str, first_parent: &NewDevice, now_ms: i64) -> Result<()> {
        let (name, device) = (name.to_owned(), first_parent.clone());
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO families (id, name, created_at_ms) VALUES (?1, ?2, ?3)",
                params![family_id.to_string(), name, now_ms],
            )?;
            insert_device(tx, family_id, &device, now_ms)
        })
        .await
    }

    async fn family_settings(&self, family_id: Uuid) -> Result<FamilySettings> {
        self.read(move |conn| {
            let share_text = conn
                .query_row("SELECT share_text FROM families WHERE id = ?1", [family_id.to_string()], |row| {
                    row.get::<_, bool>(0)
                })
                .optional()?;
            Ok(FamilySettings { share_text: share_text.unwrap_or(false) })
        })
        .await
    }

    async fn set_family_settings(&self, family_id: Uuid, settings: FamilySettings) -> Result<()> {
        self.write(move |tx| {
            tx.execute(
                "UPDATE families SET share_text = ?2 WHERE id = ?1",
                params![family_id.to_string(), settings.share_text],
            )?;
            Ok(())
        })
        .await
    }

    async fn create_pairing_code(
        &self,
        family_id: Uuid,
        code_hash: [u8; 32],
        role: Role,
        created_by: Uuid,
        expires_at_ms: i64,
    ) -> Result<()> {
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO pairing_codes (code_hash, family_id, role, created_by, expires_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![&code_hash[..], family_id.to_string(), role.as_str(), created_by.to_string(), expires_at_ms],
            )?;
            Ok(())
        })
        .await
    }

    async fn redeem_pairing_code(&self, code_hash: [u8; 32], device: &NewDevice, now_ms: i64) -> Result<Option<Uuid>> {
        let device = device.clone();
        self.write(move |tx| {
            let found = tx
                .query_row(
                    "UPDATE pairing_codes SET used_at_ms = ?2
                     WHERE code_hash = ?1 AND used_at_ms IS NULL AND expires_at_ms > ?2
                     RETURNING family_id, role",
                    params![&code_hash[..], now_ms],
                    |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)),
                )
                .optional()?;
            let Some((family, role)) = found else { return Ok(None) };
            let family_id = parse_uuid(&family)?;
            let role = Role::parse(&role)?;
            insert_device(tx, family_id, &NewDevice { role, ..device }, now_ms)?;
            Ok(Some(family_id))
        })
        .await
    }

    async fn authenticate(&self, token_hash: [u8; 32]) -> Result<Option<DeviceAuth>> {
        self.read(move |conn| {
            let row = conn
                .prepare_cached(
                    "SELECT d.id, d.family_id, d.role, f.share_text FROM devices d JOIN families f ON f.id = d.family_id
                     WHERE d.token_hash = ?1 AND d.revoked_at_ms IS NULL",
                )?
                .query_row([&token_hash[..]], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, String>(2)?, row.get::<_, bool>(3)?))
                })
                .optional()?;
            row.map(|(device, family, role, share_text)| device_auth(&device, &family, &role, share_text)).transpose()
        })
        .await
    }

    async fn list_devices(&self, family_id: Uuid) -> Result<Vec<DeviceInfo>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, name, role, created_at_ms, revoked_at_ms FROM devices WHERE family_id = ?1 ORDER BY created_at_ms, id",
            )?;
            let rows = stmt.query_map([family_id.to_string()], |row| {
                Ok((row.get::<_, String>(0)?, row.get(1)?, row.get::<_, String>(2)?, row.get(3)?, row.get(4)?))
            })?;
            rows.map(|row| {
                let (id, name, role, created_at_ms, revoked_at_ms) = row?;
                device_info(&id, name, &role, created_at_ms, revoked_at_ms)
            })
            .collect()
        })
        .await
    }

    async fn revoke_device(&self, family_id: Uuid, device_id: Uuid, now_ms: i64) -> Result<bool> {
        self.write(move |tx| {
            let found: Option<i64> = tx
                .query_row(
                    "SELECT 1 FROM devices WHERE id = ?1 AND family_id = ?2",
                    params![device_id.to_string(), family_id.to_string()],
                    |row| row.get(0),
                )
                .optional()?;
            tx.execute(
                "UPDATE devices SET revoked_at_ms = ?3 WHERE id = ?1 AND family_id = ?2 AND revoked_at_ms IS NULL",
                params![device_id.to_string(), family_id.to_string(), now_ms],
            )?;
            Ok(found.is_some())
        })
        .await
    }

    async fn push_records(
        &self,
        family_id: Uuid,
        device_id: Uuid,
        records: &[IncomingRecord],
        now_ms: i64,
    ) -> Result<PushResult> {
        let records = records.to_vec();
        self.write(move |tx| push_in_tx(tx, family_id, device_id, &records, now_ms)).await
    }

    async fn records(&self, family_id: Uuid, after_ts_ms: i64, limit: u32) -> Result<Vec<StoredRecord>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, device_id, kind, ts_ms, line FROM records WHERE family_id = ?1 AND ts_ms > ?2
                 ORDER BY ts_ms, id LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![family_id.to_string(), after_ts_ms, limit], record_from_row)?;
            rows.map(|row| build_record(row?)).collect()
        })
        .await
    }

    async fn records_by_kind(
        &self,
        family_id: Uuid,
        kinds: &[&str],
        after: Option<(i64, Uuid)>,
        limit: u32,
    ) -> Result<Vec<StoredRecord>> {
        let kinds = serde_json::to_string(kinds).map_err(|e| StorageError::Task(e.to_string()))?;
        let (after_ts, after_id) = keyset(after);
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, device_id, kind, ts_ms, line FROM records
                 WHERE family_id = ?1 AND kind IN (SELECT value FROM json_each(?2)) AND (ts_ms, id) > (?3, ?4)
                 ORDER BY ts_ms, id LIMIT ?5",
            )?;
            let rows = stmt.query_map(params![family_id.to_string(), kinds, after_ts, after_id, limit], record_from_row)?;
            rows.map(|row| build_record(row?)).collect()
        })
        .await
    }

    async fn count_records(&self, family_id: Uuid) -> Result<u64> {
        self.read(move |conn| {
            let n: i64 =
                conn.query_row("SELECT COUNT(*) FROM records WHERE family_id = ?1", [family_id.to_string()], |row| row.get(0))?;
            Ok(n as u64)
        })
        .await
    }

    async fn append_change(
        &self,
        family_id: Uuid,
        kind: ChangeKind,
        item_id: &str,
        body: &serde_json::Value,
        now_ms: i64,
    ) -> Result<Change> {
        let (item_id, body) = (item_id.to_owned(), body.to_string());
        self.write(move |tx| insert_change(tx, family_id, kind, &item_id, &body, now_ms)).await
    }

    async fn pull_changes(&self, family_id: Uuid, after_seq: i64, limit: u32) -> Result<Vec<Change>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, kind, item_id, body, created_at_ms FROM changes WHERE family_id = ?1 AND seq > ?2
                 ORDER BY seq LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![family_id.to_string(), after_seq, limit], change_from_row)?;
            rows.map(|row| build_change(row?)).collect()
        })
        .await
    }

    async fn record_feedback(&self, family_id: Uuid, feedback: Feedback, now_ms: i64) -> Result<FeedbackResult> {
        self.write(move |tx| feedback_in_tx(tx, family_id, feedback, now_ms)).await
    }

    async fn enqueue_job(&self, kind: &str, family_id: Option<Uuid>, payload: &str, run_after_ms: i64) -> Result<i64> {
        let (kind, payload) = (kind.to_owned(), payload.to_owned());
        self.write(move |tx| {
            Ok(tx.query_row(
                "INSERT INTO jobs (kind, family_id, payload, run_after_ms) VALUES (?1, ?2, ?3, ?4) RETURNING id",
                params![kind, family_id.map(|f| f.to_string()), payload, run_after_ms],
                |row| row.get(0),
            )?)
        })
        .await
    }

    async fn enqueue_job_once(
        &self,
        kind: &str,
        family_id: Option<Uuid>,
        dedup_key: &str,
        payload: &str,
        run_after_ms: i64,
    ) -> Result<Option<i64>> {
        let (kind, dedup_key, payload) = (kind.to_owned(), dedup_key.to_owned(), payload.to_owned());
        self.write(move |tx| {
            Ok(tx
                .query_row(
                    "INSERT INTO jobs (kind, family_id, payload, run_after_ms, dedup_key) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT DO NOTHING RETURNING id",
                    params![kind, family_id.map(|f| f.to_string()), payload, run_after_ms, dedup_key],
                    |row| row.get(0),
                )
                .optional()?)
        })
        .await
    }

    async fn claim_job(&self, worker: &str, kinds: &[&str], now_ms: i64, lease_ms: i64) -> Result<Option<Job>> {
        let worker = worker.to_owned();
        let kinds = serde_json::to_string(kinds).map_err(|e| StorageError::Task(e.to_string()))?;
        // One UPDATE … RETURNING inside an IMMEDIATE transaction: the write lock is taken before
        // the inner SELECT runs, so two workers (threads or processes) can never pick the same
        // row — SQLite's equivalent of FOR UPDATE SKIP LOCKED.
        self.write(move |tx| {
            let row = tx
                .query_row(
                    "UPDATE jobs SET state = 'running', locked_by = ?1, locked_until_ms = ?2 + ?3, attempts = attempts + 1
                     WHERE id = (SELECT id FROM jobs
                                 WHERE ((state = 'queued' AND run_after_ms <= ?2)
                                        OR (state = 'running' AND locked_until_ms < ?2))
                                   AND kind IN (SELECT value FROM json_each(?4))
                                 ORDER BY id LIMIT 1)
                     RETURNING id, kind, family_id, payload, attempts",
                    params![worker, now_ms, lease_ms, kinds],
                    |row| {
                        Ok((row.get::<_, i64>(0)?, row.get(1)?, row.get::<_, Option<String>>(2)?, row.get(3)?, row.get(4)?))
                    },
                )
                .optional()?;
            row.map(|(id, kind, family, payload, attempts)| job(id, kind, family.as_deref(), payload, attempts)).transpose()
        })
        .await
    }

    async fn renew_job(&self, job_id: i64, worker: &str, now_ms: i64, lease_ms: i64) -> Result<bool> {
        let worker = worker.to_owned();
        self.write(move |tx| {
            let changed = tx.execute(
                "UPDATE jobs SET locked_until_ms = ?3 + ?4 WHERE id = ?1 AND state = 'running' AND locked_by = ?2",
                params![job_id, worker, now_ms, lease_ms],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn finish_job(
        &self,
        job_id: i64,
        worker: &str,
        outcome: std::result::Result<(), String>,
        now_ms: i64,
    ) -> Result<bool> {
        let worker = worker.to_owned();
        self.write(move |tx| {
            let changed = match outcome {
                Ok(()) => tx.execute(
                    "UPDATE jobs SET state = 'done', finished_at_ms = ?3, locked_by = NULL, locked_until_ms = NULL
                     WHERE id = ?1 AND state = 'running' AND locked_by = ?2",
                    params![job_id, worker, now_ms],
                )?,
                Err(reason) => tx.execute(
                    "UPDATE jobs SET last_error = ?3, locked_by = NULL, locked_until_ms = NULL,
                       state = CASE WHEN attempts >= ?5 THEN 'failed' ELSE 'queued' END,
                       finished_at_ms = CASE WHEN attempts >= ?5 THEN ?4 ELSE NULL END,
                       run_after_ms = ?4 + 1000 * (1 << MIN(attempts, 10))
                     WHERE id = ?1 AND state = 'running' AND locked_by = ?2",
                    params![job_id, worker, reason, now_ms, MAX_JOB_ATTEMPTS],
                )?,
            };
            Ok(changed == 1)
        })
        .await
    }

    async fn job_counts(&self) -> Result<JobCounts> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached("SELECT state, COUNT(*) FROM jobs GROUP BY state")?;
            let rows = stmt.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)))?;
            let mut counts = JobCounts::default();
            for row in rows {
                let (state, n) = row?;
                counts.add(&state, n)?;
            }
            Ok(counts)
        })
        .await
    }
}
