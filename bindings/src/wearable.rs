//! The wearable for the apps: their BLE layer (CoreBluetooth / Android BLE) receives the
//! notifications and hands the raw bytes here; the core's `Decoder` parses them (0x2A37 heart
//! rate, 0x2A19 battery, the Migru sensor service) and a `StoreSink` holding the store in an
//! `Arc` aggregates per minute and stores, exactly as `migru ble record` does.

use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, FixedOffset};
use migru_core::store::Store;
use migru_core::wearable::{
    Decoder, DropReason, IngestConfig, IngestError, IngestStats, IngestSummary, ReplaySource, SourceError, StoreSink,
};

use crate::companion::MigruCompanion;
use crate::error::MigruError;

/// What one notification gave.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct NotificationOutcome {
    /// Samples it carried (a heart-rate notification with RR intervals gives two).
    pub samples: u32,
    /// Why it was dropped (`truncated`, `stale_sequence`, `unknown_characteristic`, …); null
    /// when it was used. A dropped packet is counted, never an error.
    pub dropped: Option<String>,
    /// The band's battery, when this was a 0x2A19 notification.
    pub battery_percent: Option<u8>,
}

/// Drops of one reason.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct DropCount {
    pub reason: String,
    pub count: u64,
}

/// The session's packet counters.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct WearableStats {
    pub packets_ok: u64,
    pub packets_dropped: u64,
    /// Non-zero counters only.
    pub drops: Vec<DropCount>,
    /// Jumps in the Migru service's sequence numbers, and the packets missing in them.
    pub gaps: u64,
    pub missing_packets: u64,
    /// Closed minutes not yet written (written every 10).
    pub pending_minutes: u32,
}

/// What the session stored since it started or was last closed.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct WearableSummary {
    pub samples: u64,
    pub minutes_stored: u64,
    pub late_samples: u64,
    pub sleep_episodes_stored: u64,
    pub first_minute: Option<String>,
    pub last_minute: Option<String>,
}

struct Session {
    decoder: Decoder,
    sink: StoreSink<Arc<Store>>,
}

/// One band's stream into the child's store. Thread-safe; notifications are expected in
/// arrival order (one BLE callback thread).
#[derive(uniffi::Object)]
pub struct WearableSession {
    session: Mutex<Session>,
}

impl std::fmt::Debug for WearableSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WearableSession").finish_non_exhaustive()
    }
}

#[uniffi::export]
impl MigruCompanion {
    /// Starts a wearable session storing into this child's store.
    pub fn wearable_session(&self) -> Arc<WearableSession> {
        let sink = StoreSink::new(self.inner.shared_store(), self.inner.user(), IngestConfig::default());
        Arc::new(WearableSession { session: Mutex::new(Session { decoder: Decoder::new(), sink }) })
    }

    /// Replays the sensor records (`hr`, `rr`, `eda`, `accel`) of a JSON Lines file in the
    /// import format through the same aggregation as a live band (`migru wearable replay`):
    /// per-minute aggregates and detected sleep are stored; the records themselves are not
    /// (import them with `import_file` to keep them). Malformed lines are skipped and logged.
    pub fn replay_sensor_file(&self, path: String) -> Result<WearableSummary, MigruError> {
        let mut sink = StoreSink::new(self.inner.shared_store(), self.inner.user(), IngestConfig::default());
        let mut failed = None;
        let counts = ReplaySource::new(&path)
            .for_each(|sample| match sink.push(sample) {
                Ok(()) => true,
                Err(error) => {
                    failed = Some(error);
                    false
                }
            })
            .map_err(|error| match error {
                SourceError::Io { source, .. } => {
                    let error = MigruError::Io { reason: format!("cannot read the recording: {source}") };
                    tracing::warn!(%error, "migru-ffi call failed");
                    error
                }
                other => MigruError::Other { reason: other.to_string() },
            })?;
        if let Some(error) = failed {
            return Err(from_ingest(error));
        }
        tracing::debug!(?counts, "replayed");
        Ok(sink.finish().map_err(from_ingest)?.into())
    }
}

