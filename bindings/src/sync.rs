//! Sync with the family's server across the FFI: an async method on this library's runtime (the
//! conversation never waits for the network), a foreign progress listener, and what was pulled.

use std::sync::Arc;

use migru_core::store;
use migru_core::sync::SyncConfig;

use crate::assistant::CancelHandle;
use crate::companion::MigruCompanion;
use crate::error::MigruError;
use crate::runtime::runtime;

/// Counts so far, reported after every pushed batch and every pulled page.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct SyncProgress {
    pub accepted: u64,
    pub duplicate: u64,
    /// Refused by the server for good (they leave the outbox; the reason is in the log).
    pub refused: u64,
    /// Messages kept on the phone because the family has not opted in to sharing words.
    pub kept_private: u64,
    pub feedback_sent: u64,
    pub changes_pulled: u64,
    pub retries: u32,
}

/// Told about a sync's progress, on one of this library's worker threads.
#[uniffi::export(with_foreign)]
pub trait SyncListener: Send + Sync {
    fn on_progress(&self, progress: SyncProgress);
}

/// A change pulled from the server and kept on the phone.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PulledChange {
    /// Stable across re-pulls: `kind:item:created_at_ms:hash`.
    pub change_id: String,
    /// `recommendation`, `analysis_result`, `adapter_version`, `feedback_ack` or `alert`.
    pub topic: String,
    /// The change as JSON: `{"kind", "id", "body", "created_at_ms"}`.
    pub payload: String,
    /// When this phone stored it (ms since the epoch).
    pub received_ms: i64,
}

#[uniffi::export(async_runtime = "tokio")]
impl MigruCompanion {
    /// Pushes the outbox to `server_url` with this device's `token` and pulls the family's
    /// changes, resuming where the last sync stopped. Runs on this library's runtime; `cancel`
    /// ends it between requests with nothing lost.
    pub async fn sync(
        &self,
        server_url: String,
        token: String,
        listener: Option<Arc<dyn SyncListener>>,
        cancel: Option<Arc<CancelHandle>>,
    ) -> Result<SyncProgress, MigruError> {
        let inner = self.inner.clone();
        let flag = cancel.map(|c| c.flag());
        runtime()
            .spawn(async move {
                let progress = inner
                    .sync(SyncConfig::new(server_url, token), flag, |p| {
                        if let Some(listener) = &listener {
                            listener.on_progress(p.into());
                        }
                    })
                    .await?;
                Ok((&progress).into())
            })
            .await?
    }
}

/// A device's credentials from creating a family or pairing. Keep `token` in the platform's
/// secure storage (Keychain, Android Keystore): it is shown once, and the server keeps only its hash.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Enrolment {
    pub family_id: String,
    pub device_id: String,
    /// `parent` or `child`.
    pub role: String,
    pub token: String,
}

/// A one-time code for a new device: single use, valid until `expires_at_ms`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PairingCode {
    /// `XXXX-XXXX`.
    pub code: String,
    pub expires_at_ms: i64,
}

/// Creates a family on `server_url` with this phone as its first parent device.
#[uniffi::export(async_runtime = "tokio")]
pub async fn create_family(server_url: String, family_name: String, device_name: String) -> Result<Enrolment, MigruError> {
    family_call(async move { migru_core::sync::create_family(&server_url, &family_name, &device_name).await }).await.map(Into::into)
}

/// A one-time pairing code for a new `child` or `parent` device (a parent's token only).
#[uniffi::export(async_runtime = "tokio")]
pub async fn create_pairing_code(server_url: String, parent_token: String, role: String) -> Result<PairingCode, MigruError> {
    let code = family_call(async move { migru_core::sync::create_pairing_code(&server_url, &parent_token, &role).await }).await?;
    Ok(PairingCode { code: code.code, expires_at_ms: code.expires_at_ms })
}

/// Joins this phone to a family with a parent's one-time code; an unknown, used or expired code
/// is `InvalidInput`.
#[uniffi::export(async_runtime = "tokio")]
pub async fn pair_device(server_url: String, code: String, device_name: String) -> Result<Enrolment, MigruError> {
    family_call(async move { migru_core::sync::pair(&server_url, code.trim(), &device_name).await }).await.map(Into::into)
}

/// One of the family's devices, for the parent app's device list.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FamilyDevice {
    pub id: String,
    pub name: String,
    /// `parent` or `child`.
    pub role: String,
    pub created_at_ms: i64,
    /// Set once a parent revoked it.
    pub revoked_at_ms: Option<i64>,
}

/// The family's devices, revoked ones included (a parent's token only).
#[uniffi::export(async_runtime = "tokio")]
pub async fn list_devices(server_url: String, parent_token: String) -> Result<Vec<FamilyDevice>, MigruError> {
    let devices = family_call(async move { migru_core::sync::list_devices(&server_url, &parent_token).await }).await?;
    Ok(devices
        .into_iter()
        .map(|d| FamilyDevice { id: d.id, name: d.name, role: d.role, created_at_ms: d.created_at_ms, revoked_at_ms: d.revoked_at_ms })
        .collect())
}

/// Revokes a device of the family at once: its token stops working (a parent's token only).
#[uniffi::export(async_runtime = "tokio")]
pub async fn revoke_device(server_url: String, parent_token: String, device_id: String) -> Result<(), MigruError> {
    family_call(async move { migru_core::sync::revoke_device(&server_url, &parent_token, &device_id).await }).await
}

/// Runs one of the core's family calls on this library's runtime, converting its error.
async fn family_call<T: Send + 'static>(
    call: impl std::future::Future<Output = Result<T, migru_core::sync::SyncError>> + Send + 'static,
) -> Result<T, MigruError> {
    runtime().spawn(call).await?.map_err(|error| migru_core::CompanionError::Sync(error).into())
}

impl From<migru_core::sync::Enrolment> for Enrolment {
    fn from(e: migru_core::sync::Enrolment) -> Self {
        Enrolment { family_id: e.family_id, device_id: e.device_id, role: e.role, token: e.token }
    }
}

#[uniffi::export]
impl MigruCompanion {
    /// Pulled changes kept on this phone, newest first; `topic` narrows them to one kind.
    pub fn pulled_changes(&self, topic: Option<String>, limit: u32) -> Result<Vec<PulledChange>, MigruError> {
        let changes = self
            .inner
            .store()
            .pulled_changes(topic.as_deref(), limit as usize)
            .map_err(migru_core::CompanionError::from)?;
        Ok(changes.into_iter().map(Into::into).collect())
    }
}

impl From<&migru_core::sync::SyncProgress> for SyncProgress {
    fn from(p: &migru_core::sync::SyncProgress) -> Self {
        SyncProgress {
            accepted: p.accepted as u64,
            duplicate: p.duplicate as u64,
            refused: p.refused as u64,
            kept_private: p.kept_private as u64,
            feedback_sent: p.feedback_sent as u64,
            changes_pulled: p.changes_pulled as u64,
            retries: p.retries,
        }
    }
}

impl From<store::PulledChange> for PulledChange {
    fn from(c: store::PulledChange) -> Self {
        PulledChange { change_id: c.change_id, topic: c.topic, payload: c.payload, received_ms: c.received_ms }
    }
}
