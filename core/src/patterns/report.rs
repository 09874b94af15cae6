//! From counts to candidates: effect sizes, intervals, p-values, FDR control, sliding windows.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::cell::{
    RATE_CANDIDATES, STRATIFIERS, joint_index, DAY_TYPES, DAYTYPE0, HOUR_MS, RateCounts, ReliefCounts, TIME_OF_DAY, TOD0, TRIGGER0, WEATHER, WEATHER0, WEEKDAY0,
    WEEKDAYS,
};
use super::engine::{Aggregates, ChildState};
use super::stats::{self, Estimate};
use crate::event::{ActivityCategory, ReliefStrategy};

/// False discovery rate controlled across all of one child's candidates (Benjamini–Hochberg).
pub const FDR_Q: f64 = 0.05;
/// A rate candidate is tested only with at least this much exposed at-risk time (ADR 0003).
pub const MIN_EXPOSED_HOURS: f64 = 6.0;

/// The families of candidate patterns (a contract: the `kind` key of `migru insights --all`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PatternKind {
    TimeOfDay,
    Weekday,
    Weather,
    Trigger,
    Relief,
}

impl PatternKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PatternKind::TimeOfDay => "time_of_day",
            PatternKind::Weekday => "weekday",
            PatternKind::Weather => "weather",
            PatternKind::Trigger => "trigger",
            PatternKind::Relief => "relief",
        }
    }
}

/// The counts behind a candidate. For rate patterns: symptom episodes and awake hours, exposed
/// and not. For relief: first reliefs after a symptom with this strategy / other strategies,
/// and how many of each came within 3 h.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Counts {
    pub exposed_events: u32,
    pub unexposed_events: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposed_hours: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unexposed_hours: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposed_episodes: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unexposed_episodes: Option<u32>,
}

/// One candidate pattern with everything behind its number.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    /// Stable identity, e.g. `weather:low_pressure` (the never-repeat key).
    pub key: String,
    pub kind: PatternKind,
    pub subject: String,
    /// Rate ratio (rate patterns) or risk ratio of quick relief (relief).
    pub effect: f64,
    pub ci_low: f64,
    pub ci_high: Option<f64>,
    /// Exposed events: episodes in exposed time, or quick reliefs with this strategy.
    pub support: u32,
    pub counts: Counts,
    /// Whether a test was run (enough exposure on both sides to possibly reach significance).
    pub tested: bool,
    /// The p-value tested: the largest of the candidate's own exact test and its tests within
    /// the strata of every other discovered stratifier (`adjusted_for`).
    pub p_value: f64,
    /// The candidate's own exact test, before adjustment.
    pub p_unadjusted: f64,
    /// Other discovered patterns this one was re-tested within the strata of.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub adjusted_for: Vec<String>,
    /// Benjamini–Hochberg adjusted p-value across this child's tested candidates.
    pub q_value: f64,
    /// `1 - q_value`: how sure we are, after accounting for exposure and for many candidates.
    pub confidence: f64,
    pub significant: bool,
    pub method: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub median_minutes_to_relief: Option<f64>,
}

/// A count over a sliding window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowCount {
    /// End of the window: RFC 3339 (UTC) for 6 h windows, the child's local date for 7 d windows.
    pub end: String,
    pub symptom_episodes: u32,
    pub awake_hours: f64,
}

/// Symptom episodes in sliding windows: 6 h with a 1 h hop, 7 d with a 1 d hop, and the trend of
/// the last 7 days against the 7 before (rate ratio per awake hour, exact interval).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Windows {
    pub six_hour: Vec<WindowCount>,
    pub seven_day: Vec<WindowCount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trend_7d: Option<Trend>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trend {
    pub rate_ratio: f64,
    pub ci_low: f64,
    pub ci_high: Option<f64>,
    pub last_7d_episodes: u32,
    pub previous_7d_episodes: u32,
}

