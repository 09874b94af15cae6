//! Replays the sensor records (`hr`, `rr`, `eda`, `accel`) of a JSON Lines file in the import
//! format as a [`SensorSource`]. Other kinds are skipped; malformed lines are logged with their
//! line number (never their content) and skipped.

use std::io::BufRead;
use std::path::PathBuf;

use chrono::{DateTime, FixedOffset};

use super::sample::{SensorEvent, SensorSample};
use super::source::{SensorSource, SourceError, SourceFuture};
use crate::event::decode_line;

#[derive(Debug, Clone)]
pub struct ReplaySource {
    path: PathBuf,
    /// `Some(1.0)`: as recorded; `Some(60.0)`: a minute per second; `None`: as fast as consumed.
    pub speed: Option<f64>,
}

/// Counts of one pass over a file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayCounts {
    pub samples: u64,
    pub other_kinds: u64,
    pub malformed_lines: u64,
}

impl ReplaySource {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        ReplaySource {
            path: path.into(),
            speed: None,
        }
    }

    /// Reads the whole file synchronously, passing each sensor sample to `on_sample`.
    pub fn for_each(
        &self,
        mut on_sample: impl FnMut(SensorSample) -> bool,
    ) -> Result<ReplayCounts, SourceError> {
        let io = |source| SourceError::Io {
            path: self.path.clone(),
            source,
        };
        let file = std::fs::File::open(&self.path).map_err(io)?;
        let mut counts = ReplayCounts::default();
        for (index, line) in std::io::BufReader::new(file).split(b'\n').enumerate() {
            let line = line.map_err(io)?;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match decode_line(&line) {
                Ok(record) => match SensorSample::from_record(&record) {
                    Some(sample) => {
                        counts.samples += 1;
                        if !on_sample(sample) {
                            break;
                        }
                    }
                    None => counts.other_kinds += 1,
                },
                Err(error) => {
                    counts.malformed_lines += 1;
                    tracing::warn!(
                        line = index + 1,
                        reason = error.reason(),
                        "skipping malformed replay line"
                    );
                }
            }
        }
        tracing::debug!(?counts, "replay finished");
        Ok(counts)
    }
}

impl SensorSource for ReplaySource {
    fn name(&self) -> &'static str {
        "replay"
    }

    /// File reading is blocking, so it runs on tokio's blocking pool and paces with the clock.
    fn run(self: Box<Self>, tx: tokio::sync::mpsc::Sender<SensorEvent>) -> SourceFuture {
        Box::pin(async move {
            let task = tokio::task::spawn_blocking(move || {
                let mut pacer = Pacer::new(self.speed);
                self.for_each(|sample| {
                    pacer.wait_for(sample.at);
                    tx.blocking_send(SensorEvent::Sample(sample)).is_ok()
                })
            });
            task.await
                .map_err(|e| SourceError::Task(e.to_string()))?
                .map(|_| ())
        })
    }
}

/// Sleeps so that samples come out at `speed` × their recorded pace.
struct Pacer {
    speed: Option<f64>,
    origin: Option<(DateTime<FixedOffset>, std::time::Instant)>,
}

impl Pacer {
    fn new(speed: Option<f64>) -> Self {
        Pacer {
            speed: speed.filter(|s| s.is_finite() && *s > 0.0),
            origin: None,
        }
    }

    fn wait_for(&mut self, at: DateTime<FixedOffset>) {
        let Some(speed) = self.speed else { return };
        let (t0, wall0) = *self.origin.get_or_insert((at, std::time::Instant::now()));
        let Ok(ahead) = (at - t0).to_std() else {
            return;
        };
        let due = wall0 + ahead.div_f64(speed);
        if let Some(wait) = due.checked_duration_since(std::time::Instant::now()) {
            std::thread::sleep(wait);
        }
    }
}
