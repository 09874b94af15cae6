//! The sync client (`docs/sync-protocol.md`): sends the events after the store's push cursor and
//! the outbox's other items to the server in batches, pulls the family's changes, and keeps going
//! through cut connections and restarts.
//!
//! Crash safety comes from the store: the push cursor passes an event, and an item leaves the
//! outbox, only after the server answered for it, and the server stores each record id once, so
//! re-sending after a crash is harmless.
//! The child's own words leave the phone only when the family opted in (`share_text`); otherwise
//! `message` records stay local and `text` is removed from the others before encoding.

#[cfg(feature = "llm")]
pub mod adapters;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::event::{self, Body, Record};
use crate::store::{self, OutboxItem, Store, StoreError, StoredEvent};

/// The protocol version sent in the `Migru-Protocol` header.
pub const PROTOCOL_VERSION: u32 = 1;
/// Settings keys the client keeps in the store.
pub const CURSOR_KEY: &str = "sync.pull_cursor";

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("cannot reach the server after {attempts} attempts: {reason}")]
    Unreachable { attempts: u32, reason: String },
    #[error("the server refused this device's token (revoked or unknown): pair the device again")]
    Unauthorized,
    #[error("the server needs a newer Migru (HTTP 426): {0}")]
    UpgradeRequired(String),
    #[error("the server answered {status} to {what}: {message}")]
    Server { status: u16, what: &'static str, message: String },
    #[error("the server's answer to {what} was not understood: {reason}")]
    BadResponse { what: &'static str, reason: String },
    #[error("sync was cancelled")]
    Cancelled,
    #[cfg(feature = "llm")]
    #[error("pulled adapter: {0}")]
    Adapter(#[from] adapters::AdapterSyncError),
}

/// How to reach the server and how hard to try.
#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// Base URL, e.g. `https://migru.example` (no trailing slash needed).
    pub server: String,
    /// This device's bearer token from pairing.
    pub token: String,
    /// Records per push (the server accepts up to 5,000).
    pub batch_size: usize,
    /// Attempts per request before giving up for this run (items stay in the outbox).
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt up to `max_backoff`, with full jitter.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    pub request_timeout: Duration,
}

impl SyncConfig {
    pub fn new(server: impl Into<String>, token: impl Into<String>) -> Self {
        SyncConfig {
            server: server.into().trim_end_matches('/').to_owned(),
            token: token.into(),
            batch_size: 500,
            max_attempts: 8,
            base_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Counts so far, reported after every batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncProgress {
    pub accepted: usize,
    pub duplicate: usize,
    /// Refused by the server for good (logged with their reason; they leave the outbox).
    pub refused: usize,
    /// `message` records kept on the phone because the family has not opted in to sharing text.
    pub kept_private: usize,
    pub feedback_sent: usize,
    pub changes_pulled: usize,
    pub retries: u32,
}

/// One change pulled from the server (recommendation, analysis result, adapter version,
/// feedback acknowledgement, alert).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PulledChange {
    pub kind: String,
    pub id: String,
    pub body: Value,
    pub created_at_ms: i64,
    /// The server's sequence number of this change (servers before it was on the wire: absent).
    #[serde(default)]
    pub seq: Option<i64>,
}

impl PulledChange {
    /// A stable id for this change: the same change pulled again (after a crash between storing
    /// a page and moving the cursor) gets the same id. The server's item id alone is not enough:
    /// one item (a recommendation) may change more than once.
    pub fn change_id(&self) -> String {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(self.body.to_string().as_bytes());
        let short: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("{}:{}:{}:{short}", self.kind, self.id, self.created_at_ms)
    }

    /// The row the phone keeps: topic = the change's kind, payload = the whole change as JSON.
    pub fn to_stored(&self, received_ms: i64) -> store::PulledChange {
        let payload = json!({ "kind": self.kind, "id": self.id, "body": self.body, "created_at_ms": self.created_at_ms });
        store::PulledChange {
            change_id: self.change_id(),
            topic: self.kind.clone(),
            payload: payload.to_string(),
            server_seq: self.seq,
            received_ms,
        }
    }
}

#[derive(Debug, Deserialize)]
struct PushResponse {
    accepted: Vec<String>,
    duplicate: Vec<String>,
    refused: Vec<Refusal>,
}

#[derive(Debug, Deserialize)]
struct Refusal {
    index: usize,
    code: String,
    reason: String,
}

#[derive(Debug, Deserialize)]
struct PullResponse {
    changes: Vec<PulledChange>,
    cursor: String,
    has_more: bool,
}

#[derive(Debug, Deserialize)]
struct Settings {
    share_text: bool,
}

/// Talks to one server for one device.
#[derive(Debug, Clone)]
pub struct SyncClient {
    http: reqwest::Client,
    config: SyncConfig,
    cancel: Arc<AtomicBool>,
    retries: Arc<std::sync::atomic::AtomicU32>,
    /// Installs pulled `adapter_version` changes (`adapters`); none: they are only kept.
    #[cfg(feature = "llm")]
    adapters: Option<adapters::AdapterInstaller>,
}

/// A request's outcome before retry policy: retryable failures carry an optional server delay.
enum Attempt<T> {
    Done(T),
    Retry { reason: String, after: Option<Duration> },
}

impl SyncClient {
    pub fn new(config: SyncConfig) -> Result<Self, SyncError> {
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| SyncError::BadResponse { what: "client setup", reason: e.to_string() })?;
        Ok(SyncClient {
            http,
            config,
            cancel: Arc::new(AtomicBool::new(false)),
            retries: Arc::default(),
            #[cfg(feature = "llm")]
            adapters: None,
        })
    }

    /// Verifies, stores and activates pulled adapters with `installer` (`adapters`).
    #[cfg(feature = "llm")]
    pub fn with_adapters(mut self, installer: adapters::AdapterInstaller) -> Self {
        self.adapters = Some(installer);
        self
    }

    /// Uses `flag` (shared with the caller, e.g. the app's cancel handle) as the cancel flag.
    pub fn with_cancel_flag(mut self, flag: Arc<AtomicBool>) -> Self {
        self.cancel = flag;
        self
    }

    /// A flag that stops the client between requests (the app going to background, the user
    /// leaving): set it and the current run ends with `Cancelled`, the outbox intact.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.cancel)
    }

    /// Pushes the whole outbox, then pulls every change since the stored cursor. Each page of
    /// changes is stored in `pulled_changes` and `on_change` sees each of them before the cursor
    /// moves past the page.
    pub async fn sync(
        &self,
        store: &Store,
        mut on_progress: impl FnMut(&SyncProgress),
        mut on_change: impl FnMut(&PulledChange) -> Result<(), StoreError>,
    ) -> Result<SyncProgress, SyncError> {
        let mut progress = SyncProgress::default();
        let retries_before = self.retries.load(Ordering::Relaxed);
        let share_text = self.share_text().await?;
        self.push_all(store, share_text, &mut progress, &mut on_progress).await?;
        self.pull_all(store, &mut progress, &mut on_progress, &mut on_change).await?;
        progress.retries = self.retries.load(Ordering::Relaxed) - retries_before;
        Ok(progress)
    }

    /// Whether the family lets the child's words go up (asked each run: a parent may change it).
    pub async fn share_text(&self) -> Result<bool, SyncError> {
        let settings: Settings = self.request_json("settings", || self.get("/v1/family/settings")).await?;
        Ok(settings.share_text)
    }

    async fn push_all(
        &self,
        store: &Store,
        share_text: bool,
        progress: &mut SyncProgress,
        on_progress: &mut impl FnMut(&SyncProgress),
    ) -> Result<(), SyncError> {
        loop {
            self.check_cancelled()?;
            let events = store.events_to_push(self.config.batch_size)?;
            let others = store.outbox_due(crate::store::now_ms(), self.config.batch_size)?;
            if events.is_empty() && others.is_empty() {
                return Ok(());
            }
            let mut advanced = true;
            if !events.is_empty() {
                advanced = self.push_events(store, &events, share_text, progress).await?;
            }
            for item in others {
                self.send_other(store, item, progress).await?;
            }
            on_progress(progress);
            if !advanced {
                // A purge raced this batch: the next run sends it again rather than this one
                // going round in circles.
                return Ok(());
            }
        }
    }

    /// Sends the events after the push cursor (those the family keeps private are skipped) and
    /// moves the cursor past them once the server answered for every one. Until then the cursor
    /// stays, so a cut connection or a killed app sends them again; the server keeps each id once.
    /// Returns whether the cursor moved.
    async fn push_events(
        &self,
        store: &Store,
        events: &[StoredEvent],
        share_text: bool,
        progress: &mut SyncProgress,
    ) -> Result<bool, SyncError> {
        let Some(last) = events.last() else { return Ok(false) };
        let (last_seq, last_id) = (last.seq, last.record.id.unwrap_or_default());
        let batch: Vec<Value> = events.iter().filter_map(|event| outgoing(&event.record, share_text)).collect();
        let kept_private = events.len() - batch.len();
        if !batch.is_empty() {
            let body = json!({ "records": batch }).to_string();
            let response = self.request_json::<PushResponse>("push", || self.post("/v1/sync/push", body.clone())).await?;
            for refusal in &response.refused {
                tracing::warn!(index = refusal.index, code = %refusal.code, reason = %refusal.reason, "server refused a record");
            }
            progress.accepted += response.accepted.len();
            progress.duplicate += response.duplicate.len();
            progress.refused += response.refused.len();
        }
        progress.kept_private += kept_private;
        // Every record of the batch was answered for (accepted, duplicate or refused for good).
        let advanced = store.ack_pushed(last_seq, last_id)?;
        if !advanced {
            tracing::info!(last_seq, "events purged while being sent; they go again from the cursor");
        }
        Ok(advanced)
    }

    /// Non-event outbox items: parent feedback goes to `/v1/feedback`; unknown topics wait a day
    /// (a newer build may know them) without blocking the queue.
    async fn send_other(&self, store: &Store, item: OutboxItem, progress: &mut SyncProgress) -> Result<(), SyncError> {
        match (item.topic.as_str(), item.payload) {
            ("feedback", Some(payload)) => {
                let result = self.request_json::<Value>("feedback", || self.post("/v1/feedback", payload.clone())).await;
                match result {
                    Ok(_) | Err(SyncError::Server { status: 400 | 404, .. }) => {
                        progress.feedback_sent += 1;
                        store.outbox_ack(&[item.seq])?;
                        Ok(())
                    }
                    Err(error) => Err(error),
                }
            }
            (topic, _) => {
                tracing::warn!(topic, "outbox item of unknown topic deferred");
                store.outbox_defer(&[item.seq], crate::store::now_ms() + 24 * 3600 * 1000)?;
                Ok(())
            }
        }
    }

    async fn pull_all(
        &self,
        store: &Store,
        progress: &mut SyncProgress,
        on_progress: &mut impl FnMut(&SyncProgress),
        on_change: &mut impl FnMut(&PulledChange) -> Result<(), StoreError>,
    ) -> Result<(), SyncError> {
        loop {
            self.check_cancelled()?;
            let cursor = store.setting(CURSOR_KEY)?;
            let path = match &cursor {
                Some(cursor) => format!("/v1/sync/pull?cursor={cursor}"),
                None => "/v1/sync/pull".to_owned(),
            };
            let page: PullResponse = self.request_json("pull", || self.get(&path)).await?;
            let received_ms = crate::store::now_ms();
            let stored: Vec<store::PulledChange> = page.changes.iter().map(|c| c.to_stored(received_ms)).collect();
            store.put_pulled_changes(&stored)?;
            for change in &page.changes {
                #[cfg(feature = "llm")]
                if let Some(installer) = &self.adapters {
                    installer.on_change(store, change)?;
                }
                on_change(change)?;
            }
            progress.changes_pulled += page.changes.len();
            store.set_setting(CURSOR_KEY, &page.cursor)?;
            on_progress(progress);
            if !page.has_more {
                return Ok(());
            }
        }
    }

    fn check_cancelled(&self) -> Result<(), SyncError> {
        if self.cancel.load(Ordering::Relaxed) { Err(SyncError::Cancelled) } else { Ok(()) }
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.with_headers(self.http.get(format!("{}{path}", self.config.server)))
    }

    fn post(&self, path: &str, body: String) -> reqwest::RequestBuilder {
        self.with_headers(self.http.post(format!("{}{path}", self.config.server)))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
    }

    fn with_headers(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request.header("migru-protocol", PROTOCOL_VERSION.to_string()).bearer_auth(&self.config.token)
    }

    /// Sends with retries: transport errors, 5xx and 429 are retried with exponential backoff
    /// and full jitter (or the server's Retry-After); other failures end the run at once.
    async fn request_json<T: serde::de::DeserializeOwned>(
        &self,
        what: &'static str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<T, SyncError> {
        let mut last = String::new();
        for attempt in 0..self.config.max_attempts {
            self.check_cancelled()?;
            match self.attempt(what, build()).await? {
                Attempt::Done(value) => return Ok(value),
                Attempt::Retry { reason, after } => {
                    tracing::info!(what, attempt, %reason, "sync request failed; retrying");
                    last = reason;
                    self.retries.fetch_add(1, Ordering::Relaxed);
                    if attempt + 1 < self.config.max_attempts {
                        tokio::time::sleep(after.unwrap_or_else(|| self.backoff(attempt))).await;
                    }
                }
            }
        }
        Err(SyncError::Unreachable { attempts: self.config.max_attempts, reason: last })
    }

    async fn attempt<T: serde::de::DeserializeOwned>(
        &self,
        what: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<Attempt<T>, SyncError> {
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return Ok(Attempt::Retry { reason: error.to_string(), after: None }),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_secs);
        // Reading the body can fail too (a connection cut mid-response): retry, the server is
        // idempotent.
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes,
            Err(error) => return Ok(Attempt::Retry { reason: format!("reading the answer: {error}"), after: None }),
        };
        match status {
            200..=299 => serde_json::from_slice(&bytes)
                .map(Attempt::Done)
                .or_else(|e| Ok(Attempt::Retry { reason: format!("unreadable answer: {e}"), after: None })),
            401 => Err(SyncError::Unauthorized),
            426 => Err(SyncError::UpgradeRequired(error_message(&bytes))),
            429 | 500..=599 => Ok(Attempt::Retry { reason: format!("HTTP {status}"), after: retry_after }),
            _ => Err(SyncError::Server { status, what, message: error_message(&bytes) }),
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self.config.base_backoff.saturating_mul(1u32 << attempt.min(16)).min(self.config.max_backoff);
        ceiling.mul_f64(jitter())
    }
}

fn error_message(bytes: &[u8]) -> String {
    serde_json::from_slice::<Value>(bytes)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "no explanation given".to_owned())
}

