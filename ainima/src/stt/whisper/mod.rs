//! The Whisper engine: log-mel features, the model (our own, in
//! [`model`]), greedy decoding with guards for short audio, and loading from
//! a model folder in the Hugging Face layout (`model.safetensors`,
//! `config.json`, `tokenizer.json`) plus Ainima's `ainima.json` manifest.

pub mod ct2;
pub mod model;
pub mod tensor;

use std::collections::BTreeMap;
use std::path::Path;
// The page's clock in the browser (std's `Instant` panics there), std's
// natively: only for the stage timings reported, never for decisions.
use web_time::Instant;

use super::{Segment, SpeechToText, Transcript};
use crate::{Error, Result};

/// Audio the model reads: 16 kHz.
pub const SAMPLE_RATE: usize = 16_000;
/// STFT window (25 ms), as in the paper.
pub const N_FFT: usize = 400;
/// STFT hop (10 ms), as in the paper.
pub const HOP_LENGTH: usize = 160;
/// The longest audio one window holds.
pub const CHUNK_SECONDS: usize = 30;
/// Silence appended after the speech before encoding. Whisper was trained on
/// 30 s windows; given only the speech it tends to repeat itself instead of
/// ending. Completing the encoding with that of silence
/// ([`DecodeOptions::complete_with_silence`]) cures most of that; measured
/// on the shared recordings, 1 s of padding then gives the full window's 16
/// word errors with no loop, and none at all turns a 0.4 s "two" into "you".
pub const PAD_SECONDS: f32 = 1.0;

/// Hyper-parameters, under the Hugging Face `config.json` names.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Config {
    /// Mel bands (n_mels).
    pub num_mel_bins: usize,
    /// Encoder positions (n_audio_ctx), 1500 for 30 s.
    pub max_source_positions: usize,
    /// Width (n_audio_state = n_text_state).
    pub d_model: usize,
    /// Encoder heads.
    pub encoder_attention_heads: usize,
    /// Encoder layers.
    pub encoder_layers: usize,
    /// Vocabulary (n_vocab).
    pub vocab_size: usize,
    /// Decoder positions (n_text_ctx).
    pub max_target_positions: usize,
    /// Decoder heads.
    pub decoder_attention_heads: usize,
    /// Decoder layers.
    pub decoder_layers: usize,
}

impl Config {
    /// Check the numbers hang together.
    pub fn validate(&self) -> Result<()> {
        let ok = self.num_mel_bins > 0
            && self.d_model > 0
            && self.encoder_attention_heads > 0
            && self.decoder_attention_heads > 0
            && self.d_model.is_multiple_of(self.encoder_attention_heads)
            && self.d_model.is_multiple_of(self.decoder_attention_heads)
            && self.encoder_layers > 0
            && self.decoder_layers > 0
            && self.vocab_size > 50_000
            && self.max_source_positions > 0
            && self.max_target_positions > 8;
        if ok {
            Ok(())
        } else {
            Err(Error::BadModel(format!(
                "inconsistent Whisper configuration: {self:?}"
            )))
        }
    }

    /// Multilingual models have 51865 tokens or more; English-only ones 51864.
    pub fn multilingual(&self) -> bool {
        self.vocab_size >= 51_865
    }
}

/// Ainima's own notes on an installed model: provenance, checksums and
/// decoding settings that the tensors do not carry.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    /// The model's name in the store.
    pub name: String,
    /// Where it came from (a path, a wheel, a hub repository).
    pub source: String,
    /// SHA-256 of each file, by name.
    pub sha256: BTreeMap<String, String>,
    /// Tokens never to emit.
    #[serde(default)]
    pub suppress_ids: Vec<u32>,
    /// Tokens never to emit first.
    #[serde(default)]
    pub suppress_ids_begin: Vec<u32>,
}

/// The threads the model's kernels use: `RAYON_NUM_THREADS` if set, else
/// the logical cores (for benchmarks to say, and pin, beside a peer's). The
/// model's output does not depend on it.
pub fn threads() -> usize {
    rayon::current_num_threads()
}

/// Whisper's log-mel spectrogram: `frames = samples / 160` frames of
/// `n_mels` bands, band-major (`[n_mels, frames]`), log10, floored 8 below
/// the maximum and scaled as `(x + 4) / 4`.
pub fn log_mel(samples: &[f32], n_mels: usize) -> Result<(Vec<f32>, usize)> {
    Ok(log_mel_with(&mut mel_analyser(n_mels)?, samples))
}

/// The STFT and filter bank behind [`log_mel`], planned once and reused.
pub fn mel_analyser(n_mels: usize) -> Result<ainima_audio::features::LogMel> {
    Ok(ainima_audio::features::LogMel::new(
        ainima_audio::features::MelConfig {
            n_fft: N_FFT,
            hop: HOP_LENGTH,
            n_mels,
            sample_rate: SAMPLE_RATE as u32,
            fmin: 0.0,
            fmax: SAMPLE_RATE as f64 / 2.0,
        },
    )?)
}

