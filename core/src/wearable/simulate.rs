//! A seeded simulator of a child's wrist band, for tests, benches and demos without radio.
//!
//! Second by second it models: a sleep schedule (bedtime ≈ 21:30, waking ≈ 07:00, an hour later on
//! weekends, jittered per night); heart rate with a circadian term, a lower sleeping level and
//! activity bouts; beat-by-beat RR with respiratory sinus arrhythmia (≈ 0.25 Hz awake, 0.22 Hz
//! asleep, stronger in sleep), a 0.1 Hz LF component and rare ectopic beats; EDA with a mean-reverting
//! tonic level (higher when stressed or active) and skin-conductance responses (Bateman-shaped,
//! Poisson onsets); 3-axis acceleration with gravity, posture changes, fidgeting and ~2 Hz walking in
//! activity bouts, near-stillness in sleep; distal skin temperature that warms in sleep; battery drain.
//! The same seed and start give the same stream.

use std::collections::VecDeque;
use std::f64::consts::TAU;

use chrono::{DateTime, Datelike, Duration, FixedOffset, Timelike};

use super::gatt::{HeartRateMeasurement, SensorContact, encode_heart_rate};
use super::migru::{MigruPacket, Samples, encode_migru};
use super::sample::{Reading, SensorEvent, SensorSample};
use super::source::{SensorSource, SourceFuture};
use super::uuids;

pub use crate::sample::SplitMix64;

#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    pub seed: u64,
    pub start: DateTime<FixedOffset>,
    pub duration: Duration,
    pub accel_hz: u8,
    pub eda_hz: u8,
    /// Pace events in real time when run as a [`SensorSource`] (false: as fast as consumed).
    pub real_time: bool,
}

impl SimConfig {
    pub fn new(seed: u64, start: DateTime<FixedOffset>, duration: Duration) -> Self {
        SimConfig {
            seed,
            start,
            duration,
            accel_hz: 32,
            eda_hz: 4,
            real_time: false,
        }
    }
}

#[derive(Debug, Clone)]
struct ScrPulse {
    onset_s: f64,
    amplitude: f64,
}

/// The simulator; an iterator of samples in time order, and a [`SensorSource`].
#[derive(Debug, Clone)]
pub struct Simulator {
    config: SimConfig,
    rng: SplitMix64,
    second: i64,
    total_seconds: i64,
    queue: VecDeque<SensorSample>,
    next_beat_s: f64,
    hr_noise: f64,
    tonic_us: f64,
    pulses: Vec<ScrPulse>,
    activity: f64,
    activity_left_s: i64,
    stress: f64,
    stress_left_s: i64,
    gravity: [f64; 3],
    skin_temp_c: f64,
    battery: f64,
    lf_phase: f64,
}

impl Simulator {
    pub fn new(config: SimConfig) -> Self {
        let mut rng = SplitMix64::new(config.seed);
        let lf_phase = rng.uniform(0.0, TAU);
        Simulator {
            total_seconds: config.duration.num_seconds().max(0),
            config,
            rng,
            second: 0,
            queue: VecDeque::new(),
            next_beat_s: 0.0,
            hr_noise: 0.0,
            tonic_us: 1.5,
            pulses: Vec::new(),
            activity: 0.0,
            activity_left_s: 0,
            stress: 0.0,
            stress_left_s: 0,
            gravity: [0.0, 0.0, -1.0],
            skin_temp_c: 33.0,
            battery: 100.0,
            lf_phase,
        }
    }

    /// Whether the child sleeps at `t` (local time of the configured offset).
    pub fn asleep_at(&self, t: DateTime<FixedOffset>) -> bool {
        let (bed_h, wake_h) = self.schedule(t.date_naive());
        let h = f64::from(t.hour()) + f64::from(t.minute()) / 60.0 + f64::from(t.second()) / 3600.0;
        let (prev_bed_h, _) = self.schedule(t.date_naive().pred_opt().unwrap_or(t.date_naive()));
        // Asleep from tonight's bedtime, and this morning from last night's bedtime (if that was
        // after midnight) until waking.
        h >= bed_h || (h < wake_h && h >= (prev_bed_h - 24.0).max(0.0))
    }

    /// Tonight's bedtime and this morning's waking hour (bedtime may exceed 24 = after midnight).
    fn schedule(&self, day: chrono::NaiveDate) -> (f64, f64) {
        let mut r = SplitMix64::new(
            self.config.seed ^ (day.num_days_from_ce() as u64).wrapping_mul(0x9E37),
        );
        let weekend = day.weekday().number_from_monday() >= 6;
        let tomorrow_free = matches!(day.weekday().number_from_monday(), 5 | 6);
        let wake = 7.0 + if weekend { 1.25 } else { 0.0 } + r.normal() * 0.3;
        let bed = 21.5 + if tomorrow_free { 0.75 } else { 0.0 } + r.normal() * 0.4;
        (bed, wake)
    }

