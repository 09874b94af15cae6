//! A small seeded PRNG (SplitMix64) for bootstrap resampling and refutations. Statistical quality
//! is ample for resampling; it is not for cryptography. Streams are derived per replicate, so the
//! results do not depend on how many threads share the work.
//!
//! The bits come from the core's SplitMix64 (`migru_core::sample`), so the workspace has one
//! implementation of the generator; this wrapper adds what resampling needs: independent
//! per-replicate streams, unbiased-enough `below` by multiply-shift, and a shuffle.

use migru_core::sample::SplitMix64 as Core;

#[derive(Debug, Clone)]
pub struct SplitMix64(Core);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(Core::new(seed))
    }

    /// An independent stream for item `index` of a run seeded with `seed`.
    pub fn stream(seed: u64, index: u64) -> Self {
        let salt = Core::new(seed ^ 0x6A09_E667_F3BC_C908).next_u64();
        SplitMix64::new(salt.wrapping_add(index.wrapping_mul(0x9E37_79B9_7F4A_7C15)) ^ index.rotate_left(17))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `[0, n)` (multiply-shift; bias below 2⁻³² for any table size here).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        self.0.next_f64()
    }

    /// Standard normal by Box–Muller.
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_are_the_ones_published_for_splitmix64() {
        // Reference values of SplitMix64 seeded with 1234567 (Vigna's C code).
        let mut r = SplitMix64::new(1_234_567);
        assert_eq!(r.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(r.next_u64(), 3_203_168_211_198_807_973);
    }

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..3).map(|_| SplitMix64::stream(7, 1).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(SplitMix64::stream(7, 1).next_u64(), SplitMix64::stream(7, 2).next_u64());
        assert_ne!(SplitMix64::stream(7, 1).next_u64(), SplitMix64::stream(8, 1).next_u64());
    }

    #[test]
    fn normal_has_unit_moments() {
        let mut r = SplitMix64::new(42);
        let xs: Vec<f64> = (0..200_000).map(|_| r.normal()).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!(mean.abs() < 0.01 && (var - 1.0).abs() < 0.01, "{mean} {var}");
        let mut counts = [0usize; 4];
        for _ in 0..40_000 {
            counts[r.below(4)] += 1;
        }
        assert!(counts.iter().all(|&c| (9_500..10_500).contains(&c)), "{counts:?}");
    }
}
