//! The neural half of understanding: a joint intent and slot model,
//! trained from scratch on annotated sentences (SNIPS's format), run with
//! burn on its pure-Rust CPU backend (flex).
//!
//! The network reads words, their character n-grams, their shapes and the
//! symbolic side's slot-list matches ([`features`]); it proposes an intent
//! and per-word tag scores ([`net`]); the host decodes the tags to valid
//! spans using only the intent's slots ([`decode`]).
//!
//! A model file is a header (magic, version, JSON with the sizes and the
//! lexicon) followed by the weights in burn's burnpack format.

pub mod decode;
pub mod features;
pub mod net;
pub mod train;

use std::collections::BTreeMap;

use ainima_fallbacks::snips::{self, Example};
use burn::module::Module;
use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use features::{Encoded, Lexicon, NGRAMS_PER_WORD};
use net::{Batch, Net, NetConfig};

pub use train::{Progress, TrainConfig, train};

/// The first bytes of a model file.
pub const MAGIC: &[u8; 12] = b"AINIMA-NLU\0\0";
/// The model file format's version.
pub const VERSION: u32 = 1;
/// The largest header a model file may have (SNIPS's is about 0.5 MB).
const MAX_HEADER: u64 = 8 << 20;

/// What went wrong with a model; each variant says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file is not an Ainima NLU model, or is damaged: train it again
    /// with `ainima nlu train`.
    #[error("not a usable NLU model: {0}")]
    BadModel(String),
    /// There is nothing to learn from: give annotated sentences.
    #[error("no training sentences: {0}")]
    NoData(String),
}

/// One slot the model found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlotValue {
    /// The slot's name.
    pub name: String,
    /// Its words, normalised.
    pub value: String,
    /// The text as written.
    pub text: String,
    /// Byte range in the sentence.
    pub start: usize,
    /// End of the byte range.
    pub end: usize,
}

/// What the model makes of a sentence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Parse {
    /// The intent.
    pub intent: String,
    /// The intent's probability.
    pub confidence: f32,
    /// The slots, in order.
    pub slots: Vec<SlotValue>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    config: NetConfig,
    lexicon: Lexicon,
}

/// A trained joint intent and slot model, ready to parse.
#[derive(Debug, Clone)]
pub struct Nlu {
    config: NetConfig,
    lexicon: Lexicon,
    net: Net,
    device: Device,
}

/// Pads encoded sentences into a batch on `device`.
pub(crate) fn batch(items: &[&Encoded], features: usize, device: &Device) -> Batch {
    let n = items.len();
    let t = items
        .iter()
        .map(|e| e.words.len())
        .max()
        .unwrap_or(0)
        .max(1);
    let k = NGRAMS_PER_WORD;
    let mut words = vec![0i64; n * t];
    let mut ngrams = vec![0i64; n * t * k];
    let mut ngram_mask = vec![0f32; n * t * k];
    let mut feats = vec![0f32; n * t * features];
    let mut mask = vec![0f32; n * t];
    let mut real = Vec::new();
    let mut sentence_of = Vec::new();
    for (b, e) in items.iter().enumerate() {
        for (i, &w) in e.words.iter().enumerate() {
            let at = b * t + i;
            words[at] = i64::from(w);
            mask[at] = 1.0;
            real.push(at as i64);
            sentence_of.push(b as i64);
            for j in 0..k {
                let g = e.ngrams[i * k + j];
                ngrams[at * k + j] = i64::from(g);
                ngram_mask[at * k + j] = f32::from(u8::from(g != 0));
            }
            feats[at * features..(at + 1) * features]
                .copy_from_slice(&e.features[i * features..(i + 1) * features]);
        }
    }
    let int2 = |v: Vec<i64>, shape: [usize; 2]| {
        Tensor::<2, Int>::from_data(TensorData::new(v, shape), device)
    };
    let real_n = real.len();
    Batch {
        words: int2(words, [n, t]),
        ngrams: int2(ngrams, [n, t * k]),
        ngram_mask: Tensor::from_data(TensorData::new(ngram_mask, [n, t, k, 1]), device),
        features: Tensor::from_data(TensorData::new(feats, [n, t, features]), device),
        mask: Tensor::from_data(TensorData::new(mask, [n, t, 1]), device),
        real: Tensor::<1, Int>::from_data(TensorData::new(real, [real_n]), device),
        sentence_of: Tensor::<1, Int>::from_data(TensorData::new(sentence_of, [real_n]), device),
    }
}

