//! The scheduled per-family causal analysis (issue 7): load the family's synced records of the
//! kinds the daily table reads, build each child's per-day table, estimate behind the honesty
//! gate (`causal::family`), and publish each result to the family's change feed as an
//! `analysis_result`, which parents' devices receive on their next pull.
//!
//! Records are read in keyset pages; the estimation is CPU-bound and runs on the blocking pool so
//! it never stalls request handling. Records that no longer decode (a newer client's kind) are
//! skipped and counted, never fatal.

use migru_core::event::{Record, jsonl};

use super::JobError;
use crate::causal::family::{self, FamilyResult};
use crate::state::AppState;
use crate::storage::{ChangeKind, Job};

/// Records per page read from the database.
const PAGE: u32 = 5_000;

pub async fn run(state: &AppState, job: &Job) -> Result<(), JobError> {
    let family_id = job.family_id.ok_or_else(|| JobError::BadJob {
        id: job.id,
        kind: job.kind.clone(),
        reason: "no family".into(),
    })?;
    let (records, undecodable) = load(state, family_id).await?;
    let n_records = records.len();
    let results = tokio::task::spawn_blocking(move || family::analyze_family(&records))
        .await
        .map_err(|e| JobError::Task(e.to_string()))??;
    // The analysis may have outlived the lease; a worker that lost it publishes nothing.
    super::ensure_lease()?;
    let now_ms = state.clock.now_ms();
    for result in &results {
        let body = body(result, now_ms);
        state.store.append_change(family_id, ChangeKind::AnalysisResult, &result.item_id, &body, now_ms).await?;
    }
    tracing::info!(n_records, undecodable, published = results.len(), "family analysis published");
    Ok(())
}

async fn load(state: &AppState, family_id: uuid::Uuid) -> Result<(Vec<Record>, usize), JobError> {
    let (mut records, mut undecodable, mut after) = (Vec::new(), 0usize, None);
    loop {
        let page = state.store.records_by_kind(family_id, family::INPUT_KINDS, after, PAGE).await?;
        for stored in &page {
            match jsonl::decode_line(stored.line.as_bytes()) {
                Ok(record) => records.push(record),
                Err(_) => undecodable += 1,
            }
        }
        match page.last() {
            Some(last) if page.len() == PAGE as usize => after = Some((last.ts_ms, last.id)),
            _ => break,
        }
    }
    Ok((records, undecodable))
}

/// The change body parents' devices receive (a contract: keys are only ever added).
fn body(result: &FamilyResult, now_ms: i64) -> serde_json::Value {
    let mut body = serde_json::to_value(result).unwrap_or_else(|_| serde_json::json!({}));
    if let Some(object) = body.as_object_mut() {
        object.insert("type".into(), "causal_effect".into());
        object.insert("computed_at_ms".into(), now_ms.into());
    }
    body
}
