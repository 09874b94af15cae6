//! The incremental engine equals a from-scratch batch computation (issue 3): on random streams
//! that arrive out of order (within the lateness bound), with duplicates, and across a restart
//! from serialised state.

use chrono::{FixedOffset, TimeZone};
use migru_core::event::{ActivityCategory, Body, Record, ReliefStrategy, content_id};
use migru_core::patterns::cell::{CellInputs, HOUR_MS, MINUTE_MS, span_mask};
use migru_core::patterns::{
    Aggregates, DEFAULT_LATENESS_MS, EPISODE_GAP_MS, Engine, Observed, QUICK_RELIEF_MS, RELIEF_LOOKBACK_MS,
    TRIGGER_WINDOW_MS,
};
use proptest::prelude::*;

const T0: i64 = 1_790_000_000_000; // 2026-09-21
const SPAN_MS: i64 = 6 * 24 * HOUR_MS;

#[derive(Debug, Clone)]
struct Ev {
    ts: i64,
    kind: u8,
    arg: u8,
    delay: i64,
    dup: bool,
}

fn ev() -> impl Strategy<Value = Ev> {
    (0..SPAN_MS / MINUTE_MS, 0u8..6, 0u8..15, 0..=DEFAULT_LATENESS_MS / MINUTE_MS, prop::bool::weighted(0.1)).prop_map(
        |(m, kind, arg, d, dup)| Ev { ts: T0 + m * MINUTE_MS, kind, arg, delay: d * MINUTE_MS, dup },
    )
}

fn record(e: &Ev, user: &str, offset_min: i32) -> Record {
    let tz = FixedOffset::east_opt(offset_min * 60).expect("offset");
    let at = |ms: i64| tz.timestamp_millis_opt(ms).single().expect("time");
    let body = match e.kind {
        0 => Body::Symptom { intensity: 5, text: Some("my head hurts".into()) },
        1 => Body::Relief { strategy: ReliefStrategy::ALL[usize::from(e.arg) % 11], text: None },
        2 => Body::Activity { category: ActivityCategory::ALL[usize::from(e.arg)], text: Some("x".into()) },
        3 => Body::Env {
            pressure_hpa: Some(1000.0 + f64::from(e.arg) * 1.7),
            temp_c: Some(20.0 + f64::from(e.arg)),
            humidity_pct: Some(60.0 + f64::from(e.arg) * 2.5),
        },
        4 => Body::Sleep { start: at(e.ts), end: at(e.ts + (4 + i64::from(e.arg) / 2) * HOUR_MS) },
        _ => Body::Message { text: "hi".into() },
    };
    let mut r = Record::new(at(e.ts), body);
    r.user = user.to_owned();
    r
}

/// Everything the reference needs of one record.
#[derive(Debug, Clone)]
struct Flat {
    ts: i64,
    id: u64,
    offset: i32,
    record: Record,
}

fn event_time(r: &Record) -> i64 {
    match &r.body {
        Body::Sleep { start, .. } => start.timestamp_millis(),
        _ => r.ts_utc_ms(),
    }
}

