//! Wearable ingest costs: one BLE notification parsed and aggregated (target < 1 µs), and a
//! simulated 24 h of a wrist band (32 Hz acceleration, 4 Hz EDA, 1 Hz heart rate + RR, 1 Hz skin
//! temperature in 10 s packets) through the decoder and the minute aggregator.
//!
//! Per-notification benches patch the sequence number and device clock of one template packet
//! and advance the arrival time by 1 s each iteration, so the decoder sees an in-order stream and
//! the aggregator closes a minute every 60 iterations, as in real use.

use std::hint::black_box;

use chrono::{DateTime, Duration, FixedOffset};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use migru_core::wearable::migru::{MigruPacket, Samples, encode_migru};
use migru_core::wearable::simulate::{NotificationEncoder, notifications};
use migru_core::wearable::{
    AggregatorConfig, Decoder, MinuteAggregator, SensorContact, SimConfig, Simulator, uuids,
};
use uuid::Uuid;

fn start() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2026-03-02T00:00:00+01:00").unwrap()
}

/// Decodes and aggregates `template` over and over as an in-order stream.
fn bench_notification(
    c: &mut Criterion,
    name: &str,
    uuid: Uuid,
    template: Vec<u8>,
    aggregate: bool,
) {
    let mut decoder = Decoder::new();
    let mut aggregator = MinuteAggregator::new("bench", AggregatorConfig::default());
    let mut bytes = template;
    let mut at = start();
    let mut i: u32 = 0;
    let mut minutes = 0u64;
    c.bench_function(name, |b| {
        b.iter(|| {
            if uuid != uuids::HEART_RATE_MEASUREMENT {
                bytes[1..3].copy_from_slice(&(i as u16).to_le_bytes());
                bytes[3..7].copy_from_slice(&i.wrapping_mul(1000).to_le_bytes());
            }
            i = i.wrapping_add(1);
            at += Duration::seconds(1);
            let _ = decoder.decode(uuid, black_box(&bytes), at, |s| {
                if aggregate {
                    aggregator.push(s, |_| minutes += 1)
                } else {
                    black_box(s);
                }
            });
        })
    });
    assert_eq!(decoder.stats().packets_dropped, 0);
    black_box(minutes);
}

fn per_notification(c: &mut Criterion) {
    let hr = NotificationEncoder::heart_rate(72.0, SensorContact::Detected, None, &[812.5, 845.7]);
    let eda = encode_migru(&MigruPacket {
        seq: 0,
        device_ms: 0,
        rate_hz: 4,
        samples: Samples::Eda(vec![2.1, 2.11, 2.13, 2.12]),
    });
    let n = 32;
    let wave = |k: f64| {
        (0..n)
            .map(|i| (i as f64 * k).sin() * 0.3)
            .collect::<Vec<f64>>()
    };
    let accel = encode_migru(&MigruPacket {
        seq: 0,
        device_ms: 0,
        rate_hz: 32,
        samples: Samples::Accel {
            x: wave(0.4),
            y: wave(0.7),
            z: wave(0.1).iter().map(|v| v + 1.0).collect(),
        },
    });
    for aggregate in [false, true] {
        let what = if aggregate {
            "parse+aggregate"
        } else {
            "parse"
        };
        bench_notification(
            c,
            &format!("notification/{what}/hr_2rr"),
            uuids::HEART_RATE_MEASUREMENT,
            hr.clone(),
            aggregate,
        );
        bench_notification(
            c,
            &format!("notification/{what}/eda_4"),
            uuids::MIGRU_EDA,
            eda.clone(),
            aggregate,
        );
        bench_notification(
            c,
            &format!("notification/{what}/accel_32x3"),
            uuids::MIGRU_ACCEL,
            accel.clone(),
            aggregate,
        );
    }
}

fn day(c: &mut Criterion) {
    let config = SimConfig::new(1, start(), Duration::hours(24));
    let stream: Vec<(Uuid, Vec<u8>, DateTime<FixedOffset>)> =
        notifications(Simulator::new(config.clone())).collect();
    let bytes: usize = stream.iter().map(|(_, v, _)| v.len()).sum();
    eprintln!(
        "24 h stream: {} notifications, {} bytes",
        stream.len(),
        bytes
    );
    let mut group = c.benchmark_group("day");
    group.sample_size(10);
    group.throughput(Throughput::Elements(stream.len() as u64));
    group.bench_function("decode+aggregate_24h", |b| {
        b.iter(|| {
            let mut decoder = Decoder::new();
            let mut aggregator = MinuteAggregator::new("bench", AggregatorConfig::default());
            let mut minutes = 0u32;
            for (uuid, value, at) in &stream {
                let _ = decoder.decode(*uuid, value, *at, |s| aggregator.push(s, |_| minutes += 1));
            }
            minutes += aggregator.finish().len() as u32;
            assert_eq!(decoder.stats().packets_dropped, 0);
            minutes
        })
    });
    group.bench_function("simulate_24h", |b| {
        b.iter(|| Simulator::new(config.clone()).count())
    });
    group.finish();
}

criterion_group!(benches, per_notification, day);
criterion_main!(benches);
