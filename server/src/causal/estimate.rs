//! The four estimators and the honesty gate in front of them.
//!
//! Every estimator returns a [`Point`]: the average treatment effect (ATE), an analytic standard
//! error, the effect on the treated (ATT) where it is distinct, and diagnostics. The gate turns a
//! table that cannot support an answer into a [`Reason`] instead of a number.

use serde::Serialize;

use super::models::{self, Design, ModelError};
use super::{Config, Method, NumStrata};

/// The columns one analysis uses, owned so bootstrap resamples can be built cheaply.
#[derive(Debug, Clone)]
pub struct Sample {
    pub t: Vec<f64>,
    pub y: Vec<f64>,
    /// Common causes, one vector per column (constant columns already dropped).
    pub w: Vec<Vec<f64>>,
    pub w_names: Vec<String>,
}

impl Sample {
    pub fn n(&self) -> usize {
        self.t.len()
    }

    pub fn n_treated(&self) -> usize {
        self.t.iter().filter(|&&t| t == 1.0).count()
    }

    /// The rows at `idx` (with repeats, for the bootstrap).
    pub fn pick(&self, idx: &[usize]) -> Sample {
        Sample {
            t: idx.iter().map(|&i| self.t[i]).collect(),
            y: idx.iter().map(|&i| self.y[i]).collect(),
            w: self.w.iter().map(|c| idx.iter().map(|&i| c[i]).collect()).collect(),
            w_names: self.w_names.clone(),
        }
    }

    fn w_refs(&self) -> Vec<&[f64]> {
        self.w.iter().map(Vec::as_slice).collect()
    }

    pub fn outcome_is_binary(&self) -> bool {
        self.y.iter().all(|&y| y == 0.0 || y == 1.0)
    }
}

/// Why no number is given ("not enough data yet"). Serialised with a `code` tag.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Reason {
    #[error("only {n} days; at least {min} are needed")]
    TooFewRows { n: usize, min: usize },
    #[error("only {n_treated} days with the intervention; at least {min} are needed")]
    TooFewTreated { n_treated: usize, min: usize },
    #[error("only {n_untreated} days without the intervention; at least {min} are needed")]
    TooFewUntreated { n_untreated: usize, min: usize },
    #[error("'{column}' never changes, so there is nothing to compare")]
    NoVariation { column: String },
    #[error("the intervention happened exactly on the days that differ in the other factors (separation), so they cannot be told apart")]
    Separation,
    #[error("{share_outside_pct:.0} % of days had an almost certain or almost impossible intervention (propensity outside {low}–{high}); there are no comparable days for them")]
    Positivity { share_outside_pct: f64, low: f64, high: f64 },
    #[error("'{column}' is a combination of the other factors")]
    Collinear { column: String },
    #[error("no propensity stratum has more than {clipping_threshold} days both with and without the intervention")]
    NoStrata { clipping_threshold: usize },
    #[error("too few days in one group ({rows}) to fit the outcome model's {params} parameters")]
    OutcomeModelTooSmall { rows: usize, params: usize },
    #[error("the propensity model did not converge")]
    NotConverged,
}

/// Thresholds of the honesty gate (ADR 0004 explains each).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gate {
    pub min_rows: usize,
    pub min_per_group: usize,
    /// Propensities outside `[bound, 1 - bound]` count as outside overlap …
    pub positivity_bound: f64,
    /// … and more than this share of such rows is a positivity violation.
    pub max_share_outside: f64,
}

impl Default for Gate {
    fn default() -> Self {
        Gate { min_rows: 14, min_per_group: 5, positivity_bound: 0.01, max_share_outside: 0.05 }
    }
}

/// Overlap and weighting diagnostics reported beside every estimate.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Diagnostics {
    pub propensity_min: f64,
    pub propensity_max: f64,
    /// Share of rows with propensity outside [0.05, 0.95] (DoWhy's IPW clipping range).
    pub share_outside_05_95: f64,
    pub propensity_iterations: usize,
    /// Kish effective sample sizes of the weighted groups (IPW and AIPW).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ess_treated: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ess_untreated: Option<f64>,
    /// Largest single weight as a share of its group's total weight.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_weight_share: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strata_used: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strata_requested: Option<f64>,
}

