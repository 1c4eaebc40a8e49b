//! Learning templates from annotated examples in the SNIPS NLU benchmark's
//! format, the way Snips NLU's deterministic parser did: each example
//! becomes a template with its slot values replaced by placeholders, and
//! the values seen for a slot become its list. To generalise beyond the
//! exact sentences, a slot whose values rarely repeat (names, titles) is
//! open: the template is also learned with a wildcard there, at a cost, so
//! an unseen title still fits while a listed value is preferred.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use crate::catalog::{Catalog, List, ListKind};
use crate::error::{Error, Origin};
use crate::text;

/// One annotated utterance.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// The intent.
    pub intent: String,
    /// Pieces of text, each with its slot name if it is a slot value.
    pub chunks: Vec<(String, Option<String>)>,
}

impl Example {
    /// The whole utterance.
    pub fn text(&self) -> String {
        self.chunks.iter().map(|(t, _)| t.as_str()).collect()
    }

    /// The slots as (name, normalised words).
    pub fn slots(&self) -> Vec<(String, String)> {
        self.chunks
            .iter()
            .filter_map(|(t, s)| s.as_ref().map(|s| (s.clone(), text::words(t).join(" "))))
            .collect()
    }
}

#[derive(Deserialize)]
struct RawExample {
    data: Vec<RawChunk>,
}

#[derive(Deserialize)]
struct RawChunk {
    text: String,
    entity: Option<String>,
    slot_name: Option<String>,
}

/// Reads one SNIPS file: UTF-8, or Latin-1 where it is not valid UTF-8 (as
/// `train_PlayMusic_full.json` is).
pub fn read_file(path: &Path) -> Result<Vec<Example>, Error> {
    let bytes = std::fs::read(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let src = match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => e.into_bytes().iter().map(|&b| char::from(b)).collect(),
    };
    let raw: BTreeMap<String, Vec<RawExample>> =
        serde_json::from_str(&src).map_err(|e| Error::Examples {
            path: path.to_path_buf(),
            message: format!("line {} column {}: {e}", e.line(), e.column()),
        })?;
    Ok(raw
        .into_iter()
        .flat_map(|(intent, examples)| {
            examples.into_iter().map(move |x| Example {
                intent: intent.clone(),
                chunks: x
                    .data
                    .into_iter()
                    .map(|c| (c.text, c.slot_name.or(c.entity)))
                    .collect(),
            })
        })
        .collect())
}

/// Reads every `{prefix}*.json` file of a folder, in name order.
pub fn read_dir(dir: &Path, prefix: &str) -> Result<Vec<Example>, Error> {
    let paths = crate::files_in(dir, |p| {
        p.extension().is_some_and(|e| e == "json")
            && p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
    })?;
    if paths.is_empty() {
        return Err(Error::Examples {
            path: dir.to_path_buf(),
            message: format!("no {prefix}*.json files here"),
        });
    }
    let mut out = Vec::new();
    for p in paths {
        out.extend(read_file(&p)?);
    }
    Ok(out)
}

/// How patterns are learned.
#[derive(Debug, Clone)]
pub struct LearnConfig {
    /// A slot is open (also learned as a wildcard) when fewer than this
    /// share of its occurrences repeat an earlier value.
    pub open_below_repeat: f32,
    /// Longest wildcard, in words, an open slot takes.
    pub max_open_words: usize,
}

impl Default for LearnConfig {
    fn default() -> LearnConfig {
        LearnConfig {
            open_below_repeat: 0.5,
            max_open_words: 8,
        }
    }
}

/// The list name of slot `slot`'s open (wildcard) form.
pub fn open_list(slot: &str) -> String {
    format!("{slot}.any")
}

fn literal(s: &str) -> String {
    s.chars()
        .map(|c| if "()[]{}<>|".contains(c) { ' ' } else { c })
        .collect()
}

