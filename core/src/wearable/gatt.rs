//! The standard GATT characteristics: Heart Rate Measurement (0x2A37) and Battery Level (0x2A19).
//!
//! Layouts follow the Bluetooth SIG's GATT Specification Supplement (Heart Rate Measurement
//! §3.106, Battery Level §3.27). All multi-byte fields are little-endian.

use super::packet::{PacketError, u16_le};

const HRM: &str = "heart rate measurement";
const BATTERY: &str = "battery level";

/// Flag bits of the Heart Rate Measurement's first byte. Bits 5–7 are reserved and ignored.
mod flag {
    pub const RATE_U16: u8 = 0x01;
    pub const CONTACT_DETECTED: u8 = 0x02;
    pub const CONTACT_SUPPORTED: u8 = 0x04;
    pub const ENERGY_PRESENT: u8 = 0x08;
    pub const RR_PRESENT: u8 = 0x10;
}

/// The sensor-contact field (flag bits 1–2). When contact is not supported, bit 1 means nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SensorContact {
    NotSupported,
    NotDetected,
    Detected,
}

/// One Heart Rate Measurement notification, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartRateMeasurement {
    pub bpm: u16,
    /// Whether the value was sent as 16 bits (kept so encoding reproduces the wire format).
    pub wide_rate: bool,
    pub contact: SensorContact,
    /// Energy expended since the last reset, in kilojoules.
    pub energy_kj: Option<u16>,
    /// RR intervals in the wire unit, 1/1024 s; see [`rr_to_ms`].
    pub rr_1024: Vec<u16>,
}

/// RR interval in the wire unit (1/1024 s) to milliseconds.
pub fn rr_to_ms(rr_1024: u16) -> f64 {
    f64::from(rr_1024) * (1000.0 / 1024.0)
}

impl HeartRateMeasurement {
    /// The RR intervals in milliseconds.
    pub fn rr_ms(&self) -> impl Iterator<Item = f64> + '_ {
        self.rr_1024.iter().map(|&rr| rr_to_ms(rr))
    }
}

/// Parses a Heart Rate Measurement value. Every flag combination is accepted; a field the flags
/// announce but the bytes lack is `Truncated`, an odd byte after the RR list is `TrailingBytes`.
pub fn parse_heart_rate(bytes: &[u8]) -> Result<HeartRateMeasurement, PacketError> {
    let (&flags, _) = bytes
        .split_first()
        .ok_or(PacketError::Empty { what: HRM })?;
    let wide_rate = flags & flag::RATE_U16 != 0;
    let energy = flags & flag::ENERGY_PRESENT != 0;
    let rr_present = flags & flag::RR_PRESENT != 0;
    let needed = 1 + if wide_rate { 2 } else { 1 } + if energy { 2 } else { 0 };
    if bytes.len() < needed {
        return Err(PacketError::Truncated {
            what: HRM,
            len: bytes.len(),
            needed,
        });
    }
    let bpm = if wide_rate {
        u16_le(bytes, 1).unwrap_or(0)
    } else {
        u16::from(bytes[1])
    };
    let mut at = if wide_rate { 3 } else { 2 };
    let energy_kj = if energy {
        let value = u16_le(bytes, at).unwrap_or(0);
        at += 2;
        Some(value)
    } else {
        None
    };
    let rest = &bytes[at..];
    let rr_1024 = if rr_present {
        parse_rr(rest)?
    } else if !rest.is_empty() {
        return Err(PacketError::TrailingBytes {
            what: HRM,
            extra: rest.len(),
        });
    } else {
        Vec::new()
    };
    Ok(HeartRateMeasurement {
        bpm,
        wide_rate,
        contact: contact_from(flags),
        energy_kj,
        rr_1024,
    })
}

fn parse_rr(rest: &[u8]) -> Result<Vec<u16>, PacketError> {
    if rest.len() < 2 {
        return Err(PacketError::Truncated {
            what: HRM,
            len: rest.len(),
            needed: 2,
        });
    }
    if !rest.len().is_multiple_of(2) {
        return Err(PacketError::TrailingBytes {
            what: HRM,
            extra: 1,
        });
    }
    Ok(rest
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect())
}

fn contact_from(flags: u8) -> SensorContact {
    match (
        flags & flag::CONTACT_SUPPORTED != 0,
        flags & flag::CONTACT_DETECTED != 0,
    ) {
        (false, _) => SensorContact::NotSupported,
        (true, false) => SensorContact::NotDetected,
        (true, true) => SensorContact::Detected,
    }
}

