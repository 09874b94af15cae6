//! The sync protocol (`docs/sync-protocol.md`): push records, pull changes, parent feedback.

use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use migru_core::event::{self, Body, Record};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{Device, Parent, sha256};
use crate::error::{Error, Result};
use crate::state::AppState;
use crate::storage::{Change, ChangeKind, Feedback, FeedbackResult, FamilySettings, IncomingRecord, PushOutcome};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sync/push", post(push))
        .route("/v1/sync/pull", get(pull))
        .route("/v1/feedback", post(feedback))
}

/// A batch of records from the device's outbox, each with its stable `id`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    /// Records in the JSONL contract's object form (`docs/record.schema.json`); `id` required.
    #[schema(value_type = Vec<Object>)]
    pub records: Vec<serde_json::Value>,
}

/// What became of each record. Accepted and duplicate records may leave the outbox; refused ones
/// are refused for good (the same bytes will be refused again).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct PushResponse {
    pub accepted: Vec<Uuid>,
    pub duplicate: Vec<Uuid>,
    pub refused: Vec<Refusal>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Refusal {
    /// Position in the request's `records`.
    pub index: usize,
    /// The record's id when it had a readable one.
    pub id: Option<Uuid>,
    /// `invalid_record`, `missing_id`, `text_not_shared`, `ts_out_of_range` or `id_conflict`.
    pub code: String,
    pub reason: String,
}

impl Refusal {
    fn new(index: usize, id: Option<Uuid>, code: &str, reason: impl Into<String>) -> Self {
        Refusal { index, id, code: code.to_owned(), reason: reason.into() }
    }
}

/// Stores each record once; refuses bad ones one by one, never the whole batch for one bad record.
#[utoipa::path(post, path = "/v1/sync/push", request_body = PushRequest, security(("bearer" = [])),
    responses((status = 200, body = PushResponse), (status = 400), (status = 401), (status = 413), (status = 426), (status = 429)))]
