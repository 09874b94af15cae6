//! Delivery timing over a real store: the child's windows from stored sleep (early vs late vs
//! not yet), insights deferred out of quiet hours, delivered by `Companion::converse` one a day
//! and logged when told (none lost), and
//! the parent recommendation's chronotype filled from the store.

use chrono::{DateTime, Datelike, Duration, FixedOffset, Weekday};
use migru_core::Companion;
use migru_core::chronotype::timing::{Basis, Closed, clock};
use migru_core::chronotype::{Category, Confidence};
use migru_core::delivery::{deferred_insights, time_insight, timing};
use migru_core::event::{Body, LOCAL_USER, Record};
use migru_core::insights::{Decision, Quiet, Turn, on_message};
use migru_core::patterns::Engine;
use migru_core::store::{SharedInsight, Store};

fn at(text: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(text).expect("time")
}

/// Three weeks of nights ending Sunday 2026-03-22: (bed, wake) on school nights and on free
/// nights (waking Saturday or Sunday) as (hour, minute) pairs; the wake is the next morning.
fn nights(store: &Store, school: ((u32, u32), (u32, u32)), free: ((u32, u32), (u32, u32))) {
    nights_from(store, at("2026-03-02T00:00:00+01:00"), school, free);
}

/// The same, waking first on the midnight `first_wake`.
fn nights_from(store: &Store, first_wake: DateTime<FixedOffset>, school: ((u32, u32), (u32, u32)), free: ((u32, u32), (u32, u32))) {
    let mut records = Vec::new();
    for d in 0..21 {
        let wake_day = first_wake + Duration::days(d);
        let ((bh, bm), (wh, wm)) = if matches!(wake_day.weekday(), Weekday::Sat | Weekday::Sun) { free } else { school };
        let bed_day = if bh >= 12 { wake_day - Duration::days(1) } else { wake_day };
        let start = bed_day + Duration::hours(i64::from(bh)) + Duration::minutes(i64::from(bm));
        let end = wake_day + Duration::hours(i64::from(wh)) + Duration::minutes(i64::from(wm));
        records.push(Record::new(start, Body::Sleep { start, end }));
    }
    store.append_batch(&records).expect("append sleep");
}

#[test]
fn early_and_late_children_get_different_windows_and_not_yet_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("t.db")).expect("store");
    let now = at("2026-03-23T12:00:00+01:00");

    let none = timing(&store, LOCAL_USER, now).expect("timing");
    assert_eq!(none.basis, Basis::Default);
    assert_eq!(none.confidence, Confidence::NotYet);
    assert!(none.note.contains("not yet known (0 free and 0 school nights seen)"), "{}", none.note);
    assert_eq!((clock(none.onset_min), clock(none.wake_school_min)), ("21:00".to_owned(), "07:00".to_owned()));

    // Early: school nights 20:00–06:30, free nights 20:30–07:30 (mid-sleep about 02:00).
    nights(&store, ((20, 0), (6, 30)), ((20, 30), (7, 30)));
    let early = timing(&store, LOCAL_USER, now).expect("timing");
    // Late, as another child of the same store: school 22:30–07:00, free 00:30–10:30 (mid 05:30).
    let late_store = Store::open(dir.path().join("late.db")).expect("store");
    nights(&late_store, ((22, 30), (7, 0)), ((0, 30), (10, 30)));
    let late = timing(&late_store, LOCAL_USER, now).expect("timing");

    assert_eq!((early.basis, early.category), (Basis::Chronotype, Some(Category::Early)));
    assert_eq!((late.basis, late.category), (Basis::Chronotype, Some(Category::Late)));
    assert!(early.note.contains("early") && late.note.contains("late"));
    // The late child's sleep starts well after the early child's, and school still starts at 7.
    let from_noon = |m: f64| (m - 720.0).rem_euclid(1440.0);
    assert!(from_noon(late.onset_min) - from_noon(early.onset_min) >= 150.0, "{} vs {}", clock(early.onset_min), clock(late.onset_min));
    assert_eq!(clock(late.wake_school_min), "07:00");
    assert!(from_noon(late.wake_free_min) > from_noon(early.wake_free_min) + 120.0);

    // Monday 22:15: the early child is asleep, the late one is not.
    let evening = at("2026-03-23T22:15:00+01:00");
    assert_eq!(early.child_closed(evening), Some(Closed::QuietHours));
    assert_eq!(late.child_closed(evening), None);
    // Tuesday 07:30: school-morning rush for both.
    assert_eq!(early.child_closed(at("2026-03-24T07:30:00+01:00")), Some(Closed::SchoolMorning));
    assert_eq!(late.child_closed(at("2026-03-24T07:30:00+01:00")), Some(Closed::SchoolMorning));
    // Parent windows end at the child's wind-down: later for the late child.
    let (_, early_end) = early.parent_window(now);
    let (late_start, late_end) = late.parent_window(now);
    assert!(late_end > early_end);
    assert_eq!(late_end - late_start, Duration::hours(3));
}