/// A uniform fraction in [0, 1): SHA-256 of a fresh UUIDv7 (whose low bits mix a counter with
/// randomness), so the crate needs no random-number dependency for jitter.
fn jitter() -> f64 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(uuid::Uuid::now_v7().as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_le_bytes(first) >> 11) as f64 / (1u64 << 53) as f64
}

/// The record as it goes up, or `None` when it stays on the phone. Without the family's opt-in,
/// `message` records (nothing but words) stay local and `text` is removed from the rest.
pub fn outgoing(record: &Record, share_text: bool) -> Option<Value> {
    let mut record = record.clone();
    if !share_text {
        match &mut record.body {
            Body::Message { .. } => return None,
            Body::Symptom { text, .. } | Body::Relief { text, .. } | Body::Activity { text, .. } => *text = None,
            _ => {}
        }
    }
    serde_json::from_str(&event::encode_line(&record)).ok()
}

/// A device's credentials from pairing; the token is shown once and must be kept.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Enrolment {
    pub family_id: String,
    pub device_id: String,
    pub role: String,
    pub token: String,
}

/// A one-time code a parent hands to a new device (valid 10 minutes, single use).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PairingCode {
    pub code: String,
    pub expires_at_ms: i64,
}

/// Creates a family on `server` with this device as its first parent.
pub async fn create_family(server: &str, family_name: &str, device_name: &str) -> Result<Enrolment, SyncError> {
    let body = json!({ "name": family_name, "device_name": device_name });
    post_created(server, "/v1/families", None, &body, "creating the family").await
}

