//! Near readings: what a sentence no template takes would be, had a word
//! or two been heard a little differently ("open the spiding door" as
//! "open the sliding door", "the value about door humidity" as "the value
//! of outdoor humidity"). The same shortest-path search as
//! [`Matcher::parse_all`], with one more move: up to
//! [`SPAN_MOST`] words of the input read as a template word, a listed
//! value, or a short template word and what follows it, when their letters
//! are alike ([`NEAR_MIN_SIMILARITY`]); and a value parser's connector
//! heard as a short word of like sound ("six hours in 20 minutes"). Each
//! such reading costs [`NEAR_COST`], its dissimilarity (word for word when
//! the words are as many, on those that differ) and [`WORD_COST`] a word
//! changed; at most
//! [`NEAR_MOST`] in a sentence, and fewer words read as others than kept
//! as heard.
//!
//! A near reading is a proposal, never a decision: the recogniser, which
//! heard the audio, says whether it is as likely as what it wrote (see the
//! session's hearing).

use std::collections::HashMap;

use serde::Serialize;

use super::{
    Context, Edge, FILLER_COST, Matcher, Reached, START, StateMap, UNKNOWN, parse_value, relax,
};
use crate::names;
use crate::text;

/// Cost of one near reading, on top of its dissimilarity (0 to this much
/// again): far above anything an exact reading costs.
pub const NEAR_COST: u32 = 1000;
/// The least similarity (letters alike, spaces ignored) of words read as
/// others.
pub const NEAR_MIN_SIMILARITY: f32 = 0.6;
/// Most near readings in one sentence.
pub const NEAR_MOST: u8 = 2;
/// Most words of the input read as one template word or value.
pub const SPAN_MOST: usize = 3;
/// A template word this short, and what follows it, may be heard as one
/// ("of outdoor" as "about door").
const SHORT_WORD: usize = 2;
/// The cost of each word a near reading changes.
pub const WORD_COST: u32 = NEAR_COST / 4;
/// Value parsers' connector ("an hour and ten minutes").
const CONNECTOR: &str = "and";
/// How far into a value the connector is looked for.
const VALUE_WORDS: usize = 8;

/// A reading of an input that templates take once some of its words are
/// read as near ones.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NearReading {
    /// The input with those words replaced (the rest as written).
    pub text: String,
    /// The intent it reads as.
    pub intent: String,
    /// Its cost: [`NEAR_COST`] and the dissimilarity for each word read as
    /// another, plus the reading's own.
    pub cost: u32,
    /// What was heard, and what it is read as.
    pub replaced: Vec<(String, String)>,
}

struct Step {
    state: u32,
    cost: u32,
    near: u8,
    back: Option<(usize, usize)>,
    /// Input words `from..to` read as these.
    replace: Option<(usize, usize, String)>,
}

impl Reached for Step {
    fn state(&self) -> u32 {
        self.state
    }
    fn cost(&self) -> u32 {
        self.cost
    }
}