/// A turn whose policy decided to share `key` at `when`, recorded as the policy records it.
fn decided(store: &Store, key: &str, when: DateTime<FixedOffset>) -> Turn {
    let mut engine = Engine::default();
    let mut turn = on_message(store, &mut engine, LOCAL_USER, "cannot sleep", when, "en").expect("turn");
    let (message_child, message_parent) = (format!("child words {key}"), format!("parent words {key}"));
    let log = SharedInsight {
        user: LOCAL_USER.into(),
        key: key.into(),
        shared_at: when,
        message: message_child.clone(),
        message_parent: message_parent.clone(),
        delivered_at: None,
        deferred_reason: None,
    };
    assert!(store.record_shared_insight(&log).expect("record"));
    turn.decision = Decision::Share { key: key.into(), message_child, message_parent };
    turn
}

fn share_of(key: &str) -> Decision {
    Decision::Share { key: key.into(), message_child: format!("child words {key}"), message_parent: format!("parent words {key}") }
}

fn logged<'a>(store: &Store, key: &str, all: &'a mut Vec<SharedInsight>) -> &'a SharedInsight {
    *all = store.shared_insights(LOCAL_USER).expect("log");
    all.iter().find(|s| s.key == key).expect("logged")
}

#[test]
fn an_insight_decided_in_quiet_hours_waits_and_is_logged_when_the_child_is_told() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("c.db");
    let companion = Companion::open(&path).expect("open");
    let store = companion.store();
    nights(store, ((20, 0), (6, 30)), ((20, 30), (7, 30)));

    // Decided at 22:30 on a Monday (the early child is asleep): it waits, not yet told.
    let late_evening = at("2026-03-23T22:30:00+01:00");
    let timed = time_insight(store, LOCAL_USER, late_evening, decided(store, "pattern:test", late_evening)).expect("timed");
    assert_eq!(timed.decision, Decision::Quiet { reason: Quiet::QuietHours });
    let queued = deferred_insights(store, LOCAL_USER).expect("queue");
    assert_eq!(queued.len(), 1);
    assert_eq!((queued[0].key.as_str(), queued[0].reason.as_str()), ("pattern:test", "quiet_hours"));
    let mut all = Vec::new();
    assert_eq!(logged(store, "pattern:test", &mut all).delivered_at, None);

    // Still closed at 07:30 (school-morning rush): an ordinary turn leaves it waiting.
    let rush = at("2026-03-24T07:30:00+01:00");
    let quiet = companion.converse("hello", Some(rush), "en").expect("turn");
    assert!(!matches!(quiet.decision, Decision::Share { .. }), "{:?}", quiet.decision);
    assert_eq!(deferred_insights(store, LOCAL_USER).expect("queue")[0].reason, "school_morning");

    // After school: the next conversation delivers it, once, and the log says when.
    let afternoon = at("2026-03-24T16:00:00+01:00");
    let turn = companion.converse("back from school", Some(afternoon), "en").expect("turn");
    assert_eq!(turn.decision, share_of("pattern:test"));
    assert!(deferred_insights(store, LOCAL_USER).expect("queue").is_empty());
    let row = logged(store, "pattern:test", &mut all);
    assert_eq!((row.shared_at, row.delivered_at, row.deferred_reason.clone()), (late_evening, Some(afternoon), None));
    let again = companion.converse("still here", Some(afternoon + Duration::minutes(5)), "en").expect("turn");
    assert!(!matches!(again.decision, Decision::Share { .. }));
}

#[test]
fn a_week_of_night_decisions_is_told_one_a_day_oldest_first_and_none_is_lost() {
    let dir = tempfile::tempdir().expect("tempdir");
    let companion = Companion::open(dir.path().join("w.db")).expect("open");
    let store = companion.store();
    nights(store, ((20, 0), (6, 30)), ((20, 30), (7, 30)));
    // Seven nights in a row the child talks only at 23:00: seven decisions wait (the old queue
    // kept five and dropped the oldest, which was then never told).
    let first_night = at("2026-03-23T23:00:00+01:00");
    let keys: Vec<String> = (0..7).map(|i| format!("pattern:{i}")).collect();
    for (i, key) in keys.iter().enumerate() {
        let night = first_night + Duration::days(i as i64);
        let timed = time_insight(store, LOCAL_USER, night, decided(store, key, night)).expect("timed");
        assert_eq!(timed.decision, Decision::Quiet { reason: Quiet::QuietHours });
    }
    assert_eq!(deferred_insights(store, LOCAL_USER).expect("queue").len(), 7);

    // Then afternoons: one a day however often the child talks, oldest first.
    let mut told = Vec::new();
    for day in 0..8 {
        let afternoon = at("2026-03-31T16:00:00+02:00") + Duration::days(day);
        for turn in 0..4 {
            let reply = companion.converse("hi", Some(afternoon + Duration::minutes(10 * turn)), "en").expect("turn");
            if let Decision::Share { key, .. } = reply.decision {
                told.push((day, key));
            }
        }
    }
    let expected: Vec<(i64, String)> = keys.iter().enumerate().map(|(d, k)| (d as i64, k.clone())).collect();
    assert_eq!(told, expected);
    let log = store.shared_insights(LOCAL_USER).expect("log");
    assert!(log.iter().all(|s| s.delivered_at.is_some_and(|d| d > s.shared_at)), "{log:?}");
}

