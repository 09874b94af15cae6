//! A stream of notifications through the decoder and the minute aggregator: frames are
//! `[characteristic pick, length, bytes…, seconds to advance]`. Counters must add up and nothing
//! may panic, whatever the order, timing or content.
#![no_main]

use chrono::{DateTime, Duration};
use libfuzzer_sys::fuzz_target;
use migru_core::wearable::{AggregatorConfig, Decoder, MinuteAggregator, uuids};

const TARGETS: [uuid::Uuid; 6] = [
    uuids::HEART_RATE_MEASUREMENT,
    uuids::BATTERY_LEVEL,
    uuids::MIGRU_EDA,
    uuids::MIGRU_SKIN_TEMP,
    uuids::MIGRU_ACCEL,
    uuid::Uuid::nil(),
];

fuzz_target!(|data: &[u8]| {
    let mut at = DateTime::parse_from_rfc3339("2026-03-02T12:00:00+01:00").unwrap();
    let mut decoder = Decoder::new();
    let mut aggregator = MinuteAggregator::new("fuzz", AggregatorConfig::default());
    let mut frames = 0u64;
    let mut rest = data;
    while let [pick, len, tail @ ..] = rest {
        let len = usize::from(*len).min(tail.len());
        let (bytes, after) = tail.split_at(len);
        let mut samples = Vec::new();
        let _ = decoder.decode(
            TARGETS[usize::from(*pick) % TARGETS.len()],
            bytes,
            at,
            |s| samples.push(s),
        );
        for s in samples {
            aggregator.push(s, |m| {
                assert!(m.rmssd_ms.is_none_or(|v| v.is_finite() && v >= 0.0))
            });
        }
        frames += 1;
        let Some((&advance, after)) = after.split_first() else {
            break;
        };
        at += Duration::seconds(i64::from(advance));
        rest = after;
    }
    let stats = decoder.stats();
    assert_eq!(stats.packets_ok + stats.packets_dropped, frames);
    assert_eq!(stats.drops.total(), stats.packets_dropped);
    let _ = aggregator.finish();
});
