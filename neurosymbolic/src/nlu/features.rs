//! What the network sees of a sentence: each word's id, its character
//! n-grams (hashed), its shape, and which slot lists it falls in (the
//! symbolic side's gazetteer matches).

use std::collections::{BTreeMap, HashMap};

use ainima_fallbacks::snips::Example;
use ainima_fallbacks::text;
use serde::{Deserialize, Serialize};

/// The padding word id (never a real word).
pub const PAD: u32 = 0;
/// The id of a word not in the vocabulary.
pub const UNK: u32 = 1;
/// Character n-grams kept per word: the whole word, its first and last
/// 3-, 4- and 5-grams, then the others in order while there is room.
pub const NGRAMS_PER_WORD: usize = 32;
/// The longest slot value the gazetteer matches, in words.
pub const MAX_VALUE_WORDS: usize = 8;
/// Shape features per word: capitalised, all capitals, has a digit, is a
/// number word.
pub const SHAPES: usize = 4;
/// The most words of a sentence the network reads; the rest is cut.
pub const MAX_WORDS: usize = 64;

/// One word of a sentence, with where it is in the text.
#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    /// Normalised (lower case, punctuation trimmed).
    pub word: String,
    /// Byte range in the text.
    pub start: usize,
    /// End of the byte range.
    pub end: usize,
}

/// The words of `text`, as the language core splits them.
pub fn words(text: &str) -> Vec<Word> {
    text::tokens(text)
        .into_iter()
        .take(MAX_WORDS)
        .map(|t| Word {
            word: t.word,
            start: t.start,
            end: t.end,
        })
        .collect()
}

/// The vocabulary, slot lists and tag set a model was trained with: stored
/// beside its weights.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Lexicon {
    /// Word ids from 2 (0 pads, 1 is unknown).
    pub words: Vec<String>,
    /// Intent names, in the order of the intent head's outputs.
    pub intents: Vec<String>,
    /// Slot names, in order; tag `1 + 2 s` is `B-s`, `2 + 2 s` is `I-s`, 0
    /// is outside.
    pub slots: Vec<String>,
    /// For each intent, the slots it was seen with (indices into `slots`).
    pub intent_slots: Vec<Vec<u16>>,
    /// Slot values (normalised words joined by spaces) and the slots each
    /// was seen as, with how often.
    pub gazetteer: BTreeMap<String, BTreeMap<u16, u32>>,
    /// Hash buckets for character n-grams (id 0 pads).
    pub ngram_buckets: u32,
    /// Log-probabilities of tag bigrams in the training sentences, smoothed:
    /// row 0 is the sentence's start, row `1 + p` follows tag `p`
    /// (`(tags + 1) × tags`).
    #[serde(default)]
    pub transitions: Vec<f32>,
    /// How much the transitions count beside the network's scores when
    /// decoding (0: not at all).
    #[serde(default)]
    pub transition_weight: f32,
    #[serde(skip)]
    index: HashMap<String, u32>,
}

/// One sentence as the network reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    /// Word ids.
    pub words: Vec<u32>,
    /// `NGRAMS_PER_WORD` n-gram ids per word, 0 where a word has fewer.
    pub ngrams: Vec<u32>,
    /// `Lexicon::features()` floats per word: gazetteer B and I per slot,
    /// then the shapes.
    pub features: Vec<f32>,
}

/// 64-bit FNV-1a.
fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Number words beyond the values' parsers' ones and tens.
const MORE_NUMBER_WORDS: [&str; 3] = ["hundred", "thousand", "half"];

/// Whether `w` is a number word ("seven", "forty", "hundred").
fn number_word(w: &str) -> bool {
    use ainima_fallbacks::values::{ONES, TENS};
    !w.is_empty() && (ONES.contains(&w) || TENS.contains(&w) || MORE_NUMBER_WORDS.contains(&w))
}

