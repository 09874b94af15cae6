//! A small, deterministic sample diary for the demo and for tests: a few weeks of one child's
//! messages, symptoms, relief, activities, weather, sleep and heart rate. (The full cohort
//! simulator with planted effects lives with the pattern engine.)

use chrono::{DateTime, Duration, FixedOffset};

use crate::event::{ActivityCategory, Body, Record, ReliefStrategy};

/// SplitMix64: tiny, seeded, good enough for sample data, simulation and jitter (not for
/// statistics or security). The one generator of the core's samples and the wearable simulator.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next_f64()
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.next_f64().max(f64::MIN_POSITIVE);
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const MORNING_WORDS: &[&str] = &[
    "my head hurts a bit this morning",
    "woke up with a headache again",
    "headache before school, like a 6",
    "my head is pounding",
];
const CHAT_WORDS: &[&str] = &[
    "we played football at break",
    "I drew a dragon today",
    "maths test tomorrow",
    "had pasta for dinner",
];

/// `days` days of sample records ending the day before `today_midnight` (local time).
pub fn diary(seed: u64, days: u32, today_midnight: DateTime<FixedOffset>) -> Vec<Record> {
    let mut rng = SplitMix64::new(seed);
    let mut out = Vec::new();
    let mut pressure = 1014.0;
    for day in (1..=i64::from(days)).rev() {
        let midnight = today_midnight - Duration::days(day);
        pressure = (pressure + (rng.next_f64() - 0.5) * 8.0).clamp(995.0, 1030.0);
        day_records(&mut rng, midnight, pressure, &mut out);
    }
    out
}

fn day_records(rng: &mut SplitMix64, midnight: DateTime<FixedOffset>, pressure: f64, out: &mut Vec<Record>) {
    let at = |hour: f64| midnight + Duration::minutes((hour * 60.0) as i64);
    let bedtime = 21.0 + rng.next_f64() * 1.5;
    out.push(Record::new(at(bedtime), Body::Sleep { start: at(bedtime - 24.0), end: at(7.0 + rng.next_f64()) }));
    for hour in (0..24).step_by(3) {
        let p = pressure + (rng.next_f64() - 0.5) * 2.0;
        out.push(Record::new(at(f64::from(hour)), Body::Env {
            pressure_hpa: Some((p * 10.0).round() / 10.0),
            temp_c: Some(((12.0 + 6.0 * rng.next_f64()) * 10.0).round() / 10.0),
            humidity_pct: Some((55.0 + 30.0 * rng.next_f64()).round()),
        }));
    }
    for minute in (7 * 60..21 * 60).step_by(30) {
        let bpm = 80.0 + 15.0 * rng.next_f64();
        out.push(Record::new(at(f64::from(minute) / 60.0), Body::Hr { bpm: bpm.round() }));
    }
    out.push(Record::new(at(16.5), Body::Message { text: rng.pick(CHAT_WORDS).to_string() }));
    let rushed = rng.next_f64() < 0.4;
    if rushed {
        out.push(Record::new(at(7.5), Body::Activity { category: ActivityCategory::SkippedMeal, text: Some("no time for breakfast".into()) }));
    }
    if rng.next_f64() < if rushed { 0.7 } else { 0.25 } {
        out.push(Record::new(at(9.0 + rng.next_f64()), Body::Symptom {
            intensity: 3 + rng.below(5) as u8,
            text: Some(rng.pick(MORNING_WORDS).to_string()),
        }));
        let strategy = *rng.pick(&[ReliefStrategy::Water, ReliefStrategy::Rest, ReliefStrategy::DarkRoom]);
        out.push(Record::new(at(11.0), Body::Relief { strategy, text: None }));
    }
    if rng.next_f64() < 0.5 {
        out.push(Record::new(at(19.0), Body::Activity { category: ActivityCategory::ScreenTime, text: None }));
    }
    if rng.next_f64() < 0.4 {
        out.push(Record::new(at(20.5), Body::Intervention { name: "breathing".into() }));
    }
}
