//! PostgreSQL storage, for deployments that outgrow one machine: stateless servers share one
//! database; jobs are claimed with `FOR UPDATE SKIP LOCKED`.
//!
//! The change feed's order must match commit order, or a puller could move its cursor past a
//! sequence number whose transaction commits later. Appends to one family's feed therefore take
//! that family's transaction-scoped advisory lock before drawing a sequence number.
//!
//! Alerts reach parents connected to *other* server processes through `NOTIFY`: a push that
//! raises one notifies [`ALERT_CHANNEL`] in its transaction (delivered only if it commits), and
//! every process listens on its own connection ([`listen_for_alerts`]).

use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, NoTls};
use uuid::Uuid;

use super::migrations::{self, POSTGRES};
use super::*;

mod training;

/// Advisory lock key held while migrating ("MGRU" + 1).
const MIGRATION_LOCK: i64 = 0x4D47_5255_0001;

/// Where committed alerts are announced; the payload is "origin family_id seq".
const ALERT_CHANNEL: &str = "migru_alerts";

#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    /// For the listening connection, which lives outside the pool.
    config: tokio_postgres::Config,
    /// This store's id in alert notices, so a process skips the alerts it published itself.
    origin: Uuid,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").field("pool_size", &self.pool.status().max_size).finish()
    }
}

fn pool_error(e: impl std::fmt::Display) -> StorageError {
    StorageError::Pool(e.to_string())
}

impl PostgresStore {
    /// Connects a pool of up to 16 connections to `url` and migrates the schema.
    pub async fn connect(url: &str) -> Result<Self> {
        let config = tokio_postgres::Config::from_str(url)?;
        let manager =
            Manager::from_config(config.clone(), NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager).max_size(16).build().map_err(pool_error)?;
        let store = PostgresStore { pool, config, origin: Uuid::now_v7() };
        store.migrate().await?;
        Ok(store)
    }

    async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(pool_error)
    }

    async fn migrate(&self) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS migru_schema (version BIGINT NOT NULL)").await?;
        let found: i64 = tx.query_one("SELECT COALESCE(MAX(version), 0) FROM migru_schema", &[]).await?.get(0);
        let known = migrations::latest(POSTGRES);
        if found > known {
            return Err(StorageError::SchemaTooNew { found, known });
        }
        for (index, sql) in POSTGRES.iter().enumerate().skip(found as usize) {
            tx.batch_execute(sql).await?;
            tx.execute("INSERT INTO migru_schema (version) VALUES ($1)", &[&(index as i64 + 1)]).await?;
            tracing::info!(version = index + 1, "postgres schema migrated");
        }
        tx.commit().await?;
        Ok(())
    }

    /// Empties every table (tests only: each test run starts from a clean database).
    pub async fn truncate_all_for_tests(&self) -> Result<()> {
        let client = self.client().await?;
        client
            .batch_execute(
                "TRUNCATE families, devices, pairing_codes, records, changes, feedback, jobs RESTART IDENTITY CASCADE",
            )
            .await?;
        Ok(())
    }
}

/// The pushed columns as one set (arrays bound as `$4..$8`), for both push statements.
/// `records` keys are uuids (migration 4), bound as `uuid::Uuid`, never as text.
const RECORDS_FROM_UNNEST: &str = "(family_id, id, device_id, kind, ts_ms, content_hash, line, received_at_ms)
     SELECT $1, r.id, $2, r.kind, r.ts_ms, r.h, r.line, $3
     FROM unnest($4::uuid[], $5::text[], $6::int8[], $7::bytea[], $8::text[]) AS r(id, kind, ts_ms, h, line)";

async fn lock_family_feed(client: &impl GenericClient, family: &str) -> Result<()> {
    client.execute("SELECT pg_advisory_xact_lock(hashtext($1)::bigint)", &[&family]).await?;
    Ok(())
}

async fn insert_change(
    client: &impl GenericClient,
    family: &str,
    kind: ChangeKind,
    item_id: &str,
    body: &str,
    now_ms: i64,
) -> Result<Change> {
    let row = client
        .query_one(
            "INSERT INTO changes (family_id, kind, item_id, body, created_at_ms) VALUES ($1, $2, $3, $4, $5) RETURNING seq",
            &[&family, &kind.as_str(), &item_id, &body, &now_ms],
        )
        .await?;
    Ok(Change { seq: row.get(0), kind, item_id: item_id.to_owned(), body: parse_body(body)?, created_at_ms: now_ms })
}