/// Everything the engine knows about one child.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub user: String,
    pub observed_from: String,
    pub observed_until: String,
    pub awake_hours: f64,
    pub symptom_episodes: u64,
    pub conversations: u64,
    pub duplicates: u64,
    pub too_late: u64,
    pub fdr_q: f64,
    pub candidates: Vec<Candidate>,
    pub windows: Windows,
}

/// Builds the report for one child from its final counts plus its open hours.
pub fn build(user: &str, child: &ChildState) -> Report {
    let totals = child.current();
    let mut candidates = rate_candidates(&totals);
    candidates.extend(relief_candidates(&totals));
    let best = best_p_values(&candidates, &totals);
    restrict_family(&mut candidates, &best);
    apply_fdr(&mut candidates);
    adjust_for_discoveries(&mut candidates, &totals);
    Report {
        user: user.to_owned(),
        observed_from: rfc3339(child.observed_from_ms.unwrap_or(child.first_ms)),
        observed_until: rfc3339(child.watermark_ms),
        awake_hours: totals.awake_min as f64 / 60.0,
        symptom_episodes: totals.onsets,
        conversations: child.conversations,
        duplicates: child.duplicates,
        too_late: child.too_late,
        fdr_q: FDR_Q,
        candidates,
        windows: windows(&totals),
    }
}

fn rate_names() -> Vec<(PatternKind, String)> {
    let mut names = Vec::new();
    names.extend(TIME_OF_DAY.iter().map(|n| (PatternKind::TimeOfDay, n.to_string())));
    names.extend(WEEKDAYS.iter().chain(DAY_TYPES.iter()).map(|n| (PatternKind::Weekday, n.to_string())));
    names.extend(WEATHER.iter().map(|n| (PatternKind::Weather, n.to_string())));
    names.extend(ActivityCategory::ALL.iter().map(|c| (PatternKind::Trigger, format!("activity:{c}"))));
    debug_assert_eq!(names.len(), TRIGGER0 + 15);
    debug_assert_eq!((TOD0, WEEKDAY0, DAYTYPE0, WEATHER0), (0, 4, 11, 13));
    names
}

fn rate_candidates(totals: &Aggregates) -> Vec<Candidate> {
    rate_names().into_iter().zip(totals.rate.iter()).map(|((kind, subject), c)| rate_candidate(kind, subject, c)).collect()
}

fn rate_candidate(kind: PatternKind, subject: String, c: &RateCounts) -> Candidate {
    let (te, tu) = (c.exposed_min as f64 / 60.0, c.unexposed_min as f64 / 60.0);
    let (a, b) = (u64::from(c.exposed_events), u64::from(c.unexposed_events));
    let estimate = stats::rate_ratio(a, te, b, tu);
    // Tarone: a test whose best possible p-value (every event exposed) cannot reach the FDR
    // level could never be a discovery; leaving it out of the family costs nothing and keeps
    // power for the tests that could.
    //
    // And the exposure must add up to at least 6 at-risk hours (three full 2 h trigger windows):
    // below that, two coincidences in a quarter of an hour of exposure make a "pattern" (the
    // exact test is right about the coincidence, but a child's day is not a Poisson process and
    // a family cannot act on a quarter of an hour). Both rules depend only on the margins
    // (episodes and exposure), never on where the episodes fell.
    let testable = a + b > 0
        && te >= MIN_EXPOSED_HOURS
        && tu > 0.0
        && (te / (te + tu)).powi((a + b) as i32) <= FDR_Q;
    let counts = Counts {
        exposed_events: c.exposed_events,
        unexposed_events: c.unexposed_events,
        exposed_hours: Some(round2(te)),
        unexposed_hours: Some(round2(tu)),
        exposed_episodes: None,
        unexposed_episodes: None,
    };
    candidate(kind, subject, estimate, testable, c.exposed_events, counts, "poisson_rate_ratio_exact_conditional", None)
}

fn relief_candidates(totals: &Aggregates) -> Vec<Candidate> {
    let all: (u32, u32) = totals.relief.iter().fold((0, 0), |acc, r| (acc.0 + r.episodes, acc.1 + r.quick));
    ReliefStrategy::ALL.iter().zip(totals.relief.iter()).map(|(s, r)| relief_candidate(*s, r, all)).collect()
}