/// One estimate with its analytic standard error.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub ate: f64,
    pub se: f64,
    /// Residual degrees of freedom where the interval is Student t (regression).
    pub df: Option<usize>,
    pub att: Option<f64>,
    /// Rows that entered the estimate (stratification drops clipped strata; trimming drops rows).
    pub n_used: usize,
    pub diagnostics: Diagnostics,
}

/// Gate, propensity model, then the method. `min_rows` is skipped for resamples and refutations
/// (`strict = false`): a subset of a valid table is not a new question.
pub fn point(s: &Sample, cfg: &Config, strict: bool) -> Result<Point, Reason> {
    check_counts(s, &cfg.gate, strict)?;
    let (ps, iterations) = propensity(s)?;
    let mut diagnostics = overlap(&ps, iterations);
    check_positivity(&ps, &cfg.gate)?;
    let mut p = match cfg.method {
        Method::Stratification => stratification(s, &ps, cfg.num_strata, cfg.clipping_threshold)?,
        Method::Ipw => ipw(s, &ps, cfg.trim)?,
        Method::Aipw => aipw(s, &ps, cfg.trim)?,
        Method::Regression => regression(s)?,
    };
    diagnostics.ess_treated = p.diagnostics.ess_treated;
    diagnostics.ess_untreated = p.diagnostics.ess_untreated;
    diagnostics.max_weight_share = p.diagnostics.max_weight_share;
    diagnostics.strata_used = p.diagnostics.strata_used;
    diagnostics.strata_requested = p.diagnostics.strata_requested;
    p.diagnostics = diagnostics;
    Ok(p)
}

fn check_counts(s: &Sample, gate: &Gate, strict: bool) -> Result<(), Reason> {
    let n = s.n();
    if strict && n < gate.min_rows {
        return Err(Reason::TooFewRows { n, min: gate.min_rows });
    }
    let n_treated = s.n_treated();
    if n_treated < gate.min_per_group {
        return Err(Reason::TooFewTreated { n_treated, min: gate.min_per_group });
    }
    if n - n_treated < gate.min_per_group {
        return Err(Reason::TooFewUntreated { n_untreated: n - n_treated, min: gate.min_per_group });
    }
    if models::mean_sd(&s.y).1 == 0.0 {
        return Err(Reason::NoVariation { column: "outcome".to_owned() });
    }
    Ok(())
}

fn model_reason(e: ModelError, names: &[String], offset: usize) -> Reason {
    match e {
        ModelError::Separation => Reason::Separation,
        ModelError::NotConverged(_) => Reason::NotConverged,
        ModelError::Collinear(j) => Reason::Collinear {
            column: j.checked_sub(offset).and_then(|k| names.get(k)).cloned().unwrap_or_else(|| "treatment".into()),
        },
        ModelError::TooFewRows { rows, params } => Reason::OutcomeModelTooSmall { rows, params },
    }
}

/// Propensity scores from a logistic regression of treatment on the common causes.
pub fn propensity(s: &Sample) -> Result<(Vec<f64>, usize), Reason> {
    let n = s.n();
    if s.w.is_empty() {
        let share = s.n_treated() as f64 / n as f64;
        return Ok((vec![share; n], 0));
    }
    let design = Design::standardized(&s.w_refs(), n);
    let fit = models::logistic(&design, &s.t).map_err(|e| model_reason(e, &s.w_names, 1))?;
    Ok((fit.fitted, fit.iterations))
}

fn overlap(ps: &[f64], iterations: usize) -> Diagnostics {
    let outside = ps.iter().filter(|&&e| !(0.05..=0.95).contains(&e)).count();
    Diagnostics {
        propensity_min: ps.iter().copied().fold(f64::INFINITY, f64::min),
        propensity_max: ps.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        share_outside_05_95: outside as f64 / ps.len() as f64,
        propensity_iterations: iterations,
        ..Diagnostics::default()
    }
}

fn check_positivity(ps: &[f64], gate: &Gate) -> Result<(), Reason> {
    let (low, high) = (gate.positivity_bound, 1.0 - gate.positivity_bound);
    let outside = ps.iter().filter(|&&e| e < low || e > high).count();
    let share = outside as f64 / ps.len() as f64;
    if share > gate.max_share_outside {
        return Err(Reason::Positivity { share_outside_pct: 100.0 * share, low, high });
    }
    Ok(())
}