fn row_to_change(row: &tokio_postgres::Row) -> Result<Change> {
    change(row.get(0), row.get(1), row.get(2), row.get(3), row.get(4))
}

/// A `records` row: its ids come back as uuids, so there is nothing to parse.
fn row_to_record(row: &tokio_postgres::Row) -> StoredRecord {
    StoredRecord { id: row.get(0), device_id: row.get(1), kind: row.get(2), ts_ms: row.get(3), line: row.get(4) }
}

async fn insert_device(client: &impl GenericClient, family: &str, device: &NewDevice, now_ms: i64) -> Result<()> {
    client
        .execute(
            "INSERT INTO devices (id, family_id, name, role, token_hash, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6)",
            &[&device.id.to_string(), &family, &device.name, &device.role.as_str(), &&device.token_hash[..], &now_ms],
        )
        .await?;
    Ok(())
}

/// Classifies the records the INSERT skipped: same hash → duplicate, else conflict.
async fn classify_skipped(
    client: &impl GenericClient,
    family_id: Uuid,
    records: &[IncomingRecord],
    inserted: &std::collections::HashSet<Uuid>,
) -> Result<Vec<PushOutcome>> {
    let skipped: Vec<Uuid> = records.iter().map(|r| r.id).filter(|id| !inserted.contains(id)).collect();
    let mut stored = std::collections::HashMap::new();
    if !skipped.is_empty() {
        let rows = client
            .query("SELECT id, content_hash FROM records WHERE family_id = $1 AND id = ANY($2)", &[&family_id, &skipped])
            .await?;
        for row in rows {
            stored.insert(row.get::<_, Uuid>(0), row.get::<_, Vec<u8>>(1));
        }
    }
    let mut first_seen = std::collections::HashSet::new();
    let mut outcomes = Vec::with_capacity(records.len());
    for record in records {
        let id = &record.id;
        let outcome = if inserted.contains(id) && first_seen.insert(*id) {
            PushOutcome::Accepted
        } else {
            // A repeat within this batch compares against the copy just inserted.
            let hash = match stored.get(id) {
                Some(hash) => hash.as_slice(),
                None => records.iter().find(|r| &r.id == id).map(|r| &r.content_hash[..]).unwrap_or(&[]),
            };
            if hash == &record.content_hash[..] { PushOutcome::Duplicate } else { PushOutcome::Conflict }
        };
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

#[async_trait::async_trait]
impl Storage for PostgresStore {
    async fn ping(&self) -> Result<()> {
        self.client().await?.query_one("SELECT 1", &[]).await?;
        Ok(())
    }

    async fn create_family(&self, family_id: Uuid, name: &str, first_parent: &NewDevice, now_ms: i64) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let family = family_id.to_string();
        tx.execute("INSERT INTO families (id, name, created_at_ms) VALUES ($1, $2, $3)", &[&family, &name, &now_ms]).await?;
        insert_device(&tx, &family, first_parent, now_ms).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn family_settings(&self, family_id: Uuid) -> Result<FamilySettings> {
        let row = self
            .client()
            .await?
            .query_opt("SELECT share_text FROM families WHERE id = $1", &[&family_id.to_string()])
            .await?;
        Ok(FamilySettings { share_text: row.is_some_and(|row| row.get(0)) })
    }

    async fn set_family_settings(&self, family_id: Uuid, settings: FamilySettings) -> Result<()> {
        self.client()
            .await?
            .execute("UPDATE families SET share_text = $2 WHERE id = $1", &[&family_id.to_string(), &settings.share_text])
            .await?;
        Ok(())
    }

    async fn create_pairing_code(
        &self,
        family_id: Uuid,
        code_hash: [u8; 32],
        role: Role,
        created_by: Uuid,
        expires_at_ms: i64,
    ) -> Result<()> {
        self.client()
            .await?
            .execute(
                "INSERT INTO pairing_codes (code_hash, family_id, role, created_by, expires_at_ms) VALUES ($1, $2, $3, $4, $5)",
                &[&&code_hash[..], &family_id.to_string(), &role.as_str(), &created_by.to_string(), &expires_at_ms],
            )
            .await?;
        Ok(())
    }

    async fn redeem_pairing_code(&self, code_hash: [u8; 32], device: &NewDevice, now_ms: i64) -> Result<Option<Uuid>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let row = tx
            .query_opt(
                "UPDATE pairing_codes SET used_at_ms = $2
                 WHERE code_hash = $1 AND used_at_ms IS NULL AND expires_at_ms > $2
                 RETURNING family_id, role",
                &[&&code_hash[..], &now_ms],
            )
            .await?;
        let Some(row) = row else { return Ok(None) };
        let family: String = row.get(0);
        let role = Role::parse(row.get(1))?;
        insert_device(&tx, &family, &NewDevice { role, ..device.clone() }, now_ms).await?;
        tx.commit().await?;
        Ok(Some(parse_uuid(&family)?))
    }

    async fn authenticate(&self, token_hash: [u8; 32]) -> Result<Option<DeviceAuth>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT d.id, d.family_id, d.role, f.share_text FROM devices d JOIN families f ON f.id = d.family_id
                 WHERE d.token_hash = $1 AND d.revoked_at_ms IS NULL",
            )
            .await?;
        let row = client.query_opt(&stmt, &[&&token_hash[..]]).await?;
        row.map(|row| device_auth(row.get(0), row.get(1), row.get(2), row.get(3))).transpose()
    }

    async fn list_devices(&self, family_id: Uuid) -> Result<Vec<DeviceInfo>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, name, role, created_at_ms, revoked_at_ms FROM devices WHERE family_id = $1 ORDER BY created_at_ms, id",
                &[&family_id.to_string()],
            )
            .await?;
        rows.iter().map(|row| device_info(row.get(0), row.get(1), row.get(2), row.get(3), row.get(4))).collect()
    }

    async fn revoke_device(&self, family_id: Uuid, device_id: Uuid, now_ms: i64) -> Result<bool> {
        let client = self.client().await?;
        let (device, family) = (device_id.to_string(), family_id.to_string());
        let found = client.query_opt("SELECT 1 FROM devices WHERE id = $1 AND family_id = $2", &[&device, &family]).await?;
        client
            .execute(
                "UPDATE devices SET revoked_at_ms = $3 WHERE id = $1 AND family_id = $2 AND revoked_at_ms IS NULL",
                &[&device, &family, &now_ms],
            )
            .await?;
        Ok(found.is_some())
    }

    async fn push_records(
        &self,
        family_id: Uuid,
        device_id: Uuid,
        records: &[IncomingRecord],
        now_ms: i64,
    ) -> Result<PushResult> {
        let ids: Vec<Uuid> = records.iter().map(|r| r.id).collect();
        let kinds: Vec<&str> = records.iter().map(|r| r.kind.as_str()).collect();
        let ts: Vec<i64> = records.iter().map(|r| r.ts_ms).collect();
        let hashes: Vec<&[u8]> = records.iter().map(|r| &r.content_hash[..]).collect();
        let lines: Vec<&str> = records.iter().map(|r| r.line.as_str()).collect();
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 8] =
            [&family_id, &device_id, &now_ms, &ids, &kinds, &ts, &hashes, &lines];
        let mut client = self.client().await?;
        if records.iter().all(|r| r.alert.is_none()) {
            // The common push is all new records without alerts: one plain INSERT, committed on
            // its own (a single statement is atomic), no transaction round trips and none of
            // ON CONFLICT's per-row speculative insertion. A stored id makes the whole
            // statement fail on the primary key, having written nothing; the general path
            // below then sorts duplicates from conflicts.
            let stmt = client.prepare_cached(&format!("INSERT INTO records {RECORDS_FROM_UNNEST}")).await?;
            match client.execute(&stmt, &params).await {
                Ok(_) => return Ok(PushResult { outcomes: vec![PushOutcome::Accepted; records.len()], alerts: Vec::new() }),
                Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let tx = client.transaction().await?;
        let stmt = tx
            .prepare_cached(&format!("INSERT INTO records {RECORDS_FROM_UNNEST} ON CONFLICT DO NOTHING RETURNING id"))
            .await?;
        let inserted: std::collections::HashSet<Uuid> = tx
            .query(&stmt, &params)
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
        let outcomes = classify_skipped(&tx, family_id, records, &inserted).await?;
        // The change feed is keyed by the family's text id, like every table but `records`.
        let family = family_id.to_string();
        let mut alerts = Vec::new();
        for (record, outcome) in records.iter().zip(&outcomes) {
            if let (PushOutcome::Accepted, Some(alert)) = (outcome, &record.alert) {
                if alerts.is_empty() {
                    lock_family_feed(&tx, &family).await?;
                }
                let change = insert_change(&tx, &family, ChangeKind::Alert, &record.id.to_string(), alert, now_ms).await?;
                let notice = format!("{} {family_id} {}", self.origin, change.seq);
                tx.execute("SELECT pg_notify($1, $2)", &[&ALERT_CHANNEL, &notice]).await?;
                alerts.push(change);
            }
        }
        tx.commit().await?;
        Ok(PushResult { outcomes, alerts })
    }

    async fn records(&self, family_id: Uuid, after_ts_ms: i64, limit: u32) -> Result<Vec<StoredRecord>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, device_id, kind, ts_ms, line FROM records WHERE family_id = $1 AND ts_ms > $2
                 ORDER BY ts_ms, id LIMIT $3",
                &[&family_id, &after_ts_ms, &i64::from(limit)],
            )
            .await?;
        Ok(rows.iter().map(row_to_record).collect())
    }

    async fn records_by_kind(
        &self,
        family_id: Uuid,
        kinds: &[&str],
        after: Option<(i64, Uuid)>,
        limit: u32,
    ) -> Result<Vec<StoredRecord>> {
        // Before every record when absent: no stored record has ts_ms = i64::MIN.
        let (after_ts, after_id) = after.unwrap_or((i64::MIN, Uuid::nil()));
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, device_id, kind, ts_ms, line FROM records
                 WHERE family_id = $1 AND kind = ANY($2) AND (ts_ms, id) > ($3, $4)
                 ORDER BY ts_ms, id LIMIT $5",
                &[&family_id, &kinds, &after_ts, &after_id, &i64::from(limit)],
            )
            .await?;
        Ok(rows.iter().map(row_to_record).collect())
    }

    async fn alerts_from_other_processes(&self) -> Result<Option<futures_util::stream::BoxStream<'static, AlertNotice>>> {
        let (sender, receiver) = mpsc::channel(1024);
        // Listening before this returns: a server that has started serving already hears the
        // other processes' alerts. A failure here is retried in the background.
        let first = AlertListener::connect(&self.config).await;
        tokio::spawn(listen_for_alerts(self.config.clone(), self.origin, sender, first));
        let notices = futures_util::stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|notice| (notice, receiver))
        });
        Ok(Some(notices.boxed()))
    }

    async fn count_records(&self, family_id: Uuid) -> Result<u64> {
        let row = self
            .client()
            .await?
            .query_one("SELECT COUNT(*) FROM records WHERE family_id = $1", &[&family_id])
            .await?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    async fn append_change(
        &self,
        family_id: Uuid,
        kind: ChangeKind,
        item_id: &str,
        body: &serde_json::Value,
        now_ms: i64,
    ) -> Result<Change> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let family = family_id.to_string();
        lock_family_feed(&tx, &family).await?;
        let change = insert_change(&tx, &family, kind, item_id, &body.to_string(), now_ms).await?;
        tx.commit().await?;
        Ok(change)
    }

    async fn pull_changes(&self, family_id: Uuid, after_seq: i64, limit: u32) -> Result<Vec<Change>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT seq, kind, item_id, body, created_at_ms FROM changes WHERE family_id = $1 AND seq > $2
                 ORDER BY seq LIMIT $3",
                &[&family_id.to_string(), &after_seq, &i64::from(limit)],
            )
            .await?;
        rows.iter().map(row_to_change).collect()
    }

    async fn record_feedback(&self, family_id: Uuid, feedback: Feedback, now_ms: i64) -> Result<FeedbackResult> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let family = family_id.to_string();
        let rec = feedback.recommendation_id.to_string();
        let known = tx
            .query_opt(
                "SELECT 1 FROM changes WHERE family_id = $1 AND kind = 'recommendation' AND item_id = $2 LIMIT 1",
                &[&family, &rec],
            )
            .await?;
        if known.is_none() {
            return Ok(FeedbackResult::UnknownRecommendation);
        }
        // The feed lock also serialises feedback on this family, so the compare-and-set is safe.
        lock_family_feed(&tx, &family).await?;
        let stored = tx
            .query_opt(
                "SELECT device_id, value, device_ts_ms FROM feedback WHERE family_id = $1 AND recommendation_id = $2",
                &[&family, &rec],
            )
            .await?;
        let stored = stored
            .map(|row| super::feedback(feedback.recommendation_id, row.get(0), i64::from(row.get::<_, i16>(1)), row.get(2)))
            .transpose()?;
        if let Some(old) = stored.filter(|old| !feedback.wins_over(old)) {
            return Ok(FeedbackResult::Recorded { applied: false, current: old, ack: None });
        }
        tx.execute(
            "INSERT INTO feedback (family_id, recommendation_id, device_id, value, device_ts_ms, received_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (family_id, recommendation_id) DO UPDATE SET device_id = excluded.device_id,
               value = excluded.value, device_ts_ms = excluded.device_ts_ms, received_at_ms = excluded.received_at_ms",
            &[&family, &rec, &feedback.device_id.to_string(), &i16::from(feedback.value), &feedback.device_ts_ms, &now_ms],
        )
        .await?;
        let ack = insert_change(&tx, &family, ChangeKind::FeedbackAck, &rec, &feedback_ack_body(&feedback), now_ms).await?;
        tx.commit().await?;
        Ok(FeedbackResult::Recorded { applied: true, current: feedback, ack: Some(ack) })
    }

    async fn enqueue_job(&self, kind: &str, family_id: Option<Uuid>, payload: &str, run_after_ms: i64) -> Result<i64> {
        let row = self
            .client()
            .await?
            .query_one(
                "INSERT INTO jobs (kind, family_id, payload, run_after_ms) VALUES ($1, $2, $3, $4) RETURNING id",
                &[&kind, &family_id.map(|f| f.to_string()), &payload, &run_after_ms],
            )
            .await?;
        Ok(row.get(0))
    }

    async fn enqueue_job_once(
        &self,
        kind: &str,
        family_id: Option<Uuid>,
        dedup_key: &str,
        payload: &str,
        run_after_ms: i64,
    ) -> Result<Option<i64>> {
        let row = self
            .client()
            .await?
            .query_opt(
                "INSERT INTO jobs (kind, family_id, payload, run_after_ms, dedup_key) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT DO NOTHING RETURNING id",
                &[&kind, &family_id.map(|f| f.to_string()), &payload, &run_after_ms, &dedup_key],
            )
            .await?;
        Ok(row.map(|row| row.get(0)))
    }

    async fn claim_job(&self, worker: &str, kinds: &[&str], now_ms: i64, lease_ms: i64) -> Result<Option<Job>> {
        // The inner SELECT locks the row it picks and skips rows other transactions hold, so
        // concurrent workers (in any number of server processes) each get a different job.
        let row = self
            .client()
            .await?
            .query_opt(
                "UPDATE jobs SET state = 'running', locked_by = $1, locked_until_ms = $2 + $3, attempts = attempts + 1
                 WHERE id = (SELECT id FROM jobs
                             WHERE ((state = 'queued' AND run_after_ms <= $2)
                                    OR (state = 'running' AND locked_until_ms < $2))
                               AND kind = ANY($4)
                             ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
                 RETURNING id, kind, family_id, payload, attempts",
                &[&worker, &now_ms, &lease_ms, &kinds],
            )
            .await?;
        row.map(|row| job(row.get(0), row.get(1), row.get(2), row.get(3), row.get(4))).transpose()
    }

    async fn renew_job(&self, job_id: i64, worker: &str, now_ms: i64, lease_ms: i64) -> Result<bool> {
        let changed = self
            .client()
            .await?
            .execute(
                "UPDATE jobs SET locked_until_ms = $3::BIGINT + $4::BIGINT WHERE id = $1 AND state = 'running' AND locked_by = $2",
                &[&job_id, &worker, &now_ms, &lease_ms],
            )
            .await?;
        Ok(changed == 1)
    }

    async fn finish_job(
        &self,
        job_id: i64,
        worker: &str,
        outcome: std::result::Result<(), String>,
        now_ms: i64,
    ) -> Result<bool> {
        let client = self.client().await?;
        let changed = match outcome {
            Ok(()) => {
                client
                    .execute(
                        "UPDATE jobs SET state = 'done', finished_at_ms = $3, locked_by = NULL, locked_until_ms = NULL
                         WHERE id = $1 AND state = 'running' AND locked_by = $2",
                        &[&job_id, &worker, &now_ms],
                    )
                    .await?
            }
            Err(reason) => {
                client
                    .execute(
                        "UPDATE jobs SET last_error = $3::text, locked_by = NULL, locked_until_ms = NULL,
                           state = CASE WHEN attempts >= $5::int THEN 'failed' ELSE 'queued' END,
                           finished_at_ms = CASE WHEN attempts >= $5::int THEN $4::bigint ELSE NULL END,
                           run_after_ms = $4::bigint + 1000 * (1::bigint << LEAST(attempts, 10))
                         WHERE id = $1 AND state = 'running' AND locked_by = $2",
                        &[&job_id, &worker, &reason, &now_ms, &MAX_JOB_ATTEMPTS],
                    )
                    .await?
            }
        };
        Ok(changed == 1)
    }

    async fn job_counts(&self) -> Result<JobCounts> {
        let rows = self.client().await?.query("SELECT state, COUNT(*) FROM jobs GROUP BY state", &[]).await?;
        let mut counts = JobCounts::default();
        for row in rows {
            counts.add(row.get(0), row.get(1))?;
        }
        Ok(counts)
    }
}

