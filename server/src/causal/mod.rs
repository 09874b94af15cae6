//! Causal analysis: did an intervention help this child? (issue 7, ADR 0004)
//!
//! Plain Rust over an in-memory [`Table`]: binary treatment, continuous or binary outcome, named
//! common causes. Four estimators (propensity-score stratification, stabilised IPW, doubly robust
//! AIPW, regression adjustment), analytic or seeded parallel-bootstrap intervals, three DoWhy-style
//! refutations, and an honesty gate that answers "not enough data yet" with a reason instead of a
//! number. [`daily`] builds the per-child-day table from synced records; [`summary`] words the
//! result for a parent.

pub mod daily;
pub mod family;
mod estimate;
pub mod generate;
mod models;
mod refute;
mod rng;
pub mod summary;
mod table;

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

pub use estimate::{Diagnostics, Gate, Reason};
pub use refute::Refutation;
pub use table::{Table, TableError};

use estimate::{Point, Sample};
use rng::SplitMix64;

/// Errors in the question itself (not in the amount of data, which is a [`Reason`]).
#[derive(Debug, thiserror::Error)]
pub enum CausalError {
    #[error(transparent)]
    Table(#[from] TableError),
    #[error("treatment column '{column}' must hold only 0/1 or true/false; row {row} has {value}")]
    TreatmentNotBinary { column: String, row: usize, value: f64 },
    #[error("column '{0}' is named more than once (treatment, outcome and common causes must differ)")]
    RepeatedColumn(String),
    #[error("unknown method '{0}' (expected stratification, ipw, aipw or regression)")]
    UnknownMethod(String),
    #[error("confidence level {0} must be between 0 and 1")]
    BadConfidence(f64),
}

/// The estimator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Stratification,
    Ipw,
    Aipw,
    Regression,
}

impl Method {
    pub const ALL: [Method; 4] = [Method::Stratification, Method::Ipw, Method::Aipw, Method::Regression];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Stratification => "stratification",
            Method::Ipw => "ipw",
            Method::Aipw => "aipw",
            Method::Regression => "regression",
        }
    }
}

impl std::str::FromStr for Method {
    type Err = CausalError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Method::ALL.into_iter().find(|m| m.as_str() == s).ok_or_else(|| CausalError::UnknownMethod(s.to_owned()))
    }
}

/// How many propensity strata: DoWhy's automatic choice, or a fixed number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumStrata {
    Auto,
    Fixed(usize),
}

/// Which columns play which role.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub treatment: String,
    pub outcome: String,
    pub common_causes: Vec<String>,
}

/// How to estimate. `Default` is DoWhy's defaults where DoWhy has one.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub method: Method,
    /// Bootstrap replicates; 0 gives the analytic interval.
    pub bootstrap: usize,
    pub seed: u64,
    pub confidence: f64,
    pub num_strata: NumStrata,
    /// Strata need more than this many treated and untreated rows (DoWhy: 10).
    pub clipping_threshold: usize,
    /// IPW/AIPW: drop rows with propensity outside `[a, 1 − a]` (off by default; see ADR 0004).
    pub trim: Option<f64>,
    pub refute: bool,
    pub gate: Gate,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            method: Method::Aipw,
            bootstrap: 0,
            seed: 0,
            confidence: 0.95,
            num_strata: NumStrata::Auto,
            clipping_threshold: 10,
            trim: None,
            refute: true,
            gate: Gate::default(),
        }
    }
}

/// How the interval was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IntervalKind {
    BootstrapPercentile,
    Normal,
    StudentT,
}

/// Bootstrap bookkeeping: replicates that could not be estimated are counted, not hidden.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BootstrapInfo {
    pub replicates: usize,
    pub failed: usize,
    pub seed: u64,
    pub se: f64,
}

/// An estimate with everything behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    pub method: Method,
    pub estimate: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub confidence: f64,
    pub interval: IntervalKind,
    /// Analytic standard error of `estimate`.
    pub se: f64,
    pub att: Option<f64>,
    pub n: usize,
    pub n_treated: usize,
    pub n_used: usize,
    pub outcome_binary: bool,
    /// Mean outcome on untreated rows: the baseline a relative effect is stated against.
    pub untreated_mean: f64,
    pub refutations: Vec<Refutation>,
    pub diagnostics: Diagnostics,
    pub bootstrap: Option<BootstrapInfo>,
    /// Common causes left out because they never vary.
    pub dropped_common_causes: Vec<String>,
}

/// "Not enough data yet", with the reason and the counts behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotEnoughData {
    pub method: Method,
    pub reason: Reason,
    pub message: String,
    pub n: usize,
    pub n_treated: usize,
}

