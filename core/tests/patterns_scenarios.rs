//! The seed's three scenarios, made honest: each passes only where exposure supports it, and the
//! seed's own small examples (3 of 3, "80 %") are shown not to be evidence on their own.

use chrono::{DateTime, FixedOffset, TimeZone};
use migru_core::event::{ActivityCategory, Body, Record};
use migru_core::insights::{Decision, PolicyInput, decide, templates};
use migru_core::patterns::{Candidate, Engine, Report};

/// A child's diary in Central European time, starting Monday 2026-11-02.
struct Diary {
    records: Vec<Record>,
}

fn at(day: i64, hour: i64, minute: i64) -> DateTime<FixedOffset> {
    let tz = FixedOffset::east_opt(3600).expect("offset");
    tz.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).single().expect("date") + chrono::Duration::minutes(day * 1440 + hour * 60 + minute)
}

impl Diary {
    /// `days` days of nightly sleep (21:30–07:00), a chat message each afternoon and, when
    /// `pressure` is given, an hourly weather reading.
    fn new(days: i64, pressure: impl Fn(i64, i64) -> f64) -> Self {
        let mut d = Diary { records: Vec::new() };
        for day in 0..days {
            d.push(at(day, 7, 0), Body::Sleep { start: at(day - 1, 21, 30), end: at(day, 7, 0) });
            d.push(at(day, 16, 30), Body::Message { text: "hi migru".into() });
            for hour in 0..24 {
                let p = pressure(day, hour);
                d.push(at(day, hour, 0), Body::Env { pressure_hpa: Some(p), temp_c: Some(12.0), humidity_pct: Some(60.0) });
            }
        }
        d
    }

    fn push(&mut self, ts: DateTime<FixedOffset>, body: Body) {
        self.records.push(Record::new(ts, body));
    }

    fn headache(&mut self, day: i64, hour: i64, minute: i64) {
        self.push(at(day, hour, minute), Body::Symptom { intensity: 5, text: Some("my head hurts".into()) });
    }

    fn report(&self) -> Report {
        // Fed in time order, as a diary arrives (the engine drops events > 48 h late).
        let mut records = self.records.clone();
        records.sort_by_key(Record::ts_utc_ms);
        let mut engine = Engine::default();
        for r in &records {
            engine.observe(r);
        }
        engine.report("local").expect("child seen")
    }
}

fn find<'r>(report: &'r Report, key: &str) -> &'r Candidate {
    report.candidates.iter().find(|c| c.key == key).expect("candidate listed")
}

fn shares(report: &Report, key: &str) -> bool {
    let t = templates::for_lang("en").expect("templates");
    let input = PolicyInput { now: at(30, 12, 0), conversations: 30, shared: &[] };
    matches!(decide(&report.candidates, &input, t), Decision::Share { key: k, .. } if k == key)
}

const STEADY: fn(i64, i64) -> f64 = |_, _| 1015.0;

// ---- Scenario 1: morning headaches ------------------------------------------------------------

#[test]
fn seed_week_of_three_morning_headaches_is_not_yet_a_pattern() {
    // Mon 9:00, Wed 9:00, Fri 10:00: the seed shared an insight on this.
    let mut d = Diary::new(7, STEADY);
    d.headache(0, 9, 0);
    d.headache(2, 9, 0);
    d.headache(4, 10, 0);
    let r = d.report();
    let morning = find(&r, "time_of_day:morning");
    assert_eq!(morning.counts.exposed_events, 3);
    assert!(!morning.significant, "3 of 3 in ~5 of 14 awake hours: p = {}", morning.p_value);
    assert!(!shares(&r, "time_of_day:morning"));
}

#[test]
fn three_weeks_of_mostly_morning_headaches_is_a_pattern() {
    let mut d = Diary::new(21, STEADY);
    for (day, hour) in [(0, 9), (1, 8), (3, 10), (4, 9), (7, 9), (8, 11), (10, 8), (11, 9), (14, 10), (15, 9), (17, 8)] {
        d.headache(day, hour, 15);
    }
    d.headache(5, 15, 0);
    d.headache(12, 19, 30);
    let r = d.report();
    let morning = find(&r, "time_of_day:morning");
    assert!(morning.significant, "{morning:?}");
    assert!(morning.ci_low > 1.0 && morning.effect > 3.0);
    // Exposure is at-risk time: awake (07:00–12:00 is 5 of the 14.5 awake hours) and not inside
    // an episode (the 3 h after each headache, most of them in the morning): about 75 of 265 h.
    let share = morning.counts.exposed_hours.expect("hours") / (morning.counts.exposed_hours.expect("h") + morning.counts.unexposed_hours.expect("h"));
    assert!(share > 0.26 && share < 5.0 / 14.5, "{share}");
    assert!(shares(&r, "time_of_day:morning"));
}

// ---- Scenario 2: weather sensitivity ----------------------------------------------------------