/// Linear-regression adjustment: the treatment coefficient of `y ~ 1 + t + W`.
fn regression(s: &Sample) -> Result<Point, Reason> {
    let design = Design::with_raw_first(&s.t, &s.w_refs(), s.n());
    let fit = models::ols(&design, &s.y).map_err(|e| model_reason(e, &s.w_names, 2))?;
    Ok(Point {
        ate: fit.beta[1],
        se: fit.se[1],
        df: Some(fit.df),
        att: None,
        n_used: s.n(),
        diagnostics: Diagnostics::default(),
    })
}

/// Rows kept after optional trimming of propensities outside `[a, 1 - a]`.
fn trimmed(ps: &[f64], trim: Option<f64>) -> Vec<usize> {
    match trim {
        Some(a) => (0..ps.len()).filter(|&i| ps[i] >= a && ps[i] <= 1.0 - a).collect(),
        None => (0..ps.len()).collect(),
    }
}

/// Inverse-probability weighting with stabilised weights, normalised within each group (Hájek).
/// The standard error comes from the estimator's influence function with the propensity taken as
/// known, which is conservative for the ATE (Hirano, Imbens & Ridder 2003).
fn ipw(s: &Sample, ps: &[f64], trim: Option<f64>) -> Result<Point, Reason> {
    let rows = trimmed(ps, trim);
    let n = rows.len() as f64;
    let p_treat = rows.iter().filter(|&&i| s.t[i] == 1.0).count() as f64 / n;
    let weight = |i: usize| {
        if s.t[i] == 1.0 { p_treat / ps[i] } else { (1.0 - p_treat) / (1.0 - ps[i]) }
    };
    let (mut sw1, mut sw0, mut swy1, mut swy0, mut sq1, mut sq0, mut max1, mut max0) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0f64, 0.0f64);
    for &i in &rows {
        let w = weight(i);
        if s.t[i] == 1.0 {
            (sw1, swy1, sq1, max1) = (sw1 + w, swy1 + w * s.y[i], sq1 + w * w, max1.max(w));
        } else {
            (sw0, swy0, sq0, max0) = (sw0 + w, swy0 + w * s.y[i], sq0 + w * w, max0.max(w));
        }
    }
    let (mu1, mu0) = (swy1 / sw1, swy0 / sw0);
    let (m1, m0) = (sw1 / n, sw0 / n);
    let psi: Vec<f64> = rows
        .iter()
        .map(|&i| {
            let w = weight(i);
            if s.t[i] == 1.0 { w * (s.y[i] - mu1) / m1 } else { -w * (s.y[i] - mu0) / m0 }
        })
        .collect();
    let att = ipw_att(s, ps, &rows);
    Ok(Point {
        ate: mu1 - mu0,
        se: influence_se(&psi),
        df: None,
        att: Some(att),
        n_used: rows.len(),
        diagnostics: Diagnostics {
            ess_treated: Some(sw1 * sw1 / sq1),
            ess_untreated: Some(sw0 * sw0 / sq0),
            max_weight_share: Some((max1 / sw1).max(max0 / sw0)),
            ..Diagnostics::default()
        },
    })
}

/// ATT by weighting: treated mean minus the untreated mean weighted by the odds `e/(1-e)`.
fn ipw_att(s: &Sample, ps: &[f64], rows: &[usize]) -> f64 {
    let (mut y1, mut n1, mut wy0, mut w0) = (0.0, 0.0, 0.0, 0.0);
    for &i in rows {
        if s.t[i] == 1.0 {
            y1 += s.y[i];
            n1 += 1.0;
        } else {
            let odds = ps[i] / (1.0 - ps[i]);
            wy0 += odds * s.y[i];
            w0 += odds;
        }
    }
    y1 / n1 - wy0 / w0
}

fn influence_se(psi: &[f64]) -> f64 {
    let (_, sd) = models::mean_sd(psi);
    sd / (psi.len() as f64).sqrt()
}

