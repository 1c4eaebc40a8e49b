//! What words mean for hearing and turn-taking, and the hearing itself:
//! whether a reading is a complete request, has a self-repair or a wake
//! word to take off, or is a sentence the core cannot read; and the
//! recogniser run over an utterance with its second, biased hearing. The
//! session holds one; a live session's hearing worker holds another, built
//! from the same skills.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use ainima_audio::clock::Clock;
use ainima_fallbacks::catalog::Catalog;
use ainima_fallbacks::ha::Language;
use ainima_fallbacks::matcher::{Context, Matcher};

use super::{Costs, charged, content_words, words};
use crate::stt::{SpeechToText, Transcript};
use crate::{Error, Result};

/// A home's sentences and what holds where the assistant is (its `area`).
pub(crate) type HomeGrammar = (Arc<Language>, BTreeMap<String, serde_json::Value>);

/// A near reading of a sentence the core cannot read ([`Matcher::near`])
/// is taken when the recogniser finds it at most this much less likely
/// than what it wrote (natural log of the likelihood ratio, summed over
/// the tokens). Calibrated (bench/sweeps/near-margin) on 200 of Home
/// Assistant's English test sentences said by espeak-ng in 7 voices, 50
/// sentences that ask nothing said the same way, and the shared
/// recordings, with the test home's names; never on the speech-to-phrase
/// recordings. There, of 30 sentences with a near reading, the first that
/// would do something not asked for was 6.22 less likely ("I set my
/// alarm" heard as "I sent my alarm", read as "I meant my alarm"); the
/// margin is the whole nat at least one below that, and all 16 readings it
/// takes do what was said.
pub const NEAR_MARGIN: f32 = 5.0;

/// [`NEAR_MARGIN`] for a near reading of the second, biased hearing,
/// weighed against that hearing in its own context (the prompt it was
/// heard with; [`Biased`]). Set on the same calibration by the same rule:
/// of 10 sentences with such a reading, the first that would do something
/// not asked for was 5.37 less likely in that context ("TV go back to the
/// last song" heard as "TV Goback to the Last Song.", read without its
/// TV); the two within 4 nats were right. The unbiased check
/// (`Judge::weigh_near`) drops that wrong one too; the margin was kept.
pub const BIASED_NEAR_MARGIN: f32 = 4.0;

/// How much less likely than what the recogniser wrote a near reading may
/// be for the assistant to ask whether it was meant ("Did you mean ...?")
/// instead of answering what it heard. Set on the same calibration (see
/// [`NEAR_MARGIN`]): the readings 5 to 10 nats less likely were two right
/// ("Right this bedroom lamp" as "Brightness bedroom lamp", 9.24), two
/// wrong commands and two of the 50 sentences that ask nothing, all asked
/// about rather than acted on; the 8 beyond (11.59 to 20.98) were all
/// wrong. The margin is the whole nat above the least likely right one.
/// A reading asked about is acted on only on the user's yes.
pub const ASK_MARGIN: f32 = 10.0;

/// Over the assistant's speech, a reading of this many words or fewer that
/// the core cannot read is taken for a backchannel (`Session::kind`: a
/// real interruption says what it wants), and is weighed against the stop
/// phrases first.
pub(crate) const SHORT_OVER_SPEECH_WORDS: usize = 3;

/// The stop phrases weighed against a short reading over the assistant's
/// speech: the commonest, as the recogniser writes it. Each costs a pass
/// of the decoder (about 14 ms in a release build on 2 cores); all of
/// [`words::STOP`] cost 220 ms, added to every pause under a backchannel.
const STOP_READINGS: &[&str] = &["Stop.", "Stop it."];

/// How much less likely than what the recogniser wrote a stop phrase may
/// be and still be taken: not at all. The recogniser must find the stop
/// at least as likely as its own reading (its greedy search missed it). Over an
/// echo not yet cancelled every reading is poor, and a backchannel
/// misread ("Mm-hmm." as "And then...") came within 5 nats of "Hold on."
/// in `ainima bench session`; with no margin none of its 54 did.
const STOP_MARGIN: f32 = 0.0;

/// What weighing readings against the recogniser's own decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Weighed {
    /// The reading at this index is taken.
    Take(usize),
    /// The reading at this index is asked about.
    Ask(usize),
    /// The recogniser's own reading stands.
    Keep,
}

