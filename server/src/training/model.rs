//! The Migru recommendation model in candle: the same decoder-only graph as the on-device demo
//! model (`migru_core::llm::demo`): learned token and position embeddings, pre-norm blocks
//! (LayerNorm, multi-head causal attention, SiLU MLP with residuals), final LayerNorm, untied output
//! projection. Weights are `x · W` (`[in, out]`), exactly as the ONNX initializers are laid out, so
//! export copies tensors without transposing.
//!
//! LoRA sits on the four attention projections: `x · W + (x · A) · B · (alpha / rank)`, with `W`
//! frozen and `A`, `B` the only trainable tensors during retraining. `B` starts at zero, so a fresh
//! adapter leaves the model unchanged.

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::{D, DType, Device, Tensor, Var};
use migru_core::llm::graph::Init;
use migru_core::llm::sampling::Rng;

use super::TrainingError;

/// Sizes of the model: the core's graph spec, so the trainer and the exported graph cannot
/// disagree on a weight's name or shape.
pub use migru_core::llm::graph::GraphSpec as ModelSpec;

/// The default recommendation model for a vocabulary of `vocab` tokens.
pub fn small_spec(vocab: usize) -> ModelSpec {
    ModelSpec { hidden: 64, heads: 4, layers: 2, ffn: 128, context_length: 128, vocab }
}

/// The base model: weights by name (tracked `Var`s while pretraining, plain tensors otherwise).
#[derive(Debug, Clone)]
pub struct Model {
    pub spec: ModelSpec,
    weights: BTreeMap<String, Tensor>,
}

/// Uniform(-scale, scale) values from a seeded generator, as a tensor.
fn seeded(rng: &mut Rng, shape: &[usize], scale: f32) -> Result<Tensor, TrainingError> {
    let n: usize = shape.iter().product();
    let values: Vec<f32> = (0..n).map(|_| rng.symmetric(scale)).collect();
    Ok(Tensor::from_vec(values, shape, &Device::Cpu)?)
}

impl Model {
    /// Seeded initial weights: uniform with fan-in scaling, LayerNorm gains 1 and biases 0.
    pub fn init(spec: &ModelSpec, seed: u64) -> Result<Self, TrainingError> {
        if !spec.hidden.is_multiple_of(spec.heads) {
            return Err(TrainingError::Spec(format!("hidden size {} is not a multiple of {} heads", spec.hidden, spec.heads)));
        }
        let mut rng = Rng::new(seed);
        let mut weights = BTreeMap::new();
        for slot in spec.weights()? {
            let shape = slot.shape.as_slice();
            let t = match slot.init {
                Init::Ones => Tensor::ones(shape, DType::F32, &Device::Cpu)?,
                Init::Zeros => Tensor::zeros(shape, DType::F32, &Device::Cpu)?,
                Init::Uniform(_) => {
                    // Smaller embeddings than the demo's draw, and fan-in scaling elsewhere.
                    let scale = match slot.name.as_str() {
                        "model.embed_tokens.weight" | "model.embed_positions.weight" => 0.1,
                        _ => (3.0 / shape[0] as f32).sqrt(),
                    };
                    seeded(&mut rng, shape, scale)?
                }
            };
            weights.insert(slot.name, t);
        }
        Ok(Self { spec: *spec, weights })
    }

    /// Builds a model from named tensors, checking every name and shape.
    pub fn from_tensors(spec: &ModelSpec, mut tensors: std::collections::HashMap<String, Tensor>) -> Result<Self, TrainingError> {
        let mut weights = BTreeMap::new();
        for slot in spec.weights()? {
            let (name, shape) = (slot.name, slot.shape);
            let t = tensors.remove(&name).ok_or_else(|| TrainingError::Spec(format!("weights lack {name}")))?;
            if t.dims() != shape.as_slice() {
                return Err(TrainingError::Spec(format!("{name} has shape {:?}, expected {shape:?}", t.dims())));
            }
            weights.insert(name, t.to_dtype(DType::F32)?);
        }
        Ok(Self { spec: *spec, weights })
    }

    /// Loads `weights.safetensors`.
    pub fn load(spec: &ModelSpec, path: &Path) -> Result<Self, TrainingError> {
        let tensors = candle_core::safetensors::load(path, &Device::Cpu)
            .map_err(|e| TrainingError::Model(format!("{}: {e}", path.display())))?;
        Self::from_tensors(spec, tensors)
    }

