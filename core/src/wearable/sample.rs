//! What every sensor source produces, whatever the transport: timestamped readings in physical
//! units, plus connection changes. Downstream code (aggregation, recording) sees only these.

use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use super::decoder::IngestStats;
use super::gatt::SensorContact;
use crate::event::{Body, Record};

/// One reading at one time. Batched kinds (`Eda`, `SkinTemp`, `Accel`) hold samples at `hz`
/// starting at `at`; `Rr` holds the beats that ended at or just before `at`.
#[derive(Debug, Clone, PartialEq)]
pub struct SensorSample {
    pub at: DateTime<FixedOffset>,
    pub reading: Reading,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    HeartRate {
        bpm: f64,
        contact: SensorContact,
        energy_kj: Option<u16>,
    },
    Rr {
        rr_ms: Vec<f64>,
    },
    Battery {
        percent: u8,
    },
    Eda {
        hz: f64,
        microsiemens: Vec<f64>,
    },
    SkinTemp {
        hz: f64,
        celsius: Vec<f64>,
    },
    Accel {
        hz: f64,
        x: Vec<f64>,
        y: Vec<f64>,
        z: Vec<f64>,
    },
}

/// The link to the band, as the user would want to see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnectionState {
    Scanning,
    Connecting {
        attempt: u32,
    },
    Connected {
        device: String,
    },
    Disconnected {
        reason: String,
    },
    /// Waiting `delay_ms` before reconnect attempt `attempt`.
    Backoff {
        attempt: u32,
        delay_ms: u64,
    },
}

/// Everything a [`SensorSource`](super::SensorSource) sends.
#[derive(Debug, Clone, PartialEq)]
pub enum SensorEvent {
    Sample(SensorSample),
    Connection {
        at: DateTime<FixedOffset>,
        state: ConnectionState,
    },
    /// Drop and gap counters so far (sent by sources that parse packets, when the link changes
    /// and when they end).
    Stats(IngestStats),
}

impl SensorSample {
    /// The import-format record for this sample, if the contract has a kind for it.
    ///
    /// Heart rate, RR, EDA and acceleration map to `hr`, `rr`, `eda`, `accel`. Battery level and
    /// skin temperature have no record kind yet, so they return `None`; so does a heart rate
    /// outside the record format's 20–300 bpm (a band reports 0 while it has no skin contact).
    pub fn to_record(&self, user: &str) -> Option<Record> {
        let body = match &self.reading {
            Reading::HeartRate { bpm, .. } if !(20.0..=300.0).contains(bpm) => return None,
            Reading::HeartRate { bpm, .. } => Body::Hr { bpm: *bpm },
            Reading::Rr { rr_ms } => Body::Rr {
                rr_ms: rr_ms.clone(),
            },
            Reading::Eda { hz, microsiemens } => Body::Eda {
                microsiemens: microsiemens.clone(),
                hz: *hz,
            },
            Reading::Accel { hz, x, y, z } => Body::Accel {
                hz: *hz,
                x: x.clone(),
                y: y.clone(),
                z: z.clone(),
            },
            Reading::Battery { .. } | Reading::SkinTemp { .. } => return None,
        };
        let mut record = Record::new(self.at, body);
        record.user = user.to_owned();
        Some(record)
    }

    /// The sample a sensor record stands for; `None` for kinds that are not sensor readings.
    pub fn from_record(record: &Record) -> Option<SensorSample> {
        let reading = match &record.body {
            Body::Hr { bpm } => Reading::HeartRate {
                bpm: *bpm,
                contact: SensorContact::NotSupported,
                energy_kj: None,
            },
            Body::Rr { rr_ms } => Reading::Rr {
                rr_ms: rr_ms.clone(),
            },
            Body::Eda { microsiemens, hz } => Reading::Eda {
                hz: *hz,
                microsiemens: microsiemens.clone(),
            },
            Body::Accel { hz, x, y, z } => Reading::Accel {
                hz: *hz,
                x: x.clone(),
                y: y.clone(),
                z: z.clone(),
            },
            _ => return None,
        };
        Some(SensorSample {
            at: record.ts,
            reading,
        })
    }
}
