//! One family's scheduled analysis (sans I/O): records in, one result per child and intervention
//! out, each ready to publish to the parents as an `analysis_result` change.
//!
//! Which interventions: every `intervention` name, relief strategy and activity category the
//! child's records mention, ranked by the number of days it happened, at most
//! [`MAX_TREATMENTS`] per child. Each is estimated with doubly robust AIPW (analytic interval)
//! plus the three refutations; a result that fails the honesty gate is still published, as
//! "not enough data yet" with the reason and no number, so parents see why nothing is claimed.

use std::collections::{BTreeMap, BTreeSet};

use migru_core::event::{Body, Record};
use serde::Serialize;

use super::daily::{self, DailySpec, DailyTable, Treatment};
use super::summary::{self, Labels, Summary};
use super::{Analysis, CausalError, Config, Method, Spec, analyze};

/// The interventions analysed per child, the most frequent first.
pub const MAX_TREATMENTS: usize = 6;

/// The record kinds the daily table reads (the job loads only these).
pub const INPUT_KINDS: &[&str] = &["symptom", "sleep", "env", "intervention", "relief", "activity"];

/// One child's answer for one intervention, in the shape parents' devices receive.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FamilyResult {
    /// The change feed's item id: stable per child and intervention, so a new result supersedes
    /// the previous one.
    pub item_id: String,
    pub user: String,
    /// `intervention`, `relief` or `activity`.
    pub treatment_kind: &'static str,
    pub treatment: String,
    pub outcome: daily::OutcomeKind,
    pub method: Method,
    /// `estimated` or `not_enough_data`.
    pub status: &'static str,
    pub estimate: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub confidence: f64,
    pub n_days: usize,
    pub n_treated_days: usize,
    /// Why there is no number (only with `not_enough_data`).
    pub reason: Option<String>,
    pub refutations_passed: Option<bool>,
    pub common_causes: Vec<String>,
    pub omitted_common_causes: Vec<String>,
    pub skipped_days: usize,
    pub summary: Summary,
}

/// Analyses every child (record `user`) of the family.
pub fn analyze_family(records: &[Record]) -> Result<Vec<FamilyResult>, CausalError> {
    let users: BTreeSet<&str> = records.iter().map(|r| r.user.as_str()).collect();
    let mut results = Vec::new();
    for user in users {
        for (treatment, label) in candidate_treatments(records, user) {
            let daily = daily::build(records, &DailySpec::new(user, treatment.clone()));
            results.push(analyze_one(user, &treatment, &label, &daily)?);
        }
    }
    Ok(results)
}

fn treatment_key(t: &Treatment) -> (&'static str, String) {
    match t {
        Treatment::Intervention(name) => ("intervention", name.trim().to_lowercase()),
        Treatment::Relief(s) => ("relief", s.as_str().to_owned()),
        Treatment::Activity(c) => ("activity", c.as_str().to_owned()),
    }
}