/// The recogniser's reading scored `own`, each other reading `scores[i]`
/// (natural log of its likelihood; `stop[i]`: a stop phrase over the
/// assistant's speech). The likeliest stop is taken when it is at least as
/// likely as `own` ([`STOP_MARGIN`]), never asked about; otherwise the
/// likeliest other reading (the first of equals) is taken within `margin`
/// ([`NEAR_MARGIN`], or [`BIASED_NEAR_MARGIN`] against a biased hearing),
/// or asked about within [`ASK_MARGIN`]. A stop that does
/// not make its margin never hides a reading that makes its own.
fn weigh(own: f32, scores: &[f32], stop: &[bool], margin: f32) -> Weighed {
    if !own.is_finite() {
        return Weighed::Keep;
    }
    let best = |want_stop: bool| {
        scores
            .iter()
            .enumerate()
            .filter(|&(i, s)| s.is_finite() && stop.get(i).copied().unwrap_or(false) == want_stop)
            .fold(None, |b: Option<(usize, f32)>, (i, &s)| match b {
                Some((_, bs)) if bs >= s => b,
                _ => Some((i, s)),
            })
    };
    if let Some((i, s)) = best(true)
        && s >= own - STOP_MARGIN
    {
        return Weighed::Take(i);
    }
    match best(false) {
        Some((i, s)) if s >= own - margin => Weighed::Take(i),
        Some((i, s)) if s >= own - ASK_MARGIN => Weighed::Ask(i),
        _ => Weighed::Keep,
    }
}

/// Near readings weighed per sentence, from each grammar.
const NEAR_READINGS: usize = 3;

/// A search and weighing of near readings costs this share of a hearing
/// (fixed costs); the biased hearing's weighing is charged once more for
/// its unbiased check when it names a reading.
const NEAR_SHARE: f64 = 0.3;

/// The skills, as far as hearing and turn-taking need them.
pub(crate) struct Judge {
    /// The home's sentences, when there is a home.
    home: Option<HomeGrammar>,
    pub(crate) matcher: Matcher,
    pub(crate) catalog: Catalog,
    /// The skills' example commands, for a biased second hearing, each
    /// with its words of four letters or more.
    bias: Vec<(Vec<String>, String)>,
    bias_retry: bool,
}

impl Judge {
    /// Over `catalog`; `bias_retry` allows the second hearing.
    pub(crate) fn new(
        catalog: &Catalog,
        bias_retry: bool,
        home: Option<HomeGrammar>,
    ) -> Result<Judge> {
        Ok(Judge {
            home,
            matcher: Matcher::new(catalog).map_err(|e| Error::Config(e.to_string()))?,
            bias: catalog
                .examples()
                .into_iter()
                .map(|e| (content_words(&e), e))
                .collect(),
            catalog: catalog.clone(),
            bias_retry,
        })
    }

    /// Whether `text` parses to an intent with every required slot.
    pub(crate) fn complete(&self, text: &str) -> bool {
        let Some(p) = self.matcher.parse(text, &Context::default()) else {
            return false;
        };
        if p.confidence < 0.8 {
            return false;
        }
        self.catalog
            .intents
            .get(&p.intent)
            .is_none_or(|i| i.required.iter().all(|r| p.slot(r).is_some()))
    }

    /// A complete reading of `text` without its wake word or with its
    /// self-repair applied, if any.
    pub(crate) fn repaired(&self, text: &str) -> Option<String> {
        let base = words::without_wake_word(text)
            .or_else(|| words::without_vocative(text).filter(|v| self.complete(v)));
        if let Some(b) = &base
            && self.complete(b)
        {
            return base;
        }
        let t = base.as_deref().unwrap_or(text);
        words::repairs(t).into_iter().find(|r| self.complete(r))
    }

    /// A whole sentence the core cannot read and that begins no request:
    /// closed by the recogniser, three words or more, no template fits,
    /// not even with its self-repair applied or its wake word taken off.
    pub(crate) fn unreadable(&self, text: &str) -> bool {
        text.trim_end().ends_with(['.', '?', '!'])
            && !words::unfinished(text)
            && words::sentence_of_words(text)
            && self.matcher.parse(text, &Context::default()).is_none()
            && !self.matcher.continues(text, &Context::default())
            && self.repaired(text).is_none()
    }

