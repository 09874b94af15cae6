//! The state every handler shares: storage, limits, rate limiters, the alert hub and a clock.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::alerts::AlertHub;
use crate::storage::Storage;

/// Limits that protect the server from one device or one caller.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body; more is refused with 413.
    pub max_body_bytes: usize,
    /// Most records in one push; more is refused with 413.
    pub max_records_per_batch: usize,
    /// Sustained requests per second per device, and the burst allowed above it (429 beyond).
    pub device_rate_per_s: f64,
    pub device_burst: f64,
    /// Unauthenticated calls (family creation, pairing) per minute per client address.
    pub anonymous_per_min: f64,
    /// Largest page a pull returns.
    pub max_pull_page: u32,
    /// How far a record's time may lie ahead of the server's clock (device clocks drift).
    pub max_future_ms: i64,
    /// How far in the past a record may lie (weeks offline are normal, decades are a bug).
    pub max_past_ms: i64,
    /// How long a pairing code stays valid.
    pub pairing_code_ttl_ms: i64,
}

impl Default for Limits {
    fn default() -> Self {
        const DAY_MS: i64 = 24 * 3600 * 1000;
        Limits {
            max_body_bytes: 16 * 1024 * 1024,
            max_records_per_batch: 5_000,
            device_rate_per_s: 20.0,
            device_burst: 60.0,
            anonymous_per_min: 10.0,
            max_pull_page: 500,
            max_future_ms: DAY_MS,
            max_past_ms: 2 * 365 * DAY_MS,
            pairing_code_ttl_ms: 10 * 60 * 1000,
        }
    }
}

/// Wall-clock milliseconds, with an offset tests can move (to expire pairing codes).
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    pub fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis() + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Moves this clock (and every clone) forward.
    pub fn advance(&self, ms: i64) {
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

/// A token bucket per key: `rate` tokens a second up to `burst`.
#[derive(Debug)]
pub struct RateLimiter<K> {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<K, (f64, Instant)>>,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    pub fn new(rate_per_s: f64, burst: f64) -> Self {
        RateLimiter { rate: rate_per_s, burst: burst.max(1.0), buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one token for `key`, or says how many whole seconds until one is available.
    pub fn check(&self, key: &K) -> Result<(), u64> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() > 100_000 {
            // Full buckets carry no information; forgetting them bounds memory.
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, (tokens, at)| *tokens + now.duration_since(*at).as_secs_f64() * rate < burst);
        }
        let (tokens, at) = buckets.entry(key.clone()).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.rate).ceil().max(1.0) as u64)
        }
    }
}

/// Shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Storage>,
    pub limits: Arc<Limits>,
    pub clock: Clock,
    pub device_limiter: Arc<RateLimiter<uuid::Uuid>>,
    pub anonymous_limiter: Arc<RateLimiter<std::net::IpAddr>>,
    pub alerts: AlertHub,
    /// Schedules a family's causal analysis after its pushes.
    pub analysis: Arc<crate::jobs::AnalysisScheduler>,
    /// The base model and KTO settings; `None` when this server does not retrain adapters.
    pub training: Option<Arc<crate::training::job::TrainingSettings>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("store", &self.store).field("limits", &self.limits).finish()
    }
}

impl AppState {
    pub fn new(store: Arc<dyn Storage>, limits: Limits) -> Self {
        AppState {
            device_limiter: Arc::new(RateLimiter::new(limits.device_rate_per_s, limits.device_burst)),
            anonymous_limiter: Arc::new(RateLimiter::new(limits.anonymous_per_min / 60.0, limits.anonymous_per_min)),
            store,
            limits: Arc::new(limits),
            clock: Clock::default(),
            alerts: AlertHub::default(),
            analysis: Arc::default(),
            training: None,
        }
    }

    /// Retrains families' adapters from parents' feedback with this base model.
    pub fn with_training(mut self, settings: crate::training::job::TrainingSettings) -> Self {
        self.training = Some(Arc::new(settings));
        self
    }

    /// How long after a family's push its analysis runs (one analysis per burst of pushes).
    pub fn with_analysis_delay(mut self, delay: std::time::Duration) -> Self {
        self.analysis = Arc::new(crate::jobs::AnalysisScheduler::new(delay));
        self
    }
}