/// [`log_mel`] with an analyser from [`mel_analyser`].
pub fn log_mel_with(
    mel: &mut ainima_audio::features::LogMel,
    samples: &[f32],
) -> (Vec<f32>, usize) {
    let n_mels = mel.config().n_mels;
    let frames = samples.len() / HOP_LENGTH;
    let spec = mel.spectrogram(samples);
    let max = spec[..frames * n_mels]
        .iter()
        .copied()
        .fold(f32::MIN, f32::max);
    let mut out = vec![0.0; n_mels * frames];
    for f in 0..frames {
        for m in 0..n_mels {
            out[m * frames + f] = (spec[f * n_mels + m].max(max - 8.0) + 4.0) / 4.0;
        }
    }
    (out, frames)
}

/// Token ids the decoder needs.
#[derive(Debug, Clone, Copy)]
struct Special {
    sot: u32,
    eot: u32,
    transcribe: u32,
    no_timestamps: u32,
    english: Option<u32>,
    start_of_prev: u32,
}

/// Decoding settings.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeOptions {
    /// Words to bias recognition towards, given to Whisper as previous text.
    pub prompt: Option<String>,
    /// The names of the user's world (a home's areas and devices): when
    /// readings are weighed ([`SpeechToText::likelihoods`]), those the
    /// readings say are given as previous text (before `prompt`, if any),
    /// which makes a reading that says them likelier. Decoding itself is not
    /// biased by them: as a prompt there, a home's names also made "pause
    /// the TV" come out "Post the TV".
    pub names: Vec<String>,
    /// Most tokens per second of audio (guards against loops).
    pub max_tokens_per_second: f32,
    /// Silence appended after the speech.
    pub pad_seconds: f32,
    /// Below this mean token probability a trimmed window is decoded again
    /// with `retry_pad_seconds` of padding (30: the full window Whisper was
    /// trained on) and the better result kept: one that ends over one that
    /// loops, else the more confident. `None` (the default): only loops are
    /// retried. With the encoding completed by silence, retrying the unsure
    /// ones changed no word on the shared recordings and cost a second each.
    pub retry_below: Option<f32>,
    /// Decode again as above when the decoder looped: a stutter of word
    /// pieces cut, or the token cap reached.
    pub retry_on_loop: bool,
    /// Whisper's temperature fallback: when a window still loops after the
    /// retry, it is decoded again sampling at each of these temperatures in
    /// turn (seeded, so the same audio gives the same text) until one ends;
    /// the most confident ending is kept.
    pub temperatures: Vec<f32>,
    /// Padding for the retry.
    pub retry_pad_seconds: f32,
    /// Let the decoder attend over a whole window: the trimmed encoding,
    /// then the cross-attention keys and values of a window of silence
    /// (encoded once, at load) for the positions beyond it. Measured on the
    /// shared recordings: 19 word errors without, 16 with (the same as
    /// decoding over the full 30 s window), and no more loops.
    pub complete_with_silence: bool,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            prompt: None,
            names: Vec::new(),
            max_tokens_per_second: 6.0,
            pad_seconds: PAD_SECONDS,
            retry_below: None,
            retry_on_loop: true,
            temperatures: vec![0.2, 0.4, 0.6, 0.8, 1.0],
            retry_pad_seconds: CHUNK_SECONDS as f32,
            complete_with_silence: true,
        }
    }
}

/// The files of an installed model, read: `config.json`, `ainima.json`
/// (absent for a bare model), `tokenizer.json` and `model.safetensors`.
#[derive(Debug, Clone, Copy)]
pub struct ModelFiles<'a> {
    /// `config.json`.
    pub config: &'a [u8],
    /// `ainima.json`, the store's manifest (suppressed tokens).
    pub manifest: Option<&'a [u8]>,
    /// `tokenizer.json`.
    pub tokenizer: &'a [u8],
    /// `model.safetensors`.
    pub weights: &'a [u8],
}

/// The Whisper speech recogniser. A clone shares the weights (cheap) and
/// has its own decoding state.
#[derive(Clone)]
pub struct WhisperEngine {
    name: String,
    model: model::Whisper,
    tokenizer: tokenizers::Tokenizer,
    special: Special,
    /// The mel analyser, planned once.
    mel: ainima_audio::features::LogMel,
    suppress: Vec<u32>,
    suppress_begin: Vec<u32>,
    /// Decoding settings.
    pub options: DecodeOptions,
    /// Segmenting the audio before decoding.
    pub endpointer: ainima_audio::endpoint::Config,
    /// Windows of the audio last transcribed (its last is the model's).
    windows: usize,
}

impl std::fmt::Debug for WhisperEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhisperEngine")
            .field("name", &self.name)
            .field("model", &self.model)
            .finish()
    }
}