#[test]
fn eight_of_ten_on_low_pressure_means_nothing_when_it_was_low_most_of_the_time() {
    // 12 of 14 days below 1010 hPa: the seed's "80 % correlation" is just the weather.
    let low_days = |day: i64, _| if day % 7 == 3 { 1016.0 } else { 1004.0 };
    let mut d = Diary::new(14, low_days);
    for day in [0, 1, 2, 4, 5, 8, 9, 11] {
        d.headache(day, 14, 0);
    }
    d.headache(3, 14, 0);
    d.headache(10, 14, 0);
    let r = d.report();
    let low = find(&r, "weather:low_pressure");
    assert_eq!((low.counts.exposed_events, low.counts.unexposed_events), (8, 2));
    assert!(low.effect < 1.0, "rate ratio {}", low.effect);
    assert!(!low.significant);
}

#[test]
fn eight_of_ten_on_low_pressure_is_a_pattern_when_low_pressure_was_rare() {
    // Low pressure on 4 of 14 days: 8 of 10 headaches on those days.
    let rare_low = |day: i64, _| if [1, 5, 8, 12].contains(&day) { 1003.0 } else { 1018.0 };
    let mut d = Diary::new(14, rare_low);
    for (day, hour) in [(1, 10), (1, 17), (5, 9), (5, 15), (8, 11), (8, 18), (12, 10), (12, 16)] {
        d.headache(day, hour, 0);
    }
    d.headache(3, 14, 0);
    d.headache(10, 14, 0);
    let r = d.report();
    let low = find(&r, "weather:low_pressure");
    assert_eq!((low.counts.exposed_events, low.counts.unexposed_events), (8, 2));
    assert!(low.significant, "{low:?}");
    assert!(low.effect > 5.0 && low.ci_low > 1.5);
}

// ---- Scenario 3: busy mornings before headaches -----------------------------------------------

fn busy_morning(d: &mut Diary, day: i64) {
    d.push(at(day, 8, 0), Body::Activity { category: ActivityCategory::SkippedMeal, text: Some("rushed morning, skipped breakfast".into()) });
}

#[test]
fn seed_three_of_three_is_supported_when_busy_mornings_and_headaches_are_rare() {
    // The seed's timeline: three busy mornings, each followed by a headache ~2 h later, and no
    // other headache that week. Exposure: 6 of ~101 awake hours; 3 of 3 episodes in them.
    let mut d = Diary::new(7, STEADY);
    for day in [0, 2, 5] {
        busy_morning(&mut d, day);
        d.headache(day, 10, 0);
    }
    let r = d.report();
    let trigger = find(&r, "trigger:activity:skipped_meal");
    assert_eq!(trigger.counts.exposed_events, 3);
    // 0–2 h inclusive at minute resolution: 121 minutes per activity.
    assert_eq!(trigger.counts.exposed_hours, Some(6.05));
    assert!(trigger.significant, "exposure supports it: q = {}", trigger.q_value);
}

#[test]
fn a_frequent_activity_before_most_headaches_is_not_a_trigger() {
    // Screen time at 16:00, 18:00 and 20:00 every day covers 5.5 of 14.5 awake hours; 5 of 7
    // headaches (71 %: the seed's rule fires) fell in them, about what chance gives.
    let mut d = Diary::new(14, STEADY);
    for day in 0..14 {
        for hour in [16, 18, 20] {
            d.push(at(day, hour, 0), Body::Activity { category: ActivityCategory::ScreenTime, text: Some("played video games".into()) });
        }
    }
    for (day, hour) in [(0, 17), (2, 19), (5, 20), (8, 16), (11, 18), (3, 10), (9, 13)] {
        d.headache(day, hour, 30);
    }
    let r = d.report();
    let trigger = find(&r, "trigger:activity:screen_time");
    assert_eq!((trigger.counts.exposed_events, trigger.counts.unexposed_events), (5, 2));
    assert!(migru_core::simulate::evaluate::naive_flag(trigger), "the seed's rule would share it");
    assert!(!trigger.significant, "p = {}", trigger.p_value);
}

#[test]
fn busy_mornings_followed_by_headaches_on_most_days_is_a_trigger() {
    let mut d = Diary::new(21, STEADY);
    let busy = [0, 1, 3, 4, 7, 8, 10, 14, 15, 17, 18];
    for (i, day) in busy.iter().enumerate() {
        busy_morning(&mut d, *day);
        if i % 4 != 3 {
            d.headache(*day, 9, 30);
        }
    }
    for day in [5, 12, 19] {
        d.headache(day, 16, 0);
    }
    let r = d.report();
    let trigger = find(&r, "trigger:activity:skipped_meal");
    assert_eq!(trigger.counts.exposed_events, 9);
    assert!(trigger.significant, "{trigger:?}");
    // Morning is also elevated here (the busy mornings are mornings): both are reported, and
    // the parent message says "a pattern, not a cause".
    let t = templates::for_lang("en").expect("templates");
    assert!(t.parent_message(trigger).contains("not a cause"));
}
