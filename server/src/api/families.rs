//! Families, pairing and devices: a parent creates a family, invites devices with one-time codes,
//! lists and revokes them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{self, Anonymous, Device, Parent};
use crate::error::{Error, Result};
use crate::state::AppState;
use crate::storage::{DeviceInfo, FamilySettings, NewDevice, Role};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/families", post(create_family))
        .route("/v1/pairing-codes", post(create_pairing_code))
        .route("/v1/pair", post(pair))
        .route("/v1/devices", get(list_devices))
        .route("/v1/devices/{device_id}", delete(revoke_device))
        .route("/v1/family/settings", get(get_settings).put(put_settings))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFamily {
    /// A label for the family (shown only to its members).
    pub name: String,
    /// A label for the creating parent's device.
    pub device_name: String,
}

/// A device's credentials, returned once: the token is never shown again.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Enrolled {
    pub family_id: Uuid,
    pub device_id: Uuid,
    pub role: Role,
    /// Bearer token for every later request (64 hex characters).
    pub token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCode {
    /// The role the new device will have.
    pub role: Role,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PairingCode {
    /// `XXXX-XXXX`; case, spaces and dashes are ignored when typed.
    pub code: String,
    pub expires_at_ms: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Pair {
    pub code: String,
    pub device_name: String,
}

fn check_label(what: &str, text: &str) -> Result<()> {
    if text.trim().is_empty() || text.chars().count() > 100 {
        return Err(Error::BadRequest(format!("{what}: must be 1 to 100 characters")));
    }
    Ok(())
}

fn new_device(name: &str, role: Role) -> (NewDevice, String) {
    let token = auth::new_token();
    let hash = auth::sha256(token.as_bytes());
    (NewDevice { id: Uuid::now_v7(), name: name.trim().to_owned(), role, token_hash: hash }, token)
}

/// Creates a family and its first parent device.
#[utoipa::path(post, path = "/v1/families", request_body = CreateFamily,
    responses((status = 201, body = Enrolled), (status = 400, body = crate::error::ErrorBody), (status = 429)))]
async fn create_family(
    State(state): State<AppState>,
    _caller: Anonymous,
    body: Result<Json<CreateFamily>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Enrolled>)> {
    let Json(body) = body?;
    check_label("name", &body.name)?;
    check_label("device_name", &body.device_name)?;
    let family_id = Uuid::now_v7();
    let (device, token) = new_device(&body.device_name, Role::Parent);
    state.store.create_family(family_id, body.name.trim(), &device, state.clock.now_ms()).await?;
    tracing::info!(%family_id, device_id = %device.id, "family created");
    Ok((StatusCode::CREATED, Json(Enrolled { family_id, device_id: device.id, role: Role::Parent, token })))
}

/// A parent mints a one-time code for a new child or parent device.
#[utoipa::path(post, path = "/v1/pairing-codes", request_body = CreateCode, security(("bearer" = [])),
    responses((status = 201, body = PairingCode), (status = 401), (status = 403)))]
async fn create_pairing_code(
    State(state): State<AppState>,
    Parent(parent): Parent,
    body: Result<Json<CreateCode>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<PairingCode>)> {
    let Json(body) = body?;
    let code = auth::new_pairing_code();
    let expires_at_ms = state.clock.now_ms() + state.limits.pairing_code_ttl_ms;
    state
        .store
        .create_pairing_code(parent.family_id, auth::pairing_code_hash(&code), body.role, parent.device_id, expires_at_ms)
        .await?;
    Ok((StatusCode::CREATED, Json(PairingCode { code, expires_at_ms })))
}

/// A new device joins a family with a code.
#[utoipa::path(post, path = "/v1/pair", request_body = Pair,
    responses((status = 201, body = Enrolled), (status = 400, body = crate::error::ErrorBody), (status = 429)))]
async fn pair(
    State(state): State<AppState>,
    _caller: Anonymous,
    body: Result<Json<Pair>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Enrolled>)> {
    let Json(body) = body?;
    check_label("device_name", &body.device_name)?;
    // The role comes from the code; this one is a placeholder the store replaces.
    let (device, token) = new_device(&body.device_name, Role::Child);
    let family_id = state
        .store
        .redeem_pairing_code(auth::pairing_code_hash(&body.code), &device, state.clock.now_ms())
        .await?
        .ok_or(Error::InvalidPairingCode)?;
    let role = state
        .store
        .authenticate(device.token_hash)
        .await?
        .map(|d| d.role)
        .ok_or_else(|| Error::Storage(crate::storage::StorageError::Corrupt("paired device vanished".into())))?;
    tracing::info!(%family_id, device_id = %device.id, role = role.as_str(), "device paired");
    Ok((StatusCode::CREATED, Json(Enrolled { family_id, device_id: device.id, role, token })))
}

#[utoipa::path(get, path = "/v1/devices", security(("bearer" = [])),
    responses((status = 200, body = Vec<DeviceInfo>), (status = 401), (status = 403)))]
async fn list_devices(State(state): State<AppState>, Parent(parent): Parent) -> Result<Json<Vec<DeviceInfo>>> {
    Ok(Json(state.store.list_devices(parent.family_id).await?))
}

/// Revokes a device of the caller's family; another family's device is "not found".
#[utoipa::path(delete, path = "/v1/devices/{device_id}", security(("bearer" = [])),
    params(("device_id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
async fn revoke_device(
    State(state): State<AppState>,
    Parent(parent): Parent,
    Path(device_id): Path<String>,
) -> Result<StatusCode> {
    let device_id = Uuid::parse_str(&device_id).map_err(|_| Error::NotFound)?;
    if !state.store.revoke_device(parent.family_id, device_id, state.clock.now_ms()).await? {
        return Err(Error::NotFound);
    }
    tracing::info!(family_id = %parent.family_id, %device_id, "device revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// Any member reads the settings (the child's client needs `share_text`).
#[utoipa::path(get, path = "/v1/family/settings", security(("bearer" = [])),
    responses((status = 200, body = FamilySettings), (status = 401)))]
async fn get_settings(State(state): State<AppState>, Device(device): Device) -> Result<Json<FamilySettings>> {
    Ok(Json(state.store.family_settings(device.family_id).await?))
}

#[utoipa::path(put, path = "/v1/family/settings", request_body = FamilySettings, security(("bearer" = [])),
    responses((status = 200, body = FamilySettings), (status = 401), (status = 403)))]
async fn put_settings(
    State(state): State<AppState>,
    Parent(parent): Parent,
    body: Result<Json<FamilySettings>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<FamilySettings>> {
    let Json(settings) = body?;
    state.store.set_family_settings(parent.family_id, settings).await?;
    Ok(Json(settings))
}
