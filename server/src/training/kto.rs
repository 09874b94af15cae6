//! KTO (Kahneman–Tversky Optimisation; Ethayarajh et al. 2024, arXiv:2402.01306) on LoRA weights.
//!
//! Parents' thumbs are unpaired binary feedback: a 👍 marks `(x, y)` desirable, a 👎 undesirable.
//! With the implied reward `r(x, y) = log πθ(y|x) − log π_ref(y|x)` (π_ref: the frozen base model,
//! i.e. the policy with the adapter switched off) and the reference point
//! `z = max(0, mean over mismatched pairs (x_i, y_j), i ≠ j, of r(x_i, y_j))` (a biased estimate of
//! KL(πθ ‖ π_ref), not back-propagated), the loss of one example is
//! `λ_D (1 − σ(β (r − z)))` if desirable and `λ_U (1 − σ(β (z − r)))` if undesirable.
//! Only the LoRA `A` and `B` matrices are trained; the base weights never change.
//! Hyper-parameters and their reasons: `docs/adr/0005-kto-retraining.md`.

use candle_core::Tensor;
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use migru_core::llm::sampling::Rng;

use super::TrainingError;
use super::model::{Lora, Model};
use super::pretrain::token_logprobs;
use super::tokenize::{self, Sequence};

/// KTO and optimiser settings.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KtoConfig {
    /// Inverse temperature of the value function (how far from the reference the policy may move
    /// before the loss saturates).
    pub beta: f64,
    /// Target of `λ_D n_D / (λ_U n_U)`; the paper recommends [1, 4/3]. The weights are derived from
    /// it and the counts, so a family that mostly says 👎 is still learned from in balance.
    pub desirable_ratio: f64,
    pub rank: usize,
    pub alpha: f64,
    pub learning_rate: f64,
    pub steps: usize,
    /// Examples per step (all of them when there are fewer).
    pub batch_size: usize,
    /// Re-estimate the KL reference point every this many steps (it carries no gradient).
    pub kl_every: usize,
    pub seed: u64,
}

impl Default for KtoConfig {
    fn default() -> Self {
        Self { beta: 0.5, desirable_ratio: 1.0, rank: 4, alpha: 8.0, learning_rate: 2e-2, steps: 40, batch_size: 32, kl_every: 4, seed: 7 }
    }
}

/// One feedback: prompt and completion, and whether the parent liked it.
#[derive(Debug, Clone)]
pub struct KtoExample {
    pub seq: Sequence,
    pub desirable: bool,
}

/// What a KTO run did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KtoReport {
    pub examples: usize,
    pub desirable: usize,
    pub lambda_d: f64,
    pub lambda_u: f64,
    pub first_loss: f32,
    pub last_loss: f32,
    /// Mean implied reward of desirable and undesirable examples after training.
    pub reward_desirable: f32,
    pub reward_undesirable: f32,
    pub kl_estimate: f32,
}

/// `λ_D`, `λ_U` for `n_d` desirable and `n_u` undesirable examples: the larger class gets weight 1
/// and the smaller one the weight that puts `λ_D n_D / (λ_U n_U)` at `ratio`.
pub fn lambdas(n_d: usize, n_u: usize, ratio: f64) -> (f64, f64) {
    if n_d == 0 || n_u == 0 {
        return (1.0, 1.0);
    }
    let (d, u) = (n_d as f64, n_u as f64);
    if d * 1.0 >= ratio * u {
        (1.0, d / (ratio * u))
    } else {
        (ratio * u / d, 1.0)
    }
}

/// Summed completion log-probabilities per sequence, `[b]`.
fn sequence_logprobs(model: &Model, lora: Option<&Lora>, seqs: &[&Sequence]) -> Result<Tensor, TrainingError> {
    let b = tokenize::batch(seqs, model.spec.context_length, false)?;
    let lp = token_logprobs(model, &b.inputs, &b.targets, lora)?;
    Ok((lp * &b.mask)?.sum(1)?)
}