fn relief_candidate(strategy: ReliefStrategy, r: &ReliefCounts, all: (u32, u32)) -> Candidate {
    let (n1, x) = (u64::from(r.episodes), u64::from(r.quick));
    let (n2, y) = (u64::from(all.0 - r.episodes), u64::from(all.1 - r.quick));
    // Boschloo's unconditional test (more powerful than Fisher's, same level); the Katz
    // interval stays the reported one.
    let estimate = stats::risk_ratio(x, n1, y, n2).map(|e| Estimate { p_value: stats::boschloo_upper_tail(x, n1, y, n2), ..e });
    // Tarone: the best possible table (every episode with this strategy quick, none of the
    // others) depends on the group sizes only, which the strategy chosen fixes, not the outcome.
    let testable = n1 > 0 && n2 > 0 && stats::boschloo_upper_tail(n1, n1, 0, n2) <= FDR_Q;
    let counts = Counts {
        exposed_events: r.quick,
        unexposed_events: all.1 - r.quick,
        exposed_hours: None,
        unexposed_hours: None,
        exposed_episodes: Some(r.episodes),
        unexposed_episodes: Some(all.0 - r.episodes),
    };
    let median = stats::median(&r.minutes_to_relief);
    let subject = format!("strategy:{strategy}");
    candidate(PatternKind::Relief, subject, estimate, testable, r.quick, counts, "risk_ratio_katz_boschloo_exact", median)
}

#[allow(clippy::too_many_arguments)]
fn candidate(
    kind: PatternKind,
    subject: String,
    estimate: Option<Estimate>,
    tested: bool,
    support: u32,
    counts: Counts,
    method: &'static str,
    median_minutes_to_relief: Option<f64>,
) -> Candidate {
    let e = estimate.unwrap_or(Estimate { effect: 1.0, ci_low: 0.0, ci_high: None, p_value: 1.0 });
    Candidate {
        key: format!("{}:{}", kind.as_str(), subject),
        kind,
        subject,
        effect: round4(e.effect),
        ci_low: round4(e.ci_low),
        ci_high: e.ci_high.map(round4),
        support,
        counts,
        tested,
        p_value: e.p_value,
        p_unadjusted: e.p_value,
        adjusted_for: Vec::new(),
        q_value: 1.0,
        confidence: 0.0,
        significant: false,
        method,
        median_minutes_to_relief,
    }
}

/// Re-tests every tested rate candidate within the strata of each *stronger* stratifier that
/// is a discovery (`cell::STRATIFIERS`; for times of day and triggers also every trigger,
/// `cell::joint_index`), keeping the largest p-value. Candidates are taken in order of their
/// own p-value (strongest first); each is re-tested within the discoveries that stood before it,
/// then weighted BH is applied to the current p-values, and it joins the adjusters only if it is
/// still significant. So a pattern is never removed by one that did not itself survive
/// (session 3 re-tested within every first-round discovery: homework, own p 3·10⁻⁵, fell within
/// `evening`, which then fell within `school_day`, and neither was reported). A p-value can
/// only grow, so BH on the result still controls the false discovery rate; what it removes are
/// patterns that hold only through another (humid hours are low-pressure hours). Candidates
/// are in `rate_names()` order, rate ones first.
fn adjust_for_discoveries(candidates: &mut [Candidate], totals: &Aggregates) {
    let mut order: Vec<usize> = (0..candidates.len()).filter(|&i| candidates[i].tested).collect();
    order.sort_by(|&i, &j| candidates[i].p_unadjusted.total_cmp(&candidates[j].p_unadjusted).then(i.cmp(&j)));
    let adjuster = |i: usize| STRATIFIERS.contains(&i) || (TRIGGER0..TRIGGER0 + 15).contains(&i);
    let mut kept: Vec<usize> = Vec::new();
    for i in order {
        if i < RATE_CANDIDATES && !kept.is_empty() {
            let c = &mut candidates[i];
            for &strat in &kept {
                let Some(cells) = joint_index(i, strat).and_then(|x| totals.joint.get(x)) else { continue };
                let strata: Vec<(u64, f64, u64, f64)> = cells
                    .iter()
                    .map(|r| (u64::from(r.exposed_events), r.exposed_min as f64, u64::from(r.unexposed_events), r.unexposed_min as f64))
                    .collect();
                if let Some(p) = stats::stratified_rate_p(&strata) {
                    c.adjusted_for.push(rate_key(strat));
                    c.p_value = c.p_value.max(p);
                }
            }
            apply_fdr(candidates);
        }
        if adjuster(i) && candidates[i].significant {
            kept.push(i);
        }
    }
}