/// A connection that has run `LISTEN` on [`ALERT_CHANNEL`], and the payloads its driver receives.
struct AlertListener {
    client: tokio_postgres::Client,
    payloads: mpsc::UnboundedReceiver<String>,
    driver: tokio::task::JoinHandle<()>,
}

impl AlertListener {
    async fn connect(config: &tokio_postgres::Config) -> Result<AlertListener> {
        let (client, mut connection) = config.connect(NoTls).await?;
        let (sender, payloads) = mpsc::unbounded_channel();
        // A connection delivers notifications only while polled, so it gets its own task.
        let driver = tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(AsyncMessage::Notification(notification)) => {
                        if sender.send(notification.payload().to_owned()).is_err() {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(%error, "alert listener connection ended");
                        break;
                    }
                }
            }
        });
        client.batch_execute(&format!("LISTEN {ALERT_CHANNEL}")).await?;
        Ok(AlertListener { client, payloads, driver })
    }

    /// Forwards other processes' notices until the connection or the receiver ends.
    async fn forward(mut self, origin: Uuid, notices: &mpsc::Sender<AlertNotice>) {
        loop {
            let payload = tokio::select! {
                () = notices.closed() => break,
                payload = self.payloads.recv() => payload,
            };
            let Some(payload) = payload else { break };
            match parse_alert_notice(&payload) {
                Some((from, _)) if from == origin => {}
                Some((_, notice)) => {
                    if notices.send(notice).await.is_err() {
                        break;
                    }
                }
                None => tracing::warn!(payload, "unreadable alert notice ignored"),
            }
        }
        drop(self.client);
        self.driver.abort();
    }
}

