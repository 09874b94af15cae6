use chrono::{DateTime, Duration};

use super::*;
use crate::classify::classify;
use crate::patterns::{Counts, PatternKind};

fn at(text: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(text).expect("valid time")
}

fn candidate(subject: &str, kind: PatternKind, ci_low: f64, significant: bool) -> Candidate {
    Candidate {
        key: format!("{}:{subject}", kind.as_str()),
        kind,
        subject: subject.to_owned(),
        effect: ci_low * 2.0,
        ci_low,
        ci_high: Some(ci_low * 4.0),
        support: 9,
        counts: Counts {
            exposed_events: 9,
            unexposed_events: 4,
            exposed_hours: Some(80.0),
            unexposed_hours: Some(300.0),
            exposed_episodes: None,
            unexposed_episodes: None,
        },
        tested: true,
        p_value: 0.001,
        p_unadjusted: 0.001,
        adjusted_for: Vec::new(),
        q_value: if significant { 0.01 } else { 0.3 },
        confidence: if significant { 0.99 } else { 0.7 },
        significant,
        method: "poisson_rate_ratio_exact_conditional",
        median_minutes_to_relief: None,
    }
}

fn shared(key: &str, when: &str) -> SharedInsight {
    SharedInsight {
        user: "a".into(),
        key: key.into(),
        shared_at: at(when),
        message: String::new(),
        message_parent: String::new(),
        delivered_at: Some(at(when)),
        deferred_reason: None,
    }
}

fn check(conversations: u64, shared: &[SharedInsight], candidates: &[Candidate], expect: &str) {
    let t = templates::for_lang("en").expect("templates");
    let input = PolicyInput { now: at("2026-11-20T16:00:00+01:00"), conversations, shared };
    let got = match decide(candidates, &input, t) {
        Decision::Share { key, .. } => key,
        Decision::Quiet { reason } => format!("{reason:?}"),
        Decision::RedFlag { family, .. } => family,
    };
    assert_eq!(got, expect, "conversations={conversations}");
}

#[test]
fn policy_gates_in_order() {
    let cands = [
        candidate("morning", PatternKind::TimeOfDay, 1.5, true),
        candidate("low_pressure", PatternKind::Weather, 2.5, true),
        candidate("activity:screen_time", PatternKind::Trigger, 9.0, false),
    ];
    check(2, &[], &cands, "TooEarly");
    check(4, &[], &cands, "NotThisTurn");
    // Strongest (highest lower bound) significant one first; the non-significant never.
    check(3, &[], &cands, "weather:low_pressure");
    // Never twice.
    check(6, &[shared("weather:low_pressure", "2026-11-18T10:00:00+01:00")], &cands, "time_of_day:morning");
    // At most one a local day (shared this morning, local time).
    check(6, &[shared("weather:low_pressure", "2026-11-20T08:00:00+01:00")], &cands, "AlreadySharedToday");
    // Yesterday late evening in local time is not today, even if it is today in UTC+14.
    check(6, &[shared("weather:low_pressure", "2026-11-19T23:30:00+01:00")], &cands, "time_of_day:morning");
    let all_told = [shared("weather:low_pressure", "2026-11-10T10:00:00+01:00"), shared("time_of_day:morning", "2026-11-12T10:00:00+01:00")];
    check(9, &all_told, &cands, "NothingNew");
}

#[test]
fn child_voice_has_no_numbers_and_parent_voice_has_the_counts() {
    let t = templates::for_lang("en").expect("templates");
    for lang in templates::languages() {
        let t = templates::for_lang(lang).expect("templates");
        for (subject, kind) in [
            ("morning", PatternKind::TimeOfDay),
            ("school_day", PatternKind::Weekday),
            ("pressure_drop", PatternKind::Weather),
            ("activity:skipped_meal", PatternKind::Trigger),
        ] {
            let c = candidate(subject, kind, 1.8, true);
            let child = t.child_message(&c);
            assert!(!child.chars().any(|ch| ch.is_ascii_digit()), "{lang}: {child}");
            assert!(!child.contains('{'), "{lang}: unfilled {child}");
            for word in ["correlation", "analysis", "significant", "%", "diagnos"] {
                assert!(!child.to_lowercase().contains(word), "{lang}: clinical {child}");
            }
            let parent = t.parent_message(&c);
            assert!(parent.contains("9") && parent.contains("80") && parent.contains("300"), "{lang}: {parent}");
            assert!(!parent.contains('{'), "{lang}: unfilled {parent}");
        }
    }
    let mut relief = candidate("strategy:dark_room", PatternKind::Relief, 1.4, true);
    relief.counts = Counts {
        exposed_events: 8,
        unexposed_events: 3,
        exposed_hours: None,
        unexposed_hours: None,
        exposed_episodes: Some(9),
        unexposed_episodes: Some(10),
    };
    relief.median_minutes_to_relief = Some(45.0);
    let parent = t.parent_message(&relief);
    assert!(parent.contains("89 %") && parent.contains("8 of 9") && parent.contains("45 minutes"), "{parent}");
    assert!(t.child_message(&relief).contains("a quiet, dark room"));
}

/// Each red-flag family fires through the classifier and bypasses every gate; near misses
/// don't.
#[test]
fn red_flags_bypass_the_policy_and_near_misses_do_not() {
    let t = templates::for_lang("en").expect("templates");
    let now = at("2026-11-20T16:00:00+01:00");
    let fires = [
        ("worst headache of my life it came on suddenly", "thunderclap"),
        ("i hit my head on the door and now i have a headache", "head_injury"),
        ("headache and fever and my neck is stiff", "fever_stiff_neck"),
        ("my head hurts and my arm feels weak and numb", "neuro_deficit"),
    ];
    for (text, family) in fires {
        let c = classify(text, now, None);
        match urgent(c.red_flag, c.safety_concern, t) {
            Some(Decision::RedFlag { family: got, message_child, message_parent }) => {
                assert_eq!(got, family, "{text}");
                assert!(message_child.contains("grown-up"), "{message_child}");
                assert!(message_parent.to_lowercase().contains("medical care") || message_parent.contains("doctor"));
            }
            other => panic!("{text}: expected a red flag, got {other:?}"),
        }
    }
    let near_misses = [
        "my head hurts a little after school",
        "i had a fever last week but i'm fine now",
        "i bumped my knee at football",
        "my neck is a bit sore from sleeping funny",
        "this headache is worse than yesterday's",
    ];
    for text in near_misses {
        let c = classify(text, now, None);
        assert!(urgent(c.red_flag, c.safety_concern, t).is_none(), "{text}: {:?}", c.red_flag);
    }
}

#[test]
fn shareable_now_follows_the_daily_gate() {
    let t = templates::for_lang("en").expect("templates");
    let report_candidates = vec![candidate("morning", PatternKind::TimeOfDay, 1.5, true)];
    let now = at("2026-11-20T16:00:00+01:00");
    let open = PolicyInput { now, conversations: 5, shared: &[] };
    assert!(open.open_today());
    let today = [shared("weather:heat", "2026-11-20T09:00:00+01:00")];
    let closed = PolicyInput { now, conversations: 5, shared: &today };
    assert!(!closed.open_today());
    let early = PolicyInput { now: now + Duration::hours(1), conversations: 2, shared: &[] };
    assert!(!early.open_today());
    assert_eq!(ranked(&report_candidates, &open).len(), 1);
    assert!(!t.child_message(&report_candidates[0]).is_empty());
}
