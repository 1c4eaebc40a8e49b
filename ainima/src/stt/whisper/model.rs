//! Whisper (Radford et al., 2022, "Robust Speech Recognition via Large-Scale
//! Weak Supervision") on candle, written for short voice commands:
//!
//! - the encoder takes as many mel frames as there are (up to 3000), not a
//!   fixed 30 s window (whisper.cpp's `audio_ctx` idea);
//! - the decoder keeps a key-value cache for self-attention and computes
//!   cross-attention keys and values once per utterance, so each new token
//!   costs one step.
//!
//! Tensor names follow the Hugging Face layout (`model.encoder.layers.0.fc1.weight`, ...).

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Conv1d, Conv1dConfig, Embedding, LayerNorm, Linear, VarBuilder};

use super::Config;
use crate::Result;

/// A linear layer in f32, or with its weights in 8 bits (q8_0) where a
/// step reads them whole for one token and memory bandwidth sets the pace.
#[derive(Clone)]
enum Lin {
    F32(Linear),
    Q8(QMatMul, Option<Tensor>),
}

impl Lin {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Lin::F32(l) => l.forward(x)?,
            Lin::Q8(w, b) => {
                let y = w.forward(x)?;
                match b {
                    Some(b) => y.broadcast_add(b)?,
                    None => y,
                }
            }
        })
    }

    fn quantize(&mut self) -> Result<()> {
        if let Lin::F32(l) = self {
            let q = QMatMul::from_qtensor(QTensor::quantize(l.weight(), GgmlDType::Q8_0)?)?;
            *self = Lin::Q8(q, l.bias().cloned());
        }
        Ok(())
    }
}

fn linear(vb: &VarBuilder, name: &str, i: usize, o: usize, bias: bool) -> Result<Lin> {
    let w = vb.get((o, i), &format!("{name}.weight"))?;
    let b = if bias {
        Some(vb.get(o, &format!("{name}.bias"))?)
    } else {
        None
    };
    Ok(Lin::F32(Linear::new(w, b)))
}

fn layer_norm(vb: &VarBuilder, name: &str, d: usize) -> Result<LayerNorm> {
    Ok(LayerNorm::new(
        vb.get(d, &format!("{name}.weight"))?,
        vb.get(d, &format!("{name}.bias"))?,
        1e-5,
    ))
}

/// Encoder queries attended at once (see `Attention::forward_full`).
const ATTENTION_CHUNK: usize = 750;

#[derive(Clone)]
struct Attention {
    q: Lin,
    k: Lin,
    v: Lin,
    out: Lin,
    heads: usize,
    /// Self-attention: keys and values of the tokens so far. Cross-attention: of the audio.
    cache: Option<(Tensor, Tensor)>,
}

impl Attention {
    fn load(vb: &VarBuilder, name: &str, d: usize, heads: usize) -> Result<Self> {
        Ok(Attention {
            q: linear(vb, &format!("{name}.q_proj"), d, d, true)?,
            k: linear(vb, &format!("{name}.k_proj"), d, d, false)?,
            v: linear(vb, &format!("{name}.v_proj"), d, d, true)?,
            out: linear(vb, &format!("{name}.out_proj"), d, d, true)?,
            heads,
            cache: None,
        })
    }

    /// [batch, time, d] to [batch, heads, time, d / heads].
    fn split(&self, x: &Tensor) -> Result<Tensor> {
        let (b, t, d) = x.dims3()?;
        Ok(x.reshape((b, t, self.heads, d / self.heads))?
            .transpose(1, 2)?
            .contiguous()?)
    }

    fn attend(&self, q: &Tensor, k: &Tensor, v: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        let (b, _, t, dh) = q.dims4()?;
        let scale = (dh as f64).powf(-0.5);
        let mut w = (q.matmul(&k.t()?)? * scale)?;
        if let Some(m) = mask {
            w = w.broadcast_add(m)?;
        }
        let w = candle_nn::ops::softmax_last_dim(&w)?;
        let y = w
            .matmul(v)?
            .transpose(1, 2)?
            .reshape((b, t, self.heads * dh))?;
        self.out.forward(&y)
    }

    /// Encoder self-attention: no cache, no mask. Queries go in chunks so
    /// that a whole window's attention weights (6 heads of 1500 by 1500) are
    /// never all in memory at once.
    fn forward_full(&self, x: &Tensor) -> Result<Tensor> {
        let q = self.split(&self.q.forward(x)?)?;
        let k = self.split(&self.k.forward(x)?)?;
        let v = self.split(&self.v.forward(x)?)?;
        let t = q.dim(2)?;
        if t <= ATTENTION_CHUNK {
            return self.attend(&q, &k, &v, None);
        }
        let mut parts = Vec::new();
        for start in (0..t).step_by(ATTENTION_CHUNK) {
            let n = ATTENTION_CHUNK.min(t - start);
            parts.push(self.attend(&q.narrow(2, start, n)?, &k, &v, None)?);
        }
        Ok(Tensor::cat(&parts, 1)?)
    }

