//! The one interface downstream code sees: a [`SensorSource`] runs on the tokio runtime and sends
//! [`SensorEvent`]s into a bounded channel; a [`SensorStream`] receives them and cancels the source
//! when dropped.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::sample::SensorEvent;
use super::simulate::SplitMix64;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("no Bluetooth adapter found")]
    NoAdapter,
    #[error("Bluetooth error while {doing}: {message}")]
    Bluetooth {
        doing: &'static str,
        message: String,
    },
    #[error("device {device} not found within {seconds} s of scanning")]
    DeviceNotFound { device: String, seconds: u64 },
    #[error("device {device} lacks the characteristic {uuid}")]
    MissingCharacteristic { device: String, uuid: uuid::Uuid },
    #[error("gave up on {device} after {attempts} connection attempts")]
    GaveUp { device: String, attempts: u32 },
    #[error("cannot read replay file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("sensor source task failed: {0}")]
    Task(String),
}

/// The future a source runs as.
pub type SourceFuture = Pin<Box<dyn Future<Output = Result<(), SourceError>> + Send>>;

/// A producer of sensor events: the band over BLE, a replayed file, or the simulator.
///
/// `run` sends events until the source is exhausted, fails, or `tx`'s receiver is dropped (which
/// is not an error: the consumer lost interest).
pub trait SensorSource: Send + 'static {
    /// A short name for logs ("ble", "replay", "simulator").
    fn name(&self) -> &'static str;
    fn run(self: Box<Self>, tx: mpsc::Sender<SensorEvent>) -> SourceFuture;
}

/// The receiving end of a running source. Dropping it stops the source.
#[derive(Debug)]
pub struct SensorStream {
    rx: mpsc::Receiver<SensorEvent>,
    task: Option<JoinHandle<Result<(), SourceError>>>,
}

impl SensorStream {
    /// Channel capacity: a few seconds of notifications of every characteristic.
    pub const DEFAULT_CAPACITY: usize = 256;

    /// Spawns `source` on the current tokio runtime.
    pub fn spawn(source: Box<dyn SensorSource>) -> Self {
        let (tx, rx) = mpsc::channel(Self::DEFAULT_CAPACITY);
        let name = source.name();
        tracing::debug!(source = name, "starting sensor source");
        let task = tokio::spawn(source.run(tx));
        SensorStream {
            rx,
            task: Some(task),
        }
    }

    /// The next event; `None` once the source has ended.
    pub async fn next(&mut self) -> Option<SensorEvent> {
        self.rx.recv().await
    }

    /// Waits for the source to end and returns how it ended.
    pub async fn finish(mut self) -> Result<(), SourceError> {
        self.rx.close();
        match self.task.take() {
            Some(task) => task.await.map_err(|e| SourceError::Task(e.to_string()))?,
            None => Ok(()),
        }
    }
}

impl Drop for SensorStream {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Exponential backoff with "equal jitter": each delay is half the exponential step plus a random
/// part of the other half, so many phones do not retry in lock-step; capped at `max`.
#[derive(Debug, Clone)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    pub factor: f64,
    attempt: u32,
    rng: SplitMix64,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration, factor: f64, seed: u64) -> Self {
        Backoff {
            initial,
            max,
            factor: factor.max(1.0),
            attempt: 0,
            rng: SplitMix64::new(seed),
        }
    }

    /// Attempts made since the last [`reset`](Self::reset).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The delay before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let exp = self.initial.as_secs_f64() * self.factor.powi(self.attempt.min(64) as i32);
        let step = exp.min(self.max.as_secs_f64());
        self.attempt = self.attempt.saturating_add(1);
        Duration::from_secs_f64(step / 2.0 + self.rng.next_f64() * step / 2.0)
    }

    /// Call after a successful connection.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

impl Default for Backoff {
    /// 1 s, doubling, capped at 60 s.
    fn default() -> Self {
        Backoff::new(
            Duration::from_secs(1),
            Duration::from_secs(60),
            2.0,
            0x006d_6967_7275,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_within_jitter_and_caps() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(30), 2.0, 7);
        let delays: Vec<f64> = (0..10).map(|_| b.next_delay().as_secs_f64()).collect();
        for (i, d) in delays.iter().enumerate() {
            let step = (2f64.powi(i as i32)).min(30.0);
            assert!(
                *d >= step / 2.0 && *d <= step,
                "attempt {i}: {d} outside [{}, {step}]",
                step / 2.0
            );
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_secs(1));
    }
}