impl Matcher {
    /// Up to `n` near readings of `input`, cheapest first, one per text:
    /// each with at least one word read as another. Empty when nothing is
    /// near enough.
    pub fn near(&self, input: &str, ctx: &Context, n: usize) -> Vec<NearReading> {
        let toks = text::tokens(input);
        let len = toks.len();
        if len == 0 || n == 0 {
            return Vec::new();
        }
        let words: Vec<String> = toks.iter().map(|t| t.word.clone()).collect();
        let canon: Vec<String> = words
            .iter()
            .map(|w| text::canonical(w).into_owned())
            .collect();
        let syms: Vec<u32> = canon
            .iter()
            .map(|w| self.syms.get(w.as_str()).copied().unwrap_or(UNKNOWN))
            .collect();
        let mut alike: HashMap<(usize, usize, String), Option<u32>> = HashMap::new();
        let mut lattice: Vec<Vec<Step>> = (0..=len).map(|_| Vec::new()).collect();
        let mut index: Vec<StateMap> = (0..=len).map(|_| StateMap::default()).collect();
        relax(
            &mut lattice,
            &mut index,
            0,
            Step {
                state: START,
                cost: 0,
                near: 0,
                back: None,
                replace: None,
            },
        );
        let mut items: Vec<(String, u32)> = Vec::new();
        for pos in 0..len {
            let mut i = 0;
            while i < lattice[pos].len() {
                let (state, cost, near) = {
                    let e = &lattice[pos][i];
                    (e.state, e.cost, e.near)
                };
                let back = Some((pos, i));
                i += 1;
                let closed = &self.states[state as usize];
                let step = |state, cost, near, replace| Step {
                    state,
                    cost,
                    near,
                    back,
                    replace,
                };
                // As written: words, slots, fillers.
                let w = syms[pos];
                let from = closed.words.partition_point(|&(s, _)| s < w);
                for &(s, to) in &closed.words[from..] {
                    if s != w {
                        break;
                    }
                    relax(
                        &mut lattice,
                        &mut index,
                        pos + 1,
                        step(to, cost, near, None),
                    );
                }
                for &(slot, to) in &closed.slots {
                    for (k, _, _, extra) in self.slot_spans(slot, &words, &syms, pos, ctx) {
                        relax(
                            &mut lattice,
                            &mut index,
                            pos + k,
                            step(to, cost + extra, near, None),
                        );
                    }
                }
                for f in &self.fillers {
                    if syms[pos..].starts_with(f) {
                        let k = f.len();
                        relax(
                            &mut lattice,
                            &mut index,
                            pos + k,
                            step(state, cost + FILLER_COST * k as u32, near, None),
                        );
                    }
                }
                if near >= NEAR_MOST {
                    continue;
                }
                // Read as near words.
                items.clear();
                self.items(state, &mut items, true);
                for (t, to) in &items {
                    for k in 1..=SPAN_MOST.min(len - pos) {
                        let key = (pos, k, t.clone());
                        let extra = *alike
                            .entry(key)
                            .or_insert_with(|| near_cost(&canon[pos..pos + k], t));
                        if let Some(extra) = extra {
                            relax(
                                &mut lattice,
                                &mut index,
                                pos + k,
                                step(*to, cost + extra, near + 1, Some((pos, pos + k, t.clone()))),
                            );
                        }
                    }
                }
                // A value parser's connector heard as a word like it.
                for &(slot, to) in &closed.slots {
                    let edge = self.slot_edges[slot as usize].edge;
                    let Edge::Parser(p) = self.edges[edge as usize] else {
                        continue;
                    };
                    for j in pos + 1..len.min(pos + VALUE_WORDS) {
                        let c = &canon[j];
                        if c == CONNECTOR
                            || c.chars().count() > CONNECTOR.len()
                            || names::edit_distance(c, CONNECTOR) > 2
                        {
                            continue;
                        }
                        let mut w2 = words[pos..].to_vec();
                        w2[j - pos] = CONNECTOR.to_string();
                        if let Some((_, k)) = parse_value(p, &w2, ctx.today)
                            && k > j - pos + 1
                        {
                            relax(
                                &mut lattice,
                                &mut index,
                                pos + k,
                                step(
                                    to,
                                    cost + NEAR_COST + WORD_COST,
                                    near + 1,
                                    Some((j, j + 1, CONNECTOR.to_string())),
                                ),
                            );
                        }
                    }
                }
            }
        }
        let mut out: Vec<NearReading> = Vec::new();
        for e in &lattice[len] {
            let accepts = &self.states[e.state as usize].accepts;
            if e.near == 0 || accepts.is_empty() {
                continue;
            }
            let intent = self.intents[self.templates[accepts[0] as usize].intent as usize].clone();
            let mut replaced = Vec::new();
            let mut at = Some(e);
            while let Some(x) = at {
                if let Some((from, to, with)) = &x.replace {
                    replaced.push((*from, *to, with.clone()));
                }
                at = x.back.map(|(p, i)| &lattice[p][i]);
            }
            replaced.reverse();
            // Most of the sentence as heard: more words kept than read as
            // others ("party we" is not "party mode", "next time" not
            // "negative").
            let changed: usize = replaced
                .iter()
                .map(|(f, t, with)| {
                    let with: Vec<&str> = with.split(' ').collect();
                    if with.len() == t - f {
                        (*f..*t)
                            .zip(&with)
                            .filter(|(i, w)| canon[*i] != **w)
                            .count()
                    } else {
                        t - f
                    }
                })
                .sum();
            if 2 * changed >= len {
                continue;
            }
            let mut text = String::new();
            let mut done = 0;
            let mut pairs = Vec::new();
            let mut split = false;
            for (from, to, with) in &replaced {
                let s = toks[*from].start;
                // Punctuation after the words stays.
                // A change that begins or ends inside a word the tokenizer
                // parted ("what's", "50%") is no reading of the words.
                let parted = |i: usize| i > 0 && toks[i - 1].end > toks[i].start;
                if s < done || parted(*from) || (*to < len && parted(*to)) {
                    split = true;
                    break;
                }
                let t = s + input[s..toks[*to - 1].end]
                    .trim_end_matches(|c: char| !c.is_alphanumeric())
                    .len();
                text.push_str(&input[done..s]);
                let was = &input[s..t];
                let with = cased_as(was, with);
                text.push_str(&with);
                pairs.push((was.to_string(), with));
                done = t;
            }
            if split {
                continue;
            }
            text.push_str(&input[done..]);
            match out.iter_mut().find(|r| r.text == text) {
                Some(r) if r.cost <= e.cost => {}
                Some(r) => {
                    r.cost = e.cost;
                    r.intent = intent;
                }
                None => out.push(NearReading {
                    text,
                    intent,
                    cost: e.cost,
                    replaced: pairs,
                }),
            }
        }
        out.sort_by(|a, b| a.cost.cmp(&b.cost).then_with(|| a.text.cmp(&b.text)));
        out.truncate(n);
        out
    }