    fn generate_second(&mut self) {
        let t0 = self.config.start + Duration::seconds(self.second);
        let asleep = self.asleep_at(t0);
        self.update_states(asleep);
        let elapsed_s = self.second as f64;
        self.push_beats(t0, elapsed_s, asleep);
        self.push_eda(t0, elapsed_s, asleep);
        self.push_accel(t0, asleep);
        if self.second % 10 == 0 {
            self.push_temp(t0, asleep);
        }
        if self.second % 600 == 0 {
            let percent = self.battery.round().clamp(0.0, 100.0) as u8;
            self.queue.push_back(SensorSample {
                at: t0,
                reading: Reading::Battery { percent },
            });
        }
        self.battery = (self.battery - 100.0 / (36.0 * 3600.0)).max(5.0);
        self.second += 1;
    }

    fn update_states(&mut self, asleep: bool) {
        if self.activity_left_s > 0 {
            self.activity_left_s -= 1;
        } else {
            self.activity = 0.0;
            if !asleep && self.rng.next_f64() < 1.0 / 3600.0 {
                self.activity = self.rng.uniform(0.3, 1.0);
                self.activity_left_s = self.rng.uniform(300.0, 2400.0) as i64;
            }
        }
        if self.stress_left_s > 0 {
            self.stress_left_s -= 1;
        } else {
            self.stress = 0.0;
            if !asleep && self.rng.next_f64() < 1.0 / 10_800.0 {
                self.stress = self.rng.uniform(0.5, 1.0);
                self.stress_left_s = self.rng.uniform(600.0, 1800.0) as i64;
            }
        }
    }

    fn heart_rate(&mut self, t: DateTime<FixedOffset>, asleep: bool) -> f64 {
        let hour = f64::from(t.hour()) + f64::from(t.minute()) / 60.0;
        let circadian = 4.0 * (TAU * (hour - 16.0) / 24.0).cos();
        self.hr_noise = 0.995 * self.hr_noise + 0.3 * self.rng.normal();
        let base = if asleep { 64.0 } else { 84.0 };
        base + circadian + 45.0 * self.activity + 10.0 * self.stress + self.hr_noise
    }

    fn push_beats(&mut self, t0: DateTime<FixedOffset>, elapsed_s: f64, asleep: bool) {
        let hr = self.heart_rate(t0, asleep);
        let (resp_hz, rsa) = if asleep {
            (0.22, 0.07)
        } else {
            (0.27, 0.04 * (1.0 - self.activity))
        };
        let mut rr_ms = Vec::with_capacity(4);
        while self.next_beat_s < elapsed_s + 1.0 {
            let mean = 60_000.0 / hr;
            let t = self.next_beat_s;
            let mut rr = mean
                * (1.0
                    + rsa * (TAU * resp_hz * t).sin()
                    + 0.02 * (TAU * 0.1 * t + self.lf_phase).sin())
                + self.rng.normal() * 0.008 * mean;
            if self.rng.next_f64() < 0.0005 {
                rr *= 0.65; // a premature (ectopic) beat; the next one compensates
                self.next_beat_s += rr / 1000.0;
                rr_ms.push(rr);
                rr = mean * 1.35;
            }
            self.next_beat_s += rr / 1000.0;
            rr_ms.push(rr);
        }
        let at = t0 + Duration::seconds(1);
        let bpm = (60_000.0 * rr_ms.len() as f64 / rr_ms.iter().sum::<f64>().max(1.0)).round();
        let contact = SensorContact::Detected;
        self.queue.push_back(SensorSample {
            at,
            reading: Reading::HeartRate {
                bpm,
                contact,
                energy_kj: None,
            },
        });
        if !rr_ms.is_empty() {
            let rr_ms = rr_ms.iter().map(|v| (v * 1.024).round() / 1.024).collect();
            self.queue.push_back(SensorSample {
                at,
                reading: Reading::Rr { rr_ms },
            });
        }
    }

