//! The two regression models the estimators need: ordinary least squares with analytic standard
//! errors, and logistic regression by Newton/IRLS with convergence and separation checks.
//!
//! Dense and small: `p` (intercept + treatment + common causes) stays under a few dozen, so the
//! normal equations are solved by Cholesky on a `p × p` matrix.

/// Why a model could not be fitted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    #[error("the columns are collinear (column {0} is a combination of the others)")]
    Collinear(usize),
    #[error("the propensity model separates treated from untreated days (no finite fit)")]
    Separation,
    #[error("the propensity model did not converge in {0} iterations")]
    NotConverged(usize),
    #[error("too few rows ({rows}) for {params} parameters")]
    TooFewRows { rows: usize, params: usize },
}

/// A row-major design matrix whose first column is the intercept.
#[derive(Debug, Clone)]
pub struct Design {
    pub n: usize,
    pub p: usize,
    pub x: Vec<f64>,
}

impl Design {
    /// Intercept, then `columns` centred and scaled (scale-free models give the same fit; this
    /// keeps `XᵀX` well conditioned when pressures are ~1000 and flags are 0/1).
    pub fn standardized(columns: &[&[f64]], n: usize) -> Design {
        let p = columns.len() + 1;
        let mut x = vec![0.0; n * p];
        for r in 0..n {
            x[r * p] = 1.0;
        }
        for (j, col) in columns.iter().enumerate() {
            let (mean, sd) = mean_sd(col);
            let scale = if sd > 0.0 { sd } else { 1.0 };
            for r in 0..n {
                x[r * p + j + 1] = (col[r] - mean) / scale;
            }
        }
        Design { n, p, x }
    }

    /// Intercept, the raw `first` column (kept on its own scale so its coefficient is an effect),
    /// then the standardized `rest`.
    pub fn with_raw_first(first: &[f64], rest: &[&[f64]], n: usize) -> Design {
        let mut d = Design::standardized(rest, n);
        let p = d.p + 1;
        let mut x = vec![0.0; n * p];
        for r in 0..n {
            x[r * p] = 1.0;
            x[r * p + 1] = first[r];
            x[r * p + 2..r * p + p].copy_from_slice(&d.x[r * d.p + 1..r * d.p + d.p]);
        }
        d.p = p;
        d.x = x;
        d
    }

    pub fn row(&self, r: usize) -> &[f64] {
        &self.x[r * self.p..(r + 1) * self.p]
    }

    /// Keeps only the rows for which `keep` is true.
    pub fn filter(&self, keep: impl Fn(usize) -> bool) -> Design {
        let mut x = Vec::with_capacity(self.x.len());
        let mut n = 0;
        for r in 0..self.n {
            if keep(r) {
                x.extend_from_slice(self.row(r));
                n += 1;
            }
        }
        Design { n, p: self.p, x }
    }

    pub fn predict(&self, beta: &[f64]) -> Vec<f64> {
        (0..self.n).map(|r| dot(self.row(r), beta)).collect()
    }

    /// `Xᵀ diag(w) X` (lower triangle filled, then mirrored) and `Xᵀ z`.
    fn weighted_normal(&self, w: impl Fn(usize) -> f64, z: impl Fn(usize) -> f64) -> (Vec<f64>, Vec<f64>) {
        let p = self.p;
        let mut a = vec![0.0; p * p];
        let mut b = vec![0.0; p];
        for r in 0..self.n {
            let row = self.row(r);
            let wr = w(r);
            let zr = z(r);
            for i in 0..p {
                let wi = wr * row[i];
                b[i] += row[i] * zr;
                for j in 0..=i {
                    a[i * p + j] += wi * row[j];
                }
            }
        }
        for i in 0..p {
            for j in 0..i {
                a[j * p + i] = a[i * p + j];
            }
        }
        (a, b)
    }
}

pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

pub fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    if v.is_empty() {
        return (0.0, 0.0);
    }
    let mean = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 { v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (mean, var.sqrt())
}

/// Lower Cholesky factor of a symmetric `p × p` matrix; a pivot that vanishes relative to its
/// diagonal marks the column as a combination of earlier ones.
fn cholesky(a: &[f64], p: usize) -> Result<Vec<f64>, ModelError> {
    let mut l = vec![0.0; p * p];
    for j in 0..p {
        let mut d = a[j * p + j];
        for k in 0..j {
            d -= l[j * p + k] * l[j * p + k];
        }
        // NaN pivots fail too.
        if d.is_nan() || d <= 1e-10 * a[j * p + j].abs().max(1e-300) {
            return Err(ModelError::Collinear(j));
        }
        let d = d.sqrt();
        l[j * p + j] = d;
        for i in j + 1..p {
            let mut s = a[i * p + j];
            for k in 0..j {
                s -= l[i * p + k] * l[j * p + k];
            }
            l[i * p + j] = s / d;
        }
    }
    Ok(l)
}

