use super::*;
use crate::classify::{MessageKind, classify};

fn small() -> Config {
    Config { children: 6, days: 14, seed: 11, ..Config::default() }
}

#[test]
fn same_seed_same_cohort() {
    let (a, ta) = cohort(&small());
    let (b, tb) = cohort(&small());
    assert_eq!(a, b);
    assert_eq!(ta, tb);
    let (c, _) = cohort(&Config { seed: 12, ..small() });
    assert_ne!(a, c);
}

#[test]
fn children_have_routines_weather_and_half_have_effects() {
    let (records, truth) = cohort(&small());
    assert_eq!(truth.children.len(), 6);
    assert_eq!(truth.children.iter().filter(|c| !c.effects.is_empty()).count(), 3);
    for child in &truth.children {
        let mine: Vec<&Record> = records.iter().filter(|r| r.user == child.user).collect();
        let count = |k: crate::event::Kind| mine.iter().filter(|r| r.kind() == k).count();
        assert_eq!(count(crate::event::Kind::Sleep), 14);
        assert_eq!(count(crate::event::Kind::Env), 16 * 24);
        assert!(count(crate::event::Kind::Activity) >= 14, "{}", child.user);
        assert!(count(crate::event::Kind::Message) >= 14);
        assert!(count(crate::event::Kind::Symptom) as u32 >= child.symptom_episodes);
        assert!(mine.iter().all(|r| r.utc_offset_min() == child.utc_offset_min));
    }
    assert!(records.windows(2).all(|w| w[0].ts_utc_ms() <= w[1].ts_utc_ms()));
}

/// The simulated children's words mean to the classifier what the simulator meant.
#[test]
fn classifier_understands_simulated_phrasing() {
    let (records, _) = cohort(&Config { children: 4, days: 7, ..small() });
    let mut total = 0;
    let mut agree = 0;
    let mut misses = Vec::new();
    for r in records.iter().filter(|r| r.body.text().is_some()) {
        let text = r.body.text().unwrap_or_default();
        let c = classify(text, r.ts, None);
        let ok = match &r.body {
            Body::Message { .. } => c.kind == MessageKind::Message,
            Body::Symptom { .. } => c.kind == MessageKind::Symptom,
            Body::Activity { category, .. } => c.kind == MessageKind::Activity && c.category == Some(*category),
            Body::Relief { strategy, .. } => c.kind == MessageKind::Relief && c.strategy == Some(*strategy),
            _ => true,
        };
        total += 1;
        agree += usize::from(ok);
        if !ok {
            misses.push(format!("{text:?} → {:?} {:?} {:?}", c.kind, c.category, c.strategy));
        }
    }
    let rate = agree as f64 / total as f64;
    assert!(rate >= 0.95, "agreement {rate:.3} over {total}: {misses:#?}");
}
