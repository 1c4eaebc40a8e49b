//! Arbitration between the two halves: the rules answer when a template
//! fits; otherwise the model proposes and the rules validate.
//!
//! 1. A template reading at [`MIN_CONFIDENCE`] or above answers at once
//!    (`source` "rules").
//! 2. Otherwise the model proposes an intent and the words of each slot.
//!    The proposal counts only if the rules can read it:
//!    - a lenient template reading of the same sentence (skipped words,
//!      near misses, or a tie between two intents: below the threshold on
//!      its own) has the model's intent: the model chose among the rules'
//!      readings (the matcher never skips a negation or question word);
//!    - or a template of that intent with exactly the model's slots,
//!      realised with the model's words ([`Catalog::paraphrases`]), parses
//!      back to that intent and those slots: the rules read every value
//!      (a device that exists, a duration that parses).
//!
//!    The answer is then the rules' reading (`source` "both"): slot values
//!    always come from the rules, never from the model (a free-text slot,
//!    such as a message, takes the model's words as the rules would take
//!    any).
//! 3. A validated proposal acts when the model is sure ([`Thresholds::act`]),
//!    the rules read all of its slots, and, read back from the model's
//!    words, the intent's own template words speak for it: of the words
//!    outside the slots (besides common ones), at least one is the
//!    intent's and at most one is not where the rules read slots, every one
//!    is where there are none. "call my mother" read as sending a message
//!    has the contact right but nothing of "send" or "message"; "fire up
//!    firefox" read as "louder" has only "up".
//!    Otherwise the dialogue asks back ("Did you mean ...?") and acts only
//!    on a yes; a slot the rules cannot read may be left out only when it
//!    is optional, and then always asked. With no slot read back and the
//!    intent's words not speaking for it, only the model would, so it is
//!    not even asked; nor when a word outside the slots turns the meaning
//!    (a negation or a question word the intent never says).
//! 4. Anything else is not understood: the model alone never acts.

use std::collections::BTreeMap;

use ainima_fallbacks::catalog::Catalog;
use ainima_fallbacks::matcher::NEVER_SKIPPED;
use ainima_fallbacks::{Context, Matcher, Parse};
use serde::{Deserialize, Serialize};

use crate::dialogue::MIN_CONFIDENCE;
use crate::nlu::{self, Nlu};

/// What proposes a reading of a sentence: the trained model ([`Nlu`]), or
/// a fixed one in tests.
pub trait Proposer: Send + Sync {
    /// The proposed intent, its probability and the slots' words.
    fn propose(&self, text: &str) -> nlu::Parse;
}

impl Proposer for Nlu {
    fn propose(&self, text: &str) -> nlu::Parse {
        self.parse(text)
    }
}

/// The model's probabilities at which a validated proposal acts or is
/// asked about.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// At or above: act on a validated proposal.
    pub act: f32,
    /// At or above (and below `act`): ask back.
    pub ask: f32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { act: 0.9, ask: 0.5 }
    }
}

/// Intents the model is never asked about: answers to the dialogue ("yes",
/// "cancel"), which only the rules read, and the out-of-domain class.
const NOT_PROPOSED: [&str; 8] = [
    "yes",
    "no",
    "cancel",
    "repeat",
    "correction",
    "why",
    "none",
    "",
];

/// What the two halves make of a sentence.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// A template fits: the rules' reading.
    Rules(Parse),
    /// The model proposed, the rules validated, the model is sure: the
    /// rules' reading of it, `source` "both".
    Act(Parse),
    /// The rules validated the model's proposal but it is not sure enough,
    /// or only the model speaks for the intent: ask `question`, act on yes.
    Ask {
        /// The rules' reading of the proposal, `source` "both".
        parse: Parse,
        /// What to ask.
        question: String,
    },
    /// Not understood.
    Nothing {
        /// The rules' best reading, below [`MIN_CONFIDENCE`], if any.
        reading: Option<Parse>,
        /// Why not, if the model proposed something.
        why: Option<String>,
    },
}

