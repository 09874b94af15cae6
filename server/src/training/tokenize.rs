//! The model's tokenizer and batching: a byte-level BPE (the same construction and special tokens
//! as the on-device demo model, so the phone's chat template and stop ids apply) trained on the
//! generated corpus, and right-padded batches with a loss mask.

use candle_core::{Device, Tensor};
use tokenizers::Tokenizer;

use super::TrainingError;

/// `<|endoftext|>`: padding.
pub const PAD_ID: u32 = 0;
/// `<|end|>`: ends a recommendation.
pub const END_ID: u32 = 4;

/// Trains the byte-level BPE on `lines` (deterministic for the same lines).
pub fn build_tokenizer(lines: &[String], max_vocab: usize) -> Result<Tokenizer, TrainingError> {
    migru_core::llm::demo::train_tokenizer(lines.iter().cloned(), max_vocab).map_err(|e| TrainingError::Tokenizer(e.to_string()))
}

pub fn encode(tokenizer: &Tokenizer, text: &str) -> Result<Vec<u32>, TrainingError> {
    Ok(tokenizer.encode(text, false).map_err(|e| TrainingError::Tokenizer(e.to_string()))?.get_ids().to_vec())
}

pub fn decode(tokenizer: &Tokenizer, ids: &[u32]) -> Result<String, TrainingError> {
    tokenizer.decode(ids, true).map_err(|e| TrainingError::Tokenizer(e.to_string()))
}

/// One sequence: prompt ids and completion ids (the completion includes the end token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequence {
    pub prompt: Vec<u32>,
    pub completion: Vec<u32>,
}

impl Sequence {
    pub fn encode(tokenizer: &Tokenizer, prompt: &str, completion: &str) -> Result<Self, TrainingError> {
        let prompt = encode(tokenizer, prompt)?;
        let mut completion = encode(tokenizer, completion)?;
        if completion.last() != Some(&END_ID) {
            completion.push(END_ID);
        }
        Ok(Self { prompt, completion })
    }

    fn len(&self) -> usize {
        self.prompt.len() + self.completion.len()
    }
}

/// A right-padded batch: inputs `[b, t]`, next-token targets `[b, t]` and a mask `[b, t]` that is 1
/// where the target is a completion token (or, with `all_tokens`, any real token).
#[derive(Debug)]
pub struct Batch {
    pub inputs: Tensor,
    pub targets: Tensor,
    pub mask: Tensor,
}

pub fn batch(seqs: &[&Sequence], max_len: usize, all_tokens: bool) -> Result<Batch, TrainingError> {
    let t = seqs.iter().map(|s| s.len().min(max_len + 1) - 1).max().unwrap_or(0).max(1);
    let (mut inputs, mut targets, mut mask) = (Vec::new(), Vec::new(), Vec::new());
    for s in seqs {
        let ids: Vec<u32> = s.prompt.iter().chain(&s.completion).copied().take(t + 1).collect();
        for i in 0..t {
            let real = i + 1 < ids.len();
            inputs.push(ids.get(i).copied().unwrap_or(PAD_ID));
            targets.push(if real { ids[i + 1] } else { PAD_ID });
            let counted = real && (all_tokens || i + 1 >= s.prompt.len());
            mask.push(if counted { 1f32 } else { 0.0 });
        }
    }
    let b = seqs.len();
    Ok(Batch {
        inputs: Tensor::from_vec(inputs, (b, t), &Device::Cpu)?,
        targets: Tensor::from_vec(targets, (b, t), &Device::Cpu)?,
        mask: Tensor::from_vec(mask, (b, t), &Device::Cpu)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_mask_only_the_completion() {
        let s = Sequence { prompt: vec![5, 6, 7], completion: vec![8, END_ID] };
        let short = Sequence { prompt: vec![5], completion: vec![9, END_ID] };
        let b = batch(&[&s, &short], 64, false).unwrap();
        assert_eq!(b.inputs.to_vec2::<u32>().unwrap(), vec![vec![5, 6, 7, 8], vec![5, 9, END_ID, PAD_ID]]);
        assert_eq!(b.targets.to_vec2::<u32>().unwrap(), vec![vec![6, 7, 8, END_ID], vec![9, END_ID, PAD_ID, PAD_ID]]);
        assert_eq!(b.mask.to_vec2::<f32>().unwrap(), vec![vec![0., 0., 1., 1.], vec![1., 1., 0., 0.]]);
        let all = batch(&[&s], 64, true).unwrap();
        assert_eq!(all.mask.to_vec2::<f32>().unwrap(), vec![vec![1., 1., 1., 1.]]);
    }
}
