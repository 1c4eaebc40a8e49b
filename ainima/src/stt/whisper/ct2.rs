//! Reading CTranslate2 model files (`model.bin`, as faster-whisper ships
//! them) and mapping a Whisper spec onto the tensor names of the Hugging Face
//! layout, which [`super::model`] loads.
//!
//! The format, little-endian: `u32` version; the spec name; `u32` revision;
//! `u32` variable count; per variable its name, `u8` rank, `u32` dims, `u8`
//! dtype (0 f32, 1 i8, 2 i16, 3 i32, 4 f16, 5 bf16), `u32` byte count and the
//! data; then `u32` alias count and pairs of names. Strings are a `u16`
//! length and that many bytes, NUL-terminated. Whisper's self-attention fuses
//! q, k and v into one linear (`linear_0`), cross-attention fuses k and v
//! (`linear_1`); key biases are stored as zeros.

use std::collections::HashMap;

use safetensors::Dtype;

use super::tensor::HostTensor;

use crate::{Error, Result};

/// Element types of a CTranslate2 variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ct2Type {
    /// 0.
    F32,
    /// 1.
    I8,
    /// 2.
    I16,
    /// 3.
    I32,
    /// 4.
    F16,
    /// 5.
    Bf16,
}

impl Ct2Type {
    fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0 => Ct2Type::F32,
            1 => Ct2Type::I8,
            2 => Ct2Type::I16,
            3 => Ct2Type::I32,
            4 => Ct2Type::F16,
            5 => Ct2Type::Bf16,
            _ => return None,
        })
    }
    fn size(self) -> usize {
        match self {
            Ct2Type::I8 => 1,
            Ct2Type::I16 | Ct2Type::F16 | Ct2Type::Bf16 => 2,
            Ct2Type::F32 | Ct2Type::I32 => 4,
        }
    }
}

/// One variable of the file.
#[derive(Debug, Clone)]
pub struct Variable {
    /// Dimensions (empty for a scalar).
    pub dims: Vec<usize>,
    /// Element type.
    pub dtype: Ct2Type,
    /// The raw little-endian bytes.
    pub data: Vec<u8>,
}

impl Variable {
    /// A scalar integer's value (options such as `num_heads`).
    pub fn as_int(&self) -> Option<i64> {
        if !self.dims.is_empty() {
            return None;
        }
        Some(match (self.dtype, self.data.as_slice()) {
            (Ct2Type::I8, [a]) => i64::from(*a as i8),
            (Ct2Type::I16, [a, b]) => i64::from(i16::from_le_bytes([*a, *b])),
            (Ct2Type::I32, [a, b, c, d]) => i64::from(i32::from_le_bytes([*a, *b, *c, *d])),
            _ => return None,
        })
    }

    /// As a tensor of floats to write (f16 and f32 kept, bf16 made f32).
    pub fn to_tensor(&self, name: &str) -> Result<HostTensor> {
        let (dtype, data) = match self.dtype {
            Ct2Type::F32 => (Dtype::F32, self.data.clone()),
            Ct2Type::F16 => (Dtype::F16, self.data.clone()),
            Ct2Type::Bf16 => (
                Dtype::F32,
                self.data
                    .chunks_exact(2)
                    .flat_map(|c| (u32::from(u16::from_le_bytes([c[0], c[1]])) << 16).to_le_bytes())
                    .collect(),
            ),
            other => {
                return Err(Error::BadModel(format!(
                    "{name}: {other:?} weights (a quantised model); convert it with --quantization float16 or float32"
                )));
            }
        };
        let elements = self.dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        if elements.and_then(|n| n.checked_mul(dtype.bitsize() / 8)) != Some(data.len()) {
            return Err(Error::BadModel(format!(
                "{name}: {} bytes of {:?} do not make shape {:?}",
                self.data.len(),
                self.dtype,
                self.dims
            )));
        }
        Ok(HostTensor {
            dtype,
            dims: self.dims.clone(),
            data,
        })
    }
}

