//! Small robust statistics shared by the signal modules.

/// Consistency constant that makes the MAD estimate σ for normally distributed data.
pub const MAD_TO_SIGMA: f64 = 1.4826;

/// Median of finite values (`None` when empty). Sorts a copy; callers pass short windows.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    Some(median_of_sorted(&sorted))
}

/// Median of an already sorted, non-empty slice.
pub(crate) fn median_of_sorted(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        0.5 * (sorted[n / 2 - 1] + sorted[n / 2])
    }
}

/// Raw median absolute deviation around the median (not scaled by [`MAD_TO_SIGMA`]).
pub fn mad(values: &[f64]) -> Option<f64> {
    let centre = median(values)?;
    let deviations: Vec<f64> = values.iter().map(|v| (v - centre).abs()).collect();
    median(&deviations)
}

/// Arithmetic mean (`None` when empty).
pub fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        None
    } else {
        Some(values.iter().sum::<f64>() / values.len() as f64)
    }
}

/// Sample standard deviation with `ddof` degrees of freedom removed (`None` when n ≤ ddof).
pub fn std_dev(values: &[f64], ddof: usize) -> Option<f64> {
    let n = values.len();
    if n <= ddof {
        return None;
    }
    let m = mean(values)?;
    let ss: f64 = values.iter().map(|v| (v - m) * (v - m)).sum();
    Some((ss / (n - ddof) as f64).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_mad_of_small_sets() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        // deviations from 2: 1, 1, 0, 2, 98 → median 1
        assert_eq!(mad(&[1.0, 3.0, 2.0, 4.0, 100.0]), Some(1.0));
    }

    #[test]
    fn std_dev_matches_textbook() {
        let v = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        assert!((std_dev(&v, 0).unwrap() - 2.0).abs() < 1e-12);
        assert!((std_dev(&v, 1).unwrap() - 2.138_089_935_299_395).abs() < 1e-12);
        assert_eq!(std_dev(&[1.0], 1), None);
    }
}
