//! From notifications (characteristic UUID + bytes + arrival time) to [`SensorSample`]s, counting
//! every dropped packet by reason and every sequence gap. Sans I/O: the BLE source, the mobile apps
//! (which receive bytes from CoreBluetooth / Android BLE) and the benches all feed it the same way.

use chrono::{DateTime, Duration, FixedOffset};
use serde::Serialize;
use uuid::Uuid;

use super::gatt::{parse_battery, parse_heart_rate};
use super::migru::{Channel, MigruPacket, Samples, parse_migru};
use super::packet::{DropCounters, PacketError};
use super::sample::{Reading, SensorSample};
use super::uuids;

/// What a sequence number says about the packets before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqOutcome {
    /// The first packet since a (re)connect.
    First,
    InOrder,
    /// `missing` packets were lost before this one.
    Gap {
        missing: u16,
    },
    /// Behind the expected number: a duplicate or a reordered packet.
    Stale {
        expected: u16,
    },
}

/// Follows one characteristic's u16 sequence numbers across wraparound: a forward distance below
/// 2^15 is a gap, anything else is behind us.
#[derive(Debug, Clone, Copy, Default)]
pub struct SequenceTracker {
    expected: Option<u16>,
}

impl SequenceTracker {
    pub fn observe(&mut self, seq: u16) -> SeqOutcome {
        let Some(expected) = self.expected else {
            self.expected = Some(seq.wrapping_add(1));
            return SeqOutcome::First;
        };
        let ahead = seq.wrapping_sub(expected);
        if ahead >= 0x8000 {
            return SeqOutcome::Stale { expected };
        }
        self.expected = Some(seq.wrapping_add(1));
        if ahead == 0 {
            SeqOutcome::InOrder
        } else {
            SeqOutcome::Gap { missing: ahead }
        }
    }

    /// Forget the last number (the band may restart its counters after a reconnect).
    pub fn reset(&mut self) {
        self.expected = None;
    }
}

/// Counters of one ingest session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct IngestStats {
    pub packets_ok: u64,
    pub packets_dropped: u64,
    pub drops: DropCounters,
    /// Number of gaps (a jump in a sequence number), and packets missing in them.
    pub gaps: u64,
    pub missing_packets: u64,
}

/// Maps one channel's device clock (ms since boot) onto wall time.
#[derive(Debug, Clone, Copy, Default)]
struct ClockAnchor {
    /// Host UTC ms at device time 0; `None` until the first packet.
    offset_ms: Option<i64>,
}

impl ClockAnchor {
    /// Re-anchors when the prediction is in the future or more than this far behind arrival.
    const MAX_LAG_MS: i64 = 10_000;

    /// UTC ms of the first sample of a packet that arrived at `received_ms`.
    fn first_sample_ms(&mut self, device_ms: u32, span_ms: i64, received_ms: i64) -> i64 {
        let device_ms = i64::from(device_ms);
        if let Some(offset) = self.offset_ms {
            let end = offset + device_ms + span_ms;
            if end <= received_ms && received_ms - end <= Self::MAX_LAG_MS {
                return offset + device_ms;
            }
        }
        let offset = received_ms - span_ms - device_ms;
        self.offset_ms = Some(offset);
        offset + device_ms
    }
}

/// Parses notifications of the standard and Migru characteristics into samples.
#[derive(Debug, Clone, Default)]
pub struct Decoder {
    stats: IngestStats,
    seq: [SequenceTracker; 3],
    clock: [ClockAnchor; 3],
}