/// The file in an installed model's folder that keeps the encoding of a
/// whole window of silence (written on the first load; about 2 MB for
/// tiny.en): a load that finds it skips the encoder's longest pass.
pub const SILENCE_FILE: &str = "silence-encoding.bin";

/// Names the encoder's arithmetic in a kept encoding of silence: change it
/// whenever the encoder's output changes for the same weights (the test
/// `ainima/tests/whisper.rs`,
/// `a_kept_encoding_of_silence_is_the_one_the_encoder_computes`, pins the
/// encoding's digest and fails first), so an encoding kept by an earlier
/// build is computed again, never used. (Each release's version is in the
/// key too.)
const SILENCE_FORMAT: &str = "ainima-whisper-silence 1";

/// The first bytes of [`SILENCE_FILE`].
const SILENCE_MAGIC: &[u8; 8] = b"AINSIL02";

/// [`SILENCE_FILE`]'s bytes before its values: the magic, the key, the
/// number of values (u32) and the values' SHA-256.
const SILENCE_HEADER: usize = 8 + 32 + 4 + 32;

/// What a kept encoding of silence must have been computed from: the
/// arithmetic (its name and the release's version), the weights (their
/// bytes, as read) and the hyper-parameters.
fn silence_key(weights: &[u8], cfg: &Config) -> [u8; 32] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(SILENCE_FORMAT.as_bytes());
    h.update(b"\n");
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update(b"\n");
    h.update(serde_json::to_vec(cfg).unwrap_or_default());
    h.update(b"\n");
    h.update(weights);
    h.finalize().into()
}

/// The mel frames of a whole window of silence the encoder takes: an even
/// number, at most two a position.
fn silence_frames(cfg: &Config) -> usize {
    let frames = CHUNK_SECONDS * SAMPLE_RATE / HOP_LENGTH;
    (frames - frames % 2).min(2 * cfg.max_source_positions)
}

/// How many values the encoding of a whole window of silence has: the
/// positions [`silence_frames`] make, of `d_model`.
fn silence_values(cfg: &Config) -> usize {
    silence_frames(cfg).div_ceil(2) * cfg.d_model
}

/// [`SILENCE_FILE`]'s bytes: the header ([`SILENCE_HEADER`]), then the
/// values (f32), little-endian.
fn silence_to_bytes(audio: &[f32], key: &[u8; 32]) -> Vec<u8> {
    let values: Vec<u8> = audio.iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut b = Vec::with_capacity(SILENCE_HEADER + values.len());
    b.extend_from_slice(SILENCE_MAGIC);
    b.extend_from_slice(key);
    b.extend_from_slice(&(audio.len() as u32).to_le_bytes());
    b.extend_from_slice(&crate::sha256(&values));
    b.extend_from_slice(&values);
    b
}

