//! `TrainingStore` on SQLite.

use rusqlite::{OptionalExtension, params};
use uuid::Uuid;

use super::SqliteStore;
use crate::storage::training::*;
use crate::storage::{Job, Result, parse_uuid};

fn opt_uuid(family_id: Option<Uuid>) -> Option<String> {
    family_id.map(|f| f.to_string())
}

type AdapterRow = (i64, i32, String, i64, i64, String, Option<String>, Option<i64>, i64);

fn adapter_meta(row: AdapterRow) -> Result<AdapterMeta> {
    let (version, model_version, sha256, size_bytes, feedback_count, state, reason, change_seq, created_at_ms) = row;
    Ok(AdapterMeta { version, model_version, sha256, size_bytes, feedback_count, state: AdapterState::parse(&state)?, reason, change_seq, created_at_ms })
}

#[async_trait::async_trait]
impl TrainingStore for SqliteStore {
    async fn record_served(&self, family_id: Uuid, served: &ServedRecommendation) -> Result<bool> {
        let s = served.clone();
        self.write(move |tx| {
            let n = tx.execute(
                "INSERT INTO served_recommendations (family_id, recommendation_id, prompt, shown_text, arm, adapter_version, served_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
                params![family_id.to_string(), s.recommendation_id.to_string(), s.prompt, s.text, s.arm.as_str(), s.adapter_version, s.served_at_ms],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn feedback_examples(&self, family_id: Uuid) -> Result<Vec<FeedbackExample>> {
        self.call(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT s.recommendation_id, s.prompt, s.shown_text, s.arm, s.adapter_version, f.value, f.device_ts_ms
                 FROM served_recommendations s JOIN feedback f
                   ON f.family_id = s.family_id AND f.recommendation_id = s.recommendation_id
                 WHERE s.family_id = ?1 ORDER BY f.device_ts_ms, s.recommendation_id",
            )?;
            let rows = stmt.query_map(params![family_id.to_string()], |r| {
                Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get::<_, String>(3)?, r.get(4)?, r.get::<_, i64>(5)?, r.get(6)?))
            })?;
            rows.map(|row| {
                let (id, prompt, text, arm, adapter_version, value, device_ts_ms) = row?;
                Ok(FeedbackExample {
                    recommendation_id: parse_uuid(&id)?,
                    prompt,
                    text,
                    arm: parse_arm(&arm)?,
                    adapter_version,
                    value: value.signum() as i8,
                    device_ts_ms,
                })
            })
            .collect()
        })
        .await
    }

    async fn arm_feedback(&self, family_id: Option<Uuid>) -> Result<Vec<ArmFeedback>> {
        self.call(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT s.family_id, s.arm, s.adapter_version, f.value
                 FROM served_recommendations s JOIN feedback f
                   ON f.family_id = s.family_id AND f.recommendation_id = s.recommendation_id
                 WHERE ?1 IS NULL OR s.family_id = ?1 ORDER BY s.family_id, f.device_ts_ms",
            )?;
            let rows = stmt.query_map(params![opt_uuid(family_id)], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?, r.get::<_, i64>(3)?))
            })?;
            rows.map(|row| {
                let (family, arm, adapter_version, value) = row?;
                Ok(ArmFeedback { family_id: parse_uuid(&family)?, arm: parse_arm(&arm)?, adapter_version, value: value.signum() as i8 })
            })
            .collect()
        })
        .await
    }

    async fn insert_adapter(&self, family_id: Uuid, adapter: &NewAdapter, now_ms: i64) -> Result<AdapterMeta> {
        let a = adapter.clone();
        self.write(move |tx| {
            let family = family_id.to_string();
            let version: i64 =
                tx.query_row("SELECT COALESCE(MAX(version), 0) + 1 FROM adapters WHERE family_id = ?1", params![family], |r| r.get(0))?;
            tx.execute("UPDATE adapters SET state = 'superseded' WHERE family_id = ?1 AND state = 'active'", params![family])?;
            tx.execute(
                "INSERT INTO adapters (family_id, version, model_version, sha256, size_bytes, data, feedback_count, state, created_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'active', ?8)",
                params![family, version, a.model_version, a.sha256, a.bytes.len() as i64, a.bytes, a.feedback_count, now_ms],
            )?;
            Ok(AdapterMeta {
                version,
                model_version: a.model_version,
                sha256: a.sha256,
                size_bytes: a.bytes.len() as i64,
                feedback_count: a.feedback_count,
                state: AdapterState::Active,
                reason: None,
                change_seq: None,
                created_at_ms: now_ms,
            })
        })
        .await
    }

    async fn adapters(&self, family_id: Uuid) -> Result<Vec<AdapterMeta>> {
        self.call(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT version, model_version, sha256, size_bytes, feedback_count, state, reason, change_seq, created_at_ms
                 FROM adapters WHERE family_id = ?1 ORDER BY version DESC",
            )?;
            let rows = stmt.query_map(params![family_id.to_string()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?))
            })?;
            rows.map(|row| adapter_meta(row?)).collect()
        })
        .await
    }

    async fn adapter_bytes(&self, family_id: Uuid, version: i64) -> Result<Option<Vec<u8>>> {
        self.call(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT data FROM adapters WHERE family_id = ?1 AND version = ?2",
                    params![family_id.to_string(), version],
                    |r| r.get(0),
                )
                .optional()?)
        })
        .await
    }

    async fn set_adapter_published(&self, family_id: Uuid, version: i64, change_seq: i64) -> Result<()> {
        self.write(move |tx| {
            tx.execute(
                "UPDATE adapters SET change_seq = ?3 WHERE family_id = ?1 AND version = ?2",
                params![family_id.to_string(), version, change_seq],
            )?;
            Ok(())
        })
        .await
    }

    async fn set_adapter_state(&self, family_id: Uuid, version: i64, state: AdapterState, reason: Option<&str>) -> Result<()> {
        let reason = reason.map(str::to_owned);
        self.write(move |tx| {
            tx.execute(
                "UPDATE adapters SET state = ?3, reason = ?4 WHERE family_id = ?1 AND version = ?2",
                params![family_id.to_string(), version, state.as_str(), reason],
            )?;
            Ok(())
        })
        .await
    }

    async fn open_job(&self, kind: &str, family_id: Uuid) -> Result<Option<i64>> {
        let kind = kind.to_owned();
        self.call(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT id FROM jobs WHERE kind = ?1 AND family_id = ?2 AND state IN ('queued', 'running') ORDER BY id LIMIT 1",
                    params![kind, family_id.to_string()],
                    |r| r.get(0),
                )
                .optional()?)
        })
        .await
    }

    async fn claim_job_by_id(&self, job_id: i64, worker: &str, now_ms: i64, lease_ms: i64) -> Result<Option<Job>> {
        let worker = worker.to_owned();
        self.write(move |tx| {
            let row = tx
                .query_row(
                    "UPDATE jobs SET state = 'running', locked_by = ?2, locked_until_ms = ?3 + ?4, attempts = attempts + 1
                     WHERE id = ?1 AND (state = 'queued' OR (state = 'running' AND locked_until_ms < ?3))
                     RETURNING id, kind, family_id, payload, attempts",
                    params![job_id, worker, now_ms, lease_ms],
                    |r| Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get::<_, Option<String>>(2)?, r.get(3)?, r.get(4)?)),
                )
                .optional()?;
            row.map(|(id, kind, family, payload, attempts)| {
                Ok(Job { id, kind, family_id: family.as_deref().map(parse_uuid).transpose()?, payload, attempts })
            })
            .transpose()
        })
        .await
    }
}