/// The model's proposal as an explanation line.
fn proposal_line(p: &nlu::Parse) -> String {
    let slots: Vec<String> = p
        .slots
        .iter()
        .map(|s| format!("{} = \"{}\"", s.name, s.text))
        .collect();
    format!(
        "the model proposed {} ({:.2}){}{}",
        p.intent,
        p.confidence,
        if slots.is_empty() { "" } else { " with " },
        slots.join(", ")
    )
}

/// Decides what `text` means: see the module's documentation.
pub fn arbitrate(
    text: &str,
    ctx: &Context,
    catalog: &Catalog,
    matcher: &Matcher,
    model: Option<&dyn Proposer>,
    thresholds: Thresholds,
) -> Decision {
    let readings = matcher.parse_all(text, ctx, 4);
    if let Some(p) = readings.first()
        && p.confidence >= MIN_CONFIDENCE
    {
        return Decision::Rules(p.clone());
    }
    let nothing = |why: Option<String>| Decision::Nothing {
        reading: readings.first().cloned(),
        why,
    };
    let Some(model) = model else {
        return nothing(None);
    };
    let proposal = model.propose(text);
    let line = proposal_line(&proposal);
    if NOT_PROPOSED.contains(&proposal.intent.as_str())
        || !catalog.intents.contains_key(&proposal.intent)
    {
        return nothing(Some(format!("{line}: not a request the skills take")));
    }
    if proposal.confidence < thresholds.ask {
        return nothing(Some(format!(
            "{line}: below the {:.2} needed to ask",
            thresholds.ask
        )));
    }
    let all: BTreeMap<String, String> = proposal
        .slots
        .iter()
        .map(|s| (s.name.clone(), s.text.clone()))
        .collect();
    // The rules' own lenient reading of the sentence, if one has the
    // model's intent; else the model's words read back, with all its
    // slots, or without one it may leave out.
    let lenient = readings.iter().find(|p| p.intent == proposal.intent);
    let required = &catalog.intents[&proposal.intent].required;
    let mut tries = vec![all.clone()];
    for k in all.keys().filter(|k| !required.contains(k)) {
        let mut fewer = all.clone();
        fewer.remove(k);
        tries.push(fewer);
    }
    let read_back = |said: &BTreeMap<String, String>| {
        catalog
            .paraphrases(&proposal.intent, said)
            .into_iter()
            .find_map(|via| {
                let p = matcher.parse(&via, ctx)?;
                let same = p.intent == proposal.intent
                    && p.confidence >= MIN_CONFIDENCE
                    && p.slots.len() == said.len()
                    && p.slots.iter().all(|s| said.contains_key(&s.name));
                same.then_some((p, via))
            })
    };
    let (mut parse, via, whole) = match lenient {
        // Whole when the rules read the slots the model found, no more,
        // no fewer.
        Some(p) => {
            let names: std::collections::BTreeSet<&str> =
                p.slots.iter().map(|s| s.name.as_str()).collect();
            let whole = names.len() == all.len() && all.keys().all(|k| names.contains(k.as_str()));
            (p.clone(), None, whole)
        }
        None => match tries
            .iter()
            .enumerate()
            .find_map(|(i, said)| read_back(said).map(|(p, via)| (p, Some(via), i == 0)))
        {
            Some(b) => b,
            None => {
                return nothing(Some(format!(
                    "{line}: the rules cannot read it (no template of {} takes those words)",
                    proposal.intent
                )));
            }
        },
    };
    parse.source = "both";
    parse.confidence = proposal.confidence;
    if via.is_some() {
        // Read from the realised sentence: each slot's words and place are
        // where the model found them in what was said.
        for slot in &mut parse.slots {
            if let Some(m) = proposal.slots.iter().find(|m| m.name == slot.name) {
                slot.text.clone_from(&m.text);
                slot.start = m.start;
                slot.end = m.end;
            }
        }
    }
    // Read back from the model's words, the rules vouch for the slot
    // values; the intent needs a word of its own templates outside them.
    let supported = match via.is_some().then(|| support(text, &proposal, catalog)) {
        None | Some(Support::Yes) => true,
        // Nothing read back but the intent, and its words do not speak
        // for it: only the model does, so nothing is asked either.
        Some(Support::No) if parse.slots.is_empty() => {
            return nothing(Some(format!(
                "{line}: only the model speaks for it (no slot, and the words are not {}'s)",
                proposal.intent
            )));
        }
        Some(Support::No) => false,
        Some(Support::Turned(w)) => {
            return nothing(Some(format!(
                "{line}: \"{w}\" turns the meaning, and {} never says it",
                proposal.intent
            )));
        }
    };
    let mut why = vec![line];
    match &via {
        None => why.push(format!(
            "the rules read it so too, leniently (template {})",
            parse.template
        )),
        Some(v) => why.push(format!("the rules read its words as \"{v}\"")),
    }
    why.append(&mut parse.explanation);
    parse.explanation = why;
    if proposal.confidence >= thresholds.act && whole && supported {
        parse
            .explanation
            .push(format!("acted on: at or above {:.2}", thresholds.act));
        return Decision::Act(parse);
    }
    let example = via
        .or_else(|| {
            let said = parse
                .slots
                .iter()
                .map(|s| (s.name.clone(), s.text.clone()))
                .collect();
            catalog.paraphrases(&parse.intent, &said).into_iter().next()
        })
        .unwrap_or_else(|| catalog.intents[&proposal.intent].description.to_lowercase());
    parse.explanation.push(if !whole {
        "asked: the rules read only some of the model's slots".to_string()
    } else if !supported {
        "asked: the words outside the slots do not speak for the intent (its templates lack them)"
            .to_string()
    } else {
        format!("asked: below the {:.2} needed to act", thresholds.act)
    });
    Decision::Ask {
        parse,
        question: format!("Did you mean \"{example}\"?"),
    }
}