/// Forwards notices from the `first` connection, then from each new one, until `notices` is
/// dropped, reconnecting with backoff when the connection is lost. Alerts committed while it
/// is down are not replayed here: parents find them through pull, as after any gap.
async fn listen_for_alerts(
    config: tokio_postgres::Config,
    origin: Uuid,
    notices: mpsc::Sender<AlertNotice>,
    first: Result<AlertListener>,
) {
    let mut connected = first;
    let mut delay = Duration::from_millis(250);
    loop {
        match connected {
            Ok(listener) => {
                listener.forward(origin, &notices).await;
                delay = Duration::from_millis(250);
            }
            Err(error) => tracing::warn!(%error, "alert listener cannot connect; retrying"),
        }
        tokio::select! {
            () = notices.closed() => break,
            () = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(10));
        connected = AlertListener::connect(&config).await;
    }
}

/// "origin family_id seq" → the origin and the notice.
fn parse_alert_notice(payload: &str) -> Option<(Uuid, AlertNotice)> {
    let mut parts = payload.split(' ');
    let origin = Uuid::parse_str(parts.next()?).ok()?;
    let family_id = Uuid::parse_str(parts.next()?).ok()?;
    let seq = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((origin, AlertNotice { family_id, seq }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_notices_parse_only_in_their_exact_shape() {
        let (origin, family) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let notice = parse_alert_notice(&format!("{origin} {family} 42")).unwrap();
        assert_eq!(notice, (origin, AlertNotice { family_id: family, seq: 42 }));
        for bad in ["", "x y 1", &format!("{origin} {family}"), &format!("{origin} {family} 4 2"), &format!("{origin} {family} n")] {
            assert_eq!(parse_alert_notice(bad), None, "{bad:?}");
        }
    }
}