/// Augmented IPW (doubly robust): separate linear outcome models per group plus the weighted
/// residual correction; consistent if either the outcome or the propensity model is right.
fn aipw(s: &Sample, ps: &[f64], trim: Option<f64>) -> Result<Point, Reason> {
    let rows = trimmed(ps, trim);
    let sub = s.pick(&rows);
    let ps: Vec<f64> = rows.iter().map(|&i| ps[i]).collect();
    let design = Design::standardized(&sub.w_refs(), sub.n());
    let fit_arm = |arm: f64| {
        let d = design.filter(|r| sub.t[r] == arm);
        let y: Vec<f64> = (0..sub.n()).filter(|&r| sub.t[r] == arm).map(|r| sub.y[r]).collect();
        models::ols(&d, &y).map(|f| design.predict(&f.beta)).map_err(|e| model_reason(e, &sub.w_names, 1))
    };
    let (m1, m0) = (fit_arm(1.0)?, fit_arm(0.0)?);
    let psi: Vec<f64> = (0..sub.n())
        .map(|i| {
            let (t, y, e) = (sub.t[i], sub.y[i], ps[i]);
            m1[i] - m0[i] + t * (y - m1[i]) / e - (1.0 - t) * (y - m0[i]) / (1.0 - e)
        })
        .collect();
    let (ate, _) = models::mean_sd(&psi);
    let (mut att_sum, mut n1) = (0.0, 0.0);
    let (mut sw1, mut sw0, mut sq1, mut sq0) = (0.0, 0.0, 0.0, 0.0);
    for i in 0..sub.n() {
        let (t, y, e) = (sub.t[i], sub.y[i], ps[i]);
        att_sum += t * (y - m0[i]) - (1.0 - t) * e / (1.0 - e) * (y - m0[i]);
        n1 += t;
        let w = if t == 1.0 { 1.0 / e } else { 1.0 / (1.0 - e) };
        if t == 1.0 {
            (sw1, sq1) = (sw1 + w, sq1 + w * w);
        } else {
            (sw0, sq0) = (sw0 + w, sq0 + w * w);
        }
    }
    Ok(Point {
        ate,
        se: influence_se(&psi),
        df: None,
        att: Some(att_sum / n1),
        n_used: sub.n(),
        diagnostics: Diagnostics {
            ess_treated: Some(sw1 * sw1 / sq1),
            ess_untreated: Some(sw0 * sw0 / sq0),
            ..Diagnostics::default()
        },
    })
}

/// Per-stratum sums, as DoWhy keeps them.
#[derive(Debug, Clone, Copy, Default)]
struct Stratum {
    n1: f64,
    n0: f64,
    y1: f64,
    y0: f64,
    yy1: f64,
    yy0: f64,
}

/// Propensity-score stratification exactly as DoWhy 0.14 defines it: stratum label
/// `round(rank(e)/n · k)` (average ranks for ties, round half to even), strata kept only when they
/// hold more than `clipping_threshold` treated and untreated rows, ATE = size-weighted mean of the
/// per-stratum differences. `Auto` starts at `k = n / (2·clip)` and halves until at least half the
/// requested strata survive.
fn stratification(s: &Sample, ps: &[f64], num: NumStrata, clip: usize) -> Result<Point, Reason> {
    let ranks = average_ranks(ps);
    let (strata, k) = match num {
        NumStrata::Fixed(k) => (
            clipped_strata(s, &ranks, k as f64, clip).ok_or(Reason::NoStrata { clipping_threshold: clip })?,
            k as f64,
        ),
        NumStrata::Auto => auto_strata(s, &ranks, clip)?,
    };
    let (n1, n0) = strata.iter().fold((0.0, 0.0), |(a, b), st| (a + st.n1, b + st.n0));
    let total = n1 + n0;
    let (mut ate, mut att, mut var) = (0.0, 0.0, 0.0);
    for st in &strata {
        let effect = st.y1 / st.n1 - st.y0 / st.n0;
        let share = (st.n1 + st.n0) / total;
        ate += effect * share;
        att += effect * st.n1 / n1;
        var += share * share * (group_var(st.n1, st.y1, st.yy1) / st.n1 + group_var(st.n0, st.y0, st.yy0) / st.n0);
    }
    Ok(Point {
        ate,
        se: var.sqrt(),
        df: None,
        att: Some(att),
        n_used: total as usize,
        diagnostics: Diagnostics {
            strata_used: Some(strata.len()),
            strata_requested: Some(k),
            ..Diagnostics::default()
        },
    })
}

fn group_var(n: f64, sum: f64, sum_sq: f64) -> f64 {
    if n < 2.0 { 0.0 } else { ((sum_sq - sum * sum / n) / (n - 1.0)).max(0.0) }
}

