//! The Migru sensor service's data packets: EDA, skin temperature, 3-axis acceleration.
//!
//! Every packet is one notification of one characteristic (layout in `docs/ble-sensor-service.md`):
//!
//! ```text
//! offset size field
//! 0      1    version (1)
//! 1      2    sequence number, u16 LE, +1 per notification of this characteristic, wraps
//! 3      4    device time of the first sample, u32 LE, ms since the band booted (wraps)
//! 7      1    sample rate, Hz (1–255)
//! 8      1    sample count n (≥ 1)
//! 9      n×w  samples, LE: EDA u16 nS (w=2); skin temp i16 0.01 °C (w=2); accel 3×i16 mg (w=6)
//! ```

use super::packet::{PacketError, i16_le, u16_le, u32_le};

/// The only layout version this build reads.
pub const PROTOCOL_VERSION: u8 = 1;
/// Bytes before the first sample.
pub const HEADER_LEN: usize = 9;

/// Which data characteristic a packet came from; decides the sample width and unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Eda,
    SkinTemp,
    Accel,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Eda, Channel::SkinTemp, Channel::Accel];

    fn name(self) -> &'static str {
        match self {
            Channel::Eda => "migru eda",
            Channel::SkinTemp => "migru skin temperature",
            Channel::Accel => "migru acceleration",
        }
    }

    /// Bytes per sample on the wire.
    pub fn sample_width(self) -> usize {
        match self {
            Channel::Eda | Channel::SkinTemp => 2,
            Channel::Accel => 6,
        }
    }
}

/// Samples of one packet, in physical units.
#[derive(Debug, Clone, PartialEq)]
pub enum Samples {
    /// Skin conductance, µS.
    Eda(Vec<f64>),
    /// Skin temperature, °C.
    SkinTemp(Vec<f64>),
    /// Acceleration, g, per axis.
    Accel {
        x: Vec<f64>,
        y: Vec<f64>,
        z: Vec<f64>,
    },
}

/// A decoded Migru packet.
#[derive(Debug, Clone, PartialEq)]
pub struct MigruPacket {
    pub seq: u16,
    pub device_ms: u32,
    pub rate_hz: u8,
    pub samples: Samples,
}

