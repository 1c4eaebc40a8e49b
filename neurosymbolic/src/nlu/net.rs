//! The network: word and character n-gram embeddings with the symbolic
//! features, a stack of residual dilated convolutions (the ID-CNN of
//! Strubell et al., 2017), an intent head over the pooled sentence and a
//! slot head conditioned on the intent distribution (as joint models since
//! Goo et al., 2018, do with a slot gate).

use burn::module::Module;
use burn::nn::attention::{MhaInput, MultiHeadAttention, MultiHeadAttentionConfig};
use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::{
    Dropout, DropoutConfig, Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear,
    LinearConfig, PaddingConfig1d,
};
use burn::tensor::activation::{gelu, softmax};
use burn::tensor::{Device, Int, Tensor};
use serde::{Deserialize, Serialize};

use super::features::NGRAMS_PER_WORD;

/// The network's widths, chosen before training.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Shape {
    /// Word embedding width.
    pub d_word: usize,
    /// Character n-gram embedding width.
    pub d_ngram: usize,
    /// Width of the convolution stack.
    pub d_model: usize,
    /// Dilation of each convolution block (kernel 3 each).
    pub dilations: Vec<usize>,
    /// Dropout while training.
    pub dropout: f64,
    /// Heads of a self-attention block after the convolutions (0: none).
    pub attention_heads: usize,
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            d_word: 64,
            d_ngram: 64,
            d_model: 160,
            dilations: vec![1, 2, 4, 1],
            dropout: 0.25,
            attention_heads: 0,
        }
    }
}

/// The network's sizes: its shape and the lexicon's.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NetConfig {
    /// The widths.
    #[serde(flatten)]
    pub shape: Shape,
    /// Word ids (padding and unknown included).
    pub vocab: usize,
    /// Hash buckets of the n-grams.
    pub ngram_buckets: usize,
    /// Symbolic features per word.
    pub features: usize,
    /// Intents.
    pub intents: usize,
    /// Slot tags.
    pub tags: usize,
}

/// One residual block: a dilated convolution, GELU, dropout, layer norm.
#[derive(Module, Debug)]
pub struct Block {
    conv: Conv1d,
    norm: LayerNorm,
}

/// Self-attention over the sentence, residual, then a layer norm.
#[derive(Module, Debug)]
pub struct Attend {
    attention: MultiHeadAttention,
    norm: LayerNorm,
}

/// The joint intent and slot network.
#[derive(Module, Debug)]
pub struct Net {
    word: Embedding,
    ngram: Embedding,
    input: Linear,
    blocks: Vec<Block>,
    attend: Option<Attend>,
    dropout: Dropout,
    intent: Linear,
    intent_to_slot: Linear,
    slot: Linear,
}

/// A batch of encoded sentences, padded to the longest.
pub struct Batch {
    /// `[batch, words]` word ids.
    pub words: Tensor<2, Int>,
    /// `[batch, words * NGRAMS_PER_WORD]` n-gram ids.
    pub ngrams: Tensor<2, Int>,
    /// `[batch, words, NGRAMS_PER_WORD, 1]`: 1 where an n-gram is real.
    pub ngram_mask: Tensor<4>,
    /// `[batch, words, features]`.
    pub features: Tensor<3>,
    /// `[batch, words, 1]`: 1 on real words.
    pub mask: Tensor<3>,
    /// Flat indices (`b * words + i`) of the real words, in order.
    pub real: Tensor<1, Int>,
    /// The sentence each real word belongs to.
    pub sentence_of: Tensor<1, Int>,
}

impl Net {
    /// A freshly initialised network.
    pub fn new(cfg: &NetConfig, device: &Device) -> Net {
        let d_in = cfg.shape.d_word + cfg.shape.d_ngram + cfg.features;
        Net {
            word: EmbeddingConfig::new(cfg.vocab, cfg.shape.d_word).init(device),
            ngram: EmbeddingConfig::new(cfg.ngram_buckets, cfg.shape.d_ngram).init(device),
            input: LinearConfig::new(d_in, cfg.shape.d_model).init(device),
            blocks: cfg
                .shape
                .dilations
                .iter()
                .map(|&d| Block {
                    conv: Conv1dConfig::new(cfg.shape.d_model, cfg.shape.d_model, 3)
                        .with_dilation(d)
                        .with_padding(PaddingConfig1d::Explicit(d, d))
                        .init(device),
                    norm: LayerNormConfig::new(cfg.shape.d_model).init(device),
                })
                .collect(),
            attend: (cfg.shape.attention_heads > 0).then(|| Attend {
                attention: MultiHeadAttentionConfig::new(
                    cfg.shape.d_model,
                    cfg.shape.attention_heads,
                )
                .with_dropout(cfg.shape.dropout)
                .init(device),
                norm: LayerNormConfig::new(cfg.shape.d_model).init(device),
            }),
            dropout: DropoutConfig::new(cfg.shape.dropout).init(),
            intent: LinearConfig::new(2 * cfg.shape.d_model, cfg.intents).init(device),
            intent_to_slot: LinearConfig::new(cfg.intents, cfg.shape.d_model).init(device),
            slot: LinearConfig::new(cfg.shape.d_model, cfg.tags).init(device),
        }
    }

    /// Intent logits `[batch, intents]` and the real words' tag logits
    /// `[real words, tags]`.
    pub fn forward(&self, b: &Batch) -> (Tensor<2>, Tensor<2>) {
        let [n, t] = b.words.dims();
        let words = self.word.forward(b.words.clone());
        let grams = self.ngram.forward(b.ngrams.clone());
        let d_ngram = grams.dims()[2];
        let grams = grams.reshape([n, t, NGRAMS_PER_WORD, d_ngram]) * b.ngram_mask.clone();
        let count = b.ngram_mask.clone().sum_dim(2).clamp_min(1.0);
        let grams: Tensor<3> = (grams.sum_dim(2) / count).squeeze_dim(2);
        let x = Tensor::cat(vec![words, grams, b.features.clone()], 2);
        let x = self.dropout.forward(x);
        let mut h = gelu(self.input.forward(x)) * b.mask.clone();
        for block in &self.blocks {
            let y = block
                .conv
                .forward(h.clone().swap_dims(1, 2))
                .swap_dims(1, 2);
            let y = self.dropout.forward(gelu(y));
            h = block.norm.forward(h + y) * b.mask.clone();
        }
        if let Some(a) = &self.attend {
            let pad = b.mask.clone().squeeze_dim::<2>(2).equal_elem(0.0);
            let y = a
                .attention
                .forward(MhaInput::self_attn(h.clone()).mask_pad(pad))
                .context;
            h = a.norm.forward(h + self.dropout.forward(y)) * b.mask.clone();
        }
        let d = h.dims()[2];
        let masked = h.clone() + (b.mask.clone() - 1.0) * 1.0e4;
        let max: Tensor<2> = masked.max_dim(1).squeeze_dim(1);
        let mean: Tensor<2> =
            (h.clone().sum_dim(1) / b.mask.clone().sum_dim(1).clamp_min(1.0)).squeeze_dim(1);
        let pooled = self.dropout.forward(Tensor::cat(vec![max, mean], 1));
        let intent = self.intent.forward(pooled);
        let gate = self
            .intent_to_slot
            .forward(softmax(intent.clone(), 1))
            .select(0, b.sentence_of.clone());
        let flat = h.reshape([n * t, d]).select(0, b.real.clone());
        let slot = self.slot.forward(self.dropout.forward(flat + gate));
        (intent, slot)
    }
}