    /// Decoder self-attention over the cache plus the new tokens.
    fn forward_cached(&mut self, x: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        let q = self.split(&self.q.forward(x)?)?;
        let k = self.split(&self.k.forward(x)?)?;
        let v = self.split(&self.v.forward(x)?)?;
        let (k, v) = match &self.cache {
            Some((pk, pv)) => (Tensor::cat(&[pk, &k], 2)?, Tensor::cat(&[pv, &v], 2)?),
            None => (k, v),
        };
        self.cache = Some((k.clone(), v.clone()));
        self.attend(&q, &k, &v, mask)
    }

    /// Cross-attention to the audio, whose keys and values were set by `set_audio`.
    fn forward_cross(&self, x: &Tensor) -> Result<Tensor> {
        let q = self.split(&self.q.forward(x)?)?;
        let (k, v) = self
            .cache
            .as_ref()
            .ok_or_else(|| crate::Error::Inference("decoder used before encode".into()))?;
        self.attend(&q, k, v, None)
    }

    /// Keys and values of `audio` `[1, time, d]`, split into heads.
    fn audio_kv(&self, audio: &Tensor) -> Result<(Tensor, Tensor)> {
        Ok((
            self.split(&self.k.forward(audio)?)?,
            self.split(&self.v.forward(audio)?)?,
        ))
    }

    /// Makes `audio` what cross-attention attends to; positions past its end
    /// are taken from `tail` (keys and values of a whole window) if given.
    fn set_audio(&mut self, audio: &Tensor, tail: Option<&(Tensor, Tensor)>) -> Result<()> {
        let (mut k, mut v) = self.audio_kv(audio)?;
        if let Some((tk, tv)) = tail {
            let (n, total) = (k.dim(2)?, tk.dim(2)?);
            if n < total {
                k = Tensor::cat(&[&k, &tk.narrow(2, n, total - n)?], 2)?;
                v = Tensor::cat(&[&v, &tv.narrow(2, n, total - n)?], 2)?;
            }
        }
        self.cache = Some((k, v));
        Ok(())
    }
}

#[derive(Clone)]
struct Block {
    attn: Attention,
    attn_ln: LayerNorm,
    cross: Option<(Attention, LayerNorm)>,
    fc1: Lin,
    fc2: Lin,
    mlp_ln: LayerNorm,
}

impl Block {
    fn load(vb: &VarBuilder, name: &str, d: usize, heads: usize, cross: bool) -> Result<Self> {
        let cross = if cross {
            Some((
                Attention::load(vb, &format!("{name}.encoder_attn"), d, heads)?,
                layer_norm(vb, &format!("{name}.encoder_attn_layer_norm"), d)?,
            ))
        } else {
            None
        };
        Ok(Block {
            attn: Attention::load(vb, &format!("{name}.self_attn"), d, heads)?,
            attn_ln: layer_norm(vb, &format!("{name}.self_attn_layer_norm"), d)?,
            cross,
            fc1: linear(vb, &format!("{name}.fc1"), d, 4 * d, true)?,
            fc2: linear(vb, &format!("{name}.fc2"), 4 * d, d, true)?,
            mlp_ln: layer_norm(vb, &format!("{name}.final_layer_norm"), d)?,
        })
    }

    /// 8-bit weights for what a decoder step reads per token (not the
    /// cross-attention keys and values, computed once per utterance).
    fn quantize_for_steps(&mut self) -> Result<()> {
        for l in [
            &mut self.attn.q,
            &mut self.attn.k,
            &mut self.attn.v,
            &mut self.attn.out,
            &mut self.fc1,
            &mut self.fc2,
        ] {
            l.quantize()?;
        }
        if let Some((cross, _)) = &mut self.cross {
            cross.q.quantize()?;
            cross.out.quantize()?;
        }
        Ok(())
    }

    fn mlp(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.fc1.forward(&self.mlp_ln.forward(x)?)?.gelu()?;
        Ok((x + self.fc2.forward(&h)?)?)
    }

    fn forward_encoder(&self, x: &Tensor) -> Result<Tensor> {
        let x = (x + self.attn.forward_full(&self.attn_ln.forward(x)?)?)?;
        self.mlp(&x)
    }