impl MigruPacket {
    pub fn len(&self) -> usize {
        match &self.samples {
            Samples::Eda(v) | Samples::SkinTemp(v) => v.len(),
            Samples::Accel { x, .. } => x.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Parses one packet of `channel`. The declared count must match the length exactly.
pub fn parse_migru(channel: Channel, bytes: &[u8]) -> Result<MigruPacket, PacketError> {
    let what = channel.name();
    if bytes.is_empty() {
        return Err(PacketError::Empty { what });
    }
    if bytes.len() < HEADER_LEN {
        return Err(PacketError::Truncated {
            what,
            len: bytes.len(),
            needed: HEADER_LEN,
        });
    }
    if bytes[0] != PROTOCOL_VERSION {
        let version = bytes[0];
        return Err(PacketError::UnsupportedVersion {
            what,
            version,
            supported: PROTOCOL_VERSION,
        });
    }
    let (rate_hz, n) = (bytes[7], usize::from(bytes[8]));
    if rate_hz == 0 {
        return Err(PacketError::ZeroSampleRate { what });
    }
    if n == 0 {
        return Err(PacketError::NoSamples { what });
    }
    let needed = HEADER_LEN + n * channel.sample_width();
    if bytes.len() < needed {
        return Err(PacketError::Truncated {
            what,
            len: bytes.len(),
            needed,
        });
    }
    if bytes.len() > needed {
        return Err(PacketError::TrailingBytes {
            what,
            extra: bytes.len() - needed,
        });
    }
    let seq = u16_le(bytes, 1).unwrap_or(0);
    let device_ms = u32_le(bytes, 3).unwrap_or(0);
    let body = &bytes[HEADER_LEN..];
    Ok(MigruPacket {
        seq,
        device_ms,
        rate_hz,
        samples: decode_samples(channel, body),
    })
}

fn decode_samples(channel: Channel, body: &[u8]) -> Samples {
    let word = |i: usize| i16_le(body, 2 * i).unwrap_or(0);
    match channel {
        Channel::Eda => Samples::Eda(
            (0..body.len() / 2)
                .map(|i| f64::from(word(i) as u16) / 1000.0)
                .collect(),
        ),
        Channel::SkinTemp => Samples::SkinTemp(
            (0..body.len() / 2)
                .map(|i| f64::from(word(i)) / 100.0)
                .collect(),
        ),
        Channel::Accel => {
            let n = body.len() / 6;
            let axis = |k: usize| {
                (0..n)
                    .map(|i| f64::from(word(3 * i + k)) / 1000.0)
                    .collect()
            };
            Samples::Accel {
                x: axis(0),
                y: axis(1),
                z: axis(2),
            }
        }
    }
}

/// Encodes a packet as the band sends it. Values are rounded to the wire resolution and
/// saturate at the wire range; at most 255 samples are written.
pub fn encode_migru(packet: &MigruPacket) -> Vec<u8> {
    let n = packet.len().min(255);
    let width = match packet.samples {
        Samples::Accel { .. } => 6,
        _ => 2,
    };
    let mut out = Vec::with_capacity(HEADER_LEN + n * width);
    out.push(PROTOCOL_VERSION);
    out.extend_from_slice(&packet.seq.to_le_bytes());
    out.extend_from_slice(&packet.device_ms.to_le_bytes());
    out.push(packet.rate_hz);
    out.push(n as u8);
    let mut put = |v: f64, scale: f64, lo: f64, hi: f64| {
        let raw = (v * scale).round().clamp(lo, hi);
        out.extend_from_slice(&((raw as i32) as u16).to_le_bytes());
    };
    match &packet.samples {
        Samples::Eda(v) => v[..n].iter().for_each(|&s| put(s, 1000.0, 0.0, 65535.0)),
        Samples::SkinTemp(v) => v[..n]
            .iter()
            .for_each(|&s| put(s, 100.0, -32768.0, 32767.0)),
        Samples::Accel { x, y, z } => {
            for i in 0..n {
                for axis in [x, y, z] {
                    put(
                        axis.get(i).copied().unwrap_or(0.0),
                        1000.0,
                        -32768.0,
                        32767.0,
                    );
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::DropReason as R;
    use super::*;

    #[test]
    fn eda_packet_in_microsiemens() {
        let bytes = [
            1, 0x34, 0x12, 0xE8, 0x03, 0, 0, 4, 2, 0xD0, 0x07, 0x10, 0x27,
        ];
        let p = parse_migru(Channel::Eda, &bytes).unwrap();
        assert_eq!((p.seq, p.device_ms, p.rate_hz), (0x1234, 1000, 4));
        assert_eq!(p.samples, Samples::Eda(vec![2.0, 10.0]));
    }

    #[test]
    fn skin_temperature_is_signed_hundredths() {
        let bytes = [1, 0, 0, 0, 0, 0, 0, 1, 2, 0x7C, 0x0D, 0x18, 0xFC];
        let p = parse_migru(Channel::SkinTemp, &bytes).unwrap();
        assert_eq!(p.samples, Samples::SkinTemp(vec![34.52, -10.0]));
    }

    #[test]
    fn accel_is_interleaved_milli_g() {
        // (1000, -500, 0) mg
        let bytes = [1, 0, 0, 0, 0, 0, 0, 32, 1, 0xE8, 0x03, 0x0C, 0xFE, 0, 0];
        let p = parse_migru(Channel::Accel, &bytes).unwrap();
        assert_eq!(
            p.samples,
            Samples::Accel {
                x: vec![1.0],
                y: vec![-0.5],
                z: vec![0.0]
            }
        );
    }

    #[test]
    fn malformed_packets_name_the_problem() {
        let reason = |c, b: &[u8]| parse_migru(c, b).unwrap_err().reason();
        assert_eq!(reason(Channel::Eda, &[]), R::Empty);
        assert_eq!(reason(Channel::Eda, &[1, 0, 0]), R::Truncated);
        assert_eq!(
            reason(Channel::Eda, &[2, 0, 0, 0, 0, 0, 0, 4, 1, 0, 0]),
            R::UnsupportedVersion
        );
        assert_eq!(
            reason(Channel::Eda, &[1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]),
            R::ZeroSampleRate
        );
        assert_eq!(
            reason(Channel::Eda, &[1, 0, 0, 0, 0, 0, 0, 4, 0]),
            R::NoSamples
        );
        assert_eq!(
            reason(Channel::Eda, &[1, 0, 0, 0, 0, 0, 0, 4, 2, 0, 0]),
            R::Truncated
        );
        assert_eq!(
            reason(Channel::Eda, &[1, 0, 0, 0, 0, 0, 0, 4, 1, 0, 0, 7]),
            R::TrailingBytes
        );
        assert_eq!(
            reason(Channel::Accel, &[1, 0, 0, 0, 0, 0, 0, 4, 1, 0, 0]),
            R::Truncated
        );
    }

    #[test]
    fn encoder_saturates_instead_of_wrapping() {
        let p = MigruPacket {
            seq: 1,
            device_ms: 0,
            rate_hz: 4,
            samples: Samples::Eda(vec![99.0, -1.0]),
        };
        let back = parse_migru(Channel::Eda, &encode_migru(&p)).unwrap();
        assert_eq!(back.samples, Samples::Eda(vec![65.535, 0.0]));
    }
}
