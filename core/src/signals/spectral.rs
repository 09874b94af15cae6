//! Spectral helpers for HRV: natural cubic spline resampling, an in-place radix-2 FFT and Welch's
//! averaged periodogram. Written here (about 150 lines) rather than pulling an FFT crate, because
//! HRV needs only power-of-two transforms of at most a few thousand points.

use std::f64::consts::PI;

/// Samples the natural cubic spline through `(t[i], y[i])` every `1/fs` seconds from `t[0]` to
/// `t[last]`. `t` must be strictly increasing and have at least 3 points (checked by the caller).
pub fn spline_resample(t: &[f64], y: &[f64], fs: f64) -> Vec<f64> {
    let second = natural_spline_second_derivatives(t, y);
    let n_out = ((t[t.len() - 1] - t[0]) * fs).floor() as usize + 1;
    let mut out = Vec::with_capacity(n_out);
    let mut k = 0;
    for j in 0..n_out {
        let x = t[0] + j as f64 / fs;
        while k + 2 < t.len() && x > t[k + 1] {
            k += 1;
        }
        out.push(spline_eval(t, y, &second, k, x));
    }
    out
}

/// Second derivatives of the natural spline (zero at both ends), by the Thomas algorithm.
fn natural_spline_second_derivatives(t: &[f64], y: &[f64]) -> Vec<f64> {
    let n = t.len();
    let mut m = vec![0.0; n];
    if n < 3 {
        return m;
    }
    // Tridiagonal system for interior points 1..n-1.
    let mut c_prime = vec![0.0; n];
    let mut d_prime = vec![0.0; n];
    for i in 1..n - 1 {
        let h0 = t[i] - t[i - 1];
        let h1 = t[i + 1] - t[i];
        let a = h0;
        let b = 2.0 * (h0 + h1);
        let c = h1;
        let d = 6.0 * ((y[i + 1] - y[i]) / h1 - (y[i] - y[i - 1]) / h0);
        let denom = b - a * c_prime[i - 1];
        c_prime[i] = c / denom;
        d_prime[i] = (d - a * d_prime[i - 1]) / denom;
    }
    for i in (1..n - 1).rev() {
        m[i] = d_prime[i] - c_prime[i] * m[i + 1];
    }
    m
}

fn spline_eval(t: &[f64], y: &[f64], m: &[f64], k: usize, x: f64) -> f64 {
    let h = t[k + 1] - t[k];
    let a = (t[k + 1] - x) / h;
    let b = (x - t[k]) / h;
    a * y[k] + b * y[k + 1] + ((a * a * a - a) * m[k] + (b * b * b - b) * m[k + 1]) * h * h / 6.0
}

/// In-place iterative radix-2 FFT of `re`/`im` (length a power of two).
fn fft(re: &mut [f64], im: &mut [f64]) {
    let n = re.len();
    let mut j = 0;
    for i in 1..n {
        let mut bit = n >> 1;
        while j & bit != 0 {
            j ^= bit;
            bit >>= 1;
        }
        j |= bit;
        if i < j {
            re.swap(i, j);
            im.swap(i, j);
        }
    }
    let mut len = 2;
    while len <= n {
        let angle = -2.0 * PI / len as f64;
        let (w_im, w_re) = angle.sin_cos();
        for start in (0..n).step_by(len) {
            let (mut cr, mut ci) = (1.0, 0.0);
            for k in 0..len / 2 {
                let (a, b) = (start + k, start + k + len / 2);
                let tr = re[b] * cr - im[b] * ci;
                let ti = re[b] * ci + im[b] * cr;
                re[b] = re[a] - tr;
                im[b] = im[a] - ti;
                re[a] += tr;
                im[a] += ti;
                let next = cr * w_re - ci * w_im;
                ci = cr * w_im + ci * w_re;
                cr = next;
            }
        }
        len <<= 1;
    }
}

/// A one-sided power spectral density: `psd[k]` is the density at `k * df` Hz.
pub struct Psd {
    pub df: f64,
    pub psd: Vec<f64>,
}