    fn forward_decoder(&mut self, x: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        let mut x = (x + self.attn.forward_cached(&self.attn_ln.forward(x)?, mask)?)?;
        if let Some((cross, ln)) = &self.cross {
            x = (&x + cross.forward_cross(&ln.forward(&x)?)?)?;
        }
        self.mlp(&x)
    }
}

/// The decoder's state after some tokens (its self-attention cache).
#[derive(Clone)]
pub struct Fed {
    caches: Vec<Option<(Tensor, Tensor)>>,
    offset: usize,
}

/// The whole model.
#[derive(Clone)]
pub struct Whisper {
    cfg: Config,
    conv1: Conv1d,
    conv2: Conv1d,
    enc_pos: Tensor,
    enc_blocks: Vec<Block>,
    enc_ln: LayerNorm,
    embed: Embedding,
    /// The output projection (tied to the token embeddings), 8-bit: one
    /// step reads it whole, so its size sets the decoder's speed.
    logits: QMatMul,
    dec_pos: Tensor,
    dec_blocks: Vec<Block>,
    dec_ln: LayerNorm,
    /// Tokens already in the self-attention cache.
    offset: usize,
    /// Cross-attention keys and values of a whole window of silence, per
    /// decoder layer: a trimmed encoding is completed with them, so the
    /// decoder attends over a full window as in training.
    silence: Vec<(Tensor, Tensor)>,
    device: Device,
}

impl std::fmt::Debug for Whisper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Whisper").field("cfg", &self.cfg).finish()
    }
}