fn floats<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap_or_default()
}

impl Nlu {
    pub(crate) fn from_parts(config: NetConfig, lexicon: Lexicon, net: Net, device: Device) -> Nlu {
        Nlu {
            config,
            lexicon,
            net: net.valid(),
            device,
        }
    }

    /// The intents, slots and vocabulary the model knows.
    pub fn lexicon(&self) -> &Lexicon {
        &self.lexicon
    }

    /// Sets how much tag bigrams count in decoding.
    pub fn set_transition_weight(&mut self, weight: f32) {
        self.lexicon.transition_weight = weight;
    }

    /// The network's sizes.
    pub fn config(&self) -> &NetConfig {
        &self.config
    }

    /// Parameters in the network.
    pub fn parameters(&self) -> usize {
        self.net.num_params()
    }

    /// Parses many sentences at once (faster than one by one).
    pub fn parse_many(&self, texts: &[&str]) -> Vec<Parse> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(64) {
            let words: Vec<Vec<features::Word>> =
                chunk.iter().map(|t| features::words(t)).collect();
            let enc: Vec<Encoded> = chunk
                .iter()
                .zip(&words)
                .map(|(t, w)| self.lexicon.encode(t, w, &[]))
                .collect();
            let refs: Vec<&Encoded> = enc.iter().collect();
            let b = batch(&refs, self.lexicon.features(), &self.device);
            let (intent, slot) = self.net.forward(&b);
            let intents = self.lexicon.intents.len();
            let tags = self.lexicon.tags();
            let ip = floats(softmax(intent, 1));
            let sp = floats(log_softmax(slot, 1));
            let mut row = 0;
            for (k, text) in chunk.iter().enumerate() {
                let p = &ip[k * intents..(k + 1) * intents];
                let (best, conf) = p
                    .iter()
                    .enumerate()
                    .fold((0, f32::MIN), |a, (i, &v)| if v > a.1 { (i, v) } else { a });
                let n = words[k].len();
                let em = &sp[row * tags..(row + n) * tags];
                row += n;
                let allowed = &self.lexicon.intent_slots[best];
                let path = decode::viterbi(
                    em,
                    tags,
                    &|s| allowed.binary_search(&(s as u16)).is_ok(),
                    &self.lexicon.transitions,
                    self.lexicon.transition_weight,
                );
                let ws = &words[k];
                let slots = decode::spans(&path)
                    .into_iter()
                    .map(|(s, a, b)| {
                        let (start, end) = (ws[a].start, ws[b - 1].end);
                        SlotValue {
                            name: self.lexicon.slots[s].clone(),
                            value: ws[a..b]
                                .iter()
                                .map(|w| w.word.as_str())
                                .collect::<Vec<_>>()
                                .join(" "),
                            text: text.get(start..end).unwrap_or("").to_string(),
                            start,
                            end,
                        }
                    })
                    .collect();
                out.push(Parse {
                    intent: self.lexicon.intents[best].clone(),
                    confidence: conf,
                    slots,
                });
            }
        }
        out
    }

    /// Parses one sentence.
    pub fn parse(&self, text: &str) -> Parse {
        self.parse_many(&[text]).remove(0)
    }

    /// The model as a file's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        let header = serde_json::to_vec(&Header {
            config: self.config.clone(),
            lexicon: self.lexicon.clone(),
        })
        .map_err(|e| Error::BadModel(e.to_string()))?;
        crate::model_file::write(MAGIC, VERSION, &header, &self.net).map_err(Error::BadModel)
    }

    /// Reads a model file's bytes, on burn's CPU backend.
    pub fn from_bytes(bytes: &[u8]) -> Result<Nlu, Error> {
        Nlu::from_bytes_on(bytes, &Device::flex())
    }

    /// Reads a model file's bytes onto `device`.
    pub fn from_bytes_on(bytes: &[u8], device: &Device) -> Result<Nlu, Error> {
        let (header, weights) =
            crate::model_file::read(bytes, MAGIC, VERSION, MAX_HEADER).map_err(Error::BadModel)?;
        let mut h: Header =
            serde_json::from_slice(header).map_err(|e| Error::BadModel(format!("header: {e}")))?;
        check(&h.config, &h.lexicon)?;
        h.lexicon.reindex();
        let net = crate::model_file::load(weights, || Net::new(&h.config, device))
            .map_err(Error::BadModel)?;
        Ok(Nlu::from_parts(h.config, h.lexicon, net, device.clone()))
    }
}