impl Psd {
    /// Power in `[lo, hi)` Hz: the trapezoid rule over the bins whose frequency is in the band
    /// (NeuroKit2's `np.trapezoid` over the same bins; no partial bins at the edges).
    pub fn band_power(&self, lo: f64, hi: f64) -> f64 {
        let inside: Vec<f64> = self
            .psd
            .iter()
            .enumerate()
            .filter(|(k, _)| {
                let f = *k as f64 * self.df;
                f >= lo && f < hi
            })
            .map(|(_, p)| *p)
            .collect();
        inside.windows(2).map(|w| (w[0] + w[1]) / 2.0 * self.df).sum()
    }
}

/// Welch's method: periodic Hann window of `seg_len` samples, 50 % overlap, each segment mean-removed
/// and zero-padded to `nfft` (a power of two), density scaling (units²/Hz), segments averaged.
/// `nfft` (rounded up to a power of two, at least `seg_len`) sets the zero padding.
/// `x` must hold at least `seg_len` samples.
pub fn welch(x: &[f64], fs: f64, seg_len: usize, nfft: usize) -> Psd {
    let nfft = nfft.max(seg_len).next_power_of_two();
    let window: Vec<f64> = (0..seg_len)
        .map(|i| 0.5 - 0.5 * (2.0 * PI * i as f64 / seg_len as f64).cos())
        .collect();
    let window_power: f64 = window.iter().map(|w| w * w).sum();
    let step = (seg_len / 2).max(1);
    let mut acc = vec![0.0; nfft / 2 + 1];
    let mut segments = 0usize;
    let (mut re, mut im) = (vec![0.0; nfft], vec![0.0; nfft]);
    let mut start = 0;
    while start + seg_len <= x.len() {
        let seg = &x[start..start + seg_len];
        let m = seg.iter().sum::<f64>() / seg_len as f64;
        re.iter_mut().for_each(|v| *v = 0.0);
        im.iter_mut().for_each(|v| *v = 0.0);
        for (i, (&s, &w)) in seg.iter().zip(&window).enumerate() {
            re[i] = (s - m) * w;
        }
        fft(&mut re, &mut im);
        for (k, a) in acc.iter_mut().enumerate() {
            let p = re[k] * re[k] + im[k] * im[k];
            let one_sided = if k == 0 || k == nfft / 2 { 1.0 } else { 2.0 };
            *a += one_sided * p / (fs * window_power);
        }
        segments += 1;
        start += step;
    }
    let scale = 1.0 / segments.max(1) as f64;
    Psd {
        df: fs / nfft as f64,
        psd: acc.into_iter().map(|p| p * scale).collect(),
    }
}

/// Removes the least-squares straight line from `x` (the slow drift of mean heart rate).
pub fn detrend_linear(x: &mut [f64]) {
    let n = x.len() as f64;
    if x.len() < 2 {
        return;
    }
    let mean_i = (n - 1.0) / 2.0;
    let mean_x = x.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, v) in x.iter().enumerate() {
        let di = i as f64 - mean_i;
        sxy += di * (v - mean_x);
        sxx += di * di;
    }
    let slope = sxy / sxx;
    for (i, v) in x.iter_mut().enumerate() {
        *v -= mean_x + slope * (i as f64 - mean_i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spline_reproduces_a_straight_line_and_hits_knots() {
        let t = [0.0, 1.0, 2.5, 4.0];
        let y = [1.0, 3.0, 6.0, 9.0];
        let out = spline_resample(&t, &y, 2.0);
        assert_eq!(out.len(), 9);
        assert!((out[0] - 1.0).abs() < 1e-12);
        assert!((out[2] - 3.0).abs() < 1e-12);
        assert!((out[8] - 9.0).abs() < 1e-12);
    }

    #[test]
    fn welch_finds_a_sine_and_conserves_its_power() {
        let fs = 4.0;
        let amp = 20.0;
        let x: Vec<f64> = (0..1200)
            .map(|i| amp * (2.0 * PI * 0.25 * i as f64 / fs).sin())
            .collect();
        let psd = welch(&x, fs, 600, 600);
        let peak = psd
            .psd
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        assert!((peak as f64 * psd.df - 0.25).abs() < 2.0 * psd.df);
        // A sine of amplitude A has variance A²/2; Welch's density integrates to it.
        let total = psd.band_power(0.0, 2.0);
        assert!(
            (total / (amp * amp / 2.0) - 1.0).abs() < 0.02,
            "total {total}"
        );
    }
}
