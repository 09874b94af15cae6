//! Wearable ingest: BLE packet parsers, sensor sources behind one trait, per-minute aggregation.
//!
//! ```text
//! SensorSource (BLE | replay | simulator) ──SensorEvent──► MinuteAggregator ──► SensorMinute
//!        └─ BLE: notification bytes ─► Decoder (parsers, drop counters, sequence gaps)
//! ```
//!
//! Everything below the sources is sans I/O. The mobile apps talk to the band through
//! CoreBluetooth / Android BLE themselves and hand the notification bytes to [`Decoder`]; the
//! `btleplug` source (feature `ble`) is for desktops (the `migru ble` command).

pub mod aggregate;
#[cfg(feature = "ble")]
pub mod ble;
pub mod decoder;
pub mod gatt;
pub mod ingest;
pub mod migru;
pub mod packet;
pub mod replay;
pub mod sample;
pub mod simulate;
pub mod source;
pub mod uuids;

pub use aggregate::{AggregatorConfig, SensorMinute, MinuteAggregator, RawRetention};
pub use decoder::{Decoder, IngestStats, SeqOutcome, SequenceTracker};
pub use gatt::{HeartRateMeasurement, SensorContact};
pub use ingest::{IngestConfig, IngestError, IngestSummary, StoreSink, detect_sleep};
pub use migru::{Channel, MigruPacket, Samples};
pub use packet::{DropCounters, DropReason, PacketError};
pub use replay::ReplaySource;
pub use sample::{ConnectionState, Reading, SensorEvent, SensorSample};
pub use simulate::{SimConfig, Simulator};
pub use source::{Backoff, SensorSource, SensorStream, SourceError};