/// Learns a catalog from examples: one template per distinct example,
/// slot lists from the values seen, and wildcard variants for open slots.
pub fn learn(examples: &[Example], config: &LearnConfig) -> Catalog {
    let file: Arc<str> = Arc::from("<learned>");
    let mut values: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for x in examples {
        for (t, s) in &x.chunks {
            if let Some(s) = s {
                let w = text::words(t).join(" ");
                if !w.is_empty() {
                    values.entry(s.clone()).or_default().insert(w);
                    *counts.entry(s.clone()).or_default() += 1;
                }
            }
        }
    }
    let open: BTreeSet<String> = values
        .iter()
        .filter(|(s, v)| {
            let n = counts[*s] as f32;
            let repeats = (n - v.len() as f32) / n;
            repeats < config.open_below_repeat
        })
        .map(|(s, _)| s.clone())
        .collect();
    let mut catalog = Catalog::new();
    for (slot, vals) in &values {
        let origin = Origin {
            file: file.clone(),
            line: 0,
            column: 0,
        };
        catalog.lists.insert(
            slot.clone(),
            List {
                kind: ListKind::Values(vals.iter().map(|v| (v.clone(), v.clone())).collect()),
                fuzzy: false,
                origin: origin.clone(),
            },
        );
        if open.contains(slot) {
            catalog.lists.insert(
                open_list(slot),
                List {
                    kind: ListKind::Wildcard,
                    fuzzy: false,
                    origin,
                },
            );
        }
    }
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    for (i, x) in examples.iter().enumerate() {
        let mut exact = String::new();
        let mut general = String::new();
        let mut any_open = false;
        let mut empty_slot = false;
        for (t, s) in &x.chunks {
            match s {
                Some(s) => {
                    if text::words(t).is_empty() {
                        empty_slot = true;
                    }
                    exact.push_str(&format!(" {{{s}}} "));
                    if open.contains(s) {
                        any_open = true;
                        general.push_str(&format!(" {{{}:{s}}} ", open_list(s)));
                    } else {
                        general.push_str(&format!(" {{{s}}} "));
                    }
                }
                None => {
                    exact.push_str(&literal(t));
                    general.push_str(&literal(t));
                }
            }
        }
        if empty_slot {
            continue;
        }
        let origin = Origin {
            file: file.clone(),
            line: i + 1,
            column: 1,
        };
        for t in [Some(exact), any_open.then_some(general)]
            .into_iter()
            .flatten()
        {
            let key = (x.intent.clone(), text::words(&t).join(" "));
            if text::words(&t).is_empty() && !t.contains('{') || !seen.insert(key) {
                continue;
            }
            // A template that fails to parse (none should) is skipped, not fatal.
            let _ = catalog.add_template(&x.intent, &t, origin.clone());
        }
    }
    prune(&mut catalog, examples);
    catalog
}

/// Drops every wildcard template that also fits an example of another
/// intent: such a pattern is too loose to be trusted.
fn prune(catalog: &mut Catalog, examples: &[Example]) {
    let Ok(matcher) = crate::Matcher::new(catalog) else {
        return;
    };
    let ctx = crate::Context::default();
    let mut loose: BTreeSet<(String, usize)> = BTreeSet::new();
    for x in examples {
        for (intent, index, _) in matcher.fitting_templates(&x.text(), &ctx) {
            if intent != x.intent {
                loose.insert((intent.to_string(), index));
            }
        }
    }
    for (name, intent) in catalog.intents.iter_mut() {
        let mut i = 0;
        intent.templates.retain(|t| {
            let keep = !(loose.contains(&(name.clone(), i)) && t.source.contains(".any:"));
            i += 1;
            keep
        });
    }
}