impl Lexicon {
    /// The vocabulary (words seen at least `min_count` times), the intents,
    /// slots and slot lists of `examples`.
    pub fn learn(examples: &[Example], min_count: u32, ngram_buckets: u32) -> Lexicon {
        let mut counts: BTreeMap<String, u32> = BTreeMap::new();
        let mut intents: Vec<String> = Vec::new();
        let mut slots: Vec<String> = Vec::new();
        for e in examples {
            for w in words(&e.text()) {
                *counts.entry(w.word).or_default() += 1;
            }
            if !intents.contains(&e.intent) {
                intents.push(e.intent.clone());
            }
            for (_, s) in &e.chunks {
                if let Some(s) = s
                    && !slots.contains(s)
                {
                    slots.push(s.clone());
                }
            }
        }
        intents.sort();
        slots.sort();
        let mut intent_slots = vec![Vec::new(); intents.len()];
        let mut gazetteer: BTreeMap<String, BTreeMap<u16, u32>> = BTreeMap::new();
        for e in examples {
            let i = intents.binary_search(&e.intent).unwrap_or(0);
            for (name, value) in e.slots() {
                let s = slots.binary_search(&name).unwrap_or(0) as u16;
                if !intent_slots[i].contains(&s) {
                    intent_slots[i].push(s);
                }
                if !value.is_empty() && value.split(' ').count() <= MAX_VALUE_WORDS {
                    *gazetteer.entry(value).or_default().entry(s).or_default() += 1;
                }
            }
        }
        for s in &mut intent_slots {
            s.sort_unstable();
        }
        let words = counts
            .into_iter()
            .filter(|(_, n)| *n >= min_count)
            .map(|(w, _)| w)
            .collect();
        let mut lex = Lexicon {
            words,
            intents,
            slots,
            intent_slots,
            gazetteer,
            ngram_buckets: ngram_buckets.max(2),
            transitions: Vec::new(),
            transition_weight: 0.0,
            index: HashMap::new(),
        };
        lex.reindex();
        lex
    }