/// The answer: a number with its uncertainty, or a reason why there is none yet.
#[derive(Debug, Clone, PartialEq)]
pub enum Analysis {
    Estimated(Box<Estimate>),
    NotEnoughData(NotEnoughData),
}

/// Estimates the effect of `spec.treatment` on `spec.outcome` adjusted for the common causes.
pub fn analyze(table: &Table, spec: &Spec, cfg: &Config) -> Result<Analysis, CausalError> {
    if !(cfg.confidence > 0.0 && cfg.confidence < 1.0) {
        return Err(CausalError::BadConfidence(cfg.confidence));
    }
    let (sample, dropped) = sample_from(table, spec)?;
    let (n, n_treated) = (sample.n(), sample.n_treated());
    let refuse = |reason: Reason| {
        tracing::info!(method = cfg.method.as_str(), n, n_treated, %reason, "not enough data yet");
        Ok(Analysis::NotEnoughData(NotEnoughData {
            method: cfg.method,
            message: reason.to_string(),
            reason,
            n,
            n_treated,
        }))
    };
    let p = match estimate::point(&sample, cfg, true) {
        Ok(p) => p,
        Err(reason) => return refuse(reason),
    };
    let (ci_low, ci_high, interval, bootstrap) = interval(&sample, cfg, &p);
    let se_for_checks = bootstrap.as_ref().map_or(p.se, |b| b.se);
    let refutations =
        if cfg.refute { refute::refute_all(&sample, cfg, p.ate, se_for_checks) } else { Vec::new() };
    let untreated: Vec<f64> = (0..n).filter(|&i| sample.t[i] == 0.0).map(|i| sample.y[i]).collect();
    Ok(Analysis::Estimated(Box::new(Estimate {
        method: cfg.method,
        estimate: p.ate,
        ci_low,
        ci_high,
        confidence: cfg.confidence,
        interval,
        se: p.se,
        att: p.att,
        n,
        n_treated,
        n_used: p.n_used,
        outcome_binary: sample.outcome_is_binary(),
        untreated_mean: untreated.iter().sum::<f64>() / untreated.len() as f64,
        refutations,
        diagnostics: p.diagnostics,
        bootstrap,
        dropped_common_causes: dropped,
    })))
}

/// Pulls the named columns, checks the treatment is binary, drops constant common causes.
fn sample_from(table: &Table, spec: &Spec) -> Result<(Sample, Vec<String>), CausalError> {
    let mut seen = std::collections::HashSet::new();
    for name in std::iter::once(&spec.treatment).chain([&spec.outcome]).chain(&spec.common_causes) {
        if !seen.insert(name.as_str()) {
            return Err(CausalError::RepeatedColumn(name.clone()));
        }
    }
    let t = table.column(&spec.treatment)?.to_vec();
    if let Some(row) = t.iter().position(|&v| v != 0.0 && v != 1.0) {
        return Err(CausalError::TreatmentNotBinary { column: spec.treatment.clone(), row: row + 1, value: t[row] });
    }
    let y = table.column(&spec.outcome)?.to_vec();
    let (mut w, mut w_names, mut dropped) = (Vec::new(), Vec::new(), Vec::new());
    for name in &spec.common_causes {
        let col = table.column(name)?;
        if col.iter().all(|&v| v == col[0]) {
            tracing::info!(column = %name, "common cause never varies; left out");
            dropped.push(name.clone());
        } else {
            w.push(col.to_vec());
            w_names.push(name.clone());
        }
    }
    Ok((Sample { t, y, w, w_names }, dropped))
}

/// Bootstrap percentile interval when replicates are asked for, else the analytic one.
fn interval(s: &Sample, cfg: &Config, p: &Point) -> (f64, f64, IntervalKind, Option<BootstrapInfo>) {
    let alpha = 1.0 - cfg.confidence;
    if cfg.bootstrap > 0 {
        let (mut reps, failed) = bootstrap(s, cfg);
        if reps.len() >= 2 {
            reps.sort_by(f64::total_cmp);
            let (_, sd) = models_sd(&reps);
            let info = BootstrapInfo { replicates: cfg.bootstrap, failed, seed: cfg.seed, se: sd };
            let lo = quantile(&reps, alpha / 2.0);
            let hi = quantile(&reps, 1.0 - alpha / 2.0);
            return (lo, hi, IntervalKind::BootstrapPercentile, Some(info));
        }
        tracing::warn!(failed, "bootstrap produced too few replicates; using the analytic interval");
    }
    let (z, kind) = match p.df {
        Some(df) => (student_quantile(df, 1.0 - alpha / 2.0), IntervalKind::StudentT),
        None => (normal_quantile(1.0 - alpha / 2.0), IntervalKind::Normal),
    };
    (p.ate - z * p.se, p.ate + z * p.se, kind, None)
}