    fn push_eda(&mut self, t0: DateTime<FixedOffset>, elapsed_s: f64, asleep: bool) {
        let target = if asleep {
            0.8
        } else {
            2.0 + 2.5 * self.stress + 1.0 * self.activity
        };
        self.tonic_us += (target - self.tonic_us) / 600.0 + 0.004 * self.rng.normal();
        self.tonic_us = self.tonic_us.max(0.05);
        let rate_per_min = if asleep {
            0.3
        } else {
            1.5 + 4.0 * self.stress + 2.0 * self.activity
        };
        if self.rng.next_f64() < rate_per_min / 60.0 {
            let amplitude = (self.rng.normal() * 0.6 - 1.8).exp().clamp(0.06, 1.5);
            self.pulses.push(ScrPulse {
                onset_s: elapsed_s + self.rng.next_f64(),
                amplitude,
            });
        }
        self.pulses.retain(|p| elapsed_s - p.onset_s < 30.0);
        let hz = f64::from(self.config.eda_hz.max(1));
        let n = self.config.eda_hz.max(1) as usize;
        let microsiemens = (0..n)
            .map(|i| {
                let t = elapsed_s + i as f64 / hz;
                let phasic: f64 = self
                    .pulses
                    .iter()
                    .map(|p| bateman(t - p.onset_s) * p.amplitude)
                    .sum();
                ((self.tonic_us + phasic + 0.002 * self.rng.normal()) * 1000.0).round() / 1000.0
            })
            .collect();
        self.queue.push_back(SensorSample {
            at: t0,
            reading: Reading::Eda { hz, microsiemens },
        });
    }

    fn push_accel(&mut self, t0: DateTime<FixedOffset>, asleep: bool) {
        let posture_rate = if asleep { 1.0 / 1800.0 } else { 1.0 / 240.0 };
        if self.rng.next_f64() < posture_rate {
            let (theta, phi) = (self.rng.uniform(0.0, TAU), self.rng.uniform(0.3, 2.8));
            self.gravity = [phi.sin() * theta.cos(), phi.sin() * theta.sin(), phi.cos()];
        }
        let hz = f64::from(self.config.accel_hz.max(1));
        let n = self.config.accel_hz.max(1) as usize;
        let fidget = if asleep { 0.004 } else { 0.03 };
        let step_hz = 1.8 + 0.4 * self.activity;
        let (mut x, mut y, mut z) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for i in 0..n {
            let t = self.second as f64 + i as f64 / hz;
            let swing = 0.45 * self.activity * (TAU * step_hz * t).sin();
            let g = self.gravity;
            let q = |v: f64| (v * 1000.0).round() / 1000.0;
            x.push(q(g[0] + swing + fidget * self.rng.normal()));
            y.push(q(g[1] + 0.5 * swing + fidget * self.rng.normal()));
            z.push(q(g[2] + 0.8 * swing.abs() + fidget * self.rng.normal()));
        }
        self.queue.push_back(SensorSample {
            at: t0,
            reading: Reading::Accel { hz, x, y, z },
        });
    }

    fn push_temp(&mut self, t0: DateTime<FixedOffset>, asleep: bool) {
        let target = if asleep {
            34.6
        } else {
            32.6 - 0.8 * self.activity
        };
        self.skin_temp_c += (target - self.skin_temp_c) * (10.0 / 1200.0);
        let celsius = (0..10)
            .map(|_| ((self.skin_temp_c + 0.03 * self.rng.normal()) * 100.0).round() / 100.0)
            .collect();
        self.queue.push_back(SensorSample {
            at: t0,
            reading: Reading::SkinTemp { hz: 1.0, celsius },
        });
    }
}

/// A unit-peak Bateman response (rise ≈ 1 s, recovery ≈ 4 s) at `t` seconds after onset.
fn bateman(t: f64) -> f64 {
    const TAU_RISE: f64 = 0.7;
    const TAU_DECAY: f64 = 3.5;
    const PEAK: f64 = 0.6236; // max of exp(-t/3.5) - exp(-t/0.7), at t ≈ 1.40 s
    if t <= 0.0 {
        0.0
    } else {
        ((-t / TAU_DECAY).exp() - (-t / TAU_RISE).exp()) / PEAK
    }
}

impl Iterator for Simulator {
    type Item = SensorSample;

    fn next(&mut self) -> Option<SensorSample> {
        while self.queue.is_empty() && self.second < self.total_seconds {
            self.generate_second();
        }
        self.queue.pop_front()
    }
}

impl SensorSource for Simulator {
    fn name(&self) -> &'static str {
        "simulator"
    }

    fn run(self: Box<Self>, tx: tokio::sync::mpsc::Sender<SensorEvent>) -> SourceFuture {
        Box::pin(async move {
            let real_time = self.config.real_time;
            let start = self.config.start;
            let clock = tokio::time::Instant::now();
            for sample in *self {
                if real_time {
                    let due = (sample.at - start).to_std().unwrap_or_default();
                    tokio::time::sleep_until(clock + due).await;
                }
                if tx.send(SensorEvent::Sample(sample)).await.is_err() {
                    break;
                }
            }
            Ok(())
        })
    }
}

