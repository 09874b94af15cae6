//! Reproducible pretraining on the generated corpus, per-token log-probabilities, and batched
//! sampling (for the simulations and the report; the phones generate with ONNX Runtime).

use candle_core::{D, Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use migru_core::llm::sampling::Rng;
use tokenizers::Tokenizer;

use super::TrainingError;
use super::corpus::{self, Context};
use super::model::{Lora, Model, small_spec};
use super::tokenize::{self, END_ID, PAD_ID, Sequence};

/// Pretraining settings. The defaults train the default model in about two minutes on two cores.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PretrainConfig {
    pub corpus_size: usize,
    pub max_vocab: usize,
    pub steps: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub seed: u64,
}

impl Default for PretrainConfig {
    fn default() -> Self {
        Self { corpus_size: 4000, max_vocab: 512, steps: 300, batch_size: 32, learning_rate: 3e-3, seed: 42 }
    }
}

/// A pretrained model with its tokenizer, and how training went.
pub struct Pretrained {
    pub model: Model,
    pub tokenizer: Tokenizer,
    /// Mean completion-token cross-entropy (nats) of the first and the last 20 steps.
    pub first_loss: f32,
    pub last_loss: f32,
}

/// Log-probability of each target token, `[b, t]`.
pub fn token_logprobs(model: &Model, inputs: &Tensor, targets: &Tensor, lora: Option<&Lora>) -> Result<Tensor, TrainingError> {
    let logits = model.forward(inputs, lora)?;
    let logp = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
    Ok(logp.gather(&targets.unsqueeze(2)?, 2)?.squeeze(2)?)
}

/// Trains the base model from a seeded initialisation; `progress(step, loss)` after every step.
pub fn pretrain(config: &PretrainConfig, mut progress: impl FnMut(usize, f32)) -> Result<Pretrained, TrainingError> {
    let examples = corpus::generate(config.corpus_size, config.seed);
    let lines: Vec<String> = examples.iter().map(|e| e.training_text()).collect();
    let tokenizer = tokenize::build_tokenizer(&lines, config.max_vocab)?;
    let spec = small_spec(tokenizer.get_vocab_size(true));
    let seqs = examples
        .iter()
        .map(|e| Sequence::encode(&tokenizer, &e.context.prompt(), &e.text))
        .collect::<Result<Vec<_>, _>>()?;
    let mut model = Model::init(&spec, config.seed)?;
    let vars = model.make_trainable()?;
    let params = ParamsAdamW { lr: config.learning_rate, weight_decay: 0.01, ..ParamsAdamW::default() };
    let mut opt = AdamW::new(vars, params)?;
    let mut rng = Rng::new(config.seed ^ 0x5eed);
    let mut losses = Vec::with_capacity(config.steps);
    for step in 0..config.steps {
        // Cosine decay to a tenth of the rate.
        let frac = step as f64 / config.steps.max(1) as f64;
        opt.set_learning_rate(config.learning_rate * (0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * frac).cos())));
        let picked: Vec<&Sequence> =
            (0..config.batch_size).map(|_| &seqs[(rng.next_u64() % seqs.len() as u64) as usize]).collect();
        let b = tokenize::batch(&picked, spec.context_length, false)?;
        let lp = token_logprobs(&model, &b.inputs, &b.targets, None)?;
        let loss = ((lp * &b.mask)?.sum_all()?.neg()? / b.mask.sum_all()?.to_scalar::<f32>()? as f64)?;
        opt.backward_step(&loss)?;
        let value = loss.to_scalar::<f32>()?;
        losses.push(value);
        progress(step, value);
    }
    model.freeze();
    let window = 20.min(losses.len()).max(1);
    let mean = |s: &[f32]| s.iter().sum::<f32>() / s.len().max(1) as f32;
    let first_loss = mean(&losses[..window.min(losses.len())]);
    let last_loss = mean(&losses[losses.len().saturating_sub(window)..]);
    Ok(Pretrained { model, tokenizer, first_loss, last_loss })
}

/// Samples `n` recommendations for `context` (temperature sampling, seeded), batched; each stops
/// at the end token or after `max_new` tokens.
#[allow(clippy::too_many_arguments)] // the model, adapter, tokenizer, context and four sampling knobs
pub fn sample(
    model: &Model,
    lora: Option<&Lora>,
    tokenizer: &Tokenizer,
    context: Context,
    n: usize,
    temperature: f32,
    max_new: usize,
    rng: &mut Rng,
) -> Result<Vec<String>, TrainingError> {
    let prompt = tokenize::encode(tokenizer, &context.prompt())?;
    let mut rows: Vec<Vec<u32>> = vec![prompt.clone(); n];
    let mut done = vec![false; n];
    let max_new = max_new.min(model.spec.context_length.saturating_sub(prompt.len()));
    for _ in 0..max_new {
        if done.iter().all(|d| *d) {
            break;
        }
        let t = rows[0].len();
        let flat: Vec<u32> = rows.iter().flatten().copied().collect();
        let ids = Tensor::from_vec(flat, (n, t), &Device::Cpu)?;
        let logits = model.forward(&ids, lora)?.narrow(1, t - 1, 1)?.squeeze(1)?;
        let logits = logits.to_vec2::<f32>()?;
        for (i, row) in logits.iter().enumerate() {
            let next = if done[i] { PAD_ID } else { sample_row(row, temperature, rng) };
            if next == END_ID || next == PAD_ID {
                done[i] = true;
            }
            rows[i].push(next);
        }
    }
    rows.iter()
        .map(|r| {
            let completion: Vec<u32> = r[prompt.len()..].iter().copied().take_while(|&id| id != END_ID && id != PAD_ID).collect();
            tokenize::decode(tokenizer, &completion).map(|s| s.trim().to_string())
        })
        .collect()
}

fn sample_row(logits: &[f32], temperature: f32, rng: &mut Rng) -> u32 {
    if temperature <= 0.0 {
        return migru_core::llm::sampling::argmax(logits);
    }
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let weights: Vec<f64> = logits.iter().map(|&l| (((l - max) / temperature) as f64).exp()).collect();
    let total: f64 = weights.iter().sum();
    let mut u = rng.next_f64() * total;
    for (i, w) in weights.iter().enumerate() {
        u -= w;
        if u <= 0.0 {
            return i as u32;
        }
    }
    (weights.len() - 1) as u32
}