    /// `audio` heard by `stt`, charged on `costs` (measured on
    /// `stopwatch`, or fixed); a sentence the core cannot read is heard
    /// again biased towards the commands that share a word with it.
    /// `over_speech`: said over the assistant's own speech, when a short
    /// reading is weighed against the stop phrases too.
    pub(crate) fn transcribe(
        &self,
        stt: &mut dyn SpeechToText,
        audio: &[f32],
        over_speech: bool,
        costs: &Costs,
        stopwatch: &dyn Clock,
    ) -> (Result<Transcript>, f64) {
        let (out, ms, biased) = self.hear_twice(stt, audio, costs, stopwatch);
        match out {
            Ok(t) => {
                let (t, ms2) =
                    self.in_grammar(stt, t, biased.as_ref(), over_speech, costs, stopwatch);
                (Ok(t), ms + ms2)
            }
            e => (e, ms),
        }
    }

    /// Whether the skills or the home read `text` as it is: a template
    /// fits with no approximate name and no doubt, or the home's sentences
    /// take it.
    pub(crate) fn understood(&self, text: &str) -> bool {
        self.matcher
            .parse(text, &Context::default())
            .is_some_and(|p| p.confidence >= 0.8 && p.slots.iter().all(|s| s.how != "fuzzy"))
            || self.home_reads(text)
    }

    /// Whether the home's sentences take `text` as a request the agent
    /// acts on.
    fn home_reads(&self, text: &str) -> bool {
        self.home.as_ref().is_some_and(|(l, c)| {
            l.recognize(text, c).is_some_and(|r| {
                ainima_agent::home::INTENTS
                    .iter()
                    .any(|(i, _)| *i == r.intent)
            })
        })
    }

    /// `t`, or a near reading of it that the skills or the home read
    /// ([`Matcher::near`]) when the recogniser finds that reading nearly
    /// as likely as its own ([`NEAR_MARGIN`]); the reading it replaces is
    /// kept in `heard_as`. Only for a sentence not understood as written.
    /// Over the assistant's speech (`over_speech`), a short reading that is
    /// no stop phrase, backchannel or noise is weighed against the stop
    /// phrases as well ([`STOP_READINGS`]): a stop said into the echo of a
    /// reply not yet cancelled is often written as something else ("You've
    /// copied." for "Stop it."); one is taken only when the recogniser
    /// finds it at least as likely as its own reading ([`STOP_MARGIN`]),
    /// never asked about ([`weigh`]).
    fn in_grammar(
        &self,
        stt: &mut dyn SpeechToText,
        t: Transcript,
        biased: Option<&Biased>,
        over_speech: bool,
        costs: &Costs,
        stopwatch: &dyn Clock,
    ) -> (Transcript, f64) {
        if t.text.trim().is_empty() || t.segments.len() != 1 || self.understood(&t.text) {
            return (t, 0.0);
        }
        let stops: Vec<String> = if over_speech
            && t.text.split_whitespace().count() <= SHORT_OVER_SPEECH_WORDS
            && words::classify(&t.text, false) == words::Kind::Request
        {
            STOP_READINGS.iter().map(|s| (*s).to_string()).collect()
        } else {
            Vec::new()
        };
        let heard_ms = t.timings_ms.get("total").copied().unwrap_or_default();
        let (free, ms) = self.weigh_near(
            stt,
            &t.text,
            &stops,
            None,
            over_speech,
            heard_ms,
            costs,
            stopwatch,
        );
        let taken = |t: Transcript, text: String| {
            let mut t = t;
            if let Some(seg) = t.segments.first_mut() {
                seg.text = text.clone();
            }
            t.heard_as = Some(std::mem::replace(&mut t.text, text));
            t
        };
        if let Some((Weighed::Take(_), text)) = free {
            return (taken(t, text), ms);
        }
        // The biased hearing's near readings, weighed against it in its
        // own context (the prompt it was heard with): a second chance, held
        // to its own margin. A reading it takes is taken even where the
        // first weighing only asked about it ("add milk to my shopping
        // list", 6 nats below "and milk to my sharpening list" unbiased,
        // 0.07 below "And milk to my shopping list" in context): that is
        // what the second chance is for, and the unbiased check in
        // `weigh_near` bounds it.
        let (second, ms2) = match biased {
            Some(b) => self.weigh_near(
                stt,
                &b.text,
                &[],
                Some((&b.prompt, &t.text)),
                over_speech,
                heard_ms,
                costs,
                stopwatch,
            ),
            None => (None, 0.0),
        };
        let ms = ms + ms2;
        match (free, second) {
            (_, Some((Weighed::Take(_), text))) => (taken(t, text), ms),
            (Some((Weighed::Ask(_), text)), _) | (None, Some((Weighed::Ask(_), text))) => {
                let mut t = t;
                t.maybe = Some(text);
                (t, ms)
            }
            _ => (t, ms),
        }
    }