/// The reference: straight scans over the whole sorted list, hour by hour, no state.
fn batch(records: &[Record]) -> Aggregates {
    let mut flat: Vec<Flat> = records
        .iter()
        .map(|r| Flat { ts: event_time(r), id: content_id(r).as_u128() as u64, offset: r.utc_offset_min(), record: r.clone() })
        .collect();
    flat.sort_by_key(|f| (f.ts, f.id));
    flat.dedup_by_key(|f| (f.ts, f.id));
    let first = flat.first().map(|f| f.ts).unwrap_or(0);
    let last = flat.last().map(|f| f.ts).unwrap_or(0);
    let before = |a: &Flat, t: i64, id: u64| (a.ts, a.id) < (t, id);
    let is_symptom = |f: &Flat| matches!(f.record.body, Body::Symptom { .. });
    let is_onset = |f: &Flat| is_symptom(f) && !flat.iter().any(|g| is_symptom(g) && g.ts >= f.ts - EPISODE_GAP_MS && before(g, f.ts, f.id));
    let mut totals = Aggregates::new();
    let first_offset = flat.first().map_or(0, |f| f.offset);
    // The observation (at-risk time) starts at the child's first own record, not at a weather
    // reading.
    let observed_from = flat.iter().find(|f| !matches!(f.record.body, Body::Env { .. })).map(|f| f.ts);
    for hour in first.div_euclid(HOUR_MS)..=last.div_euclid(HOUR_MS) {
        let (start, end) = (hour * HOUR_MS, hour * HOUR_MS + HOUR_MS);
        let offset = flat.iter().rfind(|f| f.ts >= end - 24 * HOUR_MS && f.ts < end).map_or(first_offset, |f| f.offset);
        let mut cell = CellInputs { hour, offset_min: offset, ..CellInputs::default() };
        cell.valid = observed_from.map_or(0, |from| span_mask(hour * 60, from.div_euclid(MINUTE_MS), last.div_euclid(MINUTE_MS)));
        let env = |until: i64, pick: &dyn Fn(&Body) -> Option<f64>| {
            flat.iter()
                .filter(|f| f.ts >= until - 3 * HOUR_MS && f.ts < until)
                .filter_map(|f| pick(&f.record.body))
                .last()
                .map(|v| (v * 100.0).round() / 100.0)
        };
        let pressure = |b: &Body| if let Body::Env { pressure_hpa, .. } = b { *pressure_hpa } else { None };
        cell.pressure_hpa = env(end, &pressure);
        cell.pressure_24h_ago_hpa = env(end - 24 * HOUR_MS, &pressure);
        cell.temp_c = env(end, &|b| if let Body::Env { temp_c, .. } = b { *temp_c } else { None });
        cell.humidity_pct = env(end, &|b| if let Body::Env { humidity_pct, .. } = b { *humidity_pct } else { None });
        for f in &flat {
            match &f.record.body {
                Body::Sleep { end: sleep_end, .. } => {
                    let e = sleep_end.timestamp_millis().min(f.ts + 16 * HOUR_MS);
                    if f.ts < end && e > start {
                        cell.asleep |= span_mask(hour * 60, f.ts.div_euclid(MINUTE_MS), (e - 1).div_euclid(MINUTE_MS));
                    }
                }
                Body::Activity { category, .. } if f.ts >= start - TRIGGER_WINDOW_MS && f.ts < end => {
                    let i = ActivityCategory::ALL.iter().position(|c| c == category).expect("known");
                    cell.trigger[i] |= span_mask(
                        hour * 60,
                        f.ts.div_euclid(MINUTE_MS),
                        (f.ts + TRIGGER_WINDOW_MS).div_euclid(MINUTE_MS),
                    );
                }
                _ => {}
            }
        }
        // The first relief since the latest onset within 6 h ends that episode.
        let relief_onset = |f: &Flat| {
            let o = flat.iter().rfind(|g| g.ts >= f.ts - RELIEF_LOOKBACK_MS && before(g, f.ts, f.id) && is_onset(g))?;
            let earlier = flat
                .iter()
                .any(|g| matches!(g.record.body, Body::Relief { .. }) && before(o, g.ts, g.id) && before(g, f.ts, f.id));
            (!earlier).then_some(o)
        };
        for f in &flat {
            match &f.record.body {
                Body::Symptom { .. } => {
                    let m = f.ts.div_euclid(MINUTE_MS);
                    cell.in_episode |= span_mask(hour * 60, m + 1, m + EPISODE_GAP_MS / MINUTE_MS);
                }
                Body::Relief { .. } => {
                    if let Some(o) = relief_onset(f) {
                        cell.in_episode |=
                            span_mask(hour * 60, o.ts.div_euclid(MINUTE_MS) + 1, f.ts.div_euclid(MINUTE_MS) - 1);
                    }
                }
                _ => {}
            }
        }
        for f in flat.iter().filter(|f| f.ts >= start && f.ts < end) {
            match &f.record.body {
                Body::Symptom { .. } if is_onset(f) => cell.onset_minutes.push(((f.ts - start) / MINUTE_MS) as u32),
                Body::Relief { strategy, .. } => {
                    if let Some(o) = relief_onset(f) {
                        cell.reliefs.push((*strategy, ((f.ts - o.ts) / MINUTE_MS) as u32));
                    }
                }
                _ => {}
            }
        }
        totals.absorb(&cell.summarise());
    }
    let _ = QUICK_RELIEF_MS;
    totals
}

/// Feeds events in arrival order (event time + delay), with duplicates, optionally restarting
/// from JSON halfway.
fn incremental(events: &[Ev], user: &str, offset: i32, restart_at: Option<usize>) -> (Engine, Vec<Record>) {
    let mut arrivals: Vec<(i64, usize, Record)> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let r = record(e, user, offset);
        let t = event_time(&r);
        arrivals.push((t + e.delay, i, r.clone()));
        if e.dup {
            arrivals.push((t + e.delay / 2 + 1, i + events.len(), r));
        }
    }
    arrivals.sort_by_key(|a| (a.0, a.1));
    let mut engine = Engine::default();
    let mut accepted = Vec::new();
    for (n, (_, _, r)) in arrivals.into_iter().enumerate() {
        if Some(n) == restart_at {
            let json = serde_json::to_string(&engine).expect("serialise");
            engine = serde_json::from_str(&json).expect("deserialise");
        }
        if n % 5 == 4 {
            // Reports along the way fill the open-hour cache, which later events must invalidate.
            let _ = engine.child(user).map(|c| c.current());
        }
        match engine.observe_stored(n as i64 + 1, &r) {
            Observed::Accepted => accepted.push(r),
            Observed::Duplicate | Observed::Ignored => {}
            Observed::TooLate => panic!("within the lateness bound, nothing is too late"),
        }
    }
    (engine, accepted)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn incremental_equals_batch(
        events in prop::collection::vec(ev(), 1..120),
        offset in prop::sample::select(vec![0, 60, -300, 330]),
        restart in prop::option::of(0usize..150),
    ) {
        let (engine, accepted) = incremental(&events, "kid", offset, restart);
        let child = engine.child("kid").expect("seen");
        let expected = batch(&accepted);
        prop_assert_eq!(child.current(), expected);
        // The report is a pure function of the counts: a replay in time order agrees too.
        let mut sorted = accepted.clone();
        sorted.sort_by_key(|r| (event_time(r), content_id(r).as_u128() as u64));
        let mut fresh = Engine::default();
        for r in &sorted {
            fresh.observe(r);
        }
        let (a, b) = (engine.report("kid").expect("a"), fresh.report("kid").expect("b"));
        prop_assert_eq!(a.candidates, b.candidates);
        prop_assert_eq!(a.windows, b.windows);
        prop_assert_eq!(a.conversations, b.conversations);
    }
}