/// The child's interventions with the number of distinct days each happened, most days first
/// (ties by name, so the choice is deterministic), and how to name each in a sentence.
fn candidate_treatments(records: &[Record], user: &str) -> Vec<(Treatment, String)> {
    let mut days: BTreeMap<(&'static str, String), (Treatment, String, BTreeSet<chrono::NaiveDate>)> = BTreeMap::new();
    for r in records.iter().filter(|r| r.user == user) {
        let (treatment, label) = match &r.body {
            Body::Intervention { name } if !name.trim().is_empty() => {
                (Treatment::Intervention(name.trim().to_lowercase()), format!("the {}", name.trim().to_lowercase()))
            }
            Body::Relief { strategy, .. } => (Treatment::Relief(*strategy), strategy.as_str().replace('_', " ")),
            Body::Activity { category, .. } => (Treatment::Activity(*category), category.as_str().replace('_', " ")),
            _ => continue,
        };
        let key = treatment_key(&treatment);
        days.entry(key).or_insert_with(|| (treatment, label, BTreeSet::new())).2.insert(r.ts.date_naive());
    }
    let mut ranked: Vec<_> = days.into_values().collect();
    ranked.sort_by(|a, b| b.2.len().cmp(&a.2.len()).then_with(|| treatment_key(&a.0).cmp(&treatment_key(&b.0))));
    ranked.into_iter().take(MAX_TREATMENTS).map(|(t, label, _)| (t, label)).collect()
}

fn analyze_one(user: &str, treatment: &Treatment, label: &str, daily: &DailyTable) -> Result<FamilyResult, CausalError> {
    let outcome = daily.outcome.column();
    let spec = Spec {
        treatment: DailyTable::TREATMENT.to_owned(),
        outcome: outcome.to_owned(),
        common_causes: daily.common_causes.clone(),
    };
    let cfg = Config { method: Method::Aipw, ..Config::default() };
    let analysis = analyze(&daily.table, &spec, &cfg)?;
    let labels = Labels {
        treatment: label.to_owned(),
        outcome: match daily.outcome {
            daily::OutcomeKind::EveningStress => "evening stress".to_owned(),
            daily::OutcomeKind::SymptomOccurred => "a symptom".to_owned(),
        },
    };
    let summary = summary::summarize(&analysis, &labels);
    let (kind, name) = treatment_key(treatment);
    let mut result = FamilyResult {
        item_id: format!("causal:{user}:{kind}:{name}"),
        user: user.to_owned(),
        treatment_kind: kind,
        treatment: name,
        outcome: daily.outcome,
        method: cfg.method,
        status: "not_enough_data",
        estimate: None,
        ci_low: None,
        ci_high: None,
        confidence: cfg.confidence,
        n_days: daily.dates.len(),
        n_treated_days: 0,
        reason: None,
        refutations_passed: None,
        common_causes: daily.common_causes.clone(),
        omitted_common_causes: daily.omitted_common_causes.clone(),
        skipped_days: daily.skipped.len(),
        summary,
    };
    match analysis {
        Analysis::Estimated(e) => {
            result.status = "estimated";
            result.estimate = Some(e.estimate);
            result.ci_low = Some(e.ci_low);
            result.ci_high = Some(e.ci_high);
            result.n_days = e.n;
            result.n_treated_days = e.n_treated;
            result.refutations_passed = Some(e.refutations.iter().all(|r| r.passed));
        }
        Analysis::NotEnoughData(r) => {
            result.n_days = r.n;
            result.n_treated_days = r.n_treated;
            result.reason = Some(r.message);
        }
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{FixedOffset, TimeZone};

    fn diary(days: i64, seed: u64) -> Vec<Record> {
        let first = FixedOffset::east_opt(3600).unwrap().with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap();
        crate::causal::generate::diary(first, days, seed)
    }

    #[test]
    fn finds_the_planted_effect_and_words_it_for_parents() {
        let results = analyze_family(&diary(120, 0)).unwrap();
        assert_eq!(results.len(), 1, "{results:?}");
        let r = &results[0];
        assert_eq!((r.item_id.as_str(), r.status, r.treatment_kind), ("causal:local:intervention:breathing exercise", "estimated", "intervention"));
        let (est, lo, hi) = (r.estimate.unwrap(), r.ci_low.unwrap(), r.ci_high.unwrap());
        assert!(lo < -2.0 && -2.0 < hi && hi < 0.0, "{est} [{lo}, {hi}]");
        assert!(r.common_causes.contains(&daily::CHRONOTYPE_MISALIGNMENT.to_owned()), "{:?}", r.common_causes);
        assert!(r.summary.text.starts_with("On days with the breathing exercise, evening stress was about"), "{}", r.summary.text);
        assert!(r.summary.text.contains("lower"), "{}", r.summary.text);
    }

    #[test]
    fn a_short_diary_gets_a_reason_and_no_number() {
        let results = analyze_family(&diary(10, 1)).unwrap();
        assert_eq!(results.len(), 1);
        let r = &results[0];
        assert_eq!((r.status, r.estimate, r.ci_low), ("not_enough_data", None, None));
        assert!(r.reason.as_deref().is_some_and(|m| m.contains("days")), "{r:?}");
        assert!(r.summary.text.starts_with("We don't have enough days yet"), "{}", r.summary.text);
    }
}