fn auto_strata(s: &Sample, ranks: &[f64], clip: usize) -> Result<(Vec<Stratum>, f64), Reason> {
    let mut k = 0.5 * s.n() as f64 / clip.max(1) as f64;
    loop {
        if let Some(strata) = clipped_strata(s, ranks, k, clip)
            && strata.len() as f64 >= 0.5 * k
        {
            return Ok((strata, k));
        }
        k = (k / 2.0).trunc();
        if k < 2.0 {
            return Err(Reason::NoStrata { clipping_threshold: clip });
        }
    }
}

fn clipped_strata(s: &Sample, ranks: &[f64], k: f64, clip: usize) -> Option<Vec<Stratum>> {
    let n = s.n() as f64;
    // Labels run from 0 to round(k) (ranks are at most n), so a dense vector indexes them.
    let mut by_label = vec![Stratum::default(); k.round() as usize + 2];
    for (i, rank) in ranks.iter().enumerate() {
        let label = (rank / n * k).round_ties_even() as usize;
        let last = by_label.len() - 1;
        let st = &mut by_label[label.min(last)];
        let y = s.y[i];
        if s.t[i] == 1.0 {
            (st.n1, st.y1, st.yy1) = (st.n1 + 1.0, st.y1 + y, st.yy1 + y * y);
        } else {
            (st.n0, st.y0, st.yy0) = (st.n0 + 1.0, st.y0 + y, st.yy0 + y * y);
        }
    }
    let kept: Vec<Stratum> = by_label.into_iter().filter(|st| st.n1.min(st.n0) > clip as f64).collect();
    (!kept.is_empty()).then_some(kept)
}

/// 1-based ranks, ties sharing their average rank (pandas' default `rank()`).
fn average_ranks(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut ranks = vec![0.0; v.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && v[order[j + 1]] == v[order[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &o in &order[i..=j] {
            ranks[o] = avg;
        }
        i = j + 1;
    }
    ranks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_average_ties() {
        assert_eq!(average_ranks(&[0.3, 0.1, 0.3, 0.2]), vec![3.5, 1.0, 3.5, 2.0]);
    }

    fn toy() -> Sample {
        // Two strata by x; within each, treated outcome is control + 2.
        let mut s = Sample { t: vec![], y: vec![], w: vec![vec![]], w_names: vec!["x".into()] };
        for i in 0..200 {
            let x = f64::from(i % 2);
            let t = if (i / 2) % 4 < 1 + 2 * (i % 2) { 1.0 } else { 0.0 };
            s.t.push(t);
            s.y.push(1.0 + 3.0 * x + 2.0 * t + 0.01 * f64::from(i % 7));
            s.w[0].push(x);
        }
        s
    }

    #[test]
    fn every_estimator_recovers_a_constant_effect() {
        let s = toy();
        for method in [Method::Stratification, Method::Ipw, Method::Aipw, Method::Regression] {
            let cfg = Config { method, ..Config::default() };
            let p = point(&s, &cfg, true).unwrap();
            assert!((p.ate - 2.0).abs() < 0.02, "{method:?}: {}", p.ate);
            // Weighting keeps the outcome variance the covariate explains; regression removes it.
            assert!(p.se > 0.0 && p.se < 0.4, "{method:?}: se {}", p.se);
        }
    }

    #[test]
    fn gate_refuses_small_and_degenerate_tables() {
        let s = toy();
        let cfg = Config::default();
        let small = s.pick(&(0..13).collect::<Vec<_>>());
        assert_eq!(point(&small, &cfg, true).unwrap_err(), Reason::TooFewRows { n: 13, min: 14 });
        let treated: Vec<usize> = (0..200).filter(|&i| s.t[i] == 1.0).take(4).collect();
        let few_treated = s.pick(&(0..200).filter(|&i| s.t[i] == 0.0 || treated.contains(&i)).collect::<Vec<_>>());
        assert!(matches!(point(&few_treated, &cfg, true), Err(Reason::TooFewTreated { .. })));
        let mut flat = s.clone();
        flat.y = vec![3.0; 200];
        assert_eq!(point(&flat, &cfg, true).unwrap_err(), Reason::NoVariation { column: "outcome".into() });
        let mut separated = s.clone();
        separated.t = separated.w[0].clone();
        assert_eq!(point(&separated, &cfg, true).unwrap_err(), Reason::Separation);
    }
}