/// Sizes a header may give: consistent with its lexicon and small enough
/// to allocate.
fn check(c: &NetConfig, l: &Lexicon) -> Result<(), Error> {
    let bad = |s: String| Err(Error::BadModel(s));
    if c.vocab != l.vocab_size() || c.tags != l.tags() || c.features != l.features() {
        return bad("the sizes do not match the lexicon".into());
    }
    if c.intents != l.intents.len() || l.intent_slots.len() != l.intents.len() || c.intents == 0 {
        return bad("the intents do not match the lexicon".into());
    }
    if c.ngram_buckets != l.ngram_buckets as usize || c.ngram_buckets < 2 {
        return bad("the n-gram buckets do not match".into());
    }
    if !l.transitions.is_empty() && l.transitions.len() != (l.tags() + 1) * l.tags()
        || !l.transition_weight.is_finite()
        || l.transitions.iter().any(|x| x.is_nan())
    {
        return bad("the tag transitions do not match the tags".into());
    }
    let slots = l.slots.len();
    if l.intent_slots
        .iter()
        .any(|v| v.windows(2).any(|w| w[0] >= w[1]))
    {
        return bad("an intent's slots are not in order".into());
    }
    if l.intent_slots
        .iter()
        .flatten()
        .any(|&s| usize::from(s) >= slots)
        || l.gazetteer
            .values()
            .flat_map(|m| m.keys())
            .any(|&s| usize::from(s) >= slots)
    {
        return bad("a slot index is out of range".into());
    }
    let width = [c.shape.d_word, c.shape.d_ngram, c.shape.d_model];
    if width.iter().any(|&w| w == 0 || w > 4096)
        || c.vocab > 2_000_000
        || c.ngram_buckets > 2_000_000
        || c.shape.dilations.is_empty()
        || c.shape.dilations.len() > 32
        || c.shape.dilations.iter().any(|&d| d == 0 || d > 64)
        || c.shape.attention_heads > 64
        || (c.shape.attention_heads > 0 && !c.shape.d_model.is_multiple_of(c.shape.attention_heads))
        || slots > 512
        || c.intents > 512
        || !(0.0..1.0).contains(&c.shape.dropout)
    {
        return bad("sizes out of range".into());
    }
    Ok(())
}

/// Scores of a model on annotated sentences.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Sentences scored.
    pub utterances: usize,
    /// Share whose intent is right.
    pub intent_accuracy: f64,
    /// Slot F1 (a slot counts when its name and exact words are right).
    pub slot_f1: f64,
    /// Slot precision.
    pub slot_precision: f64,
    /// Slot recall.
    pub slot_recall: f64,
    /// Share with the intent and every slot right.
    pub sentence_accuracy: f64,
    /// Per intent: (sentences, intent right).
    pub per_intent: BTreeMap<String, (usize, usize)>,
    /// The sentences not wholly right: (text, expected, got).
    pub errors: Vec<(String, String, String)>,
}

fn frame(intent: &str, slots: &[(String, String)]) -> String {
    let s: Vec<String> = slots.iter().map(|(n, v)| format!("{n}={v}")).collect();
    format!("{intent} {}", s.join(" "))
}

/// Scores `nlu` on `test`, slots compared as SNIPS's evaluation does (name
/// and normalised words).
pub fn evaluate(nlu: &Nlu, test: &[Example]) -> Report {
    let texts: Vec<String> = test.iter().map(Example::text).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let got: Vec<(String, Vec<(String, String)>)> = nlu
        .parse_many(&refs)
        .into_iter()
        .map(|p| {
            (
                p.intent,
                p.slots.into_iter().map(|s| (s.name, s.text)).collect(),
            )
        })
        .collect();
    score(test, &got)
}

