//! Property tests of the BLE parsers: encoder round trips, and no panic on any bytes.

use chrono::DateTime;
use migru_core::wearable::gatt::{encode_heart_rate, parse_battery, parse_heart_rate};
use migru_core::wearable::migru::{HEADER_LEN, encode_migru, parse_migru};
use migru_core::wearable::{
    Channel, Decoder, HeartRateMeasurement, MigruPacket, Samples, SensorContact, uuids,
};
use proptest::prelude::*;

fn contact() -> impl Strategy<Value = SensorContact> {
    prop_oneof![
        Just(SensorContact::NotSupported),
        Just(SensorContact::NotDetected),
        Just(SensorContact::Detected)
    ]
}

fn measurement() -> impl Strategy<Value = HeartRateMeasurement> {
    (
        any::<u16>(),
        any::<bool>(),
        contact(),
        proptest::option::of(any::<u16>()),
        proptest::collection::vec(any::<u16>(), 0..40),
    )
        .prop_map(|(bpm, wide, contact, energy_kj, rr_1024)| {
            let bpm = if wide { bpm } else { bpm % 256 };
            HeartRateMeasurement {
                bpm,
                wide_rate: wide,
                contact,
                energy_kj,
                rr_1024,
            }
        })
}

fn channel() -> impl Strategy<Value = Channel> {
    prop_oneof![
        Just(Channel::Eda),
        Just(Channel::SkinTemp),
        Just(Channel::Accel)
    ]
}

/// A packet whose values are exactly representable on the wire.
fn packet() -> impl Strategy<Value = (Channel, MigruPacket)> {
    (
        channel(),
        any::<u16>(),
        any::<u32>(),
        1u8..=255,
        proptest::collection::vec(any::<(i16, i16, i16)>(), 1..=40),
    )
        .prop_map(|(channel, seq, device_ms, rate_hz, raw)| {
            let samples = match channel {
                Channel::Eda => {
                    Samples::Eda(raw.iter().map(|r| f64::from(r.0 as u16) / 1000.0).collect())
                }
                Channel::SkinTemp => {
                    Samples::SkinTemp(raw.iter().map(|r| f64::from(r.0) / 100.0).collect())
                }
                Channel::Accel => Samples::Accel {
                    x: raw.iter().map(|r| f64::from(r.0) / 1000.0).collect(),
                    y: raw.iter().map(|r| f64::from(r.1) / 1000.0).collect(),
                    z: raw.iter().map(|r| f64::from(r.2) / 1000.0).collect(),
                },
            };
            (
                channel,
                MigruPacket {
                    seq,
                    device_ms,
                    rate_hz,
                    samples,
                },
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn heart_rate_round_trips(m in measurement()) {
        let bytes = encode_heart_rate(&m);
        prop_assert_eq!(parse_heart_rate(&bytes), Ok(m));
    }

    #[test]
    fn migru_packets_round_trip((channel, p) in packet()) {
        let bytes = encode_migru(&p);
        prop_assert_eq!(bytes.len(), HEADER_LEN + p.len() * channel.sample_width());
        prop_assert_eq!(parse_migru(channel, &bytes), Ok(p));
    }

    #[test]
    fn every_strict_prefix_of_a_migru_packet_is_rejected((channel, p) in packet(), cut in any::<prop::sample::Index>()) {
        let bytes = encode_migru(&p);
        let cut = cut.index(bytes.len());
        prop_assert!(parse_migru(channel, &bytes[..cut]).is_err());
    }

    #[test]
    fn battery_accepts_exactly_0_to_100(level in any::<u8>()) {
        prop_assert_eq!(parse_battery(&[level]).is_ok(), level <= 100);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600), which in 0usize..6) {
        let _ = parse_heart_rate(&bytes);
        let _ = parse_battery(&bytes);
        for channel in Channel::ALL {
            let _ = parse_migru(channel, &bytes);
        }
        let uuid = [uuids::HEART_RATE_MEASUREMENT, uuids::BATTERY_LEVEL, uuids::MIGRU_EDA,
            uuids::MIGRU_SKIN_TEMP, uuids::MIGRU_ACCEL, uuid::Uuid::nil()][which];
        let mut decoder = Decoder::new();
        let at = DateTime::parse_from_rfc3339("2026-03-01T10:00:00+01:00").unwrap();
        let mut n = 0;
        let result = decoder.decode(uuid, &bytes, at, |_| n += 1);
        let stats = decoder.stats();
        prop_assert_eq!(stats.packets_ok + stats.packets_dropped, 1);
        prop_assert_eq!(result.is_err(), stats.drops.total() == 1);
        prop_assert!(result.is_ok() || n == 0);
    }

    #[test]
    fn arbitrary_flag_bytes_parse_or_name_a_reason(flags in any::<u8>(), rest in proptest::collection::vec(any::<u8>(), 0..12)) {
        let mut bytes = vec![flags];
        bytes.extend(rest);
        if let Err(e) = parse_heart_rate(&bytes) {
            prop_assert!(!e.to_string().is_empty());
        }
    }
}