fn rate_key(index: usize) -> String {
    rate_names().get(index).map_or_else(String::new, |(kind, subject)| format!("{}:{}", kind.as_str(), subject))
}

/// The a-priori weight of a candidate in the weighted Benjamini–Hochberg procedure, by what it
/// is (never by what the data say; identical for every child; ADR 0003 "Multiple testing").
/// Single weekdays see their exposure in four whole days a month, so day-to-day clustering
/// weighs more than the Poisson test assumes, and they overlap `school_day` / `weekend`; they
/// carry a fifth of the weight of a time of day, a weather condition, a trigger or a relief
/// strategy, and the two day types half. Normalised over the tested family to mean 1.
pub fn prior_weight(kind: PatternKind, subject: &str) -> f64 {
    match kind {
        PatternKind::Weekday if DAY_TYPES.contains(&subject) => WEIGHT_DAY_TYPE,
        PatternKind::Weekday => WEIGHT_SINGLE_WEEKDAY,
        _ => 1.0,
    }
}

/// Relative prior weight of `monday` … `sunday` (ADR 0003).
pub const WEIGHT_SINGLE_WEEKDAY: f64 = 0.2;
/// Relative prior weight of `school_day` and `weekend` (ADR 0003).
pub const WEIGHT_DAY_TYPE: f64 = 0.5;

/// The tested candidates' prior weights, normalised to mean 1 over them (weighted BH needs
/// weights that average 1 across the family for its FDR guarantee).
fn family_weights(candidates: &[Candidate], tested: &[usize]) -> Vec<f64> {
    let raw: Vec<f64> = tested.iter().map(|&i| prior_weight(candidates[i].kind, &candidates[i].subject)).collect();
    let total: f64 = raw.iter().sum();
    if total <= 0.0 {
        return vec![1.0; raw.len()];
    }
    raw.iter().map(|w| w * raw.len() as f64 / total).collect()
}

/// The smallest p-value each candidate could reach given only its margins (every event
/// exposed): `p0^n` for a rate, Fisher's most extreme table for relief. 1 for untested ones.
fn best_p_values(candidates: &[Candidate], totals: &Aggregates) -> Vec<f64> {
    let all: u32 = totals.relief.iter().map(|r| r.episodes).sum();
    candidates
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if !c.tested {
                return 1.0;
            }
            if let Some(r) = totals.rate.get(i).filter(|_| i < RATE_CANDIDATES) {
                let (te, tu) = (r.exposed_min as f64, r.unexposed_min as f64);
                let n = r.exposed_events + r.unexposed_events;
                return (te / (te + tu)).powi(n as i32);
            }
            let Some(r) = totals.relief.get(i - RATE_CANDIDATES) else { return 1.0 };
            let (n1, n2) = (u64::from(r.episodes), u64::from(all - r.episodes));
            stats::boschloo_upper_tail(n1, n1, 0, n2)
        })
        .collect()
}