fn chol_solve(l: &[f64], p: usize, b: &[f64]) -> Vec<f64> {
    let mut y = b.to_vec();
    for i in 0..p {
        for k in 0..i {
            y[i] -= l[i * p + k] * y[k];
        }
        y[i] /= l[i * p + i];
    }
    for i in (0..p).rev() {
        for k in i + 1..p {
            y[i] -= l[k * p + i] * y[k];
        }
        y[i] /= l[i * p + i];
    }
    y
}

/// The diagonal of `A⁻¹` from its Cholesky factor.
fn chol_inverse_diag(l: &[f64], p: usize) -> Vec<f64> {
    (0..p)
        .map(|j| {
            let mut e = vec![0.0; p];
            e[j] = 1.0;
            chol_solve(l, p, &e)[j]
        })
        .collect()
}

/// An OLS fit: coefficients, their standard errors and the residual degrees of freedom.
#[derive(Debug, Clone)]
pub struct Ols {
    pub beta: Vec<f64>,
    pub se: Vec<f64>,
    pub df: usize,
}

/// Ordinary least squares with the classical (homoscedastic) covariance `σ² (XᵀX)⁻¹`.
pub fn ols(design: &Design, y: &[f64]) -> Result<Ols, ModelError> {
    let (n, p) = (design.n, design.p);
    if n <= p {
        return Err(ModelError::TooFewRows { rows: n, params: p });
    }
    let (a, b) = design.weighted_normal(|_| 1.0, |r| y[r]);
    let l = cholesky(&a, p)?;
    let beta = chol_solve(&l, p, &b);
    let rss: f64 = (0..n).map(|r| (y[r] - dot(design.row(r), &beta)).powi(2)).sum();
    let df = n - p;
    let sigma2 = rss / df as f64;
    let se = chol_inverse_diag(&l, p).into_iter().map(|d| (sigma2 * d).sqrt()).collect();
    Ok(Ols { beta, se, df })
}

/// A logistic fit and how it got there.
#[derive(Debug, Clone)]
pub struct Logit {
    /// Coefficients on the standardized design (kept for inspection and tests).
    #[cfg_attr(not(test), allow(dead_code))]
    pub beta: Vec<f64>,
    pub fitted: Vec<f64>,
    pub iterations: usize,
}

const MAX_ITER: usize = 60;
/// A linear predictor this large means a fitted probability within 1e-13 of 0 or 1: the
/// likelihood is still climbing towards a boundary, i.e. (quasi-)separation.
const SEPARATION_ETA: f64 = 30.0;

/// Logistic regression by Newton–Raphson (IRLS) with step halving. Converges when the largest
/// coefficient step is below 1e-8; reports separation when fitted probabilities run to 0 or 1.
pub fn logistic(design: &Design, t: &[f64]) -> Result<Logit, ModelError> {
    let (n, p) = (design.n, design.p);
    if n <= p {
        return Err(ModelError::TooFewRows { rows: n, params: p });
    }
    let mut beta = vec![0.0; p];
    let mut eta = vec![0.0; n];
    let mut ll = log_lik(&eta, t);
    for iter in 1..=MAX_ITER {
        let prob: Vec<f64> = eta.iter().map(|&e| sigmoid(e)).collect();
        let (h, g) = design.weighted_normal(|r| prob[r] * (1.0 - prob[r]), |r| t[r] - prob[r]);
        let l = match cholesky(&h, p) {
            Ok(l) => l,
            Err(_) if max_abs(&eta) > SEPARATION_ETA / 2.0 => return Err(ModelError::Separation),
            Err(e) => return Err(e),
        };
        let step = chol_solve(&l, p, &g);
        let (next_beta, next_eta, next_ll) = halve_until_better(design, &beta, &step, ll, t);
        let moved = step.iter().map(|s| s.abs()).fold(0.0, f64::max);
        beta = next_beta;
        eta = next_eta;
        let gain = next_ll - ll;
        ll = next_ll;
        if max_abs(&eta) > SEPARATION_ETA {
            return Err(ModelError::Separation);
        }
        if moved < 1e-8 || (gain.abs() < 1e-12 * ll.abs().max(1.0) && moved < 1e-4) {
            let fitted = eta.iter().map(|&e| sigmoid(e)).collect();
            return Ok(Logit { beta, fitted, iterations: iter });
        }
    }
    if max_abs(&eta) > SEPARATION_ETA / 2.0 {
        return Err(ModelError::Separation);
    }
    Err(ModelError::NotConverged(MAX_ITER))
}