    /// Near readings of `text` (and the `stops`) weighed against it by the
    /// recogniser: what [`weigh`] decided and the reading it names (`None`:
    /// nothing to weigh, or the recogniser could not), and the cost of the
    /// search and the weighing. `biased`: `text` is a second hearing,
    /// heard with this prompt, of the first hearing given beside it; its
    /// readings are weighed in the prompt's context, and the one [`weigh`]
    /// names is kept only if the recogniser, unbiased, also finds it within
    /// [`ASK_MARGIN`] of the first hearing (a second pass, charged apart):
    /// the prompt makes its commands likelier, and a reading only the
    /// prompt's context makes likely (a name left out: "What is the
    /// temperature." for "What is the cobby temperature.") is not trusted.
    #[allow(clippy::too_many_arguments)] // reason: one weighing's inputs; the last three are the judge's usual costs
    fn weigh_near(
        &self,
        stt: &mut dyn SpeechToText,
        text: &str,
        stops: &[String],
        biased: Option<(&str, &str)>,
        over_speech: bool,
        heard_ms: f64,
        costs: &Costs,
        stopwatch: &dyn Clock,
    ) -> (Option<(Weighed, String)>, f64) {
        let ((near, scores), ms) = charged(
            costs,
            stopwatch,
            |c| c.stt_ms * NEAR_SHARE,
            || {
                let mut near =
                    catch_unwind(AssertUnwindSafe(|| self.near_readings(text))).unwrap_or_default();
                for s in stops {
                    if !near.contains(s) {
                        near.push(s.clone());
                    }
                }
                if near.is_empty() {
                    return (near, Ok(Ok(None)));
                }
                let mut texts: Vec<&str> = vec![text];
                texts.extend(near.iter().map(String::as_str));
                let scores = catch_unwind(AssertUnwindSafe(|| match biased {
                    Some((prompt, _)) => stt.likelihoods_biased(&texts, prompt),
                    None => stt.likelihoods(&texts),
                }));
                (near, scores)
            },
        );
        if near.is_empty() {
            // Fixed costs charge nothing for a search that found nothing.
            let ms = if matches!(costs, Costs::Measured) {
                ms
            } else {
                0.0
            };
            return (None, ms);
        }
        let trace = std::env::var_os("AINIMA_NEAR_TRACE").is_some();
        let tag = if biased.is_some() {
            "NEAR-BIASED"
        } else {
            "NEAR"
        };
        let Ok(Ok(Some(scores))) = scores else {
            if trace {
                eprintln!("{tag} {text:?} {near:?} not weighed");
            }
            return (None, ms);
        };
        let Some((&own, theirs)) = scores.split_first() else {
            return (None, ms);
        };
        // Over the assistant's speech a stop phrase, weighed or found by
        // the grammar ("stop it" is the `cancel` intent's), is held to the
        // stop's margin.
        let stop: Vec<bool> = near
            .iter()
            .map(|n| over_speech && words::classify(n, false) == words::Kind::Stop)
            .collect();
        let margin = if biased.is_some() {
            BIASED_NEAR_MARGIN
        } else {
            NEAR_MARGIN
        };
        let w = weigh(own, theirs, &stop, margin);
        let named = match w {
            Weighed::Take(i) | Weighed::Ask(i) => Some(i),
            Weighed::Keep => None,
        };
        // The unbiased check: the first hearing and the named reading.
        let (unbiased, ms2) = match (biased, named) {
            (Some((_, first)), Some(i)) => {
                let (u, ms2) = charged(
                    costs,
                    stopwatch,
                    |c| c.stt_ms * NEAR_SHARE,
                    || catch_unwind(AssertUnwindSafe(|| stt.likelihoods(&[first, &near[i]]))),
                );
                match u {
                    Ok(Ok(Some(u))) if u.len() == 2 => (Some(u), ms2),
                    _ => (Some(vec![f32::NAN, f32::NAN]), ms2),
                }
            }
            _ => (None, 0.0),
        };
        let ms = ms + ms2;
        // A diagnostic for calibrating the margins (bench/sweeps/near-margin).
        if trace {
            eprintln!(
                "{tag} {text:?} {near:?} {scores:?} weighed in {ms:.1} ms, heard in {heard_ms:.1} ms; unbiased {unbiased:?}"
            );
        }
        let plausible = unbiased
            .as_ref()
            .is_none_or(|u| u[0].is_finite() && u[1].is_finite() && u[1] >= u[0] - ASK_MARGIN);
        match named {
            Some(i) if plausible => (Some((w, near[i].clone())), ms),
            _ => (None, ms),
        }
    }