/// Encodes samples as the band's notifications (per-characteristic sequence numbers, device clock
/// in ms since the stream started): the other half of a round trip through [`Decoder`](super::Decoder).
#[derive(Debug, Clone, Default)]
pub struct NotificationEncoder {
    seq: [u16; 3],
    start_ms: Option<i64>,
}

impl NotificationEncoder {
    /// The characteristic and value a band would notify for `sample`; one per sample except
    /// `Rr`, which rides on the preceding heart-rate notification (use [`Self::heart_rate`]).
    pub fn encode(&mut self, sample: &SensorSample) -> Option<(uuid::Uuid, Vec<u8>)> {
        let start = *self.start_ms.get_or_insert(sample.at.timestamp_millis());
        let device_ms = (sample.at.timestamp_millis() - start).rem_euclid(1 << 32) as u32;
        let mut packet = |i: usize, rate: f64, samples: Samples| {
            let seq = self.seq[i];
            self.seq[i] = seq.wrapping_add(1);
            encode_migru(&MigruPacket {
                seq,
                device_ms,
                rate_hz: rate.round().clamp(1.0, 255.0) as u8,
                samples,
            })
        };
        match &sample.reading {
            Reading::HeartRate {
                bpm,
                contact,
                energy_kj,
            } => Some((
                uuids::HEART_RATE_MEASUREMENT,
                Self::heart_rate(*bpm, *contact, *energy_kj, &[]),
            )),
            Reading::Rr { .. } => None,
            Reading::Battery { percent } => Some((uuids::BATTERY_LEVEL, vec![*percent])),
            Reading::Eda { hz, microsiemens } => Some((
                uuids::MIGRU_EDA,
                packet(0, *hz, Samples::Eda(microsiemens.clone())),
            )),
            Reading::SkinTemp { hz, celsius } => Some((
                uuids::MIGRU_SKIN_TEMP,
                packet(1, *hz, Samples::SkinTemp(celsius.clone())),
            )),
            Reading::Accel { hz, x, y, z } => Some((
                uuids::MIGRU_ACCEL,
                packet(
                    2,
                    *hz,
                    Samples::Accel {
                        x: x.clone(),
                        y: y.clone(),
                        z: z.clone(),
                    },
                ),
            )),
        }
    }

    /// A Heart Rate Measurement value with RR intervals (ms, rounded to 1/1024 s).
    pub fn heart_rate(
        bpm: f64,
        contact: SensorContact,
        energy_kj: Option<u16>,
        rr_ms: &[f64],
    ) -> Vec<u8> {
        let bpm = bpm.round().clamp(0.0, 65535.0) as u16;
        let rr_1024 = rr_ms
            .iter()
            .map(|ms| (ms * 1.024).round().clamp(0.0, 65535.0) as u16)
            .collect();
        encode_heart_rate(&HeartRateMeasurement {
            bpm,
            wide_rate: bpm > 255,
            contact,
            energy_kj,
            rr_1024,
        })
    }
}

/// Turns a sample stream into notifications, merging each `Rr` into the heart-rate notification
/// it belongs to (same timestamp), as a real band sends them. Items: (characteristic, value, arrival).
pub fn notifications(
    samples: impl Iterator<Item = SensorSample>,
) -> impl Iterator<Item = (uuid::Uuid, Vec<u8>, DateTime<FixedOffset>)> {
    let mut encoder = NotificationEncoder::default();
    let mut samples = samples.peekable();
    std::iter::from_fn(move || {
        loop {
            let sample = samples.next()?;
            if let Reading::HeartRate {
                bpm,
                contact,
                energy_kj,
            } = sample.reading
            {
                let rr = match samples.peek() {
                    Some(SensorSample {
                        at,
                        reading: Reading::Rr { rr_ms },
                    }) if *at == sample.at => {
                        let value = NotificationEncoder::heart_rate(bpm, contact, energy_kj, rr_ms);
                        samples.next();
                        Some(value)
                    }
                    _ => None,
                };
                let value = rr.unwrap_or_else(|| {
                    NotificationEncoder::heart_rate(bpm, contact, energy_kj, &[])
                });
                return Some((uuids::HEART_RATE_MEASUREMENT, value, sample.at));
            }
            let Some((uuid, value)) = encoder.encode(&sample) else {
                continue;
            };
            // A batch is notified once its last sample is taken.
            let span = match &sample.reading {
                Reading::Eda {
                    hz,
                    microsiemens: v,
                }
                | Reading::SkinTemp { hz, celsius: v } => (v.len() as f64 - 1.0) / hz,
                Reading::Accel { hz, x, .. } => (x.len() as f64 - 1.0) / hz,
                _ => 0.0,
            };
            let arrival =
                sample.at + Duration::milliseconds((span.max(0.0) * 1000.0).round() as i64);
            return Some((uuid, value, arrival));
        }
    })
}