/// Tarone's rule in Gilbert's form for the (weighted) FDR family: the smallest family size `K`
/// such that at most `K` candidates could reach `q · w / K` at their best; the others could
/// never be the first discovery of a family that size and are left out (`tested: false`).
/// Depends on the margins only, never on where the events fell, so FDR control holds and the
/// candidates that could be found keep more of the level.
fn restrict_family(candidates: &mut [Candidate], best: &[f64]) {
    for _ in 0..candidates.len() {
        let tested: Vec<usize> = (0..candidates.len()).filter(|&i| candidates[i].tested).collect();
        if tested.is_empty() {
            return;
        }
        let w = family_weights(candidates, &tested);
        let m = tested.len();
        let reach = |k: usize| tested.iter().zip(&w).filter(|(i, w)| best[**i] <= FDR_Q * **w / k as f64).count();
        let Some(k) = (1..=m).find(|&k| reach(k) <= k) else { return };
        let mut dropped = false;
        for (&i, wi) in tested.iter().zip(&w) {
            if best[i] > FDR_Q * wi / k as f64 {
                candidates[i].tested = false;
                dropped = true;
            }
        }
        // Dropping changes the normalised weights; repeat until the family is stable.
        if !dropped {
            return;
        }
    }
}

/// Weighted Benjamini–Hochberg over the tested candidates (p / w, weights of mean 1: Genovese,
/// Roeder & Wasserman 2006); untested ones keep q = 1.
fn apply_fdr(candidates: &mut [Candidate]) {
    let tested: Vec<usize> = (0..candidates.len()).filter(|&i| candidates[i].tested).collect();
    let w = family_weights(candidates, &tested);
    let p: Vec<f64> = tested.iter().zip(&w).map(|(&i, w)| (candidates[i].p_value / w).min(1.0)).collect();
    for (&i, q) in tested.iter().zip(stats::benjamini_hochberg(&p)) {
        let c = &mut candidates[i];
        c.q_value = q;
        c.confidence = round4(1.0 - q);
        c.significant = q <= FDR_Q && c.effect > 1.0;
    }
}

fn windows(totals: &Aggregates) -> Windows {
    let hourly: Vec<(i64, u32, u32)> = totals.hourly.iter().copied().collect();
    let six_hour = (6..=hourly.len())
        .map(|end| {
            let slice = &hourly[end - 6..end];
            WindowCount {
                end: rfc3339((slice[5].0 + 1) * HOUR_MS),
                symptom_episodes: slice.iter().map(|h| h.1).sum(),
                awake_hours: round2(f64::from(slice.iter().map(|h| h.2).sum::<u32>()) / 60.0),
            }
        })
        .collect();
    let daily: Vec<(i64, u32, u64)> = totals.daily.iter().copied().collect();
    let seven_day = (7..=daily.len())
        .map(|end| {
            let slice = &daily[end - 7..end];
            WindowCount {
                end: local_date(slice[6].0),
                symptom_episodes: slice.iter().map(|d| d.1).sum(),
                awake_hours: round2(slice.iter().map(|d| d.2).sum::<u64>() as f64 / 60.0),
            }
        })
        .collect();
    let trend_7d = (daily.len() == 14).then(|| trend(&daily[..7], &daily[7..])).flatten();
    Windows { six_hour, seven_day, trend_7d }
}

fn trend(previous: &[(i64, u32, u64)], last: &[(i64, u32, u64)]) -> Option<Trend> {
    let sum = |s: &[(i64, u32, u64)]| (s.iter().map(|d| d.1).sum::<u32>(), s.iter().map(|d| d.2).sum::<u64>() as f64 / 60.0);
    let ((a, te), (b, tu)) = (sum(last), sum(previous));
    let e = stats::rate_ratio(u64::from(a), te, u64::from(b), tu)?;
    Some(Trend {
        rate_ratio: round4(e.effect),
        ci_low: round4(e.ci_low),
        ci_high: e.ci_high.map(round4),
        last_7d_episodes: a,
        previous_7d_episodes: b,
    })
}

fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms).map_or_else(String::new, |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

fn local_date(day: i64) -> String {
    NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|epoch| epoch.checked_add_signed(chrono::Duration::days(day)))
        .map_or_else(String::new, |d| d.to_string())
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}