    /// Writes `weights.safetensors`.
    pub fn save(&self, path: &Path) -> Result<(), TrainingError> {
        let detached: std::collections::HashMap<String, Tensor> = self.weights.iter().map(|(k, v)| (k.clone(), v.detach())).collect();
        candle_core::safetensors::save(&detached, path).map_err(|e| TrainingError::Model(format!("{}: {e}", path.display())))
    }

    /// Turns every weight into a trainable variable (pretraining); returns the variables.
    pub fn make_trainable(&mut self) -> Result<Vec<Var>, TrainingError> {
        let mut vars = Vec::new();
        for t in self.weights.values_mut() {
            let v = Var::from_tensor(&t.detach())?;
            *t = v.as_tensor().clone();
            vars.push(v);
        }
        Ok(vars)
    }

    /// Detaches every weight from the graph (frozen base for LoRA training and the reference).
    pub fn freeze(&mut self) {
        for t in self.weights.values_mut() {
            *t = t.detach();
        }
    }

    pub fn weight(&self, name: &str) -> Result<&Tensor, TrainingError> {
        self.weights.get(name).ok_or_else(|| TrainingError::Spec(format!("no weight {name}")))
    }

    /// All weights, by name.
    pub fn weights(&self) -> &BTreeMap<String, Tensor> {
        &self.weights
    }

    pub fn parameter_count(&self) -> usize {
        self.weights.values().map(Tensor::elem_count).sum()
    }

    /// Logits `[batch, seq, vocab]` for token ids `[batch, seq]` (u32) at positions `0..seq`.
    pub fn forward(&self, ids: &Tensor, lora: Option<&Lora>) -> Result<Tensor, TrainingError> {
        let (b, t) = ids.dims2()?;
        if t > self.spec.context_length {
            return Err(TrainingError::Spec(format!("{t} tokens exceed the context of {}", self.spec.context_length)));
        }
        let (d, h, hd) = (self.spec.hidden, self.spec.heads, self.spec.head_dim());
        let tok = self.weight("model.embed_tokens.weight")?.index_select(&ids.flatten_all()?, 0)?.reshape((b, t, d))?;
        let pos = self.weight("model.embed_positions.weight")?.narrow(0, 0, t)?;
        let mut x = tok.broadcast_add(&pos)?;
        let bias = causal_bias(t)?;
        let scale = 1.0 / (hd as f64).sqrt();
        for l in 0..self.spec.layers {
            let p = format!("model.layers.{l}");
            let normed = self.layer_norm(&x, &format!("{p}.input_layernorm"))?;
            let mut heads = Vec::with_capacity(3);
            for proj in ["q_proj", "k_proj", "v_proj"] {
                let y = self.projection(&normed, &format!("{p}.attn.{proj}"), lora)?;
                heads.push(y.reshape((b, t, h, hd))?.transpose(1, 2)?.contiguous()?);
            }
            let k_t = heads[1].transpose(2, 3)?.contiguous()?;
            let scores = (heads[0].matmul(&k_t)? * scale)?.broadcast_add(&bias)?;
            let probs = candle_nn::ops::softmax(&scores, D::Minus1)?;
            let context = probs.matmul(&heads[2])?.transpose(1, 2)?.contiguous()?.reshape((b, t, d))?;
            let attn = self.projection(&context, &format!("{p}.attn.o_proj"), lora)?;
            x = (x + attn)?;
            let normed2 = self.layer_norm(&x, &format!("{p}.post_attention_layernorm"))?;
            let up = normed2.broadcast_matmul(self.weight(&format!("{p}.mlp.up_proj.weight"))?)?;
            let act = (&up * candle_nn::ops::sigmoid(&up)?)?;
            let down = act.broadcast_matmul(self.weight(&format!("{p}.mlp.down_proj.weight"))?)?;
            x = (x + down)?;
        }
        let normed = self.layer_norm(&x, "model.norm")?;
        Ok(normed.broadcast_matmul(self.weight("lm_head.weight")?)?)
    }

    fn projection(&self, x: &Tensor, base: &str, lora: Option<&Lora>) -> Result<Tensor, TrainingError> {
        let y = x.broadcast_matmul(self.weight(&format!("{base}.weight"))?)?;
        match lora.and_then(|l| l.pair(base)) {
            Some((a, b, scale)) => {
                let down = x.broadcast_matmul(a)?;
                Ok((y + (down.broadcast_matmul(b)? * scale)?)?)
            }
            None => Ok(y),
        }
    }