fn models_sd(v: &[f64]) -> (f64, f64) {
    models::mean_sd(v)
}

fn normal_quantile(q: f64) -> f64 {
    Normal::new(0.0, 1.0).map_or(1.959_963_984_540_054, |d| d.inverse_cdf(q))
}

fn student_quantile(df: usize, q: f64) -> f64 {
    StudentsT::new(0.0, 1.0, df as f64).map_or_else(|_| normal_quantile(q), |d| d.inverse_cdf(q))
}

/// Linear-interpolation quantile of sorted values (numpy's default).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, frac) = (pos.floor() as usize, pos - pos.floor());
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + frac * (sorted[hi] - sorted[lo])
}

/// Seeded bootstrap on two threads; replicate `b` always uses stream `b`, so the result does not
/// depend on the thread count. Returns the estimates and how many replicates failed the gate.
fn bootstrap(s: &Sample, cfg: &Config) -> (Vec<f64>, usize) {
    const THREADS: usize = 2;
    let run = |b: usize| {
        let mut rng = SplitMix64::stream(cfg.seed, b as u64);
        let idx: Vec<usize> = (0..s.n()).map(|_| rng.below(s.n())).collect();
        estimate::point(&s.pick(&idx), cfg, false).map(|p| p.ate).ok()
    };
    let results: Vec<Option<f64>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|k| scope.spawn(move || (k..cfg.bootstrap).step_by(THREADS).map(run).collect::<Vec<_>>()))
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    let failed = cfg.bootstrap - results.iter().flatten().count();
    (results.into_iter().flatten().collect(), failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Spec {
        Spec { treatment: "t".into(), outcome: "y".into(), common_causes: vec!["w0".into(), "w1".into()] }
    }

    #[test]
    fn linear_data_every_method_covers_the_truth() {
        let data = generate::generate(&generate::GenSpec { n: 2000, seed: 3, ..Default::default() });
        for method in Method::ALL {
            let cfg = Config { method, ..Config::default() };
            let Analysis::Estimated(e) = analyze(&data.table, &spec(), &cfg).unwrap() else {
                panic!("{method:?} refused")
            };
            assert!(e.ci_low < data.true_ate && data.true_ate < e.ci_high, "{method:?}: {e:?}");
            assert_eq!(e.refutations.len(), 3);
            assert!(e.refutations.iter().all(|r| r.passed), "{method:?}: {:?}", e.refutations);
        }
    }

    #[test]
    fn bootstrap_is_reproducible_and_thread_independent() {
        let data = generate::generate(&generate::GenSpec { n: 300, seed: 9, ..Default::default() });
        let cfg = Config { method: Method::Ipw, bootstrap: 50, seed: 11, refute: false, ..Config::default() };
        let a = analyze(&data.table, &spec(), &cfg).unwrap();
        let b = analyze(&data.table, &spec(), &cfg).unwrap();
        assert_eq!(a, b);
        let Analysis::Estimated(e) = a else { panic!("refused") };
        assert_eq!(e.interval, IntervalKind::BootstrapPercentile);
        assert_eq!(e.bootstrap.as_ref().map(|b| b.failed), Some(0));
        assert!(e.ci_low < e.estimate && e.estimate < e.ci_high);
    }

    #[test]
    fn tiny_tables_get_a_reason_not_a_number() {
        let data = generate::generate(&generate::GenSpec { n: 12, seed: 1, ..Default::default() });
        let Analysis::NotEnoughData(r) = analyze(&data.table, &spec(), &Config::default()).unwrap() else {
            panic!("estimated from 12 rows")
        };
        assert_eq!(r.reason, Reason::TooFewRows { n: 12, min: 14 });
        assert_eq!(r.message, "only 12 days; at least 14 are needed");
    }

    #[test]
    fn bad_questions_are_errors() {
        let table = Table::new().with("t", vec![0.0, 2.0]).unwrap().with("y", vec![1.0, 2.0]).unwrap();
        let s = Spec { treatment: "t".into(), outcome: "y".into(), common_causes: vec![] };
        assert!(matches!(
            analyze(&table, &s, &Config::default()),
            Err(CausalError::TreatmentNotBinary { row: 2, .. })
        ));
        let s = Spec { treatment: "t".into(), outcome: "t".into(), common_causes: vec![] };
        assert!(matches!(analyze(&table, &s, &Config::default()), Err(CausalError::RepeatedColumn(_))));
        assert!("matching".parse::<Method>().is_err());
    }

    #[test]
    fn quantile_interpolates() {
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), 2.5);
        assert!((student_quantile(10, 0.975) - 2.228_138_85).abs() < 1e-6);
    }
}