/// A parsed `model.bin`.
#[derive(Debug, Clone)]
pub struct Ct2Model {
    /// Format version.
    pub version: u32,
    /// The spec, e.g. `WhisperSpec`.
    pub spec: String,
    /// Spec revision.
    pub revision: u32,
    /// Variables by name, aliases resolved.
    pub variables: HashMap<String, Variable>,
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        if self.b.len() - self.at < n {
            return Err(Error::BadModel(format!(
                "model.bin is truncated: {what} needs {n} bytes at offset {}, {} remain",
                self.at,
                self.b.len() - self.at
            )));
        }
        let s = &self.b[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }
    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &str) -> Result<u16> {
        let s = self.take(2, what)?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }
    fn u32(&mut self, what: &str) -> Result<u32> {
        let s = self.take(4, what)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn string(&mut self, what: &str) -> Result<String> {
        let n = self.u16(what)? as usize;
        let s = self.take(n, what)?;
        let s = s.strip_suffix(&[0]).unwrap_or(s);
        String::from_utf8(s.to_vec()).map_err(|_| Error::BadModel(format!("{what} is not UTF-8")))
    }
}

/// Largest tensor accepted: 4 GiB.
const MAX_VARIABLE_BYTES: u64 = 4 << 30;

impl Ct2Model {
    /// Parse the bytes of a `model.bin`.
    pub fn parse(bytes: &[u8]) -> Result<Ct2Model> {
        let mut r = Reader { b: bytes, at: 0 };
        let version = r.u32("the version")?;
        if !(3..=6).contains(&version) {
            return Err(Error::BadModel(format!(
                "model.bin version {version}: not a CTranslate2 model this reader knows (3 to 6)"
            )));
        }
        let spec = r.string("the spec name")?;
        let revision = r.u32("the spec revision")?;
        let count = r.u32("the variable count")?;
        let mut variables = HashMap::new();
        for i in 0..count {
            let name = r.string(&format!("variable {i}'s name"))?;
            let rank = r.u8(&name)?;
            if rank > 8 {
                return Err(Error::BadModel(format!("{name}: rank {rank}")));
            }
            let dims: Vec<usize> = (0..rank)
                .map(|_| r.u32(&name).map(|d| d as usize))
                .collect::<Result<_>>()?;
            let code = r.u8(&name)?;
            let dtype = Ct2Type::from_u8(code)
                .ok_or_else(|| Error::BadModel(format!("{name}: unknown type code {code}")))?;
            let nbytes = u64::from(r.u32(&name)?);
            let elements = dims.iter().try_fold(1u64, |a, &d| a.checked_mul(d as u64));
            let expected = elements.and_then(|e| e.checked_mul(dtype.size() as u64));
            if expected != Some(nbytes) || nbytes > MAX_VARIABLE_BYTES {
                return Err(Error::BadModel(format!(
                    "{name}: {nbytes} bytes for dims {dims:?} of {dtype:?}"
                )));
            }
            let data = r.take(nbytes as usize, &name)?.to_vec();
            variables.insert(name, Variable { dims, dtype, data });
        }
        if r.at < bytes.len() {
            let aliases = r.u32("the alias count")?;
            for _ in 0..aliases {
                let alias = r.string("an alias")?;
                let target = r.string("an alias target")?;
                let v = variables.get(&target).cloned().ok_or_else(|| {
                    Error::BadModel(format!(
                        "alias {alias} names {target}, which is not in the file"
                    ))
                })?;
                variables.insert(alias, v);
            }
        }
        if r.at != bytes.len() {
            return Err(Error::BadModel(format!(
                "{} bytes of garbage after the model",
                bytes.len() - r.at
            )));
        }
        Ok(Ct2Model {
            version,
            spec,
            revision,
            variables,
        })
    }

    fn get(&self, name: &str) -> Result<&Variable> {
        self.variables
            .get(name)
            .ok_or_else(|| Error::BadModel(format!("{name} is missing from model.bin")))
    }

