//! `TrainingStore` on PostgreSQL.

use uuid::Uuid;

use super::PostgresStore;
use crate::storage::training::*;
use crate::storage::{Job, Result, parse_uuid};

/// Advisory lock key prefix for assigning adapter versions ("MGRU" + 2).
const ADAPTER_LOCK: i64 = 0x4D47_5255_0002;

fn adapter_meta(row: &tokio_postgres::Row) -> Result<AdapterMeta> {
    Ok(AdapterMeta {
        version: row.get(0),
        model_version: i32::try_from(row.get::<_, i64>(1)).map_err(|_| crate::storage::StorageError::Corrupt("adapter model_version out of range".into()))?,
        sha256: row.get(2),
        size_bytes: row.get(3),
        feedback_count: row.get(4),
        state: AdapterState::parse(row.get(5))?,
        reason: row.get(6),
        change_seq: row.get(7),
        created_at_ms: row.get(8),
    })
}

#[async_trait::async_trait]
impl TrainingStore for PostgresStore {
    async fn record_served(&self, family_id: Uuid, s: &ServedRecommendation) -> Result<bool> {
        let n = self
            .client()
            .await?
            .execute(
                "INSERT INTO served_recommendations (family_id, recommendation_id, prompt, shown_text, arm, adapter_version, served_at_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                &[&family_id.to_string(), &s.recommendation_id.to_string(), &s.prompt, &s.text, &s.arm.as_str(), &s.adapter_version, &s.served_at_ms],
            )
            .await?;
        Ok(n == 1)
    }

    async fn feedback_examples(&self, family_id: Uuid) -> Result<Vec<FeedbackExample>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT s.recommendation_id, s.prompt, s.shown_text, s.arm, s.adapter_version, f.value::BIGINT, f.device_ts_ms
                 FROM served_recommendations s JOIN feedback f
                   ON f.family_id = s.family_id AND f.recommendation_id = s.recommendation_id
                 WHERE s.family_id = $1 ORDER BY f.device_ts_ms, s.recommendation_id",
                &[&family_id.to_string()],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(FeedbackExample {
                    recommendation_id: parse_uuid(r.get(0))?,
                    prompt: r.get(1),
                    text: r.get(2),
                    arm: parse_arm(r.get(3))?,
                    adapter_version: r.get(4),
                    value: r.get::<_, i64>(5).signum() as i8,
                    device_ts_ms: r.get(6),
                })
            })
            .collect()
    }

    async fn arm_feedback(&self, family_id: Option<Uuid>) -> Result<Vec<ArmFeedback>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT s.family_id, s.arm, s.adapter_version, f.value::BIGINT
                 FROM served_recommendations s JOIN feedback f
                   ON f.family_id = s.family_id AND f.recommendation_id = s.recommendation_id
                 WHERE $1::TEXT IS NULL OR s.family_id = $1 ORDER BY s.family_id, f.device_ts_ms",
                &[&family_id.map(|f| f.to_string())],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ArmFeedback {
                    family_id: parse_uuid(r.get(0))?,
                    arm: parse_arm(r.get(1))?,
                    adapter_version: r.get(2),
                    value: r.get::<_, i64>(3).signum() as i8,
                })
            })
            .collect()
    }

    async fn insert_adapter(&self, family_id: Uuid, a: &NewAdapter, now_ms: i64) -> Result<AdapterMeta> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let family = family_id.to_string();
        // One version sequence per family: serialise inserts for this family.
        tx.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", &[&((ADAPTER_LOCK & 0x7fff_ffff) as i32), &family]).await?;
        let version: i64 =
            tx.query_one("SELECT COALESCE(MAX(version), 0) + 1 FROM adapters WHERE family_id = $1", &[&family]).await?.get(0);
        tx.execute("UPDATE adapters SET state = 'superseded' WHERE family_id = $1 AND state = 'active'", &[&family]).await?;
        let size = a.bytes.len() as i64;
        tx.execute(
            "INSERT INTO adapters (family_id, version, model_version, sha256, size_bytes, data, feedback_count, state, created_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8)",
            &[&family, &version, &i64::from(a.model_version), &a.sha256, &size, &a.bytes, &a.feedback_count, &now_ms],
        )
        .await?;
        tx.commit().await?;
        Ok(AdapterMeta {
            version,
            model_version: a.model_version,
            sha256: a.sha256.clone(),
            size_bytes: size,
            feedback_count: a.feedback_count,
            state: AdapterState::Active,
            reason: None,
            change_seq: None,
            created_at_ms: now_ms,
        })
    }

    async fn adapters(&self, family_id: Uuid) -> Result<Vec<AdapterMeta>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT version, model_version, sha256, size_bytes, feedback_count, state, reason, change_seq, created_at_ms
                 FROM adapters WHERE family_id = $1 ORDER BY version DESC",
                &[&family_id.to_string()],
            )
            .await?;
        rows.iter().map(adapter_meta).collect()
    }

    async fn adapter_bytes(&self, family_id: Uuid, version: i64) -> Result<Option<Vec<u8>>> {
        let row = self
            .client()
            .await?
            .query_opt("SELECT data FROM adapters WHERE family_id = $1 AND version = $2", &[&family_id.to_string(), &version])
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn set_adapter_published(&self, family_id: Uuid, version: i64, change_seq: i64) -> Result<()> {
        self.client()
            .await?
            .execute(
                "UPDATE adapters SET change_seq = $3 WHERE family_id = $1 AND version = $2",
                &[&family_id.to_string(), &version, &change_seq],
            )
            .await?;
        Ok(())
    }

    async fn set_adapter_state(&self, family_id: Uuid, version: i64, state: AdapterState, reason: Option<&str>) -> Result<()> {
        self.client()
            .await?
            .execute(
                "UPDATE adapters SET state = $3, reason = $4 WHERE family_id = $1 AND version = $2",
                &[&family_id.to_string(), &version, &state.as_str(), &reason],
            )
            .await?;
        Ok(())
    }

    async fn open_job(&self, kind: &str, family_id: Uuid) -> Result<Option<i64>> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT id FROM jobs WHERE kind = $1 AND family_id = $2 AND state IN ('queued', 'running') ORDER BY id LIMIT 1",
                &[&kind, &family_id.to_string()],
            )
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn claim_job_by_id(&self, job_id: i64, worker: &str, now_ms: i64, lease_ms: i64) -> Result<Option<Job>> {
        let row = self
            .client()
            .await?
            .query_opt(
                "UPDATE jobs SET state = 'running', locked_by = $2, locked_until_ms = $3 + $4, attempts = attempts + 1
                 WHERE id = (SELECT id FROM jobs WHERE id = $1
                               AND (state = 'queued' OR (state = 'running' AND locked_until_ms < $3))
                             FOR UPDATE SKIP LOCKED)
                 RETURNING id, kind, family_id, payload, attempts",
                &[&job_id, &worker, &now_ms, &lease_ms],
            )
            .await?;
        row.map(|row| {
            Ok(Job {
                id: row.get(0),
                kind: row.get(1),
                family_id: row.get::<_, Option<&str>>(2).map(parse_uuid).transpose()?,
                payload: row.get(3),
                attempts: row.get(4),
            })
        })
        .transpose()
    }
}