fn channel_index(channel: Channel) -> usize {
    match channel {
        Channel::Eda => 0,
        Channel::SkinTemp => 1,
        Channel::Accel => 2,
    }
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn stats(&self) -> IngestStats {
        self.stats
    }

    /// Call on every (re)connect: sequence numbers and device clocks start over.
    pub fn reset_link(&mut self) {
        self.seq = Default::default();
        self.clock = Default::default();
    }

    /// Decodes one notification, passing each sample to `emit`. A malformed packet is counted
    /// under its [`DropReason`](super::DropReason) and returned as the error; nothing is emitted.
    pub fn decode(
        &mut self,
        characteristic: Uuid,
        bytes: &[u8],
        received_at: DateTime<FixedOffset>,
        emit: impl FnMut(SensorSample),
    ) -> Result<(), PacketError> {
        let result = self.decode_inner(characteristic, bytes, received_at, emit);
        match &result {
            Ok(()) => self.stats.packets_ok += 1,
            Err(error) => {
                self.stats.packets_dropped += 1;
                self.stats.drops.count(error.reason());
            }
        }
        result
    }

    fn decode_inner(
        &mut self,
        characteristic: Uuid,
        bytes: &[u8],
        at: DateTime<FixedOffset>,
        mut emit: impl FnMut(SensorSample),
    ) -> Result<(), PacketError> {
        let channel = match characteristic {
            uuids::HEART_RATE_MEASUREMENT => return decode_heart_rate(bytes, at, emit),
            uuids::BATTERY_LEVEL => {
                let percent = parse_battery(bytes)?;
                emit(SensorSample {
                    at,
                    reading: Reading::Battery { percent },
                });
                return Ok(());
            }
            uuids::MIGRU_EDA => Channel::Eda,
            uuids::MIGRU_SKIN_TEMP => Channel::SkinTemp,
            uuids::MIGRU_ACCEL => Channel::Accel,
            uuid => return Err(PacketError::UnknownCharacteristic { uuid }),
        };
        let packet = parse_migru(channel, bytes)?;
        self.check_sequence(channel, packet.seq)?;
        emit(self.timestamp(channel, packet, at));
        Ok(())
    }

    fn check_sequence(&mut self, channel: Channel, seq: u16) -> Result<(), PacketError> {
        match self.seq[channel_index(channel)].observe(seq) {
            SeqOutcome::First | SeqOutcome::InOrder => Ok(()),
            SeqOutcome::Gap { missing } => {
                self.stats.gaps += 1;
                self.stats.missing_packets += u64::from(missing);
                tracing::debug!(?channel, missing, "sequence gap");
                Ok(())
            }
            SeqOutcome::Stale { expected } => Err(PacketError::StaleSequence {
                what: "migru packet",
                seq,
                expected,
            }),
        }
    }

    fn timestamp(
        &mut self,
        channel: Channel,
        packet: MigruPacket,
        at: DateTime<FixedOffset>,
    ) -> SensorSample {
        let hz = f64::from(packet.rate_hz);
        let span_ms = ((packet.len() as f64 - 1.0) * 1000.0 / hz).round() as i64;
        let received_ms = at.timestamp_millis();
        let first = self.clock[channel_index(channel)].first_sample_ms(
            packet.device_ms,
            span_ms,
            received_ms,
        );
        let start = at + Duration::milliseconds(first - received_ms);
        let reading = match packet.samples {
            Samples::Eda(microsiemens) => Reading::Eda { hz, microsiemens },
            Samples::SkinTemp(celsius) => Reading::SkinTemp { hz, celsius },
            Samples::Accel { x, y, z } => Reading::Accel { hz, x, y, z },
        };
        SensorSample { at: start, reading }
    }
}

