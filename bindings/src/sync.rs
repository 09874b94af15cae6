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