/// Results of [`evaluate`], as fractions.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// Utterances evaluated.
    pub utterances: usize,
    /// Templates learned.
    pub templates: usize,
    /// Share of utterances whose intent is right (unanswered ones count as
    /// wrong).
    pub intent_accuracy: f64,
    /// Share of utterances given an intent.
    pub answered: f64,
    /// Share of the answered whose intent is right.
    pub precision: f64,
    /// Macro-averaged recall over intents (right answers over utterances).
    pub recall: f64,
    /// Slot F1 over all utterances, a slot counting when its name and exact
    /// words are right.
    pub slot_f1: f64,
    /// Slot precision.
    pub slot_precision: f64,
    /// Slot recall.
    pub slot_recall: f64,
    /// Slot F1 over the answered utterances only.
    pub slot_f1_answered: f64,
    /// Per intent: (utterances, answered, right).
    pub per_intent: BTreeMap<String, (usize, usize, usize)>,
    /// The confidence an answer needs.
    pub min_confidence: f32,
    /// The wrong answers, for inspection: (text, expected, got).
    pub errors: Vec<(String, String, String)>,
}

/// The harmonic mean of precision `p` and recall `r` (0 when both are).
pub fn f1(p: f64, r: f64) -> f64 {
    if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    }
}

/// How many of the slots `got` are among `gold` (name and words), each gold
/// slot matched at most once.
pub fn slot_hits(gold: &[(String, String)], got: &[(String, String)]) -> usize {
    let mut unmatched = gold.to_vec();
    let mut hits = 0;
    for s in got {
        if let Some(i) = unmatched.iter().position(|g| g == s) {
            unmatched.remove(i);
            hits += 1;
        }
    }
    hits
}

/// Learns from `train`, then interprets each of `test`: an utterance is
/// answered when the best parse's confidence is at least `min_confidence`.
pub fn evaluate(
    train: &[Example],
    test: &[Example],
    config: &LearnConfig,
    min_confidence: f32,
) -> Result<Report, Error> {
    let catalog = learn(train, config);
    let matcher = crate::Matcher::new(&catalog)?;
    let ctx = crate::Context::default();
    let (mut answered, mut right) = (0usize, 0usize);
    let (mut slot_right, mut slot_pred, mut slot_gold) = (0usize, 0usize, 0usize);
    let (mut a_right, mut a_pred, mut a_gold) = (0usize, 0usize, 0usize);
    let mut per_intent: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    let mut errors = Vec::new();
    for x in test {
        let text = x.text();
        let gold = x.slots();
        slot_gold += gold.len();
        let e = per_intent.entry(x.intent.clone()).or_default();
        e.0 += 1;
        let Some(p) = matcher
            .parse(&text, &ctx)
            .filter(|p| p.confidence >= min_confidence)
        else {
            continue;
        };
        answered += 1;
        e.1 += 1;
        if p.intent == x.intent {
            right += 1;
            e.2 += 1;
        } else {
            errors.push((
                text.clone(),
                x.intent.clone(),
                format!("{} via {:?}", p.intent, p.template),
            ));
        }
        let pred: Vec<(String, String)> = p
            .slots
            .iter()
            .map(|s| (s.name.clone(), text::words(&s.text).join(" ")))
            .collect();
        let hits = slot_hits(&gold, &pred);
        slot_right += hits;
        slot_pred += pred.len();
        a_right += hits;
        a_pred += pred.len();
        a_gold += gold.len();
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let (sp, sr) = (ratio(slot_right, slot_pred), ratio(slot_right, slot_gold));
    let recall = per_intent
        .values()
        .map(|&(n, _, r)| ratio(r, n))
        .sum::<f64>()
        / per_intent.len().max(1) as f64;
    Ok(Report {
        utterances: test.len(),
        templates: matcher.template_count(),
        intent_accuracy: ratio(right, test.len()),
        answered: ratio(answered, test.len()),
        precision: ratio(right, answered),
        recall,
        slot_f1: f1(sp, sr),
        slot_precision: sp,
        slot_recall: sr,
        slot_f1_answered: f1(ratio(a_right, a_pred), ratio(a_right, a_gold)),
        per_intent,
        min_confidence,
        errors,
    })
}