/// Scores answers to `test`, each an intent and its slots as (name, text as
/// written): a slot counts when its name and normalised words are right.
/// The same scorer for our model and a peer's output.
pub fn score(test: &[Example], got: &[(String, Vec<(String, String)>)]) -> Report {
    let (mut right, mut whole) = (0usize, 0usize);
    let (mut hit, mut pred, mut gold_n) = (0usize, 0usize, 0usize);
    let mut per_intent: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut errors = Vec::new();
    let none = (String::new(), Vec::new());
    for (k, x) in test.iter().enumerate() {
        let gold = x.slots();
        let (intent, slots) = got.get(k).unwrap_or(&none);
        let got: Vec<(String, String)> = slots
            .iter()
            .map(|(n, t)| (n.clone(), ainima_fallbacks::text::words(t).join(" ")))
            .collect();
        let hits = snips::slot_hits(&gold, &got);
        hit += hits;
        pred += got.len();
        gold_n += gold.len();
        let e = per_intent.entry(x.intent.clone()).or_default();
        e.0 += 1;
        let intent_ok = *intent == x.intent;
        if intent_ok {
            right += 1;
            e.1 += 1;
        }
        if intent_ok && hits == gold.len() && hits == got.len() {
            whole += 1;
        } else {
            errors.push((x.text(), frame(&x.intent, &gold), frame(intent, &got)));
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let (sp, sr) = (ratio(hit, pred), ratio(hit, gold_n));
    Report {
        utterances: test.len(),
        intent_accuracy: ratio(right, test.len()),
        slot_f1: snips::f1(sp, sr),
        slot_precision: sp,
        slot_recall: sr,
        sentence_accuracy: ratio(whole, test.len()),
        per_intent,
        errors,
    }
}

/// Helpers for the module's tests.
#[cfg(test)]
pub(crate) mod testing {
    use ainima_fallbacks::snips::Example;

    /// An annotated sentence from its pieces.
    pub(crate) fn example(intent: &str, chunks: &[(&str, Option<&str>)]) -> Example {
        Example {
            intent: intent.into(),
            chunks: chunks
                .iter()
                .map(|(t, s)| ((*t).into(), s.map(Into::into)))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::example;
    use super::*;

    fn tiny() -> Vec<Example> {
        let mut out = Vec::new();
        for city in ["paris", "london", "rome", "berlin", "oslo", "madrid"] {
            out.push(example(
                "GetWeather",
                &[("what is the weather in ", None), (city, Some("city"))],
            ));
            out.push(example(
                "GetWeather",
                &[
                    ("will it rain in ", None),
                    (city, Some("city")),
                    (" tomorrow", None),
                ],
            ));
        }
        for song in ["yellow", "hello", "imagine", "help", "angie", "layla"] {
            out.push(example(
                "PlayMusic",
                &[("play ", None), (song, Some("track"))],
            ));
            out.push(example(
                "PlayMusic",
                &[("put on the song ", None), (song, Some("track"))],
            ));
        }
        out
    }

    fn trained(seed: u64) -> Nlu {
        let cfg = TrainConfig {
            seed,
            epochs: 2,
            batch: 8,
            dev_share: 0.0,
            min_count: 1,
            ngram_buckets: 256,
            ..TrainConfig::default()
        };
        train(&tiny(), &cfg, &mut |_| {}).unwrap()
    }

    #[test]
    fn the_same_seed_gives_the_same_model_bytes() {
        assert_eq!(
            trained(7).to_bytes().unwrap(),
            trained(7).to_bytes().unwrap()
        );
        assert_ne!(
            trained(7).to_bytes().unwrap(),
            trained(8).to_bytes().unwrap()
        );
    }

    #[test]
    fn a_model_read_back_parses_as_it_did() {
        let nlu = trained(7);
        let again = Nlu::from_bytes(&nlu.to_bytes().unwrap()).unwrap();
        for text in ["what is the weather in oslo", "play imagine", "", "¿¡ 12 %"] {
            assert_eq!(nlu.parse(text), again.parse(text), "{text}");
        }
    }

    /// A model small enough to flip every byte of: the tiny data, narrow.
    fn narrow() -> Nlu {
        let cfg = TrainConfig {
            seed: 3,
            epochs: 1,
            batch: 8,
            dev_share: 0.0,
            min_count: 1,
            ngram_buckets: 16,
            shape: net::Shape {
                d_word: 4,
                d_ngram: 4,
                d_model: 4,
                dilations: vec![1],
                dropout: 0.1,
                attention_heads: 0,
            },
            ..TrainConfig::default()
        };
        train(&tiny(), &cfg, &mut |_| {}).unwrap()
    }

    /// Regression (review, 2026-12-05): weights stored as another float type
    /// loaded, then the first parse panicked on a dtype mismatch.
    #[test]
    fn weights_of_another_float_type_are_refused() {
        struct ToF64;
        impl burn::module::ModuleMapper for ToF64 {
            fn map_float<const D: usize>(
                &mut self,
                p: burn::module::Param<Tensor<D>>,
            ) -> burn::module::Param<Tensor<D>> {
                p.map(|t| t.cast(burn::tensor::DType::F64))
            }
        }
        let nlu = narrow();
        let good = nlu.to_bytes().unwrap();
        let header_end = 24 + u64::from_le_bytes(good[16..24].try_into().unwrap()) as usize;
        let weights = nlu
            .net
            .clone()
            .map(&mut ToF64)
            .into_record()
            .into_bytes()
            .unwrap();
        let mut bytes = good[..header_end].to_vec();
        bytes.extend_from_slice(&weights);
        let err = Nlu::from_bytes(&bytes).unwrap_err().to_string();
        assert!(err.contains("32-bit"), "{err}");
    }

    /// Regression (fuzz target `nlu_model`, 2026-12-05): a pack whose
    /// weights were stored as 32-bit integers made burn's loader panic
    /// ("Expected float dtype, got I32"); caught, but the panic hook printed
    /// an internal error and the fuzzer stopped on it.
    #[test]
    fn weights_stored_as_integers_are_refused_before_burn_loads_them() {
        let good = narrow().to_bytes().unwrap();
        let header_end = 24 + u64::from_le_bytes(good[16..24].try_into().unwrap()) as usize;
        let pack = burn_pack::Reader::from_bytes(burn::tensor::Bytes::from_bytes_vec(
            good[header_end..].to_vec(),
        ))
        .unwrap()
        .into_tensors()
        .unwrap();
        let retyped: Vec<burn_pack::Tensor> = pack
            .into_iter()
            .enumerate()
            .map(|(i, t)| {
                let (name, dtype, shape, id, bytes) = t.into_parts().unwrap();
                let dtype = if i == 0 {
                    burn::tensor::DType::I32
                } else {
                    dtype
                };
                burn_pack::Tensor::new(name, dtype, shape, id, bytes)
            })
            .collect();
        let mut bytes = good[..header_end].to_vec();
        bytes.extend_from_slice(&burn_pack::Writer::new(retyped).into_bytes().unwrap());
        // Refused from the pack's table: burn's loader (whose panic the
        // old code caught as "the reader failed") never runs.
        let err = Nlu::from_bytes(&bytes).unwrap_err().to_string();
        assert!(
            err.contains("I32") && err.contains("32-bit floats"),
            "{err}"
        );
    }

    #[test]
    fn damaged_model_files_are_refused_without_a_panic() {
        let good = narrow().to_bytes().unwrap();
        // The fuzz target starts from this file (fuzz/corpus is git-ignored).
        let corpus =
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/nlu_model");
        if std::fs::create_dir_all(&corpus).is_ok() {
            let _ = std::fs::write(corpus.join("narrow.nlu"), &good);
        }
        let header_end = 24 + u64::from_le_bytes(good[16..24].try_into().unwrap()) as usize;
        let mut cases: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"AINIMA-NLU".to_vec(),
            good[..30].to_vec(),
            good[..header_end].to_vec(),
            good[..good.len() - 1].to_vec(),
        ];
        let mut long = good.clone();
        long[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
        cases.push(long);
        let mut version = good.clone();
        version[12] = 9;
        cases.push(version);
        // Headers whose sizes disagree with the lexicon, or are too big.
        let text = String::from_utf8(good[24..header_end].to_vec()).unwrap();
        for (from, to) in [
            ("\"d_model\":4", "\"d_model\":100000"),
            ("\"tags\":", "\"tags\":1"),
        ] {
            let header = text.replacen(from, to, 1);
            assert_ne!(header, text, "{from}");
            let mut sized = good[..16].to_vec();
            sized.extend_from_slice(&(header.len() as u64).to_le_bytes());
            sized.extend_from_slice(header.as_bytes());
            sized.extend_from_slice(&good[header_end..]);
            cases.push(sized);
        }
        for (i, bytes) in cases.iter().enumerate() {
            assert!(Nlu::from_bytes(bytes).is_err(), "case {i} loaded");
        }
        // Every byte flipped in turn: refused or loaded, never a panic; what
        // loads parses.
        let mut loaded = 0;
        for at in 0..good.len() {
            let mut bad = good.clone();
            bad[at] ^= 0x5a;
            if let Ok(nlu) = Nlu::from_bytes(&bad) {
                let _ = nlu.parse("play help in paris");
                loaded += 1;
            }
        }
        assert!(loaded < good.len(), "no flip was refused");
    }
}