/// Trains a fresh LoRA adapter on `examples` with the KTO loss against the frozen `base`;
/// `progress(step, steps, loss)` after each step.
pub fn train(
    base: &Model,
    examples: &[KtoExample],
    config: &KtoConfig,
    mut progress: impl FnMut(usize, usize, f32),
) -> Result<(Lora, KtoReport), TrainingError> {
    if examples.len() < 2 {
        return Err(TrainingError::Data(format!("KTO needs at least 2 feedbacks, got {}", examples.len())));
    }
    let lora = Lora::init(&base.spec, config.rank, config.alpha, config.seed)?;
    let n = examples.len();
    let n_d = examples.iter().filter(|e| e.desirable).count();
    let (lambda_d, lambda_u) = lambdas(n_d, n - n_d, config.desirable_ratio);
    // Mismatched pairs for the KL estimate: prompt of i with the completion of i + 1 (cyclic).
    let mismatched: Vec<Sequence> = (0..n)
        .map(|i| Sequence { prompt: examples[i].seq.prompt.clone(), completion: examples[(i + 1) % n].seq.completion.clone() })
        .collect();
    let all: Vec<&Sequence> = examples.iter().map(|e| &e.seq).collect();
    let all_kl: Vec<&Sequence> = mismatched.iter().collect();
    let ref_lp: Vec<f32> = sequence_logprobs(base, None, &all)?.to_vec1()?;
    let ref_kl: Vec<f32> = sequence_logprobs(base, None, &all_kl)?.to_vec1()?;

    let params = ParamsAdamW { lr: config.learning_rate, weight_decay: 0.0, ..ParamsAdamW::default() };
    let mut opt = AdamW::new(lora.vars(), params)?;
    let mut rng = Rng::new(config.seed);
    let batch = config.batch_size.clamp(1, n);
    let mut losses = Vec::with_capacity(config.steps);
    let mut z = 0.0f64;
    for step in 0..config.steps {
        let idx: Vec<usize> = if batch == n { (0..n).collect() } else { (0..batch).map(|_| (rng.next_u64() % n as u64) as usize).collect() };
        let seqs: Vec<&Sequence> = idx.iter().map(|&i| &examples[i].seq).collect();
        let kl_seqs: Vec<&Sequence> = idx.iter().map(|&i| &mismatched[i]).collect();
        // Reference point: detached, clamped at zero, refreshed every `kl_every` steps.
        if step % config.kl_every.max(1) == 0 {
            let kl_policy: Vec<f32> = sequence_logprobs(base, Some(&lora), &kl_seqs)?.detach().to_vec1()?;
            z = (idx.iter().zip(&kl_policy).map(|(&i, p)| (p - ref_kl[i]) as f64).sum::<f64>() / idx.len() as f64).max(0.0);
        }
        let policy = sequence_logprobs(base, Some(&lora), &seqs)?;
        let reference = Tensor::from_vec(idx.iter().map(|&i| ref_lp[i]).collect::<Vec<_>>(), idx.len(), policy.device())?;
        let reward = (policy - reference)?;
        // sign = +1 for desirable (σ(β(r − z))), −1 for undesirable (σ(β(z − r))).
        let sign: Vec<f32> = idx.iter().map(|&i| if examples[i].desirable { 1.0 } else { -1.0 }).collect();
        let weight: Vec<f32> = idx.iter().map(|&i| if examples[i].desirable { lambda_d as f32 } else { lambda_u as f32 }).collect();
        let sign = Tensor::from_vec(sign, idx.len(), reward.device())?;
        let weight = Tensor::from_vec(weight, idx.len(), reward.device())?;
        let margin = ((reward - z)? * sign)?;
        let value = candle_nn::ops::sigmoid(&(margin * config.beta)?)?;
        let loss = ((value.neg()? + 1.0)? * weight)?.mean_all()?;
        opt.backward_step(&loss)?;
        let l = loss.to_scalar::<f32>()?;
        losses.push(l);
        progress(step, config.steps, l);
    }
    let final_lp: Vec<f32> = sequence_logprobs(base, Some(&lora), &all)?.to_vec1()?;
    let final_kl: Vec<f32> = sequence_logprobs(base, Some(&lora), &all_kl)?.to_vec1()?;
    let mean_where = |want: bool| {
        let v: Vec<f32> = (0..n).filter(|&i| examples[i].desirable == want).map(|i| final_lp[i] - ref_lp[i]).collect();
        if v.is_empty() { 0.0 } else { v.iter().sum::<f32>() / v.len() as f32 }
    };
    let report = KtoReport {
        examples: n,
        desirable: n_d,
        lambda_d,
        lambda_u,
        first_loss: losses.first().copied().unwrap_or(0.0),
        last_loss: losses.last().copied().unwrap_or(0.0),
        reward_desirable: mean_where(true),
        reward_undesirable: mean_where(false),
        kl_estimate: ((0..n).map(|i| final_kl[i] - ref_kl[i]).sum::<f32>() / n as f32).max(0.0),
    };
    Ok((lora, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambdas_balance_the_classes_at_the_target_ratio() {
        assert_eq!(lambdas(10, 10, 1.0), (1.0, 1.0));
        let (d, u) = lambdas(5, 20, 1.0);
        assert!((d * 5.0 / (u * 20.0) - 1.0).abs() < 1e-12 && u == 1.0);
        let (d, u) = lambdas(30, 10, 4.0 / 3.0);
        assert!((d * 30.0 / (u * 10.0) - 4.0 / 3.0).abs() < 1e-12 && d == 1.0);
        assert_eq!(lambdas(0, 7, 1.0), (1.0, 1.0));
    }
}