    /// Near readings of `text` the skills understand or the home acts on,
    /// cheapest first, at most [`NEAR_READINGS`].
    fn near_readings(&self, text: &str) -> Vec<String> {
        let ctx = Context::default();
        let mut found: Vec<(u32, String)> = self
            .matcher
            .near(text, &ctx, 2 * NEAR_READINGS)
            .into_iter()
            .filter(|r| self.understood(&r.text))
            .map(|r| (r.cost, r.text))
            .collect();
        if let Some((l, c)) = &self.home {
            for r in l.near(text, c, 2 * NEAR_READINGS) {
                if self.home_reads(&r.text) {
                    found.push((r.cost, r.text));
                }
            }
        }
        found.sort();
        let mut near: Vec<String> = Vec::new();
        for (_, text) in found {
            if near.len() < NEAR_READINGS && !near.contains(&text) {
                near.push(text);
            }
        }
        near
    }

    /// [`Judge::transcribe`] before near readings: the recogniser's own
    /// reading, heard again biased when the core cannot read it.
    pub(crate) fn hear(
        &self,
        stt: &mut dyn SpeechToText,
        audio: &[f32],
        costs: &Costs,
        stopwatch: &dyn Clock,
    ) -> (Result<Transcript>, f64) {
        let (out, ms, _) = self.hear_twice(stt, audio, costs, stopwatch);
        (out, ms)
    }

    /// [`Judge::hear`], and the second, biased hearing when it was not
    /// taken though it says mostly the same words ([`Biased`]).
    fn hear_twice(
        &self,
        stt: &mut dyn SpeechToText,
        audio: &[f32],
        costs: &Costs,
        stopwatch: &dyn Clock,
    ) -> (Result<Transcript>, f64, Option<Biased>) {
        let (out, ms) = recognise(stt, audio, None, costs, stopwatch);
        match out {
            Ok(t) if self.bias_retry && self.unreadable(&t.text) => {
                // Biased towards the commands that share a word with what
                // was heard ("list" in "and milk to my sharpened list"):
                // a short prompt, a quick second hearing; none share one,
                // none is made.
                let heard = content_words(&t.text);
                let prompt: Vec<&str> = self
                    .bias
                    .iter()
                    .filter(|(w, _)| w.iter().any(|x| heard.contains(x)))
                    .map(|(_, e)| e.as_str())
                    .collect();
                if prompt.is_empty() {
                    return (Ok(t), ms, None);
                }
                let prompt = prompt.join(" ");
                let (again, ms2) = recognise(stt, audio, Some(&prompt), costs, stopwatch);
                let ms = ms + ms2;
                match again {
                    Ok(b) if mostly_the_same(&t.text, &b.text) => {
                        if self.complete(&b.text) {
                            (Ok(b), ms, None)
                        } else {
                            let biased = Biased {
                                text: b.text,
                                prompt,
                            };
                            (Ok(t), ms, Some(biased))
                        }
                    }
                    _ => (Ok(t), ms, None),
                }
            }
            other => (other, ms, None),
        }
    }
}

/// A second hearing, biased towards the commands that share a word with
/// the first, that the core cannot read as written either: `text`, heard
/// with `prompt` as earlier text. Its near readings are weighed against it
/// in that context ([`Judge::in_grammar`]): "And milk to my shopping list."
/// where the first hearing wrote "and milk to my sharpening list.".
pub(crate) struct Biased {
    text: String,
    prompt: String,
}

/// Whether two readings of one utterance share at least half their words,
/// in order.
fn mostly_the_same(a: &str, b: &str) -> bool {
    let (a, b) = (crate::stt::wer::normalize(a), crate::stt::wer::normalize(b));
    2 * words::common_in_order(&a, &b) >= a.len().max(b.len())
}