/// Newton step with halving until the log-likelihood does not fall (at most 30 halvings).
fn halve_until_better(d: &Design, beta: &[f64], step: &[f64], ll: f64, t: &[f64]) -> (Vec<f64>, Vec<f64>, f64) {
    let mut scale = 1.0;
    loop {
        let cand: Vec<f64> = beta.iter().zip(step).map(|(b, s)| b + scale * s).collect();
        let eta = d.predict(&cand);
        let cand_ll = log_lik(&eta, t);
        if cand_ll >= ll - 1e-12 * ll.abs().max(1.0) || scale < 1e-9 {
            return (cand, eta, cand_ll);
        }
        scale *= 0.5;
    }
}

fn log_lik(eta: &[f64], t: &[f64]) -> f64 {
    // log σ(η) = -log(1+e^{-η}); written to stay finite for large |η|.
    eta.iter().zip(t).map(|(&e, &y)| y * e - softplus(e)).sum()
}

fn softplus(x: f64) -> f64 {
    if x > 0.0 { x + (-x).exp().ln_1p() } else { x.exp().ln_1p() }
}

pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ols_recovers_exact_line_and_known_se() {
        // y = 2 + 3x with residuals ±1: slope SE = sqrt(σ²/Sxx).
        let x = [0.0, 1.0, 2.0, 3.0];
        let y = [3.0, 4.0, 9.0, 10.0];
        let d = Design { n: 4, p: 2, x: x.iter().flat_map(|&v| [1.0, v]).collect() };
        let fit = ols(&d, &y).unwrap();
        assert!((fit.beta[1] - 2.6).abs() < 1e-12);
        assert!((fit.beta[0] - 2.6).abs() < 1e-12);
        // residuals: 0.4, -1.2, 1.2, -0.4 → RSS 3.2, σ² = 1.6, Sxx = 5.
        assert!((fit.se[1] - (1.6f64 / 5.0).sqrt()).abs() < 1e-12);
        assert_eq!(fit.df, 2);
    }

    #[test]
    fn collinear_columns_are_reported() {
        let d = Design::standardized(&[&[1.0, 2.0, 3.0, 4.0], &[2.0, 4.0, 6.0, 8.0]], 4);
        assert_eq!(ols(&d, &[1.0, 2.0, 2.0, 5.0]).unwrap_err(), ModelError::Collinear(2));
    }

    #[test]
    fn logistic_matches_a_known_fit() {
        // Grouped data: at x=0, 2 of 8 treated; at x=1, 6 of 8. MLE: logit p = ln(1/3) + x·ln 9.
        let mut xs = Vec::new();
        let mut ts = Vec::new();
        for (x, k) in [(0.0, 2), (1.0, 6)] {
            for i in 0..8 {
                xs.push(x);
                ts.push(if i < k { 1.0 } else { 0.0 });
            }
        }
        let d = Design { n: 16, p: 2, x: xs.iter().flat_map(|&v| [1.0, v]).collect() };
        let fit = logistic(&d, &ts).unwrap();
        assert!((fit.beta[0] - (1.0f64 / 3.0).ln()).abs() < 1e-8, "{:?}", fit.beta);
        assert!((fit.beta[1] - 9.0f64.ln()).abs() < 1e-8);
        assert!((fit.fitted[0] - 0.25).abs() < 1e-9);
        assert!(fit.iterations < 15);
    }

    #[test]
    fn separation_is_detected() {
        let x: Vec<f64> = (0..20).map(f64::from).collect();
        let t: Vec<f64> = x.iter().map(|&v| if v >= 10.0 { 1.0 } else { 0.0 }).collect();
        let d = Design::standardized(&[&x], 20);
        assert_eq!(logistic(&d, &t).unwrap_err(), ModelError::Separation);
        // Quasi-complete: at x = 9 one day is treated and one is not.
        let x2: Vec<f64> = x.iter().map(|&v| if v == 10.0 { 9.0 } else { v }).collect();
        let d2 = Design::standardized(&[&x2], 20);
        assert_eq!(logistic(&d2, &t).unwrap_err(), ModelError::Separation);
    }
}
