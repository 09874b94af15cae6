//! What can be wrong with a notification, and the per-reason drop counters.
//!
//! Every parser in this module returns a [`PacketError`]; the [`Decoder`](super::Decoder) turns it
//! into a [`DropReason`] and counts it, so a misbehaving sensor shows up as numbers, not as panics.

use serde::Serialize;

/// Why a packet could not be parsed. Messages name the characteristic and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    #[error("{what}: empty packet")]
    Empty { what: &'static str },
    #[error("{what}: {len} bytes, at least {needed} needed")]
    Truncated {
        what: &'static str,
        len: usize,
        needed: usize,
    },
    #[error("{what}: {extra} unexpected trailing bytes")]
    TrailingBytes { what: &'static str, extra: usize },
    #[error("{what}: protocol version {version} is not supported (expected {supported})")]
    UnsupportedVersion {
        what: &'static str,
        version: u8,
        supported: u8,
    },
    #[error("{what}: sample rate of 0 Hz")]
    ZeroSampleRate { what: &'static str },
    #[error("{what}: packet declares no samples")]
    NoSamples { what: &'static str },
    #[error("{what}: value {value} outside {min}..={max}")]
    OutOfRange {
        what: &'static str,
        value: i64,
        min: i64,
        max: i64,
    },
    #[error("{what}: sequence {seq} is behind {expected} (duplicate or reordered)")]
    StaleSequence {
        what: &'static str,
        seq: u16,
        expected: u16,
    },
    #[error("notification from unknown characteristic {uuid}")]
    UnknownCharacteristic { uuid: uuid::Uuid },
}

/// The reason a packet was dropped, one counter each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    Empty,
    Truncated,
    TrailingBytes,
    UnsupportedVersion,
    ZeroSampleRate,
    NoSamples,
    OutOfRange,
    StaleSequence,
    UnknownCharacteristic,
}

impl DropReason {
    pub const ALL: [DropReason; 9] = [
        DropReason::Empty,
        DropReason::Truncated,
        DropReason::TrailingBytes,
        DropReason::UnsupportedVersion,
        DropReason::ZeroSampleRate,
        DropReason::NoSamples,
        DropReason::OutOfRange,
        DropReason::StaleSequence,
        DropReason::UnknownCharacteristic,
    ];

    /// The stable `snake_case` name used in JSON output and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Empty => "empty",
            DropReason::Truncated => "truncated",
            DropReason::TrailingBytes => "trailing_bytes",
            DropReason::UnsupportedVersion => "unsupported_version",
            DropReason::ZeroSampleRate => "zero_sample_rate",
            DropReason::NoSamples => "no_samples",
            DropReason::OutOfRange => "out_of_range",
            DropReason::StaleSequence => "stale_sequence",
            DropReason::UnknownCharacteristic => "unknown_characteristic",
        }
    }
}

impl PacketError {
    pub fn reason(&self) -> DropReason {
        match self {
            PacketError::Empty { .. } => DropReason::Empty,
            PacketError::Truncated { .. } => DropReason::Truncated,
            PacketError::TrailingBytes { .. } => DropReason::TrailingBytes,
            PacketError::UnsupportedVersion { .. } => DropReason::UnsupportedVersion,
            PacketError::ZeroSampleRate { .. } => DropReason::ZeroSampleRate,
            PacketError::NoSamples { .. } => DropReason::NoSamples,
            PacketError::OutOfRange { .. } => DropReason::OutOfRange,
            PacketError::StaleSequence { .. } => DropReason::StaleSequence,
            PacketError::UnknownCharacteristic { .. } => DropReason::UnknownCharacteristic,
        }
    }
}

/// One counter per [`DropReason`]; fixed size, so counting never allocates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DropCounters([u64; DropReason::ALL.len()]);

impl DropCounters {
    pub fn count(&mut self, reason: DropReason) {
        self.0[reason as usize] += 1;
    }

    pub fn get(&self, reason: DropReason) -> u64 {
        self.0[reason as usize]
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// The non-zero counters, in [`DropReason::ALL`] order.
    pub fn nonzero(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL
            .iter()
            .map(|r| (*r, self.get(*r)))
            .filter(|(_, n)| *n > 0)
    }
}

impl Serialize for DropCounters {
    /// A map from reason name to count, listing only reasons that occurred.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        for (reason, n) in self.nonzero() {
            map.serialize_entry(reason.as_str(), &n)?;
        }
        map.end()
    }
}

/// Little-endian readers that never panic: each returns `None` past the end.
pub(crate) fn u16_le(bytes: &[u8], at: usize) -> Option<u16> {
    let b = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

pub(crate) fn i16_le(bytes: &[u8], at: usize) -> Option<i16> {
    u16_le(bytes, at).map(|v| v as i16)
}

pub(crate) fn u32_le(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}