/// The `count` values kept in [`SILENCE_FILE`]'s bytes if they were
/// computed for `key` and are whole (their digest holds); `None` for
/// anything else (another model, another arithmetic, a short or damaged
/// file), which is then computed again.
fn silence_from_bytes(b: &[u8], key: &[u8; 32], count: usize) -> Option<Vec<f32>> {
    let (magic, rest) = b.split_first_chunk::<8>()?;
    let (k, rest) = rest.split_first_chunk::<32>()?;
    let (n, rest) = rest.split_first_chunk::<4>()?;
    let (digest, values) = rest.split_first_chunk::<32>()?;
    if magic != SILENCE_MAGIC
        || k != key
        || u32::from_le_bytes(*n) as usize != count
        || values.len() != count.checked_mul(4)?
        || &crate::sha256(values) != digest
    {
        return None;
    }
    Some(
        values
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

/// The kept encoding of silence in `path` if it is the one for `key`
/// (a file of another size is not read).
fn read_silence(path: &Path, key: &[u8; 32], count: usize) -> Option<Vec<f32>> {
    let size = count.checked_mul(4)?.checked_add(SILENCE_HEADER)?;
    if std::fs::metadata(path).ok()?.len() != size as u64 {
        return None;
    }
    silence_from_bytes(&std::fs::read(path).ok()?, key, count)
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

impl WhisperEngine {
    /// Load an installed model folder (see `crate::store`).
    pub fn load(dir: &Path) -> Result<Self> {
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("whisper")
            .to_string();
        let config = read(&dir.join("config.json"))?;
        let manifest = std::fs::read(dir.join("ainima.json")).ok();
        let tok_path = dir.join("tokenizer.json");
        if !tok_path.is_file() {
            return Err(Error::BadModel(format!(
                "{} is missing",
                tok_path.display()
            )));
        }
        let tokenizer = read(&tok_path)?;
        let weights = read(&dir.join("model.safetensors"))?;
        let files = ModelFiles {
            config: &config,
            manifest: manifest.as_deref(),
            tokenizer: &tokenizer,
            weights: &weights,
        };
        let mut engine = Self::build(&name, &files)?;
        // The encoding of silence, kept beside the weights it came from
        // (computed and kept on the first load; a folder that cannot be
        // written computes it each time).
        let key = silence_key(&weights, engine.model.config());
        let count = silence_values(engine.model.config());
        let kept = dir.join(SILENCE_FILE);
        if let Some(audio) = read_silence(&kept, &key, count)
            && engine.model.set_silence_encoding(&audio).is_ok()
        {
            return Ok(engine);
        }
        let audio = engine.encode_silence()?;
        engine.model.set_silence_encoding(&audio)?;
        // Written beside, on the disk, then swapped in: a reader never
        // sees half a file, even after a crash. Readable as the weights are.
        let _ = tempfile::NamedTempFile::new_in(dir).and_then(|mut f| {
            std::io::Write::write_all(&mut f, &silence_to_bytes(&audio, &key))?;
            let weights = std::fs::metadata(dir.join("model.safetensors"))?;
            f.as_file().set_permissions(weights.permissions())?;
            f.as_file().sync_all()?;
            f.persist(&kept).map_err(|e| e.error)?;
            Ok(())
        });
        Ok(engine)
    }

    /// A model from its files' bytes, as an installed folder holds them
    /// (the browser is given them by the page).
    pub fn from_parts(name: &str, files: &ModelFiles<'_>) -> Result<Self> {
        let mut engine = Self::build(name, files)?;
        let audio = engine.encode_silence()?;
        engine.model.set_silence_encoding(&audio)?;
        Ok(engine)
    }

    /// The model, its encoding of silence not yet set.
    fn build(name: &str, files: &ModelFiles<'_>) -> Result<Self> {
        let name = name.to_string();
        let cfg: Config = serde_json::from_slice(files.config)
            .map_err(|e| Error::BadModel(format!("config.json: {e}")))?;
        cfg.validate()?;
        let manifest: Manifest = match files.manifest {
            Some(b) => serde_json::from_slice(b)
                .map_err(|e| Error::BadModel(format!("ainima.json: {e}")))?,
            None => Manifest::default(),
        };
        let tokenizer = tokenizers::Tokenizer::from_bytes(files.tokenizer)
            .map_err(|e| Error::BadModel(format!("tokenizer.json: {e}")))?;
        // Read in place: each tensor becomes the model's floats in one copy.
        let vb = tensor::Tensors::read(files.weights)?;
        let model =
            model::Whisper::load(vb, cfg.clone()).map_err(|e| Error::BadModel(format!("{e}")))?;
        let id = |t: &str| {
            tokenizer
                .token_to_id(t)
                .ok_or_else(|| Error::BadModel(format!("the tokenizer has no {t}")))
        };
        let special = Special {
            sot: id("<|startoftranscript|>")?,
            eot: id("<|endoftext|>")?,
            transcribe: id("<|transcribe|>")?,
            no_timestamps: id("<|notimestamps|>")?,
            english: if cfg.multilingual() {
                Some(id("<|en|>")?)
            } else {
                None
            },
            start_of_prev: id("<|startofprev|>")?,
        };
        Ok(WhisperEngine {
            mel: mel_analyser(cfg.num_mel_bins)?,
            name,
            model,
            tokenizer,
            special,
            suppress: manifest.suppress_ids,
            suppress_begin: manifest.suppress_ids_begin,
            options: DecodeOptions::default(),
            endpointer: ainima_audio::endpoint::Config::default(),
            windows: 0,
        })
    }

    /// The encoding of a whole window of silence, for
    /// `complete_with_silence`: the same bits on every machine (natively)
    /// for the same weights.
    fn encode_silence(&mut self) -> Result<Vec<f32>> {
        let len = CHUNK_SECONDS * SAMPLE_RATE;
        let n_mels = self.model.config().num_mel_bins;
        let (mel, frames) = log_mel_with(&mut self.mel, &vec![0.0f32; len]);
        let frames = silence_frames(self.model.config()).min(frames);
        self.model.encode_only(model::Mel {
            data: &mel,
            bands: n_mels,
            stride: len / HOP_LENGTH,
            frames,
        })
    }

    fn prompt_tokens(&self) -> Result<Vec<u32>> {
        let mut p = Vec::new();
        if let Some(words) = self
            .options
            .prompt
            .as_deref()
            .filter(|w| !w.trim().is_empty())
        {
            let enc = self
                .tokenizer
                .encode(format!(" {}", words.trim()), false)
                .map_err(|e| Error::Inference(format!("tokenizing the prompt: {e}")))?;
            let ids = enc.get_ids();
            // At most half the context, newest words last.
            let keep = ids
                .len()
                .min(self.model.config().max_target_positions / 2 - 1);
            p.push(self.special.start_of_prev);
            p.extend_from_slice(&ids[ids.len() - keep..]);
        }
        p.push(self.special.sot);
        if let Some(en) = self.special.english {
            p.push(en);
            p.push(self.special.transcribe);
        }
        p.push(self.special.no_timestamps);
        Ok(p)
    }

    /// Decode one window of speech (at most 30 s minus the padding).
    fn decode_window(
        &mut self,
        speech: &[f32],
        temperature: f32,
        timings: &mut BTreeMap<String, f64>,
    ) -> Result<(String, f32, bool)> {
        // Seeded from the audio's length, so a replay samples the same.
        let mut rng = ainima_audio::room::Rng::new(
            0x5EED ^ speech.len() as u64 ^ temperature.to_bits() as u64,
        );
        let max_samples = CHUNK_SECONDS * SAMPLE_RATE;
        let pad = (self.options.pad_seconds.max(0.0) * SAMPLE_RATE as f32) as usize;
        let len = (speech.len() + pad).min(max_samples);
        let mut audio = vec![0.0f32; len];
        let n = speech.len().min(len);
        audio[..n].copy_from_slice(&speech[..n]);

        let t0 = Instant::now();
        let n_mels = self.model.config().num_mel_bins;
        let (mel, frames) = log_mel_with(&mut self.mel, &audio);
        let frames = frames - frames % 2;
        let t1 = Instant::now();
        let encoded = self.model.encode(
            model::Mel {
                data: &mel,
                bands: n_mels,
                stride: len / HOP_LENGTH,
                frames,
            },
            self.options.complete_with_silence,
        )?;
        if !encoded {
            // The same window as the last hearing's (a biased second
            // hearing): its encoding is kept.
            *timings.entry("encodings_kept".into()).or_default() += 1.0;
        }
        let t2 = Instant::now();

        let seconds = speech.len() as f32 / SAMPLE_RATE as f32;
        let cap = (8.0 + seconds * self.options.max_tokens_per_second).ceil() as usize;
        let prompt = self.prompt_tokens()?;
        let cap = cap.min(self.model.config().max_target_positions - prompt.len() - 1);
        let mut out: Vec<u32> = Vec::new();
        let mut probs: Vec<f32> = Vec::new();
        let mut feed = prompt;
        let mut looped = false;
        let eot = self.special.eot;
        let first_special = self.special.eot + 1;
        while out.len() < cap {
            let mut logits = self.model.step(&feed)?;
            for &s in &self.suppress {
                if let Some(l) = logits.get_mut(s as usize) {
                    *l = f32::NEG_INFINITY;
                }
            }
            if out.is_empty() {
                for &s in &self.suppress_begin {
                    if let Some(l) = logits.get_mut(s as usize) {
                        *l = f32::NEG_INFINITY;
                    }
                }
                logits[eot as usize] = f32::NEG_INFINITY;
            }
            // No special tokens in the text: no timestamps, no language, no task.
            for l in logits.iter_mut().skip(first_special as usize) {
                *l = f32::NEG_INFINITY;
            }
            let (best, p) = if temperature > 0.0 {
                sample(&logits, temperature, &mut rng)
            } else {
                argmax_prob(&logits)
            };
            if best == eot {
                break;
            }
            out.push(best);
            probs.push(p);
            if let Some((keep, phrase)) = repetition_cut(&out) {
                // Words said again ("Yes, yes, yes") are cut and done
                // with; a stutter of word pieces ("He was not an
                // old-s-s-s") means the decoder lost its way.
                let piece = self
                    .tokenizer
                    .decode(&out[keep - phrase..keep], false)
                    .unwrap_or_default();
                looped = phrase <= 3
                    && !piece
                        .split(|c: char| !c.is_alphanumeric())
                        .any(|w| w.chars().count() >= 2 || w.chars().any(|c| c.is_ascii_digit()));
                out.truncate(keep);
                probs.truncate(keep);
                break;
            }
            feed = vec![best];
        }
        let t3 = Instant::now();
        *timings.entry("mel".into()).or_default() += (t1 - t0).as_secs_f64() * 1e3;
        *timings.entry("encode".into()).or_default() += (t2 - t1).as_secs_f64() * 1e3;
        *timings.entry("decode".into()).or_default() += (t3 - t2).as_secs_f64() * 1e3;
        let text = self
            .tokenizer
            .decode(&out, true)
            .map_err(|e| Error::Inference(format!("detokenizing: {e}")))?;
        let conf = if probs.is_empty() {
            0.0
        } else {
            probs.iter().sum::<f32>() / probs.len() as f32
        };
        let text = if seconds < SHORT_REPEAT_SECONDS {
            collapse_repeats(text.trim())
        } else {
            text.trim().to_string()
        };
        // Running into the token cap is a loop too.
        looped |= out.len() >= cap;
        Ok((text, conf, looped))
    }
}

/// Below this much audio, a transcript that is one phrase said over and over
/// is taken as one: Whisper, given a second of speech, often says a single
/// word twice ("Yes, yes", "9 9") where it was said once.
const SHORT_REPEAT_SECONDS: f32 = 2.0;

/// "Yes, yes" to "Yes"; "turn on, turn on" to "turn on"; anything else unchanged.
fn collapse_repeats(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let norm: Vec<String> = words
        .iter()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .collect();
    let n = norm.len();
    for p in 1..=n / 2 {
        if n.is_multiple_of(p) && (p..n).all(|i| norm[i] == norm[i % p]) {
            let first = words[..p].join(" ");
            return first.trim_end_matches([',', ';', ':']).to_string();
        }
    }
    text.to_string()
}

/// Index and softmax probability of the largest logit.
fn argmax_prob(logits: &[f32]) -> (u32, f32) {
    let (mut best, mut max) = (0usize, f32::NEG_INFINITY);
    for (i, &l) in logits.iter().enumerate() {
        if l > max {
            max = l;
            best = i;
        }
    }
    // Our exponential, not the platform's (whose variants differ by CPU).
    let sum = ainima_kernels::sum_exp_below(logits, max);
    (best as u32, 1.0 / sum)
}

/// A token drawn from the softmax of `logits / temperature`, and its
/// probability there.
fn sample(logits: &[f32], temperature: f32, rng: &mut ainima_audio::room::Rng) -> (u32, f32) {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let weights: Vec<f64> = logits
        .iter()
        .map(|&l| libm::exp(f64::from((l - max) / temperature)))
        .collect();
    let total: f64 = weights.iter().sum();
    let mut u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
    for (i, &w) in weights.iter().enumerate() {
        if u < w && w > 0.0 {
            return (i as u32, (w / total) as f32);
        }
        u -= w;
    }
    argmax_prob(logits)
}

/// Whisper's loops: if the tokens end in a repeated phrase, the length to
/// keep (the phrase once) and the phrase's length in tokens. A phrase of four tokens or more repeated even
/// once right after itself is a loop ("Make me a large coffee. Make me a
/// large coffee."); shorter ones must come three times (four for a single
/// token), since "thank you, thank you" and "no no no" are things people say.
fn repetition_cut(tokens: &[u32]) -> Option<(usize, usize)> {
    let end = tokens.len();
    for n in 1..=end / 2 {
        let times = match n {
            1 => 4,
            2 | 3 => 3,
            _ => 2,
        };
        if n * times > end {
            continue;
        }
        let last = &tokens[end - n..];
        if (1..times).all(|k| &tokens[end - (k + 1) * n..end - k * n] == last) {
            return Some((end - (times - 1) * n, n));
        }
    }
    None
}

impl WhisperEngine {
    /// `f` with `prompt` as the prompt, the engine's own given back
    /// afterwards, also when `f` panics (the panic goes on: a caller that
    /// catches it, as the session does, would otherwise hear everything
    /// after biased).
    fn with_prompt<T>(&mut self, prompt: &str, f: impl FnOnce(&mut Self) -> T) -> T {
        let before = self.options.prompt.replace(prompt.to_string());
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(self)));
        self.options.prompt = before;
        out.unwrap_or_else(|p| std::panic::resume_unwind(p))
    }
}

impl SpeechToText for WhisperEngine {
    fn transcribe(&mut self, samples: &[f32]) -> Result<Transcript> {
        let start = Instant::now();
        let mut timings = BTreeMap::new();
        let utterances = ainima_audio::endpoint::segments(samples, &self.endpointer)?;
        // Group neighbouring utterances into windows that fit, padding included.
        // Padding takes at most half a window, so a window always holds speech.
        let pad = self
            .options
            .pad_seconds
            .clamp(0.0, CHUNK_SECONDS as f32 / 2.0);
        let room = CHUNK_SECONDS * SAMPLE_RATE - (pad * SAMPLE_RATE as f32) as usize;
        let margin = SAMPLE_RATE / 5;
        let mut windows: Vec<(usize, usize)> = Vec::new();
        for u in &utterances {
            let (s, e) = (
                (u.start as usize).saturating_sub(margin),
                (u.end as usize + margin).min(samples.len()),
            );
            match windows.last_mut() {
                Some(w) if e - w.0 <= room => w.1 = e,
                _ => {
                    // A single utterance longer than a window is cut into windows.
                    let mut s = s;
                    while e - s > room {
                        windows.push((s, s + room));
                        s += room;
                    }
                    windows.push((s, e));
                }
            }
        }
        let mut segments = Vec::new();
        let mut confidence = 0.0;
        self.windows = windows.len();
        for &(s, e) in &windows {
            let (mut text, mut conf, mut looped) =
                self.decode_window(&samples[s..e], 0.0, &mut timings)?;
            let padded = e - s + (self.options.pad_seconds * SAMPLE_RATE as f32) as usize;
            let trimmed = padded < CHUNK_SECONDS * SAMPLE_RATE;
            let unsure = self.options.retry_below.is_some_and(|t| conf < t);
            if trimmed && (unsure || (looped && self.options.retry_on_loop)) {
                let pad = self.options.pad_seconds;
                self.options.pad_seconds = self.options.retry_pad_seconds;
                let retry = self.decode_window(&samples[s..e], 0.0, &mut timings);
                self.options.pad_seconds = pad;
                let (t2, c2, looped_again) = retry?;
                *timings.entry("retries".into()).or_default() += 1.0;
                // A loop is worse than any ending; otherwise the surer wins.
                if (looped && !looped_again) || (looped == looped_again && c2 > conf) {
                    (text, conf, looped) = (t2, c2, looped_again);
                }
            }
            if looped && trimmed && self.options.retry_on_loop {
                for t in self.options.temperatures.clone() {
                    let (t2, c2, looped_again) =
                        self.decode_window(&samples[s..e], t, &mut timings)?;
                    *timings.entry("fallbacks".into()).or_default() += 1.0;
                    if !looped_again {
                        (text, conf, looped) = (t2, c2, false);
                        break;
                    }
                }
                if looped {
                    *timings.entry("still_looping".into()).or_default() += 1.0;
                }
            }
            if !text.is_empty() {
                confidence += conf;
                segments.push(Segment {
                    start: s as f64 / SAMPLE_RATE as f64,
                    end: e as f64 / SAMPLE_RATE as f64,
                    text,
                });
            }
        }
        let text = segments
            .iter()
            .map(|s| s.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        timings.insert("total".into(), start.elapsed().as_secs_f64() * 1e3);
        Ok(Transcript {
            confidence: if segments.is_empty() {
                0.0
            } else {
                confidence / segments.len() as f32
            },
            text,
            segments,
            language: "en".into(),
            partial: false,
            heard_as: None,
            maybe: None,
            timings_ms: timings,
        })
    }

    fn transcribe_biased(&mut self, samples: &[f32], prompt: &str) -> Result<Transcript> {
        self.with_prompt(prompt, |e| e.transcribe(samples))
    }

    fn likelihoods_biased(&mut self, texts: &[&str], prompt: &str) -> Result<Option<Vec<f32>>> {
        self.with_prompt(prompt, |e| e.likelihoods(texts))
    }

    fn likelihoods(&mut self, texts: &[&str]) -> Result<Option<Vec<f32>>> {
        if self.windows != 1 {
            return Ok(None);
        }
        let letters = |t: &str| -> String {
            t.chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect()
        };
        let said: Vec<String> = texts.iter().map(|t| letters(t)).collect();
        let names: Vec<&str> = self
            .options
            .names
            .iter()
            .filter(|n| {
                let n = letters(n);
                !n.is_empty() && said.iter().any(|s| s.contains(&n))
            })
            .map(String::as_str)
            .collect();
        let prompt = if names.is_empty() {
            self.prompt_tokens()?
        } else {
            // The names before any prompt (a biased hearing's), which
            // keeps the newest words, nearest the reading.
            let with = match self.options.prompt.as_deref() {
                Some(p) if !p.trim().is_empty() => format!("{}. {}", names.join(", "), p.trim()),
                _ => format!("{}.", names.join(", ")),
            };
            self.with_prompt(&with, |e| e.prompt_tokens())?
        };
        let mut seqs = Vec::with_capacity(texts.len());
        for text in texts {
            let enc = self
                .tokenizer
                .encode(format!(" {}", text.trim()), false)
                .map_err(|e| Error::Inference(format!("tokenizing a reading: {e}")))?;
            let mut seq = prompt.clone();
            seq.extend_from_slice(enc.get_ids());
            seq.push(self.special.eot);
            seqs.push(seq);
        }
        let max = self.model.config().max_target_positions;
        let fits: Vec<&Vec<u32>> = seqs.iter().filter(|s| s.len() <= max).collect();
        let Some(first) = fits.first() else {
            return Ok(Some(vec![f32::NEG_INFINITY; texts.len()]));
        };
        // The beginning all share is fed once; what it adds to each is the
        // same, so only what follows it is summed (comparisons between the
        // readings are unchanged).
        let shortest = fits.iter().map(|s| s.len()).min().unwrap_or(0);
        let mut common = prompt.len();
        while common + 1 < shortest && fits.iter().all(|s| s[common] == first[common]) {
            common += 1;
        }
        self.model.reset_tokens();
        let next = self.model.step(&first[..common])?;
        let fed = self.model.save_tokens();
        let mut out = Vec::with_capacity(texts.len());
        for seq in &seqs {
            if seq.len() > max {
                out.push(f32::NEG_INFINITY);
                continue;
            }
            let mut sum = log_probability(&next, seq[common] as usize);
            if seq.len() - 1 > common {
                self.model.restore_tokens(&fed);
                let rows = self.model.step_all(&seq[common..seq.len() - 1])?;
                for (i, row) in rows.iter().enumerate() {
                    sum += log_probability(row, seq[common + 1 + i] as usize);
                }
            }
            out.push(sum);
        }
        Ok(Some(out))
    }

    fn name(&self) -> &str {
        &self.name
    }
}

/// The log-softmax of `logits` at `i` (negative infinity out of range).
fn log_probability(logits: &[f32], i: usize) -> f32 {
    let Some(&x) = logits.get(i) else {
        return f32::NEG_INFINITY;
    };
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    x - max - libm::logf(ainima_kernels::sum_exp_below(logits, max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_encoding_of_silence_is_read_only_whole_and_for_its_key() {
        let cfg: Config = serde_json::from_str(
            r#"{"num_mel_bins":80,"max_source_positions":1500,"d_model":384,"encoder_attention_heads":6,"encoder_layers":4,"vocab_size":51864,"max_target_positions":448,"decoder_attention_heads":6,"decoder_layers":4}"#,
        )
        .unwrap();
        assert_eq!(silence_values(&cfg), 1500 * 384);
        let key = silence_key(b"ab", &cfg);
        let values = [0.5f32, -1.0, 2.0];
        let bytes = silence_to_bytes(&values, &key);
        let check = |b: &[u8], want: Option<&[f32]>, what: &str| {
            assert_eq!(silence_from_bytes(b, &key, 3).as_deref(), want, "{what}");
        };
        check(&bytes, Some(&values), "whole");
        check(&bytes[..bytes.len() - 1], None, "cut short");
        check(&[], None, "empty");
        check(
            &[bytes.as_slice(), &[0; 4]].concat(),
            None,
            "a value too many",
        );
        assert_eq!(silence_from_bytes(&bytes, &key, 2), None, "another count");
        let mut magic = bytes.clone();
        magic[0] ^= 1;
        check(&magic, None, "another format");
        let mut zeros = bytes.clone();
        zeros[SILENCE_HEADER..].fill(0);
        check(&zeros, None, "values lost (a crash)");
        let other = silence_to_bytes(&values, &silence_key(b"ac", &cfg));
        check(&other, None, "other weights");
        let mut wider = cfg.clone();
        wider.d_model = 512;
        let other = silence_to_bytes(&values, &silence_key(b"ab", &wider));
        check(&other, None, "other hyper-parameters");
    }

    #[test]
    fn repetition_is_cut_at_the_first_occurrence() {
        assert_eq!(repetition_cut(&[1, 2, 3, 4]), None);
        assert_eq!(repetition_cut(&[5, 1, 2, 1, 2, 1, 2]), Some((3, 2)));
        assert_eq!(repetition_cut(&[1, 2, 3, 4, 1, 2, 3, 4]), Some((4, 4)));
        assert_eq!(
            repetition_cut(&[7, 7, 7]),
            None,
            "three of a word may be speech"
        );
        assert_eq!(repetition_cut(&[7, 7, 7, 7]), Some((1, 1)));
    }

    #[test]
    fn short_repeats_collapse() {
        assert_eq!(collapse_repeats("Yes, yes"), "Yes");
        assert_eq!(collapse_repeats("9 9"), "9");
        assert_eq!(collapse_repeats("turn on, turn on."), "turn on");
        assert_eq!(collapse_repeats("What time is it?"), "What time is it?");
        assert_eq!(collapse_repeats("no"), "no");
    }

    #[test]
    fn sampling_is_seeded_and_follows_the_temperature() {
        let logits = [0.0f32, 2.0, 1.0, f32::NEG_INFINITY];
        let draw = |t: f32, seed: u64| {
            let mut rng = ainima_audio::room::Rng::new(seed);
            (0..2000)
                .map(|_| sample(&logits, t, &mut rng).0)
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(0.5, 1), draw(0.5, 1), "same seed, same draws");
        let share =
            |v: &[u32], k: u32| v.iter().filter(|&&x| x == k).count() as f64 / v.len() as f64;
        let cold = draw(0.2, 2);
        let hot = draw(2.0, 2);
        assert!(share(&cold, 1) > 0.95, "{}", share(&cold, 1));
        assert!(
            share(&hot, 1) < 0.6 && share(&hot, 0) > 0.15,
            "{}",
            share(&hot, 1)
        );
        assert_eq!(share(&hot, 3), 0.0, "suppressed tokens are never drawn");
    }

    #[test]
    fn argmax_and_probability() {
        let (i, p) = argmax_prob(&[0.0, 2.0, 0.0]);
        assert_eq!(i, 1);
        assert!((p - 0.7870).abs() < 1e-3, "{p}");
    }
}