/// Symptoms and reliefs crowded into half a day, so episodes chain, onsets move when a late
/// symptom arrives and reliefs change which episode they end: the cases where an event changes
/// hours before its own, which the open-hour cache must forget.
fn dense_ev() -> impl Strategy<Value = Ev> {
    let kind = prop::sample::select(vec![0u8, 0, 0, 1, 1, 2, 5]);
    (0..12 * HOUR_MS / MINUTE_MS, kind, 0u8..15, 0..=DEFAULT_LATENESS_MS / MINUTE_MS)
        .prop_map(|(m, kind, arg, d)| Ev { ts: T0 + m * MINUTE_MS, kind, arg, delay: d * MINUTE_MS, dup: false })
}

/// Like `incremental`, with a report before every event.
fn incremental_reporting_every_event(events: &[Ev]) -> (Engine, Vec<Record>) {
    let mut arrivals: Vec<(i64, usize, Record)> =
        events.iter().enumerate().map(|(i, e)| (e.ts + e.delay, i, record(e, "kid", 0))).collect();
    arrivals.sort_by_key(|a| (a.0, a.1));
    let mut engine = Engine::default();
    let mut accepted = Vec::new();
    for (n, (_, _, r)) in arrivals.into_iter().enumerate() {
        let _ = engine.child("kid").map(|c| c.current());
        if engine.observe_stored(n as i64 + 1, &r) == Observed::Accepted {
            accepted.push(r);
        }
    }
    (engine, accepted)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_open_hour_cache_equals_a_fresh_computation_on_dense_late_streams(
        events in prop::collection::vec(dense_ev(), 1..60),
    ) {
        let (engine, accepted) = incremental_reporting_every_event(&events);
        prop_assert_eq!(engine.child("kid").expect("seen").current(), batch(&accepted));
    }
}

#[test]
fn a_late_onset_that_takes_a_relief_from_an_older_episode_is_counted_hours_back() {
    // An episode from 09:00, relieved at 14:59: in episode 09:00–14:59. A symptom dated 14:50
    // arrives after the relief: a new onset (nearly 6 h after the last symptom), so the relief
    // ends it instead, and 12:00–14:50 are no longer inside an episode: two hours before the
    // late symptom's own.
    let at = |h: i64, m: i64| T0 + h * HOUR_MS + m * MINUTE_MS;
    let events = [(at(9, 0), 0u8), (at(14, 59), 1), (at(14, 50), 0)];
    let mut engine = Engine::default();
    let mut accepted = Vec::new();
    for (n, &(ts, kind)) in events.iter().enumerate() {
        let r = record(&Ev { ts, kind, arg: 0, delay: 0, dup: false }, "kid", 0);
        let _ = engine.child("kid").map(|c| c.current());
        assert_eq!(engine.observe_stored(n as i64 + 1, &r), Observed::Accepted);
        accepted.push(r);
    }
    assert_eq!(engine.child("kid").expect("seen").current(), batch(&accepted));
}

#[test]
fn too_late_events_are_counted_and_left_out() {
    let tz = FixedOffset::east_opt(0).expect("utc");
    let mut engine = Engine::default();
    let at = |h: i64| tz.timestamp_millis_opt(T0 + h * HOUR_MS).single().expect("time");
    let symptom = |h| Record::new(at(h), Body::Symptom { intensity: 4, text: None });
    assert_eq!(engine.observe(&symptom(100)), Observed::Accepted);
    assert_eq!(engine.observe(&symptom(100)), Observed::Duplicate);
    assert_eq!(engine.observe(&symptom(53)), Observed::Accepted);
    assert_eq!(engine.observe(&symptom(51)), Observed::TooLate);
    let report = engine.report("local").expect("seen");
    assert_eq!((report.duplicates, report.too_late, report.symptom_episodes), (1, 1, 2));
}