#[test]
fn a_decision_recorded_before_a_crash_is_told_at_the_next_open_turn() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("k.db");
    let noon = at("2026-03-24T12:00:00+01:00");
    {
        let companion = Companion::open(&path).expect("open");
        nights(companion.store(), ((20, 0), (6, 30)), ((20, 30), (7, 30)));
        // The policy's row is committed; the process dies before the delivery step runs.
        drop(decided(companion.store(), "pattern:crash", noon));
    }
    let companion = Companion::open(&path).expect("reopen");
    assert_eq!(deferred_insights(companion.store(), LOCAL_USER).expect("queue")[0].reason, "pending");
    let turn = companion.converse("hello again", Some(noon + Duration::minutes(2)), "en").expect("turn");
    assert_eq!(turn.decision, share_of("pattern:crash"));
}

#[cfg(feature = "llm")]
#[test]
fn the_parent_recommendation_takes_the_chronotype_from_the_store() {
    use migru_core::delivery::fill_parent_input;
    use migru_core::llm::prompt::{ChildProfile, ChronotypeCategory, ForecastSummary, Level, ParentRecommendationInput};
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("p.db")).expect("store");
    let now = at("2026-03-23T12:00:00+01:00");
    let mut input = ParentRecommendationInput {
        profile: ChildProfile::default(),
        chronotype: None,
        patterns: Vec::new(),
        forecast: ForecastSummary { stress: Level::Low, migraine_risk: Level::Low, note: None },
        causal: None,
        similar_episodes: Vec::new(),
    };
    // Not yet: the caller's (none) stays, and the defaults are used.
    let t = fill_parent_input(&store, LOCAL_USER, now, &mut input).expect("fill");
    assert_eq!((t.basis, input.chronotype.clone()), (Basis::Default, None));
    // Three weeks of a late child: filled from the store.
    nights(&store, ((22, 30), (7, 0)), ((0, 30), (10, 30)));
    let t = fill_parent_input(&store, LOCAL_USER, now, &mut input).expect("fill");
    assert_eq!(t.basis, Basis::Chronotype);
    let c = input.chronotype.expect("filled");
    assert_eq!(c.category, ChronotypeCategory::Late);
    let hours = c.msf_sc_hours.expect("msf");
    assert!((4.5..6.0).contains(&hours), "{hours}");
    assert!(c.confidence >= 0.75, "{}", c.confidence);
}

#[cfg(feature = "llm")]
#[test]
fn companion_recommendations_use_the_stored_chronotype() {
    use migru_core::llm::CancelToken;
    use migru_core::llm::prompt::{ChildProfile, ForecastSummary, Level, ParentRecommendationInput};
    let dir = tempfile::tempdir().expect("tempdir");
    let companion = Companion::open(dir.path().join("r.db")).expect("open");
    let input = ParentRecommendationInput {
        profile: ChildProfile::default(),
        chronotype: None,
        patterns: Vec::new(),
        forecast: ForecastSummary { stress: Level::Low, migraine_risk: Level::Low, note: None },
        causal: None,
        similar_episodes: Vec::new(),
    };
    let late_words = "late sleeper";
    let before = companion.parent_recommendation(&input, &CancelToken::default(), &mut |_| {}).expect("reply");
    assert!(!before.reply.text.contains(late_words), "{}", before.reply.text);
    // The last three weeks of a late child, ending this morning (the companion reads "now").
    let today = migru_core::companion::now_local().date_naive().and_hms_opt(0, 0, 0).expect("midnight");
    let first_wake = today.and_local_timezone(FixedOffset::east_opt(3600).expect("offset")).single().expect("time") - Duration::days(21);
    nights_from(companion.store(), first_wake, ((22, 30), (7, 0)), ((0, 30), (10, 30)));
    let after = companion.parent_recommendation(&input, &CancelToken::default(), &mut |_| {}).expect("reply");
    assert!(after.reply.text.contains(late_words), "{}", after.reply.text);
}
