//! Whisper (Radford et al., 2022, "Robust Speech Recognition via Large-Scale
//! Weak Supervision"), written for short voice commands:
//!
//! - the encoder takes as many mel frames as there are (up to 3000), not a
//!   fixed 30 s window (whisper.cpp's `audio_ctx` idea);
//! - the decoder keeps a key-value cache for self-attention and computes
//!   cross-attention keys and values once per utterance, so each new token
//!   costs one step;
//! - every sum runs in `ainima_kernels`' fixed order, so the same audio gives the
//!   same logits, bit for bit, on every CPU.
//!
//! Tensor names follow the Hugging Face layout (`model.encoder.layers.0.fc1.weight`, ...).

use std::sync::Arc;

use super::Config;
use super::tensor::Tensors;
use crate::Result;
use ainima_kernels::{self as kernels, Weights};

fn floats(vb: &Tensors<'_>, dims: &[usize], name: &str) -> Result<Vec<f32>> {
    vb.take(dims, name)
}

/// A linear layer: `[outputs, inputs]` weights, in floats or (where a step
/// reads them whole for one token and memory sets the pace) 8 bits.
#[derive(Clone)]
struct Lin {
    /// Shared by the clones of a model (weights are never written).
    w: Arc<Weights>,
    b: Option<Arc<[f32]>>,
    inputs: usize,
    outputs: usize,
}

impl Lin {
    fn load(
        vb: &Tensors<'_>,
        name: &str,
        inputs: usize,
        outputs: usize,
        bias: bool,
    ) -> Result<Self> {
        Ok(Lin {
            w: Arc::new(Weights::F32(floats(
                vb,
                &[outputs, inputs],
                &format!("{name}.weight"),
            )?)),
            b: if bias {
                Some(floats(vb, &[outputs], &format!("{name}.bias"))?.into())
            } else {
                None
            },
            inputs,
            outputs,
        })
    }

    /// `x` is `[rows, inputs]`; the result `[rows, outputs]`.
    fn forward(&self, x: &[f32]) -> Vec<f32> {
        let mut y = vec![0.0; x.len() / self.inputs * self.outputs];
        kernels::linear(x, self.inputs, &self.w, self.b.as_deref(), &mut y);
        y
    }

    fn quantize(&mut self) -> Result<()> {
        if let Weights::F32(w) = &*self.w {
            self.w = Arc::new(Weights::quantize(w, self.inputs).ok_or_else(|| {
                crate::Error::BadModel(format!(
                    "{} inputs do not split into 8-bit blocks",
                    self.inputs
                ))
            })?);
        }
        Ok(())
    }
}

#[derive(Clone)]
struct Norm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

impl Norm {
    fn load(vb: &Tensors<'_>, name: &str, d: usize) -> Result<Self> {
        Ok(Norm {
            gamma: floats(vb, &[d], &format!("{name}.weight"))?,
            beta: floats(vb, &[d], &format!("{name}.bias"))?,
        })
    }

    fn forward(&self, x: &[f32]) -> Vec<f32> {
        let mut y = vec![0.0; x.len()];
        kernels::layer_norm(x, self.gamma.len(), &self.gamma, &self.beta, &mut y);
        y
    }
}

/// Keys and values, `[time, d]` each.
type Kv = (Vec<f32>, Vec<f32>);

#[derive(Clone)]
struct Attention {
    q: Lin,
    k: Lin,
    v: Lin,
    out: Lin,
    heads: usize,
    d: usize,
    /// Self-attention: keys and values of the tokens so far. Cross-attention: of the audio.
    cache: Option<Kv>,
}

impl Attention {
    fn load(vb: &Tensors<'_>, name: &str, d: usize, heads: usize) -> Result<Self> {
        Ok(Attention {
            q: Lin::load(vb, &format!("{name}.q_proj"), d, d, true)?,
            k: Lin::load(vb, &format!("{name}.k_proj"), d, d, false)?,
            v: Lin::load(vb, &format!("{name}.v_proj"), d, d, true)?,
            out: Lin::load(vb, &format!("{name}.out_proj"), d, d, true)?,
            heads,
            d,
            cache: None,
        })
    }

    fn attend(&self, q: &[f32], k: &[f32], v: &[f32], causal_offset: Option<usize>) -> Vec<f32> {
        let mut y = vec![0.0; q.len()];
        kernels::attention(q, k, v, self.d, self.heads, causal_offset, &mut y);
        self.out.forward(&y)
    }

    /// Encoder self-attention: no cache, no mask.
    fn forward_full(&self, x: &[f32]) -> Vec<f32> {
        let (q, k, v) = (self.q.forward(x), self.k.forward(x), self.v.forward(x));
        self.attend(&q, &k, &v, None)
    }

