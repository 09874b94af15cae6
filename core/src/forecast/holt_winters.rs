//! Additive Holt–Winters with a damped trend (ETS(A,Ad,A)), for hourly series with a daily season.
//!
//! - Initial state: level = mean of the first season, trend = (mean of the second season − mean of
//!   the first) / period, seasonal terms = the first season minus its mean. Needs two full seasons.
//! - Parameters by grid search minimising the mean squared error of the in-sample forecasts of
//!   every horizon 1..=H (H = 24: the use) made after the first season, not only the one-step
//!   error (one-step-optimal smoothing chases short-lived noise that a day-ahead forecast pays for):
//!   α ∈ {0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7}, β ∈ {0, 0.01, 0.05}, γ ∈ {0.02, 0.05, 0.1, 0.2,
//!   0.4}, φ = 0.9 (the trend dies out within a day, so a busy afternoon is not extrapolated).
//! - Missing observations (`None`) are replaced by the one-step forecast: the state carries on
//!   without learning from them.
//! - Prediction intervals: mean ± z × the in-sample RMSE of forecasts of the same horizon
//!   (empirical, so autocorrelated noise widens them as it should); the backtest reports their
//!   coverage.

use super::ForecastError;


const ALPHAS: [f64; 7] = [0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7];
const BETAS: [f64; 3] = [0.0, 0.01, 0.05];
const GAMMAS: [f64; 5] = [0.02, 0.05, 0.1, 0.2, 0.4];
const PHI: f64 = 0.9;

/// Smoothing parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    pub alpha: f64,
    pub beta: f64,
    pub gamma: f64,
    pub phi: f64,
}

/// A fitted model at the end of its series.
#[derive(Debug, Clone, PartialEq)]
pub struct HoltWinters {
    pub params: Params,
    pub period: usize,
    level: f64,
    trend: f64,
    /// Seasonal terms; `season[t % period]` belongs to step t.
    season: Vec<f64>,
    /// Steps seen (the next forecast is for step `n`).
    n: usize,
    /// In-sample root mean squared error of the forecasts `h + 1` steps ahead (the interval widths).
    pub rmse: Vec<f64>,
    /// Mean squared error over all horizons (what the grid search minimised).
    pub loss: f64,
    /// Observed points the one-step errors came from.
    pub residuals: usize,
}

/// One forecast step: the mean and the interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Predicted {
    pub mean: f64,
    pub lo: f64,
    pub hi: f64,
}

impl HoltWinters {
    /// Fits the model for forecasts up to `horizon` steps ahead (grid search, see the module docs).
    pub fn fit(series: &[Option<f64>], period: usize, horizon: usize) -> Result<Self, ForecastError> {
        if horizon == 0 {
            return Err(ForecastError::InvalidParameter { name: "horizon", reason: "must be at least 1".into() });
        }
        if period < 2 {
            return Err(ForecastError::InvalidParameter { name: "period", reason: "must be at least 2".into() });
        }
        let (first, second) = match (series.get(..period), series.get(period..2 * period)) {
            (Some(a), Some(b)) => (a, b),
            _ => return Err(ForecastError::TooShort { needed: 2 * period, got: series.len() }),
        };
        let mean = |v: &[Option<f64>]| {
            let known: Vec<f64> = v.iter().flatten().copied().filter(|x| x.is_finite()).collect();
            (known.len() * 2 >= v.len()).then(|| known.iter().sum::<f64>() / known.len() as f64)
        };
        let (Some(m1), Some(m2)) = (mean(first), mean(second)) else {
            return Err(ForecastError::TooSparse { what: "the first two seasons need half their points" });
        };
        let init_season: Vec<f64> = first.iter().map(|v| v.filter(|x| x.is_finite()).map_or(0.0, |x| x - m1)).collect();
        let init = (m1, (m2 - m1) / period as f64, init_season);
        let mut best: Option<(f64, HoltWinters)> = None;
        for &alpha in &ALPHAS {
            for &beta in &BETAS {
                for &gamma in &GAMMAS {
                    let params = Params { alpha, beta, gamma, phi: PHI };
                    let model = run(series, period, params, &init, horizon);
                    if model.residuals > 1 && best.as_ref().is_none_or(|(b, _)| model.loss < *b) {
                        best = Some((model.loss, model));
                    }
                }
            }
        }
        best.map(|(_, m)| m).ok_or(ForecastError::TooSparse { what: "no observed points after the first season" })
    }