#[uniffi::export]
impl WearableSession {
    /// One notification: the characteristic's UUID (`00002a37-0000-1000-8000-00805f9b34fb`, the
    /// Migru service's `8f3e0002-…`), its bytes, and when it arrived in UTC milliseconds (default
    /// now), shown in the device's current offset.
    pub fn on_notification(
        &self,
        characteristic: String,
        bytes: Vec<u8>,
        received_at_ms: Option<i64>,
    ) -> Result<NotificationOutcome, MigruError> {
        let uuid = uuid_of(&characteristic)?;
        let at = received_at(received_at_ms)?;
        let mut guard = self.lock()?;
        let Session { decoder, sink } = &mut *guard;
        let mut samples = Vec::with_capacity(2);
        let dropped = decoder.decode(uuid, &bytes, at, |s| samples.push(s)).err().map(|e| e.reason().as_str().to_owned());
        let mut outcome = NotificationOutcome { samples: u32::try_from(samples.len()).unwrap_or(u32::MAX), dropped, battery_percent: None };
        for sample in samples {
            if let migru_core::wearable::Reading::Battery { percent } = sample.reading {
                outcome.battery_percent = Some(percent);
            }
            sink.push(sample).map_err(from_ingest)?;
        }
        Ok(outcome)
    }

    /// Call on every (re)connect: sequence numbers and the band's clock start over.
    pub fn on_reconnect(&self) -> Result<(), MigruError> {
        self.lock()?.decoder.reset_link();
        Ok(())
    }

    pub fn stats(&self) -> Result<WearableStats, MigruError> {
        let guard = self.lock()?;
        Ok(stats(guard.decoder.stats(), guard.sink.pending()))
    }

    /// Writes the closed minutes now (the app going to the background).
    pub fn flush(&self) -> Result<(), MigruError> {
        self.lock()?.sink.flush().map_err(from_ingest)
    }

    /// Closes the open minutes, writes them and detects sleep over what was recorded since the
    /// last call (plus a 36 h look-back); the session stays usable. Call it when the band
    /// disconnects or the stream pauses, and at least daily. (Not `close`: Kotlin's
    /// `AutoCloseable.close` frees the object.)
    pub fn finish_span(&self) -> Result<WearableSummary, MigruError> {
        let summary = self.lock()?.sink.close().map_err(from_ingest)?;
        Ok(summary.into())
    }
}

impl WearableSession {
    fn lock(&self) -> Result<MutexGuard<'_, Session>, MigruError> {
        self.session.lock().map_err(|_| MigruError::Other { reason: "the wearable session failed earlier (lock poisoned)".into() })
    }
}

fn uuid_of(text: &str) -> Result<uuid::Uuid, MigruError> {
    uuid::Uuid::parse_str(text.trim()).map_err(|e| MigruError::invalid(format!("characteristic: not a UUID ({e})")))
}

fn received_at(ms: Option<i64>) -> Result<DateTime<FixedOffset>, MigruError> {
    let now = migru_core::companion::now_local();
    match ms {
        None => Ok(now),
        Some(ms) => DateTime::from_timestamp_millis(ms)
            .map(|t| t.with_timezone(now.offset()))
            .ok_or_else(|| MigruError::invalid(format!("received_at_ms: {ms} is out of range"))),
    }
}

fn from_ingest(error: IngestError) -> MigruError {
    match error {
        IngestError::Store(e) => migru_core::CompanionError::Store(e).into(),
        other => {
            let error = MigruError::Other { reason: other.to_string() };
            tracing::warn!(%error, "migru-ffi call failed");
            error
        }
    }
}

fn stats(s: IngestStats, pending: usize) -> WearableStats {
    WearableStats {
        packets_ok: s.packets_ok,
        packets_dropped: s.packets_dropped,
        drops: DropReason::ALL
            .iter()
            .map(|r| DropCount { reason: r.as_str().to_owned(), count: s.drops.get(*r) })
            .filter(|d| d.count > 0)
            .collect(),
        gaps: s.gaps,
        missing_packets: s.missing_packets,
        pending_minutes: u32::try_from(pending).unwrap_or(u32::MAX),
    }
}

impl From<IngestSummary> for WearableSummary {
    fn from(s: IngestSummary) -> Self {
        WearableSummary {
            samples: s.samples,
            minutes_stored: s.minutes_stored,
            late_samples: s.late_samples,
            sleep_episodes_stored: s.sleep_episodes_stored,
            first_minute: s.first_minute,
            last_minute: s.last_minute,
        }
    }
}