/// A pairing code for a new `child` or `parent` device of the family of `parent_token`.
pub async fn create_pairing_code(server: &str, parent_token: &str, role: &str) -> Result<PairingCode, SyncError> {
    post_created(server, "/v1/pairing-codes", Some(parent_token), &json!({ "role": role }), "pairing code").await
}

/// Joins a family with a parent's one-time pairing code.
pub async fn pair(server: &str, code: &str, device_name: &str) -> Result<Enrolment, SyncError> {
    post_created(server, "/v1/pair", None, &json!({ "code": code, "device_name": device_name }), "pairing").await
}

/// One of the family's devices, as a parent sees them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Device {
    pub id: String,
    pub name: String,
    /// `parent` or `child`.
    pub role: String,
    pub created_at_ms: i64,
    /// When a parent revoked it; its token no longer works.
    pub revoked_at_ms: Option<i64>,
}

/// The family's devices, revoked ones included (a parent's token only).
pub async fn list_devices(server: &str, parent_token: &str) -> Result<Vec<Device>, SyncError> {
    let request = http(server, reqwest::Method::GET, "/v1/devices", Some(parent_token));
    let bytes = send(request, "listing devices", 200).await?;
    serde_json::from_slice(&bytes).map_err(|e| SyncError::BadResponse { what: "listing devices", reason: e.to_string() })
}