    /// The next `h` steps (at most the fitted horizon) with intervals of `z` in-sample RMSEs of
    /// the same horizon (1.96: 95 % if the errors are Gaussian; the backtest reports coverage).
    pub fn forecast(&self, h: usize, z: f64) -> Vec<Predicted> {
        let phi = self.params.phi;
        let mut out = Vec::with_capacity(h);
        let mut damp = 0.0f64;
        let mut last_rmse = self.rmse.first().copied().unwrap_or(f64::NAN);
        for step in 1..=h.min(self.rmse.len()) {
            damp += phi.powi(step as i32);
            let mean = self.level + damp * self.trend + self.season[(self.n + step - 1) % self.period];
            if let Some(r) = self.rmse.get(step - 1).filter(|r| r.is_finite()) {
                last_rmse = *r;
            }
            let half = z * last_rmse;
            out.push(Predicted { mean, lo: mean - half, hi: mean + half });
        }
        out
    }
}

/// Runs the recursions over `series`; scores every in-sample forecast of the next `horizon`
/// steps made after the first season.
fn run(series: &[Option<f64>], period: usize, p: Params, init: &(f64, f64, Vec<f64>), horizon: usize) -> HoltWinters {
    let (mut level, mut trend, mut season) = (init.0, init.1, init.2.clone());
    // Level and trend describe the middle of the first season; move the level to its end.
    level += trend * (period as f64 - 1.0) / 2.0;
    let mut damp = Vec::with_capacity(horizon);
    let mut d = 0.0;
    for h in 1..=horizon {
        d += p.phi.powi(h as i32);
        damp.push(d);
    }
    let mut sq = vec![(0.0f64, 0usize); horizon];
    for t in period..series.len() {
        for (h, slot) in sq.iter_mut().enumerate() {
            let Some(y) = series.get(t + h).copied().flatten().filter(|v| v.is_finite()) else { continue };
            let predicted = level + damp[h] * trend + season[(t + h) % period];
            slot.0 += (y - predicted).powi(2);
            slot.1 += 1;
        }
        let s = season[t % period];
        let predicted = level + p.phi * trend + s;
        let error = series[t].filter(|v| v.is_finite()).map_or(0.0, |y| y - predicted);
        level += p.phi * trend + p.alpha * error;
        trend = p.phi * trend + p.beta * p.alpha * error;
        season[t % period] = s + p.gamma * error;
    }
    let rmse: Vec<f64> = sq.iter().map(|&(sum, n)| if n > 1 { (sum / n as f64).sqrt() } else { f64::NAN }).collect();
    let scored: usize = sq.iter().map(|s| s.1).sum();
    let loss = if scored > 0 { sq.iter().map(|s| s.0).sum::<f64>() / scored as f64 } else { f64::INFINITY };
    HoltWinters { params: p, period, level, trend, season, n: series.len(), rmse, loss, residuals: sq[0].1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn daily(days: usize, noise: &mut crate::sample::SplitMix64) -> Vec<Option<f64>> {
        (0..days * 24)
            .map(|t| {
                let h = (t % 24) as f64;
                Some(50.0 + 15.0 * (std::f64::consts::TAU * (h - 9.0) / 24.0).sin() + noise.normal() * 3.0)
            })
            .collect()
    }

    #[test]
    fn learns_a_daily_shape_and_its_noise() {
        let mut rng = crate::sample::SplitMix64::new(7);
        let mut series = daily(14, &mut rng);
        series[100] = None;
        series[101] = None;
        let model = HoltWinters::fit(&series, 24, 24).unwrap();
        assert!(model.rmse[0] > 2.5 && model.rmse[0] < 4.5, "{model:?}");
        let f = model.forecast(24, 1.96);
        for (h, p) in f.iter().enumerate() {
            let truth = 50.0 + 15.0 * (std::f64::consts::TAU * (h as f64 - 9.0) / 24.0).sin();
            assert!((p.mean - truth).abs() < 4.0, "hour {h}: {p:?} vs {truth}");
            assert!(p.lo < p.mean && p.hi > p.mean);
        }
        // White noise: the day-ahead interval is about as wide as the next hour's (± 1.96 σ).
        assert!((f[23].hi - f[23].lo) / (f[0].hi - f[0].lo) > 0.8);
        assert!((f[0].hi - f[0].lo) > 2.0 * 1.96 * 2.5);
    }

    #[test]
    fn too_short_or_empty_series_are_errors() {
        assert!(matches!(HoltWinters::fit(&[Some(1.0); 30], 24, 24), Err(ForecastError::TooShort { .. })));
        assert!(matches!(HoltWinters::fit(&[None; 72], 24, 24), Err(ForecastError::TooSparse { .. })));
        assert!(HoltWinters::fit(&[Some(1.0); 72], 1, 24).is_err());
        assert!(HoltWinters::fit(&[Some(1.0); 72], 24, 0).is_err());
    }
}