    /// Rebuilds the word index (after deserialising).
    pub fn reindex(&mut self) {
        self.index = self
            .words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i as u32 + 2))
            .collect();
    }

    /// Word ids, padding and unknown included.
    pub fn vocab_size(&self) -> usize {
        self.words.len() + 2
    }

    /// Tags: outside, then B and I for each slot.
    pub fn tags(&self) -> usize {
        1 + 2 * self.slots.len()
    }

    /// Floats per word of `Encoded::features`.
    pub fn features(&self) -> usize {
        2 * self.slots.len() + SHAPES
    }

    /// What the network reads of `text`'s words. `exclude` holds slot
    /// values (with their slot) to count once less in the gazetteer: a
    /// training sentence's own values, so that a value seen only there looks
    /// as new as it will in use.
    pub fn encode(&self, text: &str, ws: &[Word], exclude: &[(String, u16)]) -> Encoded {
        let n = ws.len();
        let f = self.features();
        let mut out = Encoded {
            words: Vec::with_capacity(n),
            ngrams: vec![0; n * NGRAMS_PER_WORD],
            features: vec![0.0; n * f],
        };
        for (i, w) in ws.iter().enumerate() {
            out.words
                .push(self.index.get(&w.word).copied().unwrap_or(UNK));
            let grams = &mut out.ngrams[i * NGRAMS_PER_WORD..(i + 1) * NGRAMS_PER_WORD];
            let marked: Vec<char> = std::iter::once('<')
                .chain(w.word.chars())
                .chain(std::iter::once('>'))
                .collect();
            let mut k = 0;
            let mut put = |s: &str| {
                if k < NGRAMS_PER_WORD {
                    grams[k] = 1 + (fnv(s.as_bytes()) % u64::from(self.ngram_buckets - 1)) as u32;
                    k += 1;
                }
            };
            put(&marked.iter().collect::<String>());
            // The ends first: prefixes and suffixes ("ing>") say most.
            for len in 3..=5 {
                if marked.len() > len {
                    put(&marked[..len].iter().collect::<String>());
                    put(&marked[marked.len() - len..].iter().collect::<String>());
                }
            }
            for len in 3..=5 {
                if marked.len() <= len + 1 {
                    continue;
                }
                for win in marked[1..marked.len() - 1].windows(len) {
                    put(&win.iter().collect::<String>());
                }
            }
            let raw = text.get(w.start..w.end).unwrap_or("");
            let letters: Vec<char> = raw.chars().filter(|c| c.is_alphabetic()).collect();
            let shape = &mut out.features[i * f + 2 * self.slots.len()..(i + 1) * f];
            shape[0] = f32::from(u8::from(
                letters.first().is_some_and(|c| c.is_uppercase()) && i > 0,
            ));
            shape[1] = f32::from(u8::from(
                letters.len() > 1 && letters.iter().all(|c| c.is_uppercase()),
            ));
            shape[2] = f32::from(u8::from(raw.chars().any(|c| c.is_ascii_digit())));
            let digits = !w.word.is_empty()
                && w.word
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
                && w.word.chars().any(|c| c.is_ascii_digit());
            shape[3] = f32::from(u8::from(number_word(&w.word) || digits));
        }
        for start in 0..n {
            let mut key = String::new();
            for (end, w) in ws
                .iter()
                .enumerate()
                .take(n.min(start + MAX_VALUE_WORDS))
                .skip(start)
            {
                if end > start {
                    key.push(' ');
                }
                key.push_str(&w.word);
                let Some(seen) = self.gazetteer.get(&key) else {
                    continue;
                };
                for (&s, &count) in seen {
                    let own = exclude.iter().filter(|(v, x)| *x == s && *v == key).count() as u32;
                    if count <= own {
                        continue;
                    }
                    let s = usize::from(s);
                    out.features[start * f + 2 * s] = 1.0;
                    for j in start + 1..=end {
                        out.features[j * f + 2 * s + 1] = 1.0;
                    }
                }
            }
        }
        out
    }

    /// The intent index and per-word tags of a labelled example, with its
    /// words; `None` when it names an intent or slot the lexicon lacks.
    pub fn label(&self, e: &Example) -> Option<(usize, Vec<Word>, Vec<usize>)> {
        let intent = self.intents.binary_search(&e.intent).ok()?;
        let text = e.text();
        let ws = words(&text);
        let mut tags = vec![0; ws.len()];
        let mut offset = 0;
        for (chunk, slot) in &e.chunks {
            let (from, to) = (offset, offset + chunk.len());
            offset = to;
            let Some(slot) = slot else { continue };
            let s = self.slots.binary_search(slot).ok()?;
            let mut first = true;
            for (i, w) in ws.iter().enumerate() {
                // Where the word's letters begin: a quote or a stop before
                // them is not the word ("\"Abbey", "L.aJoseph").
                let raw = text.get(w.start..w.end).unwrap_or("");
                let at = w.start + raw.find(char::is_alphanumeric).unwrap_or(0);
                if at >= from && at < to {
                    tags[i] = if first { 1 + 2 * s } else { 2 + 2 * s };
                    first = false;
                }
            }
        }
        Some((intent, ws, tags))
    }

    /// Learns the tag bigrams of labelled sentences (add-`k` smoothed).
    pub fn learn_transitions(&mut self, sentences: &[&[usize]], k: f32) {
        let tags = self.tags();
        let mut counts = vec![k; (tags + 1) * tags];
        for tags_of in sentences {
            let mut prev = 0;
            for &t in *tags_of {
                counts[prev * tags + t] += 1.0;
                prev = 1 + t;
            }
        }
        for row in counts.chunks_mut(tags) {
            let total: f32 = row.iter().sum();
            for c in row.iter_mut() {
                *c = libm::logf(*c / total);
            }
        }
        self.transitions = counts;
    }

    /// The slot values of `e` as the gazetteer keys them.
    pub fn own_values(&self, e: &Example) -> Vec<(String, u16)> {
        e.slots()
            .into_iter()
            .filter_map(|(name, v)| {
                let s = self.slots.binary_search(&name).ok()? as u16;
                Some((v, s))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nlu::testing::example;

    #[test]
    fn a_training_sentence_does_not_see_its_own_unique_value_in_the_gazetteer() {
        let a = example(
            "Play",
            &[
                ("play ", None),
                ("Abbey Road", Some("album")),
                (" now", None),
            ],
        );
        let b = example("Play", &[("play ", None), ("Help", Some("album"))]);
        let lex = Lexicon::learn(&[a.clone(), b], 1, 64);
        let text = a.text();
        let ws = words(&text);
        let f = lex.features();
        let with = lex.encode(&text, &ws, &[]);
        assert_eq!(with.features[f], 1.0, "B-album on abbey");
        assert_eq!(with.features[2 * f + 1], 1.0, "I-album on road");
        let own = lex.own_values(&a);
        let without = lex.encode(&text, &ws, &own);
        assert_eq!(without.features[f], 0.0);
        let (intent, _, tags) = lex.label(&a).unwrap();
        assert_eq!(intent, 0);
        assert_eq!(tags, vec![0, 1, 2, 0]);
        // Capitalised, not the first word.
        assert_eq!(with.features[f + 2], 1.0);
        assert_eq!(with.features[2], 0.0);
    }
}