    /// Decoder self-attention over the cache plus the new tokens, the
    /// first of which is at `offset`.
    fn forward_cached(&mut self, x: &[f32], offset: usize) -> Vec<f32> {
        let q = self.q.forward(x);
        let (k, v) = (self.k.forward(x), self.v.forward(x));
        let (ck, cv) = self.cache.get_or_insert_with(Default::default);
        ck.extend_from_slice(&k);
        cv.extend_from_slice(&v);
        let mut y = vec![0.0; q.len()];
        kernels::attention(&q, ck, cv, self.d, self.heads, Some(offset), &mut y);
        self.out.forward(&y)
    }

    /// Cross-attention to the audio, whose keys and values were set by `set_audio`.
    fn forward_cross(&self, x: &[f32]) -> Result<Vec<f32>> {
        let q = self.q.forward(x);
        let (k, v) = self
            .cache
            .as_ref()
            .ok_or_else(|| crate::Error::Inference("decoder used before encode".into()))?;
        Ok(self.attend(&q, k, v, None))
    }

    /// Keys and values of `audio` `[time, d]`.
    fn audio_kv(&self, audio: &[f32]) -> Kv {
        (self.k.forward(audio), self.v.forward(audio))
    }

    /// Makes `audio` what cross-attention attends to; positions past its end
    /// are taken from `tail` (keys and values of a whole window) if given.
    fn set_audio(&mut self, audio: &[f32], tail: Option<&Kv>) {
        let (mut k, mut v) = self.audio_kv(audio);
        if let Some((tk, tv)) = tail
            && k.len() < tk.len()
        {
            k.extend_from_slice(&tk[k.len()..]);
            v.extend_from_slice(&tv[v.len()..]);
        }
        self.cache = Some((k, v));
    }
}

#[derive(Clone)]
struct Block {
    attn: Attention,
    attn_ln: Norm,
    cross: Option<(Attention, Norm)>,
    fc1: Lin,
    fc2: Lin,
    mlp_ln: Norm,
}

fn add(x: &mut [f32], y: &[f32]) {
    for (a, b) in x.iter_mut().zip(y) {
        *a += b;
    }
}

impl Block {
    fn load(vb: &Tensors<'_>, name: &str, d: usize, heads: usize, cross: bool) -> Result<Self> {
        let cross = if cross {
            Some((
                Attention::load(vb, &format!("{name}.encoder_attn"), d, heads)?,
                Norm::load(vb, &format!("{name}.encoder_attn_layer_norm"), d)?,
            ))
        } else {
            None
        };
        Ok(Block {
            attn: Attention::load(vb, &format!("{name}.self_attn"), d, heads)?,
            attn_ln: Norm::load(vb, &format!("{name}.self_attn_layer_norm"), d)?,
            cross,
            fc1: Lin::load(vb, &format!("{name}.fc1"), d, 4 * d, true)?,
            fc2: Lin::load(vb, &format!("{name}.fc2"), 4 * d, d, true)?,
            mlp_ln: Norm::load(vb, &format!("{name}.final_layer_norm"), d)?,
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

    fn mlp(&self, x: &mut [f32]) {
        let mut h = self.fc1.forward(&self.mlp_ln.forward(x));
        kernels::gelu(&mut h);
        add(x, &self.fc2.forward(&h));
    }

    fn forward_encoder(&self, x: &mut [f32]) {
        add(x, &self.attn.forward_full(&self.attn_ln.forward(x)));
        self.mlp(x);
    }

    fn forward_decoder(&mut self, x: &mut [f32], offset: usize) -> Result<()> {
        add(
            x,
            &self.attn.forward_cached(&self.attn_ln.forward(x), offset),
        );
        if let Some((cross, ln)) = &self.cross {
            add(x, &cross.forward_cross(&ln.forward(x))?);
        }
        self.mlp(x);
        Ok(())
    }
}

/// A log-mel spectrogram: `bands` rows of `stride` frames, of which the
/// first `frames` are read.
#[derive(Debug, Clone, Copy)]
pub struct Mel<'a> {
    /// Band-major values, `bands * stride`.
    pub data: &'a [f32],
    /// Mel bands.
    pub bands: usize,
    /// Frames a band holds.
    pub stride: usize,
    /// Frames to encode (even).
    pub frames: usize,
}

/// The decoder's state after some tokens (its self-attention cache).
#[derive(Clone)]
pub struct Fed {
    caches: Vec<Option<Kv>>,
    offset: usize,
}

/// The whole model.
#[derive(Clone)]
pub struct Whisper {
    cfg: Config,
    /// `[d, n_mels * 3]` and `[d, d * 3]`: kernel width 3, padding 1.
    conv1: (Arc<Weights>, Arc<[f32]>),
    conv2: (Arc<Weights>, Arc<[f32]>),
    enc_pos: Arc<[f32]>,
    enc_blocks: Vec<Block>,
    enc_ln: Norm,
    /// The token embeddings, looked up a few rows a step (half precision is
    /// plenty).
    embed: Arc<[half::f16]>,
    /// The output projection (tied to the token embeddings), 8-bit: one
    /// step reads it whole, so its size sets the decoder's speed.
    logits: Lin,
    dec_pos: Arc<[f32]>,
    dec_blocks: Vec<Block>,
    dec_ln: Norm,
    /// Tokens already in the self-attention cache.
    offset: usize,
    /// Cross-attention keys and values of a whole window of silence, per
    /// decoder layer: a trimmed encoding is completed with them, so the
    /// decoder attends over a full window as in training.
    silence: Arc<Vec<Kv>>,
    /// What the decoder's audio was made from: a log-mel encoded again
    /// (a second hearing of the same words, biased towards the skills'
    /// commands) keeps the encoder's output and cross-attention keys and
    /// values, the same bits as encoding it anew.
    encoded: Option<Encoded>,
}

/// The input of the last encoding ([`Whisper::encode`]).
#[derive(Clone)]
struct Encoded {
    data: Vec<f32>,
    bands: usize,
    stride: usize,
    frames: usize,
    complete: bool,
}

impl Encoded {
    fn of(mel: &Mel<'_>, complete: bool) -> Encoded {
        Encoded {
            data: mel.data.to_vec(),
            bands: mel.bands,
            stride: mel.stride,
            frames: mel.frames,
            complete,
        }
    }

    /// The same input, bit for bit.
    fn is(&self, mel: &Mel<'_>, complete: bool) -> bool {
        self.bands == mel.bands
            && self.stride == mel.stride
            && self.frames == mel.frames
            && self.complete == complete
            && self.data.len() == mel.data.len()
            && self
                .data
                .iter()
                .zip(mel.data)
                .all(|(a, b)| a.to_bits() == b.to_bits())
    }
}

impl std::fmt::Debug for Whisper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Whisper").field("cfg", &self.cfg).finish()
    }
}