async fn push(
    State(state): State<AppState>,
    Device(device): Device,
    body: Result<Json<PushRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<PushResponse>> {
    let Json(body) = body?;
    if body.records.len() > state.limits.max_records_per_batch {
        return Err(Error::PayloadTooLarge(format!(
            "{} records in one push; at most {} allowed",
            body.records.len(),
            state.limits.max_records_per_batch
        )));
    }
    let settings = device.settings;
    let now_ms = state.clock.now_ms();
    let mut response = PushResponse::default();
    let mut incoming = Vec::with_capacity(body.records.len());
    let mut positions = Vec::with_capacity(body.records.len());
    for (index, value) in body.records.into_iter().enumerate() {
        match validate(value, settings, &state, now_ms) {
            Ok(record) => {
                positions.push(index);
                incoming.push(record);
            }
            Err(refusal) => response.refused.push(Refusal { index, ..refusal }),
        }
    }
    let result = state.store.push_records(device.family_id, device.device_id, &incoming, now_ms).await?;
    for ((record, outcome), index) in incoming.iter().zip(&result.outcomes).zip(positions) {
        match outcome {
            PushOutcome::Accepted => response.accepted.push(record.id),
            PushOutcome::Duplicate => response.duplicate.push(record.id),
            PushOutcome::Conflict => response.refused.push(Refusal::new(
                index,
                Some(record.id),
                "id_conflict",
                "a different record with this id is already stored; the stored one is kept",
            )),
        }
    }
    response.refused.sort_by_key(|r| r.index);
    let analysed = |kind: &str| crate::causal::family::INPUT_KINDS.contains(&kind);
    let new_input = incoming
        .iter()
        .zip(&result.outcomes)
        .any(|(record, outcome)| *outcome == PushOutcome::Accepted && analysed(&record.kind));
    if new_input {
        state.analysis.after_push(&*state.store, device.family_id, state.clock.now_ms()).await;
    }
    for alert in result.alerts {
        state.alerts.publish(device.family_id, &alert);
    }
    tracing::info!(
        accepted = response.accepted.len(),
        duplicate = response.duplicate.len(),
        refused = response.refused.len(),
        "push"
    );
    Ok(Json(response))
}

/// Checks one record against the contract and this family's rules; `index` is filled by the caller.
fn validate(
    value: serde_json::Value,
    settings: FamilySettings,
    state: &AppState,
    now_ms: i64,
) -> std::result::Result<IncomingRecord, Refusal> {
    let serde_json::Value::Object(fields) = value else {
        return Err(Refusal::new(0, None, "invalid_record", "a record must be a JSON object"));
    };
    let claimed_id = fields.get("id").and_then(|v| v.as_str()).and_then(|s| Uuid::parse_str(s).ok());
    let record = event::jsonl::decode_object(fields)
        .map_err(|e| Refusal::new(0, claimed_id, "invalid_record", e.reason().to_owned()))?;
    let id = record.id.ok_or_else(|| Refusal::new(0, None, "missing_id", "sync needs a stable `id` on every record"))?;
    if !settings.share_text && record.body.text().is_some() {
        return Err(Refusal::new(
            0,
            Some(id),
            "text_not_shared",
            "this family has not opted in to sharing the child's words; strip `text` before pushing",
        ));
    }
    let ts_ms = record.ts_utc_ms();
    if ts_ms > now_ms + state.limits.max_future_ms || ts_ms < now_ms - state.limits.max_past_ms {
        return Err(Refusal::new(
            0,
            Some(id),
            "ts_out_of_range",
            format!(
                "ts is more than {} h ahead of or {} days behind the server's clock",
                state.limits.max_future_ms / 3_600_000,
                state.limits.max_past_ms / 86_400_000
            ),
        ));
    }
    let line = event::encode_line(&record);
    Ok(IncomingRecord {
        id,
        kind: record.kind().as_str().to_owned(),
        ts_ms,
        content_hash: sha256(line.as_bytes()),
        alert: alert_for(&record).map(|a| a.to_string()),
        line,
    })
}

/// Intensity at which a symptom alerts the parents at once.
pub const RED_FLAG_INTENSITY: u8 = 8;

/// The alert a record raises, if any: a red-flag symptom (intensity ≥ 8 or marked
/// `"red_flag"` naming a family, or `true`) or a stress anomaly the child's device detected (`"anomaly": "stress"`).
/// The alert never carries the child's words.
pub fn alert_for(record: &Record) -> Option<serde_json::Value> {
    let ts = event::format_ts(&record.ts);
    // The phone's classifier names the red-flag family (`"red_flag": "thunderclap"`); `true` is
    // accepted from clients that only know that one fired.
    let marked_red = match record.extra.get("red_flag") {
        Some(serde_json::Value::String(family)) => !family.is_empty(),
        Some(serde_json::Value::Bool(flag)) => *flag,
        _ => false,
    };
    if let Body::Symptom { intensity, .. } = record.body
        && (intensity >= RED_FLAG_INTENSITY || marked_red)
    {
        return Some(serde_json::json!({ "type": "red_flag_symptom", "intensity": intensity, "ts": ts }));
    }
    if record.extra.get("anomaly").and_then(|v| v.as_str()) == Some("stress") {
        return Some(serde_json::json!({ "type": "stress_anomaly", "kind": record.kind().as_str(), "ts": ts }));
    }
    None
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PullQuery {
    /// The `cursor` of the previous page; absent for the beginning.
    pub cursor: Option<String>,
    /// Page size (default and maximum 500).
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PullResponse {
    pub changes: Vec<ChangeOut>,
    /// Opaque; pass it back to continue after the last change of this page.
    pub cursor: String,
    /// Whether another page is ready now.
    pub has_more: bool,
    /// The server sequence number of the last change of this page (the cursor's position; the
    /// request's position when the page is empty). Never decreases for a family.
    pub high_water_seq: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChangeOut {
    pub kind: ChangeKind,
    pub id: String,
    #[schema(value_type = Object)]
    pub body: serde_json::Value,
    pub created_at_ms: i64,
    /// The server's sequence number of this change within the family: strictly increasing in
    /// pull order, the same when the change is pulled again.
    pub seq: i64,
}

impl From<Change> for ChangeOut {
    fn from(change: Change) -> Self {
        ChangeOut {
            kind: change.kind,
            id: change.item_id,
            body: change.body,
            created_at_ms: change.created_at_ms,
            seq: change.seq,
        }
    }
}

const CURSOR_PREFIX: &str = "c1.";

pub fn encode_cursor(seq: i64) -> String {
    format!("{CURSOR_PREFIX}{seq}")
}

pub fn decode_cursor(cursor: &str) -> Result<i64> {
    cursor
        .strip_prefix(CURSOR_PREFIX)
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| *n >= 0)
        .ok_or_else(|| Error::BadRequest("cursor: not a cursor this server issued".into()))
}

/// Changes for the caller's family since the cursor, oldest first.
#[utoipa::path(get, path = "/v1/sync/pull", params(PullQuery), security(("bearer" = [])),
    responses((status = 200, body = PullResponse), (status = 400), (status = 401), (status = 426), (status = 429)))]
async fn pull(
    State(state): State<AppState>,
    Device(device): Device,
    query: Result<Query<PullQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<PullResponse>> {
    let Query(query) = query.map_err(|e| Error::BadRequest(format!("query: {}", e.body_text())))?;
    let after = query.cursor.as_deref().map(decode_cursor).transpose()?.unwrap_or(0);
    let limit = query.limit.unwrap_or(state.limits.max_pull_page).clamp(1, state.limits.max_pull_page);
    // One extra row tells whether another page exists.
    let mut changes = state.store.pull_changes(device.family_id, after, limit + 1).await?;
    let has_more = changes.len() > limit as usize;
    changes.truncate(limit as usize);
    let last = changes.last().map_or(after, |c| c.seq);
    Ok(Json(PullResponse {
        changes: changes.into_iter().map(Into::into).collect(),
        cursor: encode_cursor(last),
        has_more,
        high_water_seq: last,
    }))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Thumb {
    Up,
    Down,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackRequest {
    pub recommendation_id: Uuid,
    pub value: Thumb,
    /// When the parent tapped, by the device's clock (RFC 3339 with offset): the LWW timestamp.
    pub device_ts: String,
    /// For a recommendation the phone generated: what it showed and from which A/B arm.
    #[serde(default)]
    pub served: Option<crate::training::ab::ServedOnPhone>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FeedbackResponse {
    /// Whether this feedback is now the one in force (false: a later one from another device won).
    pub applied: bool,
    pub value: Thumb,
    pub device_id: Uuid,
    pub device_ts_ms: i64,
}

/// A parent's thumbs up or down; last writer (by device time, then device id) wins.
#[utoipa::path(post, path = "/v1/feedback", request_body = FeedbackRequest, security(("bearer" = [])),
    responses((status = 200, body = FeedbackResponse), (status = 400), (status = 401), (status = 403), (status = 404)))]
async fn feedback(
    State(state): State<AppState>,
    Parent(parent): Parent,
    body: Result<Json<FeedbackRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<FeedbackResponse>> {
    let Json(body) = body?;
    let ts = event::jsonl::parse_ts(&body.device_ts).map_err(|e| Error::BadRequest(format!("device_ts: {e}")))?;
    let now_ms = state.clock.now_ms();
    let device_ts_ms = ts.timestamp_millis();
    if device_ts_ms > now_ms + state.limits.max_future_ms || device_ts_ms < now_ms - state.limits.max_past_ms {
        return Err(Error::BadRequest("device_ts: too far from the server's clock".into()));
    }
    if let Some(served) = &body.served {
        served.validate().map_err(Error::BadRequest)?;
        crate::training::ab::record_phone_served(state.store.as_ref(), parent.family_id, body.recommendation_id, served, now_ms).await?;
    }
    let value = if body.value == Thumb::Up { 1 } else { -1 };
    let feedback =
        Feedback { recommendation_id: body.recommendation_id, device_id: parent.device_id, value, device_ts_ms };
    let mut result = state.store.record_feedback(parent.family_id, feedback, now_ms).await?;
    if let (FeedbackResult::UnknownRecommendation, Some(served)) = (&result, &body.served) {
        // The served row exists (recorded above or by an earlier try) but its change does not:
        // a crash came between the two writes. Publish it now so the resent thumbs count.
        tracing::warn!(recommendation_id = %body.recommendation_id, "served recommendation without its change; publishing it");
        crate::training::ab::publish_phone_served(state.store.as_ref(), parent.family_id, body.recommendation_id, served, now_ms).await?;
        result = state.store.record_feedback(parent.family_id, feedback, now_ms).await?;
    }
    match result {
        FeedbackResult::UnknownRecommendation => Err(Error::NotFound),
        FeedbackResult::Recorded { applied, current, .. } => {
            queue_retrain_if_due(&state, parent.family_id, now_ms).await;
            Ok(Json(FeedbackResponse {
            applied,
            value: if current.value > 0 { Thumb::Up } else { Thumb::Down },
            device_id: current.device_id,
            device_ts_ms: current.device_ts_ms,
        }))
        }
    }
}

/// Every N new feedbacks a family's adapter is retrained in the background. A failure to queue
/// is logged, never the parent's problem: the next feedback tries again.
async fn queue_retrain_if_due(state: &AppState, family_id: uuid::Uuid, now_ms: i64) {
    let Some(settings) = &state.training else { return };
    match crate::training::job::on_feedback(state.store.as_ref(), settings, family_id, now_ms).await {
        Ok(Some(job_id)) => tracing::info!(job_id, %family_id, "retrain queued"),
        Ok(None) => {}
        Err(error) => tracing::warn!(%error, %family_id, "could not queue a retrain"),
    }
}