    /// What `state` may read next, as words: its template words, its lists'
    /// values and (when `pairs`) a short template word with what follows it.
    fn items(&self, state: u32, out: &mut Vec<(String, u32)>, pairs: bool) {
        let closed = &self.states[state as usize];
        for &(s, to) in &closed.words {
            let w = &self.names[s as usize];
            out.push((w.clone(), to));
            if pairs && w.chars().count() <= SHORT_WORD {
                let at = out.len();
                self.items(to, out, false);
                for item in &mut out[at..] {
                    item.0 = format!("{w} {}", item.0);
                }
            }
        }
        for &(slot, to) in &closed.slots {
            let edge = self.slot_edges[slot as usize].edge;
            if let Edge::Values { heard, .. } = &self.edges[edge as usize] {
                out.extend(heard.iter().map(|h| (h.clone(), to)));
            }
        }
    }
}

/// `with` in the case of `was`: word by word when they have as many
/// words, else by the first letter.
fn cased_as(was: &str, with: &str) -> String {
    let upper = |w: &str| {
        let mut c = w.chars();
        c.next()
            .map(|f| f.to_uppercase().chain(c).collect())
            .unwrap_or_default()
    };
    let was: Vec<&str> = was.split_whitespace().collect();
    let with_words: Vec<&str> = with.split(' ').collect();
    let capital = |w: &str| w.chars().next().is_some_and(char::is_uppercase);
    if was.len() == with_words.len() {
        was.iter()
            .zip(&with_words)
            .map(|(a, b)| {
                if capital(a) {
                    upper(b)
                } else {
                    (*b).to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    } else if was.first().is_some_and(|w| capital(w)) {
        upper(with)
    } else {
        with.to_string()
    }
}

/// The cost of reading the words `heard` as `words`, if they are alike
/// enough and not the same. Word for word when they have as many, on the
/// words that differ only ("bad lights" is not "my lights" for the
/// "lights" they share); else their letters, spaces ignored ("about door"
/// and "of outdoor").
fn near_cost(heard: &[String], words: &str) -> Option<u32> {
    let read: Vec<&str> = words.split(' ').collect();
    let (heard, letters, changed): (String, String, usize) = if read.len() == heard.len() {
        let pairs: Vec<(&str, &str)> = heard
            .iter()
            .zip(&read)
            .filter(|(h, r)| h.as_str() != **r)
            .map(|(h, r)| (h.as_str(), *r))
            .collect();
        let n = pairs.len();
        let (h, r): (String, String) = pairs.into_iter().unzip();
        (h, r, n)
    } else {
        (heard.concat(), read.concat(), heard.len().max(read.len()))
    };
    if letters == heard {
        return None;
    }
    let heard = heard.as_str();
    let (a, b) = (heard.chars().count(), letters.chars().count());
    let longest = a.max(b);
    if (a.abs_diff(b) as f32) > (1.0 - NEAR_MIN_SIMILARITY) * longest as f32 {
        return None;
    }
    let d = names::edit_distance(heard, &letters);
    let sim = 1.0 - d as f32 / longest as f32;
    // Short words differ in a letter at most ("of" for "on", never "in"
    // for "and"); longer ones by their similarity.
    if (longest <= 3 && d > 1) || (longest > 3 && sim < NEAR_MIN_SIMILARITY) {
        return None;
    }
    // Each word changed costs too: of two readings of the same words, the
    // one that changes fewer wins ("bad light" as "bed light", not "my bed
    // light").
    Some(NEAR_COST + ((1.0 - sim) * NEAR_COST as f32).round() as u32 + WORD_COST * changed as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    const SKILL: &str = r#"
[intents.open]
templates = ["open the {name}", "open the {name} in the {area}"]
[intents.value]
templates = ["what is the value of {name}"]
[intents.timer]
templates = ["set a timer for {duration}"]
[intents.light]
templates = ["turn {name} (on|off)", "set {area} lights to {color}", "turn {name}", "turn my lights off"]
[lists.name]
values = ["sliding door", "outdoor humidity", "bed light"]
[lists.area]
values = ["kitchen", "office"]
[lists.color]
values = ["white", "red"]
[lists.duration]
parser = "duration"
"#;

    fn matcher() -> Matcher {
        let mut c = Catalog::new();
        c.add_str("near.toml", SKILL).expect("skill parses");
        Matcher::new(&c).expect("compiles")
    }

    fn check(input: &str, expect: &[&str]) {
        let m = matcher();
        let got: Vec<String> = m
            .near(input, &Context::default(), 3)
            .into_iter()
            .map(|r| r.text)
            .collect();
        assert_eq!(got, expect, "{input}");
    }

    #[test]
    fn misheard_words_read_as_near_ones() {
        check(
            "Open the Spiding Door in the office.",
            &["Open the Sliding Door in the office."],
        );
        check(
            "Set kitten lights to white.",
            &["Set kitchen lights to white."],
        );
        check("Turn bad light on.", &["Turn bed light on."]);
        check("Set color on kitchen lights to white.", &[]);
        check(
            "Set kitchen lights do white.",
            &["Set kitchen lights to white."],
        );
        // Regression (a_near_reading_matched_on_shared_words): "bad" is
        // not "my" for the "lights" both have.
        check("Turn bad lights off.", &[]);
        check(
            "What is the value about door humidity?",
            &["What is the value of outdoor humidity?"],
        );
        check(
            "Set a timer for six hours in 20 minutes.",
            &["Set a timer for six hours and 20 minutes."],
        );
    }

    #[test]
    fn nothing_near_gives_nothing() {
        check("Open the sliding door.", &[]);
        check("The quick brown fox jumps over the lazy dog.", &[]);
        check("Turn the radio on.", &[]);
        // Too little of the sentence kept.
        check("Turn bad.", &[]);
        check("Spiding door.", &[]);
        check("", &[]);
    }
}