/// Revokes one of the family's devices at once (a parent's token only).
pub async fn revoke_device(server: &str, parent_token: &str, device_id: &str) -> Result<(), SyncError> {
    let path = format!("/v1/devices/{}", urlencode_segment(device_id));
    send(http(server, reqwest::Method::DELETE, &path, Some(parent_token)), "revoking a device", 204).await.map(drop)
}

/// POSTs `body` to `path` and decodes the `201 Created` answer.
async fn post_created<T: serde::de::DeserializeOwned>(
    server: &str,
    path: &str,
    token: Option<&str>,
    body: &Value,
    what: &'static str,
) -> Result<T, SyncError> {
    let bytes = send(http(server, reqwest::Method::POST, path, token).json(body), what, 201).await?;
    serde_json::from_slice(&bytes).map_err(|e| SyncError::BadResponse { what, reason: e.to_string() })
}

fn http(server: &str, method: reqwest::Method, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
    let request = reqwest::Client::new()
        .request(method, format!("{}{path}", server.trim_end_matches('/')))
        .header("migru-protocol", PROTOCOL_VERSION.to_string());
    match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
}

/// Sends once (these calls are a person's action: they see the error and try again) and
/// returns the body when the status is `expected`; any other status is an error carrying the
/// server's message.
async fn send(request: reqwest::RequestBuilder, what: &'static str, expected: u16) -> Result<Vec<u8>, SyncError> {
    let response = request.send().await.map_err(|e| SyncError::Unreachable { attempts: 1, reason: e.to_string() })?;
    let status = response.status().as_u16();
    let bytes = response.bytes().await.map_err(|e| SyncError::Unreachable { attempts: 1, reason: e.to_string() })?;
    match status {
        s if s == expected => Ok(bytes.to_vec()),
        401 => Err(SyncError::Unauthorized),
        426 => Err(SyncError::UpgradeRequired(error_message(&bytes))),
        _ => Err(SyncError::Server { status, what, message: error_message(&bytes) }),
    }
}