/// Encodes a measurement as a sensor would send it (used by tests, the simulator and fuzz seeds).
/// A `bpm` above 255 is always sent as 16 bits.
pub fn encode_heart_rate(m: &HeartRateMeasurement) -> Vec<u8> {
    let wide = m.wide_rate || m.bpm > 255;
    let mut flags = if wide { flag::RATE_U16 } else { 0 };
    flags |= match m.contact {
        SensorContact::NotSupported => 0,
        SensorContact::NotDetected => flag::CONTACT_SUPPORTED,
        SensorContact::Detected => flag::CONTACT_SUPPORTED | flag::CONTACT_DETECTED,
    };
    if m.energy_kj.is_some() {
        flags |= flag::ENERGY_PRESENT;
    }
    if !m.rr_1024.is_empty() {
        flags |= flag::RR_PRESENT;
    }
    let mut out = Vec::with_capacity(5 + 2 * m.rr_1024.len());
    out.push(flags);
    if wide {
        out.extend_from_slice(&m.bpm.to_le_bytes());
    } else {
        out.push(m.bpm as u8);
    }
    if let Some(kj) = m.energy_kj {
        out.extend_from_slice(&kj.to_le_bytes());
    }
    for rr in &m.rr_1024 {
        out.extend_from_slice(&rr.to_le_bytes());
    }
    out
}

/// Parses a Battery Level value: one byte, a percentage 0–100.
pub fn parse_battery(bytes: &[u8]) -> Result<u8, PacketError> {
    match bytes {
        [] => Err(PacketError::Empty { what: BATTERY }),
        [level] if *level <= 100 => Ok(*level),
        [level] => Err(PacketError::OutOfRange {
            what: BATTERY,
            value: i64::from(*level),
            min: 0,
            max: 100,
        }),
        [_, rest @ ..] => Err(PacketError::TrailingBytes {
            what: BATTERY,
            extra: rest.len(),
        }),
    }
}

pub fn encode_battery(percent: u8) -> [u8; 1] {
    [percent]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(bytes: &[u8], bpm: u16, contact: SensorContact, energy: Option<u16>, rr_ms: &[f64]) {
        let m = parse_heart_rate(bytes).expect("valid measurement");
        assert_eq!(m.bpm, bpm);
        assert_eq!(m.contact, contact);
        assert_eq!(m.energy_kj, energy);
        let got: Vec<f64> = m.rr_ms().collect();
        assert_eq!(got.len(), rr_ms.len());
        for (g, e) in got.iter().zip(rr_ms) {
            assert!((g - e).abs() < 1e-9, "rr {g} != {e}");
        }
    }

    #[test]
    fn eight_bit_rate_without_extras() {
        check(&[0x00, 72], 72, SensorContact::NotSupported, None, &[]);
    }

    #[test]
    fn sixteen_bit_rate() {
        check(
            &[0x01, 0x2C, 0x01],
            300,
            SensorContact::NotSupported,
            None,
            &[],
        );
    }

    #[test]
    fn contact_bits() {
        check(&[0x02, 60], 60, SensorContact::NotSupported, None, &[]);
        check(&[0x04, 60], 60, SensorContact::NotDetected, None, &[]);
        check(&[0x06, 60], 60, SensorContact::Detected, None, &[]);
    }

    #[test]
    fn energy_and_rr() {
        // 16-bit rate 80, energy 0x0102 kJ, RR 1024 (= 1000 ms) and 512 (= 500 ms).
        let bytes = [0x19, 80, 0, 0x02, 0x01, 0x00, 0x04, 0x00, 0x02];
        check(
            &bytes,
            80,
            SensorContact::NotSupported,
            Some(258),
            &[1000.0, 500.0],
        );
    }

    #[test]
    fn rr_unit_is_1024ths_of_a_second() {
        check(
            &[0x10, 70, 0x6C, 0x03],
            70,
            SensorContact::NotSupported,
            None,
            &[855.46875],
        ); // 876 / 1024 s
    }

    #[test]
    fn reserved_bits_are_ignored() {
        check(&[0xE0, 65], 65, SensorContact::NotSupported, None, &[]);
    }

    #[test]
    fn malformed_measurements_name_the_problem() {
        let reason = |b: &[u8]| parse_heart_rate(b).unwrap_err().reason();
        use super::super::DropReason as R;
        assert_eq!(reason(&[]), R::Empty);
        assert_eq!(reason(&[0x00]), R::Truncated);
        assert_eq!(reason(&[0x01, 60]), R::Truncated);
        assert_eq!(reason(&[0x08, 60, 1]), R::Truncated);
        assert_eq!(reason(&[0x10, 60]), R::Truncated);
        assert_eq!(reason(&[0x10, 60, 1, 2, 3]), R::TrailingBytes);
        assert_eq!(reason(&[0x00, 60, 9]), R::TrailingBytes);
    }

    #[test]
    fn battery_level() {
        assert_eq!(parse_battery(&[87]), Ok(87));
        assert_eq!(parse_battery(&[100]), Ok(100));
        assert_eq!(
            parse_battery(&[101]).unwrap_err().reason(),
            super::super::DropReason::OutOfRange
        );
        assert_eq!(
            parse_battery(&[]).unwrap_err().reason(),
            super::super::DropReason::Empty
        );
        assert_eq!(
            parse_battery(&[1, 2]).unwrap_err().reason(),
            super::super::DropReason::TrailingBytes
        );
    }
}