impl Judge {
    /// A whole utterance heard: [`Judge::transcribe`], and once more when
    /// that failed (a panic, an exhausted machine may be passing) before
    /// the words are given up; the cost of both.
    pub(crate) fn transcribe_utterance(
        &self,
        stt: &mut dyn SpeechToText,
        audio: &[f32],
        over_speech: bool,
        costs: &Costs,
        stopwatch: &dyn Clock,
    ) -> (Result<Transcript>, f64) {
        let (out, ms) = self.transcribe(stt, audio, over_speech, costs, stopwatch);
        if out.is_ok() {
            return (out, ms);
        }
        let (again, ms2) = self.transcribe(stt, audio, over_speech, costs, stopwatch);
        (again, ms + ms2)
    }
}

/// One hearing of `audio`, biased towards `prompt` or not, charged; a panic
/// is an error of this utterance.
fn recognise(
    stt: &mut dyn SpeechToText,
    audio: &[f32],
    prompt: Option<&str>,
    costs: &Costs,
    stopwatch: &dyn Clock,
) -> (Result<Transcript>, f64) {
    let (out, ms) = charged(
        costs,
        stopwatch,
        |c| c.stt_ms,
        || {
            catch_unwind(AssertUnwindSafe(|| match prompt {
                Some(p) => stt.transcribe_biased(audio, p),
                None => stt.transcribe(audio),
            }))
        },
    );
    let out = out.unwrap_or_else(|_| Err(Error::Inference("the recogniser panicked".into())));
    (out, ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `own`'s score and each reading's (score, a stop phrase over speech).
    fn check(own: f32, readings: &[(f32, bool)], expect: Weighed) {
        let scores: Vec<f32> = readings.iter().map(|r| r.0).collect();
        let stop: Vec<bool> = readings.iter().map(|r| r.1).collect();
        assert_eq!(
            weigh(own, &scores, &stop, NEAR_MARGIN),
            expect,
            "own {own}, readings {readings:?}"
        );
    }

    #[test]
    fn readings_are_weighed_against_the_recogniser_s_own() {
        // Near readings: taken, asked about, or not.
        check(-1.0, &[(-5.0, false)], Weighed::Take(0));
        check(-1.0, &[(-7.0, false)], Weighed::Ask(0));
        check(-1.0, &[(-12.0, false)], Weighed::Keep);
        // The first of equals.
        check(-1.0, &[(-2.0, false), (-2.0, false)], Weighed::Take(0));
        check(-1.0, &[(-3.0, false), (-2.0, false)], Weighed::Take(1));
        // A stop at least as likely as the recogniser's reading is taken;
        // a less likely one is neither taken nor asked about.
        check(-4.0, &[(-3.0, true)], Weighed::Take(0));
        check(-4.0, &[(-4.0, true)], Weighed::Take(0));
        check(-4.0, &[(-4.5, true)], Weighed::Keep);
        check(-4.0, &[(-8.0, true)], Weighed::Keep);
        check(-4.0, &[(-4.5, true), (-3.0, true)], Weighed::Take(1));
        // Nothing is weighed against a reading the recogniser cannot score,
        // and a reading it cannot score is never taken.
        check(f32::NEG_INFINITY, &[(-1.0, false)], Weighed::Keep);
        check(f32::NAN, &[(-1.0, true)], Weighed::Keep);
        check(
            -1.0,
            &[(f32::NEG_INFINITY, false), (f32::NAN, true)],
            Weighed::Keep,
        );
        check(-1.0, &[], Weighed::Keep);
    }

    /// Against a biased hearing the margin is a nat narrower; what is
    /// asked about is not.
    #[test]
    fn readings_of_a_biased_hearing_are_held_to_their_own_margin() {
        let w = |s: f32| weigh(-1.0, &[s], &[false], BIASED_NEAR_MARGIN);
        assert_eq!(w(-4.9), Weighed::Take(0));
        assert_eq!(w(-5.5), Weighed::Ask(0));
        assert_eq!(w(-10.9), Weighed::Ask(0));
        assert_eq!(w(-11.5), Weighed::Keep);
        // The same reading against a first hearing is taken.
        assert_eq!(
            weigh(-1.0, &[-5.5], &[false], NEAR_MARGIN),
            Weighed::Take(0)
        );
    }

    /// Regression (a_stop_that_lost_hid_a_near_reading): the likeliest of
    /// all readings was a stop short of its margin, and the near reading
    /// that made its own was never looked at.
    #[test]
    fn a_stop_that_lost_hid_a_near_reading() {
        check(0.0, &[(-2.0, true), (-3.0, false)], Weighed::Take(1));
        check(0.0, &[(-2.0, true), (-7.0, false)], Weighed::Ask(1));
        check(0.0, &[(-2.0, true), (-11.0, false)], Weighed::Keep);
    }
}