/// Words too common to speak for an intent, besides the matcher's
/// one-word fillers ("please", "um").
const COMMON: [&str; 30] = [
    "a", "an", "the", "my", "your", "me", "i", "you", "it", "is", "are", "be", "to", "of", "for",
    "in", "at", "with", "and", "or", "can", "could", "would", "will", "do", "some", "this", "that",
    "now", "want",
];

fn common(word: &str) -> bool {
    COMMON.contains(&word) || ainima_fallbacks::matcher::FILLERS.contains(&word)
}

/// What the words of a sentence outside the model's slots say for the
/// proposed intent.
enum Support {
    /// The intent's own template words speak for it: of the words outside
    /// the slots, but [`common`] ones, with slots (the rules vouch for
    /// their values) at least one is a word of the intent's templates and
    /// at most one is not (a synonym bridged: "wipe my packing list";
    /// "throw eggs on the shopping list" read as showing the list has
    /// two); with none, every one is ("fire up firefox" is not turning the
    /// volume up for its "up").
    Yes,
    /// They do not.
    No,
    /// A word that turns the meaning (a negation, a question word: the
    /// matcher's [`NEVER_SKIPPED`]) the intent's templates do not have:
    /// "don't turn on the kitchen light" is no request to turn it on.
    Turned(String),
}

fn support(text: &str, proposal: &nlu::Parse, catalog: &Catalog) -> Support {
    let mut rest = text.to_string();
    for s in &proposal.slots {
        if let Some(r) = rest.get_mut(s.start..s.end) {
            // Blanked byte for byte, so later ranges stay where they were.
            let blank = " ".repeat(r.len());
            rest.replace_range(s.start..s.end, &blank);
        }
    }
    let own = catalog.words_of(&proposal.intent);
    let words = ainima_fallbacks::text::words(&rest);
    if let Some(w) = words
        .iter()
        .find(|w| NEVER_SKIPPED.contains(&w.as_str()) && !own.contains(*w))
    {
        return Support::Turned(w.clone());
    }
    let words: Vec<&String> = words.iter().filter(|w| !common(w)).collect();
    let theirs = words.iter().filter(|w| !own.contains(**w)).count();
    let ours = words.len() - theirs;
    let yes = if proposal.slots.is_empty() {
        ours > 0 && theirs == 0
    } else {
        ours > 0 && theirs <= 1
    };
    if yes { Support::Yes } else { Support::No }
}