impl Whisper {
    /// Build from tensors under the Hugging Face names (any float type; computed in f32).
    pub fn load(vb: VarBuilder, cfg: Config) -> Result<Self> {
        cfg.validate()?;
        let d = cfg.d_model;
        let conv = |name: &str, i: usize, stride: usize| -> Result<Conv1d> {
            let c = Conv1dConfig {
                padding: 1,
                stride,
                dilation: 1,
                groups: 1,
                cudnn_fwd_algo: None,
            };
            Ok(Conv1d::new(
                vb.get((d, i, 3), &format!("{name}.weight"))?,
                Some(vb.get(d, &format!("{name}.bias"))?),
                c,
            ))
        };
        let enc_blocks = (0..cfg.encoder_layers)
            .map(|l| {
                Block::load(
                    &vb,
                    &format!("model.encoder.layers.{l}"),
                    d,
                    cfg.encoder_attention_heads,
                    false,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let dec_blocks = (0..cfg.decoder_layers)
            .map(|l| {
                let mut b = Block::load(
                    &vb,
                    &format!("model.decoder.layers.{l}"),
                    d,
                    cfg.decoder_attention_heads,
                    true,
                )?;
                b.quantize_for_steps()?;
                Ok(b)
            })
            .collect::<Result<Vec<_>>>()?;
        // The token embeddings are looked up a few rows a step (half
        // precision is plenty) and, tied, are the output projection (8-bit).
        let emb = vb
            .to_dtype(DType::F16)
            .get((cfg.vocab_size, d), "model.decoder.embed_tokens.weight")?;
        Ok(Whisper {
            conv1: conv("model.encoder.conv1", cfg.num_mel_bins, 1)?,
            conv2: conv("model.encoder.conv2", d, 2)?,
            enc_pos: vb.get(
                (cfg.max_source_positions, d),
                "model.encoder.embed_positions.weight",
            )?,
            enc_blocks,
            enc_ln: layer_norm(&vb, "model.encoder.layer_norm", d)?,
            logits: QMatMul::from_qtensor(QTensor::quantize(
                &emb.to_dtype(DType::F32)?,
                GgmlDType::Q8_0,
            )?)?,
            embed: Embedding::new(emb, d),
            dec_pos: vb.get(
                (cfg.max_target_positions, d),
                "model.decoder.embed_positions.weight",
            )?,
            dec_blocks,
            dec_ln: layer_norm(&vb, "model.decoder.layer_norm", d)?,
            offset: 0,
            silence: Vec::new(),
            device: vb.device().clone(),
            cfg,
        })
    }

    /// The hyper-parameters.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Encode a log-mel spectrogram `[n_mels, frames]` (frames even, at most
    /// twice the source positions) and make it the decoder's audio, completed
    /// to a whole window with the silence of [`Whisper::set_silence`] if
    /// `complete`. Resets the decoder.
    pub fn encode(&mut self, mel: &Tensor, complete: bool) -> Result<()> {
        let audio = self.run_encoder(mel)?;
        for (i, b) in self.dec_blocks.iter_mut().enumerate() {
            b.attn.cache = None;
            if let Some((cross, _)) = &mut b.cross {
                let tail = if complete { self.silence.get(i) } else { None };
                cross.set_audio(&audio, tail)?;
            }
        }
        self.offset = 0;
        Ok(())
    }

    /// Encodes the log-mel of a whole window of silence and keeps its
    /// cross-attention keys and values: from then on, a shorter encoding is
    /// completed with the silence's positions beyond it.
    pub fn set_silence(&mut self, mel: &Tensor) -> Result<()> {
        let audio = self.run_encoder(mel)?;
        let mut kv = Vec::new();
        for b in &self.dec_blocks {
            if let Some((cross, _)) = &b.cross {
                kv.push(cross.audio_kv(&audio)?);
            }
        }
        self.silence = kv;
        Ok(())
    }

    fn run_encoder(&self, mel: &Tensor) -> Result<Tensor> {
        let (_, frames) = mel.dims2()?;
        let positions = frames.div_ceil(2);
        if positions > self.cfg.max_source_positions || frames == 0 {
            return Err(crate::Error::Inference(format!(
                "{frames} mel frames: the encoder takes 1 to {}",
                2 * self.cfg.max_source_positions
            )));
        }
        let x = mel.unsqueeze(0)?;
        let x = self.conv1.forward(&x)?.gelu()?;
        let x = self.conv2.forward(&x)?.gelu()?.transpose(1, 2)?;
        let n = x.dim(1)?;
        let mut x = x.broadcast_add(&self.enc_pos.narrow(0, 0, n)?)?;
        for b in &self.enc_blocks {
            x = b.forward_encoder(&x)?;
        }
        Ok(self.enc_ln.forward(&x)?)
    }

    /// Forget the tokens decoded so far (keep the audio).
    pub fn reset_tokens(&mut self) {
        for b in &mut self.dec_blocks {
            b.attn.cache = None;
        }
        self.offset = 0;
    }

    /// The tokens fed so far, to go back to ([`Whisper::restore_tokens`]):
    /// readings that begin alike are fed their common beginning once.
    pub fn save_tokens(&self) -> Fed {
        Fed {
            caches: self
                .dec_blocks
                .iter()
                .map(|b| b.attn.cache.clone())
                .collect(),
            offset: self.offset,
        }
    }

    /// Back to the tokens of `fed` (saved with the same audio).
    pub fn restore_tokens(&mut self, fed: &Fed) {
        for (b, c) in self.dec_blocks.iter_mut().zip(&fed.caches) {
            b.attn.cache = c.clone();
        }
        self.offset = fed.offset;
    }

    /// Tokens already fed.
    pub fn position(&self) -> usize {
        self.offset
    }

    /// Feed tokens after those already fed; the logits of the last one (`[vocab]`, f32).
    pub fn step(&mut self, tokens: &[u32]) -> Result<Vec<f32>> {
        let mut rows = self.feed(tokens, false)?;
        Ok(rows.pop().unwrap_or_default())
    }

    /// Feed tokens after those already fed; the logits after each of them
    /// (teacher forcing: how likely each next token was).
    pub fn step_all(&mut self, tokens: &[u32]) -> Result<Vec<Vec<f32>>> {
        self.feed(tokens, true)
    }

    fn feed(&mut self, tokens: &[u32], all: bool) -> Result<Vec<Vec<f32>>> {
        let t = tokens.len();
        if t == 0 || self.offset + t > self.cfg.max_target_positions {
            return Err(crate::Error::Inference(format!(
                "{} tokens: the decoder takes at most {}",
                self.offset + t,
                self.cfg.max_target_positions
            )));
        }
        let ids = Tensor::new(tokens, &self.device)?.unsqueeze(0)?;
        let mut x = self
            .embed
            .forward(&ids)?
            .to_dtype(DType::F32)?
            .broadcast_add(&self.dec_pos.narrow(0, self.offset, t)?)?;
        // Causal mask for the new tokens against everything cached so far.
        let mask = if t > 1 {
            let (offset, total) = (self.offset, self.offset + t);
            let m: Vec<f32> = (0..t)
                .flat_map(|i| {
                    (0..total).map(move |j| {
                        if j > offset + i {
                            f32::NEG_INFINITY
                        } else {
                            0.0
                        }
                    })
                })
                .collect();
            Some(Tensor::from_vec(m, (t, total), &self.device)?)
        } else {
            None
        };
        for b in &mut self.dec_blocks {
            x = b.forward_decoder(&x, mask.as_ref())?;
        }
        self.offset += t;
        let (from, n) = if all { (0, t) } else { (t - 1, 1) };
        let last = self.dec_ln.forward(&x.narrow(1, from, n)?)?.squeeze(0)?;
        let logits = self
            .logits
            .forward(&last.to_dtype(DType::F32)?)?
            .to_dtype(DType::F32)?;
        Ok(logits.to_vec2::<f32>()?)
    }
}