impl Whisper {
    /// Build from tensors under the Hugging Face names (any float type; computed in f32).
    pub fn load(vb: Tensors<'_>, cfg: Config) -> Result<Self> {
        cfg.validate()?;
        let d = cfg.d_model;
        let conv = |name: &str, i: usize| -> Result<(Arc<Weights>, Arc<[f32]>)> {
            Ok((
                Arc::new(Weights::F32(floats(
                    &vb,
                    &[d, i, 3],
                    &format!("{name}.weight"),
                )?)),
                floats(&vb, &[d], &format!("{name}.bias"))?.into(),
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
        // The embeddings in half precision; the output projection is made
        // 8-bit from those same half-precision values.
        let mut embed = floats(
            &vb,
            &[cfg.vocab_size, d],
            "model.decoder.embed_tokens.weight",
        )?;
        for v in &mut embed {
            *v = half::f16::from_f32(*v).to_f32();
        }
        let logits = Lin {
            w: Arc::new(Weights::quantize(&embed, d).ok_or_else(|| {
                crate::Error::BadModel(format!("width {d} does not split into 8-bit blocks"))
            })?),
            b: None,
            inputs: d,
            outputs: cfg.vocab_size,
        };
        // A new allocation of half the size (an in-place collect would keep
        // the floats' whole buffer).
        let embed: Arc<[half::f16]> = embed.iter().map(|v| half::f16::from_f32(*v)).collect();
        Ok(Whisper {
            conv1: conv("model.encoder.conv1", cfg.num_mel_bins)?,
            conv2: conv("model.encoder.conv2", d)?,
            enc_pos: floats(
                &vb,
                &[cfg.max_source_positions, d],
                "model.encoder.embed_positions.weight",
            )?
            .into(),
            enc_blocks,
            enc_ln: Norm::load(&vb, "model.encoder.layer_norm", d)?,
            logits,
            embed,
            dec_pos: floats(
                &vb,
                &[cfg.max_target_positions, d],
                "model.decoder.embed_positions.weight",
            )?
            .into(),
            dec_blocks,
            dec_ln: Norm::load(&vb, "model.decoder.layer_norm", d)?,
            offset: 0,
            silence: Arc::new(Vec::new()),
            encoded: None,
            cfg,
        })
    }

    /// The hyper-parameters.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Encode a log-mel spectrogram (frames even, at most twice the source
    /// positions) and make it the decoder's audio, completed to a whole
    /// window with the silence of [`Whisper::set_silence_encoding`] if `complete`.
    /// Resets the decoder. The same log-mel as last time (bit for bit) is
    /// not encoded again: the decoder's audio is already its encoding.
    /// Returns whether it was encoded (`false`: kept).
    pub fn encode(&mut self, mel: Mel<'_>, complete: bool) -> Result<bool> {
        let kept = self.encoded.as_ref().is_some_and(|e| e.is(&mel, complete));
        if !kept {
            self.encoded = None;
            let audio = self.run_encoder(mel)?;
            for (i, b) in self.dec_blocks.iter_mut().enumerate() {
                if let Some((cross, _)) = &mut b.cross {
                    let tail = if complete { self.silence.get(i) } else { None };
                    cross.set_audio(&audio, tail);
                }
            }
            self.encoded = Some(Encoded::of(&mel, complete));
        }
        for b in &mut self.dec_blocks {
            b.attn.cache = None;
        }
        self.offset = 0;
        Ok(!kept)
    }

    /// The encoder's output for a log-mel (`[positions, d_model]`), for
    /// [`Whisper::set_silence_encoding`]: the same bits on every CPU.
    pub fn encode_only(&self, mel: Mel<'_>) -> Result<Vec<f32>> {
        self.run_encoder(mel)
    }

    /// Keeps the cross-attention keys and values of the encoding of a whole
    /// window of silence ([`Whisper::encode_only`] of its log-mel, now or
    /// at an earlier load): from then on, a shorter encoding is completed
    /// with the silence's positions beyond it.
    pub fn set_silence_encoding(&mut self, audio: &[f32]) -> Result<()> {
        let d = self.cfg.d_model;
        let positions = audio.len() / d;
        if !audio.len().is_multiple_of(d)
            || positions == 0
            || positions > self.cfg.max_source_positions
            || !audio.iter().all(|v| v.is_finite())
        {
            return Err(crate::Error::BadModel(format!(
                "an encoding of silence is 1 to {} positions of {d} finite values, not {} values",
                self.cfg.max_source_positions,
                audio.len()
            )));
        }
        // (An encoding completed with the silence before is not this one's.)
        self.encoded = None;
        self.silence = Arc::new(
            self.dec_blocks
                .iter()
                .filter_map(|b| b.cross.as_ref().map(|(cross, _)| cross.audio_kv(audio)))
                .collect(),
        );
        Ok(())
    }

    fn run_encoder(&self, mel: Mel<'_>) -> Result<Vec<f32>> {
        let frames = mel.frames;
        let positions = frames.div_ceil(2);
        if positions > self.cfg.max_source_positions
            || frames == 0
            || mel.bands != self.cfg.num_mel_bins
            || frames > mel.stride
            || mel.data.len() != mel.bands * mel.stride
        {
            return Err(crate::Error::Inference(format!(
                "{frames} mel frames of {} bands ({} values): the encoder takes 1 to {} frames of {}",
                mel.bands,
                mel.data.len(),
                2 * self.cfg.max_source_positions,
                self.cfg.num_mel_bins
            )));
        }
        let d = self.cfg.d_model;
        let mut x = kernels::conv3(
            mel.data,
            frames,
            mel.bands,
            Some(mel.stride),
            1,
            &self.conv1.0,
            &self.conv1.1,
        );
        kernels::gelu(&mut x);
        let mut x = kernels::conv3(&x, frames, d, None, 2, &self.conv2.0, &self.conv2.1);
        kernels::gelu(&mut x);
        add(&mut x, &self.enc_pos[..positions * d]);
        for b in &self.enc_blocks {
            b.forward_encoder(&mut x);
        }
        Ok(self.enc_ln.forward(&x))
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
            b.attn.cache.clone_from(c);
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
        let d = self.cfg.d_model;
        let mut x = Vec::with_capacity(t * d);
        for (j, &tok) in tokens.iter().enumerate() {
            let tok = tok as usize;
            if tok >= self.cfg.vocab_size {
                return Err(crate::Error::Inference(format!(
                    "token {tok}: the vocabulary has {}",
                    self.cfg.vocab_size
                )));
            }
            let pos = &self.dec_pos[(self.offset + j) * d..][..d];
            x.extend(
                self.embed[tok * d..][..d]
                    .iter()
                    .zip(pos)
                    .map(|(e, p)| e.to_f32() + p),
            );
        }
        for b in &mut self.dec_blocks {
            b.forward_decoder(&mut x, self.offset)?;
        }
        self.offset += t;
        let from = if all { 0 } else { t - 1 };
        let last = self.dec_ln.forward(&x[from * d..]);
        let logits = self.logits.forward(&last);
        Ok(logits
            .chunks_exact(self.cfg.vocab_size)
            .map(<[f32]>::to_vec)
            .collect())
    }
}