fn decode_heart_rate(
    bytes: &[u8],
    at: DateTime<FixedOffset>,
    mut emit: impl FnMut(SensorSample),
) -> Result<(), PacketError> {
    let m = parse_heart_rate(bytes)?;
    let bpm = f64::from(m.bpm);
    emit(SensorSample {
        at,
        reading: Reading::HeartRate {
            bpm,
            contact: m.contact,
            energy_kj: m.energy_kj,
        },
    });
    if !m.rr_1024.is_empty() {
        emit(SensorSample {
            at,
            reading: Reading::Rr {
                rr_ms: m.rr_ms().collect(),
            },
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wearable::DropReason;
    use crate::wearable::migru::encode_migru;

    fn t(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    fn eda_packet(seq: u16, device_ms: u32) -> Vec<u8> {
        encode_migru(&MigruPacket {
            seq,
            device_ms,
            rate_hz: 4,
            samples: Samples::Eda(vec![1.0; 4]),
        })
    }

    #[test]
    fn sequence_gaps_are_counted_across_wraparound() {
        let mut tracker = SequenceTracker::default();
        assert_eq!(tracker.observe(65534), SeqOutcome::First);
        assert_eq!(tracker.observe(65535), SeqOutcome::InOrder);
        assert_eq!(tracker.observe(0), SeqOutcome::InOrder);
        assert_eq!(tracker.observe(3), SeqOutcome::Gap { missing: 2 });
        assert_eq!(tracker.observe(3), SeqOutcome::Stale { expected: 4 });
        assert_eq!(tracker.observe(65000), SeqOutcome::Stale { expected: 4 });
        assert_eq!(tracker.observe(4), SeqOutcome::InOrder);
    }

    #[test]
    fn decoder_counts_drops_by_reason_and_gaps() {
        let mut d = Decoder::new();
        let at = t("2026-03-01T10:00:01+01:00");
        let mut n = 0;
        for (seq, ms) in [(10, 0), (11, 1000), (14, 4000), (12, 2000)] {
            let _ = d.decode(uuids::MIGRU_EDA, &eda_packet(seq, ms), at, |_| n += 1);
        }
        let _ = d.decode(uuids::HEART_RATE_MEASUREMENT, &[0x10, 60, 1], at, |_| {
            n += 1
        });
        let _ = d.decode(Uuid::nil(), &[1], at, |_| n += 1);
        let s = d.stats();
        assert_eq!(n, 3);
        assert_eq!(
            (s.packets_ok, s.packets_dropped, s.gaps, s.missing_packets),
            (3, 3, 1, 2)
        );
        assert_eq!(s.drops.get(DropReason::StaleSequence), 1);
        assert_eq!(s.drops.get(DropReason::Truncated), 1);
        assert_eq!(s.drops.get(DropReason::UnknownCharacteristic), 1);
    }

    #[test]
    fn device_clock_places_samples_between_arrivals() {
        let mut d = Decoder::new();
        let mut starts = Vec::new();
        // Packets of 4 samples at 4 Hz: the first arrives at 10:00:01, the next one 1.2 s later
        // (radio latency); the device clock says it began exactly 1 s after the first.
        let arrivals = [
            ("2026-03-01T10:00:01+00:00", 5000),
            ("2026-03-01T10:00:02.200+00:00", 6000),
        ];
        for (seq, (arrival, ms)) in arrivals.iter().enumerate() {
            d.decode(
                uuids::MIGRU_EDA,
                &eda_packet(seq as u16, *ms),
                t(arrival),
                |s| starts.push(s.at),
            )
            .unwrap();
        }
        assert_eq!(starts[0], t("2026-03-01T10:00:00.250+00:00"));
        assert_eq!(starts[1], t("2026-03-01T10:00:01.250+00:00"));
    }

    #[test]
    fn heart_rate_with_rr_gives_two_samples() {
        let mut d = Decoder::new();
        let mut got = Vec::new();
        d.decode(
            uuids::HEART_RATE_MEASUREMENT,
            &[0x16, 75, 0x00, 0x04],
            t("2026-03-01T10:00:00Z"),
            |s| got.push(s.reading),
        )
        .unwrap();
        assert!(matches!(got[0], Reading::HeartRate { bpm, .. } if bpm == 75.0));
        assert_eq!(
            got[1],
            Reading::Rr {
                rr_ms: vec![1000.0]
            }
        );
    }
}