    /// ONNX `LayerNormalization` (axis -1, epsilon 1e-5), written with differentiable primitives.
    fn layer_norm(&self, x: &Tensor, prefix: &str) -> Result<Tensor, TrainingError> {
        let n = x.dim(D::Minus1)? as f64;
        let mean = (x.sum_keepdim(D::Minus1)? / n)?;
        let centred = x.broadcast_sub(&mean)?;
        let var = (centred.sqr()?.sum_keepdim(D::Minus1)? / n)?;
        let normed = centred.broadcast_div(&(var + 1e-5)?.sqrt()?)?;
        Ok(normed
            .broadcast_mul(self.weight(&format!("{prefix}.weight"))?)?
            .broadcast_add(self.weight(&format!("{prefix}.bias"))?)?)
    }
}

/// `[t, t]`: 0 where key j is visible from query i (j <= i), -1e9 elsewhere (as the ONNX graph).
fn causal_bias(t: usize) -> Result<Tensor, TrainingError> {
    let values: Vec<f32> = (0..t).flat_map(|i| (0..t).map(move |j| if j <= i { 0.0 } else { -1e9 })).collect();
    Ok(Tensor::from_vec(values, (t, t), &Device::Cpu)?)
}

/// One exported LoRA pair: target, A's shape and values, (scaled) B's shape and values.
pub type LoraExport = (String, Vec<usize>, Vec<f32>, Vec<usize>, Vec<f32>);

/// A LoRA adapter: per target projection, `A [hidden, rank]` and `B [rank, hidden]`.
#[derive(Debug, Clone)]
pub struct Lora {
    pub rank: usize,
    pub alpha: f64,
    pairs: BTreeMap<String, (Var, Var)>,
}

impl Lora {
    /// A seeded, fresh adapter: `A` uniform with fan-in scaling, `B` zero (the model is unchanged).
    pub fn init(spec: &ModelSpec, rank: usize, alpha: f64, seed: u64) -> Result<Self, TrainingError> {
        if rank == 0 {
            return Err(TrainingError::Spec("LoRA rank must be at least 1".into()));
        }
        let mut rng = Rng::new(seed);
        let d = spec.hidden;
        let mut pairs = BTreeMap::new();
        for target in spec.lora_targets() {
            let a = Var::from_tensor(&seeded(&mut rng, &[d, rank], (1.0 / d as f32).sqrt())?)?;
            let b = Var::zeros((rank, d), DType::F32, &Device::Cpu)?;
            pairs.insert(target, (a, b));
        }
        Ok(Self { rank, alpha, pairs })
    }

    /// An adapter from explicit tensors (already scaled: `alpha == rank`), e.g. read from a file.
    pub fn from_pairs(rank: usize, pairs: BTreeMap<String, (Tensor, Tensor)>) -> Result<Self, TrainingError> {
        let pairs = pairs
            .into_iter()
            .map(|(k, (a, b))| Ok((k, (Var::from_tensor(&a)?, Var::from_tensor(&b)?))))
            .collect::<Result<_, TrainingError>>()?;
        Ok(Self { rank, alpha: rank as f64, pairs })
    }

    pub fn scale(&self) -> f64 {
        self.alpha / self.rank as f64
    }

    fn pair(&self, base: &str) -> Option<(&Tensor, &Tensor, f64)> {
        self.pairs.get(base).map(|(a, b)| (a.as_tensor(), b.as_tensor(), self.scale()))
    }

    /// The trainable variables (all A and B).
    pub fn vars(&self) -> Vec<Var> {
        self.pairs.values().flat_map(|(a, b)| [a.clone(), b.clone()]).collect()
    }

    /// `(target, A, B · scale)` as plain f32 vectors with their shapes: what the adapter file holds.
    pub fn export(&self) -> Result<Vec<LoraExport>, TrainingError> {
        let scale = self.scale();
        self.pairs
            .iter()
            .map(|(name, (a, b))| {
                let b_scaled = (b.as_tensor() * scale)?;
                Ok((
                    name.clone(),
                    a.dims().to_vec(),
                    a.as_tensor().flatten_all()?.to_vec1::<f32>()?,
                    b_scaled.dims().to_vec(),
                    b_scaled.flatten_all()?.to_vec1::<f32>()?,
                ))
            })
            .collect()
    }
}