/// A device id as one path segment: anything but `[A-Za-z0-9-]` is refused by the server as
/// not found anyway, so it is percent-encoded rather than allowed to change the path.
fn urlencode_segment(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b == b'-' { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// Runs one sync on a thread of its own so the conversation never waits on the network;
/// progress arrives on the returned channel.
pub fn spawn(
    store: Arc<Store>,
    client: SyncClient,
) -> (std::thread::JoinHandle<Result<SyncProgress, SyncError>>, std::sync::mpsc::Receiver<SyncProgress>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| SyncError::BadResponse { what: "runtime", reason: e.to_string() })?;
        runtime.block_on(client.sync(&store, |p| drop(tx.send(p.clone())), |_| Ok(())))
    });
    (handle, rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(body: Body) -> Record {
        Record::new(event::jsonl::parse_ts("2026-11-01T10:00:00+01:00").unwrap(), body)
    }

    #[test]
    fn words_stay_home_without_opt_in() {
        let message = record(Body::Message { text: "secret words".into() });
        assert_eq!(outgoing(&message, false), None);
        assert!(outgoing(&message, true).unwrap().to_string().contains("secret words"));
        let symptom = record(Body::Symptom { intensity: 6, text: Some("secret words".into()) });
        let up = outgoing(&symptom, false).unwrap();
        assert_eq!(up["intensity"], 6);
        assert!(!up.to_string().contains("secret"));
    }

    #[test]
    fn backoff_grows_and_stays_under_the_ceiling() {
        let client = SyncClient::new(SyncConfig::new("http://127.0.0.1:1", "t")).unwrap();
        for attempt in 0..20 {
            let delay = client.backoff(attempt);
            let ceiling = client.config.base_backoff.saturating_mul(1 << attempt.min(16)).min(client.config.max_backoff);
            assert!(delay <= ceiling, "{attempt}: {delay:?} > {ceiling:?}");
        }
        let jitters: Vec<f64> = (0..100).map(|_| jitter()).collect();
        assert!(jitters.iter().all(|j| (0.0..1.0).contains(j)));
        assert!(jitters.iter().any(|j| *j > 0.5) && jitters.iter().any(|j| *j < 0.5));
    }
}
