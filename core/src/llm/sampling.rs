//! Choosing the next token from a row of logits: repetition penalty, greedy, temperature, top-k,
//! top-p, with a seeded generator so a sampled reply can be reproduced.
//!
//! Sans I/O: plain slices in, a token id out.

use serde::{Deserialize, Serialize};

/// How the next token is chosen. `temperature == 0` or `top_k == 1` means greedy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SamplingParams {
    pub temperature: f32,
    /// Keep only the `top_k` most likely tokens (0: no limit).
    pub top_k: usize,
    /// Keep the smallest set of tokens whose probability reaches `top_p` (1.0: no limit).
    pub top_p: f32,
    /// Hugging Face style: logits of tokens already seen are divided (if positive) or multiplied
    /// (if negative) by this factor; 1.0 disables it.
    pub repetition_penalty: f32,
    pub seed: u64,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self::greedy()
    }
}

impl SamplingParams {
    pub fn greedy() -> Self {
        Self { temperature: 0.0, top_k: 1, top_p: 1.0, repetition_penalty: 1.0, seed: 0 }
    }

    /// A gentle sampled setting for chatting with a child.
    pub fn chat(seed: u64) -> Self {
        Self { temperature: 0.7, top_k: 40, top_p: 0.9, repetition_penalty: 1.1, seed }
    }

    pub fn is_greedy(&self) -> bool {
        self.temperature <= 0.0 || self.top_k == 1
    }
}

/// xoshiro256** seeded through SplitMix64 (the workspace's one generator, `simulate::rng`).
pub use crate::simulate::rng::Rng;

/// Applies the repetition penalty in place to the ids in `seen` (each id once).
pub fn apply_repetition_penalty(logits: &mut [f32], seen: &[u32], penalty: f32) {
    if (penalty - 1.0).abs() < f32::EPSILON || penalty <= 0.0 {
        return;
    }
    let mut done = vec![false; logits.len()];
    for &id in seen {
        let i = id as usize;
        if i < logits.len() && !done[i] {
            done[i] = true;
            logits[i] = if logits[i] > 0.0 { logits[i] / penalty } else { logits[i] * penalty };
        }
    }
}

/// Index of the largest logit; the first one on ties (as onnxruntime-genai's greedy search).
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in logits.iter().enumerate() {
        if v > logits[best] {
            best = i;
        }
    }
    best as u32
}

/// Chooses the next token. `logits` is modified (penalty, temperature).
pub fn choose(logits: &mut [f32], seen: &[u32], params: &SamplingParams, rng: &mut Rng) -> u32 {
    apply_repetition_penalty(logits, seen, params.repetition_penalty);
    if params.is_greedy() || logits.len() < 2 {
        return argmax(logits);
    }
    let mut candidates: Vec<(u32, f32)> =
        logits.iter().enumerate().map(|(i, &v)| (i as u32, v / params.temperature)).collect();
    candidates.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    if params.top_k > 0 && params.top_k < candidates.len() {
        candidates.truncate(params.top_k);
    }
    let max = candidates[0].1;
    let mut probs: Vec<f64> = candidates.iter().map(|c| f64::from(c.1 - max).exp()).collect();
    let total: f64 = probs.iter().sum();
    probs.iter_mut().for_each(|p| *p /= total);
    let keep = nucleus_len(&probs, params.top_p);
    let kept_total: f64 = probs[..keep].iter().sum();
    let mut draw = rng.next_f64() * kept_total;
    for (candidate, p) in candidates.iter().zip(&probs[..keep]) {
        if draw < *p {
            return candidate.0;
        }
        draw -= p;
    }
    candidates[keep - 1].0
}

/// How many of the (descending) probabilities make up the nucleus for `top_p`; at least one.
fn nucleus_len(sorted_probs: &[f64], top_p: f32) -> usize {
    if top_p >= 1.0 {
        return sorted_probs.len();
    }
    let mut cumulative = 0.0;
    for (i, p) in sorted_probs.iter().enumerate() {
        cumulative += p;
        if cumulative >= f64::from(top_p) {
            return i + 1;
        }
    }
    sorted_probs.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_takes_the_first_maximum() {
        assert_eq!(argmax(&[0.1, 3.0, 3.0, -1.0]), 1);
    }

    #[test]
    fn repetition_penalty_lowers_seen_tokens_once() {
        let mut logits = [2.0, -2.0, 1.0];
        apply_repetition_penalty(&mut logits, &[0, 1, 0], 2.0);
        assert_eq!(logits, [1.0, -4.0, 1.0]);
    }

    #[test]
    fn top_k_one_is_greedy_whatever_the_temperature() {
        let params = SamplingParams { temperature: 5.0, top_k: 1, ..SamplingParams::greedy() };
        let mut rng = Rng::new(1);
        assert_eq!(choose(&mut [0.0, 1.0, 0.5], &[], &params, &mut rng), 1);
    }

    #[test]
    fn same_seed_same_draws_and_top_k_bounds_them() {
        let params = SamplingParams { temperature: 1.0, top_k: 2, top_p: 1.0, repetition_penalty: 1.0, seed: 7 };
        let logits = [1.0, 0.9, 0.8, 0.7, 5.0, 4.9];
        let draw = |seed| {
            let mut rng = Rng::new(seed);
            (0..200).map(|_| choose(&mut logits.clone(), &[], &params, &mut rng)).collect::<Vec<_>>()
        };
        let a = draw(7);
        assert_eq!(a, draw(7));
        assert!(a.iter().all(|&t| t == 4 || t == 5));
        assert!(a.contains(&4) && a.contains(&5));
    }

    #[test]
    fn top_p_keeps_only_the_nucleus() {
        let params = SamplingParams { temperature: 1.0, top_k: 0, top_p: 0.5, repetition_penalty: 1.0, seed: 3 };
        let mut rng = Rng::new(3);
        // Token 0 alone holds ~88 % of the mass, so the nucleus is {0}.
        for _ in 0..100 {
            assert_eq!(choose(&mut [4.0, 2.0, 0.0], &[], &params, &mut rng), 0);
        }
    }

    #[test]
    fn sampled_frequencies_follow_the_softmax() {
        let params = SamplingParams { temperature: 1.0, top_k: 0, top_p: 1.0, repetition_penalty: 1.0, seed: 11 };
        let mut rng = Rng::new(11);
        let n = 20_000;
        let ones = (0..n).filter(|_| choose(&mut [0.0, 1.0_f32.ln() + 1.0], &[], &params, &mut rng) == 1).count();
        // p(1) = e / (1 + e) = 0.731; binomial sd over 20 000 draws is 0.003.
        let p = ones as f64 / n as f64;
        assert!((p - 0.731).abs() < 0.015, "p = {p}");
    }
}
