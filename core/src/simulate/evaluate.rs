//! Scoring the pattern engine (and the seed's naive rule) against a simulated cohort's truth.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{ChildTruth, Truth};
use crate::event::Record;
use crate::patterns::{Candidate, Engine, PatternKind, Report};

/// Planted effects count towards recall when at least this strong and this often seen (issue 3).
pub const RECALL_MIN_RR: f64 = 2.0;
pub const RECALL_MIN_EPISODES: u32 = 6;
/// The seed's rule: a pattern when at least this share of the events were exposed.
pub const NAIVE_SHARE: f64 = 0.7;
/// The seed's rule also waited for a few occurrences.
pub const NAIVE_MIN_EVENTS: u32 = 3;

/// How a detector did on a cohort.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Score {
    pub flagged: u32,
    pub true_positives: u32,
    pub precision: f64,
    /// Planted effects meeting the recall criteria, and how many were flagged.
    pub eligible_planted: u32,
    pub eligible_found: u32,
    pub recall: f64,
    /// Every planted effect, found or not.
    pub planted: u32,
    pub planted_found: u32,
    pub effect_free_children: u32,
    pub effect_free_with_any: u32,
    pub effect_free_share_with_any: f64,
    /// Recall by kind among eligible effects: (kind, eligible, found).
    pub recall_by_kind: Vec<(String, u32, u32)>,
    /// Recall by planted relative risk band among eligible effects: (band, eligible, found).
    pub recall_by_rr: Vec<(String, u32, u32)>,
}

/// Wilson score interval (95 %) for `k` successes in `n` trials; `(0, 1)` when `n` is 0.
pub fn wilson(k: u32, n: u32) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let z = 1.959_963_984_540_054_f64;
    let (k, n) = (f64::from(k), f64::from(n));
    let p = k / n;
    let denom = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denom;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// The engine's and the naive rule's scores on one cohort.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub children: u32,
    pub events: usize,
    pub engine: Score,
    pub naive: Score,
}

/// Replays `records` through a fresh engine and returns every child's report.
pub fn reports(records: &[Record]) -> BTreeMap<String, Report> {
    let mut engine = Engine::default();
    for (i, r) in records.iter().enumerate() {
        engine.observe_stored(i as i64 + 1, r);
    }
    engine.users().filter_map(|u| engine.report(u).map(|r| (u.to_owned(), r))).collect()
}

/// The seed's rule on the same counts: raw share of events that were exposed ≥ 70 %.
pub fn naive_flag(c: &Candidate) -> bool {
    let (exposed, total) = match c.kind {
        PatternKind::Relief => (c.counts.exposed_events, c.counts.exposed_episodes.unwrap_or(0)),
        _ => (c.counts.exposed_events, c.counts.exposed_events + c.counts.unexposed_events),
    };
    total > 0 && exposed >= NAIVE_MIN_EVENTS && f64::from(exposed) / f64::from(total) >= NAIVE_SHARE
}

pub fn evaluate(records: &[Record], truth: &Truth) -> Evaluation {
    let reports = reports(records);
    let engine = score(truth, &reports, |c| c.significant);
    let naive = score(truth, &reports, naive_flag);
    Evaluation { children: truth.children.len() as u32, events: records.len(), engine, naive }
}

fn planted_keys(child: &ChildTruth) -> Vec<String> {
    child.effects.iter().map(|e| format!("{}:{}", e.kind, e.subject)).collect()
}

fn rr_band(rr: f64) -> &'static str {
    match rr {
        x if x < 3.0 => "2-3",
        x if x < 4.0 => "3-4",
        x if x < 5.0 => "4-5",
        _ => "5-6",
    }
}

fn score(truth: &Truth, reports: &BTreeMap<String, Report>, flag: impl Fn(&Candidate) -> bool) -> Score {
    let mut s = Score::default();
    let mut by_kind: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    let mut by_rr: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    for child in &truth.children {
        let flagged: Vec<&Candidate> =
            reports.get(&child.user).map(|r| r.candidates.iter().filter(|c| flag(c)).collect()).unwrap_or_default();
        let planted = planted_keys(child);
        s.flagged += flagged.len() as u32;
        s.true_positives += flagged.iter().filter(|c| planted.contains(&c.key)).count() as u32;
        if child.effects.is_empty() {
            s.effect_free_children += 1;
            s.effect_free_with_any += u32::from(!flagged.is_empty());
        }
        for (effect, key) in child.effects.iter().zip(&planted) {
            let found = flagged.iter().any(|c| &c.key == key);
            s.planted += 1;
            s.planted_found += u32::from(found);
            if effect.relative_risk >= RECALL_MIN_RR && effect.exposed_episodes >= RECALL_MIN_EPISODES {
                s.eligible_planted += 1;
                s.eligible_found += u32::from(found);
                let k = by_kind.entry(effect.kind.clone()).or_default();
                k.0 += 1;
                k.1 += u32::from(found);
                let b = by_rr.entry(rr_band(effect.relative_risk).to_owned()).or_default();
                b.0 += 1;
                b.1 += u32::from(found);
            }
        }
    }
    let ratio = |a: u32, b: u32| if b == 0 { 0.0 } else { f64::from(a) / f64::from(b) };
    s.precision = if s.flagged == 0 { 1.0 } else { ratio(s.true_positives, s.flagged) };
    s.recall = ratio(s.eligible_found, s.eligible_planted);
    s.effect_free_share_with_any = ratio(s.effect_free_with_any, s.effect_free_children);
    s.recall_by_kind = by_kind.into_iter().map(|(k, (n, f))| (k, n, f)).collect();
    s.recall_by_rr = by_rr.into_iter().map(|(k, (n, f))| (k, n, f)).collect();
    s
}