    fn tensor(&self, name: &str, dims: &[usize]) -> Result<HostTensor> {
        let v = self.get(name)?;
        if v.dims != dims {
            return Err(Error::BadModel(format!(
                "{name} has shape {:?}, expected {dims:?}",
                v.dims
            )));
        }
        v.to_tensor(name)
    }

    fn int(&self, name: &str) -> Result<usize> {
        self.get(name)?
            .as_int()
            .filter(|v| *v > 0)
            .map(|v| v as usize)
            .ok_or_else(|| Error::BadModel(format!("{name} is not a positive integer")))
    }

    /// The Whisper hyper-parameters this file implies.
    pub fn whisper_config(&self) -> Result<super::Config> {
        if self.spec != "WhisperSpec" {
            return Err(Error::BadModel(format!(
                "spec {:?}: not a Whisper model",
                self.spec
            )));
        }
        let emb = &self.get("decoder/embeddings/weight")?.dims;
        let conv1 = &self.get("encoder/conv1/weight")?.dims;
        let enc_pos = &self.get("encoder/position_encodings/encodings")?.dims;
        let dec_pos = &self.get("decoder/position_encodings/encodings")?.dims;
        let (&[vocab, d_model], &[_, mels, 3], &[src, _], &[tgt, _]) = (
            emb.as_slice(),
            conv1.as_slice(),
            enc_pos.as_slice(),
            dec_pos.as_slice(),
        ) else {
            return Err(Error::BadModel(
                "unexpected embedding, convolution or position shapes".into(),
            ));
        };
        let count = |prefix: &str| {
            (0..)
                .take_while(|i| {
                    self.variables
                        .contains_key(&format!("{prefix}/layer_{i}/ffn/linear_0/weight"))
                })
                .count()
        };
        let cfg = super::Config {
            num_mel_bins: mels,
            max_source_positions: src,
            d_model,
            encoder_attention_heads: self.int("encoder/num_heads")?,
            encoder_layers: count("encoder"),
            vocab_size: vocab,
            max_target_positions: tgt,
            decoder_attention_heads: self.int("decoder/num_heads")?,
            decoder_layers: count("decoder"),
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Every tensor under the Hugging Face names, shapes checked, in f16 as
    /// stored (or f32): what `model.safetensors` holds.
    pub fn to_hf_tensors(&self) -> Result<(super::Config, HashMap<String, HostTensor>)> {
        let cfg = self.whisper_config()?;
        let d = cfg.d_model;
        let ff = 4 * d;
        let mut out = HashMap::new();
        let mut put = |hf: String, t: HostTensor| {
            out.insert(hf, t);
        };
        let chunk = |t: &HostTensor, i: usize| -> Result<HostTensor> {
            t.rows(i * d, d)
                .map_err(|e| Error::BadModel(format!("splitting a fused linear: {e}")))
        };
        let ln = |ct: &str, hf: &str, put: &mut dyn FnMut(String, HostTensor)| -> Result<()> {
            put(
                format!("{hf}.weight"),
                self.tensor(&format!("{ct}/gamma"), &[d])?,
            );
            put(
                format!("{hf}.bias"),
                self.tensor(&format!("{ct}/beta"), &[d])?,
            );
            Ok(())
        };
        let linear = |ct: &str,
                      hf: &str,
                      o: usize,
                      i: usize,
                      put: &mut dyn FnMut(String, HostTensor)|
         -> Result<()> {
            put(
                format!("{hf}.weight"),
                self.tensor(&format!("{ct}/weight"), &[o, i])?,
            );
            put(
                format!("{hf}.bias"),
                self.tensor(&format!("{ct}/bias"), &[o])?,
            );
            Ok(())
        };
        // Fused projections, split into q, k, v (k has no bias in the HF layout).
        let fused = |ct: &str,
                     hf: &str,
                     names: &[&str],
                     put: &mut dyn FnMut(String, HostTensor)|
         -> Result<()> {
            let n = names.len();
            let w = self.tensor(&format!("{ct}/weight"), &[n * d, d])?;
            let b = self.tensor(&format!("{ct}/bias"), &[n * d])?;
            for (i, name) in names.iter().enumerate() {
                put(format!("{hf}.{name}.weight"), chunk(&w, i)?);
                if *name != "k_proj" {
                    put(format!("{hf}.{name}.bias"), chunk(&b, i)?);
                }
            }
            Ok(())
        };
        // What encoder and decoder layers share: self-attention and the feed-forward block.
        let layer = |ct: &str, hf: &str, put: &mut dyn FnMut(String, HostTensor)| -> Result<()> {
            fused(
                &format!("{ct}/self_attention/linear_0"),
                &format!("{hf}.self_attn"),
                &["q_proj", "k_proj", "v_proj"],
                put,
            )?;
            linear(
                &format!("{ct}/self_attention/linear_1"),
                &format!("{hf}.self_attn.out_proj"),
                d,
                d,
                put,
            )?;
            ln(
                &format!("{ct}/self_attention/layer_norm"),
                &format!("{hf}.self_attn_layer_norm"),
                put,
            )?;
            linear(
                &format!("{ct}/ffn/linear_0"),
                &format!("{hf}.fc1"),
                ff,
                d,
                put,
            )?;
            linear(
                &format!("{ct}/ffn/linear_1"),
                &format!("{hf}.fc2"),
                d,
                ff,
                put,
            )?;
            ln(
                &format!("{ct}/ffn/layer_norm"),
                &format!("{hf}.final_layer_norm"),
                put,
            )
        };
        put(
            "model.encoder.conv1.weight".into(),
            self.tensor("encoder/conv1/weight", &[d, cfg.num_mel_bins, 3])?,
        );
        put(
            "model.encoder.conv1.bias".into(),
            self.tensor("encoder/conv1/bias", &[d])?,
        );
        put(
            "model.encoder.conv2.weight".into(),
            self.tensor("encoder/conv2/weight", &[d, d, 3])?,
        );
        put(
            "model.encoder.conv2.bias".into(),
            self.tensor("encoder/conv2/bias", &[d])?,
        );
        put(
            "model.encoder.embed_positions.weight".into(),
            self.tensor(
                "encoder/position_encodings/encodings",
                &[cfg.max_source_positions, d],
            )?,
        );
        for l in 0..cfg.encoder_layers {
            let (ct, hf) = (
                format!("encoder/layer_{l}"),
                format!("model.encoder.layers.{l}"),
            );
            layer(&ct, &hf, &mut put)?;
        }
        ln("encoder/layer_norm", "model.encoder.layer_norm", &mut put)?;
        put(
            "model.decoder.embed_tokens.weight".into(),
            self.tensor("decoder/embeddings/weight", &[cfg.vocab_size, d])?,
        );
        put(
            "model.decoder.embed_positions.weight".into(),
            self.tensor(
                "decoder/position_encodings/encodings",
                &[cfg.max_target_positions, d],
            )?,
        );
        for l in 0..cfg.decoder_layers {
            let (ct, hf) = (
                format!("decoder/layer_{l}"),
                format!("model.decoder.layers.{l}"),
            );
            layer(&ct, &hf, &mut put)?;
            linear(
                &format!("{ct}/attention/linear_0"),
                &format!("{hf}.encoder_attn.q_proj"),
                d,
                d,
                &mut put,
            )?;
            fused(
                &format!("{ct}/attention/linear_1"),
                &format!("{hf}.encoder_attn"),
                &["k_proj", "v_proj"],
                &mut put,
            )?;
            linear(
                &format!("{ct}/attention/linear_2"),
                &format!("{hf}.encoder_attn.out_proj"),
                d,
                d,
                &mut put,
            )?;
            ln(
                &format!("{ct}/attention/layer_norm"),
                &format!("{hf}.encoder_attn_layer_norm"),
                &mut put,
            )?;
        }
        ln("decoder/layer_norm", "model.decoder.layer_norm", &mut put)?;
        Ok((cfg, out))
    }
}
